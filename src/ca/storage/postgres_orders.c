/* The PostgreSQL backend's orders, authorizations and challenges (postgres_orders.h). */
#include "postgres_orders.h"
#include "log.h"
#include "postgres_query.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- authorizations and challenges ---- */

static int read_challenge(PGresult *r, int i, struct store_challenge *c)
{
	if (pgq_col_copy(r, i, 0, c->id, sizeof c->id) ||
	    pgq_col_copy(r, i, 1, c->authz_id, sizeof c->authz_id) ||
	    pgq_col_copy(r, i, 2, c->type, sizeof c->type) ||
	    pgq_col_copy(r, i, 3, c->token, sizeof c->token) ||
	    pgq_col_copy(r, i, 4, c->status, sizeof c->status) || pgq_col_dup(r, i, 6, &c->error) ||
	    pgq_col_dup(r, i, 7, &c->record))
		return STORE_ERR;
	c->validated_at = pgq_col_i64(r, i, 5);
	return STORE_OK;
}

/* The caller holds a snapshot transaction so the authz and its challenges agree. */
static int load_authz(struct pg_store *q, const char *id, struct store_authz *a)
{
	int rc;
	PGresult *r = pgq_row(q, ST_AUTHZ_GET, &rc, id);
	if (!r)
		return rc;
	rc = STORE_ERR;
	if (PGQ_COPY(r, 0, a->id) || PGQ_COPY(r, 1, a->account_id) || PGQ_COPY(r, 2, a->ident_type) ||
	    PGQ_COPY(r, 3, a->ident_value) || PGQ_COPY(r, 5, a->status))
		goto out;
	a->wildcard = (int)pgq_col_i64(r, 0, 4);
	a->expires = pgq_col_i64(r, 0, 6);
	a->created_at = pgq_col_i64(r, 0, 7);
	PQclear(r);

	r = pgq_query(q, ST_CHALLS_OF_AUTHZ, &rc, "t", id);
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

int pgo_authz_get(struct store *s, const char *id, struct store_authz *out)
{
	struct pg_store *q = pgq_of(s);
	int rc = pgq_tx_begin(q, 1);
	if (rc == STORE_OK)
		rc = load_authz(q, id, out);
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
	pgq_tx_rollback(q);
	return rc;
}

int pgo_challenge_get(struct store *s, const char *id, struct store_challenge *out,
                      struct store_authz *authz_out)
{
	struct pg_store *q = pgq_of(s);
	PGresult *r = NULL;
	int rc = pgq_tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	r = pgq_row(q, ST_CHALL_GET, &rc, id);
	if (r)
		rc = read_challenge(r, 0, out);
	if (rc == STORE_OK && authz_out)
		rc = load_authz(q, out->authz_id, authz_out);
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
out:
	PQclear(r);
	pgq_tx_rollback(q);
	return rc;
}

int pgo_authz_valid_for(struct store *s, const char *account_id, const char *dns_name,
                        int64_t now)
{
	int rc;
	PGresult *r = pgq_query(pgq_of(s), ST_AUTHZ_VALID_FOR, &rc, "ttI", account_id, dns_name, now);
	if (r)
		rc = PQntuples(r) > 0 ? STORE_OK : STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

int pgo_authz_find_reusable(struct store *s, const char *account_id, const char *ident_type,
                            const char *ident_value, int wildcard, int64_t now,
                            int64_t validated_since, struct store_authz *out)
{
	struct pg_store *q = pgq_of(s);
	char id[STORE_ID_MAX];
	PGresult *r = NULL;
	int rc = pgq_tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	r = pgq_query(q, ST_AUTHZ_REUSABLE, &rc, "tttiII", account_id, ident_type, ident_value, wildcard, now,
	              validated_since);
	if (r && PQntuples(r) == 0)
		rc = STORE_NOTFOUND;
	else if (r)
		rc = pgq_col_copy(r, 0, 0, id, sizeof id);
	if (rc == STORE_OK)
		rc = load_authz(q, id, out);
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
out:
	PQclear(r);
	pgq_tx_rollback(q);
	return rc;
}

int pgo_authz_set_status(struct store *s, const char *id, const char *from, const char *to)
{
	struct pg_store *q = pgq_of(s);
	int changes = 0;
	int rc = pgq_run(q, ST_AUTHZ_SET_STATUS, &changes, "ttt", id, from, to);
	if (rc == STORE_OK && changes == 0)
		rc = pgq_cas_missed(q, ST_AUTHZ_EXISTS, id);
	return rc;
}

int pgo_challenge_start(struct store *s, const char *chall_id, const char *owner, int64_t until)
{
	struct pg_store *q = pgq_of(s);
	int changes = 0;
	int rc = pgq_run(q, ST_CHALL_START, &changes, "tTI", chall_id, owner, until);
	if (rc == STORE_OK && changes == 0)
		rc = pgq_cas_missed(q, ST_CHALL_EXISTS, chall_id);
	return rc;
}

int pgo_challenge_finish(struct store *s, const char *chall_id, int valid,
                         const char *error_json, const char *record_json, int64_t now,
                         int64_t valid_until)
{
	struct pg_store *q = pgq_of(s);
	const char *status = valid ? "valid" : "invalid";
	int changes = 0;
	int rc = pgq_tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	rc = pgq_run(q, ST_CHALL_FINISH, &changes, "ttITT", chall_id, status, valid ? now : (int64_t)0,
	             error_json, record_json);
	if (rc != STORE_OK)
		goto out;
	if (changes == 0) {
		rc = pgq_cas_missed(q, ST_CHALL_EXISTS, chall_id);
		goto out;
	}
	rc = pgq_run(q, ST_AUTHZ_FINISH, NULL, "ttI", chall_id, status, valid ? valid_until : (int64_t)0);
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
out:
	pgq_tx_rollback(q);
	return rc;
}

int pgo_challenge_list_processing(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n)
{
	int rc;
	PGresult *r = pgq_query(pgq_of(s), ST_CHALL_PROCESSING, &rc, "");
	if (r)
		rc = pgq_collect_ids(r, ids, n);
	PQclear(r);
	return rc;
}

int pgo_challenge_claim(struct store *s, const char *chall_id, const char *worker,
                        int64_t now, int64_t until, char *out_id)
{
	struct pg_store *q = pgq_of(s);
	int rc;
	if (chall_id) {
		int changes = 0;
		rc = pgq_run(q, ST_CHALL_CLAIM, &changes, "ttII", chall_id, worker, until, now);
		if (rc == STORE_OK && changes == 0)
			rc = pgq_cas_missed(q, ST_CHALL_EXISTS, chall_id);
		if (rc == STORE_OK)
			snprintf(out_id, STORE_ID_MAX, "%s", chall_id);
		return rc;
	}
	PGresult *r = pgq_query(q, ST_CHALL_CLAIM_ANY, &rc, "tII", worker, until, now);
	if (r && PQntuples(r) == 0)
		rc = STORE_NOTFOUND;
	else if (r)
		rc = pgq_col_copy(r, 0, 0, out_id, STORE_ID_MAX);
	PQclear(r);
	return rc;
}

/* ---- orders ---- */

static int insert_authz(struct pg_store *q, const struct store_authz *a)
{
	int rc = pgq_run(q, ST_AUTHZ_INSERT, NULL, "ttttitII", a->id, a->account_id, a->ident_type,
	                 a->ident_value, a->wildcard ? 1 : 0, a->status, a->expires, a->created_at);
	for (size_t i = 0; rc == STORE_OK && i < a->nchall; i++) {
		const struct store_challenge *c = &a->chall[i];
		rc = pgq_run(q, ST_CHALL_INSERT, NULL, "ItttttITT", (int64_t)i, c->id, a->id, c->type,
		             c->token, c->status, c->validated_at, c->error, c->record);
	}
	return rc;
}

int pgo_order_insert(struct store *s, const struct store_order *o,
                     const struct store_authz *new_authzs, size_t nnew)
{
	struct pg_store *q = pgq_of(s);
	int rc = pgq_tx_begin(q, 0);
	for (size_t i = 0; rc == STORE_OK && i < nnew; i++)
		rc = insert_authz(q, &new_authzs[i]);
	if (rc != STORE_OK)
		goto out;
	rc = pgq_run(q, ST_ORDER_INSERT, NULL, "tttIIIItTT", o->id, o->account_id, o->status, o->expires,
	             o->created_at, o->not_before, o->not_after, o->identifiers, o->error,
	             o->cert_serial[0] ? o->cert_serial : NULL);
	for (size_t i = 0; rc == STORE_OK && i < o->nauthz; i++) {
		int changes = 0;
		rc = pgq_run(q, ST_ORDER_LINK, &changes, "ttIt", o->id, o->authz_ids[i], (int64_t)i,
		             o->account_id);
		if (rc == STORE_OK && changes == 0) {
			log_warn("store: order %s: authz %s missing or not the account's", o->id,
			         o->authz_ids[i]);
			rc = STORE_NOTFOUND;
		}
	}
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
out:
	pgq_tx_rollback(q);
	return rc;
}

int pgo_order_get(struct store *s, const char *id, struct store_order *o)
{
	struct pg_store *q = pgq_of(s);
	PGresult *r = NULL;
	int rc = pgq_tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	r = pgq_row(q, ST_ORDER_GET, &rc, id);
	if (!r)
		goto out;
	if (PGQ_COPY(r, 0, o->id) || PGQ_COPY(r, 1, o->account_id) || PGQ_COPY(r, 2, o->status) ||
	    pgq_col_dup(r, 0, 7, &o->identifiers) || pgq_col_dup(r, 0, 8, &o->error) ||
	    PGQ_COPY(r, 9, o->cert_serial)) {
		rc = STORE_ERR;
		goto out;
	}
	o->expires = pgq_col_i64(r, 0, 3);
	o->created_at = pgq_col_i64(r, 0, 4);
	o->not_before = pgq_col_i64(r, 0, 5);
	o->not_after = pgq_col_i64(r, 0, 6);
	o->processing_until = pgq_col_i64(r, 0, 10);
	PQclear(r);

	r = pgq_query(q, ST_ORDER_AUTHZ_IDS, &rc, "t", id);
	if (r)
		rc = pgq_collect_ids(r, &o->authz_ids, &o->nauthz);
	if (rc == STORE_OK)
		rc = pgq_tx_commit(q);
out:
	PQclear(r);
	pgq_tx_rollback(q);
	return rc;
}

int pgo_order_list(struct store *s, const char *account_id, size_t offset, size_t limit,
                   char (**ids)[STORE_ID_MAX], size_t *n)
{
	int rc;
	if (limit == 0)
		return STORE_OK;
	int64_t lim = limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
	int64_t off = offset > INT64_MAX ? INT64_MAX : (int64_t)offset;
	PGresult *r = pgq_query(pgq_of(s), ST_ORDER_LIST, &rc, "tII", account_id, lim, off);
	if (r)
		rc = pgq_collect_ids(r, ids, n);
	PQclear(r);
	return rc;
}

int pgo_order_set_status(struct store *s, const char *id, const char *from, const char *to,
                         const char *error_json)
{
	struct pg_store *q = pgq_of(s);
	int changes = 0;
	int rc = pgq_run(q, ST_ORDER_SET_STATUS, &changes, "tttT", id, from, to, error_json);
	if (rc == STORE_OK && changes == 0)
		rc = pgq_cas_missed(q, ST_ORDER_EXISTS, id);
	return rc;
}

int pgo_order_start_processing(struct store *s, const char *id, int64_t until)
{
	struct pg_store *q = pgq_of(s);
	int changes = 0;
	int rc = pgq_run(q, ST_ORDER_START_PROCESSING, &changes, "tI", id, until);
	if (rc == STORE_OK && changes == 0)
		rc = pgq_cas_missed(q, ST_ORDER_EXISTS, id);
	return rc;
}

/* Under READ COMMITTED an UPDATE racing the certificate's commit waits for it and re-checks
 * status on the committed row: a stored certificate wins. */
int pgo_order_fail_interrupted(struct store *s, const char *id, int64_t now, const char *error_json)
{
	struct pg_store *q = pgq_of(s);
	int changes = 0;
	int rc = pgq_run(q, ST_ORDER_FAIL_INTERRUPTED, &changes, "tIT", id, now, error_json);
	if (rc == STORE_OK && changes == 0)
		rc = pgq_cas_missed(q, ST_ORDER_EXISTS, id);
	return rc;
}
