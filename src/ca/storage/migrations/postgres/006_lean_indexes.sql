-- Version 6 (issue 7), as SQLite's: challenges_processing duplicated challenges_leases, and
-- authzs_for_reuse was written for every authorization although its readers ask only for
-- valid ones; authzs_valid holds those.
DROP INDEX IF EXISTS challenges_processing;
DROP INDEX IF EXISTS authzs_for_reuse;
CREATE INDEX IF NOT EXISTS authzs_valid ON authzs (account_id, ident_type, ident_value, wildcard, expires)
    WHERE status = 'valid';
