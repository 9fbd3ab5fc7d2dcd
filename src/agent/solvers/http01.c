/* http-01 (RFC 8555 §8.3): the key authorization at
 * http://<name>/.well-known/acme-challenge/<token>, from a webroot or our own listener. */
#include "agent/solvers/listener.h"
#include "agent/solvers/solver.h"
#include "fileio.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WELL_KNOWN "/.well-known/acme-challenge/"

/* A token is base64url (RFC 8555 §8.1); anything else would be a path-traversal attempt. */
static int token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 256)
		return 0;
	return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* ---- webroot ---- */
struct webroot {
	char *dir; /* <webroot>/.well-known/acme-challenge */
	int made_dir;
};

static int wr_init(void **state, const struct solver_cfg *cfg, char *err, size_t errlen)
{
	struct stat st;
	errno = 0;
	if (!cfg->webroot || stat(cfg->webroot, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "webroot %s: %s", cfg->webroot ? cfg->webroot : "(none)",
		         errno ? strerror(errno) : "not a directory");
		return -1;
	}
	if (access(cfg->webroot, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "webroot %s is not writable: %s", cfg->webroot, strerror(errno));
		return -1;
	}
	struct webroot *w = calloc(1, sizeof *w);
	if (!w || asprintf(&w->dir, "%s%s", cfg->webroot, WELL_KNOWN) < 0) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->dir[strlen(w->dir) - 1] = '\0';
	*state = w;
	return 0;
}

static int wr_present(void *state, const char *identifier, const char *token, const char *keyauth, char *err,
                      size_t errlen)
{
	struct webroot *w = state;
	char *path = NULL;
	(void)identifier;
	if (!token_ok(token)) {
		snprintf(err, errlen, "server sent a challenge token that is not base64url");
		return -1;
	}
	if (access(w->dir, F_OK) != 0) {
		if (file_mkdirs(w->dir, 0755) != 0) {
			snprintf(err, errlen, "cannot create %s: %s", w->dir, strerror(errno));
			return -1;
		}
		w->made_dir = 1;
	}
	if (asprintf(&path, "%s/%s", w->dir, token) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = file_write_atomic(path, keyauth, strlen(keyauth), 0644);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	free(path);
	return rc;
}

static void wr_cleanup(void *state, const char *identifier, const char *token, const char *keyauth)
{
	struct webroot *w = state;
	char *path = NULL;
	(void)identifier;
	(void)keyauth;
	if (!token_ok(token) || asprintf(&path, "%s/%s", w->dir, token) < 0)
		return;
	unlink(path);
	free(path);
}

static void wr_fini(void *state)
{
	struct webroot *w = state;
	if (!w)
		return;
	if (w->made_dir) {
		/* Only what we created, and only if empty. */
		rmdir(w->dir);
		char *wk = strdup(w->dir);
		char *slash = wk ? strrchr(wk, '/') : NULL;
		if (slash) {
			*slash = '\0';
			rmdir(wk);
		}
		free(wk);
	}
	free(w->dir);
	free(w);
}

const struct solver_impl solver_http01_webroot = {wr_init, wr_present, wr_cleanup, wr_fini, NULL};

/* ---- standalone ---- */
struct entry {
	char *token, *keyauth;
	int seen; /* the proof was served (to the CA, presumably) */
	struct entry *next;
};

struct standalone {
	int port;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled when an entry is seen */
	struct entry *entries;
	struct listener *l;
};

static void serve(int fd, void *ctx)
{
	struct standalone *s = ctx;
	char req[4096], resp[1024];
	size_t len = 0;
	while (len < sizeof req - 1) {
		ssize_t n = read(fd, req + len, sizeof req - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[len] = '\0';
	const char *body = NULL;
	char token[300] = "";
	if (sscanf(req, "GET " WELL_KNOWN "%299[A-Za-z0-9_-] HTTP/1.", token) == 1) {
		pthread_mutex_lock(&s->mu);
		for (struct entry *e = s->entries; e; e = e->next)
			if (strcmp(e->token, token) == 0)
				body = e->keyauth;
		int n = body ? snprintf(resp, sizeof resp,
		                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		                        "Connection: close\r\n\r\n%s",
		                        strlen(body), body)
		             : -1;
		pthread_mutex_unlock(&s->mu);
		if (n > 0 && (size_t)n < sizeof resp) {
			ssize_t w = write(fd, resp, (size_t)n);
			if (w == n) {
				pthread_mutex_lock(&s->mu);
				for (struct entry *e = s->entries; e; e = e->next)
					if (strcmp(e->token, token) == 0)
						e->seen = 1;
				pthread_cond_broadcast(&s->cv);
				pthread_mutex_unlock(&s->mu);
			}
			return;
		}
	}
	static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	ssize_t w = write(fd, nf, sizeof nf - 1);
	(void)w;
}

static int sa_init(void **state, const struct solver_cfg *cfg, char *err, size_t errlen)
{
	struct standalone *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->port = cfg->port ? cfg->port : 80;
	if (listener_seen_cond_init(&s->cv) != 0) {
		free(s);
		snprintf(err, errlen, "cannot set up the listener's condition variable");
		return -1;
	}
	pthread_mutex_init(&s->mu, NULL);
	*state = s;
	return 0;
}

static const int *sa_find_seen(void *state, const char *token)
{
	struct standalone *s = state;
	for (struct entry *e = s->entries; e; e = e->next)
		if (strcmp(e->token, token) == 0)
			return &e->seen;
	return NULL;
}

static int sa_wait_seen(void *state, const char *token, int timeout_ms)
{
	struct standalone *s = state;
	return listener_seen_wait(&s->mu, &s->cv, sa_find_seen, s, token, timeout_ms);
}

static int sa_present(void *state, const char *identifier, const char *token, const char *keyauth, char *err,
                      size_t errlen)
{
	struct standalone *s = state;
	(void)identifier;
	if (!token_ok(token)) {
		snprintf(err, errlen, "server sent a challenge token that is not base64url");
		return -1;
	}
	if (!s->l) {
		s->l = listener_start(s->port, serve, s, err, errlen);
		if (!s->l)
			return -1;
	}
	struct entry *e = calloc(1, sizeof *e);
	if (!e || !(e->token = strdup(token)) || !(e->keyauth = strdup(keyauth))) {
		if (e)
			free(e->token);
		free(e);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	e->next = s->entries;
	s->entries = e;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static void sa_cleanup(void *state, const char *identifier, const char *token, const char *keyauth)
{
	struct standalone *s = state;
	(void)identifier;
	(void)keyauth;
	pthread_mutex_lock(&s->mu);
	for (struct entry **pp = &s->entries; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->token, token) == 0) {
			struct entry *e = *pp;
			*pp = e->next;
			free(e->token);
			free(e->keyauth);
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

static void sa_fini(void *state)
{
	struct standalone *s = state;
	if (!s)
		return;
	listener_stop(s->l);
	while (s->entries) {
		struct entry *e = s->entries;
		s->entries = e->next;
		free(e->token);
		free(e->keyauth);
		free(e);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

const struct solver_impl solver_http01_standalone = {sa_init, sa_present, sa_cleanup, sa_fini, sa_wait_seen};
