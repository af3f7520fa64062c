//! The listener ([`SimServer`]): one port for the WebSocket front door and the admin API, and
//! the in-process handle harnesses drive the simulated network with.

use std::net::SocketAddr;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};
use wa_protocol::binary::{Jid, Node};
use wa_protocol::noise::{build_cert_chain, TrustRoot};
use wa_protocol::signal::{KeyPair, PublicKey};
use wa_protocol::stanza::{GroupInfo, ParticipantAction};
use wa_protocol::{MessageId, PhoneNumber};

use crate::config::SimConfig;
use crate::error::SimError;
use crate::event::{ConnId, SimEvent};
use crate::media_store::{MediaInfo, MediaStore};
use crate::phone_kinds::PhoneSend;
use crate::phone_peer::HistoryRequestReceived;
use crate::phone_state::ReceivedMessage;
use crate::state::{Action, Counters, Shared};
use crate::world::{AccountInfo, Faults, SwitchesUpdate};
use crate::{admin, admin_groups, admin_media, front_door, media_http, nodes, phone};

/// How long the leaf certificate has been valid at start, and stays valid after.
const CERT_BEFORE_SECS: u64 = 24 * 3600;
const CERT_AFTER_SECS: u64 = 365 * 24 * 3600;

/// A running simulator. Dropping it stops the listener and closes every connection.
pub struct SimServer {
    addr: SocketAddr,
    root: KeyPair,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

/// The media host `media_conn` names: the configured one, else the listening address.
fn media_host(config: &SimConfig, addr: SocketAddr) -> String {
    if let Some(host) = &config.media.host {
        return host.clone();
    }
    let ip = match addr.ip() {
        ip if ip.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port()).to_string()
}

impl SimServer {
    /// Generates the server identity and starts listening.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        let mut rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let root = KeyPair::generate(&mut rng);
        let intermediate = KeyPair::generate(&mut rng);
        let static_key = KeyPair::generate(&mut rng);
        let now = config.clock.now().unix_secs();
        let cert_chain = build_cert_chain(
            &root,
            &intermediate,
            &static_key.public,
            now.saturating_sub(CERT_BEFORE_SECS),
            now + CERT_AFTER_SECS,
            &mut rng,
        );
        let bind = config.bind;
        let bind_error = |source| SimError::Bind { addr: bind, source };
        let listener = TcpListener::bind(bind).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let media = MediaStore::new(config.media.clone(), media_host(&config, addr))?;
        let shared = Shared::new(config, media, rng, static_key, cert_chain);
        let app = admin::routes()
            .merge(admin_groups::routes())
            .merge(admin_media::routes())
            .merge(media_http::routes())
            .fallback(front_door::ws_handler)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "wa-sim listener failed");
            }
        });
        tracing::info!(%addr, root = %hex::encode(root.public.as_bytes()), "wa-sim listening");
        Ok(Self {
            addr,
            root,
            shared,
            stop: Some(stop),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// The base URL of the admin API.
    pub fn admin_url(&self) -> String {
        format!("http://{}/admin", self.addr)
    }

    /// The root public key of the server's certificate chain: what clients must trust.
    pub fn root_key(&self) -> PublicKey {
        self.root.public
    }

    /// The trust root clients must be given.
    pub fn trust_root(&self) -> TrustRoot {
        TrustRoot::new(self.root.public)
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.shared.subscribe()
    }

    /// Sends a node to a connected client. Returns `false` if the connection is gone.
    pub fn send(&self, conn: ConnId, node: Node) -> bool {
        self.shared.push(conn, Action::Send(node))
    }

    /// Closes a connection abruptly (a transient drop, as the client sees it).
    pub fn drop_connection(&self, conn: ConnId) -> bool {
        self.shared.push(conn, Action::Close)
    }

    /// Creates an account with a simulated primary phone (idempotent).
    pub fn create_account(&self, phone: &PhoneNumber) -> AccountInfo {
        let mut rng = self.shared.fork_rng();
        self.shared
            .with_world(|w| w.create_account(phone, &mut rng, self.shared.now()))
    }

    /// The account's public state (`None` for an unknown or malformed number).
    pub fn account(&self, phone: &str) -> Option<AccountInfo> {
        let phone = phone.parse::<PhoneNumber>().ok()?;
        self.shared.with_world(|w| w.info(&phone))
    }

    /// The phone scans a QR code: it signs the companion and sends pair-success to the
    /// connection showing that QR. Returns the companion's device JID.
    pub fn scan(&self, phone: &str, qr: &str) -> Result<Jid, SimError> {
        phone::scan(&self.shared, &phone.parse()?, qr)
    }

    /// The phone types the pair code a companion shows (`XXXX-XXXX`).
    pub fn enter_pair_code(&self, phone: &str, code: &str) -> Result<(), SimError> {
        phone::enter_pair_code(&self.shared, &phone.parse()?, code)
    }

    /// The phone unlinks a companion: `<stream:error code=401><conflict type=device_removed>`
    /// to its connections, and the device is forgotten.
    pub fn remove_device(&self, phone: &str, device: u8) -> Result<(), SimError> {
        phone::remove_device(&self.shared, &phone.parse()?, device)
    }

    /// Another client logged in with the same credentials: `<conflict type="replaced"/>`.
    pub fn replace_connection(&self, conn: ConnId) -> bool {
        self.shared.push(conn, Action::Send(nodes::replaced()))
            && self.shared.push(conn, Action::Close)
    }

    /// Sends `<stream:error code=…>` and closes the connection.
    pub fn stream_error(&self, conn: ConnId, code: u16) -> bool {
        self.shared
            .push(conn, Action::Send(nodes::stream_error(code)))
            && self.shared.push(conn, Action::Close)
    }

    /// Tells a connection its prekey stock is low (`<notification type=encrypt><count>`).
    pub fn notify_prekey_count(&self, conn: ConnId, count: u32) -> bool {
        let id = self.shared.next_iq_id();
        let node = nodes::prekey_count_notification(id, self.shared.now_secs(), count);
        self.shared.push(conn, Action::Send(node))
    }

    /// Sends a server ping (`urn:xmpp:ping`) to a connection.
    pub fn ping(&self, conn: ConnId) -> bool {
        let id = self.shared.next_iq_id();
        let node = nodes::server_ping(id, self.shared.now_secs());
        self.shared.push(conn, Action::Send(node))
    }

    /// Sets an account's realism switches (those the update names) and returns its new
    /// state, as `PUT /admin/accounts/{phone}` does. `lid_migrated` makes the account's phone
    /// address its sends by LID, and the companions linked from then on are told so at pairing
    /// ([`AccountSwitches::lid_migrated`](crate::AccountSwitches)); `require_privacy_tokens` refuses companions' DMs to it
    /// without the token its phone granted (463).
    pub fn update_account(
        &self,
        phone: &PhoneNumber,
        update: SwitchesUpdate,
    ) -> Result<AccountInfo, SimError> {
        self.shared.with_world(|w| w.update_switches(phone, update))
    }

    /// Sets an account's fault switches.
    pub fn set_faults(&self, phone: &str, faults: Faults) -> Result<(), SimError> {
        let phone = phone.parse()?;
        self.shared.with_world(|w| w.set_faults(&phone, faults))
    }

    /// The phone of `phone` sends an end-to-end encrypted `text` to `to` (a phone number or
    /// user JID), as `POST /admin/phones/{phone}/send` does; returns the message id.
    pub fn phone_send(&self, phone: &str, to: &str, text: &str) -> Result<MessageId, SimError> {
        let phone = phone.parse()?;
        crate::phone_send::send_text(&self.shared, &phone, to, text)
    }

    /// The phone of `phone` sends the kind `request` names (text with reply and mentions,
    /// reaction, edit, revoke, location, contact), as `POST /admin/phones/{phone}/send` does
    /// with the optional fields; returns the message id.
    pub fn phone_send_kind(&self, phone: &str, request: &PhoneSend) -> Result<MessageId, SimError> {
        let phone = phone.parse()?;
        crate::phone_send::send(&self.shared, &phone, request)
    }

    /// What the phone of `phone` received and decrypted, oldest first.
    pub fn phone_messages(&self, phone: &str) -> Result<Vec<ReceivedMessage>, SimError> {
        let phone = phone.parse()?;
        self.shared.with_world(|w| {
            w.account(&phone)
                .map(|a| a.phone_state.inbox.iter().cloned().collect())
        })
    }

    /// The on-demand history sync requests the phone of `phone` received from its companions,
    /// oldest first.
    pub fn phone_history_requests(
        &self,
        phone: &str,
    ) -> Result<Vec<HistoryRequestReceived>, SimError> {
        let phone = phone.parse()?;
        self.shared.with_world(|w| {
            w.account(&phone)
                .map(|a| a.phone_state.history_requests.iter().cloned().collect())
        })
    }

    /// The phone of `phone` sends read receipts for `ids` in `chat`.
    pub fn phone_read(&self, phone: &str, chat: &str, ids: &[String]) -> Result<(), SimError> {
        let phone = phone.parse()?;
        crate::phone_send::read(&self.shared, &phone, chat, ids)
    }

    /// The phone of `phone` loses every Signal session it has (as after a reinstall that kept
    /// its keys): the next message it cannot decrypt is answered with a retry receipt carrying
    /// `<keys>` (`messaging.md` §11). Returns how many sessions it lost.
    pub fn phone_forget_sessions(&self, phone: &str) -> Result<usize, SimError> {
        let phone = phone.parse()?;
        self.shared.with_world(|w| {
            let state = &mut w.account_mut(&phone)?.phone_state;
            let lost = state.sessions.len();
            state.sessions.clear();
            Ok(lost)
        })
    }

    /// Stanza counters so far.
    pub fn counters(&self) -> Counters {
        self.shared.counters()
    }

    /// The phone of `phone` creates a group with `participants` (phone numbers), as `POST
    /// /admin/phones/{phone}/groups` does; the members' companions are notified. Returns the
    /// group's JID.
    pub fn create_group(
        &self,
        phone: &str,
        subject: &str,
        participants: &[&str],
    ) -> Result<Jid, SimError> {
        let phone = phone.parse()?;
        let members = participants
            .iter()
            .map(|p| p.parse())
            .collect::<Result<Vec<PhoneNumber>, _>>()?;
        crate::roles::groups::create(&self.shared, &phone, subject, &members, None)
    }

    /// The phone of `phone` (an admin) adds, removes, promotes or demotes `participants`
    /// (phone numbers) of `group`, as `POST /admin/phones/{phone}/groups/{jid}/participants`
    /// does; per participant, the refusal code (`None`: done).
    pub fn change_group(
        &self,
        phone: &str,
        group: &Jid,
        action: ParticipantAction,
        participants: &[&str],
    ) -> Result<Vec<(PhoneNumber, Option<u16>)>, SimError> {
        let phone = phone.parse()?;
        let list = participants
            .iter()
            .map(|p| p.parse())
            .collect::<Result<Vec<PhoneNumber>, _>>()?;
        crate::roles::groups::change(&self.shared, &phone, group, action, &list)
    }

    /// A group's metadata as the `w:g2` metadata query answers it (`None`: no such group).
    pub fn group(&self, group: &Jid) -> Option<GroupInfo> {
        self.shared.with_world(|w| {
            crate::roles::groups::group_of(w, group)
                .ok()
                .map(|g| crate::roles::groups::info(w, g))
        })
    }

    /// The media host `media_conn` names (`ip:port`, plain `http`; `media.md` §3).
    pub fn media_host(&self) -> String {
        self.shared.media.host().to_owned()
    }

    /// An upload `auth` token, as a `media_conn` answer hands one to a companion (valid for
    /// [`MediaConfig::auth_ttl`](crate::MediaConfig::auth_ttl)).
    pub fn media_auth(&self) -> String {
        let mut rng = self.shared.fork_rng();
        self.shared.media.new_auth(self.shared.now(), &mut rng)
    }

    /// Every file the media server stored, as `GET /admin/media` lists them.
    pub fn media(&self) -> Vec<MediaInfo> {
        self.shared.media.list(self.shared.now())
    }

    /// The file under `direct_path` expires now: its downloads answer 410 (`POST
    /// /admin/media/expire`).
    pub fn expire_media(&self, direct_path: &str) -> Result<(), SimError> {
        self.shared.media.expire(direct_path)
    }

    /// Every stored file expires now; returns how many were live.
    pub fn expire_all_media(&self) -> usize {
        self.shared.media.expire_all()
    }

    /// The phones drop their own copies of media: a media retry is answered "not on phone"
    /// (`POST /admin/media/forget`); returns how many copies there were.
    pub fn forget_phone_media(&self) -> usize {
        self.shared.media.gallery.forget_all()
    }

    /// Every `media_conn` auth token stops opening uploads (401) until a client asks for a new
    /// one (`POST /admin/media/revoke-auth`); returns how many there were.
    pub fn revoke_media_auth(&self) -> usize {
        self.shared.media.revoke_auths()
    }

    /// Stops accepting connections and closes the open ones.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.shared.close_all();
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}
