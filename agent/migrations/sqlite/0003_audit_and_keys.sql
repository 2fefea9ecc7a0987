-- Signed checkpoints of the audit log: the Merkle tree head of records 1..tree_size, signed
-- with the audit key (Ed25519). Also appended to a file the operator ships off the machine.
CREATE TABLE audit_checkpoints (
    tree_size       INTEGER PRIMARY KEY,
    root            TEXT NOT NULL,
    at              INTEGER NOT NULL,
    key_id          TEXT NOT NULL,
    signature       TEXT NOT NULL
);

-- Per-patient data keys, wrapped (nonce + AES-256-GCM ciphertext) by key-encryption key
-- kek_version. `uses` counts seals reserved under the key; past the limit a new version is
-- made. Shredding a patient deletes their rows here.
CREATE TABLE data_keys (
    patient_id      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    kek_version     INTEGER NOT NULL,
    wrapped         BLOB NOT NULL,
    uses            INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (patient_id, version)
);
CREATE INDEX data_keys_kek ON data_keys (kek_version);

-- A patient whose data must not be destroyed (litigation, investigation).
CREATE TABLE legal_holds (
    patient_id      TEXT PRIMARY KEY,
    reason          TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

-- The audit log and its checkpoints are append-only: the service never changes or deletes a
-- row, and neither may anyone else through SQL (someone who drops these triggers to do it is
-- caught by `agent audit verify`).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
