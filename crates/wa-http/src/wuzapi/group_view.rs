//! The group routes' answer shapes (CONTRACTS §A.7): whatsmeow's `types.GroupInfo` in Go's
//! default JSON, embedded structs flattened, PascalCase keys in whatsmeow's declaration order,
//! RFC 3339 times (`0001-01-01T00:00:00Z` when unset), JIDs as strings (`""` when unset).
//!
//! wagate knows the metadata a `w:g2` answer carries (`messaging.md` §9; subject, creator,
//! creation, addressing mode, participants with roles and their other-namespace address) and the
//! description (`Topic…`, `stanza::GroupTopic`). The settings it does not read from the wire
//! (locked, announce, ephemeral, …) are rendered
//! at Go's zero values so clients that parse whatsmeow's keys find every one of them.

use serde::Serialize;
use utoipa::ToSchema;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::stanza::{GroupInfo, GroupParticipant};

use crate::gotime::{rfc3339, ZERO};

/// whatsmeow's `types.GroupInfo`.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct GroupInfoView {
    /// The group, `…@g.us`.
    JID: String,
    /// The creator (`""` when unknown).
    OwnerJID: String,
    /// The subject.
    Name: String,
    /// When the subject was set.
    NameSetAt: String,
    /// Who set it.
    NameSetBy: String,
    /// The description (`""` when none).
    Topic: String,
    /// The description's id.
    TopicID: String,
    /// When the description was set.
    TopicSetAt: String,
    /// Who set it.
    TopicSetBy: String,
    /// Whether the description was deleted.
    TopicDeleted: bool,
    /// Only admins edit the group info.
    IsLocked: bool,
    /// Only admins send.
    IsAnnounce: bool,
    /// The announce setting's version.
    AnnounceVersionID: String,
    /// Disappearing messages on.
    IsEphemeral: bool,
    /// Their timer (seconds).
    DisappearingTimer: u32,
    /// Incognito (community announcement) group.
    IsIncognito: bool,
    /// A community.
    IsParent: bool,
    /// The community's default subgroup.
    IsDefaultSubGroup: bool,
    /// New members need an admin's approval.
    IsJoinApprovalRequired: bool,
    /// `pn` or `lid` (`""` when the server did not say).
    AddressingMode: String,
    /// When the group was created.
    GroupCreated: String,
    /// The participant list's version.
    ParticipantVersionID: String,
    /// The members.
    Participants: Vec<ParticipantView>,
}

/// whatsmeow's `types.GroupParticipant`.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct ParticipantView {
    /// The member as the group lists it (phone number or LID).
    JID: String,
    /// Its phone-number JID, when known.
    PhoneNumber: String,
    /// Its LID, when known.
    LID: String,
    /// Admin (a superadmin is also an admin).
    IsAdmin: bool,
    /// The creator.
    IsSuperAdmin: bool,
    /// The name shown (not sent by the server in metadata: `""`).
    DisplayName: String,
    /// The per-participant result code of a change (0: done).
    Error: u16,
}

fn jid_text(jid: Option<&Jid>) -> String {
    jid.map(ToString::to_string).unwrap_or_default()
}

impl From<&GroupParticipant> for ParticipantView {
    fn from(p: &GroupParticipant) -> Self {
        let (phone, lid) = match p.jid.server() {
            Server::Lid => (p.phone_number.as_ref(), Some(&p.jid)),
            _ => (Some(&p.jid), p.lid.as_ref()),
        };
        Self {
            JID: p.jid.to_string(),
            PhoneNumber: jid_text(phone),
            LID: jid_text(lid),
            IsAdmin: p.role.is_admin(),
            IsSuperAdmin: matches!(p.role, wa_protocol::stanza::ParticipantRole::SuperAdmin),
            DisplayName: String::new(),
            Error: p.error.unwrap_or(0),
        }
    }
}

impl From<&GroupInfo> for GroupInfoView {
    fn from(g: &GroupInfo) -> Self {
        let topic = g.topic.as_ref();
        Self {
            JID: g.jid.to_string(),
            OwnerJID: jid_text(g.creator.as_ref()),
            Name: g.subject.clone(),
            NameSetAt: rfc3339(g.subject_time),
            NameSetBy: jid_text(g.subject_owner.as_ref()),
            Topic: topic.map(|t| t.text.clone()).unwrap_or_default(),
            TopicID: topic.map(|t| t.id.clone()).unwrap_or_default(),
            TopicSetAt: topic.map_or_else(|| ZERO.to_owned(), |t| rfc3339(t.set_at)),
            TopicSetBy: jid_text(topic.and_then(|t| t.set_by.as_ref())),
            TopicDeleted: false,
            IsLocked: false,
            IsAnnounce: false,
            AnnounceVersionID: String::new(),
            IsEphemeral: false,
            DisappearingTimer: 0,
            IsIncognito: false,
            IsParent: false,
            IsDefaultSubGroup: false,
            IsJoinApprovalRequired: false,
            AddressingMode: g
                .addressing_mode
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            GroupCreated: rfc3339(Some(g.creation)),
            ParticipantVersionID: String::new(),
            Participants: g.participants.iter().map(ParticipantView::from).collect(),
        }
    }
}

/// `{"Groups": [GroupInfo…]}` (`GET /group/list`).
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct GroupList {
    /// Every group the account is in.
    Groups: Vec<GroupInfoView>,
}

impl GroupList {
    pub(crate) fn new(groups: &[GroupInfo]) -> Self {
        Self {
            Groups: groups.iter().map(GroupInfoView::from).collect(),
        }
    }
}

/// `{"InviteLink": "https://chat.whatsapp.com/…"}`.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub(crate) struct InviteLink {
    /// The link.
    pub(crate) InviteLink: String,
}

/// `{"Details": "…"}`: what the group setters answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GroupDetails)]
#[allow(non_snake_case)]
pub(crate) struct Details {
    /// The contract's success text.
    pub(crate) Details: &'static str,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use wa_protocol::stanza::ParticipantRole;

    #[test]
    fn whatsmeows_keys_times_and_roles() {
        let owner = Jid::user("15550100001", Server::WhatsApp);
        let info = GroupInfo {
            jid: Jid::group("120363000000000001"),
            subject: "Team".into(),
            subject_time: None,
            subject_owner: None,
            creation: 1_717_776_749,
            creator: Some(owner.clone()),
            addressing_mode: None,
            participants: vec![
                GroupParticipant {
                    role: ParticipantRole::SuperAdmin,
                    lid: Some(Jid::lid("99000000000001")),
                    ..GroupParticipant::member(owner)
                },
                GroupParticipant {
                    phone_number: Some(Jid::user("15550100002", Server::WhatsApp)),
                    ..GroupParticipant::member(Jid::lid("99000000000002"))
                },
            ],
            topic: None,
        };
        let v = serde_json::to_value(GroupInfoView::from(&info)).unwrap();
        assert_eq!(v["JID"], "120363000000000001@g.us");
        assert_eq!(v["OwnerJID"], "15550100001@s.whatsapp.net");
        assert_eq!(v["Name"], "Team");
        assert_eq!(v["NameSetAt"], ZERO);
        assert_eq!(v["GroupCreated"], "2024-06-07T16:12:29Z");
        let p = &v["Participants"];
        assert_eq!(p[0]["IsAdmin"], true);
        assert_eq!(p[0]["IsSuperAdmin"], true);
        assert_eq!(p[0]["LID"], "99000000000001@lid");
        assert_eq!(p[1]["JID"], "99000000000002@lid");
        assert_eq!(p[1]["PhoneNumber"], "15550100002@s.whatsapp.net");
        assert_eq!(p[1]["IsAdmin"], false);
        for key in [
            "Topic",
            "IsLocked",
            "IsAnnounce",
            "IsEphemeral",
            "ParticipantVersionID",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
    }
}
