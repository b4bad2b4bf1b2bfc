/* Suite for the writer's workers (newsidx_writer_options.threads): the same
 * articles, replacements and deletions indexed with 1 and with 3 threads
 * must give the same search results — ids, scores to 1e-6, totals and
 * facets — for queries of every class, and keep doc ids in date order in
 * every segment. */
#include "index/index_internal.h"
#include "index/writer_internal.h"
#include "common.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

/* The budgets below are the smallest that keep two workers: the writer
 * runs fewer when the budget cannot hold each one's buffer and queue
 * (and, with stored fields, ~10 MB per segment written at once), and a
 * test of what workers do must not quietly run on the caller's thread. */
#define TWO_WORKERS_BARE ((size_t)5 << 19)
#define TWO_WORKERS_STORED ((size_t)40 << 20)

static void assert_two_workers(const newsidx_writer *w) { ck_assert_uint_eq(w->n_bufs, 2); }

/* A writer on dir that runs two workers. */
static newsidx_writer *open_two_workers(const char *dir, const newsidx_writer_options *o) {
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(dir, o, NULL, 0, &w), 0);
    assert_two_workers(w);
    return w;
}

/* Options for a writer of `threads` workers at the smallest budget that
 * keeps two, storing fields or not, fsyncs off. */
static void small_options(newsidx_writer_options *o, uint32_t threads, bool stored) {
    newsidx_writer_options_init(o);
    o->threads = threads;
    o->store_fields = stored;
    o->ram_budget_bytes = stored ? TWO_WORKERS_STORED : TWO_WORKERS_BARE;
    o->no_sync = 1;
}

/* articles per build: 4 builds per run, each twice with fsyncs off */
#define N_ARTICLES (nxt_small() ? 1000u : 2000u)
#define VOCAB 400

static const char *const sources[] = {"wire", "herald", "gazette", "courier", "post"};

/* Word w of the vocabulary: "w<w>" with a few shared prefixes, so that
 * prefix and fuzzy queries expand to several terms. */
static void word(uint32_t w, char *buf, size_t cap) {
    static const char *const stems[] = {"mark", "vote", "rain", "port", "coin", "tax"};
    snprintf(buf, cap, "%s%u", stems[w % 6], w / 6);
}

/* A Zipf-like word: small numbers far more often. */
static uint32_t pick_word(uint64_t *rng) {
    uint64_t a = nxt_xorshift64(rng) % VOCAB, b = nxt_xorshift64(rng) % VOCAB;
    return (uint32_t)(a < b ? a : b) % VOCAB;
}

static void text(uint64_t *rng, uint32_t n_words, char *buf, size_t cap) {
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < n_words && o + 32 < cap; i++) {
        char wd[24];
        word(pick_word(rng), wd, sizeof wd);
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? " " : "", wd);
    }
}

/* Indexes the fixed corpus into dir with that many threads and a budget
 * small enough that every worker flushes several segments (and the writer
 * merges them as they pile up). The corpus: N_ARTICLES articles, dates
 * with many ties (whole days, some undated), one commit in the middle.
 * With updates, every 17th article re-adds an earlier id (a replacement),
 * and a delete by id and one by query follow; the index is then optimized,
 * because BM25 counts a deleted article in N and df until a merge drops
 * it (as Lucene does), and which merges drop which depends on the
 * segments. */
static void build(const char *dir, uint32_t threads, bool updates) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.threads = threads;
    /* 3 workers with stored fields: what 4 segment writers (40 MiB) and
     * the queues leave gives each a buffer of ~1.25 MiB */
    o.ram_budget_bytes = (size_t)50 << 20;
    o.merge_factor = 4;
    o.keep_flushes = 1; /* segments split as the workers flushed */
    o.no_sync = 1;
    newsidx_writer *w = NULL;
    char eb[512];
    ck_assert_msg(newsidx_writer_open(dir, &o, eb, sizeof eb, &w) == 0, "open: %s", eb);
    ck_assert_uint_eq(w->n_bufs, threads);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    static char body[4096];
    char title[256], id[32], date[32];
    for (uint32_t i = 0; i < N_ARTICLES; i++) {
        uint32_t n = i; /* the id's number */
        if (updates && i % 17 == 16) n = (uint32_t)(nxt_xorshift64(&rng) % i);
        snprintf(id, sizeof id, "doc-%u", n);
        text(&rng, 5, title, sizeof title);
        text(&rng, 20 + (uint32_t)(nxt_xorshift64(&rng) % 200), body, sizeof body);
        uint32_t day = (uint32_t)(nxt_xorshift64(&rng) % 900);
        snprintf(date, sizeof date, "%04u-%02u-%02u", 1995 + day / 90, 1 + day % 90 / 8, 1 + day % 8);
        newsidx_field f[5] = {{"id", id, strlen(id)},
                              {"title", title, strlen(title)},
                              {"body", body, strlen(body)},
                              {"source", sources[i % 5], strlen(sources[i % 5])},
                              {"date", date, strlen(date)}};
        unsigned warn = 0;
        /* every 11th undated */
        ck_assert_int_eq(newsidx_writer_add(w, f, i % 11 == 5 ? 4 : 5, &warn), 0);
        /* ids doc-<n> with n = 16 mod 17 never existed */
        ck_assert_int_eq(!!(warn & NEWSIDX_WARN_REPLACED), n != i && (n % 17 != 16 || !updates));
        if (i == N_ARTICLES / 2) ck_assert_int_eq(newsidx_writer_commit(w), 0);
    }
    if (updates) {
        uint64_t nd = 0;
        ck_assert_int_eq(newsidx_writer_delete(w, "doc-7", 5, &nd), 0);
        ck_assert_uint_eq(nd, 1);
        ck_assert_int_eq(newsidx_writer_delete_query(w, "mark1 AND vote1", 15, &nd), 0);
        ck_assert_uint_gt(nd, 0);
        ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    } else {
        ck_assert_int_eq(newsidx_writer_commit(w), 0);
    }
    newsidx_writer_close(w);
}

typedef struct hit {
    char id[32];
    double score;
} hit;

static int cmp_hit_id(const void *a, const void *b) {
    return strcmp(((const hit *)a)->id, ((const hit *)b)->id);
}

static newsidx_results *run(const newsidx_reader *r, const char *query, int sort, uint32_t k) {
    newsidx_query *q = NULL;
    char eb[512];
    size_t col = 0;
    ck_assert_msg(newsidx_query_parse(r, query, strlen(query), NULL, &col, eb, sizeof eb, &q) == 0,
                  "%s: %s", query, eb);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.k = k;
    so.sort = sort;
    so.fields = "date";
    so.snippets = 0;
    so.facets = NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH;
    newsidx_results *res = NULL;
    ck_assert_msg(newsidx_search_v2(r, q, &so, eb, sizeof eb, &res) == 0, "%s: %s", query, eb);
    newsidx_query_free(q);
    return res;
}

static void same_facets(const newsidx_results *a, const newsidx_results *b, const char *query) {
    static const unsigned facets[] = {NEWSIDX_FACET_SOURCE, NEWSIDX_FACET_YEAR, NEWSIDX_FACET_MONTH};
    for (int f = 0; f < 3; f++) {
        size_t n = newsidx_facet_count(a, facets[f]);
        ck_assert_uint_eq(n, newsidx_facet_count(b, facets[f]));
        for (size_t j = 0; j < n; j++) {
            const char *la, *lb;
            uint64_t ca, cb;
            ck_assert_int_eq(newsidx_facet_value(a, facets[f], j, &la, &ca), 0);
            ck_assert_int_eq(newsidx_facet_value(b, facets[f], j, &lb, &cb), 0);
            ck_assert_msg(strcmp(la, lb) == 0 && ca == cb, "%s: facet %u value %zu: %s %llu vs %s %llu",
                          query, facets[f], j, la, (unsigned long long)ca, lb,
                          (unsigned long long)cb);
        }
    }
}

static hit *hits_of(const newsidx_results *res, size_t n) {
    hit *h = calloc(n + 1, sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < n; i++) {
        snprintf(h[i].id, sizeof h[i].id, "%s", newsidx_hit_id(res, i));
        h[i].score = newsidx_hit_score(res, i);
    }
    return h;
}

/* One query on both indexes. All hits (k over the total): the same ids
 * with the same scores, ranked the same up to the order of exactly tied
 * hits (ties go by doc id, which depends on the segments); dates in the
 * same sequence for the date sorts. The top 10: the same scores. */
static void compare(const newsidx_reader *ra, const newsidx_reader *rb, const char *query,
                    int sort) {
    newsidx_results *a = run(ra, query, sort, 100000), *b = run(rb, query, sort, 100000);
    ck_assert_msg(newsidx_results_total(a) == newsidx_results_total(b), "%s: total %llu vs %llu",
                  query, (unsigned long long)newsidx_results_total(a),
                  (unsigned long long)newsidx_results_total(b));
    size_t n = newsidx_results_count(a);
    ck_assert_uint_eq(n, newsidx_results_count(b));
    ck_assert_uint_eq(n, newsidx_results_total(a));
    same_facets(a, b, query);
    for (size_t i = 0; i < n; i++) {
        if (sort == NEWSIDX_SORT_SCORE) {
            ck_assert_msg(fabs(newsidx_hit_score(a, i) - newsidx_hit_score(b, i)) <= 1e-6,
                          "%s: score of hit %zu: %.9f vs %.9f", query, i, newsidx_hit_score(a, i),
                          newsidx_hit_score(b, i));
        } else {
            const newsidx_field *da = newsidx_hit_field(a, i, "date");
            const newsidx_field *db = newsidx_hit_field(b, i, "date");
            ck_assert_int_eq(!da, !db);
            if (da)
                ck_assert_msg(da->value_len == db->value_len &&
                                  memcmp(da->value, db->value, da->value_len) == 0,
                              "%s: date of hit %zu differs", query, i);
        }
    }
    hit *ha = hits_of(a, n), *hb = hits_of(b, n);
    qsort(ha, n, sizeof *ha, cmp_hit_id);
    qsort(hb, n, sizeof *hb, cmp_hit_id);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(strcmp(ha[i].id, hb[i].id) == 0, "%s: hit ids differ (%s vs %s)", query,
                      ha[i].id, hb[i].id);
        ck_assert_msg(fabs(ha[i].score - hb[i].score) <= 1e-6, "%s: score of %s: %.9f vs %.9f",
                      query, ha[i].id, ha[i].score, hb[i].score);
    }
    free(ha);
    free(hb);
    newsidx_results_free(a);
    newsidx_results_free(b);
    a = run(ra, query, sort, 10);
    b = run(rb, query, sort, 10);
    ck_assert_uint_eq(newsidx_results_count(a), newsidx_results_count(b));
    for (size_t i = 0; i < newsidx_results_count(a) && sort == NEWSIDX_SORT_SCORE; i++)
        ck_assert_msg(fabs(newsidx_hit_score(a, i) - newsidx_hit_score(b, i)) <= 1e-6,
                      "%s: top-10 score %zu differs", query, i);
    newsidx_results_free(a);
    newsidx_results_free(b);
}

static void dates_in_order(const newsidx_reader *r) {
    const nx_snapshot *s = nx_reader_snapshot(r);
    for (uint32_t i = 0; i < s->n_segments; i++) {
        const nx_segment *seg = s->segments[i];
        for (uint32_t d = 1; d < nx_segment_doc_count(seg); d++)
            ck_assert(nx_segment_date(seg, d - 1) <= nx_segment_date(seg, d));
    }
}

/* Builds the corpus with 1 and 3 threads and compares every query class. */
static void same_results(bool updates) {
    char *one = nxt_tmpdir("parallel"), *three = nxt_tmpdir("parallel");
    build(one, 1, updates);
    build(three, 3, updates);
    newsidx_reader *ra = NULL, *rb = NULL;
    char eb[512];
    ck_assert_msg(newsidx_reader_open(one, eb, sizeof eb, &ra) == 0, "%s", eb);
    ck_assert_msg(newsidx_reader_open(three, eb, sizeof eb, &rb) == 0, "%s", eb);
    ck_assert_uint_eq(nx_reader_snapshot(ra)->live_docs, nx_reader_snapshot(rb)->live_docs);
    if (updates) /* the deletions and replacements left fewer than were added */
        ck_assert_uint_lt(nx_reader_snapshot(ra)->live_docs, N_ARTICLES - N_ARTICLES / 17);
    else /* several segments in each, split differently */
        ck_assert_uint_gt(nx_reader_snapshot(rb)->n_segments, 1);
    /* every class: one term, AND, OR, NOT, phrase, proximity, prefix,
     * fuzzy, a field, a date range, the empty result */
    static const char *const queries[] = {
        "mark0",          "vote2 rain1",           "coin3 OR tax4",   "port0 -mark0",
        "\"mark0 vote0\"", "\"rain0 port0\"~4",    "coin1*",          "vote5~1",
        "title:tax2",     "source:herald mark0",   "date:1997-01-01..1998-06-30 rain0",
        "mark0 vote0 rain0 port0 coin0 tax0",      "nosuchword",
    };
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        compare(ra, rb, queries[i], NEWSIDX_SORT_SCORE);
        compare(ra, rb, queries[i], NEWSIDX_SORT_DATE_DESC);
        compare(ra, rb, queries[i], NEWSIDX_SORT_DATE_ASC);
    }
    dates_in_order(ra);
    dates_in_order(rb);
    newsidx_reader_close(ra);
    newsidx_reader_close(rb);
    ck_assert_int_eq(nxt_rm_rf(one), 0);
    ck_assert_int_eq(nxt_rm_rf(three), 0);
    free(one);
    free(three);
}

START_TEST(test_results_do_not_depend_on_the_thread_count) { same_results(false); }
END_TEST

START_TEST(test_replacements_and_deletes_do_not_depend_on_the_thread_count) {
    same_results(true);
}
END_TEST

/* A worker's error (here: a directory stands where its segment files
 * go, so creating them fails, for root too) comes back from a later add
 * or from the commit, and sticks. */
START_TEST(test_worker_error_surfaces_at_a_later_call) {
    char *dir = nxt_tmpdir("parallel");
    newsidx_writer_options o;
    small_options(&o, 2, false);
    newsidx_writer *w = open_two_workers(dir, &o);
    char path[512];
    for (int seg = 1; seg <= 400; seg++) {
        snprintf(path, sizeof path, "%s/seg_%d.post", dir, seg);
        ck_assert_int_eq(mkdir(path, 0755), 0);
    }
    int rc = 0, n_added = 0;
    /* articles of 64 KiB: the workers' ~1.2 MiB buffers flush every few */
    static char body[64 << 10];
    memset(body, 'x', sizeof body);
    for (size_t i = 0; i < sizeof body; i += 8) body[i] = ' ';
    for (int i = 0; i < 200 && rc == 0; i++, n_added++) {
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        newsidx_field f[2] = {{"id", id, strlen(id)}, {"body", body, sizeof body}};
        rc = newsidx_writer_add(w, f, 2, NULL);
    }
    /* the caller does not wait for the workers: adds succeed after the
     * first failed flush, until the error is seen */
    ck_assert_int_gt(n_added, 1);
    if (rc == 0) rc = newsidx_writer_commit(w);
    ck_assert_int_eq(rc, NEWSIDX_ERR_IO);
    ck_assert_ptr_nonnull(strstr(newsidx_writer_errmsg(w), "seg_"));
    ck_assert_int_eq(newsidx_writer_commit(w), NEWSIDX_ERR_IO); /* sticky */
    newsidx_writer_close(w);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* ---- merges beside the workers ------------------------------------------- */

/* A progress callback that makes each merge slow at its start, so that
 * what the test does next happens while a merge runs: merging is set
 * while one runs, and merges counts those that began. */
typedef struct slow_merges {
    int merging, merges;
} slow_merges;

static void slow_merge_progress(void *ctx, const newsidx_writer_progress *p) {
    slow_merges *sm = ctx;
    if (p->phase != NEWSIDX_PHASE_MERGING) return;
    if (p->done == 0) {
        __atomic_store_n(&sm->merging, 1, __ATOMIC_RELEASE);
        __atomic_add_fetch(&sm->merges, 1, __ATOMIC_RELAXED);
        usleep(30 * 1000);
    } else if (p->done == p->total) {
        __atomic_store_n(&sm->merging, 0, __ATOMIC_RELEASE);
    }
}

static bool merge_running(slow_merges *sm) { return __atomic_load_n(&sm->merging, __ATOMIC_ACQUIRE); }

/* Adds article doc-<n> (text from rng) to w. */
static void add_numbered(newsidx_writer *w, uint32_t n, uint64_t *rng) {
    static char body[2048];
    char title[128], id[32];
    snprintf(id, sizeof id, "doc-%u", n);
    text(rng, 4, title, sizeof title);
    text(rng, 40 + (uint32_t)(nxt_xorshift64(rng) % 60), body, sizeof body);
    newsidx_field f[3] = {{"id", id, strlen(id)}, {"title", title, strlen(title)}, {"body", body, strlen(body)}};
    ck_assert_int_eq(newsidx_writer_add(w, f, 3, NULL), 0);
}

/* Builds a run of adds, replacements and deletes with small flushes and
 * slow merges; deletes go in while a merge runs. *live gets the number of
 * ids that must be live at the end. */
static void build_with_deletes_during_merges(const char *dir, uint32_t threads, uint32_t *live,
                                             int *merges_seen) {
    newsidx_writer_options o;
    small_options(&o, threads, false);
    o.merge_factor = 2;
    slow_merges sm = {0};
    o.progress = slow_merge_progress;
    o.progress_ctx = &sm;
    newsidx_writer *w = NULL;
    char eb[512];
    ck_assert_msg(newsidx_writer_open(dir, &o, eb, sizeof eb, &w) == 0, "open: %s", eb);
    ck_assert_uint_eq(w->n_bufs, threads);
    uint32_t n_ids = nxt_small() ? 8000 : 16000;
    bool *is_live = calloc(n_ids, 1);
    ck_assert_ptr_nonnull(is_live);
    uint64_t rng = 0x2545f4914f6cdd1dull, pick = 77;
    int during = 0;
    for (uint32_t i = 0; i < n_ids; i++) {
        add_numbered(w, i, &rng);
        is_live[i] = true;
        if (i < 100) continue;
        if (i % 3 == 0) { /* a replacement of an earlier id */
            uint32_t n = (uint32_t)(nxt_xorshift64(&pick) % i);
            add_numbered(w, n, &rng);
            is_live[n] = true;
        }
        if (i % 2 == 0) {
            uint32_t n = (uint32_t)(nxt_xorshift64(&pick) % i);
            during += merge_running(&sm);
            uint64_t nd = 0;
            char id[32];
            snprintf(id, sizeof id, "doc-%u", n);
            ck_assert_int_eq(newsidx_writer_delete(w, id, strlen(id), &nd), 0);
            ck_assert_uint_eq(nd, is_live[n]);
            is_live[n] = false;
        }
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    *live = 0;
    for (uint32_t i = 0; i < n_ids; i++) *live += is_live[i];
    *merges_seen = during;
    free(is_live);
}

/* Deletions and replacements that land while a merge runs in the
 * background (in segments it is reading) are replayed onto the merged
 * segment: none is lost, and the index equals a 1-thread build. */
START_TEST(test_deletes_during_a_background_merge_are_not_lost) {
    char *one = nxt_tmpdir("parallel"), *two = nxt_tmpdir("parallel");
    uint32_t live_one, live_two;
    int during_one, during_two;
    build_with_deletes_during_merges(one, 1, &live_one, &during_one);
    build_with_deletes_during_merges(two, 2, &live_two, &during_two);
    ck_assert_uint_eq(live_one, live_two);
    ck_assert_int_gt(during_two, 10); /* the deletes did land during merges */
    newsidx_reader *ra = NULL, *rb = NULL;
    char eb[512];
    ck_assert_msg(newsidx_reader_open(one, eb, sizeof eb, &ra) == 0, "%s", eb);
    ck_assert_msg(newsidx_reader_open(two, eb, sizeof eb, &rb) == 0, "%s", eb);
    ck_assert_uint_eq(nx_reader_snapshot(ra)->live_docs, live_one);
    ck_assert_uint_eq(nx_reader_snapshot(rb)->live_docs, live_two);
    newsidx_reader_close(ra);
    newsidx_reader_close(rb);
    ck_assert_int_eq(newsidx_check(two, NULL, NULL), 0);
    ck_assert_int_eq(nxt_rm_rf(one), 0);
    ck_assert_int_eq(nxt_rm_rf(two), 0);
    free(one);
    free(two);
}
END_TEST

/* Files in dir whose name starts with "seg_". */
static unsigned segment_files(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    unsigned n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, "seg_", 4) == 0;
    closedir(d);
    return n;
}

/* A rollback while a merge runs stops it and leaves none of its files
 * (nor any other uncommitted one); the writer goes on. */
START_TEST(test_rollback_during_a_background_merge_leaves_no_files) {
    char *dir = nxt_tmpdir("parallel");
    newsidx_writer_options o;
    small_options(&o, 2, false);
    o.merge_factor = 3;
    slow_merges sm = {0};
    o.progress = slow_merge_progress;
    o.progress_ctx = &sm;
    newsidx_writer *w = open_two_workers(dir, &o);
    uint64_t rng = 5;
    uint32_t i = 0;
    for (; i < 100000 && !merge_running(&sm); i++) add_numbered(w, i, &rng);
    ck_assert(merge_running(&sm));
    ck_assert_int_eq(newsidx_writer_rollback(w), 0);
    ck_assert_uint_eq(segment_files(dir), 0);
    for (uint32_t k = 0; k < 50; k++) add_numbered(w, k, &rng);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = NULL;
    ck_assert_int_eq(newsidx_reader_open(dir, NULL, 0, &r), 0);
    ck_assert_uint_eq(nx_reader_snapshot(r)->live_docs, 50);
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* Overwrites the file's bytes with zeros, keeping its size (mappings of
 * it stay valid). */
static void zero_file(const char *path) {
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    for (long k = 0; k < n; k++) fputc(0, f);
    fclose(f);
}

/* At the start of the first merge after armed is set, zeroes the file. */
typedef struct zero_at_merge {
    char path[512];
    bool armed, done;
} zero_at_merge;

static void zero_when_merging(void *ctx, const newsidx_writer_progress *p) {
    zero_at_merge *z = ctx;
    if (!z->armed || z->done || p->phase != NEWSIDX_PHASE_MERGING || p->done != 0) return;
    z->done = true;
    zero_file(z->path);
}

/* A background merge's error (here: an input's doc store zeroed under it,
 * so the merge cannot read its stored fields) comes back from a later
 * call and sticks; the commit does not happen and the merge leaves no
 * file. */
START_TEST(test_background_merge_error_surfaces_at_a_later_call) {
    char *dir = nxt_tmpdir("parallel");
    newsidx_writer_options o;
    small_options(&o, 2, true);
    o.merge_factor = 3;
    /* segment 1: one of the first three flushed, which that merge reads */
    zero_at_merge z = {.armed = true};
    snprintf(z.path, sizeof z.path, "%s/seg_1.docs", dir);
    o.progress = zero_when_merging;
    o.progress_ctx = &z;
    newsidx_writer *w = open_two_workers(dir, &o);
    uint64_t rng = 9;
    int rc = 0;
    for (uint32_t i = 0; i < 1000000 && rc == 0; i++) {
        char id[32];
        snprintf(id, sizeof id, "doc-%u", i);
        char body[64];
        text(&rng, 8, body, sizeof body);
        newsidx_field f[2] = {{"id", id, strlen(id)}, {"body", body, strlen(body)}};
        rc = newsidx_writer_add(w, f, 2, NULL);
    }
    ck_assert_int_eq(rc, NEWSIDX_ERR_CORRUPT);
    ck_assert_msg(strstr(newsidx_writer_errmsg(w), "seg_1") != NULL, "%s", newsidx_writer_errmsg(w));
    ck_assert_int_eq(newsidx_writer_commit(w), NEWSIDX_ERR_CORRUPT); /* sticky */
    newsidx_writer_close(w);
    ck_assert_uint_eq(segment_files(dir), 0);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* An optimize with workers copies the doc store on a thread beside the
 * terms' (merge.c): an input doc store found damaged there (zeroed as the
 * merge starts) fails the optimize with an error naming the file, sticks,
 * and leaves the committed segments as they were, no merged file. */
START_TEST(test_optimize_error_in_the_doc_store_copy_names_the_file) {
    char *dir = nxt_tmpdir("parallel");
    newsidx_writer_options o;
    small_options(&o, 2, true);
    o.keep_flushes = 1; /* each worker's flush stays a segment */
    zero_at_merge z = {.armed = false};
    o.progress = zero_when_merging;
    o.progress_ctx = &z;
    newsidx_writer *w = open_two_workers(dir, &o);
    uint64_t rng = 5;
    for (uint32_t i = 0; i < 2000; i++) add_numbered(w, i, &rng);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    unsigned committed = segment_files(dir);
    ck_assert_uint_eq(w->n_segs, 2);
    snprintf(z.path, sizeof z.path, "%s", nx_segment_postings_path(w->segs[1].seg));
    strcpy(strrchr(z.path, '.'), ".docs");
    z.armed = true;
    ck_assert_int_eq(newsidx_writer_optimize(w), NEWSIDX_ERR_CORRUPT);
    ck_assert(z.done);
    const char *name = strrchr(z.path, '/') + 1;
    ck_assert_msg(strstr(newsidx_writer_errmsg(w), name) != NULL, "%s", newsidx_writer_errmsg(w));
    ck_assert_int_eq(newsidx_writer_commit(w), NEWSIDX_ERR_CORRUPT); /* sticky */
    newsidx_writer_close(w);
    ck_assert_uint_eq(segment_files(dir), committed);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* Older callers pass a smaller options struct: the thread count is then
 * the default, and the writer works. */
START_TEST(test_options_without_the_thread_field_are_accepted) {
    char *dir = nxt_tmpdir("parallel");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.size = offsetof(newsidx_writer_options, threads);
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    newsidx_field f[2] = {{"id", "a", 1}, {"body", "old caller", 10}};
    ck_assert_int_eq(newsidx_writer_add(w, f, 2, NULL), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

static Suite *parallel_suite(void) {
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_results_do_not_depend_on_the_thread_count);
    tcase_add_test(tc, test_replacements_and_deletes_do_not_depend_on_the_thread_count);
    tcase_add_test(tc, test_worker_error_surfaces_at_a_later_call);
    tcase_add_test(tc, test_options_without_the_thread_field_are_accepted);
    tcase_add_test(tc, test_deletes_during_a_background_merge_are_not_lost);
    tcase_add_test(tc, test_rollback_during_a_background_merge_leaves_no_files);
    tcase_add_test(tc, test_background_merge_error_surfaces_at_a_later_call);
    tcase_add_test(tc, test_optimize_error_in_the_doc_store_copy_names_the_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nxt_run(parallel_suite(), CK_FORK_GETENV); }
