/* Serials reserved in blocks: see serials.h. */
#include "serials.h"
#include "issue.h"
#include "log.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RESERVE_TRIES 5

struct serials {
	pthread_mutex_t mu;
	size_t block;
	size_t left;                /* ids[0 .. left) are reserved and not handed out */
	char (*ids)[STORE_ID_MAX];
};

struct serials *serials_new(size_t block)
{
	struct serials *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->block = block ? block : SERIALS_BLOCK;
	p->ids = calloc(p->block, sizeof *p->ids);
	if (!p->ids || pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p->ids);
		free(p);
		return NULL;
	}
	return p;
}

void serials_free(struct serials *p)
{
	if (!p)
		return;
	/* Serials left over stay reserved in the database: one of them may have been signed
	 * just before a crash, so they are never handed out again (design.md §4). */
	pthread_mutex_destroy(&p->mu);
	free(p->ids);
	free(p);
}

/* Under p->mu: a new block, durable before it is used. Random serials collide with
 * probability ~2^-120 per pair; a collision (CONFLICT) draws the whole block again. */
static int refill(struct serials *p, struct store *s, int64_t now)
{
	for (int t = 0; t < RESERVE_TRIES; t++) {
		for (size_t i = 0; i < p->block; i++)
			if (ca_new_serial(p->ids[i]) != 0)
				return -1;
		int rc = store_serials_reserve(s, (const char (*)[STORE_ID_MAX])p->ids, p->block, now);
		if (rc == STORE_OK) {
			p->left = p->block;
			return 0;
		}
		if (rc != STORE_CONFLICT) {
			log_error("serials: could not reserve a block of %zu serial numbers", p->block);
			return -1;
		}
	}
	log_error("serials: %d blocks of serial numbers in a row collided", RESERVE_TRIES);
	return -1;
}

int serials_take(struct serials *p, struct store *s, int64_t now, char out[STORE_ID_MAX])
{
	int rc = 0;
	pthread_mutex_lock(&p->mu);
	if (p->left == 0)
		rc = refill(p, s, now);
	if (rc == 0) {
		p->left--;
		memcpy(out, p->ids[p->left], STORE_ID_MAX);
		memset(p->ids[p->left], 0, STORE_ID_MAX);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

size_t serials_left(struct serials *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->left;
	pthread_mutex_unlock(&p->mu);
	return n;
}
