/* Per database file state of the SQLite backend (sqlite.c), for the life of the process: the
 * registry of open files, the shared connection and its mutex, the redeemed-nonce window, the
 * group commit of the WAL, the checkpoint thread and the named locks. Private to
 * src/ca/storage. */
#ifndef COBBLE_SQLITE_FILE_H
#define COBBLE_SQLITE_FILE_H
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "acctcache.h"
#include "store.h"

/* Another process (cobbled migrate, sqlite3) may hold the file; wait this long for it. */
#define SQF_BUSY_TIMEOUT_MS 5000

struct sqlite_store; /* the backend's handle (sqlite_query.h); not looked inside here */
struct store;        /* the same handle as store.c sees it */

/* Per database file, for the life of the process: the shared connection, the nonce window and
 * the group commit.
 * One connection (issue 7): with one per handle (two event loops, the validation workers),
 * every commit by one invalidated the page caches of all the others, so each transaction read
 * its pages again (~75 pread calls per certificate) and took its locks with fcntl; writers
 * also queued for SQLite's single write lock anyway. Handles now take conn_mu for one store
 * call each (sqf_enter/sqf_leave, through sqlite.c's enter/leave, called by store.c), so the
 * cache stays warm and SQLite's locks are only ever contended by other processes. The group
 * commit's fdatasync and the checkpoint run after conn_mu is released.
 * To add state: a field in the group whose mutex guards it (or a group of its own, with its
 * mutex), set up in sqlite_file.c's file_for; a file is never freed, so state that must end
 * with the connection is cleared in sqf_release, where the last handle closes it. */
struct sq_file {
	struct sq_file *next; /* the registry (files in sqlite_file.c), under its files_mu */
	char *path;           /* the database file, as SQLite names it; never changes */
	/* The redeemed-nonce window (sqf_nonce_redeem), under mu. */
	pthread_mutex_t mu;
	uint64_t *redeemed; /* STORE_NONCE_WINDOW bits: bit seq % window set once seq is redeemed */
	uint64_t top;       /* the highest sequence number seen; the window is (top - window, top] */
	/* The connection; all below under conn_mu (db and st are set up under files_mu). */
	pthread_mutex_t conn_mu;
	sqlite3 *db;                /* NULL while no handle is open */
	sqlite3_stmt **st;          /* prepared on first use, kept until the connection closes */
	size_t nst;                 /* entries of st (ST__COUNT, sqlite_query.h) */
	int users;                  /* open handles */
	struct sqlite_store *cur;   /* the handle inside a store call */
	int need_checkpoint;        /* the WAL passed the checkpoint threshold */
	int wal_pages;              /* the WAL's size after the last commit */
	int hard_next;              /* checkpoint while holding conn_mu at this WAL size */
	/* Account rows (issue 7), read without conn_mu through the cache's own mutex; put and
	 * forgotten only under conn_mu by the store call that read or changed the row. */
	struct acctcache *accounts;
	/* Checkpoints on a connection of their own, outside conn_mu. */
	pthread_mutex_t ckpt_mu;
	sqlite3 *ckpt_db;
	/* ... run by a thread of their own (started at the first request), so no request
	 * waits for one; everything below under ckq_mu. */
	pthread_mutex_t ckq_mu;
	pthread_cond_t ckq_cv;
	pthread_t ckpt_thread;
	int ckpt_thread_on;
	int ckpt_want; /* a checkpoint was asked for since the thread last started one */
	int ckpt_stop;
	/* Group commit of the WAL (wal_sync_barrier): everything below under sync_mu. */
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	int wal_fd;          /* our own descriptor of PATH-wal; -1 until first needed */
	int syncing;         /* a thread is in fdatasync */
	uint64_t commit_gen; /* durable commits asked for so far */
	uint64_t synced_gen; /* every one up to here is on disk */
	uint64_t failed_gen; /* a sync of every one up to here failed (waiters get ok 0) */
	/* Deferred durable commits (store.h, sqf_sync_notify): their waiters, the callbacks
	 * being run outside sync_mu, and the thread that syncs for them when no store call
	 * is waiting to lead a sync (started at the first waiter). */
	struct store_sync_waiter *waiters;
	int firing;
	pthread_t syncer;
	int syncer_on;
	int syncer_stop;
};

/* A WAL hook as sqlite3_wal_hook takes it; its argument is the struct sq_file. */
typedef int sqf_wal_hook(void *f, sqlite3 *db, const char *name, int pages);

/* Joins a new handle to the file at path (created in the registry on first use). db is the
 * handle's own connection, just migrated: the first handle's becomes the file's, with a cache
 * of nst statements and hook as its WAL hook; later handles' db is closed (it served to migrate
 * and to name the file) and they share the file's. Afterwards f->db and f->st stay put until
 * the handle calls sqf_release. NULL when out of memory (db is then still the caller's). */
struct sq_file *sqf_join(const char *path, sqlite3 *db, size_t nst, sqf_wal_hook *hook);

/* A handle leaves its file; the last one closes the shared connection (the file's nonce window
 * and group commit state stay for the life of the process). */
void sqf_release(struct sq_file *f);

/* One store call at a time on the shared connection: sqf_enter takes conn_mu for the handle
 * cur. sqf_leave runs a checkpoint due at the hard limit while still holding it, releases it,
 * then waits for the WAL sync if sync (the call made a durable commit) and asks the checkpoint
 * thread for a checkpoint due. Returns rc, or STORE_ERR if the sync failed. */
void sqf_enter(struct sq_file *f, struct sqlite_store *cur);
int sqf_leave(struct sq_file *f, int sync, uint64_t *ticket, int rc);

/* Deferred durable commits (store.h): sqf_leave with a ticket pointer does not wait for the
 * sync of a durable commit but raises *ticket to the commit's number; sqf_sync_notify calls
 * w->done once that number is on disk (or its sync failed); sqf_sync_forget calls done(arg, 0)
 * for every waiter of owner still waiting, and returns once none of owner's is running. */
void sqf_sync_notify(struct sq_file *f, struct store_sync_waiter *w);
void sqf_sync_forget(struct sq_file *f, const struct store *owner);

/* The WAL hook's page counting, after every commit on the file's connection (conn_mu held):
 * pages is the WAL's size. */
void sqf_wal_commit(struct sq_file *f, int pages);

/* Named locks (store_lock_try) of the file f, held by the handle owner: OK, CONFLICT if the
 * file's name is held already, ERR when out of memory. */
int sqf_lock_try(const struct sq_file *f, const struct store *owner, const char *name);
/* Releases name (or, with name NULL, every lock owner holds): OK, or NOTFOUND if none. */
int sqf_lock_drop(const struct store *owner, const char *name);

/* OK the first time seq is redeemed, CONFLICT after, NOTFOUND once it is older than the
 * window. Sequence numbers reach us only inside nonces whose MAC verified. */
int sqf_nonce_redeem(struct sq_file *f, uint64_t seq);

#endif
