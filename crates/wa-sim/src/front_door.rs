//! The front door: every client connection starts here. WebSocket upgrade, the `WA` intro,
//! the Noise XX handshake as responder (with the server's certificate chain), and the
//! ClientPayload checked and turned into a [`Role`]: a registration payload goes to the
//! pairing role, a login to the session role, anything else is refused. The handshake itself
//! is `wa_protocol::noise::Accept` (sans-IO, the one server-side sequence); the socket and its
//! timeouts live here; what follows runs in [`connection`](crate::connection).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::IntoResponse;
use rand::rngs::StdRng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use wa_protocol::noise::{Accept, Accepted};
use wa_protocol::payload::{check_client_payload, CheckedPayload, PayloadError};
use wa_protocol::signal::{KeyPair, PublicKey};

use crate::connection::{self, close_gracefully, Link};
use crate::error::SimError;
use crate::event::{ConnId, SimEvent};
use crate::roles::router::Role;
use crate::roles::{pairing, session};
use crate::state::{Action, Shared};

/// The WebSocket endpoint (every path that is not an admin route).
pub(crate) async fn ws_handler(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    let limit = shared.config.max_frame + 64;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| serve(socket, peer, shared))
}

/// One connection from accept to close, with its events.
async fn serve(socket: WebSocket, peer: SocketAddr, shared: Arc<Shared>) {
    let (tx, mut outbox) = mpsc::unbounded_channel();
    let conn = shared.open_conn(tx);
    shared.emit(SimEvent::Connected { conn, peer });
    if let Err(error) = admit_and_run(socket, conn, &shared, &mut outbox).await {
        tracing::debug!(conn, %error, "connection ended with an error");
        let error = Arc::new(error);
        shared.emit(SimEvent::ProtocolError { conn, error });
    }
    shared.close_conn(conn);
    shared.emit(SimEvent::Disconnected { conn });
}

/// The handshake, the payload check and the role; then the connection's loop.
async fn admit_and_run(
    mut ws: WebSocket,
    conn: ConnId,
    shared: &Shared,
    outbox: &mut mpsc::UnboundedReceiver<Action>,
) -> Result<(), SimError> {
    let mut rng = shared.fork_rng();
    let accepted = handshake(&mut ws, shared, &mut rng).await?;
    let payload = check_client_payload(&accepted.payload);
    shared.emit(SimEvent::ClientPayload {
        conn,
        client_static: accepted.client_static,
        intro: accepted.intro,
        payload: payload.clone(),
    });
    let (role, initial) = admit(shared, conn, &accepted.client_static, payload, &mut rng);
    if matches!(role, Role::Refused) && initial.is_empty() {
        close_gracefully(&mut ws).await;
        return Ok(());
    }
    let link = Link::new(ws, accepted.transport);
    connection::run(link, conn, shared, role, initial, outbox, rng).await
}

/// The role a checked payload gives a connection, and what the role sends first.
fn admit(
    shared: &Shared,
    conn: ConnId,
    client_static: &PublicKey,
    payload: Result<CheckedPayload, PayloadError>,
    rng: &mut StdRng,
) -> (Role, Vec<Action>) {
    match payload {
        Err(_) => (Role::Refused, vec![]),
        Ok(CheckedPayload::Registration(reg)) => {
            let (pairing, actions) = pairing::start(shared, conn, client_static, &reg, rng);
            (Role::Pairing(pairing), actions)
        }
        Ok(CheckedPayload::Login(login)) => {
            match session::start(shared, conn, client_static, &login) {
                Ok((session, actions)) => (Role::Session(session), actions),
                Err(actions) => (Role::Refused, actions),
            }
        }
    }
}

/// Noise XX as responder, through [`Accept`]: ClientHello in, ServerHello (with the
/// certificate chain) out, ClientFinish in; each client message within the handshake timeout.
async fn handshake(
    ws: &mut WebSocket,
    shared: &Shared,
    rng: &mut StdRng,
) -> Result<Accepted, SimError> {
    let mut accept = Accept::new(
        shared.static_key.clone(),
        shared.cert_chain.clone(),
        KeyPair::generate(rng),
        shared.config.max_frame,
    );
    let timeout = shared.config.handshake_timeout;
    let mut deadline = Instant::now() + timeout;
    loop {
        let data = match tokio::time::timeout_at(deadline, ws.recv()).await {
            Err(_) => return Err(SimError::HandshakeTimeout),
            Ok(Some(Ok(Message::Binary(data)))) => data,
            Ok(Some(Ok(Message::Close(_))) | None) => return Err(SimError::ClosedEarly),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.into()),
        };
        let accepted = accept.handle_input(&data)?;
        let mut answered = false;
        while let Some(out) = accept.poll_transmit() {
            ws.send(Message::Binary(out.into())).await?;
            answered = true;
        }
        if let Some(accepted) = accepted {
            return Ok(accepted);
        }
        if answered {
            // The client's next message has its own full timeout.
            deadline = Instant::now() + timeout;
        }
    }
}
