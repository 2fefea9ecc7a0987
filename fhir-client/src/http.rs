//! The transport under `FhirClient`: one request with bounded attempts, capped exponential
//! backoff with full jitter for idempotent requests only, and every answer mapped to a typed
//! `Error` (down / slow / 5xx → `Unavailable`, non-FHIR → `Protocol`, 4xx → `Rejected` /
//! `NotFound`). Nothing here logs content: only methods, resource types, statuses and counts.

use std::time::Duration;

use rand::Rng;
use reqwest::{header, Method, StatusCode};
use serde_json::Value;

use crate::model::OperationOutcome;
use crate::stats::FhirStats;
use crate::{Error, Result};

/// Whether a request may be sent again after a lost or failed answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotent {
    /// GET, conditional create, PUT (with If-Match or to a client-chosen id), transactions
    /// made only of those.
    Yes,
    No,
}

/// One FHIR interaction to perform.
pub(crate) struct Call {
    pub method: Method,
    /// Absolute URL (already checked to be under the base).
    pub url: reqwest::Url,
    pub body: Option<Value>,
    /// An `application/x-www-form-urlencoded` body instead of JSON (token requests).
    pub form: Option<String>,
    pub headers: Vec<(header::HeaderName, String)>,
    pub idempotent: Idempotent,
    /// Resource type, for error messages and logs (never an id).
    pub what: &'static str,
}

/// A successful (2xx) answer.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

/// Why one attempt failed, and whether trying again could help.
enum Attempt {
    Transient(Error),
    Final(Error),
}

pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Transport {
    /// Sends `call`, retrying transient failures of idempotent calls; `token` is the bearer
    /// token to send, if any.
    pub async fn send(&self, call: &Call, token: Option<&str>, stats: &FhirStats) -> Result<Reply> {
        let mut attempt = 1;
        loop {
            FhirStats::bump(&stats.attempts);
            let outcome = self.attempt(call, token).await;
            match outcome {
                Ok(reply) => return Ok(reply),
                Err(Attempt::Transient(_))
                    if call.idempotent == Idempotent::Yes && attempt < self.max_attempts =>
                {
                    FhirStats::bump(&stats.retries);
                    tracing::debug!(method = %call.method, what = call.what, attempt, "retrying EHR request");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(Attempt::Transient(e)) => {
                    FhirStats::bump(&stats.failures);
                    tracing::warn!(method = %call.method, what = call.what, attempt, "EHR request failed");
                    return Err(e);
                }
                Err(Attempt::Final(e)) => {
                    let counter = match e {
                        Error::Protocol(_) => &stats.failures,
                        _ => &stats.rejections,
                    };
                    FhirStats::bump(counter);
                    return Err(e);
                }
            }
        }
    }

    /// Full jitter over `min(max, base * 2^(attempt-1))`.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.backoff_base.saturating_mul(1u32 << (attempt - 1).min(16));
        let cap = exp.min(self.backoff_max).as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=cap))
    }

    async fn attempt(&self, call: &Call, token: Option<&str>) -> Result<Reply, Attempt> {
        let mut req = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header(header::ACCEPT, "application/fhir+json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in &call.headers {
            req = req.header(k, v);
        }
        if let Some(body) = &call.body {
            let bytes = serde_json::to_vec(body).map_err(|e| Attempt::Final(Error::Protocol(e.to_string())))?;
            req = req.header(header::CONTENT_TYPE, "application/fhir+json").body(bytes);
        } else if let Some(form) = &call.form {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(form.clone());
        }
        let resp = req.send().await.map_err(|e| Attempt::Transient(transport_error(&e)))?;
        let status = resp.status();
        let is_json = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let bytes = resp.bytes().await.map_err(|e| Attempt::Transient(transport_error(&e)))?;
        classify(status, is_json, &bytes, call.what)
    }
}

fn transport_error(e: &reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    Error::Unavailable(kind.into())
}

fn classify(status: StatusCode, is_json: bool, bytes: &[u8], what: &'static str) -> Result<Reply, Attempt> {
    let code = status.as_u16();
    // Checked before the body is read: a proxy's 502 page is not FHIR, and need not be.
    if transient(code) {
        return Err(Attempt::Transient(Error::Unavailable(format!("HTTP {code}"))));
    }
    let body: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else if !is_json {
        return Err(Attempt::Final(Error::Protocol(format!("HTTP {code} answer is not FHIR JSON"))));
    } else {
        let v = serde_json::from_slice(bytes)
            .map_err(|_| Attempt::Final(Error::Protocol(format!("HTTP {code} body is not valid JSON"))))?;
        Some(v)
    };
    judge(code, body, what)
}

/// A status worth trying again later: 5xx, 429 (too many requests), 408 (request timeout).
fn transient(code: u16) -> bool {
    (500..=599).contains(&code) || code == 429 || code == 408
}

/// What a status and its (parsed) body mean: the reply, or the error they stand for.
fn judge(code: u16, body: Option<Value>, what: &'static str) -> Result<Reply, Attempt> {
    if transient(code) {
        return Err(Attempt::Transient(Error::Unavailable(format!("HTTP {code}"))));
    }
    if (200..=299).contains(&code) {
        return Ok(Reply { status: code, body });
    }
    let outcome = body
        .and_then(|b| serde_json::from_value::<OperationOutcome>(b).ok())
        .filter(|o| o.resource_type == "OperationOutcome");
    if code == 404 || code == 410 {
        return Err(Attempt::Final(Error::NotFound(what.into())));
    }
    if !(400..=499).contains(&code) {
        return Err(Attempt::Final(Error::Protocol(format!("unexpected HTTP {code}"))));
    }
    let diagnostics = outcome.map(|o| o.codes()).unwrap_or_else(|| "no OperationOutcome".into());
    Err(Attempt::Final(Error::Rejected { status: code, diagnostics }))
}

/// The answer to one read from its entry of a `batch-response` Bundle, judged as the same
/// status and body would be alone; `None` when it should be sent again alone (5xx, 429, or an
/// entry without a readable status).
pub(crate) fn batch_entry(entry: &Value, what: &'static str) -> Option<Result<Reply>> {
    let status = entry.get("response")?.get("status")?.as_str()?;
    let code = status.split_whitespace().next()?.parse::<u16>().ok()?;
    let body = entry.get("resource").or_else(|| entry["response"].get("outcome")).cloned();
    match judge(code, body, what) {
        Ok(reply) => Some(Ok(reply)),
        Err(Attempt::Final(e)) => Some(Err(e)),
        Err(Attempt::Transient(_)) => None,
    }
}

/// Is this the EHR saying "your version is stale" (If-Match failed) or "conflict"?
pub(crate) fn is_conflict(e: &Error) -> bool {
    matches!(e, Error::Rejected { status: 409 | 412, .. })
}

/// `application/x-www-form-urlencoded` serialization of `pairs`.
pub(crate) fn form_encode(pairs: &[(&str, String)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("static URL parses");
    url.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    url.query().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_entry_is_judged_as_its_status_would_be_alone() {
        let entry = |v: Value| batch_entry(&v, "Slot");
        let ok = entry(serde_json::json!({"response": {"status": "200 OK"}, "resource": {"resourceType": "Slot", "id": "s1"}}));
        assert!(matches!(ok, Some(Ok(Reply { status: 200, body: Some(ref b) })) if b["id"] == "s1"));
        let gone = entry(serde_json::json!({"response": {"status": "404 Not Found", "outcome": {"resourceType": "OperationOutcome"}}}));
        assert!(matches!(gone, Some(Err(Error::NotFound(ref w))) if w == "Slot"));
        let oo = serde_json::json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]});
        let refused = entry(serde_json::json!({"response": {"status": "403", "outcome": oo}}));
        assert!(matches!(refused, Some(Err(Error::Rejected { status: 403, ref diagnostics })) if diagnostics.contains("forbidden")));
        assert!(entry(serde_json::json!({"response": {"status": "503 Service Unavailable"}})).is_none());
        assert!(entry(serde_json::json!({"response": {"status": "429"}})).is_none());
        assert!(entry(serde_json::json!({"response": {"status": "soon"}})).is_none());
        assert!(entry(serde_json::json!({"resource": {"resourceType": "Slot"}})).is_none());
    }

    #[test]
    fn answers_map_to_typed_errors() {
        let ok = classify(StatusCode::OK, true, br#"{"resourceType":"Patient"}"#, "Patient");
        assert!(matches!(ok, Ok(Reply { status: 200, body: Some(_) })));
        let html = classify(StatusCode::OK, false, b"<html>login</html>", "Patient");
        assert!(matches!(html, Err(Attempt::Final(Error::Protocol(_)))));
        let bad_json = classify(StatusCode::OK, true, b"{not json", "Patient");
        assert!(matches!(bad_json, Err(Attempt::Final(Error::Protocol(_)))));
        let gateway = classify(StatusCode::BAD_GATEWAY, false, b"<html>502</html>", "Patient");
        assert!(matches!(gateway, Err(Attempt::Transient(Error::Unavailable(_)))));
        let gone = classify(StatusCode::GONE, true, br#"{"resourceType":"OperationOutcome"}"#, "Slot");
        assert!(matches!(gone, Err(Attempt::Final(Error::NotFound(ref w))) if w == "Slot"));
        let oo = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict","diagnostics":"Patient/123 stale"}]}"#;
        match classify(StatusCode::PRECONDITION_FAILED, true, oo, "Slot") {
            Err(Attempt::Final(e)) => {
                assert!(is_conflict(&e));
                assert!(!e.to_string().contains("123"), "server free text must not leak into errors");
            }
            _ => panic!("412 must be a final conflict"),
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let t = Transport {
            http: reqwest::Client::new(),
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(250),
        };
        for attempt in 1..=20 {
            assert!(t.backoff(attempt) <= Duration::from_millis(250));
        }
        assert!(t.backoff(1) <= Duration::from_millis(100));
    }
}
