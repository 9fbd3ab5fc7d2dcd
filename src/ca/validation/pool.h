/* The validation worker pool: challenges are validated here, never on the request path.
 * Workers write results through their own store handle. */
#ifndef COBBLE_POOL_H
#define COBBLE_POOL_H
#include "config.h"
#include "http01.h"
#include "resolver.h"
#include "storage/store.h"

struct va_pool;
/* Starts nworkers threads, each with its own store handle opened from store_spec. The
 * resolver and cfg are shared (borrowed: they outlive the pool); cfg gives the CAA
 * identities, the base URL (account URIs for RFC 8657 accounturi) and the valid
 * authorization lifetime. Requeues challenges left in processing by an earlier run.
 * -1 with err on failure. */
int va_pool_start(const struct va_settings *set, struct resolver *r, const struct config *cfg,
                  const char *store_spec, int nworkers, struct va_pool **out, char *err,
                  size_t errlen);
/* Queues validation of a challenge that store_challenge_start() moved to processing.
 * The worker loads the challenge, its authorization and account (for the key authorization:
 * token "." thumbprint, RFC 8555 §8.1), validates (http-01, dns-01, tls-alpn-01), checks CAA
 * for a dns identifier (RFC 8659 §3; a refusal or a failed lookup makes the challenge
 * invalid with a caa or dns problem) and records the result with store_challenge_finish().
 * Non-blocking; -1 if the queue is full (the caller answers with a retryable problem). */
int va_pool_submit(struct va_pool *p, const char *chall_id);
/* What a POST to a challenge does (RFC 8555 §7.5.1): store_challenge_start_leased moves it to
 * processing, leased to this pool, in one commit, and it is queued as by va_pool_submit (the
 * worker does not claim it again). Returns the store's code (CONFLICT: not pending any
 * more). A full queue is logged; the challenge is then taken over by a worker's lease sweep
 * once the lease runs out. p NULL: store_challenge_start only. */
int va_pool_start_challenge(struct va_pool *p, struct store *s, const char *chall_id);
/* Work for a worker other than a challenge (issue 7: a finalize whose CAA recheck would wait
 * on DNS on an event loop): run(arg, s, r) on a worker thread, with the worker's own store
 * handle and the pool's resolver, before any queued challenge; drop(arg) instead if the pool
 * stops first. Non-blocking; -1 (nothing called) when stopping or full: the caller does the
 * work itself. */
int va_pool_submit_task(struct va_pool *p, void (*run)(void *arg, struct store *s, struct resolver *r),
                        void (*drop)(void *arg), void *arg);
/* Called by a worker after it recorded a challenge's result (valid or invalid), with the
 * challenge id, from the worker's thread. Process-wide; set before any pool starts (main.c:
 * replywait_wake, so that a challenge POST waiting for its validation is answered at once). */
void va_pool_set_done_hook(void (*done)(const char *chall_id));
/* Stops accepting, finishes or abandons queued work (abandoned challenges stay processing
 * and are requeued at next start), joins the threads. */
void va_pool_stop(struct va_pool *p);

#endif
