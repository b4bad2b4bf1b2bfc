/* analysis/ — text analysis: total UTF-8 decoding, words, case and diacritic
 * folding (utf8proc), CJK bigrams, optional Snowball stemming and stopwords.
 * The rules are in docs/ANALYSIS.md; the public API is newsidx_analyze(). */
#ifndef NX_ANALYSIS_H
#define NX_ANALYSIS_H

#include "newsidx.h"
#include "util/utf8.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Folds every letter, mark and digit of text the way the analyzer folds a
 * word, without splitting, stemming or stopwords: separators, apostrophes
 * and punctuation are skipped ("Traoré’s-X" -> "traoresx"). For prefix and
 * fuzzy query words, which must not be stemmed. CJK characters are folded
 * (NFKC) but not bigrammed.
 * Returns NEWSIDX_OK, or NEWSIDX_ERR_LIMIT when the folded text would not fit
 * in out_cap bytes (*out_len then holds what fit). */
int nx_fold_text(const char *text, size_t len, char *out, size_t out_cap,
                 size_t *out_len);

/* A stopword list, written in natural spelling (accents included); the
 * analyzer folds it with its own rules when it is created. */
typedef struct nx_stopword_list {
    const char *name;         /* "english" */
    const char *code;         /* ISO 639-1 code: "en" */
    const char *const *words; /* NULL-terminated */
} nx_stopword_list;

/* The list for a language name or code (ASCII case-insensitive), or NULL. */
const nx_stopword_list *nx_stopwords_find(const char *language);

/* All stopword lists, NULL-terminated (for tests and the CLI's help). */
extern const nx_stopword_list *const nx_stopword_lists[];

/* Whether two stemming settings (as newsidx_analyzer_options has them:
 * a name or a code libstemmer takes, any case; NULL, "" or "none" for
 * none) give the same stemmer: "en", "eng" and "English" are English. */
bool nx_same_stemmer(const char *a, const char *b);

/* The same for stopword settings ("en", "english"). */
bool nx_same_stopwords(const char *a, const char *b);

/* ---- the plain-word fast path (analyzer.c and the writer's loop) ---- */

/* An ASCII letter or digit: the bytes that fold alone. */
static inline bool nx_ascii_alnum(uint8_t c) {
    return (uint8_t)((c | 0x20) - 'a') < 26 || (uint8_t)(c - '0') < 10;
}

/* The next position: positions saturate rather than wrap (only a text of
 * more than 4 G words reaches this; its last positions share one value). */
static inline uint32_t nx_next_pos(uint32_t pos) { return pos == UINT32_MAX ? pos : pos + 1; }

#if defined(__SSE2__)
/* 16 bytes at p: stores them to out with A-Z lowercased and returns the
 * length of the leading run of ASCII letters and digits (16: all). */
static inline unsigned nx_ascii_run16(const uint8_t *p, uint8_t *out) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i lo = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* A-Z -> a-z */
    __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lo, _mm_set1_epi8('a' - 1)),
                                   _mm_cmplt_epi8(lo, _mm_set1_epi8('z' + 1)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(letter, digit));
    __m128i folded = _mm_or_si128(_mm_and_si128(letter, lo), _mm_andnot_si128(letter, v));
    _mm_storeu_si128((__m128i *)out, folded); /* bytes past the run: scratch */
    return m == 0xffffu ? 16 : (unsigned)__builtin_ctz(~m);
}

/* The common word at p (16 readable bytes): fewer than 16 ASCII letters and
 * digits ended by an ASCII byte that neither joins words (' . ,) nor starts
 * a non-ASCII letter. Writes its fold to out (16 bytes of room) and returns
 * its length, or returns 0 when p does not start such a word. The word is
 * one term, exactly as the full scanner would find it. */
static inline unsigned nx_plain_word16(const uint8_t *p, uint8_t *out) {
    unsigned run = nx_ascii_run16(p, out);
    if (run == 16) return 0;
    uint8_t t = p[run];
    return t < 0x80 && t != '\'' && t != '.' && t != ',' ? run : 0;
}
#endif

/* True when the analyzer has neither stopwords nor a stemmer: a plain
 * word's term is its fold. */
bool nx_analyzer_plain(const newsidx_analyzer *a);

/* One step of newsidx_analyze at text + *off (*off < len; the analysis
 * started at text): skips a separator, or scans the word or CJK run that
 * starts there and emits its tokens (with offsets from text). Advances *off
 * and *pos. Returns 0 or the callback's non-zero value. Callers that take
 * plain words themselves (nx_plain_word16) call this for everything else. */
int nx_analyze_step(newsidx_analyzer *a, const char *text, size_t len, size_t *off,
                    uint32_t *pos, newsidx_token_fn fn, void *ctx);

#endif
