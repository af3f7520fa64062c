//! The gateway facade: the functions `wagate link`, wa-http and the demo all call.
//!
//! ```text
//!  create_account ─▶ store (account record, token)
//!  connect / link_qr / link_phone ─▶ Registry::start ─▶ account task ─▶ events + status
//!  disconnect (keys stay, autostart off) · logout (unlink, keys wiped, autostart off)
//!  status (live snapshot, or the stored facts of a stopped account) · subscribe · restore
//! ```
//!
//! Every store call here runs on a blocking thread. Errors are [`Error`]s whose
//! [`Error::fault`] and [`Error::is_transient`] choose the HTTP status.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::OsRng;
use rand::RngCore;
use tokio::sync::broadcast;
use wa_protocol::binary::Jid;
use wa_protocol::message::Content;
use wa_protocol::stanza::{ChatStateKind, Receipt, MAX_RECEIPT_IDS};
use wa_protocol::{MessageId, PhoneNumber};
use wa_store::{Account, AccountId, Durability, MessageStatus, Store};

use crate::config::ClientConfig;
use crate::error::Error;
use crate::event::Event;
use crate::handle::AccountHandle;
use crate::messaging::media::hub::MediaHub;
use crate::messaging::types::{SendOptions, SentMessage};
use crate::messaging::{group_send, presence, send};
use crate::records::linked_ids;
use crate::registry::Registry;
use crate::status::Status;

/// How long [`Gateway::disconnect`] and [`Gateway::logout`] wait for the task to finish.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// A gateway account to create. Its `Debug` masks the token.
#[derive(Clone)]
pub struct NewAccount {
    /// Instance name.
    pub name: String,
    /// API token (unique across accounts).
    pub token: String,
    /// Connect at startup.
    pub autostart: bool,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("autostart", &self.autostart)
            .finish()
    }
}

impl NewAccount {
    /// An account named `name` with a fresh random token (48 hex) and autostart on.
    pub fn with_random_token(name: impl Into<String>) -> Self {
        let mut token = [0u8; 24];
        OsRng.fill_bytes(&mut token);
        Self {
            name: name.into(),
            token: token.iter().map(|b| format!("{b:02x}")).collect(),
            autostart: true,
        }
    }
}

/// Every account of one gateway process: one store, one event bus, one task per running
/// account.
#[derive(Debug)]
pub struct Gateway {
    registry: Registry,
    pub(crate) config: ClientConfig,
    /// Restarts by waiting sends (`recover.rs`).
    pub(crate) recovery: crate::kicks::Recovery,
    /// Media HTTP client and `media_conn` answers (`media_api.rs`).
    pub(crate) media: MediaHub,
}

impl Gateway {
    /// A gateway over `store`; nothing runs until [`Gateway::connect`] or
    /// [`Gateway::restore`].
    pub fn new(store: Arc<dyn Store>, config: ClientConfig) -> Self {
        Self {
            registry: Registry::new(store, config.clone()),
            media: MediaHub::new(config.media.extra_root_certs.clone()),
            config,
            recovery: Default::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.registry.store()
    }

    /// Now, on the gateway's clock.
    pub(crate) fn now(&self) -> wa_protocol::time::Millis {
        self.config.clock.now()
    }

    /// The counters of every account (issue 14 item 3; wa-http exposes them at `/metrics`).
    pub fn metrics(&self) -> &std::sync::Arc<crate::metrics::ClientMetrics> {
        self.registry.metrics()
    }

    /// Events of every account.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.registry.subscribe()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> wa_store::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let store = Arc::clone(self.store());
        Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await??)
    }

    /// Creates an account (durably) with a fresh id.
    pub async fn create_account(&self, new: NewAccount) -> Result<Account, Error> {
        let id = AccountId::generate(&mut OsRng);
        let mut account = Account::new(id, new.name, new.token, self.config.clock.now().0);
        account.autostart = new.autostart;
        let record = account.clone();
        self.blocking(move |s| s.create_account(&record, Durability::Durable))
            .await?;
        Ok(account)
    }

    /// The account record.
    pub async fn account(&self, id: &AccountId) -> Result<Account, Error> {
        let key = *id;
        self.blocking(move |s| s.account(&key))
            .await?
            .ok_or(Error::UnknownAccount(*id))
    }

    /// Whether the account has linked credentials (an error if it does not exist).
    async fn is_linked(&self, id: &AccountId) -> Result<bool, Error> {
        self.account(id).await?;
        let key = *id;
        let device = self.blocking(move |s| s.device(&key)).await?;
        Ok(device.is_some_and(|d| d.jid.is_some()))
    }

    /// Starts the account's session (or returns the running one): a linked account logs in,
    /// an unlinked one shows QR codes (as events and in [`Status::qr`]). The account's
    /// autostart flag is set (durably) before the session starts, so a session asked for
    /// comes back after a crash as soon as it is linked, even one that dies between its
    /// login and the login's own buffered writes (CONTRACTS §F; [`Gateway::restore`]).
    pub async fn connect(&self, id: &AccountId) -> Result<AccountHandle, Error> {
        self.set_autostart(id, true).await?;
        Ok(self.registry.start(id))
    }

    /// Links an unlinked account by QR code: starts it; the codes arrive as
    /// [`crate::EventKind::Qr`] events, each also in [`Status::qr`] until it expires.
    pub async fn link_qr(&self, id: &AccountId) -> Result<AccountHandle, Error> {
        if self.is_linked(id).await? {
            return Err(Error::AlreadyLinked(*id));
        }
        self.set_autostart(id, true).await?;
        Ok(self.registry.start(id))
    }

    /// Links an unlinked account by pair code for `phone`: starts it and asks for the code as
    /// soon as the registration connection is up; the code arrives as
    /// [`crate::EventKind::PairCode`] and in [`Status::pair_code`].
    pub async fn link_phone(
        &self,
        id: &AccountId,
        phone: &PhoneNumber,
    ) -> Result<AccountHandle, Error> {
        if self.is_linked(id).await? {
            return Err(Error::AlreadyLinked(*id));
        }
        self.set_autostart(id, true).await?;
        let handle = self.registry.start(id);
        if !handle.pair_phone(phone) {
            return Err(Error::NotRunning(*id));
        }
        Ok(handle)
    }

    /// Stops the session (keys stay) and clears autostart; waits until the task has ended.
    pub async fn disconnect(&self, id: &AccountId) -> Result<(), Error> {
        self.account(id).await?;
        if let Some(handle) = self.registry.get(id) {
            self.registry.stop(id);
            self.wait_stopped(&handle).await;
        }
        // After the task: a login finishing meanwhile would have set it again.
        self.set_autostart(id, false).await
    }

    /// Unlinks the running session from the phone and wipes its keys; clears autostart. Waits
    /// until the task has ended.
    pub async fn logout(&self, id: &AccountId) -> Result<(), Error> {
        let handle = self.registry.get(id).ok_or(Error::NotRunning(*id))?;
        if !handle.logout() {
            return Err(Error::NotRunning(*id));
        }
        self.wait_stopped(&handle).await;
        self.set_autostart(id, false).await
    }

    async fn wait_stopped(&self, handle: &AccountHandle) {
        if tokio::time::timeout(STOP_WAIT, handle.stopped())
            .await
            .is_err()
        {
            tracing::warn!(account = %handle.id(), "the session did not stop in time");
        }
    }

    async fn set_autostart(&self, id: &AccountId, on: bool) -> Result<(), Error> {
        let mut account = self.account(id).await?;
        if account.autostart == on {
            return Ok(());
        }
        account.autostart = on;
        account.updated_ms = self.config.clock.now().0;
        self.blocking(move |s| s.update_account(&account, Durability::Durable))
            .await
    }

    /// The session's status: live while its task runs (or as it ended), else the stored facts
    /// of a stopped account.
    pub async fn status(&self, id: &AccountId) -> Result<Status, Error> {
        if let Some(status) = self.registry.status(id) {
            return Ok(status);
        }
        self.account(id).await?;
        let key = *id;
        let device = self.blocking(move |s| s.device(&key)).await?;
        let (jid, lid) = device.as_ref().map(linked_ids).unwrap_or_default();
        Ok(Status::stopped(*id, jid, lid))
    }

    /// Sends `content` (any kind: text with a quoted reply and mentions, reaction, edit,
    /// revoke, location, contact) to the user `to` (a phone number's JID, or a LID) from
    /// account `id` (`messaging.md` §4–§8, §16): resolves once the server acknowledged it,
    /// with its timestamp; fails with [`Error::Rejected`] (the server's code, e.g. 463 without
    /// a privacy token; status `Failed`, never retried) or [`Error::Unconfirmed`] (no ack: the
    /// outbox entry is sent again, same id, after the next login). The id is
    /// `options.id` or a new one in WhatsApp's format. The ratchet step and the outbox entry
    /// are durable before the bytes leave. Many sends may be in flight at once.
    pub async fn send(
        &self,
        id: &AccountId,
        to: Jid,
        content: Content,
        options: SendOptions,
    ) -> Result<SentMessage, Error> {
        let started = std::time::Instant::now();
        let result = match self.registry.get(id) {
            None => Err(Error::NotRunning(*id)),
            Some(handle) => {
                let now = self.config.clock.now();
                if to.is_group() {
                    group_send::send_group(&handle, self.store(), now, to, content, options).await
                } else {
                    send::send(&handle, self.store(), now, to, content, options).await
                }
            }
        };
        self.registry.metrics().send_ended(started, &result);
        result
    }

    /// Sends `text` to the user `to`: [`Gateway::send`] with [`Content::text`] and a new id.
    pub async fn send_text(
        &self,
        id: &AccountId,
        to: Jid,
        text: impl Into<String>,
    ) -> Result<SentMessage, Error> {
        let content = Content::text(text.into());
        self.send(id, to, content, SendOptions::default()).await
    }

    /// Sends our presence (`available` / `unavailable`, with the push name) from account `id`.
    pub async fn set_presence(&self, id: &AccountId, available: bool) -> Result<(), Error> {
        let handle = self.registry.get(id).ok_or(Error::NotRunning(*id))?;
        presence::set_presence(&handle, self.store(), available).await
    }

    /// Shows `state` (composing, recording, paused) in chat `to` from account `id`.
    pub async fn send_chat_state(
        &self,
        id: &AccountId,
        to: Jid,
        state: ChatStateKind,
    ) -> Result<(), Error> {
        let handle = self.registry.get(id).ok_or(Error::NotRunning(*id))?;
        presence::send_chat_state(&handle, to, state)
    }

    /// Marks messages of `chat` read (`messaging.md` §10): one `<receipt type="read">` naming
    /// the first id and listing the rest; `sender` is the sending participant in a group.
    pub async fn mark_read(
        &self,
        id: &AccountId,
        chat: Jid,
        sender: Option<Jid>,
        ids: &[MessageId],
    ) -> Result<(), Error> {
        let handle = self.registry.get(id).ok_or(Error::NotRunning(*id))?;
        let t = self.config.clock.now().unix_secs();
        for chunk in ids.chunks(MAX_RECEIPT_IDS) {
            if let Some(receipt) = Receipt::read(chat.clone(), chunk, t, sender.clone(), false) {
                if !handle.send(receipt.to_node()) {
                    return Err(Error::NotRunning(*id));
                }
            }
        }
        Ok(())
    }

    /// The durable status of an outbound message.
    pub async fn message_status(
        &self,
        id: &AccountId,
        message: &MessageId,
    ) -> Result<MessageStatus, Error> {
        let key = *id;
        let m = message.as_str().to_owned();
        self.blocking(move |s| s.message_status(&key, &m))
            .await?
            .ok_or_else(|| Error::UnknownMessage(message.as_str().to_owned()))
    }

    /// The running handle of `id`, if any.
    pub fn handle(&self, id: &AccountId) -> Option<AccountHandle> {
        self.registry.get(id)
    }

    /// Starts every stored account whose `autostart` flag is set and that is linked; returns
    /// how many were started.
    pub async fn restore(&self) -> Result<usize, Error> {
        let accounts = self.blocking(|s| s.accounts()).await?;
        let mut started = 0;
        for account in accounts.into_iter().filter(|a| a.autostart) {
            if self.is_linked(&account.id).await? {
                self.registry.start(&account.id);
                started += 1;
            }
        }
        Ok(started)
    }

    /// Stops every account and waits (up to `timeout`) until each task has closed its socket
    /// and finished its last store write; returns how many did not stop in time.
    pub async fn shutdown(&self, timeout: Duration) -> usize {
        self.registry.shutdown_and_wait(timeout).await
    }
}
