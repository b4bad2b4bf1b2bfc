/* index/rambuf — the writer's RAM buffer: 2 MiB slabs, the paged slice
 * pool holding one occurrence stream per (field, term), the term hash, and
 * the one token path from analysis into the buffer. The stream layout is
 * described in writer_internal.h; flush.c reads the buffer back. */
#include "analysis/analysis.h"
#include "index/writer_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
/* inlined XXH3: the term hash is the writer's hottest call */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* Pool pages 64 KiB apart: the last page number the u32 offsets reach. */
#define MAX_POOL_PAGES 65535u
/* Pool pages and term entries come in 2 MiB slabs the kernel may back with
 * one huge page, to save the first-touch page faults of 4 KiB pages
 * (bench/README.md, "History of measured choices"). */
#define SLAB_BYTES ((size_t)2 << 20)
#define SLAB_PAGES ((uint32_t)(SLAB_BYTES / POOL_PAGE))
_Static_assert(TERM_CHUNK * sizeof(wterm) == SLAB_BYTES, "a term chunk is one slab");

/* bytes: a multiple of SLAB_BYTES. Returns zeroed memory. Slabs are mapped
 * and unmapped directly, not through malloc, whose rising mmap threshold
 * put later slabs on the brk heap, which is not given back between flushes
 * (peak RSS: bench/README.md, "History of measured choices"). */
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

/* Slabs whose first access is a read (the term table: every lookup reads
 * a slot before an insert writes it) are faulted in by writes when they
 * are made. Read first, a page of fresh anonymous memory is mapped to the
 * shared zero page (the huge zero page, for a huge-page slab) and the
 * write that follows copies it: a second fault per 4 KiB, with a TLB
 * flush on every core the writer's threads ran on, and no huge page
 * (perf: do_wp_page and TLB-shootdown IPIs under add_tokens). */
static void *slabs_alloc_written(size_t bytes) {
    void *p = slabs_alloc(bytes);
    if (!p) return NULL;
#if defined(MADV_POPULATE_WRITE)
    if (madvise(p, bytes, MADV_POPULATE_WRITE) == 0) return p;
#endif
    memset(p, 0, bytes); /* older kernels: EINVAL */
    return p;
}

/* The term slot table of mask + 1 entries: slabs when it is that large. */
static void term_slots_free(uint64_t *slots, uint32_t mask) {
    size_t bytes = ((size_t)mask + 1) * 8;
    if (slots && bytes >= SLAB_BYTES) slabs_free(slots, bytes);
    else free(slots);
}

/* A slab for the pool or the term entries: a spare one if there is one. */
static void *slab_alloc(wbuf *b) {
    if (b->n_spare_slabs) return b->spare_slabs[--b->n_spare_slabs];
    return slabs_alloc(SLAB_BYTES);
}

/* Slabs a full buffer filled are kept when it is flushed, for the next
 * buffer, which fills to about the same size: mapped again, each one was
 * faulted in and zeroed once more per flush (clear_page ~2% of indexing
 * 100k generated articles, several flushes per worker). The budget
 * counts them again as they are taken; a flush the caller asks for (a
 * commit) frees them, so they never sit beside what a commit or a merge
 * holds. */
static void slab_recycle(wbuf *b, void *slab) {
    if (b->n_spare_slabs == b->cap_spare_slabs) {
        void **ns = grow_array(b->spare_slabs, &b->cap_spare_slabs, sizeof *ns, 16);
        if (!ns) {
            slabs_free(slab, SLAB_BYTES);
            return;
        }
        b->spare_slabs = ns;
    }
    b->spare_slabs[b->n_spare_slabs++] = slab;
}

/* ---- slice pool ----------------------------------------------------------- */

/* Allocates a slice of `size` data bytes + 4 link bytes; returns its offset
 * or UINT32_MAX when out of memory / pool space. */
static uint32_t pool_alloc(wbuf *b, uint32_t size) {
    uint32_t need = size + 4;
    if (b->n_pages == 0 || POOL_PAGE - b->page_used < need) {
        if (b->n_pages >= MAX_POOL_PAGES) return UINT32_MAX;
        if ((b->n_pages & (b->n_pages - 1)) == 0) { /* capacity doubles at powers of two */
            uint8_t **np = realloc(b->pages, sizeof *np * (b->n_pages ? b->n_pages * 2 : 1));
            if (!np) return UINT32_MAX;
            b->pages = np;
        }
        uint8_t **np = b->pages;
        if (b->n_pages % SLAB_PAGES == 0) {
            np[b->n_pages] = slab_alloc(b); /* freed through its first page */
            if (!np[b->n_pages]) return UINT32_MAX;
        } else {
            np[b->n_pages] = np[b->n_pages - 1] + POOL_PAGE;
        }
        b->n_pages++;
        b->page_used = 0;
    }
    uint32_t off = ((b->n_pages - 1) << POOL_PAGE_BITS) | b->page_used;
    b->page_used += need;
    return off;
}

static int stream_init(wbuf *b, wstream *s, uint8_t *level) {
    uint32_t off = pool_alloc(b, slice_bytes(0));
    if (off == UINT32_MAX) return NEWSIDX_ERR_NOMEM;
    s->head = s->wp = off;
    s->wend = off + slice_bytes(0);
    *level = 0;
    return 0;
}

static inline int stream_put(wbuf *b, wstream *s, uint8_t *level, uint8_t byte) {
    if (NX_UNLIKELY(s->wp == s->wend)) {
        uint8_t lvl = *level + 1 < (int)N_SLICE_LEVELS ? *level + 1 : *level;
        uint32_t off = pool_alloc(b, slice_bytes(lvl));
        if (off == UINT32_MAX) return NEWSIDX_ERR_NOMEM;
        nx_store_u32le(pool_at(b, s->wend), off);
        *level = lvl;
        s->wp = off;
        s->wend = off + slice_bytes(lvl);
    }
    *pool_at(b, s->wp++) = byte;
    return 0;
}

static inline int stream_varint(wbuf *b, wstream *s, uint8_t *level, uint64_t v) {
    if (NX_LIKELY(s->wend - s->wp >= 10)) { /* room for any varint: one page lookup */
        uint8_t *p = pool_at(b, s->wp);
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
        NX_FORWARD(stream_put(b, s, level, (uint8_t)(v | 0x80)));
        v >>= 7;
    }
    return stream_put(b, s, level, (uint8_t)v);
}

/* ---- stored-fields records ---------------------------------------------------- */

/* Records are appended to slabs, never moved: in one buffer that doubled
 * by realloc, each doubling copied the records so far and every new 4 KiB
 * page faulted (half the page faults of indexing the 100k slice of gen1m,
 * a third of 20 Newsgroups'); a slab is one huge page. A record longer
 * than a slab gets a mapping of its own, which no other record shares. */
uint8_t *nx_wbuf_stored_append(wbuf *b, size_t bytes, uint64_t *off) {
    wchunk *c = b->n_stored_chunks ? &b->stored_chunks[b->n_stored_chunks - 1] : NULL;
    if (!c || c->bytes - b->stored_used < bytes) {
        if (b->n_stored_chunks == UINT32_MAX) return NULL;
        if (b->n_stored_chunks == b->cap_stored_chunks) {
            wchunk *nc = grow_array(b->stored_chunks, &b->cap_stored_chunks, sizeof *nc, 16);
            if (!nc) return NULL;
            b->stored_chunks = nc;
        }
        size_t cb = bytes <= SLAB_BYTES ? SLAB_BYTES : (bytes + SLAB_BYTES - 1) & ~(SLAB_BYTES - 1);
        uint8_t *p = cb == SLAB_BYTES ? slab_alloc(b) : slabs_alloc(cb);
        if (!p) return NULL;
        c = &b->stored_chunks[b->n_stored_chunks++];
        c->data = p;
        c->bytes = cb;
        b->stored_used = 0;
    }
    uint8_t *at = c->data + b->stored_used;
    *off = (uint64_t)(b->n_stored_chunks - 1) << 32 | b->stored_used;
    /* a record's own mapping takes no other (offsets stay below 2^32) */
    b->stored_used = c->bytes > SLAB_BYTES ? c->bytes : b->stored_used + bytes;
    return at;
}

/* ---- memory accounting ------------------------------------------------------ */

size_t nx_wbuf_ram_used(const wbuf *b) {
    return (size_t)b->n_pages * POOL_PAGE + (size_t)b->cap_terms * sizeof(wterm) +
           ((size_t)b->term_mask + 1) * 8 + b->keys.cap + b->ids.cap + b->srcs.cap +
           b->stored_cap + (size_t)b->cap_docs * sizeof(wdoc) + ((size_t)b->id_mask + 1) * 4;
}

void nx_wbuf_destroy(wbuf *b) {
    nx_wbuf_free(b);
    newsidx_analyzer_free(b->an);
    b->an = NULL;
    nx_term_entries_free(&b->s_entries);
    nx_buf_free(&b->s_fields);
    nx_buf_free(&b->s_key);
    free(b->toks);
    b->toks = NULL;
    b->n_tok = b->cap_tok = 0;
}

/* Empties the buffer; its slabs are kept as spares when keep. */
static void wbuf_empty(wbuf *b, bool keep) {
    for (uint32_t i = 0; i < b->n_pages; i += SLAB_PAGES) {
        if (keep) slab_recycle(b, b->pages[i]);
        else slabs_free(b->pages[i], SLAB_BYTES);
    }
    free(b->pages);
    b->pages = NULL;
    b->n_pages = b->page_used = 0;
    for (uint32_t i = 0; i < b->n_term_chunks; i++) {
        if (keep) slab_recycle(b, b->term_chunks[i]);
        else slabs_free(b->term_chunks[i], SLAB_BYTES);
    }
    free(b->term_chunks);
    b->term_chunks = NULL;
    b->n_term_chunks = 0;
    b->n_terms = b->cap_terms = 0;
    term_slots_free(b->term_slots, b->term_mask);
    b->term_slots = NULL;
    b->term_mask = 0;
    nx_buf_free(&b->keys);
    nx_buf_free(&b->ids);
    nx_buf_free(&b->srcs);
    /* not kept: a flush's stored records are most of a buffer, and held
     * as spares they sat beside the merge that flushes start (100k slice,
     * 2 threads: peak RSS +4-7 MB for no measurable time) */
    for (uint32_t i = 0; i < b->n_stored_chunks; i++)
        slabs_free(b->stored_chunks[i].data, b->stored_chunks[i].bytes);
    free(b->stored_chunks);
    b->stored_chunks = NULL;
    b->n_stored_chunks = b->cap_stored_chunks = 0;
    b->stored_used = b->stored_len = b->stored_cap = 0;
    free(b->docs);
    b->docs = NULL;
    b->n_docs = b->cap_docs = b->n_deleted = 0;
    free(b->id_slots);
    b->id_slots = NULL;
    b->id_mask = 0;
}

void nx_wbuf_recycle(wbuf *b) { wbuf_empty(b, true); }

void nx_wbuf_free(wbuf *b) {
    wbuf_empty(b, false);
    for (uint32_t i = 0; i < b->n_spare_slabs; i++) slabs_free(b->spare_slabs[i], SLAB_BYTES);
    free(b->spare_slabs);
    b->spare_slabs = NULL;
    b->n_spare_slabs = b->cap_spare_slabs = 0;
}

/* ---- terms ------------------------------------------------------------------ */

/* The hash of a key (field byte, term): the term hashed with the field as
 * the seed, so the tokenizer's bytes can be hashed before they are copied
 * behind the field byte (a load spanning several recent stores waits for
 * them to retire). */
static inline uint64_t mul_fold64(uint64_t a, uint64_t b) {
    unsigned __int128 m = (unsigned __int128)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

/* Terms of at most 16 bytes (nearly all) take XXH3's short-input scheme
 * without its seed derivation and length dispatch: two overlapping loads,
 * one 128-bit multiply, an avalanche, fewer instructions per token than the
 * library call (bench/README.md, "History of measured choices"). The hash
 * lives only in the RAM buffer, so it may differ from XXH3's. */
static inline uint64_t key_mix(int field, size_t len, uint64_t a, uint64_t b) {
    uint64_t h = mul_fold64(a ^ 0x9e3779b185ebca87ull ^ (uint64_t)field << 56,
                            b ^ 0xc2b2ae3d27d4eb4full ^ (uint64_t)len);
    h ^= h >> 37;
    h *= 0x165667919e3779f9ull;
    return h ^ (h >> 32);
}

/* key_hash of a term of 1 to 16 bytes. */
static inline uint64_t key_hash_short(int field, const uint8_t *term, size_t len) {
    if (len >= 8) return key_mix(field, len, nx_load_u64le(term), nx_load_u64le(term + len - 8));
    if (len >= 4) return key_mix(field, len, nx_load_u32le(term), nx_load_u32le(term + len - 4));
    uint64_t a = (uint64_t)term[0] | (uint64_t)term[len >> 1] << 8 | (uint64_t)term[len - 1] << 16;
    return key_mix(field, len, a, 0);
}

static inline uint64_t key_hash(int field, const uint8_t *term, size_t len) {
    if (len >= 1 && len <= 16) return key_hash_short(field, term, len);
    return XXH3_64bits_withSeed(term, len, (uint64_t)field);
}

static int term_table_grow(wbuf *b) {
    uint32_t nmask = b->term_mask ? b->term_mask * 2 + 1 : 1023;
    size_t bytes = ((size_t)nmask + 1) * 8; /* a power of two */
    uint64_t *ns;
    if (bytes >= SLAB_BYTES) { /* huge pages for large tables, as the pool */
        ns = slabs_alloc_written(bytes); /* zeroed */
    } else {
        ns = zalloc_written(bytes);
    }
    if (!ns) return NEWSIDX_ERR_NOMEM;
    for (uint32_t t = 0; t < b->n_terms; t++) {
        const wterm *e = term_at(b, t);
        const uint8_t *k = b->keys.data + e->key_off;
        uint64_t h = key_hash(k[0], k + 1, e->key_len - 1u);
        uint32_t i = (uint32_t)h & nmask;
        while (ns[i]) i = (i + 1) & nmask;
        ns[i] = (h >> 32) << 32 | (t + 1);
    }
    term_slots_free(b->term_slots, b->term_mask);
    b->term_slots = ns;
    b->term_mask = nmask;
    return 0;
}

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

/* Copies the len bytes of term src to dst and returns key_hash(field, src,
 * len): the words the hash reads are the words the copy writes. Short
 * terms (most) are copied as two overlapping words instead of the string
 * instruction (rep movs, slow to start) the compiler picks for a copy of
 * bounded but unknown length. */
static inline uint64_t copy_and_hash(uint8_t *dst, int field, const uint8_t *src, size_t len) {
    if (len >= 8 && len <= 16) {
        uint64_t a = nx_load_u64le(src), b = nx_load_u64le(src + len - 8);
        nx_store_u64le(dst, a);
        nx_store_u64le(dst + len - 8, b);
        return key_mix(field, len, a, b);
    }
    if (len >= 4 && len < 8) {
        uint32_t a = nx_load_u32le(src), b = nx_load_u32le(src + len - 4);
        nx_store_u32le(dst, a);
        nx_store_u32le(dst + len - 4, b);
        return key_mix(field, len, a, b);
    }
    if (len >= 2 && len < 4) {
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
    return key_hash(field, src, len);
}

/* Keys of equal length len >= 1, without a libc call and without a byte
 * loop: a key of at most 8 bytes is compared as one masked word, which
 * reads up to 7 bytes past its end: both key buffers (b->keys, b->s_key)
 * keep KEY_SLACK bytes of capacity behind their last key for that. */
#define KEY_SLACK 8
static inline bool key_eq(const uint8_t *a, const uint8_t *b, size_t len) {
    if (len <= 8) return ((nx_load_u64le(a) ^ nx_load_u64le(b)) << (64 - 8 * len)) == 0;
    if (len <= 16)
        return nx_load_u64le(a) == nx_load_u64le(b) &&
               nx_load_u64le(a + len - 8) == nx_load_u64le(b + len - 8);
    return memcmp(a, b, len) == 0;
}

static int add_tokens(wbuf *b);

/* Tokens buffered before they are added: enough for the prefetching loop
 * to run ahead, and a field of any length costs this much scratch, not
 * ~30 bytes (token entry and key copy) per token of the whole field. */
#define TOKEN_BATCH 8192u

/* Room for one more token of len term bytes. */
static __attribute__((noinline)) int token_reserve_slow(wbuf *b, size_t len) {
    if (b->n_tok >= TOKEN_BATCH) NX_FORWARD(add_tokens(b));
    if (b->n_tok == b->cap_tok) {
        wtok *nt = grow_array(b->toks, &b->cap_tok, sizeof *nt, 1024);
        if (!nt) return NEWSIDX_ERR_NOMEM;
        b->toks = nt;
    }
    return nx_buf_reserve(&b->s_key, len + 1 + KEY_SLACK);
}

static inline int token_reserve(wbuf *b, size_t len) {
    if (NX_UNLIKELY(b->n_tok == b->cap_tok || b->s_key.cap - b->s_key.len < len + 1 + KEY_SLACK))
        return token_reserve_slow(b, len);
    return 0;
}

/* The one way a token enters the field's token list: its key (field byte,
 * then len term bytes) has been written at the end of b->s_key. */
static inline void token_push(wbuf *b, size_t len, uint64_t h, uint32_t position) {
    wtok *t = &b->toks[b->n_tok++];
    t->hash = h;
    t->key_off = (uint32_t)b->s_key.len;
    t->key_len = (uint16_t)(len + 1);
    t->position = position;
    b->s_key.len += len + 1;
}

/* The analyzer's callback: a token of any analyzer. */
static int on_token(void *ctx, const newsidx_token *tok) {
    wbuf *b = ctx;
    size_t len = tok->term_len;
    if (len > NEWSIDX_MAX_TERM_BYTES + 7) len = NEWSIDX_MAX_TERM_BYTES + 7;
    NX_FORWARD(token_reserve(b, len));
    uint8_t *key = b->s_key.data + b->s_key.len;
    const uint8_t *term = (const uint8_t *)tok->term;
    key[0] = (uint8_t)b->cur_field;
    /* hashed from the tokenizer's bytes, not from the copy: a load that
     * spans several recent stores waits for them to retire */
    token_push(b, len, copy_and_hash(key + 1, b->cur_field, term, len), tok->position);
    return 0;
}

#if defined(__SSE2__)
/* The writer's analysis loop for an analyzer without stopwords and
 * stemmer (the default): plain words (nx_plain_word16, most of them) are
 * folded straight into the key buffer, without a callback per token;
 * everything else goes through the analyzer's own step, in order, so terms
 * and positions are those of newsidx_analyze. */
static int analyze_plain(wbuf *b, const char *text, size_t len) {
    const uint8_t *base = (const uint8_t *)text;
    const uint8_t field = (uint8_t)b->cur_field;
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
                NX_FORWARD(token_reserve(b, 16));
                uint8_t *key = b->s_key.data + b->s_key.len;
                unsigned run = nx_plain_word16(base + off, key + 1);
                if (run) {
                    key[0] = field;
                    token_push(b, run, key_hash_short(field, key + 1, run), pos);
                    pos = nx_next_pos(pos);
                    off += run;
                    continue;
                }
            }
        }
        NX_FORWARD(nx_analyze_step(b->an, text, len, &off, &pos, on_token, b));
    }
    return 0;
}
#endif

static int add_token(wbuf *b, const uint8_t *key, size_t len, uint64_t h,
                     uint32_t position) {
    uint32_t i = (uint32_t)h & b->term_mask;
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
    for (;; i = (i + 1) & b->term_mask) {
        uint64_t s = b->term_slots[i];
        if (!s) break;
        if ((s >> 32) != (h >> 32)) continue;
        wterm *e = term_at(b, (uint32_t)s - 1);
        if (e->key8[0] == key8 && e->key8[1] == key16 && e->key_len == len &&
            (len <= 16 || key_eq(b->keys.data + e->key_off + 16, key + 16, len - 16))) {
            t = e;
            break;
        }
    }
    if (!t) {
        if (b->n_terms == b->n_term_chunks * TERM_CHUNK) {
            if ((b->n_term_chunks & (b->n_term_chunks - 1)) == 0) { /* doubles at powers of two */
                wterm **nc = realloc(b->term_chunks,
                                     sizeof *nc * (b->n_term_chunks ? b->n_term_chunks * 2 : 1));
                if (!nc) return NEWSIDX_ERR_NOMEM;
                b->term_chunks = nc;
            }
            wterm *chunk = slab_alloc(b);
            if (!chunk) return NEWSIDX_ERR_NOMEM;
            b->term_chunks[b->n_term_chunks++] = chunk;
        }
        /* accounted as the doubling array the chunks replaced (512
         * entries first), so that flushes happen where they did */
        if (b->n_terms == b->cap_terms) b->cap_terms = b->cap_terms ? b->cap_terms * 2 : 512;
        t = term_at(b, b->n_terms);
        memset(t, 0, sizeof *t);
        t->key8[0] = key8;
        t->key8[1] = key16;
        t->key_off = (uint32_t)b->keys.len;
        t->key_len = (uint16_t)len;
        t->doc = UINT32_MAX;
        NX_FORWARD(nx_buf_reserve(&b->keys, len + KEY_SLACK));
        NX_FORWARD(nx_buf_append(&b->keys, key, len));
        NX_FORWARD(stream_init(b, &t->os, &t->level));
        b->term_slots[i] = (h >> 32) << 32 | ++b->n_terms;
    }
    if (t->doc != b->cur_doc) {
        /* first occurrence in this doc; the delta from UINT32_MAX for a
         * term's first doc is doc + 1 (mod 2^32) */
        uint32_t delta = b->cur_doc - t->doc;
        t->doc = b->cur_doc;
        t->last_pos = position;
        NX_FORWARD(stream_varint(b, &t->os, &t->level, (uint64_t)position << 1 | 1));
        return stream_varint(b, &t->os, &t->level, delta);
    }
    uint32_t pos = position < t->last_pos ? t->last_pos : position;
    NX_FORWARD(stream_varint(b, &t->os, &t->level, (uint64_t)(pos - t->last_pos) << 1));
    t->last_pos = pos;
    return 0;
}

#define PREFETCH_SLOTS 16 /* tokens ahead whose hash slot is fetched */
#define PREFETCH_TERMS 8  /* tokens ahead whose term entry is fetched */

/* Adds the buffered tokens of the current field. */
static int add_tokens(wbuf *b) {
    uint32_t n = b->n_tok;
    /* grow first, so no address prefetched below moves */
    while ((b->n_terms + n + 1) * 2 > b->term_mask) NX_FORWARD(term_table_grow(b));
    const wtok *tk = b->toks;
    for (uint32_t j = 0; j < n && j < PREFETCH_SLOTS; j++)
        __builtin_prefetch(&b->term_slots[(uint32_t)tk[j].hash & b->term_mask]);
    for (uint32_t j = 0; j < n; j++) {
        if (j + PREFETCH_SLOTS < n)
            __builtin_prefetch(&b->term_slots[(uint32_t)tk[j + PREFETCH_SLOTS].hash & b->term_mask]);
        if (j + PREFETCH_TERMS < n) {
            uint64_t s = b->term_slots[(uint32_t)tk[j + PREFETCH_TERMS].hash & b->term_mask];
            if (s) __builtin_prefetch(term_at(b, (uint32_t)s - 1));
        }
        NX_FORWARD(add_token(b, b->s_key.data + tk[j].key_off, tk[j].key_len, tk[j].hash,
                             tk[j].position));
    }
    b->cur_len += n;
    b->n_tok = 0;
    b->s_key.len = 0;
    return 0;
}

/* ---- the buffer's interface to the writer ------------------------------------ */

int nx_wbuf_index_field(wbuf *b, int field, const char *text, size_t len,
                        uint32_t *n_tokens) {
    b->cur_field = field;
    b->cur_len = 0;
    b->n_tok = 0;
    b->s_key.len = 0;
    int rc;
#if defined(__SSE2__)
    if (nx_analyzer_plain(b->an))
        rc = analyze_plain(b, text, len);
    else
#endif
        rc = newsidx_analyze(b->an, text, len, on_token, b);
    if (rc == 0) rc = add_tokens(b);
    *n_tokens = b->cur_len;
    return rc;
}

bool nx_wbuf_full(const wbuf *b) {
    return nx_wbuf_ram_used(b) >= b->ram_budget || b->n_pages + 64 >= MAX_POOL_PAGES ||
           b->n_docs >= NX_MAX_SEGMENT_DOCS || b->stored_len >= ((size_t)1 << 40);
}
