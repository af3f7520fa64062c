#![no_main]
//! Fuzz target `frame_decoder`: see `wa_protocol::fuzzing::frame_decoder`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wa_protocol::fuzzing::frame_decoder(data));
