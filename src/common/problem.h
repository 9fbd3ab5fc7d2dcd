/* Problem documents (RFC 7807 / RFC 8555 §6.7): the one way errors reach an ACME client. */
#ifndef COBBLE_PROBLEM_H
#define COBBLE_PROBLEM_H
#include <jansson.h>

#define PROBLEM_NS "urn:ietf:params:acme:error:"

struct problem {
	char *type;          /* full URN, e.g. urn:ietf:params:acme:error:malformed */
	char *detail;        /* a sentence a person can act on */
	int status;          /* HTTP status */
	json_t *identifier;  /* optional {"type","value"}, for subproblems */
	json_t *subproblems; /* optional array of problem objects (RFC 8555 §6.7.1) */
	json_t *extra;       /* optional object: further members, e.g. "algorithms" (§6.2) */
};

/* type is the short ACME name ("badNonce"); status the HTTP status. Never returns NULL
 * except on allocation failure. */
struct problem *problem_new(const char *type, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void problem_free(struct problem *p);
/* Appends a subproblem (takes ownership of sub). */
void problem_add_sub(struct problem *p, struct problem *sub);
/* New JSON object {type, detail, status, identifier?, subproblems?}. */
json_t *problem_to_json(const struct problem *p);
/* Parses a stored problem JSON object; NULL if it is not one. */
struct problem *problem_from_json(const json_t *j);
/* The short name of p->type when it is in the ACME namespace, else the full type. */
const char *problem_short_type(const struct problem *p);

#endif
