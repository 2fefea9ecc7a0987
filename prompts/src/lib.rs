//! Prompt and reply templates, kept as files under `prompts/templates/` so they can be
//! reviewed like text, with typed render functions and golden tests. Fixed replies (the safety
//! message above all) are never phrased by the model: the engine sends them as written.

/// The language a template is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
}

/// Fixed replies the engine sends as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// After a red flag: emergency numbers and "the care team has been alerted".
    Safety,
    /// The patient asked for a person.
    Handoff,
    /// The patient asked for medical advice, which we never give.
    NoAdvice,
    /// We could not tell what the patient wants; followed by quick-reply options.
    Clarify,
    NotUnderstood,
    /// Any message after automation stopped.
    AlreadyEscalated,
    /// First message of a patient-started conversation; `{name}` is ", Ana" or empty.
    Greeting,
    LowConfidence,
    Failure,
    Finished,
}

macro_rules! pair {
    ($name:literal) => {
        (include_str!(concat!("../templates/replies/", $name, ".en.txt")), include_str!(concat!("../templates/replies/", $name, ".es.txt")))
    };
}

fn reply_pair(kind: Reply) -> (&'static str, &'static str) {
    match kind {
        Reply::Safety => pair!("safety"),
        Reply::Handoff => pair!("handoff"),
        Reply::NoAdvice => pair!("no_advice"),
        Reply::Clarify => pair!("clarify"),
        Reply::NotUnderstood => pair!("not_understood"),
        Reply::AlreadyEscalated => pair!("already_escalated"),
        Reply::Greeting => pair!("greeting"),
        Reply::LowConfidence => pair!("low_confidence"),
        Reply::Failure => pair!("failure"),
        Reply::Finished => pair!("finished"),
    }
}

/// The fixed reply text (trimmed) in `lang`.
pub fn reply(kind: Reply, lang: Lang) -> &'static str {
    let (en, es) = reply_pair(kind);
    pick(lang, en, es)
}

/// What the patient is told when their refill request's FHIR Task changes to `status`.
pub fn refill_status(lang: Lang, status: &str) -> String {
    let (en, es) = match status {
        "accepted" => pair!("refill_accepted"),
        "completed" => pair!("refill_completed"),
        "rejected" | "cancelled" | "failed" | "entered-in-error" => pair!("refill_rejected"),
        _ => pair!("refill_update"),
    };
    render(pick(lang, en, es), &[("status", status)])
}

/// What the patient is told once a write kept while the EHR was down (`action`: book,
/// reschedule, cancel, request_refill, submit_questionnaire) has been made; `label` is what it
/// was about, as the patient was shown it. `None` for an action with no message.
pub fn outbox_done(lang: Lang, action: &str, label: &str) -> Option<String> {
    let (en, es) = match action {
        "book" => pair!("outbox_book"),
        "reschedule" => pair!("outbox_reschedule"),
        "cancel" => pair!("outbox_cancel"),
        "request_refill" => pair!("outbox_request_refill"),
        "submit_questionnaire" => pair!("outbox_submit_questionnaire"),
        _ => return None,
    };
    Some(render(pick(lang, en, es), &[("label", label)]))
}

/// What the patient is told when a kept write could not be made once the EHR was back (the
/// slot was taken meanwhile, the request was refused): a person will follow up.
pub fn outbox_failed(lang: Lang, label: &str) -> String {
    let (en, es) = pair!("outbox_failed");
    render(pick(lang, en, es), &[("label", label)])
}

fn pick(lang: Lang, en: &'static str, es: &'static str) -> &'static str {
    match lang {
        Lang::En => en.trim(),
        Lang::Es => es.trim(),
    }
}

/// The greeting, with the patient's name when the EHR has one.
pub fn greeting(lang: Lang, name: Option<&str>) -> String {
    let name = name.map(|n| format!(", {n}")).unwrap_or_default();
    render(reply(Reply::Greeting, lang), &[("name", &name)])
}

/// Replaces each `{key}` in `template` with its value; unknown placeholders stay as written.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                match vars.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// System prompt for `Understand::choose`.
pub fn choose_system() -> &'static str {
    include_str!("../templates/system/choose.txt").trim()
}

/// Instruction passed to `choose` when routing a first message to a workflow.
pub fn choose_intent_instruction() -> String {
    include_str!("../templates/system/choose_intent.txt").trim().to_string()
}

/// System prompt for `Understand::extract`, with the JSON schema inlined.
pub fn extract_system(schema: &serde_json::Value) -> String {
    render(include_str!("../templates/system/extract.txt").trim(), &[("schema", &schema.to_string())])
}

/// System prompt for `Understand::phrase` in `lang`.
pub fn phrase_system(lang: Lang) -> String {
    let language = match lang {
        Lang::En => "English",
        Lang::Es => "Spanish",
    };
    render(include_str!("../templates/system/phrase.txt").trim(), &[("language", language)])
}
