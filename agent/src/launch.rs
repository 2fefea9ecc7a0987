//! Patient sign-in from the portal: the portal embeds the widget with a signed launch token
//! (a JWT carrying the FHIR Patient id and an expiry), which we verify with the shared key
//! (HS256) or the portal's public key (RS256/ES256, PEM) and exchange for a server session.
//! The patient is bound here, once; nothing said in chat can change it.

use std::path::PathBuf;

use fhir_client::PatientId;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// The `[portal]` settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// Shared secret (HS256) or the portal's PEM public key (RS256/ES256), mode 0600.
    pub launch_key_file: Option<PathBuf>,
    /// "HS256" (default), "RS256" or "ES256".
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Expected `aud` claim.
    #[serde(default)]
    pub audience: Option<String>,
    /// Expected `iss` claim.
    #[serde(default)]
    pub issuer: Option<String>,
}

/// A ready verifier for launch tokens.
#[derive(Clone)]
pub struct LaunchVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for LaunchVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LaunchVerifier([redacted])")
    }
}

#[derive(Deserialize)]
struct Claims {
    /// The FHIR Patient id (`patient` as in SMART launch context, else `sub`).
    patient: Option<String>,
    sub: Option<String>,
}

impl LaunchVerifier {
    pub fn from_settings(s: &PortalSettings) -> Result<Option<Self>, ConfigError> {
        let Some(path) = &s.launch_key_file else { return Ok(None) };
        let err = |m: String| ConfigError { key: "portal.launch_key_file".into(), message: m };
        let text = crate::crypto::read_secret_file("portal.launch_key_file", path)?;
        let alg = match s.algorithm.as_deref().unwrap_or("HS256") {
            "HS256" => Algorithm::HS256,
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            other => {
                return Err(ConfigError { key: "portal.algorithm".into(), message: format!("unsupported {other:?}") })
            }
        };
        let key = match alg {
            Algorithm::HS256 => DecodingKey::from_secret(text.trim().as_bytes()),
            Algorithm::RS256 => DecodingKey::from_rsa_pem(text.as_bytes()).map_err(|e| err(format!("not an RSA PEM key: {e}")))?,
            _ => DecodingKey::from_ec_pem(text.as_bytes()).map_err(|e| err(format!("not an EC PEM key: {e}")))?,
        };
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 30;
        match &s.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        if let Some(iss) = &s.issuer {
            validation.set_issuer(&[iss]);
        }
        Ok(Some(Self { key, validation }))
    }

    /// The patient a valid, unexpired token names; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<PatientId> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).ok()?;
        let id = data.claims.patient.or(data.claims.sub)?;
        PatientId::parse(id.trim_start_matches("Patient/")).ok()
    }
}
