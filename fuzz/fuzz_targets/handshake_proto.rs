#![no_main]
//! Fuzz target `handshake_proto`: see `wa_protocol::fuzzing::handshake_proto`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::handshake_proto(data));
