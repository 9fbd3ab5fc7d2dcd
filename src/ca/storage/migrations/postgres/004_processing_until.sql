-- Version 4, as migrations/sqlite/004_processing_until.sql: until when a finalize may keep its
-- order processing (unix seconds; 0: not recorded, counts as past). `cobbled migrate` may run
-- while instances of the previous version still serve: an order processing now may be in a
-- live finalize, so it gets 360 s (3 x the largest validationTimeoutMs, 120 s) from now.
ALTER TABLE orders ADD COLUMN processing_until BIGINT NOT NULL DEFAULT 0;
UPDATE orders SET processing_until = EXTRACT(EPOCH FROM now())::bigint + 360
	WHERE status = 'processing';
