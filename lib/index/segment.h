/* index/segment — read side of one immutable segment and of a snapshot
 * (the segments named by one manifest). This is everything the query engine
 * (lib/search) may know of the index: term lookup, postings iterators with
 * block-max data, norms, dates, columns and stored fields.
 * Byte layout: docs/FORMAT.md. */
#ifndef NX_SEGMENT_H
#define NX_SEGMENT_H

#include "index/codec.h"
#include "util/fields.h"
#include "util/util.h"

#define NX_NO_DOC UINT32_MAX
#define NX_NO_DATE INT64_MIN

/* Length norms: one byte per doc and field, a quantized field length in
 * tokens (exact up to 15, then ~4 significant bits, as Lucene's SmallFloat).
 * Scoring uses nx_norm_decode(byte) as the document length. */
uint8_t nx_norm_encode(uint32_t len);
uint32_t nx_norm_decode(uint8_t norm);

/* What the dictionary holds for one (field, term) in one segment.
 * Filled by nx_segment_lookup / nx_segment_terms only: the private members
 * carry a rare term's postings kept inside the dictionary ("pulsing") and
 * the field, whose norms give exact block-max bounds. */
typedef struct nx_term_info {
    uint32_t df;            /* documents containing the term */
    uint64_t cf;            /* total occurrences */
    uint64_t postings_off;  /* offset of the term's postings in the postings file */
    uint64_t positions_off; /* offset of its positions in the positions file */
    int field;              /* private: the term's field */
    const uint8_t *pulsed;  /* private: inline posting (df == 1), or NULL */
    size_t pulsed_len;
} nx_term_info;

typedef struct nx_segment nx_segment;

uint32_t nx_segment_doc_count(const nx_segment *s);  /* doc ids are 0..count-1, deleted included */
/* Paths of the segment's files, for messages that name where damage is. */
const char *nx_segment_postings_path(const nx_segment *s);
const char *nx_segment_positions_path(const nx_segment *s);
const char *nx_segment_dict_path(const nx_segment *s);
const char *nx_segment_columns_path(const nx_segment *s);
uint32_t nx_segment_live_count(const nx_segment *s);
/* true when doc is not deleted (replaced by a later article with its id). */
bool nx_segment_is_live(const nx_segment *s, uint32_t doc);
/* Per field: the exact sum of field lengths (tokens), live and deleted docs
 * alike (as Lucene). */
uint64_t nx_segment_field_tokens(const nx_segment *s, int field);
/* Norm bytes of a field, doc_count of them. */
const uint8_t *nx_segment_norms(const nx_segment *s, int field);

/* Dates: seconds since the epoch, NX_NO_DATE when unknown. Doc ids are in
 * ascending date order, undated documents first, so a date range is a
 * doc-id range: [*first, *end) holds exactly the docs with lo <= date <= hi. */
int64_t nx_segment_date(const nx_segment *s, uint32_t doc);
void nx_segment_date_range(const nx_segment *s, int64_t lo, int64_t hi, uint32_t *first,
                           uint32_t *end);

/* Near-duplicate hash of a doc (index/simhash.h); NX_SIMHASH_NONE (0) for
 * docs without one, which includes every doc of a segment written before
 * the column existed. */
uint64_t nx_segment_simhash(const nx_segment *s, uint32_t doc);
/* true when the segment has the near-duplicate column. */
bool nx_segment_has_simhash(const nx_segment *s);

/* Columns for hits and facets, no doc store needed. The id of doc: its
 * bytes (not NUL-terminated, valid while the segment is open) and *len, or
 * NULL when its block of the id column is damaged (name
 * nx_segment_columns_path in the error) or memory is short. Its block of
 * NX_ID_BLOCK ids is expanded on first use; any thread may call it. */
const char *nx_segment_id(const nx_segment *s, uint32_t doc, size_t *len);
/* Source ordinal of a doc (0 = no source) and the ordinal's text. */
uint32_t nx_segment_source_ord(const nx_segment *s, uint32_t doc);
uint32_t nx_segment_source_count(const nx_segment *s); /* ordinals 1..count */
const char *nx_segment_source_name(const nx_segment *s, uint32_t ord, size_t *len);

/* Term lookup: 1 (found, *out filled), 0 (absent), <0 (corrupt). */
int nx_segment_lookup(const nx_segment *s, int field, const char *term, size_t len,
                      nx_term_info *out);
/* Calls fn for each term of field that starts with prefix (empty prefix:
 * every term), in sorted order; fn returns non-zero to stop (that value is
 * returned). Prefix and fuzzy queries walk the dictionary with this. */
typedef int (*nx_term_fn)(void *ctx, const char *term, size_t len, const nx_term_info *info);
int nx_segment_terms(const nx_segment *s, int field, const char *prefix, size_t len,
                     nx_term_fn fn, void *ctx);

/* Stored fields of a doc (via the doc store). */
typedef struct nx_docstore_scratch nx_docstore_scratch;
int nx_segment_stored(const nx_segment *s, uint32_t doc, nx_docstore_scratch *scratch,
                      nx_err *err, const newsidx_field **fields, size_t *n);

/* Postings iterator. Lives in caller memory (stack or arena); no malloc.
 * After open, doc() is the first doc. Doc ids increase; NX_NO_DOC at end.
 * Deleted docs are NOT filtered here (the caller checks nx_segment_is_live). */
/* Private: a cursor over a term's skip entries (one per block of NX_BLOCK docs). */
typedef struct nx_skip_cursor {
    const uint8_t *p;       /* next skip entry to read */
    uint32_t block;         /* block described below */
    uint32_t last_doc;      /* its last doc */
    uint32_t prev_last;     /* last doc of the block before (delta base) */
    uint64_t data_off;      /* its bytes, from the first block's start */
    uint64_t data_len;
    uint64_t pblock, poff;  /* positions block holding its first position, byte offset */
    uint32_t pin;           /* index of its first position inside that block */
    uint32_t max_tf;
    uint8_t min_norm;
} nx_skip_cursor;

typedef struct nx_postings {
    /* private: decoding state */
    const nx_segment *seg;
    const uint8_t *blocks, *end;  /* first block's bytes; end of the postings file */
    const uint8_t *pos_base, *pos_end;
    /* limits the skip entries are checked against (kept here, not derived
     * per entry: advance walks entries in the hot loops) */
    uint64_t blocks_bytes, pos_bytes, pos_blocks; /* end - blocks, pos_end - pos_base, cf / NX_BLOCK */
    uint32_t doc_limit;            /* the segment's doc count */
    uint32_t df, n_blocks, last_block; /* last_block: n_blocks if a tail exists */
    uint32_t block;                /* index of the decoded block */
    uint32_t i, n_in_block;        /* cursor inside the decoded block */
    uint32_t doc;
    uint64_t cf;
    uint32_t term_max_tf;
    uint8_t term_min_norm;
    const uint8_t *norms;          /* the field's norms (block-max of the tail) */
    const uint8_t *pulsed, *pulsed_end; /* inline posting of a df == 1 term */
    nx_skip_cursor dc;             /* the decoded block's entry */
    nx_skip_cursor sc;             /* the shallow cursor's entry */
    const uint8_t *freq_src;       /* the decoded block's packed freqs, until decoded (lazily) */
    /* the tail's block-max data once a cursor reached it (the other cursor
     * then does not decode it again), and whether docs/freqs hold the tail
     * decoded for the doc cursor (load_block then does not either) */
    bool tail_known, tail_in_docs;
    uint8_t tail_min_norm;
    uint32_t tail_max_tf, tail_last;
    uint32_t docs[NX_BLOCK], freqs[NX_BLOCK];
    /* positions */
    bool want_positions;
    uint32_t acc_i;                /* freqs of docs [0, acc_i) of the block sum to acc */
    uint64_t acc;
    uint64_t pc_block;             /* positions block the position cursor is on */
    const uint8_t *pc_ptr;         /* its bytes */
    bool pc_decoded;
    uint32_t pc_vals[NX_BLOCK];
    uint32_t pos_buf_cap;
    uint32_t *pos_buf;             /* pos_inline or a grown malloc'd buffer */
    uint32_t pos_inline[64];
    bool cum_ok;                   /* cum holds the decoded block's freq prefix sums */
    uint64_t cum[NX_BLOCK];            /* cum[k]: freqs of docs [0, k) of the block */
} nx_postings;

/* Opens an iterator on a term's postings. want_positions: positions will be
 * read (phrase/proximity/snippets); otherwise the positions file is never
 * touched. Returns 0 or NEWSIDX_ERR_CORRUPT. */
int nx_postings_open(nx_postings *it, const nx_segment *s, const nx_term_info *ti,
                     bool want_positions);
static inline uint32_t nx_postings_doc(const nx_postings *it) { return it->doc; }
/* Next doc, or NX_NO_DOC. */
uint32_t nx_postings_next(nx_postings *it);
/* First doc >= target (target > current doc), or NX_NO_DOC. Uses skips. */
uint32_t nx_postings_advance(nx_postings *it, uint32_t target);
/* Decodes the current block's freqs (private: nx_postings_freq does it on
 * first use). */
void nx_postings_decode_freqs(nx_postings *it);
/* Term frequency in the current doc. A block's freqs are decoded on first
 * use (counting never needs them); if they are damaged, every freq of the
 * block reads 1 and the iterator ends after the current doc. */
static inline uint32_t nx_postings_freq(nx_postings *it) {
    if (it->freq_src) nx_postings_decode_freqs(it);
    return it->freqs[it->i];
}
/* Positions of the term in the current doc, increasing; returns their count
 * (= freq) and sets *pos. Valid until the iterator moves. <0 if corrupt. */
int nx_postings_positions(nx_postings *it, const uint32_t **pos);
/* The same as deltas: (*deltas)[0] is the first position, (*deltas)[j] the
 * gap from position j - 1 to position j. Usually points into the decoded
 * block (no copy): phrase matching sums them on the fly. Valid until the
 * iterator moves or positions of the current doc are asked for again. */
int nx_postings_deltas(nx_postings *it, const uint32_t **deltas);
/* Block-max data: moves the skip cursor (not the doc cursor) to the block
 * that may contain target and returns that block's last doc (NX_NO_DOC when
 * target is past the last doc). */
uint32_t nx_postings_shallow_advance(nx_postings *it, uint32_t target);
/* Upper-bound data of the skip cursor's block: the largest tf in it and the
 * smallest norm byte (shortest doc) in it. Score(max_tf, min_norm) bounds the
 * score of every doc of the block. */
void nx_postings_block_max(const nx_postings *it, uint32_t *max_tf, uint8_t *min_norm);
/* Same, over the whole postings list (for MaxScore / WAND term bounds). */
void nx_postings_term_max(const nx_postings *it, uint32_t *max_tf, uint8_t *min_norm);
void nx_postings_close(nx_postings *it); /* frees a grown position buffer */

/* Block-wise access, for the query engine's tight loops (intersections,
 * single-term top k) that walk decoded arrays instead of calling next or
 * advance per doc. Only while doc() != NX_NO_DOC: the decoded block's doc
 * ids (increasing; the last one is the block's last doc), its freqs, the
 * cursor's index in it (*cur) and its length (*n). */
static inline const uint32_t *nx_postings_block_docs(const nx_postings *it, uint32_t *cur,
                                                     uint32_t *n) {
    *cur = it->i;
    *n = it->n_in_block;
    return it->docs;
}
static inline const uint32_t *nx_postings_block_freqs(nx_postings *it) {
    if (it->freq_src) nx_postings_decode_freqs(it);
    return it->freqs;
}
/* The first index k in [from, n) with docs[k] >= x, when docs[n - 1] >= x
 * (docs increasing): a few linear steps when x is near, else a branch-free
 * binary search (a dense list's block may hold a hundred docs before x). */
static inline uint32_t nx_block_seek(const uint32_t *docs, uint32_t from, uint32_t n, uint32_t x) {
    if (docs[from] >= x) return from;
    if (from + 8 < n && docs[from + 8] >= x) {
        while (docs[from] < x) from++;
        return from;
    }
    const uint32_t *b = docs + from;
    uint32_t len = n - from;
    while (len > 1) {
        uint32_t half = len / 2;
        b = b[half - 1] < x ? b + half : b;
        len -= half;
    }
    return (uint32_t)(b - docs);
}
/* nx_postings_advance with its common case inline: target is in the
 * decoded block (or the cursor is already at or past it). */
static inline uint32_t nx_postings_advance_near(nx_postings *it, uint32_t target) {
    if (it->doc >= target) return it->doc; /* NX_NO_DOC is above any target */
    if (it->docs[it->n_in_block - 1] >= target) {
        it->i = nx_block_seek(it->docs, it->i, it->n_in_block, target);
        return it->doc = it->docs[it->i];
    }
    return nx_postings_advance(it, target);
}
/* Moves the doc cursor to index k (< *n) of the decoded block: forward
 * only (k at or after the cursor), so positions stay in step. */
static inline void nx_postings_seek_in_block(nx_postings *it, uint32_t k) {
    it->i = k;
    it->doc = it->docs[k];
}

/* A snapshot: the segments of one commit, reference counted by the reader. */
typedef struct nx_snapshot {
    uint64_t generation;
    uint32_t n_segments;
    nx_segment **segments;
    uint64_t live_docs;                 /* sum of live docs */
    uint64_t field_docs[NX_N_FIELDS];   /* global stats for BM25, summed over segments */
    uint64_t field_tokens[NX_N_FIELDS];
    uint64_t total_docs;                /* docs incl. deleted: BM25's N (as Lucene's maxDoc... see FORMAT.md) */
    char *stem_language;                /* analyzer settings the index was built with */
    char *stopwords_language;
} nx_snapshot;

/* The reader's snapshot (struct newsidx_reader is private to index/). */
const nx_snapshot *nx_reader_snapshot(const newsidx_reader *r);

#endif
