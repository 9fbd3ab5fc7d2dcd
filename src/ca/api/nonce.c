/* Replay nonces: body || HMAC-SHA256(key, body)[0..16], body = expiry || sequence || random
 * (8 bytes each). Any instance with the key verifies without a lookup; the store makes
 * redemption single-use, and the sequence number (issue order under this key) lets it do so
 * in fixed memory (store_nonce_redeem). */
#include "nonce.h"
#include "b64url.h"
#include "fileio.h"
#include "rand.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_LEN 24
#define MAC_LEN 16
#define RAW_LEN (BODY_LEN + MAC_LEN)

struct nonce_ctx {
	unsigned char key[NONCE_KEY_LEN];
	/* HMAC-SHA256 (RFC 2104) with its two keyed states computed once: SHA-256 after absorbing
	 * key^ipad, and after key^opad. Each MAC copies them into this thread's scratch contexts
	 * and hashes its input: one compression each way. Issue 7: EVP_MAC_CTX_dup + final + free
	 * cost ~11k instructions per MAC (callgrind), ~17 MACs per certificate; this ~3k. Copying
	 * only reads them, so the event loops share them. */
	EVP_MD_CTX *inner, *outer;
	_Atomic uint64_t seq; /* the last sequence number issued; shared by the event loops */
};

#define SHA256_BLOCK 64

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* This thread's two scratch contexts, freed when the thread exits. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
struct scratch {
	EVP_MD_CTX *in, *out;
};
static void scratch_free(void *p)
{
	struct scratch *sc = p;
	EVP_MD_CTX_free(sc->in);
	EVP_MD_CTX_free(sc->out);
	free(sc);
}
static void scratch_key_make(void)
{
	(void)pthread_key_create(&scratch_key, scratch_free);
}
static struct scratch *scratch_get(void)
{
	pthread_once(&scratch_once, scratch_key_make);
	struct scratch *sc = pthread_getspecific(scratch_key);
	if (sc)
		return sc;
	sc = calloc(1, sizeof *sc);
	if (!sc || !(sc->in = EVP_MD_CTX_new()) || !(sc->out = EVP_MD_CTX_new()) ||
	    pthread_setspecific(scratch_key, sc) != 0) {
		if (sc)
			scratch_free(sc);
		return NULL;
	}
	return sc;
}

/* A SHA-256 context that has absorbed key (<= one block, zero-padded) XOR pad. */
static EVP_MD_CTX *keyed_state(const unsigned char *key, size_t len, unsigned char pad)
{
	unsigned char block[SHA256_BLOCK];
	memset(block, pad, sizeof block);
	for (size_t i = 0; i < len; i++)
		block[i] ^= key[i];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex2(c, sha256_md, NULL) == 1 && EVP_DigestUpdate(c, block, sizeof block) == 1;
	OPENSSL_cleanse(block, sizeof block);
	if (!ok) {
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return c;
}

static int set_key(struct nonce_ctx *n, const unsigned char key[NONCE_KEY_LEN])
{
	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md)
		return -1;
	EVP_MD_CTX *in = keyed_state(key, NONCE_KEY_LEN, 0x36), *out = keyed_state(key, NONCE_KEY_LEN, 0x5c);
	if (!in || !out) {
		EVP_MD_CTX_free(in);
		EVP_MD_CTX_free(out);
		return -1;
	}
	memcpy(n->key, key, NONCE_KEY_LEN);
	EVP_MD_CTX_free(n->inner);
	EVP_MD_CTX_free(n->outer);
	n->inner = in;
	n->outer = out;
	return 0;
}

struct nonce_ctx *nonce_ctx_new_key(const unsigned char key[NONCE_KEY_LEN])
{
	struct nonce_ctx *n = calloc(1, sizeof *n);
	if (n && set_key(n, key) != 0) {
		free(n);
		n = NULL;
	}
	return n;
}

struct nonce_ctx *nonce_ctx_new(const char *keyfile, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	unsigned char key[NONCE_KEY_LEN];
	if (file_read_all(keyfile, 4096, &data, &len) == 0) {
		uint8_t *raw = NULL;
		size_t rawlen = 0;
		while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
			len--;
		int bad = b64url_decode(data, len, &raw, &rawlen) || rawlen != NONCE_KEY_LEN;
		if (!bad)
			memcpy(key, raw, NONCE_KEY_LEN);
		free(raw);
		free(data);
		if (bad) {
			snprintf(err, errlen, "%s: not a base64url %d-byte nonce key", keyfile, NONCE_KEY_LEN);
			return NULL;
		}
	} else if (errno == ENOENT) {
		char text[NONCE_KEY_LEN * 2];
		if (rand_fill(key, sizeof key)) {
			snprintf(err, errlen, "no randomness for the nonce key");
			return NULL;
		}
		b64url_encode_to(key, sizeof key, text);
		size_t tl = strlen(text);
		text[tl++] = '\n';
		if (file_write_atomic(keyfile, text, tl, 0600)) {
			snprintf(err, errlen, "cannot write %s: %s", keyfile, strerror(errno));
			return NULL;
		}
	} else {
		snprintf(err, errlen, "cannot read %s: %s", keyfile, strerror(errno));
		return NULL;
	}
	struct nonce_ctx *n = nonce_ctx_new_key(key);
	OPENSSL_cleanse(key, sizeof key);
	return n;
}

void nonce_ctx_free(struct nonce_ctx *n)
{
	if (!n)
		return;
	OPENSSL_cleanse(n->key, sizeof n->key);
	EVP_MD_CTX_free(n->inner);
	EVP_MD_CTX_free(n->outer);
	free(n);
}

int nonce_ctx_rekey_for_process(struct nonce_ctx *n)
{
	unsigned char salt[16], out[EVP_MAX_MD_SIZE];
	unsigned int ol = 0;
	if (rand_fill(salt, sizeof salt) || !HMAC(EVP_sha256(), n->key, NONCE_KEY_LEN, salt, sizeof salt, out, &ol))
		return -1;
	int rc = set_key(n, out);
	OPENSSL_cleanse(out, sizeof out);
	return rc;
}

/* HMAC-SHA256(key, body) truncated to MAC_LEN: H(key^opad || H(key^ipad || body)). */
static int mac(const struct nonce_ctx *n, const unsigned char *body, unsigned char *out)
{
	unsigned char ih[32], oh[32];
	unsigned int il = 0, ol = 0;
	struct scratch *sc = scratch_get();
	int ok = sc && EVP_MD_CTX_copy_ex(sc->in, n->inner) == 1 && EVP_DigestUpdate(sc->in, body, BODY_LEN) == 1 &&
	         EVP_DigestFinal_ex(sc->in, ih, &il) == 1 && il == sizeof ih &&
	         EVP_MD_CTX_copy_ex(sc->out, n->outer) == 1 && EVP_DigestUpdate(sc->out, ih, sizeof ih) == 1 &&
	         EVP_DigestFinal_ex(sc->out, oh, &ol) == 1 && ol == sizeof oh;
	if (!ok)
		return -1;
	memcpy(out, oh, MAC_LEN);
	return 0;
}

int nonce_make(struct nonce_ctx *n, int64_t now, char *out)
{
	unsigned char raw[RAW_LEN];
	uint64_t exp = (uint64_t)(now + NONCE_LIFETIME);
	for (int i = 0; i < 8; i++)
		raw[i] = (unsigned char)(exp >> (56 - 8 * i));
	uint64_t seq = atomic_fetch_add(&n->seq, 1) + 1;
	for (int i = 0; i < 8; i++)
		raw[8 + i] = (unsigned char)(seq >> (56 - 8 * i));
	if (rand_fill(raw + 16, 8) || mac(n, raw, raw + BODY_LEN))
		return -1;
	b64url_encode_to(raw, RAW_LEN, out);
	return 0;
}

int nonce_redeem(struct nonce_ctx *n, struct store *s, const char *nonce, int64_t now, const char **why)
{
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	unsigned char want[MAC_LEN];
	int rc = -1;
	*why = "nonce is not one this server issued";
	if (strlen(nonce) != NONCE_LEN || b64url_decode(nonce, NONCE_LEN, &raw, &rawlen) || rawlen != RAW_LEN)
		goto done;
	if (mac(n, raw, want) || CRYPTO_memcmp(want, raw + BODY_LEN, MAC_LEN) != 0)
		goto done;
	uint64_t exp = 0;
	for (int i = 0; i < 8; i++)
		exp = exp << 8 | raw[i];
	if ((int64_t)exp < now) {
		*why = "nonce has expired";
		goto done;
	}
	uint64_t seq = 0;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | raw[8 + i];
	int r = seq ? store_nonce_redeem(s, raw, BODY_LEN, seq, (int64_t)exp, now) : STORE_ERR;
	if (r == STORE_CONFLICT) {
		*why = "nonce has already been used";
		goto done;
	}
	if (r == STORE_NOTFOUND) {
		*why = "nonce is too old (more than a million newer ones were issued since)";
		goto done;
	}
	if (r != STORE_OK) {
		*why = "nonce could not be checked";
		goto done;
	}
	rc = 0;
done:
	free(raw);
	return rc;
}
