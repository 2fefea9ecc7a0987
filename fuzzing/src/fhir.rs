//! The FHIR JSON decoder: every resource type the client models, parsed from arbitrary bytes
//! (what an EHR or a proxy in front of it could send). Parsing may fail but never panics; what
//! parses serialises and parses back to the same value.

use fhir_client::model::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let Ok(first) = serde_json::from_slice::<T>(data) else { return };
    let json = serde_json::to_vec(&first).expect("a parsed resource serialises");
    let again: T = serde_json::from_slice(&json).expect("what we wrote parses");
    assert_eq!(first, again, "round trip changed the resource");
}

pub fn fhir_json(data: &[u8]) {
    round_trip::<Bundle>(data);
    round_trip::<Patient>(data);
    round_trip::<Practitioner>(data);
    round_trip::<Schedule>(data);
    round_trip::<Slot>(data);
    round_trip::<Appointment>(data);
    round_trip::<MedicationRequest>(data);
    round_trip::<Encounter>(data);
    round_trip::<Task>(data);
    round_trip::<QuestionnaireResponse>(data);
    round_trip::<OperationOutcome>(data);
}
