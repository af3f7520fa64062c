#![no_main]
//! Fuzz target `media_decrypt`: see `wa_protocol::fuzzing::media::media_decrypt`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::media::media_decrypt(data));
