/* index/segref — a segment's lifetime: references (snapshots, refreshed
 * readers and the writer share one open segment), the core of files and
 * tables that views of the same segment share (a newer tombstone file, the
 * writer's uncommitted deletions), and closing. docs/FORMAT.md, "Readers
 * and commits". */
#include "index/index_internal.h"

#include <stdlib.h>
#include <string.h>

/* Maps the tombstone file of generation del_gen: the deleted bitmap and
 * the live count. */
int nx_segment_open_tombstones(nx_segment *s, const char *dir, uint32_t del_gen, uint64_t sum,
                               nx_err *err) {
    char *path = nx_tombstone_file(dir, s->seg_no, del_gen);
    NX_RETURN_IF(!path, err, NEWSIDX_ERR_NOMEM, "out of memory");
    int rc = nx_rfile_open(path, NX_FILE_TOMBSTONES, err, &s->del);
    free(path);
    NX_FORWARD(rc);
    uint64_t sums[NX_SEG_FILES] = {0};
    sums[NX_SEG_DEL] = sum;
    NX_FORWARD(nx_rfile_expect(&s->del, sum ? sums : NULL, NX_SEG_DEL, err));
    const uint8_t *d = s->del.data;
    size_t bytes = ((size_t)s->doc_count + 7) / 8;
    NX_RETURN_IF(s->del.len != 8 + bytes || nx_load_u32le(d) != NX_DEL_MAGIC ||
                     nx_load_u32le(d + 4) != s->doc_count,
                 err, NEWSIDX_ERR_CORRUPT, "%s: header at byte 0 does not match %u docs",
                 s->del.path, s->doc_count);
    s->deleted = d + 8;
    uint32_t dead = 0;
    for (size_t i = 0; i < bytes; i++) dead += (uint32_t)__builtin_popcount(d[8 + i]);
    s->live_count = s->doc_count - dead;
    return 0;
}

void nx_segment_ref(nx_segment *s) { __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED); }

void nx_segment_close(nx_segment *s) {
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    if (s->core) {
        nx_rfile_close(&s->del);
        pthread_mutex_destroy(&s->id_perm_lock);
        nx_segment *core = s->core;
        free(s);
        nx_segment_close(core);
        return;
    }
    nx_termdict_close(s->termdict);
    nx_docstore_close(s->docstore);
    nx_rfile *files[] = {&s->post, &s->pos, &s->dict, &s->norm, &s->col, &s->docs, &s->del};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) nx_rfile_close(files[i]);
    free(s->zero_norms);
    for (uint32_t k = 0; s->id_cache && k < s->n_id_blocks; k++) free(s->id_cache[k]);
    free(s->id_cache);
    free(s->id_perm_keys);
    pthread_mutex_destroy(&s->id_perm_lock);
    free(s);
}

/* A segment sharing s's core (files, dictionary, tables), without
 * deletions yet. */
static nx_segment *share_core(nx_segment *s) {
    nx_segment *core = s->core ? s->core : s;
    nx_segment *t = malloc(sizeof *t);
    if (!t) return NULL;
    memcpy(t, core, sizeof *t);
    t->refs = 1;
    t->core = core;
    t->del_gen = 0;
    memset(&t->del, 0, sizeof t->del);
    t->deleted = NULL;
    t->live_count = t->doc_count;
    pthread_mutex_init(&t->id_perm_lock, NULL); /* unused: the id table is core's */
    nx_segment_ref(core);
    return t;
}

int nx_segment_view(nx_segment *s, const uint8_t *deleted, uint32_t n_deleted, nx_err *err,
                    nx_segment **out) {
    nx_segment *t = share_core(s);
    *out = t;
    NX_RETURN_IF(!t, err, NEWSIDX_ERR_NOMEM, "out of memory");
    t->deleted = deleted;
    t->live_count = t->doc_count - n_deleted;
    return 0;
}

int nx_segment_with_tombstones(nx_segment *s, const char *dir, uint32_t del_gen, uint64_t sum,
                               nx_err *err, nx_segment **out) {
    *out = NULL;
    nx_segment *t = share_core(s);
    NX_RETURN_IF(!t, err, NEWSIDX_ERR_NOMEM, "out of memory");
    t->del_gen = del_gen;
    int rc = del_gen ? nx_segment_open_tombstones(t, dir, del_gen, sum, err) : 0;
    if (rc) {
        nx_segment_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

