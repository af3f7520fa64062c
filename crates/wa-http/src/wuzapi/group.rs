//! Group routes (CONTRACTS §A.7): list, info, create, name, topic, updateparticipants, leave,
//! invitelink, over `wa_client::Gateway`'s group calls (`group_api.rs`).
//!
//! Deliberate differences from wuzapi: failures answer in the error envelope with a real status
//! (wuzapi answers `500 {"code":500,"success":true}` with neither `error` nor `data`, §A.0), and
//! `info`/`invitelink` take `groupJID` from the query or, as older wuzapi did, from a JSON body.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};
use wa_protocol::binary::Jid;
use wa_protocol::stanza::ParticipantAction;

use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::{decode, GoJson};
use crate::phone::parse_recipient;
use crate::state::AppState;
use crate::wuzapi::group_view::{Details, GroupInfoView, GroupList, InviteLink};

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/group/list", get(list))
        .route("/group/info", get(info))
        .route("/group/invitelink", get(invite_link))
        .route("/group/create", post(create))
        .route("/group/name", post(name))
        .route("/group/topic", post(topic))
        .route("/group/updateparticipants", post(update_participants))
        .route("/group/leave", post(leave))
}

// ----- request bodies (lowercase wire names: `GoJson` folds keys) -----

/// `{"GroupJID"}` in a body (`info`/`invitelink` of older wuzapi, `leave`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct GroupRef {
    /// The group, `…@g.us`.
    #[serde(rename = "groupjid")]
    group_jid: String,
}

/// `POST /group/create`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct CreateGroup {
    /// The subject.
    name: String,
    /// Phone numbers (or JIDs) of the first members.
    participants: Vec<String>,
}

/// `POST /group/name`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SetName {
    /// The group.
    #[serde(rename = "groupjid")]
    group_jid: String,
    /// The new subject.
    name: String,
}

/// `POST /group/topic`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SetTopic {
    /// The group.
    #[serde(rename = "groupjid")]
    group_jid: String,
    /// The new description.
    topic: String,
}

/// `POST /group/updateparticipants`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct UpdateParticipants {
    /// The group.
    #[serde(rename = "groupjid")]
    group_jid: String,
    /// Phone numbers (or JIDs) of the members concerned.
    phone: Vec<String>,
    /// `add`, `remove`, `promote` or `demote`.
    action: String,
}

// ----- parsing -----

/// A `…@g.us` JID, or `400 could not parse Group JID`.
fn group_jid(value: &str) -> Result<Jid, ApiError> {
    let jid = parse_recipient(value, "Group JID")?;
    if jid.is_group() {
        Ok(jid)
    } else {
        Err(ApiError::bad_request("could not parse Group JID"))
    }
}

/// The group named by the query's `groupJID` (any letter case), else by a JSON body's
/// `GroupJID`; `400 missing groupJID parameter` when neither names one.
fn group_from(query: &HashMap<String, String>, body: &[u8]) -> Result<Jid, ApiError> {
    let from_query = query
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("groupjid") && !v.is_empty())
        .map(|(_, v)| v.clone());
    let value = match from_query {
        Some(v) => v,
        None => decode::<GroupRef>(body)
            .map(|r| r.group_jid)
            .unwrap_or_default(),
    };
    if value.trim().is_empty() {
        return Err(ApiError::bad_request("missing groupJID parameter"));
    }
    group_jid(&value)
}

fn participants(values: &[String]) -> Result<Vec<Jid>, ApiError> {
    values
        .iter()
        .map(|v| parse_recipient(v, "Participant Phone"))
        .collect()
}

fn action(value: &str) -> Result<ParticipantAction, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Err(ApiError::missing("Action")),
        "add" => Ok(ParticipantAction::Add),
        "remove" => Ok(ParticipantAction::Remove),
        "promote" => Ok(ParticipantAction::Promote),
        "demote" => Ok(ParticipantAction::Demote),
        _ => Err(ApiError::bad_request("invalid Action in Payload")),
    }
}

// ----- handlers -----

/// `GET /group/list`.
#[utoipa::path(get, path = "/group/list", tag = "group",
    responses((status = 200, description = "`data`: every group the account is in", body = GroupList),
              (status = 401, description = "unauthorized"),
              (status = 500, description = "no session")))]
async fn list(
    State(state): State<AppState>,
    User(account): User,
) -> Result<Envelope<GroupList>, ApiError> {
    let groups = state.gateway.groups(&account.id).await?;
    Ok(Envelope::ok(GroupList::new(&groups)))
}

/// `GET /group/info?groupJID=…` (or a body `{"GroupJID"}`).
#[utoipa::path(get, path = "/group/info", tag = "group",
    request_body(content = Option<GroupRef>, description = "Older clients: `{\"GroupJID\"}` in the body"),
    params(("groupJID" = String, Query, description = "The group, `…@g.us`")),
    responses((status = 200, description = "`data`: the group's metadata", body = GroupInfoView),
              (status = 400, description = "missing groupJID parameter / could not parse Group JID"),
              (status = 500, description = "no session")))]
async fn info(
    State(state): State<AppState>,
    User(account): User,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Envelope<GroupInfoView>, ApiError> {
    let group = group_from(&query, &body)?;
    let info = state.gateway.group_info(&account.id, &group).await?;
    Ok(Envelope::ok(GroupInfoView::from(&info)))
}

/// `GET /group/invitelink?groupJID=…&reset=true|false`.
#[utoipa::path(get, path = "/group/invitelink", tag = "group",
    request_body(content = Option<GroupRef>, description = "Older clients: `{\"GroupJID\"}` in the body"),
    params(("groupJID" = String, Query, description = "The group, `…@g.us`"),
           ("reset" = Option<bool>, Query, description = "Revoke the current link first")),
    responses((status = 200, description = "`data`: the invite link", body = InviteLink),
              (status = 400, description = "invalid reset parameter, must be true or false"),
              (status = 500, description = "no session")))]
async fn invite_link(
    State(state): State<AppState>,
    User(account): User,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Envelope<InviteLink>, ApiError> {
    let reset = match query.get("reset").map(|v| v.trim()) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid reset parameter, must be true or false",
            ))
        }
    };
    let group = group_from(&query, &body)?;
    let link = state
        .gateway
        .group_invite_link(&account.id, &group, reset)
        .await?;
    Ok(Envelope::ok(InviteLink { InviteLink: link }))
}

/// `POST /group/create`.
#[utoipa::path(post, path = "/group/create", tag = "group", request_body = CreateGroup,
    responses((status = 200, description = "`data`: the new group's metadata", body = GroupInfoView),
              (status = 400, description = "missing Name in Payload / missing Participants in Payload / could not parse Participant Phone"),
              (status = 500, description = "no session")))]
async fn create(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<CreateGroup>,
) -> Result<Envelope<GroupInfoView>, ApiError> {
    if body.name.trim().is_empty() {
        return Err(ApiError::missing("Name"));
    }
    if body.participants.is_empty() {
        return Err(ApiError::missing("Participants"));
    }
    let members = participants(&body.participants)?;
    let info = state
        .gateway
        .create_group(&account.id, body.name, members)
        .await?;
    Ok(Envelope::ok(GroupInfoView::from(&info)))
}

/// `POST /group/name`.
#[utoipa::path(post, path = "/group/name", tag = "group", request_body = SetName,
    responses((status = 200, description = "`data`: `{\"Details\":\"Group Name set successfully\"}`", body = Details),
              (status = 400, description = "missing Name in Payload / could not parse Group JID"),
              (status = 500, description = "no session")))]
async fn name(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<SetName>,
) -> Result<Envelope<Details>, ApiError> {
    let group = group_jid(&body.group_jid)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::missing("Name"));
    }
    state
        .gateway
        .set_group_subject(&account.id, &group, body.name)
        .await?;
    Ok(Envelope::ok(Details {
        Details: "Group Name set successfully",
    }))
}

/// `POST /group/topic`: sets the group's description (`Gateway::set_group_topic`).
#[utoipa::path(post, path = "/group/topic", tag = "group", request_body = SetTopic,
    responses((status = 200, description = "`data`: `{\"Details\":\"Group Topic set successfully\"}`", body = Details),
              (status = 400, description = "missing Topic in Payload / could not parse Group JID"),
              (status = 500, description = "no session")))]
async fn topic(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<SetTopic>,
) -> Result<Envelope<Details>, ApiError> {
    let group = group_jid(&body.group_jid)?;
    if body.topic.trim().is_empty() {
        return Err(ApiError::missing("Topic"));
    }
    state
        .gateway
        .set_group_topic(&account.id, &group, body.topic)
        .await?;
    Ok(Envelope::ok(Details {
        Details: "Group Topic set successfully",
    }))
}

/// `POST /group/updateparticipants`.
#[utoipa::path(post, path = "/group/updateparticipants", tag = "group",
    request_body = UpdateParticipants,
    responses((status = 200, description = "`data`: `{\"Details\":\"Group Participants updated successfully\"}`", body = Details),
              (status = 400, description = "missing Action in Payload / invalid Action in Payload / missing Phone in Payload / could not parse Participant Phone"),
              (status = 500, description = "no session")))]
async fn update_participants(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<UpdateParticipants>,
) -> Result<Envelope<Details>, ApiError> {
    let group = group_jid(&body.group_jid)?;
    let action = action(&body.action)?;
    if body.phone.is_empty() {
        return Err(ApiError::missing("Phone"));
    }
    let members = participants(&body.phone)?;
    state
        .gateway
        .update_participants(&account.id, &group, action, members)
        .await?;
    Ok(Envelope::ok(Details {
        Details: "Group Participants updated successfully",
    }))
}

/// `POST /group/leave`.
#[utoipa::path(post, path = "/group/leave", tag = "group", request_body = GroupRef,
    responses((status = 200, description = "`data`: `{\"Details\":\"Group left successfully\"}`", body = Details),
              (status = 400, description = "could not parse Group JID"),
              (status = 500, description = "no session")))]
async fn leave(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<GroupRef>,
) -> Result<Envelope<Details>, ApiError> {
    let group = group_jid(&body.group_jid)?;
    state.gateway.leave_group(&account.id, &group).await?;
    Ok(Envelope::ok(Details {
        Details: "Group left successfully",
    }))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list,
        info,
        invite_link,
        create,
        name,
        topic,
        update_participants,
        leave
    ),
    components(schemas(
        GroupRef,
        CreateGroup,
        SetName,
        SetTopic,
        UpdateParticipants,
        GroupInfoView,
        GroupList,
        InviteLink,
        Details
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn group_jids_come_from_the_query_or_the_body() {
        let mut q = HashMap::new();
        assert_eq!(
            group_from(&q, b"").unwrap_err().to_string(),
            "missing groupJID parameter"
        );
        let g = group_from(&q, br#"{"GroupJID":"120363000000000001@g.us"}"#).unwrap();
        assert!(g.is_group());
        q.insert("groupJID".to_owned(), "5511999990001".to_owned());
        assert_eq!(
            group_from(&q, b"").unwrap_err().to_string(),
            "could not parse Group JID"
        );
    }

    #[test]
    fn the_openapi_fragment_lists_every_group_route() {
        let doc = openapi();
        for path in [
            "/group/list",
            "/group/info",
            "/group/invitelink",
            "/group/create",
            "/group/name",
            "/group/topic",
            "/group/updateparticipants",
            "/group/leave",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path}");
        }
    }

    #[test]
    fn actions_are_the_contracts() {
        assert_eq!(
            action("").unwrap_err().to_string(),
            "missing Action in Payload"
        );
        assert_eq!(
            action("kick").unwrap_err().to_string(),
            "invalid Action in Payload"
        );
        assert_eq!(action("Promote").unwrap(), ParticipantAction::Promote);
    }
}
