/* index/docstore — stored fields in zstd-compressed blocks with trained
 * dictionaries, written once and copied by merges.
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

/* A dictionary of the table being written. */
typedef struct ds_dict {
    uint64_t offset, hash;
    uint32_t bytes, raw_bytes;
} ds_dict;

struct nx_docstore_shared {
    pthread_mutex_t lock;
    /* Set once by the first store that trains, then only read. */
    ZSTD_CDict *cdict;
    ZSTD_compressionParameters cp;
    nx_buf frame; /* the dictionary as stored (one zstd frame) */
    uint64_t hash;
    uint32_t raw_bytes;
    /* The run's name table (serialized as in a store): codes are given
     * to names for the whole run, under the lock, so every store's table
     * is a prefix of it, a name has one code in all of them, and merges
     * may copy blocks (records carry codes). */
    nx_buf names;
};

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
    /* The dictionary this writer compresses with: its own (own_cdict),
     * the run's (o.shared's) or, in a merge, an input's. Its frame is
     * written before the first block that uses it (dict_slot: its table
     * entry + 1; 0 not written yet). */
    ZSTD_CDict *cdict;
    bool own_cdict;
    ZSTD_compressionParameters dict_cp; /* cdict's */
    nx_buf dict_frame;
    uint64_t dict_hash;
    uint32_t dict_raw_bytes;
    uint32_t dict_slot;
    ds_dict dicts[DS_MAX_DICTS];
    uint32_t n_dicts;

    /* a merge's output: documents in any order, placed by a doc map */
    bool merging;
    uint32_t merge_docs; /* announced */
    uint32_t *map;       /* doc -> record, UINT32_MAX until placed */
    nx_buf pending;      /* u32 doc per record of `block` */

    name_slot *slots;
    uint32_t n_slots;   /* power of two, or 0 */
    uint32_t n_names;
    nx_buf names_out;   /* the serialized name table */
    uint64_t raw_bytes;
};

int nx_docstore_shared_new(nx_docstore_shared **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return NEWSIDX_ERR_NOMEM;
    pthread_mutex_init(&(*out)->lock, NULL);
    return 0;
}

void nx_docstore_shared_free(nx_docstore_shared *sh) {
    if (!sh) return;
    ZSTD_freeCDict(sh->cdict);
    nx_buf_free(&sh->frame);
    nx_buf_free(&sh->names);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

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
        w->o.shared = o->shared;
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
    nx_docstore_shared *sh = w->o.shared;
    if (sh && w->training) {
        /* The run's dictionary, once trained, is read without the lock. */
        pthread_mutex_lock(&sh->lock);
        bool have = sh->cdict != NULL;
        pthread_mutex_unlock(&sh->lock);
        if (have) {
            w->training = false;
            w->cdict = sh->cdict;
            w->dict_cp = sh->cp;
            w->dict_hash = sh->hash;
            w->dict_raw_bytes = sh->raw_bytes;
            if (nx_buf_append(&w->dict_frame, sh->frame.data, sh->frame.len)) {
                nx_docstore_writer_free(w);
                return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
            }
        }
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
    nx_buf_free(&w->dict_frame);
    nx_buf_free(&w->pending);
    free(w->map);
    free(w->slots);
    ZSTD_freeCCtx(w->cctx);
    if (w->own_cdict) ZSTD_freeCDict(w->cdict);
    free(w);
}

uint64_t nx_docstore_raw_bytes(const nx_docstore_writer *w) { return w->raw_bytes; }

/* Code of a field name (1..DS_MAX_NAMES) in w's own table, adding it on
 * first sight when `add`; 0 when it is not there or must be written inline
 * (table full or name too long). */
static int name_code_local(nx_docstore_writer *w, const char *name, size_t len, bool add,
                           uint32_t *code) {
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
    if (w->n_names >= DS_MAX_NAMES || !add) return 0;
    NX_FORWARD(nx_buf_put_varint(&w->names_out, len));
    uint32_t off = (uint32_t)w->names_out.len;
    NX_FORWARD(nx_buf_append(&w->names_out, name, len));
    w->slots[j] = (name_slot){.hash = h, .code = ++w->n_names, .off = off, .len = (uint32_t)len};
    *code = w->slots[j].code;
    return 0;
}

/* Code of a field name, as name_code_local adds it; in a writer run,
 * from the run's table (a name first met here is added to it), so that
 * the codes agree across the run's stores. */
static int name_code(nx_docstore_writer *w, const char *name, size_t len, uint32_t *code) {
    nx_docstore_shared *sh = w->o.shared;
    if (!sh || len > DS_MAX_NAME_BYTES) return name_code_local(w, name, len, true, code);
    NX_FORWARD(name_code_local(w, name, len, false, code));
    if (*code || w->n_names >= DS_MAX_NAMES) return 0;
    pthread_mutex_lock(&sh->lock);
    /* w's table is a prefix of the run's: take the names added since */
    int rc = 0;
    /* (no arithmetic on the empty table's NULL) */
    const uint8_t *p = sh->names.data ? sh->names.data + w->names_out.len : NULL;
    const uint8_t *end = sh->names.data ? sh->names.data + sh->names.len : NULL;
    while (rc == 0 && p < end) {
        uint64_t l;
        uint32_t c;
        if (nx_varint_decode(&p, end, &l) < 0 || l > (uint64_t)(end - p)) break;
        rc = name_code_local(w, (const char *)p, (size_t)l, true, &c);
        p += l;
    }
    size_t before = w->names_out.len;
    if (rc == 0) rc = name_code_local(w, name, len, true, code);
    if (rc == 0 && w->names_out.len > before && before == sh->names.len)
        rc = nx_buf_append(&sh->names, w->names_out.data + before, w->names_out.len - before);
    pthread_mutex_unlock(&sh->lock);
    return rc;
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

/* Table slot (1-based) of the dictionary frame `frame` (bytes long, the
 * dictionary's hash and raw size given), writing it now when it is new. */
static int dict_slot(nx_docstore_writer *w, const uint8_t *frame, uint32_t bytes, uint64_t hash,
                     uint32_t raw_bytes, uint32_t *slot) {
    for (uint32_t k = 0; k < w->n_dicts; k++)
        if (w->dicts[k].hash == hash && w->dicts[k].raw_bytes == raw_bytes) {
            *slot = k + 1;
            return 0;
        }
    if (w->n_dicts >= DS_MAX_DICTS) return w_fail(w, NEWSIDX_ERR_INVALID, "too many dictionaries");
    w->dicts[w->n_dicts] = (ds_dict){.offset = nx_wfile_offset(w->f) - w->base, .hash = hash,
                                     .bytes = bytes, .raw_bytes = raw_bytes};
    *slot = ++w->n_dicts;
    return nx_wfile_write(w->f, frame, bytes);
}

/* Appends one compressed block (clen bytes, raw_len uncompressed, n_rec
 * records, dictionary slot dict) to the file and the index. */
static int put_block(nx_docstore_writer *w, const uint8_t *src, size_t clen, size_t raw_len,
                     uint32_t n_rec, uint32_t dict) {
    if (clen > UINT32_MAX || n_rec > UINT32_MAX - w->n_recs)
        return w_fail(w, NEWSIDX_ERR_LIMIT, "too many records");
    uint8_t e[DS_INDEX_ENTRY];
    nx_store_u64le(e, nx_wfile_offset(w->f) - w->base);
    nx_store_u32le(e + 8, (uint32_t)clen);
    nx_store_u32le(e + 12, w->n_recs);
    nx_store_u32le(e + 16, (uint32_t)raw_len);
    nx_store_u32le(e + 20, dict);
    NX_FORWARD(nx_buf_append(&w->index, e, sizeof e));
    w->n_recs += n_rec;
    return nx_wfile_write(w->f, src, clen);
}

/* Compresses the first n_rec records of the current block, src[0..len),
 * as one block; in a merge their docs are placed. */
static int write_block(nx_docstore_writer *w, const uint8_t *src, size_t len, uint32_t n_rec) {
    size_t clen = 0;
    NX_FORWARD(compress_into(w, w->cdict, src, len, &clen));
    if (w->cdict && !w->dict_slot)
        NX_FORWARD(dict_slot(w, w->dict_frame.data, (uint32_t)w->dict_frame.len, w->dict_hash,
                             w->dict_raw_bytes, &w->dict_slot));
    if (w->merging) {
        uint32_t *docs = (uint32_t *)w->pending.data;
        for (uint32_t i = 0; i < n_rec; i++) w->map[docs[i]] = w->n_recs + i;
        w->pending.len -= (size_t)n_rec * 4;
        memmove(docs, docs + n_rec, w->pending.len);
    }
    return put_block(w, w->cbuf.data, clen, len, n_rec, w->cdict ? w->dict_slot : 0);
}

/* The record just appended to w->block starts at rec_start: cut a block
 * before it when it would overflow the target, or after it when the block
 * is full. */
static int place_record(nx_docstore_writer *w, size_t rec_start) {
    w->block_recs++;
    if (rec_start > 0 && w->block.len > w->o.block_bytes) {
        NX_FORWARD(write_block(w, w->block.data, rec_start, w->block_recs - 1));
        memmove(w->block.data, w->block.data + rec_start, w->block.len - rec_start);
        w->block.len -= rec_start;
        w->block_recs = 1;
    }
    if (w->block.len >= w->o.block_bytes) {
        NX_FORWARD(write_block(w, w->block.data, w->block.len, w->block_recs));
        w->block.len = 0;
        w->block_recs = 0;
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
            /* compress it again: blocks_size reused cbuf; it is written
             * before the first block (write_block) */
            rc = compress_into(w, NULL, dict, dlen, &stored);
            if (rc == 0) rc = nx_buf_append(&w->dict_frame, w->cbuf.data, stored);
            w->cdict = cdict;
            w->own_cdict = true;
            w->dict_hash = nx_hash64(dict, dlen);
            w->dict_raw_bytes = (uint32_t)dlen;
            nx_docstore_shared *sh = w->o.shared;
            /* A dictionary trained on the full sample becomes the run's,
             * unless another worker's got there first (then this store
             * keeps its own: a merge carries both). */
            if (rc == 0 && sh && !final) {
                pthread_mutex_lock(&sh->lock);
                if (!sh->cdict && nx_buf_append(&sh->frame, w->dict_frame.data,
                                                w->dict_frame.len) == 0) {
                    sh->cdict = cdict;
                    sh->cp = w->dict_cp;
                    sh->hash = w->dict_hash;
                    sh->raw_bytes = w->dict_raw_bytes;
                    w->own_cdict = false;
                }
                pthread_mutex_unlock(&sh->lock);
            }
        } else {
            ZSTD_freeCDict(cdict);
        }
        free(dict);
        if (rc < 0) return w_fail(w, rc, "out of memory training the dictionary");
    }
    for (size_t i = 0, off = 0; i < n; off += sizes[i], i++) {
        size_t start = w->block.len;
        rc = nx_buf_append(&w->block, w->train.data + off, sizes[i]);
        if (rc == 0) rc = place_record(w, start);
        if (rc < 0) return w->rc = rc;
    }
    nx_buf_free(&w->train);
    nx_buf_free(&w->train_sizes);
    return 0;
}

int nx_docstore_add(nx_docstore_writer *w, const newsidx_field *fields, size_t n) {
    if (w->rc) return w->rc;
    if (w->finished) return w_fail(w, NEWSIDX_ERR_INVALID, "add after finish");
    if (w->merging) return w_fail(w, NEWSIDX_ERR_INVALID, "add to a merge");
    if (w->n_docs == UINT32_MAX) return w_fail(w, NEWSIDX_ERR_LIMIT, "too many documents");
    nx_buf *dst = w->training ? &w->train : &w->block;
    size_t start = dst->len;
    int rc = encode_doc(w, dst, fields, n);
    /* Too big: nothing was written and the doc id is not used, so the
     * caller may go on (e.g. with the document cut). */
    if (rc == NEWSIDX_ERR_LIMIT) return rc;
    w->n_docs++;
    if (rc == 0 && w->training) {
        size_t size = w->train.len - start;
        rc = nx_buf_append(&w->train_sizes, &size, sizeof size);
        if (rc == 0 && w->train.len >= w->o.train_bytes) rc = end_training(w, false);
    } else if (rc == 0) {
        rc = place_record(w, start);
    }
    if (rc < 0 && w->rc == 0) w->rc = rc;
    return rc;
}

int nx_docstore_writer_begin_merge(nx_docstore_writer *w, uint32_t n_docs) {
    if (w->rc) return w->rc;
    if (w->n_docs || w->merging || w->finished || w->train.len)
        return w_fail(w, NEWSIDX_ERR_INVALID, "merge into a used writer");
    /* A merge brings its inputs' dictionaries (or the run's): it trains
     * none of its own. */
    w->training = false;
    w->merging = true;
    w->merge_docs = n_docs;
    w->map = malloc(((size_t)n_docs + 1) * sizeof *w->map);
    if (!w->map) return w_fail(w, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(w->map, 0xff, ((size_t)n_docs + 1) * sizeof *w->map);
    return 0;
}

/* Gives a merge writer without a dictionary the one of in's slot k (1-based)
 * to compress with: most blocks of a merge are copied, so the few it
 * compresses again use what the inputs were written with. */
static int adopt_input_dict(nx_docstore_writer *w, const nx_docstore *in, uint32_t k);

/* input table entry k (1-based) of in */
static void in_dict(const nx_docstore *in, uint32_t k, uint64_t *off, uint32_t *bytes,
                    uint32_t *raw, uint64_t *hash);

/* Adds the live records of in's block b one by one (decoded, compressed
 * again with w's dictionary); inv: record -> in's doc. */
static int recompress_block(nx_docstore_writer *w, const nx_docstore *in, uint64_t b,
                            const uint32_t *map, const uint32_t *inv, nx_docstore_scratch *sc);

/* in's record number r's doc, or UINT32_MAX */
static uint32_t rec_doc(const nx_docstore *in, const uint32_t *inv, uint32_t r);

/* Whether in's name codes mean the same names in w (extending w's table
 * with in's further names when w's is a prefix of in's). */
static int names_compatible(nx_docstore_writer *w, const nx_docstore *in, bool *ok);

static int merge_input(nx_docstore_writer *w, const nx_docstore *in, const uint32_t *map,
                       nx_docstore_scratch *sc, nx_docstore_merge_stats *st, uint32_t **inv_out);

int nx_docstore_merge_input(nx_docstore_writer *w, const nx_docstore *in, const uint32_t *map,
                            nx_docstore_scratch *sc, nx_docstore_merge_stats *st) {
    if (w->rc) return w->rc;
    if (!w->merging || w->finished) return w_fail(w, NEWSIDX_ERR_INVALID, "not a merge");
    nx_docstore_merge_stats local = {0};
    uint32_t *inv = NULL;
    int rc = merge_input(w, in, map, sc, st ? st : &local, &inv);
    free(inv);
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
        rc = write_block(w, w->block.data, w->block.len, w->block_recs);
        w->block.len = 0;
        w->block_recs = 0;
    }
    if (rc == 0 && w->merging) {
        for (uint32_t d = 0; d < w->merge_docs && rc == 0; d++)
            if (w->map[d] == UINT32_MAX)
                rc = w_fail(w, NEWSIDX_ERR_INVALID, "a merged document was never added");
        w->n_docs = w->merge_docs;
    }
    uint64_t dicts_offset = nx_wfile_offset(w->f) - w->base;
    for (uint32_t k = 0; k < w->n_dicts && rc == 0; k++) {
        uint8_t e[DS_DICT_ENTRY];
        nx_store_u64le(e, w->dicts[k].offset);
        nx_store_u32le(e + 8, w->dicts[k].bytes);
        nx_store_u32le(e + 12, w->dicts[k].raw_bytes);
        nx_store_u64le(e + 16, w->dicts[k].hash);
        rc = nx_wfile_write(w->f, e, sizeof e);
    }
    uint64_t index_offset = nx_wfile_offset(w->f) - w->base;
    if (rc == 0) rc = nx_wfile_write(w->f, w->index.data, w->index.len);
    uint64_t map_offset = nx_wfile_offset(w->f) - w->base;
    for (uint32_t d = 0; w->merging && d < w->n_docs && rc == 0; d++) {
        uint8_t e[4];
        nx_store_u32le(e, w->map[d]);
        rc = nx_wfile_write(w->f, e, 4);
    }
    uint64_t names_offset = nx_wfile_offset(w->f) - w->base;
    if (rc == 0) rc = nx_wfile_write(w->f, w->names_out.data, w->names_out.len);
    if (rc == 0) {
        uint8_t t[DS_TRAILER_BYTES];
        nx_store_u32le(t, DS_MAGIC);
        nx_store_u32le(t + 4, DS_VERSION);
        nx_store_u32le(t + 8, w->merging ? DS_FLAG_MAP : 0);
        nx_store_u32le(t + 12, w->n_docs);
        nx_store_u32le(t + 16, w->n_recs);
        nx_store_u32le(t + 20, (uint32_t)(w->index.len / DS_INDEX_ENTRY));
        nx_store_u32le(t + 24, w->n_dicts);
        nx_store_u32le(t + 28, w->n_names);
        nx_store_u64le(t + 32, dicts_offset);
        nx_store_u64le(t + 40, index_offset);
        nx_store_u64le(t + 48, map_offset);
        nx_store_u64le(t + 56, names_offset);
        nx_store_u64le(t + 64, w->raw_bytes);
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
    uint32_t n_recs;
    uint32_t n_blocks;
    uint32_t n_dicts;
    uint64_t dicts_offset;
    const uint8_t *index;
    const uint8_t *dicts;
    const uint8_t *map; /* n_docs u32 record numbers, NULL: doc = record */
    uint64_t raw_bytes;
    /* Each dictionary is inflated, checked against its hash and digested
     * on the first fetch from a block that uses it, not at open: a search
     * that shows no stored field never pays for it, and a reader of many
     * segments opens in what their headers cost. ddict[k] is set once,
     * under dict_lock, and read without it. */
    ZSTD_DDict *_Atomic ddict[DS_MAX_DICTS];
    pthread_mutex_t dict_lock;
    char **names; /* n_names NUL-terminated copies */
    uint32_t n_names;
};

static int corrupt(nx_err *err, const char *what, uint64_t at) {
    return nx_err_set(err, NEWSIDX_ERR_CORRUPT, "doc store: %s (byte %llu)", what,
                      (unsigned long long)at);
}

static const uint8_t *entry(const nx_docstore *s, uint64_t b) {
    return s->index + DS_INDEX_ENTRY * b;
}
static uint64_t block_off(const nx_docstore *s, uint64_t b) { return nx_load_u64le(entry(s, b)); }
static uint32_t block_len(const nx_docstore *s, uint64_t b) {
    return nx_load_u32le(entry(s, b) + 8);
}
/* first record of block b; n_recs for b = n_blocks */
static uint32_t block_first(const nx_docstore *s, uint64_t b) {
    return b < s->n_blocks ? nx_load_u32le(entry(s, b) + 12) : s->n_recs;
}
static uint32_t block_raw(const nx_docstore *s, uint64_t b) {
    return nx_load_u32le(entry(s, b) + 16);
}
static uint32_t block_dict(const nx_docstore *s, uint64_t b) {
    return nx_load_u32le(entry(s, b) + 20);
}

static void in_dict(const nx_docstore *in, uint32_t k, uint64_t *off, uint32_t *bytes,
                    uint32_t *raw, uint64_t *hash) {
    const uint8_t *e = in->dicts + DS_DICT_ENTRY * (k - 1);
    *off = nx_load_u64le(e);
    *bytes = nx_load_u32le(e + 8);
    *raw = nx_load_u32le(e + 12);
    *hash = nx_load_u64le(e + 16);
}

void nx_docstore_close(nx_docstore *s) {
    if (!s) return;
    for (uint32_t k = 0; k < DS_MAX_DICTS; k++)
        ZSTD_freeDDict(atomic_load_explicit(&s->ddict[k], memory_order_relaxed));
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
        return nx_err_set(err, NEWSIDX_ERR_VERSION,
                          "doc store: version %u, this library reads %u", nx_load_u32le(t + 4),
                          DS_VERSION);
    uint32_t flags = nx_load_u32le(t + 8);
    uint32_t n_docs = nx_load_u32le(t + 12);
    uint32_t n_recs = nx_load_u32le(t + 16);
    uint32_t n_blocks = nx_load_u32le(t + 20);
    uint32_t n_dicts = nx_load_u32le(t + 24);
    uint32_t n_names = nx_load_u32le(t + 28);
    uint64_t dicts_offset = nx_load_u64le(t + 32);
    uint64_t index_offset = nx_load_u64le(t + 40);
    uint64_t map_offset = nx_load_u64le(t + 48);
    uint64_t names_offset = nx_load_u64le(t + 56);
    bool has_map = flags & DS_FLAG_MAP;
    if (flags & ~DS_FLAG_MAP || n_dicts > DS_MAX_DICTS)
        return corrupt(err, "bad flags", tpos + 8);
    /* The tables follow each other exactly, so each count bounds its
     * table by the file's size before anything is read. */
    if (dicts_offset < DS_HEADER_BYTES || dicts_offset > tpos ||
        (tpos - dicts_offset) / DS_DICT_ENTRY < n_dicts ||
        index_offset != dicts_offset + (uint64_t)DS_DICT_ENTRY * n_dicts ||
        (tpos - index_offset) / DS_INDEX_ENTRY < n_blocks ||
        map_offset != index_offset + (uint64_t)DS_INDEX_ENTRY * n_blocks ||
        (tpos - map_offset) / 4 < (has_map ? n_docs : 0) ||
        names_offset != map_offset + (has_map ? 4 * (uint64_t)n_docs : 0) ||
        names_offset > tpos)
        return corrupt(err, "sections out of place", tpos + 32);
    if ((n_blocks == 0) != (n_recs == 0) || n_blocks > n_recs || n_names > DS_MAX_NAMES ||
        (has_map ? n_recs < n_docs : n_recs != n_docs))
        return corrupt(err, "counts disagree", tpos + 12);

    nx_docstore *s = calloc(1, sizeof *s);
    if (!s) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    s->data = data;
    s->len = len;
    s->n_docs = n_docs;
    s->n_recs = n_recs;
    s->n_blocks = n_blocks;
    s->n_dicts = n_dicts;
    s->dicts_offset = dicts_offset;
    s->dicts = data + dicts_offset;
    s->index = data + index_offset;
    s->map = has_map ? data + map_offset : NULL;
    s->raw_bytes = nx_load_u64le(t + 64);
    pthread_mutex_init(&s->dict_lock, NULL);
    int rc = 0;
    /* Dictionaries: inside the body, sizes sane, their frames declaring
     * the size the table gives (they are inflated on first use). */
    for (uint32_t k = 1; k <= n_dicts && rc == 0; k++) {
        uint64_t off, hash;
        uint32_t bytes, raw;
        in_dict(s, k, &off, &bytes, &raw, &hash);
        if (off < DS_HEADER_BYTES || off > dicts_offset || bytes == 0 ||
            bytes > dicts_offset - off || raw == 0 || raw > DS_MAX_DICT_BYTES ||
            raw / NX_INFLATE_MAX_RATIO > bytes ||
            ZSTD_getFrameContentSize(data + off, bytes) != raw)
            rc = corrupt(err, "bad dictionary", dicts_offset + DS_DICT_ENTRY * (k - 1));
    }
    /* Block index: inside the body, first records increasing from 0,
     * sizes sane. That blocks and dictionaries tile the body exactly is
     * left to nx_docstore_check: a fetch only needs its own block in
     * bounds. */
    for (uint64_t b = 0; b < n_blocks && rc == 0; b++) {
        uint64_t off = block_off(s, b), clen = block_len(s, b);
        uint64_t at = index_offset + DS_INDEX_ENTRY * b;
        if (off < DS_HEADER_BYTES || off > dicts_offset || clen == 0 || clen > dicts_offset - off)
            rc = corrupt(err, "block out of place", at);
        else if ((b == 0 && block_first(s, 0) != 0) || block_first(s, b) >= block_first(s, b + 1))
            rc = corrupt(err, "block first records out of order", at);
        else if (block_dict(s, b) > n_dicts)
            rc = corrupt(err, "block names no dictionary", at);
        else if (block_raw(s, b) == 0 || block_raw(s, b) > DS_MAX_BLOCK_RAW ||
                 block_raw(s, b) / NX_INFLATE_MAX_RATIO > clen)
            rc = corrupt(err, "bad block size", at); /* more than its frame can inflate to */
        else if (block_first(s, b + 1) - block_first(s, b) > block_raw(s, b))
            /* a record takes a byte at least: n_recs, and what merges and
             * check allocate per record, stay bounded by the file */
            rc = corrupt(err, "more records than block bytes", at);
    }
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
    if (rc < 0) {
        nx_docstore_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

uint32_t nx_docstore_count(const nx_docstore *s) { return s->n_docs; }
bool nx_docstore_has_dict(const nx_docstore *s) { return s->n_dicts != 0; }
uint32_t nx_docstore_dict_count(const nx_docstore *s) { return s->n_dicts; }
uint32_t nx_docstore_block_count(const nx_docstore *s) { return s->n_blocks; }
void nx_docstore_block_bytes(const nx_docstore *s, uint32_t b, const uint8_t **bytes, size_t *len) {
    *bytes = s->data + block_off(s, b);
    *len = block_len(s, b);
}

/* Inflates dictionary k (1-based) of the store into buf (raw bytes),
 * checking its size and hash. */
static int inflate_dict(const nx_docstore *s, uint32_t k, nx_buf *buf, nx_err *err) {
    uint64_t off, hash;
    uint32_t bytes, raw;
    in_dict(s, k, &off, &bytes, &raw, &hash);
    buf->len = 0;
    if (nx_buf_reserve(buf, raw)) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    size_t r = ZSTD_decompress(buf->data, raw, s->data + off, bytes);
    if (ZSTD_isError(r) || r != raw || nx_hash64(buf->data, raw) != hash)
        return corrupt(err, "bad dictionary", off);
    buf->len = raw;
    return 0;
}

/* The digested dictionary k (1-based; 0: none, *out NULL), made on the
 * first call (any thread). */
static int get_ddict(nx_docstore *s, uint32_t k, nx_err *err, const ZSTD_DDict **out) {
    *out = NULL;
    if (k == 0) return 0;
    *out = atomic_load_explicit(&s->ddict[k - 1], memory_order_acquire);
    if (*out) return 0;
    int rc = 0;
    pthread_mutex_lock(&s->dict_lock);
    ZSTD_DDict *d = atomic_load_explicit(&s->ddict[k - 1], memory_order_relaxed);
    if (!d) {
        nx_buf dict = {0};
        rc = inflate_dict(s, k, &dict, err);
        if (rc == 0 && !(d = ZSTD_createDDict(dict.data, dict.len)))
            rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
        nx_buf_free(&dict);
        if (d) atomic_store_explicit(&s->ddict[k - 1], d, memory_order_release);
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
    uint64_t off = block_off(s, b);
    uint32_t raw = block_raw(s, b);
    /* The frame header repeats the raw size: checking it first keeps a
     * corrupt index from making us allocate up to DS_MAX_BLOCK_RAW. */
    if (ZSTD_getFrameContentSize(s->data + off, block_len(s, b)) != raw)
        return corrupt(err, "block size disagrees with its frame", off);
    sc->block.len = 0;
    if (nx_buf_reserve(&sc->block, raw))
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory for a %u-byte block", raw);
    const ZSTD_DDict *dd;
    /* the dictionary cache is the one thing a fetch changes in a store */
    NX_FORWARD(get_ddict((nx_docstore *)s, block_dict(s, b), err, &dd));
    size_t r = dd ? ZSTD_decompressBegin_usingDDict(sc->dctx, dd) : ZSTD_decompressBegin(sc->dctx);
    if (ZSTD_isError(r)) return corrupt(err, ZSTD_getErrorName(r), off);
    sc->src_used = 0;
    sc->block_done = false;
    sc->parsed_rec = block_first(s, b);
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
    size_t clen = block_len(s, b), raw = block_raw(s, b);
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


/* Decodes record rec (< n_recs) like nx_docstore_get a document. */
static int get_rec(const nx_docstore *s, uint32_t rec, nx_docstore_scratch *sc, nx_err *err,
                   const newsidx_field **fields, size_t *n) {
    uint64_t b;
    if (sc->owner == s && sc->cached_block < s->n_blocks && block_first(s, sc->cached_block) <= rec &&
        rec < block_first(s, sc->cached_block + 1)) {
        b = sc->cached_block;
    } else { /* last block whose first record <= rec */
        uint64_t lo = 0, hi = s->n_blocks;
        while (hi - lo > 1) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (block_first(s, mid) <= rec) lo = mid;
            else hi = mid;
        }
        b = lo;
    }
    NX_FORWARD(load_block(s, b, sc, err));
    /* Skip records from the block's start, or from where the last call
     * stopped (sequential reads), decoding zstd blocks only as far as the
     * record reaches. */
    uint32_t r = block_first(s, b);
    size_t at = 0;
    if (rec >= sc->parsed_rec) {
        r = sc->parsed_rec;
        at = sc->parsed_off;
    }
    for (;;) {
        const uint8_t *p = sc->block.data + at, *end = sc->block.data + sc->block.len;
        int rc = parse_record(s, &p, end, sc, r == rec ? n : NULL);
        if (rc == NEWSIDX_ERR_NOMEM) return nx_err_set(err, rc, "doc store: out of memory");
        if (rc == DS_BAD_RECORD) { /* goes on past what is decoded, or is bad */
            if (sc->block_done) return corrupt(err, "bad record in block", block_off(s, b));
            NX_FORWARD(decode_more(s, sc, false, err));
            continue;
        }
        at = (size_t)(p - sc->block.data);
        sc->parsed_rec = r + 1;
        sc->parsed_off = at;
        if (r++ == rec) break;
    }
    *fields = (const newsidx_field *)sc->fields.data;
    return 0;
}

int nx_docstore_get(const nx_docstore *s, uint32_t doc, nx_docstore_scratch *sc, nx_err *err,
                    const newsidx_field **fields, size_t *n) {
    *fields = NULL;
    *n = 0;
    if (doc >= s->n_docs)
        return nx_err_set(err, NEWSIDX_ERR_NOT_FOUND, "doc store: no doc %u (%u docs)", doc,
                          s->n_docs);
    uint32_t rec = s->map ? nx_load_u32le(s->map + 4 * (size_t)doc) : doc;
    if (rec >= s->n_recs)
        return corrupt(err, "doc map points past the records", (uint64_t)(s->map - s->data) + 4 * doc);
    return get_rec(s, rec, sc, err, fields, n);
}

typedef struct ds_span {
    uint64_t off, len;
} ds_span;

static int span_cmp(const void *a, const void *b) {
    const ds_span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Dictionaries and blocks cover the body exactly once; the doc map sends
 * no two docs to one record. */
static int check_tables(const nx_docstore *s, nx_err *err) {
    size_t n = (size_t)s->n_blocks + s->n_dicts;
    ds_span *sp = malloc((n + 1) * sizeof *sp);
    if (!sp) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    for (uint32_t b = 0; b < s->n_blocks; b++) sp[b] = (ds_span){block_off(s, b), block_len(s, b)};
    for (uint32_t k = 1; k <= s->n_dicts; k++) {
        uint64_t off, hash;
        uint32_t bytes, raw;
        in_dict(s, k, &off, &bytes, &raw, &hash);
        sp[s->n_blocks + k - 1] = (ds_span){off, bytes};
    }
    qsort(sp, n, sizeof *sp, span_cmp);
    uint64_t at = DS_HEADER_BYTES;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (sp[i].off != at) rc = corrupt(err, "body has gaps or overlaps", sp[i].off);
        at = sp[i].off + sp[i].len;
    }
    free(sp);
    if (rc == 0 && at != s->dicts_offset) rc = corrupt(err, "body has trailing bytes", at);
    if (rc == 0 && s->map) {
        uint8_t *seen = calloc((size_t)s->n_recs / 8 + 1, 1);
        if (!seen) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
        for (uint32_t d = 0; d < s->n_docs && rc == 0; d++) {
            uint32_t r = nx_load_u32le(s->map + 4 * (size_t)d);
            if (r >= s->n_recs || (seen[r >> 3] & (1u << (r & 7))))
                rc = corrupt(err, "doc map is not one-to-one", (uint64_t)(s->map - s->data) + 4 * d);
            else
                seen[r >> 3] |= (uint8_t)(1u << (r & 7));
        }
        free(seen);
    }
    return rc;
}

int nx_docstore_check(const nx_docstore *s, nx_err *err) {
    int rc = check_tables(s, err);
    for (uint32_t k = 1; k <= s->n_dicts && rc == 0; k++) {
        const ZSTD_DDict *dd;
        rc = get_ddict((nx_docstore *)s, k, err, &dd);
    }
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint64_t b = 0; b < s->n_blocks && rc == 0; b++) {
        rc = load_block(s, b, &sc, err);
        if (rc == 0) rc = decode_more(s, &sc, true, err);
        if (rc < 0) break;
        const uint8_t *p = sc.block.data, *end = p + sc.block.len;
        for (uint32_t r = block_first(s, b); rc == 0 && r < block_first(s, b + 1); r++)
            if (parse_record(s, &p, end, &sc, NULL) != 0)
                rc = corrupt(err, "bad record in block", block_off(s, b));
        if (rc == 0 && p != end) rc = corrupt(err, "block has trailing bytes", block_off(s, b));
    }
    nx_docstore_scratch_free(&sc);
    return rc;
}

/* ---- merging ------------------------------------------------------------ */

static uint32_t rec_doc(const nx_docstore *in, const uint32_t *inv, uint32_t r) {
    return in->map ? inv[r] : r;
}

static int names_compatible(nx_docstore_writer *w, const nx_docstore *in, bool *ok) {
    *ok = false;
    uint32_t common = NX_MIN(w->n_names, in->n_names);
    const uint8_t *p = w->names_out.data, *end = p ? p + w->names_out.len : p;
    for (uint32_t k = 0; k < common; k++) {
        uint64_t l;
        if (nx_varint_decode(&p, end, &l) < 0) return 0;
        if (l != strlen(in->names[k]) || memcmp(p, in->names[k], l) != 0) return 0;
        p += l;
    }
    for (uint32_t k = common; k < in->n_names; k++) {
        uint32_t code;
        NX_FORWARD(name_code(w, in->names[k], strlen(in->names[k]), &code));
        if (code != k + 1) return 0; /* already there under another code */
    }
    *ok = true;
    return 0;
}

static int adopt_input_dict(nx_docstore_writer *w, const nx_docstore *in, uint32_t k) {
    nx_buf raw = {0};
    uint64_t off, hash;
    uint32_t bytes, raw_bytes;
    in_dict(in, k, &off, &bytes, &raw_bytes, &hash);
    int rc = inflate_dict(in, k, &raw, w->err);
    if (rc == 0) {
        w->dict_cp = block_params(w, raw.len);
        w->cdict = ZSTD_createCDict_advanced(raw.data, raw.len, ZSTD_dlm_byCopy, ZSTD_dct_auto,
                                             w->dict_cp, ZSTD_defaultCMem);
        if (!w->cdict) rc = NEWSIDX_ERR_NOMEM;
    }
    if (rc == 0) rc = nx_buf_append(&w->dict_frame, in->data + off, bytes);
    nx_buf_free(&raw);
    if (rc == NEWSIDX_ERR_NOMEM) return w_fail(w, rc, "out of memory");
    if (rc < 0) return rc;
    w->own_cdict = true;
    w->dict_hash = hash;
    w->dict_raw_bytes = raw_bytes;
    return 0;
}

static int recompress_block(nx_docstore_writer *w, const nx_docstore *in, uint64_t b,
                            const uint32_t *map, const uint32_t *inv, nx_docstore_scratch *sc) {
    if (!w->cdict && block_dict(in, b)) NX_FORWARD(adopt_input_dict(w, in, block_dict(in, b)));
    for (uint32_t r = block_first(in, b); r < block_first(in, b + 1); r++) {
        uint32_t d = rec_doc(in, inv, r);
        if (d == UINT32_MAX || map[d] == UINT32_MAX) continue;
        if (map[d] >= w->merge_docs || w->map[map[d]] != UINT32_MAX)
            return w_fail(w, NEWSIDX_ERR_INVALID, "merge doc map is not one-to-one");
        const newsidx_field *f;
        size_t nf;
        NX_FORWARD(get_rec(in, r, sc, w->err, &f, &nf));
        size_t start = w->block.len;
        NX_FORWARD(encode_doc(w, &w->block, f, nf));
        /* placed for now; write_block gives it its record */
        w->map[map[d]] = UINT32_MAX - 1;
        NX_FORWARD(nx_buf_put_u32le(&w->pending, map[d]));
        NX_FORWARD(place_record(w, start));
    }
    return 0;
}

static int merge_input(nx_docstore_writer *w, const nx_docstore *in, const uint32_t *map,
                       nx_docstore_scratch *sc, nx_docstore_merge_stats *st, uint32_t **inv_out) {
    bool names_ok;
    NX_FORWARD(names_compatible(w, in, &names_ok));
    uint32_t *inv = NULL;
    if (in->map) { /* record -> doc */
        inv = *inv_out = malloc(((size_t)in->n_recs + 1) * sizeof *inv);
        if (!inv) return w_fail(w, NEWSIDX_ERR_NOMEM, "out of memory");
        memset(inv, 0xff, ((size_t)in->n_recs + 1) * sizeof *inv);
        for (uint32_t d = 0; d < in->n_docs; d++) {
            uint32_t r = nx_load_u32le(in->map + 4 * (size_t)d);
            if (r >= in->n_recs || inv[r] != UINT32_MAX)
                return corrupt(w->err, "doc map is not one-to-one", (uint64_t)(in->map - in->data));
            inv[r] = d;
        }
    }
    uint64_t live_copied = 0;
    for (uint64_t b = 0; b < in->n_blocks; b++) {
        uint32_t first = block_first(in, b), n_rec = block_first(in, b + 1) - first, live = 0;
        for (uint32_t r = first; r < first + n_rec; r++) {
            uint32_t d = rec_doc(in, inv, r);
            live += d != UINT32_MAX && map[d] != UINT32_MAX;
        }
        if (live == 0) continue;
        /* Copied as it is when at least half its records are live: the
         * dead ones stay as garbage, so no block of any store is more
         * than half garbage (counted in records) however often it is
         * merged again. A new dictionary is brought in only while one
         * slot stays free for the writer's own. */
        uint32_t k = block_dict(in, b), slot = 0;
        bool copy = names_ok && (uint64_t)live * 2 >= n_rec;
        if (copy && k) {
            uint64_t off, hash;
            uint32_t bytes, raw;
            in_dict(in, k, &off, &bytes, &raw, &hash);
            bool known = false;
            for (uint32_t j = 0; j < w->n_dicts; j++)
                known |= w->dicts[j].hash == hash && w->dicts[j].raw_bytes == raw;
            uint32_t reserve = w->dict_slot ? 0 : 1;
            if (!known && w->n_dicts + 1 + reserve > DS_MAX_DICTS) copy = false;
            else NX_FORWARD(dict_slot(w, in->data + off, bytes, hash, raw, &slot));
        }
        if (!copy) {
            NX_FORWARD(recompress_block(w, in, b, map, inv, sc));
            st->blocks_recompressed++;
            st->records_recompressed += live;
            continue;
        }
        for (uint32_t r = first; r < first + n_rec; r++) {
            uint32_t d = rec_doc(in, inv, r);
            if (d == UINT32_MAX || map[d] == UINT32_MAX) continue;
            if (map[d] >= w->merge_docs || w->map[map[d]] != UINT32_MAX)
                return w_fail(w, NEWSIDX_ERR_INVALID, "merge doc map is not one-to-one");
            w->map[map[d]] = w->n_recs + (r - first);
        }
        NX_FORWARD(put_block(w, in->data + block_off(in, b), block_len(in, b), block_raw(in, b),
                             n_rec, slot));
        st->blocks_copied++;
        st->records_copied += live;
        st->dead_records_copied += n_rec - live;
        live_copied += live;
    }
    /* Statistics only: a copied block's live raw bytes are not known
     * without decoding it, so they count as the input's average. */
    if (in->n_docs) w->raw_bytes += (uint64_t)((double)in->raw_bytes * live_copied / in->n_docs);
    return 0;
}
