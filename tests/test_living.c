/* Living-archive suite: deletes (by id, by query), updates, rollback,
 * reader refresh, optimize giving space back; reader processes searching
 * while a writer commits hundreds of times; and SIGKILL of the writer at
 * random moments. The writer's work is a deterministic script (the commit
 * number seeds it), so any process can compute exactly which articles
 * commit c holds: a model to check every result against. */
#include "newsidx.h"

#include "common.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the script and its model -------------------------------------------- */

#define MAX_IDS 4096
#define GROUPS 16

typedef struct model {
    uint32_t next;            /* ids d0 .. d(next-1) were ever added */
    bool live[MAX_IDS];
    uint8_t group[MAX_IDS];   /* the grp<N> word of its current version */
    uint16_t version[MAX_IDS];
    uint32_t n_live;
} model;

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rnd(rng *r) { return (uint32_t)(nxt_xorshift64(&r->s) >> 11); }

enum { OP_ADD, OP_UPDATE, OP_DELETE, OP_DELETE_MISSING, OP_DELETE_QUERY };

typedef struct op {
    int kind;
    uint32_t id;
    uint8_t group;
} op;

/* The operations of commit c (1-based), chosen from the state before it. */
static size_t script(const model *m, uint32_t c, op *ops) {
    rng r = {0x9e3779b97f4a7c15ull ^ ((uint64_t)c * 0x100000001b3ull)};
    for (int i = 0; i < 3; i++) rnd(&r);
    size_t n = 4 + rnd(&r) % 8, k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = rnd(&r) % 20;
        op o = {OP_ADD, 0, (uint8_t)(rnd(&r) % GROUPS)};
        uint32_t pick = m->next ? rnd(&r) % m->next : 0;
        if (x < 10 || m->n_live == 0 || m->next >= MAX_IDS - 16) o.kind = OP_ADD;
        else if (x < 14) o.kind = OP_UPDATE;
        else if (x < 18) o.kind = OP_DELETE;
        else o.kind = OP_DELETE_MISSING;
        if (o.kind == OP_ADD && m->next >= MAX_IDS - 16) o.kind = OP_DELETE;
        o.id = pick;
        ops[k++] = o;
    }
    if (c % 7 == 0) ops[k++] = (op){OP_DELETE_QUERY, 0, (uint8_t)(rnd(&r) % GROUPS)};
    return k;
}

static void model_apply(model *m, const op *ops, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const op *o = &ops[i];
        switch (o->kind) {
        case OP_ADD:
            m->live[m->next] = true;
            m->group[m->next] = o->group;
            m->version[m->next] = 0;
            m->next++;
            m->n_live++;
            break;
        case OP_UPDATE:
            if (!m->live[o->id]) m->n_live++;
            m->live[o->id] = true;
            m->group[o->id] = o->group;
            m->version[o->id]++;
            break;
        case OP_DELETE:
            if (m->live[o->id]) m->n_live--;
            m->live[o->id] = false;
            break;
        case OP_DELETE_MISSING:
            break;
        case OP_DELETE_QUERY:
            for (uint32_t d = 0; d < m->next; d++)
                if (m->live[d] && m->group[d] == o->group) {
                    m->live[d] = false;
                    m->n_live--;
                }
            break;
        }
    }
}

/* The model after commit c (0: empty). */
static void model_at(uint32_t c, model *m) {
    memset(m, 0, sizeof *m);
    op ops[32];
    for (uint32_t k = 1; k <= c; k++) model_apply(m, ops, script(m, k, ops));
}

/* Runs commit c's operations on the writer (the model m is the state
 * before it and is advanced). Returns 0 or the failing call's code. */
static int writer_run(newsidx_writer *w, model *m, uint32_t c) {
    op ops[32];
    size_t n = script(m, c, ops);
    for (size_t i = 0; i < n; i++) {
        const op *o = &ops[i];
        char id[16], title[64], body[128];
        uint32_t d = o->kind == OP_ADD ? m->next : o->id;
        if (o->kind == OP_DELETE_MISSING) d = MAX_IDS + c;
        snprintf(id, sizeof id, "d%u", d);
        int rc = 0;
        uint64_t hits = 0;
        if (o->kind == OP_ADD || o->kind == OP_UPDATE) {
            unsigned v = o->kind == OP_ADD ? 0u : m->version[d] + 1u;
            snprintf(title, sizeof title, "article %u version %u", d, v);
            snprintf(body, sizeof body, "common words grp%u and text of d%u", o->group, d);
            newsidx_field f[3] = {{"id", id, strlen(id)},
                                  {"title", title, strlen(title)},
                                  {"body", body, strlen(body)}};
            rc = newsidx_writer_add(w, f, 3, NULL);
        } else if (o->kind == OP_DELETE || o->kind == OP_DELETE_MISSING) {
            rc = newsidx_writer_delete(w, id, strlen(id), &hits);
            if (rc == 0 && hits != (o->kind == OP_DELETE && m->live[d] ? 1u : 0u)) return -100;
        } else {
            char q[32];
            snprintf(q, sizeof q, "body:grp%u", o->group);
            rc = newsidx_writer_delete_query(w, q, strlen(q), &hits);
            uint64_t want = 0;
            for (uint32_t k = 0; k < m->next; k++) want += m->live[k] && m->group[k] == o->group;
            if (rc == 0 && hits != want) return -101;
        }
        if (rc) return rc;
        model_apply(m, o, 1);
    }
    return 0;
}

/* Checks that reader r holds exactly the model of its generation: the
 * total, every id, and each article's version. Returns NULL or what differs. */
static const char *reader_matches_model(newsidx_reader *r, char *why, size_t cap) {
    newsidx_stats st;
    if (newsidx_reader_stats(r, &st)) return "stats failed";
    static model m;
    model_at((uint32_t)st.generation, &m);
    if (st.docs != m.n_live) {
        snprintf(why, cap, "generation %llu: stats say %llu articles, the model %u",
                 (unsigned long long)st.generation, (unsigned long long)st.docs, m.n_live);
        return why;
    }
    newsidx_query *q;
    if (newsidx_query_parse(r, "common", 6, NULL, NULL, NULL, 0, &q)) return "parse failed";
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.k = MAX_IDS;
    so.snippets = 0;
    so.fields = "title";
    newsidx_results *res;
    char eb[256];
    if (newsidx_search_v2(r, q, &so, eb, sizeof eb, &res)) {
        newsidx_query_free(q);
        snprintf(why, cap, "search failed: %s", eb);
        return why;
    }
    newsidx_query_free(q);
    static bool seen[MAX_IDS];
    memset(seen, 0, sizeof seen);
    const char *bad = NULL;
    if (newsidx_results_total(res) != m.n_live || newsidx_results_count(res) != m.n_live) {
        snprintf(why, cap, "generation %llu: %llu hits (%zu returned), the model %u",
                 (unsigned long long)st.generation, (unsigned long long)newsidx_results_total(res),
                 newsidx_results_count(res), m.n_live);
        bad = why;
    }
    for (size_t i = 0; !bad && i < newsidx_results_count(res); i++) {
        unsigned d = 0, v = 0;
        const newsidx_field *t = newsidx_hit_field(res, i, "title");
        if (sscanf(newsidx_hit_id(res, i), "d%u", &d) != 1 || d >= MAX_IDS || !m.live[d] ||
            seen[d] || !t || sscanf(t->value, "article %*u version %u", &v) != 1 ||
            v != m.version[d]) {
            snprintf(why, cap, "generation %llu: hit %s (%s) is not in the model",
                     (unsigned long long)st.generation, newsidx_hit_id(res, i),
                     t ? t->value : "no title");
            bad = why;
        }
        seen[d] = true;
    }
    newsidx_results_free(res);
    return bad;
}

/* ---- fixtures ------------------------------------------------------------ */

static char dir[64];

static void setup(void) {
    nxt_tmpdir_into("living", dir, sizeof dir);
}

static void teardown(void) { ck_assert_int_eq(nxt_rm_rf(dir), 0); }

static newsidx_writer *open_writer(const char *path, int append, uint32_t merge_factor) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = append;
    o.merge_factor = merge_factor;
    o.no_sync = 1;
    newsidx_writer *w;
    char eb[512];
    ck_assert_msg(newsidx_writer_open(path, &o, eb, sizeof eb, &w) == 0, "%s", eb);
    return w;
}

static void add(newsidx_writer *w, const char *id, const char *title, const char *body,
                const char *date) {
    newsidx_field f[4] = {{"id", id, strlen(id)},
                          {"title", title, strlen(title)},
                          {"body", body, strlen(body)},
                          {"date", date, strlen(date)}};
    ck_assert_int_eq(newsidx_writer_add(w, f, date[0] ? 4 : 3, NULL), 0);
}

static uint64_t count(newsidx_reader *r, const char *query) {
    newsidx_query *q;
    ck_assert_int_eq(newsidx_query_parse(r, query, strlen(query), NULL, NULL, NULL, 0, &q), 0);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.count_only = 1;
    newsidx_results *res;
    ck_assert_int_eq(newsidx_search_v2(r, q, &so, NULL, 0, &res), 0);
    uint64_t n = newsidx_results_total(res);
    newsidx_results_free(res);
    newsidx_query_free(q);
    return n;
}

static newsidx_reader *open_reader(const char *path) {
    newsidx_reader *r;
    char eb[512];
    ck_assert_msg(newsidx_reader_open(path, eb, sizeof eb, &r) == 0, "%s", eb);
    return r;
}

static bool has(newsidx_reader *r, const char *id) {
    newsidx_doc *d;
    int rc = newsidx_reader_get(r, id, strlen(id), &d);
    newsidx_doc_free(d);
    return rc == 0;
}

/* ---- writes ------------------------------------------------------------- */

START_TEST(test_delete_by_id_reports_what_it_touched_and_vanishes_at_commit) {
    newsidx_writer *w = open_writer(dir, 0, 10);
    add(w, "a", "Oil prices", "oil rose", "2024-01-05");
    add(w, "b", "Gold prices", "gold fell", "2024-02-05");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    add(w, "c", "Cocoa", "cocoa oil", "2024-03-05");
    uint64_t n = 9;
    ck_assert_int_eq(newsidx_writer_delete(w, "a", 1, &n), 0); /* committed */
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(newsidx_writer_delete(w, "c", 1, &n), 0); /* in the RAM buffer */
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(newsidx_writer_delete(w, "a", 1, &n), 0); /* already gone */
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(newsidx_writer_delete(w, "zz", 2, NULL), 0); /* never there */
    newsidx_reader *before = open_reader(dir);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_reader *r = open_reader(dir);
    ck_assert(!has(r, "a") && has(r, "b") && !has(r, "c"));
    ck_assert_uint_eq(count(r, "oil"), 0);
    ck_assert_uint_eq(count(r, "prices"), 1);
    newsidx_stats st;
    newsidx_reader_stats(r, &st);
    ck_assert_uint_eq(st.docs, 1);
    /* a reader opened before keeps its snapshot */
    ck_assert(has(before, "a"));
    ck_assert_uint_eq(count(before, "oil"), 1);
    newsidx_reader_close(before);
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_writer_delete(w, NULL, 1, &n), NEWSIDX_ERR_INVALID);
    newsidx_writer_close(w);
}
END_TEST

START_TEST(test_delete_by_query_removes_every_match_in_the_analyzer_of_the_index) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.stem_language = "english";
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(dir, &o, NULL, 0, &w), 0);
    add(w, "old1", "Wires", "running wire story", "1989-05-01");
    add(w, "old2", "Wires", "another wire", "1990-12-31");
    add(w, "new1", "Wires", "wire runs", "1991-01-01");
    add(w, "nodate", "Wires", "wire", "");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    add(w, "buf", "Buffered", "runner", "1985-01-01"); /* not yet committed */
    uint64_t n = 0;
    ck_assert_int_eq(newsidx_writer_delete_query(w, "date:..1990-12-31", 17, &n), 0);
    ck_assert_uint_eq(n, 3);
    /* stemmed like the index: "runs" finds "running"... now all gone but new1 */
    ck_assert_int_eq(newsidx_writer_delete_query(w, "runs", 4, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(newsidx_writer_delete_query(w, "runs", 4, &n), 0);
    ck_assert_uint_eq(n, 0);
    char eb[256];
    ck_assert_int_eq(newsidx_writer_delete_query(w, "(oops", 5, &n), NEWSIDX_ERR_SYNTAX);
    snprintf(eb, sizeof eb, "%s", newsidx_writer_errmsg(w));
    ck_assert_msg(strstr(eb, "column") != NULL, "%s", eb);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_reader *r = open_reader(dir);
    newsidx_stats st;
    newsidx_reader_stats(r, &st);
    ck_assert_uint_eq(st.docs, 1);
    ck_assert(has(r, "nodate"));
    newsidx_reader_close(r);
    newsidx_writer_close(w);
}
END_TEST

START_TEST(test_update_replaces_at_commit_and_rollback_forgets_everything_since) {
    newsidx_writer *w = open_writer(dir, 0, 10);
    add(w, "a", "Version one", "first text", "2024-01-01");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    add(w, "a", "Version two", "second text", "2024-01-02");
    newsidx_reader *r = open_reader(dir);
    ck_assert_uint_eq(count(r, "first"), 1);
    newsidx_reader_close(r);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    r = open_reader(dir);
    ck_assert_uint_eq(count(r, "first"), 0);
    ck_assert_uint_eq(count(r, "second"), 1);
    newsidx_reader_close(r);
    /* rollback: an add, an update, a delete and a flushed segment vanish */
    add(w, "b", "New", "third text", "2024-01-03");
    add(w, "a", "Version three", "third text", "2024-01-03");
    ck_assert_int_eq(newsidx_writer_delete(w, "a", 1, NULL), 0);
    ck_assert_int_eq(newsidx_writer_delete_query(w, "second", 6, NULL), 0); /* flushes */
    ck_assert_int_eq(newsidx_writer_rollback(w), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    r = open_reader(dir);
    ck_assert_uint_eq(count(r, "second"), 1);
    ck_assert_uint_eq(count(r, "third"), 0);
    ck_assert(!has(r, "b"));
    newsidx_reader_close(r);
    /* the writer goes on after a rollback */
    add(w, "c", "After", "fourth text", "2024-01-04");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    r = open_reader(dir);
    ck_assert_uint_eq(count(r, "fourth"), 1);
    newsidx_reader_close(r);
    /* no file of the rolled-back segment is left */
    DIR *d = opendir(dir);
    struct dirent *e;
    int manifests = 0;
    while ((e = readdir(d))) manifests += strncmp(e->d_name, "MANIFEST-", 9) == 0;
    closedir(d);
    ck_assert_int_eq(manifests, 1);
}
END_TEST

/* ---- readers that keep up --------------------------------------------------- */

START_TEST(test_refresh_shares_what_did_not_change_and_says_when_nothing_did) {
    newsidx_writer *w = open_writer(dir, 0, 10);
    add(w, "a", "One", "alpha", "2024-01-01");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_reader *r = open_reader(dir);
    newsidx_reader *newer = (newsidx_reader *)1;
    char eb[256];
    ck_assert_int_eq(newsidx_reader_refresh(r, eb, sizeof eb, &newer), 0);
    ck_assert_ptr_null(newer); /* nothing changed */
    add(w, "b", "Two", "alpha beta", "2024-01-02");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    ck_assert_int_eq(newsidx_reader_refresh(r, eb, sizeof eb, &newer), 0);
    ck_assert_ptr_nonnull(newer);
    ck_assert_uint_eq(count(newer, "alpha"), 2);
    ck_assert_uint_eq(count(r, "alpha"), 1); /* the old handle stays valid */
    newsidx_reader_close(r);
    /* deletes: the refreshed reader sees them, the segment's files are shared */
    ck_assert_int_eq(newsidx_writer_delete(w, "a", 1, NULL), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_reader *third;
    ck_assert_int_eq(newsidx_reader_refresh(newer, eb, sizeof eb, &third), 0);
    ck_assert_ptr_nonnull(third);
    ck_assert_uint_eq(count(third, "alpha"), 1);
    ck_assert_uint_eq(count(newer, "alpha"), 2);
    ck_assert(!has(third, "a") && has(newer, "a"));
    newsidx_reader_close(newer);
    ck_assert(has(third, "b"));
    newsidx_reader_close(third);
    newsidx_writer_close(w);
}
END_TEST

/* A segment number names other files in the index built again under a
 * reader (and after a failed commit's rollback, which numbers the next
 * segments as it did the failed ones): refresh opens them, not the files
 * the reader had under that number, which the manifest's checksums refuse. */
START_TEST(test_refresh_of_an_index_built_again_opens_its_files) {
    newsidx_writer *w = open_writer(dir, 0, 10);
    add(w, "a1", "One", "alpha", "2024-01-01");
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r = open_reader(dir);
    ck_assert_int_eq(nxt_rm_rf(dir), 0);
    w = open_writer(dir, 0, 10);
    add(w, "z1", "Zed", "zeta", "2024-02-01");
    ck_assert_int_eq(newsidx_writer_commit(w), 0); /* seg_1 again, other files */
    add(w, "z2", "Zed", "zeta", "2024-02-02");
    ck_assert_int_eq(newsidx_writer_commit(w), 0); /* generation 2: newer than the reader's */
    newsidx_writer_close(w);
    newsidx_reader *newer = NULL;
    char eb[512];
    ck_assert_msg(newsidx_reader_refresh(r, eb, sizeof eb, &newer) == 0, "%s", eb);
    ck_assert_ptr_nonnull(newer);
    ck_assert_uint_eq(count(newer, "zeta"), 2);
    ck_assert_uint_eq(count(newer, "alpha"), 0);
    ck_assert(!has(newer, "a1") && has(newer, "z1"));
    ck_assert_uint_eq(count(r, "alpha"), 1); /* the old handle keeps its mapped files */
    newsidx_reader_close(newer);
    newsidx_reader_close(r);
}
END_TEST

static uint64_t dir_bytes(const char *path) {
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    uint64_t n = 0;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) n += (uint64_t)st.st_size;
    }
    closedir(d);
    return n;
}

START_TEST(test_delete_half_then_optimize_gives_the_space_back) {
    char big[128], fresh[128];
    snprintf(big, sizeof big, "%s/big", dir);
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    newsidx_writer *w = open_writer(big, 0, 10), *f = open_writer(fresh, 0, 10);
    char id[32], body[256], date[32];
    rng r = {42};
    for (int i = 0; i < 4000; i++) {
        snprintf(id, sizeof id, "n%d", i);
        snprintf(body, sizeof body, "story %d about w%u and w%u with w%u, w%u and w%u", i,
                 rnd(&r) % 5000, rnd(&r) % 5000, rnd(&r) % 300, rnd(&r) % 50, rnd(&r) % 9000);
        snprintf(date, sizeof date, "2020-%02d-%02d", 1 + i % 12, 1 + i % 28);
        add(w, id, "News", body, date);
        if (i % 2) add(f, id, "News", body, date);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    ck_assert_int_eq(newsidx_writer_commit(f), 0);
    for (int i = 0; i < 4000; i += 2) {
        snprintf(id, sizeof id, "n%d", i);
        uint64_t n;
        ck_assert_int_eq(newsidx_writer_delete(w, id, strlen(id), &n), 0);
        ck_assert_uint_eq(n, 1);
    }
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    ck_assert_int_eq(newsidx_writer_optimize(w), 0);
    newsidx_writer_close(w);
    newsidx_writer_close(f);
    uint64_t a = dir_bytes(big), b = dir_bytes(fresh);
    ck_assert_msg(a <= b + b / 10 && b <= a + a / 10, "optimized %llu bytes, fresh %llu",
                  (unsigned long long)a, (unsigned long long)b);
}
END_TEST

/* ---- processes ------------------------------------------------------------- */

/* 200 commits and 100 kills at full size (CI), fewer in the everyday run */
#define COMMITS (nxt_small() ? 60u : 200u)
#define KILLS (nxt_small() ? 30 : 100)
#define READERS 4

/* A reader process: opens or refreshes, checks against the model, until the
 * writer has made its last commit; exits 0 after at least one check. */
static int reader_loop(const char *path, int who) {
    newsidx_reader *r = NULL;
    char why[512], eb[512];
    int checks = 0;
    for (;;) {
        int rc;
        if (!r || (checks + who) % 3 == 0) {
            newsidx_reader_close(r);
            r = NULL;
            rc = newsidx_reader_open(path, eb, sizeof eb, &r);
            if (rc == NEWSIDX_ERR_NOT_FOUND) {
                usleep(1000);
                continue;
            }
        } else {
            newsidx_reader *newer;
            rc = newsidx_reader_refresh(r, eb, sizeof eb, &newer);
            if (rc == 0 && newer) {
                newsidx_reader_close(r);
                r = newer;
            }
        }
        if (rc) {
            fprintf(stderr, "reader %d: %s\n", who, eb);
            return 1;
        }
        const char *bad = reader_matches_model(r, why, sizeof why);
        if (bad) {
            fprintf(stderr, "reader %d: %s\n", who, bad);
            return 1;
        }
        checks++;
        newsidx_stats st;
        newsidx_reader_stats(r, &st);
        if (st.generation >= COMMITS) break;
    }
    newsidx_reader_close(r);
    return checks > 0 ? 0 : 1;
}

START_TEST(test_readers_in_other_processes_always_see_exactly_one_commit) {
    pid_t kids[READERS];
    for (int i = 0; i < READERS; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) _exit(reader_loop(dir, i));
    }
    static model m;
    memset(&m, 0, sizeof m);
    newsidx_writer *w = open_writer(dir, 0, 3);
    for (uint32_t c = 1; c <= COMMITS; c++) {
        int rc = writer_run(w, &m, c);
        ck_assert_msg(rc == 0, "commit %u: %d %s", c, rc, newsidx_writer_errmsg(w));
        rc = c % 50 == 0 ? newsidx_writer_optimize(w) : newsidx_writer_commit(w);
        ck_assert_msg(rc == 0, "commit %u: %s", c, newsidx_writer_errmsg(w));
    }
    newsidx_writer_close(w);
    for (int i = 0; i < READERS; i++) {
        int st;
        ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader %d failed", i);
    }
    newsidx_reader *r = open_reader(dir);
    char why[512];
    const char *bad = reader_matches_model(r, why, sizeof why);
    ck_assert_msg(bad == NULL, "%s", bad);
    newsidx_reader_close(r);
}
END_TEST

/* The killed writer: continues the script from the committed generation,
 * acknowledging each commit on fd ack, until killed. */
static void crash_child(const char *path, int ack) {
    newsidx_reader *r;
    uint32_t c = 0;
    if (newsidx_reader_open(path, NULL, 0, &r) == 0) {
        newsidx_stats st;
        newsidx_reader_stats(r, &st);
        c = (uint32_t)st.generation;
        newsidx_reader_close(r);
    }
    static model m;
    model_at(c, &m);
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = c > 0;
    o.merge_factor = 3;
    o.ram_budget_bytes = 64 * 1024;
    newsidx_writer *w;
    if (newsidx_writer_open(path, &o, NULL, 0, &w)) _exit(2);
    for (c++;; c++) {
        if (writer_run(w, &m, c)) _exit(3);
        if ((c % 9 == 0 ? newsidx_writer_optimize(w) : newsidx_writer_commit(w))) _exit(4);
        char line[32];
        int n = snprintf(line, sizeof line, "%u\n", c);
        if (write(ack, line, (size_t)n) != n) _exit(5);
    }
}

/* Reads the commit generations the writer acknowledged on fd into *acked
 * (the highest). once: return after the first read that brings data (the
 * writer's pipe stays open), else read until the killed writer's end. */
static void read_acks(int fd, uint32_t *acked, bool once) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf - 1)) > 0) {
        buf[n] = 0;
        for (char *p = buf; *p; p = strchr(p, '\n') + 1) {
            unsigned v;
            if (sscanf(p, "%u", &v) == 1 && v > *acked) *acked = v;
            if (!strchr(p, '\n')) break;
        }
        if (once) return;
    }
}

static void on_problem(void *ctx, const char *file, uint64_t off, const char *msg) {
    (void)ctx;
    fprintf(stderr, "check: %s:%llu: %s\n", file, (unsigned long long)off, msg);
}

START_TEST(test_sigkill_of_the_writer_keeps_every_acknowledged_commit_and_nothing_else) {
    srand((unsigned)time(NULL));
    uint32_t acked = 0;
    int kills = 0;
    for (int round = 0; kills < KILLS; round++) {
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, fds[1]);
        }
        close(fds[1]);
        /* every 4th round kills only after the writer acknowledged a commit
         * of its own, so that commits are killed around on any machine, not
         * only the start of a run (a loaded machine may take longer than
         * the random delay to reach its first commit) */
        if (round % 4 == 3) read_acks(fds[0], &acked, true);
        long us = rand() % (400000L * (long)nxt_slowdown());
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "the writer exited with %d",
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        kills++;
        read_acks(fds[0], &acked, false);
        close(fds[0]);
        newsidx_reader *r;
        char eb[512];
        int rc = newsidx_reader_open(dir, eb, sizeof eb, &r);
        if (rc == NEWSIDX_ERR_NOT_FOUND && acked == 0) continue;
        ck_assert_msg(rc == 0, "round %d: %s", round, eb);
        newsidx_stats st;
        newsidx_reader_stats(r, &st);
        ck_assert_msg(st.generation >= acked, "round %d: commit %u was acknowledged, the index "
                      "is at %llu", round, acked, (unsigned long long)st.generation);
        char why[512];
        const char *bad = reader_matches_model(r, why, sizeof why);
        ck_assert_msg(bad == NULL, "round %d: %s", round, bad);
        newsidx_reader_close(r);
        ck_assert_int_eq(newsidx_check(dir, on_problem, NULL), 0);
    }
    /* some kills landed after commits, not only before the first one (a
     * loaded machine commits slowly: the bound is low on purpose) */
    ck_assert_uint_ge(acked, (uint32_t)KILLS / 20);
}
END_TEST

static Suite *living_suite(void) {
    Suite *s = suite_create("living");
    TCase *tc = tcase_create("writes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_delete_by_id_reports_what_it_touched_and_vanishes_at_commit);
    tcase_add_test(tc, test_delete_by_query_removes_every_match_in_the_analyzer_of_the_index);
    tcase_add_test(tc, test_update_replaces_at_commit_and_rollback_forgets_everything_since);
    tcase_add_test(tc, test_refresh_shares_what_did_not_change_and_says_when_nothing_did);
    tcase_add_test(tc, test_refresh_of_an_index_built_again_opens_its_files);
    tcase_add_test(tc, test_delete_half_then_optimize_gives_the_space_back);
    suite_add_tcase(s, tc);
    TCase *pc = tcase_create("processes");
    tcase_add_checked_fixture(pc, setup, teardown);
    tcase_set_timeout(pc, 900);
    tcase_add_test(pc, test_readers_in_other_processes_always_see_exactly_one_commit);
    tcase_add_test(pc, test_sigkill_of_the_writer_keeps_every_acknowledged_commit_and_nothing_else);
    suite_add_tcase(s, pc);
    return s;
}

int main(void) { return nxt_run(living_suite(), CK_FORK_GETENV); }
