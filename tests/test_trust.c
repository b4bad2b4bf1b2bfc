/* Trust (issue 11, the file system half): a planted symbolic link never
 * makes the writer write outside the index; a failed commit leaves no
 * file behind, and a crash's leftovers go at the next writer; an id is
 * never altered into another one; a directory walk stays inside its root.
 * Each test failed on the code before its fix. */
#include "fuzz/fuzz_common.h"
#include "index/writer_internal.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

static char g_dir[64];
static char g_mount[4200]; /* a tmpfs this test mounted ("" if none) */

static void setup(void) {
    strcpy(g_dir, "/tmp/nx_trust_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    g_mount[0] = '\0';
}

/* Also after a failed assertion: a mount left behind would outlive the run. */
static void teardown(void) {
    if (g_mount[0]) umount2(g_mount, MNT_DETACH);
    nxf_rmtree(g_dir);
}

/* g_dir/name into buf. */
static void at(char *buf, size_t cap, const char *name) { nxf_join(buf, cap, "%s/%s", g_dir, name); }

static void put(const char *path, const char *text) {
    ck_assert_int_eq(nxf_write(path, (const uint8_t *)text, strlen(text)), 0);
}

/* Whether path's content is exactly text. */
static bool holds(const char *path, const char *text) {
    size_t n = 0;
    uint8_t *p = nxf_read(path, &n);
    bool same = p && n == strlen(text) && memcmp(p, text, n) == 0;
    free(p);
    return same;
}

static bool exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* How many entries of dir are named like index files (seg_*, MANIFEST-*). */
static int count_index_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

static int add_n(newsidx_writer *w, int from, int n) {
    int rc = 0;
    for (int i = from; i < from + n && rc == 0; i++) rc = nxf_add(w, i, 0);
    return rc;
}

/* Builds a committed index of n articles in dir. */
static void build(const char *dir, int n) {
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(dir, NULL, NULL, 0, &w), 0);
    ck_assert_int_eq(add_n(w, 0, n), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
}

/* ---- 1. symbolic links in the index directory ---------------------------- */

/* seg_1.post -> ../victim.txt in a directory without an index: the first
 * file the writer creates. The writer refuses the directory, naming the
 * link, and victim.txt keeps its bytes. */
START_TEST(test_a_planted_segment_link_is_refused_and_its_target_untouched) {
    char idx[4200], victim[4200], link[4200];
    at(idx, sizeof idx, "idx");
    at(victim, sizeof victim, "victim.txt");
    nxf_join(link, sizeof link, "%s/%s", idx, "seg_1.post");
    put(victim, "precious");
    ck_assert_int_eq(mkdir(idx, 0755), 0);
    ck_assert_int_eq(symlink("../victim.txt", link), 0);
    newsidx_writer *w = NULL;
    char eb[512];
    int rc = newsidx_writer_open(idx, NULL, eb, sizeof eb, &w);
    if (rc == 0) { /* the old writer: write and commit through the link */
        add_n(w, 0, 20);
        newsidx_writer_commit(w);
        newsidx_writer_close(w);
    }
    ck_assert_msg(holds(victim, "precious"), "victim.txt was written through seg_1.post");
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(eb, "seg_1.post") && strstr(eb, "symbolic link"), "%s", eb);

    /* the same link beside a committed index: refused by writer and reader */
    char idx2[4200];
    at(idx2, sizeof idx2, "idx2");
    build(idx2, 10);
    nxf_join(link, sizeof link, "%s/%s", idx2, "seg_9.dict");
    ck_assert_int_eq(symlink("../victim.txt", link), 0);
    rc = newsidx_writer_open(idx2, NULL, eb, sizeof eb, &w);
    if (rc == 0) newsidx_writer_close(w);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(eb, "seg_9.dict") && strstr(eb, "symbolic link"), "%s", eb);
    newsidx_reader *r = NULL;
    rc = newsidx_reader_open(idx2, eb, sizeof eb, &r);
    newsidx_reader_close(r);
    ck_assert_int_eq(rc, NEWSIDX_ERR_CORRUPT);
    ck_assert_msg(strstr(eb, "seg_9.dict") && strstr(eb, "symbolic link"), "%s", eb);
    ck_assert(holds(victim, "precious"));
}
END_TEST

/* A link planted after the writer opened (between its check and its
 * files): the file is created beside it, never through it. */
START_TEST(test_a_link_planted_while_the_writer_is_open_is_not_written_through) {
    char idx[4200], victim[4200], link[4200];
    at(idx, sizeof idx, "idx");
    at(victim, sizeof victim, "victim.txt");
    put(victim, "precious");
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    /* seg_1, the first flush, stays: the commit must not merge it away */
    o.keep_flushes = 1;
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(idx, &o, NULL, 0, &w), 0);
    ck_assert_int_eq(add_n(w, 0, 50), 0);
    static const char *const exts[] = {"post", "pos", "docs", "dict", "norm", "col"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seg_1.%s", exts[i]);
        nxf_join(link, sizeof link, "%s/%s", idx, name);
        ck_assert_int_eq(symlink("../victim.txt", link), 0);
    }
    nxf_join(link, sizeof link, "%s/%s", idx, "MANIFEST-1.tmp");
    ck_assert_int_eq(symlink("../victim.txt", link), 0);
    int rc = newsidx_writer_commit(w);
    newsidx_writer_close(w);
    ck_assert_msg(holds(victim, "precious"), "victim.txt was written through a planted link");
    ck_assert_int_eq(rc, 0);
    struct stat st;
    nxf_join(link, sizeof link, "%s/%s", idx, "seg_1.post");
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    newsidx_reader *r = NULL;
    ck_assert_int_eq(newsidx_reader_open(idx, NULL, 0, &r), 0);
    newsidx_stats s;
    newsidx_reader_stats(r, &s);
    ck_assert_uint_eq(s.docs, 50);
    newsidx_reader_close(r);
}
END_TEST

/* LOCK -> ../made_by_lock (dangling): the writer must not create the
 * target, and says which file is wrong. */
START_TEST(test_a_dangling_lock_link_creates_nothing) {
    char idx[4200], target[4200], link[4200];
    at(idx, sizeof idx, "idx");
    at(target, sizeof target, "made_by_lock");
    ck_assert_int_eq(mkdir(idx, 0755), 0);
    nxf_join(link, sizeof link, "%s/%s", idx, "LOCK");
    ck_assert_int_eq(symlink("../made_by_lock", link), 0);
    newsidx_writer *w = NULL;
    char eb[512];
    int rc = newsidx_writer_open(idx, NULL, eb, sizeof eb, &w);
    newsidx_writer_close(w);
    ck_assert_msg(!exists(target), "the writer created the LOCK link's target");
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(eb, "LOCK") && strstr(eb, "symbolic link"), "%s", eb);
}
END_TEST

/* ---- 2. failed commits -------------------------------------------------- */

/* Where writes fail: a small tmpfs (when this process may mount one) whose
 * free space a filler file sets, else a file size limit (RLIMIT_FSIZE,
 * SIGXFSZ ignored: writes past it fail with EFBIG). */
typedef struct space {
    char root[4200]; /* the directory the index goes in */
    bool tmpfs;
} space;

static void space_open(space *sp) {
    at(sp->root, sizeof sp->root, "fs");
    ck_assert_int_eq(mkdir(sp->root, 0755), 0);
    /* In a mount namespace of its own (private propagation), the tmpfs
     * goes away with this test's process whatever happens to it. */
    sp->tmpfs = unshare(CLONE_NEWNS) == 0 &&
                mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
                mount("tmpfs", sp->root, "tmpfs", 0, "size=4m") == 0;
    if (sp->tmpfs) strcpy(g_mount, sp->root);
}

/* Empties the space. */
static void space_clear(const space *sp) {
    char p[4200];
    DIR *d = opendir(sp->root);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        nxf_join(p, sizeof p, "%s/%s", sp->root, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) nxf_rmtree(p);
        else unlink(p);
    }
    closedir(d);
}

/* Leaves about `room` bytes writable: on tmpfs a filler file takes the
 * rest of the free space; otherwise the room is the largest file size,
 * applied in the child that writes. */
static void space_fill(const space *sp, uint64_t room) {
    if (!sp->tmpfs) return;
    struct statvfs v;
    ck_assert_int_eq(statvfs(sp->root, &v), 0);
    uint64_t free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
    uint64_t fill = free_bytes > room ? free_bytes - room : 0;
    char p[4200];
    nxf_join(p, sizeof p, "%s/%s", sp->root, "filler");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    static uint8_t zero[1 << 16];
    while (fill > 0) {
        ssize_t w = write(fd, zero, fill < sizeof zero ? fill : sizeof zero);
        if (w <= 0) break;
        fill -= (uint64_t)w;
    }
    close(fd);
}

/* In a child: with `room` bytes of space, opens a writer on dir (appending
 * when append), adds articles 1000.. (replacing a few of the committed
 * ones, with a small RAM budget and merge factor: flushes, merges and
 * tombstones) and commits. With `workers`, two workers and room for their
 * buffers: each flushes at the commit, whose merge of the two copies the
 * doc store on a thread beside the terms'. Right after a failed commit returns, dir must
 * hold the files it held before (before[]). Exit 0: committed; 1: failed
 * and clean; 2: failed with leftovers (printed); 3: setup failed. */
static int commit_with_room(const space *sp, const char *dir, bool append, bool workers,
                            uint64_t room, char **before, size_t n_before) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!sp->tmpfs) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {room, room};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
        }
        newsidx_writer_options o;
        newsidx_writer_options_init(&o);
        o.append = append;
        o.ram_budget_bytes = 256u << 10;
        o.merge_factor = 3;
        o.doc_store_level = 1;
        if (workers) {
            o.threads = 2;
            o.ram_budget_bytes = 40u << 20;
        }
        newsidx_writer *w = NULL;
        if (newsidx_writer_open(dir, &o, NULL, 0, &w) != 0) _exit(3);
        if (workers && w->n_bufs != 2) _exit(3);
        int rc = 0;
        for (int i = 0; i < 40 && rc == 0; i += 3) rc = nxf_add(w, i, 1);
        if (rc == 0) rc = add_n(w, 1000, 300);
        /* an add can fail too (a flush): the commit then fails at once */
        int crc = newsidx_writer_commit(w);
        if (crc == 0) _exit(0);
        char *now[256];
        size_t n_now = nxf_list_files(dir, now, 256);
        bool same = n_now == n_before;
        for (size_t i = 0; i < n_now && same; i++) same = strcmp(now[i], before[i]) == 0;
        if (!same) {
            fprintf(stderr, "room %llu: after the failed commit (%s):", (unsigned long long)room,
                    newsidx_writer_errmsg(w));
            for (size_t i = 0; i < n_now; i++) fprintf(stderr, " %s", now[i]);
            fprintf(stderr, "\n");
        }
        _exit(same ? 1 : 2);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "the writer child died of signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

/* Sweeps the room a commit gets from almost nothing to enough, so the
 * write error strikes in every file of the commit (segment files
 * finished or not, merges, tombstones, the manifest): every failed commit
 * leaves exactly the files that were there before it, and the index
 * still opens on its last commit. */
START_TEST(test_a_failed_commit_leaves_exactly_the_files_it_found) {
    space sp;
    space_open(&sp);
    int failed = 0, committed = 0;
    for (int pass = 0; pass < 3; pass++) {
        bool append = pass == 1, workers = pass == 2;
        for (uint64_t room = 16u << 10; room < (3u << 20); room += room / 6) {
            space_clear(&sp);
            char idx[4200];
            nxf_join(idx, sizeof idx, "%s/%s", sp.root, "idx");
            if (append) build(idx, 200);
            char *before[256];
            size_t n_before = nxf_list_files(idx, before, 256);
            space_fill(&sp, room);
            int rc = commit_with_room(&sp, idx, append, workers, room, before, n_before);
            for (size_t i = 0; i < n_before; i++) free(before[i]);
            ck_assert_msg(rc != 3, "setup failed at room %llu", (unsigned long long)room);
            ck_assert_msg(rc != 2, "leftovers after a failed commit (room %llu, %s)",
                          (unsigned long long)room, append ? "append" : "new");
            if (rc == 0) committed++;
            else failed++;
            if (append) { /* the last commit is intact */
                newsidx_reader *r = NULL;
                ck_assert_int_eq(newsidx_reader_open(idx, NULL, 0, &r), 0);
                newsidx_stats s;
                newsidx_reader_stats(r, &s);
                ck_assert_uint_eq(s.docs, rc == 0 ? 500 : 200);
                newsidx_reader_close(r);
            }
        }
    }
    ck_assert_int_ge(failed, 8);
    ck_assert_int_ge(committed, 1);
}
END_TEST

/* Leftovers of a crash (segment files, a temp manifest) in a directory
 * that never got a manifest are removed by the next writer; files not
 * named like index files stay, and a damaged manifest is never removed. */
START_TEST(test_crash_leftovers_go_even_without_a_manifest) {
    char idx[4200], p[4200];
    at(idx, sizeof idx, "idx");
    ck_assert_int_eq(mkdir(idx, 0755), 0);
    static const char *const junk[] = {"seg_3.post", "seg_3.dict", "seg_7.del_2", "MANIFEST-2.tmp"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        nxf_join(p, sizeof p, "%s/%s", idx, junk[i]);
        put(p, "half-written");
    }
    nxf_join(p, sizeof p, "%s/%s", idx, "notes.txt");
    put(p, "mine");
    nxf_join(p, sizeof p, "%s/%s", idx, "seg_notes");
    put(p, "mine too");
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(idx, NULL, NULL, 0, &w), 0);
    ck_assert_int_eq(count_index_files(idx, "seg_"), 1); /* seg_notes */
    ck_assert_int_eq(count_index_files(idx, "MANIFEST-"), 0);
    ck_assert(exists(p));
    nxf_join(p, sizeof p, "%s/%s", idx, "notes.txt");
    ck_assert(exists(p));
    newsidx_writer_close(w);

    /* a manifest that cannot be read: refused, and it stays */
    char idx2[4200];
    at(idx2, sizeof idx2, "idx2");
    ck_assert_int_eq(mkdir(idx2, 0755), 0);
    nxf_join(p, sizeof p, "%s/%s", idx2, "MANIFEST-4");
    put(p, "damaged");
    char seg[4200];
    nxf_join(seg, sizeof seg, "%s/%s", idx2, "seg_1.post");
    put(seg, "data the damaged manifest may reference");
    ck_assert_int_ne(newsidx_writer_open(idx2, NULL, NULL, 0, &w), 0);
    ck_assert(holds(p, "damaged"));
    ck_assert(exists(seg));
}
END_TEST

/* Runs a shell command; returns its exit code and its stdout+stderr. */
static int run(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t cap, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes n generated articles as JSON Lines to path. */
static void write_jsonl(const char *path, int from, int n) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = from; i < from + n; i++) {
        uint64_t seed = (uint64_t)i * 31 + 5;
        char body[4096];
        nxf_words_into(&seed, body, sizeof body, 300);
        fprintf(f, "{\"id\":\"j-%d\",\"title\":\"article %d\",\"body\":\"%s\"}\n", i, i, body);
    }
    fclose(f);
}

/* The CLI under a file size limit (ulimit -f, SIGXFSZ ignored): the
 * commit fails, the run says nothing was committed, exits 1, and the
 * appended-to index is what it was. */
START_TEST(test_the_cli_says_nothing_was_committed_and_exits_1) {
    char in[4200], more[4200], idx[4200], out[16384];
    at(in, sizeof in, "in.jsonl");
    at(more, sizeof more, "more.jsonl");
    at(idx, sizeof idx, "idx");
    write_jsonl(in, 0, 20);
    write_jsonl(more, 100, 3000);
    ck_assert_int_eq(run(out, sizeof out, "%s index -o %s %s", NEWSIDX_CLI, idx, in), 0);
    char *before[64];
    size_t n_before = nxf_list_files(idx, before, 64);
    int rc = run(out, sizeof out, "trap '' XFSZ; ulimit -f 256; %s index --append -o %s %s",
                 NEWSIDX_CLI, idx, more);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "nothing committed") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\nindexed ") == NULL && strncmp(out, "indexed ", 8) != 0, "%s",
                  out);
    char *now[64];
    size_t n_now = nxf_list_files(idx, now, 64);
    ck_assert_uint_eq(n_now, n_before);
    for (size_t i = 0; i < n_now; i++) {
        ck_assert_str_eq(now[i], before[i]);
        free(now[i]);
        free(before[i]);
    }
    rc = run(out, sizeof out, "%s stats %s --json", NEWSIDX_CLI, idx);
    ck_assert_msg(rc == 0 && strstr(out, "{\"docs\": 20,") != NULL, "%s", out);
}
END_TEST

/* ---- 3. ids ---------------------------------------------------------------- */

/* The title stored for id in dir's index, or "" when it has no such article. */
static void title_of(const char *dir, const char *id, char *out, size_t cap) {
    out[0] = '\0';
    newsidx_reader *r = NULL;
    ck_assert_int_eq(newsidx_reader_open(dir, NULL, 0, &r), 0);
    newsidx_doc *d = NULL;
    if (newsidx_reader_get(r, id, strlen(id), &d) == 0) {
        for (size_t i = 0; i < newsidx_doc_field_count(d); i++) {
            const newsidx_field *f = newsidx_doc_field(d, i);
            if (strcmp(f->name, "title") == 0)
                snprintf(out, cap, "%.*s", (int)f->value_len, f->value);
        }
        newsidx_doc_free(d);
    }
    newsidx_reader_close(r);
}

static int add_titled(newsidx_writer *w, const char *id, size_t id_len, const char *title) {
    newsidx_field f[] = {{"id", id, id_len}, {"title", title, strlen(title)}, {"body", "text", 4}};
    return newsidx_writer_add(w, f, 3, NULL);
}

/* The API refuses an id with a NUL byte or invalid UTF-8, says so, and
 * goes on: "a\0b" does not replace "ab". */
START_TEST(test_the_writer_refuses_an_id_it_would_have_to_alter) {
    char idx[4200], title[256];
    at(idx, sizeof idx, "idx");
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(idx, NULL, NULL, 0, &w), 0);
    ck_assert_int_eq(add_titled(w, "ab", 2, "original"), 0);
    ck_assert_int_eq(add_titled(w, "a\0b", 3, "impostor"), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(newsidx_writer_errmsg(w), "NUL"), "%s", newsidx_writer_errmsg(w));
    ck_assert_int_eq(add_titled(w, "ab\xff", 3, "impostor"), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(newsidx_writer_errmsg(w), "UTF-8"), "%s", newsidx_writer_errmsg(w));
    ck_assert_int_eq(add_titled(w, "cd", 2, "second"), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    title_of(idx, "ab", title, sizeof title);
    ck_assert_str_eq(title, "original");
    title_of(idx, "cd", title, sizeof title);
    ck_assert_str_eq(title, "second");
}
END_TEST

typedef struct report_log {
    char text[8192];
    size_t len;
} report_log;

static void log_report(void *ctx, const char *file, uint64_t line, int severity, int reason,
                       const char *message) {
    report_log *l = ctx;
    (void)file;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%llu:%d:%s:%s\n",
                     (unsigned long long)line, severity, newsidx_reason_name(reason), message);
    if (n > 0 && (size_t)n < sizeof l->text - l->len) l->len += (size_t)n;
}

/* JSON Lines whose ids the reader used to repair into another id: a
 * \u0000 escape (both parsers: the fast scanner and, with a number it
 * hands to jansson, jansson), a raw NUL byte, invalid UTF-8 bytes. Each
 * is skipped with its reason; "ab", "cd" and "ef" keep their articles. */
START_TEST(test_json_ids_are_never_altered_into_another_id) {
    char in[4200], idx[4200], title[256];
    at(in, sizeof in, "in.jsonl");
    at(idx, sizeof idx, "idx");
    static const char lines[] =
        "{\"id\":\"ab\",\"title\":\"original ab\",\"body\":\"x\"}\n"
        "{\"id\":\"cd\",\"title\":\"original cd\",\"body\":\"x\"}\n"
        "{\"id\":\"ef\",\"title\":\"original ef\",\"body\":\"x\"}\n"
        "{\"id\":\"a\\u0000b\",\"title\":\"impostor 1\",\"body\":\"x\"}\n"
        "{\"id\":\"a\\u0000b\",\"n\":1e5,\"title\":\"impostor 2\",\"body\":\"x\"}\n"
        "{\"id\":\"c\0d\",\"title\":\"impostor 3\",\"body\":\"x\"}\n"
        "{\"i\0d\":\"ef\",\"title\":\"impostor 4\",\"body\":\"x\"}\n"
        "{\"id\":\"g\xffh\",\"title\":\"first g?h\",\"body\":\"x\"}\n"
        "{\"id\":\"g\xfeh\",\"title\":\"impostor 5\",\"n\":2e1,\"body\":\"x\"}\n"
        "{\"title\":\"a NUL elsewhere is only a warning\",\"body\":\"x\\u0000y\",\"id\":\"ok\"}\n";
    ck_assert_int_eq(nxf_write(in, (const uint8_t *)lines, sizeof lines - 1), 0);
    newsidx_writer *w = NULL;
    ck_assert_int_eq(newsidx_writer_open(idx, NULL, NULL, 0, &w), 0);
    newsidx_ingest_options io;
    newsidx_ingest_options_init(&io);
    report_log log = {0};
    io.report = log_report;
    io.ctx = &log;
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(newsidx_ingest_path(w, in, &io, &st), 0);
    ck_assert_int_eq(newsidx_writer_commit(w), 0);
    newsidx_writer_close(w);
    ck_assert_msg(st.indexed == 4 && st.skipped == 6, "indexed %llu, skipped %llu:\n%s",
                  (unsigned long long)st.indexed, (unsigned long long)st.skipped, log.text);
    ck_assert_uint_eq(st.by_reason[NEWSIDX_REASON_NUL_BYTE], 4 + 1);
    ck_assert_uint_ge(st.by_reason[NEWSIDX_REASON_BAD_UTF8], 2);
    ck_assert_msg(strstr(log.text, "4:2:nul-byte:") && strstr(log.text, "9:2:bad-utf8:"), "%s",
                  log.text);
    title_of(idx, "ab", title, sizeof title);
    ck_assert_str_eq(title, "original ab");
    title_of(idx, "cd", title, sizeof title);
    ck_assert_str_eq(title, "original cd");
    title_of(idx, "ef", title, sizeof title);
    ck_assert_str_eq(title, "original ef");
    title_of(idx, "ok", title, sizeof title);
    ck_assert_str_eq(title, "a NUL elsewhere is only a warning");
}
END_TEST

/* ---- 4. walks stay inside their roots ------------------------------------- */

/* in/passwd.txt -> /etc/passwd and in/out -> a directory outside: skipped
 * with one warning each, nothing of them indexed, `get` cannot print them;
 * a link that stays inside is followed; --follow follows them all. */
START_TEST(test_a_walk_skips_links_that_leave_its_root) {
    char in[4200], outside[4200], p[4200], idx[4200], out[16384];
    at(in, sizeof in, "in");
    at(outside, sizeof outside, "outside");
    at(idx, sizeof idx, "idx");
    ck_assert_int_eq(mkdir(in, 0755), 0);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    nxf_join(p, sizeof p, "%s/%s", in, "a.txt");
    put(p, "Title A\nmarket price\n");
    nxf_join(p, sizeof p, "%s/%s", outside, "secret.txt");
    put(p, "Secret\nprivate words\n");
    nxf_join(p, sizeof p, "%s/%s", in, "passwd.txt");
    ck_assert_int_eq(symlink("/etc/passwd", p), 0);
    nxf_join(p, sizeof p, "%s/%s", in, "out");
    ck_assert_int_eq(symlink("../outside", p), 0);
    nxf_join(p, sizeof p, "%s/%s", in, "same.txt");
    ck_assert_int_eq(symlink("a.txt", p), 0);
    int rc = run(out, sizeof out, "%s index -o %s %s", NEWSIDX_CLI, idx, in);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "passwd.txt") && strstr(out, "outside the input directory"), "%s",
                  out);
    const char *second = strstr(out, "passwd.txt");
    ck_assert_msg(!strstr(second + 1, "passwd.txt: warning"), "more than one warning: %s", out);
    rc = run(out, sizeof out, "%s get %s passwd.txt", NEWSIDX_CLI, idx);
    ck_assert_msg(rc != 0 && !strstr(out, "root:"), "exit %d: %s", rc, out);
    rc = run(out, sizeof out, "%s get %s out/secret.txt", NEWSIDX_CLI, idx);
    ck_assert_msg(rc != 0 && !strstr(out, "private"), "exit %d: %s", rc, out);
    rc = run(out, sizeof out, "%s get %s same.txt", NEWSIDX_CLI, idx);
    ck_assert_msg(rc == 0, "a link inside the root is followed: exit %d: %s", rc, out);

    rc = run(out, sizeof out, "%s index --replace --follow -o %s %s", NEWSIDX_CLI, idx, in);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    rc = run(out, sizeof out, "%s get %s out/secret.txt", NEWSIDX_CLI, idx);
    ck_assert_msg(rc == 0 && strstr(out, "private"), "--follow: exit %d: %s", rc, out);
    rc = run(out, sizeof out, "%s get %s passwd.txt", NEWSIDX_CLI, idx);
    ck_assert_msg(rc == 0, "--follow: exit %d: %s", rc, out);
}
END_TEST

static Suite *trust_suite(void) {
    Suite *s = suite_create("trust");
    TCase *tc = tcase_create("links");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_planted_segment_link_is_refused_and_its_target_untouched);
    tcase_add_test(tc, test_a_link_planted_while_the_writer_is_open_is_not_written_through);
    tcase_add_test(tc, test_a_dangling_lock_link_creates_nothing);
    tcase_add_test(tc, test_a_failed_commit_leaves_exactly_the_files_it_found);
    tcase_add_test(tc, test_crash_leftovers_go_even_without_a_manifest);
    tcase_add_test(tc, test_the_cli_says_nothing_was_committed_and_exits_1);
    tcase_add_test(tc, test_the_writer_refuses_an_id_it_would_have_to_alter);
    tcase_add_test(tc, test_json_ids_are_never_altered_into_another_id);
    tcase_add_test(tc, test_a_walk_skips_links_that_leave_its_root);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(trust_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
