/* index/writer — newsidx_writer: the RAM buffer (term hash -> growing
 * postings in a paged slice pool), flushes into segments (segwrite.c),
 * duplicate-id replacement with tombstones, commit (manifest.c) and the
 * merge policy (merge.c). On-disk bytes: docs/FORMAT.md.
 *
 * RAM buffer layout (not on disk): each (field, term) owns one byte
 * stream in the slice pool, one entry per occurrence: the first in a doc
 * is varint(position << 1 | 1), varint(doc - previous doc of the term),
 * a later one varint((position - previous position) << 1). Freqs are
 * counted when the flush reads the stream back. One stream instead of a
 * doc and a position stream: a token writes to one pool line, not two
 * (the write misses were a fifth of the adding loop's stalls). A stream is a chain of slices of growing size (16 B .. 4 KiB), each
 * ending with the u32 pool offset of the next one, so a term costs little
 * until it proves frequent (Lucene's ByteBlockPool idea). */
#include "analysis/analysis.h"
#include "index/index_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
/* inlined XXH3: the term hash is the writer's hottest call */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* 64 KiB pages: small enough that a small RAM budget is honoured, large
 * enough that page bookkeeping is noise. */
#define POOL_PAGE_BITS 16
#define POOL_PAGE ((uint32_t)1 << POOL_PAGE_BITS)
/* The pool addresses slices with u32 offsets: at most 4 GiB of postings
 * per segment, so the RAM budget is capped at 3 GiB (documented). */
#define MAX_POOL_PAGES 65535u
#define MAX_RAM_BUDGET ((size_t)3 << 30)
/* Pool pages and term entries come in 2 MiB slabs the kernel may back
 * with one huge page: first-touch page faults of the buffer (one per 4 KiB,
 * zeroing included) were ~5% of indexing a small collection. */
#define SLAB_BYTES ((size_t)2 << 20)
#define SLAB_PAGES ((uint32_t)(SLAB_BYTES / POOL_PAGE))

/* bytes: a multiple of SLAB_BYTES. Slabs are mapped and unmapped directly,
 * not through malloc: glibc raises its mmap threshold after the first
 * freed 2 MiB block, so later slabs came from the brk heap, which fragments
 * and is not given back between flushes (1M articles: peak RSS 684 MB at the
 * default 256 MB budget, 417 MB with a fixed threshold; mmap gives the
 * latter without tuning the process's allocator). Returns zeroed memory. */
static void *slabs_alloc(size_t bytes) {
    size_t span = bytes + SLAB_BYTES; /* room to align the start */
    uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)m + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1);
    uint8_t *p = (uint8_t *)a;
    if (p > m) munmap(m, (size_t)(p - m));
    if (m + span > p + bytes) munmap(p + bytes, (size_t)(m + span - (p + bytes)));
#if defined(MADV_HUGEPAGE)
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure is fine */
#endif
    return p;
}

static void slabs_free(void *p, size_t bytes) {
    if (p) munmap(p, bytes);
}

/* The term slot table of mask + 1 entries: slabs when it is that large. */
static void term_slots_free(uint64_t *slots, uint32_t mask) {
    size_t bytes = ((size_t)mask + 1) * 8;
    if (slots && bytes >= SLAB_BYTES) slabs_free(slots, bytes);
    else free(slots);
}

static void *slab_alloc(void) { return slabs_alloc(SLAB_BYTES); }

static const uint32_t slice_sizes[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
#define N_SLICE_LEVELS (sizeof slice_sizes / sizeof slice_sizes[0])

typedef struct wstream {
    uint32_t head, wp, wend; /* first slice, write pointer, end of the slice's data */
} wstream;

/* One cache line per term (the array is 64-byte aligned): a token touches
 * its term's line and, only for keys longer than 16 bytes (terms of 16
 * bytes and more), the key's tail in w->keys (the key tail was a sixth of
 * the adding loop's stalls). Counts of doc entries and positions are not
 * kept: the flush reads a stream up to its write pointer and grows its
 * scratch as it goes. */
typedef struct wterm {
    uint64_t key8[2]; /* the key's first 16 bytes (little-endian), zero padded */
    uint32_t key_off;
    uint16_t key_len; /* field byte + term */
    uint8_t level;    /* slice level of the stream */
    uint8_t unused;
    uint32_t doc;      /* last doc with an occurrence (UINT32_MAX: none yet) */
    uint32_t last_pos; /* position of that doc's last occurrence */
    wstream os;        /* the occurrence stream */
    uint8_t pad[20];
} wterm;
_Static_assert(sizeof(wterm) == 64, "a term entry is one cache line");

/* Term entries live in fixed chunks (one 2 MiB slab): a growing array was
 * copied at each doubling, and the copies and the new array's first-touch
 * page faults were a twentieth of indexing a large collection. */
#define TERM_CHUNK_BITS 15
#define TERM_CHUNK ((uint32_t)1 << TERM_CHUNK_BITS)
_Static_assert(TERM_CHUNK * sizeof(wterm) == SLAB_BYTES, "a term chunk is one slab");

typedef struct wdoc {
    int64_t date;
    uint64_t id_hash;
    uint64_t stored_off;
    uint32_t stored_len;
    uint32_t id_off, id_len;
    uint32_t src_off, src_len;
    uint32_t text_bytes;
    uint32_t field_len[NX_N_FIELDS];
    uint8_t deleted;
} wdoc;

typedef struct wseg {
    nx_segment *seg;
    uint8_t *del; /* deletion bitmap (doc_count bits) or NULL */
    uint32_t n_del;
    uint32_t del_gen;
    bool del_dirty;
} wseg;

struct newsidx_writer {
    char *dir;
    int lock_fd;
    bool created_dir; /* open made the directory: a writer that never commits removes it */
    nx_err err;
    int failed; /* sticky: a failed flush/commit leaves the buffer unusable */
    bool merge_all; /* set by newsidx_writer_optimize for its commit */
    newsidx_writer_options opts;
    char *stem, *stop;
    newsidx_analyzer *an;
    nx_segbuild_opts sb;
    /* committed + flushed segments */
    uint64_t generation;
    uint32_t next_seg_no;
    wseg *segs;
    uint32_t n_segs, cap_segs;
    /* RAM buffer */
    uint8_t **pages;
    uint32_t n_pages, page_used;
    wterm **term_chunks; /* TERM_CHUNK entries each: entries never move */
    uint32_t n_term_chunks;
    uint32_t n_terms;
    uint32_t cap_terms; /* for ram_used only: see term_new */
    uint64_t *term_slots; /* (hash high 32 bits) << 32 | (term index + 1); 0 = empty */
    uint32_t term_mask;
    nx_buf keys, ids, srcs, stored;
    wdoc *docs;
    uint32_t n_docs, cap_docs, n_deleted;
    uint32_t *id_slots; /* doc index + 1 */
    uint32_t id_mask;
    /* analysis of the current doc */
    uint32_t cur_doc;
    int cur_field;
    uint32_t cur_len;
    /* flush scratch (grow-only) */
    uint32_t *s_docs, *s_freqs, *s_pos, *s_ent, *s_pos2;
    size_t s_cap, s_pos_cap;
    nx_buf s_fields, s_key;
    struct wtok *toks; /* tokens of the field being analyzed */
    uint32_t n_tok, cap_tok;
};

void newsidx_writer_options_init(newsidx_writer_options *o) {
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->ram_budget_bytes = (size_t)256 << 20;
    o->store_fields = 1;
    o->doc_store_level = 9;
    o->doc_store_block_bytes = NX_DOCSTORE_DEFAULT_BLOCK_BYTES;
    o->merge_factor = 10;
    o->max_field_bytes = 16u << 20;
}

const char *newsidx_writer_errmsg(const newsidx_writer *w) { return w ? w->err.msg : ""; }

void nx_writer_set_error(newsidx_writer *w, int code, const char *msg) {
    if (w) nx_err_set(&w->err, code, "%s", msg);
}

/* ---- slice pool ----------------------------------------------------------- */

static inline uint8_t *pool_at(const newsidx_writer *w, uint32_t off) {
    return w->pages[off >> POOL_PAGE_BITS] + (off & (POOL_PAGE - 1));
}

/* Allocates a slice of `size` data bytes + 4 link bytes; returns its offset
 * or UINT32_MAX when out of memory / pool space. */
static uint32_t pool_alloc(newsidx_writer *w, uint32_t size) {
    uint32_t need = size + 4;
    if (w->n_pages == 0 || POOL_PAGE - w->page_used < need) {
        if (w->n_pages >= MAX_POOL_PAGES) return UINT32_MAX;
        if ((w->n_pages & (w->n_pages - 1)) == 0) { /* capacity doubles at powers of two */
            uint8_t **np = realloc(w->pages, sizeof *np * (w->n_pages ? w->n_pages * 2 : 1));
            if (!np) return UINT32_MAX;
            w->pages = np;
        }
        uint8_t **np = w->pages;
        if (w->n_pages % SLAB_PAGES == 0) {
            np[w->n_pages] = slab_alloc(); /* freed through its first page */
            if (!np[w->n_pages]) return UINT32_MAX;
        } else {
            np[w->n_pages] = np[w->n_pages - 1] + POOL_PAGE;
        }
        w->n_pages++;
        w->page_used = 0;
    }
    uint32_t off = ((w->n_pages - 1) << POOL_PAGE_BITS) | w->page_used;
    w->page_used += need;
    return off;
}

static int stream_init(newsidx_writer *w, wstream *s, uint8_t *level) {
    uint32_t off = pool_alloc(w, slice_sizes[0]);
    if (off == UINT32_MAX) return NEWSIDX_ERR_NOMEM;
    s->head = s->wp = off;
    s->wend = off + slice_sizes[0];
    *level = 0;
    return 0;
}

static inline int stream_put(newsidx_writer *w, wstream *s, uint8_t *level, uint8_t b) {
    if (NX_UNLIKELY(s->wp == s->wend)) {
        uint8_t lvl = *level + 1 < (int)N_SLICE_LEVELS ? *level + 1 : *level;
        uint32_t off = pool_alloc(w, slice_sizes[lvl]);
        if (off == UINT32_MAX) return NEWSIDX_ERR_NOMEM;
        nx_store_u32le(pool_at(w, s->wend), off);
        *level = lvl;
        s->wp = off;
        s->wend = off + slice_sizes[lvl];
    }
    *pool_at(w, s->wp++) = b;
    return 0;
}

static inline int stream_varint(newsidx_writer *w, wstream *s, uint8_t *level, uint64_t v) {
    if (NX_LIKELY(s->wend - s->wp >= 10)) { /* room for any varint: one page lookup */
        uint8_t *p = pool_at(w, s->wp);
        if (v < 0x80) {
            *p = (uint8_t)v;
            s->wp++;
        } else {
            /* inline: the library's encoder is a call per position */
            uint32_t n = 0;
            while (v >= 0x80) {
                p[n++] = (uint8_t)(v | 0x80);
                v >>= 7;
            }
            p[n++] = (uint8_t)v;
            s->wp += n;
        }
        return 0;
    }
    while (v >= 0x80) {
        NX_FORWARD(stream_put(w, s, level, (uint8_t)(v | 0x80)));
        v >>= 7;
    }
    return stream_put(w, s, level, (uint8_t)v);
}

/* A reader over a stream keeps raw pointers into the current slice (a
 * slice never crosses a page), so a byte costs a compare and a load. */
typedef struct rstream {
    const uint8_t *p, *end; /* current slice's data; end = its link */
    uint8_t level;
} rstream;

static void rstream_init(const newsidx_writer *w, rstream *r, const wstream *s) {
    r->p = pool_at(w, s->head);
    r->end = r->p + slice_sizes[0];
    r->level = 0;
}

static inline uint8_t rstream_get(const newsidx_writer *w, rstream *r) {
    if (NX_UNLIKELY(r->p == r->end)) {
        uint32_t next = nx_load_u32le(r->end);
        if (r->level + 1 < (int)N_SLICE_LEVELS) r->level++;
        r->p = pool_at(w, next);
        r->end = r->p + slice_sizes[r->level];
    }
    return *r->p++;
}

static inline uint64_t rstream_varint(const newsidx_writer *w, rstream *r) {
    /* most varints are one byte and most lie inside the slice: no slice
     * check per byte for them */
    if (NX_LIKELY(r->end - r->p >= 10)) {
        uint64_t v = *r->p++;
        if (NX_LIKELY(v < 0x80)) return v;
        v &= 0x7f;
        for (int shift = 7;; shift += 7) {
            uint8_t b = *r->p++;
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
    }
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t b = rstream_get(w, r);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
}

/* ---- memory accounting ------------------------------------------------------ */

static inline wterm *term_at(const newsidx_writer *w, uint32_t i) {
    return &w->term_chunks[i >> TERM_CHUNK_BITS][i & (TERM_CHUNK - 1)];
}

static size_t ram_used(const newsidx_writer *w) {
    return (size_t)w->n_pages * POOL_PAGE + (size_t)w->cap_terms * sizeof(wterm) +
           ((size_t)w->term_mask + 1) * 8 + w->keys.cap + w->ids.cap + w->srcs.cap +
           w->stored.cap + (size_t)w->cap_docs * sizeof(wdoc) + ((size_t)w->id_mask + 1) * 4;
}

static void buffer_free(newsidx_writer *w) {
    for (uint32_t i = 0; i < w->n_pages; i += SLAB_PAGES) slabs_free(w->pages[i], SLAB_BYTES);
    free(w->pages);
    w->pages = NULL;
    w->n_pages = w->page_used = 0;
    for (uint32_t i = 0; i < w->n_term_chunks; i++) slabs_free(w->term_chunks[i], SLAB_BYTES);
    free(w->term_chunks);
    w->term_chunks = NULL;
    w->n_term_chunks = 0;
    w->n_terms = w->cap_terms = 0;
    term_slots_free(w->term_slots, w->term_mask);
    w->term_slots = NULL;
    w->term_mask = 0;
    nx_buf_free(&w->keys);
    nx_buf_free(&w->ids);
    nx_buf_free(&w->srcs);
    nx_buf_free(&w->stored);
    free(w->docs);
    w->docs = NULL;
    w->n_docs = w->cap_docs = w->n_deleted = 0;
    free(w->id_slots);
    w->id_slots = NULL;
    w->id_mask = 0;
}

/* ---- terms ------------------------------------------------------------------ */

/* The hash of a key (field byte, term): the term hashed with the field as
 * the seed, so the tokenizer's bytes can be hashed before they are copied
 * behind the field byte (a load spanning several recent stores waits for
 * them to retire: that stall was a fifth of on_token). */
static inline uint64_t mul_fold64(uint64_t a, uint64_t b) {
    unsigned __int128 m = (unsigned __int128)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

/* Terms of at most 16 bytes (nearly all) take XXH3's short-input scheme
 * without its seed derivation and length dispatch: two overlapping loads,
 * one 128-bit multiply, an avalanche (a third fewer instructions per
 * token than the library call). The hash lives only in the RAM buffer. */
static inline uint64_t key_mix(int field, size_t len, uint64_t a, uint64_t b) {
    uint64_t h = mul_fold64(a ^ 0x9e3779b185ebca87ull ^ (uint64_t)field << 56,
                            b ^ 0xc2b2ae3d27d4eb4full ^ (uint64_t)len);
    h ^= h >> 37;
    h *= 0x165667919e3779f9ull;
    return h ^ (h >> 32);
}

static inline uint64_t key_hash(int field, const uint8_t *term, size_t len) {
    uint64_t a, b;
    if (len >= 8 && len <= 16) {
        a = nx_load_u64le(term);
        b = nx_load_u64le(term + len - 8);
    } else if (len >= 4 && len < 8) {
        a = nx_load_u32le(term);
        b = nx_load_u32le(term + len - 4);
    } else if (len >= 1 && len < 4) {
        a = (uint64_t)term[0] | (uint64_t)term[len >> 1] << 8 | (uint64_t)term[len - 1] << 16;
        b = 0;
    } else {
        return XXH3_64bits_withSeed(term, len, (uint64_t)field);
    }
    return key_mix(field, len, a, b);
}

static int term_table_grow(newsidx_writer *w) {
    uint32_t nmask = w->term_mask ? w->term_mask * 2 + 1 : 1023;
    size_t bytes = ((size_t)nmask + 1) * 8; /* a power of two */
    uint64_t *ns;
    if (bytes >= SLAB_BYTES) { /* huge pages for large tables, as the pool */
        ns = slabs_alloc(bytes); /* zeroed */
    } else {
        ns = calloc((size_t)nmask + 1, 8);
    }
    if (!ns) return NEWSIDX_ERR_NOMEM;
    for (uint32_t t = 0; t < w->n_terms; t++) {
        const wterm *e = term_at(w, t);
        const uint8_t *k = w->keys.data + e->key_off;
        uint64_t h = key_hash(k[0], k + 1, e->key_len - 1u);
        uint32_t i = (uint32_t)h & nmask;
        while (ns[i]) i = (i + 1) & nmask;
        ns[i] = (h >> 32) << 32 | (t + 1);
    }
    term_slots_free(w->term_slots, w->term_mask);
    w->term_slots = ns;
    w->term_mask = nmask;
    return 0;
}

static inline void prefetch_term(const wterm *t) { __builtin_prefetch(t); }


/* Tokens of one field are buffered (key bytes, hash, position) and then
 * added in a second loop that prefetches the hash slots and terms of the
 * tokens a few steps ahead: the term table is far larger than the caches,
 * and the misses, not the arithmetic, were the writer's main cost. */
typedef struct wtok {
    uint64_t hash;
    uint32_t key_off;
    uint32_t position;
    uint16_t key_len;
} wtok;

/* memcpy for terms, most of which are short: two overlapping word copies
 * instead of the string instruction (rep movs, slow to start) the compiler
 * picks for a copy of bounded but unknown length. */
static inline void copy_short(uint8_t *dst, const uint8_t *src, size_t len) {
    if (len >= 8 && len <= 16) {
        uint64_t a = nx_load_u64le(src), b = nx_load_u64le(src + len - 8);
        nx_store_u64le(dst, a);
        nx_store_u64le(dst + len - 8, b);
    } else if (len >= 4 && len < 8) {
        uint32_t a = nx_load_u32le(src), b = nx_load_u32le(src + len - 4);
        nx_store_u32le(dst, a);
        nx_store_u32le(dst + len - 4, b);
    } else if (len >= 2 && len < 4) {
        uint16_t a, b;
        memcpy(&a, src, 2);
        memcpy(&b, src + len - 2, 2);
        memcpy(dst, &a, 2);
        memcpy(dst + len - 2, &b, 2);
    } else if (len == 1) {
        dst[0] = src[0];
    } else {
        memcpy(dst, src, len);
    }
}

/* Keys of equal length len >= 1, without a libc call and without a byte
 * loop: a key of at most 8 bytes is compared as one masked word, which
 * reads up to 7 bytes past its end: both key buffers (w->keys, w->s_key)
 * keep KEY_SLACK bytes of capacity behind their last key for that. */
#define KEY_SLACK 8
static inline bool key_eq(const uint8_t *a, const uint8_t *b, size_t len) {
    if (len <= 8) return ((nx_load_u64le(a) ^ nx_load_u64le(b)) << (64 - 8 * len)) == 0;
    if (len <= 16)
        return nx_load_u64le(a) == nx_load_u64le(b) &&
               nx_load_u64le(a + len - 8) == nx_load_u64le(b + len - 8);
    return memcmp(a, b, len) == 0;
}

/* Room for one more token of len term bytes. */
static __attribute__((noinline)) int on_token_reserve(newsidx_writer *w, size_t len) {
    if (w->n_tok == w->cap_tok) {
        uint32_t nc = w->cap_tok ? w->cap_tok * 2 : 1024;
        wtok *nt = realloc(w->toks, sizeof *nt * nc);
        if (!nt) return NEWSIDX_ERR_NOMEM;
        w->toks = nt;
        w->cap_tok = nc;
    }
    return nx_buf_reserve(&w->s_key, len + 1 + KEY_SLACK);
}

static int on_token(void *ctx, const newsidx_token *tok) {
    newsidx_writer *w = ctx;
    size_t len = tok->term_len;
    if (len > NEWSIDX_MAX_TERM_BYTES + 7) len = NEWSIDX_MAX_TERM_BYTES + 7;
    if (NX_UNLIKELY(w->n_tok == w->cap_tok || w->s_key.cap - w->s_key.len < len + 1 + KEY_SLACK))
        NX_FORWARD(on_token_reserve(w, len));
    uint8_t *key = w->s_key.data + w->s_key.len;
    const uint8_t *term = (const uint8_t *)tok->term;
    int field = w->cur_field;
    key[0] = (uint8_t)field;
    uint64_t h;
    /* the words the hash reads are the words the copy writes */
    if (len >= 8 && len <= 16) {
        uint64_t a = nx_load_u64le(term), b = nx_load_u64le(term + len - 8);
        nx_store_u64le(key + 1, a);
        nx_store_u64le(key + 1 + len - 8, b);
        h = key_mix(field, len, a, b);
    } else if (len >= 4 && len < 8) {
        uint32_t a = nx_load_u32le(term), b = nx_load_u32le(term + len - 4);
        nx_store_u32le(key + 1, a);
        nx_store_u32le(key + 1 + len - 4, b);
        h = key_mix(field, len, a, b);
    } else {
        copy_short(key + 1, term, len);
        h = key_hash(field, term, len);
    }
    wtok *t = &w->toks[w->n_tok++];
    t->hash = h;
    t->key_off = (uint32_t)w->s_key.len;
    t->key_len = (uint16_t)(len + 1);
    t->position = tok->position;
    w->s_key.len += len + 1;
    return 0;
}

#if defined(__SSE2__)
/* The writer's analysis loop for an analyzer without stopwords and
 * stemmer (the default): plain words (nx_plain_word16, most of them) are
 * folded straight into the key buffer and added as on_token would, without
 * a callback per token; everything else goes through the analyzer's own
 * step, in order, so terms and positions are those of newsidx_analyze. */
static int analyze_plain(newsidx_writer *w, const char *text, size_t len) {
    const uint8_t *base = (const uint8_t *)text;
    const uint8_t field = (uint8_t)w->cur_field;
    size_t off = 0;
    uint32_t pos = 0;
    while (off < len) {
        uint8_t c = base[off];
        if (c < 0x80) {
            if (!nx_ascii_alnum(c)) {
                off++;
                continue;
            }
            if (len - off >= 16) {
                if (NX_UNLIKELY(w->n_tok == w->cap_tok || w->s_key.cap - w->s_key.len < 17 + KEY_SLACK))
                    NX_FORWARD(on_token_reserve(w, 16));
                uint8_t *key = w->s_key.data + w->s_key.len;
                unsigned run = nx_plain_word16(base + off, key + 1);
                if (run) {
                    key[0] = field;
                    uint64_t h;
                    if (run >= 8) {
                        h = key_mix(field, run, nx_load_u64le(key + 1), nx_load_u64le(key + 1 + run - 8));
                    } else if (run >= 4) {
                        h = key_mix(field, run, nx_load_u32le(key + 1), nx_load_u32le(key + 1 + run - 4));
                    } else {
                        h = key_hash(field, key + 1, run);
                    }
                    wtok *t = &w->toks[w->n_tok++];
                    t->hash = h;
                    t->key_off = (uint32_t)w->s_key.len;
                    t->key_len = (uint16_t)(run + 1);
                    t->position = pos;
                    w->s_key.len += run + 1;
                    pos = nx_next_pos(pos);
                    off += run;
                    continue;
                }
            }
        }
        NX_FORWARD(nx_analyze_step(w->an, text, len, &off, &pos, on_token, w));
    }
    return 0;
}
#endif

static int add_token(newsidx_writer *w, const uint8_t *key, size_t len, uint64_t h,
                     uint32_t position) {
    uint32_t i = (uint32_t)h & w->term_mask;
    wterm *t = NULL;
    /* key bytes past len are readable (KEY_SLACK) */
    uint64_t key8 = nx_load_u64le(key), key16 = 0;
    if (len < 8) {
        key8 &= ((uint64_t)1 << (8 * len)) - 1;
    } else if (len > 8) {
        key16 = nx_load_u64le(key + 8);
        if (len < 16) key16 &= ((uint64_t)1 << (8 * (len - 8))) - 1;
    }
    /* the slot keeps the hash's high half: a probe touches the term only
     * when those 32 bits agree, and the key buffer only for keys longer
     * than 16 bytes */
    for (;; i = (i + 1) & w->term_mask) {
        uint64_t s = w->term_slots[i];
        if (!s) break;
        if ((s >> 32) != (h >> 32)) continue;
        wterm *e = term_at(w, (uint32_t)s - 1);
        if (e->key8[0] == key8 && e->key8[1] == key16 && e->key_len == len &&
            (len <= 16 || key_eq(w->keys.data + e->key_off + 16, key + 16, len - 16))) {
            t = e;
            break;
        }
    }
    if (!t) {
        if (w->n_terms == w->n_term_chunks * TERM_CHUNK) {
            if ((w->n_term_chunks & (w->n_term_chunks - 1)) == 0) { /* doubles at powers of two */
                wterm **nc = realloc(w->term_chunks,
                                     sizeof *nc * (w->n_term_chunks ? w->n_term_chunks * 2 : 1));
                if (!nc) return NEWSIDX_ERR_NOMEM;
                w->term_chunks = nc;
            }
            wterm *chunk = slab_alloc();
            if (!chunk) return NEWSIDX_ERR_NOMEM;
            w->term_chunks[w->n_term_chunks++] = chunk;
        }
        /* accounted as the doubling array the chunks replaced (512
         * entries first), so that flushes happen where they did */
        if (w->n_terms == w->cap_terms) w->cap_terms = w->cap_terms ? w->cap_terms * 2 : 512;
        t = term_at(w, w->n_terms);
        memset(t, 0, sizeof *t);
        t->key8[0] = key8;
        t->key8[1] = key16;
        t->key_off = (uint32_t)w->keys.len;
        t->key_len = (uint16_t)len;
        t->doc = UINT32_MAX;
        NX_FORWARD(nx_buf_reserve(&w->keys, len + KEY_SLACK));
        NX_FORWARD(nx_buf_append(&w->keys, key, len));
        NX_FORWARD(stream_init(w, &t->os, &t->level));
        w->term_slots[i] = (h >> 32) << 32 | ++w->n_terms;
    }
    if (t->doc != w->cur_doc) {
        /* first occurrence in this doc; the delta from UINT32_MAX for a
         * term's first doc is doc + 1 (mod 2^32) */
        uint32_t delta = w->cur_doc - t->doc;
        t->doc = w->cur_doc;
        t->last_pos = position;
        NX_FORWARD(stream_varint(w, &t->os, &t->level, (uint64_t)position << 1 | 1));
        return stream_varint(w, &t->os, &t->level, delta);
    }
    uint32_t pos = position < t->last_pos ? t->last_pos : position;
    NX_FORWARD(stream_varint(w, &t->os, &t->level, (uint64_t)(pos - t->last_pos) << 1));
    t->last_pos = pos;
    return 0;
}

#define PREFETCH_SLOTS 16 /* tokens ahead whose hash slot is fetched */
#define PREFETCH_TERMS 8  /* tokens ahead whose term entry is fetched */

/* Adds the buffered tokens of the current field. */
static int add_tokens(newsidx_writer *w) {
    uint32_t n = w->n_tok;
    /* grow first, so no address prefetched below moves */
    while ((w->n_terms + n + 1) * 2 > w->term_mask) NX_FORWARD(term_table_grow(w));
    const wtok *tk = w->toks;
    for (uint32_t j = 0; j < n && j < PREFETCH_SLOTS; j++)
        __builtin_prefetch(&w->term_slots[(uint32_t)tk[j].hash & w->term_mask]);
    for (uint32_t j = 0; j < n; j++) {
        if (j + PREFETCH_SLOTS < n)
            __builtin_prefetch(&w->term_slots[(uint32_t)tk[j + PREFETCH_SLOTS].hash & w->term_mask]);
        if (j + PREFETCH_TERMS < n) {
            uint64_t s = w->term_slots[(uint32_t)tk[j + PREFETCH_TERMS].hash & w->term_mask];
            if (s) prefetch_term(term_at(w, (uint32_t)s - 1));
        }
        NX_FORWARD(add_token(w, w->s_key.data + tk[j].key_off, tk[j].key_len, tk[j].hash,
                             tk[j].position));
    }
    w->cur_len += n;
    w->n_tok = 0;
    w->s_key.len = 0;
    return 0;
}

/* ---- ids -------------------------------------------------------------------- */

static int id_table_grow(newsidx_writer *w) {
    uint32_t nmask = w->id_mask ? w->id_mask * 2 + 1 : 255;
    uint32_t *ns = calloc((size_t)nmask + 1, 4);
    if (!ns) return NEWSIDX_ERR_NOMEM;
    for (uint32_t d = 0; d < w->n_docs; d++) {
        if (w->docs[d].deleted) continue;
        uint32_t i = (uint32_t)w->docs[d].id_hash & nmask;
        while (ns[i]) i = (i + 1) & nmask;
        ns[i] = d + 1;
    }
    free(w->id_slots);
    w->id_slots = ns;
    w->id_mask = nmask;
    return 0;
}

/* Marks every earlier article with this id deleted (RAM buffer and
 * segments). Returns 1 if one was found. */
static int replace_id(newsidx_writer *w, const char *id, size_t len, uint64_t h) {
    int found = 0;
    if (w->id_slots) {
        for (uint32_t i = (uint32_t)h & w->id_mask; w->id_slots[i]; i = (i + 1) & w->id_mask) {
            uint32_t d = w->id_slots[i] - 1;
            wdoc *e = &w->docs[d];
            if (!e->deleted && e->id_hash == h && e->id_len == len &&
                memcmp(w->ids.data + e->id_off, id, len) == 0) {
                e->deleted = 1;
                w->n_deleted++;
                found = 1;
            }
        }
    }
    for (uint32_t s = 0; s < w->n_segs; s++) {
        wseg *ws = &w->segs[s];
        uint32_t doc = nx_segment_find_id(ws->seg, id, len);
        if (doc == NX_NO_DOC) continue;
        uint32_t n = nx_segment_doc_count(ws->seg);
        if (!ws->del) {
            ws->del = calloc(((size_t)n + 7) / 8 + 1, 1);
            if (!ws->del) return NEWSIDX_ERR_NOMEM;
        }
        if (ws->del[doc >> 3] & (1u << (doc & 7))) continue;
        ws->del[doc >> 3] |= (uint8_t)(1u << (doc & 7));
        ws->n_del++;
        ws->del_dirty = true;
        found = 1;
    }
    return found;
}

/* ---- add -------------------------------------------------------------------- */

static int flush_buffer(newsidx_writer *w);

int newsidx_writer_add(newsidx_writer *w, const newsidx_field *fields, size_t n_fields,
                       unsigned *warnings) {
    unsigned warn = 0;
    if (warnings) *warnings = 0;
    if (!w || (!fields && n_fields)) return NEWSIDX_ERR_INVALID;
    if (w->failed) return w->failed;
    const newsidx_field *idf = NULL, *datef = NULL, *srcf = NULL, *indexed[NX_N_FIELDS] = {0};
    for (size_t i = 0; i < n_fields; i++) {
        const newsidx_field *f = &fields[i];
        NX_RETURN_IF(!f->name || (!f->value && f->value_len), &w->err, NEWSIDX_ERR_INVALID,
                     "field %zu has no name or no value", i);
        int fi = nx_field_from_name(f->name, strlen(f->name));
        if (fi == NX_F_ID) {
            if (!idf) idf = f;
        } else if (fi == NX_F_DATE) {
            if (!datef) datef = f;
        } else if (fi >= 0 && fi < NX_N_FIELDS) {
            /* the first of each, but "body" replaces a body taken before it */
            if (!indexed[fi] || fi == NX_F_BODY) indexed[fi] = f;
        } else if (nx_field_is_body_alias(f->name)) {
            if (!indexed[NX_F_BODY]) indexed[NX_F_BODY] = f;
        }
    }
    srcf = indexed[NX_F_SOURCE];
    /* id */
    char derived[17];
    const char *id;
    size_t id_len;
    if (idf && idf->value_len > 0) {
        id = idf->value;
        id_len = idf->value_len;
    } else {
        /* XXH3-64 over the fields' names and values, in order: the same
         * article always derives the same id. */
        nx_buf tmp = {0};
        int e = 0;
        for (size_t i = 0; i < n_fields; i++) {
            if (&fields[i] == idf) continue;
            e |= nx_buf_append(&tmp, fields[i].name, strlen(fields[i].name) + 1);
            e |= nx_buf_put_u64le(&tmp, fields[i].value_len);
            e |= nx_buf_append(&tmp, fields[i].value, fields[i].value_len);
        }
        uint64_t h = nx_hash64(tmp.data ? tmp.data : (const uint8_t *)"", tmp.len);
        nx_buf_free(&tmp);
        if (e) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        snprintf(derived, sizeof derived, "%016llx", (unsigned long long)h);
        id = derived;
        id_len = 16;
        warn |= NEWSIDX_WARN_ID_DERIVED;
    }
    uint64_t id_hash = nx_hash64(id, id_len);
    int rep = replace_id(w, id, id_len, id_hash);
    if (rep < 0) return nx_err_set(&w->err, rep, "out of memory");
    if (rep) warn |= NEWSIDX_WARN_REPLACED;
    /* date */
    int64_t date = NX_NO_DATE;
    if (datef && datef->value_len > 0 &&
        newsidx_parse_date(datef->value, datef->value_len, &date) != 0) {
        date = NX_NO_DATE;
        warn |= NEWSIDX_WARN_DATE_UNPARSED;
    }
    if (!indexed[NX_F_BODY] || indexed[NX_F_BODY]->value_len == 0) warn |= NEWSIDX_WARN_EMPTY_BODY;
    /* doc slot */
    if (w->n_docs == w->cap_docs) {
        uint32_t nc = w->cap_docs ? w->cap_docs * 2 : 128;
        wdoc *nd = realloc(w->docs, sizeof *nd * nc);
        if (!nd) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        w->docs = nd;
        w->cap_docs = nc;
    }
    if ((w->n_docs + 1) * 2 > w->id_mask && id_table_grow(w))
        return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    uint32_t d = w->n_docs;
    wdoc *doc = &w->docs[d];
    memset(doc, 0, sizeof *doc);
    doc->date = date;
    doc->id_hash = id_hash;
    doc->id_off = (uint32_t)w->ids.len;
    doc->id_len = (uint32_t)id_len;
    doc->src_off = (uint32_t)w->srcs.len;
    size_t max = w->opts.max_field_bytes;
    int rc = nx_buf_append(&w->ids, id, id_len);
    if (rc == 0 && srcf) {
        doc->src_len = (uint32_t)nx_utf8_cut(srcf->value, srcf->value_len, NX_MIN(max, 65535));
        rc = nx_buf_append(&w->srcs, srcf->value, doc->src_len);
    }
    /* stored fields: the id first, then every field but the id, cut like
     * the indexed text (so stored text and indexed offsets agree). */
    doc->stored_off = w->stored.len;
    if (rc == 0 && w->opts.store_fields) {
        size_t n_store = 1;
        for (size_t i = 0; i < n_fields; i++)
            if (&fields[i] != idf) n_store++;
        newsidx_field one = {nx_field_name(NX_F_ID), id, id_len};
        rc = nx_buf_put_varint(&w->stored, n_store);
        for (size_t i = 0; i < n_fields + 1 && rc == 0; i++) {
            const newsidx_field *f = i == 0 ? &one : &fields[i - 1];
            if (i > 0 && f == idf) continue;
            size_t vl = nx_utf8_cut(f->value, f->value_len, max);
            if (vl < f->value_len) warn |= NEWSIDX_WARN_FIELD_CUT;
            size_t nl = strlen(f->name);
            rc = nx_buf_put_varint(&w->stored, nl);
            if (rc == 0) rc = nx_buf_append(&w->stored, f->name, nl);
            if (rc == 0) rc = nx_buf_put_varint(&w->stored, vl);
            if (rc == 0) rc = nx_buf_append(&w->stored, f->value, vl);
        }
    }
    if (rc) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    doc->stored_len = (uint32_t)(w->stored.len - doc->stored_off);
    /* analysis */
    w->cur_doc = d;
    for (int f = 0; f < NX_N_FIELDS; f++) {
        const newsidx_field *fl = indexed[f];
        if (!fl || fl->value_len == 0) continue;
        size_t vl = nx_utf8_cut(fl->value, fl->value_len, max);
        if (vl < fl->value_len) warn |= NEWSIDX_WARN_FIELD_CUT;
        w->cur_field = f;
        w->cur_len = 0;
        w->n_tok = 0;
        w->s_key.len = 0;
#if defined(__SSE2__)
        if (nx_analyzer_plain(w->an))
            rc = analyze_plain(w, fl->value, vl);
        else
#endif
            rc = newsidx_analyze(w->an, fl->value, vl, on_token, w);
        if (rc == 0) rc = add_tokens(w);
        if (rc) {
            /* The buffer may hold half of this doc's postings: not
             * recoverable, so the writer stops accepting articles. */
            w->failed = rc;
            return nx_err_set(&w->err, rc, "out of memory while indexing");
        }
        doc->field_len[f] = w->cur_len;
        doc->text_bytes += (uint32_t)NX_MIN(vl, UINT32_MAX - doc->text_bytes);
    }
    w->n_docs++;
    {
        uint32_t i = (uint32_t)id_hash & w->id_mask;
        while (w->id_slots[i]) i = (i + 1) & w->id_mask;
        w->id_slots[i] = d + 1;
    }
    if (warnings) *warnings = warn;
    if (ram_used(w) >= w->opts.ram_budget_bytes || w->n_pages + 64 >= MAX_POOL_PAGES ||
        w->n_docs >= NX_MAX_SEGMENT_DOCS || w->stored.len >= ((size_t)1 << 40)) {
        rc = flush_buffer(w);
        if (rc) {
            w->failed = rc;
            return rc;
        }
    }
    return 0;
}

/* ---- flush ------------------------------------------------------------------ */

static int cmp_doc_date(const void *a, const void *b, void *ctx) {
    const wdoc *docs = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (docs[x].date != docs[y].date) return docs[x].date < docs[y].date ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Terms sort by key; a sort entry carries the key's first 8 bytes as a
 * big-endian number so most comparisons never touch the keys. */
typedef struct term_sort {
    uint64_t prefix;
    uint32_t term;
} term_sort;

static int cmp_term_key(const void *a, const void *b, void *ctx) {
    const newsidx_writer *w = ctx;
    const term_sort *ta = a, *tb = b;
    if (ta->prefix != tb->prefix) return ta->prefix < tb->prefix ? -1 : 1;
    const wterm *x = term_at(w, ta->term), *y = term_at(w, tb->term);
    size_t n = NX_MIN(x->key_len, y->key_len);
    int c = memcmp(w->keys.data + x->key_off, w->keys.data + y->key_off, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* entries sort: s_ent holds (newdoc, index) pairs flattened */
static int cmp_pair(const void *a, const void *b) {
    const uint32_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

static int scratch_reserve(newsidx_writer *w, size_t n, size_t npos) {
    if (n > w->s_cap) {
        size_t c = NX_MAX(n, w->s_cap * 2);
        uint32_t *a = realloc(w->s_docs, c * 4), *b = a ? realloc(w->s_freqs, c * 4) : NULL;
        if (a) w->s_docs = a;
        if (b) w->s_freqs = b;
        uint32_t *e = b ? realloc(w->s_ent, c * 20) : NULL;
        if (e) w->s_ent = e;
        if (!a || !b || !e) return NEWSIDX_ERR_NOMEM;
        w->s_cap = c;
    }
    if (npos > w->s_pos_cap) {
        size_t c = NX_MAX(npos, w->s_pos_cap * 2);
        uint32_t *a = realloc(w->s_pos, c * 4), *b = a ? realloc(w->s_pos2, c * 4) : NULL;
        if (a) w->s_pos = a;
        if (b) w->s_pos2 = b;
        if (!a || !b) return NEWSIDX_ERR_NOMEM;
        w->s_pos_cap = c;
    }
    return 0;
}

static int wsegs_push(newsidx_writer *w, nx_segment *seg) {
    if (w->n_segs == w->cap_segs) {
        uint32_t nc = w->cap_segs ? w->cap_segs * 2 : 16;
        wseg *ns = realloc(w->segs, sizeof *ns * nc);
        if (!ns) return NEWSIDX_ERR_NOMEM;
        w->segs = ns;
        w->cap_segs = nc;
    }
    wseg *ws = &w->segs[w->n_segs++];
    memset(ws, 0, sizeof *ws);
    ws->seg = seg;
    return 0;
}

/* Sorts terms by key: LSD radix sort on the 8-byte prefix (passes whose
 * byte is the same for every term are skipped), then runs of equal
 * prefix by the full key. qsort with the key compare cost more than the
 * rest of the sort put together. Returns NOMEM when no scratch could be
 * had (order untouched). */
static int sort_terms(const newsidx_writer *w, term_sort *order, uint32_t n) {
    if (n < 2) return 0;
    term_sort *tmp = malloc(sizeof *tmp * n);
    if (!tmp) return NEWSIDX_ERR_NOMEM;
    term_sort *src = order, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        uint32_t cnt[256] = {0};
        for (uint32_t i = 0; i < n; i++) cnt[(src[i].prefix >> shift) & 0xff]++;
        if (cnt[(src[0].prefix >> shift) & 0xff] == n) continue; /* one bucket */
        uint32_t sum = 0;
        for (int d = 0; d < 256; d++) {
            uint32_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) dst[cnt[(src[i].prefix >> shift) & 0xff]++] = src[i];
        term_sort *x = src;
        src = dst;
        dst = x;
    }
    if (src != order) memcpy(order, src, sizeof *order * n);
    free(tmp);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && order[j].prefix == order[i].prefix) j++;
        if (j - i > 1) qsort_r(order + i, j - i, sizeof *order, cmp_term_key, (void *)w);
        i = j;
    }
    return 0;
}

static int flush_terms(newsidx_writer *w, nx_segbuild *b, const uint32_t *newid) {
    term_sort *order = malloc(sizeof *order * (w->n_terms + 1));
    if (!order) return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    for (uint32_t t = 0; t < w->n_terms; t++) {
        /* the first 8 key bytes, zero padded, as a big-endian number */
        order[t].prefix = __builtin_bswap64(term_at(w, t)->key8[0]);
        order[t].term = t;
    }
    /* a term has at most one doc entry per buffered doc */
    if (scratch_reserve(w, w->n_docs, 0)) {
        free(order);
        return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    if (sort_terms(w, order, w->n_terms))
        qsort_r(order, w->n_terms, sizeof *order, cmp_term_key, w); /* no memory: slower */
    int rc = 0;
    for (uint32_t k = 0; k < w->n_terms && rc == 0; k++) {
        /* sorted order visits terms and their slices at random: fetch
         * the term entries 8 ahead and their first slices 4 ahead */
        if (k + 8 < w->n_terms) prefetch_term(term_at(w, order[k + 8].term));
        if (k + 4 < w->n_terms) {
            const wterm *a = term_at(w, order[k + 4].term);
            __builtin_prefetch(pool_at(w, a->os.head));
            if (a->key_len > 16) __builtin_prefetch(w->keys.data + a->key_off);
        }
        wterm *t = term_at(w, order[k].term);
        /* behind the 4 u32 per entry of the unsorted case (s_cap does not
         * change during the flush: reserved for every doc above) */
        uint32_t *starts = w->s_ent + 4 * w->s_cap;
        rstream os;
        rstream_init(w, &os, &t->os);
        /* the stream ends at its write pointer (a full last slice: at that
         * slice's end, where the reader stops before the link) */
        const uint8_t *os_end = pool_at(w, t->os.wp);
        uint32_t doc = UINT32_MAX, nd = UINT32_MAX, n = 0, p = 0;
        size_t np = 0, start = 0;
        bool sorted = true;
        uint32_t prev_new = 0;
        /* per entry: s_docs = new doc, s_freqs = freq, starts = start of
         * its positions in s_pos2. An entry is recorded when the next one
         * starts (and after the loop); positions of replaced articles are
         * dropped. */
        while (os.p != os_end) {
            uint64_t v = rstream_varint(w, &os);
            if (v & 1) {
                if (nd != UINT32_MAX) {
                    if (n > 0 && nd < prev_new) sorted = false;
                    prev_new = nd;
                    w->s_docs[n] = nd;
                    w->s_freqs[n] = (uint32_t)(np - start);
                    starts[n] = (uint32_t)start;
                    n++;
                } else {
                    np = start;
                }
                doc += (uint32_t)rstream_varint(w, &os);
                nd = newid[doc];
                start = np;
                p = 0;
            }
            p += (uint32_t)(v >> 1);
            if (NX_UNLIKELY(np == w->s_pos_cap) && scratch_reserve(w, 0, np + 1)) {
                rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
                break;
            }
            w->s_pos2[np++] = p;
        }
        if (nd != UINT32_MAX) {
            if (n > 0 && nd < prev_new) sorted = false;
            w->s_docs[n] = nd;
            w->s_freqs[n] = (uint32_t)(np - start);
            starts[n] = (uint32_t)start;
            n++;
        }
        if (rc || n == 0) continue;
        const uint32_t *docs_out = w->s_docs, *freqs_out = w->s_freqs, *pos = w->s_pos2;
        if (!sorted) {
            /* The date remap reordered this term's docs: sort (new doc,
             * entry) pairs and gather freqs and positions behind them. */
            uint32_t *pairs = w->s_ent, *of = w->s_ent + 2 * (size_t)n, *od = of + n;
            for (uint32_t i = 0; i < n; i++) {
                pairs[2 * i] = w->s_docs[i];
                pairs[2 * i + 1] = i;
            }
            qsort(pairs, n, 8, cmp_pair);
            size_t q = 0;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t e = pairs[2 * i + 1];
                od[i] = pairs[2 * i];
                of[i] = w->s_freqs[e];
                memcpy(w->s_pos + q, w->s_pos2 + starts[e], sizeof(uint32_t) * of[i]);
                q += of[i];
            }
            docs_out = od;
            freqs_out = of;
            pos = w->s_pos;
        }
        /* keys of at most 16 bytes from the entry: no look at w->keys */
        uint8_t short_key[16];
        const uint8_t *key = short_key;
        if (t->key_len <= 16) {
            nx_store_u64le(short_key, t->key8[0]);
            nx_store_u64le(short_key + 8, t->key8[1]);
        } else {
            key = w->keys.data + t->key_off;
        }
        rc = nx_segbuild_term(b, key[0], key + 1, t->key_len - 1u, n, docs_out, freqs_out, pos);
    }
    free(order);
    return rc;
}

static int flush_buffer(newsidx_writer *w) {
    if (w->n_docs == 0) return 0;
    uint32_t n_live = w->n_docs - w->n_deleted;
    if (n_live == 0) {
        buffer_free(w);
        return 0;
    }
    uint32_t *order = malloc(sizeof(uint32_t) * w->n_docs);
    uint32_t *newid = malloc(sizeof(uint32_t) * w->n_docs);
    if (!order || !newid) {
        free(order);
        free(newid);
        return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    uint32_t k = 0;
    for (uint32_t d = 0; d < w->n_docs; d++) {
        newid[d] = UINT32_MAX;
        if (!w->docs[d].deleted) order[k++] = d;
    }
    /* Date order, undated (INT64_MIN) first, ties by insertion order. */
    qsort_r(order, n_live, sizeof *order, cmp_doc_date, w->docs);
    for (uint32_t i = 0; i < n_live; i++) newid[order[i]] = i;

    uint32_t seg_no = w->next_seg_no++;
    nx_segbuild *b;
    int rc = nx_segbuild_create(w->dir, seg_no, n_live, &w->sb, &w->err, &b);
    if (rc == 0) {
        for (int f = 0; f < NX_N_FIELDS; f++) {
            uint8_t *nm = nx_segbuild_norms(b, f);
            for (uint32_t i = 0; i < n_live; i++) nm[i] = nx_norm_encode(w->docs[order[i]].field_len[f]);
        }
        for (uint32_t i = 0; i < n_live && rc == 0; i++) {
            const wdoc *d = &w->docs[order[i]];
            const newsidx_field *fields = NULL;
            size_t nf = 0;
            if (w->sb.store_fields &&
                nx_fields_parse(w->stored.data + d->stored_off, d->stored_len, &w->s_fields,
                                &fields, &nf)) {
                rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
                break;
            }
            rc = nx_segbuild_doc(b, d->date, (const char *)w->ids.data + d->id_off, d->id_len,
                                 (const char *)w->srcs.data + d->src_off, d->src_len,
                                 d->text_bytes, fields, nf);
        }
        if (rc == 0) rc = flush_terms(w, b, newid);
        if (rc == 0) {
            rc = nx_segbuild_finish(b);
        } else {
            nx_segbuild_abort(b);
        }
    }
    free(order);
    free(newid);
    if (rc) return rc;
    nx_segment *seg;
    rc = nx_segment_open(w->dir, seg_no, 0, &w->err, &seg);
    if (rc) return rc;
    if (wsegs_push(w, seg)) {
        nx_segment_close(seg);
        return nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    buffer_free(w);
    return 0;
}

/* ---- open / commit / close ------------------------------------------------ */

/* A writer that created its directory and never committed leaves nothing
 * behind: its uncommitted segment files, the LOCK and the directory go. */
static void remove_created_dir(newsidx_writer *w) {
    nx_manifest none = {0};
    nx_remove_unreferenced(w->dir, &none);
    char *lp = nx_path_join(w->dir, "LOCK");
    if (lp) unlink(lp);
    free(lp);
    rmdir(w->dir); /* fails, harmlessly, if someone else put a file there */
}

void newsidx_writer_close(newsidx_writer *w) {
    if (!w) return;
    if (w->created_dir && w->generation == 0 && w->dir) remove_created_dir(w);
    buffer_free(w);
    for (uint32_t i = 0; i < w->n_segs; i++) {
        nx_segment_close(w->segs[i].seg);
        free(w->segs[i].del);
    }
    free(w->segs);
    newsidx_analyzer_free(w->an);
    free(w->s_docs);
    free(w->s_freqs);
    free(w->s_pos);
    free(w->s_pos2);
    free(w->s_ent);
    nx_buf_free(&w->s_fields);
    nx_buf_free(&w->s_key);
    free(w->toks);
    if (w->lock_fd >= 0) close(w->lock_fd); /* releases the flock */
    free(w->stem);
    free(w->stop);
    free(w->dir);
    free(w);
}

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Appending keeps the analyzer the index was built with; a setting the
 * caller names explicitly must be that one, or the call is refused (an
 * index has one analyzer: queries analyze like the index did). */
static int check_same_analyzer(const char *dir, const nx_manifest *m,
                               const newsidx_writer_options *o, nx_err *err) {
    const char *have[2] = {m->stem_language, m->stopwords_language};
    const char *want[2] = {o->stem_language, o->stopwords_language};
    static const char *const what[2] = {"stemming", "stopwords"};
    for (int i = 0; i < 2; i++) {
        if (!want[i]) continue;
        const char *h = have[i] && have[i][0] ? have[i] : "none";
        const char *x = want[i][0] ? want[i] : "none";
        if (strcasecmp(h, x) != 0)
            return nx_err_set(err, NEWSIDX_ERR_INVALID,
                              "%s was built with %s '%s', not '%s': an index keeps the analyzer "
                              "it was built with (leave the option out to append, or build a "
                              "new index)",
                              dir, what[i], h, x);
    }
    return 0;
}

int newsidx_writer_open(const char *dir, const newsidx_writer_options *opts, char *errbuf,
                        size_t errbuf_size, newsidx_writer **out) {
    nx_err err = {0};
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!out) {
        nx_err_set(&err, NEWSIDX_ERR_INVALID, "newsidx_writer_open: no out-parameter");
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    *out = NULL;
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    if (opts && nx_options_copy(&o, sizeof o, opts, "writer", &err)) {
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    if (!dir) {
        nx_err_set(&err, NEWSIDX_ERR_INVALID, "no index directory");
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    if (o.ram_budget_bytes == 0) o.ram_budget_bytes = (size_t)256 << 20;
    if (o.ram_budget_bytes > MAX_RAM_BUDGET) o.ram_budget_bytes = MAX_RAM_BUDGET;
    if (o.merge_factor < 2) o.merge_factor = 10;
    if (o.max_field_bytes == 0) o.max_field_bytes = 16u << 20;
    if (o.doc_store_block_bytes == 0) o.doc_store_block_bytes = NX_DOCSTORE_DEFAULT_BLOCK_BYTES;
    if (o.doc_store_level == 0) o.doc_store_level = 9;

    newsidx_writer *w = calloc(1, sizeof *w);
    if (!w) {
        nx_err_set(&err, NEWSIDX_ERR_NOMEM, "out of memory");
        nx_err_copy(&err, errbuf, errbuf_size);
        return err.code;
    }
    w->lock_fd = -1;
    w->opts = o;
    w->opts.stem_language = w->opts.stopwords_language = NULL;
    w->dir = strdup(dir);
    int rc = 0;
    nx_manifest m = {0};
    if (!w->dir) rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc == 0 && o.append) {
        struct stat dst;
        if (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))
            rc = nx_err_set(&w->err, NEWSIDX_ERR_NOT_FOUND, "%s: no index to append to", dir);
    }
    if (rc == 0 && !o.append) {
        if (mkdir(dir, 0755) == 0) w->created_dir = true;
        else if (errno != EEXIST)
            rc = nx_err_set(&w->err, NEWSIDX_ERR_IO, "%s: cannot create directory: %s", dir,
                            strerror(errno));
    }
    if (rc == 0) {
        char *lp = nx_path_join(dir, "LOCK");
        if (!lp) rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
        else {
            w->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
            if (w->lock_fd < 0)
                rc = nx_err_set(&w->err, NEWSIDX_ERR_IO, "%s: cannot open: %s", lp, strerror(errno));
            else if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0)
                rc = nx_err_set(&w->err, errno == EWOULDBLOCK ? NEWSIDX_ERR_LOCKED : NEWSIDX_ERR_IO,
                                "%s: another writer has the index open (lock %s held)", dir, lp);
            free(lp);
        }
    }
    uint64_t gen = 0;
    if (rc == 0) rc = nx_manifest_latest(dir, &w->err, &gen);
    if (rc == 0 && gen) rc = nx_manifest_read(dir, gen, &w->err, &m);
    if (rc == 0 && o.append && !gen)
        rc = nx_err_set(&w->err, NEWSIDX_ERR_NOT_FOUND, "%s: no index to append to", dir);
    if (rc == 0 && o.append)
        rc = check_same_analyzer(dir, &m, &o, &w->err);
    if (rc == 0) {
        w->generation = gen;
        w->next_seg_no = gen ? m.next_seg_no : 1;
        /* Appending keeps the analyzer the index was built with, whatever
         * the options say: queries must analyze like the index did. */
        const char *stem = o.append ? m.stem_language : o.stem_language;
        const char *stop = o.append ? m.stopwords_language : o.stopwords_language;
        w->stem = dup_or_null(stem);
        w->stop = dup_or_null(stop);
        newsidx_analyzer_options ao;
        newsidx_analyzer_options_init(&ao);
        ao.stem_language = w->stem;
        ao.stopwords_language = w->stop;
        rc = newsidx_analyzer_create(&ao, &w->an);
        if (rc) rc = nx_err_set(&w->err, rc, "cannot create the analyzer (stem '%s', stopwords '%s')",
                                stem ? stem : "", stop ? stop : "");
    }
    if (rc == 0 && gen) {
        /* Leftovers of an interrupted writer (uncommitted segments, temp
         * manifests) are garbage: remove them. */
        nx_remove_unreferenced(dir, &m);
    }
    if (rc == 0 && o.append) {
        for (uint32_t i = 0; i < m.n_segments && rc == 0; i++) {
            nx_segment *seg;
            rc = nx_segment_open(dir, m.segments[i].seg_no, m.segments[i].del_gen, &w->err, &seg);
            if (rc == 0 && wsegs_push(w, seg)) {
                nx_segment_close(seg);
                rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
            }
            if (rc == 0 && seg->deleted) {
                wseg *ws = &w->segs[w->n_segs - 1];
                size_t bytes = ((size_t)seg->doc_count + 7) / 8;
                ws->del = malloc(bytes + 1);
                if (!ws->del) rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
                else memcpy(ws->del, seg->deleted, bytes);
                ws->n_del = seg->doc_count - seg->live_count;
                ws->del_gen = m.segments[i].del_gen;
            }
        }
    }
    nx_manifest_free(&m);
    w->sb.store_fields = o.store_fields != 0;
    w->sb.doc_store_level = o.doc_store_level;
    w->sb.doc_store_block_bytes = o.doc_store_block_bytes;
    w->sb.no_sync = o.no_sync != 0;
    if (rc) {
        nx_err_copy(&w->err, errbuf, errbuf_size);
        newsidx_writer_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* Tiered merge policy (FORMAT.md, "Merge policy"): a segment's tier is
 * floor(log_F(live docs)) with F = merge_factor; when F segments share a
 * tier they are merged into one (which lands in the next tier, and may
 * cascade). Merging drops replaced articles and keeps date order. */
static int tier_of(uint32_t live, uint32_t f) {
    int t = 0;
    uint64_t x = f;
    while (x <= live) {
        x *= f;
        t++;
    }
    return t;
}

int nx_merge(const char *dir, uint32_t seg_no, nx_segment *const *in, const uint8_t *const *del,
             uint32_t n_in, const nx_segbuild_opts *o, nx_err *err);

/* Merges the segments w->segs[idx[0..n)] into one new segment, which takes
 * the first input's place. */
static int merge_group(newsidx_writer *w, const uint32_t *idx, nx_segment *const *in,
                       const uint8_t *const *del, uint32_t n) {
    uint32_t seg_no = w->next_seg_no++;
    NX_FORWARD(nx_merge(w->dir, seg_no, in, del, n, &w->sb, &w->err));
    nx_segment *seg;
    NX_FORWARD(nx_segment_open(w->dir, seg_no, 0, &w->err, &seg));
    for (uint32_t k = 0; k < n; k++) {
        nx_segment_close(w->segs[idx[k]].seg);
        free(w->segs[idx[k]].del);
        w->segs[idx[k]].seg = NULL;
    }
    w->segs[idx[0]].seg = seg;
    w->segs[idx[0]].del = NULL;
    w->segs[idx[0]].n_del = 0;
    w->segs[idx[0]].del_gen = 0;
    w->segs[idx[0]].del_dirty = false;
    uint32_t o = 0;
    for (uint32_t j = 0; j < w->n_segs; j++)
        if (w->segs[j].seg) w->segs[o++] = w->segs[j];
    w->n_segs = o;
    return 0;
}

/* Merges every segment with live articles into one (256 at a time). */
static int merge_all(newsidx_writer *w) {
    for (;;) {
        nx_segment *in[256];
        const uint8_t *del[256];
        uint32_t idx[256], n = 0;
        for (uint32_t j = 0; j < w->n_segs && n < 256; j++) {
            if (w->segs[j].seg->doc_count == w->segs[j].n_del) continue;
            idx[n] = j;
            in[n] = w->segs[j].seg;
            del[n] = w->segs[j].del;
            n++;
        }
        /* One segment without deletions is already optimal. */
        if (n == 0 || (n == 1 && w->segs[idx[0]].n_del == 0)) return 0;
        NX_FORWARD(merge_group(w, idx, in, del, n));
        if (n == 1) return 0;
    }
}

static int maybe_merge(newsidx_writer *w) {
    uint32_t f = w->opts.merge_factor;
    for (;;) {
        /* Segments whose every doc was replaced take no part: the commit
         * drops them. */
        int pick = -1;
        for (uint32_t i = 0; i < w->n_segs && pick < 0; i++) {
            uint32_t live = w->segs[i].seg->doc_count - w->segs[i].n_del;
            if (!live) continue;
            int t = tier_of(live, f);
            uint32_t same = 0;
            for (uint32_t j = 0; j < w->n_segs; j++) {
                uint32_t lj = w->segs[j].seg->doc_count - w->segs[j].n_del;
                same += lj && tier_of(lj, f) == t;
            }
            if (same >= f) pick = t;
        }
        if (pick < 0) return 0;
        nx_segment *in[256];
        const uint8_t *del[256];
        uint32_t idx[256], n = 0;
        for (uint32_t j = 0; j < w->n_segs && n < f && n < 256; j++) {
            uint32_t lj = w->segs[j].seg->doc_count - w->segs[j].n_del;
            if (!lj || tier_of(lj, f) != pick) continue;
            idx[n] = j;
            in[n] = w->segs[j].seg;
            del[n] = w->segs[j].del;
            n++;
        }
        NX_FORWARD(merge_group(w, idx, in, del, n));
    }
}

int newsidx_writer_commit(newsidx_writer *w) {
    if (!w) return NEWSIDX_ERR_INVALID;
    if (w->failed) return w->failed;
    int rc = flush_buffer(w);
    if (rc == 0) rc = w->merge_all ? merge_all(w) : maybe_merge(w);
    w->merge_all = false;
    uint64_t gen = w->generation + 1;
    nx_manifest m = {0};
    if (rc == 0) {
        m.generation = gen;
        m.next_seg_no = w->next_seg_no;
        m.stem_language = w->stem;
        m.stopwords_language = w->stop;
        m.n_segments = 0;
        m.segments = calloc(w->n_segs + 1, sizeof *m.segments);
        if (!m.segments) rc = nx_err_set(&w->err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; rc == 0 && i < w->n_segs; i++) {
        wseg *ws = &w->segs[i];
        uint32_t n = nx_segment_doc_count(ws->seg);
        if (ws->n_del == n) continue; /* every article replaced: drop the segment */
        if (ws->del_dirty) {
            /* A new tombstone file per commit: never edited in place. */
            rc = nx_tombstone_write(w->dir, ws->seg->seg_no, (uint32_t)gen, ws->del, n,
                                    !w->opts.no_sync, &w->err);
            if (rc) break;
        }
        nx_manifest_seg *ms = &m.segments[m.n_segments++];
        ms->seg_no = ws->seg->seg_no;
        ms->doc_count = n;
        ms->del_count = ws->n_del;
        ms->del_gen = ws->del_dirty ? (uint32_t)gen : ws->del_gen;
    }
    if (rc == 0) rc = nx_manifest_write(w->dir, &m, !w->opts.no_sync, &w->err);
    if (rc == 0) {
        w->generation = gen;
        uint32_t o = 0;
        for (uint32_t i = 0; i < w->n_segs; i++) {
            wseg *ws = &w->segs[i];
            if (ws->n_del == nx_segment_doc_count(ws->seg)) {
                nx_segment_close(ws->seg);
                free(ws->del);
                continue;
            }
            if (ws->del_dirty) {
                ws->del_gen = (uint32_t)gen;
                ws->del_dirty = false;
            }
            w->segs[o++] = *ws;
        }
        w->n_segs = o;
        nx_remove_unreferenced(w->dir, &m);
    } else {
        w->failed = rc;
    }
    m.stem_language = m.stopwords_language = NULL; /* owned by w */
    nx_manifest_free(&m);
    return rc;
}

NEWSIDX_API int newsidx_writer_optimize(newsidx_writer *w) {
    if (!w) return NEWSIDX_ERR_INVALID;
    if (w->failed) return w->failed;
    w->merge_all = true;
    return newsidx_writer_commit(w);
}
