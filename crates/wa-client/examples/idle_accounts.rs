//! Load harness: N accounts linked and idle in one wa-client process against a wa-sim running in
//! another process (so the figures are the client's alone). Reports the marginal resident
//! memory per idle account and the time to log every account back in after a restart.
//! With a second argument K, every account first exchanges one text each way with each of K
//! simulated phones (its store then holds K contacts' device lists, sessions and identities).
//!
//! ```sh
//! cargo build --release -p wagate -p wa-client --example idle_accounts
//! target/release/examples/idle_accounts 1000          # uses target/release/wagate for the sim
//! target/release/examples/idle_accounts 1000 10       # … after messages with 10 contacts each
//! ```

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, Semaphore};
use wa_client::{Backoff, ClientConfig, Event, EventKind, Gateway};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::connection::Config;
use wa_protocol::noise::TrustRoot;
use wa_protocol::signal::PublicKey;
use wa_store::{Account, AccountId, Durability, SledStore, Store, StoreConfig};

#[path = "support/sim_process.rs"]
mod sim_process;

type Events = broadcast::Receiver<Event>;

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// A minimal HTTP/1.1 POST for the sim's admin API (harness only).
fn post(addr: &str, path: &str, body: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    let ctype = if body.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

async fn wait_all(events: &mut Events, ids: &HashSet<AccountId>, what: &str, deadline: Duration) {
    let mut left = ids.clone();
    let wait = async {
        while !left.is_empty() {
            match events.recv().await {
                Ok(Event {
                    account: id,
                    kind: EventKind::Connected { .. },
                    ..
                }) if what == "connected" => {
                    left.remove(&id);
                }
                Ok(Event {
                    account: id,
                    kind: EventKind::Stopped,
                    ..
                }) if what == "stopped" => {
                    left.remove(&id);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n} events"),
                Err(e) => panic!("{e}"),
            }
        }
    };
    if tokio::time::timeout(deadline, wait).await.is_err() {
        panic!("{} accounts not {what} in time", left.len());
    }
}

fn client_config(url: &str, root: &PublicKey) -> ClientConfig {
    ClientConfig {
        url: url.to_owned(),
        connection: Config {
            trust: TrustRoot::new(*root),
            ..Config::default()
        },
        backoff: Backoff::default(),
        ..ClientConfig::default()
    }
}

/// Creates `n` sim accounts and the store's gateway accounts for them (autostart).
fn create_accounts(
    n: usize,
    admin: &str,
    store: &dyn Store,
) -> (HashSet<AccountId>, Vec<(AccountId, String)>) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut ids = HashSet::new();
    let mut phones = Vec::new();
    for i in 0..n {
        let phone = format!("1555{:07}", 2_000_000 + i);
        let reply = post(
            admin,
            "/admin/accounts",
            &format!("{{\"phone\":\"{phone}\"}}"),
        )
        .expect("admin API");
        assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
        let id = AccountId::generate(&mut rng);
        let mut account = Account::new(id, format!("acct{i}"), format!("tok{i}"), 0);
        account.autostart = true;
        store
            .create_account(&account, Durability::Buffered)
            .expect("account");
        ids.insert(id);
        phones.push((id, phone));
    }
    (ids, phones)
}

/// Phase 1 (its own process): create and link `n` accounts, then stop them.
async fn link_phase(
    (n, contacts): (usize, usize),
    dir: &std::path::Path,
    url: &str,
    admin: &str,
    root: &PublicKey,
) {
    let config = client_config(url, root);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&StoreConfig::at(dir)).expect("store"));
    let (ids, phones) = create_accounts(n, admin, store.as_ref());
    store.flush().expect("flush");
    let gateway = Arc::new(Gateway::new(Arc::clone(&store), config));
    let link_start = Instant::now();
    let gate = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for (id, phone) in phones.clone() {
        let gateway = Arc::clone(&gateway);
        let gate = Arc::clone(&gate);
        let admin = admin.to_owned();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore");
            let mut events = gateway.subscribe();
            gateway.link_qr(&id).await.expect("start linking");
            loop {
                match events.recv().await {
                    Ok(Event {
                        account: a,
                        kind: EventKind::Qr { code, .. },
                        ..
                    }) if a == id => {
                        let path = format!("/admin/phones/{phone}/scan");
                        let admin = admin.clone();
                        let reply = tokio::task::spawn_blocking(move || post(&admin, &path, &code))
                            .await
                            .expect("join")
                            .expect("scan");
                        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
                    }
                    Ok(Event {
                        account: a,
                        kind: EventKind::Connected { .. },
                        ..
                    }) if a == id => break,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("link task");
    }
    println!(
        "linked {n} accounts (812 prekeys each) in {:.1} s",
        link_start.elapsed().as_secs_f64()
    );
    if contacts > 0 {
        exchange(&gateway, &phones, contacts, admin).await;
    }
    let mut events = gateway.subscribe();
    gateway.shutdown(Duration::from_secs(60)).await;
    wait_all(&mut events, &ids, "stopped", Duration::from_secs(60)).await;
    store.flush().expect("flush");
}

/// Every account sends one text to each of `contacts` simulated phones and each of them
/// sends one back; returns once the gateway has reported every incoming text.
async fn exchange(
    gateway: &Arc<Gateway>,
    accounts: &[(AccountId, String)],
    contacts: usize,
    admin: &str,
) {
    let start = Instant::now();
    let contact_phones: Vec<String> = (0..contacts)
        .map(|c| format!("1555{:07}", 5_000_000 + c))
        .collect();
    for phone in &contact_phones {
        let reply = post(
            admin,
            "/admin/accounts",
            &format!("{{\"phone\":\"{phone}\"}}"),
        )
        .expect("admin API");
        assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    }
    let mut events = gateway.subscribe();
    let expected = accounts.len() * contacts;
    // Drained while the texts flow (the event bus is bounded).
    let counter = tokio::spawn(async move {
        let mut received = 0;
        while received < expected {
            match events.recv().await {
                Ok(Event {
                    kind: EventKind::Message(_),
                    ..
                }) => received += 1,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n} events"),
                Err(e) => panic!("{e}"),
            }
        }
    });
    let gate = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::new();
    for (id, phone) in accounts {
        for contact in &contact_phones {
            let (gateway, gate, id) = (Arc::clone(gateway), Arc::clone(&gate), *id);
            let to = Jid::user(contact.clone(), Server::WhatsApp);
            let (admin, contact, phone) = (admin.to_owned(), contact.clone(), phone.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire().await.expect("semaphore");
                gateway
                    .send_text(&id, to, "hello")
                    .await
                    .expect("send acked");
                let path = format!("/admin/phones/{contact}/send");
                let body = format!("{{\"to\":\"{phone}\",\"text\":\"hi\"}}");
                let reply = tokio::task::spawn_blocking(move || post(&admin, &path, &body))
                    .await
                    .expect("join")
                    .expect("phone send");
                assert!(reply.starts_with("HTTP/1.1 2"), "{reply}");
            }));
        }
    }
    for t in tasks {
        t.await.expect("exchange task");
    }
    match tokio::time::timeout(Duration::from_secs(300), counter).await {
        Ok(done) => done.expect("every text from a contact is reported"),
        Err(_) => panic!("texts from contacts not all reported within 300 s"),
    }
    println!(
        "{} accounts exchanged texts with {contacts} contacts each in {:.1} s",
        accounts.len(),
        start.elapsed().as_secs_f64()
    );
}

/// Phase 2 (a fresh process: "the gateway restarts"): restore every account, time the
/// re-login, and measure the resident memory of the idle, logged-in accounts.
async fn restore_phase(dir: &std::path::Path, url: &str, root: &PublicKey) {
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&StoreConfig::at(dir)).expect("store"));
    let ids: HashSet<AccountId> = store
        .accounts()
        .expect("accounts")
        .into_iter()
        .map(|a| a.id)
        .collect();
    let n = ids.len();
    let before = rss_kib();
    let gateway = Gateway::new(Arc::clone(&store), client_config(url, root));
    let mut events = gateway.subscribe();
    let start = Instant::now();
    let restored = gateway.restore().await.expect("restore");
    assert_eq!(restored, n);
    wait_all(&mut events, &ids, "connected", Duration::from_secs(120)).await;
    let relogin = start.elapsed();
    println!(
        "re-login of {n} accounts after a restart: {:.2} s ({:.2} ms per account)",
        relogin.as_secs_f64(),
        relogin.as_secs_f64() * 1000.0 / n as f64
    );
    // Idle for a few keepalive-free seconds, then measure.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kib();
    println!(
        "RSS {before} KiB (store open) → {after} KiB ({n} accounts logged in and idle): {:.1} KiB per account",
        after.saturating_sub(before) as f64 / n as f64
    );
    gateway.shutdown(Duration::from_secs(30)).await;
}

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next().unwrap_or_else(|| "1000".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if first == "--phase" {
        let phase = args.next().expect("phase");
        let dir = PathBuf::from(args.next().expect("dir"));
        let url = args.next().expect("url");
        let admin = args.next().expect("admin");
        let root: [u8; 32] = hex::decode(args.next().expect("root"))
            .ok()
            .and_then(|b| b.try_into().ok())
            .expect("root key");
        let root = PublicKey::from_bytes(root);
        let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
        let contacts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
        match phase.as_str() {
            "link" => runtime.block_on(link_phase((n, contacts), &dir, &url, &admin, &root)),
            _ => runtime.block_on(restore_phase(&dir, &url, &root)),
        }
        return;
    }
    let n: usize = first.parse().expect("number of accounts");
    let contacts: usize = args
        .next()
        .map_or(0, |c| c.parse().expect("number of contacts"));
    let sim = sim_process::SimProcess::spawn();
    let admin = sim.admin.to_string();
    let dir = std::env::temp_dir().join(format!("wagate-idle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exe = std::env::current_exe().expect("exe");
    for phase in ["link", "restore"] {
        let status = Command::new(&exe)
            .args(["--phase", phase])
            .arg(&dir)
            .args([&sim.url, &admin])
            .arg(hex::encode(sim.root.as_bytes()))
            .arg(n.to_string())
            .arg(contacts.to_string())
            .status()
            .expect("phase runs");
        assert!(status.success(), "phase {phase} failed");
    }
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}
