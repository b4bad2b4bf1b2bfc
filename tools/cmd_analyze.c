/* tools/ — `newsidx analyze`: show the terms the analyzer makes of a text,
 * the tool to reach for when a query matches (or does not) unexpectedly. */
#include "cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: newsidx analyze [--stem LANG] [--stopwords LANG] [TEXT]\n"
    "\n"
    "Prints the terms of TEXT (standard input when TEXT is absent or -), one\n"
    "per line: POSITION<TAB>TERM<TAB>START<TAB>END, where POSITION is the\n"
    "0-based word position and [START, END) the byte offsets of the source\n"
    "word in the input. Words are folded to lowercase without diacritics;\n"
    "CJK text becomes overlapping character bigrams (docs/ANALYSIS.md).\n"
    "\n"
    "Options:\n"
    "  --stem LANG        Snowball stemming (english, french, german, ... or\n"
    "                     en, fr, de, ...); --stem list prints the languages\n"
    "  --stopwords LANG   drop the stopwords of english, french, german or\n"
    "                     spanish (or en, fr, de, es)\n"
    "\n"
    "Exit codes: 0 success; 1 input could not be read; 2 bad usage or unknown\n"
    "language.\n";

static int print_token(void *ctx, const newsidx_token *t) {
    FILE *out = ctx;
    fprintf(out, "%u\t", (unsigned)t->position);
    fwrite(t->term, 1, t->term_len, out);
    fprintf(out, "\t%zu\t%zu\n", t->start, t->end);
    return 0;
}

/* Reads all of f into a malloc'd buffer. */
static int read_all(FILE *f, char **out, size_t *out_len) {
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) return ENOMEM;
    for (;;) {
        if (len == cap) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                int e = errno ? errno : EIO;
                free(buf);
                return e;
            }
            break;
        }
    }
    *out = buf;
    *out_len = len;
    return 0;
}

static int run_analyze(int argc, char **argv) {
    const char *stem = NULL, *stop = NULL, *text = NULL;
    bool text_given = false, options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **target = NULL;
        const char *value = NULL;
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && strncmp(arg, "--stem", 6) == 0 &&
            (arg[6] == 0 || arg[6] == '=')) {
            target = &stem;
            value = arg[6] == '=' ? arg + 7 : NULL;
        } else if (!options_done && strncmp(arg, "--stopwords", 11) == 0 &&
                   (arg[11] == 0 || arg[11] == '=')) {
            target = &stop;
            value = arg[11] == '=' ? arg + 12 : NULL;
        } else if (!options_done && arg[0] == '-' && arg[1] != 0) {
            return cli_usage_error(&cli_analyze, "unknown option '%s'", arg);
        } else {
            if (text_given)
                return cli_usage_error(&cli_analyze,
                                       "one TEXT only (quote it: newsidx analyze \"a b\")");
            text = arg;
            text_given = true;
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                return cli_usage_error(&cli_analyze, "%s needs a language", arg);
            value = argv[++i];
        }
        *target = value;
    }

    if (stem && strcmp(stem, "list") == 0) {
        for (const char *const *l = newsidx_stem_languages(); *l; l++) puts(*l);
        return EXIT_OK;
    }

    newsidx_analyzer_options opts;
    newsidx_analyzer_options_init(&opts);
    opts.stem_language = stem;
    opts.stopwords_language = stop;
    newsidx_analyzer *an = NULL;
    int rc = newsidx_analyzer_create(&opts, &an);
    if (rc == NEWSIDX_ERR_UNSUPPORTED) {
        /* Say which of the two languages is unknown. */
        opts.stopwords_language = NULL;
        int stem_rc = newsidx_analyzer_create(&opts, &an);
        newsidx_analyzer_free(an);
        if (stem_rc == NEWSIDX_ERR_UNSUPPORTED)
            cli_error("analyze", "no stemmer for '%s' (newsidx analyze --stem list shows them)",
                      stem);
        else
            cli_error("analyze",
                      "no stopword list for '%s' (english, french, german, spanish, or en, "
                      "fr, de, es)",
                      stop);
        return EXIT_USAGE;
    }
    if (rc) {
        cli_error("analyze", "%s", newsidx_strerror(rc));
        return EXIT_FAIL;
    }

    char *input = NULL;
    size_t input_len = 0;
    if (text_given && strcmp(text, "-") != 0) {
        input_len = strlen(text);
    } else {
        int e = read_all(stdin, &input, &input_len);
        if (e) {
            cli_error("analyze", "cannot read standard input: %s", strerror(e));
            newsidx_analyzer_free(an);
            return EXIT_FAIL;
        }
        text = input;
    }

    rc = newsidx_analyze(an, text, input_len, print_token, stdout);
    free(input);
    newsidx_analyzer_free(an);
    if (rc) {
        cli_error("analyze", "%s", newsidx_strerror(rc));
        return EXIT_FAIL;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("analyze", "cannot write output: %s", strerror(errno));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

const cli_command cli_analyze = {
    .name = "analyze",
    .summary = "print the terms of a text, with positions and byte offsets",
    .usage = usage,
    .run = run_analyze,
};
