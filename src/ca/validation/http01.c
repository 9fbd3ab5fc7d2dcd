/* http-01 validation (RFC 8555 §8.3): fetch the key authorization from the CA's vantage point.
 * We resolve and vet every address ourselves and pin curl to it; redirects are followed by hand. */
#include "http01.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "netpolicy.h"

#define HTTP01_MAX_BODY 8192    /* Let's Encrypt reads no more than a few KiB either */
#define HTTP01_MAX_REDIRECTS 10 /* design.md §4 */
#define HTTP01_MAX_LOCATION 2048
#define HTTP01_DEFAULT_TIMEOUT_MS 10000
#define HTTP01_SHOW_BODY 64     /* bytes of a wrong body quoted in the problem */
#define CHALLENGE_PATH "/.well-known/acme-challenge/" /* RFC 8555 §8.3 */

struct body {
	char buf[HTTP01_MAX_BODY];
	size_t len;
	int too_big;
};

/* One fetch of one URL at one address. */
struct fetch {
	CURLcode rc;
	long status;
	int connected;      /* a TCP connection was made */
	char *location;     /* Location header of a redirect, malloc'd */
	char errbuf[CURL_ERROR_SIZE];
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	if (n > sizeof b->buf - b->len) {
		b->too_big = 1;
		return 0; /* short write: curl aborts with CURLE_WRITE_ERROR */
	}
	memcpy(b->buf + b->len, ptr, n);
	b->len += n;
	return n;
}

static int ip_family(const char *s, unsigned char bin[16])
{
	if (inet_pton(AF_INET, s, bin) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, bin) == 1)
		return AF_INET6;
	return 0;
}

static int same_ip(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int fa = ip_family(a, x), fb = ip_family(b, y);
	return fa && fa == fb && memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
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

static void fetch_one(const struct va_settings *set, const char *url, const char *host, int port,
                      const char *addr, int host_is_ip, int https, struct body *body, struct fetch *f)
{
	struct curl_slist *pin = NULL;
	CURL *c = curl_easy_init();
	memset(f, 0, sizeof *f);
	body->len = 0;
	body->too_big = 0;
	if (!c) {
		f->rc = CURLE_OUT_OF_MEMORY;
		snprintf(f->errbuf, sizeof f->errbuf, "out of memory");
		return;
	}
	int timeout = set->timeout_ms > 0 ? set->timeout_ms : HTTP01_DEFAULT_TIMEOUT_MS;
	if (!host_is_ip) {
		/* curl must never resolve the name itself (design.md §6): pin it to the address we
		 * resolved and vetted. */
		char rule[512];
		int v6 = strchr(addr, ':') != NULL;
		snprintf(rule, sizeof rule, "%s:%d:%s%s%s", host, port, v6 ? "[" : "", addr, v6 ? "]" : "");
		pin = curl_slist_append(NULL, rule);
		curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* ignore http_proxy and friends */
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cobbled-va");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP01_MAX_BODY);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->errbuf);
	if (https) {
		/* Like Let's Encrypt: a redirect to https is followed without checking the
		 * certificate; the key authorization is what proves control. */
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	f->rc = curl_easy_perform(c);

	char *primary = NULL;
	if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &primary) == CURLE_OK && primary && *primary)
		f->connected = 1;
	if (f->connected && !same_ip(primary, addr)) {
		/* Cannot happen with the pin in place; refuse rather than trust another address. */
		log_error("http-01: curl connected to %s instead of pinned %s", primary, addr);
		f->rc = CURLE_COULDNT_CONNECT;
		snprintf(f->errbuf, sizeof f->errbuf, "connected to an address other than %s", addr);
		goto out;
	}
	if (f->rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
		struct curl_header *h = NULL;
		if (curl_easy_header(c, "Location", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h && h->value)
			f->location = strndup(h->value, HTTP01_MAX_LOCATION + 1);
	}
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(pin);
}

static struct problem *fetch_problem(const struct fetch *f, const char *url, const char *addr, int port,
                                     int timeout_ms, const struct body *body)
{
	const char *why = f->errbuf[0] ? f->errbuf : curl_easy_strerror(f->rc);
	switch (f->rc) {
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (body->too_big || f->rc == CURLE_FILESIZE_EXCEEDED)
			return problem_new("unauthorized", 403,
			                   "Invalid response from %s: the body is larger than %d bytes", url,
			                   HTTP01_MAX_BODY);
		break;
	case CURLE_COULDNT_CONNECT:
		return problem_new("connection", 400, "%s: Fetching %s: connection to %s port %d failed: %s",
		                   addr, url, addr, port, why);
	case CURLE_OPERATION_TIMEDOUT:
		return problem_new("connection", 400,
		                   "%s: Fetching %s: timeout after %d ms %s %s port %d (likely a firewall "
		                   "problem)", addr, url, timeout_ms,
		                   f->connected ? "waiting for the response from" : "connecting to", addr, port);
	case CURLE_SSL_CONNECT_ERROR:
		return problem_new("connection", 400, "%s: Fetching %s: TLS handshake with %s port %d failed: %s", addr,
		                   url, addr, port, why);
	default:
		break;
	}
	return problem_new("connection", 400, "%s: Fetching %s: %s", addr, url, why);
}

/* One hop: resolve, vet, fetch. Appends its validationRecord entry to records. Returns 0 with
 * f filled for the address used, or -1 with *prob. */
static int do_hop(const struct va_settings *set, struct resolver *r, CURLU *u, json_t *records,
                  struct body *body, struct fetch *f, char **url_out, struct problem **prob)
{
	char *url = NULL, *scheme = NULL, *host = NULL, *portstr = NULL;
	int ret = -1;
	json_t *rec = json_object(), *resolved = json_array(), *tried = json_array();
	if (!rec || !resolved || !tried ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &portstr, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		*prob = problem_new("serverInternal", 500, "could not build the validation URL");
		goto out;
	}
	int port = atoi(portstr);
	int https = strcmp(scheme, "https") == 0;
	/* The URL API keeps IPv6 literals bracketed. */
	char hostname[256];
	size_t hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']')
		snprintf(hostname, sizeof hostname, "%.*s", (int)(hl - 2), host + 1);
	else
		snprintf(hostname, sizeof hostname, "%s", host);
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
		fetch_one(set, url, hostname, port, cand[i], host_is_ip, https, body, f);
		int next = i == 0 && cand[1];
		if (f->rc == CURLE_OK) {
			json_object_set_new(rec, "addressUsed", json_string(cand[i]));
			if (json_array_size(tried))
				json_object_set(rec, "addressesTried", tried);
			ret = 0;
			break;
		}
		int no_connect = f->rc == CURLE_COULDNT_CONNECT ||
		                 (f->rc == CURLE_OPERATION_TIMEDOUT && !f->connected);
		if (next && no_connect) {
			log_info("http-01: %s unreachable over IPv6 (%s), trying IPv4 %s", hostname, f->errbuf,
			         cand[1]);
			json_array_append_new(tried, json_string(cand[i]));
			free(f->location);
			f->location = NULL;
			continue;
		}
		json_object_set_new(rec, "addressUsed", json_string(cand[i]));
		if (json_array_size(tried))
			json_object_set(rec, "addressesTried", tried);
		*prob = fetch_problem(f, url, cand[i], port, timeout, body);
		break;
	}
out:
	if (ret == 0)
		*url_out = strdup(url);
	json_decref(rec);
	json_decref(resolved);
	json_decref(tried);
	curl_free(url);
	curl_free(scheme);
	curl_free(host);
	curl_free(portstr);
	return ret;
}

/* Moves u to the redirect target if it is allowed (design.md §4), else sets *prob. */
static int follow(const struct va_settings *set, CURLU *u, const char *from, const char *location,
                  struct problem **prob)
{
	char *scheme = NULL, *port = NULL;
	int ret = -1;
	CURLU *next = NULL;
	if (strlen(location) > HTTP01_MAX_LOCATION) {
		*prob = problem_new("connection", 400, "Fetching %s: redirect target longer than %d bytes", from,
		                    HTTP01_MAX_LOCATION);
		goto out;
	}
	next = curl_url_dup(u); /* relative references resolve against the current URL */
	CURLUcode uc = next ? curl_url_set(next, CURLUPART_URL, location, CURLU_NON_SUPPORT_SCHEME)
	                    : CURLUE_OUT_OF_MEMORY;
	if (uc != CURLUE_OK) {
		*prob = problem_new("connection", 400, "Fetching %s: invalid redirect target \"%.200s\": %s",
		                    from, location, curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(next, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		scheme = NULL;
	if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		*prob = problem_new("connection", 400,
		                    "Fetching %s: invalid scheme in redirect target \"%.200s\": only http and "
		                    "https are allowed", from, location);
		goto out;
	}
	int https = strcmp(scheme, "https") == 0;
	int std = https ? 443 : 80;
	int test = https ? set->tlsalpn01_port : set->http01_port;
	if (test <= 0)
		test = std;
	long p;
	if (curl_url_get(next, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
		p = strtol(port, NULL, 10);
	} else {
		/* No port in the target: the scheme's port, which in a test setup is the configured
		 * one (the test ports stand for 80/443). */
		p = test;
		if (test != std) {
			char buf[16];
			snprintf(buf, sizeof buf, "%d", test);
			curl_url_set(next, CURLUPART_PORT, buf, 0);
		}
	}
	if (p != std && p != test) {
		if (test != std)
			*prob = problem_new("connection", 400,
			                    "Fetching %s: invalid port in redirect target \"%.200s\": only %s on "
			                    "port %d or %d is allowed, not %ld", from, location, scheme, std, test, p);
		else
			*prob = problem_new("connection", 400,
			                    "Fetching %s: invalid port in redirect target \"%.200s\": only ports 80 "
			                    "(http) and 443 (https) are allowed, not %ld", from, location, p);
		goto out;
	}
	/* Adopt the target. */
	char *s = NULL;
	if (curl_url_get(next, CURLUPART_URL, &s, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
		curl_free(s);
		*prob = problem_new("serverInternal", 500, "could not follow the redirect to %.200s", location);
		goto out;
	}
	curl_free(s);
	ret = 0;
out:
	curl_url_cleanup(next);
	curl_free(scheme);
	curl_free(port);
	return ret;
}

int http01_validate(const struct va_settings *set, struct resolver *r, const char *name,
                    const char *token, const char *keyauth, json_t **record,
                    struct problem **prob)
{
	int ret = -1;
	char *url = NULL;
	CURLU *u = curl_url();
	struct body *body = calloc(1, sizeof *body);
	struct fetch f = {0};
	*prob = NULL;
	*record = json_array();
	if (!u || !body || !*record) {
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
	if (curl_url_set(u, CURLUPART_URL, start, 0) != CURLUE_OK) {
		*prob = problem_new("malformed", 400, "%s is not a name the CA can fetch from", name);
		goto out;
	}

	for (int hop = 0;; hop++) {
		free(url);
		url = NULL;
		free(f.location);
		f.location = NULL;
		if (do_hop(set, r, u, *record, body, &f, &url, prob) != 0)
			goto out;
		long st = f.status;
		if (st == 301 || st == 302 || st == 303 || st == 307 || st == 308) {
			if (!f.location || !*f.location) {
				*prob = problem_new("unauthorized", 403,
				                    "Invalid response from %s: %ld redirect without a Location", url, st);
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
			*prob = problem_new("unauthorized", 403, "Invalid response from %s: %ld", url, st);
			goto out;
		}
		break;
	}

	/* RFC 8555 §8.3: the body may carry trailing whitespace. */
	size_t len = body->len;
	while (len && (body->buf[len - 1] == ' ' || body->buf[len - 1] == '\t' ||
	               body->buf[len - 1] == '\r' || body->buf[len - 1] == '\n'))
		len--;
	if (len != strlen(keyauth) || memcmp(body->buf, keyauth, len) != 0) {
		char got[HTTP01_SHOW_BODY * 4 + 8];
		escape_body(body->buf, len, HTTP01_SHOW_BODY, got, sizeof got);
		*prob = problem_new("incorrectResponse", 403,
		                    "The key authorization file from %s did not match this challenge. "
		                    "Expected \"%s\" (got \"%s\")", url, keyauth, got);
		goto out;
	}
	ret = 0;
out:
	free(url);
	free(f.location);
	free(body);
	curl_url_cleanup(u);
	return ret;
}
