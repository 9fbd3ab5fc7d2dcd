/* The agent's files. CONFIG/accounts/<server>/account.{json,key};
 * CONFIG/archive/<lineage>/<N>/{cert,chain,fullchain,privkey}.pem + renewal.json, one
 * directory per issued set; CONFIG/certs/<lineage> is a symlink to the current set, replaced
 * with rename(2) so a reader sees the old set or the new one, never a mixture. */
#ifndef COBBLE_AGENT_STORE_H
#define COBBLE_AGENT_STORE_H
#include <stddef.h>

#define STORE_MAX_PEM (256 * 1024)
#define STORE_KEEP_VERSIONS 10

/* Default config dir: /etc/cobble as root, $XDG_CONFIG_HOME/cobble (~/.config/cobble). malloc'd. */
char *store_default_dir(void);
/* Directory key for a server URL: host, plus "_port" when a port is given. malloc'd or NULL. */
char *store_server_key(const char *url);
/* CONFIG/accounts/<server key> (malloc'd). */
char *store_account_dir(const char *config, const char *server_url);

/* 1 when name is a safe lineage name ([A-Za-z0-9._-], not starting with '.'). */
int store_lineage_name_ok(const char *name);
/* Default lineage for a first identifier ("*.example.com" -> "_.example.com"). malloc'd. */
char *store_lineage_default(const char *first_name);

/* Resolves CONFIG/certs/<name> to the current version dir (malloc'd absolute-ish path),
 * or NULL when the lineage does not exist. Read all files of one set through this path. */
char *store_lineage_current(const char *config, const char *name);

struct lineage_files {
	const char *cert, *chain, *fullchain, *privkey, *renewal; /* contents; NUL-terminated */
};
/* Writes a new version and switches the lineage to it. 0 or -1 (err). */
int store_lineage_install(const char *config, const char *name, const struct lineage_files *f, char *err,
                          size_t errlen);
/* Rewrites renewal.json of the current version in place (atomic file replace). */
int store_lineage_update_renewal(const char *config, const char *name, const char *renewal, char *err,
                                 size_t errlen);
/* Lists lineage names (malloc'd array of malloc'd strings, sorted); count in *n. */
char **store_lineage_list(const char *config, size_t *n);

/* Runs `sh -c cmd` with COBBLE_LINEAGE, COBBLE_DOMAINS (space-separated), COBBLE_CERT_PATH,
 * COBBLE_KEY_PATH, COBBLE_FULLCHAIN_PATH, COBBLE_CHAIN_PATH set. Returns exit status or -1. */
int store_run_deploy_hook(const char *cmd, const char *config, const char *lineage, const char *const *domains,
                          size_t ndomains);

#endif
