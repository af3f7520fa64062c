//! Our presence and chat states (issue 10 item 2): `<presence type="available|unavailable"
//! name>` (`session-lifecycle.md` §3, §7: until `available`, delivery receipts are `inactive`)
//! and `<chatstate to><composing/>|<paused/></chatstate>` (see `stanza::ChatState`). Neither
//! is answered by the server; both are typed stanzas sent as they are.

use std::sync::Arc;

use wa_protocol::binary::{Jid, Server};
use wa_protocol::stanza::{ChatState, ChatStateKind, Presence};
use wa_store::Store;

use super::send::own_device;
use crate::error::Error;
use crate::handle::AccountHandle;

/// Sends our presence with the push name of the device record (empty: none).
pub(crate) async fn set_presence(
    handle: &AccountHandle,
    store: &Arc<dyn Store>,
    available: bool,
) -> Result<(), Error> {
    let device = own_device(handle, store).await?;
    let name = (!device.push_name.is_empty()).then_some(device.push_name);
    let node = Presence { name, available }.to_node();
    if handle.send(node) {
        Ok(())
    } else {
        Err(Error::NotRunning(*handle.id()))
    }
}

/// Shows `state` in chat `to` (a user or a group).
pub(crate) fn send_chat_state(
    handle: &AccountHandle,
    to: Jid,
    state: ChatStateKind,
) -> Result<(), Error> {
    let chat = matches!(to.server(), Server::WhatsApp | Server::Lid | Server::Group);
    if !chat || to.device_id() != 0 || to.user_part().is_empty() {
        return Err(Error::BadRecipient(to));
    }
    if handle.send(ChatState::to_chat(to, state).to_node()) {
        Ok(())
    } else {
        Err(Error::NotRunning(*handle.id()))
    }
}
