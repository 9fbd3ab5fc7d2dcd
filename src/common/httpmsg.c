/* The HTTP/1.1 response parser (RFC 9112) behind httpc: status line, header fields, and a body
 * framed by Content-Length, chunked coding or the end of the connection, every part bounded. */
#include "httpmsg.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTPC_MAX_INTERIM 8         /* 1xx responses skipped before the final one */
#define HTTPC_MAX_CL_DIGITS 18      /* fits in uint64_t; far beyond any body limit */

enum { ST_STATUS, ST_HEADERS, ST_BODY_LEN, ST_BODY_CLOSE, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF,
       ST_TRAILERS, ST_DONE, ST_ERROR };
enum { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

/* ---- response ---- */

void httpc_response_clear(struct httpc_response *r)
{
	for (size_t i = 0; i < r->nfields; i++)
		free(r->fields[i].name); /* value lives in the same block */
	free(r->fields);
	free(r->body);
	memset(r, 0, sizeof *r);
}

size_t httpc_header_all(const struct httpc_response *r, const char *name, const char **vals, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nfields; i++)
		if (strcasecmp(r->fields[i].name, name) == 0) {
			if (n < max)
				vals[n] = r->fields[i].value;
			n++;
		}
	return n;
}

const char *httpc_header(const struct httpc_response *r, const char *name)
{
	const char *v = NULL;
	return httpc_header_all(r, name, &v, 1) ? v : NULL;
}

/* ---- parser ---- */

static int perr(struct httpc_parser *p, enum httpc_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
	p->code = code;
	p->state = ST_ERROR;
	return HTTPC_PARSE_ERROR;
}

int httpc_parser_init(struct httpc_parser *p, const struct httpc_limits *lim, int head_only,
                      struct httpc_response *resp)
{
	memset(p, 0, sizeof *p);
	if (lim)
		p->lim = *lim;
	if (!p->lim.max_headers)
		p->lim.max_headers = HTTPC_DEFAULT_MAX_HEADERS;
	if (!p->lim.max_line)
		p->lim.max_line = HTTPC_DEFAULT_MAX_LINE;
	if (!p->lim.max_body)
		p->lim.max_body = HTTPC_DEFAULT_MAX_BODY;
	p->head_only = head_only;
	p->resp = resp;
	memset(resp, 0, sizeof *resp);
	p->line = malloc(p->lim.max_line + 2); /* + CR + NUL */
	if (!p->line)
		return perr(p, HTTPC_ENOMEM, "out of memory");
	return 0;
}

void httpc_parser_free(struct httpc_parser *p)
{
	free(p->line);
	p->line = NULL;
}

int httpc_is_tchar(unsigned char c)
{
	/* RFC 9110 §5.6.2 */
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* field-vchar, SP, HTAB (RFC 9110 §5.5): no CTL but HTAB, no DEL. */
static int is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Assembles one line from data[*i..]: 1 when p->line holds a whole line (CRLF or LF removed,
 * RFC 9112 §2.2), 0 when data ran out, -1 on error. */
static int take_line(struct httpc_parser *p, const char *data, size_t len, size_t *i)
{
	while (*i < len) {
		char c = data[(*i)++];
		if (c == '\n') {
			if (p->line_len && p->line[p->line_len - 1] == '\r')
				p->line_len--;
			p->line[p->line_len] = '\0';
			if (memchr(p->line, '\r', p->line_len))
				return perr(p, HTTPC_EPROTO, "bare CR in the response head"), -1;
			return 1;
		}
		if (p->line_len >= p->lim.max_line + 1) /* room for the CR of CRLF */
			return perr(p, HTTPC_EPROTO, "a response line is longer than %zu bytes", p->lim.max_line), -1;
		p->line[p->line_len++] = c;
	}
	return 0;
}

static int parse_status(struct httpc_parser *p)
{
	const char *l = p->line;
	size_t n = p->line_len;
	/* RFC 9112 §4: HTTP-version SP 3DIGIT SP [ reason-phrase ] */
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ' ||
	    l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
	    (n > 12 && l[12] != ' '))
		return perr(p, HTTPC_EPROTO, "invalid status line \"%.60s\"", l);
	for (size_t i = 13; i < n; i++)
		if (!is_field_char((unsigned char)l[i]))
			return perr(p, HTTPC_EPROTO, "invalid byte in the status line");
	p->resp->minor = l[7] - '0';
	p->resp->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (p->resp->status == 101)
		return perr(p, HTTPC_EPROTO, "unexpected 101 Switching Protocols");
	return 0;
}

static int add_field(struct httpc_parser *p, int trailer)
{
	char *l = p->line;
	size_t n = p->line_len;
	if (l[0] == ' ' || l[0] == '\t')
		return perr(p, HTTPC_EPROTO, "obsolete line folding in a header field (RFC 9112 §5.2)");
	size_t k = 0;
	while (k < n && httpc_is_tchar((unsigned char)l[k]))
		k++;
	if (k == 0 || k == n || l[k] != ':') /* RFC 9112 §5.1: no whitespace before the colon */
		return perr(p, HTTPC_EPROTO, "invalid header field \"%.40s\"", l);
	size_t vs = k + 1, ve = n;
	while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	for (size_t i = vs; i < ve; i++)
		if (!is_field_char((unsigned char)l[i]))
			return perr(p, HTTPC_EPROTO, "invalid byte 0x%02x in header field %.*s", (unsigned char)l[i],
			            (int)(k > 40 ? 40 : k), l);
	struct httpc_response *r = p->resp;
	if (r->nfields + p->interim >= p->lim.max_headers) /* interim: trailers count here too */
		return perr(p, HTTPC_EPROTO, "more than %zu header fields", p->lim.max_headers);
	if (trailer) {
		p->interim++; /* trailers are checked and counted, not kept */
		return 0;
	}
	struct httpc_field *f = realloc(r->fields, (r->nfields + 1) * sizeof *f);
	if (!f)
		return perr(p, HTTPC_ENOMEM, "out of memory");
	r->fields = f;
	char *blk = malloc(k + 1 + (ve - vs) + 1);
	if (!blk)
		return perr(p, HTTPC_ENOMEM, "out of memory");
	memcpy(blk, l, k);
	blk[k] = '\0';
	memcpy(blk + k + 1, l + vs, ve - vs);
	blk[k + 1 + ve - vs] = '\0';
	f[r->nfields].name = blk;
	f[r->nfields].value = blk + k + 1;
	r->nfields++;
	return 0;
}

/* 1 if the comma-separated list value holds token tok (case-insensitive). */
static int list_has(const char *value, const char *tok)
{
	size_t tl = strlen(tok);
	const char *s = value;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		size_t n = strcspn(s, ",");
		size_t m = n;
		while (m && (s[m - 1] == ' ' || s[m - 1] == '\t'))
			m--;
		if (m == tl && strncasecmp(s, tok, tl) == 0)
			return 1;
		s += n;
	}
	return 0;
}

/* RFC 9112 §6.3: how the body ends, once the head is complete. */
static int end_of_head(struct httpc_parser *p)
{
	struct httpc_response *r = p->resp;
	if (r->status < 200) { /* an interim response: its fields are dropped */
		if (++p->interim > HTTPC_MAX_INTERIM)
			return perr(p, HTTPC_EPROTO, "more than %d interim (1xx) responses", HTTPC_MAX_INTERIM);
		for (size_t i = 0; i < r->nfields; i++)
			free(r->fields[i].name);
		free(r->fields);
		r->fields = NULL;
		r->nfields = 0;
		r->status = 0;
		p->state = ST_STATUS;
		return 0;
	}
	p->interim = 0; /* from here on it counts trailer fields */
	p->keep_alive = r->minor >= 1;
	const char *conn[16];
	size_t nc = httpc_header_all(r, "Connection", conn, 16);
	for (size_t i = 0; i < nc && i < 16; i++) {
		if (list_has(conn[i], "close"))
			p->keep_alive = 0;
		else if (r->minor == 0 && list_has(conn[i], "keep-alive"))
			p->keep_alive = 1;
	}
	const char *te[16], *cl[16];
	size_t nte = httpc_header_all(r, "Transfer-Encoding", te, 16);
	size_t ncl = httpc_header_all(r, "Content-Length", cl, 16);
	if (p->head_only || r->status == 204 || r->status == 304) {
		p->framing = FRAME_NONE;
		p->state = ST_DONE;
		return 0;
	}
	if (nte) {
		if (ncl) /* RFC 9112 §6.1: both is a smuggling attempt or a broken server */
			return perr(p, HTTPC_EPROTO, "both Transfer-Encoding and Content-Length");
		if (nte != 1 || strcasecmp(te[0], "chunked") != 0 || r->minor == 0)
			return perr(p, HTTPC_EPROTO, "unsupported Transfer-Encoding \"%.40s\"", te[0]);
		p->framing = FRAME_CHUNKED;
		p->state = ST_CHUNK_SIZE;
		return 0;
	}
	if (ncl) {
		if (ncl > 16)
			return perr(p, HTTPC_EPROTO, "too many Content-Length fields");
		uint64_t v = 0;
		for (size_t i = 0; i < ncl; i++) {
			size_t n = strlen(cl[i]);
			uint64_t x = 0;
			if (n == 0 || strspn(cl[i], "0123456789") != n)
				return perr(p, HTTPC_EPROTO, "invalid Content-Length \"%.40s\"", cl[i]);
			if (n > HTTPC_MAX_CL_DIGITS)
				return perr(p, HTTPC_ETOOBIG, "the body is larger than %zu bytes", p->lim.max_body);
			for (size_t k = 0; k < n; k++)
				x = x * 10 + (uint64_t)(cl[i][k] - '0');
			if (i && x != v)
				return perr(p, HTTPC_EPROTO, "conflicting Content-Length fields");
			v = x;
		}
		if (v > p->lim.max_body)
			return perr(p, HTTPC_ETOOBIG, "the body is larger than %zu bytes", p->lim.max_body);
		p->framing = FRAME_LENGTH;
		p->left = v;
		p->state = v ? ST_BODY_LEN : ST_DONE;
		return 0;
	}
	p->framing = FRAME_CLOSE;
	p->keep_alive = 0;
	p->state = ST_BODY_CLOSE;
	return 0;
}

static int body_append(struct httpc_parser *p, const char *d, size_t n)
{
	struct httpc_response *r = p->resp;
	if (n > p->lim.max_body - r->body_len)
		return perr(p, HTTPC_ETOOBIG, "the body is larger than %zu bytes", p->lim.max_body);
	if (r->body_len + n + 1 > p->body_cap) {
		size_t cap = p->body_cap ? p->body_cap : 1024;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		if (cap > p->lim.max_body + 1)
			cap = p->lim.max_body + 1;
		char *b = realloc(r->body, cap);
		if (!b)
			return perr(p, HTTPC_ENOMEM, "out of memory");
		r->body = b;
		p->body_cap = cap;
	}
	memcpy(r->body + r->body_len, d, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static int chunk_size(struct httpc_parser *p)
{
	/* RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF; extensions are ignored. */
	const char *l = p->line;
	size_t k = 0;
	uint64_t v = 0;
	while (k < p->line_len && ((l[k] >= '0' && l[k] <= '9') || ((l[k] | 0x20) >= 'a' && (l[k] | 0x20) <= 'f'))) {
		if (v > p->lim.max_body)
			return perr(p, HTTPC_ETOOBIG, "the body is larger than %zu bytes", p->lim.max_body);
		int d = l[k] <= '9' ? l[k] - '0' : (l[k] | 0x20) - 'a' + 10;
		v = v * 16 + (uint64_t)d;
		k++;
	}
	if (k == 0)
		return perr(p, HTTPC_EPROTO, "invalid chunk size \"%.20s\"", l);
	size_t e = k;
	while (e < p->line_len && (l[e] == ' ' || l[e] == '\t'))
		e++;
	if (e < p->line_len && l[e] != ';')
		return perr(p, HTTPC_EPROTO, "invalid chunk size \"%.20s\"", l);
	for (; e < p->line_len; e++)
		if (!is_field_char((unsigned char)l[e]))
			return perr(p, HTTPC_EPROTO, "invalid byte in a chunk extension");
	if (v > p->lim.max_body - p->resp->body_len)
		return perr(p, HTTPC_ETOOBIG, "the body is larger than %zu bytes", p->lim.max_body);
	p->left = v;
	p->state = v ? ST_CHUNK_DATA : ST_TRAILERS;
	return 0;
}

int httpc_parser_feed(struct httpc_parser *p, const char *data, size_t len, size_t *used)
{
	size_t i = 0;
	int rc = 0;
	while (rc == 0 && p->state != ST_DONE && p->state != ST_ERROR && i < len) {
		switch (p->state) {
		case ST_STATUS:
		case ST_HEADERS:
		case ST_CHUNK_SIZE:
		case ST_CHUNK_CRLF:
		case ST_TRAILERS: {
			int got = take_line(p, data, len, &i);
			if (got < 0) {
				rc = -1;
				break;
			}
			if (got == 0)
				break;
			int st = p->state;
			if (st == ST_STATUS) {
				if (parse_status(p) == 0)
					p->state = ST_HEADERS;
			} else if (st == ST_HEADERS) {
				if (p->line[0] == '\0')
					end_of_head(p);
				else
					add_field(p, 0);
			} else if (st == ST_CHUNK_SIZE) {
				chunk_size(p);
			} else if (st == ST_CHUNK_CRLF) {
				if (p->line[0] != '\0')
					perr(p, HTTPC_EPROTO, "chunk data longer than its size");
				else
					p->state = ST_CHUNK_SIZE;
			} else {
				if (p->line[0] == '\0')
					p->state = ST_DONE;
				else
					add_field(p, 1);
			}
			p->line_len = 0;
			break;
		}
		case ST_BODY_LEN:
		case ST_CHUNK_DATA: {
			size_t n = len - i;
			if (n > p->left)
				n = (size_t)p->left;
			if (body_append(p, data + i, n) != 0)
				break;
			i += n;
			p->left -= n;
			if (p->left == 0)
				p->state = p->state == ST_BODY_LEN ? ST_DONE : ST_CHUNK_CRLF;
			break;
		}
		case ST_BODY_CLOSE:
			if (body_append(p, data + i, len - i) == 0)
				i = len;
			break;
		}
	}
	if (used)
		*used = i;
	if (p->state == ST_ERROR)
		return HTTPC_PARSE_ERROR;
	return p->state == ST_DONE ? HTTPC_PARSE_DONE : HTTPC_PARSE_MORE;
}

int httpc_parser_eof(struct httpc_parser *p)
{
	if (p->state == ST_DONE)
		return HTTPC_PARSE_DONE;
	if (p->state == ST_ERROR)
		return HTTPC_PARSE_ERROR;
	if (p->state == ST_BODY_CLOSE) {
		p->state = ST_DONE;
		return HTTPC_PARSE_DONE;
	}
	if (p->state == ST_STATUS && p->line_len == 0 && !p->interim)
		return perr(p, HTTPC_EIO, "connection closed by the server without a response");
	return perr(p, HTTPC_EIO, "connection closed by the server before the end of the response");
}
