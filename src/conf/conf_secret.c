/*
 * conf_secret: email.password and sms.token (see conf.h for the rules):
 * inline, from a *_file, or from $CREDENTIALS_DIRECTORY, and the check
 * that refuses an inline secret in a file others can read.  Buffers that
 * held a secret are wiped before they are freed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf_int.h"
#include "base/util.h"

#define SECRET_MAX	4096

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

/* A relative path p taken from the directory of the file base. */
static char *
rel_path(const char *base, const char *p)
{
	const char *slash = strrchr(base, '/');

	if (p[0] == '/' || slash == NULL)
		return xstrdup(p);
	return xasprintf("%.*s/%s", (int)(slash - base), base, p);
}

/*
 * The file a setting came from, as a path that works from any directory:
 * libconfig reports an @include'd file by the name written in the
 * directive, which is relative to the main file's directory (the include
 * dir conf_load sets), not to ours.  Caller frees.
 */
static char *
src_path(const struct conf_ld *ld, const config_setting_t *s)
{
	const char *f = conf_src_file(ld, s);

	return strcmp(f, ld->path) == 0 ? xstrdup(f) : rel_path(ld->path, f);
}

/*
 * The mode rule (contract "Secrets"), for every file that holds a secret
 * (issue 13: an @include'd one passed): inline, readable by group or
 * others (mask 044), is refused; a secret file readable by others (mask
 * 004; group nudged may read it) too.  A file whose mode cannot be read
 * is refused as well: when in doubt, no.
 */
static void
secret_mode(struct conf_ld *ld, const config_setting_t *s, const char *file,
    unsigned mask, const char *what, const char *fix)
{
	struct stat st;

	if (stat(file, &st) == -1) {
		conf_err(ld, s, "cannot check who may read %s, which holds %s: "
		    "%s", file, what, strerror(errno));
		return;
	}
	if ((st.st_mode & mask) == 0)
		return;
	conf_err(ld, s, "%s holds %s but is readable by %s (mode %04o); "
	    "chmod %s %s%s", file, what, mask == 004 ? "others" :
	    "group/others", (unsigned)(st.st_mode & 07777),
	    mask == 004 ? "o-rwx" : "600", file, fix);
}

static void
inline_mode(struct conf_ld *ld, const config_setting_t *s,
    const char *grp, const char *key)
{
	char *file = src_path(ld, s), what[64], fix[64];

	snprintf(what, sizeof(what), "%s.%s inline", grp, key);
	snprintf(fix, sizeof(fix), " or use %s_file", key);
	secret_mode(ld, s, file, 044, what, fix);
	free(file);
}

/*
 * email.password / sms.token: inline, *_file, or the systemd credential,
 * in that order.  Files are read only for an enabled channel, so a
 * practitioner can switch a channel off without its secret at hand.
 */
void
conf_load_secret(struct conf_ld *ld, const config_setting_t *g,
    const char *grp, const char *key, const char *cred, int enabled,
    char **out)
{
	config_setting_t *in = conf_member(g, key), *fs;
	char fkey[32], err[256], *path;
	const char *dir;
	int eno;

	snprintf(fkey, sizeof(fkey), "%s_file", key);
	fs = conf_member(g, fkey);
	if (in != NULL && config_setting_type(in) != CONFIG_TYPE_STRING) {
		conf_err(ld, in, "'%s' must be a string", key);
		return;
	}
	if (fs != NULL && config_setting_type(fs) != CONFIG_TYPE_STRING) {
		conf_err(ld, fs, "'%s' must be a string (a file name)", fkey);
		return;
	}
	if (in != NULL && fs != NULL) {
		conf_err(ld, fs, "%s.%s and %s.%s are both given: keep one",
		    grp, key, grp, fkey);
		return;
	}
	if (in != NULL) {
		char *v = (char *)config_setting_get_string(in);

		inline_mode(ld, in, grp, key);
		if (*v == '\0')
			conf_err(ld, in, "'%s' must not be empty", key);
		else
			*out = xstrdup(v);
		/* libconfig would free its copy without wiping it */
		memset(v, 0, strlen(v));
		return;
	}
	if (!enabled)
		return;
	if (fs != NULL) {
		char *src = src_path(ld, fs), what[64];

		path = rel_path(src, config_setting_get_string(fs));
		free(src);
		snprintf(what, sizeof(what), "%s.%s", grp, key);
		if (read_secret(path, out, &eno, err, sizeof(err)) == -1)
			conf_err(ld, fs, "%s.%s \"%s\" %s", grp, fkey, path,
			    err);
		else
			secret_mode(ld, fs, path, 004, what, "");
		free(path);
		return;
	}
	if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL || *dir == '\0')
		return;
	path = xasprintf("%s/%s", dir, cred);
	if (read_secret(path, out, &eno, err, sizeof(err)) == -1 &&
	    eno != ENOENT)
		conf_err(ld, NULL, "credential %s (%s) for %s.%s %s", cred,
		    path, grp, key, err);
	free(path);
}
