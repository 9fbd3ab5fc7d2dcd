/* The storage interface: the only way the rest of cobbled touches persistent data.
 * One backend per database kind (sqlite.c, postgres.c); callers never see SQL. */
#ifndef COBBLE_STORE_H
#define COBBLE_STORE_H
#include <stddef.h>
#include <stdint.h>

/* Return codes. Every function returns one of these (0 on success). A compare-and-set on a
 * row that does not exist, or a reference to one (an order's account, a serial's order),
 * gives NOTFOUND. An out struct is complete on OK and zeroed otherwise (clearing is safe). */
enum {
	STORE_OK = 0,
	STORE_NOTFOUND = -1, /* no such row */
	STORE_CONFLICT = -2, /* unique violation, or a compare-and-set whose "from" did not match */
	STORE_ERR = -3,      /* backend failure; logged by the backend */
};

#define STORE_ID_MAX 48      /* ids are rand_id() strings (22 chars) or serial hex (<= 40) */
#define STORE_STATUS_MAX 16
#define STORE_TOKEN_MAX 64

/* A handle is used by one thread at a time; each thread opens its own. Handles opened on
 * the same spec share the database (and, for SQLite, the process-wide redeemed-nonce set). */
struct store;

/* spec: "sqlite:/path/to/cobble.db" (a bare path means sqlite too). Creates the database
 * if needed and applies migrations. On failure returns STORE_ERR and writes a one-line
 * reason into err. */
int store_open(const char *spec, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);
/* The database file a store_open spec names for SQLite ("sqlite:PATH" or a bare path), or NULL
 * for any other backend (PostgreSQL URIs; unknown schemes, which store_open refuses). */
const char *store_sqlite_path(const char *spec);

/* ---- durable commits without waiting (issue 7) ----
 * A store call that makes a durable commit (a certificate, a serial block, an account, a
 * revocation) returns once the commit is on disk. On an event loop that wait stalls every
 * connection the loop serves: with 1 000 000 certificates stored, WAL syncs queued behind a
 * checkpoint's took 30-150 ms. Between store_sync_defer(s, 1) and store_sync_defer(s, 0)
 * such calls on s return once committed instead, and store_sync_ticket(s) then names the
 * newest commit s has not seen reach the disk (and forgets it): 0 if there is none (nothing
 * durable was committed, or the backend's commits are on disk when they return, as
 * PostgreSQL's). store_sync_notify calls w->done(w->arg, ok) once commit w->ticket is on disk
 * (ok 1) or its sync failed (ok 0): in the calling thread before it returns if that is known,
 * otherwise later from another thread; w stays the caller's and must live until then.
 * store_close(s) first calls done(arg, 0) for every waiter registered through s that is
 * still waiting, so none is called after it returns. */
struct store_sync_waiter {
	uint64_t ticket;
	void (*done)(void *arg, int ok);
	void *arg;
	const struct store *owner;      /* set by store_sync_notify */
	int ok;                         /* the backend's: the outcome, until done is called */
	struct store_sync_waiter *next; /* the backend's */
};
void store_sync_defer(struct store *s, int on);
uint64_t store_sync_ticket(struct store *s);
void store_sync_notify(struct store *s, struct store_sync_waiter *w);

/* ---- accounts (RFC 8555 §7.1.2) ---- */
struct store_account {
	char id[STORE_ID_MAX];
	char thumbprint[64];       /* RFC 7638 thumbprint of the key: unique */
	char *jwk;                 /* JSON text of the public JWK */
	char *contact;             /* JSON array text, e.g. ["mailto:a@b"], or "[]" */
	char status[STORE_STATUS_MAX]; /* valid | deactivated | revoked */
	int tos_agreed;
	int64_t created_at;        /* unix seconds */
};
void store_account_clear(struct store_account *a); /* frees the heap members */
int store_account_insert(struct store *s, const struct store_account *a); /* CONFLICT on thumbprint */
int store_account_get(struct store *s, const char *id, struct store_account *out);
int store_account_by_thumbprint(struct store *s, const char *thumbprint, struct store_account *out);
/* Updates contact, status, jwk and thumbprint of the row with a->id. CONFLICT on thumbprint. */
int store_account_update(struct store *s, const struct store_account *a);

/* ---- challenges and authorizations (RFC 8555 §7.1.4, §7.1.5) ---- */
struct store_challenge {
	char id[STORE_ID_MAX];
	char authz_id[STORE_ID_MAX];
	char type[16];                 /* http-01 | dns-01 | tls-alpn-01 */
	char token[STORE_TOKEN_MAX];
	char status[STORE_STATUS_MAX]; /* pending | processing | valid | invalid */
	int64_t validated_at;          /* 0 if not validated */
	char *error;                   /* problem JSON text or NULL */
	char *record;                  /* validationRecord JSON array text or NULL */
};

struct store_authz {
	char id[STORE_ID_MAX];
	char account_id[STORE_ID_MAX];
	char ident_type[8];            /* dns (ip later) */
	char ident_value[256];
	int wildcard;
	char status[STORE_STATUS_MAX]; /* pending | valid | invalid | deactivated | revoked (expired is computed) */
	int64_t expires;
	int64_t created_at;
	size_t nchall;
	struct store_challenge *chall; /* nchall entries */
};
void store_authz_clear(struct store_authz *a);
void store_challenge_clear(struct store_challenge *c);
/* Loads an authorization with its challenges. */
int store_authz_get(struct store *s, const char *id, struct store_authz *out);
/* Loads a challenge; if authz_out is non-NULL also its authorization (with all challenges). */
int store_challenge_get(struct store *s, const char *id, struct store_challenge *out,
                        struct store_authz *authz_out);
/* OK if account_id holds a valid, unexpired authorization for the DNS name (revokeCert by
 * authorizations, RFC 8555 §7.6), NOTFOUND if not. */
int store_authz_valid_for(struct store *s, const char *account_id, const char *dns_name, int64_t now);
/* Authorization reuse (issue 4): loads (with its challenges) the valid authorization of
 * account_id for (ident_type, ident_value, wildcard) that expires last, among those with
 * expires > now and a valid challenge validated at or after validated_since. NOTFOUND if none. */
int store_authz_find_reusable(struct store *s, const char *account_id, const char *ident_type,
                              const char *ident_value, int wildcard, int64_t now,
                              int64_t validated_since, struct store_authz *out);
/* Compare-and-set of an authorization's status (deactivation, §7.5.2). */
int store_authz_set_status(struct store *s, const char *id, const char *from, const char *to);
/* Moves a pending challenge of a pending authorization to processing (§7.5.1).
 * CONFLICT if the challenge or authorization is no longer pending. */
int store_challenge_start(struct store *s, const char *chall_id);
/* The same, and in the same statement leased to owner until now + lease_seconds as
 * store_challenge_claim would (issue 7: the validation pool's queue no longer needs a
 * commit of its own to claim what the request just started). */
int store_challenge_start_leased(struct store *s, const char *chall_id, const char *owner, int64_t now,
                                 int64_t lease_seconds);
/* Records a validation result: the challenge becomes valid or invalid, with error and
 * record (either may be NULL), and its authorization becomes valid or invalid with it.
 * A valid result sets the authorization's expiry to valid_until when that is non-zero (a
 * valid authorization lives for the reuse window, not the pending lifetime).
 * Other challenges of the authorization are left as they are; an authorization that is no
 * longer pending (deactivated meanwhile) keeps its status and expiry. CONFLICT if the
 * challenge is not processing. */
int store_challenge_finish(struct store *s, const char *chall_id, int valid, const char *error_json,
                           const char *record_json, int64_t now, int64_t valid_until);
/* Ids of challenges left in processing (to requeue after a restart). *ids is a malloc'd
 * array of n ids (free it with free()). */
int store_challenge_list_processing(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n);
/* Validation jobs across instances (design.md §4): a worker leases a processing challenge
 * before validating it, until now + lease_seconds. With chall_id: OK if it is processing and
 * unleased, its lease has expired, or worker holds it already; CONFLICT if it is not
 * processing or another worker's lease is still running; NOTFOUND if there is no such
 * challenge. With chall_id NULL: leases the processing challenge whose lease expired first
 * (never leased counts as expired; a worker that died leaves an expired lease) and writes
 * its id into out_id; NOTFOUND if there is none. out_id may be NULL when chall_id is given. */
int store_challenge_claim(struct store *s, const char *chall_id, const char *worker, int64_t now,
                          int64_t lease_seconds, char *out_id);

/* ---- orders (RFC 8555 §7.1.3) ---- */
struct store_order {
	char id[STORE_ID_MAX];
	char account_id[STORE_ID_MAX];
	/* Stored status: pending | processing | valid | invalid. "ready" is not stored; it is
	 * derived by the caller from the authorizations (all valid, order still pending). */
	char status[STORE_STATUS_MAX];
	int64_t expires;
	int64_t created_at;
	int64_t not_before;        /* 0 if absent */
	int64_t not_after;         /* 0 if absent */
	char *identifiers;         /* JSON array text [{"type":"dns","value":"..."}] */
	char *error;               /* problem JSON text or NULL */
	char cert_serial[STORE_ID_MAX]; /* "" until issued */
	/* While processing: until when (unix seconds) its finalize may run; an order still
	 * processing then was left by a finalize that was interrupted (store_order_start_processing).
	 * 0 if not recorded. Not written by store_order_insert. */
	int64_t processing_until;
	size_t nauthz;
	char (*authz_ids)[STORE_ID_MAX]; /* nauthz ids, in identifier order */
};
void store_order_clear(struct store_order *o);
/* In one transaction: inserts the new authorizations (with their challenges), the order, and
 * links the order to o->authz_ids (which may name both new and existing authorizations).
 * NOTFOUND if a linked authorization is missing or belongs to another account. */
int store_order_insert(struct store *s, const struct store_order *o,
                       const struct store_authz *new_authzs, size_t nnew);
int store_order_get(struct store *s, const char *id, struct store_order *out);
/* Order ids of an account, newest first, at most limit, starting after offset. */
int store_order_list(struct store *s, const char *account_id, size_t offset, size_t limit,
                     char (**ids)[STORE_ID_MAX], size_t *n);
/* Compare-and-set of an order's status; error_json (may be NULL) is stored with it. */
int store_order_set_status(struct store *s, const char *id, const char *from, const char *to,
                           const char *error_json);
/* Finalize (RFC 8555 §7.4): compare-and-set pending -> processing that records until (unix
 * seconds) as the order's processing_until, the time by which the finalize will have stored
 * its certificate or failed the order. CONFLICT if the order is not pending. */
int store_order_start_processing(struct store *s, const char *id, int64_t until);
/* An interrupted finalize (§7.1.6: processing is transient): compare-and-set processing ->
 * invalid with error_json, only if the order's processing_until is at or before now (0
 * counts as before). CONFLICT if the order is no longer processing (a certificate stored
 * meanwhile wins) or its finalize may still be running. */
int store_order_fail_interrupted(struct store *s, const char *id, int64_t now, const char *error_json);

/* ---- certificates ---- */
struct store_cert {
	char serial[STORE_ID_MAX];  /* lower-case hex, no leading zeros stripped: as reserved */
	char account_id[STORE_ID_MAX];
	char order_id[STORE_ID_MAX];
	unsigned char *der;         /* leaf certificate DER */
	size_t der_len;
	int64_t issued_at, not_before, not_after;
	int64_t revoked_at;         /* 0 if not revoked */
	int revoked_reason;         /* CRLReason, meaningful if revoked_at */
};
void store_cert_clear(struct store_cert *c);
/* Durably reserves a serial for an order before signing (nothing issued is ever lost).
 * CONFLICT if the serial exists. */
int store_serial_reserve(struct store *s, const char *serial, const char *order_id, int64_t now);
/* Durably reserves n serials for no order yet (issue 7: one commit, one WAL sync, for a block
 * that later finalizes take from; see issuance/serials.c), all or none. CONFLICT if one of
 * them is reserved already, in the block or for an order. */
int store_serials_reserve(struct store *s, const char (*serials)[STORE_ID_MAX], size_t n, int64_t now);
/* In one transaction: stores the certificate and moves its order processing -> valid with
 * cert_serial set. The serial is either reserved for this order (store_serial_reserve) or
 * reserved for none (store_serials_reserve), and is then bound to this order in the same
 * transaction. CONFLICT if the order is not processing (or not c->account_id's) or the
 * serial was reserved for another order; NOTFOUND if the serial was never reserved. */
int store_cert_insert_for_order(struct store *s, const struct store_cert *c);
int store_cert_get(struct store *s, const char *serial, struct store_cert *out);
/* Marks a certificate revoked at now with a CRLReason (RFC 5280 §5.3.1). NOTFOUND if no
 * such serial; CONFLICT if it is already revoked (the first revocation stands). */
int store_cert_revoke(struct store *s, const char *serial, int reason, int64_t now);
/* A revoked certificate as a CRL lists it. */
struct store_revoked {
	char serial[STORE_ID_MAX];
	int64_t revoked_at;
	int reason;
};
/* Every revoked certificate whose not_after >= not_after_min (expired ones leave CRLs,
 * RFC 5280 §3.3), ordered by serial. *out is a malloc'd array of *n entries (free()). */
int store_cert_list_revoked(struct store *s, int64_t not_after_min, struct store_revoked **out,
                            size_t *n);

/* ---- renewal and key block list (issue 5) ----
 * Backend-neutral for now: kept in the meta table through meta_get/meta_set (one instance
 * serialises them on its event loop). A backend may replace them with a table and a unique
 * constraint for multi-instance races. */
/* Records that order_id replaces the certificate serial (RFC 9773 §5). CONFLICT if the
 * certificate was already replaced, with the replacing order id in *by (STORE_ID_MAX). */
int store_cert_replace(struct store *s, const char *serial, const char *order_id, char *by);
/* Puts an SPKI hash (hex of SHA-256 of the DER SubjectPublicKeyInfo) on the block list. */
int store_key_block(struct store *s, const char *spki_sha256_hex, int64_t now);
/* OK if the key is blocked, NOTFOUND if not. */
int store_key_blocked(struct store *s, const char *spki_sha256_hex);

/* ---- nonces (design.md §4) ---- */
/* Redeems a nonce once: OK the first time, CONFLICT on every later call from any handle.
 * seq: the nonce's sequence number from its issuer (nonce.c: unique per issuing key, in issue
 * order, never 0). expires lets a backend forget what could no longer verify anyway.
 * SQLite (one process issues every nonce of its database) keeps a window of the
 * STORE_NONCE_WINDOW newest sequence numbers it has seen, one bit each, so memory is fixed
 * however many nonces are issued; a seq that fell out of the window is NOTFOUND (too old to
 * tell: refused). PostgreSQL (instances share the key, so sequence numbers repeat across
 * instances) keeps the ids themselves until they expire. */
#define STORE_NONCE_WINDOW (1u << 20)
int store_nonce_redeem(struct store *s, const unsigned char *id, size_t len, uint64_t seq,
                       int64_t expires, int64_t now);

/* ---- key/value metadata (CA-wide counters, schema version) ---- */
int store_meta_get(struct store *s, const char *key, char *out, size_t outlen);
int store_meta_set(struct store *s, const char *key, const char *value);
/* Atomically adds one to the integer counter at key (absent counts as 0) and returns the new
 * value in *out: two handles (instances) never get the same number (CRL numbers, RFC 5280
 * §5.2.3). The value must be a decimal integer. */
int store_meta_incr(struct store *s, const char *key, int64_t *out);

/* ---- schema and connection state ---- */
/* Brings the schema of spec up to date (`cobbled migrate`). SQLite migrates in store_open
 * too; a PostgreSQL store_open refuses an out-of-date schema and names this command. */
int store_migrate(const char *spec, char *err, size_t errlen);
/* 1 if the last STORE_ERR of s came from a lost database connection (a restart or failover):
 * the request may succeed if retried, so the API answers 503 with Retry-After. */
int store_unavailable(struct store *s);

/* ---- CA-wide locks (design.md §4: jobs that must run once, e.g. CRL generation) ---- */
/* Takes the named lock without waiting: OK if this handle now holds it, CONFLICT if another
 * handle (on PostgreSQL: any instance) holds it. A handle must not take a lock it already
 * holds. The lock goes with the handle: store_close, or on PostgreSQL a lost connection or a
 * crashed instance, releases it. SQLite: a process-wide table (one instance per file). */
int store_lock_try(struct store *s, const char *name);
/* OK, or NOTFOUND if this handle does not hold the lock. */
int store_lock_release(struct store *s, const char *name);

#endif
