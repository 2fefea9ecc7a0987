//! SMART Backend Services: a `private_key_jwt` client assertion (RS384 / ES384) exchanged for
//! an access token with `client_credentials`; the token is cached until shortly before it
//! expires and fetched again when the EHR answers 401.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::config::{AuthConfig, SmartAlg};
use crate::http::{form_encode, Call, Idempotent, Transport};
use crate::stats::FhirStats;
use crate::{Error, Result};

/// Tokens are refreshed this long before the server says they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Servers cap assertion lifetime at 5 minutes; stay under it.
const ASSERTION_TTL_SECS: i64 = 240;

pub(crate) struct SmartAuth {
    client_id: String,
    token_url: reqwest::Url,
    scopes: String,
    key: EncodingKey,
    header: Header,
    cached: Mutex<Option<(String, Instant)>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl SmartAuth {
    pub fn new(cfg: &AuthConfig) -> Result<Self> {
        let AuthConfig::Smart { client_id, token_url, private_key_path, key_id, alg, scopes } = cfg else {
            return Err(Error::Invalid { what: "fhir auth", why: "not smart".into() });
        };
        let invalid = |why: String| Error::Invalid { what: "fhir auth", why };
        let pem = std::fs::read(private_key_path).map_err(|e| invalid(format!("private key: {}", e.kind())))?;
        let (key, algorithm) = match alg {
            SmartAlg::RS384 => (EncodingKey::from_rsa_pem(&pem), Algorithm::RS384),
            SmartAlg::ES384 => (EncodingKey::from_ec_pem(&pem), Algorithm::ES384),
        };
        let key = key.map_err(|e| invalid(format!("private key does not load: {e}")))?;
        let mut header = Header::new(algorithm);
        header.kid = key_id.clone();
        header.typ = Some("JWT".into());
        let token_url = reqwest::Url::parse(token_url).map_err(|e| invalid(format!("token_url: {e}")))?;
        Ok(Self {
            client_id: client_id.clone(),
            token_url,
            scopes: scopes.clone(),
            key,
            header,
            cached: Mutex::new(None),
        })
    }

    /// A valid access token, from the cache or freshly fetched.
    pub async fn token(&self, transport: &Transport, stats: &FhirStats) -> Result<String> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.fetch(transport, stats).await?;
        let until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    fn assertion(&self) -> Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: self.token_url.as_str(),
            exp: now + ASSERTION_TTL_SECS,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| Error::Invalid { what: "client assertion", why: e.to_string() })
    }

    async fn fetch(&self, transport: &Transport, stats: &FhirStats) -> Result<(String, Duration)> {
        FhirStats::bump(&stats.token_fetches);
        // A fresh assertion (new jti) per attempt: the server rejects replays.
        let form = [
            ("grant_type", "client_credentials".to_string()),
            ("scope", self.scopes.clone()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string()),
            ("client_assertion", self.assertion()?),
        ];
        let call = Call {
            method: Method::POST,
            url: self.token_url.clone(),
            body: None,
            form: Some(form_encode(&form)),
            headers: Vec::new(),
            idempotent: Idempotent::No,
            what: "token",
        };
        let reply = transport.send(&call, None, stats).await?;
        let body = reply.body.ok_or_else(|| Error::Protocol("empty token response".into()))?;
        let t: TokenResponse =
            serde_json::from_value(body).map_err(|_| Error::Protocol("token response has no access_token".into()))?;
        Ok((t.access_token, Duration::from_secs(t.expires_in.unwrap_or(300))))
    }
}
