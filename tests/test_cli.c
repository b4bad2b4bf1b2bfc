/* CLI suite for what `newsidx search` and `stats` tell a user: a stored but
 * unindexed field is an error naming the searchable fields, queries that
 * can match nothing or were cut say so, --fields shows in text output,
 * --color and NO_COLOR, histograms with empty months and undated hits,
 * one-line usage errors, the analyzer in stats, --append refusing another
 * analyzer, --queries batches, `dups` and `search --collapse`. Runs the built CLI (NEWSIDX_CLI) on the
 * sample archive of tests/data. */
#include "common.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SAMPLE NEWSIDX_SOURCE_DIR "/tests/data/sample.jsonl"

static char dir[64];
static char out[1 << 20], err[1 << 14];

static void write_file(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void mkdir_in(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void slurp(const char *name, char *buf, size_t cap) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Runs `sh -c CMD` in dir with stdout and stderr captured apart (into out
 * and err); returns the exit code. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[2048], full[2400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "cd '%s' && (%s) >out.txt 2>err.txt", dir, cmd);
    int st = system(full);
    slurp("out.txt", out, sizeof out);
    slurp("err.txt", err, sizeof err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void) {
    nxt_tmpdir_into("cli2", dir, sizeof dir);
    /* the sample archive, stemmed, plus one undated article */
    write_file("undated.jsonl",
               "{\"id\":\"u1\",\"title\":\"Traore undated note\",\"body\":\"Traore spoke.\","
               "\"category\":\"politics\"}\n");
    int rc = run("'%s' index -o idx --stem english --stopwords english '%s' undated.jsonl",
                 NEWSIDX_CLI, SAMPLE);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
}

static void teardown(void) { ck_assert_int_eq(nxt_rm_rf(dir), 0); }

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

START_TEST(test_a_stored_but_unindexed_field_is_an_error_naming_the_searchable_ones) {
    int rc = run("'%s' search idx 'category:politics'", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "unknown field 'category': the searchable fields are title, body, "
                              "author, source, url and date") != NULL,
                  "%s", err);
    ck_assert_str_eq(out, "");
    /* the word itself is still searchable as text, in quotes */
    rc = run("'%s' search idx '\"category:politics\"' --count", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
}
END_TEST

START_TEST(test_queries_that_match_nothing_or_were_cut_print_a_note) {
    int rc = run("'%s' search idx ''", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(err, "note: the query is empty") != NULL, "%s", err);
    rc = run("'%s' search idx 'the of'", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(err, "note: every word of the query is a stopword") != NULL, "%s", err);
    rc = run("'%s' search idx 'p*' --max-expansions 2", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(err, "note: p* matches more than 2 terms: searched the first 2") != NULL,
                  "%s", err);
    rc = run("'%s' search idx 'p*' --max-expansions 2 --json", NEWSIDX_CLI);
    ck_assert_msg(strstr(out, "\"notice\":\"p* matches more than 2 terms") != NULL, "%s", out);
    rc = run("'%s' search idx 'traore'", NEWSIDX_CLI);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_fields_show_in_text_output) {
    int rc = run("'%s' search idx 'traore' -n 3 --fields title,author,category --snippets 0",
                 NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "     author: ") != NULL, "%s", out);
    rc = run("'%s' search idx 'undated' --fields '*' --snippets 0", NEWSIDX_CLI);
    ck_assert_msg(strstr(out, "     category: politics\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "     body: Traore spoke.\n") != NULL, "%s", out);
}
END_TEST

/* Titles, stored fields, file names and messages come from the input: a
 * crafted one must not drive the terminal (clear it, retitle it, hide
 * text). Control bytes show as \xNN, C1 controls as \u00NN. */
START_TEST(test_control_bytes_from_the_input_never_reach_the_terminal) {
    mkdir_in("esc");
    write_file("esc/evil.jsonl",
               "{\"id\":\"e1\",\"title\":\"evil \\u001b]0;PWNED\\u0007\\u001b[2J\\u009b1m\","
               "\"body\":\"zzz \\u001b[8mhidden\"}\n");
    write_file("esc/bad\033[2J.jsonl", "not json\n");
    int rc = run("'%s' index -o escidx esc", NEWSIDX_CLI);
    ck_assert_msg(rc == 3, "exit %d: %s", rc, err);
    ck_assert_msg(strchr(err, '\033') == NULL, "%s", err);
    ck_assert_msg(strstr(err, "bad\\x1b[2J.jsonl:1: ") != NULL, "%s", err);
    rc = run("'%s' search escidx zzz --color never --fields title,body", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strchr(out, '\033') == NULL && strchr(out, '\a') == NULL, "%s", out);
    ck_assert_msg(strstr(out, "evil \\x1b]0;PWNED\\x07\\x1b[2J\\u009b1m") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "[zzz] \\x1b[8mhidden") != NULL, "%s", out);
    rc = run("'%s' get escidx e1", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strchr(out, '\033') == NULL, "%s", out);
    ck_assert_msg(strstr(out, "title: evil \\x1b]0;PWNED") != NULL, "%s", out);
    /* --json escapes them its own way, as before */
    rc = run("'%s' search escidx zzz --json", NEWSIDX_CLI);
    ck_assert_msg(strstr(out, "\\u001b]0;PWNED") != NULL, "%s", out);
}
END_TEST

START_TEST(test_color_follows_the_flag_and_no_color) {
    int rc = run("'%s' search idx 'traore' -n 1 --color always", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "\033[1m"));
    rc = run("'%s' search idx 'traore' -n 1 --color never", NEWSIDX_CLI);
    ck_assert_ptr_null(strstr(out, "\033["));
    ck_assert_msg(strstr(out, "[Traor") != NULL, "%s", out);
    /* auto: not a terminal here, so no colour either */
    rc = run("NO_COLOR=1 '%s' search idx 'traore' -n 1", NEWSIDX_CLI);
    ck_assert_ptr_null(strstr(out, "\033["));
    /* under a pseudo-terminal, auto colours unless NO_COLOR is set */
    if (system("command -v script >/dev/null 2>&1") == 0) {
        run("script -qec \"'%s' search idx traore -n 1\" /dev/null", NEWSIDX_CLI);
        ck_assert_msg(strstr(out, "\033[1m") != NULL, "%s", out);
        run("NO_COLOR=1 script -qec \"'%s' search idx traore -n 1\" /dev/null", NEWSIDX_CLI);
        ck_assert_msg(strstr(out, "\033[") == NULL, "%s", out);
    }
    rc = run("'%s' search idx 'traore' --color sometimes", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
}
END_TEST

START_TEST(test_histograms_show_empty_months_and_undated_hits) {
    int rc = run("'%s' search idx 'traore' -n 0 --facets year,month", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    /* hits in 2024-07 and 2024-09, none in 2024-08 */
    ck_assert_msg(strstr(out, "  2024-08        0\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "  undated        1\n") != NULL, "%s", out);
}
END_TEST

START_TEST(test_a_usage_error_is_one_line_pointing_to_help) {
    int rc = run("'%s' search idx -n", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
    ck_assert_int_eq(count_lines(err), 1);
    ck_assert_msg(strstr(err, "(see 'newsidx help search')") != NULL, "%s", err);
    rc = run("'%s' stats", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
    ck_assert_int_eq(count_lines(err), 1);
    rc = run("'%s'", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
    ck_assert_int_eq(count_lines(err), 1);
}
END_TEST

START_TEST(test_stats_show_the_analyzer_and_append_refuses_another) {
    int rc = run("'%s' stats idx", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "analyzer    stemming english, stopwords english\n") != NULL, "%s",
                  out);
    rc = run("'%s' stats idx --json", NEWSIDX_CLI);
    ck_assert_msg(strstr(out, "\"analyzer\": {\"stem_language\": \"english\", "
                              "\"stopwords_language\": \"english\"}") != NULL,
                  "%s", out);
    rc = run("'%s' index --append -o idx --stem french undated.jsonl", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "built with stemming 'english', not 'french'") != NULL, "%s", err);
    rc = run("'%s' index --append -o idx undated.jsonl", NEWSIDX_CLI);
    ck_assert_msg(rc == 0, "%s", err);
}
END_TEST

START_TEST(test_queries_from_a_file_give_json_lines_in_order) {
    /* the last query is longer than the 128 KiB one argv string may hold */
    char path[128];
    snprintf(path, sizeof path, "%s/q.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("traore\ncategory:x\n\"oil\n", f);
    fputs("traore", f);
    for (int i = 0; i < 200000; i++) fputc(' ', f);
    fputs("sahel\n", f);
    fclose(f);
    int rc = run("'%s' search idx --queries q.txt -n 1 --snippets 0", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2); /* two queries had syntax errors */
    ck_assert_int_eq(count_lines(out), 4);
    char *l2 = strchr(out, '\n') + 1, *l3 = strchr(l2, '\n') + 1, *l4 = strchr(l3, '\n') + 1;
    static const char p1[] = "{\"query\":\"traore\",\"total\":";
    static const char p2[] = "{\"query\":\"category:x\",\"error\":\"unknown field 'category'";
    ck_assert_msg(strncmp(out, p1, strlen(p1)) == 0, "%.200s", out);
    ck_assert_msg(strncmp(l2, p2, strlen(p2)) == 0, "%.200s", l2);
    ck_assert_msg(strstr(l3, "\"column\":5}\n") == l4 - 12, "%.200s", l3);
    /* the same total as the short form of that query */
    ck_assert_msg(strstr(l4, "\"total\":2,") != NULL, "%.200s", l4 + 200000);
    /* standard input */
    rc = run("printf 'traore\\nsahel\\n' | '%s' search idx --queries - --count", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(count_lines(out), 2);
}
END_TEST

START_TEST(test_search_takes_several_index_directories) {
    /* a second index of the one undated article: the pair holds what idx holds plus it */
    int rc = run("'%s' index -o idx2 --stem english --stopwords english undated.jsonl && "
                 "'%s' search idx idx2 'undated' --count",
                 NEWSIDX_CLI, NEWSIDX_CLI);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(out, "2\n");
    rc = run("'%s' search idx idx2 -traore --count", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    rc = run("printf 'undated\\n' | '%s' search idx idx2 --queries - --count", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "\"total\":2,") != NULL, "%s", out);
    rc = run("'%s' search idx nosuchdir traore", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "nosuchdir") != NULL, "%s", err);
}
END_TEST

/* Writes wire.jsonl: story a (200 words) and its reprint with one word
 * changed, and story b. */
static void write_wire(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/wire.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int a = 0; a < 3; a++) {
        fprintf(f, "{\"id\":\"%s\",\"title\":\"%s\",\"date\":\"2024-0%d-01\",\"body\":\"",
                a == 0 ? "a1" : a == 1 ? "a2" : "b1", a < 2 ? "Port strike ends" : "Harvest up",
                a + 1);
        /* words of letters only (the hash leaves out words that mix in
         * digits): i in the letters a-j */
        for (int i = 0; i < 200; i++)
            fprintf(f, "%s%s%c%c%c ", a == 1 && i == 7 ? "changed" : "word", a == 2 ? "b" : "",
                    'a' + i / 100, 'a' + i / 10 % 10, 'a' + i % 10);
        fprintf(f, "dockers\"}\n");
    }
    fclose(f);
}

START_TEST(test_dups_lists_groups_and_collapse_counts_the_hidden) {
    write_wire();
    /* one thread: one segment, so the members' order (index order) is fixed */
    int rc = run("'%s' index -q --threads 1 -o wire wire.jsonl", NEWSIDX_CLI);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    rc = run("'%s' dups wire", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(out, "2 articles\n"
                          "  a1  Port strike ends\n"
                          "  a2  Port strike ends\n"
                          "\n"
                          "1 group of near-duplicates\n");
    rc = run("'%s' dups wire --json --max-distance 5", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(out, "{\"max_distance\":5,\"groups\":[[{\"id\":\"a1\",\"title\":"
                          "\"Port strike ends\"},{\"id\":\"a2\",\"title\":\"Port strike ends\"}]]}\n");
    rc = run("'%s' dups wire --max-distance 17", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
    rc = run("'%s' dups idx", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "group") != NULL, "%s", out);
    /* search: without --collapse three hits, with it two, one "+1 similar" */
    rc = run("'%s' search wire dockers --snippets 0", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(strstr(out, "3. "));
    ck_assert_ptr_null(strstr(out, "similar"));
    rc = run("'%s' search wire dockers --snippets 0 --collapse", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_null(strstr(out, "3. "));
    ck_assert_msg(strstr(out, "  +1 similar\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\n3 results in ") != NULL, "%s", out); /* the total counts all */
    rc = run("'%s' search wire dockers --snippets 0 --fields title --collapse=2 --json", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "\"similar\":1,") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\"similar\":0,") != NULL, "%s", out);
    rc = run("'%s' search wire dockers --json", NEWSIDX_CLI);
    ck_assert_msg(strstr(out, "similar") == NULL, "%s", out);
    rc = run("'%s' search wire dockers --collapse=0", NEWSIDX_CLI);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "--collapse=D needs a number of bits, 1 to 16") != NULL, "%s", err);
}
END_TEST

static Suite *cli_suite(void) {
    Suite *s = suite_create("search-cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_stored_but_unindexed_field_is_an_error_naming_the_searchable_ones);
    tcase_add_test(tc, test_queries_that_match_nothing_or_were_cut_print_a_note);
    tcase_add_test(tc, test_fields_show_in_text_output);
    tcase_add_test(tc, test_color_follows_the_flag_and_no_color);
    tcase_add_test(tc, test_control_bytes_from_the_input_never_reach_the_terminal);
    tcase_add_test(tc, test_histograms_show_empty_months_and_undated_hits);
    tcase_add_test(tc, test_a_usage_error_is_one_line_pointing_to_help);
    tcase_add_test(tc, test_stats_show_the_analyzer_and_append_refuses_another);
    tcase_add_test(tc, test_queries_from_a_file_give_json_lines_in_order);
    tcase_add_test(tc, test_search_takes_several_index_directories);
    tcase_add_test(tc, test_dups_lists_groups_and_collapse_counts_the_hidden);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return nxt_run(cli_suite(), CK_FORK_GETENV); }
