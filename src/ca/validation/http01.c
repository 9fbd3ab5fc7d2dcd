/* http-01 validation (RFC 8555 §8.3): fetch the key authorization from the CA's vantage point.
 * We resolve and vet every address ourselves and connect only to it; redirects are followed by hand. */
#include "http01.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "httpc.h"
#include "log.h"
#include "netpolicy.h"
#include "url.h"

#define HTTP01_MAX_BODY 8192    /* Let's Encrypt reads no more than a few KiB either */
#define HTTP01_MAX_REDIRECTS 10 /* design.md §4 */
#define HTTP01_MAX_LOCATION 2048
#define HTTP01_DEFAULT_TIMEOUT_MS 10000
#define HTTP01_SHOW_BODY 64     /* bytes of a wrong body quoted in the problem */
#define HTTP01_MAX_HEADERS 100  /* header fields in one response */
#define HTTP01_MAX_LINE 8192    /* bytes in one header field line */
#define CHALLENGE_PATH "/.well-known/acme-challenge/" /* RFC 8555 §8.3 */

/* One fetch of one URL at one address. */
struct fetch {
	int ok;                 /* an HTTP response arrived */
	int status;
	char *location;         /* Location header of a redirect, malloc'd */
	struct httpc_response resp;
	struct httpc_error err;
};

static void fetch_clear(struct fetch *f)
{
	free(f->location);
	httpc_response_clear(&f->resp);
	memset(f, 0, sizeof *f);
}

static int ip_family(const char *s, unsigned char bin[16])
{
	if (inet_pton(AF_INET, s, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, bin) == 1)
		return AF_INET6;
	return 0;
}

static int token_ok(const char *t)
{
	if (!t || !*t || strlen(t) > 256)
		return 0;
	for (; *t; t++)
		if (!(((*t | 0x20) >= 'a' && (*t | 0x20) <= 'z') || (*t >= '0' && *t <= '9') || *t == '-' ||
		      *t == '_'))
			return 0; /* base64url alphabet, RFC 8555 §8.1 */
	return 1;
}

/* At most max input bytes, as printable ASCII with C-style escapes. */
static void escape_body(const char *in, size_t len, size_t max, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)in[i];
		char tmp[5];
		if (c == '"' || c == '\\')
			snprintf(tmp, sizeof tmp, "\\%c", c);
		else if (c == '\n')
			snprintf(tmp, sizeof tmp, "\\n");
		else if (c == '\r')
			snprintf(tmp, sizeof tmp, "\\r");
		else if (c == '\t')
			snprintf(tmp, sizeof tmp, "\\t");
		else if (c >= 0x20 && c < 0x7f)
			snprintf(tmp, sizeof tmp, "%c", c);
		else
			snprintf(tmp, sizeof tmp, "\\x%02x", c);
		size_t tl = strlen(tmp);
		if (o + tl + 4 >= outlen)
			break;
		memcpy(out + o, tmp, tl);
		o += tl;
	}
	if (len > max && o + 3 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void fetch_one(struct httpc *hc, const struct va_settings *set, const struct url *u, const char *addr,
                      struct fetch *f)
{
	fetch_clear(f);
	/* Never resolve the name again (design.md §6): connect to the address we vetted. */
	struct httpc_request req = {
		.method = "GET",
		.url = u,
		.addr = addr,
		.timeout_ms = set->timeout_ms > 0 ? set->timeout_ms : HTTP01_DEFAULT_TIMEOUT_MS,
	};
	if (httpc_request(hc, &req, &f->resp, &f->err) != 0)
		return;
	f->ok = 1;
	f->status = f->resp.status;
	const char *loc = httpc_header(&f->resp, "Location");
	if (loc)
		f->location = strndup(loc, HTTP01_MAX_LOCATION + 1);
}

static struct problem *fetch_problem(const struct fetch *f, const char *url, const char *addr, int port,
                                     int timeout_ms)
{
	const char *why = f->err.msg[0] ? f->err.msg : "unknown error";
	switch (f->err.code) {
	case HTTPC_ETOOBIG:
		return problem_new("unauthorized", 403, "Invalid response from %s: the body is larger than %d bytes",
		                   url, HTTP01_MAX_BODY);
	case HTTPC_ECONNECT:
		return problem_new("connection", 400, "%s: Fetching %s: connection to %s port %d failed: %s",
		                   addr, url, addr, port, why);
	case HTTPC_ETIMEOUT:
		return problem_new("connection", 400,
		                   "%s: Fetching %s: timeout after %d ms %s %s port %d (likely a firewall "
		                   "problem)", addr, url, timeout_ms,
		                   f->err.connected ? "waiting for the response from" : "connecting to", addr, port);
	case HTTPC_ETLS:
		return problem_new("connection", 400, "%s: Fetching %s: TLS handshake with %s port %d failed: %s", addr,
		                   url, addr, port, why);
	case HTTPC_EPROTO:
		return problem_new("connection", 400, "%s: Fetching %s: invalid HTTP response: %s", addr, url, why);
	case HTTPC_ENOMEM:
	case HTTPC_EARG:
		return problem_new("serverInternal", 500, "Fetching %s: %s", url, why);
	default:
		break;
	}
	return problem_new("connection", 400, "%s: Fetching %s: %s", addr, url, why);
}

/* One hop: resolve, vet, fetch. Appends its validationRecord entry to records. Returns 0 with
 * f filled for the address used, or -1 with *prob. */
static int do_hop(struct httpc *hc, const struct va_settings *set, struct resolver *r, const struct url *u,
                  json_t *records, struct fetch *f, char **url_out, struct problem **prob)
{
	char url[URL_MAX_LEN + URL_MAX_HOST + 32], portstr[8];
	int ret = -1;
	json_t *rec = json_object(), *resolved = json_array(), *tried = json_array();
	if (!rec || !resolved || !tried || url_format(u, url, sizeof url) < 0) {
		*prob = problem_new("serverInternal", 500, "could not build the validation URL");
		goto out;
	}
	int port = u->port;
	snprintf(portstr, sizeof portstr, "%d", port);
	const char *hostname = u->host; /* IPv6 literals without brackets */
	json_object_set_new(rec, "url", json_string(url));
	json_object_set_new(rec, "hostname", json_string(hostname));
	json_object_set_new(rec, "port", json_string(portstr));
	json_object_set(rec, "addressesResolved", resolved);
	json_array_append(records, rec);

	char addrs[RESOLVER_MAX_ADDRS][RESOLVER_ADDR_LEN];
	size_t naddrs = 0;
	unsigned char bin[16];
	int fam = ip_family(hostname, bin);
	int host_is_ip = fam != 0;
	if (host_is_ip) {
		if (!inet_ntop(fam, bin, addrs[0], sizeof addrs[0])) {
			*prob = problem_new("serverInternal", 500, "could not format %s", hostname);
			goto out;
		}
		naddrs = 1;
	} else if (!r) {
		*prob = problem_new("dns", 400, "DNS problem: no resolver configured to look up %s", hostname);
		goto out;
	} else if (resolver_addrs(r, hostname, addrs, RESOLVER_MAX_ADDRS, &naddrs, prob) != 0) {
		goto out;
	}
	for (size_t i = 0; i < naddrs; i++)
		json_array_append_new(resolved, json_string(addrs[i]));

	const char *cand[2];
	if (netpolicy_pick(hostname, host_is_ip != 0, addrs, naddrs, set->lab, cand, prob) != 0)
		goto out;

	int timeout = set->timeout_ms > 0 ? set->timeout_ms : HTTP01_DEFAULT_TIMEOUT_MS;
	for (int i = 0; i < 2; i++) {
		if (!cand[i])
			continue;
		fetch_one(hc, set, u, cand[i], f);
		int next = i == 0 && cand[1];
		if (f->ok) {
			json_object_set_new(rec, "addressUsed", json_string(cand[i]));
			if (json_array_size(tried))
				json_object_set(rec, "addressesTried", tried);
			ret = 0;
			break;
		}
		int no_connect = f->err.code == HTTPC_ECONNECT || (f->err.code == HTTPC_ETIMEOUT && !f->err.connected);
		if (next && no_connect) {
			log_info("http-01: %s unreachable over IPv6 (%s), trying IPv4 %s", hostname, f->err.msg,
			         cand[1]);
			json_array_append_new(tried, json_string(cand[i]));
			continue;
		}
		json_object_set_new(rec, "addressUsed", json_string(cand[i]));
		if (json_array_size(tried))
			json_object_set(rec, "addressesTried", tried);
		*prob = fetch_problem(f, url, cand[i], port, timeout);
		break;
	}
out:
	if (ret == 0)
		*url_out = strdup(url);
	json_decref(rec);
	json_decref(resolved);
	json_decref(tried);
	return ret;
}

/* Moves u to the redirect target if it is allowed (design.md §4), else sets *prob. */
static int follow(const struct va_settings *set, struct url *u, const char *from, const char *location,
                  struct problem **prob)
{
	char target[URL_MAX_LEN], why[160];
	if (strlen(location) > HTTP01_MAX_LOCATION) {
		*prob = problem_new("connection", 400, "Fetching %s: redirect target longer than %d bytes", from,
		                    HTTP01_MAX_LOCATION);
		return -1;
	}
	struct url *next = malloc(sizeof *next);
	if (!next) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		return -1;
	}
	/* RFC 9110 §10.2.2: a relative reference resolves against the URL that was fetched. */
	int uc = url_resolve(from, location, target, sizeof target, why, sizeof why);
	if (uc == 0)
		uc = url_parse(target, next, why, sizeof why);
	if (uc == URL_ESCHEME) {
		*prob = problem_new("connection", 400,
		                    "Fetching %s: invalid scheme in redirect target \"%.200s\": only http and "
		                    "https are allowed", from, location);
		goto fail;
	}
	if (uc != 0) {
		*prob = problem_new("connection", 400, "Fetching %s: invalid redirect target \"%.200s\": %s",
		                    from, location, why);
		goto fail;
	}
	int https = strcmp(next->scheme, "https") == 0;
	int std = https ? 443 : 80;
	int test = https ? set->tlsalpn01_port : set->http01_port;
	if (test <= 0)
		test = std;
	/* No port in the target: the scheme's port, which in a test setup is the configured one (the
	 * test ports stand for 80/443). */
	if (!next->port_explicit)
		next->port = test;
	int p = next->port;
	if (p != std && p != test) {
		if (test != std)
			*prob = problem_new("connection", 400,
			                    "Fetching %s: invalid port in redirect target \"%.200s\": only %s on "
			                    "port %d or %d is allowed, not %d", from, location, next->scheme, std, test, p);
		else
			*prob = problem_new("connection", 400,
			                    "Fetching %s: invalid port in redirect target \"%.200s\": only ports 80 "
			                    "(http) and 443 (https) are allowed, not %d", from, location, p);
		goto fail;
	}
	*u = *next;
	free(next);
	return 0;
fail:
	free(next);
	return -1;
}

int http01_validate(const struct va_settings *set, struct resolver *r, const char *name,
                    const char *token, const char *keyauth, json_t **record,
                    struct problem **prob)
{
	int ret = -1;
	char *url = NULL;
	struct url *u = malloc(sizeof *u);
	struct fetch f = {0};
	/* Certificates are not checked on https redirects, like Let's Encrypt: the key
	 * authorization is what proves control. */
	struct httpc_config hcfg = {
		.user_agent = "cobbled-va",
		.tls_verify = 0,
		.limits = {.max_headers = HTTP01_MAX_HEADERS, .max_line = HTTP01_MAX_LINE, .max_body = HTTP01_MAX_BODY},
	};
	struct httpc *hc = httpc_new(&hcfg);
	*prob = NULL;
	*record = json_array();
	if (!u || !hc || !*record) {
		*prob = problem_new("serverInternal", 500, "out of memory");
		goto out;
	}
	if (!name || !*name || strlen(name) > 253 || !token_ok(token) || !keyauth) {
		*prob = problem_new("serverInternal", 500, "http-01: invalid name or token");
		goto out;
	}

	unsigned char bin[16];
	int v6 = ip_family(name, bin) == AF_INET6;
	int port = set->http01_port > 0 ? set->http01_port : 80;
	char start[512];
	char portpart[16] = "";
	if (port != 80)
		snprintf(portpart, sizeof portpart, ":%d", port);
	snprintf(start, sizeof start, "http://%s%s%s%s" CHALLENGE_PATH "%s", v6 ? "[" : "", name,
	         v6 ? "]" : "", portpart, token);
	char why[160];
	if (url_parse(start, u, why, sizeof why) != 0) {
		*prob = problem_new("malformed", 400, "%s is not a name the CA can fetch from", name);
		goto out;
	}

	for (int hop = 0;; hop++) {
		free(url);
		url = NULL;
		if (do_hop(hc, set, r, u, *record, &f, &url, prob) != 0)
			goto out;
		int st = f.status;
		if (st == 301 || st == 302 || st == 303 || st == 307 || st == 308) {
			if (!f.location || !*f.location) {
				*prob = problem_new("unauthorized", 403,
				                    "Invalid response from %s: %d redirect without a Location", url, st);
				goto out;
			}
			if (hop >= HTTP01_MAX_REDIRECTS) {
				*prob = problem_new("connection", 400, "Fetching %s: too many redirects (more than %d)",
				                    url, HTTP01_MAX_REDIRECTS);
				goto out;
			}
			if (follow(set, u, url, f.location, prob) != 0)
				goto out;
			continue;
		}
		if (st != 200) {
			*prob = problem_new("unauthorized", 403, "Invalid response from %s: %d", url, st);
			goto out;
		}
		break;
	}

	/* RFC 8555 §8.3: the body may carry trailing whitespace. */
	const char *b = f.resp.body ? f.resp.body : "";
	size_t len = f.resp.body_len;
	while (len && (b[len - 1] == ' ' || b[len - 1] == '\t' || b[len - 1] == '\r' || b[len - 1] == '\n'))
		len--;
	if (len != strlen(keyauth) || memcmp(b, keyauth, len) != 0) {
		char got[HTTP01_SHOW_BODY * 4 + 8];
		escape_body(b, len, HTTP01_SHOW_BODY, got, sizeof got);
		*prob = problem_new("incorrectResponse", 403,
		                    "The key authorization file from %s did not match this challenge. "
		                    "Expected \"%s\" (got \"%s\")", url, keyauth, got);
		goto out;
	}
	ret = 0;
out:
	free(url);
	fetch_clear(&f);
	httpc_free(hc);
	free(u);
	return ret;
}
