/* search/results — what a search returns: the hits (ids, requested stored
 * fields, snippets) made from the top-k heap, and the accessors of
 * include/newsidx.h. */
#include "search/exec.h"

#include "analysis/analysis.h"
#include "index/docstore.h"

#include <stdlib.h>

void newsidx_results_free(newsidx_results *res) {
    if (!res) return;
    nx_arena_reset(&res->arena);
    free(res);
}

const char *newsidx_results_notice(const newsidx_results *res) {
    return res && res->notice ? res->notice : "";
}

uint64_t newsidx_results_total(const newsidx_results *res) { return res ? res->total : 0; }
size_t newsidx_results_count(const newsidx_results *res) { return res ? res->n_hits : 0; }

const char *newsidx_hit_id(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].id : NULL;
}

double newsidx_hit_score(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].score : 0.0;
}

const newsidx_field *newsidx_hit_field(const newsidx_results *res, size_t i, const char *name) {
    if (!res || i >= res->n_hits || !name) return NULL;
    const hit *h = &res->hits[i];
    for (size_t j = 0; j < h->n_fields; j++)
        if (strcmp(h->fields[j].name, name) == 0) return &h->fields[j];
    return NULL;
}

size_t newsidx_hit_field_count(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].n_fields : 0;
}

const newsidx_field *newsidx_hit_field_at(const newsidx_results *res, size_t i, size_t j) {
    return res && i < res->n_hits && j < res->hits[i].n_fields ? &res->hits[i].fields[j] : NULL;
}

uint32_t newsidx_hit_hidden(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].hidden : 0;
}

size_t newsidx_hit_snippet_count(const newsidx_results *res, size_t i) {
    return res && i < res->n_hits ? res->hits[i].n_snippets : 0;
}

const newsidx_snippet *newsidx_hit_snippet(const newsidx_results *res, size_t i, size_t j) {
    if (!res || i >= res->n_hits || j >= res->hits[i].n_snippets) return NULL;
    return &res->hits[i].snippets[j];
}

static int facet_index(unsigned facet) {
    return facet == NEWSIDX_FACET_SOURCE ? 0 : facet == NEWSIDX_FACET_YEAR ? 1
         : facet == NEWSIDX_FACET_MONTH  ? 2 : -1;
}

size_t newsidx_facet_count(const newsidx_results *res, unsigned facet) {
    int k = facet_index(facet);
    return res && k >= 0 ? res->n_facet[k] : 0;
}

int newsidx_facet_value(const newsidx_results *res, unsigned facet, size_t j,
                        const char **label, uint64_t *count) {
    int k = facet_index(facet);
    if (!res || k < 0 || j >= res->n_facet[k]) return NEWSIDX_ERR_NOT_FOUND;
    if (label) *label = res->facet[k][j].label;
    if (count) *count = res->facet[k][j].count;
    return NEWSIDX_OK;
}

static const char *find_stored(const newsidx_field *f, size_t n, const char *name, size_t *len) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0) {
            *len = f[i].value_len;
            return f[i].value;
        }
    return NULL;
}

static bool field_requested(const char *list, const char *name) {
    if (!list) return false;
    size_t nl = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        while (l && *p == ' ') p++, l--;
        while (l && p[l - 1] == ' ') l--;
        if ((l == 1 && *p == '*') || (l == nl && memcmp(p, name, l) == 0)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static int cmp_str(const void *a, const void *b) {
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

/* The sorted, unique words to highlight in snippets of one field. */
static int hl_set(search *S, int field, nx_hlterms *out) {
    const char **hl = salloc(S, (S->n_hl ? S->n_hl : 1) * sizeof *hl);
    uint32_t *hl_len = salloc(S, (S->n_hl ? S->n_hl : 1) * sizeof *hl_len);
    NX_RETURN_IF(!hl || !hl_len, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < S->n_hl; i++)
        if (S->hl[i].fields & NXQ_FIELD_BIT(field)) hl[n++] = S->hl[i].text;
    qsort(hl, n, sizeof *hl, cmp_str);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (k == 0 || strcmp(hl[k - 1], hl[i]) != 0) hl[k++] = hl[i];
    for (uint32_t i = 0; i < k; i++) hl_len[i] = (uint32_t)strlen(hl[i]);
    *out = (nx_hlterms){hl, hl_len, k};
    return 0;
}

/* The heap's hits, best first (a heapsort of the min-heap by "worse"). */
void nx_topk_sort(topk *T) {
    if (T->sorted) return;
    T->sorted = true;
    uint32_t n = T->n;
    for (uint32_t end = n; end > 1; end--) {
        hit_entry x = T->h[0];
        T->h[0] = T->h[end - 1];
        T->h[end - 1] = x;
        T->n = end - 1;
        nx_topk_sift_down(T, 0);
    }
    T->n = n;
}

/* The stored fields of one hit that the options ask for, copied into the
 * results' arena. */
static int copy_fields(search *S, newsidx_results *res, hit *h, const newsidx_field *sf,
                       size_t nsf) {
    const char *want = S->o->fields;
    size_t nreq = 0;
    for (size_t j = 0; j < nsf; j++) nreq += field_requested(want, sf[j].name);
    if (!nreq) return 0;
    h->fields = nx_arena_alloc(&res->arena, nreq * sizeof *h->fields);
    NX_RETURN_IF(!h->fields, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    for (size_t j = 0; j < nsf; j++) {
        if (!field_requested(want, sf[j].name)) continue;
        size_t nl = strlen(sf[j].name);
        char *name = nx_arena_alloc(&res->arena, nl + 1);
        char *val = nx_arena_alloc(&res->arena, sf[j].value_len + 1);
        NX_RETURN_IF(!name || !val, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
        memcpy(name, sf[j].name, nl + 1);
        memcpy(val, sf[j].value, sf[j].value_len);
        val[sf[j].value_len] = '\0';
        h->fields[h->n_fields++] = (newsidx_field){name, val, sf[j].value_len};
    }
    return 0;
}

/* What snippets are made with: an analyzer set up as the query's was, and
 * the words to highlight in each field. */
typedef struct snippet_ctx {
    newsidx_analyzer *an;
    nx_hlterms body, title;
} snippet_ctx;

/* The snippets of one hit: from its body, or its title when the body is
 * empty. */
static int hit_snippets(search *S, newsidx_results *res, hit *h, const snippet_ctx *sc,
                        const newsidx_field *sf, size_t nsf) {
    const newsidx_search_options *o = S->o;
    size_t blen = 0;
    const char *fname = "body";
    const nx_hlterms *ht = &sc->body;
    const char *text = find_stored(sf, nsf, "body", &blen);
    if (!text || blen == 0) {
        fname = "title";
        ht = &sc->title;
        text = find_stored(sf, nsf, "title", &blen);
    }
    if (!text || !blen) return 0;
    int rc = nx_snippets_make(sc->an, ht, text, blen, fname, o->snippets,
                              o->snippet_bytes ? o->snippet_bytes : 200, &res->arena,
                              &h->snippets, &h->n_snippets);
    if (rc < 0) nx_err_set(&S->err, rc, "cannot make snippets");
    return rc;
}

static int snippet_ctx_init(search *S, snippet_ctx *sc) {
    newsidx_analyzer_options ao;
    newsidx_analyzer_options_init(&ao);
    ao.stem_language = S->q->stem_language;
    ao.stopwords_language = S->q->stopwords_language;
    int rc = newsidx_analyzer_create(&ao, &sc->an);
    if (rc) return nx_err_set(&S->err, rc, "cannot create the analyzer for snippets");
    NX_FORWARD(hl_set(S, NX_F_BODY, &sc->body));
    return hl_set(S, NX_F_TITLE, &sc->title);
}

/* One hit: its id and score, then (when asked for) its stored fields and
 * snippets. */
static int fill_hit(search *S, newsidx_results *res, hit *h, const hit_entry *e,
                    const snippet_ctx *sc, nx_docstore_scratch *scratch) {
    const newsidx_search_options *o = S->o;
    const nx_segment *seg = S->snap->segments[e->seg];
    size_t id_len;
    const char *id = nx_segment_id(seg, e->doc, &id_len);
    NX_RETURN_IF(!id, &S->err, NEWSIDX_ERR_CORRUPT, "%s: the id of doc %u does not decode",
                 nx_segment_columns_path(seg), e->doc);
    h->id = nx_arena_alloc(&res->arena, id_len + 1);
    NX_RETURN_IF(!h->id, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memcpy(h->id, id, id_len);
    h->id[id_len] = '\0';
    h->score = e->score;
    if (!(o->fields && *o->fields) && o->snippets == 0) return 0;
    const newsidx_field *sf;
    size_t nsf;
    int rc = nx_segment_stored(seg, e->doc, scratch, &S->err, &sf, &nsf);
    if (rc < 0) return rc;
    NX_FORWARD(copy_fields(S, res, h, sf, nsf));
    return o->snippets > 0 ? hit_snippets(S, res, h, sc, sf, nsf) : 0;
}

/* Fills res->hits from the heap: ids, stored fields, snippets. */
int nx_fill_hits(search *S, topk *T, newsidx_results *res) {
    nx_topk_sort(T);
    uint32_t skip = S->o->offset < T->n ? S->o->offset : T->n;
    res->n_hits = T->n - skip;
    if (res->n_hits == 0) return 0;
    res->hits = nx_arena_alloc(&res->arena, res->n_hits * sizeof *res->hits);
    NX_RETURN_IF(!res->hits, &S->err, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(res->hits, 0, res->n_hits * sizeof *res->hits);
    nx_docstore_scratch scratch;
    nx_docstore_scratch_init(&scratch);
    snippet_ctx sc = {0};
    int rc = S->o->snippets > 0 ? snippet_ctx_init(S, &sc) : 0;
    for (size_t i = 0; rc == 0 && i < res->n_hits; i++) {
        rc = fill_hit(S, res, &res->hits[i], &T->h[skip + i], &sc, &scratch);
        if (T->hidden) res->hits[i].hidden = T->hidden[skip + i];
        if (rc == 0 && res->arena.total_bytes > S->o->max_result_bytes)
            rc = nx_err_set(&S->err, NEWSIDX_ERR_LIMIT,
                            "the results would hold more than max_result_bytes (%zu bytes) "
                            "after %zu of %zu hits: ask for fewer hits (k), fields or snippets, "
                            "or raise the limit",
                            S->o->max_result_bytes, i + 1, res->n_hits);
    }
    newsidx_analyzer_free(sc.an);
    nx_docstore_scratch_free(&scratch);
    return rc;
}
