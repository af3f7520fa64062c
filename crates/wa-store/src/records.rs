//! Values: one format-version byte, then a protobuf message from `proto/store.proto`; and the
//! conversions between those messages and the domain types, which check every field.

use wa_protocol::binary::Jid;
use wa_protocol::payload::ClientVersion;
use wa_protocol::signal::{KeyPair, PrivateKey, PublicKey};

pub(crate) use crate::codec::{decode, encode};
use crate::codec::{decode_versioned, encode_as, Field};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::{self, TreeId};
use crate::msg_records;
use crate::pb;
use crate::push_names;
use crate::types::account::{Account, MediaDelivery, ProxyConfig, S3Config};
use crate::types::account_id::AccountId;
use crate::types::device::{DeviceIdentity, OneTimePreKey, SignedPreKey};
use crate::types::outbox::{OutboxEntry, OutboxStatus};
use crate::types::secret::Secret;

/// Format of device identity records: 2 keeps push name and business name apart (1 had one name
/// for both, see `device_from_pb`).
pub(crate) const DEVICE_VERSION: u8 = 2;

fn arr32(b: &[u8], field: &'static str) -> Field<[u8; 32]> {
    b.try_into().map_err(|_| CorruptReason::BadField(field))
}

fn kp_to_pb(k: &KeyPair) -> pb::KeyPair {
    pb::KeyPair {
        private_key: k.private.to_bytes().to_vec(),
        public_key: k.public.as_bytes().to_vec(),
    }
}

/// Rebuilds a key pair; with `verify`, also checks that the public key matches the private one.
fn kp_from_pb(k: Option<pb::KeyPair>, field: &'static str, verify: bool) -> Field<KeyPair> {
    let k = k.ok_or(CorruptReason::BadField(field))?;
    let private = PrivateKey::from_bytes(arr32(&k.private_key, field)?);
    let public = PublicKey::from_bytes(arr32(&k.public_key, field)?);
    if verify && private.public_key() != public {
        return Err(CorruptReason::BadField(field));
    }
    Ok(KeyPair { private, public })
}

fn opt_str(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// A JID stored as text; empty: none.
fn opt_jid(s: &str, field: &'static str) -> Field<Option<Jid>> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| CorruptReason::BadField(field))
}

fn jid_text(j: Option<&Jid>) -> String {
    j.map(ToString::to_string).unwrap_or_default()
}

pub(crate) fn signed_prekey_to_pb(s: &SignedPreKey) -> pb::SignedPreKey {
    pb::SignedPreKey {
        id: s.id,
        key_pair: Some(kp_to_pb(&s.key_pair)),
        signature: s.signature.to_vec(),
        timestamp_ms: s.timestamp_ms,
    }
}

pub(crate) fn signed_prekey_from_pb(s: pb::SignedPreKey) -> Field<SignedPreKey> {
    Ok(SignedPreKey {
        id: s.id,
        key_pair: kp_from_pb(s.key_pair, "signed_prekey.key_pair", true)?,
        signature: s
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| CorruptReason::BadField("signed_prekey.signature"))?,
        timestamp_ms: s.timestamp_ms,
    })
}

/// A device identity record (format [`DEVICE_VERSION`]).
pub(crate) fn encode_device(d: &DeviceIdentity) -> Vec<u8> {
    encode_as(DEVICE_VERSION, &device_to_pb(d))
}

/// Decodes a device identity record of format 1 or 2, naming the tree and key on failure.
pub(crate) fn decode_device(tree: TreeId, key: &[u8], bytes: &[u8]) -> Result<DeviceIdentity> {
    decode_versioned::<pb::DeviceIdentity>(bytes, &[1, DEVICE_VERSION])
        .and_then(|(version, m)| device_from_pb(version, m))
        .map_err(|r| Error::corrupt(tree.name(), key, r))
}

fn device_to_pb(d: &DeviceIdentity) -> pb::DeviceIdentity {
    pb::DeviceIdentity {
        noise_key: Some(kp_to_pb(&d.noise_key)),
        identity_key: Some(kp_to_pb(&d.identity_key)),
        registration_id: d.registration_id,
        signed_prekey: Some(signed_prekey_to_pb(&d.signed_prekey)),
        adv_secret: d.adv_secret.expose().to_vec(),
        jid: jid_text(d.jid.as_ref()),
        lid: jid_text(d.lid.as_ref()),
        platform: d.platform.clone(),
        push_name: d.push_name.clone(),
        business_name: d.business_name.clone(),
        adv_signed_identity: d.adv_signed_identity.clone().unwrap_or_default(),
        client_version: Some(pb::ClientVersion {
            primary: d.client_version.primary,
            secondary: d.client_version.secondary,
            tertiary: d.client_version.tertiary,
        }),
        lid_migrated: d.lid_migrated,
    }
}

/// Version 1 kept one name in `push_name`: the business name the pairing reported, else our
/// push name. Its readers handed it to the protocol as the business name once paired, so it is
/// read back that way (our push name is then unknown and empty; the client writes it again from
/// its configuration); unpaired, it can only have been our push name.
fn device_from_pb(version: u8, d: pb::DeviceIdentity) -> Field<DeviceIdentity> {
    let v = d
        .client_version
        .ok_or(CorruptReason::BadField("client_version"))?;
    let jid = opt_jid(&d.jid, "jid")?;
    let (push_name, business_name) = match version {
        1 if jid.is_some() => (String::new(), opt_str(d.push_name)),
        1 => (d.push_name, None),
        _ => (d.push_name, d.business_name),
    };
    Ok(DeviceIdentity {
        noise_key: kp_from_pb(d.noise_key, "noise_key", true)?,
        identity_key: kp_from_pb(d.identity_key, "identity_key", true)?,
        registration_id: d.registration_id,
        signed_prekey: signed_prekey_from_pb(
            d.signed_prekey
                .ok_or(CorruptReason::BadField("signed_prekey"))?,
        )?,
        adv_secret: Secret::new(arr32(&d.adv_secret, "adv_secret")?),
        jid,
        lid: opt_jid(&d.lid, "lid")?,
        platform: d.platform,
        push_name,
        business_name,
        adv_signed_identity: (!d.adv_signed_identity.is_empty()).then_some(d.adv_signed_identity),
        client_version: ClientVersion {
            primary: v.primary,
            secondary: v.secondary,
            tertiary: v.tertiary,
        },
        lid_migrated: d.lid_migrated,
    })
}

pub(crate) fn identity_from_pb(p: pb::PeerIdentity) -> Field<PublicKey> {
    Ok(PublicKey::from_bytes(arr32(&p.public_key, "public_key")?))
}

pub(crate) fn prekey_to_pb(p: &OneTimePreKey) -> pb::OneTimePreKey {
    pb::OneTimePreKey {
        id: p.id,
        key_pair: Some(kp_to_pb(&p.key_pair)),
        uploaded: p.uploaded,
    }
}

/// One-time prekeys are not re-derived on load (that costs a scalar multiplication each).
pub(crate) fn prekey_from_pb(p: pb::OneTimePreKey) -> Field<OneTimePreKey> {
    Ok(OneTimePreKey {
        id: p.id,
        key_pair: kp_from_pb(p.key_pair, "key_pair", false)?,
        uploaded: p.uploaded,
    })
}

pub(crate) fn account_to_pb(a: &Account) -> pb::Account {
    pb::Account {
        id: a.id.as_bytes().to_vec(),
        name: a.name.clone(),
        token: a.token.expose().clone(),
        webhook: a.webhook.clone(),
        events: a.events.clone(),
        proxy: Some(pb::ProxyConfig {
            enabled: a.proxy.enabled,
            url: a.proxy.url.clone(),
        }),
        s3: Some(pb::S3Config {
            enabled: a.s3.enabled,
            endpoint: a.s3.endpoint.clone(),
            region: a.s3.region.clone(),
            bucket: a.s3.bucket.clone(),
            access_key: a.s3.access_key.clone(),
            secret_key: a.s3.secret_key.expose().clone(),
            path_style: a.s3.path_style,
            public_url: a.s3.public_url.clone(),
            media_delivery: match a.s3.media_delivery {
                MediaDelivery::Base64 => pb::MediaDelivery::Base64,
                MediaDelivery::S3 => pb::MediaDelivery::S3,
                MediaDelivery::Both => pb::MediaDelivery::Both,
            } as i32,
            retention_days: a.s3.retention_days,
        }),
        hmac_key: a.hmac_key.as_ref().map(|k| k.expose().clone()),
        history: a.history,
        autostart: a.autostart,
        expiration: a.expiration,
        jid: jid_text(a.jid.as_ref()),
        created_ms: a.created_ms,
        updated_ms: a.updated_ms,
        os_name: a.os_name.clone(),
        description: a.description.clone(),
        active: Some(a.active),
        country_code: a.country_code.clone(),
    }
}

pub(crate) fn account_from_pb(a: pb::Account) -> Field<Account> {
    let id = AccountId::from_slice(&a.id).ok_or(CorruptReason::BadField("id"))?;
    let proxy = a.proxy.unwrap_or_default();
    let s3 = a.s3.ok_or(CorruptReason::BadField("s3"))?;
    let media_delivery = match pb::MediaDelivery::try_from(s3.media_delivery) {
        Ok(pb::MediaDelivery::Base64) => MediaDelivery::Base64,
        Ok(pb::MediaDelivery::S3) => MediaDelivery::S3,
        Ok(pb::MediaDelivery::Both) => MediaDelivery::Both,
        Err(_) => return Err(CorruptReason::BadField("s3.media_delivery")),
    };
    if a.token.is_empty() {
        return Err(CorruptReason::BadField("token"));
    }
    Ok(Account {
        id,
        name: a.name,
        token: Secret::new(a.token),
        webhook: a.webhook,
        events: a.events,
        proxy: ProxyConfig {
            enabled: proxy.enabled,
            url: proxy.url,
        },
        s3: S3Config {
            enabled: s3.enabled,
            endpoint: s3.endpoint,
            region: s3.region,
            bucket: s3.bucket,
            access_key: s3.access_key,
            secret_key: Secret::new(s3.secret_key),
            path_style: s3.path_style,
            public_url: s3.public_url,
            media_delivery,
            retention_days: s3.retention_days,
        },
        hmac_key: a.hmac_key.map(Secret::new),
        history: a.history,
        autostart: a.autostart,
        expiration: a.expiration,
        jid: opt_jid(&a.jid, "jid")?,
        os_name: a.os_name,
        created_ms: a.created_ms,
        updated_ms: a.updated_ms,
        description: a.description,
        active: a.active.unwrap_or(true),
        country_code: a.country_code,
    })
}

pub(crate) fn status_to_pb(s: OutboxStatus) -> pb::OutboxStatus {
    match s {
        OutboxStatus::Queued => pb::OutboxStatus::Queued,
        OutboxStatus::Sent => pb::OutboxStatus::Sent,
        OutboxStatus::Acked => pb::OutboxStatus::Acked,
        OutboxStatus::Delivered => pb::OutboxStatus::Delivered,
        OutboxStatus::Read => pb::OutboxStatus::Read,
        OutboxStatus::Failed => pb::OutboxStatus::Failed,
    }
}

pub(crate) fn outbox_to_pb(e: &OutboxEntry) -> pb::OutboxEntry {
    pb::OutboxEntry {
        message_id: e.message_id.clone(),
        chat: e.chat.to_string(),
        payload: e.payload.clone(),
        status: status_to_pb(e.status) as i32,
        attempts: e.attempts,
        next_attempt_ms: e.next_attempt_ms,
        created_ms: e.created_ms,
        updated_ms: e.updated_ms,
        server_t: e.server_t,
        delivered_t: e.delivered_t,
        read_t: e.read_t,
        fail_code: e.fail_code.map(u32::from),
    }
}

pub(crate) fn outbox_from_pb(e: pb::OutboxEntry) -> Field<OutboxEntry> {
    let status = match pb::OutboxStatus::try_from(e.status) {
        Ok(pb::OutboxStatus::Queued) => OutboxStatus::Queued,
        Ok(pb::OutboxStatus::Sent) => OutboxStatus::Sent,
        Ok(pb::OutboxStatus::Acked) => OutboxStatus::Acked,
        Ok(pb::OutboxStatus::Delivered) => OutboxStatus::Delivered,
        Ok(pb::OutboxStatus::Read) => OutboxStatus::Read,
        Ok(pb::OutboxStatus::Failed) => OutboxStatus::Failed,
        Err(_) => return Err(CorruptReason::BadField("status")),
    };
    // A status past the ack carries the time that put it there.
    let needs = match status {
        OutboxStatus::Delivered => e.delivered_t.is_none(),
        OutboxStatus::Read => e.read_t.is_none(),
        _ => false,
    };
    if needs {
        return Err(CorruptReason::BadField("status time"));
    }
    let fail_code = e
        .fail_code
        .map(u16::try_from)
        .transpose()
        .map_err(|_| CorruptReason::BadField("fail_code"))?;
    if e.message_id.is_empty() {
        return Err(CorruptReason::BadField("message_id"));
    }
    let chat = e
        .chat
        .parse()
        .map_err(|_| CorruptReason::BadField("chat"))?;
    Ok(OutboxEntry {
        message_id: e.message_id,
        chat,
        payload: e.payload,
        status,
        attempts: e.attempts,
        next_attempt_ms: e.next_attempt_ms,
        created_ms: e.created_ms,
        updated_ms: e.updated_ms,
        server_t: e.server_t,
        delivered_t: e.delivered_t,
        read_t: e.read_t,
        fail_code,
    })
}

/// Whether a per-account tree's key has the account prefix (and nothing more for the trees
/// keyed by the account alone).
fn account_key_ok(tree: TreeId, key: &[u8]) -> bool {
    if !tree.per_account() {
        return true;
    }
    let exact = matches!(
        tree,
        TreeId::Accounts | TreeId::Devices | TreeId::PreKeyMeta | TreeId::ReceivedMeta
    );
    if exact {
        key.len() == AccountId::LEN
    } else {
        key.len() > AccountId::LEN
    }
}

/// Checks one stored entry as `check()` and `import()` do: the key has its tree's shape and the
/// value decodes as its tree's record, with every field in range.
pub(crate) fn verify_entry(tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
    let bad_key = || Error::corrupt(tree.name(), key, CorruptReason::BadKey);
    if !account_key_ok(tree, key) {
        return Err(bad_key());
    }
    match tree {
        TreeId::Meta => {
            decode(tree, key, value, |m: pb::SchemaInfo| Ok(m.schema_version))?;
        }
        TreeId::Accounts => {
            let a = decode(tree, key, value, account_from_pb)?;
            if a.id.as_bytes() != key {
                return Err(Error::corrupt(
                    tree.name(),
                    key,
                    CorruptReason::Inconsistent("account id differs from its key"),
                ));
            }
        }
        TreeId::Tokens => {
            if key.len() != 32 {
                return Err(bad_key());
            }
            decode(tree, key, value, |m: pb::TokenOwner| {
                AccountId::from_slice(&m.account_id).ok_or(CorruptReason::BadField("account_id"))
            })?;
        }
        TreeId::Devices => decode_device(tree, key, value).map(drop)?,
        TreeId::Identities => decode(tree, key, value, identity_from_pb).map(drop)?,
        TreeId::Sessions | TreeId::SenderKeys => {
            decode(tree, key, value, |m: pb::OpaqueRecord| Ok(m.record))?;
        }
        TreeId::PreKeys => {
            let id = keys::key_number(key).ok_or_else(bad_key)?;
            let p = decode(tree, key, value, prekey_from_pb)?;
            if p.id != id {
                return Err(Error::corrupt(
                    tree.name(),
                    key,
                    CorruptReason::Inconsistent("prekey id differs from its key"),
                ));
            }
        }
        TreeId::PreKeyMeta => {
            decode(tree, key, value, |m: pb::PreKeyMeta| Ok(m.next_id))?;
        }
        TreeId::SignedPreKeys => {
            keys::key_number(key).ok_or_else(bad_key)?;
            decode(tree, key, value, signed_prekey_from_pb)?;
        }
        TreeId::Outbox => decode(tree, key, value, outbox_from_pb).map(drop)?,
        TreeId::OutboxDue => {
            keys::parse_due(key).ok_or_else(bad_key)?;
            decode(tree, key, value, |_: pb::OutboxDue| Ok(()))?;
        }
        TreeId::DeviceLists
        | TreeId::LidByPn
        | TreeId::PnByLid
        | TreeId::PrivacyTokens
        | TreeId::TokensIssued
        | TreeId::Received
        | TreeId::ReceivedOrder
        | TreeId::ReceivedMeta
        | TreeId::PendingReports => msg_records::verify_entry(tree, key, value)?,
        TreeId::WebhookQueue | TreeId::WebhookDead => {
            crate::webhook_records::verify(tree, key, value)?;
        }
        TreeId::StatusLog => crate::status_records::verify(key, value)?,
        TreeId::Pools | TreeId::DefaultSession => {
            crate::pool_records::verify_entry(tree, key, value)?;
        }
        TreeId::PushNames => push_names::verify_entry(tree, key, value)?,
    }
    Ok(())
}
