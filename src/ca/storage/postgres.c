/* The PostgreSQL backend of store.h: one libpq connection per handle with every statement
 * prepared on connect, reconnect on the next call after the server went away, migrations
 * applied only by `cobbled migrate`, and the redeemed-nonce set in an UNLOGGED table. */
#include "log.h"
#include "postgres_certs.h"
#include "postgres_orders.h"
#include "postgres_query.h"
#include "store_backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Serialises concurrent `cobbled migrate` runs (pg_advisory_xact_lock key: "cobbleMG"). */
#define MIGRATE_LOCK_KEY "7161779127616324423"
/* Expired nonce ids are deleted every this many redemptions on a handle. */
#define NONCE_PRUNE_EVERY 1000

/* ---- open, close, migrate ---- */

static void pg_close(struct store *s)
{
	struct pg_store *q = pgq_of(s);
	if (q->conn)
		PQfinish(q->conn);
	free(q->conninfo);
	free(q);
}

static int pg_open(const char *conninfo, struct store **out, char *err, size_t errlen)
{
	struct pg_store *q = calloc(1, sizeof *q);
	err[0] = '\0';
	if (!q || !(q->conninfo = strdup(conninfo))) {
		snprintf(err, errlen, "storage: out of memory");
		free(q);
		return STORE_ERR;
	}
	q->base.ops = &store_postgres_ops;
	if (pqlib_load(err, errlen) != 0 || pgq_connect(q, err, errlen) != STORE_OK) {
		pg_close(&q->base);
		return STORE_ERR;
	}
	*out = &q->base;
	return STORE_OK;
}

/* Applies the missing migrations in one transaction under an advisory lock, so two
 * `cobbled migrate` runs (or a migrate racing a deploy) apply each version once. */
int store_postgres_migrate(const char *conninfo, char *err, size_t errlen)
{
	struct pg_store q = {.conninfo = (char *)conninfo};
	long have = 0;
	int rc = STORE_ERR;
	size_t want = store_postgres_migrations_count;

	err[0] = '\0';
	if (pqlib_load(err, errlen) != 0)
		return STORE_ERR;
	q.conn = PQconnectdb(conninfo);
	if (!q.conn || PQstatus(q.conn) != CONNECTION_OK) {
		pgq_conn_error(&q, "cannot connect", err, errlen);
		goto out;
	}
	PGresult *r = PQexec(q.conn, "SET client_min_messages = warning; BEGIN;"
	                             " SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ");"
	                             " CREATE TABLE IF NOT EXISTS cobble_schema ("
	                             " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok || pgq_schema_version(&q, &have) != STORE_OK) {
		pgq_conn_error(&q, "migrations", err, errlen);
		goto out;
	}
	if (have < 0 || (size_t)have > want) {
		snprintf(err, errlen,
		         "storage: postgres: database schema version %ld is newer than this cobbled (%zu)",
		         have, want);
		goto out;
	}
	for (size_t v = (size_t)have; v < want; v++) {
		r = PQexec(q.conn, store_postgres_migrations[v]);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok) {
			const char *m = PQresultErrorMessage(r);
			snprintf(err, errlen, "storage: postgres: migration %zu: %.*s", v + 1,
			         (int)strcspn(m, "\n"), m);
		}
		PQclear(r);
		if (!ok)
			goto out;
		char sql[128];
		snprintf(sql, sizeof sql,
		         "INSERT INTO cobble_schema (version, applied_at)"
		         " VALUES (%zu, extract(epoch FROM now())::bigint)",
		         v + 1);
		if (pgq_simple(&q, sql) != STORE_OK) {
			pgq_conn_error(&q, "recording the schema version", err, errlen);
			goto out;
		}
		log_info("store: applied postgres migration %zu", v + 1);
	}
	if (pgq_simple(&q, "COMMIT") != STORE_OK) {
		pgq_conn_error(&q, "commit migrations", err, errlen);
		goto out;
	}
	rc = STORE_OK;
out:
	if (q.conn)
		PQfinish(q.conn);
	return rc;
}

static int pg_unavailable(struct store *s)
{
	return pgq_of(s)->lost;
}

/* ---- accounts ---- */

static int read_account(PGresult *r, struct store_account *a)
{
	if (PGQ_COPY(r, 0, a->id) || PGQ_COPY(r, 1, a->thumbprint) || pgq_col_dup(r, 0, 2, &a->jwk) ||
	    pgq_col_dup(r, 0, 3, &a->contact) || PGQ_COPY(r, 4, a->status))
		return STORE_ERR;
	a->tos_agreed = (int)pgq_col_i64(r, 0, 5);
	a->created_at = pgq_col_i64(r, 0, 6);
	return STORE_OK;
}

static int pg_account_insert(struct store *s, const struct store_account *a)
{
	return pgq_run(pgq_of(s), ST_ACCOUNT_INSERT, NULL, "tttttiI", a->id, a->thumbprint, a->jwk,
	               a->contact ? a->contact : "[]", a->status, a->tos_agreed ? 1 : 0, a->created_at);
}

static int account_get_by(struct pg_store *q, enum stmt_id id, const char *key,
                          struct store_account *out)
{
	int rc;
	PGresult *r = pgq_row(q, id, &rc, key);
	if (r)
		rc = read_account(r, out);
	PQclear(r);
	return rc;
}

static int pg_account_get(struct store *s, const char *id, struct store_account *out)
{
	return account_get_by(pgq_of(s), ST_ACCOUNT_GET, id, out);
}

static int pg_account_by_thumbprint(struct store *s, const char *tp, struct store_account *out)
{
	return account_get_by(pgq_of(s), ST_ACCOUNT_BY_THUMBPRINT, tp, out);
}

static int pg_account_update(struct store *s, const struct store_account *a)
{
	int changes = 0;
	int rc = pgq_run(pgq_of(s), ST_ACCOUNT_UPDATE, &changes, "ttttt", a->id,
	                 a->contact ? a->contact : "[]", a->status, a->jwk, a->thumbprint);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_NOTFOUND;
	return rc;
}

/* ---- nonces and metadata ---- */

static int pg_nonce_redeem(struct store *s, const unsigned char *id, size_t len, uint64_t seq,
                           int64_t expires, int64_t now)
{
	(void)seq; /* repeats across instances: the id (which holds it and random bits) is the key */
	struct pg_store *q = pgq_of(s);
	int changes = 0;
	if (++q->nonce_count % NONCE_PRUNE_EVERY == 0 &&
	    pgq_run(q, ST_NONCE_PRUNE, NULL, "I", now) != STORE_OK)
		log_warn("store: postgres: pruning expired nonces failed");
	int rc = pgq_run(q, ST_NONCE_REDEEM, &changes, "bII", (const void *)id, len, expires, now);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_CONFLICT;
	return rc;
}

static int pg_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
	int rc;
	PGresult *r = pgq_row(pgq_of(s), ST_META_GET, &rc, key);
	if (r)
		rc = pgq_col_copy(r, 0, 0, out, outlen);
	PQclear(r);
	return rc;
}

static int pg_meta_insert(struct store *s, const char *key, const char *value)
{
	return pgq_run(pgq_of(s), ST_META_INSERT, NULL, "tt", key, value);
}

static int pg_meta_incr(struct store *s, const char *key, int64_t *out)
{
	int rc;
	PGresult *r = pgq_query(pgq_of(s), ST_META_INCR, &rc, "t", key);
	if (r && PQntuples(r) == 1)
		*out = pgq_col_i64(r, 0, 0);
	else if (r)
		rc = STORE_ERR;
	PQclear(r);
	return rc;
}

static int pg_meta_set(struct store *s, const char *key, const char *value)
{
	return pgq_run(pgq_of(s), ST_META_SET, NULL, "tt", key, value);
}

/* ---- locks ---- */

static int lock_call(struct store *s, enum stmt_id id, const char *name, int miss)
{
	int rc;
	PGresult *r = pgq_row(pgq_of(s), id, &rc, name);
	if (r)
		rc = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? STORE_OK : miss;
	PQclear(r);
	return rc;
}

static int pg_lock_try(struct store *s, const char *name)
{
	return lock_call(s, ST_LOCK_TRY, name, STORE_CONFLICT);
}

static int pg_lock_release(struct store *s, const char *name)
{
	return lock_call(s, ST_LOCK_RELEASE, name, STORE_NOTFOUND);
}

const struct store_ops store_postgres_ops = {
	.name = "postgres",
	.open = pg_open,
	.close = pg_close,
	.account_insert = pg_account_insert,
	.account_get = pg_account_get,
	.account_by_thumbprint = pg_account_by_thumbprint,
	.account_update = pg_account_update,
	.authz_get = pgo_authz_get,
	.challenge_get = pgo_challenge_get,
	.authz_set_status = pgo_authz_set_status,
	.authz_valid_for = pgo_authz_valid_for,
	.authz_find_reusable = pgo_authz_find_reusable,
	.challenge_start = pgo_challenge_start,
	.challenge_finish = pgo_challenge_finish,
	.challenge_list_processing = pgo_challenge_list_processing,
	.challenge_claim = pgo_challenge_claim,
	.order_insert = pgo_order_insert,
	.order_get = pgo_order_get,
	.order_list = pgo_order_list,
	.order_set_status = pgo_order_set_status,
	.order_start_processing = pgo_order_start_processing,
	.order_fail_interrupted = pgo_order_fail_interrupted,
	.serial_reserve = pgc_serial_reserve,
	.serials_reserve = pgc_serials_reserve,
	.cert_insert_for_order = pgc_cert_insert_for_order,
	.cert_get = pgc_cert_get,
	.cert_revoke = pgc_cert_revoke,
	.cert_list_revoked = pgc_cert_list_revoked,
	.nonce_redeem = pg_nonce_redeem,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.meta_incr = pg_meta_incr,
	.meta_insert = pg_meta_insert,
	.unavailable = pg_unavailable,
	.lock_try = pg_lock_try,
	.lock_release = pg_lock_release,
};
