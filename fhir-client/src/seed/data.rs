//! The demo hospital's fixed cast: practitioners, patients, prescriptions, stays and the
//! post-discharge questionnaire. Plain data; `seed::seed_demo` turns it into FHIR.

pub(super) struct Prac {
    pub key: &'static str,
    pub given: &'static str,
    pub family: &'static str,
    pub gender: &'static str,
    /// SNOMED CT specialty (code, display).
    pub specialty: (&'static str, &'static str),
}

pub(super) const PRACTITIONERS: &[Prac] = &[
    Prac { key: "fm", given: "Ana", family: "Ruiz", gender: "female", specialty: ("419772000", "Family medicine") },
    Prac { key: "card", given: "James", family: "Okafor", gender: "male", specialty: ("394579002", "Cardiology") },
    Prac { key: "derm", given: "Lena", family: "Fischer", gender: "female", specialty: ("394582007", "Dermatology") },
];

/// Slot start times (UTC) on each working day; 30-minute slots.
pub(super) const SLOT_TIMES: &[(u32, u32)] = &[(9, 0), (9, 30), (10, 0), (10, 30), (11, 0), (14, 0), (14, 30), (15, 0)];
pub(super) const SLOT_MINUTES: i64 = 30;
pub(super) const HORIZON_DAYS: i64 = 14;

pub(super) struct Pat {
    pub key: &'static str,
    pub given: &'static str,
    pub family: &'static str,
    pub gender: &'static str,
    pub birth_date: &'static str,
    /// BCP-47 language (preferred).
    pub language: (&'static str, &'static str),
    pub phone: &'static str,
}

pub(super) const PATIENTS: &[Pat] = &[
    Pat { key: "maria", given: "María", family: "García López", gender: "female", birth_date: "1958-04-12",
          language: ("es", "Spanish"), phone: "+1-555-0101" },
    Pat { key: "john", given: "John", family: "Smith", gender: "male", birth_date: "1949-09-03",
          language: ("en", "English"), phone: "+1-555-0102" },
    Pat { key: "aisha", given: "Aisha", family: "Khan", gender: "female", birth_date: "1990-01-22",
          language: ("en", "English"), phone: "+1-555-0103" },
    Pat { key: "wei", given: "Wei", family: "Chen", gender: "male", birth_date: "1975-06-30",
          language: ("en", "English"), phone: "+1-555-0104" },
];

pub(super) struct Med {
    pub key: &'static str,
    pub patient: &'static str,
    pub prescriber: &'static str,
    /// RxNorm (code, display); demo data, not checked against a terminology server.
    pub rxnorm: (&'static str, &'static str),
    pub dosage: &'static str,
    pub repeats: u32,
    pub quantity: u32,
    pub supply_days: u32,
    /// Days before `today` it was prescribed (and first dispensed).
    pub authored_days_ago: i64,
    /// DEA-style schedule when controlled.
    pub controlled: Option<&'static str>,
}

pub(super) const MEDS: &[Med] = &[
    Med { key: "maria-lisinopril", patient: "maria", prescriber: "card", rxnorm: ("314076", "Lisinopril 10 MG Oral Tablet"),
          dosage: "1 tablet by mouth once daily", repeats: 5, quantity: 30, supply_days: 30, authored_days_ago: 26, controlled: None },
    Med { key: "maria-furosemide", patient: "maria", prescriber: "card", rxnorm: ("310429", "Furosemide 20 MG Oral Tablet"),
          dosage: "1 tablet by mouth every morning", repeats: 3, quantity: 30, supply_days: 30, authored_days_ago: 1, controlled: None },
    Med { key: "john-oxycodone", patient: "john", prescriber: "fm", rxnorm: ("1049621", "Oxycodone Hydrochloride 5 MG Oral Tablet"),
          dosage: "1 tablet by mouth every 6 hours as needed for pain", repeats: 0, quantity: 20, supply_days: 5,
          authored_days_ago: 2, controlled: Some("CII") },
    Med { key: "john-metoprolol", patient: "john", prescriber: "card", rxnorm: ("866924", "Metoprolol Tartrate 25 MG Oral Tablet"),
          dosage: "1 tablet by mouth twice daily", repeats: 5, quantity: 60, supply_days: 30, authored_days_ago: 28, controlled: None },
    Med { key: "aisha-metformin", patient: "aisha", prescriber: "fm", rxnorm: ("861007", "Metformin Hydrochloride 500 MG Oral Tablet"),
          dosage: "1 tablet by mouth twice daily with meals", repeats: 3, quantity: 60, supply_days: 30, authored_days_ago: 27, controlled: None },
    Med { key: "aisha-atorvastatin", patient: "aisha", prescriber: "fm", rxnorm: ("617310", "Atorvastatin 20 MG Oral Tablet"),
          dosage: "1 tablet by mouth at bedtime", repeats: 0, quantity: 30, supply_days: 30, authored_days_ago: 29, controlled: None },
    Med { key: "wei-levothyroxine", patient: "wei", prescriber: "fm", rxnorm: ("966224", "Levothyroxine Sodium 0.05 MG Oral Tablet"),
          dosage: "1 tablet by mouth every morning before breakfast", repeats: 11, quantity: 90, supply_days: 90,
          authored_days_ago: 80, controlled: None },
    Med { key: "wei-tretinoin", patient: "wei", prescriber: "derm", rxnorm: ("1099674", "Tretinoin 0.025 % Topical Cream"),
          dosage: "Apply a thin layer to affected skin at bedtime", repeats: 2, quantity: 1, supply_days: 45,
          authored_days_ago: 40, controlled: None },
];

pub(super) struct Stay {
    pub key: &'static str,
    pub patient: &'static str,
    pub reason: &'static str,
    pub ward: &'static str,
    pub admitted_days_ago: i64,
    pub discharged_days_ago: i64,
}

pub(super) const STAYS: &[Stay] = &[
    Stay { key: "john-hip", patient: "john", reason: "Right total hip replacement", ward: "Orthopedic ward 3B",
           admitted_days_ago: 6, discharged_days_ago: 2 },
    Stay { key: "maria-hf", patient: "maria", reason: "Heart failure exacerbation", ward: "Cardiology ward 5A",
           admitted_days_ago: 5, discharged_days_ago: 1 },
];

pub(super) const QUESTIONNAIRE_ID: &str = "post-discharge-followup";
pub(super) const QUESTIONNAIRE_URL: &str = "urn:agent:questionnaire:post-discharge-followup";
pub(super) const QUESTIONNAIRE_VERSION: &str = "1";

/// (linkId, type, text)
pub(super) const QUESTIONS: &[(&str, &str, &str)] = &[
    ("new-symptoms", "boolean",
     "Since you got home, have you had fever, shortness of breath, chest pain, bleeding or confusion?"),
    ("symptoms", "string", "Please describe any new or worsening symptoms."),
    ("pain", "integer", "On a scale from 0 (no pain) to 10 (worst pain imaginable), how much pain do you have now?"),
    ("meds-obtained", "boolean", "Were you able to get all the medications prescribed at discharge?"),
    ("meds-taken", "boolean", "Are you taking them as prescribed?"),
    ("followup-booked", "boolean", "Do you have a follow-up appointment booked?"),
];
