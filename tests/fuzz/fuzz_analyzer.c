/* fuzz_analyzer — libFuzzer harness for the text analyzer. The first byte
 * picks the options (stemming/stopwords languages); the rest is the text.
 * Properties asserted for every token (newsidx.h, newsidx_token):
 * 1 <= term_len <= NEWSIDX_MAX_TERM_BYTES, start < end <= len (the word
 * input[start, end) lies inside the input), positions never decrease and
 * starts never go backwards. */
/* The properties are checked with assert even in Release builds. */
#undef NDEBUG
#include "newsidx.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    size_t len;
    uint32_t last_pos;
    size_t last_start;
    size_t n;
} check_ctx;

static int on_token(void *vctx, const newsidx_token *t) {
    check_ctx *c = vctx;
    assert(t->term != NULL);
    assert(t->term_len >= 1 && t->term_len <= NEWSIDX_MAX_TERM_BYTES);
    assert(t->start < t->end);
    assert(t->end <= c->len);
    if (c->n) {
        assert(t->position >= c->last_pos);
        assert(t->start >= c->last_start);
    }
    c->last_pos = t->position;
    c->last_start = t->start;
    c->n++;
    return 0;
}

static const char *const langs[][2] = {
    {NULL, NULL}, {"english", "english"}, {"french", "french"},
    {"german", NULL}, {"turkish", "turkish"}, {"italian", "italian"},
    {"russian", "russian"}, {"spanish", NULL},
};
static newsidx_analyzer *g_an[8];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned k = data[0] & 7;
    if (!g_an[k]) {
        newsidx_analyzer_options o;
        newsidx_analyzer_options_init(&o);
        o.stem_language = langs[k][0];
        o.stopwords_language = langs[k][1];
        int rc = newsidx_analyzer_create(&o, &g_an[k]);
        if (rc == NEWSIDX_ERR_UNSUPPORTED) {
            o.stopwords_language = NULL; /* a language without a stopword list */
            rc = newsidx_analyzer_create(&o, &g_an[k]);
        }
        if (rc != 0) abort();
    }
    check_ctx c = {.len = size - 1};
    int rc = newsidx_analyze(g_an[k], (const char *)data + 1, size - 1, on_token, &c);
    assert(rc == 0);
    return 0;
}
