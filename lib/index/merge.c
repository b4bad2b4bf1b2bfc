/* index/merge — the writer's merge policy, and merging segments into one:
 * live docs only, in date order (a k-way merge by date, ties by input
 * order then doc id), terms walked in dictionary order across the inputs
 * so memory holds one term's postings at a time (read on one thread,
 * written on another, through two batches). Writes through segwrite.c
 * (docs/FORMAT.md, "Merge policy"). */
#include "index/writer_internal.h"

#include <stdlib.h>
#include <string.h>

static bool live(const uint8_t *del, uint32_t doc) {
    return !del || !(del[doc >> 3] & (1u << (doc & 7)));
}

/* One merge: its inputs, the doc maps and the cursors over the inputs. */
typedef struct merge_state {
    nx_segment *const *in;
    const uint8_t *const *del; /* per input: deletion bitmap or NULL */
    uint32_t n_in;
    nx_err *err;
    const int *cancel;         /* nonzero: stop (another thread sets it) */
    uint32_t **map;            /* per input: old doc -> new doc, UINT32_MAX: dropped (the caller's) */
    uint32_t *head;            /* per input: next doc of the date merge */
    nx_termdict_iter *terms;   /* per input: dictionary cursor */
    int *valid;                /* per input: 1 while its cursor is on a term */
    /* per input: the date-ordered merge takes docs from the inputs in
     * turn, and a scratch shared by all would decode each doc's block from
     * its start again after every switch (~half a block per doc instead of
     * one record): on 60,000 generated articles in 20 segments merged by
     * --optimize, 17.0 s of CPU with one scratch, 8.75 s with one per
     * input (bench/README.md, "Doc store"). Each holds at most a block
     * and a zstd context, ~300 KiB, and once it decodes a block written
     * with a dictionary a copy of that (docstore.h), ~650 KiB in all. */
    nx_docstore_scratch *scratch;
    nx_id_walk *ids;           /* per input: its ids, read once in order */
    /* per input on the term being merged: its postings. The term streams
     * into the new segment in doc order (each input's map keeps its docs
     * in order), so a frequent term's positions are never gathered: held,
     * the most frequent term of a 1M-article merge took ~200 MB. */
    nx_postings *post;
    uint32_t *on;              /* the inputs on the term */
    uint32_t *cur;             /* per input on the term: its current doc's new id */
    nx_segbuild *b;
    bool one_thread;           /* a background merge (the workers keep the cores busy), or
                                * a writer told to use one thread */
    struct term_pipe *pipe;    /* non-NULL: terms go to the writing thread through it */
    bool compact;              /* nx_merge's */
    bool stored_beside;        /* the doc store is being copied on a thread of its own */
    nx_progress progress; /* docs, then input terms, then finishing */
} merge_state;

static void merge_free(merge_state *ms) {
    nx_segbuild_abort(ms->b);
    if (ms->scratch)
        for (uint32_t i = 0; i < ms->n_in; i++) nx_docstore_scratch_free(&ms->scratch[i]);
    free(ms->scratch);
    if (ms->ids)
        for (uint32_t i = 0; i < ms->n_in; i++) free(ms->ids[i].blk);
    free(ms->ids);
    free(ms->head);
    free(ms->terms);
    free(ms->valid);
    free(ms->post);
    free(ms->on);
    free(ms->cur);
}

/* Allocates the maps and cursors; *total gets the number of live docs and
 * *store whether every input stores fields. */
static int merge_init(merge_state *ms, uint64_t *total, bool *store) {
    ms->head = calloc(ms->n_in, sizeof *ms->head);
    ms->terms = calloc(ms->n_in, sizeof *ms->terms);
    ms->valid = calloc(ms->n_in, sizeof *ms->valid);
    ms->scratch = calloc(ms->n_in, sizeof *ms->scratch);
    ms->post = calloc(ms->n_in, sizeof *ms->post);
    ms->on = calloc(ms->n_in, sizeof *ms->on);
    ms->cur = calloc(ms->n_in, sizeof *ms->cur);
    ms->ids = calloc(ms->n_in, sizeof *ms->ids);
    if (!ms->head || !ms->terms || !ms->valid || !ms->scratch || !ms->post || !ms->on ||
        !ms->cur || !ms->ids)
        return nx_err_set(ms->err, NEWSIDX_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < ms->n_in; i++) nx_docstore_scratch_init(&ms->scratch[i]);
    *total = 0;
    for (uint32_t i = 0; i < ms->n_in; i++) {
        uint32_t n = nx_segment_doc_count(ms->in[i]);
        ms->map[i] = malloc(sizeof(uint32_t) * (n + 1u));
        if (!ms->map[i]) return nx_err_set(ms->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t d = 0; d < n; d++) {
            ms->map[i][d] = UINT32_MAX;
            *total += live(ms->del[i], d);
        }
        if (!ms->in[i]->docstore) *store = false;
    }
    if (*total > NX_MAX_SEGMENT_DOCS)
        return nx_err_set(ms->err, NEWSIDX_ERR_LIMIT, "merged segment would hold %llu docs",
                          (unsigned long long)*total);
    return 0;
}

/* The input whose next live doc is the oldest (the first input on a tie);
 * its date in *date. */
static uint32_t oldest_head(merge_state *ms, int64_t *date) {
    int best = -1;
    for (uint32_t i = 0; i < ms->n_in; i++) {
        uint32_t n = nx_segment_doc_count(ms->in[i]);
        while (ms->head[i] < n && !live(ms->del[i], ms->head[i])) ms->head[i]++;
        if (ms->head[i] >= n) continue;
        int64_t dt = nx_segment_date(ms->in[i], ms->head[i]);
        if (best < 0 || dt < *date) {
            best = (int)i;
            *date = dt;
        }
    }
    return (uint32_t)best;
}

/* Stored fields, once the doc maps are known: input by input, the doc
 * store copies the compressed blocks that are mostly live and compresses
 * again only the records of the others (docs/FORMAT.md, "Doc store"),
 * so a merge costs what it copies, not what zstd takes to write it.
 * dw: the new segment's store. Errors go to err; `beside`: on a thread
 * of its own beside the terms' (merge_segments), which read the inputs'
 * other files. */
static int merge_stored(merge_state *ms, nx_docstore_writer *dw, nx_err *err, bool beside) {
    uint32_t total = 0;
    for (uint32_t i = 0; i < ms->n_in; i++)
        for (uint32_t d = 0; d < nx_segment_doc_count(ms->in[i]); d++)
            total += ms->map[i][d] != UINT32_MAX;
    int rc = nx_docstore_writer_begin_merge(dw, total, ms->compact);
    for (uint32_t i = 0; i < ms->n_in && rc == 0; i++) {
        /* Copied blocks are not decoded: a damaged input would pass into
         * the merged file under a fresh checksum. Its own checksum is
         * checked first (XXH3 reads at memory speed: ~30 ms for the
         * 580 MB doc store of 1M articles). */
        const nx_segment *c = ms->in[i]->core ? ms->in[i]->core : ms->in[i];
        rc = nx_rfile_verify(&c->docs, err);
        if (rc == 0)
            rc = nx_docstore_merge_input(dw, ms->in[i]->docstore, ms->map[i], &ms->scratch[i],
                                         NULL);
        nx_docstore_scratch_free(&ms->scratch[i]);
        if (beside) nx_segment_release_docstore_pages(ms->in[i]);
        else nx_segment_release_pages(ms->in[i]);
    }
    return rc;
}

/* merge_stored on a thread of its own, its errors in err. */
typedef struct stored_job {
    merge_state *ms;
    nx_docstore_writer *dw;
    nx_err err;
    int rc;
} stored_job;

static void *stored_thread(void *arg) {
    stored_job *j = arg;
    j->rc = merge_stored(j->ms, j->dw, &j->err, true);
    return NULL;
}

/* true when the merge is to stop: checked every few thousand docs and
 * terms, so a rollback or close waits a few milliseconds, not a merge. */
static bool cancelled(const merge_state *ms) {
    return ms->cancel && __atomic_load_n(ms->cancel, __ATOMIC_RELAXED);
}

/* Adds the total live docs to the new segment in date order: norms,
 * columns; fills the doc maps (merge_segments adds the stored fields). */
static int merge_docs(merge_state *ms, uint32_t total, bool store) {
    uint8_t *norms[NX_N_FIELDS];
    for (int f = 0; f < NX_N_FIELDS; f++) norms[f] = nx_segbuild_norms(ms->b, f);
    if (store) (void)nx_segbuild_merge_docstore(ms->b); /* filled by merge_stored */
    for (uint32_t nd = 0; nd < total; nd++) {
        int64_t date = 0;
        uint32_t best = oldest_head(ms, &date);
        nx_segment *s = ms->in[best];
        uint32_t d = ms->head[best]++;
        if ((nd & 8191) == 8191) {
            if (cancelled(ms)) return NX_MERGE_CANCELLED;
            for (uint32_t i = 0; i < ms->n_in; i++) nx_segment_release_pages(ms->in[i]);
        }
        ms->map[best][d] = nd;
        for (int f = 0; f < NX_N_FIELDS; f++) norms[f][nd] = nx_segment_norms(s, f)[d];
        size_t id_len, src_len;
        const char *id = nx_segment_id_walk(s, d, &ms->ids[best], &id_len);
        NX_RETURN_IF(!id, ms->err, NEWSIDX_ERR_CORRUPT, "%s: the id of doc %u does not decode",
                     s->col.path, d);
        const char *sname = nx_segment_source_name(s, nx_segment_source_ord(s, d), &src_len);
        /* per-doc text sizes are not kept: the input's average */
        uint32_t text_bytes = (uint32_t)(s->raw_text_bytes / NX_MAX(s->doc_count, 1));
        NX_FORWARD(
            nx_segbuild_doc(ms->b, date, id, id_len, sname, src_len, text_bytes, NULL, 0));
        NX_FORWARD(nx_segbuild_simhash(ms->b, nx_segment_simhash(s, d)));
        nx_progress_doc(&ms->progress);
    }
    return 0;
}

/* true when input i's cursor is on the term key. */
static bool on_term(const merge_state *ms, uint32_t i, const uint8_t *key, size_t len) {
    return ms->valid[i] == 1 && ms->terms[i].term_len == len &&
           memcmp(ms->terms[i].term, key, len) == 0;
}

/* The input whose cursor is on the smallest term, or -1 when all ended. */
static int smallest_term(const merge_state *ms) {
    int first = -1;
    for (uint32_t i = 0; i < ms->n_in; i++) {
        if (ms->valid[i] != 1) continue;
        if (first < 0) {
            first = (int)i;
            continue;
        }
        const nx_termdict_iter *a = &ms->terms[i], *c = &ms->terms[first];
        int cmp = memcmp(a->term, c->term, NX_MIN(a->term_len, c->term_len));
        if (cmp < 0 || (cmp == 0 && a->term_len < c->term_len)) first = (int)i;
    }
    return first;
}

/* Opens input i's postings of the term under its cursor (key[0] is the
 * field) and moves them to their first live doc. */
static int open_input(merge_state *ms, uint32_t i, const uint8_t *key) {
    nx_segment *in = ms->in[i];
    nx_term_info ti;
    nx_postings *p = &ms->post[i];
    if (nx_segment_term_value(in, key[0], ms->terms[i].value, ms->terms[i].value_len, &ti) ||
        nx_postings_open(p, in, &ti, true))
        return nx_err_set(ms->err, NEWSIDX_ERR_CORRUPT,
                          "%s: corrupt postings of a term at byte %llu", in->post.path,
                          (unsigned long long)ti.postings_off);
    for (uint32_t d = nx_postings_doc(p); d != NX_NO_DOC && ms->map[i][d] == UINT32_MAX;)
        d = nx_postings_next(p);
    return 0;
}

/* The new id of input i's current doc, or NX_NO_DOC at its end. */
static uint32_t mapped_doc(const merge_state *ms, uint32_t i) {
    uint32_t d = nx_postings_doc(&ms->post[i]);
    return d == NX_NO_DOC ? NX_NO_DOC : ms->map[i][d];
}

/* ---- terms read on one thread, written on another ------------------------ */

/* A merge decodes its inputs' postings and encodes the new segment's:
 * about half of its CPU each, on one thread while a core idled (an
 * optimize is 20% of a small stored build's wall time). A reading thread
 * walks the dictionaries and decodes; this one encodes what it reads back
 * from batches of u32s: TERM_BEGIN field len key-bytes (padded to 4),
 * TERM_DOC doc freq deltas[freq], TERM_END. The reader fills one batch
 * while the writer encodes another and a third waits between them, so
 * memory holds three batches (one grown to a doc's positions of one term
 * where they are longer). */
enum { TERM_BEGIN = 1, TERM_DOC, TERM_END };
#define TERM_BATCH_BYTES ((size_t)256 << 10)

typedef struct term_pipe {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    nx_buf fill;     /* the reader's */
    nx_buf ready;    /* handed over, not yet taken (len 0: none) */
    bool done;       /* the reader has ended (its rc set) */
    bool stop;       /* the writer failed: the reader is to end */
    int rc;          /* the reader's result */
    nx_err err;      /* the reader's message */
} term_pipe;

/* Hands the reader's full batch over, once the last one was taken. */
static int pipe_hand_over(term_pipe *tp) {
    pthread_mutex_lock(&tp->lock);
    while (tp->ready.len && !tp->stop) pthread_cond_wait(&tp->cond, &tp->lock);
    bool stop = tp->stop;
    nx_buf t = tp->ready;
    tp->ready = tp->fill;
    tp->fill = t;
    tp->fill.len = 0;
    pthread_cond_broadcast(&tp->cond);
    pthread_mutex_unlock(&tp->lock);
    return stop ? NX_MERGE_CANCELLED : 0;
}

/* Room for a record of `need` bytes in the reader's batch, handing the
 * batch over first when it is full (a record never spans two batches). */
static __attribute__((noinline)) int pipe_make_room(term_pipe *tp, size_t need) {
    if (tp->fill.len >= TERM_BATCH_BYTES) NX_FORWARD(pipe_hand_over(tp));
    /* a batch is reserved whole, so most records need no check beyond one */
    if (nx_buf_reserve(&tp->fill, NX_MAX(need, TERM_BATCH_BYTES + 64)))
        return nx_err_set(&tp->err, NEWSIDX_ERR_NOMEM, "out of memory");
    return 0;
}

/* The next `need` bytes of the reader's batch, `need` a multiple of 4;
 * NULL with *rc set when out of memory (the pipe's message set) or when
 * the writer has stopped (NX_MERGE_CANCELLED). */
static inline uint32_t *pipe_record(term_pipe *tp, size_t need, int *rc) {
    if (NX_UNLIKELY(tp->fill.len >= TERM_BATCH_BYTES || tp->fill.cap - tp->fill.len < need)) {
        *rc = pipe_make_room(tp, need);
        if (*rc) return NULL;
    }
    uint32_t *p = (uint32_t *)(tp->fill.data + tp->fill.len);
    tp->fill.len += need;
    return p;
}

static int emit_begin(merge_state *ms, const uint8_t *key, size_t key_len) {
    if (!ms->pipe) return nx_segbuild_term_begin(ms->b, key[0], key + 1, key_len - 1);
    int rc = 0;
    uint32_t *p = pipe_record(ms->pipe, 12 + ((key_len - 1 + 3) & ~(size_t)3), &rc);
    if (!p) return rc;
    p[0] = TERM_BEGIN;
    p[1] = key[0];
    p[2] = (uint32_t)key_len - 1;
    memcpy(p + 3, key + 1, key_len - 1);
    return 0;
}

/* Per posting: kept to a few stores (the reading thread's CPU bounds the
 * merge; a call and a reserve per posting were a quarter of it). */
static inline int emit_doc(merge_state *ms, uint32_t doc, uint32_t freq, const uint32_t *deltas) {
    if (!ms->pipe) return nx_segbuild_term_doc(ms->b, doc, freq, deltas);
    int rc = 0;
    uint32_t *p = pipe_record(ms->pipe, 12 + 4 * (size_t)freq, &rc);
    if (!p) return rc;
    p[0] = TERM_DOC;
    p[1] = doc;
    p[2] = freq;
    for (uint32_t k = 0; k < freq; k++) p[3 + k] = deltas[k];
    return 0;
}

static int emit_end(merge_state *ms) {
    if (!ms->pipe) return nx_segbuild_term_end(ms->b);
    int rc = 0;
    uint32_t *p = pipe_record(ms->pipe, 4, &rc);
    if (!p) return rc;
    p[0] = TERM_END;
    return 0;
}

/* Writes one batch's terms into the new segment. */
static int write_batch(merge_state *ms, const nx_buf *batch) {
    const uint32_t *p = (const uint32_t *)batch->data, *end = p + batch->len / 4;
    while (p < end) {
        if (p[0] == TERM_BEGIN) {
            NX_FORWARD(nx_segbuild_term_begin(ms->b, (int)p[1], (const uint8_t *)(p + 3), p[2]));
            p += 3 + (p[2] + 3) / 4;
        } else if (p[0] == TERM_DOC) {
            NX_FORWARD(nx_segbuild_term_doc(ms->b, p[1], p[2], p + 3));
            p += 3 + p[2];
        } else {
            NX_FORWARD(nx_segbuild_term_end(ms->b));
            p++;
        }
    }
    return 0;
}

/* Streams the postings of the n inputs ms->on[0..n) into the new segment
 * in new doc order: the input whose current doc maps lowest gives docs
 * until its next one maps above another input's current doc (each input's
 * map keeps its docs in order). Choosing among all inputs for every doc
 * read every input's postings cursor and map for every posting; the
 * current new ids are kept here instead, and a run of docs that map below
 * every other input's current doc goes without choosing again (~4% of an
 * optimize's CPU at 1M articles, bench/README.md "Run 12"). */
static int stream_term(merge_state *ms, uint32_t n) {
    uint32_t *cur = ms->cur;
    for (uint32_t k = 0; k < n; k++) cur[k] = mapped_doc(ms, ms->on[k]);
    for (;;) {
        uint32_t best = 0, best_doc = NX_NO_DOC, limit = NX_NO_DOC;
        for (uint32_t k = 0; k < n; k++) {
            if (cur[k] < best_doc) {
                limit = best_doc;
                best_doc = cur[k];
                best = k;
            } else if (cur[k] < limit) {
                limit = cur[k];
            }
        }
        if (best_doc == NX_NO_DOC) return 0;
        uint32_t i = ms->on[best];
        nx_postings *p = &ms->post[i];
        const uint32_t *map = ms->map[i];
        do {
            const uint32_t *deltas;
            int f = nx_postings_deltas(p, &deltas);
            if (f < 0)
                return nx_err_set(ms->err, NEWSIDX_ERR_CORRUPT, "%s: corrupt positions",
                                  ms->in[i]->pos.path);
            NX_FORWARD(emit_doc(ms, best_doc, (uint32_t)f, deltas));
            uint32_t d = nx_postings_next(p);
            while (d != NX_NO_DOC && map[d] == UINT32_MAX) d = nx_postings_next(p);
            best_doc = d == NX_NO_DOC ? NX_NO_DOC : map[d];
        } while (best_doc < limit);
        cur[best] = best_doc;
    }
}

/* Merges one term: the postings of every input on it, then the cursors
 * of those inputs move on. */
static int merge_term(merge_state *ms, const uint8_t *key, size_t key_len) {
    uint32_t n = 0;
    int rc = 0;
    for (uint32_t i = 0; i < ms->n_in && rc == 0; i++) {
        if (!on_term(ms, i, key, key_len)) continue;
        rc = open_input(ms, i, key);
        if (rc == 0) ms->on[n++] = i;
    }
    if (rc == 0) rc = emit_begin(ms, key, key_len);
    if (rc == 0) rc = stream_term(ms, n);
    if (rc == 0) rc = emit_end(ms);
    for (uint32_t k = 0; k < n; k++) nx_postings_close(&ms->post[ms->on[k]]);
    if (rc) return rc;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = ms->on[k];
        nx_progress_step(&ms->progress, 1);
        ms->valid[i] = nx_termdict_next(&ms->terms[i]);
        if (ms->valid[i] < 0)
            return nx_err_set(ms->err, NEWSIDX_ERR_CORRUPT, "%s: corrupt dictionary",
                              ms->in[i]->dict.path);
    }
    return 0;
}

/* Merges the sorted dictionaries of the inputs, term by term. */
static int read_terms(merge_state *ms) {
    for (uint32_t i = 0; i < ms->n_in; i++) {
        ms->valid[i] = nx_termdict_seek(ms->in[i]->termdict, NULL, 0, &ms->terms[i]);
        if (ms->valid[i] < 0)
            return nx_err_set(ms->err, NEWSIDX_ERR_CORRUPT, "%s: corrupt dictionary",
                              ms->in[i]->dict.path);
    }
    for (uint64_t n_done = 1;; n_done++) {
        int first = smallest_term(ms);
        if (first < 0) return 0;
        if ((n_done & 4095) == 0) {
            if (cancelled(ms)) return NX_MERGE_CANCELLED;
            for (uint32_t i = 0; i < ms->n_in; i++) {
                if (ms->stored_beside) nx_segment_release_index_pages(ms->in[i]);
                else nx_segment_release_pages(ms->in[i]);
            }
        }
        uint8_t key[256];
        size_t key_len = ms->terms[first].term_len;
        memcpy(key, ms->terms[first].term, key_len);
        NX_FORWARD(merge_term(ms, key, key_len));
    }
}

/* The reading thread: its errors go to the pipe's own message (the
 * writing thread owns ms->err), and its last batch is handed over. */
static void *read_terms_thread(void *arg) {
    merge_state *ms = arg;
    term_pipe *tp = ms->pipe;
    nx_err *writer_err = ms->err;
    ms->err = &tp->err; /* the writing thread reads ms->b's own err pointer only */
    int rc = read_terms(ms);
    ms->err = writer_err;
    if (rc == 0 && tp->fill.len) rc = pipe_hand_over(tp);
    pthread_mutex_lock(&tp->lock);
    tp->rc = rc;
    tp->done = true;
    pthread_cond_broadcast(&tp->cond);
    pthread_mutex_unlock(&tp->lock);
    return NULL;
}

/* Merges the terms: read on a thread of their own, written here. On one
 * thread when none can be started, for a merge that runs beside the
 * workers: there the copy through the batches would cost CPU the workers
 * use (a merge on a loaded core took ~12% longer pipelined), and for a
 * writer given one thread (newsidx_writer_options.threads = 1: one core,
 * as its caller asked). */
static int merge_terms(merge_state *ms) {
    if (ms->one_thread) return read_terms(ms);
    term_pipe tp = {.rc = 0};
    pthread_t th;
    pthread_mutex_init(&tp.lock, NULL);
    pthread_cond_init(&tp.cond, NULL);
    ms->pipe = &tp;
    if (pthread_create(&th, NULL, read_terms_thread, ms) != 0) {
        ms->pipe = NULL;
        pthread_cond_destroy(&tp.cond);
        pthread_mutex_destroy(&tp.lock);
        return read_terms(ms);
    }
    nx_buf batch = {0};
    int rc = 0;
    for (;;) {
        pthread_mutex_lock(&tp.lock);
        while (!tp.ready.len && !tp.done) pthread_cond_wait(&tp.cond, &tp.lock);
        bool last = !tp.ready.len; /* done, nothing left */
        nx_buf t = tp.ready;
        tp.ready = batch;
        tp.ready.len = 0;
        batch = t;
        pthread_cond_broadcast(&tp.cond);
        pthread_mutex_unlock(&tp.lock);
        if (last) break;
        rc = write_batch(ms, &batch);
        if (rc) {
            pthread_mutex_lock(&tp.lock);
            tp.stop = true;
            pthread_cond_broadcast(&tp.cond);
            pthread_mutex_unlock(&tp.lock);
            break;
        }
    }
    pthread_join(th, NULL);
    ms->pipe = NULL;
    if (rc == 0 && tp.rc) {
        rc = tp.rc;
        if (rc != NX_MERGE_CANCELLED) *ms->err = tp.err;
    }
    nx_buf_free(&batch);
    nx_buf_free(&tp.fill);
    nx_buf_free(&tp.ready);
    pthread_cond_destroy(&tp.cond);
    pthread_mutex_destroy(&tp.lock);
    return rc;
}

/* Merges m's inputs into the new segment m->seg_no of the writer's
 * directory, with the writer's segment options, reporting to its progress
 * callback; fills m->map. */
static int merge_segments(nx_merge *m) {
    newsidx_writer *w = m->w;
    nx_err *err = &m->err;
    nx_segment *const *in = m->in;
    uint32_t n_in = m->n_in, seg_no = m->seg_no;
    merge_state ms = {.in = in, .del = (const uint8_t *const *)m->del, .n_in = n_in, .err = err,
                      .cancel = &m->cancel, .map = m->map,
                      .one_thread = m->threaded || !w->pool, .compact = m->compact};
    uint64_t total = 0;
    nx_segbuild_opts so = w->sb;
    int rc = merge_init(&ms, &total, &so.store_fields);
    if (rc == 0) {
        uint64_t terms = 1; /* the input terms, and finishing the files */
        for (uint32_t i = 0; i < n_in; i++) terms += nx_termdict_count(in[i]->termdict);
        nx_progress_begin(&ms.progress, w, NEWSIDX_PHASE_MERGING, n_in, total, terms,
                          so.store_fields ? NX_PROGRESS_DOCS_SHARE_STORED
                                          : NX_PROGRESS_DOCS_SHARE_BARE);
    }
    if (rc == 0 && cancelled(&ms)) rc = NX_MERGE_CANCELLED;
    if (rc == 0) rc = nx_segbuild_create(w->dir, seg_no, (uint32_t)total, &so, err, &ms.b);
    if (rc == 0) rc = merge_docs(&ms, (uint32_t)total, so.store_fields);
    /* The stored fields are copied beside the terms when the merge may use
     * more than one thread: copying 580 MB of blocks (1M articles) took
     * ~2 s of one core before the terms started, and the terms' two
     * threads leave a quarter of a core idle. */
    stored_job sj = {.ms = &ms};
    pthread_t sth;
    bool beside = false;
    if (rc == 0 && so.store_fields) {
        nx_docstore_writer *dw = sj.dw = nx_segbuild_merge_docstore(ms.b);
        if (!ms.one_thread) {
            nx_docstore_writer_set_err(dw, &sj.err);
            beside = ms.stored_beside = pthread_create(&sth, NULL, stored_thread, &sj) == 0;
            if (!beside) nx_docstore_writer_set_err(dw, err);
        }
        if (!beside) rc = merge_stored(&ms, dw, err, false);
    }
    if (rc == 0) rc = merge_terms(&ms);
    if (beside) {
        pthread_join(sth, NULL);
        nx_docstore_writer_set_err(sj.dw, err);
        if (rc == 0 && sj.rc) {
            rc = sj.rc;
            *err = sj.err;
        }
    }
    if (rc == 0) {
        rc = nx_segbuild_finish(ms.b);
        ms.b = NULL;
    }
    if (rc == 0) nx_progress_end(&ms.progress);
    merge_free(&ms);
    return rc;
}

/* ---- the writer's merge policy ---------------------------------------------- */

/* Tiered merge policy (FORMAT.md, "Merge policy"): a segment's tier is
 * floor(log_F(live docs)) with F = merge_factor; when F segments share a
 * tier they are merged into one (which lands in the next tier, and may
 * cascade). Merging drops replaced articles and keeps date order. */
static int tier_of(uint32_t live, uint32_t f) {
    int t = 0;
    uint64_t x = f;
    while (x <= live) {
        x *= f;
        t++;
    }
    return t;
}

static uint32_t live_docs(const wseg *ws) { return ws->seg->doc_count - ws->n_del; }

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- one merge ------------------------------------------------------------- */

nx_merge *nx_merge_prepare(newsidx_writer *w, const uint32_t *idx, uint32_t n) {
    nx_merge *m = calloc(1, sizeof *m);
    if (!m) {
        nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->w = w;
    for (uint32_t k = 0; k < n; k++) {
        const wseg *ws = &w->segs[idx[k]];
        if (ws->del) {
            size_t bytes = ((size_t)ws->seg->doc_count + 7) / 8;
            m->del[k] = malloc(bytes + 1);
            if (!m->del[k]) {
                nx_merge_free(m);
                nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
                return NULL;
            }
            memcpy(m->del[k], ws->del, bytes);
        }
        nx_segment_ref(ws->seg);
        m->in[k] = ws->seg;
        m->n_in = k + 1;
    }
    m->seg_no = w->next_seg_no++;
    m->compact = n == 1; /* a segment rewritten on its own: for its deletions */
    return m;
}

int nx_merge_run(nx_merge *m) {
    m->rc = merge_segments(m);
    if (m->rc == 0) m->rc = nx_segment_open(m->w->dir, m->seg_no, 0, &m->err, &m->out);
    return m->rc;
}

/* Sets bit doc of a bitmap. */
static void mark(uint8_t *del, uint32_t doc) { del[doc >> 3] |= (uint8_t)(1u << (doc & 7)); }

/* The deletions made in input k since m started (in the writer's bitmap
 * cur, not in m's copy), marked on the merged segment's docs in out.
 * Returns how many. */
static uint32_t replay_deletes(const nx_merge *m, uint32_t k, const uint8_t *cur, uint8_t *out) {
    uint32_t n = 0, docs = m->in[k]->doc_count;
    const uint8_t *was = m->del[k];
    for (uint32_t byte = 0; byte < (docs + 7) / 8; byte++) {
        uint8_t fresh = (uint8_t)(cur[byte] & ~(was ? was[byte] : 0));
        for (; fresh; fresh &= (uint8_t)(fresh - 1)) {
            uint32_t d = byte * 8 + (uint32_t)__builtin_ctz(fresh);
            if (d >= docs || m->map[k][d] == UINT32_MAX) continue;
            mark(out, m->map[k][d]);
            n++;
        }
    }
    return n;
}

int nx_merge_swap(newsidx_writer *w, nx_merge *m) {
    uint32_t pos[NX_MERGE_MAX];
    for (uint32_t k = 0; k < m->n_in; k++) {
        pos[k] = UINT32_MAX;
        for (uint32_t j = 0; j < w->n_segs && pos[k] == UINT32_MAX; j++)
            if (w->segs[j].seg == m->in[k]) pos[k] = j;
        /* only a rollback or close takes segments away, and both cancel first */
        if (pos[k] == UINT32_MAX)
            return nx_err_set(&w->err, NEWSIDX_ERR_CORRUPT, "merge input seg_%u is gone",
                              m->in[k]->seg_no);
    }
    uint8_t *del = NULL;
    uint32_t n_del = 0;
    for (uint32_t k = 0; k < m->n_in; k++) {
        const uint8_t *cur = w->segs[pos[k]].del;
        if (!cur) continue;
        if (!del) {
            del = calloc(((size_t)m->out->doc_count + 7) / 8 + 1, 1);
            if (!del) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        }
        n_del += replay_deletes(m, k, cur, del);
    }
    if (!n_del) {
        free(del);
        del = NULL;
    }
    uint32_t first = UINT32_MAX;
    for (uint32_t k = 0; k < m->n_in; k++) {
        wseg *ws = &w->segs[pos[k]];
        uint32_t old_no = ws->seg->seg_no;
        nx_segment_close(ws->seg); /* m's own reference keeps it open until m is freed */
        /* An input flushed since the last commit is named by no manifest:
         * its files go now, not at the commit, or a long run would hold
         * every flush and every intermediate merge on disk at once (10M
         * articles: 21 GB half way, for an index of ~11 GB). Readers never
         * saw it; views of the writer's own still map it. */
        if (old_no >= w->committed_seg_no) nx_segment_remove_files(w->dir, old_no);
        free(ws->del);
        ws->seg = NULL;
        first = NX_MIN(first, pos[k]);
    }
    w->segs[first] = (wseg){.seg = m->out, .del = del, .n_del = n_del, .del_dirty = n_del > 0};
    m->out = NULL;
    m->swapped = true;
    uint32_t o = 0;
    for (uint32_t j = 0; j < w->n_segs; j++)
        if (w->segs[j].seg) w->segs[o++] = w->segs[j];
    w->n_segs = o;
    return 0;
}

void nx_merge_free(nx_merge *m) {
    if (!m) return;
    for (uint32_t k = 0; k < m->n_in; k++) {
        nx_segment_close(m->in[k]);
        free(m->del[k]);
        free(m->map[k]);
    }
    nx_segment_close(m->out);
    /* abandoned (cancelled, failed, rolled back): no manifest will name it */
    if (!m->swapped) nx_segment_remove_files(m->w->dir, m->seg_no);
    free(m);
}

/* Merges the segments w->segs[idx[0..n)] (ascending) into one new segment,
 * which takes the first input's place, on the caller's thread; `compact`:
 * an optimize or a forced merge (nx_merge's). */
static int merge_group(newsidx_writer *w, const uint32_t *idx, uint32_t n, bool compact) {
    nx_merge *m = nx_merge_prepare(w, idx, n);
    if (!m) return NEWSIDX_ERR_NOMEM;
    m->compact |= compact;
    int rc = nx_merge_run(m);
    if (rc) w->err = m->err;
    if (rc == 0) rc = nx_merge_swap(w, m);
    nx_merge_free(m);
    return rc;
}

/* Merges every segment with live articles into one (NX_MERGE_MAX at a time). */
static int merge_all(newsidx_writer *w) {
    for (;;) {
        uint32_t idx[NX_MERGE_MAX], n = 0;
        for (uint32_t j = 0; j < w->n_segs && n < NX_MERGE_MAX; j++)
            if (live_docs(&w->segs[j])) idx[n++] = j;
        /* One segment without deletions is already optimal. */
        if (n == 0 || (n == 1 && w->segs[idx[0]].n_del == 0)) return 0;
        NX_FORWARD(merge_group(w, idx, n, true));
        if (n == 1) return 0;
    }
}

/* The tier of the first segment whose tier f segments share, or -1.
 * Segments whose every doc was replaced take no part: the commit drops
 * them. */
static int full_tier(const newsidx_writer *w, uint32_t f) {
    for (uint32_t i = 0; i < w->n_segs; i++) {
        uint32_t li = live_docs(&w->segs[i]);
        if (!li) continue;
        int t = tier_of(li, f);
        uint32_t same = 0;
        for (uint32_t j = 0; j < w->n_segs; j++) {
            uint32_t lj = live_docs(&w->segs[j]);
            same += lj && tier_of(lj, f) == t;
        }
        if (same >= f) return t;
    }
    return -1;
}

/* true when the segment is to be rewritten on its own: its deleted share
 * is over NX_EXPUNGE_PERCENT (or, with all, it has any deletion), so the
 * space of deleted articles comes back without waiting for a tier merge. */
static bool to_expunge(const wseg *ws, bool all) {
    uint64_t n = ws->seg->doc_count;
    if (!ws->n_del || ws->n_del == n) return false; /* none, or the commit drops it */
    return all || (uint64_t)ws->n_del * 100 > n * NX_EXPUNGE_PERCENT;
}

static int expunge_deletes(newsidx_writer *w, bool all) {
    for (uint32_t j = 0; j < w->n_segs; j++)
        if (to_expunge(&w->segs[j], all)) NX_FORWARD(merge_group(w, &j, 1, true));
    return 0;
}

uint32_t nx_writer_pick_merge(const newsidx_writer *w, uint32_t *idx) {
    uint32_t f = w->opts.merge_factor, n = 0;
    int tier = full_tier(w, f);
    if (tier >= 0) {
        for (uint32_t j = 0; j < w->n_segs && n < f && n < NX_MERGE_MAX; j++) {
            uint32_t lj = live_docs(&w->segs[j]);
            if (lj && tier_of(lj, f) == tier) idx[n++] = j;
        }
        return n;
    }
    for (uint32_t j = 0; j < w->n_segs; j++)
        if (to_expunge(&w->segs[j], false)) {
            idx[0] = j;
            return 1;
        }
    return 0;
}

static int maybe_merge(newsidx_writer *w) {
    uint32_t idx[NX_MERGE_MAX], n;
    while ((n = nx_writer_pick_merge(w, idx)) > 0) NX_FORWARD(merge_group(w, idx, n, false));
    return 0;
}

static int cmp_live(const void *a, const void *b, void *ctx) {
    const newsidx_writer *w = ctx;
    uint32_t x = live_docs(&w->segs[*(const uint32_t *)a]), y = live_docs(&w->segs[*(const uint32_t *)b]);
    return x < y ? -1 : x > y;
}

/* newsidx_writer_force_merge: merges the smallest segments (by live
 * articles) until at most max hold live articles, then rewrites every
 * segment that still has deletions. */
static int merge_to(newsidx_writer *w, uint32_t max) {
    for (;;) {
        uint32_t idx[NX_MERGE_MAX], n = 0;
        uint32_t *all = malloc(sizeof *all * (w->n_segs + 1));
        NX_RETURN_IF(!all, &w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t j = 0; j < w->n_segs; j++)
            if (live_docs(&w->segs[j])) all[n++] = j;
        if (n <= max) {
            free(all);
            break;
        }
        qsort_r(all, n, sizeof *all, cmp_live, w);
        uint32_t k = NX_MIN(n - max + 1, (uint32_t)NX_MERGE_MAX);
        memcpy(idx, all, k * sizeof *idx);
        free(all);
        /* merge_group keeps the first input's place: keep the index order */
        qsort(idx, k, sizeof *idx, cmp_u32);
        NX_FORWARD(merge_group(w, idx, k, true));
    }
    return expunge_deletes(w, true);
}

/* true when the running background merge reads segment s. */
static bool in_bg_merge(const newsidx_writer *w, const nx_segment *s) {
    const nx_merge *m = w->bg_merge;
    for (uint32_t k = 0; m && k < m->n_in; k++)
        if (m->in[k] == s) return true;
    return false;
}

/* The segments this run flushed and no tier merge took, merged into one.
 * A tier merge waits for F segments of a size: a run of fewer flushes
 * (100,000 articles: 6 with the default budget) or a run's last partial
 * tier (every worker's last flush) would otherwise stay as they were
 * written, and a query pays a dictionary probe and a postings opening per
 * segment and field. An archive kept as ten yearly indexes searched as
 * one then had 60 segments against the 6 of one index of the same
 * articles, and term queries took 2.9x as long (bench/README.md,
 * "Multi-index search"); a run's flushes merged at commit leave 10. The
 * cost is one merge of at most F - 1 flushes per commit, whose inputs
 * were just written and are still in the page cache. */
static int merge_run_flushes(newsidx_writer *w) {
    for (;;) {
        uint32_t idx[NX_MERGE_MAX], n = 0;
        for (uint32_t j = 0; j < w->n_segs && n < NX_MERGE_MAX; j++)
            if (w->segs[j].run_flush && live_docs(&w->segs[j]) && !in_bg_merge(w, w->segs[j].seg))
                idx[n++] = j;
        if (n < 2) break;
        NX_FORWARD(merge_group(w, idx, n, false));
        /* in the first input's place: with more than NX_MERGE_MAX flushes,
         * the next round takes it with the rest */
        w->segs[idx[0]].run_flush = true;
    }
    /* the merged segment may complete a tier of earlier runs' segments;
     * while a background merge runs, its inputs are not to be picked */
    return w->bg_merge ? 0 : maybe_merge(w);
}

int nx_writer_merge_run_flushes(newsidx_writer *w) {
    if (w->merge_all || w->merge_max || w->opts.keep_flushes) return 0;
    return merge_run_flushes(w);
}

int nx_writer_merge(newsidx_writer *w) { return maybe_merge(w); }

int nx_writer_commit_merge(newsidx_writer *w) {
    if (w->merge_all) return merge_all(w);
    if (w->merge_max) return merge_to(w, w->merge_max);
    NX_FORWARD(maybe_merge(w));
    return w->opts.keep_flushes ? 0 : merge_run_flushes(w);
}
