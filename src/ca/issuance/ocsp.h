/* The OCSP responder (RFC 6960): answers good / revoked (time, reason) / unknown for the
 * certificates of the issuing intermediate, signed by the intermediate itself. */
#ifndef COBBLE_OCSP_H
#define COBBLE_OCSP_H
#include <stddef.h>
#include <stdint.h>
#include "issuance/ca.h"
#include "storage/store.h"

#define OCSP_REQUEST_MAX 4096  /* a request for a few certificates is ~100 bytes */
#define OCSP_MAX_CERTIDS 8
#define OCSP_VALIDITY (3 * 86400) /* nextUpdate - thisUpdate; CA/B BR §4.9.10: <= 10 days */

/* Builds the DER OCSPResponse for the DER request req (any input: malformed or oversized
 * requests get malformedRequest, failures internalError). *out is OPENSSL_malloc'd.
 * 0, or -1 only if no response at all could be encoded. */
int ocsp_respond(struct ca *ca, struct store *s, const unsigned char *req, size_t len, int64_t now,
                 unsigned char **out, size_t *out_len);

#endif
