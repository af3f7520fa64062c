//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tempfile::TempDir;
use wa_protocol::binary::Jid;
use wa_protocol::ids::PhoneNumber;
use wa_protocol::payload::ClientVersion;
use wa_protocol::signal::KeyPair;
use wa_store::{
    AccountId, DeviceIdentity, DeviceList, Durability, LidMapping, LidSource, ListedDevice,
    MemStore, PrivacyToken, ReceivedKey, ReceivedMessage, Secret, SendStep, SessionUpdate,
    SignedPreKey, SledStore, StatusEvent, Store, StoreConfig,
};

/// A fresh empty directory under the system temp dir, removed with its contents on drop.
pub fn test_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wa-store-{tag}-"))
        .tempdir()
        .expect("create test dir")
}

/// The chat the tests' outbox messages go to.
pub static CHAT: LazyLock<Jid> = LazyLock::new(|| jid("15550002222@s.whatsapp.net"));

/// Parses a JID the test knows to be valid.
pub fn jid(s: &str) -> Jid {
    s.parse().expect("valid jid")
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn account_id(n: u8) -> AccountId {
    let mut b = [0u8; 16];
    b[0] = 0xa0;
    b[15] = n;
    AccountId::from_bytes(b)
}

pub fn device(seed: u64) -> DeviceIdentity {
    let mut r = rng(seed);
    let identity = KeyPair::generate(&mut r);
    let spk = KeyPair::generate(&mut r);
    let signature = identity.private.sign(&spk.public.to_djb(), &mut r);
    DeviceIdentity {
        noise_key: KeyPair::generate(&mut r),
        identity_key: identity,
        registration_id: 12345 + seed as u32,
        signed_prekey: SignedPreKey {
            id: 1,
            key_pair: spk,
            signature,
            timestamp_ms: 1_700_000_000_000,
        },
        adv_secret: Secret::new([7u8; 32]),
        jid: Some(jid("15550001111:3@s.whatsapp.net")),
        lid: Some(jid("123456789:3@lid")),
        platform: "Chrome".into(),
        push_name: "Test".into(),
        business_name: Some("Test Shop".into()),
        adv_signed_identity: Some(vec![1, 2, 3, 4]),
        client_version: ClientVersion {
            primary: 2,
            secondary: 3000,
            tertiary: 1_015_901_307,
        },
        lid_migrated: true,
    }
}

/// A backend under test plus whatever keeps it alive.
pub struct Subject {
    pub store: Arc<dyn Store>,
    pub _dir: Option<TempDir>,
}

/// The in-memory backend.
pub fn mem() -> Subject {
    Subject {
        store: Arc::new(MemStore::new()),
        _dir: None,
    }
}

/// The durable backend in a fresh directory.
pub fn sled() -> Subject {
    let dir = test_dir("conf");
    let store = SledStore::open(&StoreConfig::at(dir.path().join("wa_sessions"))).expect("open");
    Subject {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

/// The contact the messaging records of `populate_messaging` are about.
pub fn contact() -> (PhoneNumber, Jid) {
    (
        "15550003333".parse().expect("phone"),
        jid("987650003333@lid"),
    )
}

/// Adds one record of every messaging kind to account `n` (which has outbox entry "M"):
/// a device list, a PN ↔ LID mapping, a push name, a privacy token, an issued-token time, a received
/// message, and "M" sent and acknowledged.
pub fn populate_messaging(s: &dyn Store, n: u8) {
    let a = account_id(n);
    let b = Durability::Buffered;
    let (pn, lid) = contact();
    let list = DeviceList {
        user: lid.clone(),
        devices: vec![
            ListedDevice {
                id: 0,
                key_index: None,
                hosted: false,
            },
            ListedDevice {
                id: u16::from(n) + 1,
                key_index: Some(u32::from(n)),
                hosted: false,
            },
        ],
        key_index_ts: Some(1_700_000_000),
        hash: Some(format!("2:hash{n}")),
        fetched_ms: 77,
    };
    s.save_device_list(&a, &list, b).expect("device list");
    let m = LidMapping {
        pn,
        lid: lid.clone(),
        source: LidSource::Usync,
        learnt_ms: 78,
    };
    s.save_lid_mapping(&a, &m, b).expect("lid");
    let name = wa_store::PushName {
        pn: contact().0,
        name: format!("Contact {n}"),
        learnt_ms: 78,
    };
    s.save_push_name(&a, &name, b).expect("push name");
    let token = PrivacyToken {
        token: vec![n; 24],
        t: 1_700_000_000,
        received_ms: 79,
    };
    s.save_privacy_token(&a, &lid, &token, b).expect("token");
    s.record_token_issued(&a, &lid, 1_700_000_100, b)
        .expect("issued");
    let rec = [n; 30];
    let sessions = [SessionUpdate {
        address: "987650003333_1.0",
        record: &rec,
    }];
    let r = ReceivedMessage {
        key: ReceivedKey {
            chat: &lid,
            sender: &lid,
            id: "IN1",
        },
        t: 1_700_000_001,
        sessions: &sessions,
        prekey_id: None,
        identity: None,
        sender_keys: &[],
        report: Some(&[n; 5]),
        now_ms: 80,
    };
    s.commit_received(&a, &r, b).expect("received");
    let step = SendStep {
        message_id: "M",
        sessions: &[],
        sender_key: None,
        now_ms: 81,
    };
    s.commit_send(&a, &step, b).expect("send");
    s.record_status(
        &a,
        "M",
        StatusEvent::ServerAck {
            server_t: 1_700_000_002,
        },
        82,
        b,
    )
    .expect("ack");
}

/// What `populate_messaging` wrote, as readable through the store.
pub fn messaging_fingerprint(s: &dyn Store, n: u8) -> String {
    let a = account_id(n);
    let (pn, lid) = contact();
    let key = ReceivedKey {
        chat: &lid,
        sender: &lid,
        id: "IN1",
    };
    format!(
        "|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.push_names(&a).expect("push names"),
        s.device_list(&a, &lid).expect("dl"),
        s.lid_for_pn(&a, &pn).expect("lid"),
        s.pn_for_lid(&a, &lid).expect("pn"),
        s.privacy_token(&a, &lid).expect("tok").map(|t| t.token),
        s.token_issued(&a, &lid).expect("issued"),
        s.is_received(&a, &key).expect("rcv"),
        s.load_session(&a, "987650003333_1.0").expect("s"),
        s.message_status(&a, "M").expect("status"),
        s.pending_reports(&a, 10).expect("reports"),
    )
}
