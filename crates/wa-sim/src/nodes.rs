//! The nodes the server sends that carry no role logic, built in one place (stream errors,
//! `<success>`, `<failure>`, IQ results, server pings and notifications). Times come in as
//! unix seconds from the caller's clock.

use wa_protocol::binary::{Jid, Node};
use wa_protocol::stanza::server_jid;

/// `<iq type=result id=… t=…>` with `children`.
pub(crate) fn iq_result(id: &str, t: u64, children: Vec<Node>) -> Node {
    let n = Node::new("iq")
        .with_attr("from", server_jid())
        .with_attr("id", id)
        .with_attr("type", "result")
        .with_attr("t", t.to_string());
    if children.is_empty() {
        n
    } else {
        n.with_children(children)
    }
}

/// `<stream:error code=…>`.
pub(crate) fn stream_error(code: u16) -> Node {
    Node::new("stream:error").with_attr("code", code.to_string())
}

/// `<stream:error code=401><conflict type=device_removed>`: the phone unlinked the device.
pub(crate) fn device_removed() -> Node {
    stream_error(401).with_children(vec![
        Node::new("conflict").with_attr("type", "device_removed")
    ])
}

/// `<stream:error><conflict type=replaced>`: another client logged in with the same keys.
pub(crate) fn replaced() -> Node {
    Node::new("stream:error")
        .with_children(vec![Node::new("conflict").with_attr("type", "replaced")])
}

/// `<stream:error><bad-request text=…>`: a stanza the server cannot even answer.
pub(crate) fn bad_request_stream_error(text: &str) -> Node {
    Node::new("stream:error").with_children(vec![Node::new("bad-request").with_attr("text", text)])
}

/// `<stream:error><ack/></stream:error>`: an ack broke the echo rule (`messaging.md` §16).
pub(crate) fn ack_stream_error() -> Node {
    Node::new("stream:error").with_children(vec![Node::new("ack")])
}

/// `<xmlstreamend/>`.
pub(crate) fn stream_end() -> Node {
    Node::new("xmlstreamend")
}

/// `<success t=… props=… lid=…>`: a login was accepted.
pub(crate) fn success(t: u64, lid: Jid) -> Node {
    Node::new("success")
        .with_attr("t", t.to_string())
        .with_attr("props", "27")
        .with_attr("lid", lid)
}

/// `<failure reason=…>`: a login was refused.
pub(crate) fn failure(reason: u16) -> Node {
    Node::new("failure").with_attr("reason", reason.to_string())
}

/// `<notification type=encrypt><count value=…>`: the device's prekey stock is low.
pub(crate) fn prekey_count_notification(id: String, t: u64, count: u32) -> Node {
    Node::new("notification")
        .with_attr("from", server_jid())
        .with_attr("type", "encrypt")
        .with_attr("id", id)
        .with_attr("t", t.to_string())
        .with_children(vec![
            Node::new("count").with_attr("value", count.to_string())
        ])
}

/// A server ping (`<iq type=get xmlns=urn:xmpp:ping>`).
pub(crate) fn server_ping(id: String, t: u64) -> Node {
    Node::new("iq")
        .with_attr("from", server_jid())
        .with_attr("id", id)
        .with_attr("type", "get")
        .with_attr("xmlns", "urn:xmpp:ping")
        .with_attr("t", t.to_string())
}

/// `<iq type=error><error code=400 text=bad-request>`: a malformed IQ.
pub(crate) fn iq_bad_request(id: &str) -> Node {
    wa_protocol::stanza::iq_error(id, server_jid(), 400, "bad-request")
}

/// `<iq type=error><error code=501 text=feature-not-implemented>`: an IQ the server does not
/// serve.
pub(crate) fn iq_not_implemented(id: &str) -> Node {
    wa_protocol::stanza::iq_error(id, server_jid(), 501, "feature-not-implemented")
}

/// `<iq type=error><error code=401 text=not-authorized>`.
pub(crate) fn iq_not_authorized(id: &str) -> Node {
    wa_protocol::stanza::iq_error(id, server_jid(), 401, "not-authorized")
}
