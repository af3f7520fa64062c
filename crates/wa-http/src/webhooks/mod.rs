//! Webhooks (CONTRACTS §B.6): the gateway's events delivered to each user's URL and the global
//! one, in wuzapi's shapes.
//!
//! - `types`: the subscription filter, the encoding, the configuration;
//! - `message`, `events`: [`wa_client::EventKind`] → wuzapi's `{"type", "event", …}` payload;
//! - `format`: the form (default) or JSON body; `sign`: `x-hmac-signature`;
//! - `wwebjs`: the whatsapp-web.js dialect's callbacks (`BASE_WEBHOOK_URL`, CONTRACTS §C.5);
//! - `worker`: the delivery (in memory, bounded, best effort). The next issue swaps its queue for
//!   a durable one with retries, dead letters and an SSRF guard; the rest stays.

pub mod events;
pub mod format;
pub mod message;
pub mod sign;
pub mod types;
mod worker;
pub mod wwebjs;

pub use types::{Format, WebhookConfig};
pub use worker::spawn;
pub use wwebjs::WwebjsHooks;
