/* HTTP/1.1 client (RFC 9112) for the CA's http-01 fetches and the agent: non-blocking
 * sockets under one deadline, optional TLS through OpenSSL, responses read by httpmsg.c. */
#include "httpc.h"
#include "deadline.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTPC_CANCEL_SLICE_MS 200
#define ALPN_HTTP11 "\x08http/1.1"  /* RFC 7301 §3.1 wire form */

struct httpc {
	struct httpc_config cfg;
	char *ua, *ca_file;
	SSL_CTX *ctx;
	/* the kept-alive connection */
	int fd;
	SSL *ssl;
	char key[URL_MAX_HOST + 160];
	/* the last resumable TLS session and the server it belongs to */
	SSL_SESSION *sess;
	char sess_key[URL_MAX_HOST + 160];
};

static int seterr(struct httpc_error *e, enum httpc_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
	return -1;
}

struct httpc *httpc_new(const struct httpc_config *cfg)
{
	struct httpc *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->fd = -1;
	if ((cfg->user_agent && !(c->ua = strdup(cfg->user_agent))) ||
	    (cfg->ca_file && !(c->ca_file = strdup(cfg->ca_file)))) {
		free(c->ua);
		free(c);
		return NULL;
	}
	c->cfg.user_agent = c->ua;
	c->cfg.ca_file = c->ca_file;
	return c;
}

static void conn_close(struct httpc *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->key[0] = '\0';
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	conn_close(c);
	SSL_SESSION_free(c->sess);
	SSL_CTX_free(c->ctx);
	free(c->ua);
	free(c->ca_file);
	free(c);
}

/* Waits for ev on fd until the deadline: 1 ready, 0 timed out, -1 cancelled or failed. */
static int io_wait(struct httpc *c, int fd, short ev, long long deadline, struct httpc_error *e)
{
	for (;;) {
		if (c->cfg.cancel && *c->cfg.cancel)
			return seterr(e, HTTPC_ECANCEL, "interrupted");
		long long left = deadline - deadline_now_ms();
		if (left <= 0)
			return 0;
		if (c->cfg.cancel && left > HTTPC_CANCEL_SLICE_MS)
			left = HTTPC_CANCEL_SLICE_MS;
		struct pollfd pf = {.fd = fd, .events = ev};
		int n = poll(&pf, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return seterr(e, HTTPC_EIO, "poll: %s", strerror(errno));
	}
}

static int make_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		*sl = sizeof *s4;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		*sl = sizeof *s6;
		return 0;
	}
	return -1;
}

static int tcp_connect(struct httpc *c, const struct sockaddr_storage *ss, socklen_t sl, const char *addr,
                       int port, int timeout_ms, long long deadline, struct httpc_error *e)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return seterr(e, HTTPC_ECONNECT, "socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)ss, sl) != 0 && errno != EINPROGRESS) {
		int en = errno;
		close(fd);
		return seterr(e, HTTPC_ECONNECT, "%s", strerror(en));
	}
	int w = io_wait(c, fd, POLLOUT, deadline, e);
	if (w <= 0) {
		close(fd);
		if (w == 0)
			return seterr(e, HTTPC_ETIMEOUT, "timeout after %d ms connecting to %s port %d", timeout_ms, addr,
			              port);
		return -1;
	}
	int soerr = 0;
	socklen_t el = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0) {
		int en = soerr ? soerr : errno;
		close(fd);
		return seterr(e, HTTPC_ECONNECT, "%s", strerror(en));
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* request, then wait: no Nagle */
	e->connected = 1;
	return fd;
}

static SSL_CTX *tls_ctx(struct httpc *c, struct httpc_error *e)
{
	if (c->ctx)
		return c->ctx;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		seterr(e, HTTPC_ENOMEM, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* the parser knows where bodies end */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)ALPN_HTTP11, sizeof ALPN_HTTP11 - 1) != 0) {
		SSL_CTX_free(ctx);
		seterr(e, HTTPC_ETLS, "cannot configure TLS");
		return NULL;
	}
	if (c->cfg.tls_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		int ok = c->cfg.ca_file ? SSL_CTX_load_verify_locations(ctx, c->cfg.ca_file, NULL)
		                        : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			unsigned long err = ERR_peek_last_error();
			const char *why = err ? ERR_reason_error_string(err) : NULL;
			seterr(e, HTTPC_ETLS, "cannot load CA certificates%s%s: %s", c->cfg.ca_file ? " from " : "",
			       c->cfg.ca_file ? c->cfg.ca_file : "", why ? why : "unknown error");
			ERR_clear_error();
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	c->ctx = ctx;
	return ctx;
}

/* Words for the OpenSSL error after a failed call. */
static void ssl_why(SSL *ssl, int rc, char *out, size_t outlen)
{
	int e = SSL_get_error(ssl, rc);
	unsigned long err = ERR_peek_last_error();
	long vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK)
		snprintf(out, outlen, "certificate verification failed: %s", X509_verify_cert_error_string(vr));
	else if (err) {
		const char *r = ERR_reason_error_string(err);
		char buf[160];
		if (!r) {
			ERR_error_string_n(err, buf, sizeof buf);
			r = buf;
		}
		snprintf(out, outlen, "%.200s", r);
	} else if (e == SSL_ERROR_SYSCALL)
		snprintf(out, outlen, "%s", errno ? strerror(errno) : "connection closed by the server");
	else if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(out, outlen, "connection closed by the server");
	else
		snprintf(out, outlen, "TLS error %d", e);
	ERR_clear_error();
}

static int tls_handshake(struct httpc *c, const struct url *u, const char *key, const char *addr,
                         int timeout_ms, long long deadline, struct httpc_error *e)
{
	SSL_CTX *ctx = tls_ctx(c, e);
	if (!ctx)
		return -1;
	SSL *ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		return seterr(e, HTTPC_ENOMEM, "cannot set up TLS");
	}
	c->ssl = ssl;
	if (c->sess && strcmp(c->sess_key, key) == 0)
		SSL_set_session(ssl, c->sess); /* the key names the server, so a verified session stays so */
	if (u->host_type == URL_HOST_NAME && SSL_set_tlsext_host_name(ssl, u->host) != 1) /* RFC 6066 §3 */
		return seterr(e, HTTPC_ETLS, "cannot set SNI %s", u->host);
	if (c->cfg.tls_verify) {
		int ok = u->host_type == URL_HOST_NAME ? SSL_set1_host(ssl, u->host)
		                                       : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host);
		if (ok != 1)
			return seterr(e, HTTPC_ETLS, "cannot set the name to verify (%s)", u->host);
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int rc = SSL_connect(ssl);
		if (rc == 1)
			return 0;
		int se = SSL_get_error(ssl, rc);
		short ev = se == SSL_ERROR_WANT_READ ? POLLIN : se == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (!ev) {
			char why[224];
			ssl_why(ssl, rc, why, sizeof why);
			return seterr(e, HTTPC_ETLS, "%s", why);
		}
		int w = io_wait(c, c->fd, ev, deadline, e);
		if (w < 0)
			return -1;
		if (w == 0)
			return seterr(e, HTTPC_ETIMEOUT, "timeout after %d ms during the TLS handshake with %s port %d",
			              timeout_ms, addr, u->port);
	}
}

/* Sends all of buf: 0, or -1 with *e. */
static int conn_write(struct httpc *c, const char *buf, size_t len, long long deadline, struct httpc_error *e,
                      int timeout_ms, const char *addr, int port)
{
	while (len) {
		ssize_t n;
		short ev = POLLOUT;
		if (c->ssl) {
			ERR_clear_error();
			size_t w = 0;
			int rc = SSL_write_ex(c->ssl, buf, len, &w);
			if (rc == 1) {
				n = (ssize_t)w;
			} else {
				int se = SSL_get_error(c->ssl, rc);
				if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE) {
					char why[224];
					ssl_why(c->ssl, rc, why, sizeof why);
					return seterr(e, HTTPC_EIO, "sending the request: %s", why);
				}
				ev = se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
				n = -1;
				errno = EAGAIN;
			}
		} else {
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
		}
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return seterr(e, HTTPC_EIO, "sending the request: %s", strerror(errno));
		int w = io_wait(c, c->fd, ev, deadline, e);
		if (w < 0)
			return -1;
		if (w == 0)
			return seterr(e, HTTPC_ETIMEOUT, "timeout after %d ms sending the request to %s port %d",
			              timeout_ms, addr, port);
	}
	return 0;
}

/* Reads some bytes: >0, 0 at end of stream, -1 with *e. */
static ssize_t conn_read(struct httpc *c, char *buf, size_t cap, long long deadline, struct httpc_error *e,
                         int timeout_ms, const char *addr, int port)
{
	for (;;) {
		short ev = POLLIN;
		if (c->ssl) {
			ERR_clear_error();
			errno = 0;
			size_t got = 0;
			int rc = SSL_read_ex(c->ssl, buf, cap, &got);
			if (rc == 1)
				return (ssize_t)got;
			int se = SSL_get_error(c->ssl, rc);
			if (se == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE) {
				char why[224];
				ssl_why(c->ssl, rc, why, sizeof why);
				return seterr(e, HTTPC_EIO, "reading the response: %s", why);
			}
			ev = se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		} else {
			ssize_t n = recv(c->fd, buf, cap, 0);
			if (n >= 0)
				return n;
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return seterr(e, HTTPC_EIO, "reading the response: %s", strerror(errno));
		}
		int w = io_wait(c, c->fd, ev, deadline, e);
		if (w < 0)
			return -1;
		if (w == 0)
			return seterr(e, HTTPC_ETIMEOUT, "timeout after %d ms waiting for the response from %s port %d",
			              timeout_ms, addr, port);
	}
}

/* The request head and body in one buffer (one write, one TLS record for small requests). */
static char *build_request(const struct httpc *c, const struct httpc_request *req, size_t *outlen,
                           struct httpc_error *e)
{
	char host[URL_MAX_HOST + 16];
	if (url_host_header(req->url, host, sizeof host) < 0) {
		seterr(e, HTTPC_EARG, "host too long");
		return NULL;
	}
	size_t extra = 0;
	for (const char *const *h = req->headers; h && *h; h++) {
		if (strpbrk(*h, "\r\n") || !strchr(*h, ':')) {
			seterr(e, HTTPC_EARG, "invalid request header \"%.40s\"", *h);
			return NULL;
		}
		extra += strlen(*h) + 2;
	}
	/* RFC 9112 §3.2.2: absolute-form to a proxy for http; origin-form otherwise */
	char target[URL_MAX_LEN + URL_MAX_HOST + 32];
	int absolute = req->proxy_addr && strcmp(req->url->scheme, "http") == 0;
	if (absolute ? url_format(req->url, target, sizeof target) < 0
	             : (size_t)snprintf(target, sizeof target, "%s", req->url->path) >= sizeof target) {
		seterr(e, HTTPC_EARG, "URL too long");
		return NULL;
	}
	if (req->proxy_auth && strpbrk(req->proxy_auth, "\r\n")) {
		seterr(e, HTTPC_EARG, "invalid proxy credentials");
		return NULL;
	}
	if (absolute && req->proxy_auth)
		extra += strlen(req->proxy_auth) + 32;
	size_t cap = strlen(req->method) + strlen(target) + strlen(host) +
	             (c->cfg.user_agent ? strlen(c->cfg.user_agent) : 0) + extra + 160 + req->body_len;
	char *buf = malloc(cap);
	if (!buf) {
		seterr(e, HTTPC_ENOMEM, "out of memory");
		return NULL;
	}
	/* RFC 9112 §3: request-line; RFC 9110 §7.2 Host. */
	size_t n = (size_t)snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", req->method, target, host);
	if (absolute && req->proxy_auth)
		n += (size_t)snprintf(buf + n, cap - n, "Proxy-Authorization: %s\r\n", req->proxy_auth);
	if (c->cfg.user_agent)
		n += (size_t)snprintf(buf + n, cap - n, "User-Agent: %s\r\n", c->cfg.user_agent);
	for (const char *const *h = req->headers; h && *h; h++)
		n += (size_t)snprintf(buf + n, cap - n, "%s\r\n", *h);
	if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0)
		n += (size_t)snprintf(buf + n, cap - n, "Content-Length: %zu\r\n", req->body_len);
	n += (size_t)snprintf(buf + n, cap - n, "Connection: %s\r\n\r\n", req->keep_alive ? "keep-alive" : "close");
	if (req->body_len)
		memcpy(buf + n, req->body, req->body_len);
	*outlen = n + req->body_len;
	return buf;
}

int httpc_basic_credentials(const char *user, const char *pass, char *out, size_t outlen)
{
	size_t ul = strlen(user), pl = strlen(pass);
	if (strchr(user, ':'))
		return -1;
	for (const char *s = user; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return -1;
	for (const char *s = pass; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return -1;
	size_t in = ul + 1 + pl;
	if (in > INT_MAX / 2 || outlen < 6 + 4 * ((in + 2) / 3) + 1)
		return -1;
	unsigned char *raw = malloc(in);
	if (!raw)
		return -1;
	memcpy(raw, user, ul);
	raw[ul] = ':';
	memcpy(raw + ul + 1, pass, pl);
	memcpy(out, "Basic ", 6);
	int n = EVP_EncodeBlock((unsigned char *)out + 6, raw, (int)in); /* RFC 4648 §4, padded */
	OPENSSL_cleanse(raw, in);
	free(raw);
	return n < 0 ? -1 : 6 + n;
}

/* RFC 9110 §9.3.6: asks the proxy on c->fd for a tunnel to the URL's host and port. */
static int proxy_tunnel(struct httpc *c, const struct httpc_request *req, int timeout_ms, long long deadline,
                        struct httpc_error *e)
{
	const struct url *u = req->url;
	int v6 = u->host_type == URL_HOST_IPV6;
	char head[URL_MAX_HOST * 2 + 2048]; /* room for 1 KiB of Proxy-Authorization */
	if (req->proxy_auth && strpbrk(req->proxy_auth, "\r\n"))
		return seterr(e, HTTPC_EARG, "invalid proxy credentials");
	int n = snprintf(head, sizeof head, "CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n%s%s%s\r\n",
	                 v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, v6 ? "[" : "", u->host, v6 ? "]" : "",
	                 u->port, req->proxy_auth ? "Proxy-Authorization: " : "",
	                 req->proxy_auth ? req->proxy_auth : "", req->proxy_auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof head)
		return seterr(e, HTTPC_EARG, "proxy credentials too long");
	int wr = conn_write(c, head, (size_t)n, deadline, e, timeout_ms, req->proxy_addr, req->proxy_port);
	OPENSSL_cleanse(head, sizeof head); /* the credentials */
	if (wr != 0)
		return -1;
	struct httpc_response r;
	struct httpc_parser p;
	struct httpc_limits lim = {.max_headers = 32, .max_line = 1024, .max_body = 1};
	int ret = -1;
	if (httpc_parser_init(&p, &lim, 1, &r) != 0) {
		seterr(e, p.code, "%s", p.err);
		goto out;
	}
	for (;;) {
		/* One byte at a time: nothing of the tunnel may be read into this buffer. The head is
		 * small and this happens once per connection. */
		char ch;
		ssize_t k = conn_read(c, &ch, 1, deadline, e, timeout_ms, req->proxy_addr, req->proxy_port);
		if (k < 0)
			goto out;
		int st = k == 0 ? httpc_parser_eof(&p) : httpc_parser_feed(&p, &ch, 1, NULL);
		if (st == HTTPC_PARSE_ERROR) {
			seterr(e, HTTPC_EPROXY, "proxy %s port %d: %s", req->proxy_addr, req->proxy_port, p.err);
			goto out;
		}
		if (st == HTTPC_PARSE_DONE)
			break;
	}
	if (r.status < 200 || r.status > 299) {
		e->proxy_status = r.status;
		const char *ch = httpc_header(&r, "Proxy-Authenticate");
		if (ch) { /* §11.1: auth-scheme is a token */
			size_t k = 0;
			while (ch[k] && k < sizeof e->proxy_scheme - 1 && httpc_is_tchar((unsigned char)ch[k]))
				k++;
			memcpy(e->proxy_scheme, ch, k);
			e->proxy_scheme[k] = '\0';
		}
		seterr(e, HTTPC_EPROXY, "proxy %s port %d refused the tunnel to %s:%d with status %d", req->proxy_addr,
		       req->proxy_port, u->host, u->port, r.status);
		goto out;
	}
	ret = 0;
out:
	httpc_parser_free(&p);
	httpc_response_clear(&r);
	return ret;
}

/* 1 if the idle kept-alive connection is still usable: nothing to read (no EOF, no junk). */
static int idle_ok(struct httpc *c)
{
	if (c->ssl && SSL_pending(c->ssl))
		return 0;
	struct pollfd pf = {.fd = c->fd, .events = POLLIN};
	if (poll(&pf, 1, 0) == 0)
		return 1;
	if (!c->ssl)
		return 0;
	/* TLS 1.3 servers may send post-handshake records (session tickets) while the connection
	 * idles: readable, but no data and no close. */
	char b;
	ERR_clear_error();
	int r = SSL_peek(c->ssl, &b, 1);
	int ok = r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ;
	ERR_clear_error();
	return ok;
}

int httpc_request(struct httpc *c, const struct httpc_request *req, struct httpc_response *resp,
                  struct httpc_error *e)
{
	memset(e, 0, sizeof *e);
	memset(resp, 0, sizeof *resp);
	const struct url *u = req->url;
	if (!req->method || !*req->method || !u || (!req->addr && !req->proxy_addr))
		return seterr(e, HTTPC_EARG, "missing method, URL or address");
	for (const char *m = req->method; *m; m++)
		if (!httpc_is_tchar((unsigned char)*m))
			return seterr(e, HTTPC_EARG, "invalid method");
	struct sockaddr_storage ss;
	socklen_t sl;
	/* where the TCP connection goes: the proxy if any, else the origin's address */
	const char *to = req->proxy_addr ? req->proxy_addr : req->addr;
	int to_port = req->proxy_addr ? req->proxy_port : u->port;
	if (make_addr(to, to_port, &ss, &sl) != 0 || (req->proxy_addr && (to_port < 1 || to_port > 65535)))
		return seterr(e, HTTPC_EARG, "\"%.64s\" is not an IP address", to);
	int https = strcmp(u->scheme, "https") == 0;
	int timeout = req->timeout_ms > 0 ? req->timeout_ms : 30000;
	long long deadline = deadline_now_ms() + timeout;
	char key[sizeof c->key];
	snprintf(key, sizeof key, "%s|%s|%d|%s|%s|%d", u->scheme, req->addr ? req->addr : "-", u->port, u->host,
	         req->proxy_addr ? req->proxy_addr : "-", req->proxy_port);

	size_t reqlen = 0;
	char *reqbuf = build_request(c, req, &reqlen, e);
	if (!reqbuf)
		return -1;
	int ret = -1;
	struct httpc_parser p;
	int pinit = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		int reused = 0;
		e->code = HTTPC_OK; /* a failed reuse is forgotten when the fresh connection works */
		e->msg[0] = '\0';
		if (c->fd >= 0 && req->keep_alive && strcmp(c->key, key) == 0 && idle_ok(c)) {
			reused = 1;
		} else {
			conn_close(c);
			int fd = tcp_connect(c, &ss, sl, to, to_port, timeout, deadline, e);
			if (fd < 0)
				goto out;
			c->fd = fd;
			if (https && req->proxy_addr && proxy_tunnel(c, req, timeout, deadline, e) != 0)
				goto out;
			if (https && tls_handshake(c, u, key, to, timeout, deadline, e) != 0)
				goto out;
		}
		e->connected = 1;
		if (conn_write(c, reqbuf, reqlen, deadline, e, timeout, to, to_port) != 0) {
			if (reused && e->code == HTTPC_EIO) {
				conn_close(c);
				continue;
			}
			goto out;
		}
		if (pinit)
			httpc_parser_free(&p);
		httpc_response_clear(resp);
		pinit = 1;
		if (httpc_parser_init(&p, &c->cfg.limits, strcmp(req->method, "HEAD") == 0, resp) != 0) {
			seterr(e, p.code, "%s", p.err);
			goto out;
		}
		size_t total = 0;
		int st = HTTPC_PARSE_MORE;
		char buf[16384];
		while (st == HTTPC_PARSE_MORE) {
			ssize_t n = conn_read(c, buf, sizeof buf, deadline, e, timeout, to, to_port);
			if (n < 0) {
				if (reused && total == 0 && e->code == HTTPC_EIO)
					break; /* the server dropped the idle connection: retry */
				goto out;
			}
			if (n == 0) {
				if (reused && total == 0)
					break;
				st = httpc_parser_eof(&p);
				break;
			}
			total += (size_t)n;
			size_t used = 0;
			st = httpc_parser_feed(&p, buf, (size_t)n, &used);
			if (st == HTTPC_PARSE_DONE && used < (size_t)n)
				p.keep_alive = 0; /* bytes after the response: do not trust this connection */
		}
		if (st == HTTPC_PARSE_MORE) { /* a reused connection died before answering */
			conn_close(c);
			continue;
		}
		if (st == HTTPC_PARSE_ERROR) {
			seterr(e, p.code, "%s", p.err);
			goto out;
		}
		if (c->ssl) {
			/* After the response, so TLS 1.3 tickets have arrived. A copy: OpenSSL marks the
			 * connection's own session unresumable when the SSL is freed without close_notify. */
			SSL_SESSION *cur = SSL_get0_session(c->ssl);
			SSL_SESSION *sess = cur && SSL_SESSION_is_resumable(cur) ? SSL_SESSION_dup(cur) : NULL;
			if (sess) {
				SSL_SESSION_free(c->sess);
				c->sess = sess;
				snprintf(c->sess_key, sizeof c->sess_key, "%s", key);
			}
		}
		if (req->keep_alive && p.keep_alive)
			snprintf(c->key, sizeof c->key, "%s", key);
		else
			conn_close(c);
		ret = 0;
		break;
	}
	if (ret != 0 && !e->code)
		seterr(e, HTTPC_EIO, "connection closed by the server without a response");
out:
	if (ret != 0) {
		conn_close(c);
		httpc_response_clear(resp);
	}
	if (pinit)
		httpc_parser_free(&p);
	if (req->proxy_auth)
		OPENSSL_cleanse(reqbuf, reqlen);
	free(reqbuf);
	return ret;
}
