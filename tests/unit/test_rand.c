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
#include <sys/wait.h>
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

/* rand_fill serves small requests from a per-thread block: no two requests overlap, requests
 * across a refill and large ones (straight from RAND_bytes) work, and a forked child does not
 * hand out the bytes its parent hands out next. */
static void test_fill_blocks(void **state)
{
	(void)state;
	enum { N = 600 };
	static unsigned char got[N][16];
	for (int i = 0; i < N; i++) /* 9600 bytes: many refills of the 256-byte block */
		assert_int_equal(rand_fill(got[i], sizeof got[i]), 0);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_memory_not_equal(got[i], got[j], sizeof got[i]);
	unsigned char odd[7], big[1000], zero[1000] = {0};
	assert_int_equal(rand_fill(odd, sizeof odd), 0);
	assert_int_equal(rand_fill(big, sizeof big), 0);
	assert_memory_not_equal(big, zero, sizeof big);

	/* Eight forks, 8 bytes each side: without the fork handler at most one of them could
	 * straddle a refill, so the others would hand out equal bytes. */
	for (int round = 0; round < 8; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			unsigned char c[8];
			int ok = rand_fill(c, sizeof c) == 0 && write(fds[1], c, sizeof c) == (ssize_t)sizeof c;
			_exit(ok ? 0 : 1);
		}
		unsigned char mine[8], child[8];
		assert_int_equal(rand_fill(mine, sizeof mine), 0);
		assert_int_equal(read(fds[0], child, sizeof child), (ssize_t)sizeof child);
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_memory_not_equal(mine, child, sizeof mine);
		close(fds[0]);
		close(fds[1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_form_and_uniqueness),
	    cmocka_unit_test(test_time_order),
	    cmocka_unit_test(test_fill_blocks),
	};
	return cmocka_run_group_tests_name("rand", tests, NULL, NULL);
}
