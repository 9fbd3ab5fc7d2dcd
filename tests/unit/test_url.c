/* url: RFC 3986 parsing of http/https URLs and reference resolution (§5.2), checked against
 * every example of §5.4 and the two of §5.2.4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "url.h"

struct res_case {
	const char *ref, *want;
};

/* RFC 3986 §5.4.1 and §5.4.2, base "http://a/b/c/d;p?q" */
static const struct res_case rfc_examples[] = {
	{"g:h", "g:h"},
	{"g", "http://a/b/c/g"},
	{"./g", "http://a/b/c/g"},
	{"g/", "http://a/b/c/g/"},
	{"/g", "http://a/g"},
	{"//g", "http://g"},
	{"?y", "http://a/b/c/d;p?y"},
	{"g?y", "http://a/b/c/g?y"},
	{"#s", "http://a/b/c/d;p?q#s"},
	{"g#s", "http://a/b/c/g#s"},
	{"g?y#s", "http://a/b/c/g?y#s"},
	{";x", "http://a/b/c/;x"},
	{"g;x", "http://a/b/c/g;x"},
	{"g;x?y#s", "http://a/b/c/g;x?y#s"},
	{"", "http://a/b/c/d;p?q"},
	{".", "http://a/b/c/"},
	{"./", "http://a/b/c/"},
	{"..", "http://a/b/"},
	{"../", "http://a/b/"},
	{"../g", "http://a/b/g"},
	{"../..", "http://a/"},
	{"../../", "http://a/"},
	{"../../g", "http://a/g"},
	/* §5.4.2 abnormal examples */
	{"../../../g", "http://a/g"},
	{"../../../../g", "http://a/g"},
	{"/./g", "http://a/g"},
	{"/../g", "http://a/g"},
	{"g.", "http://a/b/c/g."},
	{".g", "http://a/b/c/.g"},
	{"g..", "http://a/b/c/g.."},
	{"..g", "http://a/b/c/..g"},
	{"./../g", "http://a/b/g"},
	{"./g/.", "http://a/b/c/g/"},
	{"g/./h", "http://a/b/c/g/h"},
	{"g/../h", "http://a/b/c/h"},
	{"g;x=1/./y", "http://a/b/c/g;x=1/y"},
	{"g;x=1/../y", "http://a/b/c/y"},
	{"g?y/./x", "http://a/b/c/g?y/./x"},
	{"g?y/../x", "http://a/b/c/g?y/../x"},
	{"g#s/./x", "http://a/b/c/g#s/./x"},
	{"g#s/../x", "http://a/b/c/g#s/../x"},
	{"http:g", "http:g"}, /* strict parsers, §5.4.2 */
};

static void test_resolve_rfc3986_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rfc_examples / sizeof rfc_examples[0]; i++) {
		char out[256], err[160] = "";
		int rc = url_resolve("http://a/b/c/d;p?q", rfc_examples[i].ref, out, sizeof out, err, sizeof err);
		if (rc != 0)
			fail_msg("\"%s\": error %d (%s)", rfc_examples[i].ref, rc, err);
		if (strcmp(out, rfc_examples[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", rfc_examples[i].ref, out, rfc_examples[i].want);
	}
}

/* The two walks of §5.2.4 and a few more resolutions. */
static void test_resolve_more(void **state)
{
	(void)state;
	static const struct {
		const char *base, *ref, *want;
	} cases[] = {
		{"http://a/", "/a/b/c/./../../g", "http://a/a/g"},
		{"http://a/", "mid/content=5/../6", "http://a/mid/6"},
		{"http://a", "g", "http://a/g"}, /* §5.2.3: base with authority and empty path */
		{"http://127.0.0.1:5002/.well-known/acme-challenge/x", "/.well-known/acme-challenge/y",
		 "http://127.0.0.1:5002/.well-known/acme-challenge/y"},
		{"http://a/b", "https://c:443/d/../e?f#g", "https://c:443/e?f#g"},
		{"http://a/b/c", "ftp://x/y", "ftp://x/y"},
		{"http://a/b/c", "//[::1]:8080", "http://[::1]:8080"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[256], err[160] = "";
		assert_int_equal(url_resolve(cases[i].base, cases[i].ref, out, sizeof out, err, sizeof err), 0);
		assert_string_equal(out, cases[i].want);
	}
}

static void test_resolve_errors(void **state)
{
	(void)state;
	static const struct {
		const char *base, *ref, *err;
		int rc;
	} cases[] = {
		{"/relative", "g", "not absolute", URL_EINVALID},
		{"http://a/", "a b", "byte 0x20 is not allowed", URL_EINVALID},
		{"http://a/", "1x:y", "invalid scheme", URL_EINVALID},
		{"http://a/", "g%2", "percent-encoding", URL_EINVALID},
		{"http://a/", "g\x7f", "byte 0x7f", URL_EINVALID},
		{"http://a/", "\xc3\xa9", "byte 0xc3", URL_EINVALID},
		{"http://a/", "/[x]", "'[' is not allowed in the path", URL_EINVALID},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[256], err[160] = "";
		assert_int_equal(url_resolve(cases[i].base, cases[i].ref, out, sizeof out, err, sizeof err), cases[i].rc);
		if (!strstr(err, cases[i].err))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", cases[i].ref, err, cases[i].err);
	}
	/* the result must fit */
	char small[12], err[160];
	assert_int_equal(url_resolve("http://a/b/c/d;p?q", "g", small, sizeof small, err, sizeof err), URL_ETOOLONG);
	assert_string_equal(small, "");
	/* inputs are bounded */
	char *big = malloc(URL_MAX_LEN + 10);
	memset(big, 'a', URL_MAX_LEN + 9);
	big[URL_MAX_LEN + 9] = '\0';
	char out[64];
	assert_int_equal(url_resolve("http://a/", big, out, sizeof out, err, sizeof err), URL_ETOOLONG);
	free(big);
}

static void test_parse_ok(void **state)
{
	(void)state;
	static const struct {
		const char *in, *scheme, *host;
		enum url_host_type type;
		int port, explicit_port;
		const char *path;
	} cases[] = {
		{"http://example.com", "http", "example.com", URL_HOST_NAME, 80, 0, "/"},
		{"HTTPS://Example.COM:8443/a/../b?x=1#frag", "https", "example.com", URL_HOST_NAME, 8443, 1, "/b?x=1"},
		{"http://127.0.0.1:5002/.well-known/acme-challenge/tok", "http", "127.0.0.1", URL_HOST_IPV4, 5002, 1,
		 "/.well-known/acme-challenge/tok"},
		{"http://[::1]:80/", "http", "::1", URL_HOST_IPV6, 80, 1, "/"},
		{"https://[2001:DB8:0::0001]/x", "https", "2001:db8::1", URL_HOST_IPV6, 443, 0, "/x"},
		{"http://h:/p", "http", "h", URL_HOST_NAME, 80, 0, "/p"}, /* §3.2.3 empty port */
		{"http://a_b-c.example./", "http", "a_b-c.example.", URL_HOST_NAME, 80, 0, "/"},
		{"http://h/..", "http", "h", URL_HOST_NAME, 80, 0, "/"},
		{"http://h?q", "http", "h", URL_HOST_NAME, 80, 0, "/?q"},
		{"http://h/%41%2f?a=%20", "http", "h", URL_HOST_NAME, 80, 0, "/%41%2f?a=%20"},
		{"http://h:65535/", "http", "h", URL_HOST_NAME, 65535, 1, "/"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct url u;
		char err[160] = "";
		if (url_parse(cases[i].in, &u, err, sizeof err) != 0)
			fail_msg("\"%s\": %s", cases[i].in, err);
		assert_string_equal(u.scheme, cases[i].scheme);
		assert_string_equal(u.host, cases[i].host);
		assert_int_equal(u.host_type, cases[i].type);
		assert_int_equal(u.port, cases[i].port);
		assert_int_equal(u.port_explicit, cases[i].explicit_port);
		assert_string_equal(u.path, cases[i].path);
	}
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		const char *err;
	} cases[] = {
		{"ftp://x/", URL_ESCHEME, "only http and https"},
		{"mailto:a@b", URL_ESCHEME, "not supported"},
		{"http://user@host/", URL_EINVALID, "userinfo"},
		{"https://user:pw@host/", URL_EINVALID, "userinfo"},
		{"http:///path", URL_EINVALID, "no host"},
		{"http:/path", URL_EINVALID, "no host"},
		{"http://:80/", URL_EINVALID, "no host"},
		{"//host/path", URL_EINVALID, "not an absolute URL"},
		{"/path", URL_EINVALID, "not an absolute URL"},
		{"http://host:0/", URL_EINVALID, "out of range"},
		{"http://host:65536/", URL_EINVALID, "out of range"},
		{"http://host:123456/", URL_EINVALID, "invalid port"},
		{"http://host:12a/", URL_EINVALID, "invalid port"},
		{"http://host:-1/", URL_EINVALID, "invalid port"},
		{"http://[::1/", URL_EINVALID, "unterminated IPv6"},
		{"http://[::g]/", URL_EINVALID, "invalid IPv6"},
		{"http://[]/", URL_EINVALID, "invalid IPv6"},
		{"http://[fe80::1%25eth0]/", URL_EINVALID, "invalid IPv6"},
		{"http://[v1.fe]/", URL_EINVALID, "IPvFuture"},
		{"http://[::1]x/", URL_EINVALID, "after the host"},
		{"http://1.2.3/", URL_EINVALID, "dotted-quad"},
		{"http://01.2.3.4/", URL_EINVALID, "dotted-quad"},
		{"http://256.1.1.1/", URL_EINVALID, "dotted-quad"},
		{"http://exa mple.com/", URL_EINVALID, "byte 0x20 is not allowed in the authority"},
		{"http://ex%41mple.com/", URL_EINVALID, "'%' is not allowed in a host name"},
		{"http://ex!mple.com/", URL_EINVALID, "'!' is not allowed in a host name"},
		{"http://example.com/a b", URL_EINVALID, "byte 0x20 is not allowed in the path"},
		{"http://example.com/%zz", URL_EINVALID, "invalid percent-encoding"},
		{"http://example.com/%4", URL_EINVALID, "truncated percent-encoding"},
		{"http://example.com/\x01", URL_EINVALID, "byte 0x01"},
		{"http://example.com/?a\"b", URL_EINVALID, "in the query"},
		{"http://example.com/\r\nX: y", URL_EINVALID, "byte 0x0d"},
		{"", URL_EINVALID, "not an absolute URL"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct url u;
		char err[160] = "";
		int rc = url_parse(cases[i].in, &u, err, sizeof err);
		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", cases[i].in, rc, cases[i].rc, err);
		if (!strstr(err, cases[i].err))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", cases[i].in, err, cases[i].err);
	}
	/* a host name over 253 bytes, a URL over URL_MAX_LEN */
	char buf[URL_MAX_LEN + 64], err[160];
	struct url u;
	snprintf(buf, sizeof buf, "http://%0254d/", 0);
	memset(buf + 7, 'a', 254);
	assert_int_equal(url_parse(buf, &u, err, sizeof err), URL_EINVALID);
	assert_non_null(strstr(err, "longer than 253"));
	memset(buf, 'a', sizeof buf);
	memcpy(buf, "http://h/", 9);
	buf[URL_MAX_LEN + 1] = '\0';
	assert_int_equal(url_parse(buf, &u, err, sizeof err), URL_ETOOLONG);
	/* exactly at the limit is fine */
	buf[URL_MAX_LEN - 1] = '\0';
	assert_int_equal(url_parse(buf, &u, err, sizeof err), 0);
}

/* RFC 3986 §3.2.1 userinfo in a proxy URL: split at the first ':', percent-decoded (§2.1). */
static void test_parse_userinfo(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int present;
		const char *user, *pass, *host;
		int port;
	} ok[] = {
		{"http://proxy:3128", 0, "", "", "proxy", 3128},
		{"http://alice:s3cret@proxy.corp:3128/", 1, "alice", "s3cret", "proxy.corp", 3128},
		{"http://alice@proxy", 1, "alice", "", "proxy", 80},
		{"http://alice:@proxy", 1, "alice", "", "proxy", 80},
		{"http://:pw@proxy", 1, "", "pw", "proxy", 80},
		{"http://@proxy", 1, "", "", "proxy", 80},
		{"http://a%40b.example:p%40ss%3Aw%25rd%2F%3F%23@[::1]:8080", 1, "a@b.example", "p@ss:w%rd/?#", "::1", 8080},
		{"http://u:a:b:c@127.0.0.1:1", 1, "u", "a:b:c", "127.0.0.1", 1}, /* the first ':' splits */
		{"http://DOMAIN%5Cuser:p%20w@proxy", 1, "DOMAIN\\user", "p w", "proxy", 80},
		{"http://j%C3%BCrgen:%E2%82%AC!$&'()*+,;=-._~@proxy", 1, "j\xc3\xbcrgen", "\xe2\x82\xac!$&'()*+,;=-._~",
		 "proxy", 80},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct url u;
		struct url_userinfo ui;
		char err[160] = "";
		if (url_parse_userinfo(ok[i].in, &u, &ui, err, sizeof err) != 0)
			fail_msg("\"%s\": %s", ok[i].in, err);
		assert_int_equal(ui.present, ok[i].present);
		assert_string_equal(ui.user, ok[i].user);
		assert_string_equal(ui.pass, ok[i].pass);
		assert_string_equal(u.host, ok[i].host);
		assert_int_equal(u.port, ok[i].port);
		assert_string_equal(u.path, "/");
	}
	static const struct {
		const char *in;
		int rc;
		const char *err;
	} bad[] = {
		{"http://a@b@proxy", URL_EINVALID, "%40"},
		{"http://u:p w@proxy", URL_EINVALID, "must be percent-encoded"},
		{"http://u:p\"w@proxy", URL_EINVALID, "must be percent-encoded"},
		{"http://u:p[1]@proxy", URL_EINVALID, "must be percent-encoded"},
		{"http://u:p%zz@proxy", URL_EINVALID, "must be percent-encoded"},
		{"http://u:p%4@proxy", URL_EINVALID, "must be percent-encoded"},
		{"http://u:p%00w@proxy", URL_EINVALID, "control character"},
		{"http://u%0D%0AX:p@proxy", URL_EINVALID, "user name holds a control character"},
		{"http://u:p%7F@proxy", URL_EINVALID, "password holds a control character"},
		{"http://u:p@", URL_EINVALID, "no host"},
		{"http://u:p@:3128", URL_EINVALID, "no host"},
		{"http://u:p@proxy:99999", URL_EINVALID, "out of range"},
		{"socks5://u:p@proxy", URL_ESCHEME, "not supported"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct url u;
		struct url_userinfo ui;
		char err[160] = "";
		int rc = url_parse_userinfo(bad[i].in, &u, &ui, err, sizeof err);
		if (rc != bad[i].rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", bad[i].in, rc, bad[i].rc, err);
		if (!strstr(err, bad[i].err))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", bad[i].in, err, bad[i].err);
		assert_int_equal(ui.present, 0); /* nothing of the credentials is left behind */
		assert_string_equal(ui.pass, "");
		/* the messages never quote the password's characters */
		assert_null(strstr(err, "p w"));
		assert_null(strstr(err, "u:p"));
		assert_null(strstr(err, "\r"));
	}
	/* 255 decoded bytes fit, 256 do not */
	char buf[1024], err[160];
	struct url u;
	struct url_userinfo ui;
	memset(buf, 0, sizeof buf);
	memcpy(buf, "http://u:", 9);
	memset(buf + 9, 'x', 255);
	strcat(buf, "@proxy");
	assert_int_equal(url_parse_userinfo(buf, &u, &ui, err, sizeof err), 0);
	assert_int_equal(strlen(ui.pass), 255);
	memcpy(buf + 9, "%78", 3); /* still 255 decoded */
	memset(buf + 12, 'x', 254);
	strcpy(buf + 266, "@proxy");
	assert_int_equal(url_parse_userinfo(buf, &u, &ui, err, sizeof err), 0);
	assert_int_equal(strlen(ui.pass), 255);
	memset(buf + 9, 'x', 256);
	strcpy(buf + 265, "@proxy");
	assert_int_equal(url_parse_userinfo(buf, &u, &ui, err, sizeof err), URL_ETOOLONG);
	assert_non_null(strstr(err, "password is longer than 255"));
	/* url_parse itself still refuses credentials (ACME URLs, redirects) */
	assert_int_equal(url_parse("http://alice:s3cret@proxy:3128", &u, err, sizeof err), URL_EINVALID);
}

static void test_format(void **state)
{
	(void)state;
	static const struct {
		const char *in, *url, *host;
	} cases[] = {
		{"http://[::1]:8080/x", "http://[::1]:8080/x", "[::1]:8080"},
		{"https://h:443/p?q#f", "https://h/p?q", "h"},
		{"http://h:443/", "http://h:443/", "h:443"},
		{"HTTP://H.Example", "http://h.example/", "h.example"},
		{"https://[::ffff:1.2.3.4]/", "https://[::ffff:1.2.3.4]/", "[::ffff:1.2.3.4]"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct url u;
		char err[160], out[128], host[64];
		assert_int_equal(url_parse(cases[i].in, &u, err, sizeof err), 0);
		assert_true(url_format(&u, out, sizeof out) > 0);
		assert_string_equal(out, cases[i].url);
		assert_true(url_host_header(&u, host, sizeof host) > 0);
		assert_string_equal(host, cases[i].host);
		/* what url_format writes parses back to the same URL */
		struct url v;
		assert_int_equal(url_parse(out, &v, err, sizeof err), 0);
		assert_string_equal(v.host, u.host);
		assert_int_equal(v.port, u.port);
		assert_string_equal(v.path, u.path);
	}
	struct url u;
	char err[160], tiny[8];
	assert_int_equal(url_parse("http://example.com/", &u, err, sizeof err), 0);
	assert_int_equal(url_format(&u, tiny, sizeof tiny), -1);
	assert_int_equal(url_default_port("https"), 443);
	assert_int_equal(url_default_port("http"), 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_rfc3986_examples),
		cmocka_unit_test(test_resolve_more),
		cmocka_unit_test(test_resolve_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_userinfo),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
