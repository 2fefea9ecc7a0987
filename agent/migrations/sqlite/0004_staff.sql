-- The staff side: local users (Argon2id password, sealed TOTP secret), their sessions, the
-- escalation queue's working columns (optimistic version, claim, resolution, SLA breach) and
-- live takeovers of conversations.
CREATE TABLE staff_users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    totp_secret     BLOB NOT NULL,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0,
    -- Failed sign-in steps in a row; at the limit the account is locked until locked_until.
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES staff_users (id),
    mfa_done        INTEGER NOT NULL,
    break_glass_until INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);

ALTER TABLE escalations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN claimed_by TEXT;
ALTER TABLE escalations ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN resolved_at INTEGER;
ALTER TABLE escalations ADD COLUMN note BLOB;
ALTER TABLE escalations ADD COLUMN breach_fired INTEGER NOT NULL DEFAULT 0;

CREATE TABLE takeovers (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    staff_id        TEXT NOT NULL,
    started_at      INTEGER NOT NULL
);

-- Script management: one draft per script id, and published versions that never change
-- (a roll back publishes an old source again as a new version).
CREATE TABLE script_drafts (
    script_id       TEXT PRIMARY KEY,
    source          TEXT NOT NULL,
    author          TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE script_versions (
    script_id       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    source          TEXT NOT NULL,
    author          TEXT NOT NULL,
    published_at    INTEGER NOT NULL,
    PRIMARY KEY (script_id, version)
);
