//! User routes (CONTRACTS §A.6): our presence, whether numbers are on WhatsApp (`check`), their
//! devices and LID (`info`), the stored PN ↔ LID pair of one number (`lid/{jid}`) and every
//! contact the account has learnt, with its push name (`contacts`). Thin handlers over
//! [`wa_client::Gateway`] (`set_presence`, `lookup_users`, `lid_mapping`, `known_contacts`,
//! `push_names`). `check` and `info` ask the server (a running session is needed: `no session`
//! otherwise); `lid` and `contacts` read the store only. Unlike wuzapi, `info` accepts bare phone numbers too (§A.6 lists the misparse as
//! a defect).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use wa_protocol::binary::Jid;

use super::user_dto::{
    CheckData, CheckedUser, ContactInfo, InfoData, LidData, PhonesBody, PresenceBody, PresenceData,
    UserInfo,
};
use crate::auth::User;
use crate::envelope::Envelope;
use crate::error::ApiError;
use crate::json::GoJson;
use crate::phone::parse_phone;
use crate::state::AppState;

/// This group's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/user/presence", post(presence))
        .route("/user/check", post(check))
        .route("/user/info", post(info))
        .route("/user/lid/{jid}", get(lid))
        .route("/user/contacts", get(contacts))
}

/// `POST /user/presence`: `available` or `unavailable`.
#[utoipa::path(post, path = "/user/presence", tag = "user", request_body = PresenceBody,
    responses(
        (status = 200, description = "`{\"Details\":\"Presence set successfuly\"}` (sic)", body = PresenceData),
        (status = 400, description = "`invalid presence type. Allowed values: 'available', 'unavailable'`"),
        (status = 401, description = "Unknown token"),
        (status = 500, description = "`no session`")))]
async fn presence(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<PresenceBody>,
) -> Result<Envelope<PresenceData>, ApiError> {
    let available = body.available()?;
    state.gateway.set_presence(&account.id, available).await?;
    Ok(Envelope::ok(PresenceData {
        details: "Presence set successfuly",
    }))
}

/// `POST /user/check`: whether each of `Phone[]` is on WhatsApp (one usync query).
#[utoipa::path(post, path = "/user/check", tag = "user", request_body = PhonesBody,
    responses(
        (status = 200, description = "One answer per number, in order", body = CheckData),
        (status = 400, description = "`missing Phone in Payload`, `could not parse Phone`"),
        (status = 500, description = "`no session`; the server refused the query")))]
async fn check(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<PhonesBody>,
) -> Result<Envelope<CheckData>, ApiError> {
    let asked = body.users()?;
    let jids = asked.iter().map(|(_, jid)| jid.clone()).collect();
    let found = state.gateway.lookup_users(&account.id, jids).await?;
    let users = asked
        .into_iter()
        .zip(found)
        .map(|((query, _), user)| CheckedUser {
            query,
            is_in_whatsapp: user.on_whatsapp,
            jid: user.user.to_string(),
            verified_name: String::new(),
        })
        .collect();
    Ok(Envelope::ok(CheckData { users }))
}

/// `POST /user/info`: devices and LID of each of `Phone[]` (JIDs or phone numbers).
#[utoipa::path(post, path = "/user/info", tag = "user", request_body = PhonesBody,
    responses(
        (status = 200, description = "Users by JID", body = InfoData),
        (status = 400, description = "`missing Phone in Payload`, `could not parse Phone`"),
        (status = 500, description = "`no session`; the server refused the query")))]
async fn info(
    State(state): State<AppState>,
    User(account): User,
    GoJson(body): GoJson<PhonesBody>,
) -> Result<Envelope<InfoData>, ApiError> {
    let jids = body.users()?.into_iter().map(|(_, jid)| jid).collect();
    let found = state.gateway.lookup_users(&account.id, jids).await?;
    let users = found
        .into_iter()
        .map(|u| {
            let info = UserInfo {
                verified_name: None,
                status: String::new(),
                picture_id: String::new(),
                devices: u.devices.iter().map(Jid::to_string).collect(),
                lid: u.lid.as_ref().map(Jid::to_string).unwrap_or_default(),
            };
            (u.user.to_string(), info)
        })
        .collect();
    Ok(Envelope::ok(InfoData { users }))
}

/// `GET /user/lid/{jid}`: the stored LID of a phone number (or the phone number of a LID).
#[utoipa::path(get, path = "/user/lid/{jid}", tag = "user",
    params(("jid" = String, Path, description = "Phone number or JID")),
    responses(
        (status = 200, description = "The pair", body = LidData),
        (status = 400, description = "`could not parse Phone`"),
        (status = 404, description = "`LID not found for this number`")))]
async fn lid(
    State(state): State<AppState>,
    User(account): User,
    Path(jid): Path<String>,
) -> Result<Envelope<LidData>, ApiError> {
    let user = parse_phone(&jid)?;
    let mapping = state
        .gateway
        .lid_mapping(&account.id, &user)
        .await?
        .ok_or_else(|| ApiError::NotFound("LID not found for this number".into()))?;
    Ok(Envelope::ok(LidData {
        jid: mapping.pn.to_jid().to_string(),
        lid: mapping.lid.to_string(),
    }))
}

/// `GET /user/contacts`: every contact the account has learnt: its PN ↔ LID pair and the push
/// name its messages announced (either may be missing).
#[utoipa::path(get, path = "/user/contacts", tag = "user",
    responses(
        (status = 200, description = "Contacts by phone-number JID", body = BTreeMap<String, ContactInfo>),
        (status = 401, description = "Unknown token")))]
async fn contacts(
    State(state): State<AppState>,
    User(account): User,
) -> Result<Envelope<BTreeMap<String, ContactInfo>>, ApiError> {
    let known = state.gateway.known_contacts(&account.id).await?;
    let names = state.gateway.push_names(&account.id).await?;
    let mut contacts: BTreeMap<String, ContactInfo> = BTreeMap::new();
    for m in known {
        contact(&mut contacts, m.pn.to_jid().to_string()).lid = m.lid.to_string();
    }
    for n in names {
        contact(&mut contacts, n.pn.to_jid().to_string()).push_name = n.name;
    }
    Ok(Envelope::ok(contacts))
}

/// The entry of `jid`, a found contact with nothing known yet when new.
fn contact(contacts: &mut BTreeMap<String, ContactInfo>, jid: String) -> &mut ContactInfo {
    contacts.entry(jid).or_insert_with(|| ContactInfo {
        found: true,
        first_name: String::new(),
        full_name: String::new(),
        push_name: String::new(),
        business_name: String::new(),
        lid: String::new(),
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(presence, check, info, lid, contacts),
    components(schemas(
        PresenceBody,
        PresenceData,
        PhonesBody,
        CheckData,
        CheckedUser,
        InfoData,
        UserInfo,
        LidData,
        ContactInfo
    ))
)]
struct Doc;

/// This group's OpenAPI paths and schemas.
pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}
