/* Challenge solvers: publish the proof for one authorization and take it down again.
 * One interface, one file per method; the order code never knows which one it drives. */
#ifndef COBBLE_AGENT_SOLVER_H
#define COBBLE_AGENT_SOLVER_H
#include <stddef.h>

enum solver_kind {
	SOLVER_NONE = 0,
	SOLVER_HTTP01_WEBROOT,
	SOLVER_HTTP01_STANDALONE,
	SOLVER_DNS01_HOOK,
	SOLVER_DNS01_RFC2136,
	SOLVER_TLSALPN01_STANDALONE,
};

struct solver_cfg {
	enum solver_kind kind;
	char *webroot;    /* http01-webroot */
	int port;         /* standalone listeners (0: 80 / 443) */
	char *hook;       /* dns01-hook script */
	char *dns_server; /* dns01-rfc2136 SERVER[:PORT] */
	char *tsig;       /* NAME:ALGORITHM:BASE64SECRET */
};

/* "http01-webroot" ... ; NULL for SOLVER_NONE. And back (SOLVER_NONE when unknown). */
const char *solver_kind_name(enum solver_kind k);
enum solver_kind solver_kind_from_name(const char *name);
/* ACME challenge type a kind answers: "http-01", "dns-01", "tls-alpn-01". */
const char *solver_challenge_type(enum solver_kind k);
void solver_cfg_clear(struct solver_cfg *c);
/* Deep copy; 0 or -1. */
int solver_cfg_copy(struct solver_cfg *dst, const struct solver_cfg *src);

struct solver;
/* Checks the configuration (webroot writable, hook executable, TSIG parses). NULL with err. */
struct solver *solver_new(const struct solver_cfg *cfg, char *err, size_t errlen);
/* Publishes the proof for identifier (a DNS name; "*.x" for wildcards) and token. 0 or -1. */
int solver_present(struct solver *s, const char *identifier, const char *token, const char *keyauth, char *err,
                   size_t errlen);
/* Waits up to timeout_ms until the CA's validation request for token has been answered by
 * one of our own listeners (standalone http-01 / tls-alpn-01): 1 when it has, 0 when not
 * within the time, -1 when this method cannot tell (webroot, DNS). RFC 8555 §7.5.1: a client
 * that can see the validation request SHOULD NOT begin polling before it has seen it. */
int solver_wait_validation(struct solver *s, const char *token, int timeout_ms);
/* Removes what present published for token; errors are warnings only. */
void solver_cleanup(struct solver *s, const char *identifier, const char *token);
/* Cleans up everything still published, stops listeners, frees. */
void solver_free(struct solver *s);

/* Per-method back ends (one file per method under solvers/). Each keeps its own state behind a void pointer. */
struct solver_impl {
	int (*init)(void **state, const struct solver_cfg *cfg, char *err, size_t errlen);
	int (*present)(void *state, const char *identifier, const char *token, const char *keyauth, char *err,
	               size_t errlen);
	void (*cleanup)(void *state, const char *identifier, const char *token, const char *keyauth);
	void (*fini)(void *state);
	/* optional: as solver_wait_validation (NULL: the method cannot tell) */
	int (*wait_seen)(void *state, const char *token, int timeout_ms);
};
extern const struct solver_impl solver_http01_webroot, solver_http01_standalone, solver_dns01_hook,
    solver_dns01_rfc2136, solver_tlsalpn01_standalone;

/* dns-01 helpers shared by the DNS back ends (RFC 8555 §8.4). */
/* "_acme-challenge.<name without *.>" into a malloc'd string. */
char *dns01_record_name(const char *identifier);
/* base64url(SHA-256(keyauth)) into out (44 bytes). 0 or -1. */
int dns01_txt_value(const char *keyauth, char *out);

#endif
