/* fixture: the unit tests' shared helpers (see fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fixture.h"
#include "conf/conf.h"
#include "store/store.h"
#include "base/tz.h"
#include "base/util.h"

static char fx_tmp[96];
static char fx_dbpath[160];
static int fx_dbn;

int
fx_tz_london(void)
{
	char err[256];

	if (tz_set("Europe/London", err, sizeof(err)) != 0) {
		fprintf(stderr, "tz_set: %s\n", err);
		return -1;
	}
	return 0;
}

void
fx_conf_practice(struct conf *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->practice.name = "Hughes Relationship Therapy";
	cf->practice.practitioner = "Christian Hughes";
	cf->practice.email = "christian@example.org";
	cf->email.enabled = 1;
	cf->sms.enabled = 1;
	cf->sms.region = "GB";
	cf->late_limit = 3600;
	cf->quiet.from = 21 * 60;
	cf->quiet.to = 8 * 60;
	cf->quiet.channels[CHAN_SMS] = 1;
	cf->retry.attempts = 8;
	cf->retry.first = 60;
	cf->retry.max = 3600;
}

time_t
fx_utc(const char *s)
{
	time_t t;

	if (tz_parse_utc(s, &t) != 0)
		fail_msg("cannot parse %s", s);
	return t;
}

/*
 * Under /dev/shm when there is one: the store's tests commit thousands of
 * transactions, and on a disk each fdatasync waits for it (test_pass took
 * 8 s of wall time for 1.6 s of CPU).  Nothing here tests durability
 * across a power cut; the file is a real SQLite database all the same.
 */
int
fx_dir_make(const char *tag)
{
	const char *base = access("/dev/shm", W_OK | X_OK) == 0 ?
	    "/dev/shm" : "/tmp";

	snprintf(fx_tmp, sizeof(fx_tmp), "%s/nudged-%s-XXXXXX", base, tag);
	return mkdtemp(fx_tmp) == NULL ? -1 : 0;
}

const char *
fx_dir(void)
{
	return fx_tmp;
}

int
fx_dir_remove(void)
{
	struct dirent *de;
	DIR *d;
	char *p;

	if ((d = opendir(fx_tmp)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", fx_tmp, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	return rmdir(fx_tmp);
}

char *
fx_file(const char *name, const char *text, mode_t mode)
{
	char *p = xasprintf("%s/%s", fx_tmp, name);
	size_t len = strlen(text);
	int fd;

	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

const char *
fx_db_new(void)
{
	snprintf(fx_dbpath, sizeof(fx_dbpath), "%s/t%d.db", fx_tmp, ++fx_dbn);
	return fx_dbpath;
}

const char *
fx_db(void)
{
	return fx_dbpath;
}

void
fx_db_remove(const char *path)
{
	char b[200];

	unlink(path);
	snprintf(b, sizeof(b), "%s-wal", path);
	unlink(b);
	snprintf(b, sizeof(b), "%s-shm", path);
	unlink(b);
}

struct store *
fx_open(void)
{
	char err[512] = "";
	struct store *s = store_open(fx_dbpath, err, sizeof(err));

	if (s == NULL)
		fail_msg("store_open: %s", err);
	return s;
}

void
fx_sql(struct store *s, const char *q)
{
	char *e = NULL;

	if (sqlite3_exec(store_db(s), q, NULL, NULL, &e) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", q, e);
		sqlite3_free(e);
		fail();
	}
}

long long
fx_sql_int(struct store *s, const char *q)
{
	sqlite3_stmt *st;
	long long v = -999;

	assert_int_equal(sqlite3_prepare_v2(store_db(s), q, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

const char *
fx_sql_text(struct store *s, const char *q, char *buf, size_t len)
{
	sqlite3_stmt *st;
	const unsigned char *t;

	snprintf(buf, len, "(none)");
	assert_int_equal(sqlite3_prepare_v2(store_db(s), q, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		snprintf(buf, len, "%s", t != NULL ? (const char *)t : "(null)");
	}
	sqlite3_finalize(st);
	return buf;
}

int
fx_db_group_setup(void **state)
{
	(void)state;
	return fx_tz_london() != 0 ? -1 : fx_dir_make("db");
}

int
fx_db_group_teardown(void **state)
{
	(void)state;
	return fx_dir_remove();
}

int
fx_db_setup(void **state)
{
	(void)state;
	fx_db_new();
	return 0;
}

int
fx_db_teardown(void **state)
{
	(void)state;
	fx_db_remove(fx_db());
	return 0;
}
