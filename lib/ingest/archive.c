/* archive.c — containers through libarchive: tar (plain or compressed with
 * gzip, bzip2, xz, zstd, lz4, lzma), zip, 7z, cpio, rar, ISO images, and
 * single compressed streams (a.jsonl.xz, b.txt.bz2: libarchive's "raw"
 * format). Each member is told apart by its magic bytes, then its name
 * (nx_sniff_kind), and handed to the reader of its kind: JSON Lines and
 * WARC stream straight out of the archive, documents and mail are read
 * whole, an archive inside an archive is opened from memory.
 * docs/INGEST.md, "Archives". */
#include "ingest/ingest.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Bytes of a member read before choosing its reader. */
#define HEAD_BYTES 4096
/* An archive in an archive in an archive...: a bound on recursion (and on
 * memory: each level holds its archive whole). */
#define MAX_NESTING 4

typedef struct arc {
    const nx_sink *s;
    struct archive *a;
    const char *name;      /* the archive as reports show it */
    const char *id_prefix; /* the archive as ids show it */
    int depth;
    bool count_bytes;      /* the outermost archive: its bytes are the input's */
    uint64_t raw_now;      /* archive_filter_bytes after the last read */
    uint64_t in_size;      /* the archive's own bytes (compressed; 0: a pipe), for the bomb bound */
    uint64_t out_bytes;    /* member data read out of it */
    bool bomb;             /* member_read stopped at the bomb bound */
    uint64_t raw_counted;  /* of which already in stats and *input_bytes */
    /* the member's first bytes, read to choose its reader, sit at the start
     * of whole; a streaming reader is given them again from head_pos */
    size_t head_len, head_pos;
    nx_buf label, id, whole;
    uint64_t n_unsupported, n_encrypted, n_members;
    char unsupported_example[128];
} arc;

static void count_bytes(arc *c) {
    c->raw_now = (uint64_t)archive_filter_bytes(c->a, -1);
    if (!c->count_bytes || c->raw_now <= c->raw_counted) return;
    uint64_t d = c->raw_now - c->raw_counted;
    c->s->stats->bytes_read += d;
    *c->s->input_bytes += d;
    c->raw_counted = c->raw_now;
    if (c->s->opts->progress)
        c->s->opts->progress(c->s->opts->ctx, c->s->stats->indexed, *c->s->input_bytes);
}

/* Bytes the archive has given: what its compression filters produced
 * (tar: member data, headers and what skipping a member decompressed), or
 * the member data read (zip, 7z: members compressed one by one). */
static uint64_t inflated_bytes(const arc *c) {
    uint64_t f = (uint64_t)archive_filter_bytes(c->a, 0);
    return NX_MAX(f, c->out_bytes);
}

/* Says in err, when the archive gave more than the bomb bound allows. */
static bool too_inflated(const arc *c, uint64_t out, char *err, size_t err_cap) {
    /* a pipe's size is not known: what was read of it so far */
    uint64_t in = c->in_size ? c->in_size : (uint64_t)archive_filter_bytes(c->a, -1);
    if (!nx_inflated_too_much(out, in)) return false;
    snprintf(err, err_cap, "%llu MB out of %llu bytes, more than %d times (a decompression bomb?)",
             (unsigned long long)(out >> 20), (unsigned long long)in, NX_INFLATE_RATIO);
    return true;
}

/* nx_read_fn over the current member: the head not yet given, then the rest. */
static ssize_t member_read(void *src, void *buf, size_t cap, char *err, size_t err_cap) {
    arc *c = src;
    if (c->head_pos < c->head_len) {
        size_t k = NX_MIN(cap, c->head_len - c->head_pos);
        memcpy(buf, c->whole.data + c->head_pos, k);
        c->head_pos += k;
        return (ssize_t)k;
    }
    la_ssize_t n = archive_read_data(c->a, buf, cap);
    c->raw_now = (uint64_t)archive_filter_bytes(c->a, -1);
    if (n < 0) {
        const char *m = archive_error_string(c->a);
        snprintf(err, err_cap, "%s", m ? m : "read failed");
        return -1;
    }
    c->out_bytes += (uint64_t)n;
    if (too_inflated(c, inflated_bytes(c), err, err_cap)) {
        c->bomb = true; /* the member's reader reports it; arc_run stops */
        return -1;
    }
    return (ssize_t)n;
}

/* Reads the member's first bytes into c->whole: 0, NEWSIDX_ERR_NOMEM, or
 * NEWSIDX_ERR_IO with err. */
static int read_head(arc *c, char *err, size_t err_cap) {
    c->whole.len = 0;
    NX_FORWARD(nx_buf_reserve(&c->whole, HEAD_BYTES + 1));
    while (c->whole.len < HEAD_BYTES) {
        la_ssize_t n = archive_read_data(c->a, c->whole.data + c->whole.len,
                                         HEAD_BYTES - c->whole.len);
        if (n < 0) {
            const char *m = archive_error_string(c->a);
            snprintf(err, err_cap, "%s", m ? m : "read failed");
            return NEWSIDX_ERR_IO;
        }
        if (n == 0) break;
        c->whole.len += (size_t)n;
    }
    c->head_len = c->whole.len;
    c->head_pos = 0;
    return 0;
}

static int arc_run_memory(arc *c, const void *data, size_t len);

/* The name a compressed stream has once decompressed: "a.jsonl.xz" ->
 * "a.jsonl", "b.tgz" -> "b.tar". */
static void strip_compression(char *name) {
    size_t n = strlen(name);
    static const char *const exts[] = {".gz", ".xz", ".bz2", ".zst", ".lz4", ".lzma",
                                       ".z", ".bz", ".zstd"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t k = strlen(exts[i]);
        if (n > k && strcasecmp(name + n - k, exts[i]) == 0) {
            name[n - k] = '\0';
            return;
        }
    }
    if (n > 4 && (strcasecmp(name + n - 4, ".tgz") == 0 || strcasecmp(name + n - 4, ".txz") == 0))
        strcpy(name + n - 4, ".tar");
}

static bool hidden_member(const char *path) {
    if (strncmp(path, "__MACOSX/", 9) == 0) return true; /* zips made on macOS */
    for (const char *p = path; *p; p++)
        if (*p == '.' && (p == path || p[-1] == '/') && p[1] != '/' && p[1] != '\0' &&
            !(p[1] == '.' && (p[2] == '/' || p[2] == '\0')))
            return true;
    return false;
}

/* The member's path, in UTF-8 where libarchive can tell its charset. An
 * ASCII name is the same in every charset: it is taken as stored, without
 * the charset conversion (per member, through iconv) that asking for UTF-8
 * costs. */
static const char *member_path(struct archive_entry *e) {
    const char *raw = archive_entry_pathname(e);
    if (raw) {
        const char *p = raw;
        while (*p && (unsigned char)*p < 0x80) p++;
        if (!*p) return raw;
    }
    const char *utf8 = archive_entry_pathname_utf8(e);
    return utf8 ? utf8 : raw ? raw : "";
}

static int set_str(nx_buf *b, const char *a, const char *sep, const char *m) {
    b->len = 0;
    NX_FORWARD(nx_buf_append(b, a, strlen(a)));
    if (sep) NX_FORWARD(nx_buf_append(b, sep, strlen(sep)));
    if (m) NX_FORWARD(nx_buf_append(b, m, strlen(m)));
    NX_FORWARD(nx_buf_putc(b, '\0'));
    b->len--;
    return 0;
}

/* One member, already positioned at its data. raw: the archive is a single
 * compressed stream, and the member is its content. */
static int member(arc *c, struct archive_entry *e, bool raw) {
    const nx_sink *s = c->s;
    const char *path = member_path(e);
    char inner[4096];
    if (raw) {
        snprintf(inner, sizeof inner, "%s", c->name);
        strip_compression(inner);
        NX_FORWARD(set_str(&c->label, c->name, NULL, NULL));
        char id[4096];
        snprintf(id, sizeof id, "%s", c->id_prefix);
        strip_compression(id);
        NX_FORWARD(set_str(&c->id, id, NULL, NULL));
    } else {
        while (path[0] == '.' && path[1] == '/') path += 2;
        if (archive_entry_filetype(e) != AE_IFREG || hidden_member(path)) return 0;
        snprintf(inner, sizeof inner, "%s", path);
        NX_FORWARD(set_str(&c->label, c->name, ":", path));
        NX_FORWARD(set_str(&c->id, c->id_prefix, ":", path));
    }
    const char *label = (const char *)c->label.data;
    const char *id = (const char *)c->id.data;
    c->n_members++;
    if (archive_entry_is_encrypted(e)) {
        c->n_encrypted++;
        return 0;
    }
    char err[256];
    int hr = read_head(c, err, sizeof err);
    if (hr == NEWSIDX_ERR_NOMEM) return hr;
    if (hr) {
        nx_ingest_report(s->opts, s->stats, label, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "corrupt member: %s", err);
        return 0;
    }
    enum nx_doc_kind kind = nx_sniff_kind(c->whole.data, c->head_len, inner);
    if (raw && kind == NX_DOC_ARCHIVE && archive_filter_count(c->a) <= 1) {
        /* not compressed, and no archive format took it: the magic bytes
         * promised an archive that libarchive cannot read */
        kind = NX_DOC_UNKNOWN;
    }
    if (kind == NX_DOC_UNKNOWN) {
        if (raw) {
            nx_ingest_report(s->opts, s->stats, label, 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE, "not a supported format: skipped");
        } else {
            if (!c->n_unsupported)
                snprintf(c->unsupported_example, sizeof c->unsupported_example, "%s", path);
            c->n_unsupported++;
        }
        return 0;
    }
    int rc = 0;
    if (kind == NX_DOC_JSONL || kind == NX_DOC_WARC) {
        count_bytes(c);
        uint64_t *counter = c->count_bytes ? &c->raw_now : NULL;
        if (kind == NX_DOC_JSONL)
            rc = nx_ingest_jsonl_source(member_read, c, counter, label, s);
        else
            rc = nx_ingest_warc(member_read, c, counter, label, s);
        if (c->count_bytes) c->raw_counted = NX_MAX(c->raw_counted, c->raw_now);
        return rc;
    }
    c->head_pos = c->head_len; /* already in c->whole: not to be given again */
    unsigned warn;
    int r = nx_read_document(s, label, "member", "corrupt member: ", member_read, c, &c->whole,
                             &warn);
    if (r) return r < 0 ? r : 0;
    count_bytes(c);
    const char *data = (const char *)c->whole.data;
    size_t len = c->whole.len;
    if (kind == NX_DOC_MAIL || kind == NX_DOC_MBOX)
        return nx_ingest_mail(s, kind, label, kind == NX_DOC_MAIL ? id : NULL, data, len);
    if (kind == NX_DOC_ARCHIVE) {
        if (c->depth + 1 >= MAX_NESTING) {
            nx_ingest_report(s->opts, s->stats, label, 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE,
                             "archives nested deeper than %d levels: skipped", MAX_NESTING);
            return 0;
        }
        struct archive *a = archive_read_new();
        if (!a) return NEWSIDX_ERR_NOMEM;
        arc inner_arc = {.s = s,
                         .a = a,
                         .name = label,
                         .id_prefix = id,
                         .depth = c->depth + 1,
                         .in_size = c->whole.len};
        /* c->whole is reused by the inner archive's members: hand over */
        nx_buf held = c->whole;
        c->whole = (nx_buf){0};
        rc = arc_run_memory(&inner_arc, held.data, held.len);
        nx_buf_free(&held);
        return rc;
    }
    return nx_ingest_document(s, kind, label, id, data, len, NULL, warn);
}

/* Formats read: not libarchive's "all", which would also take WARC files
 * (read by warc.c, which keeps the HTTP headers apart) and mtree (which
 * would claim text files). */
static void support(struct archive *a) {
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_7zip(a);
    archive_read_support_format_cpio(a);
    archive_read_support_format_rar(a);
    archive_read_support_format_rar5(a);
    archive_read_support_format_iso9660(a);
    archive_read_support_format_raw(a);
}

static const char *format_noun(struct archive *a) {
    switch (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) {
    case ARCHIVE_FORMAT_ZIP: return "zip";
    case ARCHIVE_FORMAT_7ZIP: return "7z";
    case ARCHIVE_FORMAT_RAR: return "rar";
    case ARCHIVE_FORMAT_RAR_V5: return "rar";
    case ARCHIVE_FORMAT_TAR: return "tar";
    case ARCHIVE_FORMAT_CPIO: return "cpio";
    default: return "archive";
    }
}

/* Reads every member of the opened archive c->a, then frees it. */
static int arc_run(arc *c) {
    const nx_sink *s = c->s;
    int rc = 0;
    bool raw = false;
    for (;;) {
        struct archive_entry *e;
        int h = archive_read_next_header(c->a, &e);
        if (h == ARCHIVE_EOF) break;
        if (h == ARCHIVE_FATAL) {
            const char *m = archive_error_string(c->a);
            if (c->n_members == 0)
                nx_ingest_report(s->opts, s->stats, c->name, 0, NEWSIDX_REPORT_ERROR,
                                 NEWSIDX_REASON_UNREADABLE, "%s: skipped",
                                 m && strstr(m, "nrecognized") ? "not a supported format"
                                                              : (m ? m : "unreadable archive"));
            else
                nx_ingest_report(s->opts, s->stats, c->name, 0, NEWSIDX_REPORT_ERROR,
                                 NEWSIDX_REASON_UNREADABLE,
                                 "%s; the rest of the archive is lost",
                                 m ? m : "read failed");
            break;
        }
        /* ARCHIVE_WARN (an odd header field) and ARCHIVE_RETRY: the entry
         * is usable or the next one is */
        if (h == ARCHIVE_RETRY) continue;
        /* a member that would take the archive past the bomb bound is not
         * read, nor skipped (skipping decompresses it too) */
        char err[200];
        uint64_t end = inflated_bytes(c);
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
            end += (uint64_t)archive_entry_size(e);
        if (too_inflated(c, end, err, sizeof err)) {
            nx_ingest_report(s->opts, s->stats, c->name, 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE,
                             "member %s would make it %s: the rest of the archive is skipped",
                             member_path(e), err);
            break;
        }
        raw = archive_format(c->a) == ARCHIVE_FORMAT_RAW;
        rc = member(c, e, raw);
        count_bytes(c);
        if (rc < 0 || c->bomb) break;
        if (too_inflated(c, inflated_bytes(c), err, sizeof err)) {
            nx_ingest_report(s->opts, s->stats, c->name, 0, NEWSIDX_REPORT_ERROR,
                             NEWSIDX_REASON_UNREADABLE, "%s: the rest of the archive is skipped",
                             err);
            break;
        }
    }
    if (rc == 0 && c->n_encrypted)
        nx_ingest_report(s->opts, s->stats, c->name, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE,
                         c->n_encrypted == c->n_members
                             ? "%s archive with encrypted members: skipped"
                             : "%s archive with encrypted members: %llu of them skipped",
                         format_noun(c->a), (unsigned long long)c->n_encrypted);
    if (rc == 0 && c->n_unsupported)
        nx_ingest_report(s->opts, s->stats, c->name, 0, NEWSIDX_REPORT_NOTE, -1,
                         "%llu member%s of no supported type skipped (%s%s)",
                         (unsigned long long)c->n_unsupported, c->n_unsupported == 1 ? "" : "s",
                         c->unsupported_example, c->n_unsupported > 1 ? ", ..." : "");
    archive_read_free(c->a);
    nx_buf_free(&c->label);
    nx_buf_free(&c->id);
    nx_buf_free(&c->whole);
    return rc;
}

static int arc_run_memory(arc *c, const void *data, size_t len) {
    support(c->a);
    if (archive_read_open_memory(c->a, data, len) != ARCHIVE_OK) {
        const char *m = archive_error_string(c->a);
        nx_ingest_report(c->s->opts, c->s->stats, c->name, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "%s", m ? m : "cannot open the archive");
        archive_read_free(c->a);
        return 0;
    }
    return arc_run(c);
}

int nx_ingest_archive_fd(int fd, const char *name, const char *id_prefix, const nx_sink *s) {
    struct archive *a = archive_read_new();
    if (!a) return NEWSIDX_ERR_NOMEM;
    arc *c = calloc(1, sizeof *c);
    if (!c) {
        archive_read_free(a);
        return NEWSIDX_ERR_NOMEM;
    }
    struct stat st;
    uint64_t size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    *c = (arc){
        .s = s, .a = a, .name = name, .id_prefix = id_prefix, .count_bytes = true, .in_size = size};
    support(a);
    int rc = 0;
    if (archive_read_open_fd(a, fd, 128 * 1024) != ARCHIVE_OK) {
        const char *m = archive_error_string(a);
        nx_ingest_report(s->opts, s->stats, name, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE, "%s", m ? m : "cannot open the archive");
        archive_read_free(a);
    } else {
        rc = arc_run(c);
    }
    free(c);
    return rc;
}
