//! The usync device query (`messaging.md` §4, §0): which devices (with their `key-index`) a
//! user has, the primary-signed `key-index-list`, and the user's LID.
//!
//! ```text
//! <iq xmlns="usync" type="get" to="s.whatsapp.net" id>
//!   <usync sid mode="query" last="true" index="0" context="message">
//!     <query><devices version="2"/><lid/></query>
//!     <list><user jid="12345@s.whatsapp.net"/>…</list>
//!   </usync>
//! </iq>
//! <iq from="s.whatsapp.net" id type="result">
//!   <usync sid index="0" last="true"><list>
//!     <user jid="12345@s.whatsapp.net">
//!       <devices>
//!         <device-list [hash]><device id="0"/><device id="7" key-index="3" [is_hosted="true"]/>
//!         </device-list>
//!         <key-index-list ts [expected_ts]>〈ADVSignedKeyIndexList〉</key-index-list>
//!       </devices>
//!       <lid val="98765@lid"/>
//!     </user>
//!   </list></usync>
//! </iq>
//! ```
//!
//! The client builds [`UsyncQuery`] and parses [`UsyncResult`]; the server does the reverse.
//! Parsers are bounded ([`MAX_USYNC_USERS`] users, [`MAX_USER_DEVICES`] devices per user).

use prost::Message as _;
use rand_core::CryptoRngCore;

use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, expect_tag, req_attr, req_child, server_jid, StanzaError};
use crate::binary::{Jid, Node, Server};
use crate::pb::adv::{AdvEncryptionType, AdvKeyIndexList, AdvSignedKeyIndexList};
use crate::signal::{KeyPair, PublicKey, Signature};

/// Most users one usync may list (a bound for parsers on both sides).
pub const MAX_USYNC_USERS: usize = 1024;

/// Most devices one user may list: device numbers are 0..=255 (`messaging.md` §0).
pub const MAX_USER_DEVICES: usize = 256;

/// Prefix of the message the primary's signature over an `ADVKeyIndexList` covers. The
/// protocol notes (§4) name the structures but not this prefix; it continues the ADV prefix
/// family of pairing (`06 00` account, `06 01` device). whatsmeow and Baileys do not check the
/// signature on the send path (§4), so only clients that verify it depend on this value.
pub const KEY_INDEX_LIST_SIGNATURE_PREFIX: [u8; 2] = [0x06, 0x02];

/// Reads a JID attribute, typed (from the wire) or as text.
pub(crate) fn jid_attr(node: &Node, attr: &'static str) -> Result<Jid, StanzaError> {
    if let Some(jid) = node.attr_jid(attr) {
        return Ok(jid.clone());
    }
    let text = req_attr(node, attr)?;
    text.parse().map_err(|_| bad(node, attr, text))
}

/// Whether `jid` names a user (PN or LID) rather than a group, the server or another space.
pub(crate) fn is_user_space(jid: &Jid) -> bool {
    matches!(jid.server(), Server::WhatsApp | Server::Lid) && !jid.user_part().is_empty()
}

/// A usync request for the devices and/or LIDs of some users (`messaging.md` §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsyncQuery {
    /// `sid`: the request id echoed in the answer.
    pub sid: String,
    /// `mode` (`query`, `full`).
    pub mode: String,
    /// `context` (`message`, `background`, `interactive`).
    pub context: String,
    /// Whether `<devices version="2"/>` is asked.
    pub devices: bool,
    /// Whether `<lid/>` is asked.
    pub lid: bool,
    /// Other protocols asked (`business`, `status`, `picture`, …), by tag; not answered here.
    pub other: Vec<String>,
    /// The users, as user JIDs without device (one per user).
    pub users: Vec<Jid>,
}

impl UsyncQuery {
    /// The query a sender runs before a message: `mode="query" context="message"`, devices and
    /// LID (Baileys' form, §4).
    pub fn for_message(sid: impl Into<String>, users: Vec<Jid>) -> Self {
        Self {
            sid: sid.into(),
            mode: "query".to_owned(),
            context: "message".to_owned(),
            devices: true,
            lid: true,
            other: Vec::new(),
            users,
        }
    }

    /// The request (the connection allocates the IQ id); users are written without device.
    pub fn request(&self) -> IqRequest {
        let mut query = Vec::new();
        if self.devices {
            query.push(Node::new("devices").with_attr("version", "2"));
        }
        if self.lid {
            query.push(Node::new("lid"));
        }
        query.extend(self.other.iter().map(|t| Node::new(t.as_str())));
        let users = self
            .users
            .iter()
            .map(|u| Node::new("user").with_attr("jid", u.to_non_ad()))
            .collect();
        let usync = Node::new("usync")
            .with_attr("sid", self.sid.as_str())
            .with_attr("mode", self.mode.as_str())
            .with_attr("last", "true")
            .with_attr("index", "0")
            .with_attr("context", self.context.as_str())
            .with_children(vec![
                Node::new("query").with_children(query),
                Node::new("list").with_children(users),
            ]);
        IqRequest::new("usync", IqKind::Get, vec![usync])
    }

    /// Parses the request (server side): `sid`, `mode`, `context`, at least one of devices and
    /// LID asked, 1 to [`MAX_USYNC_USERS`] user JIDs (PN or LID, no device).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Get, "usync")?;
        let usync = req_child(node, "usync")?;
        let sid = non_empty(usync, "sid")?;
        let mode = non_empty(usync, "mode")?;
        let context = non_empty(usync, "context")?;
        let query = req_child(usync, "query")?;
        let (mut devices, mut lid, mut other) = (false, false, Vec::new());
        for protocol in query.children() {
            match protocol.tag.as_str() {
                "devices" => {
                    let version = req_attr(protocol, "version")?;
                    if version != "2" {
                        return Err(bad(protocol, "version", version));
                    }
                    devices = true;
                }
                "lid" => lid = true,
                tag => other.push(tag.to_owned()),
            }
        }
        if !devices && !lid {
            return Err(bad(query, "protocols", &other));
        }
        let list = req_child(usync, "list")?;
        let users = list_users(list)?;
        Ok(Self {
            sid: sid.to_owned(),
            mode: mode.to_owned(),
            context: context.to_owned(),
            devices,
            lid,
            other,
            users,
        })
    }
}

fn non_empty<'a>(node: &'a Node, attr: &'static str) -> Result<&'a str, StanzaError> {
    let v = req_attr(node, attr)?;
    if v.is_empty() {
        return Err(bad(node, attr, v));
    }
    Ok(v)
}

fn list_users(list: &Node) -> Result<Vec<Jid>, StanzaError> {
    let children = list.children();
    if children.is_empty() || children.len() > MAX_USYNC_USERS {
        return Err(bad(list, "user count", children.len()));
    }
    children
        .iter()
        .map(|user| {
            expect_tag(user, "user")?;
            let jid = jid_attr(user, "jid")?;
            if !is_user_space(&jid) || jid.is_ad() {
                return Err(bad(user, "jid", jid));
            }
            Ok(jid)
        })
        .collect()
}

/// One device in a user's device list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsyncDevice {
    /// Device number (0 = the primary phone).
    pub id: u8,
    /// The key index the primary signed (companions; absent on device 0).
    pub key_index: Option<u32>,
    /// `is_hosted="true"`: a hosted (business API) device.
    pub hosted: bool,
}

/// `<key-index-list ts [expected_ts]>〈ADVSignedKeyIndexList〉`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIndexListNode {
    /// `ts` (unix seconds).
    pub ts: u64,
    /// `expected_ts`, when present.
    pub expected_ts: Option<u64>,
    /// The serialised `ADVSignedKeyIndexList`.
    pub signed: Vec<u8>,
}

impl KeyIndexListNode {
    /// The `<key-index-list>` node (also carried by `devices` notifications).
    pub fn to_node(&self) -> Node {
        let mut n = Node::new("key-index-list").with_attr("ts", self.ts.to_string());
        if let Some(e) = self.expected_ts {
            n = n.with_attr("expected_ts", e.to_string());
        }
        n.with_bytes(self.signed.clone())
    }

    /// Parses a `<key-index-list>` node.
    pub fn from_node(k: &Node) -> Result<Self, StanzaError> {
        Ok(KeyIndexListNode {
            ts: num_attr(k, "ts")?,
            expected_ts: k
                .attr("expected_ts")
                .map(|_| num_attr(k, "expected_ts"))
                .transpose()?,
            signed: k.bytes().unwrap_or_default().to_vec(),
        })
    }
}

/// A user's `<devices>` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsyncDeviceList {
    /// `hash` of the device list, when present.
    pub hash: Option<String>,
    /// The devices, in the order listed.
    pub devices: Vec<UsyncDevice>,
    /// The signed key-index list (sent whenever the user has companions, §4).
    pub key_index_list: Option<KeyIndexListNode>,
}

/// One user's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsyncUser {
    /// The user as asked.
    pub jid: Jid,
    /// The device list, if devices were asked.
    pub devices: Option<UsyncDeviceList>,
    /// `<lid val>`, if the LID was asked and the user has one.
    pub lid: Option<Jid>,
}

impl UsyncUser {
    /// Every device JID of the user, in the user's namespace (`user:id@server`, device 0 as
    /// the bare user JID); `is_hosted` devices in the hosted space (`@hosted` for a phone
    /// number, `@hosted.lid` for a LID, as whatsmeow maps them, §4).
    pub fn device_jids(&self) -> Vec<Jid> {
        let Some(list) = &self.devices else {
            return Vec::new();
        };
        list.devices
            .iter()
            .map(|d| {
                let server = match (d.hosted, self.jid.server()) {
                    (true, Server::WhatsApp) => Server::Hosted,
                    (true, Server::Lid) => Server::HostedLid,
                    (_, server) => server.clone(),
                };
                Jid::device(self.jid.user_part().to_owned(), u16::from(d.id), server)
            })
            .collect()
    }
}

/// The usync answer (server → client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsyncResult {
    /// The request's `sid`.
    pub sid: String,
    /// Per user, in the order asked.
    pub users: Vec<UsyncUser>,
}

impl UsyncResult {
    /// The `<iq type="result">` answering IQ `id`.
    pub fn to_node(&self, id: &str) -> Node {
        let users = self.users.iter().map(user_node).collect();
        let usync = Node::new("usync")
            .with_attr("sid", self.sid.as_str())
            .with_attr("index", "0")
            .with_attr("last", "true")
            .with_children(vec![Node::new("list").with_children(users)]);
        Node::new("iq")
            .with_attr("from", server_jid())
            .with_attr("id", id)
            .with_attr("type", "result")
            .with_children(vec![usync])
    }

    /// Parses the answer (client side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "iq")?;
        let kind = req_attr(node, "type")?;
        if kind != "result" {
            return Err(bad(node, "type", kind));
        }
        let usync = req_child(node, "usync")?;
        let sid = req_attr(usync, "sid")?.to_owned();
        let list = req_child(usync, "list")?;
        if list.children().len() > MAX_USYNC_USERS {
            return Err(bad(list, "user count", list.children().len()));
        }
        let users = list
            .children()
            .iter()
            .map(parse_user)
            .collect::<Result<_, _>>()?;
        Ok(Self { sid, users })
    }
}

fn user_node(user: &UsyncUser) -> Node {
    let mut children = Vec::new();
    if let Some(list) = &user.devices {
        let devices = list
            .devices
            .iter()
            .map(|d| {
                let mut n = Node::new("device").with_attr("id", d.id.to_string());
                if let Some(k) = d.key_index {
                    n = n.with_attr("key-index", k.to_string());
                }
                if d.hosted {
                    n = n.with_attr("is_hosted", "true");
                }
                n
            })
            .collect();
        let mut device_list = Node::new("device-list");
        if let Some(hash) = &list.hash {
            device_list = device_list.with_attr("hash", hash.as_str());
        }
        let mut inner = vec![device_list.with_children(devices)];
        if let Some(kil) = &list.key_index_list {
            inner.push(kil.to_node());
        }
        children.push(Node::new("devices").with_children(inner));
    }
    if let Some(lid) = &user.lid {
        children.push(Node::new("lid").with_attr("val", lid.clone()));
    }
    let node = Node::new("user").with_attr("jid", user.jid.clone());
    if children.is_empty() {
        node
    } else {
        node.with_children(children)
    }
}

fn parse_user(user: &Node) -> Result<UsyncUser, StanzaError> {
    expect_tag(user, "user")?;
    let jid = jid_attr(user, "jid")?;
    let devices = user.child("devices").map(parse_devices).transpose()?;
    let lid = match user.child("lid") {
        Some(l) if l.attr("val").is_some() => {
            let lid = jid_attr(l, "val")?;
            if *lid.server() != Server::Lid {
                return Err(bad(l, "val", lid));
            }
            Some(lid)
        }
        _ => None,
    };
    Ok(UsyncUser { jid, devices, lid })
}

fn parse_devices(devices: &Node) -> Result<UsyncDeviceList, StanzaError> {
    let list = req_child(devices, "device-list")?;
    if list.children().len() > MAX_USER_DEVICES {
        return Err(bad(list, "device count", list.children().len()));
    }
    let mut parsed = Vec::with_capacity(list.children().len());
    for d in list.children() {
        expect_tag(d, "device")?;
        let id = req_attr(d, "id")?;
        let id = id.parse::<u8>().map_err(|_| bad(d, "id", id))?;
        let key_index = match d.attr_str("key-index") {
            Some(k) => Some(k.parse::<u32>().map_err(|_| bad(d, "key-index", k))?),
            None => None,
        };
        parsed.push(UsyncDevice {
            id,
            key_index,
            hosted: d.attr_str("is_hosted") == Some("true"),
        });
    }
    let key_index_list = devices
        .child("key-index-list")
        .map(KeyIndexListNode::from_node)
        .transpose()?;
    Ok(UsyncDeviceList {
        hash: list.attr_str("hash").map(str::to_owned),
        devices: parsed,
        key_index_list,
    })
}

fn num_attr(node: &Node, attr: &'static str) -> Result<u64, StanzaError> {
    let v = req_attr(node, attr)?;
    v.parse().map_err(|_| bad(node, attr, v))
}

/// The body of a signed key-index list (`ADVKeyIndexList`, §4): which companion key indexes
/// the primary currently vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIndexList {
    /// The account's ADV raw id.
    pub raw_id: u32,
    /// When the primary signed it (unix seconds).
    pub timestamp: u64,
    /// The highest key index the primary has assigned.
    pub current_index: u32,
    /// The key indexes of the linked companions.
    pub valid_indexes: Vec<u32>,
}

impl KeyIndexList {
    /// Signs the list with the primary's account key: the `ADVSignedKeyIndexList` bytes.
    pub fn sign(&self, account: &KeyPair, rng: &mut impl CryptoRngCore) -> Vec<u8> {
        let details = AdvKeyIndexList {
            raw_id: Some(self.raw_id),
            timestamp: Some(self.timestamp),
            current_index: Some(self.current_index),
            valid_indexes: self.valid_indexes.clone(),
            account_type: Some(AdvEncryptionType::E2ee as i32),
        }
        .encode_to_vec();
        let signature = account.private.sign(&signed_message(&details), rng);
        AdvSignedKeyIndexList {
            details: Some(details),
            account_signature: Some(signature.to_vec()),
            account_signature_key: None,
        }
        .encode_to_vec()
    }

    /// Decodes `ADVSignedKeyIndexList` bytes and checks the account signature under
    /// `account` (the user's primary identity).
    pub fn verify(signed: &[u8], account: &PublicKey) -> Result<Self, StanzaError> {
        Self::decode_checked(signed, Some(account))
    }

    /// Decodes `ADVSignedKeyIndexList` bytes without checking the signature: for a user whose
    /// primary identity is not known yet (first contact); the signature must still be present.
    pub fn decode_unverified(signed: &[u8]) -> Result<Self, StanzaError> {
        Self::decode_checked(signed, None)
    }

    fn decode_checked(signed: &[u8], account: Option<&PublicKey>) -> Result<Self, StanzaError> {
        let node = Node::new("key-index-list");
        let outer =
            AdvSignedKeyIndexList::decode(signed).map_err(|_| bad(&node, "bytes", signed))?;
        let details = outer.details.unwrap_or_default();
        let signature: Signature = outer
            .account_signature
            .as_deref()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad(&node, "account_signature", &outer.account_signature))?;
        if account.is_some_and(|a| !a.verify(&signed_message(&details), &signature)) {
            return Err(bad(&node, "account_signature", "does not verify"));
        }
        let body = AdvKeyIndexList::decode(details.as_slice())
            .map_err(|_| bad(&node, "details", &details))?;
        Ok(Self {
            raw_id: body.raw_id.unwrap_or_default(),
            timestamp: body.timestamp.unwrap_or_default(),
            current_index: body.current_index.unwrap_or_default(),
            valid_indexes: body.valid_indexes,
        })
    }

    /// Whether a companion with `key_index` is vouched for: listed, or newer than
    /// `current_index` (whatsapp-rust's rule, §4).
    pub fn allows(&self, key_index: u32) -> bool {
        self.valid_indexes.contains(&key_index) || key_index > self.current_index
    }
}

fn signed_message(details: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(2 + details.len());
    msg.extend_from_slice(&KEY_INDEX_LIST_SIGNATURE_PREFIX);
    msg.extend_from_slice(details);
    msg
}

#[cfg(test)]
#[path = "usync_tests.rs"]
mod tests;
