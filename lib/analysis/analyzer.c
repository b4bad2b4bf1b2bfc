/* analysis/ — the analyzer: UTF-8 text -> terms with positions and byte
 * offsets. The rules (what a word is, folding, apostrophes, numbers, CJK,
 * limits) are written down in docs/ANALYSIS.md; keep the two in step.
 *
 * Speed: the indexer runs this over every field of every article, so ASCII
 * takes a table-driven path with no library calls, and non-ASCII code points
 * go through a small per-analyzer cache in front of utf8proc. Terms are built
 * in a fixed buffer inside the analyzer: nothing is allocated while
 * analyzing. There is no global mutable state. */
#include "analysis/analysis.h"
#include "analysis/fold.h"
#include "util/util.h"

#include <libstemmer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_TERM NEWSIDX_MAX_TERM_BYTES

/* ASCII letters and digits -> lowercase byte; everything else 0 (bytes >=
 * 0x80 too, so the hot loop needs one lookup per byte). */
static const uint8_t ascii_fold[256] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
    ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e',
    ['F'] = 'f', ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j',
    ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n', ['O'] = 'o',
    ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't',
    ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y',
    ['Z'] = 'z',
    ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e',
    ['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j',
    ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o',
    ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't',
    ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y',
    ['z'] = 'z',
};

/* A per-analyzer direct-mapped cache of non-ASCII code points: class and
 * folded bytes. Accented Latin, Greek or Cyrillic text repeats a few dozen
 * code points, so this removes almost every utf8proc call. */
#define FOLD_CACHE_SIZE 1024
#define FOLD_INLINE_BYTES 10
#define FOLD_UNCACHED 0xff /* folded form longer than FOLD_INLINE_BYTES */
typedef struct fold_entry {
    int32_t cp; /* -1: empty slot */
    uint8_t cls;
    uint8_t len; /* bytes in folded, or FOLD_UNCACHED */
    uint8_t folded[FOLD_INLINE_BYTES];
} fold_entry;

/* A CJK character with the combining marks that follow it (dakuten written
 * apart, e.g.), folded with NFKC so that half-width katakana and decomposed
 * kana meet their precomposed full-width forms. */
#define CJK_UNIT_MAX_CPS 16
#define CJK_UNIT_MAX_BYTES 48
_Static_assert(NX_NFKC_MAX_CPS >= 4 * CJK_UNIT_MAX_CPS, "a CJK unit folds in one call");
typedef struct cjk_unit {
    size_t start, end; /* source bytes */
    size_t fold_src_end; /* end of the first CJK_UNIT_MAX_CPS code points */
    unsigned n_cps;
    bool folded; /* bytes hold the fold (a lone character, from the cache) */
    uint8_t len;
    uint8_t bytes[CJK_UNIT_MAX_BYTES];
} cjk_unit;

typedef struct stopword_ref {
    uint32_t offset; /* into stop_text */
    uint32_t len;
} stopword_ref;

/* Stopwords are looked up for every term: an open-addressing hash table
 * (linear probing, at most half full) instead of a binary search. */
#define STOP_SLOTS 1024
#define STOP_MAX_WORDS (STOP_SLOTS / 2)

/* Snowball costs more than everything else together, and news text repeats
 * its words: a per-analyzer direct-mapped cache of term -> stem. Terms
 * longer than STEM_CACHE_BYTES are stemmed every time. */
#define STEM_CACHE_SLOTS 4096
#define STEM_CACHE_BYTES 27
typedef struct stem_entry {
    uint8_t len; /* 0: empty */
    uint8_t stem_len;
    uint8_t term[STEM_CACHE_BYTES];
    uint8_t stem[STEM_CACHE_BYTES];
} stem_entry;

struct newsidx_analyzer {
    struct sb_stemmer *stemmer; /* NULL: no stemming */
    bool suffix_apostrophe;     /* Turkish: an apostrophe starts a suffix */
    char *stop_text;            /* folded stopwords, back to back */
    stopword_ref *stops;
    size_t n_stops;
    int16_t stop_slots[STOP_SLOTS]; /* index into stops, -1: empty */
    stem_entry *stem_cache;         /* STEM_CACHE_SLOTS entries when stemming */
    fold_entry cache[FOLD_CACHE_SIZE];
    uint8_t term[MAX_TERM + 1];
    uint8_t cjk_term[2 * CJK_UNIT_MAX_BYTES];
    nx_err err; /* the last failed newsidx_analyze's message */
};

/* ------------------------------------------------------------------------ */
/* The code point cache in front of fold.c                                  */
/* ------------------------------------------------------------------------ */

/* Cached class of a non-ASCII code point; fills *folded / *folded_len with
 * its folded form (pointing into the cache or into scratch; empty for
 * separators). */
static inline int lookup_cp(newsidx_analyzer *a, int32_t cp, const uint8_t **folded,
                            size_t *folded_len, uint8_t *scratch) {
    fold_entry *e = &a->cache[(uint32_t)cp & (FOLD_CACHE_SIZE - 1)];
    if (NX_UNLIKELY(e->cp != cp)) {
        e->cp = cp;
        e->cls = (uint8_t)nx_classify_cp(cp);
        size_t n = nx_fold_by_class(e->cls, cp, scratch);
        if (n <= FOLD_INLINE_BYTES) {
            memcpy(e->folded, scratch, n);
            e->len = (uint8_t)n;
        } else {
            e->len = FOLD_UNCACHED;
        }
    }
    if (e->len == FOLD_UNCACHED) {
        *folded_len = nx_fold_by_class(e->cls, cp, scratch);
        *folded = scratch;
    } else {
        *folded = e->folded;
        *folded_len = e->len;
    }
    return e->cls;
}

/* Class only (for look-ahead). */
static inline int class_at(newsidx_analyzer *a, const uint8_t *p, const uint8_t *end,
                           size_t *cp_len) {
    if (p >= end) {
        *cp_len = 0;
        return NX_CLS_SEP;
    }
    if (*p < 0x80) {
        *cp_len = 1;
        return ascii_fold[*p] ? NX_CLS_WORD : (*p == '\'' ? NX_CLS_APOS : NX_CLS_SEP);
    }
    int32_t cp;
    *cp_len = nx_utf8_decode(p, end, &cp);
    if (cp < 0) return NX_CLS_SEP;
    const uint8_t *f;
    size_t fl;
    uint8_t scratch[NX_FOLD_CP_MAX_BYTES];
    return lookup_cp(a, cp, &f, &fl, scratch);
}

/* ------------------------------------------------------------------------ */
/* Emitting terms                                                           */
/* ------------------------------------------------------------------------ */

/* FNV-1a: terms are short, and this needs no state. */
static inline uint32_t term_hash(const uint8_t *t, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ t[i]) * 16777619u;
    return h;
}

static bool is_stopword(const newsidx_analyzer *a, const uint8_t *term, size_t len) {
    uint32_t slot = term_hash(term, len) & (STOP_SLOTS - 1);
    for (;;) {
        int16_t k = a->stop_slots[slot];
        if (k < 0) return false;
        const stopword_ref *s = &a->stops[k];
        if (s->len == len && memcmp(a->stop_text + s->offset, term, len) == 0) return true;
        slot = (slot + 1) & (STOP_SLOTS - 1);
    }
}

/* Stems term through the cache. Returns NULL when Snowball runs out of
 * memory; otherwise the stem, valid until the next call. */
static const uint8_t *stem_term(newsidx_analyzer *a, const uint8_t *term, size_t len,
                                size_t *stem_len) {
    stem_entry *e = NULL;
    if (len <= STEM_CACHE_BYTES) {
        e = &a->stem_cache[term_hash(term, len) & (STEM_CACHE_SLOTS - 1)];
        if (e->len == len && memcmp(e->term, term, len) == 0) {
            *stem_len = e->stem_len;
            return e->stem;
        }
    }
    const sb_symbol *s = sb_stemmer_stem(a->stemmer, term, (int)len);
    if (!s) return NULL;
    size_t slen = (size_t)sb_stemmer_length(a->stemmer);
    /* A stemmer never lengthens a word past the limit in practice, but the
     * limit is a promise of the API: keep it. An empty stem keeps the word. */
    if (slen == 0 || slen > MAX_TERM) {
        s = term;
        slen = len;
    }
    if (e && slen <= STEM_CACHE_BYTES) {
        e->len = (uint8_t)len;
        memcpy(e->term, term, len);
        e->stem_len = (uint8_t)slen;
        memcpy(e->stem, s, slen);
    }
    *stem_len = slen;
    return s;
}

/* Stopwords, then stemming, then the callback. */
static __attribute__((noinline)) int emit_word_filtered(newsidx_analyzer *a,
                                                        const uint8_t *term, size_t len,
                                                        uint32_t pos, size_t start, size_t end,
                                                        newsidx_token_fn fn, void *ctx) {
    if (a->n_stops && is_stopword(a, term, len)) return 0;
    if (a->stemmer) {
        term = stem_term(a, term, len, &len);
        if (!term) return NEWSIDX_ERR_NOMEM;
    }
    newsidx_token t = {(const char *)term, len, pos, start, end};
    return fn(ctx, &t);
}

/* Inline for an analyzer without stopwords and stemmer (the writer's
 * default): the out-of-line function's frame, kept for its slow path,
 * cost a sixth of the per-token analysis. */
static inline int emit_word(newsidx_analyzer *a, const uint8_t *term, size_t len,
                            uint32_t pos, size_t start, size_t end, newsidx_token_fn fn,
                            void *ctx) {
    if (a->n_stops || a->stemmer)
        return emit_word_filtered(a, term, len, pos, start, end, fn, ctx);
    newsidx_token t = {(const char *)term, len, pos, start, end};
    return fn(ctx, &t);
}

#define next_pos nx_next_pos

/* ------------------------------------------------------------------------ */
/* Words                                                                    */
/* ------------------------------------------------------------------------ */

/* Words that lose their elided article or preposition at an apostrophe:
 * l’Afrique -> afrique, qu’il -> il (French, Catalan), dell’Italia ->
 * italia (Italian). Folded form. */
static bool is_elision(const uint8_t *t, size_t n) {
    switch (n) {
    case 1:
        return t[0] == 'l' || t[0] == 'd' || t[0] == 'j' || t[0] == 'm' ||
               t[0] == 'n' || t[0] == 's' || t[0] == 't' || t[0] == 'c';
    case 2: return memcmp(t, "qu", 2) == 0 || memcmp(t, "un", 2) == 0;
    case 3: return memcmp(t, "all", 3) == 0;
    case 4:
        return memcmp(t, "dell", 4) == 0 || memcmp(t, "dall", 4) == 0 ||
               memcmp(t, "nell", 4) == 0 || memcmp(t, "sull", 4) == 0 ||
               memcmp(t, "coll", 4) == 0;
    case 5:
        return memcmp(t, "jusqu", 5) == 0 || memcmp(t, "quell", 5) == 0 ||
               memcmp(t, "quest", 5) == 0;
    case 6: return memcmp(t, "lorsqu", 6) == 0 || memcmp(t, "puisqu", 6) == 0;
    default: return false;
    }
}

static inline bool is_ascii_letter(uint8_t c) {
    return (uint8_t)((c | 0x20) - 'a') < 26;
}

/* A dot at p inside an acronym: a single ASCII letter on each side, the
 * left one starting the word or following a dot, the right one followed
 * by no letter or digit (U.S.A., e.g.). */
static inline bool is_acronym_dot(const uint8_t *p, const uint8_t *word_start,
                                  const uint8_t *end) {
    return is_ascii_letter(p[-1]) && (p - 1 == word_start || (p - 2 >= word_start && p[-2] == '.')) &&
           p + 1 < end && is_ascii_letter(p[1]) &&
           (p + 2 == end || p[2] >= 0x80 || !ascii_fold[p[2]]);
}


/* A '.' or ',' at p between two digits is inside a number. A comma
 * followed by exactly three digits groups thousands and goes ("1,000" ->
 * 1000); any other comma is a decimal comma and becomes a dot ("3,14" ->
 * 3.14, as in French, German, Turkish...); a dot stays. True for the
 * comma that goes. */
static inline bool is_thousands_comma(const uint8_t *p, const uint8_t *end) {
    if (*p != ',') return false;
    size_t d = 1;
    while (d <= 4 && p + d < end && p[d] >= '0' && p[d] <= '9') d++;
    return d == 4;
}

/* Skips what follows a Turkish apostrophe from q: Turkish writes case
 * suffixes of names after one (İzmir’de, İstanbul’daki), and the suffix is
 * not part of the word, as in Lucene's Turkish analyzer. Returns the end of
 * the suffix. */
static const uint8_t *skip_suffix(newsidx_analyzer *a, const uint8_t *q, const uint8_t *end) {
    const uint8_t *r = q;
    for (;;) {
        size_t l;
        int k = class_at(a, r, end, &l);
        if (k == NX_CLS_WORD || k == NX_CLS_MARK || k == NX_CLS_IGNORABLE) {
            r += l;
        } else if (k == NX_CLS_APOS) {
            size_t l2;
            int k2 = class_at(a, r + l, end, &l2);
            if (k2 != NX_CLS_WORD && k2 != NX_CLS_MARK) break;
            r += l;
        } else {
            return r;
        }
    }
    return r;
}

/* An apostrophe inside a word at p, q just past it. It is inside the word
 * only when a letter or digit follows; a final 's is possessive and
 * dropped. Returns where the scan goes on; *word_ends tells whether the
 * word ended (before the apostrophe: its end stays where it was). */
static inline const uint8_t *past_apostrophe(newsidx_analyzer *a, const uint8_t *p,
                                             const uint8_t *q, const uint8_t *end,
                                             bool *word_ends) {
    *word_ends = true;
    size_t l1;
    int next = class_at(a, q, end, &l1);
    if (next != NX_CLS_WORD && next != NX_CLS_MARK) return p;
    if (a->suffix_apostrophe) return skip_suffix(a, q, end);
    if (*q == 's' || *q == 'S') {
        size_t l2;
        int after = class_at(a, q + 1, end, &l2);
        if (after != NX_CLS_WORD && after != NX_CLS_MARK && after != NX_CLS_IGNORABLE)
            return q + 1;
    }
    *word_ends = false;
    return q;
}

/* Scans one non-CJK word starting at *pp (a word or mark code point) and
 * emits its term. On return *pp is past the word. */
static int scan_word(newsidx_analyzer *a, const uint8_t *base, const uint8_t **pp,
                     const uint8_t *end, uint32_t *pos, newsidx_token_fn fn, void *ctx) {
    const uint8_t *p = *pp;
    const uint8_t *word_start = p, *word_end = p;
    uint8_t *term = a->term;
    size_t n = 0;
    bool too_long = false;
    uint8_t scratch[NX_FOLD_CP_MAX_BYTES];

    for (;;) {
#if defined(__SSE2__)
        /* ASCII letters and digits 16 bytes at a time: the run's length
         * from a compare mask instead of a byte loop, whose exit at each
         * word end was a mispredicted branch (a sixth of indexing). Same
         * result as the byte loop below, which finishes near the end of
         * the input or of the term buffer. */
        while (end - p >= 16 && n + 16 <= MAX_TERM) {
            unsigned run = nx_ascii_run16(p, term + n);
            n += run;
            p += run;
            if (run < 16) break;
        }
#endif
        /* The hot loop: ASCII letters and digits. */
        while (p < end && ascii_fold[*p]) {
            if (NX_LIKELY(n < MAX_TERM))
                term[n++] = ascii_fold[*p];
            else
                too_long = true;
            p++;
        }
        word_end = p > word_end ? p : word_end;
        if (p >= end) break;

        uint8_t c = *p;
        size_t apos_len = 0;
        if (c < 0x80) {
            if (c == '\'') {
                apos_len = 1;
            } else if ((c == '.' || c == ',') && p > word_start && p[-1] >= '0' &&
                       p[-1] <= '9' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
                if (!is_thousands_comma(p, end)) {
                    if (NX_LIKELY(n < MAX_TERM))
                        term[n++] = '.';
                    else
                        too_long = true;
                }
                p++;
                continue;
            } else if (c == '.' && is_acronym_dot(p, word_start, end)) {
                /* U.S. -> us, U.N. -> un, e.g. -> eg: letters alone
                 * between dots are one word, as users type it without. */
                p++;
                continue;
            } else {
                break;
            }
        } else {
            int32_t cp;
            size_t l = nx_utf8_decode(p, end, &cp);
            if (cp < 0) break;
            const uint8_t *f;
            size_t fl;
            int cls = lookup_cp(a, cp, &f, &fl, scratch);
            if (cls == NX_CLS_WORD || cls == NX_CLS_MARK) {
                if (NX_LIKELY(n + fl <= MAX_TERM)) {
                    memcpy(term + n, f, fl);
                    n += fl;
                } else {
                    too_long = true;
                }
                p += l;
                word_end = p;
                continue;
            }
            if (cls == NX_CLS_IGNORABLE) {
                p += l;
                continue;
            }
            if (cls != NX_CLS_APOS) break;
            apos_len = l;
        }

        /* An apostrophe: the word goes on past it, or ends before it. */
        const uint8_t *q = p + apos_len;
        bool word_ends;
        p = past_apostrophe(a, p, q, end, &word_ends);
        if (word_ends) break;
        if (!too_long && is_elision(term, n)) { /* l’Afrique: the word starts anew */
            n = 0;
            word_start = q;
        }
    }

    *pp = p;
    int rc = 0;
    if (too_long) {
        /* Dropped, but it was a word: phrases around it keep their gap. */
        *pos = next_pos(*pos);
    } else if (n > 0) {
        rc = emit_word(a, term, n, *pos, (size_t)(word_start - base),
                       (size_t)(word_end - base), fn, ctx);
        *pos = next_pos(*pos);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* CJK runs -> overlapping bigrams                                          */
/* ------------------------------------------------------------------------ */

/* Folds a character with its marks (dakuten written apart compose). */
static void cjk_unit_fold(const uint8_t *base, cjk_unit *u) {
    const uint8_t *src = base + u->start;
    size_t n = nx_nfkc_fold(src, u->fold_src_end - u->start, u->bytes, CJK_UNIT_MAX_BYTES);
    if (n) {
        u->len = (uint8_t)n;
        return;
    }
    /* Not expected for real text; keep the base character as written. */
    int32_t cp;
    size_t l = nx_utf8_decode(src, base + u->fold_src_end, &cp);
    memcpy(u->bytes, src, l);
    u->len = (uint8_t)l;
}

static int emit_cjk(newsidx_analyzer *a, const cjk_unit *first, const cjk_unit *second,
                    uint32_t pos, newsidx_token_fn fn, void *ctx) {
    size_t n = first->len;
    memcpy(a->cjk_term, first->bytes, first->len);
    if (second) {
        memcpy(a->cjk_term + n, second->bytes, second->len);
        n += second->len;
    }
    if (n > MAX_TERM) return 0; /* cannot happen: 2 * 48 > 64 only with mark floods */
    newsidx_token t = {(const char *)a->cjk_term, n, pos, first->start,
                       second ? second->end : first->end};
    return fn(ctx, &t);
}

/* Scans a run of CJK characters starting at *pp. */
static int scan_cjk(newsidx_analyzer *a, const uint8_t *base, const uint8_t **pp,
                    const uint8_t *end, uint32_t *pos, newsidx_token_fn fn, void *ctx) {
    const uint8_t *p = *pp;
    cjk_unit units[2];
    cjk_unit *prev = NULL, *cur = NULL;
    size_t n_units = 0;
    uint8_t scratch[NX_FOLD_CP_MAX_BYTES];
    int rc = 0;

    while (p < end) {
        if (*p < 0x80) break;
        int32_t cp;
        size_t l = nx_utf8_decode(p, end, &cp);
        if (cp < 0) break;
        const uint8_t *f;
        size_t fl;
        int cls = lookup_cp(a, cp, &f, &fl, scratch);
        if (cls == NX_CLS_MARK && cur) {
            cur->folded = false;
            cur->end = (size_t)(p + l - base);
            if (cur->n_cps < CJK_UNIT_MAX_CPS) {
                cur->n_cps++;
                cur->fold_src_end = cur->end;
            }
            p += l;
            continue;
        }
        if (cls != NX_CLS_CJK) break;
        /* A new character: the current one is complete. */
        if (cur) {
            if (!cur->folded) cjk_unit_fold(base, cur);
            if (prev) {
                rc = emit_cjk(a, prev, cur, *pos, fn, ctx);
                *pos = next_pos(*pos);
                if (rc) return rc;
            }
            prev = cur;
        }
        cur = &units[n_units++ & 1];
        cur->start = (size_t)(p - base);
        cur->end = cur->fold_src_end = cur->start + l;
        cur->n_cps = 1;
        cur->folded = fl <= CJK_UNIT_MAX_BYTES;
        if (cur->folded) {
            memcpy(cur->bytes, f, fl);
            cur->len = (uint8_t)fl;
        }
        p += l;
    }
    *pp = p;
    if (!cur) return 0;
    if (!cur->folded) cjk_unit_fold(base, cur);
    if (prev)
        rc = emit_cjk(a, prev, cur, *pos, fn, ctx);
    else
        rc = emit_cjk(a, cur, NULL, *pos, fn, ctx);
    *pos = next_pos(*pos);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

/* What follows a separator byte or a plain word: a word scanned in full
 * or a CJK run (start: the byte at *pp). Returns 0 or the callback's
 * value. */
static inline int analyze_other(newsidx_analyzer *a, const uint8_t *base, const uint8_t **pp,
                                const uint8_t *end, uint32_t *pos, newsidx_token_fn fn,
                                void *ctx) {
    const uint8_t *p = *pp;
    if (*p < 0x80) {
        if (!ascii_fold[*p]) {
            *pp = p + 1;
            return 0;
        }
        return scan_word(a, base, pp, end, pos, fn, ctx);
    }
    int32_t cp;
    size_t l = nx_utf8_decode(p, end, &cp);
    if (cp < 0) {
        *pp = p + 1;
        return 0;
    }
    const uint8_t *f;
    size_t fl;
    uint8_t scratch[NX_FOLD_CP_MAX_BYTES];
    int cls = lookup_cp(a, cp, &f, &fl, scratch);
    if (cls == NX_CLS_WORD || cls == NX_CLS_MARK) return scan_word(a, base, pp, end, pos, fn, ctx);
    if (cls == NX_CLS_CJK) return scan_cjk(a, base, pp, end, pos, fn, ctx);
    *pp = p + l;
    return 0;
}

int nx_analyze_step(newsidx_analyzer *a, const char *text, size_t len, size_t *off,
                    uint32_t *pos, newsidx_token_fn fn, void *ctx) {
    const uint8_t *base = (const uint8_t *)text, *p = base + *off;
    int rc = analyze_other(a, base, &p, base + len, pos, fn, ctx);
    *off = (size_t)(p - base);
    return rc;
}

bool nx_analyzer_plain(const newsidx_analyzer *a) { return a->n_stops == 0 && !a->stemmer; }

/* Keeps the message of a stopped newsidx_analyze in the analyzer: the
 * stemmer's lack of memory, or the callback's own value. */
static int analyze_failed(newsidx_analyzer *a, int rc) {
    if (rc == NEWSIDX_ERR_NOMEM)
        nx_err_set(&a->err, rc, "newsidx_analyze: out of memory (stemmer)");
    else
        nx_err_set(&a->err, rc, "newsidx_analyze: stopped by the token callback (it returned %d)", rc);
    return rc;
}

int newsidx_analyze(newsidx_analyzer *a, const char *text, size_t len,
                    newsidx_token_fn fn, void *ctx) {
    if (!a || !fn || (!text && len)) {
        if (a) nx_err_set(&a->err, NEWSIDX_ERR_INVALID, "newsidx_analyze: %s",
                          !fn ? "no callback" : "NULL text with a length");
        return NEWSIDX_ERR_INVALID;
    }
    a->err.code = 0;
    a->err.msg[0] = '\0';
    const uint8_t *base = (const uint8_t *)text;
    const uint8_t *p = base, *end = base + len;
    uint32_t pos = 0;
    while (p < end) {
        uint8_t c = *p;
        if (c < 0x80 && !ascii_fold[c]) {
            p++;
            continue;
        }
#if defined(__SSE2__)
        /* a plain word without scan_word's call and its checks at the
         * word's end */
        if (c < 0x80 && end - p >= 16) {
            unsigned run = nx_plain_word16(p, a->term);
            if (run) {
                size_t start = (size_t)(p - base);
                p += run;
                int rc = emit_word(a, a->term, run, pos, start, start + run, fn, ctx);
                pos = next_pos(pos);
                if (rc) return analyze_failed(a, rc);
                continue;
            }
        }
#endif
        int rc = analyze_other(a, base, &p, end, &pos, fn, ctx);
        if (rc) return analyze_failed(a, rc);
    }
    return NEWSIDX_OK;
}

void newsidx_analyzer_options_init(newsidx_analyzer_options *opts) {
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
}

/* Collects folded stopwords while the list is loaded. */
typedef struct stop_loader {
    nx_buf text;
    bool first;
} stop_loader;

static int collect_first_term(void *ctx, const newsidx_token *t) {
    stop_loader *l = ctx;
    if (!l->first) return 0;
    l->first = false;
    return nx_buf_append(&l->text, t->term, t->term_len);
}

static int load_stopwords(newsidx_analyzer *a, const nx_stopword_list *list) {
    size_t n_words = 0;
    while (list->words[n_words]) n_words++;
    if (n_words > STOP_MAX_WORDS) return NEWSIDX_ERR_LIMIT; /* our lists are far shorter */
    a->stops = calloc(n_words ? n_words : 1, sizeof *a->stops);
    if (!a->stops) return NEWSIDX_ERR_NOMEM;
    stop_loader l = {{0}, false};
    size_t n = 0;
    for (size_t i = 0; i < n_words; i++) {
        /* The analyzer has no stopwords and no stemmer yet: this is the
         * plain fold of the word. */
        l.first = true;
        size_t before = l.text.len;
        int rc = newsidx_analyze(a, list->words[i], strlen(list->words[i]),
                                 collect_first_term, &l);
        if (rc) {
            nx_buf_free(&l.text);
            return rc;
        }
        if (l.text.len == before) continue;
        a->stops[n].offset = (uint32_t)before;
        a->stops[n].len = (uint32_t)(l.text.len - before);
        n++;
    }
    a->stop_text = (char *)l.text.data; /* owned by the analyzer now */
    if (!a->stop_text) a->stop_text = calloc(1, 1);
    if (!a->stop_text) return NEWSIDX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *w = (const uint8_t *)a->stop_text + a->stops[i].offset;
        if (is_stopword(a, w, a->stops[i].len)) continue; /* two spellings, one fold */
        uint32_t slot = term_hash(w, a->stops[i].len) & (STOP_SLOTS - 1);
        while (a->stop_slots[slot] >= 0) slot = (slot + 1) & (STOP_SLOTS - 1);
        a->stop_slots[slot] = (int16_t)i;
    }
    a->n_stops = n;
    return NEWSIDX_OK;
}

/* libstemmer's names are lowercase ("english", "fr"); accept any case. */
static void lowercase_name(const char *in, char *out, size_t cap) {
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
    out[i] = 0;
}

/* libstemmer's languages with the ISO 639 codes it also takes (its
 * modules.txt): the first name of each row is the one sb_stemmer_list()
 * gives. */
static const char *const stem_aliases[][5] = {
    {"arabic", "ar", "ara"},         {"armenian", "hy", "hye", "arm"},
    {"basque", "eu", "eus", "baq"},  {"catalan", "ca", "cat"},
    {"danish", "da", "dan"},         {"dutch", "nl", "dut", "nld"},
    {"english", "en", "eng"},        {"estonian", "et", "est"},
    {"finnish", "fi", "fin"},        {"french", "fr", "fre", "fra"},
    {"german", "de", "ger", "deu"},  {"greek", "el", "gre", "ell"},
    {"hindi", "hi", "hin"},          {"hungarian", "hu", "hun"},
    {"indonesian", "id", "ind"},     {"irish", "ga", "gle"},
    {"italian", "it", "ita"},        {"lithuanian", "lt", "lit"},
    {"nepali", "ne", "nep"},         {"norwegian", "no", "nor"},
    {"portuguese", "pt", "por"},     {"romanian", "ro", "rum", "ron"},
    {"russian", "ru", "rus"},        {"serbian", "sr", "srp"},
    {"spanish", "es", "esl", "spa"}, {"swedish", "sv", "swe"},
    {"tamil", "ta", "tam"},          {"turkish", "tr", "tur"},
    {"yiddish", "yi", "yid"},
};

/* The language's name for a stemming setting, lowercase, in out ("" for
 * none; a name the table does not know stays as it is, lowercased). */
static void stem_name(const char *in, char *out, size_t cap) {
    out[0] = 0;
    if (!in || !*in || strcasecmp(in, "none") == 0) return;
    lowercase_name(in, out, cap);
    for (size_t i = 0; i < sizeof stem_aliases / sizeof *stem_aliases; i++)
        for (size_t k = 0; k < 5 && stem_aliases[i][k]; k++)
            if (strcmp(out, stem_aliases[i][k]) == 0) {
                snprintf(out, cap, "%s", stem_aliases[i][0]);
                return;
            }
}

bool nx_same_stemmer(const char *a, const char *b) {
    char x[64], y[64];
    stem_name(a, x, sizeof x);
    stem_name(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

bool nx_same_stopwords(const char *a, const char *b) {
    bool none_a = !a || !*a || strcasecmp(a, "none") == 0;
    bool none_b = !b || !*b || strcasecmp(b, "none") == 0;
    if (none_a || none_b) return none_a == none_b;
    const nx_stopword_list *la = nx_stopwords_find(a), *lb = nx_stopwords_find(b);
    return la || lb ? la == lb : strcasecmp(a, b) == 0;
}

/* Builds the analyzer; on failure err says why. */
static int analyzer_create(const newsidx_analyzer_options *opts, nx_err *err,
                           newsidx_analyzer **out) {
    if (!out) return nx_err_set(err, NEWSIDX_ERR_INVALID, "analyzer: no out-parameter");
    *out = NULL;
    newsidx_analyzer_options o;
    newsidx_analyzer_options_init(&o);
    if (opts) {
        NX_FORWARD(nx_options_copy(&o, sizeof o, opts, "analyzer", err));
    }
    const nx_stopword_list *stops = NULL;
    if (o.stopwords_language && o.stopwords_language[0]) {
        stops = nx_stopwords_find(o.stopwords_language);
        if (!stops)
            return nx_err_set(err, NEWSIDX_ERR_UNSUPPORTED, "no stopword list for '%s'",
                              o.stopwords_language);
    }
    newsidx_analyzer *a = calloc(1, sizeof *a);
    if (!a) return nx_err_set(err, NEWSIDX_ERR_NOMEM, "analyzer: out of memory");
    for (size_t i = 0; i < FOLD_CACHE_SIZE; i++) a->cache[i].cp = -1;
    for (size_t i = 0; i < STOP_SLOTS; i++) a->stop_slots[i] = -1;
    if (o.stem_language && o.stem_language[0]) {
        char name[64];
        if (strlen(o.stem_language) >= sizeof name) {
            free(a);
            return nx_err_set(err, NEWSIDX_ERR_UNSUPPORTED, "no stemmer for '%.64s...'",
                              o.stem_language);
        }
        lowercase_name(o.stem_language, name, sizeof name);
        a->suffix_apostrophe = strcmp(name, "turkish") == 0 || strcmp(name, "tr") == 0 ||
                               strcmp(name, "tur") == 0;
        a->stemmer = sb_stemmer_new(name, "UTF_8");
        if (!a->stemmer) {
            /* NULL means unknown language or out of memory; a name from the
             * list can only fail for lack of memory. */
            int rc = NEWSIDX_ERR_UNSUPPORTED;
            for (const char **l = sb_stemmer_list(); *l; l++)
                if (strcmp(*l, name) == 0) rc = NEWSIDX_ERR_NOMEM;
            free(a);
            return rc == NEWSIDX_ERR_NOMEM
                       ? nx_err_set(err, rc, "analyzer: out of memory creating the stemmer")
                       : nx_err_set(err, rc, "no stemmer for '%s' (newsidx_stem_languages() lists them)",
                                    o.stem_language);
        }
        a->stem_cache = calloc(STEM_CACHE_SLOTS, sizeof *a->stem_cache);
        if (!a->stem_cache) {
            newsidx_analyzer_free(a);
            return nx_err_set(err, NEWSIDX_ERR_NOMEM, "analyzer: out of memory");
        }
    }
    if (stops) {
        /* Fold the list without the stemmer: stopwords are matched before
         * stemming. */
        struct sb_stemmer *stemmer = a->stemmer;
        a->stemmer = NULL;
        int rc = load_stopwords(a, stops);
        a->stemmer = stemmer;
        if (rc) {
            newsidx_analyzer_free(a);
            return nx_err_set(err, rc, "analyzer: cannot load the stopwords (%s)",
                              newsidx_strerror(rc));
        }
    }
    *out = a;
    return NEWSIDX_OK;
}

int newsidx_analyzer_create(const newsidx_analyzer_options *opts, newsidx_analyzer **out) {
    return analyzer_create(opts, NULL, out);
}

int newsidx_analyzer_create_v2(const newsidx_analyzer_options *opts, char *errbuf,
                               size_t errbuf_size, newsidx_analyzer **out) {
    nx_err err = {0};
    int rc = analyzer_create(opts, &err, out);
    if (errbuf && errbuf_size) errbuf[0] = '\0';
    if (rc) nx_err_copy(&err, errbuf, errbuf_size);
    return rc;
}

const char *newsidx_analyzer_errmsg(const newsidx_analyzer *a) { return a ? a->err.msg : ""; }

void newsidx_analyzer_free(newsidx_analyzer *a) {
    if (!a) return;
    sb_stemmer_delete(a->stemmer);
    free(a->stops);
    free(a->stop_text);
    free(a->stem_cache);
    free(a);
}

const char *const *newsidx_stem_languages(void) {
    return (const char *const *)sb_stemmer_list();
}

/* ------------------------------------------------------------------------ */
/* Folding without splitting (query prefixes and fuzzy words)               */
/* ------------------------------------------------------------------------ */

int nx_fold_text(const char *text, size_t len, char *out, size_t out_cap,
                 size_t *out_len) {
    const uint8_t *p = (const uint8_t *)text, *end = p + len;
    size_t n = 0;
    int rc = NEWSIDX_OK;
    uint8_t folded[NX_FOLD_CP_MAX_BYTES + 4 * CJK_UNIT_MAX_CPS];
    while (p < end) {
        int32_t cp;
        size_t l = nx_utf8_decode(p, end, &cp);
        p += l;
        if (cp < 0) continue;
        size_t fl = 0;
        if (cp < 0x80) {
            if (ascii_fold[cp]) folded[fl++] = ascii_fold[cp];
        } else {
            int cls = nx_classify_cp(cp);
            if (cls == NX_CLS_WORD || cls == NX_CLS_MARK) {
                fl = nx_fold_cp(cp, folded);
            } else if (cls == NX_CLS_CJK) {
                /* The character with its following marks, NFKC as in runs. */
                cjk_unit u = {0};
                u.start = (size_t)(p - l - (const uint8_t *)text);
                u.end = u.fold_src_end = u.start + l;
                while (p < end) {
                    int32_t m;
                    size_t ml = nx_utf8_decode(p, end, &m);
                    if (m < 0x80 || nx_classify_cp(m) != NX_CLS_MARK) break;
                    p += ml;
                    u.end = (size_t)(p - (const uint8_t *)text);
                    if (++u.n_cps <= CJK_UNIT_MAX_CPS) u.fold_src_end = u.end;
                }
                cjk_unit_fold((const uint8_t *)text, &u);
                memcpy(folded, u.bytes, u.len);
                fl = u.len;
            }
        }
        if (n + fl > out_cap) {
            rc = NEWSIDX_ERR_LIMIT;
            break;
        }
        memcpy(out + n, folded, fl);
        n += fl;
    }
    if (out_len) *out_len = n;
    return rc;
}
