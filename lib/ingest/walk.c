/* walk.c — paths to records: "-" (JSON Lines on stdin), a single file, or a
 * directory walked recursively in sorted order. Each file goes to the reader
 * of its kind, told by magic bytes then name (nx_sniff_kind): text, Markdown
 * and HTML files become one article each (document.c), JSON Lines go to
 * jsonl.c, mail to mail.c, WARC to warc.c, archives and compressed streams
 * to archive.c. Records and problems go out through report.c.
 * docs/INGEST.md describes every rule (file types, ids, limits, reports). */
#include "ingest/ingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

/* Deeper directory trees are reported, not walked: a bound on recursion. */
#define NX_MAX_DIR_DEPTH 256

/* ---- one file ------------------------------------------------------------ */

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
    nx_buf content;
    uint64_t n_unsupported; /* files of no supported kind in a walk */
    char unsupported_example[256];
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

/* Whether target (an absolute, resolved path) lies in the walked directory. */
static bool inside_root(const walker *w, const char *target) {
    size_t n = strlen(w->root_real);
    return strncmp(target, w->root_real, n) == 0 &&
           (target[n] == '/' || target[n] == '\0' || (n == 1 && w->root_real[0] == '/'));
}

/* Opens w->path for reading; a file that cannot be opened is reported (and
 * the walk goes on): returns the descriptor or -1. A file the walk found
 * (not `named` by the caller) was checked before, by path: what is open
 * must still be a regular file (a FIFO put in its place would block the
 * read; the open does not) and, unless links are followed, inside the
 * walked directory (a link put in its place would lead out of it). */
static int open_input(walker *w, bool named) {
    int fd = open(path_str(w), O_RDONLY | O_CLOEXEC | (named ? 0 : O_NONBLOCK));
    if (fd < 0) {
        nx_ingest_report(w->opts, w->stats, path_str(w), 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (named) return fd;
    struct stat st;
    char proc[64], target[PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t n = w->opts->follow_symlinks ? -1 : readlink(proc, target, sizeof target - 1);
    if (n >= 0) target[n] = '\0';
    const char *why = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ? "is no longer a regular file"
                      : n >= 0 && target[0] == '/' && !inside_root(w, target)
                          ? "now leads outside the input directory"
                          : NULL;
    if (why) {
        nx_ingest_report(w->opts, w->stats, path_str(w), 0, NEWSIDX_REPORT_WARNING,
                         NEWSIDX_REASON_OUTSIDE_ROOT,
                         "changed while the walk read it: %s: not read", why);
        close(fd);
        return -1;
    }
    return fd;
}

static nx_sink sink_of(walker *w) {
    return (nx_sink){w->opts, w->stats, w->fn, w->ctx, w->max_bytes, &w->input_bytes};
}

/* nx_read_fn over a file descriptor that counts what it read; with a
 * walker, also in the walk's totals and progress (a WARC counts its own). */
typedef struct counted_fd { int fd; uint64_t bytes; walker *w; } counted_fd;
static ssize_t counted_read(void *src, void *buf, size_t cap, char *err, size_t err_cap) {
    counted_fd *c = src;
    for (;;) {
        ssize_t n = read(c->fd, buf, cap);
        if (n >= 0) {
            c->bytes += (uint64_t)n;
            if (c->w) {
                c->w->input_bytes += (uint64_t)n;
                c->w->stats->bytes_read += (uint64_t)n;
                maybe_progress(c->w);
            }
            return n;
        }
        if (errno == EINTR) continue;
        snprintf(err, err_cap, "read failed: %s", strerror(errno));
        return -1;
    }
}

/* A document (text, Markdown, HTML, one mail) read whole from fd; its id is
 * path[id_off..]. */
static int ingest_document(walker *w, int fd, enum nx_doc_kind kind, size_t id_off) {
    const char *path = path_str(w);
    nx_sink sk = sink_of(w);
    counted_fd src = {fd, 0, w};
    unsigned warn;
    w->content.len = 0;
    int rc = nx_read_document(&sk, path, "file", "", counted_read, &src, &w->content, &warn);
    if (rc) return rc < 0 ? rc : 0;
    const char *text = (const char *)w->content.data;
    if (kind == NX_DOC_MAIL)
        rc = nx_ingest_mail(&sk, kind, path, path + id_off, text, w->content.len);
    else
        rc = nx_ingest_document(&sk, kind, path, path + id_off, text, w->content.len, NULL,
                                warn);
    if (w->content.cap > ((size_t)4 << 20)) nx_buf_free(&w->content);
    return rc;
}

/* An mbox is mapped, not read: mailing-list archives run to gigabytes, and
 * mail.c parses one message at a time. */
static int ingest_mbox(walker *w, int fd) {
    const char *path = path_str(w);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) return 0;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        nx_ingest_report(w->opts, w->stats, path, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "cannot map: %s", strerror(errno));
        return 0;
    }
    w->input_bytes += (uint64_t)st.st_size;
    w->stats->bytes_read += (uint64_t)st.st_size;
    nx_sink sk = sink_of(w);
    int rc = nx_ingest_mbox_mapped(&sk, path, m, (size_t)st.st_size);
    munmap(m, (size_t)st.st_size);
    maybe_progress(w);
    return rc;
}

/* zstd gives out no byte before a whole block is in, and a block of text
 * compresses to more than the 4 KiB first read: a zstd file is sniffed
 * again on its whole first block, so that what it holds (a tar, JSON Lines)
 * is told by its content and not by a name such as "dump.zst". kind: the
 * verdict on the first 4 KiB, kept when the block cannot be read. */
static enum nx_doc_kind sniff_zstd_block(int fd, const char *path, enum nx_doc_kind kind) {
    size_t cap = ZSTD_DStreamInSize() + 32; /* + the frame header, at most 18 bytes */
    uint8_t *block = malloc(cap);
    if (!block) return kind;
    ssize_t n;
    do {
        n = pread(fd, block, cap, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) kind = nx_sniff_kind(block, (size_t)n, path);
    free(block);
    return kind;
}

/* One file of any kind: its first bytes and its name say which reader.
 * named: given by the user (an unsupported one is reported), else found in
 * a walk (an unsupported one is counted in a note). */
static int ingest_file(walker *w, size_t id_off, bool named) {
    const char *path = path_str(w);
    int fd = open_input(w, named);
    if (fd < 0) return 0;
    uint8_t head[4096];
    ssize_t n;
    do {
        n = pread(fd, head, sizeof head, 0);
    } while (n < 0 && errno == EINTR);
    int rc = 0;
    if (n < 0 && errno == ESPIPE && named) {
        /* a pipe (`<(zcat ...)`): nothing to peek at, read as JSON Lines */
        rc = nx_ingest_jsonl_fd(fd, path, w->opts, w->stats, w->fn, w->ctx, &w->input_bytes);
        close(fd);
        return rc;
    }
    if (n < 0) {
        nx_ingest_report(w->opts, w->stats, path, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "read failed: %s", strerror(errno));
        close(fd);
        return 0;
    }
    enum nx_doc_kind kind = nx_sniff_kind(head, (size_t)n, path);
    if ((size_t)n == sizeof head && memcmp(head, "\x28\xB5\x2F\xFD", 4) == 0)
        kind = sniff_zstd_block(fd, path, kind);
    if (kind == NX_DOC_UNKNOWN && named) {
        /* JSON Lines under another name (data.json): the user chose it */
        ssize_t i = 0;
        if (n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0) i = 3;
        while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
            i++;
        if (i < n && head[i] == '{') kind = NX_DOC_JSONL;
    }
    nx_sink sk = sink_of(w);
    switch (kind) {
    case NX_DOC_JSONL:
        rc = nx_ingest_jsonl_fd(fd, path, w->opts, w->stats, w->fn, w->ctx, &w->input_bytes);
        break;
    case NX_DOC_TEXT: case NX_DOC_MARKDOWN: case NX_DOC_HTML: case NX_DOC_MAIL:
        rc = ingest_document(w, fd, kind, id_off);
        break;
    case NX_DOC_MBOX:
        rc = ingest_mbox(w, fd);
        break;
    case NX_DOC_WARC: {
        counted_fd c = {fd, 0, NULL};
        rc = nx_ingest_warc(counted_read, &c, &c.bytes, path, &sk);
        break;
    }
    case NX_DOC_ARCHIVE: {
        uint8_t inner[8];
        size_t pl = strlen(path);
        if (n >= 4 && head[0] == 0x1F && head[1] == 0x8B &&
            ((nx_peek_decoded(head, (size_t)n, inner, sizeof inner) >= 5 &&
              memcmp(inner, "WARC/", 5) == 0) ||
             (pl >= 8 && strcasecmp(path + pl - 8, ".warc.gz") == 0))) {
            /* .warc.gz (by its content, or by its name when its first
             * member is damaged): member by member, so that damage costs
             * one record */
            nx_warc_gz *g = nx_warc_gz_new(fd, path, &sk);
            if (!g) {
                rc = NEWSIDX_ERR_NOMEM;
                break;
            }
            static const nx_warc_resync rs = {nx_warc_gz_resync, nx_warc_gz_member_of,
                                              nx_warc_gz_record_starts};
            rc = nx_ingest_warc_resync(nx_warc_gz_read, &rs, g, nx_warc_gz_bytes(g), path, &sk);
            nx_warc_gz_free(g);
            break;
        }
        rc = nx_ingest_archive_fd(fd, path, path + id_off, &sk);
        break;
    }
    case NX_DOC_UNKNOWN:
        if (named && n > 0) {
            nx_ingest_report(w->opts, w->stats, path, 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE, "not a supported format: skipped");
        } else if (!named) {
            if (!w->n_unsupported)
                snprintf(w->unsupported_example, sizeof w->unsupported_example, "%s",
                         path + id_off);
            w->n_unsupported++;
        }
        break;
    }
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
    bool inside = inside_root(w, target);
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
        if (!S_ISREG(st.st_mode)) { /* never opened: a FIFO would block */
            nx_ingest_report(w->opts, w->stats, path_str(w), 0, NEWSIDX_REPORT_NOTE, -1,
                             "not a regular file (%s): skipped",
                             S_ISFIFO(st.st_mode)   ? "a FIFO"
                             : S_ISSOCK(st.st_mode) ? "a socket"
                                                    : "a device");
            continue;
        }
        rc = ingest_file(w, w->root_len, false);
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
            /* a single file's id is its name without the directories */
            const char *slash = strrchr(path, '/');
            rc = ingest_file(&w, slash ? (size_t)(slash + 1 - path) : 0, true);
        }
    }
    if (rc == 0 && w.n_unsupported)
        nx_ingest_report(opts, stats, path, 0, NEWSIDX_REPORT_NOTE, -1,
                         "%llu file%s of no supported type skipped (%s%s)",
                         (unsigned long long)w.n_unsupported, w.n_unsupported == 1 ? "" : "s",
                         w.unsupported_example, w.n_unsupported > 1 ? ", ..." : "");
    if (rc == 0 && opts->progress && w.input_bytes > 0)
        opts->progress(opts->ctx, stats->indexed, w.input_bytes);
    nx_buf_free(&w.path);
    nx_buf_free(&w.content);
    free(w.visited);
    free(w.root_real);
    return rc;
}
