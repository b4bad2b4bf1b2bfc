/* search/search — executes a parsed query on a reader's snapshot:
 * document-at-a-time over per-segment iterators, BM25 with global
 * statistics, block-max WAND for ranked OR, exact counts, date sort,
 * recency boost, stored fields, snippets and facets. docs/QUERY.md has the
 * semantics and the formulas; this file follows it line by line.
 *
 * Memory: everything a search needs lives in two arenas (one for the whole
 * search, one reset per segment for iterators) plus the results' own arena;
 * nothing is allocated per posting or per matching document, and nothing in
 * proportion to the index size (per-segment facet counters are sized by the
 * number of distinct sources). The reader is only read, so any number of
 * threads may search it at once. */
#include "search/search.h"

#include "analysis/analysis.h"
#include "index/docstore.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void newsidx_search_options_init(newsidx_search_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->k = 10;
    o->sort = NEWSIDX_SORT_SCORE;
    o->exact_total = 1;
    o->fields = "title,date,source";
    o->snippets = 1;
    o->snippet_bytes = 200;
    o->title_weight = 2.0;
    o->body_weight = 1.0;
}

double nx_bm25_idf(uint64_t n_docs, uint64_t df) {
    double n = (double)n_docs, d = (double)df;
    return log(1.0 + (n - d + 0.5) / (d + 0.5));
}

/* ---- iterators -----------------------------------------------------------
 * Every iterator is positioned on its first match once built; doc is
 * NX_NO_DOC at the end. advance(t) goes to the first match >= t (t > doc).
 * score() is only called on the current doc, and never by counting.
 * shallow(t, &bound) returns the last doc of a range starting at t's block
 * and an upper bound of the score of every doc in [t, that doc]. */
typedef struct sit sit;

/* What an iterator is: the runs pick their algorithm by it (a term alone,
 * an OR of terms, an AND of terms, a phrase have block-wise paths). */
enum sit_kind { SIT_NONE, SIT_RANGE, SIT_TERM, SIT_PHRASE, SIT_OR, SIT_OR_HEAP, SIT_AND };

typedef struct sit_ops {
    enum sit_kind kind;
    uint32_t (*next)(sit *);
    uint32_t (*advance)(sit *, uint32_t target);
    double (*score)(sit *);
    uint32_t (*shallow)(sit *, uint32_t target, double *bound);
} sit_ops;

struct sit {
    const sit_ops *ops;
    uint32_t doc;
    double max_score; /* bound over every doc */
    uint64_t cost;    /* estimated matches (leapfrog order) */
};

static inline uint32_t sit_next(sit *s) { return s->ops->next(s); }
static inline uint32_t sit_advance(sit *s, uint32_t t) {
    return t <= s->doc ? s->doc : s->ops->advance(s, t);
}

/* A shallow() for iterators without block data: one range, the global bound. */
static uint32_t shallow_global(sit *s, uint32_t t, double *bound) {
    (void)t;
    *bound = s->max_score;
    return NX_NO_DOC - 1;
}

static inline double bm25_tf(double tf, double k_norm) {
    return tf * (NX_BM25_K1 + 1.0) / (tf + k_norm);
}

/* -- nothing -- */
static uint32_t none_next(sit *s) { return s->doc = NX_NO_DOC; }
static uint32_t none_advance(sit *s, uint32_t t) { (void)t; return s->doc = NX_NO_DOC; }
static double none_score(sit *s) { (void)s; return 0; }
static const sit_ops none_ops = {SIT_NONE, none_next, none_advance, none_score, shallow_global};

/* -- a doc-id range: dates (docs are in date order) and "all" -- */
typedef struct range_it {
    sit base;
    uint32_t end;
} range_it;
static uint32_t range_next(sit *s) {
    range_it *r = (range_it *)s;
    return s->doc = s->doc + 1 < r->end ? s->doc + 1 : NX_NO_DOC;
}
static uint32_t range_advance(sit *s, uint32_t t) {
    range_it *r = (range_it *)s;
    return s->doc = t < r->end ? t : NX_NO_DOC;
}
static const sit_ops range_ops = {SIT_RANGE, range_next, range_advance, none_score, shallow_global};

/* -- one (field, term) postings list -- */
typedef struct pt_it {
    sit base;
    nx_postings p;
    const uint8_t *norms;
    const double *k_norm; /* per norm byte: k1 * (1 - b + b * len / avglen) */
    double weight;        /* boost * field weight * idf */
    uint32_t df;          /* in this segment */
    /* the last shallow() answer: [blk_from, blk_end] lie in one block */
    uint32_t blk_from, blk_end;
    double blk_bound;
} pt_it;
static uint32_t pt_next(sit *s) { return s->doc = nx_postings_next(&((pt_it *)s)->p); }
static uint32_t pt_advance(sit *s, uint32_t t) {
    return s->doc = nx_postings_advance(&((pt_it *)s)->p, t);
}
static double pt_score(sit *s) {
    pt_it *it = (pt_it *)s;
    double tf = nx_postings_freq(&it->p);
    return it->weight * bm25_tf(tf, it->k_norm[it->norms[s->doc]]);
}
static uint32_t pt_shallow(sit *s, uint32_t t, double *bound) {
    pt_it *it = (pt_it *)s;
    if (t >= it->blk_from && t <= it->blk_end) {
        *bound = it->blk_bound;
        return it->blk_end;
    }
    uint32_t end = nx_postings_shallow_advance(&it->p, t);
    if (end == NX_NO_DOC) {
        *bound = 0;
        return NX_NO_DOC;
    }
    uint32_t max_tf;
    uint8_t min_norm;
    nx_postings_block_max(&it->p, &max_tf, &min_norm);
    *bound = it->weight * bm25_tf(max_tf, it->k_norm[min_norm]);
    it->blk_from = t;
    it->blk_end = end;
    it->blk_bound = *bound;
    return end;
}
static const sit_ops pt_ops = {SIT_TERM, pt_next, pt_advance, pt_score, pt_shallow};

/* Two-word phrases in documents of up to this many positions use a bitmap. */
#define PHRASE_BITMAP_BITS 8192

/* -- phrase ("a b") and proximity ("a b"~N, NEAR/N) in one field -- */
typedef struct phr_it {
    sit base;
    uint32_t n;
    nx_postings *p;           /* n iterators, query order */
    const uint32_t *offsets;  /* phrase: relative positions */
    uint32_t *lead_order;     /* indices by df, for leapfrog */
    bool near;
    uint32_t window;          /* near: positions in a window (n + slop) */
    const uint32_t **pos;     /* scratch: n position arrays */
    uint32_t *cnt, *idx, *idx2;
    const uint8_t *norms;
    const double *k_norm;
    double weight;            /* boost * field weight * sum of idf */
    uint32_t freq;            /* phrase/window frequency of the current doc */
    bool need_freq;           /* false when counting: the first occurrence will do */
    double floor;             /* top-k pruning at the top (run_blockmax): a doc scoring
                               * at most this cannot enter the heap; 0 = none */
    uint64_t bitmap[PHRASE_BITMAP_BITS / 64]; /* two-word phrases: zero between docs */
    int rc;                   /* sticky corruption error */
} phr_it;

/* Number of windows or phrase occurrences in the current doc (all iterators
 * are on it). Phrase: start positions s with s + offset_i in every term's
 * positions. Proximity: positions p of any query term such that every term
 * occurs in [p, p + window - 1]. */
/* The common two-word phrase, from the words' position deltas (summed on
 * the fly), with everything in registers. */
static uint32_t phr_count2(phr_it *it) {
    const uint32_t *d0, *d1;
    int r0 = nx_postings_deltas(&it->p[0], &d0);
    int r1 = r0 < 0 ? r0 : nx_postings_deltas(&it->p[1], &d1);
    if (r1 < 0) {
        it->rc = r1 == NEWSIDX_ERR_NOMEM ? r1 : NEWSIDX_ERR_CORRUPT;
        return 0;
    }
    uint32_t c0 = (uint32_t)r0, c1 = (uint32_t)r1, count = 0;
    if (!c0 || !c1) return 0;
    uint32_t shift = it->offsets[1] - it->offsets[0];
    /* Mark the rarer word's positions (the first word's shifted by the
     * offset) in a bitmap and test the other's: branch-free (a merge
     * mispredicts on every step; marking is a read-modify-write chain,
     * testing only loads). Indices are masked so that damaged positions
     * stay inside the bitmap; `high` (the OR of all marked positions) says
     * whether they all fit. */
    const uint32_t *dm = d0, *dt = d1;
    uint32_t cm = c0, ct = c1, pm = shift, pt = 0, high = 0;
    if (c0 > c1) {
        dm = d1, dt = d0, cm = c1, ct = c0, pm = 0, pt = shift;
    }
    const uint32_t mask = PHRASE_BITMAP_BITS - 1;
    uint64_t *bits = it->bitmap;
    for (uint32_t a = 0; a < cm; a++) {
        pm += dm[a];
        high |= pm;
        bits[(pm & mask) >> 6] |= (uint64_t)1 << (pm & 63);
    }
    if (high < PHRASE_BITMAP_BITS) {
        /* a tested position past the bitmap matches nothing, and neither
         * does any later one */
        if (it->need_freq) {
            for (uint32_t k = 0; k < ct; k++) {
                pt += dt[k];
                if (pt >= PHRASE_BITMAP_BITS) break;
                count += (uint32_t)(bits[pt >> 6] >> (pt & 63)) & 1;
            }
        } else {
            for (uint32_t k = 0; k < ct && !count; k++) {
                pt += dt[k];
                if (pt >= PHRASE_BITMAP_BITS) break;
                count = (uint32_t)(bits[pt >> 6] >> (pt & 63)) & 1;
            }
        }
        /* unmark (a memset of the range starts slowly: rep stos) */
        pm = c0 > c1 ? 0 : shift;
        for (uint32_t a = 0; a < cm; a++) {
            pm += dm[a];
            bits[pm >> 6] = 0;
        }
        return count;
    }
    memset(bits, 0, sizeof it->bitmap);
    /* long documents: merge */
    uint32_t p0 = 0, p1 = d1[0], j = 0;
    for (uint32_t a = 0; a < c0; a++) {
        p0 += d0[a];
        uint64_t want = (uint64_t)p0 + shift;
        while (p1 < want && ++j < c1) p1 += d1[j];
        if (j >= c1) break;
        if (p1 == want) {
            count++;
            if (!it->need_freq) break;
        }
    }
    return count;
}

/* Longer phrases whose rarest word (in this doc) occurs at most this often:
 * candidate starts in a local array. */
#define PHRASE_CANDIDATES 64

/* A phrase of three or more words: the candidate starts are the positions
 * of the word rarest in this doc (minus its offset); each other word, from
 * the rarer to the more frequent, keeps those it continues. Once none is
 * left the remaining words' positions are not decoded at all. Returns
 * UINT32_MAX when the rarest word is too frequent for the local array. */
static uint32_t phr_countn(phr_it *it) {
    uint32_t n = it->n, *ord = it->idx;
    for (uint32_t t = 0; t < n; t++) {
        uint32_t f = nx_postings_freq(&it->p[t]), j = t;
        while (j > 0 && nx_postings_freq(&it->p[ord[j - 1]]) > f) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = t;
    }
    if (nx_postings_freq(&it->p[ord[0]]) > PHRASE_CANDIDATES) return UINT32_MAX;
    uint32_t cand[PHRASE_CANDIDATES], n_cand = 0;
    const uint32_t *d;
    int c = nx_postings_deltas(&it->p[ord[0]], &d);
    if (c < 0 || c > PHRASE_CANDIDATES) {
        it->rc = c == NEWSIDX_ERR_NOMEM ? c : NEWSIDX_ERR_CORRUPT;
        return 0;
    }
    uint32_t off = it->offsets[ord[0]], pos = 0;
    for (int k = 0; k < c; k++) {
        pos += d[k];
        if (pos >= off) cand[n_cand++] = pos - off; /* else: would start before the doc */
    }
    for (uint32_t r = 1; r < n && n_cand; r++) {
        c = nx_postings_deltas(&it->p[ord[r]], &d);
        if (c <= 0) {
            it->rc = c == NEWSIDX_ERR_NOMEM ? c : NEWSIDX_ERR_CORRUPT;
            return 0;
        }
        /* merge the candidates with this word's positions (summed as they
         * are needed); the last word may stop at the first match */
        bool first_only = r == n - 1 && !it->need_freq;
        uint32_t kept = 0, j = 1;
        uint64_t want;
        off = it->offsets[ord[r]];
        pos = d[0];
        for (uint32_t k = 0; k < n_cand; k++) {
            want = (uint64_t)cand[k] + off;
            while (pos < want && j < (uint32_t)c) pos += d[j++];
            if (pos < want) break;
            if (pos == want) {
                cand[kept++] = cand[k];
                if (first_only) break;
            }
        }
        n_cand = kept;
    }
    return n_cand;
}

static uint32_t phr_count(phr_it *it) {
    uint32_t n = it->n;
    if (!it->near && n == 2) return phr_count2(it);
    if (!it->near) {
        uint32_t count = phr_countn(it);
        if (count != UINT32_MAX) return count;
    }
    for (uint32_t i = 0; i < n; i++) {
        int c = nx_postings_positions(&it->p[i], &it->pos[i]);
        if (c < 0) {
            it->rc = NEWSIDX_ERR_CORRUPT;
            return 0;
        }
        it->cnt[i] = (uint32_t)c;
        it->idx[i] = 0;
        it->idx2[i] = 0;
    }
    uint32_t count = 0;
    if (!it->near) {
        for (uint32_t a = 0; a < it->cnt[0]; a++) {
            uint64_t s = (uint64_t)it->pos[0][a] - it->offsets[0];
            bool ok = true;
            for (uint32_t i = 1; i < n && ok; i++) {
                uint64_t want = s + it->offsets[i];
                while (it->idx[i] < it->cnt[i] && it->pos[i][it->idx[i]] < want) it->idx[i]++;
                if (it->idx[i] == it->cnt[i]) return count;
                ok = it->pos[i][it->idx[i]] == want;
            }
            count += ok;
            if (ok && !it->need_freq) break;
        }
        return count;
    }
    for (;;) {
        /* next position of any term (merge over idx2) */
        uint64_t p = UINT64_MAX;
        for (uint32_t i = 0; i < n; i++)
            if (it->idx2[i] < it->cnt[i] && it->pos[i][it->idx2[i]] < p) p = it->pos[i][it->idx2[i]];
        if (p == UINT64_MAX) return count;
        for (uint32_t i = 0; i < n; i++)
            if (it->idx2[i] < it->cnt[i] && it->pos[i][it->idx2[i]] == p) it->idx2[i]++;
        bool ok = true;
        for (uint32_t i = 0; i < n; i++) {
            while (it->idx[i] < it->cnt[i] && it->pos[i][it->idx[i]] < p) it->idx[i]++;
            if (it->idx[i] == it->cnt[i]) return count; /* no later window either */
            if (it->pos[i][it->idx[i]] > p + it->window - 1) ok = false;
        }
        count += ok;
        if (ok && !it->need_freq) return count;
    }
}

/* First doc >= t where all terms occur and the positions agree. */
static uint32_t phr_settle(phr_it *it, uint32_t t) {
    nx_postings *lead = &it->p[it->lead_order[0]];
    uint32_t d = t;
    for (;;) {
        d = nx_postings_advance_near(lead, d);
        if (d == NX_NO_DOC) break;
        bool all = true;
        for (uint32_t k = 1; k < it->n; k++) {
            nx_postings *o = &it->p[it->lead_order[k]];
            if (nx_postings_advance_near(o, d) != d) {
                d = o->doc;
                all = false;
                break;
            }
        }
        if (d == NX_NO_DOC) break;
        if (!all) continue;
        if (it->floor > 0) {
            /* the phrase's frequency is at most its rarest word's (a
             * proximity's: their sum), as in phr_shallow but with this
             * doc's norm: no positions for a doc that cannot win */
            uint32_t tf = UINT32_MAX;
            uint64_t sum = 0;
            for (uint32_t k = 0; k < it->n; k++) {
                uint32_t f = nx_postings_freq(&it->p[k]);
                if (f < tf) tf = f;
                sum += f;
            }
            double bound = it->weight * bm25_tf(it->near ? (double)sum : (double)tf, it->k_norm[it->norms[d]]);
            if (bound * (1.0 + 1e-9) <= it->floor) {
                d++;
                continue;
            }
        }
        it->freq = phr_count(it);
        if (it->freq > 0 || it->rc) break;
        d++;
    }
    return it->base.doc = it->rc ? NX_NO_DOC : d;
}
static uint32_t phr_next(sit *s) { return phr_settle((phr_it *)s, s->doc + 1); }
static uint32_t phr_advance(sit *s, uint32_t t) { return phr_settle((phr_it *)s, t); }
static double phr_score(sit *s) {
    phr_it *it = (phr_it *)s;
    return it->weight * bm25_tf(it->freq, it->k_norm[it->norms[s->doc]]);
}
/* An exact phrase occurs at most as often as its rarest word (a proximity
 * window starts at one of its words' positions: at most the sum), in a
 * document of one length: bound = weight * tfnorm(that frequency bound from
 * the words' block max_tf, the largest of their blocks' min_norm); the
 * range ends at the first block end. */
static uint32_t phr_shallow(sit *s, uint32_t t, double *bound) {
    phr_it *it = (phr_it *)s;
    uint32_t end = NX_NO_DOC, min_tf = UINT32_MAX;
    uint64_t sum_tf = 0;
    uint8_t norm = 0;
    for (uint32_t i = 0; i < it->n; i++) {
        uint32_t e = nx_postings_shallow_advance(&it->p[i], t);
        if (e == NX_NO_DOC) {
            *bound = 0;
            return NX_NO_DOC;
        }
        uint32_t max_tf;
        uint8_t min_norm;
        nx_postings_block_max(&it->p[i], &max_tf, &min_norm);
        if (e < end) end = e;
        if (max_tf < min_tf) min_tf = max_tf;
        sum_tf += max_tf;
        if (min_norm > norm) norm = min_norm;
    }
    *bound = it->weight * bm25_tf(it->near ? (double)sum_tf : (double)min_tf, it->k_norm[norm]);
    return end;
}
static const sit_ops phr_ops = {SIT_PHRASE, phr_next, phr_advance, phr_score, phr_shallow};

/* -- disjunction: sum of the matching children's scores -- */
typedef struct or_it {
    sit base;
    sit **c;
    uint32_t n;
    double boost;
} or_it;
static uint32_t or_min(or_it *o) {
    uint32_t m = NX_NO_DOC;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->c[i]->doc < m) m = o->c[i]->doc;
    return o->base.doc = m;
}
static uint32_t or_next(sit *s) {
    or_it *o = (or_it *)s;
    uint32_t d = s->doc;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->c[i]->doc == d) sit_next(o->c[i]);
    return or_min(o);
}
static uint32_t or_advance(sit *s, uint32_t t) {
    or_it *o = (or_it *)s;
    for (uint32_t i = 0; i < o->n; i++) sit_advance(o->c[i], t);
    return or_min(o);
}
static double or_score(sit *s) {
    or_it *o = (or_it *)s;
    double sum = 0;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->c[i]->doc == s->doc) sum += o->c[i]->ops->score(o->c[i]);
    return sum * o->boost;
}
static uint32_t or_shallow(sit *s, uint32_t t, double *bound) {
    or_it *o = (or_it *)s;
    uint32_t end = NX_NO_DOC;
    double sum = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        double b;
        uint32_t e = o->c[i]->ops->shallow(o->c[i], t, &b);
        sum += b;
        if (e < end) end = e;
    }
    *bound = sum * o->boost;
    return end;
}
static const sit_ops or_ops = {SIT_OR, or_next, or_advance, or_score, or_shallow};

/* -- a disjunction of many children (prefix/fuzzy expansions): the same,
 * with the children in a min-heap by doc, so a step costs O(log n) rather
 * than O(n). The children on the current doc are the heap's top region. -- */
#define OR_HEAP_MIN 33
static void orh_sift(or_it *o, uint32_t i) {
    sit **h = o->c;
    uint32_t n = o->n;
    sit *x = h[i];
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        uint32_t md = x->doc;
        if (l < n && h[l]->doc < md) {
            m = l;
            md = h[l]->doc;
        }
        if (l + 1 < n && h[l + 1]->doc < md) m = l + 1;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}
static uint32_t orh_next(sit *s) {
    or_it *o = (or_it *)s;
    uint32_t d = s->doc;
    while (o->c[0]->doc == d) {
        sit_next(o->c[0]);
        orh_sift(o, 0);
    }
    return s->doc = o->c[0]->doc;
}
static uint32_t orh_advance(sit *s, uint32_t t) {
    or_it *o = (or_it *)s;
    while (o->c[0]->doc < t) {
        sit_advance(o->c[0], t);
        orh_sift(o, 0);
    }
    return s->doc = o->c[0]->doc;
}
static double orh_sum(const or_it *o, uint32_t i, uint32_t d) {
    if (i >= o->n || o->c[i]->doc != d) return 0;
    return o->c[i]->ops->score(o->c[i]) + orh_sum(o, 2 * i + 1, d) + orh_sum(o, 2 * i + 2, d);
}
static double orh_score(sit *s) {
    or_it *o = (or_it *)s;
    return orh_sum(o, 0, s->doc) * o->boost;
}
static const sit_ops orh_ops = {SIT_OR_HEAP, orh_next, orh_advance, orh_score, or_shallow};

/* -- conjunction with exclusions: leapfrog over the positive children
 * (cheapest first), then each negated child is advanced to the candidate -- */
typedef struct and_it {
    sit base;
    sit **pos;
    uint32_t n_pos;
    sit **neg;
    uint32_t n_neg;
    double boost;
} and_it;
static uint32_t and_settle(and_it *a, uint32_t t) {
    uint32_t d = t;
    for (;;) {
        d = sit_advance(a->pos[0], d);
        if (d == NX_NO_DOC) break;
        bool all = true;
        for (uint32_t i = 1; i < a->n_pos; i++) {
            uint32_t e = sit_advance(a->pos[i], d);
            if (e != d) {
                d = e;
                all = false;
                break;
            }
        }
        if (d == NX_NO_DOC) break;
        if (!all) continue;
        bool excluded = false;
        for (uint32_t i = 0; i < a->n_neg && !excluded; i++)
            excluded = sit_advance(a->neg[i], d) == d;
        if (!excluded) break;
        d++;
    }
    return a->base.doc = d;
}
static uint32_t and_next(sit *s) { return and_settle((and_it *)s, s->doc + 1); }
static uint32_t and_advance(sit *s, uint32_t t) { return and_settle((and_it *)s, t); }
static double and_score(sit *s) {
    and_it *a = (and_it *)s;
    double sum = 0;
    for (uint32_t i = 0; i < a->n_pos; i++) sum += a->pos[i]->ops->score(a->pos[i]);
    return sum * a->boost;
}
static uint32_t and_shallow(sit *s, uint32_t t, double *bound) {
    and_it *a = (and_it *)s;
    uint32_t end = NX_NO_DOC;
    double sum = 0;
    for (uint32_t i = 0; i < a->n_pos; i++) {
        double b;
        uint32_t e = a->pos[i]->ops->shallow(a->pos[i], t, &b);
        sum += b;
        if (e < end) end = e;
    }
    *bound = sum * a->boost;
    return end;
}
static const sit_ops and_ops = {SIT_AND, and_next, and_advance, and_score, and_shallow};

/* ---- the plan: the query tree with global statistics resolved ----------- */

/* One (field, term) with its statistics over all segments. */
typedef struct fterm {
    int field;
    const char *text;
    uint32_t len;
    uint64_t df;          /* summed over segments */
    double idf;
    nx_term_info *info;   /* per segment */
    uint8_t *found;       /* per segment */
} fterm;

typedef struct pnode pnode;
struct pnode {
    int kind;
    double boost;
    /* TERM, PREFIX, FUZZY: the (field, term) leaves to OR together */
    fterm **ft;
    uint32_t n_ft;
    /* PHRASE, NEAR: per field f < n_pf: ft[f * n_terms + t] */
    uint32_t n_terms, n_pf;
    const nx_qterm *qterms;
    uint32_t window;
    int64_t lo, hi;
    pnode **children;
    bool *negated;
    uint32_t n_children;
};

typedef struct search {
    const nx_snapshot *snap;
    const newsidx_search_options *o;
    const newsidx_query *q;
    nx_arena *arena;     /* per search */
    nx_arena seg_arena;  /* per segment: iterators */
    nx_err err;
    double field_weight[NX_N_FIELDS];
    double k_norm[NX_N_FIELDS][256];
    bool k_ready[NX_N_FIELDS];
    uint32_t n_leaves;   /* (field, term) leaves after expansion */
    /* highlight terms (collected while planning) */
    const char **hl;
    uint32_t *hl_len;
    uint32_t *hl_fields; /* NXQ_FIELD_BIT mask the term was searched in */
    uint32_t n_hl, cap_hl;
    int rc;              /* sticky error raised inside iterators */
    /* position iterators of the current segment: closed before the segment
     * arena is reset (a long document grows their position buffer) */
    nx_postings **with_pos;
    uint32_t n_with_pos, cap_with_pos;
    bool counting;       /* iterators being built will never be scored */
} search;

static void *salloc(search *S, size_t n) { return nx_arena_alloc(S->arena, n); }

/* A word to highlight in snippets of the fields in `fields` (a title:
 * word is not highlighted in the body). */
static int add_hl(search *S, const char *t, uint32_t len, uint32_t fields) {
    if (S->n_hl == S->cap_hl) {
        uint32_t cap = S->cap_hl ? S->cap_hl * 2 : 32;
        const char **h = salloc(S, cap * sizeof *h);
        uint32_t *l = salloc(S, cap * sizeof *l);
        uint32_t *fm = salloc(S, cap * sizeof *fm);
        NX_RETURN_IF(!h || !l || !fm, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        if (S->n_hl) {
            memcpy(h, S->hl, S->n_hl * sizeof *h);
            memcpy(l, S->hl_len, S->n_hl * sizeof *l);
            memcpy(fm, S->hl_fields, S->n_hl * sizeof *fm);
        }
        S->hl = h;
        S->hl_len = l;
        S->hl_fields = fm;
        S->cap_hl = cap;
    }
    S->hl[S->n_hl] = t;
    S->hl_fields[S->n_hl] = fields;
    S->hl_len[S->n_hl++] = len;
    return 0;
}

static int make_fterm(search *S, int field, const char *text, uint32_t len, fterm **out) {
    uint32_t ns = S->snap->n_segments;
    fterm *f = salloc(S, sizeof *f);
    nx_term_info *info = salloc(S, (ns ? ns : 1) * sizeof *info);
    uint8_t *found = salloc(S, ns ? ns : 1);
    NX_RETURN_IF(!f || !info || !found, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    f->field = field;
    f->text = text;
    f->len = len;
    f->df = 0;
    f->info = info;
    f->found = found;
    for (uint32_t s = 0; s < ns; s++) {
        int rc = nx_segment_lookup(S->snap->segments[s], field, text, len, &info[s]);
        NX_RETURN_IF(rc < 0, &S->err, NEWSIDX_ERR_CORRUPT,
                     "segment %u: corrupt dictionary while looking up a term", s);
        found[s] = rc == 1 && info[s].df > 0;
        if (found[s]) f->df += info[s].df;
    }
    f->idf = nx_bm25_idf(S->snap->total_docs, f->df);
    S->n_leaves++;
    NX_RETURN_IF(S->n_leaves > S->q->opts.max_clauses, &S->err, NEWSIDX_ERR_LIMIT,
                 "query expands to more than max_clauses (%u) terms", S->q->opts.max_clauses);
    *out = f;
    return 0;
}

/* Expansion candidates of a prefix or fuzzy word in one field. */
typedef struct expansion {
    const char *text;
    uint32_t len;
    uint32_t dist;
} expansion;

typedef struct expand_ctx {
    search *S;
    expansion *e;
    uint32_t n, cap, max;
    bool fuzzy;
    const int32_t *word;
    size_t word_n;
    uint32_t max_edits;
    uint32_t seg_n; /* terms taken from the current segment */
    int rc;
} expand_ctx;

static int cmp_expansion(const void *a, const void *b) {
    const expansion *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, m);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorts, removes duplicates, keeps the best `max`. */
static void expansions_trim(expand_ctx *c) {
    if (c->n == 0) return;
    qsort(c->e, c->n, sizeof *c->e, cmp_expansion);
    uint32_t k = 1;
    for (uint32_t i = 1; i < c->n; i++)
        if (c->e[i].len != c->e[k - 1].len || memcmp(c->e[i].text, c->e[k - 1].text, c->e[i].len))
            c->e[k++] = c->e[i];
    c->n = k < c->max ? k : c->max;
}

static int expand_cb(void *ctx, const char *term, size_t len, const nx_term_info *info) {
    expand_ctx *c = ctx;
    (void)info;
    uint32_t dist = 0;
    if (c->fuzzy) {
        /* length filter first: code points = bytes that do not continue a
         * UTF-8 sequence; the distance is at least the length difference */
        if (len + c->max_edits < c->word_n) return 0;
        size_t ncp = 0;
        for (size_t i = 0; i < len; i++) ncp += ((unsigned char)term[i] & 0xc0) != 0x80;
        if (ncp > c->word_n + c->max_edits || ncp + c->max_edits < c->word_n) return 0;
        int32_t cps[NEWSIDX_MAX_TERM_BYTES];
        size_t n = nx_utf8_to_cps(term, len, cps, NEWSIDX_MAX_TERM_BYTES);
        dist = nx_edit_distance(c->word, c->word_n, cps, n, c->max_edits);
        if (dist > c->max_edits) return 0;
    }
    if (c->n == c->cap) {
        if (c->n >= 2 * c->max) {
            expansions_trim(c);
        } else {
            uint32_t cap = c->cap ? c->cap * 2 : 64;
            expansion *e = salloc(c->S, cap * sizeof *e);
            if (!e) return c->rc = NEWSIDX_ERR_NOMEM;
            if (c->n) memcpy(e, c->e, c->n * sizeof *e);
            c->e = e;
            c->cap = cap;
        }
    }
    char *t = salloc(c->S, len + 1);
    if (!t) return c->rc = NEWSIDX_ERR_NOMEM;
    memcpy(t, term, len);
    t[len] = '\0';
    c->e[c->n++] = (expansion){t, (uint32_t)len, dist};
    /* terms come sorted: a prefix walk can stop once it holds max from this
     * segment (the global best max are among the per-segment best max) */
    if (!c->fuzzy && ++c->seg_n >= c->max) return 1;
    return 0;
}

static int plan(search *S, const nx_qnode *q, bool positive, pnode **out);

static int plan_expand(search *S, const nx_qnode *q, bool positive, pnode *p) {
    uint32_t max = S->q->opts.max_expansions ? S->q->opts.max_expansions : 1;
    int32_t word[NEWSIDX_MAX_TERM_BYTES];
    size_t word_n = nx_utf8_to_cps(q->terms[0].text, q->terms[0].len, word, NEWSIDX_MAX_TERM_BYTES);
    uint32_t nf = 0;
    /* at most max expansions per field */
    fterm **ft = salloc(S, (size_t)max * NX_N_FIELDS * sizeof *ft);
    NX_RETURN_IF(!ft, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    for (int f = 0; f < NX_N_FIELDS; f++) {
        if (!(q->fields & NXQ_FIELD_BIT(f))) continue;
        expand_ctx c = {.S = S, .max = max, .fuzzy = q->kind == NXQ_FUZZY, .word = word,
                        .word_n = word_n, .max_edits = q->max_edits};
        for (uint32_t s = 0; s < S->snap->n_segments; s++) {
            c.seg_n = 0;
            int rc = q->kind == NXQ_PREFIX
                         ? nx_segment_terms(S->snap->segments[s], f, q->terms[0].text,
                                            q->terms[0].len, expand_cb, &c)
                         : nx_segment_terms(S->snap->segments[s], f, NULL, 0, expand_cb, &c);
            NX_RETURN_IF(c.rc, &S->err, c.rc, "out of memory");
            NX_RETURN_IF(rc < 0, &S->err, NEWSIDX_ERR_CORRUPT,
                         "segment %u: corrupt dictionary while expanding a term", s);
            if (c.n >= c.max) expansions_trim(&c);
        }
        expansions_trim(&c);
        for (uint32_t i = 0; i < c.n; i++) {
            NX_FORWARD(make_fterm(S, f, c.e[i].text, c.e[i].len, &ft[nf]));
            if (positive) NX_FORWARD(add_hl(S, c.e[i].text, c.e[i].len, NXQ_FIELD_BIT(f)));
            nf++;
        }
    }
    p->ft = ft;
    p->n_ft = nf;
    return 0;
}

static int plan(search *S, const nx_qnode *q, bool positive, pnode **out) {
    pnode *p = salloc(S, sizeof *p);
    NX_RETURN_IF(!p, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(p, 0, sizeof *p);
    p->kind = q->kind;
    p->boost = q->boost;
    *out = p;
    switch (q->kind) {
    case NXQ_NONE:
    case NXQ_ALL:
        return 0;
    case NXQ_DATE:
        p->lo = q->date_lo;
        p->hi = q->date_hi;
        return 0;
    case NXQ_TERM: {
        fterm **ft = salloc(S, NX_N_FIELDS * sizeof *ft);
        NX_RETURN_IF(!ft, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        p->ft = ft;
        for (int f = 0; f < NX_N_FIELDS; f++)
            if (q->fields & NXQ_FIELD_BIT(f))
                NX_FORWARD(make_fterm(S, f, q->terms[0].text, q->terms[0].len, &ft[p->n_ft++]));
        if (positive) NX_FORWARD(add_hl(S, q->terms[0].text, q->terms[0].len, q->fields));
        return 0;
    }
    case NXQ_PHRASE:
    case NXQ_NEAR: {
        uint32_t nt = q->n_terms;
        fterm **ft = salloc(S, (size_t)NX_N_FIELDS * nt * sizeof *ft);
        NX_RETURN_IF(!ft, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        p->ft = ft;
        p->n_terms = nt;
        p->qterms = q->terms;
        p->window = nt + q->slop;
        for (int f = 0; f < NX_N_FIELDS; f++) {
            if (!(q->fields & NXQ_FIELD_BIT(f))) continue;
            for (uint32_t t = 0; t < nt; t++)
                NX_FORWARD(make_fterm(S, f, q->terms[t].text, q->terms[t].len,
                                      &ft[p->n_pf * nt + t]));
            p->n_pf++;
        }
        if (positive)
            for (uint32_t t = 0; t < nt; t++)
                NX_FORWARD(add_hl(S, q->terms[t].text, q->terms[t].len, q->fields));
        return 0;
    }
    case NXQ_PREFIX:
    case NXQ_FUZZY:
        return plan_expand(S, q, positive, p);
    case NXQ_AND:
    case NXQ_OR: {
        p->n_children = q->n_children;
        p->children = salloc(S, q->n_children * sizeof *p->children);
        p->negated = salloc(S, q->n_children * sizeof *p->negated);
        NX_RETURN_IF(!p->children || !p->negated, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < q->n_children; i++) {
            bool neg = q->negated && q->negated[i];
            p->negated[i] = neg;
            NX_FORWARD(plan(S, q->children[i], positive && !neg, &p->children[i]));
        }
        return 0;
    }
    }
    return nx_err_set(&S->err, NEWSIDX_ERR_INVALID, "unknown query node kind %d", q->kind);
}

/* ---- per-segment iterator construction ---------------------------------- */

static sit *make_none(search *S) {
    sit *s = nx_arena_alloc(&S->seg_arena, sizeof *s);
    if (!s) return NULL;
    *s = (sit){&none_ops, NX_NO_DOC, 0, 0};
    return s;
}

static sit *make_range(search *S, uint32_t first, uint32_t end) {
    if (first >= end) return make_none(S);
    range_it *r = nx_arena_alloc(&S->seg_arena, sizeof *r);
    if (!r) return NULL;
    r->base = (sit){&range_ops, first, 0, end - first};
    r->end = end;
    return &r->base;
}

/* The length-norm table of a field, computed on first use (most queries
 * touch one or two fields). */
static const double *k_norm_of(search *S, int f) {
    if (!S->k_ready[f]) {
        const nx_snapshot *snap = S->snap;
        double avg = snap->field_docs[f] ? (double)snap->field_tokens[f] / (double)snap->field_docs[f]
                                         : 1.0;
        if (avg <= 0) avg = 1.0;
        for (int b = 0; b < 256; b++)
            S->k_norm[f][b] = NX_BM25_K1 * (1.0 - NX_BM25_B +
                                            NX_BM25_B * (double)nx_norm_decode((uint8_t)b) / avg);
        S->k_ready[f] = true;
    }
    return S->k_norm[f];
}

static int make_pt(search *S, uint32_t si, const fterm *f, double boost, sit **out) {
    const nx_segment *seg = S->snap->segments[si];
    *out = NULL;
    if (!f->found[si]) return 0;
    pt_it *it = nx_arena_alloc(&S->seg_arena, sizeof *it);
    NX_RETURN_IF(!it, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    NX_RETURN_IF(nx_postings_open(&it->p, seg, &f->info[si], false) < 0, &S->err,
                 NEWSIDX_ERR_CORRUPT, "segment %u: corrupt postings", si);
    it->norms = nx_segment_norms(seg, f->field);
    it->k_norm = k_norm_of(S, f->field);
    it->weight = boost * S->field_weight[f->field] * f->idf;
    it->blk_from = 1;
    it->blk_end = 0; /* empty: no cached block */
    it->df = f->info[si].df;
    uint32_t max_tf;
    uint8_t min_norm;
    nx_postings_term_max(&it->p, &max_tf, &min_norm);
    it->base = (sit){&pt_ops, it->p.doc, it->weight * bm25_tf(max_tf, it->k_norm[min_norm]),
                     f->info[si].df};
    *out = &it->base;
    return 0;
}

/* Builds an OR over list (children that are plain ORs are spliced in, so
 * block-max sees every (field, term) list). */
static int make_or(search *S, sit **list, uint32_t n, double boost, sit **out) {
    uint32_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!list[i] || list[i]->doc == NX_NO_DOC) continue;
        if (list[i]->ops->kind == SIT_OR && ((or_it *)list[i])->boost == 1.0)
            total += ((or_it *)list[i])->n;
        else
            total++;
    }
    if (total == 0) {
        *out = make_none(S);
        NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        return 0;
    }
    or_it *o = nx_arena_alloc(&S->seg_arena, sizeof *o);
    sit **c = nx_arena_alloc(&S->seg_arena, total * sizeof *c);
    NX_RETURN_IF(!o || !c, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    uint32_t k = 0;
    double max = 0;
    uint64_t cost = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!list[i] || list[i]->doc == NX_NO_DOC) continue;
        if (list[i]->ops->kind == SIT_OR && ((or_it *)list[i])->boost == 1.0) {
            or_it *inner = (or_it *)list[i];
            for (uint32_t j = 0; j < inner->n; j++) c[k++] = inner->c[j];
        } else {
            c[k++] = list[i];
        }
    }
    for (uint32_t i = 0; i < k; i++) {
        max += c[i]->max_score;
        cost += c[i]->cost;
    }
    if (k == 1 && boost == 1.0) {
        *out = c[0];
        return 0;
    }
    o->base = (sit){&or_ops, NX_NO_DOC, max * boost, cost};
    o->c = c;
    o->n = k;
    o->boost = boost;
    if (k >= OR_HEAP_MIN) {
        o->base.ops = &orh_ops;
        for (uint32_t i = k / 2; i-- > 0;) orh_sift(o, i);
        o->base.doc = c[0]->doc;
    } else {
        or_min(o);
    }
    *out = &o->base;
    return 0;
}

static int make_phrase(search *S, uint32_t si, const pnode *p, uint32_t fi, sit **out) {
    const nx_segment *seg = S->snap->segments[si];
    uint32_t n = p->n_terms;
    fterm **ft = p->ft + (size_t)fi * n;
    *out = NULL;
    for (uint32_t t = 0; t < n; t++)
        if (!ft[t]->found[si]) return 0;
    phr_it *it = nx_arena_alloc(&S->seg_arena, sizeof *it);
    nx_postings *ps = nx_arena_alloc(&S->seg_arena, n * sizeof *ps);
    uint32_t *offs = nx_arena_alloc(&S->seg_arena, 5 * n * sizeof *offs);
    const uint32_t **pos = nx_arena_alloc(&S->seg_arena, n * sizeof *pos);
    NX_RETURN_IF(!it || !ps || !offs || !pos, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(it, 0, sizeof *it);
    double idf_sum = 0;
    uint64_t min_df = UINT64_MAX;
    if (S->n_with_pos + n > S->cap_with_pos) {
        uint32_t cap = S->cap_with_pos ? S->cap_with_pos : 16;
        while (cap < S->n_with_pos + n) cap *= 2;
        nx_postings **wp = nx_arena_alloc(&S->seg_arena, cap * sizeof *wp);
        NX_RETURN_IF(!wp, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        if (S->n_with_pos) memcpy(wp, S->with_pos, S->n_with_pos * sizeof *wp);
        S->with_pos = wp;
        S->cap_with_pos = cap;
    }
    for (uint32_t t = 0; t < n; t++) {
        NX_RETURN_IF(nx_postings_open(&ps[t], seg, &ft[t]->info[si], true) < 0, &S->err,
                     NEWSIDX_ERR_CORRUPT, "segment %u: corrupt postings", si);
        S->with_pos[S->n_with_pos++] = &ps[t];
        idf_sum += ft[t]->idf;
        offs[t] = p->qterms[t].offset;
        if (ft[t]->info[si].df < min_df) min_df = ft[t]->info[si].df;
    }
    it->p = ps;
    it->n = n;
    it->offsets = offs;
    it->lead_order = offs + n;
    it->cnt = offs + 2 * n;
    it->idx = offs + 3 * n;
    it->idx2 = offs + 4 * n;
    it->pos = pos;
    /* leapfrog order: rarest term first (insertion sort, n <= max_phrase_terms) */
    for (uint32_t t = 0; t < n; t++) {
        uint32_t j = t;
        while (j > 0 && ft[it->lead_order[j - 1]]->info[si].df > ft[t]->info[si].df) {
            it->lead_order[j] = it->lead_order[j - 1];
            j--;
        }
        it->lead_order[j] = t;
    }
    it->near = p->kind == NXQ_NEAR;
    it->need_freq = !S->counting;
    it->window = p->window;
    int field = ft[0]->field;
    it->norms = nx_segment_norms(seg, field);
    it->k_norm = k_norm_of(S, field);
    it->weight = p->boost * S->field_weight[field] * idf_sum;
    /* tf * (k1 + 1) / (tf + K) < k1 + 1 for any frequency */
    it->base = (sit){&phr_ops, 0, it->weight * (NX_BM25_K1 + 1.0), min_df};
    phr_settle(it, 0);
    NX_RETURN_IF(it->rc, &S->err, it->rc, "segment %u: corrupt positions", si);
    *out = &it->base;
    return 0;
}

static int build(search *S, uint32_t si, const pnode *p, sit **out) {
    const nx_segment *seg = S->snap->segments[si];
    *out = NULL;
    switch (p->kind) {
    case NXQ_NONE:
        break;
    case NXQ_ALL:
        *out = make_range(S, 0, nx_segment_doc_count(seg));
        NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        return 0;
    case NXQ_DATE: {
        uint32_t first, end;
        nx_segment_date_range(seg, p->lo, p->hi, &first, &end);
        *out = make_range(S, first, end);
        NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        return 0;
    }
    case NXQ_TERM:
    case NXQ_PREFIX:
    case NXQ_FUZZY: {
        sit **list = nx_arena_alloc(&S->seg_arena, (p->n_ft ? p->n_ft : 1) * sizeof *list);
        NX_RETURN_IF(!list, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < p->n_ft; i++) NX_FORWARD(make_pt(S, si, p->ft[i], p->boost, &list[i]));
        return make_or(S, list, p->n_ft, 1.0, out);
    }
    case NXQ_PHRASE:
    case NXQ_NEAR: {
        sit *list[NX_N_FIELDS];
        for (uint32_t f = 0; f < p->n_pf; f++) NX_FORWARD(make_phrase(S, si, p, f, &list[f]));
        return make_or(S, list, p->n_pf, 1.0, out);
    }
    case NXQ_OR: {
        sit **list = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *list);
        NX_RETURN_IF(!list, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < p->n_children; i++) NX_FORWARD(build(S, si, p->children[i], &list[i]));
        return make_or(S, list, p->n_children, p->boost, out);
    }
    case NXQ_AND: {
        and_it *a = nx_arena_alloc(&S->seg_arena, sizeof *a);
        sit **pos = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *pos);
        sit **neg = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *neg);
        NX_RETURN_IF(!a || !pos || !neg, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        uint32_t np = 0, nn = 0;
        double max = 0;
        bool empty = false;
        for (uint32_t i = 0; i < p->n_children; i++) {
            sit *c;
            NX_FORWARD(build(S, si, p->children[i], &c));
            if (p->negated[i]) {
                if (c->doc != NX_NO_DOC) neg[nn++] = c;
                continue;
            }
            if (c->doc == NX_NO_DOC) empty = true;
            /* cheapest first: it leads the leapfrog */
            uint32_t j = np++;
            while (j > 0 && pos[j - 1]->cost > c->cost) {
                pos[j] = pos[j - 1];
                j--;
            }
            pos[j] = c;
            max += c->max_score;
        }
        if (empty || np == 0) break;
        if (np == 1 && nn == 0 && p->boost == 1.0) {
            *out = pos[0];
            return 0;
        }
        a->base = (sit){&and_ops, 0, max * p->boost, pos[0]->cost};
        a->pos = pos;
        a->n_pos = np;
        a->neg = neg;
        a->n_neg = nn;
        a->boost = p->boost;
        and_settle(a, 0);
        *out = &a->base;
        return 0;
    }
    }
    *out = make_none(S);
    NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    return 0;
}

/* ---- top-k heap ---------------------------------------------------------- */

typedef struct hit_entry {
    double score;
    int64_t key;    /* date sort: larger is better */
    uint32_t seg, doc;
} hit_entry;

typedef struct topk {
    hit_entry *h;
    uint32_t n, cap;
    bool by_date;
} topk;

/* true when a ranks before b. Ties go to the earlier (segment, doc). */
static inline bool better(const topk *t, const hit_entry *a, const hit_entry *b) {
    if (t->by_date) {
        if (a->key != b->key) return a->key > b->key;
    } else if (a->score != b->score) {
        return a->score > b->score;
    }
    return a->seg != b->seg ? a->seg < b->seg : a->doc < b->doc;
}

/* Min-heap: h[0] is the worst kept hit. */
static void topk_sift_down(topk *t, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < t->n && better(t, &t->h[w], &t->h[l])) w = l;
        if (r < t->n && better(t, &t->h[w], &t->h[r])) w = r;
        if (w == i) return;
        hit_entry x = t->h[i];
        t->h[i] = t->h[w];
        t->h[w] = x;
        i = w;
    }
}

static inline bool topk_full(const topk *t) { return t->n == t->cap; }

/* Would e enter the heap? */
static inline bool topk_wants(const topk *t, const hit_entry *e) {
    return t->cap > 0 && (!topk_full(t) || better(t, e, &t->h[0]));
}

static void topk_push(topk *t, const hit_entry *e) {
    if (!topk_full(t)) {
        uint32_t i = t->n++;
        t->h[i] = *e;
        while (i > 0) {
            uint32_t parent = (i - 1) / 2;
            if (!better(t, &t->h[parent], &t->h[i])) break;
            hit_entry x = t->h[i];
            t->h[i] = t->h[parent];
            t->h[parent] = x;
            i = parent;
        }
    } else {
        t->h[0] = *e;
        topk_sift_down(t, 0);
    }
}

/* ---- facets -------------------------------------------------------------- */

typedef struct facet_val {
    const char *label;
    uint64_t count;
} facet_val;

typedef struct month_count {
    int64_t month; /* year * 12 + (month - 1) */
    uint64_t count;
} month_count;

typedef struct facets {
    unsigned want;
    /* sources: label -> count, open addressing by hash */
    facet_val *src;
    uint64_t *src_hash;
    uint32_t n_src, cap_src;
    month_count *months;
    uint32_t n_months, cap_months;
    int64_t cur_lo, cur_hi; /* seconds range of months[cur] */
    uint32_t cur;
    uint64_t *seg_src;      /* per segment: counts by source ordinal */
} facets;

static void civil_from_days(int64_t z, int64_t *y, int *m) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

static int facet_month(search *S, facets *F, int64_t t) {
    if (F->n_months && t >= F->cur_lo && t <= F->cur_hi) {
        F->months[F->cur].count++;
        return 0;
    }
    int64_t y;
    int m;
    civil_from_days(floor_div(t, 86400), &y, &m);
    int64_t key = y * 12 + (m - 1);
    uint32_t i = 0;
    while (i < F->n_months && F->months[i].month != key) i++;
    if (i == F->n_months) {
        if (F->n_months == F->cap_months) {
            uint32_t cap = F->cap_months ? F->cap_months * 2 : 64;
            month_count *mc = salloc(S, cap * sizeof *mc);
            NX_RETURN_IF(!mc, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            if (F->n_months) memcpy(mc, F->months, F->n_months * sizeof *mc);
            F->months = mc;
            F->cap_months = cap;
        }
        F->months[F->n_months++] = (month_count){key, 0};
    }
    F->months[i].count++;
    F->cur = i;
    F->cur_lo = nx_days_from_civil(y, m, 1) * 86400;
    F->cur_hi = (m == 12 ? nx_days_from_civil(y + 1, 1, 1) : nx_days_from_civil(y, m + 1, 1)) * 86400 - 1;
    return 0;
}

static int facet_source_merge(search *S, facets *F, const nx_segment *seg) {
    uint32_t n = nx_segment_source_count(seg);
    for (uint32_t ord = 1; ord <= n; ord++) {
        uint64_t c = F->seg_src[ord];
        if (!c) continue;
        size_t len;
        const char *name = nx_segment_source_name(seg, ord, &len);
        uint64_t h = nx_hash64(name, len) | 1;
        if (2 * (F->n_src + 1) > F->cap_src) {
            uint32_t cap = F->cap_src ? F->cap_src * 2 : 64;
            facet_val *v = salloc(S, cap * sizeof *v);
            uint64_t *hs = salloc(S, cap * sizeof *hs);
            NX_RETURN_IF(!v || !hs, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            memset(hs, 0, cap * sizeof *hs);
            for (uint32_t i = 0; i < F->cap_src; i++) {
                if (!F->src_hash[i]) continue;
                uint32_t j = (uint32_t)(F->src_hash[i] & (cap - 1));
                while (hs[j]) j = (j + 1) & (cap - 1);
                hs[j] = F->src_hash[i];
                v[j] = F->src[i];
            }
            F->src = v;
            F->src_hash = hs;
            F->cap_src = cap;
        }
        uint32_t j = (uint32_t)(h & (F->cap_src - 1));
        while (F->src_hash[j] &&
               !(F->src_hash[j] == h && strlen(F->src[j].label) == len &&
                 memcmp(F->src[j].label, name, len) == 0))
            j = (j + 1) & (F->cap_src - 1);
        if (!F->src_hash[j]) {
            char *l = salloc(S, len + 1);
            NX_RETURN_IF(!l, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            memcpy(l, name, len);
            l[len] = '\0';
            F->src_hash[j] = h;
            F->src[j] = (facet_val){l, 0};
            F->n_src++;
        }
        F->src[j].count += c;
    }
    return 0;
}

/* ---- results ------------------------------------------------------------- */

typedef struct hit {
    char *id;
    double score;
    newsidx_field *fields;
    size_t n_fields;
    newsidx_snippet *snippets;
    size_t n_snippets;
} hit;

struct newsidx_results {
    nx_arena arena;
    uint64_t total;
    hit *hits;
    size_t n_hits;
    facet_val *facet[3]; /* source, year, month */
    size_t n_facet[3];
};

void newsidx_results_free(newsidx_results *res) {
    if (!res) return;
    nx_arena_reset(&res->arena);
    free(res);
}

uint64_t newsidx_results_total(const newsidx_results *res) { return res ? res->total : 0; }
size_t newsidx_results_count(const newsidx_results *res) { return res ? res->n_hits : 0; }

const char *newsidx_hit_id(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].id : NULL;
}

double newsidx_hit_score(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].score : 0.0;
}

const newsidx_field *newsidx_hit_field(const newsidx_results *res, size_t i, const char *name) {
    if (!res || i >= res->n_hits || !name) return NULL;
    const hit *h = &res->hits[i];
    for (size_t j = 0; j < h->n_fields; j++)
        if (strcmp(h->fields[j].name, name) == 0) return &h->fields[j];
    return NULL;
}

size_t newsidx_hit_snippet_count(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].n_snippets : 0;
}

const newsidx_snippet *newsidx_hit_snippet(const newsidx_results *res, size_t i, size_t j) {
    if (!res || i >= res->n_hits || j >= res->hits[i].n_snippets) return NULL;
    return &res->hits[i].snippets[j];
}

static int facet_index(unsigned facet) {
    return facet == NEWSIDX_FACET_SOURCE ? 0 : facet == NEWSIDX_FACET_YEAR ? 1
         : facet == NEWSIDX_FACET_MONTH  ? 2 : -1;
}

size_t newsidx_facet_count(const newsidx_results *res, unsigned facet) {
    int k = facet_index(facet);
    return res && k >= 0 ? res->n_facet[k] : 0;
}

int newsidx_facet_value(const newsidx_results *res, unsigned facet, size_t j,
                        const char **label, uint64_t *count) {
    int k = facet_index(facet);
    if (!res || k < 0 || j >= res->n_facet[k]) return NEWSIDX_ERR_NOT_FOUND;
    if (label) *label = res->facet[k][j].label;
    if (count) *count = res->facet[k][j].count;
    return NEWSIDX_OK;
}

/* ---- the search ---------------------------------------------------------- */

typedef struct run {
    search *S;
    topk *T;
    facets *F;
    uint64_t total;
    double now;          /* recency reference: newest date in the index */
    double halflife_s;   /* 0: no recency boost */
} run;

/* score * 1 / (1 + age / halflife); undated articles count as one
 * half-life old (factor 0.5). The factor is <= 1, so block-max bounds stay
 * valid. */
static inline double recency(const run *R, const nx_segment *seg, uint32_t doc) {
    int64_t d = nx_segment_date(seg, doc);
    if (d == NX_NO_DATE) return 0.5;
    double age = R->now - (double)d;
    if (age < 0) age = 0;
    return 1.0 / (1.0 + age / R->halflife_s);
}

static inline int64_t date_key(const newsidx_search_options *o, const nx_segment *seg,
                               uint32_t doc) {
    int64_t d = nx_segment_date(seg, doc);
    if (d == NX_NO_DATE) return INT64_MIN; /* undated last in both orders */
    return o->sort == NEWSIDX_SORT_DATE_ASC ? -d : d;
}

static int count_match(run *R, const nx_segment *seg, uint32_t doc) {
    R->total++;
    facets *F = R->F;
    if (F->want & NEWSIDX_FACET_SOURCE) F->seg_src[nx_segment_source_ord(seg, doc)]++;
    if (F->want & (NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH)) {
        int64_t d = nx_segment_date(seg, doc);
        if (d != NX_NO_DATE) NX_FORWARD(facet_month(R->S, F, d));
    }
    return 0;
}

/* Every match: count, facets, and (unless counting) score into the heap. */
static int run_exhaustive(run *R, uint32_t si, sit *root) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    const newsidx_search_options *o = S->o;
    bool score = !o->count_only && R->T->cap > 0;
    for (uint32_t d = root->doc; d != NX_NO_DOC; d = sit_next(root)) {
        if (!nx_segment_is_live(seg, d)) continue;
        NX_FORWARD(count_match(R, seg, d));
        if (!score) continue;
        hit_entry e = {0, 0, si, d};
        if (R->T->by_date) {
            e.key = date_key(o, seg, d);
            if (!topk_wants(R->T, &e)) continue;
            e.score = root->ops->score(root);
            if (R->halflife_s > 0) e.score *= recency(R, seg, d);
        } else {
            e.score = root->ops->score(root);
            if (R->halflife_s > 0) e.score *= recency(R, seg, d);
            if (!topk_wants(R->T, &e)) continue;
        }
        topk_push(R->T, &e);
    }
    return S->rc;
}

/* Block-max MaxScore (Turtle & Flood 1995; with block bounds as in Lucene
 * 9) over the clauses of a ranked OR. The doc-id space is cut into windows
 * that end at the first block end of any clause; in each window every
 * clause has a bound (its block's score(max_tf, min_norm)). Clauses are
 * sorted by bound; the longest prefix whose bounds sum to at most the heap's
 * minimum score is "non-essential": a doc matching only those cannot enter
 * the heap (a new hit needs a score above the minimum; ties go to the
 * earlier doc, seen first). Candidates come from the essential clauses only;
 * non-essential ones are advanced to a candidate only while it can still
 * beat the minimum. A window where every clause is non-essential is skipped
 * without decoding anything. */
static int run_maxscore(run *R, uint32_t si, sit **its, uint32_t n, double boost) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    topk *T = R->T;
    /* a bound computed by a different summation order may differ from the
     * exact score in the last bits: inflate it a little */
    const double slack = 1.0 + 1e-9;
    double *bm = nx_arena_alloc(&S->seg_arena, (n + 1) * sizeof *bm);
    double *pre = nx_arena_alloc(&S->seg_arena, (n + 1) * sizeof *pre);
    uint32_t *ord = nx_arena_alloc(&S->seg_arena, (n + 1) * sizeof *ord);
    NX_RETURN_IF(!bm || !pre || !ord, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    uint32_t d = NX_NO_DOC;
    for (uint32_t i = 0; i < n; i++)
        if (its[i]->doc < d) d = its[i]->doc;
    while (d != NX_NO_DOC) {
        /* the window [d, up] */
        uint32_t up = NX_NO_DOC - 1;
        for (uint32_t i = 0; i < n; i++) {
            if (its[i]->doc == NX_NO_DOC) continue;
            double b;
            uint32_t t = its[i]->doc > d ? its[i]->doc : d;
            uint32_t e = its[i]->ops->shallow(its[i], t, &b);
            bm[i] = b * boost * slack;
            if (e < up) up = e;
        }
        for (uint32_t i = 0; i < n; i++)
            if (its[i]->doc > up) bm[i] = 0; /* nothing of it in this window */
        double theta = topk_full(T) ? T->h[0].score : -HUGE_VAL;
        /* clauses by bound, ascending (insertion sort: n is small, and a
         * long expansion list is sorted once per window) */
        for (uint32_t i = 0; i < n; i++) {
            uint32_t j = i;
            while (j > 0 && bm[ord[j - 1]] > bm[i]) {
                ord[j] = ord[j - 1];
                j--;
            }
            ord[j] = i;
        }
        uint32_t ne = 0;
        pre[0] = 0;
        while (ne < n && pre[ne] + bm[ord[ne]] <= theta) {
            pre[ne + 1] = pre[ne] + bm[ord[ne]];
            ne++;
        }
        if (ne < n) {
            for (;;) {
                uint32_t cand = NX_NO_DOC;
                for (uint32_t k = ne; k < n; k++) {
                    uint32_t x = sit_advance(its[ord[k]], d);
                    if (x < cand) cand = x;
                }
                if (cand > up) break;
                double score = 0;
                for (uint32_t k = ne; k < n; k++) {
                    sit *it = its[ord[k]];
                    if (it->doc == cand) score += it->ops->score(it);
                }
                score *= boost;
                for (uint32_t k = ne; k-- > 0;) {
                    if (score + pre[k + 1] <= theta) break;
                    sit *it = its[ord[k]];
                    if (sit_advance(it, cand) == cand) score += it->ops->score(it) * boost;
                }
                if (nx_segment_is_live(seg, cand)) {
                    R->total++;
                    hit_entry e = {score, 0, si, cand};
                    if (R->halflife_s > 0) e.score *= recency(R, seg, cand);
                    if (topk_wants(T, &e)) {
                        topk_push(T, &e);
                        if (topk_full(T)) theta = T->h[0].score;
                    }
                }
                d = cand + 1;
                if (d == NX_NO_DOC) break;
            }
        }
        if (up >= NX_NO_DOC - 1) break;
        /* the next window starts after this one, at the first doc left */
        uint32_t next = NX_NO_DOC;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t x = its[i]->doc;
            if (x <= up) x = up + 1; /* not advanced (non-essential): nothing before up + 1 */
            if (x < next) next = x;
        }
        d = next;
    }
    return S->rc;
}

/* Block-max for a single (field, term) list: whole blocks whose bound
 * cannot beat the heap are skipped; the others are scored in a tight loop
 * over the decoded block's arrays. */
static int run_bmw_one(run *R, uint32_t si, pt_it *it) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    bool deletions = nx_segment_live_count(seg) != nx_segment_doc_count(seg);
    topk *T = R->T;
    nx_postings *p = &it->p;
    const double slack = 1.0 + 1e-9;
    const uint8_t *norms = it->norms;
    const double *k_norm = it->k_norm;
    double weight = it->weight;
    uint32_t d = it->base.doc;
    while (d != NX_NO_DOC) {
        uint32_t end = NX_NO_DOC - 1;
        if (topk_full(T)) {
            double bound;
            end = pt_shallow(&it->base, d, &bound);
            if (end == NX_NO_DOC) break;
            if (bound * slack <= T->h[0].score) {
                d = end + 1 < NX_NO_DOC ? nx_postings_advance(p, end + 1) : NX_NO_DOC;
                continue;
            }
        }
        /* d is in the decoded block, and so is every doc up to end */
        uint32_t k, n;
        const uint32_t *docs = nx_postings_block_docs(p, &k, &n);
        const uint32_t *freqs = nx_postings_block_freqs(p);
        for (; k < n && docs[k] <= end; k++) {
            uint32_t x = docs[k];
            if (deletions && !nx_segment_is_live(seg, x)) continue;
            R->total++;
            double tf = freqs[k];
            hit_entry e = {weight * bm25_tf(tf, k_norm[norms[x]]), 0, si, x};
            if (R->halflife_s > 0) e.score *= recency(R, seg, x);
            if (topk_wants(T, &e)) topk_push(T, &e);
            if (topk_full(T) && end == NX_NO_DOC - 1) {
                k++;
                break; /* the heap is full: go on block by block */
            }
        }
        if (k < n) {
            nx_postings_seek_in_block(p, k);
            d = docs[k];
        } else {
            nx_postings_seek_in_block(p, n - 1);
            d = nx_postings_next(p);
        }
    }
    it->base.doc = NX_NO_DOC;
    return S->rc;
}

/* ---- conjunctions of plain terms, block by block --------------------------
 * An AND whose positive children are all single (field, term) lists and
 * that excludes nothing is walked on the lists' decoded blocks: the lead's
 * docs are checked against each other list's block array, with no virtual
 * advance call per doc. The visited matches, their order, scores and the
 * totals are those of the generic paths (run_blockmax, run_count). */
static bool and_of_terms(const sit *root) {
    if (root->ops->kind != SIT_AND) return false;
    const and_it *a = (const and_it *)root;
    if (a->n_neg) return false;
    for (uint32_t i = 0; i < a->n_pos; i++)
        if (a->pos[i]->ops->kind != SIT_TERM) return false;
    return true;
}

/* A list's decoded block as arrays; i may run to n (block used up). */
typedef struct blk_cur {
    nx_postings *p;
    const uint32_t *docs;
    uint32_t i, n, last;
} blk_cur;

static inline void bc_load(blk_cur *c) {
    c->docs = nx_postings_block_docs(c->p, &c->i, &c->n);
    c->last = c->docs[c->n - 1];
}

/* Moves c to its first doc >= t and returns it (NX_NO_DOC at the end);
 * a later block is found through the skip entries. */
static inline uint32_t bc_seek(blk_cur *c, uint32_t t) {
    if (t > c->last) {
        if (nx_postings_advance(c->p, t) == NX_NO_DOC) return NX_NO_DOC;
        bc_load(c);
    }
    c->i = nx_block_seek(c->docs, c->i, c->n, t);
    return c->docs[c->i];
}

static blk_cur *and_cursors(search *S, const and_it *a) {
    blk_cur *c = nx_arena_alloc(&S->seg_arena, a->n_pos * sizeof *c);
    if (!c) return NULL;
    for (uint32_t i = 0; i < a->n_pos; i++) {
        c[i].p = &((pt_it *)a->pos[i])->p;
        bc_load(&c[i]);
    }
    return c;
}

/* Keeps in cand[0, m) the candidates (increasing) that list c holds, in
 * place and in order; returns how many. A branch-free merge inside each
 * block, or a search for each candidate when the block has few; the
 * blocks between candidates are skipped through the skip entries. *ended: c has nothing at or after some candidate (the ones from
 * there on are dropped, and c is spent). */
static uint32_t bc_filter(blk_cur *c, uint32_t *cand, uint32_t m, bool *ended) {
    const uint32_t *D = c->docs;
    uint32_t i = c->i, n = c->n, keep = 0, k = 0;
    while (k < m) {
        if (cand[k] > c->last) {
            if (nx_postings_advance(c->p, cand[k]) == NX_NO_DOC) {
                *ended = true;
                return keep;
            }
            bc_load(c);
            D = c->docs;
            i = c->i;
            n = c->n;
        }
        if ((m - k) * 8 < n - i) {
            /* few candidates for this block: search for each */
            for (; k < m && cand[k] <= c->last; k++) {
                uint32_t x = cand[k];
                i = nx_block_seek(D, i, n, x);
                cand[keep] = x;
                keep += D[i] == x;
            }
            continue;
        }
        while (k < m && i < n) {
            uint32_t x = cand[k], y = D[i];
            cand[keep] = x;
            keep += x == y;
            k += x <= y;
            i += y <= x;
        }
    }
    c->i = i < n ? i : n - 1; /* docs[n - 1] is below any later target */
    return keep;
}

/* Counts an AND of plain terms: the rest of the lead's (rarest list's)
 * block is copied into a candidate array, which every other list filters
 * in turn. */
static int run_count_and(run *R, uint32_t si, and_it *a) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    bool deletions = nx_segment_live_count(seg) != nx_segment_doc_count(seg);
    uint32_t n = a->n_pos;
    blk_cur *cur = and_cursors(S, a);
    NX_RETURN_IF(!cur, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    blk_cur *lead = &cur[0];
    uint32_t cand[sizeof lead->p->docs / sizeof lead->p->docs[0]];
    for (;;) {
        uint32_t m = 0;
        for (uint32_t k = lead->i; k < lead->n; k++) cand[m++] = lead->docs[k];
        bool ended = false;
        uint32_t ahead = 0; /* no match before any list's current doc */
        for (uint32_t j = 1; j < n && m; j++) {
            /* after a list has ended, the ones after it still filter the
             * survivors of this block */
            m = bc_filter(&cur[j], cand, m, &ended);
            if (!ended && cur[j].docs[cur[j].i] > ahead) ahead = cur[j].docs[cur[j].i];
        }
        if (!deletions) {
            R->total += m;
        } else {
            for (uint32_t k = 0; k < m; k++) R->total += nx_segment_is_live(seg, cand[k]);
        }
        if (ended) break;
        uint32_t t = lead->last + 1;
        if (ahead > t) t = ahead;
        if (t == NX_NO_DOC || bc_seek(lead, t) == NX_NO_DOC) break;
    }
    return S->rc;
}

enum { WINDOW_MAX = sizeof ((nx_postings *)0)->docs / sizeof(uint32_t) };

/* Keeps in cand[0, m) the candidates that list c holds (all of them lie in
 * c's decoded block, whose last doc is at least the last candidate),
 * branch-free; at[l] (l < j) are the kept ones' indexes in the earlier
 * lists' blocks, at[j] gets their indexes in c's. */
static inline __attribute__((always_inline)) uint32_t
window_merge(blk_cur *c, uint32_t *cand, uint32_t m, uint32_t (*at)[WINDOW_MAX], uint32_t j) {
    const uint32_t *D = c->docs;
    uint32_t i = c->i, n = c->n, keep = 0, k = 0;
    if (m * 8 < n - i) {
        /* few candidates: search for each (a linear merge would walk the
         * whole block of a dense list) */
        for (; k < m; k++) {
            uint32_t x = cand[k];
            i = nx_block_seek(D, i, n, x);
            cand[keep] = x;
            for (uint32_t l = 0; l < j; l++) at[l][keep] = at[l][k];
            at[j][keep] = i;
            keep += D[i] == x;
        }
        c->i = i;
        return keep;
    }
    while (k < m && i < n) {
        uint32_t x = cand[k], y = D[i];
        cand[keep] = x;
        for (uint32_t l = 0; l < j; l++) at[l][keep] = at[l][k];
        at[j][keep] = i;
        keep += x == y;
        k += x <= y;
        i += y <= x;
    }
    c->i = i < n ? i : n - 1;
    return keep;
}

/* run_blockmax for an AND of plain terms. A window is the range of doc ids
 * covered by one block of every list; its bound is the sum of the blocks'
 * bounds, as and_shallow's. A window that cannot beat the heap is skipped
 * undecoded; in the others the matches are found by merging the block
 * arrays, then scored as and_score does. A match is visited exactly when
 * run_blockmax would visit it: while the heap is not full, or while its
 * window's bound beats the heap's minimum. */
static int run_blockmax_and(run *R, uint32_t si, and_it *a) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    bool deletions = nx_segment_live_count(seg) != nx_segment_doc_count(seg);
    topk *T = R->T;
    const double slack = 1.0 + 1e-9;
    uint32_t n = a->n_pos;
    pt_it **pt = (pt_it **)a->pos;
    blk_cur *cur = and_cursors(S, a);
    uint32_t (*at)[WINDOW_MAX] = nx_arena_alloc(&S->seg_arena, n * sizeof *at); /* per list: block index of each match */
    const uint32_t **freqs = nx_arena_alloc(&S->seg_arena, n * sizeof *freqs); /* per window */
    NX_RETURN_IF(!cur || !at || !freqs, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    blk_cur *lead = &cur[0];
    uint32_t cand[WINDOW_MAX];
    uint32_t target = a->base.doc;
    while (target != NX_NO_DOC) {
        /* no match before the lead's next doc */
        uint32_t t = bc_seek(lead, target);
        if (t == NX_NO_DOC) break;
        target = t;
        uint32_t up = NX_NO_DOC;
        double sum = 0;
        for (uint32_t i = 0; i < n; i++) {
            double b;
            uint32_t e = pt_shallow(&pt[i]->base, target, &b);
            sum += b;
            if (e < up) up = e;
        }
        if (up == NX_NO_DOC) break;
        double bound = sum * a->boost * slack;
        if (topk_full(T) && bound <= T->h[0].score) {
            target = up + 1;
            continue;
        }
        /* every list onto its block holding target (its last doc >= up) */
        uint32_t ahead = target;
        bool end = false;
        for (uint32_t i = 1; i < n; i++) {
            uint32_t x = bc_seek(&cur[i], target);
            if (x == NX_NO_DOC) {
                end = true;
                break;
            }
            if (x > ahead) ahead = x;
        }
        if (end) break;
        if (ahead > up) {
            target = ahead; /* no match in this window */
            continue;
        }
        /* the window's matches: the lead's docs, merged with each list */
        uint32_t m = 0, k = lead->i;
        for (; k < lead->n && lead->docs[k] <= up; k++) {
            cand[m] = lead->docs[k];
            at[0][m++] = k;
        }
        lead->i = k < lead->n ? k : lead->n - 1;
        for (uint32_t j = 1; j < n && m; j++) {
            /* (constant j: the copies of the earlier lists' indexes unroll) */
            if (j == 1) m = window_merge(&cur[j], cand, m, at, 1);
            else if (j == 2) m = window_merge(&cur[j], cand, m, at, 2);
            else m = window_merge(&cur[j], cand, m, at, j);
        }
        for (uint32_t i = 0; i < n && m; i++) freqs[i] = nx_postings_block_freqs(cur[i].p);
        for (k = 0; k < m; k++) {
            uint32_t d = cand[k];
            if (deletions && !nx_segment_is_live(seg, d)) continue;
            R->total++;
            double score = 0;
            for (uint32_t i = 0; i < n; i++) {
                const pt_it *it = pt[i];
                double tf = freqs[i][at[i][k]];
                score += it->weight * bm25_tf(tf, it->k_norm[it->norms[d]]);
            }
            hit_entry e = {score * a->boost, 0, si, d};
            if (R->halflife_s > 0) e.score *= recency(R, seg, d);
            if (topk_wants(T, &e)) {
                topk_push(T, &e);
                if (topk_full(T) && bound <= T->h[0].score) break; /* the rest cannot win */
            }
        }
        target = up + 1;
    }
    a->base.doc = NX_NO_DOC;
    return S->rc;
}

/* Block-max for any other top node (AND, phrase): before looking for the
 * next match at or after `target`, the bound of the window [target, up]
 * (the node's shallow()) is compared with the heap's minimum; a window that
 * cannot win is skipped without leapfrogging or checking positions in it. */
static int run_blockmax(run *R, uint32_t si, sit *root) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    topk *T = R->T;
    const double slack = 1.0 + 1e-9;
    uint32_t target = root->doc, up = NX_NO_DOC - 1;
    while (target != NX_NO_DOC) {
        if (topk_full(T)) {
            double b;
            up = root->ops->shallow(root, target, &b);
            if (up == NX_NO_DOC) break;
            if (b * slack <= T->h[0].score) {
                target = up + 1;
                continue;
            }
        }
        if (topk_full(T) && root->ops->kind == SIT_PHRASE) ((phr_it *)root)->floor = T->h[0].score;
        uint32_t d = root->doc >= target ? root->doc : root->ops->advance(root, target);
        if (d == NX_NO_DOC) break;
        if (topk_full(T) && d > up) {
            target = d; /* a later window: check its bound first */
            continue;
        }
        if (nx_segment_is_live(seg, d)) {
            R->total++;
            hit_entry e = {root->ops->score(root), 0, si, d};
            if (R->halflife_s > 0) e.score *= recency(R, seg, d);
            if (topk_wants(T, &e)) topk_push(T, &e);
        }
        target = d + 1;
    }
    return S->rc;
}

static void close_positions(search *S) {
    for (uint32_t i = 0; i < S->n_with_pos; i++) nx_postings_close(S->with_pos[i]);
    S->n_with_pos = S->cap_with_pos = 0;
    S->with_pos = NULL;
}

enum { MAP_SPAN = 4096 };

/* window_merge through a direct map from doc id (minus c's current doc) to
 * c's block index, when c's docs up to the last candidate span less than
 * MAP_SPAN ids: c's docs are stored in the map and each candidate is
 * looked up, with no dependency from one step to the next (a merge's
 * steps wait on each other). Stale entries from earlier windows need no
 * clearing: a looked-up index counts only when it is in the block and
 * holds the candidate. Returns UINT32_MAX (nothing changed) when the span
 * is too wide. Leaves c->i unchanged. */
static inline __attribute__((always_inline)) uint32_t
window_map(const blk_cur *c, uint32_t *cand, uint32_t m, uint32_t (*at)[WINDOW_MAX], uint32_t j,
           uint8_t *map) {
    const uint32_t *D = c->docs; /* NX_BLOCK entries: any index read below 128 is inside */
    uint32_t i = c->i, n = c->n, base = D[i], top = cand[m - 1];
    if (top < base || top - base >= MAP_SPAN) return UINT32_MAX;
    uint32_t span = top - base;
    for (uint32_t k = i; k < n && D[k] <= top; k++) map[D[k] - base] = (uint8_t)k;
    uint32_t keep = 0;
    for (uint32_t k = 0; k < m; k++) {
        uint32_t x = cand[k], off = x - base; /* wraps (then fails) when x < base */
        bool in = off <= span;
        uint32_t idx = map[in ? off : 0];
        bool ok = in & (idx < n) & (D[idx] == x);
        cand[keep] = x;
        for (uint32_t l = 0; l < j; l++) at[l][keep] = at[l][k];
        at[j][keep] = idx;
        keep += ok;
    }
    return keep;
}

/* Counts a phrase or proximity window by window, as run_blockmax_and walks
 * an AND: a window runs from the target to the first end of the words'
 * current blocks; its candidates are the rarest word's docs there, merged
 * with the other words' block arrays, and only the docs in every list get
 * their positions matched (phr_count), each word's cursor moved straight
 * to its index. The docs counted are those phr_next would visit: the
 * window's docs are all of the lists' common docs in it, in order; a
 * damaged block that ends a list early, or corrupt positions, end the
 * count where phr_settle would end. */
static int run_count_phrase(run *R, uint32_t si, phr_it *it) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    bool deletions = nx_segment_live_count(seg) != nx_segment_doc_count(seg);
    uint32_t n = it->n, target = it->base.doc;
    if (target == NX_NO_DOC) return S->rc;
    R->total += !deletions || nx_segment_is_live(seg, target); /* settled on by make_phrase */
    target++;
    blk_cur *cur = nx_arena_alloc(&S->seg_arena, n * sizeof *cur);
    uint32_t (*at)[WINDOW_MAX] = nx_arena_alloc(&S->seg_arena, n * sizeof *at); /* per word: block index of each candidate */
    uint8_t *map = nx_arena_alloc(&S->seg_arena, MAP_SPAN);
    NX_RETURN_IF(!cur || !at || !map, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(map, 0, MAP_SPAN);
    for (uint32_t i = 0; i < n; i++) cur[i].p = &it->p[it->lead_order[i]];
    blk_cur *lead = &cur[0];
    uint32_t cand[WINDOW_MAX];
    while (target != NX_NO_DOC) {
        /* every list onto its first doc >= target */
        uint32_t up = NX_NO_DOC, ahead = target;
        bool ended = false; /* a list has: no more matches */
        for (uint32_t i = 0; i < n && !ended; i++) {
            uint32_t x = nx_postings_advance_near(cur[i].p, target);
            ended = x == NX_NO_DOC;
            if (x > ahead) ahead = x;
            if (!ended) bc_load(&cur[i]);
            if (!ended && cur[i].last < up) up = cur[i].last;
        }
        if (ended) break;
        if (ahead > up) {
            target = ahead; /* nothing common before ahead */
            continue;
        }
        uint32_t m = 0, k = lead->i;
        for (; k < lead->n && lead->docs[k] <= up; k++) {
            cand[m] = lead->docs[k];
            at[0][m++] = k;
        }
        for (uint32_t j = 1; j < n && m; j++) {
            uint32_t kept = j == 1   ? window_map(&cur[j], cand, m, at, 1, map)
                            : j == 2 ? window_map(&cur[j], cand, m, at, 2, map)
                                     : window_map(&cur[j], cand, m, at, j, map);
            if (kept != UINT32_MAX) m = kept;
            else if (j == 1) m = window_merge(&cur[j], cand, m, at, 1);
            else if (j == 2) m = window_merge(&cur[j], cand, m, at, 2);
            else m = window_merge(&cur[j], cand, m, at, j);
        }
        for (k = 0; k < m; k++) {
            for (uint32_t i = 0; i < n; i++) {
                nx_postings *p = cur[i].p;
                if (at[i][k] >= p->n_in_block) return S->rc; /* damaged freqs ended it */
                nx_postings_seek_in_block(p, at[i][k]);
            }
            bool matched = phr_count(it) > 0;
            if (it->rc) return S->rc;
            if (matched) R->total += !deletions || nx_segment_is_live(seg, cand[k]);
        }
        target = up + 1;
    }
    return S->rc;
}

/* Counts the live matches of an iterator, without scores or facets. A
 * single term in a segment without deletions is its df; an OR of terms is
 * counted window by window in a bitset (each postings list is walked once,
 * no per-document minimum over the lists); anything else doc by doc. */
static int run_count(run *R, uint32_t si, sit *root) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    bool deletions = nx_segment_live_count(seg) != nx_segment_doc_count(seg);
    if (root->ops->kind == SIT_TERM && !deletions) {
        R->total += ((pt_it *)root)->df;
        return 0;
    }
    if (and_of_terms(root)) return run_count_and(R, si, (and_it *)root);
    if (root->ops->kind == SIT_PHRASE) return run_count_phrase(R, si, (phr_it *)root);
    bool all_pt = root->ops->kind == SIT_OR || root->ops->kind == SIT_OR_HEAP;
    if (all_pt) {
        or_it *o = (or_it *)root;
        for (uint32_t i = 0; i < o->n && all_pt; i++) all_pt = o->c[i]->ops->kind == SIT_TERM;
    }
    if (!all_pt) {
        for (uint32_t d = root->doc; d != NX_NO_DOC; d = sit_next(root))
            R->total += !deletions || nx_segment_is_live(seg, d);
        return S->rc;
    }
    enum { WINDOW = 8192 };
    uint64_t bits[WINDOW / 64];
    or_it *o = (or_it *)root;
    uint64_t base = o->base.doc;
    while (base < NX_NO_DOC) {
        uint64_t end = base + WINDOW, next_base = NX_NO_DOC;
        memset(bits, 0, sizeof bits);
        for (uint32_t i = 0; i < o->n; i++) {
            nx_postings *p = &((pt_it *)o->c[i])->p;
            uint32_t d = p->doc;
            while (d < end) {
                uint32_t x = (uint32_t)(d - base);
                bits[x >> 6] |= (uint64_t)1 << (x & 63);
                d = nx_postings_next(p);
            }
            if (d < next_base) next_base = d;
        }
        if (!deletions) {
            for (size_t w = 0; w < WINDOW / 64; w++) R->total += (uint64_t)__builtin_popcountll(bits[w]);
        } else {
            for (size_t w = 0; w < WINDOW / 64; w++)
                for (uint64_t b = bits[w]; b; b &= b - 1)
                    R->total += nx_segment_is_live(seg, (uint32_t)(base + w * 64 + (uint64_t)__builtin_ctzll(b)));
        }
        base = next_base;
    }
    return 0;
}

static int close_and_rebuild(search *S, uint32_t si, const pnode *root, sit **it);

/* Sorting by date without facets. Doc ids are in date order inside a
 * segment (undated first), so:
 *  - oldest first: matches arrive in key order; once a dated match cannot
 *    enter the full heap, no later one can: stop;
 *  - newest first: the segment is searched backwards in chunks of doc ids
 *    (1024, then doubling), rebuilding the iterators for each chunk; once
 *    the heap is full and a chunk's newest date is older than the heap's
 *    oldest, every earlier doc is older still: stop.
 * Only heap candidates are scored. The total is the number of matches
 * visited (a lower bound); the caller counts exactly when asked. */
static int run_by_date(run *R, uint32_t si, const pnode *root, sit *it) {
    search *S = R->S;
    const nx_segment *seg = S->snap->segments[si];
    const newsidx_search_options *o = S->o;
    topk *T = R->T;
    if (o->sort == NEWSIDX_SORT_DATE_ASC) {
        for (uint32_t d = it->doc; d != NX_NO_DOC; d = sit_next(it)) {
            if (!nx_segment_is_live(seg, d)) continue;
            R->total++;
            hit_entry e = {0, date_key(o, seg, d), si, d};
            if (!topk_wants(T, &e)) {
                if (nx_segment_date(seg, d) != NX_NO_DATE) break;
                continue;
            }
            e.score = it->ops->score(it);
            if (R->halflife_s > 0) e.score *= recency(R, seg, d);
            topk_push(T, &e);
        }
        return S->rc;
    }
    uint32_t hi = nx_segment_doc_count(seg), chunk = 1024;
    bool first = true;
    while (hi > 0) {
        if (topk_full(T)) {
            int64_t newest = nx_segment_date(seg, hi - 1);
            int64_t key = newest == NX_NO_DATE ? INT64_MIN : newest;
            if (key < T->h[0].key) break;
        }
        uint32_t lo = hi > chunk ? hi - chunk : 0;
        if (!first) NX_FORWARD(close_and_rebuild(S, si, root, &it));
        first = false;
        for (uint32_t d = sit_advance(it, lo); d < hi; d = sit_next(it)) {
            if (!nx_segment_is_live(seg, d)) continue;
            R->total++;
            hit_entry e = {0, date_key(o, seg, d), si, d};
            if (!topk_wants(T, &e)) continue;
            e.score = it->ops->score(it);
            if (R->halflife_s > 0) e.score *= recency(R, seg, d);
            topk_push(T, &e);
        }
        NX_FORWARD(S->rc);
        hi = lo;
        if (chunk < (1u << 30)) chunk *= 2;
    }
    return S->rc;
}

static const char *find_stored(const newsidx_field *f, size_t n, const char *name, size_t *len) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0) {
            *len = f[i].value_len;
            return f[i].value;
        }
    return NULL;
}

static bool field_requested(const char *list, const char *name) {
    if (!list) return false;
    size_t nl = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && *p == ' ') p++, l--;
        while (l && p[l - 1] == ' ') l--;
        if ((l == 1 && *p == '*') || (l == nl && memcmp(p, name, l) == 0)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static int cmp_str(const void *a, const void *b) {
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

/* Fills res->hits from the heap: ids, stored fields, snippets. */
/* The sorted, unique words to highlight in snippets of one field. */
static int hl_set(search *S, int field, nx_hlterms *out) {
    const char **hl = salloc(S, (S->n_hl ? S->n_hl : 1) * sizeof *hl);
    uint32_t *hl_len = salloc(S, (S->n_hl ? S->n_hl : 1) * sizeof *hl_len);
    NX_RETURN_IF(!hl || !hl_len, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < S->n_hl; i++)
        if (S->hl_fields[i] & NXQ_FIELD_BIT(field)) hl[n++] = S->hl[i];
    qsort(hl, n, sizeof *hl, cmp_str);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (k == 0 || strcmp(hl[k - 1], hl[i]) != 0) hl[k++] = hl[i];
    for (uint32_t i = 0; i < k; i++) hl_len[i] = (uint32_t)strlen(hl[i]);
    *out = (nx_hlterms){hl, hl_len, k};
    return 0;
}

static int fill_hits(search *S, topk *T, newsidx_results *res) {
    const newsidx_search_options *o = S->o;
    /* heap -> best first */
    uint32_t n = T->n;
    for (uint32_t end = n; end > 1; end--) {
        hit_entry x = T->h[0];
        T->h[0] = T->h[end - 1];
        T->h[end - 1] = x;
        T->n = end - 1;
        topk_sift_down(T, 0);
    }
    T->n = n; /* heapsort of a min-heap by "worse": h[0] is now the best */
    uint32_t skip = o->offset < n ? o->offset : n;
    res->n_hits = n - skip;
    if (res->n_hits == 0) return 0;
    res->hits = nx_arena_alloc(&res->arena, res->n_hits * sizeof *res->hits);
    NX_RETURN_IF(!res->hits, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(res->hits, 0, res->n_hits * sizeof *res->hits);

    bool want_stored = (o->fields && *o->fields) || o->snippets > 0;
    nx_docstore_scratch scratch;
    nx_docstore_scratch_init(&scratch);
    newsidx_analyzer *an = NULL;
    nx_hlterms ht_body = {0}, ht_title = {0};
    int rc = 0;
    if (o->snippets > 0) {
        newsidx_analyzer_options ao;
        newsidx_analyzer_options_init(&ao);
        ao.stem_language = S->q->stem_language;
        ao.stopwords_language = S->q->stopwords_language;
        rc = newsidx_analyzer_create(&ao, &an);
        if (rc) {
            nx_err_set(&S->err, rc, "cannot create the analyzer for snippets");
            goto done;
        }
        rc = hl_set(S, NX_F_BODY, &ht_body);
        if (rc == 0) rc = hl_set(S, NX_F_TITLE, &ht_title);
        if (rc) goto done;
    }
    for (size_t i = 0; i < res->n_hits; i++) {
        const hit_entry *e = &T->h[skip + i];
        const nx_segment *seg = S->snap->segments[e->seg];
        hit *h = &res->hits[i];
        size_t id_len;
        const char *id = nx_segment_id(seg, e->doc, &id_len);
        h->id = nx_arena_alloc(&res->arena, id_len + 1);
        if (!h->id) {
            rc = nx_err_set(&S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            goto done;
        }
        memcpy(h->id, id, id_len);
        h->id[id_len] = '\0';
        h->score = e->score;
        if (!want_stored) continue;
        const newsidx_field *sf;
        size_t nsf;
        rc = nx_segment_stored(seg, e->doc, &scratch, &S->err, &sf, &nsf);
        if (rc < 0) goto done;
        size_t nreq = 0;
        for (size_t j = 0; j < nsf; j++) nreq += field_requested(o->fields, sf[j].name);
        if (nreq) {
            h->fields = nx_arena_alloc(&res->arena, nreq * sizeof *h->fields);
            if (!h->fields) {
                rc = nx_err_set(&S->err, NEWSIDX_ERR_NOMEM, "out of memory");
                goto done;
            }
            for (size_t j = 0; j < nsf; j++) {
                if (!field_requested(o->fields, sf[j].name)) continue;
                size_t nl = strlen(sf[j].name);
                char *name = nx_arena_alloc(&res->arena, nl + 1);
                char *val = nx_arena_alloc(&res->arena, sf[j].value_len + 1);
                if (!name || !val) {
                    rc = nx_err_set(&S->err, NEWSIDX_ERR_NOMEM, "out of memory");
                    goto done;
                }
                memcpy(name, sf[j].name, nl + 1);
                memcpy(val, sf[j].value, sf[j].value_len);
                val[sf[j].value_len] = '\0';
                h->fields[h->n_fields++] = (newsidx_field){name, val, sf[j].value_len};
            }
        }
        if (o->snippets > 0) {
            size_t blen = 0;
            const char *fname = "body";
            const nx_hlterms *ht = &ht_body;
            const char *text = find_stored(sf, nsf, "body", &blen);
            if (!text || blen == 0) {
                fname = "title";
                ht = &ht_title;
                text = find_stored(sf, nsf, "title", &blen);
            }
            if (text && blen) {
                rc = nx_snippets_make(an, ht, text, blen, fname, o->snippets,
                                      o->snippet_bytes ? o->snippet_bytes : 200, &res->arena,
                                      &h->snippets, &h->n_snippets);
                if (rc < 0) {
                    nx_err_set(&S->err, rc, "cannot make snippets");
                    goto done;
                }
            }
        }
    }
done:
    newsidx_analyzer_free(an);
    nx_docstore_scratch_free(&scratch);
    return rc;
}

static int cmp_facet_count(const void *a, const void *b) {
    const facet_val *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->label, y->label);
}
static int cmp_month(const void *a, const void *b) {
    const month_count *x = a, *y = b;
    return x->month < y->month ? -1 : x->month > y->month;
}

static int fill_facets(search *S, facets *F, newsidx_results *res) {
    if (F->want & NEWSIDX_FACET_SOURCE && F->n_src) {
        facet_val *v = nx_arena_alloc(&res->arena, F->n_src * sizeof *v);
        NX_RETURN_IF(!v, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        size_t k = 0;
        for (uint32_t i = 0; i < F->cap_src; i++)
            if (F->src_hash[i]) {
                size_t l = strlen(F->src[i].label);
                char *s = nx_arena_alloc(&res->arena, l + 1);
                NX_RETURN_IF(!s, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
                memcpy(s, F->src[i].label, l + 1);
                v[k++] = (facet_val){s, F->src[i].count};
            }
        qsort(v, k, sizeof *v, cmp_facet_count);
        res->facet[0] = v;
        res->n_facet[0] = k;
    }
    if (F->n_months) {
        qsort(F->months, F->n_months, sizeof *F->months, cmp_month);
        facet_val *mv = nx_arena_alloc(&res->arena, F->n_months * sizeof *mv);
        facet_val *yv = nx_arena_alloc(&res->arena, F->n_months * sizeof *yv);
        NX_RETURN_IF(!mv || !yv, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        size_t ny = 0;
        for (uint32_t i = 0; i < F->n_months; i++) {
            int64_t y = floor_div(F->months[i].month, 12);
            int m = (int)(F->months[i].month - y * 12) + 1;
            char *ml = nx_arena_alloc(&res->arena, 48);
            NX_RETURN_IF(!ml, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            snprintf(ml, 48, "%04lld-%02d", (long long)y, m);
            mv[i] = (facet_val){ml, F->months[i].count};
            if (ny && floor_div(F->months[i - 1].month, 12) == y) {
                yv[ny - 1].count += F->months[i].count;
            } else {
                char *yl = nx_arena_alloc(&res->arena, 24);
                NX_RETURN_IF(!yl, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
                snprintf(yl, 24, "%04lld", (long long)y);
                yv[ny++] = (facet_val){yl, F->months[i].count};
            }
        }
        if (F->want & NEWSIDX_FACET_MONTH) {
            res->facet[2] = mv;
            res->n_facet[2] = F->n_months;
        }
        if (F->want & NEWSIDX_FACET_YEAR) {
            res->facet[1] = yv;
            res->n_facet[1] = ny;
        }
    }
    return 0;
}

static int close_and_rebuild(search *S, uint32_t si, const pnode *root, sit **it) {
    close_positions(S);
    nx_arena_reset(&S->seg_arena);
    return build(S, si, root, it);
}

static int do_search(search *S, newsidx_results *res) {
    const newsidx_search_options *o = S->o;
    const nx_snapshot *snap = S->snap;
    for (int f = 0; f < NX_N_FIELDS; f++)
        S->field_weight[f] = f == NX_F_TITLE ? o->title_weight : f == NX_F_BODY ? o->body_weight : 1.0;
    pnode *root;
    NX_FORWARD(plan(S, S->q->root, true, &root));

    uint64_t want = (uint64_t)o->k + o->offset;
    NX_RETURN_IF(want > NX_MAX_HITS, &S->err, NEWSIDX_ERR_LIMIT,
                 "k + offset (%llu) is more than %u", (unsigned long long)want, NX_MAX_HITS);
    topk T = {0};
    T.by_date = o->sort == NEWSIDX_SORT_DATE_DESC || o->sort == NEWSIDX_SORT_DATE_ASC;
    T.cap = o->count_only ? 0 : (uint32_t)want;
    if (T.cap) {
        T.h = salloc(S, T.cap * sizeof *T.h);
        NX_RETURN_IF(!T.h, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    facets F = {0};
    F.want = o->facets & (NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH);
    run R = {S, &T, &F, 0, 0, 0};
    if (o->recency_halflife_days > 0) {
        R.halflife_s = o->recency_halflife_days * 86400.0;
        int64_t newest = NX_NO_DATE;
        for (uint32_t s = 0; s < snap->n_segments; s++) {
            uint32_t n = nx_segment_doc_count(snap->segments[s]);
            if (n && nx_segment_date(snap->segments[s], n - 1) > newest)
                newest = nx_segment_date(snap->segments[s], n - 1);
        }
        R.now = newest == NX_NO_DATE ? 0 : (double)newest;
    }
    /* Ranked OR and single terms use block-max pruning for the top k; when
     * the exact total is wanted too, a separate counting pass (never
     * scoring) follows: cheaper than scoring every match. Facets need every
     * match: exhaustive. */
    bool pruning = !o->no_pruning && !o->count_only && !T.by_date && !F.want && T.cap > 0;
    for (uint32_t si = 0; si < snap->n_segments; si++) {
        const nx_segment *seg = snap->segments[si];
        sit *it;
        S->counting = o->count_only || T.cap == 0;
        int rc = build(S, si, root, &it);
        if (rc == 0 && F.want & NEWSIDX_FACET_SOURCE) {
            uint32_t ns = nx_segment_source_count(seg) + 1;
            F.seg_src = nx_arena_alloc(&S->seg_arena, ns * sizeof *F.seg_src);
            if (!F.seg_src) rc = nx_err_set(&S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            else memset(F.seg_src, 0, ns * sizeof *F.seg_src);
        }
        if (rc == 0 && it->doc != NX_NO_DOC) {
            bool ranked_or = it->ops->kind == SIT_OR || it->ops->kind == SIT_TERM;
            if (pruning && ranked_or) {
                uint64_t before = R.total;
                if (it->ops->kind == SIT_OR) {
                    or_it *o2 = (or_it *)it;
                    rc = run_maxscore(&R, si, o2->c, o2->n, o2->boost);
                } else {
                    rc = run_bmw_one(&R, si, (pt_it *)it);
                }
                if (rc == 0 && o->exact_total) {
                    /* count on fresh iterators */
                    R.total = before;
                    S->counting = true;
                    rc = close_and_rebuild(S, si, root, &it);
                    if (rc == 0) rc = run_count(&R, si, it);
                }
            } else if (pruning && !o->exact_total &&
                       (it->ops->kind == SIT_AND || it->ops->kind == SIT_PHRASE)) {
                /* (with an exact total, one exhaustive pass is cheaper than
                 * a pruned pass plus a counting pass that leapfrogs again) */
                rc = and_of_terms(it) ? run_blockmax_and(&R, si, (and_it *)it)
                                      : run_blockmax(&R, si, it);
            } else if ((o->count_only || T.cap == 0) && !F.want) {
                rc = run_count(&R, si, it);
            } else if (T.by_date && !F.want) {
                /* newest or oldest first, using the date order of doc ids */
                uint64_t before = R.total;
                rc = run_by_date(&R, si, root, it);
                if (rc == 0 && o->exact_total) {
                    R.total = before;
                    S->counting = true;
                    rc = close_and_rebuild(S, si, root, &it);
                    if (rc == 0) rc = run_count(&R, si, it);
                }
            } else {
                rc = run_exhaustive(&R, si, it);
            }
        }
        if (rc == 0 && F.want & NEWSIDX_FACET_SOURCE) rc = facet_source_merge(S, &F, seg);
        close_positions(S);
        nx_arena_reset(&S->seg_arena);
        if (rc) return rc;
    }
    res->total = R.total;
    if (res->total < T.n) res->total = T.n;
    NX_FORWARD(fill_facets(S, &F, res));
    return fill_hits(S, &T, res);
}

int newsidx_search(const newsidx_reader *r, const newsidx_query *q,
                   const newsidx_search_options *opts, newsidx_results **out) {
    if (out) *out = NULL;
    if (!r || !q || !out) return NEWSIDX_ERR_INVALID;
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    if (opts) {
        if (opts->size < sizeof o) return NEWSIDX_ERR_INVALID;
        o = *opts;
    }
    nx_err err = {0};
    if (o.sort < NEWSIDX_SORT_SCORE || o.sort > NEWSIDX_SORT_DATE_ASC)
        nx_err_set(&err, NEWSIDX_ERR_INVALID, "unknown sort %d", o.sort);
    else if (!(o.title_weight >= 0) || !(o.body_weight >= 0))
        nx_err_set(&err, NEWSIDX_ERR_INVALID, "field weights must be >= 0");
    if (err.code) {
        nx_err_copy(&err, o.errbuf, o.errbuf_size);
        return err.code;
    }
    newsidx_results *res = calloc(1, sizeof *res);
    if (!res) {
        nx_err_set(&err, NEWSIDX_ERR_NOMEM, "out of memory");
        nx_err_copy(&err, o.errbuf, o.errbuf_size);
        return NEWSIDX_ERR_NOMEM;
    }
    res->arena.chunk_bytes = 16384;
    nx_arena arena = {0};
    search S = {0};
    S.snap = nx_reader_snapshot(r);
    S.o = &o;
    S.q = q;
    S.arena = &arena;
    S.seg_arena.chunk_bytes = 65536;
    int rc = do_search(&S, res);
    nx_arena_reset(&S.seg_arena);
    nx_arena_reset(&arena);
    if (rc) {
        if (!S.err.code) nx_err_set(&S.err, rc, "%s", newsidx_strerror(rc));
        nx_err_copy(&S.err, o.errbuf, o.errbuf_size);
        newsidx_results_free(res);
        return rc;
    }
    *out = res;
    return NEWSIDX_OK;
}
