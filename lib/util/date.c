/* date.c — newsidx_parse_date: the date formats found in article archives,
 * turned into Unix seconds (UTC). docs/INGEST.md, "Dates", lists every form.
 * Also the calendar maths of date.h, which the query's date periods and the
 * date facets share with the parser.
 *
 * Strict by design: after trimming ASCII white space the WHOLE text must be
 * one date; "4 min readJun 23, 2024" is not a date, so scraped noise never
 * lands in the date column by accident. Fields are range-checked (month
 * 1-12, day within its month with Gregorian leap years, hour < 24, minute <
 * 60, second <= 60 for a leap second, zone offset < 24h).
 *
 * It lives in util/ because the writer (index/) and the query parser
 * (search/) call it as well as the readers: the layers above all share it. */
#include "util/date.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* A cursor over the trimmed text. */
typedef struct date_cursor {
    const char *p;
    const char *end;
} date_cursor;

typedef struct date_parts {
    int64_t year;
    int month, day, hour, minute, second;
    int64_t offset_seconds; /* local time minus UTC */
} date_parts;

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}
static bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

/* ---- calendar (date.h) ------------------------------------------------- */

int64_t nx_days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void nx_civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
    if (d) *d = (int)(doy - (153 * mp + 2) / 5 + 1);
}

/* Divisible by 4, and by 400 when by 100. */
static bool is_leap_year(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int nx_days_in_month(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* ---- parsing ---------------------------------------------------------- */

static void skip_spaces(date_cursor *c) {
    while (c->p < c->end && is_space(*c->p)) c->p++;
}

/* Words and numbers of a date must be apart: "23June2024" is not a date. */
static bool need_spaces(date_cursor *c) {
    const char *start = c->p;
    skip_spaces(c);
    return c->p > start;
}

/* Reads between min and max digits; returns the count read (0 = none/fail). */
static int read_digits(date_cursor *c, int min, int max, int64_t *out) {
    int n = 0;
    int64_t v = 0;
    while (c->p + n < c->end && n < max && is_digit(c->p[n])) {
        v = v * 10 + (c->p[n] - '0');
        n++;
    }
    if (n < min) return 0;
    /* more digits than max: the number is longer than this field allows */
    if (c->p + n < c->end && is_digit(c->p[n])) return 0;
    c->p += n;
    *out = v;
    return n;
}

static bool accept_char(date_cursor *c, char ch) {
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* Reads a run of ASCII letters, lower-cased into buf (NUL-terminated). */
static size_t read_word(date_cursor *c, char *buf, size_t cap) {
    size_t n = 0;
    const char *q = c->p;
    while (q < c->end && is_alpha(*q)) {
        if (n + 1 >= cap) return 0; /* too long to be a month/day/zone name */
        buf[n++] = lower(*q);
        q++;
    }
    buf[n] = '\0';
    if (n) c->p = q;
    return n;
}

/* "jan", "january", "sept" -> 1..12; 0 if not a month name. */
static int month_from_name(const char *w) {
    static const char *const full[12] = {
        "january", "february", "march",     "april",   "may",      "june",
        "july",    "august",   "september", "october", "november", "december"};
    size_t n = strlen(w);
    if (strcmp(w, "sept") == 0) return 9;
    for (int i = 0; i < 12; i++) {
        if (strcmp(w, full[i]) == 0) return i + 1;
        if (n == 3 && strncmp(w, full[i], 3) == 0) return i + 1;
    }
    return 0;
}

static bool is_weekday_name(const char *w) {
    static const char *const full[7] = {"monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday",
                                        "sunday"};
    size_t n = strlen(w);
    for (int i = 0; i < 7; i++) {
        if (strcmp(w, full[i]) == 0) return true;
        if (n == 3 && strncmp(w, full[i], 3) == 0) return true;
    }
    return false;
}

/* Zone names of RFC 2822 section 4.3 (plus UTC and Z): offset in hours. */
static bool zone_from_name(const char *w, int *hours) {
    static const struct {
        const char *name;
        int hours;
    } zones[] = {{"z", 0},    {"ut", 0},   {"utc", 0},  {"gmt", 0},
                 {"est", -5}, {"edt", -4}, {"cst", -6}, {"cdt", -5},
                 {"mst", -7}, {"mdt", -6}, {"pst", -8}, {"pdt", -7}};
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        if (strcmp(w, zones[i].name) == 0) {
            *hours = zones[i].hours;
            return true;
        }
    }
    return false;
}

/* ±hh:mm, ±hhmm or ±hh. */
static bool parse_numeric_offset(date_cursor *c, int64_t *offset) {
    if (c->p >= c->end || (*c->p != '+' && *c->p != '-')) return false;
    int sign = *c->p == '-' ? -1 : 1;
    c->p++;
    int64_t hh, mm = 0;
    if (read_digits(c, 2, 2, &hh) == 0) {
        /* "+0530" style: four digits in a row */
        if (read_digits(c, 4, 4, &hh) == 0) return false;
        mm = hh % 100;
        hh /= 100;
    } else if (accept_char(c, ':')) {
        if (read_digits(c, 2, 2, &mm) == 0) return false;
    }
    if (hh > 23 || mm > 59) return false;
    *offset = sign * (hh * 3600 + mm * 60);
    return true;
}

/* An optional zone: numeric offset, or a name from zone_from_name, then an
 * optional RFC 2822 comment such as "(UTC)". No zone at all means UTC. */
static bool parse_zone(date_cursor *c, int64_t *offset) {
    *offset = 0;
    skip_spaces(c);
    if (c->p >= c->end) return true;
    if (*c->p == '+' || *c->p == '-') {
        if (!parse_numeric_offset(c, offset)) return false;
    } else if (is_alpha(*c->p)) {
        char w[8];
        int hours;
        if (!read_word(c, w, sizeof w) || !zone_from_name(w, &hours))
            return false;
        *offset = (int64_t)hours * 3600;
        /* "UTC+05:30", "GMT-0800" */
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
            int64_t extra;
            if (!parse_numeric_offset(c, &extra)) return false;
            *offset += extra;
        }
    }
    skip_spaces(c);
    if (c->p < c->end && *c->p == '(') {
        while (c->p < c->end && *c->p != ')') c->p++;
        if (!accept_char(c, ')')) return false;
        skip_spaces(c);
    }
    return c->p == c->end;
}

/* hh:mm[:ss[.frac]]; the fraction is truncated (the column holds seconds). */
static bool parse_clock(date_cursor *c, date_parts *d) {
    int64_t hh, mm, ss = 0;
    if (read_digits(c, 1, 2, &hh) == 0 || !accept_char(c, ':') ||
        read_digits(c, 2, 2, &mm) == 0)
        return false;
    if (accept_char(c, ':')) {
        if (read_digits(c, 2, 2, &ss) == 0) return false;
        if (c->p < c->end && (*c->p == '.' || *c->p == ',')) {
            c->p++;
            if (c->p >= c->end || !is_digit(*c->p)) return false;
            while (c->p < c->end && is_digit(*c->p)) c->p++;
        }
    }
    if (hh > 23 || mm > 59 || ss > 60) return false;
    d->hour = (int)hh;
    d->minute = (int)mm;
    d->second = (int)ss;
    return true;
}

/* What may follow a date written with words: nothing, or a clock and a zone,
 * optionally after a comma or "at" ("June 23, 2024, 3:01 PM" is not handled:
 * 12-hour clocks are rejected rather than misread). */
static bool parse_optional_time(date_cursor *c, date_parts *d) {
    skip_spaces(c);
    if (c->p == c->end) return true;
    if (accept_char(c, ',')) skip_spaces(c);
    if (c->p + 2 < c->end && lower(c->p[0]) == 'a' && lower(c->p[1]) == 't' &&
        is_space(c->p[2])) {
        c->p += 2;
        skip_spaces(c);
    }
    if (!parse_clock(c, d)) return false;
    return parse_zone(c, &d->offset_seconds);
}

static bool valid_date(const date_parts *d) {
    return d->month >= 1 && d->month <= 12 && d->day >= 1 &&
           d->day <= nx_days_in_month(d->year, d->month);
}

/* YYYY-MM-DD, then optionally [T|t| ]hh:mm[:ss[.frac]] and a zone
 * (Z, ±hh:mm, ±hhmm, ±hh, or a zone name, with an optional space before). */
static bool parse_iso(date_cursor c, date_parts *d) {
    int64_t y, m, day;
    if (read_digits(&c, 4, 4, &y) == 0 || !accept_char(&c, '-') ||
        read_digits(&c, 2, 2, &m) == 0 || !accept_char(&c, '-') ||
        read_digits(&c, 2, 2, &day) == 0)
        return false;
    d->year = y;
    d->month = (int)m;
    d->day = (int)day;
    if (c.p == c.end) return true;
    if (*c.p == 'T' || *c.p == 't' || *c.p == ' ') {
        c.p++;
        if (!parse_clock(&c, d)) return false;
        if (c.p < c.end && (*c.p == 'Z' || *c.p == 'z')) {
            c.p++;
            return c.p == c.end;
        }
        return parse_zone(&c, &d->offset_seconds);
    }
    return false;
}

/* Two-digit years of the obsolete RFC 2822 syntax (section 4.3). */
static int64_t widen_year(int64_t y, int digits) {
    if (digits == 2) return y < 50 ? 2000 + y : 1900 + y;
    return y;
}

/* [Weekday[,]] D Month YYYY [hh:mm[:ss] [zone]]   (RFC 2822, "23 June 2024")
 * [Weekday[,]] Month D[,] YYYY [[,] hh:mm[:ss] [zone]]   ("Jun 23, 2024") */
static bool parse_words(date_cursor c, date_parts *d) {
    char w[16];
    if (c.p < c.end && is_alpha(*c.p)) {
        date_cursor save = c;
        if (read_word(&c, w, sizeof w) && is_weekday_name(w)) {
            accept_char(&c, ',');
            skip_spaces(&c);
        } else {
            c = save;
        }
    }
    int64_t y, day;
    int ydigits;
    if (c.p < c.end && is_digit(*c.p)) {
        if (read_digits(&c, 1, 2, &day) == 0 || !need_spaces(&c)) return false;
        if (!read_word(&c, w, sizeof w)) return false;
        d->month = month_from_name(w);
        if (!d->month) return false;
        accept_char(&c, '.'); /* "23 Jun. 2024" */
        if (!need_spaces(&c)) return false;
        if ((ydigits = read_digits(&c, 2, 4, &y)) == 0 || ydigits == 3)
            return false;
    } else {
        if (!read_word(&c, w, sizeof w)) return false;
        d->month = month_from_name(w);
        if (!d->month) return false;
        accept_char(&c, '.');
        if (!need_spaces(&c)) return false;
        if (read_digits(&c, 1, 2, &day) == 0) return false;
        bool comma = accept_char(&c, ',');
        if (!need_spaces(&c) && !comma) return false;
        if ((ydigits = read_digits(&c, 4, 4, &y)) == 0) return false;
    }
    d->year = widen_year(y, ydigits);
    d->day = (int)day;
    /* "23 June 2024" must be followed by a space (or nothing) before a time */
    if (c.p < c.end && !is_space(*c.p) && *c.p != ',') return false;
    return parse_optional_time(&c, d);
}

int newsidx_parse_date(const char *text, size_t len, int64_t *out_seconds) {
    if (text == NULL || out_seconds == NULL) return NEWSIDX_ERR_INPUT;
    date_cursor c = {text, text + len};
    skip_spaces(&c);
    while (c.end > c.p && is_space(c.end[-1])) c.end--;
    size_t n = (size_t)(c.end - c.p);
    if (n == 0) return NEWSIDX_ERR_INPUT;

    /* Unix seconds: exactly 9 to 11 digits (1973-03-03 .. 5138-11-16).
     * Shorter runs are more likely years or counts than timestamps, and 13
     * digits would be milliseconds: both are rejected, not guessed. */
    size_t digits = 0;
    while (digits < n && is_digit(c.p[digits])) digits++;
    if (digits == n) {
        if (n < 9 || n > 11) return NEWSIDX_ERR_INPUT;
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) v = v * 10 + (c.p[i] - '0');
        *out_seconds = v;
        return NEWSIDX_OK;
    }

    date_parts d = {0};
    bool ok = digits == 4 ? parse_iso(c, &d) : parse_words(c, &d);
    if (!ok || !valid_date(&d)) return NEWSIDX_ERR_INPUT;
    *out_seconds = nx_days_from_civil(d.year, d.month, d.day) * 86400 +
                   d.hour * 3600 + d.minute * 60 + d.second - d.offset_seconds;
    return NEWSIDX_OK;
}
