//! # wa-testkit: what wagate's tests share
//!
//! A dev-only crate (never a normal dependency) in the manner of h2's `h2-support`: the pieces
//! every end-to-end test needs, written once.
//!
//! - [`wait_for`]: the next matching event of a stream ([`EventSource`]: broadcast and mpsc
//!   receivers, wa-sim's [`SimEvent`](wa_sim::SimEvent) stream, one account's client events)
//!   within a deadline. Tests wait on events; they never sleep.
//! - [`temp_dir`]: a temporary directory removed when dropped.
//! - [`SimOptions`] / [`start_sim`]: a wa-sim on `127.0.0.1` with the test configuration and
//!   the accounts (phones) a test needs, in one call.
//! - [`Linked`]: a sim, a store and a gateway account linked by QR (the sim's phone scans) and
//!   connected; [`client_config`], [`new_account`] and [`AccountEvents`] are its parts.
//! - [`raw`]: a raw Noise client to speak stanzas to a server directly, with an injected RNG.
//! - [`fuzz_json`]: arbitrary request bodies and the routes of an OpenAPI document, for the
//!   HTTP API's property tests.
//! - [`JsonLines`]: a Node.js peer (or a test-only binary) reporting JSON lines, waited on like
//!   any other stream, and sent commands as JSON lines.
//!
//! Helpers that set up a fixture panic on failure (a test cannot go on without it); helpers
//! that wait or connect return [`Error`] so a test can assert on the failure itself.

mod client;
mod dir;
mod error;
pub mod fuzz_json;
pub mod http;
mod linked;
mod peer;
pub mod raw;
mod served;
mod sim;
mod wait;

pub use client::{client_config, new_account, AccountEvents};
pub use dir::temp_dir;
pub use error::Error;
pub use linked::Linked;
pub use peer::JsonLines;
pub use served::{Served, ADMIN_TOKEN};
pub use sim::{start_sim, SimOptions};
pub use wait::{wait_for, EventSource, DEADLINE};
