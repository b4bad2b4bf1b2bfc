/* index/termdict — the sorted term dictionary: front-coded blocks of terms
 * with a small in-memory index of each block's first term. Maps a term
 * (bytes, compared with memcmp) to a value blob (the term's postings
 * metadata): fixed-size (value_bytes, set at create) or, with the _var
 * builder, a length-prefixed blob of any size up to
 * NX_TERMDICT_MAX_VALUE_BYTES. Byte layout: docs/FORMAT.md, "Term
 * dictionary".
 *
 * Additions to the original interface (all additive, nothing renamed):
 * nx_termdict_builder_create_var, nx_termdict_add_var, nx_termdict_find,
 * nx_termdict_is_var, nx_termdict_iter.value_len, the limit macros. */
#ifndef NX_TERMDICT_H
#define NX_TERMDICT_H

#include "util/util.h"

/* Longest term, in bytes (the iterator's buffer holds it). Longer terms
 * are rejected by add with NEWSIDX_ERR_INVALID. */
#define NX_TERMDICT_MAX_TERM_BYTES 255
/* Largest value of a variable-length dictionary. */
#define NX_TERMDICT_MAX_VALUE_BYTES (1u << 20)

/* Builder: terms must be added in strictly increasing memcmp order
 * (NEWSIDX_ERR_INVALID otherwise). Buffers the whole dictionary in memory
 * until finish, unless given a sink (nx_termdict_builder_set_sink). */
typedef struct nx_termdict_builder nx_termdict_builder;
int nx_termdict_builder_create(uint32_t value_bytes, nx_termdict_builder **out);
/* Variable-length values: add them with nx_termdict_add_var. */
int nx_termdict_builder_create_var(nx_termdict_builder **out);
/* Fixed-size builder: value points at value_bytes bytes (NULL ok if 0). */
int nx_termdict_add(nx_termdict_builder *b, const uint8_t *term, size_t len,
                    const uint8_t *value);
/* Variable-length builder: value_len bytes, at most NX_TERMDICT_MAX_VALUE_BYTES.
 * (Also accepted by a fixed-size builder when value_len == value_bytes.) */
int nx_termdict_add_var(nx_termdict_builder *b, const uint8_t *term, size_t len,
                        const uint8_t *value, size_t value_len);
/* Serializes the dictionary into out (appends). The reader must later be
 * given exactly these bytes. The builder can only be freed afterwards. */
int nx_termdict_finish(nx_termdict_builder *b, nx_buf *out);
void nx_termdict_builder_free(nx_termdict_builder *b);

/* Bytes of the header, the first bytes of every dictionary. */
#define NX_TERMDICT_HEADER_BYTES 40
/* Where a streaming builder's bytes go, in order; 0 or a negative error. */
typedef int (*nx_termdict_sink_fn)(void *ctx, const void *bytes, size_t n);
/* Makes b stream: the dictionary's bytes go to sink as they are final
 * (NX_TERMDICT_HEADER_BYTES zero bytes at once, each block when it
 * closes, the block index at finish), so b holds one block and the block
 * index (8 bytes per block of >= 32 terms or >= 512 bytes), not the whole
 * dictionary: a merge's output dictionary grows with the vocabulary (12.6
 * MB for 90,000 articles) and was held twice while serialized. Before the
 * first add only (NEWSIDX_ERR_INVALID otherwise); the sink's error is
 * returned, and b is then failed. Finish with nx_termdict_finish_sink. */
int nx_termdict_builder_set_sink(nx_termdict_builder *b, nx_termdict_sink_fn sink, void *ctx);
/* Ends a streaming dictionary: the block index goes to the sink, and
 * header gets the header, which the caller puts over the zero bytes the
 * sink got first. Then the bytes equal those nx_termdict_finish would have
 * given. 0, the sink's error, NEWSIDX_ERR_IO after an earlier sink error,
 * or NEWSIDX_ERR_INVALID without a sink. The builder can only be freed
 * afterwards. */
int nx_termdict_finish_sink(nx_termdict_builder *b, uint8_t header[NX_TERMDICT_HEADER_BYTES]);
/* Bytes b holds in memory (its buffers' capacity): what a test bounds. */
size_t nx_termdict_builder_held_bytes(const nx_termdict_builder *b);

/* Reader over serialized bytes (e.g. a mmap'd file region; not copied, so
 * they must outlive the reader). open validates the header and that the
 * block index exactly ends the bytes, and returns NEWSIDX_ERR_CORRUPT with a
 * message otherwise; it reads nothing per block and allocates nothing but
 * the handle, so opening costs the same whatever the dictionary's size.
 * Each block's offsets and head are checked when a lookup or an iterator
 * first touches it; the order of first terms and the sum of the block
 * counts only by nx_termdict_check. Lookups and iterators never read
 * outside [data, data + len) even if the blocks are corrupt: they return
 * NEWSIDX_ERR_CORRUPT instead. A reader is read-only after open, so any
 * number of threads may use it at once. */
typedef struct nx_termdict nx_termdict;
int nx_termdict_open(const uint8_t *data, size_t len, nx_err *err, nx_termdict **out);
void nx_termdict_close(nx_termdict *d);
uint64_t nx_termdict_count(const nx_termdict *d);
/* The fixed value size; 0 for a variable-length dictionary. */
uint32_t nx_termdict_value_bytes(const nx_termdict *d);
bool nx_termdict_is_var(const nx_termdict *d);
/* Exact lookup: 1 and value copied to value_out, 0 when absent, <0 corrupt.
 * Fixed-size dictionaries only (NEWSIDX_ERR_INVALID on a variable one). */
int nx_termdict_get(const nx_termdict *d, const uint8_t *term, size_t len,
                    uint8_t *value_out);
/* Exact lookup without a copy, for both kinds: 1 with *value pointing into
 * the dictionary bytes and *value_len set, 0 when absent, <0 corrupt. */
int nx_termdict_find(const nx_termdict *d, const uint8_t *term, size_t len,
                     const uint8_t **value, size_t *value_len);

/* Cursor over terms in order, starting at the first term >= key. Lives in
 * caller memory; no allocation. */
typedef struct nx_termdict_iter {
    const nx_termdict *d;
    uint64_t block;      /* current block */
    size_t pos;          /* offset in the dictionary bytes of the next entry */
    size_t end;          /* offset one past the current block */
    uint32_t left;       /* terms left in the block after the current one */
    uint8_t term[256];   /* current term (not NUL-terminated) */
    size_t term_len;
    const uint8_t *value; /* points at the current value */
    size_t value_len;     /* its length (value_bytes when fixed) */
} nx_termdict_iter;
/* Positions it at the first term >= key (key NULL/0 = first term).
 * Returns 1 if positioned on a term, 0 at end, <0 if corrupt. */
int nx_termdict_seek(const nx_termdict *d, const uint8_t *key, size_t key_len,
                     nx_termdict_iter *it);
/* Moves to the next term: 1 on a term, 0 at end, <0 if corrupt. */
int nx_termdict_next(nx_termdict_iter *it);
/* Verifies every block (offsets and heads, terms strictly increasing
 * across the whole dictionary, lengths in range, each block's bytes used
 * exactly, block counts adding up to the header's term count). */
int nx_termdict_check(const nx_termdict *d, nx_err *err);

#endif
