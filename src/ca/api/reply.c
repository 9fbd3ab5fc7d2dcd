/* Responses: every ACME response goes through here so the headers clients rely on are
 * never forgotten (RFC 8555 §6.5 Replay-Nonce, §7.1 Link rel="index", §6.7 problem+json). */
#include "reply.h"
#include "jsonout.h"
#include "log.h"
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

void reply_link(struct evhttp_request *req, const char *url, const char *rel)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "<%s>;rel=\"%s\"", url, rel);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Link", buf);
}

void reply_headers(struct api *a, struct evhttp_request *req, int nonce, int index_link)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (nonce && !evhttp_find_header(h, "Replay-Nonce")) {
		char n[NONCE_LEN + 1];
		if (nonce_make(a->nonces, (int64_t)time(NULL), n) == 0)
			evhttp_add_header(h, "Replay-Nonce", n);
	}
	if (index_link)
		reply_link(req, a->directory_url, "index");
	if (!evhttp_find_header(h, "Cache-Control"))
		evhttp_add_header(h, "Cache-Control", "no-store");
}

/* Nonces go on every response to POST and HEAD and on newNonce GETs (RFC 8555 §6.5, §7.2). */
static int wants_nonce(struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	return cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_HEAD;
}

static void send_reply(struct api *a, struct evhttp_request *req, int status, const char *ctype, const void *data,
                 size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	/* Every response but the directory's links to the directory (RFC 8555 §7.1). */
	reply_headers(a, req, wants_nonce(req), !(path && strcmp(path, "/directory") == 0));
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	struct evbuffer *b = evbuffer_new();
	if (len)
		evbuffer_add(b, data, len);
	reply_send(req, status, reason(status), b);
	evbuffer_free(b);
}

/* TLS's largest record payload (RFC 8446 §5.1, RFC 5246 §6.2.1). */
#define REPLY_RECORD_MAX 16384

void reply_send(struct evhttp_request *req, int status, const char *why, struct evbuffer *body)
{
	/* A response to HEAD has no content (RFC 9110 §9.3.2). libevent 2.1 leaves out its
	 * Content-Length but sends the body anyway, which a keep-alive client then reads as the
	 * start of the next response: the body is dropped here, and its length goes in the
	 * Content-Length a GET would have had (§8.6: a HEAD response may send it). */
	if (body && evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		size_t n = evbuffer_get_length(body);
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);
		if (n && !evhttp_find_header(h, "Content-Length")) {
			char cl[24];
			snprintf(cl, sizeof cl, "%zu", n);
			evhttp_add_header(h, "Content-Length", cl);
		}
		evbuffer_drain(body, n);
	}
	/* evhttp puts the status line and headers in the connection's output buffer, then moves
	 * the body's chains behind them, and bufferevent_openssl makes one SSL_write, hence one
	 * TLS record and one write(2), per chain: two records per response, and the client woke
	 * up for each (issue 7). Nothing is written when evhttp_send_reply returns (the write
	 * waits for the socket's EPOLLOUT), so the response's first record's worth is made
	 * contiguous here: one SSL_write per 16 KiB. Only when the output was empty before (no
	 * earlier SSL_write waiting to be retried with the same bytes). */
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	struct evbuffer *out = bev ? bufferevent_get_output(bev) : NULL;
	int idle = out && evbuffer_get_length(out) == 0;
	evhttp_send_reply(req, status, why, body);
	/* req may be freed from here on (evhttp_send_reply frees it if its connection is gone). */
	size_t len = idle ? evbuffer_get_length(out) : 0;
	if (!len)
		return;
	/* Only for TLS: a plain socket bufferevent (the public listener, pubserver.c) writes
	 * every chain in one writev(2) anyway. */
	if (bufferevent_openssl_get_ssl(bev))
		evbuffer_pullup(out, len < REPLY_RECORD_MAX ? -1 : REPLY_RECORD_MAX);
	/* Run the bufferevent's write callback in this loop iteration instead of after the next
	 * epoll_wait: the socket is almost always writable (if not, SSL_write says so and the
	 * write event, still added, waits for EPOLLOUT as before). evhttp's own callback that
	 * ends the request stays deferred (BEV_OPT_DEFER_CALLBACKS, server.c), so nothing is
	 * freed under the caller. On the public listener's socket bufferevents (no deferred
	 * callbacks) evhttp's callback runs from the write event too, after the caller returned:
	 * event_active only queues the event. */
	event_active(&bev->ev_write, EV_WRITE, 1);
}

void reply_plain(struct evhttp_request *req, int status, const char *ctype, const void *data, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		reply_send(req, 500, reason(500), NULL);
		return;
	}
	if (ctype)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	if (len)
		evbuffer_add(b, data, len);
	reply_send(req, status, reason(status), b);
	evbuffer_free(b);
}

void reply_text(struct evhttp_request *req, int status, const char *text)
{
	reply_plain(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

void reply_raw(struct api *a, struct evhttp_request *req, int status, const char *ctype, const void *data,
               size_t len)
{
	send_reply(a, req, status, ctype, data, len);
}

void reply_json(struct api *a, struct evhttp_request *req, int status, json_t *body, const char *location)
{
	if (location)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Location", location);
	size_t len = 0;
	char *text = jsonout_pretty(body, &len);
	json_decref(body);
	if (!text) {
		reply_problem(a, req, problem_new("serverInternal", 500, "could not encode the response"));
		return;
	}
	send_reply(a, req, status, "application/json", text, len);
	free(text);
}

void reply_problem(struct api *a, struct evhttp_request *req, struct problem *p)
{
	if (!p)
		p = problem_new("serverInternal", 500, "internal error");
	if (!p) {
		send_reply(a, req, 500, NULL, NULL, 0);
		return;
	}
	/* issue 6: a request that failed because the database connection was lost (restart,
	 * failover) may succeed when retried: 503 with Retry-After instead of a 500 (or a
	 * badNonce from a nonce that could not be checked). The handle reconnects next time. */
	if (a && a->store && store_unavailable(a->store) &&
	    (p->status >= 500 || strcmp(problem_short_type(p), "badNonce") == 0)) {
		problem_free(p);
		p = problem_new("serverInternal", 503, "the database is unavailable; retry shortly");
		if (!p) {
			send_reply(a, req, 503, NULL, NULL, 0);
			return;
		}
		char v[16];
		snprintf(v, sizeof v, "%d", a->cfg && a->cfg->retry_after > 0 ? a->cfg->retry_after : 1);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
	}
	json_t *j = problem_to_json(p);
	size_t len = 0;
	char *text = jsonout_pretty(j, &len);
	json_decref(j);
	log_debug("problem %d %s: %s", p->status, problem_short_type(p), p->detail);
	int status = p->status ? p->status : 500;
	problem_free(p);
	send_reply(a, req, status, "application/problem+json", text ? text : "{}", text ? len : 2);
	free(text);
}

const char *reply_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void reply_url(struct api *a, char *buf, size_t len, const char *kind, const char *id)
{
	snprintf(buf, len, "%s/acme/%s/%s", a->cfg->base_url, kind, id);
}
