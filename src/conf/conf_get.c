/*
 * conf_get: the loader's toolkit (see conf_int.h): diagnostics as
 * "FILE:LINE: message", member lookups and the unknown-key check, and the
 * typed getters (strings, booleans, ranged numbers, durations, HH:MM
 * times, lists, channel lists), each of which reports a wrong value in
 * words that say what to write instead.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf_int.h"
#include "base/tz.h"
#include "base/util.h"

#define DUR_HINT	"a duration such as \"30s\""

static void
diag_vadd(struct conf_diag *d, const char *file, int line, const char *kind,
    const char *fmt, va_list ap)
{
	struct sbuf b = { 0 };

	if (d == NULL)
		return;
	if (line > 0)
		sbuf_printf(&b, "%s:%d: %s", file, line, kind);
	else
		sbuf_printf(&b, "%s: %s", file, kind);
	sbuf_vprintf(&b, fmt, ap);
	d->lines = xrealloc(d->lines, (d->n + 1) * sizeof(*d->lines));
	d->lines[d->n++] = sbuf_steal(&b);
}

const char *
conf_src_file(const struct conf_ld *ld, const config_setting_t *s)
{
	const char *f = s != NULL ? config_setting_source_file(s) : NULL;

	return f != NULL ? f : ld->path;
}

/*
 * A problem at setting s ("FILE:LINE: ..."), or in the file as a whole
 * when s is NULL.
 */
void
conf_err(struct conf_ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(ld->errs, conf_src_file(ld, s),
	    s != NULL ? config_setting_source_line(s) : 0, "", fmt, ap);
	va_end(ap);
}

void
conf_warn(struct conf_ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(ld->warns, conf_src_file(ld, s),
	    s != NULL ? config_setting_source_line(s) : 0, "warning: ", fmt, ap);
	va_end(ap);
}

void
conf_missing(struct conf_ld *ld, const char *key, const char *why)
{
	if (why != NULL)
		conf_err(ld, NULL, "missing required key '%s' (%s)", key, why);
	else
		conf_err(ld, NULL, "missing required key '%s'", key);
}

config_setting_t *
conf_member(const config_setting_t *g, const char *name)
{
	return g != NULL ? config_setting_get_member(g, name) : NULL;
}

void
conf_known_keys(struct conf_ld *ld, const config_setting_t *g,
    const char *where, const char *const *keys)
{
	config_setting_t *e;
	int i;

	for (i = 0; (e = config_setting_get_elem(g, (unsigned)i)) != NULL; i++) {
		if (str_in_list(config_setting_name(e), keys))
			continue;
		if (where != NULL)
			conf_err(ld, e, "unknown key '%s' in %s",
			    config_setting_name(e), where);
		else
			conf_err(ld, e, "unknown key '%s'",
			    config_setting_name(e));
	}
}

/*
 * A group-valued key: the group, or NULL when absent or not a group
 * (reported).
 */
config_setting_t *
conf_sub(struct conf_ld *ld, const config_setting_t *g,
    const char *name, const char *const *keys)
{
	config_setting_t *s = conf_member(g, name);
	char where[80];

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		conf_err(ld, s, "'%s' must be a group: %s = { ... };", name,
		    name);
		return NULL;
	}
	snprintf(where, sizeof(where), "group '%s'", name);
	conf_known_keys(ld, s, where, keys);
	return s;
}

int
conf_one_line(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

/*
 * The getters: enum conf_got (conf_int.h).
 */
enum conf_got
conf_get_str(struct conf_ld *ld, const config_setting_t *g,
    const char *name, char **out)
{
	config_setting_t *s = conf_member(g, name);
	const char *v;

	if (s == NULL)
		return CONF_ABSENT;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(ld, s, "'%s' must be a string", name);
		return CONF_BAD;
	}
	v = config_setting_get_string(s);
	if (*v == '\0') {
		conf_err(ld, s, "'%s' must not be empty", name);
		return CONF_BAD;
	}
	if (!conf_one_line(v)) {
		conf_err(ld, s, "'%s' must be one line, without control "
		    "characters", name);
		return CONF_BAD;
	}
	free(*out);
	*out = xstrdup(v);
	return CONF_SET;
}

enum conf_got
conf_get_dur(struct conf_ld *ld, const config_setting_t *g,
    const char *name, long *out)
{
	config_setting_t *s = conf_member(g, name);
	const char *v;

	if (s == NULL)
		return CONF_ABSENT;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(ld, s, "'%s' must be a string (%s)", name, DUR_HINT);
		return CONF_BAD;
	}
	v = config_setting_get_string(s);
	if (dur_parse(v, out) == -1) {
		conf_err(ld, s, "'%s' = \"%s\" is not a duration: use a whole "
		    "number with a unit s, m, h or d, or several largest first, "
		    "such as \"90m\", \"48h\" or \"1h30m\" (at most 366 days)",
		    name, v);
		return CONF_BAD;
	}
	return CONF_SET;
}

enum conf_got
conf_get_bool(struct conf_ld *ld, const config_setting_t *g,
    const char *name, int *out)
{
	config_setting_t *s = conf_member(g, name);

	if (s == NULL)
		return CONF_ABSENT;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_err(ld, s, "'%s' must be true or false (without quotes)",
		    name);
		return CONF_BAD;
	}
	*out = config_setting_get_bool(s);
	return CONF_SET;
}

/*
 * libconfig 1.5 reads an integer without an L suffix into 32 bits and
 * wraps silently (4294967297 becomes 1).  The digits written after
 * "name =" on the setting's source line are read again here, so a value
 * that wrapped is refused instead of used.  1 when it is as written (or
 * cannot be checked), 0 when it wrapped.
 */
static int
conf_int_as_written(const struct conf_ld *ld, const config_setting_t *s,
    const char *name, long long v)
{
	const char *file = conf_src_file(ld, s);
	int line = config_setting_source_line(s), n = 0, ok = 1;
	char buf[4096], *p, *end;
	size_t len = strlen(name);
	long long w;
	FILE *f;

	if (file == NULL || line <= 0 || (f = fopen(file, "r")) == NULL)
		return 1;
	while (fgets(buf, sizeof(buf), f) != NULL && ++n < line)
		;
	fclose(f);
	for (p = buf; n == line && (p = strstr(p, name)) != NULL; p += len) {
		if (p > buf && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		end = p + len;
		end += strspn(end, " \t");
		if (*end != '=' && *end != ':')
			continue;
		end++;
		end += strspn(end, " \t");
		errno = 0;
		w = strtoll(end, &p, 0);
		ok = errno == 0 && p != end && w == v;
		break;
	}
	return ok;
}

enum conf_got
conf_get_long(struct conf_ld *ld, const config_setting_t *g,
    const char *name, long min, long max, long *out)
{
	config_setting_t *s = conf_member(g, name);
	long long v;

	if (s == NULL)
		return CONF_ABSENT;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		conf_err(ld, s, "'%s' must be a whole number from %ld to %ld "
		    "(without quotes)", name, min, max);
		return CONF_BAD;
	}
	v = config_setting_get_int64(s);
	if (config_setting_type(s) == CONFIG_TYPE_INT &&
	    !conf_int_as_written(ld, s, name, v)) {
		conf_err(ld, s, "'%s' is out of range: use %ld to %ld", name,
		    min, max);
		return CONF_BAD;
	}
	if (v < min || v > max) {
		conf_err(ld, s, "'%s' = %lld is out of range: use %ld to %ld",
		    name, v, min, max);
		return CONF_BAD;
	}
	*out = (long)v;
	return CONF_SET;
}

enum conf_got
conf_get_hhmm(struct conf_ld *ld, const config_setting_t *g,
    const char *name, int *out)
{
	config_setting_t *s = conf_member(g, name);

	if (s == NULL)
		return CONF_ABSENT;
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    tz_parse_hhmm(config_setting_get_string(s), out) == -1) {
		conf_err(ld, s, "'%s' must be a 24-hour time \"HH:MM\" such as "
		    "\"19:00\"", name);
		return CONF_BAD;
	}
	return CONF_SET;
}

/*
 * A list of strings, each one of allowed; calls add() for each.  [] and ()
 * both work.
 */
enum conf_got
conf_get_strlist(struct conf_ld *ld, const config_setting_t *g,
    const char *name, const char *const *allowed, const char *hint,
    void (*add)(void *, const char *), void *arg)
{
	config_setting_t *s = conf_member(g, name), *e;
	const char *v;
	int i, ok = 1;

	if (s == NULL)
		return CONF_ABSENT;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		conf_err(ld, s, "'%s' must be a list such as %s", name, hint);
		return CONF_BAD;
	}
	for (i = 0; (e = config_setting_get_elem(s, (unsigned)i)) != NULL; i++) {
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_err(ld, e, "'%s' must be a list of strings such "
			    "as %s", name, hint);
			ok = 0;
			continue;
		}
		v = config_setting_get_string(e);
		if (allowed != NULL && !str_in_list(v, allowed)) {
			conf_err(ld, e, "'%s' lists \"%s\": the choices are %s",
			    name, v, hint);
			ok = 0;
			continue;
		}
		add(arg, v);
	}
	return ok ? CONF_SET : CONF_BAD;
}

static const char *const chan_names[] = { "email", "sms", NULL };

static void
add_chan(void *arg, const char *v)
{
	int *chans = arg;
	enum chan ch;

	if (chan_parse(v, &ch) == 0)
		chans[ch] = 1;
}

enum conf_got
conf_get_chans(struct conf_ld *ld, const config_setting_t *g,
    int chans[CHAN_N])
{
	int tmp[CHAN_N] = { 0 };
	enum conf_got r;

	r = conf_get_strlist(ld, g, "channels", chan_names,
	    "[\"email\", \"sms\"]", add_chan, tmp);
	if (r == CONF_SET)
		memcpy(chans, tmp, sizeof(tmp));
	return r;
}

int
conf_has_scheme(const char *url, const char *scheme)
{
	return strncasecmp(url, scheme, strlen(scheme)) == 0 &&
	    url[strlen(scheme)] != '\0' && url[strlen(scheme)] != '/';
}

void
conf_diag_free(struct conf_diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = 0;
}

void
conf_no_blank(struct conf_ld *ld, const config_setting_t *g, const char *name,
    const char *v)
{
	if (v != NULL && strpbrk(v, " \t") != NULL)
		conf_err(ld, conf_member(g, name), "'%s' must not contain "
		    "spaces or tabs", name);
}

void
conf_no_edge_blank(struct conf_ld *ld, const config_setting_t *g,
    const char *name, const char *v)
{
	size_t n = v != NULL ? strlen(v) : 0;

	if (n > 0 && (strchr(" \t", v[0]) != NULL ||
	    strchr(" \t", v[n - 1]) != NULL))
		conf_err(ld, conf_member(g, name), "'%s' must not begin or "
		    "end with a space or tab", name);
}

void
conf_readable(struct conf_ld *ld, const config_setting_t *g, const char *name,
    const char *path)
{
	/*
	 * Not there is an error for whoever loads the config.  Not readable
	 * by this user is not: nudgectl, run by the practitioner, loads the
	 * service's config too, and the file may be the service's alone.
	 */
	if (path != NULL && access(path, R_OK) != 0 && errno != EACCES &&
	    errno != EPERM)
		conf_err(ld, conf_member(g, name), "'%s' \"%s\" cannot be "
		    "read: %s", name, path, strerror(errno));
}
