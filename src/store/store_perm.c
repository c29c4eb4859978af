/*
 * store_perm: who may open the database files, and the state folder.
 *
 * The documented layout: /var/lib/nudged is nudged:nudged 2770 (setgid,
 * so every file made in it is in group nudged), and the database with its
 * -wal and -shm files is 0660, so the service and a practitioner in group
 * nudged both write it.  SQLite would create the database 0644 (0640
 * under our umask), and it gives -wal and -shm the mode of the database,
 * so the database file is made here first, 0660; store_perm_repair() puts
 * back a mode that someone changed; store_perm_explain() turns SQLite's
 * "attempt to write a readonly database" into which file and why.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "base/util.h"

#define PERM_FILE	0660
#define PERM_DIR	02770

static const char *const perm_suffix[] = { "", "-wal", "-shm" };
#define PERM_NFILES	(sizeof(perm_suffix) / sizeof(perm_suffix[0]))

static char *
perm_dir(const char *path)
{
	char *copy = xstrdup(path), *d = xstrdup(dirname(copy));

	free(copy);
	return d;
}

static const char *
perm_user(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	/* Copied: getpwuid()'s buffer is overwritten by the next call. */
	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%ld", (long)uid);
	return buf;
}

static const char *
perm_group(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr != NULL)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%ld", (long)gid);
	return buf;
}

/* "mode 0640, owner nudged, group nudged" */
static void
perm_describe(const struct stat *st, char *buf, size_t len)
{
	char u[32], g[32];

	snprintf(buf, len, "mode %04o, owner %s, group %s",
	    (unsigned)(st->st_mode & 07777), perm_user(st->st_uid, u, sizeof(u)),
	    perm_group(st->st_gid, g, sizeof(g)));
}

int
store_perm_create(const char *path, char *err, size_t errlen)
{
	int fd;

	if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, PERM_FILE);
	if (fd == -1) {
		/* There already, or no folder: store_open() says which. */
		if (errno == EEXIST || errno == ENOENT)
			return 0;
		if (errno != EACCES || !store_perm_explain(path, err, errlen))
			snprintf(err, errlen, "%s: cannot create the database: "
			    "%s", path, strerror(errno));
		return -1;
	}
	/* Whatever the umask: the group shares the database, others never. */
	if (fchmod(fd, PERM_FILE) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
store_perm_repair(const char *path, char *msg, size_t msglen)
{
	struct sbuf b = { 0 };
	struct stat st, dst;
	char *dir = perm_dir(path), *f, was[128], g[32];
	int n = 0, dir_ok, setgid;

	dir_ok = stat(dir, &dst) == 0;
	setgid = dir_ok && (dst.st_mode & S_ISGID) != 0;
	for (size_t i = 0; i < PERM_NFILES; i++) {
		f = xasprintf("%s%s", path, perm_suffix[i]);
		if (stat(f, &st) == -1 || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid()) {
			free(f);
			continue;
		}
		perm_describe(&st, was, sizeof(was));
		if ((st.st_mode & 0777) != PERM_FILE && chmod(f, PERM_FILE) == 0) {
			sbuf_printf(&b, "%s%s was %s, now %04o", n ? "; " : "",
			    f, was, PERM_FILE);
			n++;
		}
		/* In the setgid folder every file belongs to the folder's group. */
		if (setgid && st.st_gid != dst.st_gid &&
		    chown(f, (uid_t)-1, dst.st_gid) == 0) {
			sbuf_printf(&b, "%s%s was in group %s, now %s", n ? "; " :
			    "", f, perm_group(st.st_gid, was, sizeof(was)),
			    perm_group(dst.st_gid, g, sizeof(g)));
			n++;
		}
		free(f);
	}
	snprintf(msg, msglen, "%s", n ? sbuf_str(&b) : "");
	sbuf_free(&b);
	free(dir);
	return n;
}

int
store_perm_explain(const char *path, char *msg, size_t msglen)
{
	struct stat st;
	char *dir = perm_dir(path), *f, how[128], u[32];
	const char *me = perm_user(geteuid(), u, sizeof(u));
	int r = 0;

	if (stat(dir, &st) == 0 &&
	    faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == -1 &&
	    errno == EACCES) {
		perm_describe(&st, how, sizeof(how));
		snprintf(msg, msglen, "permission problem: user %s cannot create "
		    "files in the folder %s (%s); it should be 2770 and the user "
		    "in its group", me, dir, how);
		free(dir);
		return 1;
	}
	for (size_t i = 0; i < PERM_NFILES && r == 0; i++) {
		f = xasprintf("%s%s", path, perm_suffix[i]);
		if (stat(f, &st) == 0 &&
		    faccessat(AT_FDCWD, f, R_OK | W_OK, AT_EACCESS) == -1 &&
		    errno == EACCES) {
			perm_describe(&st, how, sizeof(how));
			snprintf(msg, msglen, "permission problem: user %s cannot "
			    "write %s (%s); it should be 0660 in the service's "
			    "group, and the user a member of that group (nudged "
			    "repairs the mode when it starts)", me, f, how);
			r = 1;
		}
		free(f);
	}
	free(dir);
	return r;
}

enum store_rc
store_perm_mkdir(const char *path, const char *group, char *msg,
    size_t msglen)
{
	char *dir = perm_dir(path), how[128];
	struct group *gr;
	struct passwd *pw;
	struct stat st;
	enum store_rc r = STORE_ERR;

	msg[0] = '\0';
	if (stat(dir, &st) == 0) {
		free(dir);
		return STORE_OK;
	}
	if (errno != ENOENT || mkdir(dir, 0770) == -1) {
		snprintf(msg, msglen, "cannot create the folder %s: %s%s", dir,
		    strerror(errno), errno == EACCES ? " (a permission problem: "
		    "run `sudo make install`, which creates it, or create it "
		    "as root)" : "");
		goto out;
	}
	/*
	 * Root makes it the service's (nudged:nudged); anyone else gives it
	 * the group when they are in it.  Then setgid: files made in it keep
	 * the group, whoever makes them.
	 */
	if (group != NULL && (gr = getgrnam(group)) != NULL) {
		pw = geteuid() == 0 ? getpwnam(group) : NULL;
		if (chown(dir, pw ? pw->pw_uid : (uid_t)-1, gr->gr_gid) == -1 &&
		    geteuid() == 0) {
			snprintf(msg, msglen, "%s: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (chmod(dir, PERM_DIR) == -1 || stat(dir, &st) == -1) {
		snprintf(msg, msglen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	perm_describe(&st, how, sizeof(how));
	snprintf(msg, msglen, "folder %s created (%s)", dir, how);
	r = STORE_NEW;
out:
	free(dir);
	return r;
}

int
store_perm_give(const char *path, const char *user, char *msg, size_t msglen)
{
	struct passwd *pw = getpwnam(user);
	struct group *gr = getgrnam(user);
	char *f;
	int r = 0;

	if (pw == NULL || gr == NULL)
		return 0;
	for (size_t i = 0; i < PERM_NFILES && r == 0; i++) {
		f = xasprintf("%s%s", path, perm_suffix[i]);
		if (chown(f, pw->pw_uid, gr->gr_gid) == -1 && errno != ENOENT) {
			snprintf(msg, msglen, "%s: %s", f, strerror(errno));
			r = -1;
		}
		free(f);
	}
	return r;
}
