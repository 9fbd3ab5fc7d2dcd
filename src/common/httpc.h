/* A small HTTP/1.1 client (RFC 9112) on sockets and OpenSSL: it connects to the address the
 * caller chose (never resolves), bounds every read, and can keep one connection alive. */
#ifndef COBBLE_HTTPC_H
#define COBBLE_HTTPC_H
#include <stddef.h>
#include <stdint.h>
#include "url.h"

/* Errors (struct httpc_error.code). */
enum httpc_err {
	HTTPC_OK = 0,
	HTTPC_EARG,     /* bad request arguments (address, method, URL) */
	HTTPC_ENOMEM,
	HTTPC_ECONNECT, /* the TCP connection could not be made */
	HTTPC_ETIMEOUT, /* the deadline passed (see .connected for when) */
	HTTPC_ETLS,     /* TLS handshake or certificate verification failed */
	HTTPC_EIO,      /* send/receive failed, or the peer closed mid-response */
	HTTPC_EPROTO,   /* the response is not valid HTTP/1.1 or exceeds a header limit */
	HTTPC_ETOOBIG,  /* the body is larger than the caller's limit */
	HTTPC_ECANCEL,  /* *cancel became non-zero */
	HTTPC_EPROXY,   /* the proxy refused or botched the CONNECT tunnel */
};

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

/* Parser limits; zero fields take the defaults below. */
#define HTTPC_DEFAULT_MAX_HEADERS 100
#define HTTPC_DEFAULT_MAX_LINE 8192
#define HTTPC_DEFAULT_MAX_BODY (1024 * 1024)
struct httpc_limits {
	size_t max_headers; /* header fields in a response (trailers count too) */
	size_t max_line;    /* bytes in the status line, one header field line, or a chunk-size line */
	size_t max_body;    /* bytes of body, after de-chunking */
};

struct httpc_field {
	char *name;  /* as received */
	char *value; /* leading and trailing whitespace removed */
};

struct httpc_response {
	int status;
	int minor;   /* HTTP/1.<minor> */
	struct httpc_field *fields;
	size_t nfields;
	char *body;  /* NUL-terminated (one extra byte), NULL when empty */
	size_t body_len;
};
void httpc_response_clear(struct httpc_response *r);
/* The first value of the header field named name (case-insensitive, RFC 9110 §5.1), or NULL. */
const char *httpc_header(const struct httpc_response *r, const char *name);
/* Every value of name in order of arrival: stores up to max pointers in vals and returns how
 * many there are in total (Link may repeat, RFC 8555 §7.1). */
size_t httpc_header_all(const struct httpc_response *r, const char *name, const char **vals, size_t max);

/* ---- the response parser, usable on any buffer (fuzz_http_response) ---- */
enum { HTTPC_PARSE_MORE = 0, HTTPC_PARSE_DONE = 1, HTTPC_PARSE_ERROR = -1 };
struct httpc_parser {
	struct httpc_limits lim;
	struct httpc_response *resp;
	int head_only;      /* the request was HEAD: no body whatever the headers say */
	int state;
	char *line;         /* the line being assembled, at most lim.max_line bytes */
	size_t line_len;
	int framing;        /* how the body ends */
	uint64_t left;      /* bytes left of the Content-Length body or the current chunk */
	size_t body_cap;
	size_t interim;     /* 1xx responses skipped */
	int keep_alive;     /* after DONE: the connection may carry another request */
	enum httpc_err code;
	char err[160];
};
/* resp is filled as the parser goes (cleared first); the caller owns it. */
int httpc_parser_init(struct httpc_parser *p, const struct httpc_limits *lim, int head_only,
                      struct httpc_response *resp);
/* Consumes bytes: HTTPC_PARSE_MORE when all len were used and more are needed,
 * HTTPC_PARSE_DONE when the response ended (*used says where; the rest belongs to the
 * next response), HTTPC_PARSE_ERROR with p->code and p->err. */
int httpc_parser_feed(struct httpc_parser *p, const char *data, size_t len, size_t *used);
/* The peer closed the connection: DONE for a close-delimited body, else ERROR. */
int httpc_parser_eof(struct httpc_parser *p);
void httpc_parser_free(struct httpc_parser *p);

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
