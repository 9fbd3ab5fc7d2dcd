/* Identifier policy: LDH syntax, valid A-labels only, length limits, suffix allow/deny lists.
 * Names are compared in lower case; a refusal names the identifier and the rule it broke. */
#include "policy.h"
#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

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
	if (*wildcard) {
		/* RFC 8555 §7.1.3: wildcards need dns-01 (§8.4), which this CA does not offer yet. */
		*prob = problem_new("rejectedIdentifier", 400,
		                    "wildcard identifier \"%s\" needs dns-01 validation, which this CA does not "
		                    "offer yet",
		                    name);
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
