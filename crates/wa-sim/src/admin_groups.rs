//! The admin API's group routes (`WA-SIM.md` "Admin API"): a phone creates a group and changes
//! its participants, and tests read a group's state.
//!
//! | route | does |
//! |---|---|
//! | `POST /admin/phones/{phone}/groups` `{"subject", "participants": ["<phone>", …]}` → `201 {"jid"}` | the phone creates a group with these members (it is the super admin); LID-addressed when its account is LID-migrated |
//! | `POST /admin/phones/{phone}/groups/{jid}/participants` `{"action": "add\|remove\|promote\|demote", "participants": ["<phone>", …]}` → `{"participants": [{"phone", "error"}]}` | the phone (an admin) changes the participants; `error` is the per-participant code (absent: done; 409 already a member, 404 not a member, 403 the creator cannot be removed or demoted) |
//! | `GET /admin/groups/{jid}` → `{"jid", "subject", "owner", "creation", "addressing_mode", "invite", "participants": [{"phone", "lid", "role"}]}` | the group's state (`role`: member, admin, superadmin) |
//!
//! `POST /admin/phones/{phone}/send` with a group JID in `to` sends to the group. Errors as in
//! the other routes, plus 403 when the phone is not a participant (or not an admin for a
//! change) and 404 for an unknown group.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use wa_protocol::binary::Jid;
use wa_protocol::stanza::ParticipantAction;
use wa_protocol::PhoneNumber;

use crate::admin::{body, phone_number};
use crate::error::SimError;
use crate::group_state::Group;
use crate::roles::groups;
use crate::state::Shared;
use crate::world::World;

/// The group routes, over the shared state.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/admin/phones/{phone}/groups", post(create))
        .route(
            "/admin/phones/{phone}/groups/{jid}/participants",
            post(participants),
        )
        .route("/admin/groups/{jid}", get(metadata))
}

fn group_jid(text: &str) -> Result<Jid, SimError> {
    match text.parse::<Jid>() {
        Ok(jid) if jid.is_group() && !jid.user_part().is_empty() => Ok(jid),
        _ => Err(SimError::BadAddress(text.chars().take(64).collect())),
    }
}

fn phones(list: &[String]) -> Result<Vec<PhoneNumber>, SimError> {
    list.iter().map(|p| phone_number(p)).collect()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroupBody {
    subject: String,
    participants: Vec<String>,
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    json: Result<Json<NewGroupBody>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let body = body(json)?;
    let members = phones(&body.participants)?;
    let jid = groups::create(&shared, &phone, &body.subject, &members, None)?;
    Ok((StatusCode::CREATED, Json(json!({ "jid": jid.to_string() }))))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    action: String,
    participants: Vec<String>,
}

async fn participants(
    State(shared): State<Arc<Shared>>,
    Path((phone, jid)): Path<(String, String)>,
    json: Result<Json<ChangeBody>, JsonRejection>,
) -> Result<impl IntoResponse, SimError> {
    let phone = phone_number(&phone)?;
    let jid = group_jid(&jid)?;
    let body = body(json)?;
    let action = ParticipantAction::of_tag(&body.action).ok_or(SimError::BadGroupRequest)?;
    let list = phones(&body.participants)?;
    let results = groups::change(&shared, &phone, &jid, action, &list)?;
    let results: Vec<Value> = results
        .into_iter()
        .map(|(p, error)| match error {
            Some(code) => json!({ "phone": p.as_str(), "error": code }),
            None => json!({ "phone": p.as_str() }),
        })
        .collect();
    Ok(Json(json!({ "participants": results })))
}

async fn metadata(
    State(shared): State<Arc<Shared>>,
    Path(jid): Path<String>,
) -> Result<impl IntoResponse, SimError> {
    let jid = group_jid(&jid)?;
    let info = shared.with_world(|w| groups::group_of(w, &jid).map(|g| describe(w, g)))?;
    Ok(Json(info))
}

/// A group as `GET /admin/groups/{jid}` shows it.
fn describe(w: &World, g: &Group) -> Value {
    let participants: Vec<Value> = g
        .participants
        .iter()
        .map(|(phone, role)| {
            let lid = w.account(phone).map(|a| a.lid.clone()).unwrap_or_default();
            let role = role.as_str().unwrap_or("member");
            json!({ "phone": phone.as_str(), "lid": lid, "role": role })
        })
        .collect();
    json!({
        "jid": g.jid().to_string(),
        "subject": g.subject,
        "owner": g.owner.as_str(),
        "creation": g.creation,
        "addressing_mode": g.addressing.as_str(),
        "invite": g.invite,
        "participants": participants,
    })
}
