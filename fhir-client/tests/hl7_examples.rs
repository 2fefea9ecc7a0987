//! Parser round-trips over HL7's official R4 examples (npm `hl7.fhir.r4.examples@4.0.1`,
//! CC0): every example of a resource type we model — standalone or inside a Bundle — must
//! parse into our struct and serialize back to the same JSON (unknown elements kept, decimals
//! exact). The package is fetched once into the target dir, under a file lock.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use fhir_client::model::*;
use serde_json::Value;

const PACKAGE: &str = "hl7.fhir.r4.examples@4.0.1";
const TYPES: &[&str] = &[
    "Patient", "Practitioner", "PractitionerRole", "Schedule", "Slot", "Appointment", "Medication",
    "MedicationRequest", "MedicationStatement", "MedicationDispense", "Encounter", "Questionnaire",
    "QuestionnaireResponse", "Task", "Communication", "AuditEvent", "OperationOutcome", "Bundle",
];

fn examples() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hl7-r4-examples");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = File::create(dir.join(".lock")).unwrap();
    lock.lock().unwrap();
    if !dir.join(".done").exists() {
        let ok = Command::new("npm")
            .args(["pack", PACKAGE, "--silent", "--pack-destination"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("npm runs")
            .success();
        assert!(ok, "npm pack {PACKAGE}");
        let mut tar = Command::new("tar");
        tar.arg("-xzf").arg(dir.join("hl7.fhir.r4.examples-4.0.1.tgz")).arg("-C").arg(&dir).arg("--wildcards");
        tar.args(TYPES.iter().map(|t| format!("package/{t}-*.json")));
        assert!(tar.status().expect("tar runs").success(), "extract examples");
        std::fs::write(dir.join(".done"), "").unwrap();
    }
    dir.join("package")
}

fn check<R: Resource>(v: &Value, name: &str) -> Result<(), String> {
    let r: R = serde_json::from_value(v.clone()).map_err(|e| format!("{name}: parse: {e}"))?;
    let back = serde_json::to_value(&r).map_err(|e| format!("{name}: serialize: {e}"))?;
    if &back == v {
        Ok(())
    } else {
        Err(format!("{name}: round trip differs"))
    }
}

/// Round-trips `v` if it is a type we model; returns whether it was one.
fn round_trip(v: &Value, name: &str, failures: &mut Vec<String>) -> bool {
    let rt = v.get("resourceType").and_then(Value::as_str).unwrap_or("");
    let r = match rt {
        "Patient" => check::<Patient>(v, name),
        "Practitioner" => check::<Practitioner>(v, name),
        "PractitionerRole" => check::<PractitionerRole>(v, name),
        "Schedule" => check::<Schedule>(v, name),
        "Slot" => check::<Slot>(v, name),
        "Appointment" => check::<Appointment>(v, name),
        "Medication" => check::<Medication>(v, name),
        "MedicationRequest" => check::<MedicationRequest>(v, name),
        "MedicationStatement" => check::<MedicationStatement>(v, name),
        "MedicationDispense" => check::<MedicationDispense>(v, name),
        "Encounter" => check::<Encounter>(v, name),
        "Questionnaire" => check::<Questionnaire>(v, name),
        "QuestionnaireResponse" => check::<QuestionnaireResponse>(v, name),
        "Task" => check::<Task>(v, name),
        "Communication" => check::<Communication>(v, name),
        "AuditEvent" => check::<AuditEvent>(v, name),
        "OperationOutcome" => check::<OperationOutcome>(v, name),
        "Bundle" => check::<Bundle>(v, name),
        _ => return false,
    };
    if let Err(e) = r {
        failures.push(e);
    }
    true
}

#[test]
fn every_official_example_of_our_types_round_trips_exactly() {
    let dir = examples();
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        checked += usize::from(round_trip(&v, &name, &mut failures));
        let inner = v.get("entry").and_then(Value::as_array).into_iter().flatten();
        for (i, e) in inner.filter_map(|e| e.get("resource")).enumerate() {
            checked += usize::from(round_trip(e, &format!("{name}#{i}"), &mut failures));
        }
    }
    eprintln!("{checked} examples round-tripped");
    assert!(checked > 250, "only {checked} examples checked");
    assert!(failures.is_empty(), "{} of {checked} failed:\n{}", failures.len(), failures.join("\n"));
}
