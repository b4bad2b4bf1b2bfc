/* common.h — the set-up every Check suite shares, so that each suite holds
 * only its tests:
 *
 *   nxt_xorshift64()       one step of the generator behind every suite's
 *                          random inputs (each suite keeps its seed and how
 *                          it shapes the numbers, so its data stays the same)
 *   nxt_tmpdir(tag)        a fresh directory under this run's temporary root
 *   nxt_tmpdir_into()      the same into the caller's array (tests that fork)
 *   nxt_rm_rf(path)        removal without a shell (also of chmod 0 entries)
 *   nxt_shared_dir()       where ../shared is: $NEWSIDX_SHARED_DIR, else the
 *                          path compiled in by tests/CMakeLists.txt
 *   NXT_SHARED_OR_SKIP()   in a test that needs the real corpora or fixtures:
 *                          prints "SKIP (<dir> not found): <test>" and
 *                          returns when they are absent (a fresh clone)
 *   nxt_small()            NEWSIDX_TEST_SMALL=1: the quick sizes
 *   nxt_slowdown()         NEWSIDX_TEST_SLOWDOWN=N: waits stretched N times
 *   nxt_run(suite, fork)   main(): runs the suite, removes the temporary
 *                          root, gives the exit status
 *
 * Selecting what runs while developing (tests/README.md):
 *   CK_RUN_SUITE / CK_RUN_CASE    Check's own: one suite or one TCase
 *   NEWSIDX_TEST_ONLY=a,b         only the tests whose names contain a or b
 *   NEWSIDX_KEEP_TMP=1            keep the temporary root and print its path
 *
 * Everything is static inline: each suite is one translation unit. */
#ifndef NX_TESTS_COMMON_H
#define NX_TESTS_COMMON_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NEWSIDX_SHARED_DIR
#error "tests/CMakeLists.txt defines NEWSIDX_SHARED_DIR (the default ../shared)"
#endif

/* ---- random inputs --------------------------------------------------------- */

/* Marsaglia's xorshift64 (13, 7, 17): advances *state and returns it. A
 * state of 0 stays 0, so seeds are non-zero. */
static inline uint64_t nxt_xorshift64(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* ---- sizes ----------------------------------------------------------------- */

/* True under NEWSIDX_TEST_SMALL=1: suites with long loops run shorter ones
 * that still reach every branch (scripts/test.sh sets it outside --full,
 * scripts/valgrind.sh always). */
static inline bool nxt_small(void) {
    const char *e = getenv("NEWSIDX_TEST_SMALL");
    return e && atoi(e) != 0;
}

/* NEWSIDX_TEST_SLOWDOWN=N (default 1): how many times slower than native
 * the code runs here. Tests that wait for the code under test (test_crash's
 * random moments to kill a writer) stretch their waits by it, so that under
 * valgrind (scripts/valgrind.sh sets 5) the waits still land where they are
 * meant to: inside adds, flushes, merges and commits. */
static inline unsigned nxt_slowdown(void) {
    const char *e = getenv("NEWSIDX_TEST_SLOWDOWN");
    int n = e ? atoi(e) : 1;
    return n > 1 ? (unsigned)n : 1;
}

/* ---- temporary directories -------------------------------------------------- */

/* Every directory a suite makes lives under one root per run, made by the
 * parent process (nxt_run, or the first nxt_tmpdir of main's own set-up) and
 * removed by it after the last test: a test forked by Check and killed by a
 * timeout or a crash leaves nothing behind in /tmp. */
static char nxt_root[512];

/* Removes path and everything below it, without following symlinks; entries
 * a test made unreadable (chmod 0) are opened up first. 0 or -1. */
static inline int nxt_rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    if ((st.st_mode & 0700) != 0700) chmod(path, st.st_mode | 0700);
    DIR *d = opendir(path);
    if (!d) return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(n);
        if (!child) {
            rc = -1;
            break;
        }
        snprintf(child, n, "%s/%s", path, e->d_name);
        if (nxt_rm_rf(child) != 0) rc = -1;
        free(child);
    }
    closedir(d);
    return rmdir(path) == 0 ? rc : -1;
}

/* The helpers below also run in main() before the suite starts, where
 * Check's ck_assert may not be called (it reports to a runner that does not
 * exist yet): a failure of the machine itself ends the process instead. */
static inline void nxt_die(const char *what, const char *path) {
    fprintf(stderr, "%s: %s %s: %s\n", program_invocation_short_name, what, path, strerror(errno));
    exit(EXIT_FAILURE);
}

static inline void nxt_root_make(void) {
    if (nxt_root[0]) return;
    const char *t = getenv("TMPDIR");
    snprintf(nxt_root, sizeof nxt_root, "%s/%s_XXXXXX", t && *t ? t : "/tmp",
             program_invocation_short_name);
    if (!mkdtemp(nxt_root)) nxt_die("cannot make", nxt_root);
    /* a test may drop privileges (test_ingest's unreadable-file walk runs
     * as nobody) and must still reach its own directory */
    if (chmod(nxt_root, 0755) != 0) nxt_die("cannot chmod", nxt_root);
}

/* A new empty directory <root>/<tag>_XXXXXX; the caller frees the path. It
 * may be removed by the test (nxt_rm_rf) or left to nxt_run. */
static inline char *nxt_tmpdir(const char *tag) {
    nxt_root_make();
    size_t n = strlen(nxt_root) + strlen(tag) + 9;
    char *d = malloc(n);
    if (!d) nxt_die("out of memory for", tag);
    snprintf(d, n, "%s/%s_XXXXXX", nxt_root, tag);
    if (!mkdtemp(d)) nxt_die("cannot make", d);
    return d;
}

/* nxt_tmpdir into the caller's array. For tests that fork: a child that
 * _exits under valgrind while the only pointer to a heap copy of the path
 * is gone would be reported as a leak (valgrind's exit code then fails the
 * child's check), and in CK_FORK=no runs an assertion that ends the test
 * early leaks nothing either. */
static inline void nxt_tmpdir_into(const char *tag, char *out, size_t cap) {
    char *d = nxt_tmpdir(tag);
    if (strlen(d) >= cap) nxt_die("path too long:", d);
    strcpy(out, d);
    free(d);
}

/* ---- the shared corpora and fixtures ---------------------------------------- */

/* The folder beside the repository that holds the real corpora, fixtures and
 * query logs (absent in a fresh clone). NEWSIDX_SHARED_DIR in the
 * environment overrides the compiled-in default. */
static inline const char *nxt_shared_dir(void) {
    const char *e = getenv("NEWSIDX_SHARED_DIR");
    return e && *e ? e : NEWSIDX_SHARED_DIR;
}

/* <shared>/<sub> into out. When that folder does not exist, prints
 * "SKIP (<shared>/<sub> not found): <test>" on stdout and returns false. A
 * folder that exists but lacks a file is not a skip: the test then fails
 * opening it, so a broken CI checkout is never mistaken for a fresh clone. */
static inline bool nxt_shared(const char *sub, const char *test, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", nxt_shared_dir(), sub);
    if (n < 0 || (size_t)n >= cap) nxt_die("path too long:", nxt_shared_dir());
    struct stat st;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) return true;
    printf("SKIP (%s not found): %s\n", out, test);
    fflush(stdout);
    return false;
}

/* In a START_TEST body: out (a char array) gets <shared>/<sub>, or the test
 * says SKIP and returns. __func__ is "<test>_fn" there; the name printed is
 * the test's. */
#define NXT_SHARED_OR_SKIP(sub, out)                                                               \
    do {                                                                                           \
        char nxt_name_[256];                                                                       \
        snprintf(nxt_name_, sizeof nxt_name_, "%.*s", (int)(strlen(__func__) - 3), __func__);       \
        if (!nxt_shared(sub, nxt_name_, out, sizeof(out))) return;                                 \
    } while (0)

/* ---- running a suite ---------------------------------------------------------- */

/* NEWSIDX_TEST_ONLY=part[,part...]: is the test called name selected? */
static inline bool nxt_selected(const char *name) {
    const char *only = getenv("NEWSIDX_TEST_ONLY");
    if (!only || !*only) return true;
    for (const char *p = only; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        for (const char *s = name; len && *s; s++)
            if (strncmp(s, p, len) == 0) return true;
        if (!comma) break;
        p = comma + 1;
    }
    return false;
}

/* Check's tcase_add_test, filtered by NEWSIDX_TEST_ONLY: a suite adds its
 * tests as it always did and the selection happens here. */
static inline void nxt_tcase_add_test(TCase *tc, const TTest *t) {
    if (nxt_selected(t->name)) _tcase_add_test(tc, t, 0, 0, 0, 1);
}
#undef tcase_add_test
#define tcase_add_test(tc, tf) nxt_tcase_add_test((tc), (tf))

/* Runs the suite (fork: CK_FORK, CK_NOFORK, or CK_FORK_GETENV to leave it to
 * $CK_FORK), then removes the temporary root unless NEWSIDX_KEEP_TMP=1.
 * Returns the process exit status: EXIT_SUCCESS when every test passed. */
static inline int nxt_run(Suite *suite, enum fork_status fork) {
    nxt_root_make();
    SRunner *sr = srunner_create(suite);
    if (fork != CK_FORK_GETENV) srunner_set_fork_status(sr, fork);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    const char *keep = getenv("NEWSIDX_KEEP_TMP");
    if (keep && *keep == '1') printf("temporary files kept in %s\n", nxt_root);
    else if (nxt_rm_rf(nxt_root) != 0) fprintf(stderr, "cannot remove %s\n", nxt_root);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
