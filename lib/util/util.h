/* util/ — small building blocks shared by every subsystem: growable byte
 * buffers, varints, error messages, files with checksummed footers. The
 * leaf helpers every layer shares have their own headers beside this one:
 * date.h (calendar maths; date.c also parses dates), utf8.h (decoding,
 * validation, repair) and fields.h (the one table of field names). */
#ifndef NX_UTIL_H
#define NX_UTIL_H

#include "newsidx.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NX_LIKELY(x) __builtin_expect(!!(x), 1)
#define NX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NX_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NX_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- error messages ----------------------------------------------------
 * Each handle owns an nx_err. Functions return an int code; the message
 * says what and where. Module style: early return with NX_RETURN_IF /
 * NX_FORWARD (zstd's RETURN_ERROR_IF / FORWARD_IF_ERROR). */
typedef struct nx_err {
    int code;
    char msg[512];
} nx_err;

/* Sets err (if non-NULL) to code and a printf-style message; returns code. */
int nx_err_set(nx_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "where: " to err's message (e.g. the file a block reader's bytes
 * came from, since block readers only see memory). Returns err's code. */
int nx_err_prefix(nx_err *err, const char *where);
/* Writes a printf-style message straight into a caller's errbuf (NULL or
 * 0 bytes is fine: nothing is written); returns code. For a public call
 * refusing its arguments before it has an nx_err. */
int nx_errbuf_set(char *buf, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Copies err's message into a caller's buffer (NULL buf is fine). */
void nx_err_copy(const nx_err *err, char *buf, size_t buf_size);

#define NX_RETURN_IF(cond, err, code, ...)                                     \
    do {                                                                       \
        if (NX_UNLIKELY(cond)) return nx_err_set((err), (code), __VA_ARGS__);  \
    } while (0)
#define NX_FORWARD(expr)                                                       \
    do {                                                                       \
        int nx_rc_ = (expr);                                                   \
        if (NX_UNLIKELY(nx_rc_ < 0)) return nx_rc_;                            \
    } while (0)

/* ---- options structs ---------------------------------------------------
 * The rule of newsidx.h ("Options"): a caller's struct starts with its
 * size; a smaller size (a caller built against an older header) is
 * accepted and the fields past it keep their defaults; a larger one (a
 * newer header) is accepted only when the bytes this library does not know
 * are all zero. Copies the caller's struct `src` over `dst`, which holds
 * dst_size bytes already filled with the defaults by its *_init function,
 * and sets dst's size to dst_size. Returns 0 or NEWSIDX_ERR_INVALID with
 * "WHAT options: ..." in err. */
int nx_options_copy(void *dst, size_t dst_size, const void *src, const char *what, nx_err *err);

/* ---- growable byte buffer ---------------------------------------------- */
typedef struct nx_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} nx_buf;

void nx_buf_free(nx_buf *b);
/* Ensures room for `extra` more bytes. Returns 0 or NEWSIDX_ERR_NOMEM. */
int nx_buf_reserve(nx_buf *b, size_t extra);
int nx_buf_append(nx_buf *b, const void *p, size_t n);
int nx_buf_putc(nx_buf *b, uint8_t c);
int nx_buf_put_u16le(nx_buf *b, uint16_t v);
int nx_buf_put_u32le(nx_buf *b, uint32_t v);
int nx_buf_put_u64le(nx_buf *b, uint64_t v);
int nx_buf_put_varint(nx_buf *b, uint64_t v);

/* ---- little-endian loads/stores and varints on raw memory -------------- */
static inline uint16_t nx_load_u16le(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t nx_load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t nx_load_u64le(const uint8_t *p) {
    return (uint64_t)nx_load_u32le(p) | ((uint64_t)nx_load_u32le(p + 4) << 32);
}
static inline void nx_store_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void nx_store_u64le(uint8_t *p, uint64_t v) {
    nx_store_u32le(p, (uint32_t)v);
    nx_store_u32le(p + 4, (uint32_t)(v >> 32));
}
/* Writes a LEB128 varint to p (room for 10 bytes); returns bytes written. */
size_t nx_varint_encode(uint8_t *p, uint64_t v);
/* Reads a varint from [*p, end). Returns 0 and advances *p, or -1 when the
 * varint is truncated or longer than 10 bytes (never reads past end). */
int nx_varint_decode(const uint8_t **p, const uint8_t *end, uint64_t *out);

/* ---- hashing ------------------------------------------------------------ */
uint64_t nx_hash64(const void *p, size_t n); /* XXH3-64, seed 0 */

/* ---- files -------------------------------------------------------------
 * Every index file ends with a 32-byte footer (docs/FORMAT.md, "Footer"):
 *   u32 magic "NXFT", u32 kind (NX_FILE_*), u32 format version,
 *   u32 reserved (0), u64 content length (bytes before the footer),
 *   u64 XXH3-64 of the content bytes. */
#define NX_FOOTER_BYTES 32
#define NX_FOOTER_MAGIC 0x5446584eu /* "NXFT" little-endian */
#define NX_FORMAT_VERSION 5

/* A file being written: contents accumulate through a buffered writer with a
 * running XXH3 state; nx_wfile_finish appends the footer, fsyncs, closes. */
typedef struct nx_wfile nx_wfile;
int nx_wfile_create(const char *path, uint32_t kind, nx_err *err, nx_wfile **out);
int nx_wfile_write(nx_wfile *f, const void *p, size_t n);
uint64_t nx_wfile_offset(const nx_wfile *f); /* content bytes written so far */
/* Overwrites n content bytes at off, all already written: a header whose
 * counts are known only at the end (the streamed term dictionary). The
 * checksum is then computed at finish by reading the file back. 0, IO, or
 * INVALID when [off, off + n) is not written yet. */
int nx_wfile_patch(nx_wfile *f, uint64_t off, const void *p, size_t n);
/* sync = false: nx_wfile_finish does not fsync (newsidx_writer_options.no_sync) */
void nx_wfile_set_sync(nx_wfile *f, bool sync);
/* Where f's errors go from now on (a file written by another thread). */
void nx_wfile_set_err(nx_wfile *f, nx_err *err);
int nx_wfile_finish(nx_wfile *f);            /* footer + fsync + close; frees f */
/* nx_wfile_finish that also gives the footer's checksum (*checksum set
 * only on success) */
int nx_wfile_finish_sum(nx_wfile *f, uint64_t *checksum);
void nx_wfile_abort(nx_wfile *f);            /* close + unlink; frees f; NULL ok */

/* A file opened for reading with mmap. open verifies the footer's magic,
 * kind, version and length (cheap); nx_rfile_verify also checks the XXH3. */
typedef struct nx_rfile {
    const uint8_t *data; /* content bytes (footer excluded) */
    size_t len;          /* content length */
    size_t map_len;      /* whole mapping */
    uint64_t checksum;   /* from the footer */
    uint32_t kind;
    char *path;
} nx_rfile;
int nx_rfile_open(const char *path, uint32_t kind, nx_err *err, nx_rfile *out);
int nx_rfile_verify(const nx_rfile *f, nx_err *err); /* full checksum */
void nx_rfile_close(nx_rfile *f);

/* fsync a directory (after a rename inside it). */
int nx_fsync_dir(const char *dir, nx_err *err);
/* Joins dir and name into a malloc'd path, or NULL on OOM. */
char *nx_path_join(const char *dir, const char *name);

/* What zstd can physically inflate one compressed byte to (a 4-byte RLE
 * block yields at most 128 KiB): a crafted file's declared raw size above
 * ratio × its compressed bytes is refused before anything is allocated
 * for it (the doc store's blocks and dictionary). */
#define NX_INFLATE_MAX_RATIO 32768

/* ---- arena: bump allocator for per-flush and per-query scratch ---------- */
typedef struct nx_arena_chunk nx_arena_chunk;
typedef struct nx_arena {
    nx_arena_chunk *head;
    size_t chunk_bytes; /* default chunk size (0 = 64 KiB) */
    size_t total_bytes; /* bytes allocated from malloc */
} nx_arena;
void *nx_arena_alloc(nx_arena *a, size_t n); /* 16-byte aligned; NULL on OOM */
void nx_arena_reset(nx_arena *a);            /* frees all but keeps nothing */

#endif
