/* LD_PRELOAD shim for test_finalize_hangup.sh: every fdatasync(2) of the process first sleeps
 * SLOWSYNC_MS milliseconds (default 300), so a client can hang up while cobbled's reply waits
 * for its certificate's WAL sync. Test-only; built by the script with cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	const char *ms = getenv("SLOWSYNC_MS");
	long n = ms ? strtol(ms, NULL, 10) : 300;
	struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	return real ? real(fd) : -1;
}
