/* codec_bench — throughput of nx_unpack128 (values/s) per bit width, plus
 * nx_pack128 and nx_delta_decode for comparison.
 *
 *   build/bench/codec_bench [MILLION_VALUES_PER_WIDTH]   (default 200)
 *
 * Decodes a ring of 64 packed blocks (at most 32 KB: stays in L1/L2) so the
 * figure is the decoder's speed, not memory bandwidth. A checksum of the
 * output keeps the compiler from dropping the work. Timings on a shared
 * machine are noisy: compare widths within one run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/codec.h"

#define RING 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    double millions = argc > 1 ? atof(argv[1]) : 200;
    if (millions <= 0) {
        fprintf(stderr, "usage: codec_bench [MILLION_VALUES_PER_WIDTH]\n");
        return 2;
    }
    uint64_t blocks = (uint64_t)(millions * 1e6 / NX_BLOCK);
    uint8_t *packed = malloc((size_t)RING * 4 * NX_BLOCK);
    uint32_t *values = malloc((size_t)RING * NX_BLOCK * sizeof *values);
    if (!packed || !values) {
        fprintf(stderr, "codec_bench: out of memory\n");
        return 1;
    }
    uint64_t x = 88172645463325252ull;
    uint32_t out[NX_BLOCK];
    uint64_t sum = 0;
    printf("%-6s %14s %14s\n", "bits", "unpack Mv/s", "pack Mv/s");
    static const unsigned widths[] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 24, 32};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        unsigned bits = widths[w];
        uint32_t mask = bits == 32 ? 0xffffffffu : (1u << bits) - 1;
        for (size_t i = 0; i < (size_t)RING * NX_BLOCK; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            values[i] = (uint32_t)x & mask;
        }
        size_t stride = nx_pack_bytes(bits);
        double t0 = now();
        for (uint64_t b = 0; b < blocks / 4; b++)
            nx_pack128(values + (b % RING) * NX_BLOCK, bits, packed + (b % RING) * stride);
        double t1 = now();
        for (uint64_t b = 0; b < blocks; b++) {
            nx_unpack128(packed + (b % RING) * stride, bits, out);
            sum += out[b & (NX_BLOCK - 1)];
        }
        double t2 = now();
        printf("%-6u %14.0f %14.0f\n", bits, blocks * NX_BLOCK / (t2 - t1) / 1e6,
               blocks / 4 * NX_BLOCK / (t1 - t0) / 1e6);
    }
    /* Prefix sum of gaps: the other half of decoding a doc-id block. */
    for (size_t i = 0; i < (size_t)RING * NX_BLOCK; i++) values[i] &= 15;
    double t0 = now();
    for (uint64_t b = 0; b < blocks; b++) {
        nx_delta_decode(values + (b % RING) * NX_BLOCK, NX_BLOCK, (uint32_t)b, out);
        sum += out[b & (NX_BLOCK - 1)];
    }
    double t1 = now();
    printf("delta_decode %8.0f Mv/s\n", blocks * NX_BLOCK / (t1 - t0) / 1e6);
    printf("checksum %llu\n", (unsigned long long)sum);
    free(packed);
    free(values);
    return 0;
}
