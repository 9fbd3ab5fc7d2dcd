/* base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2).
 * Decoding is strict: no padding, no whitespace, only the URL-safe alphabet. */
#ifndef COBBLE_B64URL_H
#define COBBLE_B64URL_H
#include <stddef.h>
#include <stdint.h>

/* Encoded length for n input bytes, not counting the NUL. */
size_t b64url_encoded_len(size_t n);
/* Writes the encoding and a NUL into out (b64url_encoded_len(n) + 1 bytes). */
void b64url_encode_to(const uint8_t *in, size_t n, char *out);
/* Returns a malloc'd NUL-terminated string, or NULL on allocation failure. */
char *b64url_encode(const uint8_t *in, size_t n);
/* Decodes len chars of in into a malloc'd buffer (*out, *outlen; NUL-terminated
 * for convenience). Returns 0, or -1 on bad input (characters, padding, length). */
int b64url_decode(const char *in, size_t len, uint8_t **out, size_t *outlen);
/* 1 if s is a non-empty string that decodes as above, else 0 (NULL too). */
int b64url_is_token(const char *s);

#endif
