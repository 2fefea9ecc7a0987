//! libFuzzer entry for `fuzzing::script::script` (see that module for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::script::script(data));
