/* httpc: the HTTP/1.1 client against an in-process server on 127.0.0.1 (plain and TLS with a
 * throwaway self-signed certificate), and its response parser fed from buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "httpc.h"

/* ---- the test server ---- */
struct server {
	const char *resp[4]; /* answers to successive requests (the last one repeats) */
	size_t nresp;
	int drip;            /* send one byte at a time */
	int keep;            /* keep the connection for further requests */
	int hold;            /* after answering (or with no answer), hold the connection until stop */
	int no_reply;
	int key_update;      /* TLS: a post-handshake record after each answer */
	SSL_CTX *tls;
	/* filled by the server */
	int fd, port, stop[2];
	pthread_t thread;
	pthread_mutex_t mu;
	int accepted, requests, resumed;
	char last_req[4096];
	char sni[256];
	char alpn[64];
};

static EVP_PKEY *g_key;
static X509 *g_cert, *g_other_cert;
static char g_ca_file[64], g_other_ca_file[64];

static int srv_read(SSL *ssl, int fd, char *buf, size_t n)
{
	return ssl ? SSL_read(ssl, buf, (int)n) : (int)recv(fd, buf, n, 0);
}

static void srv_write(SSL *ssl, int fd, const char *buf, size_t n, int drip)
{
	while (n) {
		size_t k = drip ? 1 : n;
		int w = ssl ? SSL_write(ssl, buf, (int)k) : (int)send(fd, buf, k, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

static void wait_stop(struct server *s)
{
	struct pollfd p = {.fd = s->stop[0], .events = POLLIN};
	poll(&p, 1, 10000);
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
	(void)ssl;
	struct server *s = arg;
	pthread_mutex_lock(&s->mu);
	snprintf(s->alpn, sizeof s->alpn, "%.*s", inlen > 1 ? (int)in[0] : 0, in + 1);
	pthread_mutex_unlock(&s->mu);
	if (inlen >= 9 && memcmp(in, "\x08http/1.1", 9) == 0) {
		*out = in + 1;
		*outlen = 8;
		return SSL_TLSEXT_ERR_OK;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static void serve_conn(struct server *s, int c)
{
	SSL *ssl = NULL;
	if (s->tls) {
		ssl = SSL_new(s->tls);
		SSL_set_fd(ssl, c);
		if (SSL_accept(ssl) != 1)
			goto out;
		const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		pthread_mutex_lock(&s->mu);
		s->resumed += SSL_session_reused(ssl);
		snprintf(s->sni, sizeof s->sni, "%s", sn ? sn : "");
		pthread_mutex_unlock(&s->mu);
	}
	for (;;) {
		char req[4096];
		size_t len = 0;
		char *end = NULL;
		while (len < sizeof req - 1) {
			int n = srv_read(ssl, c, req + len, sizeof req - 1 - len);
			if (n <= 0)
				goto out;
			len += (size_t)n;
			req[len] = '\0';
			if (req[0] == 0x16) { /* a TLS ClientHello to a plain server */
				srv_write(ssl, c, "HTTP/1.1 400 Bad Request\r\n\r\n", 28, 0);
				goto out;
			}
			if ((end = strstr(req, "\r\n\r\n")) != NULL) {
				const char *cl = strcasestr(req, "\r\nContent-Length:");
				size_t want = (size_t)(end + 4 - req) + (cl && cl < end ? (size_t)atoi(cl + 17) : 0);
				if (len >= want)
					break;
			}
		}
		pthread_mutex_lock(&s->mu);
		int i = s->requests++;
		snprintf(s->last_req, sizeof s->last_req, "%s", req);
		pthread_mutex_unlock(&s->mu);
		if (s->no_reply) {
			wait_stop(s);
			goto out;
		}
		const char *r = s->resp[(size_t)i < s->nresp ? (size_t)i : s->nresp - 1];
		srv_write(ssl, c, r, strlen(r), s->drip);
		if (ssl && s->key_update && SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1)
			SSL_do_handshake(ssl);
		if (s->hold) {
			wait_stop(s);
			goto out;
		}
		if (!s->keep)
			break;
	}
out:
	if (ssl) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	shutdown(c, SHUT_WR);
	close(c);
}

static void *srv_main(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stop[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno == EINTR)
			continue;
		if (pfd[1].revents)
			break;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		pthread_mutex_lock(&s->mu);
		s->accepted++;
		pthread_mutex_unlock(&s->mu);
		struct timeval tv = {.tv_sec = 5};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		serve_conn(s, c);
	}
	return NULL;
}

static int listen_on(int *port, int backlog)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static void srv_start(struct server *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->fd = listen_on(&s->port, 16);
	assert_true(s->fd >= 0);
	assert_int_equal(pipe(s->stop), 0);
	if (s->tls)
		SSL_CTX_set_alpn_select_cb(s->tls, alpn_cb, s);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_stop(struct server *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
}

/* ---- client helpers ---- */
struct call {
	struct httpc_response resp;
	struct httpc_error err;
	int rc;
	long ms;
};

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void do_call(struct httpc *c, const char *method, const char *url, const char *addr, int timeout_ms,
                    int keep, const char *body, struct call *out)
{
	struct url u;
	char err[160];
	if (url_parse(url, &u, err, sizeof err) != 0)
		fail_msg("%s: %s", url, err);
	static const char *const extra[] = {"Accept: */*", NULL};
	struct httpc_request req = {
		.method = method, .url = &u, .addr = addr, .headers = extra, .timeout_ms = timeout_ms,
		.keep_alive = keep, .body = body, .body_len = body ? strlen(body) : 0,
	};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out->rc = httpc_request(c, &req, &out->resp, &out->err);
	out->ms = ms_since(&t0);
}

/* One plain GET against a server answering resp; returns the call for checks. */
static void get_once(struct server *s, const struct httpc_limits *lim, struct call *out)
{
	srv_start(s);
	struct httpc_config cfg = {.user_agent = "test-agent"};
	if (lim)
		cfg.limits = *lim;
	struct httpc *c = httpc_new(&cfg);
	assert_non_null(c);
	char url[96];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/a/b?q=1", s->port);
	do_call(c, "GET", url, "127.0.0.1", 3000, 0, NULL, out);
	httpc_free(c);
	srv_stop(s);
}

static void expect_err(const struct call *c, enum httpc_err code, const char *part)
{
	if (c->rc != -1 || c->err.code != code)
		fail_msg("rc %d code %d (%s), want code %d", c->rc, c->err.code, c->err.msg, code);
	if (!strstr(c->err.msg, part))
		fail_msg("error \"%s\" lacks \"%s\"", c->err.msg, part);
	assert_int_equal(c->resp.status, 0);
	assert_null(c->resp.body);
}

/* ---- tests: plain HTTP ---- */
static void test_content_length(void **state)
{
	(void)state;
	struct server s = {.resp = {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nLink:  <a>;rel=\"up\" \r\n"
	                            "x-a: 2\r\nContent-Type: text/plain\r\n\r\nhello"}, .nresp = 1};
	struct call c;
	get_once(&s, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.resp.status, 200);
	assert_int_equal(c.resp.minor, 1);
	assert_int_equal(c.resp.body_len, 5);
	assert_string_equal(c.resp.body, "hello");
	const char *v[4];
	assert_int_equal(httpc_header_all(&c.resp, "x-a", v, 4), 2);
	assert_string_equal(v[0], "1");
	assert_string_equal(v[1], "2");
	assert_int_equal(httpc_header_all(&c.resp, "X-A", v, 1), 2); /* the count even when max is short */
	assert_string_equal(httpc_header(&c.resp, "LINK"), "<a>;rel=\"up\"");
	assert_string_equal(httpc_header(&c.resp, "content-type"), "text/plain");
	assert_null(httpc_header(&c.resp, "Location"));
	httpc_response_clear(&c.resp);
	/* what the server saw: request line, Host with port, User-Agent, extra header, close */
	char want[64];
	assert_non_null(strstr(s.last_req, "GET /a/b?q=1 HTTP/1.1\r\n") == s.last_req ? s.last_req : NULL);
	snprintf(want, sizeof want, "\r\nHost: 127.0.0.1:%d\r\n", s.port);
	assert_non_null(strstr(s.last_req, want));
	assert_non_null(strstr(s.last_req, "\r\nUser-Agent: test-agent\r\n"));
	assert_non_null(strstr(s.last_req, "\r\nAccept: */*\r\n"));
	assert_non_null(strstr(s.last_req, "\r\nConnection: close\r\n"));
	assert_null(strstr(s.last_req, "Content-Length"));
}

static void test_chunked_dripped(void **state)
{
	(void)state;
	struct server s = {.resp = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                            "5;ext=1\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"},
	                   .nresp = 1, .drip = 1};
	struct call c;
	get_once(&s, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.resp.body, "hello world0123456789");
	assert_int_equal(c.resp.body_len, 21);
	assert_null(httpc_header(&c.resp, "X-Trailer")); /* trailers are checked, not kept */
	httpc_response_clear(&c.resp);
}

static void test_close_delimited(void **state)
{
	(void)state;
	struct server s = {.resp = {"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end\n"}, .nresp = 1};
	struct call c;
	get_once(&s, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.resp.minor, 0);
	assert_string_equal(c.resp.body, "until the end\n");
	httpc_response_clear(&c.resp);
	/* a 1xx before the final answer is skipped; an empty body is NULL */
	struct server s2 = {.resp = {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: <x>\r\n\r\n"
	                             "HTTP/1.1 204 No Content\r\n\r\n"}, .nresp = 1};
	get_once(&s2, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.resp.status, 204);
	assert_int_equal(c.resp.nfields, 0);
	assert_null(c.resp.body);
	httpc_response_clear(&c.resp);
}

static void test_oversize_body(void **state)
{
	(void)state;
	struct httpc_limits lim = {.max_body = 16};
	static const char *const resps[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n01234567890123456",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\n\r\n0123456789abcdefX",
	};
	for (size_t i = 0; i < sizeof resps / sizeof resps[0]; i++) {
		struct server s = {.resp = {resps[i]}, .nresp = 1};
		struct call c;
		get_once(&s, &lim, &c);
		expect_err(&c, HTTPC_ETOOBIG, "larger than 16 bytes");
	}
	/* exactly the limit is fine */
	struct server s = {.resp = {"HTTP/1.1 200 OK\r\n\r\n0123456789abcdef"}, .nresp = 1};
	struct call c;
	get_once(&s, &lim, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.resp.body_len, 16);
	httpc_response_clear(&c.resp);
}

static void test_header_limits(void **state)
{
	(void)state;
	struct httpc_limits lim = {.max_headers = 4, .max_line = 64};
	struct server s = {.resp = {"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nContent-Length: 0\r\n\r\n"},
	                   .nresp = 1};
	struct call c;
	get_once(&s, &lim, &c);
	expect_err(&c, HTTPC_EPROTO, "more than 4 header fields");

	char big[256];
	snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Long: %070d\r\nContent-Length: 0\r\n\r\n", 0);
	struct server s2 = {.resp = {big}, .nresp = 1};
	get_once(&s2, &lim, &c);
	expect_err(&c, HTTPC_EPROTO, "longer than 64 bytes");

	/* 64 bytes exactly is accepted */
	snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Long: %056d\r\nContent-Length: 0\r\n\r\n", 0);
	struct server s3 = {.resp = {big}, .nresp = 1};
	get_once(&s3, &lim, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(strlen(httpc_header(&c.resp, "x-long")), 56);
	httpc_response_clear(&c.resp);
}

static void test_bad_responses(void **state)
{
	(void)state;
	static const struct {
		const char *resp, *err;
	} cases[] = {
		{"HTTP/2 200\r\n\r\n", "invalid status line"},
		{"ICY 200 OK\r\n\r\n", "invalid status line"},
		{"HTTP/1.1 20 OK\r\n\r\n", "invalid status line"},
		{"HTTP/1.1 200OK\r\n\r\n", "invalid status line"},
		{"HTTP/1.1 600 Nope\r\n\r\n", "invalid status line"},
		{"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"},
		{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", "obsolete line folding"},
		{"HTTP/1.1 200 OK\r\nX : a\r\n\r\n", "invalid header field"},
		{"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "invalid header field"},
		{"HTTP/1.1 200 OK\r\nX: a\x01" "b\r\n\r\n", "invalid byte 0x01"},
		{"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare CR"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "conflicting Content-Length"},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "both"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", "chunk data longer"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "before the end of the response"},
		{"", "without a response"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct server s = {.resp = {cases[i].resp}, .nresp = 1};
		struct call c;
		get_once(&s, NULL, &c);
		enum httpc_err want = strstr(cases[i].err, "response") ? HTTPC_EIO : HTTPC_EPROTO;
		expect_err(&c, want, cases[i].err);
	}
}

static void test_deadline(void **state)
{
	(void)state;
	/* the head and part of the body, then silence */
	struct server s = {.resp = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}, .nresp = 1, .hold = 1};
	srv_start(&s);
	struct httpc_config cfg = {0};
	struct httpc *h = httpc_new(&cfg);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
	struct call c;
	do_call(h, "GET", url, "127.0.0.1", 300, 0, NULL, &c);
	srv_stop(&s);
	expect_err(&c, HTTPC_ETIMEOUT, "timeout after 300 ms waiting for the response from 127.0.0.1");
	assert_int_equal(c.err.connected, 1);
	assert_true(c.ms >= 290 && c.ms < 2000);

	/* no answer at all */
	struct server s2 = {.no_reply = 1, .resp = {"x"}, .nresp = 1};
	srv_start(&s2);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s2.port);
	do_call(h, "GET", url, "127.0.0.1", 200, 0, NULL, &c);
	srv_stop(&s2);
	expect_err(&c, HTTPC_ETIMEOUT, "timeout after 200 ms");

	/* a listener that never accepts, its backlog full: the connect itself times out */
	int port, lfd = listen_on(&port, 0);
	int fill[4];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	do_call(h, "GET", url, "127.0.0.1", 300, 0, NULL, &c);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	expect_err(&c, HTTPC_ETIMEOUT, "connecting to 127.0.0.1 port");
	assert_int_equal(c.err.connected, 0);
	httpc_free(h);
}

static void test_connect_refused_and_args(void **state)
{
	(void)state;
	int port, fd = listen_on(&port, 1);
	close(fd);
	struct httpc_config cfg = {0};
	struct httpc *h = httpc_new(&cfg);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	struct call c;
	do_call(h, "GET", url, "127.0.0.1", 1000, 0, NULL, &c);
	expect_err(&c, HTTPC_ECONNECT, "refused");
	assert_int_equal(c.err.connected, 0);
	do_call(h, "GET", url, "localhost", 1000, 0, NULL, &c);
	expect_err(&c, HTTPC_EARG, "not an IP address");
	do_call(h, "GE T", url, "127.0.0.1", 1000, 0, NULL, &c);
	expect_err(&c, HTTPC_EARG, "invalid method");
	httpc_free(h);
}

static void test_keep_alive_and_post(void **state)
{
	(void)state;
	struct server s = {.resp = {"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nReplay-Nonce: n1\r\n\r\nok",
	                            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nReplay-Nonce: n2\r\n\r\nyes",
	                            "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"},
	                   .nresp = 3, .keep = 1};
	srv_start(&s);
	struct httpc_config cfg = {.user_agent = "ua"};
	struct httpc *h = httpc_new(&cfg);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/new-order", s.port);
	struct call c;
	do_call(h, "POST", url, "127.0.0.1", 2000, 1, "{\"a\":1}", &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.resp.status, 201);
	assert_string_equal(httpc_header(&c.resp, "replay-nonce"), "n1");
	httpc_response_clear(&c.resp);
	pthread_mutex_lock(&s.mu);
	assert_non_null(strstr(s.last_req, "POST /new-order HTTP/1.1\r\n"));
	assert_non_null(strstr(s.last_req, "\r\nContent-Length: 7\r\n"));
	assert_non_null(strstr(s.last_req, "\r\nConnection: keep-alive\r\n"));
	assert_non_null(strstr(s.last_req, "\r\n\r\n{\"a\":1}"));
	pthread_mutex_unlock(&s.mu);
	do_call(h, "GET", url, "127.0.0.1", 2000, 1, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.resp.body, "yes");
	httpc_response_clear(&c.resp);
	/* HEAD: no body whatever Content-Length says */
	do_call(h, "HEAD", url, "127.0.0.1", 2000, 1, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.resp.body_len, 0);
	httpc_response_clear(&c.resp);
	pthread_mutex_lock(&s.mu);
	assert_int_equal(s.accepted, 1); /* three requests, one connection */
	assert_int_equal(s.requests, 3);
	pthread_mutex_unlock(&s.mu);
	httpc_free(h);
	srv_stop(&s);

	/* a server that closes after each answer (without saying so): the idle connection is
	 * found dead and replaced */
	struct server s2 = {.resp = {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"}, .nresp = 1};
	srv_start(&s2);
	h = httpc_new(&cfg);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s2.port);
	for (int i = 0; i < 3; i++) {
		do_call(h, "GET", url, "127.0.0.1", 2000, 1, NULL, &c);
		assert_int_equal(c.rc, 0);
		assert_string_equal(c.resp.body, "a");
		httpc_response_clear(&c.resp);
		usleep(20000);
	}
	pthread_mutex_lock(&s2.mu);
	assert_int_equal(s2.accepted, 3);
	pthread_mutex_unlock(&s2.mu);
	httpc_free(h);
	srv_stop(&s2);

	/* Connection: close from the server: not reused */
	struct server s3 = {.resp = {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nb"}, .nresp = 1,
	                    .keep = 1};
	srv_start(&s3);
	h = httpc_new(&cfg);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s3.port);
	for (int i = 0; i < 2; i++) {
		do_call(h, "GET", url, "127.0.0.1", 2000, 1, NULL, &c);
		assert_int_equal(c.rc, 0);
		httpc_response_clear(&c.resp);
	}
	httpc_free(h);
	srv_stop(&s3);
	assert_int_equal(s3.accepted, 2);
}

/* ---- TLS ---- */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL) & 0xffffff);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static void write_pem(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
}

static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(ctx, g_cert);
	SSL_CTX_use_PrivateKey(ctx, g_key);
	return ctx;
}

static void tls_get(const char *host, int verify, const char *ca, struct server *s, struct call *c)
{
	s->tls = server_ctx();
	srv_start(s);
	struct httpc_config cfg = {.tls_verify = verify, .ca_file = ca};
	struct httpc *h = httpc_new(&cfg);
	char url[128];
	snprintf(url, sizeof url, "https://%s:%d/x", host, s->port);
	do_call(h, "GET", url, "127.0.0.1", 3000, 0, NULL, c);
	httpc_free(h);
	srv_stop(s);
	SSL_CTX_free(s->tls);
}

static void test_tls(void **state)
{
	(void)state;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret";
	struct call c;
	/* without verification (the VA on https redirects): any certificate */
	struct server s1 = {.resp = {ok}, .nresp = 1};
	tls_get("unrelated.example", 0, NULL, &s1, &c);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.resp.body, "secret");
	httpc_response_clear(&c.resp);
	assert_string_equal(s1.sni, "unrelated.example"); /* SNI is the URL's host */
	assert_string_equal(s1.alpn, "http/1.1");

	/* verified against the bundle, by name and by IP address */
	struct server s2 = {.resp = {ok}, .nresp = 1};
	tls_get("localhost", 1, g_ca_file, &s2, &c);
	assert_int_equal(c.rc, 0);
	httpc_response_clear(&c.resp);
	struct server s3 = {.resp = {ok}, .nresp = 1};
	tls_get("127.0.0.1", 1, g_ca_file, &s3, &c);
	assert_int_equal(c.rc, 0);
	httpc_response_clear(&c.resp);
	assert_string_equal(s3.sni, ""); /* RFC 6066 §3: no IP literals in SNI */

	/* verification failures: wrong name, untrusted issuer */
	struct server s4 = {.resp = {ok}, .nresp = 1};
	tls_get("other.example", 1, g_ca_file, &s4, &c);
	expect_err(&c, HTTPC_ETLS, "certificate verification failed");
	assert_non_null(strstr(c.err.msg, "mismatch"));
	struct server s5 = {.resp = {ok}, .nresp = 1};
	tls_get("localhost", 1, g_other_ca_file, &s5, &c);
	expect_err(&c, HTTPC_ETLS, "certificate verification failed");
	struct server s6 = {.resp = {ok}, .nresp = 1};
	tls_get("localhost", 1, "/nonexistent/ca.pem", &s6, &c);
	expect_err(&c, HTTPC_ETLS, "cannot load CA certificates from /nonexistent/ca.pem");

	/* TLS to a server speaking plain HTTP */
	struct server s7 = {.resp = {ok}, .nresp = 1};
	srv_start(&s7);
	struct httpc_config cfg = {0};
	struct httpc *h = httpc_new(&cfg);
	char url[64];
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", s7.port);
	do_call(h, "GET", url, "127.0.0.1", 2000, 0, NULL, &c);
	httpc_free(h);
	srv_stop(&s7);
	expect_err(&c, HTTPC_ETLS, "");

	/* keep-alive over TLS: one handshake for two requests, even when the server sent a
	 * post-handshake record (KeyUpdate) while the connection was idle */
	struct server s8 = {.resp = {ok}, .nresp = 1, .keep = 1, .key_update = 1};
	s8.tls = server_ctx();
	srv_start(&s8);
	struct httpc_config vcfg = {.tls_verify = 1, .ca_file = g_ca_file};
	h = httpc_new(&vcfg);
	snprintf(url, sizeof url, "https://localhost:%d/", s8.port);
	for (int i = 0; i < 2; i++) {
		do_call(h, "GET", url, "127.0.0.1", 2000, 1, NULL, &c);
		assert_int_equal(c.rc, 0);
		assert_string_equal(c.resp.body, "secret");
		httpc_response_clear(&c.resp);
		usleep(50000); /* let the KeyUpdate arrive */
	}
	httpc_free(h);
	srv_stop(&s8);
	SSL_CTX_free(s8.tls);
	assert_int_equal(s8.accepted, 1);
	assert_int_equal(s8.requests, 2);
}

/* TLS sessions are resumed on a new connection to the same server (no keep-alive here). */
static void test_tls_resumption(void **state)
{
	(void)state;
	struct server s = {.resp = {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nr"}, .nresp = 1};
	s.tls = server_ctx();
	srv_start(&s);
	struct httpc_config cfg = {.tls_verify = 1, .ca_file = g_ca_file};
	struct httpc *h = httpc_new(&cfg);
	char url[64];
	snprintf(url, sizeof url, "https://localhost:%d/", s.port);
	struct call c;
	for (int i = 0; i < 3; i++) {
		do_call(h, "GET", url, "127.0.0.1", 2000, 0, NULL, &c);
		assert_int_equal(c.rc, 0);
		httpc_response_clear(&c.resp);
	}
	/* another name for the same address: a fresh handshake, verified for that name */
	snprintf(url, sizeof url, "https://127.0.0.1:%d/", s.port);
	do_call(h, "GET", url, "127.0.0.1", 2000, 0, NULL, &c);
	assert_int_equal(c.rc, 0);
	httpc_response_clear(&c.resp);
	httpc_free(h);
	srv_stop(&s);
	SSL_CTX_free(s.tls);
	assert_int_equal(s.accepted, 4);
	assert_int_equal(s.resumed, 2);
}

/* RFC 7617 §2 and §2.1's examples, plus what must be refused. */
static void test_basic_credentials(void **state)
{
	(void)state;
	static const struct {
		const char *user, *pass, *want;
	} ok[] = {
		{"Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
		{"test", "123\xc2\xa3", "Basic dGVzdDoxMjPCow=="}, /* §2.1: UTF-8 */
		{"", "", "Basic Og=="},
		{"u", "", "Basic dTo="},
		{"u", "p", "Basic dTpw"},
		{"u", "a:b", "Basic dTphOmI="}, /* ':' is fine in the password */
	};
	char out[64];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int n = httpc_basic_credentials(ok[i].user, ok[i].pass, out, sizeof out);
		assert_int_equal(n, (int)strlen(ok[i].want));
		assert_string_equal(out, ok[i].want);
	}
	assert_int_equal(httpc_basic_credentials("a:b", "p", out, sizeof out), -1);
	assert_int_equal(httpc_basic_credentials("u", "p\r\nX-Injected: 1", out, sizeof out), -1);
	assert_int_equal(httpc_basic_credentials("u\x7f", "p", out, sizeof out), -1);
	/* "Basic " + 4 for "u:p" + NUL = 11 bytes exactly */
	assert_int_equal(httpc_basic_credentials("u", "p", out, 11), 10);
	assert_int_equal(httpc_basic_credentials("u", "p", out, 10), -1);
	/* the longest credentials the agent passes (255 + 255 bytes) fit a CONNECT to the longest host */
	char user[256], pass[256], big[800];
	memset(user, 'u', 255);
	user[255] = '\0';
	memset(pass, 'p', 255);
	pass[255] = '\0';
	assert_int_equal(httpc_basic_credentials(user, pass, big, sizeof big), 6 + 684);
}

/* ---- through a proxy ---- */
struct proxy {
	int fd, port, stop[2];
	int deny;       /* answer CONNECT with 407 */
	const char *want;   /* answer 407 unless Proxy-Authorization is exactly this */
	const char *scheme; /* the 407's Proxy-Authenticate challenge (default Basic) */
	int n407;           /* 407s sent */
	pthread_t thread;
	char first[512]; /* the first request line seen */
	char auth[128];  /* its Proxy-Authorization */
};

static void relay(int a, int b, int stop)
{
	struct pollfd p[3] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}, {.fd = stop, .events = POLLIN}};
	char buf[4096];
	for (;;) {
		if (poll(p, 3, 5000) <= 0 || p[2].revents)
			return;
		for (int i = 0; i < 2; i++)
			if (p[i].revents) {
				ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
				if (n <= 0)
					return;
				send(p[1 - i].fd, buf, (size_t)n, MSG_NOSIGNAL);
			}
	}
}

static void *proxy_main(void *arg)
{
	struct proxy *px = arg;
	struct pollfd pfd[2] = {{.fd = px->fd, .events = POLLIN}, {.fd = px->stop[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno == EINTR)
			continue;
		if (pfd[1].revents)
			break;
		int c = accept(px->fd, NULL, NULL);
		if (c < 0)
			continue;
		char req[2048];
		size_t len = 0;
		while (len < sizeof req - 1) { /* byte by byte: nothing after the head is ours */
			ssize_t n = recv(c, req + len, 1, 0);
			if (n <= 0)
				break;
			req[++len] = '\0';
			if (len >= 4 && memcmp(req + len - 4, "\r\n\r\n", 4) == 0)
				break;
		}
		req[len] = '\0';
		if (!px->first[0])
			snprintf(px->first, sizeof px->first, "%.*s", (int)strcspn(req, "\r"), req);
		const char *a = strcasestr(req, "\r\nProxy-Authorization: ");
		if (a && !px->auth[0])
			snprintf(px->auth, sizeof px->auth, "%.*s", (int)strcspn(a + 23, "\r"), a + 23);
		int port = 0;
		char got[256];
		snprintf(got, sizeof got, "%.*s", a ? (int)strcspn(a + 23, "\r") : 0, a ? a + 23 : "");
		if (px->deny || (px->want && strcmp(got, px->want) != 0)) {
			char no[256];
			int nl = snprintf(no, sizeof no,
			                  "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: %s\r\n"
			                  "Content-Length: 5\r\n\r\nnope\n",
			                  px->scheme ? px->scheme : "Basic realm=\"test\"");
			send(c, no, (size_t)nl, MSG_NOSIGNAL);
			px->n407++;
		} else if (sscanf(req, "CONNECT localhost:%d ", &port) == 1) {
			int up = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
			                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
			if (connect(up, (struct sockaddr *)&sa, sizeof sa) == 0) {
				static const char yes[] = "HTTP/1.1 200 Connection established\r\n\r\n";
				send(c, yes, sizeof yes - 1, MSG_NOSIGNAL);
				relay(c, up, px->stop[0]);
			}
			close(up);
		} else {
			static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied";
			send(c, r, sizeof r - 1, MSG_NOSIGNAL);
		}
		close(c);
	}
	return NULL;
}

static void proxy_start(struct proxy *px)
{
	px->fd = listen_on(&px->port, 8);
	assert_true(px->fd >= 0);
	assert_int_equal(pipe(px->stop), 0);
	assert_int_equal(pthread_create(&px->thread, NULL, proxy_main, px), 0);
}

static void proxy_stop(struct proxy *px)
{
	assert_int_equal(write(px->stop[1], "x", 1), 1);
	pthread_join(px->thread, NULL);
	close(px->fd);
	close(px->stop[0]);
	close(px->stop[1]);
}

static void proxy_call(struct httpc *h, const char *url, struct proxy *px, const char *auth, struct call *out)
{
	struct url u;
	char err[160];
	assert_int_equal(url_parse(url, &u, err, sizeof err), 0);
	struct httpc_request req = {.method = "GET", .url = &u, .timeout_ms = 3000, .proxy_addr = "127.0.0.1",
	                            .proxy_port = px->port, .proxy_auth = auth};
	out->rc = httpc_request(h, &req, &out->resp, &out->err);
}

static void test_proxy(void **state)
{
	(void)state;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret";
	struct server s = {.resp = {ok}, .nresp = 1};
	s.tls = server_ctx();
	srv_start(&s);
	struct proxy px = {0};
	proxy_start(&px);
	struct httpc_config cfg = {.tls_verify = 1, .ca_file = g_ca_file};
	struct httpc *h = httpc_new(&cfg);
	char url[64], want[96];
	snprintf(url, sizeof url, "https://localhost:%d/dir", s.port);
	struct call c;
	/* https: a CONNECT tunnel, TLS verified end to end with the origin */
	proxy_call(h, url, &px, "Basic dTpw", &c);
	if (c.rc != 0)
		fail_msg("%s", c.err.msg);
	assert_string_equal(c.resp.body, "secret");
	httpc_response_clear(&c.resp);
	snprintf(want, sizeof want, "CONNECT localhost:%d HTTP/1.1", s.port);
	assert_string_equal(px.first, want);
	assert_string_equal(px.auth, "Basic dTpw");
	assert_string_equal(s.sni, "localhost");
	proxy_stop(&px);

	/* http: absolute-form to the proxy */
	struct proxy px2 = {0};
	proxy_start(&px2);
	proxy_call(h, "http://origin.example:8080/a?b", &px2, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.resp.body, "proxied");
	httpc_response_clear(&c.resp);
	assert_string_equal(px2.first, "GET http://origin.example:8080/a?b HTTP/1.1");
	proxy_stop(&px2);

	/* a refusal */
	struct proxy px3 = {.deny = 1};
	proxy_start(&px3);
	proxy_call(h, url, &px3, NULL, &c);
	expect_err(&c, HTTPC_EPROXY, "refused the tunnel");
	assert_non_null(strstr(c.err.msg, "status 407"));
	assert_int_equal(c.err.proxy_status, 407);
	assert_string_equal(c.err.proxy_scheme, "Basic");
	proxy_stop(&px3);
	assert_int_equal(px3.n407, 1); /* no retry */

	/* a proxy that wants Basic credentials (RFC 7617): none, wrong, then right ones */
	char good[128], wrong[128];
	assert_true(httpc_basic_credentials("Aladdin", "open sesame", good, sizeof good) > 0);
	assert_true(httpc_basic_credentials("Aladdin", "open sesame!", wrong, sizeof wrong) > 0);
	struct proxy px4 = {.want = good};
	proxy_start(&px4);
	proxy_call(h, url, &px4, NULL, &c);
	expect_err(&c, HTTPC_EPROXY, "status 407");
	assert_int_equal(c.err.proxy_status, 407);
	proxy_call(h, url, &px4, wrong, &c);
	expect_err(&c, HTTPC_EPROXY, "status 407");
	assert_int_equal(c.err.proxy_status, 407);
	proxy_call(h, url, &px4, good, &c);
	if (c.rc != 0)
		fail_msg("%s", c.err.msg);
	assert_int_equal(c.resp.status, 200);
	assert_string_equal(c.resp.body, "secret");
	httpc_response_clear(&c.resp);
	proxy_stop(&px4);
	assert_int_equal(px4.n407, 2); /* one per request without the right credentials */

	/* a proxy that wants another scheme: its name comes back, token characters only */
	struct proxy px5 = {.deny = 1, .scheme = "Negotiate, NTLM"};
	proxy_start(&px5);
	proxy_call(h, url, &px5, good, &c);
	expect_err(&c, HTTPC_EPROXY, "status 407");
	assert_string_equal(c.err.proxy_scheme, "Negotiate");
	/* for http the 407 is the response (the caller's to judge), not a proxy error */
	proxy_call(h, "http://origin.example/", &px5, NULL, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.resp.status, 407);
	assert_int_equal(c.err.proxy_status, 0);
	httpc_response_clear(&c.resp);
	proxy_stop(&px5);
	httpc_free(h);
	srv_stop(&s);
	SSL_CTX_free(s.tls);
}

/* ---- the parser on buffers ---- */
static int parse_split(const char *data, size_t len, size_t split, int head, struct httpc_response *r,
                       size_t *leftover)
{
	struct httpc_parser p;
	struct httpc_limits lim = {0};
	assert_int_equal(httpc_parser_init(&p, &lim, head, r), 0);
	size_t used = 0;
	int st = httpc_parser_feed(&p, data, split, &used);
	size_t off = used;
	if (st == HTTPC_PARSE_MORE && split < len) {
		st = httpc_parser_feed(&p, data + split, len - split, &used);
		off = split + used;
	}
	if (st == HTTPC_PARSE_MORE)
		st = httpc_parser_eof(&p);
	*leftover = len - off;
	httpc_parser_free(&p);
	return st;
}

static void test_parser_splits(void **state)
{
	(void)state;
	static const struct {
		const char *in, *body;
		size_t leftover;
	} cases[] = {
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n2 ; x=\"y\"\r\nde\r\n0\r\n\r\n",
		 "abcde", 0},
		{"HTTP/1.1 200 OK\nContent-Length: 3\n\nxyz", "xyz", 0}, /* RFC 9112 §2.2: bare LF */
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyzHTTP/1.1 200 OK\r\n", "xyz", 17},
		{"HTTP/1.1 200 \r\nContent-Length: 3, 3\r\n\r\nxyz", NULL, 0}, /* a list is not a number */
		{"HTTP/1.0 200 OK\r\n\r\nabc\r\n", "abc\r\n", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = strlen(cases[i].in);
		for (size_t split = 0; split <= len; split++) {
			struct httpc_response r;
			size_t left;
			int st = parse_split(cases[i].in, len, split, 0, &r, &left);
			if (!cases[i].body) {
				assert_int_equal(st, HTTPC_PARSE_ERROR);
			} else {
				if (st != HTTPC_PARSE_DONE)
					fail_msg("case %zu split %zu: %d", i, split, st);
				assert_string_equal(r.body, cases[i].body);
				assert_int_equal(r.status, 200);
				assert_int_equal(left, cases[i].leftover);
			}
			httpc_response_clear(&r);
		}
	}
	/* HEAD: the head is the whole response */
	struct httpc_response r;
	size_t left;
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 500\r\nReplay-Nonce: abc\r\n\r\n";
	assert_int_equal(parse_split(head, sizeof head - 1, sizeof head - 1, 1, &r, &left), HTTPC_PARSE_DONE);
	assert_string_equal(httpc_header(&r, "Replay-Nonce"), "abc");
	assert_null(r.body);
	httpc_response_clear(&r);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	g_key = EVP_EC_gen("P-256");
	EVP_PKEY *other = EVP_EC_gen("P-256");
	if (!g_key || !other)
		return -1;
	g_cert = make_cert(g_key, "localhost", "DNS:localhost,IP:127.0.0.1");
	g_other_cert = make_cert(other, "other", "DNS:localhost");
	EVP_PKEY_free(other);
	snprintf(g_ca_file, sizeof g_ca_file, "/tmp/test_httpc_ca_%d.pem", (int)getpid());
	snprintf(g_other_ca_file, sizeof g_other_ca_file, "/tmp/test_httpc_other_%d.pem", (int)getpid());
	write_pem(g_ca_file, g_cert);
	write_pem(g_other_ca_file, g_other_cert);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(g_ca_file);
	unlink(g_other_ca_file);
	X509_free(g_cert);
	X509_free(g_other_cert);
	EVP_PKEY_free(g_key);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked_dripped),
		cmocka_unit_test(test_close_delimited),
		cmocka_unit_test(test_oversize_body),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_bad_responses),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_connect_refused_and_args),
		cmocka_unit_test(test_keep_alive_and_post),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_tls_resumption),
		cmocka_unit_test(test_basic_credentials),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_parser_splits),
	};
	return cmocka_run_group_tests_name("httpc", tests, setup, teardown);
}
