/* The PostgreSQL backend's orders, authorizations and challenges (store.h's operations of the same
 * names, through store_postgres_ops in postgres.c). Private to src/ca/storage. */
#ifndef COBBLE_POSTGRES_ORDERS_H
#define COBBLE_POSTGRES_ORDERS_H
#include <stddef.h>
#include <stdint.h>
#include "store.h"

int pgo_authz_get(struct store *s, const char *id, struct store_authz *out);
int pgo_challenge_get(struct store *s, const char *id, struct store_challenge *out,
                      struct store_authz *authz_out);
int pgo_authz_valid_for(struct store *s, const char *account_id, const char *dns_name,
                        int64_t now);
int pgo_authz_find_reusable(struct store *s, const char *account_id, const char *ident_type,
                            const char *ident_value, int wildcard, int64_t now,
                            int64_t validated_since, struct store_authz *out);
int pgo_authz_set_status(struct store *s, const char *id, const char *from, const char *to);
int pgo_challenge_start(struct store *s, const char *chall_id, const char *owner, int64_t until);
int pgo_challenge_finish(struct store *s, const char *chall_id, int valid,
                         const char *error_json, const char *record_json, int64_t now,
                         int64_t valid_until);
int pgo_challenge_list_processing(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n);
int pgo_challenge_claim(struct store *s, const char *chall_id, const char *worker,
                        int64_t now, int64_t until, char *out_id);
int pgo_order_insert(struct store *s, const struct store_order *o,
                     const struct store_authz *new_authzs, size_t nnew);
int pgo_order_get(struct store *s, const char *id, struct store_order *o);
int pgo_order_list(struct store *s, const char *account_id, size_t offset, size_t limit,
                   char (**ids)[STORE_ID_MAX], size_t *n);
int pgo_order_set_status(struct store *s, const char *id, const char *from, const char *to,
                         const char *error_json);
int pgo_order_start_processing(struct store *s, const char *id, int64_t until);
int pgo_order_fail_interrupted(struct store *s, const char *id, int64_t now,
                               const char *error_json);

#endif
