/* fuzz_index — libFuzzer harness for opening, searching and checking an
 * index whose files are damaged. A small generated index (three segments,
 * a tombstone file; every file kind of docs/FORMAT.md) is built once; each
 * input damages one of its files, then the harness opens the index, runs a
 * few queries of every class, fetches articles, reads stats and runs
 * newsidx_check, and restores the file.
 *
 * Input: byte 0 picks the file (index into the sorted file list), byte 1
 * the damage: 0 = the file's content is replaced by the rest of the input;
 * 1 = XOR patches (u16 LE offset scaled to the file length, u8 mask)...;
 * 2 = truncation to a length taken from bytes 2-3, then patches;
 * 3 = the rest is written over the file at an offset from bytes 2-3.
 * Property: nothing crashes, leaks or reads out of bounds, and every call
 * returns one of its documented codes. */
/* The properties are checked with assert even in Release builds. */
#undef NDEBUG
#include "fuzz_common.h"

#include <assert.h>

static char g_dir[] = "/tmp/nx_fuzz_index_XXXXXX";
static char *g_names[64];
static uint8_t *g_orig[64];
static size_t g_orig_len[64];
static size_t g_n;

static void cleanup(void) {
    nxf_rmtree(g_dir);
    for (size_t i = 0; i < g_n; i++) {
        free(g_names[i]);
        free(g_orig[i]);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (!mkdtemp(g_dir)) abort();
    if (nxf_build_index(g_dir, 150) != 0) abort();
    g_n = nxf_list_files(g_dir, g_names, 64);
    for (size_t i = 0; i < g_n; i++) {
        char p[4200];
        nxf_join(p, sizeof p, "%s/%s", g_dir, g_names[i]);
        g_orig[i] = nxf_read(p, &g_orig_len[i]);
        if (!g_orig[i]) abort();
    }
    atexit(cleanup);
    return 0;
}

static const char *const queries[] = {
    "market", "market price", "market OR fuel", "market -price", "\"market price\"",
    "\"price fuel\"~3", "mar*", "markte~1", "title:vote", "date:2021..2022",
    "source:source", "traoré AND (gold OR cotton)", "market NEAR/2 bank",
};

static void on_problem(void *ctx, const char *file, uint64_t off, const char *msg) {
    (void)off;
    assert(file != NULL && msg != NULL);
    ++*(int *)ctx;
}

static void exercise(void) {
    newsidx_reader *r = NULL;
    char err[512];
    int rc = newsidx_reader_open(g_dir, err, sizeof err, &r);
    assert((rc == 0) == (r != NULL));
    if (rc == 0) {
        newsidx_stats st;
        newsidx_reader_stats(r, &st);
        for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
            newsidx_query *q = NULL;
            if (newsidx_query_parse(r, queries[i], strlen(queries[i]), NULL, NULL, NULL, 0,
                                    &q) != 0)
                continue;
            for (int mode = 0; mode < 2; mode++) {
                newsidx_search_options so;
                newsidx_search_options_init(&so);
                so.k = 5;
                so.sort = mode ? NEWSIDX_SORT_DATE_DESC : NEWSIDX_SORT_SCORE;
                so.facets = mode ? NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR : 0;
                newsidx_results *res = NULL;
                int src = newsidx_search(r, q, &so, &res);
                assert(src == 0 || src == NEWSIDX_ERR_CORRUPT || src == NEWSIDX_ERR_NOMEM ||
                       src == NEWSIDX_ERR_LIMIT);
                newsidx_results_free(res);
            }
            newsidx_query_free(q);
        }
        static const char *const ids[] = {"g-0", "g-7", "g-200", "g-449", "nope"};
        for (size_t i = 0; i < 5; i++) {
            newsidx_doc *d = NULL;
            int grc = newsidx_reader_get(r, ids[i], strlen(ids[i]), &d);
            assert(grc == 0 || grc == NEWSIDX_ERR_NOT_FOUND || grc == NEWSIDX_ERR_CORRUPT ||
                   grc == NEWSIDX_ERR_NOMEM);
            newsidx_doc_free(d);
        }
        newsidx_reader_close(r);
    } else {
        assert(err[0] != '\0');
    }
    int problems = 0;
    newsidx_check(g_dir, on_problem, &problems);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || g_n == 0) return 0;
    size_t f = data[0] % g_n;
    int mode = data[1] & 3;
    const uint8_t *orig = g_orig[f];
    size_t olen = g_orig_len[f];
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (mode == 0) {
        blen = size - 2;
        buf = malloc(blen ? blen : 1);
        if (!buf) return 0;
        memcpy(buf, data + 2, blen);
    } else {
        buf = malloc(olen ? olen : 1);
        if (!buf) return 0;
        memcpy(buf, orig, olen);
        blen = olen;
        size_t i = 2;
        if (mode >= 2 && size >= 4) {
            size_t v = ((size_t)data[2] | ((size_t)data[3] << 8)) * (olen + 1) / 65536;
            i = 4;
            if (mode == 2) {
                blen = v;
            } else {
                size_t n = size - i;
                if (n > olen - v) n = olen - v;
                memcpy(buf + v, data + i, n);
                i = size;
            }
        }
        for (; i + 3 <= size && blen; i += 3) {
            size_t off = ((size_t)data[i] | ((size_t)data[i + 1] << 8)) * blen / 65536;
            buf[off] ^= data[i + 2];
        }
    }
    char p[4200];
    nxf_join(p, sizeof p, "%s/%s", g_dir, g_names[f]);
    if (nxf_write(p, buf, blen) != 0) abort();
    free(buf);
    exercise();
    if (nxf_write(p, orig, olen) != 0) abort();
    return 0;
}
