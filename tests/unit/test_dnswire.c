/* dnswire: the stub resolver's queries and its reading of answers (RFC 1035 §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "validation/dnswire.h"

#define T_A 1
#define T_CNAME 5
#define T_CAA 257

/* ---- a message builder ---- */
struct msg {
	uint8_t b[8192];
	size_t len;
	unsigned an;
};

static void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->len + n <= sizeof m->b);
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void put16(struct msg *m, unsigned v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(m, b, 2);
}

static void put_name(struct msg *m, const char *name)
{
	uint8_t w[DNSWIRE_NAME_MAX];
	int l = dnswire_name(name, w);
	assert_true(l > 0);
	put(m, w, (size_t)l);
}

/* Header (QR, RD, RA, rcode, flags extra) and the question (name kept in its case). */
static void start(struct msg *m, uint16_t id, unsigned extra, int rcode, const char *qname, int qtype)
{
	memset(m, 0, sizeof *m);
	put16(m, id);
	put16(m, 0x8180 | extra | (unsigned)rcode);
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, 0);
	/* as given, case kept: dnswire_name lowercases, so write the labels by hand */
	for (const char *p = qname; *p;) {
		size_t l = strcspn(p, ".");
		uint8_t c = (uint8_t)l;
		put(m, &c, 1);
		put(m, p, l);
		p += l + (p[l] == '.');
	}
	put(m, "", 1);
	put16(m, (unsigned)qtype);
	put16(m, 1);
}

/* An answer record; owner NULL means a pointer to the question's name (offset 12). */
static void rr(struct msg *m, const char *owner, int type, int cls, const void *rdata, size_t rdlen)
{
	if (owner)
		put_name(m, owner);
	else
		put16(m, 0xC00C);
	put16(m, (unsigned)type);
	put16(m, (unsigned)cls);
	put16(m, 0);
	put16(m, 60);
	put16(m, (unsigned)rdlen);
	put(m, rdata, rdlen);
	m->an++;
	m->b[6] = (uint8_t)(m->an >> 8);
	m->b[7] = (uint8_t)m->an;
}

static void cname(struct msg *m, const char *owner, const char *target)
{
	uint8_t w[DNSWIRE_NAME_MAX];
	int l = dnswire_name(target, w);
	assert_true(l > 0);
	rr(m, owner, T_CNAME, 1, w, (size_t)l);
}

static int parse(const struct msg *m, uint16_t id, const char *name, int qtype, struct dnswire_answer *a)
{
	uint8_t w[DNSWIRE_NAME_MAX];
	int l = dnswire_name(name, w);
	assert_true(l > 0);
	return dnswire_answer(m->b, m->len, id, w, (size_t)l, qtype, a);
}

/* ---- tests ---- */

static void test_name(void **state)
{
	(void)state;
	uint8_t w[DNSWIRE_NAME_MAX];
	assert_int_equal(dnswire_name("Www.Example.TEST.", w), 18);
	assert_memory_equal(w, "\3www\7example\4test", 18);
	char label[70];
	memset(label, 'a', 63);
	strcpy(label + 63, ".test");
	assert_true(dnswire_name(label, w) > 0);
	memset(label, 'a', 64);
	strcpy(label + 64, ".test");
	assert_int_equal(dnswire_name(label, w), -1); /* a 64-byte label */
	assert_int_equal(dnswire_name("a..test", w), -1);
	assert_int_equal(dnswire_name("", w), -1);
	assert_int_equal(dnswire_name(".", w), -1);
	assert_int_equal(dnswire_name(NULL, w), -1);
	char longname[300];
	for (int i = 0; i < 127; i++)
		memcpy(longname + 2 * i, "a.", 2);
	strcpy(longname + 254, "a"); /* 255 bytes */
	assert_int_equal(dnswire_name(longname, w), -1);
	longname[253] = '\0'; /* 253 bytes, "a.a. ... a." without its last label: 127 labels */
	assert_true(dnswire_name(longname, w) > 0);
}

static void test_query(void **state)
{
	(void)state;
	uint8_t w[DNSWIRE_NAME_MAX], b[512];
	int wl = dnswire_name("x.test", w);
	int n = dnswire_query(b, sizeof b, 0xBEEF, w, (size_t)wl, T_CAA);
	assert_int_equal(n, 12 + wl + 4 + 11);
	static const uint8_t hdr[] = {0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
	assert_memory_equal(b, hdr, 12);
	assert_memory_equal(b + 12, w, (size_t)wl);
	static const uint8_t tail[] = {0x01, 0x01, 0, 1, /* CAA IN */
	                               0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0}; /* OPT, 1232 */
	assert_memory_equal(b + 12 + wl, tail, sizeof tail);
	assert_int_equal(dnswire_query(b, (size_t)n - 1, 1, w, (size_t)wl, T_A), -1);
	assert_int_equal(dnswire_query(b, sizeof b, 1, w, 0, T_A), -1);
}

static void test_answer(void **state)
{
	(void)state;
	struct msg m;
	struct dnswire_answer a;
	static const uint8_t ip[] = {192, 0, 2, 1}, ip2[] = {192, 0, 2, 2};
	start(&m, 7, 0, 0, "A.Example.Test", T_A); /* case does not matter */
	rr(&m, NULL, T_A, 1, ip, 4);
	rr(&m, "other.test", T_A, 1, ip2, 4);   /* another owner: not ours */
	rr(&m, NULL, T_A, 3, ip2, 4);           /* class CH */
	rr(&m, "a.example.test", T_A, 1, ip2, 4); /* uncompressed owner */
	assert_int_equal(parse(&m, 7, "a.example.test", T_A, &a), 0);
	assert_int_equal(a.rcode, 0);
	assert_false(a.truncated);
	assert_false(a.aliased);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.len[0], 4);
	assert_memory_equal(a.rdata[0], ip, 4);
	assert_memory_equal(a.rdata[1], ip2, 4);

	/* Not an answer to that query. */
	assert_int_equal(parse(&m, 8, "a.example.test", T_A, &a), 1);        /* id */
	assert_int_equal(parse(&m, 7, "b.example.test", T_A, &a), 1);        /* name */
	assert_int_equal(parse(&m, 7, "a.example.test", T_CAA, &a), 1);      /* type */
	m.b[2] &= 0x7F;                                                       /* a query, not a response */
	assert_int_equal(parse(&m, 7, "a.example.test", T_A, &a), 1);
	m.b[2] |= 0x80;
	m.b[2] |= 0x08; /* opcode 1 */
	assert_int_equal(parse(&m, 7, "a.example.test", T_A, &a), 1);
	m.b[2] &= (uint8_t)~0x08;

	/* Cut short anywhere: malformed, never read past the end. */
	for (size_t cut = 12 + 16 + 4 + 1; cut < m.len; cut++) {
		struct msg c = m;
		c.len = cut;
		assert_int_equal(parse(&c, 7, "a.example.test", T_A, &a), -1);
	}

	/* Rcode and TC. */
	start(&m, 9, 0, 3, "a.example.test", T_A);
	assert_int_equal(parse(&m, 9, "a.example.test", T_A, &a), 0);
	assert_int_equal(a.rcode, 3);
	assert_int_equal(a.n, 0);
	start(&m, 9, 0x0200, 0, "a.example.test", T_A);
	rr(&m, NULL, T_A, 1, ip, 2); /* cut short, as a truncated answer may be */
	assert_int_equal(parse(&m, 9, "a.example.test", T_A, &a), 0);
	assert_true(a.truncated);
	assert_int_equal(a.n, 0);
}

/* m answers id's CAA query for a.test through an alias: n records, the chain ending at target. */
static void assert_alias(const struct msg *m, uint16_t id, size_t n, const char *target)
{
	struct dnswire_answer a;
	uint8_t w[DNSWIRE_NAME_MAX];
	assert_int_equal(parse(m, id, "a.test", T_CAA, &a), 0);
	assert_true(a.aliased);
	assert_int_equal(a.n, n);
	assert_int_equal((int)a.target_len, dnswire_name(target, w));
	assert_memory_equal(a.target, w, a.target_len);
}

static void test_aliases(void **state)
{
	(void)state;
	struct msg m;
	struct dnswire_answer a;
	static const uint8_t caa[] = "\0\5issuecobble.test";

	/* A chain in one answer: the records at its end. */
	start(&m, 1, 0, 0, "a.test", T_CAA);
	cname(&m, NULL, "b.test");
	cname(&m, "b.test", "c.test");
	rr(&m, "c.test", T_CAA, 1, caa, sizeof caa - 1);
	rr(&m, "a.test", T_CAA, 1, caa, sizeof caa - 1); /* beside a CNAME: the alias wins */
	assert_alias(&m, 1, 1, "c.test");

	/* An alias whose target the server did not answer for: no records, the target to ask. */
	start(&m, 2, 0, 0, "a.test", T_CAA);
	cname(&m, NULL, "Elsewhere.Example");
	assert_alias(&m, 2, 0, "elsewhere.example");

	/* A loop, and a chain longer than DNSWIRE_MAX_CNAMES. */
	start(&m, 3, 0, 0, "a.test", T_CAA);
	cname(&m, NULL, "b.test");
	cname(&m, "b.test", "a.test");
	assert_int_equal(parse(&m, 3, "a.test", T_CAA, &a), -1);
	start(&m, 4, 0, 0, "n0.test", T_CAA);
	char from[16], to[16];
	for (int i = 0; i < DNSWIRE_MAX_CNAMES; i++) {
		snprintf(from, sizeof from, "n%d.test", i);
		snprintf(to, sizeof to, "n%d.test", i + 1);
		cname(&m, from, to);
	}
	assert_int_equal(parse(&m, 4, "n0.test", T_CAA, &a), 0); /* exactly the limit */
	snprintf(from, sizeof from, "n%d.test", DNSWIRE_MAX_CNAMES);
	snprintf(to, sizeof to, "n%d.test", DNSWIRE_MAX_CNAMES + 1);
	cname(&m, from, to);
	assert_int_equal(parse(&m, 4, "n0.test", T_CAA, &a), -1);
}

static void test_malformed(void **state)
{
	(void)state;
	struct msg m;
	struct dnswire_answer a;
	static const uint8_t ip[] = {192, 0, 2, 1};

	/* A compression pointer to itself, and one past the end. */
	start(&m, 1, 0, 0, "a.test", T_A);
	size_t at = m.len;
	put16(&m, (unsigned)(0xC000 | at));
	put16(&m, T_A);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 60);
	put16(&m, 4);
	put(&m, ip, 4);
	m.b[7] = 1;
	assert_int_equal(parse(&m, 1, "a.test", T_A, &a), -1);
	m.b[at] = 0xC0 | 0x3F;
	m.b[at + 1] = 0xFF;
	assert_int_equal(parse(&m, 1, "a.test", T_A, &a), -1);
	/* A reserved label type. */
	m.b[at] = 0x40;
	assert_int_equal(parse(&m, 1, "a.test", T_A, &a), -1);
	/* An RDLENGTH past the end. */
	start(&m, 1, 0, 0, "a.test", T_A);
	rr(&m, NULL, T_A, 1, ip, 4);
	m.b[m.len - 5] = 0x10;
	assert_int_equal(parse(&m, 1, "a.test", T_A, &a), -1);
	/* More records than are kept. */
	start(&m, 1, 0, 0, "a.test", T_A);
	for (int i = 0; i <= DNSWIRE_MAX_RRS; i++)
		rr(&m, NULL, T_A, 1, ip, 4);
	assert_int_equal(parse(&m, 1, "a.test", T_A, &a), -1);
	/* A short header, and no question. */
	assert_int_equal(dnswire_answer(m.b, 11, 1, (const uint8_t *)"\1a\4test", 8, T_A, &a), 1);
	start(&m, 1, 0, 0, "a.test", T_A);
	m.b[5] = 0;
	assert_int_equal(parse(&m, 1, "a.test", T_A, &a), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name),     cmocka_unit_test(test_query),     cmocka_unit_test(test_answer),
	    cmocka_unit_test(test_aliases),  cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
