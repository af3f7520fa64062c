//! When each account's session was last restarted by a waiting send (`recover.rs`): a leaf,
//! held by the [`crate::gateway::Gateway`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use wa_store::AccountId;

/// The least time between two restarts (or starts) of one account's session by waiting sends.
const KICK_EVERY: Duration = Duration::from_secs(5);

/// When each account's session was last restarted by a waiting send.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    kicks: Mutex<HashMap<AccountId, Instant>>,
}

impl Recovery {
    /// Whether a waiting send may restart `id`'s session now (and notes that it does).
    pub(crate) fn may_kick(&self, id: &AccountId) -> bool {
        let now = Instant::now();
        let mut kicks = match self.kicks.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match kicks.get(id) {
            Some(at) if now.duration_since(*at) < KICK_EVERY => false,
            _ => {
                kicks.insert(*id, now);
                true
            }
        }
    }
}
