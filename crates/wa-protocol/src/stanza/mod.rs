//! Typed builders and parsers for the stanzas of the session lifecycle, one file per feature
//! (`session-lifecycle.md`). Every stanza the connection sends or reads is built and parsed
//! here (typed structs with `to_node` / `from_node`, or `request` / `from_node` for IQs whose id
//! the connection allocates), never inline in the state machine. Parsers are strict: a missing attribute or child is a
//! [`StanzaError`], so both our client and wa-sim refuse sloppy peers the same way.

mod account;
mod ack;
mod bundle;
mod chatstate;
mod fields;
mod group;
mod group_info;
mod group_notify;
mod group_topic;
mod iq;
mod login;
mod media_conn;
mod media_retry;
mod message;
mod notification;
mod notify;
pub(crate) mod parse;
mod prekeys;
mod privacy;
mod receipt;
mod session;
#[cfg(test)]
mod tests;
mod usync;

pub use account::RemoveCompanionDevice;
pub use ack::{nack, nack_for, AckClass, ServerAck, StanzaAck};
pub use bundle::{
    BundleAnswer, BundleOutcome, BundleTarget, DeviceBundle, PreKeyBundleRequest,
    PreKeyBundleResult, MAX_BUNDLE_DEVICES, NO_BUNDLE_CODE,
};
pub use chatstate::{ChatState, ChatStateKind};
pub use group::{
    group_server, CreateGroup, GroupDone, GroupQuery, GroupRequest, GroupResult, InviteCode,
    InviteCodeResult, LeaveGroup, ParticipantAction, ParticipantsResult, ParticipatingGroups,
    ParticipatingResult, SetSubject, UpdateParticipants, INVITE_LINK_PREFIX, MAX_GROUPS,
    MAX_SUBJECT_LEN,
};
pub use group_info::{
    GroupInfo, GroupParticipant, GroupTopic, ParticipantRole, GROUP_XMLNS, MAX_GROUP_PARTICIPANTS,
    MAX_TOPIC_LEN,
};
pub use group_notify::{GroupChange, GroupNotification, GROUP_NOTIFICATION_TYPE};
pub use group_topic::{DescriptionChange, SetDescription};
pub use iq::{iq_error, iq_result, IqFailure, IqKind, IqRequest, IqResponse, Ping, ServerPing};
pub use login::{Passive, Presence, PropsRequest};
pub use media_conn::{MediaConn, MediaConnRequest, MediaHost, MAX_MEDIA_HOSTS, MEDIA_CONN_XMLNS};
pub use media_retry::{
    MediaRetryBody, MediaRetryNotice, MediaRetryRequest, RetryMessageRef, Sealed,
    MEDIA_NOT_ON_PHONE, MEDIA_RETRY_NOTIFICATION_TYPE, SERVER_ERROR_RECEIPT_TYPE,
};
pub use message::{
    AddressingMode, AltAddresses, DeviceEnc, EditAttr, Enc, EncType, MessageStanza, MessageType,
    MAX_DIRECT_ENCS, MAX_ENC_COUNT, MAX_FANOUT,
};
pub use notification::{
    DeviceChange, DeviceChangeKind, Notification, NotificationBody, MAX_DEVICE_CHANGES,
};
pub use notify::{Ib, NotificationAck, OfflineBatch};
pub use parse::{server_jid, StanzaError};
pub use prekeys::{
    parse_prekey_count, parse_prekey_upload, prekey_count_request, prekey_upload, KeyDigestRequest,
    PreKeyUpload, UploadedPreKey, UploadedSignedPreKey,
};
pub use privacy::{
    IssuePrivacyTokens, PrivacyToken, PrivacyTokens, TcToken, MAX_TOKENS, MAX_TOKEN_LEN,
};
pub use receipt::{GroupedReceipt, Receipt, ReceiptType, RetryInfo, RetryKeys, MAX_RECEIPT_IDS};
pub use session::{
    classify_stream_error, parse_failure, parse_success, FailureReason, StreamErrorKind, Success,
};
pub use usync::{
    KeyIndexList, KeyIndexListNode, UsyncDevice, UsyncDeviceList, UsyncQuery, UsyncResult,
    UsyncUser, KEY_INDEX_LIST_SIGNATURE_PREFIX, MAX_USER_DEVICES, MAX_USYNC_USERS,
};
