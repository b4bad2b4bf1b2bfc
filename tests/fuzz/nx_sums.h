/* nx_sums.h — for tests that rewrite an index file with its footer's
 * XXH3 recomputed: the manifest records every segment file's footer
 * checksum (docs/FORMAT.md, "Manifest"), so such a file is refused at open
 * as not the one the commit wrote. nxs_record sets the manifest's record
 * to the new checksum, as someone who controls the whole directory could,
 * so that the edit reaches the file's own checks. */
#ifndef NX_SUMS_H
#define NX_SUMS_H

#include "fuzz_common.h"
#include "util/util.h"

/* The checksum in the footer of a whole file's bytes. */
static inline uint64_t nxs_footer_sum(const uint8_t *file, size_t len) {
    return len >= NX_FOOTER_BYTES ? nx_load_u64le(file + len - NX_FOOTER_BYTES + 24) : 0;
}

/* Sets what dir's (only) manifest records for index file `name`
 * ("seg_<n>.<ext>" or "seg_<n>.del_<g>") to sum and recomputes the
 * manifest's footer. 0 when done or when name is no segment file (the
 * manifest itself); -1 when the manifest could not be read, parsed or
 * written, or names no such segment. */
static inline int nxs_record(const char *dir, const char *name, uint64_t sum) {
    static const char *const ext[] = {"col", "post", "pos", "dict", "norm", "docs", "del_"};
    unsigned seg_no;
    int used = 0;
    if (sscanf(name, "seg_%u.%n", &seg_no, &used) != 1 || used == 0) return 0;
    int k = -1;
    for (int i = 0; i < 7 && k < 0; i++)
        if (strncmp(name + used, ext[i], strlen(ext[i])) == 0) k = i;
    if (k < 0) return 0;
    char *names[64], mpath[4200] = "";
    size_t n = nxf_list_files(dir, names, 64);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "MANIFEST-", 9) == 0 && !strchr(names[i], '.'))
            nxf_join(mpath, sizeof mpath, "%s/%s", dir, names[i]);
        free(names[i]);
    }
    size_t len;
    uint8_t *m = mpath[0] ? nxf_read(mpath, &len) : NULL;
    int rc = -1;
    if (m && len >= 28 + NX_FOOTER_BYTES) {
        size_t clen = len - NX_FOOTER_BYTES, at = 24;
        at += 2 + nx_load_u16le(m + at);                     /* stemming language */
        if (at + 2 <= clen) at += 2 + nx_load_u16le(m + at); /* stopword language */
        const size_t entry = 16 + 8 * 7;
        for (; at + entry <= clen; at += entry) {
            if (nx_load_u32le(m + at) != seg_no) continue;
            for (int b = 0; b < 8; b++) m[at + 16 + 8 * (size_t)k + b] = (uint8_t)(sum >> (8 * b));
            uint64_t h = nx_hash64(m, clen);
            for (int b = 0; b < 8; b++) m[clen + 24 + b] = (uint8_t)(h >> (8 * b));
            rc = nxf_write(mpath, m, len);
            break;
        }
    }
    free(m);
    return rc;
}

#endif
