#![no_main]
//! Fuzz target `signal_sender_key`: see `wa_protocol::fuzzing::signal::sender_key_simulation`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::signal::signal_sender_key(data));
