/* tools/ — `newsidx check`: verifies every checksum and invariant. */
#include "cli.h"

#include <string.h>

static const char usage[] =
    "usage: newsidx check DIR\n"
    "\n"
    "Verifies every checksum and structural invariant of the last commit of\n"
    "the index in DIR (sorted terms, increasing doc ids, offsets in range,\n"
    "positions, block-max data, columns). Each problem is printed as\n"
    "FILE:OFFSET: MESSAGE.\n"
    "\n"
    "Exit codes: 0 the index is sound; 1 it cannot be read; 2 bad usage;\n"
    "3 problems were found.\n";

static void on_problem(void *ctx, const char *file, uint64_t offset, const char *message) {
    (void)ctx;
    printf("%s:%llu: %s\n", file, (unsigned long long)offset, message);
}

static int run_check(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') return cli_usage_error(&cli_check, "want exactly one DIR");
    int rc = newsidx_check(argv[1], on_problem, NULL);
    if (rc == NEWSIDX_OK) {
        printf("%s: ok\n", argv[1]);
        return EXIT_OK;
    }
    if (rc == NEWSIDX_ERR_CORRUPT) return EXIT_PARTIAL;
    cli_error("check", "%s: %s", argv[1], newsidx_strerror(rc));
    return EXIT_FAIL;
}

const cli_command cli_check = {"check", "verify an index's checksums and invariants", usage,
                               run_check};
