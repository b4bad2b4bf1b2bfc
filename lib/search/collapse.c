/* search/collapse — near-duplicate reprints collapse into their best-ranked
 * article (newsidx_search_options.collapse_distance). The search ranks more
 * candidates than it returns (search.c: 2 * (k + offset), then 4 times
 * more while collapsing leaves too few), and this file keeps, in rank
 * order, each candidate that is not within the distance of one kept
 * before it. Any article outside the candidates ranks below all of them,
 * so once want articles are kept they are exactly the first want of the
 * collapsed ranking. The hash: lib/index/simhash.h. */
#include "index/simhash.h"
#include "search/exec.h"

int nx_collapse(search *S, topk *T, uint32_t want) {
    nx_topk_sort(T);
    uint32_t d = S->o->collapse_distance;
    uint64_t *kept_hash = salloc(S, (size_t)want * sizeof *kept_hash + 1);
    T->hidden = salloc(S, (size_t)want * sizeof *T->hidden + 1);
    NX_RETURN_IF(!kept_hash || !T->hidden, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    uint32_t n_kept = 0;
    for (uint32_t i = 0; i < T->n; i++) {
        const hit_entry e = T->h[i];
        uint64_t h = nx_segment_simhash(S->snap->segments[e.seg], e.doc);
        uint32_t into = n_kept;
        if (h != NX_SIMHASH_NONE)
            for (uint32_t k = 0; k < n_kept; k++)
                if (kept_hash[k] != NX_SIMHASH_NONE && nx_simhash_distance(h, kept_hash[k]) <= d) {
                    into = k;
                    break;
                }
        if (into < n_kept) {
            T->hidden[into]++;
        } else if (n_kept < want) {
            /* the candidates after the last kept one still count as hidden
             * ones of the kept hits, so the scan goes on to the end */
            T->h[n_kept] = e;
            kept_hash[n_kept] = h;
            T->hidden[n_kept] = 0;
            n_kept++;
        }
    }
    bool all_matches = T->n < T->cap;
    T->n = n_kept;
    return n_kept == want || all_matches;
}
