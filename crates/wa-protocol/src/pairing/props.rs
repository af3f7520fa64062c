//! `ClientPairingProps`, the feature flags the server may attach to pair-success as
//! `<client-props>` (`login-pairing.md` §4.4; waCompanionReg):
//!
//! ```text
//! ClientPairingProps { isChatDbLidMigrated = 1; isSyncdPureLidSession = 2;
//!                      isSyncdSnapshotRecoveryEnabled = 3; isHsThumbnailSyncEnabled = 4;
//!                      subscriptionSyncPayload = 5 }
//! ```
//!
//! `isChatDbLidMigrated` is what makes an account address its DMs in the LID namespace
//! (`messaging.md` §16: "whatsapp-rust does so only once the account is LID-migrated (pairing
//! `client-props` / …)"). The bytes are bounded ([`MAX_CLIENT_PROPS`]) before they are decoded.

use prost::Message;

use super::error::PairError;
use crate::pb::companion::ClientPairingProps;

/// The largest `<client-props>` accepted. The four flags take 8 bytes; the rest is room for
/// `subscriptionSyncPayload`, whose size the references do not state (our bound).
pub const MAX_CLIENT_PROPS: usize = 16 * 1024;

/// The typed `ClientPairingProps` (absent flags read as `false`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairingProps {
    /// `isChatDbLidMigrated` (field 1): the account addresses DMs, their participants and the
    /// own-device copy by LID (`messaging.md` §16).
    pub chat_db_lid_migrated: bool,
    /// `isSyncdPureLidSession` (field 2).
    pub syncd_pure_lid_session: bool,
    /// `isSyncdSnapshotRecoveryEnabled` (field 3).
    pub syncd_snapshot_recovery_enabled: bool,
    /// `isHsThumbnailSyncEnabled` (field 4).
    pub hs_thumbnail_sync_enabled: bool,
    /// `subscriptionSyncPayload` (field 5), kept as given.
    pub subscription_sync_payload: Option<Vec<u8>>,
}

impl PairingProps {
    /// Decodes `<client-props>` content: at most [`MAX_CLIENT_PROPS`] bytes of
    /// `ClientPairingProps`.
    pub fn decode(bytes: &[u8]) -> Result<Self, PairError> {
        if bytes.len() > MAX_CLIENT_PROPS {
            return Err(PairError::TooLarge {
                what: "client-props",
                max: MAX_CLIENT_PROPS,
                got: bytes.len(),
            });
        }
        let pb = ClientPairingProps::decode(bytes).map_err(|source| PairError::Protobuf {
            what: "ClientPairingProps",
            source,
        })?;
        Ok(PairingProps {
            chat_db_lid_migrated: pb.is_chat_db_lid_migrated.unwrap_or(false),
            syncd_pure_lid_session: pb.is_syncd_pure_lid_session.unwrap_or(false),
            syncd_snapshot_recovery_enabled: pb.is_syncd_snapshot_recovery_enabled.unwrap_or(false),
            hs_thumbnail_sync_enabled: pb.is_hs_thumbnail_sync_enabled.unwrap_or(false),
            subscription_sync_payload: pb.subscription_sync_payload,
        })
    }

    /// The `ClientPairingProps` bytes (the simulated server's side); a flag that is `false` is
    /// left out.
    pub fn encode(&self) -> Vec<u8> {
        let flag = |b: bool| b.then_some(true);
        ClientPairingProps {
            is_chat_db_lid_migrated: flag(self.chat_db_lid_migrated),
            is_syncd_pure_lid_session: flag(self.syncd_pure_lid_session),
            is_syncd_snapshot_recovery_enabled: flag(self.syncd_snapshot_recovery_enabled),
            is_hs_thumbnail_sync_enabled: flag(self.hs_thumbnail_sync_enabled),
            subscription_sync_payload: self.subscription_sync_payload.clone(),
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_one_is_the_lid_migration_flag() {
        // Field 1, varint (tag 0x08), value 1: isChatDbLidMigrated = true (§4.4).
        let props = PairingProps::decode(&[0x08, 0x01]).expect("decodes");
        assert!(props.chat_db_lid_migrated);
        assert!(!props.syncd_pure_lid_session);
        let migrated = PairingProps {
            chat_db_lid_migrated: true,
            ..PairingProps::default()
        };
        assert_eq!(migrated.encode(), vec![0x08, 0x01]);
        // Field 2 alone, and field 5 (length-delimited, tag 0x2a).
        let p = PairingProps::decode(&[0x10, 0x01, 0x2a, 0x02, 0xab, 0xcd]).expect("decodes");
        assert!(!p.chat_db_lid_migrated && p.syncd_pure_lid_session);
        assert_eq!(p.subscription_sync_payload, Some(vec![0xab, 0xcd]));
        assert_eq!(PairingProps::decode(&[]), Ok(PairingProps::default()));
    }

    #[test]
    fn malformed_or_oversized_props_are_typed_errors() {
        assert!(matches!(
            PairingProps::decode(&[0x2a, 0x05, 0x01]),
            Err(PairError::Protobuf { .. })
        ));
        let big = vec![0u8; MAX_CLIENT_PROPS + 1];
        assert!(matches!(
            PairingProps::decode(&big),
            Err(PairError::TooLarge { got, .. }) if got == MAX_CLIENT_PROPS + 1
        ));
    }
}
