/* caa_check_name / resolver_caa: the RFC 8659 §3 lookup through the real resolver (libunbound)
 * forwarding to a tiny authoritative UDP DNS server on 127.0.0.1 (ephemeral port) that serves
 * CAA record sets, a CNAME, malformed and oversized sets, SERVFAIL, silence and an unsigned zone
 * under a trust anchor (DNSSEC bogus), and answers it holds back for a while. The server logs
 * every CAA question so the tests can check the tree climb itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "problem.h"
#include "validation/caa.h"
#include "validation/resolver.h"

#define T_CNAME 5
#define T_CAA 257
#define ACCOUNT "https://ca.test/acme/acct/1"
#define SLOW_MS 1500 /* slow.test's answers */

static const char *const ids[] = {"cobble.test", "ca2.test"};

/* ---- the zone ---- */
struct caa_rr {
	unsigned char flags;
	const char *tag, *value;
};

struct zrec {
	const char *name;     /* lower case, no trailing dot */
	int rcode;            /* 0 NOERROR, 2 SERVFAIL */
	int drop;             /* never answer */
	const char *cname;
	struct caa_rr caa[4];
	int many;             /* answer with this many tiny records instead */
	int raw_bad;          /* one record whose tag is not alphanumeric */
	int delay_ms;         /* answer only after this long; -1: once gate_open is set */
	int tc_udp;           /* over UDP only a truncated (TC) answer: the records come over TCP */
	int drop_first;       /* the first question for the name is never answered */
};

static const struct zrec zone[] = {
	{"allowed.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 0, 0, 0},
	{"upper.test", 0, 0, NULL, {{0, "ISSUE", "Cobble.Test"}}, 0, 0, 0, 0, 0},
	{"second.test", 0, 0, NULL, {{0, "issue", "other-ca.example"}, {0, "issue", "ca2.test"}}, 0, 0, 0, 0, 0},
	{"other.test", 0, 0, NULL, {{0, "issue", "other-ca.example"}}, 0, 0, 0, 0, 0},
	{"wild.test", 0, 0, NULL, {{0, "issue", "cobble.test"}, {0, "issuewild", ";"}}, 0, 0, 0, 0, 0},
	{"acct.test", 0, 0, NULL, {{0, "issue", "cobble.test; accounturi=" ACCOUNT}}, 0, 0, 0, 0, 0},
	{"method.test", 0, 0, NULL, {{0, "issue", "cobble.test; validationmethods=dns-01"}}, 0, 0, 0, 0, 0},
	{"crit.test", 0, 0, NULL, {{0, "issue", "cobble.test"}, {128, "tbs", "x"}}, 0, 0, 0, 0, 0},
	{"iodef.test", 0, 0, NULL, {{0, "iodef", "mailto:caa@iodef.test"}}, 0, 0, 0, 0, 0},
	{"alias.test", 0, 0, "target.elsewhere.test", {{0}}, 0, 0, 0, 0, 0},
	{"target.elsewhere.test", 0, 0, NULL, {{0, "issue", "other-ca.example"}}, 0, 0, 0, 0, 0},
	{"sub.allowed.test", 0, 0, NULL, {{0}}, 0, 0, 0, 0, 0}, /* exists, no CAA: NODATA */
	{"broken.test", 2, 0, NULL, {{0}}, 0, 0, 0, 0, 0},
	{"under.broken2.test", 0, 0, NULL, {{0}}, 0, 0, 0, 0, 0},
	{"broken2.test", 2, 0, NULL, {{0}}, 0, 0, 0, 0, 0},
	{"silent.test", 0, 1, NULL, {{0}}, 0, 0, 0, 0, 0},
	{"malformed.test", 0, 0, NULL, {{0}}, 0, 1, 0, 0, 0},
	{"many.test", 0, 0, NULL, {{0}}, CAA_RRSET_MAX + 1, 0, 0, 0, 0},
	{"full.test", 0, 0, NULL, {{0}}, CAA_RRSET_MAX, 0, 0, 0, 0},
	{"x.signed.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 0, 0, 0},
	/* Failures above and below a set with records: only those below matter (RFC 8659 §3). */
	{"broken.other.test", 2, 0, NULL, {{0}}, 0, 0, 0, 0, 0},
	{"silent.other.test", 0, 1, NULL, {{0}}, 0, 0, 0, 0, 0},
	{"ok.broken.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 0, 0, 0},
	{"deny.broken.test", 0, 0, NULL, {{0, "issue", "other-ca.example"}}, 0, 0, 0, 0, 0},
	{"ok.silent.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 0, 0, 0},
	{"slow.test", 0, 0, NULL, {{0}}, 0, 0, SLOW_MS, 0, 0},
	{"ok.slow.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 0, 0, 0},
	{"deny.slow.test", 0, 0, NULL, {{0, "issue", "other-ca.example"}}, 0, 0, 0, 0, 0},
	/* Late, but within unbound's first retransmission timeout (376 ms). */
	{"soon.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 100, 0, 0},
	{"later.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 300, 0, 0},
	{"gate.test", 0, 0, NULL, {{0}}, 0, 0, -1, 0, 0},
	/* The stub resolver's transport: TCP after a truncated answer, a question asked again. */
	{"big.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 0, 1, 0},
	{"flaky.test", 0, 0, NULL, {{0, "issue", "cobble.test"}}, 0, 0, 0, 0, 1},
};
static int first_seen[64];  /* drop_first: questions for zone[i] so far (server thread) */
static int tcp_answers;     /* __atomic: answers given over TCP */
static int srv_tcp = -1;    /* the TCP listener on the same port */
static int gate_open; /* __atomic: the test thread opens it, the server thread reads it */

static int srv_fd = -1, srv_port, stop_pipe[2];
/* Held-back answers (only the server thread touches them). */
static struct held {
	unsigned char b[4096];
	size_t len;
	struct sockaddr_in to;
	socklen_t tolen;
	long long due_ms;
} held[64];
static int nheld;

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static pthread_t srv_thread;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char qlog[32][256]; /* CAA questions since the last log_reset() */
static int nqlog;

static void log_reset(void)
{
	pthread_mutex_lock(&log_mu);
	nqlog = 0;
	pthread_mutex_unlock(&log_mu);
}

static const struct zrec *lookup(const char *name)
{
	for (size_t i = 0; i < sizeof zone / sizeof zone[0]; i++)
		if (strcmp(zone[i].name, name) == 0)
			return &zone[i];
	return NULL;
}

static size_t put_name(unsigned char *b, size_t o, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");
		b[o++] = (unsigned char)l;
		memcpy(b + o, name, l);
		o += l;
		name += l;
		if (*name == '.')
			name++;
	}
	b[o++] = 0;
	return o;
}

static size_t put_rr_head(unsigned char *b, size_t o, int type, size_t rdlen)
{
	unsigned char h[] = {0xc0, 12, (unsigned char)(type >> 8), (unsigned char)type, 0, 1, 0, 0, 0, 0,
	                     (unsigned char)(rdlen >> 8), (unsigned char)rdlen};
	memcpy(b + o, h, sizeof h);
	return o + sizeof h;
}

static size_t put_caa(unsigned char *b, size_t o, unsigned char flags, const char *tag, const char *value)
{
	size_t tl = strlen(tag), vl = strlen(value);
	o = put_rr_head(b, o, T_CAA, 2 + tl + vl);
	b[o++] = flags;
	b[o++] = (unsigned char)tl;
	memcpy(b + o, tag, tl);
	o += tl;
	memcpy(b + o, value, vl);
	return o + vl;
}

/* Answers q (from a UDP client, or on the TCP connection tcp_fd when it is >= 0). */
static void answer(const unsigned char *q, size_t qlen, struct sockaddr_in *from, socklen_t fl, int tcp_fd)
{
	unsigned char b[4096];
	char name[256];
	size_t p = 12, o = 0;
	if (qlen < 12)
		return;
	while (p < qlen && q[p]) {
		size_t l = q[p++];
		if (l > 63 || p + l > qlen || o + l + 2 > sizeof name)
			return;
		if (o)
			name[o++] = '.';
		for (size_t i = 0; i < l; i++)
			name[o++] = (char)tolower(q[p + i]);
		p += l;
	}
	name[o] = '\0';
	if (p + 5 > qlen)
		return;
	int qtype = q[p + 1] << 8 | q[p + 2];
	size_t qend = p + 5;
	if (qtype == T_CAA) {
		pthread_mutex_lock(&log_mu);
		if (nqlog < 32)
			snprintf(qlog[nqlog++], sizeof qlog[0], "%s", name);
		pthread_mutex_unlock(&log_mu);
	}
	const struct zrec *z = lookup(name);
	if (z && z->drop)
		return;
	if (z && z->drop_first && first_seen[z - zone]++ == 0)
		return;
	memcpy(b, q, qend);
	b[2] = 0x84 | (q[2] & 1); /* QR AA, RD copied */
	b[3] = 0x80;
	b[4] = 0, b[5] = 1;
	memset(b + 6, 0, 6);
	o = qend;
	size_t an = 0;
	if (!z) {
		/* Unknown names under test. do not exist; test. itself and the root exist. */
		if (strchr(name, '.'))
			b[3] |= 3;
	} else if (z->rcode) {
		b[3] |= (unsigned char)z->rcode;
	} else if (z->cname) {
		unsigned char rd[256];
		size_t l = put_name(rd, 0, z->cname);
		o = put_rr_head(b, o, T_CNAME, l);
		memcpy(b + o, rd, l);
		o += l;
		an++;
	} else if (qtype == T_CAA) {
		for (int i = 0; i < z->many; i++, an++) {
			char v[16]; /* distinct records: a resolver may merge duplicates */
			snprintf(v, sizeof v, "%d", i);
			o = put_caa(b, o, 0, "x", v);
		}
		for (size_t i = 0; i < 4 && z->caa[i].tag; i++, an++)
			o = put_caa(b, o, z->caa[i].flags, z->caa[i].tag, z->caa[i].value);
		if (z->raw_bad) {
			o = put_caa(b, o, 0, "is-sue", "cobble.test");
			an++;
		}
	}
	if (z && z->tc_udp && tcp_fd < 0) {
		b[2] |= 0x02; /* TC, and no records */
		o = qend;
		an = 0;
	}
	b[6] = (unsigned char)(an >> 8);
	b[7] = (unsigned char)an;
	if (tcp_fd >= 0) {
		/* Counted before it is sent: the client may have read it before a later count. */
		unsigned char l[2] = {(unsigned char)(o >> 8), (unsigned char)o};
		__atomic_add_fetch(&tcp_answers, 1, __ATOMIC_RELAXED);
		if (write(tcp_fd, l, 2) != 2 || write(tcp_fd, b, o) != (ssize_t)o)
			__atomic_sub_fetch(&tcp_answers, 1, __ATOMIC_RELAXED);
		return;
	}
	if (z && z->delay_ms) {
		if (nheld < (int)(sizeof held / sizeof held[0])) {
			struct held *h = &held[nheld++];
			memcpy(h->b, b, o);
			h->len = o;
			h->to = *from;
			h->tolen = fl;
			h->due_ms = z->delay_ms < 0 ? -1 : mono_ms() + z->delay_ms;
		}
		return;
	}
	sendto(srv_fd, b, o, 0, (struct sockaddr *)from, fl);
}

static void *srv_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[3] = {{.fd = srv_fd, .events = POLLIN}, {.fd = stop_pipe[0], .events = POLLIN},
	                        {.fd = srv_tcp, .events = POLLIN}};
	for (;;) {
		int wait = -1;
		long long now = mono_ms();
		int open = __atomic_load_n(&gate_open, __ATOMIC_ACQUIRE);
		for (int i = 0; i < nheld;) {
			if (held[i].due_ms < 0 && !open) {
				if (wait < 0 || wait > 10)
					wait = 10; /* look at the gate again soon */
				i++;
				continue;
			}
			if (held[i].due_ms <= now) {
				sendto(srv_fd, held[i].b, held[i].len, 0, (struct sockaddr *)&held[i].to, held[i].tolen);
				held[i] = held[--nheld];
				continue;
			}
			if (wait < 0 || held[i].due_ms - now < wait)
				wait = (int)(held[i].due_ms - now);
			i++;
		}
		int pn = poll(pfd, 3, wait);
		if (pn < 0)
			continue;
		if (pfd[1].revents)
			break;
		if (pfd[2].revents & POLLIN) {
			/* One question per connection, read and answered at once (the tests' sizes). */
			int c = accept(srv_tcp, NULL, NULL);
			unsigned char l[2], tq[1500];
			struct timeval tv = {.tv_sec = 2};
			if (c >= 0 && setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
			    recv(c, l, 2, MSG_WAITALL) == 2) {
				size_t ql = (size_t)l[0] << 8 | l[1];
				if (ql <= sizeof tq && recv(c, tq, ql, MSG_WAITALL) == (ssize_t)ql)
					answer(tq, ql, NULL, 0, c);
			}
			if (c >= 0)
				close(c);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		unsigned char q[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(srv_fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			answer(q, (size_t)n, &from, fl, -1);
	}
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	srv_fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || pipe(stop_pipe) != 0)
		return -1;
	socklen_t sl = sizeof sa;
	getsockname(srv_fd, (struct sockaddr *)&sa, &sl);
	srv_port = ntohs(sa.sin_port);
	srv_tcp = socket(AF_INET, SOCK_STREAM, 0);
	if (srv_tcp < 0 || bind(srv_tcp, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(srv_tcp, 8) != 0)
		return -1;
	return pthread_create(&srv_thread, NULL, srv_main, NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (write(stop_pipe[1], "x", 1) == 1)
		pthread_join(srv_thread, NULL);
	close(srv_fd);
	close(srv_tcp);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	return 0;
}

static struct resolver *new_resolver(int timeout_ms)
{
	char fwd[64], err[256];
	struct resolver *r = NULL;
	snprintf(fwd, sizeof fwd, "127.0.0.1:%d", srv_port);
	if (resolver_new(fwd, timeout_ms, &r, err, sizeof err) != 0)
		fail_msg("resolver_new: %s", err);
	return r;
}

/* ---- the decision table ---- */
struct ccase {
	const char *name;
	const char *account; /* NULL: ACCOUNT */
	const char *method;  /* NULL: "http-01" */
	int want;            /* 1 permitted, 0 forbidden (caa), -1 lookup failed (dns) */
	const char *detail;  /* substring of the problem's detail */
};

/* The stub resolver (a forwarder, no trust anchor) over its own transport: a truncated UDP
 * answer is asked again over TCP (RFC 7766 §5); an unanswered question is sent again (after
 * 500 ms) within the resolver's timeout. */
static void test_stub_transport(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	struct problem *p = NULL;
	int before = __atomic_load_n(&tcp_answers, __ATOMIC_RELAXED);
	assert_int_equal(caa_check_name(r, "big.test", 0, ids, 2, NULL, NULL, &p), 1);
	assert_null(p);
	assert_true(__atomic_load_n(&tcp_answers, __ATOMIC_RELAXED) > before);
	assert_int_equal(caa_check_name(r, "flaky.test", 0, ids, 2, NULL, NULL, &p), 1);
	assert_null(p);
	resolver_free(r);
}

static const struct ccase cases[] = {
	{"allowed.test", NULL, NULL, 1, NULL},
	{"upper.test", NULL, NULL, 1, NULL},
	{"second.test", NULL, NULL, 1, NULL},
	{"www.allowed.test", NULL, NULL, 1, NULL},        /* NXDOMAIN, parent allows */
	{"sub.allowed.test", NULL, NULL, 1, NULL},        /* NODATA, parent allows */
	{"nothing.test", NULL, NULL, 1, NULL},            /* no CAA anywhere */
	{"iodef.test", NULL, NULL, 1, NULL},              /* no issue property */
	{"*.allowed.test", NULL, NULL, 1, NULL},          /* no issuewild: issue applies */
	{"wild.test", NULL, NULL, 1, NULL},
	{"acct.test", NULL, NULL, 1, NULL},
	{"method.test", NULL, "dns-01", 1, NULL},
	{"192.0.2.1", NULL, NULL, 1, NULL},               /* no CAA for addresses */
	{"other.test", NULL, NULL, 0,
	 "CAA records for other.test forbid issuance: CAA record \"0 issue \\\"other-ca.example\\\"\" does not "
	 "authorize this CA"},
	{"a.b.other.test", NULL, NULL, 0,
	 "CAA records at other.test (the relevant record set for a.b.other.test) forbid issuance"},
	{"*.wild.test", NULL, NULL, 0, "CAA records for *.wild.test forbid issuance: CAA record \"0 issuewild "
	                               "\\\";\\\"\" does not authorize this CA"},
	{"*.x.wild.test", NULL, NULL, 0, "CAA records at wild.test (the relevant record set for *.x.wild.test)"},
	{"acct.test", "https://ca.test/acme/acct/2", NULL, 0, "accounturi=" ACCOUNT},
	{"method.test", NULL, "http-01", 0, "validationmethods=dns-01"},
	{"crit.test", NULL, NULL, 0, "CAA record \"128 tbs x\" has an unknown critical tag"},
	{"alias.test", NULL, NULL, 0, "CAA records for alias.test forbid issuance"}, /* CNAME chased */
	{"full.test", NULL, NULL, 1, NULL},                /* CAA_RRSET_MAX records, unknown tag */
	{"broken.test", NULL, NULL, -1, "SERVFAIL looking up CAA for broken.test"},
	{"under.broken2.test", NULL, NULL, -1, "SERVFAIL looking up CAA for broken2.test"},
	{"malformed.test", NULL, NULL, -1, "looking up CAA for malformed.test: CAA record 1 of 1 is malformed"},
	{"many.test", NULL, NULL, -1, "more than 64 CAA records for many.test"},
	/* All levels are asked at once; the answer is still the nearest set's, and a failure
	 * counts only below it: a SERVFAIL under a forbidding parent is a dns failure... */
	{"broken.other.test", NULL, NULL, -1, "SERVFAIL looking up CAA for broken.other.test"},
	{"x.broken.other.test", NULL, NULL, -1, "SERVFAIL looking up CAA for broken.other.test"},
	/* ...and one above the relevant set (which the sequential climb never asks) does not matter. */
	{"ok.broken.test", NULL, NULL, 1, NULL},
	{"a.ok.broken.test", NULL, NULL, 1, NULL},
	{"deny.broken.test", NULL, NULL, 0, "CAA records for deny.broken.test forbid issuance"},
};

static void test_table(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct ccase *c = &cases[i];
		struct problem *p = (struct problem *)1;
		int rc = caa_check_name(r, c->name, 0, ids, 2, c->account ? c->account : ACCOUNT,
		                        c->method ? c->method : "http-01", &p);
		if (rc != c->want)
			fail_msg("%s: got %d, want %d (%s)", c->name, rc, c->want, p && rc != 1 ? p->detail : "-");
		if (rc == 1) {
			assert_null(p);
			continue;
		}
		assert_non_null(p);
		assert_string_equal(problem_short_type(p), rc == 0 ? "caa" : "dns");
		assert_int_equal(p->status, rc == 0 ? 403 : 400);
		if (!strstr(p->detail, c->detail))
			fail_msg("%s: detail \"%s\" lacks \"%s\"", c->name, p->detail, c->detail);
		problem_free(p);
	}
	resolver_free(r);
}

static int logged(char out[][256], int max)
{
	pthread_mutex_lock(&log_mu);
	int n = nqlog < max ? nqlog : max;
	for (int i = 0; i < n; i++)
		memcpy(out[i], qlog[i], sizeof qlog[0]);
	pthread_mutex_unlock(&log_mu);
	return n;
}

static int was_asked(char q[][256], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(q[i], name) == 0)
			return 1;
	return 0;
}

/* Every question of the walk for name logged in q[0..n) is one of the names in list[0..nlist):
 * nothing else was asked (a name may stand twice, a question sent again). */
static void asked_only(const char *name, char q[][256], int n, char list[][256], int nlist)
{
	for (int i = 0; i < n; i++)
		if (!was_asked(list, nlist, q[i]))
			fail_msg("%s: %s asked too", name, q[i]);
}

/* Every question sent before this is logged when it returns: the server reads its one socket
 * in order, and this question goes out after them (a walk that ended early leaves its other
 * levels still on the way to the server). Then the log starts again. */
static void quiesce(struct resolver *r)
{
	struct caa_record *recs = NULL;
	size_t n = 0;
	struct problem *p = NULL;
	resolver_caa(r, "quiesce.test", &recs, &n, &p);
	free(recs);
	problem_free(p);
	log_reset();
}

/* RFC 8659 §3: the climb asks each name from the label up to, not including, the root, and
 * the first non-empty RRset is the relevant one. */
static void test_climb(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	struct problem *p = NULL;
	char q[32][256];

	/* Every level is asked in one round, so the server sees them in any order, and nothing else
	 * is asked. A level may stand twice: a question resent after 500 ms on a loaded machine (make
	 * test under ASan) is the same question again. */
	char levels[4][256] = {"a.b.nothing.test", "b.nothing.test", "nothing.test", "test"};
	quiesce(r);
	assert_int_equal(caa_check_name(r, "a.b.nothing.test", 0, ids, 2, NULL, NULL, &p), 1);
	int nq = logged(q, 32);
	for (int i = 0; i < 4; i++)
		assert_true(was_asked(q, nq, levels[i]));
	asked_only("a.b.nothing.test", q, nq, levels, 4);

	/* The relevant set is allowed.test's; test. may or may not have been asked by then. */
	char allowed[3][256] = {"www.allowed.test", "allowed.test", "test"};
	quiesce(r);
	assert_int_equal(caa_check_name(r, "www.allowed.test", 0, ids, 2, NULL, NULL, &p), 1);
	nq = logged(q, 32);
	assert_true(was_asked(q, nq, "www.allowed.test"));
	assert_true(was_asked(q, nq, "allowed.test"));
	asked_only("www.allowed.test", q, nq, allowed, 3);

	/* A wildcard is looked up at its base name; a trailing dot and case do not matter (test.
	 * goes out in the same round and may or may not have been asked by then). */
	char wild[2][256] = {"wild.test", "test"};
	quiesce(r);
	assert_int_equal(caa_check_name(r, "*.WILD.test.", 0, ids, 2, NULL, NULL, &p), 0);
	nq = logged(q, 32);
	assert_true(was_asked(q, nq, "wild.test"));
	asked_only("*.WILD.test.", q, nq, wild, 2);
	problem_free(p);
	/* ... and the wildcard flag alone means the same. */
	assert_int_equal(caa_check_name(r, "wild.test", 1, ids, 2, NULL, NULL, &p), 0);
	assert_non_null(strstr(p->detail, "issuewild"));
	problem_free(p);

	/* An address is never looked up. */
	quiesce(r);
	assert_int_equal(caa_check_name(r, "2001:db8::1", 0, ids, 2, NULL, NULL, &p), 1);
	assert_int_equal(logged(q, 32), 0);

	/* Without a resolver, or for an empty name, fail closed. */
	assert_int_equal(caa_check_name(NULL, "allowed.test", 0, ids, 2, NULL, NULL, &p), -1);
	assert_string_equal(problem_short_type(p), "dns");
	problem_free(p);
	assert_int_equal(caa_check_name(r, "", 0, ids, 2, NULL, NULL, &p), -1);
	problem_free(p);
	resolver_free(r);
}

static void test_resolver_caa(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	struct caa_record *recs = NULL;
	size_t n = 99;
	struct problem *p = NULL;
	assert_int_equal(resolver_caa(r, "wild.test", &recs, &n, &p), 0);
	assert_int_equal(n, 2);
	assert_null(p);
	/* order as served */
	int iw = strcmp(recs[0].tag, "issuewild") == 0 ? 0 : 1;
	assert_string_equal(recs[iw].tag, "issuewild");
	assert_string_equal(recs[iw].value, ";");
	assert_string_equal(recs[1 - iw].tag, "issue");
	assert_string_equal(recs[1 - iw].value, "cobble.test");
	free(recs);
	assert_int_equal(resolver_caa(r, "crit.test", &recs, &n, &p), 0);
	assert_int_equal(n, 2);
	assert_true(recs[0].flags == 128 || recs[1].flags == 128);
	free(recs);
	assert_int_equal(resolver_caa(r, "absent.test", &recs, &n, &p), 0); /* NXDOMAIN */
	assert_int_equal(n, 0);
	assert_null(recs);
	assert_int_equal(resolver_caa(r, "sub.allowed.test", &recs, &n, &p), 0); /* NODATA */
	assert_int_equal(n, 0);
	resolver_free(r);
}

static void test_timeout(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(800);
	struct problem *p = NULL;
	assert_int_equal(caa_check_name(r, "silent.test", 0, ids, 2, NULL, NULL, &p), -1);
	assert_string_equal(problem_short_type(p), "dns");
	assert_non_null(strstr(p->detail, "timed out looking up CAA for silent.test"));
	problem_free(p);
	/* A silent level below a set with records fails the check as the climb would, and one
	 * below an empty set too. */
	assert_int_equal(caa_check_name(r, "silent.other.test", 0, ids, 2, NULL, NULL, &p), -1);
	assert_non_null(strstr(p->detail, "timed out looking up CAA for silent.other.test"));
	problem_free(p);
	assert_int_equal(caa_check_name(r, "nx.silent.test", 0, ids, 2, NULL, NULL, &p), -1);
	assert_non_null(strstr(p->detail, "timed out looking up CAA for silent.test"));
	problem_free(p);
	resolver_free(r);
}

static long long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The wait ends once the relevant set is known: a parent that answers late (or never) costs
 * nothing when a nearer level has records, and is waited for when the levels below it are empty. */
static void test_walk_early_answer(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(5000);
	struct problem *p = NULL;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(caa_check_name(r, "ok.slow.test", 0, ids, 2, NULL, NULL, &p), 1);
	assert_int_equal(caa_check_name(r, "deny.slow.test", 0, ids, 2, NULL, NULL, &p), 0);
	assert_non_null(strstr(p->detail, "CAA records for deny.slow.test forbid issuance"));
	problem_free(p);
	assert_int_equal(caa_check_name(r, "ok.silent.test", 0, ids, 2, NULL, NULL, &p), 1);
	long long ms = elapsed_ms(&t0);
	if (ms >= SLOW_MS)
		fail_msg("three lookups with a nearer answer took %lld ms: waited for the parent", ms);

	/* x.slow.test is NXDOMAIN: slow.test decides (NODATA, late), then test. (empty). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(caa_check_name(r, "x.slow.test", 0, ids, 2, NULL, NULL, &p), 1);
	ms = elapsed_ms(&t0);
	if (ms < SLOW_MS - 100)
		fail_msg("x.slow.test decided after %lld ms, before slow.test answered", ms);

	/* resolver_caa_walk itself: the index of the relevant level. */
	const char *lv[] = {"a.b.other.test", "b.other.test", "other.test", "test"};
	struct caa_record *recs = NULL;
	size_t level = 99, n = 0;
	assert_int_equal(resolver_caa_walk(r, lv, 4, &level, &recs, &n, &p), 0);
	assert_int_equal(level, 2);
	assert_int_equal(n, 1);
	assert_string_equal(recs[0].value, "other-ca.example");
	free(recs);
	const char *none[] = {"nothing.test", "test"};
	assert_int_equal(resolver_caa_walk(r, none, 2, &level, &recs, &n, &p), 0);
	assert_int_equal(level, 2);
	assert_int_equal(n, 0);
	assert_null(recs);
	resolver_free(r);
}

struct delayed {
	struct resolver *r;
	const char *name;
	int rc;
	long long ms;
};

static void *delayed_main(void *arg)
{
	struct delayed *d = arg;
	struct problem *p = NULL;
	struct timespec t0;
	usleep(30 * 1000); /* the main thread is waiting (leading) by now */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	d->rc = caa_check_name(d->r, d->name, 0, ids, 2, NULL, NULL, &p);
	d->ms = elapsed_ms(&t0);
	problem_free(p);
	return NULL;
}

/* Two waiters, one polling libunbound (the first), one asleep. When the first has its answer
 * it hands the polling over, or the second's answer (later) is never read and it times out; an
 * answer for the sleeper that the first reads wakes the sleeper at once, not at its deadline. */
static void test_handover(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	struct problem *p = NULL;
	pthread_t t;
	struct delayed d = {.r = r, .name = "later.test"};
	assert_int_equal(pthread_create(&t, NULL, delayed_main, &d), 0);
	assert_int_equal(caa_check_name(r, "soon.test", 0, ids, 2, NULL, NULL, &p), 1);
	pthread_join(t, NULL);
	if (d.rc != 1)
		fail_msg("later.test, waiting behind soon.test's lookup: %d after %lld ms", d.rc, d.ms);

	d = (struct delayed){.r = r, .name = "soon.test"};
	assert_int_equal(pthread_create(&t, NULL, delayed_main, &d), 0);
	assert_int_equal(caa_check_name(r, "later.test", 0, ids, 2, NULL, NULL, &p), 1);
	pthread_join(t, NULL);
	assert_int_equal(d.rc, 1);
	if (d.ms > 1000)
		fail_msg("soon.test, answered during later.test's lookup, returned after %lld ms", d.ms);
	resolver_free(r);
}

/* caa_check_start / _finish / _cancel: the lookups run while the caller does something else
 * (the worker validates the challenge), answers read meanwhile by another thread's wait count,
 * and the finish's wait is bounded from when it is called. */
static void test_start_finish(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(1500);
	struct caa_pending *cp = NULL;
	struct problem *p = NULL;
	assert_int_equal(caa_check_start(r, "a.b.other.test", 0, &cp, &p), 0);
	assert_non_null(cp);
	assert_int_equal(caa_check_finish(cp, ids, 2, NULL, NULL, &p), 0);
	assert_non_null(strstr(p->detail, "CAA records at other.test (the relevant record set for a.b.other.test)"));
	problem_free(p);
	/* Nothing to look up, or no way to: decided at the start. */
	assert_int_equal(caa_check_start(r, "192.0.2.1", 0, &cp, &p), 1);
	assert_null(cp);
	assert_int_equal(caa_check_start(NULL, "allowed.test", 0, &cp, &p), -1);
	assert_null(cp);
	assert_string_equal(problem_short_type(p), "dns");
	problem_free(p);

	/* The answers arrive while nobody waits for them; another lookup's wait reads them. */
	assert_int_equal(caa_check_start(r, "*.wild.test", 0, &cp, &p), 0);
	usleep(200 * 1000);
	char **txt = NULL;
	size_t n = 0;
	assert_int_equal(resolver_txt(r, "allowed.test", &txt, &n, &p), 0);
	resolver_strings_free(txt, n);
	assert_int_equal(caa_check_finish(cp, ids, 2, NULL, NULL, &p), 0);
	assert_non_null(strstr(p->detail, "CAA records for *.wild.test forbid issuance"));
	problem_free(p);

	/* gate.test answers only when the test opens the gate, here after the resolver's timeout
	 * has passed since the start: the finish still waits (its wait counts from the finish). */
	assert_int_equal(caa_check_start(r, "x.gate.test", 0, &cp, &p), 0);
	usleep(1700 * 1000);
	__atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
	int rc = caa_check_finish(cp, ids, 2, NULL, NULL, &p);
	__atomic_store_n(&gate_open, 0, __ATOMIC_RELEASE);
	if (rc != 1)
		fail_msg("x.gate.test finished after its start's deadline: %d (%s)", rc, p ? p->detail : "-");

	/* Dropped before any answer, then the resolver freed with them still on their way. */
	assert_int_equal(caa_check_start(r, "x.slow.test", 0, &cp, &p), 0);
	caa_check_cancel(cp);
	caa_check_cancel(NULL);
	assert_int_equal(caa_check_start(r, "ok.slow.test", 0, &cp, &p), 0);
	usleep(50 * 1000);
	caa_check_cancel(cp);
	resolver_free(r);
}

/* Many threads on one resolver (leader/follower waiting on one libunbound context), with a
 * short timeout, lookups that time out among them and cancelled queries whose answers arrive
 * later: every lookup gets its own answer, none is left waiting for one nobody reads. */
#define CONC_THREADS 8
#define CONC_ROUNDS 25
struct conc {
	struct resolver *r;
	int idx, bad, timeouts;
	char first_bad[512];
};

static void conc_bad(struct conc *c, const char *what, int rc, struct problem *p)
{
	if (!c->bad++)
		snprintf(c->first_bad, sizeof c->first_bad, "%s: rc %d (%s)", what, rc, p ? p->detail : "-");
}

static void *conc_main(void *arg)
{
	struct conc *c = arg;
	static const struct {
		const char *name;
		int want;
	} mix[] = {{"allowed.test", 1}, {"www.allowed.test", 1}, {"other.test", 0}, {"a.b.other.test", 0},
	           {"ok.broken.test", 1}, {"broken.test", -1}, {"ok.slow.test", 1}, {"deny.slow.test", 0},
	           {"nothing.test", 1}};
	const size_t nmix = sizeof mix / sizeof mix[0];
	for (int i = 0; i < CONC_ROUNDS; i++) {
		struct problem *p = NULL;
		if (c->idx < 2 && i % 5 == 0) {
			/* slow.test answers after the deadline: this one times out (or unbound, which
			 * has seen it time out before, gives up on it first: SERVFAIL). */
			int rc = caa_check_name(c->r, "x.slow.test", 0, ids, 2, NULL, NULL, &p);
			if (rc != -1 || !p || !strstr(p->detail, "CAA for slow.test") ||
			    (!strstr(p->detail, "timed out") && !strstr(p->detail, "SERVFAIL")))
				conc_bad(c, "x.slow.test", rc, p);
			else
				c->timeouts++;
			problem_free(p);
			continue;
		}
		if (i % 3 == 1) {
			char **txt = NULL;
			size_t n = 9;
			int rc = resolver_txt(c->r, "allowed.test", &txt, &n, &p);
			if (rc != 0 || n != 0)
				conc_bad(c, "TXT allowed.test", rc, p);
			resolver_strings_free(txt, n);
			problem_free(p);
			continue;
		}
		size_t k = (size_t)(c->idx + i) % nmix;
		int rc = caa_check_name(c->r, mix[k].name, 0, ids, 2, ACCOUNT, "http-01", &p);
		if (rc != mix[k].want || (rc == -1 && (!p || !strstr(p->detail, "SERVFAIL"))))
			conc_bad(c, mix[k].name, rc, p);
		problem_free(p);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(700);
	pthread_t t[CONC_THREADS];
	struct conc c[CONC_THREADS];
	for (int i = 0; i < CONC_THREADS; i++) {
		c[i] = (struct conc){.r = r, .idx = i};
		assert_int_equal(pthread_create(&t[i], NULL, conc_main, &c[i]), 0);
	}
	int bad = 0, timeouts = 0;
	for (int i = 0; i < CONC_THREADS; i++) {
		pthread_join(t[i], NULL);
		if (c[i].bad)
			print_message("thread %d: %d wrong, first: %s\n", i, c[i].bad, c[i].first_bad);
		bad += c[i].bad;
		timeouts += c[i].timeouts;
	}
	assert_int_equal(timeouts, 2 * ((CONC_ROUNDS + 4) / 5));
	assert_int_equal(bad, 0);
	/* Cancelled queries' answers may still be on their way: freeing now must be clean. */
	resolver_free(r);
}

/* signed.test has a trust anchor but the server sends no signatures: bogus, and the check
 * fails closed even though the records would allow issuance. */
static void test_dnssec_bogus(void **state)
{
	(void)state;
	struct resolver *r = new_resolver(3000);
	char err[256];
	assert_int_equal(resolver_add_trust_anchor(r, "signed.test. DS 12345 13 2 "
	                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", err, sizeof err), 0);
	struct problem *p = NULL;
	assert_int_equal(caa_check_name(r, "x.signed.test", 0, ids, 2, NULL, NULL, &p), -1);
	assert_string_equal(problem_short_type(p), "dns");
	assert_non_null(strstr(p->detail, "DNSSEC"));
	problem_free(p);
	assert_int_equal(caa_check_name(r, "allowed.test", 0, ids, 2, NULL, NULL, &p), 1);
	resolver_free(r);
}

/* caa_records_from_rdata directly: bounds and malformed records. */
static void test_from_rdata(void **state)
{
	(void)state;
	static const unsigned char a[] = {0, 5, 'i', 's', 's', 'u', 'e', 'c', 'a', '.', 't'};
	static const unsigned char bad[] = {0, 0};
	const unsigned char *rd[CAA_RRSET_MAX + 1];
	size_t len[CAA_RRSET_MAX + 1];
	struct caa_record *out = NULL;
	char err[256];
	for (size_t i = 0; i <= CAA_RRSET_MAX; i++) {
		rd[i] = a;
		len[i] = sizeof a;
	}
	assert_int_equal(caa_records_from_rdata(rd, len, 0, &out, err, sizeof err), 0);
	assert_null(out);
	assert_int_equal(caa_records_from_rdata(rd, len, CAA_RRSET_MAX, &out, err, sizeof err), 0);
	assert_string_equal(out[CAA_RRSET_MAX - 1].tag, "issue");
	assert_string_equal(out[CAA_RRSET_MAX - 1].value, "ca.t");
	free(out);
	assert_int_equal(caa_records_from_rdata(rd, len, CAA_RRSET_MAX + 1, &out, err, sizeof err), -1);
	assert_null(out);
	rd[3] = bad;
	len[3] = sizeof bad;
	assert_int_equal(caa_records_from_rdata(rd, len, 5, &out, err, sizeof err), -1);
	assert_non_null(strstr(err, "record 4 of 5"));
	/* every truncation of a good record: parses or is refused, never read past len */
	for (size_t l = 0; l <= sizeof a; l++) {
		const unsigned char *one = a;
		int rc = caa_records_from_rdata(&one, &l, 1, &out, err, sizeof err);
		assert_int_equal(rc, l >= 7 ? 0 : -1);
		free(out);
		out = NULL;
	}
}

/* ---- external mode (tests/interop/test_caa_lookup.sh): the same function against a real
 * DNS server. COBBLE_CAA_DNS is the forwarder, COBBLE_CAA_CASES a file of lines
 * "name|wildcard|account|method|want|detail" (want 1, 0 or -1; empty fields mean none),
 * COBBLE_CAA_TA an optional file of trust anchors, one record a line. ---- */
static void test_external(void **state)
{
	(void)state;
	const char *fwd = getenv("COBBLE_CAA_DNS"), *cases_file = getenv("COBBLE_CAA_CASES");
	const char *ta = getenv("COBBLE_CAA_TA");
	char err[256], line[1024];
	struct resolver *r = NULL;
	if (resolver_new(fwd, 3000, &r, err, sizeof err) != 0)
		fail_msg("resolver_new(%s): %s", fwd, err);
	FILE *f;
	if (ta && *ta) {
		if (!(f = fopen(ta, "r")))
			fail_msg("cannot open %s", ta);
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (*line && resolver_add_trust_anchor(r, line, err, sizeof err) != 0)
				fail_msg("%s", err);
		}
		fclose(f);
	}
	if (!(f = fopen(cases_file, "r")))
		fail_msg("cannot open %s", cases_file);
	int n = 0, bad = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line || *line == '#')
			continue;
		char *fld[6] = {0}, *sp = line;
		for (int i = 0; i < 6; i++)
			fld[i] = strsep(&sp, "|");
		if (!fld[5])
			fail_msg("bad case line (want 6 fields): %s", line);
		struct problem *p = NULL;
		int want = atoi(fld[4]);
		int rc = caa_check_name(r, fld[0], atoi(fld[1]), ids, 2, *fld[2] ? fld[2] : NULL,
		                        *fld[3] ? fld[3] : NULL, &p);
		const char *type = p ? problem_short_type(p) : "-";
		int ok = rc == want && (rc == 1 ? p == NULL
		                                : p && strcmp(type, rc == 0 ? "caa" : "dns") == 0 &&
		                                      strstr(p->detail, fld[5]) != NULL);
		printf("%s %s%s: %d (%s%s%s)\n", ok ? "ok  " : "FAIL", atoi(fld[1]) ? "wildcard " : "", fld[0], rc,
		       type, p ? ": " : "", p ? p->detail : "");
		if (!ok)
			printf("     want %d with detail containing \"%s\"\n", want, fld[5]);
		bad += !ok;
		n++;
		problem_free(p);
	}
	fclose(f);
	resolver_free(r);
	if (n == 0 || bad)
		fail_msg("%d of %d cases failed", bad, n);
}

int main(void)
{
	if (getenv("COBBLE_CAA_DNS") && getenv("COBBLE_CAA_CASES")) {
		const struct CMUnitTest ext[] = {cmocka_unit_test(test_external)};
		return cmocka_run_group_tests(ext, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_climb),
	    cmocka_unit_test(test_resolver_caa),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_walk_early_answer),
	    cmocka_unit_test(test_handover),
	    cmocka_unit_test(test_start_finish),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_dnssec_bogus),
	    cmocka_unit_test(test_from_rdata),
	    cmocka_unit_test(test_stub_transport),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
