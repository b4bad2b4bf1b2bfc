/* search/search — executes a parsed query on a reader's snapshot: plans it
 * (plan.c), then for each segment builds the iterators and chooses how to
 * run them (rank.c for the top k, count.c for exact counts), and makes the
 * results (results.c, collect.c). The files' roles and what they share are
 * in exec.h; docs/QUERY.md has the semantics and the formulas. */
#include "search/exec.h"
#include "search/intersect.h"

#include <stdlib.h>

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
    o->max_result_bytes = NX_DEFAULT_RESULT_BYTES;
}

/* How a segment is run, chosen from the options and the kind of its
 * iterator tree. */
enum strategy {
    RUN_EXHAUSTIVE,   /* every match: counted, faceted, scored */
    RUN_COUNT,        /* every match counted, none scored */
    RUN_MAXSCORE,     /* a ranked OR, block-max MaxScore */
    RUN_TERM,         /* a single term, block-max */
    RUN_BLOCKMAX_AND, /* an AND of plain terms, block-max on their blocks */
    RUN_BLOCKMAX,     /* any other node (AND, phrase), block-max on shallow() */
    RUN_BY_DATE,      /* newest or oldest first, from the date order of doc ids */
};

/* Ranked OR and single terms use block-max pruning for the top k; when the
 * exact total is wanted too, a separate counting pass (never scoring)
 * follows: cheaper than scoring every match. An AND or a phrase is pruned
 * only when the total is not wanted: one exhaustive pass is cheaper than a
 * pruned pass plus a counting pass that leapfrogs again. Facets need every
 * match: exhaustive. */
static bool may_prune(const search *S, const topk *T, const facets *F) {
    const newsidx_search_options *o = S->o;
    return !o->no_pruning && !o->count_only && !T->by_date && !F->want && T->cap > 0;
}

static enum strategy choose_run(const search *S, const topk *T, const facets *F, const sit *it) {
    const newsidx_search_options *o = S->o;
    bool pruning = may_prune(S, T, F);
    enum sit_kind kind = it->ops->kind;
    if (pruning && kind == SIT_OR) return RUN_MAXSCORE;
    if (pruning && kind == SIT_TERM) return RUN_TERM;
    if (pruning && !o->exact_total && kind == SIT_AND)
        return and_of_terms(it) ? RUN_BLOCKMAX_AND : RUN_BLOCKMAX;
    if (pruning && !o->exact_total && kind == SIT_PHRASE) return RUN_BLOCKMAX;
    if ((o->count_only || T->cap == 0) && !F->want) return RUN_COUNT;
    if (T->by_date && !F->want) return RUN_BY_DATE;
    return RUN_EXHAUSTIVE;
}

/* Runs R's segment, whose iterator tree (of root) is it. */
static int run_segment(run_ctx *R, const pnode *root, sit *it) {
    search *S = R->S;
    enum strategy how = choose_run(S, R->T, R->F, it);
    uint64_t before = R->total;
    int rc = 0;
    switch (how) {
    case RUN_EXHAUSTIVE: rc = nx_run_exhaustive(R, it); break;
    case RUN_COUNT: rc = nx_run_count(R, it); break;
    case RUN_MAXSCORE: {
        or_it *o = (or_it *)it;
        rc = nx_run_maxscore(R, o->c, o->n, o->boost);
        break;
    }
    case RUN_TERM: rc = nx_run_term(R, (pt_it *)it); break;
    case RUN_BLOCKMAX_AND: rc = nx_run_blockmax_and(R, (and_it *)it); break;
    case RUN_BLOCKMAX: rc = nx_run_blockmax(R, it); break;
    case RUN_BY_DATE: rc = nx_run_by_date(R, root, it); break;
    }
    /* the runs that skip what cannot enter the heap leave a lower bound:
     * the exact total is counted again on fresh iterators */
    bool partial = how == RUN_MAXSCORE || how == RUN_TERM || how == RUN_BY_DATE;
    if (rc == 0 && partial && S->o->exact_total) {
        R->total = before;
        S->counting = true;
        rc = nx_rebuild(S, R->si, root, &it);
        if (rc == 0) rc = nx_run_count(R, it);
    }
    return rc;
}

/* The date recency is measured from: the newest date in the index. */
static double newest_date(const nx_snapshot *snap) {
    int64_t newest = NX_NO_DATE;
    for (uint32_t s = 0; s < snap->n_segments; s++) {
        uint32_t n = nx_segment_doc_count(snap->segments[s]);
        if (n && nx_segment_date(snap->segments[s], n - 1) > newest)
            newest = nx_segment_date(snap->segments[s], n - 1);
    }
    return newest == NX_NO_DATE ? 0 : (double)newest;
}

static int run_segments(search *S, const pnode *root, uint32_t cap, topk *T, facets *F,
                        run_ctx *R);

/* When only the count of a word query is wanted and segment si has no
 * deletions, a word found in one field of it counts its df there, and one
 * found in none counts nothing: no postings are opened (what a segment
 * costs then is its dictionary probes, for a set of indexes once per
 * member's segment). Returns false when the lists must be walked (the word
 * is in several fields: their union is counted doc by doc). */
static bool count_by_df(run_ctx *R, const pnode *root) {
    const search *S = R->S;
    if (R->F->want || !(S->o->count_only || R->T->cap == 0) || R->deletions) return false;
    if (root->kind != NXQ_TERM && root->kind != NXQ_PREFIX && root->kind != NXQ_FUZZY) return false;
    const fterm *only = NULL;
    for (uint32_t i = 0; i < root->n_ft; i++) {
        if (!root->ft[i]->found[R->si]) continue;
        if (only) return false;
        only = root->ft[i];
    }
    if (only) R->total += only->info[R->si].df;
    return true;
}

static int do_search(search *S, newsidx_results *res) {
    const newsidx_search_options *o = S->o;
    for (int f = 0; f < NX_N_FIELDS; f++)
        S->field_weight[f] = f == NX_F_TITLE ? o->title_weight : f == NX_F_BODY ? o->body_weight : 1.0;
    pnode *root;
    NX_FORWARD(nx_plan(S, S->q->root, true, &root));
    S->root = root;

    uint64_t want = (uint64_t)o->k + o->offset;
    NX_RETURN_IF(want > NX_MAX_HITS, &S->err, NEWSIDX_ERR_LIMIT,
                 "k + offset (%llu) is more than %u", (unsigned long long)want, NX_MAX_HITS);
    /* collapsing ranks more candidates than it returns (collapse.c) */
    bool collapse = o->collapse_distance > 0 && !o->count_only && want > 0;
    uint64_t cap = collapse ? 2 * want : want;
    topk T;
    facets F;
    run_ctx R;
    for (;;) {
        NX_FORWARD(run_segments(S, root, (uint32_t)NX_MIN(cap, NX_MAX_HITS), &T, &F, &R));
        if (!collapse) break;
        int done = nx_collapse(S, &T, (uint32_t)want);
        if (done < 0) return done;
        if (done || cap >= NX_MAX_HITS) break;
        cap *= 4;
    }
    res->total = R.total;
    if (res->total < T.n) res->total = T.n;
    NX_FORWARD(nx_fill_facets(S, &F, res));
    return nx_fill_hits(S, &T, res);
}

/* Runs every segment into a top-cap heap T, facets F and the total of R. */
static int run_segments(search *S, const pnode *root, uint32_t cap, topk *T, facets *F,
                        run_ctx *R) {
    const newsidx_search_options *o = S->o;
    const nx_snapshot *snap = S->snap;
    memset(T, 0, sizeof *T);
    T->by_date = o->sort == NEWSIDX_SORT_DATE_DESC || o->sort == NEWSIDX_SORT_DATE_ASC;
    T->snap = snap;
    T->cap = o->count_only ? 0 : cap;
    if (T->cap) {
        T->h = salloc(S, T->cap * sizeof *T->h);
        NX_RETURN_IF(!T->h, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    memset(F, 0, sizeof *F);
    F->want = o->facets & (NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH);
    *R = (run_ctx){.S = S, .T = T, .F = F};
    if (o->recency_halflife_days > 0) {
        R->halflife_s = o->recency_halflife_days * 86400.0;
        R->now = newest_date(snap);
    }
    for (uint32_t si = 0; si < snap->n_segments; si++) {
        run_set_segment(R, si);
        if (count_by_df(R, root)) continue;
        sit *it;
        S->counting = o->count_only || T->cap == 0;
        /* the bound the segments before reached: a phrase ranked by
         * nx_run_blockmax seeks its first match above it (the conditions
         * are choose_run's for RUN_BLOCKMAX) */
        S->root_floor = may_prune(S, T, F) && !o->exact_total && topk_full(T) ? T->h[0].score : 0;
        int rc = nx_build(S, si, root, &it);
        if (rc == 0 && F->want & NEWSIDX_FACET_SOURCE) {
            uint32_t ns = nx_segment_source_count(R->seg) + 1;
            F->seg_src = nx_arena_alloc(&S->seg_arena, ns * sizeof *F->seg_src);
            if (!F->seg_src) rc = nx_err_set(&S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            else memset(F->seg_src, 0, ns * sizeof *F->seg_src);
        }
        if (rc == 0 && it->doc != NX_NO_DOC) rc = run_segment(R, root, it);
        if (rc == 0 && F->want & NEWSIDX_FACET_SOURCE) rc = nx_facet_source_merge(S, F, R->seg);
        nx_close_positions(S);
        nx_arena_reset(&S->seg_arena);
        /* damage met while walking the lists: name the files */
        if (rc == NEWSIDX_ERR_CORRUPT && !S->err.msg[0])
            nx_err_set(&S->err, rc, "%s or %s: corrupt postings or positions",
                       nx_segment_postings_path(R->seg), nx_segment_positions_path(R->seg));
        if (rc) return rc;
    }
    return 0;
}

/* Joins the query's notice and the search's into the results' arena. */
static int set_notice(newsidx_results *res, const char *a, const char *b) {
    if (!a[0] && !b[0]) return 0;
    size_t la = strlen(a), lb = strlen(b);
    char *n = nx_arena_alloc(&res->arena, la + lb + 3);
    if (!n) return NEWSIDX_ERR_NOMEM;
    memcpy(n, a, la);
    if (la && lb) memcpy(n + la, "; ", 2), la += 2;
    memcpy(n + la, b, lb + 1);
    res->notice = n;
    return 0;
}

/* Runs the search; err (when set) says why it failed. */
static int search_run(const newsidx_reader *r, const newsidx_query *q,
                      const newsidx_search_options *opts, nx_err *err, newsidx_results **out) {
    if (out) *out = NULL;
    if (!r || !q || !out)
        return nx_err_set(err, NEWSIDX_ERR_INVALID, "newsidx_search: no %s",
                          !r ? "reader" : !q ? "query" : "out-parameter");
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    if (opts) NX_FORWARD(nx_options_copy(&o, sizeof o, opts, "search", err));
    NX_RETURN_IF(o.sort < NEWSIDX_SORT_SCORE || o.sort > NEWSIDX_SORT_DATE_ASC, err,
                 NEWSIDX_ERR_INVALID, "unknown sort %d", o.sort);
    NX_RETURN_IF(!(o.title_weight >= 0) || !(o.body_weight >= 0), err, NEWSIDX_ERR_INVALID,
                 "field weights must be >= 0");
    NX_RETURN_IF(o.collapse_distance > NEWSIDX_COLLAPSE_MAX, err, NEWSIDX_ERR_INVALID,
                 "collapse distance %u is more than %d bits", o.collapse_distance,
                 NEWSIDX_COLLAPSE_MAX);
    if (o.max_result_bytes == 0) o.max_result_bytes = NX_DEFAULT_RESULT_BYTES;
    newsidx_results *res = calloc(1, sizeof *res);
    NX_RETURN_IF(!res, err, NEWSIDX_ERR_NOMEM, "out of memory");
    res->arena.chunk_bytes = 16384;
    nx_arena arena = {0};
    search S = {0};
    S.snap = nx_reader_snapshot(r);
    S.o = &o;
    S.q = q;
    S.arena = &arena;
    S.seg_arena.chunk_bytes = 65536;
    int rc = do_search(&S, res);
    if (rc == 0) rc = set_notice(res, newsidx_query_notice(q), S.notice);
    nx_arena_reset(&S.seg_arena);
    nx_arena_reset(&arena);
    if (rc) {
        if (!S.err.code) nx_err_set(&S.err, rc, "%s", newsidx_strerror(rc));
        if (err) *err = S.err;
        newsidx_results_free(res);
        return rc;
    }
    *out = res;
    return NEWSIDX_OK;
}

int newsidx_search(const newsidx_reader *r, const newsidx_query *q,
                   const newsidx_search_options *opts, newsidx_results **out) {
    nx_err err = {0};
    int rc = search_run(r, q, opts, &err, out);
    /* the deprecated errbuf inside the options, when the options are
     * readable and large enough to hold it */
    if (rc && opts && opts->size >= offsetof(newsidx_search_options, errbuf_size) + sizeof(size_t))
        nx_err_copy(&err, opts->errbuf, opts->errbuf_size);
    return rc;
}

int newsidx_search_v2(const newsidx_reader *r, const newsidx_query *q,
                      const newsidx_search_options *opts, char *errbuf, size_t errbuf_size,
                      newsidx_results **out) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    int rc = search_run(r, q, opts, &err, out);
    if (rc) nx_err_copy(&err, errbuf, errbuf_size);
    return rc;
}
