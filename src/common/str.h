/* Small string helpers shared by the CA and the agent. */
#ifndef COBBLE_STR_H
#define COBBLE_STR_H
#include <stddef.h>

/* A NUL-terminated copy of exactly n bytes at p, which need not be NUL-terminated
 * (a memory BIO's data, a curl header). Unlike strndup it never reads p[n]. NULL on
 * allocation failure. */
char *str_copy(const void *p, size_t n);

/* printf into the caller's error buffer err (errlen bytes), truncating; nothing if err is NULL
 * or errlen 0. */
__attribute__((format(printf, 3, 4))) void str_seterr(char *err, size_t errlen, const char *fmt, ...);

#endif
