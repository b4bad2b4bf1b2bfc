/* util/utf8.h — UTF-8 as RFC 3629 defines it (no overlong forms, no
 * surrogates, nothing above U+10FFFF), once for every layer: the analyzer
 * decodes text with it, the readers validate and repair their input with it
 * (utf8.c), the writer and the readers cut text on character boundaries.
 *
 * The per-character helpers are inline: the analyzer and the JSON scanner
 * call them for every non-ASCII character, and their ASCII fast paths test
 * bytes < 0x80 themselves before calling. */
#ifndef NX_UTF8_H
#define NX_UTF8_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A continuation byte (top bits 10): never the first byte of a character. */
static inline bool nx_utf8_is_cont(uint8_t c) { return (c & 0xc0) == 0x80; }

/* Decodes one UTF-8 sequence from [p, end) (p < end). Returns the bytes it
 * takes (1..4) and stores the code point in *cp, or returns 1 with *cp = -1
 * for a byte that starts no valid sequence (overlong, surrogate, truncated,
 * > U+10FFFF, stray continuation). Never reads past end. */
static inline size_t nx_utf8_decode(const uint8_t *p, const uint8_t *end, int32_t *cp) {
    uint32_t c = p[0];
    size_t avail = (size_t)(end - p);
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        if (avail >= 2 && nx_utf8_is_cont(p[1])) {
            *cp = (int32_t)(((c & 0x1f) << 6) | (p[1] & 0x3fu));
            return 2;
        }
    } else if (c >= 0xe0 && c <= 0xef) {
        if (avail >= 3 && nx_utf8_is_cont(p[1]) && nx_utf8_is_cont(p[2])) {
            uint32_t v = ((c & 0x0f) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
            if (v >= 0x800 && (v < 0xd800 || v > 0xdfff)) {
                *cp = (int32_t)v;
                return 3;
            }
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        if (avail >= 4 && nx_utf8_is_cont(p[1]) && nx_utf8_is_cont(p[2]) &&
            nx_utf8_is_cont(p[3])) {
            uint32_t v = ((c & 0x07) << 18) | ((p[1] & 0x3fu) << 12) |
                         ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
            if (v >= 0x10000 && v <= 0x10ffff) {
                *cp = (int32_t)v;
                return 4;
            }
        }
    }
    *cp = -1;
    return 1;
}

/* Length (1..4) of the well-formed UTF-8 sequence at s[0] (avail >= 1
 * bytes available), or 0 when it is not one. */
static inline size_t nx_utf8_char_len(const uint8_t *s, size_t avail) {
    int32_t cp;
    size_t n = nx_utf8_decode(s, s + avail, &cp);
    return cp < 0 ? 0 : n;
}

/* Writes code point cp (0..0x10FFFF, not a surrogate) to out, which has
 * room for 4 bytes. Returns the bytes written (1..4). */
static inline size_t nx_utf8_encode(int32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* The length of [s, s+len) cut to at most max bytes without splitting a
 * character: when byte max continues a character, the cut backs off to
 * that character's start. A character has at most 3 continuation bytes, so
 * the cut never backs off further, even in invalid text. */
static inline size_t nx_utf8_cut(const char *s, size_t len, size_t max) {
    if (len <= max) return len;
    size_t n = max;
    for (int k = 0; k < 3 && n > 0 && nx_utf8_is_cont((uint8_t)s[n]); k++) n--;
    return n;
}

/* Length of the longest valid UTF-8 prefix of [s, s+len). */
size_t nx_utf8_valid_prefix(const char *s, size_t len);

/* Appends [s, s+len) to out with each invalid UTF-8 sequence replaced by
 * U+FFFD and NUL bytes removed. Sets *had_bad_utf8 / *had_nul when any was
 * found (they are only ever set to true). 0 or NEWSIDX_ERR_NOMEM. */
int nx_utf8_repair(nx_buf *out, const char *s, size_t len, bool *had_bad_utf8,
                   bool *had_nul);

#endif
