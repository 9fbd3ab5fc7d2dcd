/* tls-alpn-01 validation (RFC 8737) from the CA's vantage point. */
#ifndef COBBLE_TLSALPN01_H
#define COBBLE_TLSALPN01_H
#include <jansson.h>
#include <stddef.h>
#include "http01.h" /* struct va_settings */
#include "problem.h"
#include "resolver.h"

/* Validates the identifier (ident_type "dns" or "ip", RFC 8738 §6) by a TLS 1.2+ handshake to
 * each resolved address (dns) or the address itself (ip) on set->tlsalpn01_port, refusing
 * non-public addresses unless set->lab, with SNI = the name (for ip: the reverse-DNS name,
 * RFC 8738 §6) and ALPN "acme-tls/1" only. RFC 8737 §3: the server must negotiate acme-tls/1
 * and present a certificate with exactly one subjectAltName entry equal to the identifier and
 * a critical id-pe-acmeIdentifier extension holding the SHA-256 of keyauth.
 * Always sets *record to the validationRecord array (hostname, port, addressesResolved,
 * addressUsed). Returns 0 if valid, else -1 with *prob (dns, connection, tls, unauthorized,
 * rejectedIdentifier) whose detail says what was wrong. Bounded by set->timeout_ms. */
int tlsalpn01_validate(const struct va_settings *set, struct resolver *r, const char *ident_type,
                       const char *value, const char *keyauth, json_t **record, struct problem **prob);

/* The RFC 8737 §3 certificate checks alone, on a DER certificate (tests and fuzzing use it;
 * tlsalpn01_validate runs the same checks on the peer's certificate): 1 if cert is acceptable
 * for the identifier and keyauth, 0 if not with why saying what was wrong, -1 if the input
 * is not a certificate or the identifier is invalid (why says so). */
int tlsalpn01_check_cert_der(const unsigned char *der, size_t len, const char *ident_type,
                             const char *value, const char *keyauth, char *why, size_t whylen);

#endif
