/* The SQLite backend's serials and certificates (store.h's operations of the same names,
 * through store_sqlite_ops in sqlite.c). Private to src/ca/storage. */
#ifndef COBBLE_SQLITE_CERTS_H
#define COBBLE_SQLITE_CERTS_H
#include <stddef.h>
#include <stdint.h>
#include "store.h"

int sqc_serial_reserve(struct store *s, const char *serial, const char *order_id,
                       int64_t now);
int sqc_serials_reserve(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n,
                        int64_t now);
int sqc_cert_insert_for_order(struct store *s, const struct store_cert *c);
int sqc_cert_get(struct store *s, const char *serial, struct store_cert *c);
int sqc_cert_revoke(struct store *s, const char *serial, int reason, int64_t now);
int sqc_cert_list_revoked(struct store *s, int64_t not_after_min, struct store_revoked **out,
                          size_t *n);

#endif
