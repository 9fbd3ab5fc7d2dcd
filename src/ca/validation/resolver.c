/* The CA's own DNS resolver: one libunbound context shared by every validation worker.
 * Each lookup is bounded by the resolver's timeout, which the synchronous API cannot do.
 *
 * Threading model: one ub_ctx in threaded async mode (ub_ctx_async(ctx, 1)), so its cache
 * is shared. Workers submit with ub_resolve_async (thread-safe in libunbound: it takes the
 * context's own locks) and sleep on a condition variable with a deadline. One dispatcher
 * thread owned by the resolver waits on ub_fd() and calls ub_process(), which runs our
 * callback; the callback marks the query done and wakes the waiters. On timeout the waiter
 * calls ub_cancel(): in threaded mode UB_NOERROR means the callback will never run (libunbound
 * frees the answer when it arrives), anything else means the callback already ran or is about
 * to run, so the waiter waits for it (it is imminent: the answer is already dequeued). */
#include "deadline.h"
#include "resolver.h"
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED 5

struct resolver {
	struct ub_ctx *ctx;
	int timeout_ms;
	pthread_t dispatcher;
	int dispatcher_started;
	int stop_pipe[2];
	pthread_mutex_t mu; /* guards every struct query's done/err/res */
	pthread_cond_t cv;  /* broadcast when any query completes */
};

struct query {
	struct resolver *r;
	int rrtype;
	int id;
	int submitted;
	int done;
	int timed_out;
	int err;                /* libunbound error (UB_*), or 0 */
	struct ub_result *res;  /* owned once done */
};

static void *dispatch_main(void *arg)
{
	struct resolver *r = arg;
	struct pollfd pfd[2] = {
		{.fd = ub_fd(r->ctx), .events = POLLIN},
		{.fd = r->stop_pipe[0], .events = POLLIN},
	};
	for (;;) {
		int n = poll(pfd, 2, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("resolver: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents) {
			int rc = ub_process(r->ctx);
			if (rc != 0) {
				log_error("resolver: ub_process: %s", ub_strerror(rc));
				usleep(100 * 1000); /* do not spin on a broken pipe */
			}
		}
	}
	return NULL;
}

static void query_done(void *arg, int err, struct ub_result *res)
{
	struct query *q = arg;
	pthread_mutex_lock(&q->r->mu);
	q->err = err;
	q->res = res;
	q->done = 1;
	pthread_cond_broadcast(&q->r->cv);
	pthread_mutex_unlock(&q->r->mu);
}

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

int resolver_new(const char *forwarder, int timeout_ms, struct resolver **out, char *err, size_t errlen)
{
	struct resolver *r = calloc(1, sizeof *r);
	int rc;
	*out = NULL;
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->stop_pipe[0] = r->stop_pipe[1] = -1;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&r->mu, NULL);
	/* Deadlines on the monotonic clock: a wall-clock step must not stretch a lookup. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
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
		if (forwarder_spec(forwarder, spec, sizeof spec) != 0) {
			snprintf(err, errlen, "dns resolver \"%s\": want IP, IP:PORT or [IPv6]:PORT", forwarder);
			goto fail;
		}
		/* A forwarder on loopback (tests, a local cache) is refused without this. */
		if ((rc = ub_ctx_set_option(r->ctx, "do-not-query-localhost:", "no")) != 0 ||
		    (rc = ub_ctx_set_fwd(r->ctx, spec)) != 0) {
			snprintf(err, errlen, "dns resolver \"%s\": %s", forwarder, ub_strerror(rc));
			goto fail;
		}
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
	if (pipe(r->stop_pipe) != 0) {
		snprintf(err, errlen, "resolver: pipe: %s", strerror(errno));
		goto fail;
	}
	if ((rc = pthread_create(&r->dispatcher, NULL, dispatch_main, r)) != 0) {
		snprintf(err, errlen, "resolver: thread: %s", strerror(rc));
		goto fail;
	}
	r->dispatcher_started = 1;
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
	if (r->dispatcher_started) {
		char c = 'x';
		while (write(r->stop_pipe[1], &c, 1) < 0 && errno == EINTR)
			;
		pthread_join(r->dispatcher, NULL);
	}
	/* Stops libunbound's worker thread; outstanding queries are dropped without callbacks
	 * (callers must be done with the resolver by now). */
	if (r->ctx)
		ub_ctx_delete(r->ctx);
	if (r->stop_pipe[0] >= 0)
		close(r->stop_pipe[0]);
	if (r->stop_pipe[1] >= 0)
		close(r->stop_pipe[1]);
	pthread_cond_destroy(&r->cv);
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
	return 0;
}

/* Runs n queries for name concurrently and waits for all of them, at most the resolver's
 * timeout in total. Each q[i] ends done (err/res set) or timed_out. */
static void run_queries(struct resolver *r, const char *name, struct query *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		q[i].r = r;
		int rc = ub_resolve_async(r->ctx, name, q[i].rrtype, 1 /* IN */, &q[i], query_done, &q[i].id);
		if (rc != 0) {
			q[i].err = rc;
			q[i].done = 1;
		} else {
			q[i].submitted = 1;
		}
	}

	struct timespec dl = deadline_after_ms(r->timeout_ms);
	pthread_mutex_lock(&r->mu);
	for (;;) {
		size_t pending = 0;
		for (size_t i = 0; i < n; i++)
			pending += !q[i].done;
		if (!pending)
			break;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > dl.tv_sec || (now.tv_sec == dl.tv_sec && now.tv_nsec >= dl.tv_nsec))
			break;
		/* r->cv waits on CLOCK_MONOTONIC (resolver_new). */
		pthread_cond_timedwait(&r->cv, &r->mu, &dl);
	}
	pthread_mutex_unlock(&r->mu);

	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&r->mu);
		int done = q[i].done;
		pthread_mutex_unlock(&r->mu);
		if (done)
			continue;
		if (ub_cancel(r->ctx, q[i].id) == 0) {
			q[i].timed_out = 1;
			continue;
		}
		/* The answer is already being delivered: wait for the callback. */
		pthread_mutex_lock(&r->mu);
		while (!q[i].done)
			pthread_cond_wait(&r->cv, &r->mu);
		pthread_mutex_unlock(&r->mu);
	}
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
	struct query q[2] = {{.rrtype = RR_AAAA}, {.rrtype = RR_A}};
	*n = 0;
	*prob = NULL;
	if (!name_ok(name, prob))
		return -1;
	run_queries(r, name, q, 2);

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
		ub_resolve_free(q[i].res);
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
	struct query q = {.rrtype = RR_TXT};
	*txts = NULL;
	*n = 0;
	*prob = NULL;
	if (!name_ok(name, prob))
		return -1;
	run_queries(r, name, &q, 1);
	if ((*prob = query_problem(r, name, &q)) != NULL) {
		/* NXDOMAIN is an answer here: there is no TXT record. */
		if (q.res && !q.res->bogus && q.res->rcode == RCODE_NXDOMAIN && !q.timed_out && !q.err) {
			problem_free(*prob);
			*prob = NULL;
		} else {
			ub_resolve_free(q.res);
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
	ub_resolve_free(q.res);
	*txts = out;
	return 0;
nomem_out:
	resolver_strings_free(out, *n);
	*n = 0;
nomem:
	ub_resolve_free(q.res);
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

int resolver_caa(struct resolver *r, const char *name, struct caa_record **recs, size_t *n,
                 struct problem **prob)
{
	struct query q = {.rrtype = RR_CAA};
	const unsigned char *rdata[CAA_RRSET_MAX];
	size_t len[CAA_RRSET_MAX], cnt = 0;
	char err[256];
	*recs = NULL;
	*n = 0;
	*prob = NULL;
	if (!name_ok(name, prob))
		return -1;
	run_queries(r, name, &q, 1);
	if ((*prob = query_problem(r, name, &q)) != NULL) {
		/* NXDOMAIN is an empty RRset here: the climb goes on to the parent (RFC 8659 §3). */
		if (q.res && !q.res->bogus && q.res->rcode == RCODE_NXDOMAIN && !q.timed_out && !q.err) {
			problem_free(*prob);
			*prob = NULL;
			ub_resolve_free(q.res);
			return 0;
		}
		ub_resolve_free(q.res);
		return -1;
	}
	while (q.res->data[cnt]) {
		if (cnt == CAA_RRSET_MAX) {
			*prob = problem_new("dns", 400, "DNS problem: more than %d CAA records for %s",
			                    CAA_RRSET_MAX, name);
			ub_resolve_free(q.res);
			return -1;
		}
		rdata[cnt] = (const unsigned char *)q.res->data[cnt];
		len[cnt] = q.res->len[cnt] > 0 ? (size_t)q.res->len[cnt] : 0;
		cnt++;
	}
	int rc = caa_records_from_rdata(rdata, len, cnt, recs, err, sizeof err);
	ub_resolve_free(q.res);
	if (rc != 0) {
		*prob = problem_new("dns", 400, "DNS problem: looking up CAA for %s: %s", name, err);
		return -1;
	}
	*n = cnt;
	return 0;
}
