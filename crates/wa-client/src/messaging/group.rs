//! Group management over the `w:g2` IQs (`messaging.md` §9 step 1; the request shapes are
//! `wa_protocol::stanza::group`'s): create, metadata, participant changes, subject, leave,
//! invite link, the joined-groups list. Sending to a group is `group_send.rs`, receiving
//! `group_recv.rs`.

use rand::RngCore;
use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::stanza::{
    CreateGroup, GroupDone, GroupInfo, GroupParticipant, GroupQuery, GroupResult, InviteCode,
    InviteCodeResult, IqRequest, IqResponse, LeaveGroup, ParticipantAction, ParticipantsResult,
    ParticipatingGroups, ParticipatingResult, SetSubject, UpdateParticipants, MAX_SUBJECT_LEN,
};
use wa_protocol::time::Millis;

use crate::error::Error;
use crate::handle::AccountHandle;

/// Sends a `w:g2` IQ; the result node, a refusal as [`Error::IqRefused`] (`what` names the
/// query), no answer as [`Error::Timeout`].
pub(crate) async fn group_iq(
    handle: &AccountHandle,
    request: IqRequest,
    what: &'static str,
) -> Result<Node, Error> {
    match handle.iq(request).await {
        Some(IqResponse::Result(node)) => Ok(node),
        Some(IqResponse::Error { code, .. }) => Err(Error::IqRefused { what, code }),
        None => Err(Error::Timeout(what)),
    }
}

/// A group JID (`…@g.us`) or [`Error::BadRecipient`].
pub(crate) fn check_group(group: &Jid) -> Result<(), Error> {
    if group.is_group() && !group.user_part().is_empty() {
        Ok(())
    } else {
        Err(Error::BadRecipient(group.clone()))
    }
}

/// User JIDs (PN or LID, device part dropped), at least one unless `allow_empty`.
fn check_users(users: Vec<Jid>, allow_empty: bool) -> Result<Vec<Jid>, Error> {
    if users.is_empty() && !allow_empty {
        return Err(Error::BadRecipient(Jid::server_jid(Server::Group)));
    }
    users
        .into_iter()
        .map(|u| match u.server() {
            Server::WhatsApp | Server::Lid if !u.user_part().is_empty() => Ok(u.to_non_ad()),
            _ => Err(Error::BadRecipient(u)),
        })
        .collect()
}

fn check_subject(subject: &str) -> Result<(), Error> {
    if subject.trim().is_empty() || subject.len() > MAX_SUBJECT_LEN {
        return Err(Error::BadSubject(subject.chars().take(32).collect()));
    }
    Ok(())
}

/// Creates a group with `subject` and `participants` (besides us); its metadata.
pub(crate) async fn create_group(
    handle: &AccountHandle,
    subject: String,
    participants: Vec<Jid>,
) -> Result<GroupInfo, Error> {
    check_subject(&subject)?;
    let participants = check_users(participants, true)?;
    let request = CreateGroup {
        subject,
        key: format!("{:016X}", rand::rngs::OsRng.next_u64()),
        participants,
    }
    .request();
    let node = group_iq(handle, request, "group create").await?;
    Ok(GroupResult::from_node(&node)
        .map_err(wa_protocol::Error::from)?
        .group)
}

/// The metadata of `group` from the account's cache (unless expired at `now`), else by
/// [`group_info`] (then cached).
pub(crate) async fn cached_group_info(
    handle: &AccountHandle,
    group: &Jid,
    now: Millis,
) -> Result<std::sync::Arc<GroupInfo>, Error> {
    let generation = match handle.cache().group(group, now) {
        Ok(info) => return Ok(info),
        Err(generation) => generation,
    };
    let info = std::sync::Arc::new(group_info(handle, group).await?);
    let cached = std::sync::Arc::clone(&info);
    handle
        .cache()
        .set_group(group.clone(), cached, generation, now);
    Ok(info)
}

/// The metadata of `group` (`<query request="interactive"/>`, §9 step 1).
pub(crate) async fn group_info(handle: &AccountHandle, group: &Jid) -> Result<GroupInfo, Error> {
    check_group(group)?;
    let request = GroupQuery {
        group: group.clone(),
    }
    .request();
    let node = group_iq(handle, request, "group metadata").await?;
    Ok(GroupResult::from_node(&node)
        .map_err(wa_protocol::Error::from)?
        .group)
}

/// Adds, removes, promotes or demotes `participants`; each with its result code.
pub(crate) async fn update_participants(
    handle: &AccountHandle,
    group: &Jid,
    action: ParticipantAction,
    participants: Vec<Jid>,
) -> Result<Vec<GroupParticipant>, Error> {
    check_group(group)?;
    let participants = check_users(participants, false)?;
    let request = UpdateParticipants {
        group: group.clone(),
        action,
        participants,
    }
    .request();
    let node = group_iq(handle, request, "group participants").await;
    // Whatever the answer, the group may have changed: the next send asks again.
    handle.cache().forget_group(group);
    let node = node?;
    Ok(ParticipantsResult::from_node(&node, action)
        .map_err(wa_protocol::Error::from)?
        .participants)
}

/// Sets the subject of `group`.
pub(crate) async fn set_subject(
    handle: &AccountHandle,
    group: &Jid,
    subject: String,
) -> Result<(), Error> {
    check_group(group)?;
    check_subject(&subject)?;
    let request = SetSubject {
        group: group.clone(),
        subject,
    }
    .request();
    let node = group_iq(handle, request, "group subject").await;
    // Whatever the answer, the group may have changed: the next send asks again.
    handle.cache().forget_group(group);
    let node = node?;
    GroupDone::from_node(&node).map_err(wa_protocol::Error::from)?;
    Ok(())
}

/// Leaves `group`.
pub(crate) async fn leave_group(handle: &AccountHandle, group: &Jid) -> Result<(), Error> {
    check_group(group)?;
    let request = LeaveGroup {
        groups: vec![group.clone()],
    }
    .request();
    let node = group_iq(handle, request, "group leave").await;
    // Whatever the answer, the group may have changed: the next send asks again.
    handle.cache().forget_group(group);
    let node = node?;
    GroupDone::from_node(&node).map_err(wa_protocol::Error::from)?;
    Ok(())
}

/// The invite link of `group` (`reset`: revoke the current one first).
pub(crate) async fn invite_link(
    handle: &AccountHandle,
    group: &Jid,
    reset: bool,
) -> Result<String, Error> {
    check_group(group)?;
    let request = InviteCode {
        group: group.clone(),
        reset,
    }
    .request();
    let node = group_iq(handle, request, "group invite").await?;
    Ok(InviteCodeResult::from_node(&node)
        .map_err(wa_protocol::Error::from)?
        .link())
}

/// Every group the account is in.
pub(crate) async fn groups(handle: &AccountHandle) -> Result<Vec<GroupInfo>, Error> {
    let node = group_iq(handle, ParticipatingGroups.request(), "group list").await?;
    Ok(ParticipatingResult::from_node(&node)
        .map_err(wa_protocol::Error::from)?
        .groups)
}
