/* HTTP transport for the agent, on src/common/httpc: one kept-alive connection, bounded
 * response bodies, and the response headers ACME cares about (Replay-Nonce, Location,
 * Retry-After, Link, Content-Type). Callers ignore SIGPIPE (the agent and the load generator
 * do): a TLS write to a connection the server closed must fail, not kill. */
#ifndef COBBLE_AGENT_HTTP_H
#define COBBLE_AGENT_HTTP_H
#include <stddef.h>

/* Largest body accepted from a server (a PEM chain with a few certificates fits easily). */
#define HTTP_MAX_BODY (1024 * 1024)
#define HTTP_MAX_LINKS 16

struct http_resp {
	long status;
	char *body; /* NUL-terminated */
	size_t body_len;
	char *content_type;
	char *location;
	char *nonce;
	char *retry_after;
	char *links[HTTP_MAX_LINKS]; /* raw values of each Link header */
	size_t nlinks;
};

struct http_client;

/* ca_bundle may be NULL (system trust). NULL on failure. */
struct http_client *http_client_new(const char *ca_bundle);
void http_client_free(struct http_client *h);

/* method "GET", "HEAD" or "POST"; body only for POST (sent as application/jose+json).
 * Fills *resp (clear it with http_resp_clear). Returns 0 when an HTTP response arrived
 * (any status), -1 on a transport error with a one-line reason in err, HTTP_EFINAL when
 * trying again cannot help: the proxy setting is unusable, or the proxy answered 407 (after
 * which this client does not ask that proxy with those credentials again: a retry loop of
 * wrong passwords can lock a corporate account). */
#define HTTP_EFINAL (-2)
int http_request(struct http_client *h, const char *method, const char *url, const char *body,
                 struct http_resp *resp, char *err, size_t errlen);
void http_resp_clear(struct http_resp *r);

/* Set from a signal handler: aborts transfers in progress and makes waits return early. */
extern volatile int http_interrupted;

#endif
