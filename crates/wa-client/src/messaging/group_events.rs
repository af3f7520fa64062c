//! `w:gp2` notifications (`wa_protocol::stanza::group_notify`) as application events, and the
//! group-metadata cache they invalidate. The connection has already acknowledged the
//! notification (session-lifecycle.md §7.1); this only reads it. Each member and author is
//! then completed from the store's PN ↔ LID map ([`complete_members`], a pipeline job), so
//! an event names both the phone number and the LID whenever either is known (issue 10 item
//! 1; `messaging.md` §16).

use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::stanza::{
    GroupChange, GroupNotification, GroupParticipant, Notification, NotificationBody,
    ParticipantAction,
};

use wa_protocol::PhoneNumber;
use wa_store::{AccountId, Store};

use super::address::user_of;
use super::types::{GroupMember, GroupUpdate};
use crate::event::EventKind;

/// Completes the members and author of each [`EventKind::GroupChanged`] from the store's
/// PN ↔ LID map: a member named by only one of its addresses gets the other when the map has
/// it (a lookup that fails leaves the member as the notification gave it).
pub(crate) fn complete_members(
    store: &dyn Store,
    account: AccountId,
    mut events: Vec<EventKind>,
) -> Vec<EventKind> {
    for event in &mut events {
        let EventKind::GroupChanged { change, by, .. } = event else {
            continue;
        };
        if let Some(by) = by {
            complete(store, account, by);
        }
        if let GroupUpdate::Added(members)
        | GroupUpdate::Removed(members)
        | GroupUpdate::Promoted(members)
        | GroupUpdate::Demoted(members) = change
        {
            members.iter_mut().for_each(|m| complete(store, account, m));
        }
    }
    events
}

/// Fills the missing one of `member`'s phone number and LID from the map.
fn complete(store: &dyn Store, account: AccountId, member: &mut GroupMember) {
    let found = match (&member.phone, &member.lid) {
        (Some(_), Some(_)) | (None, None) => return,
        (Some(phone), None) => match PhoneNumber::from_jid(phone) {
            Some(pn) => store.lid_for_pn(&account, &pn),
            None => return,
        },
        (None, Some(lid)) => store.pn_for_lid(&account, lid),
    };
    match found {
        Ok(Some(mapping)) => {
            member.phone.get_or_insert_with(|| mapping.pn.to_jid());
            member.lid.get_or_insert_with(|| user_of(&mapping.lid));
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(account = %account, %error, "no PN-LID lookup for a member"),
    }
}

/// The group a `w:gp2` notification concerns and one [`EventKind::GroupChanged`] per change it
/// models (none for a create or invite change); `None` for any other stanza.
pub(crate) fn group_changes(node: &Node) -> Option<(Jid, Vec<EventKind>)> {
    if node.tag != "notification" || node.attr_str("type") != Some("w:gp2") {
        return None;
    }
    let notification = match Notification::from_node(node) {
        Ok(n) => n,
        Err(error) => {
            tracing::warn!(%error, "a malformed group notification");
            return None;
        }
    };
    let group = notification.from.clone();
    let NotificationBody::Group(body) = notification.body else {
        return Some((group, Vec::new()));
    };
    let by = author(&body);
    let events = body
        .changes
        .into_iter()
        .filter_map(update_of)
        .map(|change| EventKind::GroupChanged {
            group: group.clone(),
            change,
            by: by.clone(),
        })
        .collect();
    Some((group, events))
}

/// Who made the change, when the notification says.
fn author(body: &GroupNotification) -> Option<GroupMember> {
    let jid = user_of(body.author.as_ref()?);
    let pn = body.author_pn.as_ref().map(user_of);
    Some(member(jid, None, pn))
}

fn member(jid: Jid, lid: Option<Jid>, phone: Option<Jid>) -> GroupMember {
    let (phone, lid) = match jid.server() {
        Server::Lid => (phone.map(|p| user_of(&p)), Some(jid.clone())),
        _ => (Some(jid.clone()), lid.map(|l| user_of(&l))),
    };
    GroupMember { jid, phone, lid }
}

fn members(participants: Vec<GroupParticipant>) -> Vec<GroupMember> {
    participants
        .into_iter()
        .map(|p| member(user_of(&p.jid), p.lid, p.phone_number))
        .collect()
}

fn update_of(change: GroupChange) -> Option<GroupUpdate> {
    Some(match change {
        GroupChange::Participants {
            action,
            participants,
            ..
        } => {
            let members = members(participants);
            match action {
                ParticipantAction::Add => GroupUpdate::Added(members),
                ParticipantAction::Remove => GroupUpdate::Removed(members),
                ParticipantAction::Promote => GroupUpdate::Promoted(members),
                ParticipantAction::Demote => GroupUpdate::Demoted(members),
            }
        }
        GroupChange::Subject { subject, .. } => GroupUpdate::Subject(subject),
        GroupChange::Description(d) => GroupUpdate::Topic {
            id: d.id,
            text: d.text,
        },
        GroupChange::Create { .. } | GroupChange::Invite { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_carry_both_addresses() {
        let lid = Jid::lid("98765");
        let pn = Jid::user("15550000002", Server::WhatsApp);
        let mut p = GroupParticipant::member(lid.clone());
        p.phone_number = Some(pn.clone());
        let got = update_of(GroupChange::Participants {
            action: ParticipantAction::Remove,
            reason: None,
            participants: vec![p],
        });
        let want = GroupMember {
            jid: lid.clone(),
            phone: Some(pn),
            lid: Some(lid),
        };
        assert_eq!(got, Some(GroupUpdate::Removed(vec![want])));
    }
}
