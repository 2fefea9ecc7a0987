//! The service's settings: the embedded `config/base.toml`, an optional file named by
//! `AGENT_CONFIG`, then `AGENT__SECTION__KEY` environment variables. Everything is checked
//! here, before anything starts, so a bad setting is one clear line and exit code 2.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

const BASE: &str = include_str!("../config/base.toml");

/// A setting that is invalid; `key` is the dotted path (`server.port`).
#[derive(Debug, thiserror::Error)]
#[error("config error: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub crypto: CryptoSettings,
    pub telemetry: TelemetrySettings,
    pub model: inference::ModelConfig,
    pub fhir: fhir_client::FhirConfig,
    pub demo_ehr: DemoEhrSettings,
    #[serde(default)]
    pub integration: IntegrationSettings,
    #[serde(default)]
    pub portal: crate::launch::PortalSettings,
    #[serde(default)]
    pub staff: StaffSettings,
    #[serde(default)]
    pub audit: crate::audit::AuditSettings,
    #[serde(default)]
    pub retention: crate::audit::retention::RetentionSettings,
    #[serde(default)]
    pub limits: crate::limits::LimitSettings,
    #[serde(default)]
    pub outreach: crate::followups::OutreachSettings,
    #[serde(default)]
    pub outbox: crate::outbox::OutboxSettings,
    #[serde(default)]
    pub alerts: crate::alerts::AlertSettings,
}

/// The staff side: how long each escalation priority may wait (minutes).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSettings {
    #[serde(default)]
    pub sla: crate::staff::Sla,
}

/// The hospital integration engine and the portal.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    /// File holding the bearer key for `/api/events/*` (mode 0600); unset disables them.
    pub key_file: Option<PathBuf>,
    /// Portal hook told when the agent starts a conversation.
    pub notify_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub demo: bool,
    /// A turn that takes longer (stalled model or EHR) is handed to a person.
    #[serde(default = "default_turn_deadline_ms")]
    pub turn_deadline_ms: u64,
    /// Serve HTTPS with this certificate and key (reloaded on SIGHUP); absent: plain HTTP,
    /// for a reverse proxy that terminates TLS (see `limits.trusted_proxies`) or a local demo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::TlsSettings>,
    /// A secret marker written into every system prompt the model sees, so that a red-team run
    /// (`agent bench attack`, tests/tests/attack.rs) or a site's own monitoring can tell whether a
    /// reply ever leaks the prompt. Unset by default.
    #[serde(default)]
    pub prompt_canary: Option<Secret>,
    /// Under the red-flag rules, flag also what lies among the labelled examples of flagged
    /// messages (`workflows::redflags::net`, measured in docs/understanding.md). On by default.
    #[serde(default = "default_true")]
    pub redflag_examples: bool,
    /// Let the same labelled examples decide what a first message asks for where the rules
    /// find nothing, and overrule a rule only when they clearly disagree
    /// (`workflows::understand::ask`). On by default.
    #[serde(default = "default_true")]
    pub intent_examples: bool,
}

fn default_true() -> bool {
    true
}

fn default_turn_deadline_ms() -> u64 {
    20_000
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May carry a password: redacted wherever it is shown.
    pub url: Secret,
    pub max_connections: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoSettings {
    pub key_file: PathBuf,
    /// Seals per patient data key before a new key version is made (AES-GCM with random
    /// nonces must stay far below 2^32 per key).
    #[serde(default = "default_max_key_uses")]
    pub max_key_uses: u64,
    /// How long an unwrapped data key stays in memory; a shred done elsewhere takes effect
    /// within this time.
    #[serde(default = "default_key_cache_secs")]
    pub key_cache_secs: u64,
}

fn default_max_key_uses() -> u64 {
    1 << 30
}

fn default_key_cache_secs() -> u64 {
    60
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoEhrSettings {
    pub enabled: bool,
    pub venv: PathBuf,
    pub data_dir: PathBuf,
    pub port: u16,
}

/// A string that never shows itself in `Debug`, logs or `config check`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret set by code rather than read from configuration (`agent bench load` points
    /// the database at its own scratch folder).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

impl Settings {
    /// Loads base → `AGENT_CONFIG` file → environment, then validates.
    pub fn load() -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Toml::string(BASE));
        if let Ok(path) = std::env::var("AGENT_CONFIG") {
            if !Path::new(&path).is_file() {
                return Err(ConfigError::new("AGENT_CONFIG", format!("no such file {path}")));
            }
            fig = fig.merge(Toml::file(path));
        }
        let fig = fig.merge(Env::prefixed("AGENT__").split("__").lowercase(true));
        let settings: Settings = fig.extract().map_err(first_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The embedded defaults overridden by TOML strings in order, ignoring the environment
    /// (tests).
    pub fn from_toml_overrides(overrides: &[&str]) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Toml::string(BASE));
        for o in overrides {
            fig = fig.merge(Toml::string(o));
        }
        let settings: Settings = fig.extract().map_err(first_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The effective configuration as TOML, secrets redacted (`agent config check`).
    pub fn redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_database_url(self.database.url.expose())?;
        check_http_url("fhir.base_url", &self.fhir.base_url)?;
        self.fhir.validate().map_err(|e| ConfigError::new("fhir", e.to_string()))?;
        if let Some(url) = &self.integration.notify_url {
            check_http_url("integration.notify_url", url)?;
        }
        if self.model.threads == 0 {
            return Err(ConfigError::new("model.threads", "must be at least 1"));
        }
        if self.model.queue_capacity == 0 {
            return Err(ConfigError::new("model.queue_capacity", "must be at least 1"));
        }
        if self.model.embed_queue_capacity == 0 {
            return Err(ConfigError::new("model.embed_queue_capacity", "must be at least 1"));
        }
        if self.crypto.max_key_uses == 0 || self.crypto.max_key_uses > 1 << 31 {
            return Err(ConfigError::new("crypto.max_key_uses", "must be between 1 and 2^31"));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::new("database.max_connections", "must be at least 1"));
        }
        if let Some((key, message)) = self.limits.problem() {
            return Err(ConfigError::new(key, message));
        }
        let sla = &self.staff.sla;
        for (key, minutes) in [("urgent", sla.urgent_minutes), ("high", sla.high_minutes), ("normal", sla.normal_minutes)] {
            if !(1..=7 * 24 * 60).contains(&minutes) {
                return Err(ConfigError::new(format!("staff.sla.{key}_minutes"), "must be 1 to 10080 (a week)"));
            }
        }
        self.outreach.validate()?;
        self.outbox.validate()?;
        if let Some((key, message)) = self.alerts.problem() {
            return Err(ConfigError::new(key, message));
        }
        Ok(())
    }

    pub fn uses_demo_ehr(&self) -> bool {
        self.server.demo && self.demo_ehr.enabled
    }
}

fn first_error(err: figment::Error) -> ConfigError {
    let err = err.into_iter().next().expect("figment errors are never empty");
    let key = if err.path.is_empty() { "config".to_owned() } else { err.path.join(".") };
    let mut message = err.kind.to_string();
    if let Some(meta) = &err.metadata {
        message.push_str(&format!(" (from {})", meta.name));
    }
    ConfigError::new(key, message.replace('\n', " "))
}

fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let key = "database.url";
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(ConfigError::new(key, "sqlite:// needs a file path"));
        }
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|e| ConfigError::new(key, format!("malformed URL: {e}")))?;
    match parsed.scheme() {
        "postgres" | "postgresql" if parsed.host_str().is_some() => Ok(()),
        "postgres" | "postgresql" => Err(ConfigError::new(key, "PostgreSQL URL needs a host")),
        other => Err(ConfigError::new(key, format!("unsupported scheme {other:?} (sqlite:// or postgres://)"))),
    }
}

fn check_http_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| ConfigError::new(key, format!("malformed URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ConfigError::new(key, "must be an http(s) URL with a host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let s: Settings = Figment::from(Toml::string(BASE)).extract().unwrap();
        s.validate().unwrap();
        assert!(s.server.demo);
        assert_eq!(s.limits, crate::limits::LimitSettings::default(), "base.toml and the code agree");
        assert_eq!(s.alerts, crate::alerts::AlertSettings::default(), "base.toml and the code agree");
    }

    #[test]
    fn limits_reject_unknown_keys_and_zeros() {
        let e = Settings::from_toml_overrides(&["[limits]\nsession_per_minut = 5\n"]).unwrap_err();
        assert!(e.message.contains("session_per_minut"), "{e}");
        let e = Settings::from_toml_overrides(&["[limits]\naddress_burst = 0\n"]).unwrap_err();
        assert_eq!(e.key, "limits.address_burst");
    }

    #[test]
    fn database_url_checks_name_the_key() {
        assert!(check_database_url("sqlite://data/a.db").is_ok());
        assert!(check_database_url("postgres://u@localhost/db").is_ok());
        let e = check_database_url("postgres//nohost").unwrap_err();
        assert_eq!(e.key, "database.url");
        assert!(check_database_url("mysql://x/y").is_err());
    }

    #[test]
    fn a_plain_http_ehr_is_refused_unless_allowed() {
        let plain = "[fhir]\nbase_url = \"http://ehr.example/fhir\"\nallow_plain_http = false\n";
        let e = Settings::from_toml_overrides(&[plain]).unwrap_err();
        assert_eq!(e.key, "fhir");
        assert!(e.message.contains("allow_plain_http"), "{e}");
        let https = "[fhir]\nbase_url = \"https://ehr.example/fhir\"\nallow_plain_http = false\n";
        Settings::from_toml_overrides(&[https]).unwrap();
    }

    /// The settings shipped in deploy/k8s/configmap.yaml load (no unknown or misspelt keys).
    #[test]
    fn the_kubernetes_config_map_is_a_valid_config() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s/configmap.yaml");
        let yaml = std::fs::read_to_string(path).unwrap();
        let toml: Vec<&str> = yaml
            .lines()
            .skip_while(|l| l.trim() != "agent.toml: |")
            .skip(1)
            .map(|l| l.strip_prefix("    ").unwrap_or(l.trim()))
            .collect();
        let s = Settings::from_toml_overrides(&[&toml.join("\n")]).unwrap();
        assert!(!s.server.demo && !s.demo_ehr.enabled && !s.fhir.allow_plain_http);
        assert_eq!(s.server.tls.unwrap().cert_file, Path::new("/etc/agent/tls/tls.crt"));
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret("postgres://u:hunter2@h/db".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!toml::to_string(&DatabaseSettings { url: s, max_connections: 1 }).unwrap().contains("hunter2"));
    }

    #[test]
    fn the_prompt_canary_is_off_by_default_and_never_printed() {
        assert!(Settings::from_toml_overrides(&[]).unwrap().server.prompt_canary.is_none());
        let s = Settings::from_toml_overrides(&["[server]\nprompt_canary = \"ORCHID-77\"\n"]).unwrap();
        assert_eq!(s.server.prompt_canary.as_ref().map(Secret::expose), Some("ORCHID-77"));
        assert!(!s.redacted_toml().contains("ORCHID-77"));
    }
}
