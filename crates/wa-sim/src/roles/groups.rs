//! The groups role: group changes made by a phone (admin API) or by a companion (the `w:g2`
//! IQs of `stanza::group`: create, metadata query, participants add/remove/promote/demote,
//! subject, description, leave, invite code, participating groups), each followed by a `w:gp2` notification
//! (`stanza::GroupNotification`) to the companions of every member concerned — live, or from
//! their offline queue after their next login (`session-lifecycle.md` §8).
//!
//! The operations check the group's rules ([`group_state`](crate::group_state)) under the
//! world's lock, then notify outside it. Members are named by phone number here; the IQ side
//! maps JIDs (PN or LID) to accounts first. Participants appear in the group's namespace with
//! the other one alongside (`lid` on a PN group's `<participant>`, `phone_number` on a LID
//! group's; `messaging.md` §9 step 1, §16). An IQ the rules refuse gets an error IQ: 400
//! malformed, 403 not a participant (or not an admin), 404 no such group; a participant change
//! answers per participant (`error` 404 not a member or no account, 409 already a member, 403
//! the creator).

use wa_protocol::binary::{Jid, Node, Server};
use wa_protocol::stanza::{
    iq_error, AddressingMode, DescriptionChange, GroupChange, GroupDone, GroupInfo,
    GroupNotification, GroupParticipant, GroupRequest, GroupResult, GroupTopic, InviteCodeResult,
    Notification, NotificationBody, ParticipantAction, ParticipantRole, ParticipantsResult,
    ParticipatingResult, SetDescription,
};
use wa_protocol::PhoneNumber;

use crate::error::SimError;
use crate::group_state::{Group, NewGroup, Refusal};
use crate::mailbox::DeviceKey;
use crate::nodes;
use crate::roles::messages;
use crate::state::{Action, Shared};
use crate::world::World;

/// A refusal of the group's rules as the admin API reports it.
pub(crate) fn refused(refusal: Refusal, group: &str) -> SimError {
    match refusal {
        Refusal::BadRequest | Refusal::Conflict => SimError::BadGroupRequest,
        Refusal::Forbidden => SimError::GroupForbidden(group.to_owned()),
        Refusal::NotFound => SimError::NoGroup(group.to_owned()),
    }
}

/// The group a JID names (`…@g.us`).
pub(crate) fn group_of<'w>(w: &'w World, jid: &Jid) -> Result<&'w Group, SimError> {
    let found = jid
        .is_group()
        .then(|| w.groups.get(jid.user_part()))
        .flatten();
    found.ok_or_else(|| SimError::NoGroup(jid.to_string()))
}

fn group_mut<'w>(w: &'w mut World, jid: &Jid) -> Result<&'w mut Group, SimError> {
    let found = jid.is_group().then(|| w.groups.get_mut(jid.user_part()));
    found
        .flatten()
        .ok_or_else(|| SimError::NoGroup(jid.to_string()))
}

/// `phone` as `group` lists it: the user JID in the group's namespace, the other alongside.
fn participant_of(
    w: &World,
    group: &Group,
    phone: &PhoneNumber,
    role: ParticipantRole,
) -> Option<GroupParticipant> {
    let a = w.account(phone).ok()?;
    let pn = Jid::user(a.phone.as_str(), Server::WhatsApp);
    let lid = Jid::lid(a.lid.clone());
    let (jid, other) = match group.addressing {
        AddressingMode::Lid => (lid, pn),
        AddressingMode::Pn => (pn, lid),
    };
    let mut p = GroupParticipant::member(jid);
    p.role = role;
    match group.addressing {
        AddressingMode::Lid => p.phone_number = Some(other),
        AddressingMode::Pn => p.lid = Some(other),
    }
    Some(p)
}

fn user_jid(w: &World, group: &Group, phone: &PhoneNumber) -> Option<Jid> {
    participant_of(w, group, phone, ParticipantRole::Member).map(|p| p.jid)
}

/// The group's metadata as the `w:g2` answers and `create` notifications carry it.
pub(crate) fn info(w: &World, group: &Group) -> GroupInfo {
    GroupInfo {
        jid: group.jid(),
        subject: group.subject.clone(),
        subject_time: Some(group.subject_t),
        subject_owner: user_jid(w, group, &group.subject_owner),
        creation: group.creation,
        creator: user_jid(w, group, &group.owner),
        addressing_mode: Some(group.addressing),
        participants: group
            .participants
            .iter()
            .filter_map(|(phone, role)| participant_of(w, group, phone, *role))
            .collect(),
        topic: group.topic.as_ref().map(|t| GroupTopic {
            text: t.text.clone(),
            id: t.id.clone(),
            set_by: user_jid(w, group, &t.by),
            set_at: Some(t.t),
        }),
    }
}

/// Sends `changes`, made by `actor`, as one `w:gp2` notification from the group to every
/// companion of the group's members and of `also` (members who just left or were removed).
fn notify(
    shared: &Shared,
    group_jid: &Jid,
    actor: &PhoneNumber,
    changes: Vec<GroupChange>,
    also: &[PhoneNumber],
) {
    let t = shared.now_secs();
    let Ok(id) = shared.next_iq_id().parse() else {
        return;
    };
    let deliveries = shared.with_world(|w| {
        let group = group_of(w, group_jid).ok()?;
        let author = participant_of(w, group, actor, ParticipantRole::Member);
        let body = GroupNotification {
            author_pn: author.as_ref().and_then(|a| a.phone_number.clone()),
            author: author.map(|a| a.jid),
            notify: None,
            changes,
        };
        let node = Notification {
            id,
            from: group_jid.clone(),
            t: Some(t),
            offline: None,
            body: NotificationBody::Group(body),
        }
        .to_node();
        let audience = group.participants.keys().chain(also.iter());
        let devices: Vec<(DeviceKey, Node)> = audience
            .flat_map(|p| w.devices_of(&Jid::user(p.as_str(), Server::WhatsApp)))
            .filter(|d| d.1 != 0)
            .filter(|d| {
                let faults = w.account(&d.0).map(|a| &a.faults);
                !faults.is_ok_and(|f| f.drop_group_notifications)
            })
            .map(|d| (d, node.clone()))
            .collect();
        Some(devices)
    });
    if let Some(deliveries) = deliveries {
        shared.count("group:notification");
        messages::dispatch(shared, deliveries);
    }
}

/// `owner`'s account creates a group with `members` (phone numbers with accounts); LID-addressed
/// when the owner's account is LID-migrated (`messaging.md` §16). Every member's companions get
/// the `create` notification. Returns its JID.
pub(crate) fn create(
    shared: &Shared,
    owner: &PhoneNumber,
    subject: &str,
    members: &[PhoneNumber],
    key: Option<String>,
) -> Result<Jid, SimError> {
    let t = shared.now_secs();
    let mut rng = shared.fork_rng();
    let (jid, group) = shared.with_world(|w| {
        let lid = w.account(owner)?.switches.lid_migrated;
        for m in members {
            w.account(m)?;
        }
        let new = NewGroup {
            owner,
            subject,
            members,
            addressing: if lid {
                AddressingMode::Lid
            } else {
                AddressingMode::Pn
            },
            t,
        };
        let created = w.groups.create(&new, &mut rng).cloned();
        let created = created.map_err(|r| refused(r, subject))?;
        Ok::<_, SimError>((created.jid(), info(w, &created)))
    })?;
    shared.count("group:created");
    let change = GroupChange::Create {
        reason: None,
        key,
        group: Box::new(group),
    };
    notify(shared, &jid, owner, vec![change], &[]);
    Ok(jid)
}

/// `actor` changes the participants of `group`; per phone, the refusal code for that phone
/// (`None`: done). The ones changed are notified (with the removed among the audience).
pub(crate) fn change(
    shared: &Shared,
    actor: &PhoneNumber,
    group: &Jid,
    action: ParticipantAction,
    phones: &[PhoneNumber],
) -> Result<Vec<(PhoneNumber, Option<u16>)>, SimError> {
    let (results, participants) = shared.with_world(|w| {
        w.account(actor)?;
        let g = group_mut(w, group)?;
        let results = g
            .change(actor, action, phones)
            .map_err(|r| refused(r, &group.to_string()))?;
        let g = group_of(w, group)?;
        let done: Vec<GroupParticipant> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .filter_map(|(p, _)| {
                let role = g.rank(p).unwrap_or(ParticipantRole::Member);
                participant_of(w, g, p, role)
            })
            .collect();
        Ok::<_, SimError>((results, done))
    })?;
    shared.count(format!("group:{}", action.as_str()));
    let removed: Vec<PhoneNumber> = if action == ParticipantAction::Remove {
        results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(p, _)| p.clone())
            .collect()
    } else {
        Vec::new()
    };
    if !participants.is_empty() {
        let change = GroupChange::Participants {
            action,
            reason: None,
            participants,
        };
        notify(shared, group, actor, vec![change], &removed);
    }
    Ok(results
        .into_iter()
        .map(|(p, r)| (p, r.err().map(Refusal::code)))
        .collect())
}

/// `actor` sets the subject of `group`; members are notified.
pub(crate) fn set_subject(
    shared: &Shared,
    actor: &PhoneNumber,
    group: &Jid,
    subject: &str,
) -> Result<(), SimError> {
    let t = shared.now_secs();
    let by = shared.with_world(|w| {
        group_mut(w, group)?
            .set_subject(actor, subject, t)
            .map_err(|r| refused(r, &group.to_string()))?;
        let g = group_of(w, group)?;
        Ok::<_, SimError>(user_jid(w, g, actor))
    })?;
    let change = GroupChange::Subject {
        subject: subject.to_owned(),
        time: t,
        by,
    };
    notify(shared, group, actor, vec![change], &[]);
    Ok(())
}

/// `actor` sets (or, with an empty text, deletes) the description of `group`; members are
/// notified (`stanza::group_topic`).
pub(crate) fn set_topic(
    shared: &Shared,
    actor: &PhoneNumber,
    set: &SetDescription,
) -> Result<(), SimError> {
    let t = shared.now_secs();
    let group = &set.group;
    shared.with_world(|w| {
        group_mut(w, group)?
            .set_topic(actor, set.prev.as_deref(), &set.id, &set.text, t)
            .map_err(|r| refused(r, &group.to_string()))
    })?;
    shared.count("group:description");
    let change = GroupChange::Description(DescriptionChange {
        id: set.id.clone(),
        text: (!set.text.is_empty()).then(|| set.text.clone()),
    });
    notify(shared, group, actor, vec![change], &[]);
    Ok(())
}

/// `actor` leaves each of `groups` (all checked first: none is left when one is refused); the
/// remaining members and the leaver's own companions are notified.
pub(crate) fn leave(shared: &Shared, actor: &PhoneNumber, groups: &[Jid]) -> Result<(), SimError> {
    let left = shared.with_world(|w| {
        for jid in groups {
            group_of(w, jid)?
                .check_actor(actor, false)
                .map_err(|r| refused(r, &jid.to_string()))?;
        }
        let mut left = Vec::with_capacity(groups.len());
        for jid in groups {
            let g = group_of(w, jid)?;
            let me = participant_of(w, g, actor, ParticipantRole::Member);
            group_mut(w, jid)?
                .leave(actor)
                .map_err(|r| refused(r, &jid.to_string()))?;
            left.extend(me.map(|p| (jid.clone(), p)));
        }
        Ok::<_, SimError>(left)
    })?;
    for (jid, me) in left {
        let change = GroupChange::Participants {
            action: ParticipantAction::Remove,
            reason: None,
            participants: vec![me],
        };
        notify(
            shared,
            &jid,
            actor,
            vec![change],
            std::slice::from_ref(actor),
        );
    }
    shared.count("group:leave");
    Ok(())
}

/// The invite code of `group` for `actor` (an admin); `reset` revokes it first (members are
/// then notified of the new code).
pub(crate) fn invite(
    shared: &Shared,
    actor: &PhoneNumber,
    group: &Jid,
    reset: bool,
) -> Result<String, SimError> {
    let mut rng = shared.fork_rng();
    let code = shared.with_world(|w| {
        let g = group_mut(w, group)?;
        let checked = if reset {
            g.reset_invite(actor, &mut rng)
        } else {
            g.check_actor(actor, true)
        };
        checked.map_err(|r| refused(r, &group.to_string()))?;
        Ok::<_, SimError>(g.invite.clone())
    })?;
    if reset {
        let change = GroupChange::Invite { code: code.clone() };
        notify(shared, group, actor, vec![change], &[]);
    }
    Ok(code)
}

/// A companion's `w:g2` IQ: answered with the typed result, or an error IQ.
pub(crate) fn iq(shared: &Shared, actor: &DeviceKey, id: &str, node: &Node) -> Vec<Action> {
    let Ok(request) = GroupRequest::from_node(node) else {
        shared.count("group:malformed");
        return vec![Action::Send(nodes::iq_bad_request(id))];
    };
    let answer = answer(shared, &actor.0, id, request);
    let node = answer.unwrap_or_else(|e| {
        let (code, text) = match e.fault() {
            crate::error::SimFault::NotFound => (404, "item-not-found"),
            crate::error::SimFault::Forbidden => (403, "forbidden"),
            crate::error::SimFault::BadRequest => (400, "bad-request"),
            // Media faults never come from a group change.
            crate::error::SimFault::Server
            | crate::error::SimFault::Client
            | crate::error::SimFault::Unauthorized
            | crate::error::SimFault::TooLarge
            | crate::error::SimFault::Gone => (500, "internal-server-error"),
        };
        iq_error(id, wa_protocol::stanza::server_jid(), code, text)
    });
    vec![Action::Send(node)]
}

fn answer(
    shared: &Shared,
    actor: &PhoneNumber,
    id: &str,
    request: GroupRequest,
) -> Result<Node, SimError> {
    match request {
        GroupRequest::Create(c) => {
            let (members, unknown) = shared.with_world(|w| resolve(w, &c.participants));
            let jid = create(shared, actor, &c.subject, &members, Some(c.key))?;
            let mut group = shared.with_world(|w| group_of(w, &jid).map(|g| info(w, g)))?;
            group.participants.extend(unknown.into_iter().map(|j| {
                let mut p = GroupParticipant::member(j);
                p.error = Some(Refusal::NotFound.code());
                p
            }));
            Ok(GroupResult { group }.to_node(id, &wa_protocol::stanza::group_server()))
        }
        GroupRequest::Query(q) => {
            let group = shared.with_world(|w| {
                let g = group_of(w, &q.group)?;
                g.check_actor(actor, false)
                    .map_err(|r| refused(r, &q.group.to_string()))?;
                Ok::<_, SimError>(info(w, g))
            })?;
            Ok(GroupResult { group }.to_node(id, &q.group))
        }
        GroupRequest::Participants(u) => {
            participants(shared, actor, id, &u.group, u.action, &u.participants)
        }
        GroupRequest::Subject(s) => {
            set_subject(shared, actor, &s.group, &s.subject)?;
            Ok(GroupDone.to_node(id, &s.group))
        }
        GroupRequest::Description(d) => {
            set_topic(shared, actor, &d)?;
            Ok(GroupDone.to_node(id, &d.group))
        }
        GroupRequest::Leave(l) => {
            leave(shared, actor, &l.groups)?;
            Ok(GroupDone.to_node(id, &wa_protocol::stanza::group_server()))
        }
        GroupRequest::Invite(i) => {
            let code = invite(shared, actor, &i.group, i.reset)?;
            Ok(InviteCodeResult { code }.to_node(id, &i.group))
        }
        GroupRequest::Participating(_) => {
            let groups = shared.with_world(|w| {
                w.groups
                    .iter()
                    .filter(|g| g.rank(actor).is_some())
                    .map(|g| info(w, g))
                    .collect()
            });
            Ok(ParticipatingResult { groups }.to_node(id))
        }
    }
}

/// The accounts JIDs name (PN or LID), and the JIDs that name none.
fn resolve(w: &World, jids: &[Jid]) -> (Vec<PhoneNumber>, Vec<Jid>) {
    let mut known = Vec::with_capacity(jids.len());
    let mut unknown = Vec::new();
    for jid in jids {
        match w.account_by_jid(jid) {
            Some(a) => known.push(a.phone.clone()),
            None => unknown.push(jid.clone()),
        }
    }
    (known, unknown)
}

/// A participant change by IQ: each participant as asked, with its result code.
fn participants(
    shared: &Shared,
    actor: &PhoneNumber,
    id: &str,
    group: &Jid,
    action: ParticipantAction,
    jids: &[Jid],
) -> Result<Node, SimError> {
    let (phones, _) = shared.with_world(|w| resolve(w, jids));
    let results = if phones.is_empty() {
        // Nobody with an account: only the actor's right to change is checked.
        shared.with_world(|w| {
            group_of(w, group)?
                .check_actor(actor, true)
                .map_err(|r| refused(r, &group.to_string()))
        })?;
        Vec::new()
    } else {
        change(shared, actor, group, action, &phones)?
    };
    let listed = shared.with_world(|w| {
        jids.iter()
            .map(|jid| {
                let phone = w.account_by_jid(jid).map(|a| a.phone.clone());
                let result = phone.and_then(|p| results.iter().find(|(q, _)| *q == p));
                let mut p = GroupParticipant::member(jid.to_non_ad());
                p.error = match result {
                    Some((_, code)) => *code,
                    None => Some(Refusal::NotFound.code()),
                };
                p
            })
            .collect()
    });
    let answer = ParticipantsResult {
        action,
        participants: listed,
    };
    Ok(answer.to_node(id, group))
}
