/* search/search.h — internals shared by the executor (search.c) and the
 * snippet maker (snippet.c). Scoring and semantics: docs/QUERY.md. */
#ifndef NX_SEARCH_H
#define NX_SEARCH_H

#include "search/query.h"

#include <math.h>

/* ---- BM25, all of it (docs/QUERY.md, "Scoring") ----------------------- */

/* Parameters (Lucene's defaults). */
#define NX_BM25_K1 1.2
#define NX_BM25_B 0.75

/* Largest k + offset one search may ask for (NEWSIDX_ERR_LIMIT past it). */
#define NX_MAX_HITS 1000000u

/* idf = ln(1 + (N - df + 0.5) / (df + 0.5)), Lucene's BM25 idf. */
static inline double nx_bm25_idf(uint64_t n_docs, uint64_t df) {
    double n = (double)n_docs, d = (double)df;
    return log(1.0 + (n - d + 0.5) / (d + 0.5));
}

/* The length part of a doc's BM25, K = k1 * (1 - b + b * len / avglen):
 * computed once per norm byte and field (a table of 256). */
static inline double nx_bm25_k(double len, double avg_len) {
    return NX_BM25_K1 * (1.0 - NX_BM25_B + NX_BM25_B * len / avg_len);
}

/* A term's score in a doc: weight * tf * (k1 + 1) / (tf + K), where weight
 * = boost * field weight * idf (a phrase: the sum of its words' idf, tf its
 * frequency). Also the block-max bounds: with the block's largest tf and
 * smallest K it bounds every doc of the block. */
static inline double nx_bm25(double weight, double tf, double k) {
    return weight * (tf * (NX_BM25_K1 + 1.0) / (tf + k));
}

/* The bound of nx_bm25 over every tf and K: tf / (tf + K) < 1. */
static inline double nx_bm25_max(double weight) { return weight * (NX_BM25_K1 + 1.0); }

/* The query terms a snippet highlights: exact analyzed terms, sorted and
 * unique (term leaves, phrase and proximity words, prefix/fuzzy expansions
 * found at search time). */
typedef struct nx_hlterms {
    const char **terms;
    uint32_t *lens;
    uint32_t n;
} nx_hlterms;

/* Index of term in ht, or -1. */
int nx_hlterms_find(const nx_hlterms *ht, const char *term, size_t len);

/* Makes up to n_frags fragments of about frag_bytes of text (a field value)
 * around the windows holding the most distinct query terms; fragments,
 * their text and highlight arrays are allocated in arena. A text with no
 * query term gives one fragment: its beginning. */
int nx_snippets_make(newsidx_analyzer *an, const nx_hlterms *ht, const char *text,
                     size_t len, const char *field_name, uint32_t n_frags,
                     uint32_t frag_bytes, nx_arena *arena, newsidx_snippet **out,
                     size_t *n_out);

/* newsidx_search_options.max_result_bytes by default: 64 MiB. */
#define NX_DEFAULT_RESULT_BYTES ((size_t)64 << 20)
/* Snippets are made from at most this many bytes at the start of a field
 * (as Lucene's maxAnalyzedChars): the analysis and the window search stay
 * linear and bounded whatever the article's size (docs/QUERY.md). */
#define NX_SNIPPET_MAX_ANALYZED ((size_t)256 << 10)

#endif
