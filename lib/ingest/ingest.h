/* ingest/ — reads article files (JSON Lines plain/.zst/.gz/.xz/.bz2, .txt,
 * .md, .html, mail, WARC, archives through libarchive, directories, stdin)
 * into records of named fields; bad input is reported and skipped, never
 * fatal. Rules and limits: docs/INGEST.md.
 *
 * Every reader ends in the same place: an nx_record handed to
 * nx_ingest_deliver (report.c). Readers of one whole document (text, HTML,
 * one mail) go through nx_ingest_document (document.c); containers (walk.c
 * for directories, archive.c, warc.c, mail.c for mbox) find the documents
 * and name them. */
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

/* ---- readers of documents and containers -------------------------------- */

/* What every reader needs to pass records and problems on. */
typedef struct nx_sink {
    const newsidx_ingest_options *opts;
    newsidx_ingest_stats *stats;
    nx_record_fn fn;
    void *ctx;
    size_t max_bytes;      /* largest document read whole (opts->max_line_bytes) */
    uint64_t *input_bytes; /* raw bytes read of the current path argument */
} nx_sink;

/* What a document is, told by magic bytes first and by name second
 * (nx_sniff_kind). */
enum nx_doc_kind {
    NX_DOC_UNKNOWN = 0,
    NX_DOC_JSONL,
    NX_DOC_TEXT,
    NX_DOC_MARKDOWN,
    NX_DOC_HTML,
    NX_DOC_MAIL,    /* one message (.eml) */
    NX_DOC_MBOX,    /* many messages, each after a "From " line */
    NX_DOC_WARC,
    NX_DOC_ARCHIVE, /* anything libarchive opens: tar, zip, 7z, cpio, or a
                       compressed stream (.xz, .bz2, .gz, .zst) */
};

/**
 * Guesses the kind of a document from its first bytes (head, head_len: up
 * to a few KiB) and then its name. Magic bytes win: a zip named .txt is an
 * archive. Plain text content is told apart by name only (.jsonl, .html,
 * .txt, .md, .eml, .mbox, .warc), except that a leading '{' is JSON Lines,
 * a leading '<' followed by an HTML tag is HTML, "From " an mbox, "WARC/"
 * a WARC file, and mail headers a mail.
 * @param name  file or member name (its extension is used), may be NULL
 */
enum nx_doc_kind nx_sniff_kind(const uint8_t *head, size_t head_len, const char *name);

/* Context a container knows about one of its documents. */
typedef struct nx_doc_hints {
    const char *charset; /* declared outside the document (HTTP, MIME), or NULL */
    const char *url;     /* becomes the url field */
    const char *date;    /* used when the document gives no date itself */
    const char *source;  /* becomes the source field */
    const char *title;   /* the title (a mail's Subject): then all text is body */
    const char *author;  /* used when the document names no author itself */
    uint64_t line;       /* line of the document in its file, for reports */
} nx_doc_hints;

/**
 * Makes one article of a whole document held in memory and delivers it:
 * converts it to UTF-8 (nx_charset_to_utf8), then takes title, author, date
 * and text from HTML (nx_html_article) or from text (nx_text_article).
 * @param kind   NX_DOC_TEXT, NX_DOC_MARKDOWN or NX_DOC_HTML
 * @param name   what reports show ("a.zip:x/y.html")
 * @param id     the article's id unless the document has one; NULL: derived
 * @param hints  may be NULL
 * @param warn   NX_WARN_* already reported for this document (a cut file)
 * @return 0, NEWSIDX_ERR_NOMEM or the record callback's negative code.
 */
int nx_ingest_document(const nx_sink *s, enum nx_doc_kind kind, const char *name,
                       const char *id, const char *data, size_t len,
                       const nx_doc_hints *hints, unsigned warn);

/* Decompression bombs: a compressed input (or archive) is read until it
 * has given NX_INFLATE_RATIO times its compressed size plus
 * NX_INFLATE_FLOOR bytes, then the rest of it is skipped with a report.
 * Text compresses 3-10x (zstd -19 of repetitive JSON: under 100x); 882
 * bytes of bzip2 held 1 GiB of blank lines, and a 7 KB tar.bz2 declared an
 * 8 GiB member that skipping decompressed (docs/HARDENING.md). */
#define NX_INFLATE_RATIO 1000
#define NX_INFLATE_FLOOR ((uint64_t)256 << 20)
/* Whether `out` bytes decompressed from `in` compressed ones pass the bound. */
static inline bool nx_inflated_too_much(uint64_t out, uint64_t in) {
    return out > NX_INFLATE_FLOOR && (out - NX_INFLATE_FLOOR) / NX_INFLATE_RATIO > in;
}

/* A byte source the streaming readers pull from: returns bytes read (0 at
 * the end) or -1 with a message in err (err_cap bytes). */
typedef ssize_t (*nx_read_fn)(void *src, void *buf, size_t cap, char *err, size_t err_cap);

/**
 * Reads the rest of a document from a byte source into out, after what out
 * already holds (the head a caller read to tell the kind): at most
 * s->max_bytes in all, cut on a UTF-8 character boundary when the source
 * held more, and NUL-terminated (the NUL not in out->len). Files and archive
 * members are both read through here, so that the limit, the cut and their
 * messages are the same for both. A read failure is reported (ERROR,
 * unreadable: fail_prefix then the source's message), a cut too (WARNING,
 * too-long: "NOUN longer than the limit of N bytes: the rest is ignored").
 * @param name  what reports show
 * @param warn  gets NX_WARN_TOO_LONG when the document was cut
 * @return 0 with the document in out, 1 when it could not be read (reported:
 *         skip it), or NEWSIDX_ERR_NOMEM.
 */
int nx_read_document(const nx_sink *s, const char *name, const char *noun,
                     const char *fail_prefix, nx_read_fn read, void *src, nx_buf *out,
                     unsigned *warn);

/**
 * Same as nx_ingest_jsonl_fd over any byte source (an archive member, a
 * stream libarchive decompresses); raw_bytes, if not NULL, is read after
 * each chunk for progress and stats->bytes_read (the compressed bytes).
 */
int nx_ingest_jsonl_source(nx_read_fn read, void *src, const uint64_t *raw_bytes,
                           const char *name, const nx_sink *s);

/**
 * Reads a WARC file (records of WARC/1.0 or 1.1) from a byte source:
 * `response` records with an HTML payload become articles (URL as id and
 * url field, WARC-Date as the fallback date, the HTTP charset honoured);
 * other records are skipped and counted in one NEWSIDX_REPORT_NOTE.
 */
int nx_ingest_warc(nx_read_fn read, void *src, const uint64_t *raw_bytes,
                   const char *name, const nx_sink *s);

/* A record that failed: where it began in the stream, the gzip member
 * that held its first byte, and where the record before it began. */
typedef struct nx_warc_failed {
    uint64_t start;      /* stream offset of the record's first byte */
    uint64_t member_off; /* file offset of the member holding it */
    uint64_t member_out; /* stream offset of that member's first byte */
    uint64_t prev_start; /* stream offset of the record before (0: none) */
} nx_warc_failed;

/* What a source that can go on after damage (warcgz.c) gives warc.c. */
typedef struct nx_warc_resync {
    /* After a read or parse error in record f: positions the source at the
     * next record (*at: its byte in the file); false when there is none. */
    bool (*resync)(void *src, const nx_warc_failed *f, uint64_t *at);
    /* The file offset of the member holding stream offset out (*member_out:
     * that member's own stream offset); out must have been read. */
    uint64_t (*member_of)(void *src, uint64_t out, uint64_t *member_out);
    /* The stream offset of the last member begun whose data starts with a
     * WARC version line (UINT64_MAX: none yet). A read gives at most one
     * member's data. */
    uint64_t (*record_starts)(void *src);
} nx_warc_resync;

/**
 * Same as nx_ingest_warc, for a source that can go on after damage: a
 * record lost to it is reported (by the file byte of its gzip member, not
 * by number: after a resync, records are counted again) and reading goes
 * on at the next record rs->resync gives.
 */
int nx_ingest_warc_resync(nx_read_fn read, const nx_warc_resync *rs, void *src,
                          const uint64_t *raw_bytes, const char *name, const nx_sink *s);

/* ---- .warc.gz one gzip member at a time (warcgz.c) ----------------------- */

typedef struct nx_warc_gz nx_warc_gz;

/* A reader of the .warc.gz file open at fd (read with pread from byte 0);
 * its own reports (a checksum that fails, bytes between members) go to s
 * under name. NULL when out of memory. */
nx_warc_gz *nx_warc_gz_new(int fd, const char *name, const nx_sink *s);
/* nx_read_fn: the inflated members one after the other; -1 with a message
 * naming the member's byte when one is corrupt or the file ends inside it,
 * or when the file inflates past nx_inflated_too_much. */
ssize_t nx_warc_gz_read(void *src, void *buf, size_t cap, char *err, size_t err_cap);
/* nx_warc_resync.resync: the member holding the failed record's first
 * byte again, when that record began inside it after the member's own
 * first record had been swallowed by the record before (a Content-Length
 * too long); else the first member after it in the file that inflates
 * whole, with its checksum, to a WARC version line. False when there is
 * none, or the file was a decompression bomb. */
bool nx_warc_gz_resync(void *src, const nx_warc_failed *f, uint64_t *at);
/* nx_warc_resync.member_of over the members met last (4096). */
uint64_t nx_warc_gz_member_of(void *src, uint64_t out, uint64_t *member_out);
/* nx_warc_resync.record_starts. */
uint64_t nx_warc_gz_record_starts(void *src);
/* How far the file was read (raw bytes, for progress). */
const uint64_t *nx_warc_gz_bytes(const nx_warc_gz *g);
void nx_warc_gz_free(nx_warc_gz *g);

/* The first bytes [out, out+cap) a gzip or zstd stream whose first
 * compressed bytes are [in, in+n) decodes to; returns how many (0 when
 * nothing decodes). */
size_t nx_peek_decoded(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/**
 * Reads mail held in memory: one message (NX_DOC_MAIL) or an mbox
 * (NX_DOC_MBOX), through GMime. Subject, From, Date, Message-ID and the
 * list name become title, author, date, id and source; the body is the
 * first text/plain part, else the first text/html part; attachments are
 * skipped.
 * @param id  id for a message without Message-ID (NULL: derived); in an
 *            mbox the message number is appended ("box.mbox#3")
 */
int nx_ingest_mail(const nx_sink *s, enum nx_doc_kind kind, const char *name,
                   const char *id, const char *data, size_t len);

/**
 * Same as nx_ingest_mail for an mbox, when data is a read-only mapping of
 * the file from its first byte (page-aligned): the pages of each message
 * read are given back (MADV_DONTNEED), so that an mbox of gigabytes does
 * not stay in the process's memory (a 400 MB one peaked at 595 MB RSS).
 */
int nx_ingest_mbox_mapped(const nx_sink *s, const char *name, const char *data, size_t len);

/**
 * Reads every member of the archive open on fd (or compressed stream:
 * libarchive picks the format and filters by content) and hands each to
 * the reader of its kind. Members are named "ARCHIVE:MEMBER" in reports
 * and, without an id of their own, get "ARCHIVE_ID:MEMBER" as id (id_prefix
 * is ARCHIVE_ID). Unsupported archives and encrypted members are reported
 * once.
 * @return 0, NEWSIDX_ERR_NOMEM or the callback's negative code.
 */
int nx_ingest_archive_fd(int fd, const char *name, const char *id_prefix, const nx_sink *s);

/* ---- charsets (charset.c) ------------------------------------------------ */

/* How nx_charset_to_utf8 decided. */
typedef struct nx_charset_result {
    char charset[40];  /* the charset converted from ("UTF-8", "WINDOWS-1252") */
    bool bom;          /* a byte order mark said so (and was removed) */
    bool detected;     /* uchardet (or the Windows-1252 fallback) chose it */
    bool had_bad;      /* some bytes could not be converted: U+FFFD */
} nx_charset_result;

/**
 * Converts a document to UTF-8. In order: a byte order mark (UTF-8,
 * UTF-16LE/BE); the charset declared outside (HTTP, MIME); for HTML a
 * <meta charset> or http-equiv in the first 4 KiB; valid UTF-8 as it is;
 * otherwise uchardet's guess, and Windows-1252 when it has none. ISO-8859-1
 * and US-ASCII are read as Windows-1252, as browsers do. A declared UTF-8
 * that is not valid UTF-8 is treated as undeclared.
 * @param out  gets the UTF-8 text (may hold invalid sequences only when the
 *             input claimed UTF-8 by a BOM; NUL bytes are kept), NUL-terminated
 * @return 0 or NEWSIDX_ERR_NOMEM.
 */
int nx_charset_to_utf8(const char *data, size_t len, const char *declared, bool html,
                       nx_buf *out, nx_charset_result *res);

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
 * the last value), appending copies to scratch. Whatever it accepts
 * without any_number, jansson accepts with the same meaning; the reverse is
 * not true.
 * @param had_nul     set to true when a string value held \u0000 (dropped)
 * @param any_number  false: integers of more than 18 digits and exponents
 *                    are handed back (NX_SCAN_FALLBACK), for jansson's
 *                    verdict on their range; true: every number RFC 8259
 *                    allows is taken as its text (for a line jansson
 *                    refused only for a number out of its range)
 * @return NX_SCAN_OK, NX_SCAN_FALLBACK, NX_SCAN_BAD_UTF8 or NEWSIDX_ERR_NOMEM.
 */
int nx_json_scan_object(const char *line, size_t len, nx_buf *scratch, nx_buf *members,
                        bool *had_nul, bool any_number);

/* ---- helpers shared by the readers (exposed for tests) ------------------ */

/* Extracts the title (<title>) and readable text of an HTML document with
 * gumbo: no tags, no script/style/noscript/template content, entities
 * decoded, block elements as line breaks, runs of white space as one space;
 * start tags nested more than 4096 deep are left out, their text kept.
 * title/text are appended to (NUL-terminated). 0 or NEWSIDX_ERR_NOMEM. */
int nx_html_extract(const char *html, size_t len, nx_buf *title, nx_buf *text);

/* An article's parts found in HTML; each buffer NUL-terminated, empty when
 * not found. */
typedef struct nx_html_article {
    nx_buf title, author, date, text;
    /* byte of the first start tag left out for nesting deeper than the
     * parser is given (its text kept), SIZE_MAX when none */
    size_t flattened_at;
} nx_html_article;

/**
 * Reads an HTML news page (UTF-8) into its parts: title from og:title, else
 * <title>, else the first <h1>; author from <meta name="author">,
 * article:author or JSON-LD author; date from article:published_time,
 * JSON-LD datePublished or the first <time datetime>; text from the
 * largest <article>, else <main>, else <body>, without nav, header, footer,
 * aside, form, script and style. The buffers are reset first.
 * @return 0 or NEWSIDX_ERR_NOMEM.
 */
int nx_html_article_extract(const char *html, size_t len, nx_html_article *out);

/* Frees the buffers of an nx_html_article. */
void nx_html_article_free(nx_html_article *a);

/* Where nx_text_article found the parts of a plain-text article: each a
 * [start, end) range of the text (empty when absent). */
typedef struct nx_text_parts {
    size_t title_off, title_len;
    size_t date_off, date_len;
    size_t author_off, author_len;
    size_t body_off, body_len;
} nx_text_parts;

/**
 * Splits a plain-text (or Markdown) article: the title is the first
 * non-blank line among the first few that reads as a headline (not a date,
 * not "4 min read", not a "By NAME" byline: those give the date and the
 * author instead); the body is what follows the title and its byline and
 * date lines.
 */
void nx_text_article(const char *s, size_t n, bool markdown, nx_text_parts *parts);

#endif
