//! The security report for a breach investigation (`agent security report`): from the opened
//! audit records of a period, who on the staff opened which patients, when and from which
//! address, every break-glass declaration and access, and the sign-ins that failed or
//! succeeded. Built from the same opened records `audit export` writes, so the two never
//! disagree. Patient ids appear (the investigator needs them); nothing a patient said does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::store::AuditRow;

/// One staff action on a patient's data.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Access {
    pub seq: i64,
    pub at: i64,
    pub staff: String,
    pub action: String,
    pub patient: String,
    pub ip: Option<String>,
    pub break_glass: bool,
}

/// A sign-in step, break-glass declaration or lock-out: who, when, where from.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub at: i64,
    pub staff: String,
    pub action: String,
    pub ip: Option<String>,
    /// The declared reason (break-glass only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Per staff account: how many patients and records.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StaffSummary {
    pub staff: String,
    pub distinct_patients: usize,
    pub accesses: usize,
    pub patients: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Report {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub records: u64,
    /// Records whose payload no longer opens (shredded patients): counted, not described.
    pub unreadable: u64,
    pub accesses: Vec<Access>,
    pub break_glass: Vec<Event>,
    pub failed_sign_ins: Vec<Event>,
    pub sign_ins: Vec<Event>,
    pub by_staff: Vec<StaffSummary>,
}

fn text(v: Option<&Value>, key: &str) -> Option<String> {
    v.and_then(|v| v.get(key)).and_then(Value::as_str).map(str::to_owned)
}

impl Report {
    pub fn new(from: i64, to: i64) -> Self {
        Self { from: (from != i64::MIN).then_some(from), to: (to != i64::MAX).then_some(to), ..Self::default() }
    }

    /// Adds one record (in log order) with its opened payload.
    pub fn add(&mut self, row: &AuditRow, record: Option<&Value>) {
        self.records += 1;
        let Some(staff) = row.actor.strip_prefix("staff:") else { return };
        let Some(record) = record else {
            self.unreadable += 1;
            return;
        };
        let action = row.action.split('/').next().unwrap_or(&row.action).to_owned();
        let details = record.get("details");
        let ip = text(record.get("source"), "address");
        let break_glass = details.and_then(|d| d.get("break_glass")).and_then(Value::as_bool).unwrap_or(false);
        let event = |reason| Event { seq: row.seq, at: row.at, staff: staff.to_owned(), action: action.clone(), ip: ip.clone(), reason };
        match action.as_str() {
            "staff.sign_in_failed" | "staff.locked_out" => self.failed_sign_ins.push(event(None)),
            "staff.sign_in" => self.sign_ins.push(event(None)),
            "staff.break_glass" => self.break_glass.push(event(text(details, "reason"))),
            "staff.break_glass_access" => self.break_glass.push(event(None)),
            _ => {}
        }
        let patient = text(Some(record), "patient").unwrap_or_default();
        if !patient.is_empty() {
            self.accesses.push(Access { seq: row.seq, at: row.at, staff: staff.to_owned(), action, patient, ip, break_glass });
        }
    }

    /// Fills `by_staff` from the accesses; call once all records are in.
    pub fn finish(mut self) -> Self {
        let mut by: BTreeMap<&str, (BTreeSet<&str>, usize)> = BTreeMap::new();
        for a in &self.accesses {
            let e = by.entry(&a.staff).or_default();
            e.0.insert(&a.patient);
            e.1 += 1;
        }
        self.by_staff = by
            .into_iter()
            .map(|(s, (p, n))| StaffSummary {
                staff: s.to_owned(),
                distinct_patients: p.len(),
                accesses: n,
                patients: p.into_iter().map(str::to_owned).collect(),
            })
            .collect();
        self
    }

    /// The readable form: a heading and aligned columns per section.
    pub fn table(&self, names: &dyn Fn(&str) -> String) -> String {
        let mut out = String::new();
        let when = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default();
        let ip = |ip: &Option<String>| ip.clone().unwrap_or_else(|| "-".into());
        let _ = writeln!(out, "Security report: {} records ({} unreadable)", self.records, self.unreadable);
        let _ = writeln!(out, "\nPatient access by staff ({}):", self.by_staff.len());
        let _ = writeln!(out, "  {:<24} {:>8} {:>9}", "staff", "patients", "accesses");
        for s in &self.by_staff {
            let _ = writeln!(out, "  {:<24} {:>8} {:>9}", names(&s.staff), s.distinct_patients, s.accesses);
        }
        let _ = writeln!(out, "\nAccesses ({}):", self.accesses.len());
        let _ = writeln!(out, "  {:<19} {:<24} {:<28} {:<20} {:<15} break-glass", "time (UTC)", "staff", "action", "patient", "ip");
        for a in &self.accesses {
            let bg = if a.break_glass { "yes" } else { "" };
            let _ = writeln!(out, "  {:<19} {:<24} {:<28} {:<20} {:<15} {bg}", when(a.at), names(&a.staff), a.action, a.patient, ip(&a.ip));
        }
        for (title, events) in [("Break-glass", &self.break_glass), ("Failed sign-ins", &self.failed_sign_ins), ("Sign-ins", &self.sign_ins)] {
            let _ = writeln!(out, "\n{title} ({}):", events.len());
            for e in events {
                let reason = e.reason.as_deref().map(|r| format!("  reason: {r}")).unwrap_or_default();
                let _ = writeln!(out, "  {:<19} {:<24} {:<28} {:<15}{reason}", when(e.at), names(&e.staff), e.action, ip(&e.ip));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(seq: i64, actor: &str, action: &str) -> AuditRow {
        AuditRow { seq, at: seq * 1000, actor: actor.into(), action: action.into(), payload: vec![], prev_hash: String::new(), hash: String::new() }
    }

    #[test]
    fn staff_records_sort_into_accesses_break_glass_and_sign_ins() {
        let mut r = Report::new(i64::MIN, i64::MAX);
        let view = |p: &str, bg: bool| json!({"patient": p, "source": {"address": "10.0.0.5"}, "details": {"break_glass": bg}});
        r.add(&row(1, "patient", "chat.turn/c1"), Some(&json!({"patient": "p1"})));
        r.add(&row(2, "staff:u1", "staff.sign_in_failed/u1"), Some(&json!({"patient": "", "source": {"address": "10.0.0.9"}})));
        r.add(&row(3, "staff:u1", "staff.sign_in/u1"), Some(&json!({"patient": "", "source": {"address": "10.0.0.5"}})));
        r.add(&row(4, "staff:u1", "staff.view_conversation/c1"), Some(&view("p1", false)));
        r.add(&row(5, "staff:u1", "staff.view_case/e2"), Some(&view("p2", false)));
        r.add(&row(6, "staff:u1", "staff.view_case/e2"), Some(&view("p2", false)));
        r.add(&row(7, "staff:u2", "staff.break_glass/u2"), Some(&json!({"patient": "", "details": {"reason": "code blue", "break_glass": true}})));
        r.add(&row(8, "staff:u2", "staff.view_case/e3"), Some(&view("p3", true)));
        r.add(&row(9, "staff:u3", "staff.view_case/e4"), None);
        let r = r.finish();
        assert_eq!((r.records, r.unreadable), (9, 1));
        assert_eq!(r.accesses.len(), 4, "patient turns are not staff access");
        assert_eq!(r.failed_sign_ins[0].ip.as_deref(), Some("10.0.0.9"));
        assert_eq!(r.sign_ins.len(), 1);
        assert_eq!(r.break_glass[0].reason.as_deref(), Some("code blue"));
        assert!(r.accesses.iter().any(|a| a.patient == "p3" && a.break_glass));
        assert_eq!(r.by_staff[0], StaffSummary { staff: "u1".into(), distinct_patients: 2, accesses: 3, patients: vec!["p1".into(), "p2".into()] });
        let table = r.table(&|id: &str| format!("name-{id}"));
        assert!(table.contains("name-u1") && table.contains("10.0.0.5") && table.contains("code blue"), "{table}");
    }
}
