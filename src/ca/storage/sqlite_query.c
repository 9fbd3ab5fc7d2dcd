/* The SQLite backend's statements and the plumbing its parts share (sqlite_query.h). */
#include "sqlite_query.h"
#include "log.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ACCOUNT_COLS "id, thumbprint, jwk, contact, status, tos_agreed, created_at"
#define AUTHZ_COLS "id, account_id, ident_type, ident_value, wildcard, status, expires, created_at"
#define CHALL_COLS "id, authz_id, type, token, status, validated_at, error, record"
#define ORDER_COLS                                                                               \
	"id, account_id, status, expires, created_at, not_before, not_after, identifiers, error, " \
	"cert_serial"
#define CERT_COLS                                                                                \
	"serial, account_id, order_id, der, issued_at, not_before, not_after, revoked_at, "        \
	"revoked_reason"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN",
	[ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_ACCOUNT_INSERT] = "INSERT INTO accounts (" ACCOUNT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)",
	[ST_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?",
	[ST_ACCOUNT_BY_THUMBPRINT] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE thumbprint = ?",
	[ST_ACCOUNT_UPDATE] = "UPDATE accounts SET contact = ?2, status = ?3, jwk = ?4, thumbprint = ?5"
	                      " WHERE id = ?1",
	[ST_AUTHZ_INSERT] = "INSERT INTO authzs (" AUTHZ_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_AUTHZ_GET] = "SELECT " AUTHZ_COLS " FROM authzs WHERE id = ?",
	[ST_AUTHZ_EXISTS] = "SELECT 1 FROM authzs WHERE id = ?",
	[ST_AUTHZ_SET_STATUS] = "UPDATE authzs SET status = ?3 WHERE id = ?1 AND status = ?2",
	[ST_AUTHZ_FINISH] = "UPDATE authzs SET status = ?2,"
	                    " expires = CASE WHEN ?3 > 0 THEN ?3 ELSE expires END WHERE status = 'pending'"
	                    " AND id = (SELECT authz_id FROM challenges WHERE id = ?1)",
	[ST_CHALL_INSERT] = "INSERT INTO challenges (position, " CHALL_COLS ")"
	                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_CHALL_GET] = "SELECT " CHALL_COLS " FROM challenges WHERE id = ?",
	[ST_CHALLS_OF_AUTHZ] = "SELECT " CHALL_COLS " FROM challenges WHERE authz_id = ?"
	                       " ORDER BY position",
	[ST_CHALL_EXISTS] = "SELECT 1 FROM challenges WHERE id = ?",
	/* RFC 8555 §7.5.1: only a pending challenge of a pending authorization starts. */
	[ST_CHALL_START] = "UPDATE challenges SET status = 'processing', lease_owner = ?2, lease_until = ?3"
	                   " WHERE id = ?1 AND status = 'pending' AND (SELECT a.status FROM authzs a"
	                   " WHERE a.id = challenges.authz_id) = 'pending'",
	[ST_CHALL_FINISH] = "UPDATE challenges SET status = ?2, validated_at = ?3, error = ?4,"
	                    " record = ?5 WHERE id = ?1 AND status = 'processing'",
	/* INDEXED BY: the partial index holds only processing challenges; left to itself the
	 * planner walks the whole table in id order to skip a sort (migration 6). */
	[ST_CHALL_PROCESSING] = "SELECT id FROM challenges INDEXED BY challenges_leases"
	                        " WHERE status = 'processing' ORDER BY id",
	/* Leases (store_challenge_claim): one UPDATE each, so the write lock makes them atomic. */
	[ST_CHALL_CLAIM] = "UPDATE challenges SET lease_owner = ?2, lease_until = ?3"
	                   " WHERE id = ?1 AND status = 'processing'"
	                   " AND (lease_until <= ?4 OR lease_owner = ?2)",
	[ST_CHALL_CLAIM_ANY] = "UPDATE challenges SET lease_owner = ?1, lease_until = ?2"
	                       " WHERE id = (SELECT id FROM challenges WHERE status = 'processing'"
	                       " AND lease_until <= ?3 ORDER BY lease_until, id LIMIT 1) RETURNING id",
	[ST_ORDER_INSERT] = "INSERT INTO orders (" ORDER_COLS ")"
	                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	/* Only the order's own account's authorizations may be linked to it. */
	[ST_ORDER_LINK] = "INSERT INTO order_authzs (order_id, authz_id, position)"
	                  " SELECT ?1, id, ?3 FROM authzs WHERE id = ?2 AND account_id = ?4",
	[ST_ORDER_GET] = "SELECT " ORDER_COLS ", processing_until FROM orders WHERE id = ?",
	[ST_ORDER_AUTHZ_IDS] = "SELECT authz_id FROM order_authzs WHERE order_id = ?"
	                       " ORDER BY position",
	[ST_ORDER_LIST] = "SELECT id FROM orders WHERE account_id = ?"
	                  " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
	[ST_ORDER_EXISTS] = "SELECT 1 FROM orders WHERE id = ?",
	[ST_ORDER_SET_STATUS] = "UPDATE orders SET status = ?3, error = ?4 WHERE id = ?1"
	                        " AND status = ?2",
	/* Finalize: processing_until bounds the finalize (orders.c); an order still processing
	 * after it is failed by the compare-and-set below, which a stored certificate (valid) or
	 * a finalize that may still run (a later processing_until) makes miss. */
	[ST_ORDER_START_PROCESSING] = "UPDATE orders SET status = 'processing', processing_until = ?2"
	                              " WHERE id = ?1 AND status = 'pending'",
	[ST_ORDER_FAIL_INTERRUPTED] = "UPDATE orders SET status = 'invalid', error = ?3 WHERE id = ?1"
	                              " AND status = 'processing' AND processing_until <= ?2",
	[ST_ORDER_ISSUED] = "UPDATE orders SET status = 'valid', cert_serial = ?2"
	                    " WHERE id = ?1 AND status = 'processing' AND account_id = ?3",
	[ST_SERIAL_INSERT] = "INSERT INTO serials (serial, order_id, reserved_at) VALUES (?, ?, ?)",
	[ST_SERIAL_ORDER] = "SELECT order_id FROM serials WHERE serial = ?",
	[ST_SERIAL_POOL_ADD] = "INSERT INTO serial_reserve (serial, reserved_at) SELECT ?1, ?2"
	                       " WHERE NOT EXISTS (SELECT 1 FROM serials WHERE serial = ?1)",
	[ST_SERIAL_POOL_TAKE] = "DELETE FROM serial_reserve WHERE serial = ? RETURNING reserved_at",
	[ST_CERT_INSERT] = "INSERT INTO certs (" CERT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
	[ST_CERT_GET] = "SELECT " CERT_COLS " FROM certs WHERE serial = ?",
	[ST_CERT_EXISTS] = "SELECT 1 FROM certs WHERE serial = ?",
	[ST_CERT_REVOKE] = "UPDATE certs SET revoked_at = ?2, revoked_reason = ?3"
	                   " WHERE serial = ?1 AND revoked_at = 0",
	[ST_AUTHZ_VALID_FOR] = "SELECT 1 FROM authzs WHERE account_id = ? AND ident_type = 'dns'"
	                       " AND ident_value = ? AND status = 'valid' AND expires > ? LIMIT 1",
	/* Authorization reuse: served by the authzs_valid index (migration 6). */
	[ST_AUTHZ_REUSABLE] = "SELECT a.id FROM authzs a WHERE a.account_id = ?1 AND a.ident_type = ?2"
	                      " AND a.ident_value = ?3 AND a.status = 'valid' AND a.expires > ?5"
	                      " AND a.wildcard = ?4 AND EXISTS (SELECT 1 FROM challenges c"
	                      " WHERE c.authz_id = a.id AND c.status = 'valid' AND c.validated_at >= ?6)"
	                      " ORDER BY a.expires DESC, a.id LIMIT 1",
	/* INDEXED BY the partial index of revoked certificates: left to itself the planner walks
	 * the whole table in serial order to skip a sort, ~3 s per CRL shard at 1M certificates
	 * instead of a few ms (issue 7 bench). */
	[ST_CERT_LIST_REVOKED] = "SELECT serial, revoked_at, revoked_reason FROM certs INDEXED BY certs_revoked"
	                         " WHERE revoked_at != 0 AND not_after >= ? ORDER BY serial",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?",
	[ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2)"
	                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_META_INSERT] = "INSERT INTO meta (key, value) VALUES (?1, ?2)",
	[ST_META_INCR] = "INSERT INTO meta (key, value) VALUES (?1, '1') ON CONFLICT (key)"
	                 " DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
	                 " RETURNING CAST(value AS INTEGER)",
};

struct sqlite_store *sqq_of(struct store *s)
{
	return (struct sqlite_store *)s;
}

const char *sqq_sql(enum stmt_id id)
{
	return id >= 0 && id < ST__COUNT ? stmt_sql[id] : NULL;
}

int sqq_fail(struct sqlite_store *q, int r, const char *what)
{
	switch (r) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return STORE_CONFLICT;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return STORE_NOTFOUND;
	default:
		log_error("store: sqlite: %s: %s (%d)", what, sqlite3_errmsg(q->db), r);
		return STORE_ERR;
	}
}

sqlite3_stmt *sqq_stmt(struct sqlite_store *q, enum stmt_id id)
{
	if (!q->st[id] && sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
	                                     &q->st[id], NULL) != SQLITE_OK) {
		log_error("store: sqlite: prepare \"%s\": %s", stmt_sql[id], sqlite3_errmsg(q->db));
		q->st[id] = NULL;
	}
	return q->st[id];
}

void sqq_release(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* Binds parameters 1.. from fmt, the letters sqq_query takes. */
static int bindv(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	for (int i = 1; *fmt; fmt++, i++) {
		int r;
		switch (*fmt) {
		case 't':
		case 'T': {
			const char *v = va_arg(ap, const char *);
			r = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
			break;
		}
		case 'i':
			r = sqlite3_bind_int64(st, i, va_arg(ap, int));
			break;
		case 'I':
			r = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'b': {
			const void *v = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			r = n > INT32_MAX ? SQLITE_TOOBIG : sqlite3_bind_blob(st, i, v, (int)n, SQLITE_STATIC);
			break;
		}
		default:
			r = SQLITE_MISUSE;
		}
		if (r != SQLITE_OK) {
			log_error("store: sqlite: bind %d of \"%s\": %s", i, sqlite3_sql(st), sqlite3_errstr(r));
			return STORE_ERR;
		}
	}
	return STORE_OK;
}

sqlite3_stmt *sqq_query(struct sqlite_store *q, enum stmt_id id, const char *fmt, ...)
{
	sqlite3_stmt *st = sqq_stmt(q, id);
	if (!st)
		return NULL;
	va_list ap;
	va_start(ap, fmt);
	int rc = bindv(st, fmt, ap);
	va_end(ap);
	if (rc != STORE_OK) {
		sqq_release(st);
		return NULL;
	}
	return st;
}

int sqq_run(struct sqlite_store *q, enum stmt_id id, int *changes, const char *fmt, ...)
{
	int rc = STORE_ERR;
	sqlite3_stmt *st = sqq_stmt(q, id);
	if (!st)
		goto out;
	va_list ap;
	va_start(ap, fmt);
	rc = bindv(st, fmt, ap);
	va_end(ap);
	if (rc != STORE_OK)
		goto out;
	int r = sqlite3_step(st);
	if (r != SQLITE_DONE) {
		rc = sqq_fail(q, r, stmt_sql[id]);
		goto out;
	}
	if (changes)
		*changes = sqlite3_changes(q->db);
	rc = STORE_OK;
out:
	sqq_release(st);
	return rc;
}

int sqq_step_row(struct sqlite_store *q, sqlite3_stmt *st)
{
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		return STORE_OK;
	if (r == SQLITE_DONE)
		return STORE_NOTFOUND;
	return sqq_fail(q, r, sqlite3_sql(st));
}

int sqq_exists(struct sqlite_store *q, enum stmt_id id, const char *key)
{
	sqlite3_stmt *st = sqq_query(q, id, "t", key);
	int rc = st ? sqq_step_row(q, st) : STORE_ERR;
	sqq_release(st);
	return rc;
}

int sqq_cas_missed(struct sqlite_store *q, enum stmt_id exists_id, const char *key)
{
	int rc = sqq_exists(q, exists_id, key);
	return rc == STORE_OK ? STORE_CONFLICT : rc;
}

void sqq_relaxed(struct sqlite_store *q)
{
	q->relaxed = 1;
}

void sqq_strict(struct sqlite_store *q)
{
	q->relaxed = 0;
}

int sqq_tx_begin(struct sqlite_store *q, int immediate)
{
	return sqq_run(q, immediate ? ST_BEGIN_IMMEDIATE : ST_BEGIN, NULL, "");
}

int sqq_tx_commit(struct sqlite_store *q)
{
	return sqq_run(q, ST_COMMIT, NULL, "");
}

void sqq_tx_rollback(struct sqlite_store *q)
{
	if (!sqlite3_get_autocommit(q->db))
		sqq_run(q, ST_ROLLBACK, NULL, "");
}

int sqq_col_copy(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (!t) {
		dst[0] = '\0';
		return sqlite3_column_type(st, col) == SQLITE_NULL ? STORE_OK : STORE_ERR;
	}
	if (n >= cap) {
		log_error("store: sqlite: %s of %zu bytes does not fit in %zu", sqlite3_column_name(st, col),
		          n, cap);
		return STORE_ERR;
	}
	memcpy(dst, t, n + 1);
	return STORE_OK;
}

int sqq_col_dup(sqlite3_stmt *st, int col, char **dst)
{
	*dst = NULL;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return STORE_OK;
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (!t || !(*dst = malloc(n + 1))) {
		log_error("store: sqlite: out of memory reading %s", sqlite3_column_name(st, col));
		return STORE_ERR;
	}
	memcpy(*dst, t, n + 1);
	return STORE_OK;
}

int sqq_collect_ids(struct sqlite_store *q, sqlite3_stmt *st, char (**ids)[STORE_ID_MAX],
                    size_t *n)
{
	size_t cap = 0;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *p = realloc(*ids, ncap * sizeof **ids);
			if (!p) {
				log_error("store: sqlite: out of memory listing ids");
				return STORE_ERR;
			}
			*ids = p;
			cap = ncap;
		}
		if (SQQ_COPY(st, 0, (*ids)[*n]) != STORE_OK)
			return STORE_ERR;
		(*n)++;
	}
	return r == SQLITE_DONE ? STORE_OK : sqq_fail(q, r, sqlite3_sql(st));
}
