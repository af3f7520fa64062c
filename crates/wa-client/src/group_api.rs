//! The group methods of [`Gateway`] (issue 10 item 5): thin calls into `messaging::group` on
//! the account's running session. Sending to a group is [`Gateway::send`] with a `…@g.us` JID.

use wa_protocol::binary::Jid;
use wa_protocol::stanza::{GroupInfo, GroupParticipant, ParticipantAction};
use wa_store::AccountId;

use crate::error::Error;
use crate::gateway::Gateway;
use crate::handle::AccountHandle;
use crate::messaging::group;

impl Gateway {
    /// The account's session, which must be logged in: a query sent before (while linking)
    /// would only be refused by the server.
    pub(crate) fn logged_in(&self, id: &AccountId) -> Result<AccountHandle, Error> {
        let handle = self.handle(id).ok_or(Error::NotRunning(*id))?;
        if handle.status().logged_in {
            Ok(handle)
        } else {
            Err(Error::NotLoggedIn(*id))
        }
    }

    /// Creates a group with `subject` and `participants` (user JIDs; we are added as its
    /// creator); its metadata.
    pub async fn create_group(
        &self,
        id: &AccountId,
        subject: impl Into<String>,
        participants: Vec<Jid>,
    ) -> Result<GroupInfo, Error> {
        let handle = self.logged_in(id)?;
        group::create_group(&handle, subject.into(), participants).await
    }

    /// The metadata of `group`: subject, creator, creation time, participants with their roles,
    /// addressing mode.
    pub async fn group_info(&self, id: &AccountId, group: &Jid) -> Result<GroupInfo, Error> {
        let handle = self.logged_in(id)?;
        group::group_info(&handle, group).await
    }

    /// Adds, removes, promotes or demotes `participants`; each comes back with its result code
    /// (`error`: `None` when done). Our sender key is rotated at the next send after a member
    /// left.
    pub async fn update_participants(
        &self,
        id: &AccountId,
        group: &Jid,
        action: ParticipantAction,
        participants: Vec<Jid>,
    ) -> Result<Vec<GroupParticipant>, Error> {
        let handle = self.logged_in(id)?;
        group::update_participants(&handle, group, action, participants).await
    }

    /// Sets the subject of `group`.
    pub async fn set_group_subject(
        &self,
        id: &AccountId,
        group: &Jid,
        subject: impl Into<String>,
    ) -> Result<(), Error> {
        let handle = self.logged_in(id)?;
        group::set_subject(&handle, group, subject.into()).await
    }

    /// Leaves `group`.
    pub async fn leave_group(&self, id: &AccountId, group: &Jid) -> Result<(), Error> {
        let handle = self.logged_in(id)?;
        group::leave_group(&handle, group).await
    }

    /// The invite link of `group` (`https://chat.whatsapp.com/<code>`); `reset` revokes the
    /// current one and returns a new one.
    pub async fn group_invite_link(
        &self,
        id: &AccountId,
        group: &Jid,
        reset: bool,
    ) -> Result<String, Error> {
        let handle = self.logged_in(id)?;
        group::invite_link(&handle, group, reset).await
    }

    /// Every group the account is in.
    pub async fn groups(&self, id: &AccountId) -> Result<Vec<GroupInfo>, Error> {
        let handle = self.logged_in(id)?;
        group::groups(&handle).await
    }
}
