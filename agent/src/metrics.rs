//! Prometheus metrics (`/metrics`): request and turn counters labelled only by route
//! templates, outcomes and kinds, never by anything that identifies a patient.

use std::sync::Arc;

use fhir_client::{FhirStats, StatsSnapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub turns: Family<OutcomeLabels, Counter>,
    pub escalations: Family<OutcomeLabels, Counter>,
    /// Security alerts (their counter is registered here as `agent_security_alerts`).
    pub alerts: crate::alerts::Alerts,
    /// Outcome figures from the data, refreshed when scraped (at most every `OUTCOMES_EVERY`).
    pub outcomes: OutcomeGauges,
    /// The FHIR client's counters, once the service has one (`watch_ehr`).
    ehr: Option<Arc<FhirStats>>,
}

/// The FHIR client's own counters, read at each scrape as `agent_ehr_*_total`.
#[derive(Debug)]
struct EhrCounters(Arc<FhirStats>);

impl Collector for EhrCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.snapshot();
        let counters = [
            ("ehr_requests", "HTTP requests sent to the EHR (first tries and retries)", s.attempts),
            ("ehr_retries", "Requests to the EHR that were retries", s.retries),
            ("ehr_failures", "EHR requests that ended unavailable or with a non-FHIR answer", s.failures),
            ("ehr_rejections", "EHR requests refused with a 4xx", s.rejections),
            ("ehr_token_fetches", "Access tokens fetched from the EHR's token endpoint", s.token_fetches),
            ("ehr_shared_reads", "Reads answered by an identical read already in flight", s.shared_reads),
            ("ehr_batches", "Batch Bundles sent, each with reads that waited for a place", s.batches),
            ("ehr_batched_reads", "Reads answered inside a batch, with no request of their own", s.batched_reads),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        Ok(())
    }
}

/// The least time between two reads of the outcome figures (each is a few aggregate queries).
pub const OUTCOMES_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

type Labels = Vec<(String, String)>;
type F64Gauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// `agent_outcome_*` gauges: containment, escalations by reason, time to a person by priority
/// (median and p90, seconds), SLA breaches by priority, conversations finished by script.
#[derive(Default)]
pub struct OutcomeGauges {
    conversations: Family<Labels, F64Gauge>,
    containment: F64Gauge,
    escalations: Family<Labels, F64Gauge>,
    time_to_person: Family<Labels, F64Gauge>,
    sla_breaches: Family<Labels, F64Gauge>,
    completed: Family<Labels, F64Gauge>,
    refreshed: std::sync::Mutex<Option<std::time::Instant>>,
}

fn label(k: &str, v: &str) -> Labels {
    vec![(k.to_owned(), v.to_owned())]
}

impl OutcomeGauges {
    fn register(&self, r: &mut Registry) {
        r.register("outcome_conversations", "Conversations: contained (finished, no person), escalated, active", self.conversations.clone());
        r.register("outcome_containment_ratio", "Contained / (contained + escalated) conversations", self.containment.clone());
        r.register("outcome_escalations", "Escalations by reason kind", self.escalations.clone());
        r.register("outcome_time_to_person_seconds", "Case creation to first claim, by priority (quantile 0.5, 0.9)", self.time_to_person.clone());
        r.register("outcome_sla_breaches", "Cases that breached their SLA, by priority", self.sla_breaches.clone());
        r.register("outcome_completed", "Conversations finished by script", self.completed.clone());
    }

    /// Whether the figures are older than `OUTCOMES_EVERY` (and marks them fresh if so).
    pub fn due(&self) -> bool {
        let mut at = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
        if at.is_some_and(|t| t.elapsed() < OUTCOMES_EVERY) {
            return false;
        }
        *at = Some(std::time::Instant::now());
        true
    }

    pub fn set(&self, o: &crate::store::outcomes::Outcomes) {
        for f in [&self.conversations, &self.escalations, &self.time_to_person, &self.sla_breaches, &self.completed] {
            f.clear();
        }
        for (k, n) in [("contained", o.contained), ("escalated", o.escalated), ("active", o.active)] {
            self.conversations.get_or_create(&label("outcome", k)).set(n as f64);
        }
        self.containment.set(o.containment);
        for (reason, n) in &o.escalations_by_reason {
            self.escalations.get_or_create(&label("reason", reason)).set(*n as f64);
        }
        for (priority, w) in &o.time_to_person {
            for (q, ms) in [("0.5", w.median_ms), ("0.9", w.p90_ms)] {
                let l = vec![("priority".to_owned(), priority.clone()), ("quantile".to_owned(), q.to_owned())];
                self.time_to_person.get_or_create(&l).set(ms as f64 / 1000.0);
            }
        }
        for (priority, n) in &o.sla_breaches {
            self.sla_breaches.get_or_create(&label("priority", priority)).set(*n as f64);
        }
        for (script, n) in &o.completed_by_script {
            self.completed.get_or_create(&label("script", script)).set(*n as f64);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::with_alerts(crate::alerts::AlertSettings::default())
    }
}

impl Metrics {
    /// The metrics, with alerts raised as `[alerts]` says.
    pub fn with_alerts(settings: crate::alerts::AlertSettings) -> Self {
        let mut registry = Registry::with_prefix("agent");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let turns = Family::<OutcomeLabels, Counter>::default();
        let escalations = Family::<OutcomeLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route template and status", http_requests.clone());
        registry.register("chat_turns", "Chat turns by outcome", turns.clone());
        registry.register("escalations", "Escalations by priority", escalations.clone());
        let alerts = crate::alerts::Alerts::new(settings);
        registry.register("security_alerts", "Security alerts raised, by kind", alerts.counter.clone());
        let outcomes = OutcomeGauges::default();
        outcomes.register(&mut registry);
        Self { registry, http_requests, turns, escalations, alerts, outcomes, ehr: None }
    }

    /// Exports the FHIR client's counters with the rest (call once, before sharing).
    pub fn watch_ehr(&mut self, stats: Arc<FhirStats>) {
        self.registry.register_collector(Box::new(EhrCounters(stats.clone())));
        self.ehr = Some(stats);
    }

    /// The FHIR client's counters now, if watched.
    pub fn ehr(&self) -> Option<StatsSnapshot> {
        self.ehr.as_ref().map(|s| s.snapshot())
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
