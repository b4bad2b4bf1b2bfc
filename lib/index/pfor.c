/* index/pfor — the PFOR encoders (the decoders are inline in pfor.h):
 * choosing the width b that makes a block smallest, packing the low bits,
 * writing the exception list. Byte layout: docs/FORMAT.md, "Packed blocks:
 * PFOR and TAIL_PFOR". */
#include "index/pfor.h"

#include <stdbool.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__SSE2__)
/* gt[b] = values of the block v wider than b bits, for b < maxw, when
 * every value is below 2^15 (maxw <= 15: most blocks of doc gaps, freqs
 * and position deltas): the block packed to 16-bit lanes, one compare per
 * lane and threshold, instead of a histogram of 128 widths. */
static void pfor_count_wider_i16(const uint32_t *v, unsigned maxw, uint32_t *gt) {
    __m128i x[NX_BLOCK / 8];
    for (unsigned i = 0; i < NX_BLOCK / 8; i++) {
        const __m128i *q = (const __m128i *)(v + 8 * i);
        x[i] = _mm_packs_epi32(_mm_loadu_si128(q), _mm_loadu_si128(q + 1)); /* exact */
    }
    for (unsigned b = 0; b < maxw; b++) {
        __m128i t = _mm_set1_epi16((short)((1u << b) - 1)), acc = _mm_setzero_si128();
        for (unsigned i = 0; i < NX_BLOCK / 8; i++) /* x > 2^b - 1: -1 per lane */
            acc = _mm_sub_epi16(acc, _mm_cmpgt_epi16(x[i], t));
        __m128i s4 = _mm_madd_epi16(acc, _mm_set1_epi16(1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        gt[b] = (uint32_t)_mm_cvtsi128_si32(s4);
    }
}
#endif

/* Chooses b for the n values of v: the width that minimises the block's
 * exact size (the 2 header bytes are the same for every b); *e gets the
 * exceptions' high-part width, *n_exc their number. */
static unsigned pfor_choose(const uint32_t *v, uint32_t n, bool full, unsigned *e,
                            unsigned *n_exc) {
    /* gt[b]: values wider than b bits */
    uint32_t gt[33];
    unsigned maxw;
#if defined(__SSE2__)
    if (n <= NX_BLOCK) {
        /* a tail is counted as a block padded with zeros, which are no
         * wider than any b */
        uint32_t padded[NX_BLOCK];
        const uint32_t *blk = v;
        if (n < NX_BLOCK) {
            memcpy(padded, v, sizeof *v * n);
            memset(padded + n, 0, sizeof *v * (NX_BLOCK - n));
            blk = padded;
        }
        __m128i o = _mm_setzero_si128();
        for (uint32_t i = 0; i < NX_BLOCK; i += 4)
            o = _mm_or_si128(o, _mm_loadu_si128((const __m128i *)(blk + i)));
        o = _mm_or_si128(o, _mm_shuffle_epi32(o, 0x4e));
        o = _mm_or_si128(o, _mm_shuffle_epi32(o, 0xb1));
        uint32_t all = (uint32_t)_mm_cvtsi128_si32(o);
        maxw = all ? 32u - (unsigned)__builtin_clz(all) : 0;
        if (maxw <= 15) {
            pfor_count_wider_i16(blk, maxw, gt);
            gt[maxw] = 0;
            goto choose;
        }
    }
#endif
    {
        /* widths without a branch on zero (a mispredicted one, half the
         * blocks hold zeros), four histograms so that equal widths in a row
         * do not wait for each other's increments */
        uint32_t hist[4][33] = {{0}};
        uint32_t all = 0;
        uint32_t i = 0;
        for (; i + 4 <= n; i += 4) {
            for (unsigned l = 0; l < 4; l++) {
                uint32_t x = v[i + l];
                all |= x;
                hist[l][(32u - (unsigned)__builtin_clz(x | 1)) & -(unsigned)(x != 0)]++;
            }
        }
        for (; i < n; i++) {
            all |= v[i];
            hist[0][(32u - (unsigned)__builtin_clz(v[i] | 1)) & -(unsigned)(v[i] != 0)]++;
        }
        maxw = all ? 32u - (unsigned)__builtin_clz(all) : 0;
        gt[maxw] = 0;
        for (unsigned w = maxw; w-- > 0;)
            gt[w] = gt[w + 1] + hist[0][w + 1] + hist[1][w + 1] + hist[2][w + 1] + hist[3][w + 1];
    }
#if defined(__SSE2__)
choose:;
#endif
    unsigned best = maxw, best_ne = 0;
    size_t best_cost = SIZE_MAX;
    for (unsigned b = maxw + 1; b-- > 0;) {
        uint32_t ne = gt[b]; /* values wider than b */
        size_t cost = full ? nx_pack_bytes(b) : ((size_t)n * b + 7) / 8;
        if (ne) cost += 1 + ((size_t)ne * (7 + maxw - b) + 7) / 8;
        /* strict: on a tie the wider b, whose block decodes without patches */
        if (cost < best_cost) {
            best_cost = cost;
            best = b;
            best_ne = ne;
        }
    }
    *e = maxw - best;
    *n_exc = best_ne;
    return best;
}

/* Appends the exception list of values wider than b (e = high-part width):
 * u8 e, then an LSB-first bit stream of n_exc fields of 7 + e bits,
 * index | (value >> b) << 7, in index order. */
static void put_exceptions(nx_buf *out, const uint32_t *v, uint32_t n, unsigned b, unsigned e) {
    unsigned w = 7 + e;
    uint8_t *o = out->data + out->len;
    *o++ = (uint8_t)e;
    /* bit i of exc: value i is wider than b (b < 32 here: a block of
     * width 32 has no exceptions) */
    uint64_t exc[2] = {0, 0};
    uint32_t i = 0;
#if defined(__SSE2__)
    __m128i sh = _mm_cvtsi32_si128((int)b), zero = _mm_setzero_si128();
    for (; i + 4 <= n; i += 4) {
        __m128i x = _mm_srl_epi32(_mm_loadu_si128((const __m128i *)(v + i)), sh);
        unsigned m = 15u & ~(unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, zero)));
        exc[i >> 6] |= (uint64_t)m << (i & 63);
    }
#endif
    for (; i < n; i++)
        if (v[i] >> b) exc[i >> 6] |= (uint64_t)1 << (i & 63);
    uint64_t acc = 0;
    unsigned nb = 0;
    for (unsigned h = 0; h < 2; h++) {
        for (uint64_t m = exc[h]; m; m &= m - 1) {
            uint32_t k = 64 * h + (uint32_t)__builtin_ctzll(m);
            acc |= ((uint64_t)(v[k] >> b) << 7 | k) << nb;
            nb += w;
            while (nb >= 8) {
                *o++ = (uint8_t)acc;
                acc >>= 8;
                nb -= 8;
            }
        }
    }
    if (nb) *o++ = (uint8_t)acc;
    out->len = (size_t)(o - out->data);
}

/* Appends NX_BLOCK values as a PFOR block: u8 b, u8 number of exceptions,
 * nx_pack128 of the low b bits, then the exception list when there is one.
 * b minimises the bytes, so a few large gaps do not widen all 128 values. */
int nx_pfor_encode(nx_buf *out, const uint32_t *v) {
    unsigned e, n_exc;
    unsigned b = pfor_choose(v, NX_BLOCK, true, &e, &n_exc);
    NX_FORWARD(nx_buf_reserve(out, 3 + nx_pack_bytes(b) + (size_t)NX_BLOCK * 5));
    out->data[out->len] = (uint8_t)b;
    out->data[out->len + 1] = (uint8_t)n_exc;
    out->len += 2;
    nx_pack128(v, b, out->data + out->len);
    out->len += nx_pack_bytes(b);
    if (n_exc) put_exceptions(out, v, NX_BLOCK, b, e);
    return 0;
}

/* A tail of n < NX_BLOCK values with n >= NX_TAIL_PACK_MIN: the same PFOR
 * layout, the low bits as a plain LSB-first bit stream of ceil(n*b/8)
 * bytes (FORMAT.md, "Packed tails"). Shorter tails stay varints: the
 * header bytes would cost more than they save. */
int nx_pfor_encode_tail(nx_buf *out, const uint32_t *v, uint32_t n) {
    unsigned e, n_exc;
    unsigned best = pfor_choose(v, n, false, &e, &n_exc);
    NX_FORWARD(nx_buf_reserve(out, 3 + ((size_t)n * best + 7) / 8 + (size_t)n * 5));
    out->data[out->len] = (uint8_t)best;
    out->data[out->len + 1] = (uint8_t)n_exc;
    out->len += 2;
    uint64_t acc = 0, mask = best >= 32 ? 0xffffffffu : ((1u << best) - 1);
    unsigned nb = 0;
    uint8_t *o = out->data + out->len;
    for (uint32_t i = 0; i < n; i++) { /* 4 bytes out at a time (nb < 32 + 32) */
        acc |= (uint64_t)(v[i] & mask) << nb;
        nb += best;
        if (nb >= 32) {
            nx_store_u32le(o, (uint32_t)acc);
            o += 4;
            acc >>= 32;
            nb -= 32;
        }
    }
    for (; nb > 0; nb = nb > 8 ? nb - 8 : 0) {
        *o++ = (uint8_t)acc;
        acc >>= 8;
    }
    out->len = (size_t)(o - out->data);
    if (n_exc) put_exceptions(out, v, n, best, e);
    return 0;
}
