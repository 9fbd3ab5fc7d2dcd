/* Certificate requests and certificate parsing for the agent: the CSR sent at finalize, the
 * fields renew needs (validity, ARI CertID), and splitting a PEM chain. */
#ifndef COBBLE_AGENT_CSR_H
#define COBBLE_AGENT_CSR_H
#include <openssl/evp.h>
#include <stddef.h>
#include <time.h>

/* DER CSR, base64url-encoded, with every name as a dNSName SAN (CN = first name when it
 * fits in 64 bytes). Returns malloc'd string or NULL. */
char *csr_build_b64(EVP_PKEY *key, const char *const *names, size_t n);

/* Splits a PEM chain into the first certificate (*leaf) and the rest (*chain), both
 * malloc'd PEM text. -1 when pem holds no certificate or something that is not PEM. */
int pem_split_chain(const char *pem, char **leaf, char **chain);

/* notBefore/notAfter of the first certificate in a PEM text. 0 or -1. */
int cert_validity(const char *pem, time_t *not_before, time_t *not_after);

/* RFC 9773 §4.1 CertID: base64url(AKI keyIdentifier) "." base64url(serial DER content).
 * malloc'd or NULL (no AKI). */
char *cert_ari_id(const char *pem);

/* Common name of the issuer of the last certificate in a PEM chain (for --preferred-chain),
 * malloc'd or NULL. */
char *chain_top_issuer_cn(const char *pem);

/* DER of the first certificate in pem, base64url (for revokeCert). malloc'd or NULL. */
char *cert_der_b64(const char *pem);

#endif
