/* The public plain-HTTP listener: GET/HEAD /crl/<shard>.crl and nothing else. Small limits:
 * requests carry no body. */
#include "pubserver.h"
#include "lifecycle.h"
#include <errno.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pubserver {
	struct evhttp *http;
	struct api *a;
};

static void handle(struct evhttp_request *req, void *arg)
{
	struct pubserver *p = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if (path && strncmp(path, "/crl/", 5) == 0) {
		lifecycle_crl(p->a, req, path + 5);
		return;
	}
	evhttp_send_error(req, 404, "Not Found");
}

struct pubserver *pubserver_start(struct api *a, char *err, size_t errlen)
{
	const struct config *c = a->cfg;
	struct pubserver *p = calloc(1, sizeof *p);
	if (!p || !(p->http = evhttp_new(a->base))) {
		snprintf(err, errlen, "cannot create the public HTTP server");
		free(p);
		return NULL;
	}
	p->a = a;
	evhttp_set_max_body_size(p->http, 0);
	evhttp_set_max_headers_size(p->http, 8 * 1024);
	evhttp_set_timeout(p->http, 30);
	evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_gencb(p->http, handle, p);
	errno = 0;
	if (!evhttp_bind_socket_with_handle(p->http, c->public_host, (ev_uint16_t)c->public_port)) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s:%d (publicListen): %s", c->public_host, c->public_port,
		         e ? strerror(e) : "bad address");
		pubserver_stop(p);
		return NULL;
	}
	return p;
}

void pubserver_stop(struct pubserver *p)
{
	if (!p)
		return;
	if (p->http)
		evhttp_free(p->http);
	free(p);
}
