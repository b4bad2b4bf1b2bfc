/* tools/ — the newsidx command-line program: one file per subcommand, all
 * through the public header only. */
#ifndef NEWSIDX_CLI_H
#define NEWSIDX_CLI_H

#include "newsidx.h"

#include <stdbool.h>
#include <stdio.h>

/* Exit codes (documented in newsidx(1) and `newsidx --help`). */
#define EXIT_OK 0        /* success */
#define EXIT_FAIL 1      /* the command failed (I/O, corrupt index, ...) */
#define EXIT_USAGE 2     /* bad command line or query syntax */
#define EXIT_PARTIAL 3   /* index: some records were skipped; check: problems found */

/* A subcommand: argv[0] is the subcommand name. */
typedef struct cli_command {
    const char *name;
    const char *summary;    /* one line for `newsidx --help` */
    const char *usage;      /* full help for `newsidx help NAME` */
    int (*run)(int argc, char **argv);
} cli_command;

extern const cli_command cli_analyze;
extern const cli_command cli_index;
extern const cli_command cli_search;
extern const cli_command cli_stats;
extern const cli_command cli_check;
extern const cli_command cli_get;
extern const cli_command cli_delete;
extern const cli_command cli_optimize;
extern const cli_command cli_dups;

/* Prints "newsidx NAME: message" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a usage error on one line of stderr, pointing to `newsidx help
 * NAME`; returns EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Opens the index in dir for appending (deletes, merges); on failure prints
 * "newsidx CMD: message" and returns NULL. */
newsidx_writer *cli_open_writer(const char *cmd, const char *dir);
/* JSON string output (escapes quotes, control bytes; invalid UTF-8 -> U+FFFD). */
void cli_json_string(FILE *out, const char *s, size_t len);
/* Writes text that came from an input or an index (a title, a stored
 * field, a file name, a message quoting one) so that a terminal shows it
 * and does not obey it: control bytes but tab (and newline, with `lines`)
 * as \xNN, C1 controls (U+0080..U+009F) as \u00NN; the rest as it is. */
void cli_put_text(FILE *out, const char *s, size_t len, bool lines);
/* cli_put_text of a NUL-terminated string, on one line. */
void cli_put_str(FILE *out, const char *s);
/* The bytes at s[i] (and the next, for a C1 control) as cli_put_text
 * writes them; returns how many it took (1 or 2). */
size_t cli_put_char(FILE *out, const char *s, size_t len, size_t i, bool lines);

#endif
