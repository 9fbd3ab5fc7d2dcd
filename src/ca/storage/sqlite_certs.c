/* The SQLite backend's serials and certificates (sqlite_certs.h). */
#include "sqlite_certs.h"
#include "log.h"
#include "sqlite_query.h"
#include <stdlib.h>
#include <string.h>

/* ---- serials and certificates ---- */

int sqc_serial_reserve(struct store *s, const char *serial, const char *order_id,
                       int64_t now)
{
	return sqq_run(sqq_of(s), ST_SERIAL_INSERT, NULL, "ttI", serial, order_id, now);
}

/* One transaction and one WAL sync for the block. */
int sqc_serials_reserve(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n, int64_t now)
{
	struct sqlite_store *q = sqq_of(s);
	int rc = sqq_tx_begin(q, 1);
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		int changes = 0;
		rc = sqq_run(q, ST_SERIAL_POOL_ADD, &changes, "tI", serials[i], now);
		if (rc == STORE_OK && changes == 0)
			rc = STORE_CONFLICT; /* reserved for an order already */
	}
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
	sqq_tx_rollback(q);
	return rc;
}

int sqc_cert_insert_for_order(struct store *s, const struct store_cert *c)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = NULL;
	int changes = 0;
	int rc = sqq_tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	/* The serial must have been reserved before signing: in a block, and then it is bound to
	 * this order now, or for this order. */
	st = sqq_query(q, ST_SERIAL_POOL_TAKE, "t", c->serial);
	rc = st ? sqq_step_row(q, st) : STORE_ERR;
	int64_t reserved_at = rc == STORE_OK ? sqlite3_column_int64(st, 0) : 0;
	sqq_release(st);
	st = NULL;
	if (rc == STORE_OK) {
		rc = sqq_run(q, ST_SERIAL_INSERT, NULL, "ttI", c->serial, c->order_id, reserved_at);
		if (rc == STORE_NOTFOUND) /* no such order */
			rc = STORE_CONFLICT;
		if (rc != STORE_OK)
			goto out;
	} else if (rc == STORE_NOTFOUND) {
		st = sqq_query(q, ST_SERIAL_ORDER, "t", c->serial);
		rc = st ? sqq_step_row(q, st) : STORE_ERR;
		if (rc == STORE_NOTFOUND)
			log_warn("store: certificate %s: serial was never reserved", c->serial);
		if (rc != STORE_OK)
			goto out;
		const unsigned char *reserved_for = sqlite3_column_text(st, 0);
		if (!reserved_for || strcmp((const char *)reserved_for, c->order_id) != 0) {
			log_warn("store: certificate %s: serial reserved for another order", c->serial);
			rc = STORE_CONFLICT;
			goto out;
		}
		sqq_release(st);
		st = NULL;
	} else {
		goto out;
	}
	rc = sqq_run(q, ST_CERT_INSERT, NULL, "tttbIII", c->serial, c->account_id, c->order_id,
	             (const void *)c->der, c->der_len, c->issued_at, c->not_before, c->not_after);
	if (rc != STORE_OK)
		goto out;
	/* The order exists (the serial references it): no change means it is not processing,
	 * or belongs to another account. */
	rc = sqq_run(q, ST_ORDER_ISSUED, &changes, "ttt", c->order_id, c->serial, c->account_id);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_CONFLICT;
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
out:
	sqq_release(st);
	sqq_tx_rollback(q);
	return rc;
}

int sqc_cert_get(struct store *s, const char *serial, struct store_cert *c)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = sqq_query(q, ST_CERT_GET, "t", serial);
	int rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc != STORE_OK)
		goto out;
	rc = STORE_ERR;
	if (SQQ_COPY(st, 0, c->serial) || SQQ_COPY(st, 1, c->account_id) || SQQ_COPY(st, 2, c->order_id))
		goto out;
	const void *der = sqlite3_column_blob(st, 3);
	size_t len = (size_t)sqlite3_column_bytes(st, 3);
	if (!der || !(c->der = malloc(len))) {
		log_error("store: sqlite: cannot load certificate %s", serial);
		goto out;
	}
	memcpy(c->der, der, len);
	c->der_len = len;
	c->issued_at = sqlite3_column_int64(st, 4);
	c->not_before = sqlite3_column_int64(st, 5);
	c->not_after = sqlite3_column_int64(st, 6);
	c->revoked_at = sqlite3_column_int64(st, 7);
	c->revoked_reason = sqlite3_column_int(st, 8);
	rc = STORE_OK;
out:
	sqq_release(st);
	return rc;
}

int sqc_cert_revoke(struct store *s, const char *serial, int reason, int64_t now)
{
	struct sqlite_store *q = sqq_of(s);
	int changes = 0;
	int rc = sqq_run(q, ST_CERT_REVOKE, &changes, "tIi", serial, now, reason);
	if (rc == STORE_OK && changes == 0)
		rc = sqq_cas_missed(q, ST_CERT_EXISTS, serial);
	return rc;
}

int sqc_cert_list_revoked(struct store *s, int64_t not_after_min, struct store_revoked **out,
                          size_t *n)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = sqq_query(q, ST_CERT_LIST_REVOKED, "I", not_after_min);
	if (!st)
		return STORE_ERR;
	size_t cap = 0;
	int r, rc = STORE_OK;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *p = realloc(*out, ncap * sizeof **out);
			if (!p) {
				rc = STORE_ERR;
				goto out;
			}
			*out = p;
			cap = ncap;
		}
		struct store_revoked *e = &(*out)[*n];
		memset(e, 0, sizeof *e);
		if (SQQ_COPY(st, 0, e->serial) != STORE_OK) {
			rc = STORE_ERR;
			goto out;
		}
		e->revoked_at = sqlite3_column_int64(st, 1);
		e->reason = sqlite3_column_int(st, 2);
		(*n)++;
	}
	if (r != SQLITE_DONE)
		rc = sqq_fail(q, r, sqlite3_sql(st));
out:
	sqq_release(st);
	return rc;
}
