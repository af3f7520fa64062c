//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`), so every committed seed also runs under plain `cargo test`.
//!
//! Each function takes arbitrary bytes. Decoders must return errors, never panic; where a value
//! decodes, encoding it again must give it back (a mismatch panics, which is what the fuzzer
//! reports).

mod incoming;
pub mod media;
pub mod signal;

pub use incoming::incoming_stanza;

use core::str::FromStr;

use prost::Message;

use crate::binary::{marshal, unmarshal, Jid, Limits};
use crate::error::Error;
use crate::noise::{Accept, FrameDecoder, HandshakeError, Initiator, Responder, TrustRoot};
use crate::payload::check_client_payload;
use crate::pb;
use crate::signal::KeyPair;

/// The names of the targets, as directories under `fuzz/corpus/`.
pub const TARGETS: &[&str] = &[
    "frame_decoder",
    "node_decoder",
    "jid_parse",
    "handshake_proto",
    "noise_responder",
    "noise_accept",
    "noise_initiator",
    "incoming_stanza",
    "signal_two_party",
    "signal_sender_key",
    "media_decrypt",
];

/// Runs the target called `name` on `data`; `false` if there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "frame_decoder" => frame_decoder(data),
        "node_decoder" => node_decoder(data),
        "jid_parse" => jid_parse(data),
        "handshake_proto" => handshake_proto(data),
        "noise_responder" => noise_responder(data),
        "noise_accept" => noise_accept(data),
        "noise_initiator" => noise_initiator(data),
        "incoming_stanza" => incoming_stanza(data),
        "media_decrypt" => media::media_decrypt(data),
        other => return signal::run(other, data),
    }
    true
}

/// Frame decoder on a client connection: the first byte picks a chunk size, the rest is the
/// byte stream (intro first). Every frame returned must fit the cap.
pub fn frame_decoder(data: &[u8]) {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let cap = 4096;
    let mut decoder = FrameDecoder::for_server(cap);
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => assert!(frame.len() <= cap),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Node decoder (flags byte + node). When a frame decodes, re-encoding gives a frame that decodes
/// to the same node and re-encodes to the same bytes.
pub fn node_decoder(data: &[u8]) {
    let limits = Limits {
        max_decompressed: 1 << 20,
        ..Limits::default()
    };
    let Ok(node) = unmarshal(data, &limits) else {
        return;
    };
    let bytes = marshal(&node).expect("a decoded node encodes");
    let again = unmarshal(&bytes, &limits).expect("an encoded node decodes");
    assert_eq!(node, again, "decode → encode → decode changed the node");
    assert_eq!(
        marshal(&again).expect("encodes"),
        bytes,
        "encoding is not stable"
    );
}

/// JID parsing: a JID that parses prints to a string that parses to the same JID.
pub fn jid_parse(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(jid) = Jid::from_str(text) else {
        return;
    };
    let printed = jid.to_string();
    let again = Jid::from_str(&printed).expect("a printed JID parses");
    assert_eq!(jid, again, "{text:?} → {printed:?} changed the JID");
}

/// The handshake-phase protobufs: HandshakeMessage, CertChain and a ClientPayload check.
pub fn handshake_proto(data: &[u8]) {
    if let Ok(msg) = pb::handshake::HandshakeMessage::decode(data) {
        let again = pb::handshake::HandshakeMessage::decode(msg.encode_to_vec().as_slice())
            .expect("re-encoded message decodes");
        assert_eq!(msg, again);
    }
    let _ = pb::cert::CertChain::decode(data);
    let _ = check_client_payload(data);
}

fn fixed(byte: u8) -> KeyPair {
    KeyPair::from_private_bytes([byte; 32])
}

/// The responder's read path with fixed keys: the first byte splits the input into a ClientHello
/// and a ClientFinish.
pub fn noise_responder(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(rest.len());
    let (hello, finish) = rest.split_at(split);
    let responder = Responder::start(fixed(0x44), vec![0x0a, 0x00]);
    if let Ok((state, _server_hello)) = responder.read_client_hello(hello, fixed(0x33)) {
        let _ = state.read_client_finish(finish);
    }
}

/// The server-side accept on a raw byte stream (intro, ClientHello and ClientFinish frames) with
/// fixed keys: the first byte picks a chunk size. It must end at most once (accepted or
/// refused), take nothing after, and queue at most the one ServerHello.
pub fn noise_accept(data: &[u8]) {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut accept = Accept::new(fixed(0x44), vec![0x0a, 0x00], fixed(0x33), 1 << 16);
    let mut ended = false;
    let mut hellos = 0;
    for piece in rest.chunks(chunk) {
        let outcome = accept.handle_input(piece);
        if ended {
            assert_eq!(
                outcome.err(),
                Some(Error::Handshake(HandshakeError::Finished)),
                "input taken after the end"
            );
            continue;
        }
        ended = !matches!(outcome, Ok(None));
        while accept.poll_transmit().is_some() {
            hellos += 1;
        }
    }
    assert!(hellos <= 1, "{hellos} ServerHellos");
}

/// The initiator's read path with fixed keys: the input is the ServerHello.
pub fn noise_initiator(data: &[u8]) {
    let (state, _) = Initiator::start(fixed(0x11));
    let trust = TrustRoot::new(fixed(0x55).public);
    if let Ok(state) = state.read_server_hello(data, &trust, 1_800_000_000) {
        let _ = state.write_client_finish(&fixed(0x22), &[0x08, 0x01]);
    }
}
