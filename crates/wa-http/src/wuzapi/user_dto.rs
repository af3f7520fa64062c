//! The user routes' request and response bodies (CONTRACTS §A.6). Request fields are declared
//! under their lowercase wire names (see [`crate::json::GoJson`]); response fields keep the
//! Go structs' names and order (whatsmeow's `UserInfo`, `ContactInfo`; wuzapi's check answer).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wa_protocol::binary::Jid;

use crate::error::ApiError;
use crate::phone::parse_phone;

/// `POST /user/presence`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct PresenceBody {
    /// `available` or `unavailable`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl PresenceBody {
    /// Whether we become available; refused with wuzapi's text otherwise.
    pub(crate) fn available(&self) -> Result<bool, ApiError> {
        match self.kind.as_str() {
            "available" => Ok(true),
            "unavailable" => Ok(false),
            _ => Err(ApiError::bad_request(
                "invalid presence type. Allowed values: 'available', 'unavailable'",
            )),
        }
    }
}

/// `POST /user/check` and `POST /user/info`: `Phone[]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct PhonesBody {
    /// Phone numbers (with or without `+`) or JIDs.
    #[serde(rename = "phone")]
    pub phone: Vec<String>,
}

impl PhonesBody {
    /// Each entry parsed (`missing Phone in Payload` when empty, `could not parse Phone` for a
    /// bad one), with the text as given.
    pub(crate) fn users(&self) -> Result<Vec<(String, Jid)>, ApiError> {
        if self.phone.is_empty() {
            return Err(ApiError::missing("Phone"));
        }
        self.phone
            .iter()
            .map(|p| Ok((p.clone(), parse_phone(p)?)))
            .collect()
    }
}

/// One answer of `/user/check`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CheckedUser {
    /// The entry as sent.
    #[serde(rename = "Query")]
    pub query: String,
    /// Whether the number is on WhatsApp.
    #[serde(rename = "IsInWhatsapp")]
    pub is_in_whatsapp: bool,
    /// Its JID.
    #[serde(rename = "JID")]
    pub jid: String,
    /// The business name (none known here: empty).
    #[serde(rename = "VerifiedName")]
    pub verified_name: String,
}

/// `/user/check`'s `data`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CheckData {
    /// In the order asked.
    #[serde(rename = "Users")]
    pub users: Vec<CheckedUser>,
}

/// One user of `/user/info` (whatsmeow's `UserInfo` field order).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct UserInfo {
    /// The business's verified name (none known here: `null`).
    #[serde(rename = "VerifiedName")]
    #[schema(value_type = Option<Object>)]
    pub verified_name: Option<serde_json::Value>,
    /// The "about" text (not queried: empty).
    #[serde(rename = "Status")]
    pub status: String,
    /// The profile picture id (not queried: empty).
    #[serde(rename = "PictureID")]
    pub picture_id: String,
    /// Device JIDs.
    #[serde(rename = "Devices")]
    pub devices: Vec<String>,
    /// The LID, empty when unknown.
    #[serde(rename = "LID")]
    pub lid: String,
}

/// `/user/info`'s `data`: users by JID.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct InfoData {
    /// Keyed by the user's JID (sorted, as Go writes maps).
    #[serde(rename = "Users")]
    pub users: BTreeMap<String, UserInfo>,
}

/// `/user/lid/{jid}`'s `data`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct LidData {
    /// The phone-number JID.
    pub jid: String,
    /// The LID.
    pub lid: String,
}

/// One contact of `/user/contacts` (whatsmeow's `ContactInfo`, plus the LID).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ContactInfo {
    /// Always true for a listed contact.
    #[serde(rename = "Found")]
    pub found: bool,
    /// Not known here: empty.
    #[serde(rename = "FirstName")]
    pub first_name: String,
    /// Not known here: empty.
    #[serde(rename = "FullName")]
    pub full_name: String,
    /// The name the contact's messages announced (`notify`), empty when none arrived yet.
    #[serde(rename = "PushName")]
    pub push_name: String,
    /// Not known here: empty.
    #[serde(rename = "BusinessName")]
    pub business_name: String,
    /// The contact's LID (wagate's addition; empty when not learnt).
    #[serde(rename = "LID")]
    pub lid: String,
}

/// `/user/presence`'s `data`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PresenceData {
    /// `Presence set successfuly` (sic).
    #[serde(rename = "Details")]
    pub details: &'static str,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::json::decode;

    #[test]
    fn presence_types() {
        let b: PresenceBody = decode(br#"{"type":"available"}"#).unwrap();
        assert!(b.available().unwrap());
        let b: PresenceBody = decode(br#"{"Type":"unavailable"}"#).unwrap();
        assert!(!b.available().unwrap());
        let b: PresenceBody = decode(br#"{"type":"away"}"#).unwrap();
        assert_eq!(
            b.available().unwrap_err().to_string(),
            "invalid presence type. Allowed values: 'available', 'unavailable'"
        );
    }

    #[test]
    fn phones_are_required_and_parsed() {
        let b: PhonesBody = decode(br#"{}"#).unwrap();
        assert_eq!(
            b.users().unwrap_err().to_string(),
            "missing Phone in Payload"
        );
        let b: PhonesBody = decode(br#"{"Phone":["+5511999990001","x"]}"#).unwrap();
        assert_eq!(b.users().unwrap_err().to_string(), "could not parse Phone");
        let b: PhonesBody = decode(br#"{"Phone":["+5511999990001"]}"#).unwrap();
        let users = b.users().unwrap();
        assert_eq!(users[0].0, "+5511999990001");
        assert_eq!(users[0].1.to_string(), "5511999990001@s.whatsapp.net");
        assert!(decode::<PhonesBody>(br#"{"Phone":"5511999990001"}"#).is_err());
    }

    #[test]
    fn answers_keep_gos_field_order() {
        let info = UserInfo {
            verified_name: None,
            status: String::new(),
            picture_id: String::new(),
            devices: vec!["5511999990001@s.whatsapp.net".into()],
            lid: "77@lid".into(),
        };
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"VerifiedName":null,"Status":"","PictureID":"","Devices":["5511999990001@s.whatsapp.net"],"LID":"77@lid"}"#
        );
    }
}
