/* search/count — the runs that count the live matches of one segment
 * without scoring: a term's df, an AND of terms and a phrase block by
 * block, an OR of terms in a bitset, anything else doc by doc. */
#include "search/intersect.h"

/* Counts an AND of plain terms: the rest of the lead's (rarest list's)
 * block is copied into a candidate array, which every other list filters
 * in turn. */
static int run_count_and(run_ctx *R, and_it *a) {
    search *S = R->S;
    const nx_segment *seg = R->seg;
    bool deletions = R->deletions;
    uint32_t n = a->n_pos;
    blk_cur *cur = and_cursors(S, a);
    NX_RETURN_IF(!cur, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    blk_cur *lead = &cur[0];
    uint32_t cand[NX_BLOCK];
    for (;;) {
        uint32_t m = 0;
        for (uint32_t k = lead->i; k < lead->n; k++) cand[m++] = lead->docs[k];
        bool ended = false;
        uint32_t ahead = 0; /* no match before any list's current doc */
        for (uint32_t j = 1; j < n && m; j++) {
            /* after a list has ended, the ones after it still filter the
             * survivors of this block */
            m = bc_intersect(&cur[j], cand, m, NULL, 0, &ended);
            if (!ended && cur[j].docs[cur[j].i] > ahead) ahead = cur[j].docs[cur[j].i];
        }
        if (!deletions) {
            R->total += m;
        } else {
            for (uint32_t k = 0; k < m; k++) R->total += nx_segment_is_live(seg, cand[k]);
        }
        if (ended) break;
        uint32_t t = lead->last + 1;
        if (ahead > t) t = ahead;
        if (t == NX_NO_DOC || bc_seek(lead, t) == NX_NO_DOC) break;
    }
    return S->rc;
}

/* Counts a phrase or proximity window by window, as nx_run_blockmax_and walks
 * an AND: a window runs from the target to the first end of the words'
 * current blocks; its candidates are the rarest word's docs there, merged
 * with the other words' block arrays, and only the docs in every list get
 * their positions matched (nx_phrase_count), each word's cursor moved straight
 * to its index. The docs counted are those phr_next would visit: the
 * window's docs are all of the lists' common docs in it, in order; a
 * damaged block that ends a list early, or corrupt positions, end the
 * count where phr_settle would end. */
static int run_count_phrase(run_ctx *R, phr_it *it) {
    search *S = R->S;
    const nx_segment *seg = R->seg;
    bool deletions = R->deletions;
    uint32_t n = it->n, target = it->base.doc;
    if (target == NX_NO_DOC) return S->rc;
    R->total += !deletions || nx_segment_is_live(seg, target); /* settled on by nx_it_phrase */
    target++;
    blk_cur *cur = nx_arena_alloc(&S->seg_arena, n * sizeof *cur);
    cand_at *at = nx_arena_alloc(&S->seg_arena, n * sizeof *at); /* per word: block index of each candidate */
    uint8_t *map = nx_arena_alloc(&S->seg_arena, MAP_SPAN);
    NX_RETURN_IF(!cur || !at || !map, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(map, 0, MAP_SPAN);
    for (uint32_t i = 0; i < n; i++) cur[i].p = &it->p[it->lead_order[i]];
    uint32_t cand[NX_BLOCK];
    while (target != NX_NO_DOC) {
        /* every list onto its first doc >= target */
        uint32_t up = NX_NO_DOC, ahead = target;
        bool ended = false; /* a list has: no more matches */
        for (uint32_t i = 0; i < n && !ended; i++) {
            uint32_t x = nx_postings_advance_near(cur[i].p, target);
            ended = x == NX_NO_DOC;
            if (x > ahead) ahead = x;
            if (!ended) bc_load(&cur[i]);
            if (!ended && cur[i].last < up) up = cur[i].last;
        }
        if (ended) break;
        if (ahead > up) {
            target = ahead; /* nothing common before ahead */
            continue;
        }
        uint32_t m = window_matches(cur, n, up, cand, at, map);
        for (uint32_t k = 0; k < m; k++) {
            for (uint32_t i = 0; i < n; i++) {
                nx_postings *p = cur[i].p;
                if (at[i][k] >= p->n_in_block) return S->rc; /* damaged freqs ended it */
                nx_postings_seek_in_block(p, at[i][k]);
            }
            bool matched = nx_phrase_count(it) > 0;
            if (it->rc) return S->rc;
            if (matched) R->total += !deletions || nx_segment_is_live(seg, cand[k]);
        }
        target = up + 1;
    }
    return S->rc;
}

/* Bits set in x. __builtin_popcountll is a call into libgcc's table
 * lookup when the target has no popcount instruction (the default x86-64
 * build): the bitset count spent 7-11% of a word query's COUNT there. */
static inline uint64_t popcount64(uint64_t x) {
#ifdef __POPCNT__
    return (uint64_t)__builtin_popcountll(x);
#else
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
#endif
}

/* Counts the live matches of an iterator, without scores or facets. A
 * single term in a segment without deletions is its df; an OR of terms is
 * counted window by window in a bitset (each postings list is walked once,
 * no per-document minimum over the lists); anything else doc by doc. */
int nx_run_count(run_ctx *R, sit *root) {
    search *S = R->S;
    const nx_segment *seg = R->seg;
    bool deletions = R->deletions;
    if (root->ops->kind == SIT_TERM && !deletions) {
        R->total += ((pt_it *)root)->df;
        return 0;
    }
    if (and_of_terms(root)) return run_count_and(R, (and_it *)root);
    if (root->ops->kind == SIT_PHRASE) return run_count_phrase(R, (phr_it *)root);
    bool all_pt = root->ops->kind == SIT_OR || root->ops->kind == SIT_OR_HEAP;
    if (all_pt) {
        or_it *o = (or_it *)root;
        for (uint32_t i = 0; i < o->n && all_pt; i++) all_pt = o->c[i]->ops->kind == SIT_TERM;
    }
    if (!all_pt) {
        for (uint32_t d = root->doc; d != NX_NO_DOC; d = sit_next(root))
            R->total += !deletions || nx_segment_is_live(seg, d);
        return S->rc;
    }
    enum { WINDOW = 8192 };
    uint64_t bits[WINDOW / 64];
    or_it *o = (or_it *)root;
    uint64_t base = o->base.doc;
    while (base < NX_NO_DOC) {
        uint64_t end = base + WINDOW, next_base = NX_NO_DOC;
        memset(bits, 0, sizeof bits);
        for (uint32_t i = 0; i < o->n; i++) {
            nx_postings *p = &((pt_it *)o->c[i])->p;
            uint32_t d = p->doc;
            while (d < end) {
                uint32_t x = (uint32_t)(d - base);
                bits[x >> 6] |= (uint64_t)1 << (x & 63);
                d = nx_postings_next(p);
            }
            if (d < next_base) next_base = d;
        }
        if (!deletions) {
            for (size_t w = 0; w < WINDOW / 64; w++) R->total += popcount64(bits[w]);
        } else {
            for (size_t w = 0; w < WINDOW / 64; w++)
                for (uint64_t b = bits[w]; b; b &= b - 1)
                    R->total += nx_segment_is_live(seg, (uint32_t)(base + w * 64 + (uint64_t)__builtin_ctzll(b)));
        }
        base = next_base;
    }
    return 0;
}
