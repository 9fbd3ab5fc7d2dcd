/* Small string helpers shared by the CA and the agent. */
#include "str.h"
#include <stdlib.h>
#include <string.h>

char *str_copy(const void *p, size_t n)
{
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	if (n)
		memcpy(out, p, n);
	out[n] = '\0';
	return out;
}
