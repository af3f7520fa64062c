//! The ids of messages sent and not yet acknowledged by the server, each with its deadline
//! (`messaging.md` §8), like `iq.rs`'s tracker (a leaf: `state.rs` holds one, `messages.rs`
//! drives it). A group message's chat and `phash` are kept too, to compare with the ack's.

use std::collections::HashMap;

use crate::binary::Jid;
use crate::ids::MessageId;
use crate::time::Millis;

/// Message ids sent and not yet acknowledged by the server, each with its deadline.
#[derive(Debug, Default)]
pub(crate) struct MessageTracker {
    pending: HashMap<MessageId, Millis>,
    /// The chat and `phash` of the pending messages that carried one (group sends).
    phashes: HashMap<MessageId, (Jid, String)>,
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

    /// Remembers the chat and `phash` of the pending message `id`.
    pub(crate) fn set_phash(&mut self, id: MessageId, chat: Jid, phash: String) {
        if self.pending.contains_key(&id) {
            self.phashes.insert(id, (chat, phash));
        }
    }

    /// Forgets `id`; `None` if it was not in flight, else its chat and `phash` if it had one.
    pub(crate) fn take(&mut self, id: &MessageId) -> Option<Option<(Jid, String)>> {
        self.pending.remove(id)?;
        Some(self.phashes.remove(id))
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
            self.phashes.remove(id);
        }
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// Removes every id (the connection closed), in id order.
    pub(crate) fn drain(&mut self) -> Vec<MessageId> {
        self.phashes.clear();
        let mut ids: Vec<MessageId> = self.pending.drain().map(|(id, _)| id).collect();
        ids.sort();
        ids
    }
}
