//! The handshake phase: the ServerHello, the certificate chain, and our ClientFinish carrying the
//! login or registration ClientPayload.

use prost::Message as _;
use rand_core::CryptoRngCore;

use super::state::{AwaitingServer, Connection, Handshake, Open, Stage, State};
use super::types::DisconnectCause;
use crate::binary::Limits;
use crate::error::Error;
use crate::payload::{login_payload, registration_payload, RegistrationKeys};
use crate::time::Millis;

impl<R: CryptoRngCore> Connection<R> {
    /// Reads the ServerHello once it is whole; on success the transport is up.
    pub(super) fn advance_handshake(&mut self, now: Millis) {
        let State::Handshake(hs) = &mut self.state else {
            return;
        };
        let frame = match hs.dial.server_hello() {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(e) => return self.protocol_error(e),
        };
        // The initiator is consumed here; whichever way it goes, the state is replaced below.
        let taken = core::mem::replace(&mut self.state, State::Closed(DisconnectCause::Transport));
        let State::Handshake(hs) = taken else {
            return;
        };
        match self.finish_handshake(*hs, &frame, now) {
            Ok(open) => self.state = State::Open(Box::new(open)),
            Err(cause) => self.enter_closed(cause),
        }
    }

    /// Verifies the server, sends the ClientFinish and builds the transport.
    fn finish_handshake(
        &mut self,
        hs: Handshake,
        server_hello: &[u8],
        now: Millis,
    ) -> Result<Open, DisconnectCause> {
        let payload = self.client_payload();
        let dialed = hs
            .dial
            .finish(
                server_hello,
                &self.config.trust,
                now.unix_secs(),
                &self.creds.noise_key,
                &payload,
                Limits::default(),
            )
            .map_err(|e| match e {
                Error::Handshake(e) => DisconnectCause::HandshakeFailed(e),
                other => DisconnectCause::Protocol(other),
            })?;
        self.transmits.push_back(dialed.finish);
        Ok(Open {
            transport: dialed.transport,
            stage: Stage::AwaitingServer(AwaitingServer {
                // The server's first stanza must arrive within the same handshake budget.
                deadline: Some(now.after(self.config.handshake_timeout_ms)),
                pair_code: None,
            }),
        })
    }

    /// The login payload of a linked device, the registration payload otherwise.
    fn client_payload(&self) -> Vec<u8> {
        match &self.creds.device {
            Some(device) => {
                let username = device.jid.user_part().parse::<u64>().unwrap_or(0);
                let dev = u8::try_from(device.jid.device_id()).unwrap_or(0);
                login_payload(&self.config.identity, username, dev)
            }
            None => registration_payload(&self.config.identity, &self.registration_keys()),
        }
        .encode_to_vec()
    }

    fn registration_keys(&self) -> RegistrationKeys {
        RegistrationKeys {
            registration_id: self.creds.registration_id,
            identity_key: self.creds.identity.public,
            signed_prekey_id: self.creds.signed_prekey_id,
            signed_prekey: self.creds.signed_prekey.public,
            signed_prekey_signature: self.creds.signed_prekey_signature,
        }
    }
}
