/* index/manifest — MANIFEST-<gen> files (the only thing a commit swaps),
 * tombstone files, and the removal of files no manifest references.
 * Byte layout: docs/FORMAT.md, "Manifest" and "Tombstones". */
#include "index/index_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_VERSION 2
/* Per segment: four u32, then the u64 footer checksum of each file. */
#define MANIFEST_SEG_BYTES (16u + 8u * NX_SEG_FILES)
#define MAX_LANG_BYTES 64

/* Parses "MANIFEST-<digits>" exactly; returns the generation or 0. */
static uint64_t manifest_gen(const char *name) {
    if (strncmp(name, "MANIFEST-", 9) != 0) return 0;
    const char *p = name + 9;
    if (!*p) return 0;
    uint64_t g = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || g > UINT64_MAX / 10 - 10) return 0;
        g = g * 10 + (uint64_t)(*p - '0');
    }
    return g;
}

/* Names the library creates or removes in an index directory: seg_*,
 * MANIFEST-* (temp files too) and LOCK. */
static bool index_file_name(const char *name) {
    return strncmp(name, "seg_", 4) == 0 || strncmp(name, "MANIFEST-", 9) == 0 ||
           strcmp(name, "LOCK") == 0;
}

/* Whether entry e of dir is a symbolic link (lstat where the file system
 * does not fill d_type). */
static bool entry_is_symlink(const char *dir, const struct dirent *e) {
    if (e->d_type == DT_LNK) return true;
    if (e->d_type != DT_UNKNOWN) return false;
    char *p = nx_path_join(dir, e->d_name);
    struct stat st;
    bool link = p && lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
    free(p);
    return link;
}

int nx_manifest_latest(const char *dir, nx_err *err, uint64_t *gen) {
    *gen = 0;
    DIR *d = opendir(dir);
    if (!d)
        return nx_err_set(err, errno == ENOENT ? NEWSIDX_ERR_NOT_FOUND : NEWSIDX_ERR_IO,
                          "%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        /* A link named like an index file points somewhere the writer would
         * write to or delete, or feeds a reader bytes from outside the
         * index: refused, whether a manifest references it or not. */
        if (index_file_name(e->d_name) && entry_is_symlink(dir, e)) {
            rc = nx_err_set(err, NEWSIDX_ERR_CORRUPT,
                            "%s/%s: is a symbolic link; index files must be regular files "
                            "(remove it to use this index)",
                            dir, e->d_name);
            break;
        }
        uint64_t g = manifest_gen(e->d_name);
        if (g > *gen) *gen = g;
    }
    closedir(d);
    if (rc) *gen = 0;
    return rc;
}

static char *manifest_path(const char *dir, uint64_t gen, const char *suffix) {
    char name[64];
    snprintf(name, sizeof name, "MANIFEST-%" PRIu64 "%s", gen, suffix);
    return nx_path_join(dir, name);
}

void nx_manifest_free(nx_manifest *m) {
    free(m->stem_language);
    free(m->stopwords_language);
    free(m->segments);
    memset(m, 0, sizeof *m);
}

static int read_str(const uint8_t **p, const uint8_t *end, char **out) {
    *out = NULL;
    if (end - *p < 2) return NEWSIDX_ERR_CORRUPT;
    uint16_t n = nx_load_u16le(*p);
    *p += 2;
    if (n > MAX_LANG_BYTES || end - *p < n) return NEWSIDX_ERR_CORRUPT;
    if (n == 0) return 0;
    *out = malloc(n + 1u);
    if (!*out) return NEWSIDX_ERR_NOMEM;
    memcpy(*out, *p, n);
    (*out)[n] = 0;
    *p += n;
    return 0;
}

int nx_manifest_read(const char *dir, uint64_t gen, nx_err *err, nx_manifest *m) {
    memset(m, 0, sizeof *m);
    char *path = manifest_path(dir, gen, "");
    if (!path) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    nx_rfile f;
    int rc = nx_rfile_open(path, NX_FILE_MANIFEST, err, &f);
    if (rc == 0) {
        rc = nx_rfile_verify(&f, err); /* small: always fully checked */
        if (rc) nx_rfile_close(&f);
    }
    if (rc) {
        free(path);
        return rc;
    }
    const uint8_t *p = f.data, *end = f.data + f.len;
    size_t at = 0;
    if (f.len < 24 || nx_load_u32le(p) != NX_MANIFEST_MAGIC) {
        rc = NEWSIDX_ERR_CORRUPT;
    } else if (nx_load_u32le(p + 4) != MANIFEST_VERSION) {
        rc = nx_err_set(err, NEWSIDX_ERR_VERSION, "%s: manifest version %u, this library reads %u",
                        path, nx_load_u32le(p + 4), MANIFEST_VERSION);
    } else {
        m->generation = nx_load_u64le(p + 8);
        m->next_seg_no = nx_load_u32le(p + 16);
        m->n_segments = nx_load_u32le(p + 20);
        p += 24;
        at = 24;
        int r = read_str(&p, end, &m->stem_language);
        if (r == 0) r = read_str(&p, end, &m->stopwords_language);
        at = (size_t)(p - f.data);
        if (r == NEWSIDX_ERR_NOMEM) rc = nx_err_set(err, r, "out of memory");
        else if (r || m->generation != gen ||
                 (size_t)(end - p) != MANIFEST_SEG_BYTES * (size_t)m->n_segments)
            rc = NEWSIDX_ERR_CORRUPT;
    }
    if (rc == 0) {
        m->segments = calloc(m->n_segments + 1, sizeof *m->segments);
        if (!m->segments) rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; rc == 0 && i < m->n_segments; i++, p += MANIFEST_SEG_BYTES) {
            nx_manifest_seg *s = &m->segments[i];
            s->seg_no = nx_load_u32le(p);
            s->doc_count = nx_load_u32le(p + 4);
            s->del_count = nx_load_u32le(p + 8);
            s->del_gen = nx_load_u32le(p + 12);
            for (int k = 0; k < NX_SEG_FILES; k++) s->sums[k] = nx_load_u64le(p + 16 + 8 * k);
            if (s->seg_no >= m->next_seg_no || s->del_count > s->doc_count || s->del_gen > gen ||
                (s->del_gen == 0) != (s->sums[NX_SEG_DEL] == 0)) {
                at = (size_t)(p - f.data);
                rc = NEWSIDX_ERR_CORRUPT;
            }
        }
    }
    if (rc == NEWSIDX_ERR_CORRUPT)
        nx_err_set(err, rc, "%s: invalid manifest content at byte %zu", path, at);
    nx_rfile_close(&f);
    free(path);
    if (rc) nx_manifest_free(m);
    return rc;
}

int nx_manifest_check_segment(const char *dir, uint64_t gen, const nx_manifest_seg *ms,
                              const nx_segment *seg, nx_err *err) {
    /* the files first: one from elsewhere is named as such, not by the
     * counts it disagrees with */
    uint64_t sums[NX_SEG_FILES];
    nx_segment_sums(seg, sums);
    const nx_segment *core = seg->core ? seg->core : seg;
    const nx_rfile *files[NX_SEG_FILES] = {&core->col,  &core->post, &core->pos, &core->dict,
                                           &core->norm, &core->docs, &seg->del};
    for (int k = 0; k < NX_SEG_FILES; k++) {
        if (sums[k] == ms->sums[k]) continue;
        if (!files[k]->path) /* the manifest records a file the segment does not have */
            return nx_err_set(
                err, NEWSIDX_ERR_CORRUPT,
                "%s/MANIFEST-%llu: segment %u has no %s file, the manifest records one", dir,
                (unsigned long long)gen, seg->seg_no, k == NX_SEG_DEL ? "tombstone" : "doc store");
        return nx_rfile_expect(files[k], ms->sums, k, err);
    }
    uint32_t dead = seg->doc_count - seg->live_count;
    if (seg->doc_count != ms->doc_count || dead != ms->del_count)
        return nx_err_set(
            err, NEWSIDX_ERR_CORRUPT,
            "%s/MANIFEST-%llu: segment %u holds %u docs (%u deleted), the manifest says %u (%u)",
            dir, (unsigned long long)gen, seg->seg_no, seg->doc_count, dead, ms->doc_count,
            ms->del_count);
    return 0;
}

int nx_manifest_write(const char *dir, const nx_manifest *m, bool sync, nx_err *err) {
    char *tmp = manifest_path(dir, m->generation, ".tmp");
    char *final = manifest_path(dir, m->generation, "");
    nx_buf b = {0};
    int rc = 0;
    if (!tmp || !final) rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        int e = nx_buf_put_u32le(&b, NX_MANIFEST_MAGIC);
        e |= nx_buf_put_u32le(&b, MANIFEST_VERSION);
        e |= nx_buf_put_u64le(&b, m->generation);
        e |= nx_buf_put_u32le(&b, m->next_seg_no);
        e |= nx_buf_put_u32le(&b, m->n_segments);
        const char *langs[2] = {m->stem_language, m->stopwords_language};
        for (int i = 0; i < 2; i++) {
            size_t n = langs[i] ? strlen(langs[i]) : 0;
            if (n > MAX_LANG_BYTES) n = 0;
            e |= nx_buf_put_u16le(&b, (uint16_t)n);
            e |= nx_buf_append(&b, langs[i], n);
        }
        for (uint32_t i = 0; i < m->n_segments; i++) {
            e |= nx_buf_put_u32le(&b, m->segments[i].seg_no);
            e |= nx_buf_put_u32le(&b, m->segments[i].doc_count);
            e |= nx_buf_put_u32le(&b, m->segments[i].del_count);
            e |= nx_buf_put_u32le(&b, m->segments[i].del_gen);
            for (int k = 0; k < NX_SEG_FILES; k++)
                e |= nx_buf_put_u64le(&b, m->segments[i].sums[k]);
        }
        if (e) rc = nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    }
    nx_wfile *f = NULL;
    if (rc == 0) rc = nx_wfile_create(tmp, NX_FILE_MANIFEST, err, &f);
    if (rc == 0) {
        nx_wfile_set_sync(f, sync);
        rc = nx_wfile_write(f, b.data, b.len);
        if (rc) nx_wfile_abort(f);
        else rc = nx_wfile_finish(f); /* fsync */
    }
    /* The rename is the commit point: before it readers see the previous
     * manifest, after it the new one; the directory fsync makes it durable. */
    if (rc == 0 && rename(tmp, final) != 0) {
        rc = nx_err_set(err, NEWSIDX_ERR_IO, "%s: rename failed: %s", final, strerror(errno));
        unlink(tmp);
    }
    if (rc == 0 && sync) rc = nx_fsync_dir(dir, err);
    nx_buf_free(&b);
    free(tmp);
    free(final);
    return rc;
}

int nx_tombstone_write(const char *dir, uint32_t seg_no, uint32_t gen, const uint8_t *bits,
                       uint32_t doc_count, bool sync, nx_err *err, uint64_t *checksum) {
    char *path = nx_tombstone_file(dir, seg_no, gen);
    if (!path) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "out of memory");
    nx_wfile *f;
    int rc = nx_wfile_create(path, NX_FILE_TOMBSTONES, err, &f);
    free(path);
    if (rc) return rc;
    nx_wfile_set_sync(f, sync);
    uint8_t hdr[8];
    nx_store_u32le(hdr, NX_DEL_MAGIC);
    nx_store_u32le(hdr + 4, doc_count);
    size_t bytes = ((size_t)doc_count + 7) / 8;
    rc = nx_wfile_write(f, hdr, 8);
    if (rc == 0) {
        /* bits past doc_count are zero in the file whatever memory holds */
        if (bytes > 1) rc = nx_wfile_write(f, bits, bytes - 1);
        if (rc == 0 && bytes > 0) {
            uint8_t last = bits[bytes - 1];
            if (doc_count % 8) last &= (uint8_t)((1u << (doc_count % 8)) - 1);
            rc = nx_wfile_write(f, &last, 1);
        }
    }
    if (rc) {
        nx_wfile_abort(f);
        return rc;
    }
    return nx_wfile_finish_sum(f, checksum);
}

static bool referenced(const nx_manifest *m, const char *name) {
    uint64_t g = manifest_gen(name);
    /* With no manifest known (a directory without one), a MANIFEST-<g> is
     * not ours to judge: it may be someone's only, damaged, commit. */
    if (g) return m->generation == 0 || g == m->generation;
    if (strncmp(name, "seg_", 4) != 0) return true; /* not ours (LOCK, user files) */
    char *end;
    unsigned long no = strtoul(name + 4, &end, 10);
    if (end == name + 4 || *end != '.') return true;
    const char *ext = end + 1;
    for (uint32_t i = 0; i < m->n_segments; i++) {
        if (m->segments[i].seg_no != no) continue;
        if (strncmp(ext, "del_", 4) == 0)
            return strtoul(ext + 4, NULL, 10) == m->segments[i].del_gen;
        return true;
    }
    return false;
}

void nx_remove_unreferenced(const char *dir, const nx_manifest *m) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        bool tmp = strncmp(n, "MANIFEST-", 9) == 0 && len > 4 && strcmp(n + len - 4, ".tmp") == 0;
        if (!tmp && referenced(m, n)) continue;
        char *p = nx_path_join(dir, n);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
}

/* Whether name is a file that commit gen, or the segments numbered from
 * first_seg_no on, may have created. */
static bool uncommitted(const char *name, uint32_t first_seg_no, uint64_t gen) {
    uint64_t g = manifest_gen(name);
    if (g) return g == gen;
    if (strncmp(name, "MANIFEST-", 9) == 0) {
        size_t len = strlen(name);
        return len > 4 && strcmp(name + len - 4, ".tmp") == 0;
    }
    if (strncmp(name, "seg_", 4) != 0) return false;
    char *end;
    unsigned long no = strtoul(name + 4, &end, 10);
    if (end == name + 4 || *end != '.') return false;
    if (no >= first_seg_no) return true;
    if (strncmp(end + 1, "del_", 4) != 0) return false;
    return strtoull(end + 5, NULL, 10) == gen;
}

void nx_remove_uncommitted(const char *dir, uint32_t first_seg_no, uint64_t gen, bool sync) {
    DIR *d = opendir(dir);
    if (!d) return;
    /* The manifest first: once it is gone no reader can be sent to the
     * segment files removed after it. */
    char *mp = manifest_path(dir, gen, "");
    if (mp) unlink(mp);
    free(mp);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!uncommitted(e->d_name, first_seg_no, gen)) continue;
        char *p = nx_path_join(dir, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
    if (sync) {
        nx_err ignored = {0};
        nx_fsync_dir(dir, &ignored);
    }
}
