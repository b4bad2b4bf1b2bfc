/* walk.c — paths to records: "-" (JSON Lines on stdin), a single file, or a
 * directory walked recursively in sorted order; .txt/.md/.html files become
 * one article each, JSON Lines files go to jsonl.c. Records and problems go
 * out through report.c. docs/INGEST.md describes every rule (file types,
 * ids, limits, reports). */
#include "ingest/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper directory trees are reported, not walked: a bound on recursion. */
#define NX_MAX_DIR_DEPTH 256

/* ---- one whole file as one article -------------------------------------- */

enum file_kind { KIND_SKIP, KIND_JSONL, KIND_TEXT, KIND_MARKDOWN, KIND_HTML };

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static enum file_kind kind_of(const char *name) {
    size_t n = strlen(name);
    static const char *const jsonl[] = {".jsonl", ".jsonl.zst", ".jsonl.gz",
                                        ".ndjson", ".ndjson.zst", ".ndjson.gz"};
    for (size_t i = 0; i < sizeof jsonl / sizeof jsonl[0]; i++)
        if (ends_with(name, n, jsonl[i])) return KIND_JSONL;
    if (ends_with(name, n, ".txt")) return KIND_TEXT;
    if (ends_with(name, n, ".md")) return KIND_MARKDOWN;
    if (ends_with(name, n, ".html") || ends_with(name, n, ".htm")) return KIND_HTML;
    return KIND_SKIP;
}

typedef struct walker {
    const newsidx_ingest_options *opts;
    newsidx_ingest_stats *stats;
    nx_record_fn fn;
    void *ctx;
    size_t max_bytes;      /* largest file read whole (opts->max_line_bytes) */
    uint64_t input_bytes;  /* bytes read of this nx_ingest_each call */
    uint64_t next_progress;
    nx_buf path;           /* the current path, NUL-terminated */
    size_t root_len;       /* bytes of path before the id of a walked file */
    char *root_real;       /* the walked directory, resolved (realpath) */
    nx_buf content, clean, title, body;
    /* directories already walked, (dev, ino) in an open-addressing table */
    struct dir_key { dev_t dev; ino_t ino; bool used; } *visited;
    size_t visited_cap, visited_n;
} walker;

static void maybe_progress(walker *w) {
    if (w->opts->progress && w->input_bytes >= w->next_progress) {
        w->opts->progress(w->opts->ctx, w->stats->indexed, w->input_bytes);
        w->next_progress = ((w->input_bytes >> 20) + 1) << 20; /* next MiB boundary */
    }
}

static uint64_t dir_hash(dev_t dev, ino_t ino) {
    uint64_t k[2] = {(uint64_t)dev, (uint64_t)ino};
    return nx_hash64(k, sizeof k);
}

/* Marks (dev, ino) visited; returns 1 if it was new, 0 if seen, or NOMEM. */
static int visit_dir(walker *w, dev_t dev, ino_t ino) {
    if (2 * (w->visited_n + 1) > w->visited_cap) {
        size_t cap = w->visited_cap ? w->visited_cap * 2 : 64;
        struct dir_key *t = calloc(cap, sizeof *t);
        if (!t) return NEWSIDX_ERR_NOMEM;
        for (size_t i = 0; i < w->visited_cap; i++) {
            if (!w->visited[i].used) continue;
            size_t j = dir_hash(w->visited[i].dev, w->visited[i].ino) & (cap - 1);
            while (t[j].used) j = (j + 1) & (cap - 1);
            t[j] = w->visited[i];
        }
        free(w->visited);
        w->visited = t;
        w->visited_cap = cap;
    }
    size_t j = dir_hash(dev, ino) & (w->visited_cap - 1);
    while (w->visited[j].used) {
        if (w->visited[j].dev == dev && w->visited[j].ino == ino) return 0;
        j = (j + 1) & (w->visited_cap - 1);
    }
    w->visited[j] = (struct dir_key){dev, ino, true};
    w->visited_n++;
    return 1;
}

static const char *path_str(const walker *w) { return (const char *)w->path.data; }

/* Reads at most w->max_bytes of fd into w->content; *cut tells whether the
 * file was longer. The cut falls on a UTF-8 character boundary. */
static int read_whole(walker *w, int fd, bool *cut, int *err_no) {
    w->content.len = 0;
    *cut = false;
    for (;;) {
        size_t want = NX_MIN((size_t)1 << 20, w->max_bytes + 1 - w->content.len);
        NX_FORWARD(nx_buf_reserve(&w->content, want + 1));
        ssize_t n = read(fd, w->content.data + w->content.len, want);
        if (n < 0) {
            if (errno == EINTR) continue;
            *err_no = errno;
            return NEWSIDX_ERR_IO;
        }
        if (n == 0) break;
        w->content.len += (size_t)n;
        w->input_bytes += (uint64_t)n;
        w->stats->bytes_read += (uint64_t)n;
        maybe_progress(w);
        if (w->content.len > w->max_bytes) {
            *cut = true;
            w->content.len = nx_utf8_cut((const char *)w->content.data, w->content.len,
                                         w->max_bytes);
            break;
        }
    }
    w->content.data[w->content.len] = '\0';
    return 0;
}

static bool is_space_char(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* .txt / .md: the first non-empty line is the title, the rest the body. */
static void split_text(const char *s, size_t n, bool markdown, newsidx_field *title,
                       newsidx_field *body) {
    size_t i = 0;
    for (;;) { /* skip blank lines */
        size_t j = i;
        while (j < n && s[j] != '\n' && is_space_char(s[j])) j++;
        if (j < n && s[j] == '\n') {
            i = j + 1;
            continue;
        }
        i = j;
        break;
    }
    const char *nl = memchr(s + i, '\n', n - i);
    size_t line_end = nl ? (size_t)(nl - s) : n;
    size_t t0 = i, t1 = line_end;
    if (markdown) { /* an ATX heading: "# Title #" */
        while (t0 < t1 && s[t0] == '#') t0++;
        while (t1 > t0 && (s[t1 - 1] == '#' || is_space_char(s[t1 - 1]))) t1--;
    }
    while (t0 < t1 && is_space_char(s[t0])) t0++;
    while (t1 > t0 && is_space_char(s[t1 - 1])) t1--;
    title->value = s + t0;
    title->value_len = t1 - t0;
    size_t b0 = nl ? line_end + 1 : n, b1 = n;
    while (b0 < b1 && is_space_char(s[b0])) b0++;
    while (b1 > b0 && is_space_char(s[b1 - 1])) b1--;
    body->value = s + b0;
    body->value_len = b1 - b0;
}

/* Opens w->path for reading; a file that cannot be opened is reported (and
 * the walk goes on): returns the descriptor or -1. */
static int open_input(walker *w) {
    int fd = open(path_str(w), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        nx_ingest_report(w->opts, w->stats, path_str(w), 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "cannot open: %s", strerror(errno));
    return fd;
}

/* A .txt, .md or .html file as one article; its id is path[id_off..]. */
static int ingest_document(walker *w, enum file_kind kind, size_t id_off) {
    const char *path = path_str(w);
    int fd = open_input(w);
    if (fd < 0) return 0;
    bool cut;
    int err_no = 0;
    int rc = read_whole(w, fd, &cut, &err_no);
    close(fd);
    if (rc == NEWSIDX_ERR_IO) {
        nx_ingest_report(w->opts, w->stats, path, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "read failed: %s", strerror(err_no));
        return 0;
    }
    NX_FORWARD(rc);
    unsigned warn = 0;
    if (cut) {
        warn |= NX_WARN_TOO_LONG;
        nx_ingest_report(w->opts, w->stats, path, 0, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_TOO_LONG,
                         "file longer than the limit of %zu bytes: the rest is ignored",
                         w->max_bytes);
    }
    const char *text = (const char *)w->content.data;
    size_t len = w->content.len;
    size_t valid = nx_utf8_valid_prefix(text, len);
    if (valid < len || memchr(text, 0, len)) {
        bool bad = false, nul = false;
        w->clean.len = 0;
        NX_FORWARD(nx_utf8_repair(&w->clean, text, len, &bad, &nul));
        text = (const char *)w->clean.data;
        len = w->clean.len;
        if (bad) {
            warn |= NEWSIDX_WARN_BAD_UTF8;
            nx_ingest_report(w->opts, w->stats, path, 0, NEWSIDX_REPORT_WARNING,
                             NEWSIDX_REASON_BAD_UTF8,
                             "invalid UTF-8 at byte %zu replaced by U+FFFD", valid + 1);
        }
        if (nul) {
            warn |= NX_WARN_NUL_BYTE;
            nx_ingest_report(w->opts, w->stats, path, 0, NEWSIDX_REPORT_WARNING,
                             NEWSIDX_REASON_NUL_BYTE, "NUL bytes removed");
        }
    }
    newsidx_field fields[3] = {
        {nx_field_name(NX_F_ID), path + id_off, strlen(path + id_off)},
        {nx_field_name(NX_F_TITLE), NULL, 0},
        {nx_field_name(NX_F_BODY), NULL, 0},
    };
    if (kind == KIND_HTML) {
        w->title.len = 0;
        w->body.len = 0;
        NX_FORWARD(nx_html_extract(text, len, &w->title, &w->body));
        fields[1].value = (const char *)w->title.data;
        fields[1].value_len = w->title.len;
        fields[2].value = (const char *)w->body.data;
        fields[2].value_len = w->body.len;
    } else {
        split_text(text, len, kind == KIND_MARKDOWN, &fields[1], &fields[2]);
    }
    nx_record rec = {fields, 3, path, 0, warn};
    rc = nx_ingest_deliver(w->opts, w->stats, w->fn, w->ctx, &rec);
    if (w->content.cap > ((size_t)4 << 20)) nx_buf_free(&w->content);
    if (w->clean.cap > ((size_t)4 << 20)) nx_buf_free(&w->clean);
    return rc;
}

static int ingest_jsonl_file(walker *w) {
    const char *path = path_str(w);
    int fd = open_input(w);
    if (fd < 0) return 0;
    int rc = nx_ingest_jsonl_fd(fd, path, w->opts, w->stats, w->fn,
                                w->ctx, &w->input_bytes);
    close(fd);
    return rc;
}

/* Sets w->path to its first `keep` bytes plus "/" and name. */
static int path_set(walker *w, size_t keep, const char *name) {
    w->path.len = keep;
    if (keep > 0 && w->path.data[keep - 1] != '/') NX_FORWARD(nx_buf_putc(&w->path, '/'));
    NX_FORWARD(nx_buf_append(&w->path, name, strlen(name) + 1));
    w->path.len--; /* keep the NUL out of len */
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether the symbolic link at w->path resolves outside the walked
 * directory; if so it is reported (once: each link is met once) and true
 * returned. A link that does not resolve is left to stat's report. */
static bool link_leaves_root(walker *w) {
    char *target = realpath(path_str(w), NULL);
    if (!target) return false;
    size_t n = strlen(w->root_real);
    bool inside = strncmp(target, w->root_real, n) == 0 &&
                  (target[n] == '/' || target[n] == '\0' || (n == 1 && w->root_real[0] == '/'));
    if (!inside)
        nx_ingest_report(w->opts, w->stats, path_str(w), 0, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_OUTSIDE_ROOT,
                         "symbolic link to %s, outside the input directory: not followed "
                         "(follow_symlinks, newsidx index --follow, follows it)",
                         target);
    free(target);
    return !inside;
}

/* Walks the directory at w->path (already marked visited). Entries in
 * byte-wise sorted order, names starting with '.' skipped, symbolic links
 * followed when they stay inside the walked directory, or all with
 * follow_symlinks (each directory walked once, which also breaks loops). */
static int walk_dir(walker *w, int depth) {
    const char *dir_path = path_str(w);
    if (depth > NX_MAX_DIR_DEPTH) {
        nx_ingest_report(w->opts, w->stats, dir_path, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE,
                         "directory nested deeper than %d levels: not walked",
                         NX_MAX_DIR_DEPTH);
        return 0;
    }
    DIR *d = opendir(dir_path);
    if (!d) {
        nx_ingest_report(w->opts, w->stats, dir_path, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "cannot open directory: %s",
                         strerror(errno));
        return 0;
    }
    /* Read all names first: sorted order makes runs deterministic, and the
     * directory is closed before recursing so deep trees do not hold one
     * descriptor per level. */
    nx_buf names = {0}, offsets = {0};
    int rc = 0;
    struct dirent *e;
    int read_errno = 0;
    while (rc == 0) {
        errno = 0; /* readdir's only way to tell an error from the end */
        if ((e = readdir(d)) == NULL) {
            read_errno = errno;
            break;
        }
        if (e->d_name[0] == '.') continue;
        size_t off = names.len;
        rc = nx_buf_append(&names, e->d_name, strlen(e->d_name) + 1);
        if (rc == 0) rc = nx_buf_append(&offsets, &off, sizeof off);
    }
    closedir(d);
    if (rc == 0 && read_errno != 0)
        nx_ingest_report(w->opts, w->stats, dir_path, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "reading the directory failed: %s",
                         strerror(read_errno));
    size_t n = offsets.len / sizeof(size_t);
    const char **list = NULL;
    if (rc == 0 && n > 0) {
        list = malloc(n * sizeof *list);
        if (!list) rc = NEWSIDX_ERR_NOMEM;
    }
    if (rc == 0 && n > 0) {
        for (size_t i = 0; i < n; i++) {
            size_t off;
            memcpy(&off, offsets.data + i * sizeof off, sizeof off);
            list[i] = (const char *)names.data + off;
        }
        qsort(list, n, sizeof *list, cmp_names);
    }
    size_t keep = w->path.len;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = path_set(w, keep, list[i]);
        if (rc) break;
        struct stat st;
        /* A link planted in a shared input tree (passwd.txt -> /etc/passwd)
         * must not put files from outside it into the index. */
        if (!w->opts->follow_symlinks && lstat(path_str(w), &st) == 0 && S_ISLNK(st.st_mode) &&
            link_leaves_root(w))
            continue;
        if (stat(path_str(w), &st) != 0) {
            nx_ingest_report(w->opts, w->stats, path_str(w), 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE, "cannot stat: %s",
                             strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = visit_dir(w, st.st_dev, st.st_ino);
            if (rc == 1) rc = walk_dir(w, depth + 1);
            continue;
        }
        if (!S_ISREG(st.st_mode)) continue;
        enum file_kind kind = kind_of(list[i]);
        if (kind == KIND_JSONL) rc = ingest_jsonl_file(w);
        else if (kind != KIND_SKIP) rc = ingest_document(w, kind, w->root_len);
    }
    w->path.len = keep;
    if (w->path.data) w->path.data[keep] = '\0';
    free(list);
    nx_buf_free(&names);
    nx_buf_free(&offsets);
    return rc;
}

int nx_ingest_each(const char *path, const newsidx_ingest_options *opts,
                   newsidx_ingest_stats *stats, nx_record_fn fn, void *ctx) {
    newsidx_ingest_options o;
    newsidx_ingest_options_init(&o);
    if (opts && nx_options_copy(&o, sizeof o, opts, "ingest", NULL)) return NEWSIDX_ERR_INVALID;
    opts = &o;
    if (!path || !stats || !fn) return NEWSIDX_ERR_INVALID;
    if (strcmp(path, "-") == 0) {
        uint64_t bytes = 0;
        int rc = nx_ingest_jsonl_fd(STDIN_FILENO, "<stdin>", opts, stats, fn, ctx, &bytes);
        if (rc == 0 && opts->progress) opts->progress(opts->ctx, stats->indexed, bytes);
        return rc;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        nx_ingest_report(opts, stats, path, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "cannot open: %s", strerror(e));
        return e == ENOENT || e == ENOTDIR ? NEWSIDX_ERR_NOT_FOUND : NEWSIDX_ERR_IO;
    }
    walker w = {.opts = opts, .stats = stats, .fn = fn, .ctx = ctx,
                .max_bytes = opts->max_line_bytes ? opts->max_line_bytes
                                                  : NX_DEFAULT_MAX_LINE_BYTES,
                .next_progress = 1u << 20};
    int rc = nx_buf_append(&w.path, path, strlen(path) + 1);
    if (rc == 0) {
        w.path.len--;
        if (S_ISDIR(st.st_mode)) {
            DIR *probe = opendir(path);
            if (!probe) {
                int e = errno;
                nx_ingest_report(opts, stats, path, 0, NEWSIDX_REPORT_ERROR,
                                 NEWSIDX_REASON_UNREADABLE, "cannot open directory: %s",
                                 strerror(e));
                rc = NEWSIDX_ERR_IO;
            } else {
                closedir(probe);
                w.root_real = realpath(path, NULL);
                if (!w.root_real) {
                    int e = errno;
                    nx_ingest_report(opts, stats, path, 0, NEWSIDX_REPORT_ERROR,
                                     NEWSIDX_REASON_UNREADABLE, "cannot resolve the path: %s",
                                     strerror(e));
                    rc = e == ENOMEM ? NEWSIDX_ERR_NOMEM : NEWSIDX_ERR_IO;
                }
                /* ids of walked files are relative to the directory given */
                w.root_len = w.path.len + (path[w.path.len - 1] == '/' ? 0 : 1);
                if (rc == 0) rc = visit_dir(&w, st.st_dev, st.st_ino);
                if (rc == 1) rc = walk_dir(&w, 0);
            }
        } else {
            enum file_kind kind = kind_of(path);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                int e = errno;
                nx_ingest_report(opts, stats, path, 0, NEWSIDX_REPORT_ERROR,
                                 NEWSIDX_REASON_UNREADABLE, "cannot open: %s", strerror(e));
                rc = e == ENOENT ? NEWSIDX_ERR_NOT_FOUND : NEWSIDX_ERR_IO;
            } else if (kind == KIND_TEXT || kind == KIND_MARKDOWN || kind == KIND_HTML) {
                close(fd);
                /* a single file's id is its name without the directories */
                const char *slash = strrchr(path, '/');
                rc = ingest_document(&w, kind, slash ? (size_t)(slash + 1 - path) : 0);
            } else {
                /* any other named file is read as JSON Lines (the user chose
                 * it; compression is recognised by its magic bytes) */
                rc = nx_ingest_jsonl_fd(fd, path, opts, stats, fn, ctx, &w.input_bytes);
                close(fd);
            }
        }
    }
    if (rc == 0 && opts->progress && w.input_bytes > 0)
        opts->progress(opts->ctx, stats->indexed, w.input_bytes);
    nx_buf_free(&w.path);
    nx_buf_free(&w.content);
    nx_buf_free(&w.clean);
    nx_buf_free(&w.title);
    nx_buf_free(&w.body);
    free(w.visited);
    free(w.root_real);
    return rc;
}
