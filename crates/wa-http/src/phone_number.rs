//! Phone numbers as people write them, normalised to E.164 (issue 12 item 5, seed 004's
//! table): the pure part of [`crate::phone`] (no request state), kept apart so that the error
//! type can name [`PhoneProblem`]. The rules are written out in [`crate::phone`]'s docs.

use std::fmt;
use std::str::FromStr;

use wa_protocol::PhoneNumber;

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
