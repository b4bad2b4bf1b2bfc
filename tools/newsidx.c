/* tools/ — entry point of the newsidx CLI: global options and dispatch. */
#include "cli.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Subcommands, in the order `newsidx --help` lists them. */
static const cli_command *const commands[] = {
    &cli_analyze,
    &cli_index, &cli_delete, &cli_optimize, &cli_stats, &cli_check, &cli_get,
    &cli_search, &cli_dups,
    NULL,
};

static void print_help(FILE *out) {
    fprintf(out,
            "usage: newsidx [--help] [--version] COMMAND [ARGS...]\n"
            "\n"
            "Full-text search for article archives.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; commands[i]; i++)
        fprintf(out, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "  help      show the help of a command: newsidx help COMMAND\n"
            "\n"
            "Exit codes: 0 success; 1 failure (I/O, corrupt index, ...);\n"
            "2 usage or query syntax error; 3 partial success (index: records\n"
            "skipped; check: problems found).\n"
            "See newsidx(1).\n");
}

static const cli_command *find_command(const char *name) {
    for (size_t i = 0; commands[i]; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

void cli_error(const char *cmd, const char *fmt, ...) {
    /* messages name files and quote inputs: written as cli_put_text does */
    char small[1024], *msg = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!msg) msg = small; /* cut */
    fprintf(stderr, "newsidx %s: ", cmd);
    cli_put_text(stderr, msg, n < 0 ? 0 : strlen(msg), true);
    fputc('\n', stderr);
    if (msg != small) free(msg);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "newsidx %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'newsidx help %s')\n", cmd->name);
    return EXIT_USAGE;
}

newsidx_writer *cli_open_writer(const char *cmd, const char *dir) {
    newsidx_writer_options wo;
    newsidx_writer_options_init(&wo);
    wo.append = 1;
    newsidx_writer *w;
    char eb[512];
    if (newsidx_writer_open(dir, &wo, eb, sizeof eb, &w)) {
        cli_error(cmd, "%s", eb);
        return NULL;
    }
    return w;
}

size_t cli_put_char(FILE *out, const char *s, size_t len, size_t i, bool lines) {
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[i];
    if ((c < 0x20 && c != '\t' && !(lines && c == '\n')) || c == 0x7f) {
        fprintf(out, "\\x%02x", c);
        return 1;
    }
    if (c == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
        fprintf(out, "\\u%04x", p[i + 1]);
        return 2;
    }
    fputc((int)c, out);
    return 1;
}

void cli_put_text(FILE *out, const char *s, size_t len, bool lines) {
    for (size_t i = 0; i < len;) i += cli_put_char(out, s, len, i, lines);
}

void cli_put_str(FILE *out, const char *s) { cli_put_text(out, s, strlen(s), false); }

void cli_json_string(FILE *out, const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    fputc('"', out);
    while (p < end) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            p++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", out); break;
            case '\r': fputs("\\r", out); break;
            case '\t': fputs("\\t", out); break;
            default: fprintf(out, "\\u%04x", c);
            }
            p++;
        } else if (c < 0x80) {
            fputc((int)c, out);
            p++;
        } else {
            /* Copy a valid UTF-8 sequence; replace anything else with U+FFFD. */
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
            bool ok = n > 0 && c < 0xf5 && (size_t)(end - p) >= n;
            for (size_t i = 1; ok && i < n; i++) ok = (p[i] & 0xc0) == 0x80;
            if (ok && n == 3) ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
            if (ok && n == 4) ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
            if (ok) {
                fwrite(p, 1, n, out);
                p += n;
            } else {
                fputs("\xef\xbf\xbd", out);
                p++;
            }
        }
    }
    fputc('"', out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "newsidx: no command (see 'newsidx --help')\n");
        return EXIT_USAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        printf("newsidx %s (library %s)\n", NEWSIDX_VERSION_STRING, newsidx_version_string());
        return EXIT_OK;
    }
    if (strcmp(arg, "help") == 0) {
        if (argc < 3) {
            print_help(stdout);
            return EXIT_OK;
        }
        const cli_command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "newsidx: unknown command '%s'\n", argv[2]);
            return EXIT_USAGE;
        }
        fputs(c->usage, stdout);
        return EXIT_OK;
    }
    const cli_command *c = find_command(arg);
    if (!c) {
        fprintf(stderr, "newsidx: unknown command '%s' (see newsidx --help)\n", arg);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(c->usage, stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--") == 0) break;
    }
    return c->run(argc - 1, argv + 1);
}
