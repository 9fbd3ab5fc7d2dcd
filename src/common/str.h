/* Small string helpers shared by the CA and the agent. */
#ifndef COBBLE_STR_H
#define COBBLE_STR_H
#include <stddef.h>

/* A NUL-terminated copy of exactly n bytes at p, which need not be NUL-terminated
 * (a memory BIO's data, a curl header). Unlike strndup it never reads p[n]. NULL on
 * allocation failure. */
char *str_copy(const void *p, size_t n);

#endif
