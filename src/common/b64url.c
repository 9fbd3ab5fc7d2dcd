/* base64url encode/decode without padding.
 * Strict decoding: a JWS carrying padding or stray bytes is malformed, not "fixed up". */
#include "b64url.h"
#include <stdlib.h>
#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encoded_len(size_t n)
{
	return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

void b64url_encode_to(const uint8_t *in, size_t n, char *out)
{
	size_t i = 0, o = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
}

char *b64url_encode(const uint8_t *in, size_t n)
{
	char *out = malloc(b64url_encoded_len(n) + 1);
	if (out)
		b64url_encode_to(in, n, out);
	return out;
}

/* Decoding table: the 6-bit value of each base64url character, 0xff for every other byte
 * (issue 7: a table lookup per character instead of a chain of range tests). */
static const uint8_t dec[256] = {
#define R8(x) x, x, x, x, x, x, x, x
    R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff),                   /* 0x00-0x27 */
    0xff, 0xff, 0xff, 0xff, 0xff, 62, 0xff, 0xff,                      /* 0x28-0x2f: '-' */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* '0'-'9' */
    0xff, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,            /* '@', 'A'-'O' */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 0xff, 0xff, 0xff, 0xff, 63, /* 'P'-'Z', '_' */
    0xff, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,  /* '`', 'a'-'o' */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 0xff, 0xff, 0xff, 0xff, 0xff, /* 'p'-'z' */
    R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff),
    R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff), R8(0xff),
#undef R8
};

int b64url_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
	if (len % 4 == 1)
		return -1;
	size_t cap = len / 4 * 3 + 3;
	uint8_t *buf = malloc(cap + 1);
	if (!buf)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t v = dec[(unsigned char)in[i]];
		if (v == 0xff) {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or two encodings would decode alike. */
	if (acc != 0) {
		free(buf);
		return -1;
	}
	buf[o] = 0;
	*out = buf;
	*outlen = o;
	return 0;
}

int b64url_is_token(const char *s)
{
	uint8_t *tmp = NULL;
	size_t n = 0;
	if (!s || !*s || b64url_decode(s, strlen(s), &tmp, &n) != 0)
		return 0;
	free(tmp);
	return 1;
}
