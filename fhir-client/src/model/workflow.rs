//! Questionnaires, tasks, communications, audit events and the envelopes (Bundle,
//! OperationOutcome): the resources the client writes or receives around a request.

use serde_json::{Number, Value};

use super::*;

fhir_resource!(Questionnaire {
    url: opt String,
    identifier: vec Identifier,
    version: opt String,
    name: opt String,
    title: opt String,
    status: opt String,
    subject_type: vec String,
    date: opt String,
    description: opt String,
    item: vec QuestionnaireItem,
});

fhir_struct!(QuestionnaireItem {
    link_id: opt String,
    text: opt String,
    r#type: opt String,
    required: opt bool,
    repeats: opt bool,
    answer_option: vec Value,
    item: vec QuestionnaireItem,
});

fhir_resource!(QuestionnaireResponse {
    identifier: opt Identifier,
    based_on: vec Reference,
    questionnaire: opt String,
    status: opt String,
    subject: opt Reference,
    encounter: opt Reference,
    authored: opt String,
    author: opt Reference,
    source: opt Reference,
    item: vec QuestionnaireResponseItem,
});

fhir_struct!(QuestionnaireResponseItem {
    link_id: opt String,
    text: opt String,
    answer: vec QuestionnaireResponseAnswer,
    item: vec QuestionnaireResponseItem,
});

fhir_struct!(QuestionnaireResponseAnswer {
    value_boolean: opt bool,
    value_decimal: opt Number,
    value_integer: opt Number,
    value_date: opt String,
    value_date_time: opt String,
    value_string: opt String,
    value_coding: opt Coding,
});

fhir_resource!(Task {
    identifier: vec Identifier,
    based_on: vec Reference,
    status: opt String,
    business_status: opt CodeableConcept,
    intent: opt String,
    priority: opt String,
    code: opt CodeableConcept,
    description: opt String,
    focus: opt Reference,
    r#for: opt Reference,
    encounter: opt Reference,
    authored_on: opt String,
    last_modified: opt String,
    requester: opt Reference,
    owner: opt Reference,
    reason_code: opt CodeableConcept,
    note: vec Annotation,
});

fhir_resource!(Communication {
    identifier: vec Identifier,
    based_on: vec Reference,
    status: opt String,
    category: vec CodeableConcept,
    subject: opt Reference,
    about: vec Reference,
    encounter: opt Reference,
    sent: opt String,
    recipient: vec Reference,
    sender: opt Reference,
    payload: vec CommunicationPayload,
});

fhir_struct!(CommunicationPayload {
    content_string: opt String,
});

fhir_resource!(AuditEvent {
    r#type: opt Coding,
    subtype: vec Coding,
    action: opt String,
    recorded: opt String,
    outcome: opt String,
    outcome_desc: opt String,
    agent: vec Value,
    source: opt Value,
    entity: vec Value,
});

fhir_resource!(OperationOutcome {
    issue: vec OperationOutcomeIssue,
});

fhir_struct!(OperationOutcomeIssue {
    severity: opt String,
    code: opt String,
    details: opt CodeableConcept,
    diagnostics: opt String,
    expression: vec String,
});

fhir_resource!(Bundle {
    identifier: opt Identifier,
    r#type: opt String,
    timestamp: opt String,
    total: opt Number,
    link: vec BundleLink,
    entry: vec BundleEntry,
});

fhir_struct!(BundleLink {
    relation: opt String,
    url: opt String,
});

fhir_struct!(BundleEntry {
    full_url: opt String,
    resource: opt Value,
    search: opt Value,
    request: opt BundleRequest,
    response: opt BundleResponse,
});

fhir_struct!(BundleRequest {
    method: opt String,
    url: opt String,
    if_none_match: opt String,
    if_modified_since: opt String,
    if_match: opt String,
    if_none_exist: opt String,
});

fhir_struct!(BundleResponse {
    status: opt String,
    location: opt String,
    etag: opt String,
    last_modified: opt String,
    outcome: opt Value,
});

impl Bundle {
    /// The `next` paging link, if any.
    pub fn next_link(&self) -> Option<&str> {
        self.link.iter().find(|l| l.relation.as_deref() == Some("next")).and_then(|l| l.url.as_deref())
    }
    /// Entry resources of type `R` (search matches and includes alike), skipping other types;
    /// an entry of type `R` that does not parse is an error.
    pub fn resources<R: Resource>(&self) -> Result<Vec<R>, serde_json::Error> {
        self.entry
            .iter()
            .filter_map(|e| e.resource.as_ref())
            .filter(|v| v.get("resourceType").and_then(Value::as_str) == Some(R::TYPE))
            .map(|v| serde_json::from_value(v.clone()))
            .collect()
    }
}

impl OperationOutcome {
    /// Issue codes, joined: safe to log and show (no free text from the server).
    pub fn codes(&self) -> String {
        let codes: Vec<&str> = self.issue.iter().filter_map(|i| i.code.as_deref()).collect();
        if codes.is_empty() {
            "no issue code".into()
        } else {
            codes.join(", ")
        }
    }
}
