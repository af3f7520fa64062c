//! The router: every stanza a client sends after the handshake comes through here. It counts
//! it (`in:<tag>[:<xmlns>]`; what the server sends is counted as `out:<tag>`), reports it as a
//! [`SimEvent::Stanza`], and dispatches it by tag to the connection's role.
//!
//! `<iq>` goes to the pairing or the session role (which hands `w:g2` to the groups role); a
//! logged-in companion's `<message>`, `<receipt>` and `<ack>` to [`messages`] (routing to every
//! addressed device, or every group member's device, now or from the offline queue after
//! login; server acks with error codes and, for groups, `phash`; receipts and retry receipts
//! forwarded; acks checked); a `<receipt type="server-error">` (media retry) to the phone of
//! the sender's account ([`phone_media_retry`]). Other tags are counted and left unanswered.

use rand::rngs::StdRng;
use wa_protocol::binary::Node;
use wa_protocol::stanza::MediaRetryRequest;

use crate::event::{ConnId, SimEvent};
use crate::phone_media_retry;
use crate::roles::messages;
use crate::roles::pairing::Pairing;
use crate::roles::session::Session;
use crate::state::{Action, Shared};

/// What a connection is, once its ClientPayload was checked.
#[derive(Debug)]
pub(crate) enum Role {
    /// A companion linking (registration payload).
    Pairing(Pairing),
    /// A linked companion (login payload accepted).
    Session(Session),
    /// A payload or login that was refused: anything it sends closes the connection.
    Refused,
}

/// Counts, reports and dispatches one stanza from the client; returns what to send back.
pub(crate) fn route(
    role: &Role,
    shared: &Shared,
    conn: ConnId,
    node: &Node,
    rng: &mut StdRng,
) -> Vec<Action> {
    count_in(shared, node);
    if shared.config.stanza_events {
        let stanza = SimEvent::Stanza {
            conn,
            node: node.clone(),
        };
        shared.emit(stanza);
    }
    match (role, node.tag.as_str()) {
        (Role::Refused, _) => vec![Action::Close],
        (Role::Pairing(pairing), "iq") => pairing.iq(shared, conn, node, rng),
        (Role::Session(session), "iq") => session.iq(shared, conn, node),
        (Role::Session(session), "message") => {
            messages::companion_message(shared, session.device_key(), node)
        }
        (Role::Session(session), "receipt") if MediaRetryRequest::is_request(node) => {
            phone_media_retry::companion_request(shared, session.device_key(), node)
        }
        (Role::Session(session), "receipt") => {
            messages::companion_receipt(shared, session.device_key(), node)
        }
        (Role::Session(_), "ack") => messages::companion_ack(shared, conn, node),
        (Role::Pairing(_) | Role::Session(_), _) => vec![],
    }
}

fn count_in(shared: &Shared, node: &Node) {
    match (node.tag.as_str(), node.attr_str("xmlns")) {
        // The stanzas of every routed message: no key string built for them.
        ("message", None) => shared.count("in:message"),
        ("receipt", None) => shared.count("in:receipt"),
        ("ack", None) => shared.count("in:ack"),
        (tag, Some(x)) => shared.count(format!("in:{tag}:{x}")),
        (tag, None) => shared.count(format!("in:{tag}")),
    }
}

/// Counts a node the server sends.
pub(crate) fn count_out(shared: &Shared, node: &Node) {
    match node.tag.as_str() {
        "message" => shared.count("out:message"),
        "receipt" => shared.count("out:receipt"),
        "ack" => shared.count("out:ack"),
        tag => shared.count(format!("out:{tag}")),
    }
}
