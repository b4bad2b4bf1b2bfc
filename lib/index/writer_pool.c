/* index/writer_pool — the writer's workers (newsidx_writer_options.threads
 * >= 2): each owns one RAM buffer (writer_internal.h) and a bounded queue
 * of articles the caller's thread copied into it; it analyses, inverts,
 * compresses the stored fields and writes its own segments (flush.c), as
 * Lucene's per-thread writers do. No term hash is shared, so the hot path
 * takes no lock.
 *
 * An id queued or buffered in a worker (in its pending set: the ids not
 * yet known to be in a segment) goes to that worker again, which takes
 * its articles in order: the replacement of an earlier article with that
 * id is then the worker's own business, as it is without workers. Any
 * other article goes to the worker with the fewest bytes queued, so that
 * a worker flushing its buffer (a second or two at 1M articles) does not
 * hold the caller up while the other runs dry: chosen by the id's hash, a
 * 1M-article build left each worker idle ~5.5 s of its 29 s, waiting for
 * a caller that waited for room in the flushing worker's queue (perf
 * sched_switch; bench/README.md, "Run 16"). What the caller must know at
 * once — whether an id exists, for NEWSIDX_WARN_REPLACED — it learns from
 * the pending sets and from the segments.
 *
 * One lock guards the queues, the pending sets, the writer's segment list
 * (workers append flushed segments and mark replaced articles deleted)
 * and the first worker error.
 *
 * Hand-offs come in batches: a worker takes up to BATCH_BYTES of articles
 * per turn of the lock, a sleeping worker is woken once that much is
 * queued (or when the caller drains), and a worker wakes the caller only
 * when the caller waits. Woken per article, the reader and the workers
 * spent a few percent of a small build in futex calls and context
 * switches, a switch per article or more (perf, Reuters, stored model). */
#include "index/writer_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A queued article: the fields, names, values and id copied into one
 * block, so that the caller may reuse its own at once. */
typedef struct witem {
    struct witem *next;
    size_t bytes; /* the block's size: what the queue's bound counts */
    uint64_t seq; /* per worker, increasing */
    bool flush;   /* a flush request, not an article */
    warticle a;
} witem;

/* An id queued or buffered in a worker. Not live: deleted, or written to
 * a segment since (then the segments answer for it); such entries are
 * dropped when the table is rebuilt. */
typedef struct pending_entry {
    uint64_t hash;
    uint64_t seq; /* the id's latest article */
    uint32_t off, len; /* the id's bytes in the set's arena */
    bool used, live;
} pending_entry;

typedef struct pending_set {
    pending_entry *slots;
    uint32_t mask;   /* slots - 1 (0: no table yet) */
    uint32_t n_used; /* used slots, live or not */
    uint32_t n_live;
    nx_buf ids;
} pending_set;

typedef struct worker {
    nx_wpool *pool;
    wbuf *b;
    pthread_t thread;
    bool started;
    pthread_cond_t wake; /* a batch was queued, the caller drains, or the pool stops */
    bool sleeping;       /* waiting on wake */
    witem *head, *tail;
    size_t queued_bytes; /* queued or in the batch being worked on */
    bool busy; /* working on a batch taken from the queue */
    uint64_t next_seq;
    pending_set pending;
    nx_err err; /* the buffer's errors */
} worker;

struct nx_wpool {
    newsidx_writer *w;
    pthread_mutex_t lock;
    pthread_cond_t progress; /* a worker finished an item: the caller may go on */
    worker *workers;
    uint32_t n_workers;
    size_t queue_bytes;
    /* callers waiting on progress: for queue room, for idle workers */
    uint32_t adders_waiting, drainers_waiting;
    bool stop;
    int failed;     /* the first worker error: every later item is dropped */
    nx_err fail_err;
};

/* ---- pending ids ------------------------------------------------------------ */

static pending_entry *pending_find(pending_set *ps, const char *id, size_t len, uint64_t h) {
    if (!ps->mask) return NULL;
    for (uint32_t i = (uint32_t)h & ps->mask; ps->slots[i].used; i = (i + 1) & ps->mask) {
        pending_entry *e = &ps->slots[i];
        if (e->hash == h && e->len == len && memcmp(ps->ids.data + e->off, id, len) == 0) return e;
    }
    return NULL;
}

/* Rebuilds the table with room for twice its live entries (at least 256
 * slots), dropping the entries that are not live and their bytes. 0 or
 * NOMEM (the set as it was). */
static int pending_rebuild(pending_set *ps) {
    uint32_t slots = 256;
    while (slots < 4 * (ps->n_live + 1)) slots *= 2;
    pending_entry *ns = zalloc_written(slots * sizeof *ns);
    nx_buf nids = {0};
    if (!ns) return NEWSIDX_ERR_NOMEM;
    for (uint32_t i = 0; ps->mask && i <= ps->mask; i++) {
        const pending_entry *e = &ps->slots[i];
        if (!e->used || !e->live) continue;
        uint32_t j = (uint32_t)e->hash & (slots - 1);
        while (ns[j].used) j = (j + 1) & (slots - 1);
        ns[j] = *e;
        ns[j].off = (uint32_t)nids.len;
        if (nx_buf_append(&nids, ps->ids.data + e->off, e->len)) {
            free(ns);
            nx_buf_free(&nids);
            return NEWSIDX_ERR_NOMEM;
        }
    }
    free(ps->slots);
    nx_buf_free(&ps->ids);
    ps->slots = ns;
    ps->ids = nids;
    ps->mask = slots - 1;
    ps->n_used = ps->n_live;
    return 0;
}

/* Records that the id's latest article has sequence number seq. 0 or NOMEM. */
static int pending_put(pending_set *ps, const char *id, size_t len, uint64_t h, uint64_t seq) {
    pending_entry *e = pending_find(ps, id, len, h);
    if (e) {
        if (!e->live) ps->n_live++;
        e->live = true;
        e->seq = seq;
        return 0;
    }
    if (len > UINT32_MAX || ps->ids.len > UINT32_MAX - len) return NEWSIDX_ERR_NOMEM;
    if ((ps->n_used + 1) * 2 > ps->mask) NX_FORWARD(pending_rebuild(ps));
    uint32_t off = (uint32_t)ps->ids.len;
    NX_FORWARD(nx_buf_append(&ps->ids, id, len));
    uint32_t i = (uint32_t)h & ps->mask;
    while (ps->slots[i].used) i = (i + 1) & ps->mask;
    ps->slots[i] = (pending_entry){h, seq, off, (uint32_t)len, true, true};
    ps->n_used++;
    ps->n_live++;
    return 0;
}

/* Every id whose latest article is at most seq is now in a segment. */
static void pending_written(pending_set *ps, uint64_t seq) {
    for (uint32_t i = 0; ps->mask && i <= ps->mask; i++) {
        pending_entry *e = &ps->slots[i];
        if (e->used && e->live && e->seq <= seq) {
            e->live = false;
            ps->n_live--;
        }
    }
    /* arena and table shrink when most entries are gone */
    if (ps->n_used > 1024 && ps->n_live < ps->n_used / 4) (void)pending_rebuild(ps);
}

static void pending_free(pending_set *ps) {
    free(ps->slots);
    nx_buf_free(&ps->ids);
    memset(ps, 0, sizeof *ps);
}

/* ---- workers ------------------------------------------------------------------ */

/* Articles a worker takes from its queue per turn of the lock (one larger
 * article still goes alone), and what a sleeping worker's queue holds
 * before the caller wakes it: a few dozen news articles, few enough that
 * the caller finds room in the queue soon after the worker starts on a
 * batch (queues hold at least 256 KiB). */
#define BATCH_BYTES ((size_t)64 << 10)

/* Wakes the worker if it sleeps. With the lock held. */
static void worker_wake(worker *k) {
    if (k->sleeping) pthread_cond_signal(&k->wake);
}

/* Does the items of one batch, in order, without the lock; after an
 * error the rest are dropped. Returns 0 or the first error. */
static int worker_run_batch(worker *k, witem *it, bool skip) {
    nx_wpool *p = k->pool;
    int rc = 0;
    while (it) {
        witem *next = it->next;
        if (!skip && rc == 0) {
            if (it->flush) {
                rc = nx_wbuf_flush(k->b);
                if (rc == 0) nx_wbuf_free(k->b); /* the spare slabs: no buffer fills next */
            } else {
                unsigned warn = 0; /* the caller already told its caller */
                k->b->last_seq = it->seq;
                rc = nx_wbuf_add(k->b, &it->a, &warn);
            }
            if (rc == 0 && k->b->n_docs == 0) { /* flushed: its ids are in a segment now */
                pthread_mutex_lock(&p->lock);
                pending_written(&k->pending, k->b->last_seq);
                pthread_mutex_unlock(&p->lock);
            }
        }
        free(it);
        it = next;
    }
    return rc;
}

static void *worker_main(void *arg) {
    worker *k = arg;
    nx_wpool *p = k->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!k->head && !p->stop) {
            k->sleeping = true;
            pthread_cond_wait(&k->wake, &p->lock);
            k->sleeping = false;
        }
        if (p->stop) break;
        witem *first = k->head, *last = first;
        size_t bytes = first->bytes;
        while (last->next && bytes + last->next->bytes <= BATCH_BYTES) {
            last = last->next;
            bytes += last->bytes;
        }
        k->head = last->next;
        if (!k->head) k->tail = NULL;
        last->next = NULL;
        k->busy = true;
        bool skip = p->failed != 0;
        pthread_mutex_unlock(&p->lock);
        int rc = worker_run_batch(k, first, skip);
        pthread_mutex_lock(&p->lock);
        if (rc && !p->failed) {
            p->failed = rc;
            p->fail_err = k->err;
        }
        k->queued_bytes -= bytes;
        k->busy = false;
        /* an adder waits for room, woken once the queue is half empty
         * (not per batch); a drainer for every worker to be idle, which
         * this one now may be */
        if ((p->adders_waiting && k->queued_bytes <= p->queue_bytes / 2) ||
            (p->drainers_waiting && !k->head))
            pthread_cond_broadcast(&p->progress);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void nx_wpool_lock(newsidx_writer *w) {
    if (w->pool) pthread_mutex_lock(&w->pool->lock);
}

void nx_wpool_unlock(newsidx_writer *w) {
    if (w->pool) pthread_mutex_unlock(&w->pool->lock);
}

int nx_wpool_start(newsidx_writer *w, uint32_t n_threads, size_t queue_bytes) {
    nx_wpool *p = calloc(1, sizeof *p);
    worker *ks = calloc(n_threads, sizeof *ks);
    if (!p || !ks) {
        free(p);
        free(ks);
        return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    p->w = w;
    p->workers = ks;
    p->queue_bytes = queue_bytes;
    if (pthread_mutex_init(&p->lock, NULL) || pthread_cond_init(&p->progress, NULL)) {
        free(p);
        free(ks);
        return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "cannot create the writer's lock");
    }
    w->pool = p;
    for (uint32_t i = 0; i < n_threads; i++) {
        worker *k = &ks[i];
        k->pool = p;
        k->b = &w->bufs[i];
        k->b->err = &k->err;
        if (pthread_cond_init(&k->wake, NULL))
            return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "cannot create the writer's workers");
        p->n_workers = i + 1; /* what nx_wpool_stop tears down */
        if (pthread_create(&k->thread, NULL, worker_main, k))
            return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "cannot start writer thread %u of %u",
                              i + 1, n_threads);
        k->started = true;
    }
    return 0;
}

void nx_wpool_stop(newsidx_writer *w) {
    nx_wpool *p = w->pool;
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    for (uint32_t i = 0; i < p->n_workers; i++) worker_wake(&p->workers[i]);
    pthread_mutex_unlock(&p->lock);
    for (uint32_t i = 0; i < p->n_workers; i++) {
        worker *k = &p->workers[i];
        if (k->started) pthread_join(k->thread, NULL);
        while (k->head) {
            witem *it = k->head;
            k->head = it->next;
            free(it);
        }
        pending_free(&k->pending);
        pthread_cond_destroy(&k->wake);
        k->b->err = &w->err;
    }
    pthread_cond_destroy(&p->progress);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p);
    w->pool = NULL;
}

/* A copy of article a in one block, or NULL when out of memory. */
static witem *item_copy(const warticle *a) {
    size_t bytes = sizeof(witem) + sizeof(newsidx_field) * a->n_fields + a->id_len + 1;
    for (size_t i = 0; i < a->n_fields; i++)
        bytes += strlen(a->fields[i].name) + 1 + a->fields[i].value_len + 1;
    witem *it = malloc(bytes);
    if (!it) return NULL;
    memset(it, 0, sizeof *it);
    it->bytes = bytes;
    newsidx_field *f = (newsidx_field *)(it + 1);
    char *s = (char *)(f + a->n_fields);
    it->a = *a;
    it->a.fields = f;
    for (size_t i = 0; i < a->n_fields; i++) {
        const newsidx_field *src = &a->fields[i];
        size_t nl = strlen(src->name) + 1;
        memcpy(s, src->name, nl);
        f[i].name = s;
        s += nl;
        if (src->value_len) memcpy(s, src->value, src->value_len);
        s[src->value_len] = '\0';
        f[i].value = s;
        f[i].value_len = src->value_len;
        s += src->value_len + 1;
    }
    /* the same fields, by index, in the copy */
    it->a.idf = a->idf ? f + (a->idf - a->fields) : NULL;
    it->a.srcf = a->srcf ? f + (a->srcf - a->fields) : NULL;
    for (int k = 0; k < NX_N_FIELDS; k++)
        it->a.indexed[k] = a->indexed[k] ? f + (a->indexed[k] - a->fields) : NULL;
    memcpy(s, a->id, a->id_len);
    s[a->id_len] = '\0';
    it->a.id = s;
    return it;
}

/* The caller's side of a worker error: sticky on the writer, message in
 * w->err. Called with the lock held. */
static int take_failure(newsidx_writer *w) {
    nx_wpool *p = w->pool;
    w->err = p->fail_err;
    w->failed = p->failed;
    return p->failed;
}

/* The worker whose pending set has the id live, or NULL. With the lock. */
static worker *pending_owner(nx_wpool *p, const char *id, size_t len, uint64_t h) {
    for (uint32_t i = 0; i < p->n_workers; i++) {
        pending_entry *e = pending_find(&p->workers[i].pending, id, len, h);
        if (e && e->live) return &p->workers[i];
    }
    return NULL;
}

/* The worker with the fewest bytes queued (or in the batch it works on);
 * on a tie the one the hash picks, then the next ones. With the lock. */
static worker *emptiest(nx_wpool *p, uint64_t h) {
    uint32_t first = (uint32_t)((h >> 32) % p->n_workers);
    worker *best = &p->workers[first];
    for (uint32_t j = 1; j < p->n_workers; j++) {
        worker *k = &p->workers[(first + j) % p->n_workers];
        if (k->queued_bytes < best->queued_bytes) best = k;
    }
    return best;
}

int nx_wpool_add(newsidx_writer *w, const warticle *a, unsigned *warn) {
    nx_wpool *p = w->pool;
    witem *it = item_copy(a);
    if (!it) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    /* Decided before waiting: only this thread adds or deletes, so the
     * answer holds while a worker moves the id from its queue to a
     * segment. An id live in no pending set is in none while this waits:
     * only this thread makes ids live. */
    worker *owner = pending_owner(p, a->id, a->id_len, a->id_hash);
    bool exists = owner || nx_writer_segments_have_id(w, a->id, a->id_len);
    /* Not live nor in a segment, the id can reach a segment before the
     * worker takes this article only through an article queued before
     * it, which would have made it live: the worker need not look in the
     * segments (nor take the lock to do it). */
    it->a.segments_may_have_id = exists;
    worker *k;
    for (;;) {
        k = owner ? owner : emptiest(p, a->id_hash);
        if (p->failed || k->queued_bytes == 0 || k->queued_bytes + it->bytes <= p->queue_bytes)
            break;
        /* a worker never sleeps on a full queue; with a choice, every
         * queue is full */
        for (uint32_t i = 0; i < p->n_workers; i++)
            if (&p->workers[i] == k || (!owner && p->workers[i].head)) worker_wake(&p->workers[i]);
        p->adders_waiting++;
        pthread_cond_wait(&p->progress, &p->lock);
        p->adders_waiting--;
    }
    if (p->failed) rc = take_failure(w);
    it->seq = ++k->next_seq;
    if (rc == 0 && pending_put(&k->pending, a->id, a->id_len, a->id_hash, it->seq))
        rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        if (k->tail) k->tail->next = it;
        else k->head = it;
        k->tail = it;
        k->queued_bytes += it->bytes;
        if (k->queued_bytes >= BATCH_BYTES) worker_wake(k);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc) {
        free(it);
        return rc;
    }
    if (exists) *warn |= NEWSIDX_WARN_REPLACED;
    return 0;
}

int nx_wpool_drain(newsidx_writer *w, bool flush) {
    nx_wpool *p = w->pool;
    witem **req = NULL;
    if (flush) {
        req = calloc(p->n_workers, sizeof *req);
        for (uint32_t i = 0; req && i < p->n_workers; i++) {
            req[i] = calloc(1, sizeof **req);
            if (!req[i]) {
                for (uint32_t j = 0; j < i; j++) free(req[j]);
                free(req);
                req = NULL;
            }
        }
        if (!req) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&p->lock);
    for (uint32_t i = 0; flush && i < p->n_workers; i++) {
        worker *k = &p->workers[i];
        req[i]->flush = true;
        req[i]->bytes = 0;
        if (k->tail) k->tail->next = req[i];
        else k->head = req[i];
        k->tail = req[i];
    }
    /* what is queued, however little, is done now */
    for (uint32_t i = 0; i < p->n_workers; i++)
        if (p->workers[i].head) worker_wake(&p->workers[i]);
    for (;;) {
        bool idle = true;
        for (uint32_t i = 0; i < p->n_workers && idle; i++)
            idle = !p->workers[i].head && !p->workers[i].busy;
        if (idle) break;
        p->drainers_waiting++;
        pthread_cond_wait(&p->progress, &p->lock);
        p->drainers_waiting--;
    }
    int rc = p->failed ? take_failure(w) : 0;
    pthread_mutex_unlock(&p->lock);
    free(req);
    return rc;
}

void nx_wpool_reset(newsidx_writer *w) {
    nx_wpool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    for (uint32_t i = 0; i < p->n_workers; i++) pending_free(&p->workers[i].pending);
    p->failed = 0;
    pthread_mutex_unlock(&p->lock);
}

void nx_wpool_forget_id(newsidx_writer *w, const char *id, size_t len, uint64_t id_hash) {
    nx_wpool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    worker *k = pending_owner(p, id, len, id_hash);
    if (k) {
        pending_find(&k->pending, id, len, id_hash)->live = false;
        k->pending.n_live--;
    }
    pthread_mutex_unlock(&p->lock);
}
