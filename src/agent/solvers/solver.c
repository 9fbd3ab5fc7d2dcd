/* Solver front: dispatch to the back end and remember what is published, so that failure,
 * Ctrl-C and success all clean up the same way (solver_free). */
#include "agent/solvers/solver.h"
#include "b64url.h"
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	enum solver_kind kind;
	const char *name;
	const char *chall;
	const struct solver_impl *impl;
} kinds[] = {
	{SOLVER_HTTP01_WEBROOT, "http01-webroot", "http-01", &solver_http01_webroot},
	{SOLVER_HTTP01_STANDALONE, "http01-standalone", "http-01", &solver_http01_standalone},
	{SOLVER_DNS01_HOOK, "dns01-hook", "dns-01", &solver_dns01_hook},
	{SOLVER_DNS01_RFC2136, "dns01-rfc2136", "dns-01", &solver_dns01_rfc2136},
	{SOLVER_TLSALPN01_STANDALONE, "tlsalpn01-standalone", "tls-alpn-01", &solver_tlsalpn01_standalone},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

struct published {
	char *identifier, *token, *keyauth;
	struct published *next;
};

struct solver {
	const struct solver_impl *impl;
	void *state;
	struct published *live;
};

const char *solver_kind_name(enum solver_kind k)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return NULL;
}

enum solver_kind solver_kind_from_name(const char *name)
{
	for (size_t i = 0; name && i < NKINDS; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return kinds[i].kind;
	return SOLVER_NONE;
}

const char *solver_challenge_type(enum solver_kind k)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (kinds[i].kind == k)
			return kinds[i].chall;
	return NULL;
}

void solver_cfg_clear(struct solver_cfg *c)
{
	free(c->webroot);
	free(c->hook);
	free(c->dns_server);
	free(c->tsig);
	memset(c, 0, sizeof *c);
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

int solver_cfg_copy(struct solver_cfg *dst, const struct solver_cfg *src)
{
	memset(dst, 0, sizeof *dst);
	dst->kind = src->kind;
	dst->port = src->port;
	if (dup_opt(&dst->webroot, src->webroot) || dup_opt(&dst->hook, src->hook) ||
	    dup_opt(&dst->dns_server, src->dns_server) || dup_opt(&dst->tsig, src->tsig)) {
		solver_cfg_clear(dst);
		return -1;
	}
	return 0;
}

struct solver *solver_new(const struct solver_cfg *cfg, char *err, size_t errlen)
{
	const struct solver_impl *impl = NULL;
	for (size_t i = 0; i < NKINDS; i++)
		if (kinds[i].kind == cfg->kind)
			impl = kinds[i].impl;
	if (!impl) {
		snprintf(err, errlen, "no challenge solver chosen (use --http01-webroot, --http01-standalone, "
		                      "--dns01-hook, --dns01-rfc2136 or --tlsalpn01-standalone)");
		return NULL;
	}
	struct solver *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->impl = impl;
	if (impl->init(&s->state, cfg, err, errlen) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

int solver_present(struct solver *s, const char *identifier, const char *token, const char *keyauth, char *err,
                   size_t errlen)
{
	struct published *p = calloc(1, sizeof *p);
	if (!p || !(p->identifier = strdup(identifier)) || !(p->token = strdup(token)) ||
	    !(p->keyauth = strdup(keyauth))) {
		if (p) {
			free(p->identifier);
			free(p->token);
		}
		free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Remember it before publishing: a half-done publication is cleaned up too. */
	p->next = s->live;
	s->live = p;
	return s->impl->present(s->state, identifier, token, keyauth, err, errlen);
}

int solver_wait_validation(struct solver *s, const char *token, int timeout_ms)
{
	if (!s->impl->wait_seen)
		return -1;
	return s->impl->wait_seen(s->state, token, timeout_ms);
}

void solver_cleanup(struct solver *s, const char *identifier, const char *token)
{
	for (struct published **pp = &s->live; *pp; pp = &(*pp)->next) {
		struct published *p = *pp;
		if (strcmp(p->token, token) == 0 && strcmp(p->identifier, identifier) == 0) {
			s->impl->cleanup(s->state, p->identifier, p->token, p->keyauth);
			*pp = p->next;
			free(p->identifier);
			free(p->token);
			free(p->keyauth);
			free(p);
			return;
		}
	}
}

void solver_free(struct solver *s)
{
	if (!s)
		return;
	while (s->live)
		solver_cleanup(s, s->live->identifier, s->live->token);
	s->impl->fini(s->state);
	free(s);
}

char *dns01_record_name(const char *identifier)
{
	char *out;
	if (strncmp(identifier, "*.", 2) == 0)
		identifier += 2;
	if (asprintf(&out, "_acme-challenge.%s", identifier) < 0)
		return NULL;
	return out;
}

int dns01_txt_value(const char *keyauth, char *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	if (!SHA256((const unsigned char *)keyauth, strlen(keyauth), md))
		return -1;
	b64url_encode_to(md, sizeof md, out);
	return 0;
}
