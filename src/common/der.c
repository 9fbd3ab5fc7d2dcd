/* DER TLV reader (X.690 §10.1: definite form, fewest length octets). */
#include "der.h"
#include <string.h>

int der_peek(const struct der *in)
{
	return in->n ? in->p[0] : -1;
}

int der_get(struct der *in, uint8_t want, struct der *content, struct der *whole)
{
	if (in->n < 2 || in->p[0] != want)
		return -1;
	size_t len, hdr;
	uint8_t l0 = in->p[1];
	if (l0 < 0x80) {
		len = l0;
		hdr = 2;
	} else {
		size_t nl = l0 & 0x7f;
		/* 0x80 is the indefinite form (BER only); more than 4 octets is no length we take. */
		if (nl == 0 || nl > 4 || in->n < 2 + nl || in->p[2] == 0)
			return -1;
		len = 0;
		for (size_t i = 0; i < nl; i++)
			len = (len << 8) | in->p[2 + i];
		if (len < 0x80) /* would have fitted the short form */
			return -1;
		hdr = 2 + nl;
	}
	if (len > in->n - hdr)
		return -1;
	if (content) {
		content->p = in->p + hdr;
		content->n = len;
	}
	if (whole) {
		whole->p = in->p;
		whole->n = hdr + len;
	}
	in->p += hdr + len;
	in->n -= hdr + len;
	return 0;
}

int der_spki(struct der spki, struct der *alg, struct der *params, struct der *key)
{
	struct der body, algid, bits;
	if (der_get(&spki, DER_SEQUENCE, &body, NULL) || spki.n || der_get(&body, DER_SEQUENCE, &algid, NULL) ||
	    der_get(&body, DER_BIT_STRING, &bits, NULL) || body.n || bits.n < 2 || bits.p[0] != 0 ||
	    der_get(&algid, DER_OID, NULL, alg))
		return -1;
	params->p = algid.p;
	params->n = 0;
	int tag = der_peek(&algid);
	if (tag >= 0 && der_get(&algid, (uint8_t)tag, NULL, params))
		return -1;
	if (algid.n)
		return -1;
	key->p = bits.p + 1;
	key->n = bits.n - 1;
	return 0;
}

int der_eq(const struct der *content, const uint8_t *b, size_t n)
{
	return content->n == n && memcmp(content->p, b, n) == 0;
}
