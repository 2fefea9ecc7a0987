-- EHR writes the EHR did not answer for (the outbox). A turn that kept a write commits its row
-- here in the same transaction as its reply, so the patient is never told "kept" for a write
-- that was not. A worker on every replica makes each due write with its own idempotency key:
-- a row is leased (lease_token, lease_until) before the EHR is called, and it leaves
-- 'pending' by a conditional update in the transaction that tells the patient and writes the
-- audit record, so each write is made once and told once.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    patient_id      TEXT NOT NULL,
    action          TEXT NOT NULL,
    -- Sealed JSON of the write (slot, medication, answers ...) for the patient's key.
    body            BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_token     TEXT,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    -- FHIR resource made ('Appointment/123'), or the error kind when it failed for good.
    result          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
