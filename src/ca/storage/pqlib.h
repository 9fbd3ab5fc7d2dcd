/* libpq, loaded on first use (dlopen) instead of linked: only a postgres:// store needs it,
 * and linking it made every cobbled map and initialise libpq with its dependencies (Kerberos,
 * LDAP, SASL, GnuTLS: ~2 MiB of resident pages, issue 7). postgres.c includes this after
 * libpq-fe.h and calls the PQ* names as usual; they resolve to pointers filled by pqlib_load. */
#ifndef COBBLE_PQLIB_H
#define COBBLE_PQLIB_H
#include <libpq-fe.h>
#include <stddef.h>

struct pqlib {
	PGconn *(*connectdb)(const char *);
	ConnStatusType (*status)(const PGconn *);
	void (*finish)(PGconn *);
	void (*reset)(PGconn *);
	char *(*error_message)(const PGconn *);
	int (*socket)(const PGconn *);
	int (*consume_input)(PGconn *);
	PGTransactionStatusType (*transaction_status)(const PGconn *);
	PQnoticeProcessor (*set_notice_processor)(PGconn *, PQnoticeProcessor, void *);
	PGresult *(*exec)(PGconn *, const char *);
	PGresult *(*prepare)(PGconn *, const char *, const char *, int, const Oid *);
	PGresult *(*exec_prepared)(PGconn *, const char *, int, const char *const *, const int *, const int *, int);
	ExecStatusType (*result_status)(const PGresult *);
	char *(*result_error_message)(const PGresult *);
	char *(*result_error_field)(const PGresult *, int);
	void (*clear)(PGresult *);
	int (*ntuples)(const PGresult *);
	char *(*fname)(const PGresult *, int);
	char *(*getvalue)(const PGresult *, int, int);
	int (*getlength)(const PGresult *, int, int);
	int (*getisnull)(const PGresult *, int, int);
	char *(*cmd_tuples)(PGresult *);
	unsigned char *(*unescape_bytea)(const unsigned char *, size_t *);
	void (*freemem)(void *);
};

/* Filled by pqlib_load; valid only after it returned 0. */
extern struct pqlib pqlib;

/* Loads libpq once (thread-safe). 0, or -1 with a one-line reason in err. */
int pqlib_load(char *err, size_t errlen);

#ifndef PQLIB_NO_NAMES
#define PQconnectdb pqlib.connectdb
#define PQstatus pqlib.status
#define PQfinish pqlib.finish
#define PQreset pqlib.reset
#define PQerrorMessage pqlib.error_message
#define PQsocket pqlib.socket
#define PQconsumeInput pqlib.consume_input
#define PQtransactionStatus pqlib.transaction_status
#define PQsetNoticeProcessor pqlib.set_notice_processor
#define PQexec pqlib.exec
#define PQprepare pqlib.prepare
#define PQexecPrepared pqlib.exec_prepared
#define PQresultStatus pqlib.result_status
#define PQresultErrorMessage pqlib.result_error_message
#define PQresultErrorField pqlib.result_error_field
#define PQclear pqlib.clear
#define PQntuples pqlib.ntuples
#define PQfname pqlib.fname
#define PQgetvalue pqlib.getvalue
#define PQgetlength pqlib.getlength
#define PQgetisnull pqlib.getisnull
#define PQcmdTuples pqlib.cmd_tuples
#define PQunescapeBytea pqlib.unescape_bytea
#define PQfreemem pqlib.freemem
#endif

#endif
