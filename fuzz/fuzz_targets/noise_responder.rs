#![no_main]
//! Fuzz target `noise_responder`: see `wa_protocol::fuzzing::noise_responder`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::noise_responder(data));
