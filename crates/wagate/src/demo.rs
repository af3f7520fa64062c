//! `wagate demo`: a first look, offline and without configuration (issue 14 item 1). One
//! process runs wa-sim (the simulated WhatsApp network) and the gateway exactly as
//! `wagate serve` runs it ([`crate::serve::Serving`]), creates the session `demo`, links it
//! through the simulated phone of [`DEMO_PHONE`] (the phone scans the gateway's QR code),
//! has a second simulated phone ([`FRIEND_PHONE`]) say hello, waits for the gateway to
//! receive it, and prints what a first look needs ([`DemoInfo`]): the dashboard URL, the
//! admin token, the demo session's token, the phone numbers, the sim's admin API and a curl
//! that sends a message. Ctrl-C or SIGTERM stops the gateway (the store flushed), then the
//! sim, and exits 0. A step that fails prints one line and exits non-zero.
//!
//! | flag | default |
//! |---|---|
//! | `--listen` | `127.0.0.1:8080`; when that port is taken, a free port (printed) |
//! | `--data-dir` (must be empty or absent: the sim is new each run) | a new `wagate-demo-<hex>` directory under the system temp dir, kept after exit |
//! | `--admin-token` / `WAGATE_ADMIN_TOKEN` (≥ 16 characters) | a random token (48 hex), printed once |
//! | `--sim-listen` | `127.0.0.1:0` (a free port) |
//!
//! Webhooks may target loopback and private addresses here (a receiver on the same machine is
//! the usual first try); `wagate serve` refuses them unless `--webhook-allow-private`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use rand::RngCore;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::oneshot;
use wa_client::{ClientConfig, Event, EventKind, Gateway, NewAccount};
use wa_http::webhooks::WebhookConfig;
use wa_http::HttpConfig;
use wa_protocol::message::Content;
use wa_protocol::PhoneNumber;
use wa_sim::{SimConfig, SimServer};
use wa_store::AccountId;

use crate::common::ServerArgs;
use crate::config::{OperatorError, ServeConfig, MIN_ADMIN_TOKEN};
use crate::serve::{stop_signal, Serving};

/// The demo session's phone: a made-up number in the 555-01xx range that North American
/// numbering keeps for fiction (the tests' numbers come from the same range).
const DEMO_PHONE: &str = "15550100001";
/// The second simulated phone, which says hello to the demo session.
const FRIEND_PHONE: &str = "15550100002";
/// The gateway's address when `--listen` is not given.
const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);
/// What the second phone says.
const HELLO: &str = "hello from +15550100002, a simulated phone";
/// The message the printed curl sends.
const REPLY: &str = "Hello from the wagate demo";
/// The name of the demo session (the wuzapi user).
const SESSION_NAME: &str = "demo";
/// How long each step (QR shown, linked, hello received) may take.
const STEP_DEADLINE: Duration = Duration::from_secs(30);

/// Arguments of `wagate demo`. No environment variable but the admin token's is read: the
/// demo never touches a real store or server.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Address of the gateway's HTTP API and dashboard [default: 127.0.0.1:8080, or a free
    /// port when 8080 is taken].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for the demo's session store; must be empty or absent [default: a new
    /// wagate-demo-<hex> directory under the system temp dir, kept after exit].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Admin token, at least 16 characters [default: a random one, printed].
    #[arg(long, env = "WAGATE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Address of the simulated WhatsApp network (its WebSocket and admin API).
    #[arg(long, default_value = "127.0.0.1:0")]
    sim_listen: SocketAddr,
}

/// The admin token, and whether the demo made it (then it is printed).
struct AdminToken {
    token: String,
    generated: bool,
}

/// The linked demo session and the hello it received.
struct DemoSession {
    token: String,
    hello: String,
}

/// Runs the demo until Ctrl-C or SIGTERM.
///
/// # Errors
/// A bad flag or data directory ([`OperatorError`]), the sim or the gateway not starting, or
/// a step of the demo failing or missing its deadline.
pub(crate) async fn run(args: DemoArgs) -> Result<()> {
    let mut stop = Box::pin(stop_signal()?);
    let admin = admin_token(args.admin_token.as_deref())?;
    let data_dir = prepare_data_dir(args.data_dir.as_deref())?;
    println!("wagate demo: data dir {}", data_dir.display());
    let sim = start_sim(args.sim_listen).await?;
    println!("wa-sim listening on {}", sim.url());
    let serving = start_gateway(args.listen, &sim, &admin.token, &data_dir).await?;
    let addr = serving.addr();
    println!("wagate listening on http://{addr}");
    let state = serving.state().clone();
    let make_info = |session: DemoSession| DemoInfo {
        base: format!("http://{addr}"),
        login_link: format!("http://{addr}{}", state.dashboard.one_time_link()),
        admin_token: admin.generated.then(|| admin.token.clone()),
        user_token: session.token,
        hello: session.hello,
        sim_admin: sim.admin_url(),
        data_dir: data_dir.clone(),
    };
    let ready_info = info_when_ready(&state.gateway, &sim, make_info);
    let (stop_serving, serving_stopped) = oneshot::channel::<()>();
    let script = async {
        // A signal during the set-up stops it too (then nothing is printed).
        let ready = tokio::select! {
            ready = ready_info => ready.map(Some),
            () = &mut stop => Ok(None),
        };
        if let Ok(Some(info)) = &ready {
            info.print();
            stop.await;
        }
        println!("stopping");
        let _ = stop_serving.send(());
        ready.map(drop)
    };
    let stopped = async {
        let _ = serving_stopped.await;
    };
    let (served, scripted) = tokio::join!(serving.run(stopped), script);
    sim.shutdown();
    scripted?;
    served?;
    println!("stopped; the store is kept at {}", data_dir.display());
    Ok(())
}

/// Links the demo session and waits for the hello, then builds what is printed.
async fn info_when_ready(
    gateway: &Gateway,
    sim: &SimServer,
    info: impl FnOnce(DemoSession) -> DemoInfo,
) -> Result<DemoInfo> {
    let session = link_and_greet(gateway, sim).await?;
    Ok(info(session))
}

/// The operator's token (checked like `wagate serve`'s) or a random one.
fn admin_token(given: Option<&str>) -> Result<AdminToken, OperatorError> {
    match given.map(str::trim).filter(|t| !t.is_empty()) {
        Some(token) if token.chars().count() < MIN_ADMIN_TOKEN => Err(OperatorError::TooShort {
            what: "the admin token",
            min: MIN_ADMIN_TOKEN,
        }),
        Some(token) => Ok(AdminToken {
            token: token.to_owned(),
            generated: false,
        }),
        None => Ok(AdminToken {
            token: random_hex(24),
            generated: true,
        }),
    }
}

/// `bytes` random bytes from the OS as hex.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Creates the data directory: `given` must be empty or absent (a store of an earlier demo
/// holds a session linked to a sim that is gone); without one, a new directory under the
/// system temp dir.
fn prepare_data_dir(given: Option<&Path>) -> Result<PathBuf> {
    let Some(dir) = given else {
        let dir = std::env::temp_dir().join(format!("wagate-demo-{}", random_hex(4)));
        std::fs::create_dir(&dir)
            .with_context(|| format!("creating the data dir {}", dir.display()))?;
        return Ok(dir);
    };
    let refuse = || OperatorError::Invalid {
        what: "--data-dir",
        value: dir.display().to_string(),
        expected: "an empty or new directory (the demo's simulated network is new each run)",
    };
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => {}
        Ok(false) => return Err(refuse().into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return Err(refuse().into()),
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data dir {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// wa-sim with its defaults on `bind`, with the accounts of both phones.
async fn start_sim(bind: SocketAddr) -> Result<SimServer> {
    let sim = SimServer::start(SimConfig {
        bind,
        // Nothing here subscribes to the sim's events: the demo waits on the gateway's.
        stanza_events: false,
        phone_events: false,
        ..SimConfig::default()
    })
    .await
    .context("starting wa-sim")?;
    for phone in [DEMO_PHONE, FRIEND_PHONE] {
        let phone: PhoneNumber = phone.parse().context("a demo phone number")?;
        sim.create_account(&phone);
    }
    Ok(sim)
}

/// The gateway against `sim`, as `wagate serve` runs it, on `listen` (or 127.0.0.1:8080,
/// falling back to a free port when that one is taken).
async fn start_gateway(
    listen: Option<SocketAddr>,
    sim: &SimServer,
    admin_token: &str,
    data_dir: &Path,
) -> Result<Serving> {
    let client = client_config(sim)?;
    let first = Serving::start(
        serve_config(listen.unwrap_or(DEFAULT_LISTEN), admin_token),
        data_dir,
        client.clone(),
    )
    .await;
    match first {
        Err(e) if listen.is_none() && address_in_use(&e) => {
            println!("{DEFAULT_LISTEN} is taken: listening on a free port instead");
            let free = SocketAddr::new(DEFAULT_LISTEN.ip(), 0);
            Serving::start(serve_config(free, admin_token), data_dir, client).await
        }
        other => other,
    }
}

fn address_in_use(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<OperatorError>(),
        Some(OperatorError::Listen { source, .. }) if source.kind() == std::io::ErrorKind::AddrInUse
    )
}

/// `wagate serve`'s defaults, but webhooks may target loopback and private addresses.
fn serve_config(listen: SocketAddr, admin_token: &str) -> ServeConfig {
    let mut http = HttpConfig::new(admin_token);
    http.webhook_allow_private = true;
    ServeConfig {
        listen,
        http,
        webhooks: WebhookConfig {
            allow_private: true,
            ..WebhookConfig::default()
        },
        os_name: None,
    }
}

/// The connection settings `wagate serve --wa-url <sim> --trust-root <sim's root>` gets.
fn client_config(sim: &SimServer) -> Result<ClientConfig> {
    ServerArgs {
        wa_url: sim.url(),
        trust_root: Some(hex::encode(sim.root_key().as_bytes())),
        client_version: None,
        media_scheme: None,
        media_host: None,
    }
    .client_config()
}

/// Creates the session, links it by QR through the sim's phone, has the second phone say
/// hello and waits until the gateway has received it.
async fn link_and_greet(gateway: &Gateway, sim: &SimServer) -> Result<DemoSession> {
    let account = gateway
        .create_account(NewAccount::with_random_token(SESSION_NAME))
        .await
        .context("creating the demo session")?;
    let id = account.id;
    let mut events = gateway.subscribe();
    println!("linking the demo session through the simulated phone +{DEMO_PHONE}");
    gateway
        .link_qr(&id)
        .await
        .context("starting the demo session")?;
    let qr = next_event(&mut events, &id, "show a QR code", |kind| match kind {
        EventKind::Qr { code, .. } => Some(Ok(code.clone())),
        other => link_failure(other),
    })
    .await?;
    sim.scan(DEMO_PHONE, &qr)
        .context("the simulated phone scanning the QR code")?;
    let jid = next_event(&mut events, &id, "log in", |kind| match kind {
        EventKind::Connected { jid, .. } => Some(Ok(jid.clone())),
        other => link_failure(other),
    })
    .await?;
    println!("linked: the demo session is {jid}");
    sim.phone_send(FRIEND_PHONE, DEMO_PHONE, HELLO)
        .context("the second simulated phone saying hello")?;
    let hello = next_event(&mut events, &id, "receive the hello", |kind| match kind {
        EventKind::Message(m) => match &m.content {
            Content::Text(t) if t.text == HELLO => Some(Ok(t.text.clone())),
            _ => None,
        },
        other => link_failure(other),
    })
    .await?;
    println!("received: {hello}");
    Ok(DemoSession {
        token: account.token.expose().to_owned(),
        hello,
    })
}

/// The events that end the demo's linking: the session is gone or will not come back.
fn link_failure<T>(kind: &EventKind) -> Option<Result<T>> {
    let why = match kind {
        EventKind::QrTimeout => "every QR code expired".to_owned(),
        EventKind::PairError { code, text } => format!("pairing failed: {code} {text}"),
        EventKind::LoggedOut { reason } => format!("logged out: {reason:?}"),
        EventKind::Disconnected {
            cause,
            reconnect_in: None,
        } => format!("disconnected: {cause:?}"),
        _ => return None,
    };
    Some(Err(anyhow!("the demo session failed: {why}")))
}

/// The first event of account `id` that `pick` answers, within [`STEP_DEADLINE`].
async fn next_event<T>(
    events: &mut broadcast::Receiver<Event>,
    id: &AccountId,
    what: &str,
    mut pick: impl FnMut(&EventKind) -> Option<Result<T>>,
) -> Result<T> {
    let deadline = tokio::time::Instant::now() + STEP_DEADLINE;
    loop {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => bail!(
                "the demo session did not {what} within {} s",
                STEP_DEADLINE.as_secs()
            ),
            Ok(Err(RecvError::Closed)) => bail!("the gateway's event bus closed"),
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Ok(event)) => event,
        };
        if event.account != *id {
            continue;
        }
        if let Some(result) = pick(&event.kind) {
            return result;
        }
    }
}

/// What the demo prints once it is ready, in one place ([`DemoInfo::print`]): a new line is
/// one field here and one `println!` there.
struct DemoInfo {
    /// `http://<gateway address>`.
    base: String,
    /// The dashboard's one-time login link (single use, 10 minutes; issue 14 item 2).
    login_link: String,
    /// The admin token when the demo made it (`None`: the operator gave theirs).
    admin_token: Option<String>,
    /// The demo session's user token.
    user_token: String,
    /// The hello the session received.
    hello: String,
    /// wa-sim's admin API (`http://<sim address>/admin`).
    sim_admin: String,
    /// The store's directory.
    data_dir: PathBuf,
}

impl DemoInfo {
    /// Prints the block on stdout: `label: value` lines, then the curl to paste.
    fn print(&self) {
        let base = &self.base;
        let admin_token = self
            .admin_token
            .as_deref()
            .unwrap_or("(yours: --admin-token / WAGATE_ADMIN_TOKEN)");
        println!();
        println!("wagate demo is ready (Ctrl-C stops it)");
        println!("  dashboard:     {base}/dashboard");
        println!(
            "  login link:    {} (once, within 10 minutes)",
            self.login_link
        );
        println!("  admin token:   {admin_token}");
        println!("  session:       {SESSION_NAME} (linked to the simulated phone +{DEMO_PHONE})");
        println!("  user token:    {}", self.user_token);
        println!("  demo phone:    {DEMO_PHONE}");
        println!("  second phone:  {FRIEND_PHONE} (said: {})", self.hello);
        println!("  sim admin API: {}", self.sim_admin);
        println!("  API docs:      {base}/api");
        println!("  data dir:      {}", self.data_dir.display());
        println!();
        println!("Send a message from the demo session to the second phone:");
        println!("  {}", self.curl());
        println!("and read what that phone received:");
        println!(
            "  curl -sS {}/phones/{FRIEND_PHONE}/messages",
            self.sim_admin
        );
        println!("ready");
    }

    /// The `POST /chat/send/text` (CONTRACTS §A.4) of [`REPLY`] to the second phone.
    fn curl(&self) -> String {
        format!(
            "curl -sS -X POST '{}/chat/send/text' -H 'token: {}' -H 'Content-Type: application/json' -d '{{\"Phone\":\"{FRIEND_PHONE}\",\"Body\":\"{REPLY}\"}}'",
            self.base, self.user_token
        )
    }
}
