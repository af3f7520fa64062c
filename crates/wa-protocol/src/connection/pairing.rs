//! Pairing a new companion: the QR refs of pair-device shown in turn (60 s, then 20 s each),
//! pair-success verified and answered, and phone-number linking with a pair code
//! (`login-pairing.md` §4, §5).

use std::collections::VecDeque;

use rand_core::CryptoRngCore;

use super::iq::IqPurpose;
use super::state::{Connection, KeepAlive, PairCodeFlow, QrRotation, Stage, Unpaired};
use super::types::{DisconnectCause, Event, LinkedDevice};
use crate::binary::Node;
use crate::ids::PhoneNumber;
use crate::pairing::stanza::{
    CompanionFinish, CompanionHello, CompanionHelloResult, PairDevice, PairDeviceSign,
    PairErrorReply, PairSuccess, PrimaryHello,
};
use crate::pairing::{verify_pair_success, PairCode, PairCodeRequest};
use crate::stanza::iq_result;
use crate::time::Millis;

impl<R: CryptoRngCore> Connection<R> {
    /// pair-device: acknowledge, enter (or stay in) `Unpaired` and show the first ref.
    pub(super) fn handle_pair_device(&mut self, node: &Node, now: Millis) {
        let pair_device = match PairDevice::from_node(node) {
            Ok(p) => p,
            Err(e) => return self.protocol_error(e),
        };
        self.send_node(&iq_result(&pair_device.id, vec![]));
        let qr = QrRotation {
            refs: VecDeque::from(pair_device.refs),
            rotate_at: None,
        };
        let interval = match self.state.stage_mut() {
            Some(Stage::AwaitingServer(_)) => self.ping_interval(),
            _ => 0,
        };
        let Some(stage) = self.state.stage_mut() else {
            return;
        };
        let unpaired = match stage {
            Stage::AwaitingServer(a) => Unpaired {
                qr,
                keepalive: KeepAlive {
                    next_ping: now.after(interval),
                    failures: 0,
                },
                pair_code: a.pair_code.take(),
            },
            Stage::Unpaired(u) => Unpaired {
                qr,
                keepalive: KeepAlive { ..u.keepalive },
                pair_code: u.pair_code.take(),
            },
            Stage::LoggedIn(_) => return,
        };
        *stage = Stage::Unpaired(unpaired);
        self.show_next_qr(now);
    }

    /// Shows the front ref, or times out when none is left.
    fn show_next_qr(&mut self, now: Millis) {
        let Some(Stage::Unpaired(u)) = self.state.stage_mut() else {
            return;
        };
        let Some(reference) = u.qr.refs.front().cloned() else {
            u.qr.rotate_at = None;
            self.events.push_back(Event::QrTimeout);
            self.close(DisconnectCause::QrTimeout);
            return;
        };
        let ttl = if u.qr.rotate_at.is_none() {
            self.config.qr_first_ms
        } else {
            self.config.qr_next_ms
        };
        let expires_at = now.after(ttl);
        u.qr.rotate_at = Some(expires_at);
        let code = crate::pairing::qr_string(
            &reference,
            &self.creds.noise_key.public,
            &self.creds.identity.public,
            &self.creds.adv_secret,
            self.config.qr_client_type,
        );
        self.events.push_back(Event::Qr { code, expires_at });
    }

    /// Drops the shown ref when it expired and shows the next.
    pub(super) fn rotate_qr_if_due(&mut self, now: Millis) {
        let Some(Stage::Unpaired(u)) = self.state.stage_mut() else {
            return;
        };
        if u.qr.rotate_at.is_some_and(|t| now >= t) {
            u.qr.refs.pop_front();
            self.show_next_qr(now);
        }
    }

    /// pair-success: verify the phone's signature and HMAC, persist (event), then reply.
    pub(super) fn handle_pair_success(&mut self, node: &Node, id: &str) {
        let verified = PairSuccess::from_node(node).and_then(|parsed| {
            verify_pair_success(
                &parsed.device_identity,
                &self.creds.adv_secret,
                &self.creds.identity,
                &mut self.rng,
            )
            .map(|paired| (parsed, paired))
        });
        match verified {
            Ok((parsed, paired)) => {
                let lid_migrated = parsed
                    .client_props
                    .as_ref()
                    .is_some_and(|p| p.chat_db_lid_migrated);
                let device = LinkedDevice {
                    lid_migrated,
                    jid: parsed.device,
                    lid: parsed.lid,
                    platform: parsed.platform,
                    business_name: parsed.business_name,
                    account: paired.account_bytes(),
                    key_index: paired.key_index,
                };
                self.creds.device = Some(device.clone());
                // Persist (event) before the reply goes out (transmit).
                self.events.push_back(Event::PairSuccess(device));
                let reply = PairDeviceSign {
                    id: id.to_owned(),
                    key_index: paired.key_index,
                    device_identity: paired.reply,
                };
                self.send_node(&reply.to_node());
            }
            Err(e) => {
                let reply = PairErrorReply::new(id, &e);
                self.send_node(&reply.to_node());
                self.events.push_back(Event::PairError {
                    code: reply.code,
                    text: reply.text,
                });
                self.close(DisconnectCause::PairFailed);
            }
        }
    }

    /// `Command::PairPhone`: send the companion_hello of phone-number linking.
    pub(super) fn pair_phone(&mut self, phone: &PhoneNumber, show_push: bool, now: Millis) {
        let registering = self.creds.device.is_none()
            && matches!(
                self.state.stage(),
                Some(Stage::AwaitingServer(_) | Stage::Unpaired(_))
            );
        if !registering {
            self.events.push_back(Event::PairError {
                code: 400,
                text: "not a registration connection".to_owned(),
            });
            return;
        }
        let request = PairCodeRequest::new(PairCode::generate(&mut self.rng), &mut self.rng);
        let phone = phone.to_jid();
        let id = self.iqs.register(
            IqPurpose::PairCodeHello,
            now.after(self.config.iq_timeout_ms),
        );
        let hello = CompanionHello {
            id,
            phone: phone.clone(),
            should_show_push_notification: show_push,
            wrapped_ephemeral: *request.wrapped_ephemeral(),
            noise_pub: self.creds.noise_key.public,
            platform_id: self.config.qr_client_type.to_string(),
            platform_display: self.config.platform_display.clone(),
        };
        if let Some(slot) = self.state.pair_code_mut() {
            *slot = Some(PairCodeFlow { request, phone });
        }
        self.send_node(&hello.to_node());
    }

    /// The server's answer to companion_hello: the linking ref; the code can be shown.
    pub(super) fn pair_code_hello_answered(&mut self, result: &Node) {
        let parsed = match CompanionHelloResult::from_node(result) {
            Ok(parsed) => parsed,
            Err(e) => return self.protocol_error(e),
        };
        let Some(Some(flow)) = self.state.pair_code_mut() else {
            return;
        };
        flow.request.set_ref(parsed.pairing_ref);
        let code = flow.request.code().to_string();
        self.events.push_back(Event::PairCode { code });
    }

    /// companion_hello refused or unanswered.
    pub(super) fn pair_code_hello_failed(&mut self, error: Option<(u16, String)>) {
        let (code, text) = error.unwrap_or((408, "timeout".to_owned()));
        if let Some(slot) = self.state.pair_code_mut() {
            *slot = None;
        }
        self.events.push_back(Event::PairError { code, text });
    }

    /// The primary's hello (`link_code_companion_reg` notification): finish the key exchange.
    pub(super) fn handle_primary_hello(&mut self, node: Node, now: Millis) {
        let Ok(hello) = PrimaryHello::from_node(&node) else {
            self.events.push_back(Event::Stanza(node));
            return;
        };
        let Some(slot) = self.state.pair_code_mut() else {
            return;
        };
        let Some(flow) = slot.take_if(|flow| flow.request.matches_ref(&hello.pairing_ref)) else {
            // None under way, or not ours (wm and wr ignore it too): keep waiting.
            return;
        };
        let finish = match flow.request.primary_hello(
            &hello.pairing_ref,
            &hello.wrapped_ephemeral,
            &hello.primary_identity,
            &self.creds.identity,
            &mut self.rng,
        ) {
            Ok(finish) => finish,
            Err(e) => {
                let (code, text) = e.wire_code();
                self.events.push_back(Event::PairError {
                    code,
                    text: text.to_owned(),
                });
                return;
            }
        };
        // The derived secret replaces the QR one for this pairing (login-pairing.md §5.5).
        self.creds.adv_secret = *finish.adv_secret();
        let id = self
            .iqs
            .register(IqPurpose::Background, now.after(self.config.iq_timeout_ms));
        let node = CompanionFinish {
            id,
            phone: flow.phone,
            wrapped_bundle: *finish.wrapped_bundle(),
            companion_identity: self.creds.identity.public,
            pairing_ref: finish.pairing_ref().to_vec(),
        }
        .to_node();
        self.send_node(&node);
    }
}
