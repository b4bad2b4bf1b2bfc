/* Term dictionary: exact and prefix lookups, ordering, limits, and corrupt
 * bytes giving errors instead of crashes. Layout: docs/FORMAT.md ("Building blocks"). */
#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "index/termdict.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd32(void) {
    return (uint32_t)(nxt_xorshift64(&rng_state) >> 11);
}

typedef struct term {
    uint8_t b[256];
    size_t len;
} term;

static int term_cmp(const void *a, const void *b) {
    const term *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, m);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Value of term i: 24 bytes derived from i, so a wrong value is noticed. */
#define VB 24
static void value_of(uint64_t i, uint8_t *v) {
    for (int k = 0; k < VB; k++) v[k] = (uint8_t)(i * 131 + (uint64_t)k * 7 + (i >> 8));
}

/* Sorted unique terms from make_term; returns how many. */
static size_t sort_unique(term *t, size_t n) {
    qsort(t, n, sizeof *t, term_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || term_cmp(&t[u - 1], &t[i]) != 0) t[u++] = t[i];
    return u;
}

static void build(const term *t, size_t n, nx_buf *out) {
    nx_termdict_builder *b;
    ck_assert_int_eq(nx_termdict_builder_create(VB, &b), 0);
    uint8_t v[VB];
    for (size_t i = 0; i < n; i++) {
        value_of(i, v);
        ck_assert_int_eq(nx_termdict_add(b, t[i].b, t[i].len, v), 0);
    }
    ck_assert_int_eq(nx_termdict_finish(b, out), 0);
    nx_termdict_builder_free(b);
}

static nx_termdict *open_ok(const nx_buf *buf) {
    nx_termdict *d = NULL;
    nx_err err = {0};
    int rc = nx_termdict_open(buf->data, buf->len, &err, &d);
    ck_assert_msg(rc == 0, "open failed: %s", err.msg);
    ck_assert_int_eq(nx_termdict_check(d, &err), 0);
    return d;
}

/* Every term found with its value, the iterator walks them all in order,
 * and seeking each term lands on it. */
static void check_all(const term *t, size_t n) {
    nx_buf buf = {0};
    build(t, n, &buf);
    nx_termdict *d = open_ok(&buf);
    ck_assert_uint_eq(nx_termdict_count(d), n);
    ck_assert_uint_eq(nx_termdict_value_bytes(d), VB);
    uint8_t v[VB], want[VB];
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(nx_termdict_get(d, t[i].b, t[i].len, v), 1);
        value_of(i, want);
        ck_assert_mem_eq(v, want, VB);
    }
    nx_termdict_iter it;
    int rc = nx_termdict_seek(d, NULL, 0, &it);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(rc, 1);
        ck_assert_uint_eq(it.term_len, t[i].len);
        ck_assert_mem_eq(it.term, t[i].b, t[i].len);
        value_of(i, want);
        ck_assert_uint_eq(it.value_len, VB);
        ck_assert_mem_eq(it.value, want, VB);
        rc = nx_termdict_next(&it);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(nx_termdict_next(&it), 0); /* stays at the end */
    for (size_t i = 0; i < n; i += 1 + n / 500) {
        ck_assert_int_eq(nx_termdict_seek(d, t[i].b, t[i].len, &it), 1);
        ck_assert_uint_eq(it.term_len, t[i].len);
        ck_assert_mem_eq(it.term, t[i].b, t[i].len);
    }
    nx_termdict_close(d);
    nx_buf_free(&buf);
}

static void numbered_terms(term *t, size_t n) {
    for (size_t i = 0; i < n; i++) t[i].len = (size_t)snprintf((char *)t[i].b, 256, "t%06zu", i);
}

START_TEST(test_empty_dictionary_finds_nothing) {
    nx_buf buf = {0};
    build(NULL, 0, &buf);
    nx_termdict *d = open_ok(&buf);
    ck_assert_uint_eq(nx_termdict_count(d), 0);
    uint8_t v[VB];
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"a", 1, v), 0);
    ck_assert_int_eq(nx_termdict_get(d, NULL, 0, v), 0);
    nx_termdict_iter it;
    ck_assert_int_eq(nx_termdict_seek(d, NULL, 0, &it), 0);
    ck_assert_int_eq(nx_termdict_seek(d, (const uint8_t *)"a", 1, &it), 0);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

START_TEST(test_single_term_is_found_and_neighbours_are_not) {
    term t[1];
    t[0].len = 5;
    memcpy(t[0].b, "hello", 5);
    check_all(t, 1);
    nx_buf buf = {0};
    build(t, 1, &buf);
    nx_termdict *d = open_ok(&buf);
    uint8_t v[VB];
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"hell", 4, v), 0);
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"hello!", 6, v), 0);
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"a", 1, v), 0);
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"z", 1, v), 0);
    nx_termdict_iter it;
    ck_assert_int_eq(nx_termdict_seek(d, (const uint8_t *)"hellp", 5, &it), 0);
    ck_assert_int_eq(nx_termdict_seek(d, (const uint8_t *)"hell", 4, &it), 1);
    ck_assert_mem_eq(it.term, "hello", 5);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

START_TEST(test_block_boundaries_keep_every_term_reachable) {
    static const size_t sizes[] = {2, 31, 32, 33, 63, 64, 65, 95, 96, 97, 1000};
    term *t = malloc(1000 * sizeof *t);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        numbered_terms(t, sizes[s]);
        check_all(t, sizes[s]);
    }
    free(t);
}
END_TEST

START_TEST(test_absent_terms_before_between_and_after_are_not_found) {
    term t[100];
    for (size_t i = 0; i < 100; i++) /* even numbers: odd ones are absent */
        t[i].len = (size_t)snprintf((char *)t[i].b, 256, "k%04zu", 2 * i + 2);
    nx_buf buf = {0};
    build(t, 100, &buf);
    nx_termdict *d = open_ok(&buf);
    uint8_t v[VB];
    char k[16];
    for (int i = 1; i < 204; i += 2) {
        int len = snprintf(k, sizeof k, "k%04d", i);
        ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)k, (size_t)len, v), 0);
        nx_termdict_iter it;
        int rc = nx_termdict_seek(d, (const uint8_t *)k, (size_t)len, &it);
        if (i < 200) {
            /* Lands on the next even term. */
            char want[16];
            int wl = snprintf(want, sizeof want, "k%04d", i + 1);
            ck_assert_int_eq(rc, 1);
            ck_assert_uint_eq(it.term_len, (size_t)wl);
            ck_assert_mem_eq(it.term, want, (size_t)wl);
        } else {
            ck_assert_int_eq(rc, 0);
        }
    }
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"", 0, v), 0);
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"k", 1, v), 0);
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"zzz", 3, v), 0);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

START_TEST(test_first_and_last_terms_are_found) {
    term t[500];
    numbered_terms(t, 500);
    nx_buf buf = {0};
    build(t, 500, &buf);
    nx_termdict *d = open_ok(&buf);
    uint8_t v[VB], want[VB];
    ck_assert_int_eq(nx_termdict_get(d, t[0].b, t[0].len, v), 1);
    value_of(0, want);
    ck_assert_mem_eq(v, want, VB);
    ck_assert_int_eq(nx_termdict_get(d, t[499].b, t[499].len, v), 1);
    value_of(499, want);
    ck_assert_mem_eq(v, want, VB);
    nx_termdict_iter it;
    ck_assert_int_eq(nx_termdict_seek(d, t[499].b, t[499].len, &it), 1);
    ck_assert_int_eq(nx_termdict_next(&it), 0);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

/* Walks the terms starting with prefix: what prefix queries do. */
static size_t count_prefix(const nx_termdict *d, const char *prefix) {
    size_t pl = strlen(prefix), n = 0;
    nx_termdict_iter it;
    int rc = nx_termdict_seek(d, (const uint8_t *)prefix, pl, &it);
    while (rc == 1 && it.term_len >= pl && memcmp(it.term, prefix, pl) == 0) {
        n++;
        rc = nx_termdict_next(&it);
    }
    ck_assert_int_ge(rc, 0);
    return n;
}

START_TEST(test_prefix_seek_walks_exactly_the_terms_with_that_prefix) {
    term t[1000];
    numbered_terms(t, 1000); /* t000000 .. t000999 */
    nx_buf buf = {0};
    build(t, 1000, &buf);
    nx_termdict *d = open_ok(&buf);
    ck_assert_uint_eq(count_prefix(d, "t0009"), 100);
    ck_assert_uint_eq(count_prefix(d, "t00012"), 10);
    ck_assert_uint_eq(count_prefix(d, "t000999"), 1);
    ck_assert_uint_eq(count_prefix(d, "t"), 1000);
    ck_assert_uint_eq(count_prefix(d, ""), 1000);
    ck_assert_uint_eq(count_prefix(d, "u"), 0);
    ck_assert_uint_eq(count_prefix(d, "a"), 0);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

START_TEST(test_hundred_thousand_random_terms_round_trip) {
    size_t n = 100000;
    term *t = malloc(n * sizeof *t);
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++) {
        t[i].len = 8 + rnd32() % 20;
        for (size_t k = 0; k < t[i].len; k++) t[i].b[k] = (uint8_t)('a' + rnd32() % 6);
    }
    n = sort_unique(t, n);
    ck_assert_uint_gt(n, 99000); /* few duplicates: the test covers ~100,000 terms */
    check_all(t, n);
    /* Random absent keys: found exactly when bsearch finds them. */
    nx_buf buf = {0};
    build(t, n, &buf);
    nx_termdict *d = open_ok(&buf);
    for (int r = 0; r < 20000; r++) {
        term k;
        k.len = 7 + rnd32() % 22;
        for (size_t j = 0; j < k.len; j++) k.b[j] = (uint8_t)('a' + rnd32() % 7);
        uint8_t v[VB];
        int want = bsearch(&k, t, n, sizeof *t, term_cmp) != NULL;
        ck_assert_int_eq(nx_termdict_get(d, k.b, k.len, v), want);
    }
    nx_termdict_close(d);
    nx_buf_free(&buf);
    free(t);
}
END_TEST

START_TEST(test_binary_terms_with_nul_and_high_bytes_sort_by_memcmp) {
    term t[300];
    for (size_t i = 0; i < 300; i++) {
        t[i].len = 1 + rnd32() % 8;
        for (size_t k = 0; k < t[i].len; k++) t[i].b[k] = (uint8_t)(rnd32() % 4 ? rnd32() : 0);
    }
    size_t n = sort_unique(t, 300);
    check_all(t, n);
}
END_TEST

/* A lookup remembers the first-term keys of the blocks it probed (their
 * first 7 bytes, zero-padded) and decides later probes by them when they
 * differ: terms made of NUL, 'a' and 'b' share long prefixes and differ
 * only in NUL padding ("ab" / "ab\0"), so equal keys must fall back to the
 * full comparison. Every answer agrees with bsearch, on a fresh dictionary
 * and once every probe has been remembered. */
START_TEST(test_remembered_block_heads_give_the_same_answers) {
    static const uint8_t alphabet[3] = {0, 'a', 'b'};
    static term t[4000];
    for (size_t i = 0; i < 4000; i++) {
        t[i].len = 1 + rnd32() % 10;
        for (size_t k = 0; k < t[i].len; k++) t[i].b[k] = alphabet[rnd32() % 3];
    }
    size_t n = sort_unique(t, 4000);
    nx_buf buf = {0};
    build(t, n, &buf);
    nx_termdict *d = open_ok(&buf);
    for (int pass = 0; pass < 3; pass++)
        for (int r = 0; r < 6000; r++) {
            term k;
            k.len = 1 + rnd32() % 11;
            for (size_t j = 0; j < k.len; j++) k.b[j] = alphabet[rnd32() % 3];
            uint8_t v[VB], want[VB];
            const term *hit = bsearch(&k, t, n, sizeof *t, term_cmp);
            ck_assert_int_eq(nx_termdict_get(d, k.b, k.len, v), hit != NULL);
            if (hit) {
                value_of((uint64_t)(hit - t), want);
                ck_assert_mem_eq(v, want, VB);
            }
        }
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

START_TEST(test_terms_of_255_bytes_are_kept_and_256_rejected) {
    term t[40];
    for (size_t i = 0; i < 40; i++) { /* long shared prefixes, then the max */
        t[i].len = 200 + i;
        memset(t[i].b, 'x', t[i].len);
        t[i].b[t[i].len - 1] = (uint8_t)('a' + i % 26);
    }
    t[39].len = 255;
    memset(t[39].b, 'y', 255);
    size_t n = sort_unique(t, 40);
    check_all(t, n);

    nx_termdict_builder *b;
    ck_assert_int_eq(nx_termdict_builder_create(4, &b), 0);
    uint8_t big[256], v[4] = {1, 2, 3, 4};
    memset(big, 'q', sizeof big);
    ck_assert_int_eq(nx_termdict_add(b, big, 256, v), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(nx_termdict_add(b, big, 255, v), 0);
    nx_termdict_builder_free(b);
}
END_TEST

START_TEST(test_terms_out_of_order_or_repeated_are_rejected) {
    nx_termdict_builder *b;
    ck_assert_int_eq(nx_termdict_builder_create(0, &b), 0);
    ck_assert_int_eq(nx_termdict_add(b, (const uint8_t *)"b", 1, NULL), 0);
    ck_assert_int_eq(nx_termdict_add(b, (const uint8_t *)"b", 1, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(nx_termdict_add(b, (const uint8_t *)"a", 1, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(nx_termdict_add(b, (const uint8_t *)"ba", 2, NULL), 0);
    nx_buf buf = {0};
    ck_assert_int_eq(nx_termdict_finish(b, &buf), 0);
    nx_termdict_builder_free(b);
    nx_termdict *d = open_ok(&buf);
    ck_assert_uint_eq(nx_termdict_count(d), 2);
    ck_assert_int_eq(nx_termdict_get(d, (const uint8_t *)"ba", 2, NULL), 1);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

START_TEST(test_variable_length_values_round_trip) {
    nx_termdict_builder *b;
    ck_assert_int_eq(nx_termdict_builder_create_var(&b), 0);
    term t[2000];
    numbered_terms(t, 2000);
    uint8_t v[3000];
    for (size_t i = 0; i < 2000; i++) {
        size_t vl = i % 7 == 0 ? 0 : (i * 37) % (i % 100 == 1 ? 3000 : 40);
        for (size_t k = 0; k < vl; k++) v[k] = (uint8_t)(i + k);
        ck_assert_int_eq(nx_termdict_add_var(b, t[i].b, t[i].len, v, vl), 0);
    }
    ck_assert_int_eq(nx_termdict_add(b, (const uint8_t *)"zz", 2, v), NEWSIDX_ERR_INVALID);
    nx_buf buf = {0};
    ck_assert_int_eq(nx_termdict_finish(b, &buf), 0);
    nx_termdict_builder_free(b);
    nx_termdict *d = open_ok(&buf);
    ck_assert(nx_termdict_is_var(d));
    ck_assert_int_eq(nx_termdict_get(d, t[0].b, t[0].len, v), NEWSIDX_ERR_INVALID);
    nx_termdict_iter it;
    int rc = nx_termdict_seek(d, NULL, 0, &it);
    for (size_t i = 0; i < 2000; i++) {
        size_t vl = i % 7 == 0 ? 0 : (i * 37) % (i % 100 == 1 ? 3000 : 40);
        const uint8_t *got;
        size_t got_len;
        ck_assert_int_eq(nx_termdict_find(d, t[i].b, t[i].len, &got, &got_len), 1);
        ck_assert_uint_eq(got_len, vl);
        ck_assert_int_eq(rc, 1);
        ck_assert_uint_eq(it.value_len, vl);
        for (size_t k = 0; k < vl; k++) {
            ck_assert_uint_eq(got[k], (uint8_t)(i + k));
            ck_assert_uint_eq(it.value[k], (uint8_t)(i + k));
        }
        rc = nx_termdict_next(&it);
    }
    ck_assert_int_eq(rc, 0);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

/* A sink that appends to an nx_buf; fails once fail_at bytes went in. */
typedef struct sink_buf {
    nx_buf buf;
    size_t fail_at;
} sink_buf;

static int sink_append(void *ctx, const void *bytes, size_t n) {
    sink_buf *s = ctx;
    if (s->buf.len + n > s->fail_at) return NEWSIDX_ERR_IO;
    return nx_buf_append(&s->buf, bytes, n);
}

/* Adds the 200,000 numbered terms with values of 1..60 bytes to b, and
 * returns the most bytes b held at any point. */
static size_t add_many(nx_termdict_builder *b, const term *t, size_t n) {
    uint8_t v[64];
    size_t most = 0;
    for (size_t i = 0; i < n; i++) {
        size_t vl = 1 + (i * 13) % 60;
        for (size_t k = 0; k < vl; k++) v[k] = (uint8_t)(i ^ k);
        ck_assert_int_eq(nx_termdict_add_var(b, t[i].b, t[i].len, v, vl), 0);
        size_t held = nx_termdict_builder_held_bytes(b);
        if (held > most) most = held;
    }
    return most;
}

/* What a merge's output dictionary costs in memory: streamed, the builder
 * holds one block and the block index (8 bytes per block), not the
 * dictionary, and the bytes it streams (header put over the first 40)
 * equal those of a builder that held everything. */
START_TEST(test_a_streaming_builder_holds_a_block_and_the_index_not_the_dictionary) {
    size_t n = 200000;
    term *t = malloc(n * sizeof *t);
    ck_assert_ptr_nonnull(t);
    numbered_terms(t, n);

    nx_termdict_builder *whole;
    ck_assert_int_eq(nx_termdict_builder_create_var(&whole), 0);
    size_t held_whole = add_many(whole, t, n);
    nx_buf want = {0};
    ck_assert_int_eq(nx_termdict_finish(whole, &want), 0);
    nx_termdict_builder_free(whole);

    nx_termdict_builder *b;
    sink_buf sink = {.fail_at = SIZE_MAX};
    ck_assert_int_eq(nx_termdict_builder_create_var(&b), 0);
    ck_assert_int_eq(nx_termdict_builder_set_sink(b, sink_append, &sink), 0);
    ck_assert_int_eq(nx_termdict_builder_set_sink(b, sink_append, &sink), NEWSIDX_ERR_INVALID);
    size_t held_stream = add_many(b, t, n);
    uint8_t header[NX_TERMDICT_HEADER_BYTES];
    ck_assert_int_eq(nx_termdict_finish(b, &sink.buf), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(nx_termdict_finish_sink(b, header), 0);
    nx_termdict_builder_free(b);
    memcpy(sink.buf.data, header, sizeof header);
    ck_assert_uint_eq(sink.buf.len, want.len);
    ck_assert_mem_eq(sink.buf.data, want.data, want.len);

    /* The block index is an eighth of a block's minimum share (8 of >= 32
     * terms or >= 512 bytes); a capacity may double once past it. */
    size_t n_blocks = nx_load_u64le(want.data + 24);
    ck_assert_uint_gt(want.len, (size_t)4 << 20);
    ck_assert_uint_ge(held_whole, want.len - NX_TERMDICT_HEADER_BYTES - 8 * n_blocks);
    ck_assert_uint_le(held_stream, 2 * 8 * n_blocks + 8192);
    ck_assert_uint_lt(held_stream, want.len / 16);
    nx_buf_free(&want);
    nx_buf_free(&sink.buf);

    /* A sink's error comes back, and stays. */
    sink = (sink_buf){.fail_at = 100000};
    ck_assert_int_eq(nx_termdict_builder_create_var(&b), 0);
    ck_assert_int_eq(nx_termdict_builder_set_sink(b, sink_append, &sink), 0);
    int rc = 0;
    uint8_t v[1] = {1};
    for (size_t i = 0; i < n && rc == 0; i++) rc = nx_termdict_add_var(b, t[i].b, t[i].len, v, 1);
    ck_assert_int_eq(rc, NEWSIDX_ERR_IO);
    ck_assert_int_eq(nx_termdict_add_var(b, (const uint8_t *)"zzz", 3, v, 1), NEWSIDX_ERR_IO);
    ck_assert_int_eq(nx_termdict_finish_sink(b, header), NEWSIDX_ERR_IO);
    nx_termdict_builder_free(b);
    nx_buf_free(&sink.buf);
    free(t);
}
END_TEST

/* Runs every reader operation over the bytes; any result is fine except a
 * crash or (under ASan) an out-of-bounds read. Returns open's code. */
static int exercise(const uint8_t *p, size_t len) {
    /* Copy into an exact-size allocation so ASan sees any overrun. */
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, p, len);
    nx_termdict *d = NULL;
    nx_err err = {0};
    int rc = nx_termdict_open(copy, len, &err, &d);
    if (rc == 0) {
        uint8_t v[VB];
        (void)nx_termdict_check(d, &err);
        (void)nx_termdict_get(d, (const uint8_t *)"t000500", 7, v);
        (void)nx_termdict_get(d, (const uint8_t *)"t000031", 7, v);
        nx_termdict_iter it;
        int r = nx_termdict_seek(d, NULL, 0, &it);
        for (int k = 0; r == 1 && k < 5000; k++) r = nx_termdict_next(&it);
        ck_assert_int_le(r, 1);
        r = nx_termdict_seek(d, (const uint8_t *)"t0004", 5, &it);
        ck_assert_int_le(r, 1);
        nx_termdict_close(d);
    } else {
        ck_assert_int_lt(rc, 0);
        ck_assert_msg(err.msg[0] != '\0', "an error names what is wrong");
    }
    free(copy);
    return rc;
}

START_TEST(test_truncated_dictionary_is_an_error_not_a_crash) {
    term t[1000];
    numbered_terms(t, 1000);
    nx_buf buf = {0};
    build(t, 1000, &buf);
    for (size_t len = 0; len < buf.len; len += 1 + len / 50)
        ck_assert_int_eq(exercise(buf.data, len), NEWSIDX_ERR_CORRUPT);
    ck_assert_int_eq(exercise(buf.data, buf.len), 0);
    nx_buf_free(&buf);
}
END_TEST

START_TEST(test_corrupt_bytes_never_crash_and_check_notices_damaged_blocks) {
    term t[1000];
    numbered_terms(t, 1000);
    nx_buf buf = {0};
    build(t, 1000, &buf);
    uint8_t *bad = malloc(buf.len);
    int check_failures = 0;
    for (int r = 0; r < 3000; r++) {
        memcpy(bad, buf.data, buf.len);
        int flips = 1 + (int)(rnd32() % 4);
        for (int f = 0; f < flips; f++) bad[rnd32() % buf.len] = (uint8_t)rnd32();
        exercise(bad, buf.len);
        nx_termdict *d = NULL;
        if (nx_termdict_open(bad, buf.len, NULL, &d) == 0) {
            check_failures += nx_termdict_check(d, NULL) < 0;
            nx_termdict_close(d);
        }
    }
    ck_assert_int_gt(check_failures, 0);
    /* A length field set huge in the first block is caught by check. */
    memcpy(bad, buf.data, buf.len);
    bad[40 + 1 + 2 + 7 + VB + 1] = 0xff; /* count, entry 1 (2 varints, 7 bytes, value), entry 2 shared: its suffix_len */
    nx_termdict *d = NULL;
    ck_assert_int_eq(nx_termdict_open(bad, buf.len, NULL, &d), 0);
    ck_assert_int_eq(nx_termdict_check(d, NULL), NEWSIDX_ERR_CORRUPT);
    uint8_t v[VB];
    ck_assert_int_eq(nx_termdict_get(d, t[5].b, t[5].len, v), NEWSIDX_ERR_CORRUPT);
    nx_termdict_close(d);
    free(bad);
    nx_buf_free(&buf);
}
END_TEST

/* Opening must not read the blocks (a one-query program would pay for the
 * whole dictionary): the dictionary is copied into pages whose blocks are
 * then made unreadable, so any read of them at open faults. */
START_TEST(test_open_reads_no_block) {
    static term t[20000];
    numbered_terms(t, 20000);
    nx_buf buf = {0};
    build(t, 20000, &buf);
    long page = sysconf(_SC_PAGESIZE);
    size_t map_len = (buf.len + (size_t)page - 1) / (size_t)page * (size_t)page;
    uint8_t *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    memcpy(m, buf.data, buf.len);
    /* the pages between the header's and the block index's: blocks only */
    uint64_t index_offset = nx_load_u64le(m + 32);
    size_t lo = (size_t)page, hi = index_offset / (size_t)page * (size_t)page;
    ck_assert_uint_gt(hi, lo + 4 * (size_t)page);
    ck_assert_int_eq(mprotect(m + lo, hi - lo, PROT_NONE), 0);
    nx_termdict *d = NULL;
    nx_err err = {0};
    ck_assert_int_eq(nx_termdict_open(m, buf.len, &err, &d), 0);
    ck_assert_uint_eq(nx_termdict_count(d), 20000);
    ck_assert_int_eq(mprotect(m + lo, hi - lo, PROT_READ), 0);
    uint8_t v[VB], want[VB];
    for (size_t i = 0; i < 20000; i += 997) {
        ck_assert_int_eq(nx_termdict_get(d, t[i].b, t[i].len, v), 1);
        value_of(i, want);
        ck_assert_int_eq(memcmp(v, want, VB), 0);
    }
    ck_assert_int_eq(nx_termdict_check(d, &err), 0);
    nx_termdict_close(d);
    munmap(m, map_len);
    nx_buf_free(&buf);
}
END_TEST

/* What open no longer verifies is caught where it matters: a damaged block
 * offset passes open, fails the lookups that probe it and fails check. */
START_TEST(test_a_damaged_block_offset_fails_its_lookups_and_check_not_open) {
    term t[1000];
    numbered_terms(t, 1000);
    nx_buf buf = {0};
    build(t, 1000, &buf);
    uint64_t index_offset = nx_load_u64le(buf.data + 32), n_blocks = nx_load_u64le(buf.data + 24);
    ck_assert_uint_gt(n_blocks, 4);
    /* the middle block (the binary search's first probe) points past the blocks */
    nx_store_u64le(buf.data + index_offset + 8 * (n_blocks / 2), index_offset + 1);
    nx_termdict *d = NULL;
    nx_err err = {0};
    ck_assert_int_eq(nx_termdict_open(buf.data, buf.len, &err, &d), 0);
    uint8_t v[VB];
    ck_assert_int_eq(nx_termdict_get(d, t[0].b, t[0].len, v), NEWSIDX_ERR_CORRUPT);
    nx_termdict_iter it;
    ck_assert_int_eq(nx_termdict_seek(d, t[999].b, t[999].len, &it), NEWSIDX_ERR_CORRUPT);
    ck_assert_int_eq(nx_termdict_check(d, &err), NEWSIDX_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, "block") != NULL, "%s", err.msg);
    nx_termdict_close(d);
    nx_buf_free(&buf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("termdict");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_empty_dictionary_finds_nothing);
    tcase_add_test(tc, test_single_term_is_found_and_neighbours_are_not);
    tcase_add_test(tc, test_remembered_block_heads_give_the_same_answers);
    tcase_add_test(tc, test_block_boundaries_keep_every_term_reachable);
    tcase_add_test(tc, test_absent_terms_before_between_and_after_are_not_found);
    tcase_add_test(tc, test_first_and_last_terms_are_found);
    tcase_add_test(tc, test_prefix_seek_walks_exactly_the_terms_with_that_prefix);
    tcase_add_test(tc, test_hundred_thousand_random_terms_round_trip);
    tcase_add_test(tc, test_binary_terms_with_nul_and_high_bytes_sort_by_memcmp);
    tcase_add_test(tc, test_terms_of_255_bytes_are_kept_and_256_rejected);
    tcase_add_test(tc, test_terms_out_of_order_or_repeated_are_rejected);
    tcase_add_test(tc, test_variable_length_values_round_trip);
    tcase_add_test(tc, test_a_streaming_builder_holds_a_block_and_the_index_not_the_dictionary);
    tcase_add_test(tc, test_truncated_dictionary_is_an_error_not_a_crash);
    tcase_add_test(tc, test_corrupt_bytes_never_crash_and_check_notices_damaged_blocks);
    tcase_add_test(tc, test_open_reads_no_block);
    tcase_add_test(tc, test_a_damaged_block_offset_fails_its_lookups_and_check_not_open);
    suite_add_tcase(s, tc);
    return nxt_run(s, CK_FORK_GETENV);
}
