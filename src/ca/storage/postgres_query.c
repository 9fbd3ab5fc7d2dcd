/* The PostgreSQL backend's statements and the plumbing its parts share (postgres_query.h). */
#include "postgres_query.h"
#include "log.h"
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 12

#define ACCOUNT_COLS "id, thumbprint, jwk, contact, status, tos_agreed, created_at"
#define AUTHZ_COLS "id, account_id, ident_type, ident_value, wildcard, status, expires, created_at"
#define CHALL_COLS "id, authz_id, type, token, status, validated_at, error, record"
#define ORDER_COLS                                                                               \
	"id, account_id, status, expires, created_at, not_before, not_after, identifiers, error, " \
	"cert_serial"
#define CERT_COLS                                                                                \
	"serial, account_id, order_id, der, issued_at, not_before, not_after, revoked_at, "        \
	"revoked_reason"

/* The same statements as sqlite_query.c, in PostgreSQL's dialect. */
static const char *const stmt_sql[ST__COUNT] = {
	[ST_ACCOUNT_INSERT] = "INSERT INTO accounts (" ACCOUNT_COLS ")"
	                      " VALUES ($1, $2, $3, $4, $5, $6, $7)",
	[ST_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1",
	[ST_ACCOUNT_BY_THUMBPRINT] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE thumbprint = $1",
	[ST_ACCOUNT_UPDATE] = "UPDATE accounts SET contact = $2, status = $3, jwk = $4,"
	                      " thumbprint = $5 WHERE id = $1",
	[ST_AUTHZ_INSERT] = "INSERT INTO authzs (" AUTHZ_COLS ")"
	                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	[ST_AUTHZ_GET] = "SELECT " AUTHZ_COLS " FROM authzs WHERE id = $1",
	[ST_AUTHZ_EXISTS] = "SELECT 1 FROM authzs WHERE id = $1",
	[ST_AUTHZ_SET_STATUS] = "UPDATE authzs SET status = $3 WHERE id = $1 AND status = $2",
	[ST_AUTHZ_FINISH] = "UPDATE authzs SET status = $2, expires = CASE WHEN $3::bigint > 0"
	                    " THEN $3::bigint ELSE expires END WHERE status = 'pending'"
	                    " AND id = (SELECT authz_id FROM challenges WHERE id = $1)",
	[ST_CHALL_INSERT] = "INSERT INTO challenges (position, " CHALL_COLS ")"
	                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	[ST_CHALL_GET] = "SELECT " CHALL_COLS " FROM challenges WHERE id = $1",
	[ST_CHALLS_OF_AUTHZ] = "SELECT " CHALL_COLS " FROM challenges WHERE authz_id = $1"
	                       " ORDER BY position",
	[ST_CHALL_EXISTS] = "SELECT 1 FROM challenges WHERE id = $1",
	/* RFC 8555 §7.5.1: only a pending challenge of a pending authorization starts. Under READ
	 * COMMITTED a racing UPDATE waits for the first and re-checks the row: one winner. */
	[ST_CHALL_START] = "UPDATE challenges SET status = 'processing', lease_owner = $2, lease_until = $3"
	                   " WHERE id = $1 AND status = 'pending' AND (SELECT a.status FROM authzs a"
	                   " WHERE a.id = challenges.authz_id) = 'pending'",
	[ST_CHALL_FINISH] = "UPDATE challenges SET status = $2, validated_at = $3, error = $4,"
	                    " record = $5 WHERE id = $1 AND status = 'processing'",
	[ST_CHALL_PROCESSING] = "SELECT id FROM challenges WHERE status = 'processing'"
	                        " ORDER BY id COLLATE \"C\"",
	/* Leases (store_challenge_claim). A racing claim waits for the first to commit and then
	 * finds the lease running; SKIP LOCKED lets sweepers on several instances take different
	 * expired challenges instead of queueing on one row. */
	[ST_CHALL_CLAIM] = "UPDATE challenges SET lease_owner = $2, lease_until = $3"
	                   " WHERE id = $1 AND status = 'processing'"
	                   " AND (lease_until <= $4 OR lease_owner = $2)",
	[ST_CHALL_CLAIM_ANY] = "UPDATE challenges SET lease_owner = $1, lease_until = $2"
	                       " WHERE id = (SELECT id FROM challenges WHERE status = 'processing'"
	                       " AND lease_until <= $3 ORDER BY lease_until, id COLLATE \"C\" LIMIT 1"
	                       " FOR UPDATE SKIP LOCKED)"
	                       " AND status = 'processing' AND lease_until <= $3 RETURNING id",
	[ST_ORDER_INSERT] = "INSERT INTO orders (" ORDER_COLS ")"
	                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	/* Only the order's own account's authorizations may be linked to it. */
	[ST_ORDER_LINK] = "INSERT INTO order_authzs (order_id, authz_id, position)"
	                  " SELECT $1::text, id, $3::integer FROM authzs"
	                  " WHERE id = $2 AND account_id = $4",
	[ST_ORDER_GET] = "SELECT " ORDER_COLS ", processing_until FROM orders WHERE id = $1",
	[ST_ORDER_AUTHZ_IDS] = "SELECT authz_id FROM order_authzs WHERE order_id = $1"
	                       " ORDER BY position",
	[ST_ORDER_LIST] = "SELECT id FROM orders WHERE account_id = $1"
	                  " ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3",
	[ST_ORDER_EXISTS] = "SELECT 1 FROM orders WHERE id = $1",
	[ST_ORDER_SET_STATUS] = "UPDATE orders SET status = $3, error = $4 WHERE id = $1"
	                        " AND status = $2",
	/* Finalize: processing_until bounds the finalize (orders.c); an order still processing
	 * after it is failed by the compare-and-set below, which a stored certificate (valid) or
	 * a finalize that may still run (a later processing_until) makes miss. */
	[ST_ORDER_START_PROCESSING] = "UPDATE orders SET status = 'processing', processing_until = $2"
	                              " WHERE id = $1 AND status = 'pending'",
	[ST_ORDER_FAIL_INTERRUPTED] = "UPDATE orders SET status = 'invalid', error = $3 WHERE id = $1"
	                              " AND status = 'processing' AND processing_until <= $2",
	[ST_ORDER_ISSUED] = "UPDATE orders SET status = 'valid', cert_serial = $2"
	                    " WHERE id = $1 AND status = 'processing' AND account_id = $3",
	[ST_SERIAL_INSERT] = "INSERT INTO serials (serial, order_id, reserved_at) VALUES ($1, $2, $3)",
	[ST_SERIAL_ORDER] = "SELECT order_id FROM serials WHERE serial = $1",
	[ST_SERIAL_POOL_ADD] = "INSERT INTO serial_reserve (serial, reserved_at) SELECT $1::text, $2::bigint"
	                       " WHERE NOT EXISTS (SELECT 1 FROM serials WHERE serial = $1::text)",
	[ST_SERIAL_POOL_TAKE] = "DELETE FROM serial_reserve WHERE serial = $1 RETURNING reserved_at",
	[ST_CERT_INSERT] = "INSERT INTO certs (" CERT_COLS ")"
	                   " VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0)",
	[ST_CERT_GET] = "SELECT " CERT_COLS " FROM certs WHERE serial = $1",
	[ST_CERT_EXISTS] = "SELECT 1 FROM certs WHERE serial = $1",
	[ST_CERT_REVOKE] = "UPDATE certs SET revoked_at = $2, revoked_reason = $3"
	                   " WHERE serial = $1 AND revoked_at = 0",
	/* COLLATE "C": byte order, as SQLite sorts, whatever the database's locale. */
	[ST_CERT_LIST_REVOKED] = "SELECT serial, revoked_at, revoked_reason FROM certs"
	                         " WHERE revoked_at != 0 AND not_after >= $1"
	                         " ORDER BY serial COLLATE \"C\"",
	[ST_AUTHZ_VALID_FOR] = "SELECT 1 FROM authzs WHERE account_id = $1 AND ident_type = 'dns'"
	                       " AND ident_value = $2 AND status = 'valid' AND expires > $3 LIMIT 1",
	/* Authorization reuse: served by the authzs_valid index (migration 6). */
	[ST_AUTHZ_REUSABLE] = "SELECT a.id FROM authzs a WHERE a.account_id = $1 AND a.ident_type = $2"
	                      " AND a.ident_value = $3 AND a.status = 'valid' AND a.expires > $5::bigint"
	                      " AND a.wildcard = $4::integer AND EXISTS (SELECT 1 FROM challenges c"
	                      " WHERE c.authz_id = a.id AND c.status = 'valid'"
	                      " AND c.validated_at >= $6::bigint)"
	                      " ORDER BY a.expires DESC, a.id COLLATE \"C\" LIMIT 1",
	/* design.md §4: a row comes back only for the first redemption (or one of an id whose
	 * earlier redemption has expired, which could not verify any more anyway). */
	[ST_NONCE_REDEEM] = "INSERT INTO nonces (id, expires) VALUES ($1, $2)"
	                    " ON CONFLICT (id) DO UPDATE SET expires = excluded.expires"
	                    " WHERE nonces.expires < $3 RETURNING 1",
	[ST_NONCE_PRUNE] = "DELETE FROM nonces WHERE expires < $1",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = $1",
	[ST_META_SET] = "INSERT INTO meta (key, value) VALUES ($1, $2)"
	                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_META_INSERT] = "INSERT INTO meta (key, value) VALUES ($1, $2)",
	/* One statement: a racing increment waits on the row lock and adds to the new value. */
	[ST_META_INCR] = "INSERT INTO meta (key, value) VALUES ($1, '1') ON CONFLICT (key)"
	                 " DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value",
	/* Session-level advisory locks on a 64-bit hash of the name: held until released or
	 * until the connection ends, so a crashed instance cannot keep one. */
	[ST_LOCK_TRY] = "SELECT pg_try_advisory_lock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)",
	[ST_LOCK_RELEASE] = "SELECT pg_advisory_unlock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)",
};

struct pg_store *pgq_of(struct store *s)
{
	return (struct pg_store *)s;
}

/* ---- connection ---- */

void pgq_conn_error(struct pg_store *q, const char *what, char *err, size_t errlen)
{
	const char *m = q->conn ? PQerrorMessage(q->conn) : "out of memory";
	size_t n = strcspn(m, "\n");
	if (err)
		snprintf(err, errlen, "storage: postgres: %s: %.*s", what, (int)n, m);
	else
		log_error("store: postgres: %s: %.*s", what, (int)n, m);
}

/* Server notices (e.g. "you don't own a lock") are answers we already handle. */
static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("store: postgres: %.*s", (int)strcspn(message, "\n"), message);
}

int pgq_schema_version(struct pg_store *q, long *version)
{
	PGresult *r = PQexec(q->conn, "SELECT to_regclass('cobble_schema') IS NOT NULL");
	int rc = STORE_ERR;
	*version = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		goto out;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		rc = STORE_OK;
		goto out;
	}
	PQclear(r);
	r = PQexec(q->conn, "SELECT coalesce(max(version), 0) FROM cobble_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		goto out;
	*version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	rc = STORE_OK;
out:
	PQclear(r);
	return rc;
}

int pgq_connect(struct pg_store *q, char *err, size_t errlen)
{
	long have = 0;
	size_t want = store_postgres_migrations_count;

	q->ready = 0;
	if (q->conn) {
		PQreset(q->conn);
	} else {
		q->conn = PQconnectdb(q->conninfo);
	}
	if (!q->conn || PQstatus(q->conn) != CONNECTION_OK) {
		pgq_conn_error(q, "cannot connect", err, errlen);
		q->lost = 1;
		return STORE_ERR;
	}
	PQsetNoticeProcessor(q->conn, quiet_notice, NULL);
	if (pgq_schema_version(q, &have) != STORE_OK) {
		pgq_conn_error(q, "cannot read the schema version", err, errlen);
		return STORE_ERR;
	}
	if (have < 0 || (size_t)have != want) {
		char msg[200];
		if ((size_t)have > want)
			snprintf(msg, sizeof msg,
			         "database schema version %ld is newer than this cobbled (%zu)", have, want);
		else
			snprintf(msg, sizeof msg,
			         "database schema is at version %ld, this cobbled needs %zu: run "
			         "`cobbled migrate` first",
			         have, want);
		if (err)
			snprintf(err, errlen, "storage: postgres: %s", msg);
		else
			log_error("store: postgres: %s", msg);
		return STORE_ERR;
	}
	for (int i = 0; i < ST__COUNT; i++) {
		char name[16];
		snprintf(name, sizeof name, "c%d", i);
		PGresult *r = PQprepare(q->conn, name, stmt_sql[i], 0, NULL);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (!ok) {
			pgq_conn_error(q, "prepare", err, errlen);
			return STORE_ERR;
		}
	}
	q->ready = 1;
	q->lost = 0;
	return STORE_OK;
}

/* An idle connection has nothing to read; if its socket is readable, the server has
 * closed it (restart, failover: "terminating connection due to administrator command")
 * or sent a notice. Reading it tells which, so a handle that sat idle through a database
 * restart reconnects before its next statement instead of failing that request with 503.
 * Inside a transaction nothing is checked: a lost connection there fails the request. */
static int idle_conn_dead(PGconn *c)
{
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		return 0;
	struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
	if (pfd.fd < 0)
		return 1;
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	/* Reading the server's FATAL message does not yet show the close (PQstatus stays OK
	 * until libpq reads EOF), and cobbled uses no LISTEN/NOTIFY: anything arriving on an
	 * idle connection means it is going away, so reconnect (rare: a connect + prepares). */
	(void)PQconsumeInput(c);
	return 1;
}

/* Called at the start of every operation: a handle whose connection broke reconnects here,
 * so the request after a database restart works again. */
static int ensure(struct pg_store *q)
{
	if (q->ready && PQstatus(q->conn) == CONNECTION_OK && !idle_conn_dead(q->conn))
		return STORE_OK;
	return pgq_connect(q, NULL, 0);
}

/* Maps a failed result to a store code. Constraint failures are answers: unique violation
 * CONFLICT, a missing referenced row NOTFOUND; a lost connection marks the handle for a
 * reconnect; anything else is logged. */
static int fail(struct pg_store *q, PGresult *r, const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state && strcmp(state, "23505") == 0)
		return STORE_CONFLICT;
	if (state && strcmp(state, "23503") == 0)
		return STORE_NOTFOUND;
	if (PQstatus(q->conn) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
	    (state && strncmp(state, "57P", 3) == 0)) {
		q->ready = 0;
		q->lost = 1;
		log_error("store: postgres: connection lost during \"%.60s\"", what);
		return STORE_ERR;
	}
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(q->conn);
	log_error("store: postgres: \"%.60s\": %.*s", what, (int)strcspn(m, "\n"), m);
	return STORE_ERR;
}

/* pgq_query with the parameters as a va_list. */
static PGresult *vexec(struct pg_store *q, enum stmt_id id, int *rc, const char *fmt, va_list ap)
{
	const char *vals[MAX_PARAMS];
	int lens[MAX_PARAMS], fmts[MAX_PARAMS];
	char nums[MAX_PARAMS][24];
	int n = 0;
	char name[16];

	*rc = ensure(q);
	if (*rc != STORE_OK)
		return NULL;
	for (; *fmt && n < MAX_PARAMS; fmt++, n++) {
		lens[n] = 0;
		fmts[n] = 0;
		switch (*fmt) {
		case 't':
		case 'T':
			vals[n] = va_arg(ap, const char *);
			break;
		case 'i':
			snprintf(nums[n], sizeof nums[n], "%d", va_arg(ap, int));
			vals[n] = nums[n];
			break;
		case 'I':
			snprintf(nums[n], sizeof nums[n], "%" PRId64, va_arg(ap, int64_t));
			vals[n] = nums[n];
			break;
		case 'b': {
			vals[n] = va_arg(ap, const char *);
			size_t len = va_arg(ap, size_t);
			if (len > INT32_MAX) {
				*rc = STORE_ERR;
				log_error("store: postgres: parameter of %zu bytes", len);
				return NULL;
			}
			lens[n] = (int)len;
			fmts[n] = 1;
			break;
		}
		default:
			*rc = STORE_ERR;
			log_error("store: postgres: bad parameter format");
			return NULL;
		}
	}
	snprintf(name, sizeof name, "c%d", (int)id);
	PGresult *r = PQexecPrepared(q->conn, name, n, vals, lens, fmts, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	*rc = fail(q, r, stmt_sql[id]);
	PQclear(r);
	return NULL;
}

PGresult *pgq_query(struct pg_store *q, enum stmt_id id, int *rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PGresult *r = vexec(q, id, rc, fmt, ap);
	va_end(ap);
	return r;
}

int pgq_run(struct pg_store *q, enum stmt_id id, int *changes, const char *fmt, ...)
{
	int rc;
	va_list ap;
	va_start(ap, fmt);
	PGresult *r = vexec(q, id, &rc, fmt, ap);
	va_end(ap);
	if (!r)
		return rc;
	if (changes)
		*changes = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r)
		                                                : atoi(PQcmdTuples(r));
	PQclear(r);
	return STORE_OK;
}

PGresult *pgq_row(struct pg_store *q, enum stmt_id id, int *rc, const char *key)
{
	PGresult *r = pgq_query(q, id, rc, "t", key);
	if (r && PQntuples(r) == 0) {
		PQclear(r);
		*rc = STORE_NOTFOUND;
		return NULL;
	}
	return r;
}

int pgq_cas_missed(struct pg_store *q, enum stmt_id exists_id, const char *key)
{
	int rc;
	PGresult *r = pgq_row(q, exists_id, &rc, key);
	PQclear(r);
	return rc == STORE_OK ? STORE_CONFLICT : rc;
}

int pgq_simple(struct pg_store *q, const char *sql)
{
	PGresult *r = PQexec(q->conn, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : fail(q, r, sql);
	PQclear(r);
	return rc;
}

int pgq_tx_begin(struct pg_store *q, int snapshot)
{
	int rc = ensure(q);
	if (rc != STORE_OK)
		return rc;
	return pgq_simple(q, snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
}

int pgq_tx_commit(struct pg_store *q)
{
	return pgq_simple(q, "COMMIT");
}

void pgq_tx_rollback(struct pg_store *q)
{
	if (q->conn && PQstatus(q->conn) == CONNECTION_OK &&
	    PQtransactionStatus(q->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(q->conn, "ROLLBACK");
		PQclear(r);
	}
}

/* ---- columns ---- */

int pgq_col_copy(PGresult *r, int i, int col, char *dst, size_t cap)
{
	dst[0] = '\0';
	if (PQgetisnull(r, i, col))
		return STORE_OK;
	size_t n = (size_t)PQgetlength(r, i, col);
	if (n >= cap) {
		log_error("store: postgres: %s of %zu bytes does not fit in %zu", PQfname(r, col), n, cap);
		return STORE_ERR;
	}
	memcpy(dst, PQgetvalue(r, i, col), n + 1);
	return STORE_OK;
}

int pgq_col_dup(PGresult *r, int i, int col, char **dst)
{
	*dst = NULL;
	if (PQgetisnull(r, i, col))
		return STORE_OK;
	if (!(*dst = strdup(PQgetvalue(r, i, col)))) {
		log_error("store: postgres: out of memory reading %s", PQfname(r, col));
		return STORE_ERR;
	}
	return STORE_OK;
}

int64_t pgq_col_i64(PGresult *r, int i, int col)
{
	return (int64_t)strtoll(PQgetvalue(r, i, col), NULL, 10);
}

int pgq_collect_ids(PGresult *r, char (**ids)[STORE_ID_MAX], size_t *n)
{
	size_t rows = (size_t)PQntuples(r);
	if (rows == 0)
		return STORE_OK;
	*ids = calloc(rows, sizeof **ids);
	if (!*ids) {
		log_error("store: postgres: out of memory listing ids");
		return STORE_ERR;
	}
	for (size_t i = 0; i < rows; i++) {
		if (pgq_col_copy(r, (int)i, 0, (*ids)[i], STORE_ID_MAX) != STORE_OK)
			return STORE_ERR;
		(*n)++;
	}
	return STORE_OK;
}
