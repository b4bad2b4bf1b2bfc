/* Doc store: documents come back exactly as stored, in any order, from
 * blocks compressed with or without a trained dictionary; corrupt bytes
 * give errors, not crashes. Layout: docs/FORMAT.md ("Building blocks"). */
#include "common.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/docstore.h"

#define KIND 7

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint32_t rnd32(void) {
    return (uint32_t)(nxt_xorshift64(&rng_state) >> 11);
}

/* A generated document: up to 8 fields with names from a small set and
 * word-like values (compressible, like articles). */
typedef struct gdoc {
    newsidx_field f[8];
    size_t n;
    char names[8][16];
    char *vals[8];
} gdoc;

static const char *words[] = {"the", "market", "oil", "prices", "said", "government",
                              "shares", "rose", "percent", "bank", "year", "trade",
                              "minister", "reuters", "company", "week", "new", "york"};

static void gdoc_make(gdoc *d, uint32_t i) {
    static const char *names[] = {"id", "title", "body", "author", "source", "date", "topics"};
    d->n = 3 + i % 5; /* id, title, body and up to 4 more */
    for (size_t k = 0; k < d->n; k++) {
        snprintf(d->names[k], sizeof d->names[k], "%s", names[(i + k) % 7]);
        size_t len = k == 0 ? 0 : (size_t)(rnd32() % (k == 2 ? 3000 : 80));
        char *v = malloc(len + 32);
        size_t p = (size_t)snprintf(v, 32, "doc-%u-%zu ", i, k);
        while (p < len) {
            const char *w = words[rnd32() % (sizeof words / sizeof *words)];
            size_t wl = strlen(w);
            if (p + wl + 1 > len) break;
            memcpy(v + p, w, wl);
            v[p + wl] = ' ';
            p += wl + 1;
        }
        d->vals[k] = v;
        d->f[k] = (newsidx_field){.name = d->names[k], .value = v, .value_len = p};
    }
}

static void gdoc_free(gdoc *d) {
    for (size_t k = 0; k < d->n; k++) free(d->vals[k]);
}

static char path[600];

static void tmp_path(void) {
    nxt_root_make();
    snprintf(path, sizeof path, "%s/store_%d.bin", nxt_root, (int)getpid());
}

/* Writes docs through a writer with options o into `path`. */
static void write_store(const nx_docstore_options *o, gdoc *docs, size_t n) {
    tmp_path();
    nx_err err = {0};
    nx_wfile *f;
    ck_assert_int_eq(nx_wfile_create(path, KIND, &err, &f), 0);
    nx_docstore_writer *w;
    ck_assert_int_eq(nx_docstore_writer_create_opts(f, o, &err, &w), 0);
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(nx_docstore_add(w, docs[i].f, docs[i].n), 0);
    ck_assert_int_eq(nx_docstore_writer_finish(w), 0);
    nx_docstore_writer_free(w);
    ck_assert_int_eq(nx_wfile_finish(f), 0);
}

static void expect_doc(const nx_docstore *s, nx_docstore_scratch *sc, uint32_t i,
                       const gdoc *want) {
    const newsidx_field *f;
    size_t n;
    nx_err err = {0};
    int rc = nx_docstore_get(s, i, sc, &err, &f, &n);
    ck_assert_msg(rc == 0, "get %u: %s", i, err.msg);
    ck_assert_uint_eq(n, want->n);
    for (size_t k = 0; k < n; k++) {
        ck_assert_str_eq(f[k].name, want->f[k].name);
        ck_assert_uint_eq(f[k].value_len, want->f[k].value_len);
        if (f[k].value_len) ck_assert_mem_eq(f[k].value, want->f[k].value, f[k].value_len);
    }
}

/* Round trip: every doc in order, then in random order. Returns whether
 * the store had a dictionary. */
static bool round_trip(const nx_docstore_options *o, gdoc *docs, size_t n) {
    write_store(o, docs, n);
    nx_rfile rf;
    nx_err err = {0};
    ck_assert_int_eq(nx_rfile_open(path, KIND, &err, &rf), 0);
    nx_docstore *s;
    ck_assert_msg(nx_docstore_open(rf.data, rf.len, &err, &s) == 0, "open: %s", err.msg);
    ck_assert_uint_eq(nx_docstore_count(s), n);
    ck_assert_int_eq(nx_docstore_check(s, &err), 0);
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint32_t i = 0; i < n; i++) expect_doc(s, &sc, i, &docs[i]);
    for (size_t r = 0; r < 2 * n; r++) {
        uint32_t i = rnd32() % (uint32_t)n;
        expect_doc(s, &sc, i, &docs[i]);
    }
    const newsidx_field *f;
    size_t nf;
    ck_assert_int_eq(nx_docstore_get(s, (uint32_t)n, &sc, &err, &f, &nf), NEWSIDX_ERR_NOT_FOUND);
    bool dict = nx_docstore_has_dict(s);
    nx_docstore_scratch_free(&sc);
    nx_docstore_close(s);
    nx_rfile_close(&rf);
    unlink(path);
    return dict;
}

static gdoc *make_docs(size_t n) {
    gdoc *d = calloc(n ? n : 1, sizeof *d);
    for (size_t i = 0; i < n; i++) gdoc_make(&d[i], (uint32_t)i);
    return d;
}
static void free_docs(gdoc *d, size_t n) {
    for (size_t i = 0; i < n; i++) gdoc_free(&d[i]);
    free(d);
}

START_TEST(test_empty_store_has_no_documents) {
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    write_store(&o, NULL, 0);
    nx_rfile rf;
    nx_err err = {0};
    ck_assert_int_eq(nx_rfile_open(path, KIND, &err, &rf), 0);
    nx_docstore *s;
    ck_assert_int_eq(nx_docstore_open(rf.data, rf.len, &err, &s), 0);
    ck_assert_uint_eq(nx_docstore_count(s), 0);
    ck_assert_int_eq(nx_docstore_check(s, &err), 0);
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    const newsidx_field *f;
    size_t n;
    ck_assert_int_eq(nx_docstore_get(s, 0, &sc, &err, &f, &n), NEWSIDX_ERR_NOT_FOUND);
    nx_docstore_scratch_free(&sc);
    nx_docstore_close(s);
    nx_rfile_close(&rf);
    unlink(path);
}
END_TEST

START_TEST(test_one_document_round_trips_without_a_dictionary) {
    gdoc *d = make_docs(1);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    ck_assert(!round_trip(&o, d, 1)); /* far too little data to train on */
    free_docs(d, 1);
}
END_TEST

START_TEST(test_many_documents_round_trip_with_a_trained_dictionary) {
    size_t n = 3000; /* ~3 MB: the dictionary trains on the first 1 MB */
    gdoc *d = make_docs(n);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    ck_assert(round_trip(&o, d, n));
    o.dict_bytes = 0; /* and without one */
    ck_assert(!round_trip(&o, d, n));
    nx_docstore_options_init(&o);
    o.block_bytes = 4096; /* many blocks */
    o.level = 1;
    ck_assert(round_trip(&o, d, n));
    free_docs(d, n);
}
END_TEST

static long file_size(void) {
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long l = ftell(fp);
    fclose(fp);
    return l;
}

START_TEST(test_small_store_keeps_a_dictionary_only_when_it_pays_for_itself) {
    /* All docs fit in the training buffer, so the writer compares both
     * ways on exactly these documents: with the dictionary option the
     * store is never bigger than without. */
    static const size_t sizes[] = {20, 60, 200, 500}; /* all < 1 MB */
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        size_t n = sizes[t];
        gdoc *d = make_docs(n);
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        round_trip(&o, d, n);
        write_store(&o, d, n);
        long with = file_size();
        o.dict_bytes = 0;
        write_store(&o, d, n);
        long without = file_size();
        ck_assert_int_le(with, without);
        unlink(path);
        free_docs(d, n);
    }
}
END_TEST

START_TEST(test_empty_fields_and_documents_without_fields_round_trip) {
    gdoc d[4];
    memset(d, 0, sizeof d);
    d[0].n = 0;
    d[1].n = 1;
    d[1].f[0] = (newsidx_field){.name = "title", .value = "", .value_len = 0};
    d[2].n = 2;
    d[2].f[0] = (newsidx_field){.name = "", .value = "x", .value_len = 1};
    d[2].f[1] = (newsidx_field){.name = "body", .value = NULL, .value_len = 0};
    d[3].n = 0;
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    round_trip(&o, d, 4);
}
END_TEST

START_TEST(test_binary_values_with_nul_bytes_round_trip) {
    gdoc d[50];
    memset(d, 0, sizeof d);
    uint8_t bytes[50][300];
    for (int i = 0; i < 50; i++) {
        for (int k = 0; k < 300; k++) bytes[i][k] = (uint8_t)(k % 3 ? rnd32() : 0);
        d[i].n = 2;
        d[i].f[0] = (newsidx_field){.name = "bin", .value = (const char *)bytes[i], .value_len = 300};
        d[i].f[1] = (newsidx_field){.name = "nul", .value = "\0\0\0", .value_len = 3};
    }
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    round_trip(&o, d, 50);
}
END_TEST

START_TEST(test_five_megabyte_field_bigger_than_a_block_round_trips) {
    size_t n = 40;
    gdoc *d = make_docs(n);
    size_t big_len = 5u << 20;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) big[i] = (char)('a' + (rnd32() % 26));
    /* In the training buffer (doc 3) and after it (doc 35). */
    d[3].f[0].value = big;
    d[3].f[0].value_len = big_len;
    d[35].f[0].value = big;
    d[35].f[0].value_len = big_len - 1;
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.train_bytes = 8u << 20;
    round_trip(&o, d, n);
    o.train_bytes = 64 * 1024;
    round_trip(&o, d, n);
    free(big);
    free_docs(d, n);
}
END_TEST

START_TEST(test_thousands_of_distinct_field_names_round_trip) {
    size_t n = 600;
    gdoc *d = calloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        d[i].n = 8;
        for (size_t k = 0; k < 8; k++) { /* 4800 names: past the 4096 table */
            snprintf(d[i].names[k], sizeof d[i].names[k], "f%zu", i * 8 + k);
            d[i].f[k] = (newsidx_field){.name = d[i].names[k], .value = "v", .value_len = 1};
        }
    }
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    round_trip(&o, d, n);
    free(d);
}
END_TEST

START_TEST(test_one_scratch_serves_two_stores_without_mixing_blocks) {
    gdoc *a = make_docs(100), *b = make_docs(100);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    write_store(&o, a, 100);
    char pa[700];
    snprintf(pa, sizeof pa, "%s.a", path);
    ck_assert_int_eq(rename(path, pa), 0);
    write_store(&o, b, 100);
    nx_rfile ra, rb;
    nx_err err = {0};
    ck_assert_int_eq(nx_rfile_open(pa, KIND, &err, &ra), 0);
    ck_assert_int_eq(nx_rfile_open(path, KIND, &err, &rb), 0);
    nx_docstore *sa, *sb;
    ck_assert_int_eq(nx_docstore_open(ra.data, ra.len, &err, &sa), 0);
    ck_assert_int_eq(nx_docstore_open(rb.data, rb.len, &err, &sb), 0);
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint32_t i = 0; i < 100; i++) {
        expect_doc(sa, &sc, i, &a[i]);
        expect_doc(sb, &sc, i, &b[i]);
    }
    nx_docstore_scratch_free(&sc);
    nx_docstore_close(sa);
    nx_docstore_close(sb);
    nx_rfile_close(&ra);
    nx_rfile_close(&rb);
    unlink(pa);
    unlink(path);
    free_docs(a, 100);
    free_docs(b, 100);
}
END_TEST

/* Frames cut into 1 KiB zstd blocks: a read decodes only up to its
 * document and continues from there; backward and random reads restart
 * the parse at the block's start. Frames of one zstd block (128 KiB, the
 * earlier layout) read the same. */
START_TEST(test_blocks_cut_into_sub_blocks_read_in_any_order) {
    size_t n = 600;
    gdoc *d = make_docs(n);
    static const uint32_t chunks[] = {1024, 4096, 128 * 1024};
    for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        o.block_bytes = 96 * 1024;
        o.train_bytes = 64 * 1024;
        o.chunk_bytes = chunks[c];
        ck_assert(round_trip(&o, d, n));
        write_store(&o, d, n);
        nx_rfile rf;
        nx_err err = {0};
        ck_assert_int_eq(nx_rfile_open(path, KIND, &err, &rf), 0);
        nx_docstore *s;
        ck_assert_int_eq(nx_docstore_open(rf.data, rf.len, &err, &s), 0);
        nx_docstore_scratch sc;
        nx_docstore_scratch_init(&sc);
        for (uint32_t i = (uint32_t)n; i-- > 0;) expect_doc(s, &sc, i, &d[i]);
        nx_docstore_scratch_free(&sc);
        nx_docstore_close(s);
        nx_rfile_close(&rf);
        unlink(path);
    }
    free_docs(d, n);
}
END_TEST

START_TEST(test_zstd_parameters_between_levels_round_trip_and_bad_ones_are_refused) {
    size_t n = 3000; /* ~3 MB: a dictionary is trained */
    gdoc *d = make_docs(n);
    /* each set: strategy, hash, chain, search, min match, target length,
     * training f and accel, attach, dedicated search */
    static const int sets[][10] = {
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0},        /* the default level's own set */
        {3, 17, 16, 1, 6, 0, 16, 8, 0, 0},     /* greedy, coarse training */
        {5, 18, 18, 2, 4, 8, 0, 0, 1, 0},      /* lazy2, dictionary attached */
        {4, 0, 0, 0, 0, 0, 0, 0, 0, 1},        /* lazy, dedicated dictionary search */
        {2, 16, 16, 0, 0, 0, 0, 0, 2, 0},      /* dfast, dictionary copied */
    };
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        o.level = i == 0 ? 0 : 6;
        o.strategy = sets[i][0];
        o.hash_log = sets[i][1];
        o.chain_log = sets[i][2];
        o.search_log = sets[i][3];
        o.min_match = sets[i][4];
        o.target_length = sets[i][5];
        o.train_f = (uint32_t)sets[i][6];
        o.train_accel = (uint32_t)sets[i][7];
        o.attach_dict = sets[i][8];
        o.dict_search = sets[i][9];
        ck_assert_msg(round_trip(&o, d, n), "set %zu kept no dictionary", i);
        unlink(path);
    }
    free_docs(d, n);
    /* out of zstd's bounds, or not a fastCover setting */
    for (int k = 0; k < 6; k++) {
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        if (k == 0) o.strategy = 99;
        if (k == 1) o.hash_log = 40;
        if (k == 2) o.min_match = 1;
        if (k == 3) o.train_d = 7;
        if (k == 4) o.train_accel = 11;
        if (k == 5) o.attach_dict = 3;
        tmp_path();
        nx_err err = {0};
        nx_wfile *f;
        ck_assert_int_eq(nx_wfile_create(path, KIND, &err, &f), 0);
        nx_docstore_writer *w = NULL;
        ck_assert_int_eq(nx_docstore_writer_create_opts(f, &o, &err, &w), NEWSIDX_ERR_INVALID);
        ck_assert_ptr_null(w);
        nx_wfile_abort(f);
    }
}
END_TEST

START_TEST(test_sub_block_size_outside_zstd_limits_is_refused) {
    static const uint32_t bad[] = {512, 1023, 128 * 1024 + 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        o.chunk_bytes = bad[i];
        tmp_path();
        nx_err err = {0};
        nx_wfile *f;
        ck_assert_int_eq(nx_wfile_create(path, KIND, &err, &f), 0);
        nx_docstore_writer *w = NULL;
        ck_assert_int_eq(nx_docstore_writer_create_opts(f, &o, &err, &w), NEWSIDX_ERR_INVALID);
        ck_assert_ptr_null(w);
        nx_wfile_abort(f);
    }
}
END_TEST

typedef struct reader_arg {
    const nx_docstore *s;
    gdoc *docs;
    size_t n;
    uint32_t seed;
    int failures;
} reader_arg;

static void *reader_thread(void *p) {
    reader_arg *a = p;
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    uint32_t x = a->seed;
    for (int r = 0; r < 2000; r++) {
        x = x * 1103515245u + 12345u;
        uint32_t i = (x >> 8) % (uint32_t)a->n;
        const newsidx_field *f;
        size_t nf;
        if (nx_docstore_get(a->s, i, &sc, NULL, &f, &nf) != 0 || nf != a->docs[i].n ||
            (nf && (f[nf - 1].value_len != a->docs[i].f[nf - 1].value_len ||
                    memcmp(f[nf - 1].value, a->docs[i].f[nf - 1].value, f[nf - 1].value_len))))
            a->failures++;
    }
    nx_docstore_scratch_free(&sc);
    return NULL;
}

START_TEST(test_threads_with_their_own_scratch_read_one_store_at_once) {
    size_t n = 2000;
    gdoc *d = make_docs(n);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.train_bytes = 64 * 1024; /* train early: the dictionary is then kept */
    write_store(&o, d, n);
    nx_rfile rf;
    nx_err err = {0};
    ck_assert_int_eq(nx_rfile_open(path, KIND, &err, &rf), 0);
    nx_docstore *s;
    ck_assert_int_eq(nx_docstore_open(rf.data, rf.len, &err, &s), 0);
    ck_assert(nx_docstore_has_dict(s));
    pthread_t t[4];
    reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (reader_arg){.s = s, .docs = d, .n = n, .seed = (uint32_t)i * 7919u + 1};
        ck_assert_int_eq(pthread_create(&t[i], NULL, reader_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(args[i].failures, 0);
    }
    nx_docstore_close(s);
    nx_rfile_close(&rf);
    unlink(path);
    free_docs(d, n);
}
END_TEST

/* Opens bytes and reads every doc; any error is fine, a crash or an
 * out-of-bounds read (ASan) is not. Returns the first error or 0. */
static int exercise(const uint8_t *bytes, size_t len, uint32_t n_docs) {
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, bytes, len);
    nx_docstore *s;
    nx_err err = {0};
    int rc = nx_docstore_open(copy, len, &err, &s);
    if (rc == 0) {
        nx_docstore_scratch sc;
        nx_docstore_scratch_init(&sc);
        for (uint32_t i = 0; i < n_docs + 2; i++) {
            const newsidx_field *f;
            size_t nf;
            int r = nx_docstore_get(s, i, &sc, &err, &f, &nf);
            if (r < 0 && rc == 0 && r != NEWSIDX_ERR_NOT_FOUND) rc = r;
        }
        int c = nx_docstore_check(s, &err);
        if (rc == 0) rc = c;
        nx_docstore_scratch_free(&sc);
        nx_docstore_close(s);
    } else {
        ck_assert_msg(err.msg[0], "an error says what is wrong");
    }
    free(copy);
    return rc;
}

static uint8_t *read_all(const char *p, size_t *len) {
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long l = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)l);
    ck_assert_uint_eq(fread(b, 1, (size_t)l, fp), (size_t)l);
    fclose(fp);
    *len = (size_t)l - NX_FOOTER_BYTES; /* the store's bytes, as rfile gives */
    return b;
}

START_TEST(test_truncated_or_damaged_store_is_an_error_not_a_crash) {
    size_t n = 1500;
    gdoc *d = make_docs(n);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.block_bytes = 16 * 1024;
    write_store(&o, d, n);
    size_t len;
    uint8_t *bytes = read_all(path, &len);
    ck_assert_int_eq(exercise(bytes, len, (uint32_t)n), 0);
    for (size_t l = 0; l < len; l += 1 + l / 8) ck_assert_int_lt(exercise(bytes, l, (uint32_t)n), 0);
    uint8_t *bad = malloc(len);
    int noticed = 0;
    for (int r = 0; r < 300; r++) {
        memcpy(bad, bytes, len);
        /* Damage the block area, the index, or the trailer. */
        size_t at = r % 3 == 0 ? len - 1 - rnd32() % 600 : rnd32() % len;
        bad[at] ^= (uint8_t)(1 + rnd32() % 255);
        noticed += exercise(bad, len, (uint32_t)n) < 0;
    }
    ck_assert_int_gt(noticed, 100); /* zstd's frame checks catch most flips */
    free(bad);
    free(bytes);
    unlink(path);
    free_docs(d, n);
}
END_TEST

START_TEST(test_add_after_finish_is_refused) {
    tmp_path();
    nx_err err = {0};
    nx_wfile *f;
    ck_assert_int_eq(nx_wfile_create(path, KIND, &err, &f), 0);
    nx_docstore_writer *w;
    ck_assert_int_eq(nx_docstore_writer_create(f, 0, 0, &err, &w), 0);
    newsidx_field fl = {.name = "a", .value = "b", .value_len = 1};
    ck_assert_int_eq(nx_docstore_add(w, &fl, 1), 0);
    ck_assert_uint_eq(nx_docstore_raw_bytes(w), 2);
    ck_assert_int_eq(nx_docstore_writer_finish(w), 0);
    ck_assert_int_eq(nx_docstore_add(w, &fl, 1), NEWSIDX_ERR_INVALID);
    nx_docstore_writer_free(w);
    nx_wfile_abort(f);
    ck_assert_int_eq(nx_docstore_writer_create(NULL, 99, 0, &err, &w), NEWSIDX_ERR_INVALID);
}
END_TEST

int main(void) {
    Suite *s = suite_create("docstore");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_empty_store_has_no_documents);
    tcase_add_test(tc, test_one_document_round_trips_without_a_dictionary);
    tcase_add_test(tc, test_many_documents_round_trip_with_a_trained_dictionary);
    tcase_add_test(tc, test_small_store_keeps_a_dictionary_only_when_it_pays_for_itself);
    tcase_add_test(tc, test_empty_fields_and_documents_without_fields_round_trip);
    tcase_add_test(tc, test_binary_values_with_nul_bytes_round_trip);
    tcase_add_test(tc, test_five_megabyte_field_bigger_than_a_block_round_trips);
    tcase_add_test(tc, test_thousands_of_distinct_field_names_round_trip);
    tcase_add_test(tc, test_one_scratch_serves_two_stores_without_mixing_blocks);
    tcase_add_test(tc, test_threads_with_their_own_scratch_read_one_store_at_once);
    tcase_add_test(tc, test_blocks_cut_into_sub_blocks_read_in_any_order);
    tcase_add_test(tc, test_sub_block_size_outside_zstd_limits_is_refused);
    tcase_add_test(tc, test_zstd_parameters_between_levels_round_trip_and_bad_ones_are_refused);
    tcase_add_test(tc, test_truncated_or_damaged_store_is_an_error_not_a_crash);
    tcase_add_test(tc, test_add_after_finish_is_refused);
    suite_add_tcase(s, tc);
    return nxt_run(s, CK_FORK_GETENV);
}
