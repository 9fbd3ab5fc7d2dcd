/* HTTP/1.1 responses (RFC 9112): the response a client receives and the strict, bounded parser
 * that reads it from any buffer; part of the httpc API (httpc.h includes it), hence the prefix. */
#ifndef COBBLE_HTTPMSG_H
#define COBBLE_HTTPMSG_H
#include <stddef.h>
#include <stdint.h>

/* Errors (struct httpc_error.code in httpc.h, struct httpc_parser.code). */
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

/* 1 if c may appear in a token (RFC 9110 §5.6.2): field names, methods, auth-schemes. */
int httpc_is_tchar(unsigned char c);

#endif
