/* util/ — buffers, varints, errors, arenas. Files are in file.c. */
#define XXH_INLINE_ALL
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int nx_err_set(nx_err *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int nx_errbuf_set(char *buf, size_t cap, int code, const char *fmt, ...) {
    if (buf && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

int nx_options_copy(void *dst, size_t dst_size, const void *src, const char *what, nx_err *err) {
    size_t size;
    memcpy(&size, src, sizeof size);
    if (size < sizeof size)
        return nx_err_set(err, NEWSIDX_ERR_INVALID,
                          "%s options: size %zu is too small (set it with the options' init function)",
                          what, size);
    const unsigned char *s = src;
    for (size_t i = dst_size; i < size; i++)
        if (s[i])
            return nx_err_set(err, NEWSIDX_ERR_INVALID,
                              "%s options: size %zu, this library knows %zu bytes and byte %zu "
                              "is set (options of a newer libnewsidx)",
                              what, size, dst_size, i);
    memcpy(dst, src, size < dst_size ? size : dst_size);
    memcpy(dst, &dst_size, sizeof dst_size);
    return 0;
}

int nx_err_prefix(nx_err *err, const char *where) {
    if (!err) return 0;
    char tmp[sizeof err->msg];
    memcpy(tmp, err->msg, sizeof tmp);
    tmp[sizeof tmp - 1] = '\0';
    size_t n = strlen(where);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, where, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3, tl = strlen(tmp);
    if (tl > room) tl = room;
    memcpy(err->msg + n + 2, tmp, tl);
    err->msg[n + 2 + tl] = '\0';
    return err->code;
}

void nx_err_copy(const nx_err *err, char *buf, size_t buf_size) {
    if (!buf || buf_size == 0) return;
    snprintf(buf, buf_size, "%s", err ? err->msg : "");
}

void nx_buf_free(nx_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int nx_buf_reserve(nx_buf *b, size_t extra) {
    if (extra <= b->cap - b->len) return 0;
    if (extra > SIZE_MAX / 2 - b->len) return NEWSIDX_ERR_NOMEM;
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return NEWSIDX_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int nx_buf_append(nx_buf *b, const void *p, size_t n) {
    if (n == 0) return 0;
    NX_FORWARD(nx_buf_reserve(b, n));
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int nx_buf_putc(nx_buf *b, uint8_t c) {
    NX_FORWARD(nx_buf_reserve(b, 1));
    b->data[b->len++] = c;
    return 0;
}

int nx_buf_put_u16le(nx_buf *b, uint16_t v) {
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return nx_buf_append(b, t, 2);
}

int nx_buf_put_u32le(nx_buf *b, uint32_t v) {
    uint8_t t[4];
    nx_store_u32le(t, v);
    return nx_buf_append(b, t, 4);
}

int nx_buf_put_u64le(nx_buf *b, uint64_t v) {
    uint8_t t[8];
    nx_store_u64le(t, v);
    return nx_buf_append(b, t, 8);
}

int nx_buf_put_varint(nx_buf *b, uint64_t v) {
    NX_FORWARD(nx_buf_reserve(b, 10));
    b->len += nx_varint_encode(b->data + b->len, v);
    return 0;
}

size_t nx_varint_encode(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int nx_varint_decode(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end) return -1;
        uint8_t c = *p++;
        if (shift == 63 && c > 1) return -1;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

uint64_t nx_hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }

struct nx_arena_chunk {
    nx_arena_chunk *next;
    size_t used, cap;
    _Alignas(16) uint8_t data[];
};

void *nx_arena_alloc(nx_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    nx_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t def = a->chunk_bytes ? a->chunk_bytes : 65536;
        size_t cap = n > def ? n : def;
        if (cap > SIZE_MAX - sizeof *c) return NULL;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total_bytes += cap;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void nx_arena_reset(nx_arena *a) {
    nx_arena_chunk *c = a->head;
    while (c) {
        nx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total_bytes = 0;
}
