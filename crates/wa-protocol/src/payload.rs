//! The `ClientPayload` carried in the ClientFinish: built by the client, parsed and checked by the
//! server (`login-pairing.md` §2; whatsmeow `store/clientpayload.go`, Baileys
//! `src/Utils/validate-connection.ts`).
//!
//! A new companion sends a *registration* payload (its Signal identity and signed prekey, so the
//! primary phone can pair it); a linked one sends a *login* payload (its phone number and device).

use core::fmt;
use core::str::FromStr;

use md5::{Digest, Md5};
use prost::Message;

use crate::pb::companion::{device_props, DeviceProps};
use crate::pb::payload::client_payload::{
    user_agent, web_info, ConnectReason, ConnectType, DevicePairingRegistrationData, UserAgent,
    WebInfo,
};
use crate::pb::payload::ClientPayload;
use crate::signal::{PublicKey, Signature, DJB_TYPE};

/// The default WhatsApp Web version, kept as data in `data/client_version.txt`.
const DEFAULT_VERSION: &str = include_str!("../../../data/client_version.txt");

/// A WhatsApp Web client version `primary.secondary.tertiary` (e.g. `2.3000.1045649367`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientVersion {
    /// Major (2).
    pub primary: u32,
    /// Minor (3000).
    pub secondary: u32,
    /// The web client revision.
    pub tertiary: u32,
}

impl ClientVersion {
    /// MD5 of `"primary.secondary.tertiary"`: the registration `buildHash`.
    pub fn build_hash(&self) -> [u8; 16] {
        Md5::digest(self.to_string().as_bytes()).into()
    }
}

impl Default for ClientVersion {
    fn default() -> Self {
        // A unit test keeps the data file parseable.
        DEFAULT_VERSION.trim().parse().unwrap_or(Self {
            primary: 2,
            secondary: 3000,
            tertiary: 0,
        })
    }
}

impl fmt::Display for ClientVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.primary, self.secondary, self.tertiary)
    }
}

impl FromStr for ClientVersion {
    type Err = PayloadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.').map(str::parse::<u32>);
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Ok(primary)), Some(Ok(secondary)), Some(Ok(tertiary)), None) => Ok(Self {
                primary,
                secondary,
                tertiary,
            }),
            _ => Err(PayloadError::BadVersion(s.to_owned())),
        }
    }
}

/// Why a ClientPayload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The bytes are not a ClientPayload protobuf (or DeviceProps inside it).
    #[error("does not decode: {0}")]
    Decode(#[source] prost::DecodeError),
    /// A field required for this kind of payload is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field has the wrong length.
    #[error("{field} must be {expected} bytes, got {got}")]
    BadLength {
        /// Field name.
        field: &'static str,
        /// Required length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// The key type byte is not `0x05`.
    #[error("key type {0:#04x} is not DJB (0x05)")]
    BadKeyType(u8),
    /// The signed prekey's signature does not verify under the identity key.
    #[error("signed prekey signature does not verify")]
    BadSignedPreKeySignature,
    /// A device number outside 1..=255 (linked companions).
    #[error("device {0} out of range")]
    BadDevice(u32),
    /// A version string that is not `a.b.c`.
    #[error("bad client version {0:?}")]
    BadVersion(String),
}

/// How the client describes itself; everything has production defaults.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// WhatsApp Web version announced.
    pub version: ClientVersion,
    /// `DeviceProps.os`, shown in the phone's "Linked devices" list.
    pub os: String,
    /// `DeviceProps.platformType`.
    pub platform_type: device_props::PlatformType,
    /// Ask the phone for a full history sync.
    pub require_full_sync: bool,
    /// Optional push name.
    pub push_name: Option<String>,
}

impl Default for ClientIdentity {
    fn default() -> Self {
        Self {
            version: ClientVersion::default(),
            os: "wagate".to_owned(),
            platform_type: device_props::PlatformType::Desktop,
            require_full_sync: false,
            push_name: None,
        }
    }
}

/// The Signal material a new companion registers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationKeys {
    /// Registration id (non-zero).
    pub registration_id: u32,
    /// Identity public key.
    pub identity_key: PublicKey,
    /// Signed prekey id (24 bits on the wire).
    pub signed_prekey_id: u32,
    /// Signed prekey public key.
    pub signed_prekey: PublicKey,
    /// XEdDSA signature by the identity key over `0x05 ‖ signed_prekey`.
    pub signed_prekey_signature: Signature,
}

fn base_payload(id: &ClientIdentity) -> ClientPayload {
    ClientPayload {
        user_agent: Some(UserAgent {
            platform: Some(user_agent::Platform::Web as i32),
            app_version: Some(user_agent::AppVersion {
                primary: Some(id.version.primary),
                secondary: Some(id.version.secondary),
                tertiary: Some(id.version.tertiary),
                ..Default::default()
            }),
            mcc: Some("000".to_owned()),
            mnc: Some("000".to_owned()),
            os_version: Some("0.1".to_owned()),
            manufacturer: Some(String::new()),
            device: Some("Desktop".to_owned()),
            os_build_number: Some("0.1".to_owned()),
            release_channel: Some(user_agent::ReleaseChannel::Release as i32),
            locale_language_iso_639_1: Some("en".to_owned()),
            locale_country_iso_3166_1_alpha_2: Some("US".to_owned()),
            ..Default::default()
        }),
        web_info: Some(WebInfo {
            web_sub_platform: Some(web_info::WebSubPlatform::WebBrowser as i32),
            ..Default::default()
        }),
        push_name: id.push_name.clone(),
        connect_type: Some(ConnectType::WifiUnknown as i32),
        connect_reason: Some(ConnectReason::UserActivated as i32),
        ..Default::default()
    }
}

/// The registration payload of a companion that is not linked yet.
pub fn registration_payload(id: &ClientIdentity, keys: &RegistrationKeys) -> ClientPayload {
    let props = DeviceProps {
        os: Some(id.os.clone()),
        version: Some(crate::pb::companion::device_props::AppVersion {
            primary: Some(0),
            secondary: Some(1),
            tertiary: Some(0),
            ..Default::default()
        }),
        platform_type: Some(id.platform_type as i32),
        require_full_sync: Some(id.require_full_sync),
        ..Default::default()
    };
    let mut payload = base_payload(id);
    payload.passive = Some(false);
    payload.pull = Some(false);
    payload.device_pairing_data = Some(DevicePairingRegistrationData {
        e_regid: Some(keys.registration_id.to_be_bytes().to_vec()),
        e_keytype: Some(vec![DJB_TYPE]),
        e_ident: Some(keys.identity_key.as_bytes().to_vec()),
        e_skey_id: Some(keys.signed_prekey_id.to_be_bytes()[1..].to_vec()),
        e_skey_val: Some(keys.signed_prekey.as_bytes().to_vec()),
        e_skey_sig: Some(keys.signed_prekey_signature.to_vec()),
        build_hash: Some(id.version.build_hash().to_vec()),
        device_props: Some(props.encode_to_vec()),
    });
    payload
}

/// The login payload of a linked companion `username:device`.
pub fn login_payload(id: &ClientIdentity, username: u64, device: u8) -> ClientPayload {
    let mut payload = base_payload(id);
    payload.username = Some(username);
    payload.device = Some(u32::from(device));
    payload.passive = Some(true);
    payload.pull = Some(true);
    payload.lc = Some(1);
    payload.lid_db_migrated = Some(false);
    payload
}

/// A checked registration request, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The Signal keys, with the signed-prekey signature verified.
    pub keys: RegistrationKeys,
    /// MD5 of the client version string.
    pub build_hash: [u8; 16],
    /// The companion's device properties.
    pub device_props: DeviceProps,
    /// Announced version, if any.
    pub version: Option<ClientVersion>,
    /// Announced push name, if any.
    pub push_name: Option<String>,
}

/// A login request, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The account's phone number.
    pub username: u64,
    /// The companion's device number.
    pub device: u8,
    /// Whether the client starts passive.
    pub passive: bool,
    /// Announced version, if any.
    pub version: Option<ClientVersion>,
}

/// A ClientPayload classified and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckedPayload {
    /// A new companion asking to be paired.
    Registration(Box<Registration>),
    /// A linked companion logging in.
    Login(Login),
}

fn exact<const N: usize>(
    field: &'static str,
    v: Option<&Vec<u8>>,
) -> Result<[u8; N], PayloadError> {
    let v = v.ok_or(PayloadError::Missing(field))?;
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| PayloadError::BadLength {
        field,
        expected: N,
        got: v.len(),
    })
}

/// Decodes and checks a ClientPayload (server side). A registration must carry well-formed keys
/// with a valid signed-prekey signature; a login must name the user and a device.
pub fn check_client_payload(bytes: &[u8]) -> Result<CheckedPayload, PayloadError> {
    let p = ClientPayload::decode(bytes).map_err(PayloadError::Decode)?;
    let version = p
        .user_agent
        .as_ref()
        .and_then(|ua| ua.app_version.as_ref())
        .map(|v| ClientVersion {
            primary: v.primary.unwrap_or(0),
            secondary: v.secondary.unwrap_or(0),
            tertiary: v.tertiary.unwrap_or(0),
        });
    if let Some(reg) = p.device_pairing_data.as_ref() {
        let regid = exact::<4>("eRegid", reg.e_regid.as_ref())?;
        let [keytype] = exact::<1>("eKeytype", reg.e_keytype.as_ref())?;
        if keytype != DJB_TYPE {
            return Err(PayloadError::BadKeyType(keytype));
        }
        let identity_key = PublicKey::from_bytes(exact::<32>("eIdent", reg.e_ident.as_ref())?);
        let skey_id = exact::<3>("eSkeyID", reg.e_skey_id.as_ref())?;
        let signed_prekey =
            PublicKey::from_bytes(exact::<32>("eSkeyVal", reg.e_skey_val.as_ref())?);
        let signature = exact::<64>("eSkeySig", reg.e_skey_sig.as_ref())?;
        if !identity_key.verify(&signed_prekey.to_djb(), &signature) {
            return Err(PayloadError::BadSignedPreKeySignature);
        }
        let build_hash = exact::<16>("buildHash", reg.build_hash.as_ref())?;
        let props = reg
            .device_props
            .as_deref()
            .ok_or(PayloadError::Missing("deviceProps"))?;
        let device_props = DeviceProps::decode(props).map_err(PayloadError::Decode)?;
        return Ok(CheckedPayload::Registration(Box::new(Registration {
            keys: RegistrationKeys {
                registration_id: u32::from_be_bytes(regid),
                identity_key,
                signed_prekey_id: u32::from_be_bytes([0, skey_id[0], skey_id[1], skey_id[2]]),
                signed_prekey,
                signed_prekey_signature: signature,
            },
            build_hash,
            device_props,
            version,
            push_name: p.push_name.clone(),
        })));
    }
    let username = p.username.ok_or(PayloadError::Missing("username"))?;
    let device = p.device.unwrap_or(0);
    let device = u8::try_from(device).map_err(|_| PayloadError::BadDevice(device))?;
    Ok(CheckedPayload::Login(Login {
        username,
        device,
        passive: p.passive.unwrap_or(false),
        version,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::KeyPair;
    use rand::SeedableRng;

    fn keys(rng: &mut rand::rngs::StdRng) -> RegistrationKeys {
        let identity = KeyPair::generate(rng);
        let spk = KeyPair::generate(rng);
        RegistrationKeys {
            registration_id: 0x0102_0304,
            identity_key: identity.public,
            signed_prekey_id: 1,
            signed_prekey: spk.public,
            signed_prekey_signature: identity.private.sign(&spk.public.to_djb(), rng),
        }
    }

    #[test]
    fn default_version_is_the_data_file() {
        let v = ClientVersion::default();
        assert_eq!(v.to_string(), DEFAULT_VERSION.trim());
        assert_eq!(v.primary, 2);
        assert!("2.3000".parse::<ClientVersion>().is_err());
    }

    #[test]
    fn registration_round_trip_and_checks() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let k = keys(&mut rng);
        let id = ClientIdentity::default();
        let bytes = registration_payload(&id, &k).encode_to_vec();
        let CheckedPayload::Registration(reg) = check_client_payload(&bytes).expect("valid") else {
            panic!("not a registration");
        };
        assert_eq!(reg.keys, k);
        assert_eq!(reg.build_hash, id.version.build_hash());
        assert_eq!(reg.device_props.os.as_deref(), Some("wagate"));

        let mut bad = registration_payload(&id, &k);
        if let Some(d) = bad.device_pairing_data.as_mut() {
            d.e_skey_sig = Some(vec![0; 64]);
        }
        assert_eq!(
            check_client_payload(&bad.encode_to_vec()),
            Err(PayloadError::BadSignedPreKeySignature)
        );
        let mut bad = registration_payload(&id, &k);
        if let Some(d) = bad.device_pairing_data.as_mut() {
            d.e_ident = Some(vec![1; 31]);
        }
        assert!(matches!(
            check_client_payload(&bad.encode_to_vec()),
            Err(PayloadError::BadLength {
                field: "eIdent",
                ..
            })
        ));
    }

    #[test]
    fn login_round_trip() {
        let bytes = login_payload(&ClientIdentity::default(), 15_550_001_234, 7).encode_to_vec();
        match check_client_payload(&bytes) {
            Ok(CheckedPayload::Login(l)) => {
                assert_eq!((l.username, l.device, l.passive), (15_550_001_234, 7, true))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            check_client_payload(&[0xff, 0xff]),
            Err(PayloadError::Decode(_))
        ));
        assert_eq!(
            check_client_payload(&[]),
            Err(PayloadError::Missing("username"))
        );
    }
}
