//! Script loading: `workflows::script::compile` on arbitrary text (what an admin pastes into
//! the script editor). It must answer with a script or diagnostics, never panic, and every
//! diagnostic must point inside the text.

/// One input, as the admin API would receive it (invalid UTF-8 is refused before this).
pub fn script(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match workflows::script::compile("fuzz.toml", text) {
        Ok(script) => {
            // A script that compiled validates clean, and twice the same.
            assert!(workflows::validate_source("fuzz.toml", text).is_empty(), "compiled but not valid");
            let _ = script;
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "an error without a diagnostic");
            let lines = text.lines().count().max(1) + 1;
            for d in &diags {
                assert!(d.line >= 1 && d.line <= lines, "line {} outside 1..={lines}: {d}", d.line);
                assert!(d.column >= 1, "column {}: {d}", d.column);
                assert!(!d.message.is_empty(), "empty message at {}:{}", d.line, d.column);
            }
        }
    }
}
