/* fuzz_query — libFuzzer harness for the query parser and engine.
 * Each input is parsed twice: without a reader (default analyzer), and with
 * a reader of a small generated index (english stemming and stopwords);
 * when the second parse succeeds the query runs (ranked, by date, count
 * only, with snippets and facets) and is dumped. Nothing may crash, leak or
 * read out of bounds; a parse error must come with a column inside the
 * query (1..len+1). */
/* The properties are checked with assert even in Release builds. */
#undef NDEBUG
#include "fuzz_common.h"
#include "search/query.h"

#include <assert.h>

static newsidx_reader *g_reader;
static char g_dir[] = "/tmp/nx_fuzz_query_XXXXXX";

static void cleanup(void) {
    newsidx_reader_close(g_reader);
    nxf_rmtree(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (!mkdtemp(g_dir)) abort();
    if (nxf_build_index(g_dir, 150) != 0) abort();
    if (newsidx_reader_open(g_dir, NULL, 0, &g_reader) != 0) abort();
    atexit(cleanup);
    return 0;
}

static void run(const newsidx_reader *r, const char *text, size_t len) {
    newsidx_query_options qo;
    newsidx_query_options_init(&qo);
    qo.max_expansions = 64; /* keep one input fast */
    newsidx_query *q = NULL;
    size_t col = 0;
    char err[256];
    int rc = newsidx_query_parse(r, text, len, &qo, &col, err, sizeof err, &q);
    if (rc == NEWSIDX_ERR_SYNTAX) {
        assert(col >= 1 && col <= len + 1);
        assert(err[0] != '\0');
    }
    assert((rc == 0) == (q != NULL));
    if (rc != 0) return;
    char dump[512];
    nx_query_dump(q->root, dump, sizeof dump);
    if (r) {
        static const int sorts[] = {NEWSIDX_SORT_SCORE, NEWSIDX_SORT_DATE_DESC,
                                    NEWSIDX_SORT_DATE_ASC};
        for (int i = 0; i < 3; i++) {
            newsidx_search_options so;
            newsidx_search_options_init(&so);
            so.sort = sorts[i];
            so.k = 5;
            so.count_only = i == 2;
            so.facets = i == 1 ? NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_MONTH : 0;
            so.snippets = i == 0 ? 2 : 0;
            newsidx_results *res = NULL;
            int src = newsidx_search(r, q, &so, &res);
            if (src == 0) {
                size_t n = newsidx_results_count(res);
                assert(n <= so.k);
                assert(newsidx_results_total(res) >= n);
                for (size_t h = 0; h < n; h++) {
                    assert(newsidx_hit_id(res, h) != NULL);
                    for (size_t j = 0; j < newsidx_hit_snippet_count(res, h); j++) {
                        const newsidx_snippet *s = newsidx_hit_snippet(res, h, j);
                        for (size_t k = 0; k < s->n_highlights; k++)
                            assert(s->highlights[k][0] < s->highlights[k][1]);
                    }
                }
            }
            newsidx_results_free(res);
        }
    }
    newsidx_query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run(NULL, (const char *)data, size);
    run(g_reader, (const char *)data, size);
    return 0;
}
