/* base64url: RFC 4648 §10 vectors in the URL-safe alphabet, and the strictness JOSE relies on:
 * a value has exactly one accepted encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64url.h"

struct vec {
	const char *raw;
	size_t raw_len;
	const char *enc;
};

#define V(r, e) {r, sizeof(r) - 1, e}

static const struct vec good[] = {
    /* RFC 4648 §10, padding removed (RFC 7515 §2). */
    V("", ""),
    V("f", "Zg"),
    V("fo", "Zm8"),
    V("foo", "Zm9v"),
    V("foob", "Zm9vYg"),
    V("fooba", "Zm9vYmE"),
    V("foobar", "Zm9vYmFy"),
    /* The two characters where base64url differs from base64: 62 is '-', 63 is '_'. */
    V("\xfb\xff", "-_8"),
    V("\xff\xff\xff", "____"),
    V("\xfb\xef\xbe", "----"),
    V("\x00", "AA"),
    V("\x00\x00\x00", "AAAA"),
    V("\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93\x51\x55\x97\x61\x96\x9b\x71"
      "\xd7\x9f\x82\x18\xa3\x92\x59\xa7\xa2\x9a\xab\xb2\xdb\xaf\xc3\x1c\xb3\xd3\x5d\xb7\xe3\x9e"
      "\xbb\xf3\xdf\xbf",
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
    /* RFC 7515 Appendix A.1's protected header. */
    V("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"),
};

static const char *const bad[] = {
    "Zg==",     /* padding */
    "Zm8=",     /* padding */
    "Zg=",      /* padding, odd length */
    "=",        /* padding only */
    "Zm+v",     /* standard alphabet */
    "Zm/v",     /* standard alphabet */
    "Zm9 v",    /* space */
    "Zm9v\n",   /* newline */
    " Zm9v",    /* leading space */
    "Zm9\tv",   /* tab */
    "Z",        /* length % 4 == 1 */
    "Zm9vY",    /* length % 4 == 1 */
    "Zm9vYmFyZ", /* length % 4 == 1 */
    "Zh",       /* trailing bits not zero (Zg is "f") */
    "Zm9",      /* trailing bits not zero (Zm8 is "fo") */
    "_-",       /* trailing bits not zero */
    "Zm9v.",    /* JWS separator */
    "Zm9v\x80", /* non-ASCII */
};

static void test_encode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const struct vec *v = &good[i];
		assert_int_equal(b64url_encoded_len(v->raw_len), strlen(v->enc));
		char *e = b64url_encode((const uint8_t *)v->raw, v->raw_len);
		assert_non_null(e);
		assert_string_equal(e, v->enc);
		free(e);
		char buf[128];
		b64url_encode_to((const uint8_t *)v->raw, v->raw_len, buf);
		assert_string_equal(buf, v->enc);
	}
}

static void test_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const struct vec *v = &good[i];
		uint8_t *out = NULL;
		size_t n = 99;
		assert_int_equal(b64url_decode(v->enc, strlen(v->enc), &out, &n), 0);
		assert_non_null(out);
		assert_int_equal(n, v->raw_len);
		assert_memory_equal(out, v->raw, v->raw_len);
		assert_int_equal(out[n], 0); /* NUL-terminated for convenience */
		free(out);
	}
}

static void test_reject(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t *out = (uint8_t *)"untouched";
		size_t n = 7;
		if (b64url_decode(bad[i], strlen(bad[i]), &out, &n) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_string_equal((const char *)out, "untouched");
	}
}

/* The length argument bounds the read: an embedded NUL is a bad character, not an end. */
static void test_embedded_nul(void **state)
{
	(void)state;
	uint8_t *out = NULL;
	size_t n = 0;
	assert_int_equal(b64url_decode("Zm\0v", 4, &out, &n), -1);
	assert_int_equal(b64url_decode("Zm9vYmFy", 4, &out, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "foo", 3);
	free(out);
}

/* Every byte string of length 0..5 over a few byte values encodes and decodes back. */
static void test_round_trip(void **state)
{
	(void)state;
	static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
	uint8_t in[5];
	for (size_t len = 0; len <= sizeof in; len++) {
		size_t combos = 1;
		for (size_t k = 0; k < len; k++)
			combos *= sizeof vals;
		for (size_t c = 0; c < combos; c++) {
			size_t x = c;
			for (size_t k = 0; k < len; k++, x /= sizeof vals)
				in[k] = vals[x % sizeof vals];
			char *e = b64url_encode(in, len);
			assert_non_null(e);
			uint8_t *out = NULL;
			size_t n = 0;
			assert_int_equal(b64url_decode(e, strlen(e), &out, &n), 0);
			assert_int_equal(n, len);
			assert_memory_equal(out, in, len);
			free(out);
			free(e);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode),       cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_reject),       cmocka_unit_test(test_embedded_nul),
	    cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests_name("b64url", tests, NULL, NULL);
}
