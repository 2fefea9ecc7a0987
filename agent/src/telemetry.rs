//! Logging that cannot leak PHI. Every event goes through `RedactingFormat`: only fields on an
//! allow-list of operational names are written verbatim; any other field is written as
//! `[redacted]`, and even the message text is scrubbed of anything that looks like an
//! identifier, a date, a phone number or an e-mail address. Text or JSON lines.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, TelemetrySettings};

/// Field names whose values are operational, never patient data.
const SAFE_FIELDS: &[&str] = &[
    "request_id", "method", "route", "status", "latency_ms", "count", "kind", "error_kind",
    "addr", "port", "backend", "version", "model", "queue", "attempt", "elapsed_ms", "phase",
    "outcome", "script", "script_version", "priority", "reason", "migrations", "path_kind",
    "package",
];

/// Values we generate or configure ourselves (request ids, model ids, route templates): never
/// patient data, and needed verbatim to correlate an error with its log line.
const VERBATIM_FIELDS: &[&str] = &["request_id", "model", "route", "method"];

pub fn init(settings: &TelemetrySettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = settings.format == LogFormat::Json;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(RedactingFormat { json })
        .with_writer(std::io::stderr)
        .try_init();
}

/// Formats events with only allow-listed fields (see module docs).
pub struct RedactingFormat {
    pub json: bool,
}

impl<S, N> FormatEvent<S, N> for RedactingFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut v = Collect::default();
        event.record(&mut v);
        let meta = event.metadata();
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if self.json {
            let mut obj = serde_json::Map::new();
            obj.insert("ts".into(), ts.into());
            obj.insert("level".into(), meta.level().as_str().into());
            obj.insert("target".into(), meta.target().into());
            obj.insert("msg".into(), v.message.into());
            for (k, val) in v.fields {
                obj.insert(k.into(), val.into());
            }
            writeln!(w, "{}", serde_json::Value::Object(obj))
        } else {
            write!(w, "{ts} {:>5} {}: {}", meta.level(), meta.target(), v.message)?;
            for (k, val) in v.fields {
                write!(w, " {k}={val}")?;
            }
            writeln!(w)
        }
    }
}

#[derive(Default)]
struct Collect {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Collect {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = scrub(&value);
        } else if VERBATIM_FIELDS.contains(&field.name()) {
            self.fields.push((field.name(), value));
        } else if SAFE_FIELDS.contains(&field.name()) {
            self.fields.push((field.name(), scrub(&value)));
        } else {
            self.fields.push((field.name(), "[redacted]".into()));
        }
    }

    /// Numbers and booleans on allow-listed fields are operational values (status codes,
    /// ports, latencies): written as they are.
    fn put_plain(&mut self, field: &Field, value: String) {
        if SAFE_FIELDS.contains(&field.name()) {
            self.fields.push((field.name(), value));
        } else {
            self.fields.push((field.name(), "[redacted]".into()));
        }
    }
}

impl Visit for Collect {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put_plain(field, value.to_string());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put_plain(field, value.to_string());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put_plain(field, value.to_string());
    }
}

/// Masks anything in free text that looks like PHI: runs of 3+ digits (phone numbers, dates,
/// record numbers), e-mail addresses, and long alphanumeric tokens mixing letters and digits
/// (identifiers). Words stay, so "database unreachable" still reads.
pub fn scrub(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '"' || c == '\'')
        .map(|piece| {
            let (word, sep) = split_trailing_sep(piece);
            if looks_sensitive(word) {
                format!("[redacted]{sep}")
            } else {
                piece.to_owned()
            }
        })
        .collect()
}

fn split_trailing_sep(piece: &str) -> (&str, &str) {
    match piece.char_indices().last() {
        Some((i, c)) if c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'') => (&piece[..i], &piece[i..]),
        _ => (piece, ""),
    }
}

fn looks_sensitive(word: &str) -> bool {
    if word.contains('@') {
        return true;
    }
    let digits = word.chars().filter(|c| c.is_ascii_digit()).count();
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    digits >= 3 || (digits >= 1 && letters >= 1 && word.len() >= 8)
}

/// A writer that captures log output in memory, for tests that assert nothing leaks.
#[derive(Clone, Default)]
pub struct CaptureWriter(pub Arc<Mutex<Vec<u8>>>);

impl CaptureWriter {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }
}

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CaptureWriter {
    type Writer = CaptureWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_masks_identifiers_dates_phones_and_emails() {
        let s = scrub("patient 555-867-5309 born 1961-04-12 mail a.b@x.org id pat7f3k9q2z ok");
        for leak in ["867", "1961", "a.b@x.org", "pat7f3k9q2z"] {
            assert!(!s.contains(leak), "{leak} leaked in {s}");
        }
        assert!(s.starts_with("patient ") && s.ends_with(" ok"));
    }

    #[test]
    fn unknown_fields_are_redacted_in_both_formats() {
        for json in [false, true] {
            let cap = CaptureWriter::default();
            let sub = tracing_subscriber::fmt()
                .event_format(RedactingFormat { json })
                .with_writer(cap.clone())
                .finish();
            tracing::subscriber::with_default(sub, || {
                tracing::info!(patient_name = "Maria Lopez", status = 200, "turn done");
            });
            let out = cap.contents();
            assert!(!out.contains("Maria"), "{out}");
            assert!(out.contains("200") && out.contains("turn done"), "{out}");
        }
    }
}
