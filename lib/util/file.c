/* util/ — files with checksummed footers (docs/FORMAT.md, "Footer"),
 * mmap'd reading, directory fsync. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define WFILE_BUF_BYTES (1u << 16)

struct nx_wfile {
    int fd;
    bool sync; /* fsync at finish (default) */
    char *path;
    uint32_t kind;
    uint64_t offset;
    XXH3_state_t *hash;
    bool rehash; /* nx_wfile_patch changed written bytes: hash the file again */
    size_t buf_len;
    nx_err *err;
    uint8_t buf[WFILE_BUF_BYTES];
};

char *nx_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

int nx_wfile_create(const char *path, uint32_t kind, nx_err *err, nx_wfile **out) {
    *out = NULL;
    nx_wfile *f = malloc(sizeof *f);
    if (!f) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory creating %s", path);
    f->path = strdup(path);
    f->hash = XXH3_createState();
    if (!f->path || !f->hash) {
        free(f->path);
        XXH3_freeState(f->hash);
        free(f);
        return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory creating %s", path);
    }
    XXH3_64bits_reset(f->hash);
    /* Every index file gets a name no committed file has, so it is always
     * created, never opened: O_EXCL never follows a symbolic link, so a
     * link planted under that name cannot redirect the write outside the
     * index. A name that exists is a leftover of a crash (or a planted
     * link): it is unlinked, not followed, and the create tried once more. */
    /* read too: a patched file is hashed again from its bytes */
    int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    f->fd = open(path, flags, 0644);
    if (f->fd < 0 && errno == EEXIST && unlink(path) == 0) f->fd = open(path, flags, 0644);
    if (f->fd < 0) {
        int e = errno;
        free(f->path);
        XXH3_freeState(f->hash);
        free(f);
        return nx_err_set(err, NEWSIDX_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    f->kind = kind;
    f->offset = 0;
    f->rehash = false;
    f->sync = true;
    f->buf_len = 0;
    f->err = err;
    *out = f;
    return 0;
}

static int write_all(nx_wfile *f, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return nx_err_set(f->err, NEWSIDX_ERR_IO, "%s: write failed: %s", f->path,
                              strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int wfile_flush(nx_wfile *f) {
    int rc = write_all(f, f->buf, f->buf_len);
    f->buf_len = 0;
    return rc;
}

int nx_wfile_write(nx_wfile *f, const void *p, size_t n) {
    if (n == 0) return 0;
    XXH3_64bits_update(f->hash, p, n);
    f->offset += n;
    if (n >= WFILE_BUF_BYTES) {
        NX_FORWARD(wfile_flush(f));
        return write_all(f, p, n);
    }
    if (WFILE_BUF_BYTES - f->buf_len < n) NX_FORWARD(wfile_flush(f));
    memcpy(f->buf + f->buf_len, p, n);
    f->buf_len += n;
    return 0;
}

uint64_t nx_wfile_offset(const nx_wfile *f) { return f->offset; }

int nx_wfile_patch(nx_wfile *f, uint64_t off, const void *p, size_t n) {
    if (off > f->offset || n > f->offset - off) return NEWSIDX_ERR_INVALID;
    NX_FORWARD(wfile_flush(f));
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = pwrite(f->fd, q, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return nx_err_set(f->err, NEWSIDX_ERR_IO, "%s: write failed: %s", f->path,
                              strerror(errno));
        }
        q += w;
        off += (uint64_t)w;
        n -= (size_t)w;
    }
    f->rehash = true;
    return 0;
}

/* The content's XXH3 from the file itself, read back through the (empty)
 * write buffer: the bytes are in the page cache, having just been
 * written. */
static int hash_again(nx_wfile *f) {
    XXH3_64bits_reset(f->hash);
    for (uint64_t at = 0; at < f->offset;) {
        size_t want = f->offset - at < WFILE_BUF_BYTES ? (size_t)(f->offset - at) : WFILE_BUF_BYTES;
        ssize_t r = pread(f->fd, f->buf, want, (off_t)at);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return nx_err_set(f->err, NEWSIDX_ERR_IO, "%s: cannot read back: %s", f->path,
                              r < 0 ? strerror(errno) : "file shorter than written");
        XXH3_64bits_update(f->hash, f->buf, (size_t)r);
        at += (uint64_t)r;
    }
    return 0;
}

void nx_wfile_set_sync(nx_wfile *f, bool sync) { f->sync = sync; }

void nx_wfile_set_err(nx_wfile *f, nx_err *err) { f->err = err; }

static void wfile_release(nx_wfile *f) {
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    XXH3_freeState(f->hash);
    free(f);
}

int nx_wfile_finish(nx_wfile *f) { return nx_wfile_finish_sum(f, NULL); }

int nx_wfile_finish_sum(nx_wfile *f, uint64_t *checksum) {
    int rc = wfile_flush(f);
    if (rc == 0 && f->rehash) rc = hash_again(f);
    uint8_t foot[NX_FOOTER_BYTES];
    nx_store_u32le(foot, NX_FOOTER_MAGIC);
    nx_store_u32le(foot + 4, f->kind);
    nx_store_u32le(foot + 8, NX_FORMAT_VERSION);
    nx_store_u32le(foot + 12, 0);
    nx_store_u64le(foot + 16, f->offset);
    uint64_t sum = XXH3_64bits_digest(f->hash);
    nx_store_u64le(foot + 24, sum);
    if (rc == 0) rc = write_all(f, foot, sizeof foot);
    if (rc == 0 && f->sync && fsync(f->fd) != 0)
        rc = nx_err_set(f->err, NEWSIDX_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
    if (rc == 0 && close(f->fd) != 0)
        rc = nx_err_set(f->err, NEWSIDX_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
    f->fd = -1;
    if (rc != 0) unlink(f->path);
    else if (checksum) *checksum = sum;
    wfile_release(f);
    return rc;
}

void nx_wfile_abort(nx_wfile *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    unlink(f->path);
    wfile_release(f);
}

int nx_rfile_open(const char *path, uint32_t kind, nx_err *err, nx_rfile *out) {
    memset(out, 0, sizeof *out);
    /* O_NONBLOCK: a FIFO planted in an index directory must not hang open(). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                              "%s: is a symbolic link; index files must be regular files", path);
        return nx_err_set(err, e == ENOENT ? NEWSIDX_ERR_NOT_FOUND : NEWSIDX_ERR_IO,
                          "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size < NX_FOOTER_BYTES) {
        close(fd);
        return nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                          "%s: %lld bytes is too short for a footer (file truncated?)", path,
                          (long long)st.st_size);
    }
    size_t map_len = (size_t)st.st_size;
    void *m = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return nx_err_set(err, NEWSIDX_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    const uint8_t *foot = (const uint8_t *)m + map_len - NX_FOOTER_BYTES;
    uint64_t content = nx_load_u64le(foot + 16);
    int rc = 0;
    if (nx_load_u32le(foot) != NX_FOOTER_MAGIC)
        rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: bad footer magic at byte %zu", path,
                        map_len - NX_FOOTER_BYTES);
    else if (nx_load_u32le(foot + 8) != NX_FORMAT_VERSION)
        rc = nx_err_set(err, NEWSIDX_ERR_VERSION, "%s: format version %u, this library reads %u",
                        path, nx_load_u32le(foot + 8), NX_FORMAT_VERSION);
    else if (nx_load_u32le(foot + 4) != kind)
        rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: file kind %u where %u was expected", path,
                        nx_load_u32le(foot + 4), kind);
    else if (content != map_len - NX_FOOTER_BYTES)
        rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                        "%s: footer says %llu content bytes, file has %zu", path,
                        (unsigned long long)content, map_len - NX_FOOTER_BYTES);
    else if (nx_load_u32le(foot + 12) != 0) /* no checksum covers the footer: all of it is checked */
        rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT, "%s: reserved footer field at byte %zu is not 0",
                        path, map_len - NX_FOOTER_BYTES + 12);
    if (rc == 0) {
        out->path = strdup(path);
        if (!out->path) rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    if (rc != 0) {
        munmap(m, map_len);
        return rc;
    }
    out->data = m;
    out->len = map_len - NX_FOOTER_BYTES;
    out->map_len = map_len;
    out->checksum = nx_load_u64le(foot + 24);
    out->kind = kind;
    return 0;
}

int nx_rfile_verify(const nx_rfile *f, nx_err *err) {
    uint64_t h = XXH3_64bits(f->data, f->len);
    if (h != f->checksum)
        return nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                          "%s: checksum mismatch over bytes 0..%zu (stored %016llx, computed %016llx)",
                          f->path, f->len, (unsigned long long)f->checksum,
                          (unsigned long long)h);
    return 0;
}

void nx_rfile_close(nx_rfile *f) {
    if (f->data) munmap((void *)f->data, f->map_len);
    free(f->path);
    memset(f, 0, sizeof *f);
}

int nx_fsync_dir(const char *dir, nx_err *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return nx_err_set(err, NEWSIDX_ERR_IO, "%s: cannot open: %s", dir, strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0)
        rc = nx_err_set(err, NEWSIDX_ERR_IO, "%s: fsync failed: %s", dir, strerror(errno));
    close(fd);
    return rc;
}
