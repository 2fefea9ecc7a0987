//! The bodies of the fuzz targets, shared by the cargo-fuzz harness (`fuzzing/fuzz/`, nightly or
//! `RUSTC_BOOTSTRAP=1`) and the seeded tests that run them on stable in CI
//! (`tests/seeded.rs`). Each takes arbitrary bytes, feeds them to one input path of the
//! service, and panics only when an invariant of that path breaks (a panic in the code under
//! test is the other finding).

pub mod chat;
pub mod fhir;
pub mod script;
