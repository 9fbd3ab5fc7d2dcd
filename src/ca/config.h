/* cobbled's configuration: defaults, the JSON config file, then command-line flags.
 * Policy is data (design.md §4): every field is checked at start-up; errors name the field. */
#ifndef COBBLE_CONFIG_H
#define COBBLE_CONFIG_H
#include <stddef.h>

struct config {
	char *data_dir;          /* --data-dir, "dataDir"; default ./cobble-data */
	char *listen_host;       /* --listen HOST:PORT, "listen"; default 127.0.0.1:14000 */
	int listen_port;
	char *dns_resolver;      /* --dns-resolver HOST:PORT, "dnsResolver"; NULL = recursive */
	int http01_port;         /* --http01-port, "http01Port"; default 80 */
	int tlsalpn01_port;      /* --tlsalpn01-port, "tlsalpn01Port"; default 443 */
	int lab;                 /* --lab, "lab": validate against loopback/private addresses */
	char *base_url;          /* "baseURL"; default https://LISTEN */
	char *database;          /* "database"; default sqlite:DATA/cobble.db */
	char *tos_url;           /* "termsOfService" */
	char *website;           /* "website" */
	char **caa_identities;   /* "caaIdentities"; default ["cobble.test"] */
	size_t ncaa_identities;
	char *intermediate_key;  /* "intermediateKeyType": ec256 | ec384 | rsa2048 | rsa3072 | rsa4096 */
	char *alt_chain_file;    /* "alternateChainFile" */
	int validity_days;       /* "certificateValidityDays", default 90 */
	char **allowed_suffixes; /* "identifierPolicy.allowedSuffixes"; empty = any */
	size_t nallowed;
	char **denied_suffixes;  /* "identifierPolicy.deniedSuffixes" */
	size_t ndenied;
	int max_identifiers;     /* "identifierPolicy.maxIdentifiers", default 100 */
	int allow_ip;            /* "identifierPolicy.allowIP": RFC 8738 ip identifiers; default false */
	int authz_reuse;         /* "authzReuseSeconds": reuse a valid authz validated this recently; 0 = never; default 30 days */
	int valid_authz_lifetime; /* "validAuthzLifetimeSeconds": a valid authz expires this long after validation; default 30 days */
	char **dns_trust_anchors; /* "dnsTrustAnchors": extra DNSSEC anchors (DS/DNSKEY text) for a lab's signed zones */
	size_t ndns_trust_anchors;
	size_t max_body;         /* "maxRequestBytes", default 65536 */
	int order_lifetime;      /* "orderLifetimeSeconds", default 7 days */
	int authz_lifetime;      /* "pendingAuthzLifetimeSeconds", default 7 days */
	int workers;             /* "validationWorkers", default 4 */
	int validation_timeout_ms; /* "validationTimeoutMs", default 10000 */
	int retry_after;         /* "retryAfterSeconds", default 1 */
	int challenge_wait_ms;   /* "challengeReplyWaitMs": a challenge POST's reply waits this long for
	                          * the validation it started, default 25; 0 = answer at once */
	char *public_host;       /* --public-listen HOST:PORT, "publicListen": plain-HTTP CRLs; NULL = none */
	int public_port;
	int crl_shards;          /* "crlShards", default 4 */
	int ocsp;                /* "ocsp": OCSP responder on the public listener (default true) */
	int crl_max_age;         /* "crlMaxAgeSeconds": a revocation is in the CRLs within this; default 60 */
};

/* Defaults, then --config FILE, then the other flags. On error returns -1 and writes a
 * one-line reason naming the flag or field into err. Returns 1 for --help/--version
 * (text already printed). */
int config_load(struct config *c, int argc, char **argv, char *err, size_t errlen);
/* Parses a JSON config text into c (on top of what is there); for tests and config_load. */
int config_apply_json(struct config *c, const char *text, size_t len, char *err, size_t errlen);
void config_defaults(struct config *c);
void config_free(struct config *c);

#endif
