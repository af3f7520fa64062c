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
//! What is not a phone number is a 400 `could not parse <Field>` (the contract's body, in each
//! dialect's envelope); why ([`PhoneProblem`]) goes to the log.

use std::borrow::Cow;
use std::cell::RefCell;

use wa_protocol::binary::{Jid, Server};
use wa_store::Account;

use crate::error::ApiError;
pub use crate::phone_number::{
    normalize_phone, CountryCode, PhoneProblem, MAX_DIGITS, MIN_DIGITS, NATIONAL_LEADS,
};

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
