//! Why an outgoing file is refused before anything is uploaded (a leaf: the crate's error
//! refers to it).

/// Why a file is refused before anything is uploaded (the caller's fault).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaRejected {
    /// No bytes at all.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// Larger than the kind's limit.
    #[error("the {class} is {len} bytes, more than the limit of {max} bytes")]
    TooLarge {
        /// The kind.
        class: &'static str,
        /// Bytes (at least) of the file.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The bytes are not of a type this kind takes (e.g. a PNG sent as audio).
    #[error("the bytes are {detected}, which cannot be sent as {class}")]
    WrongType {
        /// The kind asked for.
        class: &'static str,
        /// What the bytes are (`unknown` when no type was recognised).
        detected: String,
    },
    /// The caller's mimetype disagrees with the bytes (e.g. a PNG declared as a PDF).
    #[error("the mimetype {declared} was declared, but the bytes are {detected}")]
    MimeMismatch {
        /// The caller's mimetype.
        declared: String,
        /// What the bytes are (`unknown` when no type was recognised).
        detected: String,
    },
    /// The caller's mimetype is not `type/subtype`.
    #[error("bad mimetype {0:?}")]
    BadMimetype(String),
    /// The image cannot be decoded (for its thumbnail and dimensions).
    #[error("could not decode the {class}: {source}")]
    Undecodable {
        /// The kind.
        class: &'static str,
        /// Why.
        #[source]
        source: image::ImageError,
    },
    /// The caller's video thumbnail is not a JPEG.
    #[error("the thumbnail is not a JPEG")]
    BadThumbnail,
}
