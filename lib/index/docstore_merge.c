/* index/docstore_merge — merges doc stores into a writer: copies or recompresses their blocks. */
#include "docstore_internal.h"

#include <stdlib.h>
#include <string.h>

int nx_docstore_writer_begin_merge(nx_docstore_writer *w, uint32_t n_docs, bool compact) {
    if (w->rc) return w->rc;
    if (w->n_docs || w->merging || w->finished || w->train.len)
        return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "merge into a used writer");
    /* A merge brings its inputs' dictionaries (or the run's): it trains
     * none of its own. */
    w->training = false;
    w->merging = true;
    w->compact = compact;
    w->merge_docs = n_docs;
    w->map = malloc(((size_t)n_docs + 1) * sizeof *w->map);
    if (!w->map) return nx_ds_fail(w, NEWSIDX_ERR_NOMEM, "out of memory");
    memset(w->map, 0xff, ((size_t)n_docs + 1) * sizeof *w->map);
    return 0;
}

/* in's record number r's doc, or UINT32_MAX */
static uint32_t rec_doc(const nx_docstore *in, const uint32_t *inv, uint32_t r) {
    return in->map ? inv[r] : r;
}

/* Whether in's name codes mean the same names in w (extending w's table
 * with in's further names when w's is a prefix of in's). */
static int names_compatible(nx_docstore_writer *w, const nx_docstore *in, bool *ok) {
    *ok = false;
    uint32_t common = NX_MIN(w->n_names, in->n_names);
    const uint8_t *p = w->names_out.data, *end = p ? p + w->names_out.len : p;
    for (uint32_t k = 0; k < common; k++) {
        uint64_t l;
        if (nx_varint_decode(&p, end, &l) < 0) return 0;
        if (l != strlen(in->names[k]) || memcmp(p, in->names[k], l) != 0) return 0;
        p += l;
    }
    for (uint32_t k = common; k < in->n_names; k++) {
        uint32_t code;
        NX_FORWARD(nx_ds_name_code(w, in->names[k], strlen(in->names[k]), &code));
        if (code != k + 1) return 0; /* already there under another code */
    }
    *ok = true;
    return 0;
}

/* Gives a merge writer without a dictionary the one of in's slot k (1-based)
 * to compress with: most blocks of a merge are copied, so the few it
 * compresses again use what the inputs were written with. */
static int adopt_input_dict(nx_docstore_writer *w, const nx_docstore *in, uint32_t k) {
    nx_buf raw = {0};
    uint64_t off, hash;
    uint32_t bytes, raw_bytes;
    in_dict(in, k, &off, &bytes, &raw_bytes, &hash);
    int rc = nx_ds_inflate_dict(in, k, &raw, w->err);
    if (rc == 0) rc = nx_ds_set_dict(w, raw.data, raw.len);
    if (rc == 0) rc = nx_buf_append(&w->dict_frame, in->data + off, bytes);
    nx_buf_free(&raw);
    if (rc == NEWSIDX_ERR_NOMEM) return nx_ds_fail(w, rc, "out of memory");
    if (rc < 0) return rc;
    w->dict_hash = hash;
    w->dict_raw_bytes = raw_bytes;
    return 0;
}

/* Adds the live records of in's block b one by one (decoded, compressed
 * again with w's dictionary); inv: record -> in's doc. */
static int recompress_block(nx_docstore_writer *w, const nx_docstore *in, uint64_t b,
                            const uint32_t *map, const uint32_t *inv, nx_docstore_scratch *sc) {
    /* The dictionary is digested on the first block compressed again, not
     * at the merge's start: most merges copy every block. */
    if (!w->cdict && nx_ds_adopt_shared(w)) return nx_ds_fail(w, NEWSIDX_ERR_NOMEM, "out of memory");
    if (!w->cdict && block_dict(in, b)) NX_FORWARD(adopt_input_dict(w, in, block_dict(in, b)));
    for (uint32_t r = block_first(in, b); r < block_first(in, b + 1); r++) {
        uint32_t d = rec_doc(in, inv, r);
        if (d == UINT32_MAX || map[d] == UINT32_MAX) continue;
        if (map[d] >= w->merge_docs || w->map[map[d]] != UINT32_MAX)
            return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "merge doc map is not one-to-one");
        const newsidx_field *f;
        size_t nf;
        NX_FORWARD(nx_ds_get_rec(in, r, sc, w->err, &f, &nf));
        size_t start = w->block.len;
        NX_FORWARD(nx_ds_encode_doc(w, &w->block, f, nf));
        /* placed for now; write_block gives it its record */
        w->map[map[d]] = UINT32_MAX - 1;
        NX_FORWARD(nx_buf_put_u32le(&w->pending, map[d]));
        NX_FORWARD(nx_ds_place_record(w, start));
    }
    return 0;
}

static int merge_input(nx_docstore_writer *w, const nx_docstore *in, const uint32_t *map,
                       nx_docstore_scratch *sc, nx_docstore_merge_stats *st, uint32_t **inv_out) {
    bool names_ok;
    NX_FORWARD(names_compatible(w, in, &names_ok));
    uint32_t *inv = NULL;
    if (in->map) { /* record -> doc */
        inv = *inv_out = malloc(((size_t)in->n_recs + 1) * sizeof *inv);
        if (!inv) return nx_ds_fail(w, NEWSIDX_ERR_NOMEM, "out of memory");
        memset(inv, 0xff, ((size_t)in->n_recs + 1) * sizeof *inv);
        for (uint32_t d = 0; d < in->n_docs; d++) {
            uint32_t r = nx_load_u32le(in->map + 4 * (size_t)d);
            if (r >= in->n_recs || inv[r] != UINT32_MAX)
                return nx_ds_corrupt(w->err, "doc map is not one-to-one",
                                     (uint64_t)(in->map - in->data));
            inv[r] = d;
        }
    }
    uint64_t live_copied = 0;
    for (uint64_t b = 0; b < in->n_blocks; b++) {
        uint32_t first = block_first(in, b), n_rec = block_first(in, b + 1) - first, live = 0;
        for (uint32_t r = first; r < first + n_rec; r++) {
            uint32_t d = rec_doc(in, inv, r);
            live += d != UINT32_MAX && map[d] != UINT32_MAX;
        }
        if (live == 0) continue;
        /* Copied as it is when at least half its records are live: the
         * dead ones stay as garbage, so no block of any store is more
         * than half garbage (counted in records) however often it is
         * merged again. A compacting merge (an optimize, a forced merge,
         * a segment rewritten for its deletions) copies only blocks at
         * least 9 in 10 live: deleting every other article and
         * optimizing left blocks half garbage, the store up to 1.3x a
         * fresh one's (tests/test_living.c). A new dictionary is brought
         * in only while one slot stays free for the writer's own. */
        uint32_t k = block_dict(in, b), slot = 0;
        bool copy = names_ok && (w->compact ? (uint64_t)live * 10 >= (uint64_t)n_rec * 9
                                            : (uint64_t)live * 2 >= n_rec);
        if (copy && k) {
            uint64_t off, hash;
            uint32_t bytes, raw;
            in_dict(in, k, &off, &bytes, &raw, &hash);
            bool known = false;
            for (uint32_t j = 0; j < w->n_dicts; j++)
                known |= w->dicts[j].hash == hash && w->dicts[j].raw_bytes == raw;
            uint32_t reserve = w->dict_slot ? 0 : 1;
            if (!known && w->n_dicts + 1 + reserve > DS_MAX_DICTS) copy = false;
            else NX_FORWARD(nx_ds_dict_slot(w, in->data + off, bytes, hash, raw, &slot));
        }
        if (!copy) {
            NX_FORWARD(recompress_block(w, in, b, map, inv, sc));
            st->blocks_recompressed++;
            st->records_recompressed += live;
            continue;
        }
        for (uint32_t r = first; r < first + n_rec; r++) {
            uint32_t d = rec_doc(in, inv, r);
            if (d == UINT32_MAX || map[d] == UINT32_MAX) continue;
            if (map[d] >= w->merge_docs || w->map[map[d]] != UINT32_MAX)
                return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "merge doc map is not one-to-one");
            w->map[map[d]] = w->n_recs + (r - first);
        }
        NX_FORWARD(nx_ds_put_block(w, in->data + block_off(in, b), block_len(in, b),
                                   block_raw(in, b), n_rec, slot));
        st->blocks_copied++;
        st->records_copied += live;
        st->dead_records_copied += n_rec - live;
        live_copied += live;
    }
    /* Statistics only: a copied block's live raw bytes are not known
     * without decoding it, so they count as the input's average. */
    if (in->n_docs) w->raw_bytes += (uint64_t)((double)in->raw_bytes * live_copied / in->n_docs);
    return 0;
}

void nx_docstore_writer_set_err(nx_docstore_writer *w, nx_err *err) {
    w->err = err;
    nx_wfile_set_err(w->f, err);
}

int nx_docstore_merge_input(nx_docstore_writer *w, const nx_docstore *in, const uint32_t *map,
                            nx_docstore_scratch *sc, nx_docstore_merge_stats *st) {
    if (w->rc) return w->rc;
    if (!w->merging || w->finished) return nx_ds_fail(w, NEWSIDX_ERR_INVALID, "not a merge");
    nx_docstore_merge_stats local = {0};
    uint32_t *inv = NULL;
    int rc = merge_input(w, in, map, sc, st ? st : &local, &inv);
    free(inv);
    if (rc < 0 && w->rc == 0) w->rc = rc;
    return rc;
}
