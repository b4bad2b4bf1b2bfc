/* nx_crafted.h — a structure-aware editor of one segment's index files,
 * shared by tests/test_crafted.c and tests/fuzz/fuzz_segment.c.
 *
 * It knows where every field of docs/FORMAT.md lives in a real segment
 * (footer, manifest, postings with skip entries and packed blocks,
 * positions, dictionary header, term dictionary blocks and values, norms,
 * columns and their id blob, doc store with its blocks and records,
 * tombstones) and sets one of them to a given value: fixed-width fields in
 * place, varints re-encoded (what follows moves; the offsets that point
 * past it — the dictionary's postings and positions offsets, the term
 * dictionary's block index, the id block offsets, the doc store's block
 * index — are moved with it), compressed sections inflated, edited and
 * compressed again, and the file's XXH3 footer recomputed, so that
 * nothing but the edited field is wrong. Tests only: it reads the layouts
 * itself and trusts the index it was given (a freshly built one). */
#ifndef NX_CRAFTED_H
#define NX_CRAFTED_H

#include "fuzz_common.h"
#include "index/index_internal.h"
#include "nx_sums.h"
#include "index/termdict.h"

#include <zstd.h>
#include <zdict.h>

enum { NXC_MANIFEST, NXC_POST, NXC_POS, NXC_DICT, NXC_NORM, NXC_COL, NXC_DOCS, NXC_DEL, NXC_N_FILES };
static const char *const nxc_file_ext[NXC_N_FILES] = {"", "post", "pos", "dict", "norm", "col", "docs", "del"};

/* Where a field lives: in a file's content, its footer, the term
 * dictionary, one dictionary value, the id blob of the columns,
 * or the first decompressed block of the doc store. */
enum { NXC_IN_FILE, NXC_IN_FOOTER, NXC_IN_TERMDICT, NXC_IN_VALUE, NXC_IN_IDS, NXC_IN_DSBLOCK };

typedef struct nxc_loc {
    int in, file;
    size_t off;    /* in the container */
    int width;     /* 1, 2, 4, 8; 0 = varint */
    size_t term;   /* NXC_IN_VALUE: index of the dictionary entry */
    uint64_t past; /* one past the table or the bytes it indexes */
} nxc_loc;

typedef struct nxc_index {
    char dir[4096];
    uint32_t seg_no, del_gen;
    char path[NXC_N_FILES][4200];
    uint8_t *orig[NXC_N_FILES]; /* whole files, footers included */
    size_t orig_len[NXC_N_FILES];
    uint32_t dirty; /* files written since the last restore */
    bool manifest_edited; /* a manifest field was set since (nxc_apply) */
    /* the dictionary, its bytes and decoded entries */
    uint8_t *td;
    size_t td_len, n_terms;
    uint8_t **keys, **vals;
    size_t *key_len, *val_len;
    uint32_t doc_count;
    /* terms the postings and positions fields are taken from (SIZE_MAX: none) */
    size_t t_blocks, t_vtail, t_small, t_pulsed, t_vpos, t_ptail;
    uint64_t post_exc, pos_exc; /* a PFOR block with exceptions (0: none) */
    /* columns */
    size_t col_simhash, col_ords, col_idblocks, col_srcoffs, col_z, n_id_blocks; /* col_simhash: 0 = none */
    uint32_t n_sources, src_width;
    uint8_t *ids;
    size_t ids_len;
    /* doc store */
    uint8_t *ds_dict, *ds_block;
    size_t ds_dict_len, ds_block_len;
} nxc_index;

static inline size_t nxc_up8(size_t x) { return (x + 7) & ~(size_t)7; }

/* The column file has dates (flags bit 1; they start at byte 112). */
static inline bool nxc_dated(const nxc_index *x) {
    return nx_load_u32le(x->orig[NXC_COL] + 12) & 2;
}

/* Dictionary value: df, cf, and for a non-pulsed term its offsets. */
static inline bool nxc_value(const uint8_t *v, size_t n, uint64_t *df, uint64_t *cf, uint64_t *a,
                             uint64_t *b, size_t *a_at, size_t *b_at) {
    const uint8_t *p = v, *end = v + n;
    uint64_t extra = 0;
    *df = *cf = 0;
    if (nx_varint_decode(&p, end, df) || nx_varint_decode(&p, end, &extra)) return false;
    *cf = *df + extra;
    if (p < end && *df <= NX_PULSE_MAX_DF && *cf <= NX_PULSE_MAX_CF) return false; /* pulsed */
    *a_at = (size_t)(p - v);
    if (nx_varint_decode(&p, end, a)) return false;
    *b_at = (size_t)(p - v);
    return nx_varint_decode(&p, end, b) == 0;
}

static inline uint64_t nxc_varint_at(const uint8_t *p, size_t n, size_t off, size_t *len) {
    const uint8_t *q = p + off;
    uint64_t v = 0;
    if (nx_varint_decode(&q, p + n, &v)) abort();
    *len = (size_t)(q - (p + off));
    return v;
}

/* Skips the PFOR block (128 values) or the TAIL_PFOR of n values at off. */
static inline size_t nxc_pfor_end(const uint8_t *p, size_t off, uint32_t n) {
    unsigned b = p[off], exc = p[off + 1];
    size_t at = off + 2 + ((size_t)n * b + 7) / 8;
    if (exc) at += 1 + ((size_t)exc * (7u + p[at]) + 7) / 8;
    return at;
}

/* Finds the terms the postings fields are taken from, and packed blocks
 * with exceptions. */
static inline void nxc_pick_terms(nxc_index *x) {
    const uint8_t *post = x->orig[NXC_POST], *pos = x->orig[NXC_POS];
    x->t_blocks = x->t_vtail = x->t_small = x->t_pulsed = x->t_vpos = x->t_ptail = SIZE_MAX;
    for (size_t k = 0; k < x->n_terms; k++) {
        uint64_t df = 0, cf = 0, a = 0, b = 0;
        size_t aa, ba;
        if (!nxc_value(x->vals[k], x->val_len[k], &df, &cf, &a, &b, &aa, &ba)) {
            if (df >= 2 && cf > df && x->t_pulsed == SIZE_MAX) x->t_pulsed = k;
            continue;
        }
        uint32_t nb = (uint32_t)(df / NX_BLOCK), t = (uint32_t)(df % NX_BLOCK);
        if (nb >= 2 && t >= NX_TAIL_PACK_MIN && x->t_blocks == SIZE_MAX) x->t_blocks = k;
        if (nb >= 1 && t > 0 && t < NX_TAIL_PACK_MIN && x->t_vtail == SIZE_MAX) x->t_vtail = k;
        if (nb == 0 && t >= NX_TAIL_PACK_MIN && x->t_small == SIZE_MAX) x->t_small = k;
        if (cf % NX_BLOCK > 0 && cf % NX_BLOCK < NX_TAIL_PACK_MIN && cf >= NX_BLOCK &&
            x->t_vpos == SIZE_MAX)
            x->t_vpos = k;
        if (cf % NX_BLOCK >= NX_TAIL_PACK_MIN && cf >= NX_BLOCK && x->t_ptail == SIZE_MAX) x->t_ptail = k;
        /* doc blocks: after the skip table */
        if (nb > 0) {
            size_t l, at = (size_t)a;
            nxc_varint_at(post, x->orig_len[NXC_POST], at, &l);
            at += l + 1;
            uint64_t skip = nxc_varint_at(post, x->orig_len[NXC_POST], at, &l);
            at += l + (size_t)skip;
            for (uint32_t i = 0; i < nb; i++) {
                if (post[at + 1] && !x->post_exc) x->post_exc = at;
                at = nxc_pfor_end(post, at, NX_BLOCK);
                at = nxc_pfor_end(post, at, NX_BLOCK);
            }
        }
        size_t at = (size_t)b;
        for (uint64_t i = 0; i < cf / NX_BLOCK; i++) {
            if (pos[at + 1] && !x->pos_exc) x->pos_exc = at;
            at = nxc_pfor_end(pos, at, NX_BLOCK);
        }
    }
}

static inline int nxc_load(nxc_index *x, const char *dir, uint32_t seg_no, uint32_t del_gen,
                           const char *manifest) {
    memset(x, 0, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "%s", dir);
    x->seg_no = seg_no;
    x->del_gen = del_gen;
    for (int f = 0; f < NXC_N_FILES; f++) {
        if (f == NXC_MANIFEST) snprintf(x->path[f], sizeof x->path[f], "%s/%s", dir, manifest);
        else if (f == NXC_DEL) snprintf(x->path[f], sizeof x->path[f], "%s/seg_%u.del_%u", dir, seg_no, del_gen);
        else snprintf(x->path[f], sizeof x->path[f], "%s/seg_%u.%s", dir, seg_no, nxc_file_ext[f]);
        x->orig[f] = nxf_read(x->path[f], &x->orig_len[f]);
        if (!x->orig[f] || x->orig_len[f] < NX_FOOTER_BYTES) return -1;
    }
    /* dictionary */
    const uint8_t *d = x->orig[NXC_DICT];
    x->td_len = x->orig_len[NXC_DICT] - NX_FOOTER_BYTES;
    x->td = malloc(x->td_len);
    if (!x->td) return -1;
    memcpy(x->td, d, x->td_len);
    nx_termdict *td;
    nx_err err = {0};
    if (nx_termdict_open(x->td, x->td_len, &err, &td)) return -1;
    size_t cap = (size_t)nx_termdict_count(td);
    x->keys = calloc(cap, sizeof *x->keys);
    x->vals = calloc(cap, sizeof *x->vals);
    x->key_len = calloc(cap, sizeof *x->key_len);
    x->val_len = calloc(cap, sizeof *x->val_len);
    nx_termdict_iter it;
    for (int rc = nx_termdict_seek(td, NULL, 0, &it); rc == 1 && x->n_terms < cap; rc = nx_termdict_next(&it)) {
        size_t k = x->n_terms++;
        x->keys[k] = malloc(it.term_len);
        x->vals[k] = malloc(it.value_len + 1);
        memcpy(x->keys[k], it.term, it.term_len);
        memcpy(x->vals[k], it.value, it.value_len);
        x->key_len[k] = it.term_len;
        x->val_len[k] = it.value_len;
    }
    nx_termdict_close(td);
    /* columns */
    const uint8_t *c = x->orig[NXC_COL];
    x->doc_count = nx_load_u32le(c + 4);
    x->n_sources = nx_load_u32le(c + 8);
    uint32_t flags = nx_load_u32le(c + 12);
    x->src_width = (flags >> 4) & 15;
    x->n_id_blocks = (x->doc_count + 15) / 16;
    x->col_ords = 112 + ((flags & 2) ? 8 * (size_t)x->doc_count : 0);
    x->col_simhash = (flags & 4) ? x->col_ords : 0;
    x->col_ords += (flags & 4) ? 8 * (size_t)x->doc_count : 0;
    x->col_idblocks = x->col_ords + nxc_up8((size_t)x->src_width * x->doc_count);
    x->col_srcoffs = x->col_idblocks + nxc_up8(4 * (x->n_id_blocks + 1));
    x->col_z = x->col_srcoffs + nxc_up8(4 * ((size_t)x->n_sources + 1));
    x->ids_len = nx_load_u32le(c + x->col_idblocks + 4 * x->n_id_blocks);
    x->ids = malloc(x->ids_len + 1);
    if (!x->ids || nx_load_u32le(c + x->col_z) != x->ids_len) return -1;
    memcpy(x->ids, c + x->col_z + 4, x->ids_len);
    /* doc store: its first dictionary and first block */
    const uint8_t *s = x->orig[NXC_DOCS];
    const uint8_t *t = s + x->orig_len[NXC_DOCS] - NX_FOOTER_BYTES - 72;
    const uint8_t *dicts = s + nx_load_u64le(t + 32);
    const uint8_t *index = s + nx_load_u64le(t + 40);
    if (nx_load_u32le(t + 24) && nx_load_u32le(index + 20)) {
        const uint8_t *de = dicts + 24 * (nx_load_u32le(index + 20) - 1);
        x->ds_dict_len = nx_load_u32le(de + 12);
        x->ds_dict = malloc(x->ds_dict_len);
        if (ZSTD_decompress(x->ds_dict, x->ds_dict_len, s + nx_load_u64le(de), nx_load_u32le(de + 8)) !=
            x->ds_dict_len)
            return -1;
    }
    x->ds_block_len = nx_load_u32le(index + 16);
    x->ds_block = malloc(x->ds_block_len);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    size_t r = ZSTD_decompress_usingDict(dc, x->ds_block, x->ds_block_len, s + nx_load_u64le(index),
                                         nx_load_u32le(index + 8), x->ds_dict, x->ds_dict_len);
    ZSTD_freeDCtx(dc);
    if (r != x->ds_block_len) return -1;
    nxc_pick_terms(x);
    return 0;
}

/* Article i of the crafted index: nxf_add's text plus words placed so that
 * the segment has every structure FORMAT.md describes: "zebra" in 131
 * docs (one full block and a tail of 3 varint entries), "quokka" twice in
 * each of 3 docs (a pulsed posting with freqs and position deltas). */
static inline int nxc_add_article(newsidx_writer *w, int i, int v) {
    uint64_t seed = (uint64_t)i * 7919u + (uint64_t)v * 104729u + 1;
    char id[32], title[256], body[4600], date[32], src[32];
    snprintf(id, sizeof id, "g-%d", i);
    nxf_words_into(&seed, title, sizeof title, 4 + (int)(nxf_rand(&seed) % 5));
    nxf_words_into(&seed, body, sizeof body - 64, 20 + (int)(nxf_rand(&seed) % 200));
    if (i < 131) strcat(body, " zebra");
    if (i % 100 == 7) strcat(body, " quokka again quokka");
    snprintf(date, sizeof date, "20%02d-%02d-%02d", 20 + i % 5, 1 + i % 12, 1 + i % 28);
    snprintf(src, sizeof src, "source-%d", i % 4);
    newsidx_field f[] = {
        {"id", id, strlen(id)},       {"title", title, strlen(title)}, {"body", body, strlen(body)},
        {"date", date, strlen(date)}, {"source", src, strlen(src)},    {"author", "A. Writer", 9},
    };
    return newsidx_writer_add(w, f, sizeof f / sizeof f[0], NULL);
}

/* Builds the crafted index in dir and loads its segment 1 into x:
 * segment 1 holds 300 articles (two full blocks for the frequent words),
 * segment 2 replaces ten of them (a tombstone file for segment 1). */
static inline int nxc_build(nxc_index *x, const char *dir) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.stem_language = "english";
    o.stopwords_language = "english";
    o.doc_store_block_bytes = 4096; /* several doc store blocks */
    o.threads = 1; /* segment numbers and contents as described above: one buffer */
    newsidx_writer *w = NULL;
    int rc = newsidx_writer_open(dir, &o, NULL, 0, &w);
    for (int i = 0; i < 300 && rc == 0; i++) rc = nxc_add_article(w, i, 0);
    if (rc == 0) rc = newsidx_writer_commit(w);
    for (int i = 0; i < 300 && rc == 0; i += 30) rc = nxc_add_article(w, i, 1);
    if (rc == 0) rc = newsidx_writer_commit(w);
    newsidx_writer_close(w);
    if (rc) return rc;
    char *names[64];
    size_t n = nxf_list_files(dir, names, 64);
    char manifest[256] = "";
    uint32_t del_gen = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "MANIFEST-", 9) == 0) snprintf(manifest, sizeof manifest, "%s", names[i]);
        if (strncmp(names[i], "seg_1.del_", 10) == 0) del_gen = (uint32_t)atoi(names[i] + 10);
        free(names[i]);
    }
    if (!manifest[0] || !del_gen) return -1;
    return nxc_load(x, dir, 1, del_gen, manifest);
}

static inline void nxc_free(nxc_index *x) {
    for (int f = 0; f < NXC_N_FILES; f++) free(x->orig[f]);
    for (size_t k = 0; k < x->n_terms; k++) {
        free(x->keys[k]);
        free(x->vals[k]);
    }
    free(x->keys);
    free(x->vals);
    free(x->key_len);
    free(x->val_len);
    free(x->td);
    free(x->ids);
    free(x->ds_dict);
    free(x->ds_block);
}

/* ---- the fields ------------------------------------------------------------ */

/* Field names, one per documented field (docs/FORMAT.md); nxc_locate
 * finds each in the loaded segment. */
#define NXC_FIELDS(X)                                                                          \
    X(footer_magic) X(footer_kind) X(footer_version) X(footer_reserved) X(footer_length)       \
    X(footer_xxh3)                                                                             \
    X(manifest_magic) X(manifest_version) X(manifest_generation) X(manifest_next_segment)      \
    X(manifest_n_segments) X(manifest_stem_len) X(manifest_stem_byte) X(manifest_stop_len)     \
    X(manifest_stop_byte) X(manifest_seg_number) X(manifest_seg_doc_count)                     \
    X(manifest_seg_deleted) X(manifest_seg_tombstone_gen) X(manifest_seg_col_sum)              \
    X(manifest_seg_post_sum) X(manifest_seg_pos_sum) X(manifest_seg_dict_sum)                  \
    X(manifest_seg_norm_sum) X(manifest_seg_docs_sum) X(manifest_seg_del_sum)                  \
    X(post_term_max_tf) X(post_term_min_norm) X(post_skip_bytes)                               \
    X(skip_last_doc_delta) X(skip_block_bytes) X(skip_pos_block_delta) X(skip_pos_offset_delta) \
    X(skip_pos_index) X(skip_max_freq) X(skip_min_norm)                                        \
    X(skip2_last_doc_delta) X(skip2_block_bytes) X(skip2_pos_offset_delta)                     \
    X(doc_pfor_b) X(doc_pfor_n_exceptions) X(doc_pfor_packed) X(freq_pfor_b)                   \
    X(freq_pfor_n_exceptions) X(pfor_exception_width) X(pfor_exception_entry)                  \
    X(tail_pos_block_delta) X(tail_pos_offset_delta) X(tail_pos_index) X(tail_pfor_b)          \
    X(tail_pfor_n_exceptions) X(tail_pfor_packed) X(tail_freq_pfor_b) X(tail_varint_gap)       \
    X(tail_varint_freq) X(small_tail_pfor_b) X(small_tail_pfor_n_exceptions)                   \
    X(pos_pfor_b) X(pos_pfor_n_exceptions) X(pos_pfor_packed) X(pos_exception_width)           \
    X(pos_exception_entry) X(pos_tail_pfor_b) X(pos_tail_pfor_n_exceptions) X(pos_tail_varint) \
    X(termdict_magic) X(termdict_version) X(termdict_flags) X(termdict_value_bytes)            \
    X(termdict_n_terms) X(termdict_n_blocks) X(termdict_index_offset) X(termdict_block_n)       \
    X(termdict_first_shared) X(termdict_first_suffix_len) X(termdict_second_shared)            \
    X(termdict_second_suffix_len) X(termdict_suffix_byte) X(termdict_value_len)                \
    X(termdict_block_offset_first) X(termdict_block_offset_last)                               \
    X(value_df) X(value_cf_minus_df) X(value_postings_offset) X(value_positions_offset)        \
    X(pulsed_df) X(pulsed_cf_minus_df) X(pulsed_gap) X(pulsed_freq) X(pulsed_position)         \
    X(pulsed_position_delta)                                                                   \
    X(norm_magic) X(norm_doc_count) X(norm_n_fields) X(norm_mask) X(norm_byte_first)           \
    X(norm_byte_last)                                                                          \
    X(col_magic) X(col_doc_count) X(col_n_sources) X(col_flags) X(col_flags_byte)              \
    X(col_field_docs_0) X(col_field_docs_1) X(col_field_docs_2) X(col_field_docs_3)            \
    X(col_field_docs_4) X(col_field_zero_0) X(col_field_zero_4) X(col_field_tokens_0)          \
    X(col_field_tokens_1) X(col_field_tokens_2) X(col_field_tokens_3) X(col_field_tokens_4)    \
    X(col_raw_text_bytes) X(col_raw_stored_bytes) X(col_date_first) X(col_date_mid)            \
    X(col_date_last) X(col_simhash_first) X(col_simhash_last) X(col_source_ord_first) X(col_source_ord_last) X(col_id_block_first)      \
    X(col_id_block_second) X(col_id_total) X(col_source_offset_first)                          \
    X(col_source_offset_mid) X(col_source_offset_last) X(col_z) X(col_source_byte)             \
    X(ids_first_shared) X(ids_first_rest) X(ids_second_shared) X(ids_second_rest)              \
    X(ids_byte)                                                                                \
    X(del_magic) X(del_doc_count) X(del_bitmap_first) X(del_bitmap_last)                       \
    X(docs_magic) X(docs_version) X(docs_dict_frame_byte) X(docs_block_frame_byte)             \
    X(docs_dict_entry_offset) X(docs_dict_entry_bytes) X(docs_dict_entry_raw)                  \
    X(docs_dict_entry_hash) X(docs_index_offset_first) X(docs_index_bytes_first)               \
    X(docs_index_first_rec_first) X(docs_index_raw_first) X(docs_index_dict_first)             \
    X(docs_index_offset_last) X(docs_index_first_rec_last) X(docs_index_raw_last)              \
    X(docs_name_len) X(docs_name_byte) X(docs_trailer_magic) X(docs_trailer_version)           \
    X(docs_flags) X(docs_n_docs) X(docs_n_recs) X(docs_n_blocks) X(docs_n_dicts)               \
    X(docs_n_names) X(docs_dicts_offset) X(docs_index_offset) X(docs_map_offset)               \
    X(docs_names_offset) X(docs_raw_bytes) X(record_n_fields) X(record_name_code) X(record_value_len)               \
    X(record_second_name_code) X(record_second_value_len)

#define NXC_ENUM(n) NXC_F_##n,
enum { NXC_FIELDS(NXC_ENUM) NXC_N_FIELDS };
#define NXC_NAME(n) #n,
static const char *const nxc_field_names[NXC_N_FIELDS] = {NXC_FIELDS(NXC_NAME)};

/* Byte offset of skip entry e's field k (0..6) of term `term`'s postings,
 * or SIZE_MAX. */
static inline size_t nxc_skip_field(const nxc_index *x, size_t term, uint32_t e, int k) {
    uint64_t df, cf, a, b;
    size_t aa, ba, l;
    if (term == SIZE_MAX || !nxc_value(x->vals[term], x->val_len[term], &df, &cf, &a, &b, &aa, &ba))
        return SIZE_MAX;
    if (e >= df / NX_BLOCK) return SIZE_MAX;
    const uint8_t *p = x->orig[NXC_POST];
    size_t n = x->orig_len[NXC_POST], at = (size_t)a;
    nxc_varint_at(p, n, at, &l);
    at += l + 1;
    nxc_varint_at(p, n, at, &l);
    at += l;
    for (uint32_t i = 0;; i++)
        for (int f = 0; f < 7; f++) {
            if (i == e && f == k) return at;
            if (f == 4 || f == 6) at++;
            else {
                nxc_varint_at(p, n, at, &l);
                at += l;
            }
        }
}

/* Offsets in .post of term's first doc block, and of its tail (after the
 * tail's position locator when nb > 0). */
static inline size_t nxc_blocks_at(const nxc_index *x, size_t term, size_t *tail) {
    uint64_t df, cf, a, b;
    size_t aa, ba, l;
    if (term == SIZE_MAX || !nxc_value(x->vals[term], x->val_len[term], &df, &cf, &a, &b, &aa, &ba))
        return SIZE_MAX;
    const uint8_t *p = x->orig[NXC_POST];
    size_t n = x->orig_len[NXC_POST], at = (size_t)a;
    uint32_t nb = (uint32_t)(df / NX_BLOCK);
    if (nb == 0) {
        *tail = at;
        return at;
    }
    nxc_varint_at(p, n, at, &l);
    at += l + 1;
    uint64_t skip = nxc_varint_at(p, n, at, &l);
    at += l + (size_t)skip;
    size_t first = at;
    for (uint32_t i = 0; i < nb; i++) at = nxc_pfor_end(p, nxc_pfor_end(p, at, NX_BLOCK), NX_BLOCK);
    *tail = at;
    return first;
}

/* Locates field id; -1 when this segment has no such field (the caller
 * reports it: a test asserts every field is found). */
static inline int nxc_locate(const nxc_index *x, int id, int file_for_footer, nxc_loc *L) {
    memset(L, 0, sizeof *L);
    L->in = NXC_IN_FILE;
    size_t clen[NXC_N_FILES];
    for (int f = 0; f < NXC_N_FILES; f++) clen[f] = x->orig_len[f] - NX_FOOTER_BYTES;
    uint64_t df = 0, cf = 0, a = 0, b = 0;
    size_t aa = 0, ba = 0, l, tail = 0, at;
    const uint8_t *man = x->orig[NXC_MANIFEST];
#define FIX(fl, o, w, pst) do { L->file = (fl); L->off = (o); L->width = (w); L->past = (pst); return 0; } while (0)
#define VAR(fl, o, pst) FIX(fl, o, 0, pst)
#define NEED(c) do { if (!(c)) return -1; } while (0)
    size_t s0 = 24 + 2 + nx_load_u16le(man + 24); /* stopword string */
    size_t segs = s0 + 2 + nx_load_u16le(man + s0);
    uint32_t n = x->doc_count;
    switch (id) {
    case NXC_F_footer_magic: L->in = NXC_IN_FOOTER; FIX(file_for_footer, 0, 4, 0);
    case NXC_F_footer_kind: L->in = NXC_IN_FOOTER; FIX(file_for_footer, 4, 4, 9);
    case NXC_F_footer_version: L->in = NXC_IN_FOOTER; FIX(file_for_footer, 8, 4, 3);
    case NXC_F_footer_reserved: L->in = NXC_IN_FOOTER; FIX(file_for_footer, 12, 4, 1);
    case NXC_F_footer_length: L->in = NXC_IN_FOOTER; FIX(file_for_footer, 16, 8, clen[file_for_footer] + 1);
    case NXC_F_footer_xxh3: L->in = NXC_IN_FOOTER; FIX(file_for_footer, 24, 8, 0);
    case NXC_F_manifest_magic: FIX(NXC_MANIFEST, 0, 4, 0);
    case NXC_F_manifest_version: FIX(NXC_MANIFEST, 4, 4, 2);
    case NXC_F_manifest_generation: FIX(NXC_MANIFEST, 8, 8, nx_load_u64le(man + 8) + 1);
    case NXC_F_manifest_next_segment: FIX(NXC_MANIFEST, 16, 4, x->seg_no);
    case NXC_F_manifest_n_segments: FIX(NXC_MANIFEST, 20, 4, nx_load_u32le(man + 20) + 1);
    case NXC_F_manifest_stem_len: FIX(NXC_MANIFEST, 24, 2, 65);
    case NXC_F_manifest_stem_byte: NEED(nx_load_u16le(man + 24) > 0); FIX(NXC_MANIFEST, 26, 1, 0);
    case NXC_F_manifest_stop_len: FIX(NXC_MANIFEST, s0, 2, 65);
    case NXC_F_manifest_stop_byte: NEED(nx_load_u16le(man + s0) > 0); FIX(NXC_MANIFEST, s0 + 2, 1, 0);
    case NXC_F_manifest_seg_number: FIX(NXC_MANIFEST, segs, 4, x->seg_no + 100);
    case NXC_F_manifest_seg_doc_count: FIX(NXC_MANIFEST, segs + 4, 4, (uint64_t)n + 1);
    case NXC_F_manifest_seg_deleted: FIX(NXC_MANIFEST, segs + 8, 4, (uint64_t)n + 1);
    case NXC_F_manifest_seg_tombstone_gen: FIX(NXC_MANIFEST, segs + 12, 4, nx_load_u32le(man + segs + 12) + 1);
    /* each file's recorded footer checksum (8 bytes from 16 on) */
    case NXC_F_manifest_seg_col_sum: FIX(NXC_MANIFEST, segs + 16 + 8 * NX_SEG_COL, 8, 0);
    case NXC_F_manifest_seg_post_sum: FIX(NXC_MANIFEST, segs + 16 + 8 * NX_SEG_POST, 8, 0);
    case NXC_F_manifest_seg_pos_sum: FIX(NXC_MANIFEST, segs + 16 + 8 * NX_SEG_POS, 8, 0);
    case NXC_F_manifest_seg_dict_sum: FIX(NXC_MANIFEST, segs + 16 + 8 * NX_SEG_DICT, 8, 0);
    case NXC_F_manifest_seg_norm_sum: FIX(NXC_MANIFEST, segs + 16 + 8 * NX_SEG_NORM, 8, 0);
    case NXC_F_manifest_seg_docs_sum: FIX(NXC_MANIFEST, segs + 16 + 8 * NX_SEG_DOCS, 8, 0);
    case NXC_F_manifest_seg_del_sum: FIX(NXC_MANIFEST, segs + 16 + 8 * NX_SEG_DEL, 8, 0);
    case NXC_F_post_term_max_tf:
    case NXC_F_post_term_min_norm:
    case NXC_F_post_skip_bytes:
        NEED(x->t_blocks != SIZE_MAX);
        nxc_value(x->vals[x->t_blocks], x->val_len[x->t_blocks], &df, &cf, &a, &b, &aa, &ba);
        at = (size_t)a;
        if (id == NXC_F_post_term_max_tf) VAR(NXC_POST, at, 0);
        nxc_varint_at(x->orig[NXC_POST], clen[NXC_POST], at, &l);
        if (id == NXC_F_post_term_min_norm) FIX(NXC_POST, at + l, 1, 0);
        VAR(NXC_POST, at + l + 1, clen[NXC_POST]);
    case NXC_F_skip_last_doc_delta: case NXC_F_skip_block_bytes: case NXC_F_skip_pos_block_delta:
    case NXC_F_skip_pos_offset_delta: case NXC_F_skip_pos_index: case NXC_F_skip_max_freq:
    case NXC_F_skip_min_norm: {
        int k = id - NXC_F_skip_last_doc_delta;
        NEED((at = nxc_skip_field(x, x->t_blocks, 0, k)) != SIZE_MAX);
        if (k == 4) FIX(NXC_POST, at, 1, NX_BLOCK);
        if (k == 6) FIX(NXC_POST, at, 1, 0);
        VAR(NXC_POST, at, k == 0 ? n : k == 1 ? clen[NXC_POST] : k == 3 ? clen[NXC_POS] : 0);
    }
    case NXC_F_skip2_last_doc_delta: NEED((at = nxc_skip_field(x, x->t_blocks, 1, 0)) != SIZE_MAX); VAR(NXC_POST, at, n);
    case NXC_F_skip2_block_bytes: NEED((at = nxc_skip_field(x, x->t_blocks, 1, 1)) != SIZE_MAX); VAR(NXC_POST, at, clen[NXC_POST]);
    case NXC_F_skip2_pos_offset_delta: NEED((at = nxc_skip_field(x, x->t_blocks, 1, 3)) != SIZE_MAX); VAR(NXC_POST, at, clen[NXC_POS]);
    case NXC_F_doc_pfor_b: case NXC_F_doc_pfor_n_exceptions: case NXC_F_doc_pfor_packed:
        NEED((at = nxc_blocks_at(x, x->t_blocks, &tail)) != SIZE_MAX);
        FIX(NXC_POST, at + (size_t)(id - NXC_F_doc_pfor_b), 1, id == NXC_F_doc_pfor_b ? 33 : 129);
    case NXC_F_freq_pfor_b: case NXC_F_freq_pfor_n_exceptions:
        NEED((at = nxc_blocks_at(x, x->t_blocks, &tail)) != SIZE_MAX);
        FIX(NXC_POST, nxc_pfor_end(x->orig[NXC_POST], at, NX_BLOCK) + (size_t)(id - NXC_F_freq_pfor_b), 1, 33);
    case NXC_F_pfor_exception_width: case NXC_F_pfor_exception_entry:
        NEED(x->post_exc);
        at = (size_t)x->post_exc + 2 + nx_pack_bytes(x->orig[NXC_POST][x->post_exc]);
        FIX(NXC_POST, at + (id == NXC_F_pfor_exception_entry), 1, 26);
    case NXC_F_tail_pos_block_delta: case NXC_F_tail_pos_offset_delta: case NXC_F_tail_pos_index:
        NEED(nxc_blocks_at(x, x->t_blocks, &tail) != SIZE_MAX);
        at = tail;
        for (int k = NXC_F_tail_pos_block_delta; k < id; k++) {
            nxc_varint_at(x->orig[NXC_POST], clen[NXC_POST], at, &l);
            at += l;
        }
        if (id == NXC_F_tail_pos_index) FIX(NXC_POST, at, 1, NX_BLOCK);
        VAR(NXC_POST, at, id == NXC_F_tail_pos_offset_delta ? clen[NXC_POS] : 0);
    case NXC_F_tail_pfor_b: case NXC_F_tail_pfor_n_exceptions: case NXC_F_tail_pfor_packed:
    case NXC_F_tail_freq_pfor_b:
        NEED(nxc_blocks_at(x, x->t_blocks, &tail) != SIZE_MAX);
        at = tail;
        for (int k = 0; k < 3; k++) {
            nxc_varint_at(x->orig[NXC_POST], clen[NXC_POST], at, &l);
            at += k == 2 ? 1 : l;
        }
        if (id == NXC_F_tail_freq_pfor_b) {
            nxc_value(x->vals[x->t_blocks], x->val_len[x->t_blocks], &df, &cf, &a, &b, &aa, &ba);
            FIX(NXC_POST, nxc_pfor_end(x->orig[NXC_POST], at, (uint32_t)(df % NX_BLOCK)), 1, 33);
        }
        FIX(NXC_POST, at + (size_t)(id - NXC_F_tail_pfor_b), 1, id == NXC_F_tail_pfor_b ? 33 : NX_BLOCK);
    case NXC_F_tail_varint_gap: case NXC_F_tail_varint_freq: {
        NEED(nxc_blocks_at(x, x->t_vtail, &tail) != SIZE_MAX);
        nxc_value(x->vals[x->t_vtail], x->val_len[x->t_vtail], &df, &cf, &a, &b, &aa, &ba);
        at = tail;
        for (int k = 0; k < 3; k++) {
            nxc_varint_at(x->orig[NXC_POST], clen[NXC_POST], at, &l);
            at += k == 2 ? 1 : l;
        }
        if (id == NXC_F_tail_varint_gap) VAR(NXC_POST, at, (uint64_t)n << 1);
        /* the first entry with a freq */
        for (uint32_t i = 0; i < df % NX_BLOCK; i++) {
            uint64_t v = nxc_varint_at(x->orig[NXC_POST], clen[NXC_POST], at, &l);
            at += l;
            if (!(v & 1)) VAR(NXC_POST, at, 0);
        }
        return -1;
    }
    case NXC_F_small_tail_pfor_b: case NXC_F_small_tail_pfor_n_exceptions:
        NEED(nxc_blocks_at(x, x->t_small, &tail) != SIZE_MAX);
        FIX(NXC_POST, tail + (size_t)(id - NXC_F_small_tail_pfor_b), 1, 33);
    case NXC_F_pos_pfor_b: case NXC_F_pos_pfor_n_exceptions: case NXC_F_pos_pfor_packed:
        NEED(x->t_blocks != SIZE_MAX);
        nxc_value(x->vals[x->t_blocks], x->val_len[x->t_blocks], &df, &cf, &a, &b, &aa, &ba);
        FIX(NXC_POS, (size_t)b + (size_t)(id - NXC_F_pos_pfor_b), 1, 33);
    case NXC_F_pos_exception_width: case NXC_F_pos_exception_entry:
        NEED(x->pos_exc);
        at = (size_t)x->pos_exc + 2 + nx_pack_bytes(x->orig[NXC_POS][x->pos_exc]);
        FIX(NXC_POS, at + (id == NXC_F_pos_exception_entry), 1, 26);
    case NXC_F_pos_tail_pfor_b: case NXC_F_pos_tail_pfor_n_exceptions:
        NEED(x->t_ptail != SIZE_MAX);
        nxc_value(x->vals[x->t_ptail], x->val_len[x->t_ptail], &df, &cf, &a, &b, &aa, &ba);
        at = (size_t)b;
        for (uint64_t i = 0; i < cf / NX_BLOCK; i++) at = nxc_pfor_end(x->orig[NXC_POS], at, NX_BLOCK);
        FIX(NXC_POS, at + (size_t)(id - NXC_F_pos_tail_pfor_b), 1, 33);
    case NXC_F_pos_tail_varint:
        NEED(x->t_vpos != SIZE_MAX);
        nxc_value(x->vals[x->t_vpos], x->val_len[x->t_vpos], &df, &cf, &a, &b, &aa, &ba);
        at = (size_t)b;
        for (uint64_t i = 0; i < cf / NX_BLOCK; i++) at = nxc_pfor_end(x->orig[NXC_POS], at, NX_BLOCK);
        VAR(NXC_POS, at, 0);
    case NXC_F_termdict_magic: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 0, 4, 0);
    case NXC_F_termdict_version: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 4, 4, 2);
    case NXC_F_termdict_flags: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 8, 4, 2);
    case NXC_F_termdict_value_bytes: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 12, 4, (1u << 20) + 1);
    case NXC_F_termdict_n_terms: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 16, 8, x->n_terms + 1);
    case NXC_F_termdict_n_blocks: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 24, 8, nx_load_u64le(x->td + 24) + 1);
    case NXC_F_termdict_index_offset: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 32, 8, x->td_len + 1);
    case NXC_F_termdict_block_n: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, 40, 1, 33);
    case NXC_F_termdict_first_shared: L->in = NXC_IN_TERMDICT; VAR(NXC_DICT, 41, 256);
    case NXC_F_termdict_first_suffix_len: case NXC_F_termdict_suffix_byte:
    case NXC_F_termdict_value_len: case NXC_F_termdict_second_shared:
    case NXC_F_termdict_second_suffix_len: {
        L->in = NXC_IN_TERMDICT;
        at = 41;
        nxc_varint_at(x->td, x->td_len, at, &l);
        at += l;
        if (id == NXC_F_termdict_first_suffix_len) VAR(NXC_DICT, at, 256);
        uint64_t suf = nxc_varint_at(x->td, x->td_len, at, &l);
        at += l;
        if (id == NXC_F_termdict_suffix_byte) FIX(NXC_DICT, at, 1, 0);
        at += (size_t)suf;
        if (id == NXC_F_termdict_value_len) VAR(NXC_DICT, at, x->td_len);
        uint64_t vl = nxc_varint_at(x->td, x->td_len, at, &l);
        at += l + (size_t)vl;
        NEED(x->td[40] >= 2);
        if (id == NXC_F_termdict_second_shared) VAR(NXC_DICT, at, 256);
        nxc_varint_at(x->td, x->td_len, at, &l);
        VAR(NXC_DICT, at + l, 256);
    }
    case NXC_F_termdict_block_offset_first: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, (size_t)nx_load_u64le(x->td + 32), 8, x->td_len + 1);
    case NXC_F_termdict_block_offset_last: L->in = NXC_IN_TERMDICT; FIX(NXC_DICT, x->td_len - 8, 8, x->td_len + 1);
    case NXC_F_value_df: case NXC_F_value_cf_minus_df: case NXC_F_value_postings_offset:
    case NXC_F_value_positions_offset:
        NEED(x->t_blocks != SIZE_MAX);
        nxc_value(x->vals[x->t_blocks], x->val_len[x->t_blocks], &df, &cf, &a, &b, &aa, &ba);
        L->in = NXC_IN_VALUE;
        L->term = x->t_blocks;
        L->file = NXC_DICT;
        L->width = 0;
        if (id == NXC_F_value_df) { L->off = 0; L->past = (uint64_t)n + 1; return 0; }
        if (id == NXC_F_value_cf_minus_df) { nxc_varint_at(x->vals[L->term], x->val_len[L->term], 0, &l); L->off = l; return 0; }
        L->off = id == NXC_F_value_postings_offset ? aa : ba;
        L->past = id == NXC_F_value_postings_offset ? clen[NXC_POST] : clen[NXC_POS] + 1;
        return 0;
    case NXC_F_pulsed_df: case NXC_F_pulsed_cf_minus_df: case NXC_F_pulsed_gap: case NXC_F_pulsed_freq:
    case NXC_F_pulsed_position: case NXC_F_pulsed_position_delta: {
        NEED(x->t_pulsed != SIZE_MAX);
        const uint8_t *v = x->vals[x->t_pulsed];
        size_t vn = x->val_len[x->t_pulsed];
        L->in = NXC_IN_VALUE;
        L->term = x->t_pulsed;
        L->file = NXC_DICT;
        df = nxc_varint_at(v, vn, 0, &l);
        at = l;
        if (id == NXC_F_pulsed_df) { L->past = NX_PULSE_MAX_DF + 1; return 0; }
        L->off = at;
        uint64_t extra = nxc_varint_at(v, vn, at, &l);
        at += l;
        if (id == NXC_F_pulsed_cf_minus_df) { L->past = NX_PULSE_MAX_CF; return 0; }
        L->off = at;
        if (id == NXC_F_pulsed_gap) { L->past = (uint64_t)n << 1; return 0; }
        size_t freq_at = SIZE_MAX;
        for (uint64_t i = 0; i < df; i++) {
            uint64_t g = nxc_varint_at(v, vn, at, &l);
            at += l;
            if (!(g & 1)) {
                if (freq_at == SIZE_MAX) freq_at = at;
                nxc_varint_at(v, vn, at, &l);
                at += l;
            }
        }
        if (id == NXC_F_pulsed_freq) { NEED(freq_at != SIZE_MAX); L->off = freq_at; L->past = extra + 1; return 0; }
        L->off = at;
        if (id == NXC_F_pulsed_position) return 0;
        NEED(df + extra >= 2);
        nxc_varint_at(v, vn, at, &l);
        L->off = at + l;
        return 0;
    }
    case NXC_F_norm_magic: FIX(NXC_NORM, 0, 4, 0);
    case NXC_F_norm_doc_count: FIX(NXC_NORM, 4, 4, (uint64_t)n + 1);
    case NXC_F_norm_n_fields: FIX(NXC_NORM, 8, 4, NX_N_FIELDS + 1);
    case NXC_F_norm_mask: FIX(NXC_NORM, 12, 4, 1u << NX_N_FIELDS);
    case NXC_F_norm_byte_first: FIX(NXC_NORM, 16, 1, 240);
    case NXC_F_norm_byte_last: FIX(NXC_NORM, clen[NXC_NORM] - 1, 1, 240);
    case NXC_F_col_magic: FIX(NXC_COL, 0, 4, 0);
    case NXC_F_col_doc_count: FIX(NXC_COL, 4, 4, (uint64_t)n + 1);
    case NXC_F_col_n_sources: FIX(NXC_COL, 8, 4, (uint64_t)x->n_sources + 1);
    case NXC_F_col_flags: FIX(NXC_COL, 12, 4, 0x100);
    case NXC_F_col_flags_byte: FIX(NXC_COL, 12, 1, 0x43); /* extra widths: see nxc_values */
    case NXC_F_col_field_docs_0: case NXC_F_col_field_docs_1: case NXC_F_col_field_docs_2:
    case NXC_F_col_field_docs_3: case NXC_F_col_field_docs_4:
        FIX(NXC_COL, 16 + 16 * (size_t)(id - NXC_F_col_field_docs_0), 4, (uint64_t)n + 1);
    case NXC_F_col_field_zero_0: FIX(NXC_COL, 20, 4, 1);
    case NXC_F_col_field_zero_4: FIX(NXC_COL, 20 + 64, 4, 1);
    case NXC_F_col_field_tokens_0: case NXC_F_col_field_tokens_1: case NXC_F_col_field_tokens_2:
    case NXC_F_col_field_tokens_3: case NXC_F_col_field_tokens_4:
        FIX(NXC_COL, 24 + 16 * (size_t)(id - NXC_F_col_field_tokens_0), 8, 0);
    case NXC_F_col_raw_text_bytes: FIX(NXC_COL, 96, 8, 0);
    case NXC_F_col_raw_stored_bytes: FIX(NXC_COL, 104, 8, 0);
    case NXC_F_col_simhash_first: NEED(x->col_simhash); FIX(NXC_COL, x->col_simhash, 8, 0);
    case NXC_F_col_simhash_last: NEED(x->col_simhash); FIX(NXC_COL, x->col_simhash + 8 * (size_t)(n - 1), 8, 0);
    case NXC_F_col_date_first: NEED(nxc_dated(x)); FIX(NXC_COL, 112, 8, 0);
    case NXC_F_col_date_mid: NEED(nxc_dated(x)); FIX(NXC_COL, 112 + 8 * (size_t)(n / 2), 8, 0);
    case NXC_F_col_date_last: NEED(nxc_dated(x)); FIX(NXC_COL, 112 + 8 * (size_t)(n - 1), 8, 0);
    case NXC_F_col_source_ord_first: NEED(x->src_width); FIX(NXC_COL, x->col_ords, (int)x->src_width, x->n_sources + 1);
    case NXC_F_col_source_ord_last: NEED(x->src_width); FIX(NXC_COL, x->col_ords + x->src_width * (size_t)(n - 1), (int)x->src_width, x->n_sources + 1);
    case NXC_F_col_id_block_first: FIX(NXC_COL, x->col_idblocks, 4, x->ids_len + 1);
    case NXC_F_col_id_block_second: NEED(x->n_id_blocks >= 2); FIX(NXC_COL, x->col_idblocks + 4, 4, x->ids_len + 1);
    case NXC_F_col_id_total: FIX(NXC_COL, x->col_idblocks + 4 * x->n_id_blocks, 4, x->ids_len + 1);
    case NXC_F_col_source_offset_first: FIX(NXC_COL, x->col_srcoffs, 4, 1);
    case NXC_F_col_source_offset_mid: NEED(x->n_sources >= 2); FIX(NXC_COL, x->col_srcoffs + 4 * (size_t)(x->n_sources / 2), 4, 0);
    case NXC_F_col_source_offset_last: FIX(NXC_COL, x->col_srcoffs + 4 * (size_t)x->n_sources, 4, 0);
    case NXC_F_col_z: FIX(NXC_COL, x->col_z, 4, clen[NXC_COL]);
    case NXC_F_col_source_byte: NEED(x->n_sources); FIX(NXC_COL, clen[NXC_COL] - 1, 1, 0);
    case NXC_F_ids_first_shared: L->in = NXC_IN_IDS; VAR(NXC_COL, 0, 1);
    case NXC_F_ids_first_rest: case NXC_F_ids_second_shared: case NXC_F_ids_second_rest:
    case NXC_F_ids_byte: {
        L->in = NXC_IN_IDS;
        nxc_varint_at(x->ids, x->ids_len, 0, &l);
        at = l;
        if (id == NXC_F_ids_first_rest) VAR(NXC_COL, at, x->ids_len);
        uint64_t rest = nxc_varint_at(x->ids, x->ids_len, at, &l);
        at += l;
        if (id == NXC_F_ids_byte) FIX(NXC_COL, at, 1, 0);
        at += (size_t)rest;
        if (id == NXC_F_ids_second_shared) VAR(NXC_COL, at, rest + 1);
        nxc_varint_at(x->ids, x->ids_len, at, &l);
        VAR(NXC_COL, at + l, x->ids_len);
    }
    case NXC_F_del_magic: FIX(NXC_DEL, 0, 4, 0);
    case NXC_F_del_doc_count: FIX(NXC_DEL, 4, 4, (uint64_t)n + 1);
    case NXC_F_del_bitmap_first: FIX(NXC_DEL, 8, 1, 0);
    case NXC_F_del_bitmap_last: FIX(NXC_DEL, clen[NXC_DEL] - 1, 1, 0);
    default: break;
    }
    /* the doc store */
    const uint8_t *ds = x->orig[NXC_DOCS];
    size_t tpos = clen[NXC_DOCS] - 72;
    const uint8_t *t = ds + tpos;
    size_t dicts = (size_t)nx_load_u64le(t + 32), index = (size_t)nx_load_u64le(t + 40);
    size_t names = (size_t)nx_load_u64le(t + 56);
    uint32_t nblk = nx_load_u32le(t + 20), ndict = nx_load_u32le(t + 24);
    size_t last = index + 24 * (size_t)(nblk - 1);
    switch (id) {
    case NXC_F_docs_magic: FIX(NXC_DOCS, 0, 4, 0);
    case NXC_F_docs_version: FIX(NXC_DOCS, 4, 4, 3);
    case NXC_F_docs_dict_frame_byte: NEED(ndict); FIX(NXC_DOCS, (size_t)nx_load_u64le(ds + dicts) + 6, 1, 0);
    case NXC_F_docs_block_frame_byte: FIX(NXC_DOCS, (size_t)nx_load_u64le(ds + index) + 6, 1, 0);
    case NXC_F_docs_dict_entry_offset: NEED(ndict); FIX(NXC_DOCS, dicts, 8, dicts + 1);
    case NXC_F_docs_dict_entry_bytes: NEED(ndict); FIX(NXC_DOCS, dicts + 8, 4, dicts + 1);
    case NXC_F_docs_dict_entry_raw: NEED(ndict); FIX(NXC_DOCS, dicts + 12, 4, (1u << 22) + 1);
    case NXC_F_docs_dict_entry_hash: NEED(ndict); FIX(NXC_DOCS, dicts + 16, 8, 0);
    case NXC_F_docs_index_offset_first: FIX(NXC_DOCS, index, 8, dicts + 1);
    case NXC_F_docs_index_bytes_first: FIX(NXC_DOCS, index + 8, 4, dicts + 1);
    case NXC_F_docs_index_first_rec_first: FIX(NXC_DOCS, index + 12, 4, (uint64_t)n + 1);
    case NXC_F_docs_index_raw_first: FIX(NXC_DOCS, index + 16, 4, (1u << 26) + 1);
    case NXC_F_docs_index_dict_first: FIX(NXC_DOCS, index + 20, 4, (uint64_t)ndict + 1);
    case NXC_F_docs_index_offset_last: FIX(NXC_DOCS, last, 8, dicts + 1);
    case NXC_F_docs_index_first_rec_last: FIX(NXC_DOCS, last + 12, 4, (uint64_t)n + 1);
    case NXC_F_docs_index_raw_last: FIX(NXC_DOCS, last + 16, 4, (1u << 26) + 1);
    case NXC_F_docs_name_len: NEED(nx_load_u32le(t + 28)); VAR(NXC_DOCS, names, 257);
    case NXC_F_docs_name_byte: NEED(nx_load_u32le(t + 28)); FIX(NXC_DOCS, names + 1, 1, 0);
    case NXC_F_docs_trailer_magic: FIX(NXC_DOCS, tpos, 4, 0);
    case NXC_F_docs_trailer_version: FIX(NXC_DOCS, tpos + 4, 4, 3);
    case NXC_F_docs_flags: FIX(NXC_DOCS, tpos + 8, 4, 2);
    case NXC_F_docs_n_docs: FIX(NXC_DOCS, tpos + 12, 4, (uint64_t)n + 1);
    case NXC_F_docs_n_recs: FIX(NXC_DOCS, tpos + 16, 4, (uint64_t)n + 1);
    case NXC_F_docs_n_blocks: FIX(NXC_DOCS, tpos + 20, 4, (uint64_t)nblk + 1);
    case NXC_F_docs_n_dicts: FIX(NXC_DOCS, tpos + 24, 4, 5);
    case NXC_F_docs_n_names: FIX(NXC_DOCS, tpos + 28, 4, 4097);
    case NXC_F_docs_dicts_offset: FIX(NXC_DOCS, tpos + 32, 8, tpos + 1);
    case NXC_F_docs_index_offset: FIX(NXC_DOCS, tpos + 40, 8, tpos + 1);
    case NXC_F_docs_map_offset: FIX(NXC_DOCS, tpos + 48, 8, tpos + 1);
    case NXC_F_docs_names_offset: FIX(NXC_DOCS, tpos + 56, 8, tpos + 1);
    case NXC_F_docs_raw_bytes: FIX(NXC_DOCS, tpos + 64, 8, 0);
    case NXC_F_record_n_fields: L->in = NXC_IN_DSBLOCK; VAR(NXC_DOCS, 0, x->ds_block_len);
    case NXC_F_record_name_code: case NXC_F_record_value_len: case NXC_F_record_second_name_code:
    case NXC_F_record_second_value_len: {
        /* name code 0 makes the value length read as an inline name's
         * length: the inline-name form is reached through it */
        L->in = NXC_IN_DSBLOCK;
        nxc_varint_at(x->ds_block, x->ds_block_len, 0, &l);
        at = l;
        if (id == NXC_F_record_name_code) VAR(NXC_DOCS, at, (uint64_t)nx_load_u32le(t + 28) + 1);
        nxc_varint_at(x->ds_block, x->ds_block_len, at, &l);
        at += l;
        if (id == NXC_F_record_value_len) VAR(NXC_DOCS, at, x->ds_block_len);
        uint64_t vl = nxc_varint_at(x->ds_block, x->ds_block_len, at, &l);
        at += l + (size_t)vl;
        if (id == NXC_F_record_second_name_code) VAR(NXC_DOCS, at, (uint64_t)nx_load_u32le(t + 28) + 1);
        nxc_varint_at(x->ds_block, x->ds_block_len, at, &l);
        VAR(NXC_DOCS, at + l, x->ds_block_len);
    }
    default: return -1;
    }
#undef FIX
#undef VAR
#undef NEED
}

/* The values a field is set to: the extremes its width allows, one past
 * its table, and a few per-field ones. Returns how many (at most 16). */
static inline size_t nxc_values(int id, const nxc_loc *L, uint64_t *v) {
    uint64_t max = L->width == 0 || L->width == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * L->width)) - 1;
    const uint64_t all[] = {0, 1, max - 1, max, (uint64_t)1 << 31, (uint64_t)1 << 32, (uint64_t)1 << 63,
                            UINT64_MAX, L->past, UINT64_MAX - ((uint64_t)1 << 46) + 1};
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i] > max) continue;
        bool dup = false;
        for (size_t j = 0; j < n; j++) dup |= v[j] == all[i];
        if (!dup) v[n++] = all[i];
    }
    if (id == NXC_F_col_flags_byte) {
        /* widths 0, 1, 2, 4 and the invalid 3 and 15, with and without dates,
         * near-duplicate hashes and store */
        static const uint8_t w[] = {0x00, 0x03, 0x13, 0x23, 0x33, 0x43, 0xf3, 0x10, 0x40,
                                    0x07, 0x14, 0x17, 0x04};
        n = 0;
        for (size_t i = 0; i < sizeof w; i++) v[n++] = w[i];
    }
    return n;
}

/* ---- writing ------------------------------------------------------------- */

/* Writes content + a footer (the original's, with length and XXH3
 * recomputed) to file f; for a segment file, the manifest's record of its
 * checksum follows (nx_sums.h). */
static inline int nxc_write(nxc_index *x, int f, const uint8_t *content, size_t n) {
    uint8_t *b = malloc(n + NX_FOOTER_BYTES);
    if (!b) return -1;
    memcpy(b, content, n);
    memcpy(b + n, x->orig[f] + x->orig_len[f] - NX_FOOTER_BYTES, NX_FOOTER_BYTES);
    nx_store_u64le(b + n + 16, n);
    uint64_t sum = nx_hash64(b, n);
    nx_store_u64le(b + n + 24, sum);
    int rc = nxf_write(x->path[f], b, n + NX_FOOTER_BYTES);
    free(b);
    x->dirty |= 1u << f;
    if (rc == 0 && f != NXC_MANIFEST) {
        /* a manifest edited before may name no such segment any more, or
         * not parse: then the file goes unrecorded, as it would be */
        int r = nxs_record(x->dir, strrchr(x->path[f], '/') + 1, sum);
        if (r && !x->manifest_edited) rc = r;
        x->dirty |= 1u << NXC_MANIFEST;
    }
    return rc;
}

/* Writes the original files back. */
static inline int nxc_restore(nxc_index *x) {
    for (int f = 0; f < NXC_N_FILES; f++)
        if (x->dirty & (1u << f) && nxf_write(x->path[f], x->orig[f], x->orig_len[f])) return -1;
    x->dirty = 0;
    x->manifest_edited = false;
    return 0;
}

/* Sets the field at b->data + off to v; a varint is re-encoded and what
 * follows moves by the returned delta. */
static inline long nxc_set(nx_buf *b, size_t off, int width, uint64_t v) {
    if (width) {
        for (int i = 0; i < width; i++) b->data[off + i] = (uint8_t)(v >> (8 * i));
        return 0;
    }
    size_t old;
    nxc_varint_at(b->data, b->len, off, &old);
    uint8_t enc[10];
    size_t len = nx_varint_encode(enc, v);
    if (nx_buf_reserve(b, len)) abort();
    memmove(b->data + off + len, b->data + off + old, b->len - off - old);
    memcpy(b->data + off, enc, len);
    b->len = b->len - old + len;
    return (long)len - (long)old;
}

static inline void nxc_buf_of(nx_buf *b, const uint8_t *p, size_t n) {
    memset(b, 0, sizeof *b);
    if (nx_buf_append(b, p, n)) abort();
}

static inline void nxc_zstd(nx_buf *out, const uint8_t *p, size_t n, const void *dict, size_t dict_len,
                            bool checksum) {
    size_t cap = ZSTD_compressBound(n);
    if (nx_buf_reserve(out, cap)) abort();
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, checksum);
    if (dict) ZSTD_CCtx_loadDictionary(cc, dict, dict_len);
    size_t r = ZSTD_compress2(cc, out->data + out->len, cap, p, n);
    ZSTD_freeCCtx(cc);
    if (ZSTD_isError(r)) abort();
    out->len += r;
}

/* Writes the dictionary file from term dictionary bytes (the file is
 * those bytes as they are). */
static inline int nxc_write_dict(nxc_index *x, const uint8_t *td, size_t n) {
    return nxc_write(x, NXC_DICT, td, n);
}

/* Rebuilds the dictionary with value `repl` (if not SIZE_MAX) replaced,
 * and the postings (file NXC_POST) or positions (NXC_POS) offsets past
 * `at` moved by delta. */
static inline int nxc_rebuild_dict(nxc_index *x, size_t repl, const uint8_t *rv, size_t rl, int file,
                                   size_t at, long delta) {
    nx_termdict_builder *b;
    if (nx_termdict_builder_create_var(&b)) abort();
    nx_buf v = {0};
    for (size_t k = 0; k < x->n_terms; k++) {
        v.len = 0;
        if (k == repl) nx_buf_append(&v, rv, rl);
        else nx_buf_append(&v, x->vals[k], x->val_len[k]);
        uint64_t df, cf, a, bo;
        size_t aa, ba;
        if (delta && k != repl && nxc_value(x->vals[k], x->val_len[k], &df, &cf, &a, &bo, &aa, &ba)) {
            uint64_t o = file == NXC_POST ? a : bo;
            if (o > at) nxc_set(&v, file == NXC_POST ? aa : ba, 0, o + (uint64_t)delta);
        }
        if (nx_termdict_add_var(b, x->keys[k], x->key_len[k], v.data, v.len)) abort();
    }
    nx_buf td = {0};
    if (nx_termdict_finish(b, &td)) abort();
    nx_termdict_builder_free(b);
    int rc = nxc_write_dict(x, td.data, td.len);
    nx_buf_free(&td);
    nx_buf_free(&v);
    return rc;
}

/* Applies field L = value to the segment's files on disk. */
static inline int nxc_apply(nxc_index *x, const nxc_loc *L, uint64_t value) {
    nx_buf b;
    int rc = 0;
    if (L->file == NXC_MANIFEST) x->manifest_edited = true;
    size_t clen = x->orig_len[L->file] - NX_FOOTER_BYTES;
    switch (L->in) {
    case NXC_IN_FOOTER:
        nxc_buf_of(&b, x->orig[L->file], x->orig_len[L->file]);
        nxc_set(&b, clen + L->off, L->width, value);
        rc = nxf_write(x->path[L->file], b.data, b.len);
        x->dirty |= 1u << L->file;
        break;
    case NXC_IN_FILE: {
        nxc_buf_of(&b, x->orig[L->file], clen);
        long d = nxc_set(&b, L->off, L->width, value);
        rc = nxc_write(x, L->file, b.data, b.len);
        if (rc == 0 && d && (L->file == NXC_POST || L->file == NXC_POS))
            rc = nxc_rebuild_dict(x, SIZE_MAX, NULL, 0, L->file, L->off, d);
        break;
    }
    case NXC_IN_TERMDICT: {
        nxc_buf_of(&b, x->td, x->td_len);
        long d = nxc_set(&b, L->off, L->width, value);
        if (d) {
            /* the block index moves, and so do the blocks after the edit */
            uint64_t io = nx_load_u64le(b.data + 32), nb = nx_load_u64le(b.data + 24);
            if (L->off < io) nx_store_u64le(b.data + 32, io + (uint64_t)d);
            io = nx_load_u64le(b.data + 32);
            for (uint64_t i = 0; i < nb && io + 8 * i + 8 <= b.len; i++) {
                uint64_t o = nx_load_u64le(b.data + io + 8 * i);
                if (o > L->off) nx_store_u64le(b.data + io + 8 * i, o + (uint64_t)d);
            }
        }
        rc = nxc_write_dict(x, b.data, b.len);
        break;
    }
    case NXC_IN_VALUE:
        nxc_buf_of(&b, x->vals[L->term], x->val_len[L->term]);
        nxc_set(&b, L->off, L->width, value);
        rc = nxc_rebuild_dict(x, L->term, b.data, b.len, NXC_POST, 0, 0);
        break;
    case NXC_IN_IDS: {
        nxc_buf_of(&b, x->ids, x->ids_len);
        long d = nxc_set(&b, L->off, L->width, value);
        const uint8_t *c = x->orig[NXC_COL];
        nx_buf col;
        nxc_buf_of(&col, c, x->col_z);
        for (size_t k = 0; k <= x->n_id_blocks; k++) {
            uint32_t o = nx_load_u32le(col.data + x->col_idblocks + 4 * k);
            if (o > L->off) nx_store_u32le(col.data + x->col_idblocks + 4 * k, (uint32_t)(o + d));
        }
        nx_buf_put_u32le(&col, (uint32_t)b.len);
        nx_buf_append(&col, b.data, b.len);
        size_t after = x->col_z + 4 + nx_load_u32le(c + x->col_z);
        nx_buf_append(&col, c + after, clen - after);
        rc = nxc_write(x, NXC_COL, col.data, col.len);
        nx_buf_free(&col);
        break;
    }
    case NXC_IN_DSBLOCK: {
        nxc_buf_of(&b, x->ds_block, x->ds_block_len);
        nxc_set(&b, L->off, L->width, value);
        const uint8_t *s = x->orig[NXC_DOCS];
        size_t tpos = clen - 72;
        uint64_t dicts = nx_load_u64le(s + tpos + 32), index = nx_load_u64le(s + tpos + 40);
        uint32_t nblk = nx_load_u32le(s + tpos + 20), ndict = nx_load_u32le(s + tpos + 24);
        uint64_t off0 = nx_load_u64le(s + index), off1 = off0 + nx_load_u32le(s + index + 8);
        nx_buf out;
        nxc_buf_of(&out, s, (size_t)off0);
        nxc_zstd(&out, b.data, b.len, x->ds_dict, x->ds_dict_len, false);
        long d = (long)(out.len - off0) - (long)(off1 - off0);
        nx_buf_append(&out, s + off1, (size_t)(clen - off1));
        /* every span after block 0 moves by d, and so do the tables */
        size_t dpos = (size_t)dicts + (size_t)d, ipos = (size_t)index + (size_t)d;
        for (uint32_t k = 0; k < ndict; k++)
            if (nx_load_u64le(out.data + dpos + 24 * k) > off0)
                nx_store_u64le(out.data + dpos + 24 * k, nx_load_u64le(out.data + dpos + 24 * k) + (uint64_t)d);
        for (uint32_t k = 1; k < nblk; k++)
            if (nx_load_u64le(out.data + ipos + 24 * k) > off0)
                nx_store_u64le(out.data + ipos + 24 * k, nx_load_u64le(out.data + ipos + 24 * k) + (uint64_t)d);
        nx_store_u32le(out.data + ipos + 8, (uint32_t)(off1 - off0 + (uint64_t)d));
        nx_store_u32le(out.data + ipos + 16, (uint32_t)b.len);
        size_t t = out.len - 72;
        for (int k = 0; k < 4; k++)
            nx_store_u64le(out.data + t + 32 + 8 * k, nx_load_u64le(out.data + t + 32 + 8 * k) + (uint64_t)d);
        rc = nxc_write(x, NXC_DOCS, out.data, out.len);
        nx_buf_free(&out);
        break;
    }
    default: abort();
    }
    nx_buf_free(&b);
    return rc;
}

#endif
