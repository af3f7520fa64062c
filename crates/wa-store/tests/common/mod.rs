//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::LazyLock;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tempfile::TempDir;
use wa_protocol::binary::Jid;
use wa_protocol::payload::ClientVersion;
use wa_protocol::signal::KeyPair;
use wa_store::{AccountId, DeviceIdentity, Secret, SignedPreKey};

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
    }
}
