/* The storage conformance suite (store.h): every function, its compare-and-set and
 * transaction semantics, re-opening, and handles on several threads. Built twice: test_store
 * runs it on SQLite, test_store_pg (STORE_PG_SUITE) on the PostgreSQL named by the
 * environment's COBBLE_TEST_PG (a throw-away database: every case drops its schema), and
 * skips (exit 77) when that is unset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage/store.h"
#include "storage/sqlite_query.h"
#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

/* snprintf that fails the test instead of truncating. */
static void fill(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < cap);
}

struct fx {
	char dir[64];
	char path[128];
	char spec[512]; /* what store_open gets: sqlite:PATH or the PostgreSQL URL */
	struct store *s;
};

static const char *pg_url; /* set: the suite runs on PostgreSQL */

/* Runs SQL on the test database directly (PostgreSQL only). */
static void pg_sql(const char *sql)
{
	PGconn *c = PQconnectdb(pg_url);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static void path_in(const struct fx *f, const char *name, char *out, size_t outlen)
{
	fill(out, outlen, "%s/%s", f->dir, name);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char err[256] = "";
	assert_non_null(f);
	fill(f->dir, sizeof f->dir, "/tmp/cobble-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	path_in(f, "cobble.db", f->path, sizeof f->path);
	if (pg_url) {
		fill(f->spec, sizeof f->spec, "%s", pg_url);
		pg_sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE;"
		       " CREATE SCHEMA public");
		/* A fresh database is refused until migrated. */
		assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_ERR);
		if (!strstr(err, "cobbled migrate"))
			fail_msg("unmigrated database: \"%s\"", err);
		assert_int_equal(store_migrate(f->spec, err, sizeof err), STORE_OK);
		assert_int_equal(store_migrate(f->spec, err, sizeof err), STORE_OK); /* idempotent */
	} else {
		fill(f->spec, sizeof f->spec, "sqlite:%s", f->path);
	}
	if (store_open(f->spec, &f->s, err, sizeof err) != STORE_OK)
		fail_msg("store_open: %s", err);
	assert_non_null(f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	DIR *d = opendir(f->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[400];
		fill(p, sizeof p, "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- fixtures ---- */

static int add_account(struct store *s, const char *id, const char *tp, int64_t created)
{
	struct store_account a = {.jwk = "{\"kty\":\"EC\"}", .contact = "[\"mailto:a@example.org\"]",
	                          .tos_agreed = 1, .created_at = created};
	fill(a.id, sizeof a.id, "%s", id);
	fill(a.thumbprint, sizeof a.thumbprint, "%s", tp);
	fill(a.status, sizeof a.status, "valid");
	return store_account_insert(s, &a);
}

static const char *const chall_types[3] = {"http-01", "dns-01", "tls-alpn-01"};

#define MAX_NEW 4

/* An order of account acct with nnew new authorizations (ids "<oid>-a<i>", three challenges
 * each, ids "<oid>-a<i>-c<j>") followed by the existing authorizations in `existing`. */
static int add_order(struct store *s, const char *acct, const char *oid, int64_t created,
                     size_t nnew, const char *const *existing, size_t nexisting)
{
	struct store_authz az[MAX_NEW];
	struct store_challenge ch[MAX_NEW][3];
	char ids[MAX_NEW + 4][STORE_ID_MAX];
	struct store_order o = {.expires = created + 7 * 86400, .created_at = created,
	                        .identifiers = "[{\"type\":\"dns\",\"value\":\"example.org\"}]",
	                        .authz_ids = ids, .nauthz = nnew + nexisting};
	assert_true(nnew <= MAX_NEW && nexisting <= 4);
	memset(az, 0, sizeof az);
	memset(ch, 0, sizeof ch);
	fill(o.id, sizeof o.id, "%s", oid);
	fill(o.account_id, sizeof o.account_id, "%s", acct);
	fill(o.status, sizeof o.status, "pending");
	for (size_t i = 0; i < nnew; i++) {
		fill(az[i].id, sizeof az[i].id, "%s-a%zu", oid, i);
		fill(az[i].account_id, sizeof az[i].account_id, "%s", acct);
		fill(az[i].ident_type, sizeof az[i].ident_type, "dns");
		fill(az[i].ident_value, sizeof az[i].ident_value, "host%zu.example.org", i);
		fill(az[i].status, sizeof az[i].status, "pending");
		az[i].wildcard = (int)(i % 2);
		az[i].expires = created + 86400;
		az[i].created_at = created;
		az[i].nchall = 3;
		az[i].chall = ch[i];
		for (size_t j = 0; j < 3; j++) {
			fill(ch[i][j].id, sizeof ch[i][j].id, "%s-c%zu", az[i].id, j);
			fill(ch[i][j].type, sizeof ch[i][j].type, "%s", chall_types[j]);
			fill(ch[i][j].token, sizeof ch[i][j].token, "token-%s", ch[i][j].id);
			fill(ch[i][j].status, sizeof ch[i][j].status, "pending");
		}
		fill(ids[i], sizeof ids[i], "%s", az[i].id);
	}
	for (size_t i = 0; i < nexisting; i++)
		fill(ids[nnew + i], sizeof ids[0], "%s", existing[i]);
	return store_order_insert(s, &o, az, nnew);
}

static void assert_status_of_chall(struct store *s, const char *id, const char *status)
{
	struct store_challenge c;
	assert_int_equal(store_challenge_get(s, id, &c, NULL), STORE_OK);
	assert_string_equal(c.status, status);
	store_challenge_clear(&c);
}

static void assert_status_of_authz(struct store *s, const char *id, const char *status)
{
	struct store_authz a;
	assert_int_equal(store_authz_get(s, id, &a), STORE_OK);
	assert_string_equal(a.status, status);
	store_authz_clear(&a);
}

static void assert_status_of_order(struct store *s, const char *id, const char *status)
{
	struct store_order o;
	assert_int_equal(store_order_get(s, id, &o), STORE_OK);
	assert_string_equal(o.status, status);
	store_order_clear(&o);
}

/* ---- open ---- */

static void test_open_specs(void **state)
{
	struct fx *f = *state;
	char good[200], bare[200], nodir[200];
	fill(good, sizeof good, "sqlite:%s/second.db", f->dir);
	fill(bare, sizeof bare, "%s/third.db", f->dir);
	fill(nodir, sizeof nodir, "sqlite:%s/no/such/dir/x.db", f->dir);
	const struct {
		const char *spec;
		int rc;
		const char *err_has; /* substring of the error, for failures */
	} cases[] = {
		{good, STORE_OK, NULL},
		{bare, STORE_OK, NULL},
		{f->path, STORE_OK, NULL}, /* the fixture's own file, a second handle */
		{"postgres://cobble:secret@127.0.0.1:1/cobble", STORE_ERR, "cannot connect"},
		{"postgresql://cobble:secret@127.0.0.1:1/cobble", STORE_ERR, "cannot connect"},
		{f->spec, STORE_OK, NULL},
		{"mysql://db.example/cobble", STORE_ERR, "unknown backend \"mysql\""},
		{"", STORE_ERR, "empty"},
		{"sqlite:", STORE_ERR, "no database file"},
		{nodir, STORE_ERR, "cannot open"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct store *s = (struct store *)&f; /* must be overwritten */
		char err[256] = "";
		int rc = store_open(cases[i].spec, &s, err, sizeof err);
		assert_int_equal(rc, cases[i].rc);
		if (rc == STORE_OK) {
			assert_non_null(s);
			store_close(s);
		} else {
			assert_null(s);
			if (!strstr(err, cases[i].err_has))
				fail_msg("spec \"%s\": error \"%s\"", cases[i].spec, err);
			assert_null(strstr(err, "secret")); /* never echo credentials */
		}
	}
	assert_int_equal(store_open(NULL, NULL, NULL, 0), STORE_ERR);
}

static void reopen_rounds(struct fx *f)
{
	char err[256] = "";
	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_OK);
		struct store_account a;
		assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
		assert_string_equal(a.thumbprint, "tp1");
		store_account_clear(&a);
		assert_status_of_order(f->s, "o1", "pending");
		assert_status_of_chall(f->s, "o1-a1-c2", "pending");
		char v[16];
		assert_int_equal(store_meta_get(f->s, "crl_number", v, sizeof v), STORE_OK);
		assert_string_equal(v, "7");
		store_close(f->s);
		f->s = NULL;
	}
}

/* PostgreSQL: the data survives, and a schema from a newer cobbled is refused. */
static void reopen_pg(struct fx *f)
{
	char err[256] = "";
	reopen_rounds(f);
	pg_sql("INSERT INTO cobble_schema (version, applied_at) VALUES (999, 0)");
	assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_ERR);
	assert_null(f->s);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(store_migrate(f->spec, err, sizeof err), STORE_ERR);
	assert_non_null(strstr(err, "newer"));
}

/* The file is a WAL database at the latest schema version, and opening it again changes
 * nothing and keeps the data. */
static void test_reopen_keeps_data(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1000), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 1000, 2, NULL, 0), STORE_OK);
	assert_int_equal(store_meta_set(f->s, "crl_number", "7"), STORE_OK);
	store_close(f->s);
	f->s = NULL;

	sqlite3 *db;
	sqlite3_stmt *st;
	if (pg_url) {
		reopen_pg(f);
		return;
	}
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int version = sqlite3_column_int(st, 0);
	assert_true(version >= 1);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_open(f->path, &f->s, err, sizeof err), STORE_OK);
		struct store_account a;
		assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
		assert_string_equal(a.thumbprint, "tp1");
		store_account_clear(&a);
		assert_status_of_order(f->s, "o1", "pending");
		assert_status_of_chall(f->s, "o1-a1-c2", "pending");
		char v[16];
		assert_int_equal(store_meta_get(f->s, "crl_number", v, sizeof v), STORE_OK);
		assert_string_equal(v, "7");
		store_close(f->s);
		f->s = NULL;
	}

	/* A database from a newer cobbled is refused, not downgraded. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	char sql[64];
	fill(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &f->s, err, sizeof err), STORE_ERR);
	assert_null(f->s);
	assert_non_null(strstr(err, "newer"));
}

/* ---- accounts ---- */

static void test_account_insert_get(void **state)
{
	struct fx *f = *state;
	struct store_account a;
	assert_int_equal(add_account(f->s, "acct1", "tp-one", 1234), STORE_OK);

	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.id, "acct1");
	assert_string_equal(a.thumbprint, "tp-one");
	assert_string_equal(a.jwk, "{\"kty\":\"EC\"}");
	assert_string_equal(a.contact, "[\"mailto:a@example.org\"]");
	assert_string_equal(a.status, "valid");
	assert_int_equal(a.tos_agreed, 1);
	assert_int_equal(a.created_at, 1234);
	store_account_clear(&a);

	assert_int_equal(store_account_by_thumbprint(f->s, "tp-one", &a), STORE_OK);
	assert_string_equal(a.id, "acct1");
	store_account_clear(&a);

	assert_int_equal(store_account_get(f->s, "nobody", &a), STORE_NOTFOUND);
	assert_null(a.jwk);
	assert_string_equal(a.id, "");
	assert_int_equal(store_account_by_thumbprint(f->s, "tp-none", &a), STORE_NOTFOUND);

	/* A NULL contact is stored as the empty list. */
	struct store_account b = {.id = "acct2", .thumbprint = "tp-two", .jwk = "{}",
	                          .status = "valid", .created_at = 1};
	assert_int_equal(store_account_insert(f->s, &b), STORE_OK);
	assert_int_equal(store_account_get(f->s, "acct2", &a), STORE_OK);
	assert_string_equal(a.contact, "[]");
	assert_int_equal(a.tos_agreed, 0);
	store_account_clear(&a);
}

static void test_account_conflicts(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp-one", 1), STORE_OK);
	assert_int_equal(add_account(f->s, "acct2", "tp-one", 2), STORE_CONFLICT); /* same key */
	assert_int_equal(add_account(f->s, "acct1", "tp-other", 3), STORE_CONFLICT); /* same id */
	struct store_account a;
	assert_int_equal(store_account_get(f->s, "acct2", &a), STORE_NOTFOUND);
	/* A bad status is a backend error, not a silent write. */
	struct store_account bad = {.id = "acct3", .thumbprint = "tp3", .jwk = "{}",
	                            .status = "bogus"};
	assert_int_equal(store_account_insert(f->s, &bad), STORE_ERR);
}

static void test_account_update(void **state)
{
	struct fx *f = *state;
	struct store_account a;
	assert_int_equal(add_account(f->s, "acct1", "tp-one", 1), STORE_OK);
	assert_int_equal(add_account(f->s, "acct2", "tp-two", 2), STORE_OK);

	/* Key rollover (§7.3.5) and contact change and deactivation in one update. */
	struct store_account u = {.id = "acct1", .thumbprint = "tp-new", .jwk = "{\"kty\":\"OKP\"}",
	                          .contact = "[]", .status = "deactivated", .created_at = 999};
	assert_int_equal(store_account_update(f->s, &u), STORE_OK);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.thumbprint, "tp-new");
	assert_string_equal(a.jwk, "{\"kty\":\"OKP\"}");
	assert_string_equal(a.contact, "[]");
	assert_string_equal(a.status, "deactivated");
	assert_int_equal(a.created_at, 1); /* not updatable */
	store_account_clear(&a);
	assert_int_equal(store_account_by_thumbprint(f->s, "tp-one", &a), STORE_NOTFOUND);
	assert_int_equal(store_account_by_thumbprint(f->s, "tp-new", &a), STORE_OK);
	store_account_clear(&a);

	/* Rolling over to another account's key is refused and changes nothing. */
	fill(u.thumbprint, sizeof u.thumbprint, "tp-two");
	fill(u.status, sizeof u.status, "valid");
	assert_int_equal(store_account_update(f->s, &u), STORE_CONFLICT);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.thumbprint, "tp-new");
	assert_string_equal(a.status, "deactivated");
	store_account_clear(&a);

	fill(u.id, sizeof u.id, "ghost");
	fill(u.thumbprint, sizeof u.thumbprint, "tp-ghost");
	assert_int_equal(store_account_update(f->s, &u), STORE_NOTFOUND);
}

/* SQLite keeps account rows in memory per database file (issue 7, acctcache.c), read without
 * the connection: a change made through any handle of the process is seen at once; one made
 * by another process while the file is open is not (one process serves a SQLite database),
 * and is once the file was closed and opened again. */
static void test_account_cache(void **state)
{
	struct fx *f = *state;
	if (pg_url)
		return; /* PostgreSQL reads every account from the database */
	struct store_account a;
	char err[256];
	assert_int_equal(add_account(f->s, "acct1", "tp-one", 1), STORE_OK);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.status, "valid");
	store_account_clear(&a);

	/* Deactivated through another handle (another event loop): seen by this one. */
	struct store *s2 = NULL;
	assert_int_equal(store_open(f->spec, &s2, err, sizeof err), STORE_OK);
	struct store_account u = {.id = "acct1", .thumbprint = "tp-one", .jwk = "{\"kty\":\"EC\"}",
	                          .contact = "[]", .status = "deactivated"};
	assert_int_equal(store_account_update(s2, &u), STORE_OK);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.status, "deactivated");
	assert_string_equal(a.contact, "[]");
	store_account_clear(&a);
	/* A refused update (another account's key) forgets the row too; the next read is right. */
	assert_int_equal(add_account(f->s, "acct2", "tp-two", 2), STORE_OK);
	fill(u.thumbprint, sizeof u.thumbprint, "tp-two");
	assert_int_equal(store_account_update(s2, &u), STORE_CONFLICT);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.thumbprint, "tp-one");
	store_account_clear(&a);

	/* Another process writes the row behind the open file's back: the copy stays... */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "UPDATE accounts SET contact = '[\"mailto:x@example.org\"]'"
	                                  " WHERE id = 'acct1'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.contact, "[]");
	store_account_clear(&a);
	/* ... until the last handle closes the file. */
	store_close(s2);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_OK);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	assert_string_equal(a.contact, "[\"mailto:x@example.org\"]");
	assert_string_equal(a.status, "deactivated");
	store_account_clear(&a);
	assert_int_equal(store_account_get(f->s, "nobody", &a), STORE_NOTFOUND);
}

/* Durable commits without waiting (store.h): a deferred durable commit yields a ticket,
 * the waiter hears once it is on disk (from another thread, or at once if known), a relaxed
 * commit yields none, and closing the handle settles its waiters before it returns. */
struct sync_probe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls, ok;
};

static void sync_probe_done(void *arg, int ok)
{
	struct sync_probe *p = arg;
	pthread_mutex_lock(&p->mu);
	p->calls++;
	p->ok = ok;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int sync_probe_wait(struct sync_probe *p, int calls)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&p->mu);
	while (p->calls < calls && pthread_cond_timedwait(&p->cv, &p->mu, &until) == 0)
		;
	int n = p->calls;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* This program's fdatasync (it takes the place of libc's for the store code linked in, and
 * for libsqlite3): fails with EIO while fail_syncs is set, as a disk error would. */
static volatile int fail_syncs;

int fdatasync(int fd)
{
	if (fail_syncs) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

/* A failed WAL sync: the durable commit it covered is not reported durable, blocking or
 * deferred, not even after a later sync succeeds (Linux may have dropped the pages). */
static void test_sync_failure(void **state)
{
	struct fx *f = *state;
	if (pg_url)
		return; /* the server's fsync, not ours */
	struct sync_probe p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	fail_syncs = 1;
	assert_int_equal(add_account(f->s, "acct1", "tp-one", 1), STORE_ERR); /* blocking */
	store_sync_defer(f->s, 1);
	assert_int_equal(add_account(f->s, "acct2", "tp-two", 1), STORE_OK);
	uint64_t t = store_sync_ticket(f->s);
	store_sync_defer(f->s, 0);
	assert_true(t > 0);
	struct store_sync_waiter w = {.ticket = t, .done = sync_probe_done, .arg = &p};
	store_sync_notify(f->s, &w);
	assert_int_equal(sync_probe_wait(&p, 1), 1);
	assert_int_equal(p.ok, 0);
	fail_syncs = 0;
	/* Syncs work again: new commits are durable, the old one stays failed. */
	assert_int_equal(add_account(f->s, "acct3", "tp-three", 1), STORE_OK);
	struct store_sync_waiter w2 = {.ticket = t, .done = sync_probe_done, .arg = &p};
	store_sync_notify(f->s, &w2);
	assert_int_equal(p.calls, 2);
	assert_int_equal(p.ok, 0);
	store_sync_defer(f->s, 1);
	assert_int_equal(add_account(f->s, "acct4", "tp-four", 1), STORE_OK);
	struct store_sync_waiter w3 = {.ticket = store_sync_ticket(f->s), .done = sync_probe_done, .arg = &p};
	store_sync_defer(f->s, 0);
	store_sync_notify(f->s, &w3);
	assert_int_equal(sync_probe_wait(&p, 3), 3);
	assert_int_equal(p.ok, 1);
}

static void test_sync_deferred(void **state)
{
	struct fx *f = *state;
	struct sync_probe p = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	store_sync_defer(f->s, 1);
	assert_int_equal(add_account(f->s, "acct1", "tp-one", 1), STORE_OK);
	uint64_t t = store_sync_ticket(f->s);
	assert_int_equal(store_sync_ticket(f->s), 0); /* taken */
	store_sync_defer(f->s, 0);
	if (pg_url)
		assert_int_equal(t, 0); /* PostgreSQL's commits are durable when they return */
	else
		assert_true(t > 0);
	struct store_sync_waiter w = {.ticket = t, .done = sync_probe_done, .arg = &p};
	store_sync_notify(f->s, &w);
	assert_int_equal(sync_probe_wait(&p, 1), 1);
	assert_int_equal(p.ok, 1);
	/* Once known on disk, the answer comes before store_sync_notify returns. */
	struct store_sync_waiter w2 = {.ticket = t, .done = sync_probe_done, .arg = &p};
	store_sync_notify(f->s, &w2);
	assert_int_equal(p.calls, 2);
	assert_int_equal(p.ok, 1);
	/* The row is there, as any committed row is. */
	struct store_account a;
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	store_account_clear(&a);

	/* A commit that need not be durable (an order's status) has no ticket. */
	store_sync_defer(f->s, 1);
	assert_int_equal(store_meta_set(f->s, "probe", "1"), STORE_OK);
	assert_int_equal(store_account_get(f->s, "acct1", &a), STORE_OK);
	store_account_clear(&a);
	store_sync_defer(f->s, 0);

	/* Waiters of a handle that closes are settled by store_close, never after it. */
	char err[256];
	for (int i = 0; i < 20; i++) {
		struct store *s2 = NULL;
		assert_int_equal(store_open(f->spec, &s2, err, sizeof err), STORE_OK);
		struct sync_probe q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
		char id[32], tp[32];
		fill(id, sizeof id, "close%d", i);
		fill(tp, sizeof tp, "tp-close%d", i);
		store_sync_defer(s2, 1);
		assert_int_equal(add_account(s2, id, tp, 1), STORE_OK);
		struct store_sync_waiter w3 = {.ticket = store_sync_ticket(s2), .done = sync_probe_done, .arg = &q};
		store_sync_notify(s2, &w3);
		store_close(s2);
		assert_int_equal(q.calls, 1);
	}
	(void)state;
}

/* ---- orders, authorizations, challenges ---- */

static void test_order_insert_get(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 5000, 2, NULL, 0), STORE_OK);

	struct store_order o;
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_string_equal(o.account_id, "acct1");
	assert_string_equal(o.status, "pending");
	assert_int_equal(o.created_at, 5000);
	assert_int_equal(o.expires, 5000 + 7 * 86400);
	assert_int_equal(o.not_before, 0);
	assert_int_equal(o.not_after, 0);
	assert_string_equal(o.identifiers, "[{\"type\":\"dns\",\"value\":\"example.org\"}]");
	assert_null(o.error);
	assert_string_equal(o.cert_serial, "");
	assert_int_equal(o.nauthz, 2);
	assert_string_equal(o.authz_ids[0], "o1-a0");
	assert_string_equal(o.authz_ids[1], "o1-a1");
	store_order_clear(&o);

	for (size_t i = 0; i < 2; i++) {
		char id[STORE_ID_MAX];
		struct store_authz a;
		fill(id, sizeof id, "o1-a%zu", i);
		assert_int_equal(store_authz_get(f->s, id, &a), STORE_OK);
		assert_string_equal(a.account_id, "acct1");
		assert_string_equal(a.ident_type, "dns");
		assert_int_equal(a.wildcard, (int)(i % 2));
		assert_string_equal(a.status, "pending");
		assert_int_equal(a.expires, 5000 + 86400);
		assert_int_equal(a.nchall, 3);
		for (size_t j = 0; j < 3; j++) { /* in the order they were offered */
			char cid[STORE_ID_MAX];
			fill(cid, sizeof cid, "%s-c%zu", id, j);
			assert_string_equal(a.chall[j].id, cid);
			assert_string_equal(a.chall[j].authz_id, id);
			assert_string_equal(a.chall[j].type, chall_types[j]);
			assert_string_equal(a.chall[j].status, "pending");
			assert_int_equal(a.chall[j].validated_at, 0);
			assert_null(a.chall[j].error);
			assert_null(a.chall[j].record);
		}
		store_authz_clear(&a);
	}

	struct store_challenge c;
	struct store_authz a;
	assert_int_equal(store_challenge_get(f->s, "o1-a1-c1", &c, &a), STORE_OK);
	assert_string_equal(c.type, "dns-01");
	assert_string_equal(c.token, "token-o1-a1-c1");
	assert_string_equal(a.id, "o1-a1");
	assert_int_equal(a.nchall, 3);
	store_challenge_clear(&c);
	store_authz_clear(&a);

	assert_int_equal(store_order_get(f->s, "nope", &o), STORE_NOTFOUND);
	assert_int_equal(store_authz_get(f->s, "nope", &a), STORE_NOTFOUND);
	assert_int_equal(store_challenge_get(f->s, "nope", &c, &a), STORE_NOTFOUND);
	assert_null(a.chall);
}

/* An order may reuse authorizations of its own account; anything else rolls the whole
 * insert back. */
static void test_order_insert_links(void **state)
{
	struct fx *f = *state;
	struct store_order o;
	struct store_authz a;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_account(f->s, "acct2", "tp2", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 2, NULL, 0), STORE_OK);

	const char *const reuse[] = {"o1-a1"};
	assert_int_equal(add_order(f->s, "acct1", "o2", 200, 1, reuse, 1), STORE_OK);
	assert_int_equal(store_order_get(f->s, "o2", &o), STORE_OK);
	assert_int_equal(o.nauthz, 2);
	assert_string_equal(o.authz_ids[0], "o2-a0");
	assert_string_equal(o.authz_ids[1], "o1-a1");
	store_order_clear(&o);

	const struct {
		const char *acct, *oid;
		size_t nnew;
		const char *link;
		int rc;
	} cases[] = {
		{"acct1", "o3", 1, "no-such-authz", STORE_NOTFOUND},
		{"acct2", "o4", 1, "o1-a0", STORE_NOTFOUND}, /* another account's authz */
		{"ghost", "o5", 1, "o1-a0", STORE_NOTFOUND}, /* no such account */
		{"acct1", "o1", 0, "o1-a0", STORE_CONFLICT}, /* order id taken */
		{"acct1", "o1", 1, "o1-a1", STORE_CONFLICT}, /* new authz id o1-a0 taken */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *link[] = {cases[i].link};
		int rc = add_order(f->s, cases[i].acct, cases[i].oid, 300, cases[i].nnew, link, 1);
		assert_int_equal(rc, cases[i].rc);
		if (strcmp(cases[i].oid, "o1") != 0) { /* nothing of the order was kept */
			char aid[STORE_ID_MAX];
			fill(aid, sizeof aid, "%s-a0", cases[i].oid);
			assert_int_equal(store_order_get(f->s, cases[i].oid, &o), STORE_NOTFOUND);
			assert_int_equal(store_authz_get(f->s, aid, &a), STORE_NOTFOUND);
		}
	}
	/* o1 is as it was. */
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_int_equal(o.created_at, 100);
	assert_int_equal(o.nauthz, 2);
	store_order_clear(&o);
}

static void test_order_list(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_account(f->s, "acct2", "tp2", 1), STORE_OK);
	/* o3 and o4 share a second: insertion order decides between them. */
	const struct {
		const char *id;
		int64_t created;
	} orders[] = {{"o1", 100}, {"o2", 200}, {"o3", 300}, {"o4", 300}, {"o5", 50}};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(add_order(f->s, "acct1", orders[i].id, orders[i].created, 1, NULL, 0),
		                 STORE_OK);
	assert_int_equal(add_order(f->s, "acct2", "other", 400, 1, NULL, 0), STORE_OK);

	const char *const newest_first[] = {"o4", "o3", "o2", "o1", "o5"};
	const struct {
		const char *acct;
		size_t offset, limit, n, first; /* first: index into newest_first */
	} cases[] = {
		{"acct1", 0, 100, 5, 0}, {"acct1", 0, 2, 2, 0}, {"acct1", 2, 2, 2, 2},
		{"acct1", 4, 2, 1, 4},   {"acct1", 5, 2, 0, 0}, {"acct1", 1, 0, 0, 0},
		{"acct1", 0, SIZE_MAX, 5, 0}, {"acct2", 0, 10, 1, 0}, {"ghost", 0, 10, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char(*ids)[STORE_ID_MAX] = NULL;
		size_t n = 99;
		assert_int_equal(store_order_list(f->s, cases[i].acct, cases[i].offset, cases[i].limit,
		                                  &ids, &n),
		                 STORE_OK);
		assert_int_equal(n, cases[i].n);
		for (size_t k = 0; k < n; k++)
			assert_string_equal(ids[k], strcmp(cases[i].acct, "acct2") == 0
			                                ? "other"
			                                : newest_first[cases[i].first + k]);
		free(ids);
	}
}

static void test_order_set_status(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	const char *problem = "{\"type\":\"urn:ietf:params:acme:error:badCSR\"}";
	const struct {
		const char *id, *from, *to, *error;
		int rc;
		const char *after;
	} steps[] = {
		{"o1", "pending", "processing", NULL, STORE_OK, "processing"},
		{"o1", "pending", "processing", NULL, STORE_CONFLICT, "processing"}, /* lost the race */
		{"o1", "processing", "ready", NULL, STORE_ERR, "processing"}, /* ready is never stored */
		{"o1", "processing", "invalid", problem, STORE_OK, "invalid"},
		{"o1", "processing", "valid", NULL, STORE_CONFLICT, "invalid"},
		{"ghost", "pending", "processing", NULL, STORE_NOTFOUND, NULL},
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		assert_int_equal(store_order_set_status(f->s, steps[i].id, steps[i].from, steps[i].to,
		                                        steps[i].error),
		                 steps[i].rc);
		if (steps[i].after)
			assert_status_of_order(f->s, steps[i].id, steps[i].after);
	}
	struct store_order o;
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_string_equal(o.error, problem);
	store_order_clear(&o);
}

static void test_authz_set_status(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_authz_set_status(f->s, "o1-a0", "pending", "deactivated"), STORE_OK);
	assert_status_of_authz(f->s, "o1-a0", "deactivated");
	assert_int_equal(store_authz_set_status(f->s, "o1-a0", "pending", "deactivated"),
	                 STORE_CONFLICT);
	assert_int_equal(store_authz_set_status(f->s, "o1-a0", "deactivated", "expired"), STORE_ERR);
	assert_status_of_authz(f->s, "o1-a0", "deactivated");
	assert_int_equal(store_authz_set_status(f->s, "ghost", "pending", "deactivated"),
	                 STORE_NOTFOUND);
	/* §7.5.1: a challenge of an authorization that is no longer pending cannot start. */
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c0"), STORE_CONFLICT);
	assert_status_of_chall(f->s, "o1-a0-c0", "pending");
}

static void test_challenge_start(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c0"), STORE_OK);
	assert_status_of_chall(f->s, "o1-a0-c0", "processing");
	assert_status_of_authz(f->s, "o1-a0", "pending");     /* until the result */
	assert_status_of_chall(f->s, "o1-a0-c1", "pending");  /* siblings untouched */
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c0"), STORE_CONFLICT);
	assert_int_equal(store_challenge_start(f->s, "ghost"), STORE_NOTFOUND);
}

static void test_challenge_finish(void **state)
{
	struct fx *f = *state;
	const char *problem = "{\"type\":\"urn:ietf:params:acme:error:unauthorized\"}";
	const char *record = "[{\"url\":\"http://host0.example.org/.well-known/acme-challenge/x\"}]";
	const struct {
		int valid;
		const char *error, *record;
		const char *status;
		int64_t validated_at;
	} cases[] = {
		{1, NULL, record, "valid", 777},
		{0, problem, record, "invalid", 0},
		{0, problem, NULL, "invalid", 0},
	};
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char oid[16], aid[STORE_ID_MAX], cid[STORE_ID_MAX], sib[STORE_ID_MAX];
		fill(oid, sizeof oid, "o%zu", i);
		fill(aid, sizeof aid, "%s-a0", oid);
		fill(cid, sizeof cid, "%s-c1", aid);
		fill(sib, sizeof sib, "%s-c2", aid);
		assert_int_equal(add_order(f->s, "acct1", oid, 100, 1, NULL, 0), STORE_OK);
		/* Not processing yet: nothing to record. */
		assert_int_equal(store_challenge_finish(f->s, cid, 1, NULL, NULL, 777, 0), STORE_CONFLICT);
		assert_int_equal(store_challenge_start(f->s, cid), STORE_OK);
		assert_int_equal(store_challenge_finish(f->s, cid, cases[i].valid, cases[i].error,
		                                        cases[i].record, 777, 0),
		                 STORE_OK);

		struct store_challenge c;
		struct store_authz a;
		assert_int_equal(store_challenge_get(f->s, cid, &c, &a), STORE_OK);
		assert_string_equal(c.status, cases[i].status);
		assert_int_equal(c.validated_at, cases[i].validated_at);
		if (cases[i].error)
			assert_string_equal(c.error, cases[i].error);
		else
			assert_null(c.error);
		if (cases[i].record)
			assert_string_equal(c.record, cases[i].record);
		else
			assert_null(c.record);
		assert_string_equal(a.status, cases[i].status);
		assert_string_equal(a.chall[2].status, "pending");
		store_challenge_clear(&c);
		store_authz_clear(&a);

		/* A result is recorded once. */
		assert_int_equal(store_challenge_finish(f->s, cid, !cases[i].valid, NULL, NULL, 778, 0),
		                 STORE_CONFLICT);
		assert_status_of_chall(f->s, cid, cases[i].status);
		/* The authorization is decided: its other challenges cannot start. */
		assert_int_equal(store_challenge_start(f->s, sib), STORE_CONFLICT);
	}
	assert_int_equal(store_challenge_finish(f->s, "ghost", 1, NULL, NULL, 1, 0), STORE_NOTFOUND);
}

/* A deactivated authorization stays deactivated when a late validation result arrives. */
static void test_challenge_finish_after_deactivation(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c0"), STORE_OK);
	assert_int_equal(store_authz_set_status(f->s, "o1-a0", "pending", "deactivated"), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, "o1-a0-c0", 1, NULL, NULL, 5, 0), STORE_OK);
	assert_status_of_chall(f->s, "o1-a0-c0", "valid");
	assert_status_of_authz(f->s, "o1-a0", "deactivated");
}

static void test_challenge_list_processing(void **state)
{
	struct fx *f = *state;
	char(*ids)[STORE_ID_MAX] = NULL;
	size_t n = 99;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 3, NULL, 0), STORE_OK);
	assert_int_equal(store_challenge_list_processing(f->s, &ids, &n), STORE_OK);
	assert_int_equal(n, 0);
	free(ids);

	assert_int_equal(store_challenge_start(f->s, "o1-a2-c0"), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c1"), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o1-a1-c2"), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, "o1-a1-c2", 1, NULL, NULL, 5, 0), STORE_OK);
	assert_int_equal(store_challenge_list_processing(f->s, &ids, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "o1-a0-c1");
	assert_string_equal(ids[1], "o1-a2-c0");
	free(ids);
}

/* Leases: one worker at a time validates a challenge; a lease that ran out (its worker
 * died) is taken over, oldest first. */
/* Issue 7: a challenge started with a lease is claimed as if its owner had claimed it. */
static void test_challenge_start_leased(void **state)
{
	struct fx *f = *state;
	char id[STORE_ID_MAX];
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 2, NULL, 0), STORE_OK);
	assert_int_equal(store_challenge_start_leased(f->s, "o1-a0-c0", "pool1", 100, 60), STORE_OK);
	assert_int_equal(store_challenge_start_leased(f->s, "o1-a0-c0", "pool1", 101, 60), STORE_CONFLICT);
	assert_int_equal(store_challenge_start_leased(f->s, "ghost", "pool1", 101, 60), STORE_NOTFOUND);
	assert_int_equal(store_challenge_start_leased(f->s, "o1-a1-c0", "", 101, 60), STORE_ERR);
	/* processing, leased to pool1 until 160 */
	assert_int_equal(store_challenge_claim(f->s, "o1-a0-c0", "pool2", 150, 60, NULL), STORE_CONFLICT);
	assert_int_equal(store_challenge_claim(f->s, NULL, "pool2", 150, 60, id), STORE_NOTFOUND);
	assert_int_equal(store_challenge_claim(f->s, "o1-a0-c0", "pool1", 150, 60, NULL), STORE_OK);
	assert_int_equal(store_challenge_claim(f->s, NULL, "pool2", 211, 60, id), STORE_OK);
	assert_string_equal(id, "o1-a0-c0"); /* pool1's renewed lease (210) ran out */
	/* Without a lease (store_challenge_start) any worker takes it at once. */
	assert_int_equal(store_challenge_start(f->s, "o1-a1-c0"), STORE_OK);
	assert_int_equal(store_challenge_claim(f->s, NULL, "pool3", 212, 60, id), STORE_OK);
	assert_string_equal(id, "o1-a1-c0");
}

static void test_challenge_claim(void **state)
{
	struct fx *f = *state;
	char id[STORE_ID_MAX] = "junk";
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 3, NULL, 0), STORE_OK);
	assert_int_equal(store_challenge_claim(f->s, NULL, "w1", 100, 60, id), STORE_NOTFOUND);
	assert_string_equal(id, "");
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c0"), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o1-a1-c1"), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o1-a2-c2"), STORE_OK);
	const struct {
		const char *id; /* NULL: any expired */
		const char *worker;
		int64_t now;
		int rc;
		const char *got;
	} steps[] = {
		{"o1-a0-c0", "w1", 100, STORE_OK, "o1-a0-c0"},  /* lease until 160 */
		{"o1-a0-c0", "w2", 120, STORE_CONFLICT, ""},    /* w1's lease runs */
		{"o1-a0-c0", "w1", 130, STORE_OK, "o1-a0-c0"},  /* w1 renews: until 190 */
		{"o1-a0-c1", "w1", 130, STORE_CONFLICT, ""},    /* pending, not processing */
		{"nope", "w1", 130, STORE_NOTFOUND, ""},
		{NULL, "w2", 140, STORE_OK, "o1-a1-c1"},        /* never leased: taken, until 200 */
		{NULL, "w3", 140, STORE_OK, "o1-a2-c2"},        /* until 200 */
		{NULL, "w3", 150, STORE_NOTFOUND, ""},          /* every lease runs */
		{"o1-a1-c1", "w1", 199, STORE_CONFLICT, ""},
		{NULL, "w4", 195, STORE_OK, "o1-a0-c0"},        /* w1 died: its lease (190) ran out */
		{NULL, "w4", 200, STORE_OK, "o1-a1-c1"},        /* 200 <= now: expired, older id first */
		{"o1-a0-c0", "w1", 196, STORE_CONFLICT, ""},    /* w1 lost it to w4 */
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		int rc = store_challenge_claim(f->s, steps[i].id, steps[i].worker, steps[i].now, 60, id);
		if (rc != steps[i].rc || strcmp(id, steps[i].got) != 0)
			fail_msg("step %zu: %d \"%s\", want %d \"%s\"", i, rc, id, steps[i].rc, steps[i].got);
	}
	/* A finished challenge cannot be claimed any more. */
	assert_int_equal(store_challenge_finish(f->s, "o1-a0-c0", 1, NULL, NULL, 201, 0), STORE_OK);
	assert_int_equal(store_challenge_claim(f->s, "o1-a0-c0", "w4", 202, 60, NULL), STORE_CONFLICT);
	/* Oldest expiry first: c2 (200) before c1 (260). */
	assert_int_equal(store_challenge_claim(f->s, NULL, "w5", 1000, 60, id), STORE_OK);
	assert_string_equal(id, "o1-a2-c2");
	assert_int_equal(store_challenge_claim(f->s, NULL, "w5", 1000, 60, id), STORE_OK);
	assert_string_equal(id, "o1-a1-c1");
	assert_int_equal(store_challenge_claim(f->s, NULL, "w5", 1000, 60, id), STORE_NOTFOUND);
	assert_int_equal(store_challenge_claim(f->s, NULL, "w5", 1000, 60, NULL), STORE_ERR);
	assert_int_equal(store_challenge_claim(f->s, "o1-a1-c1", "", 1000, 60, NULL), STORE_ERR);
}

/* revokeCert by authorizations (RFC 8555 §7.6): a valid, unexpired dns authz of the account. */
static void test_authz_valid_for(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_account(f->s, "acct2", "tp2", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 2, NULL, 0), STORE_OK); /* expires 86500 */
	assert_int_equal(store_authz_valid_for(f->s, "acct1", "host0.example.org", 200), STORE_NOTFOUND);
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c0"), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, "o1-a0-c0", 1, NULL, NULL, 150, 0), STORE_OK);
	const struct {
		const char *acct, *name;
		int64_t now;
		int rc;
	} cases[] = {
		{"acct1", "host0.example.org", 200, STORE_OK},
		{"acct1", "host0.example.org", 86500, STORE_NOTFOUND}, /* expired */
		{"acct2", "host0.example.org", 200, STORE_NOTFOUND},   /* another account's */
		{"acct1", "host1.example.org", 200, STORE_NOTFOUND},   /* still pending */
		{"acct1", "HOST0.example.org", 200, STORE_NOTFOUND},   /* names are stored lower-case */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (store_authz_valid_for(f->s, cases[i].acct, cases[i].name, cases[i].now) != cases[i].rc)
			fail_msg("case %zu", i);
}

/* Authorization reuse (issue 4): the valid, unexpired authorization of the account for the
 * same identifier and wildcard-ness, validated within the window, latest expiry first; a valid
 * result moves the expiry to valid_until. */
static void test_authz_find_reusable(void **state)
{
	struct fx *f = *state;
	struct store_authz a;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_account(f->s, "acct2", "tp2", 1), STORE_OK);
	/* o1-a0: host0 (not wildcard), o1-a1: host1 (wildcard); both expire at 86500. */
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 2, NULL, 0), STORE_OK);
	assert_int_equal(store_authz_find_reusable(f->s, "acct1", "dns", "host0.example.org", 0, 200, 0, &a),
	                 STORE_NOTFOUND); /* still pending */
	assert_int_equal(store_challenge_start(f->s, "o1-a0-c0"), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, "o1-a0-c0", 1, NULL, NULL, 150, 1150), STORE_OK);
	assert_int_equal(store_authz_get(f->s, "o1-a0", &a), STORE_OK);
	assert_int_equal(a.expires, 1150);
	store_authz_clear(&a);
	const struct {
		const char *acct, *type, *value;
		int wildcard;
		int64_t now, since;
		int rc;
		const char *id;
	} cases[] = {
		{"acct1", "dns", "host0.example.org", 0, 200, 100, STORE_OK, "o1-a0"},
		{"acct1", "dns", "host0.example.org", 0, 200, 150, STORE_OK, "o1-a0"},  /* validated at 150 */
		{"acct1", "dns", "host0.example.org", 0, 200, 151, STORE_NOTFOUND, ""}, /* before the window */
		{"acct1", "dns", "host0.example.org", 0, 1150, 0, STORE_NOTFOUND, ""},  /* expired */
		{"acct1", "dns", "host0.example.org", 1, 200, 0, STORE_NOTFOUND, ""},   /* wildcard differs */
		{"acct1", "ip", "host0.example.org", 0, 200, 0, STORE_NOTFOUND, ""},    /* type differs */
		{"acct2", "dns", "host0.example.org", 0, 200, 0, STORE_NOTFOUND, ""},   /* another account */
		{"acct1", "dns", "host1.example.org", 1, 200, 0, STORE_NOTFOUND, ""},   /* pending */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = store_authz_find_reusable(f->s, cases[i].acct, cases[i].type, cases[i].value,
		                                   cases[i].wildcard, cases[i].now, cases[i].since, &a);
		if (rc != cases[i].rc || strcmp(a.id, cases[i].id) != 0)
			fail_msg("case %zu: %d \"%s\", want %d \"%s\"", i, rc, a.id, cases[i].rc, cases[i].id);
		if (rc == STORE_OK) {
			assert_int_equal(a.nchall, 3); /* loaded with its challenges */
			assert_string_equal(a.chall[0].status, "valid");
			assert_string_equal(a.status, "valid");
		}
		store_authz_clear(&a);
	}
	/* valid_until 0 keeps the expiry; a wildcard authorization is found as one. */
	assert_int_equal(store_challenge_start(f->s, "o1-a1-c2"), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, "o1-a1-c2", 1, NULL, NULL, 160, 0), STORE_OK);
	assert_int_equal(store_authz_find_reusable(f->s, "acct1", "dns", "host1.example.org", 1, 200, 0, &a),
	                 STORE_OK);
	assert_string_equal(a.id, "o1-a1");
	assert_int_equal(a.expires, 86500);
	assert_int_equal(a.wildcard, 1);
	store_authz_clear(&a);

	/* A later validation that lives longer wins; an invalid result keeps its expiry. */
	assert_int_equal(add_order(f->s, "acct1", "o2", 300, 2, NULL, 0), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o2-a0-c1"), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, "o2-a0-c1", 1, NULL, NULL, 400, 2400), STORE_OK);
	assert_int_equal(store_challenge_start(f->s, "o2-a1-c0"), STORE_OK);
	assert_int_equal(store_challenge_finish(f->s, "o2-a1-c0", 0, NULL, NULL, 400, 9999), STORE_OK);
	assert_int_equal(store_authz_get(f->s, "o2-a1", &a), STORE_OK);
	assert_int_equal(a.expires, 300 + 86400);
	store_authz_clear(&a);
	assert_int_equal(store_authz_find_reusable(f->s, "acct1", "dns", "host0.example.org", 0, 500, 0, &a),
	                 STORE_OK);
	assert_string_equal(a.id, "o2-a0");
	store_authz_clear(&a);
	/* A deactivated authorization is never reused. */
	assert_int_equal(store_authz_set_status(f->s, "o2-a0", "valid", "deactivated"), STORE_OK);
	assert_int_equal(store_authz_find_reusable(f->s, "acct1", "dns", "host0.example.org", 0, 500, 0, &a),
	                 STORE_OK);
	assert_string_equal(a.id, "o1-a0");
	store_authz_clear(&a);
	/* The reused authorization links into a new order of the same account. */
	const char *const reuse[] = {"o1-a0"};
	assert_int_equal(add_order(f->s, "acct1", "o3", 600, 0, reuse, 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct2", "o4", 600, 0, reuse, 1), STORE_NOTFOUND);
}

/* ---- serials and certificates ---- */

static void test_serial_reserve(void **state)
{
	struct fx *f = *state;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_serial_reserve(f->s, "00ab12cd34ef5678", "o1", 10), STORE_OK);
	assert_int_equal(store_serial_reserve(f->s, "00ab12cd34ef5678", "o1", 11), STORE_CONFLICT);
	assert_int_equal(store_serial_reserve(f->s, "00ab12cd34ef5679", "ghost", 12),
	                 STORE_NOTFOUND);
	assert_int_equal(store_serial_reserve(f->s, "00ab12cd34ef5679", "o1", 12), STORE_OK);
}

static void fill_cert(struct store_cert *c, const char *serial, const char *acct, const char *oid,
                      unsigned char *der, size_t der_len)
{
	memset(c, 0, sizeof *c);
	fill(c->serial, sizeof c->serial, "%s", serial);
	fill(c->account_id, sizeof c->account_id, "%s", acct);
	fill(c->order_id, sizeof c->order_id, "%s", oid);
	c->der = der;
	c->der_len = der_len;
	c->issued_at = 1000;
	c->not_before = 940;
	c->not_after = 1000 + 90 * 86400;
}

static void test_cert_insert_for_order(void **state)
{
	struct fx *f = *state;
	unsigned char der[300];
	for (size_t i = 0; i < sizeof der; i++)
		der[i] = (unsigned char)(i * 7); /* includes NUL bytes */
	struct store_cert c, got;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_account(f->s, "acct2", "tp2", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o2", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_serial_reserve(f->s, "0a01", "o1", 10), STORE_OK);
	assert_int_equal(store_serial_reserve(f->s, "0a02", "o2", 10), STORE_OK);

	const struct {
		const char *serial, *acct, *oid;
		int rc;
	} refused[] = {
		{"0a01", "acct1", "o1", STORE_CONFLICT},  /* order still pending */
		{"0a99", "acct1", "o1", STORE_NOTFOUND},  /* serial never reserved */
		{"0a02", "acct1", "o1", STORE_CONFLICT},  /* serial reserved for o2 */
		{"0a01", "acct2", "o1", STORE_CONFLICT},  /* o1 is not acct2's */
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		if (i == 1)
			assert_int_equal(store_order_set_status(f->s, "o1", "pending", "processing", NULL),
			                 STORE_OK);
		fill_cert(&c, refused[i].serial, refused[i].acct, refused[i].oid, der, sizeof der);
		assert_int_equal(store_cert_insert_for_order(f->s, &c), refused[i].rc);
		/* rolled back: no certificate, order untouched */
		assert_int_equal(store_cert_get(f->s, refused[i].serial, &got), STORE_NOTFOUND);
		assert_null(got.der);
		assert_status_of_order(f->s, "o1", i == 0 ? "pending" : "processing");
	}

	fill_cert(&c, "0a01", "acct1", "o1", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_OK);
	struct store_order o;
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_string_equal(o.status, "valid");
	assert_string_equal(o.cert_serial, "0a01");
	store_order_clear(&o);

	assert_int_equal(store_cert_get(f->s, "0a01", &got), STORE_OK);
	assert_string_equal(got.account_id, "acct1");
	assert_string_equal(got.order_id, "o1");
	assert_int_equal(got.der_len, sizeof der);
	assert_memory_equal(got.der, der, sizeof der);
	assert_int_equal(got.issued_at, 1000);
	assert_int_equal(got.not_before, 940);
	assert_int_equal(got.not_after, 1000 + 90 * 86400);
	assert_int_equal(got.revoked_at, 0);
	store_cert_clear(&got);

	/* The order is valid now: a second certificate for it is refused. */
	assert_int_equal(store_serial_reserve(f->s, "0a03", "o1", 11), STORE_OK);
	fill_cert(&c, "0a03", "acct1", "o1", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_CONFLICT);
	assert_int_equal(store_cert_get(f->s, "0a03", &got), STORE_NOTFOUND);
}

/* An interrupted finalize (orders.c): start_processing records the finalize's deadline; the
 * order is failed once, by a compare-and-set that misses while the finalize may still run,
 * after its certificate was stored, and after a first failure; a certificate arriving after
 * the failure is refused. */
static void test_order_interrupted(void **state)
{
	struct fx *f = *state;
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	const char *err1 = "{\"type\":\"urn:ietf:params:acme:error:serverInternal\",\"detail\":\"first\"}";
	const char *err2 = "{\"type\":\"urn:ietf:params:acme:error:serverInternal\",\"detail\":\"second\"}";
	struct store_order o;
	struct store_cert c, got;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	for (int i = 1; i <= 4; i++) {
		char oid[8];
		fill(oid, sizeof oid, "o%d", i);
		assert_int_equal(add_order(f->s, "acct1", oid, 100, 1, NULL, 0), STORE_OK);
	}
	/* A new order has no deadline, and only a processing order can be failed as interrupted. */
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_int_equal(o.processing_until, 0);
	store_order_clear(&o);
	assert_int_equal(store_order_fail_interrupted(f->s, "o1", 5000, err1), STORE_CONFLICT);
	assert_status_of_order(f->s, "o1", "pending");
	assert_int_equal(store_order_fail_interrupted(f->s, "ghost", 5000, err1), STORE_NOTFOUND);

	assert_int_equal(store_order_start_processing(f->s, "o1", 1100), STORE_OK);
	assert_int_equal(store_order_start_processing(f->s, "o1", 1200), STORE_CONFLICT); /* lost the race */
	assert_int_equal(store_order_start_processing(f->s, "ghost", 1100), STORE_NOTFOUND);
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_string_equal(o.status, "processing");
	assert_int_equal(o.processing_until, 1100);
	store_order_clear(&o);

	/* Before the deadline the finalize may still be running: untouched. */
	assert_int_equal(store_order_fail_interrupted(f->s, "o1", 1099, err1), STORE_CONFLICT);
	assert_status_of_order(f->s, "o1", "processing");
	/* At it: failed, once. */
	assert_int_equal(store_order_fail_interrupted(f->s, "o1", 1100, err1), STORE_OK);
	assert_int_equal(store_order_fail_interrupted(f->s, "o1", 9000, err2), STORE_CONFLICT);
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_string_equal(o.status, "invalid");
	assert_string_equal(o.error, err1);
	assert_string_equal(o.cert_serial, "");
	store_order_clear(&o);

	/* The interrupted finalize's certificate, had it got that far, is refused: reserved for
	 * the order, or from a block. */
	assert_int_equal(store_serial_reserve(f->s, "0b01", "o1", 10), STORE_OK);
	fill_cert(&c, "0b01", "acct1", "o1", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_CONFLICT);
	assert_int_equal(store_cert_get(f->s, "0b01", &got), STORE_NOTFOUND);
	const char block[1][STORE_ID_MAX] = {"0b02"};
	assert_int_equal(store_serials_reserve(f->s, block, 1, 10), STORE_OK);
	fill_cert(&c, "0b02", "acct1", "o1", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_CONFLICT);
	assert_int_equal(store_cert_get(f->s, "0b02", &got), STORE_NOTFOUND);
	assert_status_of_order(f->s, "o1", "invalid");

	/* A certificate stored in time wins over a late failure. */
	assert_int_equal(store_order_start_processing(f->s, "o2", 1100), STORE_OK);
	assert_int_equal(store_serial_reserve(f->s, "0b03", "o2", 10), STORE_OK);
	fill_cert(&c, "0b03", "acct1", "o2", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_OK);
	assert_int_equal(store_order_fail_interrupted(f->s, "o2", 9000, err1), STORE_CONFLICT);
	assert_int_equal(store_order_get(f->s, "o2", &o), STORE_OK);
	assert_string_equal(o.status, "valid");
	assert_string_equal(o.cert_serial, "0b03");
	assert_null(o.error);
	store_order_clear(&o);

	/* Processing without a recorded deadline (store_order_set_status, or before migration 4)
	 * counts as past it. */
	assert_int_equal(store_order_set_status(f->s, "o3", "pending", "processing", NULL), STORE_OK);
	assert_int_equal(store_order_fail_interrupted(f->s, "o3", 1, err1), STORE_OK);
	assert_status_of_order(f->s, "o3", "invalid");

	/* The order a finalize failed itself stays as it failed it. */
	assert_int_equal(store_order_start_processing(f->s, "o4", 1100), STORE_OK);
	assert_int_equal(store_order_set_status(f->s, "o4", "processing", "invalid", err2), STORE_OK);
	assert_int_equal(store_order_fail_interrupted(f->s, "o4", 9000, err1), STORE_CONFLICT);
	assert_int_equal(store_order_get(f->s, "o4", &o), STORE_OK);
	assert_string_equal(o.error, err2);
	store_order_clear(&o);
}

/* Migration 4 on a database of version 3 holding a processing order: SQLite (one instance
 * per file: the finalize is gone) leaves no deadline, so the order can be failed at once;
 * PostgreSQL (instances of version 3 may still be finalizing) gives it 360 s from now. */
static void test_migration_processing_until(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct store_order o;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o2", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_order_set_status(f->s, "o1", "pending", "processing", NULL), STORE_OK);
	store_close(f->s);
	f->s = NULL;
	const char *down = "ALTER TABLE orders DROP COLUMN processing_until";
	int64_t t0 = (int64_t)time(NULL);
	if (pg_url) {
		pg_sql(down);
		pg_sql("DELETE FROM cobble_schema WHERE version >= 4");
		assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_ERR); /* version 3 */
		assert_int_equal(store_migrate(f->spec, err, sizeof err), STORE_OK);
	} else {
		sqlite3 *db;
		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, down, NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_OK);
	assert_int_equal(store_order_get(f->s, "o1", &o), STORE_OK);
	assert_string_equal(o.status, "processing");
	if (pg_url) {
		assert_in_range(o.processing_until, t0 + 359, (int64_t)time(NULL) + 361);
		assert_int_equal(store_order_fail_interrupted(f->s, "o1", t0 + 300, NULL), STORE_CONFLICT);
		assert_int_equal(store_order_fail_interrupted(f->s, "o1", o.processing_until, NULL), STORE_OK);
	} else {
		assert_int_equal(o.processing_until, 0);
		assert_int_equal(store_order_fail_interrupted(f->s, "o1", 1, NULL), STORE_OK);
	}
	store_order_clear(&o);
	assert_int_equal(store_order_get(f->s, "o2", &o), STORE_OK);
	assert_string_equal(o.status, "pending");
	assert_int_equal(o.processing_until, 0);
	store_order_clear(&o);
}

/* SQLite: the ephemeral tables an IN-list CHECK costs, counted in a statement's program. */
static int ephemeral_tables(sqlite3 *db, const char *sql)
{
	char ex[256];
	sqlite3_stmt *st = NULL;
	int n = 0;
	fill(ex, sizeof ex, "EXPLAIN %s", sql);
	assert_int_equal(sqlite3_prepare_v2(db, ex, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		n += strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
	sqlite3_finalize(st);
	return n;
}

static long long count_of(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Migration 5 (SQLite): the status CHECKs are OR chains, so no INSERT or UPDATE of those
 * tables builds an ephemeral table; they still refuse any other status; and a version-4
 * database (IN lists) is brought there on open, its rows untouched. */
static void test_migration_checks(void **state)
{
	struct fx *f = *state;
	if (pg_url)
		return; /* PostgreSQL's version 5 changes nothing */
	char err[256] = "";
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	static const char *const writes[] = {
	    "UPDATE accounts SET status = ?1 WHERE id = ?2", "UPDATE orders SET status = ?1 WHERE id = ?2",
	    "UPDATE authzs SET status = ?1 WHERE id = ?2", "UPDATE challenges SET status = ?1 WHERE id = ?2",
	    "INSERT INTO accounts (id, thumbprint, jwk, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	};
	for (int round = 0; round < 2; round++) {
		store_close(f->s);
		f->s = NULL;
		sqlite3 *db;
		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(count_of(db, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%status IN (%'"), 0);
		for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
			assert_int_equal(ephemeral_tables(db, writes[i]), 0);
		/* Still enforced, for each table. */
		assert_int_equal(sqlite3_exec(db, "UPDATE orders SET status = 'bogus' WHERE id = 'o1'", NULL, NULL, NULL),
		                 SQLITE_CONSTRAINT);
		assert_int_equal(sqlite3_exec(db, "UPDATE accounts SET status = 'pending' WHERE id = 'acct1'", NULL, NULL,
		                              NULL),
		                 SQLITE_CONSTRAINT);
		assert_int_equal(sqlite3_exec(db, "UPDATE authzs SET status = 'processing' WHERE id = 'o1-a0'", NULL, NULL,
		                              NULL),
		                 SQLITE_CONSTRAINT);
		assert_int_equal(sqlite3_exec(db, "UPDATE challenges SET status = 'revoked' WHERE id = 'o1-a0-c1'", NULL,
		                              NULL, NULL),
		                 SQLITE_CONSTRAINT);
		assert_int_equal(count_of(db, "SELECT count(*) FROM authzs WHERE id = 'o1-a0'"), 1);
		if (round == 0) {
			/* Back to version 4's IN list for orders (as cobbled made it before this
			 * migration), then open again: migration 5 runs on a database with rows. */
			long long v = count_of(db, "PRAGMA schema_version");
			char bump[64];
			fill(bump, sizeof bump, "PRAGMA schema_version = %lld", v + 1);
			assert_int_equal(sqlite3_exec(db,
			                              "BEGIN; PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = "
			                              "replace(sql, 'status = ''pending'' OR status = ''processing'' OR "
			                              "status = ''valid'' OR status = ''invalid''', 'status IN (''pending'', "
			                              "''processing'', ''valid'', ''invalid'')') WHERE name = 'orders'",
			                              NULL, NULL, NULL),
			                 SQLITE_OK);
			assert_int_equal(sqlite3_exec(db, bump, NULL, NULL, NULL), SQLITE_OK);
			assert_int_equal(sqlite3_exec(db, "PRAGMA writable_schema = OFF; COMMIT; PRAGMA user_version = 4",
			                              NULL, NULL, NULL),
			                 SQLITE_OK);
			assert_int_equal(count_of(db, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%status IN (%'"), 1);
			assert_true(ephemeral_tables(db, writes[1]) > 0);
		}
		sqlite3_close(db);
		assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_OK);
		assert_status_of_order(f->s, "o1", "pending");
	}
}

/* Whether SQLite's plan for sql reads index. */
static int plan_uses(sqlite3 *db, const char *sql, const char *index)
{
	char q[2048];
	sqlite3_stmt *st = NULL;
	int found = 0;
	fill(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);
		found |= d && strstr(d, index) != NULL;
	}
	sqlite3_finalize(st);
	return found;
}

/* Migration 6 (SQLite; PostgreSQL's drops and creates the same indexes, and the conformance
 * tests run the queries on both): no index written for nothing. challenges_processing is
 * gone, the start-up list of processing challenges reads challenges_leases, and
 * authorizations are indexed only once valid (authzs_valid), which the reuse and
 * valid-authorization queries read. */
static void test_migration_lean_indexes(void **state)
{
	struct fx *f = *state;
	if (pg_url)
		return;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(count_of(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN"
	                              " ('challenges_processing', 'authzs_for_reuse')"),
	                 0);
	assert_int_equal(count_of(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name ="
	                              " 'authzs_valid' AND sql LIKE '%WHERE status = ''valid''%'"),
	                 1);
	assert_true(plan_uses(db, sqq_sql(ST_AUTHZ_REUSABLE), "authzs_valid"));
	assert_true(plan_uses(db, sqq_sql(ST_AUTHZ_VALID_FOR), "authzs_valid"));
	assert_true(plan_uses(db, sqq_sql(ST_CHALL_PROCESSING), "challenges_leases"));
	sqlite3_close(db);
}

/* Issue 7: serials reserved in a block for no order, then bound to an order by the
 * certificate insert; all-or-nothing reservation; a bound serial cannot serve again. */
static void test_serials_block(void **state)
{
	struct fx *f = *state;
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	struct store_cert c, got;
	const char block[3][STORE_ID_MAX] = {"0b01", "0b02", "0b03"};
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o2", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_serial_reserve(f->s, "0a01", "o1", 10), STORE_OK);
	assert_int_equal(store_serials_reserve(f->s, block, 3, 10), STORE_OK);
	/* A block overlapping a reserved serial (in a block or for an order) is refused whole. */
	const char again[2][STORE_ID_MAX] = {"0b09", "0b02"};
	assert_int_equal(store_serials_reserve(f->s, again, 2, 11), STORE_CONFLICT);
	const char bound[2][STORE_ID_MAX] = {"0b08", "0a01"};
	assert_int_equal(store_serials_reserve(f->s, bound, 2, 11), STORE_CONFLICT);
	assert_int_equal(store_order_set_status(f->s, "o1", "pending", "processing", NULL), STORE_OK);
	assert_int_equal(store_order_set_status(f->s, "o2", "pending", "processing", NULL), STORE_OK);
	/* The refused blocks left nothing behind: 0b09 was never reserved. */
	fill_cert(&c, "0b09", "acct1", "o2", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_NOTFOUND);
	/* A failed insert (o1 is not acct2's) leaves the serial in the block. */
	assert_int_equal(add_account(f->s, "acct2", "tp2", 1), STORE_OK);
	fill_cert(&c, "0b02", "acct2", "o1", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_CONFLICT);
	fill_cert(&c, "0b02", "acct1", "o1", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_OK);
	assert_int_equal(store_cert_get(f->s, "0b02", &got), STORE_OK);
	assert_string_equal(got.order_id, "o1");
	store_cert_clear(&got);
	assert_status_of_order(f->s, "o1", "valid");
	/* 0b02 is bound to o1 now: neither another order nor another block gets it. */
	fill_cert(&c, "0b02", "acct1", "o2", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_CONFLICT);
	const char used[1][STORE_ID_MAX] = {"0b02"};
	assert_int_equal(store_serials_reserve(f->s, used, 1, 12), STORE_CONFLICT);
	fill_cert(&c, "0b03", "acct1", "o2", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_OK);
	assert_status_of_order(f->s, "o2", "valid");
}

static void test_cert_revoke(void **state)
{
	struct fx *f = *state;
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	struct store_cert c;
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	assert_int_equal(add_order(f->s, "acct1", "o1", 100, 1, NULL, 0), STORE_OK);
	assert_int_equal(store_serial_reserve(f->s, "77", "o1", 10), STORE_OK);
	assert_int_equal(store_order_set_status(f->s, "o1", "pending", "processing", NULL), STORE_OK);
	fill_cert(&c, "77", "acct1", "o1", der, sizeof der);
	assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_OK);

	assert_int_equal(store_cert_revoke(f->s, "77", 1 /* keyCompromise */, 2000), STORE_OK);
	assert_int_equal(store_cert_revoke(f->s, "77", 4, 3000), STORE_CONFLICT);
	assert_int_equal(store_cert_revoke(f->s, "78", 4, 3000), STORE_NOTFOUND);
	assert_int_equal(store_cert_get(f->s, "77", &c), STORE_OK);
	assert_int_equal(c.revoked_at, 2000);
	assert_int_equal(c.revoked_reason, 1);
	store_cert_clear(&c);
}

/* CRL input: revoked, unexpired certificates in serial order, on every backend. */
static void test_cert_list_revoked_backends(void **state)
{
	struct fx *f = *state;
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	const struct {
		const char *serial;
		int64_t not_after;
		int revoke_reason; /* -1: not revoked */
	} certs[] = {{"0c", 5000, 1}, {"0a", 5000, 4}, {"0b", 5000, -1}, {"0d", 100, 1}};
	assert_int_equal(add_account(f->s, "acct1", "tp1", 1), STORE_OK);
	for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++) {
		char oid[STORE_ID_MAX];
		struct store_cert c;
		fill(oid, sizeof oid, "o%zu", i);
		assert_int_equal(add_order(f->s, "acct1", oid, 100, 1, NULL, 0), STORE_OK);
		assert_int_equal(store_order_set_status(f->s, oid, "pending", "processing", NULL), STORE_OK);
		assert_int_equal(store_serial_reserve(f->s, certs[i].serial, oid, 10), STORE_OK);
		fill_cert(&c, certs[i].serial, "acct1", oid, der, sizeof der);
		c.not_after = certs[i].not_after;
		assert_int_equal(store_cert_insert_for_order(f->s, &c), STORE_OK);
		if (certs[i].revoke_reason >= 0)
			assert_int_equal(store_cert_revoke(f->s, certs[i].serial, certs[i].revoke_reason,
			                                   2000 + (int64_t)i),
			                 STORE_OK);
	}
	struct store_revoked *r = NULL;
	size_t n = 0;
	assert_int_equal(store_cert_list_revoked(f->s, 1000, &r, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(r[0].serial, "0a");
	assert_int_equal(r[0].revoked_at, 2001);
	assert_int_equal(r[0].reason, 4);
	assert_string_equal(r[1].serial, "0c");
	free(r);
	assert_int_equal(store_cert_list_revoked(f->s, 0, &r, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(r[2].serial, "0d");
	free(r);
	assert_int_equal(store_cert_list_revoked(f->s, 9999, &r, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_null(r);
}

/* ---- nonces ---- */

static void test_nonce_redeem(void **state)
{
	struct fx *f = *state;
	char err[256] = "", other[200];
	struct store *s2 = NULL, *s3 = NULL;
	assert_int_equal(store_open(f->spec, &s2, err, sizeof err), STORE_OK);
	path_in(f, "other.db", other, sizeof other);
	/* PostgreSQL: a third handle (another instance) shares the set too. */
	assert_int_equal(store_open(pg_url ? f->spec : other, &s3, err, sizeof err), STORE_OK);

	/* Ids as nonce.c makes them: the sequence number is part of the id. */
	unsigned char a[24], b[24];
	memset(a, 0x11, sizeof a);
	a[15] = 1;
	memcpy(b, a, sizeof b);
	b[15] = 2;
	const struct {
		struct store *s;
		const unsigned char *id;
		uint64_t seq;
		int rc;
	} steps[] = {
		{f->s, a, 1, STORE_OK},
		{f->s, a, 1, STORE_CONFLICT},
		{s2, a, 1, STORE_CONFLICT}, /* another handle on the same database */
		{s2, b, 2, STORE_OK},
		{f->s, b, 2, STORE_CONFLICT},
		{s3, a, 1, pg_url ? STORE_CONFLICT : STORE_OK}, /* another database: own set */
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		assert_int_equal(store_nonce_redeem(steps[i].s, steps[i].id, sizeof a, steps[i].seq, 5000, 100),
		                 steps[i].rc);

	/* Closing every handle does not make a redeemed nonce redeemable again. */
	store_close(s2);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->spec, &f->s, err, sizeof err), STORE_OK);
	assert_int_equal(store_nonce_redeem(f->s, a, sizeof a, 1, 5000, 100), STORE_CONFLICT);
	store_close(s3);
}

/* The id in the form nonce.c gives it: expiry, sequence, random. */
static void nonce_id(unsigned char id[24], uint64_t seq)
{
	memset(id, 0x5a, 24);
	for (int i = 0; i < 8; i++)
		id[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
}

/* Memory stays bounded however many nonces are redeemed. SQLite: a fixed window of sequence
 * numbers, redeemed out of order within it, too old beyond it; PostgreSQL: ids are forgotten
 * once expired, unexpired ones stay. */
static void test_nonce_window(void **state)
{
	struct fx *f = *state;
	unsigned char id[24];
	const uint64_t w = STORE_NONCE_WINDOW;
	if (pg_url) {
		unsigned char short_lived[24], long_lived[24];
		nonce_id(short_lived, 1);
		nonce_id(long_lived, 2);
		assert_int_equal(store_nonce_redeem(f->s, short_lived, 24, 1, 200, 100), STORE_OK);
		assert_int_equal(store_nonce_redeem(f->s, long_lived, 24, 2, 1000000, 100), STORE_OK);
		for (uint64_t i = 0; i < 3000; i++) { /* enough to prune several times */
			nonce_id(id, 10 + i);
			assert_int_equal(store_nonce_redeem(f->s, id, 24, 10 + i, 300 + (int64_t)i, 300 + (int64_t)i),
			                 STORE_OK);
		}
		assert_int_equal(store_nonce_redeem(f->s, short_lived, 24, 1, 200, 30000), STORE_OK);
		assert_int_equal(store_nonce_redeem(f->s, long_lived, 24, 2, 1000000, 30000), STORE_CONFLICT);
		return;
	}
	/* Out of order inside the window: each once. */
	const uint64_t order[] = {5, 3, 4, 1, 2, 100, 50};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		nonce_id(id, order[i]);
		assert_int_equal(store_nonce_redeem(f->s, id, 24, order[i], 5000, 100), STORE_OK);
	}
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		nonce_id(id, order[i]);
		assert_int_equal(store_nonce_redeem(f->s, id, 24, order[i], 5000, 100), STORE_CONFLICT);
	}
	/* A nonce issued long ago but never used is still good while inside the window... */
	nonce_id(id, w + 6);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, w + 6, 5000, 100), STORE_OK);
	nonce_id(id, 7);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 7, 5000, 100), STORE_OK);
	/* ...and refused once the window has moved past it, whether redeemed (5) or not (6). */
	nonce_id(id, 6);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 6, 5000, 100), STORE_NOTFOUND);
	nonce_id(id, 5);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 5, 5000, 100), STORE_NOTFOUND);
	/* The slots numbers a window apart share were cleared as the window moved: 100 + w is new
	 * although 100 was redeemed; the window edge is exact. */
	nonce_id(id, 100 + w);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 100 + w, 5000, 100), STORE_OK);
	nonce_id(id, 101);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 101, 5000, 100), STORE_OK);
	nonce_id(id, 100);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 100, 5000, 100), STORE_NOTFOUND);
	/* A jump of more than a whole window forgets everything before it. */
	nonce_id(id, 10 * w);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 10 * w, 5000, 100), STORE_OK);
	nonce_id(id, 9 * w + 1);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 9 * w + 1, 5000, 100), STORE_OK);
	nonce_id(id, 9 * w);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 9 * w, 5000, 100), STORE_NOTFOUND);
	assert_int_equal(store_nonce_redeem(f->s, id, 24, 0, 5000, 100), STORE_ERR); /* 0 is never issued */
}

/* ---- metadata ---- */

static void test_meta(void **state)
{
	struct fx *f = *state;
	char v[8] = "junk";
	assert_int_equal(store_meta_get(f->s, "crl_number", v, sizeof v), STORE_NOTFOUND);
	assert_string_equal(v, "");
	const struct {
		const char *value;
	} writes[] = {{"1"}, {"2"}, {""}, {"1234567"}};
	for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
		assert_int_equal(store_meta_set(f->s, "crl_number", writes[i].value), STORE_OK);
		assert_int_equal(store_meta_get(f->s, "crl_number", v, sizeof v), STORE_OK);
		assert_string_equal(v, writes[i].value);
	}
	/* Too long for the buffer: an error, never a truncated value. */
	assert_int_equal(store_meta_set(f->s, "crl_number", "12345678"), STORE_OK);
	assert_int_equal(store_meta_get(f->s, "crl_number", v, sizeof v), STORE_ERR);
	assert_string_equal(v, "");
}

/* Counters: every handle (instance) racing on one gets distinct, consecutive numbers. */
#define INCR_THREADS 4
#define INCR_EACH 50

struct incr_worker {
	const char *spec;
	int errors;
	int64_t got[INCR_EACH];
};

static void *incr_main(void *arg)
{
	struct incr_worker *w = arg;
	struct store *s = NULL;
	char err[256];
	if (store_open(w->spec, &s, err, sizeof err) != STORE_OK) {
		w->errors++;
		return NULL;
	}
	for (int i = 0; i < INCR_EACH; i++)
		w->errors += store_meta_incr(s, "crl_number", &w->got[i]) != STORE_OK;
	store_close(s);
	return NULL;
}

static void test_meta_incr(void **state)
{
	struct fx *f = *state;
	int64_t v = -1;
	char text[32];
	assert_int_equal(store_meta_incr(f->s, "crl_number", &v), STORE_OK);
	assert_int_equal(v, 1);
	assert_int_equal(store_meta_set(f->s, "crl_number", "41"), STORE_OK);
	assert_int_equal(store_meta_incr(f->s, "crl_number", &v), STORE_OK);
	assert_int_equal(v, 42);
	assert_int_equal(store_meta_get(f->s, "crl_number", text, sizeof text), STORE_OK);
	assert_string_equal(text, "42");

	pthread_t th[INCR_THREADS];
	struct incr_worker w[INCR_THREADS];
	static char seen[42 + INCR_THREADS * INCR_EACH + 1];
	memset(seen, 0, sizeof seen);
	for (int i = 0; i < INCR_THREADS; i++) {
		w[i] = (struct incr_worker){.spec = f->spec};
		assert_int_equal(pthread_create(&th[i], NULL, incr_main, &w[i]), 0);
	}
	for (int i = 0; i < INCR_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
		for (int j = 0; j < INCR_EACH; j++) {
			int64_t g = w[i].got[j];
			assert_true(g > 42 && g < (int64_t)sizeof seen);
			assert_int_equal(seen[g], 0); /* never handed out twice */
			seen[g] = 1;
			if (j)
				assert_true(g > w[i].got[j - 1]); /* monotonic per handle */
		}
	}
	assert_int_equal(store_meta_incr(f->s, "crl_number", &v), STORE_OK);
	assert_int_equal(v, 42 + INCR_THREADS * INCR_EACH + 1);
}

/* ARI replacement (RFC 9773 §5): one order replaces a certificate, even when handles
 * (instances) race for it; the losers learn the winner. */
#define REPLACERS 6

struct replace_worker {
	const char *spec;
	pthread_barrier_t *bar;
	char order[STORE_ID_MAX];
	char by[STORE_ID_MAX];
	int rc;
};

static void *replace_main(void *arg)
{
	struct replace_worker *w = arg;
	struct store *s = NULL;
	char err[256];
	int ok = store_open(w->spec, &s, err, sizeof err) == STORE_OK;
	pthread_barrier_wait(w->bar);
	w->rc = ok ? store_cert_replace(s, "0abc", w->order, w->by) : STORE_ERR;
	store_close(s);
	return NULL;
}

static void test_cert_replace_race(void **state)
{
	struct fx *f = *state;
	char by[STORE_ID_MAX] = "junk";
	assert_int_equal(store_cert_replace(f->s, "0def", "o-first", by), STORE_OK);
	assert_string_equal(by, "");
	assert_int_equal(store_cert_replace(f->s, "0def", "o-second", by), STORE_CONFLICT);
	assert_string_equal(by, "o-first");

	pthread_t th[REPLACERS];
	struct replace_worker w[REPLACERS];
	pthread_barrier_t bar;
	assert_int_equal(pthread_barrier_init(&bar, NULL, REPLACERS), 0);
	for (int i = 0; i < REPLACERS; i++) {
		w[i] = (struct replace_worker){.spec = f->spec, .bar = &bar};
		fill(w[i].order, sizeof w[i].order, "order-%d", i);
		assert_int_equal(pthread_create(&th[i], NULL, replace_main, &w[i]), 0);
	}
	int winners = 0, winner = -1;
	for (int i = 0; i < REPLACERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(w[i].rc == STORE_OK || w[i].rc == STORE_CONFLICT);
		if (w[i].rc == STORE_OK) {
			winners++;
			winner = i;
		}
	}
	pthread_barrier_destroy(&bar);
	assert_int_equal(winners, 1);
	for (int i = 0; i < REPLACERS; i++)
		if (i != winner)
			assert_string_equal(w[i].by, w[winner].order);
}

/* Durable commits from many handles at once (issue 7: on SQLite they share the WAL's
 * fdatasync through the group commit): every one returns OK, none waits forever, and each is
 * visible to another handle as soon as its call returned. */
#define COMMITTERS 8
#define COMMITS_EACH 25

struct commit_worker {
	const char *spec;
	pthread_barrier_t *bar;
	int idx, ok;
};

static void *commit_main(void *arg)
{
	struct commit_worker *w = arg;
	struct store *s = NULL;
	char err[256];
	int opened = store_open(w->spec, &s, err, sizeof err) == STORE_OK;
	pthread_barrier_wait(w->bar);
	for (int i = 0; opened && i < COMMITS_EACH; i++) {
		char id[64], tp[64];
		snprintf(id, sizeof id, "gc-%d-%d", w->idx, i);
		snprintf(tp, sizeof tp, "tp-gc-%d-%d", w->idx, i);
		if (add_account(s, id, tp, 100 + i) == STORE_OK)
			w->ok++;
	}
	store_close(s);
	return NULL;
}

static void test_concurrent_durable_commits(void **state)
{
	struct fx *f = *state;
	pthread_t th[COMMITTERS];
	struct commit_worker w[COMMITTERS];
	pthread_barrier_t bar;
	assert_int_equal(pthread_barrier_init(&bar, NULL, COMMITTERS), 0);
	for (int i = 0; i < COMMITTERS; i++) {
		w[i] = (struct commit_worker){.spec = f->spec, .bar = &bar, .idx = i};
		assert_int_equal(pthread_create(&th[i], NULL, commit_main, &w[i]), 0);
	}
	for (int i = 0; i < COMMITTERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].ok, COMMITS_EACH);
	}
	pthread_barrier_destroy(&bar);
	for (int i = 0; i < COMMITTERS; i++)
		for (int j = 0; j < COMMITS_EACH; j++) {
			char id[64];
			struct store_account a;
			snprintf(id, sizeof id, "gc-%d-%d", i, j);
			assert_int_equal(store_account_get(f->s, id, &a), STORE_OK);
			store_account_clear(&a);
		}
}

/* SQLite: the WAL is checkpointed and reused as commits accumulate (issue 7: a checkpoint on
 * a connection that had not yet read the file did nothing, and the WAL grew by ~40 MB/s under
 * load; then a checkpoint thread running beside a steady stream of commits never caught up,
 * so SQLite never rewound the WAL: 103 MB after 1500 orders). 6000 orders write ~400 MB of
 * WAL frames, far more than the 4000-page (16 MiB) checkpoint threshold. */
static void test_wal_bounded(void **state)
{
	struct fx *f = *state;
	if (pg_url)
		return;
	assert_int_equal(add_account(f->s, "wal-acct", "wal-tp", 1), STORE_OK);
	for (int i = 0; i < 6000; i++) {
		char oid[64];
		snprintf(oid, sizeof oid, "wal-o%d", i);
		assert_int_equal(add_order(f->s, "wal-acct", oid, i, 2, NULL, 0), STORE_OK);
	}
	char wal[256];
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	struct stat st;
	assert_int_equal(stat(wal, &st), 0);
	/* The file keeps its high-water mark: SQ_WAL_HARD_PAGES (12000 pages, 47 MiB) and the
	 * commit that crossed it. */
	if (st.st_size > 56 * 1024 * 1024)
		fail_msg("WAL is %lld bytes after 6000 orders: not checkpointed", (long long)st.st_size);
}

/* ---- locks ---- */

/* PostgreSQL frees a closed session's locks when its backend process exits, a moment after
 * the client hung up: try for up to two seconds. */
static int lock_after_close(struct store *s, const char *name)
{
	int rc = STORE_CONFLICT;
	for (int i = 0; i < 100 && rc == STORE_CONFLICT; i++) {
		if (i)
			usleep(20 * 1000);
		rc = store_lock_try(s, name);
	}
	return rc;
}

/* One holder at a time across handles (instances); release and close free the lock. */
static void test_locks(void **state)
{
	struct fx *f = *state;
	char err[256] = "";
	struct store *s2 = NULL, *s3 = NULL;
	assert_int_equal(store_open(f->spec, &s2, err, sizeof err), STORE_OK);
	assert_int_equal(store_open(f->spec, &s3, err, sizeof err), STORE_OK);
	const struct {
		struct store *s;
		int take; /* 1 try, 0 release */
		const char *name;
		int rc;
	} steps[] = {
		{f->s, 1, "crl", STORE_OK},
		{s2, 1, "crl", STORE_CONFLICT},
		{s3, 1, "crl", STORE_CONFLICT},
		{s2, 1, "crl-shard-1", STORE_OK}, /* another name is another lock */
		{s2, 0, "crl", STORE_NOTFOUND},   /* not s2's to release */
		{f->s, 0, "crl", STORE_OK},
		{f->s, 0, "crl", STORE_NOTFOUND},
		{s3, 1, "crl", STORE_OK},
		{f->s, 1, "crl", STORE_CONFLICT},
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		int rc = steps[i].take ? store_lock_try(steps[i].s, steps[i].name)
		                       : store_lock_release(steps[i].s, steps[i].name);
		if (rc != steps[i].rc)
			fail_msg("step %zu: %d, want %d", i, rc, steps[i].rc);
	}
	store_close(s3); /* closing the holder releases it */
	assert_int_equal(lock_after_close(f->s, "crl"), STORE_OK);
	assert_int_equal(store_lock_try(s2, "crl"), STORE_CONFLICT);
	assert_int_equal(store_lock_release(f->s, "crl"), STORE_OK);
	store_close(s2);
	assert_int_equal(lock_after_close(f->s, "crl-shard-1"), STORE_OK);
	assert_int_equal(store_lock_try(NULL, "crl"), STORE_ERR);
	assert_int_equal(store_lock_try(f->s, ""), STORE_ERR);
}

/* ---- argument checks ---- */

static void test_null_arguments(void **state)
{
	struct fx *f = *state;
	struct store_account a = {.jwk = "{}"};
	char(*ids)[STORE_ID_MAX];
	size_t n;
	char v[4];
	assert_int_equal(store_account_insert(NULL, &a), STORE_ERR);
	assert_int_equal(store_account_insert(f->s, NULL), STORE_ERR);
	assert_int_equal(store_account_get(f->s, NULL, &a), STORE_ERR);
	assert_int_equal(store_order_list(f->s, NULL, 0, 1, &ids, &n), STORE_ERR);
	assert_int_equal(store_challenge_list_processing(f->s, NULL, &n), STORE_ERR);
	assert_int_equal(store_nonce_redeem(f->s, NULL, 16, 1, 1, 1), STORE_ERR);
	assert_int_equal(store_meta_get(f->s, "k", v, 0), STORE_ERR);
	assert_int_equal(store_order_start_processing(f->s, NULL, 1), STORE_ERR);
	assert_int_equal(store_order_fail_interrupted(NULL, "o1", 1, NULL), STORE_ERR);
	store_close(NULL);
	store_account_clear(NULL);
	store_authz_clear(NULL);
	store_order_clear(NULL);
	store_cert_clear(NULL);
	store_challenge_clear(NULL);
}

/* ---- concurrency ---- */

#define THREADS 4
#define PER_THREAD 60

struct worker {
	const char *path;
	int index;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct store *s = NULL;
	char err[256];
	if (store_open(w->path, &s, err, sizeof err) != STORE_OK) {
		w->failures = -1;
		return NULL;
	}
	for (int i = 0; i < PER_THREAD; i++) {
		char id[STORE_ID_MAX], tp[64], oid[STORE_ID_MAX];
		unsigned char nonce[8] = {(unsigned char)w->index, (unsigned char)i};
		fill(id, sizeof id, "t%d-acct%d", w->index, i);
		fill(tp, sizeof tp, "t%d-tp%d", w->index, i);
		fill(oid, sizeof oid, "t%d-o%d", w->index, i);
		if (add_account(s, id, tp, i) != STORE_OK ||
		    add_order(s, id, oid, i, 2, NULL, 0) != STORE_OK ||
		    store_challenge_start(s, "t0-o0-a0-c0") == STORE_ERR ||
		    store_nonce_redeem(s, nonce, sizeof nonce, 1 + (uint64_t)w->index * PER_THREAD + (uint64_t)i, 100,
		                       1) != STORE_OK)
			w->failures++;
	}
	store_close(s);
	return NULL;
}

static void test_threads(void **state)
{
	struct fx *f = *state;
	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.path = f->spec, .index = i};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < PER_THREAD; i += 7) {
			char id[STORE_ID_MAX];
			char(*ids)[STORE_ID_MAX] = NULL;
			size_t n = 0;
			fill(id, sizeof id, "t%d-acct%d", t, i);
			assert_int_equal(store_order_list(f->s, id, 0, 10, &ids, &n), STORE_OK);
			assert_int_equal(n, 1);
			free(ids);
		}
	}
	/* Every thread tried to start the same challenge; the racing starts left it processing
	 * exactly once. */
	char(*ids)[STORE_ID_MAX] = NULL;
	size_t n = 0;
	assert_int_equal(store_challenge_list_processing(f->s, &ids, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "t0-o0-a0-c0");
	free(ids);
}

/* Several handles (on PostgreSQL: several instances) racing on the same rows, released
 * together by a barrier each round: one finalize wins the order's compare-and-set, one
 * certificate is stored for it, a serial is reserved once, a nonce is redeemed once. */
#define RACERS 6
#define RACE_ROUNDS 10

struct racer {
	const char *spec;
	int index;
	pthread_barrier_t *bar;
	int errors;
	int cas_ok[RACE_ROUNDS], serial_ok[RACE_ROUNDS], cert_ok[RACE_ROUNDS], nonce_ok[RACE_ROUNDS];
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct store *s = NULL;
	char err[256];
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	int ok = store_open(r->spec, &s, err, sizeof err) == STORE_OK;
	if (!ok)
		r->errors++;
	for (int k = 0; k < RACE_ROUNDS; k++) {
		char oid[STORE_ID_MAX], mine[STORE_ID_MAX], common[STORE_ID_MAX];
		unsigned char nonce[16] = "race-nonce";
		nonce[12] = (unsigned char)k;
		snprintf(oid, sizeof oid, "race-o%d", k);
		snprintf(mine, sizeof mine, "%02x%02x", k, r->index + 1);
		snprintf(common, sizeof common, "ff%02x", k);
		int rc;
		pthread_barrier_wait(r->bar);
		if (!ok)
			continue;
		rc = store_order_set_status(s, oid, "pending", "processing", NULL);
		r->cas_ok[k] = rc == STORE_OK;
		r->errors += rc != STORE_OK && rc != STORE_CONFLICT;
		pthread_barrier_wait(r->bar);
		rc = store_serial_reserve(s, common, oid, 10);
		r->serial_ok[k] = rc == STORE_OK;
		r->errors += rc != STORE_OK && rc != STORE_CONFLICT;
		r->errors += store_serial_reserve(s, mine, oid, 10) != STORE_OK;
		pthread_barrier_wait(r->bar);
		struct store_cert c;
		fill_cert(&c, mine, "racer", oid, der, sizeof der);
		rc = store_cert_insert_for_order(s, &c);
		r->cert_ok[k] = rc == STORE_OK;
		r->errors += rc != STORE_OK && rc != STORE_CONFLICT;
		pthread_barrier_wait(r->bar);
		rc = store_nonce_redeem(s, nonce, sizeof nonce, 1 + (uint64_t)k, 5000, 100);
		r->nonce_ok[k] = rc == STORE_OK;
		r->errors += rc != STORE_OK && rc != STORE_CONFLICT;
	}
	store_close(s);
	return NULL;
}

static void test_races(void **state)
{
	struct fx *f = *state;
	pthread_t th[RACERS];
	struct racer r[RACERS];
	pthread_barrier_t bar;
	assert_int_equal(add_account(f->s, "racer", "tp-racer", 1), STORE_OK);
	for (int k = 0; k < RACE_ROUNDS; k++) {
		char oid[STORE_ID_MAX];
		fill(oid, sizeof oid, "race-o%d", k);
		assert_int_equal(add_order(f->s, "racer", oid, 100, 1, NULL, 0), STORE_OK);
	}
	assert_int_equal(pthread_barrier_init(&bar, NULL, RACERS), 0);
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){.spec = f->spec, .index = i, .bar = &bar};
		assert_int_equal(pthread_create(&th[i], NULL, racer_main, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].errors, 0);
	}
	pthread_barrier_destroy(&bar);
	for (int k = 0; k < RACE_ROUNDS; k++) {
		int cas = 0, serial = 0, cert = 0, nonce = 0;
		for (int i = 0; i < RACERS; i++) {
			cas += r[i].cas_ok[k];
			serial += r[i].serial_ok[k];
			cert += r[i].cert_ok[k];
			nonce += r[i].nonce_ok[k];
		}
		assert_int_equal(cas, 1);
		assert_int_equal(serial, 1);
		assert_int_equal(cert, 1);
		assert_int_equal(nonce, 1);
		/* The order points at the one certificate that was stored. */
		char oid[STORE_ID_MAX];
		struct store_order o;
		struct store_cert c;
		fill(oid, sizeof oid, "race-o%d", k);
		assert_int_equal(store_order_get(f->s, oid, &o), STORE_OK);
		assert_string_equal(o.status, "valid");
		assert_int_equal(store_cert_get(f->s, o.cert_serial, &c), STORE_OK);
		assert_string_equal(c.order_id, oid);
		store_cert_clear(&c);
		store_order_clear(&o);
	}
}

int main(void)
{
#ifdef STORE_PG_SUITE
	pg_url = getenv("COBBLE_TEST_PG");
	if (!pg_url || !*pg_url) {
		printf("COBBLE_TEST_PG is not set: PostgreSQL conformance run skipped\n");
		return 77;
	}
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_specs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_insert_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_insert_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_insert_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_set_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authz_set_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_finish_after_deactivation, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_challenge_list_processing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_challenge_start_leased, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authz_valid_for, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authz_find_reusable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_insert_for_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_processing_until, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_lean_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serials_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_list_revoked_backends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_redeem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonce_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_races, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_incr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_replace_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_durable_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
