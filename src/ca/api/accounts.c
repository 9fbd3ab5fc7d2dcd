/* See accounts.h. */
#include "accounts.h"
#include "auth.h"
#include "lifecycle.h"
#include "log.h"
#include "rand.h"
#include "reply.h"
#include "replywait.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ORDERS_PAGE 100
#define MAX_CONTACTS 10
#define MAX_CONTACT_LEN 320

static json_t *render_account(struct api *a, const struct store_account *acct)
{
	char url[600];
	reply_url(a, url, sizeof url, "acct", acct->id);
	strncat(url, "/orders", sizeof url - strlen(url) - 1);
	json_t *contact = json_loads(acct->contact ? acct->contact : "[]", 0, NULL);
	json_t *j = json_pack("{s:s, s:o, s:s}", "status", acct->status, "contact", contact ? contact : json_array(),
	                      "orders", url);
	if (acct->tos_agreed)
		json_object_set_new(j, "termsOfServiceAgreed", json_true());
	/* The key is part of the account object in Boulder and Pebble; clients print it. */
	json_t *key = json_loads(acct->jwk, 0, NULL);
	if (key)
		json_object_set_new(j, "key", key);
	return j;
}


/* RFC 8555 §7.3: contact URLs; this CA supports mailto: with one plain address each. */
static struct problem *check_contacts(const json_t *contact, char **out)
{
	if (!json_is_array(contact))
		return problem_new("malformed", 400, "\"contact\" must be an array of URLs");
	if (json_array_size(contact) > MAX_CONTACTS)
		return problem_new("invalidContact", 400, "at most %d contacts are allowed", MAX_CONTACTS);
	size_t i;
	json_t *v;
	json_array_foreach(contact, i, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			return problem_new("malformed", 400, "contact %zu is not a string", i);
		if (strncasecmp(s, "mailto:", 7) != 0)
			return problem_new("unsupportedContact", 400, "contact \"%.100s\" is not a mailto: URL", s);
		const char *addr = s + 7;
		const char *at = strchr(addr, '@');
		size_t len = strlen(s);
		if (len > MAX_CONTACT_LEN || !at || at == addr || !at[1] || strchr(at + 1, '@') ||
		    strpbrk(addr, "?,;<> \t\r\n\"") || !strchr(at + 1, '.'))
			return problem_new("invalidContact", 400, "contact \"%.100s\" is not a valid email address", s);
	}
	*out = json_dumps(contact, JSON_COMPACT);
	return NULL;
}

/* §7.3.1: newAccount for a key that already has an account answers with it, 200 and its
 * Location. */
static void reply_existing(struct api *a, struct evhttp_request *req, const struct store_account *acct)
{
	char loc[600];
	reply_url(a, loc, sizeof loc, "acct", acct->id);
	reply_json(a, req, 200, render_account(a, acct), loc);
}

void accounts_new(struct api *a, struct evhttp_request *req, const char *url)
{
	struct auth au;
	struct problem *p = NULL;
	struct store_account acct;
	memset(&acct, 0, sizeof acct);
	char loc[600];
	if (auth_request(a, req, url, AUTH_JWK, &au, &p)) {
		reply_problem(a, req, p);
		return;
	}
	if (au.post_as_get) {
		reply_problem(a, req, problem_new("malformed", 400, "newAccount needs a JSON object payload"));
		goto done;
	}
	/* A key already registered: answer with that account (§7.3.1), 200 and Location. */
	int r = store_account_by_thumbprint(a->store, au.thumbprint, &acct);
	if (r == STORE_OK) {
		reply_existing(a, req, &acct);
		goto done;
	}
	if (r != STORE_NOTFOUND) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not look up the account"));
		goto done;
	}
	if (lifecycle_key_blocked(a, au.key)) {
		reply_problem(a, req, problem_new("badPublicKey", 400, "this key is on the block list (revoked for keyCompromise)"));
		goto done;
	}
	if (json_is_true(json_object_get(au.payload, "onlyReturnExisting"))) {
		reply_problem(a, req, problem_new("accountDoesNotExist", 400, "no account exists for this key"));
		goto done;
	}
	json_t *tos = json_object_get(au.payload, "termsOfServiceAgreed");
	if (tos && !json_is_boolean(tos)) {
		reply_problem(a, req, problem_new("malformed", 400, "\"termsOfServiceAgreed\" must be a boolean"));
		goto done;
	}
	if (a->cfg->tos_url && !json_is_true(tos)) {
		reply_problem(a, req, problem_new("userActionRequired", 403,
		                                  "you must agree to the terms of service at %s", a->cfg->tos_url));
		goto done;
	}
	char *contact = NULL;
	json_t *cj = json_object_get(au.payload, "contact");
	if (cj) {
		p = check_contacts(cj, &contact);
		if (p) {
			reply_problem(a, req, p);
			goto done;
		}
	}
	rand_id(acct.id);
	memcpy(acct.thumbprint, au.thumbprint, sizeof acct.thumbprint);
	acct.jwk = json_dumps(au.jws->jwk, JSON_COMPACT | JSON_SORT_KEYS);
	acct.contact = contact ? contact : strdup("[]");
	snprintf(acct.status, sizeof acct.status, "valid");
	acct.tos_agreed = json_is_true(tos);
	acct.created_at = (int64_t)time(NULL);
	/* Durable before the client hears of it, without the loop waiting for the sync. */
	store_sync_defer(a->store, 1);
	r = store_account_insert(a->store, &acct);
	store_sync_defer(a->store, 0);
	uint64_t ticket = store_sync_ticket(a->store);
	if (r == STORE_CONFLICT) {
		/* Lost a race with the same key: return the winner's account. */
		store_account_clear(&acct);
		if (store_account_by_thumbprint(a->store, au.thumbprint, &acct) == STORE_OK) {
			reply_existing(a, req, &acct);
			goto done;
		}
	}
	if (r != STORE_OK) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not create the account"));
		goto done;
	}
	log_info("new account %s", acct.id);
	reply_url(a, loc, sizeof loc, "acct", acct.id);
	replywait_reply(a, req, ticket, 201, render_account(a, &acct), loc);
done:
	store_account_clear(&acct);
	auth_clear(&au);
}

/* Authenticates a request to account id's own resources (signed with kid by that account).
 * 0 with *au filled; -1 with the problem answered and *au cleared. */
static int auth_own(struct api *a, struct evhttp_request *req, const char *url, const char *id, struct auth *au)
{
	struct problem *p = NULL;
	if (auth_request(a, req, url, AUTH_KID, au, &p)) {
		reply_problem(a, req, p);
		return -1;
	}
	if (strcmp(au->acct.id, id) != 0) {
		reply_problem(a, req, problem_new("unauthorized", 403, "this request is not signed by that account"));
		auth_clear(au);
		return -1;
	}
	return 0;
}

void accounts_get(struct api *a, struct evhttp_request *req, const char *url, const char *id)
{
	struct auth au;
	if (auth_own(a, req, url, id, &au))
		return;
	uint64_t ticket = 0;
	if (!au.post_as_get) {
		/* §7.3.2 update, §7.3.6 deactivation. Other fields are ignored. */
		json_t *st = json_object_get(au.payload, "status");
		json_t *cj = json_object_get(au.payload, "contact");
		char *contact = NULL;
		if (st && !(json_is_string(st) && strcmp(json_string_value(st), "deactivated") == 0)) {
			reply_problem(a, req, problem_new("malformed", 400, "an account's status can only be set to \"deactivated\""));
			goto done;
		}
		if (cj) {
			struct problem *p = check_contacts(cj, &contact);
			if (p) {
				reply_problem(a, req, p);
				goto done;
			}
			free(au.acct.contact);
			au.acct.contact = contact;
		}
		if (st)
			snprintf(au.acct.status, sizeof au.acct.status, "deactivated");
		store_sync_defer(a->store, 1);
		int r = (st || cj) ? store_account_update(a->store, &au.acct) : STORE_OK;
		store_sync_defer(a->store, 0);
		ticket = store_sync_ticket(a->store);
		if (r != STORE_OK) {
			reply_problem(a, req, problem_new("serverInternal", 500, "could not update the account"));
			goto done;
		}
		if (st)
			log_info("account %s deactivated", au.acct.id);
	}
	replywait_reply(a, req, ticket, 200, render_account(a, &au.acct), NULL);
done:
	auth_clear(&au);
}

void accounts_orders(struct api *a, struct evhttp_request *req, const char *url, const char *id)
{
	struct auth au;
	if (auth_own(a, req, url, id, &au))
		return;
	size_t offset = 0;
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (q && strncmp(q, "cursor=", 7) == 0)
		offset = strtoul(q + 7, NULL, 10);
	char(*ids)[STORE_ID_MAX] = NULL;
	size_t n = 0;
	if (store_order_list(a->store, id, offset, ORDERS_PAGE + 1, &ids, &n) != STORE_OK) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not list orders"));
		goto done;
	}
	json_t *arr = json_array();
	char ourl[600];
	for (size_t i = 0; i < n && i < ORDERS_PAGE; i++) {
		reply_url(a, ourl, sizeof ourl, "order", ids[i]);
		json_array_append_new(arr, json_string(ourl));
	}
	if (n > ORDERS_PAGE) {
		/* RFC 8555 §7.1.2.1: pagination with Link rel="next". */
		char next[700];
		snprintf(next, sizeof next, "%s/acme/acct/%s/orders?cursor=%zu", a->cfg->base_url, id, offset + ORDERS_PAGE);
		reply_link(req, next, "next");
	}
	free(ids);
	reply_json(a, req, 200, json_pack("{s:o}", "orders", arr), NULL);
done:
	auth_clear(&au);
}

