/* fuzz_segment — structure-aware libFuzzer harness for the segment
 * decoders. The crafted index of tests/fuzz/nx_crafted.h is built once;
 * each input sets decoded fields of segment 1's files (any field of
 * docs/FORMAT.md: footer, postings and skip entries, positions, dictionary
 * and its values, norms, columns and ids, doc store and its records,
 * tombstones, manifest) to values it chooses, with varints re-encoded,
 * compressed sections recompressed and the XXH3 footer recomputed; then
 * it opens that one segment through the internal API (nx_segment_open; the
 * snapshot only for manifest fields) and walks what queries walk: term
 * lookups and prefix walks, postings with next, advance, shallow advance,
 * block-max data and positions, ids, sources, dates, stored fields. About
 * a thousand times faster per input than fuzz_index, which reopens the
 * whole index through the CLI path.
 *
 * Input, in records of 11 bytes (up to 3 records; fields in one file are
 * applied to the original, the last one wins):
 *   u16 field (modulo the number of fields), u8 file for footer fields,
 *   u8 how: < 0x80 the how-th extreme of nxc_values, else the u64 below,
 *   u56 value (7 bytes, little endian);
 * then the bytes left pick query targets (term index, doc, advance step).
 * Property: no crash, leak or out-of-bounds access, and every call
 * returns its documented codes. */
#undef NDEBUG
#include "index/docstore.h"
#include "nx_crafted.h"

#include <assert.h>

/* tmpfs: every input rewrites a file or two, and ext4 flushes a file
 * renamed over another (a third of the time went there) */
static char g_dir[] = "/dev/shm/nx_fuzz_segment_XXXXXX";
static nxc_index g_x;

static void cleanup(void) {
    nxc_free(&g_x);
    nxf_rmtree(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (!mkdtemp(g_dir) || nxc_build(&g_x, g_dir) != 0) abort();
    atexit(cleanup);
    return 0;
}

/* Walks one term's postings as the query loops do. */
static void walk_term(const nx_segment *s, const nx_term_info *ti, uint32_t step) {
    for (int want_pos = 0; want_pos < 2; want_pos++) {
        nx_postings it;
        int rc = nx_postings_open(&it, s, ti, want_pos);
        assert(rc == 0 || rc == NEWSIDX_ERR_CORRUPT);
        if (rc) {
            nx_postings_close(&it);
            continue;
        }
        uint32_t tf;
        uint8_t norm;
        nx_postings_term_max(&it, &tf, &norm);
        uint32_t n = 0, prev = 0;
        for (uint32_t d = nx_postings_doc(&it); d != NX_NO_DOC && n < 2000; n++) {
            assert(d < nx_segment_doc_count(s) && (n == 0 || d > prev));
            prev = d;
            (void)nx_postings_freq(&it);
            if (want_pos) {
                const uint32_t *pos;
                int np = nx_postings_positions(&it, &pos);
                assert(np >= 0 || np == NEWSIDX_ERR_CORRUPT);
                for (int j = 0; j < np; j++) (void)pos[j];
            }
            uint32_t last = nx_postings_shallow_advance(&it, d + 1);
            if (last != NX_NO_DOC) nx_postings_block_max(&it, &tf, &norm);
            d = (n & 1) ? nx_postings_advance(&it, d + 1 + step % 64) : nx_postings_next(&it);
        }
        nx_postings_close(&it);
    }
}

static int count_term(void *ctx, const char *term, size_t len, const nx_term_info *info) {
    (void)term;
    (void)len;
    (void)info;
    return ++*(int *)ctx >= 50;
}

static void exercise(const uint8_t *pick, size_t n_pick) {
    nx_err err = {0};
    nx_segment *s = NULL;
    int rc = nx_segment_open(g_dir, 1, g_x.del_gen, &err, &s);
    assert((rc == 0) == (s != NULL));
    if (rc) {
        assert(rc == NEWSIDX_ERR_CORRUPT || rc == NEWSIDX_ERR_VERSION || rc == NEWSIDX_ERR_NOT_FOUND);
        assert(strstr(err.msg, "seg_1.") != NULL);
        return;
    }
    const size_t terms[] = {g_x.t_blocks, g_x.t_vtail, g_x.t_small, g_x.t_pulsed, g_x.t_vpos,
                            g_x.t_ptail, n_pick ? pick[0] * g_x.n_terms / 256 : 0};
    uint32_t step = n_pick > 1 ? pick[1] : 7;
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        if (terms[i] >= g_x.n_terms) continue;
        const uint8_t *key = g_x.keys[terms[i]];
        nx_term_info ti;
        int found = nx_segment_lookup(s, key[0], (const char *)key + 1, g_x.key_len[terms[i]] - 1, &ti);
        assert(found >= 0 || found == NEWSIDX_ERR_CORRUPT);
        if (found == 1) walk_term(s, &ti, step);
    }
    int seen = 0;
    rc = nx_segment_terms(s, 1, "ma", 2, count_term, &seen);
    assert(rc >= 0 || rc == NEWSIDX_ERR_CORRUPT);
    uint32_t n = nx_segment_doc_count(s), first, end;
    nx_segment_date_range(s, 1600000000, 1700000000, &first, &end);
    assert(first <= end && end <= n);
    nx_docstore_scratch scratch;
    nx_docstore_scratch_init(&scratch);
    for (uint32_t k = 0; k < 4 && n; k++) {
        uint32_t d = (k * 97 + (n_pick > 2 ? pick[2] : 0)) % n;
        size_t len;
        (void)nx_segment_id(s, d, &len);
        (void)nx_segment_source_name(s, nx_segment_source_ord(s, d), &len);
        assert(nx_segment_source_ord(s, d) <= nx_segment_source_count(s));
        const newsidx_field *f;
        size_t nf;
        rc = nx_segment_stored(s, d, &scratch, &err, &f, &nf);
        assert(rc == 0 || rc == NEWSIDX_ERR_CORRUPT);
        if (rc) assert(strstr(err.msg, "seg_1.") != NULL);
        for (size_t j = 0; rc == 0 && j < nf; j++) (void)f[j].value[f[j].value_len ? f[j].value_len - 1 : 0];
    }
    nx_docstore_scratch_free(&scratch);
    (void)nx_segment_find_id(s, "g-7", 3);
    nx_segment_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bool manifest = false;
    size_t i = 0;
    for (int r = 0; r < 3 && size - i >= 11; r++, i += 11) {
        const uint8_t *p = data + i;
        int id = (p[0] | p[1] << 8) % NXC_N_FIELDS;
        nxc_loc L;
        if (nxc_locate(&g_x, id, p[2] % NXC_N_FILES, &L)) continue;
        uint64_t v = 0;
        for (int k = 0; k < 7; k++) v |= (uint64_t)p[4 + k] << (8 * k);
        if (p[3] < 0x80) {
            uint64_t vals[16];
            size_t nv = nxc_values(id, &L, vals);
            v = vals[p[3] % nv];
        } else if (L.width && L.width < 8) {
            v &= ((uint64_t)1 << (8 * L.width)) - 1;
        }
        if (nxc_apply(&g_x, &L, v)) abort();
        manifest |= L.file == NXC_MANIFEST;
    }
    if (manifest) {
        /* manifest fields are read by the snapshot, not the segment */
        nx_err err = {0};
        nx_snapshot *snap = NULL;
        int rc = nx_snapshot_open(g_dir, &err, &snap);
        assert(rc == 0 || rc == NEWSIDX_ERR_CORRUPT || rc == NEWSIDX_ERR_VERSION ||
               rc == NEWSIDX_ERR_NOT_FOUND);
        if (rc == 0) nx_snapshot_free(snap);
    } else {
        exercise(data + i, size - i);
    }
    if (nxc_restore(&g_x)) abort();
    return 0;
}
