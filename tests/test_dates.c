/* test_dates — newsidx_parse_date: every accepted form, every rejected one,
 * calendar limits. Expected values computed with Python's calendar.timegm. */
#include "newsidx.h"
#include "util/date.h"

#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int parse(const char *s, int64_t *out) {
    return newsidx_parse_date(s, strlen(s), out);
}

/* Asserts that s parses to want (named in the failure message). */
#define ASSERT_DATE(s, want)                                                   \
    do {                                                                       \
        int64_t got_ = 0;                                                      \
        int rc_ = parse((s), &got_);                                           \
        ck_assert_msg(rc_ == NEWSIDX_OK, "'%s' did not parse (rc %d)", (s), rc_); \
        ck_assert_msg(got_ == (int64_t)(want), "'%s' -> %lld, want %lld", (s),  \
                      (long long)got_, (long long)(want));                     \
    } while (0)

#define ASSERT_NOT_DATE(s)                                                     \
    do {                                                                       \
        int64_t got_ = 12345;                                                  \
        int rc_ = parse((s), &got_);                                           \
        ck_assert_msg(rc_ == NEWSIDX_ERR_INPUT, "'%s' parsed to %lld", (s),     \
                      (long long)got_);                                        \
        ck_assert_msg(got_ == 12345, "'%s' wrote its output on failure", (s));  \
    } while (0)

#define JUN23 1719100800 /* 2024-06-23T00:00:00Z */

START_TEST(test_iso_date_only_is_midnight_utc) {
    ASSERT_DATE("2024-06-23", JUN23);
    ASSERT_DATE("1970-01-01", 0);
    ASSERT_DATE("1987-02-26", 541296000);
}
END_TEST

START_TEST(test_iso_date_time_forms) {
    ASSERT_DATE("1987-02-26T15:01:01Z", 541350061);
    ASSERT_DATE("1987-02-26T15:01:01", 541350061);  /* no zone: UTC */
    ASSERT_DATE("1987-02-26 15:01:01", 541350061);  /* space for T */
    ASSERT_DATE("1987-02-26t15:01:01z", 541350061); /* lower case */
    ASSERT_DATE("1987-02-26T15:01Z", 541350060);    /* no seconds */
    ASSERT_DATE("1987-02-26T15:01:01.999Z", 541350061); /* fraction truncated */
    ASSERT_DATE("1987-02-26T15:01:01,5Z", 541350061);
    ASSERT_DATE("1987-02-26T15:01:01.123456789+00:00", 541350061);
}
END_TEST

START_TEST(test_iso_zone_offsets_are_subtracted) {
    ASSERT_DATE("2024-06-23T05:30:00+05:30", JUN23);
    ASSERT_DATE("2024-06-23T05:30:00+0530", JUN23);
    ASSERT_DATE("2024-06-22T16:00:00-08:00", JUN23);
    ASSERT_DATE("2024-06-22T16:00:00-0800", JUN23);
    ASSERT_DATE("2024-06-23T02:00:00+02", JUN23);
    ASSERT_DATE("2024-06-23 00:00:00 +0000", JUN23);
    ASSERT_DATE("2024-06-23 00:00:00 UTC", JUN23);
    ASSERT_DATE("2024-06-22 20:00:00 EDT", JUN23);
}
END_TEST

START_TEST(test_rfc2822_with_and_without_weekday) {
    ASSERT_DATE("Thu, 26 Feb 1987 15:01:01 +0000", 541350061);
    ASSERT_DATE("26 Feb 1987 15:01:01 +0000", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 15:01:01 GMT", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 16:01:01 +0100", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 15:01 +0000", 541350060);
    ASSERT_DATE("Thu, 26 Feb 1987 15:01:01 +0000 (UTC)", 541350061);
    ASSERT_DATE("Thursday, 26 February 1987 15:01:01 +0000", 541350061);
    ASSERT_DATE("thu, 26 feb 1987 15:01:01 gmt", 541350061);
    ASSERT_DATE("Thu, 26 Feb 87 15:01:01 +0000", 541350061); /* obsolete 2-digit year */
    ASSERT_DATE("Sat, 1 Jan 00 00:00:00 GMT", 946684800);    /* 00..49 -> 20xx */
}
END_TEST

START_TEST(test_rfc2822_zone_names) {
    /* 1987-02-26T15:01:01Z written in each North American zone */
    ASSERT_DATE("Thu, 26 Feb 1987 15:01:01 UT", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 15:01:01 UTC", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 10:01:01 EST", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 11:01:01 EDT", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 09:01:01 CST", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 10:01:01 CDT", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 08:01:01 MST", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 09:01:01 MDT", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 07:01:01 PST", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 08:01:01 PDT", 541350061);
    ASSERT_DATE("Thu, 26 Feb 1987 15:01:01 Z", 541350061);
    ASSERT_NOT_DATE("Thu, 26 Feb 1987 15:01:01 XYZ");
    ASSERT_NOT_DATE("Thu, 26 Feb 1987 15:01:01 CEST");
}
END_TEST

START_TEST(test_newspaper_forms_with_month_names) {
    ASSERT_DATE("Jun 23, 2024", JUN23);
    ASSERT_DATE("June 23, 2024", JUN23);
    ASSERT_DATE("June 23 2024", JUN23);
    ASSERT_DATE("Jun. 23, 2024", JUN23);
    ASSERT_DATE("23 June 2024", JUN23);
    ASSERT_DATE("23 Jun 2024", JUN23);
    ASSERT_DATE("23 JUNE 2024", JUN23);
    ASSERT_DATE("Sunday, June 23, 2024", JUN23);
    ASSERT_DATE("Sun, 23 Jun 2024", JUN23);
    ASSERT_DATE("Sept 1, 2024", 1725148800);
    ASSERT_DATE("Jun 23, 2024 10:00 UTC", JUN23 + 36000);
    ASSERT_DATE("Jun 23, 2024, 10:00:00 -0100", JUN23 + 39600);
    ASSERT_DATE("June 23, 2024 at 10:00", JUN23 + 36000);
}
END_TEST

START_TEST(test_unix_seconds_of_nine_to_eleven_digits) {
    ASSERT_DATE("1719100800", JUN23);
    ASSERT_DATE("100000000", 100000000);
    ASSERT_DATE("99999999999", 99999999999LL);
    ASSERT_DATE(" 1719100800\n", JUN23);
    ASSERT_NOT_DATE("2024");          /* a year, not a timestamp */
    ASSERT_NOT_DATE("20240623");      /* 8 digits: ambiguous */
    ASSERT_NOT_DATE("1719100800000"); /* milliseconds are not guessed */
    ASSERT_NOT_DATE("-1719100800");
}
END_TEST

START_TEST(test_surrounding_white_space_is_trimmed) {
    ASSERT_DATE("  2024-06-23\t", JUN23);
    ASSERT_DATE("\r\n Jun 23, 2024 \r\n", JUN23);
}
END_TEST

START_TEST(test_text_with_noise_is_not_a_date) {
    ASSERT_NOT_DATE("4 min readJun 23, 2024");
    ASSERT_NOT_DATE("Published Jun 23, 2024");
    ASSERT_NOT_DATE("Jun 23, 2024 by Staff");
    ASSERT_NOT_DATE("2024-06-23 and more");
    ASSERT_NOT_DATE("2024-06-23T10:00:00Z extra");
    ASSERT_NOT_DATE("2024-06-23garbage");
    ASSERT_NOT_DATE("23June2024");
    ASSERT_NOT_DATE("");
    ASSERT_NOT_DATE("   ");
    ASSERT_NOT_DATE("yesterday");
    ASSERT_NOT_DATE("2024/06/23");
    ASSERT_NOT_DATE("06/23/2024");
    ASSERT_NOT_DATE("2024-6-23");
    ASSERT_NOT_DATE("02024-06-23");
    ASSERT_NOT_DATE("Jun 23, 2024, 3:01 PM"); /* 12-hour clocks are refused */
    ASSERT_NOT_DATE("Thu, 26 Feb 1987 15:01:01 +0000 (UTC");
    ASSERT_NOT_DATE("Frisday, 26 Feb 1987");
}
END_TEST

START_TEST(test_out_of_range_fields_are_rejected) {
    ASSERT_NOT_DATE("2024-00-10");
    ASSERT_NOT_DATE("2024-13-01");
    ASSERT_NOT_DATE("2024-06-00");
    ASSERT_NOT_DATE("2024-06-31");
    ASSERT_NOT_DATE("2024-04-31");
    ASSERT_NOT_DATE("2024-01-32");
    ASSERT_NOT_DATE("2024-06-23T24:00:00Z");
    ASSERT_NOT_DATE("2024-06-23T23:60:00Z");
    ASSERT_NOT_DATE("2024-06-23T23:59:61Z");
    ASSERT_NOT_DATE("2024-06-23T10:00:00+24:00");
    ASSERT_NOT_DATE("2024-06-23T10:00:00+05:60");
    ASSERT_NOT_DATE("Jun 31, 2024");
    ASSERT_NOT_DATE("32 Jan 2024");
    ASSERT_NOT_DATE("Thu, 26 Feb 1987 25:01:01 +0000");
}
END_TEST

START_TEST(test_leap_years_follow_the_gregorian_rules) {
    ASSERT_DATE("2024-02-29", 1709164800); /* divisible by 4 */
    ASSERT_DATE("2000-02-29", 951782400);  /* divisible by 400 */
    ASSERT_NOT_DATE("2023-02-29");         /* not divisible by 4 */
    ASSERT_NOT_DATE("1900-02-29");         /* by 100 but not 400 */
    ASSERT_NOT_DATE("2100-02-29");
    ASSERT_DATE("1900-03-01", -2203891200LL);
    ASSERT_DATE("29 Feb 2024", 1709164800);
    ASSERT_NOT_DATE("Feb 29, 2023");
}
END_TEST

START_TEST(test_calendar_limits) {
    ASSERT_DATE("0001-01-01", -62135596800LL);
    ASSERT_DATE("9999-12-31T23:59:59Z", 253402300799LL);
    ASSERT_DATE("1969-12-31T23:59:59Z", -1);
    ASSERT_DATE("2016-12-31T23:59:60Z", 1483228800); /* leap second */
    ASSERT_DATE("2038-01-19T03:14:08Z", 2147483648LL); /* past 32 bits */
}
END_TEST

START_TEST(test_every_day_matches_gmtime_for_three_centuries) {
    /* gmtime_r is only the oracle here; the parser does not use libc time */
    char buf[64];
    for (int64_t t = -2208988800LL; t < 7258118400LL; t += 86400 + 3607) {
        time_t tt = (time_t)t;
        struct tm tm;
        ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        ASSERT_DATE(buf, t);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
        ASSERT_DATE(buf, t);
    }
}
END_TEST

START_TEST(test_length_bounds_the_text_read) {
    const char *s = "2024-06-23T10:00:00Z";
    int64_t out;
    ck_assert_int_eq(newsidx_parse_date(s, 10, &out), NEWSIDX_OK); /* "2024-06-23" */
    ck_assert_int_eq(out, JUN23);
    ck_assert_int_eq(newsidx_parse_date(s, 0, &out), NEWSIDX_ERR_INPUT);
    ck_assert_int_eq(newsidx_parse_date(NULL, 0, &out), NEWSIDX_ERR_INPUT);
    /* not NUL-terminated: bytes past len are never read */
    char raw[10];
    memcpy(raw, "2024-06-23", 10);
    ck_assert_int_eq(newsidx_parse_date(raw, 10, &out), NEWSIDX_OK);
    ck_assert_int_eq(out, JUN23);
}
END_TEST

/* The calendar maths the date facets and the query's periods share with
 * the parser: day -> date -> day is the identity over ±2,700 years, every
 * day lies inside its month, and the dates agree with gmtime. */
START_TEST(test_calendar_maths_round_trips_and_matches_gmtime) {
    /* every day at full size; every 7th in the small run (valgrind) */
    int64_t step = nxt_small() ? 7 : 1;
    for (int64_t day = -1000000; day <= 1000000; day += step) {
        int64_t y;
        int m, d;
        nx_civil_from_days(day, &y, &m, &d);
        ck_assert_msg(m >= 1 && m <= 12 && d >= 1 && d <= nx_days_in_month(y, m),
                      "day %lld gave %lld-%d-%d", (long long)day, (long long)y, m, d);
        ck_assert_int_eq(nx_days_from_civil(y, m, d), day);
        if (day % 97 == 0 && y >= 1900 && y < 2200) {
            time_t tt = (time_t)(day * 86400);
            struct tm tm;
            ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
            ck_assert_int_eq(tm.tm_year + 1900, y);
            ck_assert_int_eq(tm.tm_mon + 1, m);
            ck_assert_int_eq(tm.tm_mday, d);
        }
    }
    int64_t y;
    int m;
    nx_civil_from_days(-1, &y, &m, NULL); /* d may be NULL */
    ck_assert_int_eq(y, 1969);
    ck_assert_int_eq(m, 12);
    ck_assert_int_eq(nx_days_in_month(1900, 2), 28);
    ck_assert_int_eq(nx_days_in_month(2000, 2), 29);
    ck_assert_int_eq(nx_days_in_month(2024, 2), 29);
    ck_assert_int_eq(nx_days_in_month(2023, 2), 28);
    ck_assert_int_eq(nx_days_in_month(2024, 12), 31);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dates");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_iso_date_only_is_midnight_utc);
    tcase_add_test(tc, test_iso_date_time_forms);
    tcase_add_test(tc, test_iso_zone_offsets_are_subtracted);
    tcase_add_test(tc, test_rfc2822_with_and_without_weekday);
    tcase_add_test(tc, test_rfc2822_zone_names);
    tcase_add_test(tc, test_newspaper_forms_with_month_names);
    tcase_add_test(tc, test_unix_seconds_of_nine_to_eleven_digits);
    tcase_add_test(tc, test_surrounding_white_space_is_trimmed);
    tcase_add_test(tc, test_text_with_noise_is_not_a_date);
    tcase_add_test(tc, test_out_of_range_fields_are_rejected);
    tcase_add_test(tc, test_leap_years_follow_the_gregorian_rules);
    tcase_add_test(tc, test_calendar_limits);
    tcase_add_test(tc, test_every_day_matches_gmtime_for_three_centuries);
    tcase_add_test(tc, test_length_bounds_the_text_read);
    tcase_add_test(tc, test_calendar_maths_round_trips_and_matches_gmtime);
    suite_add_tcase(s, tc);
    return nxt_run(s, CK_FORK_GETENV);
}
