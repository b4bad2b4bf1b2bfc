/* open_bench — what opening an index costs a one-query program.
 *
 *   build/bench/open_bench INDEX_DIR [QUERY] [RUNS]
 *
 * Opens the index RUNS times (default 20) in this process, each time a
 * fresh reader (its files mapped anew, so page faults are paid again as a
 * new process would; the page cache stays warm), runs QUERY (default
 * "president") once with the default search options and closes the
 * reader. Prints the median and the minimum wall time of the open alone,
 * of the query on the fresh reader, and of the query once more on the same
 * reader (what the first query paid for decoding on demand is the
 * difference). Wall time: the question is how long a user waits. */
#include <newsidx.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parses and runs text on r; the hit count, or -1 on failure. */
static long run_query(const newsidx_reader *r, const char *text) {
    char eb[256];
    newsidx_query *q = NULL;
    if (newsidx_query_parse(r, text, strlen(text), NULL, NULL, eb, sizeof eb, &q)) {
        fprintf(stderr, "open_bench: query: %s\n", eb);
        return -1;
    }
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    newsidx_results *res = NULL;
    int rc = newsidx_search_v2(r, q, &so, eb, sizeof eb, &res);
    newsidx_query_free(q);
    if (rc) {
        fprintf(stderr, "open_bench: search: %s\n", eb);
        return -1;
    }
    long n = (long)newsidx_results_count(res);
    /* ask every hit's id, as the CLI prints them */
    for (size_t i = 0; i < (size_t)n; i++)
        if (!newsidx_hit_id(res, i)) n = -1;
    newsidx_results_free(res);
    return n;
}

static void report(const char *what, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("%-28s median %8.3f ms   min %8.3f ms\n", what, v[n / 2], v[0]);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: open_bench INDEX_DIR [QUERY] [RUNS]\n");
        return 2;
    }
    const char *dir = argv[1], *query = argc > 2 ? argv[2] : "president";
    int runs = argc > 3 ? atoi(argv[3]) : 20;
    if (runs < 1 || runs > 100000) runs = 20;
    double *open_ms = malloc(sizeof(double) * 3 * (size_t)runs);
    if (!open_ms) return 1;
    double *first_ms = open_ms + runs, *again_ms = first_ms + runs;
    long hits = 0;
    for (int i = 0; i < runs; i++) {
        char eb[512];
        newsidx_reader *r = NULL;
        double t0 = now_ms();
        if (newsidx_reader_open(dir, eb, sizeof eb, &r)) {
            fprintf(stderr, "open_bench: %s\n", eb);
            return 1;
        }
        double t1 = now_ms();
        hits = run_query(r, query);
        double t2 = now_ms();
        if (hits < 0 || run_query(r, query) != hits) return 1;
        double t3 = now_ms();
        newsidx_reader_close(r);
        open_ms[i] = t1 - t0;
        first_ms[i] = t2 - t1;
        again_ms[i] = t3 - t2;
    }
    printf("%s, query '%s', %ld hits, %d runs\n", dir, query, hits, runs);
    report("reader open", open_ms, runs);
    report("first query (fresh reader)", first_ms, runs);
    report("same query again", again_ms, runs);
    free(open_ms);
    return 0;
}
