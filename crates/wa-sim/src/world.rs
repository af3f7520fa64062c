//! The simulated network's state: accounts with their primary phones and linked companions,
//! uploaded prekey bundles, pending QR pairings, faults and counters.

use std::collections::{BTreeMap, HashMap};

use rand::rngs::StdRng;
use rand::RngCore;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::signal::{KeyPair, PublicKey};
use wa_protocol::stanza::PreKeyUpload;

use crate::server::ConnId;

/// A simulated primary phone: device 0 of an account, with real keys.
#[derive(Debug, Clone)]
pub struct Phone {
    /// Signal identity (also the ADV account key that signs companions).
    pub identity: KeyPair,
    /// Registration id.
    pub registration_id: u32,
}

/// A companion device linked to an account.
#[derive(Debug, Clone)]
pub struct Companion {
    /// Device number (1…).
    pub device: u8,
    /// Key index signed by the phone.
    pub key_index: u32,
    /// Noise static key: what the device must prove at login.
    pub noise_pub: PublicKey,
    /// Signal identity.
    pub identity_pub: PublicKey,
    /// The prekey bundle it uploaded, if any.
    pub bundle: Option<PreKeyUpload>,
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
pub struct Account {
    /// Phone number (digits).
    pub phone: String,
    /// The account's LID user.
    pub lid: String,
    /// Device 0.
    pub primary: Phone,
    /// Linked companions by device number.
    pub companions: BTreeMap<u8, Companion>,
    next_device: u8,
    next_key_index: u32,
    /// Fault switches.
    pub faults: Faults,
}

impl Account {
    /// The account's phone-number JID.
    pub fn jid(&self) -> Jid {
        Jid::user(self.phone.clone(), Server::WhatsApp)
    }

    /// The account's LID JID.
    pub fn lid_jid(&self) -> Jid {
        Jid::lid(self.lid.clone())
    }
}

/// A registration connection waiting for its QR to be scanned.
#[derive(Debug, Clone)]
pub struct PendingPair {
    /// The connection showing the QR.
    pub conn: ConnId,
    /// Its noise key (from the handshake).
    pub noise_pub: PublicKey,
    /// Its Signal identity (from the registration payload).
    pub identity_pub: PublicKey,
}

/// A pair-success sent, waiting for the companion's pair-device-sign.
#[derive(Debug, Clone)]
pub struct AwaitingSign {
    /// Account phone.
    pub phone: String,
    /// The companion as it will be recorded.
    pub companion: Companion,
    /// The IQ id of the pair-success.
    pub iq_id: String,
}

/// A pair-code request (companion_hello) waiting for the phone to type the code.
#[derive(Debug)]
pub struct PendingCode {
    /// Account phone.
    pub phone: String,
    /// The companion's wrapped ephemeral key.
    pub wrapped_companion: [u8; 80],
    /// The ref handed to the companion.
    pub pairing_ref: Vec<u8>,
    /// Set once the phone typed the code (primary_hello sent).
    pub primary: Option<wa_protocol::pairing::PrimaryCodeHello>,
}

/// Counters of stanzas by kind, for tests and benchmarks.
pub type Counters = BTreeMap<String, u64>;

/// Everything the simulated network knows.
#[derive(Debug, Default)]
pub struct World {
    accounts: BTreeMap<String, Account>,
    /// Pairing refs shown by registration connections.
    pub(crate) pending: HashMap<String, PendingPair>,
    /// Pair-code requests by connection.
    pub(crate) pending_codes: HashMap<ConnId, PendingCode>,
    /// Pair-success sent, by connection.
    pub(crate) awaiting_sign: HashMap<ConnId, AwaitingSign>,
    /// Logged-in connections: conn → (phone, device).
    pub(crate) logged_in: HashMap<ConnId, (String, u8)>,
    /// Stanza counters (`in:<tag>[:<xmlns>]`, `out:<tag>`).
    pub(crate) counters: Counters,
    next_lid: u64,
}

impl World {
    /// Creates (or returns) the account for `phone` with a fresh primary phone.
    pub fn create_account(&mut self, phone: &str, rng: &mut StdRng) -> Account {
        if let Some(a) = self.accounts.get(phone) {
            return a.clone();
        }
        self.next_lid += 1;
        let lid = format!(
            "{}",
            100_000_000_000_000u64 + self.next_lid * 7919 + u64::from(rng.next_u32() % 1000)
        );
        let account = Account {
            phone: phone.to_owned(),
            lid,
            primary: Phone {
                identity: KeyPair::generate(rng),
                registration_id: 1 + rng.next_u32() % 16380,
            },
            companions: BTreeMap::new(),
            next_device: 1,
            next_key_index: 1,
            faults: Faults::default(),
        };
        self.accounts.insert(phone.to_owned(), account.clone());
        account
    }

    /// The account for `phone`.
    pub fn account(&self, phone: &str) -> Option<&Account> {
        self.accounts.get(phone)
    }

    /// The account for `phone`, mutable.
    pub fn account_mut(&mut self, phone: &str) -> Option<&mut Account> {
        self.accounts.get_mut(phone)
    }

    /// All accounts.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// Reserves the next device number and key index of `phone`.
    pub fn reserve_device(&mut self, phone: &str) -> Option<(u8, u32)> {
        let a = self.accounts.get_mut(phone)?;
        let device = a.next_device;
        a.next_device = a.next_device.checked_add(1)?;
        let key_index = a.next_key_index;
        a.next_key_index += 1;
        Some((device, key_index))
    }

    /// Bumps a counter.
    pub fn count(&mut self, key: impl Into<String>) {
        *self.counters.entry(key.into()).or_insert(0) += 1;
    }

    /// A copy of the counters.
    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }
}
