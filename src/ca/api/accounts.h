/* ACME account resources (RFC 8555 §7.3): newAccount, the account object (update, deactivation)
 * and its orders list. keyChange is lifecycle.c's. Called by routes.c with the request URL. */
#ifndef COBBLE_ACCOUNTS_H
#define COBBLE_ACCOUNTS_H
#include <event2/http.h>
#include "api.h"

/* POST /acme/new-account (§7.3, §7.3.1 onlyReturnExisting). */
void accounts_new(struct api *a, struct evhttp_request *req, const char *url);
/* POST /acme/acct/<id>: read (POST-as-GET), update contacts, deactivate (§7.3.2, §7.3.6). */
void accounts_get(struct api *a, struct evhttp_request *req, const char *url, const char *id);
/* POST /acme/acct/<id>/orders: the account's order URLs, paged with a Link rel="next" (§7.1.2.1). */
void accounts_orders(struct api *a, struct evhttp_request *req, const char *url, const char *id);

#endif
