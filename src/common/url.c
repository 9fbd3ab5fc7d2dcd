/* URLs (RFC 3986): a strict splitter for URI references, reference resolution (§5.2) and
 * the http/https parser the HTTP client uses to know where to connect and what to send. */
#include "url.h"
#include "str.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* The five components of a URI reference (RFC 3986 §3, split as Appendix B does). */
struct ref {
	const char *scheme, *auth, *path, *query, *frag;
	size_t scheme_len, auth_len, path_len, query_len, frag_len;
	int has_scheme, has_auth, has_query, has_frag;
};

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(int c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* unreserved / sub-delims (§2.3, §2.2) */
static int is_unres_sub(int c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("-._~!$&'()*+,;=", c));
}

/* Checks one component against its grammar: pct-encoded triplets plus the characters in
 * extra besides unreserved and sub-delims. */
static int chars_ok(const char *s, size_t n, const char *extra, const char *what, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n) {
				str_seterr(err, errlen, "truncated percent-encoding in the %s", what);
				return URL_EINVALID;
			}
			if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
				str_seterr(err, errlen, "invalid percent-encoding in the %s", what);
				return URL_EINVALID;
			}
			i += 2;
			continue;
		}
		if (is_unres_sub(c) || (c && strchr(extra, c)))
			continue;
		if (c < 0x21 || c > 0x7e)
			str_seterr(err, errlen, "byte 0x%02x is not allowed in the %s", c, what);
		else
			str_seterr(err, errlen, "'%c' is not allowed in the %s", c, what);
		return URL_EINVALID;
	}
	return 0;
}

/* Splits s (RFC 3986 Appendix B) and checks every component's characters. */
static int split(const char *s, struct ref *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	size_t n = strlen(s);
	if (n > URL_MAX_LEN) {
		str_seterr(err, errlen, "longer than %d bytes", URL_MAX_LEN);
		return URL_ETOOLONG;
	}
	size_t i = strcspn(s, ":/?#");
	if (s[i] == ':') {
		if (i == 0 || !is_alpha(s[0])) {
			str_seterr(err, errlen, "invalid scheme");
			return URL_EINVALID;
		}
		for (size_t k = 1; k < i; k++)
			if (!is_alpha(s[k]) && !is_digit(s[k]) && !strchr("+-.", s[k])) {
				/* §3.3: a relative path's first segment cannot hold ':' either */
				str_seterr(err, errlen, "invalid scheme");
				return URL_EINVALID;
			}
		r->has_scheme = 1;
		r->scheme = s;
		r->scheme_len = i;
		s += i + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		r->has_auth = 1;
		r->auth = s;
		r->auth_len = strcspn(s, "/?#");
		s += r->auth_len;
	}
	r->path = s;
	r->path_len = strcspn(s, "?#");
	s += r->path_len;
	if (*s == '?') {
		s++;
		r->has_query = 1;
		r->query = s;
		r->query_len = strcspn(s, "#");
		s += r->query_len;
	}
	if (*s == '#') {
		s++;
		r->has_frag = 1;
		r->frag = s;
		r->frag_len = strlen(s);
	}
	int rc;
	if ((r->has_auth && (rc = chars_ok(r->auth, r->auth_len, ":@[]", "authority", err, errlen)) != 0) ||
	    (rc = chars_ok(r->path, r->path_len, ":@/", "path", err, errlen)) != 0 ||
	    (r->has_query && (rc = chars_ok(r->query, r->query_len, ":@/?", "query", err, errlen)) != 0) ||
	    (r->has_frag && (rc = chars_ok(r->frag, r->frag_len, ":@/?", "fragment", err, errlen)) != 0))
		return rc;
	return 0;
}

/* A bounded output buffer: overflow sticks. */
struct out {
	char *p;
	size_t len, cap;
	int over;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->over || n >= o->cap - o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* RFC 3986 §5.2.4, appending the result to o. */
static void remove_dots(struct out *o, const char *in, size_t n)
{
	size_t start = o->len; /* the output path begins here */
	size_t i = 0;
	while (i < n && !o->over) {
		const char *p = in + i;
		size_t left = n - i;
		if (left >= 3 && memcmp(p, "../", 3) == 0) { /* A */
			i += 3;
		} else if (left >= 2 && memcmp(p, "./", 2) == 0) {
			i += 2;
		} else if (left >= 3 && memcmp(p, "/./", 3) == 0) { /* B */
			i += 2;
		} else if (left == 2 && memcmp(p, "/.", 2) == 0) {
			in = "/"; /* the input becomes "/" */
			n = 1;
			i = 0;
		} else if ((left >= 4 && memcmp(p, "/../", 4) == 0) || (left == 3 && memcmp(p, "/..", 3) == 0)) {
			/* C: drop the last output segment and its '/' */
			while (o->len > start && o->p[o->len - 1] != '/')
				o->len--;
			if (o->len > start)
				o->len--;
			o->p[o->len] = '\0';
			if (left == 3) {
				in = "/";
				n = 1;
				i = 0;
			} else {
				i += 3;
			}
		} else if ((left == 1 && p[0] == '.') || (left == 2 && memcmp(p, "..", 2) == 0)) { /* D */
			i = n;
		} else { /* E: the first segment, with its leading '/' if any */
			size_t k = p[0] == '/' ? 1 : 0;
			while (k < left && p[k] != '/')
				k++;
			put(o, p, k);
			i += k;
		}
	}
}

int url_resolve(const char *base, const char *ref, char *out, size_t outlen, char *err, size_t errlen)
{
	struct ref b, r;
	int rc;
	if (!outlen)
		return URL_ETOOLONG;
	out[0] = '\0';
	if ((rc = split(base, &b, err, errlen)) != 0)
		return rc;
	if (!b.has_scheme) {
		str_seterr(err, errlen, "the base URL is not absolute");
		return URL_EINVALID;
	}
	if ((rc = split(ref, &r, err, errlen)) != 0)
		return rc;

	struct out o = {.p = out, .cap = outlen};
	const struct ref *auth_from, *query_from;
	const struct ref *scheme_from = r.has_scheme ? &r : &b;
	put(&o, scheme_from->scheme, scheme_from->scheme_len);
	put(&o, ":", 1);
	if (r.has_scheme || r.has_auth) {
		auth_from = &r;
		query_from = &r;
	} else {
		auth_from = &b;
		query_from = (r.path_len == 0 && !r.has_query) ? &b : &r;
	}
	if (auth_from->has_auth) {
		put(&o, "//", 2);
		put(&o, auth_from->auth, auth_from->auth_len);
	}
	if (r.has_scheme || r.has_auth || (r.path_len && r.path[0] == '/')) {
		remove_dots(&o, r.path, r.path_len);
	} else if (r.path_len == 0) {
		put(&o, b.path, b.path_len); /* §5.2.2: T.path = Base.path, as it is */
	} else {
		/* §5.2.3 merge, then remove dots */
		char merged[URL_MAX_LEN * 2 + 2];
		size_t m = 0;
		if (b.has_auth && b.path_len == 0) {
			merged[m++] = '/';
		} else {
			const char *slash = NULL;
			for (size_t k = 0; k < b.path_len; k++)
				if (b.path[k] == '/')
					slash = b.path + k;
			if (slash) {
				m = (size_t)(slash - b.path) + 1;
				memcpy(merged, b.path, m);
			}
		}
		memcpy(merged + m, r.path, r.path_len);
		m += r.path_len;
		remove_dots(&o, merged, m);
	}
	if (query_from->has_query) {
		put(&o, "?", 1);
		put(&o, query_from->query, query_from->query_len);
	}
	if (r.has_frag) {
		put(&o, "#", 1);
		put(&o, r.frag, r.frag_len);
	}
	if (o.over) {
		str_seterr(err, errlen, "the resolved URL is longer than %zu bytes", outlen - 1);
		out[0] = '\0';
		return URL_ETOOLONG;
	}
	return 0;
}

int url_default_port(const char *scheme)
{
	return strcmp(scheme, "https") == 0 ? 443 : 80;
}

static int parse_port(const char *p, size_t n, int *port, char *err, size_t errlen)
{
	long v = 0;
	if (n > 5) {
		str_seterr(err, errlen, "invalid port");
		return URL_EINVALID;
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i])) {
			str_seterr(err, errlen, "invalid port");
			return URL_EINVALID;
		}
		v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > 65535) {
		str_seterr(err, errlen, "port %ld is out of range (1-65535)", v);
		return URL_EINVALID;
	}
	*port = (int)v;
	return 0;
}

/* host [ ":" port ] of an http(s) authority (§3.2.2, §3.2.3). */
static int parse_authority(const char *a, size_t n, struct url *u, char *err, size_t errlen)
{
	if (memchr(a, '@', n)) {
		str_seterr(err, errlen, "credentials (userinfo) are not accepted in URLs");
		return URL_EINVALID;
	}
	size_t hl;
	const char *rest;
	if (n && a[0] == '[') {
		const char *close = memchr(a, ']', n);
		if (!close) {
			str_seterr(err, errlen, "unterminated IPv6 literal");
			return URL_EINVALID;
		}
		size_t il = (size_t)(close - a) - 1;
		char lit[64];
		unsigned char bin[16];
		if (il && (a[1] == 'v' || a[1] == 'V')) {
			str_seterr(err, errlen, "IPvFuture addresses are not supported");
			return URL_EINVALID;
		}
		if (il == 0 || il >= sizeof lit || memchr(a + 1, '%', il)) {
			str_seterr(err, errlen, "invalid IPv6 literal");
			return URL_EINVALID;
		}
		memcpy(lit, a + 1, il);
		lit[il] = '\0';
		if (inet_pton(AF_INET6, lit, bin) != 1 || !inet_ntop(AF_INET6, bin, u->host, sizeof u->host)) {
			str_seterr(err, errlen, "invalid IPv6 literal");
			return URL_EINVALID;
		}
		u->host_type = URL_HOST_IPV6;
		rest = close + 1;
	} else {
		hl = 0;
		while (hl < n && a[hl] != ':')
			hl++;
		if (hl == 0) {
			str_seterr(err, errlen, "no host");
			return URL_EINVALID;
		}
		if (hl > URL_MAX_HOST) {
			str_seterr(err, errlen, "host name longer than %d bytes", URL_MAX_HOST);
			return URL_EINVALID;
		}
		int numeric = 1;
		for (size_t i = 0; i < hl; i++) {
			char c = a[i];
			if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') {
				str_seterr(err, errlen, "'%c' is not allowed in a host name", c);
				return URL_EINVALID;
			}
			if (!is_digit(c) && c != '.')
				numeric = 0;
			u->host[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
		}
		u->host[hl] = '\0';
		u->host_type = URL_HOST_NAME;
		if (numeric) {
			unsigned char bin[4];
			if (inet_pton(AF_INET, u->host, bin) != 1) {
				str_seterr(err, errlen, "\"%s\" is not a dotted-quad IPv4 address", u->host);
				return URL_EINVALID;
			}
			u->host_type = URL_HOST_IPV4;
		}
		rest = a + hl;
	}
	size_t rl = n - (size_t)(rest - a);
	u->port = url_default_port(u->scheme);
	u->port_explicit = 0;
	if (rl == 0)
		return 0;
	if (rest[0] != ':') {
		str_seterr(err, errlen, "unexpected characters after the host");
		return URL_EINVALID;
	}
	if (rl == 1)
		return 0; /* §3.2.3: an empty port means the default */
	u->port_explicit = 1;
	return parse_port(rest + 1, rl - 1, &u->port, err, errlen);
}

/* url_parse on an already split reference. */
static int parse_split(const struct ref *rr, struct url *u, char *err, size_t errlen)
{
	const struct ref r = *rr;
	int rc;
	if (!r.has_scheme) {
		str_seterr(err, errlen, "not an absolute URL (no scheme)");
		return URL_EINVALID;
	}
	if (r.scheme_len == 4 && strncasecmp(r.scheme, "http", 4) == 0) {
		strcpy(u->scheme, "http");
	} else if (r.scheme_len == 5 && strncasecmp(r.scheme, "https", 5) == 0) {
		strcpy(u->scheme, "https");
	} else {
		str_seterr(err, errlen, "scheme \"%.*s\" is not supported: only http and https",
		       (int)(r.scheme_len > 32 ? 32 : r.scheme_len), r.scheme);
		return URL_ESCHEME;
	}
	if (!r.has_auth) {
		str_seterr(err, errlen, "no host");
		return URL_EINVALID;
	}
	if ((rc = parse_authority(r.auth, r.auth_len, u, err, errlen)) != 0)
		return rc;
	struct out o = {.p = u->path, .cap = sizeof u->path};
	if (r.path_len == 0)
		put(&o, "/", 1);
	else
		remove_dots(&o, r.path, r.path_len);
	if (o.len == 0)
		put(&o, "/", 1); /* "http://h/.." */
	if (r.has_query) {
		put(&o, "?", 1);
		put(&o, r.query, r.query_len);
	}
	if (o.over) {
		str_seterr(err, errlen, "path longer than %zu bytes", sizeof u->path - 1);
		return URL_ETOOLONG;
	}
	return 0;
}

int url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	struct ref r;
	int rc;
	memset(u, 0, sizeof *u);
	if ((rc = split(s, &r, err, errlen)) != 0)
		return rc;
	return parse_split(&r, u, err, errlen);
}

static int hexval(int c)
{
	return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* §2.1: decodes n bytes of a userinfo part (already checked by chars_ok) into out. */
static int pct_decode(const char *s, size_t n, char *out, const char *what, char *err, size_t errlen)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			c = (unsigned char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			str_seterr(err, errlen, "the %s holds a control character", what);
			return URL_EINVALID;
		}
		if (k >= URL_MAX_USERINFO) {
			str_seterr(err, errlen, "the %s is longer than %d bytes", what, URL_MAX_USERINFO);
			return URL_ETOOLONG;
		}
		out[k++] = (char)c;
	}
	out[k] = '\0';
	return 0;
}

int url_parse_userinfo(const char *s, struct url *u, struct url_userinfo *ui, char *err, size_t errlen)
{
	struct ref r;
	int rc;
	memset(u, 0, sizeof *u);
	memset(ui, 0, sizeof *ui);
	/* split() would name a character it refuses, which may be the password's: find the
	 * userinfo first and check it with messages that do not quote it. */
	size_t sl = strcspn(s, ":/?#");
	if (s[sl] == ':' && s[sl + 1] == '/' && s[sl + 2] == '/') {
		const char *a = s + sl + 3;
		size_t al = strcspn(a, "/?#");
		const char *at = memchr(a, '@', al);
		if (at) {
			size_t ul = (size_t)(at - a);
			if (memchr(at + 1, '@', al - ul - 1)) {
				str_seterr(err, errlen, "an '@' in the user name or password must be written %%40");
				return URL_EINVALID;
			}
			if (chars_ok(a, ul, ":", "userinfo", NULL, 0) != 0) {
				str_seterr(err, errlen,
				       "the user name or password holds a character that must be percent-encoded");
				return URL_EINVALID;
			}
			const char *colon = memchr(a, ':', ul);
			size_t userl = colon ? (size_t)(colon - a) : ul;
			ui->present = 1;
			if ((rc = pct_decode(a, userl, ui->user, "user name", err, errlen)) != 0 ||
			    (colon && (rc = pct_decode(colon + 1, ul - userl - 1, ui->pass, "password", err, errlen)) != 0)) {
				memset(ui, 0, sizeof *ui);
				return rc;
			}
		}
	}
	if ((rc = split(s, &r, err, errlen)) != 0)
		goto fail;
	if (ui->present && r.has_auth) { /* the host and port follow the '@' (§3.2) */
		const char *at = memchr(r.auth, '@', r.auth_len);
		if (at) {
			r.auth_len -= (size_t)(at + 1 - r.auth);
			r.auth = at + 1;
		}
	}
	if ((rc = parse_split(&r, u, err, errlen)) != 0)
		goto fail;
	return 0;
fail:
	memset(ui, 0, sizeof *ui);
	return rc;
}

int url_host_header(const struct url *u, char *out, size_t outlen)
{
	int v6 = u->host_type == URL_HOST_IPV6;
	int n;
	if (u->port != url_default_port(u->scheme))
		n = snprintf(out, outlen, "%s%s%s:%d", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
	else
		n = snprintf(out, outlen, "%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "");
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

int url_format(const struct url *u, char *out, size_t outlen)
{
	char hp[URL_MAX_HOST + 16];
	if (url_host_header(u, hp, sizeof hp) < 0)
		return -1;
	int n = snprintf(out, outlen, "%s://%s%s", u->scheme, hp, u->path);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}
