/* search — query an index and print the best hits with highlighted snippets.
 *
 *   search INDEX_DIR 'QUERY' [K]
 *
 * Example: search /tmp/idx '"heat wave" OR canicule' 3
 *
 * Shows the read side of the API: open a reader, parse a query (a syntax
 * error comes with the column where it was found), search, and walk the
 * hits, their stored fields and their snippets. Everything returned by
 * newsidx_search_v2 lives inside the results and is valid until
 * newsidx_results_free. */
#include <newsidx.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints a snippet with each highlighted span between [ and ]. Highlights
 * are byte offsets into the original field; the snippet text starts at
 * field_start of that field, hence the subtraction. */
static void print_snippet(const newsidx_snippet *sn) {
    size_t at = 0;
    printf("    %s: ", sn->field);
    for (size_t h = 0; h < sn->n_highlights; h++) {
        size_t start = sn->highlights[h][0] - sn->field_start;
        size_t end = sn->highlights[h][1] - sn->field_start;
        printf("%.*s[%.*s]", (int)(start - at), sn->text + at, (int)(end - start), sn->text + start);
        at = end;
    }
    printf("%s\n", sn->text + at);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s INDEX_DIR 'QUERY' [K]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *text = argv[2];
    char err[512];

    /* A reader is a snapshot of the last commit; many threads may share it. */
    newsidx_reader *r = NULL;
    if (newsidx_reader_open(dir, err, sizeof err, &r) != NEWSIDX_OK) {
        fprintf(stderr, "%s: %s\n", dir, err);
        return 1;
    }

    /* Parsing with the reader applies the index's own analyzer (stemming,
     * stopwords) to the query words. */
    newsidx_query *q = NULL;
    size_t column = 0;
    int rc = newsidx_query_parse(r, text, strlen(text), NULL, &column, err, sizeof err, &q);
    if (rc != NEWSIDX_OK) {
        fprintf(stderr, "%s\n  %s\n", err, text);
        if (rc == NEWSIDX_ERR_SYNTAX) fprintf(stderr, "  %*s^\n", (int)column - 1, "");
        newsidx_reader_close(r);
        return 2;
    }

    /* Options start from their defaults; set only what differs. */
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.k = argc == 4 ? (uint32_t)strtoul(argv[3], NULL, 10) : 5;
    o.fields = "title,date,source"; /* stored fields to fetch for each hit */
    o.snippets = 2;                 /* up to two fragments per hit */
    o.snippet_bytes = 160;

    newsidx_results *res = NULL;
    /* err is a per-call buffer: threads sharing the reader pass their own */
    rc = newsidx_search_v2(r, q, &o, err, sizeof err, &res);
    if (rc != NEWSIDX_OK) {
        fprintf(stderr, "search failed: %s (%s)\n", err, newsidx_strerror(rc));
        newsidx_query_free(q);
        newsidx_reader_close(r);
        return 1;
    }

    printf("%llu articles match %s\n", (unsigned long long)newsidx_results_total(res), text);
    for (size_t i = 0; i < newsidx_results_count(res); i++) {
        /* A field the article does not have comes back as NULL; values are
         * not NUL-terminated, hence the %.*s. */
        const newsidx_field *title = newsidx_hit_field(res, i, "title");
        const newsidx_field *date = newsidx_hit_field(res, i, "date");
        printf("%zu. %s  (score %.3f%s%.*s)\n", i + 1, newsidx_hit_id(res, i), newsidx_hit_score(res, i),
               date ? ", " : "", date ? (int)date->value_len : 0, date ? date->value : "");
        if (title) printf("    %.*s\n", (int)title->value_len, title->value);
        for (size_t j = 0; j < newsidx_hit_snippet_count(res, i); j++) print_snippet(newsidx_hit_snippet(res, i, j));
    }

    /* Results, query and reader are independent handles: free each. */
    newsidx_results_free(res);
    newsidx_query_free(q);
    newsidx_reader_close(r);
    return 0;
}
