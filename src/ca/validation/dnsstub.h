/* The resolver's stub mode (resolver.c): with a forwarder and no trust anchor, a set of queries
 * goes straight to the forwarder from the waiting thread, on one connected UDP socket, instead
 * of through libunbound. The sets and their queries are resolver_set.h's. Private to
 * src/ca/validation. */
#ifndef COBBLE_DNSSTUB_H
#define COBBLE_DNSSTUB_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include "resolver_set.h"

struct dnsstub_server {
	struct sockaddr_storage addr;
	socklen_t len;
};

/* The IPv4 or IPv6 address host (text, no name) and port into *srv; -1 if host is not one. */
int dnsstub_server_set(struct dnsstub_server *srv, const char *host, uint16_t port);

/* Sends q[0..n) (names and rrtypes set) as one set waited for through w, as libunbound's
 * queries_submit does; w->r is left to the caller. dnsstub_wait must follow. */
void dnsstub_submit(const struct dnsstub_server *srv, struct waiter *w, struct query *q, size_t n,
                    int first_set);

/* Waits until w's set is complete (resolver_set_ready) or dl (CLOCK_MONOTONIC) passes, sending
 * again what is unanswered, asking over TCP after a truncated answer and chasing aliases; then
 * closes the set's socket. Each query ends done (err or res set; res_stub marks a result made
 * here) or timed_out. */
void dnsstub_wait(const struct dnsstub_server *srv, struct waiter *w, const struct timespec *dl);

/* Frees a result made here (a query's res when its stub_res is set). */
void dnsstub_result_free(struct ub_result *res);

#endif
