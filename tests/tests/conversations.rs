//! `agent scripts test` on the real binary: the conversation cases in
//! `workflows/conversations` run against the real model and a freshly seeded sekmet-fhir per
//! case, all pass, and branch coverage is printed per script; a wrong expectation fails it.

use std::process::Output;

use e2e::{agent_command, ensure_models, workspace_root};

fn scripts_test(dir: &std::path::Path) -> Output {
    ensure_models();
    let data = tempfile::tempdir().unwrap();
    agent_command(data.path()).args(["scripts", "test"]).arg(dir).output().expect("run agent scripts test")
}

#[test]
fn the_real_ehr_cases_pass_and_coverage_is_printed() {
    let dir = workspace_root().join("workflows").join("conversations");
    let cases = std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml")).count();
    assert!(cases >= 30, "only {cases} cases");
    let out = scripts_test(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cases failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.lines().filter(|l| l.starts_with("PASS ")).count(), cases, "{stdout}");
    assert!(!stdout.contains("FAIL "), "{stdout}");
    assert!(stdout.contains(&format!("{cases} of {cases} cases passed")), "{stdout}");
    for script in ["appointment v1", "refill v1", "discharge_followup v1"] {
        let line = stdout.lines().find(|l| l.starts_with(&format!("coverage {script}: "))).unwrap_or_else(|| panic!("no coverage for {script}:\n{stdout}"));
        assert!(line.contains(" branches (") && line.ends_with("%)"), "{line}");
    }
}

#[test]
fn a_case_whose_expectation_is_wrong_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wrong.toml"),
        r#"name = "a refill does not cancel anything"
fixture = "john"
now = "2026-11-26T08:00:00Z"

[[turns]]
say = "can I get a refill of my metoprolol"
intent = "refill"

[[turns]]
say = "yes"
effect = "cancel"
"#,
    )
    .unwrap();
    let out = scripts_test(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL a refill does not cancel anything"), "{stdout}");
    assert!(stdout.contains("turn 2 (\"yes\"): effects [\"request_refill\"], expected cancel"), "{stdout}");
    assert!(stdout.contains("0 of 1 cases passed"), "{stdout}");
}
