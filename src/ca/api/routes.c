/* ACME resources: directory, nonces, orders, authorizations, challenges, finalize,
 * certificates (RFC 8555 §7), and the URL routing for them all. Handlers authenticate, call
 * orders/, render JSON. Accounts are accounts.c's; revocation, keyChange, CRLs and renewal
 * information lifecycle.c's. */
#include "routes.h"
#include "accounts.h"
#include "auth.h"
#include "b64url.h"
#include "lifecycle.h"
#include "log.h"
#include "orders/orders.h"
#include "reply.h"
#include "replywait.h"
#include <event2/buffer.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- rendering ---- */

static json_t *render_challenge(struct api *a, const struct store_challenge *ch)
{
	char url[600], t[32];
	reply_url(a, url, sizeof url, "chall", ch->id);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "type", ch->type, "url", url, "status", ch->status, "token",
	                      ch->token);
	if (ch->validated_at)
		json_object_set_new(j, "validated", json_string(reply_time(ch->validated_at, t, sizeof t)));
	if (ch->error) {
		json_t *e = json_loads(ch->error, 0, NULL);
		if (e)
			json_object_set_new(j, "error", e);
	}
	if (ch->record) {
		json_t *r = json_loads(ch->record, 0, NULL);
		if (r)
			json_object_set_new(j, "validationRecord", r);
	}
	return j;
}

static json_t *render_authz(struct api *a, const struct store_authz *az, int64_t now)
{
	char t[32];
	json_t *ch = json_array();
	for (size_t i = 0; i < az->nchall; i++)
		json_array_append_new(ch, render_challenge(a, &az->chall[i]));
	json_t *j = json_pack("{s:{s:s, s:s}, s:s, s:s, s:o}", "identifier", "type", az->ident_type, "value",
	                      az->ident_value, "status", orders_authz_status(az, now), "expires",
	                      reply_time(az->expires, t, sizeof t), "challenges", ch);
	if (az->wildcard)
		json_object_set_new(j, "wildcard", json_true());
	return j;
}

static json_t *render_order(struct api *a, const struct store_order *o, const char *status, struct problem *err)
{
	char t[32], url[600];
	json_t *authz = json_array();
	for (size_t i = 0; i < o->nauthz; i++) {
		reply_url(a, url, sizeof url, "authz", o->authz_ids[i]);
		json_array_append_new(authz, json_string(url));
	}
	json_t *ids = json_loads(o->identifiers, 0, NULL);
	reply_url(a, url, sizeof url, "finalize", o->id);
	json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:s}", "status", status, "expires",
	                      reply_time(o->expires, t, sizeof t), "identifiers", ids ? ids : json_array(),
	                      "authorizations", authz, "finalize", url);
	if (o->cert_serial[0]) {
		reply_url(a, url, sizeof url, "cert", o->cert_serial);
		json_object_set_new(j, "certificate", json_string(url));
	}
	if (err && strcmp(status, "invalid") == 0)
		json_object_set_new(j, "error", problem_to_json(err));
	return j;
}

/* ---- helpers ---- */

static void request_url(struct api *a, struct evhttp_request *req, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", a->cfg->base_url, evhttp_request_get_uri(req));
}

/* RFC 8555 §6.3: resources are fetched with POST-as-GET; a plain GET gets 405. */
static void method_not_allowed(struct api *a, struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	reply_problem(a, req, problem_new("malformed", 405, "use %s for this resource (RFC 8555 §6.3)", allow));
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static void retry_after(struct api *a, struct evhttp_request *req)
{
	char v[16];
	snprintf(v, sizeof v, "%d", a->cfg->retry_after);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
}

/* ---- directory and nonces ---- */

static void h_directory(struct api *a, struct evhttp_request *req)
{
	char u1[600], u2[600], u3[600];
	snprintf(u1, sizeof u1, "%s/acme/new-nonce", a->cfg->base_url);
	snprintf(u2, sizeof u2, "%s/acme/new-account", a->cfg->base_url);
	snprintf(u3, sizeof u3, "%s/acme/new-order", a->cfg->base_url);
	json_t *caa = json_array();
	for (size_t i = 0; i < a->cfg->ncaa_identities; i++)
		json_array_append_new(caa, json_string(a->cfg->caa_identities[i]));
	json_t *meta = json_pack("{s:o, s:b}", "caaIdentities", caa, "externalAccountRequired", 0);
	if (a->cfg->tos_url)
		json_object_set_new(meta, "termsOfService", json_string(a->cfg->tos_url));
	if (a->cfg->website)
		json_object_set_new(meta, "website", json_string(a->cfg->website));
	/* RFC 8555 §7.1.1, RFC 9773 §3. */
	char u4[600], u5[600], u6[600];
	snprintf(u4, sizeof u4, "%s/acme/revoke-cert", a->cfg->base_url);
	snprintf(u6, sizeof u6, "%s/acme/key-change", a->cfg->base_url);
	snprintf(u5, sizeof u5, "%s/acme/renewal-info", a->cfg->base_url);
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "newNonce", u1, "newAccount", u2, "newOrder",
	                      u3, "revokeCert", u4, "keyChange", u6, "renewalInfo", u5, "meta", meta);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "public, max-age=0, no-cache");
	reply_json(a, req, 200, d, NULL);
}

static void h_new_nonce(struct api *a, struct evhttp_request *req)
{
	/* RFC 8555 §7.2: HEAD answers 200, GET 204; both carry a nonce and no-store. */
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_HEAD && cmd != EVHTTP_REQ_GET) {
		method_not_allowed(a, req, "HEAD, GET");
		return;
	}
	reply_headers(a, req, 1, 0);
	reply_raw(a, req, cmd == EVHTTP_REQ_HEAD ? 200 : 204, NULL, NULL, 0);
}

/* ---- orders (§7.4) ---- */

/* known: the order's derived status when the caller already has it (a new order), else NULL. */
static void send_order(struct api *a, struct evhttp_request *req, int status, const struct store_order *o,
                       const char *location, const char *known)
{
	struct problem *err = NULL;
	const char *st = known ? known : orders_order_status(a->store, o, now_s(), &err);
	if (strcmp(st, "processing") == 0)
		retry_after(a, req);
	json_t *j = render_order(a, o, st, err);
	problem_free(err);
	reply_json(a, req, status, j, location);
}

static void h_new_order(struct api *a, struct evhttp_request *req, const char *url)
{
	struct auth au;
	struct problem *p = NULL;
	if (auth_request(a, req, url, AUTH_KID, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	struct store_order o;
	if (au.post_as_get) {
		reply_problem(a, req, problem_new("malformed", 400, "newOrder needs a JSON object payload"));
		goto done;
	}
	char replaces[STORE_ID_MAX];
	const char *st = NULL;
	if (lifecycle_check_replaces(a, au.acct.id, au.payload, replaces, &p) ||
	    orders_create(a->store, a->cfg, au.acct.id, au.payload, now_s(), &o, &st, &p)) {
		reply_problem(a, req, p);
		goto done;
	}
	if (replaces[0] && lifecycle_record_replaces(a, replaces, o.id, &p)) {
		store_order_clear(&o);
		reply_problem(a, req, p);
		goto done;
	}
	char loc[600];
	reply_url(a, loc, sizeof loc, "order", o.id);
	send_order(a, req, 201, &o, loc, st);
	store_order_clear(&o);
done:
	auth_clear(&au);
}

/* Loads an order the signer owns; replies with the problem and returns -1 otherwise. */
static int load_own_order(struct api *a, struct evhttp_request *req, const struct auth *au, const char *id,
                          struct store_order *o)
{
	int r = store_order_get(a->store, id, o);
	if (r == STORE_NOTFOUND) {
		reply_problem(a, req, problem_new("malformed", 404, "no such order"));
		return -1;
	}
	if (r != STORE_OK) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not load the order"));
		return -1;
	}
	if (strcmp(o->account_id, au->acct.id) != 0) {
		store_order_clear(o);
		reply_problem(a, req, problem_new("unauthorized", 403, "this order belongs to another account"));
		return -1;
	}
	return 0;
}

static void h_order(struct api *a, struct evhttp_request *req, const char *url, const char *id)
{
	struct auth au;
	struct problem *p = NULL;
	if (auth_request(a, req, url, AUTH_KID, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	struct store_order o;
	if (load_own_order(a, req, &au, id, &o) == 0) {
		send_order(a, req, 200, &o, NULL, NULL);
		store_order_clear(&o);
	}
	auth_clear(&au);
}

/* The reply to a finalize whose certificate is stored: the order (valid), or, if the
 * certificate's commit could not be synced, a server error: nothing promised that a crash could
 * take back. */
static void send_finalized(struct api *a, struct evhttp_request *req, void *order, int ok)
{
	const struct store_order *o = order;
	if (!ok) {
		reply_problem(a, req, problem_new("serverInternal", 500, "the certificate could not be stored durably"));
		return;
	}
	char loc[600];
	reply_url(a, loc, sizeof loc, "order", o->id);
	send_order(a, req, 200, o, loc, NULL);
}

static void free_order(void *order)
{
	store_order_clear(order);
	free(order);
}

/* A finalize's second half on a validation worker (orders_finalize_start's LATER): its result
 * reaches the client through the order, which it polls. */
static void finalize_later_task(void *arg, struct store *s, struct resolver *r)
{
	struct store_order o;
	struct problem *p = NULL;
	(void)orders_finalize_later_run(arg, s, r, &o, &p); /* the outcome is in the order, and logged */
	problem_free(p);
	store_order_clear(&o);
}

static void finalize_later_drop(void *arg)
{
	orders_finalize_later_free(arg);
}

static void h_finalize(struct api *a, struct evhttp_request *req, const char *url, const char *id)
{
	struct auth au;
	struct problem *p = NULL;
	if (auth_request(a, req, url, AUTH_KID, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	struct store_order o;
	if (load_own_order(a, req, &au, id, &o) != 0)
		goto done;
	uint64_t ticket = 0;
	struct orders_finalize_later *later = NULL;
	int r = au.post_as_get ? -2
	                       : orders_finalize_start(a->store, a->ca, a->serials, a->cfg, a->resolver, &o, au.payload,
	                                               now_s(), &p, &ticket, a->pool ? &later : NULL);
	if (r == ORDERS_FINALIZE_LATER) {
		/* Its CAA recheck would wait on DNS: a worker finishes it, the client polls the
		 * processing order (RFC 8555 §7.4). With no room there, it is finished here. */
		if (va_pool_submit_task(a->pool, finalize_later_task, finalize_later_drop, later) == 0) {
			send_finalized(a, req, &o, 1);
			goto clear;
		}
		store_order_clear(&o);
		r = orders_finalize_later_run(later, a->store, a->resolver, &o, &p) == 0 ? 0 : -1;
	}
	if (r == -2) {
		reply_problem(a, req, problem_new("malformed", 400, "finalize needs a payload with \"csr\""));
	} else if (r != 0) {
		reply_problem(a, req, p);
	} else if (!ticket) {
		send_finalized(a, req, &o, 1);
	} else {
		/* The certificate is committed; the reply waits for it to be on disk, the loop
		 * does not (replywait.h). */
		struct store_order *keep = malloc(sizeof *keep);
		if (keep) {
			*keep = o;
			memset(&o, 0, sizeof o); /* its heap members are keep's now */
		}
		if (!keep || replywait_start(a, req, ticket, send_finalized, keep, free_order) != 0) {
			if (keep) {
				o = *keep;
				free(keep);
			}
			send_finalized(a, req, &o, replywait_block(a->store, ticket));
		}
	}
clear:
	store_order_clear(&o);
done:
	auth_clear(&au);
}

/* ---- authorizations and challenges (§7.5) ---- */

static int load_own_authz(struct api *a, struct evhttp_request *req, const struct auth *au, const char *id,
                          struct store_authz *az)
{
	int r = store_authz_get(a->store, id, az);
	if (r == STORE_NOTFOUND) {
		reply_problem(a, req, problem_new("malformed", 404, "no such authorization"));
		return -1;
	}
	if (r != STORE_OK) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not load the authorization"));
		return -1;
	}
	if (strcmp(az->account_id, au->acct.id) != 0) {
		store_authz_clear(az);
		reply_problem(a, req, problem_new("unauthorized", 403, "this authorization belongs to another account"));
		return -1;
	}
	return 0;
}

static int any_processing(const struct store_authz *az)
{
	for (size_t i = 0; i < az->nchall; i++)
		if (strcmp(az->chall[i].status, "processing") == 0)
			return 1;
	return 0;
}

static void h_authz(struct api *a, struct evhttp_request *req, const char *url, const char *id)
{
	struct auth au;
	struct problem *p = NULL;
	if (auth_request(a, req, url, AUTH_KID, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	struct store_authz az;
	if (load_own_authz(a, req, &au, id, &az) != 0)
		goto done;
	if (!au.post_as_get) {
		/* §7.5.2: the only change a client may ask for is deactivation. */
		json_t *st = json_object_get(au.payload, "status");
		if (!st || !json_is_string(st) || strcmp(json_string_value(st), "deactivated") != 0) {
			reply_problem(a, req, problem_new("malformed", 400, "an authorization can only be set to \"deactivated\""));
			goto free_az;
		}
		const char *cur = orders_authz_status(&az, now_s());
		if ((strcmp(cur, "pending") != 0 && strcmp(cur, "valid") != 0) ||
		    store_authz_set_status(a->store, az.id, az.status, "deactivated") != STORE_OK) {
			reply_problem(a, req, problem_new("malformed", 400, "authorization is %s and cannot be deactivated", cur));
			goto free_az;
		}
		snprintf(az.status, sizeof az.status, "deactivated");
	}
	if (strcmp(az.status, "pending") == 0 && any_processing(&az))
		retry_after(a, req);
	reply_json(a, req, 200, render_authz(a, &az, now_s()), NULL);
free_az:
	store_authz_clear(&az);
done:
	auth_clear(&au);
}

/* A challenge object as the reply (§7.5.1), with Retry-After while it is processing. */
static void reply_challenge(struct api *a, struct evhttp_request *req, const struct store_challenge *ch)
{
	if (strcmp(ch->status, "processing") == 0)
		retry_after(a, req);
	reply_json(a, req, 200, render_challenge(a, ch), NULL);
}

/* The reply to a challenge POST that waited for the validation it started (replywait_start_wake):
 * the challenge as it is now, valid or invalid if the worker finished within
 * challengeReplyWaitMs, else still processing. */
static void challenge_reply(struct api *a, struct evhttp_request *req, void *ctx, int woken)
{
	(void)woken;
	const char *id = ctx;
	struct store_challenge ch;
	struct store_authz az;
	if (store_challenge_get(a->store, id, &ch, &az) != STORE_OK) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not reload the challenge"));
		return;
	}
	reply_challenge(a, req, &ch);
	store_challenge_clear(&ch);
	store_authz_clear(&az);
}

static void h_challenge(struct api *a, struct evhttp_request *req, const char *url, const char *id)
{
	struct auth au;
	struct problem *p = NULL;
	if (auth_request(a, req, url, AUTH_KID, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	struct store_challenge ch;
	struct store_authz az;
	int r = store_challenge_get(a->store, id, &ch, &az);
	if (r == STORE_NOTFOUND) {
		reply_problem(a, req, problem_new("malformed", 404, "no such challenge"));
		goto done;
	}
	if (r != STORE_OK) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not load the challenge"));
		goto done;
	}
	if (strcmp(az.account_id, au.acct.id) != 0) {
		reply_problem(a, req, problem_new("unauthorized", 403, "this challenge belongs to another account"));
		goto free_ch;
	}
	char up[600];
	reply_url(a, up, sizeof up, "authz", az.id);
	reply_link(req, up, "up");
	/* §7.5.1: a POST with a JSON object (normally {}) asks for validation; POST-as-GET reads. */
	if (!au.post_as_get && strcmp(ch.status, "pending") == 0) {
		const char *ast = orders_authz_status(&az, now_s());
		if (strcmp(ast, "pending") != 0) {
			reply_problem(a, req, problem_new("malformed", 400, "authorization is %s; this challenge can no longer be answered", ast));
			goto free_ch;
		}
		r = va_pool_start_challenge(a->pool, a->store, ch.id);
		if (r == STORE_OK) {
			/* The reply is "the updated challenge object" (§7.5.1). A validation that ends
			 * within challengeReplyWaitMs (a local or fast one) is in it, and the client's first
			 * poll finds the authorization final: it saves the client a polling round (lego
			 * does not poll at all after a valid challenge). A slower one is answered
			 * "processing" as before, with Retry-After. A validation that ended before the wait
			 * was registered left its wake behind (replywait.c): answered at once too. */
			char *cid = a->pool && a->cfg->challenge_wait_ms > 0 ? strdup(ch.id) : NULL;
			if (cid && replywait_start_wake(a, req, cid, a->cfg->challenge_wait_ms, challenge_reply, cid,
			                                free) == 0)
				goto free_ch;
			free(cid);
			snprintf(ch.status, sizeof ch.status, "processing");
		} else if (r == STORE_CONFLICT) {
			/* Another challenge of this authorization is being validated; report the current state. */
			store_challenge_clear(&ch);
			store_authz_clear(&az);
			if (store_challenge_get(a->store, id, &ch, &az) != STORE_OK) {
				reply_problem(a, req, problem_new("serverInternal", 500, "could not reload the challenge"));
				goto done;
			}
		} else {
			reply_problem(a, req, problem_new("serverInternal", 500, "could not start validation"));
			goto free_ch;
		}
	}
	reply_challenge(a, req, &ch);
free_ch:
	store_challenge_clear(&ch);
	store_authz_clear(&az);
done:
	auth_clear(&au);
}

/* ---- certificates (§7.4.2) ---- */

static void h_cert(struct api *a, struct evhttp_request *req, const char *url, const char *rest)
{
	struct auth au;
	struct problem *p = NULL;
	if (auth_request(a, req, url, AUTH_KID, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	char serial[STORE_ID_MAX];
	int chain = 0;
	const char *slash = strchr(rest, '/');
	size_t sl = slash ? (size_t)(slash - rest) : strlen(rest);
	if (sl == 0 || sl >= sizeof serial) {
		reply_problem(a, req, problem_new("malformed", 404, "no such certificate"));
		goto done;
	}
	memcpy(serial, rest, sl);
	serial[sl] = '\0';
	if (slash) {
		char *end;
		chain = (int)strtol(slash + 1, &end, 10);
		if (*end || chain < 1 || chain >= ca_chain_count(a->ca)) {
			reply_problem(a, req, problem_new("malformed", 404, "no such certificate chain"));
			goto done;
		}
	}
	struct store_cert c;
	int r = store_cert_get(a->store, serial, &c);
	if (r == STORE_NOTFOUND) {
		reply_problem(a, req, problem_new("malformed", 404, "no such certificate"));
		goto done;
	}
	if (r != STORE_OK) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not load the certificate"));
		goto done;
	}
	if (strcmp(c.account_id, au.acct.id) != 0) {
		store_cert_clear(&c);
		reply_problem(a, req, problem_new("unauthorized", 403, "this certificate belongs to another account"));
		goto done;
	}
	/* PEM leaf, then the chain (RFC 8555 §9.1: application/pem-certificate-chain). */
	struct evbuffer *b = evbuffer_new();
	char *b64 = NULL;
	if (c.der_len <= INT_MAX / 2) {
		/* RFC 7468 §2: standard base64 in 64-column lines. The DER is ours, stored at issuance:
		 * encode it directly instead of parsing it into an X509 first (issue 7 profile). */
		EVP_ENCODE_CTX *ec = EVP_ENCODE_CTX_new();
		size_t cap = c.der_len / 48 * 65 + 130;
		unsigned char *pem = malloc(cap);
		int n1 = 0, n2 = 0;
		if (ec && pem) {
			EVP_EncodeInit(ec);
			if (EVP_EncodeUpdate(ec, pem, &n1, c.der, (int)c.der_len) == 1) {
				EVP_EncodeFinal(ec, pem + n1, &n2);
				evbuffer_add_printf(b, "-----BEGIN CERTIFICATE-----\n");
				evbuffer_add(b, pem, (size_t)(n1 + n2));
				evbuffer_add_printf(b, "-----END CERTIFICATE-----\n");
			}
		}
		EVP_ENCODE_CTX_free(ec);
		free(pem);
	}
	const char *chainpem = ca_chain_pem(a->ca, chain);
	if (chainpem)
		evbuffer_add(b, chainpem, strlen(chainpem));
	for (int i = 0; i < ca_chain_count(a->ca); i++) {
		if (i == chain)
			continue;
		char alt[700];
		if (i == 0)
			snprintf(alt, sizeof alt, "%s/acme/cert/%s", a->cfg->base_url, serial);
		else
			snprintf(alt, sizeof alt, "%s/acme/cert/%s/%d", a->cfg->base_url, serial, i);
		reply_link(req, alt, "alternate");
	}
	size_t len = evbuffer_get_length(b);
	unsigned char *data = evbuffer_pullup(b, -1);
	reply_raw(a, req, 200, "application/pem-certificate-chain", data, len);
	evbuffer_free(b);
	free(b64);
	store_cert_clear(&c);
done:
	auth_clear(&au);
}

static void h_intermediate(struct api *a, struct evhttp_request *req)
{
	size_t len = 0;
	const unsigned char *der = ca_intermediate_der(a->ca, &len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "public, max-age=3600");
	reply_raw(a, req, 200, "application/pkix-cert", der, len);
}

/* The default terms of service (meta.termsOfService when the config names none). */
static void h_terms(struct api *a, struct evhttp_request *req)
{
	static const char text[] =
	    "Cobble CA subscriber terms\n\n"
	    "Certificates are issued to whoever proves control of the names in an order, as RFC 8555\n"
	    "describes. Keep your private keys private; revoke a certificate whose key is compromised.\n"
	    "The operator of this CA may revoke certificates and block keys that break these terms.\n";
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "public, max-age=3600");
	reply_raw(a, req, 200, "text/plain; charset=utf-8", text, sizeof text - 1);
}

/* ---- routing ---- */

struct route {
	const char *prefix; /* under /acme/ */
	void (*fn)(struct api *, struct evhttp_request *, const char *url, const char *id);
};

static const struct route id_routes[] = {
    {"order/", h_order},     {"finalize/", h_finalize}, {"authz/", h_authz},
    {"chall/", h_challenge}, {"cert/", h_cert},
};

static int valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= STORE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!(c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return 0;
	}
	return 1;
}

void routes_handle(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char url[1200];
	if (!path) {
		reply_problem(a, req, problem_new("malformed", 400, "bad request URI"));
		return;
	}
	request_url(a, req, url, sizeof url);
	if (strcmp(path, "/directory") == 0) {
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
			method_not_allowed(a, req, "GET");
		else
			h_directory(a, req);
		return;
	}
	if (strcmp(path, "/acme/new-nonce") == 0) {
		h_new_nonce(a, req);
		return;
	}
	if (strcmp(path, "/terms") == 0 && (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
		h_terms(a, req);
		return;
	}
	if (strcmp(path, "/ca/intermediate.der") == 0 && cmd == EVHTTP_REQ_GET) {
		h_intermediate(a, req);
		return;
	}
	if (strncmp(path, "/crl/", 5) == 0 && (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
		lifecycle_crl(a, req, path + 5);
		return;
	}
	if (strncmp(path, "/acme/renewal-info/", 19) == 0 && (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
		lifecycle_renewal_info(a, req, path + 19);
		return;
	}
	if (strncmp(path, "/acme/", 6) != 0) {
		reply_problem(a, req, problem_new("malformed", 404, "no resource at %.200s", path));
		return;
	}
	const char *rest = path + 6;
	if (cmd != EVHTTP_REQ_POST) {
		method_not_allowed(a, req, "POST");
		return;
	}
	if (strcmp(rest, "new-account") == 0) {
		accounts_new(a, req, url);
		return;
	}
	if (strcmp(rest, "new-order") == 0) {
		h_new_order(a, req, url);
		return;
	}
	if (strcmp(rest, "revoke-cert") == 0) {
		lifecycle_revoke_cert(a, req, url);
		return;
	}
	if (strcmp(rest, "key-change") == 0) {
		lifecycle_key_change(a, req, url);
		return;
	}
	if (strncmp(rest, "acct/", 5) == 0) {
		char id[STORE_ID_MAX];
		const char *s = rest + 5;
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (n < sizeof id) {
			memcpy(id, s, n);
			id[n] = '\0';
			if (valid_id(id) && !slash) {
				accounts_get(a, req, url, id);
				return;
			}
			if (valid_id(id) && slash && strcmp(slash, "/orders") == 0) {
				accounts_orders(a, req, url, id);
				return;
			}
		}
	}
	for (size_t i = 0; i < sizeof id_routes / sizeof id_routes[0]; i++) {
		size_t pl = strlen(id_routes[i].prefix);
		if (strncmp(rest, id_routes[i].prefix, pl) == 0) {
			const char *id = rest + pl;
			if (id_routes[i].fn == h_cert) {
				h_cert(a, req, url, id);
				return;
			}
			if (valid_id(id)) {
				id_routes[i].fn(a, req, url, id);
				return;
			}
		}
	}
	reply_problem(a, req, problem_new("malformed", 404, "no resource at %.200s", path));
}
