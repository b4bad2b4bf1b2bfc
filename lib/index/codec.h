/* index/codec — postings compression: bit-packed frame-of-reference blocks
 * of 128 integers, and varint tails. Knows nothing of terms or queries.
 * Byte layout: docs/FORMAT.md, "Postings blocks". */
#ifndef NX_CODEC_H
#define NX_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define NX_BLOCK 128

/* Bits needed for the largest of n values (0..32). */
unsigned nx_bits_needed(const uint32_t *v, size_t n);

/* Packs NX_BLOCK values of `bits` bits each into out, which must hold
 * nx_pack_bytes(bits) bytes; bits above the width are dropped. bits = 0
 * writes nothing. Layout: 4 interleaved lanes of LSB-first u32 words
 * (value i is lane i%4), see codec.c and docs/FORMAT.md ("Building blocks"). */
static inline size_t nx_pack_bytes(unsigned bits) { return (size_t)bits * NX_BLOCK / 8; }
void nx_pack128(const uint32_t *in, unsigned bits, uint8_t *out);
/* Unpacks NX_BLOCK values; reads exactly nx_pack_bytes(bits) bytes.
 * Written so the compiler vectorizes it (one specialised loop per width). */
void nx_unpack128(const uint8_t *in, unsigned bits, uint32_t *out);

/* Delta helpers over doc ids: out[i] = in[i] - in[i-1] - 1 (first from base).
 * Gaps minus one, so consecutive doc ids cost 0 bits. base is the doc before
 * the first one; pass UINT32_MAX when there is none (doc 0 -> gap 0: the
 * arithmetic wraps modulo 2^32 on purpose). */
void nx_delta_encode(const uint32_t *docs, size_t n, uint32_t base, uint32_t *gaps);
void nx_delta_decode(const uint32_t *gaps, size_t n, uint32_t base, uint32_t *docs);

#endif
