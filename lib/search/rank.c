/* search/rank — the runs that fill the top-k heap from one segment:
 * exhaustive (every match scored), MaxScore over a ranked OR, block-max for
 * a single term, an AND of terms and any other node, and date order. Each
 * visits the matches in doc order and leaves the same heap an exhaustive
 * run would. A hit whose score equals the heap's minimum may still enter
 * by the tie key (exec.h, better()), so what a run skips is only what
 * scores strictly below the minimum: every bound test is "<", never "<=". */
#include "search/intersect.h"

/* Every match: count, facets, and (unless counting) score into the heap. */
int nx_run_exhaustive(run_ctx *R, sit *root) {
    search *S = R->S;
    const nx_segment *seg = R->seg;
    const newsidx_search_options *o = S->o;
    bool score = !o->count_only && R->T->cap > 0;
    for (uint32_t d = root->doc; d != NX_NO_DOC; d = sit_next(root)) {
        if (!nx_segment_is_live(seg, d)) continue;
        NX_FORWARD(nx_count_match(R, seg, d));
        if (!score) continue;
        if (R->T->by_date) offer_dated(R, d, root);
        else offer_hit(R, d, root->ops->score(root));
    }
    return S->rc;
}

/* Block-max MaxScore (Turtle & Flood 1995; with block bounds as in Lucene
 * 9) over the clauses of a ranked OR. The doc-id space is cut into windows
 * that end at the first block end of any clause; in each window every
 * clause has a bound (its block's score(max_tf, min_norm)). Clauses are
 * sorted by bound; the longest prefix whose bounds sum to less than the
 * heap's minimum score is "non-essential": a doc matching only those cannot
 * enter the heap (one scoring exactly the minimum may, by the tie key).
 * Candidates come from the essential clauses only; non-essential ones are
 * advanced to a candidate only while it can still reach the minimum. A
 * window where every clause is non-essential is skipped without decoding
 * anything. */
int nx_run_maxscore(run_ctx *R, sit **its, uint32_t n, double boost) {
    search *S = R->S;
    const nx_segment *seg = R->seg;
    topk *T = R->T;
    double *bm = nx_arena_alloc(&S->seg_arena, (n + 1) * sizeof *bm);
    double *pre = nx_arena_alloc(&S->seg_arena, (n + 1) * sizeof *pre);
    uint32_t *ord = nx_arena_alloc(&S->seg_arena, (n + 1) * sizeof *ord);
    /* per clause, its score in the candidate (0 when it does not match) */
    double *part = nx_arena_alloc(&S->seg_arena, (n + 1) * sizeof *part);
    NX_RETURN_IF(!bm || !pre || !ord || !part, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(part, 0, (n + 1) * sizeof *part);
    uint32_t d = NX_NO_DOC;
    for (uint32_t i = 0; i < n; i++)
        if (its[i]->doc < d) d = its[i]->doc;
    while (d != NX_NO_DOC) {
        /* the window [d, up] */
        uint32_t up = NX_NO_DOC - 1;
        for (uint32_t i = 0; i < n; i++) {
            if (its[i]->doc == NX_NO_DOC) continue;
            double b;
            uint32_t t = its[i]->doc > d ? its[i]->doc : d;
            uint32_t e = its[i]->ops->shallow(its[i], t, &b);
            bm[i] = b * boost * NX_BOUND_SLACK;
            if (e < up) up = e;
        }
        for (uint32_t i = 0; i < n; i++)
            if (its[i]->doc > up) bm[i] = 0; /* nothing of it in this window */
        double theta = topk_full(T) ? T->h[0].score : -HUGE_VAL;
        /* clauses by bound, ascending (insertion sort: n is small, and a
         * long expansion list is sorted once per window) */
        for (uint32_t i = 0; i < n; i++) {
            uint32_t j = i;
            while (j > 0 && bm[ord[j - 1]] > bm[i]) {
                ord[j] = ord[j - 1];
                j--;
            }
            ord[j] = i;
        }
        uint32_t ne = 0;
        pre[0] = 0;
        while (ne < n && pre[ne] + bm[ord[ne]] < theta) {
            pre[ne + 1] = pre[ne] + bm[ord[ne]];
            ne++;
        }
        if (ne < n) {
            for (;;) {
                uint32_t cand = NX_NO_DOC;
                for (uint32_t k = ne; k < n; k++) {
                    uint32_t x = sit_advance(its[ord[k]], d);
                    if (x < cand) cand = x;
                }
                if (cand > up) break;
                double score = 0;
                for (uint32_t k = ne; k < n; k++) {
                    sit *it = its[ord[k]];
                    if (it->doc == cand) score += part[ord[k]] = it->ops->score(it);
                }
                score *= boost;
                for (uint32_t k = ne; k-- > 0;) {
                    if (score + pre[k + 1] < theta) break;
                    sit *it = its[ord[k]];
                    if (sit_advance(it, cand) == cand) score += (part[ord[k]] = it->ops->score(it)) * boost;
                }
                /* what is offered: the parts summed in the clauses' order,
                 * as or_score sums them (exec.h: the order by bound above
                 * changes from window to window and segment to segment) */
                score = 0;
                for (uint32_t i = 0; i < n; i++) {
                    score += part[i];
                    part[i] = 0;
                }
                score *= boost;
                if (nx_segment_is_live(seg, cand)) {
                    R->total++;
                    if (offer_hit(R, cand, score) && topk_full(T)) theta = T->h[0].score;
                }
                d = cand + 1;
                if (d == NX_NO_DOC) break;
            }
        }
        if (up >= NX_NO_DOC - 1) break;
        /* the next window starts after this one, at the first doc left */
        uint32_t next = NX_NO_DOC;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t x = its[i]->doc;
            if (x <= up) x = up + 1; /* not advanced (non-essential): nothing before up + 1 */
            if (x < next) next = x;
        }
        d = next;
    }
    return S->rc;
}

/* Block-max for a single (field, term) list: whole blocks whose bound
 * cannot reach the heap's minimum are skipped; the others are scored in a tight loop
 * over the decoded block's arrays. */
int nx_run_term(run_ctx *R, pt_it *it) {
    search *S = R->S;
    topk *T = R->T;
    nx_postings *p = &it->p;
    const uint8_t *norms = it->norms;
    const double *k_norm = it->k_norm;
    double weight = it->weight;
    uint32_t d = it->base.doc;
    while (d != NX_NO_DOC) {
        uint32_t end = NX_NO_DOC - 1;
        if (topk_full(T)) {
            double bound;
            end = nx_term_shallow(&it->base, d, &bound);
            if (end == NX_NO_DOC) break;
            if (bound * NX_BOUND_SLACK < T->h[0].score) {
                d = end + 1 < NX_NO_DOC ? nx_postings_advance(p, end + 1) : NX_NO_DOC;
                continue;
            }
        }
        /* d is in the decoded block, and so is every doc up to end */
        uint32_t k, n;
        const uint32_t *docs = nx_postings_block_docs(p, &k, &n);
        const uint32_t *freqs = nx_postings_block_freqs(p);
        for (; k < n && docs[k] <= end; k++) {
            uint32_t x = docs[k];
            if (R->deletions && !nx_segment_is_live(R->seg, x)) continue;
            R->total++;
            double tf = freqs[k];
            offer_hit(R, x, nx_bm25(weight, tf, k_norm[norms[x]]));
            if (topk_full(T) && end == NX_NO_DOC - 1) {
                k++;
                break; /* the heap is full: go on block by block */
            }
        }
        if (k < n) {
            nx_postings_seek_in_block(p, k);
            d = docs[k];
        } else {
            nx_postings_seek_in_block(p, n - 1);
            d = nx_postings_next(p);
        }
    }
    it->base.doc = NX_NO_DOC;
    return S->rc;
}

/* nx_run_blockmax for an AND of plain terms. A window is the range of doc ids
 * covered by one block of every list; its bound is the sum of the blocks'
 * bounds, as and_shallow's. A window that cannot reach the heap's minimum is skipped
 * undecoded; in the others the matches are found by merging the block
 * arrays, then scored as and_score does. A match is visited exactly when
 * nx_run_blockmax would visit it: while the heap is not full, or while its
 * window's bound reaches the heap's minimum. */
int nx_run_blockmax_and(run_ctx *R, and_it *a) {
    search *S = R->S;
    topk *T = R->T;
    uint32_t n = a->n_pos;
    pt_it **pt = (pt_it **)a->pos;
    blk_cur *cur = and_cursors(S, a);
    cand_at *at = nx_arena_alloc(&S->seg_arena, n * sizeof *at); /* per list: block index of each match */
    const uint32_t **freqs = nx_arena_alloc(&S->seg_arena, n * sizeof *freqs); /* per window */
    NX_RETURN_IF(!cur || !at || !freqs, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    blk_cur *lead = &cur[0];
    uint32_t cand[NX_BLOCK];
    uint32_t target = a->base.doc;
    while (target != NX_NO_DOC) {
        /* no match before the lead's next doc */
        uint32_t t = bc_seek(lead, target);
        if (t == NX_NO_DOC) break;
        target = t;
        double bound;
        uint32_t up = a->base.ops->shallow(&a->base, target, &bound);
        if (up == NX_NO_DOC) break;
        bound *= NX_BOUND_SLACK;
        if (topk_full(T) && bound < T->h[0].score) {
            target = up + 1;
            continue;
        }
        /* every list onto its block holding target (its last doc >= up) */
        uint32_t ahead = target;
        bool end = false;
        for (uint32_t i = 1; i < n; i++) {
            uint32_t x = bc_seek(&cur[i], target);
            if (x == NX_NO_DOC) {
                end = true;
                break;
            }
            if (x > ahead) ahead = x;
        }
        if (end) break;
        if (ahead > up) {
            target = ahead; /* no match in this window */
            continue;
        }
        /* the window's matches: the lead's docs, merged with each list */
        uint32_t m = window_matches(cur, n, up, cand, at, NULL);
        for (uint32_t i = 0; i < n && m; i++) freqs[i] = nx_postings_block_freqs(cur[i].p);
        for (uint32_t k = 0; k < m; k++) {
            uint32_t d = cand[k];
            if (R->deletions && !nx_segment_is_live(R->seg, d)) continue;
            R->total++;
            double score = 0;
            for (uint32_t j = 0; j < n; j++) {
                uint32_t i = a->score_order[j];
                const pt_it *it = pt[i];
                double tf = freqs[i][at[i][k]];
                score += nx_bm25(it->weight, tf, it->k_norm[it->norms[d]]);
            }
            if (offer_hit(R, d, score * a->boost) && topk_full(T) && bound < T->h[0].score)
                break; /* the rest cannot win */
        }
        target = up + 1;
    }
    a->base.doc = NX_NO_DOC;
    return S->rc;
}

/* Block-max for any other top node (AND, phrase): before looking for the
 * next match at or after `target`, the bound of the window [target, up]
 * (the node's shallow()) is compared with the heap's minimum; a window that
 * cannot win is skipped without leapfrogging or checking positions in it. */
int nx_run_blockmax(run_ctx *R, sit *root) {
    search *S = R->S;
    const nx_segment *seg = R->seg;
    topk *T = R->T;
    uint32_t target = root->doc, up = NX_NO_DOC - 1;
    while (target != NX_NO_DOC) {
        if (topk_full(T)) {
            double b;
            up = root->ops->shallow(root, target, &b);
            if (up == NX_NO_DOC) break;
            if (b * NX_BOUND_SLACK < T->h[0].score) {
                target = up + 1;
                continue;
            }
        }
        if (topk_full(T) && root->ops->kind == SIT_PHRASE) ((phr_it *)root)->floor = T->h[0].score;
        uint32_t d = root->doc >= target ? root->doc : root->ops->advance(root, target);
        if (d == NX_NO_DOC) break;
        if (topk_full(T) && d > up) {
            target = d; /* a later window: check its bound first */
            continue;
        }
        if (nx_segment_is_live(seg, d)) {
            R->total++;
            offer_hit(R, d, root->ops->score(root));
        }
        target = d + 1;
    }
    return S->rc;
}

/* Sorting by date without facets. Doc ids are in date order inside a
 * segment (undated first), so:
 *  - oldest first: matches arrive in key order; once a dated match cannot
 *    enter the full heap, no later one can: stop;
 *  - newest first: the segment is searched backwards in chunks of doc ids
 *    (1024, then doubling), rebuilding the iterators for each chunk; once
 *    the heap is full and a chunk's newest date is older than the heap's
 *    oldest, every earlier doc is older still: stop.
 * Only heap candidates are scored. The total is the number of matches
 * visited (a lower bound); the caller counts exactly when asked. */
int nx_run_by_date(run_ctx *R, const pnode *root, sit *it) {
    search *S = R->S;
    const nx_segment *seg = R->seg;
    const newsidx_search_options *o = S->o;
    topk *T = R->T;
    if (o->sort == NEWSIDX_SORT_DATE_ASC) {
        for (uint32_t d = it->doc; d != NX_NO_DOC; d = sit_next(it)) {
            if (!nx_segment_is_live(seg, d)) continue;
            R->total++;
            /* a later match is no older: only one strictly older than the
             * heap's oldest proves that none after it can enter (an equal
             * date may still win on score or id) */
            if (!offer_dated(R, d, it) && nx_segment_date(seg, d) != NX_NO_DATE &&
                date_key(o, seg, d) < T->h[0].key)
                break;
        }
        return S->rc;
    }
    uint32_t hi = nx_segment_doc_count(seg), chunk = 1024;
    bool first = true;
    while (hi > 0) {
        if (topk_full(T)) {
            int64_t newest = nx_segment_date(seg, hi - 1);
            int64_t key = newest == NX_NO_DATE ? INT64_MIN : newest;
            if (key < T->h[0].key) break;
        }
        uint32_t lo = hi > chunk ? hi - chunk : 0;
        if (!first) NX_FORWARD(nx_rebuild(S, R->si, root, &it));
        first = false;
        for (uint32_t d = sit_advance(it, lo); d < hi; d = sit_next(it)) {
            if (!nx_segment_is_live(seg, d)) continue;
            R->total++;
            offer_dated(R, d, it);
        }
        NX_FORWARD(S->rc);
        hi = lo;
        if (chunk < (1u << 30)) chunk *= 2;
    }
    return S->rc;
}
