//! `<success>`, `<failure>` and `<stream:error>` (`session-lifecycle.md` §2, §6).

use super::parse::{bad, expect_tag, req_attr, StanzaError};
use crate::binary::{Jid, Node};

/// The `<success>` that opens a logged-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success {
    /// Server time (unix seconds).
    pub t: u64,
    /// Our LID, if the server sent it.
    pub lid: Option<Jid>,
}

/// Parses `<success t lid/>`.
pub fn parse_success(node: &Node) -> Result<Success, StanzaError> {
    expect_tag(node, "success")?;
    let t = req_attr(node, "t")?;
    let t = t.parse().map_err(|_| bad(node, "t", t))?;
    Ok(Success {
        t,
        lid: node.attr_jid("lid").cloned(),
    })
}

/// Why the server refused a login (`<failure reason>`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// 401: unlinked from the phone; delete the session.
    LoggedOut,
    /// 402: temporarily banned; `code` is the ban reason, `expire` seconds.
    TempBanned {
        /// Ban reason code (101…106).
        code: u16,
        /// Duration in seconds.
        expire: u64,
    },
    /// 403: the main device is gone; delete the session.
    MainDeviceGone,
    /// 405: this client version is too old.
    ClientOutdated,
    /// 406: unknown logout (banned); delete the session.
    UnknownLogout,
    /// 500 / 503: server trouble; reconnect later.
    ServerError(u16),
    /// Any other code.
    Other(u16),
}

impl FailureReason {
    /// Whether the session is gone and the device keys must be wiped.
    pub fn is_logged_out(&self) -> bool {
        match self {
            FailureReason::LoggedOut
            | FailureReason::MainDeviceGone
            | FailureReason::UnknownLogout => true,
            FailureReason::TempBanned { .. }
            | FailureReason::ClientOutdated
            | FailureReason::ServerError(_)
            | FailureReason::Other(_) => false,
        }
    }

    /// Whether reconnecting later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            FailureReason::ServerError(_) => true,
            FailureReason::LoggedOut
            | FailureReason::TempBanned { .. }
            | FailureReason::MainDeviceGone
            | FailureReason::ClientOutdated
            | FailureReason::UnknownLogout
            | FailureReason::Other(_) => false,
        }
    }
}

/// Parses `<failure reason …/>`.
pub fn parse_failure(node: &Node) -> Result<FailureReason, StanzaError> {
    expect_tag(node, "failure")?;
    let reason = req_attr(node, "reason")?;
    let reason: u16 = reason.parse().map_err(|_| bad(node, "reason", reason))?;
    let num = |k: &str| {
        node.attr_str(k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(match reason {
        401 => FailureReason::LoggedOut,
        402 => FailureReason::TempBanned {
            code: u16::try_from(num("code")).unwrap_or(0),
            expire: num("expire"),
        },
        403 => FailureReason::MainDeviceGone,
        405 => FailureReason::ClientOutdated,
        406 => FailureReason::UnknownLogout,
        500 | 503 => FailureReason::ServerError(reason),
        other => FailureReason::Other(other),
    })
}

/// What a `<stream:error>` asks of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamErrorKind {
    /// 515: reconnect at once (normal after pairing).
    RestartRequired,
    /// `<conflict type="replaced"/>`: another connection took over; do not reconnect.
    Replaced,
    /// `<conflict type="device_removed"/>` (or code 401/516, or another conflict): logged out.
    DeviceRemoved,
    /// 503 or 429: reconnect with backoff.
    Unavailable(u16),
    /// Anything else (code if any).
    Other(Option<u16>),
}

impl StreamErrorKind {
    /// Whether the client should reconnect (immediately for a restart, with backoff otherwise).
    pub fn should_reconnect(&self) -> bool {
        match self {
            StreamErrorKind::RestartRequired
            | StreamErrorKind::Unavailable(_)
            | StreamErrorKind::Other(_) => true,
            StreamErrorKind::Replaced | StreamErrorKind::DeviceRemoved => false,
        }
    }
}

/// Classifies a `<stream:error>` node.
pub fn classify_stream_error(node: &Node) -> Result<StreamErrorKind, StanzaError> {
    expect_tag(node, "stream:error")?;
    let code = node.attr_str("code").and_then(|c| c.parse::<u16>().ok());
    if let Some(conflict) = node.child("conflict") {
        return Ok(match conflict.attr_str("type") {
            Some("replaced") => StreamErrorKind::Replaced,
            _ => StreamErrorKind::DeviceRemoved,
        });
    }
    Ok(match code {
        Some(515) => StreamErrorKind::RestartRequired,
        Some(401 | 516) => StreamErrorKind::DeviceRemoved,
        Some(c @ (503 | 429)) => StreamErrorKind::Unavailable(c),
        other => StreamErrorKind::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::{unmarshal, Limits};

    fn node(hex: &str) -> Node {
        unmarshal(
            &hex::decode(hex.replace(' ', "")).expect("hex"),
            &Limits::default(),
        )
        .expect("decodes")
    }

    #[test]
    fn spec_examples() {
        // binary-node.md §9.
        let s = parse_success(&node(
            "00 F8 05 4C 1A FF 05 17 00 00 00 00 76 FA FF 88 12 34 56 78 90 12 34 5F 76",
        ))
        .expect("success");
        assert_eq!(s.t, 1_700_000_000);
        assert_eq!(
            s.lid.map(|j| j.to_string()).as_deref(),
            Some("123456789012345@lid")
        );
        assert_eq!(
            classify_stream_error(&node("00 F8 03 9D 70 FF 82 51 5F")),
            Ok(StreamErrorKind::RestartRequired)
        );
        assert_eq!(
            classify_stream_error(&node("00 F8 02 9D F8 01 F8 03 EC 0E 04 EC 11")),
            Ok(StreamErrorKind::Replaced)
        );
    }

    #[test]
    fn failures() {
        let f = |reason: &str| {
            parse_failure(&Node::new("failure").with_attr("reason", reason)).expect("parses")
        };
        assert!(f("401").is_logged_out());
        assert!(f("403").is_logged_out());
        assert!(f("406").is_logged_out());
        assert!(f("503").is_transient());
        assert_eq!(f("405"), FailureReason::ClientOutdated);
        let ban = parse_failure(
            &Node::new("failure")
                .with_attr("reason", "402")
                .with_attr("code", "101")
                .with_attr("expire", "3600"),
        );
        assert_eq!(
            ban,
            Ok(FailureReason::TempBanned {
                code: 101,
                expire: 3600
            })
        );
        assert!(parse_failure(&Node::new("failure")).is_err());
        assert!(parse_success(&Node::new("success")).is_err());
        let removed = Node::new("stream:error")
            .with_attr("code", "401")
            .with_children(vec![
                Node::new("conflict").with_attr("type", "device_removed")
            ]);
        assert_eq!(
            classify_stream_error(&removed),
            Ok(StreamErrorKind::DeviceRemoved)
        );
    }
}
