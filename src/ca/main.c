/* cobbled: the CA server. Parses flags and config, creates or loads the CA in the data
 * directory, opens storage, starts validation workers and the HTTPS front end. */
#include "api/api.h"
#include "api/pubserver.h"
#include "api/replywait.h"
#include "config.h"
#include "fileio.h"
#include "issuance/ca.h"
#include "log.h"
#include "storage/store.h"
#include "validation/pool.h"
#include "validation/resolver.h"
#include "issuance/serials.h"
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("received signal %d, shutting down", (int)sig);
	event_base_loopexit(arg, NULL);
}

static int check_data_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "data dir %s: %s", dir, strerror(errno));
			return -1;
		}
		if (file_mkdirs(dir, 0700) != 0) {
			snprintf(err, errlen, "cannot create data dir %s: %s", dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data dir %s is not a directory", dir);
		return -1;
	}
	if (access(dir, R_OK | W_OK | X_OK) != 0) {
		snprintf(err, errlen, "data dir %s is not readable and writable: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* One cobbled serves a SQLite database: its nonce window and its copies of account rows
 * (storage/acctcache.c) live in the process, so a second server on the same file would accept
 * nonces the first redeemed and miss the first's account changes. An exclusive flock on
 * PATH.lock (not on the database itself: closing any descriptor of a file drops the POSIX
 * locks SQLite holds on it) held until exit, released by the kernel if the process dies.
 * `cobbled migrate` does not take it. path: the database file. The descriptor, or -1 with the
 * reason in err. */
static int lock_sqlite(const char *path, char *err, size_t errlen)
{
	char lock[PATH_MAX];
	if ((size_t)snprintf(lock, sizeof lock, "%s.lock", path) >= sizeof lock) {
		snprintf(err, errlen, "database path too long: %.200s", path);
		return -1;
	}
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %.300s: %s", lock, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			snprintf(err, errlen,
			         "another cobbled serves %.200s (%.200s.lock is locked); one process serves a SQLite database",
			         path, path);
		else
			snprintf(err, errlen, "cannot lock %.300s: %s", lock, strerror(e));
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct api a;
	struct ca *ca = NULL;
	struct resolver *res = NULL;
	struct va_pool *pool = NULL;
	struct event *sigs[2] = {NULL, NULL};
	struct pubserver *pub = NULL;
	char err[512] = "";
	int rc = 1;
	int lock_fd = -1;

	memset(&a, 0, sizeof a);
	signal(SIGPIPE, SIG_IGN);
	/* glibc gives each thread that allocates its own 64 MiB arena, and each keeps its freed
	 * memory resident: with two event loops, the validation workers and the resolver threads
	 * that was ~4 MiB of the peak RSS under load (issue 7). Four arenas: with two, threads
	 * sharing one waited on its lock ~6 times per certificate (futex calls per certificate
	 * 17.3 -> 10.9 with four, peak RSS 17.9 -> 18.3 MiB at W=32). A MALLOC_ARENA_MAX in the
	 * environment still wins. */
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 4);
	config_defaults(&cfg);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--verbose") == 0)
			log_set_level(LOG_LVL_DEBUG);
	/* `cobbled migrate [flags]`: bring the database schema up to date and exit (issue 6). */
	int migrate_only = argc > 1 && strcmp(argv[1], "migrate") == 0;
	if (migrate_only) {
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	int r = config_load(&cfg, argc, argv, err, sizeof err);
	if (r == 1) {
		config_free(&cfg);
		return 0;
	}
	if (r != 0) {
		fprintf(stderr, "cobbled: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	if (check_data_dir(cfg.data_dir, err, sizeof err))
		goto out;
	if (migrate_only) {
		if (store_migrate(cfg.database, err, sizeof err) != STORE_OK)
			goto out;
		printf("cobbled: database schema is up to date\n");
		rc = 0;
		goto out;
	}

	/* CRLs are served on the public plain-HTTP listener when there is one (issue 5), else
	 * on the ACME listener. */
	char crl_url[600], ocsp_url[600] = "";
	if (cfg.public_host) {
		int v6 = strchr(cfg.public_host, ':') != NULL;
		snprintf(crl_url, sizeof crl_url, "http://%s%s%s:%d/crl", v6 ? "[" : "", cfg.public_host, v6 ? "]" : "",
		         cfg.public_port);
		/* The OCSP responder lives on the public listener too. */
		if (cfg.ocsp)
			snprintf(ocsp_url, sizeof ocsp_url, "http://%s%s%s:%d/ocsp", v6 ? "[" : "", cfg.public_host,
			         v6 ? "]" : "", cfg.public_port);
	} else {
		snprintf(crl_url, sizeof crl_url, "%s/crl", cfg.base_url);
	}
	struct ca_config cc = {
	    .data_dir = cfg.data_dir,
	    .intermediate_key = cfg.intermediate_key,
	    .base_url = cfg.base_url,
	    .crl_url = crl_url,
	    .alt_chain_file = cfg.alt_chain_file,
	    .validity_days = cfg.validity_days,
	    .crl_shards = cfg.crl_shards,
	    .ocsp_url = ocsp_url[0] ? ocsp_url : NULL,
	};
	if (ca_open(&cc, &ca, err, sizeof err))
		goto out;
	const char *sqlite_path = store_sqlite_path(cfg.database);
	if (sqlite_path && (lock_fd = lock_sqlite(sqlite_path, err, sizeof err)) < 0)
		goto out;
	if (store_open(cfg.database, &a.store, err, sizeof err) != STORE_OK)
		goto out;
	char keyfile[PATH_MAX];
	snprintf(keyfile, sizeof keyfile, "%s/nonce.key", cfg.data_dir);
	a.nonces = nonce_ctx_new(keyfile, err, sizeof err);
	if (!a.nonces)
		goto out;
	/* design.md §4: SQLite keeps the redeemed set in memory, so a nonce from before this start
	 * must not verify (it could otherwise be replayed once). */
	if (sqlite_path && nonce_ctx_rekey_for_process(a.nonces)) {
		snprintf(err, sizeof err, "cannot derive the nonce key");
		goto out;
	}
	if (resolver_new(cfg.dns_resolver, cfg.validation_timeout_ms, &res, err, sizeof err))
		goto out;
	for (size_t i = 0; i < cfg.ndns_trust_anchors; i++)
		if (resolver_add_trust_anchor(res, cfg.dns_trust_anchors[i], err, sizeof err))
			goto out;
	struct va_settings vs = {
	    .http01_port = cfg.http01_port,
	    .tlsalpn01_port = cfg.tlsalpn01_port,
	    .lab = cfg.lab,
	    .timeout_ms = cfg.validation_timeout_ms,
	};
	va_pool_set_done_hook(replywait_wake); /* a challenge POST waiting for its validation */
	if (va_pool_start(&vs, res, &cfg, cfg.database, cfg.workers, &pool, err, sizeof err))
		goto out;

	evthread_use_pthreads();
	a.cfg = &cfg;
	a.ca = ca;
	a.serials = serials_new(0);
	if (!a.serials) {
		snprintf(err, sizeof err, "out of memory");
		goto out;
	}
	a.pool = pool;
	a.resolver = res;
	a.base = server_base_new();
	if (!a.base) {
		snprintf(err, sizeof err, "cannot create the event loop");
		goto out;
	}
	if (server_start(&a, err, sizeof err))
		goto out;
	if (cfg.public_host && !(pub = pubserver_start(&a, err, sizeof err)))
		goto out;
	sigs[0] = evsignal_new(a.base, SIGTERM, on_signal, a.base);
	sigs[1] = evsignal_new(a.base, SIGINT, on_signal, a.base);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);

	char root[PATH_MAX];
	snprintf(root, sizeof root, "%s/root.pem", cfg.data_dir);
	printf("cobbled %s: directory %s/directory\n", COBBLE_VERSION, cfg.base_url);
	printf("cobbled: clients must trust %s\n", root);
	if (cfg.lab)
		printf("cobbled: lab mode: validation may connect to loopback and private addresses\n");
	fflush(stdout);
	event_base_dispatch(a.base);
	rc = 0;
out:
	if (rc && err[0])
		fprintf(stderr, "cobbled: %s\n", err);
	for (int i = 0; i < 2; i++)
		if (sigs[i])
			event_free(sigs[i]);
	pubserver_stop(pub);
	server_stop(&a);
	if (pool)
		va_pool_stop(pool);
	resolver_free(res);
	/* The store before the loop's base: closing it settles the replies still waiting for a
	 * WAL sync (replywait.h), whose events live on the base. */
	if (a.store)
		store_close(a.store);
	replywait_free_all(&a);
	if (a.base)
		event_base_free(a.base);
	nonce_ctx_free(a.nonces);
	serials_free(a.serials);
	ca_free(ca);
	config_free(&cfg);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
