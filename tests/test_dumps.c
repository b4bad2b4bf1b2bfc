/* test_dumps — archivists' dumps as they come (issue 12): archives built
 * here at run time with libarchive's writer (tar.gz of HTML, zip of text,
 * a zip with a corrupt member, 7z, cpio, a zstd tar under another name),
 * a WARC with HTML responses in two charsets, an mbox with encoded headers
 * and a multipart message, the same sentence in five encodings, and
 * self-written pages in the styles of news sites (tests/data/dumps/). Each article must come out once, with the
 * right title, author, date and text, and every problem named by
 * ARCHIVE:MEMBER. */
#include "common.h"
#include "ingest/ingest.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define PAGES NEWSIDX_SOURCE_DIR "/tests/data/dumps"
#define MAX_SEEN 64

typedef struct seen_record {
    char file[512];
    uint64_t line;
    char id[512], title[256], author[128], date[64], url[256], source[128];
    char body[2048];
    size_t id_len;          /* the whole id's */
    uint64_t id_tail_hash;  /* of its last 64 bytes */
} seen_record;

typedef struct seen_report {
    char file[512];
    uint64_t line;
    int severity, reason;
    char msg[512];
} seen_report;

typedef struct capture {
    seen_record records[MAX_SEEN];
    int n_records;
    seen_report reports[MAX_SEEN];
    int n_reports;
} capture;

static void copy_value(char *dst, size_t cap, const newsidx_field *f) {
    size_t n = f->value_len < cap - 1 ? f->value_len : cap - 1;
    memcpy(dst, f->value, n);
    dst[n] = '\0';
}

static int on_record(void *ctx, const nx_record *rec) {
    capture *c = ctx;
    ck_assert_int_lt(c->n_records, MAX_SEEN);
    seen_record *r = &c->records[c->n_records++];
    memset(r, 0, sizeof *r);
    snprintf(r->file, sizeof r->file, "%s", rec->file);
    r->line = rec->line;
    for (size_t i = 0; i < rec->n_fields; i++) {
        const newsidx_field *f = &rec->fields[i];
        ck_assert_uint_eq(nx_utf8_valid_prefix(f->value, f->value_len), f->value_len);
        if (nx_field_is(f->name, NX_F_ID)) {
            copy_value(r->id, sizeof r->id, f);
            r->id_len = f->value_len;
            size_t tail = f->value_len < 64 ? f->value_len : 64;
            r->id_tail_hash = nx_hash64(f->value + f->value_len - tail, tail);
        }
        else if (nx_field_is(f->name, NX_F_TITLE)) copy_value(r->title, sizeof r->title, f);
        else if (nx_field_is(f->name, NX_F_AUTHOR)) copy_value(r->author, sizeof r->author, f);
        else if (nx_field_is(f->name, NX_F_DATE)) copy_value(r->date, sizeof r->date, f);
        else if (nx_field_is(f->name, NX_F_URL)) copy_value(r->url, sizeof r->url, f);
        else if (nx_field_is(f->name, NX_F_SOURCE)) copy_value(r->source, sizeof r->source, f);
        else if (nx_field_is(f->name, NX_F_BODY)) copy_value(r->body, sizeof r->body, f);
    }
    return NX_RECORD_ADDED;
}

static void on_report(void *ctx, const char *file, uint64_t line, int severity, int reason,
                      const char *message) {
    capture *c = ctx;
    if (c->n_reports >= MAX_SEEN) return;
    seen_report *r = &c->reports[c->n_reports++];
    snprintf(r->file, sizeof r->file, "%s", file);
    r->line = line;
    r->severity = severity;
    r->reason = reason;
    snprintf(r->msg, sizeof r->msg, "%s", message);
}

static int run(const char *path, capture *c, newsidx_ingest_stats *st) {
    memset(c, 0, sizeof *c);
    memset(st, 0, sizeof *st);
    newsidx_ingest_options o;
    newsidx_ingest_options_init(&o);
    o.report = on_report;
    o.ctx = c;
    return nx_ingest_each(path, &o, st, on_record, c);
}

static const seen_record *by_id(const capture *c, const char *id) {
    for (int i = 0; i < c->n_records; i++)
        if (strcmp(c->records[i].id, id) == 0) return &c->records[i];
    ck_abort_msg("no record with id %s", id);
    return NULL;
}

static int count_id(const capture *c, const char *id) {
    int n = 0;
    for (int i = 0; i < c->n_records; i++) n += strcmp(c->records[i].id, id) == 0;
    return n;
}

/* ---- a scratch directory ------------------------------------------------ */

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nx_dumps_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmpdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *tmp_path(const char *name) {
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- archives written with libarchive ----------------------------------- */

typedef struct member { const char *path; const char *data; size_t len; } member;

/* filter: ARCHIVE_FILTER_* ; format: ARCHIVE_FORMAT_* */
static void write_archive(const char *path, int format, int filter, const member *m, size_t n) {
    struct archive *a = archive_write_new();
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(archive_write_set_format(a, format), ARCHIVE_OK);
    if (filter != ARCHIVE_FILTER_NONE) ck_assert_int_eq(archive_write_add_filter(a, filter), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].path);
        archive_entry_set_size(e, (la_int64_t)m[i].len);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

#define M(p, s) {p, s, sizeof s - 1}

static const char page_one[] =
    "<html><head><title>Harbour reopens - Gazette</title>"
    "<meta property=\"og:title\" content=\"Harbour reopens\">"
    "<meta name=\"author\" content=\"Ann Lee\">"
    "<meta property=\"article:published_time\" content=\"2024-03-01T09:00:00Z\"></head>"
    "<body><nav>Home News Sport</nav><article><p>The harbour reopened on Friday.</p></article>"
    "<footer>Copyright Gazette</footer></body></html>";
static const char page_two[] =
    "<!doctype html><html><head><title>Mill closes</title></head><body>"
    "<main><h1>Mill closes</h1><time datetime=\"2024-03-02\">2 March</time>"
    "<p>The old mill shut its doors.</p></main><aside>Most read</aside></body></html>";

START_TEST(test_a_tar_gz_of_html_gives_each_article_once_with_its_metadata) {
    make_tmpdir();
    const member m[] = {M("site/a.html", page_one), M("site/b/two.htm", page_two),
                        M("site/style.css", "body{}"), M("site/._a.html", "junk")};
    write_archive(tmp_path("site.tar.gz"), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_GZIP,
                  m, 4);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("site.tar.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 2);
    const seen_record *a = by_id(&c, "site.tar.gz:site/a.html");
    ck_assert_str_eq(a->title, "Harbour reopens");
    ck_assert_str_eq(a->author, "Ann Lee");
    ck_assert_str_eq(a->date, "2024-03-01T09:00:00Z");
    ck_assert_str_eq(a->body, "The harbour reopened on Friday.");
    ck_assert_str_eq(a->file, tmp_path("site.tar.gz:site/a.html"));
    const seen_record *b = by_id(&c, "site.tar.gz:site/b/two.htm");
    ck_assert_str_eq(b->title, "Mill closes");
    ck_assert_str_eq(b->date, "2024-03-02");
    ck_assert_str_eq(b->body, "Mill closes\n2 March\nThe old mill shut its doors.");
    /* the stylesheet is counted in one note; the AppleDouble file ignored */
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_int_eq(c.reports[0].severity, NEWSIDX_REPORT_NOTE);
    ck_assert_str_eq(c.reports[0].msg, "1 member of no supported type skipped (site/style.css)");
    ck_assert_uint_eq(st.indexed, 2);
    ck_assert_uint_eq(st.errors, 0);
    struct stat sb;
    ck_assert_int_eq(stat(tmp_path("site.tar.gz"), &sb), 0);
    ck_assert_uint_eq(st.bytes_read, (uint64_t)sb.st_size);
    rm_tmpdir();
}
END_TEST

START_TEST(test_a_zip_of_text_and_jsonl_and_a_nested_tar_inside_a_walk) {
    make_tmpdir();
    ck_assert_int_eq(mkdir(tmp_path("dir"), 0755), 0);
    const member inner[] = {M("deep.txt", "Deep title\n\nDeep body.")};
    write_archive(tmp_path("inner.tar"), ARCHIVE_FORMAT_TAR_USTAR, ARCHIVE_FILTER_NONE, inner, 1);
    FILE *f = fopen(tmp_path("inner.tar"), "rb");
    static char tarbuf[1 << 16];
    size_t tn = fread(tarbuf, 1, sizeof tarbuf, f);
    fclose(f);
    const member m[] = {
        M("notes/one.txt", "\xEF\xBB\xBF" "4 min readJun 23, 2024\n\nA real headline\n\nBy Jo Bloggs\n\nFirst paragraph."),
        M("lines.jsonl", "{\"id\":\"j1\",\"title\":\"J one\",\"body\":\"b\"}\n{\"title\":\"no id here\",\"body\":\"x\"}\n{bad\n"),
        {"nested.tar", tarbuf, tn},
    };
    write_archive(tmp_path("dir/t.zip"), ARCHIVE_FORMAT_ZIP, ARCHIVE_FILTER_NONE, m, 3);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("dir"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 4);
    const seen_record *t = by_id(&c, "t.zip:notes/one.txt");
    ck_assert_str_eq(t->title, "A real headline");
    ck_assert_str_eq(t->date, "Jun 23, 2024");
    ck_assert_str_eq(t->author, "Jo Bloggs");
    ck_assert_str_eq(t->body, "First paragraph.");
    const seen_record *j = by_id(&c, "j1");
    ck_assert_str_eq(j->file, tmp_path("dir/t.zip:lines.jsonl"));
    ck_assert_uint_eq(j->line, 1);
    /* a JSON Lines record without an id keeps none: the writer derives it */
    ck_assert_int_eq(count_id(&c, ""), 1);
    const seen_record *d = by_id(&c, "t.zip:nested.tar:deep.txt");
    ck_assert_str_eq(d->title, "Deep title");
    /* the bad line is reported as ARCHIVE:MEMBER:LINE */
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_str_eq(c.reports[0].file, tmp_path("dir/t.zip:lines.jsonl"));
    ck_assert_uint_eq(c.reports[0].line, 3);
    ck_assert_int_eq(c.reports[0].reason, NEWSIDX_REASON_BAD_JSON);
    rm_tmpdir();
}
END_TEST

START_TEST(test_a_corrupt_member_is_reported_by_name_and_the_rest_indexed) {
    make_tmpdir();
    char big[8192];
    for (size_t i = 0; i < sizeof big - 1; i++) big[i] = "abcdefgh ijk\n"[i % 13];
    big[sizeof big - 1] = '\0';
    char bad_text[9000];
    snprintf(bad_text, sizeof bad_text, "Broken title\n%s", big);
    const member m[] = {M("a.txt", "Alpha title\nalpha body"),
                        {"b.txt", bad_text, strlen(bad_text)},
                        M("c.txt", "Gamma title\ngamma body")};
    write_archive(tmp_path("z.zip"), ARCHIVE_FORMAT_ZIP, ARCHIVE_FILTER_NONE, m, 3);
    /* damage the middle of b.txt's deflated data */
    FILE *f = fopen(tmp_path("z.zip"), "r+b");
    static unsigned char z[1 << 16];
    size_t zn = fread(z, 1, sizeof z, f);
    unsigned char *p = memmem(z, zn, "b.txt", 5);
    ck_assert_ptr_nonnull(p);
    size_t off = (size_t)(p - z) + 5 + 40;
    for (size_t i = 0; i < 16 && off + i < zn; i++) z[off + i] ^= 0xA5;
    fseek(f, 0, SEEK_SET);
    fwrite(z, 1, zn, f);
    fclose(f);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("z.zip"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(count_id(&c, "z.zip:a.txt"), 1);
    ck_assert_int_eq(count_id(&c, "z.zip:c.txt"), 1);
    ck_assert_int_eq(count_id(&c, "z.zip:b.txt"), 0);
    int named = 0;
    for (int i = 0; i < c.n_reports; i++)
        if (strcmp(c.reports[i].file, tmp_path("z.zip:b.txt")) == 0 &&
            c.reports[i].severity == NEWSIDX_REPORT_ERROR)
            named++;
    ck_assert_int_eq(named, 1);
    ck_assert_uint_eq(st.errors, 1);
    rm_tmpdir();
}
END_TEST

/* 7z, and cpio in the two variants found in the wild (odc, which `cpio -H
 * odc` writes, and newc, initramfs' own): each member once, named
 * ARCHIVE:MEMBER, read by the reader of its kind. */
START_TEST(test_7z_and_cpio_archives_give_each_member_with_its_id) {
    make_tmpdir();
    const member m[] = {
        M("news/a.html", page_one),
        M("news/b.txt", "Quarry floods\n\nBy Sam Hill\n\nThe quarry filled overnight."),
        M("c.jsonl", "{\"id\":\"c1\",\"title\":\"Ferry late\",\"body\":\"The ferry ran late.\"}\n"),
    };
    const struct { const char *name; int format; } kinds[] = {
        {"dump.7z", ARCHIVE_FORMAT_7ZIP},
        {"odc.cpio", ARCHIVE_FORMAT_CPIO_POSIX},
        {"newc.cpio", ARCHIVE_FORMAT_CPIO_SVR4_NOCRC},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *name = kinds[k].name;
        write_archive(tmp_path(name), kinds[k].format, ARCHIVE_FILTER_NONE, m, 3);
        capture c;
        newsidx_ingest_stats st;
        ck_assert_int_eq(run(tmp_path(name), &c, &st), NEWSIDX_OK);
        ck_assert_int_eq(c.n_records, 3);
        ck_assert_int_eq(c.n_reports, 0);
        char id[64];
        snprintf(id, sizeof id, "%s:news/a.html", name);
        const seen_record *a = by_id(&c, id);
        ck_assert_str_eq(a->file, tmp_path(id));
        ck_assert_str_eq(a->title, "Harbour reopens");
        ck_assert_str_eq(a->author, "Ann Lee");
        ck_assert_str_eq(a->body, "The harbour reopened on Friday.");
        snprintf(id, sizeof id, "%s:news/b.txt", name);
        const seen_record *b = by_id(&c, id);
        ck_assert_str_eq(b->title, "Quarry floods");
        ck_assert_str_eq(b->author, "Sam Hill");
        ck_assert_str_eq(b->body, "The quarry filled overnight.");
        const seen_record *j = by_id(&c, "c1");
        snprintf(id, sizeof id, "%s:c.jsonl", name);
        ck_assert_str_eq(j->file, tmp_path(id));
        ck_assert_uint_eq(j->line, 1);
        ck_assert_str_eq(j->title, "Ferry late");
        ck_assert_uint_eq(st.indexed, 3);
        ck_assert_uint_eq(st.errors, 0);
    }
    rm_tmpdir();
}
END_TEST

/* zstd gives out nothing before a whole block is in, and a block of text
 * compresses to far more than the first 4 KiB of a file: a tar.zst under
 * another name must be told by its first block, not taken for the JSON
 * Lines that .zst files held before archives were read. */
START_TEST(test_a_zstd_tar_under_another_name_is_told_by_its_content) {
    make_tmpdir();
    static const char *const syllables[] = {"ta", "ro", "ven", "dul", "mi", "sek", "pa", "lor",
                                            "quin", "be", "sto", "far", "nu", "gel", "wi", "ox"};
    size_t cap = 300u << 10, len = 0;
    char *text = malloc(cap + 32);
    ck_assert_ptr_nonnull(text);
    len += (size_t)sprintf(text, "Tide tables\n\n");
    uint64_t x = 42;
    while (len < cap) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        len += (size_t)sprintf(text + len, "%s%s ", syllables[x >> 60], syllables[(x >> 56) & 15]);
    }
    const member m[] = {{"tides.txt", text, len}, M("news/a.html", page_one)};
    const char *names[] = {"tides.zst", "tides"};
    for (int k = 0; k < 2; k++) {
        write_archive(tmp_path(names[k]), ARCHIVE_FORMAT_TAR_USTAR, ARCHIVE_FILTER_ZSTD, m, 2);
        struct stat sb;
        ck_assert_int_eq(stat(tmp_path(names[k]), &sb), 0);
        ck_assert_int_gt(sb.st_size, 16 << 10); /* the first block is past the first read */
        capture c;
        newsidx_ingest_stats st;
        ck_assert_int_eq(run(tmp_path(names[k]), &c, &st), NEWSIDX_OK);
        ck_assert_int_eq(c.n_reports, 0);
        ck_assert_int_eq(c.n_records, 2);
        char id[64];
        snprintf(id, sizeof id, "%s:tides.txt", names[k]);
        ck_assert_str_eq(by_id(&c, id)->title, "Tide tables");
        snprintf(id, sizeof id, "%s:news/a.html", names[k]);
        ck_assert_str_eq(by_id(&c, id)->title, "Harbour reopens");
        ck_assert_uint_eq(st.bytes_read, (uint64_t)sb.st_size);
    }
    free(text);
    rm_tmpdir();
}
END_TEST

/* A document past max_line_bytes is cut on a character boundary and said
 * to be cut once, alike for a file and for an archive member: both are read
 * by the same bounded reader. */
START_TEST(test_a_long_file_and_a_long_member_are_cut_alike) {
    make_tmpdir();
    ck_assert_int_eq(mkdir(tmp_path("dir"), 0755), 0);
    char text[400];
    size_t len = (size_t)sprintf(text, "Long title\n\n");
    while (len < 300) len += (size_t)sprintf(text + len, "caf\xC3\xA9 ");
    write_file(tmp_path("dir/long.txt"), text, len);
    const member m[] = {{"long.txt", text, len}};
    write_archive(tmp_path("dir/long.tar"), ARCHIVE_FORMAT_TAR_USTAR, ARCHIVE_FILTER_NONE, m, 1);
    capture c;
    memset(&c, 0, sizeof c);
    newsidx_ingest_stats st = {0};
    newsidx_ingest_options o;
    newsidx_ingest_options_init(&o);
    o.report = on_report;
    o.ctx = &c;
    /* byte 100 is the second byte of an e-acute: the cut backs off to 99 */
    o.max_line_bytes = 100;
    ck_assert_int_eq(nx_ingest_each(tmp_path("dir"), &o, &st, on_record, &c), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 2);
    const seen_record *f = by_id(&c, "long.txt");
    const seen_record *a = by_id(&c, "long.tar:long.txt");
    ck_assert_str_eq(f->title, "Long title");
    ck_assert_uint_eq(strlen(f->body), 99 - 12);
    ck_assert_str_eq(f->body + strlen(f->body) - 4, " caf");
    ck_assert_str_eq(a->body, f->body);
    ck_assert_int_eq(c.n_reports, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(c.reports[i].severity, NEWSIDX_REPORT_WARNING);
        ck_assert_int_eq(c.reports[i].reason, NEWSIDX_REASON_TOO_LONG);
    }
    ck_assert_str_eq(c.reports[0].file, tmp_path("dir/long.tar:long.txt"));
    ck_assert_str_eq(c.reports[0].msg,
                     "member longer than the limit of 100 bytes: the rest is ignored");
    ck_assert_str_eq(c.reports[1].file, tmp_path("dir/long.txt"));
    ck_assert_str_eq(c.reports[1].msg,
                     "file longer than the limit of 100 bytes: the rest is ignored");
    rm_tmpdir();
}
END_TEST

START_TEST(test_unsupported_inputs_say_so_once) {
    make_tmpdir();
    write_file(tmp_path("x.csv"), "a,b\n1,2\n", 8);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("x.csv"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_str_eq(c.reports[0].msg, "not a supported format: skipped");
    ck_assert_int_eq(c.reports[0].severity, NEWSIDX_REPORT_ERROR);
    /* an encrypted zip, written with libarchive's traditional PKWARE
     * encryption: one line, not a wall of errors */
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    ck_assert_int_eq(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_passphrase(a, "secret"), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, tmp_path("enc.zip")), ARCHIVE_OK);
    for (int i = 0; i < 3; i++) {
        struct archive_entry *e = archive_entry_new();
        char name[16];
        snprintf(name, sizeof name, "p%d.html", i);
        archive_entry_set_pathname(e, name);
        archive_entry_set_size(e, sizeof page_one - 1);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_write_header(a, e);
        archive_write_data(a, page_one, sizeof page_one - 1);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    ck_assert_int_eq(run(tmp_path("enc.zip"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 0);
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_str_eq(c.reports[0].file, tmp_path("enc.zip"));
    ck_assert_str_eq(c.reports[0].msg, "zip archive with encrypted members: skipped");
    /* compressed JSON Lines in .xz and .bz2 */
    const char jl[] = "{\"id\":\"x1\",\"title\":\"X\",\"body\":\"y\"}\n";
    write_archive(tmp_path("raw.tar"), ARCHIVE_FORMAT_TAR_USTAR, ARCHIVE_FILTER_NONE, NULL, 0);
    const int filters[] = {ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_BZIP2};
    const char *names[] = {"a.jsonl.xz", "a.jsonl.bz2"};
    for (int i = 0; i < 2; i++) {
        struct archive *w = archive_write_new();
        archive_write_set_format_raw(w);
        archive_write_add_filter(w, filters[i]);
        ck_assert_int_eq(archive_write_open_filename(w, tmp_path(names[i])), ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_filetype(e, AE_IFREG);
        archive_write_header(w, e);
        archive_write_data(w, jl, sizeof jl - 1);
        archive_entry_free(e);
        archive_write_close(w);
        archive_write_free(w);
        ck_assert_int_eq(run(tmp_path(names[i]), &c, &st), NEWSIDX_OK);
        ck_assert_int_eq(c.n_records, 1);
        ck_assert_str_eq(c.records[0].id, "x1");
        ck_assert_str_eq(c.records[0].file, tmp_path(names[i]));
        ck_assert_int_eq(c.n_reports, 0);
    }
    rm_tmpdir();
}
END_TEST

/* ---- WARC ---------------------------------------------------------------- */

static size_t warc_record(char *out, size_t cap, const char *type, const char *uri,
                          const char *ctype, const char *block, size_t block_len) {
    int n = snprintf(out, cap,
                     "WARC/1.0\r\nWARC-Type: %s\r\n%s%s%sWARC-Date: 2023-05-06T07:08:09Z\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     type, uri ? "WARC-Target-URI: " : "", uri ? uri : "", uri ? "\r\n" : "",
                     ctype, block_len);
    ck_assert_int_gt(n, 0);
    memcpy(out + n, block, block_len);
    memcpy(out + n + block_len, "\r\n\r\n", 4);
    return (size_t)n + block_len + 4;
}

static size_t http_response(char *out, size_t cap, const char *headers, const char *body,
                            size_t body_len) {
    int n = snprintf(out, cap, "HTTP/1.1 200 OK\r\n%s\r\n", headers);
    memcpy(out + n, body, body_len);
    return (size_t)n + body_len;
}

static size_t build_warc(char *w, size_t cap) {
    char block[4096];
    size_t n = 0, b;
    n += warc_record(w + n, cap - n, "warcinfo", NULL, "application/warc-fields", "software: t\r\n", 13);
    const char req[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
    n += warc_record(w + n, cap - n, "request", "http://a.example/", "application/http; msgtype=request",
                     req, sizeof req - 1);
    /* Windows-1252 declared by HTTP only, no date in the page */
    const char cp[] = "<html><head><title>Caf\xe9 \x93news\x94</title></head><body><p>Prices \x96 up 3\x80.</p></body></html>";
    b = http_response(block, sizeof block, "Content-Type: text/html; charset=windows-1252\r\n", cp, sizeof cp - 1);
    n += warc_record(w + n, cap - n, "response", "http://a.example/cafe", "application/http; msgtype=response", block, b);
    /* UTF-8, chunked, with its own date */
    const char u8[] = "<html><head><title>Na\xc3\xafve \xe2\x80\x94 r\xc3\xa9sum\xc3\xa9</title>"
                      "<meta property=\"article:published_time\" content=\"2022-01-02\"></head>"
                      "<body><article><p>B\xc3\xa4r \xc3\xbc" "ber Stra\xc3\x9f" "e.</p></article></body></html>";
    char chunked[2048];
    size_t half = (sizeof u8 - 1) / 2;
    int cn = snprintf(chunked, sizeof chunked, "%zx\r\n", half);
    memcpy(chunked + cn, u8, half);
    cn += (int)half;
    cn += snprintf(chunked + cn, sizeof chunked - (size_t)cn, "\r\n%zx\r\n", sizeof u8 - 1 - half);
    memcpy(chunked + cn, u8 + half, sizeof u8 - 1 - half);
    cn += (int)(sizeof u8 - 1 - half);
    cn += snprintf(chunked + cn, sizeof chunked - (size_t)cn, "\r\n0\r\n\r\n");
    b = http_response(block, sizeof block,
                      "Content-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n",
                      chunked, (size_t)cn);
    n += warc_record(w + n, cap - n, "response", "http://b.example/naive", "application/http; msgtype=response", block, b);
    const char png[] = "\x89PNG\r\n\x1a\n....";
    b = http_response(block, sizeof block, "Content-Type: image/png\r\n", png, sizeof png - 1);
    n += warc_record(w + n, cap - n, "response", "http://a.example/logo.png", "application/http; msgtype=response", block, b);
    n += warc_record(w + n, cap - n, "metadata", "http://a.example/cafe", "application/warc-fields", "via: x\r\n", 8);
    return n;
}

static void check_warc_records(const capture *c) {
    ck_assert_int_eq(c->n_records, 2);
    const seen_record *a = by_id(c, "http://a.example/cafe");
    ck_assert_str_eq(a->url, "http://a.example/cafe");
    ck_assert_str_eq(a->title, "Caf\xc3\xa9 \xe2\x80\x9cnews\xe2\x80\x9d");
    ck_assert_str_eq(a->body, "Prices \xe2\x80\x93 up 3\xe2\x82\xac.");
    ck_assert_str_eq(a->date, "2023-05-06T07:08:09Z"); /* WARC-Date as fallback */
    const seen_record *b = by_id(c, "http://b.example/naive");
    ck_assert_str_eq(b->title, "Na\xc3\xafve \xe2\x80\x94 r\xc3\xa9sum\xc3\xa9");
    ck_assert_str_eq(b->body, "B\xc3\xa4r \xc3\xbc" "ber Stra\xc3\x9f" "e.");
    ck_assert_str_eq(b->date, "2022-01-02");
    int notes = 0;
    for (int i = 0; i < c->n_reports; i++) {
        ck_assert_int_eq(c->reports[i].severity, NEWSIDX_REPORT_NOTE);
        ck_assert_str_eq(c->reports[i].msg, "4 WARC records that hold no article skipped: "
                                            "1 warcinfo, 1 request, 1 metadata, 1 not HTML");
        notes++;
    }
    ck_assert_int_eq(notes, 1);
}

START_TEST(test_warc_responses_in_two_charsets_become_articles) {
    make_tmpdir();
    static char w[32768];
    size_t n = build_warc(w, sizeof w);
    write_file(tmp_path("crawl.warc"), w, n);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("crawl.warc"), &c, &st), NEWSIDX_OK);
    check_warc_records(&c);
    ck_assert_uint_eq(st.bytes_read, n);
    /* .warc.gz: one gzip member per record, as crawlers write it; here two */
    gzFile g = gzopen(tmp_path("crawl.warc.gz"), "wb");
    gzwrite(g, w, (unsigned)(n / 2));
    gzclose(g);
    g = gzopen(tmp_path("crawl.warc.gz"), "ab");
    gzwrite(g, w + n / 2, (unsigned)(n - n / 2));
    gzclose(g);
    ck_assert_int_eq(run(tmp_path("crawl.warc.gz"), &c, &st), NEWSIDX_OK);
    check_warc_records(&c);
    /* a record cut short: what came before is kept, the loss reported */
    write_file(tmp_path("cut.warc"), w, n - 60);
    ck_assert_int_eq(run(tmp_path("cut.warc"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 2);
    ck_assert_uint_eq(st.errors, 1);
    rm_tmpdir();
}
END_TEST

/* The error reports of a run, in one string. */
static const char *error_of(const capture *c) {
    for (int i = 0; i < c->n_reports; i++)
        if (c->reports[i].severity == NEWSIDX_REPORT_ERROR) return c->reports[i].msg;
    return "";
}

static bool has_id(const capture *c, const char *id) {
    for (int i = 0; i < c->n_records; i++)
        if (strcmp(c->records[i].id, id) == 0) return true;
    return false;
}

/* A .warc.gz is read one gzip member at a time: a corrupt member costs its
 * record, a member the file ends inside (a crawler killed mid-write) costs
 * its own, and zeros after the last member cost nothing. Through
 * libarchive's gzip filter the first damage lost the rest of the file, and
 * a small file whole. */
START_TEST(test_a_damaged_gzip_member_costs_one_warc_record) {
    make_tmpdir();
    enum { N = 4 };
    long off[N + 1] = {0};
    const char *path = tmp_path("crawl.warc.gz");
    for (int i = 0; i < N; i++) {
        char uri[64], page[256], block[512], rec[1024];
        snprintf(uri, sizeof uri, "http://a.example/%d", i);
        int pn =
            snprintf(page, sizeof page,
                     "<html><title>Page %d</title><body><p>word%d text</p></body></html>", i, i);
        size_t b =
            http_response(block, sizeof block, "Content-Type: text/html\r\n", page, (size_t)pn);
        size_t n = warc_record(rec, sizeof rec, "response", uri,
                               "application/http; msgtype=response", block, b);
        gzFile g = gzopen(path, i ? "ab" : "wb"); /* a member per record */
        ck_assert_int_eq(gzwrite(g, rec, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(g), Z_OK);
        struct stat sb;
        ck_assert_int_eq(stat(path, &sb), 0);
        off[i + 1] = (long)sb.st_size;
    }
    static uint8_t whole[16384];
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(whole, 1, sizeof whole, f), (size_t)off[N]);
    fclose(f);
    capture c;
    newsidx_ingest_stats st;
    char want[256];

    /* the second member's deflate data overwritten */
    static uint8_t bad[16384];
    memcpy(bad, whole, (size_t)off[N]);
    memset(bad + off[1] + 12, 0xFF, 16);
    write_file(tmp_path("bad.warc.gz"), bad, (size_t)off[N]);
    ck_assert_int_eq(run(tmp_path("bad.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 3);
    ck_assert(has_id(&c, "http://a.example/0") && !has_id(&c, "http://a.example/1"));
    ck_assert(has_id(&c, "http://a.example/2") && has_id(&c, "http://a.example/3"));
    ck_assert_uint_eq(st.errors, 1);
    snprintf(want, sizeof want, "the gzip member at byte %ld is corrupt", off[1]);
    ck_assert_msg(strstr(error_of(&c), want), "%s", error_of(&c));
    snprintf(want, sizeof want, "reading goes on at the next record (byte %ld)", off[2]);
    ck_assert_msg(strstr(error_of(&c), want), "%s", error_of(&c));

    /* the file ends halfway through the last member */
    long cut = off[N - 1] + (off[N] - off[N - 1]) / 2;
    write_file(tmp_path("cut.warc.gz"), whole, (size_t)cut);
    ck_assert_int_eq(run(tmp_path("cut.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, N - 1);
    ck_assert_uint_eq(st.errors, 1);
    snprintf(want, sizeof want,
             "the gzip member at byte %ld is cut short: the file ends inside it; "
             "no readable record follows it",
             off[N - 1]);
    ck_assert_str_eq(error_of(&c), want);

    /* the second member cut to half, the others right after it (a copy
     * that lost bytes): the next member is found again */
    static uint8_t gap[16384];
    long half = (off[2] - off[1]) / 2;
    memcpy(gap, whole, (size_t)(off[1] + half));
    memcpy(gap + off[1] + half, whole + off[2], (size_t)(off[N] - off[2]));
    write_file(tmp_path("gap.warc.gz"), gap, (size_t)(off[N] - (off[2] - off[1] - half)));
    ck_assert_int_eq(run(tmp_path("gap.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 3);
    ck_assert(!has_id(&c, "http://a.example/1") && has_id(&c, "http://a.example/3"));
    ck_assert_uint_eq(st.errors, 1);

    /* only the second member's checksum wrong: its record was read whole;
     * a warning, nothing lost */
    memcpy(bad, whole, (size_t)off[N]);
    bad[off[2] - 8] ^= 0x55;
    write_file(tmp_path("crc.warc.gz"), bad, (size_t)off[N]);
    ck_assert_int_eq(run(tmp_path("crc.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, N);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_int_eq(c.reports[0].severity, NEWSIDX_REPORT_WARNING);
    snprintf(want, sizeof want, "the gzip member at byte %ld fails its checksum", off[1]);
    ck_assert_msg(strstr(c.reports[0].msg, want), "%s", c.reports[0].msg);

    /* two members in a row with wrong checksums: both read, two warnings */
    memcpy(bad, whole, (size_t)off[N]);
    bad[off[2] - 8] ^= 0x55;
    bad[off[3] - 8] ^= 0x55;
    write_file(tmp_path("crc2.warc.gz"), bad, (size_t)off[N]);
    ck_assert_int_eq(run(tmp_path("crc2.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, N);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_int_eq(c.n_reports, 2);

    /* a record split over two members, the second starting with text
     * that is not a version line ("WARC/1.0 is ..."): read whole */
    {
        const char body[] = "<html><body><p>zebra one</p><pre>\n";
        const char tail[] = "WARC/1.0 is the format version; quagga two</pre></body></html>";
        char rec[512];
        int hn = snprintf(rec, sizeof rec,
                          "WARC/1.0\r\nWARC-Type: resource\r\nWARC-Target-URI: http://x/1\r\n"
                          "Content-Type: text/html\r\nContent-Length: %zu\r\n\r\n%s",
                          sizeof body - 1 + sizeof tail - 1, body);
        const char *split = tmp_path("split.warc.gz");
        gzFile g = gzopen(split, "wb");
        gzwrite(g, rec, (unsigned)hn);
        gzclose(g);
        g = gzopen(split, "ab");
        gzwrite(g, tail, sizeof tail - 1);
        gzwrite(g, "\r\n\r\n", 4);
        gzclose(g);
        ck_assert_int_eq(run(split, &c, &st), NEWSIDX_OK);
        ck_assert_int_eq(c.n_records, 1);
        ck_assert_int_eq(c.n_reports, 0);
        ck_assert_ptr_nonnull(strstr(by_id(&c, "http://x/1")->body, "quagga two"));
    }

    /* the first member corrupt: told a .warc.gz by its name, the rest read */
    memcpy(bad, whole, (size_t)off[N]);
    memset(bad + 12, 0xFF, 16);
    write_file(tmp_path("first.warc.gz"), bad, (size_t)off[N]);
    ck_assert_int_eq(run(tmp_path("first.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, N - 1);
    ck_assert(!has_id(&c, "http://a.example/0") && has_id(&c, "http://a.example/1"));
    ck_assert_uint_eq(st.errors, 1);

    /* a byte after the last member that is not gzip: a note */
    memcpy(bad, whole, (size_t)off[N]);
    bad[off[N]] = '\n';
    write_file(tmp_path("nl.warc.gz"), bad, (size_t)off[N] + 1);
    ck_assert_int_eq(run(tmp_path("nl.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, N);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.bytes_read, (uint64_t)off[N] + 1);

    /* the second record's Content-Length runs past its member, by 1 GB
     * (over all the others) or by 100 bytes: its block ends where the
     * next member starts a record, with a warning (before: the others were
     * lost) */
    static const size_t overrun[] = {1000000000, 100};
    for (int k = 0; k < 2; k++) {
        char page[] = "<html><title>Long</title><body><p>word text</p></body></html>";
        char block[512], rec[1024];
        size_t b = http_response(block, sizeof block, "Content-Type: text/html\r\n", page,
                                 sizeof page - 1);
        int hn = snprintf(rec, sizeof rec,
                          "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: "
                          "http://a.example/long\r\nContent-Type: application/http; "
                          "msgtype=response\r\nContent-Length: %zu\r\n\r\n",
                          b + overrun[k]);
        memcpy(rec + hn, block, b);
        memcpy(rec + hn + b, "\r\n\r\n", 4);
        size_t n = (size_t)hn + b + 4;
        uLongf zn = sizeof bad;
        z_stream z;
        memset(&z, 0, sizeof z);
        ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (Bytef *)rec;
        z.avail_in = (uInt)n;
        z.next_out = bad + off[1];
        z.avail_out = (uInt)(zn - (uLongf)off[1]);
        ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        size_t long_len = (size_t)z.total_out;
        deflateEnd(&z);
        memcpy(bad, whole, (size_t)off[1]);
        memcpy(bad + off[1] + long_len, whole + off[2], (size_t)(off[N] - off[2]));
        write_file(tmp_path("long.warc.gz"), bad,
                   (size_t)off[1] + long_len + (size_t)(off[N] - off[2]));
        ck_assert_int_eq(run(tmp_path("long.warc.gz"), &c, &st), NEWSIDX_OK);
        ck_assert(has_id(&c, "http://a.example/0") && has_id(&c, "http://a.example/long") &&
                  has_id(&c, "http://a.example/2") && has_id(&c, "http://a.example/3"));
        ck_assert_int_eq(c.n_records, N);
        ck_assert_uint_eq(st.errors, 0);
        ck_assert_int_eq(c.n_reports, 1);
        snprintf(want, sizeof want,
                 "the record at byte %ld: its Content-Length runs past its gzip member into "
                 "the next record: the block is cut there",
                 off[1]);
        ck_assert_str_eq(c.reports[0].msg, want);
    }

    /* zero padding after the last member */
    memset(whole + off[N], 0, 512);
    write_file(tmp_path("padded.warc.gz"), whole, (size_t)off[N] + 512);
    ck_assert_int_eq(run(tmp_path("padded.warc.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, N);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.bytes_read, (uint64_t)off[N] + 512);
    rm_tmpdir();
}
END_TEST

/* Found by fuzz_warc: a URL with bytes that are not UTF-8 went into the
 * id and url fields as they were, and a chunked body was parsed past its
 * end. */
START_TEST(test_warc_header_bytes_are_repaired_and_chunks_stay_in_bounds) {
    make_tmpdir();
    static char w[8192];
    char block[1024];
    const char page[] = "<title>T</title><p>x</p>";
    size_t b = http_response(block, sizeof block, "Content-Type: text/html\r\n", page, sizeof page - 1);
    size_t n = warc_record(w, sizeof w, "response", "http://a.example/caf\xe9", "application/http", block, b);
    /* a chunk size with no line end, at the very end of the block */
    b = http_response(block, sizeof block, "Content-Type: text/html\r\nTransfer-Encoding: chunked\r\n",
                      "fff", 3);
    n += warc_record(w + n, sizeof w - n, "response", "http://a.example/b", "application/http", block, b);
    write_file(tmp_path("bad.warc"), w, n);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("bad.warc"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 2);
    ck_assert_str_eq(c.records[0].id, "http://a.example/caf\xef\xbf\xbd");
    ck_assert_str_eq(c.records[0].url, "http://a.example/caf\xef\xbf\xbd");
    ck_assert_int_eq(c.reports[0].reason, NEWSIDX_REASON_BAD_UTF8);
    rm_tmpdir();
}
END_TEST

/* Found by review: a WARC-Target-URI was cut at 4095 bytes, so two pages
 * whose URLs differed only after that got one id and one replaced the
 * other; a Content-Length of -1 read as 2^64 - 1. */
START_TEST(test_warc_long_urls_stay_whole_and_a_negative_length_is_bad) {
    make_tmpdir();
    static char w[65536], uri[2][8300];
    char block[1024];
    const char page[] = "<title>T</title><p>x</p>";
    size_t b = http_response(block, sizeof block, "Content-Type: text/html\r\n", page, sizeof page - 1);
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        int u = snprintf(uri[k], sizeof uri[k], "http://a.example/?q=");
        memset(uri[k] + u, 'a', 8192);
        snprintf(uri[k] + u + 8192, sizeof uri[k] - (size_t)u - 8192, "&page=%d", k + 1);
        n += warc_record(w + n, sizeof w - n, "response", uri[k], "application/http", block, b);
    }
    write_file(tmp_path("long.warc"), w, n);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("long.warc"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 2);
    for (int k = 0; k < 2; k++) {
        ck_assert_uint_eq(c.records[k].id_len, strlen(uri[k]));
        ck_assert_uint_eq(c.records[k].id_tail_hash, nx_hash64(uri[k] + strlen(uri[k]) - 64, 64));
    }
    /* a negative length: said as such, not "truncated" */
    n = warc_record(w, sizeof w, "response", "http://a.example/n", "application/http", block, b);
    char *cl = strstr(w, "Content-Length: ");
    ck_assert_ptr_nonnull(cl);
    memcpy(cl + 16, "-1\r\n\r\n", 6);
    write_file(tmp_path("neg.warc"), w, (size_t)(cl - w) + 22);
    ck_assert_int_eq(run(tmp_path("neg.warc"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 0);
    ck_assert_int_ge(c.n_reports, 1);
    ck_assert_msg(strstr(c.reports[c.n_reports - 1].msg, "bad Content-Length") != NULL, "%s",
                  c.reports[c.n_reports - 1].msg);
    rm_tmpdir();
}
END_TEST

/* A ustar header for a regular file of `size` bytes (its data not written). */
static void tar_header(uint8_t h[512], const char *name, uint64_t size) {
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    memcpy(h + 136, "00000000000", 12);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

/* Found by review: a 7 KB tar.bz2 declaring an 8 GiB member took 23 s
 * (skipping the member decompressed it) and 882 bytes of bzip2 gave 1 GiB
 * of blank lines: a megabyte of input could take hours. An input is read
 * until it gives 1000 times its size plus 256 MiB; the rest is skipped
 * and said. */
START_TEST(test_decompression_bombs_stop_at_a_thousand_times_their_size) {
    if (nxt_small()) return; /* valgrind: 300 MiB through a decompressor takes minutes there */
    make_tmpdir();
    const char good[] = "{\"id\":\"g1\",\"title\":\"Good\",\"body\":\"kept\"}\n";
    /* a tar.gz: a good member, then one declaring 4 GiB (its data never
     * read: the header alone passes the bound) */
    static uint8_t tar[2048];
    tar_header(tar, "good.jsonl", sizeof good - 1);
    memcpy(tar + 512, good, sizeof good - 1);
    tar_header(tar + 1024, "big.txt", (uint64_t)4 << 30);
    gzFile g = gzopen(tmp_path("bomb.tar.gz"), "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, tar, sizeof tar), (int)sizeof tar);
    ck_assert_int_eq(gzclose(g), Z_OK);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("bomb.tar.gz"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(c.records[0].title, "Good");
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_msg(strstr(c.reports[0].msg, "member big.txt") &&
                      strstr(c.reports[0].msg, "decompression bomb"),
                  "%s", c.reports[0].msg);
    ck_assert_int_eq(c.reports[0].severity, NEWSIDX_REPORT_ERROR);
    /* a .jsonl.zst (read by the JSON Lines reader's own zstd): a good line,
     * 300 MiB of blank lines in a few KB, a line never reached */
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_raw(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_add_filter(a, ARCHIVE_FILTER_ZSTD), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, tmp_path("blank.jsonl.zst")), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_data(a, good, sizeof good - 1), (la_ssize_t)sizeof good - 1);
    static char nl[1 << 20];
    memset(nl, '\n', sizeof nl);
    for (int i = 0; i < 300; i++)
        ck_assert_int_eq(archive_write_data(a, nl, sizeof nl), (la_ssize_t)sizeof nl);
    const char late[] = "{\"id\":\"g2\",\"title\":\"Late\",\"body\":\"never\"}\n";
    ck_assert_int_eq(archive_write_data(a, late, sizeof late - 1), (la_ssize_t)sizeof late - 1);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    struct stat sb;
    ck_assert_int_eq(stat(tmp_path("blank.jsonl.zst"), &sb), 0);
    ck_assert_int_lt(sb.st_size, 64 << 10);
    ck_assert_int_eq(run(tmp_path("blank.jsonl.zst"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(c.records[0].title, "Good");
    ck_assert_int_eq(c.n_reports, 1);
    ck_assert_msg(strstr(c.reports[0].msg, "decompression bomb"), "%s", c.reports[0].msg);
    ck_assert_ptr_nonnull(strstr(c.reports[0].file, "blank.jsonl.zst"));
    rm_tmpdir();
}
END_TEST

/* ---- mail ---------------------------------------------------------------- */

static const char mbox[] =
    "From alice@example.org Mon Jan  1 00:00:00 2024\n"
    "From: =?ISO-8859-1?Q?Ren=E9_Dupr=E9?= <rene@example.org>\n"
    "To: list@example.org\n"
    "Subject: =?UTF-8?B?Q2Fmw6kgbWVldGluZyDigJQgbWludXRlcw==?=\n"
    "Date: Tue, 02 Jan 2024 10:30:00 +0100\n"
    "Message-ID: <m1@example.org>\n"
    "List-Id: Village Council <council.example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "The caf=E9 will open at nine. This line is long enough to be wrapped by quoted=\n"
    "-printable.\n"
    ">From the minutes.\n"
    "\n"
    "From bob@example.org Wed Jan  3 00:00:00 2024\n"
    "From: Bob Roe <bob@example.org>\n"
    "Subject: Budget\n"
    "Date: Wed, 03 Jan 2024 09:00:00 +0000\n"
    "Message-ID: <m2@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"OUTER\"\n"
    "\n"
    "--OUTER\n"
    "Content-Type: multipart/alternative; boundary=\"INNER\"\n"
    "\n"
    "--INNER\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>HTML version of the budget.</p>\n"
    "--INNER\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "VGhlIGJ1ZGdldCBpcyBiYWxhbmNlZC4=\n"
    "--INNER--\n"
    "--OUTER\n"
    "Content-Type: text/plain; name=\"secret.txt\"\n"
    "Content-Disposition: attachment; filename=\"secret.txt\"\n"
    "\n"
    "attachment text must not be indexed\n"
    "--OUTER--\n"
    "\n"
    "From carol@example.org Thu Jan  4 00:00:00 2024\n"
    "From: carol@example.org\n"
    "Subject: Only HTML\n"
    "Date: Thu, 04 Jan 2024 12:00:00 +0000\n"
    "Content-Type: text/html; charset=windows-1252\n"
    "\n"
    "<html><body><p>Tickets \x96 5\x80 each.</p></body></html>\n";

START_TEST(test_an_mbox_with_encoded_headers_and_multipart_messages) {
    make_tmpdir();
    write_file(tmp_path("council.mbox"), mbox, sizeof mbox - 1);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("council.mbox"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 3);
    const seen_record *a = by_id(&c, "m1@example.org");
    ck_assert_str_eq(a->title, "Caf\xc3\xa9 meeting \xe2\x80\x94 minutes");
    ck_assert_str_eq(a->author, "Ren\xc3\xa9 Dupr\xc3\xa9");
    ck_assert_str_eq(a->date, "2024-01-02T10:30:00+01:00");
    ck_assert_str_eq(a->source, "Village Council");
    ck_assert_ptr_nonnull(strstr(a->body, "The caf\xc3\xa9 will open at nine. This line is long enough to be wrapped by quoted-printable."));
    ck_assert_uint_eq(a->line, 1);
    const seen_record *b = by_id(&c, "m2@example.org");
    ck_assert_str_eq(b->title, "Budget");
    ck_assert_str_eq(b->author, "Bob Roe");
    ck_assert_str_eq(b->body, "The budget is balanced.");
    ck_assert_uint_eq(b->line, 16);
    /* no Message-ID: the writer derives one */
    const seen_record *h = by_id(&c, "");
    ck_assert_str_eq(h->title, "Only HTML");
    ck_assert_str_eq(h->author, "carol@example.org");
    ck_assert_str_eq(h->body, "Tickets \xe2\x80\x93 5\xe2\x82\xac each.");
    ck_assert_int_eq(c.n_reports, 0);
    /* one message as .eml: the file name is the id without a Message-ID */
    const char *third = strstr(mbox, "From carol");
    const char *eml = strchr(third, '\n') + 1;
    write_file(tmp_path("one.eml"), eml, strlen(eml));
    ck_assert_int_eq(run(tmp_path("one.eml"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(c.records[0].id, "one.eml");
    ck_assert_str_eq(c.records[0].title, "Only HTML");
    rm_tmpdir();
}
END_TEST

static int count_record(void *ctx, const nx_record *rec) {
    (void)rec;
    ++*(long *)ctx;
    return NX_RECORD_ADDED;
}

/* Resident bytes of the mapping that starts at addr (/proc/self/smaps). */
static long mapping_rss_kb(const void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    bool in = false;
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = lo == (unsigned long)(uintptr_t)addr;
            continue;
        }
        if (in && sscanf(line, "Rss: %ld kB", &kb) == 1) break;
    }
    fclose(f);
    return kb;
}

/* A mapped mbox gives back the pages of the messages it has read: a 400 MB
 * mailing-list archive stayed resident whole (peak RSS 595 MB), whatever
 * --ram said. */
START_TEST(test_a_mapped_mbox_does_not_stay_resident) {
    make_tmpdir();
    const long n = nxt_small() ? 4000 : 12000; /* ~2 KB each */
    FILE *f = fopen(tmp_path("list.mbox"), "w");
    ck_assert_ptr_nonnull(f);
    for (long i = 0; i < n; i++) {
        fprintf(f,
                "From a@b Mon Jan 1 00:00:00 2024\nFrom: a%ld@example.org\nSubject: note %ld\n"
                "Message-ID: <n%ld@example.org>\n\n",
                i % 50, i, i);
        for (int l = 0; l < 24; l++)
            fprintf(f, "line %d of note %ld: the council met on the budget.\n", l, i);
        fputc('\n', f);
    }
    fclose(f);
    int fd = open(tmp_path("list.mbox"), O_RDONLY);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    const char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    ck_assert(m != MAP_FAILED);
    newsidx_ingest_options o;
    newsidx_ingest_options_init(&o);
    newsidx_ingest_stats stats;
    memset(&stats, 0, sizeof stats);
    uint64_t in = 0;
    long records = 0;
    nx_sink sk = {&o, &stats, count_record, &records, o.max_line_bytes, &in};
    ck_assert_int_eq(nx_ingest_mbox_mapped(&sk, "list.mbox", m, (size_t)st.st_size), 0);
    ck_assert_int_eq(records, n);
    long rss = mapping_rss_kb(m);
    /* what is left: the last 4 MiB at most, of a file of 8-24 MB */
    ck_assert_msg(rss >= 0 && rss <= 4200 && (long)st.st_size / 1024 > 2 * rss,
                  "%ld kB resident of %ld kB", rss, (long)st.st_size / 1024);
    munmap((void *)m, (size_t)st.st_size);
    close(fd);
    rm_tmpdir();
}
END_TEST

/* ---- charsets ----------------------------------------------------------- */

START_TEST(test_one_sentence_in_five_encodings_is_stored_alike) {
    make_tmpdir();
    /* every character is in Latin-1, so all five can hold it */
    const char utf8[] = "Le caf\xc3\xa9 de la gare est ferm\xc3\xa9 \xc3\xa0 No\xc3\xabl, dit Ren\xc3\xa9; "
                        "l'\xc3\xa9t\xc3\xa9 dernier, la cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e \xc3\xa9tait "
                        "d\xc3\xa9licieuse \xc3\xa0 la Ch\xc3\xa2taigneraie.";
    /* the Latin-1 bytes of the same text */
    char latin1[512];
    size_t ln = 0;
    const unsigned char *u = (const unsigned char *)utf8;
    for (size_t i = 0; u[i];) {
        if (u[i] < 0x80) {
            latin1[ln++] = (char)u[i++];
        } else {
            latin1[ln++] = (char)(((u[i] & 0x1f) << 6) | (u[i + 1] & 0x3f));
            i += 2;
        }
    }
    char bom8[512], utf16[1024];
    size_t b8 = 0, u16 = 0;
    memcpy(bom8, "\xEF\xBB\xBF", 3);
    memcpy(bom8 + 3, utf8, sizeof utf8 - 1);
    b8 = sizeof utf8 + 2;
    utf16[u16++] = (char)0xFF;
    utf16[u16++] = (char)0xFE;
    for (size_t i = 0; i < ln; i++) {
        utf16[u16++] = latin1[i];
        utf16[u16++] = 0;
    }
    struct { const char *name; const char *data; size_t len; } in[] = {
        {"utf8.txt", utf8, sizeof utf8 - 1},
        {"bom.txt", bom8, b8},
        {"latin1.txt", latin1, ln},
        {"cp1252.txt", latin1, ln}, /* the same bytes: Latin-1 letters are cp1252's */
        {"utf16.txt", utf16, u16},
    };
    ck_assert_int_eq(mkdir(tmp_path("enc"), 0755), 0);
    for (size_t i = 0; i < 5; i++) {
        char title_then_text[1200];
        size_t tl = 0;
        /* a title line, then the sentence, in the same encoding */
        const char *t16 = "T\0i\0t\0l\0e\0\n\0";
        if (strcmp(in[i].name, "utf16.txt") == 0) {
            memcpy(title_then_text, in[i].data, 2);
            memcpy(title_then_text + 2, t16, 12);
            memcpy(title_then_text + 14, in[i].data + 2, in[i].len - 2);
            tl = in[i].len + 12;
        } else {
            size_t bom = strcmp(in[i].name, "bom.txt") == 0 ? 3 : 0;
            memcpy(title_then_text, in[i].data, bom);
            memcpy(title_then_text + bom, "Title\n", 6);
            memcpy(title_then_text + bom + 6, in[i].data + bom, in[i].len - bom);
            tl = in[i].len + 6;
        }
        char p[64];
        snprintf(p, sizeof p, "enc/%s", in[i].name);
        write_file(tmp_path(p), title_then_text, tl);
    }
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(tmp_path("enc"), &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 5);
    ck_assert_int_eq(c.n_reports, 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_msg(strcmp(c.records[i].title, "Title") == 0, "%s: title %s", c.records[i].id,
                      c.records[i].title);
        ck_assert_msg(strcmp(c.records[i].body, utf8) == 0, "%s: %s", c.records[i].id,
                      c.records[i].body);
    }
    /* and the same terms: each accented word finds all five in an index */
    newsidx_writer *w;
    ck_assert_int_eq(newsidx_writer_open(tmp_path("idx"), NULL, NULL, 0, &w), 0);
    ck_assert_int_eq(newsidx_ingest_path(w, tmp_path("enc"), NULL, &st), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    newsidx_reader *r;
    ck_assert_int_eq(newsidx_reader_open(tmp_path("idx"), NULL, 0, &r), 0);
    const char *words[] = {"caf\xc3\xa9", "No\xc3\xabl", "cr\xc3\xa8me", "br\xc3\xbbl\xc3\xa9" "e",
                           "Ch\xc3\xa2taigneraie", "d\xc3\xa9licieuse"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        newsidx_query *q;
        ck_assert_int_eq(newsidx_query_parse(r, words[i], strlen(words[i]), NULL, NULL, NULL, 0, &q), 0);
        newsidx_results *res;
        ck_assert_int_eq(newsidx_search_v2(r, q, NULL, NULL, 0, &res), 0);
        ck_assert_msg(newsidx_results_total(res) == 5, "%s: %llu hits", words[i],
                      (unsigned long long)newsidx_results_total(res));
        newsidx_results_free(res);
        newsidx_query_free(q);
    }
    newsidx_reader_close(r);
    rm_tmpdir();
}
END_TEST

START_TEST(test_a_windows_1252_page_declared_by_meta_keeps_its_quotes) {
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(PAGES "/cp1252-style.html", &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(c.records[0].title,
                     "He said \xe2\x80\x9chello\xe2\x80\x9d \xe2\x80\x93 caf\xc3\xa9 \xe2\x82\xac prices");
    ck_assert_str_eq(c.records[0].body, "He said \xe2\x80\x9chello\xe2\x80\x9d \xe2\x80\x93 caf\xc3\xa9 owners now charge 3\xe2\x82\xac a cup.");
    ck_assert_int_eq(c.n_reports, 0);
}
END_TEST

/* ---- news pages --------------------------------------------------------- */

typedef struct page_case {
    const char *file, *title, *author, *date;
    const char *has;     /* text the body must hold */
    const char *not_has; /* boilerplate it must not */
} page_case;

static const page_case pages[] = {
    {"bbc-style.html", "Flooding closes Severn bridges", "BBC News", "2024-02-11T08:15:02.000Z",
     "Drivers were told to expect long diversions", "Copyright 2024 BBC"},
    {"guardian-style.html", "Coffee prices hit record as harvest fails", "Jane Doe",
     "2024-03-05T06:00:05.000Z", "Traders blamed the worst harvest", "Sign up to Business"},
    {"nyt-style.html", "Senate Passes Rail Safety Bill After Derailment", "By Anna Smith and Ben Jones",
     "2024-04-18T21:44:10.000Z", "The bill now goes to the House.", "Wordle"},
    {"reuters-style.html", "Copper climbs on China stimulus hopes", "Pratima Desai",
     "2024-05-20T09:31:00Z", "London Metal Exchange was up 1.2%", "minimum of 15 minutes"},
    {"ap-style.html", "Wildfire forces evacuations near Athens | AP News", "Derek Gatopoulos",
     "2024-07-30T14:02:00Z", "water-dropping planes", "Associated Press. All Rights"},
    {"aljazeera-style.html", "Sahel states sign defence pact", "Nicolas Haque",
     "2024-09-16T12:00:00+00:00", "left ECOWAS earlier this year", "Flood toll"},
    {"lemonde-style.html", "Le march\xc3\xa9 de No\xc3\xabl ouvre ses portes", "Fran\xc3\xa7oise Dupr\xc3\xa9",
     "2024-11-29T07:00:00+01:00", "\xc2\xab C'est la f\xc3\xaate \xc2\xbb", "Lire aussi"},
    {"medium-style.html", "How We Rebuilt Our Newsroom Search", "Sam Lee", "2024-06-23T16:05:31.123Z",
     "forty years of stories", "Careers"},
    {"wordpress-style.html", "Village fair returns after five years", "Priya Nair",
     "2024-08-03T10:20:00+00:00", "more than two thousand visitors", "powered by WordPress"},
    {"spiegel-style.html", "Bahnstreik legt Fernverkehr lahm", "Lukas M\xc3\xbcller",
     "2024-01-10T05:31:00+01:00", "Nur jeder f\xc3\xbcnfte Zug fuhr.", "Impressum"},
    {"oldschool-style.html", "Harbour Gazette Online", "", "",
     "Repairs to the slipway cost 1.2 million pounds.", NULL},
};

START_TEST(test_news_pages_give_metadata_and_lose_their_boilerplate) {
    capture c;
    newsidx_ingest_stats st;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        const page_case *p = &pages[i];
        char path[512];
        snprintf(path, sizeof path, "%s/%s", PAGES, p->file);
        ck_assert_int_eq(run(path, &c, &st), NEWSIDX_OK);
        ck_assert_msg(c.n_records == 1, "%s", p->file);
        const seen_record *r = &c.records[0];
        ck_assert_msg(strcmp(r->title, p->title) == 0, "%s: title '%s'", p->file, r->title);
        ck_assert_msg(strcmp(r->author, p->author) == 0, "%s: author '%s'", p->file, r->author);
        ck_assert_msg(strcmp(r->date, p->date) == 0, "%s: date '%s'", p->file, r->date);
        ck_assert_msg(strstr(r->body, p->has) != NULL, "%s: body '%s'", p->file, r->body);
        if (p->not_has)
            ck_assert_msg(strstr(r->body, p->not_has) == NULL, "%s: boilerplate in '%s'", p->file,
                          r->body);
        /* menus are never article text */
        ck_assert_msg(strstr(r->body, "Sport") == NULL && strstr(r->body, "Politics") == NULL,
                      "%s: menu in '%s'", p->file, r->body);
        ck_assert_msg(c.n_reports == 0, "%s: %s", p->file, c.n_reports ? c.reports[0].msg : "");
        if (p->date[0]) {
            int64_t t;
            ck_assert_msg(newsidx_parse_date(r->date, strlen(r->date), &t) == 0, "%s", p->file);
        }
    }
}
END_TEST

START_TEST(test_the_text_fixture_gets_its_headline_and_date) {
    /* a text whose first lines are all metadata keeps its first line */
    nx_text_parts p;
    const char only[] = "Jun 23, 2024\n";
    nx_text_article(only, sizeof only - 1, false, &p);
    ck_assert_uint_eq(p.title_len, 12);
    /* the real article of ../shared/fixtures (SKIP in a clone without it) */
    char dir[1024], path[1100];
    NXT_SHARED_OR_SKIP("fixtures", dir);
    snprintf(path, sizeof path, "%s/putin-traore-2024.txt", dir);
    capture c;
    newsidx_ingest_stats st;
    ck_assert_int_eq(run(path, &c, &st), NEWSIDX_OK);
    ck_assert_int_eq(c.n_records, 1);
    ck_assert_str_eq(c.records[0].title, "Putin\xe2\x80\x99s Personal Pledge: A New Chapter in "
                                         "Russia-Burkina Faso Relations");
    ck_assert_str_eq(c.records[0].date, "Jun 23, 2024");
    ck_assert(strncmp(c.records[0].body, "In an unexpected yet telling move", 33) == 0);
}
END_TEST

Suite *dumps_suite(void);
Suite *dumps_suite(void) {
    Suite *s = suite_create("dumps");
    TCase *tc = tcase_create("dumps");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_tar_gz_of_html_gives_each_article_once_with_its_metadata);
    tcase_add_test(tc, test_a_zip_of_text_and_jsonl_and_a_nested_tar_inside_a_walk);
    tcase_add_test(tc, test_a_corrupt_member_is_reported_by_name_and_the_rest_indexed);
    tcase_add_test(tc, test_7z_and_cpio_archives_give_each_member_with_its_id);
    tcase_add_test(tc, test_a_zstd_tar_under_another_name_is_told_by_its_content);
    tcase_add_test(tc, test_a_long_file_and_a_long_member_are_cut_alike);
    tcase_add_test(tc, test_unsupported_inputs_say_so_once);
    tcase_add_test(tc, test_warc_responses_in_two_charsets_become_articles);
    tcase_add_test(tc, test_a_damaged_gzip_member_costs_one_warc_record);
    tcase_add_test(tc, test_warc_header_bytes_are_repaired_and_chunks_stay_in_bounds);
    tcase_add_test(tc, test_warc_long_urls_stay_whole_and_a_negative_length_is_bad);
    tcase_add_test(tc, test_decompression_bombs_stop_at_a_thousand_times_their_size);
    tcase_add_test(tc, test_an_mbox_with_encoded_headers_and_multipart_messages);
    tcase_add_test(tc, test_a_mapped_mbox_does_not_stay_resident);
    tcase_add_test(tc, test_one_sentence_in_five_encodings_is_stored_alike);
    tcase_add_test(tc, test_a_windows_1252_page_declared_by_meta_keeps_its_quotes);
    tcase_add_test(tc, test_news_pages_give_metadata_and_lose_their_boilerplate);
    tcase_add_test(tc, test_the_text_fixture_gets_its_headline_and_date);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nxt_run(dumps_suite(), CK_FORK_GETENV); }
