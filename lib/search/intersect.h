/* search/intersect.h — block-wise intersection of postings lists, for the
 * runs that walk an AND of terms or a phrase's words on their decoded block
 * arrays (rank.c, count.c) instead of calling advance per doc. */
#ifndef NX_SEARCH_INTERSECT_H
#define NX_SEARCH_INTERSECT_H

#include "search/exec.h"

/* ---- conjunctions of plain terms, block by block --------------------------
 * An AND whose positive children are all single (field, term) lists and
 * that excludes nothing is walked on the lists' decoded blocks: the lead's
 * docs are checked against each other list's block array, with no virtual
 * advance call per doc. The visited matches, their order, scores and the
 * totals are those of the generic paths (nx_run_blockmax, nx_run_count). */
static inline bool and_of_terms(const sit *root) {
    if (root->ops->kind != SIT_AND) return false;
    const and_it *a = (const and_it *)root;
    if (a->n_neg) return false;
    for (uint32_t i = 0; i < a->n_pos; i++)
        if (a->pos[i]->ops->kind != SIT_TERM) return false;
    return true;
}

/* A list's decoded block as arrays; i may run to n (block used up). */
typedef struct blk_cur {
    nx_postings *p;
    const uint32_t *docs;
    uint32_t i, n, last;
} blk_cur;

static inline void bc_load(blk_cur *c) {
    c->docs = nx_postings_block_docs(c->p, &c->i, &c->n);
    c->last = c->docs[c->n - 1];
}

/* Moves c to its first doc >= t and returns it (NX_NO_DOC at the end);
 * a later block is found through the skip entries. */
static inline uint32_t bc_seek(blk_cur *c, uint32_t t) {
    if (t > c->last) {
        if (nx_postings_advance(c->p, t) == NX_NO_DOC) return NX_NO_DOC;
        bc_load(c);
    }
    c->i = nx_block_seek(c->docs, c->i, c->n, t);
    return c->docs[c->i];
}

static inline blk_cur *and_cursors(search *S, const and_it *a) {
    blk_cur *c = nx_arena_alloc(&S->seg_arena, a->n_pos * sizeof *c);
    if (!c) return NULL;
    for (uint32_t i = 0; i < a->n_pos; i++) {
        c[i].p = &((pt_it *)a->pos[i])->p;
        bc_load(&c[i]);
    }
    return c;
}

/* Keeps in cand[0, m) the candidates (increasing) that list c holds, in
 * place and in order; returns how many. A branch-free merge inside each
 * block, or a search for each candidate when the block has few; the
 * blocks between candidates are skipped through the skip entries. *ended: c has nothing at or after some candidate (the ones from
 * there on are dropped, and c is spent). */
static inline uint32_t bc_filter(blk_cur *c, uint32_t *cand, uint32_t m, bool *ended) {
    const uint32_t *D = c->docs;
    uint32_t i = c->i, n = c->n, keep = 0, k = 0;
    while (k < m) {
        if (cand[k] > c->last) {
            if (nx_postings_advance(c->p, cand[k]) == NX_NO_DOC) {
                *ended = true;
                return keep;
            }
            bc_load(c);
            D = c->docs;
            i = c->i;
            n = c->n;
        }
        if ((m - k) * 8 < n - i) {
            /* few candidates for this block: search for each */
            for (; k < m && cand[k] <= c->last; k++) {
                uint32_t x = cand[k];
                i = nx_block_seek(D, i, n, x);
                cand[keep] = x;
                keep += D[i] == x;
            }
            continue;
        }
        while (k < m && i < n) {
            uint32_t x = cand[k], y = D[i];
            cand[keep] = x;
            keep += x == y;
            k += x <= y;
            i += y <= x;
        }
    }
    c->i = i < n ? i : n - 1; /* docs[n - 1] is below any later target */
    return keep;
}

enum { WINDOW_MAX = sizeof ((nx_postings *)0)->docs / sizeof(uint32_t) };

/* Keeps in cand[0, m) the candidates that list c holds (all of them lie in
 * c's decoded block, whose last doc is at least the last candidate),
 * branch-free; at[l] (l < j) are the kept ones' indexes in the earlier
 * lists' blocks, at[j] gets their indexes in c's. */
static inline __attribute__((always_inline)) uint32_t
window_merge(blk_cur *c, uint32_t *cand, uint32_t m, uint32_t (*at)[WINDOW_MAX], uint32_t j) {
    const uint32_t *D = c->docs;
    uint32_t i = c->i, n = c->n, keep = 0, k = 0;
    if (m * 8 < n - i) {
        /* few candidates: search for each (a linear merge would walk the
         * whole block of a dense list) */
        for (; k < m; k++) {
            uint32_t x = cand[k];
            i = nx_block_seek(D, i, n, x);
            cand[keep] = x;
            for (uint32_t l = 0; l < j; l++) at[l][keep] = at[l][k];
            at[j][keep] = i;
            keep += D[i] == x;
        }
        c->i = i;
        return keep;
    }
    while (k < m && i < n) {
        uint32_t x = cand[k], y = D[i];
        cand[keep] = x;
        for (uint32_t l = 0; l < j; l++) at[l][keep] = at[l][k];
        at[j][keep] = i;
        keep += x == y;
        k += x <= y;
        i += y <= x;
    }
    c->i = i < n ? i : n - 1;
    return keep;
}

enum { MAP_SPAN = 4096 };

/* window_merge through a direct map from doc id (minus c's current doc) to
 * c's block index, when c's docs up to the last candidate span less than
 * MAP_SPAN ids: c's docs are stored in the map and each candidate is
 * looked up, with no dependency from one step to the next (a merge's
 * steps wait on each other). Stale entries from earlier windows need no
 * clearing: a looked-up index counts only when it is in the block and
 * holds the candidate. Returns UINT32_MAX (nothing changed) when the span
 * is too wide. Leaves c->i unchanged. */
static inline __attribute__((always_inline)) uint32_t
window_map(const blk_cur *c, uint32_t *cand, uint32_t m, uint32_t (*at)[WINDOW_MAX], uint32_t j,
           uint8_t *map) {
    const uint32_t *D = c->docs; /* NX_BLOCK entries: any index read below 128 is inside */
    uint32_t i = c->i, n = c->n, base = D[i], top = cand[m - 1];
    if (top < base || top - base >= MAP_SPAN) return UINT32_MAX;
    uint32_t span = top - base;
    for (uint32_t k = i; k < n && D[k] <= top; k++) map[D[k] - base] = (uint8_t)k;
    uint32_t keep = 0;
    for (uint32_t k = 0; k < m; k++) {
        uint32_t x = cand[k], off = x - base; /* wraps (then fails) when x < base */
        bool in = off <= span;
        uint32_t idx = map[in ? off : 0];
        bool ok = in & (idx < n) & (D[idx] == x);
        cand[keep] = x;
        for (uint32_t l = 0; l < j; l++) at[l][keep] = at[l][k];
        at[j][keep] = idx;
        keep += ok;
    }
    return keep;
}

#endif
