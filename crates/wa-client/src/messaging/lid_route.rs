//! The namespace of a 1:1 send (`messaging.md` §16, issue 10 item 1): an account that is
//! LID-migrated (pair-success `<client-props>`, `login-pairing.md` §4.4; kept in the device
//! record) addresses DMs by LID: a send given a phone number goes to that user's LID (from the
//! PN ↔ LID map, else a usync that names it), so the outer `to`, every `<to jid>` (the peer's
//! devices and our own other devices, `send::own_jid`) and the DeviceSentMessage destination
//! are all in the LID namespace, one namespace per stanza. An account that is not migrated
//! keeps the address it is given (a phone number stays in the PN namespace). A migrated
//! account's LID-addressed DM names the peer's number in `peer_recipient_pn` (whatsmeow, §0,
//! §7), from the same map.
//!
//! ```text
//!  send(to) ─▶ migrated? ─no─▶ to
//!               └─yes, to is a PN ─▶ store lid_for_pn ─miss─▶ usync <lid/> ─▶ LID user
//!                                                              └─ none ─▶ Error::NoLid
//! ```

use std::sync::Arc;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::time::Millis;
use wa_store::{DeviceIdentity, Store};

use super::address::addresses_by_lid;
use super::directory::lid_of_user;
use crate::error::Error;
use crate::handle::AccountHandle;

/// The chat a 1:1 send to `to` is addressed to (module doc).
pub(crate) async fn chat_for(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    device: &DeviceIdentity,
    to: Jid,
    now: Millis,
) -> Result<Jid, Error> {
    if !addresses_by_lid(device) || *to.server() != Server::WhatsApp {
        return Ok(to);
    }
    match lid_of_user(handle, store, &to, now.0).await? {
        Some(lid) => Ok(lid),
        None => Err(Error::NoLid(to)),
    }
}
