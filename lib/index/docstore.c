/* index/docstore — stored fields in zstd-compressed blocks with a trained
 * dictionary.
 *
 * Byte layout (docs/FORMAT.md, "Doc store"). Little-endian; offsets relative to the store's first byte.
 *
 *   header (8 bytes): u32 magic "NXDS", u32 version (1)
 *   dictionary: dict_bytes bytes, a zstd frame holding the dict_raw_bytes of
 *     a zstd dictionary (ZDICT format); absent (0 bytes) without one
 *   blocks: each one zstd frame (compressed with the dictionary when there is
 *     one; content size in the header) holding the records of consecutive
 *     documents, back to back. The writer cuts each frame into zstd blocks
 *     of at most chunk_bytes (16 KiB) of content (ZSTD_c_maxBlockSize); the
 *     reader decodes them one at a time (bufferless API) and stops after
 *     the one where its document's record ends
 *   block index: n_blocks x { u64 offset, u32 first_doc, u32 raw_bytes }
 *     (a block's compressed size is the next offset minus its own; the last
 *     block ends at the index)
 *   name table: n_names x { varint len, len bytes } (name code k = entry k-1)
 *   trailer (64 bytes):
 *     u32 magic "NXDS"  u32 version (1)  u32 flags (bit 0: dictionary)
 *     u32 n_docs  u64 dict_offset (8)  u32 dict_bytes  u32 n_blocks
 *     u64 index_offset  u64 names_offset  u32 n_names  u32 dict_raw_bytes
 *     u64 raw_bytes (sum of name + value bytes, for statistics)
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
 * most 256 bytes get codes; others are written inline.
 *
 * Error style: a sticky rc in the writer (FTS5's p->rc): after the first
 * failure every call returns it. The reader uses early returns and checks
 * every length against the end of its buffer. */
#include "docstore.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_trainFromBuffer_fastCover */
#include <zdict.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCDict_advanced */
#include <zstd.h>

#define DS_MAGIC 0x5344584eu /* "NXDS" */
#define DS_VERSION 1
#define DS_FLAG_DICT 1u
#define DS_HEADER_BYTES 8
#define DS_TRAILER_BYTES 64
#define DS_INDEX_ENTRY 16
#define DS_MAX_NAMES 4096
#define DS_MAX_NAME_BYTES 256
/* Training samples longer than this are cut: ZDICT works on the beginnings
 * of documents, and one 50 MB article must not dominate the dictionary. */
#define DS_SAMPLE_MAX (16u * 1024)
/* The dictionary is at most a tenth of the training data (ZDICT's advice:
 * samples ~10-100x the dictionary); below this capacity, no dictionary. */
#define DS_MIN_DICT_BYTES (4u * 1024)
/* A block's raw size is bounded so a corrupt index cannot make the reader
 * allocate gigabytes: one maximal document plus one block. */
#define DS_MAX_BLOCK_BYTES (1u << 26)
/* Largest dictionary a writer may train (nx_docstore_options.dict_bytes). */
#define DS_MAX_DICT_BYTES (1u << 22)
/* Sub-block (zstd block) sizes zstd accepts: 1 KiB to 128 KiB. */
#define DS_MIN_CHUNK_BYTES (1u << 10)
#define DS_MAX_CHUNK_BYTES (1u << 17)
/* Dictionary training (fastCover): segment size k, d-mer size d, and 2^f
 * hash slots; chosen on the three corpora (docs/FORMAT.md). */
#define DS_TRAIN_K 200
#define DS_TRAIN_D 8
#define DS_TRAIN_F 20
#define DS_BAD_RECORD 1 /* parse_record: not a whole record */
#define DS_MAX_BLOCK_RAW ((uint64_t)NX_DOCSTORE_MAX_DOC_BYTES + DS_MAX_BLOCK_BYTES)

void nx_docstore_options_init(nx_docstore_options *o) {
    memset(o, 0, sizeof *o); /* level 0 and no overrides: the measured default */
    o->block_bytes = NX_DOCSTORE_DEFAULT_BLOCK_BYTES;
    o->dict_bytes = NX_DOCSTORE_DEFAULT_DICT_BYTES;
    o->train_bytes = NX_DOCSTORE_DEFAULT_TRAIN_BYTES;
    o->chunk_bytes = NX_DOCSTORE_DEFAULT_CHUNK_BYTES;
}

/* ---- writer ------------------------------------------------------------- */

typedef struct name_slot {
    uint64_t hash;
    uint32_t code; /* 0 = empty */
    uint32_t off;  /* of the name in names_out, after its varint length */
    uint32_t len;
} name_slot;

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
    uint32_t block_first_doc;
    uint32_t n_docs;
    nx_buf index;       /* DS_INDEX_ENTRY bytes per written block */
    nx_buf cbuf;        /* compressed output */
    ZSTD_CCtx *cctx;
    ZSTD_CDict *cdict;
    ZSTD_compressionParameters dict_cp; /* cdict's */
    uint32_t dict_bytes;     /* as stored (compressed) */
    uint32_t dict_raw_bytes; /* as trained */

    name_slot *slots;
    uint32_t n_slots;   /* power of two, or 0 */
    uint32_t n_names;
    nx_buf names_out;   /* the serialized name table */
    uint64_t raw_bytes;
};

static int w_fail(nx_docstore_writer *w, int code, const char *what) {
    if (w->rc == 0) w->rc = nx_err_set(w->err, code, "doc store: %s", what);
    return w->rc;
}

/* The default parameters, where the caller set none: level 6 (lazy,
 * 2^19 window) with 2^18 hash and chain tables and a search depth of 2^2
 * instead of 2^19 and 2^3, and fastCover training with f = 18 and accel 4.
 * Measured (bench/README.md, "Doc store"): 1.7-2.1x level 9's write speed
 * at 0.346 / 0.328 / 0.341 of the raw bytes of 20 Newsgroups, Reuters and
 * BBC (level 9: 0.336 / 0.314 / 0.326), one-article fetch unchanged. */
static void default_params(nx_docstore_options *o) {
    o->level = NX_DOCSTORE_DEFAULT_LEVEL;
    if (!o->strategy) o->strategy = ZSTD_lazy;
    if (!o->hash_log) o->hash_log = 18;
    if (!o->chain_log) o->chain_log = 18;
    if (!o->search_log) o->search_log = 2;
    if (!o->train_f) o->train_f = 18;
    if (!o->train_accel) o->train_accel = 4;
}

/* true when every zstd parameter override is 0 or within zstd's bounds. */
static bool zstd_overrides_valid(const nx_docstore_options *o) {
    const struct {
        ZSTD_cParameter p;
        int v;
    } ps[] = {
        {ZSTD_c_strategy, o->strategy},     {ZSTD_c_windowLog, o->window_log},
        {ZSTD_c_hashLog, o->hash_log},      {ZSTD_c_chainLog, o->chain_log},
        {ZSTD_c_searchLog, o->search_log},  {ZSTD_c_minMatch, o->min_match},
        {ZSTD_c_targetLength, o->target_length},
    };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        ZSTD_bounds b = ZSTD_cParam_getBounds(ps[i].p);
        if (ps[i].v && (ZSTD_isError(b.error) || ps[i].v < b.lowerBound || ps[i].v > b.upperBound))
            return false;
    }
    if (o->attach_dict < 0 || o->attach_dict > 2 || o->dict_search < 0 || o->dict_search > 1)
        return false;
    /* fastCover: d is 6 or 8, f 1..31, accel 1..10 */
    return (!o->train_d || o->train_d == 6 || o->train_d == 8) && o->train_f < 32 &&
           o->train_accel <= 10 && (!o->train_k || o->train_k >= 16);
}

/* The zstd parameters of a block of the writer's size compressed with a
 * dictionary of dict_len bytes (0: none): the level's, then the
 * overrides. */
static ZSTD_compressionParameters block_params(const nx_docstore_writer *w, size_t dict_len) {
    ZSTD_compressionParameters cp = ZSTD_getCParams(w->o.level, w->o.block_bytes, dict_len);
    if (w->o.strategy) cp.strategy = (ZSTD_strategy)w->o.strategy;
    if (w->o.window_log) cp.windowLog = (unsigned)w->o.window_log;
    if (w->o.hash_log) cp.hashLog = (unsigned)w->o.hash_log;
    if (w->o.chain_log) cp.chainLog = (unsigned)w->o.chain_log;
    if (w->o.search_log) cp.searchLog = (unsigned)w->o.search_log;
    if (w->o.min_match) cp.minMatch = (unsigned)w->o.min_match;
    if (w->o.target_length) cp.targetLength = (unsigned)w->o.target_length;
    /* No more hash slots than window positions (level 9 for 128 + 320 KiB
     * asks 2^20 for a 2^19 window): the CDict's tables are copied into the
     * context for every block, and the smaller table writes faster for a
     * few more bytes (bench/README.md, "History of measured choices"). */
    if (cp.hashLog > cp.windowLog) cp.hashLog = cp.windowLog;
    return cp;
}

int nx_docstore_writer_create_opts(nx_wfile *f, const nx_docstore_options *o, nx_err *err,
                                   nx_docstore_writer **out) {
    *out = NULL;
    nx_docstore_writer *w = calloc(1, sizeof *w);
    if (!w) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    nx_docstore_options_init(&w->o);
    if (o) {
        if (o->level) w->o.level = o->level;
        if (o->block_bytes) w->o.block_bytes = o->block_bytes;
        w->o.dict_bytes = o->dict_bytes;
        if (o->train_bytes) w->o.train_bytes = o->train_bytes;
        if (o->chunk_bytes) w->o.chunk_bytes = o->chunk_bytes;
        w->o.strategy = o->strategy;
        w->o.window_log = o->window_log;
        w->o.hash_log = o->hash_log;
        w->o.chain_log = o->chain_log;
        w->o.search_log = o->search_log;
        w->o.min_match = o->min_match;
        w->o.target_length = o->target_length;
        w->o.train_k = o->train_k;
        w->o.train_d = o->train_d;
        w->o.train_f = o->train_f;
        w->o.train_accel = o->train_accel;
        w->o.attach_dict = o->dict_search ? 1 : o->attach_dict;
        w->o.dict_search = o->dict_search;
    }
    if (w->o.level == 0) default_params(&w->o);
    if (!zstd_overrides_valid(&w->o)) {
        free(w);
        return nx_err_set(err, NEWSIDX_ERR_INVALID, "doc store: a zstd parameter is out of range");
    }
    if (w->o.level < ZSTD_minCLevel() || w->o.level > ZSTD_maxCLevel() ||
        w->o.block_bytes > DS_MAX_BLOCK_BYTES || w->o.dict_bytes > DS_MAX_DICT_BYTES ||
        w->o.chunk_bytes < DS_MIN_CHUNK_BYTES || w->o.chunk_bytes > DS_MAX_CHUNK_BYTES) {
        int level = w->o.level;
        uint32_t block_bytes = w->o.block_bytes;
        free(w);
        return nx_err_set(err, NEWSIDX_ERR_INVALID,
                          "doc store: zstd level %d, block size %u or sub-block size out of range",
                          level, block_bytes);
    }
    w->f = f;
    w->err = err;
    w->base = nx_wfile_offset(f);
    w->training = w->o.dict_bytes > 0;
    w->cctx = ZSTD_createCCtx();
    if (!w->cctx) {
        free(w);
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    }
    uint8_t h[DS_HEADER_BYTES];
    nx_store_u32le(h, DS_MAGIC);
    nx_store_u32le(h + 4, DS_VERSION);
    int rc = nx_wfile_write(f, h, sizeof h);
    if (rc < 0) {
        nx_docstore_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int nx_docstore_writer_create(nx_wfile *f, int level, uint32_t block_bytes, nx_err *err,
                              nx_docstore_writer **out) {
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.level = level;
    o.block_bytes = block_bytes;
    return nx_docstore_writer_create_opts(f, &o, err, out);
}

void nx_docstore_writer_free(nx_docstore_writer *w) {
    if (!w) return;
    nx_buf_free(&w->train);
    nx_buf_free(&w->train_sizes);
    nx_buf_free(&w->block);
    nx_buf_free(&w->index);
    nx_buf_free(&w->cbuf);
    nx_buf_free(&w->names_out);
    free(w->slots);
    ZSTD_freeCCtx(w->cctx);
    ZSTD_freeCDict(w->cdict);
    free(w);
}

uint64_t nx_docstore_raw_bytes(const nx_docstore_writer *w) { return w->raw_bytes; }

/* Code of a field name (1..DS_MAX_NAMES), adding it to the table on first
 * sight; 0 when it must be written inline (table full or name too long). */
static int name_code(nx_docstore_writer *w, const char *name, size_t len, uint32_t *code) {
    *code = 0;
    if (len > DS_MAX_NAME_BYTES) return 0;
    /* Grow at half load; once the table is full (4096 names in 8192
     * slots) it only serves lookups. */
    if (w->n_names * 2 >= w->n_slots && w->n_names < DS_MAX_NAMES) {
        uint32_t n = w->n_slots ? w->n_slots * 2 : 64;
        name_slot *s = calloc(n, sizeof *s);
        if (!s) return NEWSIDX_ERR_NOMEM;
        for (uint32_t i = 0; i < w->n_slots; i++) {
            if (!w->slots[i].code) continue;
            uint32_t j = (uint32_t)w->slots[i].hash & (n - 1);
            while (s[j].code) j = (j + 1) & (n - 1);
            s[j] = w->slots[i];
        }
        free(w->slots);
        w->slots = s;
        w->n_slots = n;
    }
    uint64_t h = nx_hash64(name, len);
    uint32_t j = (uint32_t)h & (w->n_slots - 1);
    while (w->slots[j].code) {
        const name_slot *s = &w->slots[j];
        if (s->hash == h && s->len == len && memcmp(w->names_out.data + s->off, name, len) == 0) {
            *code = s->code;
            return 0;
        }
        j = (j + 1) & (w->n_slots - 1);
    }
    if (w->n_names >= DS_MAX_NAMES) return 0;
    NX_FORWARD(nx_buf_put_varint(&w->names_out, len));
    uint32_t off = (uint32_t)w->names_out.len;
    NX_FORWARD(nx_buf_append(&w->names_out, name, len));
    w->slots[j] = (name_slot){.hash = h, .code = ++w->n_names, .off = off, .len = (uint32_t)len};
    *code = w->slots[j].code;
    return 0;
}

/* Appends the record of one document to dst. */
static int encode_doc(nx_docstore_writer *w, nx_buf *dst, const newsidx_field *fields,
                      size_t n) {
    uint64_t bound = 10;
    for (size_t i = 0; i < n; i++) {
        bound += 10 + 10 + 10 + 1 + strlen(fields[i].name) + (uint64_t)fields[i].value_len;
        if (bound > NX_DOCSTORE_MAX_DOC_BYTES)
            return nx_err_set(w->err, NEWSIDX_ERR_LIMIT,
                              "doc store: document %u is larger than %u bytes", w->n_docs,
                              NX_DOCSTORE_MAX_DOC_BYTES);
    }
    NX_FORWARD(nx_buf_reserve(dst, (size_t)bound));
    uint8_t *p = dst->data + dst->len;
    p += nx_varint_encode(p, n);
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strlen(fields[i].name);
        uint32_t code;
        NX_FORWARD(name_code(w, fields[i].name, name_len, &code));
        p += nx_varint_encode(p, code);
        if (code == 0) {
            p += nx_varint_encode(p, name_len);
            memcpy(p, fields[i].name, name_len);
            p += name_len;
            *p++ = 0;
        }
        p += nx_varint_encode(p, fields[i].value_len);
        if (fields[i].value_len) memcpy(p, fields[i].value, fields[i].value_len);
        p += fields[i].value_len;
        w->raw_bytes += name_len + fields[i].value_len;
    }
    dst->len = (size_t)(p - dst->data);
    return 0;
}

/* Gives the context the parameters of `cp` (those the CDict was made with,
 * or the level's for a block without dictionary) and the sub-block size:
 * a block is one zstd frame cut into zstd blocks of at most chunk_bytes, so
 * a reader can stop decoding after the sub-block holding its document. */
static int set_params(nx_docstore_writer *w, ZSTD_compressionParameters cp) {
    const struct {
        ZSTD_cParameter p;
        int v;
    } ps[] = {
        {ZSTD_c_windowLog, (int)cp.windowLog},   {ZSTD_c_chainLog, (int)cp.chainLog},
        {ZSTD_c_hashLog, (int)cp.hashLog},       {ZSTD_c_searchLog, (int)cp.searchLog},
        {ZSTD_c_minMatch, (int)cp.minMatch},     {ZSTD_c_targetLength, (int)cp.targetLength},
        {ZSTD_c_strategy, (int)cp.strategy},     {ZSTD_c_maxBlockSize, (int)w->o.chunk_bytes},
        {ZSTD_c_contentSizeFlag, 1},             {ZSTD_c_checksumFlag, 0},
        {ZSTD_c_forceAttachDict, w->o.attach_dict},
    };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        size_t r = ZSTD_CCtx_setParameter(w->cctx, ps[i].p, ps[i].v);
        if (ZSTD_isError(r))
            return nx_err_set(w->err, NEWSIDX_ERR_INVALID, "doc store: zstd parameter: %s",
                              ZSTD_getErrorName(r));
    }
    return 0;
}

/* Compresses src into w->cbuf as one frame, with cdict's parameters (and
 * dictionary) or, without one, the level's for a block. */
static int compress_into(nx_docstore_writer *w, const ZSTD_CDict *cdict, const uint8_t *src,
                         size_t len, size_t *out_len) {
    /* Sub-blocks of chunk_bytes >= 1 KiB add a 3-byte header each at
     * worst, which ZSTD_compressBound's len/256 margin covers. */
    size_t cap = ZSTD_compressBound(len);
    w->cbuf.len = 0;
    NX_FORWARD(nx_buf_reserve(&w->cbuf, cap));
    ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
    size_t r = ZSTD_CCtx_refCDict(w->cctx, NULL);
    if (!ZSTD_isError(r))
        NX_FORWARD(set_params(w, cdict ? w->dict_cp
                                       : block_params(w, 0)));
    if (!ZSTD_isError(r) && cdict) r = ZSTD_CCtx_refCDict(w->cctx, cdict);
    if (!ZSTD_isError(r)) r = ZSTD_compress2(w->cctx, w->cbuf.data, cap, src, len);
    if (ZSTD_isError(r))
        return nx_err_set(w->err, NEWSIDX_ERR_NOMEM, "doc store: zstd: %s",
                          ZSTD_getErrorName(r));
    *out_len = r;
    return 0;
}

/* Writes the records src[0..len) of docs first..first+n-1 as one block. */
static int write_block(nx_docstore_writer *w, const uint8_t *src, size_t len, uint32_t first) {
    size_t clen = 0;
    NX_FORWARD(compress_into(w, w->cdict, src, len, &clen));
    uint8_t e[DS_INDEX_ENTRY];
    nx_store_u64le(e, nx_wfile_offset(w->f) - w->base);
    nx_store_u32le(e + 8, first);
    nx_store_u32le(e + 12, (uint32_t)len);
    NX_FORWARD(nx_buf_append(&w->index, e, sizeof e));
    return nx_wfile_write(w->f, w->cbuf.data, clen);
}

/* The record just appended to w->block starts at rec_start: cut a block
 * before it when it would overflow the target, or after it when the block
 * is full. */
static int place_record(nx_docstore_writer *w, size_t rec_start, uint32_t doc) {
    if (rec_start == 0) w->block_first_doc = doc;
    if (rec_start > 0 && w->block.len > w->o.block_bytes) {
        NX_FORWARD(write_block(w, w->block.data, rec_start, w->block_first_doc));
        memmove(w->block.data, w->block.data + rec_start, w->block.len - rec_start);
        w->block.len -= rec_start;
        w->block_first_doc = doc;
    }
    if (w->block.len >= w->o.block_bytes) {
        NX_FORWARD(write_block(w, w->block.data, w->block.len, w->block_first_doc));
        w->block.len = 0;
    }
    return 0;
}

/* Compressed size of the buffered training records cut into blocks, with
 * or without a dictionary: decides whether a dictionary pays for itself. */
static int blocks_size(nx_docstore_writer *w, const ZSTD_CDict *cdict, uint64_t *total) {
    const size_t *sizes = (const size_t *)w->train_sizes.data;
    size_t n = w->train_sizes.len / sizeof *sizes, start = 0, end = 0;
    *total = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || (end > start && end + sizes[i] - start > w->o.block_bytes)) {
            if (end > start) {
                size_t clen = 0;
                NX_FORWARD(compress_into(w, cdict, w->train.data + start, end - start, &clen));
                *total += clen;
            }
            start = end;
        }
        if (i < n) end += sizes[i];
    }
    return 0;
}

/* A CDict with zstd's dedicated dictionary search: its tables are laid
 * out for reading (blocks attach it, never copy it); zstd picks their
 * sizes from the level and the dictionary. NULL when out of memory. */
static ZSTD_CDict *create_dds_cdict(const nx_docstore_writer *w, const void *dict, size_t len) {
    ZSTD_CCtx_params *p = ZSTD_createCCtxParams();
    ZSTD_CDict *cdict = NULL;
    if (p && !ZSTD_isError(ZSTD_CCtxParams_init(p, w->o.level)) &&
        !ZSTD_isError(ZSTD_CCtxParams_setParameter(p, ZSTD_c_enableDedicatedDictSearch, 1)))
        cdict = ZSTD_createCDict_advanced2(dict, len, ZSTD_dlm_byCopy, ZSTD_dct_auto, p,
                                           ZSTD_defaultCMem);
    ZSTD_freeCCtxParams(p);
    return cdict;
}

/* Trains the dictionary on the buffered records (when there is enough
 * data), writes it, then blocks the buffered records. `final`: no more
 * documents will come, so the dictionary must beat no dictionary on
 * exactly these records, its own size included. */
static int end_training(nx_docstore_writer *w, bool final) {
    w->training = false;
    const size_t *sizes = (const size_t *)w->train_sizes.data;
    size_t n = w->train_sizes.len / sizeof *sizes;
    size_t cap = NX_MIN((size_t)w->o.dict_bytes, w->train.len / 10);
    int rc = 0;
    if (cap >= DS_MIN_DICT_BYTES && n >= 8) {
        /* Samples: the first DS_SAMPLE_MAX bytes of each record. */
        nx_buf samples = {0}, sample_sizes = {0};
        uint8_t *dict = malloc(cap);
        rc = dict ? 0 : NEWSIDX_ERR_NOMEM;
        for (size_t i = 0, off = 0; rc == 0 && i < n; off += sizes[i], i++) {
            size_t s = NX_MIN(sizes[i], (size_t)DS_SAMPLE_MAX);
            rc = nx_buf_append(&samples, w->train.data + off, s);
            if (rc == 0) rc = nx_buf_append(&sample_sizes, &s, sizeof s);
        }
        size_t dlen = 0;
        if (rc == 0) {
            /* One fastCover pass with fixed segment and d-mer sizes:
             * ZDICT_trainFromBuffer tries 4 segment sizes and tests each,
             * ~4x the time, and its pick did no better on the three
             * corpora (20 Newsgroups 0.339 vs 0.337 with k = 200). */
            ZDICT_fastCover_params_t fp = {0};
            fp.k = w->o.train_k ? w->o.train_k : DS_TRAIN_K;
            fp.d = w->o.train_d ? w->o.train_d : DS_TRAIN_D;
            fp.f = w->o.train_f ? w->o.train_f : DS_TRAIN_F;
            fp.accel = w->o.train_accel ? w->o.train_accel : 1;
            dlen = ZDICT_trainFromBuffer_fastCover(dict, cap, samples.data,
                                                   (const size_t *)sample_sizes.data, (unsigned)n, fp);
            if (ZDICT_isError(dlen)) dlen = 0; /* too little or too uniform data */
        }
        nx_buf_free(&samples);
        nx_buf_free(&sample_sizes);
        ZSTD_CDict *cdict = NULL;
        if (rc == 0 && dlen) {
            /* Parameters sized for one block, not for an unknown size:
             * ZSTD_createCDict's defaults carry multi-MB match tables that
             * are reset for every 64 KB block (measured ~2x slower). */
            ZSTD_compressionParameters cp = block_params(w, dlen);
            w->dict_cp = cp;
            if (w->o.dict_search) {
                cdict = create_dds_cdict(w, dict, dlen);
            } else {
                cdict = ZSTD_createCDict_advanced(dict, dlen, ZSTD_dlm_byCopy, ZSTD_dct_auto, cp,
                                                  ZSTD_defaultCMem);
            }
            if (!cdict) rc = NEWSIDX_ERR_NOMEM;
        }
        /* The dictionary is stored zstd-compressed: it is mostly text and
         * shrinks to less than half, which matters for small segments. */
        size_t stored = 0;
        if (rc == 0 && cdict) rc = compress_into(w, NULL, dict, dlen, &stored);
        if (rc == 0 && cdict && final) {
            uint64_t with = 0, without = 0;
            rc = blocks_size(w, cdict, &with);
            if (rc == 0) rc = blocks_size(w, NULL, &without);
            if (rc == 0 && with + stored >= without) {
                ZSTD_freeCDict(cdict);
                cdict = NULL;
            }
        }
        if (rc == 0 && cdict) {
            /* compress it again: blocks_size reused cbuf */
            rc = compress_into(w, NULL, dict, dlen, &stored);
            if (rc == 0) rc = nx_wfile_write(w->f, w->cbuf.data, stored);
            w->cdict = cdict;
            w->dict_bytes = (uint32_t)stored;
            w->dict_raw_bytes = (uint32_t)dlen;
        } else {
            ZSTD_freeCDict(cdict);
        }
        free(dict);
        if (rc < 0) return w_fail(w, rc, "out of memory training the dictionary");
    }
    for (size_t i = 0, off = 0; i < n; off += sizes[i], i++) {
        size_t start = w->block.len;
        rc = nx_buf_append(&w->block, w->train.data + off, sizes[i]);
        if (rc == 0) rc = place_record(w, start, w->n_docs - (uint32_t)(n - i));
        if (rc < 0) return w->rc = rc;
    }
    nx_buf_free(&w->train);
    nx_buf_free(&w->train_sizes);
    return 0;
}

int nx_docstore_add(nx_docstore_writer *w, const newsidx_field *fields, size_t n) {
    if (w->rc) return w->rc;
    if (w->finished) return w_fail(w, NEWSIDX_ERR_INVALID, "add after finish");
    if (w->n_docs == UINT32_MAX) return w_fail(w, NEWSIDX_ERR_LIMIT, "too many documents");
    nx_buf *dst = w->training ? &w->train : &w->block;
    size_t start = dst->len;
    int rc = encode_doc(w, dst, fields, n);
    /* Too big: nothing was written and the doc id is not used, so the
     * caller may go on (e.g. with the document cut). */
    if (rc == NEWSIDX_ERR_LIMIT) return rc;
    uint32_t doc = w->n_docs++;
    if (rc == 0 && w->training) {
        size_t size = w->train.len - start;
        rc = nx_buf_append(&w->train_sizes, &size, sizeof size);
        if (rc == 0 && w->train.len >= w->o.train_bytes) rc = end_training(w, false);
    } else if (rc == 0) {
        rc = place_record(w, start, doc);
    }
    if (rc < 0 && w->rc == 0) w->rc = rc;
    return rc;
}

int nx_docstore_writer_finish(nx_docstore_writer *w) {
    if (w->rc) return w->rc;
    if (w->finished) return w_fail(w, NEWSIDX_ERR_INVALID, "finished twice");
    w->finished = true;
    int rc = 0;
    if (w->training) rc = end_training(w, true);
    if (rc == 0 && w->block.len) {
        rc = write_block(w, w->block.data, w->block.len, w->block_first_doc);
        w->block.len = 0;
    }
    uint64_t index_offset = nx_wfile_offset(w->f) - w->base;
    if (rc == 0) rc = nx_wfile_write(w->f, w->index.data, w->index.len);
    uint64_t names_offset = nx_wfile_offset(w->f) - w->base;
    if (rc == 0) rc = nx_wfile_write(w->f, w->names_out.data, w->names_out.len);
    if (rc == 0) {
        uint8_t t[DS_TRAILER_BYTES];
        nx_store_u32le(t, DS_MAGIC);
        nx_store_u32le(t + 4, DS_VERSION);
        nx_store_u32le(t + 8, w->dict_bytes ? DS_FLAG_DICT : 0);
        nx_store_u32le(t + 12, w->n_docs);
        nx_store_u64le(t + 16, DS_HEADER_BYTES);
        nx_store_u32le(t + 24, w->dict_bytes);
        nx_store_u32le(t + 28, (uint32_t)(w->index.len / DS_INDEX_ENTRY));
        nx_store_u64le(t + 32, index_offset);
        nx_store_u64le(t + 40, names_offset);
        nx_store_u32le(t + 48, w->n_names);
        nx_store_u32le(t + 52, w->dict_raw_bytes);
        nx_store_u64le(t + 56, w->raw_bytes);
        rc = nx_wfile_write(w->f, t, sizeof t);
    }
    if (rc < 0 && w->rc == 0) w->rc = rc;
    return rc;
}

/* ---- reader ------------------------------------------------------------- */

struct nx_docstore {
    const uint8_t *data;
    size_t len;
    uint32_t n_docs;
    uint32_t n_blocks;
    uint64_t index_offset;
    const uint8_t *index;
    /* The dictionary's zstd frame (dict_bytes, inflating to dict_raw_bytes;
     * 0: none). It is inflated and digested into ddict on the first fetch,
     * not at open: a search that shows no stored field never pays for it,
     * and a reader of many segments opens in what their headers cost.
     * ddict is set once, under dict_lock, and read without it. */
    uint32_t dict_bytes, dict_raw_bytes;
    ZSTD_DDict *_Atomic ddict;
    pthread_mutex_t dict_lock;
    char **names; /* n_names NUL-terminated copies */
    uint32_t n_names;
};

static int corrupt(nx_err *err, const char *what, uint64_t at) {
    return nx_err_set(err, NEWSIDX_ERR_CORRUPT, "doc store: %s (byte %llu)", what,
                      (unsigned long long)at);
}

static uint64_t block_off(const nx_docstore *s, uint64_t b) {
    return b < s->n_blocks ? nx_load_u64le(s->index + DS_INDEX_ENTRY * b) : s->index_offset;
}
static uint32_t block_first(const nx_docstore *s, uint64_t b) {
    return b < s->n_blocks ? nx_load_u32le(s->index + DS_INDEX_ENTRY * b + 8) : s->n_docs;
}
static uint32_t block_raw(const nx_docstore *s, uint64_t b) {
    return nx_load_u32le(s->index + DS_INDEX_ENTRY * b + 12);
}

void nx_docstore_close(nx_docstore *s) {
    if (!s) return;
    ZSTD_freeDDict(atomic_load_explicit(&s->ddict, memory_order_relaxed));
    pthread_mutex_destroy(&s->dict_lock);
    free(s->names);
    free(s);
}

int nx_docstore_open(const uint8_t *data, size_t len, nx_err *err, nx_docstore **out) {
    *out = NULL;
    if (len < DS_HEADER_BYTES + DS_TRAILER_BYTES) return corrupt(err, "too short", len);
    const uint8_t *t = data + len - DS_TRAILER_BYTES;
    uint64_t tpos = len - DS_TRAILER_BYTES;
    if (nx_load_u32le(data) != DS_MAGIC || nx_load_u32le(t) != DS_MAGIC)
        return corrupt(err, "bad magic", nx_load_u32le(data) != DS_MAGIC ? 0 : tpos);
    if (nx_load_u32le(data + 4) != DS_VERSION || nx_load_u32le(t + 4) != DS_VERSION)
        return nx_err_set(err, NEWSIDX_ERR_VERSION, "doc store: unsupported version %u",
                          nx_load_u32le(t + 4));
    uint32_t flags = nx_load_u32le(t + 8);
    uint32_t n_docs = nx_load_u32le(t + 12);
    uint64_t dict_offset = nx_load_u64le(t + 16);
    uint32_t dict_bytes = nx_load_u32le(t + 24);
    uint32_t n_blocks = nx_load_u32le(t + 28);
    uint64_t index_offset = nx_load_u64le(t + 32);
    uint64_t names_offset = nx_load_u64le(t + 40);
    uint32_t n_names = nx_load_u32le(t + 48);
    uint32_t dict_raw_bytes = nx_load_u32le(t + 52);
    if (flags & ~DS_FLAG_DICT || !(flags & DS_FLAG_DICT) != !dict_bytes ||
        !dict_bytes != !dict_raw_bytes || dict_raw_bytes > DS_MAX_DICT_BYTES ||
        dict_raw_bytes / NX_INFLATE_MAX_RATIO > dict_bytes)
        return corrupt(err, "bad flags", tpos + 8);
    if (dict_offset != DS_HEADER_BYTES || index_offset < DS_HEADER_BYTES ||
        dict_bytes > index_offset - DS_HEADER_BYTES ||
        index_offset > names_offset || names_offset > tpos ||
        (names_offset - index_offset) / DS_INDEX_ENTRY != n_blocks ||
        (names_offset - index_offset) % DS_INDEX_ENTRY != 0)
        return corrupt(err, "sections out of place", tpos + 16);
    if ((n_blocks == 0) != (n_docs == 0) || n_blocks > n_docs || n_names > DS_MAX_NAMES)
        return corrupt(err, "counts disagree", tpos + 12);

    nx_docstore *s = calloc(1, sizeof *s);
    if (!s) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    s->data = data;
    s->len = len;
    s->n_docs = n_docs;
    s->n_blocks = n_blocks;
    s->index_offset = index_offset;
    s->index = data + index_offset;
    s->dict_bytes = dict_bytes;
    s->dict_raw_bytes = dict_raw_bytes;
    pthread_mutex_init(&s->dict_lock, NULL);
    int rc = 0;
    /* Block index: offsets increasing from just after the dictionary,
     * first docs increasing from 0, sizes sane. */
    for (uint64_t b = 0; b < n_blocks && rc == 0; b++) {
        uint64_t off = block_off(s, b), next = block_off(s, b + 1);
        uint64_t at = index_offset + DS_INDEX_ENTRY * b;
        if (b == 0 && (off != DS_HEADER_BYTES + (uint64_t)dict_bytes || block_first(s, 0) != 0))
            rc = corrupt(err, "first block misplaced", at);
        else if (off >= next || next > index_offset)
            rc = corrupt(err, "block offsets out of order", at);
        else if (block_first(s, b) >= block_first(s, b + 1))
            rc = corrupt(err, "block first docs out of order", at);
        else if (block_raw(s, b) == 0 || block_raw(s, b) > DS_MAX_BLOCK_RAW ||
                 block_raw(s, b) / NX_INFLATE_MAX_RATIO > next - off)
            rc = corrupt(err, "bad block size", at); /* more than its frame can inflate to */
    }
    if (rc == 0 && n_blocks == 0 && index_offset != DS_HEADER_BYTES + (uint64_t)dict_bytes)
        rc = corrupt(err, "bytes between dictionary and index", index_offset);
    /* Name table: NUL-terminated copies in one allocation. */
    if (rc == 0 && n_names) {
        size_t table_bytes = (size_t)(tpos - names_offset);
        s->names = malloc(n_names * sizeof(char *) + table_bytes + n_names);
        if (!s->names) rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
        char *mem = s->names ? (char *)(s->names + n_names) : NULL;
        const uint8_t *p = data + names_offset, *end = data + tpos;
        for (uint32_t i = 0; rc == 0 && i < n_names; i++) {
            uint64_t l;
            if (nx_varint_decode(&p, end, &l) < 0 || l > (uint64_t)(end - p) ||
                l > DS_MAX_NAME_BYTES || memchr(p, 0, l)) {
                rc = corrupt(err, "bad name table", (uint64_t)(p - data));
                break;
            }
            memcpy(mem, p, l);
            mem[l] = 0;
            s->names[i] = mem;
            mem += l + 1;
            p += l;
        }
        if (rc == 0 && p != end) rc = corrupt(err, "bytes after the name table", (uint64_t)(p - data));
    } else if (rc == 0 && names_offset != tpos) {
        rc = corrupt(err, "bytes after the name table", names_offset);
    }
    s->n_names = n_names;
    /* The dictionary is inflated on the first fetch (get_ddict); its
     * frame must say the size the trailer gives. */
    if (rc == 0 && dict_bytes &&
        ZSTD_getFrameContentSize(data + DS_HEADER_BYTES, dict_bytes) != dict_raw_bytes)
        rc = corrupt(err, "bad dictionary", DS_HEADER_BYTES);
    if (rc < 0) {
        nx_docstore_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

uint32_t nx_docstore_count(const nx_docstore *s) { return s->n_docs; }
bool nx_docstore_has_dict(const nx_docstore *s) { return s->dict_bytes != 0; }

/* The store's digested dictionary, made on the first call (any thread):
 * *out is NULL for a store without one. */
static int get_ddict(nx_docstore *s, nx_err *err, const ZSTD_DDict **out) {
    *out = atomic_load_explicit(&s->ddict, memory_order_acquire);
    if (*out || !s->dict_bytes) return 0;
    int rc = 0;
    pthread_mutex_lock(&s->dict_lock);
    ZSTD_DDict *d = atomic_load_explicit(&s->ddict, memory_order_relaxed);
    if (!d) {
        void *dict = malloc(s->dict_raw_bytes);
        if (!dict) {
            rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
        } else {
            size_t r = ZSTD_decompress(dict, s->dict_raw_bytes, s->data + DS_HEADER_BYTES,
                                       s->dict_bytes);
            if (ZSTD_isError(r) || r != s->dict_raw_bytes ||
                !(d = ZSTD_createDDict(dict, s->dict_raw_bytes)))
                rc = corrupt(err, "bad dictionary", DS_HEADER_BYTES);
            free(dict);
        }
        if (d) atomic_store_explicit(&s->ddict, d, memory_order_release);
    }
    pthread_mutex_unlock(&s->dict_lock);
    *out = d;
    return rc;
}

void nx_docstore_scratch_init(nx_docstore_scratch *sc) {
    memset(sc, 0, sizeof *sc);
    sc->cached_block = UINT64_MAX;
}

void nx_docstore_scratch_free(nx_docstore_scratch *sc) {
    if (!sc) return;
    nx_buf_free(&sc->block);
    nx_buf_free(&sc->fields);
    ZSTD_freeDCtx(sc->dctx);
    nx_docstore_scratch_init(sc);
}

/* Starts decoding block b into the scratch (unless it is the one there):
 * checks its size, allocates it whole and begins the frame; the zstd
 * blocks are then decoded on demand by decode_more. */
static int load_block(const nx_docstore *s, uint64_t b, nx_docstore_scratch *sc, nx_err *err) {
    if (sc->owner == s && sc->cached_block == b) return 0;
    sc->cached_block = UINT64_MAX;
    sc->owner = s;
    if (!sc->dctx) {
        sc->dctx = ZSTD_createDCtx();
        if (!sc->dctx) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    }
    uint64_t off = block_off(s, b), next = block_off(s, b + 1);
    uint32_t raw = block_raw(s, b);
    /* The frame header repeats the raw size: checking it first keeps a
     * corrupt index from making us allocate up to DS_MAX_BLOCK_RAW. */
    if (ZSTD_getFrameContentSize(s->data + off, (size_t)(next - off)) != raw)
        return corrupt(err, "block size disagrees with its frame", off);
    sc->block.len = 0;
    if (nx_buf_reserve(&sc->block, raw))
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory for a %u-byte block", raw);
    const ZSTD_DDict *dd;
    /* the dictionary cache is the one thing a fetch changes in a store */
    NX_FORWARD(get_ddict((nx_docstore *)s, err, &dd));
    size_t r = dd ? ZSTD_decompressBegin_usingDDict(sc->dctx, dd) : ZSTD_decompressBegin(sc->dctx);
    if (ZSTD_isError(r)) return corrupt(err, ZSTD_getErrorName(r), off);
    sc->src_used = 0;
    sc->block_done = false;
    sc->parsed_doc = block_first(s, b);
    sc->parsed_off = 0;
    sc->cached_block = b;
    return 0;
}

/* Decodes the cached block's frame on, up to and including its next zstd
 * block with content (bufferless: straight into the block buffer, which
 * holds the window), or to its end (all = true). Sets block_done after the
 * last one, having checked the sizes. */
static int decode_more(const nx_docstore *s, nx_docstore_scratch *sc, bool all, nx_err *err) {
    uint64_t b = sc->cached_block, off = block_off(s, b);
    size_t clen = (size_t)(block_off(s, b + 1) - off), raw = block_raw(s, b);
    const uint8_t *src = s->data + off;
    size_t before = sc->block.len;
    while (!sc->block_done && (all || sc->block.len == before)) {
        size_t need = ZSTD_nextSrcSizeToDecompress(sc->dctx);
        if (need == 0) {
            sc->block_done = true;
            if (sc->src_used != clen || sc->block.len != raw) {
                sc->cached_block = UINT64_MAX;
                return corrupt(err, "block size mismatch", off);
            }
            break;
        }
        if (need > clen - sc->src_used) {
            sc->cached_block = UINT64_MAX;
            return corrupt(err, "truncated block", off);
        }
        size_t r = ZSTD_decompressContinue(sc->dctx, sc->block.data + sc->block.len,
                                           raw - sc->block.len, src + sc->src_used, need);
        if (ZSTD_isError(r)) {
            sc->cached_block = UINT64_MAX;
            return corrupt(err, ZSTD_getErrorName(r), off);
        }
        sc->src_used += need;
        sc->block.len += r;
    }
    return 0;
}

/* Parses (out != NULL) or skips one record at *pp: 0, DS_BAD_RECORD when it
 * does not parse before `end` (damaged, or not decoded that far yet), or
 * NEWSIDX_ERR_NOMEM. */
static int parse_record(const nx_docstore *s, const uint8_t **pp, const uint8_t *end,
                        nx_docstore_scratch *sc, size_t *n_out) {
    const uint8_t *p = *pp;
    uint64_t n;
    if (nx_varint_decode(&p, end, &n) < 0 || n > (uint64_t)(end - p) / 2) return DS_BAD_RECORD;
    newsidx_field *f = NULL;
    if (n_out) {
        sc->fields.len = 0;
        if (nx_buf_reserve(&sc->fields, (size_t)n * sizeof *f + 1)) return NEWSIDX_ERR_NOMEM;
        f = (newsidx_field *)sc->fields.data;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t code, l;
        const char *name;
        if (nx_varint_decode(&p, end, &code) < 0) return DS_BAD_RECORD;
        if (code) {
            if (code > s->n_names) return DS_BAD_RECORD;
            name = s->names[code - 1];
        } else {
            if (nx_varint_decode(&p, end, &l) < 0 || l >= (uint64_t)(end - p) || p[l] != 0 ||
                memchr(p, 0, l))
                return DS_BAD_RECORD;
            name = (const char *)p;
            p += l + 1;
        }
        if (nx_varint_decode(&p, end, &l) < 0 || l > (uint64_t)(end - p)) return DS_BAD_RECORD;
        if (f) f[i] = (newsidx_field){.name = name, .value = (const char *)p, .value_len = l};
        p += l;
    }
    if (n_out) *n_out = (size_t)n;
    *pp = p;
    return 0;
}

int nx_docstore_get(const nx_docstore *s, uint32_t doc, nx_docstore_scratch *sc, nx_err *err,
                    const newsidx_field **fields, size_t *n) {
    *fields = NULL;
    *n = 0;
    if (doc >= s->n_docs)
        return nx_err_set(err, NEWSIDX_ERR_NOT_FOUND, "doc store: no doc %u (%u docs)", doc,
                          s->n_docs);
    uint64_t b;
    if (sc->owner == s && sc->cached_block < s->n_blocks && block_first(s, sc->cached_block) <= doc &&
        doc < block_first(s, sc->cached_block + 1)) {
        b = sc->cached_block;
    } else { /* last block whose first doc <= doc */
        uint64_t lo = 0, hi = s->n_blocks;
        while (hi - lo > 1) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (block_first(s, mid) <= doc) lo = mid;
            else hi = mid;
        }
        b = lo;
    }
    NX_FORWARD(load_block(s, b, sc, err));
    /* Skip records from the block's start, or from where the last call
     * stopped (sequential reads), decoding zstd blocks only as far as the
     * record of doc reaches. */
    uint32_t d = block_first(s, b);
    size_t at = 0;
    if (doc >= sc->parsed_doc) {
        d = sc->parsed_doc;
        at = sc->parsed_off;
    }
    for (;;) {
        const uint8_t *p = sc->block.data + at, *end = sc->block.data + sc->block.len;
        int rc = parse_record(s, &p, end, sc, d == doc ? n : NULL);
        if (rc == NEWSIDX_ERR_NOMEM) return nx_err_set(err, rc, "doc store: out of memory");
        if (rc == DS_BAD_RECORD) { /* goes on past what is decoded, or is bad */
            if (sc->block_done) return corrupt(err, "bad record in block", block_off(s, b));
            NX_FORWARD(decode_more(s, sc, false, err));
            continue;
        }
        at = (size_t)(p - sc->block.data);
        sc->parsed_doc = d + 1;
        sc->parsed_off = at;
        if (d++ == doc) break;
    }
    *fields = (const newsidx_field *)sc->fields.data;
    return 0;
}

int nx_docstore_check(const nx_docstore *s, nx_err *err) {
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    int rc = 0;
    for (uint64_t b = 0; b < s->n_blocks && rc == 0; b++) {
        rc = load_block(s, b, &sc, err);
        if (rc == 0) rc = decode_more(s, &sc, true, err);
        if (rc < 0) break;
        const uint8_t *p = sc.block.data, *end = p + sc.block.len;
        for (uint32_t d = block_first(s, b); rc == 0 && d < block_first(s, b + 1); d++)
            if (parse_record(s, &p, end, &sc, NULL) != 0)
                rc = corrupt(err, "bad record in block", block_off(s, b));
        if (rc == 0 && p != end) rc = corrupt(err, "block has trailing bytes", block_off(s, b));
    }
    nx_docstore_scratch_free(&sc);
    return rc;
}
