/*
 * store_inflight: the send loop's upload marks, outside the database
 * (issue 12).
 *
 * A message about to go up whole (before SMTP's final dot, with the last
 * bytes of an HTTP body) is marked first, so that start-up recovery can
 * tell "may have arrived" from "cannot have arrived" (store_recover).
 * Marked in the database, each mark was a transaction of its own on the
 * connection the whole pass shares: the mail threads waited for the
 * claims and records of the main thread between a body and its final dot.
 * Here a mark is one write(2) of one record appended to DATABASE-inflight:
 * no lock, no transaction, safe from several threads at once (O_APPEND
 * writes one record whole).  Like a relaxed commit it survives a crash of
 * the process (the page cache has it) and a power cut may lose it; a
 * record torn or zeroed by a power cut fails its check and is ignored.  So
 * a mark can be lost (the message is then sent again, a duplicate of one
 * in flight, as a crash costs anyway), never invented: recovery never
 * counts as uncertain a message whose upload did not begin.
 *
 * A record names the row and the attempt the claim counted (attempts
 * after the claim): a row claimed again later has a higher count, so a
 * record of an earlier attempt never speaks for a later one.  The file is
 * removed when a pass has recorded every outcome, and by recovery once
 * its marks are in the database, so it holds only the current pass's.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

#define INFLIGHT_SUFFIX	"-inflight"
#define INFLIGHT_MAGIC	0x6e756467u	/* "nudg" */

struct inflight_rec {
	int64_t		 id;
	int32_t		 attempt;
	uint32_t	 check;
};

static uint32_t
inflight_check(int64_t id, int32_t attempt)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull ^ (uint32_t)attempt;

	return (uint32_t)(h >> 32) ^ (uint32_t)h ^ INFLIGHT_MAGIC;
}

/* The file's name beside the database SQLite resolved; NULL: none (a copy). */
static char *
inflight_path(struct store *s)
{
	const char *db;

	if (s->db == NULL)
		return NULL;
	db = sqlite3_db_filename(s->db, "main");
	if (db == NULL || *db == '\0')
		return NULL;
	return xasprintf("%s%s", db, INFLIGHT_SUFFIX);
}

/*
 * A record torn by a full disk (a short write) would put every later one
 * out of step: recovery would read them all as invalid, marks lost with
 * no power cut.  Zeros up to the next record's place end it instead (a
 * record of zeros fails its check); extending a file takes no block, so
 * this works on the full disk that tore it.
 */
static void
inflight_align(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && st.st_size % (off_t)sizeof(struct
	    inflight_rec) != 0)
		(void)ftruncate(fd, st.st_size - st.st_size %
		    (off_t)sizeof(struct inflight_rec) +
		    (off_t)sizeof(struct inflight_rec));
}

/*
 * Only a regular file holds marks: a device could swallow them (marks
 * lost) or give recovery zeros for ever, a FIFO would block.  Opened with
 * O_NONBLOCK for that reason (no effect on a regular file).
 */
static int
inflight_regular(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	return 0;
}

/*
 * Marks an earlier pass left (it did not record every outcome, or
 * failed: the file stays for recovery) go into the database (uploaded)
 * before this pass marks anything, and the file goes.  Left in the file,
 * a record of a row deleted since (by another program) would name the
 * row that reuses its id (no AUTOINCREMENT), in the same attempt: after
 * a crash before that row's upload began, recovery would count it as one
 * that may have arrived.  In the database a mark goes with its row, and
 * the next claim of the row clears it.  Rare: one transaction then.
 */
static int
inflight_fold(struct store *s, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int applied;

	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    !sqlite3_get_autocommit(s->db))
		return 0;	/* nothing there, or open() says why */
	if (store_begin(s, err, errlen) != 0)
		return -1;
	if (store_inflight_apply(s, &applied, err, errlen) != 0 ||
	    store_commit(s, err, errlen) != 0) {
		store_rollback(s);
		return -1;
	}
	return store_inflight_clear(s, err, errlen);
}

int
store_inflight_open(struct store *s, char *err, size_t errlen)
{
	char *path;

	if (s->dry)
		return 0;
	if ((path = inflight_path(s)) == NULL)
		return 0;	/* a memory copy: previews mark nothing */
	if (inflight_fold(s, path, err, errlen) != 0) {
		free(path);
		return -1;
	}
	if (s->inflightfd >= 0) {
		free(path);
		return 0;	/* open, and empty */
	}
	s->inflightfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK, 0660);
	if (s->inflightfd < 0)
		errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
	else if (inflight_regular(s->inflightfd, path, err, errlen) != 0)
		store_inflight_close(s);
	else {
		inflight_align(s->inflightfd);	/* a tear a crash left */
		/*
		 * Whatever the umask, as the database (store_perm.c): a --once
		 * run by a practitioner in group nudged that is killed leaves
		 * it for the service's recovery to read.  Not ours: its
		 * owner's mode stands.
		 */
		(void)fchmod(s->inflightfd, 0660);
	}
	free(path);
	return s->inflightfd < 0 ? -1 : 0;
}

int
store_inflight_mark(struct store *s, long long id, int attempt, char *err,
    size_t errlen)
{
	struct inflight_rec r = { id, attempt, inflight_check(id, attempt) };
	ssize_t n;

	if (s->inflightfd < 0) {
		errf(err, errlen, "%s%s: not open", s->path, INFLIGHT_SUFFIX);
		return -1;
	}
	do
		n = write(s->inflightfd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r))
		return 0;
	/*
	 * A short write (a full disk) leaves part of a record: its check
	 * fails at recovery, and it is padded to a whole one so the later
	 * records stay in step (the marks are written one at a time: the
	 * mail session's lock or the main thread alone).  The message does
	 * not go (the caller aborts its upload).
	 */
	if (n > 0)
		inflight_align(s->inflightfd);
	errf(err, errlen, "%s%s: cannot write: %s", s->path, INFLIGHT_SUFFIX,
	    n < 0 ? strerror(errno) : "short write");
	return -1;
}

void
store_inflight_close(struct store *s)
{
	if (s->inflightfd >= 0)
		close(s->inflightfd);
	s->inflightfd = -1;
}

int
store_inflight_clear(struct store *s, char *err, size_t errlen)
{
	char *path = inflight_path(s);
	int r = 0;

	store_inflight_close(s);
	/*
	 * Every outcome is recorded (or folded in, or recovered): no id this
	 * process claimed is in flight any more, SQLite may give it again
	 * (store_insert_msg).  Until then a deleted row's id stays ours.
	 */
	s->id_floor = 0;
	if (path != NULL && unlink(path) != 0 && errno != ENOENT) {
		errf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
		r = -1;
	}
	free(path);
	return r;
}

/*
 * Inside recovery's transaction: each valid record sets uploaded = 1 on
 * its row when the row is still 'sending' in that same attempt.  A file
 * that cannot be read is an error (recovery would take every mark in it
 * for lost, and resend uncounted what may have arrived).
 */
int
store_inflight_apply(struct store *s, int *applied, char *err, size_t errlen)
{
	struct inflight_rec r;
	sqlite3_stmt *st;
	char *path;
	FILE *f = NULL;
	int fd, rc = 0;

	*applied = 0;
	if ((path = inflight_path(s)) == NULL)
		return 0;
	/* As it was made: never through a link someone put in its place. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) >= 0 && inflight_regular(fd, path, err, errlen) != 0) {
		close(fd);
		free(path);
		return -1;
	}
	if (fd >= 0 && (f = fdopen(fd, "rb")) == NULL)
		close(fd);
	if (f == NULL) {
		if (errno != ENOENT) {
			errf(err, errlen, "%s: cannot read: %s", path,
			    strerror(errno));
			rc = -1;
		}
		free(path);
		return rc;
	}
	while (rc == 0 && fread(&r, sizeof(r), 1, f) == 1) {
		if (r.id <= 0 || r.check != inflight_check(r.id, r.attempt))
			continue;
		if ((st = store_prep(s, "UPDATE messages SET uploaded = 1"
		    " WHERE id = ?1 AND attempts = ?2 AND status = 'sending'",
		    err, errlen)) == NULL) {
			rc = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, r.id);
		sqlite3_bind_int(st, 2, r.attempt);
		if (store_run(s, st, "reading the upload marks", err, errlen) == -1)
			rc = -1;
		else
			*applied += sqlite3_changes(s->db);
	}
	if (rc == 0 && ferror(f)) {
		errf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	free(path);
	return rc;
}
