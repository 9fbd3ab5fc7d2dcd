/* Resource ids (src/common/rand.c): length, alphabet, uniqueness, and (issue 7) the time
 * prefix that makes them sort by creation time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rand.h"

#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_form_and_uniqueness(void **state)
{
	(void)state;
	enum { N = 2000 };
	static char ids[N][RAND_ID_LEN + 1];
	for (int i = 0; i < N; i++) {
		assert_int_equal(rand_id(ids[i]), 0);
		assert_int_equal(strlen(ids[i]), RAND_ID_LEN);
		assert_int_equal(strspn(ids[i], B64URL), RAND_ID_LEN);
	}
	qsort(ids, N, sizeof ids[0], cmp);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
}

/* The first 8 characters are the milliseconds in the ASCII-ordered base64url alphabet (the
 * first one shifted by one: never '-'). */
static void test_time_order(void **state)
{
	(void)state;
	static const char sorted[] = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
	char prev[RAND_ID_LEN + 1] = "", id[RAND_ID_LEN + 1];
	for (int i = 0; i < 30; i++) {
		assert_int_equal(rand_id(id), 0);
		if (prev[0] && strcmp(prev, id) >= 0)
			fail_msg("%s was made after %s but sorts before it", id, prev);
		memcpy(prev, id, sizeof prev);
		usleep(1500);
	}
	assert_true(id[0] != '-');
	uint64_t ms = (uint64_t)(strchr(sorted, id[0]) - sorted) - 1; /* shifted by one */
	for (int i = 1; i < 8; i++)
		ms = ms << 6 | (uint64_t)(strchr(sorted, id[i]) - sorted);
	int64_t skew = (int64_t)ms - (int64_t)time(NULL) * 1000;
	if (skew < -5000 || skew > 5000)
		fail_msg("id %s says %llu ms, the clock %lld s", id, (unsigned long long)ms, (long long)time(NULL));
	/* Within one millisecond the random part still differs. */
	char a[RAND_ID_LEN + 1], b[RAND_ID_LEN + 1];
	assert_int_equal(rand_id(a), 0);
	assert_int_equal(rand_id(b), 0);
	assert_true(strcmp(a + 8, b + 8) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_form_and_uniqueness),
	    cmocka_unit_test(test_time_order),
	};
	return cmocka_run_group_tests_name("rand", tests, NULL, NULL);
}
