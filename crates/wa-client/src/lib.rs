//! # wa-client
//!
//! The tokio driver of wagate. It owns sockets, clocks, randomness and the store, and feeds them
//! to the sans-IO `wa-protocol`; it holds no protocol rules of its own.
//!
//! ```text
//!  Gateway (facade: create, link, connect, disconnect, logout, status, subscribe)
//!     └─ Registry ── one task per account ──▶ AccountTask (account.rs): reconnect with backoff
//!          │ restore(): autostart accounts        └─ drive() (driver.rs): WebSocket ⇄ Connection
//!          │ event bus (broadcast of Event)            └─ Pipeline (persist.rs): store writes off
//!          ▼                                              the loop, durable before the bytes
//!  AccountHandle: commands, Status (watch)                that depend on them leave
//! ```
//!
//! [`open_websocket`] is the lower-level WebSocket (with WhatsApp Web's `Origin`, optional proxy)
//! the account task and wa-testkit's raw client open.

mod account;
mod command;
mod config;
mod contacts_api;
mod context;
mod driver;
mod driver_after;
mod error;
mod event;
mod gateway;
mod group_api;
mod group_topic_api;
mod handle;
mod history_api;
mod kicks;
mod media_api;
mod media_config;
mod media_prepare;
mod media_retry_api;
mod media_send_api;
mod messaging;
mod metrics;
mod persist;
mod persist_wait;
mod protocol_events;
mod proxy;
mod records;
mod recover;
mod registry;
mod report_api;
mod reports;
mod send_api;
mod session_api;
mod socket;
mod status;
mod tls;
mod user_api;

pub use account::spawn_account;
pub use config::{Backoff, ClientConfig, ReportAcks};
pub use error::{Error, Fault};
pub use event::{Event, EventKind};
pub use gateway::{Gateway, NewAccount};
pub use handle::AccountHandle;
pub use media_api::OutgoingMedia;
pub use media_config::MediaConfig;
pub use media_prepare::{detect_mimetype, MediaClass, MediaLimits, MediaRejected, MediaRequest};
pub use media_retry_api::MediaOrigin;
pub use messaging::media::{DownloadedMedia, MediaFailure, MediaSource, UploadedMedia};
pub use messaging::types::{
    GroupMember, GroupUpdate, ReceivedText, SendOptions, Sender, SentMessage,
};
pub use metrics::{ClientMetrics, SendFailure};
pub use proxy::{Proxy, ProxyKind};
pub use reports::ack_report;
pub use socket::{open_websocket, Ws, PRODUCTION_URL};
pub use status::{FailReason, QrCode, SessionState, Status};
pub use tls::{https_client_config, install_crypto_provider};
pub use user_api::UserLookup;
pub use wa_protocol::stanza::{GroupInfo, GroupParticipant, ParticipantAction, ParticipantRole};
