//! Store work runs off the account's `select!` loop, and bytes that depend on persisted state
//! leave only once it is durable: a store wrapper holds the pairing write (and, separately, the
//! prekey write) until the test releases it. The pair-device-sign reply must not reach wa-sim
//! before the pairing is written; the prekey upload must not reach it before the prekeys are
//! written, while IQs and pings keep flowing over the same connection meanwhile.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use rand_core::CryptoRngCore;
use tokio::sync::{broadcast, mpsc};
use wa_client::{Event, EventKind, Gateway, SessionState};
use wa_protocol::binary::Jid;
use wa_protocol::ids::PhoneNumber;
use wa_protocol::signal::PublicKey;
use wa_protocol::stanza::{IqKind, IqRequest, IqResponse};
use wa_sim::{SimConfig, SimEvent, SimServer};
use wa_store::{
    Account, AccountId, BackupSummary, CheckReport, DeviceIdentity, DeviceList, Durability,
    DurableWait, Enqueued, IdentityChange, IncomingSession, LidChange, LidMapping, MemStore,
    MessageStatus, NewOutbound, OneTimePreKey, OutboxEntry, OutboxUpdate, PendingReport,
    PreKeyCounts, PrivacyToken, ReceiveOutcome, ReceivedKey, ReceivedMessage, Result, SendStep,
    SignedPreKey, StatusEvent, StatusOutcome, Store,
};
use wa_testkit::client_config;

const DEADLINE: Duration = Duration::from_secs(30);
const PHONE: &str = "15550107777";
/// How long the pairing write is held while the test watches the sim.
const HELD: Duration = Duration::from_millis(300);

/// Which write to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    Pairing,
    PreKeys,
}

/// A MemStore whose first pairing (or prekey) write blocks until released; `written` turns
/// true once the held write has completed.
struct SlowStore {
    inner: MemStore,
    hold: Hold,
    armed: AtomicBool,
    written: Arc<AtomicBool>,
    entered: mpsc::UnboundedSender<()>,
    release: Mutex<std_mpsc::Receiver<()>>,
}

impl SlowStore {
    /// Blocks (this is a blocking thread) until the test releases the write.
    fn held<T>(&self, what: Hold, write: impl FnOnce() -> Result<T>) -> Result<T> {
        if what != self.hold || !self.armed.swap(false, Ordering::SeqCst) {
            return write();
        }
        self.entered.send(()).expect("the test waits");
        let release = self.release.lock().expect("lock");
        release
            .recv_timeout(DEADLINE)
            .expect("the test releases the write");
        let out = write();
        self.written.store(true, Ordering::SeqCst);
        out
    }
}

impl Store for SlowStore {
    fn save_device(
        &self,
        account: &AccountId,
        device: &DeviceIdentity,
        d: Durability,
    ) -> Result<()> {
        if device.jid.is_none() {
            return self.inner.save_device(account, device, d);
        }
        self.held(Hold::Pairing, || self.inner.save_device(account, device, d))
    }
    fn add_prekeys(
        &self,
        account: &AccountId,
        count: u32,
        rng: &mut dyn CryptoRngCore,
        d: Durability,
    ) -> Result<Vec<(u32, PublicKey)>> {
        self.held(Hold::PreKeys, || {
            self.inner.add_prekeys(account, count, rng, d)
        })
    }
    fn device(&self, account: &AccountId) -> Result<Option<DeviceIdentity>> {
        self.inner.device(account)
    }
    fn save_identity(
        &self,
        account: &AccountId,
        address: &str,
        identity: &PublicKey,
        d: Durability,
    ) -> Result<IdentityChange> {
        self.inner.save_identity(account, address, identity, d)
    }
    fn identity(&self, account: &AccountId, address: &str) -> Result<Option<PublicKey>> {
        self.inner.identity(account, address)
    }
    fn load_session(&self, account: &AccountId, address: &str) -> Result<Option<Vec<u8>>> {
        self.inner.load_session(account, address)
    }
    fn save_session(
        &self,
        account: &AccountId,
        address: &str,
        record: &[u8],
        d: Durability,
    ) -> Result<()> {
        self.inner.save_session(account, address, record, d)
    }
    fn delete_session(&self, account: &AccountId, address: &str, d: Durability) -> Result<()> {
        self.inner.delete_session(account, address, d)
    }
    fn session_addresses(&self, account: &AccountId) -> Result<Vec<String>> {
        self.inner.session_addresses(account)
    }
    fn load_prekey(&self, account: &AccountId, id: u32) -> Result<Option<OneTimePreKey>> {
        self.inner.load_prekey(account, id)
    }
    fn prekeys_to_upload(&self, account: &AccountId, limit: usize) -> Result<Vec<OneTimePreKey>> {
        self.inner.prekeys_to_upload(account, limit)
    }
    fn mark_prekeys_uploaded(&self, account: &AccountId, ids: &[u32], d: Durability) -> Result<()> {
        self.inner.mark_prekeys_uploaded(account, ids, d)
    }
    fn prekey_counts(&self, account: &AccountId) -> Result<PreKeyCounts> {
        self.inner.prekey_counts(account)
    }
    fn remove_prekey(&self, account: &AccountId, id: u32, d: Durability) -> Result<()> {
        self.inner.remove_prekey(account, id, d)
    }
    fn save_signed_prekey(
        &self,
        account: &AccountId,
        key: &SignedPreKey,
        d: Durability,
    ) -> Result<()> {
        self.inner.save_signed_prekey(account, key, d)
    }
    fn load_signed_prekey(&self, account: &AccountId, id: u32) -> Result<Option<SignedPreKey>> {
        self.inner.load_signed_prekey(account, id)
    }
    fn remove_signed_prekey(&self, account: &AccountId, id: u32, d: Durability) -> Result<()> {
        self.inner.remove_signed_prekey(account, id, d)
    }
    fn load_sender_key(
        &self,
        account: &AccountId,
        group: &str,
        sender: &str,
    ) -> Result<Option<Vec<u8>>> {
        self.inner.load_sender_key(account, group, sender)
    }
    fn save_sender_key(
        &self,
        account: &AccountId,
        group: &str,
        sender: &str,
        record: &[u8],
        d: Durability,
    ) -> Result<()> {
        self.inner
            .save_sender_key(account, group, sender, record, d)
    }
    fn delete_sender_key(
        &self,
        account: &AccountId,
        group: &str,
        sender: &str,
        d: Durability,
    ) -> Result<()> {
        self.inner.delete_sender_key(account, group, sender, d)
    }
    fn commit_incoming(
        &self,
        account: &AccountId,
        incoming: &IncomingSession<'_>,
        d: Durability,
    ) -> Result<Option<IdentityChange>> {
        self.inner.commit_incoming(account, incoming, d)
    }
    fn commit_send(&self, account: &AccountId, step: &SendStep<'_>, d: Durability) -> Result<()> {
        self.inner.commit_send(account, step, d)
    }
    fn create_account(&self, account: &Account, d: Durability) -> Result<()> {
        self.inner.create_account(account, d)
    }
    fn update_account(&self, account: &Account, d: Durability) -> Result<()> {
        self.inner.update_account(account, d)
    }
    fn account(&self, id: &AccountId) -> Result<Option<Account>> {
        self.inner.account(id)
    }
    fn account_by_token(&self, token: &str) -> Result<Option<Account>> {
        self.inner.account_by_token(token)
    }
    fn accounts(&self) -> Result<Vec<Account>> {
        self.inner.accounts()
    }
    fn logout(&self, account: &AccountId, d: Durability) -> Result<()> {
        self.inner.logout(account, d)
    }
    fn delete_account(&self, account: &AccountId, d: Durability) -> Result<()> {
        self.inner.delete_account(account, d)
    }
    fn create_pool(&self, pool: &wa_store::Pool, d: Durability) -> Result<()> {
        self.inner.create_pool(pool, d)
    }
    fn update_pool(&self, pool: &wa_store::Pool, d: Durability) -> Result<()> {
        self.inner.update_pool(pool, d)
    }
    fn pool(&self, name: &str) -> Result<Option<wa_store::Pool>> {
        self.inner.pool(name)
    }
    fn pool_by_token(&self, token: &str) -> Result<Option<wa_store::Pool>> {
        self.inner.pool_by_token(token)
    }
    fn pools(&self) -> Result<Vec<wa_store::Pool>> {
        self.inner.pools()
    }
    fn delete_pool(&self, name: &str, d: Durability) -> Result<bool> {
        self.inner.delete_pool(name, d)
    }
    fn set_default_account(&self, account: Option<&AccountId>, d: Durability) -> Result<()> {
        self.inner.set_default_account(account, d)
    }
    fn default_account(&self) -> Result<Option<AccountId>> {
        self.inner.default_account()
    }
    fn enqueue(
        &self,
        account: &AccountId,
        message: &NewOutbound<'_>,
        d: Durability,
    ) -> Result<Enqueued> {
        self.inner.enqueue(account, message, d)
    }
    fn outbox_entry(&self, account: &AccountId, message_id: &str) -> Result<Option<OutboxEntry>> {
        self.inner.outbox_entry(account, message_id)
    }
    fn outbox_entries(&self, account: &AccountId) -> Result<Vec<OutboxEntry>> {
        self.inner.outbox_entries(account)
    }
    fn outbox_due(
        &self,
        account: &AccountId,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>> {
        self.inner.outbox_due(account, now_ms, limit)
    }
    fn update_outbox(
        &self,
        account: &AccountId,
        message_id: &str,
        update: OutboxUpdate,
        now_ms: u64,
        d: Durability,
    ) -> Result<OutboxEntry> {
        self.inner
            .update_outbox(account, message_id, update, now_ms, d)
    }
    fn remove_outbox(&self, account: &AccountId, message_id: &str, d: Durability) -> Result<bool> {
        self.inner.remove_outbox(account, message_id, d)
    }
    fn record_status(
        &self,
        account: &AccountId,
        message_id: &str,
        event: StatusEvent,
        now_ms: u64,
        d: Durability,
    ) -> Result<StatusOutcome> {
        self.inner
            .record_status(account, message_id, event, now_ms, d)
    }
    fn message_status(
        &self,
        account: &AccountId,
        message_id: &str,
    ) -> Result<Option<MessageStatus>> {
        self.inner.message_status(account, message_id)
    }
    fn status_timeline(
        &self,
        account: &AccountId,
        message_id: &str,
    ) -> Result<Option<wa_store::StatusTimeline>> {
        self.inner.status_timeline(account, message_id)
    }
    fn prune_status_log(
        &self,
        account: &AccountId,
        before_ms: u64,
        d: Durability,
    ) -> Result<usize> {
        self.inner.prune_status_log(account, before_ms, d)
    }
    fn commit_received(
        &self,
        account: &AccountId,
        message: &ReceivedMessage<'_>,
        d: Durability,
    ) -> Result<ReceiveOutcome> {
        self.inner.commit_received(account, message, d)
    }
    fn is_received(&self, account: &AccountId, key: &ReceivedKey<'_>) -> Result<bool> {
        self.inner.is_received(account, key)
    }
    fn expire_received(&self, account: &AccountId, before_ms: u64, d: Durability) -> Result<u64> {
        self.inner.expire_received(account, before_ms, d)
    }
    fn pending_reports(&self, account: &AccountId, limit: usize) -> Result<Vec<PendingReport>> {
        self.inner.pending_reports(account, limit)
    }
    fn mark_reported(&self, account: &AccountId, seq: u64, d: Durability) -> Result<bool> {
        self.inner.mark_reported(account, seq, d)
    }
    fn save_device_list(
        &self,
        account: &AccountId,
        list: &DeviceList,
        d: Durability,
    ) -> Result<()> {
        self.inner.save_device_list(account, list, d)
    }
    fn device_list(&self, account: &AccountId, user: &Jid) -> Result<Option<DeviceList>> {
        self.inner.device_list(account, user)
    }
    fn invalidate_device_list(
        &self,
        account: &AccountId,
        user: &Jid,
        d: Durability,
    ) -> Result<bool> {
        self.inner.invalidate_device_list(account, user, d)
    }
    fn save_lid_mapping(
        &self,
        account: &AccountId,
        mapping: &LidMapping,
        d: Durability,
    ) -> Result<LidChange> {
        self.inner.save_lid_mapping(account, mapping, d)
    }
    fn lid_for_pn(&self, account: &AccountId, pn: &PhoneNumber) -> Result<Option<LidMapping>> {
        self.inner.lid_for_pn(account, pn)
    }
    fn pn_for_lid(&self, account: &AccountId, lid: &Jid) -> Result<Option<LidMapping>> {
        self.inner.pn_for_lid(account, lid)
    }
    fn lid_mappings(&self, account: &AccountId) -> Result<Vec<LidMapping>> {
        self.inner.lid_mappings(account)
    }
    fn save_push_name(
        &self,
        account: &AccountId,
        name: &wa_store::PushName,
        d: Durability,
    ) -> Result<bool> {
        self.inner.save_push_name(account, name, d)
    }
    fn push_name(
        &self,
        account: &AccountId,
        pn: &PhoneNumber,
    ) -> Result<Option<wa_store::PushName>> {
        self.inner.push_name(account, pn)
    }
    fn push_names(&self, account: &AccountId) -> Result<Vec<wa_store::PushName>> {
        self.inner.push_names(account)
    }
    fn save_privacy_token(
        &self,
        account: &AccountId,
        lid: &Jid,
        token: &PrivacyToken,
        d: Durability,
    ) -> Result<bool> {
        self.inner.save_privacy_token(account, lid, token, d)
    }
    fn privacy_token(&self, account: &AccountId, lid: &Jid) -> Result<Option<PrivacyToken>> {
        self.inner.privacy_token(account, lid)
    }
    fn delete_privacy_token(&self, account: &AccountId, lid: &Jid, d: Durability) -> Result<()> {
        self.inner.delete_privacy_token(account, lid, d)
    }
    fn record_token_issued(
        &self,
        account: &AccountId,
        lid: &Jid,
        t_secs: u64,
        d: Durability,
    ) -> Result<()> {
        self.inner.record_token_issued(account, lid, t_secs, d)
    }
    fn token_issued(&self, account: &AccountId, lid: &Jid) -> Result<Option<u64>> {
        self.inner.token_issued(account, lid)
    }
    fn webhook_put(&self, delivery: &wa_store::WebhookDelivery, d: Durability) -> Result<()> {
        self.inner.webhook_put(delivery, d)
    }
    fn webhook_remove(&self, seq: u64, d: Durability) -> Result<bool> {
        self.inner.webhook_remove(seq, d)
    }
    fn webhook_queued(&self, limit: usize) -> Result<Vec<wa_store::WebhookDelivery>> {
        self.inner.webhook_queued(limit)
    }
    fn webhook_bury(&self, delivery: &wa_store::WebhookDelivery, d: Durability) -> Result<bool> {
        self.inner.webhook_bury(delivery, d)
    }
    fn webhook_dead_letters(&self, limit: usize) -> Result<Vec<wa_store::WebhookDelivery>> {
        self.inner.webhook_dead_letters(limit)
    }
    fn webhook_replay(
        &self,
        seq: u64,
        new_seq: u64,
        now_ms: u64,
        d: Durability,
    ) -> Result<Option<wa_store::WebhookDelivery>> {
        self.inner.webhook_replay(seq, new_seq, now_ms, d)
    }
    fn webhook_discard(&self, seq: u64, d: Durability) -> Result<bool> {
        self.inner.webhook_discard(seq, d)
    }
    fn webhook_max_seq(&self) -> Result<u64> {
        self.inner.webhook_max_seq()
    }
    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }
    fn durable(&self) -> DurableWait {
        self.inner.durable()
    }
    fn durable_within(&self, patience: std::time::Duration) -> DurableWait {
        self.inner.durable_within(patience)
    }
    fn check(&self) -> Result<CheckReport> {
        self.inner.check()
    }
    fn export(&self, account: Option<&AccountId>, path: &Path) -> Result<BackupSummary> {
        self.inner.export(account, path)
    }
    fn import(&self, path: &Path, d: Durability) -> Result<BackupSummary> {
        self.inner.import(path, d)
    }
}

struct Rig {
    sim: SimServer,
    gateway: Gateway,
    id: AccountId,
    events: broadcast::Receiver<Event>,
    sim_events: broadcast::Receiver<SimEvent>,
    entered: mpsc::UnboundedReceiver<()>,
    release: std_mpsc::Sender<()>,
    written: Arc<AtomicBool>,
}

async fn rig(hold: Hold) -> Rig {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    sim.create_account(&PHONE.parse().expect("a phone number"));
    let sim_events = sim.subscribe();
    let (entered_tx, entered) = mpsc::unbounded_channel();
    let (release, release_rx) = std_mpsc::channel();
    let written = Arc::new(AtomicBool::new(false));
    let store = SlowStore {
        inner: MemStore::new(),
        hold,
        armed: AtomicBool::new(true),
        written: Arc::clone(&written),
        entered: entered_tx,
        release: Mutex::new(release_rx),
    };
    let id = AccountId::from_bytes([hold as u8 + 1; 16]);
    store
        .create_account(
            &Account::new(id, "slow", format!("token-{hold:?}"), 0),
            Durability::Durable,
        )
        .expect("account");
    let config = client_config(&sim);
    let gateway = Gateway::new(Arc::new(store), config);
    let events = gateway.subscribe();
    Rig {
        sim,
        gateway,
        id,
        events,
        sim_events,
        entered,
        release,
        written,
    }
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {DEADLINE:?}"))
}

async fn next<T>(
    rx: &mut broadcast::Receiver<Event>,
    what: &str,
    mut pick: impl FnMut(&EventKind) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if let Some(t) = pick(&e.kind) {
                        return t;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus closed before {what}: {e}"),
            }
        }
    })
    .await
}

async fn sim_next<T>(
    rx: &mut broadcast::Receiver<SimEvent>,
    what: &str,
    mut pick: impl FnMut(&SimEvent) -> Option<T>,
) -> T {
    within(what, async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if let Some(t) = pick(&e) {
                        return t;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("sim events closed before {what}: {e}"),
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pair_reply_leaves_only_after_the_pairing_is_written() {
    let mut r = rig(Hold::Pairing).await;
    let handle = r.gateway.link_qr(&r.id).await.expect("starts");
    let qr = next(&mut r.events, "a QR code", |e| match e {
        EventKind::Qr { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await;
    let jid = r.sim.scan(PHONE, &qr).expect("the phone scans");
    within("the pairing write", r.entered.recv()).await;
    // The write is held: the loop still answers status and commands, the reply waits.
    let status = handle.status();
    assert_eq!(
        status.state,
        SessionState::AwaitingQr,
        "not paired before it is stored"
    );
    assert!(status.connected && !status.logged_in);
    let iq = tokio::spawn({
        let handle = handle.clone();
        async move { handle.iq(IqRequest::new("w:p", IqKind::Get, vec![])).await }
    });
    // The reply must not reach the sim while the write is held. The only bounded
    // wait of these tests: a reply sent early would be verified by the sim well within it.
    let early = tokio::time::timeout(HELD, async {
        loop {
            match r.sim_events.recv().await {
                Ok(SimEvent::Paired { .. }) => return "the pair-device-sign reply",
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return "the sim closing",
            }
        }
    })
    .await;
    if let Ok(what) = early {
        panic!("{what} reached the sim before the pairing was written");
    }
    r.release.send(()).expect("release");
    let written = Arc::clone(&r.written);
    sim_next(&mut r.sim_events, "the sim's Paired", |e| match e {
        SimEvent::Paired { jid: j, .. } if *j == jid => {
            assert!(written.load(Ordering::SeqCst), "reply before the write");
            Some(())
        }
        _ => None,
    })
    .await;
    let paired = next(&mut r.events, "Paired", |e| match e {
        EventKind::Paired { jid, .. } => Some(jid.clone()),
        _ => None,
    })
    .await;
    assert_eq!(paired, jid);
    // The IQ asked while the reply was held went out behind it, in order, and was answered
    // (or, at the 515 restart, failed cleanly): either way its asker was told.
    within("the IQ's outcome", iq).await.expect("IQ task");
    next(&mut r.events, "Connected", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    })
    .await;
    r.gateway.shutdown(DEADLINE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prekeys_are_written_before_their_upload_while_iqs_and_pings_still_flow() {
    let mut r = rig(Hold::PreKeys).await;
    let handle = r.gateway.link_qr(&r.id).await.expect("starts");
    let qr = next(&mut r.events, "a QR code", |e| match e {
        EventKind::Qr { code, .. } => Some(code.clone()),
        _ => None,
    })
    .await;
    let jid = r.sim.scan(PHONE, &qr).expect("the phone scans");
    let conn = sim_next(&mut r.sim_events, "login", |e| match e {
        SimEvent::LoggedIn { conn, jid: j } if *j == jid => Some(*conn),
        _ => None,
    })
    .await;
    within("the prekey write", r.entered.recv()).await;
    // The prekey write is held. The same connection still carries an IQ both ways...
    let answer = within(
        "an IQ answer while the prekeys are being written",
        handle.iq(IqRequest::new("w:p", IqKind::Get, vec![])),
    )
    .await;
    assert!(matches!(answer, Some(IqResponse::Result(_))), "{answer:?}");
    // ...and the client answers a server ping.
    assert!(r.sim.ping(conn));
    sim_next(&mut r.sim_events, "the ping's answer", |e| match e {
        SimEvent::Stanza { conn: c, node }
            if *c == conn && node.attr_str("type") == Some("result") =>
        {
            Some(())
        }
        SimEvent::PreKeysUploaded { .. } => panic!("prekeys uploaded before they were written"),
        _ => None,
    })
    .await;
    let status = handle.status();
    assert!(status.connected && status.logged_in, "{status:?}");
    let on_server = r.sim.account(PHONE).expect("account").prekeys;
    assert!(on_server.iter().all(|(_, n)| *n == 0), "{on_server:?}");
    r.release.send(()).expect("release");
    let written = Arc::clone(&r.written);
    let count = sim_next(&mut r.sim_events, "the upload", |e| match e {
        SimEvent::PreKeysUploaded { count, .. } => {
            assert!(written.load(Ordering::SeqCst), "uploaded before written");
            Some(*count)
        }
        _ => None,
    })
    .await;
    assert_eq!(count, 812);
    next(&mut r.events, "Connected", |e| {
        matches!(e, EventKind::Connected { .. }).then_some(())
    })
    .await;
    assert_eq!(handle.status().state, SessionState::Working);
    r.gateway.shutdown(DEADLINE).await;
}
