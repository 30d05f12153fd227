-- Idempotency keys are kept for a retention window (IDEMPOTENCY_KEY_RETENTION_HOURS, 24 h by
-- default) and then deleted by each storing service's sweeper, in small batches, oldest first:
-- DELETE ... WHERE created_at < ? ORDER BY created_at, idem_key LIMIT n. Without an index on
-- created_at every batch would scan the whole random-key primary key. The index is append-only
-- in practice (keys are stamped with the server's clock as they are stored), so it costs the
-- writer's inserts little, and the primary key its entries carry makes that order exact.
-- Built online (no lock on the table's writes), MySQL 8+ and MariaDB 10.11+ alike.
ALTER TABLE idempotency_keys ADD INDEX idempotency_keys_by_age (created_at), ALGORITHM = INPLACE, LOCK = NONE;
