//! The stanzas of both linking flows, each as a typed struct with a builder (`to_node`) and a
//! strict parser (`from_node`) so the same code serves the companion and the simulated server.
//!
//! Parsers check the tag, the IQ/notification `type`, that server-originated stanzas come
//! `from` `s.whatsapp.net` and client stanzas go `to` it (as a JID or the plain string), the
//! required attributes and children, and the lengths of keys and wrapped blobs. They ignore
//! unknown attributes and children (e.g. `xmlns`, passkey siblings of pair-success).
//! Binary content is built as [`Content::Bytes`](crate::binary::Content::Bytes).

use crate::binary::{AttrValue, Jid, Node, Server};
use crate::signal::PublicKey;

use super::code::{WRAPPED_BUNDLE_LEN, WRAPPED_KEY_LEN};
use super::error::PairError;
use super::props::PairingProps;

/// `link_code_companion_reg`: the container tag of all pair-code stanzas.
const LINK_REG: &str = "link_code_companion_reg";
const WRAPPED_COMPANION: &str = "link_code_pairing_wrapped_companion_ephemeral_pub";
const WRAPPED_PRIMARY: &str = "link_code_pairing_wrapped_primary_ephemeral_pub";
const WRAPPED_BUNDLE: &str = "link_code_pairing_wrapped_key_bundle";
const SERVER_AUTH_KEY: &str = "companion_server_auth_key_pub";
const PLATFORM_ID: &str = "companion_platform_id";
const PLATFORM_DISPLAY: &str = "companion_platform_display";
const NONCE: &str = "link_code_pairing_nonce";
const PAIRING_REF: &str = "link_code_pairing_ref";
const PRIMARY_IDENTITY: &str = "primary_identity_pub";
const COMPANION_IDENTITY: &str = "companion_identity_public";

// ----------------------------------------------------------------------------------------------
// Parsing helpers
// ----------------------------------------------------------------------------------------------

fn server() -> Jid {
    Jid::server_jid(Server::WhatsApp)
}

fn expect_tag(node: &Node, tag: &'static str) -> Result<(), PairError> {
    if node.tag == tag {
        Ok(())
    } else {
        Err(PairError::UnexpectedTag {
            expected: tag,
            got: node.tag.clone(),
        })
    }
}

fn req_attr<'a>(
    node: &'a Node,
    tag: &'static str,
    attr: &'static str,
) -> Result<&'a str, PairError> {
    node.attr_str(attr)
        .ok_or(PairError::MissingAttr { tag, attr })
}

fn expect_attr(
    node: &Node,
    tag: &'static str,
    attr: &'static str,
    value: &str,
) -> Result<(), PairError> {
    let got = req_attr(node, tag, attr)?;
    if got == value {
        Ok(())
    } else {
        Err(PairError::BadAttr {
            tag,
            attr,
            value: got.to_owned(),
        })
    }
}

/// An attribute holding a JID, on the wire as a JID or as its text form.
fn req_jid(node: &Node, tag: &'static str, attr: &'static str) -> Result<Jid, PairError> {
    match node.attr(attr) {
        Some(AttrValue::Jid(j)) => Ok(j.clone()),
        Some(AttrValue::Str(s)) => s.parse().map_err(|_| PairError::BadAttr {
            tag,
            attr,
            value: s.clone(),
        }),
        None => Err(PairError::MissingAttr { tag, attr }),
    }
}

fn opt_jid(node: &Node, tag: &'static str, attr: &'static str) -> Result<Option<Jid>, PairError> {
    if node.attr(attr).is_some() {
        req_jid(node, tag, attr).map(Some)
    } else {
        Ok(None)
    }
}

/// `attr` must name `s.whatsapp.net` (JID or text, Baileys' `@s.whatsapp.net` included).
fn expect_server(node: &Node, tag: &'static str, attr: &'static str) -> Result<(), PairError> {
    let ok = match node.attr(attr) {
        None => return Err(PairError::MissingAttr { tag, attr }),
        Some(AttrValue::Jid(j)) => *j == server(),
        Some(AttrValue::Str(s)) => matches!(s.as_str(), "s.whatsapp.net" | "@s.whatsapp.net"),
    };
    if ok {
        Ok(())
    } else {
        Err(PairError::BadAttr {
            tag,
            attr,
            value: node.attr(attr).map(ToString::to_string).unwrap_or_default(),
        })
    }
}

fn opt_u64(node: &Node, tag: &'static str, attr: &'static str) -> Result<Option<u64>, PairError> {
    match node.attr_str(attr) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| PairError::BadAttr {
            tag,
            attr,
            value: s.to_owned(),
        }),
    }
}

fn req_child<'a>(
    node: &'a Node,
    parent: &'static str,
    child: &'static str,
) -> Result<&'a Node, PairError> {
    node.child(child)
        .ok_or(PairError::MissingChild { parent, child })
}

fn req_bytes<'a>(
    node: &'a Node,
    parent: &'static str,
    child: &'static str,
) -> Result<&'a [u8], PairError> {
    req_child(node, parent, child)?
        .bytes()
        .ok_or(PairError::MissingContent(child))
}

fn req_text<'a>(
    node: &'a Node,
    parent: &'static str,
    child: &'static str,
) -> Result<&'a str, PairError> {
    req_child(node, parent, child)?
        .content_str()
        .ok_or(PairError::MissingContent(child))
}

fn fixed<const N: usize>(bytes: &[u8], field: &'static str) -> Result<[u8; N], PairError> {
    bytes.try_into().map_err(|_| PairError::BadLength {
        field,
        expected: N,
        got: bytes.len(),
    })
}

fn req_key(node: &Node, parent: &'static str, child: &'static str) -> Result<PublicKey, PairError> {
    Ok(PublicKey::from_bytes(fixed(
        req_bytes(node, parent, child)?,
        child,
    )?))
}

fn iq_head(node: &Node, kind: &str) -> Result<String, PairError> {
    expect_tag(node, "iq")?;
    expect_attr(node, "iq", "type", kind)?;
    Ok(req_attr(node, "iq", "id")?.to_owned())
}

/// A server → client IQ: `from` is `s.whatsapp.net`. Returns the id.
fn server_iq(node: &Node, kind: &str) -> Result<String, PairError> {
    let id = iq_head(node, kind)?;
    expect_server(node, "iq", "from")?;
    Ok(id)
}

/// A client → server IQ: `to` is `s.whatsapp.net`. Returns the id.
fn client_iq(node: &Node, kind: &str) -> Result<String, PairError> {
    let id = iq_head(node, kind)?;
    expect_server(node, "iq", "to")?;
    Ok(id)
}

fn client_iq_node(kind: &str, id: &str) -> Node {
    Node::new("iq")
        .with_attr("to", server())
        .with_attr("type", kind)
        .with_attr("id", id)
}

fn server_iq_node(kind: &str, id: &str) -> Node {
    Node::new("iq")
        .with_attr("from", server())
        .with_attr("type", kind)
        .with_attr("id", id)
}

// ----------------------------------------------------------------------------------------------
// QR flow
// ----------------------------------------------------------------------------------------------

/// `<iq from=s.whatsapp.net type=set id xmlns=md><pair-device><ref>…</ref>×n</pair-device></iq>`
/// (server → unpaired client, §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairDevice {
    /// IQ id (echoed by the ack).
    pub id: String,
    /// The QR refs, in display order (at least one).
    pub refs: Vec<String>,
}

impl PairDevice {
    /// Builds the IQ.
    pub fn to_node(&self) -> Node {
        server_iq_node("set", &self.id)
            .with_attr("xmlns", "md")
            .with_children(vec![Node::new("pair-device").with_children(
                self.refs
                    .iter()
                    .map(|r| Node::new("ref").with_bytes(r.as_bytes()))
                    .collect(),
            )])
    }

    /// Parses the IQ; needs at least one `<ref>` with text content.
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        let id = server_iq(node, "set")?;
        let pd = req_child(node, "iq", "pair-device")?;
        let refs = pd
            .children_by_tag("ref")
            .map(|r| {
                r.content_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or(PairError::MissingContent("ref"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if refs.is_empty() {
            return Err(PairError::MissingChild {
                parent: "pair-device",
                child: "ref",
            });
        }
        Ok(PairDevice { id, refs })
    }
}

/// `<iq to=s.whatsapp.net type=result id/>`: the client's acknowledgement of pair-device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IqAck {
    /// The id of the acknowledged IQ.
    pub id: String,
}

impl IqAck {
    /// Builds the ack.
    pub fn to_node(&self) -> Node {
        client_iq_node("result", &self.id)
    }

    /// Parses the ack.
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        Ok(IqAck {
            id: client_iq(node, "result")?,
        })
    }
}

/// The pair-success IQ (server → client once the phone signed the companion, §4.4).
///
/// ```text
/// <iq from=s.whatsapp.net type=set id t xmlns=md><pair-success>
///   <device-identity>ADVSignedDeviceIdentityHMAC</device-identity> <platform name/>
///   <device jid lid/> [<biz name/>] [<client-props>ClientPairingProps</client-props>]
/// </pair-success></iq>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairSuccess {
    /// IQ id (echoed by pair-device-sign or the pair error).
    pub id: String,
    /// Server time `t` (Unix seconds), for the clock offset.
    pub t: Option<u64>,
    /// `ADVSignedDeviceIdentityHMAC` bytes, for [`super::verify_pair_success`].
    pub device_identity: Vec<u8>,
    /// The phone's platform (`<platform name>`), e.g. `android`; optional as in Baileys.
    pub platform: Option<String>,
    /// Our new device JID, `PHONE:DEV@s.whatsapp.net`.
    pub device: Jid,
    /// Our LID, `LID:DEV@lid` (optional as in Baileys and whatsmeow).
    pub lid: Option<Jid>,
    /// `<biz name>`, the business name.
    pub business_name: Option<String>,
    /// `<client-props>`, decoded (`ClientPairingProps`, bounded; a malformed one makes the
    /// pair-success malformed).
    pub client_props: Option<PairingProps>,
}

impl PairSuccess {
    /// Builds the IQ (the simulated server's side).
    pub fn to_node(&self) -> Node {
        let mut iq = server_iq_node("set", &self.id).with_attr("xmlns", "md");
        if let Some(t) = self.t {
            iq = iq.with_attr("t", t);
        }
        let mut children =
            vec![Node::new("device-identity").with_bytes(self.device_identity.clone())];
        if let Some(p) = &self.platform {
            children.push(Node::new("platform").with_attr("name", p));
        }
        let mut device = Node::new("device").with_attr("jid", &self.device);
        if let Some(lid) = &self.lid {
            device = device.with_attr("lid", lid);
        }
        children.push(device);
        if let Some(b) = &self.business_name {
            children.push(Node::new("biz").with_attr("name", b));
        }
        if let Some(p) = &self.client_props {
            children.push(Node::new("client-props").with_bytes(p.encode()));
        }
        iq.with_children(vec![Node::new("pair-success").with_children(children)])
    }

    /// Parses the IQ; `<device-identity>` and `<device jid>` are required.
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        let id = server_iq(node, "set")?;
        let t = opt_u64(node, "iq", "t")?;
        let ps = req_child(node, "iq", "pair-success")?;
        let device_identity = req_bytes(ps, "pair-success", "device-identity")?.to_vec();
        let platform = match ps.child("platform") {
            Some(p) => Some(req_attr(p, "platform", "name")?.to_owned()),
            None => None,
        };
        let dev = req_child(ps, "pair-success", "device")?;
        let device = req_jid(dev, "device", "jid")?;
        let lid = opt_jid(dev, "device", "lid")?;
        let business_name = match ps.child("biz") {
            Some(b) => b.attr_str("name").map(str::to_owned),
            None => None,
        };
        let client_props = ps
            .child("client-props")
            .and_then(Node::bytes)
            .map(PairingProps::decode)
            .transpose()?;
        Ok(PairSuccess {
            id,
            t,
            device_identity,
            platform,
            device,
            lid,
            business_name,
            client_props,
        })
    }
}

/// The companion's answer to pair-success (§4.6):
/// `<iq to=s.whatsapp.net type=result id><pair-device-sign><device-identity key-index=K>…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairDeviceSign {
    /// The pair-success IQ id.
    pub id: String,
    /// The signed key index ([`super::PairedDevice::key_index`]).
    pub key_index: u32,
    /// `ADVSignedDeviceIdentity` without `accountSignatureKey` ([`super::PairedDevice::reply`]).
    pub device_identity: Vec<u8>,
}

impl PairDeviceSign {
    /// Builds the reply.
    pub fn to_node(&self) -> Node {
        client_iq_node("result", &self.id).with_children(vec![Node::new("pair-device-sign")
            .with_children(vec![Node::new("device-identity")
                .with_attr("key-index", self.key_index)
                .with_bytes(self.device_identity.clone())])])
    }

    /// Parses the reply (server side); check it with [`super::verify_pair_device_sign`].
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        let id = client_iq(node, "result")?;
        let pds = req_child(node, "iq", "pair-device-sign")?;
        let di = req_child(pds, "pair-device-sign", "device-identity")?;
        let ki = req_attr(di, "device-identity", "key-index")?;
        let key_index = ki.parse().map_err(|_| PairError::BadAttr {
            tag: "device-identity",
            attr: "key-index",
            value: ki.to_owned(),
        })?;
        let device_identity = di
            .bytes()
            .ok_or(PairError::MissingContent("device-identity"))?
            .to_vec();
        Ok(PairDeviceSign {
            id,
            key_index,
            device_identity,
        })
    }
}

/// The companion's refusal of a pair-success:
/// `<iq to=s.whatsapp.net type=error id><error code text/></iq>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairErrorReply {
    /// The pair-success IQ id.
    pub id: String,
    /// `401` or `500`.
    pub code: u16,
    /// `hmac-mismatch`, `signature-mismatch` or `internal-error`.
    pub text: String,
}

impl PairErrorReply {
    /// The reply for a failed verification ([`PairError::wire_code`]).
    pub fn new(id: impl Into<String>, error: &PairError) -> Self {
        let (code, text) = error.wire_code();
        PairErrorReply {
            id: id.into(),
            code,
            text: text.to_owned(),
        }
    }

    /// Builds the reply.
    pub fn to_node(&self) -> Node {
        client_iq_node("error", &self.id).with_children(vec![Node::new("error")
            .with_attr("code", self.code)
            .with_attr("text", self.text.as_str())])
    }

    /// Parses the reply.
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        let id = client_iq(node, "error")?;
        let e = req_child(node, "iq", "error")?;
        let c = req_attr(e, "error", "code")?;
        let code = c.parse().map_err(|_| PairError::BadAttr {
            tag: "error",
            attr: "code",
            value: c.to_owned(),
        })?;
        let text = req_attr(e, "error", "text")?.to_owned();
        Ok(PairErrorReply { id, code, text })
    }
}

// ----------------------------------------------------------------------------------------------
// Pair-code flow
// ----------------------------------------------------------------------------------------------

fn link_reg<'a>(node: &'a Node, stage: Option<&str>) -> Result<&'a Node, PairError> {
    let reg = req_child(node, node_tag(node), LINK_REG)?;
    if let Some(stage) = stage {
        expect_attr(reg, LINK_REG, "stage", stage)?;
    }
    Ok(reg)
}

/// The static name of the parent for error messages.
fn node_tag(node: &Node) -> &'static str {
    if node.tag == "notification" {
        "notification"
    } else {
        "iq"
    }
}

/// Stage 1, client → server (§5.3): registers the wrapped companion ephemeral for a phone
/// number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionHello {
    /// IQ id.
    pub id: String,
    /// `PHONE@s.whatsapp.net` (digits only).
    pub phone: Jid,
    /// `should_show_push_notification`.
    pub should_show_push_notification: bool,
    /// `link_code_pairing_wrapped_companion_ephemeral_pub`.
    pub wrapped_ephemeral: [u8; WRAPPED_KEY_LEN],
    /// `companion_server_auth_key_pub`: the Noise static public key.
    pub noise_pub: PublicKey,
    /// `companion_platform_id`: the client type, e.g. `"1"`.
    pub platform_id: String,
    /// `companion_platform_display`: `"Browser (OS)"`, e.g. `"Chrome (Linux)"`.
    pub platform_display: String,
}

impl CompanionHello {
    /// Builds the IQ; the nonce is one byte `0x00` (whatsmeow, WA Web).
    pub fn to_node(&self) -> Node {
        client_iq_node("set", &self.id)
            .with_attr("xmlns", "md")
            .with_children(vec![Node::new(LINK_REG)
                .with_attr("jid", &self.phone)
                .with_attr("stage", "companion_hello")
                .with_attr(
                    "should_show_push_notification",
                    self.should_show_push_notification,
                )
                .with_children(vec![
                    Node::new(WRAPPED_COMPANION).with_bytes(self.wrapped_ephemeral.to_vec()),
                    Node::new(SERVER_AUTH_KEY).with_bytes(self.noise_pub.as_bytes().to_vec()),
                    Node::new(PLATFORM_ID).with_bytes(self.platform_id.as_bytes()),
                    Node::new(PLATFORM_DISPLAY).with_bytes(self.platform_display.as_bytes()),
                    Node::new(NONCE).with_bytes(vec![0u8]),
                ])])
    }

    /// Parses the IQ (server side). The nonce must be present: one byte `0x00`, or the text
    /// `"0"` Baileys sends.
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        let id = client_iq(node, "set")?;
        let reg = link_reg(node, Some("companion_hello"))?;
        let phone = req_jid(reg, LINK_REG, "jid")?;
        let push = match req_attr(reg, LINK_REG, "should_show_push_notification")? {
            "true" => true,
            "false" => false,
            other => {
                return Err(PairError::BadAttr {
                    tag: LINK_REG,
                    attr: "should_show_push_notification",
                    value: other.to_owned(),
                })
            }
        };
        let wrapped_ephemeral = fixed(
            req_bytes(reg, LINK_REG, WRAPPED_COMPANION)?,
            WRAPPED_COMPANION,
        )?;
        let noise_pub = req_key(reg, LINK_REG, SERVER_AUTH_KEY)?;
        let platform_id = req_text(reg, LINK_REG, PLATFORM_ID)?.to_owned();
        let platform_display = req_text(reg, LINK_REG, PLATFORM_DISPLAY)?.to_owned();
        match req_bytes(reg, LINK_REG, NONCE)? {
            [0] | b"0" => {}
            other => {
                return Err(PairError::BadLength {
                    field: NONCE,
                    expected: 1,
                    got: other.len(),
                })
            }
        }
        Ok(CompanionHello {
            id,
            phone,
            should_show_push_notification: push,
            wrapped_ephemeral,
            noise_pub,
            platform_id,
            platform_display,
        })
    }
}

/// The server's result for companion_hello, carrying the linking ref:
/// `<iq from=s.whatsapp.net type=result id><link_code_companion_reg><link_code_pairing_ref>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionHelloResult {
    /// The companion_hello IQ id.
    pub id: String,
    /// `link_code_pairing_ref` (opaque bytes, echoed in later stages).
    pub pairing_ref: Vec<u8>,
}

impl CompanionHelloResult {
    /// Builds the result.
    pub fn to_node(&self) -> Node {
        server_iq_node("result", &self.id).with_children(vec![Node::new(LINK_REG).with_children(
            vec![Node::new(PAIRING_REF).with_bytes(self.pairing_ref.clone())],
        )])
    }

    /// Parses the result.
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        let id = server_iq(node, "result")?;
        let reg = link_reg(node, None)?;
        let pairing_ref = req_bytes(reg, LINK_REG, PAIRING_REF)?.to_vec();
        if pairing_ref.is_empty() {
            return Err(PairError::MissingContent(PAIRING_REF));
        }
        Ok(CompanionHelloResult { id, pairing_ref })
    }
}

/// The notification the server pushes when the user typed the code on the phone (§5.4).
///
/// ```text
/// <notification from=s.whatsapp.net type=link_code_companion_reg id t>
///   <link_code_companion_reg stage=primary_hello>
///     <link_code_pairing_wrapped_primary_ephemeral_pub/> <primary_identity_pub/>
///     <link_code_pairing_ref/>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryHello {
    /// Notification id (for the ack).
    pub id: String,
    /// Notification time `t` (Unix seconds).
    pub t: Option<u64>,
    /// The primary's wrapped ephemeral (80 bytes).
    pub wrapped_ephemeral: [u8; WRAPPED_KEY_LEN],
    /// The primary's identity key.
    pub primary_identity: PublicKey,
    /// The linking ref of stage 1.
    pub pairing_ref: Vec<u8>,
}

impl PrimaryHello {
    /// Builds the notification.
    pub fn to_node(&self) -> Node {
        let mut n = Node::new("notification")
            .with_attr("from", server())
            .with_attr("type", LINK_REG)
            .with_attr("id", self.id.as_str());
        if let Some(t) = self.t {
            n = n.with_attr("t", t);
        }
        n.with_children(vec![Node::new(LINK_REG)
            .with_attr("stage", "primary_hello")
            .with_children(vec![
                Node::new(WRAPPED_PRIMARY).with_bytes(self.wrapped_ephemeral.to_vec()),
                Node::new(PRIMARY_IDENTITY).with_bytes(self.primary_identity.as_bytes().to_vec()),
                Node::new(PAIRING_REF).with_bytes(self.pairing_ref.clone()),
            ])])
    }

    /// Parses the notification; `stage` must be `primary_hello` (a `refresh_code` stage is a
    /// [`PairError::BadAttr`] the caller may treat separately).
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        expect_tag(node, "notification")?;
        expect_attr(node, "notification", "type", LINK_REG)?;
        expect_server(node, "notification", "from")?;
        let id = req_attr(node, "notification", "id")?.to_owned();
        let t = opt_u64(node, "notification", "t")?;
        let reg = link_reg(node, Some("primary_hello"))?;
        Ok(PrimaryHello {
            id,
            t,
            wrapped_ephemeral: fixed(req_bytes(reg, LINK_REG, WRAPPED_PRIMARY)?, WRAPPED_PRIMARY)?,
            primary_identity: req_key(reg, LINK_REG, PRIMARY_IDENTITY)?,
            pairing_ref: req_bytes(reg, LINK_REG, PAIRING_REF)?.to_vec(),
        })
    }
}

/// Stage 2, client → server (§5.6): the wrapped key bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionFinish {
    /// IQ id.
    pub id: String,
    /// `PHONE@s.whatsapp.net`.
    pub phone: Jid,
    /// `link_code_pairing_wrapped_key_bundle` (156 bytes).
    pub wrapped_bundle: [u8; WRAPPED_BUNDLE_LEN],
    /// `companion_identity_public`.
    pub companion_identity: PublicKey,
    /// `link_code_pairing_ref`.
    pub pairing_ref: Vec<u8>,
}

impl CompanionFinish {
    /// Builds the IQ.
    pub fn to_node(&self) -> Node {
        client_iq_node("set", &self.id)
            .with_attr("xmlns", "md")
            .with_children(vec![Node::new(LINK_REG)
                .with_attr("jid", &self.phone)
                .with_attr("stage", "companion_finish")
                .with_children(vec![
                    Node::new(WRAPPED_BUNDLE).with_bytes(self.wrapped_bundle.to_vec()),
                    Node::new(COMPANION_IDENTITY)
                        .with_bytes(self.companion_identity.as_bytes().to_vec()),
                    Node::new(PAIRING_REF).with_bytes(self.pairing_ref.clone()),
                ])])
    }

    /// Parses the IQ (server side).
    pub fn from_node(node: &Node) -> Result<Self, PairError> {
        let id = client_iq(node, "set")?;
        let reg = link_reg(node, Some("companion_finish"))?;
        Ok(CompanionFinish {
            id,
            phone: req_jid(reg, LINK_REG, "jid")?,
            wrapped_bundle: fixed(req_bytes(reg, LINK_REG, WRAPPED_BUNDLE)?, WRAPPED_BUNDLE)?,
            companion_identity: req_key(reg, LINK_REG, COMPANION_IDENTITY)?,
            pairing_ref: req_bytes(reg, LINK_REG, PAIRING_REF)?.to_vec(),
        })
    }
}
