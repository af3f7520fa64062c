//! `<receipt>` both ways (`messaging.md` §8, §10, §11; `session-lifecycle.md` §7.3): delivery,
//! `sender`, `read`, `read-self`, `played`, `inactive`, `peer_msg`, `retry` (with its keys), the
//! `<list><item id/></list>` of further ids, and the server's grouped form for groups.
//!
//! ```text
//! <receipt id to|from [type] [participant] [recipient] [t] [category="peer"]>
//!   [<list><item id/>…</list>]
//!   [<retry count id t v [error]/> <registration>4 B</registration>
//!    [<keys><type/><identity/><key><id/><value/></key><skey><id/><value/><signature/></skey>
//!           [<device-identity/>]</keys>]]
//!   [<participants key><user jid t/>…</participants>]
//! </receipt>
//! ```

use super::fields::{opt_child_bytes, opt_jid, opt_num, put, req_id, req_jid, req_num};
use super::message::{MessageStanza, MAX_ENC_COUNT};
use super::parse::{bad, be_uint, child_bytes, expect_tag, req_attr, req_child, StanzaError};
use super::prekeys::{UploadedPreKey, UploadedSignedPreKey};
use crate::binary::{AttrValue, Jid, Node};
use crate::ids::MessageId;
use crate::signal::{PublicKey, DJB_TYPE};

/// Most ids accepted in one receipt (`id` plus `<list>` items) and users in a grouped receipt.
pub const MAX_RECEIPT_IDS: usize = 1024;

/// `type` of a receipt (§8 list; absent = delivered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptType {
    /// No `type`: delivered to an active client.
    Delivery,
    /// `sender`: from our own other device, for a message we sent (§10).
    Sender,
    /// `read`.
    Read,
    /// `read-self`: read, with read receipts disabled.
    ReadSelf,
    /// `played` (voice notes).
    Played,
    /// `played-self`.
    PlayedSelf,
    /// `inactive`: delivered while the receiver is not "active".
    Inactive,
    /// `peer_msg`: delivery of a peer (own-device) message.
    PeerMsg,
    /// `hist_sync`.
    HistSync,
    /// `retry`: the receiver could not decrypt (§11).
    Retry,
    /// `server-error`.
    ServerError,
}

impl ReceiptType {
    /// The wire value (`None` for a delivery receipt, which has no `type`).
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            ReceiptType::Delivery => return None,
            ReceiptType::Sender => "sender",
            ReceiptType::Read => "read",
            ReceiptType::ReadSelf => "read-self",
            ReceiptType::Played => "played",
            ReceiptType::PlayedSelf => "played-self",
            ReceiptType::Inactive => "inactive",
            ReceiptType::PeerMsg => "peer_msg",
            ReceiptType::HistSync => "hist_sync",
            ReceiptType::Retry => "retry",
            ReceiptType::ServerError => "server-error",
        })
    }

    /// Parses the wire value (`None` for an unknown type).
    pub fn parse(value: Option<&str>) -> Option<Self> {
        Some(match value {
            None => ReceiptType::Delivery,
            Some("sender") => ReceiptType::Sender,
            Some("read") => ReceiptType::Read,
            Some("read-self") => ReceiptType::ReadSelf,
            Some("played") => ReceiptType::Played,
            Some("played-self") => ReceiptType::PlayedSelf,
            Some("inactive") => ReceiptType::Inactive,
            Some("peer_msg") => ReceiptType::PeerMsg,
            Some("hist_sync") => ReceiptType::HistSync,
            Some("retry") => ReceiptType::Retry,
            Some("server-error") => ReceiptType::ServerError,
            Some(_) => return None,
        })
    }

    /// The delivery receipt type for a message we decrypted (§10): from our own account →
    /// `sender` (`peer_msg` for a peer message); otherwise none while we are active (after
    /// `<presence type="available">`), `inactive` when not.
    pub fn for_delivery(from_own_account: bool, peer: bool, active: bool) -> Self {
        match (from_own_account, peer, active) {
            (true, true, _) => ReceiptType::PeerMsg,
            (true, false, _) => ReceiptType::Sender,
            (false, _, true) => ReceiptType::Delivery,
            (false, _, false) => ReceiptType::Inactive,
        }
    }

    /// Whether this receipt means "delivered" to the sender's status (§8).
    pub fn is_delivery(self) -> bool {
        matches!(
            self,
            ReceiptType::Delivery | ReceiptType::Inactive | ReceiptType::PeerMsg
        )
    }

    /// Whether this receipt means "read" (or played) to the sender's status.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            ReceiptType::Read
                | ReceiptType::ReadSelf
                | ReceiptType::Played
                | ReceiptType::PlayedSelf
        )
    }
}

/// The `<keys>` of a retry receipt (§11): what the sender needs to build a fresh session.
/// Parsing checks lengths and the key type; the signed prekey's signature is checked by the
/// session builder that consumes these keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryKeys {
    /// `<identity>`: 32-byte identity public key.
    pub identity: PublicKey,
    /// `<key>`: a freshly generated one-time prekey.
    pub prekey: Option<UploadedPreKey>,
    /// `<skey>`: the signed prekey.
    pub signed: UploadedSignedPreKey,
    /// `<device-identity>`: the receiver's `ADVSignedDeviceIdentity` (companions).
    pub device_identity: Option<Vec<u8>>,
}

/// The retry part of a `type="retry"` receipt (§11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryInfo {
    /// `<retry count>`: 1..=[`MAX_ENC_COUNT`].
    pub count: u8,
    /// `<retry id>`: the message id.
    pub id: MessageId,
    /// `<retry t>`: the failed stanza's `t`.
    pub t: u64,
    /// `<retry v>` (1).
    pub v: u8,
    /// `<retry error>`: the reason code when known (0 unknown, 1 no session, … 13, §11).
    pub error: Option<u16>,
    /// `<registration>`: the receiver's registration id (4 bytes BE).
    pub registration_id: u32,
    /// `<keys>`: sent when `count ≥ 2` or forced.
    pub keys: Option<RetryKeys>,
}

/// The server's aggregated group receipt: `<participants key="<msg id>"><user jid t/>…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupedReceipt {
    /// `key`: the message id.
    pub key: MessageId,
    /// Each user and the time it reached them.
    pub users: Vec<(Jid, Option<u64>)>,
}

/// A `<receipt>`. The gateway sets `to` (the message's `from` as received) when it sends one;
/// the server sets `from` (the receiver's device) when it routes one (§8, §14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `id`: the (first) message id.
    pub id: MessageId,
    /// `to` (we send).
    pub to: Option<Jid>,
    /// `from` (the server routes).
    pub from: Option<Jid>,
    /// `type`.
    pub kind: ReceiptType,
    /// `participant`: the sender device in a group.
    pub participant: Option<Jid>,
    /// `recipient`: echoed from the message (own-device copies).
    pub recipient: Option<Jid>,
    /// `t`: unix seconds (read receipts, routed receipts).
    pub t: Option<u64>,
    /// `category="peer"` (retry receipt for a peer message).
    pub peer: bool,
    /// `<list><item id/></list>`: further message ids.
    pub more_ids: Vec<MessageId>,
    /// The retry part (`type="retry"` only).
    pub retry: Option<RetryInfo>,
    /// The grouped form (server → sender, groups).
    pub grouped: Option<GroupedReceipt>,
}

impl Receipt {
    /// A receipt of `kind` for `id` with nothing else set.
    pub fn new(id: MessageId, kind: ReceiptType) -> Self {
        Self {
            id,
            to: None,
            from: None,
            kind,
            participant: None,
            recipient: None,
            t: None,
            peer: false,
            more_ids: Vec::new(),
            retry: None,
            grouped: None,
        }
    }

    /// The receipt for a received message (§10): its `id`, `to` = its `from`, and its
    /// `participant` and `recipient` echoed. A message without `from` is an error.
    pub fn for_message(msg: &MessageStanza, kind: ReceiptType) -> Result<Self, StanzaError> {
        let from = msg.from.clone().ok_or_else(|| StanzaError::MissingAttr {
            tag: "message".to_owned(),
            attr: "from",
        })?;
        let mut r = Self::new(msg.id.clone(), kind);
        r.to = Some(from);
        r.participant = msg.participant.clone();
        r.recipient = msg.recipient.clone();
        Ok(r)
    }

    /// A read receipt (§10) for `ids` in `chat` (the first id in `id`, the rest in `<list>`),
    /// `read-self` when our read receipts are off, with `participant` = the sender in a group.
    /// `None` when `ids` is empty; callers send at most [`MAX_RECEIPT_IDS`] ids per receipt.
    pub fn read(
        chat: Jid,
        ids: &[MessageId],
        t: u64,
        participant: Option<Jid>,
        receipts_off: bool,
    ) -> Option<Self> {
        let (first, rest) = ids.split_first()?;
        let kind = if receipts_off {
            ReceiptType::ReadSelf
        } else {
            ReceiptType::Read
        };
        let mut r = Self::new(first.clone(), kind);
        r.to = Some(chat);
        r.t = Some(t);
        r.participant = participant;
        r.more_ids = rest.to_vec();
        Some(r)
    }

    /// Every message id this receipt covers: `id`, then the `<list>` items.
    pub fn ids(&self) -> impl Iterator<Item = &MessageId> {
        core::iter::once(&self.id).chain(self.more_ids.iter())
    }

    /// Builds the node.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new("receipt").with_attr("id", self.id.as_str());
        node = put(node, "to", self.to.as_ref());
        node = put(node, "from", self.from.as_ref());
        node = put(node, "type", self.kind.as_str());
        node = put(node, "participant", self.participant.as_ref());
        node = put(node, "recipient", self.recipient.as_ref());
        node = put(node, "t", self.t);
        if self.peer {
            node = node.with_attr("category", "peer");
        }
        let mut children = Vec::new();
        if !self.more_ids.is_empty() {
            let items = self.more_ids.iter();
            let items = items.map(|id| Node::new("item").with_attr("id", id.as_str()));
            children.push(Node::new("list").with_children(items.collect()));
        }
        if let Some(retry) = &self.retry {
            children.extend(retry_nodes(retry));
        }
        if let Some(g) = &self.grouped {
            let users = g
                .users
                .iter()
                .map(|(jid, t)| put(Node::new("user").with_attr("jid", jid), "t", *t));
            children.push(
                Node::new("participants")
                    .with_attr("key", g.key.as_str())
                    .with_children(users.collect()),
            );
        }
        if children.is_empty() {
            node
        } else {
            node.with_children(children)
        }
    }

    /// Parses a `<receipt>`. Refused: another tag, a missing or malformed `id`, neither `to`
    /// nor `from`, an unknown `type`, more than [`MAX_RECEIPT_IDS`] ids, a `retry` receipt
    /// without a valid `<retry>` and `<registration>`, malformed keys.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "receipt")?;
        let id = req_id(node, "id")?;
        let kind = match node.attr("type") {
            None => Some(ReceiptType::Delivery),
            Some(AttrValue::Str(s)) => ReceiptType::parse(Some(s)),
            Some(AttrValue::Jid(_)) => None,
        };
        let kind = kind.ok_or_else(|| bad(node, "type", node.attr("type")))?;
        let mut r = Self::new(id, kind);
        r.to = opt_jid(node, "to")?;
        r.from = opt_jid(node, "from")?;
        if r.to.is_none() && r.from.is_none() {
            req_jid(node, "from")?;
        }
        r.participant = opt_jid(node, "participant")?;
        r.recipient = opt_jid(node, "recipient")?;
        r.t = opt_num(node, "t")?;
        r.peer = match node.attr_str("category") {
            None if node.attr("category").is_none() => false,
            Some("peer") => true,
            _ => return Err(bad(node, "category", node.attr("category"))),
        };
        if let Some(list) = node.child("list") {
            if list.children().len() >= MAX_RECEIPT_IDS {
                return Err(bad(list, "count", list.children().len()));
            }
            r.more_ids = list
                .children()
                .iter()
                .map(|item| expect_tag(item, "item").and_then(|()| req_id(item, "id")))
                .collect::<Result<_, _>>()?;
        }
        if kind == ReceiptType::Retry {
            r.retry = Some(parse_retry(node)?);
        }
        if let Some(p) = node.child("participants") {
            r.grouped = Some(parse_grouped(p)?);
        }
        Ok(r)
    }
}

fn id3(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}

fn key_node(tag: &'static str, id: u32, public: &PublicKey) -> Node {
    Node::new(tag).with_children(vec![
        Node::new("id").with_bytes(id3(id)),
        Node::new("value").with_bytes(public.as_bytes().to_vec()),
    ])
}

fn retry_nodes(retry: &RetryInfo) -> Vec<Node> {
    let mut r = Node::new("retry")
        .with_attr("count", retry.count)
        .with_attr("id", retry.id.as_str())
        .with_attr("t", retry.t)
        .with_attr("v", retry.v);
    r = put(r, "error", retry.error);
    let mut out = vec![
        r,
        Node::new("registration").with_bytes(retry.registration_id.to_be_bytes().to_vec()),
    ];
    if let Some(keys) = &retry.keys {
        let mut k = vec![
            Node::new("type").with_bytes(vec![DJB_TYPE]),
            Node::new("identity").with_bytes(keys.identity.as_bytes().to_vec()),
        ];
        if let Some(pk) = &keys.prekey {
            k.push(key_node("key", pk.id, &pk.public));
        }
        let skey = key_node("skey", keys.signed.id, &keys.signed.public)
            .with_child(Node::new("signature").with_bytes(keys.signed.signature.to_vec()));
        k.push(skey);
        if let Some(di) = &keys.device_identity {
            k.push(Node::new("device-identity").with_bytes(di.clone()));
        }
        out.push(Node::new("keys").with_children(k));
    }
    out
}

fn key_id(node: &Node) -> Result<u32, StanzaError> {
    let id = req_child(node, "id")?;
    let b = id.bytes().unwrap_or_default();
    if b.len() != 3 {
        return Err(bad(node, "id", b));
    }
    be_uint(b).ok_or_else(|| bad(node, "id", b))
}

fn parse_retry(node: &Node) -> Result<RetryInfo, StanzaError> {
    let retry = req_child(node, "retry")?;
    let count: u8 = req_num(retry, "count")?;
    if count == 0 || count > MAX_ENC_COUNT {
        return Err(bad(retry, "count", count));
    }
    let v = req_attr(retry, "v")?;
    let v = v.parse().map_err(|_| bad(retry, "v", v))?;
    let registration_id = u32::from_be_bytes(child_bytes::<4>(node, "registration")?);
    let keys = node.child("keys").map(parse_keys).transpose()?;
    Ok(RetryInfo {
        count,
        id: req_id(retry, "id")?,
        t: req_num(retry, "t")?,
        v,
        error: opt_num(retry, "error")?,
        registration_id,
        keys,
    })
}

fn parse_keys(keys: &Node) -> Result<RetryKeys, StanzaError> {
    if child_bytes::<1>(keys, "type")? != [DJB_TYPE] {
        return Err(bad(keys, "type", keys.child("type").and_then(Node::bytes)));
    }
    let prekey = match keys.child("key") {
        None => None,
        Some(k) => Some(UploadedPreKey {
            id: key_id(k)?,
            public: PublicKey::from_bytes(child_bytes::<32>(k, "value")?),
        }),
    };
    let skey = req_child(keys, "skey")?;
    Ok(RetryKeys {
        identity: PublicKey::from_bytes(child_bytes::<32>(keys, "identity")?),
        prekey,
        signed: UploadedSignedPreKey {
            id: key_id(skey)?,
            public: PublicKey::from_bytes(child_bytes::<32>(skey, "value")?),
            signature: child_bytes::<64>(skey, "signature")?,
        },
        device_identity: opt_child_bytes(keys, "device-identity")?,
    })
}

fn parse_grouped(p: &Node) -> Result<GroupedReceipt, StanzaError> {
    if p.children().len() > MAX_RECEIPT_IDS {
        return Err(bad(p, "count", p.children().len()));
    }
    let users = p
        .children()
        .iter()
        .map(|u| {
            expect_tag(u, "user")?;
            Ok((req_jid(u, "jid")?, opt_num(u, "t")?))
        })
        .collect::<Result<_, StanzaError>>()?;
    Ok(GroupedReceipt {
        key: req_id(p, "key")?,
        users,
    })
}
