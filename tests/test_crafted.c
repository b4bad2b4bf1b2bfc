/* test_crafted — every field of docs/FORMAT.md set to extreme values in a
 * real segment, with the footer's XXH3 recomputed so that only the
 * decoders' own checks stand between the bytes and the memory (the fields
 * and how each is edited: tests/fuzz/nx_crafted.h). For each edit the
 * index is opened and used through the public API as an application
 * would: stats, a query of every class with source, year and month facets,
 * snippets and date sort, get, check. Asserted: nothing crashes (the suite
 * runs under ASan + UBSan), no call fails with an undocumented code or runs
 * out of memory on a declared size, and every failure's message names the
 * damaged file. */
#include "fuzz/nx_crafted.h"

#include <check.h>
#include <errno.h>
#include <sys/resource.h>

static char g_dir[] = "/tmp/nx_crafted_XXXXXX";
static nxc_index g_x;
static bool g_built;

/* The crafted index (nxc_build): built once, its files restored before
 * every test (a failed assertion leaves its test without restoring). */
static void build(void) {
    if (g_built) {
        ck_assert_int_eq(nxc_restore(&g_x), 0);
        return;
    }
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    ck_assert_int_eq(nxc_build(&g_x, g_dir), 0);
    g_built = true;
}

static bool names_a_file(const char *msg) {
    return strstr(msg, "seg_") || strstr(msg, "MANIFEST") || strstr(msg, g_dir);
}

typedef struct outcome {
    int open_rc;   /* the reader's */
    int failures;  /* calls that failed after open */
    int hits;      /* hits of the undamaged-index sanity query */
    int problems;  /* check's */
} outcome;

static const char *g_case;

static void on_problem(void *ctx, const char *file, uint64_t off, const char *msg) {
    (void)off;
    ck_assert_msg(file && msg && msg[0], "%s: check reported an empty problem", g_case);
    ++*(int *)ctx;
}

/* Every failure names the file: open's, get's, and the search's (its
 * messages name the segment's postings, positions or dictionary file). */
static void assert_failure(int rc, const char *what, const char *msg, bool file_named) {
    ck_assert_msg(rc == NEWSIDX_ERR_CORRUPT || rc == NEWSIDX_ERR_LIMIT || rc == NEWSIDX_ERR_VERSION ||
                      rc == NEWSIDX_ERR_NOT_FOUND || rc == NEWSIDX_ERR_UNSUPPORTED,
                  "%s: %s returned %d (%s)", g_case, what, rc, msg);
    ck_assert_msg(!file_named || names_a_file(msg),
                  "%s: %s failed without naming the file: '%s'", g_case, what, msg);
}

static const char *const queries[] = {
    "market",                 /* term */
    "market price",           /* AND */
    "market OR zebra",        /* OR */
    "\"market price\"",       /* phrase */
    "market NEAR/3 price",    /* proximity */
    "mar*",                   /* prefix */
    "markte~1",               /* fuzzy */
    "title:vote",             /* field */
    "date:2021..2023 market", /* date range */
    "quokka zebra",
    "source:source",
};

static outcome exercise(void) {
    outcome o = {0};
    newsidx_reader *r = NULL;
    char err[1024] = "";
    o.open_rc = newsidx_reader_open(g_dir, err, sizeof err, &r);
    if (o.open_rc) {
        assert_failure(o.open_rc, "open", err, true);
        ck_assert_msg(names_a_file(err), "%s: open failed without naming the file: '%s'", g_case, err);
    } else {
        newsidx_stats st;
        ck_assert_int_eq(newsidx_reader_stats(r, &st), 0);
        for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
            newsidx_query *q = NULL;
            int rc = newsidx_query_parse(r, queries[i], strlen(queries[i]), NULL, NULL, err, sizeof err, &q);
            if (rc == NEWSIDX_ERR_UNSUPPORTED) {
                /* a manifest naming an unknown stemmer opens; parsing
                 * then fails (lib/search/query_parse.c says so without
                 * the file's name) */
                o.failures++;
                continue;
            }
            if (rc) {
                o.failures++;
                assert_failure(rc, queries[i], err, true);
                continue;
            }
            for (int mode = 0; mode < 2; mode++) {
                newsidx_search_options so;
                newsidx_search_options_init(&so);
                so.k = 5;
                so.fields = "*";
                so.snippets = 2;
                so.sort = mode ? NEWSIDX_SORT_DATE_DESC : NEWSIDX_SORT_SCORE;
                so.facets = NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH;
                newsidx_results *res = NULL;
                rc = newsidx_search_v2(r, q, &so, err, sizeof err, &res);
                if (rc) {
                    o.failures++;
                    assert_failure(rc, queries[i], err, true);
                } else if (i == 0 && mode == 0) {
                    o.hits = (int)newsidx_results_count(res);
                }
                newsidx_results_free(res);
            }
            newsidx_query_free(q);
        }
        static const char *const ids[] = {"g-0", "g-7", "g-30", "g-299", "nope"};
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            newsidx_doc *d = NULL;
            int rc = newsidx_reader_get_v2(r, ids[i], strlen(ids[i]), err, sizeof err, &d);
            if (rc && !(rc == NEWSIDX_ERR_NOT_FOUND && i == 4)) {
                o.failures++;
                assert_failure(rc, "get", err, rc != NEWSIDX_ERR_NOT_FOUND);
            }
            newsidx_doc_free(d);
        }
        newsidx_reader_close(r);
    }
    int rc = newsidx_check(g_dir, on_problem, &o.problems);
    ck_assert_msg(rc == 0 || rc == NEWSIDX_ERR_CORRUPT, "%s: check returned %d", g_case, rc);
    ck_assert_msg((rc == 0) == (o.problems == 0), "%s: check returned %d with %d problems", g_case, rc,
                  o.problems);
    return o;
}

START_TEST(test_the_undamaged_index_answers_every_query) {
    build();
    g_case = "undamaged";
    outcome o = exercise();
    ck_assert_int_eq(o.open_rc, 0);
    ck_assert_int_eq(o.failures, 0);
    ck_assert_int_eq(o.problems, 0);
    ck_assert_int_eq(o.hits, 5);
}
END_TEST

START_TEST(test_every_documented_field_is_located) {
    build();
    for (int id = 0; id < NXC_N_FIELDS; id++) {
        nxc_loc L;
        ck_assert_msg(nxc_locate(&g_x, id, NXC_POST, &L) == 0, "field %s not found in the segment",
                      nxc_field_names[id]);
    }
}
END_TEST

/* Runs every value of every field of one group; returns the cases. */
static unsigned run_fields(int from, int to, bool every_footer) {
    build();
    unsigned cases = 0, refused = 0;
    char name[256];
    for (int id = from; id < to; id++) {
        for (int ff = 0; ff < (every_footer ? NXC_N_FILES : 1); ff++) {
            nxc_loc L;
            ck_assert_int_eq(nxc_locate(&g_x, id, every_footer ? ff : NXC_POST, &L), 0);
            uint64_t v[16];
            size_t nv = nxc_values(id, &L, v);
            for (size_t k = 0; k < nv; k++) {
                snprintf(name, sizeof name, "%s (%s) = %llu", nxc_field_names[id],
                         L.file == NXC_MANIFEST ? "MANIFEST" : nxc_file_ext[L.file],
                         (unsigned long long)v[k]);
                g_case = name;
                ck_assert_int_eq(nxc_apply(&g_x, &L, v[k]), 0);
                outcome o = exercise();
                refused += o.open_rc != 0 || o.failures != 0 || o.problems != 0;
                ck_assert_int_eq(nxc_restore(&g_x), 0);
                cases++;
            }
        }
    }
    fprintf(stderr, "fields %s..%s: %u cases, %u noticed\n", nxc_field_names[from],
            nxc_field_names[to - 1], cases, refused);
    return cases;
}

START_TEST(test_footer_fields_at_extremes_in_every_file) {
    run_fields(NXC_F_footer_magic, NXC_F_manifest_magic, true);
}
END_TEST

START_TEST(test_manifest_fields_at_extremes) { run_fields(NXC_F_manifest_magic, NXC_F_post_term_max_tf, false); }
END_TEST

START_TEST(test_postings_fields_at_extremes) { run_fields(NXC_F_post_term_max_tf, NXC_F_pos_pfor_b, false); }
END_TEST

START_TEST(test_positions_fields_at_extremes) { run_fields(NXC_F_pos_pfor_b, NXC_F_termdict_magic, false); }
END_TEST

START_TEST(test_dictionary_fields_at_extremes) { run_fields(NXC_F_termdict_magic, NXC_F_norm_magic, false); }
END_TEST

START_TEST(test_norms_columns_and_tombstone_fields_at_extremes) {
    run_fields(NXC_F_norm_magic, NXC_F_docs_magic, false);
}
END_TEST

START_TEST(test_doc_store_fields_at_extremes) { run_fields(NXC_F_docs_magic, NXC_N_FIELDS, false); }
END_TEST

/* The two cases of issue 11, by name: they crashed before the checks. */
START_TEST(test_source_ordinal_past_the_table_is_refused_at_open) {
    build();
    nxc_loc L;
    ck_assert_int_eq(nxc_locate(&g_x, NXC_F_col_source_ord_first, NXC_POST, &L), 0);
    g_case = "source ordinal 0x20000000";
    ck_assert_int_eq(nxc_apply(&g_x, &L, L.width == 4 ? 0x20000000u : L.width == 2 ? 0xffffu : 0xffu), 0);
    outcome o = exercise();
    ck_assert_int_eq(o.open_rc, NEWSIDX_ERR_CORRUPT);
    ck_assert_int_eq(nxc_restore(&g_x), 0);
}
END_TEST

START_TEST(test_wrapping_skip_block_length_is_refused) {
    build();
    nxc_loc L;
    ck_assert_int_eq(nxc_locate(&g_x, NXC_F_skip_block_bytes, NXC_POST, &L), 0);
    g_case = "skip block length 2^64 - 2^46";
    ck_assert_int_eq(nxc_apply(&g_x, &L, UINT64_MAX - ((uint64_t)1 << 46) + 1), 0);
    outcome o = exercise();
    ck_assert_int_eq(o.open_rc, 0);
    ck_assert_int_gt(o.failures + o.problems, 0);
    ck_assert_int_eq(nxc_restore(&g_x), 0);
}
END_TEST

static void save_message(void *ctx, const char *file, uint64_t off, const char *msg) {
    (void)file;
    (void)off;
    snprintf(ctx, 512, "%s", msg);
}

/* An index that cannot be read (here: no file descriptor left, EMFILE,
 * which root cannot bypass as it does EACCES) is not damage: check returns
 * the I/O error, and its message, naming the path and the errno text, goes
 * to the callback instead of being dropped. */
START_TEST(test_check_reports_an_io_error_with_the_file_and_errno_text) {
    build();
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = dup(0); /* the lowest free descriptor */
    ck_assert_int_ge(lowest, 0);
    close(lowest);
    low = old;
    low.rlim_cur = (rlim_t)lowest;
    char msg[512] = "";
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int rc = newsidx_check(g_dir, save_message, msg);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    ck_assert_int_eq(rc, NEWSIDX_ERR_IO);
    ck_assert_msg(strstr(msg, g_dir) && strstr(msg, strerror(EMFILE)), "message: '%s'", msg);
}
END_TEST

static void teardown(void) {
    if (g_built) {
        nxc_free(&g_x);
        nxf_rmtree(g_dir);
        g_built = false;
    }
}

int main(void) {
    Suite *s = suite_create("crafted");
    TCase *tc = tcase_create("fields");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_the_undamaged_index_answers_every_query);
    tcase_add_test(tc, test_every_documented_field_is_located);
    tcase_add_test(tc, test_source_ordinal_past_the_table_is_refused_at_open);
    tcase_add_test(tc, test_wrapping_skip_block_length_is_refused);
    tcase_add_test(tc, test_check_reports_an_io_error_with_the_file_and_errno_text);
    tcase_add_test(tc, test_footer_fields_at_extremes_in_every_file);
    tcase_add_test(tc, test_manifest_fields_at_extremes);
    tcase_add_test(tc, test_postings_fields_at_extremes);
    tcase_add_test(tc, test_positions_fields_at_extremes);
    tcase_add_test(tc, test_dictionary_fields_at_extremes);
    tcase_add_test(tc, test_norms_columns_and_tombstone_fields_at_extremes);
    tcase_add_test(tc, test_doc_store_fields_at_extremes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    teardown();
    return failed ? 1 : 0;
}
