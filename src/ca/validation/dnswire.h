/* DNS messages on the wire (RFC 1035 §4), for the resolver's stub mode: a query to build and
 * an answer to check against it and read. Network input: dnswire_answer reads any bytes,
 * bounded by len, and never follows a compression pointer loop. */
#ifndef COBBLE_DNSWIRE_H
#define COBBLE_DNSWIRE_H
#include <stddef.h>
#include <stdint.h>

#define DNSWIRE_MAX_RRS 256    /* records of the answered type kept; more is an error */
#define DNSWIRE_MAX_CNAMES 16  /* aliases followed inside one answer */
#define DNSWIRE_EDNS_SIZE 1232 /* the UDP payload size we advertise (RFC 6891; DNS flag day 2020) */

#define DNSWIRE_NAME_MAX 255 /* a name in wire form, the root's zero byte included */

/* name (presentation form, one trailing dot allowed, no escapes; labels 1..63 bytes, at most
 * 253 bytes) in wire form, lowercased, into out[DNSWIRE_NAME_MAX]. Its length, or -1. */
int dnswire_name(const char *name, uint8_t *out);

/* Writes a recursive query (RD) for the wire-form name wname[0..wlen) and qtype, class IN,
 * with an EDNS0 OPT record, into buf. Returns its length, or -1 if cap is too small. */
int dnswire_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *wname, size_t wlen, int qtype);

struct dnswire_answer {
	int rcode;     /* the header's RCODE (extended RCODE bits are not read) */
	int truncated; /* TC: ask again over TCP */
	size_t n;      /* records of qtype owned by the name the alias chain ends at */
	const uint8_t *rdata[DNSWIRE_MAX_RRS]; /* into the message */
	size_t len[DNSWIRE_MAX_RRS];
	/* The name the alias chain ends at, when the answer had a CNAME for the question (an
	 * answer with no records for it then asks for a query of that name: the resolver chases
	 * what the server did not). */
	int aliased;
	uint8_t target[DNSWIRE_NAME_MAX];
	size_t target_len;
};

/* Checks that msg[0..len) answers the query dnswire_query made (QR set, same id, opcode
 * QUERY, the same question, the name compared without regard to ASCII case) and reads it: the
 * records of qtype owned by wname or, through CNAME records in the answer section, by the name
 * the alias chain ends at (RFC 1034 §3.6.2). Returns 0 with *out filled, 1 if msg is not an
 * answer to that query (someone else's, or for another question), -1 if it is malformed or
 * holds more than DNSWIRE_MAX_RRS such records or DNSWIRE_MAX_CNAMES aliases. */
int dnswire_answer(const uint8_t *msg, size_t len, uint16_t id, const uint8_t *wname, size_t wlen,
                   int qtype, struct dnswire_answer *out);

#endif
