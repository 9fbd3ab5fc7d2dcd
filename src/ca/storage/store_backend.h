/* What a storage backend provides to store.c: one ops table per backend file.
 * Private to src/ca/storage; callers use store.h only. */
#ifndef COBBLE_STORE_BACKEND_H
#define COBBLE_STORE_BACKEND_H
#include "store.h"

/* A backend's handle starts with this, so store.c can find the ops:
 *   struct sqlite_store { struct store base; sqlite3 *db; ... }; */
struct store {
	const struct store_ops *ops;
};

/* store.c has already checked that pointers are non-NULL and zeroed every out struct;
 * if a backend returns non-OK after filling part of one, store.c clears it, so a backend
 * may simply return. Strings in input structs are NUL-terminated within their arrays. */
struct store_ops {
	const char *name;
	int (*open)(const char *path, struct store **out, char *err, size_t errlen);
	void (*close)(struct store *s);

	int (*account_insert)(struct store *s, const struct store_account *a);
	int (*account_get)(struct store *s, const char *id, struct store_account *out);
	int (*account_by_thumbprint)(struct store *s, const char *tp, struct store_account *out);
	int (*account_update)(struct store *s, const struct store_account *a);

	int (*authz_get)(struct store *s, const char *id, struct store_authz *out);
	int (*challenge_get)(struct store *s, const char *id, struct store_challenge *out,
	                     struct store_authz *authz_out);
	int (*authz_set_status)(struct store *s, const char *id, const char *from, const char *to);
	/* owner NULL: no lease (until is then 0). */
	int (*challenge_start)(struct store *s, const char *chall_id, const char *owner, int64_t until);
	int (*challenge_finish)(struct store *s, const char *chall_id, int valid,
	                        const char *error_json, const char *record_json, int64_t now,
	                        int64_t valid_until);
	int (*challenge_list_processing)(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n);
	/* out_id is never NULL here (store.c passes a buffer of STORE_ID_MAX). */
	int (*challenge_claim)(struct store *s, const char *chall_id, const char *worker,
	                       int64_t now, int64_t until, char *out_id);

	int (*order_insert)(struct store *s, const struct store_order *o,
	                    const struct store_authz *new_authzs, size_t nnew);
	int (*order_get)(struct store *s, const char *id, struct store_order *out);
	int (*order_list)(struct store *s, const char *account_id, size_t offset, size_t limit,
	                  char (**ids)[STORE_ID_MAX], size_t *n);
	int (*order_set_status)(struct store *s, const char *id, const char *from, const char *to,
	                        const char *error_json);
	int (*order_start_processing)(struct store *s, const char *id, int64_t until);
	int (*order_fail_interrupted)(struct store *s, const char *id, int64_t now, const char *error_json);

	int (*serial_reserve)(struct store *s, const char *serial, const char *order_id,
	                      int64_t now);
	int (*serials_reserve)(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n, int64_t now);
	int (*cert_insert_for_order)(struct store *s, const struct store_cert *c);
	int (*cert_get)(struct store *s, const char *serial, struct store_cert *out);
	int (*cert_revoke)(struct store *s, const char *serial, int reason, int64_t now);
	/* Optional until every backend has it (NULL: STORE_ERR). */
	int (*authz_valid_for)(struct store *s, const char *account_id, const char *dns_name, int64_t now);
	int (*authz_find_reusable)(struct store *s, const char *account_id, const char *ident_type,
	                           const char *ident_value, int wildcard, int64_t now,
	                           int64_t validated_since, struct store_authz *out);
	int (*cert_list_revoked)(struct store *s, int64_t not_after_min, struct store_revoked **out,
	                         size_t *n);

	int (*nonce_redeem)(struct store *s, const unsigned char *id, size_t len, uint64_t seq,
	                    int64_t expires, int64_t now);

	int (*meta_get)(struct store *s, const char *key, char *out, size_t outlen);
	int (*meta_set)(struct store *s, const char *key, const char *value);
	int (*meta_incr)(struct store *s, const char *key, int64_t *out);
	/* Inserts key only if absent: CONFLICT if it exists (one statement, so atomic). */
	int (*meta_insert)(struct store *s, const char *key, const char *value);

	/* Optional (NULL: every account_get reads the database): the account with id from a
	 * cache, not bracketed by enter/leave; OK (out filled) or NOTFOUND to read it with
	 * account_get. Only for a backend that sees every change to its accounts: SQLite, where
	 * one process serves a database (its nonce window is per process too), not PostgreSQL,
	 * whose other instances deactivate accounts and change keys. */
	int (*account_cached)(struct store *s, const char *id, struct store_account *out);

	/* Optional, all three or none (store.h: durable commits without waiting); without them
	 * commits are durable when the call returns and store_sync_ticket is 0. */
	void (*sync_defer)(struct store *s, int on);
	uint64_t (*sync_ticket)(struct store *s);
	void (*sync_notify)(struct store *s, struct store_sync_waiter *w);

	/* Optional (NULL means never): 1 if the last failure was a lost database connection. */
	int (*unavailable)(struct store *s);
	int (*lock_try)(struct store *s, const char *name);
	int (*lock_release)(struct store *s, const char *name);
	/* Optional: store.c calls enter before and leave after every call above except open,
	 * close, unavailable and nonce_redeem (a backend whose redemption uses the connection
	 * must serialise it itself; SQLite's is an in-memory window with its own mutex); leave returns the call's result, or another code (a durable
	 * commit that could not be synced returns STORE_ERR). */
	void (*enter)(struct store *s);
	int (*leave)(struct store *s, int rc);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_postgres_ops;
/* Applies missing PostgreSQL migrations (postgres.c); `cobbled migrate`. */
int store_postgres_migrate(const char *conninfo, char *err, size_t errlen);

#endif
