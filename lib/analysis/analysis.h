/* analysis/ — text analysis: total UTF-8 decoding, words, case and diacritic
 * folding (utf8proc), CJK bigrams, optional Snowball stemming and stopwords.
 * The rules are in docs/ANALYSIS.md; the public API is newsidx_analyze(). */
#ifndef NX_ANALYSIS_H
#define NX_ANALYSIS_H

#include "newsidx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 sequence from [p, end) (p < end). Returns the bytes it
 * takes (1..4) and stores the code point in *cp, or returns 1 with *cp = -1
 * for a byte that starts no valid sequence (overlong, surrogate, truncated,
 * > U+10FFFF, stray continuation). Never reads past end. */
size_t nx_utf8_decode(const uint8_t *p, const uint8_t *end, int32_t *cp);

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

#endif
