//! The groups of the simulated network (`WA-SIM.md` "Groups"; `messaging.md` §9): each keyed by
//! its `…@g.us` id, with its subject (and who set it, when), owner, creation time, participants
//! with their rank, addressing mode (`pn` or `lid`, §9 step 1 / §16) and invite code.
//!
//! Only state and its rules live here (who may change what, what a change did); the IQ role and
//! the `w:gp2` notifications are in `roles::groups`, the fan-out in `roles::group_fanout`.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::Rng;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::stanza::{
    AddressingMode, ParticipantAction, ParticipantRole, MAX_GROUP_PARTICIPANTS, MAX_SUBJECT_LEN,
};
use wa_protocol::PhoneNumber;

/// Length of an invite code (a bound of the sim: the doc does not give one).
const INVITE_LEN: usize = 22;

/// Why a group operation was refused; each maps to the code of the error IQ (or of the
/// `<participant error>` for one participant: 403, 404 not a member, 409 already a member, as
/// `stanza::GroupParticipant::error` documents them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request is malformed (empty or overlong subject, too many participants): 400.
    BadRequest,
    /// The actor is not a participant, or not an admin where one must be: 403.
    Forbidden,
    /// No such group, or (per participant) not a member: 404.
    NotFound,
    /// (Per participant) already a member: 409.
    Conflict,
}

impl Refusal {
    /// The HTTP-like code an error IQ and `<participant error>` carry.
    pub(crate) fn code(self) -> u16 {
        match self {
            Refusal::BadRequest => 400,
            Refusal::Forbidden => 403,
            Refusal::NotFound => 404,
            Refusal::Conflict => 409,
        }
    }
}

/// What a participant change did to one phone: `Ok` when it changed, or the refusal for that
/// phone alone.
pub(crate) type ChangeResult = (PhoneNumber, Result<(), Refusal>);

/// One group.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The user part of its `…@g.us` JID.
    pub(crate) id: String,
    /// The subject.
    pub(crate) subject: String,
    /// Who set the subject last.
    pub(crate) subject_owner: PhoneNumber,
    /// When the subject was set (unix seconds).
    pub(crate) subject_t: u64,
    /// The creator.
    pub(crate) owner: PhoneNumber,
    /// When it was created (unix seconds).
    pub(crate) creation: u64,
    /// Participants and their rank, by phone number.
    pub(crate) participants: BTreeMap<PhoneNumber, ParticipantRole>,
    /// How its members are addressed: phone numbers or LIDs.
    pub(crate) addressing: AddressingMode,
    /// The current invite code (`https://chat.whatsapp.com/<code>`).
    pub(crate) invite: String,
    /// The description, if one is set.
    pub(crate) topic: Option<Topic>,
}

/// A group's description (`stanza::group_topic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Topic {
    /// The text.
    pub(crate) text: String,
    /// Its id (the client's, from the set IQ).
    pub(crate) id: String,
    /// Who set it.
    pub(crate) by: PhoneNumber,
    /// When (unix seconds).
    pub(crate) t: u64,
}

impl Group {
    /// Its JID, `<id>@g.us`.
    pub(crate) fn jid(&self) -> Jid {
        Jid::group(self.id.clone())
    }

    /// The namespace its members are addressed in.
    pub(crate) fn server(&self) -> Server {
        match self.addressing {
            AddressingMode::Lid => Server::Lid,
            AddressingMode::Pn => Server::WhatsApp,
        }
    }

    /// The participant's rank, if it is one.
    pub(crate) fn rank(&self, phone: &PhoneNumber) -> Option<ParticipantRole> {
        self.participants.get(phone).copied()
    }

    /// `Ok` if `actor` is a participant (and an admin when `admin` is asked).
    pub(crate) fn check_actor(&self, actor: &PhoneNumber, admin: bool) -> Result<(), Refusal> {
        match self.rank(actor) {
            Some(rank) if !admin || rank.is_admin() => Ok(()),
            _ => Err(Refusal::Forbidden),
        }
    }

    /// Applies `change` to each of `phones` on behalf of `actor` (an admin); per phone, `Ok`
    /// when it changed or the refusal for that phone alone.
    pub(crate) fn change(
        &mut self,
        actor: &PhoneNumber,
        change: ParticipantAction,
        phones: &[PhoneNumber],
    ) -> Result<Vec<ChangeResult>, Refusal> {
        self.check_actor(actor, true)?;
        if phones.is_empty() {
            return Err(Refusal::BadRequest);
        }
        let mut out = Vec::with_capacity(phones.len());
        for phone in phones {
            let result = self.change_one(change, phone);
            out.push((phone.clone(), result));
        }
        Ok(out)
    }

    fn change_one(
        &mut self,
        change: ParticipantAction,
        phone: &PhoneNumber,
    ) -> Result<(), Refusal> {
        let rank = self.rank(phone);
        match (change, rank) {
            (ParticipantAction::Add, Some(_)) => Err(Refusal::Conflict),
            (ParticipantAction::Add, None) if self.participants.len() >= MAX_GROUP_PARTICIPANTS => {
                Err(Refusal::BadRequest)
            }
            (ParticipantAction::Add, None) => {
                self.participants
                    .insert(phone.clone(), ParticipantRole::Member);
                Ok(())
            }
            (_, None) => Err(Refusal::NotFound),
            (
                ParticipantAction::Remove | ParticipantAction::Demote,
                Some(ParticipantRole::SuperAdmin),
            ) => Err(Refusal::Forbidden),
            (ParticipantAction::Remove, Some(_)) => {
                self.participants.remove(phone);
                Ok(())
            }
            (ParticipantAction::Promote, Some(_)) => {
                self.promote(phone);
                Ok(())
            }
            (ParticipantAction::Demote, Some(_)) => {
                self.participants
                    .insert(phone.clone(), ParticipantRole::Member);
                Ok(())
            }
        }
    }

    fn promote(&mut self, phone: &PhoneNumber) {
        if let Some(rank) = self.participants.get_mut(phone) {
            if *rank == ParticipantRole::Member {
                *rank = ParticipantRole::Admin;
            }
        }
    }

    /// `actor` sets the subject at `t`.
    pub(crate) fn set_subject(
        &mut self,
        actor: &PhoneNumber,
        subject: &str,
        t: u64,
    ) -> Result<(), Refusal> {
        self.check_actor(actor, false)?;
        check_subject(subject)?;
        subject.clone_into(&mut self.subject);
        self.subject_owner = actor.clone();
        self.subject_t = t;
        Ok(())
    }

    /// `actor` (a participant) sets the description to `text` under the new `id`, or deletes it
    /// (`text` empty). `prev` must name the current description (absent when there is none): a
    /// change made from a stale copy is a conflict (a rule of the sim; whatsmeow reads the
    /// current id before it sets, `SetGroupTopic`).
    pub(crate) fn set_topic(
        &mut self,
        actor: &PhoneNumber,
        prev: Option<&str>,
        id: &str,
        text: &str,
        t: u64,
    ) -> Result<(), Refusal> {
        self.check_actor(actor, false)?;
        if prev != self.topic.as_ref().map(|c| c.id.as_str()) {
            return Err(Refusal::Conflict);
        }
        self.topic = (!text.is_empty()).then(|| Topic {
            text: text.to_owned(),
            id: id.to_owned(),
            by: actor.clone(),
            t,
        });
        Ok(())
    }

    /// `actor` leaves.
    pub(crate) fn leave(&mut self, actor: &PhoneNumber) -> Result<(), Refusal> {
        self.participants
            .remove(actor)
            .map(drop)
            .ok_or(Refusal::Forbidden)
    }

    /// A new invite code (`actor` an admin); the old one stops working.
    pub(crate) fn reset_invite(
        &mut self,
        actor: &PhoneNumber,
        rng: &mut StdRng,
    ) -> Result<(), Refusal> {
        self.check_actor(actor, true)?;
        self.invite = invite_code(rng);
        Ok(())
    }
}

/// The subject rule the `w:g2` stanzas check (`stanza::SetSubject`): not blank, at most
/// `MAX_SUBJECT_LEN` bytes.
fn check_subject(subject: &str) -> Result<(), Refusal> {
    if subject.trim().is_empty() || subject.len() > MAX_SUBJECT_LEN {
        return Err(Refusal::BadRequest);
    }
    Ok(())
}

fn invite_code(rng: &mut StdRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..INVITE_LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// What creating a group needs.
#[derive(Debug, Clone)]
pub(crate) struct NewGroup<'a> {
    /// The creator (becomes the super admin).
    pub(crate) owner: &'a PhoneNumber,
    /// The subject.
    pub(crate) subject: &'a str,
    /// The other members (the owner may be among them; duplicates count once).
    pub(crate) members: &'a [PhoneNumber],
    /// How members are addressed.
    pub(crate) addressing: AddressingMode,
    /// Now (unix seconds).
    pub(crate) t: u64,
}

/// Every group, by id.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    groups: BTreeMap<String, Group>,
}

impl Groups {
    /// Creates a group; returns it. Ids look like real ones (`messaging.md` §9: `12036…@g.us`):
    /// `120363` and 12 digits, unique.
    pub(crate) fn create(
        &mut self,
        new: &NewGroup<'_>,
        rng: &mut StdRng,
    ) -> Result<&Group, Refusal> {
        check_subject(new.subject)?;
        let mut participants = BTreeMap::new();
        for m in new.members {
            participants.insert(m.clone(), ParticipantRole::Member);
        }
        participants.insert(new.owner.clone(), ParticipantRole::SuperAdmin);
        if participants.len() > MAX_GROUP_PARTICIPANTS {
            return Err(Refusal::BadRequest);
        }
        let id = loop {
            let id = format!("120363{:012}", rng.gen_range(0..1_000_000_000_000u64));
            if !self.groups.contains_key(&id) {
                break id;
            }
        };
        let group = Group {
            id: id.clone(),
            subject: new.subject.to_owned(),
            subject_owner: new.owner.clone(),
            subject_t: new.t,
            owner: new.owner.clone(),
            creation: new.t,
            participants,
            addressing: new.addressing,
            invite: invite_code(rng),
            topic: None,
        };
        Ok(self.groups.entry(id).or_insert(group))
    }

    /// The group with this id (the user part of its JID).
    pub(crate) fn get(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    /// Every group.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// The group with this id, mutable.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Group> {
        self.groups.get_mut(id)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn phone(n: u64) -> PhoneNumber {
        format!("1555010{n:04}").parse().expect("phone")
    }

    fn group() -> (Groups, String) {
        let mut groups = Groups::default();
        let mut rng = StdRng::seed_from_u64(1);
        let new = NewGroup {
            owner: &phone(1),
            subject: "team",
            members: &[phone(2), phone(3), phone(2)],
            addressing: AddressingMode::Pn,
            t: 1_700_000_000,
        };
        let id = groups.create(&new, &mut rng).expect("created").id.clone();
        (groups, id)
    }

    #[test]
    fn the_creator_is_super_admin_and_members_count_once() {
        let (groups, id) = group();
        let g = groups.get(&id).expect("group");
        assert!(id.starts_with("120363") && id.len() == 18, "{id}");
        assert_eq!(g.participants.len(), 3);
        assert_eq!(g.rank(&phone(1)), Some(ParticipantRole::SuperAdmin));
        assert_eq!(g.rank(&phone(2)), Some(ParticipantRole::Member));
        assert_eq!(g.invite.len(), INVITE_LEN);
    }

    #[test]
    fn only_admins_change_participants_and_each_phone_gets_its_result() {
        let (mut groups, id) = group();
        let g = groups.get_mut(&id).expect("group");
        assert_eq!(
            g.change(&phone(2), ParticipantAction::Add, &[phone(4)]),
            Err(Refusal::Forbidden)
        );
        let results = g
            .change(&phone(1), ParticipantAction::Add, &[phone(4), phone(2)])
            .expect("admin");
        assert_eq!(results[0].1, Ok(()));
        assert_eq!(results[1].1, Err(Refusal::Conflict));
        let results = g
            .change(&phone(1), ParticipantAction::Promote, &[phone(4), phone(9)])
            .expect("admin");
        assert_eq!(results[1].1, Err(Refusal::NotFound));
        assert_eq!(g.rank(&phone(4)), Some(ParticipantRole::Admin));
        // The new admin removes a member but cannot remove or demote the creator.
        let results = g
            .change(&phone(4), ParticipantAction::Remove, &[phone(3), phone(1)])
            .expect("admin");
        assert_eq!(results[0].1, Ok(()));
        assert_eq!(results[1].1, Err(Refusal::Forbidden));
        assert_eq!(g.rank(&phone(3)), None);
        assert!(g.change(&phone(1), ParticipantAction::Demote, &[]).is_err());
    }

    #[test]
    fn subject_leave_and_invite_follow_their_rules() {
        let (mut groups, id) = group();
        let mut rng = StdRng::seed_from_u64(2);
        let g = groups.get_mut(&id).expect("group");
        assert_eq!(g.set_subject(&phone(2), "", 5), Err(Refusal::BadRequest));
        g.set_subject(&phone(2), "renamed", 5).expect("member may");
        assert_eq!((g.subject.as_str(), g.subject_t), ("renamed", 5));
        assert_eq!(g.set_subject(&phone(9), "x", 6), Err(Refusal::Forbidden));
        let old = g.invite.clone();
        assert_eq!(g.reset_invite(&phone(2), &mut rng), Err(Refusal::Forbidden));
        g.reset_invite(&phone(1), &mut rng).expect("admin");
        assert_ne!(g.invite, old);
        g.leave(&phone(2)).expect("left");
        assert_eq!(g.leave(&phone(2)), Err(Refusal::Forbidden));
    }

    #[test]
    fn a_topic_replaces_the_one_it_names() {
        let (mut groups, id) = group();
        let g = groups.get_mut(&id).expect("group");
        assert_eq!(
            g.set_topic(&phone(9), None, "A", "x", 5),
            Err(Refusal::Forbidden)
        );
        g.set_topic(&phone(2), None, "A", "maps", 5)
            .expect("member may");
        let topic = g.topic.clone().expect("set");
        assert_eq!(
            (topic.text.as_str(), topic.by, topic.t),
            ("maps", phone(2), 5)
        );
        // A stale or missing prev is a conflict; the current one replaces.
        assert_eq!(
            g.set_topic(&phone(1), None, "B", "y", 6),
            Err(Refusal::Conflict)
        );
        assert_eq!(
            g.set_topic(&phone(1), Some("Z"), "B", "y", 6),
            Err(Refusal::Conflict)
        );
        g.set_topic(&phone(1), Some("A"), "B", "new", 6)
            .expect("replaced");
        assert_eq!(g.topic.as_ref().map(|t| t.id.as_str()), Some("B"));
        g.set_topic(&phone(1), Some("B"), "C", "", 7)
            .expect("deleted");
        assert_eq!(g.topic, None);
    }
}
