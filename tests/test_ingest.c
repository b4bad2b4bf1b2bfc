/* test_ingest — lib/ingest: every input format, every bad-input case with
 * its report (file:line, severity, reason), directory walks, limits, stdin.
 * Fixtures: tests/data/ingest/ (README there); compressed files, symlink
 * loops, unreadable files and huge lines are made at test time in a
 * temporary directory. */
#include "ingest/ingest.h"

#include "common.h"
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define DATA NEWSIDX_SOURCE_DIR "/tests/data/ingest"

/* ---- capturing records and reports ------------------------------------- */

#define MAX_SEEN 64

typedef struct seen_report {
    char file[512];
    uint64_t line;
    int severity, reason;
    char msg[512];
} seen_report;

typedef struct seen_record {
    char file[512];
    uint64_t line;
    unsigned warnings;
    size_t n_fields;
    char names[16][32];
    char values[16][256]; /* first bytes of each value */
    size_t lens[16];
} seen_record;

typedef struct capture {
    seen_report reports[MAX_SEEN];
    int n_reports;
    seen_report last_error; /* kept even when reports[] is full */
    int n_errors;
    seen_record records[MAX_SEEN];
    int n_records;
    int total_records;
    uint64_t progress_calls, last_progress_bytes;
    int progress_decreased;
    int stop_after; /* > 0: return NEWSIDX_ERR_IO after that many records */
} capture;

static void on_report(void *ctx, const char *file, uint64_t line, int severity,
                      int reason, const char *message) {
    capture *c = ctx;
    seen_report one;
    snprintf(one.file, sizeof one.file, "%s", file);
    one.line = line;
    one.severity = severity;
    one.reason = reason;
    snprintf(one.msg, sizeof one.msg, "%s", message);
    if (severity == NEWSIDX_REPORT_ERROR) {
        c->n_errors++;
        c->last_error = one;
    }
    if (c->n_reports < MAX_SEEN) c->reports[c->n_reports++] = one;
}

static void on_progress(void *ctx, uint64_t articles, uint64_t bytes) {
    capture *c = ctx;
    if (bytes < c->last_progress_bytes) c->progress_decreased = 1;
    c->last_progress_bytes = bytes;
    c->progress_calls++;
}

static int on_record(void *ctx, const nx_record *rec) {
    capture *c = ctx;
    c->total_records++;
    if (c->stop_after && c->total_records >= c->stop_after) return NEWSIDX_ERR_IO;
    if (c->n_records >= MAX_SEEN) return NX_RECORD_ADDED;
    seen_record *s = &c->records[c->n_records++];
    snprintf(s->file, sizeof s->file, "%s", rec->file);
    s->line = rec->line;
    s->warnings = rec->warnings;
    s->n_fields = rec->n_fields;
    for (size_t i = 0; i < rec->n_fields && i < 16; i++) {
        snprintf(s->names[i], sizeof s->names[i], "%s", rec->fields[i].name);
        size_t n = rec->fields[i].value_len < 255 ? rec->fields[i].value_len : 255;
        memcpy(s->values[i], rec->fields[i].value, n);
        s->values[i][n] = '\0';
        s->lens[i] = rec->fields[i].value_len;
        /* the contract: valid UTF-8, no NUL bytes */
        if (nx_utf8_valid_prefix(rec->fields[i].value, rec->fields[i].value_len) !=
                rec->fields[i].value_len ||
            memchr(rec->fields[i].value, 0, rec->fields[i].value_len))
            ck_abort_msg("field %s is not NUL-free valid UTF-8", rec->fields[i].name);
    }
    return NX_RECORD_ADDED;
}

static newsidx_ingest_options capture_opts(capture *c) {
    newsidx_ingest_options o;
    newsidx_ingest_options_init(&o);
    o.report = on_report;
    o.progress = on_progress;
    o.ctx = c;
    return o;
}

/* Runs nx_ingest_each on path into a fresh capture; returns its code. */
static int run(const char *path, newsidx_ingest_options *o, capture *c,
               newsidx_ingest_stats *st) {
    memset(st, 0, sizeof *st);
    return nx_ingest_each(path, o, st, on_record, c);
}

static const char *field(const seen_record *r, const char *name) {
    for (size_t i = 0; i < r->n_fields; i++)
        if (strcmp(r->names[i], name) == 0) return r->values[i];
    return NULL;
}

static size_t field_len(const seen_record *r, const char *name) {
    for (size_t i = 0; i < r->n_fields; i++)
        if (strcmp(r->names[i], name) == 0) return r->lens[i];
    return (size_t)-1;
}

static const seen_record *record_with_id(const capture *c, const char *id) {
    for (int i = 0; i < c->n_records; i++) {
        const char *v = field(&c->records[i], "id");
        if (v && strcmp(v, id) == 0) return &c->records[i];
    }
    return NULL;
}

static const seen_report *report_on_line(const capture *c, uint64_t line) {
    for (int i = 0; i < c->n_reports; i++)
        if (c->reports[i].line == line) return &c->reports[i];
    return NULL;
}

/* xorshift64: deterministic test data */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    return nxt_xorshift64(&rng_state);
}

/* ---- temporary files ---------------------------------------------------- */

static char tmpdir[256];

static void make_tmpdir(void) { nxt_tmpdir_into("ingest", tmpdir, sizeof tmpdir); }

static void rm_tmpdir(void) { ck_assert_int_eq(nxt_rm_rf(tmpdir), 0); }

static char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_zstd(const char *path, const void *data, size_t len) {
    size_t cap = ZSTD_compressBound(len);
    void *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    size_t n = ZSTD_compress(out, cap, data, len, 3);
    ck_assert(!ZSTD_isError(n));
    write_file(path, out, n);
    free(out);
}

static void write_gzip(const char *path, const char *mode, const void *data, size_t len) {
    gzFile g = gzopen(path, mode);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, data, (unsigned)len), (int)len);
    ck_assert_int_eq(gzclose(g), Z_OK);
}

static const char three_records[] =
    "{\"id\":\"z1\",\"title\":\"One\",\"body\":\"first\"}\n"
    "{\"id\":\"z2\",\"title\":\"Two\",\"body\":\"second\"}\n"
    "{\"id\":\"z3\",\"title\":\"Three\",\"body\":\"third\"}\n";

/* ---- JSON Lines --------------------------------------------------------- */

START_TEST(test_jsonl_fields_are_mapped_and_passed_through) {
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(DATA "/good.jsonl", &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_reports, 0); /* blank lines are ignored silently */
    ck_assert_int_eq(c.n_records, 5);
    ck_assert_uint_eq(st.indexed, 5);
    ck_assert_uint_eq(st.skipped, 0);
    ck_assert_uint_eq(st.warnings, 0);

    const seen_record *a1 = record_with_id(&c, "a1");
    ck_assert_ptr_nonnull(a1);
    ck_assert_uint_eq(a1->line, 1);
    ck_assert_str_eq(field(a1, "title"), "First");
    ck_assert_str_eq(field(a1, "body"), "Hello world");
    ck_assert_str_eq(field(a1, "author"), "Ann");
    ck_assert_str_eq(field(a1, "source"), "wire");
    ck_assert_str_eq(field(a1, "url"), "http://x/1");
    ck_assert_str_eq(field(a1, "date"), "2024-06-23");

    /* a number id becomes its text; "text" becomes "body"; other values are
     * compact JSON; null members are absent */
    const seen_record *n42 = record_with_id(&c, "42");
    ck_assert_ptr_nonnull(n42);
    ck_assert_str_eq(field(n42, "body"), "body from text");
    ck_assert_ptr_null(field(n42, "text"));
    ck_assert_str_eq(field(n42, "topics"), "[\"x\",\"y\"]");
    ck_assert_str_eq(field(n42, "score"), "1.5");
    ck_assert_str_eq(field(n42, "flag"), "true");
    ck_assert_ptr_null(field(n42, "nothing"));

    const seen_record *a3 = record_with_id(&c, "a3");
    ck_assert_str_eq(field(a3, "body"), "body from content"); /* CRLF line */
    ck_assert_uint_eq(a3->line, 3);

    /* "body" wins over "text", which is kept under its own name */
    const seen_record *a4 = record_with_id(&c, "a4");
    ck_assert_str_eq(field(a4, "body"), "real body");
    ck_assert_str_eq(field(a4, "text"), "other text");
    ck_assert_uint_eq(a4->line, 6); /* blank lines still count */

    const seen_record *a5 = record_with_id(&c, "a5");
    ck_assert_ptr_nonnull(a5); /* last line without '\n' */
    ck_assert_uint_eq(a5->line, 7);
    ck_assert_str_eq(c.records[0].file, DATA "/good.jsonl");
}
END_TEST

START_TEST(test_every_bad_line_is_reported_with_file_line_and_reason) {
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(DATA "/bad.jsonl", &o, &c, &st), NEWSIDX_OK);
    const seen_report *r;

    r = report_on_line(&c, 2);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->file, DATA "/bad.jsonl");
    ck_assert_int_eq(r->severity, NEWSIDX_REPORT_SKIPPED);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_BAD_JSON);
    ck_assert_msg(strstr(r->msg, "invalid JSON at column") != NULL, "%s", r->msg);

    r = report_on_line(&c, 3);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_NOT_OBJECT);
    ck_assert_int_eq(r->severity, NEWSIDX_REPORT_SKIPPED);
    ck_assert_str_eq(r->msg, "expected a JSON object, found an array");

    /* invalid UTF-8: repaired, indexed, warned with the byte position */
    r = report_on_line(&c, 4);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_BAD_UTF8);
    ck_assert_int_eq(r->severity, NEWSIDX_REPORT_WARNING);
    ck_assert_str_eq(r->msg, "invalid UTF-8 at byte 26 replaced by U+FFFD");
    const seen_record *utf = record_with_id(&c, "utf");
    ck_assert_ptr_nonnull(utf);
    ck_assert_str_eq(field(utf, "title"), "Bad \xEF\xBF\xBD byte");
    ck_assert_str_eq(field(utf, "body"), "caf\xEF\xBF\xBD au lait");
    ck_assert_uint_eq(utf->warnings & NEWSIDX_WARN_BAD_UTF8, NEWSIDX_WARN_BAD_UTF8);

    /* missing id, empty body and a bad date are the writer's to judge: the
     * reader hands the records over unchanged */
    ck_assert_ptr_null(report_on_line(&c, 5));
    ck_assert_ptr_null(report_on_line(&c, 6));
    ck_assert_ptr_null(report_on_line(&c, 7));
    ck_assert_ptr_nonnull(record_with_id(&c, "nobody"));
    ck_assert_str_eq(field(record_with_id(&c, "baddate"), "date"), "4 min readJun 23, 2024");

    /* NUL bytes, escaped or raw, are removed with a warning */
    r = report_on_line(&c, 8);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_NUL_BYTE);
    ck_assert_int_eq(r->severity, NEWSIDX_REPORT_WARNING);
    ck_assert_str_eq(field(record_with_id(&c, "nul"), "title"), "ab");
    ck_assert_str_eq(field(record_with_id(&c, "nul"), "body"), "cd");
    r = report_on_line(&c, 9);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_NUL_BYTE);
    ck_assert_str_eq(field(record_with_id(&c, "rawnul"), "title"), "rawnul");

    ck_assert_ptr_null(report_on_line(&c, 10)); /* blank: silent */

    r = report_on_line(&c, 11);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_EMPTY);
    ck_assert_int_eq(r->severity, NEWSIDX_REPORT_SKIPPED);
    ck_assert_ptr_null(record_with_id(&c, "empty"));

    r = report_on_line(&c, 12);
    ck_assert_str_eq(r->msg, "expected a JSON object, found a number");

    r = report_on_line(&c, 13); /* garbage after the object */
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_BAD_JSON);
    ck_assert_ptr_null(record_with_id(&c, "last"));

    /* an empty id is no id: the record comes without one */
    ck_assert_ptr_null(report_on_line(&c, 14));
    int without_id = 0;
    for (int i = 0; i < c.n_records; i++)
        if (!field(&c.records[i], "id")) without_id++;
    ck_assert_int_eq(without_id, 2);

    /* nothing stops the run: the last line is read */
    ck_assert_ptr_nonnull(record_with_id(&c, "final"));
    ck_assert_uint_eq(st.indexed, 9);
    ck_assert_uint_eq(st.skipped, 5);
    ck_assert_uint_eq(st.warnings, 3);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_BAD_JSON], 2);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_NOT_OBJECT], 2);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_BAD_UTF8], 1);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_NUL_BYTE], 2);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_EMPTY], 1);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_int_eq(c.n_reports, 8);
}
END_TEST

START_TEST(test_zstd_and_gzip_are_detected_by_magic_bytes_not_names) {
    make_tmpdir();
    write_zstd(tmp_path("a.jsonl.zst"), three_records, strlen(three_records));
    write_gzip(tmp_path("b.jsonl.gz"), "wb", three_records, strlen(three_records));
    /* misleading names: content decides */
    write_zstd(tmp_path("c.jsonl"), three_records, strlen(three_records));
    write_gzip(tmp_path("d.jsonl.zst"), "wb", three_records, strlen(three_records));
    write_file(tmp_path("e.jsonl.gz"), three_records, strlen(three_records));
    const char *names[] = {"a.jsonl.zst", "b.jsonl.gz", "c.jsonl", "d.jsonl.zst", "e.jsonl.gz"};
    for (int i = 0; i < 5; i++) {
        capture c = {0};
        newsidx_ingest_options o = capture_opts(&c);
        newsidx_ingest_stats st;
        const char *p = tmp_path(names[i]);
        ck_assert_int_eq(run(p, &o, &c, &st), NEWSIDX_OK);
        ck_assert_msg(c.n_records == 3 && c.n_reports == 0, "%s: %d records, %d reports",
                      names[i], c.n_records, c.n_reports);
        ck_assert_str_eq(field(&c.records[2], "title"), "Three");
        ck_assert_uint_eq(c.records[2].line, 3);
        /* bytes_read counts the file's own (compressed) bytes */
        struct stat sb;
        ck_assert_int_eq(stat(p, &sb), 0);
        ck_assert_uint_eq(st.bytes_read, (uint64_t)sb.st_size);
    }
    rm_tmpdir();
}
END_TEST

START_TEST(test_concatenated_gzip_members_and_zstd_frames_are_all_read) {
    make_tmpdir();
    write_gzip(tmp_path("m.gz"), "wb", three_records, strlen(three_records));
    write_gzip(tmp_path("m.gz"), "ab", three_records, strlen(three_records));
    size_t len1;
    write_zstd(tmp_path("one.zst"), three_records, strlen(three_records));
    char *frame = read_all(tmp_path("one.zst"), &len1);
    char *two = malloc(2 * len1);
    memcpy(two, frame, len1);
    memcpy(two + len1, frame, len1);
    write_file(tmp_path("f.zst"), two, 2 * len1);
    free(frame);
    free(two);
    const char *names[] = {"m.gz", "f.zst"};
    for (int i = 0; i < 2; i++) {
        capture c = {0};
        newsidx_ingest_options o = capture_opts(&c);
        newsidx_ingest_stats st;
        ck_assert_int_eq(run(tmp_path(names[i]), &o, &c, &st), NEWSIDX_OK);
        ck_assert_int_eq(c.n_records, 6);
        ck_assert_uint_eq(c.records[5].line, 6);
        ck_assert_int_eq(c.n_reports, 0);
    }
    rm_tmpdir();
}
END_TEST

START_TEST(test_truncated_or_corrupt_compressed_input_keeps_earlier_records) {
    make_tmpdir();
    /* many records so the cut falls after some complete lines */
    size_t big = 0;
    char *text = malloc(1 << 20);
    for (int i = 0; big < (1 << 20) - 200; i++)
        big += (size_t)snprintf(text + big, (1 << 20) - big,
                                "{\"id\":\"r%d\",\"title\":\"T %d\",\"body\":\"%x %x\"}\n",
                                i, i, (unsigned)i * 2654435761u, (unsigned)i * 40503u);
    write_zstd(tmp_path("t.zst"), text, big);
    size_t zlen;
    char *z = read_all(tmp_path("t.zst"), &zlen);
    write_file(tmp_path("t.zst"), z, zlen / 2); /* truncated */
    write_gzip(tmp_path("g.gz"), "wb", text, big);
    size_t glen;
    char *g = read_all(tmp_path("g.gz"), &glen);
    for (size_t i = glen / 2; i < glen / 2 + 64; i++) g[i] ^= 0x5A; /* corrupt */
    write_file(tmp_path("g.gz"), g, glen);
    const char *names[] = {"t.zst", "g.gz"};
    for (int i = 0; i < 2; i++) {
        capture c = {0};
        newsidx_ingest_options o = capture_opts(&c);
        newsidx_ingest_stats st;
        ck_assert_int_eq(run(tmp_path(names[i]), &o, &c, &st), NEWSIDX_OK);
        ck_assert_msg(c.total_records > 10, "%s: only %d records", names[i], c.total_records);
        /* a corrupt deflate stream may first decode to garbage lines */
        ck_assert_int_eq(c.n_errors, 1);
        const seen_report *r = &c.last_error;
        ck_assert_int_eq(r->severity, NEWSIDX_REPORT_ERROR);
        ck_assert_msg(strstr(r->msg, i == 0 ? "truncated zstd" : "corrupt gzip") != NULL,
                      "%s", r->msg);
        ck_assert_uint_eq(st.errors, 1);
    }
    free(text);
    free(z);
    free(g);
    rm_tmpdir();
}
END_TEST

START_TEST(test_a_line_over_the_limit_is_skipped_and_the_next_one_read) {
    make_tmpdir();
    const size_t limit = 1 << 20;
    /* line 1: fine; line 2: 3 MiB (spans many read chunks); line 3: fine;
     * line 4: exactly the limit (kept); line 5: limit + 1 (skipped);
     * line 6: 3 MiB again, the last line, without '\n' */
    size_t cap = 12 << 20, n = 0;
    char *buf = malloc(cap);
    n += (size_t)sprintf(buf + n, "{\"id\":\"l1\",\"title\":\"one\",\"body\":\"b\"}\n");
    n += (size_t)sprintf(buf + n, "{\"id\":\"l2\",\"title\":\"");
    memset(buf + n, 'x', 3 << 20);
    n += 3 << 20;
    n += (size_t)sprintf(buf + n, "\"}\n{\"id\":\"l3\",\"title\":\"three\",\"body\":\"b\"}\n");
    const char *head = "{\"id\":\"l4\",\"title\":\"";
    size_t at = n;
    n += (size_t)sprintf(buf + n, "%s", head);
    memset(buf + n, 'y', limit - strlen(head) - 2);
    n += limit - strlen(head) - 2;
    n += (size_t)sprintf(buf + n, "\"}"); /* line 4 is exactly `limit` bytes */
    ck_assert_uint_eq(n - at, limit);
    buf[n++] = '\n';
    n += (size_t)sprintf(buf + n, "{\"id\":\"l5\",\"title\":\"");
    memset(buf + n, 'z', limit - strlen(head) - 1);
    n += limit - strlen(head) - 1;
    n += (size_t)sprintf(buf + n, "\"}\n"); /* limit + 1 */
    n += (size_t)sprintf(buf + n, "{\"id\":\"l6\",\"title\":\"");
    memset(buf + n, 'w', 3 << 20);
    n += 3 << 20;
    write_file(tmp_path("long.jsonl"), buf, n);
    write_zstd(tmp_path("long.jsonl.zst"), buf, n);
    const char *names[] = {"long.jsonl", "long.jsonl.zst"};
    for (int i = 0; i < 2; i++) {
        capture c = {0};
        newsidx_ingest_options o = capture_opts(&c);
        o.max_line_bytes = limit;
        newsidx_ingest_stats st;
        ck_assert_int_eq(run(tmp_path(names[i]), &o, &c, &st), NEWSIDX_OK);
        ck_assert_int_eq(c.n_records, 3);
        ck_assert_ptr_nonnull(record_with_id(&c, "l1"));
        ck_assert_uint_eq(record_with_id(&c, "l3")->line, 3);
        ck_assert_uint_eq(field_len(record_with_id(&c, "l4"), "title"),
                          limit - strlen(head) - 2);
        ck_assert_int_eq(c.n_reports, 3);
        ck_assert_uint_eq(c.reports[0].line, 2);
        ck_assert_int_eq(c.reports[0].reason, NEWSIDX_REASON_TOO_LONG);
        ck_assert_int_eq(c.reports[0].severity, NEWSIDX_REPORT_SKIPPED);
        char want[160];
        snprintf(want, sizeof want, "line of %zu bytes is longer than the limit of %zu bytes",
                 (size_t)(3 << 20) + strlen("{\"id\":\"l2\",\"title\":\"\"}"), limit);
        ck_assert_str_eq(c.reports[0].msg, want);
        ck_assert_uint_eq(c.reports[1].line, 5);
        ck_assert_uint_eq(c.reports[2].line, 6);
        ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_TOO_LONG], 3);
        ck_assert_uint_eq(st.skipped, 3);
    }
    free(buf);
    rm_tmpdir();
}
END_TEST

/* A number out of jansson's range (an integer past 64 bits, 1e400) is
 * still valid JSON: the article is indexed, the number kept as written;
 * a line that is bad for another reason beside such a number still is
 * reported as bad. */
START_TEST(test_numbers_past_64_bits_keep_their_article) {
    make_tmpdir();
    const char *lines =
        "{\"id\":\"bigint\",\"views\":123456789012345678901234567890,\"body\":\"one\"}\n"
        "{\"id\":\"huge\",\"score\":[1e400, -2.5E-3],\"body\":\"two\"}\n"
        "{\"id\":\"neg\",\"n\":-99999999999999999999,\"title\":\"T\xff\",\"body\":\"three\"}\n"
        "{\"id\":\"bad\",\"n\":123456789012345678901234567890,\"body\":\"four\" x}\n"
        "{\"id\":\"exp\",\"n\":1e}\n";
    write_file(tmp_path("n.jsonl"), lines, strlen(lines));
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("n.jsonl"), &o, &c, &st), NEWSIDX_OK);
    ck_assert_ptr_nonnull(record_with_id(&c, "bigint"));
    ck_assert_ptr_nonnull(record_with_id(&c, "huge"));
    ck_assert_str_eq(field(record_with_id(&c, "bigint"), "views"),
                     "123456789012345678901234567890");
    ck_assert_str_eq(field(record_with_id(&c, "bigint"), "body"), "one");
    ck_assert_str_eq(field(record_with_id(&c, "huge"), "score"), "[1e400,-2.5E-3]");
    /* repaired UTF-8 on the same line: warned, the article kept */
    const seen_record *neg = record_with_id(&c, "neg");
    ck_assert_ptr_nonnull(neg);
    ck_assert_str_eq(field(neg, "n"), "-99999999999999999999");
    ck_assert_str_eq(field(neg, "title"), "T\xEF\xBF\xBD");
    ck_assert_str_eq(report_on_line(&c, 3)->msg, "invalid UTF-8 at byte 49 replaced by U+FFFD");
    ck_assert_ptr_null(record_with_id(&c, "bad"));
    ck_assert_int_eq(report_on_line(&c, 4)->reason, NEWSIDX_REASON_BAD_JSON);
    ck_assert_ptr_null(record_with_id(&c, "exp"));
    ck_assert_int_eq(report_on_line(&c, 5)->reason, NEWSIDX_REASON_BAD_JSON);
    ck_assert_uint_eq(st.indexed, 3);
    ck_assert_uint_eq(st.skipped, 2);
    rm_tmpdir();
}
END_TEST

START_TEST(test_an_article_of_50_mb_is_read_whole_under_the_default_limit) {
    make_tmpdir();
    const size_t body = 50u << 20;
    size_t n = 0;
    char *buf = malloc(body + 200);
    n += (size_t)sprintf(buf, "{\"id\":\"big\",\"title\":\"Big\",\"body\":\"");
    for (size_t i = 0; i < body; i++) buf[n + i] = (i % 6 == 5) ? ' ' : 'a' + (char)(i % 6);
    n += body;
    n += (size_t)sprintf(buf + n, "\"}\n{\"id\":\"after\",\"title\":\"After\",\"body\":\"x\"}\n");
    write_file(tmp_path("big.jsonl"), buf, n);
    free(buf);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("big.jsonl"), &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 2);
    ck_assert_uint_eq(field_len(record_with_id(&c, "big"), "body"), body);
    ck_assert_ptr_nonnull(record_with_id(&c, "after"));
    ck_assert_int_eq(c.n_reports, 0);
    /* progress came every ~1 MB and never went backwards */
    ck_assert_uint_ge(c.progress_calls, 40);
    ck_assert_int_eq(c.progress_decreased, 0);
    rm_tmpdir();
}
END_TEST

START_TEST(test_stdin_is_read_and_sniffed_through_a_pipe) {
    make_tmpdir();
    write_gzip(tmp_path("s.gz"), "wb", three_records, strlen(three_records));
    size_t glen;
    char *g = read_all(tmp_path("s.gz"), &glen);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        /* dribble the bytes to exercise short reads on a pipe */
        for (size_t i = 0; i < glen; i += 7) {
            size_t k = glen - i < 7 ? glen - i : 7;
            if (write(fds[1], g + i, k) != (ssize_t)k) _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fds[0], STDIN_FILENO), 0);
    close(fds[0]);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    int rc = run("-", &o, &c, &st);
    dup2(saved, STDIN_FILENO);
    close(saved);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(rc, NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 3);
    ck_assert_str_eq(c.records[0].file, "<stdin>");
    ck_assert_str_eq(field(&c.records[1], "body"), "second");
    ck_assert_uint_eq(st.bytes_read, glen);
    free(g);
    rm_tmpdir();
}
END_TEST

START_TEST(test_a_utf8_bom_on_the_first_line_is_skipped) {
    make_tmpdir();
    const char text[] = "\xEF\xBB\xBF{\"id\":\"bom\",\"title\":\"t\",\"body\":\"b\"}\n";
    write_file(tmp_path("bom.jsonl"), text, strlen(text));
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("bom.jsonl"), &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_int_eq(c.n_reports, 0);
    rm_tmpdir();
}
END_TEST

START_TEST(test_a_callback_error_stops_the_run_and_is_returned) {
    capture c = {0};
    c.stop_after = 2;
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(DATA "/good.jsonl", &o, &c, &st), NEWSIDX_ERR_IO);
    ck_assert_int_eq(c.total_records, 2);
}
END_TEST

START_TEST(test_a_missing_path_is_an_error_and_reported) {
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(DATA "/no-such-file.jsonl", &o, &c, &st), NEWSIDX_ERR_NOT_FOUND);
    ck_assert_int_eq(c.n_errors, 1);
    ck_assert_int_eq(c.last_error.reason, NEWSIDX_REASON_UNREADABLE);
    ck_assert_str_eq(c.last_error.msg, "cannot open: No such file or directory");
    ck_assert_uint_eq(st.errors, 1);
}
END_TEST

START_TEST(test_the_reuters_corpus_reads_every_article_with_progress) {
    char p[4096];
    NXT_SHARED_OR_SKIP("corpora", p);
    strncat(p, "/reuters21578.jsonl.zst", sizeof p - strlen(p) - 1);
    struct stat sb;
    ck_assert_msg(stat(p, &sb) == 0, "cannot stat %s", p);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(p, &o, &c, &st), NEWSIDX_OK);
    /* 21,577 lines; the 1,798 BRIEF articles have a title, the UNPROC ones a
     * body, so none is empty */
    ck_assert_int_eq(c.total_records, 21577);
    ck_assert_int_eq(c.n_reports, 0);
    ck_assert_uint_eq(st.bytes_read, (uint64_t)sb.st_size);
    ck_assert_uint_eq(c.last_progress_bytes, (uint64_t)sb.st_size);
    ck_assert_uint_ge(c.progress_calls, 4);
    ck_assert_int_eq(c.progress_decreased, 0);
    ck_assert_str_eq(field(&c.records[0], "id"), "reuters-1");
}
END_TEST

/* ---- whole files and directories --------------------------------------- */

START_TEST(test_a_directory_walk_reads_every_supported_type_in_sorted_order) {
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(DATA "/tree", &o, &c, &st), NEWSIDX_OK);
    /* a.txt b.md c.html [empty.txt skipped] sub/d.jsonl (2) sub/e.htm;
     * skip.pdf and notes.json are counted in one note, .hidden.txt is
     * ignored */
    ck_assert_int_eq(c.n_records, 6);
    ck_assert_str_eq(field(&c.records[0], "id"), "a.txt");
    ck_assert_str_eq(field(&c.records[0], "title"), "First line title");
    ck_assert_str_eq(field(&c.records[0], "body"), "Body line one.\nBody line two.");
    ck_assert_uint_eq(c.records[0].line, 0);
    ck_assert_str_eq(c.records[0].file, DATA "/tree/a.txt");
    ck_assert_str_eq(field(&c.records[1], "id"), "b.md");
    ck_assert_str_eq(field(&c.records[1], "title"), "Markdown Title");
    ck_assert_str_eq(field(&c.records[1], "body"), "Some *markdown* body.");
    ck_assert_str_eq(field(&c.records[2], "id"), "c.html");
    ck_assert_str_eq(field(&c.records[2], "title"), "Caf\xC3\xA9 & Bar");
    ck_assert_str_eq(field(&c.records[3], "id"), "d1");
    ck_assert_str_eq(c.records[3].file, DATA "/tree/sub/d.jsonl");
    ck_assert_uint_eq(c.records[4].line, 2);
    ck_assert_str_eq(field(&c.records[5], "id"), "sub/e.htm");
    ck_assert_str_eq(field(&c.records[5], "title"), "E page");
    ck_assert_str_eq(field(&c.records[5], "body"), "e body");
    ck_assert_int_eq(c.n_reports, 2);
    ck_assert_str_eq(c.reports[0].file, DATA "/tree/empty.txt");
    ck_assert_int_eq(c.reports[0].reason, NEWSIDX_REASON_EMPTY);
    ck_assert_int_eq(c.reports[1].severity, NEWSIDX_REPORT_NOTE);
    ck_assert_str_eq(c.reports[1].file, DATA "/tree");
    ck_assert_str_eq(c.reports[1].msg, "2 files of no supported type skipped (notes.json, ...)");
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.indexed, 6);
    ck_assert_uint_eq(st.skipped, 1);
}
END_TEST

START_TEST(test_html_text_has_no_markup_scripts_or_glued_words) {
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(DATA "/tree/c.html", &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(field(&c.records[0], "id"), "c.html"); /* a single file: its name */
    ck_assert_str_eq(field(&c.records[0], "body"),
                     "Head\nend\nstart of bold text <tag> \xE2\x82\xAC" "5\none\ntwo\nline\n"
                     "break\ndiv\ninline");
}
END_TEST

START_TEST(test_html_extraction_of_fragments) {
    nx_buf title = {0}, text = {0};
    const char *h = "<p>a&nbsp;b</p><pre>x   y</pre><table><tr><td>c1</td><td>c2</td></tr></table>"
                    "<script>s()</script><style>.s{}</style>z";
    ck_assert_int_eq(nx_html_extract(h, strlen(h), &title, &text), 0);
    ck_assert_uint_eq(title.len, 0);
    ck_assert_str_eq((char *)title.data, "");
    /* &nbsp; is U+00A0, not collapsed (it is not ASCII white space) */
    ck_assert_str_eq((char *)text.data, "a\xC2\xA0" "b\nx y\nc1\nc2\nz");
    nx_buf_free(&title);
    nx_buf_free(&text);
    /* deep nesting does not overflow the stack */
    size_t depth = 100000, n = 0;
    char *deep = malloc(depth * 5 + 16);
    for (size_t i = 0; i < depth; i++) n += (size_t)sprintf(deep + n, "<b>");
    n += (size_t)sprintf(deep + n, "deep");
    ck_assert_int_eq(nx_html_extract(deep, n, &title, &text), 0);
    ck_assert_str_eq((char *)text.data, "deep");
    free(deep);
    nx_buf_free(&title);
    nx_buf_free(&text);
}
END_TEST

/* gumbo frees its tree recursively and has no depth limit: 300,000 nested
 * elements (2.7 MB) overflowed the stack and killed the whole run. Tags
 * deeper than 4096 are left out; the text is kept, and said where. */
START_TEST(test_html_nested_past_the_parser_limit_keeps_its_text) {
    /* valgrind (NEWSIDX_TEST_SMALL): past the limit, not near the crash */
    const size_t crash_depth = nxt_small() ? 20000 : 300000;
    size_t depth = crash_depth, n = 0;
    char *deep = malloc(depth * 9 + 64);
    n += (size_t)sprintf(deep + n, "<p>hello</p>");
    for (size_t i = 0; i < depth; i++) n += (size_t)sprintf(deep + n, "<marquee>");
    n += (size_t)sprintf(deep + n, "bottom");
    nx_buf title = {0}, text = {0};
    ck_assert_int_eq(nx_html_extract(deep, n, &title, &text), 0);
    ck_assert_str_eq((char *)text.data, "hello\nbottom");
    nx_html_article a = {0};
    ck_assert_int_eq(nx_html_article_extract(deep, n, &a), 0);
    ck_assert_str_eq((char *)a.text.data, "hello\nbottom");
    /* the 4097th <marquee>, after "<p>hello</p>" */
    ck_assert_uint_eq(a.flattened_at, 12 + 4096 * 9);
    nx_html_article_free(&a);
    free(deep);
    /* 20,000 nested <article>s, each a word: each used to be sized by
     * walking all those inside it (quadratic: 80,000 took 200 s) */
    depth = 20000;
    n = 0;
    deep = malloc(depth * 20 + 64);
    for (size_t i = 0; i < depth; i++) n += (size_t)sprintf(deep + n, "<article>w%zu ", i % 7);
    ck_assert_int_eq(nx_html_article_extract(deep, n, &a), 0);
    ck_assert_uint_eq(a.flattened_at, 4096 * 12); /* "<article>wN " */
    ck_assert_ptr_nonnull(strstr((char *)a.text.data, "w0 w1 w2"));
    ck_assert_uint_eq(a.text.len, depth * 3 - 1); /* every word */
    free(deep);
    /* what the depth pass must read as the parser does, or be fooled: an
     * abruptly closed comment, an unquoted "/" in svg (not self-closing),
     * a vertical tab in a name (part of it, so "</div>" closes nothing),
     * ruby elements and optgroups outside a ruby or a select (they nest) */
    const char *const openers[] = {"<!-->", "<svg>", "", "", ""};
    const char *const units[] = {"<div>", "<g a=/>", "<div\v></div>", "<rb>", "<optgroup>"};
    for (int k = 0; k < 5; k++) {
        depth = crash_depth;
        deep = malloc(depth * strlen(units[k]) + 64);
        n = (size_t)sprintf(deep, "%s", openers[k]);
        for (size_t i = 0; i < depth; i++) n += (size_t)sprintf(deep + n, "%s", units[k]);
        n += (size_t)sprintf(deep + n, "end");
        ck_assert_int_eq(nx_html_article_extract(deep, n, &a), 0);
        ck_assert_msg(a.flattened_at != SIZE_MAX, "%s", units[k]);
        free(deep);
    }
    /* misnestings the parser builds deeper than a pass that did not
     * follow them: end tags it ignores ("</div>" behind a scope boundary,
     * "</span>", or a formatting end tag given as one, behind a special
     * element), raw text it does not switch to (in a select, in svg), text
     * it does not read as tags ("</scriptx>", a double-escaped script,
     * CDATA in svg), a name whose hash is <div>'s. The depth pass follows
     * them, so the nesting stops at its limit and every x is kept. Not
     * followed, 300,000 "<b><div></b>x" took over ten minutes (each <div>
     * looks for an open <p> through every level), "<div><object></div>x"
     * 200 MB, and 60,000 "<div>x" after "<select><xmp></select>" 11 s */
    static const struct {
        const char *before, *unit;
        bool text; /* its x are body text (not in svg) */
    } misnested[] = {
        {"", "<div><object></div>x ", true},
        {"", "<span><div></span>x ", true},
        {"", "<b><div></b>x ", true},
        {"", "<div><table><caption></div>x ", true},
        {"", "<div><script></scriptx></div></script>x ", true},
        {"", "<div><script><!--<script></script></div></script>x ", true},
        {"<select><xmp></select>", "<div>x ", true},
        {"<select><plaintext></select>", "<div>x ", true},
        {"", "<div></awsaueg>x ", true},
        {"<svg><plaintext/></svg>", "<div>x ", true},
        {"<svg><style>", "<g>x ", false},
        {"<svg>", "<g><![CDATA[></g>]]>x ", false},
    };
    for (size_t k = 0; k < sizeof misnested / sizeof *misnested; k++) {
        deep = malloc(crash_depth * strlen(misnested[k].unit) + 128);
        n = (size_t)sprintf(deep, "<p>hello</p>%s", misnested[k].before);
        for (size_t i = 0; i < crash_depth; i++)
            n += (size_t)sprintf(deep + n, "%s", misnested[k].unit);
        ck_assert_int_eq(nx_html_article_extract(deep, n, &a), 0);
        ck_assert_msg(a.flattened_at != SIZE_MAX, "%s", misnested[k].unit);
        ck_assert_ptr_nonnull(strstr((char *)a.text.data, "hello"));
        size_t xs = 0;
        for (size_t i = 0; i < a.text.len; i++) xs += a.text.data[i] == 'x';
        if (misnested[k].text)
            ck_assert_msg(xs == crash_depth, "%s: %zu x of %zu", misnested[k].unit, xs,
                          crash_depth);
        free(deep);
    }
    /* formatting tags the parser re-opened after an element closed them
     * ("<div><b x=1>...<b x=4000></div>x": 4000 more levels a round, which
     * the depth did not see): as <span>s they nest as the depth follows */
    int rounds = nxt_small() ? 2 : 20;
    deep = malloc((size_t)rounds * (5 + 4000 * 14 + 7) + 64);
    n = 0;
    for (int r = 0; r < rounds; r++) {
        n += (size_t)sprintf(deep + n, "<div>");
        for (int k = 0; k < 4000; k++) n += (size_t)sprintf(deep + n, "<b x=%d>", r * 4000 + k);
        n += (size_t)sprintf(deep + n, "</div>x");
    }
    ck_assert_int_eq(nx_html_article_extract(deep, n, &a), 0);
    ck_assert_uint_ne(a.flattened_at, SIZE_MAX);
    ck_assert_uint_eq(a.text.len, (size_t)rounds * 2 - 1); /* "x x ... x" */
    free(deep);
    deep = NULL;
    /* formatting elements the parser re-opens a level deeper each round
     * ("<b><i></b>x": 300,000 rounds took 78 s, quadratic), and one open
     * above 4000 <div>s with 3 MB of text after it (every character looked
     * it up from the bottom of the open elements: 4 s): gumbo gets <span>
     * for them, nesting that the depth pass follows */
    rounds = nxt_small() ? 20000 : 300000;
    deep = malloc((size_t)rounds * 11 + 64);
    n = (size_t)sprintf(deep, "<p>hello</p>");
    for (int r = 0; r < rounds; r++) n += (size_t)sprintf(deep + n, "<b><i></b>x");
    ck_assert_int_eq(nx_html_article_extract(deep, n, &a), 0);
    ck_assert_uint_ne(a.flattened_at, SIZE_MAX);
    size_t xs = 0;
    for (size_t i = 0; i < a.text.len; i++) xs += a.text.data[i] == 'x';
    ck_assert_uint_eq(xs, (size_t)rounds); /* every x */
    free(deep);
    size_t text_len = nxt_small() ? 300000 : 3000000;
    deep = malloc(4000 * 5 + text_len + 64);
    n = 0;
    for (int k = 0; k < 4000; k++) n += (size_t)sprintf(deep + n, "<div>");
    n += (size_t)sprintf(deep + n, "<b>");
    memset(deep + n, 'y', text_len);
    n += text_len;
    ck_assert_int_eq(nx_html_article_extract(deep, n, &a), 0);
    ck_assert_uint_eq(a.flattened_at, SIZE_MAX);
    ck_assert_uint_eq(a.text.len, text_len);
    free(deep);
    deep = NULL;
    /* a page that nests no deeper is parsed as it is */
    const char *page = "<article><p>x</p></article>";
    ck_assert_int_eq(nx_html_article_extract(page, strlen(page), &a), 0);
    ck_assert_uint_eq(a.flattened_at, SIZE_MAX);
    nx_html_article_free(&a);
    free(deep);
    nx_buf_free(&title);
    nx_buf_free(&text);
}
END_TEST

START_TEST(test_text_files_with_bad_bytes_are_repaired_and_reported) {
    make_tmpdir();
    /* UTF-8 (two well-formed sequences) with one bad byte: repaired */
    const char t[] = "Ti\xC0tle caf\xC3\xA9 na\xC3\xAFve\nbo\0dy\n";
    write_file(tmp_path("bad.txt"), t, sizeof t - 1);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("bad.txt"), &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(field(&c.records[0], "title"), "Ti\xEF\xBF\xBDtle caf\xC3\xA9 na\xC3\xAFve");
    ck_assert_str_eq(field(&c.records[0], "body"), "body");
    ck_assert_int_eq(c.n_reports, 2);
    ck_assert_int_eq(c.reports[0].reason, NEWSIDX_REASON_BAD_UTF8);
    ck_assert_str_eq(c.reports[0].msg, "invalid UTF-8 at byte 3 replaced by U+FFFD");
    ck_assert_uint_eq(c.reports[0].line, 0);
    ck_assert_int_eq(c.reports[1].reason, NEWSIDX_REASON_NUL_BYTE);
    ck_assert_uint_eq(st.warnings, 1);
    /* no well-formed sequence at all: a legacy 8-bit text, read as
     * Windows-1252 (a letter kept, not U+FFFD) and nothing to report but
     * the NUL byte */
    const char l[] = "Ti\xC0tle\nbo\0dy\n";
    write_file(tmp_path("latin.txt"), l, sizeof l - 1);
    capture c2 = {0};
    o = capture_opts(&c2);
    ck_assert_int_eq(run(tmp_path("latin.txt"), &o, &c2, &st), NEWSIDX_OK);
    ck_assert_int_eq(c2.n_records, 1);
    ck_assert_str_eq(field(&c2.records[0], "title"), "Ti\xC3\x80tle");
    ck_assert_int_eq(c2.n_reports, 1);
    ck_assert_int_eq(c2.reports[0].reason, NEWSIDX_REASON_NUL_BYTE);
    rm_tmpdir();
}
END_TEST

START_TEST(test_a_text_file_over_the_limit_is_cut_and_indexed) {
    make_tmpdir();
    char buf[5000];
    memcpy(buf, "Title\n", 6);
    memset(buf + 6, 'a', sizeof buf - 6);
    /* a 2-byte character straddles the limit: the cut backs off before it */
    buf[999] = (char)0xC3;
    buf[1000] = (char)0xA9;
    write_file(tmp_path("long.txt"), buf, sizeof buf);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    o.max_line_bytes = 1000;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("long.txt"), &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_uint_eq(field_len(&c.records[0], "body"), 999 - 6);
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_int_eq(c.reports[0].reason, NEWSIDX_REASON_TOO_LONG);
    ck_assert_int_eq(c.reports[0].severity, NEWSIDX_REPORT_WARNING);
    ck_assert_uint_eq(c.records[0].warnings & NX_WARN_TOO_LONG, NX_WARN_TOO_LONG);
    rm_tmpdir();
}
END_TEST

START_TEST(test_symlink_loops_are_walked_once_and_unreadable_files_reported) {
    make_tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/sub", tmpdir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    write_file(tmp_path("sub/one.txt"), "One\nbody\n", 9);
    write_file(tmp_path("two.txt"), "Two\nbody\n", 9);
    ck_assert_int_eq(symlink("..", tmp_path("sub/up")), 0);   /* a loop */
    ck_assert_int_eq(symlink("sub", tmp_path("again")), 0);   /* sub twice */
    ck_assert_int_eq(symlink("nowhere", tmp_path("dangling.txt")), 0);
    write_file(tmp_path("secret.txt"), "Secret\nbody\n", 12);
    ck_assert_int_eq(chmod(tmp_path("secret.txt"), 0), 0);
    snprintf(p, sizeof p, "%s/locked", tmpdir);
    ck_assert_int_eq(mkdir(p, 0), 0);
    /* root reads everything: the permission checks only mean something for
     * another user, so they are skipped when the suite runs as root */
    bool as_root = geteuid() == 0;
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmpdir, &o, &c, &st), NEWSIDX_OK);
    /* again/one.txt (via the symlink, first in sorted order), two.txt;
     * sub/ is the same directory as again/ and is not walked twice */
    int ones = 0;
    for (int i = 0; i < c.n_records; i++)
        if (strcmp(field(&c.records[i], "title"), "One") == 0) ones++;
    ck_assert_int_eq(ones, 1);
    ck_assert_str_eq(field(&c.records[0], "id"), "again/one.txt");
    ck_assert_ptr_nonnull(record_with_id(&c, "two.txt"));
    const seen_report *r = report_on_line(&c, 0);
    ck_assert_ptr_nonnull(r);
    int dangling = 0, secret = 0, locked = 0;
    for (int i = 0; i < c.n_reports; i++) {
        ck_assert_int_eq(c.reports[i].severity, NEWSIDX_REPORT_ERROR);
        ck_assert_int_eq(c.reports[i].reason, NEWSIDX_REASON_UNREADABLE);
        if (strstr(c.reports[i].file, "dangling.txt")) dangling++;
        if (strstr(c.reports[i].file, "secret.txt")) {
            secret++;
            ck_assert_str_eq(c.reports[i].msg, "cannot open: Permission denied");
        }
        if (strstr(c.reports[i].file, "locked")) locked++;
    }
    ck_assert_int_eq(dangling, 1);
    if (!as_root) {
        ck_assert_int_eq(secret, 1);
        ck_assert_int_eq(locked, 1);
        ck_assert_int_eq(c.n_records, 2);
        ck_assert_uint_eq(st.errors, 3);
    } else {
        ck_assert_int_eq(c.n_records, 3);
        ck_assert_uint_eq(st.errors, 1);
    }
    rm_tmpdir();
}
END_TEST

START_TEST(test_walk_progress_counts_bytes_of_all_files_and_ndjson_is_read) {
    make_tmpdir();
    /* three compressed files of ~1.5 MB of incompressible-ish text each */
    size_t n = 0, cap = 2 << 20;
    char *text = malloc(cap);
    for (int i = 0; n < cap - 300; i++)
        n += (size_t)snprintf(text + n, cap - n, "{\"id\":\"p%d\",\"title\":\"%llx\",\"body\":\"%llx %llx\"}\n",
                              i, (unsigned long long)rng(), (unsigned long long)rng(),
                              (unsigned long long)rng());
    write_gzip(tmp_path("a.ndjson.gz"), "wb", text, n);
    write_zstd(tmp_path("b.jsonl.zst"), text, n);
    write_file(tmp_path("c.NDJSON"), text, n);
    free(text);
    struct stat sa, sb, sc;
    ck_assert_int_eq(stat(tmp_path("a.ndjson.gz"), &sa), 0);
    ck_assert_int_eq(stat(tmp_path("b.jsonl.zst"), &sb), 0);
    ck_assert_int_eq(stat(tmp_path("c.NDJSON"), &sc), 0);
    uint64_t total = (uint64_t)(sa.st_size + sb.st_size + sc.st_size);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmpdir, &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_reports, 0);
    ck_assert_uint_eq(st.indexed % 3, 0);
    ck_assert_uint_eq(st.bytes_read, total);
    /* progress is cumulative over the walk, ends at the total, never goes back */
    ck_assert_uint_eq(c.last_progress_bytes, total);
    ck_assert_int_eq(c.progress_decreased, 0);
    ck_assert_uint_ge(c.progress_calls, total >> 20);
    rm_tmpdir();
}
END_TEST

START_TEST(test_html_with_invalid_utf8_is_repaired_before_parsing) {
    make_tmpdir();
    /* UTF-8 (three well-formed sequences) with two bad bytes */
    const char h[] = "<title>T\xFF \xC3\xA9t\xC3\xA9</title><p>caf\xC3 na\xC3\xAFve</p>";
    write_file(tmp_path("x.htm"), h, sizeof h - 1);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("x.htm"), &o, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(field(&c.records[0], "title"), "T\xEF\xBF\xBD \xC3\xA9t\xC3\xA9");
    ck_assert_str_eq(field(&c.records[0], "body"), "caf\xEF\xBF\xBD na\xC3\xAFve");
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_int_eq(c.reports[0].reason, NEWSIDX_REASON_BAD_UTF8);
    ck_assert_str_eq(c.reports[0].msg, "invalid UTF-8 at byte 9 replaced by U+FFFD");
    rm_tmpdir();
}
END_TEST

/* Runs the walk of an unreadable file and directory in a child process as
 * an ordinary user: as root, permissions are not enforced, so the child
 * drops to uid/gid 65534 ("nobody") first. Exit code 0: as expected. */
static int unreadable_walk_child(void) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) return 77;
    capture *c = calloc(1, sizeof *c);
    if (!c) return 2;
    newsidx_ingest_options o = capture_opts(c);
    newsidx_ingest_stats st = {0};
    if (nx_ingest_each(tmpdir, &o, &st, on_record, c) != NEWSIDX_OK) return 3;
    if (c->n_records != 1 || strcmp(field(&c->records[0], "id"), "readable.txt") != 0)
        return 4;
    if (st.errors != 2 || c->n_errors != 2 || c->n_reports != 2) return 5;
    for (int i = 0; i < 2; i++) {
        const seen_report *r = &c->reports[i];
        if (r->severity != NEWSIDX_REPORT_ERROR || r->reason != NEWSIDX_REASON_UNREADABLE)
            return 6;
    }
    if (!strstr(c->reports[0].file, "/locked") ||
        strcmp(c->reports[0].msg, "cannot open directory: Permission denied") != 0)
        return 7;
    if (!strstr(c->reports[1].file, "/secret.txt") ||
        strcmp(c->reports[1].msg, "cannot open: Permission denied") != 0)
        return 8;
    return 0;
}

START_TEST(test_unreadable_files_and_directories_are_reported_and_skipped) {
    make_tmpdir();
    ck_assert_int_eq(chmod(tmpdir, 0755), 0); /* the child may be "nobody" */
    write_file(tmp_path("readable.txt"), "Readable\nbody\n", 14);
    ck_assert_int_eq(chmod(tmp_path("readable.txt"), 0644), 0);
    write_file(tmp_path("secret.txt"), "Secret\nbody\n", 12);
    ck_assert_int_eq(chmod(tmp_path("secret.txt"), 0), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/locked", tmpdir);
    ck_assert_int_eq(mkdir(p, 0), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) _exit(unreadable_walk_child());
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        fprintf(stderr, "test_ingest: cannot switch to uid 65534: unreadable-file check skipped\n");
    else
        ck_assert_msg(WEXITSTATUS(status) == 0, "child check %d failed", WEXITSTATUS(status));
    rm_tmpdir();
}
END_TEST

/* ---- writer warnings become reports ------------------------------------ */

START_TEST(test_writer_warning_bits_become_reports_once) {
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st = {0};
    newsidx_field f[2] = {{"id", "x7", 2}, {"date", "4 min readJun 23, 2024", 22}};
    nx_record rec = {f, 2, "in.jsonl", 9, NEWSIDX_WARN_BAD_UTF8};
    unsigned bits = NEWSIDX_WARN_ID_DERIVED | NEWSIDX_WARN_DATE_UNPARSED |
                    NEWSIDX_WARN_FIELD_CUT | NEWSIDX_WARN_EMPTY_BODY |
                    NEWSIDX_WARN_REPLACED | NEWSIDX_WARN_BAD_UTF8;
    ck_assert_int_eq(nx_ingest_writer_warnings(&o, &st, &rec, bits), NX_RECORD_WARNED);
    ck_assert_int_eq(c.n_reports, 5); /* BAD_UTF8 was already reported by the reader */
    int want[5] = {NEWSIDX_REASON_NO_ID, NEWSIDX_REASON_BAD_DATE, NEWSIDX_REASON_TOO_LONG,
                   NEWSIDX_REASON_EMPTY_BODY, NEWSIDX_REASON_DUPLICATE_ID};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(c.reports[i].reason, want[i]);
        ck_assert_int_eq(c.reports[i].severity, NEWSIDX_REPORT_WARNING);
        ck_assert_str_eq(c.reports[i].file, "in.jsonl");
        ck_assert_uint_eq(c.reports[i].line, 9);
        ck_assert_uint_eq(st.by_reason[want[i]], 1);
    }
    ck_assert_str_eq(c.reports[1].msg, "date \"4 min readJun 23, 2024\" not understood: "
                                       "kept as text, not in the date column");
    ck_assert_str_eq(c.reports[4].msg, "id \"x7\" seen before: the earlier article is replaced");
    ck_assert_int_eq(nx_ingest_writer_warnings(&o, &st, &rec, 0), NX_RECORD_ADDED);
    ck_assert_int_eq(nx_ingest_writer_warnings(&o, &st, &rec, NEWSIDX_WARN_BAD_UTF8),
                     NX_RECORD_ADDED);
    ck_assert_int_eq(c.n_reports, 5);
}
END_TEST

START_TEST(test_ingest_path_adds_to_a_writer_and_reports_its_warnings) {
    make_tmpdir();
    newsidx_writer *w = NULL;
    char err[256] = "";
    ck_assert_int_eq(newsidx_writer_open(tmp_path("idx"), NULL, err, sizeof err, &w), 0);
    capture c = {0};
    newsidx_ingest_options o = capture_opts(&c);
    newsidx_ingest_stats st = {0};
    ck_assert_int_eq(newsidx_ingest_path(w, DATA "/bad.jsonl", &o, &st), NEWSIDX_OK);
    ck_assert_uint_eq(st.indexed, 9);
    ck_assert_uint_eq(st.skipped, 5);
    /* reader warnings (utf, nul, rawnul) + writer ones: no id on lines 5 and
     * 14, empty body on line 6 */
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_NO_ID], 2);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_EMPTY_BODY], 1);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_BAD_DATE], 1);
    const seen_report *r = report_on_line(&c, 5);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_NO_ID);
    ck_assert_int_eq(r->severity, NEWSIDX_REPORT_WARNING);
    ck_assert_int_eq(report_on_line(&c, 6)->reason, NEWSIDX_REASON_EMPTY_BODY);
    r = report_on_line(&c, 7);
    ck_assert_int_eq(r->reason, NEWSIDX_REASON_BAD_DATE);
    ck_assert_str_eq(r->msg, "date \"4 min readJun 23, 2024\" not understood: "
                             "kept as text, not in the date column");
    ck_assert_uint_eq(st.warnings, 7); /* utf, noid, nobody, baddate, nul, rawnul, id "" */
    /* the same file again: every id is replaced (derived ids are stable) */
    memset(&c, 0, sizeof c);
    newsidx_ingest_stats st2 = {0};
    ck_assert_int_eq(newsidx_ingest_path(w, DATA "/bad.jsonl", &o, &st2), NEWSIDX_OK);
    ck_assert_uint_eq(st2.by_reason[NEWSIDX_REASON_DUPLICATE_ID], 9);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *rd = NULL;
    ck_assert_int_eq(newsidx_reader_open(tmp_path("idx"), err, sizeof err, &rd), 0);
    newsidx_stats ist;
    ck_assert_int_eq(newsidx_reader_stats(rd, &ist), 0);
    ck_assert_uint_eq(ist.docs, 9);
    newsidx_doc *doc = NULL;
    ck_assert_int_eq(newsidx_reader_get(rd, "utf", 3, &doc), 0);
    const newsidx_field *t = newsidx_doc_find(doc, "title");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->value_len, strlen("Bad \xEF\xBF\xBD byte"));
    ck_assert(memcmp(t->value, "Bad \xEF\xBF\xBD byte", t->value_len) == 0);
    newsidx_doc_free(doc);
    newsidx_reader_close(rd);
    ck_assert_int_eq(newsidx_ingest_path(NULL, DATA "/bad.jsonl", &o, &st2), NEWSIDX_ERR_INVALID);
    rm_tmpdir();
}
END_TEST

START_TEST(test_reason_names_and_option_defaults) {
    ck_assert_str_eq(newsidx_reason_name(NEWSIDX_REASON_BAD_JSON), "bad-json");
    ck_assert_str_eq(newsidx_reason_name(NEWSIDX_REASON_EMPTY), "empty");
    ck_assert_str_eq(newsidx_reason_name(NEWSIDX_REASON_COUNT), "unknown");
    ck_assert_str_eq(newsidx_reason_name(-1), "unknown");
    for (int i = 0; i < NEWSIDX_REASON_COUNT; i++)
        ck_assert_str_ne(newsidx_reason_name(i), "unknown");
    newsidx_ingest_options o;
    memset(&o, 0xAB, sizeof o);
    newsidx_ingest_options_init(&o);
    ck_assert_uint_eq(o.size, sizeof o);
    ck_assert_uint_eq(o.max_line_bytes, (size_t)64 << 20);
    ck_assert_ptr_null(o.report);
    ck_assert_ptr_null(o.progress);
    /* an options struct from a newer-looking caller with a too-small size */
    o.size = 4;
    newsidx_ingest_stats st = {0};
    capture c = {0};
    ck_assert_int_eq(nx_ingest_each(DATA "/good.jsonl", &o, &st, on_record, &c),
                     NEWSIDX_ERR_INVALID);
}
END_TEST

/* ---- UTF-8 repair ------------------------------------------------------- */

START_TEST(test_utf8_repair_replaces_each_invalid_byte) {
    struct { const char *in; size_t len; const char *out; bool bad; } cases[] = {
        {"plain", 5, "plain", false},
        {"\xC3\xA9t\xC3\xA9", 5, "\xC3\xA9t\xC3\xA9", false},
        {"\xF0\x9F\x98\x80", 4, "\xF0\x9F\x98\x80", false},          /* U+1F600 */
        {"a\xC0\xAF" "b", 4, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b", true},  /* overlong '/' */
        {"\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", true}, /* surrogate */
        {"\xF4\x90\x80\x80", 4,
         "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", true},    /* > U+10FFFF */
        {"end\xE2\x82", 5, "end\xEF\xBF\xBD\xEF\xBF\xBD", true},       /* truncated */
        {"\xFF", 1, "\xEF\xBF\xBD", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nx_buf out = {0};
        bool bad = false, nul = false;
        ck_assert_int_eq(nx_utf8_repair(&out, cases[i].in, cases[i].len, &bad, &nul), 0);
        ck_assert_msg(strcmp((char *)out.data, cases[i].out) == 0, "case %zu", i);
        ck_assert_int_eq(bad, cases[i].bad);
        ck_assert_int_eq(nul, false);
        ck_assert_uint_eq(nx_utf8_valid_prefix(cases[i].in, cases[i].len) == cases[i].len,
                          !cases[i].bad);
        nx_buf_free(&out);
    }
    ck_assert_uint_eq(nx_utf8_valid_prefix("abcdefghij\xFFz", 12), 10);
}
END_TEST

/* ---- the scanner agrees with jansson ----------------------------------- */

typedef struct scan_tally {
    long ok, fallback, bad_utf8;
} scan_tally;

/* Scans one line with nx_json_scan_object and with jansson: whatever the
 * scanner accepts, jansson must accept with equal members. */
/* Check logs every ck_assert call (a write per assertion): hot loops test
 * with a plain `if` and abort with a message only on failure. */
#define REQUIRE(cond, ...)                                                     \
    do {                                                                       \
        if (!(cond)) ck_abort_msg(__VA_ARGS__);                                \
    } while (0)

static int scan_agrees(const char *line, size_t len, scan_tally *t) {
    nx_buf scratch = {0}, members = {0};
    bool nul = false;
    int rc = nx_json_scan_object(line, len, &scratch, &members, &nul, false);
    json_error_t err;
    json_t *root = json_loadb(line, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (rc == NX_SCAN_OK) {
        t->ok++;
        REQUIRE(root && json_is_object(root), "scanner accepted, jansson did not: %.*s",
                      (int)(len > 200 ? 200 : len), line);
        const nx_json_member *m = (const nx_json_member *)members.data;
        size_t n = members.len / sizeof *m;
        REQUIRE(n == json_object_size(root), "member counts differ");
        for (size_t i = 0; i < n; i++) {
            const char *key = (const char *)scratch.data + m[i].key_off;
            const char *v = m[i].value ? m[i].value : (const char *)scratch.data + m[i].value_off;
            json_t *jv = json_object_get(root, key);
            REQUIRE(jv != NULL, "key %s missing in jansson", key);
            if (m[i].kind == NX_JSON_NULL) {
                REQUIRE(json_is_null(jv), "%s should be null", key);
            } else if (m[i].kind == NX_JSON_STRING) {
                REQUIRE(json_is_string(jv), "%s should be a string", key);
                /* jansson keeps NUL characters; the scanner drops them */
                const char *js = json_string_value(jv);
                size_t jl = json_string_length(jv), k = 0;
                for (size_t j = 0; j < jl; j++) {
                    if (js[j] == 0) continue;
                    REQUIRE(k < m[i].value_len && v[k] == js[j], "value of %s differs", key);
                    k++;
                }
                REQUIRE(k == m[i].value_len, "value of %s differs in length", key);
            } else {
                REQUIRE(!json_is_string(jv) && !json_is_null(jv), "%s kind differs", key);
                json_t *again = json_loadb(v, m[i].value_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
                REQUIRE(again && json_equal(again, jv), "value of %s differs: %.*s", key,
                              (int)m[i].value_len, v);
                /* compact: no white space outside strings */
                bool in_str = false;
                for (size_t j = 0; j < m[i].value_len; j++) {
                    if (in_str && v[j] == '\\') j++;
                    else if (v[j] == '"') in_str = !in_str;
                    else if (!in_str) REQUIRE(!strchr(" \t\r\n", v[j]), "not compact: %.*s",
                                                    (int)m[i].value_len, v);
                }
                json_decref(again);
            }
        }
    } else if (rc == NX_SCAN_BAD_UTF8) {
        t->bad_utf8++;
        REQUIRE(!root, "scanner saw bad UTF-8, jansson parsed: %.*s", (int)len, line);
    } else {
        REQUIRE(rc == NX_SCAN_FALLBACK, "unexpected scanner code %d", rc);
        t->fallback++;
    }
    json_decref(root);
    nx_buf_free(&scratch);
    nx_buf_free(&members);
    return rc;
}

START_TEST(test_scanner_handles_edge_cases_like_jansson) {
    static const char *const lines[] = {
        "{}", " { } ", "{\"a\":1}", "{\"a\":-0}", "{\"a\":0.5}", "{\"a\":01}", "{\"a\":1.}",
        "{\"a\":.5}", "{\"a\":1e5}", "{\"a\":123456789012345678}", "{\"a\":1234567890123456789}",
        "{\"a\":+1}", "{\"a\":-}", "{\"a\":true}", "{\"a\":tru}", "{\"a\":truex}",
        "{\"a\":false,\"b\":null}", "{\"a\":nul}", "{\"a\":[]}", "{\"a\":[ ]}", "{\"a\":[1,2,]}",
        "{\"a\":[1 , [2, {\"x\" : \"y z\"}]]}", "{\"a\":{}}", "{\"a\":{\"b\":}}", "{\"a\":[}",
        "{\"a\":\"\\u00e9\\n\\t\\\"\\\\\\/\\b\\f\\r\"}", "{\"a\":\"\\ud83d\\ude00\"}",
        "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\\ud83d\\u0041\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":\"\\x\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"x\\u0000y\"}",
        "{\"a\\u0000b\":1}", "{\"\\u0041\":\"k\"}", "{\"a\":1,\"a\":2}", "{\"a\":1,}", "{,}",
        "{\"a\" 1}", "{\"a\":1} x", "{\"a\":1}}", "[1]", "42", "\"s\"", "null", "",
        "{\"a\":\"\xC3\xA9\"}", "{\"a\":\"\xC3\"}", "{\"a\":[\"\xFF\"]}", "{\"\xFF\":1}",
        "{\"a\":\"\xED\xA0\x80\"}", "{\"a\":\"\xF4\x90\x80\x80\"}", "{\"a\":\"\x7F\"}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "\t{\"a\" :\r\n\"b\"}\r",
    };
    scan_tally t = {0};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        scan_agrees(lines[i], strlen(lines[i]), &t);
    ck_assert_int_ge(t.ok, 18);
    ck_assert_int_ge(t.bad_utf8, 4);
}
END_TEST

START_TEST(test_scanner_agrees_with_jansson_on_corpora_and_mutations) {
    static const char *const corpora[] = {"reuters21578", "20newsgroups", "bbc"};
    char dir[4096];
    NXT_SHARED_OR_SKIP("corpora", dir);
    scan_tally t = {0};
    long mutated = 0;
    for (int c = 0; c < 3; c++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.jsonl.zst", dir, corpora[c]);
        size_t zlen;
        char *z = read_all(path, &zlen);
        unsigned long long n = ZSTD_getFrameContentSize(z, zlen);
        ck_assert(n != ZSTD_CONTENTSIZE_ERROR && n != ZSTD_CONTENTSIZE_UNKNOWN);
        char *text = malloc(n + 1);
        ck_assert_uint_eq(ZSTD_decompress(text, n, z, zlen), n);
        free(z);
        long line_no = 0, fast = 0;
        for (char *p = text, *e = text + n; p < e; line_no++) {
            char *nl = memchr(p, '\n', (size_t)(e - p));
            size_t len = (size_t)((nl ? nl : e) - p);
            if (scan_agrees(p, len, &t) == NX_SCAN_OK) fast++;
            /* mutate the first 1500 lines of each corpus a few ways */
            if (line_no < 1500 && len > 2) {
                static const char bytes[] = "{}[],:\"\\ \x00\xff\xc3" "0e-.tfnu";
                char *m = malloc(len + 1);
                for (int k = 0; k < 4; k++) {
                    memcpy(m, p, len);
                    size_t at = (size_t)(rng() % len), mlen = len;
                    if (k == 0) mlen = at; /* truncated */
                    else m[at] = bytes[rng() % (sizeof bytes - 1)];
                    scan_agrees(m, mlen, &t);
                    mutated++;
                }
                free(m);
            }
            p = nl ? nl + 1 : e;
        }
        /* the fast path takes every well-formed article of the corpora */
        ck_assert_int_eq(fast, line_no);
        free(text);
    }
    if (mutated) ck_assert_int_gt(t.fallback + t.bad_utf8, 1000);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("ingest");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_jsonl_fields_are_mapped_and_passed_through);
    tcase_add_test(tc, test_every_bad_line_is_reported_with_file_line_and_reason);
    tcase_add_test(tc, test_zstd_and_gzip_are_detected_by_magic_bytes_not_names);
    tcase_add_test(tc, test_concatenated_gzip_members_and_zstd_frames_are_all_read);
    tcase_add_test(tc, test_truncated_or_corrupt_compressed_input_keeps_earlier_records);
    tcase_add_test(tc, test_a_line_over_the_limit_is_skipped_and_the_next_one_read);
    tcase_add_test(tc, test_numbers_past_64_bits_keep_their_article);
    tcase_add_test(tc, test_an_article_of_50_mb_is_read_whole_under_the_default_limit);
    tcase_add_test(tc, test_stdin_is_read_and_sniffed_through_a_pipe);
    tcase_add_test(tc, test_a_utf8_bom_on_the_first_line_is_skipped);
    tcase_add_test(tc, test_a_callback_error_stops_the_run_and_is_returned);
    tcase_add_test(tc, test_a_missing_path_is_an_error_and_reported);
    tcase_add_test(tc, test_the_reuters_corpus_reads_every_article_with_progress);
    tcase_add_test(tc, test_a_directory_walk_reads_every_supported_type_in_sorted_order);
    tcase_add_test(tc, test_html_text_has_no_markup_scripts_or_glued_words);
    tcase_add_test(tc, test_html_extraction_of_fragments);
    tcase_add_test(tc, test_html_nested_past_the_parser_limit_keeps_its_text);
    tcase_add_test(tc, test_text_files_with_bad_bytes_are_repaired_and_reported);
    tcase_add_test(tc, test_a_text_file_over_the_limit_is_cut_and_indexed);
    tcase_add_test(tc, test_symlink_loops_are_walked_once_and_unreadable_files_reported);
    tcase_add_test(tc, test_walk_progress_counts_bytes_of_all_files_and_ndjson_is_read);
    tcase_add_test(tc, test_html_with_invalid_utf8_is_repaired_before_parsing);
    tcase_add_test(tc, test_unreadable_files_and_directories_are_reported_and_skipped);
    tcase_add_test(tc, test_writer_warning_bits_become_reports_once);
    tcase_add_test(tc, test_ingest_path_adds_to_a_writer_and_reports_its_warnings);
    tcase_add_test(tc, test_reason_names_and_option_defaults);
    tcase_add_test(tc, test_utf8_repair_replaces_each_invalid_byte);
    suite_add_tcase(s, tc);
    TCase *scan = tcase_create("scanner");
    tcase_set_timeout(scan, 300);
    tcase_add_test(scan, test_scanner_handles_edge_cases_like_jansson);
    tcase_add_test(scan, test_scanner_agrees_with_jansson_on_corpora_and_mutations);
    suite_add_tcase(s, scan);
    return nxt_run(s, CK_FORK_GETENV);
}
