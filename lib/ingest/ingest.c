/* ingest.c — the public entry newsidx_ingest_path: records from
 * nx_ingest_each go to newsidx_writer_add, and the writer's NEWSIDX_WARN_*
 * bits become reports (docs/INGEST.md, "Reports"). */
#include "ingest/ingest.h"

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
    const newsidx_ingest_options *opts;
    newsidx_ingest_stats *stats;
} writer_sink;

static int add_to_writer(void *ctx, const nx_record *rec) {
    writer_sink *s = ctx;
    unsigned bits = 0;
    int rc = newsidx_writer_add(s->w, rec->fields, rec->n_fields, &bits);
    /* NOMEM, IO while flushing, or a writer already failed: nothing more
     * can be added, so the run stops with that code */
    if (rc < 0) return rc;
    return nx_ingest_writer_warnings(s->opts, s->stats, rec, bits);
}

int newsidx_ingest_path(newsidx_writer *w, const char *path,
                        const newsidx_ingest_options *opts,
                        newsidx_ingest_stats *stats) {
    if (!w || !path || !stats) return NEWSIDX_ERR_INVALID;
    newsidx_ingest_options defaults;
    if (!opts) {
        newsidx_ingest_options_init(&defaults);
        opts = &defaults;
    }
    writer_sink sink = {w, opts, stats};
    return nx_ingest_each(path, opts, stats, add_to_writer, &sink);
}
