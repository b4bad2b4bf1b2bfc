/* search/iter — the iterators of one segment: nothing, a doc-id range, one
 * (field, term) list, OR (a linear scan, or a heap for many children) and
 * AND with exclusions. Phrases are in phrase.c. The contract every
 * iterator keeps is in exec.h. */
#include "search/exec.h"
/* A shallow() for iterators without block data: one range, the global bound. */
static uint32_t shallow_global(sit *s, uint32_t t, double *bound) {
    (void)t;
    *bound = s->max_score;
    return NX_NO_DOC - 1;
}

/* -- nothing -- */
static uint32_t none_next(sit *s) { return s->doc = NX_NO_DOC; }
static uint32_t none_advance(sit *s, uint32_t t) { (void)t; return s->doc = NX_NO_DOC; }
static double none_score(sit *s) { (void)s; return 0; }
static const sit_ops none_ops = {SIT_NONE, none_next, none_advance, none_score, shallow_global};

/* -- a doc-id range: dates (docs are in date order) and "all" -- */
typedef struct range_it {
    sit base;
    uint32_t end;
} range_it;
static uint32_t range_next(sit *s) {
    range_it *r = (range_it *)s;
    return s->doc = s->doc + 1 < r->end ? s->doc + 1 : NX_NO_DOC;
}
static uint32_t range_advance(sit *s, uint32_t t) {
    range_it *r = (range_it *)s;
    return s->doc = t < r->end ? t : NX_NO_DOC;
}
static const sit_ops range_ops = {SIT_RANGE, range_next, range_advance, none_score, shallow_global};

/* -- one (field, term) postings list -- */
static uint32_t pt_next(sit *s) { return s->doc = nx_postings_next(&((pt_it *)s)->p); }
static uint32_t pt_advance(sit *s, uint32_t t) {
    return s->doc = nx_postings_advance(&((pt_it *)s)->p, t);
}
static double pt_score(sit *s) {
    pt_it *it = (pt_it *)s;
    double tf = nx_postings_freq(&it->p);
    return nx_bm25(it->weight, tf, it->k_norm[it->norms[s->doc]]);
}
uint32_t nx_term_shallow(sit *s, uint32_t t, double *bound) {
    pt_it *it = (pt_it *)s;
    if (t >= it->blk_from && t <= it->blk_end) {
        *bound = it->blk_bound;
        return it->blk_end;
    }
    uint32_t end = nx_postings_shallow_advance(&it->p, t);
    if (end == NX_NO_DOC) {
        *bound = 0;
        return NX_NO_DOC;
    }
    uint32_t max_tf;
    uint8_t min_norm;
    nx_postings_block_max(&it->p, &max_tf, &min_norm);
    *bound = nx_bm25(it->weight, max_tf, it->k_norm[min_norm]);
    it->blk_from = t;
    it->blk_end = end;
    it->blk_bound = *bound;
    return end;
}
static const sit_ops pt_ops = {SIT_TERM, pt_next, pt_advance, pt_score, nx_term_shallow};

/* -- disjunction: sum of the matching children's scores -- */
static uint32_t or_min(or_it *o) {
    uint32_t m = NX_NO_DOC;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->c[i]->doc < m) m = o->c[i]->doc;
    return o->base.doc = m;
}
static uint32_t or_next(sit *s) {
    or_it *o = (or_it *)s;
    uint32_t d = s->doc;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->c[i]->doc == d) sit_next(o->c[i]);
    return or_min(o);
}
static uint32_t or_advance(sit *s, uint32_t t) {
    or_it *o = (or_it *)s;
    for (uint32_t i = 0; i < o->n; i++) sit_advance(o->c[i], t);
    return or_min(o);
}
static double or_score(sit *s) {
    or_it *o = (or_it *)s;
    double sum = 0;
    for (uint32_t i = 0; i < o->n; i++)
        if (o->c[i]->doc == s->doc) sum += o->c[i]->ops->score(o->c[i]);
    return sum * o->boost;
}
/* shallow() of a sum of children (OR, and AND's positive side): the range
 * ends at the first child's range end, the bound is the sum of theirs. */
static uint32_t sum_shallow(sit **c, uint32_t n, double boost, uint32_t t, double *bound) {
    uint32_t end = NX_NO_DOC;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        double b;
        uint32_t e = c[i]->ops->shallow(c[i], t, &b);
        sum += b;
        if (e < end) end = e;
    }
    *bound = sum * boost;
    return end;
}
static uint32_t or_shallow(sit *s, uint32_t t, double *bound) {
    or_it *o = (or_it *)s;
    return sum_shallow(o->c, o->n, o->boost, t, bound);
}
static const sit_ops or_ops = {SIT_OR, or_next, or_advance, or_score, or_shallow};

/* -- a disjunction of many children (prefix/fuzzy expansions): the same,
 * with the children in a min-heap by doc, so a step costs O(log n) rather
 * than O(n). The children on the current doc are the heap's top region. -- */
#define OR_HEAP_MIN 33
static void orh_sift(or_it *o, uint32_t i) {
    sit **h = o->c;
    uint32_t n = o->n;
    sit *x = h[i];
    uint32_t xr = o->rank[i];
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        uint32_t md = x->doc;
        if (l < n && h[l]->doc < md) {
            m = l;
            md = h[l]->doc;
        }
        if (l + 1 < n && h[l + 1]->doc < md) m = l + 1;
        if (m == i) break;
        h[i] = h[m];
        o->rank[i] = o->rank[m];
        i = m;
    }
    h[i] = x;
    o->rank[i] = xr;
}
static uint32_t orh_next(sit *s) {
    or_it *o = (or_it *)s;
    uint32_t d = s->doc;
    while (o->c[0]->doc == d) {
        sit_next(o->c[0]);
        orh_sift(o, 0);
    }
    return s->doc = o->c[0]->doc;
}
static uint32_t orh_advance(sit *s, uint32_t t) {
    or_it *o = (or_it *)s;
    while (o->c[0]->doc < t) {
        sit_advance(o->c[0], t);
        orh_sift(o, 0);
    }
    return s->doc = o->c[0]->doc;
}
/* The children on doc d (the heap's top region below i) into m_rank and
 * m_score, kept in rank order (an insertion: a doc matches few of many
 * expansions). */
static void orh_gather(or_it *o, uint32_t i, uint32_t d, uint32_t *m) {
    if (i >= o->n || o->c[i]->doc != d) return;
    uint32_t r = o->rank[i], j = (*m)++;
    double s = o->c[i]->ops->score(o->c[i]);
    while (j > 0 && o->m_rank[j - 1] > r) {
        o->m_rank[j] = o->m_rank[j - 1];
        o->m_score[j] = o->m_score[j - 1];
        j--;
    }
    o->m_rank[j] = r;
    o->m_score[j] = s;
    orh_gather(o, 2 * i + 1, d, m);
    orh_gather(o, 2 * i + 2, d, m);
}
static double orh_score(sit *s) {
    or_it *o = (or_it *)s;
    uint32_t m = 0;
    orh_gather(o, 0, s->doc, &m);
    double sum = 0;
    for (uint32_t j = 0; j < m; j++) sum += o->m_score[j];
    return sum * o->boost;
}
static const sit_ops orh_ops = {SIT_OR_HEAP, orh_next, orh_advance, orh_score, or_shallow};

/* -- conjunction: leapfrog over the positive children (cheapest first),
 * then each negated child is advanced to the candidate -- */
static uint32_t and_settle(and_it *a, uint32_t t) {
    uint32_t d = t;
    for (;;) {
        d = sit_advance(a->pos[0], d);
        if (d == NX_NO_DOC) break;
        bool all = true;
        for (uint32_t i = 1; i < a->n_pos; i++) {
            uint32_t e = sit_advance(a->pos[i], d);
            if (e != d) {
                d = e;
                all = false;
                break;
            }
        }
        if (d == NX_NO_DOC) break;
        if (!all) continue;
        bool excluded = false;
        for (uint32_t i = 0; i < a->n_neg && !excluded; i++)
            excluded = sit_advance(a->neg[i], d) == d;
        if (!excluded) break;
        d++;
    }
    return a->base.doc = d;
}
static uint32_t and_next(sit *s) { return and_settle((and_it *)s, s->doc + 1); }
static uint32_t and_advance(sit *s, uint32_t t) { return and_settle((and_it *)s, t); }
static double and_score(sit *s) {
    and_it *a = (and_it *)s;
    double sum = 0;
    for (uint32_t i = 0; i < a->n_pos; i++) {
        sit *c = a->pos[a->score_order[i]];
        sum += c->ops->score(c);
    }
    return sum * a->boost;
}
static uint32_t and_shallow(sit *s, uint32_t t, double *bound) {
    and_it *a = (and_it *)s;
    return sum_shallow(a->pos, a->n_pos, a->boost, t, bound);
}
static const sit_ops and_ops = {SIT_AND, and_next, and_advance, and_score, and_shallow};

/* ---- per-segment iterator construction ---------------------------------- */

sit *nx_it_none(search *S) {
    sit *s = nx_arena_alloc(&S->seg_arena, sizeof *s);
    if (!s) return NULL;
    *s = (sit){&none_ops, NX_NO_DOC, 0, 0};
    return s;
}

sit *nx_it_range(search *S, uint32_t first, uint32_t end) {
    if (first >= end) return nx_it_none(S);
    range_it *r = nx_arena_alloc(&S->seg_arena, sizeof *r);
    if (!r) return NULL;
    r->base = (sit){&range_ops, first, 0, end - first};
    r->end = end;
    return &r->base;
}

/* The length-norm table of a field, computed on first use (most queries
 * touch one or two fields). */
const double *nx_k_norm(search *S, int f) {
    if (!S->k_ready[f]) {
        const nx_snapshot *snap = S->snap;
        double avg = snap->field_docs[f] ? (double)snap->field_tokens[f] / (double)snap->field_docs[f]
                                         : 1.0;
        if (avg <= 0) avg = 1.0;
        for (int b = 0; b < 256; b++)
            S->k_norm[f][b] = nx_bm25_k((double)nx_norm_decode((uint8_t)b), avg);
        S->k_ready[f] = true;
    }
    return S->k_norm[f];
}

int nx_it_term(search *S, uint32_t si, const fterm *f, double boost, sit **out) {
    const nx_segment *seg = S->snap->segments[si];
    *out = NULL;
    if (!f->found[si]) return 0;
    pt_it *it = nx_arena_alloc(&S->seg_arena, sizeof *it);
    NX_RETURN_IF(!it, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    NX_RETURN_IF(nx_postings_open(&it->p, seg, &f->info[si], false) < 0, &S->err,
                 NEWSIDX_ERR_CORRUPT, "%s: corrupt postings", nx_segment_postings_path(seg));
    it->norms = nx_segment_norms(seg, f->field);
    it->k_norm = nx_k_norm(S, f->field);
    it->weight = boost * S->field_weight[f->field] * f->idf;
    it->blk_from = 1;
    it->blk_end = 0; /* empty: no cached block */
    it->df = f->info[si].df;
    uint32_t max_tf;
    uint8_t min_norm;
    nx_postings_term_max(&it->p, &max_tf, &min_norm);
    it->base = (sit){&pt_ops, it->p.doc, nx_bm25(it->weight, max_tf, it->k_norm[min_norm]),
                     f->info[si].df};
    *out = &it->base;
    return 0;
}

/* Builds an OR over list (children that are plain ORs are spliced in, so
 * block-max sees every (field, term) list). */
int nx_it_or(search *S, sit **list, uint32_t n, double boost, sit **out) {
    uint32_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!list[i] || list[i]->doc == NX_NO_DOC) continue;
        if (list[i]->ops->kind == SIT_OR && ((or_it *)list[i])->boost == 1.0)
            total += ((or_it *)list[i])->n;
        else
            total++;
    }
    if (total == 0) {
        *out = nx_it_none(S);
        NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        return 0;
    }
    or_it *o = nx_arena_alloc(&S->seg_arena, sizeof *o);
    sit **c = nx_arena_alloc(&S->seg_arena, total * sizeof *c);
    NX_RETURN_IF(!o || !c, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    uint32_t k = 0;
    double max = 0;
    uint64_t cost = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!list[i] || list[i]->doc == NX_NO_DOC) continue;
        if (list[i]->ops->kind == SIT_OR && ((or_it *)list[i])->boost == 1.0) {
            or_it *inner = (or_it *)list[i];
            for (uint32_t j = 0; j < inner->n; j++) c[k++] = inner->c[j];
        } else {
            c[k++] = list[i];
        }
    }
    for (uint32_t i = 0; i < k; i++) {
        max += c[i]->max_score;
        cost += c[i]->cost;
    }
    if (k == 1 && boost == 1.0) {
        *out = c[0];
        return 0;
    }
    o->base = (sit){&or_ops, NX_NO_DOC, max * boost, cost};
    o->c = c;
    o->n = k;
    o->boost = boost;
    if (k >= OR_HEAP_MIN) {
        o->rank = nx_arena_alloc(&S->seg_arena, k * sizeof *o->rank);
        o->m_rank = nx_arena_alloc(&S->seg_arena, k * sizeof *o->m_rank);
        o->m_score = nx_arena_alloc(&S->seg_arena, k * sizeof *o->m_score);
        NX_RETURN_IF(!o->rank || !o->m_rank || !o->m_score, &S->err, NEWSIDX_ERR_NOMEM,
                     "out of memory");
        for (uint32_t i = 0; i < k; i++) o->rank[i] = i;
        o->base.ops = &orh_ops;
        for (uint32_t i = k / 2; i-- > 0;) orh_sift(o, i);
        o->base.doc = c[0]->doc;
    } else {
        or_min(o);
    }
    *out = &o->base;
    return 0;
}

int nx_it_and(search *S, sit **pos, uint32_t n_pos, const uint32_t *score_order, sit **neg,
              uint32_t n_neg, double max, double boost, sit **out) {
    and_it *a = nx_arena_alloc(&S->seg_arena, sizeof *a);
    NX_RETURN_IF(!a, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    a->base = (sit){&and_ops, 0, max * boost, pos[0]->cost};
    a->pos = pos;
    a->n_pos = n_pos;
    a->score_order = score_order;
    a->neg = neg;
    a->n_neg = n_neg;
    a->boost = boost;
    and_settle(a, 0);
    *out = &a->base;
    return 0;
}
