/* The validation worker pool: a bounded FIFO of challenge ids served by N threads, each with
 * its own store handle. Results reach clients only through storage (design.md §4). */
#include "pool.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "caa.h"
#include "dns01.h"
#include "jose.h"
#include "log.h"
#include "tlsalpn01.h"

#define POOL_QUEUE_CAP 4096
#define POOL_MAX_WORKERS 256
#define FINISH_RETRIES 3
/* Leases (store_challenge_claim): a worker holds a challenge while validating it, so with
 * several instances one worker validates it; an idle worker looks this often for challenges
 * whose lease ran out (their worker died) or that no worker ever took (their instance died
 * before a worker got to them). */
#define SWEEP_SECONDS 30
#define LEASE_MIN_SECONDS 300

struct worker {
	struct va_pool *pool;
	struct store *store;
	pthread_t thread;
	int started;
};

/* Work other than a challenge (va_pool_submit_task), first come first served, before any
 * challenge: a finalize waiting here holds its client's order in processing. */
struct va_task {
	void (*run)(void *arg, struct store *s, struct resolver *r);
	void (*drop)(void *arg);
	void *arg;
	struct va_task *next;
};

struct va_pool {
	struct va_settings set;
	struct resolver *resolver; /* borrowed */
	const struct config *cfg;  /* borrowed */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	char (*queue)[STORE_ID_MAX]; /* ring of cap ids */
	int64_t *leased_at;          /* per queue slot: when the request leased it, or 0 */
	char owner[96];              /* lease owner of this pool's workers: host:pid */
	size_t cap, head, count;
	struct va_task *tasks, **tasks_tail; /* under mu */
	size_t ntasks;
	int nworkers;
	struct worker *workers;
};

/* Caller holds p->mu. */
static int enqueue_locked(struct va_pool *p, const char *id, int64_t leased_at)
{
	if (p->count == p->cap)
		return -1;
	p->leased_at[(p->head + p->count) % p->cap] = leased_at;
	snprintf(p->queue[(p->head + p->count) % p->cap], STORE_ID_MAX, "%s", id);
	p->count++;
	pthread_cond_signal(&p->cv);
	return 0;
}

static char *dump_compact(const json_t *j)
{
	return j ? json_dumps(j, JSON_COMPACT) : NULL;
}

/* The key authorization (RFC 8555 §8.1) for token under the account's key: the stored
 * thumbprint is RFC 7638's of the account's current JWK (set at newAccount and keyChange), so
 * the JWK need not be parsed and hashed again for every validation. */
static int key_authorization(const struct store_account *acct, const char *token, char *out, size_t outlen)
{
	if (!acct->thumbprint[0])
		return -1;
	int n = snprintf(out, outlen, "%s.%s", token, acct->thumbprint);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

static void (*done_hook)(const char *chall_id);

void va_pool_set_done_hook(void (*done)(const char *chall_id))
{
	done_hook = done;
}

static void finish(struct worker *w, const char *id, int valid, const struct problem *prob, const json_t *rec)
{
	int64_t now = (int64_t)time(NULL);
	/* A valid authorization lives for the configured lifetime from its validation, which is
	 * also when CAA was checked (orders_finalize rechecks CAA from that time). */
	int64_t valid_until = valid ? now + w->pool->cfg->valid_authz_lifetime : 0;
	json_t *pj = prob ? problem_to_json(prob) : NULL;
	char *err = dump_compact(pj);
	char *recs = dump_compact(rec);
	int rc = STORE_ERR;
	for (int i = 0; i < FINISH_RETRIES; i++) {
		rc = store_challenge_finish(w->store, id, valid, err, recs ? recs : "[]", now, valid_until);
		if (rc != STORE_ERR)
			break;
		usleep(100 * 1000 * (i + 1)); /* a busy database: try again shortly */
	}
	if (rc == STORE_OK) {
		log_info("validation: challenge %s %s%s%s", id, valid ? "valid" : "invalid",
		         prob ? ": " : "", prob && prob->detail ? prob->detail : "");
		if (done_hook)
			done_hook(id);
	}
	else if (rc == STORE_CONFLICT)
		log_warn("validation: challenge %s was no longer processing; result dropped", id);
	else
		log_error("validation: could not record the result of challenge %s (left processing, "
		          "requeued at next start)", id);
	json_decref(pj);
	free(err);
	free(recs);
}

/* Longer than any validation can take: a fetch may follow 10 redirects, each bounded. */
static int64_t lease_seconds(const struct va_pool *p)
{
	int64_t t = (int64_t)p->set.timeout_ms / 1000 * 12;
	return t > LEASE_MIN_SECONDS ? t : LEASE_MIN_SECONDS;
}

/* Leases a challenge (id) or any orphaned one (id NULL, its id written to out). */
static int claim(struct worker *w, const char *id, char *out)
{
	int rc = STORE_ERR;
	for (int i = 0; i < FINISH_RETRIES && rc == STORE_ERR; i++) {
		if (i)
			usleep(100 * 1000 * (unsigned)i); /* a connection that broke reconnects */
		rc = store_challenge_claim(w->store, id, w->pool->owner, (int64_t)time(NULL),
		                           lease_seconds(w->pool), out);
	}
	return rc;
}

/* leased_at: when the challenge was leased to this pool (va_pool_start_challenge, or the
 * sweep's claim), 0 if not; a lease younger than half its length is not renewed. */
static void validate(struct worker *w, const char *id, int64_t leased_at)
{
	struct va_pool *p = w->pool;
	struct store_challenge ch = {0};
	struct store_authz az = {0};
	struct store_account acct = {0};
	struct problem *prob = NULL;
	json_t *rec = NULL;
	struct caa_pending *caa = NULL;
	int valid = 0;

	int rc = STORE_OK;
	if (!leased_at || (int64_t)time(NULL) - leased_at >= lease_seconds(p) / 2)
		rc = claim(w, id, NULL);
	if (rc != STORE_OK) {
		if (rc == STORE_CONFLICT)
			log_info("validation: challenge %s is leased by another worker or done; skipped", id);
		else if (rc == STORE_NOTFOUND)
			log_warn("validation: challenge %s not found", id);
		else
			log_error("validation: could not lease challenge %s (taken over when the lease "
			          "sweep runs)", id);
		return;
	}
	rc = STORE_ERR;
	/* A handle whose database connection broke (PostgreSQL restart, failover) reconnects on
	 * the next call: retry so the challenge is not left in processing. */
	for (int i = 0; i < FINISH_RETRIES && rc == STORE_ERR; i++) {
		if (i)
			usleep(100 * 1000 * (unsigned)i);
		rc = store_challenge_get(w->store, id, &ch, &az);
	}
	if (rc != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			log_warn("validation: challenge %s not found", id);
		else
			log_error("validation: loading challenge %s failed (left processing)", id);
		goto out;
	}
	if (strcmp(ch.status, "processing") != 0) {
		log_info("validation: challenge %s is %s, not processing; skipped", id, ch.status);
		goto out;
	}
	rc = store_account_get(w->store, az.account_id, &acct);
	if (rc == STORE_ERR) {
		log_error("validation: loading account %s failed (challenge %s left processing)", az.account_id,
		          id);
		goto out;
	}
	char keyauth[STORE_TOKEN_MAX + 64];
	if (rc != STORE_OK || key_authorization(&acct, ch.token, keyauth, sizeof keyauth) != 0) {
		prob = problem_new("serverInternal", 500, "could not compute the key authorization for "
		                   "account %s", az.account_id);
		goto finish;
	}

	int is_ip = strcmp(az.ident_type, "ip") == 0;
	if (!is_ip && strcmp(az.ident_type, "dns") == 0 && (!az.wildcard || strcmp(ch.type, "dns-01") == 0)) {
		/* The CAA lookups go out now, in the same round as the challenge's own DNS lookups;
		 * their result is applied below only if the challenge succeeds. If they cannot start,
		 * caa_check_name below fails the same way. */
		struct problem *ignored = NULL;
		if (caa_check_start(p->resolver, az.ident_value, az.wildcard, &caa, &ignored) != 0)
			caa = NULL;
		problem_free(ignored);
	}
	if (!is_ip && strcmp(az.ident_type, "dns") != 0) {
		prob = problem_new("unsupportedIdentifier", 400, "identifier type %s cannot be validated",
		                   az.ident_type);
	} else if (az.wildcard && strcmp(ch.type, "dns-01") != 0) {
		/* RFC 8555 §7.1.3: wildcard names are validated by dns-01 only (never offered). */
		prob = problem_new("unauthorized", 403, "%s cannot validate the wildcard name *.%s", ch.type,
		                   az.ident_value);
	} else if (strcmp(ch.type, "http-01") == 0) {
		/* RFC 8738 §4: for an ip identifier the URL's host is the address itself. */
		valid = http01_validate(&p->set, p->resolver, az.ident_value, ch.token, keyauth, &rec,
		                        &prob) == 0;
	} else if (strcmp(ch.type, "dns-01") == 0) {
		if (is_ip) /* RFC 8738 §7: dns-01 is not for ip identifiers (never offered) */
			prob = problem_new("unauthorized", 403, "dns-01 cannot validate the ip identifier %s",
			                   az.ident_value);
		else
			valid = dns01_validate(p->resolver, az.ident_value, keyauth, &rec, &prob) == 0;
	} else if (strcmp(ch.type, "tls-alpn-01") == 0) {
		valid = tlsalpn01_validate(&p->set, p->resolver, az.ident_type, az.ident_value, keyauth, &rec,
		                           &prob) == 0;
	} else {
		prob = problem_new("serverInternal", 500, "challenge type %s is not supported", ch.type);
	}
	if (valid && !is_ip) {
		/* RFC 8659 §3: CAA is checked when the name is validated (and again at finalize if
		 * that is older than 8 hours). RFC 8738 defines no CAA for ip identifiers. */
		char acct_uri[700];
		snprintf(acct_uri, sizeof acct_uri, "%s/acme/acct/%s", p->cfg->base_url, acct.id);
		const char *const *ids = (const char *const *)p->cfg->caa_identities;
		int caa_rc = caa ? caa_check_finish(caa, ids, p->cfg->ncaa_identities, acct_uri, ch.type, &prob)
		                 : caa_check_name(p->resolver, az.ident_value, az.wildcard, ids,
		                                  p->cfg->ncaa_identities, acct_uri, ch.type, &prob);
		caa = NULL;
		if (caa_rc != 1) {
			valid = 0;
			if (!prob)
				prob = problem_new("caa", 403, "CAA records for %s forbid issuance", az.ident_value);
		}
	}
finish:
	caa_check_cancel(caa); /* the challenge failed: its CAA lookups are not needed */
	if (!valid && !prob)
		prob = problem_new("serverInternal", 500, "validation failed without a reason");
	finish(w, id, valid, valid ? NULL : prob, rec);
out:
	problem_free(prob);
	json_decref(rec);
	store_challenge_clear(&ch);
	store_authz_clear(&az);
	store_account_clear(&acct);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct va_pool *p = w->pool;
	pthread_setname_np(pthread_self(), "cobbled-va");
	char id[STORE_ID_MAX];
	time_t next_sweep = time(NULL) + SWEEP_SECONDS;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->stopping && p->count == 0 && !p->tasks && time(NULL) < next_sweep) {
			struct timespec until = {.tv_sec = next_sweep};
			pthread_cond_timedwait(&p->cv, &p->mu, &until);
		}
		if (!p->stopping && p->tasks) {
			struct va_task *t = p->tasks;
			p->tasks = t->next;
			if (!p->tasks)
				p->tasks_tail = &p->tasks;
			p->ntasks--;
			pthread_mutex_unlock(&p->mu);
			t->run(t->arg, w->store, p->resolver);
			free(t);
			continue;
		}
		if (!p->stopping && p->count == 0) {
			/* Idle: take over one orphaned challenge, if any (its lease ran out). */
			pthread_mutex_unlock(&p->mu);
			next_sweep = time(NULL) + SWEEP_SECONDS;
			if (claim(w, NULL, id) == STORE_OK) {
				log_info("validation: took over challenge %s (its lease had run out)", id);
				validate(w, id, (int64_t)time(NULL));
			}
			continue;
		}
		if (p->stopping) {
			/* Queued work is abandoned: those challenges stay processing and are requeued at
			 * the next start. */
			pthread_mutex_unlock(&p->mu);
			break;
		}
		memcpy(id, p->queue[p->head], STORE_ID_MAX);
		int64_t leased_at = p->leased_at[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		pthread_mutex_unlock(&p->mu);
		validate(w, id, leased_at);
	}
	return NULL;
}

int va_pool_start(const struct va_settings *set, struct resolver *r, const struct config *cfg,
                  const char *store_spec, int nworkers, struct va_pool **out, char *err,
                  size_t errlen)
{
	struct va_pool *p = calloc(1, sizeof *p);
	char (*ids)[STORE_ID_MAX] = NULL;
	size_t nids = 0;
	*out = NULL;
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (nworkers < 1 || nworkers > POOL_MAX_WORKERS) {
		snprintf(err, errlen, "validation workers: %d is not in 1..%d", nworkers, POOL_MAX_WORKERS);
		free(p);
		return -1;
	}
	p->set = *set;
	p->resolver = r;
	p->cfg = cfg;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tasks_tail = &p->tasks;
	p->nworkers = nworkers;
	p->workers = calloc((size_t)nworkers, sizeof *p->workers);
	if (!p->workers)
		goto nomem;
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	/* One owner for the pool: the request that starts a challenge leases it to the pool
	 * (va_pool_start_challenge) and any of its workers validates it. */
	snprintf(p->owner, sizeof p->owner, "%s:%ld", host, (long)getpid());
	for (int i = 0; i < nworkers; i++) {
		p->workers[i].pool = p;
		if (store_open(store_spec, &p->workers[i].store, err, errlen) != STORE_OK)
			goto fail;
	}

	/* Challenges a previous run left in processing are validated again. */
	if (store_challenge_list_processing(p->workers[0].store, &ids, &nids) != STORE_OK) {
		snprintf(err, errlen, "could not list challenges left in processing");
		goto fail;
	}
	p->cap = nids > POOL_QUEUE_CAP ? nids : POOL_QUEUE_CAP;
	p->queue = calloc(p->cap, sizeof *p->queue);
	p->leased_at = calloc(p->cap, sizeof *p->leased_at);
	if (!p->queue || !p->leased_at)
		goto nomem;
	for (size_t i = 0; i < nids; i++)
		enqueue_locked(p, ids[i], 0);
	if (nids)
		log_info("validation: requeued %zu challenge(s) left in processing", nids);
	free(ids);
	ids = NULL;

	for (int i = 0; i < nworkers; i++) {
		int rc = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
		if (rc != 0) {
			snprintf(err, errlen, "validation worker thread: %s", strerror(rc));
			goto fail;
		}
		p->workers[i].started = 1;
	}
	*out = p;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(ids);
	va_pool_stop(p);
	return -1;
}

int va_pool_submit(struct va_pool *p, const char *chall_id)
{
	if (!p || !chall_id || strlen(chall_id) >= STORE_ID_MAX)
		return -1;
	pthread_mutex_lock(&p->mu);
	int rc = p->stopping ? -1 : enqueue_locked(p, chall_id, 0);
	pthread_mutex_unlock(&p->mu);
	if (rc != 0)
		log_warn("validation: queue full or stopping; challenge %s not queued", chall_id);
	return rc;
}

int va_pool_start_challenge(struct va_pool *p, struct store *s, const char *chall_id)
{
	if (!p)
		return store_challenge_start(s, chall_id);
	int64_t now = (int64_t)time(NULL);
	int rc = store_challenge_start_leased(s, chall_id, p->owner, now, lease_seconds(p));
	if (rc != STORE_OK || strlen(chall_id) >= STORE_ID_MAX)
		return rc;
	pthread_mutex_lock(&p->mu);
	int q = p->stopping ? -1 : enqueue_locked(p, chall_id, now);
	pthread_mutex_unlock(&p->mu);
	if (q != 0)
		log_warn("validation: queue full or stopping; challenge %s waits for its lease to run out "
		         "(then any worker takes it over)", chall_id);
	return rc;
}

int va_pool_submit_task(struct va_pool *p, void (*run)(void *arg, struct store *s, struct resolver *r),
                        void (*drop)(void *arg), void *arg)
{
	struct va_task *t = p ? calloc(1, sizeof *t) : NULL;
	if (!t)
		return -1;
	t->run = run;
	t->drop = drop;
	t->arg = arg;
	pthread_mutex_lock(&p->mu);
	int ok = !p->stopping && p->ntasks < POOL_QUEUE_CAP;
	if (ok) {
		*p->tasks_tail = t;
		p->tasks_tail = &t->next;
		p->ntasks++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	if (!ok)
		free(t);
	return ok ? 0 : -1;
}

void va_pool_stop(struct va_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nworkers && p->workers; i++)
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
	if (p->count)
		log_info("validation: %zu queued challenge(s) left for the next start", p->count);
	while (p->tasks) { /* no worker takes them any more */
		struct va_task *t = p->tasks;
		p->tasks = t->next;
		t->drop(t->arg);
		free(t);
	}
	for (int i = 0; i < p->nworkers && p->workers; i++)
		store_close(p->workers[i].store);
	free(p->workers);
	free(p->queue);
	free(p->leased_at);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
