//! The ids of messages sent and not yet acknowledged by the server, each with its deadline
//! (`messaging.md` §8), like `iq.rs`'s tracker (a leaf: `state.rs` holds one, `messages.rs`
//! drives it).

use std::collections::HashMap;

use crate::ids::MessageId;
use crate::time::Millis;

/// Message ids sent and not yet acknowledged by the server, each with its deadline.
#[derive(Debug, Default)]
pub(crate) struct MessageTracker {
    pending: HashMap<MessageId, Millis>,
}

impl MessageTracker {
    /// Remembers `id` until `deadline`; `false` if it is in flight already.
    pub(crate) fn register(&mut self, id: MessageId, deadline: Millis) -> bool {
        if self.pending.contains_key(&id) {
            return false;
        }
        self.pending.insert(id, deadline);
        true
    }

    /// Forgets `id`; whether it was in flight.
    pub(crate) fn take(&mut self, id: &MessageId) -> bool {
        self.pending.remove(id).is_some()
    }

    /// How many are in flight.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        self.pending.values().min().copied()
    }

    /// Removes and returns every id whose deadline is at or before `now`, earliest first.
    pub(crate) fn expire(&mut self, now: Millis) -> Vec<MessageId> {
        let mut due: Vec<(Millis, MessageId)> = self
            .pending
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, d)| (*d, id.clone()))
            .collect();
        due.sort();
        for (_, id) in &due {
            self.pending.remove(id);
        }
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// Removes every id (the connection closed), in id order.
    pub(crate) fn drain(&mut self) -> Vec<MessageId> {
        let mut ids: Vec<MessageId> = self.pending.drain().map(|(id, _)| id).collect();
        ids.sort();
        ids
    }
}
