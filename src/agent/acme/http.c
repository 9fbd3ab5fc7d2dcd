/* HTTP/1.1 client over OpenSSL for the agent's conversation with one ACME server (RFC 8555
 * §6.1: HTTPS, User-Agent). One kept-alive connection per client, TLS session resumption
 * when it has to reconnect, bounded heads, bodies and chunk lines, http_proxy/https_proxy
 * (CONNECT) from the environment, and interruption by signal so that a Ctrl-C during a
 * request still reaches the solvers' clean-up.
 *
 * It replaced libcurl (issue 7): Debian's libcurl links GnuTLS (through librtmp), Kerberos,
 * LDAP, SASL, SSH, RTMP, brotli and zstd, whose pages were 4.5 MB of the agent's 12 MB
 * peak RSS, for the three request shapes ACME needs. */
#include "agent/acme/http.h"
#include "str.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

volatile int http_interrupted;

#define HTTP_CONNECT_TIMEOUT_MS 15000
#define HTTP_TIMEOUT_MS 60000     /* one whole request, as curl's CURLOPT_TIMEOUT was */
#define HTTP_BUF 65536            /* read buffer; also the largest response head */
#define HTTP_MAX_LINE 1024        /* chunk-size and trailer lines */
#define HTTP_MAX_HOST 255

struct conn {
	int fd;   /* -1: none */
	SSL *ssl; /* NULL for plain http */
	char key[HTTP_MAX_HOST * 2 + 64]; /* where it goes: scheme, host, port, proxy */
	size_t off, len;                  /* unread bytes are buf[off, len) */
	char buf[HTTP_BUF];
};

struct http_client {
	SSL_CTX *ctx; /* made at the first https request */
	char *ca_bundle;
	SSL_SESSION *sess; /* for resumption when the connection has to be reopened */
	char sess_key[sizeof ((struct conn *)0)->key];
	struct conn c;
};

struct target {
	int tls;
	char host[HTTP_MAX_HOST + 1]; /* without brackets */
	char port[8];
	const char *path; /* from the URL: "/..." (never empty: "/" when the URL has none) */
};

/* ---- time and waiting ---- */

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline, in slices so that http_interrupted is noticed.
 * 0 ready, -1 with err set (timeout or interrupted). */
static int wait_fd(int fd, short events, long deadline, char *err, size_t errlen)
{
	for (;;) {
		if (http_interrupted) {
			snprintf(err, errlen, "interrupted");
			return -1;
		}
		long left = deadline - now_ms();
		if (left <= 0) {
			snprintf(err, errlen, "timed out");
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, left < 200 ? (int)left : 200);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* ---- URLs and proxies ---- */

/* scheme://host[:port][/path]; host may be [IPv6]. User info and empty hosts are refused. */
static int parse_url(const char *url, struct target *t, char *err, size_t errlen)
{
	const char *p;
	memset(t, 0, sizeof *t);
	if (strncasecmp(url, "https://", 8) == 0) {
		t->tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		snprintf(err, errlen, "only https:// (and http://) URLs are supported");
		return -1;
	}
	size_t alen = strcspn(p, "/?#");
	const char *hend;
	if (memchr(p, '@', alen)) {
		snprintf(err, errlen, "user names in URLs are not supported");
		return -1;
	}
	if (*p == '[') {
		hend = memchr(p, ']', alen);
		if (!hend || hend == p + 1 || (size_t)(hend - p - 1) > HTTP_MAX_HOST)
			goto bad;
		memcpy(t->host, p + 1, (size_t)(hend - p - 1));
		hend++;
	} else {
		hend = memchr(p, ':', alen);
		if (!hend)
			hend = p + alen;
		if (hend == p || (size_t)(hend - p) > HTTP_MAX_HOST)
			goto bad;
		memcpy(t->host, p, (size_t)(hend - p));
	}
	if (hend < p + alen) {
		if (*hend != ':')
			goto bad;
		size_t plen = (size_t)(p + alen - hend - 1);
		if (plen == 0 || plen >= sizeof t->port || strspn(hend + 1, "0123456789") < plen)
			goto bad;
		memcpy(t->port, hend + 1, plen);
		if (atoi(t->port) < 1 || atoi(t->port) > 65535)
			goto bad;
	} else {
		snprintf(t->port, sizeof t->port, "%s", t->tls ? "443" : "80");
	}
	for (const char *h = t->host; *h; h++)
		if ((unsigned char)*h <= ' ' || *h == 0x7f)
			goto bad;
	t->path = p + alen;
	return 0;
bad:
	snprintf(err, errlen, "not a valid URL");
	return -1;
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

/* The proxy for t from the environment (https_proxy / HTTPS_PROXY for https, http_proxy for
 * http, as curl reads them), as host and port in *px. 0 none, 1 found, -1 unusable. */
static int proxy_for(const struct target *t, struct target *px, char *err, size_t errlen)
{
	const char *v = t->tls ? getenv("https_proxy") : getenv("http_proxy");
	if (t->tls && (!v || !*v))
		v = getenv("HTTPS_PROXY");
	if (!v || !*v || no_proxy_for(t->host))
		return 0;
	char url[600];
	if (strstr(v, "://"))
		snprintf(url, sizeof url, "%s", v);
	else
		snprintf(url, sizeof url, "http://%s", v);
	if (strncasecmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "proxy %s: only http:// proxies are supported", v);
		return -1;
	}
	int has_port = 0;
	{
		/* the proxy's own default port is 1080, as curl's */
		const char *h = url + 7, *end = h + strcspn(h, "/?#");
		const char *close = memchr(h, ']', (size_t)(end - h));
		has_port = memchr(close ? close : h, ':', (size_t)(end - (close ? close : h))) != NULL;
	}
	if (parse_url(url, px, err, errlen) != 0) {
		char tmp[300];
		snprintf(tmp, sizeof tmp, "%s", err);
		snprintf(err, errlen, "proxy %s: %s", v, tmp);
		return -1;
	}
	if (!has_port)
		snprintf(px->port, sizeof px->port, "1080");
	return 1;
}

static int is_ip_literal(const char *host)
{
	unsigned char b[16];
	return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* ---- the connection ---- */

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
	c->key[0] = '\0';
}

/* An idle kept-alive connection is still usable when the server has sent nothing on it
 * (readable means EOF, a close_notify or garbage: either way, start over). */
static int conn_idle_ok(struct conn *c)
{
	if (c->fd < 0 || c->off != c->len)
		return 0;
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	return poll(&p, 1, 0) == 0;
}

static int tcp_connect(const char *host, const char *port, long deadline, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	char last[160] = "no address";
	long cdeadline = now_ms() + HTTP_CONNECT_TIMEOUT_MS;
	if (cdeadline > deadline)
		cdeadline = deadline;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			snprintf(last, sizeof last, "socket: %s", strerror(errno));
			continue;
		}
		int rc = connect(fd, a->ai_addr, a->ai_addrlen), e = errno;
		if (rc != 0 && e == EINPROGRESS) {
			char werr[64];
			socklen_t sl = sizeof e;
			if (wait_fd(fd, POLLOUT, cdeadline, werr, sizeof werr) != 0) {
				snprintf(last, sizeof last, "%s", http_interrupted ? "interrupted" : "connection timed out");
				close(fd);
				fd = -1;
				if (http_interrupted)
					break;
				continue;
			}
			rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == 0 && e == 0 ? 0 : -1;
		}
		if (rc != 0) {
			snprintf(last, sizeof last, "%s", strerror(e));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s port %s: %s", host, port, last);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* One line of OpenSSL's reason for a failed TLS operation. */
static void tls_error(SSL *ssl, const char *what, char *err, size_t errlen)
{
	long vr = SSL_get_verify_result(ssl);
	unsigned long e = ERR_get_error();
	char ebuf[256] = "";
	if (e)
		ERR_error_string_n(e, ebuf, sizeof ebuf);
	if (vr != X509_V_OK)
		snprintf(err, errlen, "%s: certificate verify failed: %s", what, X509_verify_cert_error_string(vr));
	else
		snprintf(err, errlen, "%s: %s", what, ebuf[0] ? ebuf : "connection closed by the peer");
	ERR_clear_error();
}

/* Runs an SSL_* operation to completion on the non-blocking socket. >0 done, 0 clean EOF
 * (reads only), -1 error in err. */
static int ssl_op(struct conn *c, int (*op)(SSL *, void *, int), void *buf, int len, long deadline,
                  const char *what, char *err, size_t errlen)
{
	for (;;) {
		ERR_clear_error();
		int n = op(c->ssl, buf, len);
		if (n > 0)
			return n;
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, err, errlen) != 0)
				return -1;
			continue;
		}
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && n == 0))
			return 0; /* close_notify, or a close without one: the framing tells truncation */
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			snprintf(err, errlen, "%s: %s", what, errno ? strerror(errno) : "connection closed");
		else
			tls_error(c->ssl, what, err, errlen);
		return -1;
	}
}

static int op_read(SSL *s, void *b, int n)
{
	return SSL_read(s, b, n);
}

static int op_write(SSL *s, void *b, int n)
{
	return SSL_write(s, b, n);
}

static int op_connect(SSL *s, void *b, int n)
{
	(void)b;
	(void)n;
	return SSL_connect(s);
}

static int conn_write(struct conn *c, const char *data, size_t len, long deadline, char *err, size_t errlen)
{
	while (len > 0) {
		int chunk = len > 1 << 20 ? 1 << 20 : (int)len;
		ssize_t n;
		if (c->ssl) {
			n = ssl_op(c, op_write, (void *)data, chunk, deadline, "TLS write", err, errlen);
			if (n == 0) {
				snprintf(err, errlen, "connection closed while sending");
				return -1;
			}
		} else {
			n = send(c->fd, data, (size_t)chunk, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				if (wait_fd(c->fd, POLLOUT, deadline, err, errlen) != 0)
					return -1;
				continue;
			}
			if (n < 0)
				snprintf(err, errlen, "send: %s", strerror(errno));
		}
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads more into the buffer (compacting it first). >0 bytes added, 0 EOF, -1 error. */
static int conn_fill(struct conn *c, long deadline, char *err, size_t errlen)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof c->buf) {
		snprintf(err, errlen, "response head larger than %d bytes", HTTP_BUF);
		return -1;
	}
	size_t room = sizeof c->buf - c->len;
	if (c->ssl) {
		int n = ssl_op(c, op_read, c->buf + c->len, (int)room, deadline, "TLS read", err, errlen);
		if (n > 0)
			c->len += (size_t)n;
		return n;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, room, 0);
		if (n > 0) {
			c->len += (size_t)n;
			return (int)n;
		}
		if (n == 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return -1;
		}
		if (wait_fd(c->fd, POLLIN, deadline, err, errlen) != 0)
			return -1;
	}
}

/* One line ending in LF (CRLF or bare LF) of at most max bytes, without its line ending,
 * in *line (pointing into the buffer, valid until the next read). -1 with err on EOF,
 * error or an over-long line. */
static int conn_line(struct conn *c, size_t max, const char **line, size_t *llen, long deadline, char *err,
                     size_t errlen)
{
	size_t scanned = 0;
	for (;;) {
		char *nl = memchr(c->buf + c->off + scanned, '\n', c->len - c->off - scanned);
		if (nl) {
			size_t n = (size_t)(nl - (c->buf + c->off));
			*line = c->buf + c->off;
			*llen = n > 0 && nl[-1] == '\r' ? n - 1 : n;
			c->off += n + 1;
			return 0;
		}
		scanned = c->len - c->off;
		if (scanned > max) {
			snprintf(err, errlen, "line longer than %zu bytes in the response", max);
			return -1;
		}
		int r = conn_fill(c, deadline, err, errlen);
		if (r == 0)
			snprintf(err, errlen, "connection closed in the middle of the response");
		if (r <= 0)
			return -1;
	}
}

static int ensure_ctx(struct http_client *h, char *err, size_t errlen)
{
	if (h->ctx)
		return 0;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot set up TLS");
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	int ok;
	if (h->ca_bundle) {
		ok = SSL_CTX_load_verify_file(ctx, h->ca_bundle) == 1;
		if (!ok)
			snprintf(err, errlen, "cannot load the CA bundle %s", h->ca_bundle);
	} else {
		/* System trust: SSL_CERT_FILE if set, and the hashed directory (SSL_CERT_DIR or
		 * /etc/ssl/certs), which OpenSSL reads one issuer at a time instead of parsing the
		 * whole bundle into memory. */
		const char *f = getenv(X509_get_default_cert_file_env());
		const char *d = getenv(X509_get_default_cert_dir_env());
		ok = 1;
		if (f && *f && SSL_CTX_load_verify_file(ctx, f) != 1) {
			ok = 0;
			snprintf(err, errlen, "cannot load %s=%s", X509_get_default_cert_file_env(), f);
		}
		if (ok && SSL_CTX_load_verify_dir(ctx, d && *d ? d : X509_get_default_cert_dir()) != 1) {
			ok = 0;
			snprintf(err, errlen, "cannot use the system's trusted certificates (%s)",
			         d && *d ? d : X509_get_default_cert_dir());
		}
	}
	ERR_clear_error();
	if (!ok) {
		SSL_CTX_free(ctx);
		return -1;
	}
	h->ctx = ctx;
	return 0;
}

/* How a response body is delimited (RFC 9112 §6.3). */
struct framing {
	int chunked;
	long long length; /* -1: until the connection closes */
	int close;        /* the connection cannot be reused afterwards */
};

static int parse_header_line(struct http_resp *r, struct framing *f, const char *l, size_t n, char *err,
                             size_t errlen);

/* Reads the head of a response into r and how its body is framed. -1 with err; *got tells
 * whether any byte of a response arrived (a kept-alive connection closed by the server
 * before answering is retried on a new one). */
static int read_head(struct conn *c, struct http_resp *r, struct framing *f, int *got, long deadline, char *err,
                     size_t errlen)
{
	const char *l;
	size_t n, total = 0;
	memset(f, 0, sizeof *f);
	f->length = -1;
	if (conn_line(c, HTTP_MAX_LINE, &l, &n, deadline, err, errlen) != 0)
		return -1;
	*got = 1;
	int minor, status;
	char sp;
	if (n < 12 || sscanf(l, "HTTP/1.%1d %3d%c", &minor, &status, &sp) != 3 || (sp != ' ' && sp != '\r' && sp != '\n') ||
	    status < 100 || status > 999) {
		snprintf(err, errlen, "the server's answer is not HTTP/1.x");
		return -1;
	}
	r->status = status;
	f->close = minor == 0; /* HTTP/1.0: no keep-alive unless asked (we do not ask) */
	for (;;) {
		if (conn_line(c, HTTP_BUF, &l, &n, deadline, err, errlen) != 0)
			return -1;
		total += n + 2;
		if (total > HTTP_BUF) {
			snprintf(err, errlen, "response head larger than %d bytes", HTTP_BUF);
			return -1;
		}
		if (n == 0)
			return 0;
		if (parse_header_line(r, f, l, n, err, errlen) != 0)
			return -1;
	}
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

static int has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i + tl <= n; i++)
		if (strncasecmp(v + i, tok, tl) == 0 && (i == 0 || v[i - 1] == ',' || isspace((unsigned char)v[i - 1])) &&
		    (i + tl == n || v[i + tl] == ',' || isspace((unsigned char)v[i + tl])))
			return 1;
	return 0;
}

static int parse_header_line(struct http_resp *r, struct framing *f, const char *l, size_t n, char *err,
                             size_t errlen)
{
	if (*l == ' ' || *l == '\t')
		return 0; /* obsolete line folding: none of the headers we read uses it */
	const char *colon = memchr(l, ':', n);
	if (!colon || colon == l) {
		snprintf(err, errlen, "malformed header line in the response");
		return -1;
	}
	size_t nlen = (size_t)(colon - l);
	const char *v = colon + 1;
	size_t vlen = n - nlen - 1;
	char **slot = NULL;
#define IS(name) (nlen == sizeof name - 1 && strncasecmp(l, name, nlen) == 0)
	if (IS("Replay-Nonce"))
		slot = &r->nonce;
	else if (IS("Location"))
		slot = &r->location;
	else if (IS("Retry-After"))
		slot = &r->retry_after;
	else if (IS("Content-Type"))
		slot = &r->content_type;
	else if (IS("Link")) {
		if (r->nlinks < HTTP_MAX_LINKS && (r->links[r->nlinks] = header_value(v, vlen)) != NULL)
			r->nlinks++;
	} else if (IS("Content-Length")) {
		char *cl = header_value(v, vlen);
		char *end = NULL;
		long long len = cl && isdigit((unsigned char)*cl) ? strtoll(cl, &end, 10) : -1;
		int ok = cl && end && *end == '\0' && len >= 0 && (f->length < 0 || f->length == len);
		free(cl);
		if (!ok) {
			snprintf(err, errlen, "bad Content-Length in the response");
			return -1;
		}
		f->length = len;
	} else if (IS("Transfer-Encoding")) {
		if (!has_token(v, vlen, "chunked")) {
			snprintf(err, errlen, "unsupported Transfer-Encoding in the response");
			return -1;
		}
		f->chunked = 1;
	} else if (IS("Connection")) {
		if (has_token(v, vlen, "close"))
			f->close = 1;
	}
#undef IS
	if (slot) {
		free(*slot);
		*slot = header_value(v, vlen);
	}
	return 0;
}

/* Appends n bytes of body (bounded). */
static int body_add(struct http_resp *r, size_t *cap, const char *p, size_t n, char *err, size_t errlen)
{
	if (r->body_len + n > HTTP_MAX_BODY) {
		snprintf(err, errlen, "response body larger than %d bytes", HTTP_MAX_BODY);
		return -1;
	}
	if (r->body_len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (nc < r->body_len + n + 1)
			nc *= 2;
		char *nb = realloc(r->body, nc);
		if (!nb) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->body = nb;
		*cap = nc;
	}
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

/* Reads exactly n body bytes (or until EOF when n is -1). */
static int read_body_bytes(struct conn *c, struct http_resp *r, size_t *cap, long long n, long deadline, char *err,
                           size_t errlen)
{
	while (n != 0) {
		if (c->off == c->len) {
			int got = conn_fill(c, deadline, err, errlen);
			if (got < 0)
				return -1;
			if (got == 0) {
				if (n < 0)
					return 0;
				snprintf(err, errlen, "connection closed before the end of the response body");
				return -1;
			}
		}
		size_t avail = c->len - c->off;
		size_t take = n < 0 || (unsigned long long)n > avail ? avail : (size_t)n;
		if (body_add(r, cap, c->buf + c->off, take, err, errlen) != 0)
			return -1;
		c->off += take;
		if (n > 0)
			n -= (long long)take;
	}
	return 0;
}

static int read_chunked(struct conn *c, struct http_resp *r, size_t *cap, long deadline, char *err, size_t errlen)
{
	const char *l;
	size_t n;
	for (;;) {
		/* chunk-size [; extensions] (RFC 9112 §7.1); 8 hex digits already exceed any body we take */
		if (conn_line(c, HTTP_MAX_LINE, &l, &n, deadline, err, errlen) != 0)
			return -1;
		unsigned long size = 0;
		size_t i = 0;
		for (; i < n && i < 9 && isxdigit((unsigned char)l[i]); i++)
			size = size * 16 + (unsigned long)(isdigit((unsigned char)l[i]) ? l[i] - '0'
			                                                                 : tolower((unsigned char)l[i]) - 'a' + 10);
		if (i == 0 || (i < n && l[i] != ';' && l[i] != ' ' && l[i] != '\t' && !isxdigit((unsigned char)l[i]))) {
			snprintf(err, errlen, "malformed chunk in the response");
			return -1;
		}
		if (size > HTTP_MAX_BODY || (i < n && isxdigit((unsigned char)l[i]))) {
			snprintf(err, errlen, "response body larger than %d bytes", HTTP_MAX_BODY);
			return -1;
		}
		if (size == 0)
			break;
		if (read_body_bytes(c, r, cap, (long long)size, deadline, err, errlen) != 0)
			return -1;
		if (conn_line(c, HTTP_MAX_LINE, &l, &n, deadline, err, errlen) != 0)
			return -1;
		if (n != 0) {
			snprintf(err, errlen, "malformed chunk in the response");
			return -1;
		}
	}
	/* trailer fields, up to the empty line (bounded) */
	for (size_t total = 0;;) {
		if (conn_line(c, HTTP_MAX_LINE, &l, &n, deadline, err, errlen) != 0)
			return -1;
		total += n + 2;
		if (n == 0)
			return 0;
		if (total > HTTP_BUF) {
			snprintf(err, errlen, "response trailer too large");
			return -1;
		}
	}
}

/* ---- public API ---- */

struct http_client *http_client_new(const char *ca_bundle)
{
	struct http_client *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->c.fd = -1;
	if (ca_bundle && !(h->ca_bundle = strdup(ca_bundle))) {
		free(h);
		return NULL;
	}
	return h;
}

void http_client_free(struct http_client *h)
{
	if (!h)
		return;
	conn_close(&h->c);
	SSL_SESSION_free(h->sess);
	SSL_CTX_free(h->ctx);
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

/* host[:port] for a Host header or a CONNECT target (brackets around IPv6). */
static void authority(const struct target *t, int with_default_port, char *out, size_t outlen)
{
	int v6 = strchr(t->host, ':') != NULL;
	int dflt = strcmp(t->port, t->tls ? "443" : "80") == 0;
	snprintf(out, outlen, "%s%s%s%s%s", v6 ? "[" : "", t->host, v6 ? "]" : "", dflt && !with_default_port ? "" : ":",
	         dflt && !with_default_port ? "" : t->port);
}

/* Opens c for t (through the proxy px when set): TCP, CONNECT, TLS with name checks. */
static int conn_open(struct http_client *h, const struct target *t, const struct target *px, const char *key,
                     long deadline, char *err, size_t errlen)
{
	struct conn *c = &h->c;
	conn_close(c);
	c->fd = px ? tcp_connect(px->host, px->port, deadline, err, errlen)
	           : tcp_connect(t->host, t->port, deadline, err, errlen);
	if (c->fd < 0)
		return -1;
	if (px && t->tls) {
		char auth[HTTP_MAX_HOST + 16], req[HTTP_MAX_HOST * 2 + 100];
		authority(t, 1, auth, sizeof auth);
		snprintf(req, sizeof req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", auth, auth);
		struct http_resp pr;
		struct framing f;
		int got = 0;
		memset(&pr, 0, sizeof pr);
		if (conn_write(c, req, strlen(req), deadline, err, errlen) != 0 ||
		    read_head(c, &pr, &f, &got, deadline, err, errlen) != 0) {
			size_t m = strlen(err);
			snprintf(err + m, errlen - m, " (proxy %s port %s)", px->host, px->port);
			http_resp_clear(&pr);
			conn_close(c);
			return -1;
		}
		long st = pr.status;
		http_resp_clear(&pr);
		if (st < 200 || st > 299) {
			snprintf(err, errlen, "proxy %s port %s refused CONNECT %s: HTTP %ld", px->host, px->port, auth, st);
			conn_close(c);
			return -1;
		}
	}
	if (t->tls) {
		if (ensure_ctx(h, err, errlen) != 0) {
			conn_close(c);
			return -1;
		}
		c->ssl = SSL_new(h->ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
			snprintf(err, errlen, "cannot set up TLS");
			conn_close(c);
			return -1;
		}
		int ok;
		if (is_ip_literal(t->host)) {
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), t->host) == 1;
		} else {
			ok = SSL_set_tlsext_host_name(c->ssl, t->host) == 1 && SSL_set1_host(c->ssl, t->host) == 1;
		}
		if (ok && h->sess && strcmp(h->sess_key, key) == 0)
			SSL_set_session(c->ssl, h->sess);
		char what[HTTP_MAX_HOST + 64];
		snprintf(what, sizeof what, "TLS handshake with %s port %s", t->host, t->port);
		int hs = ok ? ssl_op(c, op_connect, NULL, 0, deadline, what, err, errlen) : -1;
		if (!ok)
			snprintf(err, errlen, "cannot set up TLS for %s", t->host);
		else if (hs == 0)
			snprintf(err, errlen, "%s: connection closed by the server", what);
		if (hs <= 0) {
			conn_close(c);
			return -1;
		}
	}
	snprintf(c->key, sizeof c->key, "%s", key);
	return 0;
}

/* One request and response on h->c. *got: whether any response byte arrived. */
static int exchange(struct http_client *h, const char *req, size_t reqlen, const char *body, size_t bodylen,
                    int head_only, struct http_resp *r, int *got, long deadline, char *err, size_t errlen)
{
	struct conn *c = &h->c;
	struct framing f;
	size_t cap = 0;
	*got = 0;
	if (conn_write(c, req, reqlen, deadline, err, errlen) != 0 ||
	    (bodylen && conn_write(c, body, bodylen, deadline, err, errlen) != 0))
		return -1;
	do {
		/* 1xx interim responses (none expected: we never send Expect) are skipped */
		http_resp_clear(r);
		if (read_head(c, r, &f, got, deadline, err, errlen) != 0)
			return -1;
	} while (r->status >= 100 && r->status < 200);
	int rc;
	if (head_only || r->status == 204 || r->status == 304)
		rc = 0;
	else if (f.chunked)
		rc = read_chunked(c, r, &cap, deadline, err, errlen);
	else if (f.length > HTTP_MAX_BODY) {
		snprintf(err, errlen, "response body larger than %d bytes", HTTP_MAX_BODY);
		rc = -1;
	} else if (f.length >= 0) {
		rc = read_body_bytes(c, r, &cap, f.length, deadline, err, errlen);
	} else {
		f.close = 1; /* delimited by the end of the connection */
		rc = read_body_bytes(c, r, &cap, -1, deadline, err, errlen);
	}
	if (rc != 0)
		return -1;
	if (c->ssl) {
		/* keep the newest session (TLS 1.3 tickets arrive after the handshake) */
		SSL_SESSION *s = SSL_get1_session(c->ssl);
		if (s && SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(h->sess);
			h->sess = s;
			snprintf(h->sess_key, sizeof h->sess_key, "%s", c->key);
		} else {
			SSL_SESSION_free(s);
		}
	}
	if (f.close || c->off != c->len)
		conn_close(c);
	return 0;
}

int http_request(struct http_client *h, const char *method, const char *url, const char *body,
                 struct http_resp *resp, char *err, size_t errlen)
{
	struct target t, px;
	long deadline = now_ms() + HTTP_TIMEOUT_MS;
	int post = strcmp(method, "POST") == 0, head_only = strcmp(method, "HEAD") == 0;
	memset(resp, 0, sizeof *resp);
	if (parse_url(url, &t, err, errlen) != 0)
		return -1;
	int prx = proxy_for(&t, &px, err, errlen);
	if (prx < 0)
		return -1;
	char key[sizeof h->c.key], auth[HTTP_MAX_HOST + 16];
	snprintf(key, sizeof key, "%s://%s:%s%s%s%s%s", t.tls ? "https" : "http", t.host, t.port, prx ? " via " : "",
	         prx ? px.host : "", prx ? ":" : "", prx ? px.port : "");
	authority(&t, 0, auth, sizeof auth);
	/* request-target: the path and query (no fragment); through a proxy, plain http asks for
	 * the absolute URL (RFC 9112 §3.2.2) */
	const char *start = prx && !t.tls ? url : t.path;
	int tlen = (int)strcspn(start, "#");
	size_t bodylen = post && body ? strlen(body) : 0;
	char clen[80] = "";
	if (post)
		snprintf(clen, sizeof clen, "Content-Type: application/jose+json\r\nContent-Length: %zu\r\n", bodylen);
	char *req = NULL;
	int reqlen = asprintf(&req, "%s %s%.*s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cobble/" COBBLE_VERSION
	                            "\r\nAccept: */*\r\n%s\r\n",
	                      method, tlen == 0 ? "/" : "", tlen, start, auth, clen);
	if (reqlen < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		int reused = h->c.fd >= 0 && strcmp(h->c.key, key) == 0 && conn_idle_ok(&h->c);
		if (!reused && conn_open(h, &t, prx ? &px : NULL, key, deadline, err, errlen) != 0)
			break;
		int got = 0;
		if (exchange(h, req, (size_t)reqlen, body, bodylen, head_only, resp, &got, deadline, err, errlen) == 0) {
			rc = 0;
			break;
		}
		conn_close(&h->c);
		http_resp_clear(resp);
		/* A kept-alive connection the server closed before answering: once more on a fresh
		 * one (it never saw the request, so even a POST is safe to send again). */
		if (!reused || got || http_interrupted)
			break;
	}
	free(req);
	if (rc != 0) {
		if (http_interrupted) {
			snprintf(err, errlen, "interrupted");
		} else {
			char tmp[600];
			snprintf(tmp, sizeof tmp, "%s: %s", url, err);
			snprintf(err, errlen, "%s", tmp);
		}
		http_resp_clear(resp);
		return -1;
	}
	if (!resp->body && !(resp->body = strdup(""))) {
		snprintf(err, errlen, "out of memory");
		http_resp_clear(resp);
		return -1;
	}
	return 0;
}
