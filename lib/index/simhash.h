/* index/simhash — a 64-bit near-duplicate hash per article ("simhash": a
 * fingerprint compared by Hamming distance; its bits are 1-bit minwise
 * hashes, which measured far better than Charikar's SimHash on reprints)
 * for finding the same wire story with a few words changed. Computed in
 * the writer's add path, stored in the column file (docs/FORMAT.md,
 * "Columns", "Near-duplicate hash"), compared at search (collapse.c) and
 * by `newsidx dups` (dups.c). */
#ifndef NX_SIMHASH_H
#define NX_SIMHASH_H

#include <stddef.h>
#include <stdint.h>

/* Words per shingle: 1, 2 and 3 measured, 1 finds the most reprints at
 * the same precision (bench/README.md, "Near-duplicate reprints"). */
#define NX_SIMHASH_SHINGLE 1
/* The stored value of an article without a single word: never a near
 * duplicate of anything. A computed hash of 0 is stored as 1. */
#define NX_SIMHASH_NONE 0

/* The hash of an article's title and body (either may be empty): words are
 * runs of ASCII letters and digits (lower-cased) and of bytes >= 0x80,
 * less those that mix digits with other bytes (uuencoded text); shingles
 * of `shingle` consecutive words within one field (a field with fewer
 * words is one shingle) are hashed with XXH3-64 and fall into 64
 * bins; bit i comes from the smallest hash of bin i (docs/FORMAT.md has
 * every step). Returns NX_SIMHASH_NONE for an article with no word. */
uint64_t nx_simhash_article(const char *title, size_t title_len, const char *body, size_t body_len,
                            unsigned shingle);

/* The same value computed a byte at a time (nx_simhash_article scans with
 * SSE2 where it can): for tests that compare the two. */
uint64_t nx_simhash_article_portable(const char *title, size_t title_len, const char *body,
                                     size_t body_len, unsigned shingle);

/* Bits in which two hashes differ. */
static inline unsigned nx_simhash_distance(uint64_t a, uint64_t b) {
    return (unsigned)__builtin_popcountll(a ^ b);
}

#endif

/* Groups near-duplicates: hashes h[0..n) within max_distance bits of each
 * other (transitively) get the same group, group[i] = the smallest index of
 * i's group (i itself when it has no near-duplicate). NX_SIMHASH_NONE is
 * never grouped. Candidate pairs come from the pigeonhole principle: split
 * the 64 bits into max_distance + 1 bands; two hashes within max_distance
 * bits agree on at least one band, so only hashes sharing a band value are
 * compared. max_distance is at most NX_SIMHASH_MAX_DISTANCE. Returns 0 or
 * NEWSIDX_ERR_NOMEM. */
#define NX_SIMHASH_MAX_DISTANCE 16
int nx_simhash_group(const uint64_t *h, uint32_t n, unsigned max_distance, uint32_t *group);
