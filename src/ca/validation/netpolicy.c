/* Which addresses validation may connect to: the IANA special-purpose address registries
 * (IPv4 RFC 6890 and IPv6), with the IPv6 forms that embed an IPv4 address checked on it. */
#include "netpolicy.h"
#include "problem.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

struct range {
	unsigned char prefix[16];
	unsigned bits;
	const char *why;
};

/* IANA IPv4 Special-Purpose Address Registry, plus multicast and the limited broadcast. */
static const struct range v4_ranges[] = {
	{{0}, 8, "unspecified (\"this network\", RFC 791)"},
	{{10}, 8, "private (RFC 1918)"},
	{{100, 64}, 10, "shared CGNAT (RFC 6598)"},
	{{127}, 8, "loopback"},
	{{169, 254}, 16, "link-local"},
	{{172, 16}, 12, "private (RFC 1918)"},
	{{192, 0, 0}, 24, "IETF protocol assignment (RFC 6890)"},
	{{192, 0, 2}, 24, "documentation (RFC 5737)"},
	{{192, 31, 196}, 24, "AS112 (RFC 7535)"},
	{{192, 52, 193}, 24, "AMT (RFC 7450)"},
	{{192, 88, 99}, 24, "deprecated 6to4 relay anycast (RFC 7526)"},
	{{192, 168}, 16, "private (RFC 1918)"},
	{{192, 175, 48}, 24, "direct delegation AS112 (RFC 7534)"},
	{{198, 18}, 15, "benchmarking (RFC 2544)"},
	{{198, 51, 100}, 24, "documentation (RFC 5737)"},
	{{203, 0, 113}, 24, "documentation (RFC 5737)"},
	{{224}, 4, "multicast"},
	{{255, 255, 255, 255}, 32, "limited broadcast"}, /* before 240/4, which contains it */
	{{240}, 4, "reserved (RFC 1112)"},
};

/* IANA IPv6 Special-Purpose Address Registry; the forms that embed an IPv4 address
 * (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) are handled before this table. */
static const struct range v6_ranges[] = {
	{{0}, 128, "unspecified"},
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
	{{0}, 96, "deprecated IPv4-compatible (RFC 4291)"},
	{{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "local-use NAT64 (RFC 8215)"},
	{{0x01, 0x00}, 64, "discard-only (RFC 6666)"},
	{{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation (RFC 3849)"},
	{{0x20, 0x01}, 23, "IETF protocol assignment (RFC 2928)"},
	{{0x3f, 0xff}, 20, "documentation (RFC 9637)"},
	{{0x5f, 0x00}, 16, "segment routing SIDs (RFC 9602)"},
	{{0xfc}, 7, "private (unique local, RFC 4193)"},
	{{0xfe, 0x80}, 10, "link-local"},
	{{0xfe, 0xc0}, 10, "deprecated site-local (RFC 3879)"},
	{{0xff}, 8, "multicast"},
};

static int prefix_match(const unsigned char *a, const unsigned char *prefix, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a, prefix, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (prefix[full] & mask);
}

static int v4_public(const unsigned char *a, const char **why)
{
	for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++) {
		if (prefix_match(a, v4_ranges[i].prefix, v4_ranges[i].bits)) {
			if (why)
				*why = v4_ranges[i].why;
			return 0;
		}
	}
	return 1;
}

static int v6_public(const unsigned char *a, const char **why)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	static const unsigned char sixto4[2] = {0x20, 0x02};
	/* The address the packets really reach is the embedded IPv4 one: judge that. */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_public(a + 12, why);
	if (memcmp(a, sixto4, 2) == 0)
		return v4_public(a + 2, why);
	/* 2000::/3 is the only global unicast space allocated today; anything outside it is
	 * reserved by IANA (RFC 4291 §2.4). Checked after the specific names below. */
	for (size_t i = 0; i < sizeof v6_ranges / sizeof v6_ranges[0]; i++) {
		if (prefix_match(a, v6_ranges[i].prefix, v6_ranges[i].bits)) {
			if (why)
				*why = v6_ranges[i].why;
			return 0;
		}
	}
	if ((a[0] & 0xe0) != 0x20) {
		if (why)
			*why = "reserved (outside 2000::/3, RFC 4291)";
		return 0;
	}
	return 1;
}

int netpolicy_is_public(int family, const void *addr, const char **why)
{
	if (why)
		*why = NULL;
	if (!addr)
		goto bad;
	if (family == AF_INET)
		return v4_public(addr, why);
	if (family == AF_INET6)
		return v6_public(addr, why);
bad:
	if (why)
		*why = "not an IP address";
	return 0;
}

int netpolicy_is_public_str(const char *ip, const char **why)
{
	unsigned char buf[16];
	if (ip && inet_pton(AF_INET, ip, buf) == 1)
		return netpolicy_is_public(AF_INET, buf, why);
	if (ip && inet_pton(AF_INET6, ip, buf) == 1)
		return netpolicy_is_public(AF_INET6, buf, why);
	if (why)
		*why = "not an IP address";
	return 0;
}

static const char *article(const char *word)
{
	return strchr("aeiouAEIOU", word[0]) ? "an" : "a";
}

int netpolicy_pick(const char *name, int name_is_ip, char addrs[][46], size_t n, int lab,
                   const char *cand[2], struct problem **prob)
{
	const char *refused = NULL, *refused_why = NULL;
	cand[0] = cand[1] = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		if (!lab && !netpolicy_is_public_str(addrs[i], &why)) {
			if (!refused) {
				refused = addrs[i];
				refused_why = why ? why : "non-public";
			}
			continue;
		}
		int v6 = strchr(addrs[i], ':') != NULL;
		if (v6 && !cand[0])
			cand[0] = addrs[i];
		else if (!v6 && !cand[1])
			cand[1] = addrs[i];
	}
	if (cand[0] || cand[1])
		return 0;
	if (!refused) {
		*prob = problem_new("dns", 400, "DNS problem: no addresses found for %s", name);
		return -1;
	}
	if (name_is_ip)
		*prob = problem_new("connection", 400,
		                    "%s is %s %s address; the CA does not connect to non-public addresses",
		                    name, article(refused_why), refused_why);
	else
		*prob = problem_new("connection", 400,
		                    "%s resolves to %s, %s %s address; the CA does not connect to "
		                    "non-public addresses", name, refused, article(refused_why), refused_why);
	return -1;
}
