//! # wagate
//!
//! The one binary: `serve` (the gateway, default), `sim` (the simulated WhatsApp network).
//!
//! ```text
//! wagate serve ─▶ wa-http (axum) ─▶ wa-client ─▶ wa-store (sled, wa_sessions/) ─▶ wa-protocol
//! wagate sim   ─▶ wa-sim (WebSocket + Noise responder with its own certificate root)
//! ```
//!
//! Configuration comes from flags and the environment (`WAGATE_*`); logs go through `tracing`
//! (`RUST_LOG`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use wa_sim::{SimConfig, SimEvent, SimServer};

#[derive(Debug, Parser)]
#[command(name = "wagate", version, about = "A self-contained WhatsApp gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(ServeArgs),
    /// Run wa-sim, the simulated WhatsApp network, standalone.
    Sim(SimArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address of the HTTP API.
    #[arg(long, env = "WAGATE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The session store's directory.
    #[arg(long, env = "WAGATE_DATA_DIR", default_value = wa_store::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Admin token for the admin routes. Required: there is no default.
    #[arg(long, env = "WAGATE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

#[derive(Debug, clap::Args)]
struct SimArgs {
    /// Address to listen on (port 0: the OS chooses).
    #[arg(long, env = "WA_SIM_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed for a reproducible server identity (root key, certificates).
    #[arg(long, env = "WA_SIM_SEED")]
    seed: Option<u64>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Some(Command::Sim(args)) => runtime.block_on(sim(args)),
        Some(Command::Serve(args)) => runtime.block_on(serve(args)),
        None => runtime.block_on(serve(ServeArgs::parse_from(["serve"]))),
    }
}

impl ServeArgs {
    fn parse_from<const N: usize>(args: [&str; N]) -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(args).serve
    }
}

/// Creates the data directory with owner-only permissions (0700).
fn prepare_data_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<()> {
    let Some(token) = args.admin_token.as_deref() else {
        bail!("an admin token is required: set WAGATE_ADMIN_TOKEN or pass --admin-token");
    };
    if token.len() < 16 {
        bail!("the admin token must be at least 16 characters");
    }
    prepare_data_dir(&args.data_dir)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(
        listen = %listener.local_addr()?,
        data_dir = %args.data_dir.display(),
        "wagate serving"
    );
    axum::serve(listener, wa_http::router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("HTTP server")?;
    Ok(())
}

async fn sim(args: SimArgs) -> Result<()> {
    let server = SimServer::start(SimConfig {
        bind: args.listen,
        seed: args.seed,
        ..SimConfig::default()
    })
    .await?;
    println!("wa-sim listening on {}", server.url());
    println!(
        "root public key: {}",
        hex::encode(server.root_key().as_bytes())
    );
    let mut events = server.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => match event {
                Ok(SimEvent::ClientPayload { conn, payload, .. }) => match payload {
                    Ok(p) => tracing::info!(conn, ?p, "client authenticated"),
                    Err(e) => tracing::warn!(conn, %e, "client payload refused"),
                },
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
