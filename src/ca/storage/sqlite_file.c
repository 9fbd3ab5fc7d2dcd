/* The per database file state of the SQLite backend (sqlite_file.h): the registry of open
 * files, the shared connection's mutex and its last close, the named locks, the in-memory
 * redeemed-nonce window, the group commit of the WAL (wal_sync_barrier) and the checkpoints,
 * run by a thread of the file's own on a connection of their own. sqlite.c (with
 * sqlite_query.c, sqlite_orders.c and sqlite_certs.c) keeps the statements, the migrations and
 * the store operations, and calls in here around each store call (sqf_enter/sqf_leave). */
#include "sqlite_file.h"
#include "deadline.h"
#include "log.h"
#include "store.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* WAL size (pages) that asks for a checkpoint. SQLite's default is 1000; with 4000 (16 MiB
 * at 4 KiB pages) a page written by many commits in a row (index interior pages, a table's
 * last leaf) is copied into the database once per checkpoint instead of four times. Issue 7,
 * bench/run.sh N=1500 W=32, two runs each: pread 9.2 -> 2.7 and pwrite 81 -> 75 per
 * certificate, fdatasync 2.37 -> 2.01, 272 -> 365 certificates/s. */
#define SQ_CHECKPOINT_PAGES 4000
/* The checkpoint thread copies beside new commits, and SQLite rewinds the WAL only once a
 * checkpoint copied all of it: under a steady stream of commits it may never catch up (in
 * test_wal_bounded the WAL reached 103 MB). At this size the committing call copies the rest
 * itself while it holds the connection, so nothing new is written meanwhile. */
#define SQ_WAL_HARD_PAGES (3 * SQ_CHECKPOINT_PAGES)

/* ---- the registry: one struct sq_file per database file, never freed ---- */

static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sq_file *files;

/* The file at path, made on first use; NULL when out of memory. */
static struct sq_file *file_for(const char *path)
{
	struct sq_file *ns = NULL;

	pthread_mutex_lock(&files_mu);
	for (ns = files; ns; ns = ns->next)
		if (strcmp(ns->path, path) == 0)
			goto out;
	ns = calloc(1, sizeof *ns);
	if (!ns)
		goto out;
	ns->path = strdup(path);
	ns->redeemed = calloc(STORE_NONCE_WINDOW / 64, sizeof *ns->redeemed);
	ns->accounts = acctcache_new();
	if (!ns->path || !ns->redeemed || !ns->accounts || pthread_mutex_init(&ns->mu, NULL) != 0 ||
	    pthread_mutex_init(&ns->conn_mu, NULL) != 0 || pthread_mutex_init(&ns->ckpt_mu, NULL) != 0 ||
	    pthread_mutex_init(&ns->sync_mu, NULL) != 0 || pthread_mutex_init(&ns->ckq_mu, NULL) != 0 ||
	    pthread_cond_init(&ns->sync_cv, NULL) != 0 || pthread_cond_init(&ns->ckq_cv, NULL) != 0) {
		free(ns->path);
		free(ns->redeemed);
		acctcache_free(ns->accounts);
		free(ns);
		ns = NULL;
		goto out;
	}
	ns->wal_fd = -1;
	ns->hard_next = SQ_WAL_HARD_PAGES;
	ns->next = files;
	files = ns;
out:
	pthread_mutex_unlock(&files_mu);
	return ns;
}

/* ---- named locks (store_lock_try): one instance owns a SQLite file, so a process-wide
 * table keyed by the file (its struct sq_file) and the name is enough. ---- */

struct sq_lock {
	struct sq_lock *next;
	const struct sq_file *db;
	const struct store *owner;
	char *name;
};

static pthread_mutex_t locks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sq_lock *locks;

int sqf_lock_try(const struct sq_file *db, const struct store *s, const char *name)
{
	int rc = STORE_OK;
	pthread_mutex_lock(&locks_mu);
	for (struct sq_lock *l = locks; l; l = l->next)
		if (l->db == db && strcmp(l->name, name) == 0) {
			rc = STORE_CONFLICT;
			goto out;
		}
	struct sq_lock *l = calloc(1, sizeof *l);
	if (!l || !(l->name = strdup(name))) {
		free(l);
		log_error("store: sqlite: out of memory taking lock %s", name);
		rc = STORE_ERR;
		goto out;
	}
	l->db = db;
	l->owner = s;
	l->next = locks;
	locks = l;
out:
	pthread_mutex_unlock(&locks_mu);
	return rc;
}

/* Releases name (or, with name NULL, every lock s holds). */
int sqf_lock_drop(const struct store *s, const char *name)
{
	int rc = STORE_NOTFOUND;
	pthread_mutex_lock(&locks_mu);
	for (struct sq_lock **p = &locks; *p;) {
		struct sq_lock *l = *p;
		if (l->owner == s && (!name || strcmp(l->name, name) == 0)) {
			*p = l->next;
			free(l->name);
			free(l);
			rc = STORE_OK;
		} else {
			p = &l->next;
		}
	}
	pthread_mutex_unlock(&locks_mu);
	return rc;
}

/* ---- the redeemed-nonce window (design.md §4) ----
 * One instance owns a SQLite database and issues all of its nonces, numbered in issue order
 * (nonce.c), so the redeemed ones are one bit each in a window of the STORE_NONCE_WINDOW
 * newest sequence numbers seen, shared by every handle on the same file: 128 KiB however many
 * nonces are issued (issue 7: the hash set of ids it replaces held every id for the nonce's
 * hour, ~6 MiB per 100 000 and a hard cap of 500 000 after which every request failed).
 * A nonce older than the window is refused as too old; a client takes the fresh nonce that
 * came with the refusal (RFC 8555 §6.5) and tries again. The window lives as long as the
 * process: closing every handle must not make a redeemed nonce redeemable again. */

/* OK the first time seq is redeemed, CONFLICT after, NOTFOUND once it is older than the
 * window. Sequence numbers reach us only inside nonces whose MAC verified. */
int sqf_nonce_redeem(struct sq_file *ns, uint64_t seq)
{
	const uint64_t w = STORE_NONCE_WINDOW;
	int rc;
	if (seq == 0)
		return STORE_ERR;
	pthread_mutex_lock(&ns->mu);
	if (ns->top >= w && seq <= ns->top - w) {
		rc = STORE_NOTFOUND;
		goto out;
	}
	if (seq > ns->top) {
		/* Numbers entering the window were never redeemed: clear their bits (left over
		 * from the numbers a window ago). Each bit is cleared once per pass of the window. */
		if (seq - ns->top >= w) {
			memset(ns->redeemed, 0, w / 8);
		} else {
			for (uint64_t i = ns->top + 1; i <= seq; i++)
				ns->redeemed[(i % w) / 64] &= ~(UINT64_C(1) << (i % 64));
		}
		ns->top = seq;
	}
	uint64_t *word = &ns->redeemed[(seq % w) / 64], bit = UINT64_C(1) << (seq % 64);
	if (*word & bit) {
		rc = STORE_CONFLICT;
	} else {
		*word |= bit;
		rc = STORE_OK;
	}
out:
	pthread_mutex_unlock(&ns->mu);
	return rc;
}

/* ---- group commit (issue 7) ----
 * Connections run synchronous=NORMAL: a commit appends its frames to the WAL with write(2) and
 * returns without an fsync. A commit that promises durability (a serial, a certificate, a
 * revocation, an account) then waits here until the WAL is fdatasynced after its frames were
 * written. The WAL is append-only between checkpoints, so one fdatasync covers every commit
 * written before it started: concurrent committers share it instead of each paying its own
 * (the issue 7 profile had ~1.6 fsyncs per certificate, each made under the writer lock).
 * SQLite itself syncs the WAL before every checkpoint and the database after it, so frames a
 * checkpoint moved into the database stay durable when the WAL is later rewritten. */

/* fdatasync of PATH-wal through our own descriptor (fsync covers the inode's data, whichever
 * descriptor wrote it). A WAL that was deleted (the last connection closed) and made again is
 * reopened; a fresh one gets its directory synced once, as SQLite does for a new journal. */
static int wal_fdatasync(struct sq_file *ns)
{
	struct stat st;
	if (ns->wal_fd >= 0 && (fstat(ns->wal_fd, &st) != 0 || st.st_nlink == 0)) {
		close(ns->wal_fd);
		ns->wal_fd = -1;
	}
	if (ns->wal_fd < 0) {
		char wal[4096];
		if ((size_t)snprintf(wal, sizeof wal, "%s-wal", ns->path) >= sizeof wal)
			return -1;
		ns->wal_fd = open(wal, O_RDWR | O_CLOEXEC);
		if (ns->wal_fd < 0) {
			log_error("store: sqlite: open %s: %s", wal, strerror(errno));
			return -1;
		}
		char dir[4096];
		snprintf(dir, sizeof dir, "%s", ns->path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	if (fdatasync(ns->wal_fd) != 0) {
		log_error("store: sqlite: fdatasync of %s-wal: %s", ns->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns once every commit this thread finished before calling is on disk: 0, or -1 if the
 * sync failed (logged). */
static void syncer_wake(struct sq_file *ns);

/* With sync_mu held: 1 if durable commit t is on disk, 0 if a sync that covered it failed
 * (decisive even if a later one succeeded: after a failed writeback Linux may have dropped the
 * pages), -1 while it waits for a sync. */
static int sync_state(const struct sq_file *ns, uint64_t t)
{
	if (t <= ns->failed_gen)
		return 0;
	return t <= ns->synced_gen ? 1 : -1;
}

/* With sync_mu held and no sync running: syncs the WAL for every commit registered so far
 * (sync_mu released meanwhile), records the outcome and wakes everyone waiting on sync_cv (the
 * syncer too: waiters may be due); the outcome is read through sync_state. */
static void lead_sync(struct sq_file *ns)
{
	ns->syncing = 1;
	uint64_t upto = ns->commit_gen;
	pthread_mutex_unlock(&ns->sync_mu);
	int r = wal_fdatasync(ns);
	pthread_mutex_lock(&ns->sync_mu);
	ns->syncing = 0;
	if (r == 0 && upto > ns->synced_gen)
		ns->synced_gen = upto;
	if (r != 0 && upto > ns->failed_gen)
		ns->failed_gen = upto;
	pthread_cond_broadcast(&ns->sync_cv);
}

static int wal_sync_barrier(struct sq_file *ns)
{
	pthread_mutex_lock(&ns->sync_mu);
	uint64_t mine = ++ns->commit_gen;
	int st;
	while ((st = sync_state(ns, mine)) < 0) {
		if (ns->syncing)
			pthread_cond_wait(&ns->sync_cv, &ns->sync_mu);
		else
			lead_sync(ns); /* for every commit registered so far, ours included */
	}
	pthread_mutex_unlock(&ns->sync_mu);
	return st == 1 ? 0 : -1; /* 0: a sync that covered ours failed, whoever led it */
}

/* ---- deferred durable commits (store.h) ----
 * An event loop registers a waiter instead of waiting; the syncer thread leads a sync when
 * waiters need one and no store call is leading one, and runs the callbacks of the waiters a
 * sync settled (a sync led by a waiting store call settles them too: it wakes the syncer). A
 * waiter's commit failed if a sync that covered it failed, even if a later one succeeded:
 * after a failed fdatasync the kernel may have dropped the pages (Linux marks them clean). */

/* With sync_mu held: unlinks the waiters that are settled (or, with owner, every waiter of
 * owner) into a list of their own, each with its outcome in ok. */
static struct store_sync_waiter *take_settled(struct sq_file *ns, const struct store *owner)
{
	struct store_sync_waiter *out = NULL, **pp = &ns->waiters;
	while (*pp) {
		struct store_sync_waiter *w = *pp;
		int st = sync_state(ns, w->ticket);
		if (owner ? w->owner != owner : st < 0) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->ok = st == 1; /* a forgotten waiter's commit is not known on disk */
		w->next = out;
		out = w;
	}
	return out;
}

/* With sync_mu held, which it releases while the callbacks run. */
static void run_settled(struct sq_file *ns, struct store_sync_waiter *list)
{
	if (!list)
		return;
	ns->firing++;
	pthread_mutex_unlock(&ns->sync_mu);
	while (list) {
		struct store_sync_waiter *w = list;
		list = w->next; /* w may be freed by its callback */
		w->done(w->arg, w->ok);
	}
	pthread_mutex_lock(&ns->sync_mu);
	ns->firing--;
	pthread_cond_broadcast(&ns->sync_cv);
}

static void *syncer_main(void *arg)
{
	struct sq_file *ns = arg;
	pthread_setname_np(pthread_self(), "cobbled-sync");
	pthread_mutex_lock(&ns->sync_mu);
	for (;;) {
		struct store_sync_waiter *due = take_settled(ns, NULL);
		if (due) {
			run_settled(ns, due);
			continue;
		}
		if (ns->syncer_stop)
			break;
		if (!ns->waiters || ns->syncing) {
			pthread_cond_wait(&ns->sync_cv, &ns->sync_mu);
			continue;
		}
		lead_sync(ns); /* a failure reaches the waiters through failed_gen */
	}
	pthread_mutex_unlock(&ns->sync_mu);
	return NULL;
}

/* With sync_mu held. */
static void syncer_wake(struct sq_file *ns)
{
	if (!ns->syncer_on && !ns->syncer_stop)
		ns->syncer_on = pthread_create(&ns->syncer, NULL, syncer_main, ns) == 0;
	pthread_cond_broadcast(&ns->sync_cv);
}

void sqf_sync_notify(struct sq_file *f, struct store_sync_waiter *w)
{
	pthread_mutex_lock(&f->sync_mu);
	int st = sync_state(f, w->ticket);
	if (st >= 0) {
		pthread_mutex_unlock(&f->sync_mu);
		w->done(w->arg, st);
		return;
	}
	w->next = f->waiters;
	f->waiters = w;
	syncer_wake(f);
	int on = f->syncer_on;
	pthread_mutex_unlock(&f->sync_mu);
	if (!on) { /* no thread to sync for it: sync here, as a store call would have */
		(void)wal_sync_barrier(f);
		pthread_mutex_lock(&f->sync_mu);
		run_settled(f, take_settled(f, NULL));
		pthread_mutex_unlock(&f->sync_mu);
	}
}

void sqf_sync_forget(struct sq_file *f, const struct store *owner)
{
	pthread_mutex_lock(&f->sync_mu);
	run_settled(f, take_settled(f, owner));
	while (f->firing)
		pthread_cond_wait(&f->sync_cv, &f->sync_mu);
	pthread_mutex_unlock(&f->sync_mu);
}

static void syncer_stop(struct sq_file *f)
{
	pthread_mutex_lock(&f->sync_mu);
	int on = f->syncer_on;
	f->syncer_stop = 1;
	pthread_cond_broadcast(&f->sync_cv);
	pthread_mutex_unlock(&f->sync_mu);
	if (on)
		pthread_join(f->syncer, NULL);
	pthread_mutex_lock(&f->sync_mu);
	f->syncer_on = f->syncer_stop = 0;
	pthread_mutex_unlock(&f->sync_mu);
}

/* ---- checkpoints (issue 7) ---- */

/* After every commit on the file's connection (the WAL hook, with SQLite's write lock already
 * released): a WAL past SQ_CHECKPOINT_PAGES asks the file's checkpoint thread for a PASSIVE
 * checkpoint in sqf_leave. This replaces SQLite's auto-checkpoint (1000 pages, run by the
 * committing call). */
void sqf_wal_commit(struct sq_file *f, int pages)
{
	f->wal_pages = pages;
	if (pages >= SQ_CHECKPOINT_PAGES)
		f->need_checkpoint = 1;
	else
		f->hard_next = SQ_WAL_HARD_PAGES; /* rewound */
}

/* A PASSIVE checkpoint, one at a time: with wait 0 one that is already running is left the
 * work. */
static void checkpoint(struct sq_file *f, int wait)
{
	if (wait)
		pthread_mutex_lock(&f->ckpt_mu);
	else if (pthread_mutex_trylock(&f->ckpt_mu) != 0)
		return;
	if (!f->ckpt_db) {
		if (sqlite3_open_v2(f->path, &f->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
			log_error("store: sqlite: checkpoint connection to %s: %s", f->path,
			          f->ckpt_db ? sqlite3_errmsg(f->ckpt_db) : "out of memory");
			sqlite3_close(f->ckpt_db);
			f->ckpt_db = NULL;
		} else {
			sqlite3_busy_timeout(f->ckpt_db, SQF_BUSY_TIMEOUT_MS);
			/* A connection learns the file is in WAL mode only when it first reads it;
			 * until then a checkpoint on it does nothing at all (and the WAL grows
			 * without bound: ~40 MB/s under the issue 7 bench). */
			if (sqlite3_exec(f->ckpt_db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK)
				log_error("store: sqlite: checkpoint connection to %s: %s", f->path,
				          sqlite3_errmsg(f->ckpt_db));
		}
	}
	int nlog = 0, ndone = 0;
	if (f->ckpt_db &&
	    (sqlite3_wal_checkpoint_v2(f->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ndone) != SQLITE_OK ||
	     nlog < 0))
		log_warn("store: sqlite: checkpoint of %s did not run: %s", f->path, sqlite3_errmsg(f->ckpt_db));
	pthread_mutex_unlock(&f->ckpt_mu);
}

static void *checkpoint_main(void *arg)
{
	struct sq_file *f = arg;
	pthread_setname_np(pthread_self(), "cobbled-ckpt");
	pthread_mutex_lock(&f->ckq_mu);
	for (;;) {
		while (!f->ckpt_want && !f->ckpt_stop)
			pthread_cond_wait(&f->ckq_cv, &f->ckq_mu);
		if (f->ckpt_stop)
			break;
		f->ckpt_want = 0;
		pthread_mutex_unlock(&f->ckq_mu);
		checkpoint(f, 0);
		pthread_mutex_lock(&f->ckq_mu);
	}
	pthread_mutex_unlock(&f->ckq_mu);
	return NULL;
}

/* Issue 7: a checkpoint copies thousands of pages and fsyncs the database; run by the
 * committing call it held that request (and, on an event loop, every request of the loop) for
 * its length. If the thread cannot be started the caller runs it as before. */
static void checkpoint_request(struct sq_file *f)
{
	pthread_mutex_lock(&f->ckq_mu);
	if (!f->ckpt_thread_on && !f->ckpt_stop)
		f->ckpt_thread_on = pthread_create(&f->ckpt_thread, NULL, checkpoint_main, f) == 0;
	int on = f->ckpt_thread_on;
	if (on) {
		f->ckpt_want = 1;
		pthread_cond_signal(&f->ckq_cv);
	}
	pthread_mutex_unlock(&f->ckq_mu);
	if (!on)
		checkpoint(f, 0);
}

/* Before the last handle of the file closes (files_mu held, conn_mu not): the thread finishes
 * a checkpoint it is running and ends. */
static void checkpoint_thread_stop(struct sq_file *f)
{
	pthread_mutex_lock(&f->ckq_mu);
	int on = f->ckpt_thread_on;
	f->ckpt_stop = 1;
	pthread_cond_signal(&f->ckq_cv);
	pthread_mutex_unlock(&f->ckq_mu);
	if (on)
		pthread_join(f->ckpt_thread, NULL);
	pthread_mutex_lock(&f->ckq_mu);
	f->ckpt_thread_on = f->ckpt_want = f->ckpt_stop = 0;
	pthread_mutex_unlock(&f->ckq_mu);
}

/* ---- the connection, one store call at a time ---- */

void sqf_enter(struct sq_file *f, struct sqlite_store *cur)
{
	pthread_mutex_lock(&f->conn_mu);
	f->cur = cur;
}

int sqf_leave(struct sq_file *f, int sync, uint64_t *ticket, int rc)
{
	int ckpt = f->need_checkpoint;
	if (f->wal_pages >= f->hard_next) { /* SQ_WAL_HARD_PAGES */
		int pages = f->wal_pages;
		f->hard_next = f->wal_pages + SQ_CHECKPOINT_PAGES; /* a reader may pin the WAL */
		long long t0 = deadline_now_ms();
		checkpoint(f, 1);
		/* Every store call waited for this one: worth an operator's notice. */
		log_info("store: sqlite: WAL of %s at %d pages: checkpointed with writes held for %lld ms",
		         f->path, pages, deadline_now_ms() - t0);
		ckpt = 0;
	}
	f->need_checkpoint = 0;
	f->cur = NULL;
	pthread_mutex_unlock(&f->conn_mu);
	/* Committed, but not known to be on disk: the caller must not promise it is (a deferred
	 * one learns when it is through its ticket). */
	if (sync && ticket) {
		pthread_mutex_lock(&f->sync_mu);
		uint64_t mine = ++f->commit_gen;
		pthread_mutex_unlock(&f->sync_mu);
		if (mine > *ticket)
			*ticket = mine;
	} else if (sync && wal_sync_barrier(f) != 0 && rc == STORE_OK) {
		rc = STORE_ERR;
	}
	if (ckpt)
		checkpoint_request(f);
	return rc;
}

/* ---- handles joining and leaving the file ---- */

/* Closes a connection and its cached statements. */
static void close_db(sqlite3 *db, sqlite3_stmt **st, size_t nst)
{
	for (size_t i = 0; st && i < nst; i++)
		sqlite3_finalize(st[i]);
	free(st);
	if (db && sqlite3_close(db) != SQLITE_OK)
		log_error("store: sqlite: close: %s", sqlite3_errmsg(db));
}

struct sq_file *sqf_join(const char *path, sqlite3 *db, size_t nst, sqf_wal_hook *hook)
{
	struct sq_file *f = file_for(path);
	if (!f)
		return NULL;
	/* The first handle's connection becomes the file's; later handles close theirs (it
	 * served to migrate and to name the file) and share it. */
	pthread_mutex_lock(&files_mu);
	pthread_mutex_lock(&f->conn_mu);
	if (!f->db) {
		sqlite3_stmt **st = calloc(nst, sizeof *st);
		if (!st) {
			pthread_mutex_unlock(&f->conn_mu);
			pthread_mutex_unlock(&files_mu);
			return NULL;
		}
		sqlite3_wal_hook(db, hook, f);
		f->db = db;
		f->st = st;
		f->nst = nst;
	} else {
		close_db(db, NULL, 0);
	}
	f->users++;
	pthread_mutex_unlock(&f->conn_mu);
	pthread_mutex_unlock(&files_mu);
	return f;
}

void sqf_release(struct sq_file *f)
{
	pthread_mutex_lock(&files_mu); /* no handle joins the file meanwhile */
	pthread_mutex_lock(&f->conn_mu);
	if (f->users == 1) {
		/* The checkpoint thread may be waiting for conn_mu: stop it without holding it. */
		pthread_mutex_unlock(&f->conn_mu);
		checkpoint_thread_stop(f);
		syncer_stop(f); /* every handle forgot its waiters (sq_close) */
		pthread_mutex_lock(&f->conn_mu);
	}
	if (--f->users == 0) {
		close_db(f->db, f->st, f->nst);
		f->db = NULL;
		f->st = NULL;
		/* Another process may change the file before a handle opens it again. */
		acctcache_clear(f->accounts);
		pthread_mutex_lock(&f->ckpt_mu);
		if (f->ckpt_db)
			sqlite3_close(f->ckpt_db);
		f->ckpt_db = NULL;
		pthread_mutex_unlock(&f->ckpt_mu);
	}
	pthread_mutex_unlock(&f->conn_mu);
	pthread_mutex_unlock(&files_mu);
}
