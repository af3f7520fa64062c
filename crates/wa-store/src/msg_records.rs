//! Records of schema 3 (directory, privacy tokens, received-message dedup): conversions between
//! `proto/store.proto` messages and the domain types, checking every field, and their part of
//! `check()`/`import()` verification.

use wa_protocol::binary::{Jid, Server};

use crate::codec::{decode, Field};
use crate::error::{CorruptReason, Error, Result};
use crate::keys::{self, TreeId};
use crate::pb;
use crate::types::account_id::AccountId;
use crate::types::directory::{DeviceList, LidMapping, LidSource, ListedDevice, PrivacyToken};
use crate::types::received::PendingReport;

pub(crate) fn device_list_to_pb(l: &DeviceList) -> pb::DeviceList {
    pb::DeviceList {
        user: l.user.to_string(),
        devices: l
            .devices
            .iter()
            .map(|d| pb::ListedDevice {
                id: u32::from(d.id),
                key_index: d.key_index,
                hosted: d.hosted,
            })
            .collect(),
        key_index_ts: l.key_index_ts,
        hash: l.hash.clone(),
        fetched_ms: l.fetched_ms,
    }
}

pub(crate) fn device_list_from_pb(l: pb::DeviceList) -> Field<DeviceList> {
    let user: Jid = l
        .user
        .parse()
        .map_err(|_| CorruptReason::BadField("user"))?;
    if user.is_ad() {
        return Err(CorruptReason::BadField("user"));
    }
    let mut devices = Vec::with_capacity(l.devices.len());
    for d in l.devices {
        devices.push(ListedDevice {
            id: u16::try_from(d.id).map_err(|_| CorruptReason::BadField("devices.id"))?,
            key_index: d.key_index,
            hosted: d.hosted,
        });
    }
    Ok(DeviceList {
        user,
        devices,
        key_index_ts: l.key_index_ts,
        hash: l.hash,
        fetched_ms: l.fetched_ms,
    })
}

fn source_to_pb(s: LidSource) -> pb::LidSource {
    match s {
        LidSource::Usync => pb::LidSource::Usync,
        LidSource::SenderAttrs => pb::LidSource::SenderAttrs,
        LidSource::ParticipantAttrs => pb::LidSource::ParticipantAttrs,
        LidSource::HistorySync => pb::LidSource::HistorySync,
        LidSource::Pairing => pb::LidSource::Pairing,
        LidSource::Other => pb::LidSource::Other,
    }
}

pub(crate) fn lid_mapping_to_pb(m: &LidMapping) -> pb::LidMapping {
    pb::LidMapping {
        pn: m.pn.as_str().to_string(),
        lid: m.lid.user_part().to_string(),
        source: source_to_pb(m.source) as i32,
        learnt_ms: m.learnt_ms,
    }
}

pub(crate) fn lid_mapping_from_pb(m: pb::LidMapping) -> Field<LidMapping> {
    let source = match pb::LidSource::try_from(m.source) {
        Ok(pb::LidSource::Usync) => LidSource::Usync,
        Ok(pb::LidSource::SenderAttrs) => LidSource::SenderAttrs,
        Ok(pb::LidSource::ParticipantAttrs) => LidSource::ParticipantAttrs,
        Ok(pb::LidSource::HistorySync) => LidSource::HistorySync,
        Ok(pb::LidSource::Pairing) => LidSource::Pairing,
        Ok(pb::LidSource::Other) => LidSource::Other,
        Err(_) => return Err(CorruptReason::BadField("source")),
    };
    Ok(LidMapping {
        pn: m.pn.parse().map_err(|_| CorruptReason::BadField("pn"))?,
        lid: lid_user(&m.lid).ok_or(CorruptReason::BadField("lid"))?,
        source,
        learnt_ms: m.learnt_ms,
    })
}

/// The LID user JID of a stored LID user part (digits).
pub(crate) fn lid_user(user: &str) -> Option<Jid> {
    let ok = !user.is_empty() && user.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| Jid::lid(user))
}

/// Whether a JID is a LID user JID (server `lid`, no device) with a digits-only user.
pub(crate) fn is_lid_user(j: &Jid) -> bool {
    *j.server() == Server::Lid && !j.is_ad() && lid_user(j.user_part()).is_some()
}

pub(crate) fn privacy_token_to_pb(t: &PrivacyToken) -> pb::PrivacyToken {
    pb::PrivacyToken {
        token: t.token.clone(),
        t: t.t,
        received_ms: t.received_ms,
    }
}

pub(crate) fn privacy_token_from_pb(t: pb::PrivacyToken) -> Field<PrivacyToken> {
    if t.token.is_empty() {
        return Err(CorruptReason::BadField("token"));
    }
    Ok(PrivacyToken {
        token: t.token,
        t: t.t,
        received_ms: t.received_ms,
    })
}

pub(crate) fn received_meta_from_pb(m: pb::ReceivedMeta) -> Field<(u64, u64)> {
    if m.first_seq > m.next_seq {
        return Err(CorruptReason::BadField("first_seq"));
    }
    Ok((m.first_seq, m.next_seq))
}

pub(crate) fn pending_report_from_pb(seq: u64, p: pb::PendingReport) -> Field<PendingReport> {
    let jid = |s: &str, field| s.parse::<Jid>().map_err(|_| CorruptReason::BadField(field));
    if p.id.is_empty() {
        return Err(CorruptReason::BadField("id"));
    }
    Ok(PendingReport {
        seq,
        chat: jid(&p.chat, "chat")?,
        sender: jid(&p.sender, "sender")?,
        id: p.id,
        payload: p.payload,
        received_ms: p.received_ms,
    })
}

/// Checks one stored entry of a schema-3 tree: key shape, value decode, key ↔ value agreement.
pub(crate) fn verify_entry(tree: TreeId, key: &[u8], value: &[u8]) -> Result<()> {
    let bad_key = || Error::corrupt(tree.name(), key, CorruptReason::BadKey);
    let differs = |what| Error::corrupt(tree.name(), key, CorruptReason::Inconsistent(what));
    let suffix = key.get(AccountId::LEN..).ok_or_else(bad_key)?;
    match tree {
        TreeId::DeviceLists => {
            let l = decode(tree, key, value, device_list_from_pb)?;
            if l.user.to_string().as_bytes() != suffix {
                return Err(differs("device list user differs from its key"));
            }
        }
        TreeId::LidByPn | TreeId::PnByLid => {
            let m = decode(tree, key, value, lid_mapping_from_pb)?;
            let named = if tree == TreeId::LidByPn {
                m.pn.as_str()
            } else {
                m.lid.user_part()
            };
            if named.as_bytes() != suffix {
                return Err(differs("mapping differs from its key"));
            }
        }
        TreeId::PrivacyTokens => {
            decode(tree, key, value, privacy_token_from_pb)?;
        }
        TreeId::TokensIssued => {
            decode(tree, key, value, |m: pb::TokenIssued| Ok(m.t))?;
        }
        TreeId::Received => {
            if !keys::received_suffix_ok(suffix) {
                return Err(bad_key());
            }
            decode(tree, key, value, |m: pb::Received| Ok(m.seq))?;
        }
        TreeId::ReceivedOrder => {
            keys::key_seq(key).ok_or_else(bad_key)?;
            let k = decode(tree, key, value, |m: pb::ReceivedOrder| Ok(m.key))?;
            if !keys::received_suffix_ok(&k) {
                return Err(Error::corrupt(
                    tree.name(),
                    key,
                    CorruptReason::BadField("key"),
                ));
            }
        }
        TreeId::ReceivedMeta => {
            decode(tree, key, value, received_meta_from_pb)?;
        }
        TreeId::PendingReports => {
            let seq = keys::key_seq(key).ok_or_else(bad_key)?;
            decode(tree, key, value, |m| pending_report_from_pb(seq, m))?;
        }
        _ => return Err(differs("not a schema-3 tree")),
    }
    Ok(())
}
