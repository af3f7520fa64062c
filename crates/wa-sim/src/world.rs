//! The simulated network's accounts and devices: each account's primary phone (with real keys)
//! and linked companions, the keys devices published (the [`Directory`]), the pairings under
//! way, the logged-in connections and the fault switches.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::RngCore;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::message::fanout::DeviceTarget;
use wa_protocol::message::receive::PreKeySet;
use wa_protocol::pairing::PrimaryCodeHello;
use wa_protocol::signal::{
    generate_pre_keys, generate_registration_id, KeyPair, LocalIdentity, PreKey, PublicKey,
    SignedPreKey,
};
use wa_protocol::stanza::{PreKeyUpload, UploadedPreKey, UploadedSignedPreKey};
use wa_protocol::time::Millis;
use wa_protocol::PhoneNumber;

use crate::error::SimError;
use crate::event::ConnId;
use crate::group_state::{Group, Groups};
use crate::mailbox::{DeviceKey, Mailbox};
use crate::phone_state::PhoneState;
use crate::roles::directory::Directory;

/// How many one-time prekeys a simulated phone publishes (whatsmeow's refill size,
/// `messaging.md` §15).
pub(crate) const PHONE_PREKEYS: usize = 50;

/// A simulated primary phone: device 0 of an account, with real Signal keys (identity, a
/// signed prekey signed by it, one-time prekeys), all drawn from the sim's seeded RNG.
#[derive(Debug, Clone)]
pub(crate) struct Primary {
    /// Signal identity (also the ADV account key that signs companions).
    pub(crate) identity: KeyPair,
    /// Registration id.
    pub(crate) registration_id: u32,
    /// The account's ADV raw id (in every device identity and key-index list it signs).
    pub(crate) raw_id: u32,
    /// The signed prekey (id 1).
    pub(crate) signed_prekey: SignedPreKey,
    /// The one-time prekeys, private halves kept for the phone's sessions (the directory
    /// serves, and consumes, the public halves).
    pub(crate) prekeys: Vec<PreKey>,
}

impl Primary {
    /// A phone with fresh keys; `now` dates the signed prekey.
    fn generate(rng: &mut StdRng, now: Millis) -> Self {
        let identity = KeyPair::generate(rng);
        let signed_prekey = SignedPreKey::generate(&identity, 1, now.0, rng);
        Self {
            registration_id: generate_registration_id(rng),
            raw_id: rng.next_u32(),
            prekeys: generate_pre_keys(1, PHONE_PREKEYS, rng),
            signed_prekey,
            identity,
        }
    }

    /// What the phone publishes, as a companion's upload would.
    fn upload(&self) -> PreKeyUpload {
        PreKeyUpload {
            registration_id: self.registration_id,
            identity: self.identity.public,
            prekeys: self
                .prekeys
                .iter()
                .map(|k| UploadedPreKey {
                    id: k.id,
                    public: k.key_pair.public,
                })
                .collect(),
            signed: UploadedSignedPreKey {
                id: self.signed_prekey.id,
                public: self.signed_prekey.key_pair.public,
                signature: self.signed_prekey.signature,
            },
        }
    }
}

/// Per-account realism switches (`WA-SIM.md`, `messaging.md` §16). A LID-migrated account's
/// phone addresses its sends by LID; an account requiring privacy tokens refuses a companion's
/// DM without the token its phone granted (the phone grants one, in a `privacy_token`
/// notification, the first time it writes to an account) with 463.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountSwitches {
    /// The account is LID-migrated: its DMs are addressed by LID. The phone follows the switch
    /// at once; a companion learns it from the `<client-props>` of its pair-success
    /// (`login-pairing.md` §4.4), so the switch as it stands when a companion links is what that
    /// companion is told. A flip after linking reaches the phone only: the references name the
    /// other channels a real server uses ("a migration sync / AB prop", `messaging.md` §16)
    /// without their bytes, so the sim sends nothing to linked companions; relink one (or seed
    /// its store) to change its addressing.
    pub lid_migrated: bool,
    /// A companion's DM without the `<tctoken>` this account's phone granted is refused with 463.
    pub require_privacy_tokens: bool,
}

/// A change to [`AccountSwitches`]: the fields given are set, the others kept
/// (`PUT /admin/accounts/{phone}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchesUpdate {
    /// New [`AccountSwitches::lid_migrated`].
    pub lid_migrated: Option<bool>,
    /// New [`AccountSwitches::require_privacy_tokens`].
    pub require_privacy_tokens: Option<bool>,
}

/// The account's signed key-index list as last signed, for the indexes it covers.
#[derive(Debug, Clone)]
pub(crate) struct SignedKeyIndexes {
    /// The companions' key indexes it lists.
    pub(crate) valid: Vec<u32>,
    /// The highest key index assigned when it was signed.
    pub(crate) current: u32,
    /// When it was signed (unix seconds; its `ts`).
    pub(crate) ts: u64,
    /// The `ADVSignedKeyIndexList` bytes.
    pub(crate) signed: Vec<u8>,
}

/// A companion device linked to an account.
#[derive(Debug, Clone)]
pub(crate) struct Companion {
    /// Device number (1…).
    pub(crate) device: u8,
    /// Key index signed by the phone.
    pub(crate) key_index: u32,
    /// Noise static key: what the device must prove at login.
    pub(crate) noise_pub: PublicKey,
    /// Signal identity.
    #[expect(
        dead_code,
        reason = "checked against the companion's uploads when identities change (messaging)"
    )]
    pub(crate) identity_pub: PublicKey,
    /// The `ADVSignedDeviceIdentity` the companion countersigned (its pair-device-sign, once
    /// verified; empty before), served as `<device-identity>` in its bundles (§5).
    pub(crate) device_identity: Vec<u8>,
}

/// Per-account fault switches, set through the admin API or the Rust handle.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Leave the client's keepalive pings unanswered.
    pub drop_pings: bool,
    /// Refuse logins with `<failure reason=N>`.
    pub refuse_login: Option<u16>,
    /// Swallow the companions' `<message>` stanzas: neither routed nor acknowledged (a send
    /// whose server ack never comes, as when a connection dies under it).
    pub drop_messages: bool,
    /// Withhold the `w:gp2` group notifications from the account's companions (a change they
    /// never hear of, so their cached group metadata goes stale; the server's `phash` in its
    /// ack of their next group message tells them, `messaging.md` §8).
    pub drop_group_notifications: bool,
    /// Refuse the companions' `<message>` stanzas with a server ack carrying this `error`
    /// code, neither routed nor delivered (`messaging.md` §8: `error` present = NACK); e.g.
    /// 503 for a server that refuses for a while, 479 for a permanent refusal.
    pub nack_messages: Option<u16>,
}

/// One WhatsApp account on the simulated network.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    /// Phone number.
    pub(crate) phone: PhoneNumber,
    /// The account's LID user.
    pub(crate) lid: String,
    /// Device 0.
    pub(crate) primary: Primary,
    /// The phone's Signal sessions and inbox.
    pub(crate) phone_state: PhoneState,
    /// Linked companions by device number.
    pub(crate) companions: BTreeMap<u8, Companion>,
    next_device: u8,
    next_key_index: u32,
    /// Fault switches.
    pub(crate) faults: Faults,
    /// Realism switches.
    pub(crate) switches: AccountSwitches,
    /// The signed key-index list usync answers carry (re-signed when the companions change).
    pub(crate) key_indexes: Option<SignedKeyIndexes>,
    /// The companions that asked for this account's device list (usync): they are told when
    /// it changes (`devices` notifications, `messaging.md` §4).
    pub(crate) watchers: BTreeSet<DeviceKey>,
}

/// A registration connection waiting for its QR to be scanned.
#[derive(Debug, Clone)]
pub(crate) struct PendingPair {
    /// The connection showing the QR.
    pub(crate) conn: ConnId,
    /// Its noise key (from the handshake).
    pub(crate) noise_pub: PublicKey,
    /// Its Signal identity (from the registration payload).
    pub(crate) identity_pub: PublicKey,
}

/// A pair-success sent, waiting for the companion's pair-device-sign.
#[derive(Debug, Clone)]
pub(crate) struct AwaitingSign {
    /// Account phone.
    pub(crate) phone: PhoneNumber,
    /// The companion as it will be recorded.
    pub(crate) companion: Companion,
    /// The IQ id of the pair-success.
    pub(crate) iq_id: String,
}

/// A pair-code request (companion_hello) waiting for the phone to type the code.
#[derive(Debug)]
pub(crate) struct PendingCode {
    /// Account phone.
    pub(crate) phone: PhoneNumber,
    /// The companion's wrapped ephemeral key.
    pub(crate) wrapped_companion: [u8; 80],
    /// The ref handed to the companion.
    pub(crate) pairing_ref: Vec<u8>,
    /// Set once the phone typed the code (primary_hello sent).
    pub(crate) primary: Option<PrimaryCodeHello>,
}

/// An account as the harness sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountInfo {
    /// Phone number (digits on the wire).
    #[serde(serialize_with = "digits")]
    pub phone: PhoneNumber,
    /// LID user.
    pub lid: String,
    /// Linked companion device numbers.
    pub devices: Vec<u8>,
    /// One-time prekeys each companion has on the server.
    pub prekeys: Vec<(u8, usize)>,
    /// One-time prekeys the primary phone (device 0) has left on the server.
    pub phone_prekeys: usize,
    /// [`AccountSwitches::lid_migrated`].
    pub lid_migrated: bool,
    /// [`AccountSwitches::require_privacy_tokens`].
    pub require_privacy_tokens: bool,
}

fn digits<S: serde::Serializer>(phone: &PhoneNumber, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(phone.as_str())
}

/// Everything the simulated network knows.
#[derive(Debug, Default)]
pub(crate) struct World {
    accounts: BTreeMap<PhoneNumber, Account>,
    /// The keys devices published.
    pub(crate) directory: Directory,
    /// Pairing refs shown by registration connections.
    pub(crate) pending: HashMap<String, PendingPair>,
    /// Pair-code requests by connection.
    pub(crate) pending_codes: HashMap<ConnId, PendingCode>,
    /// Pair-success sent, by connection.
    pub(crate) awaiting_sign: HashMap<ConnId, AwaitingSign>,
    /// Logged-in connections: conn → (phone, device).
    pub(crate) logged_in: HashMap<ConnId, (PhoneNumber, u8)>,
    /// Offline queues, live connections and unacked deliveries.
    pub(crate) mailbox: Mailbox,
    /// The groups.
    pub(crate) groups: Groups,
    /// Accounts by LID user.
    lids: HashMap<String, PhoneNumber>,
    next_lid: u64,
}

impl World {
    /// Creates (or returns) the account for `phone` with a fresh primary phone, whose keys
    /// go to the directory as device 0's.
    pub(crate) fn create_account(
        &mut self,
        phone: &PhoneNumber,
        rng: &mut StdRng,
        now: Millis,
    ) -> AccountInfo {
        if !self.accounts.contains_key(phone) {
            let account = new_account(phone, &mut self.next_lid, rng, now);
            self.directory
                .record_upload(phone, 0, account.primary.upload());
            self.lids.insert(account.lid.clone(), phone.clone());
            self.accounts.insert(phone.clone(), account);
        }
        let account = &self.accounts[phone];
        info_of(account, &self.directory)
    }

    /// The account a user or device JID names: by phone number (`s.whatsapp.net`) or by LID
    /// (`lid`).
    pub(crate) fn account_by_jid(&self, jid: &Jid) -> Option<&Account> {
        let phone = match jid.server() {
            wa_protocol::binary::Server::WhatsApp => jid.user_part().parse().ok()?,
            wa_protocol::binary::Server::Lid => self.lids.get(jid.user_part())?.clone(),
            _ => return None,
        };
        self.accounts.get(&phone)
    }

    /// The device a JID names (`None`: no such account or device).
    pub(crate) fn device_of(&self, jid: &Jid) -> Option<DeviceKey> {
        let account = self.account_by_jid(jid)?;
        let device = u8::try_from(jid.device_id()).ok()?;
        (device == 0 || account.companions.contains_key(&device))
            .then(|| (account.phone.clone(), device))
    }

    /// Every device of the account a JID names: the phone, then the companions.
    pub(crate) fn devices_of(&self, jid: &Jid) -> Vec<DeviceKey> {
        self.account_by_jid(jid).map_or_else(Vec::new, |a| {
            std::iter::once(0)
                .chain(a.companions.keys().copied())
                .map(|d| (a.phone.clone(), d))
                .collect()
        })
    }

    /// Every device of every participant of `group`, each with its JID in the group's
    /// namespace (LID for a `lid` group, else the phone number; `messaging.md` §9, §16).
    pub(crate) fn member_devices(&self, group: &Group) -> Vec<(DeviceKey, Jid)> {
        let server = group.server();
        group
            .participants
            .keys()
            .filter_map(|p| self.accounts.get(p))
            .flat_map(|a| {
                let server = server.clone();
                std::iter::once(0)
                    .chain(a.companions.keys().copied())
                    .map(move |d| ((a.phone.clone(), d), address(&a.phone, &a.lid, d, &server)))
            })
            .collect()
    }

    /// What `phone`'s phone encrypts with for each of `devices` (JIDs in the namespace of
    /// `server`): its session, or the device's bundle (consumed from the directory, §5).
    /// Devices that published no keys are left out.
    pub(crate) fn phone_targets(
        &mut self,
        phone: &PhoneNumber,
        devices: &[DeviceKey],
        server: &Server,
    ) -> Vec<DeviceTarget> {
        let mut out = Vec::with_capacity(devices.len());
        for key in devices {
            let Some(lid) = self.accounts.get(&key.0).map(|a| a.lid.clone()) else {
                continue;
            };
            let jid = address(&key.0, &lid, key.1, server);
            let session = self
                .accounts
                .get(phone)
                .and_then(|a| a.phone_state.sessions.get(key).cloned());
            let target = match session {
                Some(record) if record.has_current_session() => {
                    DeviceTarget::with_session(jid, record)
                }
                _ => match self.directory.take_bundle(&key.0, key.1) {
                    Some(bundle) => DeviceTarget::with_bundle(jid, bundle),
                    None => continue,
                },
            };
            out.push(target);
        }
        out
    }

    /// Sets the switches an update names; returns the account's new state.
    pub(crate) fn update_switches(
        &mut self,
        phone: &PhoneNumber,
        update: SwitchesUpdate,
    ) -> Result<AccountInfo, SimError> {
        let switches = &mut self.account_mut(phone)?.switches;
        if let Some(v) = update.lid_migrated {
            switches.lid_migrated = v;
        }
        if let Some(v) = update.require_privacy_tokens {
            switches.require_privacy_tokens = v;
        }
        self.info(phone)
            .ok_or_else(|| SimError::NoAccount(phone.clone()))
    }

    /// The account for `phone`.
    pub(crate) fn account(&self, phone: &PhoneNumber) -> Result<&Account, SimError> {
        self.accounts
            .get(phone)
            .ok_or_else(|| SimError::NoAccount(phone.clone()))
    }

    /// The account for `phone`, mutable.
    pub(crate) fn account_mut(&mut self, phone: &PhoneNumber) -> Result<&mut Account, SimError> {
        self.accounts
            .get_mut(phone)
            .ok_or_else(|| SimError::NoAccount(phone.clone()))
    }

    /// The account's public state.
    pub(crate) fn info(&self, phone: &PhoneNumber) -> Option<AccountInfo> {
        Some(info_of(self.accounts.get(phone)?, &self.directory))
    }

    /// Every account's public state.
    pub(crate) fn infos(&self) -> Vec<AccountInfo> {
        self.accounts.keys().filter_map(|p| self.info(p)).collect()
    }

    /// Sets an account's fault switches.
    pub(crate) fn set_faults(
        &mut self,
        phone: &PhoneNumber,
        faults: Faults,
    ) -> Result<(), SimError> {
        self.account_mut(phone)?.faults = faults;
        Ok(())
    }

    /// Whether `phone` has the companion `device`.
    pub(crate) fn has_companion(&self, phone: &PhoneNumber, device: u8) -> bool {
        self.accounts
            .get(phone)
            .is_some_and(|a| a.companions.contains_key(&device))
    }

    /// Forgets the companion `device` of `phone` and the keys it published; `false` if there
    /// was none.
    pub(crate) fn remove_companion(&mut self, phone: &PhoneNumber, device: u8) -> bool {
        let removed = self
            .accounts
            .get_mut(phone)
            .is_some_and(|a| a.companions.remove(&device).is_some());
        self.directory.forget(phone, device);
        self.mailbox.forget_device(&(phone.clone(), device));
        removed
    }

    /// Reserves the next device number and key index of `phone`.
    pub(crate) fn reserve_device(&mut self, phone: &PhoneNumber) -> Result<(u8, u32), SimError> {
        let a = self.account_mut(phone)?;
        let device = a.next_device;
        a.next_device = a
            .next_device
            .checked_add(1)
            .ok_or_else(|| SimError::NoAccount(phone.clone()))?;
        let key_index = a.next_key_index;
        a.next_key_index += 1;
        Ok((device, key_index))
    }

    /// Forgets everything tied to a connection that ended.
    pub(crate) fn forget_conn(&mut self, conn: ConnId) {
        self.logged_in.remove(&conn);
        self.mailbox.forget_conn(conn);
        self.pending.retain(|_, p| p.conn != conn);
        self.awaiting_sign.remove(&conn);
        self.pending_codes.remove(&conn);
    }
}

impl Account {
    /// The highest key index the phone has assigned (0: none yet).
    pub(crate) fn current_key_index(&self) -> u32 {
        self.next_key_index.saturating_sub(1)
    }

    /// The account's LID device JID.
    pub(crate) fn lid_device(&self, device: u8) -> Jid {
        Jid::device(
            self.lid.clone(),
            u16::from(device),
            wa_protocol::binary::Server::Lid,
        )
    }
}

/// The JID of `device` of the account (`phone`, `lid`) in the namespace of `server` (LID, or
/// else the phone number).
pub(crate) fn address(phone: &PhoneNumber, lid: &str, device: u8, server: &Server) -> Jid {
    match server {
        Server::Lid => Jid::device(lid.to_owned(), u16::from(device), Server::Lid),
        _ => Jid::device(
            phone.as_str().to_owned(),
            u16::from(device),
            Server::WhatsApp,
        ),
    }
}

fn new_account(phone: &PhoneNumber, next_lid: &mut u64, rng: &mut StdRng, now: Millis) -> Account {
    *next_lid += 1;
    let lid = format!(
        "{}",
        100_000_000_000_000u64 + *next_lid * 7919 + u64::from(rng.next_u32() % 1000)
    );
    let primary = Primary::generate(rng, now);
    let local = LocalIdentity {
        key_pair: primary.identity.clone(),
        registration_id: primary.registration_id,
    };
    let prekeys = PreKeySet {
        signed: vec![primary.signed_prekey.clone()],
        one_time: primary.prekeys.clone(),
    };
    Account {
        phone: phone.clone(),
        lid,
        phone_state: PhoneState::new(local, prekeys),
        primary,
        companions: BTreeMap::new(),
        next_device: 1,
        next_key_index: 1,
        faults: Faults::default(),
        switches: AccountSwitches::default(),
        key_indexes: None,
        watchers: BTreeSet::new(),
    }
}

fn info_of(a: &Account, directory: &Directory) -> AccountInfo {
    AccountInfo {
        phone: a.phone.clone(),
        lid: a.lid.clone(),
        devices: a.companions.keys().copied().collect(),
        prekeys: a
            .companions
            .keys()
            .map(|d| (*d, directory.prekey_count(&a.phone, *d)))
            .collect(),
        phone_prekeys: directory.prekey_count(&a.phone, 0),
        lid_migrated: a.switches.lid_migrated,
        require_privacy_tokens: a.switches.require_privacy_tokens,
    }
}
