/* index — build an index from article files, and add one article by hand.
 *
 *   index INDEX_DIR INPUT...
 *
 * INPUT is a JSON Lines file (plain, .zst or .gz), a .txt/.md/.html file, a
 * directory (walked recursively) or - for JSON Lines on standard input.
 * Example: index /tmp/idx tests/data/sample.jsonl
 *
 * Shows the write side of the API: open a writer with options, let the
 * library read whole files (bad records are reported and skipped, they
 * never stop the run), add an article given as fields, commit, and read
 * the index's statistics back. */
#include <newsidx.h>

#include <stdio.h>
#include <string.h>

/* Called once per problem in the input (a malformed line, an unreadable
 * file...). Printing them is the caller's choice; ingest goes on. */
static void on_report(void *ctx, const char *file, uint64_t line, int severity, int reason, const char *message) {
    (void)ctx;
    const char *what = severity == NEWSIDX_REPORT_WARNING ? "warning" : severity == NEWSIDX_REPORT_SKIPPED ? "skipped" : "error";
    fprintf(stderr, "%s:%llu: %s (%s): %s\n", file, (unsigned long long)line, what, newsidx_reason_name(reason), message);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s INDEX_DIR INPUT...\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char err[512];

    /* English stemming: "markets" and "market" become one term. The choice
     * is stored in the index, and queries parsed with its reader use it. */
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    wo.stem_language = "english";
    wo.ram_budget_bytes = 64u << 20; /* flush a segment every 64 MiB of buffer */

    /* One writer per index: a second one gets NEWSIDX_ERR_LOCKED. */
    newsidx_writer *w = NULL;
    if (newsidx_writer_open(dir, &wo, err, sizeof err, &w) != NEWSIDX_OK) {
        fprintf(stderr, "%s: %s\n", dir, err);
        return 1;
    }

    newsidx_ingest_options io;
    newsidx_ingest_options_init(&io);
    io.report = on_report;
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st); /* the counters add up over calls */
    for (int i = 2; i < argc; i++) {
        int rc = newsidx_ingest_path(w, argv[i], &io, &st);
        if (rc != NEWSIDX_OK) {
            /* the input itself could not be read, or the writer failed */
            fprintf(stderr, "%s: %s %s\n", argv[i], newsidx_strerror(rc), newsidx_writer_errmsg(w));
            newsidx_writer_close(w); /* nothing since the last commit is kept */
            return 1;
        }
    }

    /* An article can also come from the program itself, as named fields.
     * Values need no NUL terminator: each carries its length. An article
     * whose id exists already replaces it. */
    static const char title[] = "Index built by the libnewsidx example";
    static const char body[] = "This article was added with newsidx_writer_add, field by field.";
    newsidx_field fields[] = {
        {"id", "example-1", strlen("example-1")},
        {"title", title, sizeof title - 1},
        {"body", body, sizeof body - 1},
        {"date", "2024-07-01", strlen("2024-07-01")},
        {"source", "examples", strlen("examples")},
    };
    unsigned warnings = 0;
    if (newsidx_writer_add(w, fields, sizeof fields / sizeof fields[0], &warnings) != NEWSIDX_OK) {
        fprintf(stderr, "add: %s\n", newsidx_writer_errmsg(w));
        newsidx_writer_close(w);
        return 1;
    }

    /* Nothing is visible to readers, or durable, before a commit. */
    if (newsidx_writer_commit(w) != NEWSIDX_OK) {
        fprintf(stderr, "commit: %s\n", newsidx_writer_errmsg(w));
        newsidx_writer_close(w);
        return 1;
    }
    newsidx_writer_close(w);
    printf("indexed %llu articles from files (+1 by hand), %llu skipped, %llu with warnings\n",
           (unsigned long long)st.indexed, (unsigned long long)st.skipped, (unsigned long long)st.warnings);

    /* A reader opened now sees the commit. */
    newsidx_reader *r = NULL;
    if (newsidx_reader_open(dir, err, sizeof err, &r) != NEWSIDX_OK) {
        fprintf(stderr, "%s: %s\n", dir, err);
        return 1;
    }
    newsidx_stats s;
    newsidx_reader_stats(r, &s);
    printf("%s: %llu articles in %llu segments, %llu terms\n", dir, (unsigned long long)s.docs,
           (unsigned long long)s.segments, (unsigned long long)s.terms);
    newsidx_reader_close(r);
    return 0;
}
