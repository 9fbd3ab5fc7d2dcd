/* Writing responses: JSON bodies, problem documents, and the headers ACME asks for on every
 * response (Replay-Nonce, Link rel="index", Cache-Control). */
#ifndef COBBLE_REPLY_H
#define COBBLE_REPLY_H
#include <event2/http.h>
#include <jansson.h>
#include "api.h"
#include "problem.h"

/* Adds Replay-Nonce (RFC 8555 §6.5) and, unless this is the directory, Link rel="index"
 * (§7.1). Called by every reply_* function; handlers need not call it. */
void reply_headers(struct api *a, struct evhttp_request *req, int nonce, int index_link);
/* Adds a Link header: <url>;rel="rel". */
void reply_link(struct evhttp_request *req, const char *url, const char *rel);
/* Sends body (reference stolen) as application/json with status; location may be NULL. */
void reply_json(struct api *a, struct evhttp_request *req, int status, json_t *body, const char *location);
/* Sends p (freed) as application/problem+json with p->status. */
void reply_problem(struct api *a, struct evhttp_request *req, struct problem *p);
/* Sends raw bytes with a content type. */
void reply_raw(struct api *a, struct evhttp_request *req, int status, const char *ctype, const void *data,
               size_t len);
/* evhttp_send_reply (body's contents taken, reason is the status text), but a response to
 * HEAD carries the body's length as Content-Length and not the body, and the response
 * leaves as one TLS record per 16 KiB and is written at once rather than on the next loop
 * iteration (issue 7: headers and body were two records and two write(2)s). Every reply_*
 * function goes through it. */
void reply_send(struct evhttp_request *req, int status, const char *reason, struct evbuffer *body);
/* Responses outside ACME (CRLs, OCSP; either listener): no ACME headers, through reply_send
 * (so HEAD gets the Content-Length and no body). reply_plain: len bytes of data with ctype
 * (NULL: no Content-Type). reply_text: text as text/plain, for errors. */
void reply_plain(struct evhttp_request *req, int status, const char *ctype, const void *data, size_t len);
void reply_text(struct evhttp_request *req, int status, const char *text);
/* RFC 3339 UTC time ("2026-11-28T15:16:17Z") into buf (>= 21 bytes). */
const char *reply_time(int64_t t, char *buf, size_t len);
/* The URL of resource id of kind ("acct", "order", "authz", "chall", "finalize", "cert", ...):
 * BASE/acme/KIND/ID. */
void reply_url(struct api *a, char *buf, size_t len, const char *kind, const char *id);

#endif
