//! Account-level IQs of a linked companion.

use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, req_attr, req_child, StanzaError};
use crate::binary::{Jid, Node};

/// Unlinks a companion: `<iq xmlns="md" type="set"><remove-companion-device jid reason/></iq>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveCompanionDevice {
    /// The companion's device JID.
    pub jid: Jid,
    /// Why (`user_initiated` when the user logs out).
    pub reason: String,
}

impl RemoveCompanionDevice {
    /// The logout the user asked for.
    pub fn user_initiated(jid: Jid) -> Self {
        Self {
            jid,
            reason: "user_initiated".to_owned(),
        }
    }

    /// The request (the connection allocates the id).
    pub fn request(&self) -> IqRequest {
        IqRequest::new(
            "md",
            IqKind::Set,
            vec![Node::new("remove-companion-device")
                .with_attr("jid", self.jid.clone())
                .with_attr("reason", self.reason.as_str())],
        )
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Set, "md")?;
        let child = req_child(node, "remove-companion-device")?;
        let jid = match child.attr_jid("jid") {
            Some(jid) => jid.clone(),
            None => {
                let text = req_attr(child, "jid")?;
                text.parse().map_err(|_| bad(child, "jid", text))?
            }
        };
        Ok(Self {
            jid,
            reason: req_attr(child, "reason")?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let jid: Jid = "15550001111:3@s.whatsapp.net".parse().expect("jid");
        let req = RemoveCompanionDevice::user_initiated(jid);
        let node = req.request().to_node("1.2-3");
        assert_eq!(RemoveCompanionDevice::from_node(&node), Ok(req));
        assert!(RemoveCompanionDevice::from_node(&Node::new("iq")).is_err());
    }
}
