/* tools/ — `newsidx stats`: sizes and counts of an index. */
#include "cli.h"

#include <stdbool.h>
#include <string.h>

static const char usage[] =
    "usage: newsidx stats DIR [--json]\n"
    "\n"
    "Prints the articles, terms and segments of the index in DIR and the bytes\n"
    "of each part (postings, positions, dictionary, norms, doc store, other),\n"
    "each also as a ratio of the raw text of the indexed fields. --json prints\n"
    "one JSON object whose top-level \"docs\" is the number of live articles.\n"
    "Both show the analyzer the index was built with (stemming, stopwords):\n"
    "queries and --append use it.\n"
    "\n"
    "Exit codes: 0 success; 1 the index cannot be read; 2 bad usage.\n";

static int run_stats(int argc, char **argv) {
    const char *dir = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error(&cli_stats, "unknown option '%s'", argv[i]);
        else if (!dir) dir = argv[i];
        else return cli_usage_error(&cli_stats, "one DIR only");
    }
    if (!dir) return cli_usage_error(&cli_stats, "no index directory");
    newsidx_reader *r;
    char eb[512];
    if (newsidx_reader_open(dir, eb, sizeof eb, &r)) {
        cli_error("stats", "%s", eb);
        return EXIT_FAIL;
    }
    newsidx_stats s;
    newsidx_reader_stats(r, &s);
    /* the analyzer settings are the reader's strings: copy them before closing it */
    char stem[80], stop[80];
    const char *sl = newsidx_reader_stem_language(r), *tl = newsidx_reader_stopwords_language(r);
    snprintf(stem, sizeof stem, "%s", sl ? sl : "");
    snprintf(stop, sizeof stop, "%s", tl ? tl : "");
    newsidx_reader_close(r);
    struct {
        const char *name;
        uint64_t bytes;
    } parts[] = {{"postings", s.postings_bytes}, {"positions", s.positions_bytes},
                 {"dictionary", s.dict_bytes},   {"norms", s.norms_bytes},
                 {"docstore", s.docstore_bytes}, {"other", s.other_bytes}};
    uint64_t total = 0;
    for (size_t i = 0; i < 6; i++) total += parts[i].bytes;
    double raw = s.raw_text_bytes ? (double)s.raw_text_bytes : 1.0;
    if (json) {
        printf("{\"docs\": %llu, \"deleted_docs\": %llu, \"generation\": %llu, \"segments\": %llu, "
               "\"terms\": %llu, \"raw_text_bytes\": %llu, \"raw_stored_bytes\": %llu, "
               "\"total_bytes\": %llu, ",
               (unsigned long long)s.docs, (unsigned long long)s.deleted_docs,
               (unsigned long long)s.generation, (unsigned long long)s.segments,
               (unsigned long long)s.terms, (unsigned long long)s.raw_text_bytes,
               (unsigned long long)s.raw_stored_bytes, (unsigned long long)total);
        printf("\"analyzer\": {\"stem_language\": ");
        if (stem[0]) cli_json_string(stdout, stem, strlen(stem));
        else printf("null");
        printf(", \"stopwords_language\": ");
        if (stop[0]) cli_json_string(stdout, stop, strlen(stop));
        else printf("null");
        printf("}, \"parts\": {");
        for (size_t i = 0; i < 6; i++)
            printf("%s\"%s\": {\"bytes\": %llu, \"ratio\": %.4f}", i ? ", " : "", parts[i].name,
                   (unsigned long long)parts[i].bytes, (double)parts[i].bytes / raw);
        printf("}}\n");
        return EXIT_OK;
    }
    printf("articles    %llu (%llu deleted or replaced, not yet merged away)\n", (unsigned long long)s.docs,
           (unsigned long long)s.deleted_docs);
    printf("terms       %llu\n", (unsigned long long)s.terms);
    printf("analyzer    stemming %s, stopwords %s\n", stem[0] ? stem : "none",
           stop[0] ? stop : "none");
    printf("segments    %llu (generation %llu)\n", (unsigned long long)s.segments,
           (unsigned long long)s.generation);
    printf("raw text    %llu bytes (indexed fields); stored fields %llu bytes raw\n",
           (unsigned long long)s.raw_text_bytes, (unsigned long long)s.raw_stored_bytes);
    for (size_t i = 0; i < 6; i++)
        printf("%-11s %12llu bytes  %6.3f of raw text\n", parts[i].name,
               (unsigned long long)parts[i].bytes, (double)parts[i].bytes / raw);
    printf("%-11s %12llu bytes  %6.3f of raw text\n", "total", (unsigned long long)total,
           (double)total / raw);
    return EXIT_OK;
}

const cli_command cli_stats = {"stats", "sizes and counts of an index", usage, run_stats};
