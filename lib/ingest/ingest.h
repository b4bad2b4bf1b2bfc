/* ingest/ — reads article files (JSON Lines plain/.zst/.gz, .txt, .md, .html,
 * directories, stdin) into records of named fields; bad input is reported
 * and skipped, never fatal. Rules and limits: docs/INGEST.md. */
#ifndef NX_INGEST_H
#define NX_INGEST_H

#include "util/fields.h"
#include "util/utf8.h"
#include "util/util.h"

#include <stdio.h>

/* Default opts->max_line_bytes: the longest record read whole. */
#define NX_DEFAULT_MAX_LINE_BYTES ((size_t)64 << 20)

/* Problems the reader itself found and already reported for a record; they
 * share the bit space of NEWSIDX_WARN_* so a caller can tell which writer
 * warnings are new (NEWSIDX_WARN_BAD_UTF8 is used as is). */
#define NX_WARN_NUL_BYTE 0x100  /* NUL bytes were removed */
#define NX_WARN_TOO_LONG 0x200  /* a file was cut at max_line_bytes */

/* One good record handed to an nx_record_fn. Everything is valid only during
 * the call. Field values are valid UTF-8 without NUL bytes. */
typedef struct nx_record {
    const newsidx_field *fields;
    size_t n_fields;
    const char *file;  /* the input as shown in reports ("<stdin>" for -) */
    uint64_t line;     /* 1-based line of a JSON Lines record; 0 for a whole file */
    unsigned warnings; /* NEWSIDX_WARN_BAD_UTF8 / NX_WARN_* already reported */
} nx_record;

/* What an nx_record_fn returns: the record's fate (nx_ingest_each counts it in
 * stats->indexed, ->warnings, ->skipped), or a negative NEWSIDX_ERR_* that
 * stops the whole run (a writer that cannot flush). */
#define NX_RECORD_ADDED 0   /* added without a new problem */
#define NX_RECORD_WARNED 1  /* added; the callback reported a warning */
#define NX_RECORD_SKIPPED 2 /* not added; the callback reported why */
typedef int (*nx_record_fn)(void *ctx, const nx_record *rec);

/**
 * Reads every record of path (a file of any supported type, a directory
 * walked recursively in sorted order, or "-" for JSON Lines on stdin) and
 * calls fn for each good one. Bad records are reported through opts->report
 * and counted in *stats; they never stop the run.
 * @param opts   options (NULL: defaults)
 * @param stats  counters to add to (required)
 * @return NEWSIDX_OK once path was read (even with skipped records);
 *         NEWSIDX_ERR_NOT_FOUND / NEWSIDX_ERR_IO when path itself cannot be
 *         opened (also reported, severity ERROR); NEWSIDX_ERR_NOMEM; or the
 *         callback's negative code.
 */
int nx_ingest_each(const char *path, const newsidx_ingest_options *opts,
                   newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx);

/**
 * Same as nx_ingest_each for JSON Lines already open as a stream (fd is not
 * closed); name is what reports show. Compression is sniffed by magic bytes.
 * @param input_bytes  running count of raw bytes read of the current input,
 *                     advanced here and given to opts->progress
 */
int nx_ingest_jsonl_fd(int fd, const char *name, const newsidx_ingest_options *opts,
                       newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx,
                       uint64_t *input_bytes);

/**
 * Hands one record to fn unless it has no text at all (no non-blank title
 * nor body: reported SKIPPED, reason EMPTY), and counts its fate in stats.
 * @return 0, or fn's negative code.
 */
int nx_ingest_deliver(const newsidx_ingest_options *opts,
                      newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx,
                      const nx_record *rec);

/**
 * Reports one problem: counts it in stats->by_reason (and stats->errors for
 * severity ERROR) and calls opts->report with a printf-style message.
 */
void nx_ingest_report(const newsidx_ingest_options *opts,
                      newsidx_ingest_stats *stats, const char *file,
                      uint64_t line, int severity, int reason,
                      const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/**
 * Reports the NEWSIDX_WARN_* bits newsidx_writer_add gave for rec, except
 * those the reader already reported (rec->warnings): ID_DERIVED -> NO_ID,
 * DATE_UNPARSED -> BAD_DATE, FIELD_CUT -> TOO_LONG, EMPTY_BODY ->
 * EMPTY_BODY, REPLACED -> DUPLICATE_ID, BAD_UTF8 -> BAD_UTF8, each a
 * WARNING. Returns NX_RECORD_WARNED if it reported anything, else
 * NX_RECORD_ADDED (what newsidx_ingest_path's record callback returns).
 */
int nx_ingest_writer_warnings(const newsidx_ingest_options *opts,
                              newsidx_ingest_stats *stats, const nx_record *rec,
                              unsigned bits);

/* ---- the JSON Lines scanner (jsonscan.c) --------------------------------- */

#define NX_SCAN_OK 0       /* the line is one object; members filled */
#define NX_SCAN_FALLBACK 1 /* not handled here: ask jansson (verdict and message) */
#define NX_SCAN_BAD_UTF8 2 /* invalid UTF-8 inside a string: repair, then rescan */

enum nx_json_kind { NX_JSON_STRING, NX_JSON_NULL, NX_JSON_OTHER };

/* One member of the scanned object. Key: NUL-terminated at scratch->data +
 * key_off. Value: at `value` when non-NULL (inside the line), else at
 * scratch->data + value_off. Strings are unescaped (NUL characters dropped);
 * other values are their JSON text without white space outside strings. */
typedef struct nx_json_member {
    size_t key_off, key_len;
    const char *value;
    size_t value_off, value_len;
    enum nx_json_kind kind;
} nx_json_member;

/**
 * Scans a line holding exactly one JSON object (white space around it
 * allowed) into members (an array of nx_json_member; a repeated key keeps
 * the last value), appending copies to scratch. Whatever it accepts,
 * jansson accepts with the same meaning; the reverse is not true.
 * @param had_nul  set to true when a string value held \u0000 (dropped)
 * @return NX_SCAN_OK, NX_SCAN_FALLBACK, NX_SCAN_BAD_UTF8 or NEWSIDX_ERR_NOMEM.
 */
int nx_json_scan_object(const char *line, size_t len, nx_buf *scratch,
                        nx_buf *members, bool *had_nul);

/* ---- helpers shared by the readers (exposed for tests) ------------------ */

/* Extracts the title (<title>) and readable text of an HTML document with
 * gumbo: no tags, no script/style/noscript/template content, entities
 * decoded, block elements as line breaks, runs of white space as one space.
 * title/text are appended to (NUL-terminated). 0 or NEWSIDX_ERR_NOMEM. */
int nx_html_extract(const char *html, size_t len, nx_buf *title, nx_buf *text);

#endif
