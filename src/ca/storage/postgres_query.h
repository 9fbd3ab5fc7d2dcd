/* The PostgreSQL backend's statements and the plumbing its parts share (postgres.c: open,
 * migrations, accounts, nonces, metadata and locks; postgres_orders.c: orders, authorizations
 * and challenges; postgres_certs.c: serials and certificates): the handle, its connection
 * (with the reconnect after the server went away), the prepared statements by id, transactions
 * and reading columns. Private to src/ca/storage. */
#ifndef COBBLE_POSTGRES_QUERY_H
#define COBBLE_POSTGRES_QUERY_H
#include <stddef.h>
#include <stdint.h>
#include "pqlib.h"
#include "store_backend.h"

/* Generated from migrations/postgres/NNN_*.sql by tools/embed.py, in file-name order. */
extern const char *const store_postgres_migrations[];
extern const size_t store_postgres_migrations_count;

/* Every statement of the backend, by id; the SQL is postgres_query.c's stmt_sql, prepared on
 * every connect. */
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

/* A store handle of the PostgreSQL backend: one connection each. */
struct pg_store {
	struct store base; /* first: store.c sees only this */
	PGconn *conn;
	char *conninfo;
	int ready;      /* connected, schema checked and statements prepared */
	int lost;       /* the last failure was a lost connection (for a 503) */
	unsigned nonce_count;
};

struct pg_store *pgq_of(struct store *s);

/* Reports a connection failure in one line, without the connection string (it may hold a
 * password): into err, or logged when err is NULL. */
void pgq_conn_error(struct pg_store *q, const char *what, char *err, size_t errlen);

/* Reads the applied schema version: 0 for an empty database. */
int pgq_schema_version(struct pg_store *q, long *version);

/* Connects (or reconnects), checks the schema version and prepares every statement. With
 * err NULL, failures are logged instead. */
int pgq_connect(struct pg_store *q, char *err, size_t errlen);

/* Runs prepared statement id with parameters from fmt: 't' text, 'T' text or NULL, 'i' int,
 * 'I' int64_t, 'b' bytea (const void *, size_t). Reconnects first if the connection broke.
 * On success the result (rows or command); on failure NULL with *rc set. */
PGresult *pgq_query(struct pg_store *q, enum stmt_id id, int *rc, const char *fmt, ...);

/* Runs a statement that returns no rows (or only RETURNING ones); *changes gets the rows
 * it changed or returned. */
int pgq_run(struct pg_store *q, enum stmt_id id, int *changes, const char *fmt, ...);

/* A single-row query: the result with its row, or NULL with *rc NOTFOUND or ERR. */
PGresult *pgq_row(struct pg_store *q, enum stmt_id id, int *rc, const char *key);

/* A compare-and-set that changed nothing: CONFLICT if the row exists, else NOTFOUND. */
int pgq_cas_missed(struct pg_store *q, enum stmt_id exists_id, const char *key);

/* Runs SQL without parameters that returns no rows. */
int pgq_simple(struct pg_store *q, const char *sql);

/* Writes use READ COMMITTED: every compare-and-set is one UPDATE whose WHERE is re-checked
 * after a concurrent writer commits. Reads of several tables take one snapshot. */
int pgq_tx_begin(struct pg_store *q, int snapshot);

/* COMMIT, and a ROLLBACK that does nothing outside a transaction or on a lost connection. */
int pgq_tx_commit(struct pg_store *q);
void pgq_tx_rollback(struct pg_store *q);

/* Copies a column of row i into dst[cap] (NULL reads as ""); ERR if it does not fit. */
int pgq_col_copy(PGresult *r, int i, int col, char *dst, size_t cap);
#define PGQ_COPY(r, col, arr) pgq_col_copy((r), 0, (col), (arr), sizeof(arr))

/* A malloc'd copy of a column of row i in *dst; NULL stays NULL. */
int pgq_col_dup(PGresult *r, int i, int col, char **dst);

/* A column of row i as an integer. */
int64_t pgq_col_i64(PGresult *r, int i, int col);

/* Column 0 of every row into a calloc'd id array *ids of *n entries. */
int pgq_collect_ids(PGresult *r, char (**ids)[STORE_ID_MAX], size_t *n);

#endif
