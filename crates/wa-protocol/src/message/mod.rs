//! Messages (`messaging.md` §1–§11), pure and sans-IO: the plaintext layer and the Signal layer.
//!
//! Plaintext:
//! * [`content`]: [`Content`], the everyday kinds (text with reply and mentions, reaction, edit,
//!   revoke, location, contact) ↔ `pb::e2e::Message`, and the stanza `type` / `edit` attributes.
//! * [`key`]: [`MessageKey`], the typed reference to a message.
//! * [`history_sync`]: [`HistorySyncRequest`], the on-demand history sync asked of our phone.
//! * [`device_sent`]: the own-device copy (DeviceSentMessage) wrap and unwrap, message secret.
//! * [`plaintext`]: serialization with WhatsApp padding ([`encode_padded`] /
//!   [`decode_padded`]) and [`ContentError`].
//!
//! Signal, over records (plan a send → per-device ciphertext + records to persist; decrypt →
//! plaintext + records to persist):
//! * [`fanout`]: one padded plaintext per group of recipient devices → `pkmsg`/`msg` per device.
//! * [`receive`]: decrypt an incoming pairwise `<enc>`; classify failures (retry receipt,
//!   duplicate, nack).
//! * [`group`]: sender keys (SKDM, `skmsg`), who needs our SKDM, when to rotate, `phash`.
//! * [`retry`]: the keys a retry receipt carries and both sides' retry rules.
//!
//! ```text
//!  send:    Content::to_message ─▶ (own devices, 1:1 only: wrap_device_sent) ─▶ encode_padded
//!           ─▶ fanout::encrypt_fanout per device; stanza attrs (`stanza::{MessageType,
//!           EditAttr}`) from Content::{stanza_type, edit_attr, media_type}
//!  receive: receive::decrypt_pairwise / group::decrypt ─▶ decode_padded(EncVersion::from_attr(v))
//!           ─▶ unwrap_device_sent ─▶ (SKDM, if any) ─▶ Content::from_message
//! ```

pub mod content;
pub mod device_sent;
pub mod fanout;
pub mod group;
pub mod history_sync;
pub mod key;
pub mod media;
pub mod plaintext;
pub mod receive;
mod reply;
pub mod retry;

pub use content::{Contact, Content, Edit, Location, Reaction, Reply, Revoke, Text, Unsupported};
pub use device_sent::{
    message_secret, set_message_secret, unwrap_device_sent, wrap_device_sent, Unwrapped,
};
pub use history_sync::HistorySyncRequest;
pub use key::MessageKey;
pub use media::{
    AudioInfo, DocumentInfo, ImageInfo, Media, MediaFile, MediaKind, StickerInfo, VideoInfo,
};
pub use plaintext::{decode_padded, encode_padded, ContentError, EncVersion};
