/* index/writer_internal — private to the writer's files: the writer struct
 * and its RAM buffers (one per worker), shared by writer.c (public
 * functions, ids, commit), writer_pool.c (the workers and their queues),
 * rambuf.c (slice pool, term hash, the token path), flush.c (buffer ->
 * segment) and merge.c (merge policy).
 *
 * RAM buffer layout (not on disk): each (field, term) owns one byte
 * stream in the slice pool, one entry per occurrence: the first in a doc
 * is varint(position << 1 | 1), varint(doc - previous doc of the term),
 * a later one varint((position - previous position) << 1). Freqs are
 * counted when the flush reads the stream back. One stream instead of a
 * doc and a position stream, so a token writes to one pool line, not two.
 * A stream is a chain of slices of growing size (16 B .. 4 KiB), each
 * ending with the u32 pool offset of the next one, so a term costs little
 * until it proves frequent (Lucene's ByteBlockPool idea). */
#ifndef NX_WRITER_INTERNAL_H
#define NX_WRITER_INTERNAL_H

#include "index/index_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* 64 KiB pages: small enough that a small RAM budget is honoured, large
 * enough that page bookkeeping is noise. */
#define POOL_PAGE_BITS 16
#define POOL_PAGE ((uint32_t)1 << POOL_PAGE_BITS)
/* The pool addresses slices with u32 offsets: at most 4 GiB of postings
 * per segment, so the RAM budget is capped at 3 GiB (documented). */
#define MAX_RAM_BUDGET ((size_t)3 << 30)
/* A commit rewrites a segment on its own once more than this share (in
 * percent) of its articles are deleted (FORMAT.md, "Merge policy"). */
#define NX_EXPUNGE_PERCENT 30

typedef struct wstream {
    uint32_t head, wp, wend; /* first slice, write pointer, end of the slice's data */
} wstream;

/* One cache line per term (the array is 64-byte aligned): a token touches
 * its term's line and, only for keys longer than 16 bytes, the key's tail
 * in w->keys. Counts of doc entries and positions are not kept: the flush
 * reads a stream up to its write pointer and grows its scratch as it goes. */
typedef struct wterm {
    uint64_t key8[2]; /* the key's first 16 bytes (little-endian), zero padded */
    uint32_t key_off;
    uint16_t key_len; /* field byte + term */
    uint8_t level;    /* slice level of the stream */
    uint8_t unused;
    uint32_t doc;      /* last doc with an occurrence (UINT32_MAX: none yet) */
    uint32_t last_pos; /* position of that doc's last occurrence */
    wstream os;        /* the occurrence stream */
    uint8_t pad[20];
} wterm;
_Static_assert(sizeof(wterm) == 64, "a term entry is one cache line");

/* Term entries live in fixed chunks of one slab each, so they never move
 * (a growing array was copied at each doubling: bench/README.md, "History
 * of measured choices"). */
#define TERM_CHUNK_BITS 15
#define TERM_CHUNK ((uint32_t)1 << TERM_CHUNK_BITS)

typedef struct wdoc {
    int64_t date;
    uint64_t id_hash;
    uint64_t simhash; /* index/simhash.h */
    uint64_t stored_off;
    uint32_t stored_len;
    uint32_t id_off, id_len;
    uint32_t src_off, src_len;
    uint32_t text_bytes;
    uint32_t field_len[NX_N_FIELDS];
    uint8_t deleted;
} wdoc;

typedef struct wseg {
    nx_segment *seg;
    uint8_t *del; /* deletion bitmap (doc_count bits) or NULL */
    uint32_t n_del;
    uint32_t del_gen;
    uint64_t del_sum;     /* footer checksum of tombstone file del_gen (0: none) */
    uint64_t new_del_sum; /* of the one the commit under way wrote */
    bool del_dirty;
    /* written by a flush since the last commit, and no merge took it yet:
     * the commit merges such segments into one (merge.c, merge_run_flushes) */
    bool run_flush;
} wseg;

/* A block of stored-fields records: a slab, or a larger mapping for a
 * record longer than a slab. */
typedef struct wchunk {
    uint8_t *data;
    size_t bytes;
} wchunk;

/* One RAM buffer: the articles added since its last flush, inverted. The
 * writer has one per worker (one in all when it runs no threads); a
 * buffer is only ever touched by its worker, or by the caller while the
 * workers are drained. */
typedef struct wbuf {
    newsidx_writer *w;   /* the owner: options, directory, segments */
    newsidx_analyzer *an; /* the buffer's own: analyzers keep scratch */
    nx_err *err;         /* where the buffer's errors go (the writer's, or its worker's) */
    size_t ram_budget;   /* this buffer's share of ram_budget_bytes */
    uint64_t last_seq;   /* sequence number of the last article added (threads: writer_pool.c) */
    uint8_t **pages;
    uint32_t n_pages, page_used;
    wterm **term_chunks; /* TERM_CHUNK entries each: entries never move */
    uint32_t n_term_chunks;
    uint32_t n_terms;
    uint32_t cap_terms; /* for the RAM accounting only: see add_token */
    uint64_t *term_slots; /* (hash high 32 bits) << 32 | (term index + 1); 0 = empty */
    uint32_t term_mask;
    nx_buf keys, ids, srcs;
    /* stored-fields records, in slabs (rambuf.c, nx_wbuf_stored_append);
     * a doc's stored_off is chunk << 32 | offset in it */
    struct wchunk *stored_chunks;
    uint32_t n_stored_chunks, cap_stored_chunks;
    size_t stored_used; /* bytes used of the last chunk */
    /* bytes of the records, and the capacity the nx_buf they lived in
     * before would have now: what the budget counts (writer.c) */
    size_t stored_len, stored_cap;
    wdoc *docs;
    uint32_t n_docs, cap_docs, n_deleted;
    uint32_t *id_slots; /* doc index + 1 */
    uint32_t id_mask;
    /* analysis of the current doc */
    uint32_t cur_doc;
    int cur_field;
    uint32_t cur_len;
    nx_buf s_key;      /* key bytes of the field's tokens */
    struct wtok *toks; /* tokens of the field being analyzed */
    uint32_t n_tok, cap_tok;
    /* flush scratch (grow-only) */
    nx_term_entries s_entries;
    nx_buf s_fields;
    /* slabs of the last flushed buffer, for the next to fill (rambuf.c,
     * nx_wbuf_recycle) */
    void **spare_slabs;
    uint32_t n_spare_slabs, cap_spare_slabs;
} wbuf;

/* An article as the add path hands it to a buffer: fields checked, id
 * and date known (writer.c prepares it on the caller's thread). */
typedef struct warticle {
    const newsidx_field *fields;
    size_t n_fields;
    const newsidx_field *idf, *srcf, *indexed[NX_N_FIELDS];
    const char *id;
    size_t id_len;
    uint64_t id_hash;
    int64_t date;
    /* false: no segment holds the id (the caller knew it: writer_pool.c),
     * so replacing looks only in the buffer */
    bool segments_may_have_id;
} warticle;

typedef struct nx_wpool nx_wpool;
typedef struct nx_merge nx_merge;

struct newsidx_writer {
    char *dir;
    int lock_fd;
    bool created_dir; /* open made the directory: a writer that never commits removes it */
    nx_err err;
    int failed; /* sticky: a failed flush/commit leaves the buffer unusable */
    bool merge_all; /* set by newsidx_writer_optimize for its commit */
    uint32_t merge_max; /* set by newsidx_writer_force_merge for its commit (0: policy) */
    bool committed;     /* this writer has committed at least once */
    bool opened;        /* open succeeded: the LOCK is held and the directory read */
    newsidx_writer_options opts;
    char *stem, *stop;
    nx_segbuild_opts sb;
    /* committed + flushed segments (with workers: guarded by the pool's lock) */
    uint64_t generation;
    uint32_t next_seg_no;
    /* next_seg_no of the last commit (or of the manifest open found):
     * segment files numbered from here on are this writer's, uncommitted */
    uint32_t committed_seg_no;
    wseg *segs;
    uint32_t n_segs, cap_segs;
    uint32_t merge_at_segs; /* an add runs the merge policy once n_segs reaches this */
    nx_merge *bg_merge;     /* the merge running beside the workers (merge_bg.c), or NULL */
    /* RAM buffers: one per worker */
    wbuf *bufs;
    uint32_t n_bufs;
    nx_wpool *pool; /* the workers (writer_pool.c); NULL: the caller's thread does it all */
    /* progress (opts.progress): text and articles added since open, and
     * the text count at which the next ADDING call is due */
    uint64_t text_added, articles_added, text_next_report;
    /* opts.progress is called under this lock: flushes report from the
     * workers, adds from the caller's thread */
    pthread_mutex_t progress_lock;
};

/* ---- progress (newsidx_writer_progress) ------------------------------------ */

/* Text added between two ADDING calls. */
#define NX_PROGRESS_TEXT_STEP ((uint64_t)1 << 18)

/* Fewest units between two calls of one phase: a flush of a few docs is
 * reported at its start and end, not once per term. */
#define NX_PROGRESS_MIN_STEP 64

/* One phase's progress: reported at its start, then whenever done passes
 * `next` (every 1/1000 of the total, NX_PROGRESS_MIN_STEP at least), and
 * at its end, so that a caller that draws a line sees it move without
 * paying a call per term. */
typedef struct nx_progress {
    newsidx_writer *w; /* NULL: no callback, every call is a no-op */
    newsidx_writer_progress p;
    uint64_t next;
    uint64_t doc_weight; /* units per doc */
} nx_progress;

/* Share of a flush's or merge's time its docs take, in percent, with the
 * doc store on and off. Measured on the merge of 20 segments of 60,000
 * generated articles (`newsidx index --ram 16 --optimize`, times of the
 * progress line): docs 6.9 s (reading and recompressing the doc store),
 * terms 4.7 s. Weighing docs by it keeps the percent near the share of
 * the time (counting docs and terms alike showed 6% when the docs, most
 * of the time, were done). */
#define NX_PROGRESS_DOCS_SHARE_STORED 60
#define NX_PROGRESS_DOCS_SHARE_BARE 10

static inline void nx_progress_report(nx_progress *pr) {
    if (pr->p.done > pr->p.total) pr->p.done = pr->p.total; /* an estimate ran short */
    pthread_mutex_lock(&pr->w->progress_lock);
    pr->p.text_bytes = pr->w->text_added;
    pr->w->opts.progress(pr->w->opts.progress_ctx, &pr->p);
    pthread_mutex_unlock(&pr->w->progress_lock);
    pr->next = pr->p.done + NX_MAX(pr->p.total / 1000, NX_PROGRESS_MIN_STEP);
}

/* Starts a phase of `docs` docs (weighed by `docs_share` percent of the
 * whole, 0..99) and `other` units of other work. */
static inline void nx_progress_begin(nx_progress *pr, newsidx_writer *w, int phase,
                                     uint32_t segments, uint64_t docs, uint64_t other,
                                     unsigned docs_share) {
    pr->w = w->opts.progress ? w : NULL;
    pr->doc_weight = 1;
    if (docs && docs_share)
        pr->doc_weight = NX_MAX(other * docs_share / ((100 - docs_share) * docs), 1);
    pr->p = (newsidx_writer_progress){.phase = phase,
                                      .segments = segments,
                                      .total = docs * pr->doc_weight + other,
                                      .docs_total = docs};
    if (pr->w) nx_progress_report(pr);
}

/* n units of other work done. */
static inline void nx_progress_step(nx_progress *pr, uint64_t n) {
    if (!pr->w) return;
    pr->p.done += n;
    if (pr->p.done >= pr->next && pr->p.done < pr->p.total) nx_progress_report(pr);
}

/* One doc done. */
static inline void nx_progress_doc(nx_progress *pr) {
    if (!pr->w) return;
    pr->p.docs_done++;
    nx_progress_step(pr, pr->doc_weight);
}

/* The phase is over: done = total. */
static inline void nx_progress_end(nx_progress *pr) {
    if (!pr->w) return;
    pr->p.done = pr->p.total;
    pr->p.docs_done = pr->p.docs_total;
    nx_progress_report(pr);
}

/* realloc of an array whose capacity doubles (first: the first capacity):
 * returns the new array and updates *cap, or NULL (array and *cap as they
 * were). */
static inline void *grow_array(void *arr, uint32_t *cap, size_t elem_bytes, uint32_t first) {
    uint32_t nc = *cap ? *cap * 2 : first;
    void *n = realloc(arr, elem_bytes * nc);
    if (n) *cap = nc;
    return n;
}

/* n zeroed bytes, written: for hash tables, whose first touch of a page
 * is a lookup's read. calloc leaves fresh pages unwritten; read first,
 * such a page maps the shared zero page and the first insert copies it,
 * a second fault with a TLB flush on every core the writer's threads ran
 * on (rambuf.c, slabs_alloc_written). NULL when out of memory. */
static inline void *zalloc_written(size_t n) {
    void *p = malloc(n);
    if (!p) return NULL;
    /* gcc turns malloc + memset into calloc: the empty asm, which may read
     * p's memory, keeps the memset */
    __asm__ volatile("" : : "r"(p) : "memory");
    return memset(p, 0, n);
}

/* ---- the RAM buffer (rambuf.c) ------------------------------------------ */

/* Slices grow from 16 bytes at level 0 to 4 KiB at the last level. */
#define N_SLICE_LEVELS 9
static inline uint32_t slice_bytes(unsigned level) { return 16u << level; }

static inline uint8_t *pool_at(const wbuf *b, uint32_t off) {
    return b->pages[off >> POOL_PAGE_BITS] + (off & (POOL_PAGE - 1));
}

static inline wterm *term_at(const wbuf *b, uint32_t i) {
    return &b->term_chunks[i >> TERM_CHUNK_BITS][i & (TERM_CHUNK - 1)];
}

/* A reader over a stream keeps raw pointers into the current slice (a
 * slice never crosses a page), so a byte costs a compare and a load. */
typedef struct rstream {
    const uint8_t *p, *end; /* current slice's data; end = its link */
    uint8_t level;
} rstream;

static inline void rstream_init(const wbuf *w, rstream *r, const wstream *s) {
    r->p = pool_at(w, s->head);
    r->end = r->p + slice_bytes(0);
    r->level = 0;
}

static inline uint8_t rstream_get(const wbuf *w, rstream *r) {
    if (NX_UNLIKELY(r->p == r->end)) {
        uint32_t next = nx_load_u32le(r->end);
        if (r->level + 1 < (int)N_SLICE_LEVELS) r->level++;
        r->p = pool_at(w, next);
        r->end = r->p + slice_bytes(r->level);
    }
    return *r->p++;
}

static inline uint64_t rstream_varint(const wbuf *w, rstream *r) {
    /* most varints are one byte and most lie inside the slice: no slice
     * check per byte for them */
    if (NX_LIKELY(r->end - r->p >= 10)) {
        uint64_t v = *r->p++;
        if (NX_LIKELY(v < 0x80)) return v;
        v &= 0x7f;
        for (int shift = 7;; shift += 7) {
            uint8_t b = *r->p++;
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
    }
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t b = rstream_get(w, r);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
}

/* Analyzes len bytes of text as field `field` of doc b->cur_doc and adds
 * its terms to the buffer; *n_tokens gets the field's length in tokens.
 * 0 or NOMEM (then the buffer may hold part of the field). */
int nx_wbuf_index_field(wbuf *b, int field, const char *text, size_t len, uint32_t *n_tokens);
/* Room for one stored-fields record of `bytes` bytes, in one piece; *off
 * gets its place for nx_wbuf_stored_at. NULL when out of memory. */
uint8_t *nx_wbuf_stored_append(wbuf *b, size_t bytes, uint64_t *off);
static inline const uint8_t *nx_wbuf_stored_at(const wbuf *b, uint64_t off) {
    return b->stored_chunks[off >> 32].data + (uint32_t)off;
}
/* true when the buffer must be flushed before the next article (its RAM
 * budget reached, pool or segment limits near). */
bool nx_wbuf_full(const wbuf *b);
/* Bytes the buffer holds (what its budget bounds). */
size_t nx_wbuf_ram_used(const wbuf *b);
/* Frees the buffer's docs, terms and pool, and the spare slabs; the
 * buffer keeps its scratch. */
void nx_wbuf_free(wbuf *b);
/* Empties the buffer as nx_wbuf_free does, but keeps its pool and term
 * slabs as spares for the buffer that fills next (a flush because the
 * buffer was full: another will follow). */
void nx_wbuf_recycle(wbuf *b);
/* Frees the scratch too (the buffer is then unused). */
void nx_wbuf_destroy(wbuf *b);

/* ---- the writer's other files -------------------------------------------- */

/* Writes the buffer as a new segment (docs in date order), adds it to the
 * writer's segments and empties the buffer (flush.c). No-op when it is
 * empty. Errors go to *b->err. */
int nx_wbuf_flush(wbuf *b);
/* Adds the article to buffer b (writer.c): replaces an earlier article
 * with its id (in b and in the segments), stores and analyzes it, and
 * flushes b when full. Sets NEWSIDX_WARN_REPLACED and _FIELD_CUT in *warn.
 * 0 or an error (then b is unusable: the writer stops). */
int nx_wbuf_add(wbuf *b, const warticle *a, unsigned *warn);
/* Flushes every buffer (the workers' in parallel). 0 or an error. */
int nx_writer_flush(newsidx_writer *w);
/* Appends seg to the writer's segments (writer.c). 0 or NOMEM. With
 * workers the caller holds the pool's lock. */
int nx_writer_push_segment(newsidx_writer *w, nx_segment *seg);
/* Merges segments by the tiered policy (merge.c): what a run does as
 * segments pile up. */
int nx_writer_merge(newsidx_writer *w);
/* Merges segments before a commit (merge.c): all into one when
 * w->merge_all, down to w->merge_max when set, else by the tiered policy
 * and then the run's flushed segments that no tier merge took, into one. */
int nx_writer_commit_merge(newsidx_writer *w);
/* At a commit (not an optimize or force merge, nor with keep_flushes),
 * once the workers' last flushes are in: merges the run's flushes that
 * the running background merge does not read into one, on the caller's
 * thread, so that it runs beside that merge instead of after it (merge.c).
 * nx_writer_commit_merge, after the background merge, merges what is
 * left. 0 or an error (message in w->err). */
int nx_writer_merge_run_flushes(newsidx_writer *w);

/* ---- one merge (merge.c), in the background (merge_bg.c) ------------------- */

/* Segments merged at once at the most. */
#define NX_MERGE_MAX 256

/* What a cancelled merge returns; it never reaches a caller. */
#define NX_MERGE_CANCELLED (-1000)

/* One merge of some of the writer's segments into a new one. It reads its
 * inputs through references and deletion bitmaps of its own, copied when
 * it started, so it may run on another thread while workers flush and the
 * caller deletes: deletions made meanwhile land in the writer's bitmaps,
 * and the swap replays them onto the merged segment through the doc maps
 * (as Lucene's commitMergedDeletes does). */
struct nx_merge {
    newsidx_writer *w;
    uint32_t n_in;
    uint32_t seg_no; /* the merged segment's number */
    nx_segment *in[NX_MERGE_MAX];
    uint8_t *del[NX_MERGE_MAX];  /* the inputs' deletions at the start, or NULL */
    uint32_t *map[NX_MERGE_MAX]; /* old doc -> new doc, UINT32_MAX: dropped */
    nx_segment *out;             /* the merged segment, once written and opened */
    bool swapped;                /* out is the writer's: its files stay */
    bool compact; /* to give deleted articles' space back (docstore.h, begin_merge) */
    int rc;
    nx_err err;
    int cancel;  /* set (atomically) to stop the merge at its next check */
    int done;    /* set (atomically) by the merge's thread when it ends */
    bool threaded;
    pthread_t thread;
};

/* The tiered policy's next merge: up to NX_MERGE_MAX indexes into w->segs
 * in idx (ascending), and their count, 0 when nothing is to merge. With
 * workers the caller holds the pool's lock. */
uint32_t nx_writer_pick_merge(const newsidx_writer *w, uint32_t *idx);
/* A merge of w->segs[idx[0..n)] into a new segment number, its inputs
 * referenced and their deletions copied. With workers the caller holds
 * the pool's lock. NULL when out of memory (message in w->err). */
nx_merge *nx_merge_prepare(newsidx_writer *w, const uint32_t *idx, uint32_t n);
/* Writes and opens the merged segment (any thread). m->rc, returned too. */
int nx_merge_run(nx_merge *m);
/* Puts the merged segment in its inputs' place in w->segs, with the
 * deletions made since the merge started, and closes the inputs (the
 * files of those flushed since the last commit go). With workers the
 * caller holds the pool's lock. 0 or NOMEM (the segments as they were). */
int nx_merge_swap(newsidx_writer *w, nx_merge *m);
/* Frees the merge; one not swapped in is abandoned: its files go. */
void nx_merge_free(nx_merge *m);

/* With workers (else a no-op): starts the policy's next merge on a thread
 * of its own when none runs, and swaps in one that has ended. 0 or the
 * error of the merge that ended (message in w->err). Caller's thread
 * only. */
int nx_bgmerge_poll(newsidx_writer *w);
/* Waits for the running merge and swaps it in. 0 or its error. */
int nx_bgmerge_wait(newsidx_writer *w);
/* Stops the running merge and removes its files (rollback, close, a
 * failed commit). */
void nx_bgmerge_cancel(newsidx_writer *w);

/* Marks every live article with this id deleted (RAM buffers and
 * segments): 1 if there was one, 0 if not, or NEWSIDX_ERR_NOMEM. With
 * workers, only while they are drained. */
int nx_writer_delete_id(newsidx_writer *w, const char *id, size_t len);
/* 1 when a segment holds a live article with this id (uncommitted
 * deletions included), else 0. */
int nx_writer_segments_have_id(newsidx_writer *w, const char *id, size_t len);

/* ---- workers (writer_pool.c) ------------------------------------------------- */

/* Starts n_threads workers, one per buffer w->bufs[0..n_threads). 0 or
 * NOMEM / an error of thread creation (message in w->err). */
int nx_wpool_start(newsidx_writer *w, uint32_t n_threads, size_t queue_bytes);
/* Stops and joins the workers, frees the pool (NULL: no-op). Queued
 * articles are dropped. */
void nx_wpool_stop(newsidx_writer *w);
/* Copies the article into its worker's queue (the worker is chosen by id,
 * so that one id is always handled by one worker, in order). Sets
 * NEWSIDX_WARN_REPLACED when an article with the id exists. Blocks while
 * the queue is full. 0, NOMEM, or a worker's earlier error. */
int nx_wpool_add(newsidx_writer *w, const warticle *a, unsigned *warn);
/* Waits until every worker has emptied its queue; with flush, each worker
 * then flushes its buffer (in parallel). 0 or the first worker error
 * (message in w->err). */
int nx_wpool_drain(newsidx_writer *w, bool flush);
/* Forgets the ids of queued and buffered articles and a worker error
 * (rollback: the buffers are emptied), or marks
 * one id as no longer pending (delete). Only while drained. */
void nx_wpool_reset(newsidx_writer *w);
void nx_wpool_forget_id(newsidx_writer *w, const char *id, size_t len, uint64_t id_hash);
/* Locks and unlocks the lock that guards the segments while workers run
 * (no-ops without workers). */
void nx_wpool_lock(newsidx_writer *w);
void nx_wpool_unlock(newsidx_writer *w);

#endif
