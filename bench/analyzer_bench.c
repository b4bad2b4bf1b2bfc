/* bench/ — analyzer throughput: MB/s and terms/s of newsidx_analyze over the
 * title and body of every article of JSON Lines corpora (.jsonl or
 * .jsonl.zst). Decompression and JSON parsing happen before the clock
 * starts; only the analyzer is timed, one call per field as the indexer
 * makes them. Throughput is given per wall-clock second and per second of
 * the thread's CPU time (the latter is steadier when other jobs share the
 * machine); both are the best of --repeat runs.
 *
 *   analyzer_bench [--repeat N] [FILE...]     (default: every .jsonl.zst in ../shared/corpora)
 */
#include "newsidx.h"

#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

typedef struct corpus {
    char *text;      /* the fields back to back */
    size_t text_len, text_cap;
    size_t *ends;    /* end offset of each field in text */
    size_t n_fields, fields_cap;
    size_t n_docs;
} corpus;

static void die(const char *what) {
    fprintf(stderr, "analyzer_bench: %s\n", what);
    exit(1);
}

static void add_field(corpus *c, const char *s, size_t n) {
    if (c->text_len + n > c->text_cap) {
        while (c->text_len + n > c->text_cap) c->text_cap = c->text_cap ? c->text_cap * 2 : 1 << 20;
        c->text = realloc(c->text, c->text_cap);
        if (!c->text) die("out of memory");
    }
    memcpy(c->text + c->text_len, s, n);
    c->text_len += n;
    if (c->n_fields == c->fields_cap) {
        c->fields_cap = c->fields_cap ? c->fields_cap * 2 : 4096;
        c->ends = realloc(c->ends, c->fields_cap * sizeof *c->ends);
        if (!c->ends) die("out of memory");
    }
    c->ends[c->n_fields++] = c->text_len;
}

static void add_line(corpus *c, const char *line, size_t len) {
    json_error_t err;
    json_t *doc = json_loadb(line, len, 0, &err);
    if (!doc) return;
    const char *names[] = {"title", "body"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(doc, names[i]);
        if (json_is_string(v)) add_field(c, json_string_value(v), json_string_length(v));
    }
    c->n_docs++;
    json_decref(doc);
}

/* Reads a whole file, decompressing zstd frames when the magic says so. */
static char *read_input(const char *path, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, len = 0, n;
    char *raw = malloc(cap);
    if (!raw) die("out of memory");
    while ((n = fread(raw + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            raw = realloc(raw, cap *= 2);
            if (!raw) die("out of memory");
        }
    }
    fclose(f);
    if (len < 4 || memcmp(raw, "\x28\xb5\x2f\xfd", 4) != 0) {
        *out_len = len;
        return raw;
    }
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds) die("out of memory");
    size_t out_cap = len * 4, out_used = 0;
    char *out = malloc(out_cap);
    if (!out) die("out of memory");
    ZSTD_inBuffer in = {raw, len, 0};
    while (in.pos < in.size) {
        if (out_used == out_cap) {
            out = realloc(out, out_cap *= 2);
            if (!out) die("out of memory");
        }
        ZSTD_outBuffer o = {out, out_cap, out_used};
        size_t rc = ZSTD_decompressStream(ds, &o, &in);
        if (ZSTD_isError(rc)) die(ZSTD_getErrorName(rc));
        out_used = o.pos;
    }
    ZSTD_freeDStream(ds);
    free(raw);
    *out_len = out_used;
    return out;
}

typedef struct counter {
    uint64_t terms;
    uint64_t term_bytes;
} counter;

static int count_token(void *ctx, const newsidx_token *t) {
    counter *c = ctx;
    c->terms++;
    c->term_bytes += t->term_len;
    return 0;
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of `repeat` runs over the corpus: wall seconds, and the thread's CPU
 * seconds (steadier on a machine shared with other jobs). */
static double time_analyzer(newsidx_analyzer *a, const corpus *c, int repeat, uint64_t *terms,
                            double *cpu_best) {
    double best = 1e30;
    *cpu_best = 1e30;
    for (int r = 0; r < repeat; r++) {
        counter cnt = {0, 0};
        double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        double t0 = clock_s(CLOCK_MONOTONIC);
        size_t start = 0;
        for (size_t i = 0; i < c->n_fields; i++) {
            if (newsidx_analyze(a, c->text + start, c->ends[i] - start, count_token, &cnt))
                die("newsidx_analyze failed");
            start = c->ends[i];
        }
        double dt = clock_s(CLOCK_MONOTONIC) - t0;
        double dc = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        if (dt < best) best = dt;
        if (dc < *cpu_best) *cpu_best = dc;
        *terms = cnt.terms;
    }
    return best;
}

static void bench_one(const char *path, int repeat) {
    size_t len = 0;
    char *data = read_input(path, &len);
    if (!data) {
        fprintf(stderr, "analyzer_bench: cannot read %s\n", path);
        return;
    }
    corpus c = {0};
    for (size_t start = 0; start < len;) {
        char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (end > start) add_line(&c, data + start, end - start);
        start = end + 1;
    }
    free(data);

    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    static const struct {
        const char *label, *stem, *stop;
    } configs[] = {
        {"default", NULL, NULL},
        {"stopwords=english", NULL, "english"},
        {"stem=english", "english", NULL},
    };
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        newsidx_analyzer_options o;
        newsidx_analyzer_options_init(&o);
        o.stem_language = configs[k].stem;
        o.stopwords_language = configs[k].stop;
        newsidx_analyzer *a = NULL;
        if (newsidx_analyzer_create(&o, &a)) die("cannot create analyzer");
        uint64_t terms = 0;
        double cpu = 0;
        double s = time_analyzer(a, &c, repeat, &terms, &cpu);
        printf("%-24s %-18s %7zu docs %8.1f MB  %7.1f MB/s  %7.1f MB/s  %6.2f Mterms/s\n",
               name, configs[k].label, c.n_docs, (double)c.text_len / 1e6,
               (double)c.text_len / 1e6 / s, (double)c.text_len / 1e6 / cpu,
               (double)terms / 1e6 / cpu);
        newsidx_analyzer_free(a);
    }
    free(c.text);
    free(c.ends);
}

int main(int argc, char **argv) {
    int repeat = 5;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--repeat") == 0) {
        repeat = atoi(argv[2]);
        if (repeat < 1) repeat = 1;
        first = 3;
    }
    printf("%-24s %-18s %12s %11s  %12s  %12s  %14s\n", "corpus", "analyzer", "", "title+body",
           "wall", "cpu", "terms (cpu)");
    if (first < argc) {
        for (int i = first; i < argc; i++) bench_one(argv[i], repeat);
        return 0;
    }
    glob_t g;
    if (glob("../shared/corpora/*.jsonl.zst", 0, NULL, &g) != 0) {
        fprintf(stderr, "analyzer_bench: no ../shared/corpora/*.jsonl.zst here; give files\n");
        return 2;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) bench_one(g.gl_pathv[i], repeat);
    globfree(&g);
    return 0;
}
