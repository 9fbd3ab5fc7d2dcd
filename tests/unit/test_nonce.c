/* Replay nonces: authentic once, refused when replayed, forged, expired, or from another key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "b64url.h"
#include "api/nonce.h"
#include "storage/store.h"

struct fixture {
	char dir[64];
	struct store *s;
	struct store *s2;
	struct nonce_ctx *n;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char spec[128], err[256];
	snprintf(f->dir, sizeof f->dir, "/tmp/cobble-nonce-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(spec, sizeof spec, "sqlite:%s/db", f->dir);
	assert_int_equal(store_open(spec, &f->s, err, sizeof err), STORE_OK);
	assert_int_equal(store_open(spec, &f->s2, err, sizeof err), STORE_OK);
	unsigned char key[NONCE_KEY_LEN];
	memset(key, 7, sizeof key);
	f->n = nonce_ctx_new_key(key);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	store_close(f->s);
	store_close(f->s2);
	nonce_ctx_free(f->n);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_once(void **state)
{
	struct fixture *f = *state;
	char n[NONCE_LEN + 1];
	const char *why = NULL;
	assert_int_equal(nonce_make(f->n, 1000, n), 0);
	assert_int_equal(strlen(n), NONCE_LEN);
	assert_int_equal(nonce_redeem(f->n, f->s, n, 1001, &why), 0);
	/* Replay on the same handle and on another handle of the same database. */
	assert_int_equal(nonce_redeem(f->n, f->s, n, 1002, &why), -1);
	assert_string_equal(why, "nonce has already been used");
	assert_int_equal(nonce_redeem(f->n, f->s2, n, 1002, &why), -1);
	assert_string_equal(why, "nonce has already been used");
}

static void test_distinct(void **state)
{
	struct fixture *f = *state;
	char a[NONCE_LEN + 1], b[NONCE_LEN + 1];
	assert_int_equal(nonce_make(f->n, 1000, a), 0);
	assert_int_equal(nonce_make(f->n, 1000, b), 0);
	assert_string_not_equal(a, b);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	char n[NONCE_LEN + 1], t[NONCE_LEN + 1];
	const char *why = NULL;
	assert_int_equal(nonce_make(f->n, 1000, n), 0);
	/* Expired. */
	assert_int_equal(nonce_redeem(f->n, f->s, n, 1000 + NONCE_LIFETIME + 1, &why), -1);
	assert_string_equal(why, "nonce has expired");
	/* Tampered: flip one character of the random part. */
	memcpy(t, n, sizeof t);
	t[20] = t[20] == 'A' ? 'B' : 'A';
	assert_int_equal(nonce_redeem(f->n, f->s, t, 1001, &why), -1);
	assert_string_equal(why, "nonce is not one this server issued");
	/* Wrong key: another CA's nonce. */
	unsigned char key[NONCE_KEY_LEN];
	memset(key, 9, sizeof key);
	struct nonce_ctx *other = nonce_ctx_new_key(key);
	char o[NONCE_LEN + 1];
	assert_int_equal(nonce_make(other, 1000, o), 0);
	assert_int_equal(nonce_redeem(f->n, f->s, o, 1001, &why), -1);
	nonce_ctx_free(other);
	/* Syntax. */
	const char *bad[] = {"", "abc", "!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(nonce_redeem(f->n, f->s, bad[i], 1001, &why), -1);
	/* The original, untouched, still redeems once. */
	assert_int_equal(nonce_redeem(f->n, f->s, n, 1001, &why), 0);
}

static void test_keyfile(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/nonce.key", f->dir);
	struct nonce_ctx *a = nonce_ctx_new(path, err, sizeof err);
	assert_non_null(a);
	struct nonce_ctx *b = nonce_ctx_new(path, err, sizeof err); /* second instance, same key */
	assert_non_null(b);
	char n[NONCE_LEN + 1];
	const char *why;
	assert_int_equal(nonce_make(a, 5000, n), 0);
	assert_int_equal(nonce_redeem(b, f->s, n, 5001, &why), 0);
	assert_int_equal(nonce_redeem(a, f->s, n, 5001, &why), -1);
	nonce_ctx_free(a);
	nonce_ctx_free(b);
	assert_int_equal(access(path, F_OK), 0);
}

/* The MAC in a nonce is HMAC-SHA256 (RFC 2104) of its 24-byte body, cut to 16 bytes: checked
 * against OpenSSL's HMAC() for several keys, so the precomputed inner and outer states
 * (nonce.c) are the real thing and not merely self-consistent. */
static void check_mac(const unsigned char key[NONCE_KEY_LEN], const char *nonce)
{
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	unsigned char want[32];
	unsigned int wl = 0;
	assert_int_equal(b64url_decode(nonce, strlen(nonce), &raw, &rawlen), 0);
	assert_int_equal(rawlen, 40);
	assert_non_null(HMAC(EVP_sha256(), key, NONCE_KEY_LEN, raw, 24, want, &wl));
	assert_int_equal(wl, 32);
	assert_memory_equal(raw + 24, want, 16);
	free(raw);
}

static void test_hmac(void **state)
{
	(void)state;
	for (int k = 0; k < 4; k++) {
		unsigned char key[NONCE_KEY_LEN];
		for (size_t i = 0; i < sizeof key; i++)
			key[i] = (unsigned char)(k == 0 ? 0 : k == 1 ? 0xff : (i * 37 + (size_t)k * 11));
		struct nonce_ctx *n = nonce_ctx_new_key(key);
		assert_non_null(n);
		for (int i = 0; i < 50; i++) {
			char nonce[NONCE_LEN + 1];
			assert_int_equal(nonce_make(n, 1000 + i, nonce), 0);
			check_mac(key, nonce);
		}
		nonce_ctx_free(n);
	}
}

/* Threads make nonces with one context at once (each uses its own scratch state); all verify. */
struct mt {
	struct nonce_ctx *n;
	char nonces[200][NONCE_LEN + 1];
	int bad;
};

static void *mt_main(void *arg)
{
	struct mt *m = arg;
	for (int i = 0; i < 200; i++)
		if (nonce_make(m->n, 7000, m->nonces[i]) != 0)
			m->bad++;
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct mt m[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		memset(&m[i], 0, sizeof m[i]);
		m[i].n = f->n;
		assert_int_equal(pthread_create(&t[i], NULL, mt_main, &m[i]), 0);
	}
	unsigned char key[NONCE_KEY_LEN];
	memset(key, 7, sizeof key); /* setup's key */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(m[i].bad, 0);
		for (int k = 0; k < 200; k++) {
			const char *why;
			check_mac(key, m[i].nonces[k]);
			assert_int_equal(nonce_redeem(f->n, f->s, m[i].nonces[k], 7000, &why), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_distinct, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyfile, setup, teardown),
	    cmocka_unit_test(test_hmac),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests_name("nonce", tests, NULL, NULL);
}
