/* tools/ — `newsidx dups`: lists groups of near-duplicate reprints
 * (newsidx_reader_dups). */
#include "cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: newsidx dups DIR [--json] [--max-distance D]\n"
    "\n"
    "Lists the groups of near-duplicate articles in the index in DIR: reprints\n"
    "of one story whose near-duplicate hashes differ in at most D bits\n"
    "(default 5, at most 16), a reprint of a reprint joining the group. Each\n"
    "group prints its size, then one line per article: id and title. With\n"
    "--json: one JSON document, {\"max_distance\":D,\"groups\":[[{\"id\":..,\n"
    "\"title\":..},...],...]}. Articles indexed by a libnewsidx before the hash\n"
    "existed are in no group (re-index them to include them).\n"
    "\n"
    "Exit codes: 0 success; 1 the index cannot be read; 2 bad usage.\n";

/* The stored title of an article, or "" (an index without stored fields, a
 * damaged block: the id still identifies the article). The caller frees
 * *doc. */
static const char *title_of(const newsidx_reader *r, const char *id, newsidx_doc **doc) {
    *doc = NULL;
    if (newsidx_reader_get(r, id, strlen(id), doc)) return "";
    const newsidx_field *t = newsidx_doc_find(*doc, "title");
    return t ? t->value : "";
}

static void print_group(const newsidx_reader *r, const newsidx_dup_groups *g, size_t i, bool json) {
    size_t n = newsidx_dup_group_size(g, i);
    if (json) printf("%s[", i ? "," : "");
    else printf("%s%zu articles\n", i ? "\n" : "", n);
    for (size_t j = 0; j < n; j++) {
        const char *id = newsidx_dup_group_id(g, i, j);
        newsidx_doc *doc;
        const char *title = title_of(r, id, &doc);
        if (json) {
            printf("%s{\"id\":", j ? "," : "");
            cli_json_string(stdout, id, strlen(id));
            printf(",\"title\":");
            cli_json_string(stdout, title, strlen(title));
            putchar('}');
        } else {
            fputs("  ", stdout);
            cli_put_str(stdout, id);
            fputs("  ", stdout);
            cli_put_str(stdout, title);
            putchar('\n');
        }
        newsidx_doc_free(doc);
    }
    if (json) putchar(']');
}

static int run_dups(int argc, char **argv) {
    const char *dir = NULL;
    bool json = false;
    uint32_t d = NEWSIDX_COLLAPSE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--max-distance") == 0) {
            char *end;
            unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || *end || v == 0 || v > NEWSIDX_COLLAPSE_MAX)
                return cli_usage_error(&cli_dups, "--max-distance needs a number of bits, 1 to %d",
                                       NEWSIDX_COLLAPSE_MAX);
            d = (uint32_t)v;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(&cli_dups, "unknown option '%s'", a);
        } else if (!dir) {
            dir = a;
        } else {
            return cli_usage_error(&cli_dups, "too many arguments");
        }
    }
    if (!dir) return cli_usage_error(&cli_dups, "want DIR");
    newsidx_reader *r;
    char eb[512];
    if (newsidx_reader_open(dir, eb, sizeof eb, &r)) {
        cli_error("dups", "%s", eb);
        return EXIT_FAIL;
    }
    newsidx_dup_groups *g;
    if (newsidx_reader_dups(r, d, eb, sizeof eb, &g)) {
        cli_error("dups", "%s", eb);
        newsidx_reader_close(r);
        return EXIT_FAIL;
    }
    size_t n = newsidx_dup_group_count(g);
    if (json) printf("{\"max_distance\":%u,\"groups\":[", d);
    for (size_t i = 0; i < n; i++) print_group(r, g, i, json);
    if (json) printf("]}\n");
    else printf("%s%zu group%s of near-duplicates\n", n ? "\n" : "", n, n == 1 ? "" : "s");
    newsidx_dup_groups_free(g);
    newsidx_reader_close(r);
    return EXIT_OK;
}

const cli_command cli_dups = {
    "dups",
    "list groups of near-duplicate reprints: newsidx dups DIR",
    usage,
    run_dups,
};
