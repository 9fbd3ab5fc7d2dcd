/* The CA's own DNS resolver: A/AAAA for connections, TXT for dns-01, CAA. Resolves
 * recursively with libunbound, validating DNSSEC; or forwards to a configured server, through
 * libunbound when trust anchors are added (resolver_add_trust_anchor), else directly (stub
 * mode, resolver.c). */
#ifndef COBBLE_RESOLVER_H
#define COBBLE_RESOLVER_H
#include <stddef.h>
#include "problem.h"

#define RESOLVER_MAX_ADDRS 16
#define RESOLVER_ADDR_LEN 46 /* INET6_ADDRSTRLEN */

struct resolver;
/* forwarder: "HOST:PORT" or "HOST" (port 53), or NULL to recurse from the root with
 * Debian's trust anchor. -1 with err on failure. Thread-safe after creation. */
int resolver_new(const char *forwarder, int timeout_ms, struct resolver **out, char *err, size_t errlen);
void resolver_free(struct resolver *r);
/* Adds a DNSSEC trust anchor, a DS or DNSKEY record in zone-file form ("lab. DS 1234 13 2 ..."),
 * before the first lookup: a lab or test whose forwarder serves a signed zone then gets
 * DNSSEC validation (answers that fail it are "dns" problems). -1 with err if unbound refuses. */
int resolver_add_trust_anchor(struct resolver *r, const char *rr, char *err, size_t errlen);
/* Resolves name's AAAA and A records (IPv6 first). On success *n >= 1 addresses in text form.
 * Failure: -1 with *prob of type "dns" (NXDOMAIN, SERVFAIL, timeout, no records, bogus DNSSEC). */
int resolver_addrs(struct resolver *r, const char *name, char addrs[][RESOLVER_ADDR_LEN], size_t max,
                   size_t *n, struct problem **prob);
/* TXT records of name, each record's strings concatenated (RFC 8555 §8.4). NXDOMAIN or no
 * records: 0 with *n == 0. *txts is malloc'd: free with resolver_strings_free(*txts, *n).
 * Failure (SERVFAIL, timeout, bogus DNSSEC): -1 with *prob of type "dns". */
int resolver_txt(struct resolver *r, const char *name, char ***txts, size_t *n, struct problem **prob);
void resolver_strings_free(char **s, size_t n);
/* The CAA RRset of name (RFC 8659 §4.1), aliases chased by the resolver (RFC 8659 §3), each
 * record parsed (caa_records_from_rdata). NXDOMAIN or no records: 0 with *n == 0. *recs is
 * one malloc'd block: free() it. Failure (SERVFAIL, timeout, bogus DNSSEC, a malformed record,
 * more than CAA_RRSET_MAX records): -1 with *prob of type "dns". */
struct caa_record;
int resolver_caa(struct resolver *r, const char *name, struct caa_record **recs, size_t *n,
                 struct problem **prob);
/* The tree walk of RFC 8659 §3 in one round: names[0..n) are a name and its parents in
 * order (nearest first); their CAA RRsets are queried concurrently under one deadline (the
 * resolver's timeout), and the relevant one is the first non-empty set in order, exactly as
 * the sequential climb finds it. On 0, *level is its index and *recs / *nrecs its records as
 * resolver_caa gives them, or *level == n and *nrecs == 0 when every set is empty. A failure
 * at a name before the relevant one (as resolver_caa's) is the walk's: -1 with *prob naming
 * that name. Failures at names after it do not matter (the sequential climb never asks there),
 * and the wait ends as soon as the relevant set is known. n <= RESOLVER_CAA_LEVELS_MAX. */
#define RESOLVER_CAA_LEVELS_MAX 127 /* labels in a 253-byte name */
int resolver_caa_walk(struct resolver *r, const char *const *names, size_t n, size_t *level,
                      struct caa_record **recs, size_t *nrecs, struct problem **prob);
/* resolver_caa_walk in two halves, so that the queries run while the caller does something
 * else (validates the challenge). _start submits them (names must stay valid until _finish or
 * _cancel; -1 with *prob as resolver_caa_walk's for bad names). _finish waits, at most the
 * resolver's timeout from when it is called, and decides as resolver_caa_walk does; _cancel
 * drops the lookups (NULL is fine). Both free p. */
struct resolver_caa_pending;
int resolver_caa_walk_start(struct resolver *r, const char *const *names, size_t n,
                            struct resolver_caa_pending **p, struct problem **prob);
int resolver_caa_walk_finish(struct resolver_caa_pending *p, size_t *level, struct caa_record **recs,
                             size_t *nrecs, struct problem **prob);
void resolver_caa_walk_cancel(struct resolver_caa_pending *p);

#endif
