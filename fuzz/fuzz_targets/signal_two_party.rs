#![no_main]
//! Fuzz target `signal_two_party`: see `wa_protocol::fuzzing::signal::two_party_simulation`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::signal::signal_two_party(data));
