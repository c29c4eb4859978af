/*
 * tz: the practice's time zone, instants in UTC, civil dates, durations.
 *
 * Instants are time_t (POSIX seconds, no leap seconds).  The only state is
 * the process's TZ, chosen once by tz_set(): glibc offers no per-call zone
 * API (no localtime_z), so the zone has to be process-global, which is safe
 * because nudged and nudgectl are single-threaded and nothing else in them
 * touches TZ.  localtime_r() does not re-read TZ on its own (only
 * localtime() does), hence the explicit tzset() after setenv().
 *
 * Everything that is not about the zone (UTC parsing and formatting, civil
 * date arithmetic, durations) is computed here from first principles so it
 * cannot depend on TZ or the locale.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/tz.h"
#include "base/util.h"

#define TZ_DEFAULT_DIR	"/usr/share/zoneinfo"
#define TZ_NAME_MAX	255
#define TZ_DAY		86400L
#define TZ_YEAR_MIN	1
#define TZ_YEAR_MAX	9999
/* Offsets east of UTC in use anywhere today lie within -12:00..+14:00. */
#define TZ_OFFSET_MAX_H	14
#define DUR_MAX		(366L * TZ_DAY)
/* ~100,000 years: keeps every year an int, far beyond any real use. */
#define TZ_DAYS_CLAMP	36524250L

static const char *const tz_wdays[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};
static const char *const tz_months[] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"
};

/* Echo a rejected name only when that cannot garble a log line. */
static int
tz_quotable(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (s[n] < 0x20 || s[n] > 0x7e || s[n] == '"' || n >= 64)
			return 0;
	return 1;
}

/*
 * Only names that can be nothing but a path below the zone directory: no
 * absolute paths, no "..", no characters a zone name never has.  The ".."
 * test is redundant while '.' is refused, and stays so that widening the
 * character set later cannot open a path traversal.
 */
static int
tz_name_ok(const char *name)
{
	const char *p;

	if (name == NULL || *name == '\0' || *name == '/' ||
	    strlen(name) > TZ_NAME_MAX || strstr(name, "..") != NULL)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '+' ||
		    *p == '-' || *p == '/')
			continue;
		return 0;
	}
	/* "right/..." zones count leap seconds; time_t arithmetic here would
	 * be off by tens of seconds. */
	if (strncmp(name, "right/", 6) == 0)
		return 0;
	return 1;
}

/* 1 if name is a regular TZif file under the zone directory glibc uses. */
static int
tz_file_ok(const char *name)
{
	char path[PATH_MAX], magic[4];
	const char *dir;
	struct stat st;
	ssize_t n;
	int fd, ok;

	if ((dir = getenv("TZDIR")) == NULL || *dir == '\0')
		dir = TZ_DEFAULT_DIR;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	ok = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		do
			n = read(fd, magic, sizeof(magic));
		while (n == -1 && errno == EINTR);
		ok = n == (ssize_t)sizeof(magic) &&
		    memcmp(magic, "TZif", sizeof(magic)) == 0;
	}
	close(fd);
	return ok;
}

int
tz_valid(const char *name)
{
	return tz_name_ok(name) && tz_file_ok(name);
}

int
tz_set(const char *name, char *err, size_t errlen)
{
	char env[TZ_NAME_MAX + 2];

	if (name == NULL || *name == '\0') {
		errf(err, errlen, "empty time zone name");
		return -1;
	}
	if (!tz_valid(name)) {
		if (tz_quotable(name))
			errf(err, errlen, "unknown time zone \"%s\"", name);
		else
			errf(err, errlen, "unknown time zone");
		return -1;
	}
	/* The colon makes glibc read the file; without it "EST5EDT"-style
	 * names could be taken as POSIX rules instead. */
	snprintf(env, sizeof(env), ":%s", name);
	if (setenv("TZ", env, 1) == -1) {
		errf(err, errlen, "cannot set time zone \"%s\"", name);
		return -1;
	}
	tzset();
	return 0;
}

/* Civil date arithmetic after Howard Hinnant's chrono-compatible algorithms. */
static long long
tz_civil_days(long long y, long long m, long long d)
{
	long long era, yoe, doy, doe;

	/* Fold an out-of-range month into the year so callers may normalise. */
	y += (m - 1 >= 0 ? (m - 1) / 12 : (m - 12) / 12);
	m = ((m - 1) % 12 + 12) % 12 + 1;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
tz_civil_from(long long z, long long *y, int *m, int *d)
{
	long long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
tz_mdays(int y, int m)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

static int
tz_date_ok(int y, int m, int d)
{
	return y >= TZ_YEAR_MIN && y <= TZ_YEAR_MAX && m >= 1 && m <= 12 &&
	    d >= 1 && d <= tz_mdays(y, m);
}

/* Leap seconds do not exist in time_t, so :60 is refused, not folded. */
static int
tz_clock_ok(int h, int mi, int s)
{
	return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59;
}

long
tz_days_from_civil(int y, int mon, int day)
{
	return (long)tz_civil_days(y, mon, day);
}

void
tz_date_add_days(int *y, int *mon, int *day, long days)
{
	long long z, yy;

	if (days > TZ_DAYS_CLAMP)
		days = TZ_DAYS_CLAMP;
	else if (days < -TZ_DAYS_CLAMP)
		days = -TZ_DAYS_CLAMP;
	z = tz_civil_days(*y, *mon, *day) + days;
	tz_civil_from(z, &yy, mon, day);
	*y = (int)yy;
}

/* Exactly n decimal digits at s. */
static int
tz_digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* "YYYY-MM-DD" at s (not necessarily terminated there), a real date. */
static int
tz_scan_date(const char *s, int *y, int *m, int *d)
{
	if (tz_digits(s, 4, y) == -1 || s[4] != '-' ||
	    tz_digits(s + 5, 2, m) == -1 || s[7] != '-' ||
	    tz_digits(s + 8, 2, d) == -1)
		return -1;
	return tz_date_ok(*y, *m, *d) ? 0 : -1;
}

/* "HH:MM" at s, 00:00..23:59. */
static int
tz_scan_hhmm(const char *s, int *h, int *mi)
{
	if (tz_digits(s, 2, h) == -1 || s[2] != ':' ||
	    tz_digits(s + 3, 2, mi) == -1)
		return -1;
	return *h <= 23 && *mi <= 59 ? 0 : -1;
}

static time_t
tz_utc_seconds(int y, int m, int d, int h, int mi, int s)
{
	return (time_t)(tz_civil_days(y, m, d) * TZ_DAY + h * 3600L +
	    mi * 60L + s);
}

int
tz_parse_utc(const char *s, time_t *out)
{
	int y, m, d, h, mi, sec;

	if (s == NULL || strlen(s) != TZ_UTC_LEN - 1 ||
	    tz_scan_date(s, &y, &m, &d) == -1 || s[10] != 'T' ||
	    tz_scan_hhmm(s + 11, &h, &mi) == -1 || s[16] != ':' ||
	    tz_digits(s + 17, 2, &sec) == -1 || sec > 59 || s[19] != 'Z')
		return -1;
	*out = tz_utc_seconds(y, m, d, h, mi, sec);
	return 0;
}

int
tz_parse_any(const char *s, time_t *out)
{
	const char *p;
	int y, m, d, h, mi, sec, oh, om;
	long off;

	if (s == NULL || tz_scan_date(s, &y, &m, &d) == -1 ||
	    (s[10] != 'T' && s[10] != ' ') ||
	    tz_scan_hhmm(s + 11, &h, &mi) == -1)
		return -1;
	p = s + 16;
	sec = 0;
	if (*p == ':') {
		if (tz_digits(p + 1, 2, &sec) == -1 || sec > 59)
			return -1;
		p += 3;
	}
	if (*p == '\0')
		return tz_local_to_utc(y, m, d, h, mi, sec, out);
	if (strcmp(p, "Z") == 0) {
		*out = tz_utc_seconds(y, m, d, h, mi, sec);
		return 0;
	}
	if ((*p != '+' && *p != '-') || strlen(p) != 6 ||
	    tz_digits(p + 1, 2, &oh) == -1 || p[3] != ':' ||
	    tz_digits(p + 4, 2, &om) == -1 || oh > TZ_OFFSET_MAX_H ||
	    om > 59 || (oh == TZ_OFFSET_MAX_H && om > 0))
		return -1;
	off = oh * 3600L + om * 60L;
	if (*p == '-')
		off = -off;
	/* The offset says how far local is ahead of UTC. */
	*out = tz_utc_seconds(y, m, d, h, mi, sec) - off;
	return 0;
}

/* v (0 <= v < 10^n) as n decimal digits, zero-padded. */
static void
tz_put_digits(char *p, long v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
tz_format_utc(time_t t, char buf[TZ_UTC_LEN])
{
	long long days, secs, y;
	int m, d;

	days = (long long)t / TZ_DAY;
	secs = (long long)t % TZ_DAY;
	if (secs < 0) {
		secs += TZ_DAY;
		days--;
	}
	tz_civil_from(days, &y, &m, &d);
	/* Outside the four-digit years no valid input produces; keep the
	 * fixed width rather than overflow the caller's buffer. */
	if (y < 0)
		y = 0;
	else if (y > TZ_YEAR_MAX)
		y = TZ_YEAR_MAX;
	/*
	 * By hand, not snprintf: every planned row formats several of these
	 * (issue 12: the pass's per-row cost).  All fields fixed width.
	 */
	tz_put_digits(buf, (long)y, 4);
	buf[4] = '-';
	tz_put_digits(buf + 5, m, 2);
	buf[7] = '-';
	tz_put_digits(buf + 8, d, 2);
	buf[10] = 'T';
	tz_put_digits(buf + 11, (long)(secs / 3600), 2);
	buf[13] = ':';
	tz_put_digits(buf + 14, (long)(secs / 60 % 60), 2);
	buf[16] = ':';
	tz_put_digits(buf + 17, (long)(secs % 60), 2);
	buf[19] = 'Z';
	buf[20] = '\0';
}

void
tz_to_local(time_t t, struct tm *tm)
{
	if (localtime_r(&t, tm) == NULL && gmtime_r(&t, tm) == NULL)
		memset(tm, 0, sizeof(*tm));
}

static int
tz_same_wall(const struct tm *tm, int y, int m, int d, int h, int mi, int s)
{
	return tm->tm_year + 1900 == y && tm->tm_mon + 1 == m &&
	    tm->tm_mday == d && tm->tm_hour == h && tm->tm_min == mi &&
	    tm->tm_sec == s;
}

static int
tz_offset_at(time_t t, long *off)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	*off = tm.tm_gmtoff;
	return 0;
}

/*
 * mktime() with tm_isdst = -1 resolves gaps and repeats differently across
 * libcs (and glibc's choice depends on the previous call), so the rules are
 * applied here: try every UTC offset the zone uses within a day either side
 * of the wall time and keep the instants that read back as that wall time.
 */
int
tz_local_to_utc(int y, int mon, int day, int hour, int min, int sec,
    time_t *out)
{
	static const long probes[] = { -TZ_DAY, -TZ_DAY / 2, 0, TZ_DAY / 2,
	    TZ_DAY };
	long offs[sizeof(probes) / sizeof(probes[0])], o, maxoff, before;
	size_t i, j, noffs;
	time_t wall, t, best;
	struct tm tm;
	int found;

	if (!tz_date_ok(y, mon, day) || !tz_clock_ok(hour, min, sec))
		return -1;
	/* The wall time's fields read as if they were UTC. */
	wall = tz_utc_seconds(y, mon, day, hour, min, sec);

	noffs = 0;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (tz_offset_at(wall + probes[i], &o) == -1)
			return -1;
		for (j = 0; j < noffs && offs[j] != o; j++)
			;
		if (j == noffs)
			offs[noffs++] = o;
	}

	found = 0;
	best = 0;
	maxoff = offs[0];
	for (i = 0; i < noffs; i++) {
		if (offs[i] > maxoff)
			maxoff = offs[i];
		t = wall - offs[i];
		if (localtime_r(&t, &tm) == NULL)
			return -1;
		if (!tz_same_wall(&tm, y, mon, day, hour, min, sec))
			continue;
		/* The earliest match is the first pass through a repeat. */
		if (!found || t < best)
			best = t;
		found = 1;
	}
	if (found) {
		*out = best;
		return 0;
	}

	/*
	 * A gap: clocks jumped forward, so reading the wall time with the
	 * largest offset lands before the jump.  The offset in force there
	 * carries the wall time across the gap, shifted by its length.
	 */
	if (tz_offset_at(wall - maxoff, &before) == -1)
		return -1;
	*out = wall - before;
	return 0;
}

void
tz_format_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	tz_to_local(t, &tm);
	if (tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, "%s %d %s %d", tz_wdays[tm.tm_wday], tm.tm_mday,
	    tz_months[tm.tm_mon], tm.tm_year + 1900);
}

void
tz_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	tz_to_local(t, &tm);
	snprintf(buf, len, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

void
tz_format_local_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	tz_to_local(t, &tm);
	snprintf(buf, len, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday);
}

int
tz_parse_date(const char *s, int *y, int *mon, int *day)
{
	int yy, mm, dd;

	if (s == NULL || strlen(s) != 10 ||
	    tz_scan_date(s, &yy, &mm, &dd) == -1)
		return -1;
	*y = yy;
	*mon = mm;
	*day = dd;
	return 0;
}

int
tz_parse_hhmm(const char *s, int *minutes)
{
	int h, mi;

	if (s == NULL || strlen(s) != 5 || tz_scan_hhmm(s, &h, &mi) == -1)
		return -1;
	*minutes = h * 60 + mi;
	return 0;
}

static long
dur_unit(char c)
{
	switch (c) {
	case 'd':
		return TZ_DAY;
	case 'h':
		return 3600;
	case 'm':
		return 60;
	case 's':
		return 1;
	default:
		return 0;
	}
}

/*
 * Each number is capped at the overall maximum while it is read, so no
 * intermediate value can overflow whatever the input.
 */
int
dur_parse(const char *s, long *seconds)
{
	long total, n, unit, last;
	const char *p;

	if (s == NULL || *s == '\0')
		return -1;
	total = 0;
	last = 0;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		for (n = 0; *p >= '0' && *p <= '9'; p++) {
			n = n * 10 + (*p - '0');
			if (n > DUR_MAX)
				return -1;
		}
		/* Units largest first, each once: "1h30m", never "30m1h". */
		if ((unit = dur_unit(*p)) == 0 || (last != 0 && unit >= last))
			return -1;
		if (n > DUR_MAX / unit)
			return -1;
		total += n * unit;
		if (total > DUR_MAX)
			return -1;
		last = unit;
	}
	if (total <= 0)
		return -1;
	*seconds = total;
	return 0;
}

void
dur_format(long seconds, char *buf, size_t len)
{
	static const char units[] = "dhms";
	unsigned long v, u;
	size_t off, i;
	int n;

	if (len == 0)
		return;
	buf[0] = '\0';
	off = 0;
	if (seconds < 0) {
		snprintf(buf, len, "-");
		off = 1;
		v = 0UL - (unsigned long)seconds;
	} else
		v = (unsigned long)seconds;
	if (v == 0) {
		snprintf(buf + (off < len ? off : len - 1),
		    off < len ? len - off : 1, "0s");
		return;
	}
	for (i = 0; units[i] != '\0'; i++) {
		u = (unsigned long)dur_unit(units[i]);
		if (v / u == 0)
			continue;
		if (off >= len)
			return;
		n = snprintf(buf + off, len - off, "%lu%c", v / u, units[i]);
		if (n < 0)
			return;
		off += (size_t)n;
		v %= u;
	}
}

/*
 * When a date or time that failed to parse has the right shape (digits
 * where form has '9', the other characters as in form, up to form's
 * length), it names a day or time that does not exist: say which part is
 * wrong in why and return 1.  0: the shape itself is wrong.
 */
int
tz_impossible(const char *s, const char *form, char *why, size_t len)
{
	static const char *const months[] = { "January", "February", "March",
	    "April", "May", "June", "July", "August", "September", "October",
	    "November", "December" };
	size_t i, n = strlen(form);
	int y = 0, m = 0, d = 0, h = 0, mi = 0, sec = 0;

	if (s == NULL || strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (form[i] == '9' ? (s[i] < '0' || s[i] > '9') : s[i] != form[i])
			return 0;
	if (n >= 10 && form[4] == '-' && form[7] == '-') {
		tz_digits(s, 4, &y);
		tz_digits(s + 5, 2, &m);
		tz_digits(s + 8, 2, &d);
		if (m < 1 || m > 12) {
			snprintf(why, len, "there is no month %d", m);
			return 1;
		}
		if (y < TZ_YEAR_MIN || y > TZ_YEAR_MAX) {
			snprintf(why, len, "the year must be from %d to %d",
			    TZ_YEAR_MIN, TZ_YEAR_MAX);
			return 1;
		}
		if (d < 1 || d > tz_mdays(y, m)) {
			snprintf(why, len, "%s %d has %d days", months[m - 1], y,
			    tz_mdays(y, m));
			return 1;
		}
	}
	if (n >= 16 && form[13] == ':') {
		tz_digits(s + 11, 2, &h);
		tz_digits(s + 14, 2, &mi);
		sec = 0;
		if (n >= 19 && form[16] == ':')
			tz_digits(s + 17, 2, &sec);
		if (!tz_clock_ok(h, mi, sec)) {
			if (n >= 19 && form[16] == ':')
				snprintf(why, len, "%02d:%02d:%02d is not a time "
				    "of day", h, mi, sec);
			else
				snprintf(why, len, "%02d:%02d is not a time of "
				    "day", h, mi);
			return 1;
		}
	}
	return 0;
}
