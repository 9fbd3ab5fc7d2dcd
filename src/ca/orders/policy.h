/* Identifier policy: which names this CA will put in a certificate (RFC 8555 §7.4,
 * CA/B BR §3.2.2). Policy is data: suffix lists and limits come from the config. */
#ifndef COBBLE_POLICY_H
#define COBBLE_POLICY_H
#include <stddef.h>
#include "config.h"
#include "problem.h"

#define POLICY_NAME_MAX 253 /* RFC 1035 §2.3.4 */

/* Checks one DNS identifier and writes its canonical form (lower case) into out
 * (POLICY_NAME_MAX + 1 bytes). *wildcard is set for "*.name" (out gets the base name): only
 * a whole leftmost label "*" is a wildcard, and its base must not be a public suffix
 * (RFC 8555 §7.1.3; CA/B BR §3.2.2.6). A name that is itself an ICANN public suffix is
 * refused too. Returns 0, or -1 with *prob (rejectedIdentifier) naming the identifier. */
int policy_check_dns(const struct config *c, const char *name, char *out, int *wildcard,
                     struct problem **prob);

#define POLICY_IP_MAX 46 /* INET6_ADDRSTRLEN */
/* Checks one ip identifier (RFC 8738 §3): unsupportedIdentifier unless
 * identifierPolicy.allowIP; rejectedIdentifier for text that is not an IPv4 or IPv6 address
 * in canonical form (RFC 5952 for IPv6: the detail gives the canonical form) or, outside lab
 * mode, for a non-public address. On success copies the address into out (POLICY_IP_MAX). */
int policy_check_ip(const struct config *c, const char *value, char *out, struct problem **prob);

#endif
