-- A patient's conversations are listed newest first by when they started (created_at). The
-- index had updated_at instead, which every turn changes: each turn's commit then wrote new
-- entries in both of the table's indexes, where an update that touches no indexed column can
-- stay on its page and write none (a heap-only tuple). A turn updates its conversation twice
-- (the turn lock, then the commit), so the table also leaves a fifth of each page free for
-- those versions. Building the index holds off writes to the table while it runs (seconds for
-- a million conversations).
DROP INDEX conversations_patient;
CREATE INDEX conversations_patient ON conversations (patient_id, created_at);
ALTER TABLE conversations SET (fillfactor = 80);
