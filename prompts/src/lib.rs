//! Prompt and reply templates, kept as files under `prompts/templates/` so they can be
//! reviewed like text, with typed render functions and golden tests.
