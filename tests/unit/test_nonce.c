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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_distinct, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyfile, setup, teardown),
	};
	return cmocka_run_group_tests_name("nonce", tests, NULL, NULL);
}
