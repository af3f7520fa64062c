//! Preparing an outgoing file (issue 13 item 3): the type detected from its bytes and checked
//! against the caller's declarations ([`super::detect`]), the kind's size limit, and the
//! message fields read from the file — image dimensions and JPEG thumbnail, sticker
//! dimensions and animation, Ogg Opus duration — before anything is uploaded.
//!
//! Skipped without a video decoder (no ffmpeg): video posters (the caller's `JPEGThumbnail` is
//! sent, checked to be a JPEG), video duration and dimensions (the caller's `Seconds`); audio
//! waveforms and durations of formats other than Ogg Opus; PDF page counts.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::TempPath;
use wa_protocol::binary::Jid;
use wa_protocol::message::{
    AudioInfo, DocumentInfo, ImageInfo, MediaKind, Reply, StickerInfo, VideoInfo,
};

use crate::messaging::media::failure::MediaFailure;
use crate::messaging::media::upload::MediaSource;

use super::audio_info::opus_seconds;
use super::detect::checked_mimetype;
use super::image_info::{image_facts, is_jpeg, sticker_facts};
use super::rejected::MediaRejected;
use super::types::{MediaClass, MediaRequest};

/// Bytes read from the start of the file to detect its type (what `infer` looks at).
const HEAD: usize = 8_192;

/// A checked file with its message fields, ready to upload.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The file to upload.
    pub source: MediaSource,
    /// The staging file behind `source` when the request's was a reader (removed on drop).
    pub staged: Option<TempPath>,
    /// The kind with its fields (the upload fills the file fields).
    pub kind: MediaKind,
    /// The detected mimetype.
    pub mimetype: String,
    /// The reply.
    pub reply: Option<Reply>,
    /// The mentions.
    pub mentions: Vec<Jid>,
}

/// Why preparing failed: the caller's file, or reading it.
#[derive(Debug)]
pub(crate) enum PrepareError {
    /// Refused.
    Rejected(MediaRejected),
    /// The file could not be read or staged.
    Failed(MediaFailure),
}

impl From<MediaRejected> for PrepareError {
    fn from(e: MediaRejected) -> Self {
        PrepareError::Rejected(e)
    }
}

impl From<MediaFailure> for PrepareError {
    fn from(e: MediaFailure) -> Self {
        PrepareError::Failed(e)
    }
}

/// The file, on disk or in memory.
enum Local {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

impl Local {
    fn open(&self) -> Result<Box<dyn ReadSeek + '_>, MediaFailure> {
        Ok(match self {
            Local::Path(p) => {
                Box::new(BufReader::new(File::open(p).map_err(MediaFailure::Source)?))
            }
            Local::Bytes(b) => Box::new(Cursor::new(b.as_slice())),
        })
    }

    fn len(&self) -> Result<u64, MediaFailure> {
        match self {
            Local::Path(p) => Ok(std::fs::metadata(p).map_err(MediaFailure::Source)?.len()),
            Local::Bytes(b) => Ok(b.len() as u64),
        }
    }

    fn head(&self) -> Result<Vec<u8>, MediaFailure> {
        let mut head = Vec::with_capacity(HEAD);
        self.open()?
            .take(HEAD as u64)
            .read_to_end(&mut head)
            .map_err(MediaFailure::Source)?;
        Ok(head)
    }

    fn into_source(self) -> MediaSource {
        match self {
            Local::Path(p) => MediaSource::Path(p),
            Local::Bytes(b) => MediaSource::Bytes(b),
        }
    }
}

/// A buffered, seekable reader.
trait ReadSeek: BufRead + Seek {}
impl<T: BufRead + Seek> ReadSeek for T {}

/// Copies a reader into a staging file, refusing it past `max` bytes.
fn spool(
    mut reader: Box<dyn Read + Send>,
    max: u64,
    class: MediaClass,
    temp_dir: Option<&Path>,
) -> Result<TempPath, PrepareError> {
    let file = match temp_dir {
        Some(dir) => tempfile::NamedTempFile::new_in(dir),
        None => tempfile::NamedTempFile::new(),
    }
    .map_err(MediaFailure::TempFile)?;
    let (mut out, path) = file.into_parts();
    let copied =
        std::io::copy(&mut (&mut reader).take(max + 1), &mut out).map_err(MediaFailure::Source)?;
    if copied > max {
        return Err(MediaRejected::TooLarge {
            class: class.name(),
            len: copied,
            max,
        }
        .into());
    }
    out.flush().map_err(MediaFailure::TempFile)?;
    Ok(path)
}

/// Checks `request`'s file and reads its message fields (blocking: run on a blocking thread).
/// `temp_dir` holds the staging file of a reader.
pub(crate) fn prepare(
    request: MediaRequest,
    temp_dir: Option<&Path>,
) -> Result<Prepared, PrepareError> {
    let class = request.class;
    let max = request.limits.of(class);
    let (local, staged) = match request.source {
        MediaSource::Path(p) => (Local::Path(p), None),
        MediaSource::Bytes(b) => (Local::Bytes(b), None),
        MediaSource::Reader(r) => {
            let path = spool(r, max, class, temp_dir)?;
            (Local::Path(path.to_path_buf()), Some(path))
        }
    };
    let len = local.len()?;
    if len == 0 {
        return Err(MediaRejected::Empty(class.name()).into());
    }
    if len > max {
        return Err(MediaRejected::TooLarge {
            class: class.name(),
            len,
            max,
        }
        .into());
    }
    let head = local.head()?;
    let mimetype = checked_mimetype(class, &head, request.mimetype.as_deref())?;
    let fields = Fields {
        caption: request.caption.filter(|c| !c.is_empty()),
        file_name: request.file_name.filter(|n| !n.is_empty()),
        seconds: request.seconds,
        waveform: request.waveform.filter(|w| !w.is_empty()),
        jpeg_thumbnail: request.jpeg_thumbnail.filter(|t| !t.is_empty()),
    };
    let kind = kind_of(class, &local, &head, len, &request.limits, fields)?;
    Ok(Prepared {
        source: local.into_source(),
        staged,
        kind,
        mimetype,
        reply: request.reply,
        mentions: request.mentions,
    })
}

/// The caller's fields that go into the message as given.
struct Fields {
    caption: Option<String>,
    file_name: Option<String>,
    seconds: Option<u32>,
    waveform: Option<Vec<u8>>,
    jpeg_thumbnail: Option<Vec<u8>>,
}

/// The message kind with the fields read from the file.
fn kind_of(
    class: MediaClass,
    local: &Local,
    head: &[u8],
    len: u64,
    limits: &super::types::MediaLimits,
    fields: Fields,
) -> Result<MediaKind, PrepareError> {
    Ok(match class {
        MediaClass::Image => {
            let facts = image_facts(local.open()?, class.name())?;
            MediaKind::Image(ImageInfo {
                caption: fields.caption,
                width: Some(facts.width),
                height: Some(facts.height),
                jpeg_thumbnail: Some(facts.jpeg_thumbnail),
            })
        }
        MediaClass::Video => {
            if fields
                .jpeg_thumbnail
                .as_deref()
                .is_some_and(|t| !is_jpeg(t))
            {
                return Err(MediaRejected::BadThumbnail.into());
            }
            MediaKind::Video(VideoInfo {
                caption: fields.caption,
                seconds: fields.seconds,
                jpeg_thumbnail: fields.jpeg_thumbnail,
                ..VideoInfo::default()
            })
        }
        MediaClass::Audio | MediaClass::VoiceNote => MediaKind::Audio(AudioInfo {
            ptt: class == MediaClass::VoiceNote,
            seconds: opus_seconds(head, local.open()?).or(fields.seconds),
            waveform: fields.waveform,
            streaming_sidecar: None,
        }),
        MediaClass::Document => MediaKind::Document(DocumentInfo {
            caption: fields.caption,
            title: fields.file_name.clone(),
            file_name: fields.file_name,
            ..DocumentInfo::default()
        }),
        MediaClass::Sticker => {
            let facts = sticker_facts(head, local.open()?)?;
            let max = if facts.animated {
                limits.animated_sticker
            } else {
                limits.sticker
            };
            if len > max {
                return Err(MediaRejected::TooLarge {
                    class: if facts.animated {
                        "animated sticker"
                    } else {
                        "sticker"
                    },
                    len,
                    max,
                }
                .into());
            }
            MediaKind::Sticker(StickerInfo {
                width: Some(facts.width),
                height: Some(facts.height),
                is_animated: facts.animated,
                png_thumbnail: None,
            })
        }
    })
}
