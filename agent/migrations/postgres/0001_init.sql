-- Conversations, their messages, patient sessions, idempotent turn results, the per-turn
-- audit chain and the escalation queue. Patient content is stored sealed (AES-256-GCM).
CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL,
    status          TEXT NOT NULL,
    started_by      TEXT NOT NULL,
    script_id       TEXT,
    script_version  BIGINT,
    state           BYTEA NOT NULL,
    state_version   BIGINT NOT NULL,
    turn_lock       TEXT,
    lock_expires    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX conversations_patient ON conversations (patient_id, updated_at);

CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             BIGINT NOT NULL,
    role            TEXT NOT NULL,
    body            BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE turn_results (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    idempotency_key TEXT NOT NULL,
    response        BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, idempotency_key)
);

CREATE TABLE patient_sessions (
    token_hash      TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL
);

CREATE TABLE audit_log (
    seq             BIGINT PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    payload         BYTEA NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE
);

CREATE TABLE escalations (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    patient_id      TEXT NOT NULL,
    priority        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    due_at          BIGINT NOT NULL
);
CREATE INDEX escalations_open ON escalations (status, priority, due_at);
