/* document.c — one whole document in memory (a file, an archive member, a
 * WARC payload) to one article: what it is (nx_sniff_kind), its text in
 * UTF-8 (charset.c), its parts (html.c for HTML, nx_text_article here for
 * text and Markdown), and the record handed to nx_ingest_deliver.
 * docs/INGEST.md, "Text, Markdown and HTML files" and "Charsets". */
#include "ingest/ingest.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

/* ---- what a document is ------------------------------------------------- */

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static bool starts_with(const uint8_t *p, size_t n, const char *magic, size_t k) {
    return n >= k && memcmp(p, magic, k) == 0;
}

static enum nx_doc_kind kind_by_name(const char *name) {
    if (!name) return NX_DOC_UNKNOWN;
    size_t n = strlen(name);
    static const char *const jsonl[] = {".jsonl", ".jsonl.zst", ".jsonl.gz", ".ndjson",
                                        ".ndjson.zst", ".ndjson.gz"};
    for (size_t i = 0; i < sizeof jsonl / sizeof jsonl[0]; i++)
        if (ends_with(name, n, jsonl[i])) return NX_DOC_JSONL;
    if (ends_with(name, n, ".txt")) return NX_DOC_TEXT;
    if (ends_with(name, n, ".md")) return NX_DOC_MARKDOWN;
    if (ends_with(name, n, ".html") || ends_with(name, n, ".htm") ||
        ends_with(name, n, ".xhtml"))
        return NX_DOC_HTML;
    if (ends_with(name, n, ".eml")) return NX_DOC_MAIL;
    if (ends_with(name, n, ".mbox") || ends_with(name, n, ".mbx")) return NX_DOC_MBOX;
    if (ends_with(name, n, ".warc") || ends_with(name, n, ".warc.gz")) return NX_DOC_WARC;
    static const char *const archives[] = {".tar", ".tgz", ".tbz2", ".txz", ".tzst",
                                           ".zip", ".7z", ".cpio", ".xz", ".bz2",
                                           ".gz", ".zst", ".lz4", ".lzma"};
    for (size_t i = 0; i < sizeof archives / sizeof archives[0]; i++)
        if (ends_with(name, n, archives[i])) return NX_DOC_ARCHIVE;
    return NX_DOC_UNKNOWN;
}

/* An RFC 5322 header line: a field name of printable ASCII, then ':'. */
static bool looks_like_header(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n && i < 78 && p[i] > 32 && p[i] < 127 && p[i] != ':') i++;
    return i > 0 && i < n && p[i] == ':';
}

/* Mail that starts with one of the headers every message has. */
static bool looks_like_mail(const uint8_t *p, size_t n) {
    static const char *const first[] = {"Return-Path:", "Received:", "From:", "Message-ID:",
                                        "Delivered-To:", "Date:", "MIME-Version:",
                                        "X-Mailer:", "Subject:", "To:"};
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
        if (n >= strlen(first[i]) && strncasecmp((const char *)p, first[i], strlen(first[i])) == 0)
            return looks_like_header(p, n);
    return false;
}

static bool looks_like_html(const uint8_t *p, size_t n) {
    size_t i = 0;
    if (starts_with(p, n, "\xEF\xBB\xBF", 3)) i = 3;
    while (i < n && isspace(p[i])) i++;
    static const char *const tags[] = {"<!doctype html", "<html", "<head", "<body", "<meta",
                                       "<!--", "<title"};
    for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++)
        if (n - i >= strlen(tags[k]) && strncasecmp((const char *)p + i, tags[k], strlen(tags[k])) == 0)
            return true;
    return false;
}

static bool has_extension(const char *name) {
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    return dot && dot > base && dot[1];
}

size_t nx_peek_decoded(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    if (in[0] == 0x1F) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 16) != Z_OK) return 0;
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)n;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        inflate(&z, Z_SYNC_FLUSH);
        size_t got = cap - z.avail_out;
        inflateEnd(&z);
        return got;
    }
    ZSTD_DStream *zs = ZSTD_createDStream();
    if (!zs) return 0;
    ZSTD_inBuffer ib = {in, n, 0};
    ZSTD_outBuffer ob = {out, cap, 0};
    size_t r = ZSTD_decompressStream(zs, &ob, &ib);
    ZSTD_freeDStream(zs);
    return ZSTD_isError(r) ? 0 : ob.pos;
}

enum nx_doc_kind nx_sniff_kind(const uint8_t *head, size_t n, const char *name) {
    /* containers and compression: their magic bytes are unmistakable */
    if (starts_with(head, n, "PK\x03\x04", 4) || starts_with(head, n, "PK\x05\x06", 4) ||
        starts_with(head, n, "7z\xBC\xAF\x27\x1C", 6) || starts_with(head, n, "\xFD" "7zXZ", 5) ||
        starts_with(head, n, "BZh", 3) || starts_with(head, n, "070707", 6) ||
        starts_with(head, n, "070701", 6) || starts_with(head, n, "070702", 6) ||
        starts_with(head, n, "\xC7\x71", 2) || starts_with(head, n, "\x71\xC7", 2) ||
        starts_with(head, n, "\x04\x22\x4D\x18", 4) || starts_with(head, n, "\x5D\x00\x00", 3) ||
        (n >= 262 && memcmp(head + 257, "ustar", 5) == 0) || starts_with(head, n, "Rar!", 4))
        return NX_DOC_ARCHIVE;
    enum nx_doc_kind by_name = kind_by_name(name);
    /* gzip and zstd: JSON Lines are decoded by jsonl.c itself (faster, and
     * its messages say where the damage is); a tar, a WARC or a document
     * inside goes through libarchive. The first decoded bytes tell. */
    if (starts_with(head, n, "\x1F\x8B", 2) || starts_with(head, n, "\x28\xB5\x2F\xFD", 4)) {
        uint8_t inner[600];
        size_t k = nx_peek_decoded(head, n, inner, sizeof inner);
        size_t i = 0;
        while (i < k && isspace(inner[i])) i++;
        if (k >= 262 && memcmp(inner + 257, "ustar", 5) == 0) return NX_DOC_ARCHIVE;
        if (starts_with(inner, k, "WARC/", 5)) return NX_DOC_ARCHIVE;
        if (by_name == NX_DOC_JSONL || (i < k && inner[i] == '{')) return NX_DOC_JSONL;
        if (k > 0) return NX_DOC_ARCHIVE;
        /* nothing decoded yet (zstd writes a whole block, up to 128 KiB,
         * before the first byte comes out; or the data is damaged): the
         * name without its compression suffix decides, and JSON Lines, the
         * format .zst and .gz held before archives were read, when it has
         * nothing to say */
        char bare[256];
        snprintf(bare, sizeof bare, "%s", name ? name : "");
        char *dot = strrchr(bare, '.');
        if (dot && (strcasecmp(dot, ".gz") == 0 || strcasecmp(dot, ".zst") == 0)) *dot = '\0';
        if (name && (ends_with(name, strlen(name), ".tgz") || ends_with(name, strlen(name), ".tzst") ||
                     ends_with(bare, strlen(bare), ".tar")))
            return NX_DOC_ARCHIVE;
        enum nx_doc_kind inner_kind = kind_by_name(bare);
        return inner_kind == NX_DOC_UNKNOWN || inner_kind == NX_DOC_ARCHIVE ? NX_DOC_JSONL
                                                                           : NX_DOC_ARCHIVE;
    }
    if (starts_with(head, n, "WARC/", 5)) return NX_DOC_WARC;
    if (starts_with(head, n, "From ", 5) && by_name != NX_DOC_TEXT &&
        by_name != NX_DOC_MARKDOWN)
        return NX_DOC_MBOX;
    if (by_name != NX_DOC_UNKNOWN && by_name != NX_DOC_ARCHIVE) return by_name;
    /* text has no magic bytes: its content is looked at only when the name
     * has no extension to go by (a member called "data", a WARC payload),
     * so that notes.json or styles.css are not taken for articles */
    if (name && has_extension(name)) return by_name;
    size_t i = 0;
    while (i < n && isspace(head[i])) i++;
    if (i < n && head[i] == '{') return NX_DOC_JSONL;
    if (looks_like_html(head, n)) return NX_DOC_HTML;
    if (looks_like_mail(head, n)) return NX_DOC_MAIL;
    return by_name == NX_DOC_ARCHIVE ? NX_DOC_ARCHIVE : NX_DOC_UNKNOWN;
}

/* ---- a whole document from a byte source -------------------------------- */

/* Bytes asked of a source at once: a large file comes in few read(2) calls;
 * an archive gives what its current block holds, whatever is asked. */
#define READ_CHUNK_BYTES ((size_t)1 << 20)

int nx_read_document(const nx_sink *s, const char *name, const char *noun,
                     const char *fail_prefix, nx_read_fn read, void *src, nx_buf *out,
                     unsigned *warn) {
    size_t max_bytes = s->max_bytes;
    *warn = 0;
    /* one byte past the limit is asked for: it tells a cut from a fit */
    while (out->len <= max_bytes) {
        size_t want = NX_MIN(READ_CHUNK_BYTES, max_bytes + 1 - out->len);
        NX_FORWARD(nx_buf_reserve(out, want + 1));
        char err[256];
        ssize_t n = read(src, out->data + out->len, want, err, sizeof err);
        if (n < 0) {
            nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE, "%s%s", fail_prefix, err);
            return 1;
        }
        if (n == 0) break;
        out->len += (size_t)n;
    }
    if (out->len > max_bytes) {
        *warn |= NX_WARN_TOO_LONG;
        out->len = nx_utf8_cut((const char *)out->data, out->len, max_bytes);
        nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_TOO_LONG,
                         "%s longer than the limit of %zu bytes: the rest is ignored", noun,
                         max_bytes);
    }
    NX_FORWARD(nx_buf_reserve(out, 1));
    out->data[out->len] = '\0';
    return 0;
}

/* ---- plain text: title, byline, date ------------------------------------ */

static bool is_space_char(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

typedef struct span { size_t off, len; } span;

static span trim(const char *s, size_t off, size_t end) {
    while (off < end && is_space_char(s[off])) off++;
    while (end > off && is_space_char(s[end - 1])) end--;
    return (span){off, end - off};
}

/* "4 min read", "12 minute read", "5 mins read": the length of that prefix,
 * or 0. */
static size_t reading_time(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == 0 || i > 3) return 0;
    while (i < n && s[i] == ' ') i++;
    static const char *const units[] = {"minutes read", "minute read", "mins read", "min read"};
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        size_t m = strlen(units[k]);
        if (n - i >= m && strncasecmp(s + i, units[k], m) == 0) return i + m;
    }
    return 0;
}

static bool is_date(const char *s, size_t n) {
    int64_t t;
    return n > 0 && n < 64 && newsidx_parse_date(s, n, &t) == 0;
}

/* The date inside a metadata line, if the line is one: "Jun 23, 2024",
 * "4 min readJun 23, 2024", "Published: 23 June 2024", "Updated Jun 23, 2024". */
static bool line_date(const char *s, span line, span *date) {
    const char *p = s + line.off;
    size_t n = line.len;
    size_t rt = reading_time(p, n);
    if (rt) {
        span d = trim(s, line.off + rt, line.off + n);
        while (d.len && (s[d.off] == '|' || s[d.off] == '-' || s[d.off] == '\xC2' ||
                         s[d.off] == '\xB7' || s[d.off] == ',' || s[d.off] == ' ')) {
            d.off++;
            d.len--;
        }
        *date = is_date(s + d.off, d.len) ? d : (span){0, 0};
        return true; /* a reading time is metadata, with or without a date */
    }
    static const char *const prefixes[] = {"published:", "published on", "published",
                                           "updated:", "updated on", "updated",
                                           "posted:", "posted on", "posted", "date:"};
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        size_t m = strlen(prefixes[k]);
        if (n > m && strncasecmp(p, prefixes[k], m) == 0) {
            span d = trim(s, line.off + m, line.off + n);
            if (is_date(s + d.off, d.len)) {
                *date = d;
                return true;
            }
        }
    }
    if (is_date(p, n)) {
        *date = line;
        return true;
    }
    return false;
}

/* "By Jane Doe", "By Jane Doe and John Roe": a short line after "By ". */
static bool line_byline(const char *s, span line, span *author) {
    if (line.len < 4 || line.len > 100 || strncasecmp(s + line.off, "by ", 3) != 0) return false;
    span a = trim(s, line.off + 3, line.off + line.len);
    int words = 0;
    for (size_t i = 0; i < a.len; i++)
        if (s[a.off + i] == ' ') words++;
    if (words > 7 || a.len == 0) return false;
    *author = a;
    return true;
}

/* Only the first lines can be a headline's neighbours: past these the text
 * is the article. */
#define HEAD_LINES 6

void nx_text_article(const char *s, size_t n, bool markdown, nx_text_parts *parts) {
    memset(parts, 0, sizeof *parts);
    span first = {0, 0}, title = {0, 0};
    size_t pos = 0, after_title = n, first_end = n;
    bool have_title = false;
    int seen = 0;
    while (pos < n && seen < HEAD_LINES) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - s) : n;
        span line = trim(s, pos, end);
        size_t next = nl ? end + 1 : n;
        pos = next;
        if (!line.len) continue;
        seen++;
        if (!first.len) {
            first = line;
            first_end = next;
        }
        span d, a;
        if (line_date(s, line, &d)) {
            if (d.len && !parts->date_len) parts->date_off = d.off, parts->date_len = d.len;
            if (have_title) after_title = next;
            continue;
        }
        if (line_byline(s, line, &a)) {
            if (!parts->author_len) parts->author_off = a.off, parts->author_len = a.len;
            if (have_title) after_title = next;
            continue;
        }
        if (have_title) break; /* the article starts here */
        title = line;
        have_title = true;
        after_title = next;
    }
    if (!have_title) { /* nothing reads as a headline: the first line */
        title = first;
        after_title = first_end;
    }
    size_t t0 = title.off, t1 = title.off + title.len;
    if (markdown) { /* an ATX heading: "# Title #" */
        while (t0 < t1 && s[t0] == '#') t0++;
        while (t1 > t0 && (s[t1 - 1] == '#' || is_space_char(s[t1 - 1]))) t1--;
    }
    span t = trim(s, t0, t1);
    parts->title_off = t.off;
    parts->title_len = t.len;
    span b = trim(s, NX_MIN(after_title, n), n);
    parts->body_off = b.off;
    parts->body_len = b.len;
}

/* ---- the record --------------------------------------------------------- */

static void field_set(newsidx_field *f, int which, const char *v, size_t len) {
    f->name = nx_field_name(which);
    f->value = v;
    f->value_len = len;
}

/* Values from outside the text (file and member names, WARC and mail
 * headers) are bytes as found: made valid UTF-8 without NUL bytes like the
 * text itself. *bad is set when something was replaced. */
static int sanitize(nx_buf *tmp, const char **v, size_t *len, bool *bad) {
    if (!*v) return 0;
    if (nx_utf8_valid_prefix(*v, *len) == *len && !memchr(*v, 0, *len)) return 0;
    bool b = false, nul = false;
    tmp->len = 0;
    NX_FORWARD(nx_utf8_repair(tmp, *v, *len, &b, &nul));
    NX_FORWARD(nx_buf_reserve(tmp, 1));
    tmp->data[tmp->len] = '\0';
    *v = (const char *)tmp->data;
    *len = tmp->len;
    *bad = true;
    return 0;
}

int nx_ingest_document(const nx_sink *s, enum nx_doc_kind kind, const char *name,
                       const char *id, const char *data, size_t len,
                       const nx_doc_hints *hints, unsigned warn) {
    nx_doc_hints none = {0};
    if (!hints) hints = &none;
    nx_buf utf8 = {0}, clean = {0};
    nx_html_article html = {0};
    nx_charset_result cs;
    bool is_html = kind == NX_DOC_HTML;
    int rc = nx_charset_to_utf8(data, len, hints->charset, is_html, &utf8, &cs);
    const char *text = (const char *)utf8.data;
    size_t text_len = utf8.len;
    if (rc == 0 && cs.had_bad) {
        warn |= NEWSIDX_WARN_BAD_UTF8;
        nx_ingest_report(s->opts, s->stats, name, hints->line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_BAD_UTF8,
                         "bytes not valid in %s replaced by U+FFFD", cs.charset);
    }
    if (rc == 0 && (nx_utf8_valid_prefix(text, text_len) < text_len || memchr(text, 0, text_len))) {
        size_t valid = nx_utf8_valid_prefix(text, text_len);
        bool bad = false, nul = false;
        rc = nx_utf8_repair(&clean, text, text_len, &bad, &nul);
        if (rc == 0) rc = nx_buf_reserve(&clean, 1);
        if (rc == 0) {
            clean.data[clean.len] = '\0';
            text = (const char *)clean.data;
            text_len = clean.len;
        }
        if (rc == 0 && bad && !(warn & NEWSIDX_WARN_BAD_UTF8)) {
            warn |= NEWSIDX_WARN_BAD_UTF8;
            nx_ingest_report(s->opts, s->stats, name, hints->line, NEWSIDX_REPORT_WARNING,
                             NEWSIDX_REASON_BAD_UTF8,
                             "invalid UTF-8 at byte %zu replaced by U+FFFD", valid + 1);
        }
        if (rc == 0 && nul) {
            warn |= NX_WARN_NUL_BYTE;
            nx_ingest_report(s->opts, s->stats, name, hints->line, NEWSIDX_REPORT_WARNING,
                             NEWSIDX_REASON_NUL_BYTE, "NUL bytes removed");
        }
    }
    newsidx_field fields[8];
    size_t nf = 0;
    if (rc == 0 && id && id[0]) field_set(&fields[nf++], NX_F_ID, id, strlen(id));
    if (rc == 0 && is_html) {
        rc = nx_html_article_extract(text, text_len, &html);
        if (rc == 0 && html.flattened_at != SIZE_MAX) {
            warn |= NX_WARN_TOO_LONG;
            nx_ingest_report(s->opts, s->stats, name, hints->line, NEWSIDX_REPORT_WARNING,
                             NEWSIDX_REASON_TOO_LONG,
                             "HTML nested more than 4096 elements deep from byte %zu: the deeper "
                             "tags left out, their text kept",
                             html.flattened_at + 1);
        }
        if (rc == 0 && hints->title) {
            field_set(&fields[nf++], NX_F_TITLE, hints->title, strlen(hints->title));
        } else if (rc == 0) {
            field_set(&fields[nf++], NX_F_TITLE, (const char *)html.title.data, html.title.len);
        }
        if (rc == 0) {
            field_set(&fields[nf++], NX_F_BODY, (const char *)html.text.data, html.text.len);
            if (html.author.len)
                field_set(&fields[nf++], NX_F_AUTHOR, (const char *)html.author.data,
                          html.author.len);
            if (html.date.len)
                field_set(&fields[nf++], NX_F_DATE, (const char *)html.date.data, html.date.len);
        }
    } else if (rc == 0 && hints->title) {
        size_t b0 = 0, b1 = text_len;
        while (b0 < b1 && is_space_char(text[b0])) b0++;
        while (b1 > b0 && is_space_char(text[b1 - 1])) b1--;
        field_set(&fields[nf++], NX_F_TITLE, hints->title, strlen(hints->title));
        field_set(&fields[nf++], NX_F_BODY, text + b0, b1 - b0);
    } else if (rc == 0) {
        nx_text_parts p;
        nx_text_article(text, text_len, kind == NX_DOC_MARKDOWN, &p);
        field_set(&fields[nf++], NX_F_TITLE, text + p.title_off, p.title_len);
        field_set(&fields[nf++], NX_F_BODY, text + p.body_off, p.body_len);
        if (p.author_len) field_set(&fields[nf++], NX_F_AUTHOR, text + p.author_off, p.author_len);
        if (p.date_len) field_set(&fields[nf++], NX_F_DATE, text + p.date_off, p.date_len);
    }
    /* the outside values, made safe; tmp[] keeps the repaired copies alive
     * until the record is delivered */
    nx_buf tmp[7] = {{0}};
    bool outside_bad = false;
    for (size_t i = 0; i < nf && rc == 0; i++)
        if (fields[i].value == id || fields[i].value == hints->title)
            rc = sanitize(&tmp[i < 2 ? i : 1], &fields[i].value, &fields[i].value_len,
                          &outside_bad);
    struct { const char *v; size_t len; } hv[4] = {
        {hints->date, hints->date ? strlen(hints->date) : 0},
        {hints->author, hints->author ? strlen(hints->author) : 0},
        {hints->url, hints->url ? strlen(hints->url) : 0},
        {hints->source, hints->source ? strlen(hints->source) : 0},
    };
    for (int i = 0; i < 4 && rc == 0; i++) rc = sanitize(&tmp[2 + i], &hv[i].v, &hv[i].len, &outside_bad);
    if (rc == 0 && outside_bad && !(warn & NEWSIDX_WARN_BAD_UTF8)) {
        warn |= NEWSIDX_WARN_BAD_UTF8;
        nx_ingest_report(s->opts, s->stats, name, hints->line, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_BAD_UTF8,
                         "invalid UTF-8 in a name or header replaced by U+FFFD");
    }
    if (rc == 0) {
        bool has_date = false, has_author = false;
        for (size_t i = 0; i < nf; i++) {
            has_date |= nx_field_is(fields[i].name, NX_F_DATE);
            has_author |= nx_field_is(fields[i].name, NX_F_AUTHOR);
        }
        if (!has_date && hv[0].v) field_set(&fields[nf++], NX_F_DATE, hv[0].v, hv[0].len);
        if (!has_author && hv[1].v) field_set(&fields[nf++], NX_F_AUTHOR, hv[1].v, hv[1].len);
        if (hv[2].v) field_set(&fields[nf++], NX_F_URL, hv[2].v, hv[2].len);
        if (hv[3].v) field_set(&fields[nf++], NX_F_SOURCE, hv[3].v, hv[3].len);
        nx_record rec = {fields, nf, name, hints->line, warn};
        rc = nx_ingest_deliver(s->opts, s->stats, s->fn, s->ctx, &rec);
    }
    for (int i = 0; i < 7; i++) nx_buf_free(&tmp[i]);
    nx_html_article_free(&html);
    nx_buf_free(&utf8);
    nx_buf_free(&clean);
    return rc;
}
