//! # wagate
//!
//! The one binary: `serve` (the gateway, default), `demo` (a first look, offline), `sim` (the
//! simulated WhatsApp network), `link` (link an account from the terminal) and `store` (check,
//! export, import).
//!
//! ```text
//! wagate serve ─▶ wa-http (axum) ─▶ wa-client Registry ─▶ wa-store (sled, wa_sessions/) ─▶ wa-protocol
//! wagate link  ─▶ wa-client (one account) ─▶ QR / pair code in the terminal
//! wagate demo  ─▶ wa-sim + `serve` in one process, a demo session linked by a simulated phone
//! wagate sim   ─▶ wa-sim (WebSocket + Noise responder with its own certificate root)
//! ```
//!
//! Configuration comes from flags and the environment (`WAGATE_*`); logs go through `tracing`
//! (`logging.rs`: `--log-format`, `--log` / `RUST_LOG`).

mod common;
mod config;
mod demo;
mod link;
mod logging;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use wa_sim::{SimConfig, SimEvent, SimServer};

use crate::common::open_store;
use crate::config::{OperatorError, ServeArgs};

#[derive(Debug, Parser)]
#[command(name = "wagate", version, about = "A self-contained WhatsApp gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    log: logging::LogArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(Box<ServeArgs>),
    /// A first look, offline: wa-sim and the gateway in one process, with a linked session.
    ///
    /// Links the session `demo` through a simulated phone, has a second one say hello, and
    /// prints the dashboard URL, the tokens, the phones and a curl that sends a message.
    /// Ctrl-C or SIGTERM stops everything.
    Demo(demo::DemoArgs),
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
    // Before any HTTP client is built (reqwest has no TLS provider of its own).
    wa_client::install_crypto_provider();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    logging::init(&cli.log);
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
        Some(Command::Serve(args)) => runtime.block_on(serve::command(*args)),
        Some(Command::Demo(args)) => runtime.block_on(demo::run(args)),
        Some(Command::Link(args)) => runtime.block_on(link::run(args)),
        Some(Command::Store(cmd)) => store(cmd),
        None => {
            let args = ServeArgs::from_env().map_err(|e| OperatorError::Usage(first_line(&e)))?;
            runtime.block_on(serve::command(args))
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
