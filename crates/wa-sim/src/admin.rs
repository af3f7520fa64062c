//! The admin HTTP API, on the same port as the WebSocket (`WA-SIM.md`): what tests, the demo and
//! people use to play the phone's part.
//!
//! | route | does |
//! |---|---|
//! | `POST /admin/accounts` `{"phone"}` | creates an account with a simulated primary phone |
//! | `GET /admin/accounts` | every account |
//! | `GET /admin/accounts/{phone}` | the account: LID, linked devices, prekeys on the server |
//! | `POST /admin/phones/{phone}/scan` (body: the QR text) | the phone scans a QR code |
//! | `POST /admin/phones/{phone}/pair-code` `{"code": "XXXX-XXXX"}` | the phone types a pair code |
//! | `DELETE /admin/phones/{phone}/devices/{device}` | the phone unlinks a companion |
//! | `PUT /admin/phones/{phone}/faults` `{"drop_pings", "refuse_login"}` | fault switches |
//! | `GET /admin/counters` | stanza counters |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Json;
use serde_json::json;

use crate::server::{remove_device, scan, AdminRouter, Shared, SimError};
use crate::world::Faults;

pub(crate) fn routes() -> AdminRouter {
    AdminRouter::new()
        .route("/admin/accounts", post(create_account).get(list_accounts))
        .route("/admin/accounts/{phone}", get(get_account))
        .route("/admin/phones/{phone}/scan", post(scan_qr))
        .route("/admin/phones/{phone}/pair-code", post(pair_code))
        .route("/admin/phones/{phone}/devices/{device}", delete(unlink))
        .route("/admin/phones/{phone}/faults", put(set_faults))
        .route("/admin/counters", get(counters))
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match self {
            SimError::NoAccount(_) | SimError::NotFound(_) | SimError::UnknownQr => {
                StatusCode::NOT_FOUND
            }
            SimError::BadQr(_) | SimError::QrMismatch => StatusCode::BAD_REQUEST,
            SimError::Bind { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

#[derive(serde::Deserialize)]
struct NewAccount {
    phone: String,
}

fn valid_phone(phone: &str) -> Result<(), SimError> {
    if (7..=15).contains(&phone.len()) && phone.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(SimError::NotFound(format!(
            "invalid phone number {phone:?}"
        )))
    }
}

async fn create_account(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<NewAccount>,
) -> Result<impl IntoResponse, SimError> {
    valid_phone(&body.phone)?;
    let mut rng = shared.fork_rng();
    let account = shared.with_world(|w| w.create_account(&body.phone, &mut rng));
    Ok((
        StatusCode::CREATED,
        Json(crate::server::AccountInfo::from(&account)),
    ))
}

async fn list_accounts(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.with_world(|w| {
        w.accounts()
            .map(crate::server::AccountInfo::from)
            .collect::<Vec<_>>()
    }))
}

async fn get_account(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
) -> Result<impl IntoResponse, SimError> {
    shared
        .with_world(|w| w.account(&phone).map(crate::server::AccountInfo::from))
        .map(Json)
        .ok_or(SimError::NoAccount(phone))
}

async fn scan_qr(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: String,
) -> Result<impl IntoResponse, SimError> {
    let jid = scan(&shared, &phone, body.trim())?;
    Ok(Json(json!({ "jid": jid.to_string() })))
}

#[derive(serde::Deserialize)]
struct CodeBody {
    code: String,
}

async fn pair_code(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    Json(body): Json<CodeBody>,
) -> Result<impl IntoResponse, SimError> {
    crate::server::enter_pair_code(&shared, &phone, &body.code)?;
    Ok(StatusCode::ACCEPTED)
}

async fn unlink(
    State(shared): State<Arc<Shared>>,
    Path((phone, device)): Path<(String, u8)>,
) -> Result<impl IntoResponse, SimError> {
    remove_device(&shared, &phone, device)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_faults(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    Json(faults): Json<Faults>,
) -> Result<impl IntoResponse, SimError> {
    shared.with_world(|w| {
        let a = w
            .account_mut(&phone)
            .ok_or_else(|| SimError::NoAccount(phone.clone()))?;
        a.faults = faults;
        Ok::<_, SimError>(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

async fn counters(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.with_world(|w| w.counters()))
}
