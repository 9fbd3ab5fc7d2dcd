/* Pure parsers for what an ACME server sends back: Retry-After, Link headers, problem
 * documents (formatted for one error line). No I/O, so the unit tests cover them directly. */
#ifndef COBBLE_AGENT_PARSE_H
#define COBBLE_AGENT_PARSE_H
#include <stddef.h>
#include <time.h>
#include <jansson.h>

/* Retry-After (RFC 9110 §10.2.3): delta-seconds or an IMF-fixdate. Returns the seconds to
 * wait from now (0 for a date in the past), or -1 when value is NULL or not valid. */
long parse_retry_after(const char *value, time_t now);

/* Finds the URL of a Link header value (RFC 8288) with rel=rel ("alternate", "up", "index").
 * A header value may hold several comma-separated links. Writes malloc'd URLs into out (at
 * most max) and returns how many matched. */
size_t parse_link_rel(const char *value, const char *rel, char **out, size_t max);

/* One line from a problem document: "type: detail [ident: subtype: subdetail; ...]".
 * Types in the ACME namespace are shortened. Returns buf. */
char *format_problem(const json_t *problem, char *buf, size_t len);

/* RFC 3339 timestamp (as ACME and ARI use: 2025-01-02T03:04:05Z, optional fraction and
 * offset) to time_t. -1 on bad input. */
time_t parse_rfc3339(const char *s);

#endif
