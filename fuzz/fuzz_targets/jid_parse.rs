#![no_main]
//! Fuzz target `jid_parse`: see `wa_protocol::fuzzing::jid_parse`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::jid_parse(data));
