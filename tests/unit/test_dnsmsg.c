/* dnsmsg_answer: the answer RRset of a DNS response as the resolver reads libunbound's
 * packets (RFC 1035 §4.1): CNAME chains, compression, case, other owners and types, and
 * malformed messages (truncation, pointer loops, bad counts, long names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "validation/dnsmsg.h"

#define T_A 1
#define T_CNAME 5
#define T_TXT 16
#define T_CAA 257

struct msg {
	unsigned char b[1024];
	size_t len;
};

static void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->len + n <= sizeof m->b);
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
	put(m, b, 2);
}

/* "a.b.c" in wire form, uncompressed. */
static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		unsigned char lb = (unsigned char)l;
		put(m, &lb, 1);
		put(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

/* Header (rcode, ANCOUNT) and the question qname/qtype. */
static void start(struct msg *m, int rcode, unsigned an, const char *qname, unsigned qtype)
{
	m->len = 0;
	unsigned char h[12] = {0x12, 0x34, 0x81, (unsigned char)(0x80 | rcode), 0, 1,
	                       (unsigned char)(an >> 8), (unsigned char)an, 0, 0, 0, 0};
	put(m, h, sizeof h);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

/* A record header after its owner: type, class IN, TTL, RDLENGTH. */
static void rr_head(struct msg *m, unsigned type, unsigned rdlen)
{
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 60);
	put16(m, rdlen);
}

static void test_plain_and_cname(void **state)
{
	(void)state;
	struct msg m = {0};
	struct dnsmsg_rdata rd[8];
	size_t n = 99;
	int rcode = -1;
	/* www.example.test CNAME (compressed: "web" + pointer to example.test) -> web.example.test
	 * A 192.0.2.1, then an A of another owner and a TXT at the target, both left out. */
	start(&m, 0, 4, "www.example.test", T_A);
	put16(&m, 0xc00c);
	rr_head(&m, T_CNAME, 6);
	put(&m, "\3web\xc0\x10", 6); /* 0x10: "example.test" inside the question */
	size_t target = m.len - 6;
	put16(&m, (unsigned)(0xc000 | target));
	rr_head(&m, T_A, 4);
	put(&m, "\xc0\x00\x02\x01", 4);
	put_name(&m, "other.test");
	rr_head(&m, T_A, 4);
	put(&m, "\xc0\x00\x02\x09", 4);
	put16(&m, (unsigned)(0xc000 | target));
	rr_head(&m, T_TXT, 2);
	put(&m, "\1x", 2);
	assert_int_equal(dnsmsg_ancount(m.b, m.len), 4);
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 8, &n), 0);
	assert_int_equal(rcode, 0);
	assert_int_equal(n, 1);
	assert_int_equal(rd[0].len, 4);
	assert_memory_equal(m.b + rd[0].off, "\xc0\x00\x02\x01", 4);
	/* Asking for the CNAME itself: no chain. */
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_CNAME, &rcode, rd, 8, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rd[0].len, 6);
	/* cap bounds what is written. */
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_TXT, &rcode, rd, 0, &n), 0);
	assert_int_equal(n, 0);
}

static void test_case_and_rcode(void **state)
{
	(void)state;
	struct msg m = {0};
	struct dnsmsg_rdata rd[4];
	size_t n;
	int rcode;
	/* Owners compare case-insensitively (RFC 4343); two records of the set, in order. */
	start(&m, 0, 2, "Example.TEST", T_CAA);
	put_name(&m, "eXample.test");
	rr_head(&m, T_CAA, 3);
	put(&m, "\0\1a", 3);
	put16(&m, 0xc00c);
	rr_head(&m, T_CAA, 3);
	put(&m, "\0\1b", 3);
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_CAA, &rcode, rd, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(m.b[rd[0].off + 2], 'a');
	assert_int_equal(m.b[rd[1].off + 2], 'b');
	/* NXDOMAIN, nothing in the answer. */
	start(&m, 3, 0, "nx.test", T_CAA);
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_CAA, &rcode, rd, 4, &n), 0);
	assert_int_equal(rcode, 3);
	assert_int_equal(n, 0);
}

static void test_malformed(void **state)
{
	(void)state;
	struct msg m = {0};
	struct dnsmsg_rdata rd[4];
	size_t n;
	int rcode;
	/* No header, no question, two questions. */
	assert_int_equal(dnsmsg_answer(m.b, 11, T_A, &rcode, rd, 4, &n), -1);
	assert_int_equal(dnsmsg_ancount(m.b, 11), 0);
	start(&m, 0, 0, "a.test", T_A);
	m.b[5] = 0;
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	m.b[5] = 2;
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	/* Every truncation of a good message. */
	start(&m, 0, 1, "a.test", T_A);
	put16(&m, 0xc00c);
	rr_head(&m, T_A, 4);
	put(&m, "\x7f\0\0\1", 4);
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), 0);
	assert_int_equal(n, 1);
	for (size_t l = 0; l < m.len; l++)
		assert_int_equal(dnsmsg_answer(m.b, l, T_A, &rcode, rd, 4, &n), -1);
	/* More records announced than present; RDLENGTH past the end. */
	m.b[7] = 2;
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	m.b[7] = 1;
	m.b[m.len - 5] = 5;
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	/* A pointer loop (the owner points at itself), and two pointing at each other. */
	start(&m, 0, 1, "a.test", T_A);
	size_t self = m.len;
	put16(&m, (unsigned)(0xc000 | self));
	rr_head(&m, T_A, 4);
	put(&m, "\x7f\0\0\1", 4);
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	m.b[self + 1] = (unsigned char)(self + 2);
	m.b[self + 2] = 0xc0; /* the type's first byte: a pointer back */
	m.b[self + 3] = (unsigned char)self;
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	/* Extended label types (0x40, 0x80). */
	start(&m, 0, 0, "a.test", T_A);
	m.b[12] = 0x41;
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	/* A name longer than 255 bytes in wire form: 5 labels of 63 (through pointers too). */
	m.len = 0;
	unsigned char h[12] = {0, 0, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
	put(&m, h, sizeof h);
	char label[64];
	memset(label, 'x', 63);
	for (int i = 0; i < 5; i++) {
		unsigned char l = 63;
		put(&m, &l, 1);
		put(&m, label, 63);
	}
	put(&m, "", 1);
	put16(&m, T_A);
	put16(&m, 1);
	assert_int_equal(dnsmsg_answer(m.b, m.len, T_A, &rcode, rd, 4, &n), -1);
	/* A CNAME target that runs out of its RDATA. */
	start(&m, 0, 1, "a.test", T_A);
	put16(&m, 0xc00c);
	rr_head(&m, T_CNAME, 2);
	put(&m, "\3ww", 3); /* one byte more than RDLENGTH says: the name does not end inside */
	m.b[7] = 1;
	assert_int_equal(dnsmsg_answer(m.b, m.len - 1, T_A, &rcode, rd, 4, &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_cname),
	    cmocka_unit_test(test_case_and_rcode),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
