//! A simulated phone sends to a group: [`phone_group::encrypt`] builds the `<message>` (SKDM
//! pairwise where needed, one `skmsg`, `phash`; `messaging.md` §9) and the router fans it out
//! as a companion's group send would be ([`messages::route_group`]).

use wa_protocol::binary::Jid;
use wa_protocol::{MessageId, PhoneNumber};

use crate::error::SimError;
use crate::phone_group;
use crate::phone_outgoing::Outgoing;
use crate::phone_state::SentText;
use crate::roles::messages;
use crate::state::Shared;

/// The phone of `phone` sends `content` to the group `group`; returns the message id.
pub(crate) fn send(
    shared: &Shared,
    phone: &PhoneNumber,
    group: &Jid,
    content: &Outgoing,
) -> Result<MessageId, SimError> {
    let t = shared.now_secs();
    let mut rng = shared.fork_rng();
    let id = MessageId::generate(t, Some(phone.as_str()), &mut rng);
    let msg =
        shared.with_world(|w| phone_group::encrypt(w, phone, group, id, content, &mut rng))?;
    // Kept before it is routed, for retry receipts (`messaging.md` §11).
    shared.with_world(|w| {
        if let Ok(account) = w.account_mut(phone) {
            account.phone_state.remember_sent(SentText {
                id: msg.id.as_str().to_owned(),
                chat: group.clone(),
                content: content.clone(),
            });
        }
    });
    messages::route_group(shared, &(phone.clone(), 0), &msg, t).map_err(SimError::Refused)?;
    shared.count("phone:group-sent");
    Ok(msg.id)
}
