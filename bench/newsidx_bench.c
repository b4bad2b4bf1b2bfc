/*
 * newsidx_bench.c — libnewsidx in the side-by-side peer benchmark
 * (/work/shared/tools/peers: SQLite FTS5, Xapian, Lucene).
 *
 *   newsidx_bench index  INDEX_DIR CORPUS[.jsonl|.jsonl.zst|.gz] [native|alnum]
 *   newsidx_bench search INDEX_DIR QUERIES TOP10|COUNT|TOP10_COUNT [REPS=5] [RESULTS.tsv]
 *   newsidx_bench parse  CORPUS      (reads + parses only: the parser's share of build_s)
 *   newsidx_bench multi  QUERIES TOP10|COUNT REPS SINGLE_DIR DIR...
 *                        (the same queries on one index and on DIR... opened as one)
 *
 * It speaks the peers' "Bench program CLI" (their README) and prints the same
 * INDEX / STAT lines and writes the same RESULTS.tsv and RESULTS.tsv.lat, so
 * run_peers.sh and summarize.py treat it like any peer.  Only the public API
 * (include/newsidx.h) is used.  The corpus reader, the query-file grammar and
 * the timed loop mirror the peers' bench_common.h line for line in behaviour
 * (what counts as a doc, which id is used, which queries are dropped, what is
 * timed); when bench_common.h changes, change this file too.
 *
 * Index model (the peers'): one text field = title + "\n" + body ("text"
 * when "body" is absent), given to the writer as the "body" field; positions
 * kept; only the id stored (writer option store_fields = 0); commits
 * without fsync (no_sync = 1, as the FTS5 peer's synchronous=OFF).  optimize =
 * newsidx_writer_optimize (merge into one segment, as the peers' optimize
 * steps); bytes_before is the size after the plain commit.
 *
 * Stored model (PEERS_STORE=1, the peers' switch: they then keep the text
 * too): the product as `newsidx index` builds it.  The corpus goes through
 * newsidx_ingest_path, as the CLI's does (every JSON member a field, title,
 * body, author, source, url and date indexed, all stored), into a writer
 * whose options are newsidx_writer_options_init()'s defaults, which the CLI
 * also keeps unless told otherwise (store_fields, doc store, analyzer,
 * RAM budget, threads): whatever the library makes its default reaches this
 * model without an edit here.  Only no_sync differs, as above.  build_s
 * covers the library's reading and parsing of the corpus (the peers' cover
 * theirs); text_bytes and the peers' doc count come from a pass of this
 * file's reader after the timing.
 *
 * Multi-index latency (`multi`): one reader of a single index and one of
 * several indexes opened with newsidx_reader_open_multi, the same queries
 * on both, interleaved; see cmd_multi.
 *
 * Search: each neutral query is rewritten once, before timing, into the
 * newsidx query language and parsed once with newsidx_query_parse:
 *   AND  -> w1 w2 ...          (default operator AND)
 *   OR   -> w1 OR w2 ...
 *   PHRASE -> "w1 w2 ..."
 * A word that is not a plain run of letters/digits (e.g. "u.s.", "c++", an
 * operator name such as "or") is quoted, so our parser reads it as text and
 * the analyzer turns it into a term or, when it yields several tokens, a
 * phrase — as the peers do.
 *   TOP10       = newsidx_search, k = 10, no snippets, no stored fields
 *                 (hit ids only), exact_total = 0 (the total is not wanted)
 *   COUNT       = count_only = 1
 *   TOP10_COUNT = one search with k = 10 and exact_total = 1
 * Environment: WARMUP (untimed passes, default 1, as the peers);
 * NEWSIDX_NO_PRUNING=1 sets newsidx_search_options.no_pruning (exhaustive
 * ranked OR instead of block-max pruning), for the pruning comparison.
 */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "newsidx.h"

/* ---------------------------------------------------------------- misc */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *r = strdup(s);
    if (!r)
        die("out of memory");
    return r;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Growable byte buffer, always NUL-terminated. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->len + extra + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + extra + 1)
            nc *= 2;
        b->p = xrealloc(b->p, nc);
        b->cap = nc;
    }
}
static void sb_clear(sbuf *b)
{
    sb_reserve(b, 0);
    b->len = 0;
    b->p[0] = 0;
}
static void sb_add(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_addc(sbuf *b, char c) { sb_add(b, &c, 1); }
static void sb_adds(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Sum of file sizes under path (a file or a directory tree), as the peers. */
static long long g_du_total;
static int du_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p;
    (void)f;
    if (flag == FTW_F)
        g_du_total += st->st_size;
    return 0;
}
static long long path_size_bytes(const char *path)
{
    g_du_total = 0;
    nftw(path, du_cb, 32, FTW_PHYS);
    return g_du_total;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- corpus */

/* JSON Lines; .zst and .gz go through a decompressor pipe, as in
 * bench_common.h, so the decompression cost is the same for every engine. */
typedef struct {
    FILE *f;
    int is_pipe;
    char *line;
    size_t cap;
    long lineno;
} corpus_t;

static void corpus_open(corpus_t *c, const char *path)
{
    memset(c, 0, sizeof *c);
    const char *tool = ends_with(path, ".zst")  ? "zstd -dc -- "
                       : ends_with(path, ".gz") ? "gzip -dc -- "
                                                : NULL;
    if (tool) {
        sbuf cmd = {NULL, 0, 0};
        sb_adds(&cmd, tool);
        sb_addc(&cmd, '\'');
        for (const char *p = path; *p; p++) {
            if (*p == '\'')
                sb_adds(&cmd, "'\\''");
            else
                sb_addc(&cmd, *p);
        }
        sb_addc(&cmd, '\'');
        c->f = popen(cmd.p, "r");
        c->is_pipe = 1;
        free(cmd.p);
    } else {
        c->f = fopen(path, "r");
    }
    if (!c->f)
        die("cannot open corpus %s: %s", path, strerror(errno));
}

/* Next non-empty line without its line end, or NULL at EOF. */
static char *corpus_next(corpus_t *c, size_t *len)
{
    ssize_t n;
    while ((n = getline(&c->line, &c->cap, c->f)) >= 0) {
        c->lineno++;
        while (n > 0 && (c->line[n - 1] == '\n' || c->line[n - 1] == '\r'))
            c->line[--n] = 0;
        if (n == 0)
            continue;
        *len = (size_t)n;
        return c->line;
    }
    return NULL;
}

static void corpus_close(corpus_t *c)
{
    if (c->is_pipe) {
        int rc = pclose(c->f);
        if (rc != 0)
            die("decompressor exited with status %d", rc);
    } else {
        fclose(c->f);
    }
    free(c->line);
}

/* ---- JSON: a hand-written scanner, the peers' on purpose ----
 * Measured on Reuters (20.7 MB JSONL, 21,577 records, this 2-core VM):
 * jansson json_loadb per line 0.19 s, this scanner 0.02 s (bench_common.h's
 * scanner, which every peer uses, also 0.02 s).  FTS5 builds the whole
 * Reuters index in about 0.45 s, so jansson would add ~40% to our build time
 * and compare parsers instead of indexes.  `newsidx_bench parse CORPUS`
 * runs both parsers, checks they agree on every record and prints both
 * timings; jansson stays the reference there. */

static void json_skip_ws(const char *s, size_t n, size_t *p)
{
    while (*p < n && (s[*p] == ' ' || s[*p] == '\t' || s[*p] == '\n' || s[*p] == '\r'))
        (*p)++;
}

static int hex4(const char *s, size_t n, size_t p, uint32_t *out)
{
    uint32_t v = 0;
    if (p + 4 > n)
        return -1;
    for (int k = 0; k < 4; k++) {
        char c = s[p + k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void sb_add_utf8(sbuf *b, uint32_t cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_add(b, t, n);
}

/* A JSON string at s[*p] == '"', decoded into out when out != NULL.
 * Lone surrogates become U+FFFD (as bench_common.h). */
static int scan_string(const char *s, size_t n, size_t *p, sbuf *out)
{
    size_t i = *p + 1;
    if (out)
        sb_clear(out);
    while (i < n) {
        const char *q = s + i;
        size_t j = i;
#if defined(__SSE2__)
        /* 16 bytes at a time up to the first quote or backslash: the byte
         * loop below was ~6% of indexing BBC's instructions */
        while (n - j >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + j));
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
            if (m) {
                j += (size_t)__builtin_ctz(m);
                break;
            }
            j += 16;
        }
#endif
        while (j < n && s[j] != '"' && s[j] != '\\')
            j++;
        if (out && j > i)
            sb_add(out, q, j - i);
        if (j >= n)
            return -1;
        if (s[j] == '"') {
            *p = j + 1;
            return 0;
        }
        if (j + 1 >= n)
            return -1;
        char e = s[j + 1];
        i = j + 2;
        if (!out) {
            if (e == 'u')
                i += 4;
            continue;
        }
        switch (e) {
        case 'n': sb_addc(out, '\n'); break;
        case 't': sb_addc(out, '\t'); break;
        case 'r': sb_addc(out, '\r'); break;
        case 'b': sb_addc(out, '\b'); break;
        case 'f': sb_addc(out, '\f'); break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(s, n, i, &cp))
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u' &&
                hex4(s, n, i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            sb_add_utf8(out, cp);
            break;
        }
        default: sb_addc(out, e); break; /* \" \\ \/ */
        }
    }
    return -1;
}

/* Skips any JSON value; a scalar's text (a string decoded) goes to raw. */
static int json_skip_value(const char *s, size_t n, size_t *p, sbuf *raw)
{
    if (*p >= n)
        return -1;
    if (s[*p] == '"')
        return scan_string(s, n, p, raw);
    if (s[*p] == '{' || s[*p] == '[') {
        int depth = 0;
        while (*p < n) {
            char c = s[*p];
            if (c == '"') {
                if (scan_string(s, n, p, NULL))
                    return -1;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0) {
                (*p)++;
                return 0;
            }
            (*p)++;
        }
        return -1;
    }
    size_t st = *p;
    while (*p < n && s[*p] != ',' && s[*p] != '}' && s[*p] != ']' && s[*p] != ' ' && s[*p] != '\t')
        (*p)++;
    if (raw) {
        sb_clear(raw);
        sb_add(raw, s + st, *p - st);
    }
    return 0;
}

typedef struct {
    sbuf id, title, body, text, key;
} doc_t;

static void doc_free(doc_t *d)
{
    free(d->id.p);
    free(d->title.p);
    free(d->body.p);
    free(d->text.p);
    free(d->key.p);
}

static void doc_finish(doc_t *d)
{
    sb_add(&d->text, d->title.p, d->title.len);
    sb_addc(&d->text, '\n');
    sb_add(&d->text, d->body.p, d->body.len);
}

/* One JSONL record -> id, title, body, text = title "\n" body.  Same rules
 * as bench_common.h json_parse_doc: keys in file order; "text" fills the
 * body only while the body is still empty; a non-string title/body is
 * ignored; a scalar id is taken as its JSON text, an object/array id counts
 * as none.  Returns 0, or -1 for a malformed line (skipped by the caller). */
static int parse_doc(const char *s, size_t n, doc_t *d)
{
    size_t p = 0;
    sb_clear(&d->id);
    sb_clear(&d->title);
    sb_clear(&d->body);
    sb_clear(&d->text);
    json_skip_ws(s, n, &p);
    if (p >= n || s[p] != '{')
        return -1;
    p++;
    for (;;) {
        json_skip_ws(s, n, &p);
        if (p < n && s[p] == '}')
            break;
        if (p >= n || s[p] != '"' || scan_string(s, n, &p, &d->key))
            return -1;
        json_skip_ws(s, n, &p);
        if (p >= n || s[p] != ':')
            return -1;
        p++;
        json_skip_ws(s, n, &p);
        sbuf *dst = NULL;
        if (!strcmp(d->key.p, "id"))
            dst = &d->id;
        else if (!strcmp(d->key.p, "title"))
            dst = &d->title;
        else if (!strcmp(d->key.p, "body") || (!strcmp(d->key.p, "text") && d->body.len == 0))
            dst = &d->body;
        if (dst && dst != &d->id && (p >= n || s[p] != '"'))
            dst = NULL;
        if (json_skip_value(s, n, &p, dst))
            return -1;
        json_skip_ws(s, n, &p);
        if (p < n && s[p] == ',') {
            p++;
            continue;
        }
        if (p < n && s[p] == '}')
            break;
        return -1;
    }
    doc_finish(d);
    return 0;
}

/* The same record through jansson, for `parse`'s cross-check only. */
static int parse_doc_jansson(const char *s, size_t n, doc_t *d)
{
    json_error_t err;
    sb_clear(&d->id);
    sb_clear(&d->title);
    sb_clear(&d->body);
    sb_clear(&d->text);
    json_t *root = json_loadb(s, n, JSON_ALLOW_NUL, &err);
    if (!root)
        return -1;
    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (!strcmp(key, "id")) {
            char num[64];
            sb_clear(&d->id);
            switch (json_typeof(v)) {
            case JSON_STRING: sb_add(&d->id, json_string_value(v), json_string_length(v)); break;
            case JSON_INTEGER:
                snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                sb_adds(&d->id, num);
                break;
            case JSON_REAL:
                snprintf(num, sizeof num, "%.17g", json_real_value(v));
                sb_adds(&d->id, num);
                break;
            case JSON_TRUE: sb_adds(&d->id, "true"); break;
            case JSON_FALSE: sb_adds(&d->id, "false"); break;
            case JSON_NULL: sb_adds(&d->id, "null"); break;
            default: break;
            }
        } else if (!strcmp(key, "title")) {
            if (json_is_string(v)) {
                sb_clear(&d->title);
                sb_add(&d->title, json_string_value(v), json_string_length(v));
            }
        } else if (!strcmp(key, "body") || (!strcmp(key, "text") && d->body.len == 0)) {
            if (json_is_string(v)) {
                sb_clear(&d->body);
                sb_add(&d->body, json_string_value(v), json_string_length(v));
            }
        }
    }
    json_decref(root);
    doc_finish(d);
    return 0;
}

/* CPU seconds (user + system, every thread) of this process so far. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* cpu is the build's and optimize's CPU time: on the shared machine it
 * varies far less than wall time, and a wrapper's /usr/bin/time would
 * also count the stored model's untimed counting pass. */
static void print_index_stats(long docs, long long text_bytes, double build_s, double optimize_s,
                              double cpu, long long bytes_before, long long bytes_after)
{
    printf("# engine=newsidx docs=%ld text_MB=%.1f build_s=%.2f optimize_s=%.2f cpu_s=%.2f "
           "size_before_optimize=%lld size=%lld (%.1f MB)\n",
           docs, text_bytes / 1e6, build_s, optimize_s, cpu, bytes_before, bytes_after,
           bytes_after / 1e6);
    printf("INDEX engine=newsidx docs=%ld text_bytes=%lld build_s=%.3f optimize_s=%.3f "
           "bytes_before=%lld bytes=%lld cpu_s=%.3f\n",
           docs, text_bytes, build_s, optimize_s, bytes_before, bytes_after, cpu);
}

/* The peers' reading of an environment switch (fts5_bench.c's PEERS_STORE):
 * set, not empty and not "0". */
static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* What the peers would index of the corpus: their doc count and text bytes
 * (title + "\n" + body).  The stored model reads the corpus through the
 * library, which does not expose these, so they are counted here, untimed. */
static void peers_corpus_counts(const char *corpus, long *docs, long long *text_bytes)
{
    corpus_t c;
    doc_t d;
    size_t len;
    char *line;
    memset(&d, 0, sizeof d);
    *docs = 0;
    *text_bytes = 0;
    corpus_open(&c, corpus);
    while ((line = corpus_next(&c, &len))) {
        if (parse_doc(line, len, &d))
            continue;
        (*docs)++;
        *text_bytes += (long long)d.text.len;
    }
    corpus_close(&c);
    doc_free(&d);
}

/* Stored model: the corpus through newsidx_ingest_path, as `newsidx index`
 * reads its inputs.  Returns the articles indexed. */
static long ingest_corpus(newsidx_writer *w, const char *corpus, uint64_t *skipped)
{
    newsidx_ingest_options io;
    newsidx_ingest_options_init(&io);
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    int rc = newsidx_ingest_path(w, corpus, &io, &st);
    if (rc)
        die("newsidx_ingest_path %s: %s (%s)", corpus, newsidx_writer_errmsg(w),
            newsidx_strerror(rc));
    *skipped = st.skipped;
    return (long)st.indexed;
}

/* Peers' model: this file's reader, one "body" field holding the peers'
 * text.  Returns the articles indexed; *text_bytes as the peers count it. */
static long add_peers_model(newsidx_writer *w, const char *corpus, long long *text_bytes,
                            long *bad)
{
    doc_t d;
    memset(&d, 0, sizeof d);
    long n = 0;
    char idbuf[32];
    size_t len;
    char *line;
    corpus_t c;
    corpus_open(&c, corpus);
    while ((line = corpus_next(&c, &len))) {
        if (parse_doc(line, len, &d)) {
            (*bad)++;
            continue;
        }
        n++;
        const char *id = d.id.p;
        size_t id_len = d.id.len;
        if (id_len == 0) {
            id_len = (size_t)snprintf(idbuf, sizeof idbuf, "%ld", c.lineno);
            id = idbuf;
        }
        *text_bytes += (long long)d.text.len;
        newsidx_field f[2] = {{"id", id, id_len}, {"body", d.text.p, d.text.len}};
        int rc = newsidx_writer_add(w, f, 2, NULL);
        if (rc)
            die("newsidx_writer_add line %ld: %s (%s)", c.lineno, newsidx_writer_errmsg(w),
                newsidx_strerror(rc));
    }
    corpus_close(&c);
    doc_free(&d);
    return n;
}

static int cmd_index(const char *dir, const char *corpus, const char *tok)
{
    if (strcmp(tok, "native") && strcmp(tok, "alnum"))
        die("unknown tokenizer %s (native, alnum)", tok);
    /* newsidx has one analyzer (letters/digits, case and diacritic folding);
     * "alnum" is accepted for the CLI's sake and indexes the same way. */
    int stored = env_flag("PEERS_STORE");
    remove_tree(dir);
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    if (!stored)
        wo.store_fields = 0;
    /* no fsync, as the FTS5 peer's synchronous=OFF (bench/README.md) */
    wo.no_sync = !(getenv("NEWSIDX_BENCH_SYNC") && atoi(getenv("NEWSIDX_BENCH_SYNC")));
    char errbuf[512] = "";
    newsidx_writer *w = NULL;
    long n = 0, bad = 0;
    long long text_bytes = 0;
    uint64_t skipped = 0;

    double t0 = now_s(), cpu0 = cpu_s();
    int rc = newsidx_writer_open(dir, &wo, errbuf, sizeof errbuf, &w);
    if (rc)
        die("newsidx_writer_open %s: %s (%s)", dir, errbuf, newsidx_strerror(rc));
    n = stored ? ingest_corpus(w, corpus, &skipped) : add_peers_model(w, corpus, &text_bytes, &bad);
    rc = newsidx_writer_commit(w);
    if (rc)
        die("newsidx_writer_commit: %s (%s)", newsidx_writer_errmsg(w), newsidx_strerror(rc));
    double build_s = now_s() - t0;
    long long bytes_before = path_size_bytes(dir);
    t0 = now_s();
    rc = newsidx_writer_optimize(w);
    if (rc)
        die("newsidx_writer_optimize: %s (%s)", newsidx_writer_errmsg(w), newsidx_strerror(rc));
    double optimize_s = now_s() - t0;
    newsidx_writer_close(w);
    double cpu = cpu_s() - cpu0;
    if (bad)
        fprintf(stderr, "warning: %ld malformed lines skipped\n", bad);
    if (stored) {
        long peers_docs;
        peers_corpus_counts(corpus, &peers_docs, &text_bytes);
        /* the library replaces an article whose id comes again and skips
         * one with no text; the peers index both */
        printf("# stored model (PEERS_STORE=1): newsidx_ingest_path indexed %ld, skipped %llu; "
               "the peers' reader finds %ld\n",
               n, (unsigned long long)skipped, peers_docs);
    }
    long long bytes = path_size_bytes(dir);
    print_index_stats(n, text_bytes, build_s, optimize_s, cpu, bytes_before, bytes);
    return 0;
}

/* Reads the corpus twice: once parsing with the bench's scanner, once with
 * jansson, and compares every record (id, title, body; malformed or not).
 * Prints both timings: the scanner's is the parse share of build_s.
 * Exits 1 if the parsers disagree on any record. */
static int cmd_parse(const char *corpus)
{
    doc_t d, dj;
    memset(&d, 0, sizeof d);
    memset(&dj, 0, sizeof dj);
    double secs[2];
    long n[2] = {0, 0}, bad[2] = {0, 0}, differ = 0;
    size_t len;
    char *line;
    for (int pass = 0; pass < 2; pass++) {
        corpus_t c;
        double t0 = now_s();
        corpus_open(&c, corpus);
        while ((line = corpus_next(&c, &len))) {
            if ((pass == 0 ? parse_doc(line, len, &d) : parse_doc_jansson(line, len, &dj)))
                bad[pass]++;
            else
                n[pass]++;
        }
        corpus_close(&c);
        secs[pass] = now_s() - t0;
    }
    /* Third pass, untimed: record-by-record agreement. */
    corpus_t c;
    corpus_open(&c, corpus);
    while ((line = corpus_next(&c, &len))) {
        int r1 = parse_doc(line, len, &d), r2 = parse_doc_jansson(line, len, &dj);
        if (r1 != r2 || (r1 == 0 && (d.id.len != dj.id.len || memcmp(d.id.p, dj.id.p, d.id.len) ||
                                     d.text.len != dj.text.len ||
                                     memcmp(d.text.p, dj.text.p, d.text.len)))) {
            if (differ++ < 5)
                fprintf(stderr, "parsers differ on line %ld (scanner %d, jansson %d)\n", c.lineno, r1,
                        r2);
        }
    }
    corpus_close(&c);
    printf("PARSE scanner docs=%ld bad=%ld parse_s=%.3f\n", n[0], bad[0], secs[0]);
    printf("PARSE jansson docs=%ld bad=%ld parse_s=%.3f\n", n[1], bad[1], secs[1]);
    printf("PARSE records_differ=%ld\n", differ);
    doc_free(&d);
    doc_free(&dj);
    return differ ? 1 : 0;
}

/* ---------------------------------------------------------------- queries */

enum { OP_AND = 0, OP_OR = 1, OP_PHRASE = 2 };
enum { MODE_TOP10 = 1, MODE_COUNT = 2, MODE_TOP10_COUNT = 3 };

typedef struct {
    char *tag;    /* stats group */
    int op;       /* OP_AND (also a single term), OP_OR, OP_PHRASE */
    int nwords;
    char **words; /* ASCII-lowercased; '+' and quotes stripped */
    char *canon;  /* neutral rendering: first column of RESULTS.tsv */
} query_t;

/* Operator implied by a tag's base name (before '.' or ':'), or -1. */
static int op_from_tag(const char *tag)
{
    size_t k = strcspn(tag, ".:");
    if (k == 4 && !strncasecmp(tag, "term", 4))
        return OP_AND;
    if (k == 12 && !strncasecmp(tag, "intersection", 12))
        return OP_AND;
    if (k == 5 && !strncasecmp(tag, "union", 5))
        return OP_OR;
    if (k == 6 && !strncasecmp(tag, "phrase", 6))
        return OP_PHRASE;
    return -1;
}

/* One line of a query file (the peers' grammar, see their README):
 *   [TAG<TAB>] [OR:|PHRASE:|AND:] word word ...
 * Returns 1 = query, 0 = comment/blank, -1 = dropped (no usable word, or a
 * "-word": the peers have no NOT, so such queries are dropped everywhere). */
static int parse_query_line(char *line, query_t *q)
{
    char *text = line, *tag = NULL, *e;
    memset(q, 0, sizeof *q);
    while (*text == ' ' || *text == '\r')
        text++;
    e = text + strlen(text);
    while (e > text && isspace((unsigned char)e[-1]))
        *--e = 0;
    if (!*text || *text == '#')
        return 0;
    char *tab = strchr(text, '\t');
    if (tab) {
        *tab = 0;
        tag = text;
        text = tab + 1;
        while (*text && isspace((unsigned char)*text))
            text++;
        for (e = tag + strlen(tag); e > tag && isspace((unsigned char)e[-1]);)
            *--e = 0;
    }
    int op = -1;
    if (!strncmp(text, "OR:", 3)) {
        op = OP_OR;
        text += 3;
    } else if (!strncmp(text, "PHRASE:", 7)) {
        op = OP_PHRASE;
        text += 7;
    } else if (!strncmp(text, "AND:", 4)) {
        op = OP_AND;
        text += 4;
    }
    if (op < 0 && tag && *tag)
        op = op_from_tag(tag);
    while (*text && isspace((unsigned char)*text))
        text++;
    if (op < 0) {
        size_t L = strlen(text);
        op = (L >= 2 && text[0] == '"' && text[L - 1] == '"') ? OP_PHRASE : OP_AND;
    }
    int negated = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (tok[0] == '-' && isalnum((unsigned char)tok[1]))
            negated = 1;
        while (*tok == '+' || *tok == '"')
            tok++;
        size_t L = strlen(tok);
        while (L > 0 && tok[L - 1] == '"')
            tok[--L] = 0;
        int useful = 0;
        for (char *c = tok; *c; c++) {
            if (isalnum((unsigned char)*c) || (unsigned char)*c >= 0x80)
                useful = 1;
            *c = (char)tolower((unsigned char)*c);
        }
        if (!useful)
            continue;
        q->words = xrealloc(q->words, sizeof(char *) * (size_t)(q->nwords + 1));
        q->words[q->nwords++] = xstrdup(tok);
    }
    if (q->nwords == 0 || negated) {
        for (int i = 0; i < q->nwords; i++)
            free(q->words[i]);
        free(q->words);
        return -1;
    }
    q->op = op;
    if (tag && *tag)
        q->tag = xstrdup(tag);
    else
        q->tag = xstrdup(q->nwords == 1       ? "term"
                         : op == OP_AND       ? "intersection"
                         : op == OP_OR        ? "union"
                                              : "phrase");
    sbuf c = {NULL, 0, 0};
    if (q->nwords > 1 && op == OP_OR)
        sb_adds(&c, "OR:");
    if (q->nwords > 1 && op == OP_PHRASE)
        sb_adds(&c, "PHRASE:");
    for (int i = 0; i < q->nwords; i++) {
        if (i)
            sb_addc(&c, ' ');
        sb_adds(&c, q->words[i]);
    }
    q->canon = c.p;
    return 1;
}

static query_t *load_queries(const char *path, int *nq, int *ndropped)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open queries %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    query_t *qs = NULL;
    *nq = *ndropped = 0;
    while (getline(&line, &cap, f) >= 0) {
        query_t q;
        int r = parse_query_line(line, &q);
        if (r < 0) {
            (*ndropped)++;
            continue;
        }
        if (r == 0)
            continue;
        qs = xrealloc(qs, sizeof(query_t) * (size_t)(*nq + 1));
        qs[(*nq)++] = q;
    }
    free(line);
    fclose(f);
    return qs;
}

/* A word our parser reads as a bare term: letters/digits (any non-ASCII
 * byte counts as a letter; the analyzer decides) and not an operator name.
 * The grammar lowercases words, and our operators are upper case, but a
 * lowercase "or"/"and"/"not"/"near" is quoted anyway so the rewrite stays
 * right if the parser ever accepts them case-insensitively. */
static int is_bare_word(const char *w)
{
    static const char *const ops[] = {"and", "or", "not", "near"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(w, ops[i]))
            return 0;
    for (const char *p = w; *p; p++)
        if (!isalnum((unsigned char)*p) && (unsigned char)*p < 0x80)
            return 0;
    return *w != 0;
}

/* Appends w inside a quoted string.  '"' and '\' are word separators for
 * the analyzer (as for the peers' tokenizers), so they become spaces rather
 * than escapes: same tokens, and no dependence on the parser's escaping. */
static void add_quoted_body(sbuf *m, const char *w)
{
    for (const char *p = w; *p; p++)
        sb_addc(m, (*p == '"' || *p == '\\') ? ' ' : *p);
}

/* Neutral query -> newsidx query text. */
static char *to_newsidx_query(const query_t *q)
{
    sbuf m = {NULL, 0, 0};
    sb_clear(&m);
    if (q->op == OP_PHRASE) {
        sb_addc(&m, '"');
        for (int i = 0; i < q->nwords; i++) {
            if (i)
                sb_addc(&m, ' ');
            add_quoted_body(&m, q->words[i]);
        }
        sb_addc(&m, '"');
        return m.p;
    }
    for (int i = 0; i < q->nwords; i++) {
        if (i)
            sb_adds(&m, q->op == OP_OR ? " OR " : " ");
        if (is_bare_word(q->words[i])) {
            sb_adds(&m, q->words[i]);
        } else {
            sb_addc(&m, '"');
            add_quoted_body(&m, q->words[i]);
            sb_addc(&m, '"');
        }
    }
    return m.p;
}

static int parse_mode(const char *m)
{
    if (!strcasecmp(m, "TOP10"))
        return MODE_TOP10;
    if (!strcasecmp(m, "COUNT"))
        return MODE_COUNT;
    if (!strcasecmp(m, "TOP10_COUNT"))
        return MODE_TOP10_COUNT;
    die("unknown mode %s (TOP10, COUNT, TOP10_COUNT)", m);
    return 0;
}
static const char *mode_name(int m)
{
    return m == MODE_TOP10 ? "TOP10" : m == MODE_COUNT ? "COUNT" : "TOP10_COUNT";
}

/* ---------------------------------------------------------------- search loop */

#define MAX_ID 256
typedef struct {
    long long count; /* -1 = not computed in this mode */
    int nids;
    char ids[10][MAX_ID];
    double scores[10];
} qresult_t;

typedef struct {
    newsidx_reader *reader;
    newsidx_query **parsed; /* NULL where the query did not parse */
    newsidx_search_options opt_top10, opt_count, opt_both;
    long failures;
} search_ctx;

static void run_query(search_ctx *c, int qi, int mode, qresult_t *r)
{
    if (!c->parsed[qi]) { /* unparsable: no hits, as FTS5 gives for an error */
        if (mode & MODE_COUNT)
            r->count = 0;
        return;
    }
    const newsidx_search_options *o = mode == MODE_TOP10   ? &c->opt_top10
                                      : mode == MODE_COUNT ? &c->opt_count
                                                           : &c->opt_both;
    newsidx_results *res = NULL;
    int rc = newsidx_search(c->reader, c->parsed[qi], o, &res);
    if (rc) {
        c->failures++;
        if (mode & MODE_COUNT)
            r->count = 0;
        return;
    }
    if (mode & MODE_TOP10) {
        size_t n = newsidx_results_count(res);
        for (size_t i = 0; i < n && i < 10; i++) {
            const char *id = newsidx_hit_id(res, i);
            r->scores[r->nids] = newsidx_hit_score(res, i);
            snprintf(r->ids[r->nids++], MAX_ID, "%s", id ? id : "");
        }
    }
    if (mode & MODE_COUNT)
        r->count = (long long)newsidx_results_total(res);
    newsidx_results_free(res);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n == 0 ? 0 : (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

static void print_stat(int mode, const char *tag, double *v, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    double mean = n ? sum / n : 0, med = median_of(v, n);
    printf("%-22s %6d %12.1f %12.1f\n", tag, n, mean, med);
    printf("STAT engine=newsidx mode=%s tag=%s n=%d mean_us=%.1f median_us=%.1f\n",
           mode_name(mode), tag, n, mean, med);
}

/* The peers' run_bench: REPS passes over all queries, the first WARMUP
 * (env, default 1, at most REPS-1) untimed; per query the median of the
 * timed passes; per tag the mean and median of those medians. */
static void run_bench(query_t *qs, int nq, int ndropped, int mode, int reps,
                      const char *results_path, search_ctx *ctx)
{
    const char *we = getenv("WARMUP");
    int warm = we ? atoi(we) : 1;
    if (reps < 1)
        reps = 1;
    if (warm > reps - 1)
        warm = reps - 1;
    if (warm < 0)
        warm = 0;
    int counted = reps - warm;
    double *samples = xrealloc(NULL, sizeof(double) * (size_t)nq * (size_t)counted);
    qresult_t *res = xrealloc(NULL, sizeof(qresult_t) * (size_t)(nq ? nq : 1));
    qresult_t scratch;
    for (int rep = 0; rep < reps; rep++) {
        for (int qi = 0; qi < nq; qi++) {
            qresult_t *r = rep == 0 ? &res[qi] : &scratch;
            r->count = -1;
            r->nids = 0;
            double t0 = now_s();
            run_query(ctx, qi, mode, r);
            double dt = (now_s() - t0) * 1e6;
            if (rep >= warm)
                samples[(size_t)qi * counted + (rep - warm)] = dt;
        }
    }
    double *lat = xrealloc(NULL, sizeof(double) * (size_t)(nq ? nq : 1));
    for (int qi = 0; qi < nq; qi++)
        lat[qi] = median_of(samples + (size_t)qi * counted, counted);

    if (results_path) {
        FILE *f = fopen(results_path, "w");
        if (!f)
            die("cannot write %s", results_path);
        sbuf lp = {NULL, 0, 0};
        sb_adds(&lp, results_path);
        sb_adds(&lp, ".lat");
        FILE *fl = fopen(lp.p, "w");
        if (!fl)
            die("cannot write %s", lp.p);
        for (int qi = 0; qi < nq; qi++) {
            fprintf(f, "%s\t", qs[qi].canon);
            if (res[qi].count >= 0)
                fprintf(f, "%lld", res[qi].count);
            else
                fputc('-', f);
            fputc('\t', f);
            for (int k = 0; k < res[qi].nids; k++)
                fprintf(f, "%s%s", k ? "," : "", res[qi].ids[k]);
            fputc('\n', f);
            fprintf(fl, "%s\t%s\t%.1f\n", qs[qi].tag, qs[qi].canon, lat[qi]);
        }
        fclose(f);
        fclose(fl);
        free(lp.p);
    }

    printf("# engine=newsidx mode=%s reps=%d (warm-up passes: %d) queries=%d dropped=%d\n",
           mode_name(mode), reps, warm, nq, ndropped);
    printf("%-22s %6s %12s %12s\n", "tag", "n", "mean_us", "median_us");
    double *v = xrealloc(NULL, sizeof(double) * (size_t)(nq ? nq : 1));
    for (int qi = 0; qi < nq; qi++) {
        int seen = 0;
        for (int pj = 0; pj < qi && !seen; pj++)
            seen = !strcmp(qs[pj].tag, qs[qi].tag);
        if (seen)
            continue;
        int n = 0;
        for (int qj = qi; qj < nq; qj++)
            if (!strcmp(qs[qj].tag, qs[qi].tag))
                v[n++] = lat[qj];
        print_stat(mode, qs[qi].tag, v, n);
    }
    memcpy(v, lat, sizeof(double) * (size_t)nq);
    print_stat(mode, "all", v, nq);
    fflush(stdout);
    free(v);
    free(lat);
    free(samples);
    free(res);
}

/* Prints the process's memory after the searches: VmHWM is the peak RSS
 * including the mapped index files; RssAnon is the heap and stacks (glibc
 * keeps freed memory, so it approximates the high-water mark of what the
 * searches allocated). The target is on the latter. */
static void print_memory(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long hwm = -1, anon = -1, file = -1;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmHWM: %ld", &hwm);
        sscanf(line, "RssAnon: %ld", &anon);
        sscanf(line, "RssFile: %ld", &file);
    }
    fclose(f);
    printf("# memory: VmHWM_kB=%ld RssAnon_kB=%ld RssFile_kB=%ld\n", hwm, anon, file);
}

/* The search options of the three modes (see the header), on c->reader. */
static void search_ctx_init(search_ctx *c)
{
    const char *np = getenv("NEWSIDX_NO_PRUNING");
    newsidx_search_options base;
    newsidx_search_options_init(&base);
    base.k = 10;
    base.snippets = 0;
    base.fields = "";     /* hit ids only: the peers fetch just the id */
    base.no_pruning = np && atoi(np) != 0;
    c->opt_top10 = base;
    c->opt_top10.exact_total = 0;
    c->opt_count = base;
    c->opt_count.count_only = 1;
    c->opt_count.exact_total = 1;
    c->opt_both = base;
    c->opt_both.exact_total = 1;
}

/* Parses every query once, before timing, with c->reader's analyzer; one
 * that does not parse is left NULL (no hits) and counted. */
static long search_ctx_parse(search_ctx *c, const query_t *qs, int nq)
{
    char errbuf[512] = "";
    long parse_errors = 0;
    c->parsed = xrealloc(NULL, sizeof(newsidx_query *) * (size_t)(nq ? nq : 1));
    for (int i = 0; i < nq; i++) {
        char *text = to_newsidx_query(&qs[i]);
        size_t col = 0;
        c->parsed[i] = NULL;
        int rc = newsidx_query_parse(c->reader, text, strlen(text), NULL, &col, errbuf,
                                     sizeof errbuf, &c->parsed[i]);
        if (rc) {
            parse_errors++;
            c->parsed[i] = NULL;
            fprintf(stderr, "warning: query %d [%s] does not parse: %s (%s)\n", i + 1, text,
                    errbuf, newsidx_strerror(rc));
        }
        free(text);
    }
    return parse_errors;
}

static void search_ctx_free(search_ctx *c, int nq)
{
    for (int i = 0; i < nq; i++)
        newsidx_query_free(c->parsed[i]);
    free(c->parsed);
    newsidx_reader_close(c->reader);
}

static void free_queries(query_t *qs, int nq)
{
    for (int i = 0; i < nq; i++) {
        for (int k = 0; k < qs[i].nwords; k++)
            free(qs[i].words[k]);
        free(qs[i].words);
        free(qs[i].tag);
        free(qs[i].canon);
    }
    free(qs);
}

static int cmd_search(const char *dir, const char *qfile, const char *mode_s, int reps,
                      const char *out)
{
    search_ctx c;
    memset(&c, 0, sizeof c);
    int nq, ndropped, mode = parse_mode(mode_s);
    char errbuf[512] = "";
    int rc = newsidx_reader_open(dir, errbuf, sizeof errbuf, &c.reader);
    if (rc)
        die("newsidx_reader_open %s: %s (%s)", dir, errbuf, newsidx_strerror(rc));
    search_ctx_init(&c);
    query_t *qs = load_queries(qfile, &nq, &ndropped);
    long parse_errors = search_ctx_parse(&c, qs, nq);
    if (c.opt_top10.no_pruning)
        printf("# NEWSIDX_NO_PRUNING=1: exhaustive ranked OR\n");
    run_bench(qs, nq, ndropped, mode, reps, out, &c);
    print_memory();
    if (parse_errors || c.failures)
        fprintf(stderr, "warning: %ld queries did not parse, %ld searches failed\n",
                parse_errors, c.failures);
    search_ctx_free(&c, nq);
    free_queries(qs, nq);
    return 0;
}

/* ---------------------------------------------------------------- multi */

/* Nearest-rank percentile of v[0..n) (sorted here): the smallest sample
 * that at least p percent of the samples do not exceed. */
static double percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(double), cmp_double);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    return v[(rank > n ? n : rank) - 1];
}

/* Tag base, as summarize.py groups: the text before '.' or ':'. */
static size_t tag_base_len(const char *tag) { return strcspn(tag, ".:"); }

/* One class's latencies on both readers: p50/p99 over every timed sample
 * of every query of the class (queries x timed passes); p99q over the
 * per-query medians (the slow queries' tail without the preemption spikes
 * a busy machine adds to single samples); the mean of the per-query
 * medians (the peers' mean_us). */
static void print_multi_class(int mode, const char *tag, size_t tag_len, const query_t *qs,
                              int nq, int counted, const double *s_single,
                              const double *s_multi)
{
    size_t cap = (size_t)nq * (size_t)counted, ns = 0;
    double *a = xrealloc(NULL, sizeof(double) * (cap ? cap : 1));
    double *b = xrealloc(NULL, sizeof(double) * (cap ? cap : 1));
    double *tmp = xrealloc(NULL, sizeof(double) * (size_t)(counted ? counted : 1));
    double *ma = xrealloc(NULL, sizeof(double) * (size_t)(nq ? nq : 1));
    double *mb = xrealloc(NULL, sizeof(double) * (size_t)(nq ? nq : 1));
    double mean_a = 0, mean_b = 0;
    int n = 0;
    for (int qi = 0; qi < nq; qi++) {
        if (tag && (tag_base_len(qs[qi].tag) != tag_len || strncmp(qs[qi].tag, tag, tag_len)))
            continue;
        const double *sa = s_single + (size_t)qi * counted, *sb = s_multi + (size_t)qi * counted;
        memcpy(a + ns, sa, sizeof(double) * (size_t)counted);
        memcpy(b + ns, sb, sizeof(double) * (size_t)counted);
        ns += (size_t)counted;
        memcpy(tmp, sa, sizeof(double) * (size_t)counted);
        ma[n] = median_of(tmp, counted);
        mean_a += ma[n];
        memcpy(tmp, sb, sizeof(double) * (size_t)counted);
        mb[n] = median_of(tmp, counted);
        mean_b += mb[n];
        n++;
    }
    if (n) {
        mean_a /= n;
        mean_b /= n;
        double a50 = percentile(a, ns, 50), a99 = percentile(a, ns, 99);
        double b50 = percentile(b, ns, 50), b99 = percentile(b, ns, 99);
        double aq = percentile(ma, (size_t)n, 99), bq = percentile(mb, (size_t)n, 99);
        printf("MULTI mode=%s tag=%.*s n=%d samples=%zu single_p50_us=%.1f single_p99_us=%.1f "
               "multi_p50_us=%.1f multi_p99_us=%.1f ratio_p50=%.2f ratio_p99=%.2f "
               "single_p99q_us=%.1f multi_p99q_us=%.1f ratio_p99q=%.2f "
               "single_mean_us=%.1f multi_mean_us=%.1f ratio_mean=%.2f\n",
               mode_name(mode), (int)tag_len, tag ? tag : "all", n, ns, a50, a99, b50, b99,
               a50 > 0 ? b50 / a50 : 0, a99 > 0 ? b99 / a99 : 0, aq, bq, aq > 0 ? bq / aq : 0,
               mean_a, mean_b, mean_a > 0 ? mean_b / mean_a : 0);
    }
    free(a);
    free(b);
    free(ma);
    free(mb);
    free(tmp);
}

static int same_score(double a, double b)
{
    double m = fabs(a) > 1 ? fabs(a) : 1;
    return fabs(a - b) <= 1e-6 * m;
}

/* Whether two results of one query agree (newsidx_reader_open_multi
 * promises ids, scores and totals of one index holding the same articles):
 * 2 = the same count, scores and ids; 1 = the same count and scores, ids
 * differing only among hits of equal score (ties are broken by doc id,
 * and the single index numbers the articles in another order than the
 * set of indexes); 0 = they differ. */
static int same_result(const qresult_t *x, const qresult_t *y)
{
    if (x->count != y->count || x->nids != y->nids)
        return 0;
    int exact = 2;
    for (int i = 0; i < x->nids; i++) {
        if (!same_score(x->scores[i], y->scores[i]))
            return 0;
        /* equal scores at this rank and another id: both articles score
         * the same, so only the tie-break put them apart */
        if (strcmp(x->ids[i], y->ids[i]))
            exact = 1;
    }
    return exact;
}

/* Median wall time of opening (and closing) a reader, over `times` opens:
 * what a command-line search pays before its query. */
static double open_ms(const char *const *dirs, size_t n_dirs, int times)
{
    double v[16];
    char errbuf[512] = "";
    if (times > 16)
        times = 16;
    for (int i = 0; i < times; i++) {
        newsidx_reader *r = NULL;
        double t0 = now_s();
        int rc = n_dirs == 1 ? newsidx_reader_open(dirs[0], errbuf, sizeof errbuf, &r)
                             : newsidx_reader_open_multi(dirs, n_dirs, errbuf, sizeof errbuf, &r);
        if (rc)
            die("opening %s%s: %s (%s)", dirs[0], n_dirs > 1 ? " and the others" : "", errbuf,
                newsidx_strerror(rc));
        newsidx_reader_close(r);
        v[i] = (now_s() - t0) * 1e3;
    }
    return median_of(v, times);
}

/* `multi QUERIES MODE REPS SINGLE_DIR DIR...`: the same queries on a reader
 * of SINGLE_DIR and on one of DIR... opened with newsidx_reader_open_multi.
 * Both readers stay open in this one process and every query runs on
 * each, back to back, the first of the two alternating from query to
 * query and pass to pass: on a machine shared with other jobs, a burst of
 * load then falls on both sides alike (an A/B/A/B... within each query).
 * The first pass also checks that both give the same count and top-10
 * ids. Prints OPEN, CHECK and one MULTI line per class (tag base) and for
 * all queries; with NEWSIDX_MULTI_LAT=FILE in the environment, FILE gets
 * tag<TAB>query<TAB>single median us<TAB>multi median us per query, to find
 * which queries make a tail. */
static int cmd_multi(const char *qfile, const char *mode_s, int reps, const char *single,
                     const char *const *dirs, size_t n_dirs)
{
    int mode = parse_mode(mode_s);
    if (mode == MODE_TOP10_COUNT)
        die("multi: TOP10 or COUNT");
    const char *we = getenv("WARMUP");
    int warm = we ? atoi(we) : 1;
    if (reps < 1)
        reps = 1;
    if (warm > reps - 1)
        warm = reps - 1;
    if (warm < 0)
        warm = 0;
    int counted = reps - warm;

    double open_single = open_ms(&single, 1, 5), open_multi = open_ms(dirs, n_dirs, 5);
    printf("OPEN single_ms=%.2f multi_ms=%.2f indexes=%zu ratio=%.2f\n", open_single, open_multi,
           n_dirs, open_single > 0 ? open_multi / open_single : 0);

    search_ctx cs, cm;
    memset(&cs, 0, sizeof cs);
    memset(&cm, 0, sizeof cm);
    char errbuf[512] = "";
    int rc = newsidx_reader_open(single, errbuf, sizeof errbuf, &cs.reader);
    if (rc)
        die("newsidx_reader_open %s: %s (%s)", single, errbuf, newsidx_strerror(rc));
    rc = newsidx_reader_open_multi(dirs, n_dirs, errbuf, sizeof errbuf, &cm.reader);
    if (rc)
        die("newsidx_reader_open_multi: %s (%s)", errbuf, newsidx_strerror(rc));
    newsidx_stats st_s, st_m;
    newsidx_reader_stats(cs.reader, &st_s);
    newsidx_reader_stats(cm.reader, &st_m);
    printf("# single: %llu docs, %llu segments; multi: %zu indexes, %llu docs, %llu segments\n",
           (unsigned long long)st_s.docs, (unsigned long long)st_s.segments, n_dirs,
           (unsigned long long)st_m.docs, (unsigned long long)st_m.segments);
    search_ctx_init(&cs);
    search_ctx_init(&cm);
    int nq, ndropped;
    query_t *qs = load_queries(qfile, &nq, &ndropped);
    long perr = search_ctx_parse(&cs, qs, nq) + search_ctx_parse(&cm, qs, nq);

    size_t ns = (size_t)nq * (size_t)counted;
    double *s_single = xrealloc(NULL, sizeof(double) * (ns ? ns : 1));
    double *s_multi = xrealloc(NULL, sizeof(double) * (ns ? ns : 1));
    long differ = 0, tie_order = 0;
    for (int rep = 0; rep < reps; rep++) {
        for (int qi = 0; qi < nq; qi++) {
            qresult_t r[2];
            double dt[2];
            for (int k = 0; k < 2; k++) {
                int side = (k + rep + qi) & 1; /* 0 = single, 1 = multi */
                r[side].count = -1;
                r[side].nids = 0;
                double t0 = now_s();
                run_query(side ? &cm : &cs, qi, mode, &r[side]);
                dt[side] = (now_s() - t0) * 1e6;
            }
            int agree = rep == 0 ? same_result(&r[0], &r[1]) : 2;
            tie_order += agree == 1;
            if (agree == 0 && differ++ < 5)
                fprintf(stderr, "differ: [%s] single %lld hits, multi %lld (top ids %s / %s)\n",
                        qs[qi].canon, r[0].count, r[1].count, r[0].nids ? r[0].ids[0] : "-",
                        r[1].nids ? r[1].ids[0] : "-");
            if (rep >= warm) {
                s_single[(size_t)qi * counted + (rep - warm)] = dt[0];
                s_multi[(size_t)qi * counted + (rep - warm)] = dt[1];
            }
        }
    }
    printf("# engine=newsidx mode=%s reps=%d (warm-up passes: %d) queries=%d dropped=%d\n",
           mode_name(mode), reps, warm, nq, ndropped);
    printf("CHECK mode=%s queries=%d differ=%ld tie_order_only=%ld parse_errors=%ld failures=%ld\n",
           mode_name(mode), nq, differ, tie_order, perr, cs.failures + cm.failures);
    for (int qi = 0; qi < nq; qi++) {
        size_t L = tag_base_len(qs[qi].tag);
        int seen = 0;
        for (int pj = 0; pj < qi && !seen; pj++)
            seen = tag_base_len(qs[pj].tag) == L && !strncmp(qs[pj].tag, qs[qi].tag, L);
        if (!seen)
            print_multi_class(mode, qs[qi].tag, L, qs, nq, counted, s_single, s_multi);
    }
    print_multi_class(mode, NULL, 3, qs, nq, counted, s_single, s_multi);
    fflush(stdout);
    const char *lat_path = getenv("NEWSIDX_MULTI_LAT");
    if (lat_path && *lat_path) {
        FILE *f = fopen(lat_path, "w");
        if (!f)
            die("cannot write %s: %s", lat_path, strerror(errno));
        for (int qi = 0; qi < nq; qi++)
            fprintf(f, "%s\t%s\t%.1f\t%.1f\n", qs[qi].tag, qs[qi].canon,
                    median_of(s_single + (size_t)qi * counted, counted),
                    median_of(s_multi + (size_t)qi * counted, counted));
        fclose(f);
    }
    free(s_single);
    free(s_multi);
    search_ctx_free(&cs, nq);
    search_ctx_free(&cm, nq);
    free_queries(qs, nq);
    return differ || perr ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "index"))
        return cmd_index(argv[2], argv[3], argc > 4 ? argv[4] : "native");
    if (argc >= 5 && !strcmp(argv[1], "search"))
        return cmd_search(argv[2], argv[3], argv[4], argc > 5 ? atoi(argv[5]) : 5,
                          argc > 6 ? argv[6] : NULL);
    if (argc == 3 && !strcmp(argv[1], "parse"))
        return cmd_parse(argv[2]);
    if (argc >= 7 && !strcmp(argv[1], "multi"))
        return cmd_multi(argv[2], argv[3], atoi(argv[4]), argv[5], (const char *const *)argv + 6,
                         (size_t)(argc - 6));
    fprintf(stderr,
            "usage: %s index  INDEX_DIR CORPUS[.jsonl|.jsonl.zst|.gz] [native|alnum]\n"
            "       %s search INDEX_DIR QUERIES TOP10|COUNT|TOP10_COUNT [REPS=5] [RESULTS.tsv]\n"
            "       %s parse  CORPUS\n"
            "       %s multi  QUERIES TOP10|COUNT REPS SINGLE_DIR DIR...\n",
            argv[0], argv[0], argv[0], argv[0]);
    return 2;
}
