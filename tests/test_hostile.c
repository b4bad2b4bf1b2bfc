/* Hostile queries and inputs (issue 5, docs/HARDENING.md "Hostile queries"
 * and "Hostile ingest"). Queries built to exhaust the parser or the engine
 * (100,000 nested parentheses, 100,000 terms, 10 MB of text, a prefix that
 * matches every term, fuzzy on a 200-letter word, a 10,000-word phrase)
 * must end with a result or NEWSIDX_ERR_LIMIT and a message naming the
 * limit, whether the limits are the defaults or raised; inputs built to
 * exhaust ingest (random bytes, JSON nested 100,000 deep, a line longer
 * than max_line_bytes, a symlink loop, a FIFO, an unreadable file) give
 * per-item reports while every good article around them is indexed.
 *
 * The unit tests use a small generated index. The 1 s / 256 MB figures of
 * the issue are measured on the 1,000,000-article archive with
 *   test_hostile --measure INDEX_DIR
 * (scripts/hostile.sh): each query in its own child process, wall time and
 * peak RSS from wait4(). Nothing here is a timing assertion except a 10 s
 * hang guard. */
#include "fuzz/fuzz_common.h"
#include "ingest/ingest.h"

#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

/* ---- hostile query texts ------------------------------------------------- */

enum {
    HQ_NESTED,  /* 100,000 '(' + a + 100,000 ')' */
    HQ_TERMS,   /* 100,000 distinct-ish words */
    HQ_10MB,    /* 10 MB of words */
    HQ_PREFIX,  /* a* */
    HQ_FUZZY,   /* 200 letters ~2 */
    HQ_PHRASE,  /* "w1 ... w10000" */
    HQ_OR_PREFIXES, /* 1,000 prefixes OR'ed: expansion of every one */
    HQ_FUZZY64, /* 64 letters ~2: the longest word a term can be */
    HQ_COUNT
};
static const char *const hq_names[HQ_COUNT] = {
    "100,000 nested parentheses", "100,000 terms", "10 MB query", "a* (every term in a)",
    "fuzzy~2 on a 200-letter word", "phrase of 10,000 words", "1,000 prefixes OR'ed", "fuzzy~2 on a 64-letter word",
};

/* Builds hostile query k into a malloc'd string. */
static char *hostile_query(int k, size_t *len) {
    size_t cap = 11u << 20, n = 0;
    char *q = malloc(cap);
    if (!q) return NULL;
    switch (k) {
    case HQ_NESTED:
        memset(q, '(', 100000);
        n = 100000;
        q[n++] = 'a';
        memset(q + n, ')', 100000);
        n += 100000;
        break;
    case HQ_TERMS:
    case HQ_PHRASE: {
        int words = k == HQ_TERMS ? 100000 : 10000;
        if (k == HQ_PHRASE) q[n++] = '"';
        for (int i = 0; i < words; i++)
            n += (size_t)sprintf(q + n, "%s%s", i ? " " : "", nxf_words[(i * 7) % 64]);
        if (k == HQ_PHRASE) q[n++] = '"';
        break;
    }
    case HQ_10MB:
        while (n + 16 < (10u << 20)) n += (size_t)sprintf(q + n, "%s ", nxf_words[n % 64]);
        break;
    case HQ_PREFIX:
        n = (size_t)sprintf(q, "a*");
        break;
    case HQ_FUZZY:
    case HQ_FUZZY64:
        for (int i = 0; i < (k == HQ_FUZZY ? 200 : 64); i++) q[n++] = (char)('a' + (i * 7) % 26);
        n += (size_t)sprintf(q + n, "~2");
        break;
    case HQ_OR_PREFIXES:
        for (int i = 0; i < 1000; i++)
            n += (size_t)sprintf(q + n, "%s%c%c*", i ? " OR " : "", 'a' + i % 26, 'a' + (i / 26) % 26);
        break;
    }
    q[n] = '\0';
    *len = n;
    return q;
}

/* Parses and runs a query; returns the first error, or 0 with *total. */
static int run_query(const newsidx_reader *r, const char *q, size_t len,
                     const newsidx_query_options *qo, uint64_t *total, char *err, size_t cap) {
    newsidx_query *pq = NULL;
    err[0] = '\0';
    int rc = newsidx_query_parse(r, q, len, qo, NULL, err, cap, &pq);
    if (rc != 0) return rc;
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    newsidx_results *res = NULL;
    rc = newsidx_search(r, pq, &so, &res);
    if (rc == 0) *total = newsidx_results_total(res);
    else snprintf(err, cap, "search: %s", newsidx_strerror(rc));
    newsidx_results_free(res);
    newsidx_query_free(pq);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- unit tests on a small index -------------------------------------------- */

static char g_dir[512];
static newsidx_reader *open_small(void) {
    newsidx_reader *r = NULL;
    ck_assert_int_eq(newsidx_reader_open(g_dir, NULL, 0, &r), 0);
    return r;
}

/* Every hostile query under the default limits: a result or LIMIT with a
 * message naming the limit, well within a hang guard. */
START_TEST(test_hostile_queries_end_with_a_result_or_a_limit_error_by_default) {
    newsidx_reader *r = open_small();
    for (int k = 0; k < HQ_COUNT; k++) {
        size_t len;
        char *q = hostile_query(k, &len);
        ck_assert_ptr_nonnull(q);
        uint64_t total = 0;
        char err[512];
        double t0 = now_s();
        int rc = run_query(r, q, len, NULL, &total, err, sizeof err);
        double dt = now_s() - t0;
        /* A word longer than NEWSIDX_MAX_TERM_BYTES cannot be fuzzy-matched
         * (no term is that long): a syntax error that says so. */
        if (k == HQ_FUZZY && rc == NEWSIDX_ERR_SYNTAX)
            ck_assert_msg(strstr(err, "at most 64 bytes") != NULL, "%s: %s", hq_names[k], err);
        else
            ck_assert_msg(rc == 0 || rc == NEWSIDX_ERR_LIMIT, "%s: %d %s", hq_names[k], rc, err);
        if (rc == NEWSIDX_ERR_LIMIT) ck_assert_msg(strstr(err, "max_") != NULL, "%s: %s", hq_names[k], err);
        ck_assert_msg(dt < 10, "%s took %.1f s", hq_names[k], dt);
        free(q);
    }
    newsidx_reader_close(r);
}
END_TEST

/* Each limit, raised past the query's size, lets the next limit (or the
 * engine) answer: the parser never recurses without a bound. */
START_TEST(test_each_query_limit_is_named_and_configurable) {
    newsidx_reader *r = open_small();
    newsidx_query_options qo;
    size_t len;
    uint64_t total;
    char err[512];
    char *nested = hostile_query(HQ_NESTED, &len);
    newsidx_query_options_init(&qo);
    ck_assert_int_eq(run_query(r, nested, len, &qo, &total, err, sizeof err), NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err, "max_query_bytes"));
    qo.max_query_bytes = 16u << 20;
    ck_assert_int_eq(run_query(r, nested, len, &qo, &total, err, sizeof err), NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err, "max_depth"));
    /* 1,000 levels allowed and present: parses and matches like plain "a". */
    newsidx_query_options_init(&qo);
    qo.max_depth = 1000;
    char deep[2101];
    memset(deep, '(', 1000);
    memcpy(deep + 1000, "market", 6);
    memset(deep + 1006, ')', 1000);
    uint64_t plain = 0;
    ck_assert_int_eq(run_query(r, "market", 6, NULL, &plain, err, sizeof err), 0);
    ck_assert_int_eq(run_query(r, deep, 2006, &qo, &total, err, sizeof err), 0);
    ck_assert_uint_eq(total, plain);
    ck_assert_uint_gt(plain, 0);
    free(nested);

    char *terms = hostile_query(HQ_TERMS, &len);
    newsidx_query_options_init(&qo);
    qo.max_query_bytes = 16u << 20;
    ck_assert_int_eq(run_query(r, terms, len, &qo, &total, err, sizeof err), NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err, "max_clauses"));
    free(terms);

    char *phrase = hostile_query(HQ_PHRASE, &len);
    ck_assert_int_eq(run_query(r, phrase, len, &qo, &total, err, sizeof err), NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(err, "max_phrase_terms"));
    qo.max_phrase_terms = 20000;
    qo.max_clauses = 20000;
    int rc = run_query(r, phrase, len, &qo, &total, err, sizeof err);
    ck_assert_msg(rc == 0, "a 10,000-word phrase with raised limits: %d %s", rc, err);
    free(phrase);

    /* max_expansions bounds a prefix: fewer terms, never an error. */
    newsidx_query_options_init(&qo);
    uint64_t all = 0, few = 0;
    ck_assert_int_eq(run_query(r, "m*", 2, &qo, &all, err, sizeof err), 0);
    qo.max_expansions = 1;
    ck_assert_int_eq(run_query(r, "m*", 2, &qo, &few, err, sizeof err), 0);
    ck_assert_uint_le(few, all);
    ck_assert_uint_gt(all, 0);
    newsidx_reader_close(r);
}
END_TEST

/* ---- hostile ingest ------------------------------------------------------- */

typedef struct report_log {
    unsigned n;
    char text[8192];
} report_log;
static void on_report(void *ctx, const char *file, uint64_t line, int sev, int reason,
                      const char *msg) {
    report_log *l = ctx;
    ck_assert_ptr_nonnull(file);
    ck_assert_ptr_nonnull(msg);
    size_t u = strlen(l->text);
    snprintf(l->text + u, sizeof l->text - u, "%s:%llu %d %s %s\n", file,
             (unsigned long long)line, sev, newsidx_reason_name(reason), msg);
    l->n++;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static const char good_line[] = "{\"id\":\"good-%d\",\"title\":\"good %d\",\"body\":\"market price\"}\n";

/* A JSON Lines file mixing good lines with: random bytes, an array nested
 * 100,000 deep, an object nested 100,000 deep, a line longer than
 * max_line_bytes. Every good line is indexed; each bad one is one report. */
START_TEST(test_hostile_json_lines_are_skipped_one_by_one_and_the_rest_indexed) {
    char *dir = nxt_tmpdir("in");
    char path[4200];
    nxf_join(path, sizeof path, "%s/%s", dir, "in.jsonl");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t seed = 42;
    int good = 0;
    for (int part = 0; part < 4; part++) {
        fprintf(f, good_line, good, good);
        good++;
        if (part == 0) { /* 64 KB of random bytes (no newlines) */
            for (int i = 0; i < 65536; i++) {
                int c = (int)(nxf_rand(&seed) & 0xff);
                fputc(c == '\n' ? 'x' : c, f);
            }
            fputc('\n', f);
        } else if (part == 1) {
            for (int i = 0; i < 100000; i++) fputc('[', f);
            for (int i = 0; i < 100000; i++) fputc(']', f);
            fputc('\n', f);
            fputs("{\"id\":\"deep\",\"title\":\"t\",\"x\":", f);
            for (int i = 0; i < 100000; i++) fputs("{\"a\":", f);
            fputs("1", f);
            for (int i = 0; i < 100000; i++) fputc('}', f);
            fputs("}\n", f);
        } else if (part == 2) { /* 3 MB line; max_line_bytes is 1 MB below */
            fputs("{\"id\":\"long\",\"body\":\"", f);
            for (int i = 0; i < (3 << 20); i++) fputc('a' + i % 26, f);
            fputs("\"}\n", f);
        }
    }
    ck_assert_int_eq(fclose(f), 0);

    char idx[4200];
    nxf_join(idx, sizeof idx, "%s/%s", dir, "idx");
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(idx, NULL, NULL, 0, &w), 0);
    newsidx_ingest_options io;
    newsidx_ingest_options_init(&io);
    io.max_line_bytes = 1u << 20;
    report_log log = {0};
    io.report = on_report;
    io.ctx = &log;
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(newsidx_ingest_path(w, path, &io, &st), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    /* The object nested 100,000 deep: either indexed (title "t") or skipped
     * as bad JSON (jansson's depth limit), never a crash. */
    ck_assert_msg(st.indexed == (uint64_t)good || st.indexed == (uint64_t)good + 1,
                  "indexed %llu of %d good lines; reports:\n%s",
                  (unsigned long long)st.indexed, good, log.text);
    ck_assert_uint_ge(st.skipped, 3);
    ck_assert_uint_ge(st.by_reason[NEWSIDX_REASON_TOO_LONG], 1);
    ck_assert_uint_ge(st.by_reason[NEWSIDX_REASON_BAD_JSON] + st.by_reason[NEWSIDX_REASON_NOT_OBJECT], 2);
    for (int i = 0; i < good; i++) {
        newsidx_reader *r = NULL;
        ck_assert_int_eq(newsidx_reader_open(idx, NULL, 0, &r), 0);
        char id[32];
        snprintf(id, sizeof id, "good-%d", i);
        newsidx_doc *d = NULL;
        ck_assert_int_eq(newsidx_reader_get(r, id, strlen(id), &d), 0);
        newsidx_doc_free(d);
        newsidx_reader_close(r);
    }
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* A directory holding a symlink loop, a symlink to its own parent, a
 * dangling symlink, a FIFO, a file of random bytes named .jsonl and an
 * unreadable file: the walk ends, each bad entry is reported, and the good
 * files are indexed. (An unreadable file is only unreadable when not root.) */
/* Counts the notes that a FIFO was skipped (ctx: int *). */
static void note_fifo(void *ctx, const char *file, uint64_t line, int severity, int reason,
                      const char *message) {
    (void)line;
    (void)reason;
    if (severity == NEWSIDX_REPORT_NOTE && strstr(message, "a FIFO") && strstr(file, ".jsonl"))
        ++*(int *)ctx;
}

START_TEST(test_hostile_directories_are_walked_to_the_end) {
    char dir[512];
    nxt_tmpdir_into("dir", dir, sizeof dir);
    char in[4200], p[4200];
    nxf_join(in, sizeof in, "%s/%s", dir, "in");
    ck_assert_int_eq(mkdir(in, 0755), 0);
    nxf_join(p, sizeof p, "%s/%s", in, "a.txt");
    write_file(p, "Title A\nmarket price body\n", 26);
    nxf_join(p, sizeof p, "%s/%s", in, "sub");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    nxf_join(p, sizeof p, "%s/%s", in, "sub/b.md");
    write_file(p, "# Title B\nfuel price\n", 21);
    nxf_join(p, sizeof p, "%s/%s", in, "sub/up");
    ck_assert_int_eq(symlink("..", p), 0); /* a loop back to in/ */
    nxf_join(p, sizeof p, "%s/%s", in, "self");
    ck_assert_int_eq(symlink("self", p), 0); /* ELOOP */
    nxf_join(p, sizeof p, "%s/%s", in, "dangling.txt");
    ck_assert_int_eq(symlink("/nonexistent/x.txt", p), 0);
    nxf_join(p, sizeof p, "%s/%s", in, "pipe.jsonl");
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    nxf_join(p, sizeof p, "%s/%s", in, "noise.jsonl");
    uint8_t noise[4096];
    uint64_t seed = 7;
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (uint8_t)nxf_rand(&seed);
    write_file(p, noise, sizeof noise);
    nxf_join(p, sizeof p, "%s/%s", in, "locked.txt");
    write_file(p, "Locked\nsecret\n", 14);
    ck_assert_int_eq(chmod(p, 0), 0);

    char idx[4200];
    nxf_join(idx, sizeof idx, "%s/%s", dir, "idx");
    /* In a child with a deadline: a walk that blocks on the FIFO or loops
     * must fail this test, not hang the suite. */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(20);
        newsidx_writer *w = NULL;
        if (newsidx_writer_open(idx, NULL, NULL, 0, &w) != 0) _exit(10);
        newsidx_ingest_options io;
        newsidx_ingest_options_init(&io);
        int fifo_notes = 0;
        io.report = note_fifo;
        io.ctx = &fifo_notes;
        newsidx_ingest_stats st;
        memset(&st, 0, sizeof st);
        int rc = newsidx_ingest_path(w, in, &io, &st);
        if (rc != 0) _exit(11);
        if (fifo_notes != 1) _exit(15); /* skipped, and said (not silently) */
        if (newsidx_writer_commit(w) != 0) _exit(12);
        newsidx_writer_close(w);
        /* a.txt, b.md (once: the loop must not index it again), locked.txt when root */
        if (st.indexed < 2 || st.indexed > 3) _exit(13);
        if (st.errors + st.skipped < 2) _exit(14);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(!WIFSIGNALED(status), "ingest of the hostile directory: killed by signal %d "
                  "(14 = still running after 20 s)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert_msg(WEXITSTATUS(status) == 0, "ingest of the hostile directory: check %d failed",
                  WEXITSTATUS(status));
    newsidx_reader *r = NULL;
    ck_assert_int_eq(newsidx_reader_open(idx, NULL, 0, &r), 0);
    newsidx_stats s;
    newsidx_reader_stats(r, &s);
    ck_assert_uint_ge(s.docs, 2);
    newsidx_reader_close(r);
    nxf_rmtree(dir);
}
END_TEST

static Suite *hostile_suite(void) {
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_hostile_queries_end_with_a_result_or_a_limit_error_by_default);
    tcase_add_test(tc, test_each_query_limit_is_named_and_configurable);
    tcase_add_test(tc, test_hostile_json_lines_are_skipped_one_by_one_and_the_rest_indexed);
    tcase_add_test(tc, test_hostile_directories_are_walked_to_the_end);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- measurement mode ------------------------------------------------------ */

/* Runs each hostile query (default limits) in a child on the index in dir;
 * prints one line per query: outcome, wall ms, peak RSS MB of the child
 * (which includes the mapped index pages it touched). */
static int measure(const char *dir, int raised) {
    newsidx_query_options qo;
    newsidx_query_options_init(&qo);
    if (raised) { /* every limit past the hostile queries' sizes */
        qo.max_query_bytes = 16u << 20;
        qo.max_clauses = 200000;
        qo.max_phrase_terms = 20000;
        if (raised > 1) qo.max_depth = 200000;
    }
    printf("limits: max_query_bytes %u, max_depth %u, max_clauses %u, max_expansions %u, "
           "max_phrase_terms %u\n", qo.max_query_bytes, qo.max_depth, qo.max_clauses,
           qo.max_expansions, qo.max_phrase_terms);
    printf("%-32s %-8s %10s %10s %12s  %s\n", "query", "outcome", "wall_ms", "rss_MB",
           "total", "message");
    for (int k = 0; k < HQ_COUNT; k++) {
        int fds[2];
        if (pipe(fds) != 0) return 1;
        double t0 = now_s();
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            alarm(60); /* a runaway query is reported as killed by signal 14 */
            newsidx_reader *r = NULL;
            char err[512] = "";
            uint64_t total = 0;
            int rc = newsidx_reader_open(dir, err, sizeof err, &r);
            double t1 = now_s();
            size_t len = 0;
            char *q = hostile_query(k, &len);
            double t2 = now_s();
            if (rc == 0) rc = run_query(r, q, len, &qo, &total, err, sizeof err);
            double t3 = now_s();
            dprintf(fds[1], "%d %.1f %llu %s", rc, (t3 - t2 + 0 * t1) * 1000,
                    (unsigned long long)total, err);
            _exit(0);
        }
        close(fds[1]);
        int status;
        struct rusage ru;
        wait4(pid, &status, 0, &ru);
        if (WIFSIGNALED(status)) printf("%-32s KILLED by signal %d\n", hq_names[k], WTERMSIG(status));
        double wall = (now_s() - t0) * 1000;
        char buf[1024] = "";
        ssize_t n = read(fds[0], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fds[0]);
        int rc = 0;
        double qms = 0;
        unsigned long long total = 0;
        int used = 0;
        sscanf(buf, "%d %lf %llu %n", &rc, &qms, &total, &used);
        printf("%-32s %-8s %10.1f %10.1f %12llu  %s (process %.0f ms)\n", hq_names[k],
               rc == 0 ? "result" : rc == NEWSIDX_ERR_LIMIT ? "LIMIT"
                   : rc == NEWSIDX_ERR_SYNTAX ? "SYNTAX" : "ERROR", qms,
               ru.ru_maxrss / 1024.0, total, buf + used, wall);
    }
    return 0;
}

int main(int argc, char **argv) {
    /* test_hostile --measure DIR [raised|deep]: the table of docs/HARDENING.md. */
    if (argc >= 3 && strcmp(argv[1], "--measure") == 0)
        return measure(argv[2], argc < 4 ? 0 : strcmp(argv[3], "deep") == 0 ? 2 : 1);
    char *dir = nxt_tmpdir("index");
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    free(dir);
    if (nxf_build_index(g_dir, 150) != 0) {
        fprintf(stderr, "cannot build the test index\n");
        nxt_rm_rf(nxt_root);
        return 1;
    }
    return nxt_run(hostile_suite(), CK_FORK_GETENV);
}
