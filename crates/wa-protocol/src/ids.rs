//! Identifier newtypes shared by every crate: [`PhoneNumber`] and [`MessageId`].
//!
//! Each is parsed once at the edge (HTTP body, admin API, CLI flag, stanza attribute) and carried
//! typed from there on, so the simulator, the client and the HTTP API apply one rule.

use core::fmt;
use core::str::FromStr;

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use crate::binary::{Jid, Server};

/// Why a phone number or message id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not a phone number: after removing `+`, spaces, `-`, `.`, `(` and `)` there must be 7 to
    /// 15 digits (E.164), the first not `0`.
    #[error("invalid phone number {0:?}: expected 7 to 15 digits with the country code, not starting with 0")]
    Phone(String),
    /// A message id must be 1 to 128 visible ASCII characters.
    #[error("invalid message id: expected 1 to 128 visible ASCII characters")]
    MessageId,
}

/// An international phone number: 7 to 15 digits with the country code, no leading `0`
/// (E.164 without the `+`), as WhatsApp's `s.whatsapp.net` user part carries it.
///
/// Parsing accepts what people and apps write: a leading `+`, spaces, `-`, `.`, `(`, `)`, and the
/// JID forms `…@s.whatsapp.net` / `…@c.us` (without a device part).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user JID `DIGITS@s.whatsapp.net`.
    pub fn to_jid(&self) -> Jid {
        Jid::user(self.0.clone(), Server::WhatsApp)
    }

    /// The phone number of a phone-number JID (`s.whatsapp.net` or `c.us`; the device part is
    /// ignored). `None` for LIDs, groups and other servers.
    pub fn from_jid(jid: &Jid) -> Option<PhoneNumber> {
        match jid.server() {
            Server::WhatsApp | Server::Legacy => Self::from_digits(jid.user_part()).ok(),
            _ => None,
        }
    }

    fn from_digits(digits: &str) -> Result<Self, IdError> {
        let ok = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(digits.to_owned()))
        } else {
            Err(IdError::Phone(digits.to_owned()))
        }
    }
}

impl FromStr for PhoneNumber {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdError::Phone(s.chars().take(40).collect());
        let s = s.trim();
        let number = match s.split_once('@') {
            Some((user, "s.whatsapp.net" | "c.us")) => user,
            Some(_) => return Err(bad()),
            None => s.strip_prefix('+').unwrap_or(s),
        };
        let mut digits = String::with_capacity(number.len());
        for c in number.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(bad()),
            }
        }
        Self::from_digits(&digits).map_err(|_| bad())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.0)
    }
}

/// A message id as it travels in `<message id="…">`: 1 to 128 visible ASCII characters.
/// New ids are made in WhatsApp's own format by [`MessageId::generate`]; a caller may also bring
/// its own.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    /// Longest id accepted.
    pub const MAX_LEN: usize = 128;

    /// A new id in the format WhatsApp clients use today: `3EB0` and the first 9 bytes, in upper
    /// hex, of SHA-256(unix seconds as 8 bytes big-endian ‖ own user ‖ `@c.us` ‖ 16 random bytes).
    /// Sources: whatsmeow `GenerateMessageIDV2` (`send.go`), Baileys `generateMessageIDV2`.
    pub fn generate(now_secs: u64, own_user: Option<&str>, rng: &mut impl CryptoRngCore) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(now_secs.to_be_bytes());
        if let Some(user) = own_user {
            hasher.update(user.as_bytes());
            hasher.update(b"@c.us");
        }
        let mut random = [0u8; 16];
        rng.fill_bytes(&mut random);
        hasher.update(random);
        let digest = hasher.finalize();
        Self(format!("3EB0{}", hex::encode_upper(&digest[..9])))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MessageId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if (1..=Self::MAX_LEN).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::MessageId)
        }
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_people_write() {
        for ok in [
            "15550001111",
            "+15550001111",
            " +1 (555) 000-1111 ",
            "1.555.000.1111",
            "15550001111@s.whatsapp.net",
            "15550001111@c.us",
        ] {
            let p: PhoneNumber = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(p.as_str(), "15550001111");
        }
        assert_eq!(
            "1234567".parse::<PhoneNumber>().map(|p| p.0),
            Ok("1234567".into())
        );
        assert!("123456789012345".parse::<PhoneNumber>().is_ok());
        for bad in [
            "",
            "+",
            "123456",
            "1234567890123456",
            "05550001111",
            "+0 555 000 1111",
            "1555000111a",
            "15550001111@g.us",
            "15550001111@lid",
            "15550001111:2@s.whatsapp.net",
            "++15550001111",
            "1555\u{0}0001111",
        ] {
            assert!(bad.parse::<PhoneNumber>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn phone_number_and_jid() {
        let p: PhoneNumber = "15550001111".parse().expect("valid");
        assert_eq!(p.to_jid().to_string(), "15550001111@s.whatsapp.net");
        let device: Jid = "15550001111:3@s.whatsapp.net".parse().expect("jid");
        assert_eq!(PhoneNumber::from_jid(&device), Some(p));
        let lid: Jid = "123456789@lid".parse().expect("jid");
        assert_eq!(PhoneNumber::from_jid(&lid), None);
    }

    #[test]
    fn message_ids() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = MessageId::generate(1_700_000_000, Some("15550001111"), &mut rng);
        let b = MessageId::generate(1_700_000_000, Some("15550001111"), &mut rng);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 22);
        assert!(a.as_str().starts_with("3EB0"));
        assert!(a.as_str()[4..]
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_eq!(a.as_str().parse::<MessageId>(), Ok(a.clone()));
        assert!("".parse::<MessageId>().is_err());
        assert!("has space".parse::<MessageId>().is_err());
        assert!("x".repeat(129).parse::<MessageId>().is_err());
        assert!("x".repeat(128).parse::<MessageId>().is_ok());
    }
}
