/* analysis/fold.h — classes and folded forms of single non-ASCII code
 * points (fold.c), what the analyzer's per-analyzer cache (analyzer.c)
 * stores and asks for on a miss. The rules are in docs/ANALYSIS.md. */
#ifndef NX_FOLD_H
#define NX_FOLD_H

#include <stddef.h>
#include <stdint.h>

/* Classes of a code point, as the word scanner sees it. */
enum {
    NX_CLS_SEP = 0,    /* separator: space, punctuation, symbols, invalid UTF-8 */
    NX_CLS_WORD,       /* letter or digit outside the CJK scripts */
    NX_CLS_MARK,       /* combining mark (category M*) */
    NX_CLS_CJK,        /* letter of the Han, Hiragana, Katakana or Hangul scripts */
    NX_CLS_APOS,       /* apostrophe: ' U+2019 U+02BC */
    NX_CLS_IGNORABLE,  /* soft hyphen, zero-width (non-)joiner, word joiner, BOM */
};

/* The longest folded form of one code point: compatibility decompositions
 * reach 18 code points (U+FDFA), each at most 4 bytes. */
#define NX_FOLD_CP_MAX_CPS 32
#define NX_FOLD_CP_MAX_BYTES (NX_FOLD_CP_MAX_CPS * 4)

/* Code points nx_nfkc_fold can hold while it composes: 4 for each of the
 * 16 code points of the longest CJK unit the analyzer folds. */
#define NX_NFKC_MAX_CPS 64

/* The class (NX_CLS_*) of a non-ASCII code point by its Unicode category
 * and block (the scanner classifies ASCII bytes itself: the ASCII
 * apostrophe, for one, is punctuation here). */
int nx_classify_cp(int32_t cp);

/* Folds one word code point (NX_CLS_WORD or NX_CLS_MARK) into out (room
 * for NX_FOLD_CP_MAX_BYTES): compatibility decomposition + case fold,
 * diacritics removed, stroke letters mapped, anything that is no longer a
 * letter, mark or digit (the fraction slash of ½, spaces of U+FDFA)
 * dropped. Returns the bytes written (0: nothing is left). */
size_t nx_fold_cp(int32_t cp, uint8_t *out);

/* NFKC + case fold of valid UTF-8 src into out (cap bytes): the folding of
 * CJK characters. Returns the bytes written, or 0 when the result does not
 * fit (not expected for real text). */
size_t nx_nfkc_fold(const uint8_t *src, size_t len, uint8_t *out, size_t cap);

/* The folded form of cp by its class cls: nx_fold_cp for words and marks,
 * NFKC for a lone CJK character (as written when NFKC fails), nothing for
 * the other classes. out has room for NX_FOLD_CP_MAX_BYTES. */
size_t nx_fold_by_class(int cls, int32_t cp, uint8_t *out);

#endif
