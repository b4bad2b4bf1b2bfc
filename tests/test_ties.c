/* test_ties — the order of results is a function of the articles only:
 * hits that tie on score (ranked) or on date (date-sorted) come in the
 * same order however the articles were split into segments, in which
 * order they were added, with how many writer threads, and whether they
 * sit in one index or in a set of indexes (docs/QUERY.md, "Ties"). The
 * corpus is made of ties: titles of one to three words from eight, short
 * bodies from a small vocabulary, twenty distinct dates, reprinted bodies.
 * The pruned top k is also compared with an exhaustive reference: every
 * match scored, sorted by the documented key in this file, so a pruning
 * test that drops a doc equal to the heap's minimum shows. */
#include "common.h"
#include "index/index_internal.h"
#include "newsidx.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the articles ------------------------------------------------------------- */

#define N_ARTICLES 3000

static const char *const title_words[] = {"wheat", "corn", "oil", "gold", "trade", "rates", "bank", "ship"};
static const char *const body_words[] = {
    "alpha", "beta",  "gamma", "delta", "market", "price", "export", "grain", "crop",  "harvest",
    "ton",   "buyer", "seller", "port",  "week",   "rise",  "fall",   "said",  "year",  "board",
    "china", "japan", "brazil", "india", "egypt",  "state", "report", "stock", "index", "quota"};
#define N_TITLE_WORDS (sizeof title_words / sizeof *title_words)
#define N_BODY_WORDS (sizeof body_words / sizeof *body_words)

typedef struct art {
    char id[16];
    char title[64];
    char body[256];
    char date[32];   /* "" when undated */
    int64_t when;    /* seconds, INT64_MIN when undated */
    const char *source;
} art;

static art arts[N_ARTICLES];

/* Ids in an order unrelated to the dates and to the order of adding, so
 * that no segmentation's doc order happens to be the id order. */
static void make_articles(void) {
    static bool done;
    if (done) return;
    uint64_t st = 0x243f6a8885a308d3ull;
    for (uint32_t i = 0; i < N_ARTICLES; i++) {
        art *a = &arts[i];
        snprintf(a->id, sizeof a->id, "a%08x", (unsigned)((i * 2654435761u) ^ 0x5bd1e995u));
        uint32_t nt = 1 + (uint32_t)(nxt_xorshift64(&st) % 3);
        size_t len = 0;
        for (uint32_t k = 0; k < nt; k++)
            len += (size_t)snprintf(a->title + len, sizeof a->title - len, "%s%s", k ? " " : "",
                                    title_words[nxt_xorshift64(&st) % N_TITLE_WORDS]);
        if (i % 10 == 9) {
            /* a reprint of an earlier body: collapses with it */
            memcpy(a->body, arts[i - 1 - nxt_xorshift64(&st) % 8].body, sizeof a->body);
        } else {
            uint32_t nb = 4 + (uint32_t)(nxt_xorshift64(&st) % 8);
            len = 0;
            for (uint32_t k = 0; k < nb; k++)
                len += (size_t)snprintf(a->body + len, sizeof a->body - len, "%s%s", k ? " " : "",
                                        body_words[nxt_xorshift64(&st) % N_BODY_WORDS]);
            /* rare words: a small segment holds few of them */
            static const char *const rare[] = {"zephyr", "quixote", "nimbus", "obelisk"};
            if (i % 50 == 7) snprintf(a->body + len, sizeof a->body - len, " %s", rare[i / 50 % 4]);
        }
        if (i % 17 == 5) {
            a->date[0] = '\0';
            a->when = INT64_MIN;
        } else {
            int day = 1 + (int)(nxt_xorshift64(&st) % 20);
            snprintf(a->date, sizeof a->date, "2024-03-%02d", day);
            a->when = (int64_t)(19782 + day) * 86400; /* 2024-03-01 is day 19783 */
        }
        static const char *const sources[] = {"wire", "daily", "weekly"};
        a->source = sources[nxt_xorshift64(&st) % 3];
    }
    done = true;
}

static const art *art_by_id(const char *id) {
    for (uint32_t i = 0; i < N_ARTICLES; i++)
        if (strcmp(arts[i].id, id) == 0) return &arts[i];
    return NULL;
}

/* ---- indexes ------------------------------------------------------------------ */

static void add(newsidx_writer *w, const art *a) {
    newsidx_field f[5];
    size_t n = 0;
    f[n++] = (newsidx_field){"id", a->id, strlen(a->id)};
    f[n++] = (newsidx_field){"title", a->title, strlen(a->title)};
    f[n++] = (newsidx_field){"body", a->body, strlen(a->body)};
    f[n++] = (newsidx_field){"source", a->source, strlen(a->source)};
    if (a->date[0]) f[n++] = (newsidx_field){"date", a->date, strlen(a->date)};
    ck_assert_int_eq(newsidx_writer_add(w, f, n, NULL), NEWSIDX_OK);
}

/* An index of arts[order[0 .. n)] in that order, committed every `every`
 * articles (each commit flushes a segment), with `threads` workers; a
 * merge factor of 1000 keeps the segments apart. */
static newsidx_reader *build(const char *tag, const uint32_t *order, uint32_t n, uint32_t every,
                             uint32_t threads, uint32_t merge_factor) {
    char *dir = nxt_tmpdir(tag);
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.threads = threads;
    o.merge_factor = merge_factor;
    o.no_sync = 1;
    char err[512];
    newsidx_writer *w;
    ck_assert_msg(newsidx_writer_open(dir, &o, err, sizeof err, &w) == 0, "%s", err);
    for (uint32_t i = 0; i < n; i++) {
        add(w, &arts[order[i]]);
        if ((i + 1) % every == 0) ck_assert_int_eq(newsidx_writer_commit(w), 0);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r;
    ck_assert_msg(newsidx_reader_open(dir, err, sizeof err, &r) == 0, "%s", err);
    free(dir);
    return r;
}

/* forward in one segment; reversed in ~30; shuffled with two threads and
 * merges; and the shuffled articles spread over a set of three indexes */
static newsidx_reader *r_forward, *r_reversed, *r_shuffled, *r_set;

static void setup(void) {
    static bool done;
    if (done) return;
    make_articles();
    uint32_t *order = malloc(N_ARTICLES * sizeof *order);
    ck_assert_ptr_nonnull(order);
    for (uint32_t i = 0; i < N_ARTICLES; i++) order[i] = i;
    r_forward = build("fwd", order, N_ARTICLES, N_ARTICLES, 1, 1000);
    for (uint32_t i = 0; i < N_ARTICLES; i++) order[i] = N_ARTICLES - 1 - i;
    r_reversed = build("rev", order, N_ARTICLES, 97, 1, 1000);
    uint64_t st = 77;
    for (uint32_t i = N_ARTICLES - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(nxt_xorshift64(&st) % (i + 1));
        uint32_t x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    r_shuffled = build("shuf", order, N_ARTICLES, 250, 2, 4);
    char *dirs[3];
    for (int m = 0; m < 3; m++) {
        uint32_t *part = malloc(N_ARTICLES * sizeof *part), n = 0;
        ck_assert_ptr_nonnull(part);
        for (uint32_t i = 0; i < N_ARTICLES; i++)
            if (i % 3 == (uint32_t)m) part[n++] = order[i];
        char tag[16];
        snprintf(tag, sizeof tag, "set%d", m);
        dirs[m] = nxt_tmpdir(tag);
        newsidx_writer_options o;
        newsidx_writer_options_init(&o);
        o.threads = 1;
        o.merge_factor = 1000;
        o.no_sync = 1;
        newsidx_writer *w;
        char err[512];
        ck_assert_msg(newsidx_writer_open(dirs[m], &o, err, sizeof err, &w) == 0, "%s", err);
        for (uint32_t i = 0; i < n; i++) {
            add(w, &arts[part[i]]);
            if ((i + 1) % (60 + 40 * (uint32_t)m) == 0) ck_assert_int_eq(newsidx_writer_commit(w), 0);
        }
        ck_assert_int_eq(newsidx_writer_commit(w), 0);
        newsidx_writer_close(w);
        free(part);
    }
    char err[512];
    ck_assert_msg(newsidx_reader_open_multi((const char *const *)dirs, 3, err, sizeof err, &r_set) == 0,
                  "%s", err);
    for (int m = 0; m < 3; m++) free(dirs[m]);
    free(order);
    ck_assert_uint_eq(nx_reader_snapshot(r_forward)->n_segments, 1);
    ck_assert_uint_ge(nx_reader_snapshot(r_reversed)->n_segments, 20);
    ck_assert_uint_ge(nx_reader_snapshot(r_set)->n_segments, 6);
    done = true;
}

/* ---- result lists --------------------------------------------------------------- */

typedef struct rlist {
    uint64_t total;
    size_t n;
    char **ids;
    double *scores;
    uint32_t *hidden;
    char facets[2048]; /* "label=count;" of each facet, in order */
} rlist;

static void rlist_free(rlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->ids[i]);
    free(l->ids);
    free(l->scores);
    free(l->hidden);
}

static rlist run(const newsidx_reader *r, const char *text, const newsidx_search_options *o) {
    newsidx_query *q = NULL;
    char err[256];
    size_t col;
    ck_assert_msg(newsidx_query_parse(r, text, strlen(text), NULL, &col, err, sizeof err, &q) == 0, "[%s]: %s",
                  text, err);
    newsidx_results *res = NULL;
    ck_assert_msg(newsidx_search_v2(r, q, o, err, sizeof err, &res) == 0, "[%s]: %s", text, err);
    rlist l = {0};
    l.total = newsidx_results_total(res);
    l.n = newsidx_results_count(res);
    l.ids = malloc((l.n + 1) * sizeof *l.ids);
    l.scores = malloc((l.n + 1) * sizeof *l.scores);
    l.hidden = malloc((l.n + 1) * sizeof *l.hidden);
    ck_assert(l.ids && l.scores && l.hidden);
    for (size_t i = 0; i < l.n; i++) {
        l.ids[i] = strdup(newsidx_hit_id(res, i));
        l.scores[i] = newsidx_hit_score(res, i);
        l.hidden[i] = newsidx_hit_hidden(res, i);
    }
    size_t len = 0;
    static const unsigned which[] = {NEWSIDX_FACET_SOURCE, NEWSIDX_FACET_YEAR, NEWSIDX_FACET_MONTH};
    for (int f = 0; f < 3; f++)
        for (size_t j = 0; j < newsidx_facet_count(res, which[f]); j++) {
            const char *label;
            uint64_t count;
            newsidx_facet_value(res, which[f], j, &label, &count);
            len += (size_t)snprintf(l.facets + len, sizeof l.facets - len, "%s=%llu;", label,
                                    (unsigned long long)count);
            ck_assert_uint_lt(len, sizeof l.facets);
        }
    newsidx_results_free(res);
    newsidx_query_free(q);
    return l;
}

/* Same totals (when exact), facets, ids in the same order with the same
 * scores and hidden counts. Scores must be equal to the bit: a last-bit
 * difference between two splits would decide the order of two articles
 * that tie. */
static void same_list(const char *what, const char *text, const rlist *a, const rlist *b, bool exact) {
    ck_assert_msg(!exact || a->total == b->total, "%s [%s]: total %llu vs %llu", what, text, (unsigned long long)a->total,
                  (unsigned long long)b->total);
    ck_assert_msg(a->n == b->n, "%s [%s]: %zu hits vs %zu", what, text, a->n, b->n);
    ck_assert_msg(strcmp(a->facets, b->facets) == 0, "%s [%s]: facets %s vs %s", what, text, a->facets,
                  b->facets);
    for (size_t i = 0; i < a->n; i++) {
        ck_assert_msg(strcmp(a->ids[i], b->ids[i]) == 0 && a->scores[i] == b->scores[i],
                      "%s [%s]: hit %zu is %s (%.17g) vs %s (%.17g)", what, text, i, a->ids[i], a->scores[i],
                      b->ids[i], b->scores[i]);
        ck_assert_msg(a->hidden[i] == b->hidden[i], "%s [%s]: hit %zu (%s) hides %u vs %u", what, text, i,
                      a->ids[i], a->hidden[i], b->hidden[i]);
    }
}

/* Tie-heavy queries of every shape the executor runs differently: single
 * terms (block-max), ORs (MaxScore; a prefix with many expansions: the
 * heap-ordered OR), ANDs (leapfrog, block-max AND), phrases, exclusions. */
static const char *const queries[] = {
    "title:wheat",        "title:corn",         "wheat",
    "title:wheat OR title:corn", "wheat OR corn OR oil", "alpha OR beta OR gamma OR delta",
    "title:wheat AND title:corn", "alpha AND beta",  "alpha AND beta AND gamma",
    "\"wheat corn\"",     "title:\"gold trade\"", "\"alpha beta\"",
    "wheat -corn",        "gr* OR po*",          "body:market",
    "said OR year OR board OR china OR japan OR brazil OR india OR egypt",
    /* 33 lists: an OR over a heap of children (iter.c, OR_HEAP_MIN) where
     * all are present, a plain OR in segments that lack a rare word; both
     * must sum in one order */
    "alpha OR beta OR gamma OR delta OR market OR price OR export OR grain OR crop OR harvest OR "
    "ton OR buyer OR seller OR port OR week OR rise OR fall OR said OR year OR board OR china OR "
    "japan OR brazil OR india OR egypt OR state OR report OR stock OR index OR zephyr OR quixote OR "
    "nimbus OR obelisk",
};
#define N_QUERIES (sizeof queries / sizeof *queries)

/* The option sets every query runs with: relevance pruned and not, with
 * and without an exact total, a page further on, facets, collapse, both
 * date orders, a recency boost. */
static void option_set(int v, newsidx_search_options *o) {
    newsidx_search_options_init(o);
    o->fields = "";
    o->snippets = 0;
    o->k = 20;
    switch (v) {
    case 0: break;
    case 1: o->exact_total = 0; break;
    case 2: o->k = 7, o->offset = 13; break;
    case 3: o->facets = NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_MONTH | NEWSIDX_FACET_YEAR; break;
    case 4: o->collapse_distance = NEWSIDX_COLLAPSE_DEFAULT; break;
    case 5: o->sort = NEWSIDX_SORT_DATE_DESC; break;
    case 6: o->sort = NEWSIDX_SORT_DATE_ASC; break;
    case 7: o->sort = NEWSIDX_SORT_DATE_DESC, o->exact_total = 0, o->k = 3; break;
    case 8: o->sort = NEWSIDX_SORT_DATE_ASC, o->collapse_distance = NEWSIDX_COLLAPSE_DEFAULT; break;
    case 9: o->k = 500; break;
    case 10: o->recency_halflife_days = 3; break;
    }
}
#define N_OPTION_SETS 11

static void same_everywhere(newsidx_reader *const *other_ref, const char *what) {
    setup();
    const newsidx_reader *other = *other_ref;
    for (size_t qi = 0; qi < N_QUERIES; qi++)
        for (int v = 0; v < N_OPTION_SETS; v++) {
            newsidx_search_options o;
            option_set(v, &o);
            rlist a = run(r_forward, queries[qi], &o), b = run(other, queries[qi], &o);
            char label[64];
            snprintf(label, sizeof label, "%s, options %d", what, v);
            same_list(label, queries[qi], &a, &b, o.exact_total);
            rlist_free(&a);
            rlist_free(&b);
        }
}

START_TEST(test_reversed_order_in_many_segments_ranks_as_one_segment) {
    same_everywhere(&r_reversed, "reversed");
}
END_TEST

START_TEST(test_shuffled_order_with_two_threads_and_merges_ranks_as_one_segment) {
    same_everywhere(&r_shuffled, "shuffled");
}
END_TEST

START_TEST(test_a_set_of_indexes_ranks_as_one_index) { same_everywhere(&r_set, "set"); }
END_TEST

/* The corpus must hold what the test is about: many exact ties among the
 * hits, or it proves nothing. */
START_TEST(test_the_queries_hit_many_exact_ties) {
    setup();
    newsidx_search_options o;
    option_set(0, &o);
    o.k = 50;
    rlist l = run(r_forward, "title:wheat", &o);
    size_t ties = 0;
    for (size_t i = 1; i < l.n; i++) ties += l.scores[i] == l.scores[i - 1];
    ck_assert_uint_ge(ties, 40);
    rlist_free(&l);
    o.sort = NEWSIDX_SORT_DATE_DESC;
    l = run(r_forward, "wheat", &o);
    ties = 0;
    for (size_t i = 1; i < l.n; i++) ties += strcmp(art_by_id(l.ids[i])->date, art_by_id(l.ids[i - 1])->date) == 0;
    ck_assert_uint_ge(ties, 40);
    rlist_free(&l);
}
END_TEST

/* ---- the exhaustive reference ------------------------------------------------------ */

typedef struct ref_hit {
    const art *a;
    double score;
} ref_hit;

static int sort_mode;

/* The documented order (include/newsidx.h, NEWSIDX_SORT_*): by score,
 * newer, then id; by date (undated last), then score, then id. */
static int cmp_ref(const void *x, const void *y) {
    const ref_hit *a = x, *b = y;
    if (sort_mode != NEWSIDX_SORT_SCORE) {
        int64_t da = a->a->when, db = b->a->when;
        if (da != db) {
            if (da == INT64_MIN) return 1;
            if (db == INT64_MIN) return -1;
            return (sort_mode == NEWSIDX_SORT_DATE_DESC ? da > db : da < db) ? -1 : 1;
        }
    }
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (sort_mode == NEWSIDX_SORT_SCORE && a->a->when != b->a->when) return a->a->when > b->a->when ? -1 : 1;
    return strcmp(a->a->id, b->a->id);
}

/* Every query on every index, each sort, k from 1 to past the matches,
 * pruned (exact total or not): the hits are the first k of every match
 * scored without pruning and sorted by cmp_ref. A title weight of 0 makes
 * every title-only score 0 and every block bound exactly the heap's
 * minimum: a pruning test with "<=" skips what still wins by the tie key
 * there, whatever the bounds' slack. */
START_TEST(test_pruned_top_k_is_the_head_of_the_exhaustive_order) {
    setup();
    const newsidx_reader *readers[] = {r_forward, r_reversed, r_shuffled, r_set};
    static const uint32_t ks[] = {1, 2, 5, 10, 37, 200};
    static const int sorts[] = {NEWSIDX_SORT_SCORE, NEWSIDX_SORT_DATE_DESC, NEWSIDX_SORT_DATE_ASC};
    for (size_t qw = 0; qw < 2 * N_QUERIES; qw++) {
        size_t qi = qw % N_QUERIES;
        double title_weight = qw < N_QUERIES ? 2.0 : 0.0;
        newsidx_search_options o;
        option_set(0, &o);
        o.title_weight = title_weight;
        o.no_pruning = 1;
        o.k = N_ARTICLES;
        rlist all = run(r_forward, queries[qi], &o);
        ck_assert_uint_eq(all.n, all.total);
        ck_assert_msg(all.n > 0, "[%s] matches nothing", queries[qi]);
        ref_hit *ref = malloc(all.n * sizeof *ref);
        ck_assert_ptr_nonnull(ref);
        for (size_t i = 0; i < all.n; i++) {
            ref[i] = (ref_hit){art_by_id(all.ids[i]), all.scores[i]};
            ck_assert_ptr_nonnull(ref[i].a);
        }
        for (size_t si = 0; si < 3; si++) {
            sort_mode = sorts[si];
            qsort(ref, all.n, sizeof *ref, cmp_ref);
            for (size_t ri = 0; ri < 4; ri++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                    for (int exact = 0; exact < 2; exact++) {
                        option_set(0, &o);
                        o.title_weight = title_weight;
                        o.sort = sorts[si];
                        o.k = ks[ki];
                        o.exact_total = exact;
                        rlist l = run(readers[ri], queries[qi], &o);
                        size_t want = all.n < ks[ki] ? all.n : ks[ki];
                        ck_assert_msg(l.n == want, "[%s] sort %d reader %zu k %u: %zu hits, want %zu",
                                      queries[qi], sorts[si], ri, ks[ki], l.n, want);
                        if (exact) ck_assert_uint_eq(l.total, all.total);
                        for (size_t i = 0; i < l.n; i++)
                            ck_assert_msg(strcmp(l.ids[i], ref[i].a->id) == 0 && l.scores[i] == ref[i].score,
                                          "[%s] title weight %g sort %d reader %zu k %u exact %d: hit %zu is %s "
                                          "(%.17g), reference %s (%.17g)",
                                          queries[qi], title_weight, sorts[si], ri, ks[ki], exact, i, l.ids[i],
                                          l.scores[i],
                                          ref[i].a->id, ref[i].score);
                        rlist_free(&l);
                    }
        }
        free(ref);
        rlist_free(&all);
    }
}
END_TEST

static Suite *ties_suite(void) {
    Suite *s = suite_create("ties");
    TCase *tc = tcase_create("ties");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_the_queries_hit_many_exact_ties);
    tcase_add_test(tc, test_reversed_order_in_many_segments_ranks_as_one_segment);
    tcase_add_test(tc, test_shuffled_order_with_two_threads_and_merges_ranks_as_one_segment);
    tcase_add_test(tc, test_a_set_of_indexes_ranks_as_one_index);
    tcase_add_test(tc, test_pruned_top_k_is_the_head_of_the_exhaustive_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nxt_run(ties_suite(), CK_FORK_GETENV); }
