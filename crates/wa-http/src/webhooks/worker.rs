//! Delivery: one task reads the gateway's events, keeps those a user subscribed to, encodes and
//! signs them, and queues one delivery per receiver in the durable queue ([`super::queue`]),
//! which sends them with retries; the same task raises alerts ([`super::alerts`]).
//!
//! ```text
//! Gateway::subscribe ─▶ run(): type ─ account (store) ─ filter ─ payload ─┬─ user URL  ─▶ WebhookQueue ─▶ POST
//!                        │                                                 └─ global URL ─▶ WebhookQueue ─▶ POST
//!                        └─ alerts (reconnects failing, dead letters) ──────── global URL ─▶ WebhookQueue ─▶ POST
//! ```
//!
//! The queue carries encoded bodies, so any event kind [`payload`] maps goes through it.
//!
//! A received media message whose file is fetched on arrival ([`super::media_delivery`]) is
//! delivered from its chat's lane ([`super::media_lanes`]), as is every later message of that
//! chat while the lane is busy: the reader goes on with other chats meanwhile, and a chat's
//! webhooks keep their order. The report is acked only after the deliveries are queued, so a
//! message whose download a SIGKILL interrupts is emitted again after the restart.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wa_client::{Event, EventKind, Gateway};
use wa_store::{Account, AccountId, Store};

use super::alerts::{on_buried, Alert, Alerts};
use super::events::{payload, type_name, Context};
use super::format::{encode, Owner};
use super::media_delivery::MediaDownloads;
use super::media_lanes::Lanes;
use super::queue::{Buried, NewDelivery, WebhookQueue};
use super::sign::signature;
use super::status_event;
use super::types::{subscribed, WebhookConfig, ALERT, WWEBJS_KIND};

/// The running delivery: the queue (for the dead-letter routes) and the task reading events.
#[derive(Debug)]
pub struct Webhooks {
    queue: Arc<WebhookQueue>,
    task: JoinHandle<()>,
}

impl Webhooks {
    /// The durable queue.
    pub fn queue(&self) -> Arc<WebhookQueue> {
        Arc::clone(&self.queue)
    }

    /// Stops reading events (what is queued stays in the store for the next start).
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Opens the durable queue (draining what an earlier run left) and starts the delivery of
/// `events` (the gateway's bus) for the accounts of `store`; received media is fetched through
/// `gateway` as `config.media` says ([`MediaDownloads`]). The task ends when the bus closes.
///
/// # Errors
/// The store's queue cannot be read.
pub fn spawn(
    store: Arc<dyn Store>,
    events: tokio::sync::broadcast::Receiver<Event>,
    config: WebhookConfig,
    gateway: Arc<Gateway>,
    objects: Arc<crate::objects::Objects>,
) -> Result<Webhooks, wa_store::Error> {
    if config.global_url.is_some() && config.global_hmac_key.is_none() {
        tracing::warn!(
            "the global webhook is set without WUZAPI_GLOBAL_HMAC_KEY: it goes unsigned"
        );
    }
    let (queue, buried) = WebhookQueue::open(Arc::clone(&store), &config)?;
    let shared = Arc::new(Shared {
        downloads: MediaDownloads::new(gateway, config.media.clone(), objects),
        store,
        queue: Arc::clone(&queue),
        config,
        lanes: Arc::new(Lanes::default()),
    });
    let task = tokio::spawn(run(shared, events, buried));
    Ok(Webhooks { queue, task })
}

/// What the reader and the chat lanes share.
struct Shared {
    store: Arc<dyn Store>,
    queue: Arc<WebhookQueue>,
    config: WebhookConfig,
    downloads: MediaDownloads,
    lanes: Arc<Lanes>,
}

async fn run(
    shared: Arc<Shared>,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    mut buried: mpsc::UnboundedReceiver<Buried>,
) {
    let (store, queue, config) = (&shared.store, &shared.queue, &shared.config);
    let mut alerts = Alerts::new(config.alerts);
    let mut tick = tokio::time::interval(alerts.tick_every());
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    if let Some(alert) = alerts.on_event(&event, Instant::now()) {
                        raise(store, queue, config, &alert).await;
                    }
                    dispatch(&shared, event).await;
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::error!(dropped = n, "webhook delivery fell behind the event bus; events dropped");
                }
                Err(RecvError::Closed) => break,
            },
            Some(b) = buried.recv() => {
                if let Some(alert) = on_buried(&b) {
                    raise(store, queue, config, &alert).await;
                }
            }
            _ = tick.tick() => {
                for alert in alerts.tick(Instant::now()) {
                    raise(store, queue, config, &alert).await;
                }
            }
        }
    }
}

/// Delivers `event` inline, or, for a message whose file is fetched first (or whose chat's
/// lane is busy), in its chat's lane ([`Lanes`]): the reader never waits for a download.
async fn dispatch(shared: &Arc<Shared>, event: Event) {
    if let EventKind::Message(m) = &event.kind {
        let key = (event.account, m.chat.to_string());
        if shared.downloads.fetches(m) || shared.lanes.is_busy(&key) {
            let lane = Arc::clone(shared);
            shared.lanes.push(
                key,
                Box::pin(async move {
                    let extras = media_extras(&lane, &event).await;
                    deliver(&lane, &event, &extras).await;
                }),
            );
            return;
        }
    }
    deliver(shared, &event, &Map::new()).await;
}

/// Queues `event`'s deliveries (`extras` added to its `Message` payload) and, once all are
/// queued, acks its report.
async fn deliver(shared: &Shared, event: &Event, extras: &Map<String, Value>) {
    let (store, queue, config) = (&shared.store, &shared.queue, &shared.config);
    let mut queued = true;
    for d in deliveries(store, config, event, extras).await {
        queued &= enqueue(queue, d);
    }
    for d in wwebjs_deliveries(store, config, event).await {
        queued &= enqueue(queue, d);
    }
    if queued {
        ack(store, event);
    }
}

/// The media extras of a received message (downloaded first) when a wuzapi receiver wants
/// its `Message` webhook; nothing otherwise.
async fn media_extras(shared: &Shared, event: &Event) -> Map<String, Value> {
    let EventKind::Message(m) = &event.kind else {
        return Map::new();
    };
    let Some(account) = account_of(&shared.store, event.account).await else {
        return Map::new();
    };
    let has_receiver = !account.webhook.trim().is_empty() || shared.config.global_url.is_some();
    if !has_receiver || !subscribed(&account.events, MESSAGE) {
        return Map::new();
    }
    let own = own_jid(&shared.store, &account);
    let from_me = super::message::from_me(m, own.as_ref());
    shared.downloads.extras(&account, m, from_me).await
}

/// Queues `d`; `false` when the store refused it (logged).
fn enqueue(queue: &WebhookQueue, d: NewDelivery) -> bool {
    let (kind, receiver) = (d.kind.clone(), super::queue::host(&d.receiver));
    match queue.enqueue(d) {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, %receiver, %kind, "webhook queue: the store refused a delivery");
            false
        }
    }
}

/// A received message's deliveries are all queued (or it needs none): its report is acked
/// (`wagate serve` runs the client with `ReportAcks::Consumer`), so a crash before this point
/// leaves it pending and the client emits it again after the restart (at-least-once). Both
/// writes are buffered in the store's one ordered log, the deliveries first: any sync that
/// makes the mark durable makes them durable too (`wa_client::ack_report`). Inline, like the
/// point reads in [`lookup`]: one small buffered write.
fn ack(store: &Arc<dyn Store>, event: &Event) {
    let EventKind::Message(m) = &event.kind else {
        return;
    };
    let Some(seq) = m.report else {
        return;
    };
    if let Err(e) = wa_client::ack_report(store.as_ref(), &event.account, seq) {
        tracing::error!(account = %event.account, seq, error = %e, "cannot ack a message report");
    }
}

/// Logs `alert` and queues it for the global webhook (when one is set).
async fn raise(
    store: &Arc<dyn Store>,
    queue: &WebhookQueue,
    config: &WebhookConfig,
    alert: &Alert,
) {
    let account = match alert.account() {
        Some(id) => account_of(store, id).await,
        None => None,
    };
    let name = account
        .as_ref()
        .map(|a| a.name.as_str())
        .unwrap_or_default();
    match alert {
        Alert::ReconnectFailing {
            account,
            attempts,
            seconds,
        } => tracing::warn!(
            session = %account, name, attempts, seconds, "alert: the session's recovery keeps failing"
        ),
        Alert::DeadLetters {
            receiver,
            new,
            total,
            ..
        } => tracing::warn!(
            %receiver, new, total, "alert: webhook deliveries joined the dead-letter list"
        ),
    }
    let Some(url) = &config.global_url else {
        return;
    };
    let user_id = alert.account().map(|a| a.to_string()).unwrap_or_default();
    let owner = Owner {
        user_id: &user_id,
        instance_name: name,
        token: None,
    };
    let encoded = encode(&alert.payload(name), owner, config.format);
    enqueue(
        queue,
        NewDelivery {
            receiver: url.clone(),
            account: alert.account(),
            kind: ALERT.to_owned(),
            content_type: encoded.content_type.to_owned(),
            signature: config
                .global_hmac_key
                .as_deref()
                .map(|k| signature(k, &encoded.body)),
            body: encoded.body,
        },
    );
}

async fn account_of(store: &Arc<dyn Store>, id: AccountId) -> Option<Account> {
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || store.account(&id)).await {
        Ok(Ok(found)) => found,
        _ => None,
    }
}

/// The wuzapi type of a received message.
const MESSAGE: &str = "Message";

/// What `event` must be delivered as, to whom (nothing when no webhook applies): its wuzapi
/// type, and for a status change also our `MessageStatus` (`status_event`). `extras` (the
/// received media, [`super::media_delivery`]) join the `Message` payload.
async fn deliveries(
    store: &Arc<dyn Store>,
    config: &WebhookConfig,
    event: &Event,
    extras: &Map<String, Value>,
) -> Vec<NewDelivery> {
    let kinds = [type_name(&event.kind), status_event::type_name(&event.kind)];
    if kinds.iter().all(Option::is_none) {
        return Vec::new();
    }
    let has_receiver = |a: &Account| !a.webhook.trim().is_empty() || config.global_url.is_some();
    let Some((account, receipt_chat)) = lookup(store, event, has_receiver) else {
        return Vec::new();
    };
    let own = own_jid(store, &account).map(|j| j.to_non_ad());
    let qr = match &event.kind {
        EventKind::Qr { code, .. } => Some(crate::qr::data_url(code)),
        _ => None,
    };
    let ctx = Context {
        own: own.as_ref(),
        receipt_chat: receipt_chat.as_ref(),
        qr_data_url: qr.as_deref(),
    };
    let mut out = Vec::new();
    for kind in kinds.into_iter().flatten() {
        if !subscribed(&account.events, kind) {
            tracing::debug!(kind, "skipping webhook: not subscribed for this type");
            continue;
        }
        let mut object = if kind == status_event::TYPE {
            status_event::payload(&event.kind, &ctx)
        } else {
            payload(&event.kind, &ctx)
        };
        if let (MESSAGE, Some(object)) = (kind, object.as_mut()) {
            object.extend(extras.clone());
        }
        if let Some(object) = object {
            out.extend(to_receivers(&account, config, kind, &object));
        }
    }
    out
}

/// One event's payload for the account's URL and the global one.
fn to_receivers(
    account: &Account,
    config: &WebhookConfig,
    kind: &'static str,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Vec<NewDelivery> {
    let user_id = account.id.to_string();
    let owner = Owner {
        user_id: &user_id,
        instance_name: &account.name,
        token: config
            .include_token
            .then_some(account.token.expose().as_str()),
    };
    let encoded = encode(object, owner, config.format);
    let mut out = Vec::new();
    if !account.webhook.trim().is_empty() {
        let key = account.hmac_key.as_ref().map(|k| k.expose().as_slice());
        out.push(NewDelivery {
            receiver: account.webhook.trim().to_owned(),
            account: Some(account.id),
            kind: kind.to_owned(),
            content_type: encoded.content_type.to_owned(),
            signature: key.map(|k| signature(k, &encoded.body)),
            body: encoded.body.clone(),
        });
    }
    if let Some(url) = &config.global_url {
        out.push(NewDelivery {
            receiver: url.clone(),
            account: Some(account.id),
            kind: kind.to_owned(),
            content_type: encoded.content_type.to_owned(),
            signature: config
                .global_hmac_key
                .as_deref()
                .map(|k| signature(k, &encoded.body)),
            body: encoded.body,
        });
    }
    out
}

/// The whatsapp-web.js callbacks of `event` ([`super::wwebjs`]), when a URL is configured:
/// JSON, unsigned, their kind prefixed [`WWEBJS_KIND`] (the queue adds `x-api-key` to those).
async fn wwebjs_deliveries(
    store: &Arc<dyn Store>,
    config: &WebhookConfig,
    event: &Event,
) -> Vec<NewDelivery> {
    let hooks = &config.wwebjs;
    if !hooks.enabled() || super::wwebjs::callbacks(&event.kind, &Default::default()).is_empty() {
        return Vec::new();
    }
    let Some((account, receipt_chat)) = lookup(store, event, |_| true) else {
        return Vec::new();
    };
    let own = own_jid(store, &account);
    let ctx = super::wwebjs::Context {
        own: own.as_ref(),
        receipt_chat: receipt_chat.as_ref(),
    };
    super::wwebjs::prepare(hooks, &account.name, &event.kind, &ctx)
        .into_iter()
        .map(|c| NewDelivery {
            receiver: c.url,
            account: Some(account.id),
            kind: format!("{WWEBJS_KIND}{}", c.data_type),
            content_type: "application/json".to_owned(),
            body: c.body,
            signature: None,
        })
        .collect()
}

/// Our own JID: the account record's, else the device record's (the account record's is not
/// kept up to date by the client; without it `IsFromMe` and the wwebjs `fromMe` would be wrong).
fn own_jid(store: &Arc<dyn Store>, account: &Account) -> Option<wa_protocol::binary::Jid> {
    if let Some(jid) = &account.jid {
        return Some(jid.clone());
    }
    match store.device(&account.id) {
        Ok(device) => device.and_then(|d| d.jid),
        Err(e) => {
            tracing::warn!(account = %account.id, error = %e, "webhook: reading the device failed");
            None
        }
    }
}

/// The event's account and, for a receipt, the chat of the message (from the outbox); `None`
/// when the account is gone or `wanted` says no receiver wants it (the outbox is then not
/// read). Inline point reads on the task: two small hot records; a blocking-pool hop per event
/// cost more than the reads (HTTP benchmark).
fn lookup(
    store: &Arc<dyn Store>,
    event: &Event,
    wanted: impl Fn(&Account) -> bool,
) -> Option<(Account, Option<wa_protocol::binary::Jid>)> {
    let read = || -> wa_store::Result<Option<(Account, Option<wa_protocol::binary::Jid>)>> {
        let Some(account) = store.account(&event.account)? else {
            return Ok(None);
        };
        if !wanted(&account) {
            return Ok(None);
        }
        let chat = match &event.kind {
            EventKind::MessageStatus { id, .. } => store
                .outbox_entry(&event.account, id.as_str())?
                .map(|e| e.chat),
            _ => None,
        };
        Ok(Some((account, chat)))
    };
    read().unwrap_or_else(|e| {
        tracing::warn!(account = %event.account, error = %e, "webhook: reading the store failed");
        None
    })
}
