/* cobble-loadgen: W worker threads, each with its own ACME account and keep-alive connection,
 * issue N certificates in total through the whole RFC 8555 flow (http-01 answered by an
 * in-process responder), then report rate, latency percentiles, errors and server cost. */
#include "agent/acme/client.h"
#include "agent/acme/csr.h"
#include "agent/ui.h"
#include "jwk.h"
#include "keys.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 1024
#define MAX_ERR_KINDS 32
#define REQ_MAX 4096 /* a validation request is one short GET */

/* ---- the http-01 responder: one slot per worker (a worker has one token out at a time) ---- */

struct slot {
	char token[128];
	char keyauth[256];
};

static struct slot *slots;
static int nslots;
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_long validations_served;

static void slot_set(int w, const char *token, const char *keyauth)
{
	pthread_mutex_lock(&slots_mu);
	snprintf(slots[w].token, sizeof slots[w].token, "%s", token ? token : "");
	snprintf(slots[w].keyauth, sizeof slots[w].keyauth, "%s", keyauth ? keyauth : "");
	pthread_mutex_unlock(&slots_mu);
}

static int slot_find(const char *token, char *out, size_t outlen)
{
	int found = 0;
	pthread_mutex_lock(&slots_mu);
	for (int i = 0; i < nslots && !found; i++)
		if (slots[i].token[0] && strcmp(slots[i].token, token) == 0) {
			snprintf(out, outlen, "%s", slots[i].keyauth);
			found = 1;
		}
	pthread_mutex_unlock(&slots_mu);
	return found;
}

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[REQ_MAX + 1], resp[512], ka[256];
	size_t len = 0;
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (len < REQ_MAX) {
		ssize_t n = read(fd, buf + len, REQ_MAX - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[len] = '\0';
	const char *pfx = "GET /.well-known/acme-challenge/";
	int n = 0;
	if (strncmp(buf, pfx, strlen(pfx)) == 0) {
		char token[128];
		const char *t = buf + strlen(pfx);
		size_t tl = strcspn(t, " \r\n?");
		if (tl > 0 && tl < sizeof token) {
			memcpy(token, t, tl);
			token[tl] = '\0';
			if (slot_find(token, ka, sizeof ka)) {
				n = snprintf(resp, sizeof resp,
				             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
				             "Connection: close\r\n\r\n%s",
				             strlen(ka), ka);
				atomic_fetch_add(&validations_served, 1);
			}
		}
	}
	if (n == 0)
		n = snprintf(resp, sizeof resp, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, resp + off, (size_t)(n - off));
		if (w <= 0)
			break;
		off += (int)w;
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	return NULL;
}

static void *responder(void *arg)
{
	int ls = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 64 * 1024);
		if (pthread_create(&t, &at, serve_conn, (void *)(intptr_t)fd) != 0)
			close(fd);
		pthread_attr_destroy(&at);
	}
}

static int responder_start(int port)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 512) != 0) {
		fprintf(stderr, "loadgen: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
		return -1;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, responder, (void *)(intptr_t)ls) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}

/* ---- shared run state ---- */

static const char *dir_url, *ca_bundle, *domain = "cobble.test";
static int total, nworkers = 16;
static char run_tag[16];
static atomic_int next_cert, issued;
static _Atomic double last_done; /* now_s() of the last issued certificate */
static double *latencies; /* seconds, one per issued certificate */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The steps of an issuance, timed separately so a tail can be told apart: where the time of
 * the slowest issuances goes (the server's queueing shows in every step, a slow validation or
 * store sync in one). */
enum step { STEP_ORDER, STEP_AUTHZ, STEP_CHALLENGE, STEP_VALIDATED, STEP_KEY_CSR, STEP_FINALIZE, STEP_DOWNLOAD, NSTEPS };
static const char *const step_names[NSTEPS] = {"newOrder", "authz", "challenge", "until-valid", "key+csr",
                                               "finalize", "download"};
static double *step_lat[NSTEPS]; /* seconds, per issued certificate, in the order of latencies */
static _Thread_local double step_t[NSTEPS], step_mark;

static void step_done(enum step s)
{
	double t = now_s();
	step_t[s] = t - step_mark;
	step_mark = t;
}
static pthread_mutex_t res_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char kind[96];
	int count;
	char example[300];
} errs[MAX_ERR_KINDS];
static int nerrs;
static pthread_barrier_t ready;


static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void record_error(const char *kind, const char *detail)
{
	pthread_mutex_lock(&res_mu);
	int i;
	for (i = 0; i < nerrs; i++)
		if (strcmp(errs[i].kind, kind) == 0)
			break;
	if (i == nerrs && nerrs < MAX_ERR_KINDS) {
		snprintf(errs[i].kind, sizeof errs[i].kind, "%s", kind);
		snprintf(errs[i].example, sizeof errs[i].example, "%s", detail);
		nerrs++;
	}
	if (i < nerrs)
		errs[i].count++;
	pthread_mutex_unlock(&res_mu);
}

/* Problem type of the client's last failure, or a transport/protocol label. */
static void client_error(struct acme_client *c, const char *step)
{
	char kind[96];
	const char *t = acme_problem_type(c);
	snprintf(kind, sizeof kind, "%s:%s", step, t[0] ? t : "no-problem-document");
	record_error(kind, c->err);
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* POST-as-GET until status leaves pending/processing. Polls fast (5 ms doubling to 50 ms) so
 * latency measures the server, not a client's Retry-After sleep; the same schedule is used
 * against every server. */
static atomic_long polls; /* POST-as-GET requests made by poll_status */

static json_t *poll_status(struct acme_client *c, const char *url, const char *step)
{
	int delay = 5;
	double deadline = now_s() + 60;
	for (;;) {
		json_t *j = NULL;
		atomic_fetch_add(&polls, 1);
		if (acme_post_json(c, url, NULL, &j, NULL) != 0) {
			client_error(c, step);
			return NULL;
		}
		const char *st = jstr(j, "status");
		if (!st || (strcmp(st, "pending") != 0 && strcmp(st, "processing") != 0))
			return j;
		json_decref(j);
		if (now_s() > deadline) {
			record_error("poll-timeout", url);
			return NULL;
		}
		sleep_ms(delay);
		if (delay < 50)
			delay *= 2;
	}
}

struct worker {
	int idx;
	struct acme_client *c;
	EVP_PKEY *key;
	char thumb[64];
	int ok;
};

/* One whole issuance for name; 0 when a certificate chain was downloaded. */
static int issue_one(struct worker *w, const char *name)
{
	struct acme_client *c = w->c;
	json_t *order = NULL, *authz = NULL, *fin = NULL, *fr = NULL, *chr = NULL;
	char *order_url = NULL, *csr = NULL;
	EVP_PKEY *ck = NULL;
	int rc = -1;

	memset(step_t, 0, sizeof step_t);
	step_mark = now_s();
	json_t *payload = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "dns", "value", name);
	int r = acme_post_json(c, acme_dir_url(c, "newOrder"), payload, &order, &order_url);
	step_done(STEP_ORDER);
	json_decref(payload);
	if (r != 0) {
		client_error(c, "newOrder");
		goto done;
	}
	const char *authz_url = json_string_value(json_array_get(json_object_get(order, "authorizations"), 0));
	const char *finalize = jstr(order, "finalize");
	if (!authz_url || !finalize || !order_url) {
		record_error("newOrder:bad-order-object", name);
		goto done;
	}
	if (acme_post_json(c, authz_url, NULL, &authz, NULL) != 0) {
		client_error(c, "authz");
		goto done;
	}
	step_done(STEP_AUTHZ);
	if (strcmp(jstr(authz, "status") ? jstr(authz, "status") : "", "valid") != 0) {
		const char *token = NULL, *chall_url = NULL;
		size_t i;
		json_t *ch;
		json_array_foreach(json_object_get(authz, "challenges"), i, ch) {
			if (jstr(ch, "type") && strcmp(jstr(ch, "type"), "http-01") == 0) {
				token = jstr(ch, "token");
				chall_url = jstr(ch, "url");
			}
		}
		if (!token || !chall_url) {
			record_error("authz:no-http-01", name);
			goto done;
		}
		char keyauth[256];
		snprintf(keyauth, sizeof keyauth, "%s.%s", token, w->thumb);
		slot_set(w->idx, token, keyauth);
		json_t *empty = json_object();
		r = acme_post_json(c, chall_url, empty, &chr, NULL);
		json_decref(empty);
		step_done(STEP_CHALLENGE);
		if (r != 0) {
			slot_set(w->idx, NULL, NULL);
			client_error(c, "challenge");
			goto done;
		}
		/* As the agent does (acme/order.c): a challenge whose reply is already valid means a
		 * valid authorization (RFC 8555 §7.5.1); anything else is polled. */
		const char *cst = jstr(chr, "status");
		int reply_valid = cst && strcmp(cst, "valid") == 0;
		json_t *az = reply_valid ? NULL : poll_status(c, authz_url, "authz-poll");
		step_done(STEP_VALIDATED);
		slot_set(w->idx, NULL, NULL);
		if (reply_valid)
			goto validated;
		if (!az)
			goto done;
		const char *st = jstr(az, "status");
		if (!st || strcmp(st, "valid") != 0) {
			char kind[96];
			json_t *e = NULL;
			json_array_foreach(json_object_get(az, "challenges"), i, ch) if (json_object_get(ch, "error")) e =
			    json_object_get(ch, "error");
			snprintf(kind, sizeof kind, "validation:%s", e && jstr(e, "type") ? jstr(e, "type") : (st ? st : "?"));
			record_error(kind, e && jstr(e, "detail") ? jstr(e, "detail") : name);
			json_decref(az);
			goto done;
		}
		json_decref(az);
	}
validated:
	/* A fresh P-256 key per certificate, as a client renewing with key rotation does. */
	ck = key_generate("ec256");
	const char *names[1] = {name};
	csr = ck ? csr_build_b64(ck, names, 1) : NULL;
	if (!csr) {
		record_error("client:csr", name);
		goto done;
	}
	step_done(STEP_KEY_CSR);
	json_t *fp = json_pack("{s:s}", "csr", csr);
	r = acme_post_json(c, finalize, fp, &fr, NULL);
	json_decref(fp);
	if (r != 0) {
		client_error(c, "finalize");
		goto done;
	}
	const char *st = jstr(fr, "status");
	if (st && strcmp(st, "valid") == 0 && jstr(fr, "certificate")) {
		fin = fr;
		fr = NULL;
	} else {
		fin = poll_status(c, order_url, "order-poll");
		if (!fin)
			goto done;
	}
	const char *cert_url = jstr(fin, "certificate");
	if (!cert_url || strcmp(jstr(fin, "status") ? jstr(fin, "status") : "", "valid") != 0) {
		record_error("order:not-valid", jstr(fin, "status") ? jstr(fin, "status") : name);
		goto done;
	}
	struct http_resp resp;
	step_done(STEP_FINALIZE); /* with the order poll, if the reply was not valid yet */
	if (acme_post(c, NULL, c->kid, cert_url, NULL, &resp) != 0) {
		client_error(c, "download");
		goto done;
	}
	if (!resp.body || strncmp(resp.body, "-----BEGIN CERTIFICATE-----", 27) != 0)
		record_error("download:not-pem", cert_url);
	else
		rc = 0;
	step_done(STEP_DOWNLOAD);
	http_resp_clear(&resp);
done:
	json_decref(order);
	json_decref(authz);
	json_decref(fin);
	json_decref(fr);
	json_decref(chr);
	free(order_url);
	free(csr);
	EVP_PKEY_free(ck);
	return rc;
}

static atomic_int workers_done;

static int nerrs_total(void)
{
	int n = 0;
	pthread_mutex_lock(&res_mu);
	for (int i = 0; i < nerrs; i++)
		n += errs[i].count;
	pthread_mutex_unlock(&res_mu);
	return n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[256];
	pthread_barrier_wait(&ready);
	if (!w->ok) {
		atomic_fetch_add(&workers_done, 1);
		return NULL;
	}
	for (;;) {
		int i = atomic_fetch_add(&next_cert, 1);
		if (i >= total)
			break;
		snprintf(name, sizeof name, "bench-%s-%d.%s", run_tag, i, domain);
		double t0 = now_s();
		if (issue_one(w, name) == 0) {
			double dt = now_s() - t0;
			int k = atomic_fetch_add(&issued, 1);
			latencies[k] = dt;
			for (int s = 0; s < NSTEPS; s++)
				step_lat[s][k] = step_t[s];
			atomic_store(&last_done, now_s());
		}
	}
	atomic_fetch_add(&workers_done, 1);
	return NULL;
}

/* Account set-up (not timed): directory, a P-256 account key, newAccount with "jwk". */
static int worker_setup(struct worker *w)
{
	w->c = acme_client_new(dir_url, ca_bundle);
	w->key = key_generate("ec256");
	if (!w->c || !w->key || jwk_thumbprint_pkey(w->key, w->thumb) != 0) {
		record_error("setup:client", "cannot create client or key");
		return -1;
	}
	if (acme_directory(w->c) != 0) {
		client_error(w->c, "directory");
		return -1;
	}
	w->c->key = w->key;
	struct http_resp r;
	const char *payload = "{\"termsOfServiceAgreed\":true}";
	if (acme_post(w->c, NULL, NULL, acme_dir_url(w->c, "newAccount"), payload, &r) != 0) {
		client_error(w->c, "newAccount");
		return -1;
	}
	if (!r.location) {
		http_resp_clear(&r);
		record_error("newAccount:no-location", "");
		return -1;
	}
	acme_client_set_kid(w->c, r.location);
	http_resp_clear(&r);
	return 0;
}

/* utime+stime (seconds) of a process from /proc/PID/stat; -1 if unreadable. The system part
 * alone goes to *sys_s when sys_s is not NULL. */
static double proc_cpu(int pid, double *sys_s)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p)
		return -1;
	unsigned long ut = 0, st = 0;
	/* fields after comm: state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	if (sys_s)
		*sys_s = (double)st / (double)sysconf(_SC_CLK_TCK);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "VmHWM:   1234 kB" style field of /proc/PID/status, in KiB; -1 if unreadable. */
static long proc_status_kib(int pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	if (!f)
		return -1;
	size_t fl = strlen(field);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* qsort_r: indexes into the whole-issuance latencies (arg), by latency. */
static int cmp_by_latency(const void *a, const void *b, void *arg)
{
	const double *lat = arg;
	double x = lat[*(const int *)a], y = lat[*(const int *)b];
	return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
	if (n == 0)
		return 0;
	int i = (int)(p * n + 0.999999) - 1; /* nearest-rank */
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static void usage(void)
{
	fprintf(stderr, "usage: cobble-loadgen --directory URL --http-port PORT [--ca-bundle PEM] [--workers W]\n"
	                "                      [--certs N] [--server-pid PID] [--domain D] [--label NAME] [--stall-seconds S]\n");
}

int main(int argc, char **argv)
{
	int http_port = 0, server_pid = 0, stall = 20;
	const char *label = "server";
	total = 200;
	static const struct option opts[] = {
	    {"directory", required_argument, NULL, 'd'}, {"ca-bundle", required_argument, NULL, 'b'},
	    {"http-port", required_argument, NULL, 'p'}, {"workers", required_argument, NULL, 'w'},
	    {"certs", required_argument, NULL, 'n'},     {"server-pid", required_argument, NULL, 's'},
	    {"domain", required_argument, NULL, 'D'},    {"label", required_argument, NULL, 'l'},
	    {"stall-seconds", required_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dir_url = optarg; break;
		case 'b': ca_bundle = optarg; break;
		case 'p': http_port = atoi(optarg); break;
		case 'w': nworkers = atoi(optarg); break;
		case 'n': total = atoi(optarg); break;
		case 's': server_pid = atoi(optarg); break;
		case 'D': domain = optarg; break;
		case 'l': label = optarg; break;
		case 'S': stall = atoi(optarg); break;
		default: usage(); return 2;
		}
	}
	if (!dir_url || http_port <= 0 || nworkers < 1 || nworkers > MAX_WORKERS || total < 1) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ui_set_level(UI_QUIET);
	unsigned char rnd[4];
	FILE *ur = fopen("/dev/urandom", "r");
	if (!ur || fread(rnd, 1, sizeof rnd, ur) != sizeof rnd)
		return 1;
	fclose(ur);
	snprintf(run_tag, sizeof run_tag, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	slots = calloc((size_t)nworkers, sizeof *slots);
	latencies = calloc((size_t)total, sizeof *latencies);
	for (int s = 0; s < NSTEPS; s++)
		if (!(step_lat[s] = calloc((size_t)total, sizeof *step_lat[s]))) {
			fprintf(stderr, "loadgen: out of memory\n");
			return 1;
		}
	struct worker *ws = calloc((size_t)nworkers, sizeof *ws);
	pthread_t *th = calloc((size_t)nworkers, sizeof *th);
	if (!slots || !latencies || !ws || !th)
		return 1;
	nslots = nworkers;
	if (responder_start(http_port) != 0)
		return 1;

	/* Accounts first, one at a time, before the load starts. */
	int ready_workers = 0;
	for (int i = 0; i < nworkers; i++) {
		ws[i].idx = i;
		ws[i].ok = worker_setup(&ws[i]) == 0;
		ready_workers += ws[i].ok;
	}
	if (ready_workers == 0) {
		fprintf(stderr, "loadgen: no worker could create an account (%s: %s)\n", errs[0].kind, errs[0].example);
		return 1;
	}
	pthread_barrier_init(&ready, NULL, (unsigned)nworkers + 1);
	for (int i = 0; i < nworkers; i++)
		pthread_create(&th[i], NULL, worker_main, &ws[i]);
	double sys0 = 0, sys1 = 0;
	double cpu0 = server_pid ? proc_cpu(server_pid, &sys0) : -1;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now_s();
	atomic_store(&last_done, t0);
	pthread_barrier_wait(&ready);
	/* A server that stops answering (a deadlock) must not hang the bench: after `stall`
	 * seconds without a new certificate the run ends, counted up to the last certificate. */
	int stalled = 0, prev = -1;
	double prev_t = now_s();
	while (atomic_load(&workers_done) < nworkers) {
		sleep_ms(100);
		int cur = atomic_load(&issued) + nerrs_total();
		if (cur != prev) {
			prev = cur;
			prev_t = now_s();
		} else if (now_s() - prev_t > stall) {
			stalled = 1;
			break;
		}
	}
	double wall = (stalled ? atomic_load(&last_done) : now_s()) - t0;
	if (stalled) {
		char d[160];
		snprintf(d, sizeof d, "no progress for %d s after %d certificates; %d requests left hanging", stall,
		         atomic_load(&issued), total - atomic_load(&issued) - nerrs_total());
		record_error("stalled:server-stopped-answering", d);
	} else {
		for (int i = 0; i < nworkers; i++)
			pthread_join(th[i], NULL);
	}
	double cpu1 = server_pid ? proc_cpu(server_pid, &sys1) : -1;
	getrusage(RUSAGE_SELF, &ru1);
	long hwm = server_pid ? proc_status_kib(server_pid, "VmHWM") : -1;
	long rss = server_pid ? proc_status_kib(server_pid, "VmRSS") : -1;
	long rss_anon = server_pid ? proc_status_kib(server_pid, "RssAnon") : -1;
	long rss_file = server_pid ? proc_status_kib(server_pid, "RssFile") : -1;

	int n = atomic_load(&issued);
	double *whole = n > 0 ? malloc((size_t)n * sizeof *whole) : NULL;
	if (whole)
		memcpy(whole, latencies, (size_t)n * sizeof *whole);
	else
		n = 0; /* out of memory: no percentiles rather than wrong ones */
	qsort(latencies, (size_t)n, sizeof *latencies, cmp_double);
	double self_cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	                  (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	int nerr = 0;
	for (int i = 0; i < nerrs; i++)
		nerr += errs[i].count;
	double cpu_ms = (cpu0 >= 0 && cpu1 >= 0 && n > 0) ? (cpu1 - cpu0) * 1000.0 / n : -1;

	printf("%s: %d certificates in %.2f s with %d workers: %.1f certs/s\n", label, n, wall, ready_workers,
	       n / wall);
	printf("%s: latency of a whole issuance p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n", label,
	       pct(latencies, n, 0.50) * 1000, pct(latencies, n, 0.95) * 1000, pct(latencies, n, 0.99) * 1000,
	       n ? latencies[n - 1] * 1000 : 0.0);
	/* Per step: p50 and p99 over all issuances, and the step's share of the slowest 1%
	 * (by whole latency: where their time went). */
	if (n > 0) {
		int *order_idx = malloc((size_t)n * sizeof *order_idx);
		double *tmp = malloc((size_t)n * sizeof *tmp);
		if (order_idx && tmp) {
			for (int i = 0; i < n; i++)
				order_idx[i] = i;
			qsort_r(order_idx, (size_t)n, sizeof *order_idx, cmp_by_latency, whole);
			int slow = n / 100 > 0 ? n / 100 : 1;
			printf("%s: per step p50/p99 ms (mean ms in the slowest 1%%):", label);
			for (int s = 0; s < NSTEPS; s++) {
				memcpy(tmp, step_lat[s], (size_t)n * sizeof *tmp);
				qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
				double slow_sum = 0;
				for (int i = n - slow; i < n; i++)
					slow_sum += step_lat[s][order_idx[i]];
				printf(" %s %.1f/%.1f (%.1f)", step_names[s], pct(tmp, n, 0.50) * 1000, pct(tmp, n, 0.99) * 1000,
				       slow_sum / slow * 1000);
			}
			printf("\n");
		}
		free(order_idx);
		free(tmp);
	}
	free(whole);
	/* Per certificate, for the lines below and the RESULT line. */
	double sys_ms = n > 0 ? (sys1 - sys0) * 1000.0 / n : 0.0, client_ms = n ? self_cpu * 1000 / n : 0.0;
	double polls_per = n ? (double)atomic_load(&polls) / n : 0.0;
	if (server_pid)
		printf("%s: server CPU %.3f ms per certificate (%.3f in the kernel); peak RSS (VmHWM) %.1f MiB, RSS now "
		       "%.1f MiB (%.1f anonymous, %.1f file-backed: mapped libraries)\n",
		       label, cpu_ms, sys_ms, hwm / 1024.0, rss / 1024.0, rss_anon / 1024.0, rss_file / 1024.0);
	printf("%s: load generator CPU %.3f ms per certificate; %ld http-01 fetches answered; %.2f status polls "
	       "per certificate\n",
	       label, client_ms, atomic_load(&validations_served), polls_per);
	printf("%s: %d errors\n", label, nerr);
	for (int i = 0; i < nerrs; i++)
		printf("%s:   %6d  %s  (e.g. %s)\n", label, errs[i].count, errs[i].kind, errs[i].example);
	/* One machine-readable line for bench/run.sh. */
	printf("RESULT label=%s workers=%d certs=%d errors=%d wall=%.3f rate=%.2f p50=%.2f p95=%.2f p99=%.2f "
	       "cpu_ms=%.3f sys_ms=%.3f hwm_kib=%ld client_cpu_ms=%.3f polls=%.2f\n",
	       label, ready_workers, n, nerr, wall, n / wall, pct(latencies, n, 0.50) * 1000,
	       pct(latencies, n, 0.95) * 1000, pct(latencies, n, 0.99) * 1000, cpu_ms, sys_ms, hwm, client_ms, polls_per);
	fflush(stdout);
	if (stalled)
		_exit(1); /* workers are stuck in requests; nothing to clean up safely */
	for (int i = 0; i < nworkers; i++) {
		acme_client_free(ws[i].c);
		EVP_PKEY_free(ws[i].key);
	}
	return n == total ? 0 : 1;
}
