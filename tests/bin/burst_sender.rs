//! A gateway process for the crash test (`tests/crash_burst.rs`), which kills it with SIGKILL
//! in the middle of a burst and starts it again over the same store.
//!
//! ```text
//! WA_SIM_URL=ws://… WA_SIM_ROOT_KEY=<64 hex> \
//!   burst_sender --store DIR --to PHONE --count N --run R [--window W]
//! ```
//!
//! Opens the sled store in `DIR`. With no account there, it creates one and links it by QR
//! (the test's sim phone scans the code it prints); otherwise it restores the linked account.
//! Once connected it sends `N` texts `run R text i` to `PHONE`, `W` (default 8) in flight at
//! once, and prints each id only after `Gateway::send_text` returned `Ok` (the server
//! acknowledged it to the caller). Every received message is printed too, marked `pending`
//! when it came out of the store's pending reports at start (before the first connection
//! attempt: a report the previous process had not marked durably) and `live` otherwise. After
//! the burst it keeps running until stdin closes, then shuts down.
//!
//! stdout carries one JSON object per line:
//! `{"event":"qr","code"}`, `{"event":"connected"}`, `{"event":"acked","id","text"}`,
//! `{"event":"send-error","text","error"}`, `{"event":"received","id","from","text","phase"}`,
//! `{"event":"lagged","missed"}` (the event bus overflowed: reports were lost),
//! `{"event":"burst-done"}`. Exit code 2: bad arguments or environment, or a startup failure.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use wa_client::{Backoff, ClientConfig, Event, EventKind, Gateway, NewAccount};
use wa_protocol::binary::{Jid, Server};
use wa_protocol::connection::Config;
use wa_protocol::message::Content;
use wa_protocol::noise::TrustRoot;
use wa_protocol::signal::PublicKey;
use wa_store::{AccountId, SledStore, Store, StoreConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
struct Args {
    store: PathBuf,
    to: String,
    count: usize,
    run: usize,
    window: usize,
}

impl Args {
    fn parse() -> Result<Self, BoxError> {
        let mut args = std::env::args().skip(1);
        let (mut store, mut to, mut count, mut run, mut window) = (None, None, 0, 0, 8);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--store" => store = Some(PathBuf::from(value)),
                "--to" => to = Some(value),
                "--count" => count = value.parse()?,
                "--run" => run = value.parse()?,
                "--window" => window = value.parse::<usize>()?.max(1),
                other => return Err(format!("unknown flag {other}").into()),
            }
        }
        Ok(Self {
            store: store.ok_or("--store is required")?,
            to: to.ok_or("--to is required")?,
            count,
            run,
            window,
        })
    }
}

/// Prints one JSON line (and flushes it, so the test sees it before a kill). If stdout is
/// gone the test is gone: exit.
fn say(line: Value) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// The client configuration for the sim named by `WA_SIM_URL` and `WA_SIM_ROOT_KEY`, with
/// the tests' short reconnect backoff.
fn config() -> Result<ClientConfig, BoxError> {
    let url = std::env::var("WA_SIM_URL").map_err(|_| "WA_SIM_URL is not set")?;
    let root = hex::decode(std::env::var("WA_SIM_ROOT_KEY").unwrap_or_default())?;
    let root = PublicKey::from_slice(&root).ok_or("WA_SIM_ROOT_KEY is not 32 bytes")?;
    Ok(ClientConfig {
        url,
        connection: Config {
            trust: TrustRoot::new(root),
            ..Config::default()
        },
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            jitter: 0.2,
        },
        ..ClientConfig::default()
    })
}

/// Prints what the account reports; flips `connected` at the first `Connected`.
async fn report(mut bus: broadcast::Receiver<Event>, connected: watch::Sender<bool>) {
    let mut live = false;
    loop {
        let event = match bus.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                say(json!({"event": "lagged", "missed": missed}));
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        match event.kind {
            EventKind::Qr { code, .. } => say(json!({"event": "qr", "code": code})),
            EventKind::Connecting { .. } => live = true,
            EventKind::Connected { .. } => {
                say(json!({"event": "connected"}));
                connected.send_replace(true);
            }
            EventKind::Message(m) => {
                let text = match &m.content {
                    Content::Text(t) => Some(t.text.clone()),
                    _ => None,
                };
                say(json!({
                    "event": "received",
                    "id": m.id.as_str(),
                    "from": m.sender.phone.as_ref().map(Jid::user_part),
                    "text": text,
                    "phase": if live { "live" } else { "pending" },
                }));
            }
            _ => {}
        }
    }
}

/// Sends `count` texts, `window` in flight at once, printing each id once acknowledged.
async fn burst(gateway: &Arc<Gateway>, id: AccountId, args: &Args) {
    let to = Jid::user(args.to.as_str(), Server::WhatsApp);
    let mut in_flight = JoinSet::new();
    for i in 0..args.count {
        while in_flight.len() >= args.window {
            joined(in_flight.join_next().await);
        }
        let (gateway, to) = (Arc::clone(gateway), to.clone());
        let text = format!("run {} text {i}", args.run);
        in_flight.spawn(async move {
            match gateway.send_text(&id, to, text.clone()).await {
                Ok(sent) => say(json!({"event": "acked", "id": sent.id.as_str(), "text": text})),
                Err(e) => say(json!({"event": "send-error", "text": text, "error": e.to_string()})),
            }
        });
    }
    while let Some(done) = in_flight.join_next().await {
        joined(Some(done));
    }
}

fn joined(done: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(e)) = done {
        say(json!({"event": "send-error", "text": null, "error": e.to_string()}));
    }
}

async fn run() -> Result<(), BoxError> {
    let args = Args::parse()?;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&StoreConfig::at(&args.store))?);
    let gateway = Arc::new(Gateway::new(Arc::clone(&store), config()?));
    let (connected_tx, mut connected) = watch::channel(false);
    tokio::spawn(report(gateway.subscribe(), connected_tx));
    let existing = store.accounts()?.first().map(|a| a.id);
    let id = match existing {
        Some(id) => {
            gateway.restore().await?;
            id
        }
        None => {
            let account = gateway
                .create_account(NewAccount::with_random_token("burst"))
                .await?;
            gateway.link_qr(&account.id).await?;
            account.id
        }
    };
    connected.wait_for(|c| *c).await?;
    burst(&gateway, id, &args).await;
    say(json!({"event": "burst-done"}));
    // Keep receiving until the test closes stdin.
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
    gateway.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("burst_sender: {e}");
            ExitCode::from(2)
        }
    }
}
