/* search/collect — what the runs collect: the top-k heap (a min-heap of
 * the best hits so far) and the facets (counts by source, year and month). */
#include "search/exec.h"
#include "util/date.h"

#include <stdio.h>
#include <stdlib.h>

/* The last tie key (exec.h): ids compared as bytes, a proper prefix
 * first. Two hits with one id (the same id in two indexes of a set) fall
 * back on their place in the snapshot. */
bool nx_tie_better(const topk *t, const hit_entry *a, const hit_entry *b) {
    if (a->seg == b->seg && a->doc == b->doc) return false;
    const nx_segment *sa = t->snap->segments[a->seg], *sb = t->snap->segments[b->seg];
    size_t la, lb;
    const char *ia = nx_segment_id(sa, a->doc, &la), *ib = nx_segment_id(sb, b->doc, &lb);
    /* an id that does not decode sorts as empty here; fill_hit reports it */
    int c = memcmp(ia ? ia : "", ib ? ib : "", la < lb ? la : lb);
    if (c != 0) return c < 0;
    if (la != lb) return la < lb;
    return a->seg != b->seg ? a->seg < b->seg : a->doc < b->doc;
}

/* Min-heap: h[0] is the worst kept hit. */
void nx_topk_sift_down(topk *t, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < t->n && better(t, &t->h[w], &t->h[l])) w = l;
        if (r < t->n && better(t, &t->h[w], &t->h[r])) w = r;
        if (w == i) return;
        hit_entry x = t->h[i];
        t->h[i] = t->h[w];
        t->h[w] = x;
        i = w;
    }
}

void nx_topk_push(topk *t, const hit_entry *e) {
    if (!topk_full(t)) {
        uint32_t i = t->n++;
        t->h[i] = *e;
        while (i > 0) {
            uint32_t parent = (i - 1) / 2;
            if (!better(t, &t->h[parent], &t->h[i])) break;
            hit_entry x = t->h[i];
            t->h[i] = t->h[parent];
            t->h[parent] = x;
            i = parent;
        }
    } else {
        t->h[0] = *e;
        nx_topk_sift_down(t, 0);
    }
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

static int facet_month(search *S, facets *F, int64_t t) {
    if (F->n_months && t >= F->cur_lo && t <= F->cur_hi) {
        F->months[F->cur].count++;
        return 0;
    }
    int64_t y;
    int m;
    nx_civil_from_days(floor_div(t, 86400), &y, &m, NULL);
    int64_t key = y * 12 + (m - 1);
    uint32_t i = 0;
    while (i < F->n_months && F->months[i].month != key) i++;
    if (i == F->n_months) {
        month_count *mc = sgrow(S, F->months, F->n_months, &F->cap_months, sizeof *mc, 64);
        NX_RETURN_IF(!mc, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        F->months = mc;
        F->months[F->n_months++] = (month_count){key, 0};
    }
    F->months[i].count++;
    F->cur = i;
    F->cur_lo = nx_days_from_civil(y, m, 1) * 86400;
    F->cur_hi = (m == 12 ? nx_days_from_civil(y + 1, 1, 1) : nx_days_from_civil(y, m + 1, 1)) * 86400 - 1;
    return 0;
}

int nx_facet_source_merge(search *S, facets *F, const nx_segment *seg) {
    uint32_t n = nx_segment_source_count(seg);
    for (uint32_t ord = 1; ord <= n; ord++) {
        uint64_t c = F->seg_src[ord];
        if (!c) continue;
        size_t len;
        const char *name = nx_segment_source_name(seg, ord, &len);
        uint64_t h = nx_hash64(name, len) | 1;
        if (2 * (F->n_src + 1) > F->cap_src) {
            uint32_t cap = F->cap_src ? F->cap_src * 2 : 64;
            facet_val *v = salloc(S, cap * sizeof *v);
            uint64_t *hs = salloc(S, cap * sizeof *hs);
            NX_RETURN_IF(!v || !hs, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            memset(hs, 0, cap * sizeof *hs);
            for (uint32_t i = 0; i < F->cap_src; i++) {
                if (!F->src_hash[i]) continue;
                uint32_t j = (uint32_t)(F->src_hash[i] & (cap - 1));
                while (hs[j]) j = (j + 1) & (cap - 1);
                hs[j] = F->src_hash[i];
                v[j] = F->src[i];
            }
            F->src = v;
            F->src_hash = hs;
            F->cap_src = cap;
        }
        uint32_t j = (uint32_t)(h & (F->cap_src - 1));
        while (F->src_hash[j] &&
               !(F->src_hash[j] == h && strlen(F->src[j].label) == len &&
                 memcmp(F->src[j].label, name, len) == 0))
            j = (j + 1) & (F->cap_src - 1);
        if (!F->src_hash[j]) {
            char *l = salloc(S, len + 1);
            NX_RETURN_IF(!l, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            memcpy(l, name, len);
            l[len] = '\0';
            F->src_hash[j] = h;
            F->src[j] = (facet_val){l, 0};
            F->n_src++;
        }
        F->src[j].count += c;
    }
    return 0;
}

int nx_count_match(run_ctx *R, const nx_segment *seg, uint32_t doc) {
    R->total++;
    facets *F = R->F;
    if (F->want & NEWSIDX_FACET_SOURCE) F->seg_src[nx_segment_source_ord(seg, doc)]++;
    if (F->want & (NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH)) {
        int64_t d = nx_segment_date(seg, doc);
        if (d != NX_NO_DATE) NX_FORWARD(facet_month(R->S, F, d));
    }
    return 0;
}

static int cmp_facet_count(const void *a, const void *b) {
    const facet_val *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->label, y->label);
}
static int cmp_month(const void *a, const void *b) {
    const month_count *x = a, *y = b;
    return x->month < y->month ? -1 : x->month > y->month;
}

int nx_fill_facets(search *S, facets *F, newsidx_results *res) {
    if (F->want & NEWSIDX_FACET_SOURCE && F->n_src) {
        facet_val *v = nx_arena_alloc(&res->arena, F->n_src * sizeof *v);
        NX_RETURN_IF(!v, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        size_t k = 0;
        for (uint32_t i = 0; i < F->cap_src; i++)
            if (F->src_hash[i]) {
                size_t l = strlen(F->src[i].label);
                char *s = nx_arena_alloc(&res->arena, l + 1);
                NX_RETURN_IF(!s, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
                memcpy(s, F->src[i].label, l + 1);
                v[k++] = (facet_val){s, F->src[i].count};
            }
        qsort(v, k, sizeof *v, cmp_facet_count);
        res->facet[0] = v;
        res->n_facet[0] = k;
    }
    if (F->n_months) {
        qsort(F->months, F->n_months, sizeof *F->months, cmp_month);
        facet_val *mv = nx_arena_alloc(&res->arena, F->n_months * sizeof *mv);
        facet_val *yv = nx_arena_alloc(&res->arena, F->n_months * sizeof *yv);
        NX_RETURN_IF(!mv || !yv, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        size_t ny = 0;
        for (uint32_t i = 0; i < F->n_months; i++) {
            int64_t y = floor_div(F->months[i].month, 12);
            int m = (int)(F->months[i].month - y * 12) + 1;
            char *ml = nx_arena_alloc(&res->arena, 48);
            NX_RETURN_IF(!ml, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
            snprintf(ml, 48, "%04lld-%02d", (long long)y, m);
            mv[i] = (facet_val){ml, F->months[i].count};
            if (ny && floor_div(F->months[i - 1].month, 12) == y) {
                yv[ny - 1].count += F->months[i].count;
            } else {
                char *yl = nx_arena_alloc(&res->arena, 24);
                NX_RETURN_IF(!yl, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
                snprintf(yl, 24, "%04lld", (long long)y);
                yv[ny++] = (facet_val){yl, F->months[i].count};
            }
        }
        if (F->want & NEWSIDX_FACET_MONTH) {
            res->facet[2] = mv;
            res->n_facet[2] = F->n_months;
        }
        if (F->want & NEWSIDX_FACET_YEAR) {
            res->facet[1] = yv;
            res->n_facet[1] = ny;
        }
    }
    return 0;
}
