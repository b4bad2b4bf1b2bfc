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

/* The id lookup: docs sorted by the XXH3-64 of their ids, built on the
 * first lookup under a mutex (double-checked with an atomic state). */
static int cmp_perm(const void *a, const void *b, void *ctx) {
    const uint64_t *h = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (h[x] != h[y]) return h[x] < h[y] ? -1 : 1;
    return (x > y) - (x < y);
}

static int build_id_perm(nx_segment *s) {
    int st = __atomic_load_n(&s->id_perm_state, __ATOMIC_ACQUIRE);
    if (st) return st;
    pthread_mutex_lock(&s->id_perm_lock);
    st = s->id_perm_state;
    if (st == 0) {
        uint32_t n = s->doc_count;
        uint64_t *h = malloc(sizeof *h * ((size_t)n + 1));
        uint32_t *perm = malloc(sizeof *perm * ((size_t)n + 1));
        uint64_t *sorted = malloc(sizeof *sorted * ((size_t)n + 1));
        if (h && perm && sorted) {
            st = 1;
            for (uint32_t d = 0; d < n && st == 1; d++) {
                size_t l;
                const char *p = nx_segment_id(s, d, &l);
                if (!p) st = NEWSIDX_ERR_CORRUPT;
                else h[d] = nx_hash64(p, l);
                perm[d] = d;
            }
            if (st == 1) {
                qsort_r(perm, n, sizeof *perm, cmp_perm, h);
                for (uint32_t i = 0; i < n; i++) sorted[i] = h[perm[i]];
                s->id_perm = perm;
                s->id_perm_hash = sorted;
            } else {
                free(perm);
                free(sorted);
            }
        } else {
            free(perm);
            free(sorted);
            st = NEWSIDX_ERR_NOMEM;
        }
        free(h);
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
    uint64_t h = nx_hash64(id, len);
    uint32_t lo = 0, hi = c->doc_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->id_perm_hash[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    uint32_t found = NX_NO_DOC;
    for (uint32_t i = lo; i < c->doc_count && c->id_perm_hash[i] == h; i++) {
        uint32_t doc = c->id_perm[i];
        size_t l;
        const char *p = nx_segment_id(s, doc, &l);
        if (p && l == len && memcmp(p, id, len) == 0 && (found == NX_NO_DOC || nx_segment_is_live(s, doc)))
            found = doc;
    }
    return found;
}
