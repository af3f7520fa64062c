//! The server's roles, one module each (`WA-SIM.md`): what a connection does once the
//! [front door](crate::front_door) has admitted it.
//!
//! - [`router`]: every stanza after the handshake: counters, events, dispatch by tag to the
//!   roles below.
//! - [`pairing`]: registration connections (QR refs, pair-success, pair-device-sign, 515;
//!   pair codes).
//! - [`session`]: logged-in companions (`<success>`, the IQs of a fresh session, device
//!   removal).
//! - [`directory`]: the keys devices published.
//! - [`discovery`]: usync (devices, key-index list, LID) and prekey bundles, from the world and
//!   the directory.
//! - [`messages`]: `<message>`/`<receipt>`/`<ack>` routing; [`group_fanout`]: what each member
//!   device gets of a group message, and where group receipts go.
//! - [`groups`]: group changes (`w:g2` IQs and the admin API) and their `w:gp2` notifications.
//! - [`media`]: the `media_conn` IQ (the upload and download endpoints it points at are in
//!   `media_http`, on the same port).
//!
//! Homes that hold no code yet, so have no file: **faults** beyond today's switches (`Faults`
//! in the world).

pub(crate) mod directory;
pub(crate) mod discovery;
pub(crate) mod group_fanout;
pub(crate) mod groups;
pub(crate) mod media;
pub(crate) mod messages;
pub(crate) mod pairing;
pub(crate) mod router;
pub(crate) mod session;
