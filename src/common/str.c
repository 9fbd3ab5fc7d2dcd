/* Small string helpers shared by the CA and the agent. */
#include "str.h"
#include <stdarg.h>
#include <stdio.h>
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

void str_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
