//! # wa-protocol
//!
//! The WhatsApp Web multi-device protocol as pure functions and state machines: bytes, time and
//! randomness go in; bytes, events and deadlines come out. No sockets, no async runtime, no clock
//! and no global RNG live here (`tests/sans_io.rs` proves the dependency tree), so every protocol
//! test is deterministic and the same code serves the gateway (client roles) and wa-sim (server
//! roles).
//!
//! ```text
//!  WebSocket bytes ─▶ noise::FrameDecoder ─▶ noise::TransportCipher::open ─▶ binary::unmarshal ─▶ Node
//!  Node ─▶ binary::marshal ─▶ TransportCipher::seal ─▶ noise::encode_frame ─▶ WebSocket bytes
//!  handshake: noise::Initiator / noise::Responder typestates, certificate chain checked against an
//!  injected noise::TrustRoot; payloads are pb::payload::ClientPayload protobufs.
//! ```
//!
//! Modules: [`binary`] (node codec, JIDs, token tables generated from `data/tokens.json`),
//! [`noise`] (handshake, certificates, framing, transport cipher), [`pb`] (generated protobuf),
//! [`signal`] (Curve25519 keys and XEdDSA), [`stanza`] (typed stanza builders and parsers), [`payload`] (ClientPayload builders and checks),
//! [`pairing`] (QR and pair-code linking, ADV identities, both roles), [`connection`] (the
//! per-connection state machine: handshake, login, pairing, keepalive, IQs), [`message`] (the
//! E2E plaintext: typed content, own-device copy, padding), [`media`] (media keys, streaming
//! encryption and verified decryption, sidecar, upload token), [`fuzzing`] (entry points shared by the fuzz targets and the corpus replay test).

#![forbid(unsafe_code)]

pub mod binary;
pub mod connection;
mod error;
mod fault;
pub mod fuzzing;
pub mod ids;
pub mod media;
pub mod message;
pub mod noise;
pub mod pairing;
pub mod payload;
pub mod pb;
pub mod signal;
pub mod stanza;
pub mod time;

pub use error::Error;
pub use fault::Fault;
pub use ids::{IdError, MessageId, PhoneNumber};
pub use time::{Clock, Millis};
