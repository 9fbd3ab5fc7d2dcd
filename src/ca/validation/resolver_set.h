/* The resolver's sets of queries (resolver.c), as both of its transports see them: libunbound's
 * (resolver.c) and the stub's (dnsstub.c). Private to src/ca/validation. */
#ifndef COBBLE_RESOLVER_SET_H
#define COBBLE_RESOLVER_SET_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <unbound.h>
#include "dnswire.h"

#define RCODE_NXDOMAIN 3

struct waiter;
struct resolver;

struct query {
	struct waiter *w;
	const char *name;
	int rrtype;
	int id;
	int submitted;
	int done;
	int timed_out;          /* given up: the deadline passed, or the answer is no longer needed */
	int err;                /* libunbound error (UB_*), or 0 */
	struct ub_result *res;  /* owned once done */
	int stub_res;           /* res was made by stub_fill, not by libunbound */
	const char *why;        /* stub mode: what went wrong, when err is set */
	uint8_t wname[DNSWIRE_NAME_MAX]; /* stub mode: the name asked for (an alias's target once chased) */
	size_t wlen;
	int chases;             /* stub mode: aliases chased with a query of their own */
};

/* One set of queries submitted together, and the thread that waits for them (inside
 * queries_wait). Lives on that thread's stack (run_queries) or in a resolver_caa_pending; its
 * queries point to it. */
struct waiter {
	struct query *q;
	size_t n;
	int first_set;     /* ready once the first decisive query in order is known (CAA tree walk) */
	int draining;      /* past the wait: waiting only for callbacks already under way */
	pthread_cond_t cv; /* signalled when ready, when made leader, or (draining) on any answer */
	struct waiter *next;
	struct resolver *r;
	int fd; /* stub mode: the UDP socket the set's queries went out on */
};

/* Has w got what it waits for? All its queries, or with first_set the answers up to and
 * including the first decisive one (an error or a non-empty answer: for the CAA walk anything
 * but an empty set, which sends the walk on to the parent). In libunbound's mode with r->mu
 * held. */
int resolver_set_ready(const struct waiter *w);

#endif
