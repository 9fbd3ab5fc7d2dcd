/* libFuzzer target for url.c: the input is a base and a reference separated by a NUL (or just a
 * URL). Parsing, resolution (RFC 3986 §5.2) and formatting must never crash or overread, and a
 * parsed URL must survive url_format -> url_parse unchanged; url_parse_userinfo (proxy URLs)
 * agrees with url_parse and keeps its decoded credentials bounded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const char *s)
{
	struct url a, b;
	char err[160], out[URL_MAX_LEN + URL_MAX_HOST + 32];
	if (url_parse(s, &a, err, sizeof err) != 0)
		return;
	if (a.port < 1 || a.port > 65535 || a.path[0] != '/' || !a.host[0])
		__builtin_trap();
	if (url_format(&a, out, sizeof out) < 0)
		__builtin_trap();
	if (url_parse(out, &b, err, sizeof err) != 0 || strcmp(a.host, b.host) != 0 || a.port != b.port ||
	    strcmp(a.path, b.path) != 0 || strcmp(a.scheme, b.scheme) != 0 || a.host_type != b.host_type)
		__builtin_trap();
}

/* url_parse_userinfo (proxy URLs): agrees with url_parse where that accepts the URL; decoded
 * credentials are bounded, free of control characters, and wiped on failure. */
static void userinfo(const char *s)
{
	struct url a, b;
	struct url_userinfo ui;
	char err[160];
	int rc = url_parse_userinfo(s, &a, &ui, err, sizeof err);
	if (rc != 0) {
		if (ui.present || ui.user[0] || ui.pass[0])
			__builtin_trap();
		if (url_parse(s, &b, err, sizeof err) == 0)
			__builtin_trap();
		return;
	}
	if (strlen(ui.user) > URL_MAX_USERINFO || strlen(ui.pass) > URL_MAX_USERINFO)
		__builtin_trap();
	for (const char *p = ui.user; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			__builtin_trap();
	for (const char *p = ui.pass; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			__builtin_trap();
	if (url_parse(s, &b, err, sizeof err) == 0 &&
	    (ui.present || strcmp(a.host, b.host) != 0 || a.port != b.port || strcmp(a.path, b.path) != 0))
		__builtin_trap();
	if (!a.host[0] || a.port < 1 || a.port > 65535)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * URL_MAX_LEN + 16)
		return 0;
	char *buf = malloc(size + 2);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[size + 1] = '\0';
	const char *base = buf;
	const char *ref = buf + strlen(buf) + 1; /* after the first NUL, or "" */
	if (ref > buf + size)
		ref = buf + size + 1;
	roundtrip(base);
	roundtrip(ref);
	userinfo(base);
	char out[URL_MAX_LEN], err[160];
	if (url_resolve(base, ref, out, sizeof out, err, sizeof err) == 0) {
		if (strlen(out) >= sizeof out)
			__builtin_trap();
		roundtrip(out);
	}
	free(buf);
	return 0;
}
