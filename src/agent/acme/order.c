/* The order state machine from the client side. Each step prints one progress line; any
 * failure returns with the reason and leaves clean-up of published proofs to solver_free. */
#include "agent/acme/order.h"
#include "agent/acme/csr.h"
#include "agent/acme/parse.h"
#include "jwk.h"
#include "agent/ui.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long to wait for the CA's validation request to reach a standalone listener before
 * polling anyway, and the pause after it before the first poll. */
#define ORDER_SEEN_WAIT_MS 5000
#define ORDER_SEEN_GRACE_MS 20

char *order_key_authorization(EVP_PKEY *account_key, const char *token)
{
	char tp[64], *out = NULL;
	if (jwk_thumbprint_pkey(account_key, tp) != 0)
		return NULL;
	if (asprintf(&out, "%s.%s", token, tp) < 0)
		return NULL;
	return out;
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Error line for an invalid authorization: the failed challenge's error, if any. */
static void authz_error(const json_t *authz, const char *ident, char *err, size_t errlen)
{
	char line[800];
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(authz, "challenges"), i, ch) {
		json_t *e = json_object_get(ch, "error");
		if (e) {
			snprintf(err, errlen, "%s: %s challenge failed: %s", ident, jstr(ch, "type"),
			         format_problem(e, line, sizeof line));
			return;
		}
	}
	snprintf(err, errlen, "%s: authorization is %s", ident, jstr(authz, "status"));
}

static int do_authz(struct acme_client *c, struct solver *s, const struct order_req *req, const char *url,
                    char *err, size_t errlen)
{
	json_t *authz = NULL, *fin = NULL;
	char *keyauth = NULL, *ident = NULL;
	int rc = -1, published = 0;
	const char *token = NULL;
	if (acme_post_json(c, url, NULL, &authz, NULL) != 0) {
		snprintf(err, errlen, "authorization %s: %s", url, c->err);
		return -1;
	}
	const char *value = jstr(json_object_get(authz, "identifier"), "value");
	const char *status = jstr(authz, "status");
	if (!value || !status) {
		snprintf(err, errlen, "authorization %s: no identifier or status in the server's answer", url);
		goto done;
	}
	if (asprintf(&ident, "%s%s", json_is_true(json_object_get(authz, "wildcard")) ? "*." : "", value) < 0) {
		ident = NULL;
		goto done;
	}
	if (strcmp(status, "valid") == 0) {
		ui_step("authorization %s: already valid", ident);
		rc = 0;
		goto done;
	}
	if (strcmp(status, "pending") != 0) {
		authz_error(authz, ident, err, errlen);
		goto done;
	}
	const char *want = solver_challenge_type(req->solver_kind);
	json_t *chosen = NULL, *ch;
	size_t i;
	json_array_foreach(json_object_get(authz, "challenges"), i, ch) {
		const char *t = jstr(ch, "type");
		if (t && strcmp(t, want) == 0)
			chosen = ch;
	}
	if (!chosen) {
		snprintf(err, errlen, "%s: the server offers no %s challenge; pick another solver", ident, want);
		goto done;
	}
	token = jstr(chosen, "token");
	const char *curl_ = jstr(chosen, "url");
	if (!token || !curl_) {
		snprintf(err, errlen, "%s: %s challenge without token or url", ident, want);
		goto done;
	}
	keyauth = order_key_authorization(c->key, token);
	if (!keyauth) {
		snprintf(err, errlen, "cannot compute the key authorization");
		goto done;
	}
	char serr[600];
	published = 1;
	if (solver_present(s, ident, token, keyauth, serr, sizeof serr) != 0) {
		snprintf(err, errlen, "%s: %s", ident, serr);
		goto done;
	}
	ui_step("authorization %s: %s proof published, asking the CA to validate", ident, want);
	json_t *empty = json_object();
	json_t *chresp = NULL;
	int prc = acme_post_json(c, curl_, empty, &chresp, NULL);
	json_decref(empty);
	/* RFC 8555 §7.5.1: the reply is the updated challenge. A CA that validated before
	 * answering (cobbled within challengeReplyWaitMs; step-ca) says valid here, and one valid
	 * challenge makes the authorization valid: nothing to wait for or poll. */
	int already_valid = prc == 0 && jstr(chresp, "status") && strcmp(jstr(chresp, "status"), "valid") == 0;
	json_decref(chresp);
	if (prc != 0) {
		snprintf(err, errlen, "%s: challenge %s: %s", ident, curl_, c->err);
		goto done;
	}
	if (already_valid) {
		ui_step("authorization %s: valid (in the challenge's reply)", ident);
		rc = 0;
		goto done;
	}
	/* RFC 8555 §7.5.1: a client that can see the validation request SHOULD NOT poll before
	 * it has (our standalone listeners can), then the CA needs a moment to record the result.
	 * Bounded: a CA that fails before fetching (CAA, DNS) is still heard about by polling. */
	if (solver_wait_validation(s, token, ORDER_SEEN_WAIT_MS) == 1) {
		ui_debug("%s: the CA fetched the proof", ident);
		if (acme_sleep_ms(ORDER_SEEN_GRACE_MS) != 0) {
			snprintf(err, errlen, "interrupted");
			goto done;
		}
	}
	if (acme_poll(c, url, &fin) != 0) {
		snprintf(err, errlen, "%s: %s", ident, c->err);
		goto done;
	}
	if (strcmp(jstr(fin, "status"), "valid") != 0) {
		authz_error(fin, ident, err, errlen);
		goto done;
	}
	ui_step("authorization %s: valid", ident);
	rc = 0;
done:
	if (published)
		solver_cleanup(s, ident, token);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "authorization %s failed", url);
	free(keyauth);
	free(ident);
	json_decref(authz);
	json_decref(fin);
	return rc;
}

/* Among the default chain and its alternates, the one whose top issuer CN matches. */
static char *pick_chain(struct acme_client *c, char *def, struct http_resp *r, const char *want)
{
	char *cn = chain_top_issuer_cn(def);
	int match = cn && strcmp(cn, want) == 0;
	free(cn);
	if (match)
		return def;
	char *alts[HTTP_MAX_LINKS];
	size_t nalts = 0;
	for (size_t i = 0; i < r->nlinks && nalts < HTTP_MAX_LINKS; i++)
		nalts += parse_link_rel(r->links[i], "alternate", alts + nalts, HTTP_MAX_LINKS - nalts);
	char *found = NULL;
	for (size_t i = 0; i < nalts; i++) {
		struct http_resp ar;
		if (!found && acme_post(c, NULL, c->kid, alts[i], NULL, &ar) == 0) {
			cn = chain_top_issuer_cn(ar.body);
			if (cn && strcmp(cn, want) == 0) {
				found = ar.body;
				ar.body = NULL;
				ui_step("download: using the alternate chain issued by \"%s\"", want);
			}
			free(cn);
			http_resp_clear(&ar);
		}
		free(alts[i]);
	}
	if (!found) {
		ui_step("download: no chain issued by \"%s\" (%zu alternates); keeping the default", want, nalts);
		return def;
	}
	free(def);
	return found;
}

int order_run(struct acme_client *c, struct solver *s, const struct order_req *req, char **fullchain,
              char **order_url, char *err, size_t errlen)
{
	json_t *payload = json_object(), *ids = json_array(), *order = NULL, *fin = NULL;
	char *url = NULL, *csr = NULL;
	int rc = -1;
	err[0] = '\0';
	*fullchain = NULL;
	*order_url = NULL;
	for (size_t i = 0; i < req->nnames; i++) {
		json_t *id = json_object();
		json_object_set_new(id, "type", json_string("dns"));
		json_object_set_new(id, "value", json_string(req->names[i]));
		json_array_append_new(ids, id);
	}
	json_object_set_new(payload, "identifiers", ids);
	if (req->profile)
		json_object_set_new(payload, "profile", json_string(req->profile));
	if (req->replaces)
		json_object_set_new(payload, "replaces", json_string(req->replaces));
	if (acme_post_json(c, acme_dir_url(c, "newOrder"), payload, &order, &url) != 0) {
		if (req->replaces && strcmp(acme_problem_type(c), "badNonce") != 0) {
			/* RFC 9773 §5: a server may refuse "replaces" (already replaced, unknown cert);
			 * renewing matters more than the hint. */
			ui_step("order: server refused \"replaces\" (%s); ordering without it", c->err);
			json_object_del(payload, "replaces");
			if (acme_post_json(c, acme_dir_url(c, "newOrder"), payload, &order, &url) == 0)
				goto ordered;
		}
		snprintf(err, errlen, "new order: %s", c->err);
		goto done;
	}
ordered:
	if (!url) {
		snprintf(err, errlen, "new order: the server sent no Location for the order");
		goto done;
	}
	json_t *authzs = json_object_get(order, "authorizations");
	const char *finalize = jstr(order, "finalize");
	if (!json_is_array(authzs) || !finalize || !jstr(order, "status")) {
		snprintf(err, errlen, "new order: the server's order lacks authorizations, finalize or status");
		goto done;
	}
	ui_step("order: %s (%s, %zu authorization%s)", url, jstr(order, "status"), json_array_size(authzs),
	        json_array_size(authzs) == 1 ? "" : "s");
	size_t i;
	json_t *a;
	json_array_foreach(authzs, i, a) {
		if (!json_is_string(a)) {
			snprintf(err, errlen, "new order: authorization %zu is not a URL", i);
			goto done;
		}
		if (do_authz(c, s, req, json_string_value(a), err, errlen) != 0)
			goto done;
	}
	/* The order turns ready once every authorization is valid (RFC 8555 §7.1.6). */
	if (acme_poll(c, url, &fin) != 0) {
		snprintf(err, errlen, "order %s: %s", url, c->err);
		goto done;
	}
	if (strcmp(jstr(fin, "status"), "ready") != 0 && strcmp(jstr(fin, "status"), "valid") != 0) {
		char line[600];
		json_t *e = json_object_get(fin, "error");
		snprintf(err, errlen, "order %s is %s%s%s", url, jstr(fin, "status"), e ? ": " : "",
		         e ? format_problem(e, line, sizeof line) : "");
		goto done;
	}
	if (strcmp(jstr(fin, "status"), "ready") == 0) {
		csr = csr_build_b64(req->cert_key, req->names, req->nnames);
		if (!csr) {
			snprintf(err, errlen, "cannot build the certificate request");
			goto done;
		}
		json_t *fp = json_pack("{s:s}", "csr", csr), *fr = NULL;
		int frc = acme_post_json(c, finalize, fp, &fr, NULL);
		json_decref(fp);
		json_decref(fr);
		if (frc != 0) {
			snprintf(err, errlen, "finalize: %s", c->err);
			goto done;
		}
		ui_step("finalize: certificate request sent");
		json_decref(fin);
		fin = NULL;
		if (acme_poll(c, url, &fin) != 0) {
			snprintf(err, errlen, "order %s: %s", url, c->err);
			goto done;
		}
	}
	const char *cert_url = jstr(fin, "certificate");
	if (strcmp(jstr(fin, "status"), "valid") != 0 || !cert_url) {
		char line[600];
		json_t *e = json_object_get(fin, "error");
		snprintf(err, errlen, "order %s ended %s%s%s", url, jstr(fin, "status"), e ? ": " : "",
		         e ? format_problem(e, line, sizeof line) : " without a certificate");
		goto done;
	}
	struct http_resp r;
	if (acme_post(c, NULL, c->kid, cert_url, NULL, &r) != 0) {
		snprintf(err, errlen, "download %s: %s", cert_url, c->err);
		goto done;
	}
	char *pem = r.body;
	r.body = NULL;
	char *leaf = NULL, *chain = NULL;
	if (pem_split_chain(pem, &leaf, &chain) != 0) {
		snprintf(err, errlen, "download %s: the server's answer is not a PEM certificate chain", cert_url);
		free(pem);
		http_resp_clear(&r);
		goto done;
	}
	free(leaf);
	free(chain);
	if (req->preferred_chain)
		pem = pick_chain(c, pem, &r, req->preferred_chain);
	http_resp_clear(&r);
	ui_step("download: %s", cert_url);
	*fullchain = pem;
	*order_url = url;
	url = NULL;
	rc = 0;
done:
	free(url);
	free(csr);
	json_decref(payload);
	json_decref(order);
	json_decref(fin);
	return rc;
}
