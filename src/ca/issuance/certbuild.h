/* X.509 building blocks for the certificates the CA signs: its own (issuance/ca.c) and leaves
 * (issuance/issue.c). Each adds one field or extension to a certificate being built. */
#ifndef COBBLE_CERTBUILD_H
#define COBBLE_CERTBUILD_H
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#define CERTBUILD_CN_MAX 64 /* RFC 5280 ub-common-name */

/* Unix seconds of an ASN1_TIME; -1 if t is NULL or unreadable. */
int64_t certbuild_time_unix(const ASN1_TIME *t);
/* na, or the issuer's notAfter if that comes first. */
int64_t certbuild_clamp_to_issuer(int64_t na, X509 *issuer);
/* A name with cn as its one commonName, or empty when cn is NULL or "". NULL without memory. */
X509_NAME *certbuild_name_cn(const char *cn);
/* An extension in OpenSSL's config syntax ("critical,CA:FALSE"), with issuer (NULL:
 * self-issued) for AKI. Only for fixed strings, never input. 0 or -1. */
int certbuild_add_ext_conf(X509 *cert, X509 *issuer, int nid, const char *value);
/* notBefore and notAfter, unix seconds. 0 or -1. */
int certbuild_set_times(X509 *x, int64_t nb, int64_t na);
/* subjectAltName: an iPAddress for each IPv4/IPv6 literal, else a dNSName. 0 or -1. */
int certbuild_add_san(X509 *x, const char *const *names, size_t n, int critical);
/* authorityInfoAccess: caIssuers url, preceded by OCSP ocsp_url unless NULL. 0 or -1. */
int certbuild_add_aia(X509 *x, const char *url, const char *ocsp_url);
/* cRLDistributionPoints: one point with url as its full name. 0 or -1. */
int certbuild_add_crldp(X509 *x, const char *url);
/* certificatePolicies: the one policy oid (dotted text), no qualifiers. 0 or -1. */
int certbuild_add_policy(X509 *x, const char *oid);

#endif
