/* Account rows by id (acctcache.h): a direct-mapped table of deep copies under one mutex. */
#include "acctcache.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct acctcache {
	pthread_mutex_t mu;
	struct store_account slot[ACCTCACHE_SLOTS]; /* id[0] == '\0': empty */
};

/* FNV-1a: ids are random apart from their time prefix, any spread will do. */
static size_t slot_of(const char *id)
{
	uint32_t h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % ACCTCACHE_SLOTS;
}

struct acctcache *acctcache_new(void)
{
	struct acctcache *c = calloc(1, sizeof *c);
	if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

void acctcache_clear(struct acctcache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < ACCTCACHE_SLOTS; i++)
		store_account_clear(&c->slot[i]);
	pthread_mutex_unlock(&c->mu);
}

void acctcache_free(struct acctcache *c)
{
	if (!c)
		return;
	acctcache_clear(c);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* A copy of a with its own heap members, or -1 (dst cleared) when out of memory. */
static int copy_account(struct store_account *dst, const struct store_account *a)
{
	*dst = *a;
	dst->jwk = a->jwk ? strdup(a->jwk) : NULL;
	dst->contact = a->contact ? strdup(a->contact) : NULL;
	if ((a->jwk && !dst->jwk) || (a->contact && !dst->contact)) {
		store_account_clear(dst);
		return -1;
	}
	return 0;
}

int acctcache_get(struct acctcache *c, const char *id, struct store_account *out)
{
	memset(out, 0, sizeof *out);
	if (!c || !id[0])
		return 0;
	int hit = 0;
	pthread_mutex_lock(&c->mu);
	struct store_account *e = &c->slot[slot_of(id)];
	if (e->id[0] && strcmp(e->id, id) == 0)
		hit = copy_account(out, e) == 0;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void acctcache_put(struct acctcache *c, const struct store_account *a)
{
	if (!c || !a->id[0])
		return;
	struct store_account copy;
	if (copy_account(&copy, a) != 0)
		return;
	pthread_mutex_lock(&c->mu);
	struct store_account *e = &c->slot[slot_of(a->id)];
	store_account_clear(e);
	*e = copy;
	pthread_mutex_unlock(&c->mu);
}

void acctcache_forget(struct acctcache *c, const char *id)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	struct store_account *e = &c->slot[slot_of(id)];
	if (e->id[0] && strcmp(e->id, id) == 0)
		store_account_clear(e);
	pthread_mutex_unlock(&c->mu);
}
