/* The certificate life cycle on the ACME side: revokeCert (RFC 8555 §7.6) and the CRL
 * shards it publishes (RFC 5280). */
#ifndef COBBLE_LIFECYCLE_H
#define COBBLE_LIFECYCLE_H
#include <event2/http.h>
#include "api.h"

#define LIFECYCLE_CERT_B64_MAX 16384 /* a leaf's DER in base64url: far above any we issue */
#define LIFECYCLE_CRL_LIFETIME (7 * 24 * 3600) /* CA/B BR §4.9.7: nextUpdate <= 10 days */

/* POST /acme/revoke-cert */
void lifecycle_revoke_cert(struct api *a, struct evhttp_request *req, const char *url);
/* GET /crl/<shard>.crl; name is the part after "/crl/". */
void lifecycle_crl(struct api *a, struct evhttp_request *req, const char *name);
/* Parses "<n>.crl" into a shard below nshards: the shard, or -1. */
int lifecycle_parse_crl_name(const char *name, int nshards);
/* Hex of a certificate's serial, lower case, as store.h keeps it; 0 or -1. */
int lifecycle_serial_hex(const X509 *x, char *out, size_t outlen);

#endif
