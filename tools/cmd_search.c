/* tools/cmd_search — `newsidx search`: runs one query and prints the hits
 * (human-readable, or one JSON document with --json). */
#include "cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: newsidx search DIR... QUERY [options]\n"
    "       newsidx search DIR... --queries FILE [options]   (FILE: one query a line, - = stdin)\n"
    "\n"
    "Searches the index in DIR, or several indexes as one (one per year or per\n"
    "source: ids, scores, totals and facets as one index of the same articles\n"
    "would give). Query syntax (docs/QUERY.md): words (all must\n"
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
    "  --collapse[=D]       show one article of each group of near-duplicate reprints\n"
    "                       (hashes within D bits, default 5, at most 16), with\n"
    "                       \"+N similar\" for the ones it hides\n"
    "  --json               one JSON document on stdout\n"
    "  --max-expansions N   terms one prefix/fuzzy word may expand to (default 1024)\n"
    "  --queries FILE       run every line of FILE as a query (- = standard input);\n"
    "                       prints JSON Lines, one object per query in order, with\n"
    "                       \"error\" (and \"column\") for a query that failed\n"
    "  --color WHEN         highlight with terminal colours: auto (default: when\n"
    "                       stdout is a terminal and NO_COLOR is unset), always, never;\n"
    "                       without colour, highlights are [bracketed]\n"
    "\n"
    "Fields that are stored but not indexed (category, topics, ...) cannot be\n"
    "searched: such a query is a syntax error naming the searchable fields.\n"
    "A query that can match nothing (empty, only stopwords) or a prefix/fuzzy\n"
    "word cut at its expansion limit prints a note on stderr.\n"
    "\n"
    "Exit codes: 0 success, 1 failure, 2 usage or query syntax error (with\n"
    "--queries: the worst of all queries).\n";

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

/* Prints s[*i], white space collapsed to single spaces (*space: the last
 * byte printed was one), control bytes escaped (cli_put_char: a C1
 * control takes the next byte too, *i moves to it). */
static void put_collapsed(const char *s, size_t len, size_t *i, bool *space) {
    char c = s[*i];
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
        if (!*space) putchar(' ');
        *space = true;
    } else {
        *i += cli_put_char(stdout, s, len, *i, false) - 1;
        *space = false;
    }
}

/* Prints a snippet on one line: white space collapsed to single spaces,
 * highlights in bold with colour, [bracketed] without. */
static void print_snippet(const newsidx_snippet *sn, bool tty) {
    size_t h = 0;
    bool space = false;
    for (size_t i = 0; i < sn->text_len; i++) {
        size_t at = sn->field_start + i;
        while (h < sn->n_highlights && sn->highlights[h][1] <= at) h++;
        bool in = h < sn->n_highlights && at >= sn->highlights[h][0];
        if (in && at == sn->highlights[h][0]) fputs(tty ? "\033[1m" : "[", stdout);
        put_collapsed(sn->text, sn->text_len, &i, &space);
        at = sn->field_start + i;
        if (in && at + 1 == sn->highlights[h][1]) fputs(tty ? "\033[0m" : "]", stdout);
    }
}

static const char *field_or(const newsidx_results *res, size_t i, const char *name,
                            const char *dflt) {
    const newsidx_field *f = newsidx_hit_field(res, i, name);
    return f && f->value_len ? f->value : dflt;
}

/* The header line shows title, date and source; other fields asked for
 * with --fields follow on lines of their own, cut to one screen line. */
static bool header_field(const char *name) {
    return strcmp(name, "title") == 0 || strcmp(name, "date") == 0 ||
           strcmp(name, "source") == 0 || strcmp(name, "id") == 0;
}

static void print_field_line(const newsidx_field *f) {
    enum { SHOWN = 160 };
    printf("     %s: ", f->name);
    bool space = false;
    size_t i = 0;
    for (; i < f->value_len && i < SHOWN; i++) put_collapsed(f->value, f->value_len, &i, &space);
    /* finish a UTF-8 sequence cut at the limit */
    while (i < f->value_len && ((unsigned char)f->value[i] & 0xc0) == 0x80) putchar(f->value[i++]);
    if (i < f->value_len) fputs("...", stdout);
    putchar('\n');
}

/* "YYYY" or "YYYY-MM" to a month number (year * 12 + month - 1). */
static bool facet_period(const char *label, bool month, long *out) {
    char *end;
    long y = strtol(label, &end, 10);
    if (!month) {
        *out = y;
        return *end == '\0';
    }
    if (*end != '-') return false;
    long m = strtol(end + 1, &end, 10);
    if (*end || m < 1 || m > 12) return false;
    *out = y * 12 + m - 1;
    return true;
}

/* A year or month histogram, every period from the first to the last (the
 * empty ones too), then the hits that have no date. */
static void print_histogram(const newsidx_results *res, unsigned kind, bool color) {
    bool month = kind == NEWSIDX_FACET_MONTH;
    size_t nv = newsidx_facet_count(res, kind);
    uint64_t max = 1, dated = 0;
    for (size_t j = 0; j < nv; j++) {
        uint64_t c;
        newsidx_facet_value(res, kind, j, NULL, &c);
        if (c > max) max = c;
        dated += c;
    }
    long prev = 0;
    for (size_t j = 0; j < nv; j++) {
        const char *label;
        uint64_t c;
        newsidx_facet_value(res, kind, j, &label, &c);
        long at;
        bool ok = facet_period(label, month, &at);
        /* the gap since the previous period, at most 10 years of rows */
        for (long g = prev + 1; ok && j > 0 && g < at && at - g <= (month ? 120 : 10); g++) {
            if (month)
                printf("  %04ld-%02ld %8d\n", g / 12, g % 12 + 1, 0);
            else
                printf("  %-7ld %8d\n", g, 0);
        }
        if (ok) prev = at;
        int w = (int)((c * 50 + max - 1) / max);
        printf("  %-7s %8llu ", label, (unsigned long long)c);
        for (int b = 0; b < w; b++) fputs(color ? "\xe2\x96\x88" : "#", stdout);
        putchar('\n');
    }
    uint64_t total = newsidx_results_total(res);
    if (total > dated) printf("  %-7s %8llu\n", "undated", (unsigned long long)(total - dated));
}

static void print_human(const newsidx_results *res, uint32_t offset, unsigned facets,
                        double took_us, bool color) {
    size_t n = newsidx_results_count(res);
    for (size_t i = 0; i < n; i++) {
        const char *title = field_or(res, i, "title", "(no title)");
        printf("%3zu. %s", offset + i + 1, color ? "\033[1m" : "");
        cli_put_str(stdout, title);
        printf("%s\n", color ? "\033[0m" : "");
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
            else {
                cli_put_str(stdout, date);
                fputs("  ", stdout);
            }
        }
        if (source) {
            cli_put_str(stdout, source);
            fputs("  ", stdout);
        }
        cli_put_str(stdout, newsidx_hit_id(res, i));
        printf("  score %.3f", newsidx_hit_score(res, i));
        if (newsidx_hit_hidden(res, i)) printf("  +%u similar", newsidx_hit_hidden(res, i));
        putchar('\n');
        for (size_t j = 0; j < newsidx_hit_field_count(res, i); j++) {
            const newsidx_field *f = newsidx_hit_field_at(res, i, j);
            if (!header_field(f->name)) print_field_line(f);
        }
        for (size_t j = 0; j < newsidx_hit_snippet_count(res, i); j++) {
            printf("     ");
            print_snippet(newsidx_hit_snippet(res, i, j), color);
            putchar('\n');
        }
    }
    if (facets & NEWSIDX_FACET_SOURCE) {
        printf("\nsource:\n");
        for (size_t j = 0; j < newsidx_facet_count(res, NEWSIDX_FACET_SOURCE); j++) {
            const char *label;
            uint64_t c;
            newsidx_facet_value(res, NEWSIDX_FACET_SOURCE, j, &label, &c);
            fputs("  ", stdout);
            cli_put_str(stdout, label);
            printf("%*s %llu\n", strlen(label) < 30 ? (int)(30 - strlen(label)) : 0, "",
                   (unsigned long long)c);
        }
    }
    if (facets & NEWSIDX_FACET_YEAR) {
        printf("\nyear:\n");
        print_histogram(res, NEWSIDX_FACET_YEAR, color);
    }
    if (facets & NEWSIDX_FACET_MONTH) {
        printf("\nmonth:\n");
        print_histogram(res, NEWSIDX_FACET_MONTH, color);
    }
    uint64_t total = newsidx_results_total(res);
    printf("%s%llu result%s in %.2f ms\n", n || facets ? "\n" : "", (unsigned long long)total,
           total == 1 ? "" : "s", took_us / 1000.0);
}

static void print_json(const char *query, size_t query_len, const newsidx_results *res,
                       unsigned facets, bool collapse, double took_us) {
    printf("{\"query\":");
    cli_json_string(stdout, query, query_len);
    printf(",\"total\":%llu,\"took_us\":%.0f,",
           (unsigned long long)newsidx_results_total(res), took_us);
    const char *notice = newsidx_results_notice(res);
    if (notice[0]) {
        printf("\"notice\":");
        cli_json_string(stdout, notice, strlen(notice));
        printf(",");
    }
    printf("\"hits\":[");
    size_t n = newsidx_results_count(res);
    for (size_t i = 0; i < n; i++) {
        const char *id = newsidx_hit_id(res, i);
        printf("%s{\"id\":", i ? "," : "");
        cli_json_string(stdout, id, strlen(id));
        printf(",\"score\":%.6f", newsidx_hit_score(res, i));
        if (collapse) printf(",\"similar\":%u", newsidx_hit_hidden(res, i));
        for (size_t k = 0; k < newsidx_hit_field_count(res, i); k++) {
            const newsidx_field *f = newsidx_hit_field_at(res, i, k);
            /* "id", "score" and "snippets" are the hit's own keys */
            if (strcmp(f->name, "id") == 0 || strcmp(f->name, "score") == 0 ||
                strcmp(f->name, "snippets") == 0)
                continue;
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

/* The result of running one query: an exit code, and on failure the message
 * and (syntax errors) its 1-based column. */
typedef struct outcome {
    int exit;
    char err[512];
    size_t column;
} outcome;

/* Parses and runs one query; prints its results as text or JSON. */
static void run_one(newsidx_reader *r, const char *query, size_t len,
                    const newsidx_query_options *qo, const newsidx_search_options *so, bool json,
                    bool color, outcome *out) {
    out->exit = EXIT_OK;
    out->err[0] = '\0';
    out->column = 0;
    double t0 = now_us();
    newsidx_query *q = NULL;
    int rc = newsidx_query_parse(r, query, len, qo, &out->column, out->err, sizeof out->err, &q);
    if (rc) {
        out->exit = rc == NEWSIDX_ERR_SYNTAX || rc == NEWSIDX_ERR_LIMIT ? EXIT_USAGE : EXIT_FAIL;
        if (!out->err[0]) snprintf(out->err, sizeof out->err, "%s", newsidx_strerror(rc));
        return;
    }
    newsidx_results *res = NULL;
    rc = newsidx_search_v2(r, q, so, out->err, sizeof out->err, &res);
    double took = now_us() - t0;
    newsidx_query_free(q);
    if (rc) {
        out->exit = rc == NEWSIDX_ERR_LIMIT ? EXIT_USAGE : EXIT_FAIL;
        if (!out->err[0]) snprintf(out->err, sizeof out->err, "%s", newsidx_strerror(rc));
        return;
    }
    const char *notice = newsidx_results_notice(res);
    if (notice[0] && !json) fprintf(stderr, "newsidx search: note: %s\n", notice);
    if (so->count_only && !json) printf("%llu\n", (unsigned long long)newsidx_results_total(res));
    else if (json) print_json(query, len, res, so->facets, so->collapse_distance > 0, took);
    else print_human(res, so->offset, so->facets, took, color);
    newsidx_results_free(res);
}

/* --queries: every line a query, JSON Lines out, one object per line in
 * order (a failed query gives {"query", "error"[, "column"]}). Returns the
 * worst exit code. */
static int run_batch(newsidx_reader *r, const char *file, newsidx_query_options qo,
                     const newsidx_search_options *so) {
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!in) {
        cli_error("search", "%s: cannot open: %s", file, strerror(errno));
        return EXIT_FAIL;
    }
    /* a line is not bound by the 128 KiB of one argv string */
    qo.max_query_bytes = 16u << 20;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int worst = EXIT_OK;
    outcome oc;
    while ((n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        run_one(r, line, len, &qo, so, true, false, &oc);
        if (oc.exit) {
            printf("{\"query\":");
            cli_json_string(stdout, line, len);
            printf(",\"error\":");
            cli_json_string(stdout, oc.err, strlen(oc.err));
            if (oc.column) printf(",\"column\":%zu", oc.column);
            printf("}\n");
            if (worst != EXIT_FAIL) worst = oc.exit;
        }
    }
    if (ferror(in)) {
        cli_error("search", "%s: read error: %s", file, strerror(errno));
        worst = EXIT_FAIL;
    }
    free(line);
    if (in != stdin) fclose(in);
    return worst;
}

static int run(int argc, char **argv) {
    const char *query = NULL, *queries = NULL, *color_when = "auto";
    /* positional arguments, DIR... then QUERY (only DIRs with --queries),
     * are gathered at the front of argv as they are read */
    int n_pos = 0;
    newsidx_search_options so;
    newsidx_search_options_init(&so);
    newsidx_query_options qo;
    newsidx_query_options_init(&qo);
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
        } else if (strcmp(a, "--max-expansions") == 0) {
            if (!v || !parse_u32(v, &qo.max_expansions) || qo.max_expansions == 0)
                return cli_usage_error(&cli_search, "--max-expansions needs a number > 0");
            i++;
        } else if (strcmp(a, "--queries") == 0) {
            if (!v) return cli_usage_error(&cli_search, "--queries needs a file (- for stdin)");
            queries = v;
            i++;
        } else if (strcmp(a, "--color") == 0 || strncmp(a, "--color=", 8) == 0) {
            const char *w = a[7] == '=' ? a + 8 : v;
            if (!w || (strcmp(w, "auto") && strcmp(w, "always") && strcmp(w, "never")))
                return cli_usage_error(&cli_search, "--color needs auto, always or never");
            color_when = w;
            if (a[7] != '=') i++;
        } else if (strcmp(a, "--collapse") == 0 || strncmp(a, "--collapse=", 11) == 0) {
            uint32_t d = NEWSIDX_COLLAPSE_DEFAULT;
            if (a[10] == '=' && (!parse_u32(a + 11, &d) || d == 0 || d > NEWSIDX_COLLAPSE_MAX))
                return cli_usage_error(&cli_search, "--collapse=D needs a number of bits, 1 to %d",
                                       NEWSIDX_COLLAPSE_MAX);
            so.collapse_distance = d;
        } else if (strcmp(a, "--count") == 0) {
            so.count_only = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) argv[n_pos++] = argv[i];
        } else if (a[0] == '-' && a[1] && (n_pos == 0 || a[1] == '-')) {
            /* after a DIR, "-word" is a query (a negation), not an option */
            return cli_usage_error(&cli_search, "unknown option '%s'", a);
        } else {
            argv[n_pos++] = argv[i];
        }
    }
    if (!queries && n_pos >= 2) query = argv[--n_pos];
    if (n_pos == 0 || (!query && !queries))
        return cli_usage_error(&cli_search, "DIR and QUERY (or --queries FILE) are required");
    const char *const *dirs = (const char *const *)argv;
    const char *no_color = getenv("NO_COLOR");
    bool color = strcmp(color_when, "always") == 0 ||
                 (strcmp(color_when, "auto") == 0 && isatty(1) && !(no_color && no_color[0]));

    char err[512];
    newsidx_reader *r = NULL;
    int rc = newsidx_reader_open_multi(dirs, (size_t)n_pos, err, sizeof err, &r);
    if (rc) {
        cli_error("search", "%s", err[0] ? err : newsidx_strerror(rc));
        return EXIT_FAIL;
    }
    if (queries) {
        int code = run_batch(r, queries, qo, &so);
        newsidx_reader_close(r);
        return code;
    }
    outcome oc;
    run_one(r, query, strlen(query), &qo, &so, json, color, &oc);
    if (oc.exit) {
        cli_error("search", "%s", oc.err);
        if (oc.column) fprintf(stderr, "  %s\n  %*s^\n", query, (int)(oc.column - 1), "");
    }
    newsidx_reader_close(r);
    return oc.exit;
}

const cli_command cli_search = {
    "search",
    "search an index: newsidx search DIR QUERY",
    usage,
    run,
};
