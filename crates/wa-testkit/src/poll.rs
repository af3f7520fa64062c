//! Waiting on state that another process only shows when asked (the served gateway's HTTP
//! status): ask again at a short interval until the answer fits or the deadline passes. Use it
//! only where no event stream exists; a wait on events is [`crate::wait_for`].

use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// How often [`poll_until`] asks again.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// Calls `probe` until it returns `Some` (at once, then every [`POLL_EVERY`]) and returns that;
/// [`Error::Timeout`] naming `what` when `deadline` passes first.
pub async fn poll_until<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let mut ticks = tokio::time::interval(POLL_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wait = async {
        loop {
            ticks.tick().await;
            if let Some(t) = probe().await {
                return t;
            }
        }
    };
    tokio::time::timeout(deadline, wait)
        .await
        .map_err(|_| Error::Timeout {
            what: what.to_owned(),
            deadline,
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_fitting_answer_or_times_out() {
        let mut n = 0;
        let got = poll_until(Duration::from_secs(5), "three", || {
            n += 1;
            let v = n;
            async move { (v == 3).then_some(v) }
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
        let e = poll_until(Duration::from_millis(50), "never", || async { None::<()> })
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
    }
}
