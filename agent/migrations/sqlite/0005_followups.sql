-- Background follow-ups. A follow-up the patient never answered gets one coordinator case:
-- the id of that case is set once, by a conditional update, so replicas cannot both raise it.
ALTER TABLE outreach ADD COLUMN no_reply_escalation TEXT;

-- Refill Tasks (FHIR) a conversation created and the status the patient was last told of;
-- a poll compares the EHR's status and moves last_status with the message it sends, in one
-- transaction, so each change is told once. Closed once the Task reaches a final status.
CREATE TABLE refill_watches (
    task_id         TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    patient_id      TEXT NOT NULL,
    last_status     TEXT NOT NULL,
    closed          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX refill_watches_open ON refill_watches (closed, updated_at);
