/* Replay nonces (RFC 8555 §6.5) that work across instances (design.md §4): each nonce is
 * self-authenticating (expiry + sequence + random + HMAC under a shared key) and redeemed once through
 * the storage interface. */
#ifndef COBBLE_NONCE_H
#define COBBLE_NONCE_H
#include <stddef.h>
#include <stdint.h>
#include "storage/store.h"

/* 8 bytes expiry + 8 sequence + 8 random + 16 MAC = 40 bytes = 54 base64url characters. */
#define NONCE_LEN 54
#define NONCE_KEY_LEN 32
#define NONCE_LIFETIME 3600 /* seconds */

struct nonce_ctx;
/* Loads the shared key from keyfile, creating it (0600, atomically) if missing. */
struct nonce_ctx *nonce_ctx_new(const char *keyfile, char *err, size_t errlen);
/* A context with a given key (tests). */
struct nonce_ctx *nonce_ctx_new_key(const unsigned char key[NONCE_KEY_LEN]);
void nonce_ctx_free(struct nonce_ctx *n);
/* Derives a fresh per-process key from the loaded one, so nonces from before this start are
 * refused (badNonce). Used when the redeemed set does not outlive the process (SQLite). */
int nonce_ctx_rekey_for_process(struct nonce_ctx *n);
/* Writes a fresh nonce and a NUL into out (NONCE_LEN + 1 bytes). 0 or -1. */
int nonce_make(struct nonce_ctx *n, int64_t now, char *out);
/* 0 if nonce is authentic, unexpired and redeemed now for the first time; -1 otherwise
 * (*why gets a short reason for the badNonce detail). */
int nonce_redeem(struct nonce_ctx *n, struct store *s, const char *nonce, int64_t now, const char **why);

#endif
