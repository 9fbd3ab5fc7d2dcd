-- Version 4: an interrupted finalize ends. A finalize moves its order pending -> processing
-- and records here until when it may run (unix seconds: the finalize's start plus the bound
-- orders.c gives it, orders_processing_seconds); an order still processing after that was
-- left by a process that died between that step and the certificate's commit, and is made
-- invalid (orders_order_status, store_order_fail_interrupted). 0: not recorded (an order moved
-- to processing before this version, or by store_order_set_status), which counts as already
-- past. One instance owns a SQLite file, so an order processing when this runs was left by a
-- process that is gone.
ALTER TABLE orders ADD COLUMN processing_until INTEGER NOT NULL DEFAULT 0;
