/* Replies that wait for a durable commit (replywait.h). */
#include "replywait.h"
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include "log.h"
#include "reply.h"
#include "storage/store.h"
#include <string.h>

struct replywait {
	struct api *a;
	struct evhttp_request *req;      /* NULL once evhttp freed it */
	struct evhttp_connection *evcon; /* NULL once closed */
	int orphan;                      /* req outlived its connection: ours to free */
	replywait_send_fn *send;
	void *ctx;
	void (*free_ctx)(void *);
	struct event *settled;           /* on a->base, made active by the waiter's callback */
	_Atomic int ok;                  /* written before event_active, read in its callback; a
	                                  * wake may race the timeout's callback, hence atomic */
	struct store_sync_waiter w;
	struct replywait *next, **pprev; /* a->waits; touched only on a's loop */
	char key[REPLYWAIT_KEY_MAX];     /* replywait_start_wake's; "" for a sync wait */
	struct replywait *knext, **kpprev; /* wake_list, under wake_mu */
};

/* Every wait started by replywait_start_wake, on any loop, for replywait_wake (any thread). */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static struct replywait *wake_list;
/* Wakes that found no wait, under wake_mu. A validation can end before its request registers
 * the wait (va_pool_start_challenge hands the challenge to a worker first; with the stub
 * resolver a lab validation takes ~1 ms): its wake is kept here, and the wait registered next
 * under the key answers at once instead of at its timeout (1-2% of challenges at W=8 had
 * waited the whole 25 ms). A key (a challenge id) is woken once; the oldest is forgotten
 * first, which only makes a wait fall back to its timeout. */
#define EARLY_MAX 64
static char early[EARLY_MAX][REPLYWAIT_KEY_MAX];
static unsigned early_next;

static void unlink_free(struct replywait *rw)
{
	if (rw->key[0]) {
		/* Out of wake_list before the event goes: a wake after this finds nothing; one
		 * before it left the event active, and event_free takes it off the active queue. */
		pthread_mutex_lock(&wake_mu);
		*rw->kpprev = rw->knext;
		if (rw->knext)
			rw->knext->kpprev = rw->kpprev;
		pthread_mutex_unlock(&wake_mu);
	}
	*rw->pprev = rw->next;
	if (rw->next)
		rw->next->pprev = rw->pprev;
	if (rw->orphan && rw->req)
		evhttp_request_free(rw->req);
	if (rw->free_ctx)
		rw->free_ctx(rw->ctx);
	event_free(rw->settled);
	free(rw);
}

/* The store's callback, from whichever thread settled the sync (or from replywait_start's
 * store_sync_notify): only hands over to the loop. event_active takes the base's lock, which
 * orders the write of ok before the loop's read. */
static void on_settled(void *arg, int ok)
{
	struct replywait *rw = arg;
	rw->ok = ok;
	event_active(rw->settled, EV_TIMEOUT, 0);
}

/* On the loop. */
static void on_settled_loop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct replywait *rw = arg;
	if (rw->req && rw->evcon) {
		evhttp_connection_set_closecb(rw->evcon, NULL, NULL);
		rw->send(rw->a, rw->req, rw->ctx, rw->ok);
		rw->req = NULL; /* evhttp's again */
	}
	unlink_free(rw);
}

/* evhttp frees the connection right after this: the reply is abandoned, the wait stays until
 * its sync settles. A client that went away (or a read timeout) made evhttp detach the
 * unanswered request from the connection first (libevent 2.1 evhttp_connection_incoming_fail):
 * it is left to us to free. Otherwise (evhttp_free at shutdown) evhttp frees it with the
 * connection. */
static void on_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct replywait *rw = arg;
	if (evhttp_request_get_connection(rw->req) == NULL) {
		rw->orphan = 1;
		log_info("a client went away while its reply waited for the WAL sync");
	} else
		rw->req = NULL;
	rw->evcon = NULL;
}

/* A wait on a's loop for req, its event not yet armed; NULL when out of memory. */
static struct replywait *wait_new(struct api *a, struct evhttp_request *req, replywait_send_fn *send, void *ctx,
                                  void (*free_ctx)(void *))
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct replywait *rw = evcon ? calloc(1, sizeof *rw) : NULL;
	if (!rw)
		return NULL;
	rw->settled = event_new(a->base, -1, 0, on_settled_loop, rw);
	if (!rw->settled) {
		free(rw);
		return NULL;
	}
	rw->a = a;
	rw->req = req;
	rw->evcon = evcon;
	rw->send = send;
	rw->ctx = ctx;
	rw->free_ctx = free_ctx;
	rw->next = a->waits;
	rw->pprev = &a->waits;
	if (a->waits)
		a->waits->pprev = &rw->next;
	a->waits = rw;
	/* One request at a time per connection (evhttp reads the next after the reply), so the
	 * connection's one close callback is this wait's until it is sent. */
	evhttp_connection_set_closecb(evcon, on_closed, rw);
	return rw;
}

int replywait_start(struct api *a, struct evhttp_request *req, uint64_t ticket, replywait_send_fn *send,
                    void *ctx, void (*free_ctx)(void *))
{
	struct replywait *rw = wait_new(a, req, send, ctx, free_ctx);
	if (!rw)
		return -1;
	rw->w.ticket = ticket;
	rw->w.done = on_settled;
	rw->w.arg = rw;
	store_sync_notify(a->store, &rw->w);
	return 0;
}

int replywait_start_wake(struct api *a, struct evhttp_request *req, const char *key, int timeout_ms,
                         replywait_send_fn *send, void *ctx, void (*free_ctx)(void *))
{
	size_t kl = key ? strlen(key) : 0;
	if (kl == 0 || kl >= REPLYWAIT_KEY_MAX || timeout_ms < 0)
		return -1;
	struct replywait *rw = wait_new(a, req, send, ctx, free_ctx);
	if (!rw)
		return -1;
	memcpy(rw->key, key, kl + 1);
	int woken = 0;
	pthread_mutex_lock(&wake_mu);
	for (size_t i = 0; i < EARLY_MAX && !woken; i++)
		if (strcmp(early[i], key) == 0) {
			early[i][0] = '\0';
			woken = 1;
		}
	rw->knext = wake_list;
	rw->kpprev = &wake_list;
	if (wake_list)
		wake_list->kpprev = &rw->knext;
	wake_list = rw;
	pthread_mutex_unlock(&wake_mu);
	if (woken) {
		on_settled(rw, 1); /* the wake came first */
		return 0;
	}
	/* ok stays 0 unless a wake comes first: the timeout runs the same callback. */
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	if (event_add(rw->settled, &tv) != 0)
		event_active(rw->settled, EV_TIMEOUT, 0); /* no timer: answer with what there is now */
	return 0;
}

void replywait_wake(const char *key)
{
	int found = 0;
	size_t kl = key ? strlen(key) : 0;
	if (kl == 0 || kl >= REPLYWAIT_KEY_MAX)
		return;
	pthread_mutex_lock(&wake_mu);
	for (struct replywait *rw = wake_list; rw; rw = rw->knext)
		if (strcmp(rw->key, key) == 0) {
			on_settled(rw, 1); /* as a settled sync hands over: ok, then the loop */
			found = 1;
		}
	if (!found)
		memcpy(early[early_next++ % EARLY_MAX], key, kl + 1);
	pthread_mutex_unlock(&wake_mu);
}

struct blocker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, ok;
};

static void on_block_settled(void *arg, int ok)
{
	struct blocker *b = arg;
	pthread_mutex_lock(&b->mu);
	b->done = 1;
	b->ok = ok;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

int replywait_block(struct store *s, uint64_t ticket)
{
	struct blocker b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct store_sync_waiter w = {.ticket = ticket, .done = on_block_settled, .arg = &b};
	store_sync_notify(s, &w);
	pthread_mutex_lock(&b.mu);
	while (!b.done)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	return b.ok;
}

void replywait_free_all(struct api *a)
{
	while (a->waits)
		unlink_free(a->waits);
}

/* replywait_reply's context. */
struct durable_reply {
	int status;
	json_t *body; /* NULL: no body */
	char *location;
};

static void durable_reply_free(void *ctx)
{
	struct durable_reply *d = ctx;
	json_decref(d->body);
	free(d->location);
	free(d);
}

static void durable_reply_send(struct api *a, struct evhttp_request *req, void *ctx, int ok)
{
	struct durable_reply *d = ctx;
	if (!ok) {
		/* Nothing was promised that a crash could take back: no Location of it either. */
		evhttp_remove_header(evhttp_request_get_output_headers(req), "Location");
		reply_problem(a, req, problem_new("serverInternal", 500, "the change could not be stored durably"));
		return;
	}
	if (d->body) {
		json_t *b = d->body;
		d->body = NULL; /* reply_json takes it */
		reply_json(a, req, d->status, b, d->location);
	} else {
		reply_raw(a, req, d->status, NULL, NULL, 0);
	}
}

void replywait_reply(struct api *a, struct evhttp_request *req, uint64_t ticket, int status, json_t *body,
                     const char *location)
{
	if (!ticket) {
		if (body)
			reply_json(a, req, status, body, location);
		else
			reply_raw(a, req, status, NULL, NULL, 0);
		return;
	}
	struct durable_reply *d = calloc(1, sizeof *d);
	if (d) {
		d->status = status;
		d->body = body;
		d->location = location ? strdup(location) : NULL;
		if ((!location || d->location) &&
		    replywait_start(a, req, ticket, durable_reply_send, d, durable_reply_free) == 0)
			return;
		d->body = NULL; /* still the caller's, sent below */
		durable_reply_free(d);
	}
	struct durable_reply now = {status, body, (char *)location};
	durable_reply_send(a, req, &now, replywait_block(a->store, ticket));
	json_decref(now.body); /* NULL once sent */
}
