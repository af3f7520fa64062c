//! The on-demand history sync request (`GET /session/history`, CONTRACTS §A.2): a
//! `protocolMessage`=12 of type `PEER_DATA_OPERATION_REQUEST_MESSAGE` (16) carrying a
//! `peerDataOperationRequestMessage`=16 of type `HISTORY_SYNC_ON_DEMAND` (3) with its
//! `historySyncOnDemandRequest`=4 {chatJID=1, oldestMsgID=2, oldestMsgFromMe=3,
//! onDemandMsgCount=4, oldestMsgTimestampMS=5}. Field numbers from whatsmeow
//! `proto/waE2E/WAWebProtobufsE2E.proto` (declared in `proto/e2e.proto`); the filling from
//! whatsmeow `send.go` `BuildHistorySyncRequest`, which writes the anchor's time in seconds
//! despite the field's name. It is sent to our own primary phone as a peer message
//! (`category="peer"`, `messaging.md` §7); the phone answers with a history sync later.

use crate::binary::Jid;
use crate::pb::e2e as pb;
use crate::pb::e2e::protocol_message::Type as ProtocolType;

use super::key::optional_jid;
use super::plaintext::ContentError;

/// Ask our primary phone for up to `count` messages of `chat` older than the anchor message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistorySyncRequest {
    /// `chatJID`: the chat (`None` is written as an empty string, as whatsmeow writes an unset
    /// JID).
    pub chat: Option<Jid>,
    /// `oldestMsgID`: the anchor message's id (may be empty).
    pub oldest_id: String,
    /// `oldestMsgFromMe`: whether we sent the anchor message.
    pub oldest_from_me: bool,
    /// `onDemandMsgCount`: how many messages (at most `i32::MAX`).
    pub count: u32,
    /// `oldestMsgTimestampMS`: the anchor's time in unix **seconds** (whatsmeow's use); `None`
    /// leaves the field out.
    pub oldest_t: Option<i64>,
}

impl HistorySyncRequest {
    /// The `waE2E.Message` to send (as a peer message).
    pub fn to_message(&self) -> pb::Message {
        let request = pb::HistorySyncOnDemandRequest {
            chat_jid: Some(self.chat.as_ref().map(Jid::to_string).unwrap_or_default()),
            oldest_msg_id: Some(self.oldest_id.clone()),
            oldest_msg_from_me: Some(self.oldest_from_me),
            on_demand_msg_count: Some(i32::try_from(self.count).unwrap_or(i32::MAX)),
            oldest_msg_timestamp_ms: self.oldest_t,
        };
        let operation = pb::PeerDataOperationRequestMessage {
            peer_data_operation_request_type: Some(
                pb::PeerDataOperationRequestType::HistorySyncOnDemand as i32,
            ),
            history_sync_on_demand_request: Some(request),
        };
        pb::Message {
            protocol_message: Some(Box::new(pb::ProtocolMessage {
                r#type: Some(ProtocolType::PeerDataOperationRequestMessage as i32),
                peer_data_operation_request_message: Some(operation),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// The request `m` carries; `Ok(None)` when `m` is not an on-demand history sync request,
    /// an error when its chat is not a JID.
    pub fn from_message(m: &pb::Message) -> Result<Option<Self>, ContentError> {
        let Some(p) = m.protocol_message.as_deref() else {
            return Ok(None);
        };
        if p.r#type != Some(ProtocolType::PeerDataOperationRequestMessage as i32) {
            return Ok(None);
        }
        let Some(op) = &p.peer_data_operation_request_message else {
            return Ok(None);
        };
        let on_demand = pb::PeerDataOperationRequestType::HistorySyncOnDemand as i32;
        let (Some(kind), Some(r)) = (
            op.peer_data_operation_request_type,
            &op.history_sync_on_demand_request,
        ) else {
            return Ok(None);
        };
        if kind != on_demand {
            return Ok(None);
        }
        Ok(Some(Self {
            chat: optional_jid("HistorySyncOnDemandRequest.chatJID", r.chat_jid.as_deref())?,
            oldest_id: r.oldest_msg_id.clone().unwrap_or_default(),
            oldest_from_me: r.oldest_msg_from_me.unwrap_or(false),
            count: r
                .on_demand_msg_count
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(0),
            oldest_t: r.oldest_msg_timestamp_ms,
        }))
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::message::Content;

    /// The bytes, field by field, of whatsmeow's filling: protocolMessage (12) { type=2 16,
    /// peerDataOperationRequestMessage=16 { type=1 3, historySyncOnDemandRequest=4 {…} } }.
    #[test]
    fn field_numbers_from_whatsmeows_proto() {
        let request = HistorySyncRequest {
            chat: Some("15550001111@s.whatsapp.net".parse().expect("jid")),
            oldest_id: "3EB0A".into(),
            oldest_from_me: true,
            count: 50,
            oldest_t: Some(1_700_000_000),
        };
        let m = request.to_message();
        let mut inner = vec![0x0a, 26];
        inner.extend_from_slice(b"15550001111@s.whatsapp.net");
        inner.extend_from_slice(&[0x12, 5]);
        inner.extend_from_slice(b"3EB0A");
        inner.extend_from_slice(&[0x18, 1, 0x20, 50, 0x28]);
        // 1_700_000_000 as a varint.
        inner.extend_from_slice(&[0x80, 0xe2, 0xcf, 0xaa, 0x06]);
        let mut op = vec![0x08, 3, 0x22, inner.len() as u8];
        op.extend_from_slice(&inner);
        let mut protocol = vec![0x10, 16, 0x82, 0x01, op.len() as u8];
        protocol.extend_from_slice(&op);
        let mut want = vec![0x62, protocol.len() as u8];
        want.extend_from_slice(&protocol);
        assert_eq!(m.encode_to_vec(), want);
        assert_eq!(HistorySyncRequest::from_message(&m), Ok(Some(request)));
        // Content sees a protocol message of type 16 it does not model.
        assert_eq!(
            Content::from_message(&m),
            Ok(Content::Unsupported(crate::message::Unsupported::Protocol(
                16
            )))
        );
    }

    #[test]
    fn other_messages_are_not_requests() {
        let text = Content::text("hi").to_message();
        assert_eq!(HistorySyncRequest::from_message(&text), Ok(None));
        let mut other = HistorySyncRequest::default().to_message();
        let op = other
            .protocol_message
            .as_mut()
            .and_then(|p| p.peer_data_operation_request_message.as_mut())
            .expect("op");
        op.peer_data_operation_request_type =
            Some(pb::PeerDataOperationRequestType::GenerateLinkPreview as i32);
        assert_eq!(HistorySyncRequest::from_message(&other), Ok(None));
        let mut bad = HistorySyncRequest::default().to_message();
        let r = bad
            .protocol_message
            .as_mut()
            .and_then(|p| p.peer_data_operation_request_message.as_mut())
            .and_then(|o| o.history_sync_on_demand_request.as_mut())
            .expect("request");
        r.chat_jid = Some("not a jid@@".into());
        assert!(HistorySyncRequest::from_message(&bad).is_err());
    }
}
