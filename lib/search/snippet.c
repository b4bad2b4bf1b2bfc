/* search/snippet — fragments of a stored field around the query's terms,
 * with highlight offsets into the original field (docs/QUERY.md,
 * "Snippets").
 *
 * The field is analyzed with the index's analyzer, so a highlighted word is
 * exactly a word the index matched ("running" for the query "run" with an
 * English stemmer). A fragment is the window of about frag_bytes holding the
 * most distinct query terms (then the most occurrences, then the earliest),
 * widened evenly on both sides and cut at spaces (or, in text without
 * spaces such as CJK, at UTF-8 character boundaries). */
#include "search/search.h"

#include <stdlib.h>
#include <string.h>

int nx_hlterms_find(const nx_hlterms *ht, const char *term, size_t len) {
    size_t lo = 0, hi = ht->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        size_t ml = ht->lens[mid];
        int c = memcmp(ht->terms[mid], term, ml < len ? ml : len);
        if (c == 0) c = ml < len ? -1 : ml > len;
        if (c == 0) return (int)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

typedef struct match {
    size_t start, end;
    int term;
} match;

typedef struct collect {
    const nx_hlterms *ht;
    nx_buf matches;
} collect;

static int on_token(void *ctx, const newsidx_token *t) {
    collect *c = ctx;
    int k = nx_hlterms_find(c->ht, t->term, t->term_len);
    if (k < 0) return 0;
    match m = {t->start, t->end, k};
    return nx_buf_append(&c->matches, &m, sizeof m);
}

static bool is_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/* Cuts [*fs, *fe) at word (or character) boundaries without losing
 * [keep_s, keep_e). */
static void cut_bounds(const char *text, size_t len, size_t keep_s, size_t keep_e, size_t *fs,
                       size_t *fe) {
    const unsigned char *t = (const unsigned char *)text;
    size_t s = *fs, e = *fe;
    if (s > 0) {
        size_t i = s;
        while (i < keep_s && !is_space(t[i - 1])) i++;
        if (is_space(t[i - 1])) s = i;
        else
            while (s < keep_s && nx_utf8_is_cont(t[s])) s++;
    }
    while (s < keep_s && is_space(t[s])) s++;
    if (e < len) {
        size_t i = e;
        while (i > keep_e && !is_space(t[i])) i--;
        if (is_space(t[i])) e = i;
        else
            while (e > keep_e && e < len && nx_utf8_is_cont(t[e])) e--;
    }
    while (e > keep_e && is_space(t[e - 1])) e--;
    *fs = s;
    *fe = e;
}

static int add_fragment(const char *text, size_t len, const char *field_name, size_t fs,
                        size_t fe, const match *m, size_t nm, nx_arena *arena,
                        newsidx_snippet *out) {
    char *copy = nx_arena_alloc(arena, fe - fs + 1);
    if (!copy) return NEWSIDX_ERR_NOMEM;
    memcpy(copy, text + fs, fe - fs);
    copy[fe - fs] = '\0';
    size_t nh = 0;
    for (size_t i = 0; i < nm; i++) nh += m[i].start >= fs && m[i].end <= fe;
    size_t (*hl)[2] = NULL;
    if (nh) {
        hl = nx_arena_alloc(arena, nh * sizeof *hl);
        if (!hl) return NEWSIDX_ERR_NOMEM;
        size_t k = 0;
        for (size_t i = 0; i < nm; i++)
            if (m[i].start >= fs && m[i].end <= fe) {
                hl[k][0] = m[i].start;
                hl[k][1] = m[i].end;
                k++;
            }
    }
    (void)len;
    *out = (newsidx_snippet){copy, fe - fs, fs, field_name, nh, (const size_t(*)[2])hl};
    return 0;
}

int nx_snippets_make(newsidx_analyzer *an, const nx_hlterms *ht, const char *text,
                     size_t len, const char *field_name, uint32_t n_frags,
                     uint32_t frag_bytes, nx_arena *arena, newsidx_snippet **out,
                     size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (n_frags == 0 || len == 0) return 0;
    /* only the start of a huge field: analysis and windows stay bounded */
    if (len > NX_SNIPPET_MAX_ANALYZED) len = nx_utf8_cut(text, len, NX_SNIPPET_MAX_ANALYZED);
    collect c = {ht, {0}};
    int rc = ht->n ? newsidx_analyze(an, text, len, on_token, &c) : 0;
    if (rc < 0) {
        nx_buf_free(&c.matches);
        return rc;
    }
    const match *m = (const match *)c.matches.data;
    size_t nm = c.matches.len / sizeof *m;
    newsidx_snippet *frags = nx_arena_alloc(arena, n_frags * sizeof *frags);
    uint32_t *seen = calloc(ht->n ? ht->n : 1, sizeof *seen);
    size_t (*used)[2] = calloc(n_frags, sizeof *used);
    if (!frags || !seen || !used) {
        rc = NEWSIDX_ERR_NOMEM;
        goto done;
    }
    size_t L = frag_bytes;
    if (nm == 0) {
        size_t fs = 0, fe = len < L ? len : L;
        cut_bounds(text, len, 0, 0, &fs, &fe);
        if (fe == 0) fe = len < L ? len : L; /* one long word: cut inside it */
        while (fe < len && fe > 0 && nx_utf8_is_cont((unsigned char)text[fe])) fe--;
        rc = add_fragment(text, len, field_name, fs, fe, m, 0, arena, &frags[0]);
        if (rc == 0) *n_out = 1;
        goto done;
    }
    size_t nf = 0;
    while (nf < n_frags) {
        /* best window [i, j) of matches outside the fragments already made */
        size_t best_i = SIZE_MAX, best_j = 0;
        uint32_t best_distinct = 0, best_total = 0;
        for (size_t i = 0; i < nm; i++) {
            bool taken = false;
            for (size_t u = 0; u < nf && !taken; u++)
                taken = m[i].end > used[u][0] && m[i].start < used[u][1];
            if (taken) continue;
            uint32_t distinct = 0, total = 0;
            size_t j = i;
            while (j < nm && (j == i || m[j].end - m[i].start <= L)) {
                bool crosses = false;
                for (size_t u = 0; u < nf && !crosses; u++)
                    crosses = m[j].end > used[u][0] && m[j].start < used[u][1];
                if (crosses) break;
                if (seen[m[j].term]++ == 0) distinct++;
                total++;
                j++;
            }
            for (size_t k = i; k < j; k++) seen[m[k].term] = 0;
            if (distinct > best_distinct || (distinct == best_distinct && total > best_total)) {
                best_distinct = distinct;
                best_total = total;
                best_i = i;
                best_j = j;
            }
        }
        if (best_i == SIZE_MAX) break;
        size_t ks = m[best_i].start, ke = m[best_j - 1].end;
        size_t span = ke - ks;
        size_t fs = ks, fe = ke;
        if (span < L) {
            size_t slack = L - span;
            fs = ks > slack / 2 ? ks - slack / 2 : 0;
            fe = fs + L;
            if (fe > len) {
                fe = len;
                fs = len > L ? len - L : 0;
                if (fs > ks) fs = ks;
            }
        }
        /* do not run into an earlier fragment */
        for (size_t u = 0; u < nf; u++) {
            if (used[u][1] <= ks && fs < used[u][1]) fs = used[u][1];
            if (used[u][0] >= ke && fe > used[u][0]) fe = used[u][0];
        }
        cut_bounds(text, len, ks, ke, &fs, &fe);
        rc = add_fragment(text, len, field_name, fs, fe, m, nm, arena, &frags[nf]);
        if (rc) goto done;
        used[nf][0] = fs;
        used[nf][1] = fe;
        nf++;
    }
    *n_out = nf;
done:
    if (rc == 0) *out = frags;
    free(seen);
    free(used);
    nx_buf_free(&c.matches);
    return rc;
}
