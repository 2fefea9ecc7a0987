//! Script management's part of the store: one draft per script id, and published versions
//! that are never changed once written (the (script, version) key makes two publishers of the
//! same version collide instead of overwrite). Each change commits with its audit record.

use async_trait::async_trait;
use sqlx::Row;

use super::sql::append_audit;
use super::tx::audit_if_one;
use super::{AuditEntry, SqlStore, Store, StoreResult};

#[derive(Clone, Debug, PartialEq)]
pub struct DraftRow {
    pub script_id: String,
    pub source: String,
    pub author: String,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScriptVersionRow {
    pub script_id: String,
    pub version: i64,
    pub source: String,
    pub author: String,
    pub published_at: i64,
}

#[async_trait]
pub trait ScriptStore: Send + Sync {
    async fn save_draft(&self, draft: &DraftRow, audit: &AuditEntry) -> StoreResult<()>;
    async fn draft(&self, script_id: &str) -> StoreResult<Option<DraftRow>>;
    async fn drafts(&self) -> StoreResult<Vec<DraftRow>>;
    /// Published versions of one script (all scripts when `None`), oldest first.
    async fn script_versions(&self, script_id: Option<&str>) -> StoreResult<Vec<ScriptVersionRow>>;
    /// Writes a new version; false when that version exists already (someone published first).
    async fn publish_script(&self, row: &ScriptVersionRow, audit: &AuditEntry) -> StoreResult<bool>;
}

fn version_row(r: &sqlx::any::AnyRow) -> StoreResult<ScriptVersionRow> {
    Ok(ScriptVersionRow {
        script_id: r.try_get("script_id")?,
        version: r.try_get("version")?,
        source: r.try_get("source")?,
        author: r.try_get("author")?,
        published_at: r.try_get("published_at")?,
    })
}

fn draft_row(r: &sqlx::any::AnyRow) -> StoreResult<DraftRow> {
    Ok(DraftRow {
        script_id: r.try_get("script_id")?,
        source: r.try_get("source")?,
        author: r.try_get("author")?,
        updated_at: r.try_get("updated_at")?,
    })
}

#[async_trait]
impl ScriptStore for SqlStore {
    async fn save_draft(&self, d: &DraftRow, audit: &AuditEntry) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO script_drafts (script_id, source, author, updated_at) VALUES ($1,$2,$3,$4) \
             ON CONFLICT (script_id) DO UPDATE SET source = $2, author = $3, updated_at = $4",
        )
        .bind(&d.script_id)
        .bind(&d.source)
        .bind(&d.author)
        .bind(d.updated_at)
        .execute(&mut *tx)
        .await?;
        append_audit(&mut tx, self.backend(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn draft(&self, script_id: &str) -> StoreResult<Option<DraftRow>> {
        let row = sqlx::query("SELECT script_id, source, author, updated_at FROM script_drafts WHERE script_id = $1")
            .bind(script_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(draft_row).transpose()
    }

    async fn drafts(&self) -> StoreResult<Vec<DraftRow>> {
        let rows = sqlx::query("SELECT script_id, source, author, updated_at FROM script_drafts ORDER BY script_id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(draft_row).collect()
    }

    async fn script_versions(&self, script_id: Option<&str>) -> StoreResult<Vec<ScriptVersionRow>> {
        let rows = sqlx::query(
            "SELECT script_id, version, source, author, published_at FROM script_versions \
             WHERE $1 IS NULL OR script_id = $1 ORDER BY script_id, version",
        )
        .bind(script_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(version_row).collect()
    }

    async fn publish_script(&self, v: &ScriptVersionRow, audit: &AuditEntry) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "INSERT INTO script_versions (script_id, version, source, author, published_at) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (script_id, version) DO NOTHING",
        )
        .bind(&v.script_id)
        .bind(v.version)
        .bind(&v.source)
        .bind(&v.author)
        .bind(v.published_at)
        .execute(&mut *tx)
        .await?;
        audit_if_one(tx, done.rows_affected(), self.backend(), audit).await
    }
}
