/* index/reader — newsidx_reader: opens the last commit's manifest and its
 * segments (mmap, footers verified), global statistics for BM25, stored
 * articles by id. Read-only after open: safe to share between threads.
 * Files: docs/FORMAT.md. */
#include "analysis/analysis.h"
#include "index/index_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct newsidx_reader {
    nx_snapshot *snap;
    char *dir;
};

struct newsidx_doc {
    newsidx_field *fields;
    size_t n;
    char *data;
    int64_t date;
};

void nx_snapshot_free(nx_snapshot *s) {
    if (!s) return;
    for (uint32_t i = 0; i < s->n_segments; i++) nx_segment_close(s->segments[i]);
    free(s->segments);
    free(s->stem_language);
    free(s->stopwords_language);
    free(s);
}

/* Adds a segment's counts to the snapshot's global statistics. */
static void count_segment(nx_snapshot *s, const nx_segment *seg) {
    s->live_docs += seg->live_count;
    s->total_docs += seg->doc_count;
    for (int f = 0; f < NX_N_FIELDS; f++) {
        s->field_docs[f] += seg->field_docs[f];
        s->field_tokens[f] += seg->field_tokens[f];
    }
}

int nx_snapshot_of(nx_segment *const *segs, uint32_t n, uint64_t generation, const char *stem,
                   const char *stop, nx_err *err, nx_snapshot **out) {
    *out = NULL;
    nx_snapshot *s = calloc(1, sizeof *s);
    if (s) s->segments = calloc(n + 1, sizeof *s->segments);
    if (s && s->segments) {
        s->stem_language = stem ? strdup(stem) : NULL;
        s->stopwords_language = stop ? strdup(stop) : NULL;
    }
    if (!s || !s->segments || (stem && !s->stem_language) || (stop && !s->stopwords_language)) {
        nx_snapshot_free(s);
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    s->generation = generation;
    for (uint32_t i = 0; i < n; i++) {
        nx_segment_ref(segs[i]);
        s->segments[s->n_segments++] = segs[i];
        count_segment(s, segs[i]);
    }
    *out = s;
    return 0;
}

newsidx_reader *nx_reader_of(nx_snapshot *snap) {
    newsidx_reader *r = calloc(1, sizeof *r);
    if (r) r->snap = snap;
    return r;
}

/* Segment seg_no with tombstones del_gen: shared from prev when prev has
 * it (as it is, or with other tombstones over the same files), else
 * opened. Shared only when the files' checksums are the ones the manifest
 * records: a number names other files after a failed commit's rollback
 * (the writer numbers its next segments and tombstones as it did the
 * failed commit's, which a reader may have opened) or in an index deleted
 * and built again under a reader. */
static int segment_for(const nx_snapshot *prev, const char *dir, const nx_manifest_seg *ms,
                       nx_err *err, nx_segment **out) {
    uint32_t seg_no = ms->seg_no, del_gen = ms->del_gen;
    for (uint32_t i = 0; prev && i < prev->n_segments; i++) {
        nx_segment *old = prev->segments[i];
        if (old->seg_no != seg_no) continue;
        uint64_t sums[NX_SEG_FILES];
        nx_segment_sums(old, sums);
        if (memcmp(sums, ms->sums, NX_SEG_DEL * sizeof *sums) != 0) break; /* other files */
        if (old->del_gen == del_gen && sums[NX_SEG_DEL] == ms->sums[NX_SEG_DEL]) {
            nx_segment_ref(old);
            *out = old;
            return 0;
        }
        return nx_segment_with_tombstones(old, dir, del_gen, ms->sums[NX_SEG_DEL], err, out);
    }
    return nx_segment_open_expect(dir, seg_no, del_gen, ms->sums, err, out);
}

static int snapshot_try(const char *dir, uint64_t gen, const nx_snapshot *prev, nx_err *err,
                        nx_snapshot **out) {
    nx_manifest m;
    NX_FORWARD(nx_manifest_read(dir, gen, err, &m));
    nx_snapshot *s = calloc(1, sizeof *s);
    int rc = 0;
    if (s) s->segments = calloc(m.n_segments + 1, sizeof *s->segments);
    if (!s || !s->segments) {
        free(s);
        nx_manifest_free(&m);
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    s->generation = gen;
    s->stem_language = m.stem_language;
    s->stopwords_language = m.stopwords_language;
    m.stem_language = m.stopwords_language = NULL;
    for (uint32_t i = 0; i < m.n_segments && rc == 0; i++) {
        nx_segment *seg;
        rc = segment_for(prev, dir, &m.segments[i], err, &seg);
        if (rc) break;
        s->segments[s->n_segments++] = seg;
        rc = nx_manifest_check_segment(dir, gen, &m.segments[i], seg, err);
        if (rc) break;
        count_segment(s, seg);
    }
    nx_manifest_free(&m);
    if (rc) {
        nx_snapshot_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Opens the newest commit, sharing prev's segments where it can. When
 * prev already is the newest commit, *out is NULL. */
static int snapshot_newest(const char *dir, const nx_snapshot *prev, nx_err *err,
                           nx_snapshot **out) {
    *out = NULL;
    /* A writer may commit and delete the files of the manifest we just
     * read: then a newer manifest exists and we retry with it (files a
     * reader has mapped stay readable when deleted: FORMAT.md, "Readers
     * and commits"). */
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        NX_FORWARD(nx_manifest_latest(dir, err, &gen));
        NX_RETURN_IF(gen == 0, err, NEWSIDX_ERR_NOT_FOUND, "%s: no index (no MANIFEST file)", dir);
        if (prev && gen == prev->generation) return 0;
        int rc = snapshot_try(dir, gen, prev, err, out);
        if (rc != NEWSIDX_ERR_NOT_FOUND || attempt >= 8) return rc;
        uint64_t again;
        NX_FORWARD(nx_manifest_latest(dir, err, &again));
        if (again == gen) return rc;
    }
}

int nx_snapshot_open(const char *dir, nx_err *err, nx_snapshot **out) {
    return snapshot_newest(dir, NULL, err, out);
}

void newsidx_reader_close(newsidx_reader *r) {
    if (!r) return;
    nx_snapshot_free(r->snap);
    free(r->dir);
    free(r);
}

/* Queries are analyzed like the index was: an index whose stemmer or
 * stopword list this library does not have is refused at open, naming the
 * manifest, not at the first query. */
static int analyzer_available(const char *dir, const nx_snapshot *snap, nx_err *err) {
    newsidx_analyzer_options ao;
    newsidx_analyzer_options_init(&ao);
    ao.stem_language = snap->stem_language;
    ao.stopwords_language = snap->stopwords_language;
    newsidx_analyzer *a;
    char why[256];
    int rc = newsidx_analyzer_create_v2(&ao, why, sizeof why, &a);
    newsidx_analyzer_free(a);
    if (rc)
        return nx_err_set(err, rc, "%s/MANIFEST-%llu: the index's analyzer cannot be made: %s", dir,
                          (unsigned long long)snap->generation, why);
    return 0;
}

int newsidx_reader_open(const char *dir, char *errbuf, size_t errbuf_size, newsidx_reader **out) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!out)
        return nx_errbuf_set(errbuf, errbuf_size, NEWSIDX_ERR_INVALID, "newsidx_reader_open: no out-parameter");
    *out = NULL;
    newsidx_reader *r = calloc(1, sizeof *r);
    if (r) r->dir = dir ? strdup(dir) : NULL;
    if (!r || (dir && !r->dir)) {
        free(r);
        nx_err_set(&err, NEWSIDX_ERR_NOMEM, "out of memory");
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    int rc = dir ? nx_snapshot_open(dir, &err, &r->snap)
                 : nx_err_set(&err, NEWSIDX_ERR_INVALID, "no index directory");
    if (rc == 0) rc = analyzer_available(dir, r->snap, &err);
    if (rc) {
        nx_err_copy(&err, errbuf, errbuf_size);
        newsidx_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

typedef struct dir_id {
    dev_t dev;
    ino_t ino;
    size_t i; /* in dirs */
} dir_id;

static int cmp_dir_id(const void *a, const void *b) {
    const dir_id *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* An index named twice in a set (as "A" and "./A/", or through a link)
 * would count each of its articles twice: refused. A directory that
 * cannot be stat'ed is left for the open to report. */
static int distinct_dirs(const char *const *dirs, size_t n, nx_err *err) {
    dir_id *ids = malloc(sizeof *ids * (n + 1));
    NX_RETURN_IF(!ids, err, NEWSIDX_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (dirs[i] && stat(dirs[i], &st) == 0) ids[k++] = (dir_id){st.st_dev, st.st_ino, i};
    }
    qsort(ids, k, sizeof *ids, cmp_dir_id);
    int rc = 0;
    for (size_t j = 1; j < k && rc == 0; j++)
        if (ids[j].dev == ids[j - 1].dev && ids[j].ino == ids[j - 1].ino)
            rc = nx_err_set(err, NEWSIDX_ERR_INVALID,
                            "%s and %s are the same index: a set names each index once",
                            dirs[ids[j - 1].i], dirs[ids[j].i]);
    free(ids);
    return rc;
}

/* Opens every index of dirs and joins their segments into one snapshot. */
static int open_multi(const char *const *dirs, size_t n, nx_err *err, nx_snapshot **out) {
    *out = NULL;
    NX_FORWARD(distinct_dirs(dirs, n, err));
    nx_snapshot **parts = calloc(n + 1, sizeof *parts);
    NX_RETURN_IF(!parts, err, NEWSIDX_ERR_NOMEM, "out of memory");
    int rc = 0;
    uint32_t total = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = dirs[i] ? nx_snapshot_open(dirs[i], err, &parts[i])
                     : nx_err_set(err, NEWSIDX_ERR_INVALID, "index directory %zu is NULL", i);
        if (rc == 0 && i > 0 &&
            (!nx_same_stemmer(parts[i]->stem_language, parts[0]->stem_language) ||
             !nx_same_stopwords(parts[i]->stopwords_language, parts[0]->stopwords_language)))
            rc = nx_err_set(err, NEWSIDX_ERR_INVALID,
                            "%s was built with stemming '%s' and stopwords '%s', %s with '%s' and "
                            "'%s': indexes searched as one must share their analyzer",
                            dirs[i], parts[i]->stem_language ? parts[i]->stem_language : "none",
                            parts[i]->stopwords_language ? parts[i]->stopwords_language : "none",
                            dirs[0], parts[0]->stem_language ? parts[0]->stem_language : "none",
                            parts[0]->stopwords_language ? parts[0]->stopwords_language : "none");
        if (rc == 0) total += parts[i]->n_segments;
    }
    /* (the set shares the first index's analyzer, as the check above says) */
    if (rc == 0) rc = analyzer_available(dirs[0], parts[0], err);
    nx_segment **segs = rc == 0 ? calloc(total + 1, sizeof *segs) : NULL;
    if (rc == 0 && !segs) rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        uint32_t k = 0;
        uint64_t gen = 0;
        for (size_t i = 0; i < n; i++) {
            for (uint32_t j = 0; j < parts[i]->n_segments; j++) segs[k++] = parts[i]->segments[j];
            gen += parts[i]->generation;
        }
        rc = nx_snapshot_of(segs, total, gen, parts[0]->stem_language,
                            parts[0]->stopwords_language, err, out);
    }
    free(segs);
    for (size_t i = 0; i < n; i++) nx_snapshot_free(parts[i]);
    free(parts);
    return rc;
}

int newsidx_reader_open_multi(const char *const *dirs, size_t n_dirs, char *errbuf,
                              size_t errbuf_size, newsidx_reader **out) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (out) *out = NULL;
    if (!out || !dirs || n_dirs == 0)
        return nx_errbuf_set(errbuf, errbuf_size, NEWSIDX_ERR_INVALID,
                             "newsidx_reader_open_multi: no %s",
                             !out ? "out-parameter" : "index directories");
    *out = NULL;
    if (n_dirs == 1) return newsidx_reader_open(dirs[0], errbuf, errbuf_size, out);
    nx_snapshot *snap;
    int rc = open_multi(dirs, n_dirs, &err, &snap);
    if (rc == 0 && !(*out = nx_reader_of(snap))) {
        nx_snapshot_free(snap);
        rc = nx_err_set(&err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    if (rc) nx_err_copy(&err, errbuf, errbuf_size);
    return rc;
}

int newsidx_reader_refresh(const newsidx_reader *r, char *errbuf, size_t errbuf_size,
                           newsidx_reader **newer) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!r || !newer)
        return nx_errbuf_set(errbuf, errbuf_size, NEWSIDX_ERR_INVALID,
                             "newsidx_reader_refresh: no %s", r ? "out-parameter" : "reader");
    *newer = NULL;
    if (!r->dir)
        return nx_errbuf_set(errbuf, errbuf_size, NEWSIDX_ERR_INVALID,
                             "newsidx_reader_refresh: a reader of several indexes cannot "
                             "refresh: open it again");
    newsidx_reader *n = calloc(1, sizeof *n);
    if (n) n->dir = strdup(r->dir);
    int rc = n && n->dir ? snapshot_newest(r->dir, r->snap, &err, &n->snap)
                         : nx_err_set(&err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc || !n->snap) {
        nx_err_copy(&err, errbuf, errbuf_size);
        newsidx_reader_close(n);
        return rc;
    }
    *newer = n;
    return 0;
}

const nx_snapshot *nx_reader_snapshot(const newsidx_reader *r) { return r->snap; }

int newsidx_reader_stats(const newsidx_reader *r, newsidx_stats *st) {
    if (!r || !st) return NEWSIDX_ERR_INVALID;
    memset(st, 0, sizeof *st);
    st->generation = r->snap->generation;
    st->segments = r->snap->n_segments;
    for (uint32_t i = 0; i < r->snap->n_segments; i++) nx_segment_sizes(r->snap->segments[i], st);
    return 0;
}

/* Fetches the live article with that id; err says why not. */
static int reader_get(const newsidx_reader *r, const char *id, size_t id_len, nx_err *err,
                      newsidx_doc **out) {
    if (!out) return nx_err_set(err, NEWSIDX_ERR_INVALID, "newsidx_reader_get: no out-parameter");
    *out = NULL;
    if (!r || (!id && id_len))
        return nx_err_set(err, NEWSIDX_ERR_INVALID, "newsidx_reader_get: no %s", r ? "id" : "reader");
    const nx_snapshot *s = r->snap;
    for (uint32_t i = s->n_segments; i-- > 0;) {
        const nx_segment *seg = s->segments[i];
        uint32_t d = nx_segment_find_id(seg, id, id_len);
        if (d == NX_NO_DOC || !nx_segment_is_live(seg, d)) continue;
        nx_docstore_scratch scratch;
        nx_docstore_scratch_init(&scratch);
        const newsidx_field *fields;
        size_t n;
        int rc = nx_segment_stored(seg, d, &scratch, err, &fields, &n);
        if (rc) {
            nx_docstore_scratch_free(&scratch);
            return rc;
        }
        size_t bytes = 0;
        for (size_t k = 0; k < n; k++) bytes += strlen(fields[k].name) + 1 + fields[k].value_len + 1;
        newsidx_doc *doc = calloc(1, sizeof *doc);
        if (doc) {
            doc->fields = malloc(sizeof(newsidx_field) * (n + 1));
            doc->data = malloc(bytes + 1);
        }
        if (!doc || !doc->fields || !doc->data) {
            newsidx_doc_free(doc);
            nx_docstore_scratch_free(&scratch);
            return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory for article '%.*s'",
                              (int)NX_MIN(id_len, (size_t)200), id);
        }
        char *p = doc->data;
        for (size_t k = 0; k < n; k++) {
            size_t nl = strlen(fields[k].name);
            memcpy(p, fields[k].name, nl + 1);
            doc->fields[k].name = p;
            p += nl + 1;
            memcpy(p, fields[k].value, fields[k].value_len);
            p[fields[k].value_len] = 0; /* convenience: values are also C strings */
            doc->fields[k].value = p;
            doc->fields[k].value_len = fields[k].value_len;
            p += fields[k].value_len + 1;
        }
        doc->n = n;
        doc->date = nx_segment_date(seg, d);
        nx_docstore_scratch_free(&scratch);
        *out = doc;
        return 0;
    }
    return nx_err_set(err, NEWSIDX_ERR_NOT_FOUND, "no article with id '%.*s'",
                      (int)NX_MIN(id_len, (size_t)200), id ? id : "");
}

int newsidx_reader_get(const newsidx_reader *r, const char *id, size_t id_len, newsidx_doc **out) {
    return reader_get(r, id, id_len, NULL, out);
}

int newsidx_reader_get_v2(const newsidx_reader *r, const char *id, size_t id_len, char *errbuf,
                          size_t errbuf_size, newsidx_doc **out) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    int rc = reader_get(r, id, id_len, &err, out);
    if (rc) nx_err_copy(&err, errbuf, errbuf_size);
    return rc;
}

const char *newsidx_reader_stem_language(const newsidx_reader *r) {
    return r ? r->snap->stem_language : NULL;
}

const char *newsidx_reader_stopwords_language(const newsidx_reader *r) {
    return r ? r->snap->stopwords_language : NULL;
}

size_t newsidx_doc_field_count(const newsidx_doc *doc) { return doc ? doc->n : 0; }

const newsidx_field *newsidx_doc_field(const newsidx_doc *doc, size_t i) {
    return doc && i < doc->n ? &doc->fields[i] : NULL;
}

const newsidx_field *newsidx_doc_find(const newsidx_doc *doc, const char *name) {
    if (!doc || !name) return NULL;
    for (size_t i = 0; i < doc->n; i++)
        if (strcmp(doc->fields[i].name, name) == 0) return &doc->fields[i];
    return NULL;
}

int newsidx_doc_date(const newsidx_doc *doc, int64_t *out_seconds) {
    if (!doc || !out_seconds) return NEWSIDX_ERR_INVALID;
    if (doc->date == NX_NO_DATE) return NEWSIDX_ERR_NOT_FOUND;
    *out_seconds = doc->date;
    return 0;
}

void newsidx_doc_free(newsidx_doc *doc) {
    if (!doc) return;
    free(doc->fields);
    free(doc->data);
    free(doc);
}
