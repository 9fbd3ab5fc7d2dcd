/* The certificate life cycle on the ACME side: revokeCert (RFC 8555 §7.6) and the CRL
 * shards it publishes (RFC 5280). */
#ifndef COBBLE_LIFECYCLE_H
#define COBBLE_LIFECYCLE_H
#include <event2/http.h>
#include "api.h"
#include "problem.h"
#include <jansson.h>
#include <openssl/evp.h>

#define LIFECYCLE_CERT_B64_MAX 16384 /* a leaf's DER in base64url: far above any we issue */
#define LIFECYCLE_CRL_LIFETIME (7 * 24 * 3600) /* CA/B BR §4.9.7: nextUpdate <= 10 days */
/* A served CRL is at most this old: a revocation on any instance shows within it (issue 5:
 * <= 60 s); this instance's own revocations show at once. */
#define LIFECYCLE_CRL_MAX_AGE 60

/* POST /acme/revoke-cert */
void lifecycle_revoke_cert(struct api *a, struct evhttp_request *req, const char *url);
/* GET /crl/<shard>.crl; name is the part after "/crl/". */
void lifecycle_crl(struct api *a, struct evhttp_request *req, const char *name);
/* POST /acme/key-change (RFC 8555 §7.3.5). */
void lifecycle_key_change(struct api *a, struct evhttp_request *req, const char *url);
/* GET /acme/renewal-info/<certID> (RFC 9773 §4). */
void lifecycle_renewal_info(struct api *a, struct evhttp_request *req, const char *certid);
/* RFC 9773 §4.1: certID = base64url(AKI keyIdentifier) "." base64url(serial DER bytes).
 * Checks the key identifier against keyid and writes the serial as lower-case hex (as
 * store.h keeps it) into serial_hex. NULL, or a malformed problem. */
struct problem *lifecycle_parse_certid(const char *certid, const unsigned char *keyid, size_t keyid_len,
                                       char *serial_hex, size_t serial_len);
/* The suggested window (RFC 9773 §4.2): the middle third of the last third of
 * [not_before, not_after]; for a revoked certificate a window that has already passed. */
void lifecycle_ari_window(int64_t not_before, int64_t not_after, int64_t revoked_at, int64_t now, int64_t *start,
                          int64_t *end);
/* newOrder "replaces" (RFC 9773 §5): before the order is created, checks the certificate
 * exists, is the account's and has not been replaced; writes its serial into serial ("" when
 * the payload has no "replaces"). 0, or -1 with *prob. */
int lifecycle_check_replaces(struct api *a, const char *account_id, const json_t *payload, char *serial,
                             struct problem **prob);
/* After the order exists: records it as the replacement. 0, or -1 with *prob. */
int lifecycle_record_replaces(struct api *a, const char *serial, const char *order_id, struct problem **prob);
/* Key block list (keyCompromise): hex SHA-256 of the key's SubjectPublicKeyInfo into out
 * (65 bytes); 0 or -1. */
int lifecycle_spki_hash(EVP_PKEY *key, char *out);
/* 1 if key is on the block list (or the lookup failed: refuse), 0 if not. */
int lifecycle_key_blocked(struct api *a, EVP_PKEY *key);
/* Parses "<n>.crl" into a shard below nshards: the shard, or -1. */
int lifecycle_parse_crl_name(const char *name, int nshards);
/* Hex of a certificate's serial, lower case, as store.h keeps it; 0 or -1. */
int lifecycle_serial_hex(const X509 *x, char *out, size_t outlen);

#endif
