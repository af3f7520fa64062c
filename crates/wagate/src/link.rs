//! `wagate link`: link a new account from the terminal. Shows the QR code (rendered with
//! Unicode half blocks, plus its text) or, with `--phone`, the pair code to type on the phone,
//! with a progress line, and exits once the account is logged in.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use tokio::sync::broadcast::error::RecvError;
use wa_client::{EventKind, Gateway, NewAccount};
use wa_protocol::PhoneNumber;
use wa_store::{AccountId, Durability, Store};

use crate::common::{open_store, ServerArgs};

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
    phone: Option<PhoneNumber>,
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
    let store: Arc<dyn Store> = open_store(&args.data_dir)?;
    let gateway = Gateway::new(Arc::clone(&store), args.server.client_config()?);
    let account = gateway
        .create_account(NewAccount::with_random_token(args.name.clone()))
        .await
        .context("creating the account")?;
    let id = account.id;
    let mut events = gateway.subscribe();
    let started = match &args.phone {
        None => gateway.link_qr(&id).await,
        Some(phone) => gateway.link_phone(&id, phone).await,
    };
    let outcome = match started {
        Ok(_) => follow(&args, &mut events, &id).await,
        Err(e) => Err(e.into()),
    };
    eprintln!();
    gateway.shutdown(Duration::from_secs(10)).await;
    match &outcome {
        Ok(()) => {
            println!("account id: {id}");
            println!("token: {}", account.token.expose());
        }
        // Leave nothing half-made behind: the account was never linked.
        Err(_) => {
            if let Err(error) = store.delete_account(&id, Durability::Durable) {
                tracing::warn!(%error, account = %id, "cannot delete the unlinked account");
            }
        }
    }
    store.flush().context("flushing the store")?;
    outcome
}

/// Shows the codes and progress until the account is logged in (or linking fails).
async fn follow(
    args: &LinkArgs,
    events: &mut tokio::sync::broadcast::Receiver<wa_client::Event>,
    id: &AccountId,
) -> Result<()> {
    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs(args.timeout));
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut status = if args.phone.is_some() {
        "asking for a pair code"
    } else {
        "connecting"
    };
    loop {
        let event = tokio::select! {
            () = &mut deadline => bail!("not linked within {} s", args.timeout),
            _ = ticker.tick() => {
                eprint!("\r[{:>3}s] {status}…   ", started.elapsed().as_secs());
                std::io::stderr().flush().context("writing the progress line")?;
                continue;
            }
            event = events.recv() => match event {
                Ok(e) if e.account == *id => e.kind,
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => bail!("event bus closed"),
            },
        };
        match event {
            EventKind::Qr { code, .. } if args.phone.is_none() => {
                println!("\nScan this QR code with WhatsApp → Linked devices → Link a device:");
                println!("{}", render_qr(&code)?);
                println!("qr: {code}");
                status = "waiting for the phone to scan";
            }
            EventKind::PairCode { code } => {
                println!("\nOn the phone: Linked devices → Link a device → Link with phone number, and enter:");
                println!("pair code: {code}");
                status = "waiting for the code to be entered";
            }
            EventKind::Paired { jid, .. } => {
                println!("\nlinked as {jid}; logging in");
                status = "logging in";
            }
            EventKind::Connected { jid, .. } => {
                println!("\nconnected as {jid}");
                return Ok(());
            }
            EventKind::QrTimeout => bail!("every QR code expired"),
            EventKind::PairError { code, text } => bail!("pairing failed: {code} {text}"),
            EventKind::LoggedOut { reason } => bail!("logged out: {reason:?}"),
            EventKind::Disconnected {
                cause,
                reconnect_in: None,
            } => return Err(anyhow!("disconnected: {cause:?}")),
            EventKind::Disconnected {
                reconnect_in: Some(d),
                ..
            } => {
                status = "reconnecting";
                tracing::debug!(?d, "reconnecting");
            }
            _ => {}
        }
    }
}
