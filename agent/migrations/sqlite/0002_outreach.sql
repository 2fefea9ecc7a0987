-- Follow-ups the agent started: at most one per discharge encounter, across replicas.
CREATE TABLE outreach (
    encounter_id    TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL,
    conversation_id TEXT,
    created_at      INTEGER NOT NULL
);
