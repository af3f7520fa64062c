#![no_main]
//! Fuzz target `noise_accept`: see `wa_protocol::fuzzing::noise_accept`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::noise_accept(data));
