-- Version 3 (issue 7), as migrations/sqlite/003_serial_reserve.sql: serial numbers reserved
-- in blocks, bound to an order when its certificate is stored. Each instance reserves its own.
CREATE TABLE serial_reserve (
	serial      TEXT PRIMARY KEY,
	reserved_at BIGINT NOT NULL
);
