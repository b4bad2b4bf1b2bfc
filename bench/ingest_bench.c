/* ingest_bench — what reading an input costs without indexing it: every
 * record of PATH (a directory, an archive, a WARC, JSON Lines: anything
 * `newsidx index` takes) goes through nx_ingest_each to a callback that
 * only counts it. Used by bench/run_dumps.sh to tell the reader's share of
 * indexing time.
 *
 *   build/bench/ingest_bench PATH [REPS]
 *
 * Prints one line per rep: `INGEST path= records= bytes= digest= cpu_s=
 * wall_s=`. cpu_s is the process's CPU time (the machine is shared, wall
 * time is noisy); bytes are the field bytes handed to the callback, and
 * digest a hash of every field name and value in the order given: two
 * builds that read an input alike print the same digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest/ingest.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct tally { uint64_t records, bytes, digest; } tally;

static int count_record(void *ctx, const nx_record *rec) {
    tally *t = ctx;
    t->records++;
    for (size_t i = 0; i < rec->n_fields; i++) {
        const newsidx_field *f = &rec->fields[i];
        t->bytes += f->value_len;
        t->digest = t->digest * 0x100000001B3ull ^ nx_hash64(f->name, strlen(f->name));
        t->digest = t->digest * 0x100000001B3ull ^ nx_hash64(f->value, f->value_len);
    }
    return NX_RECORD_ADDED;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PATH [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc == 3 ? atoi(argv[2]) : 1;
    if (reps < 1) reps = 1;
    newsidx_ingest_options opts;
    newsidx_ingest_options_init(&opts);
    for (int r = 0; r < reps; r++) {
        newsidx_ingest_stats stats = {0};
        tally t = {0};
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
        int rc = nx_ingest_each(argv[1], &opts, &stats, count_record, &t);
        double c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_s(CLOCK_MONOTONIC);
        if (rc != 0) {
            fprintf(stderr, "%s: ingest failed (%d)\n", argv[1], rc);
            return 1;
        }
        printf("INGEST path=%s records=%llu bytes=%llu digest=%016llx cpu_s=%.4f wall_s=%.4f\n",
               argv[1], (unsigned long long)t.records, (unsigned long long)t.bytes,
               (unsigned long long)t.digest, c1 - c0, w1 - w0);
    }
    return 0;
}
