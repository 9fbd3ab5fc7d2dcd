/* http-01 validation (RFC 8555 §8.3) from the CA's vantage point. */
#ifndef COBBLE_HTTP01_H
#define COBBLE_HTTP01_H
#include <jansson.h>
#include "problem.h"
#include "resolver.h"

struct va_settings {
	int http01_port;     /* 80 unless a test says otherwise */
	int tlsalpn01_port;  /* 443 unless a test says otherwise */
	int lab;             /* allow loopback/private addresses */
	int timeout_ms;      /* per attempt, whole fetch; default 10000 */
};

/* Fetches http://name:port/.well-known/acme-challenge/token connecting only to addresses
 * the resolver returned (the HTTP client connects to that address), refusing non-public
 * addresses unless lab, following at most 10 redirects to http/https on ports 80/443 (the
 * configured test ports count as 80/443), each re-resolved and re-checked; reads at most
 * 8 KiB. The body, trimmed of trailing whitespace, must equal keyauth.
 * Always sets *record to the validationRecord array (one entry per hop: url, hostname,
 * port, addressesResolved, addressUsed). Returns 0 if valid, else -1 with *prob
 * (dns, connection, incorrectResponse, unauthorized, rejectedIdentifier). */
int http01_validate(const struct va_settings *set, struct resolver *r, const char *name,
                    const char *token, const char *keyauth, json_t **record,
                    struct problem **prob);

#endif
