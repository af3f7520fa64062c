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
//! - [`Served`]: the real `wagate serve` binary against a sim; `served_store` gives it linked
//!   ([`Served::link_account`]) or idle ([`Served::add_idle_account`]) accounts through its store.
//! - [`HookReceiver`]: a local webhook receiver (axum) handing each POST to the test.
//! - [`qr`]: reads back the gateway's QR PNGs / data URLs (the sim's phone scans them).
//! - [`session_flow`]: seed 002's flow over a served gateway (poll status, the sim's phone
//!   scans the QR or types the pair code).
//! - [`raw`]: a raw Noise client to speak stanzas to a server directly, with an injected RNG.
//! - [`poll_until`]: state another process only shows when asked (the served gateway's HTTP
//!   status), asked again at a short interval within a deadline.
//! - [`Wwebjs`]: the served gateway's whatsapp-web.js dialect, and linking a session through a
//!   sim phone.
//! - [`fuzz_json`]: arbitrary request bodies and the routes of an OpenAPI document, for the
//!   HTTP API's property tests.
//! - [`JsonLines`]: a Node.js peer (or a test-only binary) reporting JSON lines, waited on like
//!   any other stream, and sent commands as JSON lines.
//! - [`browser`]: a browser test's needs (the pinned npm packages of `tests/node/`, Debian's
//!   Chromium, a screenshot folder under `target/artifacts/`), installed when missing.
//!
//! Helpers that set up a fixture panic on failure (a test cannot go on without it); helpers
//! that wait or connect return [`Error`] so a test can assert on the failure itself.

pub mod browser;
mod client;
mod dir;
mod error;
pub mod fuzz_json;
mod hook;
pub mod http;
mod linked;
mod moto;
mod peer;
mod poll;
pub mod qr;
pub mod raw;
mod served;
mod served_secrets;
mod served_store;
pub mod session_flow;
mod sim;
mod wait;
mod wwebjs;

pub use client::{client_config, new_account, AccountEvents};
pub use dir::temp_dir;
pub use error::Error;
pub use hook::{Hook, HookReceiver};
pub use http::http_client;
pub use linked::Linked;
pub use moto::{ensure_moto, Moto, MOTO_REQUIREMENT};
pub use peer::JsonLines;
pub use poll::{poll_until, POLL_EVERY};
pub use served::{Served, ADMIN_TOKEN};
pub use served_store::ServedAccount;
pub use sim::{start_sim, SimOptions};
pub use wait::{wait_for, EventSource, DEADLINE};
pub use wwebjs::Wwebjs;
