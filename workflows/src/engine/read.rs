//! How the engine reads a message before any script sees it: its red flag (the rules, then
//! the example net), its embedding (computed once a turn and shared by the red-flag net and the
//! intent), and, for a first message, what it asks for. Kept apart from the turn's flow in
//! `mod.rs`.

use super::{Engine, Flag, Status};
use crate::engine::state::ConversationState;
use crate::redflags::{self, Category, RuleSet};
use crate::understand::ask::{self, Ask};
use crate::Result;

impl Engine {
    /// The red flag of a message: the rules' (the script's sets, and the post-discharge rules
    /// for a patient who writes in about an operation or a stay: "had surgery Monday, the
    /// incision is leaking pus"), else the example net's.
    pub(super) async fn red_flag(&self, st: &ConversationState, message: &str, embedding: Option<&[f32]>) -> Option<Flag> {
        let mut sets: Vec<RuleSet> = self.pinned(st).map(|s| s.red_flags.clone()).unwrap_or_default();
        if redflags::after_a_stay(message) && !sets.contains(&RuleSet::PostDischarge) {
            sets.push(RuleSet::PostDischarge);
        }
        match redflags::first(message, &sets) {
            Some(cat) => Some(Flag { category: cat, by_examples: false }),
            None => self.net_flag(embedding).map(|category| Flag { category, by_examples: true }),
        }
    }

    /// The example net's flag for a message's embedding, when the net is built and may flag.
    pub fn net_flag(&self, embedding: Option<&[f32]>) -> Option<Category> {
        self.net.for_red_flags()?.judge(embedding?)
    }

    /// The message's embedding, once per turn, when the example net will judge it: it is built,
    /// and the message is more than an answer ("yes", "3", "tomorrow"). `routing`: the message
    /// is a first one (the net may give its opinion on the intent). A failed embedding leaves
    /// the rules' verdict standing.
    pub async fn embedding(&self, message: &str, routing: bool) -> Option<Vec<f32>> {
        let wanted = self.net.for_red_flags().is_some() || (routing && self.net.for_intents().is_some());
        if !wanted || crate::text::words(message).len() < redflags::net::MIN_WORDS {
            return None;
        }
        match self.understand.embed(&[message.to_owned()]).await {
            Ok(v) => v.into_iter().next(),
            Err(_) => {
                tracing::warn!(error_kind = "embed", "example net skipped: embedding failed");
                None
            }
        }
    }

    /// Whether the next message starts a request (no script waits for an answer).
    pub(super) fn routes_next(&self, st: &ConversationState) -> bool {
        st.status == Status::Finished || st.script_id.is_none() || (self.pinned(st).is_some() && st.waiting_at.is_none())
    }

    /// What a first message asks for: a pick from the menu just offered, else `ask::read`.
    pub(super) async fn ask(&self, st: &ConversationState, message: &str, embedding: Option<&[f32]>) -> Result<Ask> {
        let latest = self.latest();
        if let Some(g) = self.routing_pick(st, message, &latest) {
            return Ok(Ask::Script(g));
        }
        let net = self.net.for_intents();
        let examples = net.as_deref().zip(embedding);
        ask::read(message, &latest, self.understand.as_ref(), &self.examples, examples).await
    }
}
