/* One issuance (RFC 8555 §7.4): new order, every authorization through a solver, finalize
 * with a CSR, download the chain (choosing an alternate by issuer when asked). */
#ifndef COBBLE_AGENT_ORDER_H
#define COBBLE_AGENT_ORDER_H
#include <openssl/evp.h>
#include "agent/acme/client.h"
#include "agent/solvers/solver.h"

struct order_req {
	const char *const *names;
	size_t nnames;
	EVP_PKEY *cert_key;
	enum solver_kind solver_kind;
	const char *profile;         /* NULL: server default */
	const char *replaces;        /* ARI CertID of the certificate this one replaces, or NULL */
	const char *preferred_chain; /* issuer CN, or NULL */
};

/* Runs the order; *fullchain gets the PEM chain (leaf first) and *order_url the order.
 * 0 or -1 with a one-line reason in err. */
int order_run(struct acme_client *c, struct solver *s, const struct order_req *req, char **fullchain,
              char **order_url, char *err, size_t errlen);

/* Key authorization (RFC 8555 §8.1): token "." thumbprint(account key). malloc'd. */
char *order_key_authorization(EVP_PKEY *account_key, const char *token);

#endif
