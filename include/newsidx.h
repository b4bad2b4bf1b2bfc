/*
 * newsidx.h — the whole public API of libnewsidx, an embeddable full-text
 * search library for article archives.
 *
 * Conventions (as in zstd, LMDB and SQLite):
 *  - every public name starts with newsidx_ / NEWSIDX_;
 *  - handles are opaque; every free/close function accepts NULL;
 *  - functions return an int status: 0 (NEWSIDX_OK) on success, a negative
 *    NEWSIDX_ERR_* code on failure; out-parameters come last, and a NULL
 *    out-parameter (or a NULL handle) is refused with NEWSIDX_ERR_INVALID,
 *    never dereferenced. On failure a handle out-parameter is set to NULL.
 *
 * Error messages — one rule, one way per handle and call. A message says
 * what and where (file, line, byte offset, query column):
 *  - a call on a WRITER or an ANALYZER (handles one thread uses at a time)
 *    keeps its message in the handle until the next call on it:
 *    newsidx_writer_errmsg(), newsidx_analyzer_errmsg();
 *  - every other call that can fail for more than a NULL argument —
 *    creating a handle, parsing a query, and the calls on a READER, which
 *    threads share — takes an optional `char *errbuf, size_t errbuf_size`
 *    pair just before its out-parameter (NULL/0 = no message wanted) and
 *    writes the message there, NUL-terminated and cut to fit ("" on
 *    success). Older entry points without that pair stay and still work:
 *    newsidx_analyzer_create, newsidx_reader_get and newsidx_search (whose
 *    message goes to the deprecated newsidx_search_options.errbuf) have
 *    _v2 forms that follow the rule;
 *  - per-record problems while ingesting and the findings of
 *    newsidx_check are not failures of the call: they arrive through the
 *    report / check callbacks.
 *  newsidx_strerror(code) names any code.
 *
 * Options: every options struct starts with a `size` field and is filled
 * with defaults by its *_init() function. A caller built against an older
 * header passes a smaller size: the fields past it keep their defaults. A
 * size larger than this library knows is accepted when the extra bytes are
 * all zero (a newer header, no new field used), else NEWSIDX_ERR_INVALID.
 *
 * Ownership: a pointer returned by an accessor (newsidx_hit_id, _field,
 * _snippet, newsidx_doc_field, newsidx_facet_value's label, *_errmsg,
 * *_notice, newsidx_reader_*_language) is owned by the handle it came from
 * and valid until that handle is freed (errmsg: until the next call on the
 * handle); the caller never frees it. Strings the caller passes in
 * (options, fields, query text) are copied or used only during the call.
 *
 * There is no global mutable state: handles are independent. A reader may
 * be shared by several threads searching at once; a writer and an analyzer
 * belong to one thread at a time.
 */
#ifndef NEWSIDX_H
#define NEWSIDX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NEWSIDX_BUILDING) && defined(__GNUC__)
#define NEWSIDX_API __attribute__((visibility("default")))
#else
#define NEWSIDX_API
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                 */
/* ------------------------------------------------------------------------ */

#define NEWSIDX_VERSION_MAJOR 0
#define NEWSIDX_VERSION_MINOR 1
#define NEWSIDX_VERSION_PATCH 0
#define NEWSIDX_VERSION_NUMBER                                                 \
    (NEWSIDX_VERSION_MAJOR * 10000 + NEWSIDX_VERSION_MINOR * 100 +             \
     NEWSIDX_VERSION_PATCH)
#define NEWSIDX_VERSION_STRING "0.1.0"

/** Returns NEWSIDX_VERSION_NUMBER of the library actually linked. */
NEWSIDX_API unsigned newsidx_version_number(void);

/** Returns the version of the library actually linked, as "MAJOR.MINOR.PATCH". */
NEWSIDX_API const char *newsidx_version_string(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

#define NEWSIDX_OK 0
#define NEWSIDX_ERR_NOMEM (-1)       /* out of memory */
#define NEWSIDX_ERR_IO (-2)          /* a system call on a file failed */
#define NEWSIDX_ERR_CORRUPT (-3)     /* an index file fails a checksum or invariant */
#define NEWSIDX_ERR_INVALID (-4)     /* an argument is invalid */
#define NEWSIDX_ERR_LOCKED (-5)      /* another writer holds the index lock */
#define NEWSIDX_ERR_NOT_FOUND (-6)   /* no such index, article or field */
#define NEWSIDX_ERR_SYNTAX (-7)      /* a query does not parse */
#define NEWSIDX_ERR_LIMIT (-8)       /* a documented limit was exceeded */
#define NEWSIDX_ERR_VERSION (-9)     /* index written by an unsupported format version */
#define NEWSIDX_ERR_UNSUPPORTED (-10) /* e.g. unknown stemmer language */
#define NEWSIDX_ERR_INPUT (-11)      /* an input record is malformed */

/**
 * Returns a static, human-readable description of an error code (never NULL;
 * unknown codes give "unknown error").
 */
NEWSIDX_API const char *newsidx_strerror(int code);

/* ------------------------------------------------------------------------ */
/* Text analysis                                                            */
/* ------------------------------------------------------------------------ */

/** Longest term kept, in bytes of folded UTF-8; longer words are dropped. */
#define NEWSIDX_MAX_TERM_BYTES 64

/** An analyzer turns UTF-8 text into terms. One thread at a time. */
typedef struct newsidx_analyzer newsidx_analyzer;

/** Analyzer options. Fill with newsidx_analyzer_options_init() first. */
typedef struct newsidx_analyzer_options {
    size_t size;                    /* sizeof(newsidx_analyzer_options) */
    const char *stem_language;      /* Snowball language ("english", "fr"...), NULL = no stemming */
    const char *stopwords_language; /* stopword list language, NULL = none */
} newsidx_analyzer_options;

/** Fills *opts with the defaults (no stemming, no stopwords). */
NEWSIDX_API void newsidx_analyzer_options_init(newsidx_analyzer_options *opts);

/**
 * Creates an analyzer.
 * @param opts  options, or NULL for the defaults
 * @param out   receives the analyzer; free it with newsidx_analyzer_free()
 * @return NEWSIDX_OK, NEWSIDX_ERR_NOMEM, NEWSIDX_ERR_INVALID (bad size), or
 *         NEWSIDX_ERR_UNSUPPORTED (unknown stemmer or stopword language).
 */
NEWSIDX_API int newsidx_analyzer_create(const newsidx_analyzer_options *opts,
                                        newsidx_analyzer **out);

/**
 * newsidx_analyzer_create with a message: on failure errbuf (optional)
 * says why, e.g. "no stemmer for 'klingon'".
 */
NEWSIDX_API int newsidx_analyzer_create_v2(const newsidx_analyzer_options *opts,
                                           char *errbuf, size_t errbuf_size,
                                           newsidx_analyzer **out);

/** Frees an analyzer; NULL is accepted. */
NEWSIDX_API void newsidx_analyzer_free(newsidx_analyzer *analyzer);

/**
 * Returns the message of the analyzer's last failed newsidx_analyze ("" if
 * the last call succeeded, or for NULL). Owned by the analyzer.
 */
NEWSIDX_API const char *newsidx_analyzer_errmsg(const newsidx_analyzer *analyzer);

/** One term produced by the analyzer. Valid only during the callback. */
typedef struct newsidx_token {
    const char *term;  /* folded (and stemmed) UTF-8, not NUL-terminated */
    size_t term_len;   /* bytes in term, 1..NEWSIDX_MAX_TERM_BYTES */
    uint32_t position; /* 0-based word position in the text */
    size_t start;      /* byte offset of the source word in the input */
    size_t end;        /* one past its last byte: input[start, end) is the word */
} newsidx_token;

/** Receives each token; return 0 to go on, non-zero to stop (returned by newsidx_analyze). */
typedef int (*newsidx_token_fn)(void *ctx, const newsidx_token *token);

/**
 * Analyzes text and calls fn for each term, in order.
 * Any bytes are accepted: invalid UTF-8 acts as a separator.
 * @return NEWSIDX_OK, NEWSIDX_ERR_NOMEM (stemmer), NEWSIDX_ERR_INVALID
 *         (NULL analyzer or fn, or NULL text with len > 0), or the
 *         callback's non-zero value.
 */
NEWSIDX_API int newsidx_analyze(newsidx_analyzer *analyzer, const char *text,
                                size_t len, newsidx_token_fn fn, void *ctx);

/** Returns the stemmer languages available, as a NULL-terminated array. */
NEWSIDX_API const char *const *newsidx_stem_languages(void);

/* ------------------------------------------------------------------------ */
/* Articles and fields                                                      */
/* ------------------------------------------------------------------------ */

/**
 * One named field of an article. Well-known names: "id", "title", "body"
 * (also "text" / "content"), "author", "source", "url", "date". Other names
 * are stored but not indexed.
 */
typedef struct newsidx_field {
    const char *name;  /* NUL-terminated field name */
    const char *value; /* UTF-8 bytes, not necessarily NUL-terminated */
    size_t value_len;
} newsidx_field;

/**
 * Parses a date: ISO-8601 (date, date-time, with or without zone), RFC 2822,
 * "Jun 23, 2024", "23 June 2024", Unix seconds (9 to 11 digits). The whole
 * text, trimmed of white space, must be one date (docs/INGEST.md, "Dates").
 * @param out_seconds  receives seconds since 1970-01-01T00:00:00Z (UTC)
 * @return NEWSIDX_OK or NEWSIDX_ERR_INPUT when the text is not a date.
 */
NEWSIDX_API int newsidx_parse_date(const char *text, size_t len,
                                   int64_t *out_seconds);

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

/** Adds articles to an index directory. One writer per index (lock file). */
typedef struct newsidx_writer newsidx_writer;

/** Phases of the writer's work reported through newsidx_writer_progress_fn. */
enum newsidx_writer_phase {
    NEWSIDX_PHASE_ADDING = 1, /* articles going into the RAM buffer (done = total = articles) */
    NEWSIDX_PHASE_FLUSHING,   /* the RAM buffer written as a segment: docs, then terms */
    NEWSIDX_PHASE_MERGING,    /* `segments` segments merged into one: docs, then terms */
    NEWSIDX_PHASE_COMMITTING  /* deletions and the manifest written and synced */
};

/** Where the writer is, passed to newsidx_writer_progress_fn. */
typedef struct newsidx_writer_progress {
    int phase;            /* enum newsidx_writer_phase */
    uint32_t segments;    /* MERGING: segments being merged; FLUSHING: 1; else 0 */
    uint64_t done, total; /* work units of this phase: done only grows, and the last call
                             of each phase has done == total (FLUSHING and MERGING: docs +
                             terms; COMMITTING: steps) */
    uint64_t docs_done, docs_total; /* FLUSHING, MERGING: docs written of the new segment */
    uint64_t text_bytes;  /* bytes of field values given to newsidx_writer_add since the
                             writer opened (uncompressed article text) */
} newsidx_writer_progress;

/**
 * Called as work goes on: at the start and the end of each phase and in
 * between at most every 1/1000 of it (and every 64 units), so at most
 * ~1,000 times per phase; ADDING about every 256 KiB of text. With
 * threads > 1 the workers' flushes call it from their threads, so two
 * flushes' calls may interleave (each flush's own are monotone); calls are
 * never concurrent (the writer holds a lock around each). Must not call
 * the writer.
 */
typedef void (*newsidx_writer_progress_fn)(void *ctx, const newsidx_writer_progress *p);

/** Writer options. Fill with newsidx_writer_options_init() first. */
typedef struct newsidx_writer_options {
    size_t size;                /* sizeof(newsidx_writer_options) */
    int append;                 /* 0: start a new, empty index (the directory may exist but
                                   must hold no index, or is reset); 1: add to an existing one */
    size_t ram_budget_bytes;    /* what the RAM buffers and queues of all workers may hold; a
                                   buffer is flushed to a segment at its share (default 256 MiB) */
    const char *stem_language;  /* analyzer stemming for the whole index (NULL = none) */
    const char *stopwords_language; /* analyzer stopwords (NULL = none) */
    int store_fields;           /* 1 (default): store all fields; 0: store only the id */
    int doc_store_level;        /* zstd level 1..22 for the doc store; 0 (default): level 6
                                   with a shallower search (docs/FORMAT.md, "Doc store") */
    uint32_t doc_store_block_bytes; /* doc store block size (default 131072) */
    uint32_t merge_factor;      /* merge when this many segments share a size tier (default 10) */
    uint32_t max_field_bytes;   /* longest field indexed; longer ones are cut (default 16 MiB) */
    int no_sync;                /* 0 (default): a commit fsyncs every file it writes and the
                                   directory, so it survives a power loss; 1: no fsync, the OS
                                   writes back when it likes: a process crash still leaves a
                                   valid index, a power loss or OS crash may lose or damage
                                   the last commits (bulk loads that can be redone, as
                                   SQLite's synchronous=OFF) */
    /* Fields below were added later: a caller built with a smaller struct
       (its size field says so) gets their defaults. */
    newsidx_writer_progress_fn progress; /* NULL (default): no progress calls */
    void *progress_ctx;         /* passed to progress */
    uint32_t threads;           /* workers that analyse, invert and write segments: 0 (default)
                                   = the online cores, at most 8; 1 = none: everything, merges
                                   too, on the caller's thread. With 2 or more, newsidx_writer_add
                                   copies the article into a bounded queue and returns; an
                                   error of a worker is returned by a later add or by the
                                   commit. Results, their order included, do not depend on it,
                                   except where deleted or replaced articles remain: BM25
                                   counts them until a merge drops them, and which merges ran
                                   depends on it (docs/QUERY.md, "Scoring").
                                   The ram_budget_bytes is shared by the workers' buffers and
                                   queues. */
    int keep_flushes;           /* 0 (default): a commit merges the segments flushed since the
                                   last commit that no tier merge took (each worker's last
                                   flush, a run too short to fill a tier) into one, so that a
                                   run leaves few segments to search; 1: they stay as flushed
                                   (many small commits, where that merge would write each
                                   article twice; tests that want several segments) */
} newsidx_writer_options;

/** Fills *opts with the defaults. */
NEWSIDX_API void newsidx_writer_options_init(newsidx_writer_options *opts);

/**
 * Opens (or creates) the index in directory dir for writing.
 * @return NEWSIDX_OK, NEWSIDX_ERR_LOCKED (another writer), NEWSIDX_ERR_IO,
 *         NEWSIDX_ERR_CORRUPT, NEWSIDX_ERR_NOT_FOUND (append to no index),
 *         NEWSIDX_ERR_INVALID, NEWSIDX_ERR_NOMEM.
 *         On failure *out is NULL; a message is in errbuf when given.
 * @param errbuf  optional buffer (may be NULL) for the error message
 */
NEWSIDX_API int newsidx_writer_open(const char *dir,
                                    const newsidx_writer_options *opts,
                                    char *errbuf, size_t errbuf_size,
                                    newsidx_writer **out);

/* Warning bits set by newsidx_writer_add (the article was still added). */
#define NEWSIDX_WARN_ID_DERIVED 0x01    /* no id: derived from XXH3-64 of the content */
#define NEWSIDX_WARN_DATE_UNPARSED 0x02 /* date kept as text only, not in the date column */
#define NEWSIDX_WARN_FIELD_CUT 0x04     /* a field longer than max_field_bytes was cut */
#define NEWSIDX_WARN_EMPTY_BODY 0x08    /* the article has no body text */
#define NEWSIDX_WARN_REPLACED 0x10      /* an article with the same id was replaced */
#define NEWSIDX_WARN_BAD_UTF8 0x20      /* invalid UTF-8 was replaced by U+FFFD when stored */

/**
 * Adds one article given as fields. An article whose id already exists
 * (committed or added earlier) replaces the earlier one. An id is taken
 * byte for byte, never altered: one holding a NUL byte or invalid UTF-8 is
 * refused (NEWSIDX_ERR_INVALID, the message says which byte), the article
 * not added and the writer usable as before.
 * @param warnings  optional; receives NEWSIDX_WARN_* bits
 * @return NEWSIDX_OK, NEWSIDX_ERR_NOMEM, NEWSIDX_ERR_IO (while flushing),
 *         NEWSIDX_ERR_INVALID.
 */
NEWSIDX_API int newsidx_writer_add(newsidx_writer *w, const newsidx_field *fields,
                                   size_t n_fields, unsigned *warnings);

/**
 * Deletes the article with that id, committed or added since the last
 * commit. Like every change it takes effect for readers at the next commit
 * (and is undone by newsidx_writer_rollback). An id that no live article
 * has is not an error.
 * @param n_deleted  optional; receives 1 if an article had the id, else 0
 * @return NEWSIDX_OK, NEWSIDX_ERR_INVALID (NULL w or id), NEWSIDX_ERR_NOMEM.
 */
NEWSIDX_API int newsidx_writer_delete(newsidx_writer *w, const char *id, size_t id_len,
                                      uint64_t *n_deleted);

/**
 * Deletes every article the query matches (e.g. "date:..1990-12-31",
 * "source:wire"): committed ones and those added since the last commit.
 * The query is parsed with the index's analyzer (docs/QUERY.md). To see
 * the articles added since the last commit, the writer first flushes its
 * RAM buffer into a segment (uncommitted, like any flush).
 * @param n_deleted  optional; receives the number of live articles deleted
 * @return NEWSIDX_OK, NEWSIDX_ERR_SYNTAX / NEWSIDX_ERR_LIMIT (the query;
 *         the message names the column), NEWSIDX_ERR_IO, NEWSIDX_ERR_NOMEM,
 *         NEWSIDX_ERR_CORRUPT, NEWSIDX_ERR_INVALID.
 */
NEWSIDX_API int newsidx_writer_delete_query(newsidx_writer *w, const char *query, size_t len,
                                            uint64_t *n_deleted);

/**
 * Forgets every add, update and delete since the last commit (or since the
 * writer opened): segments flushed meanwhile are deleted, the RAM buffer
 * emptied. The writer stays open, at the last commit.
 * @return NEWSIDX_OK, NEWSIDX_ERR_IO, NEWSIDX_ERR_CORRUPT, NEWSIDX_ERR_NOMEM.
 */
NEWSIDX_API int newsidx_writer_rollback(newsidx_writer *w);

/**
 * Makes every article added so far durable and visible to readers opened
 * afterwards: writes segments, fsyncs them, atomically replaces the manifest.
 * @return NEWSIDX_OK, or the error of a commit that did not happen
 *         (NEWSIDX_ERR_IO: a write, fsync or rename failed; NEWSIDX_ERR_NOMEM;
 *         NEWSIDX_ERR_CORRUPT). Before an error returns, every file the
 *         writer made since its last commit is deleted: the directory holds
 *         the last commit. The writer then stays failed (add and commit
 *         return the error) until newsidx_writer_rollback or close.
 *         docs/FORMAT.md, "A commit that fails", says what a failed fsync
 *         of the directory after the rename means.
 */
NEWSIDX_API int newsidx_writer_commit(newsidx_writer *w);

/**
 * Commits like newsidx_writer_commit, after merging every segment into one
 * and dropping replaced articles (as Lucene's forceMerge(1)): a smaller
 * index and faster searches, at the cost of rewriting the whole index.
 * @return as newsidx_writer_commit.
 */
NEWSIDX_API int newsidx_writer_optimize(newsidx_writer *w);

/**
 * Commits like newsidx_writer_commit after merging segments until at most
 * max_segments remain (smallest first, as Lucene's forceMerge(n)); every
 * segment with deleted articles is rewritten without them. max_segments 1
 * is newsidx_writer_optimize.
 * @return as newsidx_writer_commit, or NEWSIDX_ERR_INVALID for 0.
 */
NEWSIDX_API int newsidx_writer_force_merge(newsidx_writer *w, uint32_t max_segments);



/**
 * Closes the writer and releases its lock. Articles added since the last
 * commit are discarded, and the segment files flushed for them deleted.
 * NULL is accepted.
 */
NEWSIDX_API void newsidx_writer_close(newsidx_writer *w);

/**
 * Returns the message of the writer's last error ("" if none): of
 * newsidx_writer_add, _commit, _optimize and newsidx_ingest_path. Owned by
 * the writer, valid until its next call.
 */
NEWSIDX_API const char *newsidx_writer_errmsg(const newsidx_writer *w);

/* ------------------------------------------------------------------------ */
/* Ingest: article files into a writer                                      */
/* ------------------------------------------------------------------------ */

/** Severity of an ingest report. */
#define NEWSIDX_REPORT_WARNING 1 /* the record was indexed, with a problem */
#define NEWSIDX_REPORT_SKIPPED 2 /* the record was not indexed */
#define NEWSIDX_REPORT_ERROR 3   /* a whole file or directory could not be read */
#define NEWSIDX_REPORT_NOTE 4    /* nothing lost: parts of an input that hold no
                                    article were skipped (reason -1, not counted) */

/** Reasons counted in newsidx_ingest_stats.by_reason. */
enum newsidx_reason {
    NEWSIDX_REASON_BAD_JSON = 0,  /* malformed JSON line (skipped) */
    NEWSIDX_REASON_NOT_OBJECT,    /* JSON value that is not an object (skipped) */
    NEWSIDX_REASON_BAD_UTF8,      /* invalid UTF-8 (warning; in an id: skipped) */
    NEWSIDX_REASON_NO_ID,         /* missing id, derived (warning) */
    NEWSIDX_REASON_EMPTY_BODY,    /* empty body (warning) */
    NEWSIDX_REASON_BAD_DATE,      /* unparseable date (warning) */
    NEWSIDX_REASON_TOO_LONG,      /* field or line over a limit, cut (warning) or skipped */
    NEWSIDX_REASON_NUL_BYTE,      /* NUL bytes in a record (warning; in an id: skipped) */
    NEWSIDX_REASON_DUPLICATE_ID,  /* id seen before, earlier article replaced (warning) */
    NEWSIDX_REASON_UNREADABLE,    /* file or directory that cannot be read (error) */
    NEWSIDX_REASON_EMPTY,         /* record with no text at all (skipped) */
    NEWSIDX_REASON_OUTSIDE_ROOT,  /* symbolic link leaving the walked directory, not followed (warning) */
    NEWSIDX_REASON_COUNT
};

/** Returns a short name for a reason ("bad-json", ...). */
NEWSIDX_API const char *newsidx_reason_name(int reason);

/** Called for each problem: where (file, 1-based line or 0) and what. */
typedef void (*newsidx_report_fn)(void *ctx, const char *file, uint64_t line,
                                  int severity, int reason, const char *message);

/** Called now and then with the bytes read so far of the current input. */
typedef void (*newsidx_progress_fn)(void *ctx, uint64_t articles,
                                    uint64_t bytes_read);

/** Ingest options. Fill with newsidx_ingest_options_init() first. */
typedef struct newsidx_ingest_options {
    size_t size;                  /* sizeof(newsidx_ingest_options) */
    newsidx_report_fn report;     /* NULL: problems are only counted */
    newsidx_progress_fn progress; /* NULL: no progress calls */
    void *ctx;                    /* passed to report and progress */
    size_t max_line_bytes;        /* longest record read whole (default 64 MiB; 0 = default): a longer
                                     JSON line is skipped, a longer .txt/.md/.html file is cut */
    int follow_symlinks;          /* 0 (default): a directory walk skips, with a warning
                                     (NEWSIDX_REASON_OUTSIDE_ROOT), every symbolic link that
                                     resolves outside the directory given; 1: follows them all */
} newsidx_ingest_options;

/** Fills *opts with the defaults. */
NEWSIDX_API void newsidx_ingest_options_init(newsidx_ingest_options *opts);

/** Counters of one or more ingest calls (they add up). Zero it before the first call. */
typedef struct newsidx_ingest_stats {
    uint64_t indexed;   /* articles added */
    uint64_t skipped;   /* records not added */
    uint64_t warnings;  /* records added with a problem */
    uint64_t errors;    /* files or directories that could not be read */
    uint64_t bytes_read; /* input bytes (compressed size for .zst/.gz) */
    uint64_t by_reason[NEWSIDX_REASON_COUNT];
} newsidx_ingest_stats;

/**
 * Reads articles from path into the writer: a JSON Lines file (plain, .zst
 * or .gz, detected by magic bytes), a .txt/.md/.html/.htm file, a directory
 * (walked recursively), or "-" for JSON Lines on standard input.
 * Bad records are reported and skipped; they never stop the run.
 * @return NEWSIDX_OK when the input was read (even with skipped records),
 *         NEWSIDX_ERR_IO/NOT_FOUND when path itself cannot be read, a
 *         writer error (NOMEM, IO while flushing) that stops the run, or
 *         NEWSIDX_ERR_INVALID (NULL argument, options of a newer library).
 *         On failure newsidx_writer_errmsg(w) says why.
 */
NEWSIDX_API int newsidx_ingest_path(newsidx_writer *w, const char *path,
                                    const newsidx_ingest_options *opts,
                                    newsidx_ingest_stats *stats);

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * A snapshot of a committed index, memory-mapped. Safe to share between
 * threads for searching and fetching articles.
 */
typedef struct newsidx_reader newsidx_reader;

/**
 * Opens the last commit of the index in dir and verifies every file's footer,
 * and that each is the file the commit wrote (the manifest records each
 * footer's checksum: a file copied in from another index fails with
 * NEWSIDX_ERR_CORRUPT naming it). Content checksums: newsidx_check.
 * @return NEWSIDX_OK, NEWSIDX_ERR_NOT_FOUND, NEWSIDX_ERR_IO,
 *         NEWSIDX_ERR_CORRUPT, NEWSIDX_ERR_VERSION, NEWSIDX_ERR_NOMEM,
 *         NEWSIDX_ERR_UNSUPPORTED (the index's stemmer or stopword list is
 *         not in this library: its queries could not be analyzed alike).
 * @param errbuf  optional buffer (may be NULL) for the error message
 */
NEWSIDX_API int newsidx_reader_open(const char *dir, char *errbuf,
                                    size_t errbuf_size, newsidx_reader **out);

/**
 * Opens several indexes as one reader (one index per year or per source,
 * say): searches, counts, facets and get see the union of their articles,
 * and BM25 statistics (N, document frequencies, field lengths) are summed
 * over all of them before scoring, so ids, scores, totals and facets equal
 * those of one index holding the same articles. Deleted and replaced
 * articles count in N and in document frequencies until a merge drops
 * them (docs/QUERY.md, "Scoring"): scores are equal where the same ones
 * remain, as after newsidx_writer_force_merge, or where none were. An id
 * present in two indexes is two articles (newsidx_reader_get gives the one
 * in the last index named). The indexes must share their analyzer (as
 * languages: stemming "en" is "english"), and each is named once.
 * Each index is at its newest commit; such a reader cannot be refreshed
 * (open it again), and its stats' generation is the sum of the members'.
 * @param dirs    n_dirs index directories (n_dirs 1 is newsidx_reader_open)
 * @return as newsidx_reader_open; NEWSIDX_ERR_INVALID when the analyzers
 *         differ or one directory is named twice (under any path).
 */
NEWSIDX_API int newsidx_reader_open_multi(const char *const *dirs, size_t n_dirs,
                                          char *errbuf, size_t errbuf_size,
                                          newsidx_reader **out);

/**
 * Moves to the newest commit cheaply: opens a new reader of the index's
 * newest commit that shares every segment r already has open (only new
 * segments and new tombstone files are opened; a segment is never re-read).
 * r stays valid, on its own snapshot, until closed; both may be used and
 * closed in any order. Cost: reading the manifest, plus opening what is
 * new (docs/FORMAT.md, "Readers and commits").
 * @param newer  receives the new reader, or NULL when r already is at the
 *               newest commit (nothing changed)
 * @return NEWSIDX_OK, or an error of newsidx_reader_open (message in errbuf).
 */
NEWSIDX_API int newsidx_reader_refresh(const newsidx_reader *r, char *errbuf,
                                       size_t errbuf_size, newsidx_reader **newer);

/** Closes a reader; NULL is accepted. No search may be running on it. */
NEWSIDX_API void newsidx_reader_close(newsidx_reader *r);

/** Sizes and counts of an index. */
typedef struct newsidx_stats {
    uint64_t generation;      /* commit generation */
    uint64_t docs;            /* live articles */
    uint64_t deleted_docs;    /* replaced articles not yet merged away */
    uint64_t segments;
    uint64_t terms;           /* distinct (field, term) pairs summed over segments */
    uint64_t postings_bytes;  /* doc ids, frequencies and skip data */
    uint64_t positions_bytes;
    uint64_t dict_bytes;      /* term dictionary */
    uint64_t norms_bytes;
    uint64_t docstore_bytes;  /* stored fields, compressed, with its dictionary */
    uint64_t other_bytes;     /* dates, id index, tombstones, manifest, footers */
    uint64_t raw_text_bytes;  /* bytes of the indexed fields' text */
    uint64_t raw_stored_bytes; /* bytes of the stored fields before compression */
} newsidx_stats;

/** Fills *out with the reader's statistics. Returns NEWSIDX_OK, or NEWSIDX_ERR_INVALID for NULL. */
NEWSIDX_API int newsidx_reader_stats(const newsidx_reader *r, newsidx_stats *out);

/**
 * The stemming language the index was built with (queries are analyzed
 * with it), or NULL when it has none. Owned by the reader.
 */
NEWSIDX_API const char *newsidx_reader_stem_language(const newsidx_reader *r);

/** The stopword list language the index was built with, or NULL. Owned by the reader. */
NEWSIDX_API const char *newsidx_reader_stopwords_language(const newsidx_reader *r);

/** A stored article, fetched from the doc store. */
typedef struct newsidx_doc newsidx_doc;

/**
 * Fetches the stored article with the given id. The document is the
 * caller's (free it with newsidx_doc_free) and outlives the reader.
 * @return NEWSIDX_OK, NEWSIDX_ERR_NOT_FOUND, NEWSIDX_ERR_CORRUPT,
 *         NEWSIDX_ERR_NOMEM, NEWSIDX_ERR_INVALID.
 */
NEWSIDX_API int newsidx_reader_get(const newsidx_reader *r, const char *id,
                                   size_t id_len, newsidx_doc **out);

/** newsidx_reader_get with a message in errbuf (optional) on failure. */
NEWSIDX_API int newsidx_reader_get_v2(const newsidx_reader *r, const char *id,
                                      size_t id_len, char *errbuf, size_t errbuf_size,
                                      newsidx_doc **out);

/** Number of stored fields of a document. */
NEWSIDX_API size_t newsidx_doc_field_count(const newsidx_doc *doc);

/** The i-th stored field (0-based, i < newsidx_doc_field_count); NULL if out of range.
 *  Owned by doc; each value is also NUL-terminated. */
NEWSIDX_API const newsidx_field *newsidx_doc_field(const newsidx_doc *doc, size_t i);

/** The stored field with that name, or NULL. */
NEWSIDX_API const newsidx_field *newsidx_doc_find(const newsidx_doc *doc,
                                                  const char *name);

/** The article's parsed date in Unix seconds; returns 0 if it has one,
 *  NEWSIDX_ERR_NOT_FOUND if not, NEWSIDX_ERR_INVALID for NULL. */
NEWSIDX_API int newsidx_doc_date(const newsidx_doc *doc, int64_t *out_seconds);

/** Frees a document; NULL is accepted. */
NEWSIDX_API void newsidx_doc_free(newsidx_doc *doc);

/** Called by newsidx_check for each problem found. */
typedef void (*newsidx_check_fn)(void *ctx, const char *file, uint64_t offset,
                                 const char *message);

/**
 * Verifies every checksum and structural invariant of the last commit in
 * dir (sorted terms, increasing doc ids, offsets in range, ...). A file that
 * cannot be read is reported through fn too (its path and the errno text).
 * @return NEWSIDX_OK if the index is sound, NEWSIDX_ERR_CORRUPT (problems
 *         were reported through fn), or another error when it cannot be read.
 */
NEWSIDX_API int newsidx_check(const char *dir, newsidx_check_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Queries and search                                                       */
/* ------------------------------------------------------------------------ */

/** A parsed query; reusable, and shareable between threads once parsed. */
typedef struct newsidx_query newsidx_query;

/** Hard maximum of newsidx_query_options.max_depth: larger values are
 *  lowered to it (parsing and evaluation recurse once per level). */
#define NEWSIDX_MAX_QUERY_DEPTH 1000

/** Query limits; the parser answers NEWSIDX_ERR_LIMIT past them. */
typedef struct newsidx_query_options {
    size_t size;                /* sizeof(newsidx_query_options) */
    uint32_t max_query_bytes;   /* default 65536 */
    uint32_t max_depth;         /* nesting of parentheses/fields, default 64, at most NEWSIDX_MAX_QUERY_DEPTH */
    uint32_t max_clauses;       /* leaf terms after expansion, default 4096 */
    uint32_t max_expansions;    /* terms one prefix/fuzzy word may expand to, default 1024 */
    uint32_t max_phrase_terms;  /* words in one phrase, default 64 */
} newsidx_query_options;

/** Fills *opts with the defaults. */
NEWSIDX_API void newsidx_query_options_init(newsidx_query_options *opts);

/**
 * Parses a query with the reader's analyzer settings (r may be NULL: the
 * default settings, no stemming and no stopwords). docs/QUERY.md has the
 * grammar and the semantics.
 * Grammar: words, AND OR NOT, +must -mustnot, ( ), "phrase", "a b"~N,
 * a NEAR/N b, pref*, word~1, field:term, field:(...), date:A..B, term^2.
 * @param error_column  optional; on NEWSIDX_ERR_SYNTAX receives the 1-based
 *                      column (in bytes) where the error was found
 * @param errbuf        optional buffer for "expected X at column N" messages
 * @return NEWSIDX_OK, NEWSIDX_ERR_SYNTAX, NEWSIDX_ERR_LIMIT, NEWSIDX_ERR_NOMEM,
 *         NEWSIDX_ERR_INVALID (no out, or opts with a bad size),
 *         NEWSIDX_ERR_UNSUPPORTED (the index's stemmer is not available).
 */
NEWSIDX_API int newsidx_query_parse(const newsidx_reader *r, const char *text,
                                    size_t len, const newsidx_query_options *opts,
                                    size_t *error_column, char *errbuf,
                                    size_t errbuf_size, newsidx_query **out);

/**
 * Why a parsed query can match nothing, or "": "the query is empty",
 * "every word of the query is a stopword ...". Owned by q.
 */
NEWSIDX_API const char *newsidx_query_notice(const newsidx_query *q);

/** Frees a query; NULL is accepted. */
NEWSIDX_API void newsidx_query_free(newsidx_query *q);

/**
 * Sort orders. Every order is total and depends on the articles only, not
 * on how they were split into segments, added, or spread over a set of
 * indexes (docs/QUERY.md, "Ties"):
 *  - NEWSIDX_SORT_SCORE: score descending; equal scores: newer date first
 *    (undated last), then the smaller id (bytes, a proper prefix first).
 *  - NEWSIDX_SORT_DATE_DESC / _ASC: date newest / oldest first, undated
 *    last in both; equal dates: higher score first, then the smaller id.
 * Pages (offset) and collapsing follow the same order.
 */
#define NEWSIDX_SORT_SCORE 0     /* BM25 score, then date, then id */
#define NEWSIDX_SORT_DATE_DESC 1 /* newest first, then score, then id */
#define NEWSIDX_SORT_DATE_ASC 2  /* oldest first, then score, then id */

/** Facet bits for newsidx_search_options.facets. */
#define NEWSIDX_FACET_SOURCE 0x1
#define NEWSIDX_FACET_YEAR 0x2
#define NEWSIDX_FACET_MONTH 0x4

/** Default newsidx_search_options.collapse_distance for a caller that turns
 *  collapsing on without choosing a distance (the CLI's bare --collapse).
 *  5, not SimHash's customary 3: the hash's bits are 1-bit minwise hashes,
 *  which differ with probability (1 - J) / 2, so a short reprint with 3
 *  changed words (J ~ 0.86) differs in ~4.5 bits on average; 3 found 91%
 *  of gen-articles' reprints, 5 finds 97% and still groups almost nothing
 *  else (bench/README.md, "Near-duplicate reprints"). */
#define NEWSIDX_COLLAPSE_DEFAULT 5
/** Largest near-duplicate distance (bits of the 64-bit hash) the library
 *  accepts, in search and in newsidx_reader_dups. */
#define NEWSIDX_COLLAPSE_MAX 16

/** Search options. Fill with newsidx_search_options_init() first. */
typedef struct newsidx_search_options {
    size_t size;             /* sizeof(newsidx_search_options) */
    uint32_t k;              /* hits to return (default 10) */
    uint32_t offset;         /* hits to skip (default 0) */
    int sort;                /* NEWSIDX_SORT_* */
    int count_only;          /* 1: compute only the total */
    int exact_total;         /* 1 (default): exact total count; 0: may stop early */
    const char *fields;      /* comma-separated stored fields to return (default "title,date,source") */
    uint32_t snippets;       /* fragments per hit (default 1; 0 = none) */
    uint32_t snippet_bytes;  /* target fragment length (default 200) */
    unsigned facets;         /* NEWSIDX_FACET_* bits */
    double recency_halflife_days; /* > 0: multiply scores by a recency boost */
    double title_weight;     /* BM25 weight of title (default 2.0) */
    double body_weight;      /* BM25 weight of body (default 1.0) */
    int no_pruning;          /* 1: exhaustive ranked OR (for benchmarks) */
    char *errbuf;            /* deprecated, read by newsidx_search only: pass errbuf to
                                newsidx_search_v2 instead (default NULL) */
    size_t errbuf_size;
    size_t max_result_bytes; /* most bytes one result set may hold: ids, stored fields and
                                snippets (default 64 MiB; 0 = the default, SIZE_MAX = no
                                bound); past it the search fails with NEWSIDX_ERR_LIMIT */
    uint32_t collapse_distance; /* 0 (default): off. 1..NEWSIDX_COLLAPSE_MAX: near-duplicate
                                reprints collapse: of articles whose near-duplicate hashes
                                differ in at most this many bits, only the first in the sort
                                order is a hit, and newsidx_hit_hidden says how many it hides
                                (NEWSIDX_COLLAPSE_DEFAULT = 5 is the usual choice). The k hits
                                are the first k after collapsing; the total still counts every
                                match. Articles indexed before the hash existed never collapse */
} newsidx_search_options;

/** Fills *opts with the defaults. */
NEWSIDX_API void newsidx_search_options_init(newsidx_search_options *opts);

/** Results of one search. */
typedef struct newsidx_results newsidx_results;

/**
 * Runs a query on a reader. Thread-safe: several threads may search one
 * reader (each with its own errbuf). On failure *out is NULL and errbuf
 * (optional) says what went wrong and where ("query expands to more than
 * ...", "seg_3.dict: ..."). The results are the caller's (free them
 * with newsidx_results_free); they hold copies and may outlive the reader.
 * @return NEWSIDX_OK, NEWSIDX_ERR_NOMEM, NEWSIDX_ERR_CORRUPT, NEWSIDX_ERR_LIMIT,
 *         NEWSIDX_ERR_INVALID.
 */
NEWSIDX_API int newsidx_search_v2(const newsidx_reader *r, const newsidx_query *q,
                                  const newsidx_search_options *opts, char *errbuf,
                                  size_t errbuf_size, newsidx_results **out);

/** The older form of newsidx_search_v2: its message goes to opts->errbuf. */
NEWSIDX_API int newsidx_search(const newsidx_reader *r, const newsidx_query *q,
                               const newsidx_search_options *opts,
                               newsidx_results **out);

/** Frees results; NULL is accepted. */
NEWSIDX_API void newsidx_results_free(newsidx_results *res);

/**
 * What the caller should know about these results, or "": the query's
 * notice (newsidx_query_notice) and a prefix or fuzzy word that matched
 * more than max_expansions terms ("mar* matches more than 1024 terms:
 * searched the first 1024"). Owned by res.
 */
NEWSIDX_API const char *newsidx_results_notice(const newsidx_results *res);

/** Total number of matching articles (exact unless exact_total was 0). */
NEWSIDX_API uint64_t newsidx_results_total(const newsidx_results *res);

/** Number of hits returned (at most k). */
NEWSIDX_API size_t newsidx_results_count(const newsidx_results *res);

/** Id of hit i (NUL-terminated), or NULL if i is out of range. Every pointer
 *  the hit accessors return is owned by res and valid until newsidx_results_free. */
NEWSIDX_API const char *newsidx_hit_id(const newsidx_results *res, size_t i);

/** Score of hit i. */
NEWSIDX_API double newsidx_hit_score(const newsidx_results *res, size_t i);

/** Requested stored field of hit i, or NULL when absent. */
NEWSIDX_API const newsidx_field *newsidx_hit_field(const newsidx_results *res,
                                                   size_t i, const char *name);

/** Number of stored fields returned for hit i (those named by opts->fields). */
NEWSIDX_API size_t newsidx_hit_field_count(const newsidx_results *res, size_t i);

/** Returned field j of hit i, in stored order (j < newsidx_hit_field_count), or NULL. */
NEWSIDX_API const newsidx_field *newsidx_hit_field_at(const newsidx_results *res, size_t i,
                                                      size_t j);

/**
 * Near-duplicates hit i hides when newsidx_search_options.collapse_distance
 * is set (0 otherwise, or if i is out of range): matching articles within
 * the distance of hit i that rank below it. They are counted among the
 * candidates the search ranked to fill the k hits (at least 2 * (k +
 * offset)), so a reprint ranked far below its original may be left out of
 * the count (it is never shown as a hit).
 */
NEWSIDX_API uint32_t newsidx_hit_hidden(const newsidx_results *res, size_t i);

/** Number of snippet fragments of hit i. */
NEWSIDX_API size_t newsidx_hit_snippet_count(const newsidx_results *res, size_t i);

/** One snippet fragment: text and highlighted spans. */
typedef struct newsidx_snippet {
    const char *text;          /* fragment text (UTF-8, NUL-terminated) */
    size_t text_len;
    size_t field_start;        /* byte offset of text within the original field */
    const char *field;         /* field name the fragment comes from ("body" or "title") */
    size_t n_highlights;
    const size_t (*highlights)[2]; /* [start, end) byte offsets in the original field */
} newsidx_snippet;

/** Snippet fragment j of hit i, or NULL if out of range. */
NEWSIDX_API const newsidx_snippet *newsidx_hit_snippet(const newsidx_results *res,
                                                       size_t i, size_t j);

/** Number of values of one facet (NEWSIDX_FACET_SOURCE, _YEAR or _MONTH). */
NEWSIDX_API size_t newsidx_facet_count(const newsidx_results *res, unsigned facet);

/**
 * Value j of a facet: label ("reuters", "2024", "2024-06") and count of
 * matching articles. Sources by count descending, years and months in order.
 * @return NEWSIDX_OK or NEWSIDX_ERR_NOT_FOUND if j is out of range.
 */
NEWSIDX_API int newsidx_facet_value(const newsidx_results *res, unsigned facet,
                                    size_t j, const char **label, uint64_t *count);

/* ------------------------------------------------------------------------ */
/* Near-duplicate groups                                                    */
/* ------------------------------------------------------------------------ */

/** Groups of near-duplicate articles of a reader's snapshot. */
typedef struct newsidx_dup_groups newsidx_dup_groups;

/**
 * Finds the groups of live articles whose near-duplicate hashes differ in
 * at most max_distance bits, transitively (a reprint of a reprint joins
 * the group). Candidate pairs come from max_distance + 1 bands of the hash
 * (two hashes within the distance agree on one band), never all pairs.
 * Articles indexed before the hash existed are in no group.
 * @param max_distance  1..NEWSIDX_COLLAPSE_MAX (0: NEWSIDX_COLLAPSE_DEFAULT)
 * @param errbuf        optional message on failure
 * @return NEWSIDX_OK, NEWSIDX_ERR_NOMEM, NEWSIDX_ERR_INVALID (no reader or
 *         out, a distance above NEWSIDX_COLLAPSE_MAX), NEWSIDX_ERR_LIMIT
 *         (2^32 - 1 articles or more).
 */
NEWSIDX_API int newsidx_reader_dups(const newsidx_reader *r, uint32_t max_distance,
                                    char *errbuf, size_t errbuf_size,
                                    newsidx_dup_groups **out);

/** Number of groups (each of at least 2 articles). Groups are ordered by
 *  their first member, members by index order (date order per segment). */
NEWSIDX_API size_t newsidx_dup_group_count(const newsidx_dup_groups *g);

/** Members of group i (0 when i is out of range). */
NEWSIDX_API size_t newsidx_dup_group_size(const newsidx_dup_groups *g, size_t i);

/** Id of member j of group i (NUL-terminated, owned by g), or NULL when out
 *  of range. */
NEWSIDX_API const char *newsidx_dup_group_id(const newsidx_dup_groups *g, size_t i, size_t j);

/** Frees groups; NULL is accepted. */
NEWSIDX_API void newsidx_dup_groups_free(newsidx_dup_groups *g);

#ifdef __cplusplus
}
#endif
#endif /* NEWSIDX_H */
