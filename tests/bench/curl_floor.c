/*
 * curl_floor: what libcurl alone reaches on this machine, the floor under
 * nudged's transports (issue 12's "machine's limits" for the stack the
 * project must use).  No database, no templates, no checks: one easy handle
 * (so one connection, kept open), the same bytes again and again.
 *
 *   curl_floor smtp URL COUNT BYTES [CONNS]
 *                                       COUNT emails of BYTES bytes, over
 *                                       CONNS connections (default 1), a
 *                                       thread each, as nudged's
 *                                       email.connections go
 *   curl_floor http URL COUNT           COUNT form POSTs like a Twilio send
 *   curl_floor smtp-db URL COUNT BYTES DB [CONNS]
 *                                       the emails plus the bookkeeping the
 *                                       contract asks of each, and nothing
 *                                       else, in a fresh SQLite file DB;
 *                                       over CONNS connections, each batch
 *                                       is shared out among them
 *   curl_floor http-db URL COUNT DB     the POSTs with the same bookkeeping
 *                                       (the mark before the body goes)
 *
 * The bookkeeping is nudged's (deliver_run.c, store_inflight.c), minus
 * everything that decides what to send: per batch of 32, one transaction
 * (synchronous=FULL) that records the last batch 'sent' and claims the
 * next ('sending'); per message, just before the final dot, its upload
 * mark: one record appended to DB-inflight by one write(2), as nudged
 * marks.  No re-read, no rendering, no planning, and the batch's
 * transaction is not overlapped with the sending as nudged's is.  One request at a time: nudged keeps sms.concurrency in
 * flight, so its SMS may go faster than this floor.
 *
 * Prints the wall seconds on stdout, then its start and end on the
 * monotonic clock (several run in parallel: the bench takes the span from
 * the first start to the last end); exit 1 on the first failure.  With
 * CURL_FLOOR_SYNC=1 in the environment it prints "ready" once set up and
 * starts when a line comes on stdin, so that several start together and
 * none is timed alone while another is still loading libcurl.
 * nudged's own figures are read against it in tests/bench/run.py: what is
 * left between smtp-db and nudged is nudged's work per message beyond
 * what the contract's durability costs, what is left between smtp and
 * smtp-source is libcurl's (four round trips per email, no PIPELINING, a
 * poll per step of its state machine).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#define FLOOR_BATCH	32
#define FLOOR_FORM	"To=%2B447700900123&From=%2B447700900000&Body=Hi%20Sam%2C%20a" \
			"%20reminder%20of%20your%20appointment%20on%20Tuesday."

struct floor_body {
	const char	*p;
	size_t		 len, off;
	sqlite3		*db;		/* smtp-db: the outbox, else NULL */
	int		 marks;		/* DB-inflight, the upload marks; -1: none (no DB) */
	long		 id;		/* the message being sent */
	int		 first;		/* mark before the first byte (HTTP) */
};

/* The upload mark: a record of nudged's size, appended in one write. */
static int
floor_upload(struct floor_body *b)
{
	struct { int64_t id; int32_t attempt; uint32_t check; } rec = {
		b->id, 1, (uint32_t)b->id ^ 0x6e756467u };

	return write(b->marks, &rec, sizeof(rec)) == (ssize_t)sizeof(rec) ?
	    0 : -1;
}

/* DB-inflight, emptied, for the marks; -1 on failure. */
static int
floor_marks(const char *db)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s-inflight", db);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600);
}

static size_t
floor_read(char *buf, size_t size, size_t n, void *arg)
{
	struct floor_body *b = arg;
	size_t k = size * n;

	if (k > b->len - b->off)
		k = b->len - b->off;
	/*
	 * The mark, committed: before the final dot (SMTP: the body is all
	 * up), before the body (HTTP: from its first byte the request may
	 * be complete).
	 */
	if (b->marks >= 0 &&
	    (b->first ? b->off == 0 && k > 0 : k == 0) && floor_upload(b) != 0)
		return CURL_READFUNC_ABORT;
	memcpy(buf, b->p + b->off, k);
	b->off += k;
	return k;
}

/* An easy handle that sends b's bytes to rcpt at url over SMTP. */
static void
floor_smtp(CURL *c, const char *url, struct curl_slist *rcpt,
    struct floor_body *b)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, "<appointments@example.org>");
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, floor_read);
	curl_easy_setopt(c, CURLOPT_READDATA, b);
}

/* One connection's share of a plain SMTP run (CONNS > 1), in a thread. */
struct floor_conn {
	pthread_t	 th;
	const char	*url;
	const char	*msg;
	size_t		 len;
	long		 count;
	int		 rc;
};

static void *
floor_conn_main(void *arg)
{
	struct floor_conn *k = arg;
	struct floor_body b = { .p = k->msg, .len = k->len, .marks = -1 };
	struct curl_slist *rcpt;
	CURL *c;

	k->rc = 1;
	if ((c = curl_easy_init()) == NULL)
		return NULL;
	rcpt = curl_slist_append(NULL, "<client@example.org>");
	floor_smtp(c, k->url, rcpt, &b);
	for (long i = 0; i < k->count; i++) {
		b.off = 0;
		if (curl_easy_perform(c) != CURLE_OK)
			goto out;
	}
	k->rc = 0;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(rcpt);
	return NULL;
}

/* count emails over conns connections, a thread each; 0 or -1. */
static int
floor_threads(const char *url, const char *msg, size_t len, long count,
    long conns)
{
	struct floor_conn k[64];
	long i, started;
	int rc = 0;

	for (started = 0; started < conns; started++) {
		k[started] = (struct floor_conn){ .url = url, .msg = msg,
		    .len = len, .count = count / conns + (started < count % conns) };
		if (pthread_create(&k[started].th, NULL, floor_conn_main,
		    &k[started]) != 0)
			break;
	}
	for (i = 0; i < started; i++) {
		pthread_join(k[i].th, NULL);
		if (k[i].rc != 0) {
			fprintf(stderr, "curl_floor: connection %ld failed\n", i);
			rc = -1;
		}
	}
	return started == conns ? rc : -1;
}

static size_t
floor_sink(char *buf, size_t size, size_t n, void *arg)
{
	(void)buf;
	(void)arg;
	return size * n;
}

/* A message of about `bytes` bytes: headers, then lines of 72 'x'. */
static char *
floor_message(size_t bytes, size_t *len)
{
	static const char head[] =
	    "From: appointments@example.org\r\nTo: client@example.org\r\n"
	    "Subject: bench\r\nMessage-ID: <bench@example.org>\r\n\r\n";
	char *m;
	size_t off;

	if (bytes < sizeof(head) + 80)
		bytes = sizeof(head) + 80;
	if ((m = malloc(bytes + 1)) == NULL)
		return NULL;
	memcpy(m, head, sizeof(head) - 1);
	for (off = sizeof(head) - 1; off + 74 <= bytes; off += 74) {
		memset(m + off, 'x', 72);
		memcpy(m + off + 72, "\r\n", 2);
	}
	m[off] = '\0';
	*len = off;
	return m;
}

static int
floor_sql(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	fprintf(stderr, "curl_floor: %s: %s\n", sql, sqlite3_errmsg(db));
	return -1;
}

/* An outbox of count pending rows, in WAL mode as nudged keeps it. */
static sqlite3 *
floor_db(const char *path, long count)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    floor_sql(db, "PRAGMA journal_mode=WAL") != 0 ||
	    floor_sql(db, "CREATE TABLE m (id INTEGER PRIMARY KEY, status TEXT"
	    " NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, uploaded INTEGER"
	    " NOT NULL DEFAULT 0, updated_at TEXT)") != 0 ||
	    floor_sql(db, "CREATE INDEX m_due ON m (status)") != 0 ||
	    floor_sql(db, "BEGIN") != 0 ||
	    sqlite3_prepare_v2(db, "INSERT INTO m (status) VALUES ('pending')",
	    -1, &st, NULL) != SQLITE_OK)
		return NULL;
	for (long i = 0; i < count; i++) {
		if (sqlite3_step(st) != SQLITE_DONE)
			return NULL;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (floor_sql(db, "COMMIT") != 0 ||
	    floor_sql(db, "PRAGMA synchronous=FULL") != 0)
		return NULL;
	return db;
}

/* Set the rows [from, to) to status, in the caller's transaction. */
static int
floor_mark(sqlite3 *db, long from, long to, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (long id = from; id < to; id++) {
		sqlite3_bind_int64(st, 1, id + 1);
		if (sqlite3_step(st) != SQLITE_DONE ||
		    sqlite3_changes(db) != 1) {
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return 0;
}

/*
 * One cycle: record [done, upto) 'sent' and claim [from, to), one
 * transaction with an fsync.
 */
static int
floor_cycle4(sqlite3 *db, long done, long upto, long from, long to)
{
	if (floor_sql(db, "PRAGMA synchronous=FULL") != 0 ||
	    floor_sql(db, "BEGIN IMMEDIATE") != 0 ||
	    floor_mark(db, done, upto, "UPDATE m SET status = 'sent',"
	    " updated_at = datetime('now') WHERE id = ?1 AND status ="
	    " 'sending'") != 0 ||
	    floor_mark(db, from, to, "UPDATE m SET status = 'sending',"
	    " attempts = attempts + 1, uploaded = 0, updated_at ="
	    " datetime('now') WHERE id = ?1 AND status = 'pending'") != 0 ||
	    floor_sql(db, "COMMIT") != 0 ||
	    floor_sql(db, "PRAGMA synchronous=NORMAL") != 0)
		return -1;
	return 0;
}

/* One connection: record the batch before [from, to), then claim it. */
static int
floor_cycle(sqlite3 *db, long done, long from, long to)
{
	return floor_cycle4(db, done, from, from, to);
}

static double
floor_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * smtp-db over CONNS connections: a batch's messages shared out among the
 * connections, a thread each, all of them done before the next batch
 * goes; while they are sent, one transaction records the batch before
 * them 'sent' and claims the batch after them, as nudged overlaps its
 * cycle with the sending (two batches claimed at most).
 */
struct floor_pool {
	pthread_barrier_t go, done;
	const char	*url;
	const char	*msg;
	size_t		 len;
	int		 marks;
	long		 conns, from, to;	/* the batch: ids [from, to) */
	int		 quit;
};

struct floor_worker {
	pthread_t		 th;
	struct floor_pool	*p;
	long			 k;		/* this connection's share: id % conns */
	int			 rc;
};

static void *
floor_worker_main(void *arg)
{
	struct floor_worker *w = arg;
	struct floor_pool *p = w->p;
	struct floor_body b = { .p = p->msg, .len = p->len, .marks = p->marks };
	struct curl_slist *rcpt = curl_slist_append(NULL, "<client@example.org>");
	CURL *c = curl_easy_init();

	w->rc = c == NULL || rcpt == NULL;
	if (c != NULL)
		floor_smtp(c, p->url, rcpt, &b);
	for (;;) {
		pthread_barrier_wait(&p->go);
		if (p->quit)
			break;
		for (long id = p->from; w->rc == 0 && id < p->to; id++) {
			if (id % p->conns != w->k)
				continue;
			b.off = 0;
			b.id = id + 1;
			if (curl_easy_perform(c) != CURLE_OK)
				w->rc = 1;
		}
		pthread_barrier_wait(&p->done);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(rcpt);
	return NULL;
}

/* count emails with the bookkeeping over conns connections; 0 or -1. */
static int
floor_db_threads(struct floor_pool *p, sqlite3 *db, long count)
{
	struct floor_worker w[64];
	long i;
	int rc = 0;

	if (pthread_barrier_init(&p->go, NULL, (unsigned)p->conns + 1) != 0 ||
	    pthread_barrier_init(&p->done, NULL, (unsigned)p->conns + 1) != 0)
		return -1;
	for (i = 0; i < p->conns; i++) {
		w[i] = (struct floor_worker){ .p = p, .k = i };
		if (pthread_create(&w[i].th, NULL, floor_worker_main, &w[i]) != 0)
			return -1;	/* the process exits at once */
	}
	if (floor_cycle4(db, 0, 0, 0, FLOOR_BATCH < count ? FLOOR_BATCH :
	    count) != 0)
		return -1;
	for (i = 0; rc == 0 && i < count; i += FLOOR_BATCH) {
		long next = i + FLOOR_BATCH < count ? i + FLOOR_BATCH : count;

		p->from = i;
		p->to = next;
		pthread_barrier_wait(&p->go);
		/* meanwhile: the batch before 'sent', the one after claimed */
		if (floor_cycle4(db, i > 0 ? i - FLOOR_BATCH : 0, i, next,
		    next + FLOOR_BATCH < count ? next + FLOOR_BATCH : count) != 0)
			rc = -1;
		pthread_barrier_wait(&p->done);
		for (long k = 0; k < p->conns; k++)
			rc |= w[k].rc;
	}
	p->quit = 1;
	pthread_barrier_wait(&p->go);
	for (i = 0; i < p->conns; i++)
		pthread_join(w[i].th, NULL);
	return rc == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct curl_slist *rcpt = NULL;
	struct floor_body b = { .marks = -1 };
	char *msg = NULL, *url;
	long count, conns = 1, i;
	int smtp;
	double t0, t1;
	CURL *c;

	if (argc < 4 || !((strcmp(argv[1], "smtp") == 0 && (argc == 5 ||
	    (argc == 6 && (conns = strtol(argv[5], NULL, 10)) >= 1 &&
	    conns <= 64))) ||
	    (strcmp(argv[1], "http") == 0 && argc == 4) ||
	    (strcmp(argv[1], "smtp-db") == 0 && (argc == 6 || (argc == 7 &&
	    (conns = strtol(argv[6], NULL, 10)) >= 1 && conns <= 64))) ||
	    (strcmp(argv[1], "http-db") == 0 && argc == 5))) {
		fprintf(stderr, "usage: curl_floor smtp URL COUNT BYTES [CONNS] | "
		    "http URL COUNT | smtp-db URL COUNT BYTES DB [CONNS] | "
		    "http-db URL COUNT DB\n");
		return 2;
	}
	smtp = argv[1][0] == 's';
	url = argv[2];
	count = strtol(argv[3], NULL, 10);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (c = curl_easy_init()) == NULL)
		return 1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (smtp) {
		if ((msg = floor_message((size_t)strtoul(argv[4], NULL, 10),
		    &b.len)) == NULL)
			return 1;
		b.p = msg;
		rcpt = curl_slist_append(NULL, "<client@example.org>");
		floor_smtp(c, url, rcpt, &b);
		if (strcmp(argv[1], "smtp-db") == 0 && ((b.db = floor_db(argv[5], count)) == NULL ||
		    (b.marks = floor_marks(argv[5])) < 0)) {
			fprintf(stderr, "curl_floor: %s: cannot set up\n", argv[5]);
			return 1;
		}
	} else if (argc == 4) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, FLOOR_FORM);
		curl_easy_setopt(c, CURLOPT_USERPWD, "AC0123:token");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, floor_sink);
	} else {
		/* the body through the read hook, as nudged's SMS go */
		b.p = FLOOR_FORM;
		b.len = strlen(FLOOR_FORM);
		b.first = 1;
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)b.len);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, floor_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &b);
		curl_easy_setopt(c, CURLOPT_USERPWD, "AC0123:token");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, floor_sink);
		if ((b.db = floor_db(argv[4], count)) == NULL ||
		    (b.marks = floor_marks(argv[4])) < 0) {
			fprintf(stderr, "curl_floor: %s: cannot set up\n", argv[4]);
			return 1;
		}
	}
	if (getenv("CURL_FLOOR_SYNC") != NULL) {
		char go[8];

		printf("ready\n");
		fflush(stdout);
		if (fgets(go, sizeof(go), stdin) == NULL)
			return 1;
	}
	t0 = floor_now();
	if (conns > 1 && b.db == NULL &&
	    floor_threads(url, msg, b.len, count, conns) != 0)
		return 1;
	if (conns > 1 && b.db != NULL) {
		struct floor_pool p = { .url = url, .msg = msg, .len = b.len,
		    .marks = b.marks, .conns = conns };

		if (floor_db_threads(&p, b.db, count) != 0) {
			fprintf(stderr, "curl_floor: a transfer failed\n");
			return 1;
		}
	}
	for (i = 0; conns == 1 && i < count; i++) {
		if (b.db != NULL && i % FLOOR_BATCH == 0 &&
		    floor_cycle(b.db, i - (i > 0 ? FLOOR_BATCH : 0), i,
		    i + FLOOR_BATCH < count ? i + FLOOR_BATCH : count) != 0)
			return 1;
		b.off = 0;
		b.id = i + 1;
		if (curl_easy_perform(c) != CURLE_OK) {
			fprintf(stderr, "curl_floor: transfer %ld failed\n", i);
			return 1;
		}
	}
	if (b.db != NULL && floor_cycle(b.db, count - ((count - 1) %
	    FLOOR_BATCH + 1), count, count) != 0)
		return 1;
	t1 = floor_now();
	printf("%.4f %.6f %.6f\n", t1 - t0, t0, t1);
	curl_easy_cleanup(c);
	if (b.marks >= 0)
		close(b.marks);
	sqlite3_close(b.db);
	curl_slist_free_all(rcpt);
	free(msg);
	curl_global_cleanup();
	return 0;
}
