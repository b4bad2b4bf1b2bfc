/* fuzz_common.h — helpers shared by the libFuzzer harnesses (and by
 * tests/test_corrupt.c / tests/test_hostile.c): a deterministic small
 * index with several segments, a tombstone file, terms long enough to have
 * bit-packed postings blocks, so that every kind of index file
 * (docs/FORMAT.md: MANIFEST, .post, .pos, .dict, .norm, .col, .docs, .del)
 * exists and holds real data. No byte layout is parsed here. */
#ifndef NX_FUZZ_COMMON_H
#define NX_FUZZ_COMMON_H

#include "newsidx.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 64 words; a skewed pick makes a few terms frequent (df > 128: packed
 * blocks with skip entries), most rare (pulsed in the dictionary). */
static const char *const nxf_words[64] = {
    "market", "price", "fuel", "minister", "election", "vote", "court", "police",
    "storm", "flood", "river", "bank", "trade", "export", "import", "coffee",
    "cotton", "gold", "mine", "worker", "strike", "union", "school", "teacher",
    "hospital", "doctor", "health", "vaccine", "road", "bridge", "railway", "port",
    "army", "border", "treaty", "summit", "leader", "president", "capital", "city",
    "village", "farmer", "harvest", "rain", "drought", "water", "energy", "solar",
    "oil", "gas", "pipeline", "budget", "tax", "debt", "loan", "currency",
    "inflation", "wage", "festival", "music", "football", "cup", "traoré", "sahel"};

static inline uint32_t nxf_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* Appends n skewed words to buf (NUL-terminated, cap bytes). */
static inline void nxf_words_into(uint64_t *seed, char *buf, size_t cap, int n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        uint32_t r = nxf_rand(seed);
        uint32_t w = (r & 3) ? (r >> 8) % 8 : (r >> 8) % 64; /* 3/4 from the top 8 */
        int k = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", nxf_words[w]);
        if (k < 0 || (size_t)k >= cap - len) break;
        len += (size_t)k;
    }
}

/* Adds article number i (id "g-<i>", version v changes its text). */
static inline int nxf_add(newsidx_writer *w, int i, int v) {
    uint64_t seed = (uint64_t)i * 7919u + (uint64_t)v * 104729u + 1;
    char id[32], title[256], body[4096], date[32], src[32];
    snprintf(id, sizeof id, "g-%d", i);
    nxf_words_into(&seed, title, sizeof title, 4 + (int)(nxf_rand(&seed) % 5));
    nxf_words_into(&seed, body, sizeof body, 20 + (int)(nxf_rand(&seed) % 200));
    snprintf(date, sizeof date, "20%02d-%02d-%02d", 20 + i % 5, 1 + i % 12, 1 + i % 28);
    snprintf(src, sizeof src, "source-%d", i % 4);
    newsidx_field f[] = {
        {"id", id, strlen(id)},         {"title", title, strlen(title)},
        {"body", body, strlen(body)},   {"date", date, strlen(date)},
        {"source", src, strlen(src)},   {"author", "A. Writer", 9},
    };
    return newsidx_writer_add(w, f, sizeof f / sizeof f[0], NULL);
}

/* Builds the generated index in dir: three commits of n_per docs each (three
 * segments), the third replacing a few ids of the first (a tombstone file).
 * Returns 0 or the failing call's code. */
static inline int nxf_build_index(const char *dir, int n_per) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.stem_language = "english";
    o.stopwords_language = "english";
    o.doc_store_block_bytes = 4096; /* several doc store blocks */
    /* One thread: one segment per commit, seg_1 the first's (the damage
     * tests name it), and the same segments and doc counts every run
     * (with workers, how many articles each takes depends on timing,
     * writer_pool.c). test_corrupt swaps in files of an index of 110 per
     * commit: the manifest's checksums catch them whatever the counts. */
    o.threads = 1;
    newsidx_writer *w = NULL;
    int rc = newsidx_writer_open(dir, &o, NULL, 0, &w);
    if (rc) return rc;
    for (int c = 0; c < 3 && rc == 0; c++) {
        for (int i = 0; i < n_per && rc == 0; i++) rc = nxf_add(w, c * n_per + i, 0);
        if (c == 2)
            for (int i = 0; i < n_per && rc == 0; i += 7) rc = nxf_add(w, i, 1);
        if (rc == 0) rc = newsidx_writer_commit(w);
    }
    newsidx_writer_close(w);
    return rc;
}

/* Builds an index of one JSON Lines file in dir with the library's ingest. */
static inline int nxf_build_from_jsonl(const char *dir, const char *jsonl) {
    newsidx_writer *w = NULL;
    int rc = newsidx_writer_open(dir, NULL, NULL, 0, &w);
    if (rc) return rc;
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    rc = newsidx_ingest_path(w, jsonl, NULL, &st);
    if (rc == 0) rc = newsidx_writer_commit(w);
    newsidx_writer_close(w);
    return rc;
}

/* Index files of dir (not LOCK, not temp files), sorted, into names (malloc'd
 * strings); returns how many (at most cap). */
static inline int nxf_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}
static inline size_t nxf_list_files(const char *dir, char **names, size_t cap) {
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "LOCK") == 0) continue;
        names[n] = strdup(e->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, nxf_cmp_str);
    return n;
}

/* snprintf that aborts on truncation (paths here are short; a cut path
 * would silently damage the wrong file). */
static inline void nxf_join(char *buf, size_t cap, const char *fmt, const char *a,
                            const char *b) {
    int n = snprintf(buf, cap, fmt, a, b);
    if (n < 0 || (size_t)n >= cap) abort();
}

/* Whole file into a malloc'd buffer; NULL on failure. */
static inline uint8_t *nxf_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && n > 0 && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return p;
}

/* Replaces path with a new file holding [p, p+n) (a new inode, so a reader
 * still mapping the old one is never changed under it). */
static inline int nxf_write(const char *path, const uint8_t *p, size_t n) {
    char tmp[4200];
    nxf_join(tmp, sizeof tmp, "%s%s", path, ".w");
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    if (n && fwrite(p, 1, n, f) != n) {
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

static inline void nxf_rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4200];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        nxf_join(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) nxf_rmtree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

#endif
