//! Prekey bundle fetch (`messaging.md` §5): the `encrypt` IQ asking for the bundles of some
//! devices, and the answer with, per device, a bundle or an error.
//!
//! ```text
//! <iq xmlns="encrypt" type="get" to="s.whatsapp.net" id>
//!   <key><user jid="12345:7@s.whatsapp.net" reason="identity"/><user jid="98765@lid"/></key>
//! </iq>
//! <iq from="s.whatsapp.net" id type="result"><list>
//!   <user jid="12345:7@s.whatsapp.net">
//!     <registration>〈4〉</registration><type>〈05〉</type><identity>〈32〉</identity>
//!     <skey><id>〈3〉</id><value>〈32〉</value><signature>〈64〉</signature></skey>
//!     [<key><id>〈3〉</id><value>〈32〉</value></key>]
//!     [<device-identity>〈ADVSignedDeviceIdentity〉</device-identity>]
//!   </user>
//!   <user jid="…"><error code="406" text="not-acceptable"/></user>
//! </list></iq>
//! ```
//!
//! Parsing follows §5: the key nodes directly under `<user>` or under `<keys>`; exactly
//! 4/1/32/3/32/64 bytes; an `<error>` child means no bundle for that device only. Raw 32-byte
//! keys are carried as [`PublicKey`]s (the `0x05` type byte is Signal's, added by `to_djb`).
//! The signed prekey's signature is not checked here: [`PreKeyBundle::verify_signature`].

use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::StanzaError;
use super::parse::{bad, be_uint, child_bytes, expect_tag, req_attr, req_child, server_jid};
use super::usync::{is_user_space, jid_attr};
use crate::binary::{Jid, Node};
use crate::signal::keys::{decode_pre_key_id, encode_pre_key_id};
use crate::signal::{PreKeyBundle, PublicKey, PublicPreKey, DJB_TYPE};

/// Most devices one bundle request may name (a bound for parsers on both sides).
pub const MAX_BUNDLE_DEVICES: usize = 1024;

/// The error a server answers for a device it has no bundle for (§5).
pub const NO_BUNDLE_CODE: u16 = 406;

/// One device asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleTarget {
    /// The device JID (device 0 written without `:0`).
    pub jid: Jid,
    /// `reason` (`identity`, `retry`), when given.
    pub reason: Option<String>,
}

/// `<iq xmlns="encrypt" type="get"><key><user jid [reason]/>…</key></iq>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyBundleRequest {
    /// The devices, 1 to [`MAX_BUNDLE_DEVICES`].
    pub users: Vec<BundleTarget>,
}

impl PreKeyBundleRequest {
    /// The request (the connection allocates the IQ id).
    pub fn request(&self) -> IqRequest {
        let users = self
            .users
            .iter()
            .map(|u| {
                let n = Node::new("user").with_attr("jid", u.jid.clone());
                match &u.reason {
                    Some(r) => n.with_attr("reason", r.as_str()),
                    None => n,
                }
            })
            .collect();
        IqRequest::new(
            "encrypt",
            IqKind::Get,
            vec![Node::new("key").with_children(users)],
        )
    }

    /// Parses the request (server side): PN or LID device JIDs, an optional non-empty
    /// `reason`.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Get, "encrypt")?;
        let key = req_child(node, "key")?;
        let children = key.children();
        if children.is_empty() || children.len() > MAX_BUNDLE_DEVICES {
            return Err(bad(key, "user count", children.len()));
        }
        let users = children
            .iter()
            .map(|user| {
                expect_tag(user, "user")?;
                let jid = jid_attr(user, "jid")?;
                if !is_user_space(&jid) {
                    return Err(bad(user, "jid", jid));
                }
                let reason = match user.attr_str("reason") {
                    Some("") => return Err(bad(user, "reason", "")),
                    r => r.map(str::to_owned),
                };
                Ok(BundleTarget { jid, reason })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { users })
    }
}

/// One device's keys as the server hands them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBundle {
    /// The Signal bundle.
    pub bundle: PreKeyBundle,
    /// `<device-identity>` (companions): the serialised `ADVSignedDeviceIdentity`.
    pub device_identity: Option<Vec<u8>>,
}

impl From<PreKeyBundle> for DeviceBundle {
    fn from(bundle: PreKeyBundle) -> Self {
        Self {
            bundle,
            device_identity: None,
        }
    }
}

impl From<DeviceBundle> for PreKeyBundle {
    fn from(d: DeviceBundle) -> Self {
        d.bundle
    }
}

/// What the server answered for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleOutcome {
    /// The device's keys.
    Bundle(Box<DeviceBundle>),
    /// `<error code text>`: no bundle for this device (unknown or gone); skip it.
    Error {
        /// Error code (406 for an unknown device).
        code: u16,
        /// Error text.
        text: String,
    },
}

/// One `<user>` of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleAnswer {
    /// The device as asked.
    pub jid: Jid,
    /// Its bundle or error.
    pub outcome: BundleOutcome,
}

/// The answer to a [`PreKeyBundleRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyBundleResult {
    /// Per device, in the order asked.
    pub users: Vec<BundleAnswer>,
}

fn id_node(tag: &'static str, id: u32) -> Node {
    // Ids above 2^24 − 1 cannot exist (`MAX_PRE_KEY_ID`); write them truncated rather than
    // panic, the receiving parser then sees a wrong id.
    let bytes = encode_pre_key_id(id).unwrap_or_else(|| {
        let [_, a, b, c] = id.to_be_bytes();
        [a, b, c]
    });
    Node::new(tag).with_bytes(bytes.to_vec())
}

fn bundle_children(d: &DeviceBundle) -> Vec<Node> {
    let b = &d.bundle;
    let mut children = vec![
        Node::new("registration").with_bytes(b.registration_id.to_be_bytes().to_vec()),
        Node::new("type").with_bytes(vec![DJB_TYPE]),
        Node::new("identity").with_bytes(b.identity_key.as_bytes().to_vec()),
        Node::new("skey").with_children(vec![
            id_node("id", b.signed_pre_key.id),
            Node::new("value").with_bytes(b.signed_pre_key.key.as_bytes().to_vec()),
            Node::new("signature").with_bytes(b.signed_pre_key_signature.to_vec()),
        ]),
    ];
    if let Some(k) = &b.pre_key {
        children.push(Node::new("key").with_children(vec![
            id_node("id", k.id),
            Node::new("value").with_bytes(k.key.as_bytes().to_vec()),
        ]));
    }
    if let Some(di) = &d.device_identity {
        children.push(Node::new("device-identity").with_bytes(di.clone()));
    }
    children
}

impl PreKeyBundleResult {
    /// The `<iq type="result">` answering IQ `id`.
    pub fn to_node(&self, id: &str) -> Node {
        let users = self
            .users
            .iter()
            .map(|u| {
                let children = match &u.outcome {
                    BundleOutcome::Bundle(d) => bundle_children(d),
                    BundleOutcome::Error { code, text } => vec![Node::new("error")
                        .with_attr("code", code.to_string())
                        .with_attr("text", text.as_str())],
                };
                Node::new("user")
                    .with_attr("jid", u.jid.clone())
                    .with_children(children)
            })
            .collect();
        Node::new("iq")
            .with_attr("from", server_jid())
            .with_attr("id", id)
            .with_attr("type", "result")
            .with_children(vec![Node::new("list").with_children(users)])
    }

    /// Parses the answer (client side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "iq")?;
        let kind = req_attr(node, "type")?;
        if kind != "result" {
            return Err(bad(node, "type", kind));
        }
        let list = req_child(node, "list")?;
        if list.children().len() > MAX_BUNDLE_DEVICES {
            return Err(bad(list, "user count", list.children().len()));
        }
        let users = list
            .children()
            .iter()
            .map(parse_answer)
            .collect::<Result<_, _>>()?;
        Ok(Self { users })
    }
}

fn parse_answer(user: &Node) -> Result<BundleAnswer, StanzaError> {
    expect_tag(user, "user")?;
    let jid = jid_attr(user, "jid")?;
    if let Some(error) = user.child("error") {
        let code = req_attr(error, "code")?;
        let code = code.parse().map_err(|_| bad(error, "code", code))?;
        let text = error.attr_str("text").unwrap_or_default().to_owned();
        return Ok(BundleAnswer {
            jid,
            outcome: BundleOutcome::Error { code, text },
        });
    }
    let keys = user.child("keys").unwrap_or(user);
    let bundle = parse_bundle(user, keys)?;
    Ok(BundleAnswer {
        jid,
        outcome: BundleOutcome::Bundle(Box::new(bundle)),
    })
}

fn key_id(node: &Node) -> Result<u32, StanzaError> {
    let bytes = child_bytes::<3>(node, "id")?;
    decode_pre_key_id(&bytes).ok_or_else(|| bad(node, "id", bytes))
}

fn parse_bundle(user: &Node, keys: &Node) -> Result<DeviceBundle, StanzaError> {
    let registration = child_bytes::<4>(keys, "registration")?;
    let registration_id =
        be_uint(&registration).ok_or_else(|| bad(keys, "registration", registration))?;
    let key_type = child_bytes::<1>(keys, "type")?;
    if key_type != [DJB_TYPE] {
        return Err(bad(keys, "type", key_type));
    }
    let identity_key = PublicKey::from_bytes(child_bytes::<32>(keys, "identity")?);
    let skey = req_child(keys, "skey")?;
    let signed_pre_key = PublicPreKey {
        id: key_id(skey)?,
        key: PublicKey::from_bytes(child_bytes::<32>(skey, "value")?),
    };
    let signature = child_bytes::<64>(skey, "signature")?;
    let pre_key = match keys.child("key") {
        Some(k) => Some(PublicPreKey {
            id: key_id(k)?,
            key: PublicKey::from_bytes(child_bytes::<32>(k, "value")?),
        }),
        None => None,
    };
    let device_identity = user
        .child("device-identity")
        .or_else(|| keys.child("device-identity"))
        .map(|d| d.bytes().unwrap_or_default().to_vec());
    Ok(DeviceBundle {
        bundle: PreKeyBundle {
            registration_id,
            identity_key,
            signed_pre_key,
            signed_pre_key_signature: signature,
            pre_key,
        },
        device_identity,
    })
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
