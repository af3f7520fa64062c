//! Waiting for the pair code a session asked WhatsApp for (wuzapi's `POST /session/pairphone`
//! and the dashboard's "link by phone code"): one loop over the gateway's events for both.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use wa_client::{Event, EventKind};
use wa_store::AccountId;

use crate::error::{ApiError, SessionRefusal};

/// The code account `id`'s session was given, read from `events` (subscribed before the pair
/// request was made) within `within`.
///
/// # Errors
/// `400 pairing refused: <code> <text>` when WhatsApp refused, `no session` when the session
/// stopped (or the gateway's events closed), a timeout when no code came in time.
pub(crate) async fn await_pair_code(
    mut events: Receiver<Event>,
    id: AccountId,
    within: Duration,
) -> Result<String, ApiError> {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(e) if e.account == id => match e.kind {
                    EventKind::PairCode { code } => return Ok(code),
                    EventKind::PairError { code, text } => {
                        return Err(ApiError::bad_request(format!(
                            "pairing refused: {code} {text}"
                        )))
                    }
                    EventKind::Stopped => return Err(ApiError::Session(SessionRefusal::NoSession)),
                    _ => {}
                },
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Err(ApiError::Session(SessionRefusal::NoSession)),
            }
        }
    };
    tokio::time::timeout(within, wait)
        .await
        .map_err(|_| ApiError::Client(wa_client::Error::Timeout("the pair code")))?
}
