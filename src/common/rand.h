/* Random bytes and random resource identifiers from OpenSSL's CSPRNG. */
#ifndef COBBLE_RAND_H
#define COBBLE_RAND_H
#include <stddef.h>

/* 16 random bytes, base64url: 22 characters. Used for every resource id and token. */
#define RAND_ID_LEN 22
/* Fills buf with n CSPRNG bytes; returns 0 or -1. */
int rand_fill(void *buf, size_t n);
/* Writes a fresh random id and a NUL into out (RAND_ID_LEN + 1 bytes); returns 0 or -1. */
int rand_id(char *out);
/* RFC 8555 §8.1: a token with at least 128 bits of entropy; 32 bytes here (43 chars). */
#define RAND_TOKEN_LEN 43
int rand_token(char *out);

#endif
