/* tools/cmd_search — `newsidx search`: runs one query and prints the hits
 * (human-readable, or one JSON document with --json). */
#include "cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: newsidx search DIR QUERY [options]\n"
    "\n"
    "Searches the index in DIR. Query syntax (docs/QUERY.md): words (all must\n"
    "match), OR, NOT/-word, +word, ( ), \"exact phrase\", \"a b\"~N, a NEAR/N b,\n"
    "pref*, word~1, title:/body:/author:/source:/url:term, date:2024-06..2024-07,\n"
    "term^2.\n"
    "\n"
    "Options:\n"
    "  -n K                 hits to show (default 10)\n"
    "  --offset N           skip the first N hits (paging)\n"
    "  --sort score|date|-date  relevance (default), oldest first, newest first\n"
    "  --fields LIST        stored fields to return (default title,date,source; * = all)\n"
    "  --snippets N         snippet fragments per hit (default 1, 0 = none)\n"
    "  --count              print only the number of matching articles\n"
    "  --facets LIST        counts per source, year and/or month (source,year,month)\n"
    "  --recency DAYS       boost recent articles (score / (1 + age / DAYS))\n"
    "  --json               one JSON document on stdout\n"
    "\n"
    "Exit codes: 0 success, 1 failure, 2 usage or query syntax error.\n";

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static bool parse_u32(const char *s, uint32_t *out) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > UINT32_MAX || s[0] == '-') return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_facets(const char *s, unsigned *out) {
    *out = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == 6 && strncmp(s, "source", 6) == 0) *out |= NEWSIDX_FACET_SOURCE;
        else if (l == 4 && strncmp(s, "year", 4) == 0) *out |= NEWSIDX_FACET_YEAR;
        else if (l == 5 && strncmp(s, "month", 5) == 0) *out |= NEWSIDX_FACET_MONTH;
        else return false;
        if (!e) break;
        s = e + 1;
    }
    return *out != 0;
}

/* Prints a snippet on one line: white space collapsed to single spaces,
 * highlights in bold on a terminal, [bracketed] otherwise. */
static void print_snippet(const newsidx_snippet *sn, bool tty) {
    size_t h = 0;
    bool space = false;
    for (size_t i = 0; i < sn->text_len; i++) {
        size_t at = sn->field_start + i;
        while (h < sn->n_highlights && sn->highlights[h][1] <= at) h++;
        bool in = h < sn->n_highlights && at >= sn->highlights[h][0];
        if (in && at == sn->highlights[h][0]) fputs(tty ? "\033[1m" : "[", stdout);
        char c = sn->text[i];
        if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
            if (!space) putchar(' ');
            space = true;
        } else {
            putchar(c);
            space = false;
        }
        if (in && at + 1 == sn->highlights[h][1]) fputs(tty ? "\033[0m" : "]", stdout);
    }
}

static const char *field_or(const newsidx_results *res, size_t i, const char *name,
                            const char *dflt) {
    const newsidx_field *f = newsidx_hit_field(res, i, name);
    return f && f->value_len ? f->value : dflt;
}

static void print_human(const newsidx_results *res, uint32_t offset, unsigned facets,
                        double took_us) {
    bool tty = isatty(1);
    size_t n = newsidx_results_count(res);
    for (size_t i = 0; i < n; i++) {
        const char *title = field_or(res, i, "title", "(no title)");
        printf("%3zu. %s%s%s\n", offset + i + 1, tty ? "\033[1m" : "", title, tty ? "\033[0m" : "");
        const char *date = field_or(res, i, "date", NULL);
        const char *source = field_or(res, i, "source", NULL);
        printf("     ");
        /* every date the indexer understands shows as YYYY-MM-DD (UTC), so
         * hits from archives with different date styles line up; text that
         * is not a date is shown as written */
        if (date) {
            int64_t t;
            time_t tt;
            struct tm tm;
            if (newsidx_parse_date(date, strlen(date), &t) == NEWSIDX_OK &&
                (tt = (time_t)t, gmtime_r(&tt, &tm)))
                printf("%04d-%02d-%02d  ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
            else
                printf("%s  ", date);
        }
        if (source) printf("%s  ", source);
        printf("%s  score %.3f\n", newsidx_hit_id(res, i), newsidx_hit_score(res, i));
        for (size_t j = 0; j < newsidx_hit_snippet_count(res, i); j++) {
            printf("     ");
            print_snippet(newsidx_hit_snippet(res, i, j), tty);
            putchar('\n');
        }
    }
    static const unsigned kinds[3] = {NEWSIDX_FACET_SOURCE, NEWSIDX_FACET_YEAR, NEWSIDX_FACET_MONTH};
    static const char *const names[3] = {"source", "year", "month"};
    for (int k = 0; k < 3; k++) {
        if (!(facets & kinds[k])) continue;
        size_t nv = newsidx_facet_count(res, kinds[k]);
        printf("\n%s:\n", names[k]);
        uint64_t max = 1;
        for (size_t j = 0; j < nv; j++) {
            uint64_t c;
            newsidx_facet_value(res, kinds[k], j, NULL, &c);
            if (c > max) max = c;
        }
        for (size_t j = 0; j < nv; j++) {
            const char *label;
            uint64_t c;
            newsidx_facet_value(res, kinds[k], j, &label, &c);
            if (kinds[k] == NEWSIDX_FACET_MONTH) {
                /* a bar per month, scaled to 50 columns */
                int w = (int)((c * 50 + max - 1) / max);
                printf("  %s %8llu ", label, (unsigned long long)c);
                for (int b = 0; b < w; b++) fputs(tty ? "\xe2\x96\x88" : "#", stdout);
                putchar('\n');
            } else {
                printf("  %-30s %llu\n", label, (unsigned long long)c);
            }
        }
    }
    uint64_t total = newsidx_results_total(res);
    printf("%s%llu result%s in %.2f ms\n", n || facets ? "\n" : "", (unsigned long long)total,
           total == 1 ? "" : "s", took_us / 1000.0);
}

static void print_json(const char *query, const newsidx_results *res, unsigned facets,
                       double took_us) {
    printf("{\"query\":");
    cli_json_string(stdout, query, strlen(query));
    printf(",\"total\":%llu,\"took_us\":%.0f,\"hits\":[",
           (unsigned long long)newsidx_results_total(res), took_us);
    size_t n = newsidx_results_count(res);
    static const char *const known[] = {"id", "title", "date", "source", "author", "url",
                                        "body", "topics", "category", "dateline", "split"};
    for (size_t i = 0; i < n; i++) {
        const char *id = newsidx_hit_id(res, i);
        printf("%s{\"id\":", i ? "," : "");
        cli_json_string(stdout, id, strlen(id));
        printf(",\"score\":%.6f", newsidx_hit_score(res, i));
        for (size_t k = 1; k < sizeof known / sizeof known[0]; k++) {
            const newsidx_field *f = newsidx_hit_field(res, i, known[k]);
            if (!f) continue;
            printf(",");
            cli_json_string(stdout, f->name, strlen(f->name));
            printf(":");
            cli_json_string(stdout, f->value, f->value_len);
        }
        printf(",\"snippets\":[");
        for (size_t j = 0; j < newsidx_hit_snippet_count(res, i); j++) {
            const newsidx_snippet *sn = newsidx_hit_snippet(res, i, j);
            printf("%s{\"field\":\"%s\",\"start\":%zu,\"text\":", j ? "," : "", sn->field,
                   sn->field_start);
            cli_json_string(stdout, sn->text, sn->text_len);
            printf(",\"highlights\":[");
            for (size_t h = 0; h < sn->n_highlights; h++)
                printf("%s[%zu,%zu]", h ? "," : "", sn->highlights[h][0], sn->highlights[h][1]);
            printf("]}");
        }
        printf("]}");
    }
    printf("],\"facets\":{");
    static const unsigned kinds[3] = {NEWSIDX_FACET_SOURCE, NEWSIDX_FACET_YEAR, NEWSIDX_FACET_MONTH};
    static const char *const names[3] = {"source", "year", "month"};
    bool first = true;
    for (int k = 0; k < 3; k++) {
        if (!(facets & kinds[k])) continue;
        printf("%s\"%s\":{", first ? "" : ",", names[k]);
        first = false;
        for (size_t j = 0; j < newsidx_facet_count(res, kinds[k]); j++) {
            const char *label;
            uint64_t c;
            newsidx_facet_value(res, kinds[k], j, &label, &c);
            printf("%s", j ? "," : "");
            cli_json_string(stdout, label, strlen(label));
            printf(":%llu", (unsigned long long)c);
        }
        printf("}");
    }
    printf("}}\n");
}

static int run(int argc, char **argv) {
    const char *dir = NULL, *query = NULL;
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-n") == 0 || strcmp(a, "--offset") == 0 || strcmp(a, "--snippets") == 0) {
            uint32_t x;
            if (!v || !parse_u32(v, &x))
                return cli_usage_error(&cli_search, "%s needs a number", a);
            if (a[1] == 'n') so.k = x;
            else if (a[2] == 'o') so.offset = x;
            else so.snippets = x;
            i++;
        } else if (strcmp(a, "--sort") == 0) {
            if (!v) return cli_usage_error(&cli_search, "--sort needs score, date or -date");
            if (strcmp(v, "score") == 0) so.sort = NEWSIDX_SORT_SCORE;
            else if (strcmp(v, "date") == 0) so.sort = NEWSIDX_SORT_DATE_ASC;
            else if (strcmp(v, "-date") == 0) so.sort = NEWSIDX_SORT_DATE_DESC;
            else return cli_usage_error(&cli_search, "--sort needs score, date or -date, not '%s'", v);
            i++;
        } else if (strcmp(a, "--fields") == 0) {
            if (!v) return cli_usage_error(&cli_search, "--fields needs a list");
            so.fields = v;
            i++;
        } else if (strcmp(a, "--facets") == 0) {
            if (!v || !parse_facets(v, &so.facets))
                return cli_usage_error(&cli_search, "--facets needs a list of source, year, month");
            i++;
        } else if (strcmp(a, "--recency") == 0) {
            char *end;
            double d = v ? strtod(v, &end) : 0;
            if (!v || *end || !(d > 0))
                return cli_usage_error(&cli_search, "--recency needs a number of days > 0");
            so.recency_halflife_days = d;
            i++;
        } else if (strcmp(a, "--count") == 0) {
            so.count_only = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (!dir) dir = argv[i];
                else if (!query) query = argv[i];
                else return cli_usage_error(&cli_search, "unexpected argument '%s'", argv[i]);
            }
        } else if (a[0] == '-' && a[1] && !(dir && !query)) {
            return cli_usage_error(&cli_search, "unknown option '%s'", a);
        } else if (!dir) {
            dir = a;
        } else if (!query) {
            query = a;
        } else {
            return cli_usage_error(&cli_search, "unexpected argument '%s'", a);
        }
    }
    if (!dir || !query) return cli_usage_error(&cli_search, "DIR and QUERY are required");

    char err[512];
    newsidx_reader *r = NULL;
    int rc = newsidx_reader_open(dir, err, sizeof err, &r);
    if (rc) {
        cli_error("search", "%s", err[0] ? err : newsidx_strerror(rc));
        return EXIT_FAIL;
    }
    double t0 = now_us();
    newsidx_query *q = NULL;
    size_t col = 0;
    rc = newsidx_query_parse(r, query, strlen(query), NULL, &col, err, sizeof err, &q);
    if (rc) {
        cli_error("search", "%s", err[0] ? err : newsidx_strerror(rc));
        if (rc == NEWSIDX_ERR_SYNTAX) {
            fprintf(stderr, "  %s\n  %*s^\n", query, (int)(col ? col - 1 : 0), "");
        }
        newsidx_reader_close(r);
        return rc == NEWSIDX_ERR_SYNTAX || rc == NEWSIDX_ERR_LIMIT ? EXIT_USAGE : EXIT_FAIL;
    }
    newsidx_results *res = NULL;
    char serr[512] = "";
    so.errbuf = serr;
    so.errbuf_size = sizeof serr;
    rc = newsidx_search(r, q, &so, &res);
    double took = now_us() - t0;
    if (rc) {
        cli_error("search", "%s", serr[0] ? serr : newsidx_strerror(rc));
        newsidx_query_free(q);
        newsidx_reader_close(r);
        return rc == NEWSIDX_ERR_LIMIT ? EXIT_USAGE : EXIT_FAIL;
    }
    if (so.count_only && !json) printf("%llu\n", (unsigned long long)newsidx_results_total(res));
    else if (json) print_json(query, res, so.facets, took);
    else print_human(res, so.offset, so.facets, took);
    newsidx_results_free(res);
    newsidx_query_free(q);
    newsidx_reader_close(r);
    return EXIT_OK;
}

const cli_command cli_search = {
    "search",
    "search an index: newsidx search DIR QUERY",
    usage,
    run,
};
