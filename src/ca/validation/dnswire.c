/* DNS messages on the wire (dnswire.h). RFC 1035 §4.1 (header, question, resource records),
 * §4.1.4 (compression), RFC 6891 §6 (the OPT record). */
#include "dnswire.h"
#include <string.h>

#define HDR 12
#define TYPE_CNAME 5
#define TYPE_OPT 41
#define CLASS_IN 1
#define NAME_WIRE_MAX DNSWIRE_NAME_MAX /* RFC 1035 §2.3.4 */

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

int dnswire_name(const char *name, uint8_t *out)
{
	if (!name)
		return -1;
	size_t n = strlen(name), o = 0;
	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return -1;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && name[j] != '.')
			j++;
		size_t l = j - i;
		if (l == 0 || l > 63 || o + 1 + l + 1 > NAME_WIRE_MAX)
			return -1;
		out[o++] = (uint8_t)l;
		for (size_t k = 0; k < l; k++)
			out[o++] = lower((uint8_t)name[i + k]);
		i = j + 1;
	}
	out[o++] = 0;
	return (int)o;
}

/* Reads the name at *off (compression pointers followed, at most 64, never past the message)
 * in wire form, lowercased, into out[NAME_WIRE_MAX]; *off moves past the name as it stands at
 * *off. Its length, or -1 if malformed. */
static int read_name(const uint8_t *m, size_t len, size_t *off, uint8_t *out)
{
	size_t p = *off, o = 0, end = 0;
	int jumped = 0, hops = 0;
	for (;;) {
		if (p >= len)
			return -1;
		uint8_t c = m[p];
		if ((c & 0xC0) == 0xC0) {
			if (p + 1 >= len || ++hops > 64)
				return -1;
			if (!jumped)
				end = p + 2;
			jumped = 1;
			p = (size_t)(c & 0x3F) << 8 | m[p + 1];
			continue;
		}
		if (c & 0xC0)
			return -1; /* the reserved label types 01 and 10 */
		if (c == 0)
			break;
		if (p + 1 + c > len || o + 1 + c + 1 > NAME_WIRE_MAX)
			return -1;
		out[o++] = c;
		for (size_t k = 0; k < c; k++)
			out[o++] = lower(m[p + 1 + k]);
		p += 1 + (size_t)c;
	}
	out[o++] = 0;
	*off = jumped ? end : p + 1;
	return (int)o;
}

int dnswire_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *wname, size_t wlen, int qtype)
{
	if (wlen == 0 || wlen > NAME_WIRE_MAX || qtype < 0 || qtype > 0xFFFF || cap < HDR + wlen + 4 + 11)
		return -1;
	memset(buf, 0, HDR);
	put16(buf, id);
	buf[2] = 0x01; /* RD */
	put16(buf + 4, 1);  /* QDCOUNT */
	put16(buf + 10, 1); /* ARCOUNT: the OPT record */
	size_t o = HDR;
	memcpy(buf + o, wname, wlen);
	o += wlen;
	put16(buf + o, (unsigned)qtype);
	put16(buf + o + 2, CLASS_IN);
	o += 4;
	buf[o++] = 0; /* OPT: root owner, type, UDP size, extended RCODE/version/flags 0, no data */
	put16(buf + o, TYPE_OPT);
	put16(buf + o + 2, DNSWIRE_EDNS_SIZE);
	memset(buf + o + 4, 0, 6);
	o += 10;
	return (int)o;
}

/* One resource record of the answer section at *off: owner into owner[], the rest as
 * pointers into m; *off moves past it. -1 if malformed. */
struct rr {
	uint8_t owner[NAME_WIRE_MAX];
	int owner_len;
	unsigned type, cls;
	size_t rdoff, rdlen;
};

static int read_rr(const uint8_t *m, size_t len, size_t *off, struct rr *rr)
{
	if ((rr->owner_len = read_name(m, len, off, rr->owner)) < 0 || len - *off < 10)
		return -1;
	const uint8_t *p = m + *off;
	rr->type = get16(p);
	rr->cls = get16(p + 2);
	rr->rdlen = get16(p + 8);
	rr->rdoff = *off + 10;
	if (rr->rdlen > len - rr->rdoff)
		return -1;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

static int same_name(const uint8_t *a, int alen, const uint8_t *b, int blen)
{
	return alen == blen && memcmp(a, b, (size_t)alen) == 0;
}

int dnswire_answer(const uint8_t *msg, size_t len, uint16_t id, const uint8_t *want, size_t wlen,
                   int qtype, struct dnswire_answer *out)
{
	uint8_t q[NAME_WIRE_MAX];
	memset(out, 0, sizeof *out);
	if (wlen == 0 || wlen > NAME_WIRE_MAX || len < HDR || get16(msg) != id)
		return 1;
	unsigned flags = get16(msg + 2);
	if (!(flags & 0x8000) || ((flags >> 11) & 0xF) != 0 || get16(msg + 4) != 1)
		return 1; /* not a response, not to a QUERY, or without our question */
	size_t off = HDR;
	int qlen = read_name(msg, len, &off, q);
	if (qlen < 0 || len - off < 4)
		return -1;
	if (!same_name(q, qlen, want, (int)wlen) || get16(msg + off) != (unsigned)qtype ||
	    get16(msg + off + 2) != CLASS_IN)
		return 1;
	off += 4;
	out->rcode = (int)(flags & 0xF);
	out->truncated = (flags & 0x0200) != 0;
	if (out->truncated)
		return 0; /* what follows may be cut short: the caller asks over TCP */
	unsigned ancount = get16(msg + 6);
	size_t answers = off;

	/* The alias chain from the question's name (RFC 1034 §3.6.2): each hop is a CNAME owned
	 * by the current name; a chain longer than DNSWIRE_MAX_CNAMES (a loop) is refused. */
	uint8_t *cur = out->target;
	int clen = (int)wlen;
	memcpy(cur, want, wlen);
	struct rr rr;
	for (int hops = 0;; hops++) {
		int moved = 0;
		off = answers;
		for (unsigned i = 0; i < ancount && !moved; i++) {
			if (read_rr(msg, len, &off, &rr) != 0)
				return -1;
			if (rr.type == TYPE_CNAME && rr.cls == CLASS_IN && (unsigned)qtype != TYPE_CNAME &&
			    same_name(rr.owner, rr.owner_len, cur, clen)) {
				size_t t = rr.rdoff;
				uint8_t target[NAME_WIRE_MAX];
				int tlen = read_name(msg, len, &t, target);
				if (tlen < 0 || t != rr.rdoff + rr.rdlen)
					return -1;
				memcpy(cur, target, (size_t)tlen);
				clen = tlen;
				moved = 1;
				out->aliased = 1;
			}
		}
		if (!moved)
			break;
		if (hops + 1 > DNSWIRE_MAX_CNAMES)
			return -1;
	}
	off = answers;
	for (unsigned i = 0; i < ancount; i++) {
		if (read_rr(msg, len, &off, &rr) != 0)
			return -1;
		if (rr.type != (unsigned)qtype || rr.cls != CLASS_IN || !same_name(rr.owner, rr.owner_len, cur, clen))
			continue;
		if (out->n == DNSWIRE_MAX_RRS)
			return -1;
		out->rdata[out->n] = msg + rr.rdoff;
		out->len[out->n] = rr.rdlen;
		out->n++;
	}
	out->target_len = (size_t)clen;
	return 0;
}
