//! Round-trip and helper tests for the resource types.

use serde_json::{json, Value};

use super::*;

fn round_trip<R: Resource>(v: Value) -> (R, Value) {
    let r: R = serde_json::from_value(v).expect("parses");
    let back = serde_json::to_value(&r).expect("serializes");
    (r, back)
}

#[test]
fn unknown_elements_and_extensions_survive_a_round_trip() {
    let v = json!({
        "resourceType": "Patient", "id": "p1", "meta": {"versionId": "3", "source": "#x"},
        "extension": [{"url": "http://example.org/x", "valueDecimal": 1.50}],
        "name": [{"use": "official", "family": "García", "given": ["María", "José"], "period": {"start": "2000"}}],
        "birthDate": "1961-03-04", "deceasedBoolean": false, "multipleBirthInteger": 2
    });
    let (p, back) = round_trip::<Patient>(v.clone());
    assert_eq!(back, v);
    assert_eq!(p.version_id(), Some("3"));
    assert_eq!(preferred_name(&p.name).as_deref(), Some("María José García"));
}

#[test]
fn decimals_keep_their_exact_text() {
    let text = r#"{"resourceType":"MedicationRequest","dispenseRequest":{"numberOfRepeatsAllowed":3,"quantity":{"value":30.000,"unit":"tablet"},"expectedSupplyDuration":{"value":30,"code":"d"}},"x":0.1000000000000000055511151231257827}"#;
    let r: MedicationRequest = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&r).unwrap(), text);
    let d = r.dispense_request.as_ref().unwrap();
    assert_eq!(d.number_of_repeats_allowed.as_ref().and_then(|n| n.as_u64()), Some(3));
    assert_eq!(d.expected_supply_duration.as_ref().and_then(Quantity::as_days), Some(30));
}

#[test]
fn a_resource_without_resource_type_is_rejected() {
    assert!(serde_json::from_value::<Slot>(json!({"status": "free"})).is_err());
}

#[test]
fn references_resolve_relative_absolute_and_versioned_forms() {
    let r = |s: &str| Reference { reference: Some(s.into()), ..Default::default() };
    assert_eq!(r("Patient/1").id_of("Patient"), Some("1"));
    assert_eq!(r("http://h/fhir/Patient/a-b/_history/4").id_of("Patient"), Some("a-b"));
    assert_eq!(r("Practitioner/1").id_of("Patient"), None);
    assert_eq!(r("urn:uuid:1234").id_of("Patient"), None);
}

#[test]
fn bundle_parses_typed_entries_and_finds_the_next_link() {
    let b: Bundle = serde_json::from_value(json!({
        "resourceType": "Bundle", "type": "searchset", "total": 2,
        "link": [{"relation": "self", "url": "a"}, {"relation": "next", "url": "b"}],
        "entry": [{"resource": {"resourceType": "Slot", "id": "s1", "status": "free"}},
                  {"resource": {"resourceType": "Schedule", "id": "c1"}}]
    }))
    .unwrap();
    assert_eq!(b.next_link(), Some("b"));
    let slots: Vec<Slot> = b.resources().unwrap();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].id.as_deref(), Some("s1"));
}

#[test]
fn codeable_concepts_match_code_or_display_case_insensitively() {
    let cc = CodeableConcept::coded("http://snomed.info/sct", "394579002", "Cardiology");
    assert!(cc.matches("cardiology"));
    assert!(cc.matches("394579002"));
    assert!(!cc.matches("dermatology"));
}
