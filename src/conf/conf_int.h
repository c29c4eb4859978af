/*
 * conf_int.h: private to conf*.c.  The loader's state and the helpers the
 * pieces of the config loader share; nothing else includes this.
 *
 * Every check reports through conf_err()/conf_warn() with the file and
 * line of the offending setting and carries on, so one run lists every
 * problem (see conf.c).
 */
#ifndef NUDGED_CONF_INT_H
#define NUDGED_CONF_INT_H

#include <stddef.h>

#include <libconfig.h>

#include "conf/conf.h"

/* One conf_load() run: the file, the struct being filled, the diagnostics. */
struct conf_ld {
	const char	 *path;
	struct conf	 *c;
	struct conf_diag *errs;
	struct conf_diag *warns;
};

/* ---- conf_get.c: diagnostics, lookups, typed getters ---- */

int	 conf_one_line(const char *v);
int	 conf_has_scheme(const char *url, const char *scheme);

/* The file a setting came from (an @include), else the main file. */
const char *conf_src_file(const struct conf_ld *, const config_setting_t *);
/*
 * A problem at setting s ("FILE:LINE: ..."), or in the file as a whole
 * when s is NULL.  Errors fail conf_load(), warnings do not.
 */
void	 conf_err(struct conf_ld *, const config_setting_t *s,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	 conf_warn(struct conf_ld *, const config_setting_t *s,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	 conf_missing(struct conf_ld *, const char *key, const char *why);

/* g's member name, or NULL (also when g is NULL). */
config_setting_t *conf_member(const config_setting_t *g, const char *name);
/* Reports every member of g not in keys; where: the group, NULL at the top. */
void	 conf_known_keys(struct conf_ld *, const config_setting_t *g,
	    const char *where, const char *const *keys);
/* A group-valued key: the group, or NULL when absent or not a group. */
config_setting_t *conf_sub(struct conf_ld *, const config_setting_t *g,
	    const char *name, const char *const *keys);

/* What a getter found. */
enum conf_got {
	CONF_BAD = -1,		/* present but wrong (reported); value unchanged */
	CONF_ABSENT = 0,	/* absent: the default stays */
	CONF_SET = 1		/* found and stored */
};
/* Two getters' results: none wrong, and at least one set (check the pair). */
#define CONF_PAIR_SET(a, b)	((a) != CONF_BAD && (b) != CONF_BAD && \
	((a) == CONF_SET || (b) == CONF_SET))

enum conf_got conf_get_str(struct conf_ld *, const config_setting_t *g,
	    const char *name, char **out);
enum conf_got conf_get_dur(struct conf_ld *, const config_setting_t *g,
	    const char *name, long *out);
enum conf_got conf_get_bool(struct conf_ld *, const config_setting_t *g,
	    const char *name, int *out);
enum conf_got conf_get_long(struct conf_ld *, const config_setting_t *g,
	    const char *name, long min, long max, long *out);
enum conf_got conf_get_hhmm(struct conf_ld *, const config_setting_t *g,
	    const char *name, int *out);
/* A list of strings, each one of allowed (NULL: any); calls add() for each. */
enum conf_got conf_get_strlist(struct conf_ld *, const config_setting_t *g,
	    const char *name, const char *const *allowed, const char *hint,
	    void (*add)(void *, const char *), void *arg);
/* "channels" = ["email", "sms"] into chans[] (replaced only when valid). */
enum conf_got conf_get_chans(struct conf_ld *, const config_setting_t *g,
	    int chans[CHAN_N]);
/*
 * Checks of values a message is sent with, so --check-config catches
 * what would otherwise fail every message (each reports at g's member):
 * no space or tab in v (a url); none at either end of v (a login name);
 * a file this process can read (a ca_file).
 */
void	 conf_no_blank(struct conf_ld *, const config_setting_t *g,
	    const char *name, const char *v);
void	 conf_no_edge_blank(struct conf_ld *, const config_setting_t *g,
	    const char *name, const char *v);
void	 conf_readable(struct conf_ld *, const config_setting_t *g,
	    const char *name, const char *path);

/* ---- conf_secret.c ---- */

/*
 * grp.key (inline), grp.key_file, or the systemd credential cred, into
 * *out; files are read only when enabled.
 */
void	 conf_load_secret(struct conf_ld *, const config_setting_t *g,
	    const char *grp, const char *key, const char *cred, int enabled,
	    char **out);

/* ---- conf_cal.c (issue 10) ---- */

void	 conf_load_calendar(struct conf_ld *, const config_setting_t *root);
void	 conf_free_calendar(struct conf *);
/* ---- conf_privacy.c: privacy.*, alerts.weekly and alerts.names ---- */

void	 conf_load_privacy(struct conf_ld *, const config_setting_t *root);

/* ---- conf_sms.c ---- */

void	 conf_load_sms(struct conf_ld *, const config_setting_t *root);
/* sms.from / sms.discreet_from: a number in E.164, or a sender id. */
void	 conf_sms_sender(struct conf_ld *, const config_setting_t *g,
	    const char *key, char **val);

/* ---- conf_client.c: issue 9's keys and the discreet-mode warnings ---- */

/*
 * An address key ("Name <addr>" or "addr"): *v trimmed of blanks in place;
 * 0 when its address is one mime.c will send from, else -1.
 */
int	 conf_addr_trim(char **v);

/* After every other group (the checks look at templates and senders). */
void	 conf_load_client(struct conf_ld *, const config_setting_t *root);
void	 conf_client_free(struct conf *);

#endif
