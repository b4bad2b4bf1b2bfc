/* warcgz.c — a .warc.gz file read one gzip member at a time, with zlib, so
 * that a damaged member costs the record it holds and not the rest of the
 * file. Crawlers write one gzip member per WARC record (ISO 28500, annex
 * D) precisely so that a reader can start at any record; a crawler killed
 * mid-write leaves the last member cut short. Through libarchive's gzip
 * filter, such a file was lost from the damage on, and a small one whole
 * (libarchive read ahead past the damage before giving a byte).
 *
 * A member that fails to inflate, or that the file ends inside, is a read
 * error for warc.c, which reports it and calls nx_warc_gz_resync: the next
 * member is the next "1F 8B 08" after the damaged member's start that
 * inflates to a WARC version line. docs/INGEST.md, "WARC". */
#include "ingest/ingest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

struct nx_warc_gz {
    int fd;
    z_stream z;
    uint64_t pos;        /* file offset of raw[raw_pos] */
    uint64_t member_off; /* file offset of the member being inflated, or last begun */
    uint64_t bytes;      /* how far the file was read: progress */
    uint64_t out;        /* bytes inflated, for the bomb check */
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

/* Refills g->raw from g->pos when it is used up; -1 on a read error. */
static int fill(nx_warc_gz *g, char *err, size_t err_cap) {
    if (g->raw_pos < g->raw_len || g->eof) return 0;
    ssize_t k = pread_full(g->fd, g->raw, sizeof g->raw, g->pos);
    if (k < 0) {
        snprintf(err, err_cap, "read failed at byte %llu: %s", (unsigned long long)g->pos,
                 strerror(errno));
        return -1;
    }
    g->raw_pos = 0;
    g->raw_len = (size_t)k;
    if (k == 0) g->eof = true;
    if (g->pos + (uint64_t)k > g->bytes) g->bytes = g->pos + (uint64_t)k;
    return 0;
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
    }
}

ssize_t nx_warc_gz_read(void *src, void *buf, size_t cap, char *err, size_t err_cap) {
    nx_warc_gz *g = src;
    for (;;) {
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
                if (g->pos + g->raw_len > g->bytes) g->bytes = g->pos + g->raw_len;
            }
            if (g->raw_len == g->raw_pos) return 0;
            g->member_off = g->pos;
            if (!at_member(g->raw + g->raw_pos, g->raw_len - g->raw_pos)) {
                if (only_zeros_left(g)) return 0;
                g->failed = true;
                snprintf(g->why, sizeof g->why, "no gzip member starts at byte %llu",
                         (unsigned long long)g->pos);
                continue;
            }
            if (inflateReset2(&g->z, 15 + 16) != Z_OK) return NEWSIDX_ERR_NOMEM;
            g->in_member = true;
        }
        if (fill(g, err, err_cap)) return -1;
        if (g->raw_pos == g->raw_len) { /* the file ends inside the member */
            g->failed = true;
            snprintf(g->why, sizeof g->why,
                     "the gzip member at byte %llu is cut short: the file ends inside it",
                     (unsigned long long)g->member_off);
            continue;
        }
        g->z.next_in = g->raw + g->raw_pos;
        g->z.avail_in = (uInt)(g->raw_len - g->raw_pos);
        g->z.next_out = buf;
        g->z.avail_out = (uInt)(cap > UINT_MAX ? UINT_MAX : cap);
        int zr = inflate(&g->z, Z_NO_FLUSH);
        size_t used = (g->raw_len - g->raw_pos) - g->z.avail_in;
        size_t made = (size_t)((uint8_t *)g->z.next_out - (uint8_t *)buf);
        g->raw_pos += used;
        g->pos += used;
        g->out += made;
        if (zr == Z_MEM_ERROR) return NEWSIDX_ERR_NOMEM;
        if (zr == Z_STREAM_END) g->in_member = false;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            g->failed = true;
            snprintf(g->why, sizeof g->why, "the gzip member at byte %llu is corrupt (%s)",
                     (unsigned long long)g->member_off, g->z.msg ? g->z.msg : "inflate failed");
        }
        if (nx_inflated_too_much(g->out, g->bytes)) {
            g->failed = g->bomb = true;
            snprintf(g->why, sizeof g->why,
                     "decompresses to more than %d times its size: the rest is skipped",
                     NX_INFLATE_RATIO);
        }
        if (made) return (ssize_t)made;
    }
}

/* Whether a member starting at file offset off inflates to a WARC version
 * line. */
static bool warc_member_at(nx_warc_gz *g, uint64_t off) {
    uint8_t in[4096], out[8];
    ssize_t k = pread_full(g->fd, in, sizeof in, off);
    if (k < 4 || !at_member(in, (size_t)k) || inflateReset2(&g->z, 15 + 16) != Z_OK) return false;
    g->z.next_in = in;
    g->z.avail_in = (uInt)k;
    g->z.next_out = out;
    g->z.avail_out = sizeof out;
    int zr = inflate(&g->z, Z_SYNC_FLUSH);
    size_t made = sizeof out - g->z.avail_out;
    return (zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR) && made >= 5 &&
           memcmp(out, "WARC/", 5) == 0;
}

bool nx_warc_gz_resync(void *src, uint64_t *at) {
    nx_warc_gz *g = src;
    if (g->bomb) return false;
    uint8_t buf[64 * 1024];
    for (uint64_t off = g->member_off + 1;;) {
        ssize_t k = pread_full(g->fd, buf, sizeof buf, off);
        if (k < 4) break;
        for (const uint8_t *p = buf; (p = memchr(p, 0x1F, (size_t)(buf + k - p))) != NULL; p++) {
            uint64_t cand = off + (uint64_t)(p - buf);
            if (buf + k - p >= 4 && !at_member(p, 4)) continue;
            if (warc_member_at(g, cand)) {
                g->pos = cand;
                g->raw_pos = g->raw_len = 0;
                g->eof = g->failed = g->in_member = false;
                *at = cand;
                return true;
            }
        }
        if ((size_t)k < sizeof buf) break;
        off += (uint64_t)k - 3; /* a header across the chunk's end */
    }
    if (g->bytes < g->pos) g->bytes = g->pos;
    return false;
}

nx_warc_gz *nx_warc_gz_new(int fd) {
    nx_warc_gz *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->fd = fd;
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
