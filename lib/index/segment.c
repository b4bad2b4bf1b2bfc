/* index/segment — reads one immutable segment through mmap: columns,
 * norms, the term dictionary, postings iterators with skips and block-max
 * data, positions, stored fields. Byte layouts: docs/FORMAT.md ("Segment
 * files"); the writer is segwrite.c. Nothing here mutates shared state, so
 * a segment may be read by several threads at once. */
#include "index/index_internal.h"
#include "index/pfor.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zstd.h>

/* Norms: lengths 0..15 exactly; above, 4 significant bits (the leading one
 * and 3 more) with the exponent: byte = 16 + 8 * (e - 4) + (m - 8) where
 * e = floor(log2(len)) >= 4 and m = len >> (e - 3) in 8..15. Decoding gives
 * the smallest length of the bucket. Monotone, so a smaller byte always
 * means a shorter (or equal) field: the block-max bound relies on it. */
uint8_t nx_norm_encode(uint32_t len) {
    if (len < 16) return (uint8_t)len;
    unsigned e = 31u - (unsigned)__builtin_clz(len);
    uint32_t m = len >> (e - 3);
    return (uint8_t)(16 + 8 * (e - 4) + (m - 8));
}

uint32_t nx_norm_decode(uint8_t norm) {
    if (norm < 16) return norm;
    unsigned e = (unsigned)(norm - 16) / 8 + 4;
    uint32_t m = (uint32_t)(norm - 16) % 8 + 8;
    return m << (e - 3);
}

/* ---- opening ------------------------------------------------------------ */

int nx_rfile_expect(const nx_rfile *f, const uint64_t *sums, int which, nx_err *err) {
    if (!sums || f->checksum == sums[which]) return 0;
    return nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                      "%s: checksum %016llx, the manifest records %016llx: not the file the "
                      "commit wrote (copied from another index or segment?)",
                      f->path, (unsigned long long)f->checksum, (unsigned long long)sums[which]);
}

/* Opens one file of the segment; with sums, its footer's checksum must be
 * sums[which] (before anything of it is parsed, so that a file from
 * another index is named as such, not by what it disagrees with). */
static int open_part(const char *dir, uint32_t seg_no, const char *ext, uint32_t kind,
                     const uint64_t *sums, int which, nx_err *err, nx_rfile *f) {
    char *path = nx_segment_file(dir, seg_no, ext);
    if (!path) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    int rc = nx_rfile_open(path, kind, err, f);
    free(path);
    if (rc == 0) rc = nx_rfile_expect(f, sums, which, err);
    return rc;
}

static size_t up8(size_t x) { return (x + 7) & ~(size_t)7; }

/* The largest source ordinal of n docs: one pass per width that the
 * compiler vectorizes, where calling the per-doc accessor (a switch per
 * doc) ran over every doc at every open. */
static uint32_t max_source_ord(const uint8_t *ords, uint32_t width, uint32_t n) {
    switch (width) {
    case 1: {
        uint8_t m = 0;
        for (uint32_t d = 0; d < n; d++) m = ords[d] > m ? ords[d] : m;
        return m;
    }
    case 2: {
        uint16_t m = 0;
        for (uint32_t d = 0; d < n; d++) {
            uint16_t v = nx_load_u16le(ords + 2 * (size_t)d);
            m = v > m ? v : m;
        }
        return m;
    }
    case 4: {
        uint32_t m = 0;
        for (uint32_t d = 0; d < n; d++) {
            uint32_t v = nx_load_u32le(ords + 4 * (size_t)d);
            m = v > m ? v : m;
        }
        return m;
    }
    default: return 0;
    }
}

/* Lays the column views over the .col file and checks that every section
 * lies inside it (FORMAT.md, "Columns"). */
static int parse_columns(nx_segment *s, nx_err *err) {
    const uint8_t *c = s->col.data;
    size_t len = s->col.len;
    NX_RETURN_IF(len < 112 || nx_load_u32le(c) != NX_COL_MAGIC, err, NEWSIDX_ERR_CORRUPT,
                 "%s: bad column header at byte 0", s->col.path);
    uint32_t n = nx_load_u32le(c + 4);
    uint32_t flags = nx_load_u32le(c + 12);
    s->doc_count = n;
    s->n_sources = nx_load_u32le(c + 8);
    s->src_width = (flags >> 4) & 15;
    for (int f = 0; f < NX_N_FIELDS; f++) {
        s->field_docs[f] = nx_load_u32le(c + 16 + 16 * f);
        s->field_tokens[f] = nx_load_u64le(c + 16 + 16 * f + 8);
    }
    s->raw_text_bytes = nx_load_u64le(c + 96);
    s->raw_stored_bytes = nx_load_u64le(c + 104);
    bool dated = flags & 2, hashed = flags & 4;
    size_t n_id_blocks = ((size_t)n + NX_ID_BLOCK - 1) / NX_ID_BLOCK;
    size_t need = 112 + (dated ? 8 * (size_t)n : 0) + (hashed ? 8 * (size_t)n : 0) +
                  up8((size_t)s->src_width * n) + up8(4 * (n_id_blocks + 1)) +
                  up8(4 * ((size_t)s->n_sources + 1));
    NX_RETURN_IF(n > NX_MAX_SEGMENT_DOCS || s->n_sources > n || need > len ||
                     (s->src_width != 0 && s->src_width != 1 && s->src_width != 2 &&
                      s->src_width != 4) || (s->n_sources > 0 && s->src_width == 0),
                 err, NEWSIDX_ERR_CORRUPT, "%s: header at byte 0: %u docs do not fit in %zu bytes",
                 s->col.path, n, len);
    size_t off = 112;
    s->dates = dated ? c + off : NULL;
    off += dated ? 8 * (size_t)n : 0;
    s->simhashes = hashed ? c + off : NULL;
    off += hashed ? 8 * (size_t)n : 0;
    s->src_ords = c + off;
    off += up8((size_t)s->src_width * n);
    s->id_blocks = c + off;
    off += up8(4 * (n_id_blocks + 1));
    s->src_offs = c + off;
    off += up8(4 * ((size_t)s->n_sources + 1));
    NX_RETURN_IF(off + 4 > len, err, NEWSIDX_ERR_CORRUPT, "%s: truncated at byte %zu",
                 s->col.path, off);
    uint32_t zlen = nx_load_u32le(c + off);
    off += 4;
    uint32_t id_total = nx_load_u32le(s->id_blocks + 4 * n_id_blocks);
    uint32_t src_total = nx_load_u32le(s->src_offs + 4 * (size_t)s->n_sources);
    NX_RETURN_IF((uint64_t)off + zlen + src_total != len, err, NEWSIDX_ERR_CORRUPT,
                 "%s: id and source bytes do not end the file at byte %zu", s->col.path, off);
    s->src_bytes = c + off + zlen;
    NX_RETURN_IF(zlen != id_total, err, NEWSIDX_ERR_CORRUPT,
                 "%s: id blob at byte %zu: %u bytes, the block table says %u", s->col.path,
                 off - 4, zlen, id_total);
    s->id_bytes = c + off;
    s->id_total = id_total;
    s->n_id_blocks = (uint32_t)n_id_blocks;
    /* Facets count into an array of n_sources + 1 slots indexed by these
     * ordinals, and BM25 divides by the field statistics: both are checked
     * here once so that no query needs to. */
    for (int f = 0; f < NX_N_FIELDS; f++)
        NX_RETURN_IF(s->field_docs[f] > n, err, NEWSIDX_ERR_CORRUPT,
                     "%s: field %d at byte %d: %u docs with the field, the segment has %u",
                     s->col.path, f, 16 + 16 * f, s->field_docs[f], n);
    uint32_t max_ord = max_source_ord(s->src_ords, s->src_width, n);
    if (max_ord > s->n_sources) {
        uint32_t d = 0;
        while (nx_segment_source_ord(s, d) <= s->n_sources) d++;
        return nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: doc %u at byte %zu has source ordinal %u of %u",
                          s->col.path, d, (size_t)(s->src_ords - c) + (size_t)s->src_width * d,
                          nx_segment_source_ord(s, d), s->n_sources);
    }
    /* source names are [off k-1, off k): the offsets must start at 0 and
     * not decrease (they end at src_total, checked above) */
    for (uint32_t k = 0; k <= s->n_sources; k++) {
        uint32_t a = k ? nx_load_u32le(s->src_offs + 4 * (size_t)(k - 1)) : 0;
        NX_RETURN_IF(nx_load_u32le(s->src_offs + 4 * (size_t)k) < a ||
                         (k == 0 && nx_load_u32le(s->src_offs) != 0),
                     err, NEWSIDX_ERR_CORRUPT, "%s: source offset %u decreases", s->col.path, k);
    }
    /* The ids are expanded per block of NX_ID_BLOCK on first use
     * (nx_segment_id): a search asks for ten of them, not a million. The
     * slots are zero pages until a block is decoded. */
    if (n_id_blocks) {
        s->id_cache = calloc(n_id_blocks, sizeof *s->id_cache);
        NX_RETURN_IF(!s->id_cache, err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int nx_segment_open(const char *dir, uint32_t seg_no, uint32_t del_gen, nx_err *err,
                    nx_segment **out) {
    return nx_segment_open_expect(dir, seg_no, del_gen, NULL, err, out);
}

int nx_segment_open_expect(const char *dir, uint32_t seg_no, uint32_t del_gen, const uint64_t *sums,
                           nx_err *err, nx_segment **out) {
    *out = NULL;
    nx_segment *s = calloc(1, sizeof *s);
    if (!s) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    s->refs = 1;
    s->seg_no = seg_no;
    s->del_gen = del_gen;
    pthread_mutex_init(&s->id_perm_lock, NULL);
    int rc = open_part(dir, seg_no, "col", NX_FILE_COLUMNS, sums, NX_SEG_COL, err, &s->col);
    if (rc == 0) rc = parse_columns(s, err);
    if (rc == 0)
        rc = open_part(dir, seg_no, "post", NX_FILE_POSTINGS, sums, NX_SEG_POST, err, &s->post);
    if (rc == 0)
        rc = open_part(dir, seg_no, "pos", NX_FILE_POSITIONS, sums, NX_SEG_POS, err, &s->pos);
    if (rc == 0)
        rc = open_part(dir, seg_no, "dict", NX_FILE_DICT, sums, NX_SEG_DICT, err, &s->dict);
    if (rc == 0) {
        /* the dictionary is read where it is mapped: open touches its
         * header and nothing per block */
        rc = nx_termdict_open(s->dict.data, s->dict.len, err, &s->termdict);
        if (rc) nx_err_prefix(err, s->dict.path);
    }
    if (rc == 0)
        rc = open_part(dir, seg_no, "norm", NX_FILE_NORMS, sums, NX_SEG_NORM, err, &s->norm);
    if (rc == 0) {
        /* Fields no doc has are omitted from the file (mask bit clear). */
        const uint8_t *d = s->norm.data;
        uint32_t mask = s->norm.len >= 16 ? nx_load_u32le(d + 12) : 0;
        size_t present = (size_t)__builtin_popcount(mask & ((1u << NX_N_FIELDS) - 1));
        if (s->norm.len != 16 + present * s->doc_count || nx_load_u32le(d) != NX_NORM_MAGIC ||
            nx_load_u32le(d + 4) != s->doc_count || nx_load_u32le(d + 8) != NX_N_FIELDS ||
            (mask >> NX_N_FIELDS))
            rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                            "%s: header at byte 0 does not match %u docs x %zu fields",
                            s->norm.path, s->doc_count, present);
        if (rc == 0 && present < NX_N_FIELDS) {
            s->zero_norms = calloc((size_t)s->doc_count + 1, 1);
            if (!s->zero_norms) rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
        }
        const uint8_t *p = d + 16;
        for (int f = 0; rc == 0 && f < NX_N_FIELDS; f++) {
            if (mask & (1u << f)) {
                s->norms[f] = p;
                p += s->doc_count;
            } else {
                s->norms[f] = s->zero_norms;
            }
        }
    }
    if (rc == 0 && (nx_load_u32le(s->col.data + 12) & 1)) {
        rc = open_part(dir, seg_no, "docs", NX_FILE_DOCSTORE, sums, NX_SEG_DOCS, err, &s->docs);
        if (rc == 0) {
            rc = nx_docstore_open(s->docs.data, s->docs.len, err, &s->docstore);
            if (rc) nx_err_prefix(err, s->docs.path);
        }
        if (rc == 0 && nx_docstore_count(s->docstore) != s->doc_count)
            rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: %u documents, the segment has %u",
                            s->docs.path, nx_docstore_count(s->docstore), s->doc_count);
    }
    s->live_count = s->doc_count;
    if (rc == 0 && del_gen)
        rc = nx_segment_open_tombstones(s, dir, del_gen, sums ? sums[NX_SEG_DEL] : 0, err);
    if (rc != 0) {
        nx_segment_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void nx_segment_sums(const nx_segment *seg, uint64_t *sums) {
    const nx_segment *s = seg->core ? seg->core : seg; /* a view's files are its core's */
    sums[NX_SEG_COL] = s->col.checksum;
    sums[NX_SEG_POST] = s->post.checksum;
    sums[NX_SEG_POS] = s->pos.checksum;
    sums[NX_SEG_DICT] = s->dict.checksum;
    sums[NX_SEG_NORM] = s->norm.checksum;
    sums[NX_SEG_DOCS] = s->docs.checksum; /* 0: not opened, the segment stores only ids */
    sums[NX_SEG_DEL] = seg->del.checksum;
}

void nx_segment_release_index_pages(const nx_segment *s) {
    const nx_rfile *f[] = {&s->post, &s->pos, &s->norm, &s->col, &s->dict};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i]->data) madvise((void *)f[i]->data, f[i]->map_len, MADV_DONTNEED);
}

void nx_segment_release_docstore_pages(const nx_segment *s) {
    if (s->docs.data) madvise((void *)s->docs.data, s->docs.map_len, MADV_DONTNEED);
}

void nx_segment_release_pages(const nx_segment *s) {
    nx_segment_release_index_pages(s);
    nx_segment_release_docstore_pages(s);
}

void nx_segment_sizes(const nx_segment *s, newsidx_stats *st) {
    st->postings_bytes += s->post.map_len;
    st->positions_bytes += s->pos.map_len;
    st->dict_bytes += s->dict.map_len;
    st->norms_bytes += s->norm.map_len;
    st->docstore_bytes += s->docs.map_len;
    st->other_bytes += s->col.map_len + s->del.map_len;
    st->terms += nx_termdict_count(s->termdict);
    st->docs += s->live_count;
    st->deleted_docs += s->doc_count - s->live_count;
    st->raw_stored_bytes += s->raw_stored_bytes;
    /* raw text of live docs only, pro rata: per-doc sizes are not kept */
    if (s->doc_count)
        st->raw_text_bytes += (uint64_t)((double)s->raw_text_bytes * s->live_count / s->doc_count);
}

/* ---- columns -------------------------------------------------------------- */

uint32_t nx_segment_doc_count(const nx_segment *s) { return s->doc_count; }
const char *nx_segment_postings_path(const nx_segment *s) { return s->post.path; }
const char *nx_segment_positions_path(const nx_segment *s) { return s->pos.path; }
const char *nx_segment_dict_path(const nx_segment *s) { return s->dict.path; }
const char *nx_segment_columns_path(const nx_segment *s) { return s->col.path; }
uint32_t nx_segment_live_count(const nx_segment *s) { return s->live_count; }

bool nx_segment_is_live(const nx_segment *s, uint32_t doc) {
    return !s->deleted || !(s->deleted[doc >> 3] & (1u << (doc & 7)));
}

uint64_t nx_segment_field_tokens(const nx_segment *s, int field) { return s->field_tokens[field]; }
const uint8_t *nx_segment_norms(const nx_segment *s, int field) {
    return s->norms[field];
}

int64_t nx_segment_date(const nx_segment *s, uint32_t doc) {
    return s->dates ? (int64_t)nx_load_u64le(s->dates + 8 * (size_t)doc) : NX_NO_DATE;
}

uint64_t nx_segment_simhash(const nx_segment *s, uint32_t doc) {
    return s->simhashes ? nx_load_u64le(s->simhashes + 8 * (size_t)doc) : 0;
}

bool nx_segment_has_simhash(const nx_segment *s) { return s->simhashes != NULL; }

/* First doc whose date is >= t (dates ascend with doc ids). */
static uint32_t date_lower_bound(const nx_segment *s, int64_t t) {
    uint32_t lo = 0, hi = s->doc_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (nx_segment_date(s, mid) < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void nx_segment_date_range(const nx_segment *s, int64_t lo, int64_t hi, uint32_t *first,
                           uint32_t *end) {
    /* Undated docs hold NX_NO_DATE (INT64_MIN) and sort first; a range never
     * includes them unless lo is NX_NO_DATE itself. */
    if (lo > hi) {
        *first = *end = 0;
        return;
    }
    *first = date_lower_bound(s, lo);
    *end = hi == INT64_MAX ? s->doc_count : date_lower_bound(s, hi + 1);
}

int nx_segment_stored(const nx_segment *s, uint32_t doc, nx_docstore_scratch *scratch,
                      nx_err *err, const newsidx_field **fields, size_t *n) {
    NX_RETURN_IF(doc >= s->doc_count, err, NEWSIDX_ERR_INVALID, "doc %u out of range", doc);
    if (s->docstore) {
        int rc = nx_docstore_get(s->docstore, doc, scratch, err, fields, n);
        if (rc == NEWSIDX_ERR_CORRUPT) nx_err_prefix(err, s->docs.path);
        return rc;
    }
    /* Only ids are stored: the id column answers. */
    scratch->fields.len = 0;
    if (nx_buf_reserve(&scratch->fields, sizeof(newsidx_field)))
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    newsidx_field *f = (newsidx_field *)scratch->fields.data;
    f->name = nx_field_name(NX_F_ID);
    f->value = nx_segment_id(s, doc, &f->value_len);
    NX_RETURN_IF(!f->value, err, NEWSIDX_ERR_CORRUPT, "%s: the id of doc %u does not decode",
                 s->col.path, doc);
    *fields = f;
    *n = 1;
    return 0;
}

/* ---- dictionary ------------------------------------------------------------ */

/* Dictionary value (FORMAT.md, "Term dictionary"): varint df, varint
 * cf - df, then either the pulsed posting (df == 1: varint doc and the
 * positions) or varint postings offset and varint positions offset. */
int nx_segment_term_value(const nx_segment *s, int field, const uint8_t *value, size_t len,
                          nx_term_info *ti) {
    const uint8_t *p = value, *end = value + len;
    uint64_t df, extra, a = 0, b = 0;
    /* cf counts positions: it cannot wrap, nor exceed what the positions
     * file could hold (a block of 128 zero deltas takes 2 bytes) */
    if (nx_varint_decode(&p, end, &df) || nx_varint_decode(&p, end, &extra) || df == 0 ||
        df > s->doc_count || extra / 64 > s->pos.len + NX_BLOCK)
        return NEWSIDX_ERR_CORRUPT;
    memset(ti, 0, sizeof *ti);
    ti->df = (uint32_t)df;
    ti->cf = df + extra;
    ti->field = field;
    if (p < end && df <= NX_PULSE_MAX_DF && ti->cf <= NX_PULSE_MAX_CF) {
        ti->pulsed = p;
        ti->pulsed_len = (size_t)(end - p);
        return 0;
    }
    if (nx_varint_decode(&p, end, &a) || nx_varint_decode(&p, end, &b) || p != end ||
        a >= s->post.len || b > s->pos.len)
        return NEWSIDX_ERR_CORRUPT;
    ti->postings_off = a;
    ti->positions_off = b;
    return 0;
}

int nx_segment_lookup(const nx_segment *s, int field, const char *term, size_t len,
                      nx_term_info *out) {
    if (field < 0 || field >= NX_N_FIELDS || len > 255) return 0;
    uint8_t key[256 + 1];
    key[0] = (uint8_t)field;
    memcpy(key + 1, term, len);
    const uint8_t *v;
    size_t vl;
    int rc = nx_termdict_find(s->termdict, key, len + 1, &v, &vl);
    if (rc <= 0) return rc;
    NX_FORWARD(nx_segment_term_value(s, field, v, vl, out));
    return 1;
}

int nx_segment_terms(const nx_segment *s, int field, const char *prefix, size_t len,
                     nx_term_fn fn, void *ctx) {
    if (field < 0 || field >= NX_N_FIELDS || len > 255) return 0;
    uint8_t key[256 + 1];
    key[0] = (uint8_t)field;
    if (len) memcpy(key + 1, prefix, len);
    nx_termdict_iter it;
    int rc = nx_termdict_seek(s->termdict, key, len + 1, &it);
    while (rc == 1) {
        if (it.term_len < len + 1 || memcmp(it.term, key, len + 1) != 0) return 0;
        nx_term_info ti;
        NX_FORWARD(nx_segment_term_value(s, field, it.value, it.value_len, &ti));
        int r = fn(ctx, (const char *)it.term + 1, it.term_len - 1, &ti);
        if (r) return r;
        rc = nx_termdict_next(&it);
    }
    return rc;
}

/* ---- postings ------------------------------------------------------------- */

static const uint8_t *read_tail(const uint8_t *p, const uint8_t *end, uint32_t n, uint32_t next,
                                uint32_t *docs, uint32_t *freqs, bool packable, uint32_t limit);

/* Reads the next skip entry into c (see FORMAT.md, "Skip entries"). */
/* nx_varint_decode with the one- and two-byte cases inline (skip fields:
 * doc deltas and block lengths of a hundred or more take two bytes). */
static inline int varint_decode(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    const uint8_t *q = *p;
    if (q < end && q[0] < 0x80) {
        *out = q[0];
        *p = q + 1;
        return 0;
    }
    if (end - q >= 2 && q[1] < 0x80) {
        *out = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
        *p = q + 2;
        return 0;
    }
    return nx_varint_decode(p, end, out);
}

/* Whether a skip entry's positions locator (blocks and bytes forward from
 * c's, index in the block) stays inside the term's positions: the cursor
 * then never holds an offset past the file, so pointers made from it are
 * in range (compared as remaining counts, which cannot wrap). */
static inline bool pos_locator_ok(const nx_postings *it, const nx_skip_cursor *c, uint64_t dpb,
                                  uint64_t dpo, uint32_t pin) {
    return dpb <= it->pos_blocks - c->pblock && dpo <= it->pos_bytes - c->poff && pin < NX_BLOCK;
}

/* Reads the next skip entry into c (FORMAT.md, "Skip entry"). Invariants
 * kept for every cursor: data_off + data_len <= the bytes from the first
 * block to the end of the file, last_doc < the segment's doc count, poff
 * <= the bytes of the term's positions, pblock <= cf / NX_BLOCK. */
static int skip_next(nx_skip_cursor *c, const nx_postings *it) {
    uint64_t dl, bl, dpb, dpo, mtf;
    const uint8_t *p = c->p, *end = it->blocks;
    if (varint_decode(&p, end, &dl) || varint_decode(&p, end, &bl) ||
        varint_decode(&p, end, &dpb) || varint_decode(&p, end, &dpo) || p >= end)
        return -1;
    uint32_t pin = *p++;
    if (varint_decode(&p, end, &mtf) || p >= end) return -1;
    if (bl > it->blocks_bytes - (c->data_off + c->data_len) || dl >= it->doc_limit - c->last_doc ||
        !pos_locator_ok(it, c, dpb, dpo, pin))
        return -1;
    c->min_norm = *p++;
    c->block++;
    c->prev_last = c->last_doc;
    c->last_doc += (uint32_t)dl;
    c->data_off += c->data_len;
    c->data_len = bl;
    c->pblock += dpb;
    c->poff += dpo;
    c->pin = pin;
    c->max_tf = (uint32_t)mtf;
    c->p = p;
    return 0;
}

/* Moves cursor c (on the last full block, or before the first when there
 * are none) onto the tail: its block-max data, position locator and last
 * doc (found by walking its entries; at most 127). The entries are decoded
 * once per iterator and cursor role: into it->docs/freqs when into_docs
 * (the doc cursor, whose load_block follows), else only while the tail's
 * block-max data is not known yet. A short list is all tail, and a set of
 * indexes has a tail per term per segment (bench/README.md, "Multi-index
 * search"). */
static int skip_to_tail(nx_postings *it, nx_skip_cursor *c, bool into_docs) {
    const uint8_t *p = it->blocks + c->data_off + c->data_len, *end = it->end;
    if (it->n_blocks > 0) {
        uint64_t dpb, dpo;
        if (nx_varint_decode(&p, end, &dpb) || nx_varint_decode(&p, end, &dpo) || p >= end ||
            !pos_locator_ok(it, c, dpb, dpo, *p))
            return -1;
        c->pblock += dpb;
        c->poff += dpo;
        c->pin = *p++;
    }
    c->data_off += c->data_len;
    c->data_len = (uint64_t)(p - (it->blocks + c->data_off)); /* header only */
    c->block = it->n_blocks;
    c->prev_last = c->last_doc;
    if (it->tail_known && !into_docs) {
        c->max_tf = it->tail_max_tf;
        c->min_norm = it->tail_min_norm;
        c->last_doc = it->tail_last;
        c->p = p;
        return 0;
    }
    /* The tail stores no block-max data: it is recomputed here, with the
     * norms when the field is known (else the loosest bound, norm 0). */
    uint32_t n = it->df % NX_BLOCK, max_tf = 0;
    uint8_t min_norm = it->norms ? 255 : 0;
    uint32_t local_docs[NX_BLOCK], local_freqs[NX_BLOCK];
    uint32_t *docs = into_docs ? it->docs : local_docs, *freqs = into_docs ? it->freqs : local_freqs;
    const uint8_t *q = read_tail(p, end, n, it->n_blocks ? c->last_doc + 1 : 0, docs, freqs, true,
                                 it->seg->doc_count);
    if (!q || n == 0) return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (docs[i] >= it->seg->doc_count) return -1;
        if (freqs[i] > max_tf) max_tf = freqs[i];
        if (it->norms && it->norms[docs[i]] < min_norm) min_norm = it->norms[docs[i]];
    }
    c->max_tf = max_tf;
    c->min_norm = min_norm;
    c->last_doc = docs[n - 1];
    it->tail_known = true;
    it->tail_max_tf = max_tf;
    it->tail_min_norm = min_norm;
    it->tail_last = docs[n - 1];
    it->tail_in_docs = into_docs;
    c->p = p; /* the tail's entries start at data_off + data_len */
    return 0;
}

/* Reads the tail's n entries (doc gaps after `next`, freqs) into docs and
 * freqs; returns the byte after them or NULL. */
static const uint8_t *read_tail(const uint8_t *p, const uint8_t *end, uint32_t n, uint32_t next,
                                uint32_t *docs, uint32_t *freqs, bool packable, uint32_t limit) {
    /* doc ids are computed in 64 bits: a damaged gap must not wrap around
     * into a valid-looking id; every id must stay below limit */
    uint64_t at = next;
    if (packable && n >= NX_TAIL_PACK_MIN) {
        p = nx_pfor_decode_tail(p, end, n, docs);
        if (p) p = nx_pfor_decode_tail(p, end, n, freqs);
        if (!p) return NULL;
        for (uint32_t i = 0; i < n; i++) {
            at += docs[i];
            if (at >= limit || freqs[i] == UINT32_MAX) return NULL;
            docs[i] = (uint32_t)at++;
            freqs[i]++;
        }
        return p;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v, f = 0;
        if (nx_varint_decode(&p, end, &v)) return NULL;
        if (!(v & 1) && nx_varint_decode(&p, end, &f)) return NULL;
        at += v >> 1;
        if (at >= limit || f >= UINT32_MAX) return NULL;
        docs[i] = (uint32_t)at++;
        freqs[i] = (uint32_t)f + 1;
    }
    return p;
}

/* Decodes block it->dc.block into docs/freqs. */
static int load_block(nx_postings *it) {
    nx_skip_cursor *c = &it->dc;
    const uint8_t *p = it->blocks + c->data_off, *end = it->end;
    if (c->block < it->n_blocks) {
        uint32_t gaps[NX_BLOCK];
        p = nx_pfor_decode(p, end, gaps);
        if (!p) return -1;
        it->freq_src = p; /* decoded on first use */
        nx_delta_decode(gaps, NX_BLOCK, c->block == 0 ? UINT32_MAX : c->prev_last, it->docs);
        /* a damaged block must not yield ids out of order or out of range
         * (callers index norms and columns with them): ids strictly
         * increase, the first follows the previous block, the last is the
         * skip entry's */
        if (c->block > 0 && it->docs[0] <= c->prev_last) return -1;
        /* every step adds gap + 1 >= 1, so the ids increase unless the sum
         * wraps: they do exactly when the 64-bit sum of the steps lands on
         * the last id (a branch-free loop: a compare per id cost much of
         * the decoding, bench/README.md, "History of measured choices") */
        uint64_t steps = 0;
        for (int i = 1; i < NX_BLOCK; i++) steps += (uint64_t)gaps[i] + 1;
        if ((uint64_t)it->docs[0] + steps != it->docs[NX_BLOCK - 1]) return -1;
        if (it->docs[NX_BLOCK - 1] != c->last_doc || c->last_doc >= it->seg->doc_count) return -1;
        it->n_in_block = NX_BLOCK;
    } else {
        it->freq_src = NULL;
        p += c->data_len;
        uint32_t n = it->df % NX_BLOCK;
        if (!it->tail_in_docs &&
            !read_tail(p, end, n, it->n_blocks ? c->prev_last + 1 : 0, it->docs, it->freqs, true,
                       it->seg->doc_count))
            return -1;
        it->n_in_block = n;
    }
    it->tail_in_docs = false;
    it->block = c->block;
    it->i = 0;
    it->doc = it->docs[0];
    it->acc_i = 0;
    it->acc = c->pin;
    it->cum_ok = false;
    it->pc_block = c->pblock;
    it->pc_ptr = it->pos_base + c->poff;
    it->pc_decoded = false;
    return 0;
}

/* Moves the doc cursor's skip entry to the next block and decodes it. */
static int next_block(nx_postings *it) {
    if (it->dc.block + 1 < it->n_blocks) {
        if (skip_next(&it->dc, it)) return -1;
    } else {
        if (skip_to_tail(it, &it->dc, true)) return -1;
    }
    return load_block(it);
}

int nx_postings_open(nx_postings *it, const nx_segment *s, const nx_term_info *ti,
                     bool want_positions) {
    memset(it, 0, offsetof(nx_postings, docs));
    it->seg = s;
    it->want_positions = want_positions;
    it->pos_buf = it->pos_inline;
    it->pos_buf_cap = 64;
    it->doc = NX_NO_DOC;
    it->norms = ti->field >= 0 && ti->field < NX_N_FIELDS ? s->norms[ti->field] : NULL;
    it->df = ti->df;
    it->cf = ti->cf;
    if (ti->df == 0) return NEWSIDX_ERR_CORRUPT;
    if (ti->pulsed) {
        /* postings inline in the dictionary value: one block, decoded now */
        const uint8_t *p = ti->pulsed, *end = p + ti->pulsed_len;
        if (ti->df > NX_PULSE_MAX_DF) return NEWSIDX_ERR_CORRUPT;
        p = read_tail(p, end, ti->df, 0, it->docs, it->freqs, false, s->doc_count);
        if (!p || it->docs[ti->df - 1] >= s->doc_count) return NEWSIDX_ERR_CORRUPT;
        uint64_t cf = 0;
        uint32_t max_tf = 0;
        uint8_t min_norm = it->norms ? 255 : 0;
        for (uint32_t i = 0; i < ti->df; i++) {
            cf += it->freqs[i];
            if (it->freqs[i] > max_tf) max_tf = it->freqs[i];
            if (it->norms && it->norms[it->docs[i]] < min_norm) min_norm = it->norms[it->docs[i]];
        }
        if (cf != ti->cf) return NEWSIDX_ERR_CORRUPT;
        it->pulsed = p; /* the positions */
        it->pulsed_end = end;
        it->pc_ptr = p;
        it->acc_i = 0;
        it->n_in_block = ti->df;
        it->doc = it->docs[0];
        it->term_max_tf = max_tf;
        it->term_min_norm = min_norm;
        it->dc.block = it->sc.block = 0;
        it->dc.last_doc = it->sc.last_doc = it->docs[ti->df - 1];
        it->dc.max_tf = it->sc.max_tf = max_tf;
        it->dc.min_norm = it->sc.min_norm = min_norm;
        return 0;
    }
    if (ti->postings_off >= s->post.len || ti->positions_off > s->pos.len) return NEWSIDX_ERR_CORRUPT;
    const uint8_t *p = s->post.data + ti->postings_off, *end = s->post.data + s->post.len;
    it->n_blocks = it->df / NX_BLOCK;
    it->last_block = it->df % NX_BLOCK ? it->n_blocks : it->n_blocks - 1;
    it->pos_base = s->pos.data + ti->positions_off;
    it->pos_end = s->pos.data + s->pos.len;
    it->end = end;
    it->pos_bytes = s->pos.len - ti->positions_off;
    it->pos_blocks = it->cf / NX_BLOCK;
    it->doc_limit = s->doc_count;
    nx_skip_cursor c = {0};
    c.block = UINT32_MAX; /* before the first: skip_next makes it 0 */
    if (it->n_blocks > 0) {
        uint64_t mtf, skip_len;
        if (nx_varint_decode(&p, end, &mtf) || p >= end) return NEWSIDX_ERR_CORRUPT;
        it->term_max_tf = (uint32_t)mtf;
        it->term_min_norm = *p++;
        if (nx_varint_decode(&p, end, &skip_len) || skip_len > (uint64_t)(end - p))
            return NEWSIDX_ERR_CORRUPT;
        c.p = p;
        it->blocks = p + skip_len;
        it->blocks_bytes = (uint64_t)(end - it->blocks);
        if (skip_next(&c, it)) return NEWSIDX_ERR_CORRUPT;
    } else {
        it->blocks = p;
        it->blocks_bytes = (uint64_t)(end - p);
        if (skip_to_tail(it, &c, true)) return NEWSIDX_ERR_CORRUPT;
        it->term_max_tf = c.max_tf;
        it->term_min_norm = c.min_norm;
    }
    it->dc = c;
    it->sc = c;
    if (load_block(it)) return NEWSIDX_ERR_CORRUPT;
    return 0;
}

uint32_t nx_postings_next(nx_postings *it) {
    if (it->doc == NX_NO_DOC) return NX_NO_DOC;
    if (++it->i < it->n_in_block) return it->doc = it->docs[it->i];
    if (it->block >= it->last_block || next_block(it)) return it->doc = NX_NO_DOC;
    return it->doc;
}

uint32_t nx_postings_advance(nx_postings *it, uint32_t target) {
    if (it->doc == NX_NO_DOC) return NX_NO_DOC;
    if (it->doc >= target) return it->doc;
    if (it->docs[it->n_in_block - 1] < target) {
        /* Walk skip entries (not blocks) to the first block whose last doc
         * reaches target; only that block is decoded. */
        if (it->block >= it->last_block) return it->doc = NX_NO_DOC;
        do {
            int bad = it->dc.block + 1 < it->n_blocks ? skip_next(&it->dc, it)
                                                      : skip_to_tail(it, &it->dc, true);
            if (bad) return it->doc = NX_NO_DOC;
        } while (it->dc.last_doc < target && it->dc.block < it->last_block);
        if (it->dc.last_doc < target) return it->doc = NX_NO_DOC;
        if (load_block(it)) return it->doc = NX_NO_DOC;
    }
    /* the block's last doc is >= target */
    it->i = nx_block_seek(it->docs, it->i, it->n_in_block, target);
    return it->doc = it->docs[it->i];
}

void nx_postings_decode_freqs(nx_postings *it) {
    if (nx_pfor_decode(it->freq_src, it->end, it->freqs)) {
        for (int i = 0; i < NX_BLOCK; i++) it->freqs[i]++;
    } else {
        for (int i = 0; i < NX_BLOCK; i++) it->freqs[i] = 1;
        it->last_block = it->block; /* damaged: end after this doc */
        it->n_in_block = it->i + 1;
    }
    it->freq_src = NULL;
}

/* Decodes positions block it->pc_block at it->pc_ptr into pc_vals. */
static int pos_decode(nx_postings *it) {
    const uint8_t *p = it->pc_ptr, *end = it->pos_end;
    uint64_t full = it->cf / NX_BLOCK;
    if (it->pc_block < full) {
        if (!nx_pfor_decode(p, end, it->pc_vals)) return -1;
    } else {
        uint32_t n = (uint32_t)(it->cf % NX_BLOCK);
        if (n >= NX_TAIL_PACK_MIN) {
            if (!nx_pfor_decode_tail(p, end, n, it->pc_vals)) return -1;
        } else {
            for (uint32_t i = 0; i < n; i++) {
                uint64_t v;
                if (nx_varint_decode(&p, end, &v)) return -1;
                it->pc_vals[i] = (uint32_t)v;
            }
        }
    }
    it->pc_decoded = true;
    return 0;
}

/* Moves the position cursor forward to block `want` and decodes it. */
static int pos_load(nx_postings *it, uint64_t want) {
    uint64_t full = it->cf / NX_BLOCK;
    while (it->pc_block < want) {
        if (it->pc_block >= full) return -1;
        const uint8_t *next = nx_pfor_skip(it->pc_ptr, it->pos_end);
        if (!next) return -1; /* pc_ptr stays a valid pointer for later calls */
        it->pc_ptr = next;
        it->pc_block++;
        it->pc_decoded = false;
    }
    return it->pc_block != want || pos_decode(it);
}

/* Positions block `want` decoded, with values [0, used). */
static inline int pos_seek(nx_postings *it, uint64_t want, uint32_t used) {
    if ((it->pc_block != want || !it->pc_decoded) && pos_load(it, want)) return -1;
    return want >= it->cf / NX_BLOCK && used > it->cf % NX_BLOCK ? -1 : 0;
}

static int pos_buf_reserve(nx_postings *it, uint32_t n) {
    if (n <= it->pos_buf_cap) return 0;
    uint32_t cap = it->pos_buf_cap;
    while (cap < n) cap = cap > UINT32_MAX / 2 ? n : cap * 2;
    uint32_t *nb = it->pos_buf == it->pos_inline ? malloc(sizeof *nb * cap)
                                                 : realloc(it->pos_buf, sizeof *nb * cap);
    if (!nb) return NEWSIDX_ERR_NOMEM;
    it->pos_buf = nb;
    it->pos_buf_cap = cap;
    return 0;
}

int nx_postings_deltas(nx_postings *it, const uint32_t **deltas) {
    if (!it->want_positions || it->doc == NX_NO_DOC) return NEWSIDX_ERR_INVALID;
    if (it->freq_src) nx_postings_decode_freqs(it);
    uint32_t freq = it->freqs[it->i];
    if (it->pulsed) {
        /* walk the inline position varints forward to this doc's */
        const uint8_t *p = it->pc_ptr;
        for (; it->acc_i < it->i; it->acc_i++)
            for (uint32_t j = 0; j < it->freqs[it->acc_i]; j++) {
                uint64_t v;
                if (nx_varint_decode(&p, it->pulsed_end, &v)) return NEWSIDX_ERR_CORRUPT;
            }
        it->pc_ptr = p;
        if (pos_buf_reserve(it, freq)) return NEWSIDX_ERR_NOMEM;
        for (uint32_t j = 0; j < freq; j++) {
            uint64_t v;
            if (nx_varint_decode(&p, it->pulsed_end, &v)) return NEWSIDX_ERR_CORRUPT;
            it->pos_buf[j] = (uint32_t)v;
        }
        *deltas = it->pos_buf;
        return (int)freq;
    }
    /* it->acc counts positions from the start of the doc block's first
     * positions block (dc.pblock): the doc's deltas start at index
     * acc % NX_BLOCK of block dc.pblock + acc / NX_BLOCK. Most docs' fit in that
     * block and are returned in place; the others are gathered. */
    if (!it->cum_ok) {
        /* once per block: the positions skipped between two docs asked
         * for are a difference (a sum per call cost a loop exit
         * misprediction each) */
        uint64_t sum = 0;
        for (uint32_t k = 0; k < it->n_in_block; k++) {
            it->cum[k] = sum;
            sum += it->freqs[k];
        }
        it->cum_ok = true;
    }
    uint64_t acc = it->acc += it->cum[it->i] - it->cum[it->acc_i];
    it->acc_i = it->i;
    uint64_t want = it->dc.pblock + acc / NX_BLOCK;
    uint32_t in = (uint32_t)(acc % NX_BLOCK);
    if (freq <= NX_BLOCK - in) {
        if (pos_seek(it, want, in + freq)) return NEWSIDX_ERR_CORRUPT;
        *deltas = it->pc_vals + in;
        return (int)freq;
    }
    /* a damaged freq must not size the buffer: the doc's positions have to
     * be in the bytes left (a block of 128 zero deltas takes 2 bytes) */
    if (freq > INT32_MAX || (uint64_t)freq / 64 > (uint64_t)(it->pos_end - it->pc_ptr) + 2)
        return NEWSIDX_ERR_CORRUPT;
    if (pos_buf_reserve(it, freq)) return NEWSIDX_ERR_NOMEM;
    for (uint32_t j = 0; j < freq; in = 0, want++) {
        uint32_t take = NX_BLOCK - in < freq - j ? NX_BLOCK - in : freq - j;
        if (pos_seek(it, want, in + take)) return NEWSIDX_ERR_CORRUPT;
        /* (a loop: memcpy of this bounded size is inlined as rep movs,
         * slow to start) */
        for (uint32_t k = 0; k < take; k++) it->pos_buf[j + k] = it->pc_vals[in + k];
        j += take;
    }
    *deltas = it->pos_buf;
    return (int)freq;
}

int nx_postings_positions(nx_postings *it, const uint32_t **pos) {
    const uint32_t *d;
    int n = nx_postings_deltas(it, &d);
    if (n < 0) return n;
    if (pos_buf_reserve(it, (uint32_t)n)) return NEWSIDX_ERR_NOMEM;
    /* d may be pos_buf itself: summing in place is fine */
    uint32_t prev = 0, *out = it->pos_buf;
    for (int j = 0; j < n; j++) out[j] = prev += d[j];
    *pos = out;
    return n;
}

uint32_t nx_postings_shallow_advance(nx_postings *it, uint32_t target) {
    nx_skip_cursor *c = &it->sc;
    while (c->last_doc < target) {
        if (c->block >= it->last_block) return NX_NO_DOC;
        if (c->block + 1 < it->n_blocks) {
            if (skip_next(c, it)) return NX_NO_DOC;
        } else if (skip_to_tail(it, c, false)) {
            return NX_NO_DOC;
        }
    }
    return c->last_doc;
}

void nx_postings_block_max(const nx_postings *it, uint32_t *max_tf, uint8_t *min_norm) {
    *max_tf = it->sc.max_tf;
    *min_norm = it->sc.min_norm;
}

void nx_postings_term_max(const nx_postings *it, uint32_t *max_tf, uint8_t *min_norm) {
    *max_tf = it->term_max_tf;
    *min_norm = it->term_min_norm;
}

void nx_postings_close(nx_postings *it) {
    if (it->pos_buf && it->pos_buf != it->pos_inline) free(it->pos_buf);
    it->pos_buf = it->pos_inline;
    it->pos_buf_cap = 64;
}
