//! Group messaging with sender keys (`messaging.md` §9, `signal.md` §9) and the participant
//! hash `phash` (§8).
//!
//! ```text
//! send:    plan_distribution(distributed_to, devices now) → rotate? + who needs our SKDM
//!          rotate ⇒ rotate_sender_key; distribution(own) → record', SKDM bytes
//!          SKDM bytes go pairwise inside waE2E.Message.senderKeyDistributionMessage (fanout)
//!          encrypt(own, padded) → record', <enc type="skmsg">; phash(devices) on the stanza
//! receive: process_distribution(record of (group, sender), SKDM bytes) → record'
//!          decrypt(record of (group, sender), skmsg) → record', padded plaintext
//! ```
//! One sender-key record per (group, sender device); ours holds the signing private key. Our
//! own other devices are ordinary SKDM recipients (no DeviceSentMessage wrapper in groups,
//! `messaging.md` §6 step 3).

use std::collections::BTreeSet;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use crate::binary::Jid;
use crate::signal::sender_key;
use crate::signal::wire::SenderKeyDistributionMessage;
use crate::signal::{SenderKeyRecord, SignalError};

/// Our SKDM for a group (the `axolotlSenderKeyDistributionMessage` bytes), creating our sending
/// state if the record has none. Persist the returned record before sending.
pub fn distribution(
    own: &SenderKeyRecord,
    rng: &mut impl CryptoRngCore,
) -> Result<(SenderKeyRecord, Vec<u8>), SignalError> {
    let (record, skdm) = sender_key::create_distribution(own, rng)?;
    Ok((record, skdm.to_bytes()))
}

/// A fresh sender key (after a member left or was removed, §9 / issue 10 item 5): the old
/// states are dropped, so nothing we send from now on is readable with a key a former member
/// holds. Returns the new record and its SKDM bytes for every remaining member device.
pub fn rotate_sender_key(
    rng: &mut impl CryptoRngCore,
) -> Result<(SenderKeyRecord, Vec<u8>), SignalError> {
    distribution(&SenderKeyRecord::new(), rng)
}

/// Encrypts a padded plaintext with our sender key: the `<enc type="skmsg">` content.
pub fn encrypt(
    own: &SenderKeyRecord,
    padded: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(SenderKeyRecord, Vec<u8>), SignalError> {
    sender_key::encrypt(own, padded, rng)
}

/// Stores a member's SKDM (received pairwise, `messaging.md` §10 step 4) in the record for
/// (group, that member's device).
pub fn process_distribution(
    record: &SenderKeyRecord,
    skdm: &[u8],
) -> Result<SenderKeyRecord, SignalError> {
    let skdm = SenderKeyDistributionMessage::parse(skdm)?;
    Ok(sender_key::process_distribution(record, &skdm))
}

/// Decrypts an `skmsg` with the record of (group, sender device) → record to persist and the
/// padded plaintext. A missing key is [`SignalError::NoSenderKeyState`] (a retry receipt, with
/// keys when no pairwise `<enc>` came along, `messaging.md` §11).
pub fn decrypt(
    record: &SenderKeyRecord,
    skmsg: &[u8],
) -> Result<(SenderKeyRecord, Vec<u8>), SignalError> {
    sender_key::decrypt(record, skmsg)
}

/// Who gets our SKDM with the next group send, and whether to rotate first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionPlan {
    /// A device that has our current key is no longer a recipient: make a new key
    /// ([`rotate_sender_key`]) and send it to everyone.
    pub rotate: bool,
    /// Devices to send the SKDM to pairwise (sorted).
    pub send_to: Vec<Jid>,
}

/// Plans the SKDM fan-out of a group send (the Baileys `sender-key-memory` way, `messaging.md`
/// §9 step 4): `distributed_to` are the devices that have our current key, `recipients` the
/// group's devices now (minus our sending device). Send only to devices that lack it; if a
/// device that has it left, rotate and send to all.
pub fn plan_distribution(distributed_to: &BTreeSet<Jid>, recipients: &[Jid]) -> DistributionPlan {
    let now: BTreeSet<&Jid> = recipients.iter().collect();
    let rotate = distributed_to.iter().any(|d| !now.contains(d));
    let send_to = now
        .into_iter()
        .filter(|d| rotate || !distributed_to.contains(*d))
        .cloned()
        .collect();
    DistributionPlan { rotate, send_to }
}

/// The participant hash v2 (`messaging.md` §8): `"2:"` + base64 (standard, no padding) of the
/// first 6 bytes of SHA-256 over the sorted, concatenated device strings
/// `user.agent:device@server` (agent and device always written, even `.0:0`).
pub fn phash(devices: &[Jid]) -> String {
    let mut names: Vec<String> = devices
        .iter()
        .map(|d| {
            format!(
                "{}.{}:{}@{}",
                d.user_part(),
                d.agent(),
                d.device_id(),
                d.server()
            )
        })
        .collect();
    names.sort();
    let mut hasher = Sha256::new();
    for name in &names {
        hasher.update(name.as_bytes());
    }
    let digest = hasher.finalize();
    format!("2:{}", STANDARD_NO_PAD.encode(&digest[..6]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::Server;

    fn dev(user: &str, device: u16) -> Jid {
        Jid::device(user, device, Server::WhatsApp)
    }

    /// The vectors of `messaging.md` §8 (whatsapp-rust `phash_crosscheck_vectors`).
    #[test]
    fn phash_matches_the_documented_vectors() {
        assert_eq!(phash(&[dev("5511999999999", 3)]), "2:5s+YxCff");
        assert_eq!(phash(&[dev("5511999999999", 0)]), "2:RJWVxcMQ");
        let pair = [dev("7469250125917", 21), dev("5511988887777", 14)];
        assert_eq!(phash(&pair), "2:AAv/hwhn");
        // Order of the input does not matter (the strings are sorted).
        let swapped = [pair[1].clone(), pair[0].clone()];
        assert_eq!(phash(&swapped), "2:AAv/hwhn");
    }

    #[test]
    fn distribution_plan_sends_to_new_devices_and_rotates_on_removal() {
        let (a, b, c) = (dev("100", 0), dev("200", 0), dev("300", 5));
        let has: BTreeSet<Jid> = [a.clone(), b.clone()].into();
        let plan = plan_distribution(&has, &[a.clone(), b.clone(), c.clone()]);
        assert_eq!(
            plan,
            DistributionPlan {
                rotate: false,
                send_to: vec![c.clone()]
            }
        );
        let plan = plan_distribution(&has, &[a.clone(), c.clone()]);
        assert!(plan.rotate, "b left");
        assert_eq!(plan.send_to, vec![a.clone(), c.clone()]);
        let plan = plan_distribution(&BTreeSet::new(), &[b.clone(), a.clone()]);
        assert_eq!(plan.send_to, vec![a, b]);
        assert!(!plan.rotate);
    }
}
