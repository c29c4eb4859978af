/*
 * conf: read and validate the configuration file (see conf.h).
 *
 * The loader walks the libconfig tree once, group by group, filling a
 * struct conf that starts out holding every default.  Each check reports
 * through lerr()/lwarn() with the file and line of the offending setting
 * and carries on, so one run lists every problem; only a syntax error
 * stops early (libconfig cannot give us a tree).  Values are copied out
 * because libconfig's strings die with its config_t.
 *
 * Order matters in one place: channels, late_limit and the templates are
 * read before the rules, which are checked against them.
 *
 * A missing password or token is only a warning: the shipped example has
 * no secret until the practitioner provides one, and the transport then
 * reports a refused login as a channel failure at send time.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "phone.h"
#include "tmpl.h"
#include "tz.h"
#include "util.h"

#define DUR_HINT	"a duration such as \"30s\""
#define SECRET_MAX	4096

struct ld {
	const char	 *path;
	struct conf	 *c;
	struct conf_diag *errs;
	struct conf_diag *warns;
};

static const char *const top_keys[] = { "practice", "database", "email",
	"sms", "reminders", "late_limit", "notify_cancellation", "homework",
	"quiet_hours", "retry", "alerts", "templates", NULL };
static const char *const practice_keys[] = { "name", "practitioner",
	"timezone", "email", "phone", "address", "video_url", NULL };
static const char *const email_keys[] = { "enabled", "url", "tls",
	"ca_file", "username", "password", "password_file", "from", "timeout",
	"calendar", "html", NULL };
static const char *const sms_keys[] = { "enabled", "provider", "url",
	"account", "token", "token_file", "from", "region", "ca_file",
	"max_segments", "concurrency", "fallback_email", "timeout", "method",
	"headers", "content_type", "body", "id_field", NULL };
static const char *const generic_keys[] = { "method", "headers",
	"content_type", "body", "id_field", NULL };
static const char *const body_names[] = { "to", "from", "text", "account",
	"token", NULL };
static const char *const rule_keys[] = { "before", "after", "channel",
	"kinds", "template", NULL };
static const char *const kinds[] = { "assessment", "session", "call", NULL };
static const char *const homework_keys[] = { "at", "channels", NULL };
static const char *const quiet_keys[] = { "from", "to", "channels", NULL };
static const char *const retry_keys[] = { "attempts", "first", "max", NULL };
static const char *const alerts_keys[] = { "every", NULL };

const char *
chan_name(enum chan ch)
{
	return ch == CHAN_SMS ? "sms" : "email";
}

int
chan_parse(const char *s, enum chan *out)
{
	if (s != NULL && strcmp(s, "email") == 0)
		*out = CHAN_EMAIL;
	else if (s != NULL && strcmp(s, "sms") == 0)
		*out = CHAN_SMS;
	else
		return -1;
	return 0;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

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

static const char *
src_file(const struct ld *ld, const config_setting_t *s)
{
	const char *f = s != NULL ? config_setting_source_file(s) : NULL;

	return f != NULL ? f : ld->path;
}

/* A problem at setting s ("FILE:LINE: ..."), or in the file as a whole when s is NULL. */
static void __attribute__((format(printf, 3, 4)))
lerr(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(ld->errs, src_file(ld, s),
	    s != NULL ? config_setting_source_line(s) : 0, "", fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 4)))
lwarn(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(ld->warns, src_file(ld, s),
	    s != NULL ? config_setting_source_line(s) : 0, "warning: ", fmt, ap);
	va_end(ap);
}

static void
missing(struct ld *ld, const char *key, const char *why)
{
	if (why != NULL)
		lerr(ld, NULL, "missing required key '%s' (%s)", key, why);
	else
		lerr(ld, NULL, "missing required key '%s'", key);
}

static config_setting_t *
member(const config_setting_t *g, const char *name)
{
	return g != NULL ? config_setting_get_member(g, name) : NULL;
}

static void
known_keys(struct ld *ld, const config_setting_t *g, const char *where,
    const char *const *keys)
{
	config_setting_t *e;
	int i;

	for (i = 0; (e = config_setting_get_elem(g, (unsigned)i)) != NULL; i++) {
		if (in_list(keys, config_setting_name(e)))
			continue;
		if (where != NULL)
			lerr(ld, e, "unknown key '%s' in %s",
			    config_setting_name(e), where);
		else
			lerr(ld, e, "unknown key '%s'", config_setting_name(e));
	}
}

/* A group-valued key: the group, or NULL when absent or not a group (reported). */
static config_setting_t *
sub(struct ld *ld, const config_setting_t *g, const char *name,
    const char *const *keys)
{
	config_setting_t *s = member(g, name);
	char where[80];

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		lerr(ld, s, "'%s' must be a group: %s = { ... };", name, name);
		return NULL;
	}
	snprintf(where, sizeof(where), "group '%s'", name);
	known_keys(ld, s, where, keys);
	return s;
}

static int
one_line(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

/*
 * The getters return 1 when the key was found and stored, 0 when it is
 * absent (the default stays), -1 when it is present but wrong (reported).
 */
static int
get_str(struct ld *ld, const config_setting_t *g, const char *name,
    char **out)
{
	config_setting_t *s = member(g, name);
	const char *v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		lerr(ld, s, "'%s' must be a string", name);
		return -1;
	}
	v = config_setting_get_string(s);
	if (*v == '\0') {
		lerr(ld, s, "'%s' must not be empty", name);
		return -1;
	}
	if (!one_line(v)) {
		lerr(ld, s, "'%s' must be one line, without control characters",
		    name);
		return -1;
	}
	free(*out);
	*out = xstrdup(v);
	return 1;
}

static int
get_dur(struct ld *ld, const config_setting_t *g, const char *name,
    long *out)
{
	config_setting_t *s = member(g, name);
	const char *v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		lerr(ld, s, "'%s' must be a string (%s)", name, DUR_HINT);
		return -1;
	}
	v = config_setting_get_string(s);
	if (dur_parse(v, out) == -1) {
		lerr(ld, s, "'%s' = \"%s\" is not a duration: use a whole "
		    "number with a unit s, m, h or d, or several largest first, "
		    "such as \"90m\", \"48h\" or \"1h30m\" (at most 366 days)",
		    name, v);
		return -1;
	}
	return 1;
}

static int
get_bool(struct ld *ld, const config_setting_t *g, const char *name, int *out)
{
	config_setting_t *s = member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		lerr(ld, s, "'%s' must be true or false (without quotes)", name);
		return -1;
	}
	*out = config_setting_get_bool(s);
	return 1;
}

static int
get_long(struct ld *ld, const config_setting_t *g, const char *name,
    long min, long max, long *out)
{
	config_setting_t *s = member(g, name);
	long long v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		lerr(ld, s, "'%s' must be a whole number from %ld to %ld "
		    "(without quotes)", name, min, max);
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		lerr(ld, s, "'%s' = %lld is out of range: use %ld to %ld",
		    name, v, min, max);
		return -1;
	}
	*out = (long)v;
	return 1;
}

static int
get_hhmm(struct ld *ld, const config_setting_t *g, const char *name,
    int *out)
{
	config_setting_t *s = member(g, name);
	const char *v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING ||
	    tz_parse_hhmm((v = config_setting_get_string(s)), out) == -1) {
		lerr(ld, s, "'%s' must be a 24-hour time \"HH:MM\" such as "
		    "\"19:00\"", name);
		return -1;
	}
	return 1;
}

/* A list of strings, each one of allowed; calls add() for each.  [] and () both work. */
static int
get_strlist(struct ld *ld, const config_setting_t *g, const char *name,
    const char *const *allowed, const char *hint,
    void (*add)(void *, const char *), void *arg)
{
	config_setting_t *s = member(g, name), *e;
	const char *v;
	int i, ok = 1;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		lerr(ld, s, "'%s' must be a list such as %s", name, hint);
		return -1;
	}
	for (i = 0; (e = config_setting_get_elem(s, (unsigned)i)) != NULL; i++) {
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			lerr(ld, e, "'%s' must be a list of strings such as %s",
			    name, hint);
			ok = 0;
			continue;
		}
		v = config_setting_get_string(e);
		if (allowed != NULL && !in_list(allowed, v)) {
			lerr(ld, e, "'%s' lists \"%s\": the choices are %s",
			    name, v, hint);
			ok = 0;
			continue;
		}
		add(arg, v);
	}
	return ok ? 1 : -1;
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

static int
get_chans(struct ld *ld, const config_setting_t *g, int chans[CHAN_N])
{
	int tmp[CHAN_N] = { 0 }, r;

	r = get_strlist(ld, g, "channels", chan_names, "[\"email\", \"sms\"]",
	    add_chan, tmp);
	if (r == 1)
		memcpy(chans, tmp, sizeof(tmp));
	return r;
}

/* ---- secrets ---- */

/*
 * Read a secret file into *out, dropping one trailing "\n" or "\r\n".
 * On failure err says why and *eno holds errno (0 for a content problem).
 */
static int
read_secret(const char *path, char **out, int *eno, char *err, size_t errlen)
{
	char *buf = xmalloc(SECRET_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd, rc = -1;

	*eno = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto ioerr;
	while (len <= SECRET_MAX &&
	    (n = read(fd, buf + len, SECRET_MAX + 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto ioerr;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len > SECRET_MAX) {
		snprintf(err, errlen, "is too large for a secret");
		goto done;
	}
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		snprintf(err, errlen, "is empty");
	else if (memchr(buf, '\0', len) != NULL)
		snprintf(err, errlen, "holds a NUL byte");
	else {
		*out = xstrndup(buf, len);
		rc = 0;
	}
	goto done;
ioerr:
	*eno = errno;
	snprintf(err, errlen, "cannot read: %s", strerror(errno));
done:
	for (volatile char *p = buf; p < buf + SECRET_MAX + 1; p++)
		*p = 0;
	free(buf);
	return rc;
}

/* A relative *_file path is taken from the directory of the file naming it. */
static char *
rel_path(const char *conffile, const char *p)
{
	const char *slash = strrchr(conffile, '/');

	if (p[0] == '/' || slash == NULL)
		return xstrdup(p);
	return xasprintf("%.*s/%s", (int)(slash - conffile), conffile, p);
}

static void
inline_mode(struct ld *ld, const config_setting_t *s, const char *grp,
    const char *key)
{
	const char *file = src_file(ld, s);
	struct stat st;

	if (stat(file, &st) == -1 || (st.st_mode & 044) == 0)
		return;
	lerr(ld, NULL, "holds %s.%s inline but is readable by group/others "
	    "(mode %04o); chmod 600 %s or use %s_file", grp, key,
	    (unsigned)(st.st_mode & 07777), file, key);
}

/*
 * email.password / sms.token: inline, *_file, or the systemd credential,
 * in that order.  Files are read only for an enabled channel, so a
 * practitioner can switch a channel off without its secret at hand.
 */
static void
load_secret(struct ld *ld, const config_setting_t *g, const char *grp,
    const char *key, const char *cred, int enabled, char **out)
{
	config_setting_t *in = member(g, key), *fs;
	char fkey[32], err[256], *path;
	const char *dir;
	int eno;

	snprintf(fkey, sizeof(fkey), "%s_file", key);
	fs = member(g, fkey);
	if (in != NULL && config_setting_type(in) != CONFIG_TYPE_STRING) {
		lerr(ld, in, "'%s' must be a string", key);
		return;
	}
	if (fs != NULL && config_setting_type(fs) != CONFIG_TYPE_STRING) {
		lerr(ld, fs, "'%s' must be a string (a file name)", fkey);
		return;
	}
	if (in != NULL && fs != NULL) {
		lerr(ld, fs, "%s.%s and %s.%s are both given: keep one",
		    grp, key, grp, fkey);
		return;
	}
	if (in != NULL) {
		char *v = (char *)config_setting_get_string(in);

		inline_mode(ld, in, grp, key);
		if (*v == '\0')
			lerr(ld, in, "'%s' must not be empty", key);
		else
			*out = xstrdup(v);
		/* libconfig would free its copy without wiping it */
		memset(v, 0, strlen(v));
		return;
	}
	if (!enabled)
		return;
	if (fs != NULL) {
		path = rel_path(src_file(ld, fs), config_setting_get_string(fs));
		if (read_secret(path, out, &eno, err, sizeof(err)) == -1)
			lerr(ld, fs, "%s.%s \"%s\" %s", grp, fkey, path, err);
		free(path);
		return;
	}
	if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL || *dir == '\0')
		return;
	path = xasprintf("%s/%s", dir, cred);
	if (read_secret(path, out, &eno, err, sizeof(err)) == -1 &&
	    eno != ENOENT)
		lerr(ld, NULL, "credential %s (%s) for %s.%s %s", cred, path,
		    grp, key, err);
	free(path);
}

/* ---- groups ---- */

static void
load_practice(struct ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = sub(ld, root, "practice", practice_keys);
	config_setting_t *s;

	if (g == NULL && member(root, "practice") != NULL)
		return;		/* not a group: already reported */
	if (get_str(ld, g, "name", &c->practice.name) == 0)
		missing(ld, "practice.name", NULL);
	if (get_str(ld, g, "practitioner", &c->practice.practitioner) == 0)
		missing(ld, "practice.practitioner", NULL);
	if (get_str(ld, g, "email", &c->practice.email) == 0)
		missing(ld, "practice.email", NULL);
	else if (c->practice.email != NULL &&
	    (strchr(c->practice.email, '@') == NULL ||
	    strchr(c->practice.email, ' ') != NULL))
		lerr(ld, member(g, "email"), "'email' = \"%s\" is not an email "
		    "address such as \"christian@example.org\"",
		    c->practice.email);
	if (get_str(ld, g, "timezone", &c->practice.timezone) == 1 &&
	    !tz_valid(c->practice.timezone)) {
		s = member(g, "timezone");
		lerr(ld, s, "unknown time zone \"%s\" (use a tz database name "
		    "such as \"Europe/London\")", c->practice.timezone);
	}
	get_str(ld, g, "phone", &c->practice.phone);
	get_str(ld, g, "address", &c->practice.address);
	get_str(ld, g, "video_url", &c->practice.video_url);
}

static int
has_scheme(const char *url, const char *scheme)
{
	return strncasecmp(url, scheme, strlen(scheme)) == 0 &&
	    url[strlen(scheme)] != '\0' && url[strlen(scheme)] != '/';
}

static void
load_email(struct ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = sub(ld, root, "email", email_keys);
	char *tls = NULL;
	int r;

	if (g == NULL) {
		c->email.enabled = 0;
		return;
	}
	get_bool(ld, g, "enabled", &c->email.enabled);
	r = get_str(ld, g, "url", &c->email.url);
	if (r == 0 && c->email.enabled)
		missing(ld, "email.url", "email is enabled");
	if (r == 1 && !has_scheme(c->email.url, "smtp://") &&
	    !has_scheme(c->email.url, "smtps://"))
		lerr(ld, member(g, "url"), "'url' must start with smtp:// "
		    "(STARTTLS) or smtps:// (implicit TLS), such as "
		    "\"smtp://mail.example.org:587\"");
	if (get_str(ld, g, "tls", &tls) == 1) {
		if (strcmp(tls, "required") == 0)
			c->email.tls_required = 1;
		else if (strcmp(tls, "none") == 0)
			c->email.tls_required = 0;
		else
			lerr(ld, member(g, "tls"), "'tls' must be \"required\" "
			    "or \"none\", not \"%s\"", tls);
		if (!c->email.tls_required && r == 1 &&
		    has_scheme(c->email.url, "smtps://"))
			lerr(ld, member(g, "tls"), "tls = \"none\" contradicts "
			    "an smtps:// url, which is always TLS");
	}
	free(tls);
	get_str(ld, g, "ca_file", &c->email.ca_file);
	get_str(ld, g, "username", &c->email.username);
	if (get_str(ld, g, "from", &c->email.from) == 0 && c->email.enabled)
		missing(ld, "email.from", "email is enabled");
	else if (c->email.from != NULL && strchr(c->email.from, '@') == NULL)
		lerr(ld, member(g, "from"), "'from' must be an address, "
		    "\"Name <address>\" or \"address\"");
	get_dur(ld, g, "timeout", &c->email.timeout);
	get_bool(ld, g, "calendar", &c->email.calendar);
	get_bool(ld, g, "html", &c->email.html);
	load_secret(ld, g, "email", "password", "smtp-password",
	    c->email.enabled, &c->email.password);
	if (c->email.enabled && c->email.username != NULL &&
	    c->email.password == NULL)
		lwarn(ld, member(g, "username"), "email.username is set but no "
		    "password is given (password, password_file, or the "
		    "credential smtp-password): the server will refuse to log "
		    "in");
}

/* sms.url: https://, or http:// to this machine only (a test double). */
static int
loopback_url(const char *url)
{
	const char *h = url + strlen("http://"), *e, *at;
	size_t n;
	int a, b, cc, d;
	char rest;

	e = h + strcspn(h, "/?#");
	if ((at = memrchr(h, '@', (size_t)(e - h))) != NULL)
		h = at + 1;
	if (*h == '[')
		return strncmp(h, "[::1]", 5) == 0 &&
		    (h[5] == ':' || h + 5 == e);
	n = strcspn(h, ":/?#");
	if (n == strlen("localhost") && strncasecmp(h, "localhost", n) == 0)
		return 1;
	if (sscanf(h, "%3d.%3d.%3d.%3d%c", &a, &b, &cc, &d, &rest) >= 4 &&
	    a == 127 && b >= 0 && b < 256 && cc >= 0 && cc < 256 &&
	    d >= 0 && d < 256)
		return strspn(h, "0123456789.") == n;
	return 0;
}

static int
body_check(const char *t, char *err, size_t errlen)
{
	const char *p, *e;
	char name[32];

	for (p = t; (p = strstr(p, "{{")) != NULL; p = e + 2) {
		if ((e = strstr(p + 2, "}}")) == NULL) {
			snprintf(err, errlen, "'{{' without a closing '}}'");
			return -1;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(e - p - 2), p + 2);
		if ((size_t)(e - p - 2) >= sizeof(name) ||
		    !in_list(body_names, name)) {
			snprintf(err, errlen, "unknown name {{%.*s}}: the names "
			    "are {{to}} {{from}} {{text}} {{account}} {{token}}",
			    (int)(e - p - 2), p + 2);
			return -1;
		}
	}
	return 0;
}

static void
add_header(void *arg, const char *v)
{
	struct conf *c = arg;

	c->sms.headers = xrealloc(c->sms.headers,
	    (c->sms.nheaders + 1) * sizeof(*c->sms.headers));
	c->sms.headers[c->sms.nheaders++] = xstrdup(v);
}

static void
load_generic(struct ld *ld, const config_setting_t *g, int generic)
{
	struct conf *c = ld->c;
	const char *ct = NULL;
	char err[160];
	size_t i, n;

	for (i = 0; generic_keys[i] != NULL; i++)
		if (!generic && member(g, generic_keys[i]) != NULL)
			lerr(ld, member(g, generic_keys[i]), "'%s' is only for "
			    "provider = \"generic\"", generic_keys[i]);
	if (get_str(ld, g, "method", &c->sms.method) == 1 &&
	    strcmp(c->sms.method, "POST") != 0 &&
	    strcmp(c->sms.method, "PUT") != 0)
		lerr(ld, member(g, "method"), "'method' must be \"POST\" or "
		    "\"PUT\", not \"%s\"", c->sms.method);
	if (get_strlist(ld, g, "headers", NULL, "[\"Authorization: Bearer "
	    "{{token}}\"]", add_header, c) == 1) {
		for (i = 0; i < c->sms.nheaders; i++) {
			const char *h = c->sms.headers[i];

			n = strcspn(h, ":");
			if (n == 0 || h[n] != ':' || !one_line(h) ||
			    strcspn(h, " \t()<>@,;\\\"/[]?={}") < n)
				lerr(ld, member(g, "headers"), "header \"%s\" must "
				    "be one line \"Name: value\"", h);
			else if (body_check(h, err, sizeof(err)) == -1)
				lerr(ld, member(g, "headers"), "header \"%.*s\": "
				    "%s", (int)n, h, err);
		}
	}
	if (get_str(ld, g, "content_type", &c->sms.content_type) == 1) {
		ct = c->sms.content_type;
		n = strcspn(ct, "; ");
		if (!(n == 33 && strncasecmp(ct,
		    "application/x-www-form-urlencoded", n) == 0) &&
		    !(n == 16 && strncasecmp(ct, "application/json", n) == 0))
			lerr(ld, member(g, "content_type"), "'content_type' must "
			    "be \"application/x-www-form-urlencoded\" or "
			    "\"application/json\" (body values are encoded for "
			    "it)");
	}
	if (member(g, "body") != NULL &&
	    config_setting_type(member(g, "body")) == CONFIG_TYPE_STRING) {
		c->sms.body = xstrdup(config_setting_get_string(member(g, "body")));
		if (body_check(c->sms.body, err, sizeof(err)) == -1)
			lerr(ld, member(g, "body"), "sms.body: %s", err);
	} else if (member(g, "body") != NULL)
		lerr(ld, member(g, "body"), "'body' must be a string");
	else if (generic && c->sms.enabled)
		missing(ld, "sms.body", "provider \"generic\"");
	get_str(ld, g, "id_field", &c->sms.id_field);
}

/* Does the generic request use {{name}}?  Then its value is needed. */
static int
generic_uses(const struct conf *c, const char *tag)
{
	size_t i;

	if (c->sms.body != NULL && strstr(c->sms.body, tag) != NULL)
		return 1;
	for (i = 0; i < c->sms.nheaders; i++)
		if (strstr(c->sms.headers[i], tag) != NULL)
			return 1;
	return 0;
}

static void
load_sms(struct ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = sub(ld, root, "sms", sms_keys);
	char *prov = NULL;
	int r, generic = 0, on;

	if (g == NULL) {
		c->sms.enabled = 0;
		return;
	}
	get_bool(ld, g, "enabled", &c->sms.enabled);
	on = c->sms.enabled;
	r = get_str(ld, g, "provider", &prov);
	if (r == 0 && on)
		missing(ld, "sms.provider", "sms is enabled");
	if (r == 1 && strcmp(prov, "twilio") != 0 &&
	    strcmp(prov, "vonage") != 0 && strcmp(prov, "generic") != 0)
		lerr(ld, member(g, "provider"), "'provider' must be \"twilio\", "
		    "\"vonage\" or \"generic\", not \"%s\"", prov);
	else if (r == 1) {
		free(c->sms.provider);
		c->sms.provider = prov;
		prov = NULL;
		generic = strcmp(c->sms.provider, "generic") == 0;
	}
	free(prov);
	load_generic(ld, g, generic);

	r = get_str(ld, g, "url", &c->sms.url);
	if (r == 0 && on)
		missing(ld, "sms.url", "sms is enabled");
	if (r == 1 && !has_scheme(c->sms.url, "https://") &&
	    !(has_scheme(c->sms.url, "http://") && loopback_url(c->sms.url)))
		lerr(ld, member(g, "url"), "'url' must start with https:// "
		    "(plain http:// only for a loopback host such as "
		    "127.0.0.1 or localhost)");
	if (get_str(ld, g, "account", &c->sms.account) == 0 && on &&
	    (!generic || generic_uses(c, "{{account}}")))
		missing(ld, "sms.account", generic ? "sms.body uses {{account}}"
		    : "sms is enabled");
	if (get_str(ld, g, "from", &c->sms.from) == 0 && on)
		missing(ld, "sms.from", "sms is enabled");
	if (get_str(ld, g, "region", &c->sms.region) == 1) {
		char *p = c->sms.region;

		if (strlen(p) != 2 || !isalpha((unsigned char)p[0]) ||
		    !isalpha((unsigned char)p[1]))
			lerr(ld, member(g, "region"), "'region' must be a "
			    "two-letter country code such as \"GB\"");
		for (; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
		if (strlen(c->sms.region) == 2 && !phone_region_known(c->sms.region))
			lerr(ld, member(g, "region"), "region \"%s\" is not one "
			    "nudged knows how to dial; write numbers with +country "
			    "code, or use GB, IE, US, CA, FR, DE, NL, ES or IT",
			    c->sms.region);
	}
	get_str(ld, g, "ca_file", &c->sms.ca_file);
	get_long(ld, g, "max_segments", 1, 10, &c->sms.max_segments);
	get_long(ld, g, "concurrency", 1, 32, &c->sms.concurrency);
	get_bool(ld, g, "fallback_email", &c->sms.fallback_email);
	get_dur(ld, g, "timeout", &c->sms.timeout);
	load_secret(ld, g, "sms", "token", "sms-token", on, &c->sms.token);
	if (on && c->sms.token == NULL &&
	    (!generic || generic_uses(c, "{{token}}")))
		lwarn(ld, g, "sms is enabled but no token is given (token, "
		    "token_file, or the credential sms-token): the provider "
		    "will refuse every message");
}

static void
add_tmpl_text(struct ld *ld, const config_setting_t *s, const char *group,
    char **out)
{
	const char *v;
	char err[200];

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		lerr(ld, s, "template %s.%s must be a string", group,
		    config_setting_name(s));
		return;
	}
	v = config_setting_get_string(s);
	if (strcmp(config_setting_name(s), "email_subject") == 0 &&
	    strpbrk(v, "\r\n") != NULL)
		lerr(ld, s, "template %s.email_subject must be one line",
		    group);
	else if (tmpl_check(v, err, sizeof(err)) == -1)
		lerr(ld, s, "template %s.%s: %s", group,
		    config_setting_name(s), err);
	*out = xstrdup(v);
}

static void
load_templates(struct ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *g = member(root, "templates"), *e, *k;
	struct conf_tmpl_group *t;
	char where[128];
	int i, j;

	if (g == NULL)
		return;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		lerr(ld, g, "'templates' must be a group: templates = { "
		    "reminder = { sms = \"...\"; }; };");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(g, (unsigned)i)) != NULL; i++) {
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			lerr(ld, e, "'%s' in 'templates' must be a group with "
			    "email_subject, email_text and/or sms",
			    config_setting_name(e));
			continue;
		}
		snprintf(where, sizeof(where), "group 'templates.%s'",
		    config_setting_name(e));
		known_keys(ld, e, where, tmpl_keys);
		c->tmpls = xrealloc(c->tmpls, (c->ntmpls + 1) * sizeof(*c->tmpls));
		t = &c->tmpls[c->ntmpls++];
		memset(t, 0, sizeof(*t));
		t->name = xstrdup(config_setting_name(e));
		t->line = config_setting_source_line(e);
		for (j = 0; (k = config_setting_get_elem(e, (unsigned)j)) != NULL; j++) {
			if (strcmp(config_setting_name(k), "email_subject") == 0)
				add_tmpl_text(ld, k, t->name, &t->email_subject);
			else if (strcmp(config_setting_name(k), "email_text") == 0)
				add_tmpl_text(ld, k, t->name, &t->email_text);
			else if (strcmp(config_setting_name(k), "sms") == 0)
				add_tmpl_text(ld, k, t->name, &t->sms);
		}
	}
}

/* ---- rules ---- */

static void
add_kind(void *arg, const char *v)
{
	struct conf_rule *r = arg;
	size_t i;

	for (i = 0; i < r->nkinds; i++)
		if (strcmp(r->kinds[i], v) == 0)
			return;
	r->kinds = xrealloc(r->kinds, (r->nkinds + 1) * sizeof(*r->kinds));
	r->kinds[r->nkinds++] = xstrdup(v);
}

static void
rule_free(struct conf_rule *r)
{
	size_t i;

	for (i = 0; i < r->nkinds; i++)
		free(r->kinds[i]);
	free(r->kinds);
	free(r->template);
}

static int
kinds_overlap(const struct conf_rule *a, const struct conf_rule *b)
{
	size_t i, j;

	if (a->kinds == NULL || b->kinds == NULL)
		return 1;
	for (i = 0; i < a->nkinds; i++)
		for (j = 0; j < b->nkinds; j++)
			if (strcmp(a->kinds[i], b->kinds[j]) == 0)
				return 1;
	return 0;
}

/* The checks every rule gets, written or default; s is NULL for a default. */
static void
rule_add(struct ld *ld, const config_setting_t *s, struct conf_rule *r)
{
	struct conf *c = ld->c;
	char d1[32], d2[32];
	size_t i;

	if (r->before > 0 && r->before < c->late_limit) {
		dur_format(r->before, d1, sizeof(d1));
		dur_format(c->late_limit, d2, sizeof(d2));
		lerr(ld, member(s, "before") ? member(s, "before") : s,
		    "%s rule before = \"%s\" could never be sent: it is shorter "
		    "than late_limit (\"%s\")", s != NULL ? "a" : "the default",
		    d1, d2);
	}
	for (i = 0; i < c->nrules; i++) {
		if (strcmp(c->rules[i].key, r->key) != 0 ||
		    c->rules[i].channel != r->channel ||
		    !kinds_overlap(&c->rules[i], r))
			continue;
		lerr(ld, s, "this rule repeats the rule on line %d (same %s, "
		    "channel and kinds): both would send the same message",
		    c->rules[i].line, r->before ? "before" : "after");
		rule_free(r);
		return;
	}
	if (s != NULL && ((r->channel == CHAN_EMAIL && !c->email.enabled) ||
	    (r->channel == CHAN_SMS && !c->sms.enabled)))
		lwarn(ld, s, "this rule plans nothing: channel '%s' is off",
		    chan_name(r->channel));
	c->rules = xrealloc(c->rules, (c->nrules + 1) * sizeof(*c->rules));
	c->rules[c->nrules++] = *r;
}

static void
load_rule(struct ld *ld, const config_setting_t *s)
{
	struct conf_rule r = { 0 };
	config_setting_t *b, *a, *ch;
	int ok = 1, g;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		lerr(ld, s, "each entry of 'reminders' must be a rule such as "
		    "{ before = \"48h\"; channel = \"email\"; }");
		return;
	}
	known_keys(ld, s, "a reminders rule", rule_keys);
	r.line = config_setting_source_line(s);
	b = member(s, "before");
	a = member(s, "after");
	if (b != NULL && a != NULL) {
		lerr(ld, a, "a rule takes 'before' or 'after', not both");
		ok = 0;
	} else if (b == NULL && a == NULL) {
		lerr(ld, s, "a rule needs 'before' (a reminder) or 'after' "
		    "(a follow-up), such as before = \"48h\"");
		ok = 0;
	} else if (get_dur(ld, s, b != NULL ? "before" : "after",
	    b != NULL ? &r.before : &r.after) != 1)
		ok = 0;
	if ((ch = member(s, "channel")) == NULL) {
		lerr(ld, s, "a rule needs 'channel' (\"email\" or \"sms\")");
		ok = 0;
	} else if (config_setting_type(ch) != CONFIG_TYPE_STRING ||
	    chan_parse(config_setting_get_string(ch), &r.channel) == -1) {
		lerr(ld, ch, "'channel' must be \"email\" or \"sms\"");
		ok = 0;
	}
	if ((g = get_strlist(ld, s, "kinds", kinds, "[\"assessment\", "
	    "\"session\", \"call\"]", add_kind, &r)) == -1)
		ok = 0;
	else if (g == 1 && r.nkinds == 0) {
		lerr(ld, member(s, "kinds"), "'kinds' is empty: leave it out "
		    "to apply the rule to every kind");
		ok = 0;
	}
	if (get_str(ld, s, "template", &r.template) == -1)
		ok = 0;
	else if (r.template != NULL && !conf_tmpl_defined(ld->c, r.template)) {
		lerr(ld, member(s, "template"), "template \"%s\" is not defined: "
		    "add templates.%s = { ... } or name a built-in group",
		    r.template, r.template);
		ok = 0;
	}
	if (!ok) {
		rule_free(&r);
		return;
	}
	if (r.before > 0)
		snprintf(r.key, sizeof(r.key), "b%ld", r.before);
	else
		snprintf(r.key, sizeof(r.key), "a%ld", r.after);
	rule_add(ld, s, &r);
}

static void
load_rules(struct ld *ld, const config_setting_t *root)
{
	config_setting_t *s = member(root, "reminders"), *e;
	struct conf_rule r;
	int i;

	if (s == NULL) {
		memset(&r, 0, sizeof(r));
		r.before = 48 * 3600;
		r.channel = CHAN_EMAIL;
		snprintf(r.key, sizeof(r.key), "b%ld", r.before);
		rule_add(ld, NULL, &r);
		memset(&r, 0, sizeof(r));
		r.before = 3 * 3600;
		r.channel = CHAN_SMS;
		snprintf(r.key, sizeof(r.key), "b%ld", r.before);
		rule_add(ld, NULL, &r);
		return;
	}
	/* an empty array "[]" is taken as "()"; arrays cannot hold groups */
	if (config_setting_type(s) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(s) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(s) == 0)) {
		lerr(ld, s, "'reminders' must be a list of rules: reminders = "
		    "( { before = \"48h\"; channel = \"email\"; } );");
		return;
	}
	for (i = 0; (e = config_setting_get_elem(s, (unsigned)i)) != NULL; i++)
		load_rule(ld, e);
}

/* ---- the rest ---- */

static int
in_quiet(int t, int from, int to)
{
	return from < to ? t >= from && t < to : t >= from || t < to;
}

static void
load_timing(struct ld *ld, const config_setting_t *root)
{
	struct conf *c = ld->c;
	config_setting_t *hw, *q, *rt, *al, *loc;
	int ch;

	get_dur(ld, root, "late_limit", &c->late_limit);
	get_bool(ld, root, "notify_cancellation", &c->notify_cancellation);
	get_str(ld, root, "database", &c->database);

	hw = sub(ld, root, "homework", homework_keys);
	get_hhmm(ld, hw, "at", &c->homework.at);
	get_chans(ld, hw, c->homework.channels);

	q = sub(ld, root, "quiet_hours", quiet_keys);
	if (get_hhmm(ld, q, "from", &c->quiet.from) +
	    get_hhmm(ld, q, "to", &c->quiet.to) > 0 &&
	    c->quiet.from == c->quiet.to)
		lerr(ld, member(q, "to"), "quiet hours 'from' and 'to' are the "
		    "same time; to have none, set channels = []");
	get_chans(ld, q, c->quiet.channels);
	for (ch = 0; ch < CHAN_N; ch++) {
		if (!c->homework.channels[ch] || !c->quiet.channels[ch] ||
		    c->quiet.from == c->quiet.to ||
		    !in_quiet(c->homework.at, c->quiet.from, c->quiet.to))
			continue;
		loc = member(hw, "at") ? member(hw, "at") : member(q, "from");
		lerr(ld, loc, "homework.at %02d:%02d falls inside quiet hours "
		    "(%02d:%02d to %02d:%02d) on %s: prompts could never be "
		    "sent there; move homework.at or quiet_hours",
		    c->homework.at / 60, c->homework.at % 60,
		    c->quiet.from / 60, c->quiet.from % 60,
		    c->quiet.to / 60, c->quiet.to % 60, chan_name((enum chan)ch));
		break;
	}

	rt = sub(ld, root, "retry", retry_keys);
	get_long(ld, rt, "attempts", 1, 50, &c->retry.attempts);
	if (get_dur(ld, rt, "first", &c->retry.first) +
	    get_dur(ld, rt, "max", &c->retry.max) > 0 &&
	    c->retry.first > c->retry.max)
		lerr(ld, member(rt, "first") ? member(rt, "first") : rt,
		    "retry.first is longer than retry.max");

	al = sub(ld, root, "alerts", alerts_keys);
	get_dur(ld, al, "every", &c->alerts_every);
}

static struct conf *
conf_defaults(const char *path)
{
	struct conf *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	c->practice.timezone = xstrdup("Europe/London");
	c->database = xstrdup("/var/lib/nudged/nudged.db");
	c->email.enabled = 1;
	c->email.tls_required = 1;
	c->email.timeout = 30;
	c->email.calendar = 1;
	c->sms.enabled = 1;
	c->sms.provider = xstrdup("twilio");
	c->sms.region = xstrdup("GB");
	c->sms.max_segments = 3;
	c->sms.concurrency = 4;
	c->sms.fallback_email = 1;
	c->sms.timeout = 30;
	c->sms.method = xstrdup("POST");
	c->sms.content_type = xstrdup("application/x-www-form-urlencoded");
	c->late_limit = 3600;
	c->notify_cancellation = 1;
	c->homework.at = 19 * 60;
	c->homework.channels[CHAN_EMAIL] = 1;
	c->homework.channels[CHAN_SMS] = 1;
	c->quiet.from = 21 * 60;
	c->quiet.to = 8 * 60;
	c->quiet.channels[CHAN_SMS] = 1;
	c->retry.attempts = 8;
	c->retry.first = 60;
	c->retry.max = 3600;
	c->alerts_every = 3600;
	return c;
}

static int
open_check(struct ld *ld)
{
	struct stat st;
	FILE *f;

	/* libconfig only says "file I/O error"; the practitioner needs why */
	if ((f = fopen(ld->path, "r")) == NULL) {
		lerr(ld, NULL, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		lerr(ld, NULL, "cannot read: %s", strerror(EISDIR));
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* libconfig stops at the first syntax error: that one line is all we have. */
static void
parse_error(struct ld *ld, const config_t *cfg)
{
	const char *f = config_error_file(cfg) ? config_error_file(cfg) : ld->path;
	struct conf_diag *d = ld->errs;

	d->lines = xrealloc(d->lines, (d->n + 1) * sizeof(*d->lines));
	if (config_error_line(cfg) > 0)
		d->lines[d->n++] = xasprintf("%s:%d: %s", f,
		    config_error_line(cfg), config_error_text(cfg));
	else
		d->lines[d->n++] = xasprintf("%s: %s", f, config_error_text(cfg));
}

int
conf_load(const char *path, struct conf **out, struct conf_diag *errs,
    struct conf_diag *warns)
{
	struct conf_diag sink = { 0 };
	struct ld ld = { 0 };
	config_setting_t *root;
	config_t cfg;
	char *dir;
	size_t nerr;

	*out = NULL;
	ld.path = path;
	ld.errs = errs != NULL ? errs : &sink;
	ld.warns = warns;
	nerr = ld.errs->n;
	if (open_check(&ld) == -1) {
		conf_diag_free(&sink);
		return -1;
	}
	ld.c = conf_defaults(path);
	config_init(&cfg);
	/* @include "x" is found next to the file that includes it */
	dir = strrchr(path, '/') != NULL ?
	    xstrndup(path, (size_t)(strrchr(path, '/') - path) + 1) : NULL;
	if (dir != NULL)	/* libconfig 1.5 strdup()s its argument, NULL included */
		config_set_include_dir(&cfg, dir);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		parse_error(&ld, &cfg);
		goto fail;
	}
	root = config_root_setting(&cfg);
	known_keys(&ld, root, NULL, top_keys);
	load_practice(&ld, root);
	load_email(&ld, root);
	load_sms(&ld, root);
	load_timing(&ld, root);
	load_templates(&ld, root);
	load_rules(&ld, root);
	if (ld.errs->n > nerr)
		goto fail;
	config_destroy(&cfg);
	free(dir);
	conf_diag_free(&sink);
	*out = ld.c;
	return 0;
fail:
	config_destroy(&cfg);
	free(dir);
	conf_diag_free(&sink);
	conf_free(ld.c);
	return -1;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	free(c->practice.name);
	free(c->practice.practitioner);
	free(c->practice.timezone);
	free(c->practice.email);
	free(c->practice.phone);
	free(c->practice.address);
	free(c->practice.video_url);
	free(c->database);
	free(c->email.url);
	free(c->email.ca_file);
	free(c->email.username);
	xfree_secret(c->email.password);
	free(c->email.from);
	free(c->sms.provider);
	free(c->sms.url);
	free(c->sms.account);
	xfree_secret(c->sms.token);
	free(c->sms.from);
	free(c->sms.region);
	free(c->sms.ca_file);
	free(c->sms.method);
	for (i = 0; i < c->sms.nheaders; i++)
		free(c->sms.headers[i]);
	free(c->sms.headers);
	free(c->sms.content_type);
	free(c->sms.body);
	free(c->sms.id_field);
	for (i = 0; i < c->nrules; i++)
		rule_free(&c->rules[i]);
	free(c->rules);
	for (i = 0; i < c->ntmpls; i++) {
		free(c->tmpls[i].name);
		free(c->tmpls[i].email_subject);
		free(c->tmpls[i].email_text);
		free(c->tmpls[i].sms);
	}
	free(c->tmpls);
	free(c);
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

static const struct conf_tmpl_group *
conf_tmpl_group(const struct conf *c, const char *group)
{
	size_t i;

	for (i = 0; group != NULL && i < c->ntmpls; i++)
		if (strcmp(c->tmpls[i].name, group) == 0)
			return &c->tmpls[i];
	return NULL;
}

int
conf_tmpl_defined(const struct conf *c, const char *group)
{
	return conf_tmpl_group(c, group) != NULL || tmpl_builtin_group(group);
}

const char *
conf_tmpl_text(const struct conf *c, const char *group, const char *key,
    const char *fallback)
{
	const struct conf_tmpl_group *g = conf_tmpl_group(c, group);
	const char *t = NULL;

	if (g != NULL) {
		if (strcmp(key, "email_subject") == 0)
			t = g->email_subject;
		else if (strcmp(key, "email_text") == 0)
			t = g->email_text;
		else if (strcmp(key, "sms") == 0)
			t = g->sms;
	}
	if (t == NULL && group != NULL)
		t = tmpl_builtin(group, key);
	if (t == NULL && fallback != NULL)
		t = tmpl_builtin(fallback, key);
	return t != NULL ? t : "";
}

int
conf_quiet_on(const struct conf *c, enum chan ch)
{
	return (unsigned)ch < CHAN_N && c->quiet.channels[ch];
}
