/* fuzz_date — libFuzzer harness for newsidx_parse_date and the query's
 * date periods. Properties: a parse is deterministic; white space around a
 * date does not change it (the text is "trimmed of white space",
 * newsidx.h); a period has lo <= hi. */
/* The properties are checked with assert even in Release builds. */
#undef NDEBUG
#include "newsidx.h"
#include "search/query.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    int64_t a = 0, b = 0;
    int ra = newsidx_parse_date(s, size, &a);
    assert(ra == NEWSIDX_OK || ra == NEWSIDX_ERR_INPUT);
    int rb = newsidx_parse_date(s, size, &b);
    assert(ra == rb && (ra != 0 || a == b));
    if (size < 4096) {
        char padded[4100];
        padded[0] = ' ';
        memcpy(padded + 1, s, size);
        padded[size + 1] = ' ';
        int64_t c = 0;
        int rc = newsidx_parse_date(padded, size + 2, &c);
        assert(rc == ra && (ra != 0 || a == c));
    }
    int64_t lo = 0, hi = 0;
    if (nx_query_date_period(s, size, &lo, &hi) == 0) assert(lo <= hi);
    return 0;
}
