#![no_main]
//! Fuzz target `node_decoder`: see `wa_protocol::fuzzing::node_decoder`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::node_decoder(data));
