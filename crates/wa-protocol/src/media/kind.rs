//! Media types: each names its HKDF info string and its upload path (`media.md` §1, table).

/// What a media blob is: picks the HKDF info of its key expansion (`media.md` §1) and the
/// `/mms/<type>` path it is uploaded to (`media.md` §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaType {
    /// A photo (`ImageMessage`).
    Image,
    /// A sticker (`StickerMessage`): image keys, image path.
    Sticker,
    /// A video (`VideoMessage`).
    Video,
    /// A GIF (a `VideoMessage` with `gifPlayback`): video keys, video path.
    Gif,
    /// A round video note: video keys, video path.
    Ptv,
    /// Audio (`AudioMessage`).
    Audio,
    /// A voice note (`AudioMessage` with `ptt`): audio keys, audio path.
    Ptt,
    /// A file (`DocumentMessage`).
    Document,
    /// A history-sync blob (whatsmeow's path `md-msg-hist`; `media.md` §6 notes Baileys differs).
    History,
    /// An app-state blob.
    AppState,
    /// A link-preview thumbnail.
    LinkThumbnail,
    /// A sticker pack.
    StickerPack,
}

impl MediaType {
    /// Every media type, for tests and lookups.
    pub const ALL: [MediaType; 12] = [
        MediaType::Image,
        MediaType::Sticker,
        MediaType::Video,
        MediaType::Gif,
        MediaType::Ptv,
        MediaType::Audio,
        MediaType::Ptt,
        MediaType::Document,
        MediaType::History,
        MediaType::AppState,
        MediaType::LinkThumbnail,
        MediaType::StickerPack,
    ];

    /// The HKDF info string of the 112-byte key expansion (`media.md` §1, column "info").
    pub fn hkdf_info(self) -> &'static str {
        match self {
            MediaType::Image | MediaType::Sticker => "WhatsApp Image Keys",
            MediaType::Video | MediaType::Gif | MediaType::Ptv => "WhatsApp Video Keys",
            MediaType::Audio | MediaType::Ptt => "WhatsApp Audio Keys",
            MediaType::Document => "WhatsApp Document Keys",
            MediaType::History => "WhatsApp History Keys",
            MediaType::AppState => "WhatsApp App State Keys",
            MediaType::LinkThumbnail => "WhatsApp Link Thumbnail Keys",
            MediaType::StickerPack => "WhatsApp Sticker Pack Keys",
        }
    }

    /// The `mms-type`: the path segment of the upload URL `/mms/<type>/<token>` and the
    /// download URL's `mms-type` (`media.md` §1 table, §3). History follows whatsmeow
    /// (`md-msg-hist`; Baileys says `md-app-state`, `media.md` §6).
    pub fn mms_type(self) -> &'static str {
        match self {
            MediaType::Image | MediaType::Sticker => "image",
            MediaType::Video | MediaType::Gif | MediaType::Ptv => "video",
            MediaType::Audio | MediaType::Ptt => "audio",
            MediaType::Document => "document",
            MediaType::History => "md-msg-hist",
            MediaType::AppState => "md-app-state",
            MediaType::LinkThumbnail => "thumbnail-link",
            MediaType::StickerPack => "sticker-pack",
        }
    }

    /// The media type whose upload path segment is `mms_type` (the first of those sharing it:
    /// `image` → [`MediaType::Image`], `video` → [`MediaType::Video`], `audio` →
    /// [`MediaType::Audio`]); `None` for an unknown segment.
    pub fn from_mms_type(mms_type: &str) -> Option<MediaType> {
        MediaType::ALL
            .into_iter()
            .find(|t| t.mms_type() == mms_type)
    }

    /// Whether a streaming sidecar is computed for this type: audio and video only
    /// (`media.md` §2, "Optional for audio/video").
    pub fn has_sidecar(self) -> bool {
        matches!(
            self,
            MediaType::Video | MediaType::Gif | MediaType::Ptv | MediaType::Audio | MediaType::Ptt
        )
    }
}

#[cfg(test)]
mod tests {
    use super::MediaType;

    #[test]
    fn info_strings_and_paths_follow_the_table() {
        // media.md §1: exact ASCII.
        let rows = [
            (MediaType::Image, "WhatsApp Image Keys", "image"),
            (MediaType::Sticker, "WhatsApp Image Keys", "image"),
            (MediaType::Video, "WhatsApp Video Keys", "video"),
            (MediaType::Gif, "WhatsApp Video Keys", "video"),
            (MediaType::Ptv, "WhatsApp Video Keys", "video"),
            (MediaType::Audio, "WhatsApp Audio Keys", "audio"),
            (MediaType::Ptt, "WhatsApp Audio Keys", "audio"),
            (MediaType::Document, "WhatsApp Document Keys", "document"),
            (MediaType::History, "WhatsApp History Keys", "md-msg-hist"),
            (
                MediaType::AppState,
                "WhatsApp App State Keys",
                "md-app-state",
            ),
            (
                MediaType::LinkThumbnail,
                "WhatsApp Link Thumbnail Keys",
                "thumbnail-link",
            ),
            (
                MediaType::StickerPack,
                "WhatsApp Sticker Pack Keys",
                "sticker-pack",
            ),
        ];
        assert_eq!(rows.len(), MediaType::ALL.len());
        for (ty, info, path) in rows {
            assert_eq!(ty.hkdf_info(), info);
            assert_eq!(ty.mms_type(), path);
        }
        assert_eq!(MediaType::from_mms_type("image"), Some(MediaType::Image));
        assert_eq!(MediaType::from_mms_type("audio"), Some(MediaType::Audio));
        assert_eq!(MediaType::from_mms_type("nope"), None);
        assert!(MediaType::Ptt.has_sidecar() && !MediaType::Document.has_sidecar());
    }
}
