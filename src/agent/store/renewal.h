/* renewal.json: what `renew` needs to repeat an issuance (names, solver, options, server).
 * Parsing is strict about types and names the field at fault. */
#ifndef COBBLE_AGENT_RENEWAL_H
#define COBBLE_AGENT_RENEWAL_H
#include <jansson.h>
#include <stddef.h>
#include "agent/solvers/solver.h"

#define RENEWAL_MAX_DOMAINS 100
#define RENEWAL_MAX_BYTES (64 * 1024)

struct renewal {
	char *server;
	char **domains;
	size_t ndomains;
	char *key_type;
	int reuse_key;
	char *profile;
	char *preferred_chain;
	char *deploy_hook;
	struct solver_cfg solver;
};

/* Parses the JSON text. 0, or -1 with a reason naming the field in err. */
int renewal_parse(const char *text, size_t len, struct renewal *out, char *err, size_t errlen);
/* New JSON object (the file's content). */
json_t *renewal_to_json(const struct renewal *r);
void renewal_clear(struct renewal *r);

#endif
