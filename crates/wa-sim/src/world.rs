//! The simulated network's accounts and devices: each account's primary phone (with real keys)
//! and linked companions, the keys devices published (the [`Directory`]), the pairings under
//! way, the logged-in connections and the fault switches.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::RngCore;
use wa_protocol::binary::Jid;
use wa_protocol::pairing::PrimaryCodeHello;
use wa_protocol::signal::{KeyPair, PublicKey};
use wa_protocol::PhoneNumber;

use crate::error::SimError;
use crate::event::ConnId;
use crate::roles::directory::Directory;

/// A simulated primary phone: device 0 of an account, with real keys.
#[derive(Debug, Clone)]
pub(crate) struct Primary {
    /// Signal identity (also the ADV account key that signs companions).
    pub(crate) identity: KeyPair,
    /// Registration id.
    #[expect(
        dead_code,
        reason = "the phone's Signal sessions (send, read) come with messaging"
    )]
    pub(crate) registration_id: u32,
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
        reason = "served in usync answers (directory) with messaging"
    )]
    pub(crate) identity_pub: PublicKey,
}

/// Per-account fault switches, set through the admin API or the Rust handle.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Leave the client's keepalive pings unanswered.
    pub drop_pings: bool,
    /// Refuse logins with `<failure reason=N>`.
    pub refuse_login: Option<u16>,
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
    /// Linked companions by device number.
    pub(crate) companions: BTreeMap<u8, Companion>,
    next_device: u8,
    next_key_index: u32,
    /// Fault switches.
    pub(crate) faults: Faults,
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
    next_lid: u64,
}

impl World {
    /// Creates (or returns) the account for `phone` with a fresh primary phone.
    pub(crate) fn create_account(&mut self, phone: &PhoneNumber, rng: &mut StdRng) -> AccountInfo {
        let next_lid = &mut self.next_lid;
        let account = self
            .accounts
            .entry(phone.clone())
            .or_insert_with(|| new_account(phone, next_lid, rng));
        info_of(account, &self.directory)
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
        self.pending.retain(|_, p| p.conn != conn);
        self.awaiting_sign.remove(&conn);
        self.pending_codes.remove(&conn);
    }
}

impl Account {
    /// The account's LID device JID.
    pub(crate) fn lid_device(&self, device: u8) -> Jid {
        Jid::device(
            self.lid.clone(),
            u16::from(device),
            wa_protocol::binary::Server::Lid,
        )
    }
}

fn new_account(phone: &PhoneNumber, next_lid: &mut u64, rng: &mut StdRng) -> Account {
    *next_lid += 1;
    let lid = format!(
        "{}",
        100_000_000_000_000u64 + *next_lid * 7919 + u64::from(rng.next_u32() % 1000)
    );
    Account {
        phone: phone.clone(),
        lid,
        primary: Primary {
            identity: KeyPair::generate(rng),
            registration_id: 1 + rng.next_u32() % 16380,
        },
        companions: BTreeMap::new(),
        next_device: 1,
        next_key_index: 1,
        faults: Faults::default(),
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
    }
}
