//! Background follow-ups the agent does on its own, in the style of the SLA sweep: a
//! follow-up the patient never answered becomes a coordinator case, a refill request's Task
//! changing status is told to the patient, and writes kept while the EHR was down are made
//! (the outbox). Due times follow the service clock (tests move
//! a fake one); every write is conditional, so several replicas may sweep at once.

pub mod no_reply;
pub mod refills;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::state::AppState;

/// `[outreach]` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutreachSettings {
    /// A follow-up the patient has not answered within this many hours goes to a coordinator.
    pub no_reply_hours: i64,
    /// How often open refill Tasks are read from the EHR for status changes (minutes).
    pub refill_poll_minutes: i64,
}

impl Default for OutreachSettings {
    fn default() -> Self {
        Self { no_reply_hours: 24, refill_poll_minutes: 5 }
    }
}

impl OutreachSettings {
    pub fn no_reply_ms(&self) -> i64 {
        self.no_reply_hours * 3_600_000
    }

    pub fn refill_poll_ms(&self) -> i64 {
        self.refill_poll_minutes * 60_000
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |key: &str, v: i64, max: i64| {
            (1..=max).contains(&v).then_some(()).ok_or_else(|| ConfigError {
                key: format!("outreach.{key}"),
                message: format!("must be 1 to {max}"),
            })
        };
        check("no_reply_hours", self.no_reply_hours, 24 * 30)?;
        check("refill_poll_minutes", self.refill_poll_minutes, 24 * 60)
    }
}

/// The running sweeps; dropping this stops them (the server holds it while it serves).
pub struct Sweeps(tokio::task::JoinHandle<()>);

impl Drop for Sweeps {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the sweeps, waking every `every` (real time) to do what is due by the service clock.
pub fn spawn(state: AppState, every: std::time::Duration) -> Sweeps {
    Sweeps(tokio::spawn(watch(state, every)))
}

async fn watch(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_poll = i64::MIN;
    loop {
        tick.tick().await;
        if let Err(e) = no_reply::sweep(&state).await {
            let (_, body) = e.outcome("no-reply-sweep");
            tracing::warn!(code = %body["issue"][0]["code"], "no-reply sweep failed");
        }
        if let Err(e) = crate::outbox::drain(&state).await {
            let (_, body) = e.outcome("outbox");
            tracing::warn!(code = %body["issue"][0]["code"], "outbox pass failed");
        }
        let now = state.clock.now_ms();
        if now >= next_poll {
            next_poll = now + state.policy.outreach.refill_poll_ms();
            if let Err(e) = refills::poll(&state).await {
                let (_, body) = e.outcome("refill-poll");
                tracing::warn!(code = %body["issue"][0]["code"], "refill poll failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn outreach_settings_are_read_checked_and_strict() {
        let s = Settings::from_toml_overrides(&["[outreach]\nno_reply_hours = 48\nrefill_poll_minutes = 1"]).unwrap();
        assert_eq!((s.outreach.no_reply_ms(), s.outreach.refill_poll_ms()), (48 * 3_600_000, 60_000));
        let e = Settings::from_toml_overrides(&["[outreach]\nno_reply_hours = 0"]).unwrap_err();
        assert_eq!(e.key, "outreach.no_reply_hours");
        let e = Settings::from_toml_overrides(&["[outreach]\nno_reply_hour = 5"]).unwrap_err();
        assert!(e.message.contains("no_reply_hour"), "{e}");
    }
}
