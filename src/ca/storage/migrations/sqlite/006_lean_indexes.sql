-- Version 6 (issue 7): two indexes that every issuance wrote for nothing.
-- challenges_processing (id WHERE status = 'processing') duplicated challenges_leases
-- (lease_until, id, same WHERE): both were written when a challenge started and again when it
-- finished. Its one reader, the list of challenges left in processing at start-up, now scans
-- challenges_leases (INDEXED BY, sqlite_query.c).
-- authzs_for_reuse held every authorization under its status and expiry, so each one was
-- written at newOrder (pending) and moved when it was validated; both of its readers (reuse,
-- and the check that an account holds a valid authorization) ask only for valid ones.
-- authzs_valid holds the valid ones only: written once, when an authorization becomes valid.
-- Bench (strace of the WAL frame headers, N=1000 W=8): see docs/architecture.md.
DROP INDEX IF EXISTS challenges_processing;
DROP INDEX IF EXISTS authzs_for_reuse;
CREATE INDEX IF NOT EXISTS authzs_valid ON authzs (account_id, ident_type, ident_value, wildcard, expires)
    WHERE status = 'valid';
