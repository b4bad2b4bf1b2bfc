/* index/termdict — sorted, front-coded term dictionary.
 *
 * Byte layout (docs/FORMAT.md, "Term dictionary"). All integers little-endian; offsets are relative to the
 * first byte of the dictionary.
 *
 *   header (40 bytes)
 *     u32 magic "NXTD"   u32 version (1)   u32 flags (bit 0: variable values)
 *     u32 value_bytes (0 when variable)
 *     u64 n_terms        u64 n_blocks      u64 index_offset
 *   blocks, back to back, from offset 40 to index_offset; each block:
 *     u8 n (1..32 terms in the block)
 *     n entries: varint shared   (bytes shared with the previous term of the
 *                                 block; 0 for the block's first term)
 *                varint suffix_len, suffix bytes (shared + suffix_len <= 255)
 *                value: value_bytes bytes, or varint len + len bytes
 *   block index at index_offset: n_blocks x u64 (offset of each block);
 *     the dictionary ends right after it.
 *
 * A block is cut after 32 terms or once it holds >= 512 bytes, so a lookup
 * decodes at most one small block after a binary search over the blocks'
 * first terms (kept in memory as pointers, built at open).
 *
 * Error style: NX_RETURN_IF / NX_FORWARD (early returns). Every read of the
 * mapped bytes is checked against the end of its block: corrupt input gives
 * NEWSIDX_ERR_CORRUPT, never an out-of-bounds read. */
#include "termdict.h"

#include <stdlib.h>
#include <string.h>

#define TD_MAGIC 0x4454584eu /* "NXTD" */
#define TD_VERSION 1
#define TD_FLAG_VAR 1u
#define TD_HEADER_BYTES NX_TERMDICT_HEADER_BYTES
#define TD_BLOCK_TERMS 32
#define TD_BLOCK_BYTES 512

struct nx_termdict_builder {
    bool var;
    int failed;      /* sticky error: after a failed allocation or sink nothing is valid */
    uint32_t value_bytes;
    uint64_t n_terms;
    nx_buf blocks;   /* block bytes, offsets relative to the blocks area */
    nx_buf offsets;  /* u64 per block, relative to the blocks area */
    /* With a sink, closed blocks leave: blocks then holds only the open
     * one, whose first byte is at blocks-area offset `emitted`. */
    nx_termdict_sink_fn sink;
    void *sink_ctx;
    uint64_t emitted;
    size_t block_start;
    uint32_t block_terms;
    uint8_t last[NX_TERMDICT_MAX_TERM_BYTES];
    size_t last_len;
};

/* One block, located through the block index and its head checked when a
 * lookup or an iterator first needs it (never at open: see
 * nx_termdict_open). */
typedef struct td_block {
    const uint8_t *first; /* first term's bytes (in the mapped data) */
    const uint8_t *end;   /* one past the block's last byte */
    size_t entries;       /* offset of the block's first entry */
    uint32_t first_len;
    uint32_t n;           /* terms in the block */
} td_block;

struct nx_termdict {
    const uint8_t *data;
    size_t len;
    uint64_t n_terms;
    uint64_t n_blocks;
    uint64_t index_offset;
    uint32_t value_bytes;
    bool var;
    /* Per block, once a lookup has checked its head: its first term's key
     * (head_key), else 0; allocated by the first lookup, shared by every
     * thread (relaxed atomics: all write the same values). See find_block. */
    uint64_t *heads;
};

/* ---- builder ------------------------------------------------------------ */

static int builder_new(bool var, uint32_t value_bytes, nx_termdict_builder **out) {
    *out = NULL;
    nx_termdict_builder *b = calloc(1, sizeof *b);
    if (!b) return NEWSIDX_ERR_NOMEM;
    b->var = var;
    b->value_bytes = value_bytes;
    *out = b;
    return 0;
}

int nx_termdict_builder_create(uint32_t value_bytes, nx_termdict_builder **out) {
    if (value_bytes > NX_TERMDICT_MAX_VALUE_BYTES) {
        *out = NULL;
        return NEWSIDX_ERR_INVALID;
    }
    return builder_new(false, value_bytes, out);
}

int nx_termdict_builder_create_var(nx_termdict_builder **out) {
    return builder_new(true, 0, out);
}

int nx_termdict_builder_set_sink(nx_termdict_builder *b, nx_termdict_sink_fn sink, void *ctx) {
    if (b->n_terms || b->sink) return NEWSIDX_ERR_INVALID;
    uint8_t zero[TD_HEADER_BYTES] = {0};
    int rc = sink(ctx, zero, sizeof zero);
    if (rc) return b->failed = rc;
    b->sink = sink;
    b->sink_ctx = ctx;
    return 0;
}

size_t nx_termdict_builder_held_bytes(const nx_termdict_builder *b) {
    return b->blocks.cap + b->offsets.cap;
}

void nx_termdict_builder_free(nx_termdict_builder *b) {
    if (!b) return;
    nx_buf_free(&b->blocks);
    nx_buf_free(&b->offsets);
    free(b);
}

static int td_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

/* Sets the open block's count; with a sink, hands its bytes over. */
static int close_block(nx_termdict_builder *b) {
    if (b->block_terms) b->blocks.data[b->block_start] = (uint8_t)b->block_terms;
    b->block_terms = 0;
    if (!b->sink || b->blocks.len == 0) return 0;
    int rc = b->sink(b->sink_ctx, b->blocks.data, b->blocks.len);
    b->emitted += b->blocks.len;
    b->blocks.len = 0;
    b->block_start = 0;
    if (rc) b->failed = rc;
    return rc;
}

int nx_termdict_add_var(nx_termdict_builder *b, const uint8_t *term, size_t len,
                        const uint8_t *value, size_t value_len) {
    if (b->failed) return b->failed;
    if (len > NX_TERMDICT_MAX_TERM_BYTES) return NEWSIDX_ERR_INVALID;
    if (b->var ? value_len > NX_TERMDICT_MAX_VALUE_BYTES : value_len != b->value_bytes)
        return NEWSIDX_ERR_INVALID;
    if (b->n_terms && td_compare(term, len, b->last, b->last_len) <= 0)
        return NEWSIDX_ERR_INVALID;

    if (b->block_terms == TD_BLOCK_TERMS ||
        (b->block_terms && b->blocks.len - b->block_start >= TD_BLOCK_BYTES))
        NX_FORWARD(close_block(b));
    size_t shared = 0;
    int rc = 0;
    if (b->block_terms == 0) {
        /* New block: its first term is stored whole. */
        rc = nx_buf_put_u64le(&b->offsets, b->emitted + b->blocks.len);
        if (rc == 0) {
            b->block_start = b->blocks.len;
            rc = nx_buf_putc(&b->blocks, 0); /* count, set by close_block */
        }
    } else {
        size_t m = len < b->last_len ? len : b->last_len;
        while (shared < m && term[shared] == b->last[shared]) shared++;
    }
    if (rc == 0) rc = nx_buf_reserve(&b->blocks, 20 + (len - shared) + 10 + value_len);
    if (rc < 0) {
        b->failed = NEWSIDX_ERR_NOMEM;
        return rc;
    }
    uint8_t *p = b->blocks.data + b->blocks.len;
    p += nx_varint_encode(p, shared);
    p += nx_varint_encode(p, len - shared);
    if (len > shared) memcpy(p, term + shared, len - shared);
    p += len - shared;
    if (b->var) p += nx_varint_encode(p, value_len);
    if (value_len) memcpy(p, value, value_len);
    p += value_len;
    b->blocks.len = (size_t)(p - b->blocks.data);

    if (len) memcpy(b->last, term, len);
    b->last_len = len;
    b->block_terms++;
    b->n_terms++;
    return 0;
}

int nx_termdict_add(nx_termdict_builder *b, const uint8_t *term, size_t len,
                    const uint8_t *value) {
    if (b->var) return NEWSIDX_ERR_INVALID;
    return nx_termdict_add_var(b, term, len, value, b->value_bytes);
}

/* The header of the dictionary whose blocks take blocks_bytes. */
static void put_header(const nx_termdict_builder *b, uint64_t blocks_bytes,
                       uint8_t h[TD_HEADER_BYTES]) {
    nx_store_u32le(h, TD_MAGIC);
    nx_store_u32le(h + 4, TD_VERSION);
    nx_store_u32le(h + 8, b->var ? TD_FLAG_VAR : 0);
    nx_store_u32le(h + 12, b->value_bytes);
    nx_store_u64le(h + 16, b->n_terms);
    nx_store_u64le(h + 24, b->offsets.len / 8);
    nx_store_u64le(h + 32, TD_HEADER_BYTES + blocks_bytes);
}

int nx_termdict_finish(nx_termdict_builder *b, nx_buf *out) {
    if (b->failed) return b->failed;
    if (b->sink) return NEWSIDX_ERR_INVALID;
    NX_FORWARD(close_block(b));
    uint64_t n_blocks = b->offsets.len / 8;
    NX_FORWARD(nx_buf_reserve(out, TD_HEADER_BYTES + b->blocks.len + b->offsets.len));
    uint8_t h[TD_HEADER_BYTES];
    put_header(b, b->blocks.len, h);
    NX_FORWARD(nx_buf_append(out, h, sizeof h));
    NX_FORWARD(nx_buf_append(out, b->blocks.data, b->blocks.len));
    for (uint64_t i = 0; i < n_blocks; i++) {
        uint64_t off = nx_load_u64le(b->offsets.data + 8 * i) + TD_HEADER_BYTES;
        NX_FORWARD(nx_buf_put_u64le(out, off));
    }
    return 0;
}

int nx_termdict_finish_sink(nx_termdict_builder *b, uint8_t header[NX_TERMDICT_HEADER_BYTES]) {
    if (!b->sink) return NEWSIDX_ERR_INVALID;
    if (b->failed) return b->failed;
    NX_FORWARD(close_block(b));
    /* the block index, a stack chunk at a time */
    uint8_t chunk[8 * 512];
    uint64_t n_blocks = b->offsets.len / 8;
    for (uint64_t i = 0; i < n_blocks;) {
        size_t k = 0;
        for (; k < 512 && i < n_blocks; k++, i++)
            nx_store_u64le(chunk + 8 * k, nx_load_u64le(b->offsets.data + 8 * i) + TD_HEADER_BYTES);
        int rc = b->sink(b->sink_ctx, chunk, 8 * k);
        if (rc) return b->failed = rc;
    }
    put_header(b, b->emitted, header);
    return 0;
}

/* ---- reader ------------------------------------------------------------- */

/* Bounded varint read with a one-byte fast path (most lengths are < 128). */
static inline int read_len(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    if (NX_LIKELY(*p < end && **p < 0x80)) {
        *v = *(*p)++;
        return 0;
    }
    return nx_varint_decode(p, end, v);
}

/* Decodes the entry at *p (within [*p, end)) over the previous term in
 * term/term_len (updated in place); sets the value. Returns 0 or CORRUPT. */
static inline int decode_entry(const nx_termdict *d, const uint8_t **pp, const uint8_t *end,
                               uint8_t *term, size_t *term_len, const uint8_t **value,
                               size_t *value_len) {
    const uint8_t *p = *pp;
    uint64_t shared, suffix;
    if (read_len(&p, end, &shared) < 0 || read_len(&p, end, &suffix) < 0)
        return NEWSIDX_ERR_CORRUPT;
    if (shared > *term_len || suffix > NX_TERMDICT_MAX_TERM_BYTES - shared ||
        suffix > (uint64_t)(end - p))
        return NEWSIDX_ERR_CORRUPT;
    memcpy(term + shared, p, suffix);
    p += suffix;
    *term_len = shared + suffix;
    uint64_t vlen = d->value_bytes;
    if (d->var && read_len(&p, end, &vlen) < 0) return NEWSIDX_ERR_CORRUPT;
    if (vlen > (uint64_t)(end - p)) return NEWSIDX_ERR_CORRUPT;
    *value = p;
    *value_len = vlen;
    *pp = p + vlen;
    return 0;
}

static int corrupt(nx_err *err, const char *what, uint64_t at) {
    return nx_err_set(err, NEWSIDX_ERR_CORRUPT, "term dictionary: %s (byte %llu)", what,
                      (unsigned long long)at);
}

void nx_termdict_close(nx_termdict *d) {
    if (d) free(d->heads);
    free(d);
}

/* Locates block bi through the block index and checks its head: offsets
 * inside the blocks area and increasing from this block to the next, a
 * count of 1..32, a first entry sharing nothing and fitting the block. 0
 * or CORRUPT. Done per block touched, so that opening costs nothing per
 * block (FORMAT.md, "Term dictionary"). */
static int load_block(const nx_termdict *d, uint64_t bi, td_block *b) {
    const uint8_t *index = d->data + d->index_offset;
    uint64_t off = nx_load_u64le(index + 8 * bi);
    uint64_t next = bi + 1 < d->n_blocks ? nx_load_u64le(index + 8 * (bi + 1)) : d->index_offset;
    if (off < TD_HEADER_BYTES || off >= next || next > d->index_offset ||
        (bi == 0 && off != TD_HEADER_BYTES))
        return NEWSIDX_ERR_CORRUPT;
    const uint8_t *p = d->data + off, *end = d->data + next;
    uint64_t shared, suffix;
    b->n = *p++;
    if (b->n == 0 || b->n > TD_BLOCK_TERMS || read_len(&p, end, &shared) < 0 || shared != 0 ||
        read_len(&p, end, &suffix) < 0 || suffix > NX_TERMDICT_MAX_TERM_BYTES ||
        suffix > (uint64_t)(end - p))
        return NEWSIDX_ERR_CORRUPT;
    b->first = p;
    b->first_len = (uint32_t)suffix;
    b->end = end;
    b->entries = (size_t)off + 1;
    return 0;
}

int nx_termdict_open(const uint8_t *data, size_t len, nx_err *err, nx_termdict **out) {
    *out = NULL;
    if (len < TD_HEADER_BYTES) return corrupt(err, "shorter than its header", len);
    if (nx_load_u32le(data) != TD_MAGIC) return corrupt(err, "bad magic", 0);
    if (nx_load_u32le(data + 4) != TD_VERSION)
        return nx_err_set(err, NEWSIDX_ERR_VERSION, "term dictionary: version %u unsupported",
                          nx_load_u32le(data + 4));
    uint32_t flags = nx_load_u32le(data + 8);
    if (flags & ~TD_FLAG_VAR) return corrupt(err, "unknown flags", 8);
    uint32_t value_bytes = nx_load_u32le(data + 12);
    uint64_t n_terms = nx_load_u64le(data + 16);
    uint64_t n_blocks = nx_load_u64le(data + 24);
    uint64_t index_offset = nx_load_u64le(data + 32);
    bool var = flags & TD_FLAG_VAR;
    if ((var && value_bytes) || value_bytes > NX_TERMDICT_MAX_VALUE_BYTES)
        return corrupt(err, "bad value size", 12);
    if (index_offset < TD_HEADER_BYTES || index_offset > len ||
        n_blocks > (len - index_offset) / 8 || index_offset + 8 * n_blocks != len)
        return corrupt(err, "block index does not end the dictionary", 32);
    if (n_blocks > n_terms || n_terms > n_blocks * TD_BLOCK_TERMS ||
        (n_blocks == 0 && index_offset != TD_HEADER_BYTES))
        return corrupt(err, "term and block counts disagree", 16);
    /* Nothing per block is read here: a one-query program touches the
     * dozen blocks its binary searches probe, not the whole dictionary.
     * Each block is checked when first used (load_block); the order of
     * first terms and the sum of block counts, which no read depends on
     * for its bounds, are verified by nx_termdict_check. */
    nx_termdict *d = calloc(1, sizeof *d);
    if (!d) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory opening term dictionary");
    *d = (nx_termdict){.data = data, .len = len, .n_terms = n_terms, .n_blocks = n_blocks,
                       .index_offset = index_offset, .value_bytes = value_bytes, .var = var};
    *out = d;
    return 0;
}

uint64_t nx_termdict_count(const nx_termdict *d) { return d->n_terms; }
uint32_t nx_termdict_value_bytes(const nx_termdict *d) { return d->value_bytes; }
bool nx_termdict_is_var(const nx_termdict *d) { return d->var; }

/* A term's first 7 bytes (zero-padded) as a big-endian number, shifted
 * left by 8 with the low byte 1 (so never 0, which means "not known").
 * head_key(a) < head_key(b) implies a < b in td_compare's order; equal
 * keys decide nothing. */
static uint64_t head_key(const uint8_t *t, size_t len) {
    uint64_t k = 0;
    for (size_t i = 0; i < 7; i++) k = k << 8 | (i < len ? t[i] : 0);
    return k << 8 | 1;
}

/* Sets *bi to the last block whose first term is <= key, or -1 when key
 * sorts before every term, and *b to that block. 0 or CORRUPT (a probed
 * block's head is damaged). A damaged order of first terms cannot make it
 * read out of bounds: it only picks a wrong block, whose scan then misses. */
static int find_block(const nx_termdict *d, const uint8_t *key, size_t key_len, int64_t *bi,
                      td_block *b) {
    int64_t lo = 0, hi = (int64_t)d->n_blocks - 1;
    *bi = -1;
    /* The probes of a binary search are cache misses on a large
     * dictionary: the block index entry, then the block's head, in another
     * page. A set of indexes searched as one probes every segment of every
     * member for each query term (bench/README.md, "Multi-index search"),
     * so the heads' keys are remembered in a dense array, which halves the
     * misses of a probe that was made before. calloc leaves the pages of a
     * large array untouched until a lookup writes them. */
    uint64_t *heads = __atomic_load_n(&((nx_termdict *)d)->heads, __ATOMIC_ACQUIRE);
    if (!heads && d->n_blocks) {
        uint64_t *fresh = calloc(d->n_blocks, sizeof *fresh);
        uint64_t *expected = NULL;
        if (fresh && !__atomic_compare_exchange_n(&((nx_termdict *)d)->heads, &expected, fresh,
                                                  false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            free(fresh); /* another thread's array won */
            fresh = expected;
        }
        heads = fresh; /* NULL when out of memory: probe without it */
    }
    uint64_t want = head_key(key, key_len);
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t known = heads ? __atomic_load_n(&heads[mid], __ATOMIC_RELAXED) : 0;
        int c;
        if (known && known != want) {
            c = known < want ? -1 : 1;
        } else {
            td_block m;
            NX_FORWARD(load_block(d, (uint64_t)mid, &m));
            if (heads && !known)
                __atomic_store_n(&heads[mid], head_key(m.first, m.first_len), __ATOMIC_RELAXED);
            c = td_compare(m.first, m.first_len, key, key_len);
        }
        if (c <= 0) {
            *bi = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return *bi >= 0 ? load_block(d, (uint64_t)*bi, b) : 0;
}

int nx_termdict_find(const nx_termdict *d, const uint8_t *term, size_t len,
                     const uint8_t **value, size_t *value_len) {
    if (len > NX_TERMDICT_MAX_TERM_BYTES) return 0;
    int64_t bi;
    td_block blk, *b = &blk;
    NX_FORWARD(find_block(d, term, len, &bi, &blk));
    if (bi < 0) return 0;
    const uint8_t *p = d->data + b->entries, *end = b->end;
    /* Front coding lets the scan compare only what changed, without
     * rebuilding terms. match = bytes the previous term shares with the
     * key; that term sorts before the key. An entry sharing more than
     * `match` bytes with it still differs from the key at byte `match`
     * the same way, so it is smaller too: skip it. One sharing fewer bytes
     * is bigger than the key (terms increase): the key is absent. */
    size_t match = 0, prev_len = 0;
    for (uint32_t i = 0; i < b->n; i++) {
        uint64_t shared, suffix, vlen = d->value_bytes;
        if (read_len(&p, end, &shared) < 0 || read_len(&p, end, &suffix) < 0 ||
            shared > prev_len || suffix > NX_TERMDICT_MAX_TERM_BYTES - shared ||
            suffix > (uint64_t)(end - p))
            return NEWSIDX_ERR_CORRUPT;
        const uint8_t *sfx = p;
        p += suffix;
        if (d->var && read_len(&p, end, &vlen) < 0) return NEWSIDX_ERR_CORRUPT;
        if (vlen > (uint64_t)(end - p)) return NEWSIDX_ERR_CORRUPT;
        const uint8_t *v = p;
        p += vlen;
        prev_len = shared + suffix;
        if (shared > match) continue;
        if (shared < match) return 0;
        /* The entry equals the key on [0, shared): compare the rest. */
        size_t rest = len - shared, m = rest < suffix ? rest : suffix, c = 0;
        const uint8_t *k = term + shared;
        while (c < m && sfx[c] == k[c]) c++;
        if (c == m) {
            if (suffix == rest) {
                *value = v;
                *value_len = vlen;
                return 1;
            }
            if (suffix > rest) return 0; /* the key is a prefix of the entry */
        } else if (sfx[c] > k[c]) {
            return 0;
        }
        match = shared + c;
    }
    return 0;
}

int nx_termdict_get(const nx_termdict *d, const uint8_t *term, size_t len,
                    uint8_t *value_out) {
    if (d->var) return NEWSIDX_ERR_INVALID;
    const uint8_t *v;
    size_t vlen;
    int rc = nx_termdict_find(d, term, len, &v, &vlen);
    if (rc == 1 && vlen) memcpy(value_out, v, vlen);
    return rc;
}

/* Positions it on the first term of block bi. */
static int iter_enter_block(nx_termdict_iter *it, uint64_t bi) {
    const nx_termdict *d = it->d;
    td_block b;
    NX_FORWARD(load_block(d, bi, &b));
    const uint8_t *p = d->data + b.entries;
    it->block = bi;
    it->end = (size_t)(b.end - d->data);
    it->term_len = 0;
    NX_FORWARD(decode_entry(d, &p, b.end, it->term, &it->term_len, &it->value, &it->value_len));
    it->pos = (size_t)(p - d->data);
    it->left = b.n - 1;
    return 1;
}

int nx_termdict_next(nx_termdict_iter *it) {
    const nx_termdict *d = it->d;
    if (it->left == 0) {
        if (it->block + 1 >= d->n_blocks) {
            it->block = d->n_blocks;
            return 0;
        }
        return iter_enter_block(it, it->block + 1);
    }
    const uint8_t *p = d->data + it->pos;
    NX_FORWARD(decode_entry(d, &p, d->data + it->end, it->term, &it->term_len, &it->value,
                            &it->value_len));
    it->pos = (size_t)(p - d->data);
    it->left--;
    return 1;
}

int nx_termdict_seek(const nx_termdict *d, const uint8_t *key, size_t key_len,
                     nx_termdict_iter *it) {
    it->d = d;
    it->term_len = 0;
    it->value = NULL;
    it->value_len = 0;
    it->left = 0;
    if (d->n_blocks == 0) {
        it->block = 0;
        return 0;
    }
    if (!key) key_len = 0;
    int64_t bi;
    td_block b;
    NX_FORWARD(find_block(d, key, key_len, &bi, &b));
    if (bi < 0) return iter_enter_block(it, 0); /* key before every term */
    int rc = iter_enter_block(it, (uint64_t)bi);
    while (rc == 1 && td_compare(it->term, it->term_len, key, key_len) < 0)
        rc = nx_termdict_next(it);
    return rc;
}

/* Everything open leaves to the blocks' first use, for every block: the
 * block index and heads, the order of all terms (first terms included),
 * the sum of the block counts, and that each block's bytes are used
 * exactly. */
int nx_termdict_check(const nx_termdict *d, nx_err *err) {
    uint8_t prev[NX_TERMDICT_MAX_TERM_BYTES + 1];
    size_t prev_len = 0;
    uint64_t sum = 0;
    for (uint64_t bi = 0; bi < d->n_blocks; bi++) {
        td_block b;
        if (load_block(d, bi, &b) < 0)
            return corrupt(err, "bad block offset or head", d->index_offset + 8 * bi);
        const uint8_t *p = d->data + b.entries;
        uint8_t cur[NX_TERMDICT_MAX_TERM_BYTES + 1];
        size_t cur_len = 0;
        for (uint32_t i = 0; i < b.n; i++) {
            size_t at = (size_t)(p - d->data);
            const uint8_t *v;
            size_t vlen;
            if (decode_entry(d, &p, b.end, cur, &cur_len, &v, &vlen) < 0)
                return corrupt(err, "bad entry", at);
            if ((bi || i) && td_compare(prev, prev_len, cur, cur_len) >= 0)
                return corrupt(err, "terms not strictly increasing", at);
            memcpy(prev, cur, cur_len);
            prev_len = cur_len;
        }
        if (p != b.end) return corrupt(err, "block has trailing bytes", (size_t)(p - d->data));
        sum += b.n;
    }
    if (sum != d->n_terms) return corrupt(err, "block term counts do not add up", 16);
    return 0;
}
