/* URLs for the HTTP client (RFC 3986): parse absolute http/https URLs into the parts a
 * connection needs, and resolve a reference (a redirect's Location) against a base (§5.2). */
#ifndef COBBLE_URL_H
#define COBBLE_URL_H
#include <stddef.h>

#define URL_MAX_LEN 4096  /* a whole URL or reference, in bytes */
#define URL_MAX_HOST 253  /* a DNS name (RFC 1035 §2.3.4); an IPv6 literal is shorter */

enum url_host_type { URL_HOST_NAME, URL_HOST_IPV4, URL_HOST_IPV6 };

/* Errors: negative, with words in err. */
#define URL_EINVALID (-1) /* not a well-formed URL or reference */
#define URL_ESCHEME (-2)  /* well formed, but neither http nor https */
#define URL_ETOOLONG (-3)

struct url {
	char scheme[6];                /* "http" or "https", lower case */
	char host[URL_MAX_HOST + 1];   /* lower case name, dotted-quad, or IPv6 text without [] */
	enum url_host_type host_type;
	int port;                      /* explicit, else the scheme's (80, 443) */
	int port_explicit;             /* the URL named a port */
	char path[URL_MAX_LEN];        /* path with dot segments removed, "?query" kept; at least "/" */
};

/* Parses an absolute http or https URL: no userinfo, a non-empty host (reg-name of letters,
 * digits, '-', '_' and '.'; IPv4 dotted-quad; or [IPv6]), an optional port 1-65535; the
 * fragment is dropped. Returns 0, or URL_E* with a reason in err. */
int url_parse(const char *s, struct url *u, char *err, size_t errlen);

/* Userinfo (RFC 3986 §3.2.1) of a proxy URL, percent-decoded (§2.1). */
#define URL_MAX_USERINFO 255 /* decoded bytes of the user name, and of the password */
struct url_userinfo {
	int present;                     /* the URL had "...@" (possibly empty) */
	char user[URL_MAX_USERINFO + 1]; /* before the first ':' */
	char pass[URL_MAX_USERINFO + 1]; /* after it ("" without one) */
};

/* url_parse for a URL that may carry "user[:password]@" before the host (a proxy setting):
 * the userinfo is checked against §3.2.1's characters (an '@' in it must be "%40"), split at
 * its first ':' and percent-decoded into *ui; the rest is parsed as url_parse does. A decoded
 * NUL or control character is refused (RFC 7617 §2 forbids them in credentials). Error
 * messages never quote the userinfo. Wipe *ui after use (OPENSSL_cleanse). */
int url_parse_userinfo(const char *s, struct url *u, struct url_userinfo *ui, char *err, size_t errlen);

/* RFC 3986 §5.2.2: resolves reference ref (absolute or relative) against the absolute URI
 * base, for any scheme, into out (fragment kept as §5.2.2 says). Both must be URI
 * references made of the characters RFC 3986 allows. Returns 0 or URL_E*. */
int url_resolve(const char *base, const char *ref, char *out, size_t outlen, char *err, size_t errlen);

/* scheme://host[:port]path, the port only when it is not the scheme's default and IPv6 hosts
 * in brackets. Returns the length, or -1 if it does not fit. */
int url_format(const struct url *u, char *out, size_t outlen);

/* The Host header's value (RFC 9110 §7.2): host[:port], the port only when not the default. */
int url_host_header(const struct url *u, char *out, size_t outlen);

/* The scheme's default port: 443 for https, else 80. */
int url_default_port(const char *scheme);

#endif
