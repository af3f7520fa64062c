//! Privacy (trusted-contact) tokens, `messaging.md` §16:
//!
//! ```text
//! <notification type="privacy_token"> ─▶ save_tokens: per contact LID, with its t (a later
//!                                         token wins; a PN names its LID through the map)
//! 1:1 send ─▶ token_for: the contact's token while valid (4 buckets of 7 days) ─▶ <tctoken>
//! after an accepted 1:1 send carrying the contact's token ─▶ issue_if_due: our own token
//!     (IssuePrivacyTokens IQ) when never issued or issued in an earlier bucket
//! ```
//!
//! Our own token goes to contacts that granted us theirs (a trusted contact both ways); a
//! contact that never did gets none from a send (§16 names the bucket rule, not the contacts).
//!
//! ```text
//! ```
//!
//! A send the server refuses with 463 (no valid token) fails with that code and is not
//! retried: each retry would count as another reach-out (§16).

use std::sync::Arc;

use wa_protocol::binary::Jid;
use wa_protocol::stanza::{IqResponse, IssuePrivacyTokens, PrivacyTokens};
use wa_protocol::time::Millis;
use wa_store::{token_bucket, token_issue_due, AccountId, Durability, PrivacyToken, Store};

use super::address::{lid_of, stored_token, user_of};
use crate::error::Error;
use crate::handle::AccountHandle;

/// The contact's token for a 1:1 send to `to`, when one is stored and still valid at `now`.
pub(crate) async fn token_for(
    store: &Arc<dyn Store>,
    account: AccountId,
    to: &Jid,
    now: Millis,
) -> Result<Option<Vec<u8>>, Error> {
    let s = Arc::clone(store);
    let to = to.clone();
    tokio::task::spawn_blocking(move || stored_token(s.as_ref(), account, &to, now)).await?
}

/// Stores the tokens of a `privacy_token` notification (blocking); how many were new. A token
/// whose contact has no known LID is skipped (logged): tokens are kept by LID (§16).
pub(crate) fn save_tokens(
    store: &dyn Store,
    account: AccountId,
    tokens: &PrivacyTokens,
    now_ms: u64,
) -> wa_store::Result<usize> {
    let mut saved = 0;
    for token in &tokens.tokens {
        let lid = match lid_of(store, account, &token.jid)? {
            Some(lid) => Some(lid),
            None => tokens.sender_lid.as_ref().map(user_of),
        };
        let Some(lid) = lid else {
            tracing::warn!(account = %account, contact = %token.jid, "a privacy token for a contact without a known LID");
            continue;
        };
        let record = PrivacyToken {
            token: token.token.clone(),
            t: token.t,
            received_ms: now_ms,
        };
        if store.save_privacy_token(&account, &lid, &record, Durability::Buffered)? {
            saved += 1;
        }
    }
    Ok(saved)
}

/// After an accepted 1:1 send to `to` that carried its token: issues our own token to the contact when none was
/// issued yet or the last one is from an earlier bucket (§16), in the background; the time
/// is recorded once the server accepted it. The check runs once per contact and bucket (the
/// account's `SendCache` remembers it settled), so the sends after the first make no store
/// round trip for it; a check that could not settle (no LID known yet, the IQ failed) is
/// given back and the next send checks again.
pub(crate) fn issue_if_due(handle: &AccountHandle, store: &Arc<dyn Store>, to: &Jid, now: Millis) {
    let bucket = token_bucket(now.unix_secs());
    if !handle.cache().claim_token_check(to, bucket) {
        return;
    }
    let handle = handle.clone();
    let store = Arc::clone(store);
    let to = to.clone();
    tokio::spawn(async move {
        let settled = issue(&handle, &store, &to, now).await;
        if !matches!(settled, Ok(true)) {
            handle.cache().release_token_check(&to, bucket);
        }
        if let Err(error) = settled {
            tracing::warn!(account = %handle.id(), contact = %to, %error, "cannot issue our privacy token");
        }
    });
}

/// Whether the check settled: our token issued now or already in this bucket (false: the
/// contact has no known LID yet).
async fn issue(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    to: &Jid,
    now: Millis,
) -> Result<bool, Error> {
    let account = *handle.id();
    let secs = now.unix_secs();
    let s = Arc::clone(store);
    let contact = to.clone();
    let due = tokio::task::spawn_blocking(move || -> wa_store::Result<_> {
        let Some(lid) = lid_of(s.as_ref(), account, &contact)? else {
            return Ok(None);
        };
        let last = s.token_issued(&account, &lid)?;
        Ok(Some(token_issue_due(last, secs).then_some(lid)))
    })
    .await??;
    let lid = match due {
        None => return Ok(false),
        Some(None) => return Ok(true),
        Some(Some(lid)) => lid,
    };
    let request = IssuePrivacyTokens {
        tokens: vec![(lid.clone(), secs)],
    }
    .request();
    match handle.iq(request).await {
        Some(IqResponse::Result(_)) => {}
        Some(IqResponse::Error { code, .. }) => {
            return Err(Error::IqRefused {
                what: "privacy token issue",
                code,
            })
        }
        None => return Err(Error::Timeout("privacy token issue")),
    }
    let s = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        s.record_token_issued(&account, &lid, secs, Durability::Buffered)
    })
    .await??;
    Ok(true)
}
