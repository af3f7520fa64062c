//! # wa-sim: an open, simulated WhatsApp network
//!
//! wa-sim lets everything in wagate run, be demonstrated and be tested offline. It is a real
//! server on `127.0.0.1` speaking the same wire protocol as WhatsApp's (WebSocket, Noise XX with a
//! certificate chain, binary nodes), built on the same `wa-protocol` code as the gateway, so
//! independent clients such as Baileys keep both sides honest.
//!
//! ```text
//!  client ──WebSocket──▶ front door: intro, Noise responder (own root → intermediate → leaf),
//!                        ClientPayload checked (registration or login)  ──▶ SimEvent to the harness
//!                        then: frames ⇄ nodes (SimEvent::Stanza in, SimServer::send out)
//! ```
//!
//! Grows across issues: this first stage is the front door. Linking, routing, groups and media
//! come later (see `WA-SIM.md` in the design notes).

mod server;

pub use server::{ConnId, SimConfig, SimError, SimEvent, SimServer};
