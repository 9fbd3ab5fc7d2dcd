/* A small accept loop on its own thread for the standalone solvers: listens on [::]:port
 * (dual stack, falling back to 0.0.0.0) only while a validation is in progress. */
#ifndef COBBLE_AGENT_LISTENER_H
#define COBBLE_AGENT_LISTENER_H
#include <stddef.h>

/* Called on the listener thread with a connected socket (with 5 s send/receive timeouts);
 * the listener closes fd afterwards. */
typedef void (*listener_fn)(int fd, void *ctx);

struct listener;
struct listener *listener_start(int port, listener_fn fn, void *ctx, char *err, size_t errlen);
void listener_stop(struct listener *l);

#endif
