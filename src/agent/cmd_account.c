/* Account commands: register (with External Account Binding), account show / update /
 * deactivate / rollover (RFC 8555 §7.3). */
#include "agent/cli.h"
#include "b64url.h"
#include "fileio.h"
#include "jose.h"
#include "jwk.h"
#include "keys.h"
#include "agent/store/store.h"
#include "agent/ui.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int save_account_json(const char *dir, const char *url, const char *server, const json_t *acct)
{
	char *p = NULL;
	json_t *j = json_object();
	json_object_set_new(j, "url", json_string(url));
	json_object_set_new(j, "server", json_string(server));
	if (acct) {
		json_t *v;
		if ((v = json_object_get(acct, "contact")))
			json_object_set(j, "contact", v);
		if ((v = json_object_get(acct, "status")))
			json_object_set(j, "status", v);
	}
	char ts[32];
	time_t now = time(NULL);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_set_new(j, "updated", json_string(ts));
	char *s = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	int rc = -1;
	if (s && asprintf(&p, "%s/account.json", dir) >= 0) {
		size_t n = strlen(s);
		s[n] = '\n';
		rc = file_write_atomic(p, s, n + 1, 0600);
	}
	free(p);
	free(s);
	return rc;
}

static json_t *contact_array(const char *email)
{
	json_t *a = json_array();
	char *m = NULL;
	if (email && asprintf(&m, "mailto:%s", email) >= 0) {
		json_array_append_new(a, json_string(m));
		free(m);
	}
	return a;
}

/* RFC 8555 §7.3.4: a JWS over the account JWK, MACed with the CA-issued key. */
static json_t *eab_binding(const struct opts *o, EVP_PKEY *key, const char *url, char *err, size_t errlen)
{
	uint8_t *mac = NULL;
	size_t maclen = 0;
	if (b64url_decode(o->eab_hmac, strlen(o->eab_hmac), &mac, &maclen) != 0 || maclen == 0) {
		snprintf(err, errlen, "--eab-hmac-key is not base64url (no padding); copy it as the CA gave it");
		return NULL;
	}
	json_t *hdr = json_pack("{s:s,s:s}", "kid", o->eab_kid, "url", url);
	json_t *jwk = jwk_from_pkey(key);
	char *payload = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	char *jws = payload ? jws_sign_hs256(mac, maclen, hdr, payload) : NULL;
	char jerr[160];
	json_t *out = jws ? jose_json_loadb(jws, strlen(jws), jerr, sizeof jerr) : NULL;
	if (!out)
		snprintf(err, errlen, "cannot build the external account binding");
	free(jws);
	free(payload);
	json_decref(jwk);
	json_decref(hdr);
	free(mac);
	return out;
}

int cmd_register(struct opts *o)
{
	struct acme_client *c = NULL;
	EVP_PKEY *key = NULL;
	char *dir = NULL, *keyp = NULL, *jsonp = NULL, *loc = NULL, err[600];
	json_t *payload = NULL, *acct = NULL;
	int rc = EXIT_FAIL;
	if ((o->eab_kid == NULL) != (o->eab_hmac == NULL))
		return cli_fail(o, "register", EXIT_USAGE, "--eab-kid and --eab-hmac-key go together");
	if (o->email && (strchr(o->email, '@') == NULL || strpbrk(o->email, " ,\t\r\n<>")))
		return cli_fail(o, "register", EXIT_USAGE, "--email %s is not an e-mail address", o->email);
	c = cli_connect(o, o->server);
	if (!c)
		return cli_fail(o, "register", EXIT_FAIL, "registration failed: server %s unreachable", o->server);
	dir = store_account_dir(o->config_dir, o->server);
	if (!dir || asprintf(&keyp, "%s/account.key", dir) < 0 || asprintf(&jsonp, "%s/account.json", dir) < 0)
		goto oom;
	if (access(jsonp, F_OK) == 0) {
		struct account a;
		if (cli_load_account(o, c, &a) == 0) {
			ui_step("account: already registered: %s", a.url);
			cli_json_out(o, json_pack("{s:s,s:s,s:s}", "command", "register", "status", "exists", "account", a.url));
			account_clear(&a);
			rc = EXIT_OK;
		}
		goto done;
	}
	json_t *tos = acme_dir_meta(c, "termsOfService");
	if (json_is_string(tos) && !o->agree_tos) {
		rc = cli_fail(o, "register", EXIT_USAGE, "the CA asks you to agree to its terms (%s); rerun with --agree-tos",
		              json_string_value(tos));
		goto done;
	}
	json_t *ext = acme_dir_meta(c, "externalAccountRequired");
	if (json_is_true(ext) && !o->eab_kid) {
		rc = cli_fail(o, "register", EXIT_USAGE,
		              "the CA requires external account binding; pass --eab-kid and --eab-hmac-key from your CA");
		goto done;
	}
	if (file_mkdirs(dir, 0700) != 0) {
		rc = cli_fail(o, "register", EXIT_FAIL, "cannot create %s: %s", dir, strerror(errno));
		goto done;
	}
	/* A key left by an interrupted registration is reused: the server maps it to the same account. */
	key = access(keyp, F_OK) == 0 ? key_load_private(keyp) : NULL;
	if (!key) {
		key = key_generate(o->account_key_type ? o->account_key_type : "ec256");
		if (!key || key_save_private(keyp, key) != 0) {
			rc = cli_fail(o, "register", EXIT_FAIL, "cannot create the account key %s: %s", keyp, strerror(errno));
			goto done;
		}
	}
	c->key = key;
	payload = json_object();
	if (o->agree_tos)
		json_object_set_new(payload, "termsOfServiceAgreed", json_true());
	if (o->email)
		json_object_set_new(payload, "contact", contact_array(o->email));
	const char *url = acme_dir_url(c, "newAccount");
	if (o->eab_kid) {
		json_t *eab = eab_binding(o, key, url, err, sizeof err);
		if (!eab) {
			rc = cli_fail(o, "register", EXIT_USAGE, "%s", err);
			goto done;
		}
		json_object_set_new(payload, "externalAccountBinding", eab);
	}
	char *body = json_dumps(payload, JSON_COMPACT);
	struct http_resp r;
	int prc = acme_post(c, key, NULL, url, body, &r);
	free(body);
	if (prc != 0) {
		rc = cli_fail(o, "register", EXIT_FAIL, "registration failed: %s", c->err);
		goto done;
	}
	if (!r.location) {
		http_resp_clear(&r);
		rc = cli_fail(o, "register", EXIT_FAIL, "registration failed: the server sent no account URL (Location)");
		goto done;
	}
	loc = strdup(r.location);
	acct = jose_json_loadb(r.body, r.body_len, err, sizeof err);
	http_resp_clear(&r);
	if (save_account_json(dir, loc, o->server, acct) != 0) {
		rc = cli_fail(o, "register", EXIT_FAIL, "cannot write %s: %s", jsonp, strerror(errno));
		goto done;
	}
	ui_step("account: registered %s", loc);
	cli_json_out(o, json_pack("{s:s,s:s,s:s,s:s}", "command", "register", "status", "registered", "account", loc,
	                          "key", keyp));
	rc = EXIT_OK;
	goto done;
oom:
	rc = cli_fail(o, "register", EXIT_FAIL, "out of memory");
done:
	EVP_PKEY_free(key);
	json_decref(payload);
	json_decref(acct);
	free(loc);
	free(dir);
	free(keyp);
	free(jsonp);
	acme_client_free(c);
	return rc;
}

/* RFC 8555 §7.3.5: inner JWS by the new key over {account, oldKey}, outer by the old key. */
static int rollover(struct opts *o, struct acme_client *c, struct account *a)
{
	char key_desc[64], *newp = NULL, *keyp = NULL;
	int rc = EXIT_FAIL;
	const char *url = acme_dir_url(c, "keyChange");
	if (!url)
		return cli_fail(o, "account", EXIT_FAIL, "the server does not offer key rollover (no keyChange)");
	key_describe(a->key, key_desc, sizeof key_desc);
	const char *type = o->account_key_type;
	if (!type)
		type = strncmp(key_desc, "RSA", 3) == 0 ? "rsa2048" : strstr(key_desc, "384") ? "ec384" : "ec256";
	EVP_PKEY *nk = key_generate(type);
	json_t *inner_hdr = json_pack("{s:s,s:o}", "url", url, "jwk", jwk_from_pkey(nk));
	json_t *inner_pl = json_pack("{s:s,s:o}", "account", a->url, "oldKey", jwk_from_pkey(a->key));
	char *pl = json_dumps(inner_pl, JSON_COMPACT);
	char *inner = nk && pl ? jws_sign(nk, inner_hdr, pl) : NULL;
	json_decref(inner_hdr);
	json_decref(inner_pl);
	free(pl);
	if (!inner || asprintf(&newp, "%s/account.key.new", a->dir) < 0 || asprintf(&keyp, "%s/account.key", a->dir) < 0) {
		rc = cli_fail(o, "account", EXIT_FAIL, "cannot build the key change request");
		goto done;
	}
	/* Keep the new key on disk before the server switches, so a crash cannot lose it. */
	if (key_save_private(newp, nk) != 0) {
		rc = cli_fail(o, "account", EXIT_FAIL, "cannot write %s: %s", newp, strerror(errno));
		goto done;
	}
	struct http_resp r;
	if (acme_post(c, NULL, c->kid, url, inner, &r) != 0) {
		unlink(newp);
		rc = cli_fail(o, "account", EXIT_FAIL, "key rollover failed: %s", c->err);
		goto done;
	}
	http_resp_clear(&r);
	if (rename(newp, keyp) != 0) {
		rc = cli_fail(o, "account", EXIT_FAIL,
		              "the server now expects the new key in %s but renaming it to %s failed: %s", newp, keyp,
		              strerror(errno));
		goto done;
	}
	char nd[64];
	ui_step("account: key rolled over to a new %s key", key_describe(nk, nd, sizeof nd));
	cli_json_out(o, json_pack("{s:s,s:s,s:s,s:s}", "command", "account", "action", "rollover", "status", "ok",
	                          "account", a->url));
	rc = EXIT_OK;
done:
	free(inner);
	free(newp);
	free(keyp);
	EVP_PKEY_free(nk);
	return rc;
}

int cmd_account(struct opts *o)
{
	struct account a;
	json_t *res = NULL, *payload = NULL;
	int rc = EXIT_FAIL;
	const char *sub = o->nargs ? o->args[0] : NULL;
	if (!sub || (strcmp(sub, "show") && strcmp(sub, "update") && strcmp(sub, "deactivate") && strcmp(sub, "rollover")))
		return cli_fail(o, "account", EXIT_USAGE, "account needs show, update --email ADDR, deactivate or rollover");
	if (strcmp(sub, "update") == 0 && !o->email)
		return cli_fail(o, "account", EXIT_USAGE, "account update needs --email ADDR");
	struct acme_client *c = cli_connect(o, o->server);
	if (!c)
		return cli_fail(o, "account", EXIT_FAIL, "server %s unreachable", o->server);
	if (cli_load_account(o, c, &a) != 0) {
		account_clear(&a);
		acme_client_free(c);
		return cli_fail(o, "account", EXIT_FAIL, "no usable account");
	}
	if (strcmp(sub, "rollover") == 0) {
		rc = rollover(o, c, &a);
		goto done;
	}
	if (strcmp(sub, "update") == 0)
		payload = json_pack("{s:o}", "contact", contact_array(o->email));
	else if (strcmp(sub, "deactivate") == 0)
		payload = json_pack("{s:s}", "status", "deactivated");
	/* show: POST-as-GET on the account URL (RFC 8555 §7.3.3 allows it) */
	if (acme_post_json(c, a.url, payload, &res, NULL) != 0) {
		rc = cli_fail(o, "account", EXIT_FAIL, "account %s: %s", sub, c->err);
		goto done;
	}
	const char *status = json_string_value(json_object_get(res, "status"));
	if (strcmp(sub, "show") != 0 && save_account_json(a.dir, a.url, o->server, res) != 0)
		ui_warn("could not update %s/account.json: %s", a.dir, strerror(errno));
	if (strcmp(sub, "show") == 0 && !o->json) {
		char kd[64];
		json_t *ct = json_object_get(res, "contact");
		printf("account: %s\nstatus: %s\nkey: %s\ncontact:", a.url, status ? status : "?",
		       key_describe(a.key, kd, sizeof kd));
		size_t i;
		json_t *v;
		json_array_foreach(ct, i, v) printf(" %s", json_string_value(v));
		printf("\n");
	} else if (strcmp(sub, "show") == 0) {
		/* --json: the summary below is the output */
	} else if (strcmp(sub, "update") == 0) {
		ui_step("account: contact set to mailto:%s", o->email);
	} else {
		ui_step("account: %s is now %s", a.url, status ? status : "?");
	}
	json_t *out = json_pack("{s:s,s:s,s:s,s:s}", "command", "account", "action", sub, "status", "ok", "account", a.url);
	json_object_set(out, "server_status", json_object_get(res, "status"));
	json_object_set(out, "contact", json_object_get(res, "contact"));
	cli_json_out(o, out);
	rc = EXIT_OK;
done:
	json_decref(res);
	json_decref(payload);
	account_clear(&a);
	acme_client_free(c);
	return rc;
}
