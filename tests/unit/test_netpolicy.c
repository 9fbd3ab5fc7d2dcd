/* netpolicy: which addresses validation may connect to. Table-driven, both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "validation/netpolicy.h"

struct want {
	const char *ip;
	int is_public;
	const char *why_has; /* substring of why when not public, or NULL */
};

static const struct want table[] = {
	/* public IPv4 */
	{"8.8.8.8", 1, NULL},
	{"1.1.1.1", 1, NULL},
	{"93.184.216.34", 1, NULL},
	{"100.63.255.255", 1, NULL},  /* just below CGNAT */
	{"100.128.0.0", 1, NULL},     /* just above CGNAT */
	{"172.15.255.255", 1, NULL},  /* just below 172.16/12 */
	{"172.32.0.0", 1, NULL},      /* just above */
	{"192.0.1.1", 1, NULL},
	{"192.88.98.1", 1, NULL},
	{"192.169.0.1", 1, NULL},
	{"198.17.255.255", 1, NULL},
	{"198.20.0.0", 1, NULL},
	{"223.255.255.255", 1, NULL},
	{"11.0.0.1", 1, NULL},
	{"126.255.255.255", 1, NULL},
	{"128.0.0.1", 1, NULL},
	{"169.253.255.255", 1, NULL},
	{"169.255.0.0", 1, NULL},
	/* special IPv4 */
	{"0.0.0.0", 0, "unspecified"},
	{"0.1.2.3", 0, "unspecified"},
	{"10.0.0.1", 0, "private"},
	{"10.255.255.255", 0, "private"},
	{"100.64.0.1", 0, "CGNAT"},
	{"100.127.255.255", 0, "CGNAT"},
	{"127.0.0.1", 0, "loopback"},
	{"127.255.255.254", 0, "loopback"},
	{"169.254.169.254", 0, "link-local"},
	{"172.16.0.1", 0, "private"},
	{"172.31.255.255", 0, "private"},
	{"192.0.0.8", 0, "IETF"},
	{"192.0.2.1", 0, "documentation"},
	{"192.88.99.1", 0, "6to4"},
	{"192.168.1.1", 0, "private"},
	{"198.18.0.1", 0, "benchmarking"},
	{"198.19.255.255", 0, "benchmarking"},
	{"198.51.100.7", 0, "documentation"},
	{"203.0.113.9", 0, "documentation"},
	{"224.0.0.1", 0, "multicast"},
	{"239.255.255.250", 0, "multicast"},
	{"240.0.0.1", 0, "reserved"},
	{"254.1.2.3", 0, "reserved"},
	{"255.255.255.255", 0, "broadcast"},
	/* public IPv6 */
	{"2606:4700::1111", 1, NULL},
	{"2001:4860:4860::8888", 1, NULL},
	{"2a00:1450:4001:80b::200e", 1, NULL},
	{"2001:200::1", 1, NULL},             /* just past 2001::/23 */
	{"2003::1", 1, NULL},
	{"::ffff:8.8.8.8", 1, NULL},           /* mapped public v4 */
	{"64:ff9b::808:808", 1, NULL},         /* NAT64 of 8.8.8.8 */
	{"2002:808:808::1", 1, NULL},          /* 6to4 of 8.8.8.8 */
	/* special IPv6 */
	{"::", 0, "unspecified"},
	{"::1", 0, "loopback"},
	{"::127.0.0.1", 0, "IPv4-compatible"},
	{"::ffff:127.0.0.1", 0, "loopback"},
	{"::ffff:10.1.2.3", 0, "private"},
	{"::ffff:169.254.1.1", 0, "link-local"},
	{"64:ff9b::a00:1", 0, "private"},      /* NAT64 of 10.0.0.1 */
	{"64:ff9b::7f00:1", 0, "loopback"},
	{"64:ff9b:1::1", 0, "NAT64"},          /* local-use NAT64 */
	{"100::1", 0, "discard"},
	{"2001::1", 0, "IETF"},
	{"2001:1ff:ffff::1", 0, "IETF"},
	{"2001:db8::1", 0, "documentation"},
	{"2001:db8:ffff:ffff::1", 0, "documentation"},
	{"2002:7f00:1::", 0, "loopback"},      /* 6to4 of 127.0.0.1 */
	{"2002:c0a8:101::1", 0, "private"},    /* 6to4 of 192.168.1.1 */
	{"fc00::1", 0, "unique local"},
	{"fd12:3456:789a::1", 0, "unique local"},
	{"fe80::1", 0, "link-local"},
	{"febf:ffff::1", 0, "link-local"},
	{"fec0::1", 0, "site-local"},
	{"ff02::1", 0, "multicast"},
	{"ff0e::101", 0, "multicast"},
	{"4000::1", 0, "reserved"},
	{"e000::1", 0, "reserved"},
	/* not addresses */
	{"", 0, "not an IP"},
	{"example.com", 0, "not an IP"},
	{"256.1.1.1", 0, "not an IP"},
	{"1.2.3", 0, "not an IP"},
	{"[::1]", 0, "not an IP"},
};

static void test_table_str(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const char *why = "unset";
		int got = netpolicy_is_public_str(table[i].ip, &why);
		if (got != table[i].is_public)
			fail_msg("%s: is_public %d, want %d (why %s)", table[i].ip, got, table[i].is_public,
			         why ? why : "NULL");
		if (table[i].is_public) {
			assert_null(why);
		} else {
			assert_non_null(why);
			if (!strstr(why, table[i].why_has))
				fail_msg("%s: why \"%s\", want it to mention \"%s\"", table[i].ip, why,
				         table[i].why_has);
		}
		/* why may be NULL */
		assert_int_equal(netpolicy_is_public_str(table[i].ip, NULL), table[i].is_public);
	}
}

static void test_table_binary(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		unsigned char bin[16];
		int fam;
		if (inet_pton(AF_INET, table[i].ip, bin) == 1)
			fam = AF_INET;
		else if (inet_pton(AF_INET6, table[i].ip, bin) == 1)
			fam = AF_INET6;
		else
			continue;
		const char *why = NULL;
		if (netpolicy_is_public(fam, bin, &why) != table[i].is_public)
			fail_msg("%s (binary): want %d", table[i].ip, table[i].is_public);
	}
}

static void test_bad_input(void **state)
{
	(void)state;
	const char *why = NULL;
	unsigned char bin[16] = {8, 8, 8, 8};
	assert_int_equal(netpolicy_is_public(AF_UNIX, bin, &why), 0);
	assert_non_null(why);
	assert_int_equal(netpolicy_is_public(AF_INET, NULL, &why), 0);
	assert_int_equal(netpolicy_is_public_str(NULL, &why), 0);
	assert_non_null(why);
}

/* Every address of a special /8 block is refused, not just its first one. */
static void test_whole_ranges(void **state)
{
	(void)state;
	static const unsigned char blocks[] = {0, 10, 127};
	for (size_t b = 0; b < sizeof blocks; b++) {
		for (unsigned x = 0; x < 256; x += 17) {
			char ip[32];
			snprintf(ip, sizeof ip, "%u.%u.%u.%u", blocks[b], x, 255 - x, x ^ 0x5a);
			assert_int_equal(netpolicy_is_public_str(ip, NULL), 0);
		}
	}
	for (unsigned x = 224; x < 256; x++) {
		char ip[32];
		snprintf(ip, sizeof ip, "%u.1.2.3", x);
		assert_int_equal(netpolicy_is_public_str(ip, NULL), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_str),
		cmocka_unit_test(test_table_binary),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_whole_ranges),
	};
	return cmocka_run_group_tests_name("netpolicy", tests, NULL, NULL);
}
