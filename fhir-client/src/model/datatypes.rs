//! FHIR R4 complex datatypes shared by the resources (Reference, CodeableConcept, ...), with
//! the small helpers the client needs to read them.

use serde_json::Number;

use super::fhir_struct;

fhir_struct!(Meta {
    version_id: opt String,
    last_updated: opt String,
    profile: vec String,
    tag: vec Coding,
});

fhir_struct!(Identifier {
    r#use: opt String,
    system: opt String,
    value: opt String,
});

fhir_struct!(Coding {
    system: opt String,
    version: opt String,
    code: opt String,
    display: opt String,
});

fhir_struct!(CodeableConcept {
    coding: vec Coding,
    text: opt String,
});

fhir_struct!(Reference {
    reference: opt String,
    r#type: opt String,
    identifier: opt Identifier,
    display: opt String,
});

fhir_struct!(HumanName {
    r#use: opt String,
    text: opt String,
    family: opt String,
    given: vec String,
    prefix: vec String,
});

fhir_struct!(Period {
    start: opt String,
    end: opt String,
});

fhir_struct!(
    /// Quantity, also used for Duration (`expectedSupplyDuration`).
    Quantity {
        value: opt Number,
        unit: opt String,
        system: opt String,
        code: opt String,
    }
);

fhir_struct!(Annotation {
    author_string: opt String,
    time: opt String,
    text: opt String,
});

fhir_struct!(ContactPoint {
    system: opt String,
    value: opt String,
    r#use: opt String,
});

impl Identifier {
    pub fn new(system: &str, value: &str) -> Self {
        Self { system: Some(system.into()), value: Some(value.into()), ..Default::default() }
    }
}

impl Coding {
    pub fn new(system: &str, code: &str, display: &str) -> Self {
        Self {
            system: Some(system.into()),
            code: Some(code.into()),
            display: Some(display.into()),
            ..Default::default()
        }
    }
}

impl CodeableConcept {
    pub fn coded(system: &str, code: &str, display: &str) -> Self {
        Self { coding: vec![Coding::new(system, code, display)], text: Some(display.into()), ..Default::default() }
    }
    /// `text`, else the first coding's display, else its code.
    pub fn display(&self) -> Option<&str> {
        self.text
            .as_deref()
            .or_else(|| self.coding.iter().find_map(|c| c.display.as_deref()))
            .or_else(|| self.coding.iter().find_map(|c| c.code.as_deref()))
    }
    /// Does `needle` equal (case-insensitively) the text, a code or a display?
    pub fn matches(&self, needle: &str) -> bool {
        let eq = |s: &Option<String>| s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(needle));
        eq(&self.text) || self.coding.iter().any(|c| eq(&c.code) || eq(&c.display))
    }
    pub fn has_code(&self, system: &str, code: &str) -> bool {
        self.coding.iter().any(|c| c.system.as_deref() == Some(system) && c.code.as_deref() == Some(code))
    }
}

impl Reference {
    pub fn to(rtype: &str, id: &str) -> Self {
        Self { reference: Some(format!("{rtype}/{id}")), ..Default::default() }
    }
    pub fn with_display(mut self, display: Option<String>) -> Self {
        self.display = display;
        self
    }
    /// The logical id if this is a literal reference to `rtype`, relative (`Patient/1`) or
    /// absolute (`http://ehr/fhir/Patient/1/_history/2`).
    pub fn id_of(&self, rtype: &str) -> Option<&str> {
        let r = self.reference.as_deref()?;
        let r = r.split(['?', '#']).next()?;
        let r = match r.find("/_history/") {
            Some(i) => &r[..i],
            None => r,
        };
        let mut parts = r.rsplit('/');
        let id = parts.next()?;
        (parts.next()? == rtype && !id.is_empty()).then_some(id)
    }
}

impl HumanName {
    /// "Given Family", or `text` when that is all there is.
    pub fn display(&self) -> Option<String> {
        let mut parts: Vec<&str> = self.given.iter().map(String::as_str).collect();
        if let Some(f) = self.family.as_deref() {
            parts.push(f);
        }
        if parts.is_empty() {
            self.text.clone()
        } else {
            Some(parts.join(" "))
        }
    }
}

/// The name to show: `usual`, else `official`, else the first one.
pub fn preferred_name(names: &[HumanName]) -> Option<String> {
    let by_use = |u: &str| names.iter().find(|n| n.r#use.as_deref() == Some(u));
    by_use("usual").or_else(|| by_use("official")).or(names.first()).and_then(HumanName::display)
}

impl Quantity {
    pub fn days(n: u32) -> Self {
        Self {
            value: Some(n.into()),
            unit: Some("days".into()),
            system: Some("http://unitsofmeasure.org".into()),
            code: Some("d".into()),
            ..Default::default()
        }
    }
    /// The value as a whole number of days, if the unit is days (`d`, `day(s)`) and it is integral.
    pub fn as_days(&self) -> Option<u32> {
        let unit = self.code.as_deref().or(self.unit.as_deref())?;
        if !matches!(unit, "d" | "day" | "days") {
            return None;
        }
        let v = self.value.as_ref()?;
        v.as_u64().and_then(|n| u32::try_from(n).ok())
    }
}
