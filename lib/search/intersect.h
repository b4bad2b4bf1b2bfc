/* search/intersect.h — block-wise intersection of postings lists, for the
 * runs that walk an AND of terms or a phrase's words on their decoded block
 * arrays (rank.c, count.c) instead of calling advance per doc. */
#ifndef NX_SEARCH_INTERSECT_H
#define NX_SEARCH_INTERSECT_H

#include "search/exec.h"

#include "index/codec.h"

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

/* Per list, the index in its block of each candidate (windows: the lists'
 * blocks are then read without searching again). */
typedef uint32_t cand_at[NX_BLOCK];
_Static_assert(sizeof ((nx_postings *)0)->docs == sizeof(cand_at),
               "a decoded block holds NX_BLOCK docs");

/* Candidate k survives as the keep-th: its earlier lists' indexes move
 * along, idx is its index in list j's block. */
static inline __attribute__((always_inline)) void
carry_at(cand_at *at, uint32_t j, uint32_t keep, uint32_t k, uint32_t idx) {
    if (!at) return;
    for (uint32_t l = 0; l < j; l++) at[l][keep] = at[l][k];
    at[j][keep] = idx;
}

/* The intersection kernel. Keeps in cand[0, m) the candidates (increasing)
 * that list c holds, in place and in order; returns how many. Inside a
 * block: a branch-free merge, or a search for each candidate when the block
 * has many more docs than candidates (a merge would walk all of a dense
 * list's block). A candidate past the block moves c on through the skip
 * entries; *ended: c has nothing at or after some candidate (the ones from
 * there on are dropped, and c is spent). at: NULL (counting), or the
 * candidates' indexes in lists 0..j-1, and at[j] gets theirs in c's block;
 * called with constant at and j the copies unroll or vanish. */
static inline __attribute__((always_inline)) uint32_t
bc_intersect(blk_cur *c, uint32_t *cand, uint32_t m, cand_at *at, uint32_t j, bool *ended) {
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
            for (; k < m && cand[k] <= c->last; k++) {
                uint32_t x = cand[k];
                i = nx_block_seek(D, i, n, x);
                cand[keep] = x;
                carry_at(at, j, keep, k, i);
                keep += D[i] == x;
            }
            continue;
        }
        while (k < m && i < n) {
            uint32_t x = cand[k], y = D[i];
            cand[keep] = x;
            carry_at(at, j, keep, k, i);
            keep += x == y;
            k += x <= y;
            i += y <= x;
        }
    }
    c->i = i < n ? i : n - 1; /* docs[n - 1] is below any later target */
    return keep;
}

enum { MAP_SPAN = 4096 };

/* bc_intersect for candidates inside c's block, through a direct map from
 * doc id (minus c's current doc) to c's block index, when c's docs up to
 * the last candidate span less than MAP_SPAN ids: c's docs are stored in
 * the map and each candidate is looked up, with no dependency from one step
 * to the next (a merge's steps wait on each other). Kept beside the kernel
 * because it is faster where it is used, on phrase counts (the words of a
 * phrase are often dense in the same docs). Stale entries from earlier
 * windows need no clearing: a looked-up index counts only when it is in the
 * block and holds the candidate. Returns UINT32_MAX (nothing changed) when
 * the span is too wide. Leaves c->i unchanged. */
static inline __attribute__((always_inline)) uint32_t
window_map(const blk_cur *c, uint32_t *cand, uint32_t m, cand_at *at, uint32_t j, uint8_t *map) {
    const uint32_t *D = c->docs; /* NX_BLOCK entries: any index read below NX_BLOCK is inside */
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
        carry_at(at, j, keep, k, idx);
        keep += ok;
    }
    return keep;
}

static inline __attribute__((always_inline)) uint32_t
window_step(blk_cur *c, uint32_t *cand, uint32_t m, cand_at *at, uint32_t j, uint8_t *map) {
    if (map) {
        uint32_t kept = window_map(c, cand, m, at, j, map);
        if (kept != UINT32_MAX) return kept;
    }
    bool ended = false; /* (the candidates lie in c's block) */
    return bc_intersect(c, cand, m, at, j, &ended);
}

/* The common docs of lists cur[0, n) in a window that ends at up, where
 * every list's block reaches up: the lead's (cur[0]'s) docs up to there,
 * intersected with each other list in turn. Returns their count in cand,
 * their index in each list's block in at. map: scratch of MAP_SPAN bytes to
 * use window_map, or NULL. */
static inline __attribute__((always_inline)) uint32_t
window_matches(blk_cur *cur, uint32_t n, uint32_t up, uint32_t *cand, cand_at *at, uint8_t *map) {
    blk_cur *lead = &cur[0];
    uint32_t m = 0, k = lead->i;
    for (; k < lead->n && lead->docs[k] <= up; k++) {
        cand[m] = lead->docs[k];
        at[0][m++] = k;
    }
    lead->i = k < lead->n ? k : lead->n - 1;
    for (uint32_t j = 1; j < n && m; j++) {
        /* (constant j: the copies of the earlier lists' indexes unroll) */
        if (j == 1) m = window_step(&cur[1], cand, m, at, 1, map);
        else if (j == 2) m = window_step(&cur[2], cand, m, at, 2, map);
        else m = window_step(&cur[j], cand, m, at, j, map);
    }
    return m;
}

#endif
