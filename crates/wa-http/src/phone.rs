//! Phone numbers and JIDs from request fields (CONTRACTS §A.0 "Phone / JID parsing"): a leading
//! `+` is stripped; a value without `@` is a phone number (`<digits>@s.whatsapp.net`); a value
//! with `@` is a full JID (`…@g.us`, `…@lid`, `…@s.whatsapp.net`, and `…@c.us` of the
//! whatsapp-web.js dialect), and one without a user part is refused. A bare number must be 7 to 15
//! digits without a leading 0 ([`PhoneNumber`]; spaces, `-`, `.` and brackets are ignored).

use std::borrow::Cow;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::PhoneNumber;

use crate::error::ApiError;

/// Parses `value` as a recipient; refuses with `400 could not parse <what>`.
pub fn parse_recipient(value: &str, what: &str) -> Result<Jid, ApiError> {
    let refuse = || ApiError::BadRequest(Cow::Owned(format!("could not parse {what}")));
    let value = value.trim();
    let value = value.strip_prefix('+').unwrap_or(value);
    match value.split_once('@') {
        None => {
            let phone: PhoneNumber = value.parse().map_err(|_| refuse())?;
            Ok(phone.to_jid())
        }
        Some((user, server)) => {
            if user.is_empty() {
                return Err(refuse());
            }
            let jid: Jid = format!("{user}@{server}").parse().map_err(|_| refuse())?;
            // The whatsapp-web.js dialect's `…@c.us` is a phone-number user.
            Ok(match jid.server() {
                Server::Legacy => Jid::user(jid.user_part(), Server::WhatsApp),
                _ => jid,
            })
        }
    }
}

/// Parses a `Phone` field.
pub fn parse_phone(value: &str) -> Result<Jid, ApiError> {
    parse_recipient(value, "Phone")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn phones_with_or_without_plus_or_server() {
        for v in [
            "5511999990001",
            "+5511999990001",
            "5511999990001@s.whatsapp.net",
        ] {
            assert_eq!(
                parse_phone(v).unwrap().to_string(),
                "5511999990001@s.whatsapp.net"
            );
        }
        assert_eq!(
            parse_phone("5511999990001@c.us").unwrap().to_string(),
            "5511999990001@s.whatsapp.net"
        );
        assert!(parse_phone("120363000000000001@g.us").unwrap().is_group());
        assert_eq!(parse_phone("123456789@lid").unwrap().server(), &Server::Lid);
    }

    #[test]
    fn bad_phones_are_refused_with_the_contract_text() {
        for v in ["", "@s.whatsapp.net", "abc", "55 11"] {
            let e = parse_phone(v).unwrap_err();
            assert_eq!(e.to_string(), "could not parse Phone", "{v:?}");
        }
    }
}
