/* index/docstore — stored fields: documents serialized as (name, value)
 * lists, packed into blocks of ~64 KB compressed with zstd and a dictionary
 * trained (ZDICT) on the first documents. Byte layout: docs/FORMAT.md,
 * "Doc store". */
#ifndef NX_DOCSTORE_H
#define NX_DOCSTORE_H

#include "util/util.h"

typedef struct nx_docstore_writer nx_docstore_writer;
/* Documents are added in doc-id order 0, 1, 2, ... and written to f.
 * level: zstd level; block_bytes: uncompressed block target. The first
 * documents (up to ~1 MB) are buffered to train the dictionary. */
int nx_docstore_writer_create(nx_wfile *f, int level, uint32_t block_bytes,
                              nx_err *err, nx_docstore_writer **out);
int nx_docstore_add(nx_docstore_writer *w, const newsidx_field *fields, size_t n);
/* Writes the remaining blocks and the block index; does not finish f. */
int nx_docstore_writer_finish(nx_docstore_writer *w);
void nx_docstore_writer_free(nx_docstore_writer *w);
uint64_t nx_docstore_raw_bytes(const nx_docstore_writer *w);

/* Reader over a mmap'd file's content bytes. Thread-safe: each call uses the
 * caller's scratch (a per-thread zstd context is created on demand). */
typedef struct nx_docstore nx_docstore;
int nx_docstore_open(const uint8_t *data, size_t len, nx_err *err, nx_docstore **out);
void nx_docstore_close(nx_docstore *s);
uint32_t nx_docstore_count(const nx_docstore *s);
/* Decodes document doc into *fields (n entries); names and values point
 * into scratch, which the caller reuses or frees with nx_buf_free. */
typedef struct nx_docstore_scratch {
    nx_buf block;    /* decompressed block */
    nx_buf fields;   /* newsidx_field array */
    void *dctx;      /* ZSTD_DCtx, created on first use */
    uint64_t cached_block; /* block held in `block` (UINT64_MAX none) */
} nx_docstore_scratch;
void nx_docstore_scratch_init(nx_docstore_scratch *s);
void nx_docstore_scratch_free(nx_docstore_scratch *s);
int nx_docstore_get(const nx_docstore *s, uint32_t doc, nx_docstore_scratch *scratch,
                    nx_err *err, const newsidx_field **fields, size_t *n);
/* Decompresses every block and checks its framing. */
int nx_docstore_check(const nx_docstore *s, nx_err *err);

#endif
