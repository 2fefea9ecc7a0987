//! Where the patients' wrapped data keys live, and the legal holds that stop a patient's keys
//! from being destroyed. Shredding deletes a patient's keys and appends its audit record in
//! one transaction, refused while a hold is in place.

use async_trait::async_trait;
use sqlx::Row;

use super::sql::append_audit;
use super::{AuditEntry, SqlStore, Store, StoreResult};

/// One data key as stored: wrapped (nonce + ciphertext) by KEK `kek_version`.
#[derive(Clone, Debug, PartialEq)]
pub struct DataKeyRow {
    pub patient_id: String,
    pub version: u32,
    pub kek_version: u32,
    pub wrapped: Vec<u8>,
    /// Seals reserved so far.
    pub uses: i64,
}

/// Why a shred did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum ShredRefused {
    /// The reason given when the hold was placed.
    LegalHold(String),
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The patient's newest data key.
    async fn current_data_key(&self, patient: &str) -> StoreResult<Option<DataKeyRow>>;
    async fn data_key(&self, patient: &str, version: u32) -> StoreResult<Option<DataKeyRow>>;
    /// False when that version already exists (another replica made it first).
    async fn insert_data_key(&self, row: &DataKeyRow, now: i64) -> StoreResult<bool>;
    /// Adds `n` to the key's use count; returns the new count.
    async fn reserve_key_uses(&self, patient: &str, version: u32, n: i64) -> StoreResult<i64>;
    async fn data_keys_not_under(&self, kek_version: u32) -> StoreResult<Vec<DataKeyRow>>;
    /// Replaces the wrapping if the key is still under `from_kek`.
    async fn rewrap_data_key(&self, patient: &str, version: u32, from_kek: u32, to_kek: u32, wrapped: &[u8]) -> StoreResult<bool>;
    async fn count_data_keys_under(&self, kek_version: u32) -> StoreResult<i64>;
    /// Deletes the patient's data keys and appends `audit`, unless a legal hold is in place.
    async fn shred_patient(&self, patient: &str, audit: &AuditEntry) -> StoreResult<Result<u64, ShredRefused>>;
    /// Places (or updates) a hold and appends `audit`.
    async fn place_hold(&self, patient: &str, reason: &str, audit: &AuditEntry) -> StoreResult<()>;
    /// Lifts a hold and appends `audit`; false when there was none.
    async fn release_hold(&self, patient: &str, audit: &AuditEntry) -> StoreResult<bool>;
    async fn legal_hold(&self, patient: &str) -> StoreResult<Option<String>>;
}

fn key_row(r: &sqlx::any::AnyRow) -> StoreResult<DataKeyRow> {
    Ok(DataKeyRow {
        patient_id: r.try_get("patient_id")?,
        version: r.try_get::<i64, _>("version")? as u32,
        kek_version: r.try_get::<i64, _>("kek_version")? as u32,
        wrapped: r.try_get("wrapped")?,
        uses: r.try_get("uses")?,
    })
}

const KEY_COLUMNS: &str = "patient_id, version, kek_version, wrapped, uses";

#[async_trait]
impl KeyStore for SqlStore {
    async fn current_data_key(&self, patient: &str) -> StoreResult<Option<DataKeyRow>> {
        let q = format!("SELECT {KEY_COLUMNS} FROM data_keys WHERE patient_id = $1 ORDER BY version DESC LIMIT 1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(patient).fetch_optional(self.pool()).await?;
        row.as_ref().map(key_row).transpose()
    }

    async fn data_key(&self, patient: &str, version: u32) -> StoreResult<Option<DataKeyRow>> {
        let q = format!("SELECT {KEY_COLUMNS} FROM data_keys WHERE patient_id = $1 AND version = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(patient).bind(version as i64).fetch_optional(self.pool()).await?;
        row.as_ref().map(key_row).transpose()
    }

    async fn insert_data_key(&self, r: &DataKeyRow, now: i64) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query(
            "INSERT INTO data_keys (patient_id, version, kek_version, wrapped, uses, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (patient_id, version) DO NOTHING",
        )
        .bind(&r.patient_id)
        .bind(r.version as i64)
        .bind(r.kek_version as i64)
        .bind(&r.wrapped)
        .bind(r.uses)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reserve_key_uses(&self, patient: &str, version: u32, n: i64) -> StoreResult<i64> {
        let _gate = self.gate.enter().await;
        let row = sqlx::query("UPDATE data_keys SET uses = uses + $1 WHERE patient_id = $2 AND version = $3 RETURNING uses")
            .bind(n)
            .bind(patient)
            .bind(version as i64)
            .fetch_optional(self.pool())
            .await?;
        // Shredded meanwhile: the caller cannot seal.
        Ok(row.ok_or(super::StoreError::NotFound)?.try_get("uses")?)
    }

    async fn data_keys_not_under(&self, kek_version: u32) -> StoreResult<Vec<DataKeyRow>> {
        let q = format!("SELECT {KEY_COLUMNS} FROM data_keys WHERE kek_version <> $1 ORDER BY patient_id, version");
        let rows = sqlx::query(sqlx::AssertSqlSafe(q)).bind(kek_version as i64).fetch_all(self.pool()).await?;
        rows.iter().map(key_row).collect()
    }

    async fn rewrap_data_key(&self, patient: &str, version: u32, from: u32, to: u32, wrapped: &[u8]) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query(
            "UPDATE data_keys SET kek_version = $1, wrapped = $2 WHERE patient_id = $3 AND version = $4 AND kek_version = $5",
        )
        .bind(to as i64)
        .bind(wrapped)
        .bind(patient)
        .bind(version as i64)
        .bind(from as i64)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_data_keys_under(&self, kek_version: u32) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM data_keys WHERE kek_version = $1")
            .bind(kek_version as i64)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn shred_patient(&self, patient: &str, audit: &AuditEntry) -> StoreResult<Result<u64, ShredRefused>> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        // A write first: it takes SQLite's write lock, so the hold cannot appear in between.
        let deleted = sqlx::query(
            "DELETE FROM data_keys WHERE patient_id = $1 AND NOT EXISTS (SELECT 1 FROM legal_holds WHERE patient_id = $1)",
        )
        .bind(patient)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let hold = sqlx::query("SELECT reason FROM legal_holds WHERE patient_id = $1").bind(patient).fetch_optional(&mut *tx).await?;
        if let Some(h) = hold {
            return Ok(Err(ShredRefused::LegalHold(h.try_get("reason")?)));
        }
        append_audit(&mut tx, Store::backend(self), audit).await?;
        tx.commit().await?;
        Ok(Ok(deleted))
    }

    async fn place_hold(&self, patient: &str, reason: &str, audit: &AuditEntry) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO legal_holds (patient_id, reason, created_at) VALUES ($1,$2,$3) \
             ON CONFLICT (patient_id) DO UPDATE SET reason = excluded.reason",
        )
        .bind(patient)
        .bind(reason)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, Store::backend(self), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_hold(&self, patient: &str, audit: &AuditEntry) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        let n = sqlx::query("DELETE FROM legal_holds WHERE patient_id = $1").bind(patient).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Ok(false);
        }
        append_audit(&mut tx, Store::backend(self), audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn legal_hold(&self, patient: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT reason FROM legal_holds WHERE patient_id = $1").bind(patient).fetch_optional(self.pool()).await?;
        Ok(row.map(|r| r.try_get("reason")).transpose()?)
    }
}
