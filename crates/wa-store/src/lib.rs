//! # wa-store
//!
//! The durable session store of wagate: device keys, Signal state, gateway accounts and the outbox,
//! kept in an embedded sled database under `wa_sessions/`.
//!
//! ```text
//! wa-client ──load/save──▶ Store (trait) ──▶ SledStore (one tree per record kind, versioned values)
//!                                      └──▶ MemStore  (tests, benchmarks)
//! ```
//!
//! This crate is at its beginning: the foundation issue only creates it. The store issue fills it
//! with the `Store` trait, both backends and their conformance suite.

/// Default data directory, relative to the working directory (what self-hosters knew as
/// `wa_sessions/`).
pub const DEFAULT_DATA_DIR: &str = "wa_sessions";
