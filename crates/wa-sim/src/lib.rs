//! # wa-sim: an open, simulated WhatsApp network
//!
//! wa-sim lets everything in wagate run, be demonstrated and be tested offline. It is a real
//! server on `127.0.0.1` speaking the same wire protocol as WhatsApp's (WebSocket, Noise XX with a
//! certificate chain, binary nodes), built on the same `wa-protocol` code as the gateway, so
//! independent clients such as Baileys keep both sides honest.
//!
//! ```text
//!  client ──WebSocket──▶ front_door: intro, Noise responder (own root → intermediate → leaf),
//!                        ClientPayload checked ──▶ connection ──▶ roles::router ──▶
//!                          registration: roles::pairing (pair-device refs, pair-success
//!                            signed by the account's simulated phone, pair-device-sign
//!                            verified, 515; pair codes)
//!                          login: roles::session (<success>, prekey count/upload,
//!                            passive/active, digest, props, blocklist, privacy, app state,
//!                            pings, remove-companion-device); keys kept in roles::directory,
//!                            usync and prekey bundles served by roles::discovery;
//!                            <message>/<receipt>/<ack>: roles::messages (every addressed
//!                            device now or from the mailbox's offline queue; device 0 to
//!                            phone_inbox, which decrypts, records and answers with receipts;
//!                            `…@g.us` fanned out by roles::group_fanout to every member
//!                            device); w:g2 IQs: roles::groups (state in group_state,
//!                            w:gp2 notifications to members' companions)
//!  client ──HTTP /mms/…, /v/…──▶ media_http ──▶ media_store (files on disk, expiry)
//!  harness ──HTTP /admin/…──▶ admin ──▶ phone (scan a QR, type a pair code, unlink devices),
//!                             phone_send (encrypted messages of every kind, read receipts),
//!                             phone_group (sender keys: send to and read groups), phone
//!                             inboxes, groups (admin_groups: create, participants, metadata),
//!                             accounts (and their realism switches), faults, counters
//!  harness ──SimServer (Rust)──▶ the same operations in-process, plus an event stream
//! ```
//!
//! Shared state (`state`: keys, the `world` of accounts and devices, counters, events) is apart
//! from the listener (`server`). Every time a role puts on the wire comes from
//! [`SimConfig::clock`], so a [`ManualClock`](wa_protocol::time::ManualClock) runs the sim on
//! virtual time.
//!
//! It validates what clients send (IQs without id/type/xmlns, malformed uploads, wrong keys at
//! login) and answers the way the real server would: error IQs, `<failure>`, stream errors.
//!
//! It is also the media server (`media.md` §3), on the same port: `roles::media` answers
//! `media_conn` with an upload `auth` and the sim's own address as the host; `media_http` takes
//! `/mms/{type}/{token}` uploads (checked against `auth` and the token's hash, streamed into
//! `media_store`) and serves downloads by direct path (404 unknown, 410 expired); `admin_media`
//! lists and expires files. The phones send media (`phone_media`: fresh key, encrypted with
//! `wa_protocol::media` into the store) and fetch, verify and hash what they receive
//! (`phone_media_in`).

mod admin;
mod admin_groups;
mod admin_media;
mod config;
mod connection;
mod device_notify;
mod error;
mod event;
mod front_door;
mod group_state;
mod mailbox;
mod media_gallery;
mod media_http;
mod media_kind;
mod media_store;
mod nodes;
mod phone;
mod phone_group;
mod phone_group_send;
mod phone_inbox;
mod phone_kinds;
mod phone_media;
mod phone_media_in;
mod phone_media_retry;
mod phone_outgoing;
mod phone_peer;
mod phone_retry;
mod phone_send;
mod phone_state;
mod roles;
mod server;
mod state;
mod world;

pub use config::{MediaConfig, SimConfig};
pub use error::{SimError, SimFault};
pub use event::{ConnId, SimEvent};
pub use media_kind::MediaBody;
pub use media_store::MediaInfo;
pub use phone_kinds::{ContactBody, EditBody, LocationBody, PhoneSend, ReactionBody};
pub use phone_peer::HistoryRequestReceived;
pub use phone_state::ReceivedMessage;
pub use server::SimServer;
pub use state::Counters;
pub use world::{AccountInfo, AccountSwitches, Faults, SwitchesUpdate};
