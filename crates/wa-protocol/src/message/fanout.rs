//! Pairwise fan-out of one send (`messaging.md` §6): each group of recipient devices gets its
//! own (already padded) plaintext, each device its own ciphertext and updated session record.
//!
//! The caller chooses the groups: for a 1:1 send, the recipient's devices with
//! `pad(Message)` and our own other devices with `pad(Message{deviceSentMessage})` (§6 step 3);
//! for a group send, the devices that need our SKDM with `pad(Message{senderKeyDistribution…})`
//! (§9 step 4). Nothing is stored here: every [`DeviceCiphertext`] carries the record to persist
//! before its bytes leave (issue 10 item 8).
//!
//! ```text
//! plan: [FanoutGroup { devices: [DeviceTarget{jid, record?, bundle?}], plaintext }]
//!   → encrypt_fanout → Fanout { encrypted: [jid, pkmsg|msg, bytes, record'], failed: [jid, why] }
//!   → any pkmsg ⇒ the stanza carries <device-identity> (§6 step 5)
//! ```

use rand_core::CryptoRngCore;

use crate::binary::Jid;
use crate::signal::curve::PublicKey;
use crate::signal::keys::{LocalIdentity, PreKeyBundle};
use crate::signal::session;
use crate::signal::wire::CiphertextMessage;
use crate::signal::{SessionRecord, SignalError};
use crate::stanza::EncType;

/// One device to encrypt for, with what the store has for it.
#[derive(Clone, Debug)]
pub struct DeviceTarget {
    /// The device JID (`<to jid>`).
    pub jid: Jid,
    /// The stored session record, if any.
    pub record: Option<SessionRecord>,
    /// A prekey bundle (fetched, `messaging.md` §5, or from a retry receipt's `<keys>`, §11).
    /// When given, a new session is started from it (an existing current state is archived),
    /// even if `record` has one: the caller fetches a bundle only when it wants a new session.
    pub bundle: Option<PreKeyBundle>,
    /// The identity key stored for this address (trust on first use, `signal.md` §8); a bundle
    /// with another identity key is refused with [`SignalError::UntrustedIdentity`].
    pub trusted_identity: Option<PublicKey>,
}

impl DeviceTarget {
    /// A device with an existing session.
    pub fn with_session(jid: Jid, record: SessionRecord) -> Self {
        Self {
            jid,
            record: Some(record),
            bundle: None,
            trusted_identity: None,
        }
    }

    /// A device we start a session with from its bundle.
    pub fn with_bundle(jid: Jid, bundle: PreKeyBundle) -> Self {
        Self {
            jid,
            record: None,
            bundle: Some(bundle),
            trusted_identity: None,
        }
    }
}

/// Devices that receive the same padded plaintext.
#[derive(Clone, Copy, Debug)]
pub struct FanoutGroup<'a> {
    /// The devices.
    pub devices: &'a [DeviceTarget],
    /// The WhatsApp-padded plaintext (`messaging.md` §2) for all of them.
    pub plaintext: &'a [u8],
}

/// One device's ciphertext and the record to persist before sending it.
#[derive(Clone, Debug)]
pub struct DeviceCiphertext {
    /// The device JID.
    pub jid: Jid,
    /// `pkmsg` or `msg`.
    pub enc_type: EncType,
    /// The `<enc>` content.
    pub ciphertext: Vec<u8>,
    /// The updated session record (persist it before the bytes leave).
    pub record: SessionRecord,
    /// The peer identity of the session used (store it on first contact, when the session was
    /// started from a bundle).
    pub remote_identity: PublicKey,
    /// Whether a new session was started from a bundle for this device.
    pub new_session: bool,
}

/// A device we could not encrypt for, and why (reported, never silently dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFailure {
    /// The device JID.
    pub jid: Jid,
    /// The cause: [`SignalError::NoSendingSession`] (neither session nor bundle),
    /// [`SignalError::InvalidSignature`] (the bundle's signed prekey does not verify),
    /// [`SignalError::UntrustedIdentity`] (the bundle's identity is not the stored one), …
    pub error: SignalError,
}

/// The outcome of [`encrypt_fanout`].
#[derive(Clone, Debug, Default)]
pub struct Fanout {
    /// Per device, in the order given.
    pub encrypted: Vec<DeviceCiphertext>,
    /// Devices skipped, in the order given (whatsmeow skips and continues, §6 step 6).
    pub failed: Vec<DeviceFailure>,
}

impl Fanout {
    /// Whether any device got a `pkmsg`: then the stanza carries `<device-identity>`
    /// (`messaging.md` §6 step 5, §7).
    pub fn needs_device_identity(&self) -> bool {
        self.encrypted.iter().any(|d| d.enc_type == EncType::PkMsg)
    }
}

/// Encrypts each group's plaintext for each of its devices.
///
/// A device's failure does not stop the others; it lands in [`Fanout::failed`]. The RNG makes
/// the base and ratchet keys of new sessions.
pub fn encrypt_fanout(
    local: &LocalIdentity,
    groups: &[FanoutGroup<'_>],
    rng: &mut impl CryptoRngCore,
) -> Fanout {
    let mut out = Fanout::default();
    for group in groups {
        for device in group.devices {
            match encrypt_for_device(local, device, group.plaintext, rng) {
                Ok(done) => out.encrypted.push(done),
                Err(error) => out.failed.push(DeviceFailure {
                    jid: device.jid.clone(),
                    error,
                }),
            }
        }
    }
    out
}

/// Encrypts one padded plaintext for one device (a retry resend, `messaging.md` §11 step 4, is
/// exactly this).
pub fn encrypt_for_device(
    local: &LocalIdentity,
    device: &DeviceTarget,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<DeviceCiphertext, SignalError> {
    let empty = SessionRecord::new();
    let stored = device.record.as_ref().unwrap_or(&empty);
    // The established path encrypts straight from the stored record (one clone, inside
    // `session::encrypt`): this is the hot path of every send.
    let (record, message, new_session) = match &device.bundle {
        Some(bundle) => {
            let trusted = device.trusted_identity.as_ref();
            let started = session::process_bundle(stored, local, bundle, trusted, rng)?;
            let (record, message) = session::encrypt(&started, plaintext)?;
            (record, message, true)
        }
        None if stored.has_current_session() => {
            let (record, message) = session::encrypt(stored, plaintext)?;
            (record, message, false)
        }
        None => return Err(SignalError::NoSendingSession),
    };
    let remote_identity = *record
        .current()
        .ok_or(SignalError::NoSendingSession)?
        .remote_identity();
    let (enc_type, ciphertext) = match message {
        CiphertextMessage::PreKey(bytes) => (EncType::PkMsg, bytes),
        CiphertextMessage::Signal(bytes) => (EncType::Msg, bytes),
    };
    Ok(DeviceCiphertext {
        jid: device.jid.clone(),
        enc_type,
        ciphertext,
        record,
        remote_identity,
        new_session,
    })
}
