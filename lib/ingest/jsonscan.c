/* jsonscan.c — a hand-written scanner for the one shape JSON Lines articles
 * have: a single JSON object per line (RFC 8259 grammar).
 *
 * Why not only jansson: its json_loadb builds a tree per line, with hash
 * tables and a malloc per string, and took several times what this scanner
 * takes, more than the indexing throughput target leaves for parsing
 * (bench/README.md, "History of measured choices"). This scanner builds no
 * tree: string values without escapes point into the line itself; only
 * keys, unescaped strings and nested values that contain white space are
 * copied, into one reused buffer.
 *
 * It is at least as strict as jansson with JSON_ALLOW_NUL | JSON_DECODE_ANY:
 * whatever it accepts, jansson accepts with the same members (a differential
 * test over the corpora and mutated lines checks this). Anything it does not
 * accept — not an object, a syntax error, integers of more than 18 digits,
 * exponents, nesting deeper than 64, more than 256 members — is handed back
 * (NX_SCAN_FALLBACK) and jansson gives the verdict and the error message.
 * A line jansson refuses only for a number out of its range is scanned
 * again taking any number as written (any_number). */
#include "ingest/ingest.h"

#include <string.h>

#define MAX_DEPTH 64
#define MAX_MEMBERS 256
#define MAX_INT_DIGITS 18

typedef struct scanner {
    const uint8_t *p, *end;
    nx_buf *scratch;
    int rc; /* NX_SCAN_OK, or why the scan stopped (NX_SCAN_*, NEWSIDX_ERR_NOMEM) */
    bool any_number; /* numbers of any length and exponent taken as they are */
} scanner;

/* Bytes that end the fast run inside a string: '"', '\\', control bytes and
 * non-ASCII (checked as UTF-8 one sequence at a time). */
static const uint8_t string_stop[256] = {
    [0 ... 0x1F] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xFF] = 1,
};

static bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(scanner *s) {
    while (s->p < s->end && is_ws(*s->p)) s->p++;
}

static bool fail(scanner *s, int rc) {
    if (s->rc == NX_SCAN_OK) s->rc = rc;
    return false;
}

static int hex4(const uint8_t *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Reads one escape after the backslash at s->p[-1]; on success *cp is the
 * code point (surrogate pairs joined). jansson's rules: a lone or reversed
 * surrogate is an error. */
static bool read_escape(scanner *s, uint32_t *cp) {
    if (s->p >= s->end) return fail(s, NX_SCAN_FALLBACK);
    uint8_t c = *s->p++;
    switch (c) {
    case '"': *cp = '"'; return true;
    case '\\': *cp = '\\'; return true;
    case '/': *cp = '/'; return true;
    case 'b': *cp = '\b'; return true;
    case 'f': *cp = '\f'; return true;
    case 'n': *cp = '\n'; return true;
    case 'r': *cp = '\r'; return true;
    case 't': *cp = '\t'; return true;
    case 'u': break;
    default: return fail(s, NX_SCAN_FALLBACK);
    }
    if (s->end - s->p < 4) return fail(s, NX_SCAN_FALLBACK);
    int v = hex4(s->p);
    if (v < 0) return fail(s, NX_SCAN_FALLBACK);
    s->p += 4;
    if (v >= 0xDC00 && v <= 0xDFFF) return fail(s, NX_SCAN_FALLBACK);
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
            return fail(s, NX_SCAN_FALLBACK);
        int lo = hex4(s->p + 2);
        if (lo < 0xDC00 || lo > 0xDFFF) return fail(s, NX_SCAN_FALLBACK);
        s->p += 6;
        *cp = 0x10000 + (((uint32_t)v - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        return true;
    }
    *cp = (uint32_t)v;
    return true;
}

/* Scans a string whose opening quote is at s->p[-1].
 * out == NULL: validate only (nested values). Otherwise *out and *out_len get
 * the unescaped value: a pointer into the line when there is no escape,
 * else into scratch (as an offset in *out_off, *out set to NULL), with NUL
 * characters dropped and *had_nul set. A \u0000 in a key (is_key) is refused
 * like jansson does. */
static bool scan_string(scanner *s, bool is_key, const uint8_t **out, size_t *out_off,
                        size_t *out_len, bool *had_nul) {
    const uint8_t *start = s->p;
    bool copying = false;
    size_t off = 0;
    for (;;) {
        const uint8_t *q = s->p;
        while (q < s->end && !string_stop[*q]) q++;
        if (copying && q > s->p) {
            if (nx_buf_append(s->scratch, s->p, (size_t)(q - s->p)))
                return fail(s, NEWSIDX_ERR_NOMEM);
        }
        s->p = q;
        if (q >= s->end) return fail(s, NX_SCAN_FALLBACK); /* unterminated */
        uint8_t c = *q;
        if (c == '"') {
            if (out) {
                if (copying) {
                    *out = NULL;
                    *out_off = off;
                    *out_len = s->scratch->len - off;
                } else {
                    *out = start;
                    *out_len = (size_t)(q - start);
                }
            }
            s->p = q + 1;
            return true;
        }
        if (c < 0x20) return fail(s, NX_SCAN_FALLBACK); /* control byte */
        if (c >= 0x80) {
            size_t n = nx_utf8_char_len(q, (size_t)(s->end - q));
            if (n == 0) return fail(s, NX_SCAN_BAD_UTF8);
            if (copying && nx_buf_append(s->scratch, q, n)) return fail(s, NEWSIDX_ERR_NOMEM);
            s->p = q + n;
            continue;
        }
        /* backslash */
        s->p = q + 1;
        uint32_t cp;
        if (!read_escape(s, &cp)) return false;
        if (!out) {
            if (cp == 0 && is_key) return fail(s, NX_SCAN_FALLBACK);
            continue;
        }
        if (!copying) {
            copying = true;
            off = s->scratch->len;
            if (nx_buf_append(s->scratch, start, (size_t)(q - start)))
                return fail(s, NEWSIDX_ERR_NOMEM);
        }
        if (cp == 0) {
            if (is_key) return fail(s, NX_SCAN_FALLBACK);
            *had_nul = true;
            continue;
        }
        uint8_t enc[4];
        if (nx_buf_append(s->scratch, enc, nx_utf8_encode((int32_t)cp, enc)))
            return fail(s, NEWSIDX_ERR_NOMEM);
    }
}

static bool scan_literal(scanner *s, const char *word, size_t n) {
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail(s, NX_SCAN_FALLBACK);
    s->p += n;
    return true;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)? — exponents and long integers go to jansson,
 * which knows what overflows for it; with s->any_number, RFC 8259's whole
 * grammar, ([eE][+-]?[0-9]+)? after that, whatever the size. */
static bool scan_number(scanner *s) {
    if (s->p < s->end && *s->p == '-') s->p++;
    const uint8_t *digits = s->p;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9') return fail(s, NX_SCAN_FALLBACK);
    if (*s->p == '0') {
        s->p++;
    } else {
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    }
    if (s->p - digits > MAX_INT_DIGITS && !s->any_number) return fail(s, NX_SCAN_FALLBACK);
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        const uint8_t *frac = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
        if (s->p == frac) return fail(s, NX_SCAN_FALLBACK);
    }
    if (s->any_number && s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        const uint8_t *exp = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
        if (s->p == exp) return fail(s, NX_SCAN_FALLBACK);
        return true;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E' || (*s->p >= '0' && *s->p <= '9')))
        return fail(s, NX_SCAN_FALLBACK);
    return true;
}

/* Validates one nested value (array, object, number, literal); *spaced
 * tells whether white space was skipped inside it. Iterative, with the
 * container kinds on a small stack. */
static bool scan_nested(scanner *s, bool *spaced) {
    char stack[MAX_DEPTH];
    int depth = 0;
    const uint8_t *before;
    for (;;) {
        /* a value */
        if (s->p >= s->end) return fail(s, NX_SCAN_FALLBACK);
        uint8_t c = *s->p;
        if (c == '{' || c == '[') {
            if (depth == MAX_DEPTH) return fail(s, NX_SCAN_FALLBACK);
            stack[depth++] = (char)c;
            s->p++;
            before = s->p;
            skip_ws(s);
            if (s->p != before) *spaced = true;
            if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                s->p++;
                depth--;
                goto after_value;
            }
            if (c == '{') goto object_key;
            continue;
        } else if (c == '"') {
            s->p++;
            if (!scan_string(s, false, NULL, NULL, NULL, NULL)) return false;
        } else if (c == 't') {
            if (!scan_literal(s, "true", 4)) return false;
        } else if (c == 'f') {
            if (!scan_literal(s, "false", 5)) return false;
        } else if (c == 'n') {
            if (!scan_literal(s, "null", 4)) return false;
        } else {
            if (!scan_number(s)) return false;
        }
    after_value:
        if (depth == 0) return true;
        before = s->p;
        skip_ws(s);
        if (s->p != before) *spaced = true;
        if (s->p >= s->end) return fail(s, NX_SCAN_FALLBACK);
        c = *s->p;
        if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
            s->p++;
            depth--;
            goto after_value;
        }
        if (c != ',') return fail(s, NX_SCAN_FALLBACK);
        s->p++;
        before = s->p;
        skip_ws(s);
        if (s->p != before) *spaced = true;
        if (stack[depth - 1] == '[') continue;
    object_key:
        if (s->p >= s->end || *s->p != '"') return fail(s, NX_SCAN_FALLBACK);
        s->p++;
        if (!scan_string(s, true, NULL, NULL, NULL, NULL)) return false;
        before = s->p;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') return fail(s, NX_SCAN_FALLBACK);
        s->p++;
        skip_ws(s);
        if (s->p != before + 1) *spaced = true;
    }
}

/* Appends [p, end) to scratch without the white space outside strings. */
static int compact_copy(nx_buf *scratch, const uint8_t *p, const uint8_t *end) {
    NX_FORWARD(nx_buf_reserve(scratch, (size_t)(end - p)));
    uint8_t *o = scratch->data + scratch->len;
    bool in_string = false;
    for (; p < end; p++) {
        uint8_t c = *p;
        if (in_string) {
            *o++ = c;
            if (c == '\\') *o++ = *++p; /* the escaped byte, whatever it is */
            else if (c == '"') in_string = false;
        } else if (!is_ws(c)) {
            *o++ = c;
            if (c == '"') in_string = true;
        }
    }
    scratch->len = (size_t)(o - scratch->data);
    return 0;
}

int nx_json_scan_object(const char *line, size_t len, nx_buf *scratch, nx_buf *members,
                        bool *had_nul, bool any_number) {
    scanner s = {(const uint8_t *)line, (const uint8_t *)line + len, scratch, NX_SCAN_OK,
                 any_number};
    members->len = 0;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') return NX_SCAN_FALLBACK;
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
        goto trailer;
    }
    for (;;) {
        if (s.p >= s.end || *s.p != '"') return NX_SCAN_FALLBACK;
        s.p++;
        const uint8_t *key;
        size_t key_off = 0, key_len;
        bool key_nul = false;
        if (!scan_string(&s, true, &key, &key_off, &key_len, &key_nul)) return s.rc;
        /* keys become NUL-terminated copies in scratch (field names are C
         * strings); an unescaped key is already the last thing there */
        size_t name_off = key_off;
        if (key) {
            name_off = scratch->len;
            if (nx_buf_append(scratch, key, key_len)) return NEWSIDX_ERR_NOMEM;
        }
        if (nx_buf_putc(scratch, 0)) return NEWSIDX_ERR_NOMEM;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') return NX_SCAN_FALLBACK;
        s.p++;
        skip_ws(&s);
        if (s.p >= s.end) return NX_SCAN_FALLBACK;
        nx_json_member m = {.key_off = name_off, .key_len = key_len};
        if (*s.p == '"') {
            s.p++;
            const uint8_t *v;
            if (!scan_string(&s, false, &v, &m.value_off, &m.value_len, had_nul)) return s.rc;
            m.kind = NX_JSON_STRING;
            m.value = (const char *)v;
        } else if (*s.p == 'n') {
            if (!scan_literal(&s, "null", 4)) return s.rc;
            m.kind = NX_JSON_NULL;
        } else {
            const uint8_t *v0 = s.p;
            bool spaced = false;
            if (!scan_nested(&s, &spaced)) return s.rc;
            m.kind = NX_JSON_OTHER;
            if (!spaced) {
                m.value = (const char *)v0;
                m.value_len = (size_t)(s.p - v0);
            } else {
                m.value_off = scratch->len;
                if (compact_copy(scratch, v0, s.p)) return NEWSIDX_ERR_NOMEM;
                m.value_len = scratch->len - m.value_off;
            }
        }
        /* a repeated key replaces the earlier member (jansson: last wins) */
        nx_json_member *all = (nx_json_member *)members->data;
        size_t n = members->len / sizeof m, i;
        for (i = 0; i < n; i++)
            if (all[i].key_len == key_len &&
                memcmp(scratch->data + all[i].key_off, scratch->data + name_off, key_len) == 0)
                break;
        if (i < n) {
            all[i] = m;
        } else {
            if (n == MAX_MEMBERS) return NX_SCAN_FALLBACK;
            if (nx_buf_append(members, &m, sizeof m)) return NEWSIDX_ERR_NOMEM;
        }
        skip_ws(&s);
        if (s.p >= s.end) return NX_SCAN_FALLBACK;
        if (*s.p == '}') {
            s.p++;
            break;
        }
        if (*s.p != ',') return NX_SCAN_FALLBACK;
        s.p++;
        skip_ws(&s);
    }
trailer:
    skip_ws(&s);
    return s.p == s.end ? NX_SCAN_OK : NX_SCAN_FALLBACK;
}
