//! Media content on the wire: each kind's protobuf carries exactly the field numbers of
//! `media.md` §4 (read back with a raw wire walker, not with our own schema), and
//! `Content::Media` goes round trip with its reply and mentions.

use std::collections::BTreeMap;

use prost::Message as _;
use wa_protocol::binary::Jid;
use wa_protocol::media::{MediaKey, MediaType};
use wa_protocol::message::{
    AudioInfo, Content, DocumentInfo, ImageInfo, Media, MediaFile, MediaKind, Reply, StickerInfo,
    VideoInfo,
};
use wa_protocol::stanza::MessageType;

/// Field number → raw value (length-delimited bytes, or a varint as its bytes) of one level.
fn fields(mut b: &[u8]) -> BTreeMap<u64, Vec<u8>> {
    fn varint(b: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().expect("varint");
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        v
    }
    let mut out = BTreeMap::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let value = match key & 7 {
            0 => varint(&mut b).to_le_bytes().to_vec(),
            2 => {
                let len = usize::try_from(varint(&mut b)).expect("len");
                let (v, rest) = b.split_at(len);
                b = rest;
                v.to_vec()
            }
            other => panic!("wire type {other}"),
        };
        out.insert(key >> 3, value);
    }
    out
}

fn file() -> MediaFile {
    MediaFile {
        url: Some("https://mmg.example/v/t62/x.enc".into()),
        direct_path: Some("/v/t62/x.enc?ccb=1".into()),
        media_key: Some(MediaKey::from([1; 32])),
        file_sha256: Some([2; 32]),
        file_enc_sha256: Some([3; 32]),
        file_length: Some(1234),
        mimetype: Some("application/octet-stream".into()),
        media_key_timestamp: Some(1_700_000_000),
    }
}

fn reply() -> Reply {
    Reply {
        id: "3EB0AABBCCDDEEFF001122".parse().expect("id"),
        sender: Some("15550001111@s.whatsapp.net".parse().expect("jid")),
        quoted: None,
    }
}

fn media(kind: MediaKind) -> Content {
    let mention: Jid = "15550002222@s.whatsapp.net".parse().expect("jid");
    Content::Media(Box::new(Media {
        kind,
        file: file(),
        reply: Some(reply()),
        mentions: vec![mention],
    }))
}

/// (kind, container field in `Message`, field numbers expected inside, per media.md §4).
fn table() -> Vec<(Content, u64, Vec<u64>)> {
    vec![
        (
            media(MediaKind::Image(ImageInfo {
                caption: Some("c".into()),
                width: Some(4),
                height: Some(3),
                jpeg_thumbnail: Some(vec![0xff, 0xd8]),
            })),
            3,
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 16, 17],
        ),
        (
            media(MediaKind::Video(VideoInfo {
                caption: Some("c".into()),
                seconds: Some(9),
                width: Some(4),
                height: Some(3),
                gif_playback: true,
                jpeg_thumbnail: Some(vec![1]),
                streaming_sidecar: Some(vec![0; 10]),
            })),
            9,
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 16, 17, 18],
        ),
        (
            media(MediaKind::Audio(AudioInfo {
                ptt: true,
                seconds: Some(7),
                waveform: Some(vec![0; 64]),
                streaming_sidecar: Some(vec![0; 10]),
            })),
            8,
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 18, 19],
        ),
        (
            media(MediaKind::Document(DocumentInfo {
                caption: Some("c".into()),
                file_name: Some("a.pdf".into()),
                title: Some("a".into()),
                page_count: Some(2),
                jpeg_thumbnail: Some(vec![1]),
            })),
            7,
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 20],
        ),
        (
            media(MediaKind::Sticker(StickerInfo {
                width: Some(512),
                height: Some(512),
                is_animated: true,
                png_thumbnail: Some(vec![1]),
            })),
            26,
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 16, 17],
        ),
    ]
}

#[test]
fn field_numbers_follow_media_md_section_4() {
    for (content, container, expected) in table() {
        let bytes = content.to_message().encode_to_vec();
        let top = fields(&bytes);
        assert_eq!(top.keys().copied().collect::<Vec<_>>(), vec![container]);
        let inner = fields(&top[&container]);
        assert_eq!(
            inner.keys().copied().collect::<Vec<_>>(),
            expected,
            "{}",
            content.kind()
        );
        // mediaKey, hashes and length land on this kind's own numbers (they differ per type).
        let (key, sha, enc, len) = match container {
            3 => (8, 4, 9, 5),
            9 => (6, 3, 11, 4),
            8 => (7, 3, 8, 4),
            7 => (7, 4, 9, 5),
            _ => (4, 2, 3, 9),
        };
        assert_eq!(inner[&key], vec![1; 32]);
        assert_eq!(inner[&sha], vec![2; 32]);
        assert_eq!(inner[&enc], vec![3; 32]);
        assert_eq!(inner[&len][..2], 1234u64.to_le_bytes()[..2]);
        let ctx = fields(&inner[&17]);
        assert_eq!(ctx.keys().copied().collect::<Vec<_>>(), vec![1, 2, 15]);
        assert_eq!(Content::from_message(&content.to_message()), Ok(content));
    }
}

#[test]
fn stanza_attributes_and_types_per_kind() {
    let mut rows = Vec::new();
    for (content, _, _) in table() {
        let Content::Media(m) = &content else {
            panic!("media")
        };
        assert_eq!(content.stanza_type(), MessageType::Media);
        assert_eq!(content.quoted_id(), Some(&reply().id));
        rows.push((content.kind(), content.media_type(), m.media_type()));
    }
    assert_eq!(
        rows,
        vec![
            ("image", Some("image"), MediaType::Image),
            ("video", Some("gif"), MediaType::Gif),
            ("ptt", Some("ptt"), MediaType::Ptt),
            ("document", Some("document"), MediaType::Document),
            ("sticker", Some("sticker"), MediaType::Sticker),
        ]
    );
}

#[test]
fn a_wrong_length_key_or_hash_reads_as_absent() {
    let mut m = media(MediaKind::Image(ImageInfo::default())).to_message();
    let image = m.image_message.as_mut().expect("image");
    image.media_key = Some(vec![1; 31]);
    image.file_sha256 = Some(vec![2; 33]);
    let Ok(Content::Media(read)) = Content::from_message(&m) else {
        panic!("still media")
    };
    assert_eq!(read.file.media_key, None);
    assert_eq!(read.file.file_sha256, None);
    assert_eq!(read.file.file_enc_sha256, Some([3; 32]));
}
