#![no_main]
//! Fuzz target `incoming_stanza`: see `wa_protocol::fuzzing::incoming_stanza`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::incoming_stanza(data));
