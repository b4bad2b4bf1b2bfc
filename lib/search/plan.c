/* search/plan — the query tree made ready to run: each (field, term) looked
 * up in every segment with its global df and idf, prefix and fuzzy words
 * expanded over the dictionaries, the words to highlight gathered; then,
 * per segment, the plan built into an iterator tree. */
#include "search/exec.h"

#include <stdio.h>
#include <stdlib.h>

/* A word (NUL-terminated) to highlight in snippets of the fields in
 * `fields` (a title: word is not highlighted in the body). */
static int add_hl(search *S, const char *t, uint32_t fields) {
    hl_word *h = sgrow(S, S->hl, S->n_hl, &S->cap_hl, sizeof *h, 32);
    NX_RETURN_IF(!h, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    S->hl = h;
    S->hl[S->n_hl++] = (hl_word){t, fields};
    return 0;
}

static int make_fterm(search *S, int field, const char *text, uint32_t len, fterm **out) {
    uint32_t ns = S->snap->n_segments;
    fterm *f = salloc(S, sizeof *f);
    nx_term_info *info = salloc(S, (ns ? ns : 1) * sizeof *info);
    uint8_t *found = salloc(S, ns ? ns : 1);
    NX_RETURN_IF(!f || !info || !found, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    f->field = field;
    f->text = text;
    f->len = len;
    f->df = 0;
    f->info = info;
    f->found = found;
    for (uint32_t s = 0; s < ns; s++) {
        int rc = nx_segment_lookup(S->snap->segments[s], field, text, len, &info[s]);
        NX_RETURN_IF(rc < 0, &S->err, NEWSIDX_ERR_CORRUPT,
                     "%s: corrupt dictionary while looking up a term",
                     nx_segment_dict_path(S->snap->segments[s]));
        found[s] = rc == 1 && info[s].df > 0;
        if (found[s]) f->df += info[s].df;
    }
    f->idf = nx_bm25_idf(S->snap->total_docs, f->df);
    S->n_leaves++;
    NX_RETURN_IF(S->n_leaves > S->q->opts.max_clauses, &S->err, NEWSIDX_ERR_LIMIT,
                 "query expands to more than max_clauses (%u) terms", S->q->opts.max_clauses);
    *out = f;
    return 0;
}

/* Expansion candidates of a prefix or fuzzy word in one field. */
typedef struct expansion {
    const char *text;
    uint32_t len;
    uint32_t dist;
} expansion;

typedef struct expand_ctx {
    search *S;
    expansion *e;
    uint32_t n, cap, max;
    bool fuzzy;
    const int32_t *word;
    size_t word_n;
    uint32_t max_edits;
    uint32_t seg_n; /* terms taken from the current segment */
    bool truncated; /* more than max terms matched */
    int rc;
} expand_ctx;

static int cmp_expansion(const void *a, const void *b) {
    const expansion *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, m);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorts, removes duplicates, keeps the best `max`. */
static void expansions_trim(expand_ctx *c) {
    if (c->n == 0) return;
    qsort(c->e, c->n, sizeof *c->e, cmp_expansion);
    uint32_t k = 1;
    for (uint32_t i = 1; i < c->n; i++)
        if (c->e[i].len != c->e[k - 1].len || memcmp(c->e[i].text, c->e[k - 1].text, c->e[i].len))
            c->e[k++] = c->e[i];
    if (k > c->max) c->truncated = true;
    c->n = k < c->max ? k : c->max;
}

static int expand_cb(void *ctx, const char *term, size_t len, const nx_term_info *info) {
    expand_ctx *c = ctx;
    (void)info;
    uint32_t dist = 0;
    if (c->fuzzy) {
        /* length filter first: code points = bytes that do not continue a
         * UTF-8 sequence; the distance is at least the length difference */
        if (len + c->max_edits < c->word_n) return 0;
        size_t ncp = 0;
        for (size_t i = 0; i < len; i++) ncp += ((unsigned char)term[i] & 0xc0) != 0x80;
        if (ncp > c->word_n + c->max_edits || ncp + c->max_edits < c->word_n) return 0;
        int32_t cps[NEWSIDX_MAX_TERM_BYTES];
        size_t n = nx_utf8_to_cps(term, len, cps, NEWSIDX_MAX_TERM_BYTES);
        dist = nx_edit_distance(c->word, c->word_n, cps, n, c->max_edits);
        if (dist > c->max_edits) return 0;
    }
    if (c->n == c->cap && c->n >= 2 * c->max) expansions_trim(c); /* (then n < cap) */
    expansion *e = sgrow(c->S, c->e, c->n, &c->cap, sizeof *e, 64);
    if (!e) return c->rc = NEWSIDX_ERR_NOMEM;
    c->e = e;
    char *t = salloc(c->S, len + 1);
    if (!t) return c->rc = NEWSIDX_ERR_NOMEM;
    memcpy(t, term, len);
    t[len] = '\0';
    c->e[c->n++] = (expansion){t, (uint32_t)len, dist};
    /* terms come sorted: a prefix walk can stop once it holds max from this
     * segment (the global best max are among the per-segment best max); one
     * more tells whether the expansion was cut */
    if (!c->fuzzy && ++c->seg_n > c->max) return 1;
    return 0;
}

static int plan_expand(search *S, const nx_qnode *q, bool positive, pnode *p) {
    uint32_t max = S->q->opts.max_expansions ? S->q->opts.max_expansions : 1;
    int32_t word[NEWSIDX_MAX_TERM_BYTES];
    size_t word_n = nx_utf8_to_cps(q->terms[0].text, q->terms[0].len, word, NEWSIDX_MAX_TERM_BYTES);
    uint32_t nf = 0;
    /* at most max expansions per field */
    fterm **ft = salloc(S, (size_t)max * NX_N_FIELDS * sizeof *ft);
    NX_RETURN_IF(!ft, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    for (int f = 0; f < NX_N_FIELDS; f++) {
        if (!(q->fields & NXQ_FIELD_BIT(f))) continue;
        expand_ctx c = {.S = S, .max = max, .fuzzy = q->kind == NXQ_FUZZY, .word = word,
                        .word_n = word_n, .max_edits = q->max_edits};
        for (uint32_t s = 0; s < S->snap->n_segments; s++) {
            c.seg_n = 0;
            int rc = q->kind == NXQ_PREFIX
                         ? nx_segment_terms(S->snap->segments[s], f, q->terms[0].text,
                                            q->terms[0].len, expand_cb, &c)
                         : nx_segment_terms(S->snap->segments[s], f, NULL, 0, expand_cb, &c);
            NX_RETURN_IF(c.rc, &S->err, c.rc, "out of memory");
            NX_RETURN_IF(rc < 0, &S->err, NEWSIDX_ERR_CORRUPT,
                         "%s: corrupt dictionary while expanding a term",
                         nx_segment_dict_path(S->snap->segments[s]));
            if (c.n >= c.max) expansions_trim(&c);
        }
        expansions_trim(&c);
        if (c.truncated && !S->notice[0]) {
            bool fz = q->kind == NXQ_FUZZY;
            snprintf(S->notice, sizeof S->notice,
                     "%.*s%s%.0u matches more than %u terms: searched the %s %u (max_expansions)",
                     (int)q->terms[0].len, q->terms[0].text, fz ? "~" : "*",
                     fz ? q->max_edits : 0u, max, fz ? "closest" : "first", max);
        }
        for (uint32_t i = 0; i < c.n; i++) {
            NX_FORWARD(make_fterm(S, f, c.e[i].text, c.e[i].len, &ft[nf]));
            if (positive) NX_FORWARD(add_hl(S, c.e[i].text, NXQ_FIELD_BIT(f)));
            nf++;
        }
    }
    p->ft = ft;
    p->n_ft = nf;
    return 0;
}

int nx_plan(search *S, const nx_qnode *q, bool positive, pnode **out) {
    pnode *p = salloc(S, sizeof *p);
    NX_RETURN_IF(!p, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(p, 0, sizeof *p);
    p->kind = q->kind;
    p->boost = q->boost;
    *out = p;
    switch (q->kind) {
    case NXQ_NONE:
    case NXQ_ALL:
        return 0;
    case NXQ_DATE:
        p->lo = q->date_lo;
        p->hi = q->date_hi;
        return 0;
    case NXQ_TERM: {
        fterm **ft = salloc(S, NX_N_FIELDS * sizeof *ft);
        NX_RETURN_IF(!ft, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        p->ft = ft;
        for (int f = 0; f < NX_N_FIELDS; f++)
            if (q->fields & NXQ_FIELD_BIT(f))
                NX_FORWARD(make_fterm(S, f, q->terms[0].text, q->terms[0].len, &ft[p->n_ft++]));
        if (positive) NX_FORWARD(add_hl(S, q->terms[0].text, q->fields));
        return 0;
    }
    case NXQ_PHRASE:
    case NXQ_NEAR: {
        uint32_t nt = q->n_terms;
        fterm **ft = salloc(S, (size_t)NX_N_FIELDS * nt * sizeof *ft);
        NX_RETURN_IF(!ft, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        p->ft = ft;
        p->n_terms = nt;
        p->qterms = q->terms;
        p->window = nt + q->slop;
        for (int f = 0; f < NX_N_FIELDS; f++) {
            if (!(q->fields & NXQ_FIELD_BIT(f))) continue;
            for (uint32_t t = 0; t < nt; t++)
                NX_FORWARD(make_fterm(S, f, q->terms[t].text, q->terms[t].len,
                                      &ft[p->n_pf * nt + t]));
            p->n_pf++;
        }
        if (positive)
            for (uint32_t t = 0; t < nt; t++)
                NX_FORWARD(add_hl(S, q->terms[t].text, q->fields));
        return 0;
    }
    case NXQ_PREFIX:
    case NXQ_FUZZY:
        return plan_expand(S, q, positive, p);
    case NXQ_AND:
    case NXQ_OR: {
        p->n_children = q->n_children;
        p->children = salloc(S, q->n_children * sizeof *p->children);
        p->negated = salloc(S, q->n_children * sizeof *p->negated);
        NX_RETURN_IF(!p->children || !p->negated, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < q->n_children; i++) {
            bool neg = q->negated && q->negated[i];
            p->negated[i] = neg;
            NX_FORWARD(nx_plan(S, q->children[i], positive && !neg, &p->children[i]));
        }
        return 0;
    }
    }
    return nx_err_set(&S->err, NEWSIDX_ERR_INVALID, "unknown query node kind %d", q->kind);
}

int nx_build(search *S, uint32_t si, const pnode *p, sit **out) {
    const nx_segment *seg = S->snap->segments[si];
    *out = NULL;
    switch (p->kind) {
    case NXQ_NONE:
        break;
    case NXQ_ALL:
        *out = nx_it_range(S, 0, nx_segment_doc_count(seg));
        NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        return 0;
    case NXQ_DATE: {
        uint32_t first, end;
        nx_segment_date_range(seg, p->lo, p->hi, &first, &end);
        *out = nx_it_range(S, first, end);
        NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        return 0;
    }
    case NXQ_TERM:
    case NXQ_PREFIX:
    case NXQ_FUZZY: {
        sit **list = nx_arena_alloc(&S->seg_arena, (p->n_ft ? p->n_ft : 1) * sizeof *list);
        NX_RETURN_IF(!list, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < p->n_ft; i++) NX_FORWARD(nx_it_term(S, si, p->ft[i], p->boost, &list[i]));
        return nx_it_or(S, list, p->n_ft, 1.0, out);
    }
    case NXQ_PHRASE:
    case NXQ_NEAR: {
        sit *list[NX_N_FIELDS];
        /* a floor only when this phrase will be the whole iterator tree: as
         * a part of a sum (two fields, an AND) its score is not the doc's */
        double floor = 0;
        if (p == S->root && S->root_floor > 0) {
            uint32_t fields_found = 0;
            for (uint32_t f = 0; f < p->n_pf; f++) {
                bool all = true;
                for (uint32_t t = 0; t < p->n_terms && all; t++) all = p->ft[f * p->n_terms + t]->found[si];
                fields_found += all;
            }
            if (fields_found == 1) floor = S->root_floor;
        }
        for (uint32_t f = 0; f < p->n_pf; f++) NX_FORWARD(nx_it_phrase(S, si, p, f, floor, &list[f]));
        return nx_it_or(S, list, p->n_pf, 1.0, out);
    }
    case NXQ_OR: {
        sit **list = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *list);
        NX_RETURN_IF(!list, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < p->n_children; i++) NX_FORWARD(nx_build(S, si, p->children[i], &list[i]));
        return nx_it_or(S, list, p->n_children, p->boost, out);
    }
    case NXQ_AND: {
        sit **pos = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *pos);
        sit **neg = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *neg);
        /* qrank[j]: pos[j]'s place among the positive children in the query */
        uint32_t *qrank = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *qrank);
        uint32_t *score_order = nx_arena_alloc(&S->seg_arena, p->n_children * sizeof *score_order);
        NX_RETURN_IF(!pos || !neg || !qrank || !score_order, &S->err, NEWSIDX_ERR_NOMEM,
                     "out of memory");
        uint32_t np = 0, nn = 0;
        double max = 0;
        bool empty = false;
        for (uint32_t i = 0; i < p->n_children; i++) {
            sit *c;
            NX_FORWARD(nx_build(S, si, p->children[i], &c));
            if (p->negated[i]) {
                if (c->doc != NX_NO_DOC) neg[nn++] = c;
                continue;
            }
            if (c->doc == NX_NO_DOC) empty = true;
            /* cheapest first: it leads the leapfrog */
            uint32_t j = np++, rank = j;
            while (j > 0 && pos[j - 1]->cost > c->cost) {
                pos[j] = pos[j - 1];
                qrank[j] = qrank[j - 1];
                j--;
            }
            pos[j] = c;
            qrank[j] = rank;
            max += c->max_score;
        }
        if (empty || np == 0) break;
        if (np == 1 && nn == 0 && p->boost == 1.0) {
            *out = pos[0];
            return 0;
        }
        for (uint32_t j = 0; j < np; j++) score_order[qrank[j]] = j;
        return nx_it_and(S, pos, np, score_order, neg, nn, max, p->boost, out);
    }
    }
    *out = nx_it_none(S);
    NX_RETURN_IF(!*out, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    return 0;
}

void nx_close_positions(search *S) {
    for (uint32_t i = 0; i < S->n_with_pos; i++) nx_postings_close(S->with_pos[i]);
    S->n_with_pos = S->cap_with_pos = 0;
    S->with_pos = NULL;
}

int nx_rebuild(search *S, uint32_t si, const pnode *root, sit **it) {
    nx_close_positions(S);
    nx_arena_reset(&S->seg_arena);
    return nx_build(S, si, root, it);
}
