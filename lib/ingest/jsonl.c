/* jsonl.c — JSON Lines articles from a stream: plain, zstd or gzip (told
 * apart by magic bytes, never by name), split into lines with bounded
 * memory, each line scanned into named fields (jsonscan.c; jansson for
 * the lines the scanner hands back, and for the error messages).
 *
 * Input format (docs/INGEST.md, "JSON Lines"): one JSON object per line,
 * '\n' separated ("\r\n" works: '\r' is JSON white space); blank lines are
 * ignored; a UTF-8 byte order mark on the first line is skipped. zstd input
 * may hold several frames and gzip input several members (as `cat a.gz
 * b.gz` makes).
 *
 * Memory: one raw-input buffer, one decoded buffer and the current line,
 * which never grows past opts->max_line_bytes: a longer line is skipped
 * while it streams by (reason TOO_LONG) and reading resumes at the next one.
 *
 * Why a scanner before jansson: the measurement is in jsonscan.c. */
#include "ingest/ingest.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define RAW_BUF_BYTES (128u * 1024)
#define DECODED_BUF_BYTES (256u * 1024)
#define PROGRESS_EVERY_BYTES (1u << 20)
/* A line buffer that grew past this is released after its line, so one huge
 * record does not pin its memory for the rest of the file. */
#define LINE_BUF_KEEP_BYTES (4u << 20)

/* jansson flags: NUL in strings is let through so it can be reported and
 * removed; any value is decoded so "42" is "not an object", not "bad JSON";
 * duplicate keys are allowed (the last one wins, as in most parsers). */
#define PARSE_FLAGS (JSON_ALLOW_NUL | JSON_DECODE_ANY)

enum stream_kind { STREAM_PLAIN, STREAM_ZSTD, STREAM_GZIP };

/* A decoding reader over a file descriptor. */
typedef struct nx_stream {
    nx_read_fn read;   /* where the raw bytes come from */
    void *src;
    enum stream_kind kind;
    uint8_t *raw;
    size_t raw_len, raw_pos;
    bool raw_eof;
    uint64_t raw_bytes; /* bytes read from fd (compressed size) */
    uint64_t out_bytes; /* bytes decoded from them */
    ZSTD_DStream *zstd;
    size_t zstd_hint;   /* last ZSTD_decompressStream result: 0 = frame done */
    z_stream gz;
    bool gz_ready;
    bool gz_member_done;
    char error[200];    /* set when a read or decode fails */
} nx_stream;

static const char *kind_name(enum stream_kind k) {
    return k == STREAM_ZSTD ? "zstd" : k == STREAM_GZIP ? "gzip" : "plain";
}

/* Reads more raw bytes (appending after the unconsumed ones). */
static int stream_fill(nx_stream *s) {
    if (s->raw_pos > 0) {
        memmove(s->raw, s->raw + s->raw_pos, s->raw_len - s->raw_pos);
        s->raw_len -= s->raw_pos;
        s->raw_pos = 0;
    }
    while (!s->raw_eof && s->raw_len < RAW_BUF_BYTES) {
        ssize_t n = s->read(s->src, s->raw + s->raw_len, RAW_BUF_BYTES - s->raw_len,
                            s->error, sizeof s->error);
        if (n < 0) return NEWSIDX_ERR_IO;
        if (n == 0) {
            s->raw_eof = true;
            break;
        }
        s->raw_len += (size_t)n;
        s->raw_bytes += (uint64_t)n;
        /* one read per fill is enough once there is something to decode;
         * on a pipe, waiting for a full buffer would delay every record */
        break;
    }
    return 0;
}

static int stream_open(nx_stream *s, nx_read_fn read_fn, void *src) {
    memset(s, 0, sizeof *s);
    s->read = read_fn;
    s->src = src;
    s->raw = malloc(RAW_BUF_BYTES);
    if (!s->raw) return NEWSIDX_ERR_NOMEM;
    /* sniff: need 4 bytes (or EOF) to see a magic number */
    while (s->raw_len < 4 && !s->raw_eof) NX_FORWARD(stream_fill(s));
    static const uint8_t zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    if (s->raw_len >= 4 && memcmp(s->raw, zstd_magic, 4) == 0) {
        s->kind = STREAM_ZSTD;
        s->zstd = ZSTD_createDStream();
        if (!s->zstd) return NEWSIDX_ERR_NOMEM;
        ZSTD_initDStream(s->zstd);
    } else if (s->raw_len >= 2 && s->raw[0] == 0x1F && s->raw[1] == 0x8B) {
        s->kind = STREAM_GZIP;
        /* 15 + 16: a gzip wrapper with the largest window */
        int zrc = inflateInit2(&s->gz, 15 + 16);
        if (zrc == Z_MEM_ERROR) return NEWSIDX_ERR_NOMEM;
        if (zrc != Z_OK) {
            snprintf(s->error, sizeof s->error, "zlib init failed");
            return NEWSIDX_ERR_IO;
        }
        s->gz_ready = true;
    } else {
        s->kind = STREAM_PLAIN;
    }
    return 0;
}

static void stream_close(nx_stream *s) {
    free(s->raw);
    ZSTD_freeDStream(s->zstd);
    if (s->gz_ready) inflateEnd(&s->gz);
    memset(s, 0, sizeof *s);
}

/* Counts n decoded bytes: NEWSIDX_ERR_IO past the decompression bomb
 * bound (NX_INFLATE_RATIO), else 0. */
static int inflated(nx_stream *s, size_t n) {
    s->out_bytes += n;
    if (!nx_inflated_too_much(s->out_bytes, s->raw_bytes)) return 0;
    snprintf(s->error, sizeof s->error,
             "%llu MB decompressed from %llu bytes, more than %d times (a decompression bomb?)",
             (unsigned long long)(s->out_bytes >> 20), (unsigned long long)s->raw_bytes,
             NX_INFLATE_RATIO);
    return NEWSIDX_ERR_IO;
}

/* Decodes up to cap bytes into out. *n = 0 means the end of the input.
 * Returns 0, NEWSIDX_ERR_IO (read error, corrupt or truncated data: message
 * in s->error) or NEWSIDX_ERR_NOMEM. */
static int stream_read(nx_stream *s, uint8_t *out, size_t cap, size_t *n) {
    *n = 0;
    for (;;) {
        if (s->raw_pos == s->raw_len) {
            if (s->raw_eof) break;
            NX_FORWARD(stream_fill(s));
            continue;
        }
        if (s->kind == STREAM_PLAIN) {
            size_t k = NX_MIN(cap, s->raw_len - s->raw_pos);
            memcpy(out, s->raw + s->raw_pos, k);
            s->raw_pos += k;
            *n = k;
            return 0;
        }
        if (s->kind == STREAM_ZSTD) {
            ZSTD_inBuffer in = {s->raw, s->raw_len, s->raw_pos};
            ZSTD_outBuffer o = {out, cap, 0};
            size_t r = ZSTD_decompressStream(s->zstd, &o, &in);
            s->raw_pos = in.pos;
            if (ZSTD_isError(r)) {
                snprintf(s->error, sizeof s->error, "corrupt zstd data: %s",
                         ZSTD_getErrorName(r));
                return NEWSIDX_ERR_IO;
            }
            s->zstd_hint = r;
            if (o.pos) {
                *n = o.pos;
                return inflated(s, o.pos);
            }
            continue;
        }
        /* gzip */
        if (s->gz_member_done) {
            /* another member follows (concatenated .gz files) */
            if (inflateReset(&s->gz) != Z_OK) {
                snprintf(s->error, sizeof s->error, "zlib reset failed");
                return NEWSIDX_ERR_IO;
            }
            s->gz_member_done = false;
        }
        s->gz.next_in = s->raw + s->raw_pos;
        s->gz.avail_in = (uInt)(s->raw_len - s->raw_pos);
        s->gz.next_out = out;
        s->gz.avail_out = (uInt)cap;
        int zrc = inflate(&s->gz, Z_NO_FLUSH);
        s->raw_pos = s->raw_len - s->gz.avail_in;
        size_t produced = cap - s->gz.avail_out;
        if (zrc == Z_STREAM_END) {
            s->gz_member_done = true;
        } else if (zrc == Z_MEM_ERROR) {
            return NEWSIDX_ERR_NOMEM;
        } else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            snprintf(s->error, sizeof s->error, "corrupt gzip data: %s",
                     s->gz.msg ? s->gz.msg : "inflate failed");
            return NEWSIDX_ERR_IO;
        }
        if (produced) {
            *n = produced;
            return inflated(s, produced);
        }
    }
    /* end of raw input: a compressed stream must end on a frame boundary */
    if (s->kind == STREAM_ZSTD && s->zstd_hint != 0) {
        snprintf(s->error, sizeof s->error, "truncated zstd data");
        return NEWSIDX_ERR_IO;
    }
    if (s->kind == STREAM_GZIP && !s->gz_member_done) {
        snprintf(s->error, sizeof s->error, "truncated gzip data");
        return NEWSIDX_ERR_IO;
    }
    return 0;
}

/* ---- one line to fields ------------------------------------------------- */

/* A field whose value lives in the scratch buffer (which may move while the
 * record is being built): its offset is fixed up at the end. */
typedef struct pending_field {
    const char *name;
    const char *value; /* NULL: the value is scratch.data + offset */
    size_t offset;
    size_t len;
} pending_field;

typedef struct jsonl_reader {
    const newsidx_ingest_options *opts;
    newsidx_ingest_stats *stats;
    nx_record_fn fn;
    void *ctx;
    const char *name;
    size_t max_line;
    nx_buf line;      /* a line spread over several decoded chunks */
    nx_buf repaired;  /* the line with invalid UTF-8 / NUL bytes repaired */
    nx_buf scratch;   /* field values that needed a copy */
    nx_buf pending;   /* pending_field array */
    nx_buf fields;    /* newsidx_field array */
    nx_buf members;   /* nx_json_member array from the scanner */
} jsonl_reader;

static bool is_json_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool has_text(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_json_space((uint8_t)s[i])) return true;
    return false;
}

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "an object";
    }
}

static int push_field(jsonl_reader *r, const char *name, const char *value,
                      size_t offset, size_t len) {
    pending_field f = {name, value, offset, len};
    return nx_buf_append(&r->pending, &f, sizeof f);
}

/* Adds one JSON member as a field. Strings are used in place unless they
 * hold NUL bytes (removed: *warn gets NX_WARN_NUL_BYTE); other values are
 * stored as compact JSON text. */
static int add_member(jsonl_reader *r, const char *name, json_t *value,
                      unsigned *warn) {
    if (json_is_string(value)) {
        const char *s = json_string_value(value);
        size_t len = json_string_length(value);
        if (!memchr(s, 0, len)) return push_field(r, name, s, 0, len);
        *warn |= NX_WARN_NUL_BYTE;
        size_t off = r->scratch.len;
        NX_FORWARD(nx_buf_reserve(&r->scratch, len));
        for (size_t i = 0; i < len; i++)
            if (s[i]) r->scratch.data[r->scratch.len++] = (uint8_t)s[i];
        return push_field(r, name, NULL, off, r->scratch.len - off);
    }
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t need = json_dumpb(value, NULL, 0, flags);
    if (need == 0) return NEWSIDX_ERR_NOMEM;
    NX_FORWARD(nx_buf_reserve(&r->scratch, need));
    size_t off = r->scratch.len;
    json_dumpb(value, (char *)r->scratch.data + off, need, flags);
    r->scratch.len += need;
    return push_field(r, name, NULL, off, need);
}

/* Builds the record's fields from a parsed object and hands it over.
 * Field mapping (docs/INGEST.md): "body", else "text", else "content"
 * becomes "body"; a null member is absent; an empty "id" is absent (the
 * writer derives one); every other member is passed under its own name. */
static int emit_object(jsonl_reader *r, json_t *obj, uint64_t lineno,
                       unsigned warn) {
    r->scratch.len = 0;
    r->pending.len = 0;
    const char *body_key = NULL;
    for (int i = 0; i < NX_N_BODY_NAMES && !body_key; i++) {
        json_t *v = json_object_get(obj, nx_body_names[i]);
        if (v && !json_is_null(v)) body_key = nx_body_names[i];
    }
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        if (json_is_null(value)) continue;
        const char *name = key;
        if (body_key && strcmp(key, body_key) == 0) name = nx_field_name(NX_F_BODY);
        if (nx_field_is(key, NX_F_ID) && json_is_string(value) &&
            !has_text(json_string_value(value), json_string_length(value)))
            continue;
        NX_FORWARD(add_member(r, name, value, &warn));
    }
    size_t n = r->pending.len / sizeof(pending_field);
    r->fields.len = 0;
    NX_FORWARD(nx_buf_reserve(&r->fields, n * sizeof(newsidx_field)));
    const pending_field *pf = (const pending_field *)r->pending.data;
    newsidx_field *fields = (newsidx_field *)r->fields.data;
    for (size_t i = 0; i < n; i++) {
        fields[i].name = pf[i].name;
        fields[i].value = pf[i].value ? pf[i].value
                                      : (const char *)r->scratch.data + pf[i].offset;
        fields[i].value_len = pf[i].len;
    }
    if (warn & NX_WARN_NUL_BYTE)
        nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_NUL_BYTE, "NUL bytes removed");
    nx_record rec = {fields, n, r->name, lineno, warn};
    return nx_ingest_deliver(r->opts, r->stats, r->fn, r->ctx, &rec);
}

/* The scanner's members to fields, with the same mapping as emit_object. */
static int emit_members(jsonl_reader *r, uint64_t lineno, unsigned warn) {
    const nx_json_member *m = (const nx_json_member *)r->members.data;
    size_t n = r->members.len / sizeof *m;
    const char *base = (const char *)r->scratch.data;
    const char *body_key = NULL;
    for (int k = 0; k < NX_N_BODY_NAMES && !body_key; k++)
        for (size_t i = 0; i < n; i++)
            if (m[i].kind != NX_JSON_NULL && strcmp(base + m[i].key_off, nx_body_names[k]) == 0) {
                body_key = nx_body_names[k];
                break;
            }
    r->fields.len = 0;
    NX_FORWARD(nx_buf_reserve(&r->fields, n * sizeof(newsidx_field)));
    newsidx_field *fields = (newsidx_field *)r->fields.data;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].kind == NX_JSON_NULL) continue;
        const char *key = base + m[i].key_off;
        const char *value = m[i].value ? m[i].value : base + m[i].value_off;
        if (m[i].kind == NX_JSON_STRING && nx_field_is(key, NX_F_ID) &&
            !has_text(value, m[i].value_len))
            continue;
        fields[nf].name = body_key && strcmp(key, body_key) == 0 ? nx_field_name(NX_F_BODY) : key;
        fields[nf].value = value;
        fields[nf].value_len = m[i].value_len;
        nf++;
    }
    if (warn & NX_WARN_NUL_BYTE)
        nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_NUL_BYTE, "NUL bytes removed");
    nx_record rec = {fields, nf, r->name, lineno, warn};
    return nx_ingest_deliver(r->opts, r->stats, r->fn, r->ctx, &rec);
}

/* ---- ids a repair would alter ---------------------------------------------- */

/* A line with raw NUL bytes, invalid UTF-8 or \u0000 escapes is repaired
 * before or while it is parsed: harmless in a title or a body, but an id
 * changed that way can become another article's id and silently replace
 * it ("a\u0000b" would replace "ab"). So for such a line the top-level
 * "id" is found again in the raw bytes and checked. The scan is tolerant
 * (raw NUL bytes between tokens are skipped, as the repair drops them) and
 * only has to agree with the parsers on lines they accepted. */
typedef struct raw_scan {
    const uint8_t *p, *end;
} raw_scan;

static void raw_skip_ws(raw_scan *s) {
    while (s->p < s->end && (is_json_space(*s->p) || *s->p == 0)) s->p++;
}

/* The string whose opening quote is at s->p: its raw bytes between the
 * quotes into *v, *n. false when unterminated. */
static bool raw_string(raw_scan *s, const uint8_t **v, size_t *n) {
    const uint8_t *q = ++s->p;
    while (q < s->end && *q != '"') q += *q == '\\' && q + 1 < s->end ? 2 : 1;
    if (q >= s->end) return false;
    *v = s->p;
    *n = (size_t)(q - s->p);
    s->p = q + 1;
    return true;
}

/* Skips a value that is not a string, up to the ',' or '}' that ends it. */
static bool raw_skip_value(raw_scan *s) {
    int depth = 0;
    while (s->p < s->end) {
        uint8_t c = *s->p;
        if (c == '"') {
            const uint8_t *v;
            size_t n;
            if (!raw_string(s, &v, &n)) return false;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && depth-- == 0) return true;
        else if (c == ',' && depth == 0) return true;
        s->p++;
    }
    return false;
}

static int hex4(const uint8_t *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f'
                                                              ? (c | 32) - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Whether a key's raw bytes decode to "id" (raw NULs dropped, as the repair
 * drops them: *nul tells whether there were any). */
static bool raw_key_is_id(const uint8_t *k, size_t n, bool *nul) {
    char out[2];
    size_t o = 0;
    *nul = false;
    for (size_t i = 0; i < n; i++) {
        int c = k[i];
        if (c == 0) {
            *nul = true;
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            c = k[++i];
            if (c == 'u') {
                c = i + 4 < n ? hex4(k + i + 1) : -1;
                i += 4;
            }
        }
        if (o == 2 || c < 0 || c > 0x7F) return false;
        out[o++] = (char)c;
    }
    return o == 2 && out[0] == 'i' && out[1] == 'd';
}

/* Why the raw id value v[0..n) would be altered: NEWSIDX_REASON_NUL_BYTE (a
 * raw NUL or a \u0000), NEWSIDX_REASON_BAD_UTF8, or -1 (it is not); *at
 * gets the 1-based byte of the raw value. */
static int raw_id_damage(const uint8_t *v, size_t n, size_t *at) {
    for (size_t i = 0; i < n;) {
        *at = i + 1;
        if (v[i] == 0) return NEWSIDX_REASON_NUL_BYTE;
        if (v[i] == '\\') {
            if (i + 1 < n && v[i + 1] == 0) return NEWSIDX_REASON_NUL_BYTE;
            if (i + 5 < n && v[i + 1] == 'u' && hex4(v + i + 2) == 0) return NEWSIDX_REASON_NUL_BYTE;
            i += 2;
            continue;
        }
        if (v[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = nx_utf8_char_len(v + i, n - i);
        if (k == 0) return NEWSIDX_REASON_BAD_UTF8;
        i += k;
    }
    return -1;
}

/* The verdict of raw_id_damage on the line's top-level "id" (the last one,
 * as in the parsers), or -1 when it has none or it is not a string. */
static int raw_id_check(const char *line, size_t len, size_t *at) {
    raw_scan s = {(const uint8_t *)line, (const uint8_t *)line + len};
    int verdict = -1;
    raw_skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return -1;
    s.p++;
    for (;;) {
        raw_skip_ws(&s);
        const uint8_t *k, *v;
        size_t kn, vn;
        bool key_nul;
        if (s.p >= s.end || *s.p != '"' || !raw_string(&s, &k, &kn)) return verdict;
        bool is_id = raw_key_is_id(k, kn, &key_nul);
        raw_skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') return verdict;
        s.p++;
        raw_skip_ws(&s);
        if (s.p < s.end && *s.p == '"') {
            if (!raw_string(&s, &v, &vn)) return verdict;
            if (is_id && key_nul) {
                *at = 1;
                verdict = NEWSIDX_REASON_NUL_BYTE; /* "i\0d" became "id" */
            } else if (is_id) {
                verdict = raw_id_damage(v, vn, at);
            }
        } else {
            if (!raw_skip_value(&s)) return verdict;
            if (is_id) verdict = -1;
        }
        raw_skip_ws(&s);
        if (s.p >= s.end || *s.p != ',') return verdict;
        s.p++;
    }
}

/* Skips the record of a line whose id the repair would alter; true if so. */
static bool skip_altered_id(jsonl_reader *r, const char *line, size_t len, uint64_t lineno) {
    size_t at = 0;
    int why = raw_id_check(line, len, &at);
    if (why < 0) return false;
    nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_SKIPPED, why,
                     "the id holds %s at byte %zu of its value: an id is never altered, the "
                     "record is skipped",
                     why == NEWSIDX_REASON_NUL_BYTE ? "a NUL byte" : "invalid UTF-8", at);
    r->stats->skipped++;
    return true;
}

/* One huge record must not pin its memory for the rest of the file. */
static void release_big_buffers(jsonl_reader *r) {
    if (r->repaired.cap > LINE_BUF_KEEP_BYTES) nx_buf_free(&r->repaired);
    if (r->scratch.cap > LINE_BUF_KEEP_BYTES) nx_buf_free(&r->scratch);
    if (r->members.cap > LINE_BUF_KEEP_BYTES) nx_buf_free(&r->members);
}

/* How far a line has come: the bytes parsed (the line, or its repaired
 * copy in r->repaired), and what the repair found. */
typedef struct line_state {
    const char *cur;
    size_t cur_len;
    size_t bad_at; /* the first invalid UTF-8 byte, when had_bad */
    bool had_bad, had_nul, repaired;
} line_state;

/* Copies the line into r->repaired with NUL bytes removed and invalid
 * UTF-8 replaced by U+FFFD, and parses that from now on. */
static int repair_line(jsonl_reader *r, const char *line, size_t len, line_state *ls) {
    ls->bad_at = nx_utf8_valid_prefix(line, len);
    r->repaired.len = 0;
    NX_FORWARD(nx_utf8_repair(&r->repaired, line, len, &ls->had_bad, &ls->had_nul));
    ls->repaired = true;
    ls->cur = (const char *)r->repaired.data;
    ls->cur_len = r->repaired.len;
    return 0;
}

/* Scans the line into r->members (nx_json_scan_object), repairing it
 * first when a string holds invalid UTF-8. NX_SCAN_* or NOMEM. */
static int scan_line(jsonl_reader *r, const char *line, size_t len, line_state *ls,
                     bool any_number) {
    r->scratch.len = 0;
    int scan = nx_json_scan_object(ls->cur, ls->cur_len, &r->scratch, &r->members, &ls->had_nul,
                                   any_number);
    if (scan != NX_SCAN_BAD_UTF8 || ls->repaired) return scan;
    NX_FORWARD(repair_line(r, line, len, ls));
    r->scratch.len = 0;
    return nx_json_scan_object(ls->cur, ls->cur_len, &r->scratch, &r->members, &ls->had_nul,
                               any_number);
}

/* Emits what the scanner made of the line (r->members), after the checks
 * that a repair asks for. */
static int emit_scanned(jsonl_reader *r, const char *line, size_t len, uint64_t lineno,
                        const line_state *ls) {
    unsigned warn = 0;
    if ((ls->had_bad || ls->had_nul) && skip_altered_id(r, line, len, lineno)) {
        release_big_buffers(r);
        return 0;
    }
    if (ls->had_bad) {
        warn |= NEWSIDX_WARN_BAD_UTF8;
        nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_BAD_UTF8, "invalid UTF-8 at byte %zu replaced by U+FFFD",
                         ls->bad_at + 1);
    }
    if (ls->had_nul) warn |= NX_WARN_NUL_BYTE;
    int rc = emit_members(r, lineno, warn);
    release_big_buffers(r);
    return rc;
}

/* Parses one complete line (without its '\n'). */
static int handle_line(jsonl_reader *r, const char *line, size_t len,
                       uint64_t lineno) {
    if (lineno == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (!has_text(line, len)) return 0;
    unsigned warn = 0;
    line_state ls = {.cur = line, .cur_len = len};
    /* Raw NUL bytes are never valid JSON: remove them before parsing (the
     * same pass replaces invalid UTF-8). */
    if (memchr(line, 0, len)) NX_FORWARD(repair_line(r, line, len, &ls));
    /* The scanner first (jsonscan.c: the fast path); jansson only for what
     * it hands back, which also gives the error messages. */
    int scan = scan_line(r, line, len, &ls, false);
    NX_FORWARD(scan);
    if (scan == NX_SCAN_OK) return emit_scanned(r, line, len, lineno, &ls);
    json_error_t err;
    json_t *root = json_loadb(ls.cur, ls.cur_len, PARSE_FLAGS, &err);
    if (!root && !ls.repaired && json_error_code(&err) == json_error_invalid_utf8) {
        /* jansson refuses invalid UTF-8 in strings; rather than losing the
         * article, replace each bad byte by U+FFFD and parse again */
        NX_FORWARD(repair_line(r, line, len, &ls));
        root = json_loadb(ls.cur, ls.cur_len, PARSE_FLAGS, &err);
    }
    if (!root && json_error_code(&err) == json_error_numeric_overflow) {
        /* Valid JSON with a number past jansson's range (an integer of
         * more than 64 bits, 1e400): not a reason to lose the article. The
         * scanner takes every number as its text, which is what a field
         * that is not a string holds anyway. */
        scan = scan_line(r, line, len, &ls, true);
        NX_FORWARD(scan);
        if (scan == NX_SCAN_OK) return emit_scanned(r, line, len, lineno, &ls);
    }
    if (ls.had_bad) warn |= NEWSIDX_WARN_BAD_UTF8;
    if (ls.had_nul) warn |= NX_WARN_NUL_BYTE;
    if (!root) {
        if (json_error_code(&err) == json_error_out_of_memory) return NEWSIDX_ERR_NOMEM;
        nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_SKIPPED,
                         NEWSIDX_REASON_BAD_JSON, "invalid JSON at column %d: %s",
                         err.column, err.text);
        r->stats->skipped++;
        return 0;
    }
    if (!json_is_object(root)) {
        nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_SKIPPED,
                         NEWSIDX_REASON_NOT_OBJECT, "expected a JSON object, found %s",
                         json_type_name(root));
        r->stats->skipped++;
        json_decref(root);
        return 0;
    }
    /* jansson keeps \u0000 inside strings (stripped later, per member):
     * every line that comes this way is checked, not only repaired ones */
    if (skip_altered_id(r, line, len, lineno)) {
        json_decref(root);
        release_big_buffers(r);
        return 0;
    }
    if (ls.had_bad)
        nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_BAD_UTF8, "invalid UTF-8 at byte %zu replaced by U+FFFD",
                         ls.bad_at + 1);
    int rc = emit_object(r, root, lineno, warn);
    json_decref(root);
    release_big_buffers(r);
    return rc;
}

static void report_too_long(jsonl_reader *r, uint64_t lineno, uint64_t bytes) {
    nx_ingest_report(r->opts, r->stats, r->name, lineno, NEWSIDX_REPORT_SKIPPED,
                     NEWSIDX_REASON_TOO_LONG,
                     "line of %llu bytes is longer than the limit of %zu bytes",
                     (unsigned long long)bytes, r->max_line);
    r->stats->skipped++;
}

/* nx_read_fn over a file descriptor. */
static ssize_t fd_read(void *src, void *buf, size_t cap, char *err, size_t err_cap) {
    for (;;) {
        ssize_t n = read(*(const int *)src, buf, cap);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        snprintf(err, err_cap, "read failed: %s", strerror(errno));
        return -1;
    }
}

static int jsonl_run(nx_read_fn read_fn, void *src, const uint64_t *raw_counter,
                     const char *name, const newsidx_ingest_options *opts,
                     newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx,
                     uint64_t *input_bytes);

int nx_ingest_jsonl_fd(int fd, const char *name, const newsidx_ingest_options *opts,
                       newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx,
                       uint64_t *input_bytes) {
    return jsonl_run(fd_read, &fd, NULL, name, opts, stats, fn, ctx, input_bytes);
}

int nx_ingest_jsonl_source(nx_read_fn read_fn, void *src, const uint64_t *raw_bytes,
                           const char *name, const nx_sink *sk) {
    return jsonl_run(read_fn, src, raw_bytes, name, sk->opts, sk->stats, sk->fn, sk->ctx,
                     sk->input_bytes);
}

/* raw_counter: the compressed bytes behind the source when it decodes
 * (libarchive), counted instead of the bytes the source gives. */
static int jsonl_run(nx_read_fn read_fn, void *src, const uint64_t *raw_counter,
                     const char *name, const newsidx_ingest_options *opts,
                     newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx,
                     uint64_t *input_bytes) {
    newsidx_ingest_options defaults;
    if (!opts) {
        newsidx_ingest_options_init(&defaults);
        opts = &defaults;
    }
    const size_t max_line = opts->max_line_bytes ? opts->max_line_bytes
                                                 : NX_DEFAULT_MAX_LINE_BYTES;
    jsonl_reader r = {.opts = opts, .stats = stats, .fn = fn, .ctx = ctx, .name = name,
                      .max_line = max_line};
    nx_stream s;
    const uint64_t start = raw_counter ? *raw_counter : 0;
    uint8_t *decoded = malloc(DECODED_BUF_BYTES);
    int rc = decoded ? stream_open(&s, read_fn, src) : NEWSIDX_ERR_NOMEM;
    if (rc == NEWSIDX_ERR_IO) {
        nx_ingest_report(opts, stats, name, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "%s", s.error);
        rc = 0;
        s.raw_eof = true;
        s.raw_pos = s.raw_len = 0;
        s.kind = STREAM_PLAIN;
    }
    /* raw bytes already added to stats (a decoding source has counted what
     * came before this member) */
    uint64_t counted = start;
    const uint64_t base = *input_bytes; /* bytes of earlier files of this input */
    /* progress at each MiB boundary of the whole input, so a directory of
     * small files still reports about every MiB */
    uint64_t next_progress = (base / PROGRESS_EVERY_BYTES + 1) * PROGRESS_EVERY_BYTES;
    uint64_t lineno = 0;
    bool skipping = false;     /* inside a line longer than max_line */
    uint64_t skipped_bytes = 0;
    while (rc == 0) {
        size_t n;
        rc = stream_read(&s, decoded, DECODED_BUF_BYTES, &n);
        uint64_t raw = raw_counter ? *raw_counter : s.raw_bytes;
        if (raw > counted) stats->bytes_read += raw - counted;
        counted = raw;
        *input_bytes = base + (raw - start);
        if (opts->progress && *input_bytes >= next_progress) {
            opts->progress(opts->ctx, stats->indexed, *input_bytes);
            next_progress = (*input_bytes / PROGRESS_EVERY_BYTES + 1) * PROGRESS_EVERY_BYTES;
        }
        if (rc == NEWSIDX_ERR_IO) {
            nx_ingest_report(opts, stats, name, lineno + 1, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE, "%s; the rest of the %s input is lost",
                             s.error, kind_name(s.kind));
            rc = 0;
            n = 0; /* what is buffered of the current line is dropped */
            r.line.len = 0;
            skipping = false;
            break;
        }
        if (rc < 0 || n == 0) break;
        const char *p = (const char *)decoded, *end = p + n;
        while (p < end && rc == 0) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t seg = (size_t)((nl ? nl : end) - p);
            if (skipping) {
                skipped_bytes += seg;
            } else if (r.line.len + seg > max_line) {
                skipping = true;
                skipped_bytes = r.line.len + seg;
                r.line.len = 0;
            } else if (!nl || r.line.len) {
                rc = nx_buf_append(&r.line, p, seg);
            }
            if (!nl) break;
            lineno++;
            if (rc == 0) {
                if (skipping) {
                    report_too_long(&r, lineno, skipped_bytes);
                    skipping = false;
                } else if (r.line.len) {
                    rc = handle_line(&r, (const char *)r.line.data, r.line.len, lineno);
                    r.line.len = 0;
                    if (r.line.cap > LINE_BUF_KEEP_BYTES) nx_buf_free(&r.line);
                } else {
                    rc = handle_line(&r, p, seg, lineno); /* whole line in the chunk */
                }
            }
            p = nl + 1;
        }
    }
    /* a last line without '\n' */
    if (rc == 0 && (skipping || r.line.len)) {
        lineno++;
        if (skipping) report_too_long(&r, lineno, skipped_bytes);
        else rc = handle_line(&r, (const char *)r.line.data, r.line.len, lineno);
    }
    if (decoded) stream_close(&s);
    free(decoded);
    nx_buf_free(&r.line);
    nx_buf_free(&r.repaired);
    nx_buf_free(&r.scratch);
    nx_buf_free(&r.pending);
    nx_buf_free(&r.fields);
    nx_buf_free(&r.members);
    return rc;
}
