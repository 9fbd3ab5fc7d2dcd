/* Configuration: defaults, JSON file, flags, in that order of precedence (flags win).
 * Unknown or mistyped fields are errors that name the field, so a typo never silently passes. */
#include "config.h"
#include "fileio.h"
#include "jose.h"
#include "keys.h"
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1024 * 1024)

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? strdup(v) : NULL;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	set_str(&c->data_dir, "./cobble-data");
	set_str(&c->listen_host, "127.0.0.1");
	c->listen_port = 14000;
	c->http01_port = 80;
	c->tlsalpn01_port = 443;
	set_str(&c->intermediate_key, "ec256");
	set_str(&c->website, "https://github.com/cobble/cobble");
	c->caa_identities = calloc(1, sizeof(char *));
	c->caa_identities[0] = strdup("cobble.test");
	c->ncaa_identities = 1;
	c->validity_days = 90;
	c->max_identifiers = 100; /* Let's Encrypt's limit */
	c->max_body = 64 * 1024;
	c->order_lifetime = 7 * 24 * 3600;
	c->authz_lifetime = 7 * 24 * 3600;
	c->authz_reuse = 30 * 24 * 3600;          /* Let's Encrypt's long-standing reuse window */
	c->valid_authz_lifetime = 30 * 24 * 3600;
	c->workers = 4;
	c->validation_timeout_ms = 10000;
	c->retry_after = 1;
	c->challenge_wait_ms = 25;
	c->crl_shards = 4;
	c->ocsp = 1;
	c->crl_max_age = 60;
}

void config_free(struct config *c)
{
	free(c->data_dir);
	free(c->listen_host);
	free(c->public_host);
	free(c->dns_resolver);
	free(c->base_url);
	free(c->database);
	free(c->tos_url);
	free(c->website);
	free_list(c->caa_identities, c->ncaa_identities);
	free(c->intermediate_key);
	free(c->alt_chain_file);
	free_list(c->allowed_suffixes, c->nallowed);
	free_list(c->denied_suffixes, c->ndenied);
	free_list(c->dns_trust_anchors, c->ndns_trust_anchors);
	memset(c, 0, sizeof *c);
}

/* "HOST:PORT", "[V6]:PORT". */
static int parse_hostport(const char *s, char **host, int *port)
{
	const char *colon;
	char *h;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -1;
		h = strndup(s + 1, (size_t)(end - s - 1));
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return -1;
		h = strndup(s, (size_t)(colon - s));
	}
	char *endp;
	errno = 0;
	long p = strtol(colon + 1, &endp, 10);
	if (errno || *endp || p < 1 || p > 65535) {
		free(h);
		return -1;
	}
	free(*host);
	*host = h;
	*port = (int)p;
	return 0;
}

static int parse_port(const char *s, int *out)
{
	char *endp;
	errno = 0;
	long p = strtol(s, &endp, 10);
	if (errno || !*s || *endp || p < 1 || p > 65535)
		return -1;
	*out = (int)p;
	return 0;
}

static int get_string_list(json_t *v, char ***out, size_t *n)
{
	if (!json_is_array(v))
		return -1;
	size_t cnt = json_array_size(v);
	char **l = calloc(cnt ? cnt : 1, sizeof *l);
	if (!l)
		return -1;
	for (size_t i = 0; i < cnt; i++) {
		const char *s = json_string_value(json_array_get(v, i));
		if (!s) {
			free_list(l, i);
			return -1;
		}
		l[i] = strdup(s);
	}
	free_list(*out, *n);
	*out = l;
	*n = cnt;
	return 0;
}

struct field {
	const char *name;
	enum { F_STR, F_INT, F_BOOL, F_LIST, F_LISTEN, F_PUBLIC_LISTEN, F_PORT, F_SIZE } kind;
	size_t off;
	size_t noff; /* for lists: offset of the count */
	long min, max;
};

#define OFF(m) offsetof(struct config, m)
static const struct field top_fields[] = {
    {"dataDir", F_STR, OFF(data_dir), 0, 0, 0},
    {"listen", F_LISTEN, 0, 0, 0, 0},
    {"dnsResolver", F_STR, OFF(dns_resolver), 0, 0, 0},
    {"http01Port", F_PORT, OFF(http01_port), 0, 1, 65535},
    {"tlsalpn01Port", F_PORT, OFF(tlsalpn01_port), 0, 1, 65535},
    {"lab", F_BOOL, OFF(lab), 0, 0, 0},
    {"baseURL", F_STR, OFF(base_url), 0, 0, 0},
    {"database", F_STR, OFF(database), 0, 0, 0},
    {"termsOfService", F_STR, OFF(tos_url), 0, 0, 0},
    {"website", F_STR, OFF(website), 0, 0, 0},
    {"caaIdentities", F_LIST, OFF(caa_identities), OFF(ncaa_identities), 0, 0},
    {"intermediateKeyType", F_STR, OFF(intermediate_key), 0, 0, 0},
    {"alternateChainFile", F_STR, OFF(alt_chain_file), 0, 0, 0},
    {"certificateValidityDays", F_INT, OFF(validity_days), 0, 1, 398}, /* CA/B BR §6.3.2 */
    {"maxRequestBytes", F_SIZE, OFF(max_body), 0, 4096, 1 << 20},
    {"orderLifetimeSeconds", F_INT, OFF(order_lifetime), 0, 60, 30 * 24 * 3600},
    {"pendingAuthzLifetimeSeconds", F_INT, OFF(authz_lifetime), 0, 60, 30 * 24 * 3600},
    {"validationWorkers", F_INT, OFF(workers), 0, 1, 256},
    {"validationTimeoutMs", F_INT, OFF(validation_timeout_ms), 0, 100, 120000},
    {"retryAfterSeconds", F_INT, OFF(retry_after), 0, 1, 3600},
    {"challengeReplyWaitMs", F_INT, OFF(challenge_wait_ms), 0, 0, 10000},
    {"publicListen", F_PUBLIC_LISTEN, 0, 0, 0, 0},
    {"crlShards", F_INT, OFF(crl_shards), 0, 1, 256},
    {"ocsp", F_BOOL, OFF(ocsp), 0, 0, 0},
    {"crlMaxAgeSeconds", F_INT, OFF(crl_max_age), 0, 1, 86400},
    /* CA/B BR §4.2.1: validation data may be reused for at most 398 days. */
    {"authzReuseSeconds", F_INT, OFF(authz_reuse), 0, 0, 398 * 24 * 3600},
    {"validAuthzLifetimeSeconds", F_INT, OFF(valid_authz_lifetime), 0, 3600, 398 * 24 * 3600},
    {"dnsTrustAnchors", F_LIST, OFF(dns_trust_anchors), OFF(ndns_trust_anchors), 0, 0},
    {NULL, F_STR, 0, 0, 0, 0},
};
static const struct field policy_fields[] = {
    {"allowedSuffixes", F_LIST, OFF(allowed_suffixes), OFF(nallowed), 0, 0},
    {"deniedSuffixes", F_LIST, OFF(denied_suffixes), OFF(ndenied), 0, 0},
    {"maxIdentifiers", F_INT, OFF(max_identifiers), 0, 1, 1000},
    {"allowIP", F_BOOL, OFF(allow_ip), 0, 0, 0},
    {NULL, F_STR, 0, 0, 0, 0},
};

static int apply_fields(struct config *c, json_t *obj, const struct field *fields, const char *prefix,
                        char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		const struct field *f = fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			if (!prefix[0] && strcmp(key, "identifierPolicy") == 0) {
				if (!json_is_object(v)) {
					snprintf(err, errlen, "config field \"identifierPolicy\" must be an object");
					return -1;
				}
				if (apply_fields(c, v, policy_fields, "identifierPolicy.", err, errlen))
					return -1;
				continue;
			}
			snprintf(err, errlen, "config field \"%s%s\" is unknown", prefix, key);
			return -1;
		}
		char *base = (char *)c;
		switch (f->kind) {
		case F_STR:
			if (!json_is_string(v) || json_string_length(v) == 0) {
				snprintf(err, errlen, "config field \"%s%s\" must be a non-empty string", prefix, key);
				return -1;
			}
			set_str((char **)(base + f->off), json_string_value(v));
			break;
		case F_INT:
		case F_PORT:
		case F_SIZE: {
			if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
				snprintf(err, errlen, "config field \"%s%s\" must be an integer from %ld to %ld", prefix,
				         key, f->min, f->max);
				return -1;
			}
			if (f->kind == F_SIZE)
				*(size_t *)(base + f->off) = (size_t)json_integer_value(v);
			else
				*(int *)(base + f->off) = (int)json_integer_value(v);
			break;
		}
		case F_BOOL:
			if (!json_is_boolean(v)) {
				snprintf(err, errlen, "config field \"%s%s\" must be true or false", prefix, key);
				return -1;
			}
			*(int *)(base + f->off) = json_is_true(v);
			break;
		case F_LIST:
			if (get_string_list(v, (char ***)(base + f->off), (size_t *)(base + f->noff))) {
				snprintf(err, errlen, "config field \"%s%s\" must be an array of strings", prefix, key);
				return -1;
			}
			break;
		case F_LISTEN:
			if (!json_is_string(v) || parse_hostport(json_string_value(v), &c->listen_host, &c->listen_port)) {
				snprintf(err, errlen, "config field \"%s%s\" must be \"HOST:PORT\"", prefix, key);
				return -1;
			}
			break;
		case F_PUBLIC_LISTEN:
			if (!json_is_string(v) || parse_hostport(json_string_value(v), &c->public_host, &c->public_port)) {
				snprintf(err, errlen, "config field \"%s%s\" must be \"HOST:PORT\"", prefix, key);
				return -1;
			}
			break;
		}
	}
	return 0;
}

int config_apply_json(struct config *c, const char *text, size_t len, char *err, size_t errlen)
{
	char jerr[160];
	json_t *root = jose_json_loadb(text, len, jerr, sizeof jerr);
	if (!root) {
		snprintf(err, errlen, "config is not valid JSON: %s", jerr);
		return -1;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(err, errlen, "config must be a JSON object");
		return -1;
	}
	int rc = apply_fields(c, root, top_fields, "", err, errlen);
	json_decref(root);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cobbled [--config FILE] [--data-dir DIR] [--listen HOST:PORT]\n"
	           "               [--dns-resolver HOST:PORT] [--http01-port N] [--tlsalpn01-port N] [--lab]\n"
	           "               [--database sqlite:PATH|postgres://...] [--public-listen HOST:PORT]\n"
	           "               [--verbose] [--version]\n"
	           "       cobbled migrate [--config FILE] [--data-dir DIR] [--database SPEC]\n"
	           "  COBBLE_DATABASE in the environment is the default for --database.\n");
}

int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	enum { O_CONFIG = 256, O_DATA, O_LISTEN, O_DNS, O_HTTP, O_TLS, O_LAB, O_HELP, O_VERSION, O_VERBOSE, O_DATABASE,
	       O_PUBLIC };
	static const struct option opts[] = {
	    {"config", required_argument, NULL, O_CONFIG},
	    {"data-dir", required_argument, NULL, O_DATA},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"dns-resolver", required_argument, NULL, O_DNS},
	    {"http01-port", required_argument, NULL, O_HTTP},
	    {"tlsalpn01-port", required_argument, NULL, O_TLS},
	    {"lab", no_argument, NULL, O_LAB},
	    {"database", required_argument, NULL, O_DATABASE},
	    {"public-listen", required_argument, NULL, O_PUBLIC},
	    {"verbose", no_argument, NULL, O_VERBOSE},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	/* First pass: only --config, so the file is applied before the other flags. */
	const char *config_file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config_file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config_file = argv[i] + 9;
	}
	if (config_file) {
		char *text = NULL;
		size_t len = 0;
		if (file_read_all(config_file, CONFIG_MAX_BYTES, &text, &len)) {
			snprintf(err, errlen, "cannot read config file %s: %s", config_file, strerror(errno));
			return -1;
		}
		char inner[256];
		int rc = config_apply_json(c, text, len, inner, sizeof inner);
		free(text);
		if (rc) {
			snprintf(err, errlen, "%s: %s", config_file, inner);
			return -1;
		}
	}
	/* issue 6: the environment overrides the file, a flag overrides both. */
	const char *env_db = getenv("COBBLE_DATABASE");
	if (env_db && *env_db)
		set_str(&c->database, env_db);
	opterr = 0;
	optind = 1;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_CONFIG:
			break;
		case O_DATA:
			set_str(&c->data_dir, optarg);
			break;
		case O_LISTEN:
			if (parse_hostport(optarg, &c->listen_host, &c->listen_port)) {
				snprintf(err, errlen, "--listen: expected HOST:PORT, got \"%s\"", optarg);
				return -1;
			}
			break;
		case O_DNS:
			set_str(&c->dns_resolver, optarg);
			break;
		case O_HTTP:
			if (parse_port(optarg, &c->http01_port)) {
				snprintf(err, errlen, "--http01-port: expected a port 1-65535, got \"%s\"", optarg);
				return -1;
			}
			break;
		case O_TLS:
			if (parse_port(optarg, &c->tlsalpn01_port)) {
				snprintf(err, errlen, "--tlsalpn01-port: expected a port 1-65535, got \"%s\"", optarg);
				return -1;
			}
			break;
		case O_LAB:
			c->lab = 1;
			break;
		case O_DATABASE:
			set_str(&c->database, optarg);
			break;
		case O_PUBLIC:
			if (parse_hostport(optarg, &c->public_host, &c->public_port)) {
				snprintf(err, errlen, "--public-listen: expected HOST:PORT, got \"%s\"", optarg);
				return -1;
			}
			break;
		case O_VERBOSE:
			break; /* handled by main */
		case O_HELP:
			usage(stdout);
			return 1;
		case O_VERSION:
			printf("cobbled %s\n", COBBLE_VERSION);
			return 1;
		default:
			if (optopt)
				snprintf(err, errlen, "option needs a value or is unknown: -%c", optopt);
			else
				snprintf(err, errlen, "unknown or incomplete option: %s", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument: %s", argv[optind]);
		return -1;
	}
	if (!key_type_valid(c->intermediate_key)) {
		snprintf(err, errlen, "config field \"intermediateKeyType\": unknown key type \"%s\"",
		         c->intermediate_key);
		return -1;
	}
	if (!c->base_url) {
		char buf[300];
		int v6 = strchr(c->listen_host, ':') != NULL;
		snprintf(buf, sizeof buf, "https://%s%s%s:%d", v6 ? "[" : "", c->listen_host, v6 ? "]" : "",
		         c->listen_port);
		set_str(&c->base_url, buf);
	} else {
		size_t n = strlen(c->base_url);
		while (n > 0 && c->base_url[n - 1] == '/')
			c->base_url[--n] = '\0';
	}
	if (!c->tos_url) {
		char buf[600];
		snprintf(buf, sizeof buf, "%s/terms", c->base_url);
		set_str(&c->tos_url, buf);
	}
	if (!c->database) {
		char buf[PATH_MAX];
		snprintf(buf, sizeof buf, "sqlite:%s/cobble.db", c->data_dir);
		set_str(&c->database, buf);
	}
	return 0;
}
