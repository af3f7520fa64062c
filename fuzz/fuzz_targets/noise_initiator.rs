#![no_main]
//! Fuzz target `noise_initiator`: see `wa_protocol::fuzzing::noise_initiator`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::noise_initiator(data));
