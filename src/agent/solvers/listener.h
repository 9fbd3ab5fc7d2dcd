/* A small accept loop on its own thread for the standalone solvers: listens on [::]:port
 * (dual stack, falling back to 0.0.0.0) only while a validation is in progress. */
#ifndef COBBLE_AGENT_LISTENER_H
#define COBBLE_AGENT_LISTENER_H
#include <pthread.h>
#include <stddef.h>

/* Called on the listener thread with a connected socket (with 5 s send/receive timeouts);
 * the listener closes fd afterwards. */
typedef void (*listener_fn)(int fd, void *ctx);

struct listener;
struct listener *listener_start(int port, listener_fn fn, void *ctx, char *err, size_t errlen);
void listener_stop(struct listener *l);

/* For the standalone back ends' wait_seen (solver.h, RFC 8555 §7.5.1): cv on CLOCK_MONOTONIC
 * (0 or -1), and a wait with mu held until the flag find(state, token) points to is set (1),
 * the time is up (0), or find returns NULL because token is no longer published (0). */
int listener_seen_cond_init(pthread_cond_t *cv);
int listener_seen_wait(pthread_mutex_t *mu, pthread_cond_t *cv, const int *(*find)(void *state, const char *token),
                       void *state, const char *token, int timeout_ms);

#endif
