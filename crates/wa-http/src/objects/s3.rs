//! The S3 backend: the user's [`S3Config`] (CONTRACTS §A.2) as an object_store `AmazonS3`
//! over [`ReqwestConnector`], uploads streamed from a file (one `PUT` up to [`PART_BYTES`],
//! multipart above it, at most [`PARTS_IN_FLIGHT`] parts in memory), the headers wuzapi's
//! `UploadToS3` sets (`Content-Type`, `Cache-Control: public, max-age=3600`,
//! `Content-Disposition: inline` for images, videos and PDFs). Retention is list + delete
//! (`retention.rs`): object_store has no lifecycle API and a bucket's lifecycle rules belong to
//! its owner.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, BackoffConfig, ObjectStore, ObjectStoreExt, RetryConfig,
};
use tokio::io::AsyncWriteExt;
use wa_store::S3Config;

use crate::error::ApiError;
use crate::objects::connector::ReqwestConnector;
use crate::objects::key::UrlStyle;

/// One `PUT` up to this size; multipart parts of this size above it (S3's smallest part).
pub(crate) const PART_BYTES: usize = 5 << 20;
/// Parts uploading at once (each held in memory while it goes).
pub(crate) const PARTS_IN_FLIGHT: usize = 2;

/// A bucket and the settings its URLs are built from.
#[derive(Clone)]
pub(crate) struct S3Bucket {
    store: Arc<AmazonS3>,
    config: S3Config,
}

/// Names the bucket only: the client holds the credentials.
impl std::fmt::Debug for S3Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Bucket")
            .field("bucket", &self.config.bucket)
            .finish_non_exhaustive()
    }
}

/// A builder error for settings object_store cannot check itself.
fn generic_error(why: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "S3",
        source: why.into(),
    }
}

/// The endpoint object_store is given: path style and AWS's default take the endpoint as is;
/// virtual-host style on another endpoint puts the bucket before its host (as the AWS SDK
/// wuzapi uses does).
fn endpoint_for(config: &S3Config) -> Result<Option<String>, object_store::Error> {
    let endpoint = config.endpoint.trim().trim_end_matches('/');
    if endpoint.is_empty() {
        return Ok(None);
    }
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| generic_error(format!("invalid endpoint: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(generic_error("the endpoint must be an http(s) URL".into()));
    }
    if config.path_style {
        return Ok(Some(endpoint.to_owned()));
    }
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    Ok(Some(format!("{scheme}://{}.{rest}", config.bucket)))
}

impl S3Bucket {
    /// A client for `config` (nothing is sent yet).
    pub(crate) fn new(config: &S3Config) -> Result<Self, object_store::Error> {
        if config.bucket.trim().is_empty() {
            return Err(generic_error("the bucket is missing".into()));
        }
        let region = if config.region.trim().is_empty() {
            "us-east-1"
        } else {
            config.region.trim()
        };
        let mut builder = AmazonS3Builder::new()
            .with_region(region)
            .with_bucket_name(config.bucket.trim())
            .with_access_key_id(config.access_key.trim())
            .with_secret_access_key(config.secret_key.expose().trim())
            .with_virtual_hosted_style_request(!config.path_style)
            .with_http_connector(ReqwestConnector)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(30),
            });
        if let Some(endpoint) = endpoint_for(config)? {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        Ok(Self {
            store: Arc::new(builder.build()?),
            config: config.clone(),
        })
    }

    /// The settings this client was built from.
    pub(crate) fn config(&self) -> &S3Config {
        &self.config
    }

    /// The bucket's name.
    pub(crate) fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// wuzapi's public URL of `key`.
    pub(crate) fn url(&self, key: &str) -> String {
        UrlStyle {
            public_url: &self.config.public_url,
            endpoint: &self.config.endpoint,
            bucket: &self.config.bucket,
            region: &self.config.region,
            path_style: self.config.path_style,
        }
        .url(key)
    }

    /// Uploads `file` to `key`, streaming; returns the size.
    pub(crate) async fn put_file(
        &self,
        key: &str,
        file: &Path,
        mimetype: &str,
    ) -> Result<u64, ApiError> {
        let mut source = tokio::fs::File::open(file)
            .await
            .map_err(ApiError::MediaDir)?;
        let store: Arc<dyn ObjectStore> = Arc::clone(&self.store) as Arc<dyn ObjectStore>;
        let mut writer = BufWriter::with_capacity(store, ObjectPath::from(key), PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT)
            .with_attributes(attributes(mimetype));
        let size = match tokio::io::copy(&mut source, &mut writer).await {
            Ok(size) => size,
            Err(e) => {
                // Drops the parts uploaded so far (a multipart upload is aborted).
                let _ = writer.abort().await;
                return Err(io_to_api(e));
            }
        };
        // The last part, or the single PUT, and completing the upload.
        writer.shutdown().await.map_err(io_to_api)?;
        Ok(size)
    }

    /// Puts `body` at `key`, reads it back, deletes it: the connection test.
    pub(crate) async fn round_trip(
        &self,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), object_store::Error> {
        let path = ObjectPath::from(key);
        self.store.put(&path, body.clone().into()).await?;
        let got = self.store.get(&path).await?.bytes().await;
        let deleted = self.store.delete(&path).await;
        if got?.as_ref() != body.as_slice() {
            return Err(generic_error(
                "the object read back differs from the one written".into(),
            ));
        }
        deleted
    }

    /// Deletes the objects below `prefix` last modified before `cutoff` (all when `None`):
    /// list, then batched deletes; returns how many.
    pub(crate) async fn delete_older(
        &self,
        prefix: &str,
        cutoff: Option<SystemTime>,
    ) -> Result<usize, object_store::Error> {
        let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
        let cutoff_ms = cutoff.map(unix_ms);
        let old: Vec<ObjectPath> = self
            .store
            .list(Some(&prefix))
            .try_filter(|meta| {
                let keep = cutoff_ms.is_some_and(|c| meta.last_modified.timestamp_millis() >= c);
                std::future::ready(!keep)
            })
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        let count = old.len();
        let paths = futures_util::stream::iter(old.into_iter().map(Ok)).boxed();
        self.store
            .delete_stream(paths)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(count)
    }
}

fn unix_ms(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// wuzapi's object headers.
fn attributes(mimetype: &str) -> Attributes {
    let content_type = if mimetype.is_empty() {
        "application/octet-stream"
    } else {
        mimetype
    };
    let mut attrs = Attributes::new();
    attrs.insert(Attribute::ContentType, content_type.to_owned().into());
    attrs.insert(Attribute::CacheControl, "public, max-age=3600".into());
    if mimetype.starts_with("image/")
        || mimetype.starts_with("video/")
        || mimetype == "application/pdf"
    {
        attrs.insert(Attribute::ContentDisposition, "inline".into());
    }
    attrs
}

/// The writer reports object_store's errors inside `io::Error`s: unwrap them back.
fn io_to_api(e: std::io::Error) -> ApiError {
    if e.get_ref()
        .is_some_and(|inner| inner.is::<object_store::Error>())
    {
        if let Some(inner) = e.into_inner() {
            if let Ok(store) = inner.downcast::<object_store::Error>() {
                return ApiError::ObjectStore(*store);
            }
        }
        return ApiError::Internal("object storage error lost".into());
    }
    ApiError::MediaDir(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: &str, path_style: bool) -> S3Config {
        S3Config {
            enabled: true,
            endpoint: endpoint.into(),
            bucket: "media".into(),
            path_style,
            ..S3Config::default()
        }
    }

    #[test]
    fn virtual_host_style_puts_the_bucket_before_the_host() {
        let endpoint = endpoint_for(&config("http://127.0.0.1:9000/", true))
            .ok()
            .flatten();
        assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let endpoint = endpoint_for(&config("https://minio.example.com", false))
            .ok()
            .flatten();
        assert_eq!(endpoint.as_deref(), Some("https://media.minio.example.com"));
        assert!(endpoint_for(&config("", false)).ok().flatten().is_none());
        assert!(endpoint_for(&config("ftp://x", true)).is_err());
        assert!(endpoint_for(&config("not a url", true)).is_err());
    }

    #[test]
    fn inline_for_images_videos_and_pdfs() {
        let inline = |m: &str| attributes(m).get(&Attribute::ContentDisposition).is_some();
        assert!(inline("image/jpeg") && inline("video/mp4") && inline("application/pdf"));
        assert!(!inline("audio/ogg") && !inline("application/zip"));
        let octet = attributes("");
        assert_eq!(
            octet.get(&Attribute::ContentType).map(|v| v.as_ref()),
            Some("application/octet-stream")
        );
    }
}
