//! libFuzzer entry for `fuzzing::fhir::fhir_json` (see that module for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::fhir::fhir_json(data));
