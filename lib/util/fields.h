/* util/fields.h — the article fields the library knows by name, in one
 * table (fields.c): the readers map input members onto them, the writer
 * finds the id, the date and the indexed text by them, the query parser
 * accepts them before ':', and segments number the indexed ones.
 * docs/INGEST.md, "Field mapping", says how input members become fields. */
#ifndef NX_FIELDS_H
#define NX_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

enum nx_field {
    /* The indexed text fields. Each (field, term) pair has its own
     * postings; the numbers are written in every segment (term keys,
     * norms), so they never change. */
    NX_F_TITLE = 0, NX_F_BODY, NX_F_AUTHOR, NX_F_SOURCE, NX_F_URL,
    NX_N_FIELDS,
    /* Fields with a meaning of their own that are not indexed as text. */
    NX_F_ID = NX_N_FIELDS, NX_F_DATE,
    NX_N_FIELD_NAMES
};

/* The name of field (NX_F_*): "title", ..., "id", "date"; NULL when out of
 * range. */
const char *nx_field_name(int field);

/* The NX_F_* of a name given as [name, name+len) (exact, case-sensitive),
 * or -1 when the library gives that name no meaning. */
int nx_field_from_name(const char *name, size_t len);

/* True when the NUL-terminated name is field's name. */
bool nx_field_is(const char *name, int field);

/* The names an input may give the body under, the one to prefer first:
 * "body", "text", "content". */
#define NX_N_BODY_NAMES 3
extern const char *const nx_body_names[NX_N_BODY_NAMES];

/* True when name is one of the body's other names ("text", "content"). */
bool nx_field_is_body_alias(const char *name);

#endif
