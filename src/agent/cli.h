/* Command line of `cobble`: options shared by every command, and the commands themselves
 * (cmd_account.c: register, account; cmd_cert.c: issue, renew, revoke, list). */
#ifndef COBBLE_AGENT_CLI_H
#define COBBLE_AGENT_CLI_H
#include <jansson.h>
#include <openssl/evp.h>
#include "agent/acme/client.h"
#include "agent/solvers/solver.h"

#define LE_PRODUCTION "https://acme-v02.api.letsencrypt.org/directory"
#define LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"
#define CLI_MAX_NAMES 100

/* Exit codes (docs/agent.md) */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

struct opts {
	const char *server;
	int server_given;
	const char *ca_bundle;
	char *config_dir;
	int json;
	/* register / account */
	const char *email;
	int agree_tos;
	const char *eab_kid, *eab_hmac;
	const char *account_key_type;
	/* issue / renew / revoke */
	const char *names[CLI_MAX_NAMES];
	size_t nnames;
	const char *lineage;
	const char *key_type;
	int reuse_key;
	const char *profile, *preferred_chain, *deploy_hook;
	struct solver_cfg solver;
	int force;
	const char *cert_file, *key_file, *reason;
	/* positional after the command */
	const char *args[4];
	size_t nargs;
};

/* An account on one server: CONFIG/accounts/<host>/account.{json,key}. */
struct account {
	char *dir;
	EVP_PKEY *key;
	char *url;
	json_t *info; /* account.json */
};

int cli_main(int argc, char **argv);

/* Connects to server (directory fetched). NULL with an error printed. */
struct acme_client *cli_connect(const struct opts *o, const char *server);
/* Loads the account for c's server and binds it to c. -1 with an error printed. */
int cli_load_account(const struct opts *o, struct acme_client *c, struct account *a);
void account_clear(struct account *a);
/* Reports a failure: one line on stderr; with --json also {"command","status":"error","error"}. */
int cli_fail(const struct opts *o, const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints a JSON object on stdout (with --json) and frees it. */
void cli_json_out(const struct opts *o, json_t *j);

int cmd_register(struct opts *o);
int cmd_account(struct opts *o);
int cmd_issue(struct opts *o);
int cmd_renew(struct opts *o);
int cmd_revoke(struct opts *o);
int cmd_list(struct opts *o);

#endif
