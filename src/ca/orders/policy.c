/* Identifier policy: LDH syntax, valid A-labels only, length limits, suffix allow/deny lists,
 * wildcards below a registrable domain, canonical IP addresses (RFC 8738).
 * Names are compared in lower case; a refusal names the identifier and the rule it broke. */
#include "policy.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "validation/netpolicy.h"

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	/* The newer of libpsl's built-in list and Debian's publicsuffix package. Never freed:
	 * one per process, shared read-only by every thread. */
	psl = psl_latest(NULL);
	if (!psl)
		psl = psl_builtin();
}

/* 1 if name is an ICANN public suffix ("com", "co.uk"), where no one can prove control of
 * every name below. The implicit "*" rule is off: unknown TLDs (lab zones like "test")
 * are judged by the other rules. */
static int public_suffix(const char *name)
{
	pthread_once(&psl_once, psl_load);
	return psl && psl_is_public_suffix2(psl, name, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE);
}

static int suffix_match(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	if (s == 0)
		return 0;
	if (suffix[0] == '.') {
		suffix++;
		s--;
	}
	if (n == s)
		return strcasecmp(name, suffix) == 0;
	return n > s && name[n - s - 1] == '.' && strcasecmp(name + n - s, suffix) == 0;
}

/* An "xn--" label must round-trip through IDNA2008 (RFC 5891): no fake A-labels. */
static int alabel_ok(const char *label, size_t len)
{
	char buf[64];
	memcpy(buf, label, len);
	buf[len] = '\0';
	char *u = NULL, *back = NULL;
	int ok = 0;
	if (idn2_to_unicode_8z8z(buf, &u, 0) != IDN2_OK)
		goto done;
	if (idn2_lookup_u8((const uint8_t *)u, (uint8_t **)&back, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
		goto done;
	ok = strcasecmp(back, buf) == 0;
done:
	free(u);
	free(back);
	return ok;
}

static const char *syntax_error(const char *name)
{
	size_t n = strlen(name);
	if (n == 0)
		return "is empty";
	if (n > POLICY_NAME_MAX)
		return "is longer than 253 characters";
	if (name[n - 1] == '.')
		return "ends in a dot";
	int labels = 0, all_numeric_tld = 1;
	const char *p = name;
	while (*p) {
		const char *start = p;
		int numeric = 1;
		while (*p && *p != '.') {
			unsigned char ch = (unsigned char)*p;
			if (!(isalnum(ch) || ch == '-'))
				return ch == '*' ? "has a wildcard that is not the whole first label"
				                 : "contains a character outside a-z, 0-9 and '-'";
			if (!isdigit(ch))
				numeric = 0;
			p++;
		}
		size_t len = (size_t)(p - start);
		if (len == 0)
			return "has an empty label";
		if (len > 63)
			return "has a label longer than 63 characters";
		if (start[0] == '-' || start[len - 1] == '-')
			return "has a label that starts or ends with '-'";
		if (len >= 4 && start[2] == '-' && start[3] == '-') {
			if (strncasecmp(start, "xn--", 4) != 0)
				return "has a reserved label (two hyphens in positions 3 and 4)";
			if (!alabel_ok(start, len))
				return "has an invalid IDN A-label";
		}
		labels++;
		all_numeric_tld = numeric;
		if (*p == '.')
			p++;
	}
	if (labels < 2)
		return "has only one label";
	if (all_numeric_tld)
		return "looks like an IP address (IP identifiers use type \"ip\")";
	return NULL;
}

int policy_check_dns(const struct config *c, const char *name, char *out, int *wildcard,
                     struct problem **prob)
{
	*wildcard = 0;
	size_t n = strlen(name);
	if (n > POLICY_NAME_MAX + 2) {
		*prob = problem_new("rejectedIdentifier", 400, "DNS identifier is longer than 253 characters");
		return -1;
	}
	const char *base = name;
	if (n >= 2 && name[0] == '*' && name[1] == '.') {
		*wildcard = 1;
		base = name + 2;
	}
	char lower[POLICY_NAME_MAX + 3];
	size_t i;
	for (i = 0; base[i] && i < sizeof lower - 1; i++)
		lower[i] = (char)tolower((unsigned char)base[i]);
	lower[i] = '\0';
	const char *why = syntax_error(lower);
	if (why) {
		*prob = problem_new("rejectedIdentifier", 400, "DNS identifier \"%.260s\" %s", name, why);
		return -1;
	}
	if (public_suffix(lower)) {
		/* CA/B BR §3.2.2.6: no wildcard directly below a public suffix; nor the suffix itself. */
		*prob = problem_new("rejectedIdentifier", 400,
		                    *wildcard ? "wildcard identifier \"%.260s\" covers the public suffix \"%s\""
		                              : "DNS identifier \"%.260s\" is a public suffix (\"%s\")",
		                    name, lower);
		return -1;
	}
	for (size_t k = 0; k < c->ndenied; k++) {
		if (suffix_match(lower, c->denied_suffixes[k])) {
			*prob = problem_new("rejectedIdentifier", 400,
			                    "policy forbids issuing for \"%s\" (denied suffix \"%s\")", lower,
			                    c->denied_suffixes[k]);
			return -1;
		}
	}
	if (c->nallowed > 0) {
		size_t k;
		for (k = 0; k < c->nallowed; k++)
			if (suffix_match(lower, c->allowed_suffixes[k]))
				break;
		if (k == c->nallowed) {
			*prob = problem_new("rejectedIdentifier", 400,
			                    "policy forbids issuing for \"%s\": not under an allowed suffix", lower);
			return -1;
		}
	}
	memcpy(out, lower, strlen(lower) + 1);
	return 0;
}

int policy_check_ip(const struct config *c, const char *value, char *out, struct problem **prob)
{
	unsigned char bin[16];
	char canon[POLICY_IP_MAX];
	int fam = 0;
	if (!c->allow_ip) {
		/* RFC 8738 §3 is optional: without it ip identifiers are unsupported (RFC 8555 §6.7). */
		*prob = problem_new("unsupportedIdentifier", 400,
		                    "ip identifiers are not enabled on this CA (identifierPolicy.allowIP)");
		return -1;
	}
	if (strlen(value) < POLICY_IP_MAX) {
		if (inet_pton(AF_INET, value, bin) == 1)
			fam = AF_INET;
		else if (inet_pton(AF_INET6, value, bin) == 1)
			fam = AF_INET6;
	}
	if (!fam || !inet_ntop(fam, bin, canon, sizeof canon)) {
		*prob = problem_new("rejectedIdentifier", 400, "ip identifier \"%.64s\" is not an IPv4 or IPv6 address",
		                    value);
		return -1;
	}
	/* RFC 8738 §3: IPv4 in dotted decimal, IPv6 in the RFC 5952 §4 text form; one spelling
	 * per address, so orders, authorizations and CSRs compare as strings. */
	if (strcmp(canon, value) != 0) {
		*prob = problem_new("rejectedIdentifier", 400,
		                    "ip identifier \"%.64s\" is not in canonical form: write it as \"%s\" "
		                    "(RFC 8738 §3, RFC 5952)", value, canon);
		return -1;
	}
	const char *why = NULL;
	if (!c->lab && !netpolicy_is_public(fam, bin, &why)) {
		/* CA/B BR §7.1.2.7.12: no certificates for reserved addresses. */
		*prob = problem_new("rejectedIdentifier", 400,
		                    "policy forbids issuing for %s: it is %s %s address", canon,
		                    why && strchr("aeiou", why[0]) ? "an" : "a", why ? why : "non-public");
		return -1;
	}
	memcpy(out, canon, strlen(canon) + 1);
	return 0;
}
