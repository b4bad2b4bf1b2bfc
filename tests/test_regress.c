/* Regression suite: one test per bug found by the fuzzers, tests/test_corrupt.c
 * and tests/test_hostile.c (docs/HARDENING.md, "Bugs found"). Each test
 * states the reproduction: which file, which byte, which call. */
#include "fuzz/fuzz_common.h"
#include "util/util.h"

#include "common.h"
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *build(void) {
    char *dir = nxt_tmpdir("index");
    ck_assert_int_eq(nxf_build_index(dir, 150), 0);
    return dir;
}

/* Path of the first file of dir whose name contains part. */
static void find_file(const char *dir, const char *part, char *out, size_t cap) {
    char *names[64];
    size_t n = nxf_list_files(dir, names, 64);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!out[0] && strstr(names[i], part)) nxf_join(out, cap, "%s/%s", dir, names[i]);
        free(names[i]);
    }
    ck_assert_msg(out[0], "no %s file", part);
}

static void rewrite(const char *path, size_t off, uint8_t xor_mask, uint8_t set, bool fix_sum) {
    size_t len = 0;
    uint8_t *b = nxf_read(path, &len);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_lt(off, len);
    if (xor_mask) b[off] ^= xor_mask;
    else b[off] = set;
    if (fix_sum) nx_store_u64le(b + len - NX_FOOTER_BYTES + 24, nx_hash64(b, len - NX_FOOTER_BYTES));
    ck_assert_int_eq(nxf_write(path, b, len), 0);
    free(b);
}

static int maps_mentioning(const char *what) {
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

/* Found by fuzz_index (LeakSanitizer) and test_corrupt: a manifest whose
 * checksum fails is never unmapped (nx_manifest_read, lib/index/manifest.c,
 * returns after nx_rfile_verify fails without nx_rfile_close): every failed
 * open leaks the mapping and its path. Repro: flip bit 0 of byte 0x10 of
 * MANIFEST-3, call newsidx_reader_open. */
START_TEST(test_a_manifest_failing_its_checksum_is_unmapped_after_open_fails) {
    char *dir = build();
    char m[4200];
    find_file(dir, "MANIFEST-", m, sizeof m);
    rewrite(m, 0x10, 0x01, 0, false);
    for (int i = 0; i < 3; i++) {
        newsidx_reader *r = NULL;
        ck_assert_int_eq(newsidx_reader_open(dir, NULL, 0, &r), NEWSIDX_ERR_CORRUPT);
    }
    ck_assert_int_eq(maps_mentioning(m), 0);
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* Found by test_corrupt (rechecksummed flips): read_str in
 * lib/index/manifest.c returns -1 for a bad string length, and -1 is
 * NEWSIDX_ERR_NOMEM, so a manifest whose stem-language length is wrong
 * (byte 24 = 0x06 instead of 0x07 for "english", checksum recomputed)
 * opens as "out of memory" instead of a corrupt manifest. */
START_TEST(test_a_manifest_with_a_bad_string_length_is_corrupt_not_out_of_memory) {
    char *dir = build();
    char m[4200];
    find_file(dir, "MANIFEST-", m, sizeof m);
    rewrite(m, 24, 0x01, 0, true);
    newsidx_reader *r = NULL;
    char err[512] = "";
    int rc = newsidx_reader_open(dir, err, sizeof err, &r);
    newsidx_reader_close(r);
    ck_assert_msg(rc == NEWSIDX_ERR_CORRUPT, "open returned %d: %s", rc, err);
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* Found by test_corrupt: a FIFO in place of any index file makes
 * newsidx_reader_open block for ever (nx_rfile_open, lib/util/file.c, opens
 * with O_RDONLY and no O_NONBLOCK; a FIFO's open waits for a writer). Repro:
 * mkfifo seg_1.post; newsidx reader_open. */
START_TEST(test_a_fifo_in_place_of_an_index_file_is_refused_without_blocking) {
    char *dir = build();
    char p[4200];
    find_file(dir, "seg_1.post", p, sizeof p);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        newsidx_reader *r = NULL;
        char e[512] = "";
        int rc = newsidx_reader_open(dir, e, sizeof e, &r);
        int named = strstr(e, "seg_1.post") != NULL;
        int out[2] = {rc, named};
        _exit(write(fds[1], out, sizeof out) == sizeof out ? 0 : 1);
    }
    close(fds[1]);
    struct pollfd pf = {.fd = fds[0], .events = POLLIN};
    int got = poll(&pf, 1, 5000);
    int out[2] = {0, 0};
    if (got == 1) ck_assert_int_eq(read(fds[0], out, sizeof out), sizeof out);
    else kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    ck_assert_msg(got == 1, "newsidx_reader_open still blocked on a FIFO after 5 s");
    ck_assert_int_ne(out[0], 0);
    ck_assert_msg(out[1], "the error does not name seg_1.post");
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* Records the first problem newsidx_check reports with its file. */
static void first_problem(void *ctx, const char *file, uint64_t off, const char *msg) {
    (void)off;
    char *out = ctx;
    if (!out[0]) snprintf(out, 512, "%s: %s", file, msg);
}

/* Found by test_corrupt: errors of the doc store and the term dictionary
 * do not name their file ("doc store: bad magic (byte 0)", "term
 * dictionary: bad block head (byte 569)"), so a user cannot tell which file
 * is damaged. Repro: flip bit 0 of byte 0 of seg_1.docs; or zero 64 bytes
 * at the middle of seg_1.dict; newsidx_reader_open. Since open maps the
 * dictionary and reads its blocks only when a query touches them, damage
 * inside the blocks may pass open: then check must name the file. */
START_TEST(test_doc_store_and_dictionary_errors_name_their_file) {
    const char *kinds[] = {"seg_1.docs", "seg_1.dict", "seg_1.dict"};
    for (int k = 0; k < 3; k++) {
        char *dir = build();
        char p[4200];
        find_file(dir, kinds[k], p, sizeof p);
        size_t len = 0;
        uint8_t *b = nxf_read(p, &len);
        ck_assert_ptr_nonnull(b);
        if (k == 0) b[0] ^= 1;
        else if (k == 1) b[0] ^= 1; /* the dictionary's magic: refused at open */
        else memset(b + len / 2, 0, 64);
        ck_assert_int_eq(nxf_write(p, b, len), 0);
        free(b);
        newsidx_reader *r = NULL;
        char err[512] = "";
        int rc = newsidx_reader_open(dir, err, sizeof err, &r);
        newsidx_reader_close(r);
        if (k < 2) {
            ck_assert_int_eq(rc, NEWSIDX_ERR_CORRUPT);
        } else if (rc == 0) {
            ck_assert_int_eq(newsidx_check(dir, first_problem, err), NEWSIDX_ERR_CORRUPT);
        }
        ck_assert_msg(strstr(err, kinds[k]) != NULL, "%s damaged: \"%s\"", kinds[k], err);
        nxf_rmtree(dir);
        free(dir);
    }
}
END_TEST

/* Found by test_hostile --measure: the parser recurses once per nesting
 * level (lib/search/query_parse.c), so a raised max_depth lets 100,000
 * parentheses overflow the stack (SIGSEGV; 10,000 levels still parse on an
 * 8 MiB stack). A raised max_depth must still end in a result or
 * NEWSIDX_ERR_LIMIT (e.g. clamped to a documented hard maximum). */
START_TEST(test_a_raised_max_depth_never_overflows_the_stack) {
    size_t depth = 100000;
    char *q = malloc(2 * depth + 1);
    ck_assert_ptr_nonnull(q);
    memset(q, '(', depth);
    q[depth] = 'a';
    memset(q + depth + 1, ')', depth);
    newsidx_query_options o;
    newsidx_query_options_init(&o);
    o.max_query_bytes = 1u << 20;
    o.max_depth = 200000;
    newsidx_query *pq = NULL;
    int rc = newsidx_query_parse(NULL, q, 2 * depth + 1, &o, NULL, NULL, 0, &pq);
    ck_assert(rc == 0 || rc == NEWSIDX_ERR_LIMIT);
    newsidx_query_free(pq);
    free(q);
}
END_TEST

static Suite *regress_suite(void) {
    Suite *s = suite_create("regress");
    TCase *tc = tcase_create("found");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_manifest_failing_its_checksum_is_unmapped_after_open_fails);
    tcase_add_test(tc, test_a_manifest_with_a_bad_string_length_is_corrupt_not_out_of_memory);
    tcase_add_test(tc, test_a_fifo_in_place_of_an_index_file_is_refused_without_blocking);
    tcase_add_test(tc, test_doc_store_and_dictionary_errors_name_their_file);
    tcase_add_test(tc, test_a_raised_max_depth_never_overflows_the_stack);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return nxt_run(regress_suite(), CK_FORK_GETENV);
}
