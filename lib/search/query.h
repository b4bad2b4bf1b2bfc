/* search/ — the query engine: query text -> tree (query_parse.c), tree ->
 * per-segment iterators, BM25 and block-max top-k (search.c), snippets
 * (snippet.c). The grammar and the scoring are in docs/QUERY.md.
 *
 * This header is the parsed query tree, shared by the parser, the executor
 * and the tests' reference matcher. A tree is immutable once parsed (a
 * newsidx_query may be shared by threads); everything lives in the query's
 * arena. */
#ifndef NX_QUERY_H
#define NX_QUERY_H

#include "index/segment.h"
#include "util/date.h"
#include "util/utf8.h"
#include "util/util.h"

/* Node kinds. */
enum nx_qkind {
    NXQ_NONE = 0, /* matches nothing (empty query, words that were all stopwords) */
    NXQ_ALL,      /* matches every live doc, scores 0 (base of a purely negative group) */
    NXQ_TERM,     /* one analyzed term in the fields of `fields` */
    NXQ_PHRASE,   /* terms at fixed relative positions ("a b", or a word that analyzes to several terms) */
    NXQ_NEAR,     /* distinct terms all within a window of n_terms + slop positions, any order */
    NXQ_PREFIX,   /* folded prefix; expanded over the dictionary at search time */
    NXQ_FUZZY,    /* folded word; terms within max_edits (Levenshtein, code points) */
    NXQ_DATE,     /* lo <= date <= hi (seconds, UTC); a doc-id range per segment */
    NXQ_AND,      /* all positive children match and no negated child matches */
    NXQ_OR,       /* at least one child matches */
};

/* Field mask bits: 1u << NX_F_*. A word without field: title | body. */
#define NXQ_FIELD_BIT(f) (1u << (f))
#define NXQ_DEFAULT_FIELDS (NXQ_FIELD_BIT(NX_F_TITLE) | NXQ_FIELD_BIT(NX_F_BODY))

typedef struct nx_qterm {
    const char *text; /* NUL-terminated analyzed term */
    uint32_t len;
    uint32_t offset;  /* phrase: position relative to the first term */
} nx_qterm;

typedef struct nx_qnode nx_qnode;
struct nx_qnode {
    int kind;          /* enum nx_qkind */
    unsigned fields;   /* TERM/PHRASE/NEAR/PREFIX/FUZZY: field mask */
    double boost;      /* multiplies the node's score (default 1) */
    uint32_t column;   /* 1-based byte column of the node in the query text */
    /* TERM, PHRASE, NEAR: terms (TERM: exactly one). PREFIX/FUZZY: one term,
     * the folded (not stemmed) text. */
    nx_qterm *terms;
    uint32_t n_terms;
    uint32_t slop;      /* NEAR: extra positions allowed in the window */
    uint32_t max_edits; /* FUZZY: 1 or 2 */
    int64_t date_lo, date_hi; /* DATE, inclusive */
    /* AND/OR: children; AND: negated[i] = child i must not match. */
    nx_qnode **children;
    bool *negated;
    uint32_t n_children;
};

struct newsidx_query {
    nx_arena arena;
    nx_qnode *root;
    newsidx_query_options opts;
    char *stem_language;      /* analyzer settings the words were analyzed with */
    char *stopwords_language;
    uint32_t n_leaves;        /* leaf nodes before expansion */
    const char *notice;       /* static text: why the query matches nothing, or NULL */
};

/* Prints a tree as an S-expression (for tests and debugging): (and a (not b)),
 * (or ...), title|body:term, "phrase", (near/2 a b), pre*, fuz~1,
 * date[lo,hi], all, none; boosts as ^2. Returns the bytes written (as snprintf). */
size_t nx_query_dump(const nx_qnode *n, char *buf, size_t cap);

/* Levenshtein distance between two code-point strings, or max+1 when it
 * exceeds max (banded DP, O(len * (2*max+1))). */
uint32_t nx_edit_distance(const int32_t *a, size_t na, const int32_t *b, size_t nb,
                          uint32_t max);
/* Decodes UTF-8 into code points (invalid bytes become -1); returns the
 * count, at most cap. */
size_t nx_utf8_to_cps(const char *s, size_t len, int32_t *out, size_t cap);

/* Date periods: parses "YYYY", "YYYY-MM", "YYYY-MM-DD" (the whole period) or
 * anything newsidx_parse_date accepts (an instant) into [lo, hi] seconds.
 * Returns 0 or -1 when the text is not a date. */
int nx_query_date_period(const char *s, size_t len, int64_t *lo, int64_t *hi);

#endif
