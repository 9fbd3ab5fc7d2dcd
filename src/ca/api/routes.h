/* ACME resources (RFC 8555 §7): URL routing and the handlers that render resources. */
#ifndef COBBLE_ROUTES_H
#define COBBLE_ROUTES_H
#include <event2/http.h>

/* The evhttp generic callback; arg is the struct api. */
void routes_handle(struct evhttp_request *req, void *arg);

#endif
