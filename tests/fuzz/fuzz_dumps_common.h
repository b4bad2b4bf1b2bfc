/* fuzz_dumps_common.h — what the harnesses of the dump readers (WARC, mail,
 * archive dispatch) share: a sink whose record callback checks the one
 * promise every reader makes (ingest.h: field values are valid UTF-8
 * without NUL bytes), with small limits so the cut paths run too. */
#ifndef NX_FUZZ_DUMPS_COMMON_H
#define NX_FUZZ_DUMPS_COMMON_H

#undef NDEBUG
#include "ingest/ingest.h"

#include <assert.h>
#include <string.h>

static int nxf_check_record(void *ctx, const nx_record *rec) {
    (void)ctx;
    for (size_t i = 0; i < rec->n_fields; i++) {
        const newsidx_field *f = &rec->fields[i];
        assert(f->name != NULL);
        assert(nx_utf8_valid_prefix(f->value, f->value_len) == f->value_len);
        assert(memchr(f->value, '\0', f->value_len) == NULL);
    }
    return NX_RECORD_ADDED;
}

typedef struct nxf_sink_state {
    newsidx_ingest_options opts;
    newsidx_ingest_stats stats;
    uint64_t input_bytes;
    nx_sink sink;
} nxf_sink_state;

static inline void nxf_sink_init(nxf_sink_state *st) {
    memset(st, 0, sizeof *st);
    newsidx_ingest_options_init(&st->opts);
    st->opts.max_line_bytes = 1 << 16;
    st->sink = (nx_sink){&st->opts, &st->stats, nxf_check_record, NULL, 1 << 16,
                         &st->input_bytes};
}

#endif
