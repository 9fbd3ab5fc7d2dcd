/* renewal.json encode/decode. Version 1 layout:
 * {"version":1,"server":URL,"domains":[...],"key_type":"ec256","reuse_key":false,
 *  "profile":?,"preferred_chain":?,"deploy_hook":?,
 *  "solver":{"type":"http01-webroot","webroot":?,"port":?,"hook":?,"server":?,"tsig":?}} */
#include "agent/store/renewal.h"
#include "keys.h"
#include "jose.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void renewal_clear(struct renewal *r)
{
	free(r->server);
	for (size_t i = 0; i < r->ndomains; i++)
		free(r->domains[i]);
	free(r->domains);
	free(r->key_type);
	free(r->profile);
	free(r->preferred_chain);
	free(r->deploy_hook);
	solver_cfg_clear(&r->solver);
	memset(r, 0, sizeof *r);
}

/* Optional string member: absent/null leaves *dst NULL; another type is an error. */
static int opt_str(const json_t *o, const char *key, char **dst, const char *ctx, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	*dst = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "\"%s%s\" must be a non-empty string", ctx, key);
		return -1;
	}
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : -1;
}

int renewal_parse(const char *text, size_t len, struct renewal *r, char *err, size_t errlen)
{
	char jerr[160];
	memset(r, 0, sizeof *r);
	if (len > RENEWAL_MAX_BYTES) {
		snprintf(err, errlen, "larger than %d bytes", RENEWAL_MAX_BYTES);
		return -1;
	}
	json_t *j = jose_json_loadb(text, len, jerr, sizeof jerr);
	if (!j) {
		snprintf(err, errlen, "not JSON: %s", jerr);
		return -1;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "not a JSON object");
		goto fail;
	}
	json_t *ver = json_object_get(j, "version");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
		snprintf(err, errlen, "\"version\" must be 1");
		goto fail;
	}
	if (opt_str(j, "server", &r->server, "", err, errlen) != 0)
		goto fail;
	if (!r->server) {
		snprintf(err, errlen, "\"server\" is missing");
		goto fail;
	}
	json_t *doms = json_object_get(j, "domains");
	if (!json_is_array(doms) || json_array_size(doms) == 0 || json_array_size(doms) > RENEWAL_MAX_DOMAINS) {
		snprintf(err, errlen, "\"domains\" must be an array of 1 to %d names", RENEWAL_MAX_DOMAINS);
		goto fail;
	}
	r->domains = calloc(json_array_size(doms), sizeof *r->domains);
	if (!r->domains)
		goto fail;
	size_t i;
	json_t *d;
	json_array_foreach(doms, i, d) {
		if (!json_is_string(d) || json_string_length(d) == 0 || json_string_length(d) > 253) {
			snprintf(err, errlen, "\"domains\"[%zu] must be a name of 1 to 253 characters", i);
			goto fail;
		}
		r->domains[r->ndomains++] = strdup(json_string_value(d));
	}
	if (opt_str(j, "key_type", &r->key_type, "", err, errlen) != 0)
		goto fail;
	if (!r->key_type)
		r->key_type = strdup("ec256");
	else if (!key_type_valid(r->key_type)) {
		snprintf(err, errlen, "\"key_type\" \"%s\" is not one of ec256, ec384, rsa2048, rsa3072, rsa4096",
		         r->key_type);
		goto fail;
	}
	json_t *reuse = json_object_get(j, "reuse_key");
	if (reuse && !json_is_boolean(reuse)) {
		snprintf(err, errlen, "\"reuse_key\" must be true or false");
		goto fail;
	}
	r->reuse_key = json_is_true(reuse);
	if (opt_str(j, "profile", &r->profile, "", err, errlen) ||
	    opt_str(j, "preferred_chain", &r->preferred_chain, "", err, errlen) ||
	    opt_str(j, "deploy_hook", &r->deploy_hook, "", err, errlen))
		goto fail;
	json_t *s = json_object_get(j, "solver");
	if (!json_is_object(s)) {
		snprintf(err, errlen, "\"solver\" must be an object");
		goto fail;
	}
	const char *type = json_string_value(json_object_get(s, "type"));
	r->solver.kind = solver_kind_from_name(type);
	if (r->solver.kind == SOLVER_NONE) {
		snprintf(err, errlen, "\"solver.type\" \"%s\" is not a known solver", type ? type : "(missing)");
		goto fail;
	}
	if (opt_str(s, "webroot", &r->solver.webroot, "solver.", err, errlen) ||
	    opt_str(s, "hook", &r->solver.hook, "solver.", err, errlen) ||
	    opt_str(s, "server", &r->solver.dns_server, "solver.", err, errlen) ||
	    opt_str(s, "tsig", &r->solver.tsig, "solver.", err, errlen))
		goto fail;
	json_t *port = json_object_get(s, "port");
	if (port && !json_is_null(port)) {
		if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535) {
			snprintf(err, errlen, "\"solver.port\" must be a port number 1-65535");
			goto fail;
		}
		r->solver.port = (int)json_integer_value(port);
	}
	switch (r->solver.kind) {
	case SOLVER_HTTP01_WEBROOT:
		if (!r->solver.webroot) {
			snprintf(err, errlen, "\"solver.webroot\" is missing for http01-webroot");
			goto fail;
		}
		break;
	case SOLVER_DNS01_HOOK:
		if (!r->solver.hook) {
			snprintf(err, errlen, "\"solver.hook\" is missing for dns01-hook");
			goto fail;
		}
		break;
	case SOLVER_DNS01_RFC2136:
		if (!r->solver.dns_server) {
			snprintf(err, errlen, "\"solver.server\" is missing for dns01-rfc2136");
			goto fail;
		}
		break;
	default:
		break;
	}
	json_decref(j);
	return 0;
fail:
	json_decref(j);
	renewal_clear(r);
	return -1;
}

static void set_opt(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

json_t *renewal_to_json(const struct renewal *r)
{
	json_t *j = json_object();
	json_object_set_new(j, "version", json_integer(1));
	set_opt(j, "server", r->server);
	json_t *d = json_array();
	for (size_t i = 0; i < r->ndomains; i++)
		json_array_append_new(d, json_string(r->domains[i]));
	json_object_set_new(j, "domains", d);
	set_opt(j, "key_type", r->key_type);
	json_object_set_new(j, "reuse_key", json_boolean(r->reuse_key));
	set_opt(j, "profile", r->profile);
	set_opt(j, "preferred_chain", r->preferred_chain);
	set_opt(j, "deploy_hook", r->deploy_hook);
	json_t *s = json_object();
	set_opt(s, "type", solver_kind_name(r->solver.kind));
	set_opt(s, "webroot", r->solver.webroot);
	if (r->solver.port)
		json_object_set_new(s, "port", json_integer(r->solver.port));
	set_opt(s, "hook", r->solver.hook);
	set_opt(s, "server", r->solver.dns_server);
	set_opt(s, "tsig", r->solver.tsig);
	json_object_set_new(j, "solver", s);
	return j;
}
