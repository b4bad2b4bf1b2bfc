/* search/query_parse — query text to query tree (query.h). Grammar and
 * semantics: docs/QUERY.md. A hand-written recursive-descent parser:
 *
 *   query   := or_expr EOF
 *   or_expr := and_expr ("OR" and_expr)*
 *   and_expr:= clause (["AND"] clause)*          (default operator AND)
 *   clause  := ("NOT" | "-" | "+")? near_expr
 *   near    := primary ("NEAR/N" primary)*
 *   primary := "(" or_expr ")" boost? | FIELD ":" primary | "date:" RANGE
 *            | '"' words '"' ("~" N)? boost? | WORD ("*" | "~" N)? boost?
 *   boost   := "^" NUMBER
 *
 * Precedence: NOT/-/+ bind tightest, then NEAR, then AND (explicit or
 * implicit), then OR. Words are analyzed exactly like indexed text (same
 * stemmer and stopwords as the index); prefix and fuzzy words are only
 * folded (nx_fold_text), because a stemmed prefix would miss terms.
 *
 * Errors never abort half-built: everything lives in the query's arena,
 * which newsidx_query_free releases. */
#include "search/query.h"

#include "analysis/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR_DEFAULT 10       /* NEAR without /N, as Xapian */
#define MAX_SLOP 100000       /* "a b"~N and NEAR/N: N at most this */

void newsidx_query_options_init(newsidx_query_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->max_query_bytes = 65536;
    opts->max_depth = 64;
    opts->max_clauses = 4096;
    opts->max_expansions = 1024;
    opts->max_phrase_terms = 64;
}

/* ---- utilities shared with the executor --------------------------------- */

size_t nx_utf8_to_cps(const char *s, size_t len, int32_t *out, size_t cap) {
    const uint8_t *p = (const uint8_t *)s, *end = p + len;
    size_t n = 0;
    while (p < end && n < cap) {
        int32_t cp;
        p += nx_utf8_decode(p, end, &cp);
        out[n++] = cp;
    }
    return n;
}

uint32_t nx_edit_distance(const int32_t *a, size_t na, const int32_t *b, size_t nb,
                          uint32_t max) {
    size_t diff = na > nb ? na - nb : nb - na;
    if (diff > max) return max + 1;
    if (na == 0) return (uint32_t)nb;
    if (nb == 0) return (uint32_t)na;
    /* Two rows of the classic DP; lengths are bounded by the term limit
     * (64 bytes -> at most 64 code points), so rows fit on the stack. */
    uint32_t prev[NEWSIDX_MAX_TERM_BYTES + 2], cur[NEWSIDX_MAX_TERM_BYTES + 2];
    if (nb > NEWSIDX_MAX_TERM_BYTES) return max + 1;
    for (size_t j = 0; j <= nb; j++) prev[j] = (uint32_t)j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = (uint32_t)i;
        uint32_t row_min = cur[0];
        for (size_t j = 1; j <= nb; j++) {
            uint32_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            uint32_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            uint32_t v = sub < del ? sub : del;
            cur[j] = v < ins ? v : ins;
            if (cur[j] < row_min) row_min = cur[j];
        }
        if (row_min > max) return max + 1; /* every path already costs more */
        memcpy(prev, cur, (nb + 1) * sizeof *prev);
    }
    return prev[nb] > max ? max + 1 : prev[nb];
}

static bool digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

int nx_query_date_period(const char *s, size_t len, int64_t *lo, int64_t *hi) {
    if (len == 4 && digits(s, 4)) {
        int64_t y = atoi((char[5]){s[0], s[1], s[2], s[3], 0});
        *lo = nx_days_from_civil(y, 1, 1) * 86400;
        *hi = nx_days_from_civil(y + 1, 1, 1) * 86400 - 1;
        return 0;
    }
    if (len == 7 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2)) {
        int64_t y = atoi((char[5]){s[0], s[1], s[2], s[3], 0});
        int m = (s[5] - '0') * 10 + (s[6] - '0');
        if (m < 1 || m > 12) return -1;
        *lo = nx_days_from_civil(y, m, 1) * 86400;
        *hi = *lo + (int64_t)nx_days_in_month(y, m) * 86400 - 1;
        return 0;
    }
    if (len == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
        digits(s + 8, 2)) {
        int64_t y = atoi((char[5]){s[0], s[1], s[2], s[3], 0});
        int m = (s[5] - '0') * 10 + (s[6] - '0');
        int d = (s[8] - '0') * 10 + (s[9] - '0');
        if (m < 1 || m > 12 || d < 1 || d > nx_days_in_month(y, m)) return -1;
        *lo = nx_days_from_civil(y, m, d) * 86400;
        *hi = *lo + 86399;
        return 0;
    }
    int64_t t;
    if (newsidx_parse_date(s, len, &t) != NEWSIDX_OK) return -1;
    *lo = *hi = t;
    return 0;
}

/* ---- parser state ------------------------------------------------------- */

enum tok_kind {
    T_EOF, T_WORD, T_PHRASE, T_LPAREN, T_RPAREN, T_AND, T_OR, T_NOT, T_PLUS, T_MINUS,
    T_NEAR, T_FIELD,
};

typedef struct tok {
    int kind;
    size_t start, end; /* byte range in the text (PHRASE: inside the quotes) */
    uint32_t near;     /* T_NEAR: N */
    int field;         /* T_FIELD: NX_F_* (NX_F_DATE for date:) */
} tok;

typedef struct parser {
    const char *text;
    size_t len, pos;
    tok t;               /* current token */
    newsidx_query *q;
    newsidx_analyzer *an;
    uint32_t depth;
    uint32_t n_leaves;
    nx_err err;
    unsigned fields;     /* field scope of the words being parsed */
    /* analyzer output of the current word */
    nx_qterm *toks;
    uint32_t n_toks, cap_toks;
    uint32_t first_pos;
    int tok_rc;
} parser;

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
/* Bytes that end a bare word. */
static bool is_word_end(char c) {
    return is_space(c) || c == '(' || c == ')' || c == '"' || c == '^' || c == '~';
}

static int syntax(parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int syntax(parser *p, size_t at, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    p->pos = at; /* column for the caller */
    return nx_err_set(&p->err, NEWSIDX_ERR_SYNTAX, "%s at column %zu", what, at + 1);
}

static const char *tok_desc(const parser *p) {
    switch (p->t.kind) {
    case T_EOF: return "end of query";
    case T_RPAREN: return "')'";
    case T_AND: return "AND";
    case T_OR: return "OR";
    case T_NEAR: return "NEAR";
    default: return "a term";
    }
}

/* Reads the next token into p->t. Errors: unterminated phrase. */
static int next_tok(parser *p) {
    const char *s = p->text;
    size_t n = p->len, i = p->pos;
    while (i < n && is_space(s[i])) i++;
    tok *t = &p->t;
    t->start = i;
    if (i >= n) {
        t->kind = T_EOF;
        t->end = i;
        p->pos = i;
        return 0;
    }
    char c = s[i];
    if (c == '(') { t->kind = T_LPAREN; t->end = i + 1; p->pos = i + 1; return 0; }
    if (c == ')') { t->kind = T_RPAREN; t->end = i + 1; p->pos = i + 1; return 0; }
    if (c == '"') {
        size_t j = i + 1;
        while (j < n && s[j] != '"') j++;
        if (j >= n)
            return syntax(p, n, "expected '\"' closing the phrase that starts at column %zu, before "
                                "the end of the query", i + 1);
        t->kind = T_PHRASE;
        t->start = i + 1;
        t->end = j;
        p->pos = j + 1;
        return 0;
    }
    /* '+'/'-' start a clause except right after "field:" (title:-x is a word) */
    if ((c == '+' || c == '-') && (i == 0 || s[i - 1] != ':')) {
        if (i + 1 >= n || is_space(s[i + 1]) || s[i + 1] == ')')
            return syntax(p, i + 1, "expected a term after '%c'", c);
        t->kind = c == '+' ? T_PLUS : T_MINUS;
        t->end = i + 1;
        p->pos = i + 1;
        return 0;
    }
    if (c == '^' || c == '~') return syntax(p, i, "expected a term before '%c'", c);
    /* field:  (known names only; other colons belong to the word) */
    for (int f = 0; f < NX_N_FIELD_NAMES; f++) {
        const char *name = nx_field_name(f);
        size_t fl = strlen(name);
        if (f != NX_F_ID && n - i > fl && strncasecmp(s + i, name, fl) == 0 && s[i + fl] == ':') {
            t->kind = T_FIELD;
            t->field = f;
            t->end = i + fl + 1;
            p->pos = t->end;
            return 0;
        }
    }
    /* NAME:... with a name that is no indexed field (a stored-only field such
     * as category: or topics:, or a typo) would silently match nothing */
    size_t name_end = i;
    while (name_end < n && (((s[name_end] | 0x20) >= 'a' && (s[name_end] | 0x20) <= 'z') ||
                            s[name_end] == '_' ||
                            (name_end > i && s[name_end] >= '0' && s[name_end] <= '9')))
        name_end++;
    if (name_end > i && name_end + 1 < n && s[name_end] == ':' && !is_space(s[name_end + 1]) &&
        s[name_end + 1] != '/' && s[name_end + 1] != ':')
        return syntax(p, i,
                      "unknown field '%.*s': the searchable fields are title, body, author, "
                      "source, url and date (other fields are stored, not indexed; put the "
                      "word in quotes to search for it as text)",
                      (int)(name_end - i), s + i);
    size_t j = i;
    while (j < n && !is_word_end(s[j])) j++;
    t->end = j;
    p->pos = j;
    size_t wl = j - i;
    t->kind = T_WORD;
    if (wl == 3 && memcmp(s + i, "AND", 3) == 0) t->kind = T_AND;
    else if (wl == 2 && memcmp(s + i, "OR", 2) == 0) t->kind = T_OR;
    else if (wl == 3 && memcmp(s + i, "NOT", 3) == 0) t->kind = T_NOT;
    else if (wl == 4 && memcmp(s + i, "NEAR", 4) == 0) {
        t->kind = T_NEAR;
        t->near = NEAR_DEFAULT;
    } else if (wl > 5 && memcmp(s + i, "NEAR/", 5) == 0) {
        if (!digits(s + i + 5, wl - 5))
            return syntax(p, i + 5, "expected a distance after NEAR/");
        if (wl - 5 > 6) return syntax(p, i + 5, "expected a distance of at most %d", MAX_SLOP);
        uint32_t v = 0;
        for (size_t k = i + 5; k < j; k++) v = v * 10 + (uint32_t)(s[k] - '0');
        if (v > MAX_SLOP) return syntax(p, i + 5, "expected a distance of at most %d", MAX_SLOP);
        t->kind = T_NEAR;
        t->near = v;
    }
    return 0;
}

/* ---- tree construction -------------------------------------------------- */

static nx_qnode *new_node(parser *p, int kind, size_t at) {
    nx_qnode *n = nx_arena_alloc(&p->q->arena, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->boost = 1.0;
    n->column = (uint32_t)at + 1;
    n->fields = p->fields;
    return n;
}

static char *arena_strndup(nx_arena *a, const char *s, size_t n) {
    char *d = nx_arena_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int count_leaves(parser *p, uint32_t n, size_t at) {
    p->n_leaves += n;
    NX_RETURN_IF(p->n_leaves > p->q->opts.max_clauses, &p->err, NEWSIDX_ERR_LIMIT,
                 "more than max_clauses (%u) terms at column %zu", p->q->opts.max_clauses,
                 at + 1);
    return 0;
}

static int on_token(void *ctx, const newsidx_token *tk) {
    parser *p = ctx;
    if (p->n_toks == p->cap_toks) {
        uint32_t cap = p->cap_toks ? p->cap_toks * 2 : 16;
        nx_qterm *nt = nx_arena_alloc(&p->q->arena, cap * sizeof *nt);
        if (!nt) return p->tok_rc = NEWSIDX_ERR_NOMEM;
        if (p->n_toks) memcpy(nt, p->toks, p->n_toks * sizeof *nt);
        p->toks = nt;
        p->cap_toks = cap;
    }
    if (p->n_toks == 0) p->first_pos = tk->position;
    char *s = arena_strndup(&p->q->arena, tk->term, tk->term_len);
    if (!s) return p->tok_rc = NEWSIDX_ERR_NOMEM;
    p->toks[p->n_toks].text = s;
    p->toks[p->n_toks].len = (uint32_t)tk->term_len;
    p->toks[p->n_toks].offset = tk->position - p->first_pos;
    p->n_toks++;
    return 0;
}

/* Analyzes text into p->toks (fresh array each call). */
static int analyze(parser *p, size_t start, size_t end) {
    p->toks = NULL;
    p->n_toks = p->cap_toks = 0;
    p->tok_rc = 0;
    int rc = newsidx_analyze(p->an, p->text + start, end - start, on_token, p);
    if (p->tok_rc) rc = p->tok_rc;
    NX_RETURN_IF(rc == NEWSIDX_ERR_NOMEM, &p->err, rc, "out of memory");
    NX_RETURN_IF(rc < 0, &p->err, rc, "analyzer failed at column %zu", start + 1);
    return 0;
}

/* Builds a TERM/PHRASE/NEAR node from p->toks; *out = NULL when the text
 * analyzed to nothing (stopwords, punctuation). slop < 0: exact phrase. */
static int words_node(parser *p, size_t at, long slop, nx_qnode **out) {
    *out = NULL;
    if (p->n_toks == 0) return 0;
    NX_RETURN_IF(p->n_toks > p->q->opts.max_phrase_terms, &p->err, NEWSIDX_ERR_LIMIT,
                 "phrase of more than max_phrase_terms (%u) words at column %zu",
                 p->q->opts.max_phrase_terms, at + 1);
    if (slop >= 0) {
        /* Proximity is over distinct terms: a repeated word adds nothing. */
        uint32_t k = 0;
        for (uint32_t i = 0; i < p->n_toks; i++) {
            bool dup = false;
            for (uint32_t j = 0; j < k && !dup; j++)
                dup = p->toks[j].len == p->toks[i].len &&
                      memcmp(p->toks[j].text, p->toks[i].text, p->toks[i].len) == 0;
            if (!dup) p->toks[k++] = p->toks[i];
        }
        p->n_toks = k;
    }
    NX_FORWARD(count_leaves(p, p->n_toks, at));
    int kind = p->n_toks == 1 ? NXQ_TERM : slop >= 0 ? NXQ_NEAR : NXQ_PHRASE;
    nx_qnode *n = new_node(p, kind, at);
    NX_RETURN_IF(!n, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
    n->terms = p->toks;
    n->n_terms = p->n_toks;
    if (kind == NXQ_TERM) n->terms[0].offset = 0;
    if (kind == NXQ_NEAR)
        for (uint32_t i = 0; i < n->n_terms; i++) n->terms[i].offset = 0;
    n->slop = slop >= 0 ? (uint32_t)slop : 0;
    *out = n;
    return 0;
}

/* Reads an unsigned number at p->pos (after '~' / '^'): digits, optionally
 * a fraction when allow_frac. Returns chars read (0: none). */
static size_t read_number(parser *p, bool allow_frac, double *v) {
    const char *s = p->text;
    size_t i = p->pos, n = p->len;
    size_t j = i;
    while (j < n && s[j] >= '0' && s[j] <= '9') j++;
    if (allow_frac && j < n && s[j] == '.') {
        j++;
        while (j < n && s[j] >= '0' && s[j] <= '9') j++;
    }
    if (j == i || (j == i + 1 && s[i] == '.')) return 0;
    char buf[32];
    if (j - i >= sizeof buf) {
        *v = HUGE_VAL;
    } else {
        memcpy(buf, s + i, j - i);
        buf[j - i] = '\0';
        *v = strtod(buf, NULL);
    }
    return j - i;
}

/* Optional "^B" right after a term / phrase / group. */
static int parse_boost(parser *p, nx_qnode *n) {
    if (p->pos < p->len && p->text[p->pos] == '^') {
        size_t at = p->pos;
        p->pos++;
        double v;
        size_t k = read_number(p, true, &v);
        if (k == 0 || !(v > 0) || v > 1e6)
            return syntax(p, at + 1, "expected a boost number (0 < boost <= 1e6) after '^'");
        p->pos += k;
        if (p->pos < p->len && !is_word_end(p->text[p->pos]))
            return syntax(p, p->pos, "expected a space or ')' after the boost");
        if (n) n->boost *= v;
    }
    return 0;
}

static int parse_or(parser *p, nx_qnode **out);

static int parse_date(parser *p, size_t at, nx_qnode **out) {
    const char *s = p->text;
    size_t i = p->pos, j = i;
    while (j < p->len && !is_space(s[j]) && s[j] != ')') j++;
    if (j == i) return syntax(p, i, "expected a date or a range A..B after 'date:'");
    const char *dots = NULL;
    for (size_t k = i; k + 1 < j; k++)
        if (s[k] == '.' && s[k + 1] == '.') {
            dots = s + k;
            break;
        }
    int64_t lo = NX_NO_DATE + 1, hi = INT64_MAX, a, b;
    if (dots) {
        size_t al = (size_t)(dots - (s + i)), bl = (size_t)(s + j - (dots + 2));
        if (al == 0 && bl == 0) return syntax(p, i, "expected a date before or after '..'");
        if (al && nx_query_date_period(s + i, al, &lo, &a) < 0)
            return syntax(p, i, "expected a date (YYYY, YYYY-MM, YYYY-MM-DD or ISO-8601)");
        if (bl && nx_query_date_period(dots + 2, bl, &b, &hi) < 0)
            return syntax(p, (size_t)(dots + 2 - s),
                          "expected a date (YYYY, YYYY-MM, YYYY-MM-DD or ISO-8601)");
    } else if (nx_query_date_period(s + i, j - i, &lo, &hi) < 0) {
        return syntax(p, i, "expected a date (YYYY, YYYY-MM, YYYY-MM-DD or ISO-8601)");
    }
    if (lo <= NX_NO_DATE) lo = NX_NO_DATE + 1; /* undated docs never match a range */
    p->pos = j;
    NX_FORWARD(count_leaves(p, 1, at));
    nx_qnode *n = new_node(p, NXQ_DATE, at);
    NX_RETURN_IF(!n, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
    n->date_lo = lo;
    n->date_hi = hi;
    *out = n;
    return 0;
}

/* A bare word with its modifiers; the current token is T_WORD. */
static int parse_word(parser *p, nx_qnode **out) {
    size_t start = p->t.start, end = p->t.end;
    const char *s = p->text;
    *out = NULL;
    bool prefix = end - start >= 1 && s[end - 1] == '*';
    long fuzzy = -1;
    if (!prefix && p->pos < p->len && s[p->pos] == '~') {
        p->pos++;
        double v = 2;
        size_t k = read_number(p, false, &v);
        if (k && v > 2)
            return syntax(p, p->pos, "expected an edit distance of 0, 1 or 2 after '~'");
        p->pos += k;
        fuzzy = (long)v;
    }
    if (prefix || fuzzy >= 0) {
        size_t wend = prefix ? end - 1 : end;
        char folded[NEWSIDX_MAX_TERM_BYTES + 1];
        size_t fl = 0;
        if (wend > start &&
            nx_fold_text(s + start, wend - start, folded, sizeof folded - 1, &fl) != NEWSIDX_OK)
            return syntax(p, start, "expected a word of at most %d bytes", NEWSIDX_MAX_TERM_BYTES);
        if (fl == 0) return syntax(p, start, "expected letters or digits before '%c'",
                                   prefix ? '*' : '~');
        NX_FORWARD(count_leaves(p, 1, start));
        nx_qnode *n = new_node(p, prefix ? NXQ_PREFIX : NXQ_FUZZY, start);
        nx_qterm *t = nx_arena_alloc(&p->q->arena, sizeof *t);
        char *txt = arena_strndup(&p->q->arena, folded, fl);
        NX_RETURN_IF(!n || !t || !txt, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
        t->text = txt;
        t->len = (uint32_t)fl;
        t->offset = 0;
        n->terms = t;
        n->n_terms = 1;
        n->max_edits = prefix ? 0 : (uint32_t)fuzzy;
        *out = n;
    } else {
        NX_FORWARD(analyze(p, start, end));
        NX_FORWARD(words_node(p, start, -1, out));
    }
    return parse_boost(p, *out);
}

static int parse_primary(parser *p, nx_qnode **out) {
    *out = NULL;
    tok t = p->t;
    switch (t.kind) {
    case T_LPAREN: {
        NX_RETURN_IF(++p->depth > p->q->opts.max_depth, &p->err, NEWSIDX_ERR_LIMIT,
                     "query nests deeper than max_depth (%u) at column %zu",
                     p->q->opts.max_depth, t.start + 1);
        NX_FORWARD(next_tok(p));
        NX_FORWARD(parse_or(p, out));
        if (p->t.kind != T_RPAREN)
            return syntax(p, p->t.start, "expected ')' to close the '(' of column %zu, found %s",
                          t.start + 1, tok_desc(p));
        p->depth--;
        NX_FORWARD(parse_boost(p, *out));
        return next_tok(p);
    }
    case T_FIELD: {
        NX_RETURN_IF(++p->depth > p->q->opts.max_depth, &p->err, NEWSIDX_ERR_LIMIT,
                     "query nests deeper than max_depth (%u) at column %zu",
                     p->q->opts.max_depth, t.start + 1);
        if (t.field == NX_F_DATE) {
            NX_FORWARD(parse_date(p, t.start, out));
            NX_FORWARD(next_tok(p));
        } else {
            if (p->pos >= p->len || is_space(p->text[p->pos]))
                return syntax(p, p->pos, "expected a term after '%.*s'",
                              (int)(t.end - t.start), p->text + t.start);
            unsigned saved = p->fields;
            p->fields = NXQ_FIELD_BIT(t.field);
            NX_FORWARD(next_tok(p));
            if (p->t.kind != T_WORD && p->t.kind != T_PHRASE && p->t.kind != T_LPAREN)
                return syntax(p, p->t.start, "expected a word, a phrase or '(' after '%.*s'",
                              (int)(t.end - t.start), p->text + t.start);
            NX_FORWARD(parse_primary(p, out));
            p->fields = saved;
        }
        p->depth--;
        return 0;
    }
    case T_PHRASE: {
        NX_FORWARD(analyze(p, t.start, t.end));
        long slop = -1;
        if (p->pos < p->len && p->text[p->pos] == '~') {
            p->pos++;
            double v = 2;
            size_t k = read_number(p, false, &v);
            if (v > MAX_SLOP)
                return syntax(p, p->pos, "expected a distance of at most %d", MAX_SLOP);
            p->pos += k;
            slop = (long)v;
        }
        NX_FORWARD(words_node(p, t.start - 1, slop, out));
        NX_FORWARD(parse_boost(p, *out));
        return next_tok(p);
    }
    case T_WORD:
        NX_FORWARD(parse_word(p, out));
        return next_tok(p);
    default:
        return syntax(p, t.start, "expected a term, found %s", tok_desc(p));
    }
}

static int parse_near(parser *p, nx_qnode **out) {
    size_t at = p->t.start;
    NX_FORWARD(parse_primary(p, out));
    while (p->t.kind == T_NEAR) {
        uint32_t dist = p->t.near;
        size_t near_at = p->t.start;
        nx_qnode *left = *out;
        if (left && left->kind != NXQ_TERM && left->kind != NXQ_NEAR)
            return syntax(p, near_at, "expected words on both sides of NEAR");
        NX_FORWARD(next_tok(p));
        if (p->t.kind != T_WORD && p->t.kind != T_FIELD)
            return syntax(p, p->t.start, "expected a word after NEAR, found %s", tok_desc(p));
        size_t right_at = p->t.start;
        nx_qnode *right;
        NX_FORWARD(parse_primary(p, &right));
        if (right && right->kind != NXQ_TERM)
            return syntax(p, right_at, "expected a single word after NEAR");
        if (!left) {
            *out = right;
            continue;
        }
        if (!right) continue;
        if (left->fields != right->fields)
            return syntax(p, right_at, "expected both NEAR words in the same field");
        nx_qnode *n = left;
        if (left->kind == NXQ_TERM) {
            n = new_node(p, NXQ_NEAR, at);
            NX_RETURN_IF(!n, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
            n->fields = left->fields;
            n->terms = left->terms;
            n->n_terms = 1;
            n->slop = dist;
            n->boost = left->boost;
        } else if (dist > n->slop) {
            n->slop = dist; /* a chain's window uses its largest N */
        }
        bool dup = false;
        for (uint32_t i = 0; i < n->n_terms && !dup; i++)
            dup = n->terms[i].len == right->terms[0].len &&
                  memcmp(n->terms[i].text, right->terms[0].text, right->terms[0].len) == 0;
        if (!dup) {
            nx_qterm *nt = nx_arena_alloc(&p->q->arena, (n->n_terms + 1) * sizeof *nt);
            NX_RETURN_IF(!nt, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
            memcpy(nt, n->terms, n->n_terms * sizeof *nt);
            nt[n->n_terms] = right->terms[0];
            nt[n->n_terms].offset = 0;
            n->terms = nt;
            n->n_terms++;
        }
        n->boost *= right->boost == 1.0 ? 1.0 : right->boost;
        *out = n;
    }
    return 0;
}

/* A growable list of children in the arena. */
typedef struct child_list {
    nx_qnode **nodes;
    bool *neg;
    uint32_t n, cap;
} child_list;

static int push_child(parser *p, child_list *l, nx_qnode *node, bool neg) {
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        nx_qnode **nn = nx_arena_alloc(&p->q->arena, cap * sizeof *nn);
        bool *ng = nx_arena_alloc(&p->q->arena, cap * sizeof *ng);
        NX_RETURN_IF(!nn || !ng, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
        if (l->n) {
            memcpy(nn, l->nodes, l->n * sizeof *nn);
            memcpy(ng, l->neg, l->n * sizeof *ng);
        }
        l->nodes = nn;
        l->neg = ng;
        l->cap = cap;
    }
    l->nodes[l->n] = node;
    l->neg[l->n] = neg;
    l->n++;
    return 0;
}

static bool clause_can_start(int kind) {
    return kind == T_WORD || kind == T_PHRASE || kind == T_LPAREN || kind == T_FIELD ||
           kind == T_NOT || kind == T_PLUS || kind == T_MINUS;
}

/* The AND or OR node over the clauses gathered in l. */
static int group_node(parser *p, int kind, size_t at, const child_list *l, nx_qnode **out) {
    nx_qnode *n = new_node(p, kind, at);
    NX_RETURN_IF(!n, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
    n->children = l->nodes;
    n->negated = l->neg;
    n->n_children = l->n;
    *out = n;
    return 0;
}

static int parse_and(parser *p, nx_qnode **out) {
    child_list l = {0};
    size_t at = p->t.start;
    bool any = false, any_pos = false;
    *out = NULL;
    for (;;) {
        if (p->t.kind == T_AND) {
            if (!any) return syntax(p, p->t.start, "expected a term before AND");
            NX_FORWARD(next_tok(p));
            if (!clause_can_start(p->t.kind))
                return syntax(p, p->t.start, "expected a term after AND, found %s", tok_desc(p));
        }
        if (!clause_can_start(p->t.kind)) break;
        bool neg = false;
        if (p->t.kind == T_NOT || p->t.kind == T_MINUS) {
            neg = true;
            const char *what = p->t.kind == T_NOT ? "NOT" : "'-'";
            NX_FORWARD(next_tok(p));
            if (p->t.kind == T_NOT || p->t.kind == T_MINUS || p->t.kind == T_PLUS ||
                !clause_can_start(p->t.kind))
                return syntax(p, p->t.start, "expected a term after %s, found %s", what,
                              tok_desc(p));
        } else if (p->t.kind == T_PLUS) {
            NX_FORWARD(next_tok(p));
        }
        nx_qnode *c;
        NX_FORWARD(parse_near(p, &c));
        any = true;
        if (!c) continue; /* stopwords only: the clause is dropped */
        NX_FORWARD(push_child(p, &l, c, neg));
        any_pos |= !neg;
    }
    if (!any)
        return syntax(p, p->t.start, "expected a term, found %s", tok_desc(p));
    if (l.n == 0) return 0;
    if (l.n == 1 && !l.neg[0]) {
        *out = l.nodes[0];
        return 0;
    }
    if (!any_pos) {
        /* Purely negative: everything except the negated clauses. */
        nx_qnode *all = new_node(p, NXQ_ALL, at);
        NX_RETURN_IF(!all, &p->err, NEWSIDX_ERR_NOMEM, "out of memory");
        NX_FORWARD(push_child(p, &l, all, false));
    }
    return group_node(p, NXQ_AND, at, &l, out);
}

static int parse_or(parser *p, nx_qnode **out) {
    child_list l = {0};
    size_t at = p->t.start;
    *out = NULL;
    for (;;) {
        if (p->t.kind == T_OR && l.n == 0 && p->t.start == at)
            return syntax(p, p->t.start, "expected a term before OR");
        nx_qnode *c;
        NX_FORWARD(parse_and(p, &c));
        if (c) NX_FORWARD(push_child(p, &l, c, false));
        if (p->t.kind != T_OR) break;
        NX_FORWARD(next_tok(p));
        if (!clause_can_start(p->t.kind))
            return syntax(p, p->t.start, "expected a term after OR, found %s", tok_desc(p));
    }
    if (l.n == 0) return 0;
    if (l.n == 1) {
        *out = l.nodes[0];
        return 0;
    }
    return group_node(p, NXQ_OR, at, &l, out);
}

const char *newsidx_query_notice(const newsidx_query *q) {
    return q && q->notice ? q->notice : "";
}

void newsidx_query_free(newsidx_query *q) {
    if (!q) return;
    free(q->stem_language);
    free(q->stopwords_language);
    nx_arena_reset(&q->arena);
    free(q);
}

static char *dup_or_null(const char *s, bool *oom) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

int newsidx_query_parse(const newsidx_reader *r, const char *text, size_t len,
                        const newsidx_query_options *opts, size_t *error_column,
                        char *errbuf, size_t errbuf_size, newsidx_query **out) {
    nx_err err = {0};
    if (out) *out = NULL;
    if (error_column) *error_column = 0;
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (!out || (!text && len)) {
        nx_err_set(&err, NEWSIDX_ERR_INVALID, "query text and out are required");
        nx_err_copy(&err, errbuf, errbuf_size);
        return NEWSIDX_ERR_INVALID;
    }
    newsidx_query_options o;
    newsidx_query_options_init(&o);
    if (opts && nx_options_copy(&o, sizeof o, opts, "query", &err)) {
        nx_err_copy(&err, errbuf, errbuf_size);
        return NEWSIDX_ERR_INVALID;
    }
    if (len > o.max_query_bytes) {
        nx_err_set(&err, NEWSIDX_ERR_LIMIT, "query of %zu bytes is longer than max_query_bytes (%u)",
                   len, o.max_query_bytes);
        nx_err_copy(&err, errbuf, errbuf_size);
        return NEWSIDX_ERR_LIMIT;
    }
    /* The parser and the engine recurse once per nesting level: a hard cap
     * keeps a raised max_depth from overflowing the caller's stack. */
    if (o.max_depth > NEWSIDX_MAX_QUERY_DEPTH) o.max_depth = NEWSIDX_MAX_QUERY_DEPTH;
    newsidx_query *q = calloc(1, sizeof *q);
    if (!q) return NEWSIDX_ERR_NOMEM;
    q->opts = o;
    q->arena.chunk_bytes = 16384;
    const nx_snapshot *snap = r ? nx_reader_snapshot(r) : NULL;
    bool oom = false;
    if (snap) {
        q->stem_language = dup_or_null(snap->stem_language, &oom);
        q->stopwords_language = dup_or_null(snap->stopwords_language, &oom);
    }
    if (oom) {
        newsidx_query_free(q);
        return NEWSIDX_ERR_NOMEM;
    }
    newsidx_analyzer_options ao;
    newsidx_analyzer_options_init(&ao);
    ao.stem_language = q->stem_language;
    ao.stopwords_language = q->stopwords_language;
    parser p = {.text = text ? text : "", .len = len, .q = q, .fields = NXQ_DEFAULT_FIELDS};
    int rc = newsidx_analyzer_create(&ao, &p.an);
    if (rc != NEWSIDX_OK) {
        nx_err_set(&err, rc, "cannot create the index's analyzer (%s)", newsidx_strerror(rc));
        nx_err_copy(&err, errbuf, errbuf_size);
        newsidx_query_free(q);
        return rc;
    }
    size_t i = 0;
    while (i < len && is_space(p.text[i])) i++;
    if (i == len) {
        /* A blank query matches nothing, and says so. */
        rc = 0;
        q->root = new_node(&p, NXQ_NONE, 0);
        if (!q->root) rc = NEWSIDX_ERR_NOMEM;
        q->notice = "the query is empty: nothing to search";
    } else {
        rc = next_tok(&p);
        if (rc == 0) rc = parse_or(&p, &q->root);
        if (rc == 0 && p.t.kind != T_EOF)
            rc = syntax(&p, p.t.start, "expected an operator or the end of the query, found %s",
                        tok_desc(&p));
        if (rc == 0 && !q->root) {
            q->root = new_node(&p, NXQ_NONE, 0);
            if (!q->root) rc = nx_err_set(&p.err, NEWSIDX_ERR_NOMEM, "out of memory");
            q->notice = q->stopwords_language
                            ? "every word of the query is a stopword or punctuation: nothing to "
                              "search"
                            : "the query has no words, only punctuation: nothing to search";
        }
    }
    newsidx_analyzer_free(p.an);
    if (rc != 0) {
        if (rc == NEWSIDX_ERR_SYNTAX && error_column) *error_column = p.pos + 1;
        if (rc == NEWSIDX_ERR_NOMEM && !p.err.msg[0]) nx_err_set(&p.err, rc, "out of memory");
        nx_err_copy(&p.err, errbuf, errbuf_size);
        newsidx_query_free(q);
        return rc;
    }
    q->n_leaves = p.n_leaves;
    *out = q;
    return NEWSIDX_OK;
}

/* ---- dump --------------------------------------------------------------- */

typedef struct dumper {
    char *buf;
    size_t cap, len;
} dumper;

static void dput(dumper *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dput(dumper *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = d->len < d->cap ? d->cap - d->len : 0;
    int k = vsnprintf(room ? d->buf + d->len : NULL, room, fmt, ap);
    va_end(ap);
    if (k > 0) d->len += (size_t)k;
}

static void dump_fields(dumper *d, unsigned f) {
    if (f == NXQ_DEFAULT_FIELDS) return;
    bool first = true;
    for (int i = 0; i < NX_N_FIELDS; i++)
        if (f & NXQ_FIELD_BIT(i)) {
            dput(d, "%s%s", first ? "" : "|", nx_field_name(i));
            first = false;
        }
    dput(d, ":");
}

static void dump_node(dumper *d, const nx_qnode *n) {
    if (!n) {
        dput(d, "null");
        return;
    }
    switch (n->kind) {
    case NXQ_NONE: dput(d, "none"); break;
    case NXQ_ALL: dput(d, "all"); break;
    case NXQ_TERM:
    case NXQ_PREFIX:
    case NXQ_FUZZY:
        dump_fields(d, n->fields);
        dput(d, "%s", n->terms[0].text);
        if (n->kind == NXQ_PREFIX) dput(d, "*");
        if (n->kind == NXQ_FUZZY) dput(d, "~%u", n->max_edits);
        break;
    case NXQ_PHRASE:
        dump_fields(d, n->fields);
        dput(d, "\"");
        for (uint32_t i = 0; i < n->n_terms; i++)
            dput(d, "%s%s", i ? " " : "", n->terms[i].text);
        /* gaps left by stopwords show as @offset */
        for (uint32_t i = 0; i < n->n_terms; i++)
            if (n->terms[i].offset != i) {
                dput(d, "\"@");
                for (uint32_t j = 0; j < n->n_terms; j++)
                    dput(d, "%s%u", j ? "," : "", n->terms[j].offset);
                goto phrase_done;
            }
        dput(d, "\"");
    phrase_done:
        break;
    case NXQ_NEAR:
        dput(d, "(near/%u ", n->slop);
        dump_fields(d, n->fields);
        for (uint32_t i = 0; i < n->n_terms; i++) dput(d, "%s%s", i ? " " : "", n->terms[i].text);
        dput(d, ")");
        break;
    case NXQ_DATE: dput(d, "date[%lld,%lld]", (long long)n->date_lo, (long long)n->date_hi); break;
    case NXQ_AND:
    case NXQ_OR:
        dput(d, "(%s", n->kind == NXQ_AND ? "and" : "or");
        for (uint32_t i = 0; i < n->n_children; i++) {
            dput(d, " ");
            if (n->negated && n->negated[i]) dput(d, "(not ");
            dump_node(d, n->children[i]);
            if (n->negated && n->negated[i]) dput(d, ")");
        }
        dput(d, ")");
        break;
    }
    if (n->boost != 1.0) dput(d, "^%g", n->boost);
}

size_t nx_query_dump(const nx_qnode *n, char *buf, size_t cap) {
    dumper d = {buf, cap, 0};
    if (cap) buf[0] = '\0';
    dump_node(&d, n);
    return d.len;
}
