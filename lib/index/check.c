/* index/check — newsidx_check: every checksum and structural invariant of
 * the last commit, reported with file and byte offset. Reads the formats of
 * docs/FORMAT.md through segment.c's views, re-deriving what can be
 * re-derived (df, cf, field statistics, block-max bounds, date order). */
#include "index/codec.h"
#include "index/index_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct checker {
    newsidx_check_fn fn;
    void *ctx;
    uint64_t problems;
} checker;

static void report(checker *c, const char *file, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(checker *c, const char *file, uint64_t off, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->problems++;
    if (c->fn) c->fn(c->ctx, file, off, msg);
}

static void verify_file(checker *c, const nx_rfile *f) {
    if (!f->data) return;
    nx_err err = {0};
    if (nx_rfile_verify(f, &err)) report(c, f->path, 0, "%s", err.msg);
}

/* Walks one term's postings; returns false when the term is broken. */
static void check_term(checker *c, const nx_segment *s, int field, const uint8_t *term,
                       size_t len, const nx_termdict_iter *dit, uint64_t *cf_sum) {
    nx_term_info ti;
    if (nx_segment_term_value(s, field, dit->value, dit->value_len, &ti)) {
        report(c, s->dict.path, dit->pos, "term '%.*s' (field %d): bad dictionary value",
               (int)len, term, field);
        return;
    }
    uint64_t off = ti.postings_off;
    const uint8_t *norms = nx_segment_norms(s, field);
    nx_postings it, sh;
    if (nx_postings_open(&it, s, &ti, true) || nx_postings_open(&sh, s, &ti, false)) {
        report(c, s->post.path, off, "term '%.*s': postings do not decode", (int)len, term);
        return;
    }
    uint32_t n = 0, prev = 0;
    uint64_t cf = 0;
    uint32_t tmax;
    uint8_t tnorm;
    nx_postings_term_max(&it, &tmax, &tnorm);
    for (uint32_t d = nx_postings_doc(&it); d != NX_NO_DOC; d = nx_postings_next(&it), n++) {
        if (d >= s->doc_count || (n > 0 && d <= prev)) {
            report(c, s->post.path, off, "term '%.*s': doc %u after %u (doc count %u)", (int)len,
                   term, d, prev, s->doc_count);
            break;
        }
        prev = d;
        uint32_t f = nx_postings_freq(&it);
        const uint32_t *pos;
        int np = nx_postings_positions(&it, &pos);
        if (np < 0 || (uint32_t)np != f || f == 0) {
            report(c, s->pos.path, ti.positions_off, "term '%.*s': doc %u positions do not decode",
                   (int)len, term, d);
            break;
        }
        for (int j = 1; j < np; j++)
            if (pos[j] < pos[j - 1]) {
                report(c, s->pos.path, ti.positions_off,
                       "term '%.*s': doc %u positions decrease", (int)len, term, d);
                break;
            }
        cf += f;
        uint32_t last = nx_postings_shallow_advance(&sh, d);
        uint32_t bmax;
        uint8_t bnorm;
        nx_postings_block_max(&sh, &bmax, &bnorm);
        if (last == NX_NO_DOC || last < d || f > bmax || norms[d] < bnorm || f > tmax ||
            norms[d] < tnorm) {
            report(c, s->post.path, off, "term '%.*s': doc %u exceeds its block-max data",
                   (int)len, term, d);
            break;
        }
    }
    if (n != ti.df || cf != ti.cf)
        report(c, s->post.path, off, "term '%.*s': %u docs and %llu occurrences decoded, header says %u and %llu",
               (int)len, term, n, (unsigned long long)cf, ti.df, (unsigned long long)ti.cf);
    nx_postings_close(&it);
    nx_postings_close(&sh);
    *cf_sum += cf;
}

static void check_segment(checker *c, const nx_segment *s) {
    const nx_rfile *files[] = {&s->post, &s->pos, &s->dict, &s->norm, &s->col, &s->docs, &s->del};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) verify_file(c, files[i]);
    nx_err err = {0};
    if (nx_termdict_check(s->termdict, &err)) report(c, s->dict.path, 0, "%s", err.msg);
    if (s->docstore && nx_docstore_check(s->docstore, &err))
        report(c, s->docs.path, 0, "%s", err.msg);
    /* columns */
    uint32_t n = s->doc_count;
    for (uint32_t d = 1; d < n; d++)
        if (nx_segment_date(s, d) < nx_segment_date(s, d - 1)) {
            report(c, s->col.path, 112 + 8 * (uint64_t)d,
                   "doc %u is dated before doc %u: doc ids must follow dates", d, d - 1);
            break;
        }
    /* every id block must expand (front coding checked there) and every
     * id be found again through the lookup */
    for (uint32_t d = 0; d < n; d++) {
        size_t l;
        const char *idp = nx_segment_id(s, d, &l);
        if (!idp) {
            report(c, s->col.path, (uint64_t)(s->id_blocks - s->col.data) + 4 * (d / NX_ID_BLOCK),
                   "the id block of doc %u does not decode", d);
            break;
        }
        uint32_t got = nx_segment_find_id(s, idp, l);
        if (got == NX_NO_DOC) {
            report(c, s->col.path, 0, "id of doc %u is not found by the id lookup", d);
            break;
        }
    }
    for (uint32_t k = 0; k < s->n_sources; k++)
        if (nx_load_u32le(s->src_offs + 4 * (size_t)k) > nx_load_u32le(s->src_offs + 4 * (size_t)k + 4)) {
            report(c, s->col.path, (uint64_t)(s->src_offs - s->col.data) + 4 * k, "source offsets decrease");
            break;
        }
    for (int f = 0; f < NX_N_FIELDS; f++) {
        uint32_t fd = 0;
        const uint8_t *nm = nx_segment_norms(s, f);
        for (uint32_t d = 0; d < n; d++) fd += nm[d] != 0;
        if (fd != s->field_docs[f])
            report(c, s->col.path, 16 + 16 * (uint64_t)f, "field %s: %u docs have norms, header says %u",
                   nx_field_name(f), fd, s->field_docs[f]);
    }
    /* every term */
    uint64_t cf[NX_N_FIELDS] = {0};
    nx_termdict_iter it;
    int rc = nx_termdict_seek(s->termdict, NULL, 0, &it);
    while (rc == 1) {
        int field = it.term_len ? it.term[0] : 255;
        if (it.term_len < 2 || field >= NX_N_FIELDS) {
            report(c, s->dict.path, it.pos, "dictionary entry with a bad field byte");
        } else {
            check_term(c, s, field, it.term + 1, it.term_len - 1, &it, &cf[field]);
        }
        if (c->problems > 100) return; /* enough to say it is broken */
        rc = nx_termdict_next(&it);
    }
    if (rc < 0) report(c, s->dict.path, it.pos, "dictionary does not decode");
    for (int f = 0; f < NX_N_FIELDS; f++)
        if (cf[f] != s->field_tokens[f])
            report(c, s->col.path, 24 + 16 * (uint64_t)f,
                   "field %s: postings hold %llu tokens, header says %llu", nx_field_name(f),
                   (unsigned long long)cf[f], (unsigned long long)s->field_tokens[f]);
}

int newsidx_check(const char *dir, newsidx_check_fn fn, void *ctx) {
    checker c = {fn, ctx, 0};
    nx_err err = {0};
    nx_snapshot *snap;
    if (!dir) return NEWSIDX_ERR_INVALID;
    uint64_t gen = 0;
    int rc = nx_manifest_latest(dir, &err, &gen);
    if (rc == 0 && gen == 0) return NEWSIDX_ERR_NOT_FOUND;
    if (rc == 0) rc = nx_snapshot_open(dir, &err, &snap);
    /* With a manifest present, a missing segment file is damage too. */
    if (gen && (rc == NEWSIDX_ERR_CORRUPT || rc == NEWSIDX_ERR_VERSION ||
                rc == NEWSIDX_ERR_NOT_FOUND)) {
        /* The message names the file and byte (footer, manifest entry...). */
        report(&c, dir, 0, "%s", err.msg);
        return NEWSIDX_ERR_CORRUPT;
    }
    if (rc) {
        /* Not damage but a failure to read (EACCES, EIO, ENOMEM...): the
         * caller's code says which; the message, which names the file and
         * the errno text, is the only place that says where. */
        if (fn && err.msg[0]) fn(ctx, dir, 0, err.msg);
        return rc;
    }
    for (uint32_t i = 0; i < snap->n_segments; i++) check_segment(&c, snap->segments[i]);
    nx_snapshot_free(snap);
    return c.problems ? NEWSIDX_ERR_CORRUPT : NEWSIDX_OK;
}
