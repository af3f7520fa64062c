//! Prekey count, upload and digest IQs (`session-lifecycle.md` §3, `messaging.md`).

use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, be_uint, child_bytes, req_attr, req_child, StanzaError};
use crate::binary::Node;
use crate::signal::{PublicKey, Signature, DJB_TYPE};

/// `<iq xmlns="encrypt" type="get"><count/></iq>`.
pub fn prekey_count_request() -> IqRequest {
    IqRequest::new("encrypt", IqKind::Get, vec![Node::new("count")])
}

/// Reads `value` of the `<count>` child: of a count IQ result, and of an `encrypt` notification
/// telling that the server runs low (the one parser of both).
pub fn parse_prekey_count(result: &Node) -> Result<u32, StanzaError> {
    let count = req_child(result, "count")?;
    let v = req_attr(count, "value")?;
    v.parse().map_err(|_| bad(count, "value", v))
}

/// `<iq xmlns="encrypt" type="get"><digest/></iq>`: the server's digest of our key bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyDigestRequest;

impl KeyDigestRequest {
    /// The request (the connection allocates the id).
    pub fn request(&self) -> IqRequest {
        IqRequest::new("encrypt", IqKind::Get, vec![Node::new("digest")])
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_iq(node, IqKind::Get, "encrypt")?;
        req_child(node, "digest").map(|_| KeyDigestRequest)
    }
}

/// One one-time prekey in an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadedPreKey {
    /// Prekey id (24 bits).
    pub id: u32,
    /// Public key.
    pub public: PublicKey,
}

/// The signed prekey in an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadedSignedPreKey {
    /// Signed prekey id (24 bits).
    pub id: u32,
    /// Public key.
    pub public: PublicKey,
    /// Signature by the identity key over `0x05 ‖ public`.
    pub signature: Signature,
}

/// A prekey upload: the device's bundle as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyUpload {
    /// Registration id.
    pub registration_id: u32,
    /// Identity key.
    pub identity: PublicKey,
    /// One-time prekeys.
    pub prekeys: Vec<UploadedPreKey>,
    /// The signed prekey.
    pub signed: UploadedSignedPreKey,
}

fn id3(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}

/// Builds the upload IQ.
pub fn prekey_upload(upload: &PreKeyUpload) -> IqRequest {
    let keys = upload
        .prekeys
        .iter()
        .map(|k| {
            Node::new("key").with_children(vec![
                Node::new("id").with_bytes(id3(k.id)),
                Node::new("value").with_bytes(k.public.as_bytes().to_vec()),
            ])
        })
        .collect();
    IqRequest::new(
        "encrypt",
        IqKind::Set,
        vec![
            Node::new("registration").with_bytes(upload.registration_id.to_be_bytes().to_vec()),
            Node::new("type").with_bytes(vec![DJB_TYPE]),
            Node::new("identity").with_bytes(upload.identity.as_bytes().to_vec()),
            Node::new("list").with_children(keys),
            Node::new("skey").with_children(vec![
                Node::new("id").with_bytes(id3(upload.signed.id)),
                Node::new("value").with_bytes(upload.signed.public.as_bytes().to_vec()),
                Node::new("signature").with_bytes(upload.signed.signature.to_vec()),
            ]),
        ],
    )
}

fn key_id(node: &Node) -> Result<u32, StanzaError> {
    let id = req_child(node, "id")?;
    let b = id.bytes().unwrap_or_default();
    if b.len() != 3 {
        return Err(bad(node, "id", b));
    }
    be_uint(b).ok_or_else(|| bad(node, "id", b))
}

/// Parses and checks an upload IQ (server side): lengths, key type, and the signed prekey's
/// signature under the identity key.
pub fn parse_prekey_upload(iq: &Node) -> Result<PreKeyUpload, StanzaError> {
    let reg = req_child(iq, "registration")?;
    let reg_bytes = reg.bytes().unwrap_or_default();
    if reg_bytes.len() != 4 {
        return Err(bad(iq, "registration", reg_bytes));
    }
    let registration_id = be_uint(reg_bytes).ok_or_else(|| bad(iq, "registration", reg_bytes))?;
    let key_type = child_bytes::<1>(iq, "type")?;
    if key_type != [DJB_TYPE] {
        return Err(bad(iq, "type", key_type));
    }
    let identity = PublicKey::from_bytes(child_bytes::<32>(iq, "identity")?);
    let list = req_child(iq, "list")?;
    let mut prekeys = Vec::with_capacity(list.children().len());
    for key in list.children() {
        if key.tag != "key" {
            return Err(bad(list, "child", &key.tag));
        }
        prekeys.push(UploadedPreKey {
            id: key_id(key)?,
            public: PublicKey::from_bytes(child_bytes::<32>(key, "value")?),
        });
    }
    let skey = req_child(iq, "skey")?;
    let signed = UploadedSignedPreKey {
        id: key_id(skey)?,
        public: PublicKey::from_bytes(child_bytes::<32>(skey, "value")?),
        signature: child_bytes::<64>(skey, "signature")?,
    };
    if !identity.verify(&signed.public.to_djb(), &signed.signature) {
        return Err(bad(skey, "signature", "does not verify"));
    }
    Ok(PreKeyUpload {
        registration_id,
        identity,
        prekeys,
        signed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::{marshal, unmarshal, Limits};
    use crate::signal::KeyPair;
    use rand::SeedableRng;

    #[test]
    fn upload_round_trips_through_the_wire() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let identity = KeyPair::generate(&mut rng);
        let spk = KeyPair::generate(&mut rng);
        let upload = PreKeyUpload {
            registration_id: 0x0102_0304,
            identity: identity.public,
            prekeys: (1..=812)
                .map(|id| UploadedPreKey {
                    id,
                    public: KeyPair::generate(&mut rng).public,
                })
                .collect(),
            signed: UploadedSignedPreKey {
                id: 1,
                public: spk.public,
                signature: identity.private.sign(&spk.public.to_djb(), &mut rng),
            },
        };
        let node = prekey_upload(&upload).to_node("1.2-3");
        let wire = marshal(&node).expect("encodes");
        let back = unmarshal(&wire, &Limits::default()).expect("decodes");
        assert_eq!(parse_prekey_upload(&back), Ok(upload.clone()));

        let mut forged = upload;
        forged.signed.signature[0] ^= 1;
        let node = prekey_upload(&forged).to_node("x");
        assert!(parse_prekey_upload(&node).is_err());
        let node = Node::new("iq").with_children(vec![Node::new("registration")]);
        assert!(parse_prekey_upload(&node).is_err());
    }

    #[test]
    fn count() {
        let r = Node::new("iq").with_children(vec![Node::new("count").with_attr("value", "17")]);
        assert_eq!(parse_prekey_count(&r), Ok(17));
        assert!(parse_prekey_count(&Node::new("iq")).is_err());
        let digest = KeyDigestRequest.request().to_node("1");
        assert_eq!(KeyDigestRequest::from_node(&digest), Ok(KeyDigestRequest));
    }
}
