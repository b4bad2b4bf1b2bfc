/* dups_bench — precision and recall of SimHash near-duplicate grouping on
 * gen-articles output (bench/run_dups.sh runs it).
 *
 *   zstdcat gen.jsonl.zst | build/bench/dups_bench [-k 1,2,3,4] [-d 3]
 *
 * The truth, with -s SEED -r RATE (those given to gen-articles): which
 * original article "gen-<n>" copies, replayed from gen-articles' own
 * generator (is_dup() of ../shared/tools/gen-articles/gen-articles.c: the
 * same xoshiro256** stream per article). Without them: the articles sharing
 * title and author (reprints keep both, but two originals may share them
 * by chance). Pairwise measures: among the pairs of articles put in one
 * group, the share that truly belong together (precision); among the true
 * pairs, the share put together (recall).
 * Also reports the CPU time nx_simhash_article takes per article. With
 * --truth it only prints "id truth" per article (bench/run_dups.sh scores
 * `newsidx dups` with it). */
#include "index/simhash.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* ---- gen-articles' generator, for the truth (its is_dup(), verbatim in
 * effect) ---- */
typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = mix64(seed + 0x632be59bd9b4e019ULL) ^ mix64(stream ^ 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = mix64(x);
    }
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

static uint64_t rng_below(rng *r, uint64_t n) {
    return n <= UINT32_MAX ? (((rng_next(r) >> 32) * n) >> 32) : rng_next(r) % n;
}

/* The original article n (1-based) copies, or n itself. */
static uint64_t original_of(uint64_t seed, double rate, uint64_t n) {
    for (;;) {
        rng r;
        rng_seed(&r, seed, n);
        double u = (double)(rng_next(&r) >> 11) * 0x1.0p-53;
        if (!(n > 1 && u < rate)) return n;
        n = 1 + rng_below(&r, n - 1);
    }
}

typedef struct art {
    char *title, *body;
    size_t title_len, body_len;
    uint64_t truth_key; /* XXH3 of title \0 author */
} art;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *dup_field(json_t *o, const char *name, size_t *len) {
    json_t *v = json_object_get(o, name);
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    *len = json_is_string(v) ? json_string_length(v) : 0;
    char *c = malloc(*len + 1);
    if (c) memcpy(c, s, *len + 1);
    return c;
}

/* Pairs inside groups: sum of size*(size-1)/2 over the groups given as a
 * sorted array of group labels. */
static uint64_t pairs_of_sorted(const uint64_t *lab, uint32_t n) {
    uint64_t p = 0;
    for (uint32_t a = 0; a < n;) {
        uint32_t e = a + 1;
        while (e < n && lab[e] == lab[a]) e++;
        p += (uint64_t)(e - a) * (e - a - 1) / 2;
        a = e;
    }
    return p;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *ks = "1,2,3,4", *ds = "3";
    uint64_t seed = 0;
    double rate = -1;
    bool print_truth = argc > 1 && !strcmp(argv[1], "--truth");
    for (int i = 1 + print_truth; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-k")) ks = argv[i + 1];
        else if (!strcmp(argv[i], "-d")) ds = argv[i + 1];
        else if (!strcmp(argv[i], "-s")) seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-r")) rate = strtod(argv[i + 1], NULL);
        else {
            fprintf(stderr, "usage: dups_bench [--truth] [-k K,...] [-d D,...] [-s SEED -r RATE] < "
                            "gen.jsonl\n");
            return 2;
        }
    }
    art *a = NULL;
    uint32_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    while ((ll = getline(&line, &lcap, stdin)) > 0) {
        json_t *o = json_loadb(line, (size_t)ll, 0, NULL);
        if (!json_is_object(o)) {
            json_decref(o);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            a = realloc(a, sizeof *a * cap);
            if (!a) return 1;
        }
        art *x = &a[n++];
        size_t al;
        x->title = dup_field(o, "title", &x->title_len);
        x->body = dup_field(o, "body", &x->body_len);
        char *author = dup_field(o, "author", &al);
        XXH3_state_t *st = XXH3_createState();
        XXH3_64bits_reset(st);
        XXH3_64bits_update(st, x->title, x->title_len + 1);
        XXH3_64bits_update(st, author, al);
        x->truth_key = XXH3_64bits_digest(st);
        json_t *idv = json_object_get(o, "id");
        const char *id = json_is_string(idv) ? json_string_value(idv) : "";
        if (rate >= 0 && !strncmp(id, "gen-", 4))
            x->truth_key = original_of(seed, rate, strtoull(id + 4, NULL, 10));
        if (print_truth) printf("%s %llu\n", id, (unsigned long long)x->truth_key);
        XXH3_freeState(st);
        free(author);
        json_decref(o);
    }
    free(line);
    if (print_truth) return 0;
    uint64_t *h = malloc(sizeof *h * (n + 1)), *lab = malloc(sizeof *lab * (n + 1));
    uint32_t *group = malloc(sizeof *group * (n + 1));
    if (!h || !lab || !group) return 1;
    for (uint32_t i = 0; i < n; i++) lab[i] = a[i].truth_key;
    qsort(lab, n, sizeof *lab, cmp_u64);
    uint64_t true_pairs = pairs_of_sorted(lab, n);
    printf("articles %u true_pairs %llu\n", n, (unsigned long long)true_pairs);
    for (const char *kp = ks; *kp;) {
        unsigned k = (unsigned)strtoul(kp, (char **)&kp, 10);
        if (*kp == ',') kp++;
        double t0 = now();
        for (uint32_t i = 0; i < n; i++)
            h[i] = nx_simhash_article(a[i].title, a[i].title_len, a[i].body, a[i].body_len, k);
        double ns = (now() - t0) * 1e9 / (n ? n : 1);
        for (const char *dp = ds; *dp;) {
            unsigned d = (unsigned)strtoul(dp, (char **)&dp, 10);
            if (*dp == ',') dp++;
            double g0 = now();
            if (nx_simhash_group(h, n, d, group)) return 1;
            double gs = now() - g0;
            /* found pairs, and found pairs that are true: label by (group,
             * truth) to count the true ones */
            for (uint32_t i = 0; i < n; i++) lab[i] = group[i];
            qsort(lab, n, sizeof *lab, cmp_u64);
            uint64_t found = pairs_of_sorted(lab, n);
            for (uint32_t i = 0; i < n; i++)
                lab[i] = XXH3_64bits_withSeed(&a[i].truth_key, 8, group[i]);
            qsort(lab, n, sizeof *lab, cmp_u64);
            uint64_t good = pairs_of_sorted(lab, n);
            printf("k %u d %u hash_ns_per_article %.0f group_s %.3f found_pairs %llu "
                   "precision %.4f recall %.4f\n",
                   k, d, ns, gs, (unsigned long long)found, found ? (double)good / found : 1.0,
                   true_pairs ? (double)good / true_pairs : 1.0);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        free(a[i].title);
        free(a[i].body);
    }
    free(a);
    free(h);
    free(lab);
    free(group);
    return 0;
}
