/* report.c — what every reader shares: the options, and what to do with a
 * record and with a problem. A record goes to the caller's callback unless
 * it has no text, and its fate is counted; a problem is counted by reason
 * and handed to opts->report (docs/INGEST.md, "Bad input: rules and
 * messages" and "Counters and exit codes"). The readers (walk.c, jsonl.c)
 * call down into this file, never back. */
#include "ingest/ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void newsidx_ingest_options_init(newsidx_ingest_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->max_line_bytes = NX_DEFAULT_MAX_LINE_BYTES;
}

const char *newsidx_reason_name(int reason) {
    static const char *const names[NEWSIDX_REASON_COUNT] = {
        [NEWSIDX_REASON_BAD_JSON] = "bad-json",
        [NEWSIDX_REASON_NOT_OBJECT] = "not-object",
        [NEWSIDX_REASON_BAD_UTF8] = "bad-utf8",
        [NEWSIDX_REASON_NO_ID] = "no-id",
        [NEWSIDX_REASON_EMPTY_BODY] = "empty-body",
        [NEWSIDX_REASON_BAD_DATE] = "bad-date",
        [NEWSIDX_REASON_TOO_LONG] = "too-long",
        [NEWSIDX_REASON_NUL_BYTE] = "nul-byte",
        [NEWSIDX_REASON_DUPLICATE_ID] = "duplicate-id",
        [NEWSIDX_REASON_UNREADABLE] = "unreadable",
        [NEWSIDX_REASON_EMPTY] = "empty",
        [NEWSIDX_REASON_OUTSIDE_ROOT] = "outside-root",
    };
    if (reason < 0 || reason >= NEWSIDX_REASON_COUNT) return "unknown";
    return names[reason];
}

void nx_ingest_report(const newsidx_ingest_options *opts,
                      newsidx_ingest_stats *stats, const char *file,
                      uint64_t line, int severity, int reason,
                      const char *fmt, ...) {
    if (reason >= 0 && reason < NEWSIDX_REASON_COUNT) stats->by_reason[reason]++;
    if (severity == NEWSIDX_REPORT_ERROR) stats->errors++;
    if (!opts || !opts->report) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    opts->report(opts->ctx, file, line, severity, reason, msg);
}

static bool field_has_text(const newsidx_field *f) {
    for (size_t i = 0; i < f->value_len; i++) {
        char c = f->value[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v')
            return true;
    }
    return false;
}

int nx_ingest_deliver(const newsidx_ingest_options *opts,
                      newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx,
                      const nx_record *rec) {
    bool any_text = false;
    for (size_t i = 0; i < rec->n_fields && !any_text; i++) {
        const char *name = rec->fields[i].name;
        if ((nx_field_is(name, NX_F_TITLE) || nx_field_is(name, NX_F_BODY)) &&
            field_has_text(&rec->fields[i]))
            any_text = true;
    }
    if (!any_text) {
        nx_ingest_report(opts, stats, rec->file, rec->line, NEWSIDX_REPORT_SKIPPED,
                         NEWSIDX_REASON_EMPTY, "record has no title and no body text");
        stats->skipped++;
        return 0;
    }
    int rc = fn(ctx, rec);
    if (rc < 0) return rc;
    if (rc == NX_RECORD_SKIPPED) {
        stats->skipped++;
    } else {
        stats->indexed++;
        if (rc == NX_RECORD_WARNED || rec->warnings) stats->warnings++;
    }
    return 0;
}
