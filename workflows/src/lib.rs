//! Workflow scripts and the engine that runs one conversation a step at a time.
//! The model suggests (through the narrow `Understand` port), the script decides, and facts
//! come only from the `Ehr`.

mod api;
pub mod redflags;
pub mod text;

pub use api::*;
