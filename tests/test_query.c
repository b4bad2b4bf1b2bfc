/* Check suite of the query parser (lib/search/query_parse.c): the grammar
 * of docs/QUERY.md, precedence, analysis of words, field scopes, dates,
 * boosts, syntax errors with columns, and every limit. Queries are parsed
 * with a NULL reader, i.e. the default analyzer (no stemming, no
 * stopwords); the trees are compared through nx_query_dump. */
#include "search/query.h"
#include "newsidx.h"

#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static newsidx_query *parse_opts(const char *text, const newsidx_query_options *o, int *rc,
                                 size_t *col, char *msg, size_t msg_size) {
    newsidx_query *q = NULL;
    *rc = newsidx_query_parse(NULL, text, strlen(text), o, col, msg, msg_size, &q);
    if (*rc) ck_assert_ptr_null(q);
    return q;
}

/* Parses text (which must succeed) and compares its dump with want. */
static void expect_tree(const char *text, const char *want) {
    int rc;
    size_t col;
    char msg[256];
    newsidx_query *q = parse_opts(text, NULL, &rc, &col, msg, sizeof msg);
    ck_assert_msg(rc == NEWSIDX_OK, "parse of [%s] failed: %d %s", text, rc, msg);
    char buf[1024];
    nx_query_dump(q->root, buf, sizeof buf);
    ck_assert_msg(strcmp(buf, want) == 0, "[%s] parsed as %s, want %s", text, buf, want);
    newsidx_query_free(q);
}

/* Parses text, which must fail with a syntax error at column want_col whose
 * message contains want_msg. */
static void expect_syntax(const char *text, size_t want_col, const char *want_msg) {
    int rc;
    size_t col = 0;
    char msg[256] = "";
    newsidx_query *q = parse_opts(text, NULL, &rc, &col, msg, sizeof msg);
    ck_assert_msg(rc == NEWSIDX_ERR_SYNTAX, "[%s]: rc %d, want a syntax error", text, rc);
    ck_assert_ptr_null(q);
    ck_assert_msg(col == want_col, "[%s]: column %zu, want %zu (%s)", text, col, want_col, msg);
    ck_assert_msg(strstr(msg, want_msg) != NULL, "[%s]: message '%s' lacks '%s'", text, msg,
                  want_msg);
    char at[64];
    snprintf(at, sizeof at, "at column %zu", want_col);
    ck_assert_msg(strstr(msg, at) != NULL, "[%s]: message '%s' lacks '%s'", text, msg, at);
}

START_TEST(test_default_operator_is_and) {
    expect_tree("a", "a");
    expect_tree("a b", "(and a b)");
    expect_tree("a AND b", "(and a b)");
    expect_tree("a b c", "(and a b c)");
    expect_tree("+a +b", "(and a b)");
}
END_TEST

START_TEST(test_or_binds_looser_than_and) {
    expect_tree("a OR b", "(or a b)");
    expect_tree("a b OR c", "(or (and a b) c)");
    expect_tree("a OR b c", "(or a (and b c))");
    expect_tree("a OR b OR c", "(or a b c)");
    expect_tree("(a OR b) c", "(and (or a b) c)");
    expect_tree("a AND (b OR c)", "(and a (or b c))");
}
END_TEST

START_TEST(test_lowercase_keywords_are_words) {
    expect_tree("cats and dogs", "(and cats and dogs)");
    expect_tree("this or that", "(and this or that)");
    expect_tree("near", "near");
}
END_TEST

START_TEST(test_negation_forms_are_equivalent) {
    expect_tree("a -b", "(and a (not b))");
    expect_tree("a NOT b", "(and a (not b))");
    expect_tree("a AND NOT b", "(and a (not b))");
    expect_tree("a -(b OR c)", "(and a (not (or b c)))");
}
END_TEST

START_TEST(test_purely_negative_query_matches_all_but_the_negated) {
    expect_tree("-a", "(and (not a) all)");
    expect_tree("NOT a", "(and (not a) all)");
    expect_tree("-a -b", "(and (not a) (not b) all)");
    expect_tree("x OR -a", "(or x (and (not a) all))");
}
END_TEST

START_TEST(test_hyphen_inside_a_word_is_not_negation) {
    expect_tree("Russia-Burkina", "\"russia burkina\"");
    expect_tree("a Russia-Burkina", "(and a \"russia burkina\")");
}
END_TEST

START_TEST(test_words_are_analyzed_like_indexed_text) {
    expect_tree("Traoré", "traore");
    expect_tree("TRAORE", "traore");
    expect_tree("Traore", "traore");
    /* punctuation alone analyzes to nothing and is dropped */
    expect_tree("a , b", "(and a b)");
    expect_tree("...", "none");
}
END_TEST

START_TEST(test_blank_query_matches_nothing) {
    expect_tree("", "none");
    expect_tree("   \t ", "none");
}
END_TEST

START_TEST(test_phrases_and_proximity) {
    expect_tree("\"new york\"", "\"new york\"");
    expect_tree("\"New  York City\"", "\"new york city\"");
    expect_tree("\"york\"", "york");
    expect_tree("\"a b\"~3", "(near/3 a b)");
    expect_tree("\"a b\"~", "(near/2 a b)");
    expect_tree("\"b a b\"~1", "(near/1 b a)");
    expect_tree("\"a b\"~0^2", "(near/0 a b)^2");
    expect_tree("a NEAR/5 b", "(near/5 a b)");
    expect_tree("a NEAR b", "(near/10 a b)");
    expect_tree("a NEAR/2 b NEAR/4 c", "(near/4 a b c)");
    expect_tree("x a NEAR/1 b y", "(and x (near/1 a b) y)");
}
END_TEST

START_TEST(test_prefix_and_fuzzy_words_are_folded_not_stemmed) {
    expect_tree("pref*", "pref*");
    expect_tree("Traoré*", "traore*");
    expect_tree("word~1", "word~1");
    expect_tree("word~", "word~2");
    expect_tree("Wörd~0", "word~0");
    expect_tree("a* b~1", "(and a* b~1)");
}
END_TEST

START_TEST(test_field_scopes) {
    expect_tree("title:x", "title:x");
    expect_tree("Title:X", "title:x");
    expect_tree("body:x y", "(and body:x y)");
    expect_tree("author:smith source:reuters url:bbc", "(and author:smith source:reuters url:bbc)");
    expect_tree("title:(a OR b)", "(or title:a title:b)");
    expect_tree("title:(a body:b)", "(and title:a body:b)");
    expect_tree("title:\"a b\"", "title:\"a b\"");
    expect_tree("title:pre*", "title:pre*");
    expect_tree("title:a NEAR/2 title:b", "(near/2 title:a b)");
    /* in quotes, a colon is punctuation */
    expect_tree("\"foo:bar\"", "\"foo bar\"");
}
END_TEST

START_TEST(test_date_ranges_cover_whole_periods) {
    /* 1987-01-01 = 536457600, 1988-01-01 = 567993600 */
    expect_tree("date:1987", "date[536457600,567993599]");
    /* 1987-02 has 28 days */
    expect_tree("date:1987-02", "date[539136000,541555199]");
    expect_tree("date:2024-02-29", "date[1709164800,1709251199]");
    expect_tree("date:2024-06-01..2024-06-30", "date[1717200000,1719791999]");
    char want[128];
    snprintf(want, sizeof want, "date[%lld,1719791999]", (long long)(NX_NO_DATE + 1));
    expect_tree("date:..2024-06-30", want);
    snprintf(want, sizeof want, "date[1717200000,%lld]", (long long)INT64_MAX);
    expect_tree("date:2024-06-01..", want);
    expect_tree("date:2024-06-01T12:00:00Z", "date[1717243200,1717243200]");
    expect_tree("oil date:1987-03", "(and oil date[541555200,544233599])");
}
END_TEST

START_TEST(test_boosts_multiply_scores) {
    expect_tree("a^2", "a^2");
    expect_tree("a^0.5 b", "(and a^0.5 b)");
    expect_tree("(a b)^3", "(and a b)^3");
    expect_tree("\"a b\"^2", "\"a b\"^2");
    expect_tree("pre*^4", "pre*^4");
}
END_TEST

START_TEST(test_syntax_errors_name_the_column_and_what_was_expected) {
    expect_syntax("a OR", 5, "expected a term after OR");
    expect_syntax("(a b", 5, "expected ')'");
    expect_syntax("a)", 2, "expected an operator or the end");
    expect_syntax("\"abc", 5, "expected '\"'");
    expect_syntax("AND a", 1, "expected a term before AND");
    expect_syntax("OR a", 1, "expected a term");
    expect_syntax("a AND", 6, "expected a term after AND");
    expect_syntax("a NOT", 6, "expected a term after NOT");
    expect_syntax("a^", 3, "expected a boost");
    expect_syntax("a^x", 3, "expected a boost");
    expect_syntax("a~3", 3, "expected an edit distance");
    expect_syntax("date:xyz", 6, "expected a date");
    expect_syntax("date:2024-13", 6, "expected a date");
    expect_syntax("date:2024..x", 12, "expected a date");
    expect_syntax("title:", 7, "expected a term");
    expect_syntax("a NEAR/x b", 8, "expected a distance");
    expect_syntax("a NEAR/3", 9, "expected a word after NEAR");
    expect_syntax("*", 1, "expected letters");
    expect_syntax("a -", 4, "expected a term after '-'");
    expect_syntax("()", 2, "expected a term");
    expect_syntax("^2", 1, "expected a term before");
    expect_syntax("\"a b\" NEAR/2 c", 7, "expected words on both sides of NEAR");
    /* a field that is stored but not indexed (or a typo) is no silent zero */
    expect_syntax("category:sport", 1, "unknown field 'category': the searchable fields are");
    expect_syntax("oil topics:(cocoa OR gold)", 5, "unknown field 'topics'");
    expect_syntax("\"abc", 5, "closing the phrase that starts at column 1, before the end");
}
END_TEST

START_TEST(test_limits_give_err_limit) {
    newsidx_query_options o;
    int rc;
    size_t col;
    char msg[256];

    newsidx_query_options_init(&o);
    o.max_depth = 3;
    newsidx_query_free(parse_opts("(((a)))", &o, &rc, &col, msg, sizeof msg));
    ck_assert_int_eq(rc, NEWSIDX_OK);
    parse_opts("((((a))))", &o, &rc, &col, msg, sizeof msg);
    ck_assert_int_eq(rc, NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(msg, "max_depth"));

    newsidx_query_options_init(&o);
    o.max_clauses = 4;
    newsidx_query_free(parse_opts("a b c d", &o, &rc, &col, msg, sizeof msg));
    ck_assert_int_eq(rc, 0);
    parse_opts("a b c d e", &o, &rc, &col, msg, sizeof msg);
    ck_assert_int_eq(rc, NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(msg, "max_clauses"));

    newsidx_query_options_init(&o);
    o.max_query_bytes = 4;
    parse_opts("hello", &o, &rc, &col, msg, sizeof msg);
    ck_assert_int_eq(rc, NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(msg, "max_query_bytes"));

    newsidx_query_options_init(&o);
    o.max_phrase_terms = 2;
    newsidx_query_free(parse_opts("\"a b\"", &o, &rc, &col, msg, sizeof msg));
    ck_assert_int_eq(rc, 0);
    parse_opts("\"a b c\"", &o, &rc, &col, msg, sizeof msg);
    ck_assert_int_eq(rc, NEWSIDX_ERR_LIMIT);
    ck_assert_ptr_nonnull(strstr(msg, "max_phrase_terms"));
}
END_TEST

START_TEST(test_default_depth_limit_is_64) {
    char text[300];
    int rc;
    size_t col;
    char msg[256];
    for (int depth = 64; depth <= 65; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) text[n++] = '(';
        text[n++] = 'a';
        for (int i = 0; i < depth; i++) text[n++] = ')';
        text[n] = '\0';
        newsidx_query *q = parse_opts(text, NULL, &rc, &col, msg, sizeof msg);
        ck_assert_int_eq(rc, depth == 64 ? NEWSIDX_OK : NEWSIDX_ERR_LIMIT);
        newsidx_query_free(q);
    }
}
END_TEST

START_TEST(test_options_with_a_bad_size_are_invalid) {
    newsidx_query_options o;
    newsidx_query_options_init(&o);
    o.size = 4;
    int rc;
    size_t col;
    char msg[256];
    parse_opts("a", &o, &rc, &col, msg, sizeof msg);
    ck_assert_int_eq(rc, NEWSIDX_ERR_INVALID);
    newsidx_query *q = NULL;
    ck_assert_int_eq(newsidx_query_parse(NULL, "a", 1, NULL, NULL, NULL, 0, NULL),
                     NEWSIDX_ERR_INVALID);
    ck_assert_int_eq(newsidx_query_parse(NULL, "a", 1, NULL, NULL, NULL, 0, &q), NEWSIDX_OK);
    newsidx_query_free(q);
    newsidx_query_free(NULL);
}
END_TEST

START_TEST(test_parser_survives_random_bytes) {
    /* Every input parses or fails cleanly (run under ASan in CI). */
    const char alphabet[] = "ab \"()+-*~^:/.ANDORTNE01\xc3\xa9\t";
    char text[64];
    unsigned seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(iter % 40);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            text[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        text[n] = '\0';
        newsidx_query *q = NULL;
        size_t col = 0;
        char msg[256];
        int rc = newsidx_query_parse(NULL, text, n, NULL, &col, msg, sizeof msg, &q);
        ck_assert_msg(rc == NEWSIDX_OK || rc == NEWSIDX_ERR_SYNTAX || rc == NEWSIDX_ERR_LIMIT,
                      "[%s]: rc %d", text, rc);
        if (rc == NEWSIDX_ERR_SYNTAX) ck_assert_msg(col >= 1 && col <= n + 1, "[%s] col %zu", text, col);
        if (rc == NEWSIDX_OK) {
            char buf[2048];
            nx_query_dump(q->root, buf, sizeof buf);
        }
        newsidx_query_free(q);
    }
}
END_TEST

START_TEST(test_edit_distance_is_levenshtein_on_code_points) {
    int32_t a[16], b[16];
    size_t na = nx_utf8_to_cps("kitten", 6, a, 16), nb = nx_utf8_to_cps("sitting", 7, b, 16);
    ck_assert_uint_eq(nx_edit_distance(a, na, b, nb, 5), 3);
    ck_assert_uint_eq(nx_edit_distance(a, na, b, nb, 2), 3); /* max + 1 */
    na = nx_utf8_to_cps("caf\xc3\xa9", 5, a, 16);
    nb = nx_utf8_to_cps("cafe", 4, b, 16);
    ck_assert_uint_eq(nx_edit_distance(a, na, b, nb, 2), 1);
    ck_assert_uint_eq(nx_edit_distance(a, na, a, na, 2), 0);
    ck_assert_uint_eq(nx_edit_distance(a, 0, b, nb, 4), 4);
}
END_TEST

static Suite *query_suite(void) {
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_default_operator_is_and);
    tcase_add_test(tc, test_or_binds_looser_than_and);
    tcase_add_test(tc, test_lowercase_keywords_are_words);
    tcase_add_test(tc, test_negation_forms_are_equivalent);
    tcase_add_test(tc, test_purely_negative_query_matches_all_but_the_negated);
    tcase_add_test(tc, test_hyphen_inside_a_word_is_not_negation);
    tcase_add_test(tc, test_words_are_analyzed_like_indexed_text);
    tcase_add_test(tc, test_blank_query_matches_nothing);
    tcase_add_test(tc, test_phrases_and_proximity);
    tcase_add_test(tc, test_prefix_and_fuzzy_words_are_folded_not_stemmed);
    tcase_add_test(tc, test_field_scopes);
    tcase_add_test(tc, test_date_ranges_cover_whole_periods);
    tcase_add_test(tc, test_boosts_multiply_scores);
    tcase_add_test(tc, test_syntax_errors_name_the_column_and_what_was_expected);
    tcase_add_test(tc, test_limits_give_err_limit);
    tcase_add_test(tc, test_default_depth_limit_is_64);
    tcase_add_test(tc, test_options_with_a_bad_size_are_invalid);
    tcase_add_test(tc, test_parser_survives_random_bytes);
    tcase_add_test(tc, test_edit_distance_is_levenshtein_on_code_points);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return nxt_run(query_suite(), CK_FORK_GETENV);
}
