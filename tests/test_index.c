/* Index suite: segments written by the builder and the writer read back
 * through lib/index/segment.h exactly as the query engine reads them;
 * dictionary lookups, skips and block-max data against brute force, date
 * order, flushes, merges, duplicate ids, append, the lock. */
#include "index/index_internal.h"

#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void) {
    return (uint32_t)nxt_xorshift64(&rng_state);
}

/* A term's postings as plain arrays (the brute-force reference). */
typedef struct ref_list {
    uint32_t n;
    uint32_t *docs, *freqs, *pos;
    size_t n_pos;
} ref_list;

static ref_list make_list(uint32_t n, uint32_t n_docs, int dense) {
    ref_list r = {n, malloc(4 * (n + 1)), malloc(4 * (n + 1)), NULL, 0};
    uint32_t d = 0;
    for (uint32_t i = 0; i < n; i++) {
        d = i == 0 ? rnd() % (dense ? 2 : 5) : d + 1 + (dense ? 0 : rnd() % 5);
        r.docs[i] = d;
        uint32_t f = (rnd() % 4 == 0) ? 1 + rnd() % 9 : 1;
        r.freqs[i] = f;
        r.n_pos += f;
    }
    ck_assert_uint_lt(d, n_docs);
    r.pos = malloc(4 * (r.n_pos + 1));
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = rnd() % 50;
        for (uint32_t j = 0; j < r.freqs[i]; j++) {
            r.pos[k++] = p;
            p += 1 + rnd() % (j % 7 == 6 ? 3000 : 20);
        }
    }
    return r;
}

static void free_list(ref_list *r) {
    free(r->docs);
    free(r->freqs);
    free(r->pos);
}

static void check_full_iteration(const nx_segment *s, const nx_term_info *ti, const ref_list *r) {
    nx_postings it;
    ck_assert_int_eq(nx_postings_open(&it, s, ti, true), 0);
    size_t k = 0;
    uint32_t i = 0;
    for (uint32_t d = nx_postings_doc(&it); d != NX_NO_DOC; d = nx_postings_next(&it), i++) {
        ck_assert_uint_lt(i, r->n);
        ck_assert_uint_eq(d, r->docs[i]);
        ck_assert_uint_eq(nx_postings_freq(&it), r->freqs[i]);
        const uint32_t *pos;
        ck_assert_int_eq(nx_postings_positions(&it, &pos), (int)r->freqs[i]);
        for (uint32_t j = 0; j < r->freqs[i]; j++) ck_assert_uint_eq(pos[j], r->pos[k + j]);
        k += r->freqs[i];
    }
    ck_assert_uint_eq(i, r->n);
    nx_postings_close(&it);
}

/* advance to random targets, reading positions only now and then (so the
 * position cursor must skip blocks it never decoded) */
static void check_advance(const nx_segment *s, const nx_term_info *ti, const ref_list *r) {
    size_t *pstart = malloc(sizeof(size_t) * (r->n + 1));
    size_t k = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        pstart[i] = k;
        k += r->freqs[i];
    }
    for (int round = 0; round < 4; round++) {
        nx_postings it;
        ck_assert_int_eq(nx_postings_open(&it, s, ti, true), 0);
        uint32_t i = 0, target = 0;
        uint32_t last = r->docs[r->n - 1];
        while (1) {
            target = nx_postings_doc(&it) + 1 + rnd() % (round == 0 ? 3 : round * 300 + 1);
            uint32_t got = nx_postings_advance(&it, target);
            while (i < r->n && r->docs[i] < target) i++;
            if (i == r->n) {
                ck_assert_uint_eq(got, NX_NO_DOC);
                break;
            }
            ck_assert_uint_eq(got, r->docs[i]);
            ck_assert_uint_eq(nx_postings_freq(&it), r->freqs[i]);
            if (rnd() % 3 == 0) {
                const uint32_t *pos;
                ck_assert_int_eq(nx_postings_positions(&it, &pos), (int)r->freqs[i]);
                for (uint32_t j = 0; j < r->freqs[i]; j++)
                    ck_assert_uint_eq(pos[j], r->pos[pstart[i] + j]);
            }
            ck_assert_uint_le(got, last);
        }
        nx_postings_close(&it);
    }
    free(pstart);
}

/* shallow_advance + block_max bound every doc of the block */
static void check_block_max(const nx_segment *s, const nx_term_info *ti, const ref_list *r,
                            int field) {
    const uint8_t *norms = nx_segment_norms(s, field);
    nx_postings it;
    ck_assert_int_eq(nx_postings_open(&it, s, ti, false), 0);
    uint32_t tmax;
    uint8_t tnorm;
    nx_postings_term_max(&it, &tmax, &tnorm);
    uint32_t bf_max = 0;
    uint8_t bf_norm = 255;
    for (uint32_t i = 0; i < r->n; i++) {
        bf_max = NX_MAX(bf_max, r->freqs[i]);
        bf_norm = NX_MIN(bf_norm, norms[r->docs[i]]);
    }
    ck_assert_uint_eq(tmax, bf_max);
    ck_assert_uint_eq(tnorm, bf_norm);
    uint32_t target = 0;
    while (1) {
        uint32_t last = nx_postings_shallow_advance(&it, target);
        uint32_t i = 0;
        while (i < r->n && r->docs[i] < target) i++;
        if (i == r->n) {
            ck_assert_uint_eq(last, NX_NO_DOC);
            break;
        }
        ck_assert_uint_ge(last, r->docs[i]);
        uint32_t mtf;
        uint8_t mn;
        nx_postings_block_max(&it, &mtf, &mn);
        /* every doc from target to last is bounded by the block's data */
        for (uint32_t j = i; j < r->n && r->docs[j] <= last; j++) {
            ck_assert_uint_le(r->freqs[j], mtf);
            ck_assert_uint_ge(norms[r->docs[j]], mn);
        }
        /* and the block's last doc is a real posting */
        bool found = false;
        for (uint32_t j = i; j < r->n && r->docs[j] <= last; j++) found |= r->docs[j] == last;
        ck_assert(found);
        target = last + 1 + rnd() % 200;
    }
    nx_postings_close(&it);
}

START_TEST(test_segment_postings_round_trip_at_block_edges) {
    static const uint32_t sizes[] = {1, 2, 7, 8, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 100000};
    const size_t n_terms = sizeof sizes / sizeof sizes[0];
    uint32_t n_docs = 600000;
    char *dir = nxt_tmpdir("index");
    nx_err err = {0};
    nx_segbuild_opts o = {false, 3, 65536, false, NULL};
    nx_segbuild *b;
    ck_assert_int_eq(nx_segbuild_create(dir, 1, n_docs, &o, &err, &b), 0);
    for (int f = 0; f < NX_N_FIELDS; f++) {
        uint8_t *nm = nx_segbuild_norms(b, f);
        for (uint32_t d = 0; d < n_docs; d++) nm[d] = (uint8_t)(1 + rnd() % 200);
    }
    for (uint32_t d = 0; d < n_docs; d++) {
        char id[16];
        int l = snprintf(id, sizeof id, "d%u", d);
        ck_assert_int_eq(nx_segbuild_doc(b, d, id, (size_t)l, "", 0, 10, NULL, 0), 0);
    }
    ref_list lists[32];
    for (size_t t = 0; t < n_terms; t++) {
        lists[t] = make_list(sizes[t], n_docs, t == n_terms - 1);
        char term[16];
        int l = snprintf(term, sizeof term, "t%02zu", t);
        ck_assert_int_eq(nx_segbuild_term(b, NX_F_BODY, (const uint8_t *)term, (size_t)l,
                                          lists[t].n, lists[t].docs, lists[t].freqs, lists[t].pos),
                         0);
    }
    ck_assert_int_eq(nx_segbuild_finish(b), 0);
    nx_segment *s;
    ck_assert_msg(nx_segment_open(dir, 1, 0, &err, &s) == 0, "%s", err.msg);
    for (size_t t = 0; t < n_terms; t++) {
        char term[16];
        int l = snprintf(term, sizeof term, "t%02zu", t);
        nx_term_info ti;
        ck_assert_int_eq(nx_segment_lookup(s, NX_F_BODY, term, (size_t)l, &ti), 1);
        ck_assert_uint_eq(ti.df, sizes[t]);
        ck_assert_uint_eq(ti.cf, lists[t].n_pos);
        check_full_iteration(s, &ti, &lists[t]);
        check_advance(s, &ti, &lists[t]);
        check_block_max(s, &ti, &lists[t], NX_F_BODY);
        free_list(&lists[t]);
    }
    nx_term_info ti;
    ck_assert_int_eq(nx_segment_lookup(s, NX_F_BODY, "t99", 3, &ti), 0);
    ck_assert_int_eq(nx_segment_lookup(s, NX_F_TITLE, "t00", 3, &ti), 0);
    ck_assert_uint_eq(nx_segment_field_tokens(s, NX_F_BODY) > 0, 1);
    nx_segment_close(s);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* A flush hands nx_segbuild_entries each term's entries in insertion
 * order, which the date order turns into any order of doc ids: shuffled
 * lists on both sides of the sort's thresholds (insertion sort up to 24
 * entries, quicksort below 256, radix sort above, with doc ids needing
 * 1, 2 and 3 bytes) must come back as the sorted reference, positions
 * following their docs. */
START_TEST(test_reordered_entries_are_written_in_doc_order) {
    static const uint32_t sizes[] = {2, 3, 24, 25, 100, 255, 256, 257, 3000, 40000};
    const size_t n_terms = sizeof sizes / sizeof sizes[0];
    uint32_t n_docs = 200000;
    char *dir = nxt_tmpdir("index");
    nx_err err = {0};
    nx_segbuild_opts o = {false, 3, 65536, false, NULL};
    nx_segbuild *b;
    ck_assert_int_eq(nx_segbuild_create(dir, 1, n_docs, &o, &err, &b), 0);
    for (int f = 0; f < NX_N_FIELDS; f++) {
        uint8_t *nm = nx_segbuild_norms(b, f);
        for (uint32_t d = 0; d < n_docs; d++) nm[d] = 10;
    }
    for (uint32_t d = 0; d < n_docs; d++) {
        char id[16];
        int l = snprintf(id, sizeof id, "d%u", d);
        ck_assert_int_eq(nx_segbuild_doc(b, d, id, (size_t)l, "", 0, 10, NULL, 0), 0);
    }
    ref_list lists[16];
    nx_term_entries te = {0};
    for (size_t t = 0; t < n_terms; t++) {
        /* sparse lists for 3000 and 40000 entries reach 3-byte doc ids */
        lists[t] = make_list(sizes[t], n_docs, sizes[t] < 3000);
        ref_list *r = &lists[t];
        uint32_t *starts = malloc(4 * r->n), *perm = malloc(4 * r->n);
        for (uint32_t i = 0, k = 0; i < r->n; k += r->freqs[i], i++) starts[i] = k;
        for (uint32_t i = 0; i < r->n; i++) perm[i] = i;
        for (uint32_t i = r->n - 1; i > 0; i--) { /* Fisher-Yates */
            uint32_t j = rnd() % (i + 1), x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        /* a shuffle of a short list can leave it in order (half the
         * time with 2 entries, depending on where rnd() stands, which
         * differs without fork under valgrind): then reverse its head */
        bool identity = true;
        for (uint32_t i = 0; i < r->n && identity; i++) identity = perm[i] == i;
        if (identity) {
            uint32_t x = perm[0];
            perm[0] = perm[1];
            perm[1] = x;
        }
        /* the positions stay where they are: entries point at them */
        te.n = 0;
        te.sorted = true;
        ck_assert_int_eq(nx_term_entries_reserve(&te, r->n, r->n_pos), 0);
        memcpy(te.pos, r->pos, 4 * r->n_pos);
        te.n_pos = r->n_pos;
        for (uint32_t i = 0; i < r->n; i++)
            nx_term_entries_push(&te, r->docs[perm[i]], r->freqs[perm[i]], starts[perm[i]]);
        ck_assert(!te.sorted);
        char term[16];
        int l = snprintf(term, sizeof term, "t%02zu", t);
        ck_assert_int_eq(nx_segbuild_entries(b, NX_F_BODY, (const uint8_t *)term, (size_t)l, &te),
                         0);
        free(starts);
        free(perm);
    }
    nx_term_entries_free(&te);
    ck_assert_int_eq(nx_segbuild_finish(b), 0);
    nx_segment *s;
    ck_assert_msg(nx_segment_open(dir, 1, 0, &err, &s) == 0, "%s", err.msg);
    for (size_t t = 0; t < n_terms; t++) {
        char term[16];
        int l = snprintf(term, sizeof term, "t%02zu", t);
        nx_term_info ti;
        ck_assert_int_eq(nx_segment_lookup(s, NX_F_BODY, term, (size_t)l, &ti), 1);
        ck_assert_uint_eq(ti.df, sizes[t]);
        check_full_iteration(s, &ti, &lists[t]);
        free_list(&lists[t]);
    }
    nx_segment_close(s);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* Exceptions of every width: doc gaps, freqs and position deltas whose
 * high parts need 1 to 31 bits over the block's width, so the exception
 * fields (7-bit index + high part) reach 38 bits, in full blocks and in
 * packed tails. */
START_TEST(test_pfor_exceptions_of_every_width_round_trip) {
    uint32_t n_docs = 1u << 18;
    char *dir = nxt_tmpdir("index");
    nx_err err = {0};
    nx_segbuild_opts o = {false, 3, 65536, false, NULL};
    nx_segbuild *b;
    ck_assert_int_eq(nx_segbuild_create(dir, 1, n_docs, &o, &err, &b), 0);
    for (uint32_t d = 0; d < n_docs; d++)
        ck_assert_int_eq(nx_segbuild_doc(b, d, "", 0, "", 0, 10, NULL, 0), 0);
    static const uint32_t sizes[] = {300, 200};
    ref_list lists[2];
    for (int t = 0; t < 2; t++) {
        uint32_t n = sizes[t];
        ref_list r = {n, malloc(4 * n), malloc(4 * n), NULL, 0};
        uint32_t d = 0;
        for (uint32_t i = 0; i < n; i++) {
            /* every 9th gap jumps by up to 2^(i % 13) docs */
            d = i == 0 ? 0 : d + 1 + (i % 9 == 0 ? rnd() % (1u << (i % 13)) : 0);
            r.docs[i] = d;
            r.freqs[i] = i % 11 == 0 ? 1 + rnd() % (1u << (i % 12)) : 1;
            r.n_pos += r.freqs[i];
        }
        ck_assert_uint_lt(d, n_docs);
        r.pos = malloc(4 * r.n_pos);
        size_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t p = rnd() % 4;
            for (uint32_t j = 0; j < r.freqs[i]; j++) {
                r.pos[k++] = p;
                /* now and then a delta of up to 2^31 */
                uint32_t room = UINT32_MAX - p;
                uint32_t step = k % 23 == 0 ? (uint32_t)1 << (k % 32) : 1 + rnd() % 3;
                p += step < room / 2 ? step : 1;
            }
        }
        lists[t] = r;
        char term[8];
        int l = snprintf(term, sizeof term, "w%d", t);
        ck_assert_int_eq(nx_segbuild_term(b, NX_F_BODY, (const uint8_t *)term, (size_t)l, r.n,
                                          r.docs, r.freqs, r.pos),
                         0);
    }
    ck_assert_int_eq(nx_segbuild_finish(b), 0);
    nx_segment *s;
    ck_assert_msg(nx_segment_open(dir, 1, 0, &err, &s) == 0, "%s", err.msg);
    for (int t = 0; t < 2; t++) {
        char term[8];
        int l = snprintf(term, sizeof term, "w%d", t);
        nx_term_info ti;
        ck_assert_int_eq(nx_segment_lookup(s, NX_F_BODY, term, (size_t)l, &ti), 1);
        ck_assert_uint_eq(ti.df, sizes[t]);
        check_full_iteration(s, &ti, &lists[t]);
        check_advance(s, &ti, &lists[t]);
        free_list(&lists[t]);
    }
    nx_segment_close(s);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* What a merge holds while it writes: a term in each of 200,000 docs with
 * 8 positions each (1.6M positions), 30,000 rare terms, and the docs'
 * dates, ids and sources, streamed in (nx_segbuild_term_begin/doc/end),
 * never hold more than a few hundred KB beside the norms: gathered, the
 * positions alone took 12 bytes each (19 MB), and the columns and the
 * dictionary grew with the docs and terms. The segment reads back whole. */
START_TEST(test_a_streamed_segment_holds_little_whatever_its_size) {
    uint32_t n_docs = 200000, freq = 8;
    char *dir = nxt_tmpdir("index");
    nx_err err = {0};
    nx_segbuild_opts o = {false, 3, 65536, true, NULL};
    nx_segbuild *b;
    ck_assert_int_eq(nx_segbuild_create(dir, 1, n_docs, &o, &err, &b), 0);
    uint8_t *nm = nx_segbuild_norms(b, NX_F_BODY);
    for (uint32_t d = 0; d < n_docs; d++) nm[d] = (uint8_t)(1 + d % 200);
    size_t most = 0;
    for (uint32_t d = 0; d < n_docs; d++) {
        char id[32], src[16];
        int l = snprintf(id, sizeof id, "article-%08u", d);
        int sl = snprintf(src, sizeof src, "src%u", d % 7);
        ck_assert_int_eq(nx_segbuild_doc(b, 1000 + d, id, (size_t)l, src, (size_t)sl, 10, NULL, 0),
                         0);
        ck_assert_int_eq(nx_segbuild_simhash(b, 0x9e3779b97f4a7c15ull * (d + 1)), 0);
        size_t held = nx_segbuild_held_bytes(b);
        most = held > most ? held : most;
    }
    ck_assert_int_eq(nx_segbuild_term_begin(b, NX_F_BODY, (const uint8_t *)"common", 6), 0);
    uint32_t deltas[8];
    for (uint32_t d = 0; d < n_docs; d++) {
        for (uint32_t j = 0; j < freq; j++) deltas[j] = j ? 1 + (d + j) % 5 : d % 3;
        ck_assert_int_eq(nx_segbuild_term_doc(b, d, freq, deltas), 0);
        if (d % 1000 == 0) {
            size_t held = nx_segbuild_held_bytes(b);
            most = held > most ? held : most;
        }
    }
    ck_assert_int_eq(nx_segbuild_term_end(b), 0);
    for (uint32_t t = 0; t < 30000; t++) {
        char term[16];
        int l = snprintf(term, sizeof term, "rare%05u", t);
        uint32_t doc = (t * 7919) % n_docs, pos = t % 50;
        ck_assert_int_eq(nx_segbuild_term(b, NX_F_BODY, (const uint8_t *)term, (size_t)l, 1, &doc,
                                          &(uint32_t){1}, &pos),
                         0);
    }
    size_t held = nx_segbuild_held_bytes(b);
    most = held > most ? held : most;
    /* the common term's coded doc blocks (~2 bytes a doc) are the largest
     * part; everything else is bounded by the spill and block sizes */
    ck_assert_msg(most < (size_t)2 << 20, "held %zu bytes", most);
    ck_assert_int_eq(nx_segbuild_finish(b), 0);

    nx_segment *s;
    ck_assert_msg(nx_segment_open(dir, 1, 0, &err, &s) == 0, "%s", err.msg);
    nx_term_info ti;
    ck_assert_int_eq(nx_segment_lookup(s, NX_F_BODY, "common", 6, &ti), 1);
    ck_assert_uint_eq(ti.df, n_docs);
    ck_assert_uint_eq(ti.cf, (uint64_t)n_docs * freq);
    nx_postings it;
    ck_assert_int_eq(nx_postings_open(&it, s, &ti, true), 0);
    uint32_t want = 0;
    for (uint32_t d = nx_postings_doc(&it); d != NX_NO_DOC; d = nx_postings_next(&it), want++) {
        ck_assert_uint_eq(d, want);
        const uint32_t *pos;
        ck_assert_int_eq(nx_postings_positions(&it, &pos), (int)freq);
        uint32_t p = d % 3;
        for (uint32_t j = 0; j < freq; j++) {
            if (j) p += 1 + (d + j) % 5;
            ck_assert_uint_eq(pos[j], p);
        }
    }
    ck_assert_uint_eq(want, n_docs);
    nx_postings_close(&it);
    ck_assert_int_eq(nx_segment_lookup(s, NX_F_BODY, "rare29999", 9, &ti), 1);
    ck_assert_uint_eq(ti.df, 1);
    for (uint32_t d = 0; d < n_docs; d += 997) {
        char id[32];
        int l = snprintf(id, sizeof id, "article-%08u", d);
        size_t len;
        const char *got = nx_segment_id(s, d, &len);
        ck_assert_uint_eq(len, (size_t)l);
        ck_assert_mem_eq(got, id, len);
        ck_assert_int_eq(nx_segment_date(s, d), 1000 + d);
        ck_assert_uint_eq(nx_segment_simhash(s, d), 0x9e3779b97f4a7c15ull * (d + 1));
        ck_assert_uint_eq(nx_segment_find_id(s, id, len), d);
        size_t sl;
        const char *src = nx_segment_source_name(s, nx_segment_source_ord(s, d), &sl);
        char want_src[16];
        ck_assert_uint_eq(sl, (size_t)snprintf(want_src, sizeof want_src, "src%u", d % 7));
        ck_assert_mem_eq(src, want_src, sl);
    }
    nx_segment_close(s);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* ---- writer-level tests ---------------------------------------------------- */

static newsidx_writer *open_writer(const char *dir, int append, size_t ram) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = append;
    if (ram) o.ram_budget_bytes = ram;
    newsidx_writer *w = NULL;
    char eb[512];
    int rc = newsidx_writer_open(dir, &o, eb, sizeof eb, &w);
    ck_assert_msg(rc == 0, "writer_open: %s", eb);
    return w;
}

static void add_article(newsidx_writer *w, const char *id, const char *title, const char *body,
                        const char *date, unsigned *warn) {
    newsidx_field f[4];
    size_t n = 0;
    if (id) f[n++] = (newsidx_field){"id", id, strlen(id)};
    if (title) f[n++] = (newsidx_field){"title", title, strlen(title)};
    if (body) f[n++] = (newsidx_field){"body", body, strlen(body)};
    if (date) f[n++] = (newsidx_field){"date", date, strlen(date)};
    unsigned wn = 0;
    ck_assert_msg(newsidx_writer_add(w, f, n, &wn) == 0, "%s", newsidx_writer_errmsg(w));
    if (warn) *warn = wn;
}

static newsidx_reader *open_reader(const char *dir) {
    newsidx_reader *r = NULL;
    char eb[512];
    int rc = newsidx_reader_open(dir, eb, sizeof eb, &r);
    ck_assert_msg(rc == 0, "reader_open: %s", eb);
    return r;
}

/* Docs holding a body term across a snapshot, as "id" strings joined. */
static uint64_t count_term(const newsidx_reader *r, int field, const char *term) {
    const nx_snapshot *s = nx_reader_snapshot(r);
    uint64_t n = 0;
    for (uint32_t i = 0; i < s->n_segments; i++) {
        nx_term_info ti;
        if (nx_segment_lookup(s->segments[i], field, term, strlen(term), &ti) != 1) continue;
        nx_postings it;
        ck_assert_int_eq(nx_postings_open(&it, s->segments[i], &ti, false), 0);
        for (uint32_t d = nx_postings_doc(&it); d != NX_NO_DOC; d = nx_postings_next(&it))
            n += nx_segment_is_live(s->segments[i], d);
        nx_postings_close(&it);
    }
    return n;
}

static void body_for(uint32_t i, char *buf, size_t cap) {
    /* every doc: "all", its parity, its residue mod 7, and a unique word */
    snprintf(buf, cap, "all %s mod%u uniq%u all words here", i % 2 ? "odd" : "even", i % 7, i);
}

START_TEST(test_writer_round_trip_with_dates_in_order) {
    char *dir = nxt_tmpdir("index");
    /* one buffer, so one segment holds all 300 (the checks below read
     * segments[0]) */
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.threads = 1;
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    char body[128], id[32], date[32];
    for (uint32_t i = 0; i < 300; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        /* dates in reverse insertion order; every 10th article undated */
        snprintf(date, sizeof date, "%u", 1000000000u - i * 10);
        add_article(w, id, "Title words", body, i % 10 == 3 ? NULL : date, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    const nx_snapshot *s = nx_reader_snapshot(r);
    ck_assert_uint_eq(s->live_docs, 300);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "all"), 300);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "odd"), 150);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "mod3"), 43);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "uniq299"), 1);
    ck_assert_uint_eq(count_term(r, NX_F_TITLE, "title"), 300);
    ck_assert_uint_eq(count_term(r, NX_F_TITLE, "odd"), 0);
    ck_assert_uint_eq(s->field_tokens[NX_F_BODY], 300 * 7);
    /* date order: undated first, then ascending */
    const nx_segment *seg = s->segments[0];
    int64_t prev = INT64_MIN;
    for (uint32_t d = 0; d < nx_segment_doc_count(seg); d++) {
        int64_t dt = nx_segment_date(seg, d);
        ck_assert(dt >= prev);
        prev = dt;
    }
    ck_assert_int_eq(nx_segment_date(seg, 0), NX_NO_DATE);
    uint32_t first, end;
    nx_segment_date_range(seg, 1000000000 - 100, 1000000000, &first, &end);
    ck_assert_uint_eq(end - first, 10); /* i = 0..10 minus the undated i = 3 */
    for (uint32_t d = 0; d < nx_segment_doc_count(seg); d++) {
        int64_t dt = nx_segment_date(seg, d);
        bool in = dt >= 1000000000 - 100 && dt <= 1000000000;
        ck_assert(in == (d >= first && d < end));
    }
    /* positions: "all" is at 0 and 4 in every body */
    nx_term_info ti;
    ck_assert_int_eq(nx_segment_lookup(seg, NX_F_BODY, "all", 3, &ti), 1);
    nx_postings it;
    ck_assert_int_eq(nx_postings_open(&it, seg, &ti, true), 0);
    const uint32_t *pos;
    ck_assert_int_eq(nx_postings_positions(&it, &pos), 2);
    ck_assert_uint_eq(pos[0], 0);
    ck_assert_uint_eq(pos[1], 4);
    nx_postings_close(&it);
    /* stored article by id */
    newsidx_doc *doc;
    ck_assert_int_eq(newsidx_reader_get(r, "a17", 3, &doc), 0);
    const newsidx_field *bf = newsidx_doc_find(doc, "body");
    body_for(17, body, sizeof body);
    ck_assert_ptr_nonnull(bf);
    ck_assert_str_eq(bf->value, body);
    int64_t dt;
    ck_assert_int_eq(newsidx_doc_date(doc, &dt), 0);
    ck_assert_int_eq(dt, 1000000000 - 170);
    newsidx_doc_free(doc);
    ck_assert_int_eq(newsidx_reader_get(r, "nope", 4, &doc), NEWSIDX_ERR_NOT_FOUND);
    newsidx_reader_close(r);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* Prefix walk collects terms in order. */
static int collect(void *ctx, const char *term, size_t len, const nx_term_info *info) {
    nx_buf *b = ctx;
    (void)info;
    nx_buf_append(b, term, len);
    nx_buf_putc(b, ' ');
    return 0;
}

START_TEST(test_dictionary_prefix_walk_is_sorted_and_bounded) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = open_writer(dir, 0, 0);
    add_article(w, "1", "zeta", "apple applet apply banana", NULL, NULL);
    add_article(w, "2", "alpha", "app apricot", NULL, NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    const nx_segment *seg = nx_reader_snapshot(r)->segments[0];
    nx_buf b = {0};
    ck_assert_int_eq(nx_segment_terms(seg, NX_F_BODY, "app", 3, collect, &b), 0);
    nx_buf_putc(&b, 0);
    ck_assert_str_eq((char *)b.data, "app apple applet apply ");
    b.len = 0;
    ck_assert_int_eq(nx_segment_terms(seg, NX_F_BODY, "", 0, collect, &b), 0);
    nx_buf_putc(&b, 0);
    ck_assert_str_eq((char *)b.data, "app apple applet apply apricot banana ");
    b.len = 0;
    ck_assert_int_eq(nx_segment_terms(seg, NX_F_TITLE, "", 0, collect, &b), 0);
    nx_buf_putc(&b, 0);
    ck_assert_str_eq((char *)b.data, "alpha zeta ");
    b.len = 0;
    ck_assert_int_eq(nx_segment_terms(seg, NX_F_BODY, "zz", 2, collect, &b), 0);
    ck_assert_uint_eq(b.len, 0);
    nx_buf_free(&b);
    newsidx_reader_close(r);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* Body of article i of the one-dictionary test: 3,000 bytes of words,
 * the same for the same i. */
static void dict_test_body(uint32_t i, char *body) {
    static const char *words[] = {"market", "oil", "prices", "said", "government", "shares",
                                  "rose", "percent", "bank", "trade", "minister", "week"};
    uint64_t rng = 0x9e3779b97f4a7c15ull * (i + 1);
    size_t p = 0;
    while (p < 3000) {
        const char *wd = words[nxt_xorshift64(&rng) % 12];
        memcpy(body + p, wd, strlen(wd));
        p += strlen(wd);
        body[p++] = ' ';
    }
    body[p] = 0;
}

static void check_same_content(const char *dir, uint32_t n) {
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->live_docs, n);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "all"), n);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "even"), (n + 1) / 2);
    uint32_t m5 = 0;
    for (uint32_t i = 0; i < n; i++) m5 += i % 7 == 5;
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "mod5"), m5);
    char id[32];
    for (uint32_t i = 0; i < n; i += 97) {
        snprintf(id, sizeof id, "a%u", i);
        newsidx_doc *doc;
        ck_assert_int_eq(newsidx_reader_get(r, id, strlen(id), &doc), 0);
        newsidx_doc_free(doc);
    }
    newsidx_reader_close(r);
}

/* Commits articles a0..a39, one segment each (flush per article, merges
 * kept apart by a high merge_factor and keep_flushes); returns the still
 * open writer. */
static newsidx_writer *commit_one_segment_per_article(const char *dir, int no_sync) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.no_sync = no_sync;
    o.ram_budget_bytes = 1; /* every article flushes */
    o.merge_factor = 1000;
    o.keep_flushes = 1;
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    char body[128], id[32];
    for (uint32_t i = 0; i < 40; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        add_article(w, id, "t", body, NULL, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    return w;
}

/* Four flushes of one writer run, each with enough stored text to train a
 * doc store dictionary: the first trains it and the others compress with
 * it, so the segment that optimize merges them into holds one dictionary,
 * its blocks are the flushes' bytes, and every article reads back. */
START_TEST(test_a_writer_run_trains_one_doc_store_dictionary_that_merges_keep) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.threads = 1;
    o.merge_factor = 1000;
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    char *body = malloc(3200), id[32];
    uint32_t n = 0;
    for (int c = 0; c < 4; c++) {
        for (int i = 0; i < 1500; i++, n++) {
            dict_test_body(n, body);
            snprintf(id, sizeof id, "d%u", n);
            add_article(w, id, "a title", body, NULL, NULL);
        }
        ck_assert_int_eq(newsidx_writer_commit(w), 0);
    }
    newsidx_reader *r = open_reader(dir);
    const nx_snapshot *snap = nx_reader_snapshot(r);
    ck_assert_uint_eq(snap->n_segments, 4);
    uint32_t blocks = 0;
    for (uint32_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(nx_docstore_dict_count(snap->segments[i]->docstore), 1);
        blocks += nx_docstore_block_count(snap->segments[i]->docstore);
    }
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    r = open_reader(dir);
    snap = nx_reader_snapshot(r);
    ck_assert_uint_eq(snap->n_segments, 1);
    const nx_docstore *ds = snap->segments[0]->docstore;
    ck_assert_uint_eq(nx_docstore_dict_count(ds), 1);
    ck_assert_uint_eq(nx_docstore_block_count(ds), blocks); /* all copied, none new */
    ck_assert_uint_eq(nx_docstore_count(ds), n);
    for (uint32_t i = 0; i < n; i += 7) {
        snprintf(id, sizeof id, "d%u", i);
        dict_test_body(i, body);
        newsidx_doc *doc;
        ck_assert_int_eq(newsidx_reader_get(r, id, strlen(id), &doc), 0);
        const newsidx_field *f = newsidx_doc_field(doc, 2);
        ck_assert_ptr_nonnull(f);
        ck_assert_str_eq(f->name, "body");
        ck_assert_uint_eq(f->value_len, strlen(body));
        ck_assert_mem_eq(f->value, body, f->value_len);
        newsidx_doc_free(doc);
    }
    newsidx_reader_close(r);
    free(body);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* Per live doc holding body term `term` in a snapshot: its freq and last
 * position, sorted (docs renumbered by a merge compare as a multiset). */
static size_t term_occurrences(const newsidx_reader *r, const char *term, uint64_t *out,
                               size_t cap) {
    const nx_snapshot *s = nx_reader_snapshot(r);
    size_t n = 0;
    for (uint32_t i = 0; i < s->n_segments; i++) {
        nx_term_info ti;
        if (nx_segment_lookup(s->segments[i], NX_F_BODY, term, strlen(term), &ti) != 1) continue;
        nx_postings it;
        ck_assert_int_eq(nx_postings_open(&it, s->segments[i], &ti, true), 0);
        for (uint32_t d = nx_postings_doc(&it); d != NX_NO_DOC; d = nx_postings_next(&it)) {
            const uint32_t *deltas;
            int f = nx_postings_deltas(&it, &deltas);
            ck_assert_int_gt(f, 0);
            uint64_t last = 0;
            for (int k = 0; k < f; k++) last += deltas[k];
            ck_assert_uint_lt(n, cap);
            out[n++] = (uint64_t)f << 32 | last;
        }
        nx_postings_close(&it);
    }
    for (size_t a = 1; a < n; a++) /* insertion sort: a few docs */
        for (size_t b = a; b > 0 && out[b - 1] > out[b]; b--) {
            uint64_t t = out[b];
            out[b] = out[b - 1];
            out[b - 1] = t;
        }
    return n;
}

/* A merge reads its inputs' postings on one thread and writes the new
 * segment's on another, through batches of 256 KiB: a doc whose
 * positions of one term fill several batches (100,000 occurrences,
 * 400 KB of deltas) must come through whole, beside short ones. */
START_TEST(test_a_merge_carries_a_doc_whose_positions_exceed_a_batch) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.threads = 1;
    o.merge_factor = 1000;
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    size_t reps = 100000;
    char *big = malloc(2 * reps + 2);
    for (size_t i = 0; i < reps; i++) memcpy(big + 2 * i, "w ", 2);
    memcpy(big + 2 * reps, "z", 2);
    add_article(w, "a0", "t", big, NULL, NULL);
    add_article(w, "a1", "t", "w z", NULL, NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    add_article(w, "a2", "t", "z w w", NULL, NULL);
    add_article(w, "a3", "t", big, NULL, NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    uint64_t before[8], after[8];
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->n_segments, 2);
    size_t nb = term_occurrences(r, "w", before, 8);
    newsidx_reader_close(r);
    ck_assert_uint_eq(nb, 4);
    ck_assert_uint_eq(before[3] >> 32, reps);
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->n_segments, 1);
    ck_assert_uint_eq(term_occurrences(r, "w", after, 8), nb);
    for (size_t i = 0; i < nb; i++) ck_assert_uint_eq(after[i], before[i]);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "z"), 4);
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    free(big);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_small_ram_budget_flushes_several_segments_with_same_results) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = commit_one_segment_per_article(dir, 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->n_segments, 40);
    newsidx_reader_close(r);
    check_same_content(dir, 40);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_optimize_merges_every_segment_into_one_and_drops_replaced_articles) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = commit_one_segment_per_article(dir, 0);
    char body[128];
    /* replace one committed article: a tombstone the merge must drop */
    body_for(3, body, sizeof body);
    add_article(w, "a3", "t", body, NULL, NULL);
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    newsidx_stats st;
    newsidx_reader_stats(r, &st);
    ck_assert_uint_eq(st.segments, 1);
    ck_assert_uint_eq(st.docs, 40);
    ck_assert_uint_eq(st.deleted_docs, 0);
    newsidx_reader_close(r);
    check_same_content(dir, 40);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* no_sync only leaves out the fsyncs: flushes, a replacement in an append
 * commit and optimize give the same index as with them. */
START_TEST(test_no_sync_commits_the_same_index) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = commit_one_segment_per_article(dir, 1);
    newsidx_writer_close(w);
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.no_sync = 1;
    o.ram_budget_bytes = 1; /* as the first commit: no merge */
    o.merge_factor = 1000;
    o.append = 1;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    char body[128];
    body_for(3, body, sizeof body);
    add_article(w, "a3", "t", body, NULL, NULL); /* replaces a committed article */
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_reader *r = open_reader(dir);
    newsidx_stats st;
    newsidx_reader_stats(r, &st);
    ck_assert_uint_eq(st.docs, 40);
    ck_assert_uint_eq(st.segments, 40); /* a3's old one-doc segment is gone */
    newsidx_reader_close(r);
    check_same_content(dir, 40);
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    check_same_content(dir, 40);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_merge_policy_merges_a_full_tier_and_keeps_date_order) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.merge_factor = 4;
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    char body[128], id[32], date[32];
    for (uint32_t i = 0; i < 200; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        snprintf(date, sizeof date, "%u", (i * 7919u) % 1000u + 1000000000u);
        add_article(w, id, "t", body, date, NULL);
        /* one commit per 10 articles: segments of tier 1 (10..39 docs) */
        if (i % 10 == 9) ck_assert_int_eq(newsidx_writer_commit(w), 0);
    }
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    const nx_snapshot *s = nx_reader_snapshot(r);
    ck_assert_uint_lt(s->n_segments, 20);
    for (uint32_t k = 0; k < s->n_segments; k++) {
        const nx_segment *seg = s->segments[k];
        for (uint32_t d = 1; d < nx_segment_doc_count(seg); d++)
            ck_assert(nx_segment_date(seg, d - 1) <= nx_segment_date(seg, d));
    }
    newsidx_reader_close(r);
    check_same_content(dir, 200);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* The ~700-byte body of article i (the progress and interleaved-merge tests). */
static void long_body(uint32_t i, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "article %u ", i);
    while (n < 600) n += snprintf(buf + n, cap - (size_t)n, "w%u ", (i * 31u + (uint32_t)n) % 997u);
}

/* What the progress callback saw: the current run of calls of one phase,
 * and the checks done on every call. */
typedef struct progress_log {
    int phase;          /* of the current run, 0 before the first call */
    uint64_t done, total, docs_done, text_bytes;
    bool run_ended;     /* the current run's last call had done == total */
    uint32_t runs_ended[NEWSIDX_PHASE_COMMITTING + 1];
    uint32_t max_segments;
    uint32_t calls;
} progress_log;

static void on_progress(void *ctx, const newsidx_writer_progress *p) {
    progress_log *l = ctx;
    l->calls++;
    ck_assert_int_ge(p->phase, NEWSIDX_PHASE_ADDING);
    ck_assert_int_le(p->phase, NEWSIDX_PHASE_COMMITTING);
    ck_assert_uint_le(p->done, p->total);
    ck_assert_uint_le(p->docs_done, p->docs_total);
    ck_assert_uint_ge(p->text_bytes, l->text_bytes); /* text only grows */
    l->text_bytes = p->text_bytes;
    /* ADDING is one call at a time (done == total, articles so far); a
     * FLUSHING inside an add may come between two of them */
    bool starts = p->phase != l->phase || l->run_ended || p->phase == NEWSIDX_PHASE_ADDING;
    if (starts) {
        /* the run before was finished, unless an add's flush interrupted
         * ADDING (which has no run to finish) */
        ck_assert_msg(l->phase == 0 || l->run_ended, "phase %d left at %llu of %llu", l->phase,
                      (unsigned long long)l->done, (unsigned long long)l->total);
        if (p->phase != NEWSIDX_PHASE_ADDING) ck_assert_uint_eq(p->done, 0);
    } else {
        ck_assert_uint_ge(p->done, l->done); /* monotone within a run */
        ck_assert_uint_ge(p->docs_done, l->docs_done);
        ck_assert_uint_eq(p->total, l->total);
    }
    l->phase = p->phase;
    l->done = p->done;
    l->total = p->total;
    l->docs_done = p->docs_done;
    l->run_ended = p->done == p->total;
    if (l->run_ended) l->runs_ended[p->phase]++;
    if (p->phase == NEWSIDX_PHASE_MERGING && p->segments > l->max_segments)
        l->max_segments = p->segments;
}

START_TEST(test_progress_is_monotone_and_ends_each_phase_at_100_percent) {
    char *dir = nxt_tmpdir("index");
    progress_log log = {0};
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.merge_factor = 3;
    o.ram_budget_bytes = 160 * 1024; /* flushes inside newsidx_writer_add */
    o.progress = on_progress;
    o.progress_ctx = &log;
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    char body[700], id[32];
    uint64_t text = 0;
    for (uint32_t i = 0; i < 3000; i++) {
        long_body(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        add_article(w, id, "t", body, NULL, NULL);
        text += strlen(id) + 1 + strlen(body);
        if (i % 300 == 299) ck_assert_int_eq(newsidx_writer_commit(w), 0);
    }
    newsidx_writer_close(w);
    ck_assert(log.run_ended);
    ck_assert_uint_ge(log.runs_ended[NEWSIDX_PHASE_ADDING], 2); /* > 256 KiB of text */
    ck_assert_uint_ge(log.runs_ended[NEWSIDX_PHASE_FLUSHING], 10);
    ck_assert_uint_ge(log.runs_ended[NEWSIDX_PHASE_MERGING], 1);
    ck_assert_uint_ge(log.max_segments, 3);
    ck_assert_uint_eq(log.runs_ended[NEWSIDX_PHASE_COMMITTING], 10);
    ck_assert_uint_eq(log.text_bytes, text);
    /* bounded: at most ~1,000 calls per phase (and every 64 units), not
     * one per doc or term */
    uint32_t runs = 0;
    for (int ph = NEWSIDX_PHASE_FLUSHING; ph <= NEWSIDX_PHASE_COMMITTING; ph++)
        runs += log.runs_ended[ph];
    ck_assert_uint_le(log.calls, log.runs_ended[NEWSIDX_PHASE_ADDING] + runs * 1002u);
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->live_docs, 3000);
    newsidx_reader_close(r);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_merge_of_interleaved_dates_keeps_every_stored_article) {
    /* Segments of 500 articles each spanning every date: the date-ordered
     * merge takes articles from the inputs in turn, each input's doc store
     * block holding ~180 of them, so every input is read in its own order
     * while the merge alternates between them. */
    char *dir = nxt_tmpdir("index");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.merge_factor = 1000;
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    char body[700], id[32], date[32];
    const uint32_t n = 3000;
    for (uint32_t i = 0; i < n; i++) {
        long_body(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        snprintf(date, sizeof date, "%u", (i * 7919u) % n * 60u + 1000000000u);
        add_article(w, id, "t", body, date, NULL);
        if (i % 500 == 499) ck_assert_int_eq(newsidx_writer_commit(w), 0);
    }
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->n_segments, 1);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "a%u", i);
        newsidx_doc *doc;
        ck_assert_int_eq(newsidx_reader_get(r, id, strlen(id), &doc), 0);
        const newsidx_field *bf = newsidx_doc_find(doc, "body");
        long_body(i, body, sizeof body);
        ck_assert_ptr_nonnull(bf);
        ck_assert_str_eq(bf->value, body);
        newsidx_doc_free(doc);
    }
    newsidx_reader_close(r);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_duplicate_id_replaces_in_ram_and_across_commits) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = open_writer(dir, 0, 0);
    unsigned warn;
    add_article(w, "x", "first", "version one", NULL, &warn);
    ck_assert_uint_eq(warn & NEWSIDX_WARN_REPLACED, 0);
    add_article(w, "x", "second", "version two", NULL, &warn);
    ck_assert_uint_ne(warn & NEWSIDX_WARN_REPLACED, 0);
    add_article(w, "y", "other", "version one", NULL, NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->live_docs, 2);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "two"), 1);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "one"), 1);
    newsidx_reader_close(r);
    /* append: replace a committed article */
    w = open_writer(dir, 1, 0);
    add_article(w, "y", "third", "version three", NULL, &warn);
    ck_assert_uint_ne(warn & NEWSIDX_WARN_REPLACED, 0);
    add_article(w, "z", "fresh", "version four", NULL, NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    r = open_reader(dir);
    ck_assert_uint_eq(nx_reader_snapshot(r)->live_docs, 3);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "one"), 0);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "three"), 1);
    newsidx_doc *doc;
    ck_assert_int_eq(newsidx_reader_get(r, "y", 1, &doc), 0);
    ck_assert_str_eq(newsidx_doc_find(doc, "title")->value, "third");
    newsidx_doc_free(doc);
    newsidx_stats st;
    newsidx_reader_stats(r, &st);
    ck_assert_uint_eq(st.docs, 3);
    /* half of the first segment was deleted, more than NX_EXPUNGE_PERCENT:
     * the commit rewrote it without the deleted article */
    ck_assert_uint_eq(st.deleted_docs, 0);
    newsidx_reader_close(r);
    /* replace the first segment's last live article too: the segment holds
     * nothing live and the commit drops it */
    w = open_writer(dir, 1, 0);
    add_article(w, "x", "fourth", "version five", NULL, &warn);
    ck_assert_uint_ne(warn & NEWSIDX_WARN_REPLACED, 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    r = open_reader(dir);
    newsidx_reader_stats(r, &st);
    ck_assert_uint_eq(st.docs, 3);
    ck_assert_uint_eq(st.deleted_docs, 0);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "two"), 0);
    ck_assert_uint_eq(count_term(r, NX_F_BODY, "five"), 1);
    char *seg1 = nx_segment_file(dir, 1, "post");
    ck_assert_int_ne(access(seg1, F_OK), 0); /* its files are gone */
    free(seg1);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    newsidx_reader_close(r);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_second_writer_gets_a_lock_error) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = open_writer(dir, 0, 0);
    newsidx_writer *w2 = NULL;
    char eb[512];
    ck_assert_int_eq(newsidx_writer_open(dir, NULL, eb, sizeof eb, &w2), NEWSIDX_ERR_LOCKED);
    ck_assert_ptr_null(w2);
    ck_assert_ptr_nonnull(strstr(eb, "another writer"));
    newsidx_writer_close(w);
    ck_assert_int_eq(newsidx_writer_open(dir, NULL, eb, sizeof eb, &w2), 0);
    newsidx_writer_close(w2);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_reopen_after_append_sees_both_commits) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = open_writer(dir, 0, 0);
    char body[128], id[32];
    for (uint32_t i = 0; i < 50; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        add_article(w, id, "t", body, NULL, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    w = open_writer(dir, 1, 0);
    for (uint32_t i = 50; i < 120; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        add_article(w, id, "t", body, NULL, NULL);
    }
    /* closing without commit discards: the index still has 50 */
    newsidx_writer_close(w);
    check_same_content(dir, 50);
    w = open_writer(dir, 1, 0);
    for (uint32_t i = 50; i < 120; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        add_article(w, id, "t", body, NULL, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    check_same_content(dir, 120);
    /* append to nothing is an error */
    char *empty = nxt_tmpdir("index");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = 1;
    newsidx_writer *w2;
    ck_assert_int_eq(newsidx_writer_open(empty, &o, NULL, 0, &w2), NEWSIDX_ERR_NOT_FOUND);
    ck_assert_int_eq(nxt_rm_rf(empty), 0);
    free(empty);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

START_TEST(test_norms_are_exact_to_15_then_monotone) {
    for (uint32_t n = 0; n < 16; n++) ck_assert_uint_eq(nx_norm_decode(nx_norm_encode(n)), n);
    uint8_t prev = 0;
    for (uint32_t n = 1; n < 5000000; n += 1 + n / 50) {
        uint8_t b = nx_norm_encode(n);
        ck_assert_uint_ge(b, prev);
        ck_assert_uint_le(nx_norm_decode(b), n);
        ck_assert_uint_gt(nx_norm_decode(b) * 8 / 7 + 2, n * 8 / 9);
        prev = b;
    }
    ck_assert_uint_le(nx_norm_encode(UINT32_MAX), 255);
}
END_TEST

START_TEST(test_missing_id_is_derived_and_bad_date_is_kept_as_text) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = open_writer(dir, 0, 0);
    unsigned warn;
    add_article(w, NULL, "t", "body text", "not a date", &warn);
    ck_assert_uint_ne(warn & NEWSIDX_WARN_ID_DERIVED, 0);
    ck_assert_uint_ne(warn & NEWSIDX_WARN_DATE_UNPARSED, 0);
    add_article(w, "e", "t", NULL, NULL, &warn);
    ck_assert_uint_ne(warn & NEWSIDX_WARN_EMPTY_BODY, 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    const nx_segment *seg = nx_reader_snapshot(r)->segments[0];
    /* both undated: with two workers either may come first */
    size_t len;
    const char *id = nx_segment_id(seg, 0, &len);
    if (len == 1) id = nx_segment_id(seg, 1, &len);
    ck_assert_uint_eq(len, 16);
    newsidx_doc *doc;
    ck_assert_int_eq(newsidx_reader_get(r, id, len, &doc), 0);
    ck_assert_str_eq(newsidx_doc_find(doc, "date")->value, "not a date");
    int64_t dt;
    ck_assert_int_eq(newsidx_doc_date(doc, &dt), NEWSIDX_ERR_NOT_FOUND);
    newsidx_doc_free(doc);
    newsidx_reader_close(r);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST


static void on_problem(void *ctx, const char *file, uint64_t off, const char *msg) {
    nx_buf *b = ctx;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s:%llu: %s\n", file, (unsigned long long)off, msg);
    nx_buf_append(b, line, (size_t)n);
}

/* The whole file at path (malloc'd) and its length. */
static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Threads asking ids of a fresh segment at once: each block is expanded
 * once (the slot is set with a compare-and-swap) and every thread reads
 * the same bytes. */
typedef struct id_reader {
    const nx_segment *seg;
    uint32_t start, wrong;
} id_reader;

static void *read_ids(void *arg) {
    id_reader *t = arg;
    uint32_t n = nx_segment_doc_count(t->seg);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t d = (t->start + k * 7) % n;
        char want[16];
        int wl = snprintf(want, sizeof want, "id-%03u", d);
        size_t len;
        const char *id = nx_segment_id(t->seg, d, &len);
        t->wrong += !id || len != (size_t)wl || memcmp(id, want, len) != 0;
    }
    return NULL;
}

/* Ids are expanded a block of 16 at a time when first asked for, by any
 * thread; a damaged block passes open and is named (the .col file) by the
 * search that needs one of its ids and by check, while the other blocks
 * still answer. */
START_TEST(test_ids_expand_per_block_on_demand_and_a_damaged_block_is_named) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.threads = 1; /* the 100 ids in one segment: workers would split them */
    newsidx_writer *w = NULL;
    char eb[512];
    ck_assert_msg(newsidx_writer_open(dir, &o, eb, sizeof eb, &w) == 0, "%s", eb);
    char id[16];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "id-%03d", i);
        add_article(w, id, "common", "words", NULL, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    const nx_segment *seg = nx_reader_snapshot(r)->segments[0];
    ck_assert_uint_eq(nx_segment_doc_count(seg), 100);
    pthread_t th[4];
    id_reader tr[4];
    for (int i = 0; i < 4; i++) {
        tr[i] = (id_reader){.seg = seg, .start = (uint32_t)i * 13};
        ck_assert_int_eq(pthread_create(&th[i], NULL, read_ids, &tr[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_uint_eq(tr[i].wrong, 0);
    }
    newsidx_reader_close(r);

    /* block 1's first id claims a prefix shared with an id before it */
    char path[1024];
    snprintf(path, sizeof path, "%s/seg_1.col", dir);
    size_t len;
    uint8_t *c = read_whole(path, &len);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(nx_load_u32le(c + 12) & 0xf2, 0); /* no dates, no sources */
    /* the near-duplicate hashes (flag bit 2) come before the id blocks */
    size_t blocks = 112 + (nx_load_u32le(c + 12) & 4 ? 8 * 100 : 0), n_blocks = (100 + 15) / 16;
    size_t blob = blocks + (4 * (n_blocks + 1) + 7) / 8 * 8 + 8 + 4;
    ck_assert_uint_eq(nx_load_u32le(c + blob - 4), nx_load_u32le(c + blocks + 4 * n_blocks));
    c[blob + nx_load_u32le(c + blocks + 4)] = 1;
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(c, 1, len, f), len);
    fclose(f);
    free(c);

    r = open_reader(dir);
    seg = nx_reader_snapshot(r)->segments[0];
    size_t l;
    ck_assert_ptr_nonnull(nx_segment_id(seg, 15, &l));
    ck_assert_ptr_null(nx_segment_id(seg, 16, &l));
    ck_assert_ptr_nonnull(nx_segment_id(seg, 32, &l));
    newsidx_query *q = NULL;
    eb[0] = '\0';
    ck_assert_int_eq(newsidx_query_parse(r, "common", 6, NULL, NULL, eb, sizeof eb, &q), 0);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.k = 100;
    newsidx_results *res = NULL;
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, eb, sizeof eb, &res), NEWSIDX_ERR_CORRUPT);
    ck_assert_msg(strstr(eb, "seg_1.col") != NULL, "%s", eb);
    newsidx_results_free(res);
    newsidx_query_free(q);
    newsidx_reader_close(r);
    nx_buf problems = {0};
    ck_assert_int_eq(newsidx_check(dir, on_problem, &problems), NEWSIDX_ERR_CORRUPT);
    ck_assert_msg(problems.len && strstr((const char *)problems.data, "seg_1.col"), "%.*s",
                  (int)problems.len, (const char *)problems.data);
    nx_buf_free(&problems);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST


START_TEST(test_check_passes_a_sound_index_and_names_a_damaged_file) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = open_writer(dir, 0, 0);
    char body[128], id[32];
    for (uint32_t i = 0; i < 700; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        add_article(w, id, "t", body, NULL, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    add_article(w, "a5", "t", "replaced", NULL, NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    nx_buf b = {0};
    int crc = newsidx_check(dir, on_problem, &b);
    nx_buf_putc(&b, 0);
    ck_assert_msg(crc == 0, "%s", (char *)b.data);
    b.len = 0;
    /* flip one byte in the middle of the first segment's postings file */
    newsidx_reader *r = open_reader(dir);
    uint32_t first_seg = nx_reader_snapshot(r)->segments[0]->seg_no;
    newsidx_reader_close(r);
    char *path = nx_segment_file(dir, first_seg, "post");
    char name[32];
    snprintf(name, sizeof name, "/seg_%u.post", first_seg);
    FILE *fp = fopen(path, "r+b");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, size / 3, SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, size / 3, SEEK_SET);
    fputc(ch ^ 0x55, fp);
    fclose(fp);
    ck_assert_int_eq(newsidx_check(dir, on_problem, &b), NEWSIDX_ERR_CORRUPT);
    nx_buf_putc(&b, 0);
    ck_assert_ptr_nonnull(strstr((char *)b.data, name));
    ck_assert_ptr_nonnull(strstr((char *)b.data, "checksum"));
    /* a missing file is reported too */
    b.len = 0;
    unlink(path);
    ck_assert_int_eq(newsidx_check(dir, on_problem, &b), NEWSIDX_ERR_CORRUPT);
    nx_buf_putc(&b, 0);
    ck_assert_ptr_nonnull(strstr((char *)b.data, name));
    free(path);
    nx_buf_free(&b);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* An index of another format version is refused at open with a message
 * naming the file and both versions (never read as if it were ours). */
START_TEST(test_other_format_version_is_refused_with_its_number) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer *w = open_writer(dir, 0, 0);
    add_article(w, "v1", "t", "some words", NULL, NULL);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    char path[1024];
    snprintf(path, sizeof path, "%s/seg_1.post", dir);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, -32 + 8, SEEK_END), 0);
    unsigned char v[4] = {2, 0, 0, 0}; /* the version before the dictionary was mapped */
    ck_assert_uint_eq(fwrite(v, 1, 4, f), 4);
    fclose(f);
    newsidx_reader *r = NULL;
    char eb[512] = "";
    ck_assert_int_eq(newsidx_reader_open(dir, eb, sizeof eb, &r), NEWSIDX_ERR_VERSION);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(eb, "seg_1.post") && strstr(eb, "format version 2, this library reads 5"), "%s", eb);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

/* Distinct segment numbers with files in dir. */
static unsigned segments_on_disk(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    static unsigned char seen[65536];
    memset(seen, 0, sizeof seen);
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned no;
        if (sscanf(e->d_name, "seg_%u.", &no) == 1 && no < sizeof seen && !seen[no]++) n++;
    }
    closedir(d);
    return n;
}

/* A long run flushes many small segments and merges them as they pile up:
 * the merged flushes' files go at once, so the disk holds the segments
 * the writer has, not every flush and merge since the last commit. */
START_TEST(test_merged_flushes_leave_the_disk_before_the_commit) {
    char *dir = nxt_tmpdir("index");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.threads = 1;
    o.ram_budget_bytes = 64 * 1024;
    o.merge_factor = 3;
    o.no_sync = 1;
    newsidx_writer *w = NULL;
    char eb[512];
    ck_assert_msg(newsidx_writer_open(dir, &o, eb, sizeof eb, &w) == 0, "%s", eb);
    char id[32], body[600];
    unsigned most = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "a%05d", i);
        int n = 0;
        for (int k = 0; k < 60; k++)
            n += snprintf(body + n, sizeof body - (size_t)n, "w%d ", (i * 7 + k * 13) % 5000);
        add_article(w, id, "title", body, NULL, NULL);
        if (i % 250 == 249) {
            unsigned s = segments_on_disk(dir);
            most = s > most ? s : most;
        }
    }
    /* 64 KiB flushes every few dozen articles: ~50 flushes by now (held
     * until the commit, they were thousands of files) */
    ck_assert_uint_le(most, 16);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    newsidx_stats st;
    newsidx_reader_stats(r, &st);
    ck_assert_uint_eq(st.docs, 3000);
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    free(dir);
}
END_TEST

/* Segments that one run of `threads` workers leaves in dir after adding
 * articles a<first>..a<first + n - 1> with a 64 KiB budget (a flush every
 * few articles) and committing, with keep_flushes and merge_factor as
 * given; appends when `append`. */
static uint32_t run_with_factor(const char *dir, bool append, uint32_t first, uint32_t n,
                                uint32_t threads, int keep_flushes, uint32_t merge_factor) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = append;
    o.threads = threads;
    o.ram_budget_bytes = 64 * 1024;
    o.merge_factor = merge_factor;
    o.keep_flushes = keep_flushes;
    o.no_sync = 1;
    newsidx_writer *w = NULL;
    char eb[512];
    ck_assert_msg(newsidx_writer_open(dir, &o, eb, sizeof eb, &w) == 0, "%s", eb);
    char id[32], body[128];
    for (uint32_t i = first; i < first + n; i++) {
        body_for(i, body, sizeof body);
        snprintf(id, sizeof id, "a%u", i);
        add_article(w, id, "t", body, NULL, NULL);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    uint32_t segs = nx_reader_snapshot(r)->n_segments;
    newsidx_reader_close(r);
    return segs;
}

/* The same without tier merges (merge_factor 1000). */
static uint32_t run_and_count_segments(const char *dir, bool append, uint32_t first, uint32_t n,
                                       uint32_t threads, int keep_flushes) {
    return run_with_factor(dir, append, first, n, threads, keep_flushes, 1000);
}

/* A run whose flushes fill no tier (fewer than merge_factor of a size)
 * used to commit them as they were: ten 100,000-article indexes searched
 * as one had 60 segments. The commit merges a run's flushes that no tier
 * merge took into one, with one worker or several, and leaves the
 * segments of earlier commits to the tier policy. */
START_TEST(test_a_commit_merges_the_runs_leftover_flushes_into_one) {
    char *dir = nxt_tmpdir("index");
    /* the same run without the merge: several flushes */
    ck_assert_uint_gt(run_and_count_segments(dir, false, 0, 400, 1, 1), 3);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    for (uint32_t threads = 1; threads <= 2; threads++) {
        ck_assert_uint_eq(run_and_count_segments(dir, false, 0, 400, threads, 0), 1);
        check_same_content(dir, 400);
        /* an appending run's flushes become one more segment */
        ck_assert_uint_eq(run_and_count_segments(dir, true, 400, 400, threads, 0), 2);
        check_same_content(dir, 800);
        ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
        ck_assert_int_eq(nxt_rm_rf(dir), 0);
    }
    /* with tier merges in the background, the commit merges the flushes
     * the running one does not read beside it, then what is left */
    ck_assert_uint_ge(run_with_factor(dir, false, 0, 1000, 2, 0, 3), 1);
    check_same_content(dir, 1000);
    ck_assert_int_eq(newsidx_check(dir, NULL, NULL), 0);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    free(dir);
}
END_TEST

static Suite *index_suite(void) {
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_segment_postings_round_trip_at_block_edges);
    tcase_add_test(tc, test_reordered_entries_are_written_in_doc_order);
    tcase_add_test(tc, test_pfor_exceptions_of_every_width_round_trip);
    tcase_add_test(tc, test_writer_round_trip_with_dates_in_order);
    tcase_add_test(tc, test_dictionary_prefix_walk_is_sorted_and_bounded);
    tcase_add_test(tc, test_small_ram_budget_flushes_several_segments_with_same_results);
    tcase_add_test(tc, test_a_merge_carries_a_doc_whose_positions_exceed_a_batch);
    tcase_add_test(tc, test_a_writer_run_trains_one_doc_store_dictionary_that_merges_keep);
    tcase_add_test(tc, test_merge_policy_merges_a_full_tier_and_keeps_date_order);
    tcase_add_test(tc, test_no_sync_commits_the_same_index);
    tcase_add_test(tc, test_progress_is_monotone_and_ends_each_phase_at_100_percent);
    tcase_add_test(tc, test_merge_of_interleaved_dates_keeps_every_stored_article);
    tcase_add_test(tc, test_optimize_merges_every_segment_into_one_and_drops_replaced_articles);
    tcase_add_test(tc, test_duplicate_id_replaces_in_ram_and_across_commits);
    tcase_add_test(tc, test_second_writer_gets_a_lock_error);
    tcase_add_test(tc, test_reopen_after_append_sees_both_commits);
    tcase_add_test(tc, test_other_format_version_is_refused_with_its_number);
    tcase_add_test(tc, test_norms_are_exact_to_15_then_monotone);
    tcase_add_test(tc, test_missing_id_is_derived_and_bad_date_is_kept_as_text);
    tcase_add_test(tc, test_check_passes_a_sound_index_and_names_a_damaged_file);
    tcase_add_test(tc, test_ids_expand_per_block_on_demand_and_a_damaged_block_is_named);
    tcase_add_test(tc, test_merged_flushes_leave_the_disk_before_the_commit);
    tcase_add_test(tc, test_a_commit_merges_the_runs_leftover_flushes_into_one);
    tcase_add_test(tc, test_a_streamed_segment_holds_little_whatever_its_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return nxt_run(index_suite(), CK_FORK_GETENV);
}
