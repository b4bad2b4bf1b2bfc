/* tools/ — `newsidx delete`: withdraws articles by id, by a list of ids, or
 * by query, and commits. */
#include "cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: newsidx delete DIR ID...\n"
    "       newsidx delete DIR --ids-from FILE        (one id a line, - = stdin)\n"
    "       newsidx delete DIR --query QUERY [--dry-run]\n"
    "\n"
    "Deletes articles from the index in DIR and commits: they vanish at once\n"
    "from search, counts, facets, get and stats of readers opened (or\n"
    "refreshed) afterwards; merges give their space back (newsidx optimize).\n"
    "An id that no article has is reported, not an error.\n"
    "\n"
    "Options:\n"
    "  --ids-from FILE   read the ids from FILE\n"
    "  --query QUERY     delete every article QUERY matches (the search syntax,\n"
    "                    e.g. 'date:..1990-12-31' or 'source:wire')\n"
    "  --dry-run         with --query: count what would be deleted, change nothing\n"
    "  --json            print {\"deleted\": N, \"not_found\": M} (and the ids not found)\n"
    "\n"
    "Exit codes: 0 done (even if some ids were not found); 1 failure (nothing\n"
    "committed); 2 bad usage or query syntax error.\n";

/* Deletes one id; counts and remembers a miss. */
static int delete_one(newsidx_writer *w, const char *id, size_t len, uint64_t *deleted,
                      uint64_t *missing, bool json, bool *first_miss) {
    uint64_t n = 0;
    int rc = newsidx_writer_delete(w, id, len, &n);
    if (rc) return rc;
    *deleted += n;
    if (!n) {
        ++*missing;
        if (json) {
            printf("%s", *first_miss ? "" : ",");
            cli_json_string(stdout, id, len);
        } else {
            fprintf(stderr, "newsidx delete: %.*s: no such article\n", (int)len, id);
        }
        *first_miss = false;
    }
    return 0;
}

static int count_matches(const char *dir, const char *query) {
    newsidx_reader *r;
    char eb[512];
    if (newsidx_reader_open(dir, eb, sizeof eb, &r)) {
        cli_error("delete", "%s", eb);
        return -1;
    }
    newsidx_query *q;
    size_t col = 0;
    int rc = newsidx_query_parse(r, query, strlen(query), NULL, &col, eb, sizeof eb, &q);
    if (rc) {
        cli_error("delete", "%s", eb);
        if (col) fprintf(stderr, "  %s\n  %*s^\n", query, (int)(col - 1), "");
        newsidx_reader_close(r);
        return -2;
    }
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    so.count_only = 1;
    newsidx_results *res;
    rc = newsidx_search_v2(r, q, &so, eb, sizeof eb, &res);
    newsidx_query_free(q);
    newsidx_reader_close(r);
    if (rc) {
        cli_error("delete", "%s", eb);
        return -1;
    }
    long long n = (long long)newsidx_results_total(res);
    newsidx_results_free(res);
    return (int)(n > 0x7fffffff ? 0x7fffffff : n);
}

static int run_delete(int argc, char **argv) {
    const char *dir = NULL, *ids_from = NULL, *query = NULL;
    bool json = false, dry = false;
    int first_id = 0, n_ids = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) json = true;
        else if (strcmp(a, "--dry-run") == 0) dry = true;
        else if (strcmp(a, "--ids-from") == 0 || strcmp(a, "--query") == 0) {
            if (i + 1 >= argc) return cli_usage_error(&cli_delete, "%s needs a value", a);
            if (a[2] == 'i') ids_from = argv[++i];
            else query = argv[++i];
        } else if (strcmp(a, "--") == 0) {
            if (!dir && i + 1 < argc) dir = argv[++i];
            first_id = i + 1;
            n_ids = argc - first_id;
            break;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(&cli_delete, "unknown option '%s'", a);
        } else if (!dir) {
            dir = a;
        } else {
            if (!n_ids) first_id = i;
            if (i != first_id + n_ids)
                return cli_usage_error(&cli_delete, "ids must come together after DIR");
            n_ids++;
        }
    }
    if (!dir) return cli_usage_error(&cli_delete, "no index directory");
    if ((n_ids > 0) + (ids_from != NULL) + (query != NULL) != 1)
        return cli_usage_error(&cli_delete, "give ids, --ids-from FILE or --query QUERY (one of them)");
    if (dry && !query) return cli_usage_error(&cli_delete, "--dry-run goes with --query");
    if (dry) {
        int n = count_matches(dir, query);
        if (n < 0) return n == -2 ? EXIT_USAGE : EXIT_FAIL;
        if (json) printf("{\"would_delete\": %d}\n", n);
        else printf("would delete %d article%s (dry run: nothing changed)\n", n, n == 1 ? "" : "s");
        return EXIT_OK;
    }
    newsidx_writer *w = cli_open_writer("delete", dir);
    if (!w) return EXIT_FAIL;
    uint64_t deleted = 0, missing = 0;
    bool first_miss = true;
    int rc = 0;
    if (json && !query) printf("{\"not_found_ids\": [");
    if (query) {
        rc = newsidx_writer_delete_query(w, query, strlen(query), &deleted);
    } else if (ids_from) {
        FILE *in = strcmp(ids_from, "-") == 0 ? stdin : fopen(ids_from, "r");
        if (!in) {
            cli_error("delete", "%s: cannot open: %s", ids_from, strerror(errno));
            newsidx_writer_close(w);
            return EXIT_FAIL;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
            size_t len = (size_t)n;
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
            if (len) rc = delete_one(w, line, len, &deleted, &missing, json, &first_miss);
        }
        free(line);
        if (in != stdin) fclose(in);
    } else {
        for (int i = 0; rc == 0 && i < n_ids; i++)
            rc = delete_one(w, argv[first_id + i], strlen(argv[first_id + i]), &deleted, &missing,
                            json, &first_miss);
    }
    if (json && !query) printf("], ");
    if (rc == 0) rc = newsidx_writer_commit(w);
    if (rc) {
        if (json) printf("%s\"error\": ", query ? "{" : "");
        if (json) cli_json_string(stdout, newsidx_writer_errmsg(w), strlen(newsidx_writer_errmsg(w)));
        if (json) printf("}\n");
        cli_error("delete", "%s: nothing committed", newsidx_writer_errmsg(w));
        newsidx_writer_close(w);
        return rc == NEWSIDX_ERR_SYNTAX || rc == NEWSIDX_ERR_LIMIT ? EXIT_USAGE : EXIT_FAIL;
    }
    newsidx_writer_close(w);
    if (json)
        printf("%s\"deleted\": %llu, \"not_found\": %llu}\n", query ? "{" : "",
               (unsigned long long)deleted, (unsigned long long)missing);
    else
        printf("deleted %llu article%s%s", (unsigned long long)deleted, deleted == 1 ? "" : "s",
               missing ? ", " : "\n");
    if (!json && missing) printf("%llu not found\n", (unsigned long long)missing);
    return EXIT_OK;
}

const cli_command cli_delete = {"delete", "delete articles by id or query: newsidx delete DIR ID...",
                                usage, run_delete};
