/* index/simhash — a 64-bit similarity hash of an article over word
 * shingles, compared by Hamming distance like a SimHash.
 * The value is stored per doc in the column file (docs/FORMAT.md,
 * "Columns"); its definition below is part of the format: changing the
 * words, the shingles or the hashes changes what old segments hold. */
#include "index/simhash.h"

#include "newsidx.h"

#include <stdbool.h>
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
 * of 5 (NEWSIDX_COLLAPSE_DEFAULT) find reprints (bench/README.md,
 * "Near-duplicate reprints"). No 64-bit fingerprint of this kind brings
 * short reprints under 3: 64 bits of (1 - J) / 2 each are ~4.5 for
 * J = 0.86, and a majority of 3 or 5 independent sketches per bit raised
 * the distance (one flipped sketch decides a tied vote). */
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
#define FW(c)                                                                                      \
    (unsigned char)(((c) >= 'A' && (c) <= 'Z') ? (c) + 32                                          \
                    : ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || (c) >= 0x80      \
                        ? (c)                                                                      \
                        : 0)
#define FW4(c) FW(c), FW((c) + 1), FW((c) + 2), FW((c) + 3)
#define FW16(c) FW4(c), FW4((c) + 4), FW4((c) + 8), FW4((c) + 12)
#define FW64(c) FW16(c), FW16((c) + 16), FW16((c) + 32), FW16((c) + 48)
static const unsigned char fold[256] = {FW64(0), FW64(64), FW64(128), FW64(192)};

/* Turns a field's word hashes into shingle hashes for the sketch. A
 * shingle of k > 1 words is XXH3-64 of its k word hashes; a field of fewer
 * than k words is one shingle of them all. */
typedef struct shingler {
    sketch *s;
    unsigned k, n_words;
    uint64_t win[MAX_SHINGLE];
} shingler;

static inline void shingle_word(shingler *sh, uint64_t h) {
    unsigned k = sh->k;
    if (k == 1) {
        sketch_add(sh->s, h);
        sh->n_words++;
        return;
    }
    if (sh->n_words >= k) memmove(sh->win, sh->win + 1, (k - 1) * sizeof sh->win[0]);
    sh->win[sh->n_words >= k ? k - 1 : sh->n_words] = h;
    sh->n_words++;
    if (sh->n_words >= k) sketch_add(sh->s, XXH3_64bits(sh->win, k * sizeof sh->win[0]));
}

static inline void shingle_end(shingler *sh) {
    if (sh->k > 1 && sh->n_words > 0 && sh->n_words < sh->k)
        sketch_add(sh->s, XXH3_64bits(sh->win, sh->n_words * sizeof sh->win[0]));
}

/* A word's hash is XXH3-64 of its folded bytes zero-padded to 16 (words
 * longer than 64 bytes: of their first 64): one hashed length for nearly
 * every word, so XXH3's branch on the length is predicted (word bytes are
 * never 0, so the padding is unambiguous).
 * A word that mixes ASCII digits with other bytes ("m4i", "3b", "b82q")
 * is left out: uuencoded or base64 text is made of such fragments, and two
 * different encoded files share most of them, which made unrelated posts
 * near-duplicates; news text has few ("3rd", "1990s"), and numbers alone
 * and words alone still count (bench/README.md, "Near-duplicate
 * reprints"). The portable scanner: a byte at a time. */
static void scan_portable(shingler *sh, const unsigned char *t, size_t len) {
    unsigned char word[64];
    size_t i = 0;
    while (i < len) {
        while (i < len && !fold[t[i]]) i++;
        if (i == len) break;
        size_t wl = 0, n_digits = 0, n = 0;
        unsigned char c;
        memset(word, 0, 16);
        while (i < len && (c = fold[t[i]]) != 0) {
            if (wl < sizeof word) word[wl++] = c;
            n_digits += c >= '0' && c <= '9';
            n++;
            i++;
        }
        if (n_digits && n_digits < n) continue;
        shingle_word(sh, XXH3_64bits(word, wl < 16 ? 16 : wl));
    }
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* Fields up to this many bytes take the SSE2 scanner (on the stack: 10 KB);
 * longer ones, rare in news, the portable one. */
#define FAST_MAX 8192

/* Whether bytes [start, end) hold an ASCII digit and another byte, from
 * the bitmap of digits (the bytes are all word bytes). */
static inline bool mixes_digits(const uint64_t *digits, size_t start, size_t end) {
    if (end - start < 64 - start % 64) { /* nearly every word: within one bitmap word */
        uint64_t m = (((uint64_t)1 << (end - start)) - 1) << (start % 64);
        uint64_t d = digits[start / 64] & m;
        return d && d != m;
    }
    bool digit = false, other = false;
    for (size_t w = start / 64; w * 64 < end; w++) {
        uint64_t m = ~(uint64_t)0;
        if (w == start / 64) m &= ~(uint64_t)0 << (start % 64);
        if ((w + 1) * 64 > end) m &= ~(uint64_t)0 >> (64 - end % 64);
        digit |= (digits[w] & m) != 0;
        other |= (~digits[w] & m) != 0;
    }
    return digit && other;
}

/* The SSE2 scanner: folds 16 bytes at a time into a buffer where every
 * separator is 0, with a bitmap of word bytes; words are then found by
 * bit scans of the bitmap, and a word of up to 16 bytes is hashed from one
 * masked 16-byte load. Half the time of the portable scanner (ingest cost:
 * bench/README.md, "Near-duplicate reprints"); the same hashes
 * (tests/test_dups.c compares them). */
static void scan_sse2(shingler *sh, const unsigned char *t, size_t len) {
    _Alignas(16) unsigned char buf[FAST_MAX + 32];
    uint64_t bits[FAST_MAX / 64 + 2], digits[FAST_MAX / 64 + 2];
    /* only the words the field reaches: a 2 KB memset per field cost more
     * than the digit test it serves */
    memset(bits, 0, (len / 64 + 1) * sizeof bits[0]);
    memset(digits, 0, (len / 64 + 1) * sizeof digits[0]);
    const __m128i zero = _mm_setzero_si128();
    for (size_t i = 0; i < len; i += 16) {
        __m128i x;
        if (len - i >= 16) {
            x = _mm_loadu_si128((const __m128i *)(t + i));
        } else {
            _Alignas(16) unsigned char tail[16] = {0};
            memcpy(tail, t + i, len - i);
            x = _mm_load_si128((const __m128i *)tail);
        }
        __m128i high = _mm_cmplt_epi8(x, zero); /* bytes >= 0x80 */
        __m128i lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
        __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                       _mm_cmplt_epi8(lower, _mm_set1_epi8('z' + 1)));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
        __m128i is_word = _mm_or_si128(_mm_or_si128(high, letter), digit);
        /* letters lower-cased, separators 0 */
        __m128i folded = _mm_or_si128(_mm_and_si128(letter, lower),
                                      _mm_andnot_si128(letter, _mm_and_si128(is_word, x)));
        _mm_store_si128((__m128i *)(buf + i), folded);
        bits[i / 64] |= (uint64_t)(unsigned)_mm_movemask_epi8(is_word) << (i % 64);
        digits[i / 64] |= (uint64_t)(unsigned)_mm_movemask_epi8(digit) << (i % 64);
    }
    memset(buf + ((len + 15) & ~(size_t)15), 0, 16);
    static const unsigned char keep[32] = {255, 255, 255, 255, 255, 255, 255, 255,
                                           255, 255, 255, 255, 255, 255, 255, 255};
    size_t n_bits = (len + 63) / 64, pos = 0;
    for (;;) {
        /* next word start: the first set bit at or after pos */
        size_t w = pos / 64;
        uint64_t m = w < n_bits ? bits[w] & (~(uint64_t)0 << (pos % 64)) : 0;
        while (!m && ++w < n_bits) m = bits[w];
        if (!m) break;
        size_t start = w * 64 + (size_t)__builtin_ctzll(m);
        /* its end: the first clear bit after start */
        m = ~bits[w] & (~(uint64_t)0 << (start % 64));
        while (!m && ++w < n_bits) m = ~bits[w];
        size_t end = m ? w * 64 + (size_t)__builtin_ctzll(m) : n_bits * 64;
        if (end > len) end = len;
        size_t wl = end - start;
        pos = end;
        if (mixes_digits(digits, start, end)) continue;
        _Alignas(16) unsigned char word[64];
        if (wl <= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(buf + start));
            v = _mm_and_si128(v, _mm_loadu_si128((const __m128i *)(keep + 16 - wl)));
            _mm_store_si128((__m128i *)word, v);
            shingle_word(sh, XXH3_64bits(word, 16));
        } else {
            size_t n = wl < sizeof word ? wl : sizeof word;
            memcpy(word, buf + start, n);
            shingle_word(sh, XXH3_64bits(word, n));
        }
    }
}
#endif

/* Adds the shingles of one field. */
static void add_field(sketch *s, const char *text, size_t len, unsigned k, bool portable) {
    shingler sh = {.s = s, .k = k};
    const unsigned char *t = (const unsigned char *)text;
#if defined(__SSE2__)
    if (!portable && len <= FAST_MAX) scan_sse2(&sh, t, len);
    else scan_portable(&sh, t, len);
#else
    (void)portable;
    scan_portable(&sh, t, len);
#endif
    shingle_end(&sh);
}

static uint64_t simhash(const char *title, size_t title_len, const char *body, size_t body_len,
                        unsigned shingle, bool portable) {
    unsigned k = shingle < 1 ? 1 : shingle > MAX_SHINGLE ? MAX_SHINGLE : shingle;
    sketch s;
    for (int i = 0; i < N_BINS; i++) s.min[i] = BIN_EMPTY;
    s.n = 0;
    if (title) add_field(&s, title, title_len, k, portable);
    if (body) add_field(&s, body, body_len, k, portable);
    if (s.n == 0) return NX_SIMHASH_NONE;
    /* An empty bin i borrows the minimum of the next non-empty one
     * (circular; "densification"), mixed with its own number so that the
     * borrowed bits are not copies of the lender's. */
    uint64_t h = 0;
    for (unsigned i = 0; i < N_BINS; i++) {
        unsigned j = i;
        while (s.min[j] == BIN_EMPTY) j = (j + 1) % N_BINS;
        uint64_t bit = fmix64(s.min[j] ^ (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) & 1;
        h |= bit << i;
    }
    return h == NX_SIMHASH_NONE ? 1 : h;
}

uint64_t nx_simhash_article(const char *title, size_t title_len, const char *body, size_t body_len,
                            unsigned shingle) {
    return simhash(title, title_len, body, body_len, shingle, false);
}

uint64_t nx_simhash_article_portable(const char *title, size_t title_len, const char *body,
                                     size_t body_len, unsigned shingle) {
    return simhash(title, title_len, body, body_len, shingle, true);
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
