/* test_dups — near-duplicate reprints: the hash's definition is stable,
 * reprints with a few changed words collapse in search and group in
 * newsidx_reader_dups while distinct articles do neither, the top k stays
 * right when duplicates crowd the candidates, a segment written before the
 * hash column opens, searches and merges, and merges keep every doc's
 * value. */
#include "common.h"
#include "fuzz/nx_sums.h"
#include "index/index_internal.h"
#include "index/simhash.h"
#include "newsidx.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- articles -------------------------------------------------------------- */

/* n in letters, one per decimal digit (0 = "a"): the hash leaves out words
 * that mix letters and digits, so generated words must not. Returns out. */
static char *spell(char *out, unsigned long long n) {
    int len = sprintf(out, "%llu", n);
    for (int i = 0; i < len; i++) out[i] = (char)('a' + (out[i] - '0'));
    return out;
}

/* A body of n words drawn from a 5,000-word vocabulary by seed; `query`
 * in it once so that every article matches one query. */
static char *make_body(uint64_t seed, int n, const char *query) {
    size_t cap = (size_t)n * 12 + strlen(query) + 2;
    char *b = malloc(cap);
    ck_assert_ptr_nonnull(b);
    size_t len = 0;
    uint64_t st = seed * 0x9e3779b97f4a7c15ull + 1;
    char num[24];
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(b + len, cap - len, "w%s ", spell(num, nxt_xorshift64(&st) % 5000));
    snprintf(b + len, cap - len, "%s", query);
    return b;
}

/* The body with `changes` words replaced by words of no other article. */
static char *reprint_body(const char *body, int changes, uint64_t seed) {
    char *r = malloc(strlen(body) + (size_t)changes * 48 + 1), a[24], b[24];
    ck_assert_ptr_nonnull(r);
    const char *p = body;
    size_t len = 0;
    int word = 0;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t wl = e ? (size_t)(e - p) : strlen(p);
        if (word % 37 == 5 && word / 37 < changes)
            len += (size_t)sprintf(r + len, "new%sx%s", spell(a, seed), spell(b, (unsigned)word));
        else memcpy(r + len, p, wl), len += wl;
        if (e) r[len++] = ' ';
        p += wl + (e != NULL);
        word++;
    }
    r[len] = '\0';
    return r;
}

static void add(newsidx_writer *w, const char *id, const char *title, const char *body,
                const char *date) {
    newsidx_field f[4] = {{"id", id, strlen(id)},
                          {"title", title, strlen(title)},
                          {"body", body, strlen(body)},
                          {"date", date, strlen(date)}};
    ck_assert_int_eq(newsidx_writer_add(w, f, 4, NULL), 0);
}

/* A writer on dir: a new index, or with append the existing one. */
static newsidx_writer *open_writer_on(const char *dir, bool append) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = append;
    o.no_sync = 1;
    o.merge_factor = 100; /* segments merge when a test says so */
    o.threads = 1;        /* and a commit makes one segment (workers make one each) */
    newsidx_writer *w;
    char eb[512];
    int rc = newsidx_writer_open(dir, &o, eb, sizeof eb, &w);
    ck_assert_msg(rc == 0, "%s", eb);
    return w;
}

static newsidx_writer *open_writer(const char *dir) { return open_writer_on(dir, false); }

static newsidx_reader *open_reader(const char *dir) {
    newsidx_reader *r;
    char eb[512];
    int rc = newsidx_reader_open(dir, eb, sizeof eb, &r);
    ck_assert_msg(rc == 0, "%s", eb);
    return r;
}

/* Runs `text` with k hits and collapse distance d; the caller frees. */
static newsidx_results *search(newsidx_reader *r, const char *text, uint32_t k, uint32_t offset,
                               uint32_t d) {
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, text, strlen(text), NULL, NULL, NULL, 0, &q), 0);
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.k = k;
    o.offset = offset;
    o.snippets = 0;
    o.collapse_distance = d;
    newsidx_results *res;
    char eb[512];
    int rc = newsidx_search_v2(r, q, &o, eb, sizeof eb, &res);
    ck_assert_msg(rc == 0, "%s", eb);
    newsidx_query_free(q);
    return res;
}

/* ---- the hash ---------------------------------------------------------------- */

START_TEST(test_the_hash_of_a_text_never_changes) {
    /* docs/FORMAT.md defines the value; segments on disk hold it, so a
     * change of the definition must show here */
    const char *t = "Storm closes ports", *b = "Heavy rain and wind closed the ports of the coast.";
    ck_assert_uint_eq(nx_simhash_article(t, strlen(t), b, strlen(b), NX_SIMHASH_SHINGLE),
                      UINT64_C(0xef61bf0efef85f0c));
    /* case and punctuation do not count; word order within a field neither
     * (1-word shingles) */
    const char *b2 = "heavy RAIN, and wind -- closed the ports of the coast";
    ck_assert_uint_eq(nx_simhash_article(t, strlen(t), b, strlen(b), NX_SIMHASH_SHINGLE),
                      nx_simhash_article(t, strlen(t), b2, strlen(b2), NX_SIMHASH_SHINGLE));
    /* words that mix letters and digits (uuencoded lines) are left out;
     * numbers alone are words */
    const char *b3 = "Heavy rain and wind closed the ports of the coast. M4I 3B x2y 7x9";
    ck_assert_uint_eq(nx_simhash_article(t, strlen(t), b3, strlen(b3), NX_SIMHASH_SHINGLE),
                      nx_simhash_article(t, strlen(t), b, strlen(b), NX_SIMHASH_SHINGLE));
    const char *b4 = "Heavy rain and wind closed the ports of the coast in 1990.";
    ck_assert_uint_ne(nx_simhash_article(t, strlen(t), b4, strlen(b4), NX_SIMHASH_SHINGLE),
                      nx_simhash_article(t, strlen(t), b, strlen(b), NX_SIMHASH_SHINGLE));
    /* no word at all: none */
    ck_assert_uint_eq(nx_simhash_article("", 0, " -- ", 4, NX_SIMHASH_SHINGLE), NX_SIMHASH_NONE);
    ck_assert_uint_eq(nx_simhash_article(NULL, 0, NULL, 0, NX_SIMHASH_SHINGLE), NX_SIMHASH_NONE);
    /* one word is enough */
    ck_assert_uint_ne(nx_simhash_article("x", 1, NULL, 0, NX_SIMHASH_SHINGLE), NX_SIMHASH_NONE);
}
END_TEST

START_TEST(test_the_fast_scanner_gives_the_portable_hash) {
    /* random texts of every length up to past the fast path's limit, of
     * bytes weighted toward word boundaries, case, digits, UTF-8 and long
     * words (over 16 and 64 bytes) */
    static const char alphabet[] = "aZq9 .,\n\t-'\xc3\xa9\xe2\x80\x99Mx";
    uint64_t st = 42;
    static char text[9000];
    for (int round = 0; round < 600; round++) {
        size_t len = round < 100 ? (size_t)round : (size_t)(nxt_xorshift64(&st) % sizeof text);
        unsigned long_words = (unsigned)(nxt_xorshift64(&st) % 3);
        for (size_t i = 0; i < len; i++) {
            uint64_t r = nxt_xorshift64(&st);
            bool sep = (r >> 8) % (long_words == 0 ? 4 : long_words == 1 ? 20 : 90) == 0;
            text[i] = sep ? ' ' : alphabet[r % (sizeof alphabet - 1)];
        }
        for (unsigned k = 1; k <= 3; k++) {
            size_t cut = len / 3;
            ck_assert_uint_eq(nx_simhash_article(text, cut, text + cut, len - cut, k),
                              nx_simhash_article_portable(text, cut, text + cut, len - cut, k));
        }
    }
}
END_TEST

START_TEST(test_grouping_joins_chains_and_only_near_hashes) {
    /* 0 and 1 differ in 3 bits, 1 and 2 in 3 (0 and 2 in 6): one group by
     * the chain; 3 is far from all; 4 is none */
    uint64_t h[] = {0xf0f0f0f0f0f0f0f0ull, 0xf0f0f0f0f0f0f0f7ull, 0xf0f0f0f0f0f0f03full,
                    0x0123456789abcdefull, 0};
    uint32_t g[5];
    ck_assert_int_eq(nx_simhash_group(h, 5, 3, g), 0);
    ck_assert_uint_eq(g[0], 0);
    ck_assert_uint_eq(g[1], 0);
    ck_assert_uint_eq(g[2], 0);
    ck_assert_uint_eq(g[3], 3);
    ck_assert_uint_eq(g[4], 4);
    /* at distance 2 nothing is near */
    ck_assert_int_eq(nx_simhash_group(h, 5, 2, g), 0);
    for (uint32_t i = 0; i < 5; i++) ck_assert_uint_eq(g[i], i);
    /* the differing bits in every band: still found (the band they agree
     * on is another one) */
    uint64_t spread[] = {0, 0, (uint64_t)1 << 0 | (uint64_t)1 << 20 | (uint64_t)1 << 40};
    spread[0] = 0x5555555555555555ull;
    spread[1] = spread[0] ^ spread[2];
    ck_assert_int_eq(nx_simhash_group(spread, 2, 3, g), 0);
    ck_assert_uint_eq(g[1], 0);
}
END_TEST

/* ---- search and dups ---------------------------------------------------------- */

/* 40 distinct stories, story i with i % 4 reprints (1 word of 200
 * changed); every article holds "zebra". */
static void build_wire(const char *dir) {
    newsidx_writer *w = open_writer(dir);
    char id[32], title[64], date[32];
    for (int i = 0; i < 40; i++) {
        char *body = make_body((uint64_t)i + 1, 200, "zebra");
        snprintf(title, sizeof title, "Story %d", i);
        snprintf(id, sizeof id, "s%d", i);
        snprintf(date, sizeof date, "2024-01-%02d", i % 28 + 1);
        add(w, id, title, body, date);
        for (int k = 1; k <= i % 4; k++) {
            char *rb = reprint_body(body, 1, (uint64_t)(i * 10 + k));
            snprintf(id, sizeof id, "s%d-r%d", i, k);
            snprintf(date, sizeof date, "2024-02-%02d", i % 28 + 1);
            add(w, id, title, rb, date);
            free(rb);
        }
        free(body);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
}

/* The story number of an id "s<i>" or "s<i>-r<k>". */
static int story(const char *id) { return atoi(id + 1); }

START_TEST(test_reprints_collapse_into_one_hit_that_counts_them) {
    char *dir = nxt_tmpdir("wire");
    build_wire(dir);
    newsidx_reader *r = open_reader(dir);
    newsidx_results *all = search(r, "zebra", 1000, 0, 0);
    ck_assert_uint_eq(newsidx_results_count(all), 40 + 60);
    newsidx_results *c = search(r, "zebra", 1000, 0, NEWSIDX_COLLAPSE_DEFAULT);
    ck_assert_uint_eq(newsidx_results_total(c), 100); /* the total counts every match */
    ck_assert_uint_eq(newsidx_results_count(c), 40);
    bool seen[40] = {0};
    for (size_t i = 0; i < 40; i++) {
        int s = story(newsidx_hit_id(c, i));
        ck_assert_msg(!seen[s], "story %d shown twice", s);
        seen[s] = true;
        ck_assert_uint_eq(newsidx_hit_hidden(c, i), (uint32_t)(s % 4));
    }
    /* the kept hit is the best-scored of its story: the first of the story
     * in the uncollapsed ranking */
    bool first[40] = {0};
    size_t j = 0;
    for (size_t i = 0; i < newsidx_results_count(all); i++) {
        int s = story(newsidx_hit_id(all, i));
        if (first[s]) continue;
        first[s] = true;
        ck_assert_str_eq(newsidx_hit_id(c, j), newsidx_hit_id(all, i));
        ck_assert(newsidx_hit_score(c, j) == newsidx_hit_score(all, i));
        j++;
    }
    ck_assert_uint_eq(newsidx_hit_hidden(all, 0), 0); /* off: nothing hidden */
    newsidx_results_free(all);
    newsidx_results_free(c);
    /* groups: the 30 stories with reprints, each whole */
    newsidx_dup_groups *g;
    ck_assert_int_eq(newsidx_reader_dups(r, 0, NULL, 0, &g), 0);
    ck_assert_uint_eq(newsidx_dup_group_count(g), 30);
    for (size_t i = 0; i < 30; i++) {
        size_t n = newsidx_dup_group_size(g, i);
        int s = story(newsidx_dup_group_id(g, i, 0));
        ck_assert_uint_eq(n, (size_t)(s % 4) + 1);
        for (size_t m = 1; m < n; m++) ck_assert_int_eq(story(newsidx_dup_group_id(g, i, m)), s);
    }
    ck_assert_ptr_null(newsidx_dup_group_id(g, 30, 0));
    ck_assert_ptr_null(newsidx_dup_group_id(g, 0, 99));
    newsidx_dup_groups_free(g);
    ck_assert_int_eq(newsidx_reader_dups(r, NEWSIDX_COLLAPSE_MAX + 1, NULL, 0, &g),
                     NEWSIDX_ERR_INVALID);
    ck_assert_ptr_null(g);
    newsidx_reader_close(r);
    free(dir);
}
END_TEST

START_TEST(test_distinct_articles_never_collapse) {
    char *dir = nxt_tmpdir("distinct");
    newsidx_writer *w = open_writer(dir);
    char id[32];
    /* same title, same query word, short and long bodies: only the other
     * words differ */
    for (int i = 0; i < 300; i++) {
        char *body = make_body((uint64_t)i + 1000, 10 + i % 200, "zebra");
        snprintf(id, sizeof id, "d%d", i);
        add(w, id, "Market report", body, "2024-03-01");
        free(body);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    newsidx_results *c = search(r, "zebra", 300, 0, NEWSIDX_COLLAPSE_DEFAULT);
    ck_assert_uint_eq(newsidx_results_count(c), 300);
    for (size_t i = 0; i < 300; i++) ck_assert_uint_eq(newsidx_hit_hidden(c, i), 0);
    newsidx_results_free(c);
    newsidx_dup_groups *g;
    ck_assert_int_eq(newsidx_reader_dups(r, 3, NULL, 0, &g), 0);
    ck_assert_uint_eq(newsidx_dup_group_count(g), 0);
    newsidx_dup_groups_free(g);
    newsidx_reader_close(r);
    free(dir);
}
END_TEST

START_TEST(test_top_k_is_right_when_reprints_crowd_the_candidates) {
    /* one story reprinted 50 times outscores everything ("zebra" 3 times),
     * so the first candidates are all one group: the search must rank
     * further to fill k, and pages must continue where the last ended */
    char *dir = nxt_tmpdir("crowd");
    newsidx_writer *w = open_writer(dir);
    char *body = make_body(7, 100, "zebra zebra zebra");
    add(w, "top", "Big story", body, "2024-01-01");
    char id[32];
    for (int k = 0; k < 50; k++) {
        char *rb = reprint_body(body, 1, (uint64_t)k);
        snprintf(id, sizeof id, "top-r%d", k);
        add(w, id, "Big story", rb, "2024-01-02");
        free(rb);
    }
    free(body);
    for (int i = 0; i < 20; i++) {
        char *b = make_body((uint64_t)i + 500, 100, "zebra");
        snprintf(id, sizeof id, "o%d", i);
        add(w, id, "Other", b, "2024-01-03");
        free(b);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    newsidx_results *c = search(r, "zebra", 5, 0, 3);
    ck_assert_uint_eq(newsidx_results_count(c), 5);
    ck_assert_uint_eq(strncmp(newsidx_hit_id(c, 0), "top", 3), 0);
    ck_assert_uint_eq(newsidx_hit_hidden(c, 0), 50);
    for (size_t i = 1; i < 5; i++) ck_assert_int_eq(newsidx_hit_id(c, i)[0], 'o');
    /* the same ranking as the first 5 "other" hits without collapse */
    newsidx_results *all = search(r, "zebra", 100, 0, 0);
    size_t j = 1;
    for (size_t i = 0; i < newsidx_results_count(all) && j < 5; i++)
        if (newsidx_hit_id(all, i)[0] == 'o')
            ck_assert_str_eq(newsidx_hit_id(c, j++), newsidx_hit_id(all, i));
    /* page 2 of the collapsed ranking: hits 6..10 */
    newsidx_results *p2 = search(r, "zebra", 5, 5, 3);
    ck_assert_uint_eq(newsidx_results_count(p2), 5);
    newsidx_results *p12 = search(r, "zebra", 10, 0, 3);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(newsidx_hit_id(p2, i), newsidx_hit_id(p12, i + 5));
    newsidx_results_free(c);
    newsidx_results_free(all);
    newsidx_results_free(p2);
    newsidx_results_free(p12);
    /* a distance past the limit is refused */
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, "zebra", 5, NULL, NULL, NULL, 0, &q), 0);
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.collapse_distance = NEWSIDX_COLLAPSE_MAX + 1;
    newsidx_results *bad;
    ck_assert_int_eq(newsidx_search_v2(r, q, &o, NULL, 0, &bad), NEWSIDX_ERR_INVALID);
    newsidx_query_free(q);
    newsidx_reader_close(r);
    free(dir);
}
END_TEST

/* ---- on disk ------------------------------------------------------------------- */

static int strcmp_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every live doc's (id, hash) of the index, in snapshot order, as text
 * lines "id hash\n" sorted by id. */
static char *hashes_by_id(newsidx_reader *r) {
    const nx_snapshot *snap = nx_reader_snapshot(r);
    size_t n = 0;
    for (uint32_t s = 0; s < snap->n_segments; s++) n += nx_segment_doc_count(snap->segments[s]);
    char **lines = calloc(n + 1, sizeof *lines);
    ck_assert_ptr_nonnull(lines);
    size_t k = 0, total = 1;
    for (uint32_t s = 0; s < snap->n_segments; s++) {
        const nx_segment *seg = snap->segments[s];
        for (uint32_t d = 0; d < nx_segment_doc_count(seg); d++) {
            if (!nx_segment_is_live(seg, d)) continue;
            size_t len;
            const char *id = nx_segment_id(seg, d, &len);
            lines[k] = malloc(len + 24);
            ck_assert_ptr_nonnull(lines[k]);
            snprintf(lines[k], len + 24, "%.*s %016llx\n", (int)len, id,
                     (unsigned long long)nx_segment_simhash(seg, d));
            total += strlen(lines[k++]);
        }
    }
    qsort(lines, k, sizeof *lines, strcmp_ptr);
    char *out = malloc(total);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        strcat(out, lines[i]);
        free(lines[i]);
    }
    free(lines);
    return out;
}

START_TEST(test_merges_keep_every_value) {
    char *dir = nxt_tmpdir("merge");
    newsidx_writer *w;
    char id[32];
    /* four commits, four segments; then all merged into one */
    for (int c = 0; c < 4; c++) {
        w = open_writer_on(dir, c > 0);
        for (int i = 0; i < 25; i++) {
            char *body = make_body((uint64_t)(c * 100 + i) + 1, 20 + i * 7, "zebra");
            snprintf(id, sizeof id, "m%d-%d", c, i);
            add(w, id, "Merge", body, i % 2 ? "2024-05-01" : "1999-01-01");
            free(body);
        }
        ck_assert_int_eq(newsidx_writer_commit(w), 0);
        newsidx_writer_close(w);
    }
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->n_segments, 4);
    char *before = hashes_by_id(r);
    newsidx_reader_close(r);
    ck_assert_ptr_null(strstr(before, " 0000000000000000\n")); /* every doc has one */
    w = open_writer_on(dir, true);
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->n_segments, 1);
    char *after = hashes_by_id(r);
    ck_assert_str_eq(after, before);
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    free(before);
    free(after);
    free(dir);
}
END_TEST

/* Rewrites seg_<n>.col of dir's only segment as a library before the hash
 * column wrote it: the section out, flag bit 2 clear, the footer's length
 * and XXH3 recomputed. */
static void strip_hash_column(const char *dir) {
    newsidx_reader *r = open_reader(dir);
    const nx_snapshot *snap = nx_reader_snapshot(r);
    ck_assert_uint_eq(snap->n_segments, 1);
    char *path = nx_segment_file(dir, snap->segments[0]->seg_no, "col");
    newsidx_reader_close(r);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    static uint8_t b[1 << 20];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    ck_assert_uint_lt(n, sizeof b);
    size_t content = n - NX_FOOTER_BYTES;
    uint32_t docs = nx_load_u32le(b + 4), flags = nx_load_u32le(b + 12);
    ck_assert(flags & 4);
    size_t at = 112 + ((flags & 2) ? 8 * (size_t)docs : 0), cut = 8 * (size_t)docs;
    memmove(b + at, b + at + cut, n - at - cut);
    content -= cut;
    nx_store_u32le(b + 12, flags & ~4u);
    nx_store_u64le(b + content + 16, content);
    nx_store_u64le(b + content + 24, nx_hash64(b, content));
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, content + NX_FOOTER_BYTES, f), content + NX_FOOTER_BYTES);
    fclose(f);
    /* as an older writer's commit would have recorded it */
    ck_assert_int_eq(nxs_record(dir, strrchr(path, '/') + 1, nx_hash64(b, content)), 0);
    free(path);
}

START_TEST(test_a_segment_without_the_column_reads_and_merges) {
    char *dir = nxt_tmpdir("old");
    newsidx_writer *w = open_writer(dir);
    char *body = make_body(1, 150, "zebra");
    char *rb = reprint_body(body, 1, 1);
    add(w, "old", "Old story", body, "2020-01-01");
    add(w, "old-r", "Old story", rb, "2020-01-02");
    free(body);
    free(rb);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    strip_hash_column(dir);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    newsidx_reader *r = open_reader(dir);
    ck_assert(!nx_segment_has_simhash(nx_reader_snapshot(r)->segments[0]));
    newsidx_results *c = search(r, "zebra", 10, 0, 3);
    ck_assert_uint_eq(newsidx_results_count(c), 2); /* never collapse */
    ck_assert_uint_eq(newsidx_hit_hidden(c, 0), 0);
    newsidx_results_free(c);
    newsidx_dup_groups *g;
    ck_assert_int_eq(newsidx_reader_dups(r, 3, NULL, 0, &g), 0);
    ck_assert_uint_eq(newsidx_dup_group_count(g), 0);
    newsidx_dup_groups_free(g);
    newsidx_reader_close(r);
    /* appended articles get hashes; a merge with the old segment keeps
     * the old docs without one */
    w = open_writer_on(dir, true);
    body = make_body(2, 150, "zebra");
    rb = reprint_body(body, 1, 2);
    add(w, "new", "New story", body, "2021-01-01");
    add(w, "new-r", "New story", rb, "2021-01-02");
    free(body);
    free(rb);
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    r = open_reader(dir);
    char *h = hashes_by_id(r);
    ck_assert_msg(strstr(h, "old 0000000000000000\nold-r 0000000000000000\n") != NULL, "%s", h);
    ck_assert_msg(strstr(h, "new 0000000000000000") == NULL, "%s", h);
    free(h);
    ck_assert_int_eq(newsidx_reader_dups(r, 3, NULL, 0, &g), 0);
    ck_assert_uint_eq(newsidx_dup_group_count(g), 1);
    ck_assert_str_eq(newsidx_dup_group_id(g, 0, 0), "new");
    ck_assert_str_eq(newsidx_dup_group_id(g, 0, 1), "new-r");
    newsidx_dup_groups_free(g);
    c = search(r, "zebra", 10, 0, 3);
    ck_assert_uint_eq(newsidx_results_count(c), 3);
    newsidx_results_free(c);
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    free(dir);
}
END_TEST

START_TEST(test_articles_without_words_are_never_near_duplicates) {
    char *dir = nxt_tmpdir("empty");
    newsidx_writer *w = open_writer(dir);
    add(w, "e1", "", "", "2020-01-01");
    add(w, "e2", "", "", "2020-01-02");
    add(w, "e3", "...", "--", "2020-01-03");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    newsidx_dup_groups *g;
    ck_assert_int_eq(newsidx_reader_dups(r, 3, NULL, 0, &g), 0);
    ck_assert_uint_eq(newsidx_dup_group_count(g), 0);
    newsidx_dup_groups_free(g);
    /* no doc has a hash: the column file has no section, as before it existed */
    ck_assert(!nx_segment_has_simhash(nx_reader_snapshot(r)->segments[0]));
    newsidx_reader_close(r);
    free(dir);
}
END_TEST

static Suite *dups_suite(void) {
    Suite *s = suite_create("dups");
    TCase *tc = tcase_create("dups");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_the_hash_of_a_text_never_changes);
    tcase_add_test(tc, test_the_fast_scanner_gives_the_portable_hash);
    tcase_add_test(tc, test_grouping_joins_chains_and_only_near_hashes);
    tcase_add_test(tc, test_reprints_collapse_into_one_hit_that_counts_them);
    tcase_add_test(tc, test_distinct_articles_never_collapse);
    tcase_add_test(tc, test_top_k_is_right_when_reprints_crowd_the_candidates);
    tcase_add_test(tc, test_merges_keep_every_value);
    tcase_add_test(tc, test_a_segment_without_the_column_reads_and_merges);
    tcase_add_test(tc, test_articles_without_words_are_never_near_duplicates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nxt_run(dups_suite(), CK_FORK_GETENV); }
