/* search/exec.h — what the executor's files share: the per-segment
 * iterators (iter.c, phrase.c), the plan and the search state (plan.c), the
 * top-k heap and facets (collect.c), the runs that drive an iterator over a
 * segment (rank.c ranks, count.c counts) and the results (results.c).
 * search.c chooses a run per segment. Semantics and formulas:
 * docs/QUERY.md.
 *
 * Memory: everything a search needs lives in two arenas (one for the whole
 * search, one reset per segment for iterators) plus the results' own arena;
 * nothing is allocated per posting or per matching document, and nothing in
 * proportion to the index size (per-segment facet counters are sized by the
 * number of distinct sources). The reader is only read, so any number of
 * threads may search it at once. */
#ifndef NX_SEARCH_EXEC_H
#define NX_SEARCH_EXEC_H

#include "search/search.h"

#include <math.h>
#include <string.h>

/* ---- iterators -----------------------------------------------------------
 * Every iterator is positioned on its first match once built (a phrase
 * built with a floor: its first match that could reach it); doc is
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

/* A bound computed by a different summation order than the exact score
 * may differ from it in the last bits: bounds are inflated by this factor
 * before they are compared with the heap's minimum. */
#define NX_BOUND_SLACK (1.0 + 1e-9)

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
    double floor;             /* top-k pruning at the top (nx_run_blockmax): a doc scoring
                               * below this cannot enter the heap (one equal to it may,
                               * by the tie key); 0 = none */
    bool skip_windows;        /* seeking the first match that may reach a floor given at build */
    uint32_t win_from, win_end; /* the last window phr_shallow found reaching the floor */
    uint64_t bitmap[PHRASE_BITMAP_BITS / 64]; /* two-word phrases: zero between docs */
    int rc;                   /* sticky corruption error */
} phr_it;

/* Sums of children's scores are always taken in the children's order in
 * the plan (an OR's c as built, an AND's query order), never in an order
 * that depends on the segment (costs, block bounds, a heap's layout): a
 * floating-point sum in another order may differ in the last bit, and that
 * bit would then decide the order of two articles that tie (docs/QUERY.md,
 * "Ties"). */

/* -- disjunction: sum of the matching children's scores -- */
typedef struct or_it {
    sit base;
    sit **c;
    uint32_t n;
    double boost;
    /* the heap form (SIT_OR_HEAP): rank[i] is c[i]'s place as built (the
     * heap moves c), and the matching children's ranks and scores are
     * gathered in m_rank, m_score to be summed in that order */
    uint32_t *rank, *m_rank;
    double *m_score;
} or_it;

/* -- conjunction with exclusions: leapfrog over the positive children
 * (cheapest first), then each negated child is advanced to the candidate -- */
typedef struct and_it {
    sit base;
    sit **pos;
    uint32_t n_pos;
    const uint32_t *score_order; /* pos[score_order[0]], pos[score_order[1]] ...: the
                                  * positive children in query order, the order their
                                  * scores are summed in */
    sit **neg;
    uint32_t n_neg;
    double boost;
} and_it;

/* ---- the nx_plan: the query tree with global statistics resolved ----------- */

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

/* A word to highlight and the fields (NXQ_FIELD_BIT mask) it was searched
 * in. */
typedef struct hl_word {
    const char *text;
    uint32_t fields;
} hl_word;

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
    hl_word *hl;
    uint32_t n_hl, cap_hl;
    int rc;              /* sticky error raised inside iterators */
    /* position iterators of the current segment: closed before the segment
     * arena is reset (a long document grows their position buffer) */
    nx_postings **with_pos;
    uint32_t n_with_pos, cap_with_pos;
    bool counting;       /* iterators being built will never be scored */
    const pnode *root;   /* the plan's root */
    double root_floor;   /* > 0: the heap's minimum, when a phrase root will be
                          * ranked by nx_run_blockmax (its first match is sought
                          * at or above it) */
    char notice[192];    /* a prefix or fuzzy expansion that was cut */
} search;

static inline void *salloc(search *S, size_t n) { return nx_arena_alloc(S->arena, n); }

/* Room for one more element in arr (n of *cap elements of `size` bytes, in
 * the search arena): arr itself, or a copy twice as large (`first` the
 * first time); NULL when out of memory (arr and *cap unchanged). */
static inline void *sgrow(search *S, void *arr, uint32_t n, uint32_t *cap, size_t size,
                          uint32_t first) {
    if (n < *cap) return arr;
    uint32_t c = *cap ? *cap * 2 : first;
    void *a = salloc(S, c * size);
    if (!a) return NULL;
    if (n) memcpy(a, arr, n * size);
    *cap = c;
    return a;
}

/* ---- top-k heap ---------------------------------------------------------- */

typedef struct hit_entry {
    double score;
    int64_t key;    /* date sort: the date key (date_key: larger is better); by score:
                     * the date, the first tie key (newer is better, NX_NO_DATE is
                     * INT64_MIN: undated last) */
    uint32_t seg, doc;
} hit_entry;

typedef struct topk {
    hit_entry *h;
    uint32_t n, cap;
    bool by_date;
    bool sorted;     /* h is in rank order, no longer a heap (nx_topk_sort) */
    uint32_t *hidden; /* collapse: per kept hit, the near-duplicates it hides */
    const nx_snapshot *snap; /* where the last tie key, the id, is read */
} topk;

/* Hits equal on score and date are ordered by their ids, never by where
 * they are stored, so a ranking does not depend on how the articles were
 * split into segments or in which order they were added (docs/QUERY.md,
 * "Ties"). Out of line: only exact ties pay for reading the ids. */
bool nx_tie_better(const topk *t, const hit_entry *a, const hit_entry *b);

/* true when a ranks before b: a strict total order over distinct hits. By
 * score: score, then date (key); by date: the date key, then score; then
 * the id. */
static inline bool better(const topk *t, const hit_entry *a, const hit_entry *b) {
    if (t->by_date) {
        if (a->key != b->key) return a->key > b->key;
        if (a->score != b->score) return a->score > b->score;
    } else {
        if (a->score != b->score) return a->score > b->score;
        if (a->key != b->key) return a->key > b->key;
    }
    return nx_tie_better(t, a, b);
}

static inline bool topk_full(const topk *t) { return t->n == t->cap; }

/* Would e enter the heap? A hit equal to the heap's minimum on score (or
 * date) may still enter by the tie key, so every pruning test that skips
 * what "cannot win" skips only what scores strictly below the minimum. */
static inline bool topk_wants(const topk *t, const hit_entry *e) {
    return t->cap > 0 && (!topk_full(t) || better(t, e, &t->h[0]));
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

/* ---- results ------------------------------------------------------------- */

typedef struct hit {
    char *id;
    double score;
    uint32_t hidden; /* near-duplicates collapsed into it */
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
    char *notice;        /* in the arena: the query's notice and the search's */
};

/* ---- the search ---------------------------------------------------------- */

typedef struct run_ctx {
    search *S;
    topk *T;
    facets *F;
    uint64_t total;
    double now;          /* recency reference: newest date in the index */
    double halflife_s;   /* 0: no recency boost */
    /* the segment being run (run_set_segment) */
    uint32_t si;
    const nx_segment *seg;
    bool deletions;      /* some of its docs are deleted */
} run_ctx;

/* Points R at segment si before a run. */
static inline void run_set_segment(run_ctx *R, uint32_t si) {
    R->si = si;
    R->seg = R->S->snap->segments[si];
    R->deletions = nx_segment_live_count(R->seg) != nx_segment_doc_count(R->seg);
}

/* score * 1 / (1 + age / halflife); undated articles count as one
 * half-life old (factor 0.5). The factor is <= 1, so block-max bounds stay
 * valid. */
static inline double recency(const run_ctx *R, const nx_segment *seg, uint32_t doc) {
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

void nx_topk_push(topk *t, const hit_entry *e);

/* The tail of every ranked run: doc (of R's segment) with its score, times
 * the recency factor, into the heap if it ranks among the best k. Returns
 * whether it entered. */
static inline bool offer_hit(run_ctx *R, uint32_t doc, double score) {
    topk *T = R->T;
    hit_entry e = {score, 0, R->si, doc};
    if (R->halflife_s > 0) e.score *= recency(R, R->seg, doc);
    /* most offers end here, before the date is read */
    if (T->cap == 0 || (topk_full(T) && e.score < T->h[0].score)) return false;
    e.key = nx_segment_date(R->seg, doc);
    if (!topk_wants(T, &e)) return false;
    nx_topk_push(T, &e);
    return true;
}

/* offer_hit by date: the date decides whether doc enters, so it is scored
 * (it is the iterator on it) only when it does or when its date equals the
 * heap's oldest (the score breaks that tie). */
static inline bool offer_dated(run_ctx *R, uint32_t doc, sit *it) {
    topk *T = R->T;
    hit_entry e = {0, date_key(R->S->o, R->seg, doc), R->si, doc};
    if (T->cap == 0 || (topk_full(T) && e.key < T->h[0].key)) return false;
    e.score = it->ops->score(it);
    if (R->halflife_s > 0) e.score *= recency(R, R->seg, doc);
    if (!topk_wants(T, &e)) return false;
    nx_topk_push(T, &e);
    return true;
}

/* ---- functions ------------------------------------------------------------ */

/* iter.c: iterators of one segment, allocated in S->seg_arena. The
 * constructors report errors in S->err. */
sit *nx_it_none(search *S);
sit *nx_it_range(search *S, uint32_t first, uint32_t end);
/* The length-norm table of field f: k1 * (1 - b + b * len / avglen) per
 * norm byte, computed on first use. */
const double *nx_k_norm(search *S, int f);
/* One (field, term) list of segment si; *out = NULL when it is not there. */
int nx_it_term(search *S, uint32_t si, const fterm *f, double boost, sit **out);
/* An OR over list (NULL and exhausted entries skipped; plain ORs spliced). */
int nx_it_or(search *S, sit **list, uint32_t n, double boost, sit **out);
/* An AND of pos[0, n_pos) (cheapest first) excluding neg[0, n_neg); max is
 * the sum of the positive children's max_score; score_order (n_pos, kept
 * by the iterator) lists pos's indices in the query's order. */
int nx_it_and(search *S, sit **pos, uint32_t n_pos, const uint32_t *score_order, sit **neg,
              uint32_t n_neg, double max, double boost, sit **out);
/* shallow() of a term iterator, callable directly by the block-max runs. */
uint32_t nx_term_shallow(sit *s, uint32_t t, double *bound);

/* phrase.c */
/* The phrase or proximity p in field slot fi of segment si; *out = NULL
 * when a word is not there. floor > 0 (only for a phrase that is the whole
 * query, ranked by nx_run_blockmax): docs that cannot reach it are skipped
 * from the start. */
int nx_it_phrase(search *S, uint32_t si, const pnode *p, uint32_t fi, double floor, sit **out);
/* Phrase occurrences or proximity windows in the current doc (every word's
 * list is on it); 0 with it->rc set when positions are corrupt. */
uint32_t nx_phrase_count(phr_it *it);

/* plan.c */
/* Resolves the query tree: terms looked up in every segment, prefixes and
 * fuzzy words expanded, global statistics and highlight terms gathered. */
int nx_plan(search *S, const nx_qnode *q, bool positive, pnode **out);
/* The iterator tree of p over segment si (never NULL on success). */
int nx_build(search *S, uint32_t si, const pnode *p, sit **out);
/* Closes the position iterators of the current segment (before its arena
 * is reset). */
void nx_close_positions(search *S);
/* Fresh iterators for segment si: the old ones closed, the arena reset. */
int nx_rebuild(search *S, uint32_t si, const pnode *root, sit **it);

/* collect.c */
void nx_topk_sift_down(topk *t, uint32_t i);
/* Counts a live match and adds it to the facets. */
int nx_count_match(run_ctx *R, const nx_segment *seg, uint32_t doc);
/* Adds the segment's per-source counts to the source facet. */
int nx_facet_source_merge(search *S, facets *F, const nx_segment *seg);
/* The facets into res, sorted: sources by count, months and years by date. */
int nx_fill_facets(search *S, facets *F, newsidx_results *res);

/* results.c: res->hits from the heap: ids, stored fields, snippets. */
int nx_fill_hits(search *S, topk *T, newsidx_results *res);
/* Puts the heap's hits in rank order (best first); idempotent. */
void nx_topk_sort(topk *T);
/* Collapse (collapse.c): with T's candidates in rank order, keeps the first
 * of each near-duplicate group, at most want of them, at T->h[0 ..), with
 * their hidden counts in T->hidden (allocated from S). Returns 1 when the
 * kept hits are final (want of them, or T held every match), 0 when more
 * candidates are needed, or an error. */
int nx_collapse(search *S, topk *T, uint32_t want);

/* rank.c: the top k of R's segment (and the matches visited in R->total). */
int nx_run_exhaustive(run_ctx *R, sit *root);
int nx_run_maxscore(run_ctx *R, sit **its, uint32_t n, double boost);
int nx_run_term(run_ctx *R, pt_it *it);
int nx_run_blockmax_and(run_ctx *R, and_it *a);
int nx_run_blockmax(run_ctx *R, sit *root);
int nx_run_by_date(run_ctx *R, const pnode *root, sit *it);

/* count.c: the live matches of R's segment into R->total. */
int nx_run_count(run_ctx *R, sit *root);

#endif
