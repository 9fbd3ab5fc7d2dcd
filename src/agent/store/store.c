/* On-disk layout and atomic swaps. A new set is written into a fresh temporary directory
 * under archive/, fsynced, renamed to its version number, and only then does the certs/
 * symlink move; a crash at any point leaves the previous set in place. */
#include "agent/store/store.h"
#include "fileio.h"
#include "agent/ui.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *store_default_dir(void)
{
	char *out = NULL;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		return strdup("/etc/cobble");
	if (xdg && *xdg) {
		if (asprintf(&out, "%s/cobble", xdg) < 0)
			out = NULL;
	} else if (asprintf(&out, "%s/.config/cobble", home && *home ? home : ".") < 0) {
		out = NULL;
	}
	return out;
}

char *store_server_key(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/?#");
	if (n == 0 || n > 255)
		return NULL;
	char *k = strndup(p, n);
	if (!k)
		return NULL;
	char *at = strrchr(k, '@'); /* drop userinfo */
	if (at)
		memmove(k, at + 1, strlen(at + 1) + 1);
	for (char *c = k; *c; c++) {
		if (*c == ':')
			*c = '_';
		else if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '[' && *c != ']')
			*c = '_';
		else
			*c = (char)tolower((unsigned char)*c);
	}
	if (k[0] == '.' || k[0] == '\0') {
		free(k);
		return NULL;
	}
	return k;
}

char *store_account_dir(const char *config, const char *server_url)
{
	char *k = store_server_key(server_url), *out = NULL;
	if (k && asprintf(&out, "%s/accounts/%s", config, k) < 0)
		out = NULL;
	free(k);
	return out;
}

int store_lineage_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 200 || name[0] == '.')
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

char *store_lineage_default(const char *first)
{
	char *s = strdup(first);
	if (!s)
		return NULL;
	for (char *c = s; *c; c++)
		if (*c == '*')
			*c = '_';
	return s;
}

char *store_lineage_current(const char *config, const char *name)
{
	char *link = NULL, *out = NULL, target[PATH_MAX];
	if (!store_lineage_name_ok(name) || asprintf(&link, "%s/certs/%s", config, name) < 0)
		return NULL;
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n > 0) {
		target[n] = '\0';
		/* relative to certs/ */
		if (target[0] == '/')
			out = strdup(target);
		else if (asprintf(&out, "%s/certs/%s", config, target) < 0)
			out = NULL;
	}
	free(link);
	return out;
}

/* Crash testing (tests/interop/test_agent_crash.sh): COBBLE_CRASH_POINT=name kills the
 * process with SIGKILL at that point of an install, as a power cut would. */
static void crash_point(const char *name)
{
	const char *want = getenv("COBBLE_CRASH_POINT");
	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static int write_file(const char *dir, const char *name, const char *data, mode_t mode)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	free(path);
	if (fd < 0)
		return -1;
	size_t len = strlen(data), off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, e->d_name) >= 0) {
			unlink(p);
			free(p);
		}
	}
	closedir(d);
	return rmdir(dir);
}

/* Highest numbered version in archive/<name>; removes leftovers of interrupted installs and
 * versions beyond the keep limit (never the current one). */
static long scan_versions(const char *adir, long current)
{
	DIR *d = opendir(adir);
	struct dirent *e;
	long max = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char *end;
		if (strncmp(e->d_name, ".tmp-", 5) == 0) {
			char *p = NULL;
			if (asprintf(&p, "%s/%s", adir, e->d_name) >= 0) {
				ui_debug("removing %s left by an interrupted run", p);
				rm_tree(p);
				free(p);
			}
			continue;
		}
		long v = strtol(e->d_name, &end, 10);
		if (*end == '\0' && v > max)
			max = v;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*end == '\0' && v > 0 && v != current && v <= max + 1 - STORE_KEEP_VERSIONS) {
			char *p = NULL;
			if (asprintf(&p, "%s/%s", adir, e->d_name) >= 0) {
				rm_tree(p);
				free(p);
			}
		}
	}
	closedir(d);
	return max;
}

/* Drops certs/.<name>.tmp-* symlinks left by a run killed between symlink and rename. */
static void remove_stale_links(const char *certs, const char *name)
{
	DIR *d = opendir(certs);
	struct dirent *e;
	size_t n = strlen(name);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && strncmp(e->d_name + 1, name, n) == 0 && strncmp(e->d_name + 1 + n, ".tmp-", 5) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

int store_lineage_install(const char *config, const char *name, const struct lineage_files *f, char *err,
                          size_t errlen)
{
	char *adir = NULL, *tmp = NULL, *vdir = NULL, *certs = NULL, *link = NULL, *ltmp = NULL, *target = NULL;
	char *cur = NULL;
	int rc = -1;
	if (!store_lineage_name_ok(name)) {
		snprintf(err, errlen, "lineage name \"%s\" may hold only letters, digits, '.', '_' and '-'", name);
		return -1;
	}
	if (asprintf(&adir, "%s/archive/%s", config, name) < 0 || asprintf(&certs, "%s/certs", config) < 0 ||
	    asprintf(&link, "%s/certs/%s", config, name) < 0 || asprintf(&tmp, "%s/.tmp-XXXXXX", adir) < 0)
		goto oom;
	if (file_mkdirs(adir, 0755) != 0 || file_mkdirs(certs, 0755) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", adir, strerror(errno));
		goto done;
	}
	struct stat st;
	if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a symlink made by cobble; move it away", link);
		goto done;
	}
	cur = store_lineage_current(config, name);
	long curv = 0;
	if (cur) {
		const char *slash = strrchr(cur, '/');
		curv = slash ? strtol(slash + 1, NULL, 10) : 0;
	}
	long next = scan_versions(adir, curv) + 1;
	if (!mkdtemp(tmp)) {
		snprintf(err, errlen, "cannot create a directory in %s: %s", adir, strerror(errno));
		goto done;
	}
	chmod(tmp, 0755);
	if (write_file(tmp, "privkey.pem", f->privkey, 0600) || write_file(tmp, "cert.pem", f->cert, 0644) ||
	    write_file(tmp, "chain.pem", f->chain, 0644) || write_file(tmp, "fullchain.pem", f->fullchain, 0644) ||
	    write_file(tmp, "renewal.json", f->renewal, 0600) || fsync_path(tmp) != 0) {
		snprintf(err, errlen, "cannot write the new certificate files in %s: %s", tmp, strerror(errno));
		rm_tree(tmp);
		goto done;
	}
	crash_point("files-written");
	if (asprintf(&vdir, "%s/%ld", adir, next) < 0 || asprintf(&target, "../archive/%s/%ld", name, next) < 0 ||
	    asprintf(&ltmp, "%s/.%s.tmp-%ld", certs, name, (long)getpid()) < 0)
		goto oom;
	if (rename(tmp, vdir) != 0 || fsync_path(adir) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, vdir, strerror(errno));
		rm_tree(tmp);
		goto done;
	}
	crash_point("version-renamed");
	remove_stale_links(certs, name);
	if (symlink(target, ltmp) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", ltmp, strerror(errno));
		goto done;
	}
	crash_point("symlink-made");
	if (rename(ltmp, link) != 0 || fsync_path(certs) != 0) {
		snprintf(err, errlen, "cannot switch %s to the new set: %s", link, strerror(errno));
		unlink(ltmp);
		goto done;
	}
	crash_point("switched");
	rc = 0;
	goto done;
oom:
	snprintf(err, errlen, "out of memory");
done:
	free(adir);
	free(tmp);
	free(vdir);
	free(certs);
	free(link);
	free(ltmp);
	free(target);
	free(cur);
	return rc;
}

int store_lineage_update_renewal(const char *config, const char *name, const char *renewal, char *err,
                                 size_t errlen)
{
	char *cur = store_lineage_current(config, name), *p = NULL;
	int rc = -1;
	if (!cur) {
		snprintf(err, errlen, "no lineage %s", name);
		return -1;
	}
	if (asprintf(&p, "%s/renewal.json", cur) >= 0) {
		rc = file_write_atomic(p, renewal, strlen(renewal), 0600);
		if (rc != 0)
			snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno));
	}
	free(p);
	free(cur);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **store_lineage_list(const char *config, size_t *n)
{
	char *dir = NULL, **out = NULL;
	size_t cnt = 0, cap = 0;
	*n = 0;
	if (asprintf(&dir, "%s/certs", config) < 0)
		return NULL;
	DIR *d = opendir(dir);
	free(dir);
	if (!d)
		return NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !store_lineage_name_ok(e->d_name))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			char **no = realloc(out, cap * sizeof *out);
			if (!no)
				break;
			out = no;
		}
		out[cnt] = strdup(e->d_name);
		if (out[cnt])
			cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(out, cnt, sizeof *out, cmp_str);
	*n = cnt;
	return out;
}

int store_run_deploy_hook(const char *cmd, const char *config, const char *lineage, const char *const *domains,
                          size_t ndomains)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *base = NULL, *v = NULL;
		size_t len = 1;
		for (size_t i = 0; i < ndomains; i++)
			len += strlen(domains[i]) + 1;
		char *doms = calloc(1, len);
		for (size_t i = 0; doms && i < ndomains; i++) {
			if (i)
				strcat(doms, " ");
			strcat(doms, domains[i]);
		}
		if (asprintf(&base, "%s/certs/%s", config, lineage) < 0)
			_exit(126);
		setenv("COBBLE_LINEAGE", lineage, 1);
		setenv("COBBLE_DOMAINS", doms ? doms : "", 1);
		if (asprintf(&v, "%s/cert.pem", base) >= 0)
			setenv("COBBLE_CERT_PATH", v, 1);
		if (asprintf(&v, "%s/privkey.pem", base) >= 0)
			setenv("COBBLE_KEY_PATH", v, 1);
		if (asprintf(&v, "%s/fullchain.pem", base) >= 0)
			setenv("COBBLE_FULLCHAIN_PATH", v, 1);
		if (asprintf(&v, "%s/chain.pem", base) >= 0)
			setenv("COBBLE_CHAIN_PATH", v, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
