/* Check suite of the query engine (lib/search) against a REFERENCE MATCHER.
 *
 * The test indexes real articles with the writer API (Reuters-21578 plus
 * slices of 20 Newsgroups and BBC from ../shared/corpora, read with libzstd
 * and jansson), then reads every stored article back through the reader,
 * analyzes its fields itself and builds its own in-memory postings (term ->
 * docs -> positions). For each parsed query tree it evaluates the tree by
 * plain set operations over those postings, scores with the BM25 formula of
 * docs/QUERY.md (same quantized norms: nx_norm_encode/nx_norm_decode of its
 * own token counts), and compares the total and the top 10 (ids, scores
 * within 1e-6) with newsidx_search — with and without block-max pruning —
 * on generated queries of every class (term, AND, OR, NOT, phrase,
 * proximity, prefix, field, date range; QUERIES_PER_CLASS each).
 *
 * It also checks that a second index of the same articles split into many
 * segments gives the same totals and the same scores per id, that deleted
 * (replaced) articles never match, date sorting, facets, snippets, and that
 * threads sharing one reader get the results of one thread.
 *
 * Size: the full run (about 25,000 articles, 1,000 queries per class) takes
 * about 35-55 s of CPU in a Release build. Under AddressSanitizer
 * (__SANITIZE_ADDRESS__) the corpus is cut to 4,000 Reuters articles and
 * 1,000 queries per class still run; NEWSIDX_TEST_SMALL=1 forces the small
 * corpus anywhere.
 *
 * Without ../shared/corpora (a fresh clone) every test runs the same way on
 * generated newswire-like articles (25,000, or 4,500 small) and the suite
 * prints "SKIP (<dir>/corpora not found)" to say the real text was not used. */
#include "analysis/analysis.h"
#include "index/docstore.h"
#include "index/segment.h"
#include "search/query.h"
#include "search/search.h"
#include "newsidx.h"

#include "common.h"
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#define QUERIES_PER_CLASS 1000
#define TOPK 10
#define STEM "english"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* ---- corpus loading -------------------------------------------------------- */

typedef struct article {
    char *id, *title, *body, *source, *author, *date;
} article;

typedef struct corpus {
    article *a;
    size_t n, cap;
} corpus;

static char *json_str(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) return NULL;
    return strdup(json_string_value(v));
}

/* Reads up to max articles of a .jsonl.zst file (every `stride`-th line). */
static void load_jsonl_zst(corpus *c, const char *path, size_t max, size_t stride) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ZSTD_DStream *ds = ZSTD_createDStream();
    ZSTD_initDStream(ds);
    size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
    char *in = malloc(in_cap), *out = malloc(out_cap);
    char *line = NULL;
    size_t line_len = 0, line_cap = 0, lineno = 0, taken = 0;
    size_t rd;
    while (taken < max && (rd = fread(in, 1, in_cap, f)) > 0) {
        ZSTD_inBuffer ib = {in, rd, 0};
        while (ib.pos < ib.size && taken < max) {
            ZSTD_outBuffer ob = {out, out_cap, 0};
            size_t r = ZSTD_decompressStream(ds, &ob, &ib);
            ck_assert(!ZSTD_isError(r));
            for (size_t i = 0; i < ob.pos && taken < max; i++) {
                if (out[i] != '\n') {
                    if (line_len + 1 >= line_cap) {
                        line_cap = line_cap ? line_cap * 2 : 65536;
                        line = realloc(line, line_cap);
                    }
                    line[line_len++] = out[i];
                    continue;
                }
                if (lineno++ % stride == 0) {
                    json_error_t je;
                    json_t *o = json_loadb(line, line_len, 0, &je);
                    ck_assert_msg(o != NULL, "%s: bad JSON line", path);
                    if (c->n == c->cap) {
                        c->cap = c->cap ? c->cap * 2 : 1024;
                        c->a = realloc(c->a, c->cap * sizeof *c->a);
                    }
                    article *a = &c->a[c->n++];
                    a->id = json_str(o, "id");
                    a->title = json_str(o, "title");
                    a->body = json_str(o, "body");
                    a->source = json_str(o, "source");
                    a->author = json_str(o, "author");
                    a->date = json_str(o, "date");
                    json_decref(o);
                    taken++;
                }
                line_len = 0;
            }
        }
    }
    free(line);
    free(in);
    free(out);
    ZSTD_freeDStream(ds);
    fclose(f);
}

static bool small_run(void) { return SANITIZED || nxt_small(); }

/* ---- generated articles (when ../shared/corpora is absent) ---------------------
 *
 * A fresh clone has no shared corpora; the reference tests then run on
 * newswire-like articles made here, so that every check below still runs
 * (only the real text is missing). What the tests rely on, the generator
 * gives: Zipf-distributed words (long posting lists beside rare terms, as in
 * real text), the English words the fixed queries use ("oil prices",
 * "interest rates", "Bank of England", "computer", "growth"...), accented
 * words, dates in 1987 with some articles undated, sources and authors on
 * part of the articles, titles, and bodies of 40-300 words in sentences. */

/* Ranked by frequency: the head of the Zipf curve. */
static const char *const gen_common[] = {
    "the", "of", "to", "and", "a", "in", "said", "for", "on", "is", "it", "that", "by", "with", "at", "was",
    "from", "its", "be", "as", "will", "has", "would", "an", "were", "which", "this", "not", "but", "are",
    "have", "after", "also", "had", "up", "last", "year", "percent", "new", "two", "oil", "prices", "bank",
    "market", "trade", "company", "government", "rates", "interest", "growth", "shares", "dollar", "gas",
    "computer", "game", "minister", "export", "import", "crude", "billion", "million", "exchange", "stock",
    "economy", "central", "england", "budget", "deficit", "output", "sales", "profit", "tax", "week",
    "month", "officials", "industry", "production", "demand", "supply", "energy", "coffee", "cocoa",
    "wheat", "grain", "gold", "loan", "debt", "election", "vote", "court", "police", "team", "season",
    "player", "software", "system", "network", "music", "film", "festival", "Traoré", "España", "Zürich",
    "São", "Москва", "Ελλάδα", "东京", "naïve", "café"};

/* Syllables for the long tail: about 5,000 made-up words. */
static const char *const gen_syll[] = {"ka", "lo", "mi", "ter", "san", "dor", "ve", "ri", "pa", "nu",
                                       "sto", "bel", "gra", "fin", "mon", "tus", "el", "ar", "ost", "quin",
                                       "zu", "hal", "per", "ce", "dim", "rob", "sel", "tri", "wen", "yo"};
#define GEN_TAIL 5000
#define GEN_N_COMMON (sizeof gen_common / sizeof *gen_common)
#define GEN_VOCAB (GEN_N_COMMON + GEN_TAIL)

typedef struct gen {
    uint64_t rng;
    char tail[GEN_TAIL][16];
    double cum[GEN_VOCAB]; /* Zipf (s = 1) cumulative weights */
} gen;

static uint32_t gen_below(gen *g, uint32_t n) { return (uint32_t)((nxt_xorshift64(&g->rng) >> 11) % n); }

static const char *gen_word(gen *g) {
    double x = (double)(nxt_xorshift64(&g->rng) >> 11) / 9007199254740992.0 * g->cum[GEN_VOCAB - 1];
    size_t lo = 0, hi = GEN_VOCAB - 1;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (g->cum[m] < x) lo = m + 1;
        else hi = m;
    }
    return lo < GEN_N_COMMON ? gen_common[lo] : g->tail[lo - GEN_N_COMMON];
}

typedef struct gbuf {
    char *p;
    size_t len, cap;
} gbuf;

static void gen_put(gbuf *b, const char *s, bool capital) {
    size_t n = strlen(s);
    if (b->len + n + 2 > b->cap) {
        b->cap = (b->len + n + 2) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (b->len) b->p[b->len++] = ' ';
    memcpy(b->p + b->len, s, n);
    if (capital && s[0] >= 'a' && s[0] <= 'z') b->p[b->len] = (char)(s[0] - 'a' + 'A');
    b->len += n;
    b->p[b->len] = '\0';
}

/* n words of Zipf text in sentences; phrases the fixed queries look for are
 * mixed in now and then. */
static char *gen_text(gen *g, uint32_t n, bool sentences) {
    static const char *const phrases[] = {"Bank of England", "interest rates", "oil prices",
                                          "computer game",   "economic growth", "the Bank of England said"};
    gbuf b = {0};
    uint32_t in_sentence = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (gen_below(g, 40) == 0) gen_put(&b, phrases[gen_below(g, 6)], in_sentence == 0);
        else gen_put(&b, gen_word(g), in_sentence == 0);
        in_sentence++;
        if (sentences && in_sentence > 5 && gen_below(g, 12) == 0) {
            gen_put(&b, "", false);
            b.p[b.len - 1] = '.';
            in_sentence = 0;
        }
    }
    return b.p ? b.p : strdup("");
}

static void generate_corpus(corpus *c, size_t n) {
    static const char *const sources[] = {"reuters", "afp", "ap", "bbc", "dpa"};
    static const char *const first[] = {"Anna", "John", "Mariam", "Oleg", "Chen", "Fatou", "Pablo", "Ingrid"};
    static const char *const last[] = {"Smith", "Traoré", "Ivanova", "Garcia", "Okafor", "Lindqvist", "Wong"};
    gen *g = calloc(1, sizeof *g);
    ck_assert_ptr_nonnull(g);
    g->rng = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < GEN_TAIL; i++) {
        size_t len = 0, syll = 2 + i % 3;
        for (size_t k = 0, x = i; k < syll; k++, x /= 30)
            len += (size_t)snprintf(g->tail[i] + len, sizeof g->tail[i] - len, "%s", gen_syll[(x + k * 7) % 30]);
    }
    double sum = 0;
    for (size_t r = 0; r < GEN_VOCAB; r++) g->cum[r] = sum += 1.0 / (double)(r + 1);
    c->a = calloc(n, sizeof *c->a);
    ck_assert_ptr_nonnull(c->a);
    c->cap = n;
    for (size_t i = 0; i < n; i++) {
        article *a = &c->a[c->n++];
        char buf[64];
        snprintf(buf, sizeof buf, "gen-%zu", i);
        a->id = strdup(buf);
        a->title = gen_text(g, 3 + gen_below(g, 7), false);
        a->body = gen_text(g, 40 + gen_below(g, 260), true);
        if (gen_below(g, 10) != 0) a->source = strdup(sources[gen_below(g, 5) * gen_below(g, 2)]);
        if (gen_below(g, 10) < 3) {
            snprintf(buf, sizeof buf, "%s %s", first[gen_below(g, 8)], last[gen_below(g, 7)]);
            a->author = strdup(buf);
        }
        if (gen_below(g, 12) != 0) {
            snprintf(buf, sizeof buf, "1987-%02u-%02uT%02u:%02u:00Z", 2 + gen_below(g, 11), 1 + gen_below(g, 28),
                     gen_below(g, 24), gen_below(g, 60));
            a->date = strdup(buf);
        }
    }
    free(g);
}

/* The real corpora when ../shared has them (Reuters-21578, a slice of 20
 * Newsgroups and of BBC), else as many generated articles. */
static corpus *the_corpus(void) {
    static corpus c;
    if (c.n) return &c;
    bool small = small_run();
    char dir[4096];
    if (nxt_shared("corpora", "the reference tests run on generated articles instead", dir, sizeof dir)) {
        char path[4200];
        snprintf(path, sizeof path, "%s/reuters21578.jsonl.zst", dir);
        load_jsonl_zst(&c, path, small ? 4000 : 30000, 1);
        snprintf(path, sizeof path, "%s/20newsgroups.jsonl.zst", dir);
        load_jsonl_zst(&c, path, small ? 400 : 3000, 6);
        snprintf(path, sizeof path, "%s/bbc.jsonl.zst", dir);
        load_jsonl_zst(&c, path, small ? 100 : 500, 4);
    } else {
        generate_corpus(&c, small ? 4500 : 25000);
    }
    fprintf(stderr, "corpus: %zu articles\n", c.n);
    return &c;
}

static void add_article(newsidx_writer *w, const article *a, const char *title_override) {
    newsidx_field f[6];
    size_t n = 0;
#define ADD(name, v)                                                                               \
    if (v) f[n++] = (newsidx_field){name, v, strlen(v)};
    ADD("id", a->id);
    const char *title = title_override ? title_override : a->title;
    ADD("title", title);
    ADD("body", a->body);
    ADD("source", a->source);
    ADD("author", a->author);
    ADD("date", a->date);
#undef ADD
    ck_assert_int_eq(newsidx_writer_add(w, f, n, NULL), NEWSIDX_OK);
}

/* Builds an index of the corpus in dir. ram: writer budget (small = many
 * segments). 50 articles of the first commit, spread over the corpus, are
 * added again with a new title in a second commit, so the index holds
 * deleted documents. Spread, because 50 neighbours made a third of one
 * small segment of the split index, which the commit then rewrote
 * (NX_EXPUNGE_PERCENT): its statistics no longer counted them while the
 * one index's still did, and the scores differed by design. */
static void build_index(const char *dir, size_t ram) {
    corpus *c = the_corpus();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.stem_language = STEM;
    o.ram_budget_bytes = ram;
    o.merge_factor = 1000;
    o.keep_flushes = 1; /* the split index: every flush a segment */
    char err[512];
    newsidx_writer *w;
    ck_assert_msg(newsidx_writer_open(dir, &o, err, sizeof err, &w) == 0, "%s", err);
    for (size_t i = 0; i < c->n; i++) add_article(w, &c->a[i], NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    size_t stride = c->n > 150 ? (c->n - 100) / 50 : 1;
    for (size_t i = 100; i < c->n && i < 100 + 50 * stride; i += stride) {
        char t[512];
        snprintf(t, sizeof t, "%s replaced edition", c->a[i].title ? c->a[i].title : "");
        add_article(w, &c->a[i], t);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
}

/* ---- the reference index ------------------------------------------------------ */

typedef struct rdoc {
    char *id;
    char *field[NX_N_FIELDS]; /* stored values (NUL-terminated), NULL when absent */
    size_t field_len[NX_N_FIELDS];
    uint32_t len[NX_N_FIELDS]; /* tokens */
    int64_t date;              /* NX_NO_DATE when none */
    bool live;
    uint32_t seg, doc;
    char *source_label;
} rdoc;

typedef struct rpost {
    uint32_t g;      /* global doc number (segment order, then doc id) */
    uint32_t n_pos;
    uint64_t pos_off; /* into ref.pos */
} rpost;

typedef struct rterm {
    int field;
    char *text;
    uint32_t len;
    rpost *p;
    uint32_t n, cap;
} rterm;

typedef struct ref {
    rdoc *docs;
    uint32_t n_docs;
    uint32_t *pos;
    uint64_t n_pos, cap_pos;
    rterm *terms;
    uint32_t n_terms, cap_terms;
    uint32_t *slots; /* hash: term index + 1 */
    uint32_t mask;
    rterm **sorted[NX_N_FIELDS]; /* per field, by text (memcmp, then length) */
    uint32_t n_sorted[NX_N_FIELDS];
    uint64_t field_docs[NX_N_FIELDS], field_tokens[NX_N_FIELDS];
    newsidx_analyzer *an;
} ref;

static uint64_t term_hash(int field, const char *t, size_t len) {
    return nx_hash64(t, len) * 31 + (uint64_t)field;
}

static int ref_find(const ref *R, int field, const char *t, size_t len) {
    uint32_t i = (uint32_t)term_hash(field, t, len) & R->mask;
    while (R->slots[i]) {
        const rterm *x = &R->terms[R->slots[i] - 1];
        if (x->field == field && x->len == len && memcmp(x->text, t, len) == 0)
            return (int)R->slots[i] - 1;
        i = (i + 1) & R->mask;
    }
    return -1;
}

static uint32_t ref_intern(ref *R, int field, const char *t, size_t len) {
    if (2 * (R->n_terms + 1) > R->mask) {
        uint32_t cap = R->mask ? (R->mask + 1) * 2 : 1 << 16;
        free(R->slots);
        R->slots = calloc(cap, sizeof *R->slots);
        R->mask = cap - 1;
        for (uint32_t k = 0; k < R->n_terms; k++) {
            uint32_t i = (uint32_t)term_hash(R->terms[k].field, R->terms[k].text, R->terms[k].len) & R->mask;
            while (R->slots[i]) i = (i + 1) & R->mask;
            R->slots[i] = k + 1;
        }
    }
    int found = ref_find(R, field, t, len);
    if (found >= 0) return (uint32_t)found;
    if (R->n_terms == R->cap_terms) {
        R->cap_terms = R->cap_terms ? R->cap_terms * 2 : 65536;
        R->terms = realloc(R->terms, R->cap_terms * sizeof *R->terms);
    }
    rterm *x = &R->terms[R->n_terms];
    memset(x, 0, sizeof *x);
    x->field = field;
    x->text = strndup(t, len);
    x->len = (uint32_t)len;
    uint32_t i = (uint32_t)term_hash(field, t, len) & R->mask;
    while (R->slots[i]) i = (i + 1) & R->mask;
    R->slots[i] = R->n_terms + 1;
    return R->n_terms++;
}

typedef struct rtok {
    uint32_t term, pos;
} rtok;

typedef struct rtoks {
    ref *R;
    int field;
    rtok *v;
    uint32_t n, cap;
} rtoks;

static int ref_on_token(void *ctx, const newsidx_token *t) {
    rtoks *ts = ctx;
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 4096;
        ts->v = realloc(ts->v, ts->cap * sizeof *ts->v);
    }
    ts->v[ts->n++] = (rtok){ref_intern(ts->R, ts->field, t->term, t->term_len), t->position};
    return 0;
}

static int cmp_rtok(const void *a, const void *b) {
    const rtok *x = a, *y = b;
    if (x->term != y->term) return x->term < y->term ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_rterm_ptr(const void *a, const void *b) {
    const rterm *x = *(rterm *const *)a, *y = *(rterm *const *)b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, m);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static const char *const field_store_names[NX_N_FIELDS] = {"title", "body", "author", "source", "url"};

/* Reads every stored article back and indexes it in memory. */
static void ref_build(ref *R, const newsidx_reader *r) {
    memset(R, 0, sizeof *R);
    newsidx_analyzer_options ao;
    newsidx_analyzer_options_init(&ao);
    ao.stem_language = STEM;
    ck_assert_int_eq(newsidx_analyzer_create(&ao, &R->an), 0);
    const nx_snapshot *snap = nx_reader_snapshot(r);
    uint32_t total = 0;
    for (uint32_t s = 0; s < snap->n_segments; s++) total += nx_segment_doc_count(snap->segments[s]);
    R->docs = calloc(total, sizeof *R->docs);
    nx_docstore_scratch scratch;
    nx_docstore_scratch_init(&scratch);
    rtoks ts = {.R = R};
    uint32_t g = 0;
    for (uint32_t s = 0; s < snap->n_segments; s++) {
        const nx_segment *seg = snap->segments[s];
        for (uint32_t d = 0; d < nx_segment_doc_count(seg); d++, g++) {
            rdoc *rd = &R->docs[g];
            const newsidx_field *f;
            size_t n;
            nx_err err = {0};
            ck_assert_int_eq(nx_segment_stored(seg, d, &scratch, &err, &f, &n), 0);
            rd->seg = s;
            rd->doc = d;
            rd->live = nx_segment_is_live(seg, d);
            rd->date = NX_NO_DATE;
            for (size_t i = 0; i < n; i++) {
                if (strcmp(f[i].name, "id") == 0) rd->id = strndup(f[i].value, f[i].value_len);
                if (strcmp(f[i].name, "date") == 0) {
                    int64_t t;
                    if (newsidx_parse_date(f[i].value, f[i].value_len, &t) == 0) rd->date = t;
                }
                for (int k = 0; k < NX_N_FIELDS; k++)
                    if (strcmp(f[i].name, field_store_names[k]) == 0 && !rd->field[k]) {
                        rd->field[k] = strndup(f[i].value, f[i].value_len);
                        rd->field_len[k] = f[i].value_len;
                    }
            }
            rd->source_label = rd->field[NX_F_SOURCE];
            for (int k = 0; k < NX_N_FIELDS; k++) {
                if (!rd->field[k] || !rd->field_len[k]) continue;
                ts.field = k;
                ts.n = 0;
                ck_assert_int_eq(newsidx_analyze(R->an, rd->field[k], rd->field_len[k], ref_on_token, &ts), 0);
                rd->len[k] = ts.n;
                if (ts.n) {
                    R->field_docs[k]++;
                    R->field_tokens[k] += ts.n;
                }
                qsort(ts.v, ts.n, sizeof *ts.v, cmp_rtok);
                for (uint32_t i = 0; i < ts.n;) {
                    uint32_t j = i;
                    while (j < ts.n && ts.v[j].term == ts.v[i].term) j++;
                    rterm *x = &R->terms[ts.v[i].term];
                    if (x->n == x->cap) {
                        x->cap = x->cap ? x->cap * 2 : 4;
                        x->p = realloc(x->p, x->cap * sizeof *x->p);
                    }
                    if (R->n_pos + (j - i) > R->cap_pos) {
                        R->cap_pos = R->cap_pos ? R->cap_pos * 2 : (1u << 22);
                        while (R->cap_pos < R->n_pos + (j - i)) R->cap_pos *= 2;
                        R->pos = realloc(R->pos, R->cap_pos * sizeof *R->pos);
                    }
                    x->p[x->n++] = (rpost){g, j - i, R->n_pos};
                    for (uint32_t k2 = i; k2 < j; k2++) R->pos[R->n_pos++] = ts.v[k2].pos;
                    i = j;
                }
            }
        }
    }
    R->n_docs = g;
    free(ts.v);
    nx_docstore_scratch_free(&scratch);
    for (int k = 0; k < NX_N_FIELDS; k++) {
        R->sorted[k] = malloc((R->n_terms + 1) * sizeof *R->sorted[k]);
        for (uint32_t t = 0; t < R->n_terms; t++)
            if (R->terms[t].field == k) R->sorted[k][R->n_sorted[k]++] = &R->terms[t];
        qsort(R->sorted[k], R->n_sorted[k], sizeof *R->sorted[k], cmp_rterm_ptr);
    }
}

static void ref_free(ref *R) {
    for (uint32_t i = 0; i < R->n_docs; i++) {
        free(R->docs[i].id);
        for (int k = 0; k < NX_N_FIELDS; k++) free(R->docs[i].field[k]);
    }
    free(R->docs);
    for (uint32_t t = 0; t < R->n_terms; t++) {
        free(R->terms[t].text);
        free(R->terms[t].p);
    }
    free(R->terms);
    free(R->slots);
    free(R->pos);
    for (int k = 0; k < NX_N_FIELDS; k++) free(R->sorted[k]);
    newsidx_analyzer_free(R->an);
}

/* ---- reference evaluation: a doc list with scores ------------------------------ */

typedef struct rset {
    uint32_t *g;
    double *s;
    uint32_t n;
} rset;

static rset rset_new(uint32_t cap) {
    rset r = {malloc((cap ? cap : 1) * sizeof(uint32_t)), malloc((cap ? cap : 1) * sizeof(double)), 0};
    return r;
}
static void rset_free(rset *r) {
    free(r->g);
    free(r->s);
}

typedef struct rctx {
    const ref *R;
    double weight[NX_N_FIELDS];
    uint32_t max_expansions;
} rctx;

static double ref_bm25(const rctx *C, int field, double idf, double tf, uint32_t len) {
    const ref *R = C->R;
    double avg = R->field_docs[field] ? (double)R->field_tokens[field] / (double)R->field_docs[field] : 1.0;
    double dl = nx_norm_decode(nx_norm_encode(len));
    double K = 1.2 * (1 - 0.75 + 0.75 * dl / avg);
    return C->weight[field] * idf * tf * 2.2 / (tf + K);
}

static double ref_idf(const ref *R, uint64_t df) {
    double N = R->n_docs;
    return log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
}

/* Union of a and b; scores add. */
static rset rset_union(rset a, rset b) {
    rset o = rset_new(a.n + b.n);
    uint32_t i = 0, j = 0;
    while (i < a.n || j < b.n) {
        if (j == b.n || (i < a.n && a.g[i] < b.g[j])) {
            o.g[o.n] = a.g[i];
            o.s[o.n++] = a.s[i++];
        } else if (i == a.n || b.g[j] < a.g[i]) {
            o.g[o.n] = b.g[j];
            o.s[o.n++] = b.s[j++];
        } else {
            o.g[o.n] = a.g[i];
            o.s[o.n++] = a.s[i++] + b.s[j++];
        }
    }
    return o;
}

/* One (field, term): every doc containing it, scored. */
static rset ref_fterm(const rctx *C, int field, const char *t, size_t len, double boost) {
    int k = ref_find(C->R, field, t, len);
    if (k < 0) return rset_new(0);
    const rterm *x = &C->R->terms[k];
    rset o = rset_new(x->n);
    double idf = ref_idf(C->R, x->n);
    for (uint32_t i = 0; i < x->n; i++) {
        o.g[o.n] = x->p[i].g;
        o.s[o.n++] = boost * ref_bm25(C, field, idf, x->p[i].n_pos, C->R->docs[x->p[i].g].len[field]);
    }
    return o;
}

static void acc_union(rset *acc, rset b) {
    rset u = rset_union(*acc, b);
    rset_free(acc);
    rset_free(&b);
    *acc = u;
}

static const rpost *find_post(const rterm *x, uint32_t g) {
    uint32_t lo = 0, hi = x->n;
    while (lo < hi) {
        uint32_t m = (lo + hi) / 2;
        if (x->p[m].g < g) lo = m + 1;
        else hi = m;
    }
    return lo < x->n && x->p[lo].g == g ? &x->p[lo] : NULL;
}

static bool has_pos(const ref *R, const rpost *p, uint64_t want) {
    for (uint32_t i = 0; i < p->n_pos; i++)
        if (R->pos[p->pos_off + i] == want) return true;
    return false;
}

/* Phrase or proximity in one field, by brute force over positions. */
static rset ref_phrase(const rctx *C, const nx_qnode *q, int field) {
    const ref *R = C->R;
    uint32_t n = q->n_terms;
    const rterm *x[64];
    double idf_sum = 0;
    for (uint32_t t = 0; t < n; t++) {
        int k = ref_find(R, field, q->terms[t].text, q->terms[t].len);
        if (k < 0) return rset_new(0);
        x[t] = &R->terms[k];
        idf_sum += ref_idf(R, x[t]->n);
    }
    rset o = rset_new(x[0]->n);
    for (uint32_t i = 0; i < x[0]->n; i++) {
        uint32_t g = x[0]->p[i].g;
        const rpost *p[64];
        bool all = true;
        for (uint32_t t = 0; t < n && all; t++) all = (p[t] = find_post(x[t], g)) != NULL;
        if (!all) continue;
        uint32_t freq = 0;
        if (q->kind == NXQ_PHRASE) {
            for (uint32_t a = 0; a < p[0]->n_pos; a++) {
                uint64_t s = R->pos[p[0]->pos_off + a];
                bool ok = true;
                for (uint32_t t = 1; t < n && ok; t++) ok = has_pos(R, p[t], s + q->terms[t].offset);
                freq += ok;
            }
        } else {
            uint64_t W = n + q->slop;
            /* candidate window starts: every position of every term, once */
            for (uint32_t t0 = 0; t0 < n; t0++)
                for (uint32_t a = 0; a < p[t0]->n_pos; a++) {
                    uint64_t s = R->pos[p[t0]->pos_off + a];
                    bool ok = true;
                    for (uint32_t t = 0; t < n && ok; t++) {
                        bool in = false;
                        for (uint32_t b = 0; b < p[t]->n_pos && !in; b++) {
                            uint64_t v = R->pos[p[t]->pos_off + b];
                            in = v >= s && v <= s + W - 1;
                        }
                        ok = in;
                    }
                    freq += ok;
                }
        }
        if (!freq) continue;
        o.g[o.n] = g;
        o.s[o.n++] = q->boost * ref_bm25(C, field, idf_sum, freq, R->docs[g].len[field]);
    }
    return o;
}

static uint32_t ref_edit(const char *a, size_t na, const char *b, size_t nb) {
    int32_t x[80], y[80];
    size_t n = nx_utf8_to_cps(a, na, x, 80), m = nx_utf8_to_cps(b, nb, y, 80);
    uint32_t d[81][81];
    for (size_t i = 0; i <= n; i++) d[i][0] = (uint32_t)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (uint32_t)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            uint32_t v = d[i - 1][j - 1] + (x[i - 1] != y[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

typedef struct rexp {
    const rterm *t;
    uint32_t dist;
} rexp;

static int cmp_rexp(const void *a, const void *b) {
    const rexp *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return cmp_rterm_ptr(&x->t, &y->t);
}

static rset ref_eval(const rctx *C, const nx_qnode *q);

static rset ref_expand(const rctx *C, const nx_qnode *q) {
    rset acc = rset_new(0);
    for (int f = 0; f < NX_N_FIELDS; f++) {
        if (!(q->fields & NXQ_FIELD_BIT(f))) continue;
        rexp *e = malloc((C->R->n_sorted[f] + 1) * sizeof *e);
        uint32_t ne = 0;
        for (uint32_t i = 0; i < C->R->n_sorted[f]; i++) {
            const rterm *t = C->R->sorted[f][i];
            if (q->kind == NXQ_PREFIX) {
                if (t->len >= q->terms[0].len && memcmp(t->text, q->terms[0].text, q->terms[0].len) == 0)
                    e[ne++] = (rexp){t, 0};
            } else {
                uint32_t d = ref_edit(q->terms[0].text, q->terms[0].len, t->text, t->len);
                if (d <= q->max_edits) e[ne++] = (rexp){t, d};
            }
        }
        qsort(e, ne, sizeof *e, cmp_rexp);
        if (ne > C->max_expansions) ne = C->max_expansions;
        for (uint32_t i = 0; i < ne; i++) acc_union(&acc, ref_fterm(C, f, e[i].t->text, e[i].t->len, q->boost));
        free(e);
    }
    return acc;
}

static rset ref_eval(const rctx *C, const nx_qnode *q) {
    const ref *R = C->R;
    switch (q->kind) {
    case NXQ_NONE:
        return rset_new(0);
    case NXQ_ALL:
    case NXQ_DATE: {
        rset o = rset_new(R->n_docs);
        for (uint32_t g = 0; g < R->n_docs; g++) {
            if (q->kind == NXQ_DATE &&
                !(R->docs[g].date != NX_NO_DATE && R->docs[g].date >= q->date_lo && R->docs[g].date <= q->date_hi))
                continue;
            o.g[o.n] = g;
            o.s[o.n++] = 0;
        }
        return o;
    }
    case NXQ_TERM: {
        rset acc = rset_new(0);
        for (int f = 0; f < NX_N_FIELDS; f++)
            if (q->fields & NXQ_FIELD_BIT(f))
                acc_union(&acc, ref_fterm(C, f, q->terms[0].text, q->terms[0].len, q->boost));
        return acc;
    }
    case NXQ_PHRASE:
    case NXQ_NEAR: {
        rset acc = rset_new(0);
        for (int f = 0; f < NX_N_FIELDS; f++)
            if (q->fields & NXQ_FIELD_BIT(f)) acc_union(&acc, ref_phrase(C, q, f));
        return acc;
    }
    case NXQ_PREFIX:
    case NXQ_FUZZY:
        return ref_expand(C, q);
    case NXQ_OR: {
        rset acc = rset_new(0);
        for (uint32_t i = 0; i < q->n_children; i++) acc_union(&acc, ref_eval(C, q->children[i]));
        for (uint32_t i = 0; i < acc.n; i++) acc.s[i] *= q->boost;
        return acc;
    }
    case NXQ_AND: {
        /* membership by flags over all docs: simple and obviously right */
        uint32_t *hits = calloc(R->n_docs, sizeof *hits);
        double *score = calloc(R->n_docs, sizeof *score);
        uint32_t n_pos = 0;
        for (uint32_t i = 0; i < q->n_children; i++) {
            rset c = ref_eval(C, q->children[i]);
            bool neg = q->negated[i];
            if (!neg) n_pos++;
            for (uint32_t j = 0; j < c.n; j++) {
                if (neg) hits[c.g[j]] = UINT32_MAX / 2;
                else {
                    hits[c.g[j]]++;
                    score[c.g[j]] += c.s[j];
                }
            }
            rset_free(&c);
        }
        rset o = rset_new(R->n_docs);
        for (uint32_t g = 0; g < R->n_docs; g++)
            if (hits[g] == n_pos) {
                o.g[o.n] = g;
                o.s[o.n++] = score[g] * q->boost;
            }
        free(hits);
        free(score);
        return o;
    }
    }
    ck_abort_msg("unknown node kind");
    return rset_new(0);
}

/* Live matches only, ranked like the engine: score desc, then doc order. */
typedef struct rhit {
    uint32_t g;
    double s;
} rhit;

static int cmp_rhit(const void *a, const void *b) {
    const rhit *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->g < y->g ? -1 : x->g > y->g;
}

/* ---- fixtures ------------------------------------------------------------------ */

#define DIR_ONE "test_search_one.idx"
#define DIR_SPLIT "test_search_split.idx"

static newsidx_reader *reader_one, *reader_split;
static ref ref_one;

static void setup_indexes(void) {
    static bool done;
    if (done) return;
    build_index(DIR_ONE, 512u << 20);
    build_index(DIR_SPLIT, 3u << 20);
    char err[512];
    ck_assert_msg(newsidx_reader_open(DIR_ONE, err, sizeof err, &reader_one) == 0, "%s", err);
    ck_assert_msg(newsidx_reader_open(DIR_SPLIT, err, sizeof err, &reader_split) == 0, "%s", err);
    ref_build(&ref_one, reader_one);
    done = true;
}

/* ---- query generation ----------------------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;
static uint32_t rnd(rng *r, uint32_t n) {
    return (uint32_t)((nxt_xorshift64(&r->s) >> 11) % n);
}

typedef struct span {
    size_t start, end;
    uint32_t position;
} span;
typedef struct spans {
    span *v;
    uint32_t n, cap;
} spans;
static int on_span(void *ctx, const newsidx_token *t) {
    spans *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (span){t->start, t->end, t->position};
    return 0;
}

/* Tokens of a random live doc's field (body 80%, else title); returns the
 * text or NULL when that field is empty. */
static const char *random_doc_tokens(const ref *R, rng *r, spans *sp, int field_hint) {
    for (int tries = 0; tries < 100; tries++) {
        const rdoc *d = &R->docs[rnd(r, R->n_docs)];
        int f = field_hint >= 0 ? field_hint : (rnd(r, 5) ? NX_F_BODY : NX_F_TITLE);
        if (!d->field[f] || !d->field_len[f]) continue;
        sp->n = 0;
        newsidx_analyze(R->an, d->field[f], d->field_len[f], on_span, sp);
        if (sp->n == 0) continue;
        return d->field[f];
    }
    return NULL;
}

/* A word that is not an operator and holds no query syntax. */
static bool plain_word(const char *w, size_t l) {
    for (size_t i = 0; i < l; i++)
        if (strchr("\"()^~*:", w[i])) return false;
    return l > 0 && w[0] != '+' && w[0] != '-' && !(l == 3 && memcmp(w, "AND", 3) == 0) &&
           !(l == 2 && memcmp(w, "OR", 2) == 0) && !(l == 3 && memcmp(w, "NOT", 3) == 0) &&
           !(l >= 4 && memcmp(w, "NEAR", 4) == 0);
}

/* Appends the surface text of one random token (no quotes). */
static bool random_word(const ref *R, rng *r, char *out, size_t cap, int field) {
    spans sp = {0};
    const char *text = random_doc_tokens(R, r, &sp, field);
    bool ok = false;
    if (text) {
        span s = sp.v[rnd(r, sp.n)];
        size_t l = s.end - s.start;
        if (l < cap && plain_word(text + s.start, l)) {
            memcpy(out, text + s.start, l);
            out[l] = '\0';
            ok = true;
        }
    }
    free(sp.v);
    return ok;
}

enum qclass { C_TERM, C_AND, C_OR, C_NOT, C_PHRASE, C_PROX, C_PREFIX, C_FIELD, C_DATE, C_FUZZY,
              C_AND_FIELD, N_CLASSES };
static const char *const class_names[N_CLASSES] = {"term", "and", "or", "not", "phrase", "proximity",
                                                   "prefix", "field", "date", "fuzzy", "and-field"};

static void gen_query(const ref *R, rng *r, int cls, char *q, size_t cap) {
    char w1[128], w2[128], w3[128];
    for (;;) {
        q[0] = '\0';
        switch (cls) {
        case C_TERM:
            if (!random_word(R, r, w1, sizeof w1, -1)) continue;
            snprintf(q, cap, "%s", w1);
            break;
        case C_AND:
        case C_OR:
        case C_NOT: {
            if (!random_word(R, r, w1, sizeof w1, -1) || !random_word(R, r, w2, sizeof w2, -1) ||
                !random_word(R, r, w3, sizeof w3, -1))
                continue;
            int v = (int)rnd(r, 3);
            if (cls == C_AND)
                snprintf(q, cap, v == 0 ? "%s %s" : v == 1 ? "%s AND %s" : "+%s +%s %s", w1, w2, w3);
            else if (cls == C_OR)
                snprintf(q, cap, v == 0 ? "%s OR %s" : v == 1 ? "%s OR %s OR %s" : "(%s OR %s) %s^2", w1, w2, w3);
            else
                snprintf(q, cap, v == 0 ? "%s -%s" : v == 1 ? "%s NOT %s" : "%s OR %s -%s", w1, w2, w3);
            break;
        }
        case C_PHRASE:
        case C_PROX: {
            spans sp = {0};
            const char *text = random_doc_tokens(R, r, &sp, -1);
            if (!text || sp.n < 3) {
                free(sp.v);
                continue;
            }
            uint32_t k = 2 + rnd(r, 2);
            uint32_t i = rnd(r, sp.n - k + 1);
            if (cls == C_PHRASE) {
                size_t a = sp.v[i].start, b = sp.v[i + k - 1].end;
                if (b - a > 200 || memchr(text + a, '"', b - a)) {
                    free(sp.v);
                    continue;
                }
                snprintf(q, cap, "\"%.*s\"", (int)(b - a), text + a);
            } else {
                uint32_t j = i + 1 + rnd(r, sp.n - i - 1 < 6 ? sp.n - i - 1 : 6);
                if (j >= sp.n) j = sp.n - 1;
                size_t l1 = sp.v[i].end - sp.v[i].start, l2 = sp.v[j].end - sp.v[j].start;
                const char *a = text + sp.v[i].start, *b = text + sp.v[j].start;
                if (l1 > 60 || l2 > 60 || !plain_word(a, l1) || !plain_word(b, l2)) {
                    free(sp.v);
                    continue;
                }
                uint32_t slop = rnd(r, 6);
                if (rnd(r, 2))
                    snprintf(q, cap, "\"%.*s %.*s\"~%u", (int)l1, a, (int)l2, b, slop);
                else
                    snprintf(q, cap, "%.*s NEAR/%u %.*s", (int)l1, a, slop, (int)l2, b);
            }
            free(sp.v);
            break;
        }
        case C_PREFIX: {
            if (!random_word(R, r, w1, sizeof w1, -1)) continue;
            size_t l = strlen(w1);
            size_t k = 2 + rnd(r, 4);
            if (k > l) k = l;
            while (k > 0 && ((unsigned char)w1[k] & 0xc0) == 0x80) k--;
            if (k == 0 || w1[k - 1] == '*') continue;
            w1[k] = '\0';
            if (rnd(r, 3) == 0) {
                if (!random_word(R, r, w2, sizeof w2, -1)) continue;
                snprintf(q, cap, "%s* %s", w1, w2);
            } else {
                snprintf(q, cap, "%s*", w1);
            }
            break;
        }
        case C_FUZZY:
            if (!random_word(R, r, w1, sizeof w1, -1)) continue;
            snprintf(q, cap, "%s~%u", w1, 1 + rnd(r, 2));
            break;
        case C_FIELD: {
            int v = (int)rnd(r, 4);
            if (v == 0) {
                if (!random_word(R, r, w1, sizeof w1, NX_F_TITLE)) continue;
                snprintf(q, cap, "title:%s", w1);
            } else if (v == 1) {
                if (!random_word(R, r, w1, sizeof w1, NX_F_BODY) || !random_word(R, r, w2, sizeof w2, -1))
                    continue;
                snprintf(q, cap, "body:%s OR title:%s", w1, w2);
            } else if (v == 2) {
                if (!random_word(R, r, w1, sizeof w1, NX_F_SOURCE) || !random_word(R, r, w2, sizeof w2, -1))
                    continue;
                snprintf(q, cap, "source:%s %s", w1, w2);
            } else {
                if (!random_word(R, r, w1, sizeof w1, NX_F_AUTHOR) || !random_word(R, r, w2, sizeof w2, -1) ||
                    !random_word(R, r, w3, sizeof w3, -1))
                    continue;
                snprintf(q, cap, "author:%s OR title:(%s %s)", w1, w2, w3);
            }
            break;
        }
        case C_AND_FIELD: {
            /* every term in one field: the engine's block-wise conjunction */
            int f = rnd(r, 4) == 0 ? NX_F_TITLE : NX_F_BODY;
            const char *fn = f == NX_F_TITLE ? "title" : "body";
            if (!random_word(R, r, w1, sizeof w1, f) || !random_word(R, r, w2, sizeof w2, f) ||
                !random_word(R, r, w3, sizeof w3, f))
                continue;
            int v = (int)rnd(r, 3);
            if (v == 0) snprintf(q, cap, "%s:%s %s:%s", fn, w1, fn, w2);
            else if (v == 1) snprintf(q, cap, "%s:%s AND %s:%s AND %s:%s", fn, w1, fn, w2, fn, w3);
            else snprintf(q, cap, "(%s:%s %s:%s)^2", fn, w1, fn, w2);
            break;
        }
        case C_DATE: {
            if (!random_word(R, r, w1, sizeof w1, -1)) continue;
            int m1 = 2 + (int)rnd(r, 9), d1 = 1 + (int)rnd(r, 28);
            int v = (int)rnd(r, 5);
            if (v == 0) snprintf(q, cap, "%s date:1987-%02d", w1, m1);
            else if (v == 1) snprintf(q, cap, "%s date:1987-%02d-%02d..1987-%02d-%02d", w1, m1, d1, m1 + 1, d1);
            else if (v == 2) snprintf(q, cap, "%s date:..1987-%02d", w1, m1);
            else if (v == 3) snprintf(q, cap, "%s date:1987-%02d-%02d..", w1, m1, d1);
            else snprintf(q, cap, "date:1987-%02d-%02d", m1, d1);
            break;
        }
        }
        return;
    }
}

/* ---- comparing engine and reference --------------------------------------------- */

typedef struct id_map {
    const ref *R;
    uint32_t *slots;
    uint32_t mask;
} id_map;

static void id_map_build(id_map *m, const ref *R) {
    m->R = R;
    m->mask = 1;
    while (m->mask < 2 * R->n_docs) m->mask <<= 1;
    m->slots = calloc(m->mask, sizeof *m->slots);
    m->mask--;
    for (uint32_t g = 0; g < R->n_docs; g++) {
        if (!R->docs[g].live) continue;
        uint32_t i = (uint32_t)nx_hash64(R->docs[g].id, strlen(R->docs[g].id)) & m->mask;
        while (m->slots[i]) i = (i + 1) & m->mask;
        m->slots[i] = g + 1;
    }
}

static int64_t id_map_get(const id_map *m, const char *id) {
    uint32_t i = (uint32_t)nx_hash64(id, strlen(id)) & m->mask;
    while (m->slots[i]) {
        if (strcmp(m->R->docs[m->slots[i] - 1].id, id) == 0) return m->slots[i] - 1;
        i = (i + 1) & m->mask;
    }
    return -1;
}

typedef struct refres {
    rhit *h;
    uint32_t n;     /* live matches */
    double *by_g;   /* score per g, NAN when not matching */
} refres;

static void ref_run(const ref *R, const newsidx_query *q, refres *out) {
    rctx C = {R, {2.0, 1.0, 1.0, 1.0, 1.0}, q->opts.max_expansions};
    rset s = ref_eval(&C, q->root);
    out->h = malloc((s.n + 1) * sizeof *out->h);
    out->n = 0;
    out->by_g = malloc(R->n_docs * sizeof *out->by_g);
    for (uint32_t g = 0; g < R->n_docs; g++) out->by_g[g] = NAN;
    for (uint32_t i = 0; i < s.n; i++) {
        if (!R->docs[s.g[i]].live) continue;
        out->h[out->n++] = (rhit){s.g[i], s.s[i]};
        out->by_g[s.g[i]] = s.s[i];
    }
    qsort(out->h, out->n, sizeof *out->h, cmp_rhit);
    rset_free(&s);
}

static void refres_free(refres *r) {
    free(r->h);
    free(r->by_g);
}

/* Engine top-k against reference: same total, same scores rank by rank,
 * and every returned id is a reference match with that score (ids may
 * differ only inside exact ties). */
static void compare(const char *qtext, const newsidx_results *res, const refres *rr, const id_map *ids,
                    bool exact_total, uint32_t k) {
    if (exact_total)
        ck_assert_msg(newsidx_results_total(res) == rr->n, "[%s]: total %llu, reference %u", qtext,
                      (unsigned long long)newsidx_results_total(res), rr->n);
    size_t n = newsidx_results_count(res);
    uint32_t want = rr->n < k ? rr->n : k;
    ck_assert_msg(n == want, "[%s]: %zu hits, reference %u", qtext, n, want);
    for (size_t i = 0; i < n; i++) {
        double es = newsidx_hit_score(res, i), rs = rr->h[i].s;
        ck_assert_msg(fabs(es - rs) <= 1e-6, "[%s]: rank %zu score %.9f, reference %.9f (%s vs %s)", qtext, i,
                      es, rs, newsidx_hit_id(res, i), ids->R->docs[rr->h[i].g].id);
        int64_t g = id_map_get(ids, newsidx_hit_id(res, i));
        ck_assert_msg(g >= 0, "[%s]: unknown id %s", qtext, newsidx_hit_id(res, i));
        double s = rr->by_g[g];
        ck_assert_msg(!isnan(s) && fabs(s - es) <= 1e-6, "[%s]: hit %s score %.9f, reference %.9f", qtext,
                      newsidx_hit_id(res, i), es, s);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(newsidx_hit_id(res, j), newsidx_hit_id(res, i)) != 0, "[%s]: duplicate hit", qtext);
    }
}

static newsidx_query *parse_ok(const newsidx_reader *r, const char *text) {
    newsidx_query *q = NULL;
    char err[256];
    size_t col;
    int rc = newsidx_query_parse(r, text, strlen(text), NULL, &col, err, sizeof err, &q);
    ck_assert_msg(rc == 0, "[%s]: %s", text, err);
    return q;
}

static newsidx_results *search_ok(const newsidx_reader *r, const newsidx_query *q, const newsidx_search_options *o) {
    newsidx_results *res = NULL;
    int rc = newsidx_search(r, q, o, &res);
    ck_assert_msg(rc == 0, "search failed: %s", newsidx_strerror(rc));
    return res;
}

static void run_class_n(int cls, int n_queries) {
    setup_indexes();
    const ref *R = &ref_one;
    id_map ids;
    id_map_build(&ids, R);
    rng r = {0x9e3779b97f4a7c15ull ^ (uint64_t)(cls + 1) * 0x100000001b3ull};
    uint64_t nonzero = 0;
    for (int i = 0; i < n_queries; i++) {
        char text[512];
        gen_query(R, &r, cls, text, sizeof text);
        newsidx_query *q = parse_ok(reader_one, text);
        refres rr;
        ref_run(R, q, &rr);
        nonzero += rr.n > 0;

        newsidx_search_options o;
        newsidx_search_options_init(&o);
        o.snippets = 0;
        o.fields = "";
        newsidx_results *res = search_ok(reader_one, q, &o);
        compare(text, res, &rr, &ids, true, TOPK);
        newsidx_results_free(res);

        /* block-max pruning (total not exact) must not change the top k */
        o.exact_total = 0;
        res = search_ok(reader_one, q, &o);
        compare(text, res, &rr, &ids, false, TOPK);
        newsidx_results_free(res);

        /* counting alone */
        o.exact_total = 1;
        o.count_only = 1;
        res = search_ok(reader_one, q, &o);
        ck_assert_uint_eq(newsidx_results_total(res), rr.n);
        ck_assert_uint_eq(newsidx_results_count(res), 0);
        newsidx_results_free(res);

        refres_free(&rr);
        newsidx_query_free(q);
    }
    fprintf(stderr, "class %-9s: %d queries, %llu with matches: engine == reference\n", class_names[cls],
            n_queries, (unsigned long long)nonzero);
    /* the generated queries must mostly match something, or the test proves little */
    ck_assert_uint_ge(nonzero, cls == C_DATE || cls == C_NOT ? (unsigned)n_queries / 4 : (unsigned)n_queries / 2);
    free(ids.slots);
}

static void run_class(int cls) { run_class_n(cls, QUERIES_PER_CLASS); }

START_TEST(test_term_queries_equal_the_reference) { run_class(C_TERM); }
END_TEST
START_TEST(test_and_queries_equal_the_reference) { run_class(C_AND); }
END_TEST
START_TEST(test_or_queries_equal_the_reference) { run_class(C_OR); }
END_TEST
START_TEST(test_not_queries_equal_the_reference) { run_class(C_NOT); }
END_TEST
START_TEST(test_phrase_queries_equal_the_reference) { run_class(C_PHRASE); }
END_TEST
START_TEST(test_proximity_queries_equal_the_reference) { run_class(C_PROX); }
END_TEST
START_TEST(test_prefix_queries_equal_the_reference) { run_class(C_PREFIX); }
END_TEST
START_TEST(test_field_queries_equal_the_reference) { run_class(C_FIELD); }
END_TEST
START_TEST(test_single_field_and_queries_equal_the_reference) { run_class(C_AND_FIELD); }
END_TEST
START_TEST(test_date_range_queries_equal_the_reference) { run_class(C_DATE); }
END_TEST

/* Fuzzy words walk the whole dictionary per query: fewer of them. */
START_TEST(test_fuzzy_queries_equal_the_reference) { run_class_n(C_FUZZY, SANITIZED ? 100 : 300); }
END_TEST

/* score * 1 / (1 + age / halflife), age from the newest article in the
 * index; undated articles get 0.5. */
START_TEST(test_recency_boost_divides_by_age_in_half_lives) {
    setup_indexes();
    const ref *R = &ref_one;
    id_map ids;
    id_map_build(&ids, R);
    int64_t newest = NX_NO_DATE;
    for (uint32_t g = 0; g < R->n_docs; g++)
        if (R->docs[g].date > newest) newest = R->docs[g].date;
    const char *queries[] = {"oil", "computer OR oil", "bank rates"};
    for (size_t qi = 0; qi < sizeof queries / sizeof *queries; qi++) {
        newsidx_query *q = parse_ok(reader_one, queries[qi]);
        refres rr;
        ref_run(R, q, &rr);
        /* the reference ranking with the boost */
        for (uint32_t i = 0; i < rr.n; i++) {
            int64_t d = R->docs[rr.h[i].g].date;
            double f = d == NX_NO_DATE ? 0.5 : 1.0 / (1.0 + (double)(newest - d) / (30.0 * 86400.0));
            rr.h[i].s *= f;
            rr.by_g[rr.h[i].g] = rr.h[i].s;
        }
        qsort(rr.h, rr.n, sizeof *rr.h, cmp_rhit);
        for (int pruned = 0; pruned < 2; pruned++) {
            newsidx_search_options o;
            newsidx_search_options_init(&o);
            o.recency_halflife_days = 30;
            o.snippets = 0;
            o.exact_total = !pruned;
            newsidx_results *res = search_ok(reader_one, q, &o);
            compare(queries[qi], res, &rr, &ids, !pruned, TOPK);
            newsidx_results_free(res);
        }
        refres_free(&rr);
        newsidx_query_free(q);
    }
    free(ids.slots);
}
END_TEST

START_TEST(test_reference_statistics_equal_the_index_statistics) {
    setup_indexes();
    const nx_snapshot *snap = nx_reader_snapshot(reader_one);
    ck_assert_uint_eq(snap->total_docs, ref_one.n_docs);
    for (int f = 0; f < NX_N_FIELDS; f++) {
        ck_assert_uint_eq(snap->field_docs[f], ref_one.field_docs[f]);
        ck_assert_uint_eq(snap->field_tokens[f], ref_one.field_tokens[f]);
    }
    uint32_t dead = 0;
    for (uint32_t g = 0; g < ref_one.n_docs; g++) dead += !ref_one.docs[g].live;
    ck_assert_uint_eq(dead, 50);
}
END_TEST

/* Scores use global statistics: the same articles split into many segments
 * give the same totals and, per id, the same scores. */
START_TEST(test_scores_do_not_depend_on_the_segment_split) {
    setup_indexes();
    const nx_snapshot *split = nx_reader_snapshot(reader_split);
    ck_assert_uint_ge(split->n_segments, 4);
    fprintf(stderr, "split index: %u segments\n", split->n_segments);
    id_map ids;
    id_map_build(&ids, &ref_one);
    rng r = {42};
    for (int i = 0; i < 400; i++) {
        char text[512];
        gen_query(&ref_one, &r, i % 9, text, sizeof text);
        newsidx_query *q = parse_ok(reader_split, text);
        refres rr;
        ref_run(&ref_one, q, &rr);
        newsidx_search_options o;
        newsidx_search_options_init(&o);
        o.snippets = 0;
        o.k = 20;
        newsidx_results *res = search_ok(reader_split, q, &o);
        ck_assert_msg(newsidx_results_total(res) == rr.n, "[%s] total", text);
        for (size_t h = 0; h < newsidx_results_count(res); h++) {
            int64_t g = id_map_get(&ids, newsidx_hit_id(res, h));
            ck_assert(g >= 0);
            ck_assert_msg(fabs(rr.by_g[g] - newsidx_hit_score(res, h)) <= 1e-6, "[%s] %s: %.9f vs %.9f", text,
                          newsidx_hit_id(res, h), newsidx_hit_score(res, h), rr.by_g[g]);
            if (h < rr.n && h < 20) ck_assert(fabs(rr.h[h].s - newsidx_hit_score(res, h)) <= 1e-6);
        }
        newsidx_results_free(res);
        o.exact_total = 0;
        res = search_ok(reader_split, q, &o);
        for (size_t h = 0; h < newsidx_results_count(res); h++)
            ck_assert(fabs(rr.h[h].s - newsidx_hit_score(res, h)) <= 1e-6);
        newsidx_results_free(res);
        refres_free(&rr);
        newsidx_query_free(q);
    }
    free(ids.slots);
}
END_TEST

START_TEST(test_replaced_articles_never_match) {
    setup_indexes();
    /* the replacement's title adds "replaced edition"; the old copy is deleted */
    newsidx_query *q = parse_ok(reader_one, "\"replaced edition\"");
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.k = 100;
    newsidx_results *res = search_ok(reader_one, q, &o);
    ck_assert_uint_eq(newsidx_results_total(res), 50);
    newsidx_results_free(res);
    newsidx_query_free(q);
}
END_TEST

typedef struct dkey {
    int64_t key;
    double s;       /* the reference's score */
    const char *id;
    uint32_t g;
} dkey;
/* The documented date order (include/newsidx.h, NEWSIDX_SORT_*): date key,
 * then the higher score, then the smaller id. Scores within the
 * reference's tolerance count as equal: the reference does not quantize
 * lengths as the index's norms do, so two articles the engine scores alike
 * may differ here in the last digits. */
static int cmp_dkey(const void *a, const void *b) {
    const dkey *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    if (fabs(x->s - y->s) > 1e-6) return x->s > y->s ? -1 : 1;
    return strcmp(x->id, y->id);
}

START_TEST(test_date_sort_orders_newest_or_oldest_first_with_undated_last) {
    setup_indexes();
    const ref *R = &ref_one;
    const char *queries[] = {"oil", "said", "bank OR trade", "-the", "computer", "\"interest rates\"",
                             "game OR oil"};
    for (int split = 0; split < 2; split++) {
        newsidx_reader *rd = split ? reader_split : reader_one;
        for (size_t qi = 0; qi < sizeof queries / sizeof *queries; qi++) {
            newsidx_query *q = parse_ok(rd, queries[qi]);
            refres rr;
            ref_run(R, q, &rr);
            for (int dir = 0; dir < 2; dir++) {
                /* the reference order, the same for both indexes: the order
                 * does not depend on how the articles were split */
                dkey *want = malloc((rr.n + 1) * sizeof *want);
                for (uint32_t i = 0; i < rr.n; i++) {
                    uint32_t g = rr.h[i].g;
                    int64_t d = R->docs[g].date;
                    want[i] = (dkey){d == NX_NO_DATE ? INT64_MIN : dir ? -d : d, rr.h[i].s, R->docs[g].id, g};
                }
                qsort(want, rr.n, sizeof *want, cmp_dkey);
                for (int exact = 0; exact < 2; exact++) {
                    newsidx_search_options o;
                    newsidx_search_options_init(&o);
                    o.sort = dir ? NEWSIDX_SORT_DATE_ASC : NEWSIDX_SORT_DATE_DESC;
                    o.k = 30;
                    o.snippets = 0;
                    o.exact_total = exact;
                    newsidx_results *res = search_ok(rd, q, &o);
                    if (exact) ck_assert_uint_eq(newsidx_results_total(res), rr.n);
                    ck_assert_uint_eq(newsidx_results_count(res), rr.n < 30 ? rr.n : 30);
                    for (size_t h = 0; h < newsidx_results_count(res); h++) {
                        const char *id = newsidx_hit_id(res, h);
                        uint32_t g = 0;
                        while (strcmp(R->docs[g].id, id) != 0 || !R->docs[g].live) g++;
                        ck_assert(!isnan(rr.by_g[g]));
                        ck_assert(fabs(rr.by_g[g] - newsidx_hit_score(res, h)) <= 1e-6);
                        int64_t d = R->docs[g].date;
                        int64_t key = d == NX_NO_DATE ? INT64_MIN : dir ? -d : d;
                        ck_assert_msg(key == want[h].key, "[%s] rank %zu: date key %lld, want %lld", queries[qi],
                                      h, (long long)key, (long long)want[h].key);
                        ck_assert_msg(g == want[h].g, "[%s] rank %zu: %s, want %s", queries[qi], h, id,
                                      R->docs[want[h].g].id);
                    }
                    newsidx_results_free(res);
                }
                free(want);
            }
            refres_free(&rr);
            newsidx_query_free(q);
        }
    }
}
END_TEST

START_TEST(test_offset_pages_through_the_same_ranking) {
    setup_indexes();
    newsidx_query *q = parse_ok(reader_one, "oil OR gas");
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.k = 30;
    o.snippets = 0;
    newsidx_results *all = search_ok(reader_one, q, &o);
    o.k = 10;
    o.offset = 20;
    newsidx_results *page = search_ok(reader_one, q, &o);
    ck_assert_uint_eq(newsidx_results_count(page), 10);
    for (size_t i = 0; i < 10; i++) ck_assert_str_eq(newsidx_hit_id(page, i), newsidx_hit_id(all, 20 + i));
    newsidx_results_free(all);
    newsidx_results_free(page);
    newsidx_query_free(q);
}
END_TEST

START_TEST(test_facets_count_the_whole_matching_set) {
    setup_indexes();
    const ref *R = &ref_one;
    const char *queries[] = {"oil", "computer OR game", "-the", "date:1987-03"};
    for (size_t qi = 0; qi < sizeof queries / sizeof *queries; qi++) {
        newsidx_query *q = parse_ok(reader_one, queries[qi]);
        refres rr;
        ref_run(R, q, &rr);
        newsidx_search_options o;
        newsidx_search_options_init(&o);
        o.facets = NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR | NEWSIDX_FACET_MONTH;
        o.snippets = 0;
        newsidx_results *res = search_ok(reader_one, q, &o);
        ck_assert_uint_eq(newsidx_results_total(res), rr.n);
        /* per source */
        uint64_t with_source = 0, sum = 0, prev = UINT64_MAX;
        for (uint32_t i = 0; i < rr.n; i++) with_source += R->docs[rr.h[i].g].source_label != NULL;
        for (size_t j = 0; j < newsidx_facet_count(res, NEWSIDX_FACET_SOURCE); j++) {
            const char *label;
            uint64_t c;
            ck_assert_int_eq(newsidx_facet_value(res, NEWSIDX_FACET_SOURCE, j, &label, &c), 0);
            ck_assert_uint_le(c, prev);
            prev = c;
            uint64_t want = 0;
            for (uint32_t i = 0; i < rr.n; i++) {
                const char *s = R->docs[rr.h[i].g].source_label;
                want += s && strcmp(s, label) == 0;
            }
            ck_assert_msg(c == want, "[%s] source %s: %llu vs %llu", queries[qi], label, (unsigned long long)c,
                          (unsigned long long)want);
            sum += c;
        }
        ck_assert_uint_eq(sum, with_source);
        /* per month and year */
        uint64_t dated = 0;
        for (uint32_t i = 0; i < rr.n; i++) dated += R->docs[rr.h[i].g].date != NX_NO_DATE;
        uint64_t msum = 0, ysum = 0;
        for (size_t j = 0; j < newsidx_facet_count(res, NEWSIDX_FACET_MONTH); j++) {
            const char *label;
            uint64_t c;
            newsidx_facet_value(res, NEWSIDX_FACET_MONTH, j, &label, &c);
            int64_t lo, hi;
            ck_assert_int_eq(nx_query_date_period(label, strlen(label), &lo, &hi), 0);
            uint64_t want = 0;
            for (uint32_t i = 0; i < rr.n; i++) {
                int64_t d = R->docs[rr.h[i].g].date;
                want += d != NX_NO_DATE && d >= lo && d <= hi;
            }
            ck_assert_uint_eq(c, want);
            msum += c;
        }
        for (size_t j = 0; j < newsidx_facet_count(res, NEWSIDX_FACET_YEAR); j++) {
            uint64_t c;
            newsidx_facet_value(res, NEWSIDX_FACET_YEAR, j, NULL, &c);
            ysum += c;
        }
        ck_assert_uint_eq(msum, dated);
        ck_assert_uint_eq(ysum, dated);
        ck_assert_int_eq(newsidx_facet_value(res, NEWSIDX_FACET_MONTH, 100000, NULL, NULL), NEWSIDX_ERR_NOT_FOUND);
        newsidx_results_free(res);
        refres_free(&rr);
        newsidx_query_free(q);
    }
}
END_TEST

typedef struct hl_check {
    const char *field;
    const nx_hlterms *ht;
    size_t s, e;
    bool found;
} hl_check;

static int on_hl_token(void *ctx, const newsidx_token *t) {
    hl_check *c = ctx;
    if (t->start == c->s && t->end == c->e) c->found = true;
    return 0;
}

START_TEST(test_snippets_highlight_query_words_at_original_offsets) {
    setup_indexes();
    const char *queries[] = {"oil prices", "\"interest rates\"", "bank*", "Traoré OR computer", "growth~1"};
    for (size_t qi = 0; qi < sizeof queries / sizeof *queries; qi++) {
        newsidx_query *q = parse_ok(reader_one, queries[qi]);
        newsidx_search_options o;
        newsidx_search_options_init(&o);
        o.snippets = 2;
        o.snippet_bytes = 160;
        o.fields = "*";
        newsidx_results *res = search_ok(reader_one, q, &o);
        size_t with_hl = 0;
        for (size_t i = 0; i < newsidx_results_count(res); i++) {
            ck_assert_uint_ge(newsidx_hit_snippet_count(res, i), 1);
            ck_assert_uint_le(newsidx_hit_snippet_count(res, i), 2);
            for (size_t j = 0; j < newsidx_hit_snippet_count(res, i); j++) {
                const newsidx_snippet *sn = newsidx_hit_snippet(res, i, j);
                const newsidx_field *f = newsidx_hit_field(res, i, sn->field);
                ck_assert_ptr_nonnull(f);
                ck_assert_uint_le(sn->field_start + sn->text_len, f->value_len);
                ck_assert(memcmp(f->value + sn->field_start, sn->text, sn->text_len) == 0);
                ck_assert_uint_eq(strlen(sn->text), sn->text_len);
                /* cut at character boundaries */
                ck_assert((((unsigned char)sn->text[0]) & 0xc0) != 0x80);
                if (sn->field_start + sn->text_len < f->value_len)
                    ck_assert((((unsigned char)f->value[sn->field_start + sn->text_len]) & 0xc0) != 0x80);
                ck_assert_uint_le(sn->text_len, 160 + 200); /* a window never much longer than asked */
                with_hl += sn->n_highlights > 0;
                for (size_t h = 0; h < sn->n_highlights; h++) {
                    size_t s = sn->highlights[h][0], e = sn->highlights[h][1];
                    ck_assert(s < e && s >= sn->field_start && e <= sn->field_start + sn->text_len);
                    if (h) ck_assert_uint_ge(s, sn->highlights[h - 1][1]);
                    /* the span is exactly one analyzed word of the field */
                    hl_check c = {sn->field, NULL, s, e, false};
                    newsidx_analyze(ref_one.an, f->value, f->value_len, on_hl_token, &c);
                    ck_assert(c.found);
                }
            }
        }
        if (newsidx_results_count(res)) ck_assert_uint_ge(with_hl, 1);
        newsidx_results_free(res);
        newsidx_query_free(q);
    }
}
END_TEST

/* ---- threads ------------------------------------------------------------------ */

#define THREAD_QUERIES 150
typedef struct thread_arg {
    char (*queries)[512];
    char **expect; /* per query: "total|id:score|..." */
    int failures;
} thread_arg;

static char *summarize(const newsidx_reader *r, const char *text) {
    newsidx_query *q = parse_ok(r, text);
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.snippets = 1;
    newsidx_results *res = NULL;
    if (newsidx_search(r, q, &o, &res) != 0) {
        newsidx_query_free(q);
        return strdup("error");
    }
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    len += (size_t)snprintf(s + len, cap - len, "%llu", (unsigned long long)newsidx_results_total(res));
    for (size_t i = 0; i < newsidx_results_count(res) && len < cap - 200; i++) {
        const newsidx_snippet *sn = newsidx_hit_snippet(res, i, 0);
        len += (size_t)snprintf(s + len, cap - len, "|%s:%.9f:%zu", newsidx_hit_id(res, i), newsidx_hit_score(res, i),
                                sn ? sn->field_start : 0);
    }
    newsidx_results_free(res);
    newsidx_query_free(q);
    return s;
}

static void *thread_main(void *p) {
    thread_arg *a = p;
    for (int i = 0; i < THREAD_QUERIES; i++) {
        char *s = summarize(reader_split, a->queries[i]);
        if (strcmp(s, a->expect[i]) != 0) a->failures++;
        free(s);
    }
    return NULL;
}

START_TEST(test_threads_sharing_a_reader_get_the_results_of_one_thread) {
    setup_indexes();
    char(*queries)[512] = malloc(THREAD_QUERIES * sizeof *queries);
    char **expect = malloc(THREAD_QUERIES * sizeof *expect);
    rng r = {7};
    for (int i = 0; i < THREAD_QUERIES; i++) {
        gen_query(&ref_one, &r, i % 9, queries[i], sizeof queries[i]);
        expect[i] = summarize(reader_split, queries[i]);
    }
    enum { NT = 4 };
    pthread_t t[NT];
    thread_arg args[NT];
    for (int i = 0; i < NT; i++) {
        args[i] = (thread_arg){queries, expect, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(args[i].failures, 0);
    }
    for (int i = 0; i < THREAD_QUERIES; i++) free(expect[i]);
    free(expect);
    free(queries);
}
END_TEST

/* A writer on an empty index at dir (removed first); wo may be NULL. */
static newsidx_writer *fresh_writer(const char *dir, const newsidx_writer_options *wo) {
    char cmd[256], err[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    newsidx_writer *w;
    ck_assert_msg(newsidx_writer_open(dir, wo, err, sizeof err, &w) == 0, "%s", err);
    return w;
}

/* Phrase matching past the two-word bitmap (positions >= 8192), and longer
 * phrases whose rarest word is too frequent in the doc for the candidate
 * array: both fall back to merges that must count the same. */
static char *long_body(const char *early, const char *late, uint32_t n_words) {
    size_t cap = (size_t)n_words * 8 + 64, len = 0;
    char *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    for (uint32_t i = 0; i < n_words; i++) {
        const char *w = i == 5 && early ? early : i == 9000 && late ? late : "lorem";
        len += (size_t)snprintf(b + len, cap - len, "%s ", w);
    }
    return b;
}

START_TEST(test_phrases_in_long_documents_and_with_frequent_words) {
    const char *dir = "test_search_longdoc.idx";
    char err[512];
    newsidx_writer *w = fresh_writer(dir, NULL);
    /* twice: early and past position 8192; once: only late; once: only early */
    char *twice = long_body("zork plugh", "zork plugh", 10000);
    char *late = long_body(NULL, "zork plugh", 10000);
    char *early = long_body("zork plugh", NULL, 10000);
    char triples[70 * 18 + 1] = "", near_miss[70 * 18 + 1] = "";
    for (int i = 0; i < 70; i++) {
        strcat(triples, "gamma gamma delta ");
        strcat(near_miss, "gamma delta delta ");
    }
    article a[] = {{"twice", "t", twice, NULL, NULL, NULL},      {"late", "t", late, NULL, NULL, NULL},
                   {"early", "t", early, NULL, NULL, NULL},      {"triples", "t", triples, NULL, NULL, NULL},
                   {"near_miss", "t", near_miss, NULL, NULL, NULL}};
    for (size_t i = 0; i < sizeof a / sizeof *a; i++) add_article(w, &a[i], NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    free(twice);
    free(late);
    free(early);
    newsidx_reader *r;
    ck_assert_int_eq(newsidx_reader_open(dir, err, sizeof err, &r), 0);

    const char *qs[] = {"\"zork plugh\"", "\"gamma gamma delta\"", "\"gamma delta delta\"", "\"delta gamma gamma\""};
    const uint64_t totals[] = {3, 1, 1, 1};
    const char *top[] = {"twice", "triples", "near_miss", "triples"};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        newsidx_query *q = parse_ok(r, qs[i]);
        for (int mode = 0; mode < 3; mode++) {
            newsidx_search_options o;
            newsidx_search_options_init(&o);
            o.snippets = 0;
            o.fields = "";
            o.exact_total = mode != 1;
            o.count_only = mode == 2;
            newsidx_results *res = search_ok(r, q, &o);
            if (mode != 1) ck_assert_uint_eq(newsidx_results_total(res), totals[i]);
            if (mode != 2) ck_assert_str_eq(newsidx_hit_id(res, 0), top[i]);
            if (mode == 0 && i == 0) {
                /* one length: the phrase twice scores above once, and
                 * once early or once late score the same */
                ck_assert_uint_eq(newsidx_results_count(res), 3);
                ck_assert(newsidx_hit_score(res, 0) > newsidx_hit_score(res, 1));
                ck_assert(newsidx_hit_score(res, 1) == newsidx_hit_score(res, 2));
            }
            newsidx_results_free(res);
        }
        newsidx_query_free(q);
    }
    newsidx_reader_close(r);
}
END_TEST

/* Phrase totals over lists of many blocks, in a segment with deleted docs:
 * counting (window by window over the words' blocks) and the exact total
 * of a top-k search agree with the totals known by construction, also when
 * the rarest word's docs lie far apart in another word's block. */
START_TEST(test_phrase_totals_over_many_blocks_with_deletions) {
    const char *dir = "test_search_phrcount.idx";
    char err[512];
    newsidx_writer *w = fresh_writer(dir, NULL);
    enum { N = 6000 };
    for (int i = 0; i < N; i++) {
        char id[16], body[256];
        snprintf(id, sizeof id, "d%d", i);
        static const char *const base[3] = {"alpha beta filler", "beta filler alpha", "filler alpha"};
        snprintf(body, sizeof body, "%s%s%s%s", base[i % 3],
                 i % 1000 == 0 ? " omega alpha beta" : i % 1000 == 500 ? " omega beta alpha" : "",
                 i % 100 == 0 ? " kappa lambda" : i % 50 == 0 ? " lambda kappa" : "",
                 i % 2500 == 0 ? " sigma kappa lambda" : "");
        article a = {id, "t", body, NULL, NULL, NULL};
        add_article(w, &a, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    /* replaced (deleted in the first segment): d0, d3, ..., d597 */
    for (int i = 0; i < 600; i += 3) {
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        article a = {id, "t", "filler", NULL, NULL, NULL};
        add_article(w, &a, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r;
    ck_assert_int_eq(newsidx_reader_open(dir, err, sizeof err, &r), 0);
    const char *qs[] = {"\"alpha beta\"", "\"omega alpha beta\"", "\"kappa lambda\"",
                        "\"sigma kappa lambda\"", "\"beta alpha\""};
    /* alpha beta: i % 3 == 0 from 600 on, and d1000, d2000, d4000, d5000;
     * kappa lambda: i % 100 == 0 but d0 and d300 */
    const uint64_t totals[] = {1800 + 4, 5, 58, 2, 6};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        newsidx_query *q = parse_ok(r, qs[i]);
        for (int mode = 0; mode < 2; mode++) {
            newsidx_search_options o;
            newsidx_search_options_init(&o);
            o.snippets = 0;
            o.fields = "";
            o.exact_total = 1;
            o.count_only = mode == 1;
            newsidx_results *res = search_ok(r, q, &o);
            ck_assert_msg(newsidx_results_total(res) == totals[i], "[%s] mode %d: total %llu, want %llu",
                          qs[i], mode, (unsigned long long)newsidx_results_total(res),
                          (unsigned long long)totals[i]);
            newsidx_results_free(res);
        }
        newsidx_query_free(q);
    }
    newsidx_reader_close(r);
}
END_TEST

/* With stopwords, the query analyzer drops them too and a phrase keeps
 * their gaps: "bank of england" matches bank, one word, england. */
typedef struct seq_ctx {
    uint32_t pos_bank[4096], pos_england[4096];
    uint32_t nb, ne;
} seq_ctx;
static int on_seq(void *ctx, const newsidx_token *t) {
    seq_ctx *c = ctx;
    if (t->term_len == 4 && memcmp(t->term, "bank", 4) == 0 && c->nb < 4096) c->pos_bank[c->nb++] = t->position;
    if (t->term_len == 7 && memcmp(t->term, "england", 7) == 0 && c->ne < 4096)
        c->pos_england[c->ne++] = t->position;
    return 0;
}

START_TEST(test_stopwords_are_dropped_from_queries_and_phrases_keep_their_gaps) {
    corpus *c = the_corpus();
    const char *dir = "test_search_stop.idx";
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    wo.stopwords_language = "english";
    newsidx_writer *w = fresh_writer(dir, &wo);
    char err[512];
    size_t n = c->n < 6000 ? c->n : 6000;
    for (size_t i = 0; i < n; i++) add_article(w, &c->a[i], NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r;
    ck_assert_int_eq(newsidx_reader_open(dir, err, sizeof err, &r), 0);

    newsidx_query *q = parse_ok(r, "the");
    char dump[256];
    nx_query_dump(q->root, dump, sizeof dump);
    ck_assert_str_eq(dump, "none");
    newsidx_query_free(q);
    q = parse_ok(r, "\"Bank of England\"");
    nx_query_dump(q->root, dump, sizeof dump);
    ck_assert_str_eq(dump, "\"bank england\"@0,2");

    /* count articles with bank at p and england at p + 2 in title or body */
    newsidx_analyzer_options ao;
    newsidx_analyzer_options_init(&ao);
    ao.stopwords_language = "english";
    newsidx_analyzer *an;
    ck_assert_int_eq(newsidx_analyzer_create(&ao, &an), 0);
    uint64_t want = 0;
    for (size_t i = 0; i < n; i++) {
        bool hit = false;
        const char *fields[2] = {c->a[i].title, c->a[i].body};
        for (int f = 0; f < 2 && !hit; f++) {
            if (!fields[f]) continue;
            seq_ctx sc = {.nb = 0, .ne = 0};
            newsidx_analyze(an, fields[f], strlen(fields[f]), on_seq, &sc);
            for (uint32_t a = 0; a < sc.nb && !hit; a++)
                for (uint32_t b = 0; b < sc.ne && !hit; b++) hit = sc.pos_england[b] == sc.pos_bank[a] + 2;
        }
        want += hit;
    }
    newsidx_analyzer_free(an);
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    newsidx_results *res = search_ok(r, q, &o);
    ck_assert_uint_gt(want, 10);
    ck_assert_uint_eq(newsidx_results_total(res), want);
    newsidx_results_free(res);
    newsidx_query_free(q);
    newsidx_reader_close(r);
}
END_TEST

START_TEST(test_search_rejects_bad_arguments) {
    setup_indexes();
    newsidx_query *q = parse_ok(reader_one, "oil");
    newsidx_results *res = NULL;
    ck_assert_int_eq(newsidx_search(NULL, q, NULL, &res), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_search(reader_one, NULL, NULL, &res), NEWSIDX_ERR_INVALID);
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.sort = 7;
    ck_assert_int_eq(newsidx_search(reader_one, q, &o, &res), NEWSIDX_ERR_INVALID);
    char err[256] = "";
    o.errbuf = err;
    o.errbuf_size = sizeof err;
    ck_assert_int_eq(newsidx_search(reader_one, q, &o, &res), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(err, "sort") != NULL, "%s", err);
    newsidx_search_options_init(&o);
    o.k = 2000000;
    o.errbuf = err;
    o.errbuf_size = sizeof err;
    ck_assert_int_eq(newsidx_search(reader_one, q, &o, &res), NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_null(res);
    ck_assert_msg(strstr(err, "k + offset (2000000)") != NULL, "%s", err);
    ck_assert_ptr_null(newsidx_hit_id(NULL, 0));
    ck_assert_uint_eq(newsidx_results_total(NULL), 0);
    newsidx_results_free(NULL);
    newsidx_query_free(q);
}
END_TEST

START_TEST(test_expansions_beyond_max_clauses_give_err_limit) {
    setup_indexes();
    newsidx_query_options qo;
    newsidx_query_options_init(&qo);
    qo.max_clauses = 50;
    newsidx_query *q = NULL;
    ck_assert_int_eq(newsidx_query_parse(reader_one, "s*", 2, &qo, NULL, NULL, 0, &q), 0);
    newsidx_results *res = NULL;
    ck_assert_int_eq(newsidx_search(reader_one, q, NULL, &res), NEWSIDX_ERR_LIMIT);
    /* the message says which limit, per call */
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    char err[256] = "";
    o.errbuf = err;
    o.errbuf_size = sizeof err;
    ck_assert_int_eq(newsidx_search(reader_one, q, &o, &res), NEWSIDX_ERR_LIMIT);
    ck_assert_msg(strstr(err, "max_clauses (50)") != NULL, "%s", err);
    newsidx_query_free(q);
}
END_TEST

/* Highlights follow the query's field scope: a title: word is not
 * highlighted in the body's snippet, an unscoped one is. */
static size_t highlights_of(const newsidx_reader *r, const char *query, const char *want_word) {
    newsidx_query *q = parse_ok(r, query);
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.snippets = 1;
    o.fields = "body";
    newsidx_results *res = search_ok(r, q, &o);
    ck_assert_uint_eq(newsidx_results_count(res), 1);
    const newsidx_snippet *sn = newsidx_hit_snippet(res, 0, 0);
    ck_assert_ptr_nonnull(sn);
    ck_assert_str_eq(sn->field, "body");
    const newsidx_field *body = newsidx_hit_field(res, 0, "body");
    size_t n = 0, wl = strlen(want_word);
    for (size_t h = 0; h < sn->n_highlights; h++) {
        size_t s = sn->highlights[h][0], e = sn->highlights[h][1];
        n += e - s == wl && strncasecmp(body->value + s, want_word, wl) == 0;
    }
    newsidx_results_free(res);
    newsidx_query_free(q);
    return n;
}

START_TEST(test_highlights_follow_the_field_scope) {
    const char *dir = "test_search_hlscope.idx";
    newsidx_writer *w = fresh_writer(dir, NULL);
    char err[512];
    newsidx_field a[] = {{"id", "a1", 2},
                         {"title", "Oil report", 10},
                         {"body", "Oil prices rose while oil output fell.", 38}};
    newsidx_field b[] = {{"id", "b1", 2}, {"title", "Weather", 7}, {"body", "Rain and prices.", 16}};
    ck_assert_int_eq(newsidx_writer_add(w, a, 3, NULL), 0);
    ck_assert_int_eq(newsidx_writer_add(w, b, 3, NULL), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r;
    ck_assert_int_eq(newsidx_reader_open(dir, err, sizeof err, &r), 0);
    ck_assert_uint_eq(highlights_of(r, "title:oil prices", "oil"), 0);
    ck_assert_uint_eq(highlights_of(r, "title:oil prices", "prices"), 1);
    ck_assert_uint_eq(highlights_of(r, "oil prices", "oil"), 2);
    ck_assert_uint_eq(highlights_of(r, "body:oil", "oil"), 2);
    ck_assert_uint_eq(highlights_of(r, "title:(oil report) body:output", "oil"), 0);
    ck_assert_uint_eq(highlights_of(r, "title:(oil report) body:output", "output"), 1);
    newsidx_reader_close(r);
}
END_TEST

START_TEST(test_cli_prints_hits_json_count_and_caret_errors) {
    setup_indexes();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' search %s 'oil prices' -n 3 --json > cli_out.json", NEWSIDX_CLI, DIR_ONE);
    ck_assert_int_eq(system(cmd), 0);
    json_error_t je;
    json_t *doc = json_load_file("cli_out.json", 0, &je);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "query")), "oil prices");
    ck_assert(json_integer_value(json_object_get(doc, "total")) > 3);
    json_t *hits = json_object_get(doc, "hits");
    ck_assert_uint_eq(json_array_size(hits), 3);
    json_t *h0 = json_array_get(hits, 0);
    ck_assert(json_is_string(json_object_get(h0, "id")));
    ck_assert(json_is_number(json_object_get(h0, "score")));
    json_t *sn = json_array_get(json_object_get(h0, "snippets"), 0);
    ck_assert(json_array_size(json_object_get(sn, "highlights")) >= 1);
    json_decref(doc);

    snprintf(cmd, sizeof cmd, "'%s' search %s 'oil prices' --count > cli_out.txt", NEWSIDX_CLI, DIR_ONE);
    ck_assert_int_eq(system(cmd), 0);
    FILE *f = fopen("cli_out.txt", "r");
    unsigned long long n = 0;
    ck_assert_int_eq(fscanf(f, "%llu", &n), 1);
    fclose(f);
    ck_assert(n > 3);

    snprintf(cmd, sizeof cmd, "'%s' search %s 'oil (prices' 2> cli_err.txt", NEWSIDX_CLI, DIR_ONE);
    int st = system(cmd);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    f = fopen("cli_err.txt", "r");
    char line[3][256] = {{0}};
    for (int i = 0; i < 3; i++) ck_assert_ptr_nonnull(fgets(line[i], sizeof line[i], f));
    fclose(f);
    ck_assert_ptr_nonnull(strstr(line[0], "expected ')'"));
    ck_assert_str_eq(line[1], "  oil (prices\n");
    ck_assert_str_eq(line[2], "             ^\n"); /* column 12: the end */

    snprintf(cmd, sizeof cmd, "'%s' search %s 'oil' --facets month > cli_out.txt", NEWSIDX_CLI, DIR_ONE);
    ck_assert_int_eq(system(cmd), 0);
    f = fopen("cli_out.txt", "r");
    char buf[256];
    bool bar = false, summary = false;
    while (fgets(buf, sizeof buf, f)) {
        bar |= strncmp(buf, "  1987-03 ", 10) == 0 && strchr(buf, '#') != NULL;
        summary |= strstr(buf, "results in") != NULL;
    }
    fclose(f);
    ck_assert(bar && summary);
}
END_TEST

static Suite *search_suite(void) {
    Suite *s = suite_create("search");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_reference_statistics_equal_the_index_statistics);
    tcase_add_test(tc, test_term_queries_equal_the_reference);
    tcase_add_test(tc, test_and_queries_equal_the_reference);
    tcase_add_test(tc, test_or_queries_equal_the_reference);
    tcase_add_test(tc, test_not_queries_equal_the_reference);
    tcase_add_test(tc, test_phrase_queries_equal_the_reference);
    tcase_add_test(tc, test_proximity_queries_equal_the_reference);
    tcase_add_test(tc, test_prefix_queries_equal_the_reference);
    tcase_add_test(tc, test_field_queries_equal_the_reference);
    tcase_add_test(tc, test_single_field_and_queries_equal_the_reference);
    tcase_add_test(tc, test_date_range_queries_equal_the_reference);
    tcase_add_test(tc, test_fuzzy_queries_equal_the_reference);
    tcase_add_test(tc, test_recency_boost_divides_by_age_in_half_lives);
    tcase_add_test(tc, test_scores_do_not_depend_on_the_segment_split);
    tcase_add_test(tc, test_replaced_articles_never_match);
    tcase_add_test(tc, test_date_sort_orders_newest_or_oldest_first_with_undated_last);
    tcase_add_test(tc, test_offset_pages_through_the_same_ranking);
    tcase_add_test(tc, test_facets_count_the_whole_matching_set);
    tcase_add_test(tc, test_snippets_highlight_query_words_at_original_offsets);
    tcase_add_test(tc, test_highlights_follow_the_field_scope);
    tcase_add_test(tc, test_threads_sharing_a_reader_get_the_results_of_one_thread);
    tcase_add_test(tc, test_stopwords_are_dropped_from_queries_and_phrases_keep_their_gaps);
    tcase_add_test(tc, test_phrases_in_long_documents_and_with_frequent_words);
    tcase_add_test(tc, test_phrase_totals_over_many_blocks_with_deletions);
    tcase_add_test(tc, test_search_rejects_bad_arguments);
    tcase_add_test(tc, test_expansions_beyond_max_clauses_give_err_limit);
    tcase_add_test(tc, test_cli_prints_hits_json_count_and_caret_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    /* one process: the indexes and the reference are built once */
    int status = nxt_run(search_suite(), CK_NOFORK);
    if (reader_one) {
        newsidx_reader_close(reader_one);
        newsidx_reader_close(reader_split);
        ref_free(&ref_one);
    }
    return status;
}
