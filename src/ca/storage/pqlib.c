/* dlopen of libpq (see pqlib.h). */
#define PQLIB_NO_NAMES
#include "pqlib.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The soname of libpq 10 and later (Debian: libpq5). */
#define LIBPQ_SONAME "libpq.so.5"

struct pqlib pqlib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

/* Each entry: the symbol and where its address goes. */
#define SYM(field, name) {name, (void **)&pqlib.field}

static void load(void)
{
	const struct {
		const char *name;
		void **slot;
	} syms[] = {
	    SYM(connectdb, "PQconnectdb"),
	    SYM(status, "PQstatus"),
	    SYM(finish, "PQfinish"),
	    SYM(reset, "PQreset"),
	    SYM(error_message, "PQerrorMessage"),
	    SYM(socket, "PQsocket"),
	    SYM(consume_input, "PQconsumeInput"),
	    SYM(transaction_status, "PQtransactionStatus"),
	    SYM(set_notice_processor, "PQsetNoticeProcessor"),
	    SYM(exec, "PQexec"),
	    SYM(prepare, "PQprepare"),
	    SYM(exec_prepared, "PQexecPrepared"),
	    SYM(result_status, "PQresultStatus"),
	    SYM(result_error_message, "PQresultErrorMessage"),
	    SYM(result_error_field, "PQresultErrorField"),
	    SYM(clear, "PQclear"),
	    SYM(ntuples, "PQntuples"),
	    SYM(fname, "PQfname"),
	    SYM(getvalue, "PQgetvalue"),
	    SYM(getlength, "PQgetlength"),
	    SYM(getisnull, "PQgetisnull"),
	    SYM(cmd_tuples, "PQcmdTuples"),
	    SYM(unescape_bytea, "PQunescapeBytea"),
	    SYM(freemem, "PQfreemem"),
	};
	void *h = dlopen(LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(load_error, sizeof load_error, "a PostgreSQL store needs libpq (%s): %s; install libpq5",
		         LIBPQ_SONAME, e ? e : "not found");
		return;
	}
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		void *f = dlsym(h, syms[i].name);
		if (!f) {
			snprintf(load_error, sizeof load_error, "%s has no %s: libpq is too old", LIBPQ_SONAME,
			         syms[i].name);
			memset(&pqlib, 0, sizeof pqlib);
			return; /* h stays loaded: harmless, and dlclose could race nothing useful */
		}
		*syms[i].slot = f;
	}
}

int pqlib_load(char *err, size_t errlen)
{
	pthread_once(&once, load);
	if (pqlib.connectdb)
		return 0;
	snprintf(err, errlen, "%s", load_error[0] ? load_error : "libpq could not be loaded");
	return -1;
}
