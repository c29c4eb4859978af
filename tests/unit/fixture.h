/*
 * fixture: what several unit tests share, linked into every unit test
 * binary (Makefile: $(B)/tests/fixture.o).
 *
 * A private temporary directory per test group, files written into it,
 * a fresh database path per test (with its -wal and -shm removed after),
 * a store opened on it, SQL run on a store's connection for test data,
 * and the practice's time zone.  Every helper fails the running cmocka
 * test on error, so the tests read as what they check.
 */
#ifndef NUDGED_TEST_FIXTURE_H
#define NUDGED_TEST_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct conf;
struct store;

/* Europe/London, as the tests' practice; 0, or -1 with a message on stderr. */
int	 fx_tz_london(void);
/*
 * The tests' practice, zeroed and then: names, email and SMS on (region
 * GB), late_limit 1h, quiet hours 21:00-08:00 for SMS, retry 8 attempts
 * from 1m to 1h.  No rules and no homework channels.
 */
void	 fx_conf_practice(struct conf *);
/* "YYYY-MM-DDTHH:MM:SSZ" as a time; fails the test when it does not parse. */
time_t	 fx_utc(const char *);

/* mkdtemp /tmp/nudged-TAG-XXXXXX; 0 or -1 (for group setups). */
int	 fx_dir_make(const char *tag);
const char *fx_dir(void);
/* The files in it (one level, as the tests make them), then the directory. */
int	 fx_dir_remove(void);
/* Write text to DIR/name with mode; the path, which the caller frees. */
char	*fx_file(const char *name, const char *text, mode_t mode);

/* A new database path, DIR/tN.db (each call a new N); the current one. */
const char *fx_db_new(void);
const char *fx_db(void);
/* The database file and its -wal and -shm. */
void	 fx_db_remove(const char *path);
/* store_open on the current database, failing the test on error. */
struct store *fx_open(void);

/*
 * cmocka fixtures for a group of database tests: the group's directory
 * (with London time), and a fresh database per test, removed after.
 */
int	 fx_db_group_setup(void **state);
int	 fx_db_group_teardown(void **state);
int	 fx_db_setup(void **state);
int	 fx_db_teardown(void **state);
#define FX_DB_TEST(t)	cmocka_unit_test_setup_teardown(t, fx_db_setup, \
	fx_db_teardown)

/* Test data and checks on a store's connection. */
void	 fx_sql(struct store *, const char *sql);
long long fx_sql_int(struct store *, const char *sql);	/* -999: no row */
/* Text of the first column of the first row: "(none)", "(null)" or it. */
const char *fx_sql_text(struct store *, const char *sql, char *buf,
	    size_t len);

#endif
