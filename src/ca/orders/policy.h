/* Identifier policy: which names this CA will put in a certificate (RFC 8555 §7.4,
 * CA/B BR §3.2.2). Policy is data: suffix lists and limits come from the config. */
#ifndef COBBLE_POLICY_H
#define COBBLE_POLICY_H
#include <stddef.h>
#include "config.h"
#include "problem.h"

#define POLICY_NAME_MAX 253 /* RFC 1035 §2.3.4 */

/* Checks one DNS identifier and writes its canonical form (lower case) into out
 * (POLICY_NAME_MAX + 1 bytes). *wildcard is set for "*.name" (out gets the base name).
 * Returns 0, or -1 with *prob (rejectedIdentifier, malformed) naming the identifier. */
int policy_check_dns(const struct config *c, const char *name, char *out, int *wildcard,
                     struct problem **prob);

#endif
