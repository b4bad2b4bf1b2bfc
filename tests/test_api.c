/* API suite: the rules newsidx.h states for every function — NULL
 * out-parameters and handles are refused with NEWSIDX_ERR_INVALID, options
 * structs of an older (smaller) size keep the defaults of the fields they
 * lack, one way to read each call's message, notices for queries that can
 * match nothing or were cut, and the analyzer settings an index keeps. */
#include "newsidx.h"

#include "common.h"

#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef NEWSIDX_SOURCE_DIR
#define NEWSIDX_SOURCE_DIR "."
#endif
#define SAMPLE NEWSIDX_SOURCE_DIR "/tests/data/sample.jsonl"

static char dir[64];

static void setup(void) {
    nxt_tmpdir_into("api", dir, sizeof dir);
}

static void teardown(void) { ck_assert_int_eq(nxt_rm_rf(dir), 0); }

/* Builds an index of the sample archive in dir/idx with the given stemmer. */
static void build_sample(const char *sub, const char *stem, const char *stop) {
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    wo.stem_language = stem;
    wo.stopwords_language = stop;
    newsidx_writer *w;
    ck_assert_msg(newsidx_writer_open(path, &wo, err, sizeof err, &w) == 0, "%s", err);
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(newsidx_ingest_path(w, SAMPLE, NULL, &st), 0);
    ck_assert_uint_eq(st.indexed, 44);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
}

static newsidx_reader *open_sample(const char *sub) {
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    newsidx_reader *r;
    ck_assert_msg(newsidx_reader_open(path, err, sizeof err, &r) == 0, "%s", err);
    return r;
}

START_TEST(test_null_out_parameters_and_handles_are_refused_not_dereferenced) {
    build_sample("idx", NULL, NULL);
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/idx", dir);
    ck_assert_int_eq(newsidx_reader_open(path, err, sizeof err, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(err, "out-parameter") != NULL, "%s", err);
    ck_assert_int_eq(newsidx_reader_open(path, NULL, 0, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_writer_open(path, NULL, NULL, 0, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_analyzer_create(NULL, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_reader_stats(NULL, NULL), NEWSIDX_ERR_INVALID);
    newsidx_reader *r = open_sample("idx");
    ck_assert_int_eq(newsidx_reader_stats(r, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_reader_get(r, "sample-001", 10, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_reader_get(NULL, "sample-001", 10, NULL), NEWSIDX_ERR_INVALID);
    newsidx_doc *d = (newsidx_doc *)1;
    ck_assert_int_eq(newsidx_reader_get(NULL, "x", 1, &d), NEWSIDX_ERR_INVALID);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(newsidx_query_parse(r, "oil", 3, NULL, NULL, NULL, 0, NULL),
                     NEWSIDX_ERR_INVALID);
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, "oil", 3, NULL, NULL, NULL, 0, &q), 0);
    ck_assert_int_eq(newsidx_search(r, q, NULL, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_search_v2(NULL, q, NULL, err, sizeof err, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(err, "no reader") != NULL, "%s", err);
    ck_assert_int_eq(newsidx_doc_date(NULL, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_ingest_path(NULL, SAMPLE, NULL, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_check(NULL, NULL, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_ptr_null(newsidx_reader_stem_language(NULL));
    ck_assert_str_eq(newsidx_writer_errmsg(NULL), "");
    ck_assert_str_eq(newsidx_analyzer_errmsg(NULL), "");
    ck_assert_str_eq(newsidx_results_notice(NULL), "");
    ck_assert_str_eq(newsidx_query_notice(NULL), "");
    newsidx_query_free(q);
    newsidx_reader_close(r);
}
END_TEST

/* Field boundaries of each options struct: every size an older header can
 * have passed (the struct as it ended after each field). */
#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

START_TEST(test_writer_options_of_every_earlier_size_keep_the_later_defaults) {
    static const size_t sizes[] = {
        END_OF(newsidx_writer_options, append),
        END_OF(newsidx_writer_options, ram_budget_bytes),
        END_OF(newsidx_writer_options, stem_language),
        END_OF(newsidx_writer_options, stopwords_language),
        END_OF(newsidx_writer_options, store_fields),
        END_OF(newsidx_writer_options, doc_store_level),
        END_OF(newsidx_writer_options, doc_store_block_bytes),
        END_OF(newsidx_writer_options, merge_factor),
        END_OF(newsidx_writer_options, max_field_bytes),
        END_OF(newsidx_writer_options, no_sync),
        END_OF(newsidx_writer_options, progress_ctx),
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char path[128], err[256];
        snprintf(path, sizeof path, "%s/w%zu", dir, i);
        newsidx_writer_options o;
        newsidx_writer_options_init(&o);
        /* fields past the caller's size hold values that would fail the
         * run if read: an unknown stemmer, store nothing */
        unsigned char *b = (unsigned char *)&o;
        newsidx_writer_options poison;
        memset(&poison, 0, sizeof poison);
        poison.stem_language = "no-such-language";
        poison.stopwords_language = "no-such-language";
        poison.store_fields = 0;
        memcpy(b + sizes[i], (unsigned char *)&poison + sizes[i], sizeof o - sizes[i]);
        o.size = sizes[i];
        if (sizes[i] >= END_OF(newsidx_writer_options, stopwords_language))
            o.stem_language = o.stopwords_language = NULL;
        if (sizes[i] >= END_OF(newsidx_writer_options, store_fields)) o.store_fields = 1;
        newsidx_writer *w;
        ck_assert_msg(newsidx_writer_open(path, &o, err, sizeof err, &w) == 0, "size %zu: %s",
                      sizes[i], err);
        newsidx_field f[2] = {{"id", "a", 1}, {"title", "Oil prices", 10}};
        ck_assert_int_eq(newsidx_writer_add(w, f, 2, NULL), 0);
        ck_assert_int_eq(newsidx_writer_commit(w), 0);
        newsidx_writer_close(w);
        newsidx_reader *r;
        ck_assert_int_eq(newsidx_reader_open(path, err, sizeof err, &r), 0);
        newsidx_doc *d;
        ck_assert_int_eq(newsidx_reader_get(r, "a", 1, &d), 0);
        /* store_fields defaulted to 1: the title is stored */
        ck_assert_ptr_nonnull(newsidx_doc_find(d, "title"));
        newsidx_doc_free(d);
        newsidx_reader_close(r);
    }
}
END_TEST

START_TEST(test_search_query_analyzer_and_ingest_options_of_every_earlier_size_work) {
    build_sample("idx", NULL, NULL);
    newsidx_reader *r = open_sample("idx");
    char err[256];
    /* query options */
    static const size_t qsizes[] = {
        END_OF(newsidx_query_options, size),
        END_OF(newsidx_query_options, max_query_bytes),
        END_OF(newsidx_query_options, max_depth),
        END_OF(newsidx_query_options, max_clauses),
        END_OF(newsidx_query_options, max_expansions),
        END_OF(newsidx_query_options, max_phrase_terms),
    };
    for (size_t i = 0; i < sizeof qsizes / sizeof qsizes[0]; i++) {
        newsidx_query_options o;
        memset(&o, 0, sizeof o); /* past the size: zero limits, which would refuse */
        newsidx_query_options full;
        newsidx_query_options_init(&full);
        memcpy(&o, &full, qsizes[i]);
        o.size = qsizes[i];
        newsidx_query *q;
        ck_assert_msg(newsidx_query_parse(r, "oil price", 9, &o, NULL, err, sizeof err, &q) == 0,
                      "size %zu: %s", qsizes[i], err);
        newsidx_query_free(q);
    }
    /* search options: k past the size is 0 in the caller's struct, so a
     * hit proves the default k (10) was used */
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, "traoré", 7, NULL, NULL, NULL, 0, &q), 0);
    static const size_t ssizes[] = {
        END_OF(newsidx_search_options, size),
        END_OF(newsidx_search_options, k),
        END_OF(newsidx_search_options, offset),
        END_OF(newsidx_search_options, sort),
        END_OF(newsidx_search_options, count_only),
        END_OF(newsidx_search_options, exact_total),
        END_OF(newsidx_search_options, fields),
        END_OF(newsidx_search_options, snippets),
        END_OF(newsidx_search_options, snippet_bytes),
        END_OF(newsidx_search_options, facets),
        END_OF(newsidx_search_options, recency_halflife_days),
        END_OF(newsidx_search_options, title_weight),
        END_OF(newsidx_search_options, body_weight),
        END_OF(newsidx_search_options, no_pruning),
        END_OF(newsidx_search_options, errbuf),
        END_OF(newsidx_search_options, errbuf_size),
        END_OF(newsidx_search_options, max_result_bytes),
    };
    for (size_t i = 0; i < sizeof ssizes / sizeof ssizes[0]; i++) {
        newsidx_search_options o, full;
        memset(&o, 0, sizeof o);
        newsidx_search_options_init(&full);
        memcpy(&o, &full, ssizes[i]);
        o.size = ssizes[i];
        newsidx_results *res;
        ck_assert_msg(newsidx_search_v2(r, q, &o, err, sizeof err, &res) == 0, "size %zu: %s",
                      ssizes[i], err);
        ck_assert_uint_gt(newsidx_results_count(res), 0);
        ck_assert_uint_eq(newsidx_results_count(res), newsidx_results_total(res) < 10
                                                          ? newsidx_results_total(res)
                                                          : 10);
        newsidx_results_free(res);
    }
    newsidx_query_free(q);
    /* analyzer options */
    static const size_t asizes[] = {
        END_OF(newsidx_analyzer_options, size),
        END_OF(newsidx_analyzer_options, stem_language),
        END_OF(newsidx_analyzer_options, stopwords_language),
    };
    for (size_t i = 0; i < sizeof asizes / sizeof asizes[0]; i++) {
        newsidx_analyzer_options o;
        memset(&o, 0, sizeof o);
        o.stem_language = o.stopwords_language = "no-such-language";
        o.size = asizes[i];
        if (asizes[i] >= END_OF(newsidx_analyzer_options, stem_language)) o.stem_language = NULL;
        if (asizes[i] >= END_OF(newsidx_analyzer_options, stopwords_language))
            o.stopwords_language = NULL;
        newsidx_analyzer *a;
        ck_assert_msg(newsidx_analyzer_create_v2(&o, err, sizeof err, &a) == 0, "size %zu: %s",
                      asizes[i], err);
        newsidx_analyzer_free(a);
    }
    /* ingest options */
    static const size_t isizes[] = {
        END_OF(newsidx_ingest_options, size),
        END_OF(newsidx_ingest_options, report),
        END_OF(newsidx_ingest_options, progress),
        END_OF(newsidx_ingest_options, ctx),
        END_OF(newsidx_ingest_options, max_line_bytes),
    };
    for (size_t i = 0; i < sizeof isizes / sizeof isizes[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/i%zu", dir, i);
        newsidx_writer *w;
        ck_assert_int_eq(newsidx_writer_open(path, NULL, NULL, 0, &w), 0);
        newsidx_ingest_options o;
        memset(&o, 0, sizeof o);
        o.size = isizes[i];
        newsidx_ingest_stats st;
        memset(&st, 0, sizeof st);
        ck_assert_msg(newsidx_ingest_path(w, SAMPLE, &o, &st) == 0, "size %zu: %s", isizes[i],
                      newsidx_writer_errmsg(w));
        ck_assert_uint_eq(st.indexed, 44);
        newsidx_writer_close(w);
    }
    newsidx_reader_close(r);
}
END_TEST

START_TEST(test_each_call_gives_its_message_the_one_documented_way) {
    build_sample("idx", NULL, NULL);
    newsidx_reader *r = open_sample("idx");
    char err[256];
    /* reader calls: errbuf */
    newsidx_doc *d;
    ck_assert_int_eq(newsidx_reader_get_v2(r, "nope", 4, err, sizeof err, &d),
                     NEWSIDX_ERR_NOT_FOUND);
    ck_assert_str_eq(err, "no article with id 'nope'");
    ck_assert_int_eq(newsidx_reader_get_v2(r, "sample-001", 10, err, sizeof err, &d), 0);
    ck_assert_str_eq(err, "");
    newsidx_doc_free(d);
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, "oil", 3, NULL, NULL, NULL, 0, &q), 0);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.sort = 42;
    newsidx_results *res;
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, err, sizeof err, &res), NEWSIDX_ERR_INVALID);
    ck_assert_str_eq(err, "unknown sort 42");
    /* the older entry point still fills the options' errbuf */
    char old[256] = "";
    so.errbuf = old;
    so.errbuf_size = sizeof old;
    ck_assert_int_eq(newsidx_search(r, q, &so, &res), NEWSIDX_ERR_INVALID);
    ck_assert_str_eq(old, "unknown sort 42");
    newsidx_query_free(q);
    newsidx_reader_close(r);
    /* creating an analyzer: errbuf; analyzing: the handle */
    newsidx_analyzer_options ao;
    newsidx_analyzer_options_init(&ao);
    ao.stem_language = "klingon";
    newsidx_analyzer *a;
    ck_assert_int_eq(newsidx_analyzer_create_v2(&ao, err, sizeof err, &a),
                     NEWSIDX_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err, "no stemmer for 'klingon'") != NULL, "%s", err);
    ck_assert_int_eq(newsidx_analyzer_create_v2(NULL, err, sizeof err, &a), 0);
    ck_assert_int_eq(newsidx_analyze(a, "x", 1, NULL, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(newsidx_analyzer_errmsg(a), "no callback") != NULL, "%s",
                  newsidx_analyzer_errmsg(a));
    newsidx_analyzer_free(a);
    /* a writer call: the handle keeps the message */
    char path[128];
    snprintf(path, sizeof path, "%s/w", dir);
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(path, NULL, err, sizeof err, &w), 0);
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(newsidx_ingest_path(w, "/nonexistent/articles.jsonl", NULL, &st),
                     NEWSIDX_ERR_NOT_FOUND);
    ck_assert_msg(strstr(newsidx_writer_errmsg(w), "/nonexistent/articles.jsonl") != NULL, "%s",
                  newsidx_writer_errmsg(w));
    newsidx_writer_close(w);
}
END_TEST

static const char *notice_of(newsidx_reader *r, const char *text, uint32_t max_expansions) {
    static char buf[512];
    newsidx_query_options qo;
    newsidx_query_options_init(&qo);
    qo.max_expansions = max_expansions;
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, text, strlen(text), &qo, NULL, NULL, 0, &q), 0);
    newsidx_results *res;
    ck_assert_int_eq(newsidx_search_v2(r, q, NULL, NULL, 0, &res), 0);
    snprintf(buf, sizeof buf, "%s", newsidx_results_notice(res));
    newsidx_results_free(res);
    newsidx_query_free(q);
    return buf;
}

START_TEST(test_queries_that_match_nothing_or_were_cut_say_so) {
    build_sample("idx", "english", "english");
    newsidx_reader *r = open_sample("idx");
    ck_assert_str_eq(notice_of(r, "", 1024), "the query is empty: nothing to search");
    ck_assert_str_eq(notice_of(r, "   ", 1024), "the query is empty: nothing to search");
    ck_assert_msg(strstr(notice_of(r, "the of and", 1024), "stopword") != NULL, "%s",
                  notice_of(r, "the of and", 1024));
    ck_assert_str_eq(notice_of(r, "traore", 1024), "");
    /* p* has more than 3 terms in the sample */
    ck_assert_str_eq(notice_of(r, "p*", 3),
                     "p* matches more than 3 terms: searched the first 3 (max_expansions)");
    ck_assert_str_eq(notice_of(r, "p*", 100000), "");
    newsidx_reader_close(r);
}
END_TEST

START_TEST(test_an_index_reports_and_keeps_its_analyzer_settings) {
    build_sample("idx", "english", NULL);
    newsidx_reader *r = open_sample("idx");
    ck_assert_str_eq(newsidx_reader_stem_language(r), "english");
    ck_assert_ptr_null(newsidx_reader_stopwords_language(r));
    newsidx_reader_close(r);
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/idx", dir);
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    wo.append = 1;
    wo.stem_language = "french";
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(path, &wo, err, sizeof err, &w), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(err, "built with stemming 'english', not 'french'") != NULL, "%s", err);
    wo.stem_language = "English"; /* the same language: fine */
    ck_assert_msg(newsidx_writer_open(path, &wo, err, sizeof err, &w) == 0, "%s", err);
    newsidx_writer_close(w);
    wo.stem_language = NULL; /* not named: the index's */
    wo.stopwords_language = "english";
    ck_assert_int_eq(newsidx_writer_open(path, &wo, err, sizeof err, &w), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(err, "built with stopwords 'none', not 'english'") != NULL, "%s", err);
}
END_TEST

/* Indexes lines [from, to) of the sample archive into dir/sub. */
static void build_part(const char *sub, int from, int to) {
    char path[128], part[160], line[8192];
    snprintf(part, sizeof part, "%s/%s.jsonl", dir, sub);
    FILE *in = fopen(SAMPLE, "r"), *out = fopen(part, "w");
    ck_assert(in && out);
    for (int i = 0; fgets(line, sizeof line, in); i++)
        if (i >= from && i < to) fputs(line, out);
    fclose(in);
    fclose(out);
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(path, NULL, NULL, 0, &w), 0);
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(newsidx_ingest_path(w, part, NULL, &st), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
}

typedef struct scored {
    char id[64];
    double score;
} scored;

static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Every hit of q (ids and scores, sorted), the total and the facets, as text. */
static void describe(newsidx_reader *r, const char *text, char *buf, size_t cap) {
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, text, strlen(text), NULL, NULL, NULL, 0, &q), 0);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.k = 100;
    so.snippets = 0;
    so.facets = NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH;
    newsidx_results *res;
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, NULL, 0, &res), 0);
    size_t n = newsidx_results_count(res), len = 0;
    scored *h = calloc(n + 1, sizeof *h);
    for (size_t i = 0; i < n; i++) {
        snprintf(h[i].id, sizeof h[i].id, "%s", newsidx_hit_id(res, i));
        /* scores to 1e-6, as the promise says */
        h[i].score = round(newsidx_hit_score(res, i) * 1e6) / 1e6;
    }
    qsort(h, n, sizeof *h, cmp_scored);
    len += (size_t)snprintf(buf + len, cap - len, "total %llu:",
                            (unsigned long long)newsidx_results_total(res));
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, " %s=%.6f", h[i].id, h[i].score);
    unsigned kinds[3] = {NEWSIDX_FACET_SOURCE, NEWSIDX_FACET_YEAR, NEWSIDX_FACET_MONTH};
    for (int k = 0; k < 3 && len < cap; k++)
        for (size_t j = 0; j < newsidx_facet_count(res, kinds[k]) && len < cap; j++) {
            const char *label;
            uint64_t c;
            newsidx_facet_value(res, kinds[k], j, &label, &c);
            len += (size_t)snprintf(buf + len, cap - len, " [%s %llu]", label, (unsigned long long)c);
        }
    free(h);
    newsidx_results_free(res);
    newsidx_query_free(q);
}

START_TEST(test_several_indexes_search_as_one_index_of_the_same_articles) {
    build_part("all", 0, 1000);
    build_part("p1", 0, 15);
    build_part("p2", 15, 30);
    build_part("p3", 30, 1000);
    const char *dirs[3];
    char d1[128], d2[128], d3[128];
    snprintf(d1, sizeof d1, "%s/p1", dir);
    snprintf(d2, sizeof d2, "%s/p2", dir);
    snprintf(d3, sizeof d3, "%s/p3", dir);
    dirs[0] = d1, dirs[1] = d2, dirs[2] = d3;
    newsidx_reader *multi, *one = open_sample("all");
    char err[256];
    ck_assert_msg(newsidx_reader_open_multi(dirs, 3, err, sizeof err, &multi) == 0, "%s", err);
    static const char *const queries[] = {
        "traore", "putin traore", "traore OR heat OR chip", "\"heat wave\"", "chip NEAR/5 prices",
        "pri*", "traore~1", "title:paris", "date:2024-06..2024-07 (heat OR canicule)",
        "-traore", "source:(harbor OR gazette)"};
    static char a[16384], b[16384];
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        describe(multi, queries[i], a, sizeof a);
        describe(one, queries[i], b, sizeof b);
        ck_assert_msg(strcmp(a, b) == 0, "[%s]\nseveral: %s\none:     %s", queries[i], a, b);
    }
    newsidx_doc *d;
    ck_assert_int_eq(newsidx_reader_get(multi, "sample-040", 10, &d), 0);
    newsidx_doc_free(d);
    newsidx_stats st;
    newsidx_reader_stats(multi, &st);
    ck_assert_uint_eq(st.docs, 44);
    newsidx_reader *none;
    ck_assert_int_eq(newsidx_reader_refresh(multi, err, sizeof err, &none), NEWSIDX_ERR_INVALID);
    newsidx_reader_close(multi);
    newsidx_reader_close(one);
    /* analyzers must agree */
    build_sample("stemmed", "english", NULL);
    char d4[128];
    snprintf(d4, sizeof d4, "%s/stemmed", dir);
    dirs[1] = d4;
    ck_assert_int_eq(newsidx_reader_open_multi(dirs, 2, err, sizeof err, &multi),
                     NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(err, "must share their analyzer") != NULL, "%s", err);
    /* ... as stemmers, not as names: "en" and "English" are "english" */
    build_sample("stemmed_en", "en", "English");
    build_sample("stemmed_eng", "English", "en");
    char d5[128], d6[128];
    snprintf(d5, sizeof d5, "%s/stemmed_en", dir);
    snprintf(d6, sizeof d6, "%s/stemmed_eng", dir);
    const char *same[2] = {d5, d6};
    ck_assert_msg(newsidx_reader_open_multi(same, 2, err, sizeof err, &multi) == 0, "%s", err);
    newsidx_reader_close(multi);
    /* an index named twice would count its articles twice */
    char d5b[160];
    snprintf(d5b, sizeof d5b, "%s/./stemmed_en/", dir);
    const char *twice[3] = {d5, d6, d5b};
    ck_assert_int_eq(newsidx_reader_open_multi(twice, 3, err, sizeof err, &multi),
                     NEWSIDX_ERR_INVALID);
    ck_assert_ptr_null(multi);
    ck_assert_msg(strstr(err, "same index") && strstr(err, d5b), "%s", err);
}
END_TEST

/* Writes articles [from, to) of a made-up archive into dir/sub, one day
 * apart, so that date order (doc order in every index) is article order.
 * Bodies mix a few words with filler of varying length: phrase and term
 * frequencies and lengths spread the scores; every 37th article repeats an
 * earlier one word for word, so equal scores fall in different members. A
 * few articles of the middle member have a title. */
static void build_ranked_part(const char *sub, int from, int to) {
    static const char *const words[] = {"alpha", "beta", "gamma", "delta"};
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    wo.threads = 1;
    wo.no_sync = 1;
    newsidx_writer *w;
    ck_assert_msg(newsidx_writer_open(path, &wo, err, sizeof err, &w) == 0, "%s", err);
    for (int i = from; i < to; i++) {
        int src = i % 37 == 36 ? i / 2 : i; /* a copy of an earlier article's body */
        uint32_t x = (uint32_t)src * 2654435761u + 12345u;
        char body[2048] = "", id[32], date[32];
        size_t len = 0;
        int n = 3 + (int)(x % 40);
        for (int k = 0; k < n; k++) {
            x = x * 1103515245u + 12345u;
            uint32_t r = (x >> 16) % 10;
            const char *wd = r < 4 ? words[r] : r < 6 ? "alpha beta" : "filler";
            len += (size_t)snprintf(body + len, sizeof body - len, "%s%s", k ? " " : "", wd);
        }
        if (i == to - 1 && to == 600) { /* the archive's best phrase hit, in its last member */
            len = 0;
            for (int k = 0; k < 12; k++)
                len += (size_t)snprintf(body + len, sizeof body - len, "alpha beta ");
        }
        snprintf(id, sizeof id, "r%03d", i);
        time_t t = (time_t)1577836800 + (time_t)i * 86400; /* 2020-01-01 + i days */
        struct tm tm;
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        newsidx_field f[4] = {{"id", id, strlen(id)}, {"body", body, len}, {"date", date, strlen(date)},
                              {"title", "alpha beta news", 15}};
        /* a phrase in two fields is an OR of two (ranked by MaxScore), in
         * one field the whole tree: the middle member has both */
        ck_assert_int_eq(newsidx_writer_add(w, f, i >= 200 && i < 450 && i % 50 == 7 ? 4 : 3, NULL), 0);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
}

/* The top k of q with the total not wanted (the pruned runs), as
 * "id=score" text; no_pruning ranks every match instead. */
static void describe_top(newsidx_reader *r, const char *text, uint32_t k, int no_pruning,
                         char *buf, size_t cap) {
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, text, strlen(text), NULL, NULL, NULL, 0, &q), 0);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.k = k;
    so.snippets = 0;
    so.fields = "";
    so.exact_total = 0;
    so.no_pruning = no_pruning;
    newsidx_results *res;
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, NULL, 0, &res), 0);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < newsidx_results_count(res) && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, " %s=%.6f", newsidx_hit_id(res, i),
                                newsidx_hit_score(res, i));
    newsidx_results_free(res);
    newsidx_query_free(q);
}

/* The pruned top k of a set of indexes carries the bound reached in one
 * member into the next (a phrase's first match in a member is sought above
 * it): what the set returns must still be what one index of the same
 * articles returns, and what ranking every match returns. */
START_TEST(test_several_indexes_rank_the_top_k_as_one_index) {
    build_ranked_part("all", 0, 600);
    build_ranked_part("p1", 0, 200);
    build_ranked_part("p2", 200, 450);
    build_ranked_part("p3", 450, 600);
    char d1[128], d2[128], d3[128], err[256];
    snprintf(d1, sizeof d1, "%s/p1", dir);
    snprintf(d2, sizeof d2, "%s/p2", dir);
    snprintf(d3, sizeof d3, "%s/p3", dir);
    const char *dirs[3] = {d1, d2, d3};
    newsidx_reader *multi, *one = open_sample("all");
    ck_assert_msg(newsidx_reader_open_multi(dirs, 3, err, sizeof err, &multi) == 0, "%s", err);
    static const char *const queries[] = {"\"alpha beta\"", "\"beta gamma\"", "\"alpha beta gamma\"",
                                          "\"alpha gamma\"~3", "alpha", "delta",
                                          "alpha beta", "gamma OR delta", "\"beta alpha\"", "body:\"alpha beta\""};
    static const uint32_t ks[] = {1, 3, 10, 40};
    static char a[4096], b[4096], c[4096];
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            describe_top(multi, queries[i], ks[j], 0, a, sizeof a);
            describe_top(one, queries[i], ks[j], 0, b, sizeof b);
            describe_top(multi, queries[i], ks[j], 1, c, sizeof c);
            ck_assert_msg(strcmp(a, b) == 0, "[%s] k=%u\nseveral: %s\none:     %s", queries[i],
                          ks[j], a, b);
            ck_assert_msg(strcmp(a, c) == 0, "[%s] k=%u\npruned:   %s\nunpruned: %s", queries[i],
                          ks[j], a, c);
        }
    /* the archive's best phrase hit in the body is the last article of the
     * last member */
    describe_top(multi, "body:\"alpha beta\"", 1, 0, a, sizeof a);
    ck_assert_msg(strncmp(a, " r599=", 6) == 0, "%s", a);
    newsidx_reader_close(multi);
    newsidx_reader_close(one);
}
END_TEST

START_TEST(test_a_result_set_is_bounded_by_its_byte_budget) {
    build_sample("idx", NULL, NULL);
    newsidx_reader *r = open_sample("idx");
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, "the OR of OR and", 16, NULL, NULL, NULL, 0, &q), 0);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    ck_assert_uint_eq(so.max_result_bytes, (size_t)64 << 20);
    so.k = 1000;
    so.fields = "*";
    so.snippets = 3;
    newsidx_results *res;
    char err[512];
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, err, sizeof err, &res), 0);
    ck_assert_uint_gt(newsidx_results_count(res), 10);
    newsidx_results_free(res);
    so.max_result_bytes = 20000; /* more than one arena chunk (16 KiB) */
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, err, sizeof err, &res), NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_null(res);
    ck_assert_msg(strstr(err, "more than max_result_bytes (20000 bytes)") != NULL, "%s", err);
    /* ids alone fit */
    so.fields = "";
    so.snippets = 0;
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, err, sizeof err, &res), 0);
    newsidx_results_free(res);
    newsidx_query_free(q);
    newsidx_reader_close(r);
}
END_TEST

static Suite *api_suite(void) {
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_null_out_parameters_and_handles_are_refused_not_dereferenced);
    tcase_add_test(tc, test_writer_options_of_every_earlier_size_keep_the_later_defaults);
    tcase_add_test(tc, test_search_query_analyzer_and_ingest_options_of_every_earlier_size_work);
    tcase_add_test(tc, test_each_call_gives_its_message_the_one_documented_way);
    tcase_add_test(tc, test_queries_that_match_nothing_or_were_cut_say_so);
    tcase_add_test(tc, test_an_index_reports_and_keeps_its_analyzer_settings);
    tcase_add_test(tc, test_several_indexes_search_as_one_index_of_the_same_articles);
    tcase_add_test(tc, test_several_indexes_rank_the_top_k_as_one_index);
    tcase_add_test(tc, test_a_result_set_is_bounded_by_its_byte_budget);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nxt_run(api_suite(), CK_FORK_GETENV); }
