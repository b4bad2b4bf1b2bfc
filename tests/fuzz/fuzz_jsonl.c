/* fuzz_jsonl — libFuzzer harness for the JSON Lines reader: the input is
 * fed as a file (memfd) to nx_ingest_jsonl_fd (plain, or zstd/gzip when its
 * magic bytes say so) with a small max_line_bytes, so the too-long path
 * runs too; then each line goes to the hand-written scanner alone.
 * Properties (ingest.h): every record delivered has valid UTF-8 values
 * without NUL bytes; whatever the scanner accepts, jansson accepts as an
 * object (the scanner never widens the grammar). */
/* The properties are checked with assert even in Release builds. */
#undef NDEBUG
#include "ingest/ingest.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int g_fd = -1;

static int on_record(void *ctx, const nx_record *rec) {
    (void)ctx;
    for (size_t i = 0; i < rec->n_fields; i++) {
        const newsidx_field *f = &rec->fields[i];
        assert(f->name != NULL);
        assert(nx_utf8_valid_prefix(f->value, f->value_len) == f->value_len);
        assert(memchr(f->value, '\0', f->value_len) == NULL);
    }
    return NX_RECORD_ADDED;
}

static void scan_line(const char *line, size_t len) {
    nx_buf scratch = {0}, members = {0};
    bool had_nul = false;
    int rc = nx_json_scan_object(line, len, &scratch, &members, &had_nul, false);
    if (rc == NX_SCAN_OK) {
        json_error_t e;
        json_t *v = json_loadb(line, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
        assert(v != NULL && json_is_object(v));
        json_decref(v);
    }
    /* taking numbers as they are, what the scanner accepts jansson accepts
     * or refuses only for a number out of its range */
    had_nul = false;
    if (nx_json_scan_object(line, len, &scratch, &members, &had_nul, true) == NX_SCAN_OK) {
        json_error_t e;
        json_t *v = json_loadb(line, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
        assert(v ? json_is_object(v) : json_error_code(&e) == json_error_numeric_overflow);
        json_decref(v);
    }
    nx_buf_free(&scratch);
    nx_buf_free(&members);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (g_fd < 0) {
        g_fd = memfd_create("fuzz_jsonl", 0);
        if (g_fd < 0) abort();
    }
    if (ftruncate(g_fd, 0) != 0 || lseek(g_fd, 0, SEEK_SET) != 0) abort();
    if (size && write(g_fd, data, size) != (ssize_t)size) abort();
    if (lseek(g_fd, 0, SEEK_SET) != 0) abort();
    newsidx_ingest_options o;
    newsidx_ingest_options_init(&o);
    o.max_line_bytes = 256;
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    uint64_t in_bytes = 0;
    int rc = nx_ingest_jsonl_fd(g_fd, "fuzz", &o, &st, on_record, NULL, &in_bytes);
    assert(rc == 0 || rc == NEWSIDX_ERR_IO || rc == NEWSIDX_ERR_NOMEM);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        scan_line(p, n);
        p += n + 1;
    }
    return 0;
}
