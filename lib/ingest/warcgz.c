/* warcgz.c — a .warc.gz file read one gzip member at a time, with zlib, so
 * that a damaged member costs the record it holds and not the rest of the
 * file. Crawlers write one gzip member per WARC record (ISO 28500, annex
 * D) precisely so that a reader can start at any record; a crawler killed
 * mid-write leaves the last member cut short. Through libarchive's gzip
 * filter, such a file was lost from the damage on, and a small one whole
 * (libarchive read ahead past the damage before giving a byte).
 *
 * The members' data is one stream (a record may span members), and the
 * reader remembers where recent members began in it. After an error, warc.c
 * calls nx_warc_gz_resync with the stream offset of the record that failed:
 * reading goes on at the first later member already met that inflates to
 * a WARC version line (a record whose Content-Length ran over the members
 * after it), else at the next "1F 8B 08" in the file after the damaged
 * member's start that does. A member whose data inflated whole but whose
 * checksum is wrong is a warning: its record was read. docs/INGEST.md,
 * "WARC". */
#include "ingest/ingest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Members remembered (stream offset -> file offset) for a resync. */
#define RING 4096
/* Input a header check reads at most (FEXTRA, FNAME and FCOMMENT come
 * before the data). */
#define HEADER_CHECK_MAX (1u << 20)

typedef struct member_start {
    uint64_t out; /* stream offset of its first inflated byte */
    uint64_t off; /* file offset of its header */
} member_start;

struct nx_warc_gz {
    int fd;
    const nx_sink *s;
    const char *name;
    z_stream z;
    uint64_t size;       /* the file's size */
    uint64_t pos;        /* file offset of raw[raw_pos] */
    uint64_t member_off; /* file offset of the member being inflated, or last begun */
    uint64_t bytes;      /* how far the file was read: progress */
    uint64_t out;        /* bytes inflated: the stream offset */
    uint64_t fresh_out;  /* those inflated from bytes not inflated before (the bomb check) */
    uint64_t max_pos;    /* the furthest file offset inflated */
    uint64_t last_target; /* where the last resync went on */
    uint64_t member_out;  /* stream offset of the member being inflated */
    uint8_t head[16];     /* its first bytes, to tell whether it starts a record */
    size_t head_n;
    bool head_told;
    uint64_t verify_left; /* inflating candidates whole: what is left of the budget */
    uint64_t warc_out;    /* of the last member whose data starts "WARC/" (UINT64_MAX: none) */
    member_start ring[RING];
    uint64_t n_members; /* begun since the last resync point; ring[i % RING] */
    size_t raw_pos, raw_len;
    bool eof, in_member;
    bool failed; /* why: every read fails until a resync */
    bool bomb;   /* no resync either */
    char why[200];
    uint8_t raw[64 * 1024];
};

static bool at_member(const uint8_t *p, size_t n) {
    /* ID1 ID2, CM deflate, no reserved FLG bit */
    return n >= 4 && p[0] == 0x1F && p[1] == 0x8B && p[2] == 8 && (p[3] & 0xE0) == 0;
}

/* pread until n bytes or the end of the file; bytes read or -1 (errno). */
static ssize_t pread_full(int fd, uint8_t *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static void read_to(nx_warc_gz *g, uint64_t end) {
    if (end > g->bytes) g->bytes = end;
}

/* Goes on at the member at file offset off; members met at or after it
 * are forgotten (they are met again). */
static void jump(nx_warc_gz *g, uint64_t off) {
    while (g->n_members && g->ring[(g->n_members - 1) % RING].off >= off) g->n_members--;
    g->pos = off;
    g->raw_pos = g->raw_len = 0;
    g->eof = g->failed = g->in_member = false;
}

/* Whether p[0..n) begins with a WARC version line ("WARC/1.0\r\n"). */
static bool warc_line(const uint8_t *p, size_t n) {
    if (n < 9 || memcmp(p, "WARC/", 5) != 0) return false;
    size_t i = 5, d = 5;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    if (i == d || i >= n || p[i] != '.') return false;
    d = ++i;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    if (i == d || i >= n) return false;
    return p[i] == '\n' || (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n');
}

/* Whether a member starting at file offset off inflates to a WARC version
 * line; with `whole`, also to its end with the right checksum (a member
 * found by scanning the file could be bytes inside a damaged one: a
 * .warc.gz stored in a record), while the budget for that lasts (16 times
 * the file and 64 MiB: overlapping false members each running to the end
 * of the file made it quadratic). Uses g->z (reset before the next
 * member). */
static bool warc_member_at(nx_warc_gz *g, uint64_t off, bool whole) {
    uint8_t in[4096], out[16384], head[16];
    size_t head_n = 0;
    if (inflateReset2(&g->z, 15 + 16) != Z_OK) return false;
    for (uint64_t at = off; whole || at - off < HEADER_CHECK_MAX;) {
        ssize_t k = pread_full(g->fd, in, sizeof in, at);
        if (k <= 0 || (at == off && !at_member(in, (size_t)k))) return false;
        at += (uint64_t)k;
        g->z.next_in = in;
        g->z.avail_in = (uInt)k;
        do {
            g->z.next_out = out;
            g->z.avail_out = sizeof out;
            int zr = inflate(&g->z, Z_NO_FLUSH);
            size_t got = sizeof out - g->z.avail_out, take = NX_MIN(got, sizeof head - head_n);
            memcpy(head + head_n, out, take);
            head_n += take;
            if (whole) g->verify_left -= NX_MIN(g->verify_left, (uint64_t)got + 1);
            bool decided = head_n == sizeof head || zr == Z_STREAM_END;
            if (decided && !warc_line(head, head_n)) return false;
            if (decided && (!whole || g->verify_left == 0)) return true;
            if (zr == Z_STREAM_END) return true; /* whole, its checksum right */
            if (zr != Z_OK && zr != Z_BUF_ERROR) return false;
        } while (g->z.avail_in > 0 || g->z.avail_out == 0);
    }
    return false;
}

/* The first member at or after file offset from that inflates to a WARC
 * version line, in *found. */
static bool next_warc_member(nx_warc_gz *g, uint64_t from, uint64_t *found) {
    uint8_t buf[64 * 1024];
    for (uint64_t off = from;;) {
        ssize_t k = pread_full(g->fd, buf, sizeof buf, off);
        if (k < 4) break;
        for (const uint8_t *p = buf; (p = memchr(p, 0x1F, (size_t)(buf + k - p))) != NULL; p++) {
            if (buf + k - p >= 4 && !at_member(p, 4)) continue;
            uint64_t cand = off + (uint64_t)(p - buf);
            if (warc_member_at(g, cand, true)) {
                *found = cand;
                return true;
            }
        }
        if ((size_t)k < sizeof buf) break;
        off += (uint64_t)k - 3; /* a header across the chunk's end */
    }
    return false;
}

/* Whether the rest of the file from g->pos holds only zero bytes (padding
 * some writers leave after the last member). */
static bool only_zeros_left(nx_warc_gz *g) {
    for (uint64_t off = g->pos;;) {
        uint8_t buf[4096];
        ssize_t k = pread_full(g->fd, buf, sizeof buf, off);
        if (k <= 0) return k == 0;
        for (ssize_t i = 0; i < k; i++)
            if (buf[i]) return false;
        off += (uint64_t)k;
        read_to(g, off);
    }
}

/* Whether a gzip member header ("1F 8B 08", a valid FLG) starts anywhere
 * in the file from `from` on. */
static bool gzip_header_after(nx_warc_gz *g, uint64_t from) {
    uint8_t buf[64 * 1024];
    for (uint64_t off = from;;) {
        ssize_t k = pread_full(g->fd, buf, sizeof buf, off);
        if (k < 4) return false;
        for (ssize_t i = 0; i + 4 <= k; i++)
            if (buf[i] == 0x1F && at_member(buf + i, 4)) return true;
        if ((size_t)k < sizeof buf) return false;
        off += (uint64_t)k - 3;
    }
}

/* At a member boundary where no member starts: padding, bytes to skip
 * before the next member, or the end. 1: go on (at the next member), 0: the
 * end. */
static int not_a_member(nx_warc_gz *g) {
    if (only_zeros_left(g)) return 0;
    uint64_t next;
    if (next_warc_member(g, g->pos + 1, &next)) {
        nx_ingest_report(g->s->opts, g->s->stats, g->name, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE,
                         "bytes %llu to %llu hold no readable gzip member: skipped",
                         (unsigned long long)g->pos, (unsigned long long)next - 1);
        jump(g, next);
        return 1;
    }
    if (gzip_header_after(g, g->pos))
        nx_ingest_report(g->s->opts, g->s->stats, g->name, 0, NEWSIDX_REPORT_ERROR,
                         NEWSIDX_REASON_UNREADABLE,
                         "the %llu bytes from byte %llu hold no readable gzip member (one cut "
                         "short or corrupt): skipped",
                         (unsigned long long)(g->size - g->pos), (unsigned long long)g->pos);
    else
        nx_ingest_report(g->s->opts, g->s->stats, g->name, 0, NEWSIDX_REPORT_NOTE, -1,
                         "%llu bytes after the last gzip member (from byte %llu) are not gzip: "
                         "ignored",
                         (unsigned long long)(g->size - g->pos), (unsigned long long)g->pos);
    read_to(g, g->size);
    return 0;
}

ssize_t nx_warc_gz_read(void *src, void *buf, size_t cap, char *err, size_t err_cap) {
    nx_warc_gz *g = src;
    size_t have = 0; /* inflated into buf by this call */
    for (;;) {
        if (have && (g->failed || !g->in_member)) return (ssize_t)have; /* one member a read */
        if (g->failed) {
            snprintf(err, err_cap, "%s", g->why);
            return -1;
        }
        if (!g->in_member) { /* at a member's first byte, or the end */
            if (g->raw_len - g->raw_pos < 4) { /* the header's bytes in one piece */
                memmove(g->raw, g->raw + g->raw_pos, g->raw_len - g->raw_pos);
                g->raw_len -= g->raw_pos;
                g->raw_pos = 0;
                ssize_t k = pread_full(g->fd, g->raw + g->raw_len, sizeof g->raw - g->raw_len,
                                       g->pos + g->raw_len);
                if (k < 0) {
                    snprintf(err, err_cap, "read failed at byte %llu: %s",
                             (unsigned long long)g->pos, strerror(errno));
                    return -1;
                }
                g->raw_len += (size_t)k;
                read_to(g, g->pos + g->raw_len);
            }
            if (g->raw_len == g->raw_pos) return 0;
            if (!at_member(g->raw + g->raw_pos, g->raw_len - g->raw_pos)) {
                if (not_a_member(g)) continue;
                return 0;
            }
            if (inflateReset2(&g->z, 15 + 16) != Z_OK) return NEWSIDX_ERR_NOMEM;
            g->member_off = g->pos;
            g->ring[g->n_members++ % RING] = (member_start){g->out, g->pos};
            g->member_out = g->out;
            g->head_n = 0;
            g->head_told = false;
            g->in_member = true;
        }
        if (g->raw_pos == g->raw_len && !g->eof) {
            ssize_t k = pread_full(g->fd, g->raw, sizeof g->raw, g->pos);
            if (k < 0 && have) return (ssize_t)have; /* the error comes again next call */
            if (k < 0) {
                snprintf(err, err_cap, "read failed at byte %llu: %s", (unsigned long long)g->pos,
                         strerror(errno));
                return -1;
            }
            g->raw_pos = 0;
            g->raw_len = (size_t)k;
            g->eof = k == 0;
            read_to(g, g->pos + (uint64_t)k);
        }
        if (g->raw_pos == g->raw_len) { /* the file ends inside the member */
            g->failed = true;
            snprintf(g->why, sizeof g->why,
                     "the gzip member at byte %llu is cut short: the file ends inside it",
                     (unsigned long long)g->member_off);
            continue;
        }
        g->z.next_in = g->raw + g->raw_pos;
        g->z.avail_in = (uInt)(g->raw_len - g->raw_pos);
        g->z.next_out = (uint8_t *)buf + have;
        g->z.avail_out = (uInt)NX_MIN(cap - have, (size_t)UINT_MAX);
        int zr = inflate(&g->z, Z_NO_FLUSH);
        size_t used = (g->raw_len - g->raw_pos) - g->z.avail_in;
        size_t made = (size_t)((uint8_t *)g->z.next_out - ((uint8_t *)buf + have));
        if (g->pos >= g->max_pos) g->fresh_out += made; /* not a second reading after a resync */
        size_t take = NX_MIN(made, sizeof g->head - g->head_n);
        memcpy(g->head + g->head_n, (uint8_t *)buf + have, take);
        g->head_n += take;
        have += made;
        g->raw_pos += used;
        g->pos += used;
        g->out += made;
        if (g->pos > g->max_pos) g->max_pos = g->pos;
        if (zr == Z_MEM_ERROR) return NEWSIDX_ERR_NOMEM;
        if (zr == Z_STREAM_END) g->in_member = false;
        if (zr == Z_DATA_ERROR && g->z.msg &&
            (strcmp(g->z.msg, "incorrect data check") == 0 ||
             strcmp(g->z.msg, "incorrect length check") == 0)) {
            /* the data inflated whole: its record is read; only the
             * trailer's checksum disagrees. Go on at the next member. */
            nx_ingest_report(g->s->opts, g->s->stats, g->name, 0, NEWSIDX_REPORT_WARNING,
                             NEWSIDX_REASON_UNREADABLE,
                             "the gzip member at byte %llu fails its checksum (%s): its record "
                             "was read and may hold damaged text",
                             (unsigned long long)g->member_off, g->z.msg);
            /* after the CRC, zlib has not read the length: the next member
             * starts 4 bytes on (or at once, after a bad length) */
            uint64_t end = g->pos + (strcmp(g->z.msg, "incorrect data check") == 0 ? 4 : 0);
            uint8_t head[4];
            if (pread_full(g->fd, head, 4, end) != 4 || !at_member(head, 4)) end = g->pos + 4;
            g->pos = NX_MIN(end, g->size);
            g->raw_pos = g->raw_len = 0;
            g->eof = g->in_member = false;
        } else if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            g->failed = true;
            snprintf(g->why, sizeof g->why, "the gzip member at byte %llu is corrupt (%s)",
                     (unsigned long long)g->member_off, g->z.msg ? g->z.msg : "inflate failed");
        }
        if (nx_inflated_too_much(g->fresh_out, g->bytes)) {
            g->failed = g->bomb = true;
            snprintf(g->why, sizeof g->why,
                     "decompresses to more than %d times its size: the rest is skipped",
                     NX_INFLATE_RATIO);
        }
        /* whether the member starts a record is told once its first 16
         * bytes are in (or all of it): a read that began it gives no fewer */
        bool telling = g->in_member && !g->failed && g->head_n < sizeof g->head;
        if (!telling && !g->head_told) {
            g->head_told = true;
            if (warc_line(g->head, g->head_n)) g->warc_out = g->member_out;
        }
        if (have && (!telling || have == cap)) return (ssize_t)have;
    }
}

/* The remembered member whose data holds stream offset out: its index. */
static uint64_t member_holding(const nx_warc_gz *g, uint64_t out) {
    uint64_t oldest = g->n_members > RING ? g->n_members - RING : 0;
    uint64_t i = g->n_members - 1;
    while (i > oldest && g->ring[i % RING].out > out) i--;
    return i;
}

uint64_t nx_warc_gz_record_starts(void *src) { return ((nx_warc_gz *)src)->warc_out; }

uint64_t nx_warc_gz_member_of(void *src, uint64_t out, uint64_t *member_out) {
    nx_warc_gz *g = src;
    *member_out = 0;
    if (!g->n_members) return 0;
    const member_start *m = &g->ring[member_holding(g, out) % RING];
    *member_out = m->out;
    return m->off;
}

bool nx_warc_gz_resync(void *src, const nx_warc_failed *f, uint64_t *at) {
    nx_warc_gz *g = src;
    if (g->bomb) return false;
    uint64_t next = 0;
    /* a record that began inside its member, after the record before
     * began: the member's own first record went into that one's block */
    bool again = f->start > f->member_out && f->member_out > f->prev_start &&
                 f->member_off > g->last_target && warc_member_at(g, f->member_off, false);
    if (again) next = f->member_off;
    if (again || next_warc_member(g, f->member_off + 1, &next)) {
        g->last_target = next;
        jump(g, next);
        *at = next;
        return true;
    }
    read_to(g, g->size);
    return false;
}

nx_warc_gz *nx_warc_gz_new(int fd, const char *name, const nx_sink *s) {
    nx_warc_gz *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->fd = fd;
    g->warc_out = UINT64_MAX;
    g->name = name;
    g->s = s;
    struct stat st;
    g->size = fstat(fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
    g->verify_left = 16 * g->size + ((uint64_t)64 << 20);
    if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
        free(g);
        return NULL;
    }
    return g;
}

const uint64_t *nx_warc_gz_bytes(const nx_warc_gz *g) { return &g->bytes; }

void nx_warc_gz_free(nx_warc_gz *g) {
    if (!g) return;
    inflateEnd(&g->z);
    free(g);
}
