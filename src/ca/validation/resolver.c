/* The CA's own DNS resolver: libunbound on libevent, in the calling threads.
 * Each lookup is bounded by the resolver's timeout, which the synchronous API cannot do.
 *
 * Threading model (issue 7): no thread of libunbound's own. The resolver keeps a set of
 * slots, each a libevent base and a libunbound context created on it (ub_ctx_create_event),
 * so that the resolving state machines run in whichever thread runs that base. A lookup takes
 * a slot (slot_acquire: the one its thread already holds, else a free one, else a new one),
 * submits its queries (ub_resolve_event) and runs the slot's base until its answers are in or
 * its deadline passes (a timer on the base), then gives the slot back. A slot is used by one
 * thread at a time (r->mu guards who holds it), so nothing inside it needs a lock, callbacks
 * run in the waiting thread and the answers come straight from libunbound's sockets: no pipe,
 * no hand-off between threads. resolver_caa_walk_start keeps its slot until _finish or
 * _cancel, which must run on the same thread; a lookup that thread makes in between
 * (the challenge's own A/AAAA or TXT) runs the same base, so it reads the CAA answers too;
 * answers that come while the thread does something else (an HTTP fetch) wait in the socket
 * until it runs the base again (libevent runs ready sockets before expired timers, so they are
 * read before libunbound would retransmit).
 * On timeout or cancel, ub_cancel() on a query not yet answered means its callback never runs
 * (libunbound drops the answer when it comes); with one thread per slot there is no race.
 * Each slot has its own cache (libunbound has no way to share one between contexts): every
 * issuance asks fresh names, and in recursive mode the delegations and DNSSEC keys are learnt
 * once per slot; there are about as many slots as threads that resolve at once (the
 * validation workers and the event loops' CAA rechecks). A context is configured the same way
 * for every slot (forwarder, trust anchors); its first query, which makes libunbound finalize
 * it (and touch its process-wide logging state), runs under r->mu. */
#include "deadline.h"
#include "resolver.h"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound-event.h>
#include <unbound.h>
#include <unistd.h>
#include "caa.h"
#include "dnsmsg.h"
#include "log.h"

#define ROOT_KEY_FILE "/usr/share/dns/root.key" /* Debian's dns-root-data */
#define DEFAULT_TIMEOUT_MS 10000
#define RR_A 1
#define RR_TXT 16
#define RR_AAAA 28
#define RR_CAA 257
#define CLASS_IN 1
#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED 5
#define SEC_BOGUS 1 /* ub_event_callback_type's sec */

/* One libevent base and the libunbound context on it; see the header comment. */
struct slot {
	struct slot *next;
	struct event_base *base;
	struct ub_ctx *ctx;
	struct event *timer; /* a waiter's deadline */
	int expired;         /* the timer fired */
	int finalized;       /* a query went in (libunbound finalized the context) */
	/* under r->mu: */
	int holds;           /* lookups of owner's holding it (nested: a walk, then addrs) */
	pthread_t owner;
};

struct resolver {
	int timeout_ms;
	char fwd[96];            /* unbound's "HOST@PORT", or "" to recurse */
	int root_key;            /* recursing with ROOT_KEY_FILE as anchor */
	char **tas;              /* resolver_add_trust_anchor's, for slots made later */
	size_t ntas;
	pthread_mutex_t mu;      /* guards the slot list, holds and owner, and finalizing */
	struct slot *slots;
};

struct query {
	const char *name;
	int rrtype;
	int id;
	int submitted;
	int done;
	int timed_out;           /* given up: the deadline passed, or the answer is no longer needed */
	int err;                 /* libunbound error (UB_*) submitting, or 0 */
	int rcode;               /* the answer's DNS rcode (libunbound's failure, or the packet's) */
	int bogus;               /* DNSSEC validation failed */
	int malformed;           /* the answer packet could not be read */
	char *why_bogus;
	struct dnsmsg_rdata *rd; /* the answer RRset for name (after CNAMEs), nrd records; */
	unsigned char *pkt;      /* the answer, copied: both in one malloc'd block, at block */
	size_t nrd;
	void *block;
};

/* One set of queries submitted together on one slot, and the thread that waits for them. */
struct waiter {
	struct resolver *r;
	struct slot *slot;       /* held from submit to the end of the wait */
	struct query *q;
	size_t n;
	int first_set;           /* ready once the first decisive query in order is known (CAA walk) */
};

/* ---- slots ---- */

/* "HOST:PORT", "HOST", "[V6]:PORT", or a bare IPv6 address -> unbound's "HOST@PORT". */
/* "HOST:PORT", "HOST", "[V6]:PORT", or a bare IPv6 address -> unbound's "HOST@PORT". */
static int forwarder_spec(const char *fwd, char *out, size_t outlen)
{
	char host[64];
	const char *port = NULL;
	size_t hl;
	if (fwd[0] == '[') {
		const char *end = strchr(fwd, ']');
		if (!end)
			return -1;
		hl = (size_t)(end - fwd - 1);
		if (hl == 0 || hl >= sizeof host)
			return -1;
		memcpy(host, fwd + 1, hl);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(fwd, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* bare IPv6 address */
		hl = colon ? (size_t)(colon - fwd) : strlen(fwd);
		if (hl == 0 || hl >= sizeof host)
			return -1;
		memcpy(host, fwd, hl);
		if (colon)
			port = colon + 1;
	}
	host[hl] = '\0';
	unsigned char bin[16];
	if (inet_pton(AF_INET, host, bin) != 1 && inet_pton(AF_INET6, host, bin) != 1)
		return -1; /* unbound forwards to addresses, not names */
	long p = 53;
	if (port) {
		char *e;
		errno = 0;
		p = strtol(port, &e, 10);
		if (errno || *port == '\0' || *e != '\0' || p < 1 || p > 65535)
			return -1;
	}
	int n = snprintf(out, outlen, "%s@%ld", host, p);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* A context for r: the forwarder and its options, or the root trust anchor; the trust
 * anchors added so far. NULL with err on failure. */
static struct ub_ctx *context_new(struct resolver *r, struct event_base *base, char *err, size_t errlen)
{
	int rc;
	struct ub_ctx *ctx = ub_ctx_create_event(base);
	if (!ctx) {
		snprintf(err, errlen, "could not create the DNS resolver context");
		return NULL;
	}
	if (r->fwd[0]) {
		/* A forwarder on loopback (tests, a local cache) is refused without this. */
		if ((rc = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no")) != 0 ||
		    (rc = ub_ctx_set_fwd(ctx, r->fwd)) != 0) {
			snprintf(err, errlen, "dns resolver %s: %s", r->fwd, ub_strerror(rc));
			goto fail;
		}
		/* The forwarder is the test's (or operator's) authority: do not serve answers from
		 * our cache after it changed its records (dns-01 retries, CAA edits). */
		if ((rc = ub_ctx_set_option(ctx, "cache-max-ttl:", "0")) != 0 ||
		    (rc = ub_ctx_set_option(ctx, "cache-max-negative-ttl:", "0")) != 0 ||
		    /* unbound answers NXDOMAIN for test. itself (RFC 6761), the lab's usual zone:
		     * ask the forwarder instead ("nodefault" does not take effect through
		     * ub_ctx_set_option in 1.17; an empty transparent zone does). */
		    (rc = ub_ctx_set_option(ctx, "local-zone:", "test. transparent")) != 0) {
			snprintf(err, errlen, "resolver cache options: %s", ub_strerror(rc));
			goto fail;
		}
	} else if (r->root_key) {
		/* A static anchor: auto-trust (RFC 5011) would rewrite the packaged file. */
		if ((rc = ub_ctx_add_ta_file(ctx, ROOT_KEY_FILE)) != 0) {
			snprintf(err, errlen, "DNSSEC trust anchor %s: %s", ROOT_KEY_FILE, ub_strerror(rc));
			goto fail;
		}
	}
	for (size_t i = 0; i < r->ntas; i++)
		if ((rc = ub_ctx_add_ta(ctx, r->tas[i])) != 0) {
			snprintf(err, errlen, "DNSSEC trust anchor \"%.200s\": %s", r->tas[i], ub_strerror(rc));
			goto fail;
		}
	return ctx;
fail:
	ub_ctx_delete(ctx);
	return NULL;
}

static void slot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct slot *s = arg;
	s->expired = 1;
}

static void slot_free(struct slot *s)
{
	if (!s)
		return;
	/* The context first: it removes its events from the base. Queries still out (cancelled
	 * ones whose answers never came) are dropped without callbacks. */
	if (s->ctx)
		ub_ctx_delete(s->ctx);
	if (s->timer)
		event_free(s->timer);
	if (s->base)
		event_base_free(s->base);
	free(s);
}

/* With r->mu held. */
static struct slot *slot_new(struct resolver *r, char *err, size_t errlen)
{
	struct slot *s = calloc(1, sizeof *s);
	struct event_config *cfg = event_config_new();
	if (!s || !cfg) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* One thread at a time runs a slot's base (r->mu hands it over): no locks in it. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	s->base = event_base_new_with_config(cfg);
	if (!s->base || !(s->timer = evtimer_new(s->base, slot_timer_cb, s))) {
		snprintf(err, errlen, "resolver: could not create an event base");
		goto fail;
	}
	if (!(s->ctx = context_new(r, s->base, err, errlen)))
		goto fail;
	event_config_free(cfg);
	return s;
fail:
	if (cfg)
		event_config_free(cfg);
	slot_free(s);
	return NULL;
}

/* The slot this thread holds, else a free one, else a new one; NULL (logged) if none can be
 * made. Give it back with slot_release. */
static struct slot *slot_acquire(struct resolver *r)
{
	pthread_t self = pthread_self();
	struct slot *s, *free_one = NULL;
	pthread_mutex_lock(&r->mu);
	for (s = r->slots; s; s = s->next) {
		if (s->holds && pthread_equal(s->owner, self))
			break;
		if (!s->holds && !free_one)
			free_one = s;
	}
	if (!s)
		s = free_one;
	if (!s) {
		char err[256];
		if ((s = slot_new(r, err, sizeof err)) != NULL) {
			s->next = r->slots;
			r->slots = s;
		} else {
			log_error("resolver: %s", err);
		}
	}
	if (s) {
		s->holds++;
		s->owner = self;
	}
	pthread_mutex_unlock(&r->mu);
	return s;
}

static void slot_release(struct resolver *r, struct slot *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&r->mu);
	s->holds--;
	pthread_mutex_unlock(&r->mu);
}

int resolver_new(const char *forwarder, int timeout_ms, struct resolver **out, char *err, size_t errlen)
{
	struct resolver *r = calloc(1, sizeof *r);
	*out = NULL;
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&r->mu, NULL);
	if (forwarder && *forwarder) {
		if (forwarder_spec(forwarder, r->fwd, sizeof r->fwd) != 0) {
			snprintf(err, errlen, "dns resolver \"%s\": want IP, IP:PORT or [IPv6]:PORT", forwarder);
			goto fail;
		}
	} else if (access(ROOT_KEY_FILE, R_OK) == 0) {
		r->root_key = 1;
	} else {
		log_warn("resolver: %s not found (install dns-root-data): DNSSEC is not validated",
		         ROOT_KEY_FILE);
	}
	/* The first slot now, so that a configuration libunbound refuses fails the start. */
	if (!(r->slots = slot_new(r, err, errlen)))
		goto fail;
	*out = r;
	return 0;
fail:
	resolver_free(r);
	return -1;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	/* Callers must be done with the resolver (every slot given back). */
	while (r->slots) {
		struct slot *s = r->slots;
		r->slots = s->next;
		slot_free(s);
	}
	for (size_t i = 0; i < r->ntas; i++)
		free(r->tas[i]);
	free(r->tas);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int resolver_add_trust_anchor(struct resolver *r, const char *rr, char *err, size_t errlen)
{
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	char **tas = realloc(r->tas, (r->ntas + 1) * sizeof *tas);
	char *dup = strdup(rr);
	if (tas)
		r->tas = tas;
	if (!tas || !dup) {
		free(dup);
		pthread_mutex_unlock(&r->mu);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Every slot made so far (before the first lookup: the first one), and those to come. */
	for (struct slot *s = r->slots; s && rc == 0; s = s->next)
		rc = ub_ctx_add_ta(s->ctx, rr);
	if (rc == 0)
		r->tas[r->ntas++] = dup;
	else
		free(dup);
	pthread_mutex_unlock(&r->mu);
	if (rc != 0) {
		snprintf(err, errlen, "DNSSEC trust anchor \"%.200s\": %s", rr, ub_strerror(rc));
		return -1;
	}
	return 0;
}

/* ---- answers ---- */

/* Reads the answer to q from libunbound's packet, kept in q->pkt (dnsmsg_answer: its rcode and
 * the records of q's type at the end of the CNAME chain, as libunbound's own result has them,
 * RFC 8659 §3's aliases included). -1 if it is malformed (or memory is short). */
static int answer_parse(struct query *q, const unsigned char *pkt, size_t len)
{
	size_t an = dnsmsg_ancount(pkt, len);
	if (an > len / 11) /* more records than fit: malformed (dnsmsg_answer says so too) */
		return -1;
	/* The array first: malloc's alignment is struct dnsmsg_rdata's. */
	struct dnsmsg_rdata *block = malloc(an * sizeof *block + len);
	if (!block)
		return -1;
	q->block = block;
	q->rd = block;
	q->pkt = (unsigned char *)(block + an);
	memcpy(q->pkt, pkt, len);
	return dnsmsg_answer(q->pkt, len, (unsigned)q->rrtype, &q->rcode, q->rd, an, &q->nrd);
}

/* libunbound's callback: runs inside event_base_loop in the thread that holds the slot (or
 * inside ub_resolve_event, for an answer it has at once). */
static void query_done(void *arg, int rcode, void *pkt, int len, int sec, char *why_bogus, int ratelimited)
{
	(void)ratelimited;
	struct query *q = arg;
	q->done = 1;
	if (sec == SEC_BOGUS) {
		q->bogus = 1;
		if (why_bogus)
			q->why_bogus = strdup(why_bogus);
	}
	if (rcode) {
		q->rcode = rcode; /* libunbound's failure (SERVFAIL mostly): no packet to read */
		return;
	}
	if (!pkt || len < 0 || answer_parse(q, pkt, (size_t)len) != 0)
		q->malformed = 1;
}

static void query_clear(struct query *q)
{
	free(q->block);
	free(q->why_bogus);
	q->block = NULL;
	q->pkt = NULL;
	q->rd = NULL;
	q->nrd = 0;
	q->why_bogus = NULL;
}

/* Is a done query an error or a non-empty answer? (For the CAA walk: anything but an empty
 * set, which sends the walk on to the parent.) */
static int query_decisive(const struct query *q)
{
	if (q->err || q->malformed || q->bogus)
		return 1;
	if (q->rcode == RCODE_NXDOMAIN)
		return 0;
	if (q->rcode != 0)
		return 1;
	return q->nrd > 0;
}

/* Has w got what it waits for? All its queries, or with first_set the answers up to and
 * including the first decisive one. */
static int waiter_ready(const struct waiter *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (!w->q[i].done)
			return 0;
		if (w->first_set && query_decisive(&w->q[i]))
			return 1;
	}
	return 1;
}

/* Submits q[0..n) (each with its name and rrtype) as one set waited for through w, on a slot
 * this thread holds until queries_wait returns; with first_set the set is complete once the
 * first decisive one in order is known (query_decisive: the CAA tree walk needs nothing after
 * it). queries_wait must follow, on the same thread. */
static void queries_submit(struct resolver *r, struct waiter *w, struct query *q, size_t n, int first_set)
{
	*w = (struct waiter){.r = r, .q = q, .n = n, .first_set = first_set};
	w->slot = slot_acquire(r);
	for (size_t i = 0; i < n; i++) {
		int rc = UB_INITFAIL;
		if (w->slot) {
			struct slot *s = w->slot;
			/* The first query finalizes the context: one context at a time (resolver.c's
			 * header). The callback may run before ub_resolve_event returns. */
			int first = !s->finalized;
			if (first)
				pthread_mutex_lock(&r->mu);
			rc = ub_resolve_event(s->ctx, q[i].name, q[i].rrtype, CLASS_IN, &q[i], query_done, &q[i].id);
			if (first) {
				s->finalized = rc == 0;
				pthread_mutex_unlock(&r->mu);
			}
		}
		if (rc != 0) {
			if (!q[i].done) {
				q[i].err = rc;
				q[i].done = 1;
			}
		} else if (!q[i].done) {
			q[i].submitted = 1;
		}
	}
}

/* Runs w's slot until w's set is complete or dl (CLOCK_MONOTONIC) passes, cancels what is
 * still out and gives the slot back. Each query ends done (answered, or failed) or timed_out
 * (no answer, or one no longer needed). */
static void queries_wait(struct waiter *w, const struct timespec *dl)
{
	struct slot *s = w->slot;
	long left;
	if (s && !waiter_ready(w) && (left = deadline_ms_left(dl)) > 0) {
		struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
		s->expired = 0;
		evtimer_add(s->timer, &tv);
		/* Each round blocks until an answer (or a retransmission timer of libunbound's, or the
		 * deadline) and runs what is ready; answers for other lookups this thread has out
		 * on the slot (a CAA walk under way) are read too. */
		while (!waiter_ready(w) && !s->expired)
			if (event_base_loop(s->base, EVLOOP_ONCE) < 0) {
				log_error("resolver: event loop failed");
				break;
			}
		evtimer_del(s->timer);
	}
	for (size_t i = 0; i < w->n; i++) {
		struct query *q = &w->q[i];
		if (q->done)
			continue;
		/* Unanswered: its callback will never run (the answer is dropped when it comes). */
		if (q->submitted)
			ub_cancel(s->ctx, q->id);
		q->timed_out = 1;
	}
	slot_release(w->r, s);
	w->slot = NULL;
}

/* Runs q[0..n) concurrently and waits, at most the resolver's timeout in total (see
 * queries_submit, queries_wait). */
static void run_queries(struct resolver *r, struct query *q, size_t n, int first_set)
{
	struct waiter w;
	queries_submit(r, &w, q, n, first_set);
	struct timespec dl = deadline_after_ms(r->timeout_ms);
	queries_wait(&w, &dl);
}

static const char *rrtype_name(int t)
{
	switch (t) {
	case RR_A: return "A";
	case RR_AAAA: return "AAAA";
	case RR_TXT: return "TXT";
	case RR_CAA: return "CAA";
	default: return "?";
	}
}

/* NULL if q answered (with data or an empty NOERROR), else a problem naming the cause. */
static struct problem *query_problem(const struct resolver *r, const char *name, const struct query *q)
{
	const char *t = rrtype_name(q->rrtype);
	if (q->timed_out)
		return problem_new("dns", 400, "DNS problem: query timed out looking up %s for %s (after %d ms)",
		                   t, name, r->timeout_ms);
	if (q->err)
		return problem_new("dns", 400, "DNS problem: looking up %s for %s: %s", t, name,
		                   ub_strerror(q->err));
	if (q->bogus)
		return problem_new("dns", 400, "DNS problem: DNSSEC validation failed looking up %s for %s: %s",
		                   t, name, q->why_bogus ? q->why_bogus : "bogus answer");
	if (q->malformed)
		return problem_new("dns", 400, "DNS problem: looking up %s for %s: malformed answer", t, name);
	switch (q->rcode) {
	case 0:
		return NULL;
	case RCODE_NXDOMAIN:
		return problem_new("dns", 400,
		                   "DNS problem: NXDOMAIN looking up %s for %s - check that a DNS record "
		                   "exists for this domain", t, name);
	case RCODE_SERVFAIL:
		return problem_new("dns", 400, "DNS problem: SERVFAIL looking up %s for %s - the domain's "
		                   "nameservers may be malfunctioning", t, name);
	case RCODE_REFUSED:
		return problem_new("dns", 400, "DNS problem: REFUSED looking up %s for %s", t, name);
	default:
		return problem_new("dns", 400, "DNS problem: rcode %d looking up %s for %s", q->rcode, t,
		                   name);
	}
}

/* NXDOMAIN, validated or insecure: an answer (no such name), not a failure. */
static int is_nxdomain(const struct query *q)
{
	return q->done && !q->timed_out && !q->err && !q->malformed && !q->bogus &&
	       q->rcode == RCODE_NXDOMAIN;
}

static int name_ok(const char *name, struct problem **prob)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len > 253) {
		*prob = problem_new("dns", 400, "DNS problem: \"%s\" is not a valid DNS name",
		                    name ? name : "");
		return 0;
	}
	return 1;
}

int resolver_addrs(struct resolver *r, const char *name, char addrs[][RESOLVER_ADDR_LEN], size_t max,
                   size_t *n, struct problem **prob)
{
	struct query q[2] = {{.rrtype = RR_AAAA, .name = name}, {.rrtype = RR_A, .name = name}};
	*n = 0;
	*prob = NULL;
	if (!name_ok(name, prob))
		return -1;
	run_queries(r, q, 2, 0);

	struct problem *first = NULL;
	for (size_t i = 0; i < 2; i++) {
		struct problem *p = query_problem(r, name, &q[i]);
		if (p) {
			/* One family failing is not fatal if the other answered (like Boulder). */
			if (!first)
				first = p;
			else
				problem_free(p);
			continue;
		}
		int fam = q[i].rrtype == RR_AAAA ? AF_INET6 : AF_INET;
		int want = fam == AF_INET6 ? 16 : 4;
		for (size_t k = 0; k < q[i].nrd && *n < max; k++) {
			if (q[i].rd[k].len != (size_t)want)
				continue;
			if (inet_ntop(fam, q[i].pkt + q[i].rd[k].off, addrs[*n], RESOLVER_ADDR_LEN))
				(*n)++;
		}
	}
	for (size_t i = 0; i < 2; i++)
		query_clear(&q[i]);
	if (*n > 0) {
		problem_free(first);
		return 0;
	}
	*prob = first ? first
	              : problem_new("dns", 400, "DNS problem: no valid A or AAAA records found for %s", name);
	return -1;
}

int resolver_txt(struct resolver *r, const char *name, char ***txts, size_t *n, struct problem **prob)
{
	struct query q = {.rrtype = RR_TXT, .name = name};
	*txts = NULL;
	*n = 0;
	*prob = NULL;
	if (!name_ok(name, prob))
		return -1;
	run_queries(r, &q, 1, 0);
	if ((*prob = query_problem(r, name, &q)) != NULL) {
		/* NXDOMAIN is an answer here: there is no TXT record. */
		if (is_nxdomain(&q)) {
			problem_free(*prob);
			*prob = NULL;
		} else {
			query_clear(&q);
			return -1;
		}
	}
	size_t cnt = q.nrd;
	char **out = calloc(cnt + 1, sizeof *out);
	if (!out)
		goto nomem;
	for (size_t k = 0; k < cnt; k++) {
		/* RFC 1035 §3.3.14: one or more <character-string>s, concatenated (RFC 8555 §8.4). */
		const unsigned char *d = q.pkt + q.rd[k].off;
		size_t len = q.rd[k].len, o = 0, w = 0;
		char *s = malloc(len + 1);
		if (!s)
			goto nomem_out;
		while (o < len) {
			size_t l = d[o++];
			if (l > len - o)
				l = len - o;
			memcpy(s + w, d + o, l);
			w += l;
			o += l;
		}
		s[w] = '\0';
		out[(*n)++] = s;
	}
	query_clear(&q);
	*txts = out;
	return 0;
nomem_out:
	resolver_strings_free(out, *n);
	*n = 0;
nomem:
	query_clear(&q);
	*prob = problem_new("serverInternal", 500, "out of memory resolving %s", name);
	return -1;
}

void resolver_strings_free(char **s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

/* The records of a CAA answer that is not a failure (q done, rcode NOERROR). */
static int caa_answer(const char *name, const struct query *q, struct caa_record **recs, size_t *n,
                      struct problem **prob)
{
	const unsigned char *rdata[CAA_RRSET_MAX];
	size_t len[CAA_RRSET_MAX], cnt = 0;
	char err[256];
	while (cnt < q->nrd) {
		if (cnt == CAA_RRSET_MAX) {
			*prob = problem_new("dns", 400, "DNS problem: more than %d CAA records for %s",
			                    CAA_RRSET_MAX, name);
			return -1;
		}
		rdata[cnt] = q->pkt + q->rd[cnt].off;
		len[cnt] = q->rd[cnt].len;
		cnt++;
	}
	if (caa_records_from_rdata(rdata, len, cnt, recs, err, sizeof err) != 0) {
		*prob = problem_new("dns", 400, "DNS problem: looking up CAA for %s: %s", name, err);
		return -1;
	}
	*n = cnt;
	return 0;
}

struct resolver_caa_pending {
	struct resolver *r;
	const char *const *names;
	size_t n;
	struct waiter w;
	struct query q[];
};

int resolver_caa_walk_start(struct resolver *r, const char *const *names, size_t n,
                            struct resolver_caa_pending **out, struct problem **prob)
{
	*out = NULL;
	*prob = NULL;
	if (n > RESOLVER_CAA_LEVELS_MAX) {
		*prob = problem_new("dns", 400, "DNS problem: %zu names to look up CAA for, more than %d", n,
		                    RESOLVER_CAA_LEVELS_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!name_ok(names[i], prob))
			return -1;
	struct resolver_caa_pending *p = calloc(1, sizeof *p + n * sizeof p->q[0]);
	if (!p) {
		*prob = problem_new("serverInternal", 500, "out of memory looking up CAA");
		return -1;
	}
	p->r = r;
	p->names = names;
	p->n = n;
	for (size_t i = 0; i < n; i++) {
		p->q[i].rrtype = RR_CAA;
		p->q[i].name = names[i];
	}
	/* One round for every level; the wait ends once the relevant level is known. */
	queries_submit(r, &p->w, p->q, n, 1);
	*out = p;
	return 0;
}

int resolver_caa_walk_finish(struct resolver_caa_pending *p, size_t *level, struct caa_record **recs,
                             size_t *nrecs, struct problem **prob)
{
	struct query *q = p->q;
	int rc = 0;
	*recs = NULL;
	*nrecs = 0;
	*prob = NULL;
	*level = p->n;
	struct timespec dl = deadline_after_ms(p->r->timeout_ms);
	queries_wait(&p->w, &dl);
	for (size_t i = 0; i < p->n; i++) {
		if ((*prob = query_problem(p->r, p->names[i], &q[i])) != NULL) {
			/* NXDOMAIN is an empty RRset here: the climb goes on to the parent (RFC 8659 §3). */
			if (!is_nxdomain(&q[i])) {
				rc = -1;
				break;
			}
			problem_free(*prob);
			*prob = NULL;
			continue;
		}
		if (!q[i].nrd)
			continue; /* NODATA: empty too */
		/* The relevant RRset; failures at later (parent) names are never looked at. */
		if ((rc = caa_answer(p->names[i], &q[i], recs, nrecs, prob)) == 0)
			*level = i;
		break;
	}
	for (size_t i = 0; i < p->n; i++)
		query_clear(&q[i]);
	free(p);
	return rc;
}

void resolver_caa_walk_cancel(struct resolver_caa_pending *p)
{
	if (!p)
		return;
	struct timespec past = {0, 0};
	queries_wait(&p->w, &past);
	for (size_t i = 0; i < p->n; i++)
		query_clear(&p->q[i]);
	free(p);
}

int resolver_caa_walk(struct resolver *r, const char *const *names, size_t n, size_t *level,
                      struct caa_record **recs, size_t *nrecs, struct problem **prob)
{
	struct resolver_caa_pending *p;
	*recs = NULL;
	*nrecs = 0;
	*level = n;
	if (resolver_caa_walk_start(r, names, n, &p, prob) != 0)
		return -1;
	return resolver_caa_walk_finish(p, level, recs, nrecs, prob);
}

int resolver_caa(struct resolver *r, const char *name, struct caa_record **recs, size_t *n,
                 struct problem **prob)
{
	size_t level;
	return resolver_caa_walk(r, &name, 1, &level, recs, n, prob);
}
