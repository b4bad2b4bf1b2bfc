/* fold.c — classes and folded forms of single code points (fold.h), built
 * on utf8proc's categories and decompositions. Only cache misses of the
 * analyzer and query-side folding come here, so nothing in this file is on
 * the per-byte path. docs/ANALYSIS.md states the rules. */
#include "analysis/analysis.h"
#include "analysis/fold.h"

#include <utf8proc.h>

#include <string.h>

/* Scripts that write words without spaces (or, for Hangul, that Lucene's
 * CJK analyzer treats alike): Unicode blocks, since utf8proc has no script
 * property. Only letters (category L*, Nl) of these blocks count. */
static bool is_cjk_block(int32_t cp) {
    return (cp >= 0x1100 && cp <= 0x11ff) ||   /* Hangul Jamo */
           (cp >= 0x2e80 && cp <= 0x2fdf) ||   /* CJK and Kangxi radicals */
           (cp >= 0x3000 && cp <= 0x31ff) ||   /* CJK symbols (々 〆 〇), kana, bopomofo, compat jamo */
           (cp >= 0x3400 && cp <= 0x4dbf) ||   /* CJK extension A */
           (cp >= 0x4e00 && cp <= 0x9fff) ||   /* CJK unified ideographs */
           (cp >= 0xa960 && cp <= 0xa97f) ||   /* Hangul Jamo extended A */
           (cp >= 0xac00 && cp <= 0xd7ff) ||   /* Hangul syllables, Jamo extended B */
           (cp >= 0xf900 && cp <= 0xfaff) ||   /* CJK compatibility ideographs */
           (cp >= 0xff66 && cp <= 0xffdc) ||   /* half-width katakana and Hangul */
           (cp >= 0x1b000 && cp <= 0x1b16f) || /* kana supplement and extensions */
           (cp >= 0x20000 && cp <= 0x3ffff);   /* CJK extensions B.. */
}

int nx_classify_cp(int32_t cp) {
    switch (cp) {
    case 0x2019: /* RIGHT SINGLE QUOTATION MARK, the typographic apostrophe */
    case 0x02bc: /* MODIFIER LETTER APOSTROPHE */
        return NX_CLS_APOS;
    case 0x00ad: /* soft hyphen: invisible, must not split "infor-mation" */
    case 0x200c: /* zero-width non-joiner */
    case 0x200d: /* zero-width joiner */
    case 0x2060: /* word joiner */
    case 0xfeff: /* zero-width no-break space / BOM */
        return NX_CLS_IGNORABLE;
    case 0xff9e: /* half-width katakana (semi-)voiced sound marks: they */
    case 0xff9f: /* are Lm but combine like U+3099/U+309A */
        return NX_CLS_MARK;
    default:
        break;
    }
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
        return is_cjk_block(cp) ? NX_CLS_CJK : NX_CLS_WORD;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NO:
        return NX_CLS_WORD;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return NX_CLS_MARK;
    default:
        return NX_CLS_SEP;
    }
}

/* Diacritics, removed after decomposition: the generic combining blocks,
 * Hebrew points and Arabic harakat. Marks that are letters of their script
 * (Indic vowel signs and viramas, Thai vowels, kana voicing marks) are kept:
 * removing them would merge unrelated words. */
static bool is_stripped_mark(int32_t cp) {
    return (cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
           (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
           (cp >= 0xfe20 && cp <= 0xfe2f) || (cp >= 0x0591 && cp <= 0x05c7) ||
           (cp >= 0x0610 && cp <= 0x061a) || (cp >= 0x064b && cp <= 0x065f) ||
           cp == 0x0670 || (cp >= 0x06d6 && cp <= 0x06ed);
}

/* Latin letters whose diacritic is part of the glyph, so no Unicode
 * decomposition removes it; folded as a search user expects (ASCII forms).
 * Applied after case folding, so lowercase only. Returns the ASCII
 * replacement (1 or 2 bytes) or NULL. */
static const char *fold_stroke_letter(int32_t cp) {
    switch (cp) {
    case 0x0131: return "i";  /* ı dotless i (Turkish) */
    case 0x0237: return "j";  /* ȷ dotless j */
    case 0x00f8: return "o";  /* ø */
    case 0x0111: return "d";  /* đ (Vietnamese, Croatian) */
    case 0x00f0: return "d";  /* ð */
    case 0x0142: return "l";  /* ł */
    case 0x0127: return "h";  /* ħ */
    case 0x0167: return "t";  /* ŧ */
    case 0x0180: return "b";  /* ƀ */
    case 0x00fe: return "th"; /* þ */
    case 0x00e6: return "ae"; /* æ */
    case 0x0153: return "oe"; /* œ */
    default: return NULL;
    }
}

size_t nx_fold_cp(int32_t cp, uint8_t *out) {
    utf8proc_int32_t cps[NX_FOLD_CP_MAX_CPS];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(
        cp, cps, NX_FOLD_CP_MAX_CPS,
        UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD, &boundclass);
    if (n < 0 || n > NX_FOLD_CP_MAX_CPS) return 0; /* cannot happen with Unicode 15 */
    size_t len = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t d = cps[i];
        if (d < 0x80) {
            if (nx_ascii_alnum((uint8_t)d)) out[len++] = (uint8_t)(d | 0x20); /* lowercase */
            continue;
        }
        if (is_stripped_mark(d)) continue;
        const char *s = fold_stroke_letter(d);
        if (s) {
            while (*s) out[len++] = (uint8_t)*s++;
            continue;
        }
        int cls = nx_classify_cp(d);
        if (cls == NX_CLS_WORD || cls == NX_CLS_MARK || cls == NX_CLS_CJK)
            len += nx_utf8_encode(d, out + len);
    }
    return len;
}

size_t nx_nfkc_fold(const uint8_t *src, size_t len, uint8_t *out, size_t cap) {
    utf8proc_int32_t cps[NX_NFKC_MAX_CPS];
    const utf8proc_option_t opts = UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD;
    utf8proc_ssize_t n =
        utf8proc_decompose(src, (utf8proc_ssize_t)len, cps, NX_NFKC_MAX_CPS, opts);
    if (n <= 0 || n > NX_NFKC_MAX_CPS) return 0;
    n = utf8proc_reencode(cps, n, opts); /* composes, then UTF-8 in place */
    if (n <= 0 || (size_t)n > cap) return 0;
    memcpy(out, cps, (size_t)n);
    return (size_t)n;
}

/* Folded form of a lone CJK character (out: NX_FOLD_CP_MAX_BYTES). */
static size_t fold_cjk_cp(int32_t cp, uint8_t *out) {
    uint8_t src[4];
    size_t l = nx_utf8_encode(cp, src);
    size_t n = nx_nfkc_fold(src, l, out, NX_FOLD_CP_MAX_BYTES);
    if (n) return n;
    memcpy(out, src, l);
    return l;
}

size_t nx_fold_by_class(int cls, int32_t cp, uint8_t *out) {
    if (cls == NX_CLS_WORD || cls == NX_CLS_MARK) return nx_fold_cp(cp, out);
    if (cls == NX_CLS_CJK) return fold_cjk_cp(cp, out);
    return 0;
}
