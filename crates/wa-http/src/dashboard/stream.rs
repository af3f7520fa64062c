//! `GET /dashboard/events`: the dashboard's live feed, server-sent events from
//! [`wa_client::Gateway::subscribe`] (no polling). Event names:
//! - `state`: a session's [`SessionView`] (its badge, QR, pair code), first one per session as
//!   the stream opens, then one after every event that may change it (QR rotations included);
//! - `message`: a received message, an outgoing message's new status, or a session change (an
//!   [`Entry`] with the session's `id`), what the session page's event list shows;
//! - `resync`: the stream lagged behind and skipped events: the page reloads its state.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use wa_client::{Event, EventKind};

use super::api_sessions::{all_views, view_of};
use super::guard::Viewer;
use super::recent::{entry_of, Entry};
use crate::error::ApiError;
use crate::state::AppState;

/// An [`Entry`] with the session it belongs to.
#[derive(Debug, Serialize)]
struct SessionEntry<'a> {
    /// The session (account id).
    id: String,
    #[serde(flatten)]
    entry: &'a Entry,
}

fn json_event(name: &str, data: &impl Serialize) -> Option<SseEvent> {
    SseEvent::default().event(name).json_data(data).ok()
}

/// Whether an event may change what a session's badge shows.
fn changes_state(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Connecting { .. }
            | EventKind::Qr { .. }
            | EventKind::QrTimeout
            | EventKind::PairCode { .. }
            | EventKind::Paired { .. }
            | EventKind::PairError { .. }
            | EventKind::Connected { .. }
            | EventKind::ClientOutdated
            | EventKind::TemporaryBan { .. }
            | EventKind::StreamError { .. }
            | EventKind::LoggedOut { .. }
            | EventKind::Disconnected { .. }
            | EventKind::Stopped
    )
}

/// The feed events for one gateway event: the session's new state (when it may have
/// changed), then its entry for the session page's list (when it has one).
async fn translate(state: &AppState, event: Event) -> Vec<SseEvent> {
    let id = event.account.to_string();
    let mut out = Vec::new();
    if changes_state(&event.kind) {
        // A deleted account has nothing to show.
        if let Ok(account) = state.gateway.account(&event.account).await {
            if let Ok(mut view) = view_of(state, &account).await {
                if let EventKind::Qr { code, .. } = &event.kind {
                    // The event's own code: the newest, whatever the snapshot says.
                    view.qr_png = Some(crate::qr::data_url(code));
                    view.qr = Some(code.clone());
                }
                out.extend(json_event("state", &view));
            }
        }
    }
    if let Some(entry) = entry_of(event.at.0, &event.kind) {
        out.extend(json_event("message", &SessionEntry { id, entry: &entry }));
    }
    out
}

/// The next feed events from `events` (`None`: the gateway's bus closed).
async fn next(state: &AppState, events: &mut Receiver<Event>) -> Option<Vec<SseEvent>> {
    loop {
        match events.recv().await {
            Ok(event) => {
                let sse = translate(state, event).await;
                if !sse.is_empty() {
                    return Some(sse);
                }
            }
            Err(RecvError::Lagged(_)) => {
                return Some(vec![SseEvent::default().event("resync").data("{}")])
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// `GET /dashboard/events`.
pub(crate) async fn events(
    _: Viewer,
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    state.dashboard.follow(&state.gateway);
    // Subscribe before the snapshot: a change between the two is sent, not lost.
    let events = state.gateway.subscribe();
    let first: Vec<_> = all_views(&state)
        .await?
        .iter()
        .filter_map(|v| json_event("state", v))
        .map(Ok)
        .collect();
    let closed = state.dashboard.closed();
    let live = stream::unfold((state, events), |(state, mut events)| async move {
        let sse = next(&state, &mut events).await?;
        Some((stream::iter(sse.into_iter().map(Ok)), (state, events)))
    })
    .flatten();
    let feed = stream::iter(first).chain(live).take_until(closed);
    Ok(Sse::new(feed).keep_alive(KeepAlive::default()))
}
