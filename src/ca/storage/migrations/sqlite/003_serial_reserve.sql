-- Version 3 (issue 7): serial numbers reserved durably in blocks before any is signed
-- (design.md §4), so a finalize no longer waits for a WAL sync of its own serial. A serial
-- here is reserved for no order yet; store_cert_insert_for_order moves it into serials, bound
-- to its order, in the transaction that stores the certificate. Rows left here after a crash
-- or shutdown are serials that may have been signed but whose certificate was never stored,
-- exactly like a serials row without a certificate.
CREATE TABLE serial_reserve (
	serial      TEXT PRIMARY KEY,
	reserved_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
