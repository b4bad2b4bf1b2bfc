/* fuzz_mail — libFuzzer harness for the mail reader (mail.c, GMime): the
 * input as an mbox and as one message. Property: every article delivered
 * is valid UTF-8 without NUL bytes; no crash, leak or hang. */
#include "fuzz_dumps_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nxf_sink_state st;
    nxf_sink_init(&st);
    int rc = nx_ingest_mail(&st.sink, NX_DOC_MBOX, "fuzz.mbox", NULL, (const char *)data, size);
    assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
    rc = nx_ingest_mail(&st.sink, NX_DOC_MAIL, "fuzz.eml", "fuzz.eml", (const char *)data, size);
    assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
    return 0;
}
