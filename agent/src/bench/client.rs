//! A simulated patient's side of the wire: demo sign-in, starting a conversation, and posting
//! a message the way the widget does (`Accept: text/event-stream`), timing the first event
//! (`progress`) and the whole turn (`turn`). Errors are sorted by kind, never retried here.

use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::header::ACCEPT;

use super::stats::status_kind;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub base: String,
}

/// How a posted message ended.
#[derive(Debug)]
pub enum Posted {
    /// The turn's body; the first event's and the whole turn's times.
    Turn { body: serde_json::Value, first_event: Duration, total: Duration },
    /// Refused or failed: the kind ("429", "503", "5xx", "409", "4xx", "transport") and the
    /// server's hint of when to resend.
    Failed { kind: String, retry: Option<Duration> },
}

impl Client {
    pub fn new(base: &str) -> Self {
        // Each simulated patient is its own browser: no shared connection pool limits.
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap_or_default();
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// A bearer token for the demo patient `patient` (demo mode only).
    pub async fn sign_in(&self, patient: &str) -> anyhow::Result<String> {
        let r = self
            .http
            .post(format!("{}/api/demo/sign-in", self.base))
            .json(&serde_json::json!({ "patient": patient }))
            .send()
            .await
            .context("signing in")?;
        anyhow::ensure!(r.status().is_success(), "sign-in answered {}", r.status());
        let body: serde_json::Value = r.json().await.context("reading the sign-in answer")?;
        body["token"].as_str().map(str::to_owned).context("no token in the sign-in answer")
    }

    /// Starts a patient conversation; its id, or the error kind.
    pub async fn start(&self, token: &str) -> Result<String, String> {
        let r = self
            .http
            .post(format!("{}/api/conversations", self.base))
            .bearer_auth(token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|_| "transport".to_owned())?;
        if !r.status().is_success() {
            return Err(status_kind(r.status().as_u16()));
        }
        let body: serde_json::Value = r.json().await.map_err(|_| "transport".to_owned())?;
        body["conversation_id"].as_str().map(str::to_owned).ok_or_else(|| "5xx".to_owned())
    }

    /// Opens the conversation's idle event stream (messages from a person who took over).
    pub async fn events(&self, token: &str, conversation: &str) -> anyhow::Result<reqwest::Response> {
        let r = self
            .http
            .get(format!("{}/api/conversations/{conversation}/events", self.base))
            .bearer_auth(token)
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .context("opening an event stream")?;
        anyhow::ensure!(r.status().is_success(), "event stream answered {}", r.status());
        Ok(r)
    }

    /// Posts `text` as one turn over server-sent events.
    pub async fn say(&self, token: &str, conversation: &str, text: &str, key: &str) -> Posted {
        let started = Instant::now();
        let sent = self
            .http
            .post(format!("{}/api/conversations/{conversation}/messages", self.base))
            .bearer_auth(token)
            .header(ACCEPT, "text/event-stream")
            .header("idempotency-key", key)
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await;
        let mut r = match sent {
            Ok(r) => r,
            Err(_) => return Posted::Failed { kind: "transport".into(), retry: None },
        };
        if !r.status().is_success() {
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok())
                .map(Duration::from_secs_f64);
            return Posted::Failed { kind: status_kind(r.status().as_u16()), retry };
        }
        let mut buf = String::new();
        let mut first_event = None;
        loop {
            let chunk = match r.chunk().await {
                Ok(Some(c)) => c,
                _ => return Posted::Failed { kind: "transport".into(), retry: None },
            };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let event = SseEvent::parse(&block);
                first_event.get_or_insert_with(|| started.elapsed());
                match event.name.as_str() {
                    "turn" => {
                        let body = serde_json::from_str(&event.data).unwrap_or_default();
                        let first_event = first_event.unwrap_or_default();
                        return Posted::Turn { body, first_event, total: started.elapsed() };
                    }
                    "error" => return Posted::Failed { kind: event.error_kind(), retry: event.retry },
                    _ => {}
                }
            }
        }
    }
}

/// One server-sent event: its name, data lines joined, and the `retry:` field.
#[derive(Debug, Default, PartialEq)]
pub struct SseEvent {
    pub name: String,
    pub data: String,
    pub retry: Option<Duration>,
}

impl SseEvent {
    pub fn parse(block: &str) -> Self {
        let mut e = SseEvent { name: "message".into(), ..Self::default() };
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                e.name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            } else if let Some(v) = line.strip_prefix("retry:") {
                e.retry = v.trim().parse::<u64>().ok().map(Duration::from_millis);
            }
        }
        e.data = data.join("\n");
        e
    }

    /// An `error` event's kind, from its OperationOutcome issue code.
    fn error_kind(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.data).unwrap_or_default();
        match v["issue"][0]["code"].as_str() {
            Some("transient") => "503",
            Some("throttled") => "429",
            Some("conflict") => "409",
            Some("exception") | None => "5xx",
            Some(_) => "4xx",
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_event_carries_its_kind_and_retry() {
        let e = SseEvent::parse("event: error\nretry: 5000\ndata: {\"issue\":[{\"code\":\"transient\"}]}\n\n");
        assert_eq!(e.name, "error");
        assert_eq!(e.retry, Some(Duration::from_secs(5)));
        assert_eq!(e.error_kind(), "503");
        assert_eq!(SseEvent::parse("data: {}\n\n").error_kind(), "5xx");
        assert_eq!(SseEvent::parse("event: turn\ndata: {\"a\":\ndata: 1}\n\n").data, "{\"a\":\n1}");
    }
}
