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
		snprintf(h->addrs[0], sizeof h->addrs[0], "%s", u->host);
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

/* The proxy for u from the environment (https_proxy / HTTPS_PROXY for https, http_proxy for
 * http, as curl reads them; its default port is 1080, as curl's): its address and port.
 * 0 none, 1 found, -1 unusable (err). */
static int proxy_for(const struct url *u, char *addr, size_t addrlen, int *port, char *err, size_t errlen)
{
	int tls = strcmp(u->scheme, "https") == 0;
	const char *v = tls ? getenv("https_proxy") : getenv("http_proxy");
	if (tls && (!v || !*v))
		v = getenv("HTTPS_PROXY");
	if (!v || !*v || no_proxy_for(u->host))
		return 0;
	char s[URL_MAX_LEN], perr[160];
	snprintf(s, sizeof s, "%s%s", strstr(v, "://") ? "" : "http://", v);
	struct url p;
	if (url_parse(s, &p, perr, sizeof perr) != 0 || strcmp(p.scheme, "http") != 0 || strchr(s + 7, '@')) {
		snprintf(err, errlen, "proxy %s: not usable (an http:// proxy without credentials is)", v);
		return -1;
	}
	*port = p.port_explicit ? p.port : 1080;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(p.host, NULL, &hints, &res);
	if (gai != 0 || getnameinfo(res->ai_addr, res->ai_addrlen, addr, (socklen_t)addrlen, NULL, 0, NI_NUMERICHOST) != 0) {
		snprintf(err, errlen, "proxy %.100s: cannot resolve %s", v, p.host);
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
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
	char uerr[512], paddr[64];
	int pport = 0;
	memset(resp, 0, sizeof *resp);
	if (url_parse(url, &u, uerr, sizeof uerr) != 0) {
		snprintf(err, errlen, "%s: %s", url, uerr);
		return -1;
	}
	int prx = proxy_for(&u, paddr, sizeof paddr, &pport, uerr, sizeof uerr);
	if (prx < 0 || (!prx && resolve(h, &u, uerr, sizeof uerr) != 0)) {
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
	    .proxy_addr = prx ? paddr : NULL,
	    .proxy_port = pport,
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
		if (http_interrupted || e.code == HTTPC_ECANCEL)
			snprintf(err, errlen, "interrupted");
		else if (e.code == HTTPC_ETOOBIG)
			snprintf(err, errlen, "%s: response body larger than %d bytes", url, HTTP_MAX_BODY);
		else
			snprintf(err, errlen, "%s: %s", url, e.msg);
		return -1;
	}
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
