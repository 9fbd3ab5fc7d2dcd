/* Request authentication: everything between the raw POST body and a trusted payload.
 * Order: size, type, JWS syntax, key, signature, url, nonce, account state; cheapest first
 * but the nonce is only consumed by a request whose signature verified. */
#include "auth.h"
#include "b64url.h"
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void auth_clear(struct auth *au)
{
	jws_free(au->jws);
	EVP_PKEY_free(au->key);
	store_account_clear(&au->acct);
	json_decref(au->payload);
	memset(au, 0, sizeof *au);
}

int auth_request(struct api *a, struct evhttp_request *req, const char *url, enum auth_mode mode,
                 struct auth *out, struct problem **prob)
{
	memset(out, 0, sizeof *out);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *body = NULL;
	if (len > a->cfg->max_body) {
		*prob = problem_new("malformed", 413, "request body is %zu bytes; the limit is %zu", len,
		                    a->cfg->max_body);
		goto fail;
	}
	/* RFC 8555 §6.2: application/jose+json only, else 415. */
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (!ctype || strncasecmp(ctype, "application/jose+json", 21) != 0 ||
	    (ctype[21] != '\0' && ctype[21] != ';' && ctype[21] != ' ')) {
		*prob = problem_new("malformed", 415, "Content-Type must be application/jose+json");
		goto fail;
	}
	body = malloc(len + 1);
	if (!body || evbuffer_copyout(in, body, len) != (ev_ssize_t)len) {
		*prob = problem_new("serverInternal", 500, "could not read the request body");
		goto fail;
	}
	body[len] = '\0';
	if (jws_parse(body, len, &out->jws, prob))
		goto fail;
	struct jws *j = out->jws;

	if (mode == AUTH_JWK || (mode == AUTH_EITHER && j->jwk)) {
		if (!j->jwk) {
			*prob = problem_new("malformed", 400, "this request must be signed with a \"jwk\" header, not \"kid\"");
			goto fail;
		}
		out->key = jwk_to_pkey(j->jwk, prob);
		if (!out->key)
			goto fail;
		if (jwk_thumbprint(j->jwk, out->thumbprint)) {
			*prob = problem_new("malformed", 400, "cannot compute the JWK thumbprint");
			goto fail;
		}
	} else {
		if (!j->kid) {
			*prob = problem_new("malformed", 400, "this request must be signed with a \"kid\" header, not \"jwk\"");
			goto fail;
		}
		/* kid is the account URL (RFC 8555 §6.2): BASE/acme/acct/ID. */
		char prefix[600];
		snprintf(prefix, sizeof prefix, "%s/acme/acct/", a->cfg->base_url);
		size_t pl = strlen(prefix);
		const char *id = j->kid + pl;
		if (strncmp(j->kid, prefix, pl) != 0 || strlen(id) == 0 || strlen(id) >= STORE_ID_MAX ||
		    strchr(id, '/')) {
			*prob = problem_new("accountDoesNotExist", 400, "kid \"%.200s\" is not an account URL of this CA",
			                    j->kid);
			goto fail;
		}
		int r = store_account_get(a->store, id, &out->acct);
		if (r == STORE_NOTFOUND) {
			*prob = problem_new("accountDoesNotExist", 400, "no account at %.200s", j->kid);
			goto fail;
		}
		if (r != STORE_OK) {
			*prob = problem_new("serverInternal", 500, "could not load the account");
			goto fail;
		}
		json_t *jwk = json_loads(out->acct.jwk, 0, NULL);
		out->key = jwk ? jwk_to_pkey(jwk, prob) : NULL;
		json_decref(jwk);
		if (!out->key) {
			if (!*prob)
				*prob = problem_new("serverInternal", 500, "stored account key is unreadable");
			goto fail;
		}
		memcpy(out->thumbprint, out->acct.thumbprint, sizeof out->thumbprint);
	}
	if (jws_verify(j, out->key, prob))
		goto fail;
	/* RFC 8555 §6.4: the url header must equal the request URL, else unauthorized. */
	if (strcmp(j->url, url) != 0) {
		*prob = problem_new("unauthorized", 403, "JWS url \"%.200s\" does not match the request URL \"%.200s\"",
		                    j->url, url);
		goto fail;
	}
	const char *why = NULL;
	if (nonce_redeem(a->nonces, a->store, j->nonce, (int64_t)time(NULL), &why)) {
		*prob = problem_new("badNonce", 400, "%s", why);
		goto fail;
	}
	/* RFC 8555 §7.3.6: a deactivated account can do nothing more. */
	if (out->acct.id[0] && strcmp(out->acct.status, "valid") != 0) {
		*prob = problem_new("unauthorized", 403, "account is %s", out->acct.status);
		goto fail;
	}
	if (j->payload_len == 0) {
		out->post_as_get = 1;
	} else {
		char err[160];
		out->payload = jose_json_loadb((const char *)j->payload, j->payload_len, err, sizeof err);
		if (!out->payload || !json_is_object(out->payload)) {
			*prob = problem_new("malformed", 400, "payload is not a JSON object: %s",
			                    out->payload ? "wrong type" : err);
			goto fail;
		}
	}
	free(body);
	return 0;
fail:
	/* RFC 8555 §6.2: badSignatureAlgorithm lists the algorithms this server accepts. */
	if (*prob && strcmp(problem_short_type(*prob), "badSignatureAlgorithm") == 0 && !(*prob)->extra)
		(*prob)->extra = json_pack("{s:[s,s,s,s,s,s]}", "algorithms", "RS256", "ES256", "ES384", "ES512",
		                           "PS256", "EdDSA");
	free(body);
	auth_clear(out);
	return -1;
}
