/* HTTP transport for the agent on src/common/httpc (HTTP/1.1 over sockets and OpenSSL, one
 * kept-alive connection, TLS session resumption, bounded parser): this file resolves names,
 * reads http_proxy/https_proxy/no_proxy as curl did, and picks out the headers ACME needs.
 * It replaced libcurl (issue 7): Debian's libcurl links GnuTLS (through librtmp), Kerberos,
 * LDAP, SASL, SSH and RTMP, whose pages were 4.5 MiB of the agent's 12.4 MiB peak RSS. */
#include "agent/acme/http.h"
#include "httpc.h"
#include "str.h"
#include "url.h"
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

volatile int http_interrupted;

#define HTTP_TIMEOUT_MS 60000 /* one whole request, as curl's CURLOPT_TIMEOUT was */
#define HTTP_MAX_ADDRS 8

struct http_client {
	struct httpc *hc;
	/* the last name resolved and its addresses, first the one that answered last */
	char host[URL_MAX_HOST + 1];
	char addrs[HTTP_MAX_ADDRS][64];
	size_t naddrs;
	/* the proxy (name and credentials) that answered 407, and what to say about it */
	char *refused_key;
	char refused_msg[512];
};

struct http_client *http_client_new(const char *ca_bundle)
{
	struct http_client *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	struct httpc_config cfg = {
	    .user_agent = "cobble/" COBBLE_VERSION, /* RFC 8555 §6.1 */
	    .tls_verify = 1,
	    .ca_file = ca_bundle,
	    .limits = {.max_body = HTTP_MAX_BODY},
	    .cancel = &http_interrupted,
	};
	h->hc = httpc_new(&cfg);
	if (!h->hc) {
		free(h);
		return NULL;
	}
	return h;
}

void http_client_free(struct http_client *h)
{
	if (!h)
		return;
	httpc_free(h->hc);
	if (h->refused_key) {
		OPENSSL_cleanse(h->refused_key, strlen(h->refused_key));
		free(h->refused_key);
	}
	free(h);
}

void http_resp_clear(struct http_resp *r)
{
	free(r->body);
	free(r->content_type);
	free(r->location);
	free(r->nonce);
	free(r->retry_after);
	for (size_t i = 0; i < r->nlinks; i++)
		free(r->links[i]);
	memset(r, 0, sizeof *r);
}

/* Addresses of host (IP literals as they are), cached for the next request. */
static int resolve(struct http_client *h, const struct url *u, char *err, size_t errlen)
{
	if (h->naddrs > 0 && strcmp(h->host, u->host) == 0)
		return 0;
	h->naddrs = 0;
	h->host[0] = '\0';
	if (u->host_type != URL_HOST_NAME) {
		snprintf(h->addrs[0], sizeof h->addrs[0], "%.63s", u->host); /* an IP literal: short */
		h->naddrs = 1;
	} else {
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		int gai = getaddrinfo(u->host, NULL, &hints, &res);
		if (gai != 0) {
			snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(gai));
			return -1;
		}
		for (struct addrinfo *a = res; a && h->naddrs < HTTP_MAX_ADDRS; a = a->ai_next) {
			char ip[64];
			if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof ip, NULL, 0, NI_NUMERICHOST) != 0)
				continue;
			int dup = 0;
			for (size_t i = 0; i < h->naddrs; i++)
				dup |= strcmp(h->addrs[i], ip) == 0;
			if (!dup)
				snprintf(h->addrs[h->naddrs++], sizeof h->addrs[0], "%s", ip);
		}
		freeaddrinfo(res);
		if (h->naddrs == 0) {
			snprintf(err, errlen, "cannot resolve %s: no address", u->host);
			return -1;
		}
	}
	snprintf(h->host, sizeof h->host, "%s", u->host);
	return 0;
}

/* no_proxy: "*" or comma-separated names; ".example.com" and "example.com" both match
 * example.com and its subdomains (as curl reads it). */
static int no_proxy_for(const char *host)
{
	const char *np = getenv("no_proxy");
	if (!np || !*np)
		np = getenv("NO_PROXY");
	if (!np)
		return 0;
	size_t hl = strlen(host);
	while (*np) {
		np += strspn(np, ", \t");
		size_t n = strcspn(np, ", \t");
		const char *e = np;
		if (n == 1 && *e == '*')
			return 1;
		if (n > 0 && *e == '.') {
			e++;
			n--;
		}
		if (n > 0 && (hl == n || (hl > n && host[hl - n - 1] == '.')) && strncasecmp(host + hl - n, e, n) == 0)
			return 1;
		np = e + n;
	}
	return 0;
}

/* The proxy a request goes through: where to connect, how to name it in messages (never
 * with the credentials), and the Proxy-Authorization value when its URL carries them. */
struct proxy {
	char addr[64];
	int port;
	const char *var;                /* the environment variable it came from */
	char name[URL_MAX_HOST + 16];   /* "http://host:port" */
	char auth[6 + 4 * ((2 * URL_MAX_USERINFO + 1 + 2) / 3) + 1]; /* "Basic ..." or "" */
};

/* The proxy for u from the environment (https_proxy / HTTPS_PROXY for https, http_proxy for
 * http, as curl reads them; its default port is 1080, as curl's). "user:password@" in its URL
 * (RFC 3986 §3.2.1, percent-decoded) becomes Basic credentials (RFC 7617) for the proxy.
 * 0 none, 1 found, -1 unusable (err, which names the variable but never quotes its value),
 * -2 its name did not resolve (which may pass). The caller wipes px->auth. */
static int proxy_for(const struct url *u, struct proxy *px, char *err, size_t errlen)
{
	int tls = strcmp(u->scheme, "https") == 0;
	px->var = tls ? "https_proxy" : "http_proxy";
	const char *v = getenv(px->var);
	if (tls && (!v || !*v)) {
		px->var = "HTTPS_PROXY";
		v = getenv(px->var);
	}
	if (!v || !*v || no_proxy_for(u->host))
		return 0;
	char s[URL_MAX_LEN], perr[160];
	const char *sep = strstr(v, "://");
	if (snprintf(s, sizeof s, "%s%s", sep ? "" : "http://", v) >= (int)sizeof s) {
		snprintf(err, errlen, "%s: the proxy URL is longer than %d bytes", px->var, URL_MAX_LEN - 1);
		return -1;
	}
	struct url p;
	struct url_userinfo ui;
	int rc = url_parse_userinfo(s, &p, &ui, perr, sizeof perr);
	OPENSSL_cleanse(s, sizeof s);
	if (rc != 0) {
		/* an '@' outside the authority: a password with '/', '?' or '#' the parser took for
		 * the path, whose characters its reason might quote */
		const char *a = sep ? sep + 3 : v;
		const char *at = strchr(v, '@');
		if (at && at >= a + strcspn(a, "/?#"))
			snprintf(perr, sizeof perr, "percent-encode '/', '?', '#' and '@' in the user name and password");
		snprintf(err, errlen, "%s: not a usable proxy URL: %s", px->var, perr);
		return -1;
	}
	int v6 = p.host_type == URL_HOST_IPV6;
	px->port = p.port_explicit ? p.port : 1080;
	snprintf(px->name, sizeof px->name, "%s://%s%s%s:%d", p.scheme, v6 ? "[" : "", p.host, v6 ? "]" : "",
	         px->port);
	if (strcmp(p.scheme, "http") != 0) {
		OPENSSL_cleanse(&ui, sizeof ui);
		snprintf(err, errlen, "%s: proxy %s: only http:// proxies are supported", px->var, px->name);
		return -1;
	}
	px->auth[0] = '\0';
	if (ui.present && httpc_basic_credentials(ui.user, ui.pass, px->auth, sizeof px->auth) < 0) {
		OPENSSL_cleanse(&ui, sizeof ui);
		snprintf(err, errlen, "%s: proxy %s: a user name with ':' cannot be sent (RFC 7617 §2)", px->var,
		         px->name);
		return -1;
	}
	OPENSSL_cleanse(&ui, sizeof ui);
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(p.host, NULL, &hints, &res);
	if (gai != 0 || getnameinfo(res->ai_addr, res->ai_addrlen, px->addr, sizeof px->addr, NULL, 0, NI_NUMERICHOST) != 0) {
		snprintf(err, errlen, "%s: proxy %s: cannot resolve %s", px->var, px->name, p.host);
		if (res)
			freeaddrinfo(res);
		OPENSSL_cleanse(px->auth, sizeof px->auth);
		return -2;
	}
	freeaddrinfo(res);
	return 1;
}

/* The one-line error for a 407 from the proxy (RFC 9110 §15.5.8); scheme is the auth-scheme
 * of its Proxy-Authenticate ("" if none). No retry: the same credentials would fail again. */
static int proxy_407(struct http_client *h, const struct proxy *px, const char *url, const char *scheme,
                     char *err, size_t errlen)
{
	char other[96] = "";
	if (*scheme && strcasecmp(scheme, "Basic") != 0)
		snprintf(other, sizeof other, " (it asks for %.32s authentication; cobble sends Basic only)", scheme);
	if (px->auth[0])
		snprintf(h->refused_msg, sizeof h->refused_msg, "proxy %s (%s) answered 407 Proxy Authentication "
		         "Required: it refused the user name and password of the proxy URL%s", px->name, px->var, other);
	else
		snprintf(h->refused_msg, sizeof h->refused_msg, "proxy %s (%s) answered 407 Proxy Authentication "
		         "Required: it wants credentials, as %s=http://USER:PASSWORD@host:port%s", px->name, px->var,
		         px->var, other);
	if (h->refused_key) {
		OPENSSL_cleanse(h->refused_key, strlen(h->refused_key));
		free(h->refused_key);
	}
	size_t kl = strlen(px->name) + strlen(px->auth) + 2;
	if ((h->refused_key = malloc(kl)) != NULL)
		snprintf(h->refused_key, kl, "%s|%s", px->name, px->auth);
	snprintf(err, errlen, "%s: %s", url, h->refused_msg);
	return HTTP_EFINAL;
}

/* 1 if px already answered 407 to these credentials (then err says so again). */
static int proxy_refused(const struct http_client *h, const struct proxy *px, const char *url, char *err,
                         size_t errlen)
{
	size_t nl = strlen(px->name);
	const char *k = h->refused_key;
	if (!k || strncmp(k, px->name, nl) != 0 || k[nl] != '|' || strcmp(k + nl + 1, px->auth) != 0)
		return 0;
	snprintf(err, errlen, "%s: %s", url, h->refused_msg);
	return 1;
}

static char *dup_header(const struct httpc_response *r, const char *name)
{
	const char *v = httpc_header(r, name);
	return v ? strdup(v) : NULL;
}

int http_request(struct http_client *h, const char *method, const char *url, const char *body,
                 struct http_resp *resp, char *err, size_t errlen)
{
	struct url u;
	char uerr[1024];
	struct proxy px;
	memset(resp, 0, sizeof *resp);
	memset(&px, 0, sizeof px);
	if (url_parse(url, &u, uerr, sizeof uerr) != 0) {
		snprintf(err, errlen, "%s: %s", url, uerr);
		return -1;
	}
	int prx = proxy_for(&u, &px, uerr, sizeof uerr);
	if (prx < 0) {
		snprintf(err, errlen, "%s: %s", url, uerr);
		return prx == -1 ? HTTP_EFINAL : -1;
	}
	if (prx && proxy_refused(h, &px, url, err, errlen)) {
		OPENSSL_cleanse(px.auth, sizeof px.auth);
		return HTTP_EFINAL;
	}
	if (!prx && resolve(h, &u, uerr, sizeof uerr) != 0) {
		snprintf(err, errlen, "%s: %s", url, uerr);
		return -1;
	}
	static const char *const post_hdrs[] = {"Content-Type: application/jose+json", NULL};
	int post = strcmp(method, "POST") == 0;
	struct httpc_request rq = {
	    .method = method,
	    .url = &u,
	    .headers = post ? post_hdrs : NULL,
	    .body = post ? (body ? body : "") : NULL,
	    .body_len = post && body ? strlen(body) : 0,
	    .timeout_ms = HTTP_TIMEOUT_MS,
	    .keep_alive = 1,
	    .proxy_addr = prx ? px.addr : NULL,
	    .proxy_port = px.port,
	    .proxy_auth = prx && px.auth[0] ? px.auth : NULL, /* RFC 9110 §11.7.1 */
	};
	struct httpc_response r;
	struct httpc_error e;
	memset(&r, 0, sizeof r);
	memset(&e, 0, sizeof e);
	int rc = -1;
	/* through a proxy the origin's address is not ours to know; else each address in turn
	 * while the connection itself fails, the one that answered first next time */
	size_t n = prx ? 1 : h->naddrs;
	for (size_t i = 0; i < n && rc != 0; i++) {
		rq.addr = prx ? NULL : h->addrs[i];
		rc = httpc_request(h->hc, &rq, &r, &e);
		if (rc == 0 && i > 0) {
			char first[64];
			memcpy(first, h->addrs[0], sizeof first);
			memcpy(h->addrs[0], h->addrs[i], sizeof first);
			memcpy(h->addrs[i], first, sizeof first);
		}
		if (rc != 0 && (e.code != HTTPC_ECONNECT || http_interrupted))
			break;
	}
	if (rc != 0) {
		int ret = -1;
		if (http_interrupted || e.code == HTTPC_ECANCEL)
			snprintf(err, errlen, "interrupted");
		else if (e.code == HTTPC_ETOOBIG)
			snprintf(err, errlen, "%s: response body larger than %d bytes", url, HTTP_MAX_BODY);
		else if (prx && e.code == HTTPC_EPROXY && e.proxy_status == 407)
			ret = proxy_407(h, &px, url, e.proxy_scheme, err, errlen);
		else if (prx && e.code == HTTPC_EPROXY && e.proxy_status)
			snprintf(err, errlen, "%s: proxy %s (%s) refused the tunnel to %s:%d with status %d", url, px.name,
			         px.var, u.host, u.port, e.proxy_status);
		else if (prx)
			snprintf(err, errlen, "%s: %s (through proxy %s from %s)", url, e.msg, px.name, px.var);
		else
			snprintf(err, errlen, "%s: %s", url, e.msg);
		OPENSSL_cleanse(px.auth, sizeof px.auth);
		return ret;
	}
	if (prx && !strcmp(u.scheme, "http") && r.status == 407) { /* the proxy's, not the server's */
		const char *ch = httpc_header(&r, "Proxy-Authenticate");
		char scheme[32];
		size_t k = ch ? strcspn(ch, " \t,") : 0;
		snprintf(scheme, sizeof scheme, "%.*s", (int)(k < sizeof scheme ? k : sizeof scheme - 1), ch ? ch : "");
		int ret = proxy_407(h, &px, url, scheme, err, errlen);
		OPENSSL_cleanse(px.auth, sizeof px.auth);
		httpc_response_clear(&r);
		return ret;
	}
	OPENSSL_cleanse(px.auth, sizeof px.auth);
	resp->status = r.status;
	resp->body = r.body ? r.body : strdup("");
	resp->body_len = r.body ? r.body_len : 0;
	r.body = NULL;
	resp->content_type = dup_header(&r, "Content-Type");
	resp->location = dup_header(&r, "Location");
	resp->nonce = dup_header(&r, "Replay-Nonce");
	resp->retry_after = dup_header(&r, "Retry-After");
	const char *links[HTTP_MAX_LINKS];
	size_t nl = httpc_header_all(&r, "Link", links, HTTP_MAX_LINKS);
	for (size_t i = 0; i < nl && i < HTTP_MAX_LINKS; i++)
		if ((resp->links[resp->nlinks] = strdup(links[i])) != NULL)
			resp->nlinks++;
	httpc_response_clear(&r);
	if (!resp->body) {
		snprintf(err, errlen, "out of memory");
		http_resp_clear(resp);
		return -1;
	}
	return 0;
}
