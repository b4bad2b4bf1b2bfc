/* ingest.c — the public entry newsidx_ingest_path: records from
 * nx_ingest_each go to newsidx_writer_add, and the writer's NEWSIDX_WARN_*
 * bits become reports (docs/INGEST.md, "Reports"). */
#include "ingest/ingest.h"

#include "index/index_internal.h"

#include <stdio.h>
#include <string.h>

static const newsidx_field *find_field(const nx_record *rec, int field) {
    for (size_t i = 0; i < rec->n_fields; i++)
        if (nx_field_is(rec->fields[i].name, field)) return &rec->fields[i];
    return NULL;
}

/* Longest piece of a field value quoted in a message. */
#define QUOTE_BYTES 60

int nx_ingest_writer_warnings(const newsidx_ingest_options *opts,
                              newsidx_ingest_stats *stats, const nx_record *rec,
                              unsigned bits) {
    unsigned fresh = bits & ~rec->warnings;
    const char *file = rec->file;
    uint64_t line = rec->line;
    if (fresh & NEWSIDX_WARN_ID_DERIVED)
        nx_ingest_report(opts, stats, file, line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_NO_ID,
                         "no id: one was derived from an XXH3-64 of the content");
    if (fresh & NEWSIDX_WARN_DATE_UNPARSED) {
        const newsidx_field *d = find_field(rec, NX_F_DATE);
        int n = d ? (int)NX_MIN(d->value_len, (size_t)QUOTE_BYTES) : 0;
        nx_ingest_report(opts, stats, file, line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_BAD_DATE,
                         "date \"%.*s%s\" not understood: kept as text, not in the date column",
                         n, d ? d->value : "", d && d->value_len > QUOTE_BYTES ? "..." : "");
    }
    if (fresh & NEWSIDX_WARN_FIELD_CUT)
        nx_ingest_report(opts, stats, file, line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_TOO_LONG,
                         "a field longer than max_field_bytes was cut to that length");
    if (fresh & NEWSIDX_WARN_EMPTY_BODY)
        nx_ingest_report(opts, stats, file, line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_EMPTY_BODY, "empty body: indexed by its other fields");
    if (fresh & NEWSIDX_WARN_REPLACED) {
        const newsidx_field *id = find_field(rec, NX_F_ID);
        int n = id ? (int)NX_MIN(id->value_len, (size_t)QUOTE_BYTES) : 0;
        nx_ingest_report(opts, stats, file, line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_DUPLICATE_ID,
                         "id \"%.*s\" seen before: the earlier article is replaced", n,
                         id ? id->value : "");
    }
    if (fresh & NEWSIDX_WARN_BAD_UTF8)
        nx_ingest_report(opts, stats, file, line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_BAD_UTF8, "invalid UTF-8 replaced by U+FFFD");
    return fresh ? NX_RECORD_WARNED : NX_RECORD_ADDED;
}

typedef struct writer_sink {
    newsidx_writer *w;
    const newsidx_ingest_options *opts;   /* the caller's */
    newsidx_ingest_stats *stats;
    char last_error[512];                 /* the last whole-input error reported */
} writer_sink;

/* An id the writer would refuse (NUL byte, invalid UTF-8): the record is
 * skipped with the reason here, so one bad id never stops the run. Returns
 * true when the record was skipped. */
static bool skip_bad_id(const writer_sink *s, const nx_record *rec) {
    const newsidx_field *id = find_field(rec, NX_F_ID);
    if (!id || id->value_len == 0) return false;
    const char *nul = memchr(id->value, 0, id->value_len);
    size_t valid = nx_utf8_valid_prefix(id->value, id->value_len);
    if (!nul && valid == id->value_len) return false;
    /* quote the readable start of the id, up to the bad byte */
    size_t bad = nul ? NX_MIN((size_t)(nul - id->value), valid) : valid;
    int n = (int)NX_MIN(bad, (size_t)QUOTE_BYTES);
    if (nul && (size_t)(nul - id->value) <= valid)
        nx_ingest_report(s->opts, s->stats, rec->file, rec->line, NEWSIDX_REPORT_SKIPPED,
                         NEWSIDX_REASON_NUL_BYTE,
                         "id \"%.*s...\" holds a NUL byte at byte %zu: an id is never altered, "
                         "the record is skipped", n, id->value, bad + 1);
    else
        nx_ingest_report(s->opts, s->stats, rec->file, rec->line, NEWSIDX_REPORT_SKIPPED,
                         NEWSIDX_REASON_BAD_UTF8,
                         "id \"%.*s...\" is not valid UTF-8 at byte %zu: an id is never "
                         "altered, the record is skipped", n, id->value, bad + 1);
    return true;
}

static int add_to_writer(void *ctx, const nx_record *rec) {
    writer_sink *s = ctx;
    if (skip_bad_id(s, rec)) return NX_RECORD_SKIPPED;
    unsigned bits = 0;
    int rc = newsidx_writer_add(s->w, rec->fields, rec->n_fields, &bits);
    /* NOMEM, IO while flushing, or a writer already failed: nothing more
     * can be added, so the run stops with that code */
    if (rc < 0) return rc;
    return nx_ingest_writer_warnings(s->opts, s->stats, rec, bits);
}

/* Reports pass through to the caller's callbacks; an error about a whole
 * input is also kept, to become the writer's message if the call fails. */
static void sink_report(void *ctx, const char *file, uint64_t line, int severity, int reason,
                        const char *message) {
    writer_sink *s = ctx;
    if (severity == NEWSIDX_REPORT_ERROR)
        snprintf(s->last_error, sizeof s->last_error, "%s: %s", file ? file : "", message);
    if (s->opts->report) s->opts->report(s->opts->ctx, file, line, severity, reason, message);
}

static void sink_progress(void *ctx, uint64_t articles, uint64_t bytes_read) {
    writer_sink *s = ctx;
    s->opts->progress(s->opts->ctx, articles, bytes_read);
}

int newsidx_ingest_path(newsidx_writer *w, const char *path,
                        const newsidx_ingest_options *opts,
                        newsidx_ingest_stats *stats) {
    if (!w) return NEWSIDX_ERR_INVALID;
    if (!path || !stats) {
        nx_writer_set_error(w, NEWSIDX_ERR_INVALID,
                            !path ? "newsidx_ingest_path: no path" : "newsidx_ingest_path: no stats");
        return NEWSIDX_ERR_INVALID;
    }
    newsidx_ingest_options o;
    newsidx_ingest_options_init(&o);
    nx_err err = {0};
    if (opts && nx_options_copy(&o, sizeof o, opts, "ingest", &err)) {
        nx_writer_set_error(w, err.code, err.msg);
        return err.code;
    }
    writer_sink sink = {w, &o, stats, ""};
    newsidx_ingest_options wrapped = o;
    wrapped.report = sink_report;
    wrapped.progress = o.progress ? sink_progress : NULL;
    wrapped.ctx = &sink;
    int rc = nx_ingest_each(path, &wrapped, stats, add_to_writer, &sink);
    /* a writer failure already left its own message */
    if (rc < 0 && rc != NEWSIDX_ERR_NOMEM && rc != NEWSIDX_ERR_IO && sink.last_error[0])
        nx_writer_set_error(w, rc, sink.last_error);
    else if (rc < 0 && !newsidx_writer_errmsg(w)[0])
        nx_writer_set_error(w, rc, sink.last_error[0] ? sink.last_error : newsidx_strerror(rc));
    return rc;
}
