/* search/phrase — the phrase ("a b") and proximity ("a b"~N, NEAR/N)
 * iterator of one field: the words' lists leapfrog like an AND, then the
 * positions of a common doc are matched. */
#include "search/exec.h"

/* The common two-word phrase, from the words' position deltas (summed on
 * the fly), with everything in registers. */
static uint32_t phr_count2(phr_it *it) {
    const uint32_t *d0, *d1;
    int r0 = nx_postings_deltas(&it->p[0], &d0);
    int r1 = r0 < 0 ? r0 : nx_postings_deltas(&it->p[1], &d1);
    if (r1 < 0) {
        it->rc = r1 == NEWSIDX_ERR_NOMEM ? r1 : NEWSIDX_ERR_CORRUPT;
        return 0;
    }
    uint32_t c0 = (uint32_t)r0, c1 = (uint32_t)r1, count = 0;
    if (!c0 || !c1) return 0;
    uint32_t shift = it->offsets[1] - it->offsets[0];
    /* Mark the rarer word's positions (the first word's shifted by the
     * offset) in a bitmap and test the other's: branch-free (a merge
     * mispredicts on every step; marking is a read-modify-write chain,
     * testing only loads). Indices are masked so that damaged positions
     * stay inside the bitmap; `high` (the OR of all marked positions) says
     * whether they all fit. */
    const uint32_t *dm = d0, *dt = d1;
    uint32_t cm = c0, ct = c1, pm = shift, pt = 0, high = 0;
    if (c0 > c1) {
        dm = d1, dt = d0, cm = c1, ct = c0, pm = 0, pt = shift;
    }
    const uint32_t mask = PHRASE_BITMAP_BITS - 1;
    uint64_t *bits = it->bitmap;
    for (uint32_t a = 0; a < cm; a++) {
        pm += dm[a];
        high |= pm;
        bits[(pm & mask) >> 6] |= (uint64_t)1 << (pm & 63);
    }
    if (high < PHRASE_BITMAP_BITS) {
        /* a tested position past the bitmap matches nothing, and neither
         * does any later one */
        if (it->need_freq) {
            for (uint32_t k = 0; k < ct; k++) {
                pt += dt[k];
                if (pt >= PHRASE_BITMAP_BITS) break;
                count += (uint32_t)(bits[pt >> 6] >> (pt & 63)) & 1;
            }
        } else {
            for (uint32_t k = 0; k < ct && !count; k++) {
                pt += dt[k];
                if (pt >= PHRASE_BITMAP_BITS) break;
                count = (uint32_t)(bits[pt >> 6] >> (pt & 63)) & 1;
            }
        }
        /* unmark (a memset of the range starts slowly: rep stos) */
        pm = c0 > c1 ? 0 : shift;
        for (uint32_t a = 0; a < cm; a++) {
            pm += dm[a];
            bits[pm >> 6] = 0;
        }
        return count;
    }
    memset(bits, 0, sizeof it->bitmap);
    /* long documents: merge */
    uint32_t p0 = 0, p1 = d1[0], j = 0;
    for (uint32_t a = 0; a < c0; a++) {
        p0 += d0[a];
        uint64_t want = (uint64_t)p0 + shift;
        while (p1 < want && ++j < c1) p1 += d1[j];
        if (j >= c1) break;
        if (p1 == want) {
            count++;
            if (!it->need_freq) break;
        }
    }
    return count;
}

/* Longer phrases whose rarest word (in this doc) occurs at most this often:
 * candidate starts in a local array. */
#define PHRASE_CANDIDATES 64

/* A phrase of three or more words: the candidate starts are the positions
 * of the word rarest in this doc (minus its offset); each other word, from
 * the rarer to the more frequent, keeps those it continues. Once none is
 * left the remaining words' positions are not decoded at all. Returns
 * UINT32_MAX when the rarest word is too frequent for the local array. */
static uint32_t phr_countn(phr_it *it) {
    uint32_t n = it->n, *ord = it->idx;
    for (uint32_t t = 0; t < n; t++) {
        uint32_t f = nx_postings_freq(&it->p[t]), j = t;
        while (j > 0 && nx_postings_freq(&it->p[ord[j - 1]]) > f) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = t;
    }
    if (nx_postings_freq(&it->p[ord[0]]) > PHRASE_CANDIDATES) return UINT32_MAX;
    uint32_t cand[PHRASE_CANDIDATES], n_cand = 0;
    const uint32_t *d;
    int c = nx_postings_deltas(&it->p[ord[0]], &d);
    if (c < 0 || c > PHRASE_CANDIDATES) {
        it->rc = c == NEWSIDX_ERR_NOMEM ? c : NEWSIDX_ERR_CORRUPT;
        return 0;
    }
    uint32_t off = it->offsets[ord[0]], pos = 0;
    for (int k = 0; k < c; k++) {
        pos += d[k];
        if (pos >= off) cand[n_cand++] = pos - off; /* else: would start before the doc */
    }
    for (uint32_t r = 1; r < n && n_cand; r++) {
        c = nx_postings_deltas(&it->p[ord[r]], &d);
        if (c <= 0) {
            it->rc = c == NEWSIDX_ERR_NOMEM ? c : NEWSIDX_ERR_CORRUPT;
            return 0;
        }
        /* merge the candidates with this word's positions (summed as they
         * are needed); the last word may stop at the first match */
        bool first_only = r == n - 1 && !it->need_freq;
        uint32_t kept = 0, j = 1;
        uint64_t want;
        off = it->offsets[ord[r]];
        pos = d[0];
        for (uint32_t k = 0; k < n_cand; k++) {
            want = (uint64_t)cand[k] + off;
            while (pos < want && j < (uint32_t)c) pos += d[j++];
            if (pos < want) break;
            if (pos == want) {
                cand[kept++] = cand[k];
                if (first_only) break;
            }
        }
        n_cand = kept;
    }
    return n_cand;
}

/* Number of windows or phrase occurrences in the current doc (all iterators
 * are on it). Phrase: start positions s with s + offset_i in every term's
 * positions. Proximity: positions p of any query term such that every term
 * occurs in [p, p + window - 1]. Two-word phrases and longer ones with a
 * rare word take the paths above; the rest decode every word's positions
 * and merge them. */
uint32_t nx_phrase_count(phr_it *it) {
    uint32_t n = it->n;
    if (!it->near && n == 2) return phr_count2(it);
    if (!it->near) {
        uint32_t count = phr_countn(it);
        if (count != UINT32_MAX) return count;
    }
    for (uint32_t i = 0; i < n; i++) {
        int c = nx_postings_positions(&it->p[i], &it->pos[i]);
        if (c < 0) {
            it->rc = NEWSIDX_ERR_CORRUPT;
            return 0;
        }
        it->cnt[i] = (uint32_t)c;
        it->idx[i] = 0;
        it->idx2[i] = 0;
    }
    uint32_t count = 0;
    if (!it->near) {
        for (uint32_t a = 0; a < it->cnt[0]; a++) {
            uint64_t s = (uint64_t)it->pos[0][a] - it->offsets[0];
            bool ok = true;
            for (uint32_t i = 1; i < n && ok; i++) {
                uint64_t want = s + it->offsets[i];
                while (it->idx[i] < it->cnt[i] && it->pos[i][it->idx[i]] < want) it->idx[i]++;
                if (it->idx[i] == it->cnt[i]) return count;
                ok = it->pos[i][it->idx[i]] == want;
            }
            count += ok;
            if (ok && !it->need_freq) break;
        }
        return count;
    }
    for (;;) {
        /* next position of any term (merge over idx2) */
        uint64_t p = UINT64_MAX;
        for (uint32_t i = 0; i < n; i++)
            if (it->idx2[i] < it->cnt[i] && it->pos[i][it->idx2[i]] < p) p = it->pos[i][it->idx2[i]];
        if (p == UINT64_MAX) return count;
        for (uint32_t i = 0; i < n; i++)
            if (it->idx2[i] < it->cnt[i] && it->pos[i][it->idx2[i]] == p) it->idx2[i]++;
        bool ok = true;
        for (uint32_t i = 0; i < n; i++) {
            while (it->idx[i] < it->cnt[i] && it->pos[i][it->idx[i]] < p) it->idx[i]++;
            if (it->idx[i] == it->cnt[i]) return count; /* no later window either */
            if (it->pos[i][it->idx[i]] > p + it->window - 1) ok = false;
        }
        count += ok;
        if (ok && !it->need_freq) return count;
    }
}

/* An exact phrase occurs at most as often as its rarest word (min_tf); a
 * proximity window starts at one of its words' positions (at most sum_tf
 * windows): the score bound of a doc of norm byte `norm`. */
static inline double phr_bound(const phr_it *it, uint32_t min_tf, uint64_t sum_tf, uint8_t norm) {
    return nx_bm25(it->weight, it->near ? (double)sum_tf : (double)min_tf, it->k_norm[norm]);
}

static uint32_t phr_shallow(sit *s, uint32_t t, double *bound);

/* First doc >= t where all terms occur and the positions agree (with a
 * floor: and whose score could reach it). */
static uint32_t phr_settle(phr_it *it, uint32_t t) {
    nx_postings *lead = &it->p[it->lead_order[0]];
    uint32_t d = t;
    for (;;) {
        if (it->skip_windows && (d < it->win_from || d > it->win_end)) {
            /* the first match of an iterator built with a floor: a window
             * whose blocks cannot reach it is skipped without leapfrogging
             * through it (nx_run_blockmax prunes by windows itself only
             * from the match the iterator was built on) */
            double b;
            uint32_t up = phr_shallow(&it->base, d, &b);
            if (up == NX_NO_DOC) {
                d = NX_NO_DOC;
                break;
            }
            if (b * NX_BOUND_SLACK < it->floor) {
                if (up + 1 == NX_NO_DOC) {
                    d = NX_NO_DOC;
                    break;
                }
                d = up + 1;
                continue;
            }
            it->win_from = d;
            it->win_end = up;
        }
        d = nx_postings_advance_near(lead, d);
        if (d == NX_NO_DOC) break;
        bool all = true;
        for (uint32_t k = 1; k < it->n; k++) {
            nx_postings *o = &it->p[it->lead_order[k]];
            if (nx_postings_advance_near(o, d) != d) {
                d = o->doc;
                all = false;
                break;
            }
        }
        if (d == NX_NO_DOC) break;
        if (!all) continue;
        if (it->floor > 0) {
            /* the bound of phr_shallow, from this doc's frequencies and
             * norm: no positions for a doc that cannot win */
            uint32_t tf = UINT32_MAX;
            uint64_t sum = 0;
            for (uint32_t k = 0; k < it->n; k++) {
                uint32_t f = nx_postings_freq(&it->p[k]);
                if (f < tf) tf = f;
                sum += f;
            }
            if (phr_bound(it, tf, sum, it->norms[d]) * NX_BOUND_SLACK < it->floor) {
                d++;
                continue;
            }
        }
        it->freq = nx_phrase_count(it);
        if (it->freq > 0 || it->rc) break;
        d++;
    }
    return it->base.doc = it->rc ? NX_NO_DOC : d;
}
static uint32_t phr_next(sit *s) { return phr_settle((phr_it *)s, s->doc + 1); }
static uint32_t phr_advance(sit *s, uint32_t t) { return phr_settle((phr_it *)s, t); }
static double phr_score(sit *s) {
    phr_it *it = (phr_it *)s;
    return nx_bm25(it->weight, it->freq, it->k_norm[it->norms[s->doc]]);
}
/* phr_bound from the words' block max_tf and the largest of their blocks'
 * min_norm (the range's docs are no shorter); the range ends at the first
 * block end. */
static uint32_t phr_shallow(sit *s, uint32_t t, double *bound) {
    phr_it *it = (phr_it *)s;
    uint32_t end = NX_NO_DOC, min_tf = UINT32_MAX;
    uint64_t sum_tf = 0;
    uint8_t norm = 0;
    for (uint32_t i = 0; i < it->n; i++) {
        uint32_t e = nx_postings_shallow_advance(&it->p[i], t);
        if (e == NX_NO_DOC) {
            *bound = 0;
            return NX_NO_DOC;
        }
        uint32_t max_tf;
        uint8_t min_norm;
        nx_postings_block_max(&it->p[i], &max_tf, &min_norm);
        if (e < end) end = e;
        if (max_tf < min_tf) min_tf = max_tf;
        sum_tf += max_tf;
        if (min_norm > norm) norm = min_norm;
    }
    *bound = phr_bound(it, min_tf, sum_tf, norm);
    return end;
}
static const sit_ops phr_ops = {SIT_PHRASE, phr_next, phr_advance, phr_score, phr_shallow};

int nx_it_phrase(search *S, uint32_t si, const pnode *p, uint32_t fi, double floor, sit **out) {
    const nx_segment *seg = S->snap->segments[si];
    uint32_t n = p->n_terms;
    fterm **ft = p->ft + (size_t)fi * n;
    *out = NULL;
    for (uint32_t t = 0; t < n; t++)
        if (!ft[t]->found[si]) return 0;
    phr_it *it = nx_arena_alloc(&S->seg_arena, sizeof *it);
    nx_postings *ps = nx_arena_alloc(&S->seg_arena, n * sizeof *ps);
    uint32_t *offs = nx_arena_alloc(&S->seg_arena, 5 * n * sizeof *offs);
    const uint32_t **pos = nx_arena_alloc(&S->seg_arena, n * sizeof *pos);
    NX_RETURN_IF(!it || !ps || !offs || !pos, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(it, 0, sizeof *it);
    double idf_sum = 0;
    uint64_t min_df = UINT64_MAX;
    if (S->n_with_pos + n > S->cap_with_pos) {
        uint32_t cap = S->cap_with_pos ? S->cap_with_pos : 16;
        while (cap < S->n_with_pos + n) cap *= 2;
        nx_postings **wp = nx_arena_alloc(&S->seg_arena, cap * sizeof *wp);
        NX_RETURN_IF(!wp, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        if (S->n_with_pos) memcpy(wp, S->with_pos, S->n_with_pos * sizeof *wp);
        S->with_pos = wp;
        S->cap_with_pos = cap;
    }
    for (uint32_t t = 0; t < n; t++) {
        NX_RETURN_IF(nx_postings_open(&ps[t], seg, &ft[t]->info[si], true) < 0, &S->err,
                     NEWSIDX_ERR_CORRUPT, "%s: corrupt postings", nx_segment_postings_path(seg));
        S->with_pos[S->n_with_pos++] = &ps[t];
        idf_sum += ft[t]->idf;
        offs[t] = p->qterms[t].offset;
        if (ft[t]->info[si].df < min_df) min_df = ft[t]->info[si].df;
    }
    it->p = ps;
    it->n = n;
    it->offsets = offs;
    it->lead_order = offs + n;
    it->cnt = offs + 2 * n;
    it->idx = offs + 3 * n;
    it->idx2 = offs + 4 * n;
    it->pos = pos;
    /* leapfrog order: rarest term first (insertion sort, n <= max_phrase_terms) */
    for (uint32_t t = 0; t < n; t++) {
        uint32_t j = t;
        while (j > 0 && ft[it->lead_order[j - 1]]->info[si].df > ft[t]->info[si].df) {
            it->lead_order[j] = it->lead_order[j - 1];
            j--;
        }
        it->lead_order[j] = t;
    }
    it->near = p->kind == NXQ_NEAR;
    it->need_freq = !S->counting;
    it->window = p->window;
    int field = ft[0]->field;
    it->norms = nx_segment_norms(seg, field);
    it->k_norm = nx_k_norm(S, field);
    it->weight = p->boost * S->field_weight[field] * idf_sum;
    /* tf * (k1 + 1) / (tf + K) < k1 + 1 for any frequency */
    it->base = (sit){&phr_ops, 0, nx_bm25_max(it->weight), min_df};
    it->floor = floor;
    it->skip_windows = floor > 0;
    it->win_from = 1;
    it->win_end = 0; /* no window checked yet */
    phr_settle(it, 0);
    it->skip_windows = false;
    NX_RETURN_IF(it->rc, &S->err, it->rc, "%s: corrupt positions",
                 nx_segment_positions_path(S->snap->segments[si]));
    *out = &it->base;
    return 0;
}
