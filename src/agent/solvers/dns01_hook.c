/* dns-01 through an operator's script: `SCRIPT add|del <record name> <txt value>`.
 * The contract (docs/agent.md): exit 0 on success; stdout is either empty or `key=value`
 * lines (only `wait=SECONDS` is defined); stderr is passed through. */
#include "agent/solvers/solver.h"
#include "agent/acme/client.h"
#include "agent/ui.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOOK_MAX_OUTPUT 4096
#define HOOK_MAX_WAIT 3600

struct hook {
	char *script;
};

static int hk_init(void **state, const struct solver_cfg *cfg, char *err, size_t errlen)
{
	if (!cfg->hook || access(cfg->hook, X_OK) != 0) {
		snprintf(err, errlen, "dns-01 hook %s is not an executable file: %s", cfg->hook ? cfg->hook : "(none)",
		         cfg->hook ? strerror(errno) : "missing");
		return -1;
	}
	struct hook *h = calloc(1, sizeof *h);
	if (!h || !(h->script = strdup(cfg->hook))) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*state = h;
	return 0;
}

/* Runs the hook; stdout (capped) into out. Returns the exit status, or -1 (err set). */
static int run_hook(struct hook *h, const char *action, const char *identifier, const char *token,
                    const char *name, const char *value, char *out, size_t outlen, char *err, size_t errlen)
{
	int pfd[2];
	if (pipe(pfd) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 1);
		close(pfd[1]);
		setenv("COBBLE_DOMAIN", identifier, 1);
		setenv("COBBLE_TXT_NAME", name, 1);
		setenv("COBBLE_TXT_VALUE", value, 1);
		setenv("COBBLE_TOKEN", token, 1);
		/* The hook must not inherit our Ctrl-C handling oddities. */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execl(h->script, h->script, action, name, value, (char *)NULL);
		fprintf(stderr, "cobble: cannot run %s: %s\n", h->script, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	size_t len = 0;
	int overflow = 0;
	for (;;) {
		char buf[512];
		ssize_t n = read(pfd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t take = (size_t)n;
		if (len + take >= outlen) {
			overflow = 1;
			take = outlen - 1 - len;
		}
		memcpy(out + len, buf, take);
		len += take;
	}
	out[len] = '\0';
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (overflow) {
		snprintf(err, errlen, "dns-01 hook %s %s printed more than %d bytes on stdout (stdout is for key=value "
		         "lines; log to stderr)", h->script, action, HOOK_MAX_OUTPUT);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "dns-01 hook %s %s was killed by signal %d", h->script, action, WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Parses the hook's stdout. Returns the wait in seconds (0 if none), -1 if malformed. */
static int parse_output(char *out, char *err, size_t errlen, const char *script)
{
	int wait = 0, lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		char *end;
		if (strncmp(line, "wait=", 5) == 0) {
			long v = strtol(line + 5, &end, 10);
			if (end != line + 5 && *end == '\0' && v >= 0 && v <= HOOK_MAX_WAIT) {
				wait = (int)v;
				continue;
			}
		}
		snprintf(err, errlen, "malformed output from dns-01 hook %s, line %d: \"%.60s\" (stdout may hold only "
		         "wait=SECONDS; send logs to stderr)", script, lineno, line);
		return -1;
	}
	return wait;
}

static int hk_present(void *state, const char *identifier, const char *token, const char *keyauth, char *err,
                      size_t errlen)
{
	struct hook *h = state;
	char value[64], out[HOOK_MAX_OUTPUT];
	char *name = dns01_record_name(identifier);
	int rc = -1;
	if (!name || dns01_txt_value(keyauth, value) != 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	int st = run_hook(h, "add", identifier, token, name, value, out, sizeof out, err, errlen);
	if (st < 0)
		goto done;
	if (st != 0) {
		snprintf(err, errlen, "dns-01 hook %s add %s failed (exit status %d)", h->script, name, st);
		goto done;
	}
	int wait = parse_output(out, err, errlen, h->script);
	if (wait < 0)
		goto done;
	if (wait > 0) {
		ui_step("  waiting %d s for %s to propagate (hook asked)", wait, name);
		if (acme_sleep(wait) != 0) {
			snprintf(err, errlen, "interrupted");
			goto done;
		}
	}
	rc = 0;
done:
	free(name);
	return rc;
}

static void hk_cleanup(void *state, const char *identifier, const char *token, const char *keyauth)
{
	struct hook *h = state;
	char value[64], out[HOOK_MAX_OUTPUT], err[512];
	char *name = dns01_record_name(identifier);
	if (name && dns01_txt_value(keyauth, value) == 0) {
		int st = run_hook(h, "del", identifier, token, name, value, out, sizeof out, err, sizeof err);
		if (st < 0)
			ui_warn("%s", err);
		else if (st != 0)
			ui_warn("dns-01 hook %s del %s failed (exit status %d); remove the TXT record by hand", h->script,
			        name, st);
	}
	free(name);
}

static void hk_fini(void *state)
{
	struct hook *h = state;
	if (h)
		free(h->script);
	free(h);
}

const struct solver_impl solver_dns01_hook = {hk_init, hk_present, hk_cleanup, hk_fini, NULL};
