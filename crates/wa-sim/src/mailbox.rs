//! Where routed stanzas wait: each companion's offline queue (delivered in order after its next
//! login, `session-lifecycle.md` §8), which connection accepts live deliveries for a device
//! (once it went active), and the messages delivered to a connection that it has not acked yet
//! (their acks are checked against them, `messaging.md` §16). A message delivered to a
//! connection that ends before acking it goes back to the front of the device's queue, in
//! delivery order, and is delivered again at the next login: the server holds a message until
//! the device acknowledges it (`messaging.md` §10, the server "keeps replaying" what was not
//! acknowledged), which is what makes offline delivery lossless across a client restart.

use std::collections::{HashMap, VecDeque};

use wa_protocol::binary::Node;
use wa_protocol::PhoneNumber;

use crate::event::ConnId;

/// The most stanzas queued for one offline device; older ones beyond it are dropped (a real
/// server expires them too) and counted.
pub(crate) const MAX_QUEUE: usize = 10_000;

/// The most delivered-but-unacked messages remembered per connection.
const MAX_AWAITING: usize = 10_000;

/// A device: (account, device number).
pub(crate) type DeviceKey = (PhoneNumber, u8);

/// Offline queues, live connections and unacked deliveries.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    queues: HashMap<DeviceKey, VecDeque<Node>>,
    live: HashMap<DeviceKey, ConnId>,
    /// Unacked messages per connection, by id, with their delivery order.
    awaiting: HashMap<ConnId, HashMap<String, (u64, Node)>>,
    /// The next delivery order number.
    next_seq: u64,
}

/// Where a stanza for a device went.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// To this live connection (the caller pushes it).
    Live(ConnId, Node),
    /// Into the device's offline queue.
    Queued,
    /// Dropped: the queue is full.
    Dropped,
}

impl Mailbox {
    /// Routes `node` to `device`: to its live connection, or into its offline queue.
    pub(crate) fn deliver(&mut self, device: &DeviceKey, node: Node) -> Delivery {
        if let Some(conn) = self.live.get(device).copied() {
            self.remember(conn, &node);
            return Delivery::Live(conn, node);
        }
        self.enqueue(device, node)
    }

    /// Puts `node` at the end of `device`'s offline queue.
    pub(crate) fn enqueue(&mut self, device: &DeviceKey, node: Node) -> Delivery {
        let queue = self.queues.entry(device.clone()).or_default();
        if queue.len() >= MAX_QUEUE {
            return Delivery::Dropped;
        }
        queue.push_back(node);
        Delivery::Queued
    }

    /// The device went active on `conn`: live deliveries go there from now on; returns its
    /// offline queue, oldest first, each stanza marked `offline` (§8 step 4).
    pub(crate) fn activate(&mut self, device: &DeviceKey, conn: ConnId) -> Vec<Node> {
        self.live.insert(device.clone(), conn);
        let queued: Vec<Node> = self
            .queues
            .remove(device)
            .map(Vec::from)
            .unwrap_or_default();
        queued
            .into_iter()
            .map(|n| {
                let n = n.with_attr("offline", "1");
                self.remember(conn, &n);
                n
            })
            .collect()
    }

    fn remember(&mut self, conn: ConnId, node: &Node) {
        if node.tag != "message" {
            return;
        }
        let Some(id) = node.attr_str("id") else {
            return;
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let awaiting = self.awaiting.entry(conn).or_default();
        if awaiting.len() < MAX_AWAITING {
            awaiting.insert(id.to_owned(), (seq, node.clone()));
        }
    }

    /// The message with `id` delivered to `conn` and not acked yet (now acked).
    pub(crate) fn take_awaiting(&mut self, conn: ConnId, id: &str) -> Option<Node> {
        self.awaiting.get_mut(&conn)?.remove(id).map(|(_, n)| n)
    }

    /// The connection ended: the device is offline again, and what it did not ack goes back to
    /// the front of its queue (oldest first).
    pub(crate) fn forget_conn(&mut self, conn: ConnId) {
        let devices: Vec<DeviceKey> = self
            .live
            .iter()
            .filter(|(_, c)| **c == conn)
            .map(|(d, _)| d.clone())
            .collect();
        self.live.retain(|_, c| *c != conn);
        let Some(unacked) = self.awaiting.remove(&conn) else {
            return;
        };
        let [device] = devices.as_slice() else {
            return;
        };
        let mut unacked: Vec<(u64, Node)> = unacked.into_values().collect();
        unacked.sort_by_key(|(seq, _)| *seq);
        let queue = self.queues.entry(device.clone()).or_default();
        for (_, node) in unacked.into_iter().rev() {
            queue.push_front(node);
        }
    }

    /// The device was unlinked: its queue goes.
    pub(crate) fn forget_device(&mut self, device: &DeviceKey) {
        self.queues.remove(device);
        self.live.remove(device);
    }
}
