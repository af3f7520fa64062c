//! The account task's small translations of protocol facts: our decryption keys from the
//! connection's credentials, and the protocol events that leave as they are.

use std::time::Duration;

use wa_protocol::connection::{Credentials, Event as ProtocolEvent};
use wa_protocol::signal::keys::{LocalIdentity, SignedPreKey};

use crate::event::EventKind;
use crate::messaging::keys::Keys;

/// Our keys for decrypting, from the connection's credentials.
pub(crate) fn receive_keys(creds: &Credentials) -> Keys {
    let device = creds.device.as_ref();
    Keys {
        local: LocalIdentity {
            key_pair: creds.identity.clone(),
            registration_id: creds.registration_id,
        },
        signed: SignedPreKey {
            id: creds.signed_prekey_id,
            key_pair: creds.signed_prekey.clone(),
            signature: creds.signed_prekey_signature,
            created_at_ms: 0,
        },
        own_pn: device.map(|d| d.jid.clone()),
        own_lid: device.and_then(|d| d.lid.clone()),
    }
}

/// The protocol events that leave as they are (the others carry state, or stay inside).
pub(crate) fn translate(event: ProtocolEvent) -> Option<EventKind> {
    Some(match event {
        ProtocolEvent::Qr { code, expires_at } => EventKind::Qr { code, expires_at },
        ProtocolEvent::QrTimeout => EventKind::QrTimeout,
        ProtocolEvent::PairCode { code } => EventKind::PairCode { code },
        ProtocolEvent::PairError { code, text } => EventKind::PairError { code, text },
        ProtocolEvent::KeepAliveTimeout { failures } => EventKind::KeepAliveTimeout { failures },
        ProtocolEvent::KeepAliveRestored => EventKind::KeepAliveRestored,
        ProtocolEvent::Stanza(node) => EventKind::Stanza(node),
        ProtocolEvent::StreamError { code } => EventKind::StreamError { code },
        ProtocolEvent::ClientOutdated => EventKind::ClientOutdated,
        ProtocolEvent::TemporaryBan { code, expire_secs } => EventKind::TemporaryBan {
            code,
            expires_in: Duration::from_secs(expire_secs),
        },
        // Handled by the driver, or of no interest outside (edge routing, offline sync count).
        _ => return None,
    })
}
