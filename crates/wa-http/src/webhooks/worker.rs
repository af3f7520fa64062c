//! Delivery: one task reads the gateway's events, keeps those a user subscribed to, encodes and
//! signs them, and hands each to its receiver's queue; each receiver URL has a bounded queue and
//! at most `concurrency` POSTs in flight.
//!
//! ```text
//! Gateway::subscribe ─▶ run(): type ─ account (store) ─ filter ─ receipt chat (outbox) ─ payload ─┬─ user URL  ─▶ queue ─▶ POST ×N
//!                                                                                                 └─ global URL ─▶ queue ─▶ POST ×N
//! ```
//!
//! This queue is in memory and best effort: a full queue drops (with a warning), a failed POST is
//! logged and not retried, events sent while the process is down are lost. The next issue
//! replaces [`Receivers`] with a durable queue in the store (retries with wuzapi's backoff,
//! 5 attempts from 30 s, CONTRACTS §B.6 "Retries"; dead letters; an SSRF guard on the URLs; TLS
//! receivers), keeping `run`'s mapping and `format`/`sign` as they are.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use wa_client::{Event, EventKind};
use wa_store::Store;

use super::events::{payload, type_name, Context};
use super::format::{encode, Owner};
use super::sign::{signature, SIGNATURE_HEADER};
use super::types::{subscribed, WebhookConfig};

/// One POST to make.
#[derive(Debug)]
struct Delivery {
    url: String,
    content_type: &'static str,
    body: Vec<u8>,
    signature: Option<String>,
    kind: &'static str,
}

/// Starts the delivery of `events` (the gateway's bus) for the accounts of `store`. Ends when
/// the bus closes.
pub fn spawn(
    store: Arc<dyn Store>,
    events: tokio::sync::broadcast::Receiver<Event>,
    config: WebhookConfig,
) -> JoinHandle<()> {
    if config.global_url.is_some() && config.global_hmac_key.is_none() {
        tracing::warn!(
            "the global webhook is set without WUZAPI_GLOBAL_HMAC_KEY: it goes unsigned"
        );
    }
    tokio::spawn(run(store, events, config))
}

async fn run(
    store: Arc<dyn Store>,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    config: WebhookConfig,
) {
    let mut receivers = Receivers::new(&config);
    loop {
        match events.recv().await {
            Ok(event) => {
                for d in deliveries(&store, &config, &event) {
                    receivers.push(d);
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(dropped = n, "webhook delivery fell behind; events dropped");
            }
            Err(RecvError::Closed) => break,
        }
    }
}

/// What `event` must be delivered as, to whom (nothing when no webhook applies).
fn deliveries(store: &Arc<dyn Store>, config: &WebhookConfig, event: &Event) -> Vec<Delivery> {
    let Some(kind) = type_name(&event.kind) else {
        return Vec::new();
    };
    let Some(account) = read(store, event, |s| s.account(&event.account)).flatten() else {
        return Vec::new();
    };
    if !subscribed(&account.events, kind) {
        tracing::debug!(kind, "skipping webhook: not subscribed for this type");
        return Vec::new();
    }
    if account.webhook.trim().is_empty() && config.global_url.is_none() {
        return Vec::new();
    }
    // A receipt's chat, from the outbox.
    let receipt_chat = match &event.kind {
        EventKind::MessageStatus { id, .. } => read(store, event, |s| {
            s.outbox_entry(&event.account, id.as_str())
        })
        .flatten()
        .map(|e| e.chat),
        _ => None,
    };
    let own = account.jid.as_ref().map(|j| j.to_non_ad());
    let qr = match &event.kind {
        EventKind::Qr { code, .. } => Some(crate::qr::data_url(code)),
        _ => None,
    };
    let ctx = Context {
        own: own.as_ref(),
        receipt_chat: receipt_chat.as_ref(),
        qr_data_url: qr.as_deref(),
    };
    let Some(object) = payload(&event.kind, &ctx) else {
        return Vec::new();
    };
    let user_id = account.id.to_string();
    let owner = Owner {
        user_id: &user_id,
        instance_name: &account.name,
    };
    let encoded = encode(&object, owner, config.format);
    let mut out = Vec::new();
    if !account.webhook.trim().is_empty() {
        let key = account.hmac_key.as_ref().map(|k| k.expose().as_slice());
        out.push(Delivery {
            url: account.webhook.trim().to_owned(),
            content_type: encoded.content_type,
            signature: key.map(|k| signature(k, &encoded.body)),
            body: encoded.body.clone(),
            kind,
        });
    }
    if let Some(url) = &config.global_url {
        out.push(Delivery {
            url: url.clone(),
            content_type: encoded.content_type,
            signature: config
                .global_hmac_key
                .as_deref()
                .map(|k| signature(k, &encoded.body)),
            body: encoded.body,
            kind,
        });
    }
    out
}

/// A point read for `event` (logged when it fails). Inline on the task: two small hot records
/// per event; a blocking-pool hop per event cost more than the reads (HTTP benchmark).
fn read<T>(
    store: &Arc<dyn Store>,
    event: &Event,
    f: impl FnOnce(&dyn Store) -> wa_store::Result<T>,
) -> Option<T> {
    match f(store.as_ref()) {
        Ok(found) => Some(found),
        Err(e) => {
            tracing::warn!(account = %event.account, error = %e, "webhook: reading the store failed");
            None
        }
    }
}

/// The receivers' queues, one per URL (created on first use).
struct Receivers {
    http: reqwest::Client,
    concurrency: usize,
    queue: usize,
    queues: HashMap<String, mpsc::Sender<Delivery>>,
}

impl Receivers {
    fn new(config: &WebhookConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "webhook HTTP client: using the defaults");
                reqwest::Client::new()
            });
        Self {
            http,
            concurrency: config.concurrency.max(1),
            queue: config.queue.max(1),
            queues: HashMap::new(),
        }
    }

    fn push(&mut self, d: Delivery) {
        let sender = self.queues.entry(d.url.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(self.queue);
            tokio::spawn(receiver(self.http.clone(), rx, self.concurrency));
            tx
        });
        match sender.try_send(d) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(d)) => {
                tracing::warn!(receiver = %host(&d.url), kind = d.kind, "webhook queue full; event dropped");
            }
            Err(mpsc::error::TrySendError::Closed(d)) => {
                tracing::warn!(receiver = %host(&d.url), kind = d.kind, "webhook receiver stopped; event dropped");
            }
        }
    }
}

/// One receiver: up to `concurrency` POSTs at once, in arrival order of their start.
async fn receiver(http: reqwest::Client, mut rx: mpsc::Receiver<Delivery>, concurrency: usize) {
    let slots = Arc::new(Semaphore::new(concurrency));
    while let Some(d) = rx.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let http = http.clone();
        tokio::spawn(async move {
            post(&http, d).await;
            drop(slot);
        });
    }
}

/// The receiver's host (URLs are not logged whole: they may carry credentials).
fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "(invalid URL)".to_owned())
}

async fn post(http: &reqwest::Client, d: Delivery) {
    let mut request = http
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, d.content_type)
        .body(d.body);
    if let Some(sig) = &d.signature {
        request = request.header(SIGNATURE_HEADER, sig);
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => {
            tracing::debug!(receiver = %host(&d.url), kind = d.kind, "webhook delivered");
        }
        Ok(r) => tracing::warn!(
            receiver = %host(&d.url),
            kind = d.kind,
            status = r.status().as_u16(),
            "webhook refused"
        ),
        Err(e) => tracing::warn!(
            receiver = %host(&d.url),
            kind = d.kind,
            error = %e.without_url(),
            "webhook delivery failed"
        ),
    }
}
