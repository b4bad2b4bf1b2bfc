/* fuzz_archive — libFuzzer harness for the dispatch of files and archive
 * members (nx_sniff_kind, archive.c through libarchive, and behind them
 * every document reader: charsets, HTML metadata, text titles). The input
 * is a file (memfd) read by archive.c whatever its first bytes, and
 * sniffed under a few names. Property: every article delivered is valid
 * UTF-8 without NUL bytes; the sniffer returns a known kind. */
#include "fuzz_dumps_common.h"

#include <sys/mman.h>
#include <unistd.h>

static int g_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[] = {NULL, "a.html", "a.txt", "a.tar.gz", "a.jsonl.zst",
                                        "data"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        enum nx_doc_kind k = nx_sniff_kind(data, size < 4096 ? size : 4096, names[i]);
        assert(k >= NX_DOC_UNKNOWN && k <= NX_DOC_ARCHIVE);
    }
    if (g_fd < 0) g_fd = memfd_create("fuzz_archive", 0);
    assert(g_fd >= 0);
    assert(ftruncate(g_fd, 0) == 0);
    assert(pwrite(g_fd, data, size, 0) == (ssize_t)size);
    assert(lseek(g_fd, 0, SEEK_SET) == 0);
    nxf_sink_state st;
    nxf_sink_init(&st);
    int rc = nx_ingest_archive_fd(g_fd, "fuzz.bin", "fuzz.bin", &st.sink);
    assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
    /* and as a whole document of each kind */
    rc = nx_ingest_document(&st.sink, NX_DOC_HTML, "f.html", "f", (const char *)data, size, NULL, 0);
    assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
    rc = nx_ingest_document(&st.sink, NX_DOC_TEXT, "f.txt", "f", (const char *)data, size, NULL, 0);
    assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
    return 0;
}
