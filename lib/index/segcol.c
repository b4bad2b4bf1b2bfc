/* index/segcol — the per-doc lookups of a segment's column file
 * (docs/FORMAT.md, "Columns") that decode on demand: ids, expanded a block
 * of NX_ID_BLOCK at a time on first use and shared by every thread; source
 * ordinals and names; the id -> doc lookup, built on the first lookup.
 * parse_columns in segment.c has checked the sections' bounds at open. */
#include "index/index_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One block of NX_ID_BLOCK ids expanded: id i of the block is
 * bytes[offs[i], offs[i + 1]). */
typedef struct nx_id_block {
    uint32_t offs[NX_ID_BLOCK + 1];
    char bytes[];
} nx_id_block;

/* Expands id block k (FORMAT.md, "Columns": front coding in blocks of
 * NX_ID_BLOCK), every offset and length checked against the block's bytes.
 * NULL when they are damaged or memory is short. */
static nx_id_block *decode_id_block(const nx_segment *s, size_t k) {
    uint32_t a = nx_load_u32le(s->id_blocks + 4 * k), b = nx_load_u32le(s->id_blocks + 4 * k + 4);
    if (a > b || b > s->id_total) return NULL;
    const uint8_t *p = s->id_bytes + a, *end = s->id_bytes + b;
    size_t first = k * NX_ID_BLOCK, n = NX_MIN((size_t)NX_ID_BLOCK, (size_t)s->doc_count - first);
    /* shared prefixes make the expansion larger than the stored bytes by
     * an amount only the decoding knows: start at twice, grow if needed */
    size_t cap = 2 * (size_t)(b - a) + 64, used = 0, prev_start = 0, prev_len = 0;
    nx_id_block *blk = malloc(sizeof *blk + cap);
    if (!blk) return NULL;
    blk->offs[0] = 0;
    for (size_t i = 0; i < NX_ID_BLOCK; i++) {
        if (i >= n) {
            blk->offs[i + 1] = (uint32_t)used;
            continue;
        }
        uint64_t shared, rest;
        if (nx_varint_decode(&p, end, &shared) || nx_varint_decode(&p, end, &rest) ||
            rest > (uint64_t)(end - p) || (i ? shared > prev_len : shared != 0))
            goto bad;
        if (used + shared + rest > UINT32_MAX) goto bad;
        if (used + shared + rest > cap) {
            size_t ncap = 2 * (used + shared + rest);
            nx_id_block *g = realloc(blk, sizeof *blk + ncap);
            if (!g) goto bad;
            blk = g;
            cap = ncap;
        }
        if (shared) memmove(blk->bytes + used, blk->bytes + prev_start, shared);
        if (rest) memcpy(blk->bytes + used + shared, p, rest);
        p += rest;
        prev_start = used;
        prev_len = shared + rest;
        used += prev_len;
        blk->offs[i + 1] = (uint32_t)used;
    }
    if (p != end) goto bad;
    /* a merge or the id lookup expands every block: keep only what is used */
    nx_id_block *fit = realloc(blk, sizeof *blk + used);
    return fit ? fit : blk;
bad:
    free(blk);
    return NULL;
}

const char *nx_segment_id(const nx_segment *s, uint32_t doc, size_t *len) {
    *len = 0;
    if (doc >= s->doc_count) return NULL;
    size_t k = doc / NX_ID_BLOCK;
    nx_id_block *blk = __atomic_load_n(&s->id_cache[k], __ATOMIC_ACQUIRE);
    if (!blk) {
        /* decoded outside any lock: threads racing on one block each
         * decode it, one publishes, the others free theirs */
        blk = decode_id_block(s, k);
        if (!blk) return NULL;
        nx_id_block *seen = NULL;
        if (!__atomic_compare_exchange_n(&s->id_cache[k], &seen, blk, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE)) {
            free(blk);
            blk = seen;
        }
    }
    uint32_t i = doc % NX_ID_BLOCK;
    *len = blk->offs[i + 1] - blk->offs[i];
    return blk->bytes + blk->offs[i];
}

const char *nx_segment_id_walk(const nx_segment *s, uint32_t doc, nx_id_walk *w, size_t *len) {
    *len = 0;
    if (doc >= s->doc_count) return NULL;
    size_t k = doc / NX_ID_BLOCK;
    const nx_id_block *blk = __atomic_load_n(&s->id_cache[k], __ATOMIC_ACQUIRE);
    if (!blk) {
        if (!w->blk || w->k != k) {
            free(w->blk);
            w->blk = decode_id_block(s, k);
            w->k = k;
        }
        blk = w->blk;
        if (!blk) return NULL;
    }
    uint32_t i = doc % NX_ID_BLOCK;
    *len = blk->offs[i + 1] - blk->offs[i];
    return blk->bytes + blk->offs[i];
}

uint32_t nx_segment_source_ord(const nx_segment *s, uint32_t doc) {
    const uint8_t *p = s->src_ords + (size_t)s->src_width * doc;
    switch (s->src_width) {
    case 1: return p[0];
    case 2: return nx_load_u16le(p);
    case 4: return nx_load_u32le(p);
    default: return 0;
    }
}
uint32_t nx_segment_source_count(const nx_segment *s) { return s->n_sources; }
const char *nx_segment_source_name(const nx_segment *s, uint32_t ord, size_t *len) {
    if (ord == 0 || ord > s->n_sources) {
        *len = 0;
        return "";
    }
    uint32_t a = nx_load_u32le(s->src_offs + 4 * (size_t)(ord - 1));
    uint32_t b = nx_load_u32le(s->src_offs + 4 * (size_t)ord);
    *len = b - a;
    return (const char *)s->src_bytes + a;
}

/* The id lookup: one u64 per doc, (top 32 bits of the id's XXH3-64) << 32
 * | doc, sorted; built on the first lookup under a mutex (double-checked
 * with an atomic state). A writer looks up every added id in every
 * segment, so the table lives as long as the segment: at 8 bytes a doc
 * instead of 12 (a 64-bit hash array and a permutation) and without
 * expanding every id block into the cache for good (13 more bytes a doc
 * at 1M generated articles), it is what the writer keeps per article of
 * the index. Two ids sharing 32 hash bits are told apart by comparing
 * them. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Hashes the ids of block k into keys, decoding the block for this only
 * unless it is cached. 0 or CORRUPT. */
static int hash_id_block(const nx_segment *s, size_t k, uint64_t *keys) {
    nx_id_block *blk = __atomic_load_n(&s->id_cache[k], __ATOMIC_ACQUIRE), *own = NULL;
    if (!blk) blk = own = decode_id_block(s, k);
    if (!blk) return NEWSIDX_ERR_CORRUPT;
    size_t first = k * NX_ID_BLOCK, n = NX_MIN((size_t)NX_ID_BLOCK, (size_t)s->doc_count - first);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = nx_hash64(blk->bytes + blk->offs[i], blk->offs[i + 1] - blk->offs[i]);
        keys[first + i] = (h & 0xffffffff00000000ull) | (uint64_t)(first + i);
    }
    free(own);
    return 0;
}

static int build_id_perm(nx_segment *s) {
    int st = __atomic_load_n(&s->id_perm_state, __ATOMIC_ACQUIRE);
    if (st) return st;
    pthread_mutex_lock(&s->id_perm_lock);
    st = s->id_perm_state;
    if (st == 0) {
        uint32_t n = s->doc_count;
        uint64_t *keys = malloc(sizeof *keys * ((size_t)n + 1));
        st = keys ? 1 : NEWSIDX_ERR_NOMEM;
        for (size_t k = 0; st == 1 && k < s->n_id_blocks; k++)
            if (hash_id_block(s, k, keys)) st = NEWSIDX_ERR_CORRUPT;
        if (st == 1) {
            qsort(keys, n, sizeof *keys, cmp_u64);
            s->id_perm_keys = keys;
        } else {
            free(keys);
        }
        __atomic_store_n(&s->id_perm_state, st, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&s->id_perm_lock);
    return st;
}

uint32_t nx_segment_find_id(const nx_segment *s, const char *id, size_t len) {
    /* the lazily built table is the only mutation; a segment sharing its
     * core's files uses the core's table */
    nx_segment *c = (nx_segment *)(s->core ? s->core : s);
    if (build_id_perm(c) != 1) return NX_NO_DOC;
    uint64_t h = nx_hash64(id, len) & 0xffffffff00000000ull;
    uint32_t lo = 0, hi = c->doc_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->id_perm_keys[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    uint32_t found = NX_NO_DOC;
    for (uint32_t i = lo; i < c->doc_count && (c->id_perm_keys[i] & 0xffffffff00000000ull) == h;
         i++) {
        uint32_t doc = (uint32_t)c->id_perm_keys[i];
        size_t l;
        const char *p = nx_segment_id(s, doc, &l);
        if (p && l == len && memcmp(p, id, len) == 0 && (found == NX_NO_DOC || nx_segment_is_live(s, doc)))
            found = doc;
    }
    return found;
}
