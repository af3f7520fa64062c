//! Webhook deliveries (issue 12 item 1): what the durable webhook queue and its dead-letter
//! list hold. The body is stored encoded and signed, so the queue carries any event kind the
//! HTTP layer can encode, and a delivery sent after a restart is byte for byte the one queued.

use crate::types::account_id::AccountId;

/// One webhook delivery: queued (tree `webhook_queue`) or given up (tree `webhook_dead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its sequence number: unique across both trees, increasing in enqueue order (deliveries
    /// to one receiver go out in this order).
    pub seq: u64,
    /// The receiver URL.
    pub receiver: String,
    /// The account whose event it is (`None` for a gateway-wide alert).
    pub account: Option<AccountId>,
    /// The event's type name (wuzapi's `type`, e.g. `Message`, `Alert`).
    pub kind: String,
    /// The body's `Content-Type`.
    pub content_type: String,
    /// The body, exactly the bytes to POST.
    pub body: Vec<u8>,
    /// The `x-hmac-signature` header, when signed.
    pub signature: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (unix ms).
    pub next_attempt_ms: u64,
    /// When it was queued (unix ms).
    pub enqueued_ms: u64,
    /// Why the last attempt failed (empty before the first failure).
    pub last_error: String,
}
