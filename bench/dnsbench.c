/* cobble-dnsbench: the CPU and context switches one issuance's DNS lookups cost, by resolver
 * mechanism, side by side in one run (issue 7). A lookup set is what validating one http-01
 * challenge asks: AAAA and A of xNNN.example.test and the CAA tree walk (RFC 8659 §3) of
 * xNNN.example.test, example.test, test (all levels at once). T threads (the validation
 * workers) run N sets in all against a small authoritative UDP server on 127.0.0.1 that this
 * program forks (so its CPU is not counted): A 127.0.0.1 for every name, no AAAA, a CAA record
 * at example.test only.
 *
 * Engines:
 *   resolver   the CA's resolver module (resolver_addrs, resolver_caa_walk_start/_finish),
 *              whatever threading model it has in this build;
 *   ub-thread  bare libunbound in threaded async mode (ub_ctx_async(ctx, 1)), one context
 *              shared by the threads, answers read through ub_fd/ub_process by one thread at a
 *              time (roughly resolver.c's model, which wakes each waiter alone where this
 *              wakes all);
 *   ub-event   bare libunbound on a libevent base (ub_ctx_create_event, ub_resolve_event), one
 *              context and base per thread, no thread of libunbound's own (resolver.c had
 *              this model in 9f9157f; 09f3f02 reverted it: ~1 MiB per context, no shared
 *              cache, server CPU within noise).
 * The bare engines do no answer parsing beyond what libunbound does; they show what the
 * mechanism costs. CPU is getrusage(RUSAGE_SELF) (every thread of this process, libunbound's
 * included), switches are ru_nvcsw + ru_nivcsw.
 *
 * Usage: cobble-dnsbench [-n SETS] [-t THREADS] [-r ROUNDS] [ENGINE...] (default: all three,
 * 2000 sets, 2 threads, 1 round; rounds alternate the engines to even out machine noise). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unbound-event.h>
#include <unbound.h>
#include <unistd.h>
#include "problem.h"
#include "validation/caa.h"
#include "validation/resolver.h"

#define T_A 1
#define T_AAAA 28
#define T_CAA 257
#define TIMEOUT_MS 5000

/* ---- the authoritative server (child process) ---- */

static size_t put_u16(unsigned char *b, size_t o, unsigned v)
{
	b[o] = (unsigned char)(v >> 8);
	b[o + 1] = (unsigned char)v;
	return o + 2;
}

/* One answer to the question in q (qlen bytes) into b (512 bytes); 0 if q is not one. */
static size_t srv_answer(const unsigned char *q, size_t qlen, unsigned char *b)
{
	if (qlen < 12 || qlen > 512 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
		return 0;
	size_t o = 12;
	char name[256];
	size_t nl = 0;
	while (o < qlen && q[o]) {
		size_t l = q[o];
		if (l > 63 || o + 1 + l >= qlen || nl + l + 1 >= sizeof name)
			return 0;
		if (nl)
			name[nl++] = '.';
		for (size_t i = 0; i < l; i++) {
			char c = (char)q[o + 1 + i];
			name[nl++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		o += 1 + l;
	}
	name[nl] = '\0';
	if (o + 5 > qlen)
		return 0;
	o++;
	unsigned type = (unsigned)(q[o] << 8 | q[o + 1]);
	o += 4;
	memcpy(b, q, o); /* header and question */
	b[2] = (unsigned char)(0x84 | (q[2] & 0x01)); /* QR AA, RD echoed */
	b[3] = 0;
	memset(b + 6, 0, 6);
	b[11] = 0; /* no EDNS: an OPT in the query is not echoed */
	size_t an = 0;
	if (type == T_A) {
		o = put_u16(b, o, 0xc00c);
		o = put_u16(b, o, T_A);
		o = put_u16(b, o, 1);
		o = put_u16(b, o, 0);
		o = put_u16(b, o, 60);
		o = put_u16(b, o, 4);
		memcpy(b + o, "\x7f\0\0\1", 4);
		o += 4;
		an = 1;
	} else if (type == T_CAA && strcmp(name, "example.test") == 0) {
		static const char tag[] = "issue", val[] = "cobble.test";
		o = put_u16(b, o, 0xc00c);
		o = put_u16(b, o, T_CAA);
		o = put_u16(b, o, 1);
		o = put_u16(b, o, 0);
		o = put_u16(b, o, 60);
		o = put_u16(b, o, (unsigned)(2 + strlen(tag) + strlen(val)));
		b[o++] = 0;
		b[o++] = (unsigned char)strlen(tag);
		memcpy(b + o, tag, strlen(tag));
		o += strlen(tag);
		memcpy(b + o, val, strlen(val));
		o += strlen(val);
		an = 1;
	}
	put_u16(b, 6, (unsigned)an);
	return o;
}

static pid_t srv_start(int *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
		perror("dnsbench: server socket");
		exit(1);
	}
	int rcvbuf = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	*port = ntohs(a.sin_port);
	pid_t pid = fork();
	if (pid < 0) {
		perror("dnsbench: fork");
		exit(1);
	}
	if (pid > 0) {
		close(fd);
		return pid;
	}
	for (;;) {
		unsigned char q[512], b[512];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		size_t len = srv_answer(q, (size_t)n, b);
		if (len)
			sendto(fd, b, len, 0, (struct sockaddr *)&from, fl);
		if (getppid() == 1)
			_exit(0);
	}
}

/* ---- engines ---- */

static char fwd_spec[64]; /* "127.0.0.1@PORT" for the bare engines */
static char fwd_addr[64]; /* "127.0.0.1:PORT" for the resolver */
static int nsets, nthreads;
static int failures; /* __atomic */

static void set_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "x%d.example.test", i);
}

/* The options resolver.c sets for a forwarder, on a bare context. */
static void bare_options(struct ub_ctx *ctx)
{
	if (ub_ctx_set_option(ctx, "do-not-query-localhost:", "no") || ub_ctx_set_fwd(ctx, fwd_spec) ||
	    ub_ctx_set_option(ctx, "cache-max-ttl:", "0") ||
	    ub_ctx_set_option(ctx, "cache-max-negative-ttl:", "0") ||
	    ub_ctx_set_option(ctx, "local-zone:", "test. transparent")) {
		fprintf(stderr, "dnsbench: unbound options refused\n");
		exit(1);
	}
}

struct job {
	int first, count;
	void *shared;
};

/* resolver: the CA's module. */
static void *run_resolver(void *arg)
{
	struct job *j = arg;
	struct resolver *r = j->shared;
	for (int i = j->first; i < j->first + j->count; i++) {
		char name[64], parent[] = "example.test";
		set_name(name, sizeof name, i);
		const char *levels[] = {name, parent, "test"};
		struct resolver_caa_pending *p;
		struct problem *prob = NULL;
		if (resolver_caa_walk_start(r, levels, 3, &p, &prob) != 0) {
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
			problem_free(prob);
			continue;
		}
		char addrs[RESOLVER_MAX_ADDRS][RESOLVER_ADDR_LEN];
		size_t n;
		if (resolver_addrs(r, name, addrs, RESOLVER_MAX_ADDRS, &n, &prob) != 0) {
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
			problem_free(prob);
			prob = NULL;
		}
		size_t level, nrecs;
		struct caa_record *recs;
		if (resolver_caa_walk_finish(p, &level, &recs, &nrecs, &prob) != 0 || level != 1 || nrecs != 1)
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
		problem_free(prob);
		free(recs);
	}
	return NULL;
}

/* A set of bare queries and how many are still out. */
struct bare_set {
	int out;
	int bad;
};

struct bare_q {
	struct bare_set *s;
	int rrtype;
};

/* ub-thread: one shared threaded context; one thread at a time reads answers. */
struct thr_shared {
	struct ub_ctx *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* any answer in, or the reader left */
	int reading;
};

static struct thr_shared *thr_mu_owner;

static void thr_done(void *arg, int err, struct ub_result *res)
{
	struct bare_q *q = arg;
	pthread_mutex_lock(&thr_mu_owner->mu);
	if (err || !res || res->rcode != 0 || (q->rrtype == T_A && !res->havedata))
		q->s->bad = 1;
	if (--q->s->out == 0)
		pthread_cond_broadcast(&thr_mu_owner->cv);
	pthread_mutex_unlock(&thr_mu_owner->mu);
	ub_resolve_free(res);
}

/* A lookup set's queries for set i (name: room for its own name): the CAA walk, then AAAA and
 * A of the name. */
#define SET_QUERIES 5
static const int set_types[SET_QUERIES] = {T_CAA, T_CAA, T_CAA, T_AAAA, T_A};

static void set_queries(char *name, size_t len, int i, const char *qn[SET_QUERIES])
{
	set_name(name, len, i);
	qn[0] = name, qn[1] = "example.test", qn[2] = "test", qn[3] = name, qn[4] = name;
}

static void *run_ub_thread(void *arg)
{
	struct job *j = arg;
	struct thr_shared *sh = j->shared;
	for (int i = j->first; i < j->first + j->count; i++) {
		char name[64];
		const char *qn[SET_QUERIES];
		set_queries(name, sizeof name, i, qn);
		struct bare_set s = {.out = SET_QUERIES};
		struct bare_q q[SET_QUERIES];
		for (int k = 0; k < SET_QUERIES; k++) {
			q[k] = (struct bare_q){.s = &s, .rrtype = set_types[k]};
			if (ub_resolve_async(sh->ctx, qn[k], set_types[k], 1, &q[k], thr_done, NULL) != 0) {
				fprintf(stderr, "dnsbench: ub_resolve_async failed\n");
				exit(1);
			}
		}
		pthread_mutex_lock(&sh->mu);
		while (s.out > 0) {
			if (sh->reading) {
				pthread_cond_wait(&sh->cv, &sh->mu);
				continue;
			}
			sh->reading = 1;
			pthread_mutex_unlock(&sh->mu);
			struct pollfd pfd = {.fd = ub_fd(sh->ctx), .events = POLLIN};
			if (poll(&pfd, 1, 50) > 0)
				ub_process(sh->ctx);
			pthread_mutex_lock(&sh->mu);
			sh->reading = 0;
			pthread_cond_broadcast(&sh->cv); /* a sleeper may have to read now */
		}
		pthread_mutex_unlock(&sh->mu);
		if (s.bad)
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* ub-event: one context and base per thread. */
static void ev_done(void *arg, int rcode, void *pkt, int len, int sec, char *why, int rl)
{
	(void)sec, (void)why, (void)rl;
	struct bare_q *q = arg;
	/* the answer count of the packet: the bare minimum a user must read */
	const unsigned char *p = pkt;
	if (rcode || len < 12 || (p[3] & 0x0f) || (q->rrtype == T_A && (p[6] | p[7]) == 0))
		q->s->bad = 1;
	q->s->out--;
}

static void *run_ub_event(void *arg)
{
	struct job *j = arg;
	struct event_base *base = event_base_new();
	struct ub_ctx *ctx = base ? ub_ctx_create_event(base) : NULL;
	if (!ctx) {
		fprintf(stderr, "dnsbench: ub_ctx_create_event failed\n");
		exit(1);
	}
	bare_options(ctx);
	for (int i = j->first; i < j->first + j->count; i++) {
		char name[64];
		const char *qn[SET_QUERIES];
		set_queries(name, sizeof name, i, qn);
		struct bare_set s = {.out = SET_QUERIES};
		struct bare_q q[SET_QUERIES];
		for (int k = 0; k < SET_QUERIES; k++) {
			q[k] = (struct bare_q){.s = &s, .rrtype = set_types[k]};
			if (ub_resolve_event(ctx, qn[k], set_types[k], 1, &q[k], ev_done, NULL) != 0) {
				fprintf(stderr, "dnsbench: ub_resolve_event failed\n");
				exit(1);
			}
		}
		while (s.out > 0)
			event_base_loop(base, EVLOOP_ONCE);
		if (s.bad)
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	}
	ub_ctx_delete(ctx);
	event_base_free(base);
	return NULL;
}

/* ---- the harness ---- */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void usage_now(double *cpu, long *csw)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	*cpu = (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
	       (double)u.ru_stime.tv_usec / 1e6;
	*csw = u.ru_nvcsw + u.ru_nivcsw;
}

static void run_engine(const char *engine)
{
	void *(*fn)(void *);
	void *shared = NULL;
	struct resolver *r = NULL;
	struct thr_shared th = {0};
	char err[256];
	failures = 0;

	double c0, w0, c1, w1;
	long s0, s1;
	usage_now(&c0, &s0);
	w0 = now_s();
	/* Set-up (contexts, the bg thread) and tear-down are counted: they are per process, and
	 * small against 2000 sets; the per-thread contexts of ub-event are created in the run. */
	if (strcmp(engine, "resolver") == 0) {
		if (resolver_new(fwd_addr, TIMEOUT_MS, &r, err, sizeof err) != 0) {
			fprintf(stderr, "dnsbench: %s\n", err);
			exit(1);
		}
		fn = run_resolver;
		shared = r;
	} else if (strcmp(engine, "ub-thread") == 0) {
		th.ctx = ub_ctx_create();
		if (!th.ctx || ub_ctx_async(th.ctx, 1) != 0) {
			fprintf(stderr, "dnsbench: threaded context failed\n");
			exit(1);
		}
		bare_options(th.ctx);
		pthread_mutex_init(&th.mu, NULL);
		pthread_cond_init(&th.cv, NULL);
		thr_mu_owner = &th;
		fn = run_ub_thread;
		shared = &th;
	} else if (strcmp(engine, "ub-event") == 0) {
		fn = run_ub_event;
	} else {
		fprintf(stderr, "dnsbench: unknown engine %s (resolver, ub-thread, ub-event)\n", engine);
		exit(2);
	}
	pthread_t tid[64];
	struct job jobs[64];
	int per = nsets / nthreads;
	for (int t = 0; t < nthreads; t++) {
		jobs[t] = (struct job){.first = t * per, .count = t == nthreads - 1 ? nsets - t * per : per,
		                       .shared = shared};
		pthread_create(&tid[t], NULL, fn, &jobs[t]);
	}
	for (int t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	if (r)
		resolver_free(r);
	if (th.ctx) {
		ub_ctx_delete(th.ctx);
		pthread_mutex_destroy(&th.mu);
		pthread_cond_destroy(&th.cv);
	}
	w1 = now_s();
	usage_now(&c1, &s1);
	printf("%-10s %6d sets %2d threads  cpu %7.3f s  %6.1f us/set  switches %7ld  %5.2f/set  "
	       "wall %6.3f s  failed %d\n",
	       engine, nsets, nthreads, c1 - c0, (c1 - c0) * 1e6 / nsets, s1 - s0, (double)(s1 - s0) / nsets,
	       w1 - w0, failures);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int opt, rounds = 1;
	nsets = 2000;
	nthreads = 2;
	while ((opt = getopt(argc, argv, "n:t:r:")) != -1) {
		switch (opt) {
		case 'n': nsets = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n SETS] [-t THREADS] [-r ROUNDS] [ENGINE...]\n", argv[0]);
			return 2;
		}
	}
	if (nsets < 1 || nthreads < 1 || nthreads > 64 || nthreads > nsets || rounds < 1) {
		fprintf(stderr, "dnsbench: bad -n/-t/-r\n");
		return 2;
	}
	static const char *const all[] = {"resolver", "ub-thread", "ub-event"};
	const char *const *engines = optind < argc ? (const char *const *)argv + optind : all;
	int nengines = optind < argc ? argc - optind : 3;

	evthread_use_pthreads(); /* as cobbled does */
	signal(SIGPIPE, SIG_IGN);
	int port;
	pid_t srv = srv_start(&port);
	snprintf(fwd_spec, sizeof fwd_spec, "127.0.0.1@%d", port);
	snprintf(fwd_addr, sizeof fwd_addr, "127.0.0.1:%d", port);
	for (int r = 0; r < rounds; r++)
		for (int e = 0; e < nengines; e++)
			run_engine(engines[(e + r) % nengines]);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	return 0;
}
