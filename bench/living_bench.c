/* living_bench — what a living archive costs, on an index built beforehand
 * (bench/run_living.sh builds it with `newsidx index` and copies it):
 *
 *   living_bench add DIR ADDS.jsonl(.zst)  add the articles to DIR and commit:
 *                                          wall time, bytes written; then how
 *                                          long a reader opened before takes to
 *                                          refresh to the new commit
 *   living_bench delete DIR QUERY          delete what QUERY matches, commit;
 *                                          then optimize: times, bytes reclaimed
 *   living_bench latency DIR QUERIES [merge]
 *                                          search latency (p50, p99 over the
 *                                          queries, 3 rounds) while idle, or while
 *                                          another thread force-merges DIR
 *
 * QUERIES: one query a line, or the peers' TSV (CLASS<TAB>QUERY). Figures go
 * to stdout as "name value unit" lines. */
#include "newsidx.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t dir_bytes(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    uint64_t n = 0;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) n += (uint64_t)st.st_size;
    }
    closedir(d);
    return n;
}

/* Bytes this process has written to storage so far (/proc/self/io). */
static uint64_t written_bytes(void) {
    FILE *f = fopen("/proc/self/io", "r");
    if (!f) return 0;
    char line[128];
    unsigned long long v = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %llu", &v) == 1) break;
    fclose(f);
    return v;
}

static void die(const char *what, const char *msg) {
    fprintf(stderr, "living_bench: %s: %s\n", what, msg);
    exit(1);
}

static newsidx_writer *open_append(const char *dir) {
    newsidx_writer_options o;
    newsidx_writer_options_init(&o);
    o.append = 1;
    newsidx_writer *w;
    char eb[512];
    if (newsidx_writer_open(dir, &o, eb, sizeof eb, &w)) die(dir, eb);
    return w;
}

static newsidx_reader *open_reader(const char *dir) {
    newsidx_reader *r;
    char eb[512];
    if (newsidx_reader_open(dir, eb, sizeof eb, &r)) die(dir, eb);
    return r;
}

static int cmd_add(const char *dir, const char *adds) {
    newsidx_reader *before = open_reader(dir);
    uint64_t size0 = dir_bytes(dir), w0 = written_bytes();
    double t0 = now_s();
    newsidx_writer *w = open_append(dir);
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    if (newsidx_ingest_path(w, adds, NULL, &st)) die(adds, newsidx_writer_errmsg(w));
    if (newsidx_writer_commit(w)) die("commit", newsidx_writer_errmsg(w));
    newsidx_writer_close(w);
    double t1 = now_s();
    printf("add_articles %llu articles\n", (unsigned long long)st.indexed);
    printf("add_commit_wall %.3f s\n", t1 - t0);
    printf("add_bytes_written %llu bytes\n", (unsigned long long)(written_bytes() - w0));
    printf("add_index_growth %lld bytes\n", (long long)(dir_bytes(dir) - size0));
    newsidx_reader *newer = NULL;
    char eb[512];
    double r0 = now_s();
    if (newsidx_reader_refresh(before, eb, sizeof eb, &newer) || !newer) die("refresh", eb);
    double r1 = now_s();
    printf("refresh_wall %.3f ms\n", (r1 - r0) * 1e3);
    newsidx_stats s;
    newsidx_reader_stats(newer, &s);
    printf("articles_after %llu articles\n", (unsigned long long)s.docs);
    newsidx_reader_close(newer);
    newsidx_reader_close(before);
    return 0;
}

static int cmd_delete(const char *dir, const char *query) {
    double t0 = now_s();
    newsidx_writer *w = open_append(dir);
    uint64_t n = 0;
    if (newsidx_writer_delete_query(w, query, strlen(query), &n))
        die("delete", newsidx_writer_errmsg(w));
    if (newsidx_writer_commit(w)) die("commit", newsidx_writer_errmsg(w));
    double t1 = now_s();
    printf("delete_articles %llu articles\n", (unsigned long long)n);
    printf("delete_commit_wall %.3f s\n", t1 - t0);
    uint64_t before = dir_bytes(dir);
    double o0 = now_s();
    if (newsidx_writer_optimize(w)) die("optimize", newsidx_writer_errmsg(w));
    double o1 = now_s();
    newsidx_writer_close(w);
    printf("optimize_wall %.3f s\n", o1 - o0);
    printf("optimize_reclaimed %lld bytes\n", (long long)before - (long long)dir_bytes(dir));
    printf("index_bytes_after %llu bytes\n", (unsigned long long)dir_bytes(dir));
    return 0;
}

typedef struct merger {
    const char *dir;
    volatile bool done;
    double wall;
} merger;

static void *merge_thread(void *arg) {
    merger *m = arg;
    double t0 = now_s();
    newsidx_writer *w = open_append(m->dir);
    if (newsidx_writer_optimize(w)) die("optimize", newsidx_writer_errmsg(w));
    newsidx_writer_close(w);
    m->wall = now_s() - t0;
    m->done = true;
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmd_latency(const char *dir, const char *qfile, bool merge) {
    FILE *f = fopen(qfile, "r");
    if (!f) die(qfile, "cannot open");
    char **qs = NULL;
    size_t nq = 0, cap = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *q = strchr(line, '\t') ? strchr(line, '\t') + 1 : line;
        if (!*q) continue;
        if (nq == cap) {
            cap = cap ? 2 * cap : 256;
            qs = realloc(qs, cap * sizeof *qs);
            if (!qs) die("queries", "out of memory");
        }
        qs[nq++] = strdup(q);
    }
    fclose(f);
    newsidx_reader *r = open_reader(dir);
    merger m = {dir, false, 0};
    pthread_t th;
    if (merge && pthread_create(&th, NULL, merge_thread, &m)) die("thread", "cannot start");
    size_t cap_t = 3 * nq, nt = 0;
    double *t = malloc(cap_t * sizeof *t);
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.snippets = 0;
    so.fields = "";
    for (int round = 0; round < 3 && !(merge && m.done); round++) {
        for (size_t i = 0; i < nq && !(merge && m.done); i++) {
            double t0 = now_s();
            newsidx_query *q;
            if (newsidx_query_parse(r, qs[i], strlen(qs[i]), NULL, NULL, NULL, 0, &q)) continue;
            newsidx_results *res;
            if (newsidx_search_v2(r, q, &so, NULL, 0, &res) == 0) newsidx_results_free(res);
            newsidx_query_free(q);
            t[nt++] = now_s() - t0;
        }
    }
    if (merge) pthread_join(th, NULL);
    qsort(t, nt, sizeof *t, cmp_double);
    printf("latency_%s_queries %zu queries\n", merge ? "merge" : "idle", nt);
    if (nt) {
        printf("latency_%s_p50 %.3f ms\n", merge ? "merge" : "idle", t[nt / 2] * 1e3);
        printf("latency_%s_p99 %.3f ms\n", merge ? "merge" : "idle", t[nt * 99 / 100] * 1e3);
    }
    if (merge) printf("merge_wall %.3f s\n", m.wall);
    newsidx_reader_close(r);
    for (size_t i = 0; i < nq; i++) free(qs[i]);
    free(qs);
    free(t);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "add") == 0) return cmd_add(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "delete") == 0) return cmd_delete(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "latency") == 0)
        return cmd_latency(argv[2], argv[3], argc > 4 && strcmp(argv[4], "merge") == 0);
    fprintf(stderr, "usage: living_bench add DIR ADDS | delete DIR QUERY | latency DIR QUERIES [merge]\n");
    return 2;
}
