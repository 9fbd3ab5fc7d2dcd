/* The PostgreSQL backend's serials and certificates (postgres_certs.h). */
#include "postgres_certs.h"
#include "log.h"
#include "postgres_query.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- serials and certificates ---- */

int pgc_serial_reserve(struct store *s, const char *serial, const char *order_id,
                       int64_t now)
{
	return pgq_run(pgq_of(s), ST_SERIAL_INSERT, NULL, "ttI", serial, order_id, now);
}

int pgc_serials_reserve(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n, int64_t now)
{
	struct pg_store *q = pgq_of(s);
	int rc = pgq_tx_begin(q, 0);
	for (size_t i = 0; rc == STORE_OK && i < n; i++) {
		int changes = 0;
		rc = pgq_run(q, ST_SERIAL_POOL_ADD, &changes, "tI", serials[i], now);
		if (rc == STORE_OK && changes == 0)
			rc = STORE_CONFLICT; /* reserved for an order already */
	}
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
	pgq_tx_rollback(q);
	return rc;
}

int pgc_cert_insert_for_order(struct store *s, const struct store_cert *c)
{
	struct pg_store *q = pgq_of(s);
	PGresult *r = NULL;
	int changes = 0;
	int rc = pgq_tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	/* The serial must have been reserved before signing: in a block, and then it is bound to
	 * this order now, or for this order. */
	r = pgq_row(q, ST_SERIAL_POOL_TAKE, &rc, c->serial);
	if (r) {
		int64_t reserved_at = pgq_col_i64(r, 0, 0);
		PQclear(r);
		r = NULL;
		rc = pgq_run(q, ST_SERIAL_INSERT, NULL, "ttI", c->serial, c->order_id, reserved_at);
		if (rc == STORE_NOTFOUND) /* no such order */
			rc = STORE_CONFLICT;
		if (rc != STORE_OK)
			goto out;
	} else if (rc == STORE_NOTFOUND) {
		r = pgq_row(q, ST_SERIAL_ORDER, &rc, c->serial);
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
	rc = pgq_run(q, ST_CERT_INSERT, NULL, "tttbIII", c->serial, c->account_id, c->order_id,
	             (const void *)c->der, c->der_len, c->issued_at, c->not_before, c->not_after);
	if (rc != STORE_OK)
		goto out;
	/* Two instances finalizing one order: the second UPDATE waits for the first to commit,
	 * then finds the order valid and changes nothing, so its certificate is rolled back. */
	rc = pgq_run(q, ST_ORDER_ISSUED, &changes, "ttt", c->order_id, c->serial, c->account_id);
	if (rc == STORE_OK && changes == 0)
		rc = STORE_CONFLICT;
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
out:
	PQclear(r);
	pgq_tx_rollback(q);
	return rc;
}

int pgc_cert_get(struct store *s, const char *serial, struct store_cert *c)
{
	int rc;
	PGresult *r = pgq_row(pgq_of(s), ST_CERT_GET, &rc, serial);
	if (!r)
		return rc;
	rc = STORE_ERR;
	if (PGQ_COPY(r, 0, c->serial) || PGQ_COPY(r, 1, c->account_id) || PGQ_COPY(r, 2, c->order_id))
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
	c->issued_at = pgq_col_i64(r, 0, 4);
	c->not_before = pgq_col_i64(r, 0, 5);
	c->not_after = pgq_col_i64(r, 0, 6);
	c->revoked_at = pgq_col_i64(r, 0, 7);
	c->revoked_reason = (int)pgq_col_i64(r, 0, 8);
	rc = STORE_OK;
out:
	PQclear(r);
	return rc;
}

int pgc_cert_revoke(struct store *s, const char *serial, int reason, int64_t now)
{
	struct pg_store *q = pgq_of(s);
	int changes = 0;
	int rc = pgq_run(q, ST_CERT_REVOKE, &changes, "tIi", serial, now, reason);
	if (rc == STORE_OK && changes == 0)
		rc = pgq_cas_missed(q, ST_CERT_EXISTS, serial);
	return rc;
}

int pgc_cert_list_revoked(struct store *s, int64_t not_after_min,
                          struct store_revoked **out, size_t *n)
{
	int rc;
	PGresult *r = pgq_query(pgq_of(s), ST_CERT_LIST_REVOKED, &rc, "I", not_after_min);
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
		rc = pgq_col_copy(r, (int)i, 0, e->serial, sizeof e->serial);
		e->revoked_at = pgq_col_i64(r, (int)i, 1);
		e->reason = (int)pgq_col_i64(r, (int)i, 2);
		if (rc == STORE_OK)
			(*n)++;
	}
	PQclear(r);
	return rc;
}
