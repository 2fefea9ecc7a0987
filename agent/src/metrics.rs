//! Prometheus metrics (`/metrics`): request and turn counters labelled only by route
//! templates, outcomes and kinds, never by anything that identifies a patient.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("agent");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let turns = Family::<OutcomeLabels, Counter>::default();
        let escalations = Family::<OutcomeLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route template and status", http_requests.clone());
        registry.register("chat_turns", "Chat turns by outcome", turns.clone());
        registry.register("escalations", "Escalations by priority", escalations.clone());
        Self { registry, http_requests, turns, escalations }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
