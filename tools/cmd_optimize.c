/* tools/ — `newsidx optimize`: merges segments, dropping deleted articles. */
#include "cli.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: newsidx optimize DIR [--max-segments N] [--json]\n"
    "\n"
    "Merges the segments of the index in DIR until at most N remain (default\n"
    "1), rewriting every segment that holds deleted or replaced articles\n"
    "without them, and commits: smaller and faster to search. Readers keep\n"
    "their snapshot; the old files' space returns once they close.\n"
    "\n"
    "Exit codes: 0 done; 1 failure (nothing committed); 2 bad usage.\n";

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

static bool index_stats(const char *dir, newsidx_stats *st) {
    newsidx_reader *r;
    char eb[512];
    if (newsidx_reader_open(dir, eb, sizeof eb, &r)) {
        cli_error("optimize", "%s", eb);
        return false;
    }
    newsidx_reader_stats(r, st);
    newsidx_reader_close(r);
    return true;
}

static int run_optimize(int argc, char **argv) {
    const char *dir = NULL;
    bool json = false;
    uint32_t max = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--max-segments") == 0) {
            char *end;
            unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *end || v == 0 || v > 1000000 || argv[i + 1][0] == '-')
                return cli_usage_error(&cli_optimize, "--max-segments needs a number >= 1");
            max = (uint32_t)v;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error(&cli_optimize, "unknown option '%s'", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return cli_usage_error(&cli_optimize, "one DIR only");
        }
    }
    if (!dir) return cli_usage_error(&cli_optimize, "no index directory");
    newsidx_stats before, after;
    if (!index_stats(dir, &before)) return EXIT_FAIL;
    uint64_t bytes_before = dir_bytes(dir);
    newsidx_writer *w = cli_open_writer("optimize", dir);
    if (!w) return EXIT_FAIL;
    if (newsidx_writer_force_merge(w, max)) {
        cli_error("optimize", "%s: nothing committed", newsidx_writer_errmsg(w));
        newsidx_writer_close(w);
        return EXIT_FAIL;
    }
    newsidx_writer_close(w);
    if (!index_stats(dir, &after)) return EXIT_FAIL;
    uint64_t bytes_after = dir_bytes(dir);
    long long reclaimed = (long long)bytes_before - (long long)bytes_after;
    if (json) {
        printf("{\"segments_before\": %llu, \"segments_after\": %llu, \"deleted_dropped\": %llu, "
               "\"bytes_before\": %llu, \"bytes_after\": %llu, \"bytes_reclaimed\": %lld}\n",
               (unsigned long long)before.segments, (unsigned long long)after.segments,
               (unsigned long long)(before.deleted_docs - after.deleted_docs),
               (unsigned long long)bytes_before, (unsigned long long)bytes_after, reclaimed);
    } else {
        printf("segments %llu -> %llu, %llu deleted articles dropped, %llu -> %llu bytes "
               "(%lld reclaimed)\n",
               (unsigned long long)before.segments, (unsigned long long)after.segments,
               (unsigned long long)(before.deleted_docs - after.deleted_docs),
               (unsigned long long)bytes_before, (unsigned long long)bytes_after, reclaimed);
    }
    return EXIT_OK;
}

const cli_command cli_optimize = {"optimize", "merge segments and drop deleted articles",
                                  usage, run_optimize};
