/* ARI (RFC 9773) and revocation helpers: certID parsing (table-driven), the suggested window,
 * CRL shard names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api/lifecycle.h"

static const unsigned char KEYID[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                      0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};

static void test_certid(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *serial; /* NULL: refused */
		int status;
	} t[] = {
	    /* RFC 9773 §4.1 example */
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "87654321", 0},
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AQ", "01", 0},
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.fw", "7f", 0},
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.gQ", NULL, 400},          /* negative */
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AAE", NULL, 400},         /* needless leading zero */
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.", NULL, 400},
	    {".AIdlQyE", NULL, 400},
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ", NULL, 400},
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE.AQ", NULL, 400},
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AI+lQyE", NULL, 400},     /* not base64url */
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNA.AIdlQyE", NULL, 404},     /* other issuer */
	    {"AAAA.AQ", NULL, 404},
	    {"", NULL, 400},
	    /* 22 serial octets */
	    {"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ", NULL, 400},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char serial[48] = "";
		struct problem *p = lifecycle_parse_certid(t[i].in, KEYID, sizeof KEYID, serial, sizeof serial);
		if (t[i].serial) {
			if (p)
				fail_msg("%s: refused: %s", t[i].in, p->detail);
			assert_string_equal(serial, t[i].serial);
		} else {
			if (!p)
				fail_msg("%s: accepted as %s", t[i].in, serial);
			assert_int_equal(p->status, t[i].status);
			problem_free(p);
		}
	}
	/* Too long an input and a short output buffer are refused, not overrun. */
	char big[400];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[30] = '.';
	char serial[4];
	struct problem *p = lifecycle_parse_certid(big, KEYID, sizeof KEYID, serial, sizeof serial);
	assert_non_null(p);
	problem_free(p);
	p = lifecycle_parse_certid("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", KEYID, sizeof KEYID, serial, sizeof serial);
	assert_non_null(p);
	problem_free(p);
	p = lifecycle_parse_certid(NULL, KEYID, sizeof KEYID, serial, sizeof serial);
	assert_non_null(p);
	problem_free(p);
}

static void test_window(void **state)
{
	(void)state;
	int64_t s, e;
	/* 90 days: the window is days 70..80. */
	lifecycle_ari_window(0, 90 * 86400, 0, 1000, &s, &e);
	assert_int_equal(s, 70 * 86400);
	assert_int_equal(e, 80 * 86400);
	lifecycle_ari_window(1000, 1000 + 9 * 3600, 0, 1000, &s, &e);
	assert_int_equal(s, 1000 + 7 * 3600);
	assert_int_equal(e, 1000 + 8 * 3600);
	/* Revoked: the whole window has passed. */
	lifecycle_ari_window(0, 90 * 86400, 500, 5000000, &s, &e);
	assert_true(s < e);
	assert_true(e < 5000000);
}

static void test_crl_names(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int want;
	} t[] = {
	    {"0.crl", 0}, {"3.crl", 3}, {"4.crl", -1}, {"03.crl", -1}, {"-1.crl", -1}, {"1.crl.der", -1},
	    {"1", -1},    {".crl", -1}, {"", -1},      {"99999999999999.crl", -1}, {"1x.crl", -1},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		assert_int_equal(lifecycle_parse_crl_name(t[i].in, 4), t[i].want);
	assert_int_equal(lifecycle_parse_crl_name(NULL, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_certid),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_crl_names),
	};
	return cmocka_run_group_tests_name("ari", tests, NULL, NULL);
}
