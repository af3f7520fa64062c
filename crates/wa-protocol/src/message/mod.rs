//! Messages (`messaging.md`): the plaintext layer, pure and sans-IO.
//!
//! * [`content`]: [`Content`], the everyday kinds (text with reply and mentions, reaction, edit,
//!   revoke, location, contact) ↔ `pb::e2e::Message`, and the stanza `type` / `edit` attributes.
//! * [`key`]: [`MessageKey`], the typed reference to a message.
//! * [`device_sent`]: the own-device copy (DeviceSentMessage) wrap and unwrap, message secret.
//! * [`plaintext`]: serialization with WhatsApp padding ([`encode_padded`] /
//!   [`decode_padded`]) and [`ContentError`].
//!
//! ```text
//!  send:    Content::to_message ─▶ (own devices, 1:1 only: wrap_device_sent) ─▶ encode_padded
//!           per device ─▶ Signal; stanza attrs from Content::{stanza_type, edit_attr, media_type}
//!  receive: Signal ─▶ decode_padded(EncVersion::from_attr(v)) ─▶ unwrap_device_sent
//!           ─▶ (SKDM, if any) ─▶ Content::from_message
//! ```

pub mod content;
pub mod device_sent;
pub mod key;
pub mod plaintext;

pub use content::{
    Contact, Content, Edit, EditAttr, Location, Reaction, Reply, Revoke, StanzaType, Text,
    Unsupported,
};
pub use device_sent::{
    message_secret, set_message_secret, unwrap_device_sent, wrap_device_sent, Unwrapped,
};
pub use key::MessageKey;
pub use plaintext::{decode_padded, encode_padded, ContentError, EncVersion};
