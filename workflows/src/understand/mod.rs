//! Understanding one message without trusting the model: rule readers (dates, yes/no, scale,
//! provider, special requests), medication matching against the patient's own list, and intent
//! by nearest examples. The model is reached only through `Understand`, and every answer it
//! gives is an index or value we check before use.

mod date_combine;
mod date_words;
pub mod dates;
pub mod ask;
pub mod intent;
mod line;
mod med_words;
pub mod meds;
mod requests;
pub mod values;
mod yes_no;
mod yes_no_words;

pub use line::understand_line;
