/* index/segwrite — writes one immutable segment: postings (.post),
 * positions (.pos), term dictionary (.dict), norms (.norm), columns (.col)
 * and the doc store (.docs). Used by the RAM-buffer flush and by merges.
 * Every byte is described in docs/FORMAT.md ("Segment files"); the readers
 * are segment.c and check.c: keep the three in step. */
#include "index/index_internal.h"
#include "index/pfor.h"
#include "index/spill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *nx_segment_file(const char *dir, uint32_t seg_no, const char *ext) {
    char name[64];
    snprintf(name, sizeof name, "seg_%u.%s", seg_no, ext);
    return nx_path_join(dir, name);
}

char *nx_tombstone_file(const char *dir, uint32_t seg_no, uint32_t gen) {
    char name[64];
    snprintf(name, sizeof name, "seg_%u.del_%u", seg_no, gen);
    return nx_path_join(dir, name);
}

/* Field names are NUL-terminated for the public newsidx_field, so the parse
 * copies each name into scratch behind the array. */
int nx_fields_parse(const uint8_t *rec, size_t len, nx_buf *scratch,
                    const newsidx_field **fields, size_t *n) {
    const uint8_t *p = rec, *end = rec + len;
    uint64_t count;
    if (nx_varint_decode(&p, end, &count) || count > len) return NEWSIDX_ERR_CORRUPT;
    /* Names go into a second region after the array: size it first. */
    size_t names = 0;
    const uint8_t *q = p;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t nl, vl;
        if (nx_varint_decode(&q, end, &nl) || nl > (uint64_t)(end - q)) return NEWSIDX_ERR_CORRUPT;
        q += nl;
        names += nl + 1;
        if (nx_varint_decode(&q, end, &vl) || vl > (uint64_t)(end - q)) return NEWSIDX_ERR_CORRUPT;
        q += vl;
    }
    scratch->len = 0;
    size_t arr = count * sizeof(newsidx_field);
    if (nx_buf_reserve(scratch, arr + names)) return NEWSIDX_ERR_NOMEM;
    newsidx_field *f = (newsidx_field *)scratch->data;
    char *nm = (char *)scratch->data + arr;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t nl, vl;
        nx_varint_decode(&p, end, &nl);
        memcpy(nm, p, nl);
        nm[nl] = 0;
        f[i].name = nm;
        nm += nl + 1;
        p += nl;
        nx_varint_decode(&p, end, &vl);
        f[i].value = (const char *)p;
        f[i].value_len = vl;
        p += vl;
    }
    scratch->len = arr + names;
    *fields = f;
    *n = count;
    return 0;
}

/* ---- builder ------------------------------------------------------------ */

typedef struct src_slot {
    uint64_t hash;
    uint32_t ord; /* 0 = empty */
} src_slot;

/* The walk over a term's doc blocks: each skip entry (and the tail) locates
 * the first position of its block: the positions block holding it, that
 * block's byte offset in the term's positions stream and the index inside
 * it, each as a delta from the block before. */
typedef struct block_walk {
    uint32_t prev_last;      /* last doc of the block before */
    uint32_t prev_pblock;    /* positions block of the block before */
    uint64_t prev_poff;      /* its byte offset */
    uint64_t first_pos;      /* positions of the blocks before (the block's first) */
    uint64_t pblock, poff;   /* the positions block of first_pos and its byte offset */
} block_walk;

struct nx_segbuild {
    char *dir;
    uint32_t seg_no, n_docs, next_doc;
    nx_segbuild_opts o;
    nx_err *err;
    nx_wfile *post, *pos, *docs_f, *dict_f;
    nx_docstore_writer *docstore;
    bool docstore_merged; /* filled by a merge, not by nx_segbuild_doc */
    nx_termdict_builder *dict;
    uint8_t *norms; /* NX_N_FIELDS * n_docs */
    uint64_t field_tokens[NX_N_FIELDS];
    uint64_t raw_text_bytes, raw_id_bytes;
    /* columns */
    nx_spill dates;      /* i64 LE per doc */
    nx_spill ids;        /* per doc: u32 LE length, the id */
    nx_spill src_ords;   /* u32 LE per doc */
    nx_spill simhashes;  /* u64 LE per doc up to the last one given a hash */
    nx_buf src_offs, src_bytes;
    bool any_date;
    src_slot *src_table;
    uint32_t src_mask, n_sources;
    /* the term being written (nx_segbuild_term_begin .. _end): its doc
     * blocks and skip entries are kept coded until its end (the skip table
     * precedes the blocks in .post), its positions go to .pos a block at a
     * time: what a term costs is ~2 bytes a doc, not 12 a position (the
     * most frequent term of a merge of 1M articles has ~15M positions) */
    nx_buf term_post, term_skip, term_pos;
    nx_buf pos_sizes;          /* u32 size of each positions block from pos_sizes_base */
    uint64_t pos_sizes_base;
    int t_field;
    size_t t_len;
    uint32_t t_n, t_pending, t_n_deltas, t_blocks, t_max_tf;
    uint8_t t_min_norm;
    uint64_t t_cf, t_pos_start;
    block_walk t_walk;
    uint32_t t_docs[NX_BLOCK], t_freqs[NX_BLOCK]; /* docs not in a block yet */
    uint32_t t_deltas[NX_BLOCK];                  /* positions not in a block yet */
    uint32_t *deltas; /* one doc's position deltas (nx_segbuild_term; grow-only) */
    size_t delta_cap;
    uint8_t key[1 + 256];
};

static void segbuild_free(nx_segbuild *b) {
    nx_docstore_writer_free(b->docstore);
    nx_termdict_builder_free(b->dict);
    free(b->norms);
    nx_buf *bufs[] = {&b->src_offs,  &b->src_bytes, &b->term_post,
                      &b->term_skip, &b->term_pos,  &b->pos_sizes};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) nx_buf_free(bufs[i]);
    nx_spill *spills[] = {&b->dates, &b->ids, &b->src_ords, &b->simhashes};
    for (size_t i = 0; i < sizeof spills / sizeof spills[0]; i++) nx_spill_free(spills[i]);
    free(b->src_table);
    free(b->deltas);
    free(b->dir);
    free(b);
}

void nx_segbuild_abort(nx_segbuild *b) {
    if (!b) return;
    nx_wfile_abort(b->post);
    nx_wfile_abort(b->pos);
    nx_wfile_abort(b->docs_f);
    nx_wfile_abort(b->dict_f);
    /* A failed finish has already finished (and handed off) some files:
     * the streams before the dictionary, norms or columns failed. Every
     * file of the segment goes, finished or not. */
    nx_segment_remove_files(b->dir, b->seg_no);
    segbuild_free(b);
}

void nx_segment_remove_files(const char *dir, uint32_t seg_no) {
    const char *exts[] = {"post", "pos", "docs", "dict", "norm", "col"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char *p = nx_segment_file(dir, seg_no, exts[i]);
        if (p) unlink(p);
        free(p);
    }
}

static int create_file(nx_segbuild *b, const char *ext, uint32_t kind, nx_wfile **out) {
    char *path = nx_segment_file(b->dir, b->seg_no, ext);
    if (!path) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    int rc = nx_wfile_create(path, kind, b->err, out);
    free(path);
    if (rc == 0) nx_wfile_set_sync(*out, !b->o.no_sync);
    return rc;
}

/* The dictionary streams to its file (nx_termdict_builder_set_sink): held
 * whole, a merge's grew with the vocabulary and was copied once more to be
 * written, which --ram did not bound. */
static int dict_sink(void *ctx, const void *bytes, size_t n) {
    return nx_wfile_write(ctx, bytes, n);
}

int nx_segbuild_create(const char *dir, uint32_t seg_no, uint32_t n_docs,
                       const nx_segbuild_opts *o, nx_err *err, nx_segbuild **out) {
    *out = NULL;
    NX_RETURN_IF(n_docs > NX_MAX_SEGMENT_DOCS, err, NEWSIDX_ERR_LIMIT,
                 "segment of %u documents exceeds the limit of %u", n_docs, NX_MAX_SEGMENT_DOCS);
    nx_segbuild *b = calloc(1, sizeof *b);
    if (!b) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    b->dir = strdup(dir);
    b->seg_no = seg_no;
    b->n_docs = n_docs;
    b->o = *o;
    b->err = err;
    b->norms = calloc((size_t)NX_N_FIELDS * n_docs + 1, 1);
    b->dates.fd = b->ids.fd = b->src_ords.fd = b->simhashes.fd = -1;
    b->src_mask = 63;
    b->src_table = calloc(b->src_mask + 1, sizeof(src_slot));
    if (!b->dir || !b->norms || !b->src_table || nx_buf_put_u32le(&b->src_offs, 0)) {
        segbuild_free(b);
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    int rc = create_file(b, "post", NX_FILE_POSTINGS, &b->post);
    if (rc == 0) rc = create_file(b, "pos", NX_FILE_POSITIONS, &b->pos);
    if (rc == 0 && o->store_fields) {
        rc = create_file(b, "docs", NX_FILE_DOCSTORE, &b->docs_f);
        if (rc == 0)
        {
            nx_docstore_options dso;
            nx_docstore_options_init(&dso);
            dso.level = o->doc_store_level;
            if (o->doc_store_block_bytes) dso.block_bytes = o->doc_store_block_bytes;
            dso.shared = o->doc_dict;
            dso.expect_docs = n_docs;
            rc = nx_docstore_writer_create_opts(b->docs_f, &dso, err, &b->docstore);
        }
    }
    if (rc == 0 && nx_termdict_builder_create_var(&b->dict))
        rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc == 0) rc = create_file(b, "dict", NX_FILE_DICT, &b->dict_f);
    if (rc == 0) rc = nx_termdict_builder_set_sink(b->dict, dict_sink, b->dict_f);
    if (rc != 0) {
        nx_segbuild_abort(b);
        return rc;
    }
    *out = b;
    return 0;
}

size_t nx_segbuild_held_bytes(const nx_segbuild *b) {
    const nx_buf *bufs[] = {&b->term_post,     &b->term_skip,    &b->term_pos,
                            &b->pos_sizes,     &b->src_offs,     &b->src_bytes,
                            &b->dates.buf,     &b->ids.buf,      &b->src_ords.buf,
                            &b->simhashes.buf};
    size_t held = b->delta_cap * sizeof *b->deltas + nx_termdict_builder_held_bytes(b->dict) +
                  (b->src_mask + 1) * sizeof(src_slot);
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) held += bufs[i]->cap;
    return held;
}

uint8_t *nx_segbuild_norms(nx_segbuild *b, int field) {
    return b->norms + (size_t)field * b->n_docs;
}

static int source_ord(nx_segbuild *b, const char *s, size_t len, uint32_t *ord) {
    *ord = 0;
    if (len == 0) return 0;
    uint64_t h = nx_hash64(s, len);
    for (uint32_t i = (uint32_t)h & b->src_mask;; i = (i + 1) & b->src_mask) {
        src_slot *sl = &b->src_table[i];
        if (sl->ord == 0) break;
        if (sl->hash != h) continue;
        uint32_t a = nx_load_u32le(b->src_offs.data + 4 * (sl->ord - 1));
        uint32_t e = nx_load_u32le(b->src_offs.data + 4 * sl->ord);
        if (e - a == len && memcmp(b->src_bytes.data + a, s, len) == 0) {
            *ord = sl->ord;
            return 0;
        }
    }
    if ((b->n_sources + 1) * 2 > b->src_mask) {
        uint32_t nmask = b->src_mask * 2 + 1;
        src_slot *nt = calloc(nmask + 1, sizeof *nt);
        if (!nt) return NEWSIDX_ERR_NOMEM;
        for (uint32_t i = 0; i <= b->src_mask; i++) {
            if (!b->src_table[i].ord) continue;
            uint32_t j = (uint32_t)b->src_table[i].hash & nmask;
            while (nt[j].ord) j = (j + 1) & nmask;
            nt[j] = b->src_table[i];
        }
        free(b->src_table);
        b->src_table = nt;
        b->src_mask = nmask;
    }
    uint32_t i = (uint32_t)h & b->src_mask;
    while (b->src_table[i].ord) i = (i + 1) & b->src_mask;
    NX_FORWARD(nx_buf_append(&b->src_bytes, s, len));
    NX_FORWARD(nx_buf_put_u32le(&b->src_offs, (uint32_t)b->src_bytes.len));
    b->n_sources++;
    b->src_table[i].hash = h;
    b->src_table[i].ord = b->n_sources;
    *ord = b->n_sources;
    return 0;
}

int nx_segbuild_doc(nx_segbuild *b, int64_t date, const char *id, size_t id_len,
                    const char *source, size_t source_len, uint32_t text_bytes,
                    const newsidx_field *fields, size_t n_fields) {
    NX_RETURN_IF(b->next_doc >= b->n_docs, b->err, NEWSIDX_ERR_INVALID,
                 "more documents than announced (%u)", b->n_docs);
    b->next_doc++;
    NX_RETURN_IF(id_len > UINT32_MAX || b->raw_id_bytes + id_len > UINT32_MAX, b->err,
                 NEWSIDX_ERR_LIMIT, "ids of one segment exceed 4 GiB");
    uint8_t d8[8], l4[4], o4[4];
    nx_store_u64le(d8, (uint64_t)date);
    nx_store_u32le(l4, (uint32_t)id_len);
    b->any_date |= date != NX_NO_DATE;
    uint32_t ord;
    if (source_ord(b, source, source_len, &ord))
        return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    nx_store_u32le(o4, ord);
    NX_FORWARD(nx_spill_append(b->dir, b->err, &b->dates, d8, 8));
    NX_FORWARD(nx_spill_append(b->dir, b->err, &b->ids, l4, 4));
    NX_FORWARD(nx_spill_append(b->dir, b->err, &b->ids, id, id_len));
    NX_FORWARD(nx_spill_append(b->dir, b->err, &b->src_ords, o4, 4));
    b->raw_text_bytes += text_bytes;
    b->raw_id_bytes += id_len;
    if (b->docstore && !b->docstore_merged)
        NX_FORWARD(nx_docstore_add(b->docstore, fields, n_fields));
    return 0;
}

bool nx_segbuild_store_waits(const nx_segbuild *b) {
    return b->docstore && !b->docstore_merged && nx_docstore_waits_for_dict(b->docstore);
}

nx_docstore_writer *nx_segbuild_merge_docstore(nx_segbuild *b) {
    b->docstore_merged = true;
    return b->docstore;
}

int nx_segbuild_simhash(nx_segbuild *b, uint64_t simhash) {
    if (b->next_doc == 0 || simhash == 0) return 0;
    /* docs before this one without a hash read 0 (none) */
    uint64_t at = ((uint64_t)b->next_doc - 1) * 8;
    NX_RETURN_IF(nx_spill_len(&b->simhashes) > at, b->err, NEWSIDX_ERR_INVALID,
                 "a second near-duplicate hash for doc %u", b->next_doc - 1);
    static const uint8_t zero[8];
    while (nx_spill_len(&b->simhashes) < at)
        NX_FORWARD(nx_spill_append(b->dir, b->err, &b->simhashes, zero, 8));
    uint8_t h8[8];
    nx_store_u64le(h8, simhash);
    return nx_spill_append(b->dir, b->err, &b->simhashes, h8, 8);
}

/* Adds the finished term to the dictionary (its key is in b->key). */
static int dict_add(nx_segbuild *b, size_t len, const uint8_t *val, size_t vl) {
    int rc = nx_termdict_add_var(b->dict, b->key, len + 1, val, vl);
    if (rc == NEWSIDX_ERR_NOMEM) return nx_err_set(b->err, rc, "out of memory");
    if (rc == NEWSIDX_ERR_IO) return rc; /* the file's message is in b->err */
    if (rc) return nx_err_set(b->err, rc, "term dictionary rejected a term (order?)");
    return 0;
}

/* Pulsing: a rare term's postings (varint(gap << 1 | freq == 1),
 * varint(freq - 1) when freq != 1) then its positions (per doc the first,
 * then deltas: as given in deltas) live in its dictionary value, with no
 * bytes in .post/.pos. */
static int put_pulsed(nx_segbuild *b, size_t len, uint32_t n, uint64_t cf, const uint32_t *docs,
                      const uint32_t *freqs, const uint32_t *deltas) {
    uint8_t val[32 + 20 * NX_PULSE_MAX_DF + 5 * NX_PULSE_MAX_CF];
    size_t vl = 0;
    vl += nx_varint_encode(val + vl, n);
    vl += nx_varint_encode(val + vl, cf - n);
    uint32_t next = 0;
    for (uint32_t i = 0; i < n; i++) {
        vl += nx_varint_encode(val + vl, (uint64_t)(docs[i] - next) << 1 | (freqs[i] == 1));
        if (freqs[i] != 1) vl += nx_varint_encode(val + vl, freqs[i] - 1);
        next = docs[i] + 1;
    }
    for (uint64_t k = 0; k < cf; k++) vl += nx_varint_encode(val + vl, deltas[k]);
    return dict_add(b, len, val, vl);
}

/* Moves the walk to the positions block of w->first_pos. The sizes of the
 * positions blocks written since the walk's block are in b->pos_sizes
 * (u32 each, the first for block b->pos_sizes_base). */
static void walk_positions(nx_segbuild *b, block_walk *w) {
    uint64_t want = w->first_pos / NX_BLOCK;
    for (; w->pblock < want; w->pblock++)
        w->poff += nx_load_u32le(b->pos_sizes.data + 4 * (w->pblock - b->pos_sizes_base));
    /* what the walk has passed is not needed again */
    size_t drop = (size_t)(w->pblock - b->pos_sizes_base);
    if (drop >= 1024) {
        memmove(b->pos_sizes.data, b->pos_sizes.data + 4 * drop, b->pos_sizes.len - 4 * drop);
        b->pos_sizes.len -= 4 * drop;
        b->pos_sizes_base += drop;
    }
}

/* A full block: PFOR(doc gaps), PFOR(freq - 1), and its skip entry with
 * the positions locator and the block-max data (max_tf, min_norm). */
static int put_full_block(nx_segbuild *b, const uint32_t *d, const uint32_t *f, bool first,
                          const block_walk *w, uint32_t max_tf, uint8_t min_norm) {
    nx_buf *post = &b->term_post, *skip = &b->term_skip;
    uint32_t gaps[NX_BLOCK], freqs[NX_BLOCK];
    nx_delta_encode(d, NX_BLOCK, first ? UINT32_MAX : w->prev_last, gaps);
    for (uint32_t i = 0; i < NX_BLOCK; i++) freqs[i] = f[i] - 1;
    size_t before = post->len;
    if (nx_pfor_encode(post, gaps) || nx_pfor_encode(post, freqs)) return NEWSIDX_ERR_NOMEM;
    int rc = nx_buf_put_varint(skip, d[NX_BLOCK - 1] - (first ? 0 : w->prev_last));
    if (!rc) rc = nx_buf_put_varint(skip, post->len - before);
    if (!rc) rc = nx_buf_put_varint(skip, w->pblock - w->prev_pblock);
    if (!rc) rc = nx_buf_put_varint(skip, w->poff - w->prev_poff);
    if (!rc) rc = nx_buf_putc(skip, (uint8_t)(w->first_pos % NX_BLOCK));
    if (!rc) rc = nx_buf_put_varint(skip, max_tf);
    if (!rc) rc = nx_buf_putc(skip, min_norm);
    return rc;
}

/* The tail of cnt < NX_BLOCK docs: where its positions start (when full
 * blocks precede it), then its entries, packed or as varints. It has no
 * block-max data: the reader recomputes it. */
static int put_tail_block(nx_segbuild *b, const uint32_t *d, const uint32_t *f, uint32_t cnt,
                          bool first, const block_walk *w) {
    nx_buf *post = &b->term_post;
    int rc = 0;
    if (!first) {
        rc = nx_buf_put_varint(post, w->pblock - w->prev_pblock);
        if (!rc) rc = nx_buf_put_varint(post, w->poff - w->prev_poff);
        if (!rc) rc = nx_buf_putc(post, (uint8_t)(w->first_pos % NX_BLOCK));
    }
    uint32_t next = first ? 0 : w->prev_last + 1;
    if (cnt >= NX_TAIL_PACK_MIN) {
        uint32_t gaps[NX_BLOCK], freqs[NX_BLOCK];
        for (uint32_t i = 0; i < cnt; i++) {
            gaps[i] = d[i] - next;
            freqs[i] = f[i] - 1;
            next = d[i] + 1;
        }
        if (!rc) rc = nx_pfor_encode_tail(post, gaps, cnt);
        if (!rc) rc = nx_pfor_encode_tail(post, freqs, cnt);
        return rc;
    }
    for (uint32_t i = 0; i < cnt && !rc; i++) {
        uint64_t gap = (uint64_t)(d[i] - next);
        rc = nx_buf_put_varint(post, gap << 1 | (f[i] == 1));
        if (!rc && f[i] != 1) rc = nx_buf_put_varint(post, f[i] - 1);
        next = d[i] + 1;
    }
    return rc;
}

/* A full positions block of the term: PFOR-coded straight into .pos; its
 * size is kept for the walk. */
static int put_positions_block(nx_segbuild *b) {
    nx_buf *pos = &b->term_pos;
    pos->len = 0;
    if (nx_pfor_encode(pos, b->t_deltas) || nx_buf_put_u32le(&b->pos_sizes, (uint32_t)pos->len))
        return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    b->t_n_deltas = 0;
    return nx_wfile_write(b->pos, pos->data, pos->len);
}

/* The pending docs as the term's next doc block: full (NX_BLOCK docs) or
 * its tail. */
static int put_doc_block(nx_segbuild *b) {
    uint32_t cnt = b->t_pending;
    const uint32_t *d = b->t_docs, *f = b->t_freqs;
    const uint8_t *norms = b->norms + (size_t)b->t_field * b->n_docs;
    uint32_t max_tf = 0;
    uint8_t min_norm = 255;
    uint64_t n_pos = 0;
    for (uint32_t i = 0; i < cnt; i++) {
        if (f[i] > max_tf) max_tf = f[i];
        if (norms[d[i]] < min_norm) min_norm = norms[d[i]];
        n_pos += f[i];
    }
    if (max_tf > b->t_max_tf) b->t_max_tf = max_tf;
    if (min_norm < b->t_min_norm) b->t_min_norm = min_norm;
    block_walk *w = &b->t_walk;
    walk_positions(b, w);
    bool first = b->t_blocks == 0;
    int rc = cnt == NX_BLOCK ? put_full_block(b, d, f, first, w, max_tf, min_norm)
                             : put_tail_block(b, d, f, cnt, first, w);
    if (rc) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    w->prev_last = d[cnt - 1];
    w->prev_pblock = (uint32_t)w->pblock;
    w->prev_poff = w->poff;
    w->first_pos += n_pos;
    b->t_blocks++;
    b->t_pending = 0;
    return 0;
}

int nx_segbuild_term_begin(nx_segbuild *b, int field, const uint8_t *term, size_t len) {
    NX_RETURN_IF(len > 255, b->err, NEWSIDX_ERR_LIMIT, "term of %zu bytes", len);
    b->term_post.len = b->term_skip.len = 0;
    b->pos_sizes.len = 0;
    b->pos_sizes_base = 0;
    b->t_walk = (block_walk){0};
    b->t_field = field;
    b->t_len = len;
    b->t_n = 0;
    b->t_cf = 0;
    b->t_pending = b->t_n_deltas = b->t_blocks = 0;
    b->t_max_tf = 0;
    b->t_min_norm = 255;
    b->t_pos_start = nx_wfile_offset(b->pos);
    b->key[0] = (uint8_t)field;
    memcpy(b->key + 1, term, len);
    return 0;
}

int nx_segbuild_term_doc(nx_segbuild *b, uint32_t doc, uint32_t freq, const uint32_t *deltas) {
    if (b->t_pending == NX_BLOCK) NX_FORWARD(put_doc_block(b));
    b->t_docs[b->t_pending] = doc;
    b->t_freqs[b->t_pending] = freq;
    b->t_pending++;
    b->t_n++;
    b->t_cf += freq;
    for (uint32_t j = 0; j < freq;) {
        uint32_t k = NX_MIN(freq - j, NX_BLOCK - b->t_n_deltas);
        memcpy(b->t_deltas + b->t_n_deltas, deltas + j, sizeof(uint32_t) * k);
        b->t_n_deltas += k;
        j += k;
        if (b->t_n_deltas == NX_BLOCK) NX_FORWARD(put_positions_block(b));
    }
    return 0;
}

int nx_segbuild_term_end(nx_segbuild *b) {
    uint32_t n = b->t_n;
    uint64_t cf = b->t_cf;
    if (n == 0) return 0;
    b->field_tokens[b->t_field] += cf;
    /* Nothing reached .pos yet: cf < NX_BLOCK, and the docs are pending. */
    if (n <= NX_PULSE_MAX_DF && cf <= NX_PULSE_MAX_CF)
        return put_pulsed(b, b->t_len, n, cf, b->t_docs, b->t_freqs, b->t_deltas);
    /* the positions' tail, packed or as varints */
    nx_buf *pos = &b->term_pos;
    pos->len = 0;
    int rc = 0;
    if (b->t_n_deltas >= NX_TAIL_PACK_MIN) {
        rc = nx_pfor_encode_tail(pos, b->t_deltas, b->t_n_deltas);
    } else {
        for (uint32_t i = 0; i < b->t_n_deltas && rc == 0; i++)
            rc = nx_buf_put_varint(pos, b->t_deltas[i]);
    }
    if (rc) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    NX_FORWARD(nx_wfile_write(b->pos, pos->data, pos->len));
    if (b->t_pending) NX_FORWARD(put_doc_block(b));
    /* Dictionary value: df, cf - df, postings and positions offsets. The
     * postings start with the term-level block-max data and the skip table
     * when there are full blocks. */
    uint8_t hdr[32], val[40];
    size_t h = 0, vl = 0;
    if (n >= NX_BLOCK) {
        h += nx_varint_encode(hdr + h, b->t_max_tf);
        hdr[h++] = b->t_min_norm;
        h += nx_varint_encode(hdr + h, b->term_skip.len);
    }
    vl += nx_varint_encode(val + vl, n);
    vl += nx_varint_encode(val + vl, cf - n);
    vl += nx_varint_encode(val + vl, nx_wfile_offset(b->post));
    vl += nx_varint_encode(val + vl, b->t_pos_start);
    NX_FORWARD(dict_add(b, b->t_len, val, vl));
    NX_FORWARD(nx_wfile_write(b->post, hdr, h));
    NX_FORWARD(nx_wfile_write(b->post, b->term_skip.data, b->term_skip.len));
    return nx_wfile_write(b->post, b->term_post.data, b->term_post.len);
}

int nx_segbuild_term(nx_segbuild *b, int field, const uint8_t *term, size_t len, uint32_t n,
                     const uint32_t *docs, const uint32_t *freqs, const uint32_t *positions) {
    if (n == 0) return 0;
    NX_FORWARD(nx_segbuild_term_begin(b, field, term, len));
    const uint32_t *pp = positions;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f = freqs[i];
        if (f > b->delta_cap) {
            size_t c = NX_MAX((size_t)f, b->delta_cap * 2);
            uint32_t *nd = realloc(b->deltas, c * sizeof *nd);
            if (!nd) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
            b->deltas = nd;
            b->delta_cap = c;
        }
        uint32_t prev = 0;
        for (uint32_t j = 0; j < f; j++) {
            b->deltas[j] = pp[j] - prev;
            prev = pp[j];
        }
        pp += f;
        NX_FORWARD(nx_segbuild_term_doc(b, docs[i], f, b->deltas));
    }
    return nx_segbuild_term_end(b);
}

/* Grows *a to hold cap values. */
static int grow_u32(uint32_t **a, size_t cap) {
    uint32_t *n = realloc(*a, cap * sizeof *n);
    if (!n) return NEWSIDX_ERR_NOMEM;
    *a = n;
    return 0;
}

int nx_term_entries_reserve(nx_term_entries *t, size_t n, size_t n_pos) {
    if (n > t->cap) {
        size_t c = NX_MAX(n, t->cap * 2);
        NX_FORWARD(grow_u32(&t->docs, c));
        NX_FORWARD(grow_u32(&t->freqs, c));
        NX_FORWARD(grow_u32(&t->starts, c));
        NX_FORWARD(grow_u32(&t->sorted_docs, c));
        NX_FORWARD(grow_u32(&t->sorted_freqs, c));
        NX_FORWARD(grow_u32(&t->pairs, 4 * c)); /* two arrays of c u64 keys */
        t->cap = c;
    }
    if (n_pos > t->pos_cap) {
        size_t c = NX_MAX(n_pos, t->pos_cap * 2);
        NX_FORWARD(grow_u32(&t->pos, c));
        NX_FORWARD(grow_u32(&t->sorted_pos, c));
        t->pos_cap = c;
    }
    return 0;
}

void nx_term_entries_free(nx_term_entries *t) {
    uint32_t *arrays[] = {t->docs,  t->freqs,       t->starts,       t->pos,
                          t->pairs, t->sorted_docs, t->sorted_freqs, t->sorted_pos};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    memset(t, 0, sizeof *t);
}

static int cmp_key(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts n distinct keys (doc << 32 | entry). The flush sorts the entries
 * of most terms (a term's docs follow the input, not the date order), and
 * qsort's merge sort with a compare call per step was ~2% of a small
 * stored build: insertion sort for the short runs nearly all terms have,
 * quicksort (median of three) above, qsort past a depth a bad split
 * sequence would reach. */
static void sort_keys(uint64_t *k, size_t n, unsigned depth) {
    while (n > 24) {
        if (depth-- == 0) {
            qsort(k, n, sizeof *k, cmp_key);
            return;
        }
        uint64_t a = k[0], b = k[n / 2], c = k[n - 1];
        uint64_t pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
        size_t i = 0, j = n - 1;
        for (;;) { /* Hoare: distinct keys, the pivot among them */
            while (k[i] < pivot) i++;
            while (k[j] > pivot) j--;
            if (i >= j) break;
            uint64_t t = k[i];
            k[i++] = k[j];
            k[j--] = t;
        }
        /* [0, j] <= pivot <= (j, n): recurse into the smaller side */
        size_t left = j + 1;
        if (left < n - left) {
            sort_keys(k, left, depth);
            k += left;
            n -= left;
        } else {
            sort_keys(k + left, n - left, depth);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t x = k[i];
        size_t j = i;
        for (; j > 0 && k[j - 1] > x; j--) k[j] = k[j - 1];
        k[j] = x;
    }
}

/* Sorts n keys by their doc (high 32 bits, at most max_doc): an LSD radix
 * sort by bytes of the doc, between k and tmp; returns the sorted array.
 * For the long lists of frequent terms, where a comparison sort's
 * log n passes showed (100k generated articles, whose dates are in no
 * order: sort_keys 5% of the run). */
static uint64_t *radix_sort_keys(uint64_t *k, uint64_t *tmp, size_t n, uint32_t max_doc) {
    for (unsigned shift = 32; shift < 64 && (max_doc >> (shift - 32)) != 0; shift += 8) {
        uint32_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++) cnt[(k[i] >> shift) & 0xff]++;
        if (cnt[(k[0] >> shift) & 0xff] == n) continue; /* one bucket */
        uint32_t sum = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[cnt[(k[i] >> shift) & 0xff]++] = k[i];
        uint64_t *x = k;
        k = tmp;
        tmp = x;
    }
    return k;
}

/* Below this many entries sort_keys is the faster. */
#define RADIX_MIN_ENTRIES 256

int nx_segbuild_entries(nx_segbuild *b, int field, const uint8_t *term, size_t len,
                        nx_term_entries *t) {
    if (t->sorted)
        return nx_segbuild_term(b, field, term, len, (uint32_t)t->n, t->docs, t->freqs, t->pos);
    /* A date order reordered the docs: sort (doc, entry) keys and gather
     * freqs and positions behind them. */
    uint64_t *keys = (uint64_t *)(void *)t->pairs; /* 4 * cap u32, from malloc */
    uint32_t max_doc = 0;
    for (size_t i = 0; i < t->n; i++) {
        keys[i] = (uint64_t)t->docs[i] << 32 | i;
        max_doc = t->docs[i] > max_doc ? t->docs[i] : max_doc;
    }
    if (t->n < RADIX_MIN_ENTRIES) sort_keys(keys, t->n, 2 * 64);
    else keys = radix_sort_keys(keys, keys + t->cap, t->n, max_doc);
    size_t q = 0;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t e = (uint32_t)keys[i];
        t->sorted_docs[i] = (uint32_t)(keys[i] >> 32);
        uint32_t f = t->freqs[e];
        t->sorted_freqs[i] = f;
        /* most entries hold a position or two: a loop, not a memcpy call */
        const uint32_t *src = t->pos + t->starts[e];
        for (uint32_t j = 0; j < f; j++) t->sorted_pos[q + j] = src[j];
        q += f;
    }
    return nx_segbuild_term(b, field, term, len, (uint32_t)t->n, t->sorted_docs, t->sorted_freqs,
                            t->sorted_pos);
}

static int write_buf_file(nx_segbuild *b, const char *ext, uint32_t kind, const nx_buf *parts,
                          size_t n_parts) {
    nx_wfile *f;
    NX_FORWARD(create_file(b, ext, kind, &f));
    for (size_t i = 0; i < n_parts; i++) {
        int rc = nx_wfile_write(f, parts[i].data, parts[i].len);
        if (rc) {
            nx_wfile_abort(f);
            return rc;
        }
    }
    return nx_wfile_finish(f);
}

/* The dictionary file is the serialized dictionary itself (FORMAT.md,
 * "Term dictionary file"), uncompressed so that a reader maps it and
 * decodes only the blocks a query touches: zstd took 15% off it (6.3 MB of
 * the 1M index's 1,040 MB) and cost every open an inflate of the whole.
 * Its blocks are in the file already; the header, whose counts are known
 * only now, goes over the zeros that held its place. */
static int write_dict(nx_segbuild *b) {
    uint8_t header[NX_TERMDICT_HEADER_BYTES];
    int rc = nx_termdict_finish_sink(b->dict, header);
    if (rc == NEWSIDX_ERR_NOMEM) return nx_err_set(b->err, rc, "out of memory");
    if (rc == 0) rc = nx_wfile_patch(b->dict_f, 0, header, sizeof header);
    if (rc) return rc; /* nx_segbuild_abort removes the file */
    rc = nx_wfile_finish(b->dict_f);
    b->dict_f = NULL;
    return rc;
}

/* The norms file: a header, then n_docs bytes per field that some doc
 * has (the mask's bits say which). */
static int write_norms(nx_segbuild *b) {
    uint32_t n = b->n_docs, mask = 0;
    nx_buf parts[1 + NX_N_FIELDS];
    size_t np = 1;
    uint8_t hdr[16];
    for (int f = 0; f < NX_N_FIELDS; f++) {
        const uint8_t *nm = b->norms + (size_t)f * n;
        bool any = false;
        for (uint32_t i = 0; i < n && !any; i++) any = nm[i] != 0;
        if (!any) continue;
        mask |= 1u << f;
        parts[np].data = (uint8_t *)nm;
        parts[np].len = n;
        np++;
    }
    nx_store_u32le(hdr, NX_NORM_MAGIC);
    nx_store_u32le(hdr + 4, n);
    nx_store_u32le(hdr + 8, NX_N_FIELDS);
    nx_store_u32le(hdr + 12, mask);
    parts[0].data = hdr;
    parts[0].len = 16;
    return write_buf_file(b, "norm", NX_FILE_NORMS, parts, np);
}

/* The column file's header: counts, flags, per-field doc and token counts,
 * raw byte totals. */
static int put_column_header(const nx_segbuild *b, uint32_t src_width, uint64_t raw_stored,
                             nx_buf *c) {
    uint32_t n = b->n_docs;
    NX_FORWARD(nx_buf_reserve(c, 112));
    nx_buf_put_u32le(c, NX_COL_MAGIC);
    nx_buf_put_u32le(c, n);
    nx_buf_put_u32le(c, b->n_sources);
    nx_buf_put_u32le(c, (b->docstore ? 1u : 0u) | (b->any_date ? 2u : 0u) |
                            (nx_spill_len(&b->simhashes) ? 4u : 0u) | src_width << 4);
    for (int f = 0; f < NX_N_FIELDS; f++) {
        uint32_t fd = 0;
        const uint8_t *nm = b->norms + (size_t)f * n;
        for (uint32_t i = 0; i < n; i++) fd += nm[i] != 0;
        nx_buf_put_u32le(c, fd);
        nx_buf_put_u32le(c, 0);
        nx_buf_put_u64le(c, b->field_tokens[f]);
    }
    nx_buf_put_u64le(c, b->raw_text_bytes);
    nx_buf_put_u64le(c, raw_stored);
    return 0;
}

/* Zero bytes up to the next multiple of 8 of the file's offset. */
static int pad8(nx_wfile *f) {
    static const uint8_t zero[8];
    uint64_t r = nx_wfile_offset(f) % 8;
    return r ? nx_wfile_write(f, zero, 8 - r) : 0;
}

/* Front-codes the ids in blocks of NX_ID_BLOCK: per id varint(bytes shared
 * with the previous id of the block), varint(rest), rest. With bytes false
 * it only counts: the block table (one u32 offset per block, then the
 * total) goes to f and *total gets the bytes; with bytes, the coded ids go
 * to f. Two passes over the spilled ids, so that neither the table nor
 * the coded ids are held. */
static int front_code_ids(nx_segbuild *b, nx_wfile *f, bool bytes, uint64_t *total) {
    uint32_t n = b->n_docs;
    uint8_t chunk[4096];
    size_t k = 0;
    uint64_t at = 0;
    nx_buf prev = {0}, cur = {0};
    nx_spill_reader r = {.s = &b->ids};
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        uint8_t l4[4];
        rc = nx_spill_read(b->dir, b->err, &r, l4, 4);
        uint32_t len = nx_load_u32le(l4), shared = 0;
        cur.len = 0;
        if (rc == 0 && nx_buf_reserve(&cur, (size_t)len + 1))
            rc = nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
        if (rc == 0) rc = nx_spill_read(b->dir, b->err, &r, cur.data, len);
        if (rc) break;
        cur.len = len;
        const uint8_t *id = cur.data;
        if (i % NX_ID_BLOCK) {
            while (shared < len && shared < prev.len && prev.data[shared] == id[shared]) shared++;
        } else if (!bytes) {
            if (at > UINT32_MAX) rc = NEWSIDX_ERR_LIMIT;
            nx_store_u32le(chunk + k, (uint32_t)at);
            k += 4;
        }
        uint8_t head[20];
        size_t h = nx_varint_encode(head, shared);
        h += nx_varint_encode(head + h, len - shared);
        at += h + (len - shared);
        if (bytes) {
            if (k + h + (len - shared) > sizeof chunk) {
                rc = nx_wfile_write(f, chunk, k);
                k = 0;
            }
            if (rc == 0 && h + (len - shared) > sizeof chunk) {
                rc = nx_wfile_write(f, head, h);
                if (rc == 0) rc = nx_wfile_write(f, id + shared, len - shared);
            } else {
                memcpy(chunk + k, head, h);
                memcpy(chunk + k + h, id + shared, len - shared);
                k += h + (len - shared);
            }
        } else if (k + 4 > sizeof chunk) {
            rc = nx_wfile_write(f, chunk, k);
            k = 0;
        }
        nx_buf t = prev;
        prev = cur;
        cur = t;
    }
    if (rc == 0 && !bytes) {
        if (at > UINT32_MAX) rc = NEWSIDX_ERR_LIMIT;
        nx_store_u32le(chunk + k, (uint32_t)at);
        k += 4;
    }
    if (rc == 0) rc = nx_wfile_write(f, chunk, k);
    nx_buf_free(&prev);
    nx_buf_free(&cur);
    nx_spill_reader_free(&r);
    *total = at;
    return rc;
}

/* The source ordinals, width bytes each, a chunk at a time. */
static int put_source_ords(nx_segbuild *b, uint32_t width, nx_wfile *f) {
    uint8_t chunk[4096];
    size_t k = 0;
    int rc = 0;
    nx_spill_reader r = {.s = &b->src_ords};
    for (uint32_t i = 0; i < b->n_docs && rc == 0; i++) {
        uint8_t o4[4];
        rc = nx_spill_read(b->dir, b->err, &r, o4, 4);
        if (rc) break;
        uint32_t ord = nx_load_u32le(o4);
        if (width == 4) {
            nx_store_u32le(chunk + k, ord);
        } else {
            chunk[k] = (uint8_t)ord;
            if (width == 2) chunk[k + 1] = (uint8_t)(ord >> 8);
        }
        k += width;
        if (k + 4 > sizeof chunk) {
            rc = nx_wfile_write(f, chunk, k);
            k = 0;
        }
    }
    nx_spill_reader_free(&r);
    return rc ? rc : nx_wfile_write(f, chunk, k);
}

/* The column file (FORMAT.md, "Columns"): header, dates, near-duplicate
 * hashes, source ordinals, id block offsets, source offsets, the
 * front-coded ids, source names. Written as it is made: built whole in
 * memory first, it doubled what a merge of many docs held at its end
 * (~30 bytes a doc on top of the columns themselves). */
static int write_columns(nx_segbuild *b, uint64_t raw_stored) {
    uint32_t n = b->n_docs;
    uint32_t width = b->n_sources == 0 ? 0 : b->n_sources <= 255 ? 1 : b->n_sources <= 65535 ? 2 : 4;
    nx_buf c = {0};
    nx_wfile *f = NULL;
    if (put_column_header(b, width, raw_stored, &c)) {
        nx_buf_free(&c);
        return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    int rc = create_file(b, "col", NX_FILE_COLUMNS, &f);
    if (rc == 0) rc = nx_wfile_write(f, c.data, c.len);
    nx_buf_free(&c);
    if (rc == 0 && b->any_date) rc = nx_spill_copy(b->dir, b->err, &b->dates, f);
    /* near-duplicate hashes only when some doc has one: a segment without
     * any keeps the bytes it had before the column existed */
    if (rc == 0 && nx_spill_len(&b->simhashes)) {
        static const uint8_t zero[8];
        rc = nx_spill_copy(b->dir, b->err, &b->simhashes, f);
        for (uint64_t k = nx_spill_len(&b->simhashes); k < (uint64_t)n * 8 && rc == 0; k += 8)
            rc = nx_wfile_write(f, zero, 8);
    }
    if (rc == 0 && width) rc = put_source_ords(b, width, f);
    if (rc == 0) rc = pad8(f);
    uint64_t ids_bytes = 0;
    if (rc == 0) rc = front_code_ids(b, f, false, &ids_bytes);
    if (rc == 0) rc = pad8(f);
    if (rc == 0) rc = nx_wfile_write(f, b->src_offs.data, b->src_offs.len);
    if (rc == 0) rc = pad8(f);
    /* a reader expands one block of NX_ID_BLOCK ids where they are mapped
     * when a hit's id is asked for, instead of inflating all at open */
    uint8_t len4[4];
    nx_store_u32le(len4, (uint32_t)ids_bytes);
    if (rc == 0) rc = nx_wfile_write(f, len4, 4);
    if (rc == 0) rc = front_code_ids(b, f, true, &ids_bytes);
    if (rc == 0) rc = nx_wfile_write(f, b->src_bytes.data, b->src_bytes.len);
    if (rc == NEWSIDX_ERR_LIMIT) rc = nx_err_set(b->err, rc, "front-coded ids of one segment exceed 4 GiB");
    if (rc) {
        nx_wfile_abort(f);
        return rc;
    }
    return nx_wfile_finish(f);
}

/* Finishes the files written while terms and docs were added: the doc
 * store, postings and positions. *raw_stored gets the stored bytes before
 * compression. */
static int finish_streams(nx_segbuild *b, uint64_t *raw_stored) {
    *raw_stored = b->raw_id_bytes;
    if (b->docstore) {
        NX_FORWARD(nx_docstore_writer_finish(b->docstore));
        *raw_stored = nx_docstore_raw_bytes(b->docstore);
        int rc = nx_wfile_finish(b->docs_f);
        b->docs_f = NULL;
        if (rc) return rc;
    }
    int rc = nx_wfile_finish(b->post);
    b->post = NULL;
    if (rc) return rc;
    rc = nx_wfile_finish(b->pos);
    b->pos = NULL;
    return rc;
}

int nx_segbuild_finish(nx_segbuild *b) {
    int rc = 0;
    uint64_t raw_stored = 0;
    if (b->next_doc != b->n_docs)
        rc = nx_err_set(b->err, NEWSIDX_ERR_INVALID, "segment got %u of %u documents", b->next_doc,
                        b->n_docs);
    if (rc == 0) rc = finish_streams(b, &raw_stored);
    if (rc == 0) rc = write_dict(b);
    if (rc == 0) rc = write_norms(b);
    if (rc == 0) rc = write_columns(b, raw_stored);
    if (rc) {
        nx_segbuild_abort(b);
        return rc;
    }
    segbuild_free(b);
    return 0;
}
