//! The group description ("topic") on [`Gateway`]: the `w:g2` set of
//! `wa_protocol::stanza::group_topic`. As whatsmeow's `SetGroupTopic` does, the current
//! description's id is read from the group's metadata first and named as `prev`, and the new
//! description gets a fresh message id.

use wa_protocol::binary::Jid;
use wa_protocol::ids::MessageId;
use wa_protocol::stanza::{GroupDone, SetDescription, MAX_TOPIC_LEN};
use wa_store::AccountId;

use crate::error::Error;
use crate::gateway::Gateway;
use crate::messaging::group;

impl Gateway {
    /// Sets the description of `group` to `topic`; an empty `topic` deletes it. Members are told
    /// by the server (`w:gp2`), and the group's metadata ([`Gateway::group_info`]) then carries
    /// it as `GroupInfo::topic`.
    pub async fn set_group_topic(
        &self,
        id: &AccountId,
        group: &Jid,
        topic: impl Into<String>,
    ) -> Result<(), Error> {
        let text = topic.into();
        if text.len() > MAX_TOPIC_LEN {
            return Err(Error::BadTopic(text.len()));
        }
        let handle = self.logged_in(id)?;
        group::check_group(group)?;
        let current = group::group_info(&handle, group).await?;
        let own = handle.status().jid;
        let new_id = MessageId::generate(
            self.now().unix_secs(),
            own.as_ref().map(Jid::user_part),
            &mut rand::rngs::OsRng,
        );
        let request = SetDescription {
            group: group.clone(),
            id: new_id.as_str().to_owned(),
            prev: current.topic.map(|t| t.id),
            text,
        }
        .request();
        let node = group::group_iq(&handle, request, "group description").await;
        // Whatever the answer, the group may have changed: the next send asks again.
        handle.cache().forget_group(group);
        GroupDone::from_node(&node?).map_err(wa_protocol::Error::from)?;
        Ok(())
    }
}
