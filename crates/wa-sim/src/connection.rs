//! One admitted connection's loop: frames in, nodes through the [router](crate::roles::router)
//! to the connection's role, the role's answers and the harness's pushes out.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use rand::rngs::StdRng;
use tokio::sync::mpsc;
use wa_protocol::noise::FramedTransport;

use crate::error::SimError;
use crate::event::ConnId;
use crate::roles::router::{self, Role};
use crate::state::{Action, Shared};

/// The most queued actions one wake-up of the loop writes before it flushes the socket.
const MAX_PUSHES: usize = 256;

/// How long a graceful close waits for the client's Close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The socket of an admitted connection and its Noise transport.
pub(crate) struct Link {
    ws: WebSocket,
    transport: FramedTransport,
}

impl Link {
    /// A link over the socket whose handshake produced `transport`.
    pub(crate) fn new(ws: WebSocket, transport: FramedTransport) -> Self {
        Self { ws, transport }
    }

    /// Carries out what a role or the harness asked for; `true` once the connection is closed.
    /// Frames are queued on the socket, not flushed: the loop flushes once it has applied
    /// everything that was ready (one write for many frames, as a busy server does).
    async fn apply(&mut self, shared: &Shared, actions: Vec<Action>) -> Result<bool, SimError> {
        for action in actions {
            match action {
                Action::Send(node) => {
                    router::count_out(shared, &node);
                    let mut out = Vec::new();
                    self.transport.encode_node(&node, &mut out)?;
                    self.ws.feed(Message::Binary(out.into())).await?;
                }
                Action::Close => {
                    close_gracefully(&mut self.ws).await;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Writes every queued frame.
    async fn flush(&mut self) -> Result<(), SimError> {
        Ok(self.ws.flush().await?)
    }
}

/// Runs an admitted connection until either side closes it: first `initial` (what the role
/// sends on admission), then stanzas from the client and actions from `outbox`.
pub(crate) async fn run(
    mut link: Link,
    conn: ConnId,
    shared: &Shared,
    role: Role,
    initial: Vec<Action>,
    outbox: &mut mpsc::UnboundedReceiver<Action>,
    mut rng: StdRng,
) -> Result<(), SimError> {
    if link.apply(shared, initial).await? {
        return Ok(());
    }
    loop {
        while let Some(node) = link.transport.next_node()? {
            let actions = router::route(&role, shared, conn, &node, &mut rng);
            if link.apply(shared, actions).await? {
                return Ok(());
            }
        }
        link.flush().await?;
        tokio::select! {
            msg = link.ws.recv() => match msg {
                Some(Ok(Message::Binary(data))) => link.transport.push(&data),
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            },
            out = outbox.recv() => {
                let mut actions = vec![out.unwrap_or(Action::Close)];
                while actions.len() < MAX_PUSHES {
                    match outbox.try_recv() {
                        Ok(action) => actions.push(action),
                        Err(_) => break,
                    }
                }
                if link.apply(shared, actions).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Sends a Close frame and waits (briefly) for the client's, so the TCP close does not reset
/// bytes the client has not read yet.
pub(crate) async fn close_gracefully(ws: &mut WebSocket) {
    if ws.send(Message::Close(None)).await.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(msg)) = ws.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
}
