/* DNS response reading for the resolver (dnsmsg.h). */
#include "dnsmsg.h"
#include <string.h>

#define NAME_MAX_WIRE 255 /* RFC 1035 §2.3.4 */
#define POINTERS_MAX 64
#define RR_CNAME 5
#define CLASS_IN 1
#define RR_MIN_LEN 11 /* root owner, type, class, TTL, RDLENGTH 0 */

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The name at *off of msg (len bytes), compression pointers followed (RFC 1035 §4.1.4), into
 * out in wire form, lower case (RFC 4343); *off moves past it where it sits. -1 if malformed:
 * out of bounds, too long, too many pointers (a loop), an unknown label type. */
static int read_name(const unsigned char *msg, size_t len, size_t *off, unsigned char out[NAME_MAX_WIRE],
                     size_t *outlen)
{
	size_t o = *off, n = 0, end = 0;
	int hops = 0;
	for (;;) {
		if (o >= len)
			return -1;
		unsigned l = msg[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 1 >= len || ++hops > POINTERS_MAX)
				return -1;
			if (!end)
				end = o + 2;
			o = (size_t)(l & 0x3f) << 8 | msg[o + 1];
			continue;
		}
		if (l & 0xc0)
			return -1; /* 0x40, 0x80: extended label types (RFC 6891 §5) */
		if (n + 1 + l > NAME_MAX_WIRE || (l && o + 1 + l >= len))
			return -1;
		out[n++] = (unsigned char)l;
		if (l == 0) {
			if (!end)
				end = o + 1;
			break;
		}
		for (size_t i = 0; i < l; i++) {
			unsigned char c = msg[o + 1 + i];
			out[n++] = (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
		}
		o += 1 + l;
	}
	*off = end;
	*outlen = n;
	return 0;
}

struct rr {
	unsigned char owner[NAME_MAX_WIRE];
	size_t ownerlen;
	unsigned type, class;
	size_t rdoff, rdlen;
};

/* The record at *off: owner, type, class, RDATA; *off moves past it. */
static int read_rr(const unsigned char *msg, size_t len, size_t *off, struct rr *rr)
{
	if (read_name(msg, len, off, rr->owner, &rr->ownerlen) != 0 || len - *off < 10)
		return -1;
	rr->type = get16(msg + *off);
	rr->class = get16(msg + *off + 2);
	rr->rdlen = get16(msg + *off + 8);
	rr->rdoff = *off + 10;
	if (rr->rdlen > len - rr->rdoff)
		return -1;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

size_t dnsmsg_ancount(const unsigned char *msg, size_t len)
{
	return len < 12 ? 0 : get16(msg + 6);
}

int dnsmsg_answer(const unsigned char *msg, size_t len, unsigned rrtype, int *rcode,
                  struct dnsmsg_rdata *rd, size_t cap, size_t *n)
{
	*n = 0;
	if (len < 12 || get16(msg + 4) != 1)
		return -1;
	*rcode = msg[3] & 0x0f;
	size_t an = get16(msg + 6), o = 12;
	unsigned char sname[NAME_MAX_WIRE];
	size_t snamelen;
	if (read_name(msg, len, &o, sname, &snamelen) != 0 || len - o < 4)
		return -1;
	o += 4; /* QTYPE, QCLASS */
	size_t first = o;
	if (an > (len - o) / RR_MIN_LEN)
		return -1;
	for (size_t i = 0; i < an; i++) {
		struct rr rr;
		if (read_rr(msg, len, &o, &rr) != 0)
			return -1;
		if (rr.type == RR_CNAME && rr.class == CLASS_IN && rrtype != RR_CNAME &&
		    rr.ownerlen == snamelen && memcmp(rr.owner, sname, snamelen) == 0) {
			size_t t = rr.rdoff; /* the target, within the RDATA */
			if (read_name(msg, rr.rdoff + rr.rdlen, &t, sname, &snamelen) != 0)
				return -1;
		}
	}
	o = first;
	for (size_t i = 0; i < an; i++) {
		struct rr rr;
		read_rr(msg, len, &o, &rr); /* read above */
		if (rr.type == rrtype && rr.class == CLASS_IN && rr.ownerlen == snamelen &&
		    memcmp(rr.owner, sname, snamelen) == 0 && *n < cap)
			rd[(*n)++] = (struct dnsmsg_rdata){rr.rdoff, rr.rdlen};
	}
	return 0;
}
