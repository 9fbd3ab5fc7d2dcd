/* The SQLite backend's orders, authorizations and challenges (sqlite_orders.h). */
#include "sqlite_orders.h"
#include "log.h"
#include "sqlite_query.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- authorizations and challenges ---- */

static int read_challenge(sqlite3_stmt *st, struct store_challenge *c)
{
	if (SQQ_COPY(st, 0, c->id) || SQQ_COPY(st, 1, c->authz_id) || SQQ_COPY(st, 2, c->type) ||
	    SQQ_COPY(st, 3, c->token) || SQQ_COPY(st, 4, c->status) || sqq_col_dup(st, 6, &c->error) ||
	    sqq_col_dup(st, 7, &c->record))
		return STORE_ERR;
	c->validated_at = sqlite3_column_int64(st, 5);
	return STORE_OK;
}

/* Loads an authorization and its challenges; the caller holds a read transaction so both
 * come from one snapshot. */
static int load_authz(struct sqlite_store *q, const char *id, struct store_authz *a)
{
	size_t cap = 0;
	sqlite3_stmt *st = sqq_query(q, ST_AUTHZ_GET, "t", id);
	int rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc != STORE_OK)
		goto out;
	if (SQQ_COPY(st, 0, a->id) || SQQ_COPY(st, 1, a->account_id) || SQQ_COPY(st, 2, a->ident_type) ||
	    SQQ_COPY(st, 3, a->ident_value) || SQQ_COPY(st, 5, a->status)) {
		rc = STORE_ERR;
		goto out;
	}
	a->wildcard = sqlite3_column_int(st, 4);
	a->expires = sqlite3_column_int64(st, 6);
	a->created_at = sqlite3_column_int64(st, 7);
	sqq_release(st);

	rc = STORE_ERR;
	st = sqq_query(q, ST_CHALLS_OF_AUTHZ, "t", id);
	if (!st)
		goto out;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (a->nchall == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			void *p = realloc(a->chall, ncap * sizeof *a->chall);
			if (!p) {
				log_error("store: sqlite: out of memory loading authz %s", id);
				goto out;
			}
			a->chall = p;
			cap = ncap;
		}
		/* Counted before it is filled so a failure half-way is still cleared. */
		struct store_challenge *c = &a->chall[a->nchall++];
		memset(c, 0, sizeof *c);
		if (read_challenge(st, c) != STORE_OK)
			goto out;
	}
	rc = r == SQLITE_DONE ? STORE_OK : sqq_fail(q, r, "load challenges");
out:
	sqq_release(st);
	return rc;
}

int sqo_authz_get(struct store *s, const char *id, struct store_authz *out)
{
	struct sqlite_store *q = sqq_of(s);
	int rc = sqq_tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	rc = load_authz(q, id, out);
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
out:
	sqq_tx_rollback(q);
	return rc;
}

int sqo_challenge_get(struct store *s, const char *id, struct store_challenge *out,
                      struct store_authz *authz_out)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = NULL;
	int rc = sqq_tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	st = sqq_query(q, ST_CHALL_GET, "t", id);
	rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc == STORE_OK)
		rc = read_challenge(st, out);
	sqq_release(st);
	if (rc == STORE_OK && authz_out)
		rc = load_authz(q, out->authz_id, authz_out);
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
out:
	sqq_tx_rollback(q);
	return rc;
}

static int sq_authz_set_status_tx(struct store *s, const char *id, const char *from, const char *to)
{
	struct sqlite_store *q = sqq_of(s);
	int changes = 0;
	int rc = sqq_run(q, ST_AUTHZ_SET_STATUS, &changes, "ttt", id, from, to);
	if (rc == STORE_OK && changes == 0)
		rc = sqq_cas_missed(q, ST_AUTHZ_EXISTS, id);
	return rc;
}

/* Relaxed durability (see sqq_relaxed()). */
int sqo_authz_set_status(struct store *s, const char *id, const char *from, const char *to)
{
	sqq_relaxed(sqq_of(s));
	int rc = sq_authz_set_status_tx(s, id, from, to);
	sqq_strict(sqq_of(s));
	return rc;
}

static int sq_challenge_start_tx(struct store *s, const char *chall_id, const char *owner, int64_t until)
{
	struct sqlite_store *q = sqq_of(s);
	int changes = 0;
	int rc = sqq_run(q, ST_CHALL_START, &changes, "tTI", chall_id, owner, until);
	if (rc == STORE_OK && changes == 0)
		rc = sqq_cas_missed(q, ST_CHALL_EXISTS, chall_id);
	return rc;
}

/* Relaxed durability (see sqq_relaxed()). */
int sqo_challenge_start(struct store *s, const char *chall_id, const char *owner, int64_t until)
{
	sqq_relaxed(sqq_of(s));
	int rc = sq_challenge_start_tx(s, chall_id, owner, until);
	sqq_strict(sqq_of(s));
	return rc;
}

static int sq_challenge_finish_tx(struct store *s, const char *chall_id, int valid,
                               const char *error_json, const char *record_json, int64_t now,
                               int64_t valid_until)
{
	struct sqlite_store *q = sqq_of(s);
	const char *status = valid ? "valid" : "invalid";
	int changes = 0;
	int rc = sqq_tx_begin(q, 1);
	if (rc != STORE_OK)
		goto out;
	rc = sqq_run(q, ST_CHALL_FINISH, &changes, "ttITT", chall_id, status, valid ? now : (int64_t)0,
	             error_json, record_json);
	if (rc != STORE_OK)
		goto out;
	if (changes == 0) {
		rc = sqq_cas_missed(q, ST_CHALL_EXISTS, chall_id);
		goto out;
	}
	/* An authorization that left pending meanwhile (deactivated, or decided by another
	 * challenge) keeps its status. */
	rc = sqq_run(q, ST_AUTHZ_FINISH, NULL, "ttI", chall_id, status, valid ? valid_until : (int64_t)0);
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
out:
	sqq_tx_rollback(q);
	return rc;
}

/* Relaxed durability (see sqq_relaxed()). */
int sqo_challenge_finish(struct store *s, const char *chall_id, int valid,
                         const char *error_json, const char *record_json, int64_t now,
                         int64_t valid_until)
{
	sqq_relaxed(sqq_of(s));
	int rc = sq_challenge_finish_tx(s, chall_id, valid, error_json, record_json, now, valid_until);
	sqq_strict(sqq_of(s));
	return rc;
}

int sqo_challenge_list_processing(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = sqq_query(q, ST_CHALL_PROCESSING, "");
	int rc = st ? sqq_collect_ids(q, st, ids, n) : STORE_ERR;
	sqq_release(st);
	return rc;
}

static int sq_challenge_claim_tx(struct store *s, const char *chall_id, const char *worker,
                              int64_t now, int64_t until, char *out_id)
{
	struct sqlite_store *q = sqq_of(s);
	int rc;
	if (chall_id) {
		int changes = 0;
		rc = sqq_run(q, ST_CHALL_CLAIM, &changes, "ttII", chall_id, worker, until, now);
		if (rc == STORE_OK && changes == 0)
			rc = sqq_cas_missed(q, ST_CHALL_EXISTS, chall_id);
		if (rc == STORE_OK)
			snprintf(out_id, STORE_ID_MAX, "%s", chall_id);
		return rc;
	}
	sqlite3_stmt *st = sqq_query(q, ST_CHALL_CLAIM_ANY, "tII", worker, until, now);
	rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc == STORE_OK)
		rc = sqq_col_copy(st, 0, out_id, STORE_ID_MAX);
	sqq_release(st);
	return rc;
}

/* Relaxed durability (see sqq_relaxed()). */
int sqo_challenge_claim(struct store *s, const char *chall_id, const char *worker,
                        int64_t now, int64_t until, char *out_id)
{
	sqq_relaxed(sqq_of(s));
	int rc = sq_challenge_claim_tx(s, chall_id, worker, now, until, out_id);
	sqq_strict(sqq_of(s));
	return rc;
}

/* ---- orders ---- */

static int insert_authz(struct sqlite_store *q, const struct store_authz *a)
{
	int rc = sqq_run(q, ST_AUTHZ_INSERT, NULL, "ttttitII", a->id, a->account_id, a->ident_type,
	                 a->ident_value, a->wildcard ? 1 : 0, a->status, a->expires, a->created_at);
	for (size_t i = 0; rc == STORE_OK && i < a->nchall; i++) {
		const struct store_challenge *c = &a->chall[i];
		/* The challenge belongs to the authz it is listed in, whatever c->authz_id says. */
		rc = sqq_run(q, ST_CHALL_INSERT, NULL, "ItttttITT", (int64_t)i, c->id, a->id, c->type,
		             c->token, c->status, c->validated_at, c->error, c->record);
	}
	return rc;
}

static int sq_order_insert_tx(struct store *s, const struct store_order *o,
                           const struct store_authz *new_authzs, size_t nnew)
{
	struct sqlite_store *q = sqq_of(s);
	int rc = sqq_tx_begin(q, 1);
	for (size_t i = 0; rc == STORE_OK && i < nnew; i++)
		rc = insert_authz(q, &new_authzs[i]);
	if (rc != STORE_OK)
		goto out;
	rc = sqq_run(q, ST_ORDER_INSERT, NULL, "tttIIIItTT", o->id, o->account_id, o->status, o->expires,
	             o->created_at, o->not_before, o->not_after, o->identifiers, o->error,
	             o->cert_serial[0] ? o->cert_serial : NULL);
	for (size_t i = 0; rc == STORE_OK && i < o->nauthz; i++) {
		int changes = 0;
		rc = sqq_run(q, ST_ORDER_LINK, &changes, "ttIt", o->id, o->authz_ids[i], (int64_t)i,
		             o->account_id);
		if (rc == STORE_OK && changes == 0) {
			log_warn("store: order %s: authz %s missing or not the account's", o->id,
			         o->authz_ids[i]);
			rc = STORE_NOTFOUND;
		}
	}
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
out:
	sqq_tx_rollback(q);
	return rc;
}

/* Relaxed durability (see sqq_relaxed()). */
int sqo_order_insert(struct store *s, const struct store_order *o,
                     const struct store_authz *new_authzs, size_t nnew)
{
	sqq_relaxed(sqq_of(s));
	int rc = sq_order_insert_tx(s, o, new_authzs, nnew);
	sqq_strict(sqq_of(s));
	return rc;
}

int sqo_order_get(struct store *s, const char *id, struct store_order *o)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = NULL;
	int rc = sqq_tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	st = sqq_query(q, ST_ORDER_GET, "t", id);
	rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc != STORE_OK)
		goto out;
	if (SQQ_COPY(st, 0, o->id) || SQQ_COPY(st, 1, o->account_id) || SQQ_COPY(st, 2, o->status) ||
	    sqq_col_dup(st, 7, &o->identifiers) || sqq_col_dup(st, 8, &o->error) ||
	    SQQ_COPY(st, 9, o->cert_serial)) {
		rc = STORE_ERR;
		goto out;
	}
	o->expires = sqlite3_column_int64(st, 3);
	o->created_at = sqlite3_column_int64(st, 4);
	o->not_before = sqlite3_column_int64(st, 5);
	o->not_after = sqlite3_column_int64(st, 6);
	o->processing_until = sqlite3_column_int64(st, 10);
	sqq_release(st);

	st = sqq_query(q, ST_ORDER_AUTHZ_IDS, "t", id);
	rc = st ? sqq_collect_ids(q, st, &o->authz_ids, &o->nauthz) : STORE_ERR;
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
out:
	sqq_release(st);
	sqq_tx_rollback(q);
	return rc;
}

int sqo_order_list(struct store *s, const char *account_id, size_t offset, size_t limit,
                   char (**ids)[STORE_ID_MAX], size_t *n)
{
	struct sqlite_store *q = sqq_of(s);
	if (limit == 0)
		return STORE_OK;
	int64_t lim = limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
	int64_t off = offset > INT64_MAX ? INT64_MAX : (int64_t)offset;
	sqlite3_stmt *st = sqq_query(q, ST_ORDER_LIST, "tII", account_id, lim, off);
	int rc = st ? sqq_collect_ids(q, st, ids, n) : STORE_ERR;
	sqq_release(st);
	return rc;
}

static int sq_order_set_status_tx(struct store *s, const char *id, const char *from, const char *to,
                               const char *error_json)
{
	struct sqlite_store *q = sqq_of(s);
	int changes = 0;
	int rc = sqq_run(q, ST_ORDER_SET_STATUS, &changes, "tttT", id, from, to, error_json);
	if (rc == STORE_OK && changes == 0)
		rc = sqq_cas_missed(q, ST_ORDER_EXISTS, id);
	return rc;
}

/* Relaxed durability (see sqq_relaxed()). */
int sqo_order_set_status(struct store *s, const char *id, const char *from, const char *to,
                         const char *error_json)
{
	sqq_relaxed(sqq_of(s));
	int rc = sq_order_set_status_tx(s, id, from, to, error_json);
	sqq_strict(sqq_of(s));
	return rc;
}

/* Relaxed durability (see sqq_relaxed()): a power cut that rolls the change back leaves the
 * order pending (the client finalizes again) or processing (failed again on read). */
int sqo_order_start_processing(struct store *s, const char *id, int64_t until)
{
	struct sqlite_store *q = sqq_of(s);
	int changes = 0;
	sqq_relaxed(q);
	int rc = sqq_run(q, ST_ORDER_START_PROCESSING, &changes, "tI", id, until);
	if (rc == STORE_OK && changes == 0)
		rc = sqq_cas_missed(q, ST_ORDER_EXISTS, id);
	sqq_strict(q);
	return rc;
}

int sqo_order_fail_interrupted(struct store *s, const char *id, int64_t now, const char *error_json)
{
	struct sqlite_store *q = sqq_of(s);
	int changes = 0;
	sqq_relaxed(q);
	int rc = sqq_run(q, ST_ORDER_FAIL_INTERRUPTED, &changes, "tIT", id, now, error_json);
	if (rc == STORE_OK && changes == 0)
		rc = sqq_cas_missed(q, ST_ORDER_EXISTS, id);
	sqq_strict(q);
	return rc;
}

int sqo_authz_valid_for(struct store *s, const char *account_id, const char *dns_name, int64_t now)
{
	struct sqlite_store *q = sqq_of(s);
	sqlite3_stmt *st = sqq_query(q, ST_AUTHZ_VALID_FOR, "ttI", account_id, dns_name, now);
	int rc = st ? sqq_step_row(q, st) : STORE_ERR;
	sqq_release(st);
	return rc;
}

int sqo_authz_find_reusable(struct store *s, const char *account_id, const char *ident_type,
                            const char *ident_value, int wildcard, int64_t now,
                            int64_t validated_since, struct store_authz *out)
{
	struct sqlite_store *q = sqq_of(s);
	char id[STORE_ID_MAX];
	sqlite3_stmt *st = NULL;
	int rc = sqq_tx_begin(q, 0);
	if (rc != STORE_OK)
		goto out;
	st = sqq_query(q, ST_AUTHZ_REUSABLE, "tttiII", account_id, ident_type, ident_value, wildcard, now,
	               validated_since);
	rc = st ? sqq_step_row(q, st) : STORE_ERR;
	if (rc == STORE_OK)
		rc = sqq_col_copy(st, 0, id, sizeof id);
	sqq_release(st);
	if (rc == STORE_OK)
		rc = load_authz(q, id, out);
	if (rc == STORE_OK)
		rc = sqq_tx_commit(q);
out:
	sqq_tx_rollback(q);
	return rc;
}
