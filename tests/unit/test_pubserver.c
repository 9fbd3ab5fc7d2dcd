/* pubserver.c + lifecycle_crl + reply.c on the public plain-HTTP listener, with a real CA and
 * SQLite store, on 127.0.0.1: a HEAD for a CRL, an OCSP response or an error is answered with
 * the headers a GET gets (Content-Length included, RFC 9110 §9.3.2) and no body, so the next
 * response on the keep-alive connection is read correctly (libevent 2.1 sent the body after
 * a HEAD response: the client took it for the start of the next response). Sequential and
 * pipelined requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "api/api.h"
#include "api/pubserver.h"
#include "issuance/ca.h"
#include "storage/store.h"

static struct {
	char dir[64];
	struct config cfg;
	struct api a;
	struct pubserver *pub;
	pthread_t thread;
	int port;
	char ocsp_path[1024]; /* /ocsp/<url-encoded base64 of a DER request> */
	unsigned char *ocsp_der;
	int ocsp_len;
} g;

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(g.a.base);
	return NULL;
}

/* An OCSP request for a serial of the intermediate's (unknown to the store: the answer is a
 * signed "unknown", a body like any other). */
static void make_ocsp_request(void)
{
	X509 *inter = ca_intermediate_cert(g.a.ca);
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	ASN1_INTEGER_set(serial, 0x1234567);
	OCSP_CERTID *cid =
	    OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(inter), X509_get0_pubkey_bitstr(inter), serial);
	OCSP_REQUEST *rq = OCSP_REQUEST_new();
	assert_non_null(OCSP_request_add0_id(rq, cid));
	g.ocsp_len = i2d_OCSP_REQUEST(rq, &g.ocsp_der);
	assert_true(g.ocsp_len > 0);
	OCSP_REQUEST_free(rq);
	ASN1_INTEGER_free(serial);
	unsigned char b64[512];
	assert_true(g.ocsp_len < 300);
	int n = EVP_EncodeBlock(b64, g.ocsp_der, g.ocsp_len);
	size_t o = (size_t)snprintf(g.ocsp_path, sizeof g.ocsp_path, "/ocsp/");
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(g.ocsp_path + o, sizeof g.ocsp_path - o,
		                      b64[i] == '+' ? "%%2B" : b64[i] == '/' ? "%%2F" : b64[i] == '=' ? "%%3D" : "%c",
		                      b64[i]);
	assert_true(o < sizeof g.ocsp_path - 1);
}

static int setup(void **state)
{
	(void)state;
	evthread_use_pthreads();
	memset(&g, 0, sizeof g);
	snprintf(g.dir, sizeof g.dir, "/tmp/cobble-test-pub.XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	char data[128], spec[128], err[256] = "";
	snprintf(data, sizeof data, "%s/data", g.dir);
	snprintf(spec, sizeof spec, "sqlite:%s/db.sqlite", g.dir);
	config_defaults(&g.cfg);
	g.cfg.public_host = strdup("127.0.0.1");
	g.cfg.public_port = 0;
	g.cfg.ocsp = 1;
	struct ca_config cc;
	memset(&cc, 0, sizeof cc);
	cc.data_dir = data;
	cc.base_url = "https://127.0.0.1:14000";
	cc.crl_shards = g.cfg.crl_shards;
	if (ca_open(&cc, &g.a.ca, err, sizeof err))
		fail_msg("ca_open: %s", err);
	if (store_open(spec, &g.a.store, err, sizeof err) != STORE_OK)
		fail_msg("store_open: %s", err);
	g.a.cfg = &g.cfg;
	g.a.base = event_base_new();
	assert_non_null(g.a.base);
	g.pub = pubserver_start(&g.a, err, sizeof err);
	if (!g.pub)
		fail_msg("pubserver_start: %s", err);
	g.port = pubserver_port(g.pub);
	assert_true(g.port > 0);
	make_ocsp_request();
	assert_int_equal(pthread_create(&g.thread, NULL, loop_main, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	event_base_loopexit(g.a.base, NULL);
	pthread_join(g.thread, NULL);
	pubserver_stop(g.pub);
	event_base_free(g.a.base);
	store_close(g.a.store);
	ca_free(g.a.ca);
	OPENSSL_free(g.ocsp_der);
	config_free(&g.cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- a plain-HTTP client ---- */
struct conn {
	int fd;
	unsigned char buf[1 << 18];
	size_t have;
};

static void conn_open(struct conn *c)
{
	c->have = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void conn_send(struct conn *c, const void *data, size_t len)
{
	assert_int_equal(send(c->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

static int conn_fill(struct conn *c)
{
	if (c->have >= sizeof c->buf)
		return 0;
	ssize_t n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
	if (n <= 0)
		return 0;
	c->have += (size_t)n;
	return (int)n;
}

/* Nothing more arrives within ms (a HEAD response's stray body would). */
static void conn_quiet(struct conn *c, int ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	assert_int_equal(c->have, 0);
	if (poll(&p, 1, ms) > 0) {
		int n = conn_fill(c);
		fail_msg("%d unexpected bytes after the response: %.40s", n, (const char *)c->buf);
	}
}

struct resp {
	int status;
	char headers[4096];
	long content_length; /* -1: none */
	unsigned char *body;
	size_t len;
};

/* One response, framed by its Content-Length; a HEAD response has no body to read. */
static void conn_response(struct conn *c, struct resp *r, int head)
{
	memset(r, 0, sizeof *r);
	unsigned char *end;
	while (!(end = memmem(c->buf, c->have, "\r\n\r\n", 4)))
		if (!conn_fill(c))
			fail_msg("connection ended before the headers (%zu bytes)", c->have);
	size_t hl = (size_t)(end + 4 - c->buf);
	assert_true(hl < sizeof r->headers);
	memcpy(r->headers, c->buf, hl);
	r->headers[hl] = '\0';
	if (sscanf(r->headers, "HTTP/1.1 %d ", &r->status) != 1)
		fail_msg("not a status line: %.60s", r->headers);
	const char *cl = strcasestr(r->headers, "\r\nContent-Length:");
	r->content_length = cl ? strtol(cl + 17, NULL, 10) : -1;
	size_t want = head || !cl ? 0 : (size_t)r->content_length;
	while (c->have < hl + want)
		if (!conn_fill(c))
			fail_msg("connection ended in the body");
	r->body = malloc(want + 1);
	assert_non_null(r->body);
	memcpy(r->body, c->buf + hl, want);
	r->body[want] = '\0';
	r->len = want;
	memmove(c->buf, c->buf + hl + want, c->have - hl - want);
	c->have -= hl + want;
}

static void request(struct conn *c, const char *method, const char *path)
{
	char q[1400];
	int n = snprintf(q, sizeof q, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, path);
	assert_true(n > 0 && (size_t)n < sizeof q);
	conn_send(c, q, (size_t)n);
}

static const char *header(const struct resp *r, const char *name, char *out, size_t outlen)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\r\n%s:", name);
	const char *h = strcasestr(r->headers, pat);
	if (!h)
		return NULL;
	h += strlen(pat);
	while (*h == ' ')
		h++;
	size_t n = strcspn(h, "\r");
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, h, n);
	out[n] = '\0';
	return out;
}

/* head answers what get answers, without the body: same status and Content-Type, a
 * Content-Length equal to the GET's body length (OCSP: each answer is signed anew, and an
 * ECDSA signature's DER length varies by a few bytes). */
static void check_head_like_get(const struct resp *head, const struct resp *get, const char *what)
{
	long slack = strncmp(what, "/ocsp/", 6) == 0 ? 8 : 0;
	char h1[128], h2[128];
	if (head->status != get->status)
		fail_msg("%s: HEAD %d, GET %d", what, head->status, get->status);
	assert_int_equal(head->len, 0);
	assert_true(get->len > 0);
	if (head->content_length < (long)get->len - slack || head->content_length > (long)get->len + slack)
		fail_msg("%s: HEAD Content-Length %ld, GET body %zu", what, head->content_length, get->len);
	assert_int_equal(get->content_length, (long)get->len);
	assert_non_null(header(head, "Content-Type", h1, sizeof h1));
	assert_non_null(header(get, "Content-Type", h2, sizeof h2));
	assert_string_equal(h1, h2);
	assert_null(strcasestr(head->headers, "\r\nConnection: close"));
}

static void check_crl(const struct resp *r)
{
	char ct[64];
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type", ct, sizeof ct), "application/pkix-crl");
	const unsigned char *p = r->body;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)r->len);
	assert_non_null(crl);
	assert_ptr_equal(p, r->body + r->len);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_intermediate_cert(g.a.ca))), 1);
	X509_CRL_free(crl);
}

static void check_ocsp(const struct resp *r)
{
	char ct[64];
	assert_int_equal(r->status, 200);
	assert_string_equal(header(r, "Content-Type", ct, sizeof ct), "application/ocsp-response");
	const unsigned char *p = r->body;
	OCSP_RESPONSE *o = d2i_OCSP_RESPONSE(NULL, &p, (long)r->len);
	assert_non_null(o);
	assert_int_equal(OCSP_response_status(o), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OCSP_RESPONSE_free(o);
}

/* Every resource of the public listener, and its errors. */
static const struct {
	const char *path; /* NULL: g.ocsp_path */
	int status;
} resources[] = {
    {"/crl/0.crl", 200}, {"/crl/3.crl", 200}, {NULL, 200},
    {"/crl/4.crl", 404}, {"/crl/x.crl", 404}, {"/other", 404},
};
#define NRES (sizeof resources / sizeof *resources)

static const char *res_path(size_t i)
{
	return resources[i].path ? resources[i].path : g.ocsp_path;
}

static void check_body(size_t i, const struct resp *r)
{
	if (resources[i].status == 200 && resources[i].path)
		check_crl(r);
	else if (resources[i].status == 200)
		check_ocsp(r);
}

/* One request at a time on one connection: HEAD, then GET, then HEAD again, for each
 * resource. After each response nothing more arrives. */
static void t_head_then_get(void **state)
{
	(void)state;
	struct conn *c = malloc(sizeof *c);
	assert_non_null(c);
	conn_open(c);
	for (size_t i = 0; i < NRES; i++) {
		struct resp h, r, h2;
		request(c, "HEAD", res_path(i));
		conn_response(c, &h, 1);
		conn_quiet(c, 100);
		request(c, "GET", res_path(i));
		conn_response(c, &r, 0);
		conn_quiet(c, 20);
		if (r.status != resources[i].status)
			fail_msg("GET %s: %d, not %d", res_path(i), r.status, resources[i].status);
		check_body(i, &r);
		check_head_like_get(&h, &r, res_path(i));
		request(c, "HEAD", res_path(i));
		conn_response(c, &h2, 1);
		conn_quiet(c, 20);
		check_head_like_get(&h2, &r, res_path(i));
		free(h.body);
		free(r.body);
		free(h2.body);
	}
	close(c->fd);
	free(c);
}

/* All at once in one write: HEAD and GET of every resource, an OCSP POST, a POST where only
 * GET and HEAD are allowed (405 with Allow), and a last GET: answered in order, and nothing
 * is left over. */
static void t_pipelined(void **state)
{
	(void)state;
	struct conn *c = malloc(sizeof *c);
	assert_non_null(c);
	conn_open(c);
	size_t cap = 16384, n = 0;
	char *all = malloc(cap);
	assert_non_null(all);
	for (size_t i = 0; i < NRES; i++)
		n += (size_t)snprintf(all + n, cap - n,
		                      "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\nGET %s HTTP/1.1\r\nHost: x\r\n\r\n",
		                      res_path(i), res_path(i));
	n += (size_t)snprintf(all + n, cap - n,
	                      "POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
	                      "Content-Length: %d\r\n\r\n",
	                      g.ocsp_len);
	memcpy(all + n, g.ocsp_der, (size_t)g.ocsp_len);
	n += (size_t)g.ocsp_len;
	n += (size_t)snprintf(all + n, cap - n,
	                      "POST /crl/0.crl HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nxy"
	                      "HEAD /crl/1.crl HTTP/1.1\r\nHost: x\r\n\r\n"
	                      "GET /crl/1.crl HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(n < cap);
	conn_send(c, all, n);
	free(all);
	for (size_t i = 0; i < NRES; i++) {
		struct resp h, r;
		conn_response(c, &h, 1);
		conn_response(c, &r, 0);
		if (r.status != resources[i].status)
			fail_msg("GET %s: %d, not %d", res_path(i), r.status, resources[i].status);
		check_body(i, &r);
		check_head_like_get(&h, &r, res_path(i));
		free(h.body);
		free(r.body);
	}
	struct resp r, h;
	char allow[64];
	conn_response(c, &r, 0);
	check_ocsp(&r);
	free(r.body);
	conn_response(c, &r, 0);
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow", allow, sizeof allow), "GET, HEAD");
	free(r.body);
	conn_response(c, &h, 1);
	conn_response(c, &r, 0);
	check_crl(&r);
	check_head_like_get(&h, &r, "/crl/1.crl");
	free(h.body);
	free(r.body);
	conn_quiet(c, 100);
	close(c->fd);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_head_then_get),
	    cmocka_unit_test(t_pipelined),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
