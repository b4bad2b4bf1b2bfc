/* index/segwrite — writes one immutable segment: postings (.post),
 * positions (.pos), term dictionary (.dict), norms (.norm), columns (.col)
 * and the doc store (.docs). Used by the RAM-buffer flush and by merges.
 * Every byte is described in docs/FORMAT.md ("Segment files"); the readers
 * are segment.c and check.c: keep the three in step. */
#include "index/index_internal.h"
#include "index/pfor.h"

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

struct nx_segbuild {
    char *dir;
    uint32_t seg_no, n_docs, next_doc;
    nx_segbuild_opts o;
    nx_err *err;
    nx_wfile *post, *pos, *docs_f;
    nx_docstore_writer *docstore;
    bool docstore_merged; /* filled by a merge, not by nx_segbuild_doc */
    nx_termdict_builder *dict;
    uint8_t *norms; /* NX_N_FIELDS * n_docs */
    uint64_t field_tokens[NX_N_FIELDS];
    uint64_t raw_text_bytes, raw_id_bytes;
    /* columns */
    nx_buf dates, id_offs, id_bytes, src_ords, src_offs, src_bytes;
    nx_buf simhashes; /* u64 LE per doc up to the last one given a hash */
    bool any_date;
    src_slot *src_table;
    uint32_t src_mask, n_sources;
    /* per-term scratch */
    nx_buf term_post, term_skip, term_pos;
    uint32_t *deltas; /* a term's position deltas (grow-only) */
    size_t delta_cap;
    uint8_t key[1 + 256];
};

static void segbuild_free(nx_segbuild *b) {
    nx_docstore_writer_free(b->docstore);
    nx_termdict_builder_free(b->dict);
    free(b->norms);
    nx_buf *bufs[] = {&b->dates, &b->simhashes, &b->id_offs, &b->id_bytes, &b->src_ords,
                      &b->src_offs, &b->src_bytes, &b->term_post, &b->term_skip, &b->term_pos};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) nx_buf_free(bufs[i]);
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
    b->src_mask = 63;
    b->src_table = calloc(b->src_mask + 1, sizeof(src_slot));
    if (!b->dir || !b->norms || !b->src_table ||
        nx_buf_reserve(&b->dates, (size_t)n_docs * 8) ||
        nx_buf_reserve(&b->id_offs, ((size_t)n_docs + 1) * 4) ||
        nx_buf_put_u32le(&b->src_offs, 0) || nx_buf_put_u32le(&b->id_offs, 0)) {
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
            rc = nx_docstore_writer_create_opts(b->docs_f, &dso, err, &b->docstore);
        }
    }
    if (rc == 0 && nx_termdict_builder_create_var(&b->dict))
        rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        nx_segbuild_abort(b);
        return rc;
    }
    *out = b;
    return 0;
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
    uint8_t d8[8];
    nx_store_u64le(d8, (uint64_t)date);
    uint32_t ord;
    int rc = nx_buf_append(&b->dates, d8, 8);
    b->any_date |= date != NX_NO_DATE;
    if (rc == 0) rc = nx_buf_append(&b->id_bytes, id, id_len);
    NX_RETURN_IF(b->id_bytes.len > UINT32_MAX, b->err, NEWSIDX_ERR_LIMIT,
                 "ids of one segment exceed 4 GiB");
    if (rc == 0) rc = nx_buf_put_u32le(&b->id_offs, (uint32_t)b->id_bytes.len);
    if (rc == 0) rc = source_ord(b, source, source_len, &ord);
    if (rc == 0) rc = nx_buf_put_u32le(&b->src_ords, ord);
    if (rc != 0) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    b->raw_text_bytes += text_bytes;
    b->raw_id_bytes += id_len;
    if (b->docstore && !b->docstore_merged)
        NX_FORWARD(nx_docstore_add(b->docstore, fields, n_fields));
    return 0;
}

nx_docstore_writer *nx_segbuild_merge_docstore(nx_segbuild *b) {
    b->docstore_merged = true;
    return b->docstore;
}

int nx_segbuild_simhash(nx_segbuild *b, uint64_t simhash) {
    if (b->next_doc == 0 || simhash == 0) return 0;
    /* docs before this one without a hash read 0 (none) */
    size_t at = ((size_t)b->next_doc - 1) * 8;
    if (nx_buf_reserve(&b->simhashes, at + 8 - b->simhashes.len))
        return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (b->simhashes.len < at)
        memset(b->simhashes.data + b->simhashes.len, 0, at - b->simhashes.len);
    nx_store_u64le(b->simhashes.data + at, simhash);
    b->simhashes.len = at + 8;
    return 0;
}

/* Adds the finished term to the dictionary (its key is in b->key). */
static int dict_add(nx_segbuild *b, size_t len, const uint8_t *val, size_t vl) {
    int rc = nx_termdict_add_var(b->dict, b->key, len + 1, val, vl);
    if (rc == NEWSIDX_ERR_NOMEM) return nx_err_set(b->err, rc, "out of memory");
    if (rc) return nx_err_set(b->err, rc, "term dictionary rejected a term (order?)");
    return 0;
}

/* Pulsing: a rare term's postings (varint(gap << 1 | freq == 1),
 * varint(freq - 1) when freq != 1) then its positions (per doc the first,
 * then deltas) live in its dictionary value, with no bytes in .post/.pos. */
static int put_pulsed(nx_segbuild *b, size_t len, uint32_t n, uint64_t cf, const uint32_t *docs,
                      const uint32_t *freqs, const uint32_t *positions) {
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
    const uint32_t *pp = positions;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t prev = 0;
        for (uint32_t j = 0; j < freqs[i]; j++) {
            vl += nx_varint_encode(val + vl, pp[j] - prev);
            prev = pp[j];
        }
        pp += freqs[i];
    }
    return dict_add(b, len, val, vl);
}

/* Encodes the term's cf positions into b->term_pos: per doc the first
 * absolute, then deltas; PFOR blocks of NX_BLOCK over the whole stream,
 * the tail packed or as varints. */
static int put_positions(nx_segbuild *b, uint32_t n, uint64_t cf, const uint32_t *freqs,
                         const uint32_t *positions) {
    nx_buf *pos = &b->term_pos;
    if (cf > b->delta_cap) {
        size_t c = NX_MAX((size_t)cf, b->delta_cap * 2);
        uint32_t *nd = realloc(b->deltas, c * sizeof *nd);
        if (!nd) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
        b->deltas = nd;
        b->delta_cap = c;
    }
    /* all deltas first, then the blocks straight from that array */
    uint32_t *dl = b->deltas;
    const uint32_t *pp = positions;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t prev = 0, f = freqs[i];
        for (uint32_t j = 0; j < f; j++) {
            dl[j] = pp[j] - prev;
            prev = pp[j];
        }
        dl += f;
        pp += f;
    }
    uint64_t full_blocks = cf / NX_BLOCK;
    uint32_t tail_n = (uint32_t)(cf % NX_BLOCK);
    const uint32_t *d = b->deltas;
    int rc = 0;
    for (uint64_t k = 0; k < full_blocks && rc == 0; k++, d += NX_BLOCK)
        rc = nx_pfor_encode(pos, d);
    if (rc == 0 && tail_n >= NX_TAIL_PACK_MIN) {
        rc = nx_pfor_encode_tail(pos, d, tail_n);
    } else {
        for (uint32_t i = 0; i < tail_n && rc == 0; i++) rc = nx_buf_put_varint(pos, d[i]);
    }
    if (rc) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    return 0;
}

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

/* Moves the walk to the positions block of w->first_pos: byte offsets are
 * recomputed from the PFOR blocks put_positions wrote. */
static void walk_positions(const nx_buf *pos, block_walk *w) {
    uint64_t want = w->first_pos / NX_BLOCK;
    for (; w->pblock < want; w->pblock++) w->poff += nx_pfor_size(pos->data + w->poff);
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

/* Encodes the doc blocks into b->term_post and their skip entries into
 * b->term_skip; returns the term-level block-max data in *max_tf and
 * *min_norm. */
static int put_postings(nx_segbuild *b, const uint8_t *norms, uint32_t n, const uint32_t *docs,
                        const uint32_t *freqs, uint32_t *term_max_tf, uint8_t *term_min_norm) {
    uint32_t nb = n / NX_BLOCK, tail = n % NX_BLOCK;
    block_walk w = {0};
    *term_max_tf = 0;
    *term_min_norm = 255;
    for (uint32_t bi = 0; bi <= nb; bi++) {
        uint32_t cnt = bi < nb ? NX_BLOCK : tail;
        if (cnt == 0) break;
        const uint32_t *d = docs + (size_t)bi * NX_BLOCK;
        const uint32_t *f = freqs + (size_t)bi * NX_BLOCK;
        uint32_t max_tf = 0;
        uint8_t min_norm = 255;
        uint64_t n_pos = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            if (f[i] > max_tf) max_tf = f[i];
            if (norms[d[i]] < min_norm) min_norm = norms[d[i]];
            n_pos += f[i];
        }
        if (max_tf > *term_max_tf) *term_max_tf = max_tf;
        if (min_norm < *term_min_norm) *term_min_norm = min_norm;
        walk_positions(&b->term_pos, &w);
        int rc = bi < nb ? put_full_block(b, d, f, bi == 0, &w, max_tf, min_norm)
                         : put_tail_block(b, d, f, cnt, bi == 0, &w);
        if (rc) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
        w.prev_last = d[cnt - 1];
        w.prev_pblock = (uint32_t)w.pblock;
        w.prev_poff = w.poff;
        w.first_pos += n_pos;
    }
    return 0;
}

int nx_segbuild_term(nx_segbuild *b, int field, const uint8_t *term, size_t len, uint32_t n,
                     const uint32_t *docs, const uint32_t *freqs, const uint32_t *positions) {
    if (n == 0) return 0;
    NX_RETURN_IF(len > 255, b->err, NEWSIDX_ERR_LIMIT, "term of %zu bytes", len);
    b->term_post.len = b->term_skip.len = b->term_pos.len = 0;
    uint64_t cf = 0;
    for (uint32_t i = 0; i < n; i++) cf += freqs[i];
    b->field_tokens[field] += cf;
    b->key[0] = (uint8_t)field;
    memcpy(b->key + 1, term, len);
    if (n <= NX_PULSE_MAX_DF && cf <= NX_PULSE_MAX_CF)
        return put_pulsed(b, len, n, cf, docs, freqs, positions);
    uint32_t term_max_tf;
    uint8_t term_min_norm;
    NX_FORWARD(put_positions(b, n, cf, freqs, positions));
    NX_FORWARD(put_postings(b, b->norms + (size_t)field * b->n_docs, n, docs, freqs, &term_max_tf,
                            &term_min_norm));
    /* Dictionary value: df, cf - df, postings and positions offsets. The
     * postings start with the term-level block-max data and the skip table
     * when there are full blocks. */
    uint8_t hdr[32], val[40];
    size_t h = 0, vl = 0;
    if (n >= NX_BLOCK) {
        h += nx_varint_encode(hdr + h, term_max_tf);
        hdr[h++] = term_min_norm;
        h += nx_varint_encode(hdr + h, b->term_skip.len);
    }
    vl += nx_varint_encode(val + vl, n);
    vl += nx_varint_encode(val + vl, cf - n);
    vl += nx_varint_encode(val + vl, nx_wfile_offset(b->post));
    vl += nx_varint_encode(val + vl, nx_wfile_offset(b->pos));
    NX_FORWARD(dict_add(b, len, val, vl));
    NX_FORWARD(nx_wfile_write(b->post, hdr, h));
    NX_FORWARD(nx_wfile_write(b->post, b->term_skip.data, b->term_skip.len));
    NX_FORWARD(nx_wfile_write(b->post, b->term_post.data, b->term_post.len));
    return nx_wfile_write(b->pos, b->term_pos.data, b->term_pos.len);
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
        NX_FORWARD(grow_u32(&t->pairs, 2 * c));
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

static int cmp_pair(const void *a, const void *b) {
    const uint32_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

int nx_segbuild_entries(nx_segbuild *b, int field, const uint8_t *term, size_t len,
                        nx_term_entries *t) {
    if (t->sorted)
        return nx_segbuild_term(b, field, term, len, (uint32_t)t->n, t->docs, t->freqs, t->pos);
    /* A date order reordered the docs: sort (doc, entry) pairs and gather
     * freqs and positions behind them. */
    uint32_t *pairs = t->pairs;
    for (size_t i = 0; i < t->n; i++) {
        pairs[2 * i] = t->docs[i];
        pairs[2 * i + 1] = (uint32_t)i;
    }
    qsort(pairs, t->n, 8, cmp_pair);
    size_t q = 0;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t e = pairs[2 * i + 1];
        t->sorted_docs[i] = pairs[2 * i];
        t->sorted_freqs[i] = t->freqs[e];
        memcpy(t->sorted_pos + q, t->pos + t->starts[e], sizeof(uint32_t) * t->freqs[e]);
        q += t->freqs[e];
    }
    return nx_segbuild_term(b, field, term, len, (uint32_t)t->n, t->sorted_docs, t->sorted_freqs,
                            t->sorted_pos);
}

static int pad8(nx_buf *b) {
    while (b->len % 8)
        NX_FORWARD(nx_buf_putc(b, 0));
    return 0;
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
 * the 1M index's 1,040 MB) and cost every open an inflate of the whole. */
static int write_dict(nx_segbuild *b) {
    nx_buf d = {0};
    int rc = nx_termdict_finish(b->dict, &d);
    if (rc) {
        nx_buf_free(&d);
        return nx_err_set(b->err, rc, "cannot serialize the term dictionary");
    }
    rc = write_buf_file(b, "dict", NX_FILE_DICT, &d, 1);
    nx_buf_free(&d);
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
                            (b->simhashes.len ? 4u : 0u) | src_width << 4);
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

/* The id of doc i as it was added. */
static const uint8_t *added_id(const nx_segbuild *b, uint32_t i, uint32_t *len) {
    uint32_t a = nx_load_u32le(b->id_offs.data + 4 * (size_t)i);
    *len = nx_load_u32le(b->id_offs.data + 4 * (size_t)i + 4) - a;
    return b->id_bytes.data + a;
}

/* Front-codes the ids into fc, in blocks of NX_ID_BLOCK: per id
 * varint(bytes shared with the previous id of the block), varint(rest),
 * rest; each block's offset in fc goes into the table at c + boffs (one
 * u32 per block, then the total). Non-zero when out of memory. */
static int front_code_ids(const nx_segbuild *b, nx_buf *c, size_t boffs, nx_buf *fc) {
    uint32_t n = b->n_docs, n_blocks = (n + NX_ID_BLOCK - 1) / NX_ID_BLOCK;
    int e = 0;
    for (uint32_t i = 0; i < n && !e; i++) {
        if (i % NX_ID_BLOCK == 0)
            nx_store_u32le(c->data + boffs + 4 * (i / NX_ID_BLOCK), (uint32_t)fc->len);
        uint32_t len, shared = 0;
        const uint8_t *id = added_id(b, i, &len);
        if (i % NX_ID_BLOCK) {
            uint32_t plen;
            const uint8_t *prev = added_id(b, i - 1, &plen);
            while (shared < len && shared < plen && prev[shared] == id[shared]) shared++;
        }
        e |= nx_buf_put_varint(fc, shared);
        e |= nx_buf_put_varint(fc, len - shared);
        e |= nx_buf_append(fc, id + shared, len - shared);
    }
    if (!e && fc->len > UINT32_MAX) e = 1;
    if (!e) nx_store_u32le(c->data + boffs + 4 * (size_t)n_blocks, (uint32_t)fc->len);
    return e;
}

/* Appends the front-coded ids fc as u32 length and the bytes as they are:
 * a reader expands one block of NX_ID_BLOCK ids where they are mapped
 * when a hit's id is asked for, instead of inflating all at open. */
static int put_ids(nx_buf *c, const nx_buf *fc) {
    NX_FORWARD(nx_buf_put_u32le(c, (uint32_t)fc->len));
    return fc->len ? nx_buf_append(c, fc->data, fc->len) : 0;
}

/* The column file (FORMAT.md, "Columns"): header, dates, near-duplicate
 * hashes, source ordinals, id block offsets, source offsets, the
 * front-coded ids, source names. */
static int write_columns(nx_segbuild *b, uint64_t raw_stored) {
    uint32_t n = b->n_docs;
    uint32_t width = b->n_sources == 0 ? 0 : b->n_sources <= 255 ? 1 : b->n_sources <= 65535 ? 2 : 4;
    nx_buf c = {0}, fc = {0};
    int e = put_column_header(b, width, raw_stored, &c);
    if (b->any_date && !e) e |= nx_buf_append(&c, b->dates.data, b->dates.len);
    /* near-duplicate hashes only when some doc has one: a segment without
     * any keeps the bytes it had before the column existed */
    if (b->simhashes.len && !e) {
        size_t have = b->simhashes.len;
        e |= nx_buf_append(&c, b->simhashes.data, have);
        for (size_t k = have; k < (size_t)n * 8 && !e; k += 8) e |= nx_buf_put_u64le(&c, 0);
    }
    for (uint32_t i = 0; i < n && width && !e; i++) {
        uint32_t ord = nx_load_u32le(b->src_ords.data + 4 * (size_t)i);
        if (width == 1) e |= nx_buf_putc(&c, (uint8_t)ord);
        else if (width == 2) e |= nx_buf_put_u16le(&c, (uint16_t)ord);
        else e |= nx_buf_put_u32le(&c, ord);
    }
    e |= pad8(&c);
    uint32_t n_blocks = (n + NX_ID_BLOCK - 1) / NX_ID_BLOCK;
    size_t boffs = c.len;
    for (uint32_t k = 0; k <= n_blocks && !e; k++) e |= nx_buf_put_u32le(&c, 0);
    if (!e) e = front_code_ids(b, &c, boffs, &fc);
    e |= pad8(&c);
    e |= nx_buf_append(&c, b->src_offs.data, b->src_offs.len);
    e |= pad8(&c);
    if (!e) e = put_ids(&c, &fc);
    e |= nx_buf_append(&c, b->src_bytes.data, b->src_bytes.len);
    nx_buf_free(&fc);
    int rc = e ? nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory")
               : write_buf_file(b, "col", NX_FILE_COLUMNS, &c, 1);
    nx_buf_free(&c);
    return rc;
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
