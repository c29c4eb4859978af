#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

static const char *log_prog = "nudged";
static int log_verbose;
static int log_journal;

void
log_init(const char *prog, int verbose)
{
	log_prog = prog;
	log_verbose = verbose;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

/*
 * One event, one line: a stray newline must not forge a second entry.
 * The journal gets the priority prefix; a terminal "PROG: WORD: " before
 * the line when prog is set.
 */
static void
log_put(int prio, int prog, const char *word, char *line)
{
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else if (prog && word != NULL)
		fprintf(stderr, "%s: %s: %s\n", log_prog, word, line);
	else if (prog)
		fprintf(stderr, "%s: %s\n", log_prog, line);
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static void
log_emit(int prio, const char *word, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	log_put(prio, 1, word, line);
}

void
log_line(int prio, const char *line)
{
	char buf[2048];

	snprintf(buf, sizeof(buf), "%s", line);
	log_put(prio, 0, NULL, buf);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(3, "error", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(4, "warning", fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(6, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(7, "debug", fmt, ap);
	va_end(ap);
}

const char *
log_mask(const char *r, char *buf, size_t len)
{
	const char *at;
	size_t n;

	if (len == 0)
		return buf;
	if (r == NULL || *r == '\0') {
		snprintf(buf, len, "-");
		return buf;
	}
	if ((at = strrchr(r, '@')) != NULL) {
		snprintf(buf, len, "%c***%s", r[0] == '@' ? '*' : r[0], at);
		return buf;
	}
	/*
	 * A phone: a leading '+' and two digits, six stars whatever the length
	 * (the length says something too), and the last three digits.
	 */
	n = strlen(r);
	if (n <= 6) {
		snprintf(buf, len, "******");
		return buf;
	}
	snprintf(buf, len, "%.3s******%s", r, r + n - 3);
	return buf;
}

static int
log_is_addr_char(int c)
{
	return isalnum(c) || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

const char *
log_scrub(const char *text, char *buf, size_t len)
{
	size_t o = 0, i, j, digits, at;

	if (len == 0)
		return buf;
	for (i = 0; text != NULL && text[i] != '\0' && o + 1 < len; ) {
		unsigned char c = (unsigned char)text[i];

		/* "%40": an address inside a URL the server quotes */
		at = c == '@' ? 1 : c == '%' && strncmp(text + i, "%40", 3) == 0 ? 3 : 0;
		if (at > 0 && i > 0 && log_is_addr_char((unsigned char)text[i - 1])) {
			/* Rewind over the local part already copied; keep its first char. */
			size_t k = o;

			while (k > 0 && log_is_addr_char((unsigned char)buf[k - 1]))
				k--;
			o = k + 1 < o ? k + 1 : o;
			if (o + 4 < len) {
				memcpy(buf + o, "***@", 4);
				o += 4;
			}
			i += at;
			continue;
		}
		if (isdigit(c) || (c == '+' && isdigit((unsigned char)text[i + 1]))) {
			/*
			 * A run of digits long enough to be a phone, however it
			 * is written: "+44 (0)7700-900.123" is one number.
			 */
			for (j = i, digits = 0; text[j] != '\0'; j++) {
				if (isdigit((unsigned char)text[j]))
					digits++;
				else if (!(text[j] == '+' && j == i) &&
				    !(strchr(" -./()", text[j]) != NULL &&
				    (isdigit((unsigned char)text[j + 1]) ||
				    (text[j + 1] != '\0' &&
				    strchr(" -./()", text[j + 1]) != NULL &&
				    isdigit((unsigned char)text[j + 2])))))
					break;
			}
			if (digits >= 7) {
				for (; i < j && o + 1 < len; i++)
					buf[o++] = (j - i <= 3 || !isdigit((unsigned char)text[i])) ?
					    text[i] : '*';
				continue;
			}
			for (; i < j && o + 1 < len; i++)
				buf[o++] = text[i];
			continue;
		}
		buf[o++] = (c == '\r' || c == '\n') ? ' ' : (char)c;
		i++;
	}
	buf[o] = '\0';
	return buf;
}
