/* utf8.c — UTF-8 validation and repair of input (utf8.h). Invalid input is
 * never a reason to lose an article: each byte that does not belong to a
 * well-formed sequence becomes U+FFFD, and NUL bytes are removed
 * (docs/INGEST.md, "Bad input"). */
#include "util/utf8.h"

#include <string.h>

size_t nx_utf8_valid_prefix(const char *str, size_t len) {
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs, 8 bytes at a time: the common case for news text */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = nx_utf8_char_len(s + i, len - i);
        if (n == 0) return i;
        i += n;
    }
    return len;
}

int nx_utf8_repair(nx_buf *out, const char *str, size_t len, bool *had_bad_utf8,
                   bool *had_nul) {
    static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD};
    const uint8_t *s = (const uint8_t *)str;
    /* Room for the bytes as they are; each replacement grows by 2 more, so
     * repairing mostly valid text does not reserve three times its size. */
    if (len == SIZE_MAX) return NEWSIDX_ERR_NOMEM;
    NX_FORWARD(nx_buf_reserve(out, len + 1));
    size_t i = 0;
    while (i < len) {
        if (s[i] == 0) {
            *had_nul = true;
            i++;
            continue;
        }
        size_t n = nx_utf8_char_len(s + i, len - i);
        if (n == 0) {
            *had_bad_utf8 = true;
            NX_FORWARD(nx_buf_reserve(out, (len - i) + 3 + 1));
            memcpy(out->data + out->len, replacement, 3);
            out->len += 3;
            i++;
            continue;
        }
        memcpy(out->data + out->len, s + i, n);
        out->len += n;
        i += n;
    }
    out->data[out->len] = '\0';
    return 0;
}
