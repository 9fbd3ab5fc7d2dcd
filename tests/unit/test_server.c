/* server.c + reply.c: the HTTPS listener's evhttp (server_http_setup, server_base_new) serving
 * test handlers that answer through reply.c, on 127.0.0.1 with a throwaway certificate, talked
 * to by a blocking OpenSSL client that counts the TLS records it receives (issue 7: a response
 * under 16 KiB is one record; larger bodies, request bodies spanning records, pipelined and
 * keep-alive requests and the body limit still work). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "api/api.h"
#include "api/reply.h"

#define MAX_BODY 4096 /* evhttp's cap is 4x: 16 KiB */

struct srv {
	struct config cfg;
	struct api a;
	struct evhttp *http;
	pthread_t thread;
	int port;
};

static struct srv g;

/* Byte i of a test body: not periodic at any record or chain size. */
static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

/* GET /big?n=N: N pattern bytes. POST /echo: the request body back. Anything else: a small
 * JSON document (HEAD gets its headers and a nonce). */
static void handler(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	const char *uri = evhttp_request_get_uri(req);
	if (strncmp(uri, "/big?n=", 7) == 0) {
		size_t n = strtoul(uri + 7, NULL, 10);
		unsigned char *b = malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			b[i] = pattern(i);
		reply_raw(a, req, 200, "application/octet-stream", b, n);
		free(b);
		return;
	}
	if (strcmp(uri, "/echo") == 0) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		unsigned char *b = malloc(n ? n : 1);
		evbuffer_remove(in, b, n);
		reply_raw(a, req, 200, "application/octet-stream", b, n);
		free(b);
		return;
	}
	if (strcmp(uri, "/problem") == 0) {
		reply_problem(a, req, problem_new("malformed", 400, "a test problem"));
		return;
	}
	reply_json(a, req, 200, json_pack("{s:s}", "status", "ok"), NULL);
}

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(g.a.base);
	return NULL;
}

static SSL_CTX *server_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME *nm = X509_NAME_new();
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, nm);
	X509_NAME_free(nm);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static int setup(void **state)
{
	(void)state;
	evthread_use_pthreads();
	memset(&g, 0, sizeof g);
	config_defaults(&g.cfg);
	g.cfg.max_body = MAX_BODY;
	g.a.cfg = &g.cfg;
	unsigned char k[NONCE_KEY_LEN] = {1, 2, 3};
	g.a.nonces = nonce_ctx_new_key(k);
	snprintf(g.a.directory_url, sizeof g.a.directory_url, "https://127.0.0.1/directory");
	g.a.ssl_ctx = server_ctx();
	g.a.base = server_base_new();
	assert_non_null(g.a.base);
	g.http = evhttp_new(g.a.base);
	assert_non_null(g.http);
	server_http_setup(&g.a, g.http);
	evhttp_set_gencb(g.http, handler, &g.a);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(g.http, "127.0.0.1", 0);
	assert_non_null(bs);
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl), 0);
	g.port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&g.thread, NULL, loop_main, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	event_base_loopexit(g.a.base, NULL);
	pthread_join(g.thread, NULL);
	evhttp_free(g.http);
	event_base_free(g.a.base);
	SSL_CTX_free(g.a.ssl_ctx);
	nonce_ctx_free(g.a.nonces);
	config_free(&g.cfg);
	return 0;
}

/* ---- the client ---- */
struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int app_records; /* application-data records received */
	unsigned char buf[1 << 18];
	size_t have;
};

/* Counts received application-data records: in TLS 1.3 from the decrypted inner content
 * type (the outer type is always application_data, session tickets included), in TLS 1.2
 * from the record header. */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)
{
	(void)version;
	struct conn *c = arg;
	if (write_p || len < 1)
		return;
	int tls13 = SSL_version(ssl) == TLS1_3_VERSION;
	if ((tls13 && content_type == SSL3_RT_INNER_CONTENT_TYPE) || (!tls13 && content_type == SSL3_RT_HEADER))
		if (((const unsigned char *)buf)[0] == SSL3_RT_APPLICATION_DATA)
			c->app_records++;
}

/* The client helpers return -1 instead of asserting: t_concurrent runs them in threads. */
static int conn_open(struct conn *c, int max_version)
{
	memset(c, 0, offsetof(struct conn, buf));
	c->have = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		return -1;
	struct timeval tv = {.tv_sec = 10};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (!(c->ctx = SSL_CTX_new(TLS_client_method())) || !(c->ssl = SSL_new(c->ctx)))
		return -1;
	SSL_CTX_set_max_proto_version(c->ctx, max_version);
	SSL_set_max_proto_version(c->ssl, max_version);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_msg_callback(c->ssl, msg_cb);
	SSL_set_msg_callback_arg(c->ssl, c);
	return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

static void conn_close(struct conn *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
}

static int conn_send(struct conn *c, const void *data, size_t len)
{
	return SSL_write(c->ssl, data, (int)len) == (int)len ? 0 : -1;
}

/* Reads more into c->buf; the number of bytes, 0 at the end of the stream or on an error. */
static int conn_fill(struct conn *c)
{
	if (c->have >= sizeof c->buf)
		return 0;
	int n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof c->buf - c->have));
	if (n <= 0)
		return 0;
	c->have += (size_t)n;
	return n;
}

struct resp {
	int status;
	char headers[4096];
	unsigned char *body;
	size_t len;
	int records; /* application-data records that carried it */
};

/* Reads one response (Content-Length framed; HEAD has none to read): 0 or -1. */
static int conn_response(struct conn *c, struct resp *r, int head)
{
	memset(r, 0, sizeof *r);
	int before = c->app_records;
	unsigned char *end;
	while (!(end = memmem(c->buf, c->have, "\r\n\r\n", 4)))
		if (!conn_fill(c))
			return -1;
	size_t hl = (size_t)(end + 4 - c->buf);
	if (hl >= sizeof r->headers)
		return -1;
	memcpy(r->headers, c->buf, hl);
	r->headers[hl] = '\0';
	if (sscanf(r->headers, "HTTP/1.1 %d", &r->status) != 1)
		return -1;
	const char *cl = strcasestr(r->headers, "\r\nContent-Length:");
	size_t want = head || !cl ? 0 : strtoul(cl + 17, NULL, 10);
	while (c->have < hl + want)
		if (!conn_fill(c))
			return -1;
	if (!(r->body = malloc(want + 1)))
		return -1;
	memcpy(r->body, c->buf + hl, want);
	r->body[want] = '\0';
	r->len = want;
	memmove(c->buf, c->buf + hl + want, c->have - hl - want);
	c->have -= hl + want;
	r->records = c->app_records - before;
	return 0;
}

static int get(struct conn *c, const char *path, struct resp *r)
{
	char q[256];
	int n = snprintf(q, sizeof q, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	return conn_send(c, q, (size_t)n) == 0 ? conn_response(c, r, 0) : -1;
}

static void check_pattern(const struct resp *r, size_t n)
{
	assert_int_equal(r->status, 200);
	assert_int_equal(r->len, n);
	for (size_t i = 0; i < n; i++)
		if (r->body[i] != pattern(i))
			fail_msg("byte %zu of %zu differs", i, n);
}

/* A JSON reply and a problem document each arrive in one record (they were two: headers and
 * body), on TLS 1.3 and 1.2; the headers reply.c promises are there. */
static void t_small_reply_one_record(void **state)
{
	(void)state;
	int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
	for (size_t v = 0; v < 2; v++) {
		struct conn c;
		assert_int_equal(conn_open(&c, versions[v]), 0);
		struct resp r;
		assert_int_equal(get(&c, "/small", &r), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr((char *)r.body, "\"status\": \"ok\""));
		assert_non_null(strcasestr(r.headers, "\r\nLink: <https://127.0.0.1/directory>;rel=\"index\""));
		assert_int_equal(r.records, 1);
		free(r.body);
		assert_int_equal(get(&c, "/problem", &r), 0);
		assert_int_equal(r.status, 400);
		assert_non_null(strcasestr(r.headers, "\r\nContent-Type: application/problem+json"));
		assert_non_null(strstr((char *)r.body, "urn:ietf:params:acme:error:malformed"));
		assert_int_equal(r.records, 1);
		free(r.body);
		conn_close(&c);
	}
}

/* Bodies that span several records arrive intact, in at most one record per 16 KiB and one
 * more, and the connection stays usable. */
static void t_large_bodies(void **state)
{
	(void)state;
	struct conn c;
	assert_int_equal(conn_open(&c, TLS1_3_VERSION), 0);
	size_t sizes[] = {16000, 16384, 16385, 40000, 200000, 0};
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		char path[64];
		snprintf(path, sizeof path, "/big?n=%zu", sizes[k]);
		struct resp r;
		assert_int_equal(get(&c, path, &r), 0);
		check_pattern(&r, sizes[k]);
		size_t total = strlen(r.headers) + sizes[k];
		assert_true(r.records >= 1);
		assert_true((size_t)r.records <= (total + 16383) / 16384 + 1);
		free(r.body);
	}
	struct resp r;
	assert_int_equal(get(&c, "/small", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.records, 1);
	free(r.body);
	conn_close(&c);
}

/* Several requests sent at once (one of them with a body spanning records, one a HEAD) are
 * answered in order on the same connection. */
static void t_pipelined(void **state)
{
	(void)state;
	struct conn c;
	assert_int_equal(conn_open(&c, TLS1_3_VERSION), 0);
	size_t bl = MAX_BODY * 4; /* evhttp's limit: still accepted */
	char *all = malloc(bl + 1024);
	size_t n = (size_t)sprintf(all, "GET /big?n=30000 HTTP/1.1\r\nHost: x\r\n\r\n"
	                                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", bl);
	for (size_t i = 0; i < bl; i++)
		all[n++] = (char)pattern(i);
	n += (size_t)sprintf(all + n, "HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n"
	                              "GET /small HTTP/1.1\r\nHost: x\r\n\r\n");
	/* Two writes: the second one's records arrive while the first requests are handled. */
	assert_int_equal(conn_send(&c, all, n / 2), 0);
	assert_int_equal(conn_send(&c, all + n / 2, n - n / 2), 0);
	free(all);
	struct resp r;
	assert_int_equal(conn_response(&c, &r, 0), 0);
	check_pattern(&r, 30000);
	free(r.body);
	assert_int_equal(conn_response(&c, &r, 0), 0);
	check_pattern(&r, bl);
	free(r.body);
	assert_int_equal(conn_response(&c, &r, 1), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strcasestr(r.headers, "\r\nReplay-Nonce: "));
	free(r.body);
	assert_int_equal(conn_response(&c, &r, 0), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr((char *)r.body, "\"status\": \"ok\""));
	free(r.body);
	assert_int_equal(c.have, 0);
	conn_close(&c);
}

/* HEAD, one request at a time on one connection: the Content-Length a GET gets (RFC 9110
 * §9.3.2, §8.6) and no body, and the following GET's response is read correctly, for a
 * body spanning records, a small JSON document and a problem document. */
static void t_head_then_get(void **state)
{
	(void)state;
	struct conn c;
	assert_int_equal(conn_open(&c, TLS1_3_VERSION), 0);
	const char *paths[] = {"/big?n=30000", "/small", "/problem"};
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		char q[256];
		int n = snprintf(q, sizeof q, "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n", paths[i]);
		assert_int_equal(conn_send(&c, q, (size_t)n), 0);
		struct resp h, r;
		assert_int_equal(conn_response(&c, &h, 1), 0);
		/* A stray body would be in the same record as the headers (one record per response). */
		assert_int_equal(c.have, 0);
		assert_int_equal(get(&c, paths[i], &r), 0);
		assert_int_equal(h.status, r.status);
		assert_true(r.len > 0);
		const char *cl = strcasestr(h.headers, "\r\nContent-Length:");
		assert_non_null(cl);
		assert_int_equal(strtoul(cl + 17, NULL, 10), r.len);
		assert_non_null(strcasestr(h.headers, "\r\nReplay-Nonce: "));
		if (i == 0)
			check_pattern(&r, 30000);
		assert_int_equal(c.have, 0);
		free(h.body);
		free(r.body);
	}
	conn_close(&c);
}

/* The body cap still holds (413, connection closed), and "Connection: close" still closes
 * after a complete response. */
static void t_limits_and_close(void **state)
{
	(void)state;
	struct conn c;
	assert_int_equal(conn_open(&c, TLS1_3_VERSION), 0);
	char q[256];
	int n = snprintf(q, sizeof q, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", MAX_BODY * 4 + 1);
	assert_int_equal(conn_send(&c, q, (size_t)n), 0);
	struct resp r;
	assert_int_equal(conn_response(&c, &r, 0), 0);
	assert_int_equal(r.status, 413);
	free(r.body);
	assert_int_equal(conn_fill(&c), 0);
	conn_close(&c);

	assert_int_equal(conn_open(&c, TLS1_3_VERSION), 0);
	n = snprintf(q, sizeof q, "GET /big?n=20000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(conn_send(&c, q, (size_t)n), 0);
	assert_int_equal(conn_response(&c, &r, 0), 0);
	check_pattern(&r, 20000);
	free(r.body);
	assert_int_equal(conn_fill(&c), 0);
	conn_close(&c);
}

/* Many short keep-alive connections at once, each with a few requests: all answered. */
static void *client_thread(void *arg)
{
	int *ok = arg;
	for (int k = 0; k < 10; k++) {
		struct conn *c = calloc(1, sizeof *c);
		if (!c)
			return NULL;
		c->fd = -1;
		if (conn_open(c, TLS1_3_VERSION) == 0)
			for (int i = 0; i < 5; i++) {
				struct resp r = {0};
				if (get(c, i % 2 ? "/big?n=5000" : "/small", &r) == 0)
					*ok += r.status == 200 && (i % 2 == 0 || r.len == 5000);
				free(r.body);
			}
		conn_close(c);
		free(c);
	}
	return NULL;
}

static void t_concurrent(void **state)
{
	(void)state;
	pthread_t t[4];
	int ok[4] = {0};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, client_thread, &ok[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(ok[i], 50);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_small_reply_one_record),
	    cmocka_unit_test(t_large_bodies),
	    cmocka_unit_test(t_pipelined),
	    cmocka_unit_test(t_head_then_get),
	    cmocka_unit_test(t_limits_and_close),
	    cmocka_unit_test(t_concurrent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
