/* CSR checks at finalize (RFC 8555 §7.4): signature, key policy, names == order's identifiers. */
#ifndef COBBLE_CSRCHECK_H
#define COBBLE_CSRCHECK_H
#include <openssl/x509.h>
#include <stddef.h>
#include "problem.h"

#define CSR_MAX_DER (16 * 1024)

/* der: the CSR (already base64url-decoded from the finalize payload). names: the order's
 * identifier values: DNS names in lower case ("*.x" for a wildcard), IP addresses in
 * canonical text (RFC 8738). Checks the self-signature, the key (RSA 2048..4096, P-256,
 * P-384), that the set of dNSName SANs, iPAddress SANs (as canonical text) plus CN equals
 * the set of names exactly (case insensitive) and the CN, if any, is among them; no other
 * SAN types, and no IP address written as a dNSName. On success
 * returns 0 and *out (X509_REQ_free). Else -1 and *prob: badCSR (or badPublicKey) with a
 * detail naming what is wrong. */
int csrcheck_verify(const unsigned char *der, size_t len, const char *const *names, size_t n,
                    X509_REQ **out, struct problem **prob);

#endif
