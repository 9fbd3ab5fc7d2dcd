/* CAA (RFC 8659, RFC 8657): may this CA (its identities from config) issue for this name, account
 * and validation method? caa_check decides on a record set (pure logic, no DNS); caa_check_name
 * finds the relevant record set through the resolver and decides. */
#ifndef COBBLE_CAA_H
#define COBBLE_CAA_H

#include <stddef.h>

#define CAA_FLAG_CRITICAL 0x80 /* RFC 8659 §4.1 */
#define CAA_VALUE_MAX 1024     /* longer values never authorize */

struct caa_record {
    unsigned flags;
    const char *tag;
    const char *value;
};

/* Returns 1 when issuance is permitted, 0 when forbidden; on 0, why (if given) names the record
 * that forbade it. wildcard selects issuewild (RFC 8659 §4.3); account_uri and method may be NULL. */
int caa_check(const struct caa_record *recs, size_t n, int wildcard, const char *const *ca_ids,
              size_t n_ids, const char *account_uri, const char *method, char *why, size_t whylen);

/* RFC 8659 §4.1 wire form: flags(1) tag-length(1, 1..15) tag (ASCII alphanumeric) value.
 * Writes a NUL-terminated tag (tag needs 16 bytes) and value (value needs CAA_VALUE_MAX + 1).
 * -1 on malformed or oversized RDATA. */
#define CAA_TAG_MAX 15
int caa_parse_rdata(const unsigned char *d, size_t len, unsigned *flags, char tag[CAA_TAG_MAX + 1],
                    char value[CAA_VALUE_MAX + 1]);

/* Builds the records of one CAA RRset from its RDATA (rdata[i] of len[i] bytes, as the
 * resolver returns them), each parsed with caa_parse_rdata. *out is one malloc'd block
 * holding the array and its strings: free() it (NULL when n == 0). -1 with err (a sentence
 * naming the bad record) if a record is malformed or the set has more than CAA_RRSET_MAX. */
#define CAA_RRSET_MAX 64
int caa_records_from_rdata(const unsigned char *const *rdata, const size_t *len, size_t n,
                           struct caa_record **out, char *err, size_t errlen);

/* The CAA check a CA does before issuing (RFC 8659 §3): finds the relevant record set by
 * climbing from name towards the root (up to, not including, the root) through the resolver
 * (r is struct resolver *; every level asked at once; the first name with a non-empty CAA RRset
 * wins, a failed lookup below it fails the check; CNAMEs followed as the resolver does) and
 * applies caa_check to it. Returns 1 when issuance is permitted (no records anywhere, or
 * the records allow it), 0 when forbidden with *prob of type "caa" naming the domain and
 * record that forbade it, -1 when a lookup failed (SERVFAIL, timeout, bogus DNSSEC) with
 * *prob of type "dns": the caller refuses issuance (fail closed). A name "*.X" is checked
 * as X with wildcard set (RFC 8659 §4.3). An IP address has no CAA (RFC 8738 defines none): 1. */
struct resolver;
struct problem;
int caa_check_name(struct resolver *r, const char *name, int wildcard, const char *const *ca_ids,
                   size_t n_ids, const char *account_uri, const char *method, struct problem **prob);

/* caa_check_name in two halves, so that the lookups run while the challenge is validated and
 * their result is applied only if it succeeded. caa_check_start: 1 when there is nothing to
 * look up (an IP address: permitted), -1 with *prob as caa_check_name's when the check cannot
 * start, 0 with *p when the lookups are under way. caa_check_finish waits for them (at most the
 * resolver's timeout from then) and returns what caa_check_name would; caa_check_cancel drops
 * them (NULL is fine). Both free p. */
struct caa_pending;
int caa_check_start(struct resolver *r, const char *name, int wildcard, struct caa_pending **p,
                    struct problem **prob);
int caa_check_finish(struct caa_pending *p, const char *const *ca_ids, size_t n_ids,
                     const char *account_uri, const char *method, struct problem **prob);
void caa_check_cancel(struct caa_pending *p);

#endif
