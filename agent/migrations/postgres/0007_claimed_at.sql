-- When a person first claimed each case: the outcome metrics' time to a person (claim time
-- minus the case's creation), by priority. Cases claimed before this column existed have none.
ALTER TABLE escalations ADD COLUMN claimed_at BIGINT;
