/* tools/ — `newsidx get`: prints a stored article by id. */
#include "cli.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: newsidx get DIR ID [--json]\n"
    "\n"
    "Prints the stored fields of the article with id ID, one NAME: VALUE per\n"
    "field, or one JSON object with --json. An index built with --no-store\n"
    "holds the ids only.\n"
    "\n"
    "Exit codes: 0 found; 1 not found or the index cannot be read; 2 bad usage.\n";

static int run_get(int argc, char **argv) {
    const char *dir = NULL, *id = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (!dir) dir = argv[i];
        else if (!id) id = argv[i];
        else return cli_usage_error(&cli_get, "too many arguments");
    }
    if (!dir || !id) return cli_usage_error(&cli_get, "want DIR and ID");
    newsidx_reader *r;
    char eb[512];
    if (newsidx_reader_open(dir, eb, sizeof eb, &r)) {
        cli_error("get", "%s", eb);
        return EXIT_FAIL;
    }
    newsidx_doc *doc;
    int rc = newsidx_reader_get(r, id, strlen(id), &doc);
    if (rc) {
        cli_error("get", "%s: %s", id, rc == NEWSIDX_ERR_NOT_FOUND ? "no such article" : newsidx_strerror(rc));
        newsidx_reader_close(r);
        return EXIT_FAIL;
    }
    size_t n = newsidx_doc_field_count(doc);
    if (json) {
        putchar('{');
        for (size_t i = 0; i < n; i++) {
            const newsidx_field *f = newsidx_doc_field(doc, i);
            if (i) fputs(", ", stdout);
            cli_json_string(stdout, f->name, strlen(f->name));
            fputs(": ", stdout);
            cli_json_string(stdout, f->value, f->value_len);
        }
        int64_t t;
        if (newsidx_doc_date(doc, &t) == 0) printf("%s\"date_seconds\": %lld", n ? ", " : "", (long long)t);
        puts("}");
    } else {
        for (size_t i = 0; i < n; i++) {
            const newsidx_field *f = newsidx_doc_field(doc, i);
            cli_put_str(stdout, f->name);
            fputs(": ", stdout);
            cli_put_text(stdout, f->value, f->value_len, true); /* not obeyed by a terminal */
            putchar('\n');
        }
    }
    newsidx_doc_free(doc);
    newsidx_reader_close(r);
    return EXIT_OK;
}

const cli_command cli_get = {"get", "print a stored article by id", usage, run_get};
