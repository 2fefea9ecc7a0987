//! The agent service: configuration, telemetry, the store, sessions, the chat turn pipeline,
//! the HTTP routes and the CLI. `main.rs` only wires these together.

pub mod alerts;
pub mod app;
pub mod audit;
pub mod audit_cli;
pub mod backup_cli;
pub mod bench;
pub mod chat;
pub mod cli;
pub mod commands;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dialogue;
pub mod error;
pub mod followups;
pub mod keys_cli;
pub mod launch;
pub mod limits;
pub mod outbox;
pub mod metrics;
pub mod outreach;
pub mod redflag_net;
pub mod routes;
pub mod scripts_cli;
pub mod security_cli;
mod scripts_fixture;
pub mod session;
pub mod staff;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod understand;
pub mod users_cli;
