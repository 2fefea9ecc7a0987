//! Post-discharge follow-up: recent discharges (finished inpatient-like Encounters) and the
//! QuestionnaireResponse write. The response goes to a client-chosen id derived from the
//! patient and the idempotency key (PUT is idempotent), because servers do not all index
//! `QuestionnaireResponse.identifier` for a conditional create.

use super::*;
use crate::model::{
    Encounter, QuestionnaireResponse, QuestionnaireResponseAnswer, QuestionnaireResponseItem, Reference,
};

/// Encounter classes (v3 ActCode) that end in a discharge.
const STAY_CLASSES: &[&str] = &["IMP", "ACUTE", "NONAC", "OBSENC", "EMER", "SS"];

fn is_discharge(e: &Encounter) -> bool {
    let stay = e.class.as_ref().and_then(|c| c.code.as_deref()).is_some_and(|c| STAY_CLASSES.contains(&c));
    let has_disposition = e.hospitalization.as_ref().is_some_and(|h| h.discharge_disposition.is_some());
    e.status.as_deref() == Some("finished") && (stay || has_disposition)
}

pub(super) async fn recent_discharges(c: &FhirClient, patient: &PatientId, since: DateTime<Utc>) -> Result<Vec<Discharge>> {
    let params = [
        ("patient", patient_ref(patient)),
        ("status", "finished".to_string()),
        ("date", format!("ge{}", since.format("%Y-%m-%d"))),
    ];
    let mut out = Vec::new();
    for e in c.search::<Encounter>(&params).await? {
        if !is_discharge(&e) || e.subject.as_ref().and_then(|s| s.id_of("Patient")) != Some(patient.as_str()) {
            continue;
        }
        let Some(end) = e.period.as_ref().and_then(|p| p.end.as_deref()) else { continue };
        let discharged = parse_instant(Some(end), "Encounter.period.end")?;
        if discharged < since {
            continue;
        }
        let location = e.location.iter().rev().find_map(|l| l.location.as_ref()?.display.clone());
        out.push(Discharge { encounter: id_from(&e, EncounterId::parse)?, discharged, location });
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.discharged));
    Ok(out)
}

fn answer(v: &AnswerValue) -> QuestionnaireResponseAnswer {
    let mut a = QuestionnaireResponseAnswer::default();
    match v {
        AnswerValue::Boolean(b) => a.value_boolean = Some(*b),
        AnswerValue::Integer(i) => a.value_integer = Some((*i).into()),
        AnswerValue::String(s) => a.value_string = Some(s.clone()),
        AnswerValue::Date(d) => a.value_date = Some(d.format("%Y-%m-%d").to_string()),
    }
    a
}

/// Items in first-seen order; repeated link ids become one item with several answers.
pub(crate) fn items(answers: &[Answer]) -> Vec<QuestionnaireResponseItem> {
    let mut out: Vec<QuestionnaireResponseItem> = Vec::new();
    for a in answers {
        match out.iter_mut().find(|i| i.link_id.as_deref() == Some(a.link_id.as_str())) {
            Some(item) => item.answer.push(answer(&a.value)),
            None => out.push(QuestionnaireResponseItem {
                link_id: Some(a.link_id.clone()),
                answer: vec![answer(&a.value)],
                ..Default::default()
            }),
        }
    }
    out
}

/// The id a response for (patient, key) is stored under.
pub(crate) fn response_id(patient: &PatientId, key: &IdempotencyKey) -> String {
    let digest = Sha256::digest(format!("{patient}\n{}", key.0).as_bytes());
    format!("qr-{}", &hex::encode(digest)[..40])
}

pub(super) async fn submit(
    c: &FhirClient,
    patient: &PatientId,
    questionnaire: &str,
    encounter: Option<&EncounterId>,
    answers: &[Answer],
    key: &IdempotencyKey,
) -> Result<ResourceRef> {
    if let Some(enc) = encounter {
        let e: Encounter = c.read(enc.as_str()).await?;
        if e.subject.as_ref().and_then(|s| s.id_of("Patient")) != Some(patient.as_str()) {
            return Err(Error::NotFound("Encounter".into()));
        }
    }
    let id = response_id(patient, key);
    match c.read::<QuestionnaireResponse>(&id).await {
        Ok(existing) if existing.subject.as_ref().and_then(|s| s.id_of("Patient")) == Some(patient.as_str()) => {
            return Ok(ResourceRef(format!("QuestionnaireResponse/{id}")));
        }
        Ok(_) => return Err(key_reused()),
        Err(Error::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let qr = QuestionnaireResponse {
        id: Some(id.clone()),
        identifier: Some(idempotency_identifier(key)),
        questionnaire: Some(questionnaire.to_string()),
        status: Some("completed".into()),
        subject: Some(Reference::to("Patient", patient.as_str())),
        encounter: encounter.map(|e| Reference::to("Encounter", e.as_str())),
        authored: Some(now_instant()),
        author: Some(Reference::to("Patient", patient.as_str())),
        source: Some(Reference::to("Patient", patient.as_str())),
        item: items(answers),
        ..Default::default()
    };
    let saved = c.update(&qr, None).await?;
    Ok(ResourceRef(format!("QuestionnaireResponse/{}", saved.id.as_deref().unwrap_or(&id))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_link_ids_become_one_item_with_several_answers() {
        let a = |l: &str, v| Answer { link_id: l.into(), value: v };
        let items = items(&[
            a("pain", AnswerValue::Integer(7)),
            a("symptoms", AnswerValue::String("fever".into())),
            a("symptoms", AnswerValue::String("cough".into())),
        ]);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].answer.len(), 2);
        let json = serde_json::to_value(&items[0]).unwrap();
        assert_eq!(json, serde_json::json!({"linkId": "pain", "answer": [{"valueInteger": 7}]}));
    }

    #[test]
    fn response_ids_are_valid_fhir_ids_and_depend_on_patient_and_key() {
        let p = PatientId::parse("p1").unwrap();
        let k = IdempotencyKey("k".into());
        let id = response_id(&p, &k);
        assert!(PatientId::parse(id.clone()).is_ok());
        assert_ne!(id, response_id(&PatientId::parse("p2").unwrap(), &k));
    }
}
