//! The durable webhook queue (issue 12 item 1): every delivery is first written to the store
//! (tree `webhook_queue`, a buffered write whose durability rides on the store's next shared
//! sync), then POSTed by its receiver's task; it leaves the store only after a 2xx. A failure
//! is retried with wuzapi's backoff ([`RetryPolicy`]); after the last attempt the delivery
//! joins the dead-letter list (tree `webhook_dead`), which an admin lists and replays.
//!
//! ```text
//! enqueue ─ seq ─ store (buffered) ─▶ receiver task (one per URL) ─▶ POST ×concurrency ─ 2xx ─▶ remove
//!                                         ▲ boot: the queue is drained      └─ failure ─▶ backoff ─▶ … ─▶ dead letters
//! ```
//!
//! Order: each receiver's deliveries go out in seq order, and a failing head blocks the ones
//! behind it (head-of-line, so nothing overtakes it). While a receiver is down, every delivery
//! waiting for it counts each failed attempt of the head as one of its own: a receiver down for
//! the whole retry window sends its whole backlog to the dead letters at once, and a delivery
//! queued later gets its own `attempts` tries. Each receiver has its own task, so a slow or dead
//! receiver holds up neither the sending path (which only writes to the store) nor the others.
//!
//! Seqs start above both trees' highest and above the boot time in microseconds, so a
//! dead letter's id is not reused by a later run.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use wa_store::{AccountId, Durability, Store, WebhookDelivery};

use super::recent::{Attempt, RecentDeliveries};
use super::sign::SIGNATURE_HEADER;
use super::ssrf::{check_literal, redirect_policy, GuardedResolver};
use super::types::{RetryPolicy, WebhookConfig, ALERT, WWEBJS_KIND};

const B: Durability = Durability::Buffered;

/// A delivery to queue: the encoded, signed body and where it goes.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The receiver URL.
    pub receiver: String,
    /// The account whose event it is (`None` for a gateway-wide alert).
    pub account: Option<AccountId>,
    /// The wuzapi `type`.
    pub kind: String,
    /// The body's `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
    /// The `x-hmac-signature` value, when signed.
    pub signature: Option<String>,
}

/// Deliveries a receiver gave up on at once (what a dead-letter alert reports).
#[derive(Debug, Clone)]
pub struct Buried {
    /// The receiver's host (never the whole URL: it may carry credentials).
    pub receiver: String,
    /// The account of the first one.
    pub account: Option<AccountId>,
    /// How many.
    pub count: usize,
    /// Whether every one of them was itself an alert (no alert about those: a dead global
    /// receiver would otherwise feed itself).
    pub only_alerts: bool,
    /// The dead-letter list's length after them.
    pub total: usize,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The dead letters queued again: (old id, new id).
    pub queued: Vec<(u64, u64)>,
    /// The ids asked for that are not dead letters.
    pub missing: Vec<u64>,
}

/// What every receiver task shares.
struct Shared {
    store: Arc<dyn Store>,
    /// Each session's last attempts (the dashboard's session page).
    recent: RecentDeliveries,
    http: reqwest::Client,
    retry: RetryPolicy,
    concurrency: usize,
    allow_private: bool,
    /// `x-api-key` for whatsapp-web.js callbacks ([`WWEBJS_KIND`]), from the configuration.
    api_key: Option<String>,
    dead: AtomicUsize,
    queued: AtomicUsize,
    buried: mpsc::UnboundedSender<Buried>,
    /// Wakes the syncer: a delivery was queued (buffered) and should become durable soon.
    sync: Arc<Notify>,
}

/// The next seq and the receivers' task inboxes, under one lock so a receiver's inbox order is
/// seq order.
struct Routing {
    next_seq: u64,
    inboxes: HashMap<String, mpsc::UnboundedSender<WebhookDelivery>>,
}

/// The queue (one per process; cheap to share behind an `Arc`).
pub struct WebhookQueue {
    shared: Arc<Shared>,
    routing: Mutex<Routing>,
}

impl std::fmt::Debug for WebhookQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookQueue")
            .field("dead", &self.dead_count())
            .finish_non_exhaustive()
    }
}

/// Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The receiver's host (URLs are not logged whole: they may carry credentials).
pub(crate) fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "(invalid URL)".to_owned())
}

/// The receivers' client: `http` and `https` URLs (TLS with ring and the webpki roots,
/// `wa_client::https_client_config`).
fn client(config: &WebhookConfig) -> reqwest::Client {
    wa_client::install_crypto_provider();
    let mut builder = reqwest::Client::builder();
    match wa_client::https_client_config(&[]) {
        Ok(tls) => builder = builder.tls_backend_preconfigured(tls),
        Err(error) => tracing::warn!(%error, "webhook HTTP client: default TLS settings"),
    }
    builder
        .timeout(config.timeout)
        .dns_resolver(GuardedResolver {
            allow_private: config.allow_private,
        })
        .redirect(redirect_policy(config.allow_private))
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "webhook HTTP client: using the defaults");
            reqwest::Client::new()
        })
}

impl WebhookQueue {
    /// Opens the queue over `store` (inside a tokio runtime: it starts the receivers' tasks)
    /// and drains what an earlier run left queued (each receiver
    /// gets its deliveries again, in order). Returns the queue and the stream of
    /// [`Buried`] notices (for alerts).
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn open(
        store: Arc<dyn Store>,
        config: &WebhookConfig,
    ) -> Result<(Arc<Self>, mpsc::UnboundedReceiver<Buried>), wa_store::Error> {
        // Read once at boot, before anything else uses the queue.
        let queued = store.webhook_queued(usize::MAX)?;
        let dead = store.webhook_dead_letters(usize::MAX)?.len();
        let max = store.webhook_max_seq()?;
        let (buried, notices) = mpsc::unbounded_channel();
        let sync = Arc::new(Notify::new());
        tokio::spawn(syncer(Arc::clone(&store), Arc::clone(&sync)));
        let shared = Arc::new(Shared {
            store,
            recent: RecentDeliveries::default(),
            http: client(config),
            retry: config.retry,
            concurrency: config.concurrency.max(1),
            allow_private: config.allow_private,
            api_key: config.wwebjs.api_key.clone(),
            dead: AtomicUsize::new(dead),
            queued: AtomicUsize::new(0),
            buried,
            sync,
        });
        let boot_us = now_ms().saturating_mul(1000);
        let queue = Arc::new(Self {
            shared,
            routing: Mutex::new(Routing {
                next_seq: max.saturating_add(1).max(boot_us),
                inboxes: HashMap::new(),
            }),
        });
        if !queued.is_empty() {
            tracing::info!(
                deliveries = queued.len(),
                "webhook queue: draining what is left"
            );
        }
        {
            let mut routing = queue.lock();
            for d in queued {
                queue.route(&mut routing, d);
            }
        }
        Ok((queue, notices))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routing> {
        self.routing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `d` to its receiver's task (started on first use).
    fn route(&self, routing: &mut Routing, d: WebhookDelivery) {
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        let inbox = routing
            .inboxes
            .entry(d.receiver.clone())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(receiver(Arc::clone(&self.shared), rx));
                tx
            });
        if let Err(mpsc::error::SendError(d)) = inbox.send(d) {
            // The task ended (a panic): it stays queued in the store for the next start.
            tracing::error!(receiver = %host(&d.receiver), seq = d.seq, "webhook receiver task gone");
        }
    }

    /// Queues a delivery: a buffered store write (durable with the next shared sync), then its
    /// receiver's task sends it. Returns its seq.
    ///
    /// # Errors
    /// The store refused the write (nothing is queued).
    pub fn enqueue(&self, new: NewDelivery) -> Result<u64, wa_store::Error> {
        let now = now_ms();
        let mut routing = self.lock();
        let seq = routing.next_seq;
        let d = WebhookDelivery {
            seq,
            receiver: new.receiver,
            account: new.account,
            kind: new.kind,
            content_type: new.content_type,
            body: new.body,
            signature: new.signature,
            attempts: 0,
            next_attempt_ms: now,
            enqueued_ms: now,
            last_error: String::new(),
        };
        self.shared.store.webhook_put(&d, B)?;
        self.shared.sync.notify_one();
        routing.next_seq += 1;
        self.route(&mut routing, d);
        Ok(seq)
    }

    /// Up to `limit` dead letters, oldest first.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<WebhookDelivery>, wa_store::Error> {
        self.shared.store.webhook_dead_letters(limit)
    }

    /// How many dead letters there are.
    pub fn dead_count(&self) -> usize {
        self.shared.dead.load(Ordering::Relaxed)
    }

    /// How many deliveries wait to be sent (retries included).
    pub fn queued_count(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Queues the dead letters `ids` again (all of them with `None`), each at the end of its
    /// receiver's queue with fresh attempts.
    ///
    /// # Errors
    /// The store failed (what was replayed before stays replayed).
    pub fn replay(&self, ids: Option<&[u64]>) -> Result<Replayed, wa_store::Error> {
        let ids: Vec<u64> = match ids {
            Some(ids) => ids.to_vec(),
            None => self
                .dead_letters(usize::MAX)?
                .iter()
                .map(|d| d.seq)
                .collect(),
        };
        let mut out = Replayed::default();
        let mut routing = self.lock();
        for id in ids {
            let seq = routing.next_seq;
            match self.shared.store.webhook_replay(id, seq, now_ms(), B)? {
                Some(d) => {
                    routing.next_seq += 1;
                    self.shared.dead.fetch_sub(1, Ordering::Relaxed);
                    out.queued.push((id, seq));
                    self.route(&mut routing, d);
                }
                None => out.missing.push(id),
            }
        }
        self.shared.sync.notify_one();
        Ok(out)
    }

    /// The session's last delivery attempts (delivered or failed), newest first; in memory
    /// only, the last [`super::recent::PER_SESSION`].
    pub fn recent_deliveries(&self, account: &AccountId) -> Vec<Attempt> {
        self.shared.recent.of(account)
    }
}

/// Makes queued deliveries durable soon after they are written: one shared sync per wake-up
/// (deliveries queued during a sync wake it once more), never on the path that queues.
async fn syncer(store: Arc<dyn Store>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        if let Err(e) = store.durable().await {
            tracing::error!(error = %e, "webhook queue: the store cannot sync");
        }
    }
}

/// One receiver's task: its deliveries in seq order, `concurrency` at a time, the head retried
/// with backoff while it fails.
async fn receiver(shared: Arc<Shared>, mut inbox: mpsc::UnboundedReceiver<WebhookDelivery>) {
    let mut pending: VecDeque<WebhookDelivery> = VecDeque::new();
    let mut open = true;
    loop {
        while let Ok(d) = inbox.try_recv() {
            pending.push_back(d);
        }
        let Some(head) = pending.front() else {
            match inbox.recv().await {
                Some(d) => pending.push_back(d),
                None => return,
            }
            continue;
        };
        let wait = head.next_attempt_ms.saturating_sub(now_ms());
        if wait > 0 {
            let sleep = tokio::time::sleep(Duration::from_millis(wait));
            if open {
                tokio::select! {
                    () = sleep => {}
                    d = inbox.recv() => match d {
                        Some(d) => pending.push_back(d),
                        None => open = false,
                    },
                }
            } else {
                sleep.await;
            }
            continue;
        }
        let n = shared.concurrency.min(pending.len());
        let results =
            futures_util::future::join_all(pending.iter().take(n).map(|d| post(&shared, d))).await;
        settle(&shared, &mut pending, results);
    }
}

/// Applies a window's results: sent ones leave the store; on any failure every waiting
/// delivery counts one more attempt, those at the limit are buried, and the head waits out the
/// backoff.
fn settle(
    shared: &Shared,
    pending: &mut VecDeque<WebhookDelivery>,
    results: Vec<Result<(), String>>,
) {
    let mut failed = VecDeque::new();
    for (d, result) in pending.drain(..results.len()).zip(results) {
        match result {
            Ok(()) => {
                tracing::debug!(receiver = %host(&d.receiver), kind = %d.kind, seq = d.seq, "webhook delivered");
                shared.queued.fetch_sub(1, Ordering::Relaxed);
                if let Err(e) = shared.store.webhook_remove(d.seq, B) {
                    tracing::warn!(error = %e, seq = d.seq, "webhook queue: removing a sent delivery failed");
                }
            }
            Err(error) => {
                tracing::warn!(receiver = %host(&d.receiver), kind = %d.kind, seq = d.seq, attempt = d.attempts + 1, %error, "webhook delivery failed");
                let mut d = d;
                d.last_error = error;
                failed.push_back(d);
            }
        }
    }
    if failed.is_empty() {
        return;
    }
    let tried = failed.len();
    for d in pending.iter_mut() {
        d.last_error.clone_from(&failed[0].last_error);
    }
    failed.append(pending);
    let limit = shared.retry.attempts.max(1);
    let mut dead = Vec::new();
    for mut d in failed {
        d.attempts += 1;
        if d.attempts >= limit {
            dead.push(d);
        } else {
            pending.push_back(d);
        }
    }
    bury(shared, dead);
    let now = now_ms();
    let mut written = 0;
    for (i, d) in pending.iter_mut().enumerate() {
        if i == 0 {
            let backoff = shared.retry.backoff(d.attempts);
            d.next_attempt_ms = now + u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
        }
        // The attempted ones (and the head) are written; the followers' counts stay in memory.
        if i == 0 || written < tried {
            written += 1;
            if let Err(e) = shared.store.webhook_put(d, B) {
                tracing::warn!(error = %e, seq = d.seq, "webhook queue: recording an attempt failed");
            }
        }
    }
}

/// Moves deliveries that failed their last attempt to the dead letters and tells the alerts.
fn bury(shared: &Shared, dead: Vec<WebhookDelivery>) {
    let Some(first) = dead.first() else { return };
    let receiver = host(&first.receiver);
    let account = first.account;
    let only_alerts = dead.iter().all(|d| d.kind == ALERT);
    let mut count = 0;
    for d in &dead {
        match shared.store.webhook_bury(d, B) {
            Ok(true) => count += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, seq = d.seq, "webhook queue: burying a delivery failed")
            }
        }
    }
    shared.sync.notify_one();
    shared.queued.fetch_sub(dead.len(), Ordering::Relaxed);
    let total = shared.dead.fetch_add(count, Ordering::Relaxed) + count;
    tracing::warn!(receiver = %receiver, count, total, "webhook deliveries gave up after their last attempt: dead letters");
    let _ = shared.buried.send(Buried {
        receiver,
        account,
        count,
        only_alerts,
        total,
    });
}

/// What went wrong, with the causes (the resolver's SSRF refusal included), without the URL.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One POST, recorded among its session's last attempts.
async fn post(shared: &Shared, d: &WebhookDelivery) -> Result<(), String> {
    let outcome = post_once(shared, d).await;
    shared.recent.record(d, now_ms(), &outcome);
    outcome
}

/// One POST; `Err` with the reason unless the receiver answered 2xx.
async fn post_once(shared: &Shared, d: &WebhookDelivery) -> Result<(), String> {
    check_literal(&d.receiver, shared.allow_private).map_err(|e| e.to_string())?;
    let mut request = shared
        .http
        .post(&d.receiver)
        .header(reqwest::header::CONTENT_TYPE, d.content_type.as_str())
        .body(d.body.clone());
    if let Some(sig) = &d.signature {
        request = request.header(SIGNATURE_HEADER, sig);
    }
    if let (true, Some(key)) = (d.kind.starts_with(WWEBJS_KIND), &shared.api_key) {
        request = request.header(super::wwebjs::API_KEY_HEADER, key);
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(describe(e)),
    }
}
