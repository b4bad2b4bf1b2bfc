/* index/simhash — a 64-bit similarity hash of an article over word
 * shingles, compared by Hamming distance like a SimHash.
 * The value is stored per doc in the column file (docs/FORMAT.md,
 * "Columns"); its definition below is part of the format: changing the
 * words, the shingles or the hashes changes what old segments hold. */
#include "index/simhash.h"

#include "newsidx.h"

#include <stdlib.h>
#include <string.h>

/* inlined: a call per word into libxxhash cost more than the hashing */
#define XXH_INLINE_ALL
#include <xxhash.h>

#define MAX_SHINGLE 8

/* One-permutation 1-bit minwise hashing (Li, Owen and Zhang, 2012, with
 * b-bit minwise hashing's b = 1): each shingle hash goes to one of 64 bins
 * by its top 6 bits; a bin keeps the smallest of the other 58 bits among
 * its shingles; bit i of the result is one bit of a mix of bin i's minimum.
 * Two articles then differ in bit i with probability about (1 - J) / 2,
 * J the Jaccard similarity of their shingle sets, against acos(J') / pi
 * for Charikar's SimHash (J' the cosine): for a reprint with 3 changed
 * words in 200 that is ~1 bit against ~7, which is what lets a distance
 * of 3 find reprints (bench/README.md, "Near-duplicate reprints"). */
#define N_BINS 64
#define BIN_EMPTY UINT64_MAX

typedef struct sketch {
    uint64_t min[N_BINS];
    uint32_t n; /* shingles */
} sketch;

static inline void sketch_add(sketch *s, uint64_t h) {
    unsigned bin = (unsigned)(h >> 58);
    uint64_t v = h & ((UINT64_C(1) << 58) - 1);
    uint64_t m = s->min[bin];
    s->min[bin] = v < m ? v : m; /* a select: the branch mispredicted often */
    s->n++;
}

/* murmur3's 64-bit finalizer: every input bit reaches the low bit. */
static inline uint64_t fmix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* fold[c]: the byte as it goes into a word (ASCII letters lower-cased), 0
 * for a byte that separates words. Words are runs of ASCII letters and
 * digits and of bytes >= 0x80 (all of a UTF-8 sequence). */
#define FW(c)                                                                         \
    (unsigned char)(((c) >= 'A' && (c) <= 'Z')   ? (c) + 32                          \
                    : ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || (c) >= 0x80 \
                        ? (c)                                                         \
                        : 0)
#define FW4(c) FW(c), FW((c) + 1), FW((c) + 2), FW((c) + 3)
#define FW16(c) FW4(c), FW4((c) + 4), FW4((c) + 8), FW4((c) + 12)
#define FW64(c) FW16(c), FW16((c) + 16), FW16((c) + 32), FW16((c) + 48)
static const unsigned char fold[256] = {FW64(0), FW64(64), FW64(128), FW64(192)};

/* Adds the shingles of one field. A word's hash is XXH3-64 of its
 * lower-cased bytes zero-padded to 16 (words longer than 64 bytes: of
 * their first 64): one hashed length for nearly every word, so XXH3's
 * branch on the length is predicted (word bytes are never 0, so the
 * padding is unambiguous). A shingle of k > 1 words is XXH3-64 of its k
 * word hashes. */
static void add_field(sketch *s, const char *text, size_t len, unsigned k) {
    uint64_t win[MAX_SHINGLE];
    unsigned char word[64];
    unsigned n_words = 0;
    size_t i = 0;
    const unsigned char *t = (const unsigned char *)text;
    while (i < len) {
        while (i < len && !fold[t[i]]) i++;
        if (i == len) break;
        size_t wl = 0;
        unsigned char c;
        memset(word, 0, 16);
        while (i < len && (c = fold[t[i]]) != 0) {
            if (wl < sizeof word) word[wl++] = c;
            i++;
        }
        uint64_t h = XXH3_64bits(word, wl < 16 ? 16 : wl);
        if (k == 1) {
            sketch_add(s, h);
            n_words++;
            continue;
        }
        if (n_words >= k) memmove(win, win + 1, (k - 1) * sizeof win[0]);
        win[n_words >= k ? k - 1 : n_words] = h;
        n_words++;
        if (n_words >= k) sketch_add(s, XXH3_64bits(win, k * sizeof win[0]));
    }
    if (k > 1 && n_words > 0 && n_words < k)
        sketch_add(s, XXH3_64bits(win, n_words * sizeof win[0]));
}

uint64_t nx_simhash_article(const char *title, size_t title_len, const char *body,
                            size_t body_len, unsigned shingle) {
    unsigned k = shingle < 1 ? 1 : shingle > MAX_SHINGLE ? MAX_SHINGLE : shingle;
    sketch s;
    for (int i = 0; i < N_BINS; i++) s.min[i] = BIN_EMPTY;
    s.n = 0;
    if (title) add_field(&s, title, title_len, k);
    if (body) add_field(&s, body, body_len, k);
    if (s.n == 0) return NX_SIMHASH_NONE;
    /* An empty bin borrows the minimum of the next non-empty one (circular;
     * "densification"), mixed with its own number so that the borrowed bits
     * are not copies of the lender's. */
    uint64_t h = 0;
    for (unsigned i = 0; i < N_BINS; i++) {
        unsigned j = i;
        while (s.min[j] == BIN_EMPTY) j = (j + 1) % N_BINS;
        uint64_t bit = fmix64(s.min[j] ^ (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) & 1;
        h |= bit << i;
    }
    return h == NX_SIMHASH_NONE ? 1 : h;
}

/* ---- grouping ------------------------------------------------------------ */

static uint32_t uf_find(uint32_t *parent, uint32_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* The smaller index becomes the root, so a group's root is its first member. */
static void uf_union(uint32_t *parent, uint32_t a, uint32_t b) {
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
}

typedef struct band_key {
    uint64_t band;
    uint32_t idx;
} band_key;

static int band_cmp(const void *pa, const void *pb) {
    const band_key *a = pa, *b = pb;
    if (a->band != b->band) return a->band < b->band ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int nx_simhash_group(const uint64_t *h, uint32_t n, unsigned max_distance, uint32_t *group) {
    if (max_distance > NX_SIMHASH_MAX_DISTANCE) max_distance = NX_SIMHASH_MAX_DISTANCE;
    for (uint32_t i = 0; i < n; i++) group[i] = i;
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) m += h[i] != NX_SIMHASH_NONE;
    if (m < 2) return 0;
    band_key *keys = malloc(sizeof *keys * m);
    if (!keys) return NEWSIDX_ERR_NOMEM;
    unsigned n_bands = max_distance + 1, lo = 0;
    for (unsigned b = 0; b < n_bands; b++) {
        /* bands of 64 / n_bands bits, the first 64 % n_bands one bit wider */
        unsigned width = 64 / n_bands + (b < 64 % n_bands);
        uint64_t mask = width == 64 ? ~(uint64_t)0 : (((uint64_t)1 << width) - 1) << lo;
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++)
            if (h[i] != NX_SIMHASH_NONE) keys[k++] = (band_key){h[i] & mask, i};
        qsort(keys, m, sizeof *keys, band_cmp);
        for (uint32_t a = 0; a < m;) {
            uint32_t e = a + 1;
            while (e < m && keys[e].band == keys[a].band) e++;
            for (uint32_t x = a; x < e; x++)
                for (uint32_t y = x + 1; y < e; y++)
                    if (nx_simhash_distance(h[keys[x].idx], h[keys[y].idx]) <= max_distance)
                        uf_union(group, keys[x].idx, keys[y].idx);
            a = e;
        }
        lo += width;
    }
    free(keys);
    for (uint32_t i = 0; i < n; i++) group[i] = uf_find(group, i);
    return 0;
}
