/* Doc store: documents come back exactly as stored, in any order, from
 * blocks compressed with or without a trained dictionary; corrupt bytes
 * give errors, not crashes. Layout: docs/FORMAT.md ("Building blocks"). */
#include "common.h"
#include <pthread.h>
#include <sched.h>
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

/* A store under 256 KiB (a commit of ~100 articles) trains no dictionary:
 * on 100 BBC articles one saved 1.3% of the store, and training it and
 * comparing both ways took half the store's CPU; a bigger store trains. */
START_TEST(test_a_store_under_256_kib_trains_no_dictionary) {
    static const size_t counts[] = {120, 400};
    for (size_t t = 0; t < 2; t++) {
        size_t n = counts[t], raw = 0;
        gdoc *d = make_docs(n);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < d[i].n; k++) raw += strlen(d[i].names[k]) + d[i].f[k].value_len;
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        if (t == 0) {
            ck_assert_msg(raw > 128 * 1024 && raw < 240 * 1024, "%zu bytes", raw);
            ck_assert(!round_trip(&o, d, n));
        } else {
            ck_assert_msg(raw > 300 * 1024, "%zu bytes", raw);
            ck_assert(round_trip(&o, d, n));
        }
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

/* ---- merges ---------------------------------------------------------- */

/* A store of docs[0..n) written to file p with options o. */
static void write_store_at(const char *p, const nx_docstore_options *o, gdoc *docs, size_t n) {
    nx_err err = {0};
    nx_wfile *f;
    ck_assert_int_eq(nx_wfile_create(p, KIND, &err, &f), 0);
    nx_docstore_writer *w;
    ck_assert_int_eq(nx_docstore_writer_create_opts(f, o, &err, &w), 0);
    for (size_t i = 0; i < n; i++) ck_assert_int_eq(nx_docstore_add(w, docs[i].f, docs[i].n), 0);
    ck_assert_int_eq(nx_docstore_writer_finish(w), 0);
    nx_docstore_writer_free(w);
    ck_assert_int_eq(nx_wfile_finish(f), 0);
}

typedef struct open_store {
    nx_rfile rf;
    nx_docstore *s;
} open_store;

static void store_open(open_store *os, const char *p) {
    nx_err err = {0};
    ck_assert_int_eq(nx_rfile_open(p, KIND, &err, &os->rf), 0);
    ck_assert_msg(nx_docstore_open(os->rf.data, os->rf.len, &err, &os->s) == 0, "open: %s", err.msg);
    ck_assert_msg(nx_docstore_check(os->s, &err) == 0, "check: %s", err.msg);
}

static void store_close(open_store *os) {
    nx_docstore_close(os->s);
    nx_rfile_close(&os->rf);
}

/* Merges the n_in stores (maps[i]: their doc -> new doc) into file p
 * of total docs, compacting or not (nx_docstore_writer_begin_merge);
 * stats added to *st. */
static void merge_stores_as(const char *p, const nx_docstore_options *o, open_store *in,
                            uint32_t **maps, uint32_t n_in, uint32_t total,
                            nx_docstore_merge_stats *st, bool compact) {
    nx_err err = {0};
    nx_wfile *f;
    ck_assert_int_eq(nx_wfile_create(p, KIND, &err, &f), 0);
    nx_docstore_writer *w;
    ck_assert_int_eq(nx_docstore_writer_create_opts(f, o, &err, &w), 0);
    ck_assert_int_eq(nx_docstore_writer_begin_merge(w, total, compact), 0);
    for (uint32_t i = 0; i < n_in; i++) {
        nx_docstore_scratch sc;
        nx_docstore_scratch_init(&sc);
        ck_assert_msg(nx_docstore_merge_input(w, in[i].s, maps[i], &sc, st) == 0, "merge: %s",
                      err.msg);
        nx_docstore_scratch_free(&sc);
    }
    ck_assert_msg(nx_docstore_writer_finish(w) == 0, "finish: %s", err.msg);
    nx_docstore_writer_free(w);
    ck_assert_int_eq(nx_wfile_finish(f), 0);
}

static void merge_stores(const char *p, const nx_docstore_options *o, open_store *in,
                         uint32_t **maps, uint32_t n_in, uint32_t total,
                         nx_docstore_merge_stats *st) {
    merge_stores_as(p, o, in, maps, n_in, total, st, false);
}

/* How many of a's blocks are found, byte for byte, among b's blocks. */
static uint32_t blocks_found_in(const nx_docstore *a, const nx_docstore *b) {
    uint32_t found = 0;
    for (uint32_t i = 0; i < nx_docstore_block_count(a); i++) {
        const uint8_t *x, *y;
        size_t xl, yl;
        nx_docstore_block_bytes(a, i, &x, &xl);
        for (uint32_t j = 0; j < nx_docstore_block_count(b); j++) {
            nx_docstore_block_bytes(b, j, &y, &yl);
            if (xl == yl && memcmp(x, y, xl) == 0) {
                found++;
                break;
            }
        }
    }
    return found;
}

/* Two flushes' stores (the second compressed with the first's shared
 * dictionary) merged with their ids interleaved as dates would, some docs
 * deleted: blocks at least half live are the inputs' bytes, the rest are
 * compressed again, and every surviving doc reads back as it was added;
 * merging the merged store again (a store with a doc map as input) too. */
START_TEST(test_merge_copies_live_blocks_and_reads_every_doc_after_deletes) {
    size_t n1 = 1200, n2 = 1000, n = n1 + n2;
    gdoc *d = make_docs(n);
    nx_docstore_shared *sh;
    ck_assert_int_eq(nx_docstore_shared_new(&sh), 0);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.block_bytes = 16 * 1024;
    o.train_bytes = 256 * 1024;
    o.shared = sh;
    tmp_path();
    char px[700], py[700], pz[700], pw[700];
    snprintf(px, sizeof px, "%s.x", path);
    snprintf(py, sizeof py, "%s.y", path);
    snprintf(pz, sizeof pz, "%s.z", path);
    snprintf(pw, sizeof pw, "%s.w", path);
    write_store_at(px, &o, d, n1);
    write_store_at(py, &o, d + n1, n2);
    open_store in[2];
    store_open(&in[0], px);
    store_open(&in[1], py);
    ck_assert_uint_eq(nx_docstore_dict_count(in[0].s), 1);
    ck_assert_uint_eq(nx_docstore_dict_count(in[1].s), 1);
    /* Deletes: x's docs 400..799 lose 3 of 4 (those blocks are compressed
     * again); y loses every 4th (its blocks are copied with the garbage). */
    uint32_t *maps[2] = {malloc(n1 * 4), malloc(n2 * 4)};
    uint32_t *orig = malloc(n * 4); /* new doc -> index into d */
    uint32_t total = 0;
    for (uint32_t i = 0, a = 0, b = 0; a < n1 || b < n2; i++) {
        bool from_x = b >= n2 || (a < n1 && i % 2 == 0);
        uint32_t k = from_x ? a++ : b++;
        bool dead = from_x ? (k >= 400 && k < 800 && k % 4 != 0) : k % 4 == 3;
        maps[from_x ? 0 : 1][k] = dead ? UINT32_MAX : total;
        if (!dead) orig[total++] = from_x ? k : (uint32_t)n1 + k;
    }
    nx_docstore_merge_stats st = {0};
    merge_stores(pz, &o, in, maps, 2, total, &st);
    ck_assert_uint_gt(st.blocks_copied, 0);
    ck_assert_uint_gt(st.blocks_recompressed, 0);
    ck_assert_uint_gt(st.dead_records_copied, 0);
    ck_assert_uint_eq(st.records_copied + st.records_recompressed, total);
    open_store z;
    store_open(&z, pz);
    ck_assert_uint_eq(nx_docstore_count(z.s), total);
    ck_assert_uint_eq(nx_docstore_dict_count(z.s), 1);
    ck_assert_uint_eq(blocks_found_in(in[0].s, z.s) + blocks_found_in(in[1].s, z.s),
                      st.blocks_copied);
    /* y is 3/4 live throughout: all its blocks but perhaps the short last
     * one (mostly dead when it holds a record or two) are copied */
    ck_assert_uint_ge(blocks_found_in(in[1].s, z.s) + 1, nx_docstore_block_count(in[1].s));
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint32_t i = 0; i < total; i++) expect_doc(z.s, &sc, i, &d[orig[i]]);
    for (uint32_t r = 0; r < 2000; r++) {
        uint32_t i = rnd32() % total;
        expect_doc(z.s, &sc, i, &d[orig[i]]);
    }
    /* Merged again, alone, with every other doc gone. */
    uint32_t *zmap = malloc(total * 4), *orig2 = malloc(total * 4), total2 = 0;
    for (uint32_t i = 0; i < total; i++) {
        zmap[i] = i % 2 ? UINT32_MAX : total2;
        if (i % 2 == 0) orig2[total2++] = orig[i];
    }
    nx_docstore_merge_stats st2 = {0};
    merge_stores(pw, &o, &z, &zmap, 1, total2, &st2);
    open_store w;
    store_open(&w, pw);
    for (uint32_t i = 0; i < total2; i++) expect_doc(w.s, &sc, i, &d[orig2[i]]);
    ck_assert_uint_gt(st2.blocks_recompressed, 0); /* half-live y blocks are now mostly dead */
    /* y alone without its every 4th doc, compacting (an optimize after
     * deletes): no block is 9 in 10 live, none is copied, no garbage
     * stays, and every doc reads back. */
    uint32_t *ymap = malloc(n2 * 4), *yorig = malloc(n2 * 4), ytotal = 0;
    for (uint32_t k = 0; k < n2; k++) {
        ymap[k] = k % 4 == 3 ? UINT32_MAX : ytotal;
        if (k % 4 != 3) yorig[ytotal++] = (uint32_t)n1 + k;
    }
    char pc[700];
    snprintf(pc, sizeof pc, "%s.c", path);
    nx_docstore_merge_stats st3 = {0};
    merge_stores_as(pc, &o, &in[1], &ymap, 1, ytotal, &st3, true);
    ck_assert_uint_eq(st3.blocks_copied, 0);
    ck_assert_uint_eq(st3.dead_records_copied, 0);
    ck_assert_uint_eq(st3.records_recompressed, ytotal);
    open_store c;
    store_open(&c, pc);
    ck_assert_uint_eq(blocks_found_in(in[1].s, c.s), 0);
    for (uint32_t i = 0; i < ytotal; i++) expect_doc(c.s, &sc, i, &d[yorig[i]]);
    store_close(&c);
    unlink(pc);
    free(ymap);
    free(yorig);
    nx_docstore_scratch_free(&sc);
    /* A doc map sending two docs to one record is found by check. */
    size_t len;
    uint8_t *bytes = read_all(pz, &len);
    uint64_t map_off = nx_load_u64le(bytes + len - 72 + 48);
    memcpy(bytes + map_off + 4, bytes + map_off, 4);
    nx_docstore *bad;
    nx_err err = {0};
    ck_assert_int_eq(nx_docstore_open(bytes, len, &err, &bad), 0);
    ck_assert_int_eq(nx_docstore_check(bad, &err), NEWSIDX_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "one-to-one"));
    nx_docstore_close(bad);
    free(bytes);
    store_close(&w);
    store_close(&z);
    store_close(&in[0]);
    store_close(&in[1]);
    free(zmap);
    free(orig2);
    free(orig);
    free(maps[0]);
    free(maps[1]);
    unlink(px);
    unlink(py);
    unlink(pz);
    unlink(pw);
    nx_docstore_shared_free(sh);
    free_docs(d, n);
}
END_TEST

/* Twelve flushes of one run share one dictionary, and so does the store
 * merged from them; twelve stores trained apart merge into at most four
 * dictionaries (blocks of the others are compressed again) and still read
 * back whole. */
START_TEST(test_one_dictionary_per_run_and_at_most_four_per_merged_store) {
    /* 280 docs a store: a multiple of gdoc_make's name cycles (5 and 7),
     * so every store meets the names in one order and only dictionaries
     * stand in the way of copying */
    size_t per = 280, n_in = 12, n = per * n_in;
    gdoc *d = make_docs(n);
    for (int shared = 1; shared >= 0; shared--) {
        nx_docstore_shared *sh = NULL;
        ck_assert_int_eq(nx_docstore_shared_new(&sh), 0);
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        o.block_bytes = 16 * 1024;
        o.train_bytes = 128 * 1024;
        o.shared = shared ? sh : NULL;
        tmp_path();
        char p[12][700], pm[700];
        open_store in[12];
        uint32_t *maps[12];
        for (size_t i = 0; i < n_in; i++) {
            snprintf(p[i], sizeof p[i], "%s.%zu", path, i);
            write_store_at(p[i], &o, d + i * per, per);
            store_open(&in[i], p[i]);
            ck_assert_uint_eq(nx_docstore_dict_count(in[i].s), 1);
            maps[i] = malloc(per * 4);
            for (uint32_t k = 0; k < per; k++) maps[i][k] = (uint32_t)(i * per) + k;
        }
        snprintf(pm, sizeof pm, "%s.m", path);
        nx_docstore_merge_stats st = {0};
        merge_stores(pm, &o, in, maps, (uint32_t)n_in, (uint32_t)n, &st);
        open_store m;
        store_open(&m, pm);
        if (shared) {
            ck_assert_uint_eq(nx_docstore_dict_count(m.s), 1);
            ck_assert_uint_eq(st.blocks_recompressed, 0);
        } else {
            ck_assert_uint_eq(nx_docstore_dict_count(m.s), 4);
            ck_assert_uint_gt(st.blocks_recompressed, 0);
        }
        nx_docstore_scratch sc;
        nx_docstore_scratch_init(&sc);
        for (uint32_t i = 0; i < n; i++) expect_doc(m.s, &sc, i, &d[i]);
        nx_docstore_scratch_free(&sc);
        store_close(&m);
        unlink(pm);
        for (size_t i = 0; i < n_in; i++) {
            store_close(&in[i]);
            unlink(p[i]);
            free(maps[i]);
        }
        nx_docstore_shared_free(sh);
    }
    free_docs(d, n);
}
END_TEST

/* One worker's store of a run, written on its own thread. */
typedef struct store_job {
    const char *path;
    const nx_docstore_options *o;
    gdoc *docs;
    size_t n;
    int rc;
    int done; /* set (atomically) when the thread ends */
} store_job;

static void *store_thread(void *arg) {
    store_job *j = arg;
    nx_err err = {0};
    nx_wfile *f = NULL;
    nx_docstore_writer *w = NULL;
    j->rc = nx_wfile_create(j->path, KIND, &err, &f);
    if (j->rc == 0) j->rc = nx_docstore_writer_create_opts(f, j->o, &err, &w);
    for (size_t i = 0; j->rc == 0 && i < j->n; i++)
        j->rc = nx_docstore_add(w, j->docs[i].f, j->docs[i].n);
    if (j->rc == 0) j->rc = nx_docstore_writer_finish(w);
    nx_docstore_writer_free(w);
    if (j->rc == 0) j->rc = nx_wfile_finish(f);
    else if (f) nx_wfile_abort(f);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Two workers of one run writing at once, each a store smaller than the
 * training buffer (two workers' flushes of a small input), or bigger:
 * one dictionary is trained for the run, both stores use it, and their
 * merge holds that one and copies every block. (Before, two stores
 * ending small each trained their own.) */
START_TEST(test_stores_written_at_once_share_one_trained_dictionary) {
    /* ~1.5 MB < 2 MiB train_bytes, ~3 MB; and told the count (the last
     * document ends the training; a store finding the other training
     * leaves it to finish) */
    static const size_t per_store[] = {1500, 3000, 1500, 3000};
    for (size_t t = 0; t < 4; t++) {
        size_t per = per_store[t], n = 2 * per;
        gdoc *d = make_docs(n);
        nx_docstore_shared *sh;
        ck_assert_int_eq(nx_docstore_shared_new(&sh), 0);
        nx_docstore_options o;
        nx_docstore_options_init(&o);
        o.train_bytes = 2u << 20;
        o.shared = sh;
        o.expect_docs = t >= 2 ? (uint32_t)per : 0;
        tmp_path();
        char p[2][700], pm[700];
        store_job jobs[2];
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            snprintf(p[i], sizeof p[i], "%s.%d", path, i);
            jobs[i] = (store_job){.path = p[i], .o = &o, .docs = d + i * per, .n = per};
            ck_assert_int_eq(pthread_create(&th[i], NULL, store_thread, &jobs[i]), 0);
        }
        open_store in[2];
        uint32_t *maps[2];
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(jobs[i].rc, 0);
            store_open(&in[i], p[i]);
            ck_assert_uint_eq(nx_docstore_dict_count(in[i].s), 1);
            maps[i] = malloc(per * 4);
            for (uint32_t k = 0; k < per; k++) maps[i][k] = (uint32_t)(i * per) + k;
        }
        snprintf(pm, sizeof pm, "%s.m", path);
        nx_docstore_merge_stats st = {0};
        merge_stores(pm, &o, in, maps, 2, (uint32_t)n, &st);
        open_store m;
        store_open(&m, pm);
        ck_assert_uint_eq(nx_docstore_dict_count(m.s), 1);
        ck_assert_uint_eq(st.blocks_recompressed, 0);
        nx_docstore_scratch sc;
        nx_docstore_scratch_init(&sc);
        for (uint32_t i = 0; i < n; i += 7) expect_doc(m.s, &sc, i, &d[i]);
        nx_docstore_scratch_free(&sc);
        store_close(&m);
        unlink(pm);
        for (int i = 0; i < 2; i++) {
            store_close(&in[i]);
            unlink(p[i]);
            free(maps[i]);
        }
        nx_docstore_shared_free(sh);
        free_docs(d, n);
    }
}
END_TEST

/* Documents of a few repeated words: within one block zstd finds the
 * repeats itself, so a dictionary saves less than its stored frame
 * costs in one store of ~1.2 MB. */
static gdoc *make_plain_docs(size_t n) {
    gdoc *d = calloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        d[i].n = 2;
        snprintf(d[i].names[0], sizeof d[i].names[0], "id");
        snprintf(d[i].names[1], sizeof d[i].names[1], "body");
        for (size_t k = 0; k < 2; k++) {
            size_t len = k == 0 ? 12 : 1200;
            char *v = malloc(len + 1);
            size_t p = (size_t)snprintf(v, len + 1, "%zu", i);
            while (p < len) v[p++] = "ab "[rnd32() % 3];
            d[i].vals[k] = v;
            d[i].f[k] = (newsidx_field){.name = d[i].names[k], .value = v, .value_len = len};
        }
    }
    return d;
}

/* A store of a run that ends with more than DS_SHARE_MIN_TRAIN (1 MiB)
 * trains the run's dictionary and uses it itself, without first
 * compressing its records both ways to see whether the dictionary pays
 * for its frame in this store alone: the run's other stores use it
 * anyway, and a merge keeps one frame of it for all (that comparison
 * was ~10% of a 2,225-article build's CPU, on its critical path). A
 * store of no run still makes the comparison. */
START_TEST(test_a_store_training_the_runs_dictionary_uses_it_without_comparing) {
    size_t n = 1000; /* ~1.2 MB */
    gdoc *d = make_plain_docs(n);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    tmp_path();
    char p[700];
    snprintf(p, sizeof p, "%s.alone", path);
    write_store_at(p, &o, d, n);
    open_store alone;
    store_open(&alone, p);
    /* the premise: alone, this dictionary does not pay */
    ck_assert_uint_eq(nx_docstore_dict_count(alone.s), 0);
    store_close(&alone);
    unlink(p);
    nx_docstore_shared *sh;
    ck_assert_int_eq(nx_docstore_shared_new(&sh), 0);
    o.shared = sh;
    o.expect_docs = (uint32_t)n;
    snprintf(p, sizeof p, "%s.run", path);
    write_store_at(p, &o, d, n);
    open_store run;
    store_open(&run, p);
    ck_assert_uint_eq(nx_docstore_dict_count(run.s), 1);
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint32_t i = 0; i < n; i += 9) expect_doc(run.s, &sc, i, &d[i]);
    nx_docstore_scratch_free(&sc);
    store_close(&run);
    unlink(p);
    nx_docstore_shared_free(sh);
    free_docs(d, n);
}
END_TEST

/* A store buffering for the run's dictionary says it would wait while
 * another store of the run trains it (a flush then writes its terms
 * first), and no longer once the dictionary is there; it then uses that
 * dictionary. */
START_TEST(test_a_store_says_it_would_wait_while_another_trains_the_runs_dictionary) {
    size_t n_a = 3000, n_b = 200; /* A: ~4.5 MB, past train_bytes; B: ~0.3 MB */
    gdoc *d = make_docs(n_a + n_b);
    nx_docstore_shared *sh;
    ck_assert_int_eq(nx_docstore_shared_new(&sh), 0);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.level = 9; /* f = 20, accel 1: training takes long enough to be seen */
    o.shared = sh;
    tmp_path();
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s.a", path);
    snprintf(pb, sizeof pb, "%s.b", path);
    nx_err err = {0};
    nx_wfile *fb;
    ck_assert_int_eq(nx_wfile_create(pb, KIND, &err, &fb), 0);
    nx_docstore_writer *b;
    ck_assert_int_eq(nx_docstore_writer_create_opts(fb, &o, &err, &b), 0);
    for (size_t i = 0; i < n_b / 2; i++)
        ck_assert_int_eq(nx_docstore_add(b, d[n_a + i].f, d[n_a + i].n), 0);
    ck_assert(!nx_docstore_waits_for_dict(b)); /* nobody trains yet */
    store_job job = {.path = pa, .o = &o, .docs = d, .n = n_a};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, store_thread, &job), 0);
    /* Under valgrind this poll needs --fair-sched=yes (scripts/valgrind.sh):
     * its default scheduler can leave it starved while A trains. */
    bool seen = false;
    while (!seen && !__atomic_load_n(&job.done, __ATOMIC_ACQUIRE)) {
        seen = nx_docstore_waits_for_dict(b);
        sched_yield();
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(job.rc, 0);
    ck_assert(seen);
    ck_assert(!nx_docstore_waits_for_dict(b)); /* trained */
    for (size_t i = n_b / 2; i < n_b; i++)
        ck_assert_int_eq(nx_docstore_add(b, d[n_a + i].f, d[n_a + i].n), 0);
    ck_assert_int_eq(nx_docstore_writer_finish(b), 0);
    nx_docstore_writer_free(b);
    ck_assert_int_eq(nx_wfile_finish(fb), 0);
    open_store sa, sb;
    store_open(&sa, pa);
    store_open(&sb, pb);
    ck_assert_uint_eq(nx_docstore_dict_count(sb.s), 1);
    uint32_t *maps[2] = {malloc(n_a * 4), malloc(n_b * 4)};
    for (uint32_t k = 0; k < n_a; k++) maps[0][k] = k;
    for (uint32_t k = 0; k < n_b; k++) maps[1][k] = (uint32_t)n_a + k;
    open_store in[2] = {sa, sb};
    char pm[700];
    snprintf(pm, sizeof pm, "%s.m", path);
    nx_docstore_merge_stats st = {0};
    merge_stores(pm, &o, in, maps, 2, (uint32_t)(n_a + n_b), &st);
    open_store m;
    store_open(&m, pm);
    ck_assert_uint_eq(nx_docstore_dict_count(m.s), 1); /* B used A's dictionary */
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint32_t i = 0; i < n_a + n_b; i += 11) expect_doc(m.s, &sc, i, &d[i]);
    nx_docstore_scratch_free(&sc);
    store_close(&m);
    store_close(&sa);
    store_close(&sb);
    unlink(pm);
    unlink(pa);
    unlink(pb);
    free(maps[0]);
    free(maps[1]);
    nx_docstore_shared_free(sh);
    free_docs(d, n_a + n_b);
}
END_TEST

/* A scratch keeps a copy of the last dictionary in front of its block:
 * reading in turn from a store with a dictionary, one without and one
 * with another dictionary (and from the first again) must never decode
 * a block against the wrong copy. */
START_TEST(test_one_scratch_reads_stores_with_different_dictionaries_in_turn) {
    size_t n = 1500; /* ~1.5 MB a store: enough to train a dictionary that pays */
    gdoc *d = make_docs(3 * n);
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    char p[3][700];
    open_store st[3];
    for (int i = 0; i < 3; i++) {
        o.dict_bytes = i == 1 ? 0 : NX_DOCSTORE_DEFAULT_DICT_BYTES;
        tmp_path();
        snprintf(p[i], sizeof p[i], "%s.%d", path, i);
        write_store_at(p[i], &o, d + (size_t)i * n, n);
        store_open(&st[i], p[i]);
        ck_assert(nx_docstore_has_dict(st[i].s) == (i != 1));
    }
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    for (uint32_t r = 0; r < 3000; r++) {
        uint32_t k = rnd32() % 3, i = rnd32() % (uint32_t)n;
        expect_doc(st[k].s, &sc, i, &d[k * n + i]);
    }
    nx_docstore_scratch_free(&sc);
    for (int i = 0; i < 3; i++) {
        store_close(&st[i]);
        unlink(p[i]);
    }
    free_docs(d, 3 * n);
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
    tcase_add_test(tc, test_a_store_under_256_kib_trains_no_dictionary);
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
    tcase_add_test(tc, test_merge_copies_live_blocks_and_reads_every_doc_after_deletes);
    tcase_add_test(tc, test_one_dictionary_per_run_and_at_most_four_per_merged_store);
    tcase_add_test(tc, test_stores_written_at_once_share_one_trained_dictionary);
    tcase_add_test(tc, test_one_scratch_reads_stores_with_different_dictionaries_in_turn);
    tcase_add_test(tc, test_a_store_training_the_runs_dictionary_uses_it_without_comparing);
    tcase_add_test(tc, test_a_store_says_it_would_wait_while_another_trains_the_runs_dictionary);
    suite_add_tcase(s, tc);
    return nxt_run(s, CK_FORK_GETENV);
}
