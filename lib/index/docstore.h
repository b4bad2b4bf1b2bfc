/* index/docstore — stored fields: documents serialized as (name, value)
 * lists, packed into blocks of ~128 KB, each one zstd frame cut into 16 KB
 * zstd blocks (a read decodes only up to its document), compressed with a
 * dictionary trained (ZDICT fastCover) on the first documents — once per
 * writer run when the stores share an nx_docstore_shared. A merge copies
 * the compressed blocks of its inputs and writes a doc -> record map.
 * Byte layout: docs/FORMAT.md, "Doc store".
 *
 * Additions to the original interface (all additive): nx_docstore_options
 * with nx_docstore_writer_create_opts (dictionary size, training bytes,
 * sub-block size, zstd parameters between levels, dictionary training and
 * use; used by the compression measurements), nx_docstore_has_dict, the
 * `owner` field of the scratch (so one scratch can serve several doc
 * stores), the limit macros. */
#ifndef NX_DOCSTORE_H
#define NX_DOCSTORE_H

#include "util/util.h"

/* Largest serialized document (names + values + a few bytes per field);
 * nx_docstore_add returns NEWSIDX_ERR_LIMIT beyond it. */
#define NX_DOCSTORE_MAX_DOC_BYTES (1u << 30)
/* The default (level 0 in nx_docstore_options and in the writer's
 * doc_store_level): zstd level 6's parameters with a lazy search of depth
 * 2^2 in 2^18-slot tables, and a faster dictionary training (docs/FORMAT.md,
 * "Doc store", "Chosen defaults"). An explicit level 1..22 is zstd's. */
#define NX_DOCSTORE_DEFAULT_LEVEL 6
#define NX_DOCSTORE_DEFAULT_BLOCK_BYTES (128u * 1024)
#define NX_DOCSTORE_DEFAULT_DICT_BYTES (320u * 1024)
#define NX_DOCSTORE_DEFAULT_TRAIN_BYTES (4u << 20)
#define NX_DOCSTORE_DEFAULT_CHUNK_BYTES (16u * 1024)

typedef struct nx_docstore_options {
    int level;            /* zstd level; 0 = the measured default (above) */
    uint32_t block_bytes; /* uncompressed block target; 0 = default */
    uint32_t dict_bytes;  /* dictionary capacity; 0 = no dictionary */
    uint32_t train_bytes; /* documents buffered to train it; 0 = default */
    uint32_t chunk_bytes; /* zstd block (sub-block) size, 1-128 KiB; 0 = default */
    /* zstd parameters overriding the level's (0 = the level's): lets the
     * measurements try strategies and table sizes between whole levels. */
    int strategy, window_log, hash_log, chain_log, search_log, min_match, target_length;
    /* dictionary training (fastCover); 0 = the defaults */
    uint32_t train_k, train_d, train_f, train_accel;
    /* how a block uses the dictionary's match tables: 0 zstd's choice,
     * 1 attached (searched in place), 2 copied into the context; and
     * zstd's dedicated dictionary search (greedy, lazy, lazy2; implies 1) */
    int attach_dict, dict_search;
    /* The writer run's dictionary (NULL: each store trains its own): the
     * first store to buffer train_bytes (or to end with enough data)
     * trains it for the run; the others wait for it and compress with it
     * (a store that trains it on fewer bytes than train_bytes, because it
     * ends first, keeps it only where it pays for its frame). */
    struct nx_docstore_shared *shared;
    /* Documents the caller will add (0: not known). The last one ends the
     * training buffering then, not at finish: in a writer run the
     * dictionary is trained while the caller writes the rest of its
     * segment, and a store that would wait for another's training leaves
     * that to finish. */
    uint32_t expect_docs;
} nx_docstore_options;
void nx_docstore_options_init(nx_docstore_options *o); /* the defaults */

/* One dictionary for all the doc stores of a writer run (its flushes on
 * every worker thread and its merges), so that merges copy blocks without
 * gathering one dictionary per flush. Thread-safe; must outlive every
 * writer given it. */
typedef struct nx_docstore_shared nx_docstore_shared;
/* 0 or NEWSIDX_ERR_NOMEM. */
int nx_docstore_shared_new(nx_docstore_shared **out);
void nx_docstore_shared_free(nx_docstore_shared *sh);

typedef struct nx_docstore_writer nx_docstore_writer;
typedef struct nx_docstore nx_docstore;
typedef struct nx_docstore_scratch nx_docstore_scratch;
/* Documents are added in doc-id order 0, 1, 2, ... and written to f.
 * level: zstd level (0 = the default parameters above); block_bytes: uncompressed block target
 * (0 = default 128 KiB; a document bigger than a block gets a block of its
 * own). The first documents (up to 4 MiB) are buffered to train the
 * dictionary; with too little data to train one (a few KB), the store goes
 * on without (recorded in the trailer). */
int nx_docstore_writer_create(nx_wfile *f, int level, uint32_t block_bytes,
                              nx_err *err, nx_docstore_writer **out);
int nx_docstore_writer_create_opts(nx_wfile *f, const nx_docstore_options *o, nx_err *err,
                                   nx_docstore_writer **out);
/* Field names are C strings; values any bytes (NUL included). After an
 * error the writer is unusable (every later call returns the same code). */
int nx_docstore_add(nx_docstore_writer *w, const newsidx_field *fields, size_t n);
/* Makes w (fresh, nothing added) the output of a merge of n_docs
 * documents: they come from nx_docstore_merge_input, in any order, and
 * a doc map is written. An input block is copied when at least half its
 * records are live, or with `compact` (a merge that is to give the space
 * of deleted articles back) at least 9 in 10; its other live records are
 * compressed again. 0, NEWSIDX_ERR_NOMEM or NEWSIDX_ERR_INVALID. */
int nx_docstore_writer_begin_merge(nx_docstore_writer *w, uint32_t n_docs, bool compact);
/* What nx_docstore_merge_input did with an input's blocks. */
typedef struct nx_docstore_merge_stats {
    uint32_t blocks_copied, blocks_recompressed;
    uint64_t records_copied, records_recompressed, dead_records_copied;
} nx_docstore_merge_stats;
/* Adds the live documents of store `in` to the merge: map[d] is the new
 * doc id of in's doc d, UINT32_MAX for a dropped one. A block live enough
 * (nx_docstore_writer_begin_merge: half its records, 9 in 10 when
 * compacting) is copied byte for byte (its dead records kept as garbage),
 * the others are decoded and their live records compressed again (sc:
 * the caller's scratch for in). *st (may be NULL) gets what was done,
 * added to its counts. */
int nx_docstore_merge_input(nx_docstore_writer *w, const nx_docstore *in, const uint32_t *map,
                            nx_docstore_scratch *sc, nx_docstore_merge_stats *st);
/* Where w's errors and its file's go from now on: a merge copies the
 * stored fields on a thread of its own, which must not write the error
 * the merge's other threads may write. */
void nx_docstore_writer_set_err(nx_docstore_writer *w, nx_err *err);
/* Writes the remaining blocks and the tables; does not finish f. */
int nx_docstore_writer_finish(nx_docstore_writer *w);
void nx_docstore_writer_free(nx_docstore_writer *w);
/* true while w buffers its first records for the run's dictionary that
 * another store of the run is training: a later add may then wait for
 * it, so the caller may do other work of its own first (a flush writes
 * its terms). */
bool nx_docstore_waits_for_dict(const nx_docstore_writer *w);
/* Sum of name and value bytes of every field added: what ratios divide by. */
uint64_t nx_docstore_raw_bytes(const nx_docstore_writer *w);

/* Reader over a mmap'd file's content bytes: exactly the bytes written
 * from the writer's creation to its finish (not copied; must outlive the
 * reader). Thread-safe: each call uses the caller's scratch (a per-thread
 * zstd context is created on demand); a dictionary is inflated once, on
 * its first use, and each scratch decoding with it keeps a copy. Never
 * reads outside the bytes, even corrupt ones. */
int nx_docstore_open(const uint8_t *data, size_t len, nx_err *err, nx_docstore **out);
void nx_docstore_close(nx_docstore *s);
uint32_t nx_docstore_count(const nx_docstore *s);
bool nx_docstore_has_dict(const nx_docstore *s);
/* Dictionaries in the store's table (0..4). */
uint32_t nx_docstore_dict_count(const nx_docstore *s);
/* Blocks, and block b's compressed bytes (*bytes, *len: inside the
 * store's data): what tests compare to show a merge copied them. */
uint32_t nx_docstore_block_count(const nx_docstore *s);
void nx_docstore_block_bytes(const nx_docstore *s, uint32_t b, const uint8_t **bytes, size_t *len);
/* Decodes document doc into *fields (n entries); names and values point
 * into scratch (or the store), valid until the scratch's next use. The
 * caller reuses the scratch or frees it with nx_docstore_scratch_free.
 * The block is decoded only up to the zstd block holding the document;
 * the scratch keeps it and the decoder's state, so a later document of the
 * same block continues from there. */
struct nx_docstore_scratch {
    /* The decompressed block, at `prefix`: before it a copy of the
     * dictionary content of the last block decoded with one, so that
     * zstd sees dictionary and block as one window (matches into the
     * dictionary take its fast path, not the one for a separate segment;
     * docs/FORMAT.md, "Chosen defaults"). */
    nx_buf block;
    size_t prefix;
    void *ddict;          /* ZSTD_DDict over that copy (by reference) */
    uint64_t ddict_hash;  /* the dictionary's XXH3 and size: stores of one */
    uint32_t ddict_bytes; /* writer run share it, and so may one copy */
    nx_buf fields;   /* newsidx_field array */
    void *dctx;      /* ZSTD_DCtx, created on first use */
    uint64_t cached_block; /* block held in `block` (UINT64_MAX none) */
    size_t src_used;       /* its compressed bytes decoded so far */
    bool block_done;       /* decoded whole (block.len = its raw size) */
    uint32_t parsed_rec;   /* a record of the block which starts */
    size_t parsed_off;     /* at this offset in `block` */
    const void *owner;     /* the nx_docstore that block belongs to */
};
void nx_docstore_scratch_init(nx_docstore_scratch *s);
void nx_docstore_scratch_free(nx_docstore_scratch *s);
/* Returns 0, NEWSIDX_ERR_NOT_FOUND (doc >= count), NEWSIDX_ERR_CORRUPT or
 * NEWSIDX_ERR_NOMEM, with a message in err. */
int nx_docstore_get(const nx_docstore *s, uint32_t doc, nx_docstore_scratch *scratch,
                    nx_err *err, const newsidx_field **fields, size_t *n);
/* Decompresses every dictionary and block and checks their framing,
 * hashes, that they tile the body, and that the doc map is one-to-one. */
int nx_docstore_check(const nx_docstore *s, nx_err *err);

#endif
