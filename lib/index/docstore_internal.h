/* index/docstore_internal — what docstore.c, docstore_read.c and docstore_merge.c share.
 *
 * Byte layout (docs/FORMAT.md, "Doc store"). Little-endian; offsets relative to the store's first byte.
 *
 *   header (8 bytes): u32 magic "NXDS", u32 version (2)
 *   body: dictionary frames and block frames back to back, in the order
 *     written (a merge interleaves the dictionaries it brings in with the
 *     blocks that use them). A dictionary is a zstd frame holding a zstd
 *     dictionary (ZDICT). A block is one zstd frame (content size in the
 *     header) holding consecutive records, cut into zstd blocks of at most
 *     chunk_bytes (16 KiB) of content; the reader decodes them one at a
 *     time and stops after the one where its record ends
 *   dictionary table: n_dicts x { u64 offset, u32 bytes, u32 raw_bytes,
 *     u64 XXH3-64 of the dictionary uncompressed }
 *   block index: n_blocks x { u64 offset, u32 bytes, u32 first_rec,
 *     u32 raw_bytes, u32 dict (0: none; k: table entry k-1) }
 *   doc map (flag bit 0 only): n_docs x u32 record number
 *   name table: n_names x { varint len, len bytes } (name code k = entry k-1)
 *   trailer (72 bytes): u32 magic, u32 version (2), u32 flags, u32 n_docs,
 *     u32 n_recs, u32 n_blocks, u32 n_dicts, u32 n_names, u64 dicts_offset,
 *     u64 index_offset, u64 map_offset, u64 names_offset, u64 raw_bytes
 *
 *   Records are numbered in block order. Without a doc map, record r is
 *   doc r (a flushed segment); a merge copies blocks of its inputs as they
 *   are, so their records keep their physical order while the merged doc
 *   ids follow dates, and the map says where each doc is. Records no doc
 *   maps to are dead (deleted before the merge that copied their block).
 *
 *   record of one document (uncompressed, inside a block):
 *     varint n_fields, then per field:
 *       varint name_code: k >= 1 names entry k-1 of the name table;
 *                         0: an inline name follows: varint len, len bytes,
 *                            one 0 byte (so the reader can return a C string)
 *       varint value_len, value bytes (any bytes)
 *
 * The name table: a field name costs one byte per document instead of its
 * length (zstd would mostly hide the repetition, but not from raw-size
 * accounting, and decoding is simpler). Up to 4096 distinct names of at
 * most 256 bytes get codes; others are written inline. A merge copies an
 * input's blocks only when the input's name table is a prefix of the
 * merged one (or extends it), so the codes inside them keep their names.
 *
 * Error style: a sticky rc in the writer (FTS5's p->rc): after the first
 * failure every call returns it. The reader uses early returns and checks
 * every length against the end of its buffer. */
#ifndef NX_INDEX_DOCSTORE_INTERNAL_H
#define NX_INDEX_DOCSTORE_INTERNAL_H

#include "docstore.h"

#include <pthread.h>
#include <stdatomic.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCDict_advanced */
#include <zstd.h>

#define DS_MAGIC 0x5344584eu /* "NXDS" */
#define DS_VERSION 2
#define DS_FLAG_MAP 1u
#define DS_HEADER_BYTES 8
#define DS_TRAILER_BYTES 72
#define DS_INDEX_ENTRY 24
#define DS_DICT_ENTRY 24
/* Dictionaries one store may hold. A writer run trains one and shares it
 * with every flush, so merges of one run carry one; a few more come from
 * merging indexes built by several runs. Blocks of further dictionaries
 * are recompressed by the merge. */
#define DS_MAX_DICTS 4
#define DS_MAX_NAMES 4096
#define DS_MAX_NAME_BYTES 256
/* A block's raw size is bounded so a corrupt index cannot make the reader
 * allocate gigabytes: one maximal document plus one block. */
#define DS_MAX_BLOCK_BYTES (1u << 26)
/* Room for a block after the dictionary's content in a writer's window
 * (twice the block size, at most this): a longer block is compressed
 * where it is, with the dictionary as a separate segment. */
#define DS_MAX_WINDOW_ROOM (4u << 20)
/* Largest dictionary a writer may train (nx_docstore_options.dict_bytes). */
#define DS_MAX_DICT_BYTES (1u << 22)

typedef struct name_slot {
    uint64_t hash;
    uint32_t code; /* 0 = empty */
    uint32_t off;  /* of the name in names_out, after its varint length */
    uint32_t len;
} name_slot;

/* A dictionary of the table being written. */
typedef struct ds_dict {
    uint64_t offset, hash;
    uint32_t bytes, raw_bytes;
} ds_dict;

struct nx_docstore_writer {
    nx_wfile *f;
    uint64_t base; /* file offset of the store's first byte */
    nx_err *err;
    int rc;        /* sticky error */
    bool finished;
    nx_docstore_options o;

    bool training;      /* buffering the first records to train the dictionary */
    nx_buf train;       /* those records, back to back */
    nx_buf train_sizes; /* size_t per record */

    nx_buf block;       /* records of the current block */
    uint32_t block_recs; /* how many */
    uint32_t n_docs;
    uint32_t n_recs;    /* records in written blocks */
    nx_buf index;       /* DS_INDEX_ENTRY bytes per written block */
    nx_buf cbuf;        /* compressed output */
    ZSTD_CCtx *cctx;
    /* The dictionary this writer compresses with: trained on its own
     * records, the run's (o.shared's) or, in a merge, an input's. Its
     * frame is written before the first block that uses it (dict_slot:
     * its table entry + 1; 0 not written yet). cdict is the writer's own,
     * digested by reference from win, which holds the content and then
     * room for a block: compress_into puts a block there, so that
     * dictionary and block make one contiguous window. */
    ZSTD_CDict *cdict;
    uint8_t *win;
    size_t win_dict, win_cap; /* content bytes; all of win */
    ZSTD_compressionParameters dict_cp; /* cdict's */
    nx_buf dict_frame;
    uint64_t dict_hash;
    uint32_t dict_raw_bytes;
    uint32_t dict_slot;
    ds_dict dicts[DS_MAX_DICTS];
    uint32_t n_dicts;

    /* a merge's output: documents in any order, placed by a doc map */
    bool merging;
    bool compact;        /* copy only blocks at least 9 in 10 live (begin_merge) */
    uint32_t merge_docs; /* announced */
    uint32_t *map;       /* doc -> record, UINT32_MAX until placed */
    nx_buf pending;      /* u32 doc per record of `block` */

    name_slot *slots;
    uint32_t n_slots;   /* power of two, or 0 */
    uint32_t n_names;
    nx_buf names_out;   /* the serialized name table */
    uint64_t raw_bytes;
};

struct nx_docstore {
    const uint8_t *data;
    size_t len;
    uint32_t n_docs;
    uint32_t n_recs;
    uint32_t n_blocks;
    uint32_t n_dicts;
    uint64_t dicts_offset;
    const uint8_t *index;
    const uint8_t *dicts;
    const uint8_t *map; /* n_docs u32 record numbers, NULL: doc = record */
    uint64_t raw_bytes;
    /* Each dictionary is inflated and checked against its hash on the
     * first fetch from a block that uses it, not at open: a search that
     * shows no stored field never pays for it, and a reader of many
     * segments opens in what their headers cost. A scratch copies it in
     * front of its block (nx_docstore_scratch). dict_raw[k] is set once,
     * under dict_lock, and read without it. */
    uint8_t *_Atomic dict_raw[DS_MAX_DICTS];
    pthread_mutex_t dict_lock;
    char **names; /* n_names NUL-terminated copies */
    uint32_t n_names;
};

static inline const uint8_t *entry(const nx_docstore *s, uint64_t b) {
    return s->index + DS_INDEX_ENTRY * b;
}
static inline uint64_t block_off(const nx_docstore *s, uint64_t b) {
    return nx_load_u64le(entry(s, b));
}
static inline uint32_t block_len(const nx_docstore *s, uint64_t b) {
    return nx_load_u32le(entry(s, b) + 8);
}
/* first record of block b; n_recs for b = n_blocks */
static inline uint32_t block_first(const nx_docstore *s, uint64_t b) {
    return b < s->n_blocks ? nx_load_u32le(entry(s, b) + 12) : s->n_recs;
}
static inline uint32_t block_raw(const nx_docstore *s, uint64_t b) {
    return nx_load_u32le(entry(s, b) + 16);
}
static inline uint32_t block_dict(const nx_docstore *s, uint64_t b) {
    return nx_load_u32le(entry(s, b) + 20);
}

/* input table entry k (1-based) of in */
static inline void in_dict(const nx_docstore *in, uint32_t k, uint64_t *off, uint32_t *bytes,
                           uint32_t *raw, uint64_t *hash) {
    const uint8_t *e = in->dicts + DS_DICT_ENTRY * (k - 1);
    *off = nx_load_u64le(e);
    *bytes = nx_load_u32le(e + 8);
    *raw = nx_load_u32le(e + 12);
    *hash = nx_load_u64le(e + 16);
}

/* Writer helpers a merge uses (docstore.c). */

/* Makes dict (len bytes of a zstd dictionary) the one w compresses
 * with, in place of any before. 0 or NEWSIDX_ERR_NOMEM. */
int nx_ds_set_dict(nx_docstore_writer *w, const uint8_t *dict, size_t len);
/* Gives w (without a dictionary yet) the run's, when one was trained:
 * a merge's blocks compressed again use it. 0 or NEWSIDX_ERR_NOMEM. */
int nx_ds_adopt_shared(nx_docstore_writer *w);
/* Records the writer's first error (sticky) and returns it. */
int nx_ds_fail(nx_docstore_writer *w, int code, const char *what);
/* Code of a field name in the writer's table (the run's, if shared). */
int nx_ds_name_code(nx_docstore_writer *w, const char *name, size_t len, uint32_t *code);
/* zstd parameters for the writer's blocks with a dictionary of dict_len. */
ZSTD_compressionParameters nx_ds_block_params(const nx_docstore_writer *w, size_t dict_len);
/* Appends the record of one document to dst. */
int nx_ds_encode_doc(nx_docstore_writer *w, nx_buf *dst, const newsidx_field *fields, size_t n);
/* Cuts a block before the record just appended at rec_start, or after it. */
int nx_ds_place_record(nx_docstore_writer *w, size_t rec_start);
/* Table slot (1-based) of a dictionary frame, writing the frame when new. */
int nx_ds_dict_slot(nx_docstore_writer *w, const uint8_t *frame, uint32_t bytes, uint64_t hash,
                    uint32_t raw_bytes, uint32_t *slot);
/* Appends one compressed block and its index entry. */
int nx_ds_put_block(nx_docstore_writer *w, const uint8_t *src, size_t clen, size_t raw_len,
                    uint32_t n_rec, uint32_t dict);

/* Reader helpers a merge uses (docstore_read.c). */

/* Sets err to a corruption at byte `at` of the store; returns the code. */
int nx_ds_corrupt(nx_err *err, const char *what, uint64_t at);
/* Inflates and checks dictionary k (1-based) of the store into buf. */
int nx_ds_inflate_dict(const nx_docstore *s, uint32_t k, nx_buf *buf, nx_err *err);
/* Decodes record rec (< n_recs) of the store into the scratch. */
int nx_ds_get_rec(const nx_docstore *s, uint32_t rec, nx_docstore_scratch *sc, nx_err *err,
                  const newsidx_field **fields, size_t *n);

#endif
