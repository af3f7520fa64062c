//! Resident memory per idle account: creates N accounts (default 1,000), each with a device
//! identity, 812 unused one-time prekeys and a signed prekey; then a **fresh process** (this
//! example re-run with `--measure`, so the allocator holds nothing from the writing phase) opens
//! the store as the gateway does at startup, loads every account and device identity (what an
//! idle registry keeps) and counts its prekeys, and prints the RSS growth from /proc/self/statm.
//!
//! `cargo run --release --example memory -- [accounts] [dir]`

use std::time::Instant;

use rand::SeedableRng;
use wa_protocol::binary::{Jid, Server};
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
    let first = args.next();
    if first.as_deref() == Some("--measure") {
        let n: u32 = args.next().and_then(|s| s.parse().ok()).expect("accounts");
        let dir = args.next().expect("dir");
        measure(n, &dir);
        return;
    }
    let n: u32 = first.and_then(|s| s.parse().ok()).unwrap_or(1000);
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
                jid: Some(Jid::device(format!("1555{i:07}"), 2, Server::WhatsApp)),
                lid: None,
                platform: "Chrome".into(),
                push_name: format!("acct {i}"),
                business_name: None,
                adv_signed_identity: Some(vec![0; 200]),
                client_version: ClientVersion::default(),
                lid_migrated: false,
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
    println!("disk: {:.1} MiB", disk as f64 / 1048576.0);
    let status = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["--measure", &n.to_string(), &dir])
        .status()
        .expect("measuring process");
    assert!(status.success(), "measuring process failed");
    let _ = std::fs::remove_dir_all(&dir);
}

fn measure(n: u32, dir: &str) {
    let mut config = StoreConfig::at(dir);
    // MEMORY_CACHE_MB: another sled page-cache budget for the measuring process.
    if let Some(mb) = std::env::var("MEMORY_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        config.cache_capacity = mb << 20;
    }
    let before = rss_bytes();
    let store = SledStore::open(&config).expect("reopen");
    let after_open = rss_bytes();
    // What a registry of idle accounts holds: the account and its device identity.
    let mut registry = Vec::new();
    for acc in store.accounts().expect("accounts") {
        let device = store.device(&acc.id).expect("device").expect("present");
        registry.push((acc, device));
    }
    let loaded = rss_bytes();
    // Then every account's 812 prekeys read once (a scan through sled's page cache).
    for (acc, _) in &registry {
        let counts = store.prekey_counts(&acc.id).expect("counts");
        assert_eq!(counts.total, 812);
    }
    let counted = rss_bytes();
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "fresh process RSS: before open {:.1} MiB, after open {:.1} MiB, after loading {} \
         accounts {:.1} MiB, after counting their prekeys {:.1} MiB",
        mib(before),
        mib(after_open),
        registry.len(),
        mib(loaded),
        mib(counted)
    );
    println!(
        "per idle account: {:.1} KiB loaded ({:.1} KiB beyond the store's fixed cost), {:.1} KiB \
         after a prekey scan of every account (sled cache budget {} MiB)",
        (loaded - before) as f64 / f64::from(n) / 1024.0,
        (loaded - after_open) as f64 / f64::from(n) / 1024.0,
        (counted - before) as f64 / f64::from(n) / 1024.0,
        config.cache_capacity / 1048576
    );
    drop(registry);
    drop(store);
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
