//! `wagate link`: link a new account from the terminal. Shows the QR code (rendered with
//! Unicode half blocks, plus its text) or, with `--phone`, the pair code to type on the phone,
//! with a progress line, and exits once the account is logged in.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::sync::broadcast::error::RecvError;
use wa_client::{ClientEvent, Registry};
use wa_store::{Account, AccountId, Durability, Store};

use crate::ServerArgs;

/// Arguments of `wagate link`.
#[derive(Debug, clap::Args)]
pub(crate) struct LinkArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The session store's directory.
    #[arg(long, env = "WAGATE_DATA_DIR", default_value = wa_store::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Link with a pair code for this phone number (international format) instead of a QR.
    #[arg(long)]
    phone: Option<wa_protocol::PhoneNumber>,
    /// Name of the gateway account to create.
    #[arg(long, default_value = "default")]
    name: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 200)]
    timeout: u64,
}

fn render_qr(text: &str) -> Result<String> {
    let code = QrCode::new(text.as_bytes()).context("encoding the QR code")?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

pub(crate) async fn run(args: LinkArgs) -> Result<()> {
    let store: Arc<dyn Store> = crate::open_store(&args.data_dir)?;
    let mut rng = StdRng::from_entropy();
    let id = AccountId::generate(&mut rng);
    let mut token = [0u8; 24];
    rng.fill_bytes(&mut token);
    let token = hex::encode(token);
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
    )
    .unwrap_or(0);
    let mut account = Account::new(id, args.name.clone(), token.clone(), now_ms);
    account.autostart = true;
    store
        .create_account(&account, Durability::Durable)
        .context("creating the account")?;

    let registry = Registry::new(Arc::clone(&store), args.server.client_config()?);
    let mut events = registry.subscribe();
    let handle = registry.start(&id);
    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs(args.timeout));
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut status = "connecting";
    let mut asked_code = false;
    let outcome = loop {
        tokio::select! {
            () = &mut deadline => break Err(anyhow::anyhow!("not linked within {} s", args.timeout)),
            _ = ticker.tick() => {
                eprint!("\r[{:>3}s] {status}…   ", started.elapsed().as_secs());
                let _ = std::io::stderr().flush();
            }
            event = events.recv() => {
                let (account_id, event) = match event {
                    Ok(e) => e,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break Err(anyhow::anyhow!("event bus closed")),
                };
                if account_id != id {
                    continue;
                }
                match event {
                    ClientEvent::Qr { code, .. } => match &args.phone {
                        None => {
                            println!("\nScan this QR code with WhatsApp → Linked devices → Link a device:");
                            println!("{}", render_qr(&code)?);
                            println!("qr: {code}");
                            status = "waiting for the phone to scan";
                        }
                        Some(phone) if !asked_code => {
                            asked_code = true;
                            handle.pair_phone(phone);
                            status = "asking for a pair code";
                        }
                        Some(_) => {}
                    },
                    ClientEvent::PairCode { code } => {
                        println!("\nOn the phone: Linked devices → Link a device → Link with phone number, and enter:");
                        println!("pair code: {code}");
                        status = "waiting for the code to be entered";
                    }
                    ClientEvent::Paired { jid } => {
                        println!("\nlinked as {jid}; logging in");
                        status = "logging in";
                    }
                    ClientEvent::Connected { jid, .. } => {
                        println!("\nconnected as {jid}");
                        println!("account id: {id}");
                        println!("token: {token}");
                        break Ok(());
                    }
                    ClientEvent::QrTimeout => break Err(anyhow::anyhow!("every QR code expired")),
                    ClientEvent::PairError { code, text } => {
                        break Err(anyhow::anyhow!("pairing failed: {code} {text}"))
                    }
                    ClientEvent::LoggedOut { reason } => {
                        break Err(anyhow::anyhow!("logged out: {reason:?}"))
                    }
                    ClientEvent::Disconnected { cause, reconnect_in: None } => {
                        break Err(anyhow::anyhow!("disconnected: {cause:?}"))
                    }
                    ClientEvent::Disconnected { reconnect_in: Some(d), .. } => {
                        status = "reconnecting";
                        tracing::debug!(?d, "reconnecting");
                    }
                    _ => {}
                }
            }
        }
    };
    eprintln!();
    registry.shutdown_and_wait(Duration::from_secs(10)).await;
    if outcome.is_err() {
        // Leave nothing half-made behind: the account was never linked.
        let _ = store.delete_account(&id, Durability::Durable);
    }
    store.flush().context("flushing the store")?;
    match outcome {
        Ok(()) => Ok(()),
        Err(e) => bail!(e),
    }
}
