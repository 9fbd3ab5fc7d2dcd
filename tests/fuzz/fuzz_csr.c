/* libFuzzer target for the finalize CSR check: any bytes in, a verdict out, never a crash.
 * The order's names are fixed so that inputs can reach the name comparison. */
#include <stddef.h>
#include <stdint.h>

#include "issuance/csrcheck.h"
#include "problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"example.com", "www.example.com", "*.example.org"};
	struct csr req;
	struct problem *prob = NULL;
	int rc = csrcheck_verify(data, size, names, sizeof names / sizeof names[0], &req, &prob);
	/* Exactly one of the two outputs is set. */
	if ((rc == 0) != (req.key != NULL) || (rc == 0) != (req.spki != NULL) || (rc == 0) == (prob != NULL))
		__builtin_trap();
	csr_clear(&req);
	problem_free(prob);
	return 0;
}
