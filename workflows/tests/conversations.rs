//! Runs the conversation test files against the built-in scripts with the in-memory EHR and
//! the bag-of-words model, and checks every script branch is exercised.

mod support;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use fhir_client::PatientId;
use support::{FakeEhr, FakeUnderstand};
use workflows::convtest::{run_conversation_tests, ConversationCase, EngineFactory};
use workflows::Engine;

struct Fakes;

#[async_trait]
impl EngineFactory for Fakes {
    async fn engine(&self, case: &ConversationCase) -> workflows::Result<(Engine, PatientId)> {
        let ehr = FakeEhr::fixture(&case.fixture);
        let patient = ehr.patient.clone();
        Ok((Engine::with_builtin_scripts(ehr, Arc::new(FakeUnderstand))?, patient))
    }
}

#[tokio::test]
async fn every_conversation_case_passes_and_covers_every_branch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conversations");
    let report = run_conversation_tests(&dir, &Fakes).await.expect("cases load");
    assert!(report.cases.len() >= 30, "only {} cases", report.cases.len());
    let failed: Vec<String> =
        report.cases.iter().filter(|c| !c.passed).map(|c| format!("{} ({}):\n  {}", c.name, c.file, c.failures.join("\n  "))).collect();
    assert!(failed.is_empty(), "{} failing:\n{}", failed.len(), failed.join("\n"));
    for cov in &report.coverage {
        assert!(
            cov.uncovered.is_empty(),
            "{} v{}: {}/{} edges; not taken: {:?}",
            cov.script,
            cov.version,
            cov.covered,
            cov.total,
            cov.uncovered
        );
    }
}
