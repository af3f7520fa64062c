//! Wire formats (`signal.md` §6, §9): SignalMessage, PreKeySignalMessage, SenderKeyMessage and
//! SenderKeyDistributionMessage, each `version byte ‖ protobuf [‖ MAC | signature]`.
//!
//! Decoding goes through the prost types of `proto/signal_wire.proto` (any field order is
//! accepted). Encoding is written out by hand so that the field order matches libsignal (the
//! PreKeySignalMessage fields go out as 5, 1, 6, 2, 3, 4) and no intermediate copies are made.

use prost::Message as _;

use super::crypto::{hmac_sha256, mac_matches};
use super::curve::{PublicKey, SIGNATURE_LEN};
use super::error::{Result, SignalError};
use crate::pb::signal as pb;

/// Version byte of every v3 message: `(3 << 4) | 3`.
pub const VERSION_BYTE: u8 = 0x33;
/// The message version (high nibble of the version byte) this module speaks.
pub const MESSAGE_VERSION: u8 = 3;
/// Length of the truncated HMAC-SHA256 at the end of a SignalMessage.
pub const MAC_LEN: usize = 8;

/// `CiphertextMessage` type code of a SignalMessage (`<enc type="msg">`).
pub const TYPE_SIGNAL: u8 = 2;
/// `CiphertextMessage` type code of a PreKeySignalMessage (`<enc type="pkmsg">`).
pub const TYPE_PREKEY: u8 = 3;
/// `CiphertextMessage` type code of a SenderKeyMessage (`<enc type="skmsg">`).
pub const TYPE_SENDER_KEY: u8 = 4;
/// `CiphertextMessage` type code of a SenderKeyDistributionMessage.
pub const TYPE_SENDER_KEY_DISTRIBUTION: u8 = 5;

fn check_version(byte: u8) -> Result<()> {
    if byte >> 4 == MESSAGE_VERSION {
        Ok(())
    } else {
        Err(SignalError::UnsupportedVersion(byte))
    }
}

fn djb_key(field: Option<&Vec<u8>>, what: &'static str) -> Result<PublicKey> {
    let bytes = field.ok_or(SignalError::InvalidMessage(what))?;
    PublicKey::from_djb(bytes).ok_or(SignalError::InvalidKey(what))
}

// --- minimal protobuf writer -------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_uint32(out: &mut Vec<u8>, field: u32, v: u32) {
    put_varint(out, u64::from(field << 3));
    put_varint(out, u64::from(v));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    put_varint(out, u64::from((field << 3) | 2));
    put_varint(out, v.len() as u64);
    out.extend_from_slice(v);
}

// --- SignalMessage -------------------------------------------------------------------------

/// A double-ratchet message: `0x33 ‖ protobuf ‖ MAC[8]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalMessage {
    ratchet_key: PublicKey,
    counter: u32,
    previous_counter: u32,
    ciphertext: Vec<u8>,
    serialized: Vec<u8>,
}

/// The protobuf between the version byte and a `trailer`-byte MAC or signature, after checking
/// the version.
fn versioned_body<'a>(bytes: &'a [u8], trailer: usize, what: &'static str) -> Result<&'a [u8]> {
    let (&version, _) = bytes
        .split_first()
        .ok_or(SignalError::InvalidMessage(what))?;
    check_version(version)?;
    bytes
        .len()
        .checked_sub(trailer)
        .filter(|end| *end >= 1)
        .and_then(|end| bytes.get(1..end))
        .ok_or(SignalError::InvalidMessage(what))
}

impl SignalMessage {
    /// Parses the wire bytes (the MAC is checked later, against the session's keys).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let body = versioned_body(bytes, MAC_LEN, "SignalMessage")?;
        let msg = pb::SignalMessage::decode(body)?;
        let ratchet_key = djb_key(msg.ratchet_key.as_ref(), "ratchet key")?;
        let counter = msg
            .counter
            .ok_or(SignalError::InvalidMessage("SignalMessage without counter"))?;
        let ciphertext = msg.ciphertext.ok_or(SignalError::InvalidMessage(
            "SignalMessage without ciphertext",
        ))?;
        Ok(Self {
            ratchet_key,
            counter,
            previous_counter: msg.previous_counter.unwrap_or(0),
            ciphertext,
            serialized: bytes.to_vec(),
        })
    }

    /// Builds and MACs a message. `sender`/`receiver` are the identity keys in this message's
    /// direction.
    pub(crate) fn build(
        mac_key: &[u8; 32],
        sender: &PublicKey,
        receiver: &PublicKey,
        ratchet_key: PublicKey,
        counter: u32,
        previous_counter: u32,
        ciphertext: Vec<u8>,
    ) -> Self {
        let mut out = Vec::with_capacity(1 + 35 + 12 + 3 + ciphertext.len() + MAC_LEN);
        out.push(VERSION_BYTE);
        put_bytes(&mut out, 1, &ratchet_key.to_djb());
        put_uint32(&mut out, 2, counter);
        put_uint32(&mut out, 3, previous_counter);
        put_bytes(&mut out, 4, &ciphertext);
        let mac = Self::compute_mac(mac_key, sender, receiver, &out);
        out.extend_from_slice(&mac[..MAC_LEN]);
        Self {
            ratchet_key,
            counter,
            previous_counter,
            ciphertext,
            serialized: out,
        }
    }

    fn compute_mac(
        mac_key: &[u8; 32],
        sender: &PublicKey,
        receiver: &PublicKey,
        versioned_body: &[u8],
    ) -> [u8; 32] {
        hmac_sha256(
            mac_key,
            &[&sender.to_djb(), &receiver.to_djb(), versioned_body],
        )
    }

    /// Whether the MAC is right for this direction (`sender` = the peer when receiving).
    pub(crate) fn verify_mac(
        &self,
        mac_key: &[u8; 32],
        sender: &PublicKey,
        receiver: &PublicKey,
    ) -> bool {
        let split = self.serialized.len().saturating_sub(MAC_LEN);
        let (body, mac) = self.serialized.split_at(split);
        let expected = Self::compute_mac(mac_key, sender, receiver, body);
        mac_matches(&expected[..MAC_LEN], mac)
    }

    /// The sender's ratchet public key.
    pub fn ratchet_key(&self) -> &PublicKey {
        &self.ratchet_key
    }

    /// Index of this message in the sender's chain.
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// The sender's `previousCounter` field (informational; never trusted).
    pub fn previous_counter(&self) -> u32 {
        self.previous_counter
    }

    /// The AES-CBC ciphertext.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The complete wire bytes.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The complete wire bytes, by value.
    pub fn into_serialized(self) -> Vec<u8> {
        self.serialized
    }
}

// --- PreKeySignalMessage -------------------------------------------------------------------

/// A session-establishing message: `0x33 ‖ protobuf` wrapping a complete [`SignalMessage`].
///
/// Parse it first to learn which prekeys ([`pre_key_id`](Self::pre_key_id),
/// [`signed_pre_key_id`](Self::signed_pre_key_id)) to load, then hand it to
/// [`session::decrypt_prekey`](super::session::decrypt_prekey).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeySignalMessage {
    registration_id: u32,
    pre_key_id: Option<u32>,
    signed_pre_key_id: u32,
    base_key: PublicKey,
    identity_key: PublicKey,
    message: SignalMessage,
    serialized: Vec<u8>,
}

impl PreKeySignalMessage {
    /// Parses the wire bytes, including the embedded SignalMessage. A `preKeyId` of 0 means "no
    /// one-time prekey", as in go-libsignal and libsignal-node.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (&version, body) = bytes
            .split_first()
            .ok_or(SignalError::InvalidMessage("empty PreKeySignalMessage"))?;
        check_version(version)?;
        let msg = pb::PreKeySignalMessage::decode(body)?;
        let signed_pre_key_id = msg.signed_pre_key_id.ok_or(SignalError::InvalidMessage(
            "pkmsg without signed prekey id",
        ))?;
        let base_key = djb_key(msg.base_key.as_ref(), "base key")?;
        let identity_key = djb_key(msg.identity_key.as_ref(), "identity key")?;
        let inner = msg
            .message
            .as_deref()
            .ok_or(SignalError::InvalidMessage("pkmsg without message"))?;
        let message = SignalMessage::parse(inner)?;
        Ok(Self {
            registration_id: msg.registration_id.unwrap_or(0),
            pre_key_id: msg.pre_key_id.filter(|&id| id != 0),
            signed_pre_key_id,
            base_key,
            identity_key,
            message,
            serialized: bytes.to_vec(),
        })
    }

    pub(crate) fn build(
        registration_id: u32,
        pre_key_id: Option<u32>,
        signed_pre_key_id: u32,
        base_key: PublicKey,
        identity_key: PublicKey,
        message: SignalMessage,
    ) -> Self {
        let inner = message.serialized();
        let mut out = Vec::with_capacity(1 + 6 * 3 + 2 * 35 + 3 + inner.len());
        out.push(VERSION_BYTE);
        put_uint32(&mut out, 5, registration_id);
        if let Some(id) = pre_key_id {
            put_uint32(&mut out, 1, id);
        }
        put_uint32(&mut out, 6, signed_pre_key_id);
        put_bytes(&mut out, 2, &base_key.to_djb());
        put_bytes(&mut out, 3, &identity_key.to_djb());
        put_bytes(&mut out, 4, inner);
        Self {
            registration_id,
            pre_key_id,
            signed_pre_key_id,
            base_key,
            identity_key,
            message,
            serialized: out,
        }
    }

    /// The sender's registration id.
    pub fn registration_id(&self) -> u32 {
        self.registration_id
    }

    /// Our one-time prekey the sender used, if any.
    pub fn pre_key_id(&self) -> Option<u32> {
        self.pre_key_id
    }

    /// Our signed prekey the sender used.
    pub fn signed_pre_key_id(&self) -> u32 {
        self.signed_pre_key_id
    }

    /// The sender's X3DH base key (identifies the session).
    pub fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// The sender's identity key.
    pub fn identity_key(&self) -> &PublicKey {
        &self.identity_key
    }

    /// The embedded SignalMessage.
    pub fn message(&self) -> &SignalMessage {
        &self.message
    }

    /// The complete wire bytes.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The complete wire bytes, by value.
    pub fn into_serialized(self) -> Vec<u8> {
        self.serialized
    }
}

// --- CiphertextMessage ---------------------------------------------------------------------

/// The output of [`session::encrypt`](super::session::encrypt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CiphertextMessage {
    /// A SignalMessage: `<enc type="msg">`.
    Signal(Vec<u8>),
    /// A PreKeySignalMessage (the peer has not answered yet): `<enc type="pkmsg">`.
    PreKey(Vec<u8>),
}

impl CiphertextMessage {
    /// The wire bytes (content of the `<enc>` node).
    pub fn bytes(&self) -> &[u8] {
        match self {
            CiphertextMessage::Signal(b) | CiphertextMessage::PreKey(b) => b,
        }
    }

    /// The wire bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            CiphertextMessage::Signal(b) | CiphertextMessage::PreKey(b) => b,
        }
    }

    /// The `type` attribute of the `<enc>` node: `"msg"` or `"pkmsg"`.
    pub fn enc_type(&self) -> &'static str {
        match self {
            CiphertextMessage::Signal(_) => "msg",
            CiphertextMessage::PreKey(_) => "pkmsg",
        }
    }

    /// The libsignal type code: [`TYPE_SIGNAL`] or [`TYPE_PREKEY`].
    pub fn message_type(&self) -> u8 {
        match self {
            CiphertextMessage::Signal(_) => TYPE_SIGNAL,
            CiphertextMessage::PreKey(_) => TYPE_PREKEY,
        }
    }
}

// --- Sender keys ---------------------------------------------------------------------------

/// A group message: `0x33 ‖ protobuf ‖ signature[64]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderKeyMessage {
    key_id: u32,
    iteration: u32,
    ciphertext: Vec<u8>,
    serialized: Vec<u8>,
}

impl SenderKeyMessage {
    /// Parses the wire bytes (the signature is checked later, with the sender's signing key).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let body = versioned_body(bytes, SIGNATURE_LEN, "SenderKeyMessage")?;
        let msg = pb::SenderKeyMessage::decode(body)?;
        Ok(Self {
            key_id: msg
                .id
                .ok_or(SignalError::InvalidMessage("skmsg without key id"))?,
            iteration: msg
                .iteration
                .ok_or(SignalError::InvalidMessage("skmsg without iteration"))?,
            ciphertext: msg
                .ciphertext
                .ok_or(SignalError::InvalidMessage("skmsg without ciphertext"))?,
            serialized: bytes.to_vec(),
        })
    }

    /// The unsigned part `0x33 ‖ protobuf` of a message.
    pub(crate) fn unsigned_bytes(key_id: u32, iteration: u32, ciphertext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 12 + 3 + ciphertext.len() + SIGNATURE_LEN);
        out.push(VERSION_BYTE);
        put_uint32(&mut out, 1, key_id);
        put_uint32(&mut out, 2, iteration);
        put_bytes(&mut out, 3, ciphertext);
        out
    }

    /// Whether the trailing signature verifies under `signing_key`.
    pub(crate) fn verify_signature(&self, signing_key: &PublicKey) -> bool {
        let split = self.serialized.len().saturating_sub(SIGNATURE_LEN);
        let (body, signature) = self.serialized.split_at(split);
        signing_key.verify(body, signature)
    }

    /// The sender-key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The chain iteration of this message.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The AES-CBC ciphertext.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The complete wire bytes.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }
}

/// The sender-key state handed to each group member: `0x33 ‖ protobuf` (no MAC, no signature;
/// it travels inside a pairwise-encrypted message).
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyDistributionMessage {
    key_id: u32,
    iteration: u32,
    chain_key: [u8; 32],
    signing_key: PublicKey,
}

impl SenderKeyDistributionMessage {
    pub(crate) fn new(
        key_id: u32,
        iteration: u32,
        chain_key: [u8; 32],
        signing_key: PublicKey,
    ) -> Self {
        Self {
            key_id,
            iteration,
            chain_key,
            signing_key,
        }
    }

    /// Parses the wire bytes (the `axolotlSenderKeyDistributionMessage` field).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (&version, body) = bytes.split_first().ok_or(SignalError::InvalidMessage(
            "empty SenderKeyDistributionMessage",
        ))?;
        check_version(version)?;
        let msg = pb::SenderKeyDistributionMessage::decode(body)?;
        let chain_key: [u8; 32] = msg
            .chain_key
            .as_deref()
            .ok_or(SignalError::InvalidMessage("skdm without chain key"))?
            .try_into()
            .map_err(|_| SignalError::InvalidKey("skdm chain key"))?;
        Ok(Self {
            key_id: msg
                .id
                .ok_or(SignalError::InvalidMessage("skdm without key id"))?,
            iteration: msg
                .iteration
                .ok_or(SignalError::InvalidMessage("skdm without iteration"))?,
            chain_key,
            signing_key: djb_key(msg.signing_key.as_ref(), "skdm signing key")?,
        })
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 12 + 34 + 35);
        out.push(VERSION_BYTE);
        put_uint32(&mut out, 1, self.key_id);
        put_uint32(&mut out, 2, self.iteration);
        put_bytes(&mut out, 3, &self.chain_key);
        put_bytes(&mut out, 4, &self.signing_key.to_djb());
        out
    }

    /// The sender-key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The chain iteration the chain key belongs to.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The chain key at [`iteration`](Self::iteration). Secret: never log it.
    pub fn chain_key(&self) -> &[u8; 32] {
        &self.chain_key
    }

    /// The sender's signing public key.
    pub fn signing_key(&self) -> &PublicKey {
        &self.signing_key
    }
}

impl core::fmt::Debug for SenderKeyDistributionMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SenderKeyDistributionMessage")
            .field("key_id", &self.key_id)
            .field("iteration", &self.iteration)
            .field("signing_key", &self.signing_key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_prost() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut ours = Vec::new();
            put_uint32(&mut ours, 2, v);
            let theirs = pb::SignalMessage {
                counter: Some(v),
                ..Default::default()
            }
            .encode_to_vec();
            assert_eq!(ours, theirs, "value {v}");
        }
    }

    #[test]
    fn parse_rejects_garbage_without_panicking() {
        for bytes in [
            &[][..],
            &[0x33],
            &[0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x33; 9],
        ] {
            assert!(SignalMessage::parse(bytes).is_err());
            assert!(PreKeySignalMessage::parse(bytes).is_err());
            assert!(SenderKeyMessage::parse(bytes).is_err());
            assert!(SenderKeyDistributionMessage::parse(bytes).is_err());
        }
        assert_eq!(
            SignalMessage::parse(&[0x43; 20]).err(),
            Some(SignalError::UnsupportedVersion(0x43))
        );
    }

    #[test]
    fn signal_message_round_trip_and_mac() {
        let a = PublicKey::from_bytes([1; 32]);
        let b = PublicKey::from_bytes([2; 32]);
        let ratchet = PublicKey::from_bytes([3; 32]);
        let mac_key = [4u8; 32];
        let built = SignalMessage::build(&mac_key, &a, &b, ratchet, 7, u32::MAX, vec![5; 32]);
        let parsed = SignalMessage::parse(built.serialized()).expect("parse");
        assert_eq!(parsed, built);
        assert!(parsed.verify_mac(&mac_key, &a, &b));
        assert!(!parsed.verify_mac(&mac_key, &b, &a), "direction matters");
        assert!(!parsed.verify_mac(&[0; 32], &a, &b));
        let pk = PreKeySignalMessage::build(9, None, 1, ratchet, a, built.clone());
        let parsed = PreKeySignalMessage::parse(pk.serialized()).expect("parse pkmsg");
        assert_eq!(parsed, pk);
        assert_eq!(parsed.pre_key_id(), None);
    }
}
