/* Sharded CRLs (RFC 5280 §5, CA/B BR §7.2): one CRL per shard of serials, signed by the
 * issuing intermediate, numbered from a CA-wide counter kept in storage. */
#ifndef COBBLE_CRL_H
#define COBBLE_CRL_H
#include <stddef.h>
#include <stdint.h>
#include "issuance/ca.h"
#include "storage/store.h"

/* RFC 5280 §5.3.1 CRLReason values. */
enum {
	COBBLE_CRL_REASON_UNSPECIFIED = 0,
	COBBLE_CRL_REASON_KEY_COMPROMISE = 1,
	COBBLE_CRL_REASON_CA_COMPROMISE = 2,
	COBBLE_CRL_REASON_AFFILIATION_CHANGED = 3,
	COBBLE_CRL_REASON_SUPERSEDED = 4,
	COBBLE_CRL_REASON_CESSATION = 5,
	COBBLE_CRL_REASON_CERTIFICATE_HOLD = 6,
	COBBLE_CRL_REASON_REMOVE_FROM_CRL = 8,
	COBBLE_CRL_REASON_PRIVILEGE_WITHDRAWN = 9,
	COBBLE_CRL_REASON_AA_COMPROMISE = 10,
};

/* 1 if a subscriber may ask for this reason through ACME revokeCert (CA/B BR §4.9.1.1,
 * Let's Encrypt: unspecified, keyCompromise, superseded, cessationOfOperation). */
int crl_reason_subscriber_ok(int reason);
/* The RFC 5280 name of a reason ("keyCompromise"), or NULL. */
const char *crl_reason_name(int reason);

/* Builds and signs the CRL of one shard at now, valid until now + lifetime seconds; takes
 * the next CRL number from storage (monotonic across restarts and instances). DER into
 * *der (OPENSSL_free). 0, or -1 (logged). */
int crl_build(struct ca *ca, struct store *s, int shard, int64_t now, int64_t lifetime,
              unsigned char **der, size_t *der_len);

/* A per-process cache of the shards' CRLs, rebuilt when crl_mark_dirty was called (a
 * revocation) or when less than a third of its lifetime remains. Not thread-safe: one
 * event loop. Multi-instance: crl_get regenerates under store_lock_try("crl") — the
 * instance holding the lock builds, others serve what they have. */
struct crl_cache;
/* max_age: a cached CRL is rebuilt at least this often (seconds), so a revocation made on
 * another instance (which cannot mark this cache dirty) shows within max_age. */
struct crl_cache *crl_cache_new(int nshards, int64_t lifetime, int64_t max_age);
void crl_cache_free(struct crl_cache *c);
void crl_mark_dirty(struct crl_cache *c);
/* Borrowed DER of shard's current CRL (valid until the next crl_get). NULL if shard is out
 * of range or nothing could be built. */
const unsigned char *crl_get(struct crl_cache *c, struct ca *ca, struct store *s, int shard, int64_t now,
                             size_t *len);

#endif
