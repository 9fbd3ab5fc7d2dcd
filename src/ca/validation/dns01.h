/* dns-01 validation (RFC 8555 §8.4) from the CA's vantage point. */
#ifndef COBBLE_DNS01_H
#define COBBLE_DNS01_H
#include <jansson.h>
#include "problem.h"
#include "resolver.h"

/* Looks up TXT _acme-challenge.<name> (name is the base name for a wildcard) through the CA's
 * DNSSEC-validating resolver, following CNAMEs; valid when any record equals
 * base64url(SHA-256(keyauth)). Sets *record to the validationRecord array (hostname).
 * Returns 0 if valid, else -1 with *prob: "dns" (lookup failed, bogus DNSSEC),
 * "unauthorized" (no record, or none matched: the detail says how many were seen). */
int dns01_validate(struct resolver *r, const char *name, const char *keyauth, json_t **record,
                   struct problem **prob);

#endif
