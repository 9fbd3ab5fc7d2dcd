/* The backend-neutral half of the storage interface: spec parsing, argument checks,
 * dispatch through the backend's ops table, and the *_clear functions. */
#include "store.h"
#include "log.h"
#include "store_backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pointers are checked once here so backends need not; a NULL is a caller bug, logged. */
#define CHECK_ARGS(cond, fn)                                                                     \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			log_error("store: %s: invalid arguments", fn);                          \
			return STORE_ERR;                                                        \
		}                                                                                \
	} while (0)

/* Every backend call on a handle goes through CALL: the backend's enter, the call, its leave. */
static void call_enter(struct store *s)
{
	if (s->ops->enter)
		s->ops->enter(s);
}

static int call_leave(struct store *s, int rc)
{
	return s->ops->leave ? s->ops->leave(s, rc) : rc;
}

#define CALL(s, op, ...) (call_enter(s), call_leave((s), (s)->ops->op((s), __VA_ARGS__)))

const char *store_sqlite_path(const char *spec)
{
	if (!spec)
		return NULL;
	if (strncmp(spec, "sqlite:", 7) == 0)
		return spec + 7;
	return strstr(spec, "://") ? NULL : spec;
}

int store_open(const char *spec, struct store **out, char *err, size_t errlen)
{
	const struct store_ops *ops = &store_sqlite_ops;
	const char *path = store_sqlite_path(spec);

	if (out)
		*out = NULL;
	if (!err || errlen == 0) {
		err = NULL;
		errlen = 0;
	}
	if (!spec || !out || !*spec) {
		if (err)
			snprintf(err, errlen, "storage: empty database spec");
		return STORE_ERR;
	}
	if (!path && (strncmp(spec, "postgres://", 11) == 0 || strncmp(spec, "postgresql://", 13) == 0)) {
		/* The whole spec is a libpq connection URI; it may carry a password, so the
		 * backend never echoes it. */
		ops = &store_postgres_ops;
		path = spec;
	} else if (!path) { /* another scheme */
		if (err)
			snprintf(err, errlen, "storage: unknown backend \"%.*s\" (want sqlite:PATH or postgres://...)",
			         (int)(strstr(spec, "://") - spec), spec);
		return STORE_ERR;
	}
	if (!*path) {
		if (err)
			snprintf(err, errlen, "storage: \"%s\" names no database file", spec);
		return STORE_ERR;
	}
	char dummy[1];
	return ops->open(path, out, err ? err : dummy, err ? errlen : sizeof dummy);
}

int store_migrate(const char *spec, char *err, size_t errlen)
{
	char dummy[1];
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	if (spec && (strncmp(spec, "postgres://", 11) == 0 || strncmp(spec, "postgresql://", 13) == 0))
		return store_postgres_migrate(spec, err, errlen);
	/* SQLite migrates whenever it opens. */
	struct store *s = NULL;
	int rc = store_open(spec, &s, err, errlen);
	store_close(s);
	return rc;
}

int store_unavailable(struct store *s)
{
	return s && s->ops->unavailable ? s->ops->unavailable(s) : 0;
}

int store_lock_try(struct store *s, const char *name)
{
	CHECK_ARGS(s && name && *name && s->ops->lock_try, __func__);
	return CALL(s, lock_try, name);
}

int store_lock_release(struct store *s, const char *name)
{
	CHECK_ARGS(s && name && *name && s->ops->lock_release, __func__);
	return CALL(s, lock_release, name);
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

/* ---- clear functions ---- */

void store_account_clear(struct store_account *a)
{
	if (!a)
		return;
	free(a->jwk);
	free(a->contact);
	memset(a, 0, sizeof *a);
}

void store_challenge_clear(struct store_challenge *c)
{
	if (!c)
		return;
	free(c->error);
	free(c->record);
	memset(c, 0, sizeof *c);
}

void store_authz_clear(struct store_authz *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nchall && a->chall; i++)
		store_challenge_clear(&a->chall[i]);
	free(a->chall);
	memset(a, 0, sizeof *a);
}

void store_order_clear(struct store_order *o)
{
	if (!o)
		return;
	free(o->identifiers);
	free(o->error);
	free(o->authz_ids);
	memset(o, 0, sizeof *o);
}

void store_cert_clear(struct store_cert *c)
{
	if (!c)
		return;
	free(c->der);
	memset(c, 0, sizeof *c);
}

/* ---- dispatch ---- */
/* Out structs are zeroed before the backend runs and cleared if it fails, so callers always
 * get either a complete row or an empty struct (safe to clear either way). */

int store_account_insert(struct store *s, const struct store_account *a)
{
	CHECK_ARGS(s && a && a->jwk, __func__);
	return CALL(s, account_insert, a);
}

int store_account_get(struct store *s, const char *id, struct store_account *out)
{
	CHECK_ARGS(s && id && out, __func__);
	memset(out, 0, sizeof *out);
	if (s->ops->account_cached && s->ops->account_cached(s, id, out) == STORE_OK)
		return STORE_OK;
	int rc = CALL(s, account_get, id, out);
	if (rc != STORE_OK)
		store_account_clear(out);
	return rc;
}

int store_account_by_thumbprint(struct store *s, const char *thumbprint, struct store_account *out)
{
	CHECK_ARGS(s && thumbprint && out, __func__);
	memset(out, 0, sizeof *out);
	int rc = CALL(s, account_by_thumbprint, thumbprint, out);
	if (rc != STORE_OK)
		store_account_clear(out);
	return rc;
}

int store_account_update(struct store *s, const struct store_account *a)
{
	CHECK_ARGS(s && a && a->jwk, __func__);
	return CALL(s, account_update, a);
}

int store_authz_get(struct store *s, const char *id, struct store_authz *out)
{
	CHECK_ARGS(s && id && out, __func__);
	memset(out, 0, sizeof *out);
	int rc = CALL(s, authz_get, id, out);
	if (rc != STORE_OK)
		store_authz_clear(out);
	return rc;
}

int store_challenge_get(struct store *s, const char *id, struct store_challenge *out,
                        struct store_authz *authz_out)
{
	CHECK_ARGS(s && id && out, __func__);
	memset(out, 0, sizeof *out);
	if (authz_out)
		memset(authz_out, 0, sizeof *authz_out);
	int rc = CALL(s, challenge_get, id, out, authz_out);
	if (rc != STORE_OK) {
		store_challenge_clear(out);
		store_authz_clear(authz_out);
	}
	return rc;
}

int store_authz_set_status(struct store *s, const char *id, const char *from, const char *to)
{
	CHECK_ARGS(s && id && from && to, __func__);
	return CALL(s, authz_set_status, id, from, to);
}

int store_challenge_start(struct store *s, const char *chall_id)
{
	CHECK_ARGS(s && chall_id, __func__);
	return CALL(s, challenge_start, chall_id, NULL, 0);
}

int store_challenge_start_leased(struct store *s, const char *chall_id, const char *owner, int64_t now,
                                 int64_t lease_seconds)
{
	CHECK_ARGS(s && chall_id && owner && *owner && lease_seconds > 0, __func__);
	return CALL(s, challenge_start, chall_id, owner, now + lease_seconds);
}

int store_challenge_finish(struct store *s, const char *chall_id, int valid, const char *error_json,
                           const char *record_json, int64_t now, int64_t valid_until)
{
	CHECK_ARGS(s && chall_id, __func__);
	return CALL(s, challenge_finish, chall_id, valid, error_json, record_json, now, valid_until);
}

int store_challenge_list_processing(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n)
{
	CHECK_ARGS(s && ids && n, __func__);
	*ids = NULL;
	*n = 0;
	int rc = CALL(s, challenge_list_processing, ids, n);
	if (rc != STORE_OK) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return rc;
}

int store_challenge_claim(struct store *s, const char *chall_id, const char *worker, int64_t now,
                          int64_t lease_seconds, char *out_id)
{
	char dummy[STORE_ID_MAX];
	CHECK_ARGS(s && worker && *worker && lease_seconds > 0 && (chall_id || out_id) &&
	               s->ops->challenge_claim,
	           __func__);
	if (!out_id)
		out_id = dummy;
	out_id[0] = '\0';
	int rc = CALL(s, challenge_claim, chall_id, worker, now, now + lease_seconds, out_id);
	if (rc != STORE_OK)
		out_id[0] = '\0';
	return rc;
}

int store_order_insert(struct store *s, const struct store_order *o,
                       const struct store_authz *new_authzs, size_t nnew)
{
	CHECK_ARGS(s && o && o->identifiers && (o->nauthz == 0 || o->authz_ids) &&
	               (nnew == 0 || new_authzs),
	           __func__);
	for (size_t i = 0; i < nnew; i++)
		CHECK_ARGS(new_authzs[i].nchall == 0 || new_authzs[i].chall, __func__);
	return CALL(s, order_insert, o, new_authzs, nnew);
}

int store_order_get(struct store *s, const char *id, struct store_order *out)
{
	CHECK_ARGS(s && id && out, __func__);
	memset(out, 0, sizeof *out);
	int rc = CALL(s, order_get, id, out);
	if (rc != STORE_OK)
		store_order_clear(out);
	return rc;
}

int store_order_list(struct store *s, const char *account_id, size_t offset, size_t limit,
                     char (**ids)[STORE_ID_MAX], size_t *n)
{
	CHECK_ARGS(s && account_id && ids && n, __func__);
	*ids = NULL;
	*n = 0;
	int rc = CALL(s, order_list, account_id, offset, limit, ids, n);
	if (rc != STORE_OK) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return rc;
}

int store_order_set_status(struct store *s, const char *id, const char *from, const char *to,
                           const char *error_json)
{
	CHECK_ARGS(s && id && from && to, __func__);
	return CALL(s, order_set_status, id, from, to, error_json);
}

int store_order_start_processing(struct store *s, const char *id, int64_t until)
{
	CHECK_ARGS(s && id, __func__);
	return CALL(s, order_start_processing, id, until);
}

int store_order_fail_interrupted(struct store *s, const char *id, int64_t now, const char *error_json)
{
	CHECK_ARGS(s && id, __func__);
	return CALL(s, order_fail_interrupted, id, now, error_json);
}

int store_serial_reserve(struct store *s, const char *serial, const char *order_id, int64_t now)
{
	CHECK_ARGS(s && serial && *serial && order_id, __func__);
	return CALL(s, serial_reserve, serial, order_id, now);
}

int store_serials_reserve(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n, int64_t now)
{
	CHECK_ARGS(s && serials && n > 0, __func__);
	for (size_t i = 0; i < n; i++)
		CHECK_ARGS(serials[i][0] && memchr(serials[i], 0, STORE_ID_MAX), __func__);
	return CALL(s, serials_reserve, serials, n, now);
}

int store_cert_insert_for_order(struct store *s, const struct store_cert *c)
{
	CHECK_ARGS(s && c && c->der && c->der_len > 0, __func__);
	return CALL(s, cert_insert_for_order, c);
}

int store_cert_get(struct store *s, const char *serial, struct store_cert *out)
{
	CHECK_ARGS(s && serial && out, __func__);
	memset(out, 0, sizeof *out);
	int rc = CALL(s, cert_get, serial, out);
	if (rc != STORE_OK)
		store_cert_clear(out);
	return rc;
}

int store_cert_revoke(struct store *s, const char *serial, int reason, int64_t now)
{
	CHECK_ARGS(s && serial && now > 0, __func__);
	return CALL(s, cert_revoke, serial, reason, now);
}

int store_authz_valid_for(struct store *s, const char *account_id, const char *dns_name, int64_t now)
{
	CHECK_ARGS(s && account_id && dns_name, __func__);
	if (!s->ops->authz_valid_for)
		return STORE_ERR;
	return CALL(s, authz_valid_for, account_id, dns_name, now);
}

int store_authz_find_reusable(struct store *s, const char *account_id, const char *ident_type,
                              const char *ident_value, int wildcard, int64_t now,
                              int64_t validated_since, struct store_authz *out)
{
	CHECK_ARGS(s && account_id && ident_type && ident_value && out, __func__);
	memset(out, 0, sizeof *out);
	int rc = s->ops->authz_find_reusable
	             ? CALL(s, authz_find_reusable, account_id, ident_type, ident_value, wildcard ? 1 : 0,
	                                           now, validated_since, out)
	             : STORE_ERR;
	if (rc != STORE_OK)
		store_authz_clear(out);
	return rc;
}

int store_cert_list_revoked(struct store *s, int64_t not_after_min, struct store_revoked **out,
                            size_t *n)
{
	CHECK_ARGS(s && out && n, __func__);
	*out = NULL;
	*n = 0;
	if (!s->ops->cert_list_revoked)
		return STORE_ERR;
	int rc = CALL(s, cert_list_revoked, not_after_min, out, n);
	if (rc != STORE_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int store_cert_replace(struct store *s, const char *serial, const char *order_id, char *by)
{
	CHECK_ARGS(s && serial && order_id && by, __func__);
	char key[STORE_ID_MAX + 16];
	by[0] = '\0';
	snprintf(key, sizeof key, "replaced:%s", serial);
	/* Insert-if-absent in one statement: two instances racing to replace one certificate
	 * cannot both win (issue 6). */
	int rc = CALL(s, meta_insert, key, order_id);
	if (rc == STORE_CONFLICT && CALL(s, meta_get, key, by, STORE_ID_MAX) != STORE_OK)
		by[0] = '\0';
	return rc;
}

int store_key_block(struct store *s, const char *spki_sha256_hex, int64_t now)
{
	CHECK_ARGS(s && spki_sha256_hex && strlen(spki_sha256_hex) == 64, __func__);
	char key[80], val[24];
	snprintf(key, sizeof key, "blockedkey:%s", spki_sha256_hex);
	snprintf(val, sizeof val, "%lld", (long long)now);
	return CALL(s, meta_set, key, val);
}

int store_key_blocked(struct store *s, const char *spki_sha256_hex)
{
	CHECK_ARGS(s && spki_sha256_hex, __func__);
	char key[80], val[24];
	snprintf(key, sizeof key, "blockedkey:%.64s", spki_sha256_hex);
	return CALL(s, meta_get, key, val, sizeof val);
}

void store_sync_defer(struct store *s, int on)
{
	if (s && s->ops->sync_defer)
		s->ops->sync_defer(s, on);
}

uint64_t store_sync_ticket(struct store *s)
{
	return s && s->ops->sync_ticket ? s->ops->sync_ticket(s) : 0;
}

void store_sync_notify(struct store *s, struct store_sync_waiter *w)
{
	w->owner = s;
	w->next = NULL;
	if (s && s->ops->sync_notify && w->ticket)
		s->ops->sync_notify(s, w);
	else
		w->done(w->arg, 1);
}

int store_nonce_redeem(struct store *s, const unsigned char *id, size_t len, uint64_t seq,
                       int64_t expires, int64_t now)
{
	CHECK_ARGS(s && id && len > 0 && seq > 0, __func__);
	/* Not bracketed by enter/leave (store_backend.h): one redemption per request would
	 * otherwise take the shared SQLite connection's mutex for an in-memory check. */
	return s->ops->nonce_redeem(s, id, len, seq, expires, now);
}

int store_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
	CHECK_ARGS(s && key && out && outlen > 0, __func__);
	out[0] = '\0';
	int rc = CALL(s, meta_get, key, out, outlen);
	if (rc != STORE_OK)
		out[0] = '\0';
	return rc;
}

int store_meta_incr(struct store *s, const char *key, int64_t *out)
{
	CHECK_ARGS(s && key && out && s->ops->meta_incr, __func__);
	*out = 0;
	int rc = CALL(s, meta_incr, key, out);
	if (rc != STORE_OK)
		*out = 0;
	return rc;
}

int store_meta_set(struct store *s, const char *key, const char *value)
{
	CHECK_ARGS(s && key && value, __func__);
	return CALL(s, meta_set, key, value);
}
