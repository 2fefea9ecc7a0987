-- A patient's conversations are listed newest first by when they started (created_at). The
-- index had updated_at instead, which every turn changes, so every turn's commit also
-- rewrote its index entry. (PostgreSQL's migration also leaves room on each page for a
-- turn's row versions; SQLite updates rows in place.)
DROP INDEX conversations_patient;
CREATE INDEX conversations_patient ON conversations (patient_id, created_at);
