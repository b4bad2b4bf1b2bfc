/* Postings codec: bit packing of 128-value blocks at every width 0..32 and
 * doc-id deltas (gaps minus one). Layout: docs/FORMAT.md ("Building blocks"). */
#include "common.h"
#include <stdlib.h>
#include <string.h>

#include "index/codec.h"

/* Deterministic xorshift so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void) {
    return (uint32_t)(nxt_xorshift64(&rng_state) >> 11);
}

static uint32_t mask_of(unsigned bits) { return bits >= 32 ? 0xffffffffu : (1u << bits) - 1u; }

/* Packs in at `bits` into a buffer with guard bytes on both sides, checks
 * exactly nx_pack_bytes(bits) bytes were touched, unpacks and compares. */
static void check_round_trip(const uint32_t *in, unsigned bits) {
    uint8_t buf[16 + 4 * NX_BLOCK + 16];
    memset(buf, 0xA5, sizeof buf);
    nx_pack128(in, bits, buf + 16);
    size_t nb = nx_pack_bytes(bits);
    for (size_t i = 0; i < 16; i++) {
        ck_assert_uint_eq(buf[i], 0xA5);
        ck_assert_uint_eq(buf[16 + nb + i], 0xA5);
    }
    uint32_t out[NX_BLOCK + 1];
    out[NX_BLOCK] = 0xdeadbeef;
    nx_unpack128(buf + 16, bits, out);
    ck_assert_uint_eq(out[NX_BLOCK], 0xdeadbeef);
    for (unsigned i = 0; i < NX_BLOCK; i++) ck_assert_uint_eq(out[i], in[i] & mask_of(bits));
}

START_TEST(test_pack_bytes_is_sixteen_bytes_per_bit) {
    for (unsigned b = 0; b <= 32; b++) ck_assert_uint_eq(nx_pack_bytes(b), 16u * b);
}
END_TEST

START_TEST(test_random_values_round_trip_at_every_width) {
    uint32_t in[NX_BLOCK];
    for (unsigned bits = 0; bits <= 32; bits++) {
        for (int rep = 0; rep < 50; rep++) {
            for (unsigned i = 0; i < NX_BLOCK; i++) in[i] = rnd32() & mask_of(bits);
            check_round_trip(in, bits);
            ck_assert_uint_le(nx_bits_needed(in, NX_BLOCK), bits);
        }
    }
}
END_TEST

START_TEST(test_zeros_and_maximum_values_round_trip_at_every_width) {
    uint32_t in[NX_BLOCK];
    for (unsigned bits = 0; bits <= 32; bits++) {
        memset(in, 0, sizeof in);
        check_round_trip(in, bits);
        for (unsigned i = 0; i < NX_BLOCK; i++) in[i] = mask_of(bits);
        check_round_trip(in, bits);
        ck_assert_uint_eq(nx_bits_needed(in, NX_BLOCK), bits);
        /* Alternating max/0 and a single max at every position catch a
         * value bleeding into its neighbour across a word boundary. */
        for (unsigned i = 0; i < NX_BLOCK; i++) in[i] = (i & 1) ? mask_of(bits) : 0;
        check_round_trip(in, bits);
        for (unsigned pos = 0; pos < NX_BLOCK; pos++) {
            memset(in, 0, sizeof in);
            in[pos] = mask_of(bits);
            check_round_trip(in, bits);
        }
    }
}
END_TEST

START_TEST(test_packed_layout_is_four_interleaved_lsb_first_lanes) {
    /* Reference (docs/FORMAT.md ("Building blocks")): value i is value j = i/4 of lane
     * l = i%4; bit t of lane l's stream is bit t%32 of u32 word 4*(t/32)+l. */
    uint32_t in[NX_BLOCK];
    uint8_t got[4 * NX_BLOCK], want[4 * NX_BLOCK];
    for (unsigned bits = 1; bits <= 32; bits++) {
        for (unsigned i = 0; i < NX_BLOCK; i++) in[i] = rnd32() & mask_of(bits);
        memset(want, 0, sizeof want);
        for (unsigned i = 0; i < NX_BLOCK; i++)
            for (unsigned k = 0; k < bits; k++)
                if (in[i] >> k & 1) {
                    unsigned lane = i % 4, t = (i / 4) * bits + k;
                    unsigned byte = 4 * (4 * (t / 32) + lane) + (t % 32) / 8;
                    want[byte] |= (uint8_t)(1u << (t % 8));
                }
        nx_pack128(in, bits, got);
        ck_assert_mem_eq(got, want, nx_pack_bytes(bits));
    }
}
END_TEST

START_TEST(test_pack_drops_bits_above_the_width) {
    uint32_t in[NX_BLOCK];
    for (unsigned bits = 0; bits < 32; bits++) {
        for (unsigned i = 0; i < NX_BLOCK; i++) in[i] = 0xffffffffu;
        check_round_trip(in, bits); /* compares with in & mask */
    }
}
END_TEST

START_TEST(test_bits_needed_matches_largest_value) {
    uint32_t v[3] = {0, 0, 0};
    ck_assert_uint_eq(nx_bits_needed(v, 0), 0);
    ck_assert_uint_eq(nx_bits_needed(v, 3), 0);
    v[1] = 1;
    ck_assert_uint_eq(nx_bits_needed(v, 3), 1);
    v[2] = 127;
    ck_assert_uint_eq(nx_bits_needed(v, 3), 7);
    v[0] = 128;
    ck_assert_uint_eq(nx_bits_needed(v, 3), 8);
    v[0] = 0x80000000u;
    ck_assert_uint_eq(nx_bits_needed(v, 3), 32);
    v[0] = 0xffffffffu;
    ck_assert_uint_eq(nx_bits_needed(v, 1), 32);
    for (unsigned b = 1; b <= 32; b++) {
        uint32_t x = 1u << (b - 1);
        ck_assert_uint_eq(nx_bits_needed(&x, 1), b);
    }
}
END_TEST

START_TEST(test_consecutive_doc_ids_cost_zero_bits) {
    uint32_t docs[NX_BLOCK], gaps[NX_BLOCK], back[NX_BLOCK];
    for (unsigned i = 0; i < NX_BLOCK; i++) docs[i] = 1000 + i;
    nx_delta_encode(docs, NX_BLOCK, 999, gaps);
    ck_assert_uint_eq(nx_bits_needed(gaps, NX_BLOCK), 0);
    nx_delta_decode(gaps, NX_BLOCK, 999, back);
    ck_assert_mem_eq(back, docs, sizeof docs);
}
END_TEST

START_TEST(test_doc_zero_with_no_previous_doc_is_gap_zero) {
    uint32_t docs[3] = {0, 1, 5}, gaps[3], back[3];
    nx_delta_encode(docs, 3, UINT32_MAX, gaps);
    ck_assert_uint_eq(gaps[0], 0);
    ck_assert_uint_eq(gaps[1], 0);
    ck_assert_uint_eq(gaps[2], 3);
    nx_delta_decode(gaps, 3, UINT32_MAX, back);
    ck_assert_mem_eq(back, docs, sizeof docs);
}
END_TEST

START_TEST(test_gaps_of_two_to_the_31_round_trip_through_packing) {
    uint32_t docs[2] = {0, 0x80000000u}, gaps[2], back[2];
    nx_delta_encode(docs, 2, UINT32_MAX, gaps);
    ck_assert_uint_eq(gaps[1], 0x7fffffffu);
    nx_delta_decode(gaps, 2, UINT32_MAX, back);
    ck_assert_mem_eq(back, docs, sizeof docs);

    /* Largest doc id reachable: UINT32_MAX - 1 (UINT32_MAX is NX_NO_DOC). */
    uint32_t d2[NX_BLOCK], g2[NX_BLOCK], u2[NX_BLOCK], b2[NX_BLOCK];
    for (unsigned i = 0; i < NX_BLOCK; i++) d2[i] = i;
    d2[NX_BLOCK - 1] = 0xfffffffeu;
    d2[NX_BLOCK - 2] = 0x80000000u + 200;
    nx_delta_encode(d2, NX_BLOCK, UINT32_MAX, g2);
    unsigned bits = nx_bits_needed(g2, NX_BLOCK);
    ck_assert_uint_eq(bits, 32); /* the jump 126 -> 2^31+200 needs all 32 */
    uint8_t packed[4 * NX_BLOCK];
    nx_pack128(g2, bits, packed);
    nx_unpack128(packed, bits, u2);
    nx_delta_decode(u2, NX_BLOCK, UINT32_MAX, b2);
    ck_assert_mem_eq(b2, d2, sizeof d2);
}
END_TEST

START_TEST(test_random_sorted_doc_ids_round_trip_through_delta_and_packing) {
    for (int rep = 0; rep < 200; rep++) {
        uint32_t docs[NX_BLOCK], gaps[NX_BLOCK], un[NX_BLOCK], back[NX_BLOCK];
        unsigned maxgap_bits = (unsigned)(rep % 25) + 1;
        uint32_t base = rnd32() % 1000, d = base;
        for (unsigned i = 0; i < NX_BLOCK; i++) {
            d += 1 + (rnd32() & mask_of(maxgap_bits));
            docs[i] = d;
        }
        nx_delta_encode(docs, NX_BLOCK, base, gaps);
        unsigned bits = nx_bits_needed(gaps, NX_BLOCK);
        ck_assert_uint_le(bits, maxgap_bits);
        uint8_t packed[4 * NX_BLOCK];
        nx_pack128(gaps, bits, packed);
        nx_unpack128(packed, bits, un);
        nx_delta_decode(un, NX_BLOCK, base, back);
        ck_assert_mem_eq(back, docs, sizeof docs);
    }
}
END_TEST

START_TEST(test_delta_decode_matches_its_definition_at_every_length) {
    /* Lengths around the 4-wide vector loop and its scalar tail, wrapping
     * sums included. */
    uint32_t gaps[140] = {0}, docs[141], want[140];
    for (size_t n = 0; n <= 140; n++) {
        uint32_t base = n % 3 == 0 ? UINT32_MAX : rnd32();
        for (size_t i = 0; i < n; i++) gaps[i] = n % 5 == 0 ? rnd32() : rnd32() % 1000;
        uint32_t prev = base;
        for (size_t i = 0; i < n; i++) want[i] = prev = prev + gaps[i] + 1u;
        docs[n] = 0xabcdef01u;
        nx_delta_decode(gaps, n, base, docs);
        if (n) ck_assert_mem_eq(docs, want, n * sizeof *docs);
        ck_assert_uint_eq(docs[n], 0xabcdef01u);
    }
}
END_TEST

START_TEST(test_delta_of_empty_list_writes_nothing) {
    uint32_t sentinel = 42;
    nx_delta_encode(NULL, 0, 0, &sentinel);
    nx_delta_decode(NULL, 0, 0, &sentinel);
    ck_assert_uint_eq(sentinel, 42);
}
END_TEST

int main(void) {
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pack_bytes_is_sixteen_bytes_per_bit);
    tcase_add_test(tc, test_random_values_round_trip_at_every_width);
    tcase_add_test(tc, test_zeros_and_maximum_values_round_trip_at_every_width);
    tcase_add_test(tc, test_packed_layout_is_four_interleaved_lsb_first_lanes);
    tcase_add_test(tc, test_pack_drops_bits_above_the_width);
    tcase_add_test(tc, test_bits_needed_matches_largest_value);
    tcase_add_test(tc, test_consecutive_doc_ids_cost_zero_bits);
    tcase_add_test(tc, test_doc_zero_with_no_previous_doc_is_gap_zero);
    tcase_add_test(tc, test_gaps_of_two_to_the_31_round_trip_through_packing);
    tcase_add_test(tc, test_random_sorted_doc_ids_round_trip_through_delta_and_packing);
    tcase_add_test(tc, test_delta_decode_matches_its_definition_at_every_length);
    tcase_add_test(tc, test_delta_of_empty_list_writes_nothing);
    suite_add_tcase(s, tc);
    return nxt_run(s, CK_FORK_GETENV);
}
