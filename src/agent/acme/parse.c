/* Parsers for server-controlled header and body fields, each bounded and strict: a value
 * that does not parse is reported as absent rather than guessed at. */
#include "agent/acme/parse.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBLEM_NS "urn:ietf:params:acme:error:"

long parse_retry_after(const char *value, time_t now)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(value, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0' || errno == ERANGE)
			return -1;
		return v > LONG_MAX ? LONG_MAX : (long)v;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0')
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return t <= now ? 0 : (long)(t - now);
}

/* Does the parameter list [p, end) contain rel="rel" (or an unquoted/space-separated
 * rel list holding it)? */
static int params_have_rel(const char *p, const char *end, const char *rel)
{
	size_t rl = strlen(rel);
	while (p < end) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		const char *name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		size_t nlen = (size_t)(p - name);
		while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *val;
		size_t vlen;
		if (p < end && *p == '"') {
			val = ++p;
			while (p < end && *p != '"')
				p++;
			vlen = (size_t)(p - val);
			if (p < end)
				p++;
		} else {
			val = p;
			while (p < end && *p != ';')
				p++;
			vlen = (size_t)(p - val);
			while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
				vlen--;
		}
		if (nlen == 3 && strncasecmp(name, "rel", 3) == 0) {
			/* rel may hold several space-separated relation types */
			const char *q = val, *vend = val + vlen;
			while (q < vend) {
				while (q < vend && *q == ' ')
					q++;
				const char *w = q;
				while (q < vend && *q != ' ')
					q++;
				if ((size_t)(q - w) == rl && strncasecmp(w, rel, rl) == 0)
					return 1;
			}
		}
	}
	return 0;
}

size_t parse_link_rel(const char *value, const char *rel, char **out, size_t max)
{
	size_t n = 0;
	const char *p = value;
	if (!value)
		return 0;
	while (*p && n < max) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p != '<')
			break;
		const char *u = ++p;
		const char *ue = strchr(u, '>');
		if (!ue)
			break;
		p = ue + 1;
		/* parameters run to the next comma outside quotes */
		const char *ps = p;
		int inq = 0;
		while (*p && (inq || *p != ',')) {
			if (*p == '"')
				inq = !inq;
			p++;
		}
		if (params_have_rel(ps, p, rel)) {
			out[n] = strndup(u, (size_t)(ue - u));
			if (out[n])
				n++;
		}
	}
	return n;
}

static const char *short_type(const char *t)
{
	size_t n = strlen(PROBLEM_NS);
	if (t && strncmp(t, PROBLEM_NS, n) == 0)
		return t + n;
	return t ? t : "unknown problem";
}

char *format_problem(const json_t *problem, char *buf, size_t len)
{
	size_t off = 0;
	if (len == 0)
		return buf;
	buf[0] = '\0';
#define APPEND(...)                                                                   \
	do {                                                                              \
		if (off < len) {                                                              \
			int w_ = snprintf(buf + off, len - off, __VA_ARGS__);                     \
			off = w_ < 0 ? off : (off + (size_t)w_ >= len ? len : off + (size_t)w_); \
		}                                                                             \
	} while (0)
	if (!json_is_object(problem)) {
		static const char msg[] = "server sent an error without a problem document";
		size_t n = sizeof msg - 1 < len - 1 ? sizeof msg - 1 : len - 1;
		memcpy(buf, msg, n);
		buf[n] = '\0';
		return buf;
	}
	const char *type = json_string_value(json_object_get(problem, "type"));
	const char *detail = json_string_value(json_object_get(problem, "detail"));
	APPEND("%s", short_type(type));
	if (detail && *detail)
		APPEND(": %s", detail);
	json_t *subs = json_object_get(problem, "subproblems");
	if (json_is_array(subs) && json_array_size(subs) > 0) {
		size_t i;
		json_t *s;
		APPEND(" [");
		json_array_foreach(subs, i, s) {
			const char *st = json_string_value(json_object_get(s, "type"));
			const char *sd = json_string_value(json_object_get(s, "detail"));
			const char *iv = json_string_value(json_object_get(json_object_get(s, "identifier"), "value"));
			APPEND("%s%s%s%s%s%s", i ? "; " : "", iv ? iv : "", iv ? ": " : "", short_type(st),
			       sd && *sd ? ": " : "", sd ? sd : "");
		}
		APPEND("]");
	}
#undef APPEND
	/* keep it one line: a server detail may contain newlines */
	for (char *c = buf; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return buf;
}

time_t parse_rfc3339(const char *s)
{
	struct tm tm;
	if (!s)
		return -1;
	memset(&tm, 0, sizeof tm);
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
			return -1;
		off = sign * (((p[1] - '0') * 10 + (p[2] - '0')) * 3600L + ((p[4] - '0') * 10 + (p[5] - '0')) * 60L);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return t - off;
}
