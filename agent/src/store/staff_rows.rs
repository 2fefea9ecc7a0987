//! The staff side's rows (users, staff sessions, escalations, an escalation change) and how
//! they are read from the database: the shapes, apart from the queries in `staff.rs`.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::StoreResult;

#[derive(Clone, Debug, PartialEq)]
pub struct StaffUserRow {
    pub id: String,
    pub username: String,
    pub role: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The TOTP secret, sealed.
    pub totp_secret: Vec<u8>,
    /// The last TOTP time step accepted: a code is good once.
    pub totp_last_step: i64,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StaffSessionRow {
    pub user_id: String,
    /// False until the second factor is given: such a session reaches no staff route.
    pub mfa_done: bool,
    /// Break-glass access lasts until this time (ms); 0 when never declared.
    pub break_glass_until: i64,
    pub created_at: i64,
    pub last_seen: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EscalationRow {
    pub id: String,
    pub conversation_id: String,
    pub patient_id: String,
    pub priority: String,
    pub reason: String,
    pub status: String,
    pub created_at: i64,
    pub due_at: i64,
    /// Bumped by every change; a change names the version it read (optimistic concurrency).
    pub version: i64,
    pub claimed_by: Option<String>,
    pub resolved_at: Option<i64>,
    /// The resolution note, sealed.
    pub note: Option<Vec<u8>>,
    pub breach_fired: bool,
}

/// A change of one escalation, applied only if its version is still `expected_version`.
#[derive(Clone, Debug)]
pub struct EscalationChange<'a> {
    pub id: &'a str,
    pub expected_version: i64,
    pub status: &'a str,
    pub claimed_by: Option<&'a str>,
    pub note: Option<&'a [u8]>,
    pub resolved_at: Option<i64>,
    pub now: i64,
}

pub(super) fn user_row(r: &AnyRow) -> StoreResult<StaffUserRow> {
    Ok(StaffUserRow {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        role: r.try_get("role")?,
        password_hash: r.try_get("password_hash")?,
        totp_secret: r.try_get("totp_secret")?,
        totp_last_step: r.try_get("totp_last_step")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn escalation_row(r: &AnyRow) -> StoreResult<EscalationRow> {
    Ok(EscalationRow {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        patient_id: r.try_get("patient_id")?,
        priority: r.try_get("priority")?,
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        due_at: r.try_get("due_at")?,
        version: r.try_get("version")?,
        claimed_by: r.try_get("claimed_by")?,
        resolved_at: r.try_get("resolved_at")?,
        note: r.try_get("note")?,
        breach_fired: r.try_get::<i64, _>("breach_fired")? != 0,
    })
}

pub(super) const USER_COLUMNS: &str = "id, username, role, password_hash, totp_secret, totp_last_step, disabled, created_at";
pub(super) const ESCALATION_COLUMNS: &str = "id, conversation_id, patient_id, priority, reason, status, created_at, due_at, \
     version, claimed_by, resolved_at, note, breach_fired";
