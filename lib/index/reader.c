/* index/reader — newsidx_reader: opens the last commit's manifest and its
 * segments (mmap, footers verified), global statistics for BM25, stored
 * articles by id. Read-only after open: safe to share between threads.
 * Files: docs/FORMAT.md. */
#include "index/index_internal.h"

#include <stdlib.h>
#include <string.h>

struct newsidx_reader {
    nx_snapshot *snap;
    nx_err err;
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

static int snapshot_try(const char *dir, uint64_t gen, nx_err *err, nx_snapshot **out) {
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
        rc = nx_segment_open(dir, m.segments[i].seg_no, m.segments[i].del_gen, err, &seg);
        if (rc) break;
        s->segments[s->n_segments++] = seg;
        if (seg->doc_count != m.segments[i].doc_count ||
            seg->doc_count - seg->live_count != m.segments[i].del_count) {
            rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                            "%s/MANIFEST-%llu: segment %u holds %u docs (%u deleted), the manifest says %u (%u)",
                            dir, (unsigned long long)gen, seg->seg_no, seg->doc_count,
                            seg->doc_count - seg->live_count, m.segments[i].doc_count,
                            m.segments[i].del_count);
            break;
        }
        s->live_docs += seg->live_count;
        s->total_docs += seg->doc_count;
        for (int f = 0; f < NX_N_FIELDS; f++) {
            s->field_docs[f] += seg->field_docs[f];
            s->field_tokens[f] += seg->field_tokens[f];
        }
    }
    nx_manifest_free(&m);
    if (rc) {
        nx_snapshot_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int nx_snapshot_open(const char *dir, nx_err *err, nx_snapshot **out) {
    *out = NULL;
    /* A writer may commit and delete the files of the manifest we just
     * read: then a newer manifest exists and we retry with it. */
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        NX_FORWARD(nx_manifest_latest(dir, err, &gen));
        NX_RETURN_IF(gen == 0, err, NEWSIDX_ERR_NOT_FOUND, "%s: no index (no MANIFEST file)", dir);
        int rc = snapshot_try(dir, gen, err, out);
        if (rc != NEWSIDX_ERR_NOT_FOUND || attempt >= 8) return rc;
        uint64_t again;
        NX_FORWARD(nx_manifest_latest(dir, err, &again));
        if (again == gen) return rc;
    }
}

void newsidx_reader_close(newsidx_reader *r) {
    if (!r) return;
    nx_snapshot_free(r->snap);
    free(r);
}

int newsidx_reader_open(const char *dir, char *errbuf, size_t errbuf_size, newsidx_reader **out) {
    *out = NULL;
    newsidx_reader *r = calloc(1, sizeof *r);
    nx_err err = {0};
    if (!r) {
        nx_err_set(&err, NEWSIDX_ERR_NOMEM, "out of memory");
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    int rc = dir ? nx_snapshot_open(dir, &err, &r->snap)
                 : nx_err_set(&err, NEWSIDX_ERR_INVALID, "no index directory");
    if (rc) {
        nx_err_copy(&err, errbuf, errbuf_size);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

const nx_snapshot *nx_reader_snapshot(const newsidx_reader *r) { return r->snap; }

int newsidx_reader_stats(const newsidx_reader *r, newsidx_stats *st) {
    memset(st, 0, sizeof *st);
    st->generation = r->snap->generation;
    st->segments = r->snap->n_segments;
    for (uint32_t i = 0; i < r->snap->n_segments; i++) nx_segment_sizes(r->snap->segments[i], st);
    return 0;
}

int newsidx_reader_get(const newsidx_reader *r, const char *id, size_t id_len, newsidx_doc **out) {
    *out = NULL;
    if (!r || !id) return NEWSIDX_ERR_INVALID;
    const nx_snapshot *s = r->snap;
    for (uint32_t i = s->n_segments; i-- > 0;) {
        const nx_segment *seg = s->segments[i];
        uint32_t d = nx_segment_find_id(seg, id, id_len);
        if (d == NX_NO_DOC || !nx_segment_is_live(seg, d)) continue;
        nx_docstore_scratch scratch;
        nx_docstore_scratch_init(&scratch);
        nx_err err = {0};
        const newsidx_field *fields;
        size_t n;
        int rc = nx_segment_stored(seg, d, &scratch, &err, &fields, &n);
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
            return NEWSIDX_ERR_NOMEM;
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
    return NEWSIDX_ERR_NOT_FOUND;
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
    if (!doc || doc->date == NX_NO_DATE) return NEWSIDX_ERR_NOT_FOUND;
    *out_seconds = doc->date;
    return 0;
}

void newsidx_doc_free(newsidx_doc *doc) {
    if (!doc) return;
    free(doc->fields);
    free(doc->data);
    free(doc);
}
