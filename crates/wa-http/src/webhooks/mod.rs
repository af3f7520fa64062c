//! Webhooks (CONTRACTS §B.6): the gateway's events delivered to each user's URL and the global
//! one, in wuzapi's shapes.
//!
//! - `types`: the subscription filter, the encoding, the configuration;
//! - `message`, `events`: [`wa_client::EventKind`] → wuzapi's `{"type", "event", …}` payload;
//! - `status_event`: our `MessageStatus` type (every status change of a sent message);
//! - `format`: the form (default) or JSON body; `sign`: `x-hmac-signature`;
//! - `queue`: the durable queue (store first, then POST with retries and backoff, in order per
//!   receiver, dead letters); `deadletter`: the admin routes that list and replay them;
//! - `ssrf`: the guard on receiver addresses; `alerts`: the `Alert` webhook;
//! - `wwebjs`: the whatsapp-web.js dialect's callbacks (`BASE_WEBHOOK_URL`, CONTRACTS §C.5),
//!   through the same durable queue;
//! - `worker`: events → deliveries → queue, and alerts;
//! - `media_delivery`: received files downloaded and added to the `Message` payload (base64,
//!   object storage), `media_lanes`: the per-chat order while downloads run.

pub mod alerts;
pub(crate) mod deadletter;
pub mod events;
pub mod format;
pub mod media_delivery;
mod media_lanes;
pub mod message;
pub mod queue;
pub mod recent;
pub mod sign;
pub mod ssrf;
pub mod status_event;
pub mod types;
mod worker;
pub mod wwebjs;

pub use queue::WebhookQueue;
pub use types::{AlertConfig, Format, InboundMediaConfig, RetryPolicy, WebhookConfig};
pub use worker::{spawn, Webhooks};
pub use wwebjs::WwebjsHooks;
