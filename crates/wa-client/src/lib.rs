//! # wa-client
//!
//! The tokio driver of wagate. It owns sockets, clocks and randomness and feeds them to the
//! sans-IO `wa-protocol`; it holds no protocol rules of its own.
//!
//! ```text
//!  WebSocket (tokio-tungstenite) ⇄ NoiseSocket ⇄ wa_protocol::noise::{Initiator, FramedTransport}
//!                                      │ nodes
//!                                      ▼
//!                    (later) per-account task: Connection state machine, wa-store, event bus
//! ```
//!
//! This first stage connects and authenticates: [`connect`] opens the WebSocket, runs the Noise
//! XX handshake (verifying the server's certificate chain against the configured trust root) and
//! returns a [`NoiseSocket`] that sends and receives binary nodes.

mod socket;

pub use socket::{connect, ClientError, ConnectOptions, NoiseSocket};
