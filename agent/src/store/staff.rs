//! The staff side's part of the store: users, staff sessions, the escalation queue's
//! transitions (optimistic concurrency on a version column) and takeovers. Kept apart from
//! `sql.rs` so the patient side's store stays as it is; every state change here commits its
//! audit record in the same transaction, through the same chained `append_audit`.

use async_trait::async_trait;
use sqlx::Row;

use super::sql::append_audit;
use super::staff_rows::{escalation_row, user_row, ESCALATION_COLUMNS, USER_COLUMNS};
pub use super::staff_rows::{EscalationChange, EscalationRow, StaffSessionRow, StaffUserRow};
use super::tx::audit_if_one;
use super::{AuditEntry, SqlStore, Store, StoreResult};

#[async_trait]
pub trait StaffStore: Send + Sync {
    /// False when the username is taken.
    async fn create_user(&self, u: &StaffUserRow) -> StoreResult<bool>;
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<StaffUserRow>>;
    async fn user(&self, id: &str) -> StoreResult<Option<StaffUserRow>>;
    async fn set_user_disabled(&self, id: &str, disabled: bool) -> StoreResult<()>;
    /// Replaces the TOTP secret (and forgets the last step used).
    async fn set_totp(&self, id: &str, sealed_secret: &[u8]) -> StoreResult<()>;
    /// Records `step` as used; false if it (or a later one) was used already.
    async fn use_totp_step(&self, id: &str, step: i64) -> StoreResult<bool>;

    /// Counts a failed sign-in step; at `limit` in a row the account locks until `now + lock_ms`.
    /// True when this failure locked it.
    async fn note_login_failure(&self, id: &str, now: i64, limit: i64, lock_ms: i64) -> StoreResult<bool>;
    async fn clear_login_failures(&self, id: &str) -> StoreResult<()>;
    /// Until when sign-in is refused (ms; 0 or past when it is not).
    async fn locked_until(&self, id: &str) -> StoreResult<i64>;

    async fn create_staff_session(&self, token_hash: &str, user_id: &str, mfa_done: bool, now: i64) -> StoreResult<()>;
    async fn staff_session(&self, token_hash: &str) -> StoreResult<Option<StaffSessionRow>>;
    async fn touch_staff_session(&self, token_hash: &str, now: i64) -> StoreResult<()>;
    async fn delete_staff_session(&self, token_hash: &str) -> StoreResult<()>;
    async fn delete_staff_sessions_of(&self, user_id: &str) -> StoreResult<()>;
    async fn set_break_glass(&self, token_hash: &str, until: i64, audit: &AuditEntry) -> StoreResult<()>;

    /// Appends one audit record on its own (a staff action that changes nothing else).
    async fn append_staff_audit(&self, audit: &AuditEntry) -> StoreResult<i64>;

    /// Every escalation not yet resolved.
    async fn open_escalations(&self) -> StoreResult<Vec<EscalationRow>>;
    async fn escalation(&self, id: &str) -> StoreResult<Option<EscalationRow>>;
    /// Applies `change` with its audit record; false when the version moved on (someone else won).
    async fn change_escalation(&self, change: &EscalationChange<'_>, audit: &AuditEntry) -> StoreResult<bool>;
    /// Unresolved escalations due by `now` whose breach has not been announced.
    async fn breached_escalations(&self, now: i64) -> StoreResult<Vec<EscalationRow>>;
    /// Marks the breach announced; false if another replica did so first.
    async fn mark_breach(&self, id: &str, audit: &AuditEntry) -> StoreResult<bool>;

    /// False when someone already has the conversation.
    async fn start_takeover(&self, conversation_id: &str, staff_id: &str, now: i64) -> StoreResult<bool>;
    async fn takeover_of(&self, conversation_id: &str) -> StoreResult<Option<String>>;
    async fn end_takeover(&self, conversation_id: &str) -> StoreResult<()>;
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

impl SqlStore {
    async fn one_user(&self, column: &str, value: &str) -> StoreResult<Option<StaffUserRow>> {
        let q = format!("SELECT {USER_COLUMNS} FROM staff_users WHERE {column} = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(value).fetch_optional(self.pool()).await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn escalations_where(&self, clause: &str, bind: Option<i64>) -> StoreResult<Vec<EscalationRow>> {
        let q = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE {clause} ORDER BY due_at, id");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(q));
        if let Some(v) = bind {
            query = query.bind(v);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter().map(escalation_row).collect()
    }
}

#[async_trait]
impl StaffStore for SqlStore {
    async fn create_user(&self, u: &StaffUserRow) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query(
            "INSERT INTO staff_users (id, username, role, password_hash, totp_secret, totp_last_step, disabled, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(&u.id)
        .bind(&u.username)
        .bind(&u.role)
        .bind(&u.password_hash)
        .bind(&u.totp_secret)
        .bind(u.totp_last_step)
        .bind(i64::from(u.disabled))
        .bind(u.created_at)
        .execute(self.pool())
        .await;
        match done {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<StaffUserRow>> {
        self.one_user("username", username).await
    }

    async fn user(&self, id: &str) -> StoreResult<Option<StaffUserRow>> {
        self.one_user("id", id).await
    }

    async fn set_user_disabled(&self, id: &str, disabled: bool) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("UPDATE staff_users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn set_totp(&self, id: &str, sealed_secret: &[u8]) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("UPDATE staff_users SET totp_secret = $1, totp_last_step = 0 WHERE id = $2")
            .bind(sealed_secret)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn use_totp_step(&self, id: &str, step: i64) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query("UPDATE staff_users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn note_login_failure(&self, id: &str, now: i64, limit: i64, lock_ms: i64) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let row = sqlx::query(
            "UPDATE staff_users SET failed_logins = failed_logins + 1, \
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END \
             WHERE id = $3 RETURNING failed_logins",
        )
        .bind(limit)
        .bind(now + lock_ms)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let count: i64 = match row {
            Some(r) => r.try_get("failed_logins")?,
            None => 0,
        };
        Ok(count == limit)
    }

    async fn clear_login_failures(&self, id: &str) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("UPDATE staff_users SET failed_logins = 0, locked_until = 0 WHERE id = $1").bind(id).execute(self.pool()).await?;
        Ok(())
    }

    async fn locked_until(&self, id: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT locked_until FROM staff_users WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        Ok(row.map(|r| r.try_get("locked_until")).transpose()?.unwrap_or(0))
    }

    async fn create_staff_session(&self, token_hash: &str, user_id: &str, mfa_done: bool, now: i64) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query(
            "INSERT INTO staff_sessions (token_hash, user_id, mfa_done, break_glass_until, created_at, last_seen) \
             VALUES ($1,$2,$3,0,$4,$4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(i64::from(mfa_done))
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn staff_session(&self, token_hash: &str) -> StoreResult<Option<StaffSessionRow>> {
        let row = sqlx::query(
            "SELECT user_id, mfa_done, break_glass_until, created_at, last_seen FROM staff_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(StaffSessionRow {
                user_id: r.try_get("user_id")?,
                mfa_done: r.try_get::<i64, _>("mfa_done")? != 0,
                break_glass_until: r.try_get("break_glass_until")?,
                created_at: r.try_get("created_at")?,
                last_seen: r.try_get("last_seen")?,
            })
        })
        .transpose()
    }

    async fn touch_staff_session(&self, token_hash: &str, now: i64) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("UPDATE staff_sessions SET last_seen = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn delete_staff_session(&self, token_hash: &str) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1").bind(token_hash).execute(self.pool()).await?;
        Ok(())
    }

    async fn delete_staff_sessions_of(&self, user_id: &str) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("DELETE FROM staff_sessions WHERE user_id = $1").bind(user_id).execute(self.pool()).await?;
        Ok(())
    }

    async fn set_break_glass(&self, token_hash: &str, until: i64, audit: &AuditEntry) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE staff_sessions SET break_glass_until = $1 WHERE token_hash = $2")
            .bind(until)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        append_audit(&mut tx, self.backend(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn append_staff_audit(&self, audit: &AuditEntry) -> StoreResult<i64> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        if self.backend() == "sqlite" {
            // Take SQLite's write lock first, as every other writer does (no upgrade races).
            sqlx::query("UPDATE staff_users SET id = id WHERE 1 = 0").execute(&mut *tx).await?;
        }
        let seq = append_audit(&mut tx, self.backend(), audit).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn open_escalations(&self) -> StoreResult<Vec<EscalationRow>> {
        self.escalations_where("status <> 'resolved'", None).await
    }

    async fn escalation(&self, id: &str) -> StoreResult<Option<EscalationRow>> {
        let q = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(q)).bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(escalation_row).transpose()
    }

    async fn change_escalation(&self, c: &EscalationChange<'_>, audit: &AuditEntry) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE escalations SET status = $1, claimed_by = COALESCE($2, claimed_by), note = COALESCE($3, note), \
             resolved_at = COALESCE($4, resolved_at), updated_at = $5, version = version + 1, \
             claimed_at = COALESCE(claimed_at, $8) \
             WHERE id = $6 AND version = $7",
        )
        .bind(c.status)
        .bind(c.claimed_by)
        .bind(c.note)
        .bind(c.resolved_at)
        .bind(c.now)
        .bind(c.id)
        .bind(c.expected_version)
        // The first claim is when a person took the case (time to a person).
        .bind(c.claimed_by.map(|_| c.now))
        .execute(&mut *tx)
        .await?;
        audit_if_one(tx, done.rows_affected(), self.backend(), audit).await
    }

    async fn breached_escalations(&self, now: i64) -> StoreResult<Vec<EscalationRow>> {
        self.escalations_where("status <> 'resolved' AND breach_fired = 0 AND due_at <= $1", Some(now)).await
    }

    async fn mark_breach(&self, id: &str, audit: &AuditEntry) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE escalations SET breach_fired = 1 WHERE id = $1 AND breach_fired = 0")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit_if_one(tx, done.rows_affected(), self.backend(), audit).await
    }

    async fn start_takeover(&self, conversation_id: &str, staff_id: &str, now: i64) -> StoreResult<bool> {
        let _gate = self.gate.enter().await;
        let done = sqlx::query(
            "INSERT INTO takeovers (conversation_id, staff_id, started_at) VALUES ($1,$2,$3) \
             ON CONFLICT (conversation_id) DO NOTHING",
        )
        .bind(conversation_id)
        .bind(staff_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn takeover_of(&self, conversation_id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT staff_id FROM takeovers WHERE conversation_id = $1")
            .bind(conversation_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("staff_id")).transpose()?)
    }

    async fn end_takeover(&self, conversation_id: &str) -> StoreResult<()> {
        let _gate = self.gate.enter().await;
        sqlx::query("DELETE FROM takeovers WHERE conversation_id = $1").bind(conversation_id).execute(self.pool()).await?;
        Ok(())
    }
}
