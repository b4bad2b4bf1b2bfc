/* warc.c — web archives (ISO 28500, WARC/1.0 and 1.1: what the Internet
 * Archive's and Common Crawl's crawlers write). A WARC file is a sequence
 * of records, each a version line, header lines, an empty line, a block of
 * Content-Length bytes and two CRLFs. A `response` record's block is the
 * HTTP response as received: status line, headers, body (possibly chunked,
 * possibly gzip-encoded). A .warc.gz file (one gzip member per record) is
 * inflated member by member in warcgz.c, which can go on after a damaged
 * member; one inside an archive or on a pipe by libarchive (archive.c).
 * This file reads the records from any byte source. docs/INGEST.md, "WARC".
 *
 * Articles: `response` records with status 2xx and an HTML body, and
 * `resource` records of type text/html. The URL is the id and the url
 * field, WARC-Date the date when the page gives none, and the charset of
 * the HTTP Content-Type is honoured. Everything else is skipped and
 * counted, and the counts are told in one note at the end. */
#include "ingest/ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define BUF_BYTES (64u * 1024)
/* A header line longer than this is not a WARC header. */
#define MAX_HEADER_LINE 16384
#define MAX_HEADER_LINES 512

typedef struct rd {
    nx_read_fn read;
    void *src;
    uint8_t *buf;
    size_t pos, len;
    uint64_t got; /* bytes the source gave: buf[pos] is stream offset got - (len - pos) */
    bool eof;
    const nx_warc_resync *rs; /* a source of gzip members, or NULL */
    char err[200];
} rd;

static int rd_fill(rd *r) {
    if (r->pos < r->len || r->eof) return 0;
    ssize_t n = r->read(r->src, r->buf, BUF_BYTES, r->err, sizeof r->err);
    if (n < 0) return -1;
    r->pos = 0;
    r->len = (size_t)n;
    r->got += (uint64_t)n;
    if (n == 0) r->eof = true;
    return 0;
}

/* One line without its CRLF/LF into out (NUL-terminated); 1 at the end of
 * the input, -1 on a read error or an overlong line. */
static int rd_line(rd *r, nx_buf *out) {
    out->len = 0;
    for (;;) {
        if (rd_fill(r)) return -1;
        if (r->pos == r->len) {
            if (out->len == 0) return 1;
            break;
        }
        uint8_t *p = r->buf + r->pos;
        uint8_t *nl = memchr(p, '\n', r->len - r->pos);
        size_t k = nl ? (size_t)(nl - p) : r->len - r->pos;
        if (out->len + k > MAX_HEADER_LINE) {
            snprintf(r->err, sizeof r->err, "header line longer than %d bytes", MAX_HEADER_LINE);
            return -1;
        }
        if (nx_buf_append(out, p, k)) return NEWSIDX_ERR_NOMEM;
        r->pos += k + (nl ? 1 : 0);
        if (nl) break;
    }
    if (out->len && out->data[out->len - 1] == '\r') out->len--;
    if (nx_buf_putc(out, '\0')) return NEWSIDX_ERR_NOMEM;
    out->len--;
    return 0;
}

/* What rd_block returns when a record's block ran into a gzip member that
 * starts with a WARC version line: the block ends there. */
#define BLOCK_CUT 2

/* n bytes: the first `keep` of them appended to out, the rest passed by.
 * Returns 0, BLOCK_CUT (with r->rs: the bytes stopped at a gzip member
 * that starts a record), -1 (read error, or the input ended first:
 * r->err) or NOMEM. */
static int rd_block(rd *r, uint64_t n, size_t keep, nx_buf *out) {
    uint64_t begin = r->got - (r->len - r->pos);
    while (n > 0) {
        if (r->pos == r->len) {
            if (rd_fill(r)) return -1;
            /* a source of members gives at most one member a read: a new
             * one that starts a record starts this buffer */
            if (r->rs && r->len && r->rs->record_starts(r->src) == r->got - r->len &&
                r->got - r->len > begin)
                return BLOCK_CUT;
        }
        if (r->pos == r->len) {
            snprintf(r->err, sizeof r->err, "truncated record");
            return -1;
        }
        size_t k = (size_t)NX_MIN((uint64_t)(r->len - r->pos), n);
        if (out && out->len < keep) {
            size_t take = NX_MIN(k, keep - out->len);
            if (nx_buf_append(out, r->buf + r->pos, take)) return NEWSIDX_ERR_NOMEM;
        }
        r->pos += k;
        n -= k;
    }
    return 0;
}

/* Where the value of header `name` (case-insensitive) starts in the
 * header block p[0..n), its length in *len (trimmed); NULL when absent. */
static const char *header_at(const char *p, size_t n, const char *name, size_t *len) {
    if (n == 0) return NULL; /* p may be NULL then (an empty buffer) */
    size_t k = strlen(name);
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if ((size_t)(le - p) > k && strncasecmp(p, name, k) == 0 && p[k] == ':') {
            const char *v = p + k + 1;
            while (v < le && (*v == ' ' || *v == '\t')) v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r')) ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        p = le + 1;
    }
    return NULL;
}

/* The value of header `name` in lines [p, p+n) of "Name: value" lines
 * separated by '\n' (CRs removed), trimmed; NULL when absent. Written into
 * val (cap bytes). */
static const char *header(const char *p, size_t n, const char *name, char *val, size_t cap) {
    size_t len;
    const char *v = header_at(p, n, name, &len);
    if (!v) return NULL;
    len = NX_MIN(len, cap - 1);
    memcpy(val, v, len);
    val[len] = '\0';
    return val;
}

/* The value of header `name` into out (NUL-terminated, whatever its
 * length); NULL when absent. 0 or NOMEM in *rc. */
static const char *header_buf(const char *p, size_t n, const char *name, nx_buf *out, int *rc) {
    size_t len;
    const char *v = header_at(p, n, name, &len);
    out->len = 0;
    *rc = 0;
    if (!v) return NULL;
    if ((*rc = nx_buf_append(out, v, len)) == 0) *rc = nx_buf_putc(out, '\0');
    return *rc ? NULL : (const char *)out->data;
}

/* "text/html; charset=windows-1252" -> "windows-1252" into cs (empty if none). */
static void charset_param(const char *ctype, char *cs, size_t cap) {
    cs[0] = '\0';
    const char *c = strcasestr(ctype, "charset=");
    if (!c) return;
    c += 8;
    while (*c == '"' || *c == '\'' || *c == ' ') c++;
    size_t i = 0;
    while (c[i] && c[i] != ';' && c[i] != '"' && c[i] != '\'' && c[i] != ' ' && i + 1 < cap) {
        cs[i] = c[i];
        i++;
    }
    cs[i] = '\0';
}

static bool is_html_type(const char *ctype) {
    return strncasecmp(ctype, "text/html", 9) == 0 ||
           strncasecmp(ctype, "application/xhtml+xml", 21) == 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Undoes chunked transfer coding in place; false when malformed. The
 * buffer is not NUL-terminated: sizes are parsed within it, not with
 * strtoull. */
static bool dechunk(nx_buf *b) {
    if (b->len == 0) return true;
    const char *p = (const char *)b->data, *end = p + b->len;
    size_t out = 0;
    while (p < end) {
        uint64_t size = 0;
        const char *e = p;
        while (e < end && hex_digit(*e) >= 0 && size < ((uint64_t)1 << 56))
            size = size * 16 + (uint64_t)hex_digit(*e++);
        if (e == p) return false;
        const char *nl = memchr(e, '\n', (size_t)(end - e)); /* chunk extensions too */
        if (!nl) return false;
        p = nl + 1;
        if (size == 0) break;
        if (size > (uint64_t)(end - p)) size = (uint64_t)(end - p);
        memmove(b->data + out, p, (size_t)size);
        out += (size_t)size;
        p += size;
        if (p < end && *p == '\r') p++;
        if (p < end && *p == '\n') p++;
    }
    b->len = out;
    return true;
}

/* gzip or deflate content coding into out; false when corrupt. */
static int inflate_body(const uint8_t *in, size_t n, size_t max, nx_buf *out, bool *ok) {
    z_stream z;
    memset(&z, 0, sizeof z);
    *ok = false;
    if (inflateInit2(&z, 15 + 32) != Z_OK) return NEWSIDX_ERR_NOMEM; /* 32: gzip or zlib */
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    int zrc = Z_OK;
    while (zrc == Z_OK && out->len < max) {
        if (nx_buf_reserve(out, 64 * 1024)) {
            inflateEnd(&z);
            return NEWSIDX_ERR_NOMEM;
        }
        z.next_out = out->data + out->len;
        z.avail_out = (uInt)NX_MIN((size_t)64 * 1024, max - out->len);
        size_t before = z.avail_out;
        zrc = inflate(&z, Z_NO_FLUSH);
        out->len += before - z.avail_out;
        if (zrc == Z_BUF_ERROR && z.avail_in == 0) break;
    }
    *ok = zrc == Z_STREAM_END || zrc == Z_OK || zrc == Z_BUF_ERROR;
    inflateEnd(&z);
    return 0;
}

enum skip_kind { SK_WARCINFO, SK_REQUEST, SK_METADATA, SK_REVISIT, SK_OTHER_TYPE,
                 SK_NOT_HTML, SK_NOT_2XX, SK_COUNT };
static const char *const skip_names[SK_COUNT] = {
    "warcinfo", "request", "metadata", "revisit", "of other types", "not HTML", "not 2xx"};

typedef struct warc {
    const nx_sink *s;
    const char *name;
    rd r;
    nx_buf line, head, block, body, label, uri;
    uint64_t skipped[SK_COUNT];
    const nx_warc_resync *rs; /* NULL: a plain stream */
    void *src;
    uint64_t rec_start;                  /* stream offset of the record being read */
    uint64_t prev_start;                 /* and of the one before */
    uint64_t rec_member, rec_member_out; /* with rs: its gzip member (nx_warc_failed) */
    char where[64];     /* "record 17", or "the record at byte 5120" with rs */
} warc;

/* One record's block (in w->block, possibly cut at max_bytes) to an
 * article, or a reason to skip it. */
static int record(warc *w, const char *type, const char *uri, const char *date,
                  const char *wctype, bool cut) {
    /* an empty block has no buffer yet: "" keeps memchr off NULL */
    const char *p = w->block.data ? (const char *)w->block.data : "";
    size_t n = w->block.len;
    char ctype[256] = "", cs[64] = "", te[64] = "", ce[64] = "";
    const uint8_t *body;
    size_t body_len;
    bool is_response = strcasecmp(type, "response") == 0;
    if (is_response && wctype && strcasestr(wctype, "application/http")) {
        /* status line, headers, empty line */
        const char *nl = memchr(p, '\n', n);
        if (!nl || strncmp(p, "HTTP/", 5) != 0) {
            w->skipped[SK_NOT_2XX]++;
            return 0;
        }
        const char *sp = memchr(p, ' ', (size_t)(nl - p));
        int status = sp ? atoi(sp + 1) : 0;
        if (status < 200 || status > 299) {
            w->skipped[SK_NOT_2XX]++;
            return 0;
        }
        const char *h = nl + 1, *end = p + n, *hb = h;
        const char *body_start = NULL;
        while (h < end) {
            const char *e = memchr(h, '\n', (size_t)(end - h));
            if (!e) break;
            size_t ll = (size_t)(e - h);
            if (ll == 0 || (ll == 1 && h[0] == '\r')) {
                body_start = e + 1;
                break;
            }
            h = e + 1;
        }
        if (!body_start) body_start = end;
        size_t hlen = (size_t)(body_start - hb);
        header(hb, hlen, "Content-Type", ctype, sizeof ctype);
        header(hb, hlen, "Transfer-Encoding", te, sizeof te);
        header(hb, hlen, "Content-Encoding", ce, sizeof ce);
        body = (const uint8_t *)body_start;
        body_len = (size_t)(end - body_start);
    } else if (strcasecmp(type, "resource") == 0 || is_response) {
        snprintf(ctype, sizeof ctype, "%s", wctype ? wctype : "");
        body = (const uint8_t *)p;
        body_len = n;
    } else {
        w->skipped[SK_OTHER_TYPE]++;
        return 0;
    }
    if (ctype[0] && !is_html_type(ctype)) {
        w->skipped[SK_NOT_HTML]++;
        return 0;
    }
    if (!ctype[0]) { /* no type said: look */
        enum nx_doc_kind k = nx_sniff_kind(body, NX_MIN(body_len, (size_t)4096), NULL);
        if (k != NX_DOC_HTML) {
            w->skipped[SK_NOT_HTML]++;
            return 0;
        }
    }
    charset_param(ctype, cs, sizeof cs);
    nx_buf tmp = {0};
    NX_FORWARD(nx_buf_append(&w->label, "", 0));
    w->label.len = 0;
    NX_FORWARD(nx_buf_append(&w->label, w->name, strlen(w->name)));
    NX_FORWARD(nx_buf_putc(&w->label, ':'));
    NX_FORWARD(nx_buf_append(&w->label, uri ? uri : "", uri ? strlen(uri) : 0));
    NX_FORWARD(nx_buf_putc(&w->label, '\0'));
    const char *label = (const char *)w->label.data;
    if (strcasestr(te, "chunked")) {
        w->body.len = 0;
        NX_FORWARD(nx_buf_append(&w->body, body, body_len));
        if (dechunk(&w->body)) {
            body = w->body.data;
            body_len = w->body.len;
        }
    }
    if (strcasestr(ce, "gzip") || strcasestr(ce, "deflate")) {
        bool ok;
        int rc = inflate_body(body, body_len, w->s->max_bytes, &tmp, &ok);
        if (rc) {
            nx_buf_free(&tmp);
            return rc;
        }
        if (!ok) {
            nx_ingest_report(w->s->opts, w->s->stats, label, 0, NEWSIDX_REPORT_SKIPPED,
                             NEWSIDX_REASON_UNREADABLE, "corrupt %s content encoding", ce);
            w->s->stats->skipped++;
            nx_buf_free(&tmp);
            return 0;
        }
        body = tmp.data;
        body_len = tmp.len;
    }
    unsigned warn = 0;
    if (cut) {
        warn |= NX_WARN_TOO_LONG;
        nx_ingest_report(w->s->opts, w->s->stats, label, 0, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_TOO_LONG,
                         "record longer than the limit of %zu bytes: the rest is ignored",
                         w->s->max_bytes);
    }
    nx_doc_hints hints = {.charset = cs[0] ? cs : NULL, .url = uri, .date = date};
    int rc = nx_ingest_document(w->s, NX_DOC_HTML, label, uri, (const char *)body, body_len,
                                &hints, warn);
    nx_buf_free(&tmp);
    return rc;
}

/* How reports name the record being read: by number in a plain stream;
 * by its gzip member's byte where records are counted again after a
 * resync. */
static const char *where(warc *w, uint64_t number) {
    if (w->rs)
        snprintf(w->where, sizeof w->where, "the record at byte %llu",
                 (unsigned long long)w->rec_member);
    else snprintf(w->where, sizeof w->where, "record %llu", (unsigned long long)number);
    return w->where;
}

static int next_record(warc *w, uint64_t number) {
    rd *r = &w->r;
    int lr;
    w->prev_start = w->rec_start;
    do { /* blank lines between records */
        w->rec_start = r->got - (r->len - r->pos);
        lr = rd_line(r, &w->line);
    } while (lr == 0 && w->line.len == 0);
    if (lr == 1) return 1;
    /* now that its first byte was read (or failed to be), its member is
     * among those the source remembers */
    if (w->rs) w->rec_member = w->rs->member_of(w->src, w->rec_start, &w->rec_member_out);
    if (lr == NEWSIDX_ERR_NOMEM) return lr;
    if (lr < 0) return -1;
    if (strncmp((const char *)w->line.data, "WARC/", 5) != 0) {
        snprintf(r->err, sizeof r->err, "%s does not start with a WARC version line",
                 where(w, number));
        return -1;
    }
    w->head.len = 0;
    for (int i = 0;; i++) {
        lr = rd_line(r, &w->line);
        if (lr == NEWSIDX_ERR_NOMEM) return lr;
        if (lr != 0 || i >= MAX_HEADER_LINES) {
            if (lr >= 0) snprintf(r->err, sizeof r->err, "%s: headers never end", where(w, number));
            return -1;
        }
        if (w->line.len == 0) break;
        NX_FORWARD(nx_buf_append(&w->head, w->line.data, w->line.len));
        NX_FORWARD(nx_buf_putc(&w->head, '\n'));
    }
    const char *h = (const char *)w->head.data;
    size_t hn = w->head.len;
    char type[64], date[64], wctype[256], clen[32];
    if (!header(h, hn, "Content-Length", clen, sizeof clen)) {
        snprintf(r->err, sizeof r->err, "%s has no Content-Length", where(w, number));
        return -1;
    }
    char *e;
    errno = 0;
    unsigned long long length = strtoull(clen, &e, 10);
    if (e == clen || *e || clen[0] == '-' || clen[0] == '+' || errno == ERANGE) {
        snprintf(r->err, sizeof r->err, "%s: bad Content-Length", where(w, number));
        return -1;
    }
    const char *t = header(h, hn, "WARC-Type", type, sizeof type);
    /* whole, however long: the URI is the article's id, and two cut to
     * the same prefix replaced one another */
    int urc;
    char *u = (char *)header_buf(h, hn, "WARC-Target-URI", &w->uri, &urc);
    if (urc) return urc;
    if (u && u[0] == '<') { /* WARC/1.0 drafts wrote <uri> */
        size_t ul = strlen(u);
        if (ul > 1 && u[ul - 1] == '>') u[ul - 1] = '\0';
        memmove(u, u + 1, strlen(u));
    }
    const char *d = header(h, hn, "WARC-Date", date, sizeof date);
    const char *ct = header(h, hn, "Content-Type", wctype, sizeof wctype);
    bool wanted = t && (strcasecmp(t, "response") == 0 || strcasecmp(t, "resource") == 0) && u;
    w->block.len = 0;
    int rc = rd_block(r, length, wanted ? w->s->max_bytes : 0, &w->block);
    bool too_long = length > w->s->max_bytes;
    if (rc == BLOCK_CUT) {
        too_long = w->block.len >= w->s->max_bytes;
        /* one gzip member a record, as crawlers write: the rest of this
         * block is the next record's */
        nx_ingest_report(w->s->opts, w->s->stats, w->name, 0, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_TOO_LONG,
                         "%s: its Content-Length runs past its gzip member into the next "
                         "record: the block is cut there",
                         where(w, number));
        rc = 0;
    }
    if (rc) return rc;
    if (!wanted) {
        if (!t) w->skipped[SK_OTHER_TYPE]++;
        else if (strcasecmp(t, "warcinfo") == 0) w->skipped[SK_WARCINFO]++;
        else if (strcasecmp(t, "request") == 0) w->skipped[SK_REQUEST]++;
        else if (strcasecmp(t, "metadata") == 0) w->skipped[SK_METADATA]++;
        else if (strcasecmp(t, "revisit") == 0) w->skipped[SK_REVISIT]++;
        else w->skipped[SK_OTHER_TYPE]++;
        return 0;
    }
    return record(w, t, u, d, ct, too_long);
}

int nx_ingest_warc(nx_read_fn read_fn, void *src, const uint64_t *raw_bytes,
                   const char *name, const nx_sink *s) {
    return nx_ingest_warc_resync(read_fn, NULL, src, raw_bytes, name, s);
}

int nx_ingest_warc_resync(nx_read_fn read_fn, const nx_warc_resync *rs, void *src,
                          const uint64_t *raw_bytes, const char *name, const nx_sink *s) {
    warc *w = calloc(1, sizeof *w);
    if (!w) return NEWSIDX_ERR_NOMEM;
    w->s = s;
    w->name = name;
    w->rs = rs;
    w->src = src;
    w->r.read = read_fn;
    w->r.src = src;
    w->r.rs = rs;
    w->r.buf = malloc(BUF_BYTES);
    int rc = w->r.buf ? 0 : NEWSIDX_ERR_NOMEM;
    uint64_t start = raw_bytes ? *raw_bytes : 0;
    for (uint64_t number = 1; rc == 0; number++) {
        rc = next_record(w, number);
        if (raw_bytes && *raw_bytes > start) { /* progress inside a big crawl */
            s->stats->bytes_read += *raw_bytes - start;
            *s->input_bytes += *raw_bytes - start;
            start = *raw_bytes;
            if (s->opts->progress)
                s->opts->progress(s->opts->ctx, s->stats->indexed, *s->input_bytes);
        }
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc == -1 && !rs) {
            nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE, "%s; the rest of the WARC file is lost",
                             w->r.err);
            rc = 0;
            break;
        }
        if (rc == -1) {
            /* named before the resync, which forgets the members after it */
            char rec[80], same[80];
            snprintf(rec, sizeof rec, "%s: ", where(w, number));
            snprintf(same, sizeof same, "the gzip member at byte %llu ",
                     (unsigned long long)w->rec_member);
            bool named = strncmp(w->r.err, "the record ", 11) == 0 ||
                         strncmp(w->r.err, same, strlen(same)) == 0;
            uint64_t at = 0;
            nx_warc_failed f = {w->rec_start, w->rec_member, w->rec_member_out, w->prev_start};
            bool more = rs->resync(src, &f, &at);
            if (more && at == w->rec_member)
                nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_ERROR,
                                 NEWSIDX_REASON_UNREADABLE,
                                 "%s%s; the record before ran into this member (a "
                                 "Content-Length too long?): reading goes on at its start",
                                 named ? "" : rec, w->r.err);
            else if (more)
                nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_ERROR,
                                 NEWSIDX_REASON_UNREADABLE,
                                 "%s%s; the record is lost, reading goes on at the next "
                                 "record (byte %llu)",
                                 named ? "" : rec, w->r.err, (unsigned long long)at);
            else
                nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_ERROR,
                                 NEWSIDX_REASON_UNREADABLE, "%s%s; no readable record follows it",
                                 named ? "" : rec, w->r.err);
            rc = 0;
            if (!more) break;
            w->r.pos = w->r.len = 0;
            w->r.eof = false;
        }
    }
    if (raw_bytes && *raw_bytes > start) { /* what a resync read to the end */
        s->stats->bytes_read += *raw_bytes - start;
        *s->input_bytes += *raw_bytes - start;
    }
    uint64_t total = 0;
    for (int k = 0; k < SK_COUNT; k++) total += w->skipped[k];
    if (rc == 0 && total) {
        char msg[400];
        size_t off = 0;
        for (int k = 0; k < SK_COUNT; k++)
            if (w->skipped[k] && off < sizeof msg)
                off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%llu %s",
                                        off ? ", " : "", (unsigned long long)w->skipped[k],
                                        skip_names[k]);
        nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_NOTE, -1,
                         "%llu WARC record%s that hold%s no article skipped: %s",
                         (unsigned long long)total, total == 1 ? "" : "s", total == 1 ? "s" : "",
                         msg);
    }
    free(w->r.buf);
    nx_buf_free(&w->line);
    nx_buf_free(&w->head);
    nx_buf_free(&w->block);
    nx_buf_free(&w->body);
    nx_buf_free(&w->label);
    nx_buf_free(&w->uri);
    free(w);
    return rc;
}
