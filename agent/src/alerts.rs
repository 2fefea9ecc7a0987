//! Security alerts: something an on-call person should look at. Each alert is one structured
//! log event (target `security_alert`), one increment of `agent_security_alerts_total{kind}`,
//! and, when `[alerts] webhook_url` is set, one JSON POST sent in the background with a
//! timeout (a slow or absent receiver never holds up a request). Alerts carry staff ids, counts
//! and sequence numbers, never a patient id or anything a patient said.
//!
//! Kinds: repeated failed staff sign-ins (`failed_sign_ins`), one staff account reading many
//! distinct patients (`patient_reads`), a break-glass declaration (`break_glass`), the audit log
//! failing verification (`audit_verify_failed`), a data key near its use limit (`key_use`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `[alerts]` settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Receives each alert as a JSON POST (no PHI in it); unset: log and counter only. May
    /// carry a token (chat webhooks do): `config check` shows it redacted.
    #[serde(serialize_with = "redacted")]
    pub webhook_url: Option<String>,
    pub webhook_timeout_ms: u64,
    /// Failed sign-in steps for one account (or for unknown names, together) within the window.
    pub failed_sign_ins: usize,
    pub failed_sign_in_window_secs: i64,
    /// Distinct patients one staff account opens within the window.
    pub distinct_patients: usize,
    pub distinct_patients_window_secs: i64,
    /// Share of `crypto.max_key_uses` at which a data key's use counter raises an alert.
    pub key_use_ratio: f64,
    /// How often the service verifies the whole audit log (0: never; the admin API's verify
    /// raises the alert too).
    pub verify_every_secs: u64,
}

fn redacted<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_timeout_ms: 3_000,
            failed_sign_ins: 5,
            failed_sign_in_window_secs: 600,
            distinct_patients: 25,
            distinct_patients_window_secs: 3_600,
            key_use_ratio: 0.9,
            verify_every_secs: 3_600,
        }
    }
}

impl AlertSettings {
    /// The first bad setting as (key, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if let Some(url) = &self.webhook_url {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !ok {
                return Some(("alerts.webhook_url", "must be an http(s) URL with a host".into()));
            }
        }
        if self.failed_sign_ins == 0 || self.distinct_patients == 0 {
            return Some(("alerts", "failed_sign_ins and distinct_patients must be at least 1".into()));
        }
        if !(self.key_use_ratio > 0.0 && self.key_use_ratio <= 1.0) {
            return Some(("alerts.key_use_ratio", "must be above 0 and at most 1".into()));
        }
        None
    }
}

/// What kind of alert (the counter's label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    FailedSignIns,
    PatientReads,
    BreakGlass,
    AuditVerifyFailed,
    KeyUse,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::FailedSignIns, Kind::PatientReads, Kind::BreakGlass, Kind::AuditVerifyFailed, Kind::KeyUse];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::FailedSignIns => "failed_sign_ins",
            Kind::PatientReads => "patient_reads",
            Kind::BreakGlass => "break_glass",
            Kind::AuditVerifyFailed => "audit_verify_failed",
            Kind::KeyUse => "key_use",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// Recent events per account, kept in memory only (each replica counts its own traffic).
#[derive(Default)]
struct Windows {
    failures: HashMap<String, VecDeque<i64>>,
    reads: HashMap<String, VecDeque<(i64, String)>>,
}

pub struct Alerts {
    settings: AlertSettings,
    pub counter: Family<KindLabels, Counter>,
    windows: Mutex<Windows>,
    http: reqwest::Client,
}

impl Alerts {
    pub fn new(settings: AlertSettings) -> Self {
        let counter = Family::<KindLabels, Counter>::default();
        for k in Kind::ALL {
            // Present from the start at 0, so a dashboard sees the series before any alert.
            let _ = counter.get_or_create(&KindLabels { kind: k.as_str().into() });
        }
        Self { settings, counter, windows: Mutex::new(Windows::default()), http: reqwest::Client::new() }
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// How many alerts of `kind` this process raised.
    pub fn count(&self, kind: Kind) -> u64 {
        self.counter.get_or_create(&KindLabels { kind: kind.as_str().into() }).get()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Raises one alert: log event, counter, webhook. `subject` is a staff id, "audit_log" or
    /// "data_keys"; `details` must hold no PHI.
    pub fn fire(&self, kind: Kind, subject: &str, now: i64, details: Value) {
        self.counter.get_or_create(&KindLabels { kind: kind.as_str().into() }).inc();
        tracing::warn!(target: "security_alert", alert = kind.as_str(), subject, details = %details, "security alert");
        let Some(url) = self.settings.webhook_url.clone() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let body = json!({ "alert": kind.as_str(), "subject": subject, "at": now, "details": details });
        let request = self.http.post(url).timeout(std::time::Duration::from_millis(self.settings.webhook_timeout_ms)).json(&body);
        rt.spawn(async move {
            match request.send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(status = r.status().as_u16(), "alert webhook refused the alert"),
                Err(e) => tracing::warn!(error = %e.without_url(), "alert webhook unreachable"),
            }
        });
    }

    /// A failed sign-in step (password or code) for `account` (a staff id, or "unknown").
    pub fn sign_in_failed(&self, account: &str, now: i64) {
        let window = self.settings.failed_sign_in_window_secs * 1000;
        let count = {
            let mut w = self.lock();
            let q = w.failures.entry(account.to_owned()).or_default();
            q.push_back(now);
            while q.front().is_some_and(|t| *t <= now - window) {
                q.pop_front();
            }
            let n = q.len();
            if n >= self.settings.failed_sign_ins {
                q.clear();
            }
            n
        };
        if count >= self.settings.failed_sign_ins {
            self.fire(Kind::FailedSignIns, account, now, json!({ "failures": count, "window_secs": window / 1000 }));
        }
    }

    /// A staff member opened a patient's case or conversation.
    pub fn patient_read(&self, staff: &str, patient: &str, now: i64) {
        let window = self.settings.distinct_patients_window_secs * 1000;
        let distinct = {
            let mut w = self.lock();
            let q = w.reads.entry(staff.to_owned()).or_default();
            q.push_back((now, patient.to_owned()));
            while q.front().is_some_and(|(t, _)| *t <= now - window) {
                q.pop_front();
            }
            let n = q.iter().map(|(_, p)| p.as_str()).collect::<HashSet<_>>().len();
            if n >= self.settings.distinct_patients {
                q.clear();
            }
            n
        };
        if distinct >= self.settings.distinct_patients {
            self.fire(Kind::PatientReads, staff, now, json!({ "distinct_patients": distinct, "window_secs": window / 1000 }));
        }
    }

    /// A data key's use counter moved from `before` to `after` reserved uses of `max`: alerts
    /// once, when it crosses the configured share.
    pub fn key_uses(&self, before: u64, after: u64, max: u64, now: i64) {
        let threshold = ((max as f64) * self.settings.key_use_ratio).ceil() as u64;
        if before < threshold && after >= threshold {
            self.fire(Kind::KeyUse, "data_keys", now, json!({ "uses": after.min(max), "max_uses": max }));
        }
    }
}

/// Verifies the whole audit log once; a log that fails raises `audit_verify_failed` (the
/// first bad record's number in the details). Returns whether it verified.
pub async fn verify_log(check: &crate::audit_cli::LogCheck, alerts: &Alerts, now: i64) -> anyhow::Result<bool> {
    match check.run().await? {
        Ok(_) => Ok(true),
        Err(f) => {
            alerts.fire(Kind::AuditVerifyFailed, "audit_log", now, json!({ "first_bad_record": f.seq }));
            Ok(false)
        }
    }
}

/// Verifies the log every `verify_every_secs` while the service runs (the first time one
/// period after start).
pub fn spawn_verify(check: crate::audit_cli::LogCheck, metrics: std::sync::Arc<crate::metrics::Metrics>, clock: std::sync::Arc<dyn crate::clock::Clock>) {
    let every = metrics.alerts.settings.verify_every_secs;
    if every == 0 {
        return;
    }
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(every);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = verify_log(&check, &metrics.alerts, clock.now_ms()).await {
                tracing::error!(error = %e, "periodic audit verification could not run");
            }
        }
    });
}

impl Default for Alerts {
    fn default() -> Self {
        Self::new(AlertSettings::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_alert_once_per_burst_within_the_window_only() {
        let a = Alerts::default();
        for i in 0..4 {
            a.sign_in_failed("u1", i * 1000);
        }
        a.sign_in_failed("u2", 4000);
        assert_eq!(a.count(Kind::FailedSignIns), 0, "four for u1 and one for u2 are not five for anyone");
        a.sign_in_failed("u1", 5000);
        assert_eq!(a.count(Kind::FailedSignIns), 1);
        // Spread out over more than the window: never five at once.
        let b = Alerts::default();
        for i in 0..10 {
            b.sign_in_failed("u1", i * 200_000);
        }
        assert_eq!(b.count(Kind::FailedSignIns), 0);
    }

    #[test]
    fn reading_many_distinct_patients_alerts_and_rereading_one_does_not() {
        let a = Alerts::new(AlertSettings { distinct_patients: 3, ..AlertSettings::default() });
        for _ in 0..10 {
            a.patient_read("s1", "p1", 1);
        }
        a.patient_read("s1", "p2", 2);
        assert_eq!(a.count(Kind::PatientReads), 0);
        a.patient_read("s1", "p3", 3);
        assert_eq!(a.count(Kind::PatientReads), 1);
    }

    #[test]
    fn a_key_alerts_when_it_crosses_the_share_once() {
        let a = Alerts::default();
        a.key_uses(0, 16, 100, 0);
        a.key_uses(80, 89, 100, 0);
        assert_eq!(a.count(Kind::KeyUse), 0);
        a.key_uses(89, 95, 100, 0);
        a.key_uses(95, 100, 100, 0);
        assert_eq!(a.count(Kind::KeyUse), 1);
    }

    #[test]
    fn a_bad_webhook_url_is_a_setting_problem() {
        let s = AlertSettings { webhook_url: Some("ftp://x".into()), ..AlertSettings::default() };
        assert_eq!(s.problem().unwrap().0, "alerts.webhook_url");
        assert!(AlertSettings::default().problem().is_none());
        let hook = AlertSettings { webhook_url: Some("https://hooks.example/T0/secret-token".into()), ..AlertSettings::default() };
        assert!(!toml::to_string(&hook).unwrap().contains("secret-token"));
    }
}
