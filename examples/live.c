/* live — one process that keeps indexing and keeps answering a query, as a
 * news site's back end does while articles arrive.
 *
 *   live INDEX_DIR 'QUERY' BATCH...
 *
 * Each BATCH (a JSON Lines file, a directory...) stands for the articles
 * that arrived since the last round. Each round adds them, commits, moves
 * the reader to the new commit and runs QUERY again, so the count grows
 * batch by batch. Example:
 *   split -l 15 tests/data/sample.jsonl /tmp/feed-
 *   live /tmp/idx 'traore OR heat' /tmp/feed-*
 *
 * The pattern: the writer stays open for the life of the process (it holds
 * the index's lock); a reader is a fixed snapshot, so after each commit the
 * program opens a reader on the new commit and closes the old one. */
#include <newsidx.h>

#include <stdio.h>
#include <string.h>

/* Opens a reader on the latest commit and closes *r, the previous one. In a
 * threaded server the old reader would be closed only once the searches
 * still running on it are done (a reader stays valid, and keeps seeing its
 * snapshot, until it is closed). */
static int refresh(const char *dir, newsidx_reader **r) {
    char err[512];
    newsidx_reader *fresh = NULL;
    if (newsidx_reader_open(dir, err, sizeof err, &fresh) != NEWSIDX_OK) {
        fprintf(stderr, "%s: %s\n", dir, err);
        return -1;
    }
    newsidx_reader_close(*r);
    *r = fresh;
    return 0;
}

/* Runs the query on the reader's snapshot; prints the total and the newest
 * hit. The query is parsed per reader: parsing uses the index's analyzer. */
static int ask(const newsidx_reader *r, const char *text) {
    char err[512];
    newsidx_query *q = NULL;
    if (newsidx_query_parse(r, text, strlen(text), NULL, NULL, err, sizeof err, &q) != NEWSIDX_OK) {
        fprintf(stderr, "query: %s\n", err);
        return -1;
    }
    newsidx_search_options o;
    newsidx_search_options_init(&o);
    o.k = 1;
    o.sort = NEWSIDX_SORT_DATE_DESC; /* what a live page wants: the latest first */
    o.snippets = 0;
    o.fields = "title";
    newsidx_results *res = NULL;
    int rc = newsidx_search_v2(r, q, &o, err, sizeof err, &res);
    newsidx_query_free(q);
    if (rc != NEWSIDX_OK) {
        fprintf(stderr, "search: %s\n", err);
        return -1;
    }
    newsidx_stats s;
    newsidx_reader_stats(r, &s);
    printf("  %llu of %llu articles match", (unsigned long long)newsidx_results_total(res), (unsigned long long)s.docs);
    const newsidx_field *title = newsidx_results_count(res) ? newsidx_hit_field(res, 0, "title") : NULL;
    if (title) printf("; latest: %.*s", (int)title->value_len, title->value);
    printf("\n");
    newsidx_results_free(res);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s INDEX_DIR 'QUERY' BATCH...\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *query = argv[2];
    char err[512];

    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    wo.stem_language = "english";
    newsidx_writer *w = NULL;
    if (newsidx_writer_open(dir, &wo, err, sizeof err, &w) != NEWSIDX_OK) {
        fprintf(stderr, "%s: %s\n", dir, err);
        return 1;
    }

    newsidx_reader *r = NULL;
    int status = 0;
    for (int i = 3; i < argc && status == 0; i++) {
        newsidx_ingest_stats st;
        memset(&st, 0, sizeof st);
        /* no report callback: problems are only counted in st */
        if (newsidx_ingest_path(w, argv[i], NULL, &st) != NEWSIDX_OK || newsidx_writer_commit(w) != NEWSIDX_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], newsidx_writer_errmsg(w));
            status = 1;
            break;
        }
        printf("batch %d (%s): %llu articles added, %llu skipped\n", i - 2, argv[i],
               (unsigned long long)st.indexed, (unsigned long long)st.skipped);
        /* The commit is visible to readers opened from now on. */
        if (refresh(dir, &r) != 0 || ask(r, query) != 0) status = 1;
    }

    newsidx_reader_close(r);
    newsidx_writer_close(w);
    return status;
}
