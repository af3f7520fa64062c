//! What the server sends besides login: IQ requests (ping, pair-device, pair-success), answers to
//! our IQs (dispatched by purpose to their phase), notifications (each acknowledged) and `<ib>`
//! bulletins.

use rand_core::CryptoRngCore;

use super::iq::IqPurpose;
use super::state::Connection;
use super::types::Event;
use crate::binary::Node;
use crate::stanza::{Ib, IqFailure, IqResponse, NotificationAck, OfflineBatch, ServerPing};
use crate::time::Millis;

impl<R: CryptoRngCore> Connection<R> {
    /// An `<iq>`: the answer to one of ours, or a request from the server.
    pub(super) fn handle_iq(&mut self, node: Node, now: Millis) {
        let kind = node.attr_str("type").unwrap_or_default();
        if kind == "result" || kind == "error" {
            let id = node.attr_str("id").unwrap_or_default().to_owned();
            let Some(purpose) = self.iqs.take(&id) else {
                // An answer to nothing we asked: hand it to the application.
                self.events.push_back(Event::Stanza(node));
                return;
            };
            match IqResponse::parse(&node) {
                Ok(IqResponse::Result(result)) => self.iq_succeeded(result, purpose, now),
                Ok(IqResponse::Error { code, text }) => {
                    self.iq_failed(&id, purpose, Some((code, text)))
                }
                Err(e) => self.protocol_error(e),
            }
            return;
        }
        // A request from the server.
        if let Ok(ping) = ServerPing::from_node(&node) {
            self.send_node(&ping.reply());
        } else if node.child("pair-device").is_some() {
            self.handle_pair_device(&node, now);
        } else if node.child("pair-success").is_some() {
            let id = node.attr_str("id").unwrap_or_default().to_owned();
            self.handle_pair_success(&node, &id);
        } else {
            self.events.push_back(Event::Stanza(node));
        }
    }

    /// One of our IQs was answered with a result.
    fn iq_succeeded(&mut self, result: Node, purpose: IqPurpose, now: Millis) {
        match purpose {
            IqPurpose::External(token) => self.events.push_back(Event::IqResponse {
                token,
                response: Some(IqResponse::Result(result)),
            }),
            IqPurpose::Ping => self.ping_answered(),
            IqPurpose::PreKeyCount => self.prekey_count_received(&result, now),
            IqPurpose::PreKeyUpload(ids) => self.prekeys_uploaded(ids, now),
            IqPurpose::Active => self.post_login_step(now, |l| l.active_done = true),
            IqPurpose::Logout => self.logged_out_by_us(),
            IqPurpose::PairCodeHello => self.pair_code_hello_answered(&result),
            IqPurpose::Background => {}
        }
    }

    /// One of our IQs was refused (`error`) or timed out (`None`).
    pub(super) fn iq_failed(&mut self, id: &str, purpose: IqPurpose, error: Option<(u16, String)>) {
        match purpose {
            IqPurpose::External(token) => self.events.push_back(Event::IqResponse {
                token,
                response: error.map(|(code, text)| IqResponse::Error { code, text }),
            }),
            IqPurpose::Ping => self.ping_failed(),
            // Unlink locally even if the server did not confirm (wm/bl behave the same).
            IqPurpose::Logout => self.logged_out_by_us(),
            IqPurpose::PairCodeHello => self.pair_code_hello_failed(error),
            IqPurpose::PreKeyCount | IqPurpose::PreKeyUpload(_) | IqPurpose::Active => {
                let id = id.to_owned();
                let failure = match error {
                    Some((code, text)) => IqFailure::Refused { id, code, text },
                    None => IqFailure::TimedOut { id },
                };
                self.protocol_error(failure);
            }
            IqPurpose::Background => {}
        }
    }

    /// An `<ib>` bulletin.
    pub(super) fn handle_ib(&mut self, node: Node) {
        match Ib::from_node(&node) {
            Ok(Ib::Offline { count }) => {
                self.events.push_back(Event::OfflineSyncCompleted { count })
            }
            Ok(Ib::OfflinePreview) => self.send_node(&OfflineBatch::default().to_node()),
            Ok(Ib::EdgeRouting(routing)) => self.events.push_back(Event::EdgeRouting(routing)),
            Err(_) => self.events.push_back(Event::Stanza(node)),
        }
    }

    /// A `<notification>`: acknowledged, then handled (pair code, low prekeys) or handed on.
    pub(super) fn handle_notification(&mut self, node: Node, now: Millis) {
        // Acknowledge every notification (session-lifecycle.md §7.1).
        self.send_node(&NotificationAck::for_notification(&node).to_node());
        match node.attr_str("type") {
            Some("link_code_companion_reg") => self.handle_primary_hello(node, now),
            Some("encrypt") if self.low_prekeys_notified(&node) => {}
            _ => self.events.push_back(Event::Stanza(node)),
        }
    }
}
