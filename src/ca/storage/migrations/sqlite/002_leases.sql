-- Version 2 (issue 6): validation jobs are leased (store_challenge_claim), so that with
-- several instances one worker validates a challenge and a job whose worker died is taken
-- over once its lease runs out. lease_until is unix seconds; 0 = never leased.
ALTER TABLE challenges ADD COLUMN lease_owner TEXT;
ALTER TABLE challenges ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX challenges_leases ON challenges (lease_until, id) WHERE status = 'processing';
