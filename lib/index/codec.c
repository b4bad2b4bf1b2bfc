/* index/codec — bit packing of 128-integer blocks and doc-id deltas.
 *
 * Byte layout (docs/FORMAT.md, "Postings blocks"; details in
 * docs/FORMAT.md ("Building blocks"), "Bit-packed blocks"): a block of NX_BLOCK values at
 * width b is 4*b little-endian u32 words W[0 .. 4b), i.e. 16*b bytes. The
 * values are dealt to 4 interleaved lanes: value i belongs to lane i % 4 as
 * that lane's value j = i / 4. Lane l owns the words W[l], W[4+l], W[8+l],
 * ... which form one LSB-first bit stream (word k of the lane = stream bits
 * 32k..32k+31); lane value j occupies stream bits [j*b, (j+1)*b).
 * Why interleaved (as SIMD-BP128 and Lucene's ForUtil): the four lanes of a
 * step use the same shift and mask, so one SSE2 instruction decodes four
 * values; the plain sequential bit stream needs a different shift per value
 * and stays scalar (unpack speed: bench/README.md, "History of measured
 * choices").
 *
 * Speed: the generic loop below is instantiated once per width with a
 * compile-time constant `bits` (a switch picks the instance), so every
 * shift, mask and word index is a constant and the 32-value inner loop is
 * fully unrolled into straight-line loads/shifts/ors. bench/codec_bench.c
 * measures it; the figures and gcc's vectorization report are in
 * bench/README.md ("History of measured choices"). */
#include "codec.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "util/util.h"

#define NX_LANES 4

unsigned nx_bits_needed(const uint32_t *v, size_t n) {
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= v[i];
    return acc ? 32u - (unsigned)__builtin_clz(acc) : 0u;
}

static inline uint32_t load_word(const uint8_t *p) {
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

/* Unpacks NX_BLOCK values of `bits` bits (1..32). The words are first
 * copied to a local array: the compiler then knows that storing to out
 * cannot change them (in is a uint8_t pointer, which may alias anything)
 * and vectorizes the four lanes with one 128-bit shift/or/and per step;
 * loading straight from `in` measured 3-4x slower (scalar code). */
static inline __attribute__((always_inline)) void unpack128(const uint8_t *in, uint32_t *out,
                                                            const unsigned bits) {
    const uint32_t mask = width_mask(bits);
    uint32_t w[NX_LANES * 32];
#pragma GCC unroll 128
    for (unsigned k = 0; k < NX_LANES * bits; k++) w[k] = load_word(in + 4 * k);
#pragma GCC unroll 32
    for (unsigned j = 0; j < NX_BLOCK / NX_LANES; j++) {
        const unsigned bit = j * bits, word = bit >> 5, shift = bit & 31;
        for (unsigned l = 0; l < NX_LANES; l++) {
            uint32_t v = w[NX_LANES * word + l] >> shift;
            if (shift + bits > 32) v |= w[NX_LANES * (word + 1) + l] << (32 - shift);
            out[NX_LANES * j + l] = v & mask;
        }
    }
}

/* Packs NX_BLOCK values into exactly 4*bits words; bits above the width are
 * dropped (callers pass values that fit: nx_bits_needed). */
static inline __attribute__((always_inline)) void pack128(const uint32_t *in, uint8_t *out,
                                                          const unsigned bits) {
    const uint32_t mask = width_mask(bits);
    uint32_t w[NX_LANES * 32];
    memset(w, 0, (size_t)NX_LANES * 4 * bits);
#pragma GCC unroll 32
    for (unsigned j = 0; j < NX_BLOCK / NX_LANES; j++) {
        const unsigned bit = j * bits, word = bit >> 5, shift = bit & 31;
        for (unsigned l = 0; l < NX_LANES; l++) {
            const uint32_t v = in[NX_LANES * j + l] & mask;
            w[NX_LANES * word + l] |= v << shift;
            if (shift + bits > 32) w[NX_LANES * (word + 1) + l] |= v >> (32 - shift);
        }
    }
    for (unsigned k = 0; k < NX_LANES * bits; k++) store_word(out + 4 * k, w[k]);
}

#define NX_WIDTHS(X)                                                                    \
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
    X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30)  \
    X(31)

#define NX_UNPACK_CASE(b)                                                               \
    case b: unpack128(in, out, b); return;
#define NX_PACK_CASE(b)                                                                 \
    case b: pack128(in, out, b); return;

void nx_unpack128(const uint8_t *in, unsigned bits, uint32_t *out) {
    switch (bits) {
        NX_WIDTHS(NX_UNPACK_CASE)
    case 32: /* at full width the lanes put value i in word i: a copy */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        for (unsigned i = 0; i < NX_BLOCK; i++) out[i] = load_word(in + 4 * i);
#else
        memcpy(out, in, NX_BLOCK * 4);
#endif
        return;
    default: /* 0, and (defensively) any invalid width: all zeros */
        memset(out, 0, NX_BLOCK * sizeof *out);
        return;
    }
}

void nx_pack128(const uint32_t *in, unsigned bits, uint8_t *out) {
    switch (bits) {
        NX_WIDTHS(NX_PACK_CASE)
    case 32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        for (unsigned i = 0; i < NX_BLOCK; i++) store_word(out + 4 * i, in[i]);
#else
        memcpy(out, in, NX_BLOCK * 4);
#endif
        return;
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
    size_t i = 0;
#if defined(__SSE2__)
    /* Prefix sum four at a time (two shifted adds within a vector, then the
     * running total): the scalar loop's dependency chain ran at ~3.5 G
     * values/s, five times slower than unpacking. */
    const __m128i one = _mm_set1_epi32(1);
    __m128i run = _mm_set1_epi32((int)prev);
    for (; i + 4 <= n; i += 4) {
        __m128i v = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(gaps + i)), one);
        v = _mm_add_epi32(v, _mm_slli_si128(v, 4));
        v = _mm_add_epi32(v, _mm_slli_si128(v, 8));
        v = _mm_add_epi32(v, run);
        _mm_storeu_si128((__m128i *)(docs + i), v);
        run = _mm_shuffle_epi32(v, 0xff);
    }
    prev = (uint32_t)_mm_cvtsi128_si32(run);
#endif
    for (; i < n; i++) {
        prev += gaps[i] + 1u;
        docs[i] = prev;
    }
}
