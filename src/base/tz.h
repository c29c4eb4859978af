/*
 * tz: time parsing, formatting and local-time maths for the practice's zone.
 *
 * Everything nudged stores is UTC ("YYYY-MM-DDTHH:MM:SSZ"); everything it
 * shows is in practice.timezone.  glibc has no per-call zone API, so
 * tz_set() selects the zone for the whole (single-threaded) process through
 * TZ; every other function is pure given that choice and never reads the
 * clock: "now" is always a parameter.
 *
 * Local wall times that do not exist (the spring gap) mean the same wall
 * time one hour later (precisely: shifted by the length of the gap); wall
 * times that occur twice (the autumn repeat) mean the first occurrence.
 *
 * Durations: "90m", "48h", "2d", "1h30m", "45s": an integer with a unit
 * from s m h d, units combined largest first; the total is > 0 and at most
 * 366 days.
 */
#ifndef NUDGED_TZ_H
#define NUDGED_TZ_H

#include <stddef.h>
#include <time.h>

#define TZ_UTC_LEN	21	/* "YYYY-MM-DDTHH:MM:SSZ" + NUL */

/* A name from the tz database (e.g. "Europe/London"); 0 or -1 with err. */
int	 tz_set(const char *name, char *err, size_t errlen);
int	 tz_valid(const char *name);	/* 1 if a real zone file exists */

/* Exactly "YYYY-MM-DDTHH:MM:SSZ", a real date. 0 or -1. */
int	 tz_parse_utc(const char *, time_t *);
/*
 * What the database accepts: "...Z", "...+HH:MM" / "...-HH:MM", or bare
 * "YYYY-MM-DDTHH:MM[:SS]" in local time.  A space is accepted for 'T'.
 */
int	 tz_parse_any(const char *, time_t *);
void	 tz_format_utc(time_t, char buf[TZ_UTC_LEN]);

/* Local wall time (practice zone) -> UTC, with the gap/repeat rules above. */
int	 tz_local_to_utc(int y, int mon, int day, int hour, int min, int sec,
	    time_t *out);
/* UTC -> local broken-down time (tm_year+1900, tm_mon+1 as usual in struct tm). */
void	 tz_to_local(time_t, struct tm *);

/* English whatever the locale: "Thursday 3 December 2026". */
void	 tz_format_date(time_t, char *buf, size_t len);
/* "14:00", 24-hour local. */
void	 tz_format_time(time_t, char *buf, size_t len);
/* Local date of an instant as "YYYY-MM-DD". */
void	 tz_format_local_date(time_t, char *buf, size_t len);

/* "YYYY-MM-DD", a real date. 0 or -1. */
int	 tz_parse_date(const char *, int *y, int *mon, int *day);
/* "HH:MM" 00:00..23:59 -> minutes since midnight. 0 or -1. */
int	 tz_parse_hhmm(const char *, int *minutes);
/*
 * s failed to parse but has the shape of form ('9' a digit), e.g.
 * "9999-99-99" or "9999-99-99T99:99:99Z": 1 with why ("February 2026 has
 * 28 days") when it names a day or time that does not exist, else 0.
 */
int	 tz_impossible(const char *s, const char *form, char *why, size_t len);
/* Civil date arithmetic (no zone): add days to y-m-d, normalising. */
void	 tz_date_add_days(int *y, int *mon, int *day, long days);
/* Days from 1970-01-01 to the civil date (can be negative). */
long	 tz_days_from_civil(int y, int mon, int day);

/* Durations as described above.  0 or -1. */
int	 dur_parse(const char *, long *seconds);
/* Shortest form: 172800 -> "2d", 5400 -> "1h30m". */
void	 dur_format(long seconds, char *buf, size_t len);

#endif
