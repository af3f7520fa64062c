//! wuzapi's webhook event type names (CONTRACTS §B.6, Jan-2026): what `Subscribe` (session
//! connect) and the admin `events` field accept. `All` subscribes to everything.

/// Every name a subscription may carry: the types wuzapi emits, those it accepts but never
/// emits, and `All`.
pub(crate) const EVENT_TYPES: &[&str] = &[
    // session
    "QR",
    "QRTimeout",
    "PairSuccess",
    "PairError",
    "Connected",
    "Disconnected",
    "ConnectFailure",
    "LoggedOut",
    "KeepAliveTimeout",
    "KeepAliveRestored",
    "ClientOutdated",
    "TemporaryBan",
    "StreamError",
    // messages
    "Message",
    "UndecryptableMessage",
    "ReadReceipt",
    // our extension (issue 12): every status change of a sent message
    "MessageStatus",
    "MediaRetry",
    // presence and sync
    "Presence",
    "ChatPresence",
    "HistorySync",
    "OfflineSyncPreview",
    "OfflineSyncCompleted",
    // groups, contacts and privacy
    "GroupInfo",
    "JoinedGroup",
    "Picture",
    "BlocklistChange",
    "Blocklist",
    "PrivacySettings",
    "UserAbout",
    "IdentityChange",
    // calls
    "CallOffer",
    "CallAccept",
    "CallTerminate",
    "CallOfferNotice",
    "CallRelayLatency",
    // other
    "NewsletterJoin",
    "NewsletterLeave",
    "NewsletterMuteChange",
    "NewsletterLiveUpdate",
    "FBMessage",
    // accepted, never emitted
    "Receipt",
    "AppState",
    "AppStateSyncComplete",
    "StreamReplaced",
    "QRScannedWithoutMultidevice",
    "PushNameSetting",
    "CATRefreshError",
    // everything
    "All",
];

/// Whether `name` is a known type (exact spelling, as wuzapi compares).
pub(crate) fn is_known(name: &str) -> bool {
    EVENT_TYPES.contains(&name)
}

/// `Subscribe`'s names with the unknown ones dropped silently and duplicates removed, in the
/// order given (CONTRACTS §B.2 step 2).
pub(crate) fn known_only(names: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::with_capacity(names.len());
    for name in names.iter().map(|n| n.trim()) {
        if is_known(name) && !kept.iter().any(|k| k == name) {
            kept.push(name.to_owned());
        }
    }
    kept
}

/// The admin API's comma-separated `events` (CONTRACTS §A.1): every name must be known; the
/// first unknown one is returned as the error. Empty items are skipped.
pub(crate) fn parse_list(events: &str) -> Result<Vec<String>, String> {
    let mut kept: Vec<String> = Vec::new();
    for name in events.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !is_known(name) {
            return Err(name.to_owned());
        }
        if !kept.iter().any(|k| k == name) {
            kept.push(name.to_owned());
        }
    }
    Ok(kept)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_subscriptions_are_dropped_silently() {
        let given = ["Message", "Nope", "ReadReceipt", "Message"].map(String::from);
        assert_eq!(known_only(&given), ["Message", "ReadReceipt"]);
    }

    #[test]
    fn admin_lists_name_the_first_unknown_event() {
        assert_eq!(parse_list("Message, All").unwrap(), ["Message", "All"]);
        assert_eq!(parse_list("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_list("Message,message").unwrap_err(), "message");
    }
}
