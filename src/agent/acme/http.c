/* HTTP transport over libcurl: bounded bodies, header capture, and interruption by signal
 * so that a Ctrl-C during a request still reaches the solvers' clean-up. */
#include "agent/acme/http.h"
#include "str.h"
#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile int http_interrupted;

struct http_client {
	CURL *curl;
	char *ca_bundle;
};

struct sink {
	struct http_resp *r;
	size_t cap;
	int too_big;
};

struct http_client *http_client_new(const char *ca_bundle)
{
	static int inited;
	if (!inited) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return NULL;
		inited = 1;
	}
	struct http_client *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->curl = curl_easy_init();
	if (ca_bundle)
		h->ca_bundle = strdup(ca_bundle);
	if (!h->curl || (ca_bundle && !h->ca_bundle)) {
		http_client_free(h);
		return NULL;
	}
	return h;
}

void http_client_free(struct http_client *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	free(h->ca_bundle);
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

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;
	struct http_resp *r = s->r;
	if (r->body_len + len > HTTP_MAX_BODY) {
		s->too_big = 1;
		return 0;
	}
	if (r->body_len + len + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < r->body_len + len + 1)
			cap *= 2;
		char *nb = realloc(r->body, cap);
		if (!nb)
			return 0;
		r->body = nb;
		s->cap = cap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

/* Copies a header value with surrounding whitespace removed. */
static char *header_value(const char *v, size_t len)
{
	while (len > 0 && isspace((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)v[len - 1]))
		len--;
	return str_copy(v, len);
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct http_resp *r = ((struct sink *)ud)->r;
	size_t len = size * n;
	const char *colon = memchr(data, ':', len);
	if (!colon) {
		/* A new status line (after a 100 Continue or redirect) starts a fresh header set. */
		if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
			free(r->location);
			r->location = NULL;
			for (size_t i = 0; i < r->nlinks; i++)
				free(r->links[i]);
			r->nlinks = 0;
		}
		return len;
	}
	size_t nlen = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vlen = len - nlen - 1;
	char **slot = NULL;
	if (nlen == 12 && strncasecmp(data, "Replay-Nonce", 12) == 0)
		slot = &r->nonce;
	else if (nlen == 8 && strncasecmp(data, "Location", 8) == 0)
		slot = &r->location;
	else if (nlen == 11 && strncasecmp(data, "Retry-After", 11) == 0)
		slot = &r->retry_after;
	else if (nlen == 12 && strncasecmp(data, "Content-Type", 12) == 0)
		slot = &r->content_type;
	else if (nlen == 4 && strncasecmp(data, "Link", 4) == 0) {
		if (r->nlinks < HTTP_MAX_LINKS)
			r->links[r->nlinks++] = header_value(v, vlen);
		return len;
	}
	if (slot) {
		free(*slot);
		*slot = header_value(v, vlen);
	}
	return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)ud;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return http_interrupted ? 1 : 0;
}

int http_request(struct http_client *h, const char *method, const char *url, const char *body,
                 struct http_resp *resp, char *err, size_t errlen)
{
	CURL *c = h->curl;
	struct sink s = {.r = resp};
	struct curl_slist *hdrs = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	memset(resp, 0, sizeof *resp);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cobble/" COBBLE_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY);
	if (h->ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? strlen(body) : 0));
	}
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		if (s.too_big)
			snprintf(err, errlen, "%s: response body larger than %d bytes", url, HTTP_MAX_BODY);
		else if (http_interrupted)
			snprintf(err, errlen, "interrupted");
		else
			snprintf(err, errlen, "%s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
		http_resp_clear(resp);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (!resp->body) {
		resp->body = strdup("");
		if (!resp->body) {
			snprintf(err, errlen, "out of memory");
			http_resp_clear(resp);
			return -1;
		}
	}
	return 0;
}
