/*
 * log: one line per event on stderr.
 *
 * When stderr is the journal (JOURNAL_STREAM set) every line starts with an
 * sd-daemon priority prefix (<3> error, <4> warning, <6> info, <7> debug) so
 * the journal keeps levels; otherwise it reads "nudged: warning: ...".
 * Debug lines appear only with -v.
 *
 * Privacy rule: nothing logged may contain a message body or a full address
 * or phone number.  log_mask() masks one recipient; log_scrub() masks every
 * address and long digit run inside free text such as a server's reply.
 */
#ifndef NUDGED_LOG_H
#define NUDGED_LOG_H

#include <stddef.h>

void	log_init(const char *prog, int verbose);
void	log_err(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/*
 * A line that already says what it is ("FILE:LINE: warning: ..."), such
 * as the config's diagnostics: as it is on a terminal, with the priority
 * prefix (3 error, 4 warning) in the journal.
 */
void	log_line(int prio, const char *line);

/* "sam@example.org" -> "s***@example.org"; "+447700900123" -> "+44******123" */
const char *log_mask(const char *recipient, char *buf, size_t len);
/* Copy text into buf with addresses and phone numbers masked, CR/LF -> ' '. */
const char *log_scrub(const char *text, char *buf, size_t len);

#endif
