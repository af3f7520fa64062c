//! Typed builders and parsers for the stanzas of the session lifecycle, one file per feature
//! (`session-lifecycle.md`). Every stanza the connection sends or reads is built and parsed
//! here (typed structs with `to_node` / `from_node`, or `request` / `from_node` for IQs whose id
//! the connection allocates), never inline in the state machine. Parsers are strict: a missing attribute or child is a
//! [`StanzaError`], so both our client and wa-sim refuse sloppy peers the same way.

mod account;
mod bundle;
mod iq;
mod login;
mod notify;
pub(crate) mod parse;
mod prekeys;
mod session;
mod usync;

pub use account::RemoveCompanionDevice;
pub use bundle::{
    BundleAnswer, BundleOutcome, BundleTarget, DeviceBundle, PreKeyBundleRequest,
    PreKeyBundleResult, MAX_BUNDLE_DEVICES, NO_BUNDLE_CODE,
};
pub use iq::{iq_error, iq_result, IqFailure, IqKind, IqRequest, IqResponse, Ping, ServerPing};
pub use login::{Passive, Presence, PropsRequest};
pub use notify::{Ib, NotificationAck, OfflineBatch};
pub use parse::{server_jid, StanzaError};
pub use prekeys::{
    parse_prekey_count, parse_prekey_upload, prekey_count_request, prekey_upload, KeyDigestRequest,
    PreKeyUpload, UploadedPreKey, UploadedSignedPreKey,
};
pub use session::{
    classify_stream_error, parse_failure, parse_success, FailureReason, StreamErrorKind, Success,
};
pub use usync::{
    KeyIndexList, KeyIndexListNode, UsyncDevice, UsyncDeviceList, UsyncQuery, UsyncResult,
    UsyncUser, KEY_INDEX_LIST_SIGNATURE_PREFIX, MAX_USER_DEVICES, MAX_USYNC_USERS,
};
