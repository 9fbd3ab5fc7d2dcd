/* dns-01 by RFC 2136 UPDATE with TSIG (ldns). Not built yet: reports a clear error. */
#include "agent/solvers/solver.h"
#include <stdio.h>

static int r_init(void **state, const struct solver_cfg *cfg, char *err, size_t errlen)
{
	(void)state;
	(void)cfg;
	snprintf(err, errlen, "--dns01-rfc2136 is not available in this build");
	return -1;
}
static int r_present(void *s, const char *i, const char *t, const char *k, char *err, size_t errlen)
{
	(void)s; (void)i; (void)t; (void)k;
	snprintf(err, errlen, "not available");
	return -1;
}
static void r_cleanup(void *s, const char *i, const char *t, const char *k) { (void)s; (void)i; (void)t; (void)k; }
static void r_fini(void *s) { (void)s; }
const struct solver_impl solver_dns01_rfc2136 = {r_init, r_present, r_cleanup, r_fini};
