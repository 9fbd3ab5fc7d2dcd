/* libFuzzer target for the OCSP responder (RFC 6960): any request bytes get a DER
 * OCSPResponse (malformedRequest at worst), never a crash. The CA and an empty store are
 * made once in a temporary directory. */
#include <openssl/crypto.h>
#include <openssl/ocsp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuance/ca.h"
#include "issuance/ocsp.h"
#include "storage/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ca *fz_ca;
static struct store *fz_store;
static char fz_dir[] = "/tmp/cobble-fuzz-ocsp.XXXXXX";

static void fz_cleanup(void)
{
	char cmd[64];
	store_close(fz_store);
	ca_free(fz_ca);
	snprintf(cmd, sizeof cmd, "rm -rf %s", fz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_ocsp: could not remove %s\n", fz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static char data[300];
	char spec[300], err[256] = "";
	if (!mkdtemp(fz_dir))
		abort();
	snprintf(data, sizeof data, "%s/data", fz_dir);
	snprintf(spec, sizeof spec, "sqlite:%s/db.sqlite", fz_dir);
	struct ca_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.data_dir = data;
	cfg.base_url = "https://127.0.0.1:14000";
	cfg.crl_shards = 1;
	if (ca_open(&cfg, &fz_ca, err, sizeof err) != 0 || store_open(spec, &fz_store, err, sizeof err) != STORE_OK) {
		fprintf(stderr, "fuzz_ocsp: set-up failed: %s\n", err);
		abort();
	}
	atexit(fz_cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL;
	size_t out_len = 0;
	if (ocsp_respond(fz_ca, fz_store, data, size, 1800000000, &out, &out_len) != 0)
		__builtin_trap();
	const unsigned char *p = out;
	OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)out_len);
	if (!r)
		__builtin_trap(); /* every answer is a well-formed OCSPResponse */
	OCSP_RESPONSE_free(r);
	OPENSSL_free(out);
	return 0;
}
