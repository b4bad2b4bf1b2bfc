/* index/writer — newsidx_writer: open and close, adding articles
 * (fields, id, date, stored record) into the RAM buffer (rambuf.c),
 * duplicate-id replacement with tombstones, and commit: flush (flush.c),
 * merges (merge.c), tombstones and the manifest (manifest.c). The writer's
 * struct and the buffer layout: writer_internal.h. On-disk bytes:
 * docs/FORMAT.md. */
#include "analysis/analysis.h"
#include "index/simhash.h"
#include "index/writer_internal.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void newsidx_writer_options_init(newsidx_writer_options *o) {
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->ram_budget_bytes = (size_t)256 << 20;
    o->store_fields = 1;
    o->doc_store_level = 0; /* the doc store's measured default */
    o->doc_store_block_bytes = NX_DOCSTORE_DEFAULT_BLOCK_BYTES;
    o->merge_factor = 10;
    o->max_field_bytes = 16u << 20;
}

const char *newsidx_writer_errmsg(const newsidx_writer *w) { return w ? w->err.msg : ""; }

void nx_writer_set_error(newsidx_writer *w, int code, const char *msg) {
    if (w) nx_err_set(&w->err, code, "%s", msg);
}

/* ---- ids -------------------------------------------------------------------- */

static int id_table_grow(wbuf *b) {
    uint32_t nmask = b->id_mask ? b->id_mask * 2 + 1 : 255;
    uint32_t *ns = zalloc_written(((size_t)nmask + 1) * 4);
    if (!ns) return NEWSIDX_ERR_NOMEM;
    for (uint32_t d = 0; d < b->n_docs; d++) {
        if (b->docs[d].deleted) continue;
        uint32_t i = (uint32_t)b->docs[d].id_hash & nmask;
        while (ns[i]) i = (i + 1) & nmask;
        ns[i] = d + 1;
    }
    free(b->id_slots);
    b->id_slots = ns;
    b->id_mask = nmask;
    return 0;
}

/* Marks the buffer's live article with this id deleted; 1 if there was
 * one. */
static int buffer_replace_id(wbuf *b, const char *id, size_t len, uint64_t h) {
    int found = 0;
    if (!b->id_slots) return 0;
    for (uint32_t i = (uint32_t)h & b->id_mask; b->id_slots[i]; i = (i + 1) & b->id_mask) {
        uint32_t d = b->id_slots[i] - 1;
        wdoc *e = &b->docs[d];
        if (!e->deleted && e->id_hash == h && e->id_len == len &&
            memcmp(b->ids.data + e->id_off, id, len) == 0) {
            e->deleted = 1;
            b->n_deleted++;
            found = 1;
        }
    }
    return found;
}

/* Marks the segments' live article with this id deleted; 1 if there was
 * one, or NOMEM. Takes the pool's lock: workers add segments and mark
 * deletions concurrently. */
static int segments_replace_id(newsidx_writer *w, const char *id, size_t len) {
    int found = 0;
    nx_wpool_lock(w);
    for (uint32_t s = 0; s < w->n_segs && found >= 0; s++) {
        wseg *ws = &w->segs[s];
        uint32_t doc = nx_segment_find_id(ws->seg, id, len);
        if (doc == NX_NO_DOC) continue;
        uint32_t n = nx_segment_doc_count(ws->seg);
        if (!ws->del) {
            ws->del = calloc(((size_t)n + 7) / 8 + 1, 1);
            if (!ws->del) {
                found = NEWSIDX_ERR_NOMEM;
                break;
            }
        }
        if (ws->del[doc >> 3] & (1u << (doc & 7))) continue;
        ws->del[doc >> 3] |= (uint8_t)(1u << (doc & 7));
        ws->n_del++;
        ws->del_dirty = true;
        found = 1;
    }
    nx_wpool_unlock(w);
    return found;
}

int nx_writer_segments_have_id(newsidx_writer *w, const char *id, size_t len) {
    for (uint32_t s = 0; s < w->n_segs; s++) {
        const wseg *ws = &w->segs[s];
        uint32_t doc = nx_segment_find_id(ws->seg, id, len);
        if (doc != NX_NO_DOC && !(ws->del && (ws->del[doc >> 3] & (1u << (doc & 7))))) return 1;
    }
    return 0;
}

int nx_writer_delete_id(newsidx_writer *w, const char *id, size_t len) {
    uint64_t h = nx_hash64(id, len);
    int found = 0;
    for (uint32_t i = 0; i < w->n_bufs; i++) found |= buffer_replace_id(&w->bufs[i], id, len, h);
    int seg = segments_replace_id(w, id, len);
    if (seg < 0) return seg;
    if (w->pool) nx_wpool_forget_id(w, id, len, h);
    return found | seg;
}

/* ---- add -------------------------------------------------------------------- */

/* The article's id: its non-empty id field idf, else XXH3-64 over the
 * fields' names and values, in order, as 16 hex digits in derived (the
 * same article always derives the same id). 0 or NOMEM. */
static int article_id(newsidx_writer *w, const newsidx_field *fields, size_t n_fields,
                      const newsidx_field *idf, char derived[17], const char **id,
                      size_t *id_len, unsigned *warn) {
    if (idf && idf->value_len > 0) {
        *id = idf->value;
        *id_len = idf->value_len;
        return 0;
    }
    nx_buf tmp = {0};
    int e = 0;
    for (size_t i = 0; i < n_fields; i++) {
        if (&fields[i] == idf) continue;
        e |= nx_buf_append(&tmp, fields[i].name, strlen(fields[i].name) + 1);
        e |= nx_buf_put_u64le(&tmp, fields[i].value_len);
        e |= nx_buf_append(&tmp, fields[i].value, fields[i].value_len);
    }
    uint64_t h = nx_hash64(tmp.data ? tmp.data : (const uint8_t *)"", tmp.len);
    nx_buf_free(&tmp);
    if (e) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    snprintf(derived, 17, "%016llx", (unsigned long long)h);
    *id = derived;
    *id_len = 16;
    *warn |= NEWSIDX_WARN_ID_DERIVED;
    return 0;
}

/* An id is the article's identity: one that would have to be altered to be
 * stored (a NUL cut, a bad byte replaced) could become another article's
 * id and silently replace it, so it is refused. 0 or INVALID. */
static int check_id(newsidx_writer *w, const char *id, size_t len) {
    const char *nul = memchr(id, 0, len);
    NX_RETURN_IF(nul, &w->err, NEWSIDX_ERR_INVALID,
                 "id holds a NUL byte at byte %zu: an id must be text (article not added)",
                 (size_t)(nul - id) + 1);
    size_t valid = nx_utf8_valid_prefix(id, len);
    NX_RETURN_IF(valid < len, &w->err, NEWSIDX_ERR_INVALID,
                 "id is not valid UTF-8 at byte %zu: an id is never altered (article not added)",
                 valid + 1);
    return 0;
}

/* Room for one more doc in b->docs and in the id table. 0 or NOMEM. */
static int doc_slot_reserve(wbuf *b) {
    if (b->n_docs == b->cap_docs) {
        wdoc *nd = grow_array(b->docs, &b->cap_docs, sizeof *nd, 128);
        if (!nd) return NEWSIDX_ERR_NOMEM;
        b->docs = nd;
    }
    if ((b->n_docs + 1) * 2 > b->id_mask) return id_table_grow(b);
    return 0;
}

/* The budget counts the records as the nx_buf they were appended to
 * before (a varint reserved 10 bytes, an append its length, capacity
 * doubling from 64): the same capacity after every record, so buffers
 * flush where they did and segments hold the same docs. need: the bytes
 * that buffer would have had to hold. */
static void stored_account(wbuf *b, size_t need) {
    if (need <= b->stored_cap) return;
    size_t cap = b->stored_cap ? b->stored_cap : 64;
    while (cap < need) cap *= 2;
    b->stored_cap = cap;
}

static size_t varint_bytes(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Appends the doc's stored-fields record (read back by nx_fields_parse):
 * the id first, then every field but the id field, cut like the indexed
 * text so that stored text and indexed offsets agree. Sets the doc's
 * stored_off and stored_len. 0 or NOMEM. */
static int store_fields(wbuf *b, const warticle *a, wdoc *doc, unsigned *warn) {
    size_t max = b->w->opts.max_field_bytes, n_store = 1;
    for (size_t i = 0; i < a->n_fields; i++)
        if (&a->fields[i] != a->idf) n_store++;
    newsidx_field one = {nx_field_name(NX_F_ID), a->id, a->id_len};
    /* the record's size first (and its accounting), then the bytes */
    size_t len = b->stored_len;
    stored_account(b, len + 10);
    len += varint_bytes(n_store);
    for (size_t i = 0; i < a->n_fields + 1; i++) {
        const newsidx_field *f = i == 0 ? &one : &a->fields[i - 1];
        if (i > 0 && f == a->idf) continue;
        size_t vl = nx_utf8_cut(f->value, f->value_len, max);
        if (vl < f->value_len) *warn |= NEWSIDX_WARN_FIELD_CUT;
        size_t nl = strlen(f->name);
        stored_account(b, len + 10);
        len += varint_bytes(nl);
        if (nl) stored_account(b, len + nl);
        len += nl;
        stored_account(b, len + 10);
        len += varint_bytes(vl);
        if (vl) stored_account(b, len + vl);
        len += vl;
    }
    size_t bytes = len - b->stored_len;
    uint8_t *p = nx_wbuf_stored_append(b, bytes, &doc->stored_off);
    if (!p) return NEWSIDX_ERR_NOMEM;
    p += nx_varint_encode(p, n_store);
    for (size_t i = 0; i < a->n_fields + 1; i++) {
        const newsidx_field *f = i == 0 ? &one : &a->fields[i - 1];
        if (i > 0 && f == a->idf) continue;
        size_t vl = nx_utf8_cut(f->value, f->value_len, max);
        size_t nl = strlen(f->name);
        p += nx_varint_encode(p, nl);
        memcpy(p, f->name, nl);
        p += nl;
        p += nx_varint_encode(p, vl);
        if (vl) memcpy(p, f->value, vl);
        p += vl;
    }
    b->stored_len = len;
    doc->stored_len = (uint32_t)bytes;
    return 0;
}

/* A buffer error after which the buffer holds part of an article: not
 * recoverable, so the writer stops accepting articles (a worker's errors
 * all stop the pool: writer_pool.c). */
static int buffer_broken(wbuf *b, int rc) {
    if (!b->w->pool) b->w->failed = rc;
    return rc;
}

/* Analyzes the indexed fields of a into the buffer's doc b->docs[b->n_docs]. */
static int index_fields(wbuf *b, const warticle *a, unsigned *warn) {
    wdoc *doc = &b->docs[b->n_docs];
    b->cur_doc = b->n_docs;
    for (int f = 0; f < NX_N_FIELDS; f++) {
        const newsidx_field *fl = a->indexed[f];
        if (!fl || fl->value_len == 0) continue;
        size_t vl = nx_utf8_cut(fl->value, fl->value_len, b->w->opts.max_field_bytes);
        if (vl < fl->value_len) *warn |= NEWSIDX_WARN_FIELD_CUT;
        int rc = nx_wbuf_index_field(b, f, fl->value, vl, &doc->field_len[f]);
        if (rc) return buffer_broken(b, nx_err_set(b->err, rc, "out of memory while indexing"));
        doc->text_bytes += (uint32_t)NX_MIN(vl, UINT32_MAX - doc->text_bytes);
    }
    return 0;
}

/* The near-duplicate hash of the doc's title and body as indexed (cut at
 * max_field_bytes like the indexed text). */
static uint64_t article_simhash(const newsidx_writer *w, const newsidx_field *const *indexed) {
    const newsidx_field *t = indexed[NX_F_TITLE], *b = indexed[NX_F_BODY];
    size_t max = w->opts.max_field_bytes;
    return nx_simhash_article(t ? t->value : NULL, t ? nx_utf8_cut(t->value, t->value_len, max) : 0,
                              b ? b->value : NULL, b ? nx_utf8_cut(b->value, b->value_len, max) : 0,
                              NX_SIMHASH_SHINGLE);
}

/* Counts the article's text for the progress callback, and calls it with
 * ADDING every NX_PROGRESS_TEXT_STEP bytes of text. */
static void report_adding(newsidx_writer *w, const newsidx_field *fields, size_t n_fields) {
    /* under the lock: a worker's flush reads text_added for its calls */
    pthread_mutex_lock(&w->progress_lock);
    for (size_t i = 0; i < n_fields; i++) w->text_added += fields[i].value_len;
    w->articles_added++;
    if (w->text_added >= w->text_next_report) {
        w->text_next_report = w->text_added + NX_PROGRESS_TEXT_STEP;
        newsidx_writer_progress p = {.phase = NEWSIDX_PHASE_ADDING, .done = w->articles_added,
                                     .total = w->articles_added, .text_bytes = w->text_added};
        w->opts.progress(w->opts.progress_ctx, &p);
    }
    pthread_mutex_unlock(&w->progress_lock);
}

int nx_wbuf_add(wbuf *b, const warticle *a, unsigned *warn) {
    int rep = buffer_replace_id(b, a->id, a->id_len, a->id_hash);
    int seg = a->segments_may_have_id ? segments_replace_id(b->w, a->id, a->id_len) : 0;
    if (seg < 0) return nx_err_set(b->err, seg, "out of memory");
    if (rep | seg) *warn |= NEWSIDX_WARN_REPLACED;
    if (doc_slot_reserve(b)) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    wdoc *doc = &b->docs[b->n_docs];
    memset(doc, 0, sizeof *doc);
    doc->date = a->date;
    doc->id_hash = a->id_hash;
    doc->id_off = (uint32_t)b->ids.len;
    doc->id_len = (uint32_t)a->id_len;
    doc->src_off = (uint32_t)b->srcs.len;
    int rc = nx_buf_append(&b->ids, a->id, a->id_len);
    if (rc == 0 && a->srcf) {
        doc->src_len = (uint32_t)nx_utf8_cut(a->srcf->value, a->srcf->value_len,
                                          NX_MIN(b->w->opts.max_field_bytes, 65535));
        rc = nx_buf_append(&b->srcs, a->srcf->value, doc->src_len);
    }
    if (rc == 0 && b->w->opts.store_fields) rc = store_fields(b, a, doc, warn);
    if (rc) return nx_err_set(b->err, NEWSIDX_ERR_NOMEM, "out of memory");
    NX_FORWARD(index_fields(b, a, warn));
    doc->simhash = article_simhash(b->w, a->indexed);
    uint32_t slot = (uint32_t)a->id_hash & b->id_mask;
    while (b->id_slots[slot]) slot = (slot + 1) & b->id_mask;
    b->id_slots[slot] = ++b->n_docs;
    if (nx_wbuf_full(b)) {
        rc = nx_wbuf_flush(b);
        if (rc) return buffer_broken(b, rc);
    }
    return 0;
}

/* NEWSIDX_WARN_FIELD_CUT when a field the buffer would store or index is
 * longer than max_field_bytes: known on the caller's thread, before a
 * worker cuts it. */
static unsigned field_cut_warning(const newsidx_writer *w, const warticle *a) {
    size_t max = w->opts.max_field_bytes;
    for (size_t i = 0; i < a->n_fields; i++) {
        const newsidx_field *f = &a->fields[i];
        if (f->value_len <= max) continue;
        if (f == a->idf) continue;
        if (w->opts.store_fields) return NEWSIDX_WARN_FIELD_CUT;
        for (int k = 0; k < NX_N_FIELDS; k++)
            if (a->indexed[k] == f) return NEWSIDX_WARN_FIELD_CUT;
    }
    return 0;
}

/* Runs the merge policy as segments are flushed, instead of only at
 * commit: every open segment keeps its dictionary index, ids and doc-store
 * dictionary in memory, so a long run with a small budget grew by ~250 KB
 * per flush (126 MB of input with --ram 4: 230 segments, ~70 MB). The
 * merges are the ones the commit would make; their output stays
 * uncommitted like any flushed segment. With workers they run beside
 * them (merge_bg.c); without, here, once merge_factor more segments were
 * flushed. */
static int merge_as_they_pile_up(newsidx_writer *w) {
    if (w->pool) return nx_bgmerge_poll(w);
    if (w->n_segs < w->merge_at_segs) return 0;
    int rc = nx_writer_merge(w);
    w->merge_at_segs = w->n_segs + w->opts.merge_factor;
    return rc;
}

int newsidx_writer_add(newsidx_writer *w, const newsidx_field *fields, size_t n_fields,
                       unsigned *warnings) {
    unsigned warn = 0;
    if (warnings) *warnings = 0;
    if (!w || (!fields && n_fields)) return NEWSIDX_ERR_INVALID;
    if (w->failed) return w->failed;
    warticle a = {.fields = fields, .n_fields = n_fields, .segments_may_have_id = true};
    const newsidx_field *datef = NULL;
    for (size_t i = 0; i < n_fields; i++) {
        const newsidx_field *f = &fields[i];
        NX_RETURN_IF(!f->name || (!f->value && f->value_len), &w->err, NEWSIDX_ERR_INVALID,
                     "field %zu has no name or no value", i);
        int fi = nx_field_from_name(f->name, strlen(f->name));
        if (fi == NX_F_ID) {
            if (!a.idf) a.idf = f;
        } else if (fi == NX_F_DATE) {
            if (!datef) datef = f;
        } else if (fi >= 0 && fi < NX_N_FIELDS) {
            /* the first of each, but "body" replaces a body taken before it */
            if (!a.indexed[fi] || fi == NX_F_BODY) a.indexed[fi] = f;
        } else if (nx_field_is_body_alias(f->name)) {
            if (!a.indexed[NX_F_BODY]) a.indexed[NX_F_BODY] = f;
        }
    }
    a.srcf = a.indexed[NX_F_SOURCE];
    /* id */
    char derived[17];
    NX_FORWARD(article_id(w, fields, n_fields, a.idf, derived, &a.id, &a.id_len, &warn));
    NX_FORWARD(check_id(w, a.id, a.id_len));
    a.id_hash = nx_hash64(a.id, a.id_len);
    /* date */
    a.date = NX_NO_DATE;
    if (datef && datef->value_len > 0 &&
        newsidx_parse_date(datef->value, datef->value_len, &a.date) != 0) {
        a.date = NX_NO_DATE;
        warn |= NEWSIDX_WARN_DATE_UNPARSED;
    }
    if (!a.indexed[NX_F_BODY] || a.indexed[NX_F_BODY]->value_len == 0)
        warn |= NEWSIDX_WARN_EMPTY_BODY;
    warn |= field_cut_warning(w, &a);
    int rc = w->pool ? nx_wpool_add(w, &a, &warn) : nx_wbuf_add(&w->bufs[0], &a, &warn);
    if (rc) return rc;
    if (warnings) *warnings = warn;
    if (w->opts.progress) report_adding(w, fields, n_fields);
    rc = merge_as_they_pile_up(w);
    if (rc) w->failed = rc;
    return rc;
}

int nx_writer_flush(newsidx_writer *w) {
    if (w->pool) return nx_wpool_drain(w, true);
    if (!w->n_bufs) return 0;
    int rc = nx_wbuf_flush(&w->bufs[0]);
    if (rc == 0) nx_wbuf_free(&w->bufs[0]); /* the spare slabs: no buffer fills next */
    return rc;
}

/* ---- open / commit / close ------------------------------------------------ */

/* A writer that created its directory and never committed leaves nothing
 * behind: its uncommitted segment files, the LOCK and the directory go. */
static void remove_created_dir(newsidx_writer *w) {
    nx_manifest none = {0};
    nx_remove_unreferenced(w->dir, &none);
    char *lp = nx_path_join(w->dir, "LOCK");
    if (lp) unlink(lp);
    free(lp);
    rmdir(w->dir); /* fails, harmlessly, if someone else put a file there */
}

/* What the writer made since its last commit goes: segments flushed or
 * merged, tombstones, and a manifest a failed commit may have renamed into
 * place (docs/FORMAT.md, "A commit that fails"). */
static void discard_uncommitted(newsidx_writer *w) {
    nx_remove_uncommitted(w->dir, w->committed_seg_no, w->generation + 1, !w->opts.no_sync);
}

void newsidx_writer_close(newsidx_writer *w) {
    if (!w) return;
    /* Apart from a directory it made itself, only a writer that holds the
     * LOCK may delete: a failed open (the index locked, a damaged
     * manifest) leaves the directory as it found it. */
    /* workers first: none may write a file the lines below remove */
    nx_wpool_stop(w);
    nx_bgmerge_cancel(w);
    if (w->created_dir && w->generation == 0 && w->dir) remove_created_dir(w);
    else if (w->opened) discard_uncommitted(w);
    for (uint32_t i = 0; i < w->n_bufs; i++) nx_wbuf_destroy(&w->bufs[i]);
    free(w->bufs);
    for (uint32_t i = 0; i < w->n_segs; i++) {
        nx_segment_close(w->segs[i].seg);
        free(w->segs[i].del);
    }
    free(w->segs);
    if (w->lock_fd >= 0) close(w->lock_fd); /* releases the flock */
    free(w->stem);
    free(w->stop);
    free(w->dir);
    nx_docstore_shared_free(w->sb.doc_dict);
    pthread_mutex_destroy(&w->progress_lock);
    free(w);
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Workers at most: past this a queue and a buffer per worker cost more
 * memory than the cores they would keep busy are worth on a writer
 * machine (the caller's thread parses, and it is one). */
#define MAX_THREADS 64
#define DEFAULT_MAX_THREADS 8

/* Budget each worker needs at the least: a buffer holds a 64 KiB pool
 * page, a 32 KiB term array and tables from its first article on, and its
 * queue 256 KiB; with less, every article became a segment of its own
 * (1,000 articles under a 160 KiB budget made 1,300 segments and 9,000
 * fsyncs). */
#define MIN_WORKER_BUDGET ((size_t)768 << 10)

/* What writing one segment holds beside the RAM buffers, whatever the
 * segment's size, when fields are stored: the doc store's training sample
 * (4 MiB, in a buffer that grows by doubling; up to 8 MiB in the one store
 * that waits while another store of the run trains the dictionary), its
 * zstd context, its own CDict over the dictionary (up to ~2.6 MB by zstd's
 * estimate) and a ~0.6 MB window, and the files' write buffers (heaptrack,
 * 90,000 generated articles, --ram 64 --threads 2: 16.8 MB under
 * nx_docstore_add in two flushes at once; peak anonymous memory at --ram
 * 24 / 64 / 256 with 2 threads stayed 13 / 62 / 202 MB after each store got
 * its own CDict, bench/README.md). Every worker flushes into one, and one merge
 * writes one, so the budget keeps workers + 1 of them out of the buffers'
 * shares. Without stored fields a segment writer holds well under 1 MiB
 * beside the doc maps that grow with the segment. */
#define SEGMENT_WRITE_BYTES ((size_t)10 << 20)

/* What the budget keeps for n workers' flushes and one merge. */
static size_t write_reserve(bool store_fields, uint32_t n) {
    return store_fields ? (n + 1) * SEGMENT_WRITE_BYTES : 0;
}

/* The worker count for the option's value (0: the online cores, at most
 * DEFAULT_MAX_THREADS), lowered so that each has MIN_WORKER_BUDGET beside
 * what the segments written at once hold (write_reserve). */
static uint32_t writer_threads(uint32_t threads, size_t budget, bool store_fields) {
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 1 ? 1 : n > DEFAULT_MAX_THREADS ? DEFAULT_MAX_THREADS : (uint32_t)n;
    }
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    /* the queues take at most an eighth of the budget, or 256 KiB each */
    while (threads > 1 && budget - budget / 8 < write_reserve(store_fields, threads) +
                                                    threads * (MIN_WORKER_BUDGET + (256 << 10)))
        threads--;
    return threads;
}

/* Each worker's queue holds at most this many bytes of copied articles
 * (one larger article still passes alone): an eighth of the budget,
 * between 256 KiB and 16 MiB per worker, so that parsing runs ahead of
 * the workers by a few hundred articles, not by the input. */
static size_t queue_bytes(const newsidx_writer *w) {
    size_t q = w->opts.ram_budget_bytes / 8 / (w->n_bufs ? w->n_bufs : 1);
    return q < ((size_t)256 << 10) ? (size_t)256 << 10 : q > ((size_t)16 << 20) ? (size_t)16 << 20 : q;
}

/* What a worker's queue holds at the most, below what the budget keeps for
 * it (queue_bytes, which the buffers' shares still leave out, so flushes
 * come where they did): a few hundred articles are all the slack the
 * reader needs, and a queue of 16 MiB let it run that far ahead, so the
 * copies came back to the worker from memory, not the cache, and the
 * heap grew by that much in fresh pages (20 Newsgroups, stored model:
 * 29.7k -> 24.2k page faults, 2% less CPU). */
#define QUEUE_HELD_MAX_BYTES ((size_t)2 << 20)

/* One buffer per worker (one without workers), each with its own analyzer
 * and its share of the budget: what the queues leave, split evenly. */
static int create_buffers(newsidx_writer *w, uint32_t n, size_t budget) {
    w->bufs = calloc(n, sizeof *w->bufs);
    if (!w->bufs) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    w->n_bufs = n;
    size_t queues = n > 1 ? queue_bytes(w) * n : 0;
    size_t reserve = write_reserve(w->opts.store_fields, n);
    /* n > 1: the budget holds queues, reserve and 768 KiB per worker
     * (writer_threads). One buffer keeps 768 KiB when the reserve leaves
     * less (such a budget is not met: README, "Memory"), or the whole
     * budget when that is smaller still. */
    size_t share = n > 1 ? (budget - queues - reserve) / n
                   : budget > reserve + MIN_WORKER_BUDGET ? budget - reserve
                                                          : NX_MIN(budget, MIN_WORKER_BUDGET);
    newsidx_analyzer_options ao;
    newsidx_analyzer_options_init(&ao);
    ao.stem_language = w->stem;
    ao.stopwords_language = w->stop;
    for (uint32_t i = 0; i < n; i++) {
        wbuf *b = &w->bufs[i];
        b->w = w;
        b->err = &w->err; /* a worker points it at its own (nx_wpool_start) */
        b->ram_budget = share;
        int rc = newsidx_analyzer_create(&ao, &b->an);
        if (rc)
            return nx_err_set(&w->err, rc, "cannot create the analyzer (stem '%s', stopwords '%s')",
                              w->stem ? w->stem : "", w->stop ? w->stop : "");
    }
    return 0;
}

/* Appending keeps the analyzer the index was built with; a setting the
 * caller names explicitly must be that one, or the call is refused (an
 * index has one analyzer: queries analyze like the index did). */
static int check_same_analyzer(const char *dir, const nx_manifest *m,
                               const newsidx_writer_options *o, nx_err *err) {
    const char *have[2] = {m->stem_language, m->stopwords_language};
    const char *want[2] = {o->stem_language, o->stopwords_language};
    static const char *const what[2] = {"stemming", "stopwords"};
    for (int i = 0; i < 2; i++) {
        if (!want[i]) continue;
        const char *h = have[i] && have[i][0] ? have[i] : "none";
        const char *x = want[i][0] ? want[i] : "none";
        if (!(i == 0 ? nx_same_stemmer(h, x) : nx_same_stopwords(h, x)))
            return nx_err_set(err, NEWSIDX_ERR_INVALID,
                              "%s was built with %s '%s', not '%s': an index keeps the analyzer "
                              "it was built with (leave the option out to append, or build a "
                              "new index)",
                              dir, what[i], h, x);
    }
    return 0;
}

/* Opens the segments of manifest m as the writer's, with their committed
 * deletions as the starting point of its own. */
static int load_segments(newsidx_writer *w, const nx_manifest *m) {
    for (uint32_t i = 0; i < m->n_segments; i++) {
        nx_segment *seg;
        NX_FORWARD(nx_segment_open_expect(w->dir, m->segments[i].seg_no, m->segments[i].del_gen,
                                          m->segments[i].sums, &w->err, &seg));
        int rc = nx_manifest_check_segment(w->dir, m->generation, &m->segments[i], seg, &w->err);
        if (rc == 0 && nx_writer_push_segment(w, seg))
            rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        if (rc) {
            nx_segment_close(seg);
            return rc;
        }
        if (seg->deleted) {
            wseg *ws = &w->segs[w->n_segs - 1];
            size_t bytes = ((size_t)seg->doc_count + 7) / 8;
            ws->del = malloc(bytes + 1);
            NX_RETURN_IF(!ws->del, &w->err, NEWSIDX_ERR_NOMEM, "out of memory");
            memcpy(ws->del, seg->deleted, bytes);
            ws->n_del = seg->doc_count - seg->live_count;
            ws->del_gen = m->segments[i].del_gen;
            ws->del_sum = seg->del.checksum;
        }
    }
    return 0;
}

int newsidx_writer_open(const char *dir, const newsidx_writer_options *opts, char *errbuf,
                        size_t errbuf_size, newsidx_writer **out) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!out)
        return nx_errbuf_set(errbuf, errbuf_size, NEWSIDX_ERR_INVALID, "newsidx_writer_open: no out-parameter");
    *out = NULL;
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    if (opts && nx_options_copy(&o, sizeof o, opts, "writer", &err)) {
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    if (!dir) {
        nx_err_set(&err, NEWSIDX_ERR_INVALID, "no index directory");
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    if (o.ram_budget_bytes == 0) o.ram_budget_bytes = (size_t)256 << 20;
    if (o.ram_budget_bytes > MAX_RAM_BUDGET) o.ram_budget_bytes = MAX_RAM_BUDGET;
    if (o.merge_factor < 2) o.merge_factor = 10;
    if (o.max_field_bytes == 0) o.max_field_bytes = 16u << 20;
    if (o.doc_store_block_bytes == 0) o.doc_store_block_bytes = NX_DOCSTORE_DEFAULT_BLOCK_BYTES;

    newsidx_writer *w = calloc(1, sizeof *w);
    if (!w) {
        nx_err_set(&err, NEWSIDX_ERR_NOMEM, "out of memory");
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    w->lock_fd = -1;
    pthread_mutex_init(&w->progress_lock, NULL);
    w->opts = o;
    w->opts.stem_language = w->opts.stopwords_language = NULL;
    w->dir = strdup(dir);
    int rc = 0;
    nx_manifest m = {0};
    if (!w->dir) rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc == 0 && o.append) {
        struct stat dst;
        if (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))
            rc = nx_err_set(&w->err, NEWSIDX_ERR_NOT_FOUND, "%s: no index to append to", dir);
    }
    if (rc == 0 && !o.append) {
        if (mkdir(dir, 0755) == 0) w->created_dir = true;
        else if (errno != EEXIST)
            rc = nx_err_set(&w->err, NEWSIDX_ERR_IO, "%s: cannot create directory: %s", dir,
                            strerror(errno));
    }
    if (rc == 0) {
        char *lp = nx_path_join(dir, "LOCK");
        if (!lp) rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        else {
            /* O_NOFOLLOW: a LOCK planted as a symbolic link must not make
             * the writer create or lock a file outside the index. */
            w->lock_fd = open(lp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (w->lock_fd < 0 && errno == ELOOP)
                rc = nx_err_set(&w->err, NEWSIDX_ERR_CORRUPT,
                                "%s: is a symbolic link; index files must be regular files "
                                "(remove it to use this index)",
                                lp);
            else if (w->lock_fd < 0)
                rc = nx_err_set(&w->err, NEWSIDX_ERR_IO, "%s: cannot open: %s", lp, strerror(errno));
            else if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0)
                rc = nx_err_set(&w->err, errno == EWOULDBLOCK ? NEWSIDX_ERR_LOCKED : NEWSIDX_ERR_IO,
                                "%s: another writer has the index open (lock %s held)", dir, lp);
            free(lp);
        }
    }
    uint64_t gen = 0;
    if (rc == 0) rc = nx_manifest_latest(dir, &w->err, &gen);
    if (rc == 0 && gen) rc = nx_manifest_read(dir, gen, &w->err, &m);
    if (rc == 0 && o.append && !gen)
        rc = nx_err_set(&w->err, NEWSIDX_ERR_NOT_FOUND, "%s: no index to append to", dir);
    if (rc == 0 && o.append)
        rc = check_same_analyzer(dir, &m, &o, &w->err);
    if (rc == 0) {
        w->generation = gen;
        w->next_seg_no = gen ? m.next_seg_no : 1;
        w->committed_seg_no = w->next_seg_no;
        /* Appending keeps the analyzer the index was built with, whatever
         * the options say: queries must analyze like the index did. */
        const char *stem = o.append ? m.stem_language : o.stem_language;
        const char *stop = o.append ? m.stopwords_language : o.stopwords_language;
        w->stem = dup_or_null(stem);
        w->stop = dup_or_null(stop);
        rc = create_buffers(w, writer_threads(o.threads, o.ram_budget_bytes, o.store_fields),
                            o.ram_budget_bytes);
    }
    if (rc == 0) {
        /* Leftovers of an interrupted writer (uncommitted segments, temp
         * manifests) are garbage: remove them, also where no commit was
         * ever made (m is then empty: every seg_* goes, no MANIFEST-<gen>). */
        nx_remove_unreferenced(dir, &m);
    }
    if (rc == 0 && o.append) rc = load_segments(w, &m);
    nx_manifest_free(&m);
    w->sb.store_fields = o.store_fields != 0;
    w->sb.doc_store_level = o.doc_store_level;
    w->sb.doc_store_block_bytes = o.doc_store_block_bytes;
    w->sb.no_sync = o.no_sync != 0;
    /* one doc store dictionary for the run, so merges copy blocks */
    if (rc == 0 && w->sb.store_fields && nx_docstore_shared_new(&w->sb.doc_dict))
        rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc == 0 && w->n_bufs > 1)
        rc = nx_wpool_start(w, w->n_bufs, NX_MIN(queue_bytes(w), QUEUE_HELD_MAX_BYTES));
    if (rc) {
        nx_err_copy(&w->err, errbuf, errbuf_size);
        newsidx_writer_close(w);
        return rc;
    }
    w->opened = true;
    w->merge_at_segs = w->n_segs + w->opts.merge_factor;
    *out = w;
    return 0;
}

int nx_writer_push_segment(newsidx_writer *w, nx_segment *seg) {
    if (w->n_segs == w->cap_segs) {
        wseg *ns = grow_array(w->segs, &w->cap_segs, sizeof *ns, 16);
        if (!ns) return NEWSIDX_ERR_NOMEM;
        w->segs = ns;
    }
    wseg *ws = &w->segs[w->n_segs++];
    memset(ws, 0, sizeof *ws);
    ws->seg = seg;
    /* committed segments come from load_segments; newer ones from a flush */
    ws->run_flush = seg->seg_no >= w->committed_seg_no;
    return 0;
}

int newsidx_writer_commit(newsidx_writer *w) {
    if (!w) return NEWSIDX_ERR_INVALID;
    if (w->pool && !w->failed) {
        int frc = nx_wpool_drain(w, false); /* a worker's error becomes the commit's */
        if (frc) w->failed = frc;
    }
    if (w->failed) {
        if (w->pool) (void)nx_wpool_drain(w, false); /* no worker writes what goes below */
        nx_bgmerge_cancel(w);
        discard_uncommitted(w);
        return w->failed;
    }
    int rc = nx_writer_flush(w);
    /* the workers' last flushes and the running merge end side by side,
     * and the run's flushes merge on this thread while that merge (a
     * tier's, which the end of a long run often finds running) goes on:
     * after it, one core of two sat idle during the 1M run's last merge */
    if (rc == 0) rc = nx_writer_merge_run_flushes(w);
    if (rc == 0) rc = nx_bgmerge_wait(w);
    if (rc == 0) rc = nx_writer_commit_merge(w);
    w->merge_all = false;
    uint64_t gen = w->generation + 1;
    /* steps: each segment's tombstones, then the manifest */
    nx_progress pr = {0};
    if (rc == 0) nx_progress_begin(&pr, w, NEWSIDX_PHASE_COMMITTING, 0, 0, (uint64_t)w->n_segs + 1, 0);
    nx_manifest m = {0};
    if (rc == 0) {
        m.generation = gen;
        m.next_seg_no = w->next_seg_no;
        m.stem_language = w->stem;
        m.stopwords_language = w->stop;
        m.n_segments = 0;
        m.segments = calloc(w->n_segs + 1, sizeof *m.segments);
        if (!m.segments) rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; rc == 0 && i < w->n_segs; i++) {
        wseg *ws = &w->segs[i];
        uint32_t n = nx_segment_doc_count(ws->seg);
        if (ws->n_del == n) continue; /* every article replaced: drop the segment */
        if (ws->del_dirty) {
            /* A new tombstone file per commit: never edited in place. */
            rc = nx_tombstone_write(w->dir, ws->seg->seg_no, (uint32_t)gen, ws->del, n,
                                    !w->opts.no_sync, &w->err, &ws->new_del_sum);
            if (rc) break;
        }
        nx_manifest_seg *ms = &m.segments[m.n_segments++];
        ms->seg_no = ws->seg->seg_no;
        ms->doc_count = n;
        ms->del_count = ws->n_del;
        ms->del_gen = ws->del_dirty ? (uint32_t)gen : ws->del_gen;
        nx_segment_sums(ws->seg, ms->sums); /* the writer's view has no tombstones: */
        ms->sums[NX_SEG_DEL] = ws->del_dirty ? ws->new_del_sum : ws->del_sum;
        nx_progress_step(&pr, 1);
    }
    if (rc == 0) rc = nx_manifest_write(w->dir, &m, !w->opts.no_sync, &w->err);
    if (rc == 0) nx_progress_end(&pr);
    if (rc == 0) {
        w->generation = gen;
        w->committed = true;
        w->committed_seg_no = w->next_seg_no;
        uint32_t o = 0;
        for (uint32_t i = 0; i < w->n_segs; i++) {
            wseg *ws = &w->segs[i];
            if (ws->n_del == nx_segment_doc_count(ws->seg)) {
                nx_segment_close(ws->seg);
                free(ws->del);
                continue;
            }
            if (ws->del_dirty) {
                ws->del_gen = (uint32_t)gen;
                ws->del_sum = ws->new_del_sum;
                ws->del_dirty = false;
            }
            ws->run_flush = false; /* committed: the next commit leaves it to the tiers */
            w->segs[o++] = *ws;
        }
        w->n_segs = o;
        w->merge_at_segs = w->n_segs + w->opts.merge_factor;
        nx_remove_unreferenced(w->dir, &m);
    } else {
        /* A commit that returns an error has not happened: the directory
         * is back at the last commit before this call returns. */
        w->failed = rc;
        nx_bgmerge_cancel(w);
        discard_uncommitted(w);
    }
    m.stem_language = m.stopwords_language = NULL; /* owned by w */
    nx_manifest_free(&m);
    return rc;
}

NEWSIDX_API int newsidx_writer_optimize(newsidx_writer *w) {
    if (!w) return NEWSIDX_ERR_INVALID;
    if (w->failed) return w->failed;
    w->merge_all = true;
    return newsidx_writer_commit(w);
}

int newsidx_writer_force_merge(newsidx_writer *w, uint32_t max_segments) {
    if (!w) return NEWSIDX_ERR_INVALID;
    if (w->failed) return w->failed;
    NX_RETURN_IF(max_segments == 0, &w->err, NEWSIDX_ERR_INVALID,
                 "newsidx_writer_force_merge: max_segments must be at least 1");
    w->merge_max = max_segments;
    int rc = newsidx_writer_commit(w);
    w->merge_max = 0;
    return rc;
}

/* ---- deletes and rollback ---------------------------------------------------- */

int newsidx_writer_delete(newsidx_writer *w, const char *id, size_t id_len, uint64_t *n_deleted) {
    if (n_deleted) *n_deleted = 0;
    if (!w) return NEWSIDX_ERR_INVALID;
    NX_RETURN_IF(!id && id_len, &w->err, NEWSIDX_ERR_INVALID, "newsidx_writer_delete: no id");
    if (w->failed) return w->failed;
    if (w->pool) {
        /* a worker's or a merge's error comes back here as from an add */
        int rc = nx_wpool_drain(w, false);
        if (rc == 0) rc = nx_bgmerge_poll(w);
        if (rc) return w->failed = rc;
    }
    int found = nx_writer_delete_id(w, id ? id : "", id_len);
    if (found < 0) return nx_err_set(&w->err, found, "out of memory");
    if (n_deleted) *n_deleted = (uint64_t)found;
    return 0;
}

/* The writer's segments as they stand, uncommitted deletions included, as
 * a reader: what delete_query searches. */
static int writer_reader(newsidx_writer *w, newsidx_reader **out) {
    *out = NULL;
    nx_segment **views = calloc(w->n_segs + 1, sizeof *views);
    NX_RETURN_IF(!views, &w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    int rc = 0;
    uint32_t n = 0;
    for (; n < w->n_segs && rc == 0; n++) {
        wseg *ws = &w->segs[n];
        rc = nx_segment_view(ws->seg, ws->del, ws->n_del, &w->err, &views[n]);
    }
    nx_snapshot *snap = NULL;
    if (rc == 0) rc = nx_snapshot_of(views, n, w->generation, w->stem, w->stop, &w->err, &snap);
    for (uint32_t i = 0; i < n; i++) nx_segment_close(views[i]); /* the snapshot holds them */
    free(views);
    if (rc) return rc;
    *out = nx_reader_of(snap);
    if (!*out) {
        nx_snapshot_free(snap);
        return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* At most this many matches are taken per search pass of delete_query. */
#define DELETE_QUERY_BATCH 100000u

int newsidx_writer_delete_query(newsidx_writer *w, const char *query, size_t len,
                                uint64_t *n_deleted) {
    if (n_deleted) *n_deleted = 0;
    if (!w) return NEWSIDX_ERR_INVALID;
    NX_RETURN_IF(!query && len, &w->err, NEWSIDX_ERR_INVALID, "newsidx_writer_delete_query: no query");
    if (w->failed) return w->failed;
    /* the RAM buffer's articles become a segment, so the query sees them */
    int rc = nx_writer_flush(w);
    if (rc == 0) rc = nx_bgmerge_poll(w);
    if (rc) {
        w->failed = rc;
        return rc;
    }
    uint64_t total = 0;
    for (;;) {
        newsidx_reader *r;
        NX_FORWARD(writer_reader(w, &r));
        newsidx_query *q = NULL;
        size_t col = 0;
        char eb[sizeof w->err.msg];
        rc = newsidx_query_parse(r, query ? query : "", len, NULL, &col, eb, sizeof eb, &q);
        newsidx_results *res = NULL;
        if (rc == 0) {
            /* ids only, in doc order: no scores, stored fields nor snippets */
            newsidx_search_options so;
            newsidx_search_options_init(&so);
            so.k = DELETE_QUERY_BATCH;
            so.sort = NEWSIDX_SORT_DATE_ASC;
            so.fields = "";
            so.snippets = 0;
            rc = newsidx_search_v2(r, q, &so, eb, sizeof eb, &res);
        }
        size_t n = newsidx_results_count(res);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            const char *id = newsidx_hit_id(res, i);
            int found = nx_writer_delete_id(w, id, strlen(id));
            if (found < 0) rc = nx_err_set(&w->err, found, "out of memory");
            else total += (uint64_t)found;
        }
        if (rc && eb[0] && rc != NEWSIDX_ERR_NOMEM) nx_err_set(&w->err, rc, "query: %s", eb);
        newsidx_results_free(res);
        newsidx_query_free(q);
        newsidx_reader_close(r);
        if (rc || n < DELETE_QUERY_BATCH) break;
    }
    if (n_deleted) *n_deleted = total;
    return rc;
}

int newsidx_writer_rollback(newsidx_writer *w) {
    if (!w) return NEWSIDX_ERR_INVALID;
    if (w->pool) {
        (void)nx_wpool_drain(w, false); /* an error of theirs is rolled back too */
        nx_wpool_reset(w);
    }
    nx_bgmerge_cancel(w); /* before its inputs close: it may still read them */
    for (uint32_t i = 0; i < w->n_bufs; i++) nx_wbuf_free(&w->bufs[i]);
    for (uint32_t i = 0; i < w->n_segs; i++) {
        nx_segment_close(w->segs[i].seg);
        free(w->segs[i].del);
    }
    w->n_segs = 0;
    w->failed = 0;
    w->merge_all = false;
    w->merge_max = 0;
    /* back to the last commit: the writer's own, else the one it opened on
     * when appending, else an empty index */
    nx_manifest m = {0};
    int rc = 0;
    if (w->generation) rc = nx_manifest_read(w->dir, w->generation, &w->err, &m);
    if (rc == 0) {
        w->next_seg_no = w->generation ? m.next_seg_no : 1;
        /* segments flushed since are unreferenced: their files go */
        nx_remove_unreferenced(w->dir, &m);
        if (w->committed || w->opts.append) rc = load_segments(w, &m);
    }
    nx_manifest_free(&m);
    w->merge_at_segs = w->n_segs + w->opts.merge_factor;
    if (rc) w->failed = rc;
    return rc;
}
