/* The PostgreSQL backend's serials and certificates (store.h's operations of the same
 * names, through store_postgres_ops in postgres.c). Private to src/ca/storage. */
#ifndef COBBLE_POSTGRES_CERTS_H
#define COBBLE_POSTGRES_CERTS_H
#include <stddef.h>
#include <stdint.h>
#include "store.h"

int pgc_serial_reserve(struct store *s, const char *serial, const char *order_id,
                       int64_t now);
int pgc_serials_reserve(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n,
                        int64_t now);
int pgc_cert_insert_for_order(struct store *s, const struct store_cert *c);
int pgc_cert_get(struct store *s, const char *serial, struct store_cert *c);
int pgc_cert_revoke(struct store *s, const char *serial, int reason, int64_t now);
int pgc_cert_list_revoked(struct store *s, int64_t not_after_min,
                          struct store_revoked **out, size_t *n);

#endif
