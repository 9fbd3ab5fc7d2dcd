/* http01: validation against a tiny HTTP server on 127.0.0.1 (ephemeral port) that serves the
 * right key authorization, wrong bodies, errors, redirects and oversized bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
#include "validation/http01.h"
#include "validation/resolver.h"

#define KEYAUTH "good.Zm9vYmFyYmF6cXV4dGh1bWJwcmludGJhc2U2NHVybA"
#define PREFIX "/.well-known/acme-challenge/"

/* ---- the test server ---- */
static int srv_fd = -1, srv_port, stop_pipe[2];
static int tls_fd = -1, tls_port; /* an https server with a self-signed certificate */
static pthread_t tls_thread;
static SSL_CTX *tls_ctx;
static pthread_t srv_thread;
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static int srv_requests;
static char srv_last_ua[128], srv_last_host[128];
static int parked[64], nparked;

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void header_value(const char *req, const char *name, char *out, size_t outlen)
{
	out[0] = '\0';
	const char *p = strcasestr(req, name);
	if (!p)
		return;
	p += strlen(name);
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, "\r\n");
	snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), p);
}

static void reply(int fd, const char *status, const char *extra, const char *body, size_t blen)
{
	char head[1024];
	int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
	                 status, blen, extra ? extra : "");
	send_all(fd, head, (size_t)n);
	send_all(fd, body, blen);
}

static void redirect(int fd, const char *code, const char *loc)
{
	char extra[600];
	snprintf(extra, sizeof extra, "Location: %s\r\n", loc);
	reply(fd, code, extra, "", 0);
}

/* Returns 1 if the connection is kept open (parked) instead of closed. */
static int serve(int fd)
{
	char req[4096];
	size_t len = 0;
	while (len < sizeof req - 1) {
		ssize_t n = recv(fd, req + len, sizeof req - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strncmp(req, "GET ", len < 4 ? len : 4) != 0)
			break;
	}
	req[len] = '\0';
	if (strncmp(req, "GET ", 4) != 0) {
		reply(fd, "400 Bad Request", NULL, "not http\n", 9);
		return 0;
	}
	pthread_mutex_lock(&srv_mu);
	srv_requests++;
	header_value(req, "\r\nUser-Agent:", srv_last_ua, sizeof srv_last_ua);
	header_value(req, "\r\nHost:", srv_last_host, sizeof srv_last_host);
	pthread_mutex_unlock(&srv_mu);

	char path[512];
	snprintf(path, sizeof path, "%.*s", (int)strcspn(req + 4, " "), req + 4);
	const char *tok = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char loc[512];

	if (strcmp(tok, "good") == 0) {
		reply(fd, "200 OK", "Content-Type: text/plain\r\n", KEYAUTH "\r\n", strlen(KEYAUTH) + 2);
	} else if (strcmp(tok, "wrong") == 0) {
		static const char body[] = "not \"the\" key\\\x01"
		                           "0123456789012345678901234567890123456789012345678901234567890123456789"
		                           "TAIL-NOT-SHOWN";
		reply(fd, "200 OK", NULL, body, sizeof body - 1);
	} else if (strcmp(tok, "redir") == 0) {
		redirect(fd, "302 Found", PREFIX "redir2"); /* relative */
	} else if (strcmp(tok, "redir2") == 0) {
		snprintf(loc, sizeof loc, "http://127.0.0.1:%d" PREFIX "good", srv_port);
		redirect(fd, "301 Moved Permanently", loc);
	} else if (strncmp(tok, "loop", 4) == 0) {
		snprintf(loc, sizeof loc, PREFIX "loop%d", atoi(tok + 4) + 1);
		redirect(fd, "307 Temporary Redirect", loc);
	} else if (strcmp(tok, "badport") == 0) {
		redirect(fd, "302 Found", "http://127.0.0.1:8081" PREFIX "good");
	} else if (strcmp(tok, "ftp") == 0) {
		redirect(fd, "302 Found", "ftp://127.0.0.1" PREFIX "good");
	} else if (strcmp(tok, "noloc") == 0) {
		reply(fd, "302 Found", NULL, "", 0);
	} else if (strcmp(tok, "implicit") == 0) {
		/* No port: in a test setup that means the configured http-01 port. */
		redirect(fd, "308 Permanent Redirect", "http://127.0.0.1" PREFIX "good");
	} else if (strcmp(tok, "tohttpsok") == 0) {
		snprintf(loc, sizeof loc, "https://127.0.0.1:%d" PREFIX "good", tls_port);
		redirect(fd, "302 Found", loc);
	} else if (strcmp(tok, "tohttps") == 0) {
		snprintf(loc, sizeof loc, "https://127.0.0.1:%d" PREFIX "good", srv_port);
		redirect(fd, "302 Found", loc);
	} else if (strcmp(tok, "huge") == 0 || strcmp(tok, "hugecl") == 0) {
		static char big[100000];
		memset(big, 'A', sizeof big);
		if (tok[4] == 'c') {
			reply(fd, "200 OK", NULL, big, sizeof big);
		} else {
			const char *head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
			send_all(fd, head, strlen(head));
			send_all(fd, big, sizeof big);
		}
	} else if (strcmp(tok, "slow") == 0) {
		if (nparked < (int)(sizeof parked / sizeof parked[0])) {
			parked[nparked++] = fd;
			return 1;
		}
	} else {
		reply(fd, "404 Not Found", NULL, "no such file\n", 13);
	}
	return 0;
}

static void *srv_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[2] = {{.fd = srv_fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		int c = accept(srv_fd, NULL, NULL);
		if (c < 0)
			continue;
		struct timeval tv = {.tv_sec = 2};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (!serve(c)) {
			shutdown(c, SHUT_WR);
			close(c);
		}
	}
	for (int i = 0; i < nparked; i++)
		close(parked[i]);
	return NULL;
}

static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port on 127.0.0.1 where nothing listens. */
static int closed_port(void)
{
	int port, fd = listen_any(&port);
	close(fd);
	return port;
}

/* The https server: answers every request with the key authorization. */
static void *tls_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[2] = {{.fd = tls_fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno == EINTR)
			continue;
		if (pfd[1].revents)
			break;
		int c = accept(tls_fd, NULL, NULL);
		if (c < 0)
			continue;
		struct timeval tv = {.tv_sec = 2};
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		SSL *ssl = SSL_new(tls_ctx);
		SSL_set_fd(ssl, c);
		char req[2048];
		int len = 0, n;
		if (SSL_accept(ssl) == 1) {
			while (len < (int)sizeof req - 1 && (n = SSL_read(ssl, req + len, (int)sizeof req - 1 - len)) > 0) {
				len += n;
				req[len] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			pthread_mutex_lock(&srv_mu);
			srv_requests++;
			pthread_mutex_unlock(&srv_mu);
			char out[512];
			int m = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
			                 strlen(KEYAUTH), KEYAUTH);
			SSL_write(ssl, out, m);
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(c);
	}
	return NULL;
}

static SSL_CTX *self_signed_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!key || !x || !ctx)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"not-the-validated-name", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, key, EVP_sha256());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, key);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as cobbled does: a write to a closed peer fails, not kills */
	srv_fd = listen_any(&srv_port);
	if (srv_fd < 0 || pipe(stop_pipe) != 0)
		return -1;
	tls_fd = listen_any(&tls_port);
	tls_ctx = self_signed_ctx();
	if (tls_fd < 0 || !tls_ctx || pthread_create(&tls_thread, NULL, tls_main, NULL) != 0)
		return -1;
	return pthread_create(&srv_thread, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (write(stop_pipe[1], "x", 1) != 1)
		return -1;
	pthread_join(srv_thread, NULL);
	pthread_join(tls_thread, NULL);
	close(srv_fd);
	close(tls_fd);
	SSL_CTX_free(tls_ctx);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	return 0;
}

/* ---- helpers ---- */
static struct va_settings lab_settings(void)
{
	struct va_settings s = {.http01_port = srv_port, .tlsalpn01_port = 443, .lab = 1, .timeout_ms = 3000};
	return s;
}

static int requests(void)
{
	pthread_mutex_lock(&srv_mu);
	int n = srv_requests;
	pthread_mutex_unlock(&srv_mu);
	return n;
}

static const char *rec_str(json_t *rec, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(rec, i), key));
}

static int run(const struct va_settings *s, const char *token, json_t **rec, struct problem **prob)
{
	*rec = NULL;
	*prob = NULL;
	int rc = http01_validate(s, NULL, "127.0.0.1", token, KEYAUTH, rec, prob);
	assert_non_null(*rec);
	assert_true(json_is_array(*rec));
	if (rc == 0)
		assert_null(*prob);
	else
		assert_non_null(*prob);
	return rc;
}

static void expect_problem(struct problem *p, const char *type, const char *detail_part)
{
	assert_non_null(p);
	assert_string_equal(problem_short_type(p), type);
	if (!strstr(p->detail, detail_part))
		fail_msg("detail \"%s\" lacks \"%s\"", p->detail, detail_part);
}

/* ---- tests ---- */
static void test_valid_lab(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	int before = requests();
	assert_int_equal(run(&s, "good", &rec, &p), 0);
	assert_int_equal(requests(), before + 1);
	assert_int_equal(json_array_size(rec), 1);
	char url[128], port[16];
	snprintf(url, sizeof url, "http://127.0.0.1:%d" PREFIX "good", srv_port);
	snprintf(port, sizeof port, "%d", srv_port);
	assert_string_equal(rec_str(rec, 0, "url"), url);
	assert_string_equal(rec_str(rec, 0, "hostname"), "127.0.0.1");
	assert_string_equal(rec_str(rec, 0, "port"), port);
	assert_string_equal(rec_str(rec, 0, "addressUsed"), "127.0.0.1");
	json_t *res = json_object_get(json_array_get(rec, 0), "addressesResolved");
	assert_int_equal(json_array_size(res), 1);
	assert_string_equal(json_string_value(json_array_get(res, 0)), "127.0.0.1");
	pthread_mutex_lock(&srv_mu);
	assert_string_equal(srv_last_ua, "cobbled-va");
	char host[64];
	snprintf(host, sizeof host, "127.0.0.1:%d", srv_port);
	assert_string_equal(srv_last_host, host);
	pthread_mutex_unlock(&srv_mu);
	json_decref(rec);
}

static void test_loopback_refused_outside_lab(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	s.lab = 0;
	json_t *rec;
	struct problem *p;
	int before = requests();
	assert_int_equal(run(&s, "good", &rec, &p), -1);
	expect_problem(p, "connection", "127.0.0.1 is a loopback address");
	expect_problem(p, "connection", "does not connect to non-public addresses");
	assert_int_equal(requests(), before); /* never connected */
	assert_int_equal(json_array_size(rec), 1);
	assert_null(rec_str(rec, 0, "addressUsed"));
	assert_string_equal(rec_str(rec, 0, "hostname"), "127.0.0.1");
	problem_free(p);
	json_decref(rec);
}

static void test_wrong_body(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "wrong", &rec, &p), -1);
	expect_problem(p, "incorrectResponse", "Expected \"" KEYAUTH "\"");
	/* quotes, backslash and control bytes escaped; only the first 64 bytes shown */
	expect_problem(p, "incorrectResponse", "(got \"not \\\"the\\\" key\\\\\\x01");
	expect_problem(p, "incorrectResponse", "...\")");
	assert_null(strstr(p->detail, "TAIL"));
	assert_string_equal(rec_str(rec, 0, "addressUsed"), "127.0.0.1");
	problem_free(p);
	json_decref(rec);
}

static void test_not_found(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "missing", &rec, &p), -1);
	char want[160];
	snprintf(want, sizeof want, "Invalid response from http://127.0.0.1:%d" PREFIX "missing: 404", srv_port);
	expect_problem(p, "unauthorized", want);
	assert_int_equal(p->status, 403);
	problem_free(p);
	json_decref(rec);
}

static void test_redirect_chain(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "redir", &rec, &p), 0);
	assert_int_equal(json_array_size(rec), 3);
	assert_non_null(strstr(rec_str(rec, 0, "url"), PREFIX "redir"));
	assert_non_null(strstr(rec_str(rec, 1, "url"), PREFIX "redir2"));
	assert_non_null(strstr(rec_str(rec, 2, "url"), PREFIX "good"));
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(rec_str(rec, i, "addressUsed"), "127.0.0.1");
	json_decref(rec);
}

static void test_redirect_implicit_port(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "implicit", &rec, &p), 0);
	assert_int_equal(json_array_size(rec), 2);
	char port[16];
	snprintf(port, sizeof port, "%d", srv_port);
	assert_string_equal(rec_str(rec, 1, "port"), port);
	json_decref(rec);
}

static void test_redirect_loop(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "loop0", &rec, &p), -1);
	expect_problem(p, "connection", "too many redirects");
	assert_int_equal(json_array_size(rec), 11); /* the first fetch and 10 redirects */
	assert_non_null(strstr(rec_str(rec, 10, "url"), "loop10"));
	problem_free(p);
	json_decref(rec);
}

static void test_redirect_bad_port(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	int before = requests();
	assert_int_equal(run(&s, "badport", &rec, &p), -1);
	expect_problem(p, "connection", "invalid port in redirect target");
	expect_problem(p, "connection", "not 8081");
	assert_int_equal(requests(), before + 1);
	assert_int_equal(json_array_size(rec), 1);
	problem_free(p);
	json_decref(rec);
}

static void test_redirect_bad_scheme(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "ftp", &rec, &p), -1);
	expect_problem(p, "connection", "only http and https are allowed");
	problem_free(p);
	json_decref(rec);
	assert_int_equal(run(&s, "noloc", &rec, &p), -1);
	expect_problem(p, "unauthorized", "redirect without a Location");
	problem_free(p);
	json_decref(rec);
}

static void test_redirect_https_tls_error(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	s.tlsalpn01_port = srv_port; /* the test port counts as 443: allowed, but it speaks plain HTTP */
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "tohttps", &rec, &p), -1);
	expect_problem(p, "connection", "TLS");
	assert_int_equal(json_array_size(rec), 2);
	assert_non_null(strstr(rec_str(rec, 1, "url"), "https://127.0.0.1:"));
	problem_free(p);
	json_decref(rec);
	/* the same redirect with the standard https port is refused before connecting */
	s.tlsalpn01_port = 443;
	assert_int_equal(run(&s, "tohttps", &rec, &p), -1);
	expect_problem(p, "connection", "invalid port in redirect target");
	problem_free(p);
	json_decref(rec);
}

/* Like Let's Encrypt, an https redirect target's certificate is not checked (the key
 * authorization is the proof): a self-signed certificate for another name is fine. */
static void test_redirect_https_unverified(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	s.tlsalpn01_port = tls_port; /* stands for 443 */
	json_t *rec;
	struct problem *p;
	int before = requests();
	assert_int_equal(run(&s, "tohttpsok", &rec, &p), 0);
	assert_int_equal(requests(), before + 2);
	assert_int_equal(json_array_size(rec), 2);
	char url[128], port[16];
	snprintf(url, sizeof url, "https://127.0.0.1:%d" PREFIX "good", tls_port);
	snprintf(port, sizeof port, "%d", tls_port);
	assert_string_equal(rec_str(rec, 1, "url"), url);
	assert_string_equal(rec_str(rec, 1, "port"), port);
	assert_string_equal(rec_str(rec, 1, "addressUsed"), "127.0.0.1");
	json_decref(rec);
}

static void test_huge_body(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	static const char *const toks[] = {"huge", "hugecl"};
	for (size_t i = 0; i < 2; i++) {
		json_t *rec;
		struct problem *p;
		assert_int_equal(run(&s, toks[i], &rec, &p), -1);
		expect_problem(p, "unauthorized", "larger than 8192 bytes");
		problem_free(p);
		json_decref(rec);
	}
}

static void test_timeout(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	s.timeout_ms = 300;
	json_t *rec;
	struct problem *p;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(run(&s, "slow", &rec, &p), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	expect_problem(p, "connection", "timeout after 300 ms waiting for the response from 127.0.0.1");
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	problem_free(p);
	json_decref(rec);
}

static void test_connection_refused(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	s.http01_port = closed_port();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "good", &rec, &p), -1);
	char want[64];
	snprintf(want, sizeof want, "connection to 127.0.0.1 port %d failed", s.http01_port);
	expect_problem(p, "connection", want);
	assert_string_equal(rec_str(rec, 0, "addressUsed"), "127.0.0.1");
	problem_free(p);
	json_decref(rec);
}

static void test_bad_token(void **state)
{
	(void)state;
	struct va_settings s = lab_settings();
	json_t *rec;
	struct problem *p;
	assert_int_equal(run(&s, "../../etc/passwd", &rec, &p), -1);
	assert_string_equal(problem_short_type(p), "serverInternal");
	assert_int_equal(json_array_size(rec), 0);
	problem_free(p);
	json_decref(rec);
}

/* With a forwarder where no DNS server listens, a name fails as a "dns" problem within the
 * resolver's timeout, and http-01 reports it with the hop's record. */
static void test_dns_failure(void **state)
{
	(void)state;
	char fwd[32], err[256];
	snprintf(fwd, sizeof fwd, "127.0.0.1:%d", closed_port());
	struct resolver *r = NULL;
	assert_int_equal(resolver_new(fwd, 500, &r, err, sizeof err), 0);

	char addrs[RESOLVER_MAX_ADDRS][RESOLVER_ADDR_LEN];
	size_t n = 99;
	struct problem *p = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(resolver_addrs(r, "a.example.test", addrs, RESOLVER_MAX_ADDRS, &n, &p), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(n, 0);
	expect_problem(p, "dns", "a.example.test");
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	problem_free(p);

	struct va_settings s = lab_settings();
	json_t *rec = NULL;
	assert_int_equal(http01_validate(&s, r, "a.example.test", "good", KEYAUTH, &rec, &p), -1);
	expect_problem(p, "dns", "a.example.test");
	assert_int_equal(json_array_size(rec), 1);
	assert_string_equal(rec_str(rec, 0, "hostname"), "a.example.test");
	assert_null(rec_str(rec, 0, "addressUsed"));
	problem_free(p);
	json_decref(rec);

	char **txt = NULL;
	assert_int_equal(resolver_txt(r, "_acme-challenge.a.example.test", &txt, &n, &p), -1);
	expect_problem(p, "dns", "TXT");
	problem_free(p);
	resolver_free(r);
}

static void test_resolver_bad_forwarder(void **state)
{
	(void)state;
	static const char *const bad[] = {"dns.example.com", "127.0.0.1:0", "127.0.0.1:99999",
	                                  "127.0.0.1:x", "[::1", ":53"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256] = "";
		struct resolver *r = (struct resolver *)1;
		assert_int_equal(resolver_new(bad[i], 1000, &r, err, sizeof err), -1);
		assert_null(r);
		assert_non_null(strstr(err, bad[i]));
	}
	static const char *const good[] = {"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		char err[256] = "";
		struct resolver *r = NULL;
		assert_int_equal(resolver_new(good[i], 1000, &r, err, sizeof err), 0);
		resolver_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_lab),
		cmocka_unit_test(test_loopback_refused_outside_lab),
		cmocka_unit_test(test_wrong_body),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_redirect_chain),
		cmocka_unit_test(test_redirect_implicit_port),
		cmocka_unit_test(test_redirect_loop),
		cmocka_unit_test(test_redirect_bad_port),
		cmocka_unit_test(test_redirect_bad_scheme),
		cmocka_unit_test(test_redirect_https_tls_error),
		cmocka_unit_test(test_redirect_https_unverified),
		cmocka_unit_test(test_huge_body),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_bad_token),
		cmocka_unit_test(test_dns_failure),
		cmocka_unit_test(test_resolver_bad_forwarder),
	};
	return cmocka_run_group_tests_name("http01", tests, setup, teardown);
}
