/* caa: RFC 8659 / RFC 8657 decisions over record sets. Table-driven: each row is a record set and
 * the answer a user (domain owner) expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "validation/caa.h"

static const char *const ids[] = {"cobble.test", "ca.example"};
#define ACCT "https://ca.test/acct/1"

struct row {
	const char *name;
	struct caa_record recs[3];
	size_t n;
	int wildcard;
	const char *method;
	int permit;
	const char *why_has;
};

static const struct row table[] = {
	{"no records", {{0}}, 0, 0, "http-01", 1, NULL},
	{"other CA", {{0, "issue", "other-ca.example"}}, 1, 0, "http-01", 0, "other-ca.example"},
	{"our CA", {{0, "issue", "cobble.test"}}, 1, 0, "http-01", 1, NULL},
	{"our CA, case", {{0, "ISSUE", "Cobble.Test"}}, 1, 0, "http-01", 1, NULL},
	{"one of several", {{0, "issue", "other.example"}, {0, "issue", "ca.example"}}, 2, 0, "dns-01", 1, NULL},
	{"semicolon forbids", {{0, "issue", ";"}}, 1, 0, "http-01", 0, "issue"},
	{"iodef only", {{0, "iodef", "mailto:a@b.example"}}, 1, 0, "http-01", 1, NULL},
	{"unknown noncritical", {{0, "tbs", "x"}}, 1, 0, "http-01", 1, NULL},
	{"unknown critical", {{128, "tbs", "x"}, {0, "issue", "cobble.test"}}, 2, 0, "http-01", 0, "critical"},
	{"issuewild ; wildcard", {{0, "issue", "cobble.test"}, {0, "issuewild", ";"}}, 2, 1, "dns-01", 0, "issuewild"},
	{"issuewild ; plain", {{0, "issue", "cobble.test"}, {0, "issuewild", ";"}}, 2, 0, "dns-01", 1, NULL},
	{"wildcard falls back to issue", {{0, "issue", "other.example"}}, 1, 1, "dns-01", 0, "other.example"},
	{"issuewild ours", {{0, "issue", ";"}, {0, "issuewild", "cobble.test"}}, 2, 1, "dns-01", 1, NULL},
	{"accounturi right", {{0, "issue", "cobble.test; accounturi=" ACCT}}, 1, 0, "http-01", 1, NULL},
	{"accounturi wrong", {{0, "issue", "cobble.test; accounturi=https://ca.test/acct/2"}}, 1, 0, "http-01", 0, "accounturi"},
	{"methods has", {{0, "issue", "cobble.test; validationmethods=dns-01,http-01"}}, 1, 0, "http-01", 1, NULL},
	{"methods lacks", {{0, "issue", "cobble.test;validationmethods=dns-01"}}, 1, 0, "http-01", 0, "validationmethods"},
	{"methods prefix", {{0, "issue", "cobble.test;validationmethods=http-01x"}}, 1, 0, "http-01", 0, NULL},
	{"both params", {{0, "issue", "cobble.test; accounturi=" ACCT "; validationmethods=tls-alpn-01"}}, 1, 0, "tls-alpn-01", 1, NULL},
	{"malformed param", {{0, "issue", "cobble.test; accounturi"}}, 1, 0, "http-01", 0, NULL},
	{"suffix not match", {{0, "issue", "xcobble.test"}}, 1, 0, "http-01", 0, NULL},
	{"empty value", {{0, "issue", ""}}, 1, 0, "http-01", 0, NULL},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct row *r = &table[i];
		char why[512] = "";
		int got = caa_check(r->recs, r->n, r->wildcard, ids, 2, ACCT, r->method, why, sizeof why);
		if (got != r->permit)
			fail_msg("%s: got %d want %d (%s)", r->name, got, r->permit, why);
		if (r->why_has && !strstr(why, r->why_has))
			fail_msg("%s: why \"%s\" lacks \"%s\"", r->name, why, r->why_has);
	}
}

static void test_long_value(void **state)
{
	(void)state;
	static char big[CAA_VALUE_MAX + 100];
	memset(big, 'a', sizeof big - 1);
	memcpy(big, "cobble.test;x=", 14);
	struct caa_record r = {0, "issue", big};
	char why[64];
	assert_int_equal(caa_check(&r, 1, 0, ids, 2, ACCT, "http-01", why, sizeof why), 0);
	assert_true(strlen(why) < sizeof why);
}

static void test_rdata(void **state)
{
	(void)state;
	unsigned flags;
	char tag[CAA_TAG_MAX + 1], value[CAA_VALUE_MAX + 1];
	static const unsigned char ok[] = "\x80\x05issueca.example";
	assert_int_equal(caa_parse_rdata(ok, sizeof ok - 1, &flags, tag, value), 0);
	assert_int_equal(flags, 128);
	assert_string_equal(tag, "issue");
	assert_string_equal(value, "ca.example");
	static const unsigned char empty[] = "\x00\x09issuewild";
	assert_int_equal(caa_parse_rdata(empty, sizeof empty - 1, &flags, tag, value), 0);
	assert_string_equal(value, "");
	/* truncated tag, zero tag length, tag too long, bad tag char, NUL in value, short */
	static const unsigned char trunc[] = "\x00\x09issue";
	assert_int_equal(caa_parse_rdata(trunc, sizeof trunc - 1, &flags, tag, value), -1);
	static const unsigned char zero[] = "\x00\x00x";
	assert_int_equal(caa_parse_rdata(zero, 3, &flags, tag, value), -1);
	static const unsigned char longtag[] = "\x00\x10" "abcdefghijklmnop";
	assert_int_equal(caa_parse_rdata(longtag, sizeof longtag - 1, &flags, tag, value), -1);
	static const unsigned char badc[] = "\x00\x05iss-ex";
	assert_int_equal(caa_parse_rdata(badc, sizeof badc - 1, &flags, tag, value), -1);
	static const unsigned char nul[] = "\x00\x05issuea\x00" "b";
	assert_int_equal(caa_parse_rdata(nul, sizeof nul - 1, &flags, tag, value), -1);
	assert_int_equal(caa_parse_rdata(ok, 1, &flags, tag, value), -1);
	static unsigned char big[2 + 5 + CAA_VALUE_MAX + 1];
	memcpy(big, "\x00\x05issue", 7);
	memset(big + 7, 'a', sizeof big - 7);
	assert_int_equal(caa_parse_rdata(big, sizeof big, &flags, tag, value), -1);
	assert_int_equal(caa_parse_rdata(big, sizeof big - 1, &flags, tag, value), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_rdata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
