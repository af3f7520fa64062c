//! Phone numbers and JIDs from request fields (CONTRACTS §A.0 "Phone / JID parsing"), the one
//! parser of both dialects (wuzapi's `Phone`, whatsapp-web.js's `chatId`, `user/check`, group
//! participants, …): a value without `@` is a phone number (`<digits>@s.whatsapp.net`); a value
//! with `@` is a full JID (`…@g.us`, `…@lid`, `…@s.whatsapp.net`, and `…@c.us` of the
//! whatsapp-web.js dialect), and one without a user part is refused.
//!
//! Phone numbers are normalised (issue 12 item 5, seed 004's table): spaces and punctuation
//! (`-`, `.`, `(`, `)`, `/`) are dropped and a leading `+` (or `00`) marks an international
//! number kept as it is. With a default country code (`--default-country-code`, per session
//! overridable: [`use_session_country_code`]), a national number becomes international: the
//! trunk prefix `0` is replaced by the country code (`08123456789` → `628123456789`), and for
//! a country whose mobile numbers are known to be written without the trunk prefix
//! ([`NATIONAL_LEADS`]: Indonesia's `8…`) the code is put in front (`8123456789` →
//! `628123456789`); a number already starting with the code stays. The result must be an
//! E.164 number: 7 to 15 digits with the country code, not starting with `0` ([`PhoneNumber`]).
//! What is not a phone number is a 400 `could not parse <Field>` whose `details` say why
//! ([`PhoneProblem`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::PhoneNumber;
use wa_store::Account;

use crate::error::ApiError;

/// Fewest digits of a phone number with its country code (the shortest plans in use have 7).
pub const MIN_DIGITS: usize = 7;
/// Most digits of a phone number with its country code (E.164).
pub const MAX_DIGITS: usize = 15;

/// Countries whose national numbers are commonly written without the trunk prefix, and the
/// leading digits that mark such a number (seed 004: Indonesian mobiles `8…`). Other countries
/// get only the trunk-prefix rule: a number without `0` or `+` is read as international.
pub const NATIONAL_LEADS: &[(&str, &[char])] = &[("62", &['8'])];

/// A country calling code: 1 to 3 digits, not starting with 0 (E.164).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryCode(String);

impl CountryCode {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CountryCode {
    type Err = PhoneProblem;

    /// Accepts `62` or `+62`.
    fn from_str(s: &str) -> Result<Self, PhoneProblem> {
        let d = s.trim();
        let d = d.strip_prefix('+').unwrap_or(d);
        let ok = (1..=3).contains(&d.len())
            && d.bytes().all(|b| b.is_ascii_digit())
            && !d.starts_with('0');
        if ok {
            Ok(Self(d.to_owned()))
        } else {
            Err(PhoneProblem::BadCountryCode)
        }
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a value is not a phone number (the `details` of the 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneProblem {
    /// Nothing but blanks.
    Empty,
    /// A character other than digits, blanks, `-`, `.`, `(`, `)`, `/` and a leading `+`.
    NotDigits,
    /// A national number (leading `0`) and no default country code to complete it.
    NeedsCountryCode,
    /// Fewer than [`MIN_DIGITS`] digits with the country code.
    TooShort(usize),
    /// More than [`MAX_DIGITS`] digits with the country code.
    TooLong(usize),
    /// Not a country code (1 to 3 digits, not starting with 0).
    BadCountryCode,
}

impl fmt::Display for PhoneProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhoneProblem::Empty => f.write_str("empty phone number"),
            PhoneProblem::NotDigits => f.write_str(
                "a phone number has digits only (with an optional leading + and spaces or - . ( ) /)",
            ),
            PhoneProblem::NeedsCountryCode => f.write_str(
                "a national number (leading 0) needs a country code: write it with +<country code>, or set a default country code",
            ),
            PhoneProblem::TooShort(n) => write!(
                f,
                "{n} digits: a phone number has {MIN_DIGITS} to {MAX_DIGITS} digits with its country code"
            ),
            PhoneProblem::TooLong(n) => write!(
                f,
                "{n} digits: a phone number has at most {MAX_DIGITS} digits with its country code (E.164)"
            ),
            PhoneProblem::BadCountryCode => {
                f.write_str("a country code has 1 to 3 digits and does not start with 0")
            }
        }
    }
}

/// Normalises `raw` to an international number (see the module docs), with `cc` the default
/// country code.
pub fn normalize_phone(raw: &str, cc: Option<&CountryCode>) -> Result<PhoneNumber, PhoneProblem> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(PhoneProblem::Empty);
    }
    let (plus, rest) = match raw.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '\t' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
            _ => return Err(PhoneProblem::NotDigits),
        }
    }
    if digits.is_empty() {
        return Err(PhoneProblem::Empty);
    }
    let full = if plus {
        digits
    } else if let Some(intl) = digits.strip_prefix("00") {
        intl.to_owned()
    } else {
        national(digits, cc)?
    };
    match full.len() {
        n if n < MIN_DIGITS => Err(PhoneProblem::TooShort(n)),
        n if n > MAX_DIGITS => Err(PhoneProblem::TooLong(n)),
        _ if full.starts_with('0') => Err(PhoneProblem::NeedsCountryCode),
        _ => full.parse().map_err(|_| PhoneProblem::NotDigits),
    }
}

/// Digits written without `+` or `00`: completed with the country code when national.
fn national(digits: String, cc: Option<&CountryCode>) -> Result<String, PhoneProblem> {
    let Some(cc) = cc else {
        return if digits.starts_with('0') {
            Err(PhoneProblem::NeedsCountryCode)
        } else {
            Ok(digits)
        };
    };
    if let Some(subscriber) = digits.strip_prefix('0') {
        return Ok(format!("{cc}{subscriber}"));
    }
    if digits.starts_with(cc.as_str()) {
        return Ok(digits);
    }
    let leads = NATIONAL_LEADS
        .iter()
        .find(|(code, _)| *code == cc.as_str())
        .map_or(&[][..], |(_, leads)| *leads);
    if digits.starts_with(leads) {
        return Ok(format!("{cc}{digits}"));
    }
    Ok(digits)
}

tokio::task_local! {
    /// The country code of the request being served (the server's default, or the session's).
    static COUNTRY: RefCell<Option<CountryCode>>;
}

/// Runs `request` with `default` as its country code (the router wraps every request in it, so
/// the parsers below need no extra argument).
pub async fn with_country_code<F: std::future::Future>(
    default: Option<CountryCode>,
    request: F,
) -> F::Output {
    COUNTRY.scope(RefCell::new(default), request).await
}

/// The session's own country code (if it has a valid one) replaces the default for the rest of
/// the request; called once the caller's account is known.
pub fn use_session_country_code(account: &Account) {
    if account.country_code.is_empty() {
        return;
    }
    if let Ok(cc) = account.country_code.parse::<CountryCode>() {
        // Outside a request scope (unit tests) there is nothing to set.
        let _outside = COUNTRY.try_with(|c| *c.borrow_mut() = Some(cc)).is_err();
    }
}

/// The current request's country code.
pub fn current_country_code() -> Option<CountryCode> {
    COUNTRY.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Parses `value` as a recipient; refuses with `400 could not parse <what>`.
pub fn parse_recipient(value: &str, what: &str) -> Result<Jid, ApiError> {
    let refuse = || ApiError::BadRequest(Cow::Owned(format!("could not parse {what}")));
    let bad_phone = |problem| ApiError::BadPhone {
        what: what.to_owned(),
        problem,
    };
    let value = value.trim();
    let cc = current_country_code();
    match value.split_once('@') {
        None => Ok(normalize_phone(value, cc.as_ref())
            .map_err(bad_phone)?
            .to_jid()),
        Some((user, server)) => {
            let user = user.strip_prefix('+').unwrap_or(user);
            if user.is_empty() {
                return Err(refuse());
            }
            let jid: Jid = format!("{user}@{server}").parse().map_err(|_| refuse())?;
            match jid.server() {
                // A phone-number user (the whatsapp-web.js dialect's `…@c.us` too), one device
                // or none: its number is normalised like a bare one.
                Server::WhatsApp | Server::Legacy if jid.device_id() == 0 => {
                    Ok(normalize_phone(jid.user_part(), cc.as_ref())
                        .map_err(bad_phone)?
                        .to_jid())
                }
                Server::Legacy => Ok(Jid::device(
                    jid.user_part().to_owned(),
                    jid.device_id(),
                    Server::WhatsApp,
                )),
                _ => Ok(jid),
            }
        }
    }
}

/// Parses a `Phone` field.
pub fn parse_phone(value: &str) -> Result<Jid, ApiError> {
    parse_recipient(value, "Phone")
}

#[cfg(test)]
#[path = "phone_tests.rs"]
mod tests;
