//! The shape of a red-flag rule, apart from the tables (`rules.rs`, `harm.rs`, `rules_post.rs`)
//! that fill it in: phrases, phrases near each other, and vetoes.

use super::Category;

/// One way a category shows up in a message.
pub enum Pattern {
    /// Any of these phrases.
    Any(&'static [&'static str]),
    /// A phrase of the first list within `window` words of one of the second, either order.
    Near(&'static [&'static str], &'static [&'static str], usize),
}

pub struct Rule {
    pub category: Category,
    pub patterns: &'static [Pattern],
    /// A clause holding one of these is about something else ("blood pressure", "aire acondicionado").
    pub vetoes: &'static [&'static str],
}
