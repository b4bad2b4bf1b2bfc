/* index/spill — per-doc columns of a segment being written, past
 * NX_SPILL_HELD bytes in an unlinked temporary file (spill.h). A merge of
 * N articles held ~45 bytes a doc of them (dates, hashes, source
 * ordinals, ids) until its end: 45 MB for a merge of 1M articles, which
 * no --ram bounded. Error style: NX_FORWARD / nx_err_set (early returns). */
#include "index/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nx_spill_append(const char *dir, nx_err *err, nx_spill *s, const void *p, size_t n) {
    if (nx_buf_append(&s->buf, p, n)) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (s->buf.len < NX_SPILL_HELD || s->fd == -2) return 0;
    if (s->fd == -1) {
        /* unlinked from the start: a crash leaves nothing behind */
        s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (s->fd < 0) {
            s->fd = -2;
            return 0;
        }
    }
    const uint8_t *q = s->buf.data;
    for (size_t left = s->buf.len; left > 0;) {
        ssize_t w = pwrite(s->fd, q, left, (off_t)s->on_disk);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            return nx_err_set(err, NEWSIDX_ERR_IO, "%s: cannot write a temporary file: %s", dir,
                              strerror(errno));
        q += w;
        left -= (size_t)w;
        s->on_disk += (uint64_t)w;
    }
    s->buf.len = 0;
    return 0;
}

void nx_spill_free(nx_spill *s) {
    nx_buf_free(&s->buf);
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->on_disk = 0;
}

int nx_spill_read(const char *dir, nx_err *err, nx_spill_reader *r, void *out, size_t n) {
    const nx_spill *s = r->s;
    uint8_t *o = out;
    while (n > 0) {
        size_t k;
        if (r->at >= s->on_disk) {
            k = n;
            if (r->at - s->on_disk + n > s->buf.len)
                return nx_err_set(err, NEWSIDX_ERR_IO, "%s: a spilled column ends early", dir);
            memcpy(o, s->buf.data + (r->at - s->on_disk), k);
        } else {
            if (r->win_pos == r->win_len) {
                if (!r->win && !(r->win = malloc(NX_SPILL_HELD)))
                    return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
                size_t want = (size_t)NX_MIN((uint64_t)NX_SPILL_HELD, s->on_disk - r->at);
                ssize_t got = pread(s->fd, r->win, want, (off_t)r->at);
                if (got < 0 && errno == EINTR) continue;
                if (got <= 0)
                    return nx_err_set(err, NEWSIDX_ERR_IO, "%s: cannot read a temporary file: %s",
                                      dir, got < 0 ? strerror(errno) : "it ends early");
                r->win_len = (size_t)got;
                r->win_pos = 0;
            }
            k = NX_MIN(n, r->win_len - r->win_pos);
            memcpy(o, r->win + r->win_pos, k);
            r->win_pos += k;
        }
        r->at += k;
        o += k;
        n -= k;
    }
    return 0;
}

void nx_spill_reader_free(nx_spill_reader *r) {
    free(r->win);
    r->win = NULL;
}

int nx_spill_copy(const char *dir, nx_err *err, const nx_spill *s, nx_wfile *f) {
    nx_spill_reader r = {.s = s};
    uint8_t chunk[4096];
    int rc = 0;
    for (uint64_t left = s->on_disk; left > 0 && rc == 0;) {
        size_t k = (size_t)NX_MIN(left, (uint64_t)sizeof chunk);
        rc = nx_spill_read(dir, err, &r, chunk, k);
        if (rc == 0) rc = nx_wfile_write(f, chunk, k);
        left -= k;
    }
    nx_spill_reader_free(&r);
    return rc ? rc : nx_wfile_write(f, s->buf.data, s->buf.len);
}
