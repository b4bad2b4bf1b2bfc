/* fuzz_warc — libFuzzer harness for the WARC reader (warc.c) fed from
 * memory in chunks of varying size (records and lines cross chunk
 * boundaries), and for an input that starts as gzip, the .warc.gz reader
 * (warcgz.c) over a memfd, damaged members and resyncs included.
 * Property: every article delivered is valid UTF-8 without NUL bytes; no
 * crash, leak or hang on any input. */
#include "fuzz_dumps_common.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct mem_src { const uint8_t *p; size_t n, pos; } mem_src;

static ssize_t mem_read(void *src, void *buf, size_t cap, char *err, size_t err_cap) {
    (void)err;
    (void)err_cap;
    mem_src *m = src;
    /* odd chunk sizes: 1..97 bytes, from the position */
    size_t k = 1 + (m->pos * 31 + 7) % 97;
    if (k > cap) k = cap;
    if (k > m->n - m->pos) k = m->n - m->pos;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nxf_sink_state st;
    nxf_sink_init(&st);
    mem_src m = {data, size, 0};
    uint64_t raw = 0;
    int rc = nx_ingest_warc(mem_read, &m, &raw, "fuzz.warc", &st.sink);
    assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
    if (size >= 2 && data[0] == 0x1F && data[1] == 0x8B) {
        static int fd = -1;
        if (fd < 0 && (fd = memfd_create("fuzz_warc_gz", 0)) < 0) abort();
        if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
        nxf_sink_init(&st);
        nx_warc_gz *g = nx_warc_gz_new(fd, "fuzz.warc.gz", &st.sink);
        if (!g) abort();
        static const nx_warc_resync rs = {nx_warc_gz_resync, nx_warc_gz_member_of,
                                          nx_warc_gz_record_starts};
        rc = nx_ingest_warc_resync(nx_warc_gz_read, &rs, g, nx_warc_gz_bytes(g), "fuzz.warc.gz",
                                   &st.sink);
        assert(rc == 0 || rc == NEWSIDX_ERR_NOMEM);
        assert(*nx_warc_gz_bytes(g) <= size);
        nx_warc_gz_free(g);
    }
    return 0;
}
