/* A bounded reader of DER (X.690 §10) TLVs: definite, minimally encoded lengths only, never
 * reading past the buffer. Enough to walk known structures (a PKCS#10 request, a
 * SubjectPublicKeyInfo) without handing the whole thing to OpenSSL's decoders. */
#ifndef COBBLE_DER_H
#define COBBLE_DER_H
#include <stddef.h>
#include <stdint.h>

#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_CTX_CONS(n) (0xa0 | (n)) /* [n] constructed, context-specific */

struct der {
	const uint8_t *p; /* unread bytes */
	size_t n;
};

/* One TLV whose tag is a single octet. On success advances in past it and sets *content
 * (the value) and, if whole is non-NULL, *whole (tag, length and value): 0. -1 if in is
 * empty, the tag differs from want, or the length is indefinite, not minimal, or runs past
 * the end; in is then unchanged. */
int der_get(struct der *in, uint8_t want, struct der *content, struct der *whole);
/* The tag of the next TLV, or -1 if in is empty. */
int der_peek(const struct der *in);
/* A SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and nothing after it, split into the algorithm
 * OID and its parameters as whole TLVs (params->n == 0 when absent) and the key bits after the
 * unused-bits octet, which must be 0. 0, or -1 if spki is not that shape. */
int der_spki(struct der spki, struct der *alg, struct der *params, struct der *key);
/* Whether content equals the bytes b[0..n). */
int der_eq(const struct der *content, const uint8_t *b, size_t n);

#endif
