//! Patients, practitioners, scheduling, medications and encounters: the resources the
//! workflows read facts from.

use serde_json::{Number, Value};

use super::*;

fhir_resource!(Patient {
    identifier: vec Identifier,
    active: opt bool,
    name: vec HumanName,
    telecom: vec ContactPoint,
    gender: opt String,
    birth_date: opt String,
    communication: vec PatientCommunication,
});

fhir_struct!(PatientCommunication {
    language: opt CodeableConcept,
    preferred: opt bool,
});

fhir_resource!(Practitioner {
    identifier: vec Identifier,
    active: opt bool,
    name: vec HumanName,
    telecom: vec ContactPoint,
    gender: opt String,
});

fhir_resource!(PractitionerRole {
    identifier: vec Identifier,
    active: opt bool,
    practitioner: opt Reference,
    organization: opt Reference,
    code: vec CodeableConcept,
    specialty: vec CodeableConcept,
});

fhir_resource!(Schedule {
    identifier: vec Identifier,
    active: opt bool,
    service_type: vec CodeableConcept,
    specialty: vec CodeableConcept,
    actor: vec Reference,
    planning_horizon: opt Period,
    comment: opt String,
});

fhir_resource!(Slot {
    identifier: vec Identifier,
    service_type: vec CodeableConcept,
    specialty: vec CodeableConcept,
    appointment_type: opt CodeableConcept,
    schedule: opt Reference,
    status: opt String,
    start: opt String,
    end: opt String,
    comment: opt String,
});

fhir_resource!(Appointment {
    identifier: vec Identifier,
    status: opt String,
    cancelation_reason: opt CodeableConcept,
    service_type: vec CodeableConcept,
    specialty: vec CodeableConcept,
    appointment_type: opt CodeableConcept,
    description: opt String,
    start: opt String,
    end: opt String,
    minutes_duration: opt Number,
    slot: vec Reference,
    created: opt String,
    comment: opt String,
    participant: vec AppointmentParticipant,
});

fhir_struct!(AppointmentParticipant {
    r#type: vec CodeableConcept,
    actor: opt Reference,
    required: opt String,
    status: opt String,
});

impl Appointment {
    /// Is `Patient/<id>` one of the participants?
    pub fn has_patient(&self, patient: &str) -> bool {
        self.actor_ids("Patient").any(|p| p == patient)
    }
    /// Ids of participants of one resource type.
    pub fn actor_ids<'a>(&'a self, rtype: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.participant.iter().filter_map(move |p| p.actor.as_ref()?.id_of(rtype))
    }
}

fhir_resource!(Medication {
    identifier: vec Identifier,
    code: opt CodeableConcept,
    status: opt String,
    form: opt CodeableConcept,
});

fhir_resource!(MedicationRequest {
    identifier: vec Identifier,
    status: opt String,
    intent: opt String,
    category: vec CodeableConcept,
    medication_codeable_concept: opt CodeableConcept,
    medication_reference: opt Reference,
    subject: opt Reference,
    encounter: opt Reference,
    authored_on: opt String,
    requester: opt Reference,
    dosage_instruction: vec Dosage,
    dispense_request: opt DispenseRequest,
    note: vec Annotation,
});

fhir_struct!(Dosage {
    text: opt String,
    patient_instruction: opt String,
});

fhir_struct!(DispenseRequest {
    validity_period: opt Period,
    number_of_repeats_allowed: opt Number,
    quantity: opt Quantity,
    expected_supply_duration: opt Quantity,
});

fhir_resource!(MedicationStatement {
    identifier: vec Identifier,
    based_on: vec Reference,
    status: opt String,
    medication_codeable_concept: opt CodeableConcept,
    medication_reference: opt Reference,
    subject: opt Reference,
    effective_date_time: opt String,
    effective_period: opt Period,
    date_asserted: opt String,
    dosage: vec Dosage,
});

fhir_resource!(MedicationDispense {
    identifier: vec Identifier,
    status: opt String,
    medication_codeable_concept: opt CodeableConcept,
    medication_reference: opt Reference,
    subject: opt Reference,
    authorizing_prescription: vec Reference,
    quantity: opt Quantity,
    days_supply: opt Quantity,
    when_handed_over: opt String,
});

fhir_resource!(Encounter {
    identifier: vec Identifier,
    status: opt String,
    class: opt Coding,
    r#type: vec CodeableConcept,
    subject: opt Reference,
    participant: vec Value,
    period: opt Period,
    reason_code: vec CodeableConcept,
    hospitalization: opt Hospitalization,
    location: vec EncounterLocation,
    service_provider: opt Reference,
});

fhir_struct!(Hospitalization {
    admit_source: opt CodeableConcept,
    discharge_disposition: opt CodeableConcept,
    destination: opt Reference,
});

fhir_struct!(EncounterLocation {
    location: opt Reference,
    status: opt String,
    period: opt Period,
});
