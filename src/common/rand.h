/* Random bytes and random resource identifiers from OpenSSL's CSPRNG. */
#ifndef COBBLE_RAND_H
#define COBBLE_RAND_H
#include <stddef.h>
#include <stdint.h>

/* Resource ids: 22 base64url characters. */
#define RAND_ID_LEN 22
/* Fills buf with n CSPRNG bytes; returns 0 or -1. */
int rand_fill(void *buf, size_t n);
/* Writes a fresh id and a NUL into out (RAND_ID_LEN + 1 bytes); returns 0 or -1. The first 8
 * characters are the time in milliseconds, written so that ids sort as text by creation time
 * (issue 7: a new row's primary-key entry lands on the right edge of its index instead of on a
 * random leaf page of a table that holds millions); the other 14 carry 84 bits from the CSPRNG.
 * Ids name resources; access to them is by the account's signature (RFC 8555 §6.2), never by
 * knowing the id, and challenge tokens (rand_token) stay wholly random. */
int rand_id(char *out);
/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t rand_now_ms(void);
/* RFC 8555 §8.1: a token with at least 128 bits of entropy; 32 bytes here (43 chars). */
#define RAND_TOKEN_LEN 43
int rand_token(char *out);

#endif
