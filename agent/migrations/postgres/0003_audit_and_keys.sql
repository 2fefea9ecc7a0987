-- Signed checkpoints of the audit log: the Merkle tree head of records 1..tree_size, signed
-- with the audit key (Ed25519). Also appended to a file the operator ships off the machine.
CREATE TABLE audit_checkpoints (
    tree_size       BIGINT PRIMARY KEY,
    root            TEXT NOT NULL,
    at              BIGINT NOT NULL,
    key_id          TEXT NOT NULL,
    signature       TEXT NOT NULL
);

-- Per-patient data keys, wrapped (nonce + AES-256-GCM ciphertext) by key-encryption key
-- kek_version. `uses` counts seals reserved under the key; past the limit a new version is
-- made. Shredding a patient deletes their rows here.
CREATE TABLE data_keys (
    patient_id      TEXT NOT NULL,
    version         BIGINT NOT NULL,
    kek_version     BIGINT NOT NULL,
    wrapped         BYTEA NOT NULL,
    uses            BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (patient_id, version)
);
CREATE INDEX data_keys_kek ON data_keys (kek_version);

-- A patient whose data must not be destroyed (litigation, investigation).
CREATE TABLE legal_holds (
    patient_id      TEXT PRIMARY KEY,
    reason          TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- The audit log and its checkpoints are append-only: the service never changes or deletes a
-- row, and neither may anyone else through SQL (someone who drops these triggers to do it is
-- caught by `agent audit verify`).
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
