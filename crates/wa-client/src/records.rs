//! Conversions between the protocol's [`Credentials`] and the store's [`DeviceIdentity`].

use wa_protocol::binary::Jid;
use wa_protocol::connection::{Credentials, LinkedDevice};
use wa_store::{DeviceIdentity, Secret, SignedPreKey};

use crate::config::ClientConfig;

/// Device identity record → protocol credentials.
pub(crate) fn credentials_from(d: &DeviceIdentity) -> Credentials {
    let device = d.jid.clone().map(|jid| {
        let account = d.adv_signed_identity.clone().unwrap_or_default();
        LinkedDevice {
            jid,
            lid: d.lid.clone(),
            platform: Some(d.platform.clone()).filter(|p| !p.is_empty()),
            business_name: d.business_name.clone(),
            key_index: wa_protocol::pairing::stored_key_index(&account).unwrap_or(0),
            account,
            lid_migrated: d.lid_migrated,
        }
    });
    Credentials {
        noise_key: d.noise_key.clone(),
        identity: d.identity_key.clone(),
        registration_id: d.registration_id,
        signed_prekey_id: d.signed_prekey.id,
        signed_prekey: d.signed_prekey.key_pair.clone(),
        signed_prekey_signature: d.signed_prekey.signature,
        adv_secret: *d.adv_secret.expose(),
        device,
    }
}

/// Protocol credentials → device identity record.
pub(crate) fn device_from(c: &Credentials, config: &ClientConfig, now: u64) -> DeviceIdentity {
    DeviceIdentity {
        noise_key: c.noise_key.clone(),
        identity_key: c.identity.clone(),
        registration_id: c.registration_id,
        signed_prekey: SignedPreKey {
            id: c.signed_prekey_id,
            key_pair: c.signed_prekey.clone(),
            signature: c.signed_prekey_signature,
            timestamp_ms: now,
        },
        adv_secret: Secret::new(c.adv_secret),
        jid: c.device.as_ref().map(|d| d.jid.clone()),
        lid: c.device.as_ref().and_then(|d| d.lid.clone()),
        platform: c
            .device
            .as_ref()
            .and_then(|d| d.platform.clone())
            .unwrap_or_default(),
        push_name: config
            .connection
            .identity
            .push_name
            .clone()
            .unwrap_or_default(),
        business_name: c.device.as_ref().and_then(|d| d.business_name.clone()),
        adv_signed_identity: c.device.as_ref().map(|d| d.account.clone()),
        client_version: config.connection.identity.version,
        lid_migrated: c.device.as_ref().is_some_and(|d| d.lid_migrated),
    }
}

/// The stored device's JID and LID, if it is linked.
pub(crate) fn linked_ids(d: &DeviceIdentity) -> (Option<Jid>, Option<Jid>) {
    (d.jid.clone(), d.lid.clone())
}
