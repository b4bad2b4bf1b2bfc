/* termdict_bench — term dictionary size and lookup speed.
 *
 *   build/bench/termdict_bench [FILE.jsonl[.zst]] [N_LOOKUPS]
 *
 * Terms: the distinct lower-cased ASCII words of the file's text (default
 * ../shared/corpora/20newsgroups.jsonl.zst; a crude tokenizer is enough to
 * get a realistic vocabulary; run from the repo root for the default), each prefixed with a field byte as the index
 * does, with a 24-byte value. Prints bytes per term, build time, and the
 * mean CPU time of exact lookups of present and absent terms, of a seek,
 * and of iterating all terms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/termdict.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct term {
    char *s;
    size_t len;
} term;

static int cmp(const void *a, const void *b) {
    const term *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/corpora/20newsgroups.jsonl.zst";
    long lookups = argc > 2 ? atol(argv[2]) : 1000000;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, strstr(path, ".zst") ? "zstd -dc '%s'" : "cat '%s'", path);
    FILE *fp = popen(cmd, "r");
    if (!fp) return 1;
    size_t cap = 1 << 20, n = 0;
    term *t = malloc(cap * sizeof *t);
    char word[64];
    size_t wl = 0;
    int ch;
    /* Field byte (0..4) + word: the same word in several fields, as the
     * index keys (field, term). */
    while (t && (ch = getc(fp)) != EOF) {
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
            if (wl < 40) word[1 + wl++] = (char)(ch | 0x20);
            continue;
        }
        if (wl >= 2) {
            if (n == cap) {
                cap *= 2;
                t = realloc(t, cap * sizeof *t);
                if (!t) break;
            }
            word[0] = (char)(n % 3 == 0 ? 1 : 0); /* title or body */
            t[n].s = malloc(wl + 1);
            memcpy(t[n].s, word, wl + 1);
            t[n].len = wl + 1;
            n++;
        }
        wl = 0;
    }
    pclose(fp);
    if (!t || n == 0) return 1;
    qsort(t, n, sizeof *t, cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && cmp(&t[u - 1], &t[i]) == 0) {
            free(t[i].s);
            continue;
        }
        t[u++] = t[i];
    }
    n = u;
    /* Keys packed in sorted order, and the lookup keys laid out in query
     * order, so the timings measure the dictionary, not cache misses on
     * the bench's own scattered strings. */
    char *arena = malloc(n * 42);
    if (!arena) return 1;
    for (size_t i = 0, off = 0; i < n; i++) {
        memcpy(arena + off, t[i].s, t[i].len);
        free(t[i].s);
        t[i].s = arena + off;
        off += t[i].len;
    }
    typedef struct query {
        uint8_t len;
        char s[63];
    } query;
    query *q = malloc((size_t)lookups * sizeof *q);
    if (!q) return 1;

    uint8_t value[24] = {0};
    double t0 = now();
    nx_termdict_builder *b;
    if (nx_termdict_builder_create(sizeof value, &b)) return 1;
    uint64_t key_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(value, &i, sizeof i);
        key_bytes += t[i].len;
        if (nx_termdict_add(b, (const uint8_t *)t[i].s, t[i].len, value)) return 1;
    }
    nx_buf buf = {0};
    if (nx_termdict_finish(b, &buf)) return 1;
    nx_termdict_builder_free(b);
    double t1 = now();
    nx_termdict *d;
    nx_err err;
    if (nx_termdict_open(buf.data, buf.len, &err, &d)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t2 = now();
    printf("terms %zu, term bytes %llu, dictionary %zu bytes = %.2f bytes/term "
           "(%.2f without the 24-byte values)\n",
           n, (unsigned long long)key_bytes, buf.len, (double)buf.len / n,
           (double)buf.len / n - 24);
    printf("build %.0f ns/term, open %.2f ms\n", (t1 - t0) / n * 1e9, (t2 - t1) * 1e3);

    uint64_t x = 42, found = 0;
    for (long r = 0; r < lookups; r++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const term *k = &t[(x >> 33) % n];
        q[r].len = (uint8_t)k->len;
        memcpy(q[r].s, k->s, k->len);
    }
    double t3 = now();
    for (long r = 0; r < lookups; r++)
        found += nx_termdict_get(d, (const uint8_t *)q[r].s, q[r].len, value) == 1;
    double t4 = now();
    for (long r = 0; r < lookups; r++) /* absent, right next to a present term */
        q[r].s[q[r].len++] = 'q';
    double t4b = now();
    for (long r = 0; r < lookups; r++)
        found += nx_termdict_get(d, (const uint8_t *)q[r].s, q[r].len, value) == 1;
    double t5 = now();
    nx_termdict_iter it;
    for (long r = 0; r < lookups; r++)
        found += nx_termdict_seek(d, (const uint8_t *)q[r].s, q[r].len > 3 ? 3 : q[r].len, &it) == 1;
    double t6 = now();
    size_t walked = 0;
    int rc = nx_termdict_seek(d, NULL, 0, &it);
    while (rc == 1) {
        walked++;
        rc = nx_termdict_next(&it);
    }
    double t7 = now();
    printf("get hit %.0f ns, get miss %.0f ns, seek %.0f ns, iterate %.1f ns/term "
           "(found %llu, walked %zu)\n",
           (t4 - t3) / lookups * 1e9, (t5 - t4b) / lookups * 1e9, (t6 - t5) / lookups * 1e9,
           (t7 - t6) / walked * 1e9, (unsigned long long)found, walked);
    nx_termdict_close(d);
    nx_buf_free(&buf);
    free(arena);
    free(q);
    free(t);
    return 0;
}
