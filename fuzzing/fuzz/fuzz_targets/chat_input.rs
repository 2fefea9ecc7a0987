//! libFuzzer entry for `fuzzing::chat::chat_input` (see that module for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::chat::chat_input(data));
