/* The SQLite backend's statements and the plumbing its parts share (sqlite.c: open, accounts,
 * nonces and metadata; sqlite_orders.c: orders, authorizations and challenges; sqlite_certs.c:
 * serials and certificates): the handle, the prepared statements by id, binding, stepping,
 * transactions, the durability of a commit, and reading columns. Private to src/ca/storage. */
#ifndef COBBLE_SQLITE_QUERY_H
#define COBBLE_SQLITE_QUERY_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "sqlite_file.h"
#include "store_backend.h"

/* Every statement of the backend, by id; the SQL is sqlite_query.c's stmt_sql. */
enum stmt_id {
	ST_BEGIN,
	ST_BEGIN_IMMEDIATE,
	ST_COMMIT,
	ST_ROLLBACK,
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
	ST_META_GET,
	ST_META_SET,
	ST_META_INCR,
	ST_META_INSERT,
	ST__COUNT
};

/* A store handle of the SQLite backend; every handle of a file shares its connection. */
struct sqlite_store {
	struct store base; /* first: store.c sees only this */
	sqlite3 *db;
	struct sq_file *f;
	sqlite3_stmt **st;           /* f->st */
	int relaxed;                 /* commits need not wait for the WAL sync (sqq_relaxed) */
	int need_sync;               /* a durable commit waits for the WAL sync at sq_leave */
	int defer_sync;              /* ... unless deferred (store_sync_defer): */
	uint64_t ticket;             /* the newest deferred durable commit (store_sync_ticket) */
};

struct sqlite_store *sqq_of(struct store *s);

/* The SQL of a statement (test_store checks the plans of some). */
const char *sqq_sql(enum stmt_id id);

/* Maps a failed step to a store code. Constraint failures are answers, not faults: a
 * duplicate key is CONFLICT, a reference to a missing row NOTFOUND. Anything else is logged. */
int sqq_fail(struct sqlite_store *q, int r, const char *what);

/* The statement, prepared on first use and kept with the connection; NULL on failure (logged). */
sqlite3_stmt *sqq_stmt(struct sqlite_store *q, enum stmt_id id);

/* Resets a statement and clears its bindings; NULL is ignored. */
void sqq_release(sqlite3_stmt *st);

/* Prepares (or reuses) a statement and binds parameters 1.. from fmt: 't' text, 'T' text or
 * NULL, 'i' int, 'I' int64_t, 'b' blob (const void *, size_t). Values are bound
 * SQLITE_STATIC: the caller releases the statement before its arguments go away. NULL on
 * failure (logged). */
sqlite3_stmt *sqq_query(struct sqlite_store *q, enum stmt_id id, const char *fmt, ...);

/* Runs a statement that returns no rows; *changes (if non-NULL) gets the rows it changed. */
int sqq_run(struct sqlite_store *q, enum stmt_id id, int *changes, const char *fmt, ...);

/* Steps a single-row query: OK with the row current, NOTFOUND, or ERR. */
int sqq_step_row(struct sqlite_store *q, sqlite3_stmt *st);

/* OK if the row with this key exists, else NOTFOUND (or ERR). */
int sqq_exists(struct sqlite_store *q, enum stmt_id id, const char *key);

/* A compare-and-set that changed nothing: CONFLICT if the row exists, else NOTFOUND. */
int sqq_cas_missed(struct sqlite_store *q, enum stmt_id exists_id, const char *key);

/* Durability by what a commit promises (issue 7). Every commit waits for the group commit of
 * the WAL (wal_sync_barrier) before it returns, so what a client is told is issued (serial
 * reservations, certificates), revoked, or registered survives a power cut. The hot writes
 * of the order flow that promise nothing durable (an order or challenge state a client can
 * ask again for, a validation lease) are made between sqq_relaxed() and sqq_strict() and
 * return without waiting: they are in the append-only WAL, and the next sync makes them
 * durable too. A power cut can roll back only such state changes made after the last sync,
 * never a certificate or a serial. */
void sqq_relaxed(struct sqlite_store *q);
void sqq_strict(struct sqlite_store *q);

/* BEGIN (IMMEDIATE if asked), COMMIT, and a ROLLBACK that is a no-op outside a transaction
 * (an error may already have rolled it back). */
int sqq_tx_begin(struct sqlite_store *q, int immediate);
int sqq_tx_commit(struct sqlite_store *q);
void sqq_tx_rollback(struct sqlite_store *q);

/* Copies a text column into dst[cap] (NULL reads as ""); ERR if it does not fit. */
int sqq_col_copy(sqlite3_stmt *st, int col, char *dst, size_t cap);
#define SQQ_COPY(st, col, arr) sqq_col_copy((st), (col), (arr), sizeof(arr))

/* A malloc'd copy of a text column in *dst; NULL stays NULL. */
int sqq_col_dup(sqlite3_stmt *st, int col, char **dst);

/* Appends column 0 of every row to the malloc'd id array *ids of *n entries. */
int sqq_collect_ids(struct sqlite_store *q, sqlite3_stmt *st, char (**ids)[STORE_ID_MAX],
                    size_t *n);

#endif
