/* Reading a DNS response (RFC 1035 §4.1) as libunbound's event API hands it over: its rcode
 * and the answer RRset for the question, after the CNAME chain. Bounded: every length is
 * checked against the message, names are at most 255 bytes, compression pointers at most 64. */
#ifndef COBBLE_DNSMSG_H
#define COBBLE_DNSMSG_H
#include <stddef.h>

/* One record's RDATA: msg + off, len bytes. */
struct dnsmsg_rdata {
	size_t off, len;
};

/* The answer section's record count (ANCOUNT) of msg, 0 if msg has no header: room for that
 * many is enough for dnsmsg_answer. */
size_t dnsmsg_ancount(const unsigned char *msg, size_t len);

/* msg's rcode, and the records of type rrtype (class IN) at the name the answer section's
 * CNAME chain leads to from the question's name (RFC 1034 §3.6.2: a CNAME whose owner is the
 * name sought so far moves it to its target, in order), as libunbound's own ub_result has
 * them: rd[0..*n) in order, at most cap. -1 if msg is malformed (or has not one question). */
int dnsmsg_answer(const unsigned char *msg, size_t len, unsigned rrtype, int *rcode,
                  struct dnsmsg_rdata *rd, size_t cap, size_t *n);

#endif
