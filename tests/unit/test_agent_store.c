/* The agent's on-disk layout: account directory names, lineage names, and installs that
 * switch certs/<name> atomically between complete archive versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/agent/store/store.c"
#include "../../src/agent/ui.c"

static void test_server_key(void **state)
{
	(void)state;
	static const struct {
		const char *url, *want;
	} cases[] = {
		{"https://acme-v02.api.letsencrypt.org/directory", "acme-v02.api.letsencrypt.org"},
		{"https://127.0.0.1:14000/dir", "127.0.0.1_14000"},
		{"https://CA.Example:443/acme/dir?x=1", "ca.example_443"},
		{"https://user@ca.example/dir", "ca.example"},
		{"https://../dir", NULL},
		{"https:///dir", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *k = store_server_key(cases[i].url);
		if (!cases[i].want) {
			if (k)
				fail_msg("%s: got \"%s\", want refusal", cases[i].url, k);
		} else {
			assert_non_null(k);
			assert_string_equal(k, cases[i].want);
		}
		free(k);
	}
}

static void test_lineage_names(void **state)
{
	(void)state;
	assert_true(store_lineage_name_ok("example.com"));
	assert_true(store_lineage_name_ok("_.example.com"));
	assert_true(store_lineage_name_ok("web-1_a"));
	assert_false(store_lineage_name_ok(""));
	assert_false(store_lineage_name_ok(".hidden"));
	assert_false(store_lineage_name_ok(".."));
	assert_false(store_lineage_name_ok("a/b"));
	assert_false(store_lineage_name_ok("*.example.com"));
	char *d = store_lineage_default("*.example.com");
	assert_string_equal(d, "_.example.com");
	assert_true(store_lineage_name_ok(d));
	free(d);
}

static char *slurp(const char *dir, const char *f)
{
	char *p = NULL, *buf = NULL;
	size_t len;
	if (asprintf(&p, "%s/%s", dir, f) < 0)
		return NULL;
	if (file_read_all(p, 1 << 20, &buf, &len) != 0)
		buf = NULL;
	free(p);
	return buf;
}

static void test_install(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/cobble-store-test.XXXXXX", err[300], *p = NULL;
	char *cfg = mkdtemp(tmpl);
	assert_non_null(cfg);
	assert_null(store_lineage_current(cfg, "x"));

	struct lineage_files v1 = {"CERT1\n", "CHAIN1\n", "CERT1\nCHAIN1\n", "KEY1\n", "{}\n"};
	assert_int_equal(store_lineage_install(cfg, "x", &v1, err, sizeof err), 0);
	char *cur = store_lineage_current(cfg, "x");
	assert_non_null(cur);
	assert_non_null(strstr(cur, "archive/x/1"));
	char *c = slurp(cur, "cert.pem");
	assert_string_equal(c, "CERT1\n");
	free(c);
	struct stat st;
	assert_int_equal(asprintf(&p, "%s/privkey.pem", cur), (int)strlen(cur) + 12);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
	free(cur);

	/* a leftover from a killed run is removed by the next install */
	assert_true(asprintf(&p, "%s/archive/x/.tmp-dead", cfg) > 0);
	assert_int_equal(mkdir(p, 0700), 0);

	struct lineage_files v2 = {"CERT2\n", "CHAIN2\n", "CERT2\nCHAIN2\n", "KEY2\n", "{}\n"};
	assert_int_equal(store_lineage_install(cfg, "x", &v2, err, sizeof err), 0);
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);
	cur = store_lineage_current(cfg, "x");
	assert_non_null(strstr(cur, "archive/x/2"));
	c = slurp(cur, "privkey.pem");
	assert_string_equal(c, "KEY2\n");
	free(c);
	free(cur);
	/* the old version is kept */
	assert_true(asprintf(&p, "%s/archive/x/1/cert.pem", cfg) > 0);
	assert_int_equal(access(p, F_OK), 0);
	free(p);
	/* certs/x reads through the symlink */
	assert_true(asprintf(&p, "%s/certs/x", cfg) > 0);
	c = slurp(p, "fullchain.pem");
	assert_string_equal(c, "CERT2\nCHAIN2\n");
	free(c);
	free(p);

	/* list, sorted; a foreign directory in certs/ is not overwritten */
	assert_int_equal(store_lineage_install(cfg, "a", &v1, err, sizeof err), 0);
	size_t n;
	char **names = store_lineage_list(cfg, &n);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "x");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	assert_true(asprintf(&p, "%s/certs/manual", cfg) > 0);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(store_lineage_install(cfg, "manual", &v1, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a symlink"));
	rmdir(p);
	free(p);
	assert_int_equal(store_lineage_install(cfg, "../evil", &v1, err, sizeof err), -1);

	/* many renewals keep a bounded archive */
	for (int i = 0; i < STORE_KEEP_VERSIONS + 3; i++)
		assert_int_equal(store_lineage_install(cfg, "x", &v2, err, sizeof err), 0);
	assert_true(asprintf(&p, "%s/archive/x/1", cfg) > 0);
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);

	char *cmd = NULL;
	assert_true(asprintf(&cmd, "rm -rf '%s'", cfg) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_deploy_hook(void **state)
{
	(void)state;
	const char *doms[] = {"a.example", "b.example"};
	assert_int_equal(store_run_deploy_hook("test \"$COBBLE_LINEAGE\" = lin && test \"$COBBLE_DOMAINS\" = "
	                                       "'a.example b.example' && test \"$COBBLE_KEY_PATH\" = /cfg/certs/lin/privkey.pem",
	                                       "/cfg", "lin", doms, 2),
	                 0);
	assert_int_equal(store_run_deploy_hook("exit 7", "/cfg", "lin", doms, 2), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_key),
		cmocka_unit_test(test_lineage_names),
		cmocka_unit_test(test_install),
		cmocka_unit_test(test_deploy_hook),
	};
	return cmocka_run_group_tests_name("agent_store", tests, NULL, NULL);
}
