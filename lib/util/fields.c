/* fields.c — the one table of field names (fields.h). */
#include "util/fields.h"

#include <string.h>

static const char *const field_names[NX_N_FIELD_NAMES] = {
    [NX_F_TITLE] = "title", [NX_F_BODY] = "body",  [NX_F_AUTHOR] = "author",
    [NX_F_SOURCE] = "source", [NX_F_URL] = "url",  [NX_F_ID] = "id",
    [NX_F_DATE] = "date",
};

const char *const nx_body_names[NX_N_BODY_NAMES] = {"body", "text", "content"};

const char *nx_field_name(int field) {
    return field >= 0 && field < NX_N_FIELD_NAMES ? field_names[field] : NULL;
}

int nx_field_from_name(const char *name, size_t len) {
    for (int f = 0; f < NX_N_FIELD_NAMES; f++)
        if (strlen(field_names[f]) == len && memcmp(field_names[f], name, len) == 0) return f;
    return -1;
}

bool nx_field_is(const char *name, int field) {
    return field >= 0 && field < NX_N_FIELD_NAMES && strcmp(name, field_names[field]) == 0;
}

bool nx_field_is_body_alias(const char *name) {
    for (int i = 1; i < NX_N_BODY_NAMES; i++)
        if (strcmp(name, nx_body_names[i]) == 0) return true;
    return false;
}
