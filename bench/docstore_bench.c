/* docstore_bench — doc store size and speed on real corpora, for choosing
 * the defaults (bench/README.md, "History of measured choices", "Doc store").
 *
 *   build/bench/docstore_bench [--levels 3,9,19] [--blocks 16,32,64]
 *       [--dicts 0,100] [--train KB] [--chunk KB] [--fetches N]
 *       [--params 'SET;SET;...'] FILE.jsonl[.zst]...
 *
 * Level 0 (the default) is the doc store's own default parameters; 1..22
 * zstd's levels. Each --params SET ("s=4,h=18,S=2") overrides parameters
 * of the level (see parse_params) and is tried with every level, block
 * and dictionary size; its text ends the line.
 *
 * Every field of each JSON object is stored (strings as their text, other
 * values as compact JSON), in file order. For each corpus and each
 * (level, block KB, dictionary KB; --chunk sets the zstd sub-block KB, --train
 * the KB buffered to train the dictionary) it prints one line: documents, raw bytes
 * (names + values, what nx_docstore_raw_bytes counts), the store's bytes,
 * their ratio, the dictionary kept, write speed, and the mean time to fetch
 * one random document (decoding its block up to it nearly every time), and
 * "fetch1" the same with a new scratch per fetch (one search's results;
 * the scratch's setup included: a copy of the dictionary). Times
 * are CPU times of the whole process (all threads), except "wall".
 * DOCSTORE_BENCH_KEEP=1 keeps the last store written, as
 * /tmp/docstore_bench_PID.bin, for inspection. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "index/docstore.h"

typedef struct corpus {
    newsidx_field *fields; /* all fields, doc after doc */
    size_t *first;         /* first field of each doc; n_docs + 1 entries */
    size_t n_docs, n_fields, cap_fields, cap_docs;
    uint64_t json_bytes;
} corpus;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "docstore_bench: %s\n", what);
    exit(1);
}

static void add_field(corpus *c, const char *name, const char *v, size_t len) {
    if (c->n_fields == c->cap_fields) {
        c->cap_fields = c->cap_fields ? 2 * c->cap_fields : 1024;
        c->fields = realloc(c->fields, c->cap_fields * sizeof *c->fields);
        if (!c->fields) die("out of memory");
    }
    char *nv = malloc(len + 1), *nn = strdup(name);
    if (!nv || !nn) die("out of memory");
    memcpy(nv, v, len);
    c->fields[c->n_fields++] = (newsidx_field){.name = nn, .value = nv, .value_len = len};
}

static void load(const char *path, corpus *c) {
    char cmd[4096];
    size_t pl = strlen(path);
    if (pl > 4 && strcmp(path + pl - 4, ".zst") == 0)
        snprintf(cmd, sizeof cmd, "zstd -dc '%s'", path);
    else
        snprintf(cmd, sizeof cmd, "cat '%s'", path);
    FILE *fp = popen(cmd, "r");
    if (!fp) die("cannot run zstd");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    memset(c, 0, sizeof *c);
    while ((n = getline(&line, &cap, fp)) > 0) {
        json_error_t e;
        json_t *o = json_loadb(line, (size_t)n, 0, &e);
        if (!json_is_object(o)) {
            json_decref(o);
            continue;
        }
        c->json_bytes += (uint64_t)n;
        if (c->n_docs + 1 >= c->cap_docs) {
            c->cap_docs = c->cap_docs ? 2 * c->cap_docs : 1024;
            c->first = realloc(c->first, c->cap_docs * sizeof *c->first);
            if (!c->first) die("out of memory");
        }
        c->first[c->n_docs++] = c->n_fields;
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            if (json_is_string(v)) {
                add_field(c, k, json_string_value(v), json_string_length(v));
            } else {
                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!s) die("out of memory");
                add_field(c, k, s, strlen(s));
                free(s);
            }
        }
        json_decref(o);
    }
    free(line);
    pclose(fp);
    if (!c->first) die("empty corpus");
    c->first[c->n_docs] = c->n_fields;
}

/* "s=5,h=17,S=3" onto o: zstd strategy, windowLog, hashLog, chainLog,
 * searchLog, minMatch, targetLength (s w h c S m t) and fastCover training
 * k, d, f, accel (k d f a); dictionary attached (A=1) or copied (A=2),
 * dedicated dictionary search (D=1). */
static void parse_params(const char *s, nx_docstore_options *o) {
    while (*s) {
        char key = *s;
        if (s[1] != '=') die("--params wants KEY=VALUE,...");
        int v = atoi(s + 2);
        switch (key) {
        case 's': o->strategy = v; break;
        case 'w': o->window_log = v; break;
        case 'h': o->hash_log = v; break;
        case 'c': o->chain_log = v; break;
        case 'S': o->search_log = v; break;
        case 'm': o->min_match = v; break;
        case 't': o->target_length = v; break;
        case 'k': o->train_k = (uint32_t)v; break;
        case 'd': o->train_d = (uint32_t)v; break;
        case 'f': o->train_f = (uint32_t)v; break;
        case 'a': o->train_accel = (uint32_t)v; break;
        case 'A': o->attach_dict = v; break;
        case 'D': o->dict_search = v; break;
        default: die("--params: unknown key");
        }
        const char *comma = strchr(s, ',');
        if (!comma) break;
        s = comma + 1;
    }
}

static void parse_list(const char *s, int *out, int *n) {
    *n = 0;
    while (*s && *n < 16) {
        out[(*n)++] = atoi(s);
        const char *comma = strchr(s, ',');
        if (!comma) break;
        s = comma + 1;
    }
}

int main(int argc, char **argv) {
    int levels[16] = {0}, blocks[16] = {128}, dicts[16] = {0, 320}; /* the defaults (level 0: the doc store's) */
    int n_levels = 1, n_blocks = 1, n_dicts = 2, train_kb = 0, chunk_kb = 0, fetches = 2000;
    char *param_sets[16] = {""};
    int n_params = 1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        if (i + 1 >= argc) die("option needs a value");
        if (!strcmp(argv[i], "--levels")) parse_list(argv[i + 1], levels, &n_levels);
        else if (!strcmp(argv[i], "--blocks")) parse_list(argv[i + 1], blocks, &n_blocks);
        else if (!strcmp(argv[i], "--dicts")) parse_list(argv[i + 1], dicts, &n_dicts);
        else if (!strcmp(argv[i], "--train")) train_kb = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--chunk")) chunk_kb = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fetches")) fetches = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--params")) {
            /* sets separated by ';', each tried with every level/block/dict */
            n_params = 0;
            for (char *t = strtok(argv[i + 1], ";"); t && n_params < 16; t = strtok(NULL, ";"))
                param_sets[n_params++] = t;
            if (!n_params) die("--params: empty");
        }
        else die("unknown option");
    }
    if (i >= argc) {
        fprintf(stderr, "usage: docstore_bench [--levels L,..] [--blocks KB,..] [--dicts KB,..] "
                        "[--train KB] [--chunk KB] [--fetches N] [--params 'SET;..'] "
                        "FILE.jsonl[.zst]...\n");
        return 2;
    }
    char path[64];
    snprintf(path, sizeof path, "/tmp/docstore_bench_%d.bin", (int)getpid());
    printf("%-14s %6s %5s %5s %10s %10s %10s %6s %6s %8s %6s %9s %9s\n", "corpus", "level", "block",
           "dict", "docs", "raw", "store", "ratio", "vsjson", "write", "wall", "fetch", "fetch1");
    printf("%-14s %6s %5s %5s %10s %10s %10s %6s %6s %8s %6s %9s %9s\n", "", "", "KB", "KB", "", "bytes",
           "bytes", "", "", "MB/s", "MB/s", "us/doc", "us/doc");
    for (; i < argc; i++) {
        corpus c;
        load(argv[i], &c);
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        char name[15];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
        for (int li = 0; li < n_levels; li++)
            for (int bi = 0; bi < n_blocks; bi++)
                for (int di = 0; di < n_dicts * n_params; di++) {
                    int pi = di % n_params;
                    nx_docstore_options o;
                    nx_docstore_options_init(&o);
                    o.level = levels[li];
                    o.block_bytes = (uint32_t)blocks[bi] * 1024;
                    o.dict_bytes = (uint32_t)dicts[di / n_params] * 1024;
                    parse_params(param_sets[pi], &o);
                    if (train_kb) o.train_bytes = (uint32_t)train_kb * 1024;
                    if (chunk_kb) o.chunk_bytes = (uint32_t)chunk_kb * 1024;
                    nx_err err = {0};
                    nx_wfile *f;
                    nx_docstore_writer *w;
                    if (nx_wfile_create(path, 7, &err, &f) ||
                        nx_docstore_writer_create_opts(f, &o, &err, &w))
                        die(err.msg);
                    double t0 = now(), wall0 = wall();
                    for (size_t d = 0; d < c.n_docs; d++)
                        if (nx_docstore_add(w, c.fields + c.first[d], c.first[d + 1] - c.first[d]))
                            die(err.msg);
                    if (nx_docstore_writer_finish(w)) die(err.msg);
                    double t1 = now(), wall1 = wall();
                    uint64_t raw = nx_docstore_raw_bytes(w);
                    nx_docstore_writer_free(w);
                    if (nx_wfile_finish(f)) die("finish failed");
                    nx_rfile rf;
                    nx_docstore *s;
                    if (nx_rfile_open(path, 7, &err, &rf) ||
                        nx_docstore_open(rf.data, rf.len, &err, &s))
                        die(err.msg);
                    nx_docstore_scratch sc;
                    nx_docstore_scratch_init(&sc);
                    uint64_t x = 12345;
                    double t2 = now();
                    for (int r = 0; r < fetches; r++) {
                        x = x * 6364136223846793005ull + 1442695040888963407ull;
                        uint32_t doc = (uint32_t)((x >> 33) % c.n_docs);
                        const newsidx_field *fl;
                        size_t nf;
                        if (nx_docstore_get(s, doc, &sc, &err, &fl, &nf)) die(err.msg);
                        if (nf != c.first[doc + 1] - c.first[doc]) die("wrong field count");
                    }
                    double t3 = now();
                    /* A fetch with a scratch of its own, as one search's
                     * results take (the store's dictionary already
                     * inflated by the fetches above). */
                    int cold = fetches / 10 > 0 ? fetches / 10 : 1;
                    for (int r = 0; r < cold && fetches > 0; r++) {
                        x = x * 6364136223846793005ull + 1442695040888963407ull;
                        uint32_t doc = (uint32_t)((x >> 33) % c.n_docs);
                        const newsidx_field *fl;
                        size_t nf;
                        nx_docstore_scratch one;
                        nx_docstore_scratch_init(&one);
                        if (nx_docstore_get(s, doc, &one, &err, &fl, &nf)) die(err.msg);
                        nx_docstore_scratch_free(&one);
                    }
                    double t4 = now();
                    printf("%-14s %6d %5d %5d %10zu %10llu %10zu %6.3f %6.3f %8.1f %6.1f %9.1f %9.1f%s %s\n",
                           name, o.level, blocks[bi], dicts[di / n_params], c.n_docs,
                           (unsigned long long)raw, rf.len, (double)rf.len / (double)raw,
                           (double)rf.len / (double)c.json_bytes, raw / (t1 - t0) / 1e6,
                           raw / (wall1 - wall0) / 1e6,
                           (t3 - t2) / fetches * 1e6, (t4 - t3) / cold * 1e6,
                           nx_docstore_has_dict(s) ? "" : " (no dict)", param_sets[pi]);
                    fflush(stdout);
                    nx_docstore_scratch_free(&sc);
                    nx_docstore_close(s);
                    nx_rfile_close(&rf);
                    if (!getenv("DOCSTORE_BENCH_KEEP")) unlink(path);
                }
        for (size_t k = 0; k < c.n_fields; k++) {
            free((void *)c.fields[k].name);
            free((void *)c.fields[k].value);
        }
        free(c.fields);
        free(c.first);
    }
    return 0;
}
