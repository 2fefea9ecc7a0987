//! Newtypes for FHIR logical ids, parsed once where input enters so the rest of the code
//! cannot confuse a patient with a slot or pass through an id the EHR would reject.

use serde::{Deserialize, Serialize};

/// FHIR `id` datatype: `[A-Za-z0-9\-\.]{1,64}`.
fn check_fhir_id(what: &'static str, s: &str) -> crate::Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(crate::Error::Invalid { what, why: "not a FHIR id ([A-Za-z0-9-.]{1,64})".into() })
    }
}

macro_rules! fhir_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl Into<String>) -> crate::Result<Self> {
                let s = s.into();
                check_fhir_id($what, &s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = crate::Error;
            fn try_from(s: String) -> crate::Result<Self> {
                Self::parse(s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fhir_id!(
    /// The patient bound to a session at sign-in.
    PatientId, "patient id");
fhir_id!(
    /// A Slot the EHR returned as free.
    SlotId, "slot id");
fhir_id!(
    /// A Practitioner.
    PractitionerId, "practitioner id");
fhir_id!(
    /// An Appointment.
    AppointmentId, "appointment id");
fhir_id!(
    /// A MedicationRequest (one prescription on the patient's list).
    MedicationRequestId, "medication request id");
fhir_id!(
    /// A Task (e.g. a refill request routed to a prescriber).
    TaskId, "task id");
fhir_id!(
    /// An Encounter (e.g. a hospital stay ending in discharge).
    EncounterId, "encounter id");
