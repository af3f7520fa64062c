//! The gateway as `wagate serve` runs it, in two steps so that `wagate demo` runs the very same
//! code: [`Serving::start`] binds the HTTP address, opens the store and starts the gateway, the
//! webhook worker and the media retention; [`Serving::run`] serves the HTTP API until a
//! shutdown future completes, then stops the accounts and the workers and flushes the store.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wa_client::{ClientConfig, Gateway};
use wa_http::webhooks::Webhooks;
use wa_http::AppState;
use wa_store::Store;

use crate::common::open_sled;
use crate::config::{OperatorError, ServeArgs, ServeConfig};

/// How long the accounts get to stop at shutdown.
const STOP_ACCOUNTS_WITHIN: Duration = Duration::from_secs(10);

/// `wagate serve`: the flags and environment resolved, served until Ctrl-C or SIGTERM.
pub(crate) async fn command(args: ServeArgs) -> Result<()> {
    let config = args.resolve()?;
    let client = args.server.client_config()?;
    let stop = stop_signal()?;
    serve(config, &args.data_dir, client, stop).await
}

/// Serves `config` with the store at `data_dir` and the WhatsApp connection settings `client`
/// until `shutdown` completes. Prints `wagate listening on http://<addr>` on stdout once the
/// address is bound (scripts and tests that start us on port 0 read it).
pub(crate) async fn serve(
    config: ServeConfig,
    data_dir: &Path,
    client: ClientConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let serving = Serving::start(config, data_dir, client).await?;
    println!("wagate listening on http://{}", serving.addr());
    serving.run(shutdown).await
}

/// A future that completes on the first Ctrl-C (SIGINT) or SIGTERM. Both handlers are
/// installed when this is called, so a signal that arrives before the future is first polled
/// is not lost (and does not kill the process).
pub(crate) fn stop_signal() -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT: stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        }
    })
}

/// A started gateway: the HTTP address bound, the accounts restored, not yet serving HTTP.
pub(crate) struct Serving {
    listener: TcpListener,
    addr: SocketAddr,
    store: Arc<dyn Store>,
    gateway: Arc<Gateway>,
    webhooks: Webhooks,
    retention: JoinHandle<()>,
    state: AppState,
}

impl Serving {
    /// Binds `config.listen` (first: a taken address fails before anything is opened), opens
    /// the store at `data_dir`, starts the gateway over `client` with the webhook worker as
    /// the consumer of received messages, and restores the stored accounts.
    ///
    /// # Errors
    /// [`OperatorError::Listen`] when the address cannot be bound; the store, the webhook
    /// queue or the restore failing.
    pub(crate) async fn start(
        config: ServeConfig,
        data_dir: &Path,
        mut client: ClientConfig,
    ) -> Result<Self> {
        // The webhook worker acks each Message once its deliveries are queued (issue 12: at
        // least once across a crash); `wagate link` has no such consumer and keeps the
        // client's marks.
        client.reports = wa_client::ReportAcks::Consumer;
        if let Some(name) = &config.os_name {
            client.connection.identity.os = name.clone();
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| OperatorError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr()?;
        let sled = open_sled(data_dir)?;
        let store: Arc<dyn Store> = sled.clone();
        // Media of accounts without S3 go below <data dir>/media, served at GET /media/...
        // (issue 13).
        let objects = Arc::new(wa_http::objects::Objects::new(
            data_dir.join("media"),
            format!("http://{addr}"),
        ));
        let gateway = Arc::new(Gateway::new(Arc::clone(&store), client));
        // Subscribed before restore() so the restored accounts' first events reach their
        // webhooks.
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
            listen = %addr,
            data_dir = %data_dir.display(),
            restored,
            webhook_format = ?config.webhooks.format,
            global_webhook = config.webhooks.global_url.is_some(),
            "wagate serving"
        );
        let state = AppState::new(Arc::clone(&gateway), config.http)
            .with_webhooks(webhooks.queue())
            .with_objects(objects)
            .with_store_stats(wa_http::metrics::StoreStats::sled(sled));
        let retention =
            wa_http::objects::spawn_retention(state.clone(), wa_http::objects::SWEEP_EVERY);
        Ok(Self {
            listener,
            addr,
            store,
            gateway,
            webhooks,
            retention,
            state,
        })
    }

    /// The bound HTTP address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The HTTP handlers' state (its `gateway` is what `wagate demo` creates and links its
    /// session with).
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves the HTTP API until `shutdown` completes (requests in flight get 10 s to finish),
    /// then stops every account (10 s), the webhook worker and the media retention, and
    /// flushes the store.
    ///
    /// # Errors
    /// The store cannot be flushed.
    pub(crate) async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let dashboard = Arc::clone(&self.state.dashboard);
        wa_http::serve(
            self.listener,
            wa_http::router(self.state.clone()),
            &self.state.config,
            async move {
                shutdown.await;
                // The dashboard's event streams end, or the graceful shutdown would wait for them.
                dashboard.close();
            },
        )
        .await;
        let stuck = self.gateway.shutdown(STOP_ACCOUNTS_WITHIN).await;
        if stuck > 0 {
            tracing::warn!(stuck, "accounts did not stop in time");
        }
        self.webhooks.abort();
        self.retention.abort();
        self.store.flush().context("flushing the store")?;
        Ok(())
    }
}
