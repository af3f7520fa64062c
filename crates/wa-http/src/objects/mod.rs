//! Object storage for media (issue 13 item 5): the user's S3 bucket through object_store, or
//! the gateway's media directory as the embedded default; keys laid out as wuzapi lays them;
//! retention by a periodic sweep.
//!
//! Files: `key` (keys and public URLs, pure), `connector` (object_store over the workspace's
//! reqwest), `s3` and `local` (the two backends), `backend` ([`Objects`], which backend an
//! account uses), `media` (`store_media`, the entry point), `retention` (the sweep, deleting a
//! user's objects), `routes` (`/session/s3/*`, `GET /media/<key>`).

pub(crate) mod backend;
pub(crate) mod connector;
pub(crate) mod key;
pub(crate) mod local;
pub(crate) mod media;
pub(crate) mod retention;
pub(crate) mod routes;
pub(crate) mod s3;

pub use backend::Objects;
pub use key::Direction;
pub use media::{store_media, StoredObject};
pub use retention::{spawn_retention, sweep_all, SWEEP_EVERY};
