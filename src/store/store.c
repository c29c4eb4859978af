/*
 * store: opening the database (schema, migrations, the column check),
 * transactions and dry runs, the state table, and the helpers the other
 * pieces share (store_int.h).  Row readers, store_get_* and
 * store_case_sessions are in store_read.c, the planning snapshot in
 * store_snap.c, and the outbox in store_outbox.c.  See store.h for the
 * outbox states.
 *
 * Statements are prepared once per connection and kept (store_prep), but
 * every function hands its statements back with store_done() before it
 * returns, which resets them: nothing is left holding a read snapshot open
 * between calls.
 *
 * Times in nudged's own columns are "YYYY-MM-DDTHH:MM:SSZ", so comparing
 * them as text in SQL is comparing instants; time_t 0 is stored as NULL.
 * Times written by booking tools (appointments.starts_at) take any form
 * tz_parse_any() accepts and are parsed by the row readers
 * (store_read.c), never compared in SQL.
 */
#include <sys/file.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_int.h"
#include "base/tz.h"
#include "base/util.h"

/* How long store_begin() keeps trying on top of the busy handler. */
#define STORE_LOCK_WAIT		30
#define STORE_BUSY_MS		10000
/* Both shortened only by the test-only $NUDGED_TEST_TIMING, read once. */
static long store_busy_ms, store_lock_wait;
#define STORE_BUSY	store_timing(&store_busy_ms, "busy_ms", STORE_BUSY_MS)
#define STORE_WAIT	store_timing(&store_lock_wait, "lock_wait", STORE_LOCK_WAIT)

static long
store_timing(long *v, const char *key, long dflt)
{
	if (*v == 0)
		*v = util_test_timing(key, dflt);
	return *v;
}

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
	/* An index only (no column): a case's sessions are read per message. */
	"CREATE INDEX IF NOT EXISTS appointments_case ON appointments (case_id);"
	"CREATE TABLE IF NOT EXISTS problems ("
	" tbl TEXT NOT NULL, row_id INTEGER NOT NULL, what TEXT NOT NULL,"
	" first_seen TEXT NOT NULL, alerted INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (tbl, row_id, what));"
	"CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);",
	/*
	 * Issue 14: the consent record (contract "Additions") and nudged's
	 * copy of the last consent values it recorded (store_privacy.h).
	 */
	"CREATE TABLE IF NOT EXISTS consent_log ("
	" id INTEGER PRIMARY KEY, client_id INTEGER NOT NULL, what TEXT NOT NULL,"
	" old_value INTEGER, new_value INTEGER, changed_at TEXT NOT NULL,"
	" how TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS consent_log_client ON consent_log"
	" (client_id, id);"
	"CREATE TABLE IF NOT EXISTS consent_seen ("
	" client_id INTEGER PRIMARY KEY, email_consent INTEGER,"
	" sms_consent INTEGER, opted_out INTEGER, discreet INTEGER);",
	/*
	 * Issue 9 (what clients receive): the installation id that makes
	 * calendar UIDs unique to this database (made once, here, so a
	 * recreated database gets a new one); the details a change notice
	 * compares (messages.detail); who an appointment is for.  The ALTER
	 * of the booking tools' table comes last: a tool may have added the
	 * column itself, which store_migrate() accepts.
	 */
	"INSERT OR IGNORE INTO state (key, value)"
	" VALUES ('installation_id', lower(hex(randomblob(8))));"
	"ALTER TABLE messages ADD COLUMN detail TEXT;"
	"ALTER TABLE appointments ADD COLUMN for_client INTEGER;",
	/*
	 * Issue 10: appointments from calendars (source, source_uid), and
	 * the feeds' own state: conditional-GET validators and the last good
	 * body, how often each booked event has been missing, what matched
	 * no case.
	 */
	/* (the columns themselves: store_optional[], before this step) */
	"CREATE INDEX IF NOT EXISTS appointments_source ON appointments"
	" (source, source_uid);"
	"CREATE TABLE IF NOT EXISTS calendar_feeds ("
	" name TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, body BLOB,"
	" last_try TEXT, last_ok TEXT, last_error TEXT,"
	" failures INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS calendar_missing ("
	" source TEXT NOT NULL, source_uid TEXT NOT NULL,"
	" misses INTEGER NOT NULL, PRIMARY KEY (source, source_uid));"
	"CREATE TABLE IF NOT EXISTS calendar_unmatched ("
	" source TEXT NOT NULL, source_uid TEXT NOT NULL, starts_at TEXT NOT NULL,"
	" summary TEXT, why TEXT NOT NULL, seen_at TEXT NOT NULL,"
	" PRIMARY KEY (source, source_uid));",
	/*
	 * Issue 13: how far a send got.  uploaded is set (committed) just
	 * before the last of the message goes to the server (the SMTP final
	 * dot, the last bytes of an HTTP body): before that the server cannot
	 * have accepted it, so a row found in 'sending' without it never
	 * reached the client.  Rows already in 'sending' may have: they count
	 * as uploaded.
	 */
	("ALTER TABLE messages ADD COLUMN uploaded INTEGER NOT NULL DEFAULT 0;"
	"UPDATE messages SET uploaded = 1 WHERE status = 'sending';"),
	/*
	 * Issue 12: a pass that reads the due window, not the table
	 * (store_window.c).  Appointments by start instant (julianday()
	 * reads the contract's three time forms; unreadable ones are NULL,
	 * first in the index), a client's cases, pending prompts; and
	 * plan_dirty, kept by triggers, naming the rows any connection
	 * changed since the last pass.  The first pass after this plans the
	 * whole window (no plan.pass state yet).
	 */
	"CREATE INDEX IF NOT EXISTS appointments_start ON appointments"
	" (julianday(starts_at));"
	"CREATE INDEX IF NOT EXISTS case_members_client ON case_members (client_id);"
	"CREATE INDEX IF NOT EXISTS messages_pending_hw ON messages (homework_id)"
	" WHERE status = 'pending' AND homework_id IS NOT NULL;"
	STORE_DIRTY_SQL
	"DELETE FROM state WHERE key IN ('plan.pass', 'plan.from', 'plan.upto');",
	/*
	 * Issue 12, item 3: a pass commits chunk by chunk, so it takes the
	 * change log at its start (plan_dirty -> plan_taken) and forgets
	 * what it took only when it completes; what other programs log
	 * meanwhile stays in plan_dirty for the next pass.  And a planned
	 * row costs one index entry less: a reminder has no homework_id, a
	 * prompt no appointment_id (every query names one, which implies
	 * IS NOT NULL, so SQLite still uses these).
	 */
	"CREATE TABLE IF NOT EXISTS plan_taken (tbl TEXT NOT NULL,"
	" row_id INTEGER NOT NULL, PRIMARY KEY (tbl, row_id)) WITHOUT ROWID;"
	"DROP INDEX IF EXISTS messages_appt;"
	"CREATE INDEX messages_appt ON messages (appointment_id)"
	" WHERE appointment_id IS NOT NULL;"
	"DROP INDEX IF EXISTS messages_hw;"
	"CREATE INDEX messages_hw ON messages (homework_id)"
	" WHERE homework_id IS NOT NULL;",
};

/*
 * Columns the code reads.  A booking tool's older table without one of
 * them is refused at open with a clear message, not at the first pass.
 */
/* Each table's columns are one string split over lines (no comma missing). */
/* NOLINTBEGIN(bugprone-suspicious-missing-comma) */
static const char *store_need[] = {
	"clients", "id name first_name email phone email_consent sms_consent"
	    " discreet opted_out_at",
	"cases", "id label closed_at",
	"case_members", "case_id client_id",
	"appointments", "id case_id starts_at duration_min kind mode video_url status"
	    " for_client",
	"homework", "id case_id title prompt starts_on ends_on every_days at_time active",
	"messages", "id purpose appointment_id homework_id client_id channel recipient"
	    " due_at status attempts last_error provider_ref sent_at rule appt_start"
	    " occurrence template next_at created_at updated_at claimed_at recovered"
	    " alerted detail",
	NULL
};
/* NOLINTEND(bugprone-suspicious-missing-comma) */

/*
 * Columns of the contract's tables that later schema versions add (issue
 * 10).  A booking tool that created its tables from the contract with its
 * additions already has them, so they are added only when missing
 * (ALTER TABLE would fail on a column that exists), before every step
 * after the first.
 */
static const char *const store_optional[][3] = {
	{ "appointments", "source", "TEXT" },
	{ "appointments", "source_uid", "TEXT" },
};

static int	store_busy(void *, int);

/* SQLite says "readonly database"; the practitioner needs which file and why. */
static int
store_perm_error(struct store *s, char *buf, size_t len)
{
	switch (sqlite3_errcode(s->db)) {
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return store_perm_explain(s->path, buf, len);
	default:
		return 0;
	}
}

const char *
store_errmsg(struct store *s, char *buf, size_t len)
{
	if (store_perm_error(s, buf, len))
		return buf;
	snprintf(buf, len, "%s: %s", s->path, sqlite3_errmsg(s->db));
	return buf;
}

int
store_dberr(struct store *s, char *err, size_t errlen, const char *what)
{
	char why[512];

	if (store_perm_error(s, why, sizeof(why)))
		errf(err, errlen, "%s: %s", what, why);
	else
		errf(err, errlen, "%s: %s: %s", s->path, what,
		    sqlite3_errmsg(s->db));
	return -1;
}

/* A statement of our own, not cached: finalized by store_done(). */
static sqlite3_stmt *
store_prep_new(struct store *s, const char *sql, unsigned int flags, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (s->db == NULL) {
		/* between store_disconnect() and a store_reconnect() that failed */
		errf(err, errlen, "%s: not connected", s->path);
		return NULL;
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, flags, &st, NULL) != SQLITE_OK) {
		errf(err, errlen, "%s: %.40s%s: %s", s->path, sql,
		    strlen(sql) > 40 ? "..." : "", sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/*
 * The statement for sql, prepared once per connection.  The cache is keyed
 * by the pointer (every caller passes a string literal or a static table),
 * with the text compared too so that a pointer that comes back with other
 * SQL is never given the wrong statement.  A statement still in use (the
 * same SQL nested inside its own step loop), or SQL that finds the cache
 * full, gets a fresh one instead.  Hand it back with store_done().
 */
sqlite3_stmt *
store_prep(struct store *s, const char *sql, char *err, size_t errlen)
{
	struct store_stmt *c;
	size_t i;

	for (i = 0; i < s->ncache; i++) {
		c = &s->cache[i];
		if (c->sql != sql || strcmp(sqlite3_sql(c->st), sql) != 0)
			continue;
		if (c->inuse || sqlite3_stmt_busy(c->st))
			break;
		c->inuse = 1;
		return c->st;
	}
	if (i < s->ncache || s->ncache == STORE_NCACHE)
		return store_prep_new(s, sql, 0, err, errlen);
	c = &s->cache[s->ncache];
	if ((c->st = store_prep_new(s, sql, SQLITE_PREPARE_PERSISTENT, err,
	    errlen)) == NULL)
		return NULL;
	c->sql = sql;
	c->inuse = 1;
	s->ncache++;
	return c->st;
}

/*
 * The end of a statement from store_prep(): a cached one is reset (which
 * ends its read, as finalizing did) with its bindings cleared, for the next
 * call; any other is finalized.  NULL is fine.
 */
void
store_done(struct store *s, sqlite3_stmt *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < s->ncache; i++) {
		if (s->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			s->cache[i].inuse = 0;
			return;
		}
	}
	sqlite3_finalize(st);
}

/* Run a statement that returns no rows (or whose rows do not matter). */
int
store_run(struct store *s, sqlite3_stmt *st, const char *what, char *err,
    size_t errlen)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		store_dberr(s, err, errlen, what);
	store_done(s, st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A plain statement with no parameters and no data in it, run once. */
int
store_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	/* Not cached: sql may be built at run time (migrations). */
	if ((st = store_prep_new(s, sql, 0, err, errlen)) == NULL)
		return -1;
	return store_run(s, st, sql, err, errlen);
}

/*
 * One row of a SELECT into a list: make room for one more (doubling), the
 * new slot zeroed.  The lists are short (a practice's clients), so a
 * growing array is plenty.
 */
void *
store_grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		v = xrealloc(v, *cap * size);
	}
	memset((char *)v + n * size, 0, size);
	return v;
}

/*
 * A read of one row by id: sql (a literal; ?1 = id) run and its row
 * handed to fill.  STORE_FOUND, STORE_GONE, STORE_UNREADABLE (fill
 * returned -1, why in err), STORE_ERR.
 */
enum store_rc
store_read_id(struct store *s, const char *sql, long long id,
    store_fill_fn *fill, void *rec, const char *what, char *err,
    size_t errlen)
{
	sqlite3_stmt *st;
	enum store_rc r;

	if ((st = store_prep(s, sql, err, errlen)) == NULL)
		return STORE_ERR;
	sqlite3_bind_int64(st, 1, id);
	if ((r = store_step_one(s, st, what, err, errlen)) == STORE_FOUND &&
	    fill(st, rec, err, errlen) != 0)
		r = STORE_UNREADABLE;
	store_done(s, st);
	return r;
}

/*
 * Every row of st (bound by the caller, handed back here) into a new
 * array of size-byte records, each zeroed and filled by fill (which
 * reads every row).  Returns the array (NULL when empty) with *n; on an
 * error *rc is -1 and the caller frees the *n rows read.
 */
void *
store_read_list(struct store *s, sqlite3_stmt *st, size_t size,
    store_fill_fn *fill, size_t *n, int *rc, const char *what, char *err,
    size_t errlen)
{
	void *v = NULL;
	size_t cap = 0;
	int r;

	*n = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		v = store_grow(v, *n, &cap, size);
		fill(st, (char *)v + (*n)++ * size, err, errlen);
	}
	store_done(s, st);
	*rc = r == SQLITE_DONE ? 0 : store_dberr(s, err, errlen, what);
	return v;
}

/* Step a read of one row: its enum store_rc, err set on STORE_ERR. */
enum store_rc
store_step_one(struct store *s, sqlite3_stmt *st, const char *what,
    char *err, size_t errlen)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return STORE_FOUND;
	if (rc == SQLITE_DONE)
		return STORE_GONE;
	return store_dberr(s, err, errlen, what);
}

/* ---------------------------------------------------------------- open */

int
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
	store_done(s, st);
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
				errf(err, errlen, "%s: table %s has no column %s",
				    s->path, t[0], col);
				rc = -1;
				break;
			default:
				rc = store_dberr(s, err, errlen, "checking the schema");
			}
		}
		free(cols);
	}
	store_done(s, st);
	return rc;
}

/*
 * A step that failed only because its last statement adds a column a
 * booking tool already created (the contract names appointments.for_client,
 * so a tool may write it before nudged adds it) counts as done: every
 * statement before that ALTER ran.
 */
static int
store_step_column_exists(struct store *s, const char *step)
{
	static const char dup[] = "duplicate column name: ";
	const char *msg = sqlite3_errmsg(s->db), *last = strrchr(step, ';'), *p;

	if (strncmp(msg, dup, sizeof(dup) - 1) != 0 || last == NULL)
		return 0;
	for (p = last; p > step && p[-1] != ';'; p--)
		;
	/* the failing statement is the last one, and adds that column */
	return strncmp(p, "ALTER TABLE", 11) == 0 &&
	    strstr(p, msg + sizeof(dup) - 1) != NULL;
}

static int
store_add_optional(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	size_t i;
	int rc = 0, have;

	for (i = 0; rc == 0 && i < sizeof(store_optional) /
	    sizeof(store_optional[0]); i++) {
		if ((st = store_prep(s, "SELECT 1 FROM pragma_table_info(?1) WHERE"
		    " name = ?2", err, errlen)) == NULL)
			return -1;
		bind_text(st, 1, store_optional[i][0]);
		bind_text(st, 2, store_optional[i][1]);
		have = sqlite3_step(st) == SQLITE_ROW;
		store_done(s, st);
		if (!have) {
			/* names from the table above, never data */
			char *sql = xasprintf("ALTER TABLE %s ADD COLUMN %s %s",
			    store_optional[i][0], store_optional[i][1],
			    store_optional[i][2]);

			rc = store_exec(s, sql, err, errlen);
			free(sql);
		}
	}
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
			errf(err, errlen, "%s: database schema version %ld is invalid",
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
		if (v >= 1 && store_add_optional(s, err, errlen) != 0)
			goto fail;
		if (sqlite3_exec(s->db, store_steps[v], NULL, NULL, NULL) != SQLITE_OK &&
		    !store_step_column_exists(s, store_steps[v])) {
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
		errf(err, errlen, "%s: database schema version %ld is newer than"
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
		errf(err, errlen, "%s: cannot open database: directory %s: %s",
		    s->path, dir, strerror(errno));
	else if (s->db != NULL && store_perm_error(s, err, errlen))
		;
	else
		store_dberr(s, err, errlen, "cannot open database");
	free(copy);
}

/*
 * The connection: opened, WAL, durable, foreign keys.  0, or -1 with err
 * (s->db may then be a failed handle, closed by store_close()).
 */
/*
 * SQLite counts every allocation under a global mutex unless told not to
 * (SQLITE_CONFIG_MEMSTATUS), for sqlite3_memory_used() and its heap
 * limits, none of which nudged uses: a lock and an unlock per malloc and
 * per free, about 4 % of the instructions of a message sent (issue 12).
 * Only possible before the library first initialises (later it is
 * refused, harmlessly: a pass's process inherits the setting).
 */
static void
store_lib_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static void
store_lib_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, store_lib_setup);
}

/* SQL_NOW: the connection's store is the function's user data. */
static void
store_now_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct store *s = sqlite3_user_data(ctx);
	time_t t = time(NULL);

	(void)argc;
	(void)argv;
	if (t != s->now_at || s->now_text[0] == '\0') {
		tz_format_utc(t, s->now_text);
		s->now_at = t;
	}
	sqlite3_result_text(ctx, s->now_text, -1, SQLITE_TRANSIENT);
}

/* Our SQL functions, on every connection (SQL_NOW).  0 or -1. */
static int
store_functions(struct store *s, char *err, size_t errlen)
{
	/* not SQLITE_DETERMINISTIC: its value moves with the clock */
	if (sqlite3_create_function(s->db, "nudged_now", 0, SQLITE_UTF8 |
	    SQLITE_DIRECTONLY, s, store_now_fn, NULL, NULL) == SQLITE_OK)
		return 0;
	errf(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
	return -1;
}

static int
store_connect(struct store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	const char *mode;
	int ok;

	store_lib_once();
	/*
	 * NOMUTEX: one thread uses the connection (store_sync's other thread
	 * calls no SQLite function that takes the connection's mutex), and
	 * the serialised mode's lock and unlock around every sqlite3_column_*
	 * call were about 4 % of a message's instructions (issue 12).
	 */
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		store_open_error(s, err, errlen);
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 0);
	sqlite3_busy_handler(s->db, store_busy, s);
	if (store_functions(s, err, errlen) != 0)
		return -1;
	if ((st = store_prep(s, "PRAGMA journal_mode=WAL", err, errlen)) == NULL)
		return -1;
	ok = sqlite3_step(st) == SQLITE_ROW && (mode = col_str(st, 0)) != NULL &&
	    strcasecmp(mode, "wal") == 0;
	if (!ok)
		errf(err, errlen, "%s: cannot switch to WAL journal mode: %s",
		    s->path, sqlite3_errmsg(s->db));
	store_done(s, st);
	if (!ok)
		return -1;
	/*
	 * Health data: what a delete, erasure or retention removes is
	 * overwritten, not left in free space (SQLite's own default is off;
	 * some distributions build it on).
	 */
	return store_exec(s, "PRAGMA synchronous=FULL", err, errlen) == -1 ||
	    store_exec(s, "PRAGMA foreign_keys=ON", err, errlen) == -1 ||
	    store_exec(s, "PRAGMA secure_delete=ON", err, errlen) == -1 ? -1 : 0;
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));

	s->lockfd = s->walfd = s->inflightfd = -1;
	s->path = xstrdup(path);
	/* 0660, so that -wal and -shm, which SQLite makes like it, are too. */
	if (store_perm_create(path, err, errlen) == -1 ||
	    store_connect(s, err, errlen) == -1 ||
	    store_migrate(s, err, errlen) == -1) {
		store_close(s);
		return NULL;
	}
	return s;
}

void
store_disconnect(struct store *s)
{
	for (size_t i = 0; i < s->ncache; i++)
		sqlite3_finalize(s->cache[i].st);
	s->ncache = 0;
	if (s->db != NULL && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(s->db);
	s->db = NULL;
	if (s->walfd >= 0)
		close(s->walfd);
	s->walfd = -1;
	if (s->inflightfd >= 0)
		close(s->inflightfd);
	s->inflightfd = -1;
	/* a new connection starts with synchronous=FULL (store_connect) */
	s->relaxed = 0;
}

int
store_reconnect(struct store *s, char *err, size_t errlen)
{
	if (s->db != NULL)
		return 0;
	if (store_connect(s, err, errlen) == 0)
		return 0;
	store_disconnect(s);
	return -1;
}

/*
 * A private in-memory copy for previews (--dry-run, nudgectl upcoming):
 * read once through the backup API, then planned and rendered with no
 * lock held on the real file and nothing written to it, not even a schema
 * (the copy is migrated, not the file).  A missing file is an error.
 */
struct store *
store_open_copy(const char *path, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof(*s));
	sqlite3 *src = NULL;
	sqlite3_backup *b;
	int rc;

	s->lockfd = s->walfd = s->inflightfd = -1;
	s->path = xstrdup(path);
	store_lib_once();
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		struct stat sb;

		/* SQLite says only "unable to open database file" */
		if (stat(path, &sb) == -1 || access(path, R_OK) == -1)
			errf(err, errlen, "%s: cannot open database: %s", path,
			    strerror(errno));
		else
			errf(err, errlen, "%s: cannot open database: %s", path,
			    src != NULL ? sqlite3_errmsg(src) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(src, (int)STORE_BUSY);
	if (sqlite3_open_v2(":memory:", &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		store_dberr(s, err, errlen, "cannot open a memory database");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	if (store_functions(s, err, errlen) != 0)
		goto fail;
	if ((b = sqlite3_backup_init(s->db, "main", src, "main")) == NULL) {
		store_dberr(s, err, errlen, "cannot copy the database");
		goto fail;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		errf(err, errlen, "%s: cannot read database: %s", path,
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_close(src);
	src = NULL;
	if (store_exec(s, "PRAGMA foreign_keys=ON", err, errlen) == -1 ||
	    store_migrate(s, err, errlen) == -1)
		goto fail;
	return s;
fail:
	sqlite3_close(src);
	store_close(s);
	return NULL;
}

/*
 * One delivering nudged per database: a second one (a `--once` run beside
 * the service) would take rows the first is sending for rows a crash left
 * behind, and send them twice.  The lock is an flock() on the database
 * file held until exit; the kernel drops it when the process dies, kill -9
 * included.
 *
 * store_flock_pid: the pid holding an flock on the file (dev, ino), from
 * /proc/locks: > 0, 0 when none, -1 when /proc/locks cannot be read.
 * Reading it, rather than trying the lock, never opens (and so never
 * closes) a descriptor of the database, whose closing would drop the
 * caller's SQLite locks (nudgectl status asks with the database open).
 */
long
store_flock_pid(dev_t dev, ino_t ino)
{
	char line[256], want[64];
	long pid = 0, p;
	FILE *f;

	if ((f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" */
	snprintf(want, sizeof(want), "%02x:%02x:%llu", major(dev), minor(dev),
	    (unsigned long long)ino);
	while (pid == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *fld[6], *save = NULL, *tok = strtok_r(line, " \t\n", &save);
		size_t n = 0;

		for (; tok != NULL && n < 6; tok = strtok_r(NULL, " \t\n", &save))
			fld[n++] = tok;
		if (n == 6 && strcmp(fld[1], "FLOCK") == 0 &&
		    strcmp(fld[5], want) == 0 &&
		    parse_long(fld[4], 1, LONG_MAX, &p) == 0)
			pid = p;
	}
	fclose(f);
	return pid;
}

/*
 * One deliverer per database: an flock on the database file itself, so
 * every path that reaches it (a symlink, a hard link, "./x" and "x") meets
 * the same lock (issue 13: a lock named from the path as written let a
 * second --once through).  The flock is independent of SQLite's own fcntl
 * locks on Linux; the descriptor stays open until store_close() closes it
 * after the connection (closing any descriptor of the file would drop
 * SQLite's fcntl locks).
 */
enum store_rc
store_lock(struct store *s, char *err, size_t errlen)
{
	struct stat st;
	long pid;
	int fd;

	if ((fd = open(s->path, O_RDONLY | O_CLOEXEC)) == -1) {
		errf(err, errlen, "%s: %s", s->path, strerror(errno));
		return STORE_ERR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		s->lockfd = fd;
		return STORE_OK;
	}
	if (errno != EWOULDBLOCK) {
		errf(err, errlen, "%s: cannot lock: %s", s->path,
		    strerror(errno));
		close(fd);
		return STORE_ERR;
	}
	pid = fstat(fd, &st) == 0 ? store_flock_pid(st.st_dev, st.st_ino) : 0;
	if (pid > 0)
		errf(err, errlen, "another nudged (pid %ld) is already "
		    "delivering from %s", pid, s->path);
	else
		errf(err, errlen, "another nudged is already delivering "
		    "from %s", s->path);
	close(fd);
	return STORE_HELD;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	store_disconnect(s);
	/* After the connection: see store_lock(). */
	if (s->lockfd >= 0)
		close(s->lockfd);
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
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * SQLite's busy handler: wait in short naps (so a stop request is seen
 * within a tenth of a second) up to STORE_BUSY_MS per statement.
 */
static int
store_busy(void *arg, int n)
{
	struct store *s = arg;
	struct timespec nap = { 0, 20L * 1000 * 1000 };

	/* atomic: a mail thread's upload mark waits here too (xfer_stopping) */
	if ((s->stop != NULL && __atomic_load_n(s->stop, __ATOMIC_RELAXED)) ||
	    (long)n * 20 >= STORE_BUSY)
		return 0;
	nanosleep(&nap, NULL);
	return 1;
}

/*
 * Another process (nudgectl, a booking tool) may hold the write lock for
 * many seconds; being busy must never make nudged fail quickly.  The busy
 * handler waits up to STORE_BUSY_MS per try; keep trying for
 * STORE_LOCK_WAIT seconds in all.
 */
static int
store_exec_wait(struct store *s, const char *sql, char *err, size_t errlen)
{
	double start = store_clock();
	struct timespec nap = { 0, 50L * 1000 * 1000 };
	int rc;

	if (s->db == NULL) {
		/* between store_disconnect() and a store_reconnect() that failed */
		errf(err, errlen, "%s: not connected", s->path);
		return -1;
	}
	for (;;) {
		rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if (s->stop != NULL &&
		    __atomic_load_n(s->stop, __ATOMIC_RELAXED)) {
			errf(err, errlen, "%s: gave up waiting for the "
			    "database: stopping", s->path);
			return -1;
		}
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    store_clock() - start >= STORE_WAIT)
			return store_dberr(s, err, errlen, sql);
		nanosleep(&nap, NULL);
	}
}

int
store_begin_or_stop(struct store *s, volatile sig_atomic_t *stop, char *err,
    size_t errlen)
{
	int r;

	s->stop = stop;
	r = store_begin(s, err, errlen);
	s->stop = NULL;
	return r;
}

int
store_begin_relaxed(struct store *s, volatile sig_atomic_t *stop, char *err,
    size_t errlen)
{
	int r;

	if (s->dry)
		return store_begin_or_stop(s, stop, err, errlen);
	if (!s->relaxed) {
		if (store_exec(s, "PRAGMA synchronous=NORMAL", err, errlen) != 0)
			return -1;
		s->relaxed = 1;
	}
	s->stop = stop;
	r = store_exec_wait(s, "BEGIN IMMEDIATE", err, errlen);
	s->stop = NULL;
	return r;
}

/*
 * A relaxed commit is in the WAL file, not yet on the disk; what FULL
 * does at COMMIT (fdatasync the WAL) is done here, with no lock held.
 * Checkpoints sync the WAL before they copy it, and the file stays the
 * same while our connection is open, so our own descriptor of it reaches
 * every frame committed so far.  Closing it drops no SQLite lock: those
 * are on the database and -shm files.  The file is the one SQLite names:
 * it resolves a symbolic link and keeps the -wal beside the file the link
 * points to, not beside the link.  Called after a commit, so the WAL
 * exists: missing, it is not ours, and nothing is taken as synced.
 */
int
store_sync(struct store *s, char *err, size_t errlen)
{
	const char *db, *wal;

	if (s->dry || s->db == NULL)
		return 0;
	if (s->walfd < 0) {
		db = sqlite3_db_filename(s->db, "main");
		if (db == NULL || *db == '\0')
			return 0;	/* a memory copy (store_open_copy) */
		wal = sqlite3_filename_wal(db);
		if (wal == NULL || *wal == '\0') {
			errf(err, errlen, "%s: SQLite names no WAL file", s->path);
			return -1;
		}
		if ((s->walfd = open(wal, O_RDONLY | O_CLOEXEC)) < 0) {
			errf(err, errlen, "%s: %s", wal, strerror(errno));
			return -1;
		}
	}
	if (fdatasync(s->walfd) == 0)
		return 0;
	errf(err, errlen, "%s-wal: cannot sync: %s", s->path, strerror(errno));
	return -1;
}

int
store_begin(struct store *s, char *err, size_t errlen)
{
	if (s->dry)
		return store_exec_wait(s, "SAVEPOINT nudged", err, errlen);
	/* Every transaction is durable: see store_mark_uploaded(). */
	if (s->relaxed) {
		if (store_exec(s, "PRAGMA synchronous=FULL", err, errlen) != 0)
			return -1;
		s->relaxed = 0;
	}
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
	if (s->db == NULL)
		return;
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
		errf(err, errlen, "%s: dry run already started", s->path);
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

/* --------------------------------------------------------------- state */

long long
store_data_version(struct store *s)
{
	sqlite3_stmt *st;
	long long v = -1;

	if ((st = store_prep(s, "PRAGMA data_version", NULL, 0)) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	store_done(s, st);
	return v;
}

long long
store_changes(struct store *s)
{
	return (long long)sqlite3_total_changes64(s->db);
}

enum store_rc
store_state_get(struct store *s, const char *key, char **value)
{
	sqlite3_stmt *st;
	enum store_rc r;
	int rc;

	*value = NULL;
	if ((st = store_prep(s, "SELECT value FROM state WHERE key = ?1", NULL,
	    0)) == NULL)
		return STORE_ERR;
	bind_text(st, 1, key);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*value = col_dup(st, 0);
		r = *value != NULL ? STORE_FOUND : STORE_GONE;
	} else
		r = rc == SQLITE_DONE ? STORE_GONE : STORE_ERR;
	store_done(s, st);
	return r;
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
