/* search/dups — groups of near-duplicate articles of a snapshot
 * (newsidx_reader_dups, `newsidx dups`): the live docs' hashes from the
 * column files, grouped by index/simhash.c (bands + union-find). */
#include "index/simhash.h"
#include "search/exec.h"

#include <stdlib.h>
#include <string.h>

struct newsidx_dup_groups {
    size_t n_groups;
    size_t *start; /* n_groups + 1: group i is ids[start[i] .. start[i + 1]) */
    char **ids;
    char *id_bytes;
};

void newsidx_dup_groups_free(newsidx_dup_groups *g) {
    if (!g) return;
    free(g->start);
    free(g->ids);
    free(g->id_bytes);
    free(g);
}

size_t newsidx_dup_group_count(const newsidx_dup_groups *g) { return g ? g->n_groups : 0; }

size_t newsidx_dup_group_size(const newsidx_dup_groups *g, size_t i) {
    return g && i < g->n_groups ? g->start[i + 1] - g->start[i] : 0;
}

const char *newsidx_dup_group_id(const newsidx_dup_groups *g, size_t i, size_t j) {
    return j < newsidx_dup_group_size(g, i) ? g->ids[g->start[i] + j] : NULL;
}

/* The hashed live docs of the snapshot, in (segment, doc) order. */
typedef struct hashed {
    uint64_t *hash;
    uint32_t *seg, *doc;
    uint32_t n;
} hashed;

static int collect(const nx_snapshot *snap, hashed *hd) {
    uint64_t n = 0;
    for (uint32_t s = 0; s < snap->n_segments; s++)
        if (nx_segment_has_simhash(snap->segments[s]))
            n += nx_segment_live_count(snap->segments[s]);
    if (n >= UINT32_MAX) return NEWSIDX_ERR_LIMIT;
    hd->hash = malloc(sizeof *hd->hash * (n + 1));
    hd->seg = malloc(sizeof *hd->seg * (n + 1));
    hd->doc = malloc(sizeof *hd->doc * (n + 1));
    if (!hd->hash || !hd->seg || !hd->doc) return NEWSIDX_ERR_NOMEM;
    for (uint32_t s = 0; s < snap->n_segments; s++) {
        const nx_segment *seg = snap->segments[s];
        if (!nx_segment_has_simhash(seg)) continue;
        for (uint32_t d = 0; d < nx_segment_doc_count(seg); d++) {
            uint64_t h = nx_segment_simhash(seg, d);
            if (h == NX_SIMHASH_NONE || !nx_segment_is_live(seg, d)) continue;
            hd->hash[hd->n] = h;
            hd->seg[hd->n] = s;
            hd->doc[hd->n] = d;
            hd->n++;
        }
    }
    return 0;
}

/* Makes the groups of 2 or more from group[] (each doc's first member). */
static int build_groups(const nx_snapshot *snap, const hashed *hd, const uint32_t *group,
                        newsidx_dup_groups *g) {
    /* size[r]: members of root r's group; slot[r]: its next free place in ids */
    uint32_t *size = calloc((size_t)hd->n + 1, sizeof *size);
    size_t *slot = malloc(sizeof *slot * ((size_t)hd->n + 1));
    if (!size || !slot) {
        free(size);
        free(slot);
        return NEWSIDX_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < hd->n; i++) size[group[i]]++;
    size_t n_members = 0, id_total = 0;
    for (uint32_t i = 0; i < hd->n; i++) {
        if (size[group[i]] < 2) continue;
        size_t len;
        nx_segment_id(snap->segments[hd->seg[i]], hd->doc[i], &len);
        n_members++;
        id_total += len + 1;
        if (group[i] == i) g->n_groups++;
    }
    g->start = malloc(sizeof *g->start * (g->n_groups + 1));
    g->ids = malloc(sizeof *g->ids * (n_members + 1));
    g->id_bytes = malloc(id_total + 1);
    int rc = !g->start || !g->ids || !g->id_bytes ? NEWSIDX_ERR_NOMEM : 0;
    size_t gi = 0, next = 0;
    for (uint32_t i = 0; i < hd->n && rc == 0; i++) {
        if (group[i] != i || size[i] < 2) continue;
        g->start[gi++] = next;
        slot[i] = next;
        next += size[i];
    }
    if (rc == 0) g->start[gi] = next;
    /* members in index order, each into its root's next slot */
    char *p = g->id_bytes;
    for (uint32_t i = 0; i < hd->n && rc == 0; i++) {
        uint32_t r = group[i];
        if (size[r] < 2) continue;
        size_t len;
        const char *id = nx_segment_id(snap->segments[hd->seg[i]], hd->doc[i], &len);
        memcpy(p, id, len);
        p[len] = '\0';
        g->ids[slot[r]++] = p;
        p += len + 1;
    }
    free(size);
    free(slot);
    return rc;
}

int newsidx_reader_dups(const newsidx_reader *r, uint32_t max_distance, char *errbuf,
                        size_t errbuf_size, newsidx_dup_groups **out) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (out) *out = NULL;
    int rc = 0;
    if (!r || !out)
        rc = nx_err_set(&err, NEWSIDX_ERR_INVALID, "newsidx_reader_dups: no %s",
                        !r ? "reader" : "out-parameter");
    else if (max_distance > NEWSIDX_COLLAPSE_MAX)
        rc = nx_err_set(&err, NEWSIDX_ERR_INVALID, "distance %u is more than %d bits", max_distance,
                        NEWSIDX_COLLAPSE_MAX);
    if (rc) {
        nx_err_copy(&err, errbuf, errbuf_size);
        return rc;
    }
    if (max_distance == 0) max_distance = NEWSIDX_COLLAPSE_DEFAULT;
    const nx_snapshot *snap = nx_reader_snapshot(r);
    hashed hd = {0};
    uint32_t *group = NULL;
    newsidx_dup_groups *g = calloc(1, sizeof *g);
    rc = g ? collect(snap, &hd) : NEWSIDX_ERR_NOMEM;
    if (rc == 0) {
        group = malloc(sizeof *group * ((size_t)hd.n + 1));
        rc = group ? nx_simhash_group(hd.hash, hd.n, max_distance, group) : NEWSIDX_ERR_NOMEM;
    }
    if (rc == 0) rc = build_groups(snap, &hd, group, g);
    free(hd.hash);
    free(hd.seg);
    free(hd.doc);
    free(group);
    if (rc) {
        newsidx_dup_groups_free(g);
        nx_err_set(&err, rc,
                   rc == NEWSIDX_ERR_LIMIT ? "more than 2^32 - 1 articles" : "out of memory");
        nx_err_copy(&err, errbuf, errbuf_size);
        return rc;
    }
    *out = g;
    return 0;
}
