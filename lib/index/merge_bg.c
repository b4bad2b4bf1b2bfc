/* index/merge_bg — with workers, the merges that run during a run (the
 * policy's, as segments pile up) run on a thread of their own, so that the
 * workers keep inverting and flushing and the caller keeps parsing; before,
 * the caller drained the workers and merged on its own thread, and one core
 * of two sat idle for the whole merge (issue 10: 1M articles, 2 threads
 * only 1.47x faster than 1).
 *
 * One merge runs at a time. It works on references and copies of its
 * inputs' deletions taken when it starts (nx_merge, writer_internal.h);
 * the caller's thread swaps it in at its next call, under the pool's lock,
 * replaying the deletions made meanwhile. Only the caller's thread starts,
 * swaps, waits for or cancels a merge, so w->segs changes under it only as
 * it did before: workers append flushed segments. Commits, deletes by
 * query and force merges wait for the running merge; rollback and close
 * cancel it, and its files go. */
#include "index/writer_internal.h"

#include <stdlib.h>

static void *merge_main(void *arg) {
    nx_merge *m = arg;
    nx_merge_run(m);
    __atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Joins the running merge's thread and takes it off the writer. */
static nx_merge *join(newsidx_writer *w) {
    nx_merge *m = w->bg_merge;
    w->bg_merge = NULL;
    if (m && m->threaded) pthread_join(m->thread, NULL);
    return m;
}

/* Joins the running merge and swaps it in, or takes its error. */
static int finish(newsidx_writer *w) {
    nx_merge *m = join(w);
    if (!m) return 0;
    int rc = m->rc;
    if (rc) {
        w->err = m->err;
    } else {
        nx_wpool_lock(w);
        rc = nx_merge_swap(w, m);
        nx_wpool_unlock(w);
    }
    nx_merge_free(m);
    /* the swap may have filled the next tier: look again at the next add */
    w->merge_at_segs = 0;
    return rc;
}

/* Starts the policy's next merge, if there is one. */
static int start(newsidx_writer *w) {
    uint32_t idx[NX_MERGE_MAX];
    nx_wpool_lock(w);
    uint32_t n = nx_writer_pick_merge(w, idx);
    nx_merge *m = n ? nx_merge_prepare(w, idx, n) : NULL;
    /* nothing to merge: look again once another segment is flushed */
    if (!n) w->merge_at_segs = w->n_segs + 1;
    nx_wpool_unlock(w);
    if (!n) return 0;
    if (!m) return NEWSIDX_ERR_NOMEM;
    m->threaded = true;
    if (pthread_create(&m->thread, NULL, merge_main, m)) {
        /* no thread to spare: merge on this one, as without workers */
        m->threaded = false;
        merge_main(m);
    }
    w->bg_merge = m;
    return 0;
}

int nx_bgmerge_poll(newsidx_writer *w) {
    if (!w->pool) return 0; /* without workers the caller merges (writer.c) */
    if (w->bg_merge) {
        if (!__atomic_load_n(&w->bg_merge->done, __ATOMIC_ACQUIRE)) return 0;
        NX_FORWARD(finish(w));
    }
    nx_wpool_lock(w);
    uint32_t n = w->n_segs;
    nx_wpool_unlock(w);
    if (n < w->merge_at_segs) return 0;
    return start(w);
}

int nx_bgmerge_wait(newsidx_writer *w) { return finish(w); }

void nx_bgmerge_cancel(newsidx_writer *w) {
    if (w->bg_merge) __atomic_store_n(&w->bg_merge->cancel, 1, __ATOMIC_RELAXED);
    nx_merge_free(join(w));
}
