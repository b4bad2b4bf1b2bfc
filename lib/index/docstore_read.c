/* index/docstore_read — opens a doc store, fetches its documents and checks it. */
#include "docstore_internal.h"

#include <stdlib.h>
#include <string.h>

#define DS_BAD_RECORD 1 /* parse_record: not a whole record */
#define DS_MAX_BLOCK_RAW ((uint64_t)NX_DOCSTORE_MAX_DOC_BYTES + DS_MAX_BLOCK_BYTES)

int nx_ds_corrupt(nx_err *err, const char *what, uint64_t at) {
    return nx_err_set(err, NEWSIDX_ERR_CORRUPT, "doc store: %s (byte %llu)", what,
                      (unsigned long long)at);
}

void nx_docstore_close(nx_docstore *s) {
    if (!s) return;
    for (uint32_t k = 0; k < DS_MAX_DICTS; k++)
        free(atomic_load_explicit(&s->dict_raw[k], memory_order_relaxed));
    pthread_mutex_destroy(&s->dict_lock);
    free(s->names);
    free(s);
}

int nx_docstore_open(const uint8_t *data, size_t len, nx_err *err, nx_docstore **out) {
    *out = NULL;
    if (len < DS_HEADER_BYTES + DS_TRAILER_BYTES) return nx_ds_corrupt(err, "too short", len);
    const uint8_t *t = data + len - DS_TRAILER_BYTES;
    uint64_t tpos = len - DS_TRAILER_BYTES;
    if (nx_load_u32le(data) != DS_MAGIC || nx_load_u32le(t) != DS_MAGIC)
        return nx_ds_corrupt(err, "bad magic", nx_load_u32le(data) != DS_MAGIC ? 0 : tpos);
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
        return nx_ds_corrupt(err, "bad flags", tpos + 8);
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
        return nx_ds_corrupt(err, "sections out of place", tpos + 32);
    if ((n_blocks == 0) != (n_recs == 0) || n_blocks > n_recs || n_names > DS_MAX_NAMES ||
        (has_map ? n_recs < n_docs : n_recs != n_docs))
        return nx_ds_corrupt(err, "counts disagree", tpos + 12);

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
            rc = nx_ds_corrupt(err, "bad dictionary", dicts_offset + DS_DICT_ENTRY * (k - 1));
    }
    /* Block index: inside the body, first records increasing from 0,
     * sizes sane. That blocks and dictionaries tile the body exactly is
     * left to nx_docstore_check: a fetch only needs its own block in
     * bounds. */
    for (uint64_t b = 0; b < n_blocks && rc == 0; b++) {
        uint64_t off = block_off(s, b), clen = block_len(s, b);
        uint64_t at = index_offset + DS_INDEX_ENTRY * b;
        if (off < DS_HEADER_BYTES || off > dicts_offset || clen == 0 || clen > dicts_offset - off)
            rc = nx_ds_corrupt(err, "block out of place", at);
        else if ((b == 0 && block_first(s, 0) != 0) || block_first(s, b) >= block_first(s, b + 1))
            rc = nx_ds_corrupt(err, "block first records out of order", at);
        else if (block_dict(s, b) > n_dicts)
            rc = nx_ds_corrupt(err, "block names no dictionary", at);
        else if (block_raw(s, b) == 0 || block_raw(s, b) > DS_MAX_BLOCK_RAW ||
                 block_raw(s, b) / NX_INFLATE_MAX_RATIO > clen)
            rc = nx_ds_corrupt(err, "bad block size", at); /* more than its frame can inflate to */
        else if (block_first(s, b + 1) - block_first(s, b) > block_raw(s, b))
            /* a record takes a byte at least: n_recs, and what merges and
             * check allocate per record, stay bounded by the file */
            rc = nx_ds_corrupt(err, "more records than block bytes", at);
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
                rc = nx_ds_corrupt(err, "bad name table", (uint64_t)(p - data));
                break;
            }
            memcpy(mem, p, l);
            mem[l] = 0;
            s->names[i] = mem;
            mem += l + 1;
            p += l;
        }
        if (rc == 0 && p != end)
            rc = nx_ds_corrupt(err, "bytes after the name table", (uint64_t)(p - data));
    } else if (rc == 0 && names_offset != tpos) {
        rc = nx_ds_corrupt(err, "bytes after the name table", names_offset);
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
int nx_ds_inflate_dict(const nx_docstore *s, uint32_t k, nx_buf *buf, nx_err *err) {
    uint64_t off, hash;
    uint32_t bytes, raw;
    in_dict(s, k, &off, &bytes, &raw, &hash);
    buf->len = 0;
    if (nx_buf_reserve(buf, raw)) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
    size_t r = ZSTD_decompress(buf->data, raw, s->data + off, bytes);
    if (ZSTD_isError(r) || r != raw || nx_hash64(buf->data, raw) != hash)
        return nx_ds_corrupt(err, "bad dictionary", off);
    buf->len = raw;
    return 0;
}

/* The content of dictionary k (1-based), inflated and checked on the
 * first call (any thread). */
static int get_dict(nx_docstore *s, uint32_t k, nx_err *err, const uint8_t **out) {
    *out = atomic_load_explicit(&s->dict_raw[k - 1], memory_order_acquire);
    if (*out) return 0;
    int rc = 0;
    pthread_mutex_lock(&s->dict_lock);
    uint8_t *d = atomic_load_explicit(&s->dict_raw[k - 1], memory_order_relaxed);
    if (!d) {
        nx_buf dict = {0};
        rc = nx_ds_inflate_dict(s, k, &dict, err);
        if (rc == 0) {
            d = dict.data;
            atomic_store_explicit(&s->dict_raw[k - 1], d, memory_order_release);
        } else {
            nx_buf_free(&dict);
        }
    }
    pthread_mutex_unlock(&s->dict_lock);
    *out = d;
    return rc;
}

/* Drops the scratch's dictionary copy (its DDict refers to it). */
static void drop_prefix(nx_docstore_scratch *sc) {
    ZSTD_freeDDict(sc->ddict);
    sc->ddict = NULL;
    sc->prefix = 0;
    sc->ddict_hash = 0;
    sc->ddict_bytes = 0;
}

/* Makes room for a block of raw bytes after the scratch's prefix and,
 * for dictionary k (1-based; 0 none), puts its content in the prefix with
 * a DDict over it: decoding then reads dictionary and block as one
 * window. The copy stays for the next block of the same dictionary
 * (stores of one writer run share it). */
static int prepare_window(const nx_docstore *s, uint32_t k, uint32_t raw, nx_docstore_scratch *sc,
                          nx_err *err) {
    uint64_t off = 0, hash = 0;
    uint32_t bytes = 0, dict_raw = 0;
    if (k) in_dict(s, k, &off, &bytes, &dict_raw, &hash);
    bool have = k && sc->ddict && sc->ddict_hash == hash && sc->ddict_bytes == dict_raw;
    if (k && !have) drop_prefix(sc);
    const uint8_t *before = sc->block.data;
    sc->block.len = sc->prefix;
    if (nx_buf_reserve(&sc->block, raw))
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory for a %u-byte block", raw);
    if (sc->ddict && sc->block.data != before) {
        /* moved by the growth: the DDict refers to the old copy (the
         * content moved along, so only the DDict is made again) */
        if (k) {
            ZSTD_freeDDict(sc->ddict);
            sc->ddict = NULL;
        } else {
            drop_prefix(sc);
            sc->block.len = 0;
        }
    }
    if (k && !sc->ddict) {
        const uint8_t *content;
        NX_FORWARD(get_dict((nx_docstore *)s, k, err, &content));
        if (!have) {
            sc->block.len = 0;
            if (nx_buf_reserve(&sc->block, (size_t)dict_raw + raw))
                return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
            memcpy(sc->block.data, content, dict_raw);
        }
        sc->ddict = ZSTD_createDDict_advanced(sc->block.data, dict_raw, ZSTD_dlm_byRef,
                                              ZSTD_dct_auto, ZSTD_defaultCMem);
        if (!sc->ddict) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
        sc->prefix = dict_raw;
        sc->ddict_hash = hash;
        sc->ddict_bytes = dict_raw;
        sc->block.len = sc->prefix;
    }
    return 0;
}

void nx_docstore_scratch_init(nx_docstore_scratch *sc) {
    memset(sc, 0, sizeof *sc);
    sc->cached_block = UINT64_MAX;
}

void nx_docstore_scratch_free(nx_docstore_scratch *sc) {
    if (!sc) return;
    drop_prefix(sc);
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
        return nx_ds_corrupt(err, "block size disagrees with its frame", off);
    uint32_t k = block_dict(s, b);
    NX_FORWARD(prepare_window(s, k, raw, sc, err));
    size_t r = k ? ZSTD_decompressBegin_usingDDict(sc->dctx, sc->ddict)
                 : ZSTD_decompressBegin(sc->dctx);
    if (ZSTD_isError(r)) return nx_ds_corrupt(err, ZSTD_getErrorName(r), off);
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
    raw += sc->prefix; /* block.len counts the prefix too */
    while (!sc->block_done && (all || sc->block.len == before)) {
        size_t need = ZSTD_nextSrcSizeToDecompress(sc->dctx);
        if (need == 0) {
            sc->block_done = true;
            if (sc->src_used != clen || sc->block.len != raw) {
                sc->cached_block = UINT64_MAX;
                return nx_ds_corrupt(err, "block size mismatch", off);
            }
            break;
        }
        if (need > clen - sc->src_used) {
            sc->cached_block = UINT64_MAX;
            return nx_ds_corrupt(err, "truncated block", off);
        }
        size_t r = ZSTD_decompressContinue(sc->dctx, sc->block.data + sc->block.len,
                                           raw - sc->block.len, src + sc->src_used, need);
        if (ZSTD_isError(r)) {
            sc->cached_block = UINT64_MAX;
            return nx_ds_corrupt(err, ZSTD_getErrorName(r), off);
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
int nx_ds_get_rec(const nx_docstore *s, uint32_t rec, nx_docstore_scratch *sc, nx_err *err,
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
        const uint8_t *start = sc->block.data + sc->prefix;
        const uint8_t *p = start + at, *end = sc->block.data + sc->block.len;
        int rc = parse_record(s, &p, end, sc, r == rec ? n : NULL);
        if (rc == NEWSIDX_ERR_NOMEM) return nx_err_set(err, rc, "doc store: out of memory");
        if (rc == DS_BAD_RECORD) { /* goes on past what is decoded, or is bad */
            if (sc->block_done) return nx_ds_corrupt(err, "bad record in block", block_off(s, b));
            NX_FORWARD(decode_more(s, sc, false, err));
            continue;
        }
        at = (size_t)(p - start);
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
        return nx_ds_corrupt(err, "doc map points past the records",
                             (uint64_t)(s->map - s->data) + 4 * doc);
    return nx_ds_get_rec(s, rec, sc, err, fields, n);
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
        if (sp[i].off != at) rc = nx_ds_corrupt(err, "body has gaps or overlaps", sp[i].off);
        at = sp[i].off + sp[i].len;
    }
    free(sp);
    if (rc == 0 && at != s->dicts_offset) rc = nx_ds_corrupt(err, "body has trailing bytes", at);
    if (rc == 0 && s->map) {
        uint8_t *seen = calloc((size_t)s->n_recs / 8 + 1, 1);
        if (!seen) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "doc store: out of memory");
        for (uint32_t d = 0; d < s->n_docs && rc == 0; d++) {
            uint32_t r = nx_load_u32le(s->map + 4 * (size_t)d);
            if (r >= s->n_recs || (seen[r >> 3] & (1u << (r & 7))))
                rc = nx_ds_corrupt(err, "doc map is not one-to-one",
                                   (uint64_t)(s->map - s->data) + 4 * d);
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
        const uint8_t *content;
        rc = get_dict((nx_docstore *)s, k, err, &content);
    }
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint64_t b = 0; b < s->n_blocks && rc == 0; b++) {
        rc = load_block(s, b, &sc, err);
        if (rc == 0) rc = decode_more(s, &sc, true, err);
        if (rc < 0) break;
        const uint8_t *p = sc.block.data + sc.prefix, *end = sc.block.data + sc.block.len;
        for (uint32_t r = block_first(s, b); rc == 0 && r < block_first(s, b + 1); r++)
            if (parse_record(s, &p, end, &sc, NULL) != 0)
                rc = nx_ds_corrupt(err, "bad record in block", block_off(s, b));
        if (rc == 0 && p != end)
            rc = nx_ds_corrupt(err, "block has trailing bytes", block_off(s, b));
    }
    nx_docstore_scratch_free(&sc);
    return rc;
}
