/* Argument parsing and dispatch. Options may come before or after the command; every
 * unknown flag or missing value is a usage error (exit 2) naming the flag. */
#include "agent/cli.h"
#include "agent/acme/http.h"
#include "agent/store/store.h"
#include "agent/ui.h"
#include "fileio.h"
#include "jose.h"
#include "keys.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: cobble [--server URL | --staging] [--ca-bundle PEM] [--config-dir DIR] [--quiet|--verbose] [--json] COMMAND\n"
    "  register   --email ADDR --agree-tos [--eab-kid ID --eab-hmac-key B64URL]\n"
    "             [--account-key-type ec256|ec384|rsa2048|rsa3072|rsa4096]\n"
    "  issue      -d NAME [-d NAME...] [--name LINEAGE] [--key-type TYPE] [--reuse-key] [--profile P]\n"
    "             [--preferred-chain ISSUER-CN] [--deploy-hook CMD] SOLVER\n"
    "  renew      [--name LINEAGE] [--force] [--deploy-hook CMD]\n"
    "  revoke     (--name LINEAGE | --cert FILE [--key FILE]) [--reason unspecified|keyCompromise|superseded|cessationOfOperation]\n"
    "  account    show | update --email ADDR | deactivate | rollover\n"
    "  list\n"
    "SOLVER: --http01-webroot DIR | --http01-standalone [--http01-port N] | --dns01-hook SCRIPT\n"
    "      | --dns01-rfc2136 SERVER[:PORT] --tsig NAME:ALGORITHM:BASE64SECRET | --tlsalpn01-standalone [--tlsalpn01-port N]\n";

enum {
	O_SERVER = 256, O_STAGING, O_CABUNDLE, O_CONFIGDIR, O_QUIET, O_VERBOSE, O_JSON, O_EMAIL, O_AGREE,
	O_EABKID, O_EABHMAC, O_ACCTKEY, O_NAME, O_KEYTYPE, O_REUSE, O_PROFILE, O_PREFCHAIN, O_DEPLOY, O_WEBROOT,
	O_STANDALONE, O_HTTPPORT, O_HOOK, O_RFC2136, O_TSIG, O_TLSALPN, O_TLSPORT, O_FORCE, O_CERT, O_KEY,
	O_REASON, O_HELP, O_VERSION
};

static const struct option longopts[] = {
	{"server", required_argument, NULL, O_SERVER},
	{"staging", no_argument, NULL, O_STAGING},
	{"ca-bundle", required_argument, NULL, O_CABUNDLE},
	{"config-dir", required_argument, NULL, O_CONFIGDIR},
	{"quiet", no_argument, NULL, O_QUIET},
	{"verbose", no_argument, NULL, O_VERBOSE},
	{"json", no_argument, NULL, O_JSON},
	{"email", required_argument, NULL, O_EMAIL},
	{"agree-tos", no_argument, NULL, O_AGREE},
	{"eab-kid", required_argument, NULL, O_EABKID},
	{"eab-hmac-key", required_argument, NULL, O_EABHMAC},
	{"account-key-type", required_argument, NULL, O_ACCTKEY},
	{"domain", required_argument, NULL, 'd'},
	{"name", required_argument, NULL, O_NAME},
	{"key-type", required_argument, NULL, O_KEYTYPE},
	{"reuse-key", no_argument, NULL, O_REUSE},
	{"profile", required_argument, NULL, O_PROFILE},
	{"preferred-chain", required_argument, NULL, O_PREFCHAIN},
	{"deploy-hook", required_argument, NULL, O_DEPLOY},
	{"http01-webroot", required_argument, NULL, O_WEBROOT},
	{"http01-standalone", no_argument, NULL, O_STANDALONE},
	{"http01-port", required_argument, NULL, O_HTTPPORT},
	{"dns01-hook", required_argument, NULL, O_HOOK},
	{"dns01-rfc2136", required_argument, NULL, O_RFC2136},
	{"tsig", required_argument, NULL, O_TSIG},
	{"tlsalpn01-standalone", no_argument, NULL, O_TLSALPN},
	{"tlsalpn01-port", required_argument, NULL, O_TLSPORT},
	{"force", no_argument, NULL, O_FORCE},
	{"cert", required_argument, NULL, O_CERT},
	{"key", required_argument, NULL, O_KEY},
	{"reason", required_argument, NULL, O_REASON},
	{"help", no_argument, NULL, O_HELP},
	{"version", no_argument, NULL, O_VERSION},
	{NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "cobble: %s\n(run `cobble --help` for usage)\n", line);
	return EXIT_USAGE;
}

static int parse_port(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

static int set_solver(struct opts *o, enum solver_kind k)
{
	if (o->solver.kind != SOLVER_NONE && o->solver.kind != k)
		return usage_error("choose one solver: --%s and --%s both given", solver_kind_name(o->solver.kind),
		                   solver_kind_name(k));
	o->solver.kind = k;
	return 0;
}

int cli_fail(const struct opts *o, const char *cmd, int code, const char *fmt, ...)
{
	char line[1600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	ui_error("%s", line);
	if (o->json) {
		json_t *j = json_pack("{s:s,s:s,s:s}", "command", cmd, "status", "error", "error", line);
		cli_json_out(o, j);
	}
	return code;
}

void cli_json_out(const struct opts *o, json_t *j)
{
	if (o->json && j) {
		char *s = json_dumps(j, JSON_COMPACT);
		if (s)
			printf("%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(j);
}

struct acme_client *cli_connect(const struct opts *o, const char *server)
{
	struct acme_client *c = acme_client_new(server, o->ca_bundle);
	if (!c) {
		ui_error("cannot set up the HTTP client");
		return NULL;
	}
	if (acme_directory(c) != 0) {
		ui_error("cannot reach the ACME server: %s", c->err);
		acme_client_free(c);
		return NULL;
	}
	ui_debug("directory %s", server);
	return c;
}

void account_clear(struct account *a)
{
	free(a->dir);
	EVP_PKEY_free(a->key);
	free(a->url);
	json_decref(a->info);
	memset(a, 0, sizeof *a);
}

int cli_load_account(const struct opts *o, struct acme_client *c, struct account *a)
{
	char *p = NULL, *buf = NULL, jerr[160];
	size_t len;
	memset(a, 0, sizeof *a);
	a->dir = store_account_dir(o->config_dir, c->dir_url);
	if (!a->dir || asprintf(&p, "%s/account.json", a->dir) < 0)
		return -1;
	if (file_read_all(p, 64 * 1024, &buf, &len) != 0) {
		ui_error("no account for %s in %s (%s); run `cobble register --email ADDR --agree-tos` first",
		         c->dir_url, a->dir, strerror(errno));
		free(p);
		return -1;
	}
	free(p);
	a->info = jose_json_loadb(buf, len, jerr, sizeof jerr);
	free(buf);
	const char *url = json_string_value(json_object_get(a->info, "url"));
	if (!url) {
		ui_error("%s/account.json is damaged (%s); move it away and register again", a->dir,
		         a->info ? "no \"url\"" : jerr);
		return -1;
	}
	a->url = strdup(url);
	if (asprintf(&p, "%s/account.key", a->dir) < 0)
		return -1;
	a->key = key_load_private(p);
	if (!a->key) {
		ui_error("cannot load the account key %s", p);
		free(p);
		return -1;
	}
	free(p);
	c->key = a->key;
	acme_client_set_kid(c, a->url);
	return 0;
}

static int take_lock(const char *dir)
{
	char *p = NULL;
	if (file_mkdirs(dir, 0700) != 0 || asprintf(&p, "%s/.lock", dir) < 0)
		return 0; /* no config dir yet is reported by the command itself */
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(p);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	return 0; /* fd stays open, holding the lock, until exit */
}

static void on_signal(int sig)
{
	(void)sig;
	http_interrupted = 1;
}

/* Parses and runs; every allocation hangs off o, which cli_main frees on all paths. */
static int cli_run(struct opts *op, int argc, char **argv)
{
#define o (*op)
	int c, rc;
	o.server = LE_PRODUCTION;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case O_SERVER: o.server = optarg; o.server_given = 1; break;
		case O_STAGING: o.server = LE_STAGING; o.server_given = 1; break;
		case O_CABUNDLE: o.ca_bundle = optarg; break;
		case O_CONFIGDIR:
			free(o.config_dir);
			o.config_dir = strdup(optarg);
			break;
		case 'q':
		case O_QUIET: ui_set_level(UI_QUIET); break;
		case 'v':
		case O_VERBOSE: ui_set_level(UI_VERBOSE); break;
		case O_JSON: o.json = 1; break;
		case O_EMAIL: o.email = optarg; break;
		case O_AGREE: o.agree_tos = 1; break;
		case O_EABKID: o.eab_kid = optarg; break;
		case O_EABHMAC: o.eab_hmac = optarg; break;
		case O_ACCTKEY:
			if (!key_type_valid(optarg))
				return usage_error("--account-key-type %s: use ec256, ec384, rsa2048, rsa3072 or rsa4096", optarg);
			o.account_key_type = optarg;
			break;
		case 'd':
			if (o.nnames >= CLI_MAX_NAMES)
				return usage_error("at most %d names (-d) per certificate", CLI_MAX_NAMES);
			/* DNS names are case-insensitive; CAs compare (and CSRs carry) lower case */
			for (char *p = optarg; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			o.names[o.nnames++] = optarg;
			break;
		case O_NAME: o.lineage = optarg; break;
		case O_KEYTYPE:
			if (!key_type_valid(optarg))
				return usage_error("--key-type %s: use ec256, ec384, rsa2048, rsa3072 or rsa4096", optarg);
			o.key_type = optarg;
			break;
		case O_REUSE: o.reuse_key = 1; break;
		case O_PROFILE: o.profile = optarg; break;
		case O_PREFCHAIN: o.preferred_chain = optarg; break;
		case O_DEPLOY: o.deploy_hook = optarg; break;
		case O_WEBROOT:
			if ((rc = set_solver(&o, SOLVER_HTTP01_WEBROOT)))
				return rc;
			free(o.solver.webroot);
			o.solver.webroot = strdup(optarg);
			break;
		case O_STANDALONE:
			if ((rc = set_solver(&o, SOLVER_HTTP01_STANDALONE)))
				return rc;
			break;
		case O_HTTPPORT:
		case O_TLSPORT:
			if (parse_port(optarg, &o.solver.port) != 0)
				return usage_error("--%s %s: not a port number", c == O_HTTPPORT ? "http01-port" : "tlsalpn01-port",
				                   optarg);
			break;
		case O_HOOK:
			if ((rc = set_solver(&o, SOLVER_DNS01_HOOK)))
				return rc;
			free(o.solver.hook);
			o.solver.hook = strdup(optarg);
			break;
		case O_RFC2136:
			if ((rc = set_solver(&o, SOLVER_DNS01_RFC2136)))
				return rc;
			free(o.solver.dns_server);
			o.solver.dns_server = strdup(optarg);
			break;
		case O_TSIG:
			free(o.solver.tsig);
			o.solver.tsig = strdup(optarg);
			break;
		case O_TLSALPN:
			if ((rc = set_solver(&o, SOLVER_TLSALPN01_STANDALONE)))
				return rc;
			break;
		case O_FORCE: o.force = 1; break;
		case O_CERT: o.cert_file = optarg; break;
		case O_KEY: o.key_file = optarg; break;
		case O_REASON: o.reason = optarg; break;
		case 'h':
		case O_HELP: fputs(usage_text, stdout); return EXIT_OK;
		case O_VERSION: puts("cobble " COBBLE_VERSION); return EXIT_OK;
		case ':': return usage_error("option %s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind++];
	while (optind < argc) {
		if (o.nargs >= 4)
			return usage_error("too many arguments after %s", cmd);
		o.args[o.nargs++] = argv[optind++];
	}
	if (!o.config_dir)
		o.config_dir = store_default_dir();
	if (!o.config_dir)
		return usage_error("cannot work out the config directory; pass --config-dir");

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* One cobble at a time per config dir (timer run vs. an admin's run): a second one
	 * would order certificates twice. flock dies with the process, so a crash leaves none. */
	int readonly = strcmp(cmd, "list") == 0 || (strcmp(cmd, "account") == 0 && o.nargs && strcmp(o.args[0], "show") == 0);
	if (!readonly && take_lock(o.config_dir) != 0)
		return cli_fail(&o, cmd, EXIT_FAIL, "another cobble is working in %s (lock %s/.lock held); try again later",
		                o.config_dir, o.config_dir);
	if (strcmp(cmd, "register") == 0)
		rc = cmd_register(&o);
	else if (strcmp(cmd, "account") == 0)
		rc = cmd_account(&o);
	else if (strcmp(cmd, "issue") == 0)
		rc = cmd_issue(&o);
	else if (strcmp(cmd, "renew") == 0)
		rc = cmd_renew(&o);
	else if (strcmp(cmd, "revoke") == 0)
		rc = cmd_revoke(&o);
	else if (strcmp(cmd, "list") == 0)
		rc = cmd_list(&o);
	else
		rc = usage_error("unknown command \"%s\" (register, issue, renew, revoke, account, list)", cmd);
	if (http_interrupted && rc != EXIT_OK)
		rc = EXIT_INTERRUPTED;
	return rc;
#undef o
}

int cli_main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof o);
	int rc = cli_run(&o, argc, argv);
	solver_cfg_clear(&o.solver);
	free(o.config_dir);
	return rc;
}
