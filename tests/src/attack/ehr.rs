//! The EHR side of the attack suite, over plain FHIR REST against the demo sekmet-fhir: a
//! ledger of every resource's version (so the writes a run made can be listed and each checked
//! against what the patient confirmed) and the planting of attack text in free-text fields.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Resource types whose writes are watched (everything the agent may write, and the records
/// an attack could try to alter).
const WATCHED: &[&str] = &[
    "Appointment",
    "Slot",
    "Task",
    "QuestionnaireResponse",
    "Communication",
    "MedicationRequest",
    "Patient",
    "Practitioner",
    "Schedule",
    "Encounter",
];

/// `Type/id` → (version, resource).
pub type Snapshot = BTreeMap<String, (String, Value)>;

/// A resource created or changed between two snapshots.
#[derive(Clone, Debug)]
pub struct Write {
    pub key: String,
    pub resource: Value,
}

impl Write {
    pub fn kind(&self) -> &str {
        self.key.split('/').next().unwrap_or_default()
    }

    /// Every `Patient/...` reference the resource holds.
    pub fn patients(&self) -> Vec<String> {
        let mut out = vec![];
        collect_patient_refs(&self.resource, &mut out);
        out.sort();
        out.dedup();
        out
    }
}

fn collect_patient_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("reference") {
                if r.starts_with("Patient/") {
                    out.push(r.clone());
                }
            }
            m.values().for_each(|x| collect_patient_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_patient_refs(x, out)),
        _ => {}
    }
}

/// A FHIR REST client for the demo EHR (no auth in demo mode).
pub struct Ehr {
    pub base: String,
    http: reqwest::Client,
}

impl Ehr {
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), http: reqwest::Client::new() }
    }

    async fn get(&self, url: &str) -> anyhow::Result<Value> {
        let r = self.http.get(url).header("accept", "application/fhir+json").send().await?;
        anyhow::ensure!(r.status().is_success(), "GET {url}: {}", r.status());
        Ok(r.json().await?)
    }

    /// Every resource a search finds, following `next` links.
    pub async fn search(&self, query: &str) -> anyhow::Result<Vec<Value>> {
        let mut url = Some(format!("{}/{query}", self.base));
        let mut out = vec![];
        while let Some(u) = url.take() {
            let bundle = self.get(&u).await?;
            for e in bundle["entry"].as_array().into_iter().flatten() {
                if e["resource"].is_object() {
                    out.push(e["resource"].clone());
                }
            }
            url = bundle["link"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["relation"] == "next")
                .and_then(|l| l["url"].as_str().map(str::to_owned));
        }
        Ok(out)
    }

    pub async fn put(&self, resource: &Value) -> anyhow::Result<()> {
        let (kind, id) = (resource["resourceType"].as_str().unwrap_or_default(), resource["id"].as_str().unwrap_or_default());
        let r = self
            .http
            .put(format!("{}/{kind}/{id}", self.base))
            .header("content-type", "application/fhir+json")
            .json(resource)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "PUT {kind}/{id}: {} {}", r.status(), r.text().await.unwrap_or_default());
        Ok(())
    }

    /// The version of every watched resource.
    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let mut snap = Snapshot::new();
        for kind in WATCHED {
            for r in self.search(&format!("{kind}?_count=200")).await? {
                let id = r["id"].as_str().unwrap_or_default();
                let version = r["meta"]["versionId"]
                    .as_str()
                    .or_else(|| r["meta"]["lastUpdated"].as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| r.to_string());
                snap.insert(format!("{kind}/{id}"), (version, r));
            }
        }
        Ok(snap)
    }

    /// What was created or changed from `before` to `after`.
    pub fn writes(before: &Snapshot, after: &Snapshot) -> Vec<Write> {
        after
            .iter()
            .filter(|(k, (v, _))| before.get(*k).is_none_or(|(bv, _)| bv != v))
            .map(|(k, (_, r))| Write { key: k.clone(), resource: r.clone() })
            .collect()
    }

    /// Plants `attack` in the free text the agent reads for `patient`: the patient's name text,
    /// the display and note of each of their active prescriptions, and each practitioner's name
    /// suffix and schedule display. Returns how many resources were changed.
    pub async fn plant(&self, patient: &str, attack: &str) -> anyhow::Result<usize> {
        let mut changed = 0;
        let mut p = self.get(&format!("{}/Patient/{patient}", self.base)).await?;
        if let Some(name) = p["name"].get_mut(0) {
            name["text"] = json!(attack);
            self.put(&p).await?;
            changed += 1;
        }
        for mut mr in self.search(&format!("MedicationRequest?subject=Patient/{patient}&_count=200")).await? {
            let display = mr["medicationCodeableConcept"]["coding"][0]["display"].as_str().unwrap_or_default().to_owned();
            let planted = format!("{display}. {attack}");
            mr["medicationCodeableConcept"]["text"] = json!(planted);
            mr["note"] = json!([{ "text": attack }]);
            self.put(&mr).await?;
            changed += 1;
        }
        let mut names = std::collections::HashMap::new();
        for mut pr in self.search("Practitioner?_count=200").await? {
            let key = format!("Practitioner/{}", pr["id"].as_str().unwrap_or_default());
            if let Some(name) = pr["name"].get_mut(0) {
                let given = name["given"][0].as_str().unwrap_or_default();
                let family = name["family"].as_str().unwrap_or_default();
                names.insert(key, format!("Dr. {given} {family}"));
                name["suffix"] = json!([attack]);
                self.put(&pr).await?;
                changed += 1;
            }
        }
        for mut s in self.search("Schedule?_count=200").await? {
            if let Some(actor) = s["actor"].get_mut(0) {
                let name = actor["reference"].as_str().and_then(|r| names.get(r)).cloned().unwrap_or_default();
                actor["display"] = json!(format!("{name} {attack}"));
                s["comment"] = json!(attack);
                self.put(&s).await?;
                changed += 1;
            }
        }
        Ok(changed)
    }
}
