/* Crash suite: a child process indexes and commits in a loop (small RAM
 * budget so segments flush mid-batch, a small merge factor so merges run
 * inside commits, one replaced article per batch so tombstones are
 * written) and is killed with SIGKILL at random moments. After every kill
 * the index must open, pass newsidx_check, and hold exactly the articles of
 * one commit. */
#include "index/index_internal.h"

#include "common.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 25
#define MAX_ARTICLES 4000

static void body_of(uint32_t i, uint32_t version, char *buf, size_t cap) {
    snprintf(buf, cap, "all words of article number%u version%u %s and some more text", i,
             version, i % 3 ? "common" : "rare");
}

/* Live articles of the committed index (0 when there is none yet). */
static uint32_t committed_count(const char *dir) {
    newsidx_reader *r;
    if (newsidx_reader_open(dir, NULL, 0, &r) != 0) return 0;
    uint32_t n = (uint32_t)nx_reader_snapshot(r)->live_docs;
    newsidx_reader_close(r);
    return n;
}

/* The child: appends batches of BATCH articles a<n>..a<n+BATCH-1>, each
 * batch also replacing one earlier article, and commits after each. */
static void child_loop(const char *dir, unsigned seed) {
    uint32_t n = committed_count(dir);
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = n > 0;
    o.ram_budget_bytes = 160 * 1024;
    o.merge_factor = 3;
    newsidx_writer *w;
    if (newsidx_writer_open(dir, &o, NULL, 0, &w) != 0) _exit(2);
    char body[256], id[32];
    srand(seed);
    for (;;) {
        /* past MAX_ARTICLES, batches only replace articles: the count stays
         * a whole number of batches and the loop runs until killed */
        uint32_t grow = n < MAX_ARTICLES ? BATCH : 0;
        for (uint32_t i = n; i < n + grow; i++) {
            body_of(i, 0, body, sizeof body);
            snprintf(id, sizeof id, "a%u", i);
            newsidx_field f[3] = {{"id", id, strlen(id)}, {"title", "t", 1}, {"body", body, strlen(body)}};
            if (newsidx_writer_add(w, f, 3, NULL) != 0) _exit(3);
        }
        if (n > 0) {
            uint32_t j = (uint32_t)rand() % n;
            body_of(j, 1, body, sizeof body);
            snprintf(id, sizeof id, "a%u", j);
            newsidx_field f[2] = {{"id", id, strlen(id)}, {"body", body, strlen(body)}};
            if (newsidx_writer_add(w, f, 2, NULL) != 0) _exit(3);
        }
        for (uint32_t k = 0; grow == 0 && k < BATCH; k++) {
            uint32_t j = (uint32_t)rand() % n;
            body_of(j, 2, body, sizeof body);
            snprintf(id, sizeof id, "a%u", j);
            newsidx_field f[2] = {{"id", id, strlen(id)}, {"body", body, strlen(body)}};
            if (newsidx_writer_add(w, f, 2, NULL) != 0) _exit(3);
        }
        if (newsidx_writer_commit(w) != 0) _exit(4);
        if (getenv("NX_CRASH_VERBOSE")) fprintf(stderr, "child: committed %u\n", n + grow);
        n += grow;
    }
}

static void on_problem(void *ctx, const char *file, uint64_t off, const char *msg) {
    (void)ctx;
    fprintf(stderr, "check: %s:%llu: %s\n", file, (unsigned long long)off, msg);
}

START_TEST(test_kill_9_at_random_moments_leaves_some_commit_intact) {
    char dir[512];
    nxt_tmpdir_into("index", dir, sizeof dir);
    unsigned slowdown = nxt_slowdown();
    srand((unsigned)time(NULL));
    int kills = 0;
    uint32_t prev = 0;
    for (int round = 0; kills < 60; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) child_loop(dir, (unsigned)round * 7919u + 1);
        /* a random moment: 0-400 ms, spread so kills land in adds, flushes,
         * merges and commits */
        long us = rand() % 400000 * (long)slowdown;
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        /* the child never stops by itself: an exit is a writer error */
        ck_assert_msg(!WIFEXITED(status), "child exited with %d", WEXITSTATUS(status));
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        kills++;
        newsidx_reader *r;
        char eb[512];
        int rc = newsidx_reader_open(dir, eb, sizeof eb, &r);
        if (rc == NEWSIDX_ERR_NOT_FOUND && prev == 0) continue; /* killed before any commit */
        ck_assert_msg(rc == 0, "round %d: open failed: %s", round, eb);
        uint32_t n = (uint32_t)nx_reader_snapshot(r)->live_docs;
        /* exactly the articles of a commit: a whole number of batches,
         * never fewer than before */
        ck_assert_msg(n % BATCH == 0, "round %d: %u articles is not a commit", round, n);
        ck_assert_uint_ge(n, prev);
        char id[32];
        for (uint32_t i = 0; i < n; i += 1 + (uint32_t)rand() % 7) {
            snprintf(id, sizeof id, "a%u", i);
            newsidx_doc *doc;
            ck_assert_msg(newsidx_reader_get(r, id, strlen(id), &doc) == 0, "round %d: %s missing",
                          round, id);
            newsidx_doc_free(doc);
        }
        snprintf(id, sizeof id, "a%u", n);
        newsidx_doc *doc;
        ck_assert_int_eq(newsidx_reader_get(r, id, strlen(id), &doc), NEWSIDX_ERR_NOT_FOUND);
        newsidx_reader_close(r);
        ck_assert_int_eq(newsidx_check(dir, on_problem, NULL), 0);
        if (getenv("NX_CRASH_VERBOSE")) fprintf(stderr, "round %d: %u articles\n", round, n);
        prev = n;
    }
    ck_assert_int_ge(kills, 50);
    /* the kills must have landed between and inside commits, not only
     * before the first one */
    ck_assert_uint_ge(prev, 4 * BATCH);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
}
END_TEST

static Suite *crash_suite(void) {
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_kill_9_at_random_moments_leaves_some_commit_intact);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return nxt_run(crash_suite(), CK_FORK_GETENV);
}
