//! Resident memory per idle account: creates N accounts (default 1,000), each with a device
//! identity, 812 unused one-time prekeys and a signed prekey, reopens the store as the gateway
//! does at startup, loads every account and device identity (what an idle registry keeps), and
//! prints the RSS growth from /proc/self/statm.
//!
//! `cargo run --release --example memory -- [accounts] [dir]`

use std::time::Instant;

use rand::SeedableRng;
use wa_protocol::payload::ClientVersion;
use wa_protocol::signal::KeyPair;
use wa_store::{
    Account, AccountId, DeviceIdentity, Durability, Secret, SignedPreKey, SledStore, Store,
    StoreConfig,
};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let dir = args.next().unwrap_or_else(|| {
        std::env::temp_dir()
            .join("wa-store-memory")
            .display()
            .to_string()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let config = StoreConfig::at(&dir);
    let t = Instant::now();
    {
        let store = SledStore::open(&config).expect("open");
        for i in 0..n {
            let id = AccountId::generate(&mut rng);
            let identity = KeyPair::generate(&mut rng);
            let spk = KeyPair::generate(&mut rng);
            let signature = identity.private.sign(&spk.public.to_djb(), &mut rng);
            let device = DeviceIdentity {
                noise_key: KeyPair::generate(&mut rng),
                identity_key: identity,
                registration_id: i,
                signed_prekey: SignedPreKey {
                    id: 1,
                    key_pair: spk,
                    signature,
                    timestamp_ms: 1,
                },
                adv_secret: Secret::new([1; 32]),
                jid: Some(format!("1555{i:07}:2@s.whatsapp.net")),
                lid: None,
                platform: "Chrome".into(),
                push_name: format!("acct {i}"),
                adv_signed_identity: Some(vec![0; 200]),
                client_version: ClientVersion::default(),
            };
            store
                .create_account(
                    &Account::new(id, format!("acct{i}"), format!("token-{i}"), 1),
                    Durability::Buffered,
                )
                .expect("account");
            store
                .save_device(&id, &device, Durability::Buffered)
                .expect("device");
            store
                .save_signed_prekey(&id, &device.signed_prekey, Durability::Buffered)
                .expect("spk");
            store
                .add_prekeys(&id, 812, &mut rng, Durability::Buffered)
                .expect("prekeys");
        }
        store.flush().expect("flush");
        println!(
            "populated {n} accounts x 812 prekeys in {:.1?}; RSS while writing {:.1} MiB",
            t.elapsed(),
            rss_bytes() as f64 / 1048576.0
        );
    }
    let disk: u64 = walk(std::path::Path::new(&dir));
    let before = rss_bytes();
    let store = SledStore::open(&config).expect("reopen");
    let after_open = rss_bytes();
    // What a registry of idle accounts holds: the account and its device identity.
    let mut registry = Vec::new();
    for acc in store.accounts().expect("accounts") {
        let device = store.device(&acc.id).expect("device").expect("present");
        let counts = store.prekey_counts(&acc.id).expect("counts");
        assert_eq!(counts.total, 812);
        registry.push((acc, device));
    }
    let after = rss_bytes();
    println!("disk: {:.1} MiB", disk as f64 / 1048576.0);
    println!(
        "RSS: before open {:.1} MiB, after open {:.1} MiB, after loading {} accounts {:.1} MiB",
        before as f64 / 1048576.0,
        after_open as f64 / 1048576.0,
        registry.len(),
        after as f64 / 1048576.0
    );
    println!(
        "per idle account (incl. counting its 812 prekeys once): {:.1} KiB (cache budget {} MiB)",
        (after - before) as f64 / f64::from(n) / 1024.0,
        config.cache_capacity / 1048576
    );
    drop(registry);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
