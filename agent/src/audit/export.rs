//! Audit records for auditors: FHIR R4 AuditEvent resources shaped after IHE Basic Audit Log
//! Patterns (BALP: the client that asked is the Source agent, this service the Destination,
//! the patient an entity of role 1), or plain JSON lines. The record's opened payload supplies the patient and
//! details; a record whose key was destroyed (shredded patient) is still exported, with its
//! hash and sequence and without the sealed details.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use crate::store::AuditRow;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";

/// Output formats of `audit export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Fhir,
    Jsonl,
}

fn instant(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

/// One JSON line: the stored fields, the chain hashes, and the opened record (or null).
pub fn jsonl(row: &AuditRow, record: Option<&Value>) -> Value {
    json!({
        "seq": row.seq,
        "at": instant(row.at),
        "actor": row.actor,
        "action": row.action,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
        "readable": record.is_some(),
        "record": record,
    })
}

/// One FHIR AuditEvent (R4) for a record.
pub fn audit_event(row: &AuditRow, record: Option<&Value>) -> Value {
    let kind = row.action.split('/').next().unwrap_or(&row.action);
    let patient = record.and_then(|r| r.get("patient")).and_then(Value::as_str);
    let outcome = record.and_then(|r| r.get("outcome")).and_then(Value::as_str);
    let mut agents = vec![json!({
        "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
        "who": {"display": "agent"},
        "requestor": false,
    })];
    if row.actor == "patient" {
        let mut source = json!({
            "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
            "who": match patient {
                Some(p) => json!({"reference": format!("Patient/{p}")}),
                None => json!({"display": "patient (record sealed with a destroyed key)"}),
            },
            "requestor": true,
        });
        // BALP: the client's network address (type 2: IP address), as the rate limits saw it.
        if let Some(address) = record.and_then(|r| r.pointer("/source/address")).and_then(Value::as_str) {
            source["network"] = json!({"address": address, "type": "2"});
        }
        agents.insert(0, source);
    }
    let mut entities = vec![json!({
        "what": {"identifier": {"system": "urn:agent:audit-log", "value": row.seq.to_string()}},
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        "detail": [
            {"type": "hash", "valueString": row.hash},
            {"type": "prev_hash", "valueString": row.prev_hash},
            {"type": "action", "valueString": row.action},
        ],
    })];
    if let Some(p) = patient {
        // BALP's patient entity: role 1 (Patient), type 1 (Person).
        entities.push(json!({
            "what": {"reference": format!("Patient/{p}")},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }));
    }
    if let Some(r) = record {
        entities.push(json!({
            "what": {"display": "audit record"},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "4", "display": "Other"},
            "detail": [{"type": "record", "valueString": r.to_string()}],
        }));
    }
    json!({
        "resourceType": "AuditEvent",
        "id": format!("agent-audit-{}", row.seq),
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": "urn:agent:audit-action", "code": kind}],
        "action": "E",
        "recorded": instant(row.at),
        // 0 = success; the turn's own result is in `outcomeDesc`.
        "outcome": "0",
        "outcomeDesc": outcome,
        "agent": agents,
        "source": {
            "observer": {"display": "agent"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}],
        },
        "entity": entities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> AuditRow {
        AuditRow {
            seq: 7,
            at: 1_700_000_000_000,
            actor: "patient".into(),
            action: "chat.turn/c1".into(),
            payload: vec![1],
            prev_hash: "00".into(),
            hash: "ab".into(),
        }
    }

    #[test]
    fn an_audit_event_names_the_patient_only_when_the_record_opens() {
        let rec = json!({"patient": "p-1", "outcome": "active"});
        let ev = audit_event(&row(), Some(&rec));
        assert_eq!(ev["resourceType"], "AuditEvent");
        assert_eq!(ev["recorded"], "2023-11-14T22:13:20.000Z");
        assert_eq!(ev["agent"][0]["who"]["reference"], "Patient/p-1");
        assert!(ev["entity"].as_array().unwrap().iter().any(|e| e["role"]["code"] == "1"));
        let sealed = audit_event(&row(), None);
        assert!(!sealed.to_string().contains("Patient/"), "{sealed}");
        assert_eq!(sealed["entity"][0]["detail"][0]["valueString"], "ab");
        assert_eq!(jsonl(&row(), None)["readable"], false);
    }

    #[test]
    fn the_client_address_is_the_source_agents_network() {
        let rec = json!({"patient": "p-1", "source": {"address": "203.0.113.7"}});
        let ev = audit_event(&row(), Some(&rec));
        assert_eq!(ev["agent"][0]["network"], json!({"address": "203.0.113.7", "type": "2"}));
        assert!(audit_event(&row(), Some(&json!({"patient": "p-1"})))["agent"][0].get("network").is_none());
    }
}
