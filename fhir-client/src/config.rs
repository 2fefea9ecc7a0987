//! `FhirConfig`: how to reach the EHR (the `[fhir]` section of the service config), with
//! defaults that suit a local sekmet and a `validate` that refuses unsafe combinations.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Connection settings for one FHIR R4 server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FhirConfig {
    /// FHIR base, e.g. `https://ehr.example.org/fhir` (no trailing slash needed).
    pub base_url: String,
    /// Per-attempt timeout (connect + request + body), milliseconds.
    pub timeout_ms: u64,
    /// Attempts per request, first one included (retries only for idempotent requests).
    pub max_attempts: u32,
    /// First backoff delay; doubles per retry, capped at `backoff_max_ms`, full jitter.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub auth: AuthConfig,
    /// `http://` base URLs (and token URLs) are refused unless this is set (local test EHRs).
    pub allow_plain_http: bool,
    /// Requests to the EHR at once, at most (the rest wait their turn, first come first served).
    pub max_in_flight: usize,
    /// Reads waiting for one of those places go together as one `batch` Bundle, if the server
    /// lists `batch` in its CapabilityStatement. Off: every read is a request of its own.
    pub batch_reads: bool,
}

impl Default for FhirConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8090/fhir".into(),
            timeout_ms: 5_000,
            max_attempts: 3,
            backoff_base_ms: 100,
            backoff_max_ms: 2_000,
            auth: AuthConfig::None,
            allow_plain_http: false,
            max_in_flight: 8,
            batch_reads: true,
        }
    }
}

/// How the client authenticates to the EHR.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// No Authorization header (local test servers only).
    #[default]
    None,
    /// SMART Backend Services: client_credentials with a `private_key_jwt` client assertion.
    Smart {
        client_id: String,
        /// OAuth token endpoint (see the server's `.well-known/smart-configuration`).
        token_url: String,
        /// PEM private key (PKCS#8 for ES384; PKCS#1 or PKCS#8 for RS384).
        private_key_path: PathBuf,
        /// `kid` header of the assertion, matching the key in the registered JWKS.
        #[serde(default)]
        key_id: Option<String>,
        #[serde(default)]
        alg: SmartAlg,
        /// Space-separated SMART scopes, e.g. `system/Patient.read system/Appointment.write`.
        #[serde(default = "default_scopes")]
        scopes: String,
    },
}

fn default_scopes() -> String {
    "system/*.read system/*.write".into()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmartAlg {
    #[default]
    RS384,
    ES384,
}

impl FhirConfig {
    /// A config for a local test server at `base_url` (plain http allowed).
    pub fn local(base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), allow_plain_http: true, ..Self::default() }
    }

    /// Checks what serde cannot: URL schemes, ranges.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |why: String| crate::Error::Invalid { what: "fhir config", why };
        self.check_url("base_url", &self.base_url).map_err(bad)?;
        if let AuthConfig::Smart { token_url, client_id, .. } = &self.auth {
            self.check_url("auth.token_url", token_url).map_err(bad)?;
            if client_id.is_empty() {
                return Err(bad("auth.client_id is empty".into()));
            }
        }
        if self.timeout_ms == 0 {
            return Err(bad("timeout_ms must be > 0".into()));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(bad("max_attempts must be 1..=10".into()));
        }
        if !(1..=256).contains(&self.max_in_flight) {
            return Err(bad("max_in_flight must be 1..=256".into()));
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            return Err(bad("backoff_max_ms < backoff_base_ms".into()));
        }
        Ok(())
    }

    fn check_url(&self, key: &str, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{key}: {e}"))?;
        match parsed.scheme() {
            "https" => Ok(()),
            "http" if self.allow_plain_http => Ok(()),
            "http" => Err(format!("{key} is http:// but allow_plain_http is false")),
            other => Err(format!("{key}: unsupported scheme {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_auth_parses_from_a_tagged_table_and_unknown_keys_are_refused() {
        let cfg: FhirConfig = serde_json::from_value(serde_json::json!({
            "base_url": "https://ehr.example/fhir",
            "auth": {"type": "smart", "client_id": "agent", "token_url": "https://ehr.example/token",
                     "private_key_path": "keys/agent.pem", "alg": "ES384"}
        }))
        .unwrap();
        cfg.validate().unwrap();
        assert!(matches!(cfg.auth, AuthConfig::Smart { alg: SmartAlg::ES384, .. }));
        assert_eq!(cfg.max_attempts, 3);
        let typo = serde_json::from_value::<FhirConfig>(serde_json::json!({"base_url": "x", "timeout": 1}));
        assert!(typo.is_err());
        let typo_in_auth = serde_json::from_value::<FhirConfig>(serde_json::json!({
            "auth": {"type": "smart", "client_id": "a", "token_url": "b", "private_key_path": "c", "scope": "x"}}));
        assert!(typo_in_auth.is_err());
    }

    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let mut cfg = FhirConfig { base_url: "http://ehr/fhir".into(), ..FhirConfig::default() };
        assert!(cfg.validate().is_err());
        cfg.allow_plain_http = true;
        cfg.validate().unwrap();
        cfg.max_attempts = 0;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn requests_in_flight_are_bounded_both_ways() {
        for (places, ok) in [(0, false), (1, true), (8, true), (256, true), (257, false)] {
            let cfg = FhirConfig { max_in_flight: places, ..FhirConfig::local("http://ehr/fhir") };
            assert_eq!(cfg.validate().is_ok(), ok, "max_in_flight = {places}");
        }
        let parsed: FhirConfig = serde_json::from_value(serde_json::json!({"max_in_flight": 2, "batch_reads": false})).unwrap();
        assert_eq!((parsed.max_in_flight, parsed.batch_reads), (2, false));
        assert_eq!((FhirConfig::default().max_in_flight, FhirConfig::default().batch_reads), (8, true));
    }

    #[test]
    fn a_plain_http_token_url_is_refused_and_the_client_will_not_build() {
        let smart = AuthConfig::Smart {
            client_id: "agent".into(),
            token_url: "http://ehr.example/token".into(),
            private_key_path: "keys/agent.pem".into(),
            key_id: None,
            alg: SmartAlg::RS384,
            scopes: default_scopes(),
        };
        let cfg = FhirConfig { base_url: "https://ehr.example/fhir".into(), auth: smart, ..FhirConfig::default() };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("auth.token_url") && e.contains("allow_plain_http"), "{e}");
        let plain = FhirConfig { base_url: "http://ehr.example/fhir".into(), ..FhirConfig::default() };
        assert!(crate::FhirClient::new(&plain).is_err(), "FhirClient::new validates too");
        assert!(crate::FhirClient::new(&FhirConfig::local("http://127.0.0.1:1/fhir")).is_ok(), "allowed for a local EHR");
    }
}
