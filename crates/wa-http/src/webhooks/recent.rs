//! Each session's last webhook attempts (delivered or failed), kept in memory for the
//! dashboard's session page: the store keeps only what still waits and the dead letters.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use wa_store::{AccountId, WebhookDelivery};

/// How many attempts are kept per session.
pub const PER_SESSION: usize = 20;

/// One POST to a receiver and how it went.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The delivery's id.
    pub id: u64,
    /// The receiver URL.
    pub receiver: String,
    /// The event type.
    pub kind: String,
    /// When it was made (unix ms).
    pub at: u64,
    /// Whether the receiver answered 2xx.
    pub ok: bool,
    /// Why it failed (`""` when it did not).
    pub error: String,
}

/// The last attempts of every session.
#[derive(Debug, Default)]
pub struct RecentDeliveries {
    by_session: Mutex<HashMap<AccountId, VecDeque<Attempt>>>,
}

impl RecentDeliveries {
    /// Records one attempt of `d` (a gateway-wide alert belongs to no session: not kept).
    pub fn record(&self, d: &WebhookDelivery, at: u64, outcome: &Result<(), String>) {
        let Some(account) = d.account else {
            return;
        };
        let attempt = Attempt {
            id: d.seq,
            receiver: d.receiver.clone(),
            kind: d.kind.clone(),
            at,
            ok: outcome.is_ok(),
            error: outcome.as_ref().err().cloned().unwrap_or_default(),
        };
        let mut map = self.by_session.lock().unwrap_or_else(|p| p.into_inner());
        let list = map.entry(account).or_default();
        if list.len() >= PER_SESSION {
            list.pop_front();
        }
        list.push_back(attempt);
    }

    /// The session's last attempts, newest first.
    pub fn of(&self, account: &AccountId) -> Vec<Attempt> {
        let map = self.by_session.lock().unwrap_or_else(|p| p.into_inner());
        map.get(account)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn delivery(seq: u64, account: Option<AccountId>) -> WebhookDelivery {
        WebhookDelivery {
            seq,
            receiver: "http://hooks.example/in".into(),
            account,
            kind: "Message".into(),
            content_type: "application/json".into(),
            body: Vec::new(),
            signature: None,
            attempts: 0,
            next_attempt_ms: 0,
            enqueued_ms: 0,
            last_error: String::new(),
        }
    }

    #[test]
    fn the_last_attempts_newest_first_and_bounded() {
        let recent = RecentDeliveries::default();
        let a = AccountId::from_bytes([3; 16]);
        for seq in 0..(PER_SESSION as u64 + 3) {
            recent.record(&delivery(seq, Some(a)), seq, &Ok(()));
        }
        recent.record(&delivery(99, Some(a)), 99, &Err("HTTP 500".into()));
        recent.record(&delivery(100, None), 100, &Ok(()));
        let list = recent.of(&a);
        assert_eq!(list.len(), PER_SESSION);
        assert_eq!(
            (list[0].id, list[0].ok, list[0].error.as_str()),
            (99, false, "HTTP 500")
        );
        assert!(recent.of(&AccountId::from_bytes([4; 16])).is_empty());
    }
}
