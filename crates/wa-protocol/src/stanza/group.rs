//! The group IQs, namespace `w:g2` (`messaging.md` §9 step 1 for the metadata query; the other
//! requests' shapes are the ones whatsmeow `group.go` sends — `CreateGroup`,
//! `UpdateGroupParticipants`, `SetGroupName`, `LeaveGroup`, `GetGroupInviteLink`,
//! `GetJoinedGroups` — as the doc is silent on them). The client builds each request with
//! `request()` and parses its answer with the result's `from_node`; the server parses the request
//! with `from_node` (or [`GroupRequest::from_node`] to dispatch) and answers with `to_node`.
//!
//! ```text
//! create:       set to g.us     <create subject key><participant jid/>…</create>  → <group …/>
//! metadata:     get to <gid>    <query request="interactive"/>                     → <group …/>
//! participants: set to <gid>    <add|remove|promote|demote><participant jid/>…     →
//!                               <add|…><participant jid [error]/>…</…>
//! subject:      set to <gid>    <subject>〈subject bytes〉</subject>                → (empty)
//! description:  set to <gid>    <description id [prev]><body/></description>       → (empty)
//!               (`group_topic.rs`)
//! leave:        set to g.us     <leave><group id="<gid>"/>…</leave>                → (empty)
//! invite code:  get (set=reset) to <gid>  <invite/>                                → <invite code/>
//! joined:       get to g.us     <participating><participants/><description/></participating>
//!                                                                     → <groups><group/>…</groups>
//! ```

use super::fields::{opt_text, req_jid};
use super::group_info::{group_jid, participants_of, GroupInfo, GroupParticipant, GROUP_XMLNS};
use super::group_topic::SetDescription;
use super::iq::{expect_iq, IqKind, IqRequest};
use super::parse::{bad, expect_tag, req_attr, req_child, StanzaError};
use crate::binary::{Jid, Node, Server};

/// Most groups a `participating` answer may list.
pub const MAX_GROUPS: usize = 4096;

/// Longest subject accepted, in bytes (WhatsApp shows 100 characters).
pub const MAX_SUBJECT_LEN: usize = 256;

/// `g.us`, the target of create, leave and the joined-groups list.
pub fn group_server() -> Jid {
    Jid::server_jid(Server::Group)
}

/// A `w:g2` request addressed to `to`.
fn group_iq(kind: IqKind, to: Jid, child: Node) -> IqRequest {
    IqRequest {
        xmlns: GROUP_XMLNS,
        kind,
        to,
        children: vec![child],
    }
}

/// Checks the envelope of a `w:g2` request and returns its `to` and single child.
fn parse_head(node: &Node, kind: IqKind) -> Result<(Jid, &Node), StanzaError> {
    expect_iq(node, kind, GROUP_XMLNS)?;
    let to = req_jid(node, "to")?;
    match node.children() {
        [child] => Ok((to, child)),
        other => Err(bad(node, "child count", other.len())),
    }
}

/// `to` must be `g.us` itself.
fn expect_server(node: &Node, to: &Jid) -> Result<(), StanzaError> {
    if *to == group_server() {
        Ok(())
    } else {
        Err(bad(node, "to", to))
    }
}

/// `to` must be a group.
fn expect_group(node: &Node, to: Jid) -> Result<Jid, StanzaError> {
    if to.is_group() && !to.user_part().is_empty() {
        Ok(to)
    } else {
        Err(bad(node, "to", to))
    }
}

/// The `<iq type="result">` answering `id`, from `from`.
fn result(id: &str, from: &Jid, children: Vec<Node>) -> Node {
    let node = Node::new("iq")
        .with_attr("from", from)
        .with_attr("id", id)
        .with_attr("type", "result");
    if children.is_empty() {
        node
    } else {
        node.with_children(children)
    }
}

/// Checks `<iq type="result">`.
fn expect_result(node: &Node) -> Result<(), StanzaError> {
    expect_tag(node, "iq")?;
    match req_attr(node, "type")? {
        "result" => Ok(()),
        other => Err(bad(node, "type", other)),
    }
}

/// Unique user JIDs of `<participant jid>` children, 1 to `MAX_GROUP_PARTICIPANTS` of them
/// (`allow_empty` for `create`, where the creator alone is a group).
fn participant_jids(node: &Node, allow_empty: bool) -> Result<Vec<Jid>, StanzaError> {
    let list = participants_of(node)?;
    if list.is_empty() && !allow_empty {
        return Err(StanzaError::MissingChild {
            tag: node.tag.clone(),
            child: "participant",
        });
    }
    let mut jids: Vec<Jid> = Vec::with_capacity(list.len());
    for p in list {
        if jids.contains(&p.jid) {
            return Err(bad(node, "participant", &p.jid));
        }
        jids.push(p.jid);
    }
    Ok(jids)
}

fn participant_nodes(jids: &[Jid]) -> Vec<Node> {
    jids.iter()
        .map(|j| Node::new("participant").with_attr("jid", j.to_non_ad()))
        .collect()
}

/// Create a group: `<create subject key>` with the other participants (the creator is added by
/// the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateGroup {
    /// `subject`.
    pub subject: String,
    /// `key`: a client-chosen id that deduplicates the create notification.
    pub key: String,
    /// The participants besides the creator (user JIDs).
    pub participants: Vec<Jid>,
}

impl CreateGroup {
    /// The request (the connection allocates the IQ id).
    pub fn request(&self) -> IqRequest {
        let create = Node::new("create")
            .with_attr("subject", self.subject.as_str())
            .with_attr("key", self.key.as_str());
        let participants = participant_nodes(&self.participants);
        let create = if participants.is_empty() {
            create
        } else {
            create.with_children(participants)
        };
        group_iq(IqKind::Set, group_server(), create)
    }

    /// Parses the request (server side): to `g.us`, a non-empty subject of at most
    /// [`MAX_SUBJECT_LEN`] bytes, distinct user JIDs.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let (to, create) = parse_head(node, IqKind::Set)?;
        expect_server(node, &to)?;
        Self::from_child(create)
    }

    fn from_child(create: &Node) -> Result<Self, StanzaError> {
        expect_tag(create, "create")?;
        Ok(Self {
            subject: subject_attr(create)?,
            key: opt_text(create, "key")?.unwrap_or_default(),
            participants: participant_jids(create, true)?,
        })
    }
}

fn subject_attr(node: &Node) -> Result<String, StanzaError> {
    let subject = req_attr(node, "subject")?;
    check_subject(node, subject)
}

fn check_subject(node: &Node, subject: &str) -> Result<String, StanzaError> {
    if subject.trim().is_empty() || subject.len() > MAX_SUBJECT_LEN {
        return Err(bad(node, "subject", subject));
    }
    Ok(subject.to_owned())
}

/// The metadata query of `messaging.md` §9 step 1: `<query request="interactive"/>` to the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupQuery {
    /// The group.
    pub group: Jid,
}

impl GroupQuery {
    /// The request.
    pub fn request(&self) -> IqRequest {
        let query = Node::new("query").with_attr("request", "interactive");
        group_iq(IqKind::Get, self.group.clone(), query)
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let (to, query) = parse_head(node, IqKind::Get)?;
        expect_tag(query, "query")?;
        Ok(Self {
            group: expect_group(node, to)?,
        })
    }
}

/// The answer to [`CreateGroup`] and [`GroupQuery`]: the group's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupResult {
    /// The group.
    pub group: GroupInfo,
}

impl GroupResult {
    /// The `<iq type="result">` answering IQ `id`, sent from `from` (the IQ's `to`).
    pub fn to_node(&self, id: &str, from: &Jid) -> Node {
        result(id, from, vec![self.group.to_node()])
    }

    /// Parses the answer (client side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_result(node)?;
        Ok(Self {
            group: GroupInfo::from_node(req_child(node, "group")?)?,
        })
    }
}

/// What a participant change does (the child tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParticipantAction {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `promote` to admin.
    Promote,
    /// `demote` to member.
    Demote,
}

impl ParticipantAction {
    /// The tag.
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantAction::Add => "add",
            ParticipantAction::Remove => "remove",
            ParticipantAction::Promote => "promote",
            ParticipantAction::Demote => "demote",
        }
    }

    /// The action a tag names.
    pub fn of_tag(tag: &str) -> Option<Self> {
        Some(match tag {
            "add" => ParticipantAction::Add,
            "remove" => ParticipantAction::Remove,
            "promote" => ParticipantAction::Promote,
            "demote" => ParticipantAction::Demote,
            _ => return None,
        })
    }
}

/// Add, remove, promote or demote participants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateParticipants {
    /// The group.
    pub group: Jid,
    /// What to do.
    pub action: ParticipantAction,
    /// Whom (user JIDs).
    pub participants: Vec<Jid>,
}

impl UpdateParticipants {
    /// The request.
    pub fn request(&self) -> IqRequest {
        let change =
            Node::new(self.action.as_str()).with_children(participant_nodes(&self.participants));
        group_iq(IqKind::Set, self.group.clone(), change)
    }

    /// Parses the request (server side): 1 to `MAX_GROUP_PARTICIPANTS` distinct user JIDs.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let (to, change) = parse_head(node, IqKind::Set)?;
        let action =
            ParticipantAction::of_tag(&change.tag).ok_or_else(|| StanzaError::UnexpectedTag {
                expected: "add",
                got: change.tag.clone(),
            })?;
        Ok(Self {
            group: expect_group(node, to)?,
            action,
            participants: participant_jids(change, false)?,
        })
    }
}

/// The answer to [`UpdateParticipants`]: each participant with its result code (`error`, absent
/// when done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantsResult {
    /// The action answered.
    pub action: ParticipantAction,
    /// Per participant.
    pub participants: Vec<GroupParticipant>,
}

impl ParticipantsResult {
    /// The `<iq type="result">` answering `id` from `from` (the group).
    pub fn to_node(&self, id: &str, from: &Jid) -> Node {
        let list = self
            .participants
            .iter()
            .map(GroupParticipant::to_node)
            .collect();
        result(
            id,
            from,
            vec![Node::new(self.action.as_str()).with_children(list)],
        )
    }

    /// Parses the answer to a change of `action` (client side).
    pub fn from_node(node: &Node, action: ParticipantAction) -> Result<Self, StanzaError> {
        expect_result(node)?;
        let change = req_child(node, action.as_str())?;
        Ok(Self {
            action,
            participants: participants_of(change)?,
        })
    }
}

/// Change the subject: `<subject>〈bytes〉</subject>` to the group (answered with an empty result,
/// [`GroupDone`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSubject {
    /// The group.
    pub group: Jid,
    /// The new subject.
    pub subject: String,
}

impl SetSubject {
    /// The request.
    pub fn request(&self) -> IqRequest {
        let subject = Node::new("subject").with_bytes(self.subject.as_bytes().to_vec());
        group_iq(IqKind::Set, self.group.clone(), subject)
    }

    /// Parses the request (server side): a non-empty UTF-8 subject of at most
    /// [`MAX_SUBJECT_LEN`] bytes.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let (to, subject) = parse_head(node, IqKind::Set)?;
        expect_tag(subject, "subject")?;
        let text = match (subject.bytes(), subject.content_str()) {
            (Some(b), _) => core::str::from_utf8(b).map_err(|_| bad(subject, "content", b))?,
            (None, Some(s)) => s,
            (None, None) => "",
        };
        Ok(Self {
            group: expect_group(node, to)?,
            subject: check_subject(subject, text)?,
        })
    }
}

/// Leave groups: `<leave><group id="<gid>"/>…</leave>` to `g.us` (answered with [`GroupDone`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroup {
    /// The groups to leave.
    pub groups: Vec<Jid>,
}

impl LeaveGroup {
    /// The request.
    pub fn request(&self) -> IqRequest {
        let groups = self
            .groups
            .iter()
            .map(|g| Node::new("group").with_attr("id", g))
            .collect();
        group_iq(
            IqKind::Set,
            group_server(),
            Node::new("leave").with_children(groups),
        )
    }

    /// Parses the request (server side): to `g.us`, 1 to [`MAX_GROUPS`] group JIDs.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let (to, leave) = parse_head(node, IqKind::Set)?;
        expect_server(node, &to)?;
        expect_tag(leave, "leave")?;
        let groups: Vec<&Node> = leave.children_by_tag("group").collect();
        if groups.is_empty() || groups.len() > MAX_GROUPS {
            return Err(bad(leave, "group count", groups.len()));
        }
        Ok(Self {
            groups: groups
                .into_iter()
                .map(|g| group_jid(g, "id"))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The empty `<iq type="result">` answering [`SetSubject`] and [`LeaveGroup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupDone;

impl GroupDone {
    /// The answer to `id` from `from`.
    pub fn to_node(&self, id: &str, from: &Jid) -> Node {
        result(id, from, vec![])
    }

    /// Parses the answer (client side): any `type="result"`.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_result(node).map(|()| GroupDone)
    }
}

/// Get the group's invite code (`get`), or revoke it and get a new one (`set`, `reset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteCode {
    /// The group.
    pub group: Jid,
    /// Revoke the current code first.
    pub reset: bool,
}

impl InviteCode {
    /// The request.
    pub fn request(&self) -> IqRequest {
        let kind = if self.reset { IqKind::Set } else { IqKind::Get };
        group_iq(kind, self.group.clone(), Node::new("invite"))
    }

    /// Parses the request (server side), `get` or `set`.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let reset = node.attr_str("type") == Some("set");
        let kind = if reset { IqKind::Set } else { IqKind::Get };
        let (to, invite) = parse_head(node, kind)?;
        expect_tag(invite, "invite")?;
        Ok(Self {
            group: expect_group(node, to)?,
            reset,
        })
    }
}

/// Base of an invite link; the code follows.
pub const INVITE_LINK_PREFIX: &str = "https://chat.whatsapp.com/";

/// The answer to [`InviteCode`]: `<invite code/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteCodeResult {
    /// The code.
    pub code: String,
}

impl InviteCodeResult {
    /// The link `https://chat.whatsapp.com/<code>`.
    pub fn link(&self) -> String {
        format!("{INVITE_LINK_PREFIX}{}", self.code)
    }

    /// The answer to `id` from `from` (the group).
    pub fn to_node(&self, id: &str, from: &Jid) -> Node {
        let invite = Node::new("invite").with_attr("code", self.code.as_str());
        result(id, from, vec![invite])
    }

    /// Parses the answer (client side): a non-empty code.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_result(node)?;
        let invite = req_child(node, "invite")?;
        let code = opt_text(invite, "code")?.unwrap_or_default();
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad(invite, "code", code));
        }
        Ok(Self { code })
    }
}

/// List the groups we are in: `<participating><participants/><description/></participating>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParticipatingGroups;

impl ParticipatingGroups {
    /// The request.
    pub fn request(&self) -> IqRequest {
        let participating = Node::new("participating")
            .with_children(vec![Node::new("participants"), Node::new("description")]);
        group_iq(IqKind::Get, group_server(), participating)
    }

    /// Parses the request (server side).
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        let (to, participating) = parse_head(node, IqKind::Get)?;
        expect_server(node, &to)?;
        expect_tag(participating, "participating").map(|()| ParticipatingGroups)
    }
}

/// The answer to [`ParticipatingGroups`]: `<groups><group/>…</groups>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipatingResult {
    /// Every group we are in.
    pub groups: Vec<GroupInfo>,
}

impl ParticipatingResult {
    /// The answer to `id` (from `g.us`).
    pub fn to_node(&self, id: &str) -> Node {
        let groups = self.groups.iter().map(GroupInfo::to_node).collect();
        let groups = Node::new("groups").with_children(groups);
        result(id, &group_server(), vec![groups])
    }

    /// Parses the answer (client side): up to [`MAX_GROUPS`] groups.
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_result(node)?;
        let groups = req_child(node, "groups")?;
        let list: Vec<&Node> = groups.children_by_tag("group").collect();
        if list.len() > MAX_GROUPS {
            return Err(bad(groups, "group count", list.len()));
        }
        Ok(Self {
            groups: list
                .into_iter()
                .map(GroupInfo::from_node)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Any `w:g2` request, for a server to dispatch on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRequest {
    /// `create`.
    Create(CreateGroup),
    /// `query`.
    Query(GroupQuery),
    /// `add`/`remove`/`promote`/`demote`.
    Participants(UpdateParticipants),
    /// `subject`.
    Subject(SetSubject),
    /// `leave`.
    Leave(LeaveGroup),
    /// `invite`.
    Invite(InviteCode),
    /// `participating`.
    Participating(ParticipatingGroups),
    /// `description` (`group_topic.rs`).
    Description(SetDescription),
}

impl GroupRequest {
    /// Parses a `w:g2` IQ by its child's tag; an unknown child is [`StanzaError::UnexpectedTag`].
    pub fn from_node(node: &Node) -> Result<Self, StanzaError> {
        expect_tag(node, "iq")?;
        let xmlns = req_attr(node, "xmlns")?;
        if xmlns != GROUP_XMLNS {
            return Err(bad(node, "xmlns", xmlns));
        }
        let tag = node
            .children()
            .first()
            .map(|c| c.tag.as_str())
            .unwrap_or("");
        Ok(match tag {
            "create" => GroupRequest::Create(CreateGroup::from_node(node)?),
            "query" => GroupRequest::Query(GroupQuery::from_node(node)?),
            "subject" => GroupRequest::Subject(SetSubject::from_node(node)?),
            "leave" => GroupRequest::Leave(LeaveGroup::from_node(node)?),
            "invite" => GroupRequest::Invite(InviteCode::from_node(node)?),
            "participating" => GroupRequest::Participating(ParticipatingGroups::from_node(node)?),
            "description" => GroupRequest::Description(SetDescription::from_node(node)?),
            t if ParticipantAction::of_tag(t).is_some() => {
                GroupRequest::Participants(UpdateParticipants::from_node(node)?)
            }
            other => {
                return Err(StanzaError::UnexpectedTag {
                    expected: "create",
                    got: other.to_owned(),
                })
            }
        })
    }
}
