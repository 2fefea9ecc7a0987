//! Script management for admins: a draft per script, validated with line:column messages by
//! the workflows crate, compared with the published version, published as a new immutable
//! version, or rolled back (an earlier version's source published again under a new number).
//! Conversations keep the version they started on: the engine pins each conversation to
//! (script, version). Every change is audited with its author.

use std::sync::OnceLock;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::rbac::Staff;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::scripts::{DraftRow, ScriptVersionRow};

/// Largest script source accepted.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;

/// A published version, wherever it lives (built in, or in the database).
#[derive(Clone, Debug, Serialize)]
pub struct Published {
    pub version: i64,
    pub author: String,
    pub published_at: i64,
    #[serde(skip)]
    pub source: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Validation {
    pub valid: bool,
    /// `path:line:col: message` per problem.
    pub problems: Vec<String>,
    /// What publishing would create.
    pub next_version: i64,
    /// Conversation tests need the real model and a seeded EHR (minutes, not a request):
    /// they are not run here; `agent scripts test` runs them.
    pub conversation_tests: &'static str,
}

const TESTS_NOT_RUN: &str = "not run by the server: they need the real model; run `agent scripts test`";

/// (id, version, source) of each built-in script.
fn builtins() -> &'static [(String, i64, &'static str)] {
    static B: OnceLock<Vec<(String, i64, &'static str)>> = OnceLock::new();
    B.get_or_init(|| {
        workflows::script::BUILTIN_SOURCES
            .iter()
            .filter_map(|(path, text)| workflows::script::compile(path, text).ok().map(|s| (s.id, i64::from(s.version), *text)))
            .collect()
    })
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("built-in scripts: {0}")]
    Builtin(String),
    #[error("published script {0} version {1} does not compile: {2}")]
    Published(String, i64, String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The scripts the engine starts with: the built-in ones and every published version (old
/// versions stay loaded: conversations pinned to them go on).
pub async fn engine_scripts(store: &dyn crate::store::Store) -> Result<Vec<workflows::Script>, LoadError> {
    let join = |d: Vec<workflows::Diagnostic>| d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let mut scripts = workflows::script::builtin().map_err(|d| LoadError::Builtin(join(d)))?;
    for v in store.scripts().script_versions(None).await? {
        let path = format!("published/{}-v{}.toml", v.script_id, v.version);
        let script = workflows::script::compile(&path, &v.source).map_err(|d| LoadError::Published(v.script_id.clone(), v.version, join(d)))?;
        scripts.push(script);
    }
    Ok(scripts)
}

/// Every version of `id` there is, oldest first (built in, then published).
pub async fn versions(state: &AppState, id: &str) -> Result<Vec<Published>, ApiError> {
    let mut out: Vec<Published> = builtins()
        .iter()
        .filter(|(b, _, _)| b == id)
        .map(|(_, v, src)| Published { version: *v, author: "built-in".into(), published_at: 0, source: (*src).to_owned() })
        .collect();
    for r in state.store.scripts().script_versions(Some(id)).await? {
        out.push(Published { version: r.version, author: r.author, published_at: r.published_at, source: r.source });
    }
    out.sort_by_key(|p| p.version);
    Ok(out)
}

pub async fn current(state: &AppState, id: &str) -> Result<Option<Published>, ApiError> {
    Ok(versions(state, id).await?.pop())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest("script id must be 1-64 of a-z, 0-9, _ and -".into()))
    }
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub async fn save_draft(state: &AppState, staff: &Staff, id: &str, source: &str) -> Result<Validation, ApiError> {
    check_id(id)?;
    if source.is_empty() || source.len() > MAX_SOURCE_BYTES {
        return Err(ApiError::BadRequest(format!("source must be 1 to {MAX_SOURCE_BYTES} bytes")));
    }
    let now = state.clock.now_ms();
    let details = serde_json::json!({ "source_sha256": sha(source), "bytes": source.len() });
    let audit = super::audit_entry(state, &staff.id, "admin.script_draft", id, "", details)?;
    let draft = DraftRow { script_id: id.to_owned(), source: source.to_owned(), author: staff.id.clone(), updated_at: now };
    state.store.scripts().save_draft(&draft, &audit).await?;
    validate_source(state, id, source).await
}

async fn draft(state: &AppState, id: &str) -> Result<DraftRow, ApiError> {
    state.store.scripts().draft(id).await?.ok_or(ApiError::NotFound)
}

/// The draft's problems, including a wrong id or a version that is not the next one.
async fn validate_source(state: &AppState, id: &str, source: &str) -> Result<Validation, ApiError> {
    let next_version = current(state, id).await?.map_or(1, |p| p.version + 1);
    let path = format!("drafts/{id}.toml");
    let mut problems: Vec<String> = match workflows::script::compile(&path, source) {
        Ok(script) => {
            let mut p = Vec::new();
            if script.id != id {
                p.push(format!("{path}:1:1: the draft's id is {:?}, expected {id:?}", script.id));
            }
            if i64::from(script.version) != next_version {
                p.push(format!("{path}:1:1: version must be {next_version} (the next version of {id})"));
            }
            p
        }
        Err(diags) => diags.iter().map(ToString::to_string).collect(),
    };
    problems.dedup();
    Ok(Validation { valid: problems.is_empty(), problems, next_version, conversation_tests: TESTS_NOT_RUN })
}

pub async fn validate(state: &AppState, id: &str) -> Result<Validation, ApiError> {
    let d = draft(state, id).await?;
    validate_source(state, id, &d.source).await
}

/// A unified diff from the published version to the draft.
pub async fn diff(state: &AppState, id: &str) -> Result<String, ApiError> {
    let d = draft(state, id).await?;
    let (label, old) = match current(state, id).await? {
        Some(p) => (format!("published v{}", p.version), p.source),
        None => ("nothing published".to_owned(), String::new()),
    };
    Ok(similar::TextDiff::from_lines(&old, &d.source).unified_diff().context_radius(3).header(&label, "draft").to_string())
}

async fn publish_source(state: &AppState, staff: &Staff, id: &str, source: String, action: &str, details: serde_json::Value) -> Result<i64, ApiError> {
    let check = validate_source(state, id, &source).await?;
    if !check.valid {
        return Err(ApiError::BadRequest(check.problems.join("\n")));
    }
    let version = check.next_version;
    let mut details = details;
    details["version"] = version.into();
    details["source_sha256"] = sha(&source).into();
    let audit = super::audit_entry(state, &staff.id, action, id, "", details)?;
    let compiled = workflows::script::compile(id, &source).map_err(|_| ApiError::BadRequest("the script does not compile".into()))?;
    let row = ScriptVersionRow { script_id: id.to_owned(), version, source, author: staff.id.clone(), published_at: state.clock.now_ms() };
    if !state.store.scripts().publish_script(&row, &audit).await? {
        return Err(ApiError::Conflict(format!("version {version} of {id} was published by someone else first")));
    }
    // New conversations on this replica get it now; others load it when they start.
    state.dialogue.add_script(compiled);
    Ok(version)
}

/// Publishes the draft as the next version (it must validate and say that version).
pub async fn publish(state: &AppState, staff: &Staff, id: &str) -> Result<i64, ApiError> {
    let d = draft(state, id).await?;
    publish_source(state, staff, id, d.source, "admin.script_publish", serde_json::json!({})).await
}

/// Publishes version `to`'s source again as the next version.
pub async fn roll_back(state: &AppState, staff: &Staff, id: &str, to: i64) -> Result<i64, ApiError> {
    let all = versions(state, id).await?;
    let target = all.iter().find(|p| p.version == to).ok_or(ApiError::NotFound)?;
    let latest = all.last().map_or(0, |p| p.version);
    if to == latest {
        return Err(ApiError::Conflict(format!("version {to} is already the current one")));
    }
    let source = with_version(&target.source, latest + 1)
        .ok_or_else(|| ApiError::BadRequest(format!("version {to} has no top-level `version = N` line to renumber")))?;
    let details = serde_json::json!({ "rolled_back_to": to, "from": latest });
    publish_source(state, staff, id, source, "admin.script_rollback", details).await
}

/// `source` with its top-level `version = N` (before the first table) set to `version`.
pub fn with_version(source: &str, version: i64) -> Option<String> {
    let mut out = String::with_capacity(source.len() + 4);
    let mut done = false;
    for line in source.split_inclusive('\n') {
        let t = line.trim_start();
        if !done && t.starts_with('[') {
            return None;
        }
        let is_version = t.strip_prefix("version").is_some_and(|rest| rest.trim_start().starts_with('='));
        if !done && is_version {
            let newline = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("version = {version}{newline}"));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    done.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::with_version;

    #[test]
    fn renumbering_touches_only_the_top_level_version() {
        let src = "# v\nid = \"x\"\nversion = 2\n[steps]\nversion = 9\n";
        assert_eq!(with_version(src, 5).unwrap(), "# v\nid = \"x\"\nversion = 5\n[steps]\nversion = 9\n");
        assert!(with_version("id = \"x\"\n[a]\nversion = 1\n", 3).is_none());
    }
}
