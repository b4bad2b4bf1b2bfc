/* index/pfor — patched frame of reference (PFOR), the postings codec's
 * block format for doc gaps, freqs and position deltas, both directions:
 * every value's low b bits bit-packed (codec.h), the few values wider than b
 * ("exceptions") patched from a list behind them, so a few large gaps do not
 * widen a whole block. Byte layout: docs/FORMAT.md, "Packed blocks: PFOR and
 * TAIL_PFOR". The encoders are in pfor.c; the decoders are inline here
 * because the query loops call them once per block. Knows nothing of terms
 * or queries. */
#ifndef NX_PFOR_H
#define NX_PFOR_H

#include "index/codec.h"
#include "util/util.h"

#include <string.h>

/* Appends NX_BLOCK values of v as a PFOR block. 0 or NOMEM. */
int nx_pfor_encode(nx_buf *out, const uint32_t *v);
/* Appends n < NX_BLOCK values of v as a TAIL_PFOR (low bits as a plain
 * LSB-first bit stream). 0 or NOMEM. */
int nx_pfor_encode_tail(nx_buf *out, const uint32_t *v, uint32_t n);
/* Bytes of the well-formed PFOR block at p (one the encoder wrote: no
 * bounds are checked). */
static inline size_t nx_pfor_size(const uint8_t *p) {
    size_t n = 2 + nx_pack_bytes(p[0]);
    if (p[1]) n += 1 + ((size_t)p[1] * (7u + p[n]) + 7) / 8;
    return n;
}

/* Decoders: each reads inside [p, end) only and returns the byte after
 * what it read, or NULL when the bytes are damaged or do not fit. They are
 * static but not declared inline, so the compiler inlines them as it would
 * a function of the including file: the common path into the query loops,
 * the rare exception patching out of line; `inline` made it inline the
 * patching too, which measured slower (bench/README.md, "History of
 * measured choices"). */
#define NX_PFOR_DECODER __attribute__((unused))

/* Patches the exception list at p (FORMAT.md, "Packed blocks": u8 e, then
 * n_exc fields of 7 + e bits, index | high part << 7) into the n values of
 * out, whose low b bits are unpacked; returns the byte after the list, or
 * NULL when it is damaged or does not fit in [p, end). */
static NX_PFOR_DECODER const uint8_t *nx_pfor_patch(const uint8_t *p, const uint8_t *end,
                                                    unsigned b, unsigned n_exc, uint32_t n,
                                                    uint32_t *out) {
    if (n_exc == 0) return p;
    if (p >= end) return NULL;
    unsigned e = *p++, w = 7 + e;
    size_t bytes = ((size_t)n_exc * w + 7) / 8;
    if (e == 0 || b + e > 32 || (size_t)(end - p) < bytes) return NULL;
    uint64_t acc = 0, mask = ((uint64_t)1 << w) - 1;
    if ((size_t)(end - p) - bytes >= 8) {
        /* 8 readable bytes past the list: one unaligned little-endian
         * load per field (it starts at most 7 bits in and is at most 39
         * bits wide) */
        size_t bit = 0;
        for (unsigned x = 0; x < n_exc; x++, bit += w) {
            uint64_t v;
            memcpy(&v, p + (bit >> 3), 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            v = __builtin_bswap64(v);
#endif
            uint64_t f = (v >> (bit & 7)) & mask;
            unsigned idx = (unsigned)(f & 127);
            if (idx >= n) return NULL;
            out[idx] |= (uint32_t)(f >> 7) << b;
        }
        return p + bytes;
    }
    unsigned nb = 0;
    for (unsigned x = 0; x < n_exc; x++) {
        while (nb < w) {
            acc |= (uint64_t)*p++ << nb;
            nb += 8;
        }
        uint64_t f = acc & mask;
        acc >>= w;
        nb -= w;
        unsigned idx = (unsigned)(f & 127);
        if (idx >= n) return NULL;
        out[idx] |= (uint32_t)(f >> 7) << b;
    }
    return p;
}

/* Decodes a PFOR block (FORMAT.md, "Packed blocks") into out; returns the
 * byte after it, or NULL when it does not fit in [p, end). */
static NX_PFOR_DECODER const uint8_t *nx_pfor_decode(const uint8_t *p, const uint8_t *end,
                                                     uint32_t *out) {
    if (end - p < 2 || p[0] > 32) return NULL;
    unsigned b = p[0], n_exc = p[1];
    if ((size_t)(end - p) < 2 + nx_pack_bytes(b) || n_exc > NX_BLOCK) return NULL;
    nx_unpack128(p + 2, b, out);
    p += 2 + nx_pack_bytes(b);
    return nx_pfor_patch(p, end, b, n_exc, NX_BLOCK, out);
}

/* Decodes a packed tail of n values (FORMAT.md, "Packed tails"). */
static NX_PFOR_DECODER const uint8_t *nx_pfor_decode_tail(const uint8_t *p, const uint8_t *end,
                                                          uint32_t n, uint32_t *out) {
    if (end - p < 2 || p[0] > 32) return NULL;
    unsigned b = p[0], n_exc = p[1];
    size_t bytes = ((size_t)n * b + 7) / 8;
    if ((size_t)(end - p) < 2 + bytes || n_exc > n) return NULL;
    p += 2;
    uint64_t acc = 0, mask = b >= 32 ? 0xffffffffu : ((1u << b) - 1);
    unsigned nb = 0;
    for (uint32_t i = 0; i < n; i++) {
        while (nb < b) {
            acc |= (uint64_t)*p++ << nb;
            nb += 8;
        }
        out[i] = (uint32_t)(acc & mask);
        acc >>= b;
        nb -= b;
    }
    return nx_pfor_patch(p, end, b, n_exc, n, out);
}

/* Skips a PFOR block without unpacking it; NULL when it does not fit. */
static NX_PFOR_DECODER const uint8_t *nx_pfor_skip(const uint8_t *p, const uint8_t *end) {
    if (end - p < 2 || p[0] > 32 || (size_t)(end - p) < 2 + nx_pack_bytes(p[0])) return NULL;
    unsigned n_exc = p[1];
    p += 2 + nx_pack_bytes(p[0]);
    if (n_exc == 0) return p;
    if (p >= end) return NULL;
    size_t bytes = ((size_t)n_exc * (7u + *p) + 7) / 8;
    if ((size_t)(end - p) - 1 < bytes) return NULL;
    return p + 1 + bytes;
}

#endif
