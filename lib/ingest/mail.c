/* mail.c — mail as articles, through GMime (RFC 5322 headers, MIME, encoded
 * words, quoted-printable and base64 as mail clients decode them). One
 * message (.eml) or an mbox, split here at its "From " lines so that each
 * message is parsed alone (memory bounded by the largest message, and a
 * broken message never hides the next) and reported by the line of its
 * "From " line. docs/INGEST.md, "Mail".
 *
 * Subject -> title, From -> author (display names, else addresses),
 * Date -> date (as GMime parsed it, written ISO-8601), Message-ID -> id,
 * List-Id's name -> source. Body: the first text/plain part that is not an
 * attachment, else the first text/html one, in its MIME charset;
 * attachments and forwarded messages are not read. */
#include "ingest/ingest.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;
/* GMime keeps global tables (charsets, parser options) set up once per
 * process; it is never shut down because the library cannot know when the
 * caller's last ingest is. */
static void gmime_setup(void) { g_mime_init(); }

/* The first part of mime of type `subtype` (plain or html) that is not an
 * attachment; depth-first in document order. */
static GMimePart *find_text(GMimeObject *obj, const char *subtype, int depth) {
    if (!obj || depth > 32) return NULL;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++) {
            GMimePart *p = find_text(g_mime_multipart_get_part(mp, i), subtype, depth + 1);
            if (p) return p;
        }
        return NULL;
    }
    if (!GMIME_IS_PART(obj)) return NULL; /* message/rfc822: a forwarded mail */
    GMimePart *part = GMIME_PART(obj);
    if (g_mime_part_is_attachment(part)) return NULL;
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    if (!ct || !g_mime_content_type_is_type(ct, "text", subtype)) return NULL;
    return part;
}

/* "Jane Doe <jane@x>, bob@y" -> "Jane Doe, bob@y" into out. */
static int names_of(InternetAddressList *list, nx_buf *out) {
    out->len = 0;
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n && i < 16; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        const char *name = internet_address_get_name(ia);
        const char *addr = INTERNET_ADDRESS_IS_MAILBOX(ia)
                               ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))
                               : NULL;
        const char *v = name && name[0] ? name : addr;
        if (!v || !v[0]) continue;
        if (out->len) NX_FORWARD(nx_buf_append(out, ", ", 2));
        NX_FORWARD(nx_buf_append(out, v, strlen(v)));
    }
    return nx_buf_putc(out, '\0');
}

/* List-Id: "Python Dev <python-dev.python.org>" -> "Python Dev"; without a
 * phrase, the id itself. Returns a g_malloc'd string or NULL. */
static char *list_name(GMimeMessage *msg) {
    const char *raw = g_mime_object_get_header(GMIME_OBJECT(msg), "List-Id");
    if (!raw) return NULL;
    char *v = g_mime_utils_header_decode_text(NULL, raw);
    if (!v) return NULL;
    char *lt = strchr(v, '<');
    char *name;
    if (lt) {
        char *end = lt;
        while (end > v && (end[-1] == ' ' || end[-1] == '"' || end[-1] == '\t')) end--;
        char *start = v;
        while (*start == ' ' || *start == '"') start++;
        if (end > start) {
            name = g_strndup(start, (gsize)(end - start));
        } else {
            char *gt = strchr(lt, '>');
            name = g_strndup(lt + 1, gt ? (gsize)(gt - lt - 1) : strlen(lt + 1));
        }
    } else {
        name = g_strdup(g_strstrip(v));
    }
    g_free(v);
    return name;
}

/* One message in [data, data+len): parse, pick the parts, deliver. */
static int one_message(const nx_sink *s, const char *name, const char *id, uint64_t line,
                       const char *data, size_t len) {
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    if (!msg) {
        nx_ingest_report(s->opts, s->stats, name, line, NEWSIDX_REPORT_SKIPPED,
                         NEWSIDX_REASON_UNREADABLE, "not a mail message: skipped");
        s->stats->skipped++;
        return 0;
    }
    int rc = 0;
    nx_buf author = {0};
    char *source = list_name(msg);
    char date[64] = "";
    GDateTime *dt = g_mime_message_get_date(msg);
    if (dt) {
        gchar *iso = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z");
        if (iso) snprintf(date, sizeof date, "%s", iso);
        g_free(iso);
    }
    const char *subject = g_mime_message_get_subject(msg);
    const char *msgid = g_mime_message_get_message_id(msg);
    rc = names_of(g_mime_message_get_from(msg), &author);
    GMimeObject *top = g_mime_message_get_mime_part(msg);
    GMimePart *part = find_text(top, "plain", 0);
    enum nx_doc_kind kind = NX_DOC_TEXT;
    if (!part) {
        part = find_text(top, "html", 0);
        kind = NX_DOC_HTML;
    }
    GMimeStream *out = NULL;
    const char *body = "";
    size_t body_len = 0;
    const char *charset = NULL;
    if (part && rc == 0) {
        GMimeDataWrapper *dw = g_mime_part_get_content(part);
        out = g_mime_stream_mem_new();
        /* decodes the transfer encoding (quoted-printable, base64), not
         * the charset: that is charset.c's, like every other document */
        if (dw && g_mime_data_wrapper_write_to_stream(dw, out) >= 0) {
            GByteArray *arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
            body = (const char *)arr->data;
            body_len = arr->len;
        }
        charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    }
    if (rc == 0) {
        nx_doc_hints hints = {
            .charset = charset,
            .date = date[0] ? date : NULL,
            .source = source,
            .title = subject ? subject : "",
            .author = author.len > 1 ? (const char *)author.data : NULL,
            .line = line,
        };
        rc = nx_ingest_document(s, kind, name, msgid && msgid[0] ? msgid : id, body, body_len,
                                &hints, 0);
    }
    if (out) g_object_unref(out);
    g_free(source);
    nx_buf_free(&author);
    g_object_unref(msg);
    return rc;
}

/* The messages of an mbox, one at a time. mapped: data is a read-only
 * file mapping whose pages may be dropped once read. */
static int each_message(const nx_sink *s, const char *name, const char *data, size_t len,
                        bool mapped) {
    /* mbox: a message starts at each line beginning "From " (mboxrd and
     * mboxo both quote such lines inside bodies as ">From ") */
    size_t pos = 0, dropped = 0;
    size_t page = mapped ? (size_t)sysconf(_SC_PAGESIZE) : 0;
    uint64_t line = 1;
    int rc = 0;
    while (pos < len && rc == 0) {
        /* the "From " line itself is the envelope, not the message */
        bool envelope = len - pos >= 5 && memcmp(data + pos, "From ", 5) == 0;
        const char *nl = envelope ? memchr(data + pos, '\n', len - pos) : NULL;
        size_t start = !envelope ? pos : nl ? (size_t)(nl - data) + 1 : len;
        uint64_t from_line = line;
        uint64_t lines = envelope && nl ? 1 : 0;
        size_t end = start;
        for (;;) {
            const char *e = memchr(data + end, '\n', len - end);
            if (!e) {
                end = len;
                break;
            }
            end = (size_t)(e - data) + 1;
            lines++;
            if (len - end >= 5 && memcmp(data + end, "From ", 5) == 0) break;
        }
        if (end > start)
            rc = one_message(s, name, NULL, from_line, data + start, end - start);
        line += lines;
        pos = end;
        /* what was read is not needed again: the writer copied it */
        size_t upto = page ? pos / page * page : 0;
        if (upto >= dropped + ((size_t)4 << 20)) {
            (void)madvise((void *)(data + dropped), upto - dropped, MADV_DONTNEED);
            dropped = upto;
        }
    }
    return rc;
}

int nx_ingest_mail(const nx_sink *s, enum nx_doc_kind kind, const char *name, const char *id,
                   const char *data, size_t len) {
    pthread_once(&gmime_once, gmime_setup);
    if (kind != NX_DOC_MBOX) return one_message(s, name, id, 0, data, len);
    return each_message(s, name, data, len, false);
}

int nx_ingest_mbox_mapped(const nx_sink *s, const char *name, const char *data, size_t len) {
    pthread_once(&gmime_once, gmime_setup);
    return each_message(s, name, data, len, true);
}
