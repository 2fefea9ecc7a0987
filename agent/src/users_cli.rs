//! `agent users add|disable|reset-mfa`: local staff accounts from the command line. The
//! password is read from standard input (never an argument, which `ps` would show); the TOTP
//! secret is printed once for the member's authenticator app.

use std::io::BufRead;

use anyhow::{bail, Context};

use crate::config::Settings;
use crate::crypto::Cipher;
use crate::staff::auth;
use crate::staff::{AuditRecord, Role};
use crate::store::staff::StaffUserRow;
use crate::store::{SqlStore, Store};

/// Shortest password accepted.
const MIN_PASSWORD_CHARS: usize = 12;

async fn open(settings: &Settings) -> anyhow::Result<(SqlStore, Cipher)> {
    let cipher = Cipher::from_key_file(&settings.crypto.key_file)?;
    let store = SqlStore::connect(settings.database.url.expose(), 2).await.context("opening the database")?;
    Ok((store, cipher))
}

fn check_username(name: &str) -> anyhow::Result<()> {
    let ok = (3..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        bail!("username must be 3-64 characters of letters, digits, . _ - @");
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("password (one line on standard input) must be at least {MIN_PASSWORD_CHARS} characters");
    }
    Ok(password)
}

fn print_enrolment(secret: &[u8], username: &str) -> anyhow::Result<()> {
    let (b32, uri) = auth::totp_enrolment(secret, username)?;
    println!("totp secret: {b32}");
    println!("totp uri: {uri}");
    Ok(())
}

/// Audits a change made from the command line; the actor is the operating-system user.
async fn audit(store: &SqlStore, cipher: &Cipher, action: &str, user: &StaffUserRow, details: serde_json::Value) -> anyhow::Result<()> {
    let who = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let actor = format!("cli:{who}");
    let record = AuditRecord { actor: &actor, action, target: &user.id, patient: "", details, now: chrono::Utc::now().timestamp_millis() };
    let entry = crate::staff::sealed_audit_entry(cipher, record)?;
    store.staff().append_staff_audit(&entry).await.context("writing the audit record")?;
    Ok(())
}

async fn user(store: &SqlStore, username: &str) -> anyhow::Result<StaffUserRow> {
    match store.staff().user_by_name(username).await.context("reading the user")? {
        Some(u) => Ok(u),
        None => bail!("no user named {username:?}"),
    }
}

pub async fn add(settings: &Settings, username: &str, role: &str) -> anyhow::Result<()> {
    check_username(username)?;
    let Some(role) = Role::parse(role) else { bail!("role must be one of coordinator, clinician, admin, auditor") };
    let password = read_password()?;
    let (store, cipher) = open(settings).await?;
    let phc = tokio::task::spawn_blocking(move || auth::hash_password(&password)).await.context("hashing task")??;
    let id = uuid::Uuid::now_v7().to_string();
    let secret = auth::new_totp_secret();
    let sealed = cipher.seal(&auth::secret_aad(&id), &secret)?;
    let row = StaffUserRow {
        id: id.clone(),
        username: username.to_owned(),
        role: role.as_str().to_owned(),
        password_hash: phc,
        totp_secret: sealed,
        totp_last_step: 0,
        disabled: false,
        created_at: chrono::Utc::now().timestamp_millis(),
    };
    if !store.staff().create_user(&row).await.context("creating the user")? {
        bail!("a user named {username:?} already exists");
    }
    audit(&store, &cipher, "users.add", &row, serde_json::json!({ "username": username, "role": role.as_str() })).await?;
    println!("added {username} ({}) id {id}", role.as_str());
    print_enrolment(&secret, username)
}

pub async fn disable(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let (store, cipher) = open(settings).await?;
    let u = user(&store, username).await?;
    store.staff().set_user_disabled(&u.id, true).await.context("disabling the user")?;
    store.staff().delete_staff_sessions_of(&u.id).await.context("ending the user's sessions")?;
    audit(&store, &cipher, "users.disable", &u, serde_json::json!({ "username": username })).await?;
    println!("disabled {username}; their sessions are ended");
    Ok(())
}

pub async fn reset_mfa(settings: &Settings, username: &str) -> anyhow::Result<()> {
    let (store, cipher) = open(settings).await?;
    let u = user(&store, username).await?;
    let secret = auth::new_totp_secret();
    let sealed = cipher.seal(&auth::secret_aad(&u.id), &secret)?;
    store.staff().set_totp(&u.id, &sealed).await.context("storing the new secret")?;
    store.staff().delete_staff_sessions_of(&u.id).await.context("ending the user's sessions")?;
    audit(&store, &cipher, "users.reset_mfa", &u, serde_json::json!({ "username": username })).await?;
    println!("reset the second factor of {username}; their sessions are ended");
    print_enrolment(&secret, username)
}
