/* The CA's own DNS resolver: one libunbound context shared by every validation worker, or,
 * with a forwarder and no trust anchor, the stub mode of dnsstub.c (no libunbound at all).
 * Each lookup is bounded by the resolver's timeout, which the synchronous API cannot do.
 *
 * Threading model: one ub_ctx in threaded async mode (ub_ctx_async(ctx, 1)), so its cache
 * is shared. Workers submit with ub_resolve_async (thread-safe in libunbound: it takes the
 * context's own locks) and wait with a deadline, leader/follower style: of the threads
 * waiting for answers, one at a time (the leader) polls ub_fd() and calls ub_process(), which
 * runs our callback for whichever queries answered; the callback marks the query done and wakes
 * its waiter if that one now has what it waits for. The others (followers) sleep on their own
 * condition variable. A leader whose own answers are in (or whose deadline passed) hands the
 * role to a follower still waiting, so an answer never sits unread while someone waits for it.
 * There is no dispatcher thread: an answer for the leader wakes only the leader; one for a
 * follower wakes the leader, then the follower, as the dispatcher did. Answers nobody waits
 * for any more (cancelled queries) are read and dropped by the next leader.
 * On timeout the waiter calls ub_cancel(): in threaded mode UB_NOERROR means the callback will
 * never run (libunbound frees the answer when it arrives), anything else means the callback
 * already ran or is about to run in the thread inside ub_process() that dequeued the answer,
 * so the waiter waits for it (it is imminent: the answer is already dequeued). */
#include "deadline.h"
#include "dnsstub.h"
#include "resolver.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>
#include "caa.h"
#include "log.h"

#define ROOT_KEY_FILE "/usr/share/dns/root.key" /* Debian's dns-root-data */
#define DEFAULT_TIMEOUT_MS 10000
#define RR_A 1
#define RR_TXT 16
#define RR_AAAA 28
#define RR_CAA 257
#define RCODE_SERVFAIL 2
#define RCODE_REFUSED 5

struct resolver {
	struct ub_ctx *ctx;
	int timeout_ms;
	/* Stub mode (dnsstub.c): a forwarder and no trust anchor. */
	int stub;
	struct dnsstub_server fwd;
	pthread_mutex_t mu;      /* guards every query's done/err/res, every waiter, and the two below */
	struct waiter *waiters;  /* every thread inside run_queries */
	struct waiter *leader;   /* the one of them polling ub_fd(), or NULL */
};

/* Is a done query an error or a non-empty answer? (For the CAA walk: anything but an empty
 * set, which sends the walk on to the parent.) */
static int query_decisive(const struct query *q)
{
	if (q->err || !q->res || q->res->bogus)
		return 1;
	if (q->res->rcode == RCODE_NXDOMAIN)
		return 0;
	if (q->res->rcode != 0)
		return 1;
	return q->res->data && q->res->data[0];
}

int resolver_set_ready(const struct waiter *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (!w->q[i].done)
			return 0;
		if (w->first_set && query_decisive(&w->q[i]))
			return 1;
	}
	return 1;
}

/* Runs inside ub_process(), in whichever thread leads. */
static void query_done(void *arg, int err, struct ub_result *res)
{
	struct query *q = arg;
	struct waiter *w = q->w;
	struct resolver *r = w->r;
	pthread_mutex_lock(&r->mu);
	q->err = err;
	q->res = res;
	q->done = 1;
	/* After the unlock w may be gone (its thread saw what it waited for): not touched again. */
	if (w->draining || resolver_set_ready(w))
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&r->mu);
}

/* "HOST:PORT", "HOST", "[V6]:PORT", or a bare IPv6 address -> unbound's "HOST@PORT", and the
 * same address for the stub (*srv). */
static int forwarder_spec(const char *fwd, char *out, size_t outlen, struct dnsstub_server *srv)
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
	long p = 53;
	if (port) {
		char *e;
		errno = 0;
		p = strtol(port, &e, 10);
		if (errno || *port == '\0' || *e != '\0' || p < 1 || p > 65535)
			return -1;
	}
	if (dnsstub_server_set(srv, host, (uint16_t)p) != 0)
		return -1; /* unbound forwards to addresses, not names */
	int n = snprintf(out, outlen, "%s@%ld", host, p);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int resolver_new(const char *forwarder, int timeout_ms, struct resolver **out, char *err, size_t errlen)
{
	struct resolver *r = calloc(1, sizeof *r);
	int rc;
	*out = NULL;
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&r->mu, NULL);
	r->ctx = ub_ctx_create();
	if (!r->ctx) {
		snprintf(err, errlen, "could not create the DNS resolver context");
		goto fail;
	}
	if ((rc = ub_ctx_async(r->ctx, 1)) != 0) {
		snprintf(err, errlen, "resolver: threaded mode: %s", ub_strerror(rc));
		goto fail;
	}
	if (forwarder && *forwarder) {
		char spec[96];
		if (forwarder_spec(forwarder, spec, sizeof spec, &r->fwd) != 0) {
			snprintf(err, errlen, "dns resolver \"%s\": want IP, IP:PORT or [IPv6]:PORT", forwarder);
			goto fail;
		}
		/* A forwarder on loopback (tests, a local cache) is refused without this. */
		if ((rc = ub_ctx_set_option(r->ctx, "do-not-query-localhost:", "no")) != 0 ||
		    (rc = ub_ctx_set_fwd(r->ctx, spec)) != 0) {
			snprintf(err, errlen, "dns resolver \"%s\": %s", forwarder, ub_strerror(rc));
			goto fail;
		}
		r->stub = 1;
		/* The forwarder is the test's (or operator's) authority: do not serve answers from
		 * our cache after it changed its records (dns-01 retries, CAA edits). */
		if ((rc = ub_ctx_set_option(r->ctx, "cache-max-ttl:", "0")) != 0 ||
		    (rc = ub_ctx_set_option(r->ctx, "cache-max-negative-ttl:", "0")) != 0 ||
		    /* unbound answers NXDOMAIN for test. itself (RFC 6761), the lab's usual zone:
		     * ask the forwarder instead ("nodefault" does not take effect through
		     * ub_ctx_set_option in 1.17; an empty transparent zone does). */
		    (rc = ub_ctx_set_option(r->ctx, "local-zone:", "test. transparent")) != 0) {
			snprintf(err, errlen, "resolver cache options: %s", ub_strerror(rc));
			goto fail;
		}
	} else if (access(ROOT_KEY_FILE, R_OK) == 0) {
		/* A static anchor: auto-trust (RFC 5011) would rewrite the packaged file. */
		if ((rc = ub_ctx_add_ta_file(r->ctx, ROOT_KEY_FILE)) != 0) {
			snprintf(err, errlen, "DNSSEC trust anchor %s: %s", ROOT_KEY_FILE, ub_strerror(rc));
			goto fail;
		}
	} else {
		log_warn("resolver: %s not found (install dns-root-data): DNSSEC is not validated",
		         ROOT_KEY_FILE);
	}
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
	/* Stops libunbound's worker thread; outstanding queries (cancelled ones whose answers
	 * nobody read) are dropped without callbacks (callers must be done with the resolver). */
	if (r->ctx)
		ub_ctx_delete(r->ctx);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int resolver_add_trust_anchor(struct resolver *r, const char *rr, char *err, size_t errlen)
{
	int rc = ub_ctx_add_ta(r->ctx, rr);
	if (rc != 0) {
		snprintf(err, errlen, "DNSSEC trust anchor \"%.200s\": %s", rr, ub_strerror(rc));
		return -1;
	}
	r->stub = 0; /* validating DNSSEC is libunbound's work */
	return 0;
}

/* With r->mu held, by the leader as it leaves: the role goes to a waiter that still needs
 * answers (woken to poll), or to nobody if none does (the next arrival takes it). */
static void leader_handover(struct resolver *r, struct waiter *self)
{
	r->leader = NULL;
	for (struct waiter *o = r->waiters; o; o = o->next)
		if (o != self && !resolver_set_ready(o)) {
			r->leader = o;
			pthread_cond_signal(&o->cv);
			return;
		}
}

/* As the leader, with r->mu released: waits up to ms for answers and processes them. */
static void lead_once(struct resolver *r, long ms)
{
	struct pollfd pfd = {.fd = ub_fd(r->ctx), .events = POLLIN};
	int n = poll(&pfd, 1, (int)ms);
	if (n < 0 && errno != EINTR) {
		log_error("resolver: poll: %s", strerror(errno));
	} else if (n > 0) {
		int rc = ub_process(r->ctx);
		if (rc == 0)
			return;
		log_error("resolver: ub_process: %s", ub_strerror(rc));
	} else {
		return;
	}
	usleep((useconds_t)(ms < 100 ? ms : 100) * 1000); /* do not spin on a broken pipe */
}

static void res_free(struct query *q)
{
	if (q->stub_res)
		dnsstub_result_free(q->res);
	else
		ub_resolve_free(q->res);
	q->res = NULL;
}

/* Submits q[0..n) (each with its name and rrtype) as one set waited for through w; with
 * first_set the set is complete once the first decisive one in order is known (query_decisive:
 * the CAA tree walk needs nothing after it). queries_wait must follow. */
static void queries_submit(struct resolver *r, struct waiter *w, struct query *q, size_t n, int first_set)
{
	if (r->stub) {
		dnsstub_submit(&r->fwd, w, q, n, first_set);
		w->r = r;
		return;
	}
	*w = (struct waiter){.q = q, .n = n, .first_set = first_set, .r = r, .fd = -1};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	/* Deadlines on the monotonic clock: a wall-clock step must not stretch a lookup. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);

	for (size_t i = 0; i < n; i++) {
		q[i].w = w;
		/* A callback for an earlier query may already run in the leader: it reads q[]. */
		int rc = ub_resolve_async(r->ctx, q[i].name, q[i].rrtype, 1 /* IN */, &q[i], query_done,
		                          &q[i].id);
		pthread_mutex_lock(&r->mu);
		if (rc != 0) {
			q[i].err = rc;
			q[i].done = 1;
		} else {
			q[i].submitted = 1;
		}
		pthread_mutex_unlock(&r->mu);
	}
}

/* Waits until w's set is complete or dl (CLOCK_MONOTONIC) passes, then cancels what is still
 * out. Each query ends done (err/res set) or timed_out (no answer, or one no longer needed). */
static void queries_wait(struct resolver *r, struct waiter *w, const struct timespec *dl)
{
	if (r->stub) {
		dnsstub_wait(&r->fwd, w, dl);
		return;
	}
	struct query *q = w->q;
	size_t n = w->n;
	pthread_mutex_lock(&r->mu);
	w->next = r->waiters;
	r->waiters = w;
	for (;;) {
		if (resolver_set_ready(w))
			break;
		long left = deadline_ms_left(dl);
		if (left <= 0)
			break;
		if (!r->leader)
			r->leader = w;
		if (r->leader != w) {
			/* w->cv waits on CLOCK_MONOTONIC (queries_submit). */
			pthread_cond_timedwait(&w->cv, &r->mu, dl);
			continue;
		}
		pthread_mutex_unlock(&r->mu);
		lead_once(r, left);
		pthread_mutex_lock(&r->mu);
	}
	if (r->leader == w)
		leader_handover(r, w);
	for (struct waiter **pp = &r->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&r->mu);

	int wait_more = 0;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&r->mu);
		int done = q[i].done;
		pthread_mutex_unlock(&r->mu);
		if (done)
			continue;
		if (ub_cancel(r->ctx, q[i].id) == 0)
			q[i].timed_out = 1;
		else
			wait_more = 1; /* already dequeued: its callback is imminent */
	}
	if (wait_more) {
		pthread_mutex_lock(&r->mu);
		w->draining = 1;
		for (size_t i = 0; i < n; i++)
			while (!q[i].done && !q[i].timed_out)
				pthread_cond_wait(&w->cv, &r->mu);
		pthread_mutex_unlock(&r->mu);
	}
	pthread_cond_destroy(&w->cv);
}

/* Runs q[0..n) concurrently and waits, at most the resolver's timeout in total (see
 * queries_submit, queries_wait). */
static void run_queries(struct resolver *r, struct query *q, size_t n, int first_set)
{
	struct waiter w;
	queries_submit(r, &w, q, n, first_set);
	struct timespec dl = deadline_after_ms(r->timeout_ms);
	queries_wait(r, &w, &dl);
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
		                   q->why ? q->why : ub_strerror(q->err));
	if (!q->res)
		return problem_new("dns", 400, "DNS problem: looking up %s for %s: no result", t, name);
	if (q->res->bogus)
		return problem_new("dns", 400, "DNS problem: DNSSEC validation failed looking up %s for %s: %s",
		                   t, name, q->res->why_bogus ? q->res->why_bogus : "bogus answer");
	switch (q->res->rcode) {
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
		return problem_new("dns", 400, "DNS problem: rcode %d looking up %s for %s", q->res->rcode, t,
		                   name);
	}
}

/* NXDOMAIN, validated or insecure: an answer (no such name), not a failure. */
static int is_nxdomain(const struct query *q)
{
	return q->done && !q->timed_out && !q->err && q->res && !q->res->bogus &&
	       q->res->rcode == RCODE_NXDOMAIN;
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
		for (size_t k = 0; q[i].res->data[k] && *n < max; k++) {
			if (q[i].res->len[k] != want)
				continue;
			if (inet_ntop(fam, q[i].res->data[k], addrs[*n], RESOLVER_ADDR_LEN))
				(*n)++;
		}
	}
	for (size_t i = 0; i < 2; i++)
		res_free(&q[i]);
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
			res_free(&q);
			return -1;
		}
	}
	size_t cnt = 0;
	while (q.res->data[cnt])
		cnt++;
	char **out = calloc(cnt + 1, sizeof *out);
	if (!out)
		goto nomem;
	for (size_t k = 0; k < cnt; k++) {
		/* RFC 1035 §3.3.14: one or more <character-string>s, concatenated (RFC 8555 §8.4). */
		const unsigned char *d = (const unsigned char *)q.res->data[k];
		size_t len = (size_t)q.res->len[k], o = 0, w = 0;
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
	res_free(&q);
	*txts = out;
	return 0;
nomem_out:
	resolver_strings_free(out, *n);
	*n = 0;
nomem:
	res_free(&q);
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
	while (q->res->data[cnt]) {
		if (cnt == CAA_RRSET_MAX) {
			*prob = problem_new("dns", 400, "DNS problem: more than %d CAA records for %s",
			                    CAA_RRSET_MAX, name);
			return -1;
		}
		rdata[cnt] = (const unsigned char *)q->res->data[cnt];
		len[cnt] = q->res->len[cnt] > 0 ? (size_t)q->res->len[cnt] : 0;
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
	queries_wait(p->r, &p->w, &dl);
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
		if (!q[i].res->data[0])
			continue; /* NODATA: empty too */
		/* The relevant RRset; failures at later (parent) names are never looked at. */
		if ((rc = caa_answer(p->names[i], &q[i], recs, nrecs, prob)) == 0)
			*level = i;
		break;
	}
	for (size_t i = 0; i < p->n; i++)
		res_free(&q[i]);
	free(p);
	return rc;
}

void resolver_caa_walk_cancel(struct resolver_caa_pending *p)
{
	if (!p)
		return;
	struct timespec past = {0, 0};
	queries_wait(p->r, &p->w, &past);
	for (size_t i = 0; i < p->n; i++)
		res_free(&p->q[i]);
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
