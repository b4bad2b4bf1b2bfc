/* util/date.h — calendar maths of the proleptic Gregorian calendar in UTC,
 * shared by the date parser (date.c, newsidx_parse_date), the query's date
 * periods and the per-month date facets. Days count from 1970-01-01.
 *
 * No timegm()/mktime()/gmtime(): they read the TZ state, which is not
 * thread-safe everywhere, and their range is platform-defined. These are
 * Howard Hinnant's exact algorithms ("chrono-Compatible Low-Level Date
 * Algorithms"), valid for every year an int64_t of days can hold. */
#ifndef NX_DATE_H
#define NX_DATE_H

#include <stdint.h>

/* Days since 1970-01-01 of year y, month m (1-12), day d (1-31). */
int64_t nx_days_from_civil(int64_t y, int m, int d);

/* The inverse: the date of day `days` since 1970-01-01, as year, month
 * (1-12) and day (1-31); d may be NULL. */
void nx_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Days in month m (1-12) of year y: 28 to 31. */
int nx_days_in_month(int64_t y, int m);

#endif
