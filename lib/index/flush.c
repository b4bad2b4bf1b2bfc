/* index/flush — writes one of the writer's RAM buffers as a new segment: live
 * docs renumbered into date order (undated first, ties by insertion
 * order), their columns and stored fields, then every term in key order
 * with its occurrence stream read back into postings. Writes through
 * segwrite.c (docs/FORMAT.md, "Segment"). */
#include "index/writer_internal.h"

#include <stdlib.h>
#include <string.h>

static int cmp_doc_date(const void *a, const void *b, void *ctx) {
    const wdoc *docs = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (docs[x].date != docs[y].date) return docs[x].date < docs[y].date ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Terms sort by key; a sort entry carries the key's first 8 bytes as a
 * big-endian number so most comparisons never touch the keys. */
typedef struct term_sort {
    uint64_t prefix;
    uint32_t term;
} term_sort;

static int cmp_term_key(const void *a, const void *b, void *ctx) {
    const wbuf *buf = ctx;
    const term_sort *ta = a, *tb = b;
    if (ta->prefix != tb->prefix) return ta->prefix < tb->prefix ? -1 : 1;
    const wterm *x = term_at(buf, ta->term), *y = term_at(buf, tb->term);
    size_t n = NX_MIN(x->key_len, y->key_len);
    int c = memcmp(buf->keys.data + x->key_off, buf->keys.data + y->key_off, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Sorts terms by key: LSD radix sort on the 8-byte prefix (passes whose
 * byte is the same for every term are skipped), then runs of equal
 * prefix by the full key; qsort with the key compare alone was slower than
 * the whole of this. Returns NOMEM when no scratch could be had (order
 * untouched). */
static int sort_terms(const wbuf *b, term_sort *order, uint32_t n) {
    if (n < 2) return 0;
    term_sort *tmp = malloc(sizeof *tmp * n);
    if (!tmp) return NEWSIDX_ERR_NOMEM;
    term_sort *src = order, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        uint32_t cnt[256] = {0};
        for (uint32_t i = 0; i < n; i++) cnt[(src[i].prefix >> shift) & 0xff]++;
        if (cnt[(src[0].prefix >> shift) & 0xff] == n) continue; /* one bucket */
        uint32_t sum = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) dst[cnt[(src[i].prefix >> shift) & 0xff]++] = src[i];
        term_sort *x = src;
        src = dst;
        dst = x;
    }
    if (src != order) memcpy(order, src, sizeof *order * n);
    free(tmp);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && order[j].prefix == order[i].prefix) j++;
        if (j - i > 1) qsort_r(order + i, j - i, sizeof *order, cmp_term_key, (void *)b);
        i = j;
    }
    return 0;
}

/* Reads term t's occurrence stream into b->s_entries: per doc entry the
 * new doc id, the freq and the positions; occurrences in replaced
 * articles (newid UINT32_MAX) are dropped. An entry is recorded when the
 * next one starts, and after the stream ends. 0 or NOMEM. */
static int read_term(wbuf *b, const wterm *t, const uint32_t *newid) {
    nx_term_entries *te = &b->s_entries;
    rstream os;
    rstream_init(b, &os, &t->os);
    /* the stream ends at its write pointer (a full last slice: at that
     * slice's end, where the reader stops before the link) */
    const uint8_t *os_end = pool_at(b, t->os.wp);
    uint32_t doc = UINT32_MAX, nd = UINT32_MAX, p = 0;
    size_t np = 0, start = 0;
    te->n = 0;
    te->sorted = true;
    while (os.p != os_end) {
        uint64_t v = rstream_varint(b, &os);
        if (v & 1) {
            if (nd != UINT32_MAX) {
                nx_term_entries_push(te, nd, (uint32_t)(np - start), start);
            } else {
                np = start;
            }
            doc += (uint32_t)rstream_varint(b, &os);
            nd = newid[doc];
            start = np;
            p = 0;
        }
        p += (uint32_t)(v >> 1);
        if (NX_UNLIKELY(np == te->pos_cap) && nx_term_entries_reserve(te, 0, np + 1))
            return NEWSIDX_ERR_NOMEM;
        te->pos[np++] = p;
    }
    if (nd != UINT32_MAX) nx_term_entries_push(te, nd, (uint32_t)(np - start), start);
    te->n_pos = np;
    return 0;
}

/* Adds every term of the buffer to sb, in key order. */
static int flush_terms(wbuf *b, nx_segbuild *sb, const uint32_t *newid, nx_progress *pr) {
    term_sort *order = malloc(sizeof *order * (b->n_terms + 1));
    /* a term has at most one doc entry per buffered doc */
    if (!order || nx_term_entries_reserve(&b->s_entries, b->n_docs, 0)) {
        free(order);
        return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    for (uint32_t t = 0; t < b->n_terms; t++) {
        /* the first 8 key bytes, zero padded, as a big-endian number */
        order[t].prefix = __builtin_bswap64(term_at(b, t)->key8[0]);
        order[t].term = t;
    }
    if (sort_terms(b, order, b->n_terms))
        qsort_r(order, b->n_terms, sizeof *order, cmp_term_key, b); /* no memory: slower */
    int rc = 0;
    for (uint32_t k = 0; k < b->n_terms && rc == 0; k++) {
        /* sorted order visits terms and their slices at random: fetch
         * the term entries 8 ahead and their first slices 4 ahead */
        if (k + 8 < b->n_terms) __builtin_prefetch(term_at(b, order[k + 8].term));
        if (k + 4 < b->n_terms) {
            const wterm *a = term_at(b, order[k + 4].term);
            __builtin_prefetch(pool_at(b, a->os.head));
            if (a->key_len > 16) __builtin_prefetch(b->keys.data + a->key_off);
        }
        const wterm *t = term_at(b, order[k].term);
        nx_progress_step(pr, 1);
        if (read_term(b, t, newid)) {
            rc = nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
            break;
        }
        if (b->s_entries.n == 0) continue;
        /* keys of at most 16 bytes from the entry: no look at b->keys */
        uint8_t short_key[16];
        const uint8_t *key = short_key;
        if (t->key_len <= 16) {
            nx_store_u64le(short_key, t->key8[0]);
            nx_store_u64le(short_key + 8, t->key8[1]);
        } else {
            key = b->keys.data + t->key_off;
        }
        rc = nx_segbuild_entries(sb, key[0], key + 1, t->key_len - 1u, &b->s_entries);
    }
    free(order);
    return rc;
}

/* Adds the live docs from *next on to sb in date order (the norms of all
 * of them first, when *next is 0): columns, stored fields. With
 * `yield`, stops early, *next the first doc not added, when the doc store
 * would wait for the run's dictionary that another flush trains. */
static int flush_docs(wbuf *b, nx_segbuild *sb, const uint32_t *order, uint32_t n_live,
                      uint32_t *next, bool yield, nx_progress *pr) {
    for (int f = 0; f < NX_N_FIELDS && *next == 0; f++) {
        uint8_t *nm = nx_segbuild_norms(sb, f);
        for (uint32_t i = 0; i < n_live; i++) nm[i] = nx_norm_encode(b->docs[order[i]].field_len[f]);
    }
    for (; *next < n_live; ++*next) {
        if (yield && nx_segbuild_store_waits(sb)) return 0;
        const wdoc *d = &b->docs[order[*next]];
        const newsidx_field *fields = NULL;
        size_t nf = 0;
        if (b->w->sb.store_fields && nx_fields_parse(nx_wbuf_stored_at(b, d->stored_off), d->stored_len,
                                                  &b->s_fields, &fields, &nf))
            return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
        NX_FORWARD(nx_segbuild_doc(sb, d->date, (const char *)b->ids.data + d->id_off, d->id_len,
                                   (const char *)b->srcs.data + d->src_off, d->src_len,
                                   d->text_bytes, fields, nf));
        NX_FORWARD(nx_segbuild_simhash(sb, d->simhash));
        nx_progress_doc(pr);
    }
    return 0;
}

/* Writes segment seg_no from the buffer, given the live docs in date
 * order and each doc's new id. */
static int write_segment(wbuf *b, uint32_t seg_no, const uint32_t *order,
                         uint32_t n_live, const uint32_t *newid) {
    nx_segbuild *sb;
    NX_FORWARD(nx_segbuild_create(b->w->dir, seg_no, n_live, &b->w->sb, b->err, &sb));
    /* docs, terms, and one unit for finishing the files (fsync) */
    nx_progress pr;
    nx_progress_begin(&pr, b->w, NEWSIDX_PHASE_FLUSHING, 1, n_live, (uint64_t)b->n_terms + 1,
                      b->w->sb.store_fields ? NX_PROGRESS_DOCS_SHARE_STORED
                                            : NX_PROGRESS_DOCS_SHARE_BARE);
    /* Docs first, so that a flush that trains the run's dictionary starts
     * early; one whose store would wait for another flush's training
     * writes its terms (their own files) meanwhile and adds the rest of
     * its docs after (Reuters: one of two workers sat idle ~35 ms). */
    uint32_t next = 0;
    int rc = flush_docs(b, sb, order, n_live, &next, true, &pr);
    if (rc == 0) rc = flush_terms(b, sb, newid, &pr);
    if (rc == 0 && next < n_live) rc = flush_docs(b, sb, order, n_live, &next, false, &pr);
    if (rc) {
        nx_segbuild_abort(sb);
        return rc;
    }
    rc = nx_segbuild_finish(sb);
    if (rc == 0) nx_progress_end(&pr);
    return rc;
}

int nx_wbuf_flush(wbuf *b) {
    if (b->n_docs == 0) return 0;
    uint32_t n_live = b->n_docs - b->n_deleted;
    if (n_live == 0) {
        nx_wbuf_free(b);
        return 0;
    }
    uint32_t *order = malloc(sizeof(uint32_t) * b->n_docs);
    uint32_t *newid = malloc(sizeof(uint32_t) * b->n_docs);
    if (!order || !newid) {
        free(order);
        free(newid);
        return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    uint32_t k = 0;
    for (uint32_t d = 0; d < b->n_docs; d++) {
        newid[d] = UINT32_MAX;
        if (!b->docs[d].deleted) order[k++] = d;
    }
    /* Date order, undated (INT64_MIN) first, ties by insertion order. */
    qsort_r(order, n_live, sizeof *order, cmp_doc_date, b->docs);
    for (uint32_t i = 0; i < n_live; i++) newid[order[i]] = i;
    newsidx_writer *w = b->w;
    nx_wpool_lock(w);
    uint32_t seg_no = w->next_seg_no++;
    nx_wpool_unlock(w);
    int rc = write_segment(b, seg_no, order, n_live, newid);
    free(order);
    free(newid);
    if (rc) return rc;
    nx_segment *seg;
    NX_FORWARD(nx_segment_open(w->dir, seg_no, 0, b->err, &seg));
    nx_wpool_lock(w);
    rc = nx_writer_push_segment(w, seg);
    nx_wpool_unlock(w);
    if (rc) {
        nx_segment_close(seg);
        return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    nx_wbuf_recycle(b); /* an explicit flush frees the spares: nx_wbuf_free */
    return 0;
}
