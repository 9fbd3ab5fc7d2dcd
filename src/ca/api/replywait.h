/* Replies that wait for a durable commit to reach the disk without holding up the event loop
 * (issue 7). A handler that committed with its sync deferred (store.h: store_sync_defer,
 * store_sync_ticket) hands its request to replywait_start with the ticket and a function that
 * renders the reply; the loop goes on serving other connections, and the function runs on
 * the loop once the commit is on disk (ok 1) or its sync failed (ok 0). If the client's
 * connection closes meanwhile, the function is not called and the context is just freed.
 * Measured under the issue 7 bench with 1 000 000 certificates stored: WAL syncs behind a
 * checkpoint took 30-150 ms, each one stalling every connection of the loop that waited. */
#ifndef COBBLE_REPLYWAIT_H
#define COBBLE_REPLYWAIT_H
#include <event2/http.h>
#include <jansson.h>
#include <stdint.h>
#include "api.h"

typedef void replywait_send_fn(struct api *a, struct evhttp_request *req, void *ctx, int ok);

/* Takes ctx (freed with free_ctx once sent or abandoned) and returns 0; -1 when out of memory,
 * ctx then still the caller's (replywait_block is the way out). */
int replywait_start(struct api *a, struct evhttp_request *req, uint64_t ticket, replywait_send_fn *send,
                    void *ctx, void (*free_ctx)(void *));
/* A reply for a handler whose durable change was committed with its sync deferred (ticket
 * from store_sync_ticket; 0: nothing to wait for, sent at once): status with the JSON body
 * (taken; NULL for none) and Location, once the commit is on disk; a 500 problem instead if
 * its sync failed. The loop does not wait (replywait_block if out of memory). */
void replywait_reply(struct api *a, struct evhttp_request *req, uint64_t ticket, int status, json_t *body,
                     const char *location);
/* A reply that waits for something another thread does, at most timeout_ms: send runs on the
 * loop with ok 1 once replywait_wake(key) is called (from any thread), or with ok 0 when the
 * time is up. key (a challenge id: a challenge POST answered once its validation ended,
 * routes.c) is copied; same ownership and connection-close rules as replywait_start. -1 (ctx
 * still the caller's) when out of memory or key is empty or too long. */
#define REPLYWAIT_KEY_MAX 64
int replywait_start_wake(struct api *a, struct evhttp_request *req, const char *key, int timeout_ms,
                         replywait_send_fn *send, void *ctx, void (*free_ctx)(void *));
/* Wakes every reply waiting under key, on whichever loop. With none, the wake is kept (the
 * last 64), and a wait then started under key is answered at once. */
void replywait_wake(const char *key);
/* Waits in this thread for ticket's commit: 1 on disk, 0 if its sync failed. */
int replywait_block(struct store *s, uint64_t ticket);
/* At shutdown, after a's loop stopped, its evhttp was freed and its store handle closed
 * (which settles every waiter): frees the waits left. */
void replywait_free_all(struct api *a);

#endif
