//! # wa-sim: an open, simulated WhatsApp network
//!
//! wa-sim lets everything in wagate run, be demonstrated and be tested offline. It is a real
//! server on `127.0.0.1` speaking the same wire protocol as WhatsApp's (WebSocket, Noise XX with a
//! certificate chain, binary nodes), built on the same `wa-protocol` code as the gateway, so
//! independent clients such as Baileys keep both sides honest.
//!
//! ```text
//!  client ──WebSocket──▶ front door: intro, Noise responder (own root → intermediate → leaf),
//!                        ClientPayload checked ──▶ registration: pairing role (pair-device refs,
//!                        pair-success signed by the account's simulated phone, pair-device-sign
//!                        verified, 515) │ login: session role (<success>, prekey count/upload,
//!                        passive/active, digest, props, blocklist, privacy, app state, pings,
//!                        remove-companion-device)
//!  harness ──HTTP /admin/…──▶ accounts, the phone scans a QR, unlinks devices, faults, counters
//!  harness ──SimServer (Rust)──▶ the same operations in-process, plus an event stream
//! ```
//!
//! It validates what clients send (IQs without id/type/xmlns, malformed uploads, wrong keys at
//! login) and answers the way the real server would: error IQs, `<failure>`, stream errors.
//! Messaging, groups and media arrive with later issues (see `WA-SIM.md` in the design notes).

mod admin;
mod conn;
mod server;
mod world;

pub use server::{AccountInfo, ConnId, SimConfig, SimError, SimEvent, SimServer};
pub use world::{Counters, Faults};
