/* A bounded in-memory copy of account rows by id, for a backend that sees every change made
 * to its accounts (SQLite, where one process serves a database: sqlite_file.c keeps one per
 * file). Issue 7: every request signed with a kid loaded its account row, 7 of the 22 store
 * calls of an issuance; a hit costs a lookup under this cache's own mutex and a copy.
 * Direct-mapped: ACCTCACHE_SLOTS entries, a new row replaces the one in its slot, so memory
 * stays bounded (~0.5 MiB at most) whatever the number of accounts. Thread-safe. The caller
 * keeps it coherent: put a row only as read inside the store call that read it, forget an id
 * in the store call that changes its row, both while holding what serialises the backend's
 * calls, so a row read before a change can never be put after it. */
#ifndef COBBLE_ACCTCACHE_H
#define COBBLE_ACCTCACHE_H
#include "store.h"

#define ACCTCACHE_SLOTS 1024

struct acctcache;

struct acctcache *acctcache_new(void);
void acctcache_free(struct acctcache *c);
/* 1 and a deep copy in out (free with store_account_clear) on a hit; 0 on a miss or when out
 * of memory (out is then cleared). */
int acctcache_get(struct acctcache *c, const char *id, struct store_account *out);
/* Keeps a copy of a (silently not, when out of memory). */
void acctcache_put(struct acctcache *c, const struct store_account *a);
void acctcache_forget(struct acctcache *c, const char *id);
void acctcache_clear(struct acctcache *c);

#endif
