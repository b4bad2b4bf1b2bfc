/* index/termdict — the sorted term dictionary: front-coded blocks of terms
 * with a small in-memory index of each block's first term. Maps a term
 * (bytes, compared with memcmp) to a fixed-size value blob (the term's
 * postings metadata). Byte layout: docs/FORMAT.md, "Term dictionary". */
#ifndef NX_TERMDICT_H
#define NX_TERMDICT_H

#include "util/util.h"

/* Builder: terms must be added in strictly increasing memcmp order. */
typedef struct nx_termdict_builder nx_termdict_builder;
int nx_termdict_builder_create(uint32_t value_bytes, nx_termdict_builder **out);
int nx_termdict_add(nx_termdict_builder *b, const uint8_t *term, size_t len,
                    const uint8_t *value);
/* Serializes the dictionary into out (appends). */
int nx_termdict_finish(nx_termdict_builder *b, nx_buf *out);
void nx_termdict_builder_free(nx_termdict_builder *b);

/* Reader over serialized bytes (e.g. a mmap'd file region; not copied).
 * open validates the header and the block index (offsets in range, first
 * terms sorted) and returns NEWSIDX_ERR_CORRUPT with a message otherwise. */
typedef struct nx_termdict nx_termdict;
int nx_termdict_open(const uint8_t *data, size_t len, nx_err *err, nx_termdict **out);
void nx_termdict_close(nx_termdict *d);
uint64_t nx_termdict_count(const nx_termdict *d);
uint32_t nx_termdict_value_bytes(const nx_termdict *d);
/* Exact lookup: 1 and value copied to value_out, 0 when absent, <0 corrupt. */
int nx_termdict_get(const nx_termdict *d, const uint8_t *term, size_t len,
                    uint8_t *value_out);

/* Cursor over terms in order, starting at the first term >= key. */
typedef struct nx_termdict_iter {
    const nx_termdict *d;
    uint64_t block;      /* current block */
    size_t pos;          /* byte offset in the block */
    uint32_t left;       /* terms left in the block */
    uint8_t term[256];   /* current term */
    size_t term_len;
    const uint8_t *value; /* points at the current value (value_bytes) */
} nx_termdict_iter;
/* Positions it at the first term >= key (key NULL/0 = first term).
 * Returns 1 if positioned on a term, 0 at end, <0 if corrupt. */
int nx_termdict_seek(const nx_termdict *d, const uint8_t *key, size_t key_len,
                     nx_termdict_iter *it);
/* Moves to the next term: 1 on a term, 0 at end, <0 if corrupt. */
int nx_termdict_next(nx_termdict_iter *it);
/* Verifies every block (terms strictly increasing, lengths in range). */
int nx_termdict_check(const nx_termdict *d, nx_err *err);

#endif
