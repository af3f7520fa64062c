//! What the gateway learnt about each pool member while sending through it (in memory: a
//! restart starts from zero), and the choice of a member: the healthy member with the fewest
//! sends in flight, ties taken in turn (round robin among equally loaded members).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use wa_store::AccountId;

/// One member's record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemberStats {
    /// Sends through a pool now in flight on this member.
    pub in_flight: u32,
    /// Sends through a pool this member got acknowledged.
    pub sent: u64,
    /// Attempts through a pool that failed on this member.
    pub failed: u64,
    /// Of those, how many went on to another member.
    pub failed_over: u64,
    /// The last failure's text, if any.
    pub last_error: Option<String>,
    /// When it happened (ms since the Unix epoch).
    pub last_error_ms: Option<u64>,
    /// When the last acknowledged send happened (ms since the Unix epoch).
    pub last_sent_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    members: HashMap<AccountId, MemberStats>,
    /// Per pool: picks so far (the round-robin turn among equally loaded members).
    turns: HashMap<String, usize>,
}

/// Every pool member's record (shared by all requests).
#[derive(Debug, Default)]
pub struct PoolHealth {
    inner: Mutex<Inner>,
}

/// How an attempt on a member ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server acknowledged it.
    Sent,
    /// It failed and the send goes on to another member.
    FailedOver,
    /// It failed and the send ends with this failure.
    Failed,
}

impl PoolHealth {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The records are counters: a panic elsewhere leaves them usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Picks one of `candidates` (healthy members in pool order) for a send through `pool`,
    /// and counts the send in flight on it.
    pub fn pick(&self, pool: &str, candidates: &[AccountId]) -> Option<AccountId> {
        let mut inner = self.lock();
        let load = |m: &AccountId| inner.members.get(m).map_or(0, |s| s.in_flight);
        let least = candidates.iter().map(load).min()?;
        let ties: Vec<AccountId> = candidates
            .iter()
            .filter(|m| load(m) == least)
            .copied()
            .collect();
        let turn = inner.turns.entry(pool.to_owned()).or_insert(0);
        let chosen = ties[*turn % ties.len()];
        *turn = turn.wrapping_add(1);
        inner.members.entry(chosen).or_default().in_flight += 1;
        Some(chosen)
    }

    /// Records how the attempt on `member` ended (`error`: the failure's text).
    pub fn finish(&self, member: &AccountId, outcome: Outcome, error: Option<String>, now_ms: u64) {
        let mut inner = self.lock();
        let s = inner.members.entry(*member).or_default();
        s.in_flight = s.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Sent => {
                s.sent += 1;
                s.last_sent_ms = Some(now_ms);
            }
            Outcome::FailedOver | Outcome::Failed => {
                s.failed += 1;
                s.failed_over += u64::from(outcome == Outcome::FailedOver);
                s.last_error = error;
                s.last_error_ms = Some(now_ms);
            }
        }
    }

    /// A member's record (zeros for one never used).
    pub fn stats(&self, member: &AccountId) -> MemberStats {
        self.lock().members.get(member).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> AccountId {
        AccountId::from_bytes([n; 16])
    }

    #[test]
    fn equally_loaded_members_take_turns_and_the_least_loaded_wins() {
        let h = PoolHealth::default();
        let all = [id(1), id(2), id(3)];
        let picks: Vec<AccountId> = (0..3).filter_map(|_| h.pick("p", &all)).collect();
        // One in flight on each: every member was picked once.
        assert_eq!(picks.len(), 3);
        for m in &all {
            assert_eq!(h.stats(m).in_flight, 1);
        }
        h.finish(&id(2), Outcome::Sent, None, 5);
        assert_eq!(h.pick("p", &all), Some(id(2)), "the least loaded");
        h.finish(&id(3), Outcome::FailedOver, Some("down".into()), 6);
        let s = h.stats(&id(3));
        assert_eq!((s.in_flight, s.failed, s.failed_over), (0, 1, 1));
        assert_eq!(s.last_error.as_deref(), Some("down"));
        assert_eq!(h.pick("p", &[]), None);
    }
}
