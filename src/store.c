/*
 * store: SQLite schema, migrations, reads and the outbox (see store.h for
 * the states).
 *
 * Statements are prepared per call and finalized before returning: the
 * volume is small (a pass touches tens of rows), and nothing can be left
 * holding a read snapshot open between calls.
 *
 * Times in nudged's own columns are "YYYY-MM-DDTHH:MM:SSZ", so comparing
 * them as text in SQL is comparing instants; time_t 0 is stored as NULL.
 * Times written by booking tools (appointments.starts_at) take any form
 * tz_parse_any() accepts and are parsed here, never compared in SQL.
 *
 * Consent: the contract says "no SMS without sms_consent = 1; no email
 * without email_consent = 1", so only exactly 1 counts as consent for both
 * (a tool writing 2 or 'yes' gets nothing sent).  discreet is any
 * non-zero value; opted_out_at and closed_at count as set when not NULL
 * (an empty string too: when in doubt, send nothing).
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "store.h"
#include "tz.h"
#include "util.h"

struct store {
	sqlite3	*db;
	char	*path;
	int	 dry;		/* inside store_dry_begin(): begin/commit are savepoints */
	volatile int *stop;	/* during store_begin_or_stop(): give up when set */
};

/* How long store_begin() keeps trying on top of the busy handler. */
#define STORE_LOCK_WAIT		30
#define STORE_BUSY_MS		10000
#define STORE_BAD_VALUE_MAX	40

#define MSG_COLS "id, purpose, appointment_id, homework_id, client_id, channel," \
	" recipient, due_at, status, attempts, last_error, provider_ref, sent_at," \
	" rule, appt_start, occurrence, template, next_at, recovered"
#define CLIENT_COLS "id, name, first_name, email, phone, email_consent," \
	" sms_consent, discreet, opted_out_at IS NOT NULL"
#define APPT_COLS "id, case_id, starts_at, duration_min, kind, mode, video_url, status"
#define HW_COLS "id, case_id, title, prompt, starts_on, ends_on, every_days," \
	" at_time, active"
#define SQL_NOW "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

/*
 * Migrations: step i takes user_version i to i + 1.  Step 0 creates the
 * contract's tables only if a booking tool has not already (adoption).
 */
static const char *store_steps[STORE_SCHEMA_VERSION] = {
	"CREATE TABLE IF NOT EXISTS clients ("
	" id INTEGER PRIMARY KEY, name TEXT NOT NULL, first_name TEXT,"
	" email TEXT, phone TEXT, email_consent INTEGER NOT NULL DEFAULT 1,"
	" sms_consent INTEGER NOT NULL DEFAULT 0,"
	" discreet INTEGER NOT NULL DEFAULT 0, opted_out_at TEXT);"
	"CREATE TABLE IF NOT EXISTS cases ("
	" id INTEGER PRIMARY KEY, label TEXT NOT NULL, closed_at TEXT);"
	"CREATE TABLE IF NOT EXISTS case_members ("
	" case_id INTEGER NOT NULL REFERENCES cases(id),"
	" client_id INTEGER NOT NULL REFERENCES clients(id),"
	" PRIMARY KEY (case_id, client_id));"
	"CREATE TABLE IF NOT EXISTS appointments ("
	" id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),"
	" starts_at TEXT NOT NULL, duration_min INTEGER NOT NULL DEFAULT 60,"
	" kind TEXT NOT NULL DEFAULT 'session',"
	" mode TEXT NOT NULL DEFAULT 'in_person', video_url TEXT,"
	" status TEXT NOT NULL DEFAULT 'booked');"
	"CREATE TABLE IF NOT EXISTS homework ("
	" id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),"
	" title TEXT NOT NULL, prompt TEXT NOT NULL, starts_on TEXT NOT NULL,"
	" ends_on TEXT, every_days INTEGER NOT NULL DEFAULT 2, at_time TEXT,"
	" active INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE IF NOT EXISTS messages ("
	" id INTEGER PRIMARY KEY, purpose TEXT NOT NULL, appointment_id INTEGER,"
	" homework_id INTEGER, client_id INTEGER, channel TEXT NOT NULL,"
	" recipient TEXT NOT NULL, due_at TEXT NOT NULL, status TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
	" provider_ref TEXT, sent_at TEXT,"
	" rule TEXT, appt_start TEXT, occurrence TEXT, template TEXT,"
	" next_at TEXT, created_at TEXT NOT NULL, updated_at TEXT,"
	" claimed_at TEXT, recovered INTEGER NOT NULL DEFAULT 0,"
	" alerted INTEGER NOT NULL DEFAULT 0);"
	/* The contract's "at most one message row, ever" invariants. */
	"CREATE UNIQUE INDEX IF NOT EXISTS messages_appt_key ON messages"
	" (appointment_id, appt_start, rule, client_id, channel)"
	" WHERE appointment_id IS NOT NULL AND rule IS NOT NULL;"
	"CREATE UNIQUE INDEX IF NOT EXISTS messages_hw_key ON messages"
	" (homework_id, occurrence, client_id, channel)"
	" WHERE homework_id IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS messages_due ON messages (status, due_at);"
	"CREATE INDEX IF NOT EXISTS messages_appt ON messages (appointment_id);"
	"CREATE INDEX IF NOT EXISTS messages_hw ON messages (homework_id);"
	"CREATE TABLE IF NOT EXISTS problems ("
	" tbl TEXT NOT NULL, row_id INTEGER NOT NULL, what TEXT NOT NULL,"
	" first_seen TEXT NOT NULL, alerted INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (tbl, row_id, what));"
	"CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);",
};

/*
 * Columns the code reads.  A booking tool's older table without one of
 * them is refused at open with a clear message, not at the first pass.
 */
static const char *store_need[] = {
	"clients", "id name first_name email phone email_consent sms_consent"
	    " discreet opted_out_at",
	"cases", "id label closed_at",
	"case_members", "case_id client_id",
	"appointments", "id case_id starts_at duration_min kind mode video_url status",
	"homework", "id case_id title prompt starts_on ends_on every_days at_time active",
	"messages", "id purpose appointment_id homework_id client_id channel recipient"
	    " due_at status attempts last_error provider_ref sent_at rule appt_start"
	    " occurrence template next_at created_at updated_at claimed_at recovered"
	    " alerted",
	NULL
};

static void
store_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int	store_busy(void *, int);

static void
store_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
store_dberr(struct store *s, char *err, size_t errlen, const char *what)
{
	store_errf(err, errlen, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -1;
}

static sqlite3_stmt *
store_prep(struct store *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_errf(err, errlen, "%s: %.40s%s: %s", s->path, sql,
		    strlen(sql) > 40 ? "..." : "", sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void
bind_id(sqlite3_stmt *st, int i, long long v)
{
	if (v == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static void
bind_time(sqlite3_stmt *st, int i, time_t t)
{
	char buf[TZ_UTC_LEN];

	if (t == 0) {
		sqlite3_bind_null(st, i);
		return;
	}
	tz_format_utc(t, buf);
	sqlite3_bind_text(st, i, buf, -1, SQLITE_TRANSIENT);
}

static const char *
col_str(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	return xstrdup(col_str(st, i));
}

/* One of our own time columns; a value we did not write reads as 0. */
static time_t
col_time(sqlite3_stmt *st, int i)
{
	const char *v = col_str(st, i);
	time_t t;

	if (v == NULL || (tz_parse_utc(v, &t) == -1 && tz_parse_any(v, &t) == -1))
		return 0;
	return t;
}

/* Run a statement that returns no rows (or whose rows do not matter). */
static int
store_run(struct store *s, sqlite3_stmt *st, const char *what, char *err,
    size_t errlen)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, what);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A plain statement with no parameters and no data in it. */
static int
store_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	return store_run(s, st, sql, err, errlen);
}

static int
chan_from_db(const char *v, enum chan *c)
{
	if (v != NULL && strcmp(v, "email") == 0)
		*c = CHAN_EMAIL;
	else if (v != NULL && strcmp(v, "sms") == 0)
		*c = CHAN_SMS;
	else
		return -1;
	return 0;
}

static const char *
chan_to_db(enum chan c)
{
	return c == CHAN_SMS ? "sms" : "email";
}

static int
in_list(const char *v, const char *const *list)
{
	for (; v != NULL && *list != NULL; list++)
		if (strcmp(v, *list) == 0)
			return 1;
	return 0;
}

/* 'value' for a bad-row report: short, and no control characters. */
static void
quote_value(const char *v, char *buf, size_t len)
{
	size_t i;

	if (v == NULL) {
		snprintf(buf, len, "NULL");
		return;
	}
	snprintf(buf, len, "'%.*s%s'", STORE_BAD_VALUE_MAX, v,
	    strlen(v) > STORE_BAD_VALUE_MAX ? "..." : "");
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
}

/* ---------------------------------------------------------------- open */

static int
store_user_version(struct store *s, long *v, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_prep(s, "PRAGMA user_version", err, errlen)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = (long)sqlite3_column_int64(st, 0);
	else
		store_dberr(s, err, errlen, "reading user_version");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
store_check_columns(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const char **t;
	char *cols, *col, *save;
	int rc = 0;

	if ((st = store_prep(s, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
	    err, errlen)) == NULL)
		return -1;
	for (t = store_need; rc == 0 && t[0] != NULL; t += 2) {
		cols = xstrdup(t[1]);
		for (col = strtok_r(cols, " ", &save); col != NULL && rc == 0;
		    col = strtok_r(NULL, " ", &save)) {
			sqlite3_reset(st);
			bind_text(st, 1, t[0]);
			bind_text(st, 2, col);
			switch (sqlite3_step(st)) {
			case SQLITE_ROW:
				break;
			case SQLITE_DONE:
				store_errf(err, errlen, "%s: table %s has no column %s",
				    s->path, t[0], col);
				rc = -1;
				break;
			default:
				rc = store_dberr(s, err, errlen, "checking the schema");
			}
		}
		free(cols);
	}
	sqlite3_finalize(st);
	return rc;
}

static int
store_migrate(struct store *s, char *err, size_t errlen)
{
	long v;
	char sql[64];

	if (store_user_version(s, &v, err, errlen) == -1)
		return -1;
	while (v < STORE_SCHEMA_VERSION) {
		if (v < 0) {
			store_errf(err, errlen, "%s: database schema version %ld is invalid",
			    s->path, v);
			return -1;
		}
		if (store_begin(s, err, errlen) == -1)
			return -1;
		/* Another process may have migrated while we waited for the lock. */
		if (store_user_version(s, &v, err, errlen) == -1)
			goto fail;
		if (v >= STORE_SCHEMA_VERSION)
			break;
		if (sqlite3_exec(s->db, store_steps[v], NULL, NULL, NULL) != SQLITE_OK) {
			store_dberr(s, err, errlen, "migrating the schema");
			goto fail;
		}
		/* A PRAGMA takes no parameters; v is our own counter. */
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %ld", v + 1);
		if (store_exec(s, sql, err, errlen) == -1)
			goto fail;
		if (store_commit(s, err, errlen) == -1)
			return -1;
		v++;
	}
	if (!sqlite3_get_autocommit(s->db))
		store_rollback(s);
	if (v > STORE_SCHEMA_VERSION) {
		store_errf(err, errlen, "%s: database schema version %ld is newer than"
		    " this nudged (%d)", s->path, v, STORE_SCHEMA_VERSION);
		return -1;
	}
	return store_check_columns(s, err, errlen);
fail:
	store_rollback(s);
	return -1;
}

static void
store_open_error(struct store *s, char *err, size_t errlen)
{
	char *copy = xstrdup(s->path);
	const char *dir = dirname(copy);
	struct stat sb;

	if (stat(dir, &sb) == -1)
		store_errf(err, errlen, "%s: cannot open database: directory %s: %s",
		    s->path, dir, strerror(errno));
	else
		store_dberr(s, err, errlen, "cannot open database");
	free(copy);
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	sqlite3_stmt *st;
	const char *mode;
	int ok;

	s->path = xstrdup(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    NULL) != SQLITE_OK) {
		store_open_error(s, err, errlen);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	sqlite3_busy_handler(s->db, store_busy, s);
	if ((st = store_prep(s, "PRAGMA journal_mode=WAL", err, errlen)) == NULL)
		goto fail;
	ok = sqlite3_step(st) == SQLITE_ROW && (mode = col_str(st, 0)) != NULL &&
	    strcasecmp(mode, "wal") == 0;
	if (!ok)
		store_errf(err, errlen, "%s: cannot switch to WAL journal mode: %s",
		    path, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	if (!ok)
		goto fail;
	if (store_exec(s, "PRAGMA synchronous=FULL", err, errlen) == -1 ||
	    store_exec(s, "PRAGMA foreign_keys=ON", err, errlen) == -1 ||
	    store_migrate(s, err, errlen) == -1)
		goto fail;
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL) {
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(s->db);
	}
	free(s->path);
	free(s);
}

struct sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

/* -------------------------------------------------------- transactions */

static double
store_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Another process (nudgectl, a booking tool) may hold the write lock for
 * many seconds; being busy must never make nudged fail quickly.  The busy
 * handler waits up to STORE_BUSY_MS per try; keep trying for
 * STORE_LOCK_WAIT seconds in all.
 */
/*
 * SQLite's busy handler: wait in short naps (so a stop request is seen
 * within a tenth of a second) up to STORE_BUSY_MS per statement.
 */
static int
store_busy(void *arg, int n)
{
	struct store *s = arg;
	struct timespec nap = { 0, 20 * 1000 * 1000 };

	if ((s->stop != NULL && *s->stop) || n * 20 >= STORE_BUSY_MS)
		return 0;
	nanosleep(&nap, NULL);
	return 1;
}

static int
store_exec_wait(struct store *s, const char *sql, char *err, size_t errlen)
{
	double start = store_clock();
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	int rc;

	for (;;) {
		rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if (s->stop != NULL && *s->stop) {
			store_errf(err, errlen, "%s: gave up waiting for the "
			    "database: stopping", s->path);
			return -1;
		}
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    store_clock() - start >= STORE_LOCK_WAIT)
			return store_dberr(s, err, errlen, sql);
		nanosleep(&nap, NULL);
	}
}

int
store_begin_or_stop(struct store *s, volatile int *stop, char *err,
    size_t errlen)
{
	int r;

	s->stop = stop;
	r = store_begin(s, err, errlen);
	s->stop = NULL;
	return r;
}

int
store_begin(struct store *s, char *err, size_t errlen)
{
	if (s->dry)
		return store_exec_wait(s, "SAVEPOINT nudged", err, errlen);
	return store_exec_wait(s, "BEGIN IMMEDIATE", err, errlen);
}

int
store_commit(struct store *s, char *err, size_t errlen)
{
	if (s->dry)
		return store_exec_wait(s, "RELEASE nudged", err, errlen);
	if (store_exec_wait(s, "COMMIT", err, errlen) == -1) {
		store_rollback(s);
		return -1;
	}
	return 0;
}

void
store_rollback(struct store *s)
{
	if (s->dry) {
		sqlite3_exec(s->db, "ROLLBACK TO nudged; RELEASE nudged", NULL, NULL, NULL);
		return;
	}
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * The outer transaction is IMMEDIATE so that the writes the pass makes
 * inside it (rolled back at the end) cannot fail half-way on a lock.
 */
int
store_dry_begin(struct store *s, char *err, size_t errlen)
{
	if (s->dry) {
		store_errf(err, errlen, "%s: dry run already started", s->path);
		return -1;
	}
	if (store_exec_wait(s, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	s->dry = 1;
	return 0;
}

void
store_dry_end(struct store *s)
{
	if (!s->dry)
		return;
	s->dry = 0;
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ------------------------------------------------------------- readers */

static void
read_client(sqlite3_stmt *st, struct client *c)
{
	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	c->name = xstrdup(col_str(st, 1) ? col_str(st, 1) : "");
	c->first_name = col_dup(st, 2);
	c->email = col_dup(st, 3);
	c->phone = col_dup(st, 4);
	c->email_consent = sqlite3_column_int64(st, 5) == 1;
	c->sms_consent = sqlite3_column_int64(st, 6) == 1;
	c->discreet = sqlite3_column_int64(st, 7) != 0;
	c->opted_out = sqlite3_column_int(st, 8) != 0;
}

/* 0, or -1 with why when the row cannot be understood (a bad row). */
static int
read_appt(sqlite3_stmt *st, struct appt *a, char *why, size_t whylen)
{
	static const char *const kinds[] = { "assessment", "session", "call", NULL };
	static const char *const modes[] = { "in_person", "online", "phone", NULL };
	static const char *const statuses[] = { "booked", "cancelled", NULL };
	const char *starts = col_str(st, 2), *kind = col_str(st, 4);
	const char *mode = col_str(st, 5), *status = col_str(st, 7);
	long long dur = sqlite3_column_int64(st, 3);
	char q[STORE_BAD_VALUE_MAX + 8];

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->case_id = sqlite3_column_int64(st, 1);
	if (starts == NULL || tz_parse_any(starts, &a->starts_at) == -1) {
		quote_value(starts, q, sizeof(q));
		store_errf(why, whylen, "unreadable starts_at %s", q);
		return -1;
	}
	if (!in_list(kind, kinds)) {
		quote_value(kind, q, sizeof(q));
		store_errf(why, whylen, "unknown kind %s", q);
		return -1;
	}
	if (!in_list(mode, modes)) {
		quote_value(mode, q, sizeof(q));
		store_errf(why, whylen, "unknown mode %s", q);
		return -1;
	}
	if (!in_list(status, statuses)) {
		quote_value(status, q, sizeof(q));
		store_errf(why, whylen, "unknown status %s", q);
		return -1;
	}
	if (sqlite3_column_type(st, 3) != SQLITE_INTEGER || dur < 1 || dur > 1440) {
		quote_value(col_str(st, 3), q, sizeof(q));
		store_errf(why, whylen, "duration_min %s not in 1..1440", q);
		return -1;
	}
	a->duration_min = (int)dur;
	a->kind = xstrdup(kind);
	a->mode = xstrdup(mode);
	a->video_url = col_dup(st, 6);
	a->cancelled = strcmp(status, "cancelled") == 0;
	return 0;
}

static int
read_homework(sqlite3_stmt *st, struct homework *h, char *why, size_t whylen)
{
	const char *starts = col_str(st, 4), *ends = col_str(st, 5);
	const char *at = col_str(st, 7);
	long long every = sqlite3_column_int64(st, 6);
	char q[STORE_BAD_VALUE_MAX + 8];

	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(st, 0);
	h->case_id = sqlite3_column_int64(st, 1);
	h->at = -1;
	if (starts == NULL ||
	    tz_parse_date(starts, &h->start_y, &h->start_m, &h->start_d) == -1) {
		quote_value(starts, q, sizeof(q));
		store_errf(why, whylen, "unreadable starts_on %s", q);
		return -1;
	}
	/* Tools may write '' for "not set". */
	if (ends != NULL && *ends != '\0') {
		if (tz_parse_date(ends, &h->end_y, &h->end_m, &h->end_d) == -1) {
			quote_value(ends, q, sizeof(q));
			store_errf(why, whylen, "unreadable ends_on %s", q);
			return -1;
		}
		h->has_end = 1;
	}
	if (at != NULL && *at != '\0' && tz_parse_hhmm(at, &h->at) == -1) {
		quote_value(at, q, sizeof(q));
		store_errf(why, whylen, "unreadable at_time %s", q);
		return -1;
	}
	if (sqlite3_column_type(st, 6) != SQLITE_INTEGER || every < 1 ||
	    every > 366) {
		quote_value(col_str(st, 6), q, sizeof(q));
		store_errf(why, whylen, "every_days %s not in 1..366", q);
		return -1;
	}
	h->every_days = (int)every;
	h->title = xstrdup(col_str(st, 2) ? col_str(st, 2) : "");
	h->prompt = xstrdup(col_str(st, 3) ? col_str(st, 3) : "");
	h->active = sqlite3_column_int64(st, 8) == 1;
	return 0;
}

static int
read_msg(sqlite3_stmt *st, struct msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);
	if (chan_from_db(col_str(st, 5), &m->channel) == -1)
		return -1;
	m->purpose = col_dup(st, 1);
	m->appointment_id = sqlite3_column_int64(st, 2);
	m->homework_id = sqlite3_column_int64(st, 3);
	m->client_id = sqlite3_column_int64(st, 4);
	m->recipient = col_dup(st, 6);
	m->due_at = col_time(st, 7);
	m->status = col_dup(st, 8);
	m->attempts = sqlite3_column_int(st, 9);
	m->last_error = col_dup(st, 10);
	m->provider_ref = col_dup(st, 11);
	m->sent_at = col_time(st, 12);
	m->rule = col_dup(st, 13);
	m->appt_start = col_time(st, 14);
	m->occurrence = col_dup(st, 15);
	m->template = col_dup(st, 16);
	m->next_at = col_time(st, 17);
	m->recovered = sqlite3_column_int(st, 18);
	return 0;
}

/* Case row and members with two prepared statements. 1, 0 (gone) or -1. */
static int
load_case(struct store *s, sqlite3_stmt *cst, sqlite3_stmt *mst, long long id,
    struct kase *k, char *err, size_t errlen)
{
	size_t cap = 0;
	int rc;

	memset(k, 0, sizeof(*k));
	sqlite3_reset(cst);
	sqlite3_bind_int64(cst, 1, id);
	if ((rc = sqlite3_step(cst)) == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return store_dberr(s, err, errlen, "reading cases");
	k->id = id;
	k->label = xstrdup(col_str(cst, 0) ? col_str(cst, 0) : "");
	k->closed = sqlite3_column_int(cst, 1) != 0;
	sqlite3_reset(cst);
	sqlite3_reset(mst);
	sqlite3_bind_int64(mst, 1, id);
	while ((rc = sqlite3_step(mst)) == SQLITE_ROW) {
		if (k->nmembers == cap) {
			cap = cap ? cap * 2 : 2;
			k->members = xrealloc(k->members, cap * sizeof(*k->members));
		}
		k->members[k->nmembers++] = sqlite3_column_int64(mst, 0);
	}
	sqlite3_reset(mst);
	if (rc != SQLITE_DONE) {
		kase_free(k);
		return store_dberr(s, err, errlen, "reading case_members");
	}
	return 1;
}

#define CASE_SQL "SELECT label, closed_at IS NOT NULL FROM cases WHERE id = ?1"
#define MEMBERS_SQL "SELECT client_id FROM case_members WHERE case_id = ?1" \
	" ORDER BY client_id"

/* --------------------------------------------------------- single rows */

/*
 * Run sql (one ?1 = id) and hand the row to fill.  1 found, 0 gone, 2
 * unreadable (fill returned -1 with why in err), -1 error.
 */
static int
store_get_one(struct store *s, const char *sql, long long id,
    int (*fill)(sqlite3_stmt *, void *, char *, size_t), void *out,
    const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = fill(st, out, err, errlen) == 0 ? 1 : 2;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = store_dberr(s, err, errlen, what);
	sqlite3_finalize(st);
	return rc;
}

static int
fill_appt(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	struct appt *a = out;
	long long id = sqlite3_column_int64(st, 0);

	if (read_appt(st, a, why, whylen) == 0)
		return 0;
	appt_free(a);
	a->id = id;
	return -1;
}

static int
fill_homework(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	struct homework *h = out;
	long long id = sqlite3_column_int64(st, 0);

	if (read_homework(st, h, why, whylen) == 0)
		return 0;
	homework_free(h);
	h->id = id;
	return -1;
}

static int
fill_client(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	read_client(st, out);
	return 0;
}

static int
fill_msg(sqlite3_stmt *st, void *out, char *why, size_t whylen)
{
	if (read_msg(st, out) == 0)
		return 0;
	store_errf(why, whylen, "message %lld has an unknown channel",
	    (long long)sqlite3_column_int64(st, 0));
	return -1;
}

int
store_get_appt(struct store *s, long long id, struct appt *a, char *err,
    size_t errlen)
{
	memset(a, 0, sizeof(*a));
	return store_get_one(s, "SELECT " APPT_COLS " FROM appointments WHERE id = ?1",
	    id, fill_appt, a, "reading appointments", err, errlen);
}

int
store_get_homework(struct store *s, long long id, struct homework *h,
    char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	return store_get_one(s, "SELECT " HW_COLS " FROM homework WHERE id = ?1",
	    id, fill_homework, h, "reading homework", err, errlen);
}

int
store_get_client(struct store *s, long long id, struct client *c, char *err,
    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	return store_get_one(s, "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1",
	    id, fill_client, c, "reading clients", err, errlen);
}

int
store_get_msg(struct store *s, long long id, struct msg *m, char *err,
    size_t errlen)
{
	memset(m, 0, sizeof(*m));
	return store_get_one(s, "SELECT " MSG_COLS " FROM messages WHERE id = ?1",
	    id, fill_msg, m, "reading messages", err, errlen);
}

int
store_get_case(struct store *s, long long id, struct kase *k, char *err,
    size_t errlen)
{
	sqlite3_stmt *cst, *mst;
	int rc;

	memset(k, 0, sizeof(*k));
	if ((cst = store_prep(s, CASE_SQL, err, errlen)) == NULL)
		return -1;
	if ((mst = store_prep(s, MEMBERS_SQL, err, errlen)) == NULL) {
		sqlite3_finalize(cst);
		return -1;
	}
	rc = load_case(s, cst, mst, id, k, err, errlen);
	sqlite3_finalize(cst);
	sqlite3_finalize(mst);
	return rc;
}

/* ------------------------------------------------------------ snapshot */

static void *
grow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	return xrealloc(p, *cap * size);
}

static void
add_bad(struct snapshot *sn, size_t *cap, const char *table, long long id,
    const char *what)
{
	struct bad_row *b;

	sn->bad = grow(sn->bad, sn->nbad, cap, sizeof(*sn->bad));
	b = &sn->bad[sn->nbad++];
	b->table = xstrdup(table);
	b->id = id;
	b->what = xstrdup(what);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_msg(const void *a, const void *b)
{
	return cmp_ll(&((const struct msg *)a)->id, &((const struct msg *)b)->id);
}

/* Sort ids and drop repeats; returns the new count. */
static size_t
uniq_ids(long long *ids, size_t n)
{
	size_t i, o = 0;

	qsort(ids, n, sizeof(*ids), cmp_ll);
	for (i = 0; i < n; i++)
		if (o == 0 || ids[o - 1] != ids[i])
			ids[o++] = ids[i];
	return o;
}

static int
cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return (x > y) - (x < y);
}

static int
snap_appts(struct store *s, time_t since, struct snapshot *sn, size_t *badcap,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char from[TZ_UTC_LEN], why[160];
	size_t cap = 0;
	struct appt a;
	int rc;

	/*
	 * Cheap prefilter on the text: a date two days before since leaves
	 * room for any UTC offset; a value that does not even start with a
	 * date is read too, so that it is reported.
	 */
	tz_format_utc(since - 2 * 86400, from);
	from[10] = '\0';
	/*
	 * A case with active homework needs its sessions, past ones too: they
	 * bound the schedule and give day numbers.
	 */
	if ((st = store_prep(s, "SELECT " APPT_COLS ", case_id IN (SELECT case_id"
	    " FROM homework WHERE active = 1) FROM appointments"
	    " WHERE substr(starts_at, 1, 10) >= ?1 OR starts_at IS NULL"
	    " OR starts_at NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"
	    " OR case_id IN (SELECT case_id FROM homework WHERE active = 1)"
	    " ORDER BY id", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, from);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_appt(st, &a, why, sizeof(why)) == -1) {
			add_bad(sn, badcap, "appointments", a.id, why);
			appt_free(&a);
			continue;
		}
		if (a.starts_at < since && sqlite3_column_int(st, 8) == 0) {
			appt_free(&a);
			continue;
		}
		sn->appts = grow(sn->appts, sn->nappts, &cap, sizeof(a));
		sn->appts[sn->nappts++] = a;
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading appointments");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
snap_homework(struct store *s, struct snapshot *sn, size_t *badcap, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	char why[160];
	size_t cap = 0;
	struct homework h;
	int rc;

	if ((st = store_prep(s, "SELECT " HW_COLS " FROM homework WHERE active = 1"
	    " ORDER BY id", err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_homework(st, &h, why, sizeof(why)) == -1) {
			add_bad(sn, badcap, "homework", h.id, why);
			homework_free(&h);
			continue;
		}
		sn->hw = grow(sn->hw, sn->nhw, &cap, sizeof(h));
		sn->hw[sn->nhw++] = h;
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading homework");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
snap_cases(struct store *s, struct snapshot *sn, char *err, size_t errlen)
{
	sqlite3_stmt *cst = NULL, *mst = NULL;
	long long *ids;
	size_t i, n = 0;
	int rc = -1, r;

	ids = xcalloc(sn->nappts + sn->nhw, sizeof(*ids));
	for (i = 0; i < sn->nappts; i++)
		ids[n++] = sn->appts[i].case_id;
	for (i = 0; i < sn->nhw; i++)
		ids[n++] = sn->hw[i].case_id;
	n = uniq_ids(ids, n);
	sn->cases = xcalloc(n, sizeof(*sn->cases));
	if ((cst = store_prep(s, CASE_SQL, err, errlen)) == NULL ||
	    (mst = store_prep(s, MEMBERS_SQL, err, errlen)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		/* A case that does not exist is simply absent; planning skips it. */
		if ((r = load_case(s, cst, mst, ids[i], &sn->cases[sn->ncases],
		    err, errlen)) == -1)
			goto out;
		if (r == 1)
			sn->ncases++;
	}
	rc = 0;
out:
	sqlite3_finalize(cst);
	sqlite3_finalize(mst);
	free(ids);
	return rc;
}

static int
snap_clients(struct store *s, struct snapshot *sn, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long *ids;
	size_t i, j, n = 0, cap = 0;
	int rc = 0;

	for (i = 0; i < sn->ncases; i++)
		cap += sn->cases[i].nmembers;
	ids = xcalloc(cap, sizeof(*ids));
	for (i = 0; i < sn->ncases; i++)
		for (j = 0; j < sn->cases[i].nmembers; j++)
			ids[n++] = sn->cases[i].members[j];
	n = uniq_ids(ids, n);
	sn->clients = xcalloc(n, sizeof(*sn->clients));
	if ((st = store_prep(s, "SELECT " CLIENT_COLS " FROM clients WHERE id = ?1",
	    err, errlen)) == NULL) {
		free(ids);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		switch (sqlite3_step(st)) {
		case SQLITE_ROW:
			read_client(st, &sn->clients[sn->nclients++]);
			break;
		case SQLITE_DONE:
			break;
		default:
			rc = store_dberr(s, err, errlen, "reading clients");
		}
	}
	sqlite3_finalize(st);
	free(ids);
	return rc;
}

/* Messages of each id in ids (one ?1), appended to sn->msgs. */
static int
snap_msgs_for(struct store *s, const char *sql, const long long *ids, size_t n,
    struct snapshot *sn, size_t *cap, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	struct msg m;
	size_t i;
	int rc = SQLITE_DONE;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < n && rc == SQLITE_DONE; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, ids[i]);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			/* Only nudged writes messages; a foreign channel is skipped. */
			if (read_msg(st, &m) == -1)
				continue;
			sn->msgs = grow(sn->msgs, sn->nmsgs, cap, sizeof(m));
			sn->msgs[sn->nmsgs++] = m;
		}
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading messages");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
snap_msgs(struct store *s, struct snapshot *sn, char *err, size_t errlen)
{
	static const long long none = 0;
	long long *aids, *hids;
	size_t cap = 0, i, o = 0;
	int rc;

	aids = xcalloc(sn->nappts, sizeof(*aids));
	hids = xcalloc(sn->nhw, sizeof(*hids));
	for (i = 0; i < sn->nappts; i++)
		aids[i] = sn->appts[i].id;
	for (i = 0; i < sn->nhw; i++)
		hids[i] = sn->hw[i].id;
	rc = snap_msgs_for(s, "SELECT " MSG_COLS " FROM messages"
	    " WHERE appointment_id = ?1", aids, sn->nappts, sn, &cap,
	    err, errlen) == -1 ||
	    snap_msgs_for(s, "SELECT " MSG_COLS " FROM messages"
	    " WHERE homework_id = ?1", hids, sn->nhw, sn, &cap, err, errlen) == -1 ||
	    /* prompts of homework that was stopped: the planner cancels them */
	    snap_msgs_for(s, "SELECT " MSG_COLS " FROM messages WHERE status ="
	    " 'pending' AND homework_id IS NOT NULL AND homework_id NOT IN"
	    " (SELECT id FROM homework WHERE active = 1) AND ?1 = 0", &none,
	    1, sn, &cap, err, errlen) == -1;
	free(aids);
	free(hids);
	if (rc)
		return -1;
	/* A row naming both an appointment and a homework was read twice. */
	if (sn->nmsgs > 1)
		qsort(sn->msgs, sn->nmsgs, sizeof(*sn->msgs), cmp_msg);
	for (i = 0; i < sn->nmsgs; i++) {
		if (o > 0 && sn->msgs[o - 1].id == sn->msgs[i].id)
			msg_free(&sn->msgs[i]);
		else
			sn->msgs[o++] = sn->msgs[i];
	}
	sn->nmsgs = o;
	return 0;
}

/* 1 when (table, id) is in the snapshot as a good row. */
static int
snap_has(const struct snapshot *sn, const char *table, long long id)
{
	size_t i;

	if (strcmp(table, "appointments") == 0) {
		for (i = 0; i < sn->nappts; i++)
			if (sn->appts[i].id == id)
				return 1;
	} else if (strcmp(table, "homework") == 0) {
		for (i = 0; i < sn->nhw; i++)
			if (sn->hw[i].id == id)
				return 1;
	}
	return 0;
}

/* 1 when the row is bad now, for the same reason (2) or another (1); 0 not bad. */
static int
snap_bad(const struct snapshot *sn, const char *table, long long id,
    const char *what)
{
	size_t i;
	int found = 0;

	for (i = 0; i < sn->nbad; i++) {
		if (sn->bad[i].id != id || strcmp(sn->bad[i].table, table) != 0)
			continue;
		if (strcmp(sn->bad[i].what, what) == 0)
			return 2;
		found = 1;
	}
	return found;
}

/*
 * Forget problems with rows that are readable now, or bad for another
 * reason: if they break again the same way, that is news again.  The
 * problems table is nearly always empty, so this costs one query.
 */
static int
snap_forget(struct store *s, const struct snapshot *sn, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long long *gone = NULL;
	size_t n = 0, cap = 0, i;
	const char *tbl, *what;
	long long id;
	int rc;

	if ((st = store_prep(s, "SELECT rowid, tbl, row_id, what FROM problems",
	    err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tbl = col_str(st, 1);
		id = sqlite3_column_int64(st, 2);
		what = col_str(st, 3);
		if (tbl == NULL || what == NULL)
			continue;
		if (snap_has(sn, tbl, id) || snap_bad(sn, tbl, id, what) == 1) {
			gone = grow(gone, n, &cap, sizeof(*gone));
			gone[n++] = sqlite3_column_int64(st, 0);
		}
	}
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "reading problems");
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || n == 0) {
		free(gone);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	rc = 0;
	if ((st = store_prep(s, "DELETE FROM problems WHERE rowid = ?1", err,
	    errlen)) == NULL)
		rc = -1;
	for (i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, gone[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_dberr(s, err, errlen, "forgetting a problem");
	}
	sqlite3_finalize(st);
	free(gone);
	return rc;
}

int
store_snapshot(struct store *s, time_t since, struct snapshot *sn, char *err,
    size_t errlen)
{
	size_t badcap = 0;

	memset(sn, 0, sizeof(*sn));
	if (snap_appts(s, since, sn, &badcap, err, errlen) == -1 ||
	    snap_homework(s, sn, &badcap, err, errlen) == -1 ||
	    snap_cases(s, sn, err, errlen) == -1 ||
	    snap_clients(s, sn, err, errlen) == -1 ||
	    snap_msgs(s, sn, err, errlen) == -1 ||
	    snap_forget(s, sn, err, errlen) == -1) {
		snapshot_free(sn);
		return -1;
	}
	return 0;
}

void
bad_row_free(struct bad_row *b)
{
	free(b->table);
	free(b->what);
	memset(b, 0, sizeof(*b));
}

void
snapshot_free(struct snapshot *sn)
{
	size_t i;

	if (sn == NULL)
		return;
	for (i = 0; i < sn->nappts; i++)
		appt_free(&sn->appts[i]);
	for (i = 0; i < sn->ncases; i++)
		kase_free(&sn->cases[i]);
	for (i = 0; i < sn->nclients; i++)
		client_free(&sn->clients[i]);
	for (i = 0; i < sn->nhw; i++)
		homework_free(&sn->hw[i]);
	for (i = 0; i < sn->nmsgs; i++)
		msg_free(&sn->msgs[i]);
	for (i = 0; i < sn->nbad; i++) {
		bad_row_free(&sn->bad[i]);
	}
	free(sn->appts);
	free(sn->cases);
	free(sn->clients);
	free(sn->hw);
	free(sn->msgs);
	free(sn->bad);
	memset(sn, 0, sizeof(*sn));
}

/* -------------------------------------------------------------- outbox */

static int
valid_status(const char *v)
{
	static const char *const st[] = { "pending", "sending", "sent", "failed",
	    "skipped", "cancelled", NULL };

	return in_list(v, st);
}

int
store_insert_msg(struct store *s, const struct msg *m, long long *id, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	if (m->purpose == NULL || m->recipient == NULL || m->due_at == 0 ||
	    !valid_status(m->status ? m->status : "pending")) {
		store_errf(err, errlen, "%s: message without purpose, recipient,"
		    " due time or valid status", s->path);
		return -1;
	}
	/*
	 * ON CONFLICT DO NOTHING, not INSERT OR IGNORE: only the dedupe keys
	 * may swallow a row; a NOT NULL violation must stay an error.
	 */
	if ((st = store_prep(s, "INSERT INTO messages (purpose, appointment_id,"
	    " homework_id, client_id, channel, recipient, due_at, status, attempts,"
	    " last_error, provider_ref, sent_at, rule, appt_start, occurrence,"
	    " template, next_at, created_at, recovered) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
	    SQL_NOW ", ?18) ON CONFLICT DO NOTHING", err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, m->purpose);
	bind_id(st, 2, m->appointment_id);
	bind_id(st, 3, m->homework_id);
	bind_id(st, 4, m->client_id);
	bind_text(st, 5, chan_to_db(m->channel));
	bind_text(st, 6, m->recipient);
	bind_time(st, 7, m->due_at);
	bind_text(st, 8, m->status ? m->status : "pending");
	sqlite3_bind_int(st, 9, m->attempts);
	bind_text(st, 10, m->last_error);
	bind_text(st, 11, m->provider_ref);
	bind_time(st, 12, m->sent_at);
	bind_text(st, 13, m->rule);
	bind_time(st, 14, m->appt_start);
	bind_text(st, 15, m->occurrence);
	bind_text(st, 16, m->template);
	bind_time(st, 17, m->next_at);
	sqlite3_bind_int(st, 18, m->recovered);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE && sqlite3_changes(s->db) == 1)
		*id = sqlite3_last_insert_rowid(s->db);
	else if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, "inserting a message");
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_change_msg(struct store *s, const struct msg_change *c, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if (!valid_status(c->to) || !valid_status(c->from)) {
		store_errf(err, errlen, "%s: message %lld: bad status change %s -> %s",
		    s->path, c->id, c->from ? c->from : "NULL",
		    c->to ? c->to : "NULL");
		return -1;
	}
	/* No row changed is fine: another process may have moved it first. */
	if ((st = store_prep(s, "UPDATE messages SET status = ?1, last_error = ?2,"
	    " updated_at = " SQL_NOW " WHERE id = ?3 AND status = ?4",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, c->to);
	bind_text(st, 2, c->reason);
	sqlite3_bind_int64(st, 3, c->id);
	bind_text(st, 4, c->from);
	return store_run(s, st, "changing a message", err, errlen);
}

/* Run an UPDATE of exactly one message row; anything else is an error. */
static int
store_update_one(struct store *s, sqlite3_stmt *st, long long id,
    const char *what, char *err, size_t errlen)
{
	int rc = -1;

	if (sqlite3_step(st) != SQLITE_DONE)
		store_dberr(s, err, errlen, what);
	else if (sqlite3_changes(s->db) != 1)
		store_errf(err, errlen, "%s: %s: message %lld is gone or not in a"
		    " state that allows it", s->path, what, id);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
store_mark_sending(struct store *s, long long id, const char *recipient,
    const char *provider_ref, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'sending',"
	    " attempts = attempts + 1, recipient = COALESCE(?1, recipient),"
	    " provider_ref = COALESCE(?2, provider_ref), claimed_at = ?3,"
	    " updated_at = " SQL_NOW " WHERE id = ?4 AND status = 'pending'",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, recipient);
	bind_text(st, 2, provider_ref);
	bind_time(st, 3, now);
	sqlite3_bind_int64(st, 4, id);
	return store_update_one(s, st, id, "claiming", err, errlen);
}

int
store_mark_sent(struct store *s, long long id, const char *provider_ref,
    time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'sent',"
	    " sent_at = ?1, provider_ref = COALESCE(?2, provider_ref),"
	    " last_error = NULL, next_at = NULL, updated_at = " SQL_NOW
	    " WHERE id = ?3 AND status = 'sending'", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, now);
	bind_text(st, 2, provider_ref);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking sent", err, errlen);
}

/* Back to pending after a transient failure (or a paused channel). */
int
store_mark_retry(struct store *s, long long id, time_t next_at, const char *why,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " next_at = ?1, last_error = ?2, claimed_at = NULL, updated_at = "
	    SQL_NOW " WHERE id = ?3 AND status IN ('pending', 'sending')",
	    err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, next_at);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking for retry", err, errlen);
}

/*
 * An attempt whose outcome is unknown (the whole message went up, no
 * verdict came back): back to pending, counted in recovered like a crash,
 * so that a message is resent after an uncertain attempt at most once.
 */
int
store_mark_uncertain(struct store *s, long long id, time_t next_at,
    const char *why, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " next_at = ?1, last_error = ?2, claimed_at = NULL,"
	    " recovered = recovered + 1, updated_at = "
	    SQL_NOW " WHERE id = ?3 AND status IN ('pending', 'sending')",
	    err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, next_at);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking as uncertain", err, errlen);
}

/*
 * Held by quiet hours: the due time itself moves (contract: "its due time
 * becomes the end of quiet hours, and the rules above apply to it").
 */
int
store_mark_hold(struct store *s, long long id, time_t due, const char *why,
    char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " due_at = ?1, next_at = NULL, last_error = ?2, claimed_at = NULL,"
	    " updated_at = " SQL_NOW " WHERE id = ?3 AND status IN ('pending',"
	    " 'sending')", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, due);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "holding", err, errlen);
}

/* failed, skipped or cancelled: only from pending or sending, never after sent. */
int
store_mark_final(struct store *s, long long id, const char *status,
    const char *why, char *err, size_t errlen)
{
	static const char *const finals[] = { "failed", "skipped", "cancelled", NULL };
	sqlite3_stmt *st;

	if (!in_list(status, finals)) {
		store_errf(err, errlen, "%s: message %lld: %s is not a final status",
		    s->path, id, status ? status : "NULL");
		return -1;
	}
	if ((st = store_prep(s, "UPDATE messages SET status = ?1, last_error = ?2,"
	    " next_at = NULL, claimed_at = NULL, updated_at = " SQL_NOW
	    " WHERE id = ?3 AND status IN ('pending', 'sending')",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, status);
	bind_text(st, 2, why);
	sqlite3_bind_int64(st, 3, id);
	return store_update_one(s, st, id, "marking final", err, errlen);
}

/* A client that no longer exists has no consent to withdraw: not an error. */
int
store_sms_unsubscribe(struct store *s, long long client_id, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if ((st = store_prep(s, "UPDATE clients SET sms_consent = 0 WHERE id = ?1",
	    err, errlen)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, client_id);
	return store_run(s, st, "withdrawing SMS consent", err, errlen);
}

/* A row with a channel we do not know must not wedge the queue: not due. */
#define DUE_WHERE " WHERE status = 'pending' AND due_at <= ?1" \
	" AND (next_at IS NULL OR next_at <= ?1) AND channel IN ('email', 'sms')"

int
store_next_due(struct store *s, time_t now, struct msg *m, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((st = store_prep(s, "SELECT " MSG_COLS " FROM messages" DUE_WHERE
	    " ORDER BY due_at, id LIMIT 1", err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, now);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (read_msg(st, m) == 0) {
			rc = 1;
		} else {
			store_errf(err, errlen, "%s: message %lld has an unknown"
			    " channel", s->path, m->id);
			rc = -1;
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = store_dberr(s, err, errlen, "reading due messages");
	}
	sqlite3_finalize(st);
	return rc;
}

long
store_count_due(struct store *s, time_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long n = -1;

	/* Due, whether or not a retry is already scheduled: what --once reports as 75. */
	if ((st = store_prep(s, "SELECT count(*) FROM messages WHERE status = "
	    "'pending' AND due_at <= ?1 AND channel IN ('email', 'sms')",
	    err, errlen)) == NULL)
		return -1;
	bind_time(st, 1, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	else
		store_dberr(s, err, errlen, "counting due messages");
	sqlite3_finalize(st);
	return n;
}

long long
store_data_version(struct store *s)
{
	sqlite3_stmt *st;
	long long v = -1;

	if ((st = store_prep(s, "PRAGMA data_version", NULL, 0)) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* On a database error 0 too: the caller's loop wakes on its own timer. */
time_t
store_next_wake(struct store *s)
{
	sqlite3_stmt *st;
	time_t t = 0;

	if ((st = store_prep(s, "SELECT min(COALESCE(next_at, due_at)) FROM messages"
	    " WHERE status = 'pending'", NULL, 0)) == NULL)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		t = col_time(st, 0);
	sqlite3_finalize(st);
	return t;
}

/*
 * nudged runs as one service per database (systemd starts one), so at
 * start-up every row in 'sending' belongs to a process that is gone:
 * there is no live sender to wait for, and all of them are recovered.
 * nudgectl send-test never leaves its row in 'sending' across a restart
 * of the daemon in practice; if it did, it too is treated as interrupted.
 */
int
store_recover(struct store *s, time_t now, int *resent, int *failed, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int own = sqlite3_get_autocommit(s->db);

	*resent = *failed = 0;
	if (own && store_begin(s, err, errlen) == -1)
		return -1;
	if ((st = store_prep(s, "UPDATE messages SET status = 'failed',"
	    " recovered = recovered + 1, last_error = 'interrupted while sending,"
	    " after an earlier uncertain attempt: not resending (it may have arrived)', claimed_at = NULL, next_at = NULL,"
	    " updated_at = ?1 WHERE status = 'sending' AND recovered >= 1",
	    err, errlen)) == NULL)
		goto fail;
	bind_time(st, 1, now);
	if (store_run(s, st, "recovering messages", err, errlen) == -1)
		goto fail;
	*failed = sqlite3_changes(s->db);
	if ((st = store_prep(s, "UPDATE messages SET status = 'pending',"
	    " recovered = recovered + 1, claimed_at = NULL, updated_at = ?1"
	    " WHERE status = 'sending'", err, errlen)) == NULL)
		goto fail;
	bind_time(st, 1, now);
	if (store_run(s, st, "recovering messages", err, errlen) == -1)
		goto fail;
	*resent = sqlite3_changes(s->db);
	if (own && store_commit(s, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	if (own)
		store_rollback(s);
	*resent = *failed = 0;
	return -1;
}

int
store_note_bad(struct store *s, const struct bad_row *b, time_t now, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_prep(s, "INSERT INTO problems (tbl, row_id, what,"
	    " first_seen) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
	    err, errlen)) == NULL)
		return -1;
	bind_text(st, 1, b->table);
	sqlite3_bind_int64(st, 2, b->id);
	bind_text(st, 3, b->what);
	bind_time(st, 4, now);
	if ((rc = sqlite3_step(st)) == SQLITE_DONE)
		rc = sqlite3_changes(s->db) == 1;
	else
		rc = store_dberr(s, err, errlen, "noting a bad row");
	sqlite3_finalize(st);
	return rc;
}

/*
 * Failed messages and bad rows the practitioner has not yet heard of.
 * Alerts and test messages are not themselves reported.
 */
int
store_alert_items(struct store *s, struct msg **msgs, size_t *nmsgs,
    struct bad_row **bad, size_t *nbad, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*msgs = NULL;
	*bad = NULL;
	*nmsgs = *nbad = 0;
	if ((st = store_prep(s, "SELECT " MSG_COLS " FROM messages WHERE status ="
	    " 'failed' AND alerted = 0 AND purpose NOT IN ('alert', 'test')"
	    " ORDER BY id", err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*msgs = xrealloc(*msgs, (*nmsgs + 1) * sizeof(**msgs));
		if (read_msg(st, &(*msgs)[*nmsgs]) == 0)
			(*nmsgs)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading failed messages");
	if ((st = store_prep(s, "SELECT tbl, row_id, what FROM problems WHERE"
	    " alerted = 0 ORDER BY tbl, row_id", err, errlen)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct bad_row *b;

		*bad = xrealloc(*bad, (*nbad + 1) * sizeof(**bad));
		b = &(*bad)[(*nbad)++];
		b->table = col_dup(st, 0);
		b->id = sqlite3_column_int64(st, 1);
		b->what = col_dup(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_dberr(s, err, errlen, "reading bad rows");
	return 0;
}

/* Mark what store_alert_items() returned as reported (same transaction). */
int
store_alert_done(struct store *s, char *err, size_t errlen)
{
	static const char *const sql[] = {
		"UPDATE messages SET alerted = 1 WHERE status = 'failed' AND"
		    " alerted = 0 AND purpose NOT IN ('alert', 'test')",
		"UPDATE problems SET alerted = 1 WHERE alerted = 0",
	};

	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st;
		int rc;

		if ((st = store_prep(s, sql[i], err, errlen)) == NULL)
			return -1;
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return store_dberr(s, err, errlen, "marking alerts");
	}
	return 0;
}

int
store_case_sessions(struct store *s, long long case_id, time_t **starts,
    size_t *n)
{
	sqlite3_stmt *st;
	time_t t;
	int rc;

	*starts = NULL;
	*n = 0;
	if ((st = store_prep(s, "SELECT starts_at FROM appointments WHERE"
	    " case_id = ?1 AND status = 'booked'", NULL, 0)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, case_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (tz_parse_any(col_str(st, 0), &t) != 0)
			continue;	/* reported by the snapshot */
		*starts = xrealloc(*starts, (*n + 1) * sizeof(**starts));
		(*starts)[(*n)++] = t;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(*starts);
		*starts = NULL;
		*n = 0;
		return -1;
	}
	if (*n > 1)
		qsort(*starts, *n, sizeof(**starts), cmp_time);
	return 0;
}

int
store_state_get(struct store *s, const char *key, char **value)
{
	sqlite3_stmt *st;
	int rc;

	*value = NULL;
	if ((st = store_prep(s, "SELECT value FROM state WHERE key = ?1", NULL,
	    0)) == NULL)
		return -1;
	bind_text(st, 1, key);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*value = col_dup(st, 0);
		rc = *value != NULL;
	} else {
		rc = rc == SQLITE_DONE ? 0 : -1;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_state_set(struct store *s, const char *key, const char *value, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;

	if (value == NULL)
		st = store_prep(s, "DELETE FROM state WHERE key = ?1", err, errlen);
	else
		st = store_prep(s, "INSERT INTO state (key, value) VALUES (?1, ?2)"
		    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		    err, errlen);
	if (st == NULL)
		return -1;
	bind_text(st, 1, key);
	if (value != NULL)
		bind_text(st, 2, value);
	return store_run(s, st, "saving state", err, errlen);
}

/* --------------------------------------------------------------- frees */

void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->first_name);
	free(c->email);
	free(c->phone);
	memset(c, 0, sizeof(*c));
}

void
appt_free(struct appt *a)
{
	if (a == NULL)
		return;
	free(a->kind);
	free(a->mode);
	free(a->video_url);
	memset(a, 0, sizeof(*a));
}

void
kase_free(struct kase *k)
{
	if (k == NULL)
		return;
	free(k->label);
	free(k->members);
	memset(k, 0, sizeof(*k));
}

void
homework_free(struct homework *h)
{
	if (h == NULL)
		return;
	free(h->title);
	free(h->prompt);
	memset(h, 0, sizeof(*h));
}

void
msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	free(m->purpose);
	free(m->recipient);
	free(m->status);
	free(m->last_error);
	free(m->provider_ref);
	free(m->rule);
	free(m->occurrence);
	free(m->template);
	memset(m, 0, sizeof(*m));
}

static const char *
skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static size_t
word_len(const char *p, int stop_at_space)
{
	size_t n = strlen(p);

	if (stop_at_space)
		return strcspn(p, " \t\r\n");
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
	    p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	return n;
}

char *
client_first_name(const struct client *c)
{
	const char *p;

	if (c->first_name != NULL && *(p = skip_space(c->first_name)) != '\0')
		return xstrndup(p, word_len(p, 0));
	p = skip_space(c->name != NULL ? c->name : "");
	return xstrndup(p, word_len(p, 1));
}
