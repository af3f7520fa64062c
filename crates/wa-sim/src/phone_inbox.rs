//! What reaches a simulated phone (device 0): messages and receipts routed to it.

use wa_protocol::binary::Node;
use wa_protocol::PhoneNumber;

use crate::state::Shared;

/// A stanza routed to `phone`'s device 0.
pub(crate) fn receive(shared: &Shared, phone: &PhoneNumber, node: &Node) {
    let _ = (shared, phone, node);
}
