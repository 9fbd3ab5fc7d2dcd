-- Version 2 (issue 6), as migrations/sqlite/002_leases.sql: leases on validation jobs
-- (store_challenge_claim). lease_until is unix seconds; 0 = never leased.
ALTER TABLE challenges ADD COLUMN lease_owner TEXT;
ALTER TABLE challenges ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX challenges_leases ON challenges (lease_until, id) WHERE status = 'processing';
