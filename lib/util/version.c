/* util/ — version and error strings of the public API. */
#include "util.h"

NEWSIDX_API unsigned newsidx_version_number(void) { return NEWSIDX_VERSION_NUMBER; }

NEWSIDX_API const char *newsidx_version_string(void) { return NEWSIDX_VERSION_STRING; }

NEWSIDX_API const char *newsidx_strerror(int code) {
    switch (code) {
    case NEWSIDX_OK: return "success";
    case NEWSIDX_ERR_NOMEM: return "out of memory";
    case NEWSIDX_ERR_IO: return "input/output error";
    case NEWSIDX_ERR_CORRUPT: return "index is corrupt";
    case NEWSIDX_ERR_INVALID: return "invalid argument";
    case NEWSIDX_ERR_LOCKED: return "index is locked by another writer";
    case NEWSIDX_ERR_NOT_FOUND: return "not found";
    case NEWSIDX_ERR_SYNTAX: return "query syntax error";
    case NEWSIDX_ERR_LIMIT: return "limit exceeded";
    case NEWSIDX_ERR_VERSION: return "unsupported index format version";
    case NEWSIDX_ERR_UNSUPPORTED: return "unsupported option";
    case NEWSIDX_ERR_INPUT: return "malformed input";
    default: return "unknown error";
    }
}
