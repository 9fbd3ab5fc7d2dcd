/* The SQLite backend of store.h: one connection per database file and process, shared by its
 * handles one store call at a time (WAL, foreign keys), commits made durable by a group commit
 * of the WAL, migrations at open, cached prepared statements, and the in-memory
 * redeemed-nonce window. The per-file state (the shared connection, the nonce window, the
 * group commit, the checkpoints, the named locks) is sqlite_file.c's; the statements and
 * their plumbing are sqlite_query.c's; orders, authorizations and challenges are
 * sqlite_orders.c's, serials and certificates sqlite_certs.c's. This file opens and migrates,
 * keeps accounts, nonces and metadata, and the table of operations. */
#include "log.h"
#include "sqlite_certs.h"
#include "sqlite_file.h"
#include "sqlite_orders.h"
#include "sqlite_query.h"
#include "store_backend.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated from migrations/sqlite/NNN_*.sql by tools/embed.py, in file-name order. */
extern const char *const store_sqlite_migrations[];
extern const size_t store_sqlite_migrations_count;

/* After every commit in WAL mode, with SQLite's write lock already released. A durable commit
 * (not relaxed) makes its store call wait for the WAL sync in sq_leave, and a WAL past the
 * checkpoint threshold asks the file's checkpoint thread for a checkpoint there
 * (sqf_wal_commit). */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_file *f = arg;
	(void)db;
	(void)name;
	if (f->cur && !f->cur->relaxed)
		f->cur->need_sync = 1;
	sqf_wal_commit(f, pages);
	return SQLITE_OK;
}

/* ---- open, close, migrations ---- */

/* Named locks (store_lock_try): sqlite_file.c's table, keyed by the file. */
static int sq_lock_try(struct store *s, const char *name)
{
	return sqf_lock_try(sqq_of(s)->f, s, name);
}

static int sq_lock_release(struct store *s, const char *name)
{
	return sqf_lock_drop(s, name);
}

/* The last handle of a file closes the shared connection (sqf_release). */
static void sq_close(struct store *s)
{
	struct sqlite_store *q = sqq_of(s);
	sqf_lock_drop(s, NULL);
	if (q->f) {
		sqf_sync_forget(q->f, s);
		sqf_release(q->f);
	} else if (q->db && sqlite3_close(q->db) != SQLITE_OK) {
		/* open failed before the handle joined its file */
		log_error("store: sqlite: close: %s", sqlite3_errmsg(q->db));
	}
	free(q);
}

/* store.c brackets every store call on a handle with these: one call at a time on the
 * shared connection, then (without it) the WAL sync a durable commit waits for and any
 * checkpoint due (sqf_enter, sqf_leave). */
static void sq_enter(struct store *s)
{
	struct sqlite_store *q = sqq_of(s);
	sqf_enter(q->f, q);
}

static int sq_leave(struct store *s, int rc)
{
	struct sqlite_store *q = sqq_of(s);
	int sync = q->need_sync;
	q->need_sync = 0;
	q->relaxed = 0;
	return sqf_leave(q->f, sync, q->defer_sync ? &q->ticket : NULL, rc);
}

static void sq_sync_defer(struct store *s, int on)
{
	sqq_of(s)->defer_sync = on;
}

static uint64_t sq_sync_ticket(struct store *s)
{
	struct sqlite_store *q = sqq_of(s);
	uint64_t t = q->ticket;
	q->ticket = 0;
	return t;
}

static void sq_sync_notify(struct store *s, struct store_sync_waiter *w)
{
	sqf_sync_notify(sqq_of(s)->f, w);
}

static int bump_schema_version(struct sqlite_store *q)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(q->db, "PRAGMA schema_version", -1, &st, NULL) == SQLITE_OK &&
	         sqlite3_step(st) == SQLITE_ROW;
	sqlite3_int64 v = ok ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA schema_version = %lld", (long long)v + 1);
	return ok && sqlite3_exec(q->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int migrate(struct sqlite_store *q, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *msg = NULL;
	int rc = STORE_ERR;
	size_t want = store_sqlite_migrations_count;

	/* IMMEDIATE: two processes opening a fresh file must not both migrate it. */
	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	sqlite3_int64 have = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (have < 0 || (size_t)have > want) {
		snprintf(err, errlen,
		         "storage: database schema version %lld is newer than this cobbled (%zu)",
		         (long long)have, want);
		goto out;
	}
	for (size_t v = (size_t)have; v < want; v++) {
		if (sqlite3_exec(q->db, store_sqlite_migrations[v], NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "storage: migration %zu: %s", v + 1,
			         msg ? msg : sqlite3_errmsg(q->db));
			goto out;
		}
		log_info("store: applied sqlite migration %zu", v + 1);
		/* A migration that edited the stored schema (writable_schema, as SQLite's
		 * documentation has it for changing CHECK constraints) must raise schema_version
		 * so that every connection, this one included, reads the schema again. */
		if (strstr(store_sqlite_migrations[v], "writable_schema") && bump_schema_version(q) != 0) {
			snprintf(err, errlen, "storage: migration %zu: cannot raise schema_version: %s", v + 1,
			         sqlite3_errmsg(q->db));
			goto out;
		}
	}
	if ((size_t)have < want) {
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", want);
		if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK)
			goto out;
	}
	if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto out;
	rc = STORE_OK;
out:
	if (rc != STORE_OK) {
		if (!err[0])
			snprintf(err, errlen, "storage: migrations: %s", msg ? msg : sqlite3_errmsg(q->db));
		if (!sqlite3_get_autocommit(q->db))
			sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	sqlite3_free(msg);
	return rc;
}

/* Runs a PRAGMA that answers with one text row and checks the answer. */
static int pragma(struct sqlite_store *q, const char *sql, const char *expect)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) == SQLITE_OK &&
	         sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
	         strcmp((const char *)sqlite3_column_text(st, 0), expect) == 0;
	sqlite3_finalize(st);
	return ok ? STORE_OK : STORE_ERR;
}

static int sq_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct sqlite_store *q = NULL;
	int rc = STORE_ERR;

	err[0] = '\0';
	if (!sqlite3_threadsafe()) {
		snprintf(err, errlen, "storage: this SQLite library is built without thread support");
		goto out;
	}
	q = calloc(1, sizeof *q);
	if (!q) {
		snprintf(err, errlen, "storage: out of memory");
		goto out;
	}
	q->base.ops = &store_sqlite_ops;
	/* NOMUTEX: the connection is only used under its file's conn_mu (sq_enter). */
	int r = sqlite3_open_v2(path, &q->db,
	                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (r != SQLITE_OK) {
		snprintf(err, errlen, "storage: cannot open %s: %s", path,
		         q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(r));
		goto out;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, SQF_BUSY_TIMEOUT_MS);
	if (pragma(q, "PRAGMA journal_mode = WAL", "wal") != STORE_OK) {
		snprintf(err, errlen, "storage: cannot put %s in WAL mode: %s", path,
		         sqlite3_errmsg(q->db));
		goto out;
	}
	/* Migrations commit with FULL (fsynced each); afterwards NORMAL, with durability from the
	 * group commit in on_wal_commit, so an issued certificate survives a power cut once
	 * store_cert_insert_for_order returns (design.md §4). */
	if (sqlite3_exec(q->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL,
	                 NULL) != SQLITE_OK ||
	    pragma(q, "PRAGMA foreign_keys", "1") != STORE_OK) {
		snprintf(err, errlen, "storage: %s: cannot set pragmas: %s", path, sqlite3_errmsg(q->db));
		goto out;
	}
	if (migrate(q, err, errlen) != STORE_OK)
		goto out;
	if (sqlite3_exec(q->db, "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -2048", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "storage: %s: cannot set pragmas: %s", path, sqlite3_errmsg(q->db));
		goto out;
	}
	const char *file = sqlite3_db_filename(q->db, "main");
	/* q->db becomes the file's connection or is closed: the handle uses the file's. */
	struct sq_file *f = sqf_join(file && *file ? file : path, q->db, ST__COUNT, on_wal_commit);
	if (!f) {
		snprintf(err, errlen, "storage: out of memory");
		goto out;
	}
	q->db = f->db;
	q->st = f->st;
	q->f = f;
	*out = &q->base;
	rc = STORE_OK;
out:
	if (rc != STORE_OK && q)
		sq_close(&q->base);
	return rc;
}

/* ---- accounts ---- */

static int read_account(sqlite3_stmt *st, struct store_account *a)
{
	if (SQQ_COPY(st, 0, a->id) || SQQ_COPY(st, 1, a->thumbprint) || sqq_col_dup(st, 2, &a->jwk) ||
	    sqq_col_dup(st, 3, &a->contact) || SQQ_COPY(st, 4, a->status))
		return STORE_ERR;
	a->tos_agreed = sqlite3_column_int(st, 5);
	a->created_at = sqlite3_column_int64(st, 6);
	return STORE_OK;
}

static int sq_account_insert(struct store *s, const struct store_account *a)
{
	return sqq_run(sqq_of(s), ST_ACCOUNT_INSERT, NULL, "tttttiI", a->id, a->thumbprint, a->jwk,
	               a->contact ? a->contact : "[]", a->status, a->tos_agreed ? 1 : 0, a->created_at);
}

static int account_get_by(struct sqlite_store *q, enum stmt_id id, const char *key,
                          struct store_account *out)
{
	sqlite3_stmt *st = sqq_query(q, id, "t", key);
	int rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc == STORE_OK)
		rc = read_account(st, out);
	sqq_release(st);
	if (rc == STORE_OK) /* under conn_mu: no update can come between the read and this */
		acctcache_put(q->f->accounts, out);
	return rc;
}

static int sq_account_cached(struct store *s, const char *id, struct store_account *out)
{
	return acctcache_get(sqq_of(s)->f->accounts, id, out) ? STORE_OK : STORE_NOTFOUND;
}

static int sq_account_get(struct store *s, const char *id, struct store_account *out)
{
	return account_get_by(sqq_of(s), ST_ACCOUNT_GET, id, out);
}

static int sq_account_by_thumbprint(struct store *s, const char *tp, struct store_account *out)
{
	return account_get_by(sqq_of(s), ST_ACCOUNT_BY_THUMBPRINT, tp, out);
}

static int sq_account_update(struct store *s, const struct store_account *a)
{
	int changes = 0;
	acctcache_forget(sqq_of(s)->f->accounts, a->id); /* whatever the outcome */
	int rc = sqq_run(sqq_of(s), ST_ACCOUNT_UPDATE, &changes, "ttttt", a->id,
	                 a->contact ? a->contact : "[]", a->status, a->jwk, a->thumbprint);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_NOTFOUND;
	return rc;
}

/* ---- nonces and metadata ---- */

static int sq_nonce_redeem(struct store *s, const unsigned char *id, size_t len, uint64_t seq,
                           int64_t expires, int64_t now)
{
	(void)id;
	(void)len;
	(void)expires;
	(void)now;
	return sqf_nonce_redeem(sqq_of(s)->f, seq);
}

static int sq_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = sqq_query(q, ST_META_GET, "t", key);
	int rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc == STORE_OK)
		rc = sqq_col_copy(st, 0, out, outlen);
	sqq_release(st);
	return rc;
}

static int sq_meta_insert(struct store *s, const char *key, const char *value)
{
	return sqq_run(sqq_of(s), ST_META_INSERT, NULL, "tt", key, value);
}

static int sq_meta_incr(struct store *s, const char *key, int64_t *out)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = sqq_query(q, ST_META_INCR, "t", key);
	int rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc == STORE_OK)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == STORE_NOTFOUND)
		rc = STORE_ERR;
	sqq_release(st); /* the autocommit ends here */
	return rc;
}

static int sq_meta_set(struct store *s, const char *key, const char *value)
{
	return sqq_run(sqq_of(s), ST_META_SET, NULL, "tt", key, value);
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.account_insert = sq_account_insert,
	.account_get = sq_account_get,
	.account_by_thumbprint = sq_account_by_thumbprint,
	.account_update = sq_account_update,
	.account_cached = sq_account_cached,
	.sync_defer = sq_sync_defer,
	.sync_ticket = sq_sync_ticket,
	.sync_notify = sq_sync_notify,
	.authz_get = sqo_authz_get,
	.challenge_get = sqo_challenge_get,
	.authz_set_status = sqo_authz_set_status,
	.challenge_start = sqo_challenge_start,
	.challenge_finish = sqo_challenge_finish,
	.challenge_list_processing = sqo_challenge_list_processing,
	.challenge_claim = sqo_challenge_claim,
	.order_insert = sqo_order_insert,
	.order_get = sqo_order_get,
	.order_list = sqo_order_list,
	.order_set_status = sqo_order_set_status,
	.order_start_processing = sqo_order_start_processing,
	.order_fail_interrupted = sqo_order_fail_interrupted,
	.serial_reserve = sqc_serial_reserve,
	.serials_reserve = sqc_serials_reserve,
	.cert_insert_for_order = sqc_cert_insert_for_order,
	.cert_get = sqc_cert_get,
	.cert_revoke = sqc_cert_revoke,
	.cert_list_revoked = sqc_cert_list_revoked,
	.authz_valid_for = sqo_authz_valid_for,
	.authz_find_reusable = sqo_authz_find_reusable,
	.nonce_redeem = sq_nonce_redeem,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.meta_incr = sq_meta_incr,
	.meta_insert = sq_meta_insert,
	.lock_try = sq_lock_try,
	.enter = sq_enter,
	.leave = sq_leave,
	.lock_release = sq_lock_release,
};
