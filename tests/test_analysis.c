/* Check suite of lib/analysis: what a word is, folding, apostrophes,
 * hyphens, numbers, CJK bigrams, offsets, stemming, stopwords, limits.
 * The rules under test are written down in docs/ANALYSIS.md. */
#include "analysis/analysis.h"
#include "newsidx.h"

#include "common.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* ---- helpers ------------------------------------------------------------ */

typedef struct tok {
    char term[NEWSIDX_MAX_TERM_BYTES + 1];
    size_t term_len;
    uint32_t position;
    size_t start, end;
} tok;

typedef struct toks {
    tok *v;
    size_t n, cap;
    size_t stop_after; /* 0: never stop */
} toks;

static int collect(void *ctx, const newsidx_token *t) {
    toks *ts = ctx;
    ck_assert_uint_ge(t->term_len, 1);
    ck_assert_uint_le(t->term_len, NEWSIDX_MAX_TERM_BYTES);
    if (ts->n == ts->cap) {
        ts->cap = ts->cap ? ts->cap * 2 : 64;
        ts->v = realloc(ts->v, ts->cap * sizeof *ts->v);
        ck_assert_ptr_nonnull(ts->v);
    }
    tok *k = &ts->v[ts->n++];
    memcpy(k->term, t->term, t->term_len);
    k->term[t->term_len] = 0;
    k->term_len = t->term_len;
    k->position = t->position;
    k->start = t->start;
    k->end = t->end;
    if (ts->stop_after && ts->n == ts->stop_after) return 42;
    return 0;
}

static newsidx_analyzer *make(const char *stem, const char *stop) {
    newsidx_analyzer_options o;
    newsidx_analyzer_options_init(&o);
    o.stem_language = stem;
    o.stopwords_language = stop;
    newsidx_analyzer *a = NULL;
    ck_assert_int_eq(newsidx_analyzer_create(&o, &a), NEWSIDX_OK);
    ck_assert_ptr_nonnull(a);
    return a;
}

/* Analyzes a copy of text in a buffer of exactly len bytes, so that a read
 * past the end is caught by AddressSanitizer. */
static toks run_len(newsidx_analyzer *a, const char *text, size_t len) {
    toks ts = {0};
    char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len);
    ck_assert_int_eq(newsidx_analyze(a, copy, len, collect, &ts), NEWSIDX_OK);
    for (size_t i = 0; i < ts.n; i++) {
        ck_assert_uint_lt(ts.v[i].start, ts.v[i].end);
        ck_assert_uint_le(ts.v[i].end, len);
        if (i) ck_assert_uint_gt(ts.v[i].position, ts.v[i - 1].position);
    }
    free(copy);
    return ts;
}

static toks run(newsidx_analyzer *a, const char *text) {
    return run_len(a, text, strlen(text));
}

/* Terms joined by single spaces. */
static char *joined(const toks *ts) {
    size_t cap = 1;
    for (size_t i = 0; i < ts->n; i++) cap += ts->v[i].term_len + 1;
    char *s = malloc(cap), *p = s;
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < ts->n; i++) {
        if (i) *p++ = ' ';
        memcpy(p, ts->v[i].term, ts->v[i].term_len);
        p += ts->v[i].term_len;
    }
    *p = 0;
    return s;
}

#define ck_assert_terms(analyzer, text, expected)                               \
    do {                                                                       \
        toks ts_ = run((analyzer), (text));                                    \
        char *got_ = joined(&ts_);                                             \
        ck_assert_msg(strcmp(got_, (expected)) == 0, "%s: got [%s], want [%s]", \
                      (text), got_, (expected));                               \
        free(got_);                                                            \
        free(ts_.v);                                                           \
    } while (0)

/* Every token's source span, analyzed alone, gives back exactly that token:
 * the offsets point at the word and nothing else. */
static void check_offsets_round_trip(newsidx_analyzer *a, const char *text, size_t len) {
    toks ts = run_len(a, text, len);
    for (size_t i = 0; i < ts.n; i++) {
        const tok *k = &ts.v[i];
        toks one = run_len(a, text + k->start, k->end - k->start);
        ck_assert_msg(one.n == 1, "span [%zu,%zu) of '%s' gives %zu terms", k->start,
                      k->end, k->term, one.n);
        ck_assert_str_eq(one.v[0].term, k->term);
        ck_assert_uint_eq(one.v[0].start, 0);
        ck_assert_uint_eq(one.v[0].end, k->end - k->start);
        free(one.v);
    }
    free(ts.v);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* ---- UTF-8 -------------------------------------------------------------- */

START_TEST(test_utf8_decoder_accepts_valid_and_rejects_malformed_sequences) {
    static const struct {
        const char *bytes;
        size_t len;
        int32_t cp;
        size_t used;
    } cases[] = {
        {"A", 1, 'A', 1},
        {"\xc3\xa9", 2, 0xe9, 2},
        {"\xe2\x80\x99", 3, 0x2019, 3},
        {"\xf0\x9f\x98\x80", 4, 0x1f600, 4},
        {"\xf4\x8f\xbf\xbf", 4, 0x10ffff, 4},
        {"\xc0\xaf", 2, -1, 1},             /* overlong '/' */
        {"\xc1\xbf", 2, -1, 1},             /* overlong */
        {"\xe0\x80\xaf", 3, -1, 1},         /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", 4, -1, 1},     /* overlong, 4 bytes */
        {"\xed\xa0\x80", 3, -1, 1},         /* high surrogate */
        {"\xed\xbf\xbf", 3, -1, 1},         /* low surrogate */
        {"\xf4\x90\x80\x80", 4, -1, 1},     /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4, -1, 1},     /* invalid lead */
        {"\xff", 1, -1, 1},
        {"\x80", 1, -1, 1},                 /* stray continuation */
        {"\xc3", 1, -1, 1},                 /* truncated at end */
        {"\xe2\x80", 2, -1, 1},             /* truncated at end */
        {"\xf0\x9f\x98", 3, -1, 1},         /* truncated at end */
        {"\xe2\x28\xa1", 3, -1, 1},         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[4];
        memcpy(buf, cases[i].bytes, cases[i].len);
        int32_t cp = 0;
        size_t used = nx_utf8_decode(buf, buf + cases[i].len, &cp);
        ck_assert_msg(cp == cases[i].cp && used == cases[i].used,
                      "case %zu: cp %d used %zu", i, (int)cp, used);
    }
}
END_TEST

START_TEST(test_invalid_utf8_bytes_separate_words) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "abc\xff" "def", "abc def");
    ck_assert_terms(a, "a\xc0\xaf" "b", "a b");
    ck_assert_terms(a, "a\xe0\x80\xaf" "b", "a b");
    ck_assert_terms(a, "a\xed\xa0\x80" "b", "a b");
    ck_assert_terms(a, "a\xf4\x90\x80\x80" "b", "a b");
    ck_assert_terms(a, "\x80\x80" "ab\x80", "ab");
    ck_assert_terms(a, "ab\xe2\x80" "cd", "ab cd");
    ck_assert_terms(a, "caf\xc3", "caf");
    ck_assert_terms(a, "\xc3", "");
    /* An invalid byte inside a CJK run ends the run. */
    ck_assert_terms(a, "\xe6\x9d\xb1\xff\xe4\xba\xac", "\xe6\x9d\xb1 \xe4\xba\xac");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_nul_bytes_are_separators) {
    newsidx_analyzer *a = make(NULL, NULL);
    toks ts = run_len(a, "ab\0cd\0", 6);
    ck_assert_uint_eq(ts.n, 2);
    ck_assert_str_eq(ts.v[0].term, "ab");
    ck_assert_str_eq(ts.v[1].term, "cd");
    ck_assert_uint_eq(ts.v[1].start, 3);
    ck_assert_uint_eq(ts.v[1].end, 5);
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_truncated_sequence_at_every_cut_never_reads_past_the_end) {
    newsidx_analyzer *a = make(NULL, NULL);
    const char *text = "Traoré’s 東京 Ελλάδα 😀 x";
    size_t len = strlen(text);
    for (size_t cut = 0; cut <= len; cut++) {
        toks ts = run_len(a, text, cut);
        free(ts.v);
    }
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_random_bytes_give_well_formed_tokens) {
    newsidx_analyzer *a = make(NULL, NULL);
    /* Bytes drawn from a set rich in lead bytes, continuations, apostrophes,
     * digits and dots, to hit every branch of the scanner. */
    static const uint8_t alphabet[] = {
        'a', 'Z', '0', '9', '\'', '.', ',', '-', ' ', 0, 0x80, 0xbf, 0xc3, 0xa9,
        0xe2, 0x80, 0x99, 0xe6, 0x9d, 0xb1, 0xf0, 0x9f, 0xcc, 0x81, 0xed, 0xff,
        0xe3, 0x82, 0x99, 's',
    };
    unsigned seed = 12345;
    uint8_t buf[64];
    for (int iter = 0; iter < 20000; iter++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % sizeof alphabet];
        }
        /* run_len checks lengths, offsets in range and increasing positions. */
        toks ts = run_len(a, (const char *)buf, len);
        free(ts.v);
    }
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_empty_and_separator_only_texts_give_no_terms) {
    newsidx_analyzer *a = make(NULL, NULL);
    toks ts = {0};
    ck_assert_int_eq(newsidx_analyze(a, NULL, 0, collect, &ts), NEWSIDX_OK);
    ck_assert_uint_eq(ts.n, 0);
    ck_assert_terms(a, "", "");
    ck_assert_terms(a, " \t\n.,;:!?-–—()[]{}\"“”«»/\\@#$%^&*_+=<>|~`", "");
    ck_assert_terms(a, "\xcc\x81\xcc\x81", ""); /* marks alone fold to nothing */
    newsidx_analyzer_free(a);
}
END_TEST

/* ---- folding ------------------------------------------------------------ */

static const struct {
    const char *in, *out;
} folding_table[] = {
    /* Latin */
    {"Traoré", "traore"},
    {"TRAORE", "traore"},
    {"Trao" "re\xcc\x81", "traore"}, /* decomposed é (NFD) */
    {"Café", "cafe"},
    {"naïve", "naive"},
    {"Ångström", "angstrom"},
    {"Ñandú", "nandu"},
    {"crème", "creme"},
    {"FAÇADE", "facade"},
    {"Straße", "strasse"},
    {"STRASSE", "strasse"},
    {"GROẞ", "gross"},
    {"Zürich", "zurich"},
    {"Dvořák", "dvorak"},
    {"Škoda", "skoda"},
    {"Kraków", "krakow"},
    {"Łódź", "lodz"},
    {"Øresund", "oresund"},
    {"Þór", "thor"},
    {"Æsir", "aesir"},
    {"Œuvre", "oeuvre"},
    {"São", "sao"},
    {"Ħamrun", "hamrun"},
    {"Ĳssel", "ijssel"},
    {"Ǆemal", "dzemal"},
    /* Greek */
    {"Αθήνα", "αθηνα"},
    {"ΑΘΗΝΑ", "αθηνα"},
    {"Σωκράτης", "σωκρατησ"},
    {"ΣΩΚΡΆΤΗΣ", "σωκρατησ"},
    {"Ελλάδα", "ελλαδα"},
    {"προϊόν", "προιον"},
    {"ΐ", "ι"},
    /* Cyrillic */
    {"Москва", "москва"},
    {"МОСКВА", "москва"},
    {"Ёлка", "елка"},
    {"Київ", "киів"},
    {"Йошкар", "иошкар"},
    {"Путин", "путин"},
    /* Vietnamese */
    {"Việt", "viet"},
    {"Nguyễn", "nguyen"},
    {"Hà", "ha"},
    {"Nội", "noi"},
    {"Đà", "da"},
    {"Nẵng", "nang"},
    {"ĐẶNG", "dang"},
    {"Phở", "pho"},
    {"Huế", "hue"},
    {"Đức", "duc"},
    /* Turkish dotted and dotless i */
    {"İstanbul", "istanbul"},
    {"ISTANBUL", "istanbul"},
    {"ıslak", "islak"},
    {"Diyarbakır", "diyarbakir"},
    {"DİYARBAKIR", "diyarbakir"},
    {"Işık", "isik"},
    {"şehir", "sehir"},
    {"Çağrı", "cagri"},
    {"Gümüş", "gumus"},
    /* Ligatures */
    {"ﬁnance", "finance"},
    {"ﬂow", "flow"},
    {"oﬀer", "offer"},
    {"ﬃx", "ffix"},
    {"ﬆop", "stop"},
    /* Fullwidth and other compatibility forms */
    {"ＡＢＣ", "abc"},
    {"ｆｕｌｌ", "full"},
    {"２０２４", "2024"},
    {"Ｔｏｋｙｏ", "tokyo"},
    {"x²", "x2"},
    {"Ⅻ", "xii"},
    {"①", "1"},
    {"ℌilbert", "hilbert"},
};

START_TEST(test_folding_table) {
    newsidx_analyzer *a = make(NULL, NULL);
    size_t n = sizeof folding_table / sizeof folding_table[0];
    ck_assert_uint_ge(n, 60);
    for (size_t i = 0; i < n; i++) ck_assert_terms(a, folding_table[i].in, folding_table[i].out);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_folding_is_the_same_through_the_cache_and_without_it) {
    /* The second pass hits the per-analyzer cache; both must agree, and a
     * fresh analyzer must agree too. */
    newsidx_analyzer *a = make(NULL, NULL);
    size_t n = sizeof folding_table / sizeof folding_table[0];
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) ck_assert_terms(a, folding_table[i].in, folding_table[i].out);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_marks_of_scripts_that_write_vowels_as_marks_are_kept) {
    newsidx_analyzer *a = make(NULL, NULL);
    /* Hindi: the vowel sign and virama are letters of the word, not accents. */
    ck_assert_terms(a, "हिन्दी", "हिन्दी");
    /* Thai likewise. */
    ck_assert_terms(a, "ภาษาไทย", "ภาษาไทย");
    /* Arabic harakat are diacritics and go. */
    ck_assert_terms(a, "كَتَبَ", "كتب");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_soft_hyphen_and_zero_width_joiners_do_not_split_a_word) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "infor\xc2\xad" "mation", "information");
    ck_assert_terms(a, "ab\xe2\x80\x8d" "cd", "abcd");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_nx_fold_text_folds_without_splitting) {
    char out[64];
    size_t n = 0;
    const char *in = "Traoré’s-X";
    ck_assert_int_eq(nx_fold_text(in, strlen(in), out, sizeof out, &n), NEWSIDX_OK);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(memcmp(out, "traoresx", 8), 0);
    in = "ＡＢＣ東京";
    ck_assert_int_eq(nx_fold_text(in, strlen(in), out, sizeof out, &n), NEWSIDX_OK);
    ck_assert_uint_eq(n, 9);
    ck_assert_int_eq(memcmp(out, "abc\xe6\x9d\xb1\xe4\xba\xac", 9), 0);
    in = "abcdef";
    ck_assert_int_eq(nx_fold_text(in, strlen(in), out, 4, &n), NEWSIDX_ERR_LIMIT);
    ck_assert_uint_eq(n, 4);
}
END_TEST

/* ---- apostrophes, hyphens, numbers -------------------------------------- */

START_TEST(test_possessive_s_is_dropped_for_both_apostrophes) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "Putin’s Putin's PUTIN'S Putinʼs", "putin putin putin putin");
    ck_assert_terms(a, "Traoré’s government", "traore government");
    ck_assert_terms(a, "the 1990's", "the 1990");
    toks ts = run(a, "Putin’s pledge");
    ck_assert_uint_eq(ts.v[0].start, 0);
    ck_assert_uint_eq(ts.v[0].end, 5); /* the span is "Putin" */
    ck_assert_uint_eq(ts.v[1].position, 1);
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_other_apostrophes_join_the_word_and_are_removed) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "don't don’t dont", "dont dont dont");
    ck_assert_terms(a, "O'Brien", "obrien");
    ck_assert_terms(a, "rock'n'roll", "rocknroll");
    ck_assert_terms(a, "aujourd’hui", "aujourdhui");
    ck_assert_terms(a, "students' union", "students union");
    ck_assert_terms(a, "'quoted' ’curly’", "quoted curly");
    ck_assert_terms(a, "it's", "it");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_french_and_italian_elision_drops_the_article) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "l’Afrique l'Afrique L'AFRIQUE", "afrique afrique afrique");
    ck_assert_terms(a, "qu’il d’Artagnan jusqu’à", "il artagnan a");
    ck_assert_terms(a, "dell’Italia un’amica all'estero", "italia amica estero");
    toks ts = run(a, "l’Afrique");
    ck_assert_uint_eq(ts.v[0].start, strlen("l’"));
    ck_assert_uint_eq(ts.v[0].end, strlen("l’Afrique"));
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_acronyms_written_with_dots_are_one_word) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "U.S. troops, the U.N. and A.I.", "us troops the un and ai");
    ck_assert_terms(a, "e.g. i.e. U.S.-backed", "eg ie us backed");
    ck_assert_terms(a, "plan B.The end", "plan b the end");
    ck_assert_terms(a, "ab.cd a.bc ab.c", "ab cd a bc ab c");
    toks ts = run(a, "the U.S. economy");
    ck_assert_uint_eq(ts.v[1].start, 4);
    ck_assert_uint_eq(ts.v[1].end, 7); /* "U.S": the final dot ends the sentence or not */
    ck_assert_uint_eq(ts.v[2].position, 2);
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_hyphens_split_at_consecutive_positions) {
    newsidx_analyzer *a = make(NULL, NULL);
    toks ts = run(a, "Russia-Burkina Faso, Jean‐Paul—Sartre");
    const char *want[] = {"russia", "burkina", "faso", "jean", "paul", "sartre"};
    ck_assert_uint_eq(ts.n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_str_eq(ts.v[i].term, want[i]);
        ck_assert_uint_eq(ts.v[i].position, i);
    }
    ck_assert_uint_eq(ts.v[1].start, 7);
    ck_assert_uint_eq(ts.v[1].end, 14);
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_numbers_keep_decimal_points_and_drop_thousands_commas) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "2024", "2024");
    ck_assert_terms(a, "3.14", "3.14");
    ck_assert_terms(a, "1,000", "1000");
    ck_assert_terms(a, "1,000,000.50", "1000000.50");
    ck_assert_terms(a, "3,14 0,25 44,2 1,2345", "3.14 0.25 44.2 1.2345");
    ck_assert_terms(a, "1,0001 1,000.5", "1.0001 1000.5");
    ck_assert_terms(a, "in 2024. Then", "in 2024 then");
    ck_assert_terms(a, "12.5% of 10-15", "12.5 of 10 15");
    ck_assert_terms(a, "ab.c 1.x x.1 .5 5.", "ab c 1 x x 1 5 5");
    ck_assert_terms(a, "v2.0 mp3", "v2.0 mp3");
    toks ts = run(a, "cost 1,000 euros");
    ck_assert_uint_eq(ts.v[1].start, 5);
    ck_assert_uint_eq(ts.v[1].end, 10);
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

/* ---- the shared fixture ------------------------------------------------- */

START_TEST(test_fixture_traore_spellings_give_one_term_and_putins_gives_putin) {
    char path[4096];
    NXT_SHARED_OR_SKIP("fixtures", path);
    strncat(path, "/putin-traore-2024.txt", sizeof path - strlen(path) - 1);
    newsidx_analyzer *a = make(NULL, NULL);
    size_t len = 0;
    char *text = read_file(path, &len);
    toks ts = run_len(a, text, len);
    size_t accented = 0, plain = 0, putins = 0;
    for (size_t i = 0; i < ts.n; i++) {
        const tok *k = &ts.v[i];
        const char *src = text + k->start;
        size_t n = k->end - k->start;
        if (n == strlen("Traoré") && memcmp(src, "Traoré", n) == 0) {
            ck_assert_str_eq(k->term, "traore");
            accented++;
        } else if (n == 6 && memcmp(src, "Traore", 6) == 0) {
            ck_assert_str_eq(k->term, "traore");
            plain++;
        }
        if (k->end + strlen("’s") <= len && n == 5 && memcmp(src, "Putin", 5) == 0 &&
            memcmp(src + 5, "’s", strlen("’s")) == 0) {
            ck_assert_str_eq(k->term, "putin");
            putins++;
        }
        ck_assert_str_ne(k->term, "putins");
        ck_assert_str_ne(k->term, "s");
    }
    ck_assert_uint_ge(accented, 8);
    ck_assert_uint_eq(plain, 1);
    ck_assert_uint_ge(putins, 4);
    /* "Russia-Burkina" at consecutive positions. */
    bool found = false;
    for (size_t i = 0; i + 1 < ts.n; i++)
        if (strcmp(ts.v[i].term, "russia") == 0 && strcmp(ts.v[i + 1].term, "burkina") == 0 &&
            ts.v[i + 1].position == ts.v[i].position + 1 && ts.v[i].end + 1 == ts.v[i + 1].start)
            found = true;
    ck_assert(found);
    free(ts.v);
    check_offsets_round_trip(a, text, len);
    free(text);
    newsidx_analyzer_free(a);
}
END_TEST


/* ---- the bundled sample archive ----------------------------------------- */

static bool has_term(newsidx_analyzer *a, const char *text, const char *term) {
    toks ts = run(a, text);
    bool found = false;
    for (size_t i = 0; i < ts.n; i++) found |= strcmp(ts.v[i].term, term) == 0;
    free(ts.v);
    return found;
}

START_TEST(test_sample_archive_is_valid_multilingual_json_lines) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/sample.jsonl", NEWSIDX_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    newsidx_analyzer *a = make(NULL, NULL);
    char line[16384];
    size_t n = 0, traore_docs = 0, accented = 0, plain = 0, decimal = 0;
    /* One marker word per script the sample must cover. */
    const char *scripts[] = {"Αθήνα", "Москв", "東京", "서울", "上海", "Việt", "İzmir",
                             "Straße", "ñ", "’"};
    bool seen[sizeof scripts / sizeof scripts[0]] = {false};
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *doc = json_loads(line, 0, &err);
        ck_assert_msg(doc != NULL, "line %zu: %s", n + 1, err.text);
        const char *fields[] = {"id", "title", "body", "author", "source", "date"};
        for (size_t i = 0; i < 6; i++)
            ck_assert_msg(json_is_string(json_object_get(doc, fields[i])), "line %zu lacks %s",
                          n + 1, fields[i]);
        const char *title = json_string_value(json_object_get(doc, "title"));
        const char *body = json_string_value(json_object_get(doc, "body"));
        check_offsets_round_trip(a, title, strlen(title));
        check_offsets_round_trip(a, body, strlen(body));
        if (has_term(a, title, "traore") || has_term(a, body, "traore")) traore_docs++;
        if (strstr(body, "Traoré") || strstr(title, "Traoré")) accented++;
        if (strstr(body, "Traore") || strstr(title, "Traore")) plain++;
        if (has_term(a, body, "3.14")) decimal++;
        for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++)
            if (strstr(line, scripts[i])) seen[i] = true;
        json_decref(doc);
        n++;
    }
    fclose(f);
    newsidx_analyzer_free(a);
    ck_assert_uint_ge(n, 40);
    ck_assert_uint_ge(traore_docs, 5);
    ck_assert_uint_ge(accented, 1);
    ck_assert_uint_ge(plain, 1);
    ck_assert_uint_ge(decimal, 3); /* "3.14" and "3,14" meet */
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++)
        ck_assert_msg(seen[i], "no article contains %s", scripts[i]);
}
END_TEST

/* ---- CJK ---------------------------------------------------------------- */

START_TEST(test_cjk_runs_become_overlapping_bigrams) {
    newsidx_analyzer *a = make(NULL, NULL);
    toks ts = run(a, "東京都");
    ck_assert_uint_eq(ts.n, 2);
    ck_assert_str_eq(ts.v[0].term, "東京");
    ck_assert_str_eq(ts.v[1].term, "京都");
    ck_assert_uint_eq(ts.v[0].position, 0);
    ck_assert_uint_eq(ts.v[1].position, 1);
    ck_assert_uint_eq(ts.v[0].start, 0);
    ck_assert_uint_eq(ts.v[0].end, 6);
    ck_assert_uint_eq(ts.v[1].start, 3);
    ck_assert_uint_eq(ts.v[1].end, 9);
    free(ts.v);
    ck_assert_terms(a, "日", "日");
    ck_assert_terms(a, "日 本", "日 本");
    ck_assert_terms(a, "東京に行きました", "東京 京に に行 行き きま まし した");
    ck_assert_terms(a, "서울에서 만나요", "서울 울에 에서 만나 나요");
    ck_assert_terms(a, "新闻报道", "新闻 闻报 报道");
    ck_assert_terms(a, "東京。大阪", "東京 大阪");
    ck_assert_terms(a, "iPhone発売2024年", "iphone 発売 2024 年");
    ck_assert_terms(a, "コーヒー", "コー ーヒ ヒー");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_cjk_width_and_voicing_forms_meet_their_standard_form) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "ｶﾞｲﾄﾞ", "ガイ イド");
    ck_assert_terms(a, "カ\xe3\x82\x99イド", "ガイ イド"); /* カ + U+3099 */
    ck_assert_terms(a, "ガイド", "ガイ イド");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_a_lone_cjk_character_folds_alike_cached_or_not) {
    /* The analyzer folds lone characters through its cache, nx_fold_text
     * through utf8proc each time: both must agree, cache cold and warm. */
    static const char *const chars[] = {
        "東", "\xef\xa4\x80" /* U+F900 compatibility ideograph */, "ｶ", "ﾝ", "한",
        "々", "ㄅ", "ガ", "\xe3\x84\xb1" /* U+3131 compatibility jamo */, "𠀋",
    };
    newsidx_analyzer *a = make(NULL, NULL);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++) {
            char want[64];
            size_t n = 0;
            ck_assert_int_eq(nx_fold_text(chars[i], strlen(chars[i]), want, sizeof want - 1, &n),
                             NEWSIDX_OK);
            want[n] = 0;
            ck_assert_terms(a, chars[i], want);
        }
    }
    ck_assert_terms(a, "\xef\xa4\x80", "\xe8\xb1\x88"); /* U+F900 -> U+8C48 */
    ck_assert_terms(a, "ｶﾝ", "カン");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_offsets_round_trip_over_mixed_text) {
    newsidx_analyzer *a = make(NULL, NULL);
    const char *text =
        "« Putin’s pledge » — l’Afrique, Traoré & TRAORE; 1,000 soldiers (3.14%); "
        "東京都に行きました. 서울에서! Ελλάδα, Москва, Việt Nam, İstanbul; ﬁnance ＡＢＣ "
        "rock'n'roll don’t co-operate ｶﾞｲﾄﾞ U.S.A. e.g. 12,345,67";
    check_offsets_round_trip(a, text, strlen(text));
    newsidx_analyzer_free(a);
}
END_TEST

/* ---- stemming and stopwords --------------------------------------------- */

START_TEST(test_stemming_is_off_by_default_and_snowball_when_asked) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "running runs", "running runs");
    newsidx_analyzer_free(a);
    a = make("english", NULL);
    ck_assert_terms(a, "Running runs Connections", "run run connect");
    toks ts = run(a, "Running");
    ck_assert_uint_eq(ts.v[0].end, 7); /* offsets are the word's, not the stem's */
    free(ts.v);
    newsidx_analyzer_free(a);
    a = make("FR", NULL);
    ck_assert_terms(a, "chevaux nationales", "cheval national");
    newsidx_analyzer_free(a);
    a = make("german", NULL);
    ck_assert_terms(a, "Häuser Bücher", "haus buch");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_turkish_stemming_drops_suffixes_after_an_apostrophe) {
    newsidx_analyzer *a = make(NULL, NULL);
    ck_assert_terms(a, "İzmir’de", "izmirde"); /* language-neutral: joined */
    newsidx_analyzer_free(a);
    a = make("turkish", NULL);
    toks ts = run(a, "İzmir’de deprem, İstanbul'daki piyasalar");
    ck_assert_uint_eq(ts.n, 4);
    ck_assert_str_eq(ts.v[0].term, "izmir");
    ck_assert_uint_eq(ts.v[0].end, strlen("İzmir"));
    ck_assert_uint_eq(ts.v[1].position, 1);
    ck_assert_uint_eq(ts.v[1].start, strlen("İzmir’de "));
    ck_assert_str_eq(ts.v[2].term, "istanbul");
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_unknown_languages_are_unsupported) {
    newsidx_analyzer_options o;
    newsidx_analyzer_options_init(&o);
    newsidx_analyzer *a = (newsidx_analyzer *)&o;
    o.stem_language = "klingon";
    ck_assert_int_eq(newsidx_analyzer_create(&o, &a), NEWSIDX_ERR_UNSUPPORTED);
    ck_assert_ptr_null(a);
    o.stem_language = NULL;
    o.stopwords_language = "klingon";
    ck_assert_int_eq(newsidx_analyzer_create(&o, &a), NEWSIDX_ERR_UNSUPPORTED);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_stem_languages_list_the_snowball_algorithms) {
    const char *const *l = newsidx_stem_languages();
    ck_assert_ptr_nonnull(l);
    bool english = false, french = false;
    size_t n = 0;
    for (; l[n]; n++) {
        english |= strcmp(l[n], "english") == 0;
        french |= strcmp(l[n], "french") == 0;
        newsidx_analyzer *a = make(l[n], NULL);
        newsidx_analyzer_free(a);
    }
    ck_assert(english && french);
    ck_assert_uint_ge(n, 10);
}
END_TEST

START_TEST(test_stopwords_are_dropped_and_leave_position_gaps) {
    newsidx_analyzer *a = make(NULL, "english");
    toks ts = run(a, "The President of France");
    ck_assert_uint_eq(ts.n, 2);
    ck_assert_str_eq(ts.v[0].term, "president");
    ck_assert_uint_eq(ts.v[0].position, 1);
    ck_assert_str_eq(ts.v[1].term, "france");
    ck_assert_uint_eq(ts.v[1].position, 3);
    free(ts.v);
    newsidx_analyzer_free(a);

    a = make(NULL, "fr");
    ck_assert_terms(a, "l’été de la Révolution", "revolution");
    newsidx_analyzer_free(a);
    a = make(NULL, "GERMAN");
    ck_assert_terms(a, "Geld für die Schule, über alles", "geld schule alles");
    newsidx_analyzer_free(a);
    a = make(NULL, "es");
    ck_assert_terms(a, "El presidente de México también habló", "presidente mexico hablo");
    newsidx_analyzer_free(a);
    /* Stopwords are matched before stemming. */
    a = make("english", "english");
    ck_assert_terms(a, "The running of the bulls", "run bull");
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_every_stopword_list_loads_and_drops_its_own_words) {
    for (size_t i = 0; nx_stopword_lists[i]; i++) {
        const nx_stopword_list *l = nx_stopword_lists[i];
        ck_assert_ptr_eq(nx_stopwords_find(l->name), l);
        ck_assert_ptr_eq(nx_stopwords_find(l->code), l);
        newsidx_analyzer *a = make(NULL, l->name);
        for (size_t j = 0; l->words[j]; j++) ck_assert_terms(a, l->words[j], "");
        newsidx_analyzer_free(a);
    }
}
END_TEST

/* ---- limits and API contract -------------------------------------------- */

START_TEST(test_terms_longer_than_the_limit_are_dropped_but_keep_their_position) {
    newsidx_analyzer *a = make(NULL, NULL);
    char text[256];
    memset(text, 'b', sizeof text);
    /* Exactly 64 bytes: kept. */
    text[0] = 'a';
    text[1] = ' ';
    text[2 + NEWSIDX_MAX_TERM_BYTES] = ' ';
    text[3 + NEWSIDX_MAX_TERM_BYTES] = 'c';
    toks ts = run_len(a, text, 4 + NEWSIDX_MAX_TERM_BYTES);
    ck_assert_uint_eq(ts.n, 3);
    ck_assert_uint_eq(ts.v[1].term_len, NEWSIDX_MAX_TERM_BYTES);
    free(ts.v);
    /* 65 bytes: dropped, and c is still at position 2. */
    text[2 + NEWSIDX_MAX_TERM_BYTES] = 'b';
    text[3 + NEWSIDX_MAX_TERM_BYTES] = ' ';
    text[4 + NEWSIDX_MAX_TERM_BYTES] = 'c';
    ts = run_len(a, text, 5 + NEWSIDX_MAX_TERM_BYTES);
    ck_assert_uint_eq(ts.n, 2);
    ck_assert_str_eq(ts.v[1].term, "c");
    ck_assert_uint_eq(ts.v[1].position, 2);
    free(ts.v);
    /* The limit is on folded bytes: 33 "é" fold to 33 bytes and fit; 32
     * two-byte Cyrillic letters fit exactly, 33 do not. */
    char word[2 * 33 + 1];
    for (int i = 0; i < 33; i++) memcpy(word + 2 * i, "é", 2);
    ts = run_len(a, word, 2 * 33);
    ck_assert_uint_eq(ts.n, 1);
    ck_assert_uint_eq(ts.v[0].term_len, 33);
    free(ts.v);
    for (int i = 0; i < 33; i++) memcpy(word + 2 * i, "д", 2);
    ts = run_len(a, word, 2 * 32);
    ck_assert_uint_eq(ts.n, 1);
    free(ts.v);
    ts = run_len(a, word, 2 * 33);
    ck_assert_uint_eq(ts.n, 0);
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_a_ten_megabyte_word_is_dropped_without_harm) {
    newsidx_analyzer *a = make(NULL, NULL);
    size_t n = 10u << 20;
    char *text = malloc(n + 4);
    ck_assert_ptr_nonnull(text);
    memset(text, 'x', n);
    memcpy(text + n, " end", 4);
    toks ts = run_len(a, text, n + 4);
    ck_assert_uint_eq(ts.n, 1);
    ck_assert_str_eq(ts.v[0].term, "end");
    ck_assert_uint_eq(ts.v[0].position, 1);
    ck_assert_uint_eq(ts.v[0].start, n + 1);
    free(ts.v);
    /* The same with a two-byte letter. */
    for (size_t i = 0; i + 1 < n; i += 2) memcpy(text + i, "é", 2);
    ts = run_len(a, text, n);
    ck_assert_uint_eq(ts.n, 0);
    free(ts.v);
    free(text);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_a_long_run_of_combining_marks_is_handled) {
    newsidx_analyzer *a = make(NULL, NULL);
    size_t marks = 1u << 20;
    size_t n = 1 + 2 * marks;
    char *text = malloc(n + 3);
    ck_assert_ptr_nonnull(text);
    /* "a" + a million U+0301: the accents are stripped, one term spans all. */
    text[0] = 'a';
    for (size_t i = 0; i < marks; i++) memcpy(text + 1 + 2 * i, "\xcc\x81", 2);
    toks ts = run_len(a, text, n);
    ck_assert_uint_eq(ts.n, 1);
    ck_assert_str_eq(ts.v[0].term, "a");
    ck_assert_uint_eq(ts.v[0].end, n);
    free(ts.v);
    /* 東 + a million U+3099 (kana voicing mark): one CJK unit. */
    char *cjk = malloc(3 + 3 * marks);
    ck_assert_ptr_nonnull(cjk);
    memcpy(cjk, "東", 3);
    for (size_t i = 0; i < marks; i++) memcpy(cjk + 3 + 3 * i, "\xe3\x82\x99", 3);
    ts = run_len(a, cjk, 3 + 3 * marks);
    ck_assert_uint_eq(ts.n, 1);
    ck_assert_uint_eq(ts.v[0].end, 3 + 3 * marks);
    free(ts.v);
    /* क + kept vowel signs past the term limit: dropped. */
    for (size_t i = 0; i < marks; i++) memcpy(cjk + 3 + 3 * i, "\xe0\xa4\xbf", 3);
    memcpy(cjk, "\xe0\xa4\x95", 3);
    ts = run_len(a, cjk, 3 + 3 * marks);
    ck_assert_uint_eq(ts.n, 0);
    free(ts.v);
    free(cjk);
    free(text);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_a_nonzero_callback_result_stops_the_analysis) {
    newsidx_analyzer *a = make(NULL, NULL);
    toks ts = {0};
    ts.stop_after = 2;
    const char *text = "one two three four 東京都";
    ck_assert_int_eq(newsidx_analyze(a, text, strlen(text), collect, &ts), 42);
    ck_assert_uint_eq(ts.n, 2);
    free(ts.v);
    ts = (toks){0};
    ts.stop_after = 1;
    text = "東京都";
    ck_assert_int_eq(newsidx_analyze(a, text, strlen(text), collect, &ts), 42);
    ck_assert_uint_eq(ts.n, 1);
    free(ts.v);
    newsidx_analyzer_free(a);
}
END_TEST

START_TEST(test_options_are_checked_and_defaults_apply) {
    newsidx_analyzer *a = NULL;
    ck_assert_int_eq(newsidx_analyzer_create(NULL, &a), NEWSIDX_OK);
    ck_assert_terms(a, "The running", "the running");
    ck_assert_int_eq(newsidx_analyze(NULL, "x", 1, collect, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_analyze(a, NULL, 1, collect, NULL), NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_analyze(a, "x", 1, NULL, NULL), NEWSIDX_ERR_INVALID);
    newsidx_analyzer_free(a);
    newsidx_analyzer_free(NULL);
    newsidx_analyzer_options o;
    newsidx_analyzer_options_init(&o);
    ck_assert_uint_eq(o.size, sizeof o);
    ck_assert_ptr_null(o.stem_language);
    ck_assert_ptr_null(o.stopwords_language);
    o.size = 3;
    ck_assert_int_eq(newsidx_analyzer_create(&o, &a), NEWSIDX_ERR_INVALID);
    /* a caller of a newer header: its extra bytes must be zero */
    struct {
        newsidx_analyzer_options o;
        uint64_t newer_field;
    } big;
    memset(&big, 0, sizeof big);
    newsidx_analyzer_options_init(&big.o);
    big.o.size = sizeof big;
    big.newer_field = 1;
    char msg[256];
    ck_assert_int_eq(newsidx_analyzer_create_v2(&big.o, msg, sizeof msg, &a), NEWSIDX_ERR_INVALID);
    ck_assert_msg(strstr(msg, "newer libnewsidx") != NULL, "%s", msg);
    big.newer_field = 0;
    ck_assert_int_eq(newsidx_analyzer_create_v2(&big.o, msg, sizeof msg, &a), NEWSIDX_OK);
    ck_assert_str_eq(msg, "");
    newsidx_analyzer_free(a);
    ck_assert_int_eq(newsidx_analyzer_create(NULL, NULL), NEWSIDX_ERR_INVALID);
}
END_TEST

START_TEST(test_analyzers_are_independent) {
    newsidx_analyzer *plain = make(NULL, NULL), *stem = make("english", "english");
    ck_assert_terms(plain, "The running", "the running");
    ck_assert_terms(stem, "The running", "run");
    ck_assert_terms(plain, "The running", "the running");
    newsidx_analyzer_free(stem);
    newsidx_analyzer_free(plain);
}
END_TEST

/* ---- the CLI ------------------------------------------------------------ */

START_TEST(test_cli_analyze_prints_position_term_and_offsets) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' analyze \"Putin’s pledge to Traoré\"", NEWSIDX_CLI);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char out[1024];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_str_eq(out, "0\tputin\t0\t5\n1\tpledge\t10\t16\n2\tto\t17\t19\n3\ttraore\t20\t27\n");

    char fixtures[2048];
    if (nxt_shared("fixtures", "test_cli_analyze_prints_position_term_and_offsets (the fixture part)", fixtures,
                   sizeof fixtures)) {
        snprintf(cmd, sizeof cmd, "'%s' analyze < '%s/putin-traore-2024.txt' | cut -f2 | sort -u | grep -c '^traore$'",
                 NEWSIDX_CLI, fixtures);
        p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
        ck_assert_str_eq(out, "1\n");
    }

    snprintf(cmd, sizeof cmd, "'%s' analyze --stem klingon x 2>/dev/null", NEWSIDX_CLI);
    int rc = system(cmd);
    ck_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "'%s' analyze --bogus x 2>/dev/null", NEWSIDX_CLI);
    rc = system(cmd);
    ck_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}
END_TEST

static Suite *analysis_suite(void) {
    Suite *s = suite_create("analysis");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, test_utf8_decoder_accepts_valid_and_rejects_malformed_sequences);
    tcase_add_test(tc, test_invalid_utf8_bytes_separate_words);
    tcase_add_test(tc, test_nul_bytes_are_separators);
    tcase_add_test(tc, test_truncated_sequence_at_every_cut_never_reads_past_the_end);
    tcase_add_test(tc, test_random_bytes_give_well_formed_tokens);
    tcase_add_test(tc, test_empty_and_separator_only_texts_give_no_terms);
    suite_add_tcase(s, tc);

    tc = tcase_create("folding");
    tcase_add_test(tc, test_folding_table);
    tcase_add_test(tc, test_folding_is_the_same_through_the_cache_and_without_it);
    tcase_add_test(tc, test_marks_of_scripts_that_write_vowels_as_marks_are_kept);
    tcase_add_test(tc, test_soft_hyphen_and_zero_width_joiners_do_not_split_a_word);
    tcase_add_test(tc, test_nx_fold_text_folds_without_splitting);
    suite_add_tcase(s, tc);

    tc = tcase_create("words");
    tcase_add_test(tc, test_possessive_s_is_dropped_for_both_apostrophes);
    tcase_add_test(tc, test_other_apostrophes_join_the_word_and_are_removed);
    tcase_add_test(tc, test_french_and_italian_elision_drops_the_article);
    tcase_add_test(tc, test_hyphens_split_at_consecutive_positions);
    tcase_add_test(tc, test_acronyms_written_with_dots_are_one_word);
    tcase_add_test(tc, test_numbers_keep_decimal_points_and_drop_thousands_commas);
    tcase_add_test(tc, test_fixture_traore_spellings_give_one_term_and_putins_gives_putin);
    tcase_add_test(tc, test_sample_archive_is_valid_multilingual_json_lines);
    suite_add_tcase(s, tc);

    tc = tcase_create("cjk");
    tcase_add_test(tc, test_cjk_runs_become_overlapping_bigrams);
    tcase_add_test(tc, test_cjk_width_and_voicing_forms_meet_their_standard_form);
    tcase_add_test(tc, test_a_lone_cjk_character_folds_alike_cached_or_not);
    tcase_add_test(tc, test_offsets_round_trip_over_mixed_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("stemming");
    tcase_add_test(tc, test_stemming_is_off_by_default_and_snowball_when_asked);
    tcase_add_test(tc, test_unknown_languages_are_unsupported);
    tcase_add_test(tc, test_turkish_stemming_drops_suffixes_after_an_apostrophe);
    tcase_add_test(tc, test_stem_languages_list_the_snowball_algorithms);
    tcase_add_test(tc, test_stopwords_are_dropped_and_leave_position_gaps);
    tcase_add_test(tc, test_every_stopword_list_loads_and_drops_its_own_words);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_terms_longer_than_the_limit_are_dropped_but_keep_their_position);
    tcase_add_test(tc, test_a_ten_megabyte_word_is_dropped_without_harm);
    tcase_add_test(tc, test_a_long_run_of_combining_marks_is_handled);
    tcase_add_test(tc, test_a_nonzero_callback_result_stops_the_analysis);
    tcase_add_test(tc, test_options_are_checked_and_defaults_apply);
    tcase_add_test(tc, test_analyzers_are_independent);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_add_test(tc, test_cli_analyze_prints_position_term_and_offsets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return nxt_run(analysis_suite(), CK_FORK_GETENV);
}
