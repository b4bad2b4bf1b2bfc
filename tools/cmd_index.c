/* tools/ — `newsidx index`: article files into an index, with a progress
 * line on a terminal, one line per problem and a summary. */
#include "cli.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: newsidx index -o DIR [--append|--replace] [--ram MB] [--threads N]\n"
    "                     [--stem LANG]\n"
    "                     [--stopwords LANG] [--no-store] [--optimize] [--follow]\n"
    "                     [--quiet] [--report FILE] INPUT...\n"
    "\n"
    "Indexes articles from each INPUT: a JSON Lines file (plain, .zst, .gz,\n"
    ".xz or .bz2), a .txt/.md/.html file, mail (.eml, mbox), a web archive\n"
    "(.warc, .warc.gz), an archive (tar, plain or compressed; zip; 7z; cpio),\n"
    "a directory (walked recursively, archives in it opened) or - for JSON\n"
    "Lines on standard input. A later article with the same id replaces the\n"
    "earlier one.\n"
    "\n"
    "Options:\n"
    "  -o, --output DIR   index directory (created if needed)\n"
    "  --append           add to (and update by id) the existing index in DIR\n"
    "  --replace          build a new index in place of the one DIR holds (the\n"
    "                     old one stays until the new one is committed)\n"
    "                     Without either, a DIR that holds an index is refused.\n"
    "  --ram MB           memory budget (default 256) of the RAM buffers and\n"
    "                     queues of every worker (768 KiB each at the least);\n"
    "                     merges and the reading of one record come on top\n"
    "  --threads N        workers that analyse, compress and write segments\n"
    "                     (default 0: one per core, at most 8; 1: no threads)\n"
    "  --stem LANG        Snowball stemming for the whole index\n"
    "  --stopwords LANG   drop stopwords of LANG\n"
    "  --no-store         store only the ids, not the articles\n"
    "  --optimize         merge the whole index into one segment when committing\n"
    "                     (smaller, faster to search; rewrites the index)\n"
    "  -L, --follow       follow symbolic links that lead outside a directory\n"
    "                     INPUT (by default they are skipped with a warning)\n"
    "  --quiet            no progress line, no warning/skipped/note lines and no\n"
    "                     summary: only errors (whole inputs unreadable)\n"
    "  --report FILE      write every report to FILE as JSON Lines (file, line,\n"
    "                     severity, reason, message), none summarized\n"
    "\n"
    "Each problem is reported on stderr as FILE:LINE: warning|skipped|error|note:\n"
    "MESSAGE (inside an archive FILE is ARCHIVE:MEMBER). The first 5 reports of\n"
    "each reason are shown; the rest are counted and summed up at the end\n"
    "(\"... and 1,793 more empty-body warnings\"). When stderr is a terminal a\n"
    "progress line shows the reading (MB/s of article text, uncompressed), then\n"
    "each flush, merge and the commit with its percent; a summary ends the run.\n"
    "\n"
    "A run that indexes nothing (every input missing, unreadable or skipped)\n"
    "commits nothing, whatever the flags: an existing index stays as it was, and\n"
    "a directory the run created is removed.\n"
    "\n"
    "Exit codes: 0 every record indexed; 1 failure or nothing indexed (nothing\n"
    "committed); 2 bad usage (or DIR holds an index and neither --append nor\n"
    "--replace was given); 3 indexed, but some records were skipped.\n";

/* Reports of one (severity, reason) shown on stderr before the rest are
 * only counted: enough to see the pattern, not 1,798 lines of it. */
#define SHOWN_PER_REASON 5
#define N_SEVERITIES 5 /* NEWSIDX_REPORT_WARNING .. _NOTE, index 0 unused */

typedef struct index_ctx {
    bool quiet;
    FILE *report;          /* --report: every message as JSON Lines */
    bool report_failed;
    /* [severity][reason + 1]: reports seen (reason -1 is slot 0) */
    uint64_t seen[N_SEVERITIES][NEWSIDX_REASON_COUNT + 1];
    bool tty;
    double start;
    double last_draw;
    uint64_t total_bytes;  /* known input sizes (0 = unknown) */
    uint64_t done_bytes;   /* bytes of finished inputs */
    uint64_t done_articles;
    bool progress_shown;
    uint64_t read_bytes;   /* input bytes read so far (compressed as on disk) */
    uint64_t articles;     /* articles read so far */
    uint64_t text_bytes;   /* article text given to the writer (uncompressed) */
    int phase;             /* the writer's phase (enum newsidx_writer_phase) */
} index_ctx;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clear_progress(index_ctx *c) {
    if (c->progress_shown) {
        fputs("\r\033[K", stderr);
        c->progress_shown = false;
    }
}

static const char *severity_name(int severity) {
    return severity == NEWSIDX_REPORT_WARNING   ? "warning"
           : severity == NEWSIDX_REPORT_SKIPPED ? "skipped"
           : severity == NEWSIDX_REPORT_NOTE    ? "note"
                                                : "error";
}

static void report_json(index_ctx *c, const char *file, uint64_t line, int severity,
                        int reason, const char *message) {
    FILE *f = c->report;
    fputs("{\"file\":", f);
    cli_json_string(f, file ? file : "", file ? strlen(file) : 0);
    fprintf(f, ",\"line\":%llu,\"severity\":\"%s\",\"reason\":", (unsigned long long)line,
            severity_name(severity));
    if (reason >= 0 && reason < NEWSIDX_REASON_COUNT)
        fprintf(f, "\"%s\"", newsidx_reason_name(reason));
    else
        fputs("null", f);
    fputs(",\"message\":", f);
    cli_json_string(f, message, strlen(message));
    fputs("}\n", f);
    if (ferror(f)) c->report_failed = true;
}

static void on_report(void *ctx, const char *file, uint64_t line, int severity, int reason,
                      const char *message) {
    index_ctx *c = ctx;
    if (c->report) report_json(c, file, line, severity, reason, message);
    int sv = severity > 0 && severity < N_SEVERITIES ? severity : NEWSIDX_REPORT_ERROR;
    int rs = reason >= 0 && reason < NEWSIDX_REASON_COUNT ? reason + 1 : 0;
    uint64_t n = ++c->seen[sv][rs];
    /* errors are about whole inputs: each is shown, and --quiet keeps them */
    if (sv != NEWSIDX_REPORT_ERROR && (c->quiet || n > SHOWN_PER_REASON)) return;
    clear_progress(c);
    const char *sev = severity_name(sv);
    /* file names and messages quoting the input: nothing in them reaches
     * the terminal as a control sequence */
    cli_put_str(stderr, file);
    if (line) fprintf(stderr, ":%llu", (unsigned long long)line);
    fprintf(stderr, ": %s: ", sev);
    cli_put_str(stderr, message);
    fputc('\n', stderr);
}

/* 1793 -> "1,793" */
static const char *thousands(uint64_t v, char *buf, size_t cap) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* "... and 1,793 more empty-body warnings", one line per reason cut short. */
static void print_suppressed(const index_ctx *c) {
    for (int sv = 1; sv < N_SEVERITIES; sv++) {
        if (sv == NEWSIDX_REPORT_ERROR) continue;
        for (int rs = 0; rs <= NEWSIDX_REASON_COUNT; rs++) {
            if (c->seen[sv][rs] <= SHOWN_PER_REASON) continue;
            char num[40];
            const char *what = sv == NEWSIDX_REPORT_WARNING   ? "warnings"
                               : sv == NEWSIDX_REPORT_SKIPPED ? "skipped records"
                                                              : "notes";
            fprintf(stderr, "\u2026 and %s more %s%s%s%s\n",
                    thousands(c->seen[sv][rs] - SHOWN_PER_REASON, num, sizeof num),
                    rs ? newsidx_reason_name(rs - 1) : "", rs ? " " : "", what,
                    c->report ? "" : " (--report FILE lists them all)");
        }
    }
}

/* The reading line: articles, their rate and the rate of article text
 * (uncompressed, whatever the input's compression), and how much of the
 * input is read. No ETA: flushes, merges and the commit that follow the
 * reading can take longer than the reading itself. */
static void draw_reading(index_ctx *c, double el) {
    char num[40];
    fprintf(stderr, "\r\033[Kreading: %s articles, %.0f articles/s, %.1f MB/s of text",
            thousands(c->articles, num, sizeof num), (double)c->articles / el,
            (double)c->text_bytes / el / 1e6);
    if (c->total_bytes > 0 && c->read_bytes <= c->total_bytes && c->read_bytes > 0)
        fprintf(stderr, ", %.0f%% of input read",
                (double)c->read_bytes * 100 / (double)c->total_bytes);
}

static void on_progress(void *ctx, uint64_t articles, uint64_t bytes_read) {
    index_ctx *c = ctx;
    c->articles = c->done_articles + articles;
    c->read_bytes = c->done_bytes + bytes_read;
    if (!c->tty || c->quiet) return;
    double t = now_s();
    if (t - c->last_draw < 0.25) return;
    double el = t - c->start;
    if (el <= 0) return;
    c->last_draw = t;
    draw_reading(c, el);
    c->progress_shown = true;
}

/* The writer's progress: ADDING only updates the text count; flushing,
 * merging and committing get a line of their own, drawn at once when
 * the phase changes and then at most 4 times a second. */
static void on_writer_progress(void *ctx, const newsidx_writer_progress *p) {
    index_ctx *c = ctx;
    c->text_bytes = p->text_bytes;
    if (p->phase == NEWSIDX_PHASE_ADDING || !c->tty || c->quiet) return;
    double t = now_s();
    bool changed = p->phase != c->phase;
    c->phase = p->done == p->total ? 0 : p->phase; /* back to reading after a flush */
    if (!changed && t - c->last_draw < 0.25) return;
    c->last_draw = t;
    double pct = p->total ? (double)p->done * 100 / (double)p->total : 100;
    char a[40], b[40];
    if (p->phase == NEWSIDX_PHASE_FLUSHING)
        fprintf(stderr, "\r\033[Kflushing a segment of %s articles: %.0f%%",
                thousands(p->docs_total, a, sizeof a), pct);
    else if (p->phase == NEWSIDX_PHASE_MERGING)
        fprintf(stderr, "\r\033[Kmerging %u segments: %.0f%% (%s/%s articles)", p->segments, pct,
                thousands(p->docs_done, a, sizeof a), thousands(p->docs_total, b, sizeof b));
    else
        fprintf(stderr, "\r\033[Kcommitting: %.0f%%", pct);
    c->progress_shown = true;
}

/* Sum of the sizes of regular files and directory trees (0 when unknown). */
static uint64_t input_size(const char *path) {
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0) return 0;
    if (S_ISREG(st.st_mode)) return (uint64_t)st.st_size;
    return 0;
}

static int run_index(int argc, char **argv) {
    /* A fixed mmap threshold: glibc raises it after each large free, and
     * the buffers, flush and merge scratch freed by the workers then stay
     * on their arenas' heaps instead of going back to the system (peak
     * anonymous memory with --ram 64 over 129 MB of articles: 131 MB with
     * the dynamic threshold, 108 MB with this one). The process is ours:
     * the library itself sets nothing global. */
    mallopt(M_MMAP_THRESHOLD, 256 << 10);
    const char *out = NULL;
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    int n_inputs = 0;
    char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    if (!inputs) {
        cli_error("index", "out of memory");
        return EXIT_FAIL;
    }
    bool dashdash = false, optimize = false, replace = false, follow = false, quiet = false;
    const char *report_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)) {
            if (++i >= argc) goto missing;
            out = argv[i];
        } else if (!dashdash && strcmp(a, "--append") == 0) {
            wo.append = 1;
        } else if (!dashdash && strcmp(a, "--replace") == 0) {
            replace = true;
        } else if (!dashdash && strcmp(a, "--no-store") == 0) {
            wo.store_fields = 0;
        } else if (!dashdash && strcmp(a, "--optimize") == 0) {
            optimize = true;
        } else if (!dashdash && (strcmp(a, "--follow") == 0 || strcmp(a, "-L") == 0)) {
            follow = true;
        } else if (!dashdash && (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)) {
            quiet = true;
        } else if (!dashdash && strcmp(a, "--report") == 0) {
            if (++i >= argc) goto missing;
            report_path = argv[i];
        } else if (!dashdash && strcmp(a, "--ram") == 0) {
            if (++i >= argc) goto missing;
            char *end;
            unsigned long long mb = strtoull(argv[i], &end, 10);
            if (*end || mb == 0 || mb > 3072) {
                free(inputs);
                return cli_usage_error(&cli_index, "--ram wants 1..3072 (MB), not '%s'", argv[i]);
            }
            wo.ram_budget_bytes = (size_t)mb << 20;
        } else if (!dashdash && strcmp(a, "--threads") == 0) {
            if (++i >= argc) goto missing;
            char *end;
            unsigned long long n = strtoull(argv[i], &end, 10);
            if (*end || argv[i][0] == '\0' || n > 64) {
                free(inputs);
                return cli_usage_error(&cli_index, "--threads wants 0..64 (0: one per core), not '%s'",
                                       argv[i]);
            }
            wo.threads = (uint32_t)n;
        } else if (!dashdash && strcmp(a, "--stem") == 0) {
            if (++i >= argc) goto missing;
            wo.stem_language = argv[i];
        } else if (!dashdash && strcmp(a, "--stopwords") == 0) {
            if (++i >= argc) goto missing;
            wo.stopwords_language = argv[i];
        } else if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
        } else if (!dashdash && a[0] == '-' && a[1] != 0) {
            free(inputs);
            return cli_usage_error(&cli_index, "unknown option '%s'", a);
        } else {
            inputs[n_inputs++] = argv[i];
        }
    }
    if (!out) {
        free(inputs);
        return cli_usage_error(&cli_index, "no output directory (-o DIR)");
    }
    if (n_inputs == 0) {
        free(inputs);
        return cli_usage_error(&cli_index, "no INPUT");
    }
    if (wo.append && replace) {
        free(inputs);
        return cli_usage_error(&cli_index, "--append and --replace exclude each other");
    }
    char eb[512];
    if (!wo.append && !replace) {
        /* never replace an index by accident (a forgotten --append) */
        newsidx_reader *r;
        int orc = newsidx_reader_open(out, eb, sizeof eb, &r);
        if (orc != NEWSIDX_ERR_NOT_FOUND) {
            if (orc == 0) {
                newsidx_stats s;
                newsidx_reader_stats(r, &s);
                newsidx_reader_close(r);
                cli_error("index", "%s already holds an index of %llu articles: add --append to "
                                   "add to it, or --replace to build a new one in its place",
                          out, (unsigned long long)s.docs);
            } else {
                cli_error("index", "%s holds an index that cannot be read (%s): add --replace "
                                   "to build a new one in its place",
                          out, eb);
            }
            free(inputs);
            return EXIT_USAGE;
        }
    }
    /* Writing a segment with stored fields holds ~10 MB beside the RAM
     * buffers whatever the budget (the doc store's training sample and
     * compressor: SEGMENT_WRITE_BYTES in lib/index/writer.c), and a run
     * writes one for a flush and one for a merge: a smaller budget is not
     * what the run will use, and saying so beats a surprise. */
    if (wo.store_fields && wo.ram_budget_bytes < ((size_t)21 << 20) && !quiet)
        fprintf(stderr,
                "newsidx index: warning: --ram %zu MB is below the ~21 MB that a flush and a "
                "merge hold to write the doc store; memory will peak at about 21 MB plus the "
                "RAM buffer (768 KiB)\n",
                wo.ram_budget_bytes >> 20);
    index_ctx c = {0};
    c.quiet = quiet;
    wo.progress = on_writer_progress;
    wo.progress_ctx = &c;
    newsidx_writer *w;
    int rc = newsidx_writer_open(out, &wo, eb, sizeof eb, &w);
    if (rc) {
        cli_error("index", "%s", eb);
        free(inputs);
        return rc == NEWSIDX_ERR_UNSUPPORTED || rc == NEWSIDX_ERR_INVALID ? EXIT_USAGE : EXIT_FAIL;
    }
    if (report_path) {
        c.report = strcmp(report_path, "-") == 0 ? stdout : fopen(report_path, "w");
        if (!c.report) {
            cli_error("index", "--report %s: %s", report_path, strerror(errno));
            newsidx_writer_close(w);
            free(inputs);
            return EXIT_FAIL;
        }
    }
    c.tty = isatty(2);
    c.start = now_s();
    for (int i = 0; i < n_inputs; i++) c.total_bytes += input_size(inputs[i]);
    newsidx_ingest_options io;
    newsidx_ingest_options_init(&io);
    io.report = on_report;
    io.follow_symlinks = follow;
    io.progress = on_progress;
    io.ctx = &c;
    newsidx_ingest_stats st;
    memset(&st, 0, sizeof st);
    int failed = 0;
    for (int i = 0; i < n_inputs && !failed; i++) {
        uint64_t before_bytes = st.bytes_read, before_arts = st.indexed;
        rc = newsidx_ingest_path(w, inputs[i], &io, &st);
        c.done_bytes += st.bytes_read - before_bytes;
        c.done_articles += st.indexed - before_arts;
        if (rc == NEWSIDX_ERR_NOT_FOUND || rc == NEWSIDX_ERR_IO) continue; /* reported; go on */
        if (rc) {
            clear_progress(&c);
            cli_error("index", "%s: %s", inputs[i], newsidx_writer_errmsg(w)[0]
                                                       ? newsidx_writer_errmsg(w)
                                                       : newsidx_strerror(rc));
            failed = 1;
        }
    }
    if (!failed && st.indexed == 0) {
        /* nothing to commit: an existing index must not be replaced by an
         * empty one, and a new directory is not left behind */
        clear_progress(&c);
        cli_error("index", "no article was indexed: nothing committed%s",
                  wo.append ? "" : ", the index in the directory (if any) is unchanged");
        failed = 1;
    }
    if (!failed) {
        rc = optimize ? newsidx_writer_optimize(w) : newsidx_writer_commit(w);
        if (rc) {
            clear_progress(&c);
            cli_error("index", "commit failed: %s: nothing committed", newsidx_writer_errmsg(w));
            failed = 1;
        }
    }
    newsidx_writer_close(w);
    clear_progress(&c);
    if (c.report && (c.report == stdout ? fflush(c.report) : fclose(c.report)) != 0)
        c.report_failed = true;
    if (c.report_failed) cli_error("index", "--report %s: write failed", report_path);
    if (!quiet) print_suppressed(&c);
    double el = now_s() - c.start;
    if (!quiet)
        fprintf(stderr, "%s %llu, skipped %llu, warnings %llu, unreadable %llu in %.2fs (%.0f articles/s, %.1f MB/s of text)\n",
            failed ? "NOTHING COMMITTED: read" : "indexed", (unsigned long long)st.indexed,
            (unsigned long long)st.skipped,
            (unsigned long long)st.warnings, (unsigned long long)st.errors, el,
            el > 0 ? (double)st.indexed / el : 0.0, el > 0 ? (double)c.text_bytes / el / 1e6 : 0.0);
    for (int r = 0; r < NEWSIDX_REASON_COUNT && !quiet; r++)
        if (st.by_reason[r])
            fprintf(stderr, "  %-14s %llu\n", newsidx_reason_name(r),
                    (unsigned long long)st.by_reason[r]);
    free(inputs);
    if (failed) return EXIT_FAIL;
    return st.skipped || st.errors ? EXIT_PARTIAL : EXIT_OK;
missing:
    free(inputs);
    return cli_usage_error(&cli_index, "option '%s' needs a value", argv[argc - 1]);
}

const cli_command cli_index = {"index", "index article files (JSON Lines, text, HTML, directories)",
                               usage, run_index};
