/* Certificate commands: issue, renew (forced, ARI-driven, or at a third of the lifetime
 * left), revoke (by account key or certificate key), list. */
#include "agent/cli.h"
#include "agent/acme/csr.h"
#include "agent/acme/order.h"
#include "agent/acme/parse.h"
#include "fileio.h"
#include "jose.h"
#include "keys.h"
#include "str.h"
#include "agent/store/renewal.h"
#include "agent/store/store.h"
#include "agent/ui.h"
#include <errno.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *key_to_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out = NULL;
	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) {
		long n = BIO_get_mem_data(b, &p);
		out = str_copy(p, (size_t)n);
	}
	BIO_free(b);
	return out;
}

static EVP_PKEY *key_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

/* Reads name from a lineage version dir. malloc'd or NULL. */
static char *read_in(const char *dir, const char *name)
{
	char *p = NULL, *buf = NULL;
	size_t len;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	if (file_read_all(p, STORE_MAX_PEM, &buf, &len) != 0)
		buf = NULL;
	free(p);
	return buf;
}

static int name_ok(const char *n)
{
	size_t len = strlen(n);
	const char *p = n;
	if (len == 0 || len > 253)
		return 0;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != strlen(p))
		return 0;
	return p[0] != '.' && p[0] != '-' && !strstr(p, "..");
}

static void fmt_time(time_t t, char *buf, size_t len)
{
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

/* Issues for r (domains, solver, options) and installs a new version of lineage. With
 * replaces / old_dir for renewals. *summary gets a JSON object on success. */
static int issue_lineage(const struct opts *o, const char *lineage, const struct renewal *r, const char *old_dir,
                         const char *replaces, json_t **summary, char *err, size_t errlen)
{
	struct acme_client *c = NULL;
	struct account a;
	struct solver *s = NULL;
	EVP_PKEY *key = NULL;
	char *fullchain = NULL, *order_url = NULL, *leaf = NULL, *chain = NULL, *keypem = NULL, *ren = NULL;
	json_t *rj = NULL;
	int rc = -1;
	memset(&a, 0, sizeof a);
	s = solver_new(&r->solver, err, errlen);
	if (!s)
		goto done;
	c = cli_connect(o, r->server);
	if (!c) {
		snprintf(err, errlen, "server %s unreachable", r->server);
		goto done;
	}
	if (cli_load_account(o, c, &a) != 0) {
		snprintf(err, errlen, "no usable account for %s", r->server);
		goto done;
	}
	ui_step("account: %s", a.url);
	if (r->profile) {
		json_t *profiles = acme_dir_meta(c, "profiles");
		if (!json_is_object(profiles)) {
			snprintf(err, errlen, "--profile %s: the server advertises no profiles", r->profile);
			goto done;
		}
		if (!json_object_get(profiles, r->profile)) {
			char list[400] = "";
			const char *k;
			json_t *v;
			json_object_foreach(profiles, k, v) {
				(void)v;
				strncat(list, " ", sizeof list - strlen(list) - 1);
				strncat(list, k, sizeof list - strlen(list) - 1);
			}
			snprintf(err, errlen, "--profile %s: the server offers only:%s", r->profile, list);
			goto done;
		}
	}
	if (r->reuse_key && old_dir) {
		char *kp = read_in(old_dir, "privkey.pem");
		key = kp ? key_from_pem(kp) : NULL;
		free(kp);
		if (key)
			ui_step("key: reusing the lineage's key");
	}
	if (!key) {
		key = key_generate(r->key_type);
		if (!key) {
			snprintf(err, errlen, "cannot generate a %s key", r->key_type);
			goto done;
		}
		ui_step("key: new %s key", r->key_type);
	}
	struct order_req req = {
		.names = (const char *const *)r->domains,
		.nnames = r->ndomains,
		.cert_key = key,
		.solver_kind = r->solver.kind,
		.profile = r->profile,
		.replaces = replaces,
		.preferred_chain = r->preferred_chain,
	};
	if (order_run(c, s, &req, &fullchain, &order_url, err, errlen) != 0)
		goto done;
	/* Challenge material goes before anything is installed. */
	solver_free(s);
	s = NULL;
	if (pem_split_chain(fullchain, &leaf, &chain) != 0 || !(keypem = key_to_pem(key))) {
		snprintf(err, errlen, "cannot read the downloaded certificate");
		goto done;
	}
	rj = renewal_to_json(r);
	ren = json_dumps(rj, JSON_INDENT(2));
	struct lineage_files f = {leaf, chain, fullchain, keypem, ren};
	if (!ren || store_lineage_install(o->config_dir, lineage, &f, err, errlen) != 0)
		goto done;
	char *cur = store_lineage_current(o->config_dir, lineage);
	ui_step("install: %s/certs/%s -> %s", o->config_dir, lineage, cur ? cur : "?");
	free(cur);
	time_t nb, na;
	char nas[32] = "";
	if (cert_validity(leaf, &nb, &na) == 0)
		fmt_time(na, nas, sizeof nas);
	json_t *doms = json_array();
	for (size_t i = 0; i < r->ndomains; i++)
		json_array_append_new(doms, json_string(r->domains[i]));
	char *base = NULL;
	if (asprintf(&base, "%s/certs/%s", o->config_dir, lineage) < 0)
		base = NULL;
	*summary = json_pack("{s:s,s:o,s:s,s:s,s:s}", "lineage", lineage, "domains", doms, "not_after", nas, "order",
	                     order_url, "path", base ? base : "");
	free(base);
	rc = 0;
done:
	solver_free(s); /* cleans up on failure and Ctrl-C too */
	account_clear(&a);
	acme_client_free(c);
	EVP_PKEY_free(key);
	free(fullchain);
	free(order_url);
	free(leaf);
	free(chain);
	if (keypem) {
		OPENSSL_cleanse(keypem, strlen(keypem));
		free(keypem);
	}
	free(ren);
	json_decref(rj);
	return rc;
}

static int deploy(const struct opts *o, const char *hook, const char *lineage, const struct renewal *r)
{
	if (!hook)
		return 0;
	int st = store_run_deploy_hook(hook, o->config_dir, lineage, (const char *const *)r->domains, r->ndomains);
	if (st != 0) {
		ui_error("deploy hook for %s failed (exit status %d): %s", lineage, st, hook);
		return -1;
	}
	ui_step("deploy: hook for %s done", lineage);
	return 0;
}

int cmd_issue(struct opts *o)
{
	struct renewal r;
	char err[1600], *lineage = NULL, *dir = NULL;
	json_t *sum = NULL;
	int rc = EXIT_FAIL;
	memset(&r, 0, sizeof r);
	if (o->nnames == 0)
		return cli_fail(o, "issue", EXIT_USAGE, "issue needs at least one -d NAME");
	for (size_t i = 0; i < o->nnames; i++)
		if (!name_ok(o->names[i]))
			return cli_fail(o, "issue", EXIT_USAGE, "-d %s is not a DNS name", o->names[i]);
	if (o->solver.kind == SOLVER_NONE)
		return cli_fail(o, "issue", EXIT_USAGE,
		                "choose a solver: --http01-webroot DIR, --http01-standalone, --dns01-hook SCRIPT, "
		                "--dns01-rfc2136 SERVER --tsig KEY or --tlsalpn01-standalone");
	if (strcmp(solver_challenge_type(o->solver.kind), "dns-01") != 0)
		for (size_t i = 0; i < o->nnames; i++)
			if (strncmp(o->names[i], "*.", 2) == 0)
				return cli_fail(o, "issue", EXIT_USAGE,
				                "%s: wildcard names can only be validated with dns-01 (RFC 8555 §7.1.3); use "
				                "--dns01-hook or --dns01-rfc2136", o->names[i]);
	lineage = o->lineage ? strdup(o->lineage) : store_lineage_default(o->names[0]);
	if (!lineage || !store_lineage_name_ok(lineage)) {
		rc = cli_fail(o, "issue", EXIT_USAGE, "lineage name \"%s\" may hold only letters, digits, '.', '_' and '-'",
		              lineage ? lineage : "");
		goto done;
	}
	r.server = strdup(o->server);
	r.domains = calloc(o->nnames, sizeof *r.domains);
	for (size_t i = 0; r.domains && i < o->nnames; i++)
		r.domains[r.ndomains++] = strdup(o->names[i]);
	r.key_type = strdup(o->key_type ? o->key_type : "ec256");
	r.reuse_key = o->reuse_key;
	r.profile = o->profile ? strdup(o->profile) : NULL;
	r.preferred_chain = o->preferred_chain ? strdup(o->preferred_chain) : NULL;
	r.deploy_hook = o->deploy_hook ? strdup(o->deploy_hook) : NULL;
	if (solver_cfg_copy(&r.solver, &o->solver) != 0)
		goto done;
	if (r.solver.webroot) {
		/* Renewal runs from another working directory (systemd): store an absolute path. */
		char *abs = realpath(r.solver.webroot, NULL);
		if (abs) {
			free(r.solver.webroot);
			r.solver.webroot = abs;
		}
	}
	if (r.solver.hook) {
		char *abs = realpath(r.solver.hook, NULL);
		if (abs) {
			free(r.solver.hook);
			r.solver.hook = abs;
		}
	}
	dir = store_lineage_current(o->config_dir, lineage);
	if (issue_lineage(o, lineage, &r, dir, NULL, &sum, err, sizeof err) != 0) {
		rc = cli_fail(o, "issue", EXIT_FAIL, "issue %s failed: %s", lineage, err);
		goto done;
	}
	rc = EXIT_OK;
	if (deploy(o, r.deploy_hook, lineage, &r) != 0) {
		rc = EXIT_FAIL;
		json_object_set_new(sum, "deploy", json_string("failed"));
	}
	json_object_set_new(sum, "command", json_string("issue"));
	json_object_set_new(sum, "status", json_string(rc == EXIT_OK ? "issued" : "issued-deploy-failed"));
	cli_json_out(o, sum);
done:
	renewal_clear(&r);
	free(lineage);
	free(dir);
	return rc;
}

/* Loads renewal.json + cert.pem of the lineage's current set. */
static int load_lineage(const struct opts *o, const char *name, char **dir, struct renewal *r, char **cert,
                        char *err, size_t errlen)
{
	char *text = NULL, perr[300];
	*cert = NULL;
	*dir = store_lineage_current(o->config_dir, name);
	if (!*dir) {
		snprintf(err, errlen, "no lineage %s under %s/certs", name, o->config_dir);
		return -1;
	}
	text = read_in(*dir, "renewal.json");
	if (!text || renewal_parse(text, strlen(text), r, perr, sizeof perr) != 0) {
		snprintf(err, errlen, "%s/renewal.json: %s", *dir, text ? perr : "unreadable");
		free(text);
		return -1;
	}
	free(text);
	*cert = read_in(*dir, "cert.pem");
	if (!*cert) {
		snprintf(err, errlen, "%s/cert.pem is unreadable", *dir);
		renewal_clear(r);
		return -1;
	}
	return 0;
}

/* FNV-1a of the CertID: a stable pseudo-random spread for the ARI renewal time. */
static uint64_t ari_spread(const char *certid)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)certid; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

/* Is the certificate due? Uses ARI when the server offers renewalInfo (RFC 9773 §4.2),
 * else a third of the lifetime left. *why gets the reason. */
static int renewal_due(const struct opts *o, const struct renewal *r, const char *cert, const char *certid,
                       int *ari, char *why, size_t whylen)
{
	time_t nb, na, now = time(NULL);
	*ari = 0;
	if (cert_validity(cert, &nb, &na) != 0) {
		snprintf(why, whylen, "certificate unreadable; renewing");
		return 1;
	}
	if (certid) {
		struct acme_client *c = acme_client_new(r->server, o->ca_bundle);
		if (c && acme_directory(c) == 0 && acme_dir_url(c, "renewalInfo")) {
			char *url = NULL, herr[300];
			const char *base = acme_dir_url(c, "renewalInfo");
			struct http_resp resp;
			if (asprintf(&url, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/", certid) >= 0 &&
			    http_request(c->http, "GET", url, NULL, &resp, herr, sizeof herr) == 0) {
				json_t *j = resp.status == 200 ? jose_json_loadb(resp.body, resp.body_len, herr, sizeof herr) : NULL;
				json_t *w = json_object_get(j, "suggestedWindow");
				time_t s = parse_rfc3339(json_string_value(json_object_get(w, "start")));
				time_t e = parse_rfc3339(json_string_value(json_object_get(w, "end")));
				http_resp_clear(&resp);
				if (s > 0 && e >= s) {
					*ari = 1;
					char ss[32], es[32];
					fmt_time(s, ss, sizeof ss);
					fmt_time(e, es, sizeof es);
					json_decref(j);
					free(url);
					acme_client_free(c);
					/* RFC 9773 §4.2: renew at a random point of the window. The point is
					 * derived from the CertID so that twice-daily runs agree on it. */
					time_t at = s + (time_t)(ari_spread(certid) % (uint64_t)(e - s + 1));
					char ats[32];
					fmt_time(at, ats, sizeof ats);
					if (now >= at) {
						snprintf(why, whylen, "inside the CA's renewal window (%s .. %s)", ss, es);
						return 1;
					}
					snprintf(why, whylen, "CA suggests renewing between %s and %s; this one at %s", ss, es, ats);
					return 0;
				}
				json_decref(j);
				ui_debug("renewalInfo %s gave no usable window; using the lifetime rule", url);
			}
			free(url);
		}
		acme_client_free(c);
	}
	time_t left = na - now, life = na - nb;
	if (left <= life / 3) {
		snprintf(why, whylen, "%ld days left of %ld", (long)(left / 86400), (long)(life / 86400));
		return 1;
	}
	snprintf(why, whylen, "%ld days left; renewing at a third of the lifetime", (long)(left / 86400));
	return 0;
}

int cmd_renew(struct opts *o)
{
	char **names = NULL;
	size_t n = 0;
	int failed = 0;
	json_t *results = json_array();
	if (o->lineage) {
		names = calloc(1, sizeof *names);
		if (names && (names[0] = strdup(o->lineage)))
			n = 1;
	} else {
		names = store_lineage_list(o->config_dir, &n);
	}
	if (n == 0)
		ui_step("renew: no certificates under %s/certs", o->config_dir);
	for (size_t i = 0; i < n; i++) {
		struct renewal r;
		char *dir = NULL, *cert = NULL, *certid = NULL, err[1600], why[300];
		json_t *sum = NULL;
		memset(&r, 0, sizeof r);
		if (http_interrupted)
			break;
		if (load_lineage(o, names[i], &dir, &r, &cert, err, sizeof err) != 0) {
			ui_error("renew %s: %s", names[i], err);
			json_array_append_new(results, json_pack("{s:s,s:s,s:s}", "lineage", names[i], "status", "failed",
			                                         "error", err));
			failed++;
			goto next;
		}
		if (o->deploy_hook) {
			free(r.deploy_hook);
			r.deploy_hook = strdup(o->deploy_hook);
		}
		certid = cert_ari_id(cert);
		int ari = 0;
		int due = o->force ? 1 : renewal_due(o, &r, cert, certid, &ari, why, sizeof why);
		if (o->force)
			snprintf(why, sizeof why, "--force");
		if (!due) {
			ui_step("renew %s: not due (%s)", names[i], why);
			json_array_append_new(results, json_pack("{s:s,s:s,s:s}", "lineage", names[i], "status", "not-due",
			                                         "reason", why));
			goto next;
		}
		ui_step("renew %s: renewing (%s)", names[i], why);
		/* RFC 9773 §5: "replaces" names the certificate being renewed, when the CA speaks ARI */
		if (issue_lineage(o, names[i], &r, dir, certid, &sum, err, sizeof err) != 0) {
			ui_error("renew %s failed: %s", names[i], err);
			json_array_append_new(results, json_pack("{s:s,s:s,s:s}", "lineage", names[i], "status", "failed",
			                                         "error", err));
			failed++;
			goto next;
		}
		json_object_set_new(sum, "status", json_string("renewed"));
		json_object_set_new(sum, "reason", json_string(why));
		if (deploy(o, r.deploy_hook, names[i], &r) != 0) {
			failed++;
			json_object_set_new(sum, "deploy", json_string("failed"));
		}
		json_array_append_new(results, sum);
	next:
		renewal_clear(&r);
		free(dir);
		free(cert);
		free(certid);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	cli_json_out(o, json_pack("{s:s,s:s,s:o}", "command", "renew", "status", failed ? "error" : "ok", "lineages",
	                          results));
	if (http_interrupted)
		return EXIT_INTERRUPTED;
	return failed ? EXIT_FAIL : EXIT_OK;
}

static int reason_code(const char *r)
{
	/* RFC 5280 §5.3.1 CRLReason values that RFC 8555 §7.6 lets a subscriber use */
	static const struct {
		const char *name;
		int code;
	} t[] = {{"unspecified", 0}, {"keyCompromise", 1}, {"superseded", 4}, {"cessationOfOperation", 5}};
	if (!r)
		return 0;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(t[i].name, r) == 0)
			return t[i].code;
	return -1;
}

int cmd_revoke(struct opts *o)
{
	char *pem = NULL, *dir = NULL, *der = NULL, err[600];
	struct renewal r;
	struct account a;
	struct acme_client *c = NULL;
	EVP_PKEY *ckey = NULL;
	int rc = EXIT_FAIL, have_acct = 0;
	const char *server = o->server;
	memset(&r, 0, sizeof r);
	memset(&a, 0, sizeof a);
	int code = reason_code(o->reason);
	if (code < 0)
		return cli_fail(o, "revoke", EXIT_USAGE,
		                "--reason %s: use unspecified, keyCompromise, superseded or cessationOfOperation", o->reason);
	if (!!o->lineage == !!o->cert_file)
		return cli_fail(o, "revoke", EXIT_USAGE, "revoke needs --name LINEAGE or --cert FILE");
	if (o->lineage) {
		if (load_lineage(o, o->lineage, &dir, &r, &pem, err, sizeof err) != 0)
			return cli_fail(o, "revoke", EXIT_FAIL, "revoke: %s", err);
		if (!o->server_given)
			server = r.server;
	} else {
		size_t len;
		if (file_read_all(o->cert_file, STORE_MAX_PEM, &pem, &len) != 0) {
			rc = cli_fail(o, "revoke", EXIT_FAIL, "cannot read %s: %s", o->cert_file, strerror(errno));
			goto done;
		}
	}
	der = cert_der_b64(pem);
	if (!der) {
		rc = cli_fail(o, "revoke", EXIT_FAIL, "%s holds no PEM certificate", o->cert_file ? o->cert_file : dir);
		goto done;
	}
	if (o->key_file) {
		ckey = key_load_private(o->key_file);
		if (!ckey) {
			rc = cli_fail(o, "revoke", EXIT_FAIL, "cannot load the private key %s", o->key_file);
			goto done;
		}
	}
	c = cli_connect(o, server);
	if (!c) {
		rc = cli_fail(o, "revoke", EXIT_FAIL, "server %s unreachable", server);
		goto done;
	}
	if (!acme_dir_url(c, "revokeCert")) {
		rc = cli_fail(o, "revoke", EXIT_FAIL, "%s does not offer revocation (no revokeCert in its directory)", server);
		goto done;
	}
	if (!ckey) {
		if (cli_load_account(o, c, &a) != 0) {
			rc = cli_fail(o, "revoke", EXIT_FAIL, "no account to revoke with; pass --key with the certificate's key");
			goto done;
		}
		have_acct = 1;
	}
	json_t *pl = json_pack("{s:s,s:i}", "certificate", der, "reason", code);
	char *body = json_dumps(pl, JSON_COMPACT);
	json_decref(pl);
	struct http_resp resp;
	/* RFC 8555 §7.6: signed by the account (kid) or by the certificate's key (jwk) */
	int prc = acme_post(c, ckey, ckey ? NULL : c->kid, acme_dir_url(c, "revokeCert"), body, &resp);
	free(body);
	if (prc != 0) {
		rc = cli_fail(o, "revoke", EXIT_FAIL, "revocation failed: %s", c->err);
		goto done;
	}
	http_resp_clear(&resp);
	ui_step("revoke: certificate revoked (reason %s, signed with the %s)", o->reason ? o->reason : "unspecified",
	        ckey ? "certificate key" : "account key");
	cli_json_out(o, json_pack("{s:s,s:s,s:s}", "command", "revoke", "status", "revoked", "signed_with",
	                          ckey ? "certificate-key" : "account-key"));
	rc = EXIT_OK;
done:
	if (have_acct)
		account_clear(&a);
	acme_client_free(c);
	EVP_PKEY_free(ckey);
	renewal_clear(&r);
	free(pem);
	free(dir);
	free(der);
	return rc;
}

int cmd_list(struct opts *o)
{
	size_t n = 0;
	char **names = store_lineage_list(o->config_dir, &n);
	json_t *arr = json_array();
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++) {
		struct renewal r;
		char *dir = NULL, *cert = NULL, err[600], nas[32] = "?";
		time_t nb, na;
		memset(&r, 0, sizeof r);
		if (load_lineage(o, names[i], &dir, &r, &cert, err, sizeof err) != 0) {
			if (!o->json)
				printf("%s\tbroken: %s\n", names[i], err);
			json_array_append_new(arr, json_pack("{s:s,s:s}", "lineage", names[i], "error", err));
			free(names[i]);
			continue;
		}
		long days = -1;
		if (cert_validity(cert, &nb, &na) == 0) {
			fmt_time(na, nas, sizeof nas);
			days = (long)((na - now) / 86400);
		}
		json_t *doms = json_array();
		size_t dl = 0;
		char domstr[1024] = "";
		for (size_t k = 0; k < r.ndomains; k++) {
			json_array_append_new(doms, json_string(r.domains[k]));
			int w = snprintf(domstr + dl, sizeof domstr - dl, "%s%s", k ? "," : "", r.domains[k]);
			if (w > 0 && dl + (size_t)w < sizeof domstr)
				dl += (size_t)w;
		}
		if (!o->json)
			printf("%s\t%s\texpires %s (%ld days)\t%s\t%s\n", names[i], domstr, nas, days,
			       solver_kind_name(r.solver.kind), dir);
		json_array_append_new(arr, json_pack("{s:s,s:o,s:s,s:i,s:s,s:s,s:s}", "lineage", names[i], "domains", doms,
		                                     "not_after", nas, "days_left", (int)days, "solver",
		                                     solver_kind_name(r.solver.kind), "server", r.server, "path", dir));
		renewal_clear(&r);
		free(dir);
		free(cert);
		free(names[i]);
	}
	free(names);
	if (n == 0 && !o->json)
		ui_step("no certificates under %s/certs", o->config_dir);
	cli_json_out(o, json_pack("{s:s,s:s,s:o}", "command", "list", "status", "ok", "lineages", arr));
	return EXIT_OK;
}
