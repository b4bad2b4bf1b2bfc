/* Corrupted-index suite (issue 5, docs/HARDENING.md "Corrupted indexes").
 * A generated index (three segments, a tombstone file: every file kind of
 * docs/FORMAT.md) is damaged in many ways: single bit flips spread over
 * every file, truncations, zeroed blocks, files swapped with another
 * index's, missing files, flips with the checksum recomputed (so decoding
 * itself meets the bad bytes), hostile directory entries (symlinks, FIFOs,
 * directories) and hostile counts in the manifest. After each damage the
 * index is opened, searched, fetched from and checked. Each case must end
 * in one of:
 *   - the reader refuses to open with a corruption-class error that names
 *     the damaged file (and newsidx_check fails too);
 *   - the reader opens, searches return results or NEWSIDX_ERR_CORRUPT, and
 *     newsidx_check reports NEWSIDX_ERR_CORRUPT naming the damaged file;
 *   - nothing notices, and then every result equals the undamaged index's
 *     (the damage hit bytes nothing reads).
 * Never a crash, a hang or an invalid access (the suite runs under ASan in
 * CI). Every failing case is listed with its file, offset and bit.
 * NEWSIDX_TEST_SMALL=1 (valgrind) tries fewer positions per file;
 * NX_CORRUPT_VERBOSE=1 prints each case before running it (to pin a crash). */
#include "fuzz/fuzz_common.h"
#include "fuzz/nx_sums.h"
#include "util/util.h"

#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>


static char *g_pristine, *g_other;
static char *g_names[64];
static size_t g_n;
static char *g_baseline;
static int g_small, g_verbose;
static unsigned g_unnamed; /* errors that did not name the damaged file */

static const char *const queries[] = {
    "market", "market price", "fuel OR vote", "market -price", "\"market price\"",
    "mar*", "markte~1", "title:vote", "date:2021..2022", "traoré AND (gold OR cotton)",
};
static const char *const ids[] = {"g-0", "g-7", "g-200", "g-449"};

/* ---- helpers --------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(n, 0);
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
}

static void copy_index(const char *from, const char *to) {
    ck_assert_int_eq(mkdir(to, 0755) == 0 || errno == EEXIST, 1);
    char *names[64];
    size_t n = nxf_list_files(from, names, 64);
    for (size_t i = 0; i < n; i++) {
        char a[4200], b[4200];
        nxf_join(a, sizeof a, "%s/%s", from, names[i]);
        nxf_join(b, sizeof b, "%s/%s", to, names[i]);
        size_t len;
        uint8_t *p = nxf_read(a, &len);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(nxf_write(b, p, len), 0);
        free(p);
        free(names[i]);
    }
}

static char *work_copy(void) {
    char *dir = nxt_tmpdir("work");
    copy_index(g_pristine, dir);
    return dir;
}

/* Everything a user sees of the index: totals, top-10 ids and scores of each
 * query, stored titles of a few ids. NULL when the reader cannot open. *code
 * gets the first error (open, search or get). */
static char *signature(const char *dir, int *code, char *errbuf, size_t errcap) {
    newsidx_reader *r = NULL;
    *code = newsidx_reader_open(dir, errbuf, errcap, &r);
    if (*code != 0) {
        ck_assert_ptr_null(r);
        return NULL;
    }
    sbuf sig = {0};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        newsidx_query *q = NULL;
        int rc = newsidx_query_parse(r, queries[i], strlen(queries[i]), NULL, NULL, NULL, 0, &q);
        if (rc != 0) {
            /* Only an index naming an unknown analyzer language gets here. */
            ck_assert_int_eq(rc, NEWSIDX_ERR_UNSUPPORTED);
            sb_printf(&sig, "%s: parse error %d\n", queries[i], rc);
            if (*code == 0) *code = rc;
            continue;
        }
        newsidx_search_options so;
        newsidx_search_options_init(&so);
        so.facets = NEWSIDX_FACET_SOURCE | NEWSIDX_FACET_YEAR;
        newsidx_results *res = NULL;
        rc = newsidx_search(r, q, &so, &res);
        if (rc == 0) {
            sb_printf(&sig, "%s: %llu", queries[i],
                      (unsigned long long)newsidx_results_total(res));
            for (size_t h = 0; h < newsidx_results_count(res); h++) {
                const newsidx_field *t = newsidx_hit_field(res, h, "title");
                sb_printf(&sig, " %s/%.9g/%.*s", newsidx_hit_id(res, h),
                          newsidx_hit_score(res, h), t ? (int)t->value_len : 0,
                          t ? t->value : "");
            }
            for (size_t j = 0; j < newsidx_facet_count(res, NEWSIDX_FACET_SOURCE); j++) {
                const char *label;
                uint64_t c;
                newsidx_facet_value(res, NEWSIDX_FACET_SOURCE, j, &label, &c);
                sb_printf(&sig, " [%s %llu]", label, (unsigned long long)c);
            }
            sb_printf(&sig, "\n");
        } else {
            ck_assert_msg(rc == NEWSIDX_ERR_CORRUPT || rc == NEWSIDX_ERR_NOMEM,
                          "search '%s' returned %d", queries[i], rc);
            sb_printf(&sig, "%s: error %d\n", queries[i], rc);
            if (*code == 0) *code = rc;
        }
        newsidx_results_free(res);
        newsidx_query_free(q);
    }
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        newsidx_doc *d = NULL;
        int rc = newsidx_reader_get(r, ids[i], strlen(ids[i]), &d);
        ck_assert_msg(rc == 0 || rc == NEWSIDX_ERR_NOT_FOUND || rc == NEWSIDX_ERR_CORRUPT,
                      "get %s returned %d", ids[i], rc);
        const newsidx_field *t = d ? newsidx_doc_find(d, "title") : NULL;
        sb_printf(&sig, "get %s: %d %.*s\n", ids[i], rc, t ? (int)t->value_len : 0,
                  t ? t->value : "");
        newsidx_doc_free(d);
    }
    newsidx_reader_close(r);
    return sig.p;
}

/* The undamaged index's signature, computed in each (forked) test. */
static const char *baseline(void) {
    if (!g_baseline) {
        int code = 0;
        char err[1024] = "";
        g_baseline = signature(g_pristine, &code, err, sizeof err);
        ck_assert_msg(g_baseline && code == 0, "the undamaged index: %d %s", code, err);
    }
    return g_baseline;
}

static void on_problem(void *ctx, const char *file, uint64_t off, const char *msg) {
    sbuf *b = ctx;
    ck_assert_ptr_nonnull(file);
    ck_assert_ptr_nonnull(msg);
    sb_printf(b, "%s@%llu: %s\n", file, (unsigned long long)off, msg);
}

/* Runs one damaged index through open/search/get/check; returns NULL when the
 * outcome is one of the three allowed ones, else a description. `names`:
 * the damaged file(s), one of which an error must name. */
static char *verdict(const char *dir, const char *const *names, size_t n_names) {
    char err[1024] = "";
    int code = 0;
    baseline();
    char *sig = signature(dir, &code, err, sizeof err);
    sbuf probs = {0};
    sb_printf(&probs, "%s", "");
    int crc = newsidx_check(dir, on_problem, &probs);
    sbuf out = {0};
    bool named_open = false, named_check = false;
    for (size_t i = 0; i < n_names; i++) {
        if (strstr(err, names[i])) named_open = true;
        if (strstr(probs.p, names[i])) named_check = true;
    }
    if (!sig) {
        if (code != NEWSIDX_ERR_CORRUPT && code != NEWSIDX_ERR_VERSION &&
            code != NEWSIDX_ERR_NOT_FOUND && code != NEWSIDX_ERR_IO)
            sb_printf(&out, "open returned %d (%s)", code, err);
        else if (err[0] == '\0')
            sb_printf(&out, "open failed (%d) without a message", code);
        else if (crc == NEWSIDX_OK)
            sb_printf(&out, "open failed (%s) but check passed", err);
    } else if (crc == NEWSIDX_ERR_CORRUPT) {
        if (probs.len == 0) sb_printf(&out, "check failed without reporting a problem");
    } else if (crc != NEWSIDX_OK) {
        sb_printf(&out, "open succeeded but check returned %d", crc);
    } else if (strcmp(sig, baseline()) != 0) {
        sb_printf(&out, "nothing noticed the damage but results changed");
    }
    /* Whether the error named the damaged file is counted, not asserted:
     * some messages name a sibling file or none (docs/HARDENING.md). */
    if (!out.p && (!sig || crc == NEWSIDX_ERR_CORRUPT) && !(sig ? named_check : named_open)) {
        g_unnamed++;
        if (g_verbose) fprintf(stderr, "UNNAMED %s: %s\n", names[0], sig ? probs.p : err);
    }
    free(sig);
    free(probs.p);
    return out.p;
}

/* Failures are collected, not fatal at once, so one run lists them all. */
typedef struct failures {
    sbuf text;
    unsigned n, cases;
} failures;

static void record(failures *f, const char *what, char *why) {
    f->cases++;
    if (!why) return;
    if (f->n++ < 12) sb_printf(&f->text, "  %s: %.240s\n", what, why);
    if (g_verbose) fprintf(stderr, "FAILED %s: %s\n", what, why);
    free(why);
}

static void finish(failures *f, const char *kind) {
    fprintf(stderr, "%s: %u cases, %u failed, %u errors not naming the damaged file\n", kind,
            f->cases, f->n, g_unnamed);
    ck_assert_msg(f->n == 0, "%s: %u of %u cases failed:\n%s", kind, f->n, f->cases,
                  f->text.p ? f->text.p : "");
    free(f->text.p);
}

/* Positions spread over [0, len): the first and last 40 bytes (headers and
 * footers) densely, the rest evenly. */
static size_t spread(size_t len, size_t i, size_t n) {
    if (len == 0) return 0;
    if (i < n / 4) return NX_MIN(i, len - 1);
    if (i < n / 2) return len - 1 - NX_MIN(i - n / 4, len - 1);
    return (size_t)(((uint64_t)(i - n / 2) * 2654435761u) % len);
}

static void damage_and_check(failures *f, const char *dir, size_t file,
                             const uint8_t *bytes, size_t len, const char *what) {
    char p[4200];
    nxf_join(p, sizeof p, "%s/%s", dir, g_names[file]);
    if (g_verbose) fprintf(stderr, "case %s\n", what);
    ck_assert_int_eq(nxf_write(p, bytes, len), 0);
    const char *nm[1] = {g_names[file]};
    record(f, what, verdict(dir, nm, 1));
}

static uint8_t *orig_bytes(size_t file, size_t *len) {
    char p[4200];
    nxf_join(p, sizeof p, "%s/%s", g_pristine, g_names[file]);
    uint8_t *b = nxf_read(p, len);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_the_generated_index_has_every_file_kind) {
    const char *kinds[] = {"MANIFEST-", ".post", ".pos", ".dict", ".norm", ".col", ".docs", ".del_"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < g_n; i++) found |= strstr(g_names[i], kinds[k]) != NULL;
        ck_assert_msg(found, "no %s file in the generated index", kinds[k]);
    }
    char *v = verdict(g_pristine, (const char *[]){"x"}, 1);
    ck_assert_msg(v == NULL, "the undamaged index: %s", v);
}
END_TEST

START_TEST(test_single_bit_flips_in_every_file_are_caught_or_harmless) {
    char *dir = work_copy();
    failures f = {0};
    size_t per_file = g_small ? 4 : (1000 + g_n - 1) / g_n + 8;
    for (size_t i = 0; i < g_n; i++) {
        size_t len;
        uint8_t *orig = orig_bytes(i, &len);
        uint8_t *buf = malloc(len + 1);
        for (size_t k = 0; k < per_file && len; k++) {
            size_t off = spread(len, k, per_file);
            unsigned bit = (unsigned)((k * 5 + off) & 7);
            memcpy(buf, orig, len);
            buf[off] ^= (uint8_t)(1u << bit);
            char what[256];
            snprintf(what, sizeof what, "%s byte %zu of %zu bit %u", g_names[i], off, len, bit);
            damage_and_check(&f, dir, i, buf, len, what);
        }
        damage_and_check(&f, dir, i, orig, len, "restore");
        free(buf);
        free(orig);
    }
    ck_assert_uint_ge(f.cases, g_small ? 1 : 1000);
    finish(&f, "bit flips");
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_truncations_of_every_file_are_caught) {
    char *dir = work_copy();
    failures f = {0};
    for (size_t i = 0; i < g_n; i++) {
        size_t len;
        uint8_t *orig = orig_bytes(i, &len);
        size_t cuts[24], n = 0;
        cuts[n++] = 0;
        cuts[n++] = 1;
        if (len > 32) cuts[n++] = len - 32; /* the footer alone removed */
        if (len > 33) cuts[n++] = len - 33;
        cuts[n++] = len - 1;
        for (size_t k = 1; k <= (g_small ? 2u : 12u); k++) cuts[n++] = len * k / 13;
        for (size_t c = 0; c < n; c++) {
            char what[256];
            snprintf(what, sizeof what, "%s truncated to %zu of %zu bytes", g_names[i], cuts[c],
                     len);
            damage_and_check(&f, dir, i, orig, cuts[c], what);
        }
        damage_and_check(&f, dir, i, orig, len, "restore");
        free(orig);
    }
    finish(&f, "truncations");
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_zeroed_blocks_are_caught_or_harmless) {
    char *dir = work_copy();
    failures f = {0};
    for (size_t i = 0; i < g_n; i++) {
        size_t len;
        uint8_t *orig = orig_bytes(i, &len);
        uint8_t *buf = malloc(len + 1);
        size_t sizes[] = {8, 64, 4096};
        for (size_t s = 0; s < 3; s++) {
            for (size_t k = 0; k < (g_small ? 1u : 6u); k++) {
                size_t off = len * k / 6, n = NX_MIN(sizes[s], len - off);
                memcpy(buf, orig, len);
                memset(buf + off, 0, n);
                if (memcmp(buf, orig, len) == 0) continue; /* already zero */
                char what[256];
                snprintf(what, sizeof what, "%s bytes %zu..%zu of %zu zeroed", g_names[i], off,
                         off + n, len);
                damage_and_check(&f, dir, i, buf, len, what);
            }
        }
        damage_and_check(&f, dir, i, orig, len, "restore");
        free(buf);
        free(orig);
    }
    finish(&f, "zeroed blocks");
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* The twin: built as the pristine index (the same ids, dates and counts
 * per segment, so every file has the shape the manifest expects), with
 * other words, and as many other articles replaced. */
static int build_twin(const char *dir) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.stem_language = "english";
    o.stopwords_language = "english";
    o.doc_store_block_bytes = 4096;
    o.threads = 1;
    newsidx_writer *w = NULL;
    int rc = newsidx_writer_open(dir, &o, NULL, 0, &w);
    for (int c = 0; c < 3 && rc == 0; c++) {
        for (int i = 0; i < 150 && rc == 0; i++) rc = nxf_add(w, c * 150 + i, 5);
        if (c == 2)
            for (int i = 1; i < 150 && rc == 0; i += 7) rc = nxf_add(w, i, 6); /* as many, others */
        if (rc == 0) rc = newsidx_writer_commit(w);
    }
    newsidx_writer_close(w);
    return rc;
}

/* A file of the same name and shape from another index: the counts match
 * and so do the headers; only the manifest's record of each file's
 * checksum tells it apart. Readers, writers and newsidx_check refuse it,
 * naming the file. */
START_TEST(test_a_file_from_an_index_of_the_same_shape_is_refused_naming_it) {
    char *twin = nxt_tmpdir("twin");
    ck_assert_int_eq(build_twin(twin), 0);
    char *dir = work_copy();
    unsigned swapped = 0;
    for (size_t i = 0; i < g_n; i++) {
        if (strncmp(g_names[i], "seg_", 4) != 0) continue;
        char a[4200], p[4200];
        nxf_join(a, sizeof a, "%s/%s", twin, g_names[i]);
        nxf_join(p, sizeof p, "%s/%s", dir, g_names[i]);
        size_t len, olen;
        uint8_t *theirs = nxf_read(a, &len), *orig = orig_bytes(i, &olen);
        ck_assert_msg(theirs != NULL, "the twin has no %s", g_names[i]);
        ck_assert_msg(len != olen || memcmp(theirs, orig, len) != 0, "%s: the twin's is the same",
                      g_names[i]);
        ck_assert_int_eq(nxf_write(p, theirs, len), 0);
        char err[1024] = "";
        newsidx_reader *r = NULL;
        int rc = newsidx_reader_open(dir, err, sizeof err, &r);
        ck_assert_msg(rc == NEWSIDX_ERR_CORRUPT && strstr(err, g_names[i]),
                      "%s from the twin: reader open returned %d (%s)", g_names[i], rc, err);
        newsidx_writer *w = NULL;
        newsidx_writer_options o;
        newsidx_writer_options_init(&o);
        o.append = true;
        err[0] = '\0';
        rc = newsidx_writer_open(dir, &o, err, sizeof err, &w);
        ck_assert_msg(rc == NEWSIDX_ERR_CORRUPT && strstr(err, g_names[i]),
                      "%s from the twin: writer open returned %d (%s)", g_names[i], rc, err);
        sbuf probs = {0};
        ck_assert_int_eq(newsidx_check(dir, on_problem, &probs), NEWSIDX_ERR_CORRUPT);
        ck_assert_msg(probs.p && strstr(probs.p, g_names[i]), "check: %s", probs.p ? probs.p : "");
        free(probs.p);
        ck_assert_int_eq(nxf_write(p, orig, olen), 0);
        free(theirs);
        free(orig);
        swapped++;
    }
    ck_assert_uint_ge(swapped, 15); /* three segments' files and a tombstone file */
    int code = 0;
    char err[1024] = "";
    char *sig = signature(dir, &code, err, sizeof err);
    ck_assert_msg(sig && strcmp(sig, baseline()) == 0, "restored: %d %s", code, err);
    free(sig);
    nxf_rmtree(dir);
    free(dir);
    nxf_rmtree(twin);
    free(twin);
}
END_TEST

START_TEST(test_files_swapped_with_another_index_are_caught) {
    char *dir = work_copy();
    failures f = {0};
    for (size_t i = 0; i < g_n; i++) {
        char a[4200];
        nxf_join(a, sizeof a, "%s/%s", g_other, g_names[i]);
        size_t len, olen;
        uint8_t *theirs = nxf_read(a, &len);
        if (!theirs) continue; /* the other index has no such file */
        uint8_t *orig = orig_bytes(i, &olen);
        char what[256];
        snprintf(what, sizeof what, "%s taken from another index", g_names[i]);
        damage_and_check(&f, dir, i, theirs, len, what);
        damage_and_check(&f, dir, i, orig, olen, "restore");
        free(theirs);
        free(orig);
    }
    ck_assert_uint_ge(f.cases, 10);
    finish(&f, "swapped files");
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

START_TEST(test_a_missing_file_is_named) {
    char *dir = work_copy();
    failures f = {0};
    for (size_t i = 0; i < g_n; i++) {
        char p[4200];
        nxf_join(p, sizeof p, "%s/%s", dir, g_names[i]);
        ck_assert_int_eq(unlink(p), 0);
        char what[256];
        snprintf(what, sizeof what, "%s missing", g_names[i]);
        const char *nm[1] = {g_names[i]};
        char *why = verdict(dir, nm, 1);
        /* Without its manifest the directory simply holds no index. */
        if (why && strncmp(g_names[i], "MANIFEST", 8) == 0) {
            newsidx_reader *r = NULL;
            if (newsidx_reader_open(dir, NULL, 0, &r) == NEWSIDX_ERR_NOT_FOUND) {
                free(why);
                why = NULL;
            }
            newsidx_reader_close(r);
        }
        record(&f, what, why);
        size_t len;
        uint8_t *orig = orig_bytes(i, &len);
        ck_assert_int_eq(nxf_write(p, orig, len), 0);
        free(orig);
    }
    finish(&f, "missing files");
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* Flips with the footer's XXH3 recomputed: checksums cannot help, so the
 * decoders' own bounds checks meet the bad bytes. Results may differ (a
 * changed norm byte is a valid norm); what is asserted is that every call
 * returns a documented code and nothing crashes or reads out of bounds. */
START_TEST(test_rechecksummed_flips_never_crash_the_decoders) {
    char *dir = work_copy();
    unsigned cases = 0;
    size_t per_file = g_small ? 4 : 60;
    for (size_t i = 0; i < g_n; i++) {
        size_t len;
        uint8_t *orig = orig_bytes(i, &len);
        if (len <= NX_FOOTER_BYTES) {
            free(orig);
            continue;
        }
        size_t content = len - NX_FOOTER_BYTES;
        uint8_t *buf = malloc(len);
        for (size_t k = 0; k < per_file; k++) {
            size_t off = spread(content, k, per_file);
            memcpy(buf, orig, len);
            buf[off] ^= (uint8_t)(1u << (k % 8));
            if (k % 3 == 2) buf[off] = 0xff; /* a large count or length */
            nx_store_u64le(buf + content + 24, nx_hash64(buf, content));
            char p[4200];
            nxf_join(p, sizeof p, "%s/%s", dir, g_names[i]);
            if (g_verbose) fprintf(stderr, "case %s byte %zu rechecksummed\n", g_names[i], off);
            ck_assert_int_eq(nxf_write(p, buf, len), 0);
            /* and recorded in the manifest, or open refuses the file at once */
            ck_assert_int_eq(nxs_record(dir, g_names[i], nxs_footer_sum(buf, len)), 0);
            int code = 0;
            char err[1024] = "";
            free(signature(dir, &code, err, sizeof err));
            ck_assert_msg(code == 0 || code == NEWSIDX_ERR_CORRUPT ||
                              code == NEWSIDX_ERR_VERSION || code == NEWSIDX_ERR_NOT_FOUND ||
                              code == NEWSIDX_ERR_UNSUPPORTED,
                          "%s byte %zu: open/search returned %d (%s)", g_names[i], off, code, err);
            sbuf probs = {0};
            newsidx_check(dir, on_problem, &probs);
            free(probs.p);
            cases++;
        }
        char p[4200];
        nxf_join(p, sizeof p, "%s/%s", dir, g_names[i]);
        ck_assert_int_eq(nxf_write(p, orig, len), 0);
        ck_assert_int_eq(nxs_record(dir, g_names[i], nxs_footer_sum(orig, len)), 0);
        free(buf);
        free(orig);
    }
    fprintf(stderr, "rechecksummed flips: %u cases\n", cases);
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* Writes a manifest file's content with a valid footer (same kind/version as
 * the original's footer). */
static void write_rechecksummed(const char *path, const uint8_t *orig, size_t olen,
                                const uint8_t *content, size_t clen) {
    uint8_t *b = malloc(clen + NX_FOOTER_BYTES);
    memcpy(b, content, clen);
    memcpy(b + clen, orig + olen - NX_FOOTER_BYTES, NX_FOOTER_BYTES);
    nx_store_u64le(b + clen + 16, clen);
    nx_store_u64le(b + clen + 24, nx_hash64(b, clen));
    ck_assert_int_eq(nxf_write(path, b, clen + NX_FOOTER_BYTES), 0);
    free(b);
}

static size_t manifest_index(void) {
    for (size_t i = 0; i < g_n; i++)
        if (strncmp(g_names[i], "MANIFEST-", 9) == 0) return i;
    ck_abort_msg("no manifest");
    return 0;
}

/* Manifest layout (docs/FORMAT.md): magic, version, u64 generation,
 * u32 next_seg_no, u32 n_segments @20, two strings, then 72 bytes per
 * segment: seg_no, doc_count, del_count, del_gen, 7 file checksums. */
START_TEST(test_manifest_counts_that_would_overflow_allocations_are_rejected) {
    char *dir = work_copy();
    size_t mi = manifest_index(), len;
    uint8_t *orig = orig_bytes(mi, &len);
    size_t clen = len - NX_FOOTER_BYTES;
    char path[4200];
    nxf_join(path, sizeof path, "%s/%s", dir, g_names[mi]);
    uint8_t *c = malloc(clen);
    struct {
        size_t off;
        uint32_t val;
        const char *what;
    } cases[] = {
        {20, 0xffffffffu, "n_segments 2^32-1"},
        {20, 0x10000000u, "n_segments 2^28 (16*n overflows 32 bits)"},
        {clen - 72 * 3 + 4, 0xffffffffu, "first segment doc_count 2^32-1"},
        {clen - 72 * 3 + 8, 0xfffffff0u, "first segment del_count huge"},
        {clen - 72 * 3 + 0, 0xfffffffeu, "first segment number huge"},
        {clen - 72 + 12, 0xffffffffu, "last segment tombstone generation 2^32-1"},
        {16, 0xffffffffu, "next_seg_no 2^32-1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(c, orig, clen);
        nx_store_u32le(c + cases[k].off, cases[k].val);
        write_rechecksummed(path, orig, len, c, clen);
        newsidx_reader *r = NULL;
        char err[1024] = "";
        int rc = newsidx_reader_open(dir, err, sizeof err, &r);
        if (rc == 0) {
            /* Accepted: only harmless when the results are the same. */
            newsidx_reader_close(r);
            int code = 0;
            char *sig = signature(dir, &code, err, sizeof err);
            ck_assert_msg(sig && strcmp(sig, baseline()) == 0,
                          "manifest with %s was accepted and changed results", cases[k].what);
            free(sig);
        } else {
            ck_assert_msg(rc == NEWSIDX_ERR_CORRUPT, "manifest with %s: open returned %d (%s)",
                          cases[k].what, rc, err);
            ck_assert_msg(err[0] != '\0', "manifest with %s: no message", cases[k].what);
        }
        ck_assert_int_ne(newsidx_check(dir, NULL, NULL), NEWSIDX_ERR_NOMEM);
    }
    free(c);
    free(orig);
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

/* An index whose manifest names a stemmer this library does not have is
 * refused at open, naming the manifest: alone, and in a set of indexes
 * (which opened and then failed every query, naming no index). */
START_TEST(test_an_unknown_stemmer_is_refused_at_open_alone_and_in_a_set) {
    char *dirs[2] = {work_copy(), work_copy()};
    size_t mi = manifest_index(), len;
    uint8_t *orig = orig_bytes(mi, &len);
    size_t clen = len - NX_FOOTER_BYTES;
    uint8_t *c = malloc(clen);
    memcpy(c, orig, clen);
    uint8_t *at = memmem(c, clen, "english", 7); /* the stemmer's name comes first */
    ck_assert_ptr_nonnull(at);
    memcpy(at, "klingon", 7);
    for (int k = 0; k < 2; k++) {
        char path[4200];
        nxf_join(path, sizeof path, "%s/%s", dirs[k], g_names[mi]);
        write_rechecksummed(path, orig, len, c, clen);
    }
    char err[1024] = "";
    newsidx_reader *r = NULL;
    ck_assert_int_eq(newsidx_reader_open(dirs[0], err, sizeof err, &r), NEWSIDX_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err, g_names[mi]) && strstr(err, "klingon"), "%s", err);
    err[0] = '\0';
    ck_assert_int_eq(newsidx_reader_open_multi((const char *const *)dirs, 2, err, sizeof err, &r),
                     NEWSIDX_ERR_UNSUPPORTED);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, dirs[0]) && strstr(err, g_names[mi]), "%s", err);
    free(c);
    free(orig);
    for (int k = 0; k < 2; k++) {
        nxf_rmtree(dirs[k]);
        free(dirs[k]);
    }
}
END_TEST

/* Opens dir in a child process so a reader that blocks (a FIFO opened for
 * reading waits for a writer) is seen as a hang instead of hanging the
 * suite. Returns the open's code, or HUNG after `secs` seconds. */
#define HUNG 1000
static int open_with_deadline(const char *dir, char *err, size_t cap, int secs) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        newsidx_reader *r = NULL;
        char e[1024] = "";
        int rc = newsidx_reader_open(dir, e, sizeof e, &r);
        newsidx_reader_close(r);
        if (write(fds[1], &rc, sizeof rc) != sizeof rc || write(fds[1], e, sizeof e) < 0) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    struct pollfd pf = {.fd = fds[0], .events = POLLIN};
    int rc = HUNG;
    if (poll(&pf, 1, secs * 1000) == 1 && read(fds[0], &rc, sizeof rc) == sizeof rc) {
        char e[1024];
        ssize_t n = read(fds[0], e, sizeof e);
        snprintf(err, cap, "%.*s", (int)(n > 0 ? n : 0), e);
    } else {
        rc = HUNG;
        kill(pid, SIGKILL);
    }
    waitpid(pid, NULL, 0);
    close(fds[0]);
    return rc;
}

/* A segment file replaced by a symbolic link (to a good copy outside the
 * directory, to /dev/zero, in a loop) or by a directory: open refuses with an
 * error naming the file; a FIFO (whose open would wait for a writer) too,
 * without blocking. */
START_TEST(test_symlinks_fifos_and_directories_in_place_of_files_are_rejected) {
    char *dir = work_copy();
    char *outside = nxt_tmpdir("outside");
    failures f = {0};
    for (size_t i = 0; i < g_n; i++) {
        char p[4200], o[4200];
        nxf_join(p, sizeof p, "%s/%s", dir, g_names[i]);
        nxf_join(o, sizeof o, "%s/%s", outside, g_names[i]);
        size_t len;
        uint8_t *orig = orig_bytes(i, &len);
        ck_assert_int_eq(nxf_write(o, orig, len), 0);
        for (int kind = 0; kind < 5; kind++) {
            unlink(p);
            const char *what = "";
            switch (kind) {
            case 0: ck_assert_int_eq(symlink(o, p), 0); what = "symlink to a good copy outside"; break;
            case 1: ck_assert_int_eq(symlink("/dev/zero", p), 0); what = "symlink to /dev/zero"; break;
            case 2: ck_assert_int_eq(symlink(p, p), 0); what = "symlink to itself"; break;
            case 3: ck_assert_int_eq(mkdir(p, 0755), 0); what = "directory"; break;
            case 4: ck_assert_int_eq(mkfifo(p, 0644), 0); what = "FIFO"; break;
            }
            char desc[512];
            snprintf(desc, sizeof desc, "%s replaced by a %s", g_names[i], what);
            if (g_verbose) fprintf(stderr, "case %s\n", desc);
            char err[1024] = "";
            int rc = open_with_deadline(dir, err, sizeof err, 2);
            if (rc == HUNG) {
                record(&f, desc, strdup("newsidx_reader_open still blocked after 2 s"));
            } else if (rc == 0) {
                record(&f, desc, strdup("accepted by newsidx_reader_open"));
            } else if (!strstr(err, g_names[i])) {
                sbuf b = {0};
                sb_printf(&b, "error %d does not name the file: %s", rc, err);
                record(&f, desc, b.p);
            } else {
                record(&f, desc, NULL);
            }
            if (kind == 3) rmdir(p);
        }
        unlink(p);
        ck_assert_int_eq(nxf_write(p, orig, len), 0);
        unlink(o);
        free(orig);
    }
    rmdir(outside);
    free(outside);
    finish(&f, "hostile directory entries");
    nxf_rmtree(dir);
    free(dir);
}
END_TEST

static Suite *corrupt_suite(void) {
    Suite *s = suite_create("corrupt");
    TCase *tc = tcase_create("damage");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_the_generated_index_has_every_file_kind);
    tcase_add_test(tc, test_single_bit_flips_in_every_file_are_caught_or_harmless);
    tcase_add_test(tc, test_truncations_of_every_file_are_caught);
    tcase_add_test(tc, test_zeroed_blocks_are_caught_or_harmless);
    tcase_add_test(tc, test_files_swapped_with_another_index_are_caught);
    tcase_add_test(tc, test_a_file_from_an_index_of_the_same_shape_is_refused_naming_it);
    tcase_add_test(tc, test_a_missing_file_is_named);
    tcase_add_test(tc, test_rechecksummed_flips_never_crash_the_decoders);
    tcase_add_test(tc, test_manifest_counts_that_would_overflow_allocations_are_rejected);
    tcase_add_test(tc, test_an_unknown_stemmer_is_refused_at_open_alone_and_in_a_set);
    tcase_add_test(tc, test_symlinks_fifos_and_directories_in_place_of_files_are_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    g_small = nxt_small();
    g_verbose = getenv("NX_CORRUPT_VERBOSE") != NULL;
    g_pristine = nxt_tmpdir("a");
    g_other = nxt_tmpdir("b");
    /* Same file names in both (three commits each), different doc counts. */
    if (nxf_build_index(g_pristine, 150) != 0 || nxf_build_index(g_other, 110) != 0) {
        fprintf(stderr, "cannot build the test indexes\n");
        nxt_rm_rf(nxt_root);
        return 1;
    }
    g_n = nxf_list_files(g_pristine, g_names, 64);
    int status = nxt_run(corrupt_suite(), CK_FORK_GETENV);
    free(g_pristine);
    free(g_other);
    free(g_baseline);
    for (size_t i = 0; i < g_n; i++) free(g_names[i]);
    return status;
}
