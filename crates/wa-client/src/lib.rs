//! # wa-client
//!
//! The tokio driver of wagate. It owns sockets, clocks, randomness and the store, and feeds them
//! to the sans-IO `wa-protocol`; it holds no protocol rules of its own.
//!
//! ```text
//!  Registry ── one task per account ──▶ AccountTask: WebSocket (tokio-tungstenite)
//!     │ restore(): autostart accounts        ⇄ wa_protocol::connection::Connection
//!     │ event bus (broadcast)                ⇄ wa-store (device identity, prekeys; durable
//!     ▼                                        before the bytes that depend on it leave)
//!  AccountHandle: commands (pair by phone, IQ, send, logout, shutdown)
//! ```
//!
//! [`connect`] is the lower-level pipe (WebSocket + Noise + nodes) used by tools and tests.

mod account;
mod proxy;
mod registry;
mod socket;

pub use account::{spawn_account, AccountHandle, Backoff, ClientConfig, ClientEvent};
pub use proxy::{Proxy, ProxyKind};
pub use registry::Registry;
pub use socket::{
    connect, open_websocket, ClientError, ConnectOptions, NoiseSocket, Ws, PRODUCTION_URL,
};
