//! FHIR R4 client: the resource types we touch, the `Ehr` port the workflows see, and
//! `FhirClient`, the reqwest adapter behind it. Every `Ehr` call is scoped by a `PatientId`
//! that comes from the authenticated session, never from chat text.
//!
//! # Using it
//! - Production: deserialize a [`FhirConfig`] (the service's `[fhir]` section), then
//!   `FhirClient::new(&config)?` (validates the config, loads the SMART key) and hand it out as
//!   `Arc<dyn Ehr>`. `client.stats().snapshot()` gives the counters for Prometheus.
//! - Demo / tests (feature `sekmet`): start a real FHIR server and seed it. The seed is
//!   idempotent, so a persistent demo EHR can be seeded on every start.
//!
//! ```no_run
//! # #[cfg(feature = "sekmet")]
//! # async fn demo() -> fhir_client::Result<()> {
//! use fhir_client::sekmet::{Sekmet, SekmetOptions};
//! let opts = SekmetOptions { data_dir: Some("data/ehr".into()), ..Default::default() };
//! let server = Sekmet::start_async(opts).await?; // keep it alive: dropping it stops the EHR
//! let client = fhir_client::FhirClient::new(&server.config())?;
//! let demo = fhir_client::seed::seed_demo(&client, chrono::Utc::now().date_naive()).await?;
//! println!("{} demo patients", demo.patients.len());
//! # Ok(()) }
//! ```

mod auth;
mod client;
mod config;
mod ehr;
mod ehr_impl;
mod flights;
mod http;
mod ids;
mod lanes;
pub mod model;
#[cfg(feature = "sekmet")]
pub mod sekmet;
pub mod seed;
mod stats;

pub use client::{collect, Created, FhirClient};
pub use config::{AuthConfig, FhirConfig, SmartAlg};
pub use ehr::*;
pub use ehr_impl::{idempotency_value, IDEMPOTENCY_SYSTEM};
pub use ehr_impl::meds_consts::{CONTROLLED_SYSTEM, REFILL_ACK_TEXT};
pub use ids::*;
pub use stats::{FhirStats, StatsSnapshot};

/// Everything that can go wrong talking to the EHR, typed so callers can decide what to do.
/// `Clone`, so that one answer can be handed to every caller of a shared read.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// The slot was taken by someone else between offering and booking (412 / busy slot).
    #[error("slot already taken")]
    SlotTaken,
    /// The resource does not exist, or does not belong to the patient in scope.
    #[error("not found: {0}")]
    NotFound(String),
    /// The EHR could not be reached, or did not answer in time; safe to retry later.
    #[error("EHR unavailable: {0}")]
    Unavailable(String),
    /// The EHR answered with an OperationOutcome we cannot act on.
    #[error("EHR rejected the request ({status}): {diagnostics}")]
    Rejected { status: u16, diagnostics: String },
    /// The EHR answered with something that is not the FHIR we expected.
    #[error("unexpected answer from EHR: {0}")]
    Protocol(String),
    /// A value coming in from outside did not parse (ids, dates, ...).
    #[error("invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
}

impl Error {
    /// The kind alone, for logs and audit records (the text may name a patient).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::SlotTaken => "slot_taken",
            Error::NotFound(_) => "not_found",
            Error::Unavailable(_) => "unavailable",
            Error::Rejected { .. } => "rejected",
            Error::Protocol(_) => "protocol",
            Error::Invalid { .. } => "invalid",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
