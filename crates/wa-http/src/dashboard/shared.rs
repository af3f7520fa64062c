//! What the dashboard keeps between requests: the logins and each session's recent events.

use std::sync::{Arc, OnceLock};

use tokio::sync::watch;
use wa_client::Gateway;

use super::logins::Logins;
use super::recent::Recent;

/// The dashboard's state, in [`crate::AppState::dashboard`].
#[derive(Debug, Default)]
pub struct Dashboard {
    /// Who is logged in, and the one-time login codes.
    pub logins: Logins,
    /// Each session's recent events.
    pub(crate) recent: Arc<Recent>,
    following: OnceLock<()>,
    /// Set once the server shuts down: the event streams end.
    closing: watch::Sender<bool>,
}

impl Dashboard {
    /// A single-use login path, `/dashboard/login/once/<code>` (valid 10 minutes): see
    /// [`Logins::one_time_link`].
    pub fn one_time_link(&self) -> String {
        self.logins.one_time_link()
    }

    /// Ends every open event stream (and those opened later): call it when the server shuts
    /// down, or its graceful shutdown waits for the browsers' streams to time out.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Completes once [`Dashboard::close`] was called.
    pub(crate) fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            // An error means the sender is gone: the dashboard is dropped, so end as well.
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    /// Starts following the gateway's events for the sessions' recent events, once (inside a
    /// tokio runtime; a no-op outside one, the first dashboard request starts it then).
    pub fn follow(&self, gateway: &Gateway) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        self.following.get_or_init(|| {
            let events = gateway.subscribe();
            tokio::spawn(Arc::clone(&self.recent).follow(events));
        });
    }
}
