/* index/docstore — stored fields in zstd-compressed blocks with trained
 * dictionaries, written once and copied by merges: the options and the
 * writer. Byte layout: docstore_internal.h and docs/FORMAT.md ("Doc store"). */
#include "docstore_internal.h"

#include <stdlib.h>
#include <string.h>
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_trainFromBuffer_fastCover */
#include <zdict.h>

/* Training samples longer than this are cut: ZDICT works on the beginnings
 * of documents, and one 50 MB article must not dominate the dictionary. */
#define DS_SAMPLE_MAX (16u * 1024)
/* The dictionary is at most a tenth of the training data (ZDICT's advice:
 * samples ~10-100x the dictionary); below this capacity, no dictionary. */
#define DS_MIN_DICT_BYTES (4u * 1024)
/* A store that ends before its training buffer is full, having trained
 * the dictionary on what it holds, decides whether it pays on at most
 * this many of its bytes (dict_pays). */
#define DS_DECIDE_SAMPLE (512u * 1024)
/* A store that ends with fewer bytes than this buffered trains no
 * dictionary: on 100 BBC articles (188 KB) one saved 1.3% of the store
 * and its training and comparison took half the doc store's CPU, a
 * quarter of the commit's (300 articles: 5%, worth it). */
#define DS_FINAL_MIN_TRAIN (256u * 1024)
/* A dictionary trained on a store that ended with fewer bytes than this
 * is not given to the rest of the run (end_training). */
#define DS_SHARE_MIN_TRAIN (1u << 20)
/* A store whose training buffer is full while another store of its run
 * trains the dictionary goes on buffering up to this many times
 * train_bytes before it waits (end_training): the buffer, grown by
 * doubling, has that capacity already. */
#define DS_TRAIN_WAIT_FACTOR 2
/* Sub-block (zstd block) sizes zstd accepts: 1 KiB to 128 KiB. */
#define DS_MIN_CHUNK_BYTES (1u << 10)
#define DS_MAX_CHUNK_BYTES (1u << 17)
/* Dictionary training (fastCover): segment size k, d-mer size d, and 2^f
 * hash slots; chosen on the three corpora (docs/FORMAT.md). */
#define DS_TRAIN_K 200
#define DS_TRAIN_D 8
#define DS_TRAIN_F 20

void nx_docstore_options_init(nx_docstore_options *o) {
    memset(o, 0, sizeof *o); /* level 0 and no overrides: the measured default */
    o->block_bytes = NX_DOCSTORE_DEFAULT_BLOCK_BYTES;
    o->dict_bytes = NX_DOCSTORE_DEFAULT_DICT_BYTES;
    o->train_bytes = NX_DOCSTORE_DEFAULT_TRAIN_BYTES;
    o->chunk_bytes = NX_DOCSTORE_DEFAULT_CHUNK_BYTES;
}

/* ---- writer ------------------------------------------------------------- */

/* Where a writer run is with its dictionary. One store trains it (the
 * first to have buffered enough); a store reaching that point meanwhile
 * waits for it instead of training a second one (two workers flushing at
 * once used to train two, each costing ~40 ms of CPU on 4 MiB). */
enum { SH_UNTRAINED, SH_TRAINING, SH_TRAINED };

struct nx_docstore_shared {
    pthread_mutex_t lock;
    pthread_cond_t trained; /* signalled when state leaves SH_TRAINING */
    _Atomic int state;      /* written under lock; peeked at without */
    /* Set once by the store that trains, then only read (raw.len 0: the
     * run's data gave no dictionary). Each store digests its own CDict
     * from raw (set_dict). */
    nx_buf raw;   /* the dictionary's content */
    nx_buf frame; /* the dictionary as stored (one zstd frame) */
    uint64_t hash;
    uint32_t raw_bytes;
    /* The run's name table (serialized as in a store): codes are given
     * to names for the whole run, under the lock, so every store's table
     * is a prefix of it, a name has one code in all of them, and merges
     * may copy blocks (records carry codes). */
    nx_buf names;
};

int nx_docstore_shared_new(nx_docstore_shared **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return NEWSIDX_ERR_NOMEM;
    pthread_mutex_init(&(*out)->lock, NULL);
    pthread_cond_init(&(*out)->trained, NULL);
    return 0;
}

void nx_docstore_shared_free(nx_docstore_shared *sh) {
    if (!sh) return;
    nx_buf_free(&sh->raw);
    nx_buf_free(&sh->frame);
    nx_buf_free(&sh->names);
    pthread_cond_destroy(&sh->trained);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

/* A CDict with zstd's dedicated dictionary search: its tables are laid
 * out for reading (blocks attach it, never copy it); zstd picks their
 * sizes from the level and the dictionary. NULL when out of memory. */
static ZSTD_CDict *create_dds_cdict(const nx_docstore_writer *w, const void *dict, size_t len) {
    ZSTD_CCtx_params *p = ZSTD_createCCtxParams();
    ZSTD_CDict *cdict = NULL;
    if (p && !ZSTD_isError(ZSTD_CCtxParams_init(p, w->o.level)) &&
        !ZSTD_isError(ZSTD_CCtxParams_setParameter(p, ZSTD_c_enableDedicatedDictSearch, 1)))
        cdict = ZSTD_createCDict_advanced2(dict, len, ZSTD_dlm_byRef, ZSTD_dct_auto, p,
                                           ZSTD_defaultCMem);
    ZSTD_freeCCtxParams(p);
    return cdict;
}

int nx_ds_set_dict(nx_docstore_writer *w, const uint8_t *dict, size_t len) {
    ZSTD_freeCDict(w->cdict);
    w->cdict = NULL;
    free(w->win);
    w->win_dict = len;
    w->win_cap = len + NX_MIN(2 * (size_t)w->o.block_bytes, (size_t)DS_MAX_WINDOW_ROOM);
    w->win = malloc(w->win_cap);
    if (!w->win) return NEWSIDX_ERR_NOMEM;
    memcpy(w->win, dict, len);
    /* Parameters sized for one block, not for an unknown size:
     * ZSTD_createCDict's defaults carry multi-MB match tables that are
     * reset for every 64 KB block (measured ~2x slower). */
    w->dict_cp = nx_ds_block_params(w, len);
    w->cdict = w->o.dict_search ? create_dds_cdict(w, w->win, len)
                                : ZSTD_createCDict_advanced(w->win, len, ZSTD_dlm_byRef,
                                                            ZSTD_dct_auto, w->dict_cp,
                                                            ZSTD_defaultCMem);
    return w->cdict ? 0 : NEWSIDX_ERR_NOMEM;
}

/* Drops w's dictionary. */
static void drop_dict(nx_docstore_writer *w) {
    ZSTD_freeCDict(w->cdict);
    w->cdict = NULL;
    free(w->win);
    w->win = NULL;
    w->win_dict = w->win_cap = 0;
}

/* Makes the run's dictionary w's (sh->lock held, state SH_TRAINED: its
 * fields no longer change); a run whose data gave none leaves w without. */
static int adopt_shared_locked(nx_docstore_writer *w, const nx_docstore_shared *sh) {
    if (!sh->raw.len) return 0;
    w->dict_frame.len = 0;
    NX_FORWARD(nx_buf_append(&w->dict_frame, sh->frame.data, sh->frame.len));
    w->dict_hash = sh->hash;
    w->dict_raw_bytes = sh->raw_bytes;
    return nx_ds_set_dict(w, sh->raw.data, sh->raw.len);
}

int nx_ds_adopt_shared(nx_docstore_writer *w) {
    nx_docstore_shared *sh = w->o.shared;
    if (!sh || w->cdict || w->o.dict_bytes == 0) return 0;
    pthread_mutex_lock(&sh->lock);
    int rc = sh->state == SH_TRAINED ? adopt_shared_locked(w, sh) : 0;
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

int nx_ds_fail(nx_docstore_writer *w, int code, const char *what) {
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
ZSTD_compressionParameters nx_ds_block_params(const nx_docstore_writer *w, size_t dict_len) {
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
        w->o.expect_docs = o->expect_docs;
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
    nx_buf_free(&w->dict_frame);
    nx_buf_free(&w->pending);
    free(w->map);
    free(w->slots);
    ZSTD_freeCCtx(w->cctx);
    drop_dict(w);
    free(w);
}

uint64_t nx_docstore_raw_bytes(const nx_docstore_writer *w) { return w->raw_bytes; }

bool nx_docstore_waits_for_dict(const nx_docstore_writer *w) {
    /* a store training the dictionary itself has left `training` */
    return w->training && w->o.shared && atomic_load(&w->o.shared->state) == SH_TRAINING;
}

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
int nx_ds_name_code(nx_docstore_writer *w, const char *name, size_t len, uint32_t *code) {
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
int nx_ds_encode_doc(nx_docstore_writer *w, nx_buf *dst, const newsidx_field *fields, size_t n) {
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
        NX_FORWARD(nx_ds_name_code(w, fields[i].name, name_len, &code));
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
    if (!ZSTD_isError(r)) NX_FORWARD(set_params(w, cdict ? w->dict_cp : nx_ds_block_params(w, 0)));
    if (!ZSTD_isError(r) && cdict) r = ZSTD_CCtx_refCDict(w->cctx, cdict);
    if (cdict == w->cdict && cdict && len <= w->win_cap - w->win_dict) {
        /* Right after the dictionary's content, the block continues the
         * window: zstd's matchfinder then searches one contiguous prefix
         * instead of block and dictionary as two segments (~15% faster
         * writes, the same bytes). */
        memcpy(w->win + w->win_dict, src, len);
        src = w->win + w->win_dict;
    }
    if (!ZSTD_isError(r)) r = ZSTD_compress2(w->cctx, w->cbuf.data, cap, src, len);
    if (ZSTD_isError(r))
        return nx_err_set(w->err, NEWSIDX_ERR_NOMEM, "doc store: zstd: %s",
                          ZSTD_getErrorName(r));
    *out_len = r;
    return 0;
}

/* Table slot (1-based) of the dictionary frame `frame` (bytes long, the
 * dictionary's hash and raw size given), writing it now when it is new. */
int nx_ds_dict_slot(nx_docstore_writer *w, const uint8_t *frame, uint32_t bytes, uint64_t hash,
                    uint32_t raw_bytes, uint32_t *slot) {
    for (uint32_t k = 0; k < w->n_dicts; k++)
        if (w->dicts[k].hash == hash && w->dicts[k].raw_bytes == raw_bytes) {
            *slot = k + 1;
            return 0;
        }
    if (w->n_dicts >= DS_MAX_DICTS)
        return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "too many dictionaries");
    w->dicts[w->n_dicts] = (ds_dict){.offset = nx_wfile_offset(w->f) - w->base, .hash = hash,
                                     .bytes = bytes, .raw_bytes = raw_bytes};
    *slot = ++w->n_dicts;
    return nx_wfile_write(w->f, frame, bytes);
}

/* Appends one compressed block (clen bytes, raw_len uncompressed, n_rec
 * records, dictionary slot dict) to the file and the index. */
int nx_ds_put_block(nx_docstore_writer *w, const uint8_t *src, size_t clen, size_t raw_len,
                    uint32_t n_rec, uint32_t dict) {
    if (clen > UINT32_MAX || n_rec > UINT32_MAX - w->n_recs)
        return nx_ds_fail(w, NEWSIDX_ERR_LIMIT, "too many records");
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
        NX_FORWARD(nx_ds_dict_slot(w, w->dict_frame.data, (uint32_t)w->dict_frame.len, w->dict_hash,
                                   w->dict_raw_bytes, &w->dict_slot));
    if (w->merging) {
        uint32_t *docs = (uint32_t *)w->pending.data;
        for (uint32_t i = 0; i < n_rec; i++) w->map[docs[i]] = w->n_recs + i;
        w->pending.len -= (size_t)n_rec * 4;
        memmove(docs, docs + n_rec, w->pending.len);
    }
    return nx_ds_put_block(w, w->cbuf.data, clen, len, n_rec, w->cdict ? w->dict_slot : 0);
}

/* The record just appended to w->block starts at rec_start: cut a block
 * before it when it would overflow the target, or after it when the block
 * is full. */
int nx_ds_place_record(nx_docstore_writer *w, size_t rec_start) {
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

/* Compressed size of the blocks the buffered training records are cut
 * into, with or without a dictionary, over the first blocks covering at
 * least `limit` raw bytes (*raw: how many they hold): decides whether a
 * dictionary pays for itself. */
static int blocks_size(nx_docstore_writer *w, const ZSTD_CDict *cdict, size_t limit,
                       uint64_t *total, uint64_t *raw) {
    const size_t *sizes = (const size_t *)w->train_sizes.data;
    size_t n = w->train_sizes.len / sizeof *sizes, start = 0, end = 0;
    *total = 0;
    for (size_t i = 0; i <= n && start < limit; i++) {
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
    *raw = start;
    return 0;
}

/* Trains a dictionary on the buffered records (when there are enough),
 * makes it w's (nx_ds_set_dict) and its stored frame w->dict_frame;
 * leaves w->cdict NULL when the data gives none. */
static int train_dict(nx_docstore_writer *w) {
    const size_t *sizes = (const size_t *)w->train_sizes.data;
    size_t n = w->train_sizes.len / sizeof *sizes;
    size_t cap = NX_MIN((size_t)w->o.dict_bytes, w->train.len / 10);
    if (cap < DS_MIN_DICT_BYTES || n < 8) return 0;
    /* Samples: the first DS_SAMPLE_MAX bytes of each record. */
    nx_buf samples = {0}, sample_sizes = {0};
    uint8_t *dict = malloc(cap);
    int rc = dict ? 0 : NEWSIDX_ERR_NOMEM;
    for (size_t i = 0, off = 0; rc == 0 && i < n; off += sizes[i], i++) {
        size_t sz = NX_MIN(sizes[i], (size_t)DS_SAMPLE_MAX);
        rc = nx_buf_append(&samples, w->train.data + off, sz);
        if (rc == 0) rc = nx_buf_append(&sample_sizes, &sz, sizeof sz);
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
    if (rc == 0 && dlen) rc = nx_ds_set_dict(w, dict, dlen);
    /* The dictionary is stored zstd-compressed: it is mostly text and
     * shrinks to less than half, which matters for small segments. It is
     * written before the first block that uses it (write_block). */
    size_t stored = 0;
    if (rc == 0 && w->cdict) rc = compress_into(w, NULL, dict, dlen, &stored);
    if (rc == 0 && w->cdict) {
        w->dict_frame.len = 0;
        rc = nx_buf_append(&w->dict_frame, w->cbuf.data, stored);
        w->dict_hash = nx_hash64(dict, dlen);
        w->dict_raw_bytes = (uint32_t)dlen;
    }
    free(dict);
    return rc;
}

/* Whether w's dictionary should compress the buffered records, which are
 * all the store will hold: compressed both ways, the first
 * DS_DECIDE_SAMPLE bytes' sizes, scaled to the whole, must show it saving
 * more than its stored frame costs. (A store of at most that size is
 * compared exactly; compressing a bigger one twice whole took as long as
 * writing it.) */
static int dict_pays(nx_docstore_writer *w, bool *pays) {
    uint64_t with = 0, without = 0, raw_with = 0, raw_without = 0;
    NX_FORWARD(blocks_size(w, w->cdict, DS_DECIDE_SAMPLE, &with, &raw_with));
    NX_FORWARD(blocks_size(w, NULL, DS_DECIDE_SAMPLE, &without, &raw_without));
    double scale = raw_with ? (double)w->train.len / (double)raw_with : 1.0;
    *pays = (double)with * scale + (double)w->dict_frame.len < (double)without * scale;
    return 0;
}

/* Ends the buffering of the first records: w gets a dictionary (the
 * run's, or one trained on them), and the records are cut into blocks.
 * `final`: no more documents will come, so a dictionary trained here
 * must beat no dictionary on these records, its stored frame included,
 * unless the run shares it (the run's is used as it is: merges keep one
 * frame of it). In a writer
 * run one store trains and publishes; a store reaching this point while
 * it trains waits for its dictionary, or, unless `wait`, returns with
 * its records still buffered (w->training stays set: its caller goes on
 * with other work, and a later call ends the training). A dictionary
 * trained on a final store's records is published only when they were at
 * least DS_SHARE_MIN_TRAIN bytes: a small first flush must not give the
 * whole run a small dictionary. */
static int end_training(nx_docstore_writer *w, bool final, bool wait) {
    nx_docstore_shared *sh = w->o.shared;
    if (sh && !wait && atomic_load(&sh->state) == SH_TRAINING) return 0;
    w->training = false;
    if (w->train_sizes.len == 0) return 0; /* an empty store needs no dictionary */
    bool trains = true;
    int rc = 0;
    if (sh) {
        pthread_mutex_lock(&sh->lock);
        while (sh->state == SH_TRAINING) pthread_cond_wait(&sh->trained, &sh->lock);
        if (sh->state == SH_TRAINED) {
            trains = false;
            rc = adopt_shared_locked(w, sh);
        } else {
            sh->state = SH_TRAINING;
        }
        pthread_mutex_unlock(&sh->lock);
    }
    if (rc == 0 && trains && !(final && w->train.len < DS_FINAL_MIN_TRAIN)) rc = train_dict(w);
    bool use = w->cdict != NULL;
    /* A dictionary the run will share is kept here too without comparing
     * (dict_pays compresses 512 KiB twice, ~10% of a small build's CPU
     * while the run's other stores wait for the dictionary): they use it
     * anyway, and a merge of the run's stores keeps one frame of it. */
    bool shares = sh && w->train.len >= DS_SHARE_MIN_TRAIN;
    if (rc == 0 && use && final && trains && !shares) rc = dict_pays(w, &use);
    if (sh && trains) {
        pthread_mutex_lock(&sh->lock);
        sh->state = SH_UNTRAINED;
        if (rc == 0 && w->cdict && (!final || shares)) {
            rc = nx_buf_append(&sh->frame, w->dict_frame.data, w->dict_frame.len);
            if (rc == 0) rc = nx_buf_append(&sh->raw, w->win, w->win_dict);
            if (rc == 0) {
                sh->hash = w->dict_hash;
                sh->raw_bytes = w->dict_raw_bytes;
                sh->state = SH_TRAINED;
            } else {
                sh->frame.len = sh->raw.len = 0;
            }
        }
        pthread_cond_broadcast(&sh->trained);
        pthread_mutex_unlock(&sh->lock);
    }
    if (rc < 0) return nx_ds_fail(w, rc, "out of memory training the dictionary");
    if (!use) drop_dict(w);
    const size_t *sizes = (const size_t *)w->train_sizes.data;
    size_t n = w->train_sizes.len / sizeof *sizes;
    for (size_t i = 0, off = 0; i < n; off += sizes[i], i++) {
        size_t start = w->block.len;
        rc = nx_buf_append(&w->block, w->train.data + off, sizes[i]);
        if (rc == 0) rc = nx_ds_place_record(w, start);
        if (rc < 0) return w->rc = rc;
    }
    nx_buf_free(&w->train);
    nx_buf_free(&w->train_sizes);
    return 0;
}

int nx_docstore_add(nx_docstore_writer *w, const newsidx_field *fields, size_t n) {
    if (w->rc) return w->rc;
    if (w->finished) return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "add after finish");
    if (w->merging) return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "add to a merge");
    if (w->n_docs == UINT32_MAX) return nx_ds_fail(w, NEWSIDX_ERR_LIMIT, "too many documents");
    nx_buf *dst = w->training ? &w->train : &w->block;
    size_t start = dst->len;
    int rc = nx_ds_encode_doc(w, dst, fields, n);
    /* Too big: nothing was written and the doc id is not used, so the
     * caller may go on (e.g. with the document cut). */
    if (rc == NEWSIDX_ERR_LIMIT) return rc;
    w->n_docs++;
    if (rc == 0 && w->training) {
        size_t size = w->train.len - start;
        rc = nx_buf_append(&w->train_sizes, &size, sizeof size);
        /* While another store trains the run's dictionary, go on
         * buffering up to DS_TRAIN_WAIT_FACTOR times train_bytes, and
         * after the caller's last document leave the rest to finish: the
         * caller's other work overlaps the training instead of waiting. */
        bool last = w->o.expect_docs && w->n_docs == w->o.expect_docs;
        if (rc == 0 && (last || w->train.len >= w->o.train_bytes))
            rc = end_training(w, w->train.len < w->o.train_bytes,
                              !last && w->train.len >= DS_TRAIN_WAIT_FACTOR * (size_t)w->o.train_bytes);
    } else if (rc == 0) {
        rc = nx_ds_place_record(w, start);
    }
    if (rc < 0 && w->rc == 0) w->rc = rc;
    return rc;
}

int nx_docstore_writer_finish(nx_docstore_writer *w) {
    if (w->rc) return w->rc;
    if (w->finished) return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "finished twice");
    w->finished = true;
    int rc = 0;
    if (w->training) rc = end_training(w, w->train.len < w->o.train_bytes, true);
    if (rc == 0 && w->block.len) {
        rc = write_block(w, w->block.data, w->block.len, w->block_recs);
        w->block.len = 0;
        w->block_recs = 0;
    }
    if (rc == 0 && w->merging) {
        for (uint32_t d = 0; d < w->merge_docs && rc == 0; d++)
            if (w->map[d] == UINT32_MAX)
                rc = nx_ds_fail(w, NEWSIDX_ERR_INVALID, "a merged document was never added");
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
