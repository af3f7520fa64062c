//! The entry point other code calls: [`store_media`] puts one media file in the account's
//! storage and answers the `s3` object of the `Message` webhook (CONTRACTS §B.6:
//! `s3{url,key,bucket,size,mimeType,fileName}`).

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;
use utoipa::ToSchema;
use wa_protocol::binary::Jid;
use wa_store::Account;

use crate::error::ApiError;
use crate::objects::backend::{Backend, Objects};
use crate::objects::key::{is_safe_key, Direction, KeyParts};

/// A stored media object: the webhook's `s3` object, keys in wire order and spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredObject {
    /// Where apps fetch it: wuzapi's public URL for S3, `<gateway>/media/<key>` for the media
    /// directory.
    pub url: String,
    /// The object key (`users/<id>/<inbox|outbox>/…`).
    pub key: String,
    /// The bucket (`""` for the media directory).
    pub bucket: String,
    /// Bytes stored.
    pub size: u64,
    /// The media's MIME type.
    pub mime_type: String,
    /// `<messageId>.<ext>`.
    pub file_name: String,
}

/// Stores `file` (streamed, never read whole) as the media of message `message_id` exchanged
/// with `contact`, in `account`'s bucket when its S3 settings are enabled, in the gateway's
/// media directory otherwise. The key is wuzapi's (`key.rs`); the date is today's (UTC).
///
/// # Errors
///
/// [`ApiError::S3Init`] (the settings make no client), [`ApiError::ObjectStore`] (the bucket
/// refused or failed), [`ApiError::MediaDir`] (reading `file` or writing the media directory),
/// a 400 for a message id that cannot be part of a key.
pub async fn store_media(
    objects: &Objects,
    account: &Account,
    direction: Direction,
    contact: &Jid,
    message_id: &str,
    file: &Path,
    mimetype: &str,
) -> Result<StoredObject, ApiError> {
    let backend = objects.backend(account)?;
    let user_id = account.id.to_string();
    let contact = contact.to_string();
    let parts = KeyParts {
        user_id: &user_id,
        direction,
        contact: &contact,
        message_id,
        mimetype,
        at: SystemTime::now(),
    };
    store_parts(&backend, &parts, file).await
}

/// [`store_media`] with the key's parts given (the tests choose the date).
pub(crate) async fn store_parts(
    backend: &Backend,
    parts: &KeyParts<'_>,
    file: &Path,
) -> Result<StoredObject, ApiError> {
    let key = parts.key();
    if !is_safe_key(&key) {
        return Err(ApiError::bad_request("invalid message id"));
    }
    let size = backend.put_file(&key, file, parts.mimetype).await?;
    tracing::debug!(key = %key, size, bucket = backend.bucket(), "media stored");
    Ok(StoredObject {
        url: backend.url(&key),
        bucket: backend.bucket().to_owned(),
        size,
        mime_type: parts.mimetype.to_owned(),
        file_name: parts.file_name(),
        key,
    })
}
