/* libFuzzer harness for the readers of the term dictionary and the doc store
 * (docs/FORMAT.md ("Building blocks")): whatever the bytes, open/get/seek/next/check must
 * return a code, never read out of bounds or crash.
 *
 * Built and run with the other harnesses (tests/fuzz/CMakeLists.txt: the
 * `fuzz` target, seeds in tests/fuzz/fuzz_blocks/), or alone:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Ilib \
 *     tests/fuzz/fuzz_blocks.c lib/util/util.c lib/util/file.c lib/index/termdict.c \
 *     lib/index/docstore.c lib/index/docstore_read.c lib/index/docstore_merge.c -lzstd -lxxhash \
 *     -o fuzz_blocks
 *   ./fuzz_blocks -max_total_time=120 CORPUS_DIR tests/fuzz/fuzz_blocks
 * Input: byte 0 picks the reader (even: doc store, odd: term dictionary);
 * the rest are the structure's bytes. FUZZ_WRITE_SEEDS=DIR makes the
 * harness write valid seeds (a dictionary, a store with and without a
 * zstd dictionary) into DIR and exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/docstore.h"
#include "index/termdict.h"

static void fuzz_termdict(const uint8_t *data, size_t size) {
    nx_termdict *d;
    nx_err err;
    if (nx_termdict_open(data, size, &err, &d) != 0) return;
    (void)nx_termdict_check(d, &err);
    static const char *keys[] = {"", "a", "m", "t0005", "zzzz", "\x01tax"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const uint8_t *v;
        size_t vl;
        (void)nx_termdict_find(d, (const uint8_t *)keys[i], strlen(keys[i]), &v, &vl);
        nx_termdict_iter it;
        int rc = nx_termdict_seek(d, (const uint8_t *)keys[i], strlen(keys[i]), &it);
        for (int k = 0; rc == 1 && k < 100; k++) {
            /* Touch what the iterator exposes, so ASan sees a bad pointer. */
            volatile uint8_t sink = it.value_len ? it.value[it.value_len - 1] : 0;
            (void)sink;
            rc = nx_termdict_next(&it);
        }
    }
    nx_termdict_close(d);
}

static void fuzz_docstore(const uint8_t *data, size_t size) {
    nx_docstore *s;
    nx_err err;
    if (nx_docstore_open(data, size, &err, &s) != 0) return;
    nx_docstore_scratch sc;
    nx_docstore_scratch_init(&sc);
    uint32_t n = nx_docstore_count(s);
    for (uint32_t doc = 0; doc < n && doc < 300; doc++) {
        const newsidx_field *f;
        size_t nf;
        if (nx_docstore_get(s, doc, &sc, &err, &f, &nf) != 0) continue;
        for (size_t k = 0; k < nf; k++) {
            volatile size_t sink = strlen(f[k].name);
            if (f[k].value_len) sink += (uint8_t)f[k].value[f[k].value_len - 1];
            (void)sink;
        }
    }
    (void)nx_docstore_check(s, &err);
    nx_docstore_scratch_free(&sc);
    nx_docstore_close(s);
}

static void write_seed(const char *dir, const char *name, uint8_t kind, const uint8_t *p,
                       size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) return;
    fputc(kind, fp);
    fwrite(p, 1, n, fp);
    fclose(fp);
}

static void store_seed(const char *dir, const char *name, uint32_t dict_bytes, int n_docs) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.tmp", dir, name);
    nx_err err;
    nx_wfile *f;
    nx_docstore_writer *w;
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.dict_bytes = dict_bytes;
    o.block_bytes = 2048;
    o.chunk_bytes = 1024; /* frames of several zstd blocks: the partial decode */
    if (nx_wfile_create(path, 7, &err, &f) || nx_docstore_writer_create_opts(f, &o, &err, &w))
        return;
    char body[400];
    for (int i = 0; i < n_docs; i++) {
        int len = snprintf(body, sizeof body, "article %d about markets, oil and trade; %s", i,
                           i % 2 ? "prices rose" : "shares fell");
        newsidx_field fl[3] = {{"id", "x", 1}, {"title", body, 12}, {"body", body, (size_t)len}};
        nx_docstore_add(w, fl, 3);
    }
    nx_docstore_writer_finish(w);
    nx_docstore_writer_free(w);
    nx_wfile_finish(f);
    nx_rfile rf;
    if (nx_rfile_open(path, 7, &err, &rf) == 0) {
        write_seed(dir, name, 0, rf.data, rf.len);
        nx_rfile_close(&rf);
    }
    remove(path);
}

/* A merged store: two stores with dictionaries of their own merged with
 * ids interleaved and a third of one input's docs dropped, so the seed has
 * a doc map, two dictionaries, copied blocks with dead records and
 * recompressed ones. */
static void merged_seed(const char *dir) {
    char p[3][4096];
    nx_err err;
    uint8_t *bytes[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    nx_docstore *in[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        snprintf(p[k], sizeof p[k], "%s/merged_in%d", dir, k);
        store_seed(dir, p[k] + strlen(dir) + 1, 8 * 1024, 1500);
        /* store_seed wrote the bytes after a kind byte: read them back */
        FILE *fp = fopen(p[k], "rb");
        if (!fp) return;
        fseek(fp, 0, SEEK_END);
        long l = ftell(fp) - 1;
        fseek(fp, 1, SEEK_SET);
        bytes[k] = malloc(l > 0 ? (size_t)l : 1);
        len[k] = l > 0 ? (size_t)l : 0;
        if (fread(bytes[k], 1, len[k], fp) != len[k]) len[k] = 0;
        fclose(fp);
        remove(p[k]);
        if (!len[k] || nx_docstore_open(bytes[k], len[k], &err, &in[k])) return;
    }
    snprintf(p[2], sizeof p[2], "%s/merged.tmp", dir);
    uint32_t *map[2] = {malloc(1500 * 4), malloc(1500 * 4)}, total = 0;
    for (uint32_t d = 0; d < 1500; d++)
        for (int k = 0; k < 2; k++)
            map[k][d] = k == 1 && d % 3 == 0 && d < 900 ? UINT32_MAX : total++;
    nx_wfile *f;
    nx_docstore_writer *w;
    nx_docstore_options o;
    nx_docstore_options_init(&o);
    o.block_bytes = 2048;
    o.chunk_bytes = 1024;
    if (nx_wfile_create(p[2], 7, &err, &f) == 0 && nx_docstore_writer_create_opts(f, &o, &err, &w) == 0) {
        nx_docstore_writer_begin_merge(w, total, false);
        for (int k = 0; k < 2; k++) {
            nx_docstore_scratch sc;
            nx_docstore_scratch_init(&sc);
            nx_docstore_merge_input(w, in[k], map[k], &sc, NULL);
            nx_docstore_scratch_free(&sc);
        }
        nx_docstore_writer_finish(w);
        nx_docstore_writer_free(w);
        nx_wfile_finish(f);
        nx_rfile m;
        if (nx_rfile_open(p[2], 7, &err, &m) == 0) {
            write_seed(dir, "store_merged", 0, m.data, m.len);
            nx_rfile_close(&m);
        }
        remove(p[2]);
    }
    for (int k = 0; k < 2; k++) {
        nx_docstore_close(in[k]);
        free(bytes[k]);
        free(map[k]);
    }
}

static void write_seeds(const char *dir) {
    nx_termdict_builder *b;
    nx_buf buf = {0};
    if (nx_termdict_builder_create_var(&b) == 0) {
        char t[16];
        for (int i = 0; i < 100; i++) {
            int l = snprintf(t, sizeof t, "t%04d", i * 3);
            nx_termdict_add_var(b, (const uint8_t *)t, (size_t)l, (const uint8_t *)t, (size_t)(i % 5));
        }
        if (nx_termdict_finish(b, &buf) == 0) write_seed(dir, "termdict", 1, buf.data, buf.len);
        nx_termdict_builder_free(b);
        nx_buf_free(&buf);
    }
    store_seed(dir, "store_nodict", 0, 40);
    store_seed(dir, "store_dict", 64 * 1024, 3000);
    merged_seed(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int seeded;
    if (!seeded) {
        seeded = 1;
        const char *dir = getenv("FUZZ_WRITE_SEEDS");
        if (dir) {
            write_seeds(dir);
            exit(0);
        }
    }
    if (size < 1) return 0;
    /* An exact-size copy, so ASan catches a read one byte past the end. */
    size_t n = size - 1;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) return 0;
    memcpy(copy, data + 1, n);
    if (data[0] & 1) fuzz_termdict(copy, n);
    else fuzz_docstore(copy, n);
    free(copy);
    return 0;
}
