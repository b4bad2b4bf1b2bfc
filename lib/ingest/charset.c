/* charset.c — documents in any charset to UTF-8 (docs/INGEST.md,
 * "Charsets"). The order of evidence is the one browsers use (WHATWG
 * "encoding sniffing"): a byte order mark, then what the container declares
 * (HTTP Content-Type, MIME charset), then <meta charset> in the document's
 * first bytes; only then is the text itself looked at: valid UTF-8 stays as
 * it is, anything else goes to uchardet, and Windows-1252 is the last guess
 * because it maps every byte but five, so a Western page loses nothing
 * where U+FFFD would have lost the letter for good. */
#include "ingest/ingest.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

/* The HTML spec looks at the first 1024 bytes; pages of news sites often
 * carry kilobytes of inline script before the meta, so more is read. */
#define META_SCAN_BYTES 4096
/* uchardet needs some text to be sure; more than this does not change its
 * mind on articles and costs time. */
#define DETECT_BYTES (64u * 1024)

static bool ascii_ieq(const char *a, size_t n, const char *b) {
    return strlen(b) == n && strncasecmp(a, b, n) == 0;
}

/* Charset names to what glibc's iconv calls them; labels that mean
 * Windows-1252 to a browser do so here. Returns name or a replacement. */
static const char *canonical(const char *name, size_t n) {
    static const char *const cp1252[] = {"iso-8859-1", "iso8859-1", "latin1", "latin-1",
                                         "l1", "us-ascii", "ascii", "cp1252",
                                         "windows-1252", "x-cp1252", "iso_8859-1",
                                         "ansi_x3.4-1968", "cp819", "ibm819"};
    for (size_t i = 0; i < sizeof cp1252 / sizeof cp1252[0]; i++)
        if (ascii_ieq(name, n, cp1252[i])) return "WINDOWS-1252";
    if (ascii_ieq(name, n, "utf8") || ascii_ieq(name, n, "utf-8") ||
        ascii_ieq(name, n, "unicode-1-1-utf-8"))
        return "UTF-8";
    return NULL;
}

/* Copies a charset label (trimmed, quotes removed) into out. */
static void set_name(char *out, size_t cap, const char *name, size_t n) {
    while (n && (*name == ' ' || *name == '"' || *name == '\'')) name++, n--;
    while (n && (name[n - 1] == ' ' || name[n - 1] == '"' || name[n - 1] == '\'')) n--;
    const char *c = canonical(name, n);
    if (c) {
        snprintf(out, cap, "%s", c);
        return;
    }
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        out[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
    }
    out[n] = '\0';
}

static bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == ':' || c == '.';
}

/* The charset of the first <meta> in head that names one (charset=X or
 * content="...; charset=X"); 0 when none. */
static size_t meta_charset(const char *head, size_t n, const char **label) {
    size_t i = 0;
    while (i + 5 < n) {
        const char *lt = memchr(head + i, '<', n - i - 5);
        if (!lt) break;
        i = (size_t)(lt - head) + 1;
        if (strncasecmp(head + i, "meta", 4) != 0) continue;
        const char *gt = memchr(head + i, '>', n - i);
        size_t end = gt ? (size_t)(gt - head) : n;
        for (size_t j = i + 4; j + 7 <= end; j++) {
            if (strncasecmp(head + j, "charset", 7) != 0) continue;
            size_t k = j + 7;
            while (k < end && (head[k] == ' ' || head[k] == '\t')) k++;
            if (k >= end || head[k] != '=') continue;
            k++;
            while (k < end && (head[k] == ' ' || head[k] == '"' || head[k] == '\'')) k++;
            size_t v = k;
            while (k < end && is_label_char(head[k])) k++;
            if (k > v) {
                *label = head + v;
                return k - v;
            }
        }
        i = end;
    }
    return 0;
}

/* Converts with iconv; a byte sequence iconv refuses becomes U+FFFD and the
 * conversion goes on after its first byte. Returns 0, NOMEM, or 1 when iconv
 * does not know the charset. */
static int convert(const char *from, const char *data, size_t len, nx_buf *out, bool *bad) {
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1) return 1;
    char *in = (char *)data;
    size_t in_left = len;
    int rc = 0;
    while (in_left > 0 && rc == 0) {
        size_t room = in_left * 4 + 16;
        rc = nx_buf_reserve(out, room);
        if (rc) break;
        char *o = (char *)out->data + out->len;
        size_t o_left = room;
        size_t r = iconv(cd, &in, &in_left, &o, &o_left);
        out->len = (size_t)((uint8_t *)o - out->data);
        if (r != (size_t)-1) break;
        if (errno == E2BIG) continue;
        /* EILSEQ, or EINVAL (an incomplete sequence at the end) */
        *bad = true;
        rc = nx_buf_append(out, "\xEF\xBF\xBD", 3);
        in++;
        in_left--;
        iconv(cd, NULL, NULL, NULL, NULL); /* reset the shift state */
    }
    iconv_close(cd);
    return rc;
}

static int finish(nx_buf *out) {
    NX_FORWARD(nx_buf_reserve(out, 1));
    out->data[out->len] = '\0';
    return 0;
}

/* Valid UTF-8 ignoring NUL bytes (they are removed later, not a charset
 * matter). */
static bool is_utf8(const char *s, size_t n) { return nx_utf8_valid_prefix(s, n) == n; }

/* UTF-8 with a few damaged bytes (a cut, a stray Latin-1 byte pasted in)
 * rather than a legacy charset: more well-formed multi-byte sequences than
 * bytes that fit none. Text in Windows-1252 or Latin-1 almost never forms
 * a valid sequence by chance ("Ã©" would have to follow each other). */
static bool mostly_utf8(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s, *end = p + n;
    size_t good = 0, bad = 0;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int32_t cp;
        size_t k = nx_utf8_decode(p, end, &cp);
        if (k > 1 && cp >= 0) {
            good++;
            p += k;
        } else {
            bad++;
            p++;
        }
    }
    return good > bad;
}

/* Too few non-ASCII bytes for a statistical guess to mean anything: on a
 * name or two with accents uchardet answers Greek or Hebrew as readily as
 * Latin-1. */
#define MIN_HIGH_BYTES_TO_DETECT 8
static bool few_high_bytes(const char *s, size_t n) {
    size_t high = 0;
    for (size_t i = 0; i < n && high < MIN_HIGH_BYTES_TO_DETECT; i++)
        if ((uint8_t)s[i] >= 0x80) high++;
    return high < MIN_HIGH_BYTES_TO_DETECT;
}

int nx_charset_to_utf8(const char *data, size_t len, const char *declared, bool html,
                       nx_buf *out, nx_charset_result *res) {
    memset(res, 0, sizeof *res);
    out->len = 0;
    const uint8_t *u = (const uint8_t *)data;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        res->bom = true;
        snprintf(res->charset, sizeof res->charset, "UTF-8");
        NX_FORWARD(nx_buf_append(out, data + 3, len - 3));
        return finish(out);
    }
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        res->bom = true;
        const char *cs = u[0] == 0xFF ? "UTF-16LE" : "UTF-16BE";
        snprintf(res->charset, sizeof res->charset, "%s", cs);
        int rc = convert(cs, data + 2, len - 2, out, &res->had_bad);
        if (rc < 0) return rc;
        return finish(out);
    }
    char name[40] = "";
    if (declared && declared[0]) set_name(name, sizeof name, declared, strlen(declared));
    if (!name[0] && html) {
        const char *label;
        size_t n = meta_charset(data, NX_MIN(len, (size_t)META_SCAN_BYTES), &label);
        if (n) set_name(name, sizeof name, label, n);
    }
    /* A page that says UTF-16 in its meta cannot be: the meta was read as
     * ASCII (the HTML spec makes the same correction). */
    if (strncmp(name, "UTF-16", 6) == 0) snprintf(name, sizeof name, "UTF-8");
    bool utf8 = is_utf8(data, len);
    if (strcmp(name, "UTF-8") == 0 && !utf8) name[0] = '\0'; /* a wrong label */
    if (!name[0] && utf8) snprintf(name, sizeof name, "UTF-8");
    if (!name[0] && !utf8) res->detected = true;
    if (!name[0] && mostly_utf8(data, len)) snprintf(name, sizeof name, "UTF-8");
    if (!name[0] && few_high_bytes(data, len)) snprintf(name, sizeof name, "WINDOWS-1252");
    if (!name[0]) {
        uchardet_t ud = uchardet_new();
        if (ud) {
            if (uchardet_handle_data(ud, data, NX_MIN(len, (size_t)DETECT_BYTES)) == 0) {
                uchardet_data_end(ud);
                const char *g = uchardet_get_charset(ud);
                if (g && g[0]) set_name(name, sizeof name, g, strlen(g));
            }
            uchardet_delete(ud);
        }
        /* uchardet says UTF-8 or ASCII for text that is neither when the
         * odd bytes are few: Windows-1252 is then the better reading */
        if (!name[0] || strcmp(name, "UTF-8") == 0)
            snprintf(name, sizeof name, "WINDOWS-1252");
    }
    snprintf(res->charset, sizeof res->charset, "%s", name);
    if (strcmp(name, "UTF-8") == 0) {
        NX_FORWARD(nx_buf_append(out, data, len));
        return finish(out);
    }
    int rc = convert(name, data, len, out, &res->had_bad);
    if (rc == 1) { /* a label iconv does not know: guess as if none was given */
        out->len = 0;
        res->had_bad = false;
        return nx_charset_to_utf8(data, len, utf8 ? "UTF-8" : "WINDOWS-1252", false, out, res);
    }
    if (rc < 0) return rc;
    return finish(out);
}
