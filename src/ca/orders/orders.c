/* Order and authorization logic (RFC 8555 §7.1.6 state machines, §7.4 issuance flow).
 * Derived states (ready, expired, invalid-by-authz) are computed on read, never stored twice;
 * an interrupted finalize (processing past its processing_until) is stored invalid on read, once. */
#include "orders.h"
#include "b64url.h"
#include "deadline.h"
#include "issuance/csrcheck.h"
#include "issuance/issue.h"
#include "issuance/serials.h"
#include "log.h"
#include "policy.h"
#include "rand.h"
#include "validation/caa.h"
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *orders_authz_status(const struct store_authz *az, int64_t now)
{
	if ((strcmp(az->status, "pending") == 0 || strcmp(az->status, "valid") == 0) && az->expires <= now)
		return "expired";
	return az->status;
}

static struct problem *authz_failure(const struct store_authz *az, const char *st)
{
	for (size_t i = 0; i < az->nchall; i++) {
		if (strcmp(az->chall[i].status, "invalid") == 0 && az->chall[i].error) {
			json_t *j = json_loads(az->chall[i].error, 0, NULL);
			struct problem *p = j ? problem_from_json(j) : NULL;
			json_decref(j);
			if (p) {
				struct problem *top = problem_new(problem_short_type(p), p->status,
				                                  "authorization for %s failed: %s", az->ident_value, p->detail);
				if (top)
					top->identifier = json_pack("{s:s, s:s}", "type", az->ident_type, "value", az->ident_value);
				problem_free(p);
				return top;
			}
		}
	}
	return problem_new("unauthorized", 403, "authorization for %s is %s", az->ident_value, st);
}

/* One authorization's part in its order's status: clears *all_valid unless it is valid;
 * 1 (with *err_out, if asked for, saying why) if it makes the order invalid. */
static int authz_verdict(const struct store_authz *az, int64_t now, int *all_valid, struct problem **err_out)
{
	const char *st = orders_authz_status(az, now);
	if (strcmp(st, "valid") != 0)
		*all_valid = 0;
	if (strcmp(st, "pending") != 0 && strcmp(st, "valid") != 0) {
		if (err_out)
			*err_out = authz_failure(az, st);
		return 1;
	}
	return 0;
}

int64_t orders_processing_seconds(const struct config *c)
{
	int64_t t = 3 * (((int64_t)c->validation_timeout_ms + 999) / 1000);
	return t > ORDERS_PROCESSING_MIN_SECONDS ? t : ORDERS_PROCESSING_MIN_SECONDS;
}

/* A processing order past its processing_until: the finalize that moved it there died before
 * storing the certificate or failing the order (a crash, kill -9, power cut). RFC 8555 §7.1.6
 * makes processing transient, and a client polls it until valid or invalid, so the order is
 * failed here, once, by a compare-and-set that a certificate stored meanwhile (valid) or a
 * finalize given a later deadline makes miss: then it still reads processing, and the next
 * poll sees what is stored. */
static const char *interrupted(struct store *s, const struct store_order *o, int64_t now,
                               struct problem **err_out)
{
	struct problem *p = problem_new("serverInternal", 500, "issuance was interrupted; create a new order");
	json_t *j = p ? problem_to_json(p) : NULL;
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	int r = text ? store_order_fail_interrupted(s, o->id, now, text) : STORE_ERR;
	free(text);
	if (r != STORE_OK) {
		if (r != STORE_CONFLICT)
			log_error("order %s: could not fail the interrupted finalize", o->id);
		problem_free(p);
		return "processing";
	}
	log_warn("order %s: finalize interrupted (processing until %lld, now %lld): invalid", o->id,
	         (long long)o->processing_until, (long long)now);
	if (err_out)
		*err_out = p;
	else
		problem_free(p);
	return "invalid";
}

static void authzs_free(struct store_authz *azs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_authz_clear(&azs[i]);
	free(azs);
}

/* The order's authorizations, in its order: 0 with *out (authzs_free(*out, o->nauthz)), or -1
 * with *bad the index of the one that could not be loaded (o->nauthz: out of memory). */
static int authzs_load(struct store *s, const struct store_order *o, struct store_authz **out, size_t *bad)
{
	struct store_authz *azs = calloc(o->nauthz ? o->nauthz : 1, sizeof *azs);
	*out = NULL;
	*bad = o->nauthz;
	if (!azs)
		return -1;
	for (size_t i = 0; i < o->nauthz; i++) {
		if (store_authz_get(s, o->authz_ids[i], &azs[i]) != STORE_OK) {
			authzs_free(azs, i);
			*bad = i;
			return -1;
		}
	}
	*out = azs;
	return 0;
}

/* The status of a pending order: invalid once expired (azs is then not read), else from its
 * authorizations azs[0..o->nauthz); *err_out (if asked for) says why it is invalid. Any other
 * stored status is returned as it is. */
static const char *pending_status(const struct store_order *o, const struct store_authz *azs, int64_t now,
                                  struct problem **err_out)
{
	if (strcmp(o->status, "pending") != 0)
		return o->status;
	if (o->expires <= now) {
		if (err_out)
			*err_out = problem_new("malformed", 400, "order expired before it was finalized");
		return "invalid";
	}
	int all_valid = 1;
	for (size_t i = 0; i < o->nauthz; i++)
		if (authz_verdict(&azs[i], now, &all_valid, err_out))
			return "invalid";
	return all_valid ? "ready" : "pending";
}

const char *orders_order_status(struct store *s, const struct store_order *o, int64_t now,
                                struct problem **err_out)
{
	if (err_out)
		*err_out = NULL;
	if (strcmp(o->status, "processing") == 0 && o->processing_until <= now)
		return interrupted(s, o, now, err_out);
	if (strcmp(o->status, "pending") != 0) {
		if (err_out && o->error) {
			json_t *j = json_loads(o->error, 0, NULL);
			*err_out = j ? problem_from_json(j) : NULL;
			json_decref(j);
		}
		return o->status;
	}
	struct store_authz *azs = NULL;
	size_t bad;
	if (o->expires > now && authzs_load(s, o, &azs, &bad) != 0)
		return "pending"; /* storage trouble: do not claim a final state */
	const char *st = pending_status(o, azs, now, err_out);
	authzs_free(azs, azs ? o->nauthz : 0);
	return st;
}

/* One requested identifier after policy: type, the value as the order shows it ("*.x" for a
 * wildcard, RFC 8555 §7.1.3), and the base its authorization is for. */
struct ident {
	char type[8];
	char value[POLICY_NAME_MAX + 3];
	char base[POLICY_NAME_MAX + 1];
	int wildcard;
};

static int ident_cmp(const void *x, const void *y)
{
	const struct ident *a = x, *b = y;
	int t = strcmp(a->type, b->type);
	return t ? t : strcmp(a->value, b->value);
}

/* Checks one identifier against policy; 0 with *out filled, or -1 with *p (NULL: no memory). */
static int check_ident(const struct config *c, const char *type, const char *value, struct ident *out,
                       struct problem **p)
{
	memset(out, 0, sizeof *out);
	if (strcmp(type, "dns") == 0) {
		if (policy_check_dns(c, value, out->base, &out->wildcard, p) != 0)
			return -1;
		snprintf(out->value, sizeof out->value, "%s%s", out->wildcard ? "*." : "", out->base);
	} else if (strcmp(type, "ip") == 0) {
		/* RFC 8738 §3 */
		if (policy_check_ip(c, value, out->base, p) != 0)
			return -1;
		snprintf(out->value, sizeof out->value, "%s", out->base);
	} else {
		*p = problem_new("unsupportedIdentifier", 400, "identifier type \"%.32s\" is not supported; use %s",
		                 type, c->allow_ip ? "\"dns\" or \"ip\"" : "\"dns\"");
		return -1;
	}
	snprintf(out->type, sizeof out->type, "%s", type);
	return 0;
}

/* The challenges offered for an identifier (RFC 8555 §8, RFC 8737 §3, RFC 8738 §7):
 * a wildcard only dns-01 (§7.1.3), an ip address http-01 and tls-alpn-01, never dns-01. */
static size_t challenge_types(const struct ident *id, const char *types[3])
{
	size_t n = 0;
	if (strcmp(id->type, "ip") == 0) {
		types[n++] = "http-01";
		types[n++] = "tls-alpn-01";
	} else if (id->wildcard) {
		types[n++] = "dns-01";
	} else {
		types[n++] = "http-01";
		types[n++] = "dns-01";
		types[n++] = "tls-alpn-01";
	}
	return n;
}

static int new_authz(const struct config *c, const char *account_id, const struct ident *id, int64_t now,
                     struct store_authz *az)
{
	const char *types[3];
	size_t nt = challenge_types(id, types);
	rand_id(az->id);
	snprintf(az->account_id, sizeof az->account_id, "%s", account_id);
	snprintf(az->ident_type, sizeof az->ident_type, "%s", id->type);
	snprintf(az->ident_value, sizeof az->ident_value, "%s", id->base);
	az->wildcard = id->wildcard;
	snprintf(az->status, sizeof az->status, "pending");
	az->created_at = now;
	az->expires = now + c->authz_lifetime;
	az->chall = calloc(nt, sizeof *az->chall);
	if (!az->chall)
		return -1;
	az->nchall = nt;
	for (size_t k = 0; k < nt; k++) {
		struct store_challenge *ch = &az->chall[k];
		rand_id(ch->id);
		memcpy(ch->authz_id, az->id, sizeof ch->authz_id);
		snprintf(ch->type, sizeof ch->type, "%s", types[k]);
		rand_token(ch->token);
		snprintf(ch->status, sizeof ch->status, "pending");
	}
	return 0;
}

int orders_create(struct store *s, const struct config *c, const char *account_id, const json_t *payload,
                  int64_t now, struct store_order *out, const char **status, struct problem **prob)
{
	memset(out, 0, sizeof *out);
	if (status)
		*status = NULL;
	json_t *idents = json_object_get(payload, "identifiers");
	struct ident *ids = NULL;
	size_t n = 0, nnew = 0;
	struct store_authz *authzs = NULL;
	struct problem *bad = NULL;
	size_t nbad = 0;
	int rc = -1;

	if (!json_is_array(idents) || json_array_size(idents) == 0) {
		*prob = problem_new("malformed", 400, "newOrder needs a non-empty \"identifiers\" array");
		return -1;
	}
	size_t count = json_array_size(idents);
	if (count > (size_t)c->max_identifiers) {
		*prob = problem_new("rejectedIdentifier", 400, "order has %zu identifiers; at most %d are allowed", count,
		                    c->max_identifiers);
		return -1;
	}
	/* RFC 8555 §7.4: notBefore/notAfter are optional for the server; this CA sets validity itself. */
	if (json_object_get(payload, "notBefore") || json_object_get(payload, "notAfter")) {
		*prob = problem_new("malformed", 400, "this CA does not accept notBefore or notAfter in orders");
		return -1;
	}
	ids = calloc(count, sizeof *ids);
	if (!ids)
		goto oom;
	for (size_t i = 0; i < count; i++) {
		json_t *id = json_array_get(idents, i);
		const char *type = json_string_value(json_object_get(id, "type"));
		const char *value = json_string_value(json_object_get(id, "value"));
		if (!json_is_object(id) || !type || !value) {
			*prob = problem_new("malformed", 400, "identifier %zu needs string \"type\" and \"value\"", i);
			goto done;
		}
		struct problem *p = NULL;
		if (check_ident(c, type, value, &ids[n], &p) == 0) {
			size_t k;
			for (k = 0; k < n; k++)
				if (ident_cmp(&ids[k], &ids[n]) == 0)
					break;
			if (k == n)
				n++;
			continue;
		}
		if (!p)
			goto oom;
		p->identifier = json_pack("{s:s, s:s}", "type", type, "value", value);
		if (!bad)
			bad = problem_new(problem_short_type(p), p->status, "%s", p->detail);
		nbad++;
		problem_add_sub(bad, p);
	}
	if (bad) {
		/* One bad identifier: its problem is the answer; several: subproblems (§6.7.1). */
		if (nbad > 1) {
			free(bad->detail);
			bad->detail = strdup("cannot issue for several of these identifiers: see subproblems");
		}
		*prob = bad;
		bad = NULL;
		goto done;
	}
	qsort(ids, n, sizeof *ids, ident_cmp);
	authzs = calloc(n, sizeof *authzs);
	out->authz_ids = calloc(n, sizeof *out->authz_ids);
	json_t *jids = json_array();
	if (!authzs || !out->authz_ids || !jids) {
		json_decref(jids);
		goto oom;
	}
	out->expires = now + c->order_lifetime;
	if (out->expires > now + c->authz_lifetime)
		out->expires = now + c->authz_lifetime;
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(jids, json_pack("{s:s, s:s}", "type", ids[i].type, "value", ids[i].value));
		if (c->authz_reuse > 0) {
			/* Authorization reuse, as at Let's Encrypt: a valid authorization of this account
			 * for the same identifier, validated within the window, serves the new order. */
			struct store_authz old;
			int r = store_authz_find_reusable(s, account_id, ids[i].type, ids[i].base, ids[i].wildcard, now,
			                                  now - c->authz_reuse, &old);
			if (r == STORE_OK) {
				memcpy(out->authz_ids[i], old.id, sizeof out->authz_ids[i]);
				/* The order cannot outlive an authorization it rests on (Boulder does the same). */
				if (old.expires < out->expires)
					out->expires = old.expires;
				store_authz_clear(&old);
				continue;
			}
			if (r != STORE_NOTFOUND) {
				json_decref(jids);
				*prob = problem_new("serverInternal", 500, "could not look up existing authorizations");
				goto done;
			}
		}
		if (new_authz(c, account_id, &ids[i], now, &authzs[nnew]) != 0) {
			json_decref(jids);
			goto oom;
		}
		memcpy(out->authz_ids[i], authzs[nnew].id, sizeof out->authz_ids[i]);
		nnew++;
	}
	out->identifiers = json_dumps(jids, JSON_COMPACT);
	json_decref(jids);
	rand_id(out->id);
	snprintf(out->account_id, sizeof out->account_id, "%s", account_id);
	snprintf(out->status, sizeof out->status, "pending");
	out->created_at = now;
	out->nauthz = n;
	if (!out->identifiers)
		goto oom;
	if (store_order_insert(s, out, authzs, nnew) != STORE_OK) {
		*prob = problem_new("serverInternal", 500, "could not store the order");
		goto done;
	}
	/* New authorizations are pending, reused ones valid (store_authz_find_reusable): what
	 * orders_order_status would read back from the store (issue 7: one store call fewer). */
	if (status)
		*status = nnew ? "pending" : "ready";
	rc = 0;
	goto done;
oom:
	*prob = problem_new("serverInternal", 500, "out of memory");
done:
	problem_free(bad);
	free(ids);
	for (size_t i = 0; authzs && i < nnew; i++)
		free(authzs[i].chall);
	free(authzs);
	if (rc)
		store_order_clear(out);
	return rc;
}

static void fail_order(struct store *s, const char *id, struct problem *p)
{
	json_t *j = problem_to_json(p);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	int r = store_order_set_status(s, id, "processing", "invalid", text);
	if (r == STORE_CONFLICT) /* failed as interrupted meanwhile (orders_order_status) */
		log_warn("order %s: no longer processing when its failure was to be recorded", id);
	else if (r != STORE_OK)
		log_error("order %s: could not record the failure", id);
	free(text);
}

/* Whether az's CAA must be checked again before issuance at now: a dns authorization (RFC
 * 8738 defines no CAA for ip identifiers) whose valid challenge, in *valid (NULL if none), is
 * older than ORDERS_CAA_RECHECK_SECONDS or missing. */
static int recheck_needed(const struct store_authz *az, int64_t now, const struct store_challenge **valid)
{
	const struct store_challenge *ch = NULL;
	for (size_t k = 0; k < az->nchall; k++)
		if (strcmp(az->chall[k].status, "valid") == 0)
			ch = &az->chall[k];
	*valid = ch;
	return strcmp(az->ident_type, "dns") == 0 && (!ch || now - ch->validated_at > ORDERS_CAA_RECHECK_SECONDS);
}

/* CAA again before issuance for every dns authorization of the order whose check (made when
 * its challenge validated) is older than ORDERS_CAA_RECHECK_SECONDS. NULL if issuance may go on.
 * No lookup starts after stop (CLOCK_MONOTONIC): each takes at most validationTimeoutMs, so the
 * recheck ends within one of them after stop, and the finalize before its processing_until. */
static struct problem *caa_recheck(const struct config *c, struct resolver *r, const struct store_order *o,
                                   const struct store_authz *azs, int64_t now, const struct timespec *stop)
{
	char acct_uri[700];
	snprintf(acct_uri, sizeof acct_uri, "%s/acme/acct/%s", c->base_url, o->account_id);
	for (size_t i = 0; i < o->nauthz; i++) {
		const struct store_authz az = azs[i];
		const struct store_challenge *ch;
		struct problem *p = NULL;
		if (recheck_needed(&az, now, &ch)) {
			if (!r) {
				p = problem_new("serverInternal", 500, "no resolver to recheck CAA for %s", az.ident_value);
			} else if (deadline_ms_left(stop) == 0) {
				p = problem_new("serverInternal", 500,
				                "CAA rechecks took too long (at %s); create a new order", az.ident_value);
			} else if (caa_check_name(r, az.ident_value, az.wildcard, (const char *const *)c->caa_identities,
			                          c->ncaa_identities, acct_uri, ch ? ch->type : NULL, &p) == 1) {
				log_info("order %s: CAA rechecked for %s%s (validated %lld s ago): permitted", o->id,
				         az.wildcard ? "*." : "", az.ident_value,
				         ch ? (long long)(now - ch->validated_at) : -1LL);
			} else if (!p) {
				p = problem_new("caa", 403, "CAA records for %s forbid issuance", az.ident_value);
			}
			if (p && !p->identifier)
				p->identifier = json_pack("{s:s, s:s}", "type", az.ident_type, "value", az.ident_value);
		}
		if (p)
			return p;
	}
	return NULL;
}

/* The CSR's key must not be on the block list (keys revoked for keyCompromise): the hash is
 * lifecycle_spki_hash's, SHA-256 of the DER SubjectPublicKeyInfo in hex, taken over the
 * bytes the CSR carried (re-encoding the key with i2d_PUBKEY cost ~70 us, issue 7 profile).
 * A lookup that fails refuses issuance. */
static struct problem *key_blocked(struct store *s, const struct csr *csr)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	SHA256(csr->spki, csr->spki_len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	int r = store_key_blocked(s, hex);
	if (r == STORE_NOTFOUND)
		return NULL;
	if (r == STORE_OK)
		return problem_new("badPublicKey", 400, "the CSR's key is on the block list (revoked for keyCompromise)");
	return problem_new("serverInternal", 500, "could not check the key block list");
}


/* What the two halves of a finalize share: the checked request and the bound of its
 * processing (finalize_begin fills it, finalize_end issues from it; fin_clear). */
struct fin {
	struct ca *ca;
	struct serials *serials;
	const struct config *c;
	uint8_t *der;
	size_t der_len;
	json_t *ids;
	const char **names;
	size_t n;
	struct csr req;
	int64_t now, budget;
	struct timespec stop; /* no CAA lookup starts after this (CLOCK_MONOTONIC) */
};

static void fin_clear(struct fin *f)
{
	csr_clear(&f->req);
	free(f->names);
	json_decref(f->ids);
	free(f->der);
	memset(f, 0, sizeof *f);
}

/* The first half of a finalize, after the authorizations (azs, o->nauthz of them) were
 * loaded: the order is ready, the CSR fits it and its key is not blocked; then the order is
 * moved to processing. 0 with *f filled (fin_clear), or -1 with *prob. */
static int finalize_begin(struct store *s, struct ca *ca, struct serials *serials, const struct config *c,
                          struct store_order *o, const struct store_authz *azs, const json_t *payload,
                          int64_t now, struct problem **prob, struct fin *f)
{
	memset(f, 0, sizeof *f);
	f->ca = ca;
	f->serials = serials;
	f->c = c;
	f->now = now;
	const char *st = pending_status(o, azs, now, NULL);
	if (strcmp(st, "ready") != 0) {
		/* RFC 8555 §7.4: finalizing an order that is not ready is orderNotReady (403). */
		*prob = problem_new("orderNotReady", 403, "order is \"%s\", not \"ready\"%s", st,
		                    strcmp(st, "pending") == 0 ? ": complete its authorizations first" : "");
		return -1;
	}
	const char *csr_b64 = json_string_value(json_object_get(payload, "csr"));
	if (!csr_b64) {
		*prob = problem_new("malformed", 400, "finalize needs a \"csr\" string");
		return -1;
	}
	if (strlen(csr_b64) > CSR_MAX_DER * 4 / 3 + 4) {
		*prob = problem_new("badCSR", 400, "CSR is larger than %d bytes", CSR_MAX_DER);
		return -1;
	}
	if (b64url_decode(csr_b64, strlen(csr_b64), &f->der, &f->der_len)) {
		*prob = problem_new("malformed", 400, "\"csr\" is not base64url (RFC 8555 §7.4)");
		return -1;
	}
	f->ids = json_loads(o->identifiers, 0, NULL);
	f->n = json_array_size(f->ids);
	f->names = calloc(f->n ? f->n : 1, sizeof *f->names);
	if (!f->names) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < f->n; i++)
		f->names[i] = json_string_value(json_object_get(json_array_get(f->ids, i), "value"));
	if (csrcheck_verify(f->der, f->der_len, f->names, f->n, &f->req, prob) ||
	    (*prob = key_blocked(s, &f->req)) != NULL)
		goto fail;
	/* From here until the certificate is stored the order is processing; processing_until
	 * bounds that for readers (orders_order_status), so that a finalize interrupted by a crash
	 * does not leave the order processing for ever, and half of it bounds the CAA recheck. */
	f->budget = orders_processing_seconds(c);
	f->stop = deadline_after_ms((int)(f->budget * 1000 / 2));
	int r = store_order_start_processing(s, o->id, now + f->budget);
	if (r == STORE_CONFLICT) {
		*prob = problem_new("orderNotReady", 403, "order is already being finalized");
		goto fail;
	}
	if (r != STORE_OK) {
		*prob = problem_new("serverInternal", 500, "could not update the order");
		goto fail;
	}
	snprintf(o->status, sizeof o->status, "processing");
	o->processing_until = now + f->budget;
	return 0;
fail:
	fin_clear(f);
	return -1;
}

/* The second half, with the order processing: CAA again where due, a serial, the certificate
 * signed and stored, the order valid (a failure fails the order). */
static int finalize_end(struct store *s, struct resolver *res, struct store_order *o,
                        const struct store_authz *azs, struct fin *f, struct problem **prob, uint64_t *sync_ticket)
{
	unsigned char *cert = NULL;
	size_t cert_len = 0;
	int rc = -1;
	/* CAA is rechecked after the order left pending, so a second finalize cannot race it; a
	 * refusal fails the order (the client starts a new one after fixing its CAA records). */
	if ((*prob = caa_recheck(f->c, res, o, azs, f->now, &f->stop)) != NULL) {
		log_info("order %s: refused at finalize: %s", o->id, (*prob)->detail);
		fail_order(s, o->id, *prob);
		goto done;
	}
	/* design.md §4: the serial is durable before anything is signed with it (reserved in
	 * blocks, serials.h; store_cert_insert_for_order binds it to this order). */
	char serial[STORE_ID_MAX];
	if (serials_take(f->serials, s, f->now, serial) != 0) {
		*prob = problem_new("serverInternal", 500, "could not reserve a serial number");
		fail_order(s, o->id, *prob);
		goto done;
	}
	char err[256];
	int64_t nb = 0, na = 0;
	if (ca_issue(f->ca, &f->req, f->names, f->n, serial, 0, 0, &cert, &cert_len, &nb, &na, err, sizeof err)) {
		log_error("order %s: issuance failed: %s", o->id, err);
		*prob = problem_new("serverInternal", 500, "issuance failed");
		fail_order(s, o->id, *prob);
		goto done;
	}
	struct store_cert sc;
	memset(&sc, 0, sizeof sc);
	snprintf(sc.serial, sizeof sc.serial, "%s", serial);
	snprintf(sc.account_id, sizeof sc.account_id, "%s", o->account_id);
	snprintf(sc.order_id, sizeof sc.order_id, "%s", o->id);
	sc.der = cert;
	sc.der_len = cert_len;
	sc.issued_at = f->now;
	sc.not_before = nb;
	sc.not_after = na;
	if (sync_ticket)
		store_sync_defer(s, 1);
	int r = store_cert_insert_for_order(s, &sc);
	if (sync_ticket) {
		store_sync_defer(s, 0);
		*sync_ticket = store_sync_ticket(s);
	}
	if (r != STORE_OK) {
		if (r == STORE_CONFLICT)
			log_warn("order %s: no longer processing when its certificate %s was to be stored "
			         "(failed as interrupted after %lld s?)", o->id, serial, (long long)f->budget);
		*prob = problem_new("serverInternal", 500, "could not store the certificate");
		fail_order(s, o->id, *prob);
		goto done;
	}
	log_info("issued %s for order %s (%zu names, first %s)", serial, o->id, f->n, f->n ? f->names[0] : "");
	/* What store_cert_insert_for_order changed, without reading the order back. */
	snprintf(o->status, sizeof o->status, "valid");
	snprintf(o->cert_serial, sizeof o->cert_serial, "%s", serial);
	rc = 0;
done:
	OPENSSL_free(cert);
	return rc;
}

/* Whether finalize_end would look CAA up again (caa_recheck's condition). */
static int recheck_due(const struct store_order *o, const struct store_authz *azs, int64_t now)
{
	const struct store_challenge *ch;
	for (size_t i = 0; i < o->nauthz; i++)
		if (recheck_needed(&azs[i], now, &ch))
			return 1;
	return 0;
}

struct orders_finalize_later {
	char order_id[STORE_ID_MAX];
	struct fin f;
};

int orders_finalize_start(struct store *s, struct ca *ca, struct serials *serials, const struct config *c,
                          struct resolver *res, struct store_order *o, const json_t *payload, int64_t now,
                          struct problem **prob, uint64_t *sync_ticket, struct orders_finalize_later **later)
{
	if (sync_ticket)
		*sync_ticket = 0;
	if (later)
		*later = NULL;
	/* The authorizations are loaded once: for the status and for the CAA recheck. */
	struct store_authz *azs;
	size_t bad;
	if (authzs_load(s, o, &azs, &bad) != 0) {
		*prob = bad < o->nauthz ? problem_new("serverInternal", 500, "could not load authorization %s",
		                                      o->authz_ids[bad])
		                        : problem_new("serverInternal", 500, "out of memory");
		return -1;
	}
	struct fin f;
	int rc = finalize_begin(s, ca, serials, c, o, azs, payload, now, prob, &f);
	if (rc == 0 && later && recheck_due(o, azs, now)) {
		struct orders_finalize_later *l = calloc(1, sizeof *l);
		if (l) {
			snprintf(l->order_id, sizeof l->order_id, "%s", o->id);
			l->f = f; /* its heap members are l's now */
			*later = l;
			authzs_free(azs, o->nauthz);
			return ORDERS_FINALIZE_LATER;
		}
	}
	if (rc == 0) {
		rc = finalize_end(s, res, o, azs, &f, prob, sync_ticket);
		fin_clear(&f);
	}
	authzs_free(azs, o->nauthz);
	return rc;
}

int orders_finalize(struct store *s, struct ca *ca, struct serials *serials, const struct config *c,
                    struct resolver *res, struct store_order *o, const json_t *payload, int64_t now,
                    struct problem **prob, uint64_t *sync_ticket)
{
	return orders_finalize_start(s, ca, serials, c, res, o, payload, now, prob, sync_ticket, NULL);
}

int orders_finalize_later_run(struct orders_finalize_later *l, struct store *s, struct resolver *res,
                              struct store_order *o, struct problem **prob)
{
	struct store_authz *azs = NULL;
	size_t bad;
	int rc = -1;
	memset(o, 0, sizeof *o);
	/* The order and its authorizations as stored now: nothing but this finalize changes a
	 * processing order, and an interrupted one fails its certificate's compare-and-set. */
	if (store_order_get(s, l->order_id, o) != STORE_OK || authzs_load(s, o, &azs, &bad) != 0) {
		/* Left processing: read as interrupted once its processing_until passes. */
		log_error("order %s: could not load it to finish its finalize", l->order_id);
		*prob = problem_new("serverInternal", 500, "could not load the order to finish its finalize");
		goto out;
	}
	rc = finalize_end(s, res, o, azs, &l->f, prob, NULL);
	authzs_free(azs, o->nauthz);
out:
	orders_finalize_later_free(l);
	return rc;
}

void orders_finalize_later_free(struct orders_finalize_later *l)
{
	if (!l)
		return;
	fin_clear(&l->f);
	free(l);
}
