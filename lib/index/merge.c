/* index/merge — merges segments into one: live docs only, in date order
 * (a k-way merge by date, ties by input order then doc id), terms walked
 * in dictionary order across the inputs so memory holds one term's
 * postings at a time. Writes through segwrite.c (docs/FORMAT.md). */
#include "index/index_internal.h"

#include <stdlib.h>
#include <string.h>

int nx_merge(const char *dir, uint32_t seg_no, nx_segment *const *in, const uint8_t *const *del,
             uint32_t n_in, const nx_segbuild_opts *o, nx_err *err);

static bool live(const uint8_t *del, uint32_t doc) {
    return !del || !(del[doc >> 3] & (1u << (doc & 7)));
}

typedef struct merge_term_src {
    nx_termdict_iter it;
    int valid;
} merge_term_src;

static int cmp_pair(const void *a, const void *b) {
    const uint32_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

int nx_merge(const char *dir, uint32_t seg_no, nx_segment *const *in, const uint8_t *const *del,
             uint32_t n_in, const nx_segbuild_opts *o, nx_err *err) {
    int rc = 0;
    uint32_t **map = calloc(n_in, sizeof *map);
    uint32_t *head = calloc(n_in, sizeof *head);
    merge_term_src *src = calloc(n_in, sizeof *src);
    nx_docstore_scratch scratch;
    nx_docstore_scratch_init(&scratch);
    nx_segbuild *b = NULL;
    uint32_t *docs = NULL, *freqs = NULL, *pairs = NULL, *pos = NULL, *pos2 = NULL, *starts = NULL,
             *ofreqs = NULL;
    size_t cap = 0, pos_cap = 0;
    if (!map || !head || !src) {
        rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
        goto done;
    }
    uint64_t total = 0;
    bool store = o->store_fields;
    for (uint32_t i = 0; i < n_in; i++) {
        uint32_t n = nx_segment_doc_count(in[i]);
        map[i] = malloc(sizeof(uint32_t) * (n + 1u));
        if (!map[i]) {
            rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (uint32_t d = 0; d < n; d++) {
            map[i][d] = UINT32_MAX;
            total += live(del[i], d);
        }
        if (!in[i]->docstore) store = false;
    }
    if (total > NX_MAX_SEGMENT_DOCS) {
        rc = nx_err_set(err, NEWSIDX_ERR_LIMIT, "merged segment would hold %llu docs",
                        (unsigned long long)total);
        goto done;
    }
    nx_segbuild_opts so = *o;
    so.store_fields = store;
    rc = nx_segbuild_create(dir, seg_no, (uint32_t)total, &so, err, &b);
    if (rc) goto done;
    /* Doc order: k-way merge by date; each input is already date-sorted. */
    uint8_t *norms[NX_N_FIELDS];
    for (int f = 0; f < NX_N_FIELDS; f++) norms[f] = nx_segbuild_norms(b, f);
    for (uint32_t nd = 0; nd < total && rc == 0; nd++) {
        int best = -1;
        int64_t best_date = 0;
        for (uint32_t i = 0; i < n_in; i++) {
            uint32_t n = nx_segment_doc_count(in[i]);
            while (head[i] < n && !live(del[i], head[i])) head[i]++;
            if (head[i] >= n) continue;
            int64_t dt = nx_segment_date(in[i], head[i]);
            if (best < 0 || dt < best_date) {
                best = (int)i;
                best_date = dt;
            }
        }
        nx_segment *s = in[best];
        uint32_t d = head[best]++;
        if ((nd & 8191) == 8191)
            for (uint32_t i = 0; i < n_in; i++) nx_segment_release_pages(in[i]);
        map[best][d] = nd;
        for (int f = 0; f < NX_N_FIELDS; f++) norms[f][nd] = nx_segment_norms(s, f)[d];
        size_t id_len, src_len;
        const char *id = nx_segment_id(s, d, &id_len);
        const char *sname = nx_segment_source_name(s, nx_segment_source_ord(s, d), &src_len);
        const newsidx_field *fields = NULL;
        size_t nf = 0;
        if (store) rc = nx_segment_stored(s, d, &scratch, err, &fields, &nf);
        if (rc == 0)
            rc = nx_segbuild_doc(b, best_date, id, id_len, sname, src_len,
                                 /* per-doc sizes are not kept: the average */
                                 (uint32_t)(s->raw_text_bytes / NX_MAX(s->doc_count, 1)), fields,
                                 nf);
    }
    if (rc) goto done;
    /* Terms: merge the sorted dictionaries. */
    for (uint32_t i = 0; i < n_in; i++) {
        src[i].valid = nx_termdict_seek(in[i]->termdict, NULL, 0, &src[i].it);
        if (src[i].valid < 0) {
            rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: corrupt dictionary", in[i]->dict.path);
            goto done;
        }
    }
    uint64_t n_terms_done = 0;
    for (;;) {
        int first = -1;
        for (uint32_t i = 0; i < n_in; i++) {
            if (src[i].valid != 1) continue;
            if (first < 0) {
                first = (int)i;
                continue;
            }
            const nx_termdict_iter *a = &src[i].it, *c = &src[first].it;
            size_t n = NX_MIN(a->term_len, c->term_len);
            int cmp = memcmp(a->term, c->term, n);
            if (cmp < 0 || (cmp == 0 && a->term_len < c->term_len)) first = (int)i;
        }
        if (first < 0) break;
        if ((++n_terms_done & 4095) == 0)
            for (uint32_t i = 0; i < n_in; i++) nx_segment_release_pages(in[i]);
        uint8_t key[256];
        size_t key_len = src[first].it.term_len;
        memcpy(key, src[first].it.term, key_len);
        size_t n = 0, np = 0;
        bool sorted = true;
        uint32_t prev = 0;
        for (uint32_t i = 0; i < n_in && rc == 0; i++) {
            if (src[i].valid != 1 || src[i].it.term_len != key_len ||
                memcmp(src[i].it.term, key, key_len) != 0)
                continue;
            nx_term_info ti;
            nx_postings p;
            if (nx_segment_term_value(in[i], key[0], src[i].it.value, src[i].it.value_len, &ti) ||
                nx_postings_open(&p, in[i], &ti, true)) {
                rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: corrupt postings of a term at byte %llu",
                                in[i]->post.path, (unsigned long long)ti.postings_off);
                break;
            }
            for (uint32_t d = nx_postings_doc(&p); d != NX_NO_DOC; d = nx_postings_next(&p)) {
                if (map[i][d] == UINT32_MAX) continue;
                const uint32_t *pp;
                int f = nx_postings_positions(&p, &pp);
                if (f < 0) {
                    rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: corrupt positions",
                                    in[i]->pos.path);
                    break;
                }
                if (n + 1 > cap) {
                    size_t c = NX_MAX(n + 1, cap * 2);
                    uint32_t *a1 = realloc(docs, c * 4), *a2 = a1 ? realloc(freqs, c * 4) : NULL;
                    if (a1) docs = a1;
                    if (a2) freqs = a2;
                    uint32_t *a3 = a2 ? realloc(pairs, c * 8) : NULL;
                    if (a3) pairs = a3;
                    uint32_t *a4 = a3 ? realloc(starts, c * 4) : NULL;
                    if (a4) starts = a4;
                    uint32_t *a5 = a4 ? realloc(ofreqs, c * 4) : NULL;
                    if (a5) ofreqs = a5;
                    if (!a5) {
                        rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
                        break;
                    }
                    cap = c;
                }
                if (np + (size_t)f > pos_cap) {
                    size_t c = NX_MAX(np + (size_t)f, pos_cap * 2);
                    uint32_t *a1 = realloc(pos, c * 4), *a2 = a1 ? realloc(pos2, c * 4) : NULL;
                    if (a1) pos = a1;
                    if (a2) pos2 = a2;
                    if (!a2) {
                        rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
                        break;
                    }
                    pos_cap = c;
                }
                uint32_t nd = map[i][d];
                if (n > 0 && nd < prev) sorted = false;
                prev = nd;
                docs[n] = nd;
                freqs[n] = (uint32_t)f;
                starts[n] = (uint32_t)np;
                memcpy(pos + np, pp, sizeof(uint32_t) * (size_t)f);
                np += (size_t)f;
                n++;
            }
            nx_postings_close(&p);
        }
        if (rc) break;
        if (n > 0) {
            const uint32_t *pout = pos;
            if (!sorted) {
                for (size_t i = 0; i < n; i++) {
                    pairs[2 * i] = docs[i];
                    pairs[2 * i + 1] = (uint32_t)i;
                }
                qsort(pairs, n, 8, cmp_pair);
                size_t q = 0;
                /* reuse docs for the sorted ids, and pos2 for positions;
                 * freqs are gathered through starts (old order) */
                uint32_t *of = ofreqs;
                for (size_t i = 0; i < n; i++) {
                    uint32_t e = pairs[2 * i + 1];
                    of[i] = freqs[e];
                    memcpy(pos2 + q, pos + starts[e], sizeof(uint32_t) * freqs[e]);
                    q += freqs[e];
                    docs[i] = pairs[2 * i];
                }
                memcpy(freqs, of, sizeof(uint32_t) * n);
                pout = pos2;
            }
            rc = nx_segbuild_term(b, key[0], key + 1, key_len - 1, (uint32_t)n, docs, freqs, pout);
            if (rc) break;
        }
        for (uint32_t i = 0; i < n_in; i++) {
            if (src[i].valid != 1 || src[i].it.term_len != key_len ||
                memcmp(src[i].it.term, key, key_len) != 0)
                continue;
            src[i].valid = nx_termdict_next(&src[i].it);
            if (src[i].valid < 0) {
                rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: corrupt dictionary",
                                in[i]->dict.path);
                break;
            }
        }
        if (rc) break;
    }
    if (rc == 0) {
        rc = nx_segbuild_finish(b);
        b = NULL;
    }
done:
    nx_segbuild_abort(b);
    nx_docstore_scratch_free(&scratch);
    if (map)
        for (uint32_t i = 0; i < n_in; i++) free(map[i]);
    free(map);
    free(head);
    free(src);
    free(docs);
    free(freqs);
    free(pairs);
    free(pos);
    free(pos2);
    free(starts);
    free(ofreqs);
    return rc;
}
