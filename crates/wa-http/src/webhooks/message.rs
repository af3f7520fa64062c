//! The `Message` and `ReadReceipt` events in whatsmeow's shape (CONTRACTS §B.6 "Message event
//! shape"): `Info` (the message source: Chat, Sender, IsFromMe, IsGroup, AddressingMode,
//! SenderAlt, RecipientAlt, …, ID, Type, PushName, Timestamp), `Message` (the protobuf with
//! whatsmeow's JSON names: `conversation`, `extendedTextMessage.text`, …) and the flags.
//!
//! The sender's phone number always reaches the app (`messaging.md` §16): when the wire named
//! the sender by LID, `SenderAlt` is its phone-number JID (and the reverse).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use wa_client::ReceivedText;
use wa_protocol::binary::{Jid, Server};
use wa_protocol::pb::e2e as pb;
use wa_protocol::MessageId;

use crate::gotime::rfc3339;

fn text(jid: Option<&Jid>) -> String {
    jid.map(ToString::to_string).unwrap_or_default()
}

/// Whether `sender` is the account itself (another of its devices), comparing user parts with
/// the account's own phone-number JID.
pub(crate) fn from_me(m: &ReceivedText, own: Option<&Jid>) -> bool {
    let Some(own) = own else { return false };
    let user = own.user_part();
    m.sender.device.user_part() == user
        || m.sender
            .phone
            .as_ref()
            .is_some_and(|p| p.user_part() == user)
}

/// The `Message` event: `{"Info": …, "Message": …, "IsEdit": …, "RawMessage": …, …}`.
pub fn message_event(m: &ReceivedText, own: Option<&Jid>) -> Value {
    let by_lid = matches!(m.sender.device.server(), Server::Lid);
    let alt = if by_lid {
        m.sender.phone.as_ref()
    } else {
        m.sender.lid.as_ref()
    };
    let message = message_json(&m.content.to_message());
    let info = json!({
        "Chat": m.chat.to_string(),
        "Sender": m.sender.device.to_string(),
        "IsFromMe": from_me(m, own),
        "IsGroup": m.chat.is_group(),
        "AddressingMode": if by_lid { "lid" } else { "pn" },
        "SenderAlt": text(alt),
        "RecipientAlt": "",
        "BroadcastListOwner": "",
        "ID": m.id.as_str(),
        "ServerID": 0,
        "Type": m.content.stanza_type().as_str(),
        "PushName": m.push_name.clone().unwrap_or_default(),
        "Timestamp": rfc3339(Some(m.t)),
        "Category": "",
        "Multicast": false,
        "MediaType": m.content.media_type().unwrap_or(""),
        "Edit": m.content.edit_attr().map(|e| e.as_str()).unwrap_or(""),
        "VerifiedName": null,
        "DeviceSentMeta": null,
    });
    json!({
        "Info": info,
        "Message": message.clone(),
        "IsEphemeral": false,
        "IsViewOnce": false,
        "IsViewOnceV2": false,
        "IsDocumentWithCaption": false,
        "IsEdit": matches!(m.content, wa_protocol::message::Content::Edit(_)),
        "RetryCount": 0,
        "UnavailableRequestID": "",
        "RawMessage": message,
    })
}

/// A receipt's state (the `state` extra of `ReadReceipt`, CONTRACTS §B.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptState {
    /// The recipient's phone got it.
    Delivered,
    /// The recipient read it.
    Read,
}

impl ReceiptState {
    /// `Delivered` or `Read`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptState::Delivered => "Delivered",
            ReceiptState::Read => "Read",
        }
    }
}

/// The `ReadReceipt` event (whatsmeow `events.Receipt`): the chat of our message (when the
/// outbox still knows it), the ids, the time and the receipt type (`""` delivered, `read`).
pub fn receipt_event(id: &MessageId, chat: Option<&Jid>, t: u64, state: ReceiptState) -> Value {
    let chat_text = text(chat);
    json!({
        "Chat": chat_text,
        "Sender": chat_text,
        "IsFromMe": false,
        "IsGroup": chat.is_some_and(Jid::is_group),
        "AddressingMode": "",
        "SenderAlt": "",
        "RecipientAlt": "",
        "BroadcastListOwner": "",
        "MessageIDs": [id.as_str()],
        "Timestamp": rfc3339(Some(t)),
        "Type": match state { ReceiptState::Delivered => "", ReceiptState::Read => "read" },
        "MessageSender": "",
    })
}

fn key_json(k: &pb::MessageKey) -> Value {
    let mut o = Map::new();
    put(&mut o, "remoteJID", k.remote_jid.clone().map(Value::from));
    put(&mut o, "fromMe", k.from_me.map(Value::from));
    put(&mut o, "ID", k.id.clone().map(Value::from));
    put(
        &mut o,
        "participant",
        k.participant.clone().map(Value::from),
    );
    Value::Object(o)
}

fn context_json(c: &pb::ContextInfo) -> Value {
    let mut o = Map::new();
    put(&mut o, "stanzaID", c.stanza_id.clone().map(Value::from));
    put(
        &mut o,
        "participant",
        c.participant.clone().map(Value::from),
    );
    put(
        &mut o,
        "quotedMessage",
        c.quoted_message.as_deref().map(message_json),
    );
    put(&mut o, "remoteJID", c.remote_jid.clone().map(Value::from));
    if !c.mentioned_jid.is_empty() {
        o.insert("mentionedJID".into(), json!(c.mentioned_jid));
    }
    Value::Object(o)
}

fn put(o: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        o.insert(key.to_owned(), v);
    }
}

/// An object of the `Some` fields (Go's `omitempty`).
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut o = Map::new();
    for (key, value) in fields {
        put(&mut o, key, value);
    }
    Value::Object(o)
}

fn string(s: &Option<String>) -> Option<Value> {
    s.clone().map(Value::from)
}

fn contact_json(c: &pb::ContactMessage) -> Value {
    object(vec![
        ("displayName", string(&c.display_name)),
        ("vcard", string(&c.vcard)),
        ("contextInfo", c.context_info.as_deref().map(context_json)),
    ])
}

fn location_json(l: &pb::LocationMessage) -> Value {
    object(vec![
        ("degreesLatitude", l.degrees_latitude.map(Value::from)),
        ("degreesLongitude", l.degrees_longitude.map(Value::from)),
        ("name", string(&l.name)),
        ("address", string(&l.address)),
        ("URL", string(&l.url)),
        ("contextInfo", l.context_info.as_deref().map(context_json)),
    ])
}

fn text_json(t: &pb::ExtendedTextMessage) -> Value {
    object(vec![
        ("text", string(&t.text)),
        ("matchedText", string(&t.matched_text)),
        ("description", string(&t.description)),
        ("title", string(&t.title)),
        ("contextInfo", t.context_info.as_deref().map(context_json)),
    ])
}

fn protocol_json(p: &pb::ProtocolMessage) -> Value {
    object(vec![
        ("key", p.key.as_ref().map(key_json)),
        ("type", p.r#type.map(Value::from)),
        (
            "editedMessage",
            p.edited_message.as_deref().map(message_json),
        ),
        ("timestampMS", p.timestamp_ms.map(Value::from)),
    ])
}

fn reaction_json(r: &pb::ReactionMessage) -> Value {
    object(vec![
        ("key", r.key.as_ref().map(key_json)),
        ("text", string(&r.text)),
        ("senderTimestampMS", r.sender_timestamp_ms.map(Value::from)),
    ])
}

fn bytes(b: &Option<Vec<u8>>) -> Option<Value> {
    b.as_deref().map(|b| Value::from(STANDARD.encode(b)))
}

/// The file fields every media message shares, with whatsmeow's JSON names (`media.md` §4:
/// `URL`, `mimetype`, `fileSHA256`, `fileLength`, `mediaKey`, `fileEncSHA256`, `directPath`,
/// `mediaKeyTimestamp`; bytes as standard base64, which is what the download routes take).
/// The five protobuf messages share these field names.
macro_rules! file_fields {
    ($m:expr) => {
        vec![
            ("URL", string(&$m.url)),
            ("mimetype", string(&$m.mimetype)),
            ("fileSHA256", bytes(&$m.file_sha256)),
            ("fileLength", $m.file_length.map(Value::from)),
            ("mediaKey", bytes(&$m.media_key)),
            ("fileEncSHA256", bytes(&$m.file_enc_sha256)),
            ("directPath", string(&$m.direct_path)),
            ("mediaKeyTimestamp", $m.media_key_timestamp.map(Value::from)),
        ]
    };
}

fn with(
    mut fields: Vec<(&'static str, Option<Value>)>,
    more: Vec<(&'static str, Option<Value>)>,
) -> Value {
    fields.extend(more);
    object(fields)
}

fn image_json(i: &pb::ImageMessage) -> Value {
    with(
        file_fields!(i),
        vec![
            ("caption", string(&i.caption)),
            ("height", i.height.map(Value::from)),
            ("width", i.width.map(Value::from)),
            ("JPEGThumbnail", bytes(&i.jpeg_thumbnail)),
            ("contextInfo", i.context_info.as_deref().map(context_json)),
        ],
    )
}

fn video_json(v: &pb::VideoMessage) -> Value {
    with(
        file_fields!(v),
        vec![
            ("caption", string(&v.caption)),
            ("seconds", v.seconds.map(Value::from)),
            ("gifPlayback", v.gif_playback.map(Value::from)),
            ("height", v.height.map(Value::from)),
            ("width", v.width.map(Value::from)),
            ("JPEGThumbnail", bytes(&v.jpeg_thumbnail)),
            ("streamingSidecar", bytes(&v.streaming_sidecar)),
            ("contextInfo", v.context_info.as_deref().map(context_json)),
        ],
    )
}

fn audio_json(a: &pb::AudioMessage) -> Value {
    with(
        file_fields!(a),
        vec![
            ("seconds", a.seconds.map(Value::from)),
            ("PTT", a.ptt.map(Value::from)),
            ("streamingSidecar", bytes(&a.streaming_sidecar)),
            ("waveform", bytes(&a.waveform)),
            ("contextInfo", a.context_info.as_deref().map(context_json)),
        ],
    )
}

fn document_json(d: &pb::DocumentMessage) -> Value {
    with(
        file_fields!(d),
        vec![
            ("title", string(&d.title)),
            ("pageCount", d.page_count.map(Value::from)),
            ("fileName", string(&d.file_name)),
            ("caption", string(&d.caption)),
            ("JPEGThumbnail", bytes(&d.jpeg_thumbnail)),
            ("contextInfo", d.context_info.as_deref().map(context_json)),
        ],
    )
}

fn sticker_json(s: &pb::StickerMessage) -> Value {
    with(
        file_fields!(s),
        vec![
            ("height", s.height.map(Value::from)),
            ("width", s.width.map(Value::from)),
            ("isAnimated", s.is_animated.map(Value::from)),
            ("pngThumbnail", bytes(&s.png_thumbnail)),
            ("contextInfo", s.context_info.as_deref().map(context_json)),
        ],
    )
}

/// The protobuf `Message` with whatsmeow's JSON names (unset fields omitted, as Go's
/// `omitempty` does; enums as numbers; bytes as standard base64).
pub fn message_json(m: &pb::Message) -> Value {
    object(vec![
        ("conversation", string(&m.conversation)),
        ("imageMessage", m.image_message.as_deref().map(image_json)),
        ("videoMessage", m.video_message.as_deref().map(video_json)),
        ("audioMessage", m.audio_message.as_deref().map(audio_json)),
        (
            "documentMessage",
            m.document_message.as_deref().map(document_json),
        ),
        (
            "stickerMessage",
            m.sticker_message.as_deref().map(sticker_json),
        ),
        (
            "contactMessage",
            m.contact_message.as_deref().map(contact_json),
        ),
        (
            "locationMessage",
            m.location_message.as_deref().map(location_json),
        ),
        (
            "extendedTextMessage",
            m.extended_text_message.as_deref().map(text_json),
        ),
        (
            "protocolMessage",
            m.protocol_message.as_deref().map(protocol_json),
        ),
        (
            "reactionMessage",
            m.reaction_message.as_ref().map(reaction_json),
        ),
        (
            "editedMessage",
            m.edited_message
                .as_ref()
                .map(|e| json!({ "message": e.message.as_deref().map(message_json) })),
        ),
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use wa_client::Sender;
    use wa_protocol::message::Content;

    fn received(device: Jid, phone: Option<Jid>, lid: Option<Jid>) -> ReceivedText {
        ReceivedText {
            id: "3EB0AABBCCDDEEFF001122".parse().unwrap(),
            chat: Jid::user("15550100002", Server::WhatsApp),
            sender: Sender { device, phone, lid },
            t: 1_717_776_749,
            push_name: Some("Ana".into()),
            content: Content::text("hello"),
            report: None,
        }
    }

    #[test]
    fn a_lid_sender_carries_its_phone_number_in_sender_alt() {
        let m = received(
            Jid::device("99000000000002", 0, Server::Lid),
            Some(Jid::user("15550100002", Server::WhatsApp)),
            Some(Jid::lid("99000000000002")),
        );
        let v = message_event(&m, Some(&Jid::user("15550100001", Server::WhatsApp)));
        assert_eq!(v["Info"]["AddressingMode"], "lid");
        assert_eq!(v["Info"]["SenderAlt"], "15550100002@s.whatsapp.net");
        assert_eq!(v["Info"]["IsFromMe"], false);
        assert_eq!(v["Info"]["ID"], "3EB0AABBCCDDEEFF001122");
        assert_eq!(v["Info"]["PushName"], "Ana");
        assert_eq!(v["Info"]["Timestamp"], "2024-06-07T16:12:29Z");
        assert_eq!(v["Message"]["conversation"], "hello");
        assert_eq!(v["IsEdit"], false);
    }

    #[test]
    fn a_phone_sender_is_pn_addressed() {
        let m = received(
            Jid::device("15550100002", 0, Server::WhatsApp),
            Some(Jid::user("15550100002", Server::WhatsApp)),
            None,
        );
        let v = message_event(&m, None);
        assert_eq!(v["Info"]["AddressingMode"], "pn");
        assert_eq!(v["Info"]["Sender"], "15550100002@s.whatsapp.net");
        assert_eq!(v["Info"]["IsGroup"], false);
    }

    #[test]
    fn receipts_name_the_message_and_the_state() {
        let id: MessageId = "3EB0AABBCCDDEEFF001122".parse().unwrap();
        let chat = Jid::user("15550100002", Server::WhatsApp);
        let v = receipt_event(&id, Some(&chat), 1_717_776_749, ReceiptState::Read);
        assert_eq!(v["MessageIDs"][0], "3EB0AABBCCDDEEFF001122");
        assert_eq!(v["Chat"], "15550100002@s.whatsapp.net");
        assert_eq!(v["Type"], "read");
    }

    #[test]
    fn media_fields_have_whatsmeows_json_names() {
        use wa_protocol::media::MediaKey;
        use wa_protocol::message::{AudioInfo, ImageInfo, Media, MediaFile, MediaKind};
        let file = MediaFile {
            url: Some("https://mmg.example/x".into()),
            direct_path: Some("/v/t62/x.enc".into()),
            media_key: Some(MediaKey::from_slice(&[1; 32]).unwrap()),
            file_sha256: Some([2; 32]),
            file_enc_sha256: Some([3; 32]),
            file_length: Some(1234),
            mimetype: Some("image/jpeg".into()),
            media_key_timestamp: Some(1_717_776_749),
        };
        let image = Media {
            kind: MediaKind::Image(ImageInfo {
                caption: Some("look".into()),
                ..ImageInfo::default()
            }),
            file: file.clone(),
            reply: None,
            mentions: Vec::new(),
        };
        let mut m = received(Jid::device("15550100002", 0, Server::WhatsApp), None, None);
        m.content = Content::Media(Box::new(image));
        let v = message_event(&m, None);
        let i = &v["Message"]["imageMessage"];
        assert_eq!(i["URL"], "https://mmg.example/x");
        assert_eq!(i["directPath"], "/v/t62/x.enc");
        assert_eq!(i["mediaKey"], STANDARD.encode([1u8; 32]));
        assert_eq!(i["fileSHA256"], STANDARD.encode([2u8; 32]));
        assert_eq!(i["fileEncSHA256"], STANDARD.encode([3u8; 32]));
        assert_eq!(i["fileLength"], 1234);
        assert_eq!(i["mimetype"], "image/jpeg");
        assert_eq!(i["mediaKeyTimestamp"], 1_717_776_749);
        assert_eq!(i["caption"], "look");
        assert_eq!(v["Info"]["Type"], "media");
        assert_eq!(v["Info"]["MediaType"], "image");
        let voice = Media {
            kind: MediaKind::Audio(AudioInfo {
                ptt: true,
                seconds: Some(3),
                ..AudioInfo::default()
            }),
            file,
            reply: None,
            mentions: Vec::new(),
        };
        m.content = Content::Media(Box::new(voice));
        let v = message_event(&m, None);
        assert_eq!(v["Message"]["audioMessage"]["PTT"], true);
        assert_eq!(v["Message"]["audioMessage"]["seconds"], 3);
        assert_eq!(v["Info"]["MediaType"], "ptt");
    }
}
