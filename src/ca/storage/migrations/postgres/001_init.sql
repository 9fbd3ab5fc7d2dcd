-- Version 1 on PostgreSQL: the same tables as migrations/sqlite/001_init.sql, column for
-- column. Applied by `cobbled migrate` (postgres.c) in one transaction, which then records the
-- version in cobble_schema. Never edit a released migration; add NNN_name.sql with the same
-- number as its SQLite twin.

CREATE TABLE accounts (
	id         TEXT PRIMARY KEY,
	thumbprint TEXT NOT NULL UNIQUE,
	jwk        TEXT NOT NULL,
	contact    TEXT NOT NULL DEFAULT '[]',
	status     TEXT NOT NULL CHECK (status IN ('valid', 'deactivated', 'revoked')),
	tos_agreed INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);

CREATE TABLE orders (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	status      TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
	expires     BIGINT NOT NULL,
	created_at  BIGINT NOT NULL,
	not_before  BIGINT NOT NULL DEFAULT 0,
	not_after   BIGINT NOT NULL DEFAULT 0,
	identifiers TEXT NOT NULL,
	error       TEXT,
	cert_serial TEXT,
	-- SQLite's rowid: insertion order breaks ties between orders created in one second.
	seq         BIGSERIAL NOT NULL
);
CREATE INDEX orders_by_account ON orders (account_id, created_at DESC, seq DESC);

CREATE TABLE authzs (
	id          TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	ident_type  TEXT NOT NULL,
	ident_value TEXT NOT NULL,
	wildcard    INTEGER NOT NULL DEFAULT 0,
	status      TEXT NOT NULL
	            CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'revoked')),
	expires     BIGINT NOT NULL,
	created_at  BIGINT NOT NULL
);
CREATE INDEX authzs_for_reuse ON authzs (account_id, ident_type, ident_value, status, expires);

CREATE TABLE order_authzs (
	order_id TEXT NOT NULL REFERENCES orders (id),
	authz_id TEXT NOT NULL REFERENCES authzs (id),
	position INTEGER NOT NULL,
	PRIMARY KEY (order_id, position)
);
CREATE INDEX order_authzs_by_authz ON order_authzs (authz_id);

CREATE TABLE challenges (
	id           TEXT PRIMARY KEY,
	authz_id     TEXT NOT NULL REFERENCES authzs (id),
	position     INTEGER NOT NULL,
	type         TEXT NOT NULL,
	token        TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
	validated_at BIGINT NOT NULL DEFAULT 0,
	error        TEXT,
	record       TEXT
);
CREATE INDEX challenges_by_authz ON challenges (authz_id, position);
CREATE INDEX challenges_processing ON challenges (id) WHERE status = 'processing';

CREATE TABLE serials (
	serial      TEXT PRIMARY KEY,
	order_id    TEXT NOT NULL REFERENCES orders (id),
	reserved_at BIGINT NOT NULL
);

CREATE TABLE certs (
	serial         TEXT PRIMARY KEY REFERENCES serials (serial),
	account_id     TEXT NOT NULL REFERENCES accounts (id),
	order_id       TEXT NOT NULL REFERENCES orders (id),
	der            BYTEA NOT NULL,
	issued_at      BIGINT NOT NULL,
	not_before     BIGINT NOT NULL,
	not_after      BIGINT NOT NULL,
	revoked_at     BIGINT NOT NULL DEFAULT 0,
	revoked_reason INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certs_by_account ON certs (account_id);
CREATE INDEX certs_by_not_after ON certs (not_after);
CREATE INDEX certs_revoked ON certs (revoked_at) WHERE revoked_at != 0;

-- SQLite creates orders before certs, so its reference is declared in the table; here after.
ALTER TABLE orders ADD CONSTRAINT orders_cert_serial_fkey
	FOREIGN KEY (cert_serial) REFERENCES certs (serial);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- design.md §4: the redeemed-nonce set shared by every instance. UNLOGGED: not WAL-logged
-- nor replicated, emptied after a crash, which is safe because nonce.key-signed nonces
-- older than a restart of the whole database are rare and expire within minutes anyway.
CREATE UNLOGGED TABLE nonces (
	id      BYTEA PRIMARY KEY,
	expires BIGINT NOT NULL
);
CREATE INDEX nonces_by_expiry ON nonces (expires);
