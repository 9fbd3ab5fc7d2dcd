/* The PostgreSQL backend of store.h: one libpq connection per handle with every statement
 * prepared on connect, reconnect on the next call after the server went away, migrations
 * applied only by `cobbled migrate`, and the redeemed-nonce set in an UNLOGGED table. */
#include "log.h"
#include "store_backend.h"
#include <inttypes.h>
#include "pqlib.h"
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated from migrations/postgres/NNN_*.sql by tools/embed.py, in file-name order. */
extern const char *const store_postgres_migrations[];
extern const size_t store_postgres_migrations_count;

/* Serialises concurrent `cobbled migrate` runs (pg_advisory_xact_lock key: "cobbleMG"). */
#define MIGRATE_LOCK_KEY "7161779127616324423"
/* Expired nonce ids are deleted every this many redemptions on a handle. */
#define NONCE_PRUNE_EVERY 1000
#define MAX_PARAMS 12

enum stmt_id {
	ST_ACCOUNT_INSERT,
	ST_ACCOUNT_GET,
	ST_ACCOUNT_BY_THUMBPRINT,
	ST_ACCOUNT_UPDATE,
	ST_AUTHZ_INSERT,
	ST_AUTHZ_GET,
	ST_AUTHZ_EXISTS,
	ST_AUTHZ_SET_STATUS,
	ST_AUTHZ_FINISH,
	ST_CHALL_INSERT,
	ST_CHALL_GET,
	ST_CHALLS_OF_AUTHZ,
	ST_CHALL_EXISTS,
	ST_CHALL_START,
	ST_CHALL_FINISH,
	ST_CHALL_PROCESSING,
	ST_CHALL_CLAIM,
	ST_CHALL_CLAIM_ANY,
	ST_ORDER_INSERT,
	ST_ORDER_LINK,
	ST_ORDER_GET,
	ST_ORDER_AUTHZ_IDS,
	ST_ORDER_LIST,
	ST_ORDER_EXISTS,
	ST_ORDER_SET_STATUS,
	ST_ORDER_START_PROCESSING,
	ST_ORDER_FAIL_INTERRUPTED,
	ST_ORDER_ISSUED,
	ST_SERIAL_INSERT,
	ST_SERIAL_ORDER,
	ST_SERIAL_POOL_ADD,
	ST_SERIAL_POOL_TAKE,
	ST_CERT_INSERT,
	ST_CERT_GET,
	ST_CERT_EXISTS,
	ST_CERT_REVOKE,
	ST_CERT_LIST_REVOKED,
	ST_AUTHZ_VALID_FOR,
	ST_AUTHZ_REUSABLE,
	ST_NONCE_REDEEM,
	ST_NONCE_PRUNE,
	ST_META_GET,
	ST_META_SET,
	ST_META_INCR,
	ST_META_INSERT,
	ST_LOCK_TRY,
	ST_LOCK_RELEASE,
	ST__COUNT
};

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
	/* Authorization reuse: served by the authzs_for_reuse index. */
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

struct pg_store {
	struct store base; /* first: store.c sees only this */
	PGconn *conn;
	char *conninfo;
	int ready;      /* connected, schema checked and statements prepared */
	int lost;       /* the last failure was a lost connection (for a 503) */
	unsigned nonce_count;
};

static struct pg_store *pg_of(struct store *s)
{
	return (struct pg_store *)s;
}

/* ---- connection ---- */

/* One line, without the connection string (it may hold a password). */
static void conn_error(struct pg_store *q, const char *what, char *err, size_t errlen)
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

/* Reads the applied schema version: 0 for an empty database. */
static int schema_version(struct pg_store *q, long *version)
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

/* Connects (or reconnects), checks the schema version and prepares every statement. With
 * err NULL, failures are logged instead. */
static int pg_connect(struct pg_store *q, char *err, size_t errlen)
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
		conn_error(q, "cannot connect", err, errlen);
		q->lost = 1;
		return STORE_ERR;
	}
	PQsetNoticeProcessor(q->conn, quiet_notice, NULL);
	if (schema_version(q, &have) != STORE_OK) {
		conn_error(q, "cannot read the schema version", err, errlen);
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
			conn_error(q, "prepare", err, errlen);
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
	return pg_connect(q, NULL, 0);
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

/* Runs prepared statement id with parameters from fmt: 't' text, 'T' text or NULL, 'i' int,
 * 'I' int64_t, 'b' bytea (const void *, size_t). On success returns the result (rows or
 * command); on failure NULL with *rc set. */
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

static PGresult *query(struct pg_store *q, enum stmt_id id, int *rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PGresult *r = vexec(q, id, rc, fmt, ap);
	va_end(ap);
	return r;
}

/* Runs a statement that returns no rows (or only RETURNING ones); *changes gets the rows
 * it changed or returned. */
static int run(struct pg_store *q, enum stmt_id id, int *changes, const char *fmt, ...)
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

/* A single-row query: the result with its row, or NULL with *rc NOTFOUND or ERR. */
static PGresult *row(struct pg_store *q, enum stmt_id id, int *rc, const char *key)
{
	PGresult *r = query(q, id, rc, "t", key);
	if (r && PQntuples(r) == 0) {
		PQclear(r);
		*rc = STORE_NOTFOUND;
		return NULL;
	}
	return r;
}

static int cas_missed(struct pg_store *q, enum stmt_id exists_id, const char *key)
{
	int rc;
	PGresult *r = row(q, exists_id, &rc, key);
	PQclear(r);
	return rc == STORE_OK ? STORE_CONFLICT : rc;
}

static int simple(struct pg_store *q, const char *sql)
{
	PGresult *r = PQexec(q->conn, sql);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : fail(q, r, sql);
	PQclear(r);
	return rc;
}

/* Writes use READ COMMITTED: every compare-and-set is one UPDATE whose WHERE is re-checked
 * after a concurrent writer commits. Reads of several tables take one snapshot. */
static int tx_begin(struct pg_store *q, int snapshot)
{
	int rc = ensure(q);
	if (rc != STORE_OK)
		return rc;
	return simple(q, snapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
}

static int tx_commit(struct pg_store *q)
{
	return simple(q, "COMMIT");
}

static void tx_rollback(struct pg_store *q)
{
	if (q->conn && PQstatus(q->conn) == CONNECTION_OK &&
	    PQtransactionStatus(q->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(q->conn, "ROLLBACK");
		PQclear(r);
	}
}

/* ---- columns ---- */

static int col_copy(PGresult *r, int i, int col, char *dst, size_t cap)
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

#define COPY(r, col, arr) col_copy((r), 0, (col), (arr), sizeof(arr))

static int col_dup(PGresult *r, int i, int col, char **dst)
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

static int64_t col_i64(PGresult *r, int i, int col)
{
	return (int64_t)strtoll(PQgetvalue(r, i, col), NULL, 10);
}

static int collect_ids(PGresult *r, char (**ids)[STORE_ID_MAX], size_t *n)
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
		if (col_copy(r, (int)i, 0, (*ids)[i], STORE_ID_MAX) != STORE_OK)
			return STORE_ERR;
		(*n)++;
	}
	return STORE_OK;
}

/* ---- open, close, migrate ---- */

static void pg_close(struct store *s)
{
	struct pg_store *q = pg_of(s);
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
	if (pqlib_load(err, errlen) != 0 || pg_connect(q, err, errlen) != STORE_OK) {
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
		conn_error(&q, "cannot connect", err, errlen);
		goto out;
	}
	PGresult *r = PQexec(q.conn, "SET client_min_messages = warning; BEGIN;"
	                             " SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ");"
	                             " CREATE TABLE IF NOT EXISTS cobble_schema ("
	                             " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok || schema_version(&q, &have) != STORE_OK) {
		conn_error(&q, "migrations", err, errlen);
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
		if (simple(&q, sql) != STORE_OK) {
			conn_error(&q, "recording the schema version", err, errlen);
			goto out;
		}
		log_info("store: applied postgres migration %zu", v + 1);
	}
	if (simple(&q, "COMMIT") != STORE_OK) {
		conn_error(&q, "commit migrations", err, errlen);
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
	return pg_of(s)->lost;
}

/* ---- accounts ---- */

static int read_account(PGresult *r, struct store_account *a)
{
	if (COPY(r, 0, a->id) || COPY(r, 1, a->thumbprint) || col_dup(r, 0, 2, &a->jwk) ||
	    col_dup(r, 0, 3, &a->contact) || COPY(r, 4, a->status))
		return STORE_ERR;
	a->tos_agreed = (int)col_i64(r, 0, 5);
	a->created_at = col_i64(r, 0, 6);
	return STORE_OK;
}

static int pg_account_insert(struct store *s, const struct store_account *a)
{
	return run(pg_of(s), ST_ACCOUNT_INSERT, NULL, "tttttiI", a->id, a->thumbprint, a->jwk,
	           a->contact ? a->contact : "[]", a->status, a->tos_agreed ? 1 : 0, a->created_at);
}

static int account_get_by(struct pg_store *q, enum stmt_id id, const char *key,
                          struct store_account *out)
{
	int rc;
	PGresult *r = row(q, id, &rc, key);
	if (r)
		rc = read_account(r, out);
	PQclear(r);
	return rc;
}

static int pg_account_get(struct store *s, const char *id, struct store_account *out)
{
	return account_get_by(pg_of(s), ST_ACCOUNT_GET, id, out);
}

static int pg_account_by_thumbprint(struct store *s, const char *tp, struct store_account *out)
{
	return account_get_by(pg_of(s), ST_ACCOUNT_BY_THUMBPRINT, tp, out);
}

static int pg_account_update(struct store *s, const struct store_account *a)
{
	int changes = 0;
	int rc = run(pg_of(s), ST_ACCOUNT_UPDATE, &changes, "ttttt", a->id,
	             a->contact ? a->contact : "[]", a->status, a->jwk, a->thumbprint);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_NOTFOUND;
	return rc;
}

/* ---- authorizations and challenges ---- */

static int read_challenge(PGresult *r, int i, struct store_challenge *c)
{
	if (col_copy(r, i, 0, c->id, sizeof c->id) ||
	    col_copy(r, i, 1, c->authz_id, sizeof c->authz_id) ||
	    col_copy(r, i, 2, c->type, sizeof c->type) ||
	    col_copy(r, i, 3, c->token, sizeof c->token) ||
	    col_copy(r, i, 4, c->status, sizeof c->status) || col_dup(r, i, 6, &c->error) ||
	    col_dup(r, i, 7, &c->record))
		return STORE_ERR;
	c->validated_at = col_i64(r, i, 5);
	return STORE_OK;
}

/* The caller holds a snapshot transaction so the authz and its challenges agree. */
static int load_authz(struct pg_store *q, const char *id, struct store_authz *a)
{
	int rc;
	PGresult *r = row(q, ST_AUTHZ_GET, &rc, id);
	if (!r)
		return rc;
	rc = STORE_ERR;
	if (COPY(r, 0, a->id) || COPY(r, 1, a->account_id) || COPY(r, 2, a->ident_type) ||
	    COPY(r, 3, a->ident_value) || COPY(r, 5, a->status))
		goto out;
	a->wildcard = (int)col_i64(r, 0, 4);
	a->expires = col_i64(r, 0, 6);
	a->created_at = col_i64(r, 0, 7);
	PQclear(r);

	r = query(q, ST_CHALLS_OF_AUTHZ, &rc, "t", id);
	if (!r)
		goto out;
	rc = STORE_ERR;
	size_t rows = (size_t)PQntuples(r);
	if (rows) {
		a->chall = calloc(rows, sizeof *a->chall);
		if (!a->chall) {
			log_error("store: postgres: out of memory loading authz %s", id);
			goto out;
		}
	}
	for (size_t i = 0; i < rows; i++) {
		a->nchall++; /* counted first so a failure half-way is still cleared */
		if (read_challenge(r, (int)i, &a->chall[i]) != STORE_OK)
			goto out;
	}
	rc = STORE_OK;
out:
	PQclear(r);
	return rc;
}

static int pg_authz_get(struct store *s, const char *id, struct store_authz *out)
{
	struct pg_store *q = pg_of(s);
	int rc = tx_begin(q, 1);
	if (rc == STORE_OK)
		rc = load_authz(q, id, out);
	if (rc == STORE_OK)
		rc = tx_commit(q);
	tx_rollback(q);
	return rc;
}

static int pg_challenge_get(struct store *s, const char *id, struct store_challenge *out,
                            struct store_authz *authz_out)
{
	struct pg_store *q = pg_of(s);
	PGresult *r = NULL;
	int rc = tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	r = row(q, ST_CHALL_GET, &rc, id);
	if (r)
		rc = read_challenge(r, 0, out);
	if (rc == STORE_OK && authz_out)
		rc = load_authz(q, out->authz_id, authz_out);
	if (rc == STORE_OK)
		rc = tx_commit(q);
out:
	PQclear(r);
	tx_rollback(q);
	return rc;
}

static int pg_authz_valid_for(struct store *s, const char *account_id, const char *dns_name,
                              int64_t now)
{
	int rc;
	PGresult *r = query(pg_of(s), ST_AUTHZ_VALID_FOR, &rc, "ttI", account_id, dns_name, now);
	if (r)
		rc = PQntuples(r) > 0 ? STORE_OK : STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

static int pg_authz_find_reusable(struct store *s, const char *account_id, const char *ident_type,
                                  const char *ident_value, int wildcard, int64_t now,
                                  int64_t validated_since, struct store_authz *out)
{
	struct pg_store *q = pg_of(s);
	char id[STORE_ID_MAX];
	PGresult *r = NULL;
	int rc = tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	r = query(q, ST_AUTHZ_REUSABLE, &rc, "tttiII", account_id, ident_type, ident_value, wildcard, now,
	          validated_since);
	if (r && PQntuples(r) == 0)
		rc = STORE_NOTFOUND;
	else if (r)
		rc = col_copy(r, 0, 0, id, sizeof id);
	if (rc == STORE_OK)
		rc = load_authz(q, id, out);
	if (rc == STORE_OK)
		rc = tx_commit(q);
out:
	PQclear(r);
	tx_rollback(q);
	return rc;
}

static int pg_authz_set_status(struct store *s, const char *id, const char *from, const char *to)
{
	struct pg_store *q = pg_of(s);
	int changes = 0;
	int rc = run(q, ST_AUTHZ_SET_STATUS, &changes, "ttt", id, from, to);
	if (rc == STORE_OK && changes == 0)
		rc = cas_missed(q, ST_AUTHZ_EXISTS, id);
	return rc;
}

static int pg_challenge_start(struct store *s, const char *chall_id, const char *owner, int64_t until)
{
	struct pg_store *q = pg_of(s);
	int changes = 0;
	int rc = run(q, ST_CHALL_START, &changes, "tTI", chall_id, owner, until);
	if (rc == STORE_OK && changes == 0)
		rc = cas_missed(q, ST_CHALL_EXISTS, chall_id);
	return rc;
}

static int pg_challenge_finish(struct store *s, const char *chall_id, int valid,
                               const char *error_json, const char *record_json, int64_t now,
                               int64_t valid_until)
{
	struct pg_store *q = pg_of(s);
	const char *status = valid ? "valid" : "invalid";
	int changes = 0;
	int rc = tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	rc = run(q, ST_CHALL_FINISH, &changes, "ttITT", chall_id, status, valid ? now : (int64_t)0,
	         error_json, record_json);
	if (rc != STORE_OK)
		goto out;
	if (changes == 0) {
		rc = cas_missed(q, ST_CHALL_EXISTS, chall_id);
		goto out;
	}
	rc = run(q, ST_AUTHZ_FINISH, NULL, "ttI", chall_id, status, valid ? valid_until : (int64_t)0);
	if (rc == STORE_OK)
		rc = tx_commit(q);
out:
	tx_rollback(q);
	return rc;
}

static int pg_challenge_list_processing(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n)
{
	int rc;
	PGresult *r = query(pg_of(s), ST_CHALL_PROCESSING, &rc, "");
	if (r)
		rc = collect_ids(r, ids, n);
	PQclear(r);
	return rc;
}

static int pg_challenge_claim(struct store *s, const char *chall_id, const char *worker,
                              int64_t now, int64_t until, char *out_id)
{
	struct pg_store *q = pg_of(s);
	int rc;
	if (chall_id) {
		int changes = 0;
		rc = run(q, ST_CHALL_CLAIM, &changes, "ttII", chall_id, worker, until, now);
		if (rc == STORE_OK && changes == 0)
			rc = cas_missed(q, ST_CHALL_EXISTS, chall_id);
		if (rc == STORE_OK)
			snprintf(out_id, STORE_ID_MAX, "%s", chall_id);
		return rc;
	}
	PGresult *r = query(q, ST_CHALL_CLAIM_ANY, &rc, "tII", worker, until, now);
	if (r && PQntuples(r) == 0)
		rc = STORE_NOTFOUND;
	else if (r)
		rc = col_copy(r, 0, 0, out_id, STORE_ID_MAX);
	PQclear(r);
	return rc;
}

/* ---- orders ---- */

static int insert_authz(struct pg_store *q, const struct store_authz *a)
{
	int rc = run(q, ST_AUTHZ_INSERT, NULL, "ttttitII", a->id, a->account_id, a->ident_type,
	             a->ident_value, a->wildcard ? 1 : 0, a->status, a->expires, a->created_at);
	for (size_t i = 0; rc == STORE_OK && i < a->nchall; i++) {
		const struct store_challenge *c = &a->chall[i];
		rc = run(q, ST_CHALL_INSERT, NULL, "ItttttITT", (int64_t)i, c->id, a->id, c->type,
		         c->token, c->status, c->validated_at, c->error, c->record);
	}
	return rc;
}

static int pg_order_insert(struct store *s, const struct store_order *o,
                           const struct store_authz *new_authzs, size_t nnew)
{
	struct pg_store *q = pg_of(s);
	int rc = tx_begin(q, 0);
	for (size_t i = 0; rc == STORE_OK && i < nnew; i++)
		rc = insert_authz(q, &new_authzs[i]);
	if (rc != STORE_OK)
		goto out;
	rc = run(q, ST_ORDER_INSERT, NULL, "tttIIIItTT", o->id, o->account_id, o->status, o->expires,
	         o->created_at, o->not_before, o->not_after, o->identifiers, o->error,
	         o->cert_serial[0] ? o->cert_serial : NULL);
	for (size_t i = 0; rc == STORE_OK && i < o->nauthz; i++) {
		int changes = 0;
		rc = run(q, ST_ORDER_LINK, &changes, "ttIt", o->id, o->authz_ids[i], (int64_t)i,
		         o->account_id);
		if (rc == STORE_OK && changes == 0) {
			log_warn("store: order %s: authz %s missing or not the account's", o->id,
			         o->authz_ids[i]);
			rc = STORE_NOTFOUND;
		}
	}
	if (rc == STORE_OK)
		rc = tx_commit(q);
out:
	tx_rollback(q);
	return rc;
}

static int pg_order_get(struct store *s, const char *id, struct store_order *o)
{
	struct pg_store *q = pg_of(s);
	PGresult *r = NULL;
	int rc = tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	r = row(q, ST_ORDER_GET, &rc, id);
	if (!r)
		goto out;
	if (COPY(r, 0, o->id) || COPY(r, 1, o->account_id) || COPY(r, 2, o->status) ||
	    col_dup(r, 0, 7, &o->identifiers) || col_dup(r, 0, 8, &o->error) ||
	    COPY(r, 9, o->cert_serial)) {
		rc = STORE_ERR;
		goto out;
	}
	o->expires = col_i64(r, 0, 3);
	o->created_at = col_i64(r, 0, 4);
	o->not_before = col_i64(r, 0, 5);
	o->not_after = col_i64(r, 0, 6);
	o->processing_until = col_i64(r, 0, 10);
	PQclear(r);

	r = query(q, ST_ORDER_AUTHZ_IDS, &rc, "t", id);
	if (r)
		rc = collect_ids(r, &o->authz_ids, &o->nauthz);
	if (rc == STORE_OK)
		rc = tx_commit(q);
out:
	PQclear(r);
	tx_rollback(q);
	return rc;
}

static int pg_order_list(struct store *s, const char *account_id, size_t offset, size_t limit,
                         char (**ids)[STORE_ID_MAX], size_t *n)
{
	int rc;
	if (limit == 0)
		return STORE_OK;
	int64_t lim = limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
	int64_t off = offset > INT64_MAX ? INT64_MAX : (int64_t)offset;
	PGresult *r = query(pg_of(s), ST_ORDER_LIST, &rc, "tII", account_id, lim, off);
	if (r)
		rc = collect_ids(r, ids, n);
	PQclear(r);
	return rc;
}

static int pg_order_set_status(struct store *s, const char *id, const char *from, const char *to,
                               const char *error_json)
{
	struct pg_store *q = pg_of(s);
	int changes = 0;
	int rc = run(q, ST_ORDER_SET_STATUS, &changes, "tttT", id, from, to, error_json);
	if (rc == STORE_OK && changes == 0)
		rc = cas_missed(q, ST_ORDER_EXISTS, id);
	return rc;
}

static int pg_order_start_processing(struct store *s, const char *id, int64_t until)
{
	struct pg_store *q = pg_of(s);
	int changes = 0;
	int rc = run(q, ST_ORDER_START_PROCESSING, &changes, "tI", id, until);
	if (rc == STORE_OK && changes == 0)
		rc = cas_missed(q, ST_ORDER_EXISTS, id);
	return rc;
}

/* Under READ COMMITTED an UPDATE racing the certificate's commit waits for it and re-checks
 * status on the committed row: a stored certificate wins. */
static int pg_order_fail_interrupted(struct store *s, const char *id, int64_t now, const char *error_json)
{
	struct pg_store *q = pg_of(s);
	int changes = 0;
	int rc = run(q, ST_ORDER_FAIL_INTERRUPTED, &changes, "tIT", id, now, error_json);
	if (rc == STORE_OK && changes == 0)
		rc = cas_missed(q, ST_ORDER_EXISTS, id);
	return rc;
}

/* ---- serials and certificates ---- */

static int pg_serial_reserve(struct store *s, const char *serial, const char *order_id,
                             int64_t now)
{
	return run(pg_of(s), ST_SERIAL_INSERT, NULL, "ttI", serial, order_id, now);
}

static int pg_serials_reserve(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n, int64_t now)
{
	struct pg_store *q = pg_of(s);
	int rc = tx_begin(q, 0);
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		int changes = 0;
		rc = run(q, ST_SERIAL_POOL_ADD, &changes, "tI", serials[i], now);
		if (rc == STORE_OK && changes == 0)
			rc = STORE_CONFLICT; /* reserved for an order already */
	}
	if (rc == STORE_OK)
		rc = tx_commit(q);
	tx_rollback(q);
	return rc;
}

static int pg_cert_insert_for_order(struct store *s, const struct store_cert *c)
{
	struct pg_store *q = pg_of(s);
	PGresult *r = NULL;
	int changes = 0;
	int rc = tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	/* The serial must have been reserved before signing: in a block, and then it is bound to
	 * this order now, or for this order. */
	r = row(q, ST_SERIAL_POOL_TAKE, &rc, c->serial);
	if (r) {
		int64_t reserved_at = col_i64(r, 0, 0);
		PQclear(r);
		r = NULL;
		rc = run(q, ST_SERIAL_INSERT, NULL, "ttI", c->serial, c->order_id, reserved_at);
		if (rc == STORE_NOTFOUND) /* no such order */
			rc = STORE_CONFLICT;
		if (rc != STORE_OK)
			goto out;
	} else if (rc == STORE_NOTFOUND) {
		r = row(q, ST_SERIAL_ORDER, &rc, c->serial);
		if (rc == STORE_NOTFOUND)
			log_warn("store: certificate %s: serial was never reserved", c->serial);
		if (!r)
			goto out;
		if (strcmp(PQgetvalue(r, 0, 0), c->order_id) != 0) {
			log_warn("store: certificate %s: serial reserved for another order", c->serial);
			rc = STORE_CONFLICT;
			goto out;
		}
	} else {
		goto out;
	}
	rc = run(q, ST_CERT_INSERT, NULL, "tttbIII", c->serial, c->account_id, c->order_id,
	         (const void *)c->der, c->der_len, c->issued_at, c->not_before, c->not_after);
	if (rc != STORE_OK)
		goto out;
	/* Two instances finalizing one order: the second UPDATE waits for the first to commit,
	 * then finds the order valid and changes nothing, so its certificate is rolled back. */
	rc = run(q, ST_ORDER_ISSUED, &changes, "ttt", c->order_id, c->serial, c->account_id);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_CONFLICT;
	if (rc == STORE_OK)
		rc = tx_commit(q);
out:
	PQclear(r);
	tx_rollback(q);
	return rc;
}

static int pg_cert_get(struct store *s, const char *serial, struct store_cert *c)
{
	int rc;
	PGresult *r = row(pg_of(s), ST_CERT_GET, &rc, serial);
	if (!r)
		return rc;
	rc = STORE_ERR;
	if (COPY(r, 0, c->serial) || COPY(r, 1, c->account_id) || COPY(r, 2, c->order_id))
		goto out;
	size_t len = 0;
	unsigned char *der = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 3), &len);
	if (!der || !(c->der = malloc(len ? len : 1))) {
		PQfreemem(der);
		log_error("store: postgres: cannot load certificate %s", serial);
		goto out;
	}
	memcpy(c->der, der, len);
	PQfreemem(der);
	c->der_len = len;
	c->issued_at = col_i64(r, 0, 4);
	c->not_before = col_i64(r, 0, 5);
	c->not_after = col_i64(r, 0, 6);
	c->revoked_at = col_i64(r, 0, 7);
	c->revoked_reason = (int)col_i64(r, 0, 8);
	rc = STORE_OK;
out:
	PQclear(r);
	return rc;
}

static int pg_cert_revoke(struct store *s, const char *serial, int reason, int64_t now)
{
	struct pg_store *q = pg_of(s);
	int changes = 0;
	int rc = run(q, ST_CERT_REVOKE, &changes, "tIi", serial, now, reason);
	if (rc == STORE_OK && changes == 0)
		rc = cas_missed(q, ST_CERT_EXISTS, serial);
	return rc;
}

static int pg_cert_list_revoked(struct store *s, int64_t not_after_min,
                                struct store_revoked **out, size_t *n)
{
	int rc;
	PGresult *r = query(pg_of(s), ST_CERT_LIST_REVOKED, &rc, "I", not_after_min);
	if (!r)
		return rc;
	size_t rows = (size_t)PQntuples(r);
	rc = STORE_OK;
	if (rows && !(*out = calloc(rows, sizeof **out))) {
		log_error("store: postgres: out of memory listing revoked certificates");
		rc = STORE_ERR;
	}
	for (size_t i = 0; rc == STORE_OK && i < rows; i++) {
		struct store_revoked *e = &(*out)[i];
		rc = col_copy(r, (int)i, 0, e->serial, sizeof e->serial);
		e->revoked_at = col_i64(r, (int)i, 1);
		e->reason = (int)col_i64(r, (int)i, 2);
		if (rc == STORE_OK)
			(*n)++;
	}
	PQclear(r);
	return rc;
}

/* ---- nonces and metadata ---- */

static int pg_nonce_redeem(struct store *s, const unsigned char *id, size_t len, uint64_t seq,
                           int64_t expires, int64_t now)
{
	(void)seq; /* repeats across instances: the id (which holds it and random bits) is the key */
	struct pg_store *q = pg_of(s);
	int changes = 0;
	if (++q->nonce_count % NONCE_PRUNE_EVERY == 0 &&
	    run(q, ST_NONCE_PRUNE, NULL, "I", now) != STORE_OK)
		log_warn("store: postgres: pruning expired nonces failed");
	int rc = run(q, ST_NONCE_REDEEM, &changes, "bII", (const void *)id, len, expires, now);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_CONFLICT;
	return rc;
}

static int pg_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
	int rc;
	PGresult *r = row(pg_of(s), ST_META_GET, &rc, key);
	if (r)
		rc = col_copy(r, 0, 0, out, outlen);
	PQclear(r);
	return rc;
}

static int pg_meta_insert(struct store *s, const char *key, const char *value)
{
	return run(pg_of(s), ST_META_INSERT, NULL, "tt", key, value);
}

static int pg_meta_incr(struct store *s, const char *key, int64_t *out)
{
	int rc;
	PGresult *r = query(pg_of(s), ST_META_INCR, &rc, "t", key);
	if (r && PQntuples(r) == 1)
		*out = col_i64(r, 0, 0);
	else if (r)
		rc = STORE_ERR;
	PQclear(r);
	return rc;
}

static int pg_meta_set(struct store *s, const char *key, const char *value)
{
	return run(pg_of(s), ST_META_SET, NULL, "tt", key, value);
}

/* ---- locks ---- */

static int lock_call(struct store *s, enum stmt_id id, const char *name, int miss)
{
	int rc;
	PGresult *r = row(pg_of(s), id, &rc, name);
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
	.authz_get = pg_authz_get,
	.challenge_get = pg_challenge_get,
	.authz_set_status = pg_authz_set_status,
	.authz_valid_for = pg_authz_valid_for,
	.authz_find_reusable = pg_authz_find_reusable,
	.challenge_start = pg_challenge_start,
	.challenge_finish = pg_challenge_finish,
	.challenge_list_processing = pg_challenge_list_processing,
	.challenge_claim = pg_challenge_claim,
	.order_insert = pg_order_insert,
	.order_get = pg_order_get,
	.order_list = pg_order_list,
	.order_set_status = pg_order_set_status,
	.order_start_processing = pg_order_start_processing,
	.order_fail_interrupted = pg_order_fail_interrupted,
	.serial_reserve = pg_serial_reserve,
	.serials_reserve = pg_serials_reserve,
	.cert_insert_for_order = pg_cert_insert_for_order,
	.cert_get = pg_cert_get,
	.cert_revoke = pg_cert_revoke,
	.cert_list_revoked = pg_cert_list_revoked,
	.nonce_redeem = pg_nonce_redeem,
	.meta_get = pg_meta_get,
	.meta_set = pg_meta_set,
	.meta_incr = pg_meta_incr,
	.meta_insert = pg_meta_insert,
	.unavailable = pg_unavailable,
	.lock_try = pg_lock_try,
	.lock_release = pg_lock_release,
};
