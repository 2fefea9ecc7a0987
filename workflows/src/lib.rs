//! Workflow scripts and the engine that runs one conversation a step at a time.
//! The model suggests (through the narrow `Understand` port), the script decides, and facts
//! come only from the `Ehr`.

mod api;
pub mod convtest;
pub mod engine;
pub mod redflags;
pub mod script;
pub mod text;
pub mod understand;

pub use api::*;
pub use engine::{ConversationState, Engine, StartTrigger};
pub use script::{load_dir, validate_path, validate_source, Diagnostic, Script};
pub use understand::understand_line;
