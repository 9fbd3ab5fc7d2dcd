-- Version 1: the initial schema. Applied once inside a transaction by sqlite.c, which then
-- sets PRAGMA user_version to the number of migrations applied. Never edit a released
-- migration; add NNN_name.sql instead (and list it in src/ca/storage/meson.build).

-- RFC 8555 §7.1.2. One account per key: the RFC 7638 thumbprint is unique.
CREATE TABLE accounts (
	id         TEXT PRIMARY KEY,
	thumbprint TEXT NOT NULL UNIQUE,
	jwk        TEXT NOT NULL,
	contact    TEXT NOT NULL DEFAULT '[]',
	status     TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
	tos_agreed INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
) STRICT;

-- RFC 8555 §7.1.3. "ready" is derived, never stored; cert_serial is NULL until issued.
CREATE TABLE orders (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	status      TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
	expires     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	not_before  INTEGER NOT NULL DEFAULT 0,
	not_after   INTEGER NOT NULL DEFAULT 0,
	identifiers TEXT NOT NULL,
	error       TEXT,
	cert_serial TEXT REFERENCES certs (serial)
) STRICT;
-- An account's orders, newest first (rowid, implicit in the index, breaks ties).
CREATE INDEX orders_by_account ON orders (account_id, created_at DESC);

-- RFC 8555 §7.1.4. "expired" is derived from expires, never stored.
CREATE TABLE authzs (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	ident_type  TEXT NOT NULL,
	ident_value TEXT NOT NULL,
	wildcard    INTEGER NOT NULL DEFAULT 0,
	status      TEXT NOT NULL
	            CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'revoked')),
	expires     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;
-- Authorization reuse: a valid, unexpired authz of this account for this identifier.
CREATE INDEX authzs_for_reuse ON authzs (account_id, ident_type, ident_value, status, expires);

-- An order's authorizations in identifier order; an authz may serve several orders.
CREATE TABLE order_authzs (
	order_id TEXT NOT NULL REFERENCES orders (id),
	authz_id TEXT NOT NULL REFERENCES authzs (id),
	position INTEGER NOT NULL,
	PRIMARY KEY (order_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX order_authzs_by_authz ON order_authzs (authz_id);

-- RFC 8555 §7.1.5 / §8. position keeps the order the challenges were offered in.
CREATE TABLE challenges (
	id           TEXT PRIMARY KEY,
	authz_id     TEXT NOT NULL REFERENCES authzs (id),
	position     INTEGER NOT NULL,
	type         TEXT NOT NULL,
	token        TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
	validated_at INTEGER NOT NULL DEFAULT 0,
	error        TEXT,
	record       TEXT
) STRICT;
CREATE INDEX challenges_by_authz ON challenges (authz_id, position);
-- Small: only challenges in flight, requeued after a restart.
CREATE INDEX challenges_processing ON challenges (id) WHERE status = 'processing';

-- A serial is reserved durably before anything is signed with it (design.md §4).
CREATE TABLE serials (
	serial      TEXT PRIMARY KEY,
	order_id    TEXT NOT NULL REFERENCES orders (id),
	reserved_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Issued certificates; a certificate exists only under a reserved serial.
CREATE TABLE certs (
	serial         TEXT PRIMARY KEY REFERENCES serials (serial),
	account_id     TEXT NOT NULL REFERENCES accounts (id),
	order_id       TEXT NOT NULL REFERENCES orders (id),
	der            BLOB NOT NULL,
	issued_at      INTEGER NOT NULL,
	not_before     INTEGER NOT NULL,
	not_after      INTEGER NOT NULL,
	revoked_at     INTEGER NOT NULL DEFAULT 0,
	revoked_reason INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX certs_by_account ON certs (account_id);
CREATE INDEX certs_by_not_after ON certs (not_after);
CREATE INDEX certs_revoked ON certs (revoked_at) WHERE revoked_at != 0;

-- CA-wide key/value data (counters, CRL numbers, ...).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
