//! Staff sign-in: an Argon2id password, then an RFC 6238 code (each code good once), then a
//! session (opaque token, only its hash stored; 15 minutes idle, 12 hours in all, as for
//! patients). The session after the password alone is marked so no staff route accepts it.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::request::Parts;
use base64::Engine as _;
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

use super::Role;
use crate::crypto::Aad;
use crate::error::ApiError;
use crate::session::hash_token;
use crate::state::AppState;
use crate::store::staff::{StaffSessionRow, StaffUserRow};

pub const COOKIE_NAME: &str = "agent_staff";
/// TOTP time step (seconds) and digits, as authenticator apps expect.
const STEP_S: u64 = 30;
const DIGITS: usize = 6;
/// Failed sign-in steps (password or code) in a row before the account locks, and for how long.
pub const LOCKOUT_AFTER: i64 = 5;
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the stored TOTP secret is unusable: {0}")]
    Totp(String),
}

/// A resolved staff session (after idle/absolute checks), before any role check.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub token_hash: String,
    pub user: StaffUserRow,
    pub role: Role,
    pub session: StaffSessionRow,
}

/// Argon2id with the crate's recommended parameters, as a PHC string. CPU-heavy: run it on a
/// blocking thread.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| AuthError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A fresh 160-bit TOTP secret.
pub fn new_totp_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    secret
}

fn totp(secret: &[u8]) -> Result<TOTP, AuthError> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_S, secret.to_vec()).map_err(|e| AuthError::Totp(e.to_string()))
}

/// The code for `unix_s` (tests and the CLI's enrolment check).
pub fn totp_code(secret: &[u8], unix_s: u64) -> Result<String, AuthError> {
    Ok(totp(secret)?.generate(unix_s))
}

/// The base32 form authenticator apps take, and an `otpauth://` URI for a QR code.
pub fn totp_enrolment(secret: &[u8], username: &str) -> Result<(String, String), AuthError> {
    let b32 = totp(secret)?.get_secret_base32();
    let uri = format!("otpauth://totp/Agent:{username}?secret={b32}&issuer=Agent&digits={DIGITS}&period={STEP_S}");
    Ok((b32, uri))
}

/// The time step `code` is valid for at `unix_s` (one step of clock drift either way).
pub fn totp_step_matching(secret: &[u8], code: &str, unix_s: u64) -> Result<Option<u64>, AuthError> {
    let t = totp(secret)?;
    let now_step = unix_s / STEP_S;
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        if constant_time_eq(t.generate(step * STEP_S).as_bytes(), code.as_bytes()) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn secret_aad(user_id: &str) -> Aad<'_> {
    Aad { table: "staff_users", row: user_id, patient: "" }
}

pub fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub fn cookie(state: &AppState, token: &str) -> String {
    let secure = if state.policy.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; Path=/api; HttpOnly; SameSite=Strict{secure}")
}

pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0")
}

pub fn token_from(parts: &Parts) -> Option<String> {
    crate::session::bearer_or_cookie(parts, COOKIE_NAME)
}

/// The caller's staff session, or 401: none, timed out (then deleted), or its user disabled.
/// Does not check the second factor; callers do.
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<SessionInfo, ApiError> {
    let token = token_from(parts).ok_or(ApiError::Unauthorized)?;
    let token_hash = hash_token(&token);
    let store = state.store.staff();
    let session = store.staff_session(&token_hash).await?.ok_or(ApiError::Unauthorized)?;
    let now = state.clock.now_ms();
    let idle = now - session.last_seen > state.policy.session_idle_ms;
    let expired = now - session.created_at > state.policy.session_absolute_ms;
    if idle || expired {
        store.delete_staff_session(&token_hash).await?;
        return Err(ApiError::Unauthorized);
    }
    let user = store.user(&session.user_id).await?.ok_or(ApiError::Unauthorized)?;
    if user.disabled {
        store.delete_staff_session(&token_hash).await?;
        return Err(ApiError::Unauthorized);
    }
    let role = Role::parse(&user.role).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("stored role is invalid")))?;
    store.touch_staff_session(&token_hash, now).await?;
    Ok(SessionInfo { token_hash, user, role, session })
}

/// Checks a username and password; on success a password-only session's token. Every failure
/// is the same 401 (no hint whether the user exists).
pub async fn login(state: &AppState, username: &str, password: &str) -> Result<String, ApiError> {
    let user = state.store.staff().user_by_name(username).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_password(&password, &phc),
        None => {
            // Spend the same time on an unknown user.
            let _ = hash_password(&password);
            false
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let Some(user) = user else {
        unknown_name(state).await?;
        return Err(ApiError::Unauthorized);
    };
    if !ok {
        failed(state, &user.id).await?;
        return Err(ApiError::Unauthorized);
    }
    if user.disabled || state.store.staff().locked_until(&user.id).await? > state.clock.now_ms() {
        return Err(ApiError::Unauthorized);
    }
    let token = new_token();
    state.store.staff().create_staff_session(&hash_token(&token), &user.id, false, state.clock.now_ms()).await?;
    Ok(token)
}

/// A sign-in with a name no account has: audited and counted towards the alert under
/// "unknown" (the name itself is not kept: it may be a password typed in the wrong box).
async fn unknown_name(state: &AppState) -> Result<(), ApiError> {
    state.metrics.alerts.sign_in_failed("unknown", state.clock.now_ms());
    let audit = super::audit_entry(state, "unknown", "staff.sign_in_failed", "unknown", "", serde_json::json!({}))?;
    state.store.staff().append_staff_audit(&audit).await?;
    Ok(())
}

/// Counts a failed step (audited, and towards the repeated-failures alert); the failure that
/// locks the account is audited too.
async fn failed(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let store = state.store.staff();
    state.metrics.alerts.sign_in_failed(user_id, state.clock.now_ms());
    let audit = super::audit_entry(state, user_id, "staff.sign_in_failed", user_id, "", serde_json::json!({}))?;
    store.append_staff_audit(&audit).await?;
    if store.note_login_failure(user_id, state.clock.now_ms(), LOCKOUT_AFTER, LOCKOUT_MS).await? {
        let details = serde_json::json!({ "failures": LOCKOUT_AFTER, "locked_ms": LOCKOUT_MS });
        let audit = super::audit_entry(state, user_id, "staff.locked_out", user_id, "", details)?;
        store.append_staff_audit(&audit).await?;
    }
    Ok(())
}

/// The second factor: a valid, unused code replaces the password-only session with a full one
/// (a new token, so the half-signed-in token is worth nothing afterwards).
pub async fn second_factor(state: &AppState, info: &SessionInfo, code: &str) -> Result<String, ApiError> {
    let secret = state
        .cipher
        .open(&secret_aad(&info.user.id), &info.user.totp_secret)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let unix_s = (state.clock.now_ms() / 1000).max(0) as u64;
    let step = totp_step_matching(&secret, code.trim(), unix_s).map_err(|e| ApiError::Internal(e.into()))?;
    let store = state.store.staff();
    if store.locked_until(&info.user.id).await? > state.clock.now_ms() {
        return Err(ApiError::Unauthorized);
    }
    let fresh = match step {
        Some(step) => store.use_totp_step(&info.user.id, step as i64).await?,
        None => false,
    };
    if !fresh {
        failed(state, &info.user.id).await?;
        return Err(ApiError::Unauthorized);
    }
    store.clear_login_failures(&info.user.id).await?;
    store.delete_staff_session(&info.token_hash).await?;
    let token = new_token();
    store.create_staff_session(&hash_token(&token), &info.user.id, true, state.clock.now_ms()).await?;
    let audit = super::audit_entry(state, &info.user.id, "staff.sign_in", &info.user.id, "", serde_json::json!({}))?;
    store.append_staff_audit(&audit).await?;
    Ok(token)
}
