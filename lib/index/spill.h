/* index/spill — a column of bytes written once in order and read back in
 * order (the per-doc columns of a segment being written): its first
 * NX_SPILL_HELD bytes stay in memory, the rest goes to an unlinked
 * temporary file of the index directory. No on-disk format of its own:
 * the bytes end up in the column file (segwrite.c). */
#ifndef NX_SPILL_H
#define NX_SPILL_H

#include "util/util.h"

/* Bytes held in memory before they go to the file. */
#define NX_SPILL_HELD ((size_t)256 << 10)

/* Zero-initialize, then set fd = -1. */
typedef struct nx_spill {
    nx_buf buf;       /* the bytes after the first on_disk */
    int fd;           /* the temporary file; -1 none yet; -2 none possible */
    uint64_t on_disk;
} nx_spill;

/* Bytes written so far. */
static inline uint64_t nx_spill_len(const nx_spill *s) { return s->on_disk + s->buf.len; }
/* Appends n bytes; the file is made in dir on the first spill. Where the
 * file system has no O_TMPFILE, everything stays in memory. 0, NOMEM or
 * IO (message in err). */
int nx_spill_append(const char *dir, nx_err *err, nx_spill *s, const void *p, size_t n);
/* Closes the file and frees the memory. */
void nx_spill_free(nx_spill *s);

/* A cursor from the start of a column; zero-initialize with .s set. */
typedef struct nx_spill_reader {
    const nx_spill *s;
    uint64_t at;
    uint8_t *win; /* a window of the file, NX_SPILL_HELD bytes */
    size_t win_len, win_pos;
} nx_spill_reader;
/* Copies the next n bytes to out. 0, NOMEM or IO (also when the column
 * ends first). */
int nx_spill_read(const char *dir, nx_err *err, nx_spill_reader *r, void *out, size_t n);
void nx_spill_reader_free(nx_spill_reader *r);
/* Writes the whole column to f. */
int nx_spill_copy(const char *dir, nx_err *err, const nx_spill *s, nx_wfile *f);

#endif
