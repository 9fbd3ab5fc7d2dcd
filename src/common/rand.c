/* Random bytes and identifiers.
 * Everything random that reaches a client (ids, tokens, serials, nonces) comes from here. */
#include "rand.h"
#include "b64url.h"
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* Small requests (ids, tokens, nonces: ~30 per issued certificate) are served from a
 * per-thread block of RAND_bytes output (issue 7: each RAND_bytes call cost ~1 us in OpenSSL
 * 3's DRBG lookup, about as much as generating 256 bytes). A byte handed out is wiped from the
 * block, so no value a client saw stays in memory; a forked child discards the block it
 * inherited (pthread_atfork), or parent and child would hand out the same bytes. */
#define POOL_BYTES 256
#define POOL_MAX_REQUEST 64

struct rand_pool {
	unsigned char b[POOL_BYTES];
	size_t left; /* the unused bytes are the last `left` of b */
};

static _Thread_local struct rand_pool pool;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_drop_in_child(void)
{
	OPENSSL_cleanse(pool.b, sizeof pool.b);
	pool.left = 0;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, pool_drop_in_child);
}

int rand_fill(void *buf, size_t n)
{
	if (n > POOL_MAX_REQUEST)
		return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
	pthread_once(&atfork_once, register_atfork);
	if (pool.left < n) {
		if (RAND_bytes(pool.b, POOL_BYTES) != 1) {
			OPENSSL_cleanse(pool.b, sizeof pool.b);
			pool.left = 0;
			return -1;
		}
		pool.left = POOL_BYTES;
	}
	unsigned char *from = pool.b + POOL_BYTES - pool.left;
	memcpy(buf, from, n);
	OPENSSL_cleanse(from, n);
	pool.left -= n;
	return 0;
}

/* The base64url characters in ASCII order: a number written with them compares as text the
 * way it compares as a number. */
static const char sorted64[] = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

uint64_t rand_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rand_id(char *out)
{
	/* 8 characters of time (48 bits of milliseconds), then 14 of randomness (84 bits, from
	 * 11 bytes: the last character carries 6 of the 88 bits). */
	uint64_t ms = rand_now_ms() & ((UINT64_C(1) << 48) - 1);
	for (int i = 7; i >= 1; i--, ms >>= 6)
		out[i] = sorted64[ms & 63];
	/* The top 6 bits are 0 until the year 2109: shifted by one so that no id starts with '-'
	 * (which a command line would take for an option); still monotonic (63 from year 8800). */
	out[0] = sorted64[ms < 63 ? ms + 1 : 63];
	unsigned char b[11];
	char tail[16];
	if (rand_fill(b, sizeof b))
		return -1;
	b64url_encode_to(b, sizeof b, tail); /* 15 characters */
	memcpy(out + 8, tail, RAND_ID_LEN - 8);
	out[RAND_ID_LEN] = '\0';
	return 0;
}

int rand_token(char *out)
{
	unsigned char b[32];
	if (rand_fill(b, sizeof b))
		return -1;
	b64url_encode_to(b, sizeof b, out);
	return 0;
}
