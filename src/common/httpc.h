/* A small HTTP/1.1 client (RFC 9112) on sockets and OpenSSL: it connects to the address the
 * caller chose (never resolves), bounds every read, and can keep one connection alive. */
#ifndef COBBLE_HTTPC_H
#define COBBLE_HTTPC_H
#include <stddef.h>
#include "httpmsg.h"
#include "url.h"

struct httpc_error {
	enum httpc_err code;
	int connected;  /* a TCP connection was established */
	char msg[256];  /* one line, no trailing period */
	/* HTTPC_EPROXY: the proxy's status for CONNECT (407: it wants credentials, RFC 9110
	 * §15.5.8), 0 if it sent none; and the auth-scheme of its first Proxy-Authenticate
	 * (§11.7.1), e.g. "Basic" or "Negotiate", "" if none. */
	int proxy_status;
	char proxy_scheme[32];
};

/* ---- the client ---- */
struct httpc_config {
	const char *user_agent;     /* sent as User-Agent; NULL sends none */
	int tls_verify;             /* verify the server's chain and its name or IP */
	const char *ca_file;        /* with tls_verify: PEM bundle, NULL for OpenSSL's default paths */
	struct httpc_limits limits;
	const volatile int *cancel; /* optional: non-zero aborts I/O (checked at least every 200 ms) */
};

struct httpc;
/* The TLS context is made on the first https request; the last TLS session is kept to resume
 * it (RFC 8446 §2.2) when a new connection to the same server is needed. NULL on allocation
 * failure. */
struct httpc *httpc_new(const struct httpc_config *cfg);
void httpc_free(struct httpc *c); /* closes a kept-alive connection */

struct httpc_request {
	const char *method;           /* "GET", "HEAD", "POST", ... */
	const struct url *url;        /* where: scheme, Host header, target path; port */
	const char *addr;             /* IPv4 or IPv6 text to connect to (the caller resolved it) */
	const char *const *headers;   /* optional extra "Name: value" lines, NULL-terminated */
	const void *body;             /* optional; Content-Length is sent when body or POST */
	size_t body_len;
	int timeout_ms;               /* one deadline for connect, TLS, request and response */
	int keep_alive;               /* reuse a connection to the same addr/port/scheme/host, and
	                                 keep this one if the server allows */
	/* Optional HTTP proxy (the caller reads http_proxy/https_proxy/no_proxy and resolves the
	 * proxy's name): https goes through a CONNECT tunnel (RFC 9110 §9.3.6), http is sent to the
	 * proxy in absolute-form (RFC 9112 §3.2.2). addr is then still the origin's address or NULL:
	 * it is only part of the keep-alive key. */
	const char *proxy_addr;       /* IP text */
	int proxy_port;
	const char *proxy_auth;       /* optional Proxy-Authorization value, e.g. "Basic ..."
	                                 (httpc_basic_credentials); sent on CONNECT, or with each
	                                 request for http */
};

/* RFC 7617 §2: writes the credentials value "Basic " base64(user ":" pass) into out (the
 * bytes as given; UTF-8 is what RFC 7617 §2.1 suggests). Returns its length, or -1 when user
 * holds ':', either holds a control character (§2 forbids both) or out is too small.
 * Wipe out after use (OPENSSL_cleanse): it is the password in clear. */
int httpc_basic_credentials(const char *user, const char *pass, char *out, size_t outlen);

/* Sends one request and reads its response. Returns 0 when a complete response arrived (any
 * status), else -1 with *err (resp is cleared on error). A reused connection that the
 * server had closed is retried once on a fresh one before any byte of response arrives.
 * Callers ignore SIGPIPE (TLS writes go through OpenSSL's socket BIO). */
int httpc_request(struct httpc *c, const struct httpc_request *req, struct httpc_response *resp,
                  struct httpc_error *err);

#endif
