//! # wagate
//!
//! The one binary: `serve` (the gateway, default), `sim` (the simulated WhatsApp network),
//! `link` (link an account from the terminal) and `store` (check, export, import).
//!
//! ```text
//! wagate serve ─▶ wa-http (axum) ─▶ wa-client Registry ─▶ wa-store (sled, wa_sessions/) ─▶ wa-protocol
//! wagate link  ─▶ wa-client (one account) ─▶ QR / pair code in the terminal
//! wagate sim   ─▶ wa-sim (WebSocket + Noise responder with its own certificate root)
//! ```
//!
//! Configuration comes from flags and the environment (`WAGATE_*`); logs go through `tracing`
//! (`RUST_LOG`).

mod common;
mod config;
mod link;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use wa_client::Gateway;
use wa_sim::{SimConfig, SimEvent, SimServer};

use crate::common::open_store;
use crate::config::{OperatorError, ServeArgs};

#[derive(Debug, Parser)]
#[command(name = "wagate", version, about = "A self-contained WhatsApp gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(Box<ServeArgs>),
    /// Run wa-sim, the simulated WhatsApp network, standalone.
    Sim(SimArgs),
    /// Link a new account from the terminal (QR code, or a pair code with --phone).
    Link(link::LinkArgs),
    /// Session store maintenance.
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Debug, clap::Args)]
struct SimArgs {
    /// Address to listen on (port 0: the OS chooses).
    #[arg(long, env = "WA_SIM_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed for a reproducible server identity (root key, certificates).
    #[arg(long, env = "WA_SIM_SEED")]
    seed: Option<u64>,
    /// Create these accounts (phone numbers) at start.
    #[arg(long = "account", value_name = "PHONE")]
    accounts: Vec<wa_protocol::PhoneNumber>,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Verify that every record decodes; exit status 1 if any does not.
    Check(DataDir),
    /// Export one account (or all) to a single backup file.
    Export {
        #[command(flatten)]
        dir: DataDir,
        /// The backup file to write.
        file: PathBuf,
        /// Only this account (32 hex).
        #[arg(long)]
        account: Option<String>,
    },
    /// Import a backup file written by `export`.
    Import {
        #[command(flatten)]
        dir: DataDir,
        /// The backup file to read.
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct DataDir {
    /// The session store's directory.
    #[arg(long, env = "WAGATE_DATA_DIR", default_value = wa_store::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: log files and pipes get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Before any HTTP client is built (reqwest has no TLS provider of its own).
    wa_client::install_crypto_provider();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<OperatorError>() {
            // The operator's mistake: one line, status 2.
            Some(op) => {
                eprintln!("wagate: {op}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("wagate: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A command-line error as one line and status 2 (`--help` and `--version` print as usual).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            eprintln!("wagate: {}", OperatorError::Usage(first_line(&e)));
            ExitCode::from(2)
        }
    }
}

/// clap's message without its usage block and `error: ` prefix.
fn first_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_owned()
}

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Some(Command::Sim(args)) => runtime.block_on(sim(args)),
        Some(Command::Serve(args)) => runtime.block_on(serve(*args)),
        Some(Command::Link(args)) => runtime.block_on(link::run(args)),
        Some(Command::Store(cmd)) => store(cmd),
        None => {
            let args = ServeArgs::from_env().map_err(|e| OperatorError::Usage(first_line(&e)))?;
            runtime.block_on(serve(args))
        }
    }
}

impl ServeArgs {
    /// `serve`'s flags from the environment alone (`wagate` without a subcommand).
    fn from_env() -> std::result::Result<Self, clap::Error> {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::try_parse_from(["serve"]).map(|o| o.serve)
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let config = args.resolve()?;
    let store = open_store(&args.data_dir)?;
    let mut client = args.server.client_config()?;
    // The webhook worker acks each Message once its deliveries are queued (issue 12: at least
    // once across a crash); `wagate link` has no such consumer and keeps the client's marks.
    client.reports = wa_client::ReportAcks::Consumer;
    if let Some(name) = &config.os_name {
        client.connection.identity.os = name.clone();
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| OperatorError::Listen {
            addr: config.listen,
            source,
        })?;
    let local = listener.local_addr()?;
    // Media of accounts without S3 go below <data dir>/media, served at GET /media/... (issue 13).
    let objects = Arc::new(wa_http::objects::Objects::new(
        args.data_dir.join("media"),
        format!("http://{local}"),
    ));
    let gateway = Arc::new(Gateway::new(Arc::clone(&store), client));
    // Subscribed before restore() so the restored accounts' first events reach their webhooks.
    let webhooks = wa_http::webhooks::spawn(
        Arc::clone(&store),
        gateway.subscribe(),
        config.webhooks.clone(),
        Arc::clone(&gateway),
        Arc::clone(&objects),
    )
    .context("opening the webhook queue")?;
    let restored = gateway.restore().await.context("restoring accounts")?;
    tracing::info!(
        listen = %local,
        data_dir = %args.data_dir.display(),
        restored,
        webhook_format = ?config.webhooks.format,
        global_webhook = config.webhooks.global_url.is_some(),
        "wagate serving"
    );
    // One line on stdout for scripts and tests that start us on port 0.
    println!("wagate listening on http://{local}");
    let state = wa_http::AppState::new(Arc::clone(&gateway), config.http)
        .with_webhooks(webhooks.queue())
        .with_objects(objects);
    let retention = wa_http::objects::spawn_retention(state.clone(), wa_http::objects::SWEEP_EVERY);
    let dashboard = Arc::clone(&state.dashboard);
    wa_http::serve(
        listener,
        wa_http::router(state.clone()),
        &state.config,
        async move {
            let _ = tokio::signal::ctrl_c().await;
            // The dashboard's event streams end, or the graceful shutdown would wait for them.
            dashboard.close();
        },
    )
    .await;
    let stuck = gateway.shutdown(std::time::Duration::from_secs(10)).await;
    if stuck > 0 {
        tracing::warn!(stuck, "accounts did not stop in time");
    }
    webhooks.abort();
    retention.abort();
    store.flush().context("flushing the store")?;
    Ok(())
}

async fn sim(args: SimArgs) -> Result<()> {
    let server = SimServer::start(SimConfig {
        bind: args.listen,
        seed: args.seed,
        // Stanza events are only logged (at debug level) below.
        stanza_events: tracing::enabled!(tracing::Level::DEBUG),
        // Nothing below looks at them; the admin API reads the phones' inboxes.
        phone_events: false,
        ..SimConfig::default()
    })
    .await?;
    println!("wa-sim listening on {}", server.url());
    println!(
        "root public key: {}",
        hex::encode(server.root_key().as_bytes())
    );
    println!("admin API: {}", server.admin_url());
    for phone in &args.accounts {
        let a = server.create_account(phone);
        println!("account {} (lid {})", a.phone, a.lid);
    }
    let mut events = server.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => match event {
                Ok(SimEvent::ClientPayload { conn, payload, .. }) => match payload {
                    Ok(p) => tracing::info!(conn, ?p, "client authenticated"),
                    Err(e) => tracing::warn!(conn, %e, "client payload refused"),
                },
                Ok(SimEvent::Paired { conn, jid }) => tracing::info!(conn, %jid, "companion paired"),
                Ok(SimEvent::LoggedIn { conn, jid }) => tracing::info!(conn, %jid, "companion logged in"),
                Ok(SimEvent::ProtocolError { conn, error }) => tracing::warn!(conn, %error, "protocol error"),
                Ok(SimEvent::Stanza { conn, node }) => tracing::debug!(conn, %node, "stanza"),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => tracing::warn!(n, "events dropped"),
                Err(_) => break,
            },
        }
    }
    server.shutdown();
    Ok(())
}

fn store(cmd: StoreCommand) -> Result<()> {
    match cmd {
        StoreCommand::Check(dir) => {
            let store = open_store(&dir.data_dir)?;
            let report = store.check().context("checking the store")?;
            for (tree, count) in &report.counts {
                println!("{tree:<24} {count:>10}");
            }
            for problem in &report.problems {
                println!("PROBLEM: {problem}");
            }
            if report.problems.is_empty() {
                println!("ok: {} records decode", report.records());
                Ok(())
            } else {
                bail!("{} problem(s) found", report.problems.len())
            }
        }
        StoreCommand::Export { dir, file, account } => {
            let store = open_store(&dir.data_dir)?;
            let account = account
                .map(|a| a.parse::<wa_store::AccountId>())
                .transpose()
                .context("--account must be 32 hex characters")?;
            let summary = store.export(account.as_ref(), &file).context("exporting")?;
            println!(
                "exported {} account(s), {} records to {}",
                summary.accounts.len(),
                summary.entries,
                file.display()
            );
            Ok(())
        }
        StoreCommand::Import { dir, file } => {
            let store = open_store(&dir.data_dir)?;
            let summary = store
                .import(&file, wa_store::Durability::Durable)
                .context("importing")?;
            println!(
                "imported {} account(s), {} records",
                summary.accounts.len(),
                summary.entries
            );
            Ok(())
        }
    }
}
