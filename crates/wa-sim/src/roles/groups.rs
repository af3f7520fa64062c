//! The groups role: group changes made by a phone (admin API) or by a companion (`w:g2` IQs),
//! each followed by `w:gp2` notifications to the companions of every member concerned.
//!
//! The operations check the group's rules ([`group_state`](crate::group_state)) under the
//! world's lock, then notify outside it. Members are named by phone number here; the IQ side
//! maps JIDs (PN or LID) to accounts first.

use wa_protocol::binary::Jid;
use wa_protocol::stanza::AddressingMode;
use wa_protocol::PhoneNumber;

use crate::error::SimError;
use crate::group_state::{Change, Group, NewGroup, Refusal};
use crate::state::Shared;
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

/// `owner`'s phone creates a group with `members` (phone numbers with accounts); LID-addressed
/// when the owner's account is LID-migrated (`messaging.md` §16). Returns its JID.
pub(crate) fn create(
    shared: &Shared,
    owner: &PhoneNumber,
    subject: &str,
    members: &[PhoneNumber],
) -> Result<Jid, SimError> {
    let t = shared.now_secs();
    let mut rng = shared.fork_rng();
    let jid = shared.with_world(|w| {
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
        w.groups
            .create(&new, &mut rng)
            .map(Group::jid)
            .map_err(|r| refused(r, subject))
    })?;
    shared.count("group:created".to_owned());
    Ok(jid)
}

/// `actor`'s phone changes the participants of `group`; per phone, the refusal code for that
/// phone (`None`: done).
pub(crate) fn change(
    shared: &Shared,
    actor: &PhoneNumber,
    group: &Jid,
    change: Change,
    phones: &[PhoneNumber],
) -> Result<Vec<(PhoneNumber, Option<u16>)>, SimError> {
    let results = shared.with_world(|w| {
        w.account(actor)?;
        group_of(w, group)?;
        let g = w
            .groups
            .get_mut(group.user_part())
            .ok_or_else(|| SimError::NoGroup(group.to_string()))?;
        g.change(actor, change, phones)
            .map_err(|r| refused(r, &group.to_string()))
    })?;
    shared.count(format!("group:{change:?}").to_lowercase());
    Ok(results
        .into_iter()
        .map(|(p, r)| (p, r.err().map(Refusal::code)))
        .collect())
}
