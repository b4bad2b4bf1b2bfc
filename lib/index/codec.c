/* index/codec — bit packing of 128-integer blocks and doc-id deltas.
 *
 * Byte layout (docs/FORMAT.md, "Postings blocks"; details in
 * docs/FORMAT-blocks.md, "Bit-packed blocks"): a block of NX_BLOCK values at
 * width b is one little-endian bit stream of 128*b bits = 16*b bytes; value
 * i occupies bits [i*b, (i+1)*b), least significant bit first. Equivalently:
 * 32 consecutive values fill exactly b little-endian u32 words, value i of a
 * group starting at bit (i*b)%32 of word (i*b)/32 and spilling into the next
 * word when it crosses a word boundary.
 *
 * Speed: the generic loop below is instantiated once per width with a
 * compile-time constant `bits` (a switch picks the instance), so every
 * shift, mask and word index is a constant and the 32-value inner loop is
 * fully unrolled into straight-line loads/shifts/ors. bench/codec_bench.c
 * measures it; the figures and gcc's vectorization report are in
 * docs/FORMAT-blocks.md. */
#include "codec.h"

#include <string.h>

#include "util/util.h"

unsigned nx_bits_needed(const uint32_t *v, size_t n) {
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= v[i];
    return acc ? 32u - (unsigned)__builtin_clz(acc) : 0u;
}

static inline uint32_t load_word(const uint8_t *p) {
    /* memcpy + le conversion compiles to one mov on little-endian hosts. */
    uint32_t w;
    memcpy(&w, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap32(w);
#endif
    return w;
}

static inline void store_word(uint8_t *p, uint32_t w) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap32(w);
#endif
    memcpy(p, &w, 4);
}

static inline uint32_t width_mask(const unsigned bits) {
    return bits >= 32 ? 0xffffffffu : ((1u << bits) - 1u);
}

/* Unpacks 32 values of `bits` bits (1..32) from exactly `bits` words. */
static inline __attribute__((always_inline)) void unpack32(const uint8_t *in, uint32_t *out,
                                                           const unsigned bits) {
    const uint32_t mask = width_mask(bits);
#pragma GCC unroll 32
    for (unsigned i = 0; i < 32; i++) {
        const unsigned bit = i * bits, word = bit >> 5, shift = bit & 31;
        uint32_t v = load_word(in + 4 * word) >> shift;
        if (shift + bits > 32) v |= load_word(in + 4 * (word + 1)) << (32 - shift);
        out[i] = v & mask;
    }
}

static inline __attribute__((always_inline)) void unpack128(const uint8_t *in, uint32_t *out,
                                                            const unsigned bits) {
    for (unsigned g = 0; g < NX_BLOCK / 32; g++) unpack32(in + g * 4 * bits, out + g * 32, bits);
}

/* Packs 32 values into exactly `bits` words; high bits beyond the width are
 * dropped (callers pass values that fit: nx_bits_needed). */
static inline __attribute__((always_inline)) void pack32(const uint32_t *in, uint8_t *out,
                                                         const unsigned bits) {
    const uint32_t mask = width_mask(bits);
    uint32_t words[32];
    for (unsigned k = 0; k < bits; k++) words[k] = 0;
#pragma GCC unroll 32
    for (unsigned i = 0; i < 32; i++) {
        const unsigned bit = i * bits, word = bit >> 5, shift = bit & 31;
        const uint32_t v = in[i] & mask;
        words[word] |= v << shift;
        if (shift + bits > 32) words[word + 1] |= v >> (32 - shift);
    }
    for (unsigned k = 0; k < bits; k++) store_word(out + 4 * k, words[k]);
}

static inline __attribute__((always_inline)) void pack128(const uint32_t *in, uint8_t *out,
                                                          const unsigned bits) {
    for (unsigned g = 0; g < NX_BLOCK / 32; g++) pack32(in + g * 32, out + g * 4 * bits, bits);
}

#define NX_WIDTHS(X)                                                                    \
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
    X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30)  \
    X(31) X(32)

#define NX_UNPACK_CASE(b)                                                               \
    case b: unpack128(in, out, b); return;
#define NX_PACK_CASE(b)                                                                 \
    case b: pack128(in, out, b); return;

void nx_unpack128(const uint8_t *in, unsigned bits, uint32_t *out) {
    switch (bits) {
        NX_WIDTHS(NX_UNPACK_CASE)
    default: /* 0, and (defensively) any invalid width: all zeros */
        memset(out, 0, NX_BLOCK * sizeof *out);
        return;
    }
}

void nx_pack128(const uint32_t *in, unsigned bits, uint8_t *out) {
    switch (bits) {
        NX_WIDTHS(NX_PACK_CASE)
    default: return; /* 0 bits: nothing to write */
    }
}

void nx_delta_encode(const uint32_t *docs, size_t n, uint32_t base, uint32_t *gaps) {
    /* Unsigned wrap-around is intended: base UINT32_MAX ("no previous doc")
     * makes doc 0 a gap of 0. */
    uint32_t prev = base;
    for (size_t i = 0; i < n; i++) {
        gaps[i] = docs[i] - prev - 1u;
        prev = docs[i];
    }
}

void nx_delta_decode(const uint32_t *gaps, size_t n, uint32_t base, uint32_t *docs) {
    uint32_t prev = base;
    for (size_t i = 0; i < n; i++) {
        prev += gaps[i] + 1u;
        docs[i] = prev;
    }
}
