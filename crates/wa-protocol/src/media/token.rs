//! The upload token and path (`media.md` §3): `token` = URL-safe base64 of `fileEncSha256`,
//! the upload going to `/mms/<mms-type>/<token>?auth=<auth>&token=<token>`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::error::MediaError;
use super::kind::MediaType;

/// The upload token of a body: unpadded base64url of its SHA-256, as Baileys and whatsapp-rust
/// send it (`media.md` §3; whatsmeow pads, see [`parse_upload_token`]).
pub fn upload_token(file_enc_sha256: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(file_enc_sha256)
}

/// The `fileEncSha256` a token names. Both padding forms are taken (`media.md` §3 "Padding
/// disagreement": a trailing `=` or its query escape `%3D`).
pub fn parse_upload_token(token: &str) -> Result<[u8; 32], MediaError> {
    let trimmed = token
        .strip_suffix("%3D")
        .or_else(|| token.strip_suffix("%3d"))
        .or_else(|| token.strip_suffix('='))
        .unwrap_or(token);
    let bytes = URL_SAFE_NO_PAD
        .decode(trimmed)
        .map_err(|_| MediaError::BadToken)?;
    bytes.try_into().map_err(|_| MediaError::BadToken)
}

/// The upload path of a body of type `ty` with `token`: `/mms/<mms-type>/<token>`; the URL is
/// `https://<host>` + this + `?auth=<auth>&token=<token>` (`media.md` §3).
pub fn upload_path(ty: MediaType, token: &str) -> String {
    format!("/mms/{}/{}", ty.mms_type(), token)
}
