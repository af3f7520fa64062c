//! Where routed stanzas wait: each companion's offline queue (delivered in order after its next
//! login, `session-lifecycle.md` §8), which connection accepts live deliveries for a device
//! (once it went active), and the messages delivered to a connection that it has not acked yet
//! (their acks are checked against them, `messaging.md` §16).

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
    awaiting: HashMap<ConnId, HashMap<String, Node>>,
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
        let awaiting = self.awaiting.entry(conn).or_default();
        if awaiting.len() < MAX_AWAITING {
            awaiting.insert(id.to_owned(), node.clone());
        }
    }

    /// The message with `id` delivered to `conn` and not acked yet (now acked).
    pub(crate) fn take_awaiting(&mut self, conn: ConnId, id: &str) -> Option<Node> {
        self.awaiting.get_mut(&conn)?.remove(id)
    }

    /// The connection ended: the device is offline again.
    pub(crate) fn forget_conn(&mut self, conn: ConnId) {
        self.live.retain(|_, c| *c != conn);
        self.awaiting.remove(&conn);
    }

    /// The device was unlinked: its queue goes.
    pub(crate) fn forget_device(&mut self, device: &DeviceKey) {
        self.queues.remove(device);
        self.live.remove(device);
    }
}
