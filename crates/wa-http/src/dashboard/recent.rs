//! Each session's recent events for its dashboard page: messages in and out with their
//! statuses, and the session's own changes. Kept in memory (the last [`PER_SESSION`] of each
//! account), fed by one task that follows [`wa_client::Gateway::subscribe`]; a status only
//! moves forward (queued → sent → delivered → read; failed ends it).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use wa_client::{Event, EventKind};
use wa_protocol::message::Content;
use wa_store::AccountId;

use super::view::status_word;

/// How many events are kept per session.
pub const PER_SESSION: usize = 100;

/// One event of a session's list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    /// When (unix ms).
    pub(crate) at: u64,
    /// `in` (a message received), `out` (a message sent) or `session` (a session change).
    pub(crate) kind: &'static str,
    /// The message id, for messages.
    pub(crate) message_id: Option<String>,
    /// The chat (messages): the sender's for `in`, the recipient's for `out`.
    pub(crate) chat: String,
    /// The text (a message's, or what happened to the session).
    pub(crate) text: String,
    /// The outgoing message's status (`queued`, `sent`, `delivered`, `read`, `failed`).
    pub(crate) status: Option<&'static str>,
}

/// The order statuses move in; `failed` is final.
fn rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        _ => 4,
    }
}

/// The recent events of every session.
#[derive(Debug, Default)]
pub struct Recent {
    by_session: Mutex<HashMap<AccountId, VecDeque<Entry>>>,
}

/// A short description of a message's content.
fn describe(content: &Content) -> String {
    match content {
        Content::Text(t) => t.text.clone(),
        Content::Reaction(r) => format!("reaction {}", r.emoji),
        Content::Edit(_) => "(edited a message)".to_owned(),
        Content::Revoke(_) => "(deleted a message)".to_owned(),
        Content::Location(_) => "(location)".to_owned(),
        Content::Contact(_) => "(contact card)".to_owned(),
        Content::Media(_) => "(media)".to_owned(),
        Content::Unsupported(_) => "(unsupported message)".to_owned(),
    }
}

/// What a session change means on the page, for the events that change it.
fn session_change(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::Connected { jid, .. } => format!("logged in as {jid}"),
        EventKind::Paired { jid, .. } => format!("linked as {jid}"),
        EventKind::PairError { code, text } => format!("pairing failed: {code} {text}"),
        EventKind::QrTimeout => "every QR code expired".to_owned(),
        EventKind::LoggedOut { reason } => format!("logged out ({reason:?})"),
        EventKind::Disconnected { reconnect_in, .. } => match reconnect_in {
            Some(d) => format!("disconnected; reconnecting in {} ms", d.as_millis()),
            None => "disconnected".to_owned(),
        },
        EventKind::ClientOutdated => "client version outdated".to_owned(),
        EventKind::TemporaryBan { code, .. } => format!("temporarily banned ({code})"),
        EventKind::StreamError { code } => format!("stream error {code:?}"),
        EventKind::Stopped => "stopped".to_owned(),
        _ => return None,
    })
}

/// A gateway event's entry in a session's list: a received message, an outgoing message's
/// new status (an entry known only by its id when the message was sent through another
/// route), or a session change; `None` for the rest.
pub(crate) fn entry_of(at: u64, kind: &EventKind) -> Option<Entry> {
    match kind {
        EventKind::Message(m) => {
            let from = m.sender.phone.as_ref().unwrap_or(&m.sender.device);
            Some(Entry {
                at,
                kind: "in",
                message_id: Some(m.id.as_str().to_owned()),
                chat: from.to_string(),
                text: describe(&m.content),
                status: None,
            })
        }
        EventKind::MessageStatus { id, status } => Some(Entry {
            at,
            kind: "out",
            message_id: Some(id.as_str().to_owned()),
            chat: String::new(),
            text: String::new(),
            status: Some(status_word(status)),
        }),
        other => session_change(other).map(|text| Entry {
            at,
            kind: "session",
            message_id: None,
            chat: String::new(),
            text,
            status: None,
        }),
    }
}

impl Recent {
    fn with<T>(&self, account: AccountId, f: impl FnOnce(&mut VecDeque<Entry>) -> T) -> T {
        let mut map = self.by_session.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(account).or_default())
    }

    fn push(list: &mut VecDeque<Entry>, entry: Entry) {
        if list.len() >= PER_SESSION {
            list.pop_front();
        }
        list.push_back(entry);
    }

    /// The session's recent events, oldest first.
    pub(crate) fn list(&self, account: AccountId) -> Vec<Entry> {
        self.with(account, |l| l.iter().cloned().collect())
    }

    /// Records an outgoing message (or fills in the one a status event added first) and
    /// returns its entry.
    pub(crate) fn outgoing(
        &self,
        account: AccountId,
        at: u64,
        id: &str,
        chat: &str,
        text: &str,
        status: &'static str,
    ) -> Entry {
        self.with(account, |list| {
            if let Some(e) = find(list, id) {
                e.chat = chat.to_owned();
                e.text = text.to_owned();
                if rank(status) > rank(e.status.unwrap_or("queued")) {
                    e.status = Some(status);
                }
                return e.clone();
            }
            let entry = Entry {
                at,
                kind: "out",
                message_id: Some(id.to_owned()),
                chat: chat.to_owned(),
                text: text.to_owned(),
                status: Some(status),
            };
            Self::push(list, entry.clone());
            entry
        })
    }

    /// Follows one gateway event.
    pub(crate) fn record(&self, event: &Event) {
        let Some(entry) = entry_of(event.at.0, &event.kind) else {
            return;
        };
        self.with(event.account, |list| {
            let known = match (&entry.message_id, entry.kind) {
                (Some(id), "out") => find(list, id),
                _ => None,
            };
            match known {
                Some(e) => {
                    let (old, new) = (
                        e.status.unwrap_or("queued"),
                        entry.status.unwrap_or("queued"),
                    );
                    if rank(new) > rank(old) {
                        e.status = entry.status;
                    }
                }
                None => Self::push(list, entry),
            }
        });
    }

    /// Forgets a deleted session.
    pub(crate) fn forget(&self, account: &AccountId) {
        let mut map = self.by_session.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(account);
    }

    /// Follows `events` until the gateway's bus closes (a lagging receiver skips what it
    /// missed).
    pub(crate) async fn follow(self: Arc<Self>, mut events: Receiver<Event>) {
        loop {
            match events.recv().await {
                Ok(event) => self.record(&event),
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "dashboard event list lagged");
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

fn find<'a>(list: &'a mut VecDeque<Entry>, id: &str) -> Option<&'a mut Entry> {
    list.iter_mut()
        .rev()
        .find(|e| e.message_id.as_deref() == Some(id))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use wa_protocol::time::Millis;
    use wa_protocol::MessageId;
    use wa_store::MessageStatus;

    fn status_event(account: AccountId, id: &str, status: MessageStatus) -> Event {
        Event {
            account,
            at: Millis(5),
            kind: EventKind::MessageStatus {
                id: id.parse::<MessageId>().unwrap(),
                status,
            },
        }
    }

    #[test]
    fn statuses_only_move_forward() {
        let recent = Recent::default();
        let a = AccountId::from_bytes([7; 16]);
        recent.outgoing(a, 1, "3EB0A1", "15550100001@s.whatsapp.net", "hi", "sent");
        recent.record(&status_event(a, "3EB0A1", MessageStatus::Read { t: 3 }));
        recent.record(&status_event(
            a,
            "3EB0A1",
            MessageStatus::Delivered { t: 2 },
        ));
        let list = recent.list(a);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, Some("read"));
        assert_eq!(list[0].text, "hi");
    }

    #[test]
    fn a_status_before_its_send_answer_is_kept_and_filled_in() {
        let recent = Recent::default();
        let a = AccountId::from_bytes([8; 16]);
        recent.record(&status_event(a, "X1", MessageStatus::Delivered { t: 2 }));
        let e = recent.outgoing(a, 1, "X1", "chat", "hello", "sent");
        assert_eq!(e.status, Some("delivered"));
        assert_eq!(e.text, "hello");
        assert_eq!(recent.list(a).len(), 1);
    }

    #[test]
    fn the_list_is_bounded() {
        let recent = Recent::default();
        let a = AccountId::from_bytes([9; 16]);
        for i in 0..(PER_SESSION + 5) {
            recent.outgoing(a, 0, &format!("M{i}"), "c", "t", "sent");
        }
        let list = recent.list(a);
        assert_eq!(list.len(), PER_SESSION);
        assert_eq!(list[0].message_id.as_deref(), Some("M5"));
    }
}
