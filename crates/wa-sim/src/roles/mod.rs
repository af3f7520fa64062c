//! The server's roles, one module each (`WA-SIM.md`): what a connection does once the
//! [front door](crate::front_door) has admitted it.
//!
//! - [`router`]: every stanza after the handshake: counters, events, dispatch by tag to the
//!   roles below; messages, receipts and offline queues will be routed here.
//! - [`pairing`]: registration connections (QR refs, pair-success, pair-device-sign, 515;
//!   pair codes).
//! - [`session`]: logged-in companions (`<success>`, the IQs of a fresh session, device
//!   removal).
//! - [`directory`]: the keys devices published.
//! - [`discovery`]: usync (devices, key-index list, LID) and prekey bundles, from the world and
//!   the directory.
//!
//! Homes that hold no code yet, so have no file: **groups** (id, subject, participants,
//! admins, fan-out to every participant device) and **media** (upload and download endpoints
//! on the admin port) arrive with their issues; **faults** beyond today's two switches
//! (`Faults` in the world) likewise.

pub(crate) mod directory;
pub(crate) mod discovery;
pub(crate) mod group_fanout;
pub(crate) mod groups;
pub(crate) mod messages;
pub(crate) mod pairing;
pub(crate) mod router;
pub(crate) mod session;
