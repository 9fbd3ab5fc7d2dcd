/* The agent's transport (src/agent/acme/http.c): the proxy taken from the environment, with
 * credentials in its URL (RFC 3986 §3.2.1) sent as Basic (RFC 7617), and what a 407 from a
 * proxy on 127.0.0.1 turns into. The module is compiled in directly: the unit-test build
 * links only libcacore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include "../../src/agent/acme/http.c"

static void env_clear(void)
{
	static const char *const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "HTTP_PROXY",
	                                   "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static void test_proxy_from_env(void **state)
{
	(void)state;
	static const struct {
		const char *var, *value, *no_proxy, *url;
		int rc;
		const char *name, *auth, *err;
	} cases[] = {
		{NULL, NULL, NULL, "https://acme.test/dir", 0, "", "", ""},
		{"https_proxy", "http://alice:s3cret@127.0.0.1:3128", NULL, "https://acme.test/dir", 1,
		 "http://127.0.0.1:3128", "Basic YWxpY2U6czNjcmV0", ""},
		/* no scheme means http://, no port means 1080 (as curl) */
		{"HTTPS_PROXY", "alice:s3cret@127.0.0.1", NULL, "https://acme.test/dir", 1, "http://127.0.0.1:1080",
		 "Basic YWxpY2U6czNjcmV0", ""},
		{"https_proxy", "http://127.0.0.1:3128/", NULL, "https://acme.test/dir", 1, "http://127.0.0.1:3128", "", ""},
		/* decoded: "a@b" and "p%:/" -> base64("a@b:p%:/") */
		{"http_proxy", "http://a%40b:p%25%3a%2F@[::1]:8080", NULL, "http://acme.test/dir", 1, "http://[::1]:8080",
		 "Basic YUBiOnAlOi8=", ""},
		{"https_proxy", "http://alice:s3cret@127.0.0.1:3128", NULL, "http://acme.test/dir", 0, "", "", ""},
		{"https_proxy", "http://alice:s3cret@127.0.0.1:3128", "localhost,.acme.test", "https://x.acme.test/dir", 0,
		 "", "", ""},
		{"https_proxy", "http://alice:s3cret@127.0.0.1:3128", "*", "https://acme.test/dir", 0, "", "", ""},
		{"https_proxy", "http://alice:s3 cret@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "",
		 "https_proxy: not a usable proxy URL: the user name or password holds a character that must be"},
		{"https_proxy", "http://alice:s3/cret@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "",
		 "https_proxy: not a usable proxy URL: percent-encode"},
		{"https_proxy", "http://alice:s3?cret@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "",
		 "percent-encode"},
		{"https_proxy", "http://alice:s3cret@x@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "", "%40"},
		{"https_proxy", "http://alice:s3%0acret@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "",
		 "password holds a control character"},
		{"https_proxy", "https://alice:s3cret@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "",
		 "https_proxy: proxy https://127.0.0.1:3128: only http:// proxies are supported"},
		{"https_proxy", "http://al%3Aice:s3cret@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "",
		 "a user name with ':'"},
		{"https_proxy", "socks5h://alice:s3cret@127.0.0.1:3128", NULL, "https://acme.test/dir", -1, "", "",
		 "not supported"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		env_clear();
		if (cases[i].var)
			setenv(cases[i].var, cases[i].value, 1);
		if (cases[i].no_proxy)
			setenv("no_proxy", cases[i].no_proxy, 1);
		struct url u;
		char err[1024] = "";
		assert_int_equal(url_parse(cases[i].url, &u, err, sizeof err), 0);
		struct proxy px;
		memset(&px, 0, sizeof px);
		int rc = proxy_for(&u, &px, err, sizeof err);
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d (%s)", i, cases[i].value ? cases[i].value : "-", rc,
			         cases[i].rc, err);
		if (rc == 1) {
			assert_string_equal(px.name, cases[i].name);
			assert_string_equal(px.auth, cases[i].auth);
			assert_string_equal(px.var, cases[i].var);
		}
		if (rc < 0 && !strstr(err, cases[i].err))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].err);
		/* the password is never part of a message */
		assert_null(strstr(err, "cret"));
		assert_null(strstr(err, "s3"));
	}
	env_clear();
}

/* ---- a proxy on 127.0.0.1 that answers every request with 407 ---- */
struct proxy407 {
	int fd, port, stop[2];
	pthread_t thread;
	int accepted; /* read after the join */
	char head[2][1024]; /* the first two request heads */
};

static void *p407_main(void *arg)
{
	struct proxy407 *p = arg;
	struct pollfd pfd[2] = {{.fd = p->fd, .events = POLLIN}, {.fd = p->stop[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno == EINTR)
			continue;
		if (pfd[1].revents)
			break;
		int c = accept(p->fd, NULL, NULL);
		if (c < 0)
			continue;
		char req[1024];
		size_t len = 0;
		while (len < sizeof req - 1) {
			ssize_t n = recv(c, req + len, 1, 0);
			if (n <= 0)
				break;
			req[++len] = '\0';
			if (len >= 4 && memcmp(req + len - 4, "\r\n\r\n", 4) == 0)
				break;
		}
		req[len] = '\0';
		if (p->accepted < 2)
			snprintf(p->head[p->accepted], sizeof p->head[0], "%s", req);
		p->accepted++;
		static const char no[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
		                         "Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 3\r\n"
		                         "Connection: close\r\n\r\nno\n";
		send(c, no, sizeof no - 1, MSG_NOSIGNAL);
		close(c);
	}
	return NULL;
}

static void p407_start(struct proxy407 *p)
{
	memset(p, 0, sizeof *p);
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	assert_int_equal(bind(p->fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(p->fd, 8), 0);
	assert_int_equal(getsockname(p->fd, (struct sockaddr *)&sa, &sl), 0);
	p->port = ntohs(sa.sin_port);
	assert_int_equal(pipe(p->stop), 0);
	assert_int_equal(pthread_create(&p->thread, NULL, p407_main, p), 0);
}

static void p407_stop(struct proxy407 *p)
{
	assert_int_equal(write(p->stop[1], "x", 1), 1);
	pthread_join(p->thread, NULL);
	close(p->fd);
	close(p->stop[0]);
	close(p->stop[1]);
}

static void test_proxy_407(void **state)
{
	(void)state;
	struct proxy407 p;
	p407_start(&p);
	struct http_client *h = http_client_new(NULL);
	assert_non_null(h);
	char v[128], want[160], err[1024];
	struct http_resp r;
	env_clear();

	/* http: absolute-form with the credentials; the 407 is the proxy's answer, not the server's */
	snprintf(v, sizeof v, "http://alice:s3cret@127.0.0.1:%d", p.port);
	setenv("http_proxy", v, 1);
	assert_int_equal(http_request(h, "GET", "http://origin.test/x", NULL, &r, err, sizeof err), HTTP_EFINAL);
	snprintf(want, sizeof want, "http://origin.test/x: proxy http://127.0.0.1:%d (http_proxy) answered 407", p.port);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want it to start \"%s\"", err, want);
	assert_non_null(strstr(err, "refused the user name and password"));
	assert_null(strstr(err, "s3cret"));
	/* asked again: the same answer, without asking the proxy */
	assert_int_equal(http_request(h, "GET", "http://origin.test/y", NULL, &r, err, sizeof err), HTTP_EFINAL);
	assert_non_null(strstr(err, "http://origin.test/y: proxy"));
	assert_non_null(strstr(err, "answered 407"));
	/* other credentials are tried: once */
	snprintf(v, sizeof v, "http://alice:other@127.0.0.1:%d", p.port);
	setenv("http_proxy", v, 1);
	assert_int_equal(http_request(h, "GET", "http://origin.test/z", NULL, &r, err, sizeof err), HTTP_EFINAL);

	/* https: the 407 to CONNECT, no credentials */
	snprintf(v, sizeof v, "http://127.0.0.1:%d", p.port);
	setenv("https_proxy", v, 1);
	assert_int_equal(http_request(h, "GET", "https://origin.test/", NULL, &r, err, sizeof err), HTTP_EFINAL);
	assert_non_null(strstr(err, "(https_proxy) answered 407 Proxy Authentication Required: it wants credentials"));
	assert_int_equal(http_request(h, "GET", "https://origin.test/", NULL, &r, err, sizeof err), HTTP_EFINAL);
	http_client_free(h);
	p407_stop(&p);
	env_clear();
	assert_int_equal(p.accepted, 3); /* alice:s3cret once, alice:other once, none once */
	assert_non_null(strstr(p.head[0], "GET http://origin.test/x HTTP/1.1\r\n"));
	assert_non_null(strstr(p.head[0], "\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"));
	assert_non_null(strstr(p.head[1], "\r\nProxy-Authorization: Basic YWxpY2U6b3RoZXI=\r\n"));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_from_env),
		cmocka_unit_test(test_proxy_407),
	};
	return cmocka_run_group_tests_name("agent_http", tests, NULL, NULL);
}
