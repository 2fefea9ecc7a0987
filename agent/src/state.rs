//! `AppState`: the handles every route shares. Built once by `app::build`, cloned per request
//! (everything inside is behind an `Arc`).

use std::sync::Arc;

use fhir_client::Ehr;
use inference::LanguageModel;

use crate::chat::Dialogue;
use crate::clock::Clock;
use crate::crypto::Cipher;
use crate::metrics::Metrics;
use crate::store::Store;

/// A patient a demo visitor can sign in as (demo mode only).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoPatient {
    pub id: String,
    pub name: String,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub model: Arc<dyn LanguageModel>,
    pub ehr: Arc<dyn Ehr>,
    pub dialogue: Arc<dyn Dialogue>,
    pub cipher: Cipher,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub policy: Policy,
    pub integration: Integration,
    /// Verifies the portal's launch tokens; `None` when no portal is configured.
    pub launch: Option<crate::launch::LaunchVerifier>,
    /// Empty unless the server runs in demo mode.
    pub demo_patients: Arc<Vec<DemoPatient>>,
    /// Live updates to staff consoles and to patients whose conversation a person has.
    pub staff: crate::staff::Hub,
    /// The audit log as `agent audit verify` checks it (store, checkpoint file, public keys),
    /// for the audit viewer.
    pub audit: crate::audit_cli::LogCheck,
}

/// Timeouts and limits that tests may shorten.
#[derive(Clone, Debug)]
pub struct Policy {
    pub demo: bool,
    pub session_idle_ms: i64,
    pub session_absolute_ms: i64,
    /// How long a turn may hold its conversation before another may take over.
    pub turn_lock_ms: i64,
    /// A turn (model + EHR) that takes longer is handed to a person.
    pub turn_deadline_ms: u64,
    /// Secure cookies (off only for plain-http tests that read cookies by hand).
    pub secure_cookies: bool,
    /// How long each escalation priority may wait for a person.
    pub sla: crate::staff::Sla,
    /// How often the SLA sweep looks for breaches (real time; breaches use the service clock).
    pub sla_sweep_ms: u64,
    /// Per-session and per-address rate limits on the API.
    pub limits: crate::limits::LimitSettings,
    /// When an unanswered follow-up escalates and how often refill Tasks are polled.
    pub outreach: crate::followups::OutreachSettings,
    /// When EHR writes kept while it was down are tried again.
    pub outbox: crate::outbox::OutboxSettings,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            demo: false,
            session_idle_ms: 15 * 60 * 1000,
            session_absolute_ms: 12 * 60 * 60 * 1000,
            turn_lock_ms: 60 * 1000,
            turn_deadline_ms: 20 * 1000,
            secure_cookies: true,
            sla: crate::staff::Sla::default(),
            sla_sweep_ms: 5_000,
            limits: crate::limits::LimitSettings::default(),
            outreach: crate::followups::OutreachSettings::default(),
            outbox: crate::outbox::OutboxSettings::default(),
        }
    }
}

/// The hospital integration: who may post events, and where to tell the portal.
#[derive(Clone, Default)]
pub struct Integration {
    /// Bearer key for `/api/events/*`; `None` disables those routes.
    pub key: Option<String>,
    pub notify_url: Option<String>,
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration").field("key", &self.key.as_ref().map(|_| "[redacted]")).field("notify_url", &self.notify_url).finish()
    }
}
