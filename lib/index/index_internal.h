/* index/index_internal — private to lib/index: file kinds, the segment and
 * reader structs, the segment builder shared by flush and merge, the
 * manifest. Byte layouts: docs/FORMAT.md. */
#ifndef NX_INDEX_INTERNAL_H
#define NX_INDEX_INTERNAL_H

#include "index/docstore.h"
#include "index/segment.h"
#include "index/termdict.h"

#include <pthread.h>

/* Footer kinds (util.h footer, u32 "kind"). */
enum {
    NX_FILE_MANIFEST = 1,
    NX_FILE_POSTINGS = 2,
    NX_FILE_POSITIONS = 3,
    NX_FILE_DICT = 4,
    NX_FILE_NORMS = 5,
    NX_FILE_COLUMNS = 6,
    NX_FILE_DOCSTORE = 7,
    NX_FILE_TOMBSTONES = 8,
};

/* A term found in at most NX_PULSE_MAX_DF documents with at most
 * NX_PULSE_MAX_CF occurrences keeps its postings and positions inside its
 * dictionary value ("pulsing"): no offsets, no bytes in .post/.pos. */
#define NX_PULSE_MAX_DF 16
#define NX_PULSE_MAX_CF 64
/* Tails (the last df % NX_BLOCK docs, the last cf % NX_BLOCK positions) of at least
 * this many values are bit-packed (PFOR); shorter ones are varints. */
#define NX_TAIL_PACK_MIN 8
/* Segment limits (documented in FORMAT.md). */
#define NX_MAX_SEGMENT_DOCS 0x7fffffffu

/* Ids per front-coded block in the column file. */
#define NX_ID_BLOCK 16
/* Column file magic and header size. */
#define NX_COL_MAGIC 0x4c43584eu /* "NXCL" */
#define NX_NORM_MAGIC 0x4d4e584eu /* "NXNM" */
#define NX_MANIFEST_MAGIC 0x464d584eu /* "NXMF" */
#define NX_DEL_MAGIC 0x4c44584eu /* "NXDL" */

struct nx_segment {
    int refs;                  /* snapshots and writers holding it (atomic); starts at 1 */
    /* NULL, or the segment whose files and tables this one shares: the same
     * segment with a newer tombstone file (nx_segment_with_tombstones). Such
     * a segment owns only del, deleted, live_count and del_gen. */
    nx_segment *core;
    uint32_t seg_no;
    uint32_t doc_count, live_count;
    uint32_t del_gen;          /* generation of the tombstone file, 0 = none */
    nx_rfile post, pos, dict, norm, col, docs, del;
    nx_termdict *termdict;     /* over the mapped .dict file */
    nx_docstore *docstore;     /* NULL when only ids are stored */
    const uint8_t *deleted;    /* bitmap (doc_count bits) or NULL */
    /* views into the column file */
    uint32_t field_docs[NX_N_FIELDS];
    uint64_t field_tokens[NX_N_FIELDS];
    uint64_t raw_text_bytes, raw_stored_bytes;
    const uint8_t *dates;      /* i64 LE per doc, NULL when no doc is dated */
    const uint8_t *simhashes;  /* u64 LE per doc, NULL in segments without them */
    /* Ids are front-coded on disk in blocks of NX_ID_BLOCK and a block is
     * expanded on its first use into id_cache (one slot per block, set
     * once with an atomic compare-and-swap; a view shares its core's). */
    const uint8_t *id_blocks;  /* u32 LE per block: its offset in id_bytes, then id_total */
    const uint8_t *id_bytes;   /* the front-coded blocks, mapped */
    uint32_t id_total, n_id_blocks;
    struct nx_id_block **id_cache;
    /* The id lookup: (top 32 bits of the id's XXH3-64) << 32 | doc per
     * doc, sorted, built on the first lookup (readers that only search
     * never pay for it). */
    uint64_t *id_perm_keys;
    int id_perm_state;         /* 0 not built, 1 built, <0 error (atomic) */
    pthread_mutex_t id_perm_lock;
    const uint8_t *src_ords;   /* src_width bytes LE per doc (none when 0) */
    uint32_t src_width;
    uint32_t n_sources;
    const uint8_t *src_offs;   /* u32 LE, n_sources + 1 */
    const uint8_t *src_bytes;
    const uint8_t *norms[NX_N_FIELDS]; /* doc_count bytes each */
    uint8_t *zero_norms;       /* in memory: for fields the norms file omits */
};

/* Opens segment seg_no of dir (all files, footers verified; del_gen 0 = no
 * tombstones). */
int nx_segment_open(const char *dir, uint32_t seg_no, uint32_t del_gen, nx_err *err,
                    nx_segment **out);
/* nx_segment_open for a segment a manifest names: each file's footer
 * checksum must be the manifest's record of it (sums[NX_SEG_FILES];
 * NULL: not checked), or NEWSIDX_ERR_CORRUPT naming the file. */
int nx_segment_open_expect(const char *dir, uint32_t seg_no, uint32_t del_gen, const uint64_t *sums,
                           nx_err *err, nx_segment **out);
/* NEWSIDX_ERR_CORRUPT naming f unless its footer checksum is sums[which]
 * (0 when sums is NULL). */
int nx_rfile_expect(const nx_rfile *f, const uint64_t *sums, int which, nx_err *err);
/* Drops one reference; the last one closes the segment. */
void nx_segment_close(nx_segment *s);
/* Maps the tombstone file of generation del_gen into s: the deleted
 * bitmap and the live count (segref.c). sum: the footer checksum the
 * manifest records for it (0: not checked). */
int nx_segment_open_tombstones(nx_segment *s, const char *dir, uint32_t del_gen, uint64_t sum,
                               nx_err *err);
/* Adds a reference (a refreshed snapshot sharing the segment). */
void nx_segment_ref(nx_segment *s);
/* The same segment with the tombstones of generation del_gen (0 = none):
 * shares s's files, dictionary and tables, opens only the tombstone file
 * (whose checksum must be sum, as nx_segment_open_tombstones). */
int nx_segment_with_tombstones(nx_segment *s, const char *dir, uint32_t del_gen, uint64_t sum,
                               nx_err *err, nx_segment **out);
/* The same segment with the caller's deletion bitmap (n_deleted docs set),
 * which must outlive it: how the writer searches its own uncommitted state. */
int nx_segment_view(nx_segment *s, const uint8_t *deleted, uint32_t n_deleted, nx_err *err,
                    nx_segment **out);
/* Finds the doc holding id (live or not, the last one if several): doc or
 * NX_NO_DOC (also when the ids are damaged or memory is short: the first
 * lookup expands every id block). */
uint32_t nx_segment_find_id(const nx_segment *s, const char *id, size_t len);
/* A walk over a segment's ids that leaves its id cache alone (a merge
 * reads every id of its inputs once: cached, they took ~13 bytes a doc of
 * the inputs until the merge closed them). */
typedef struct nx_id_walk {
    struct nx_id_block *blk; /* the block decoded last, or NULL; free() it */
    size_t k;                /* its number */
} nx_id_walk;
/* nx_segment_id from the cache if the doc's block is there, else from
 * w's one decoded block (decoding it when the walk reaches another). */
const char *nx_segment_id_walk(const nx_segment *s, uint32_t doc, nx_id_walk *w, size_t *len);
/* Drops the segment's mapped pages from the process (they stay in the page
 * cache): a merge reads whole inputs once, and without this their pages
 * would count in the writer's resident memory until it closes. */
void nx_segment_release_pages(const nx_segment *s);
/* The same for the doc store's pages alone, and for all the others: a
 * merge copies the doc store on a thread beside those that read the
 * other files. */
void nx_segment_release_docstore_pages(const nx_segment *s);
void nx_segment_release_index_pages(const nx_segment *s);
/* Bytes per part of a segment (for stats). */
void nx_segment_sizes(const nx_segment *s, newsidx_stats *st);
/* Parses a dictionary value of field into *ti. 0 or CORRUPT. */
int nx_segment_term_value(const nx_segment *s, int field, const uint8_t *value, size_t len,
                          nx_term_info *ti);

/* ---- segment builder: flush and merge both write segments with it ------ */
typedef struct nx_segbuild nx_segbuild;
typedef struct nx_segbuild_opts {
    bool store_fields;
    int doc_store_level;
    uint32_t doc_store_block_bytes;
    bool no_sync; /* segment files are not fsynced (newsidx_writer_options.no_sync) */
    nx_docstore_shared *doc_dict; /* the writer run's doc store dictionary (may be NULL) */
} nx_segbuild_opts;
int nx_segbuild_create(const char *dir, uint32_t seg_no, uint32_t n_docs,
                       const nx_segbuild_opts *o, nx_err *err, nx_segbuild **out);
/* Bytes b holds in memory that could grow with the segment, apart from
 * the norms (one byte per doc and field) and the doc store writer: what a
 * test bounds (the term and column scratch, the dictionary builder). */
size_t nx_segbuild_held_bytes(const nx_segbuild *b);
/* Norm bytes of field (n_docs of them), to be filled before the first term. */
uint8_t *nx_segbuild_norms(nx_segbuild *b, int field);
/* Adds the next doc (doc ids 0, 1, ... in order) with its column values
 * and stored fields (ignored when fields are not stored). */
int nx_segbuild_doc(nx_segbuild *b, int64_t date, const char *id, size_t id_len,
                    const char *source, size_t source_len, uint32_t text_bytes,
                    const newsidx_field *fields, size_t n_fields);
/* The doc store writer of a segment built by a merge (NULL when fields are
 * not stored): the merge fills it with nx_docstore_merge_input, and
 * nx_segbuild_doc then leaves it alone. */
nx_docstore_writer *nx_segbuild_merge_docstore(nx_segbuild *b);
/* true while the segment's doc store waits for the run's dictionary,
 * which another flush is training (nx_docstore_waits_for_dict). */
bool nx_segbuild_store_waits(const nx_segbuild *b);
/* Sets the near-duplicate hash (index/simhash.h) of the doc added last;
 * a doc never given one has NX_SIMHASH_NONE. 0 or NOMEM. */
int nx_segbuild_simhash(nx_segbuild *b, uint64_t simhash);
/* Adds a term's postings; terms in increasing (field, term) order; docs
 * increasing; positions: sum(freqs) values, per doc increasing. */
int nx_segbuild_term(nx_segbuild *b, int field, const uint8_t *term, size_t len, uint32_t n,
                     const uint32_t *docs, const uint32_t *freqs, const uint32_t *positions);
/* The same, streamed: begin, then each doc in increasing order with its
 * freq position deltas (the first position, then the gap to each next),
 * then end. The term's positions go to .pos a block at a time, so a merge
 * need not gather a frequent term's millions of positions. */
int nx_segbuild_term_begin(nx_segbuild *b, int field, const uint8_t *term, size_t len);
int nx_segbuild_term_doc(nx_segbuild *b, uint32_t doc, uint32_t freq, const uint32_t *deltas);
int nx_segbuild_term_end(nx_segbuild *b);
/* One term's postings gathered in any doc order (flush: from the RAM
 * buffer's stream; merge: from several segments): entry k is doc docs[k]
 * with freqs[k] positions at pos[starts[k] ..]. Grow-only scratch, reused
 * for every term: zero-initialize, empty with n = n_pos = 0, sorted = true. */
typedef struct nx_term_entries {
    uint32_t *docs, *freqs, *starts;
    size_t n, cap;
    uint32_t *pos;
    size_t n_pos, pos_cap;
    bool sorted;              /* docs were pushed in increasing order */
    uint32_t *pairs;          /* scratch of the sort: (doc, entry) */
    uint32_t *sorted_docs, *sorted_freqs, *sorted_pos;
} nx_term_entries;
/* Room for n entries and n_pos positions. 0 or NOMEM. */
int nx_term_entries_reserve(nx_term_entries *t, size_t n, size_t n_pos);
void nx_term_entries_free(nx_term_entries *t);
/* Appends an entry (capacity reserved) whose positions are
 * pos[start .. start + freq). */
static inline void nx_term_entries_push(nx_term_entries *t, uint32_t doc, uint32_t freq,
                                        size_t start) {
    if (t->n > 0 && doc < t->docs[t->n - 1]) t->sorted = false;
    t->docs[t->n] = doc;
    t->freqs[t->n] = freq;
    t->starts[t->n] = (uint32_t)start;
    t->n++;
}
/* nx_segbuild_term over the entries, sorted by doc first when needed. */
int nx_segbuild_entries(nx_segbuild *b, int field, const uint8_t *term, size_t len,
                        nx_term_entries *t);
int nx_segbuild_finish(nx_segbuild *b); /* writes and fsyncs every file; frees b */
void nx_segbuild_abort(nx_segbuild *b); /* removes the files; frees b; NULL ok */

/* File names: "seg_<n>.<ext>", tombstones "seg_<n>.del_<gen>". */
char *nx_segment_file(const char *dir, uint32_t seg_no, const char *ext);
/* Unlinks the six files of segment seg_no (not its tombstones): for a
 * segment no manifest names, such as a flush merged before any commit. */
void nx_segment_remove_files(const char *dir, uint32_t seg_no);
char *nx_tombstone_file(const char *dir, uint32_t seg_no, uint32_t gen);

/* ---- manifest ----------------------------------------------------------- */
/* A segment's files, in the order the manifest records their checksums. */
enum {
    NX_SEG_COL,
    NX_SEG_POST,
    NX_SEG_POS,
    NX_SEG_DICT,
    NX_SEG_NORM,
    NX_SEG_DOCS,
    NX_SEG_DEL,
    NX_SEG_FILES
};
typedef struct nx_manifest_seg {
    uint32_t seg_no, doc_count, del_count, del_gen;
    /* each file's footer checksum (0: the segment has no such file): binds
     * the commit to the very files its writer wrote */
    uint64_t sums[NX_SEG_FILES];
} nx_manifest_seg;
typedef struct nx_manifest {
    uint64_t generation;
    uint32_t next_seg_no;
    char *stem_language, *stopwords_language; /* NULL = none */
    uint32_t n_segments;
    nx_manifest_seg *segments;
} nx_manifest;
/* Highest generation with a MANIFEST file in dir (0 if none). A symbolic
 * link named like an index file (seg_*, MANIFEST-*, LOCK) is refused:
 * NEWSIDX_ERR_CORRUPT naming it. */
int nx_manifest_latest(const char *dir, nx_err *err, uint64_t *gen);
int nx_manifest_read(const char *dir, uint64_t gen, nx_err *err, nx_manifest *m);
/* Writes MANIFEST-<gen> atomically (temp, fsync, rename, fsync dir). */
/* sync = false: neither the manifest nor the directory is fsynced */
int nx_manifest_write(const char *dir, const nx_manifest *m, bool sync, nx_err *err);
void nx_manifest_free(nx_manifest *m);
/* Deletes files of dir that manifest m does not reference (old segments,
 * tombstones, manifests, temp files). Errors are ignored: leftovers are
 * deleted by the next commit. */
void nx_remove_unreferenced(const char *dir, const nx_manifest *m);
/* Checks that seg, opened for entry ms of dir's MANIFEST-<gen>, is what the
 * commit recorded: its doc and deletion counts, and every file's footer
 * checksum. NEWSIDX_ERR_CORRUPT naming the file that differs (a file
 * copied from another index or another segment has the right shape and
 * a checksum of its own). */
int nx_manifest_check_segment(const char *dir, uint64_t gen, const nx_manifest_seg *ms,
                              const nx_segment *seg, nx_err *err);
/* The footer checksums of seg's files (sums[NX_SEG_FILES], 0 where absent). */
void nx_segment_sums(const nx_segment *seg, uint64_t *sums);
/* Deletes what a writer made since its last commit: segment files numbered
 * first_seg_no or more, tombstones and the manifest of generation gen
 * (MANIFEST-<gen> first: a failed commit may have renamed it into place),
 * temp manifests. sync: fsync the directory after (errors are ignored: a
 * leftover is removed by the next writer). */
void nx_remove_uncommitted(const char *dir, uint32_t first_seg_no, uint64_t gen, bool sync);

/* ---- snapshot ----------------------------------------------------------- */
int nx_snapshot_open(const char *dir, nx_err *err, nx_snapshot **out);
void nx_snapshot_free(nx_snapshot *s);

/* Tombstone bitmap file writing (one bit per doc, 1 = deleted); *checksum
 * gets the file's footer checksum, for the manifest. */
int nx_tombstone_write(const char *dir, uint32_t seg_no, uint32_t gen, const uint8_t *bits,
                       uint32_t doc_count, bool sync, nx_err *err, uint64_t *checksum);

/* Parses a stored-fields record of the RAM buffer (varint n, then n x
 * (varint name_len, name, varint value_len, value); written by the writer's
 * newsidx_writer_add) into fields pointing into rec, using scratch as the
 * array store. Returns 0, NOMEM or CORRUPT. */
int nx_fields_parse(const uint8_t *rec, size_t len, nx_buf *scratch,
                    const newsidx_field **fields, size_t *n);

/* Puts a message into the writer's last error (newsidx_writer_errmsg):
 * newsidx_ingest_path fails on a writer without the writer failing. */
void nx_writer_set_error(newsidx_writer *w, int code, const char *msg);

/* A snapshot of the given segments (each gains a reference) with the
 * statistics a search needs; generation and analyzer settings as given. */
int nx_snapshot_of(nx_segment *const *segs, uint32_t n, uint64_t generation, const char *stem,
                   const char *stop, nx_err *err, nx_snapshot **out);
/* A reader over a snapshot (taken over: closing the reader frees it). It
 * cannot be refreshed: it has no directory. */
newsidx_reader *nx_reader_of(nx_snapshot *snap);

#endif
