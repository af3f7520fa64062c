//! Where an outgoing file comes from on the HTTP send routes (issue 13 item 6): a base64 data
//! URL (`data:<type>;base64,<data>`, decoded in chunks into a staging file) or an http(s) URL
//! fetched server-side through the SSRF guard ([`crate::webhooks::ssrf`]: literal addresses
//! checked first, names resolved by [`GuardedResolver`], redirects checked) and streamed into a
//! staging file. Either way the size limit is enforced while the bytes arrive, and the file is
//! handed to the gateway as a path ([`wa_client::MediaSource::Path`]).
//!
//! Only plain `http://` URLs can be fetched until the workspace enables reqwest's TLS backend:
//! an `https://` URL fails as unreachable (400).

use std::io::Write;
use std::time::Duration;

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use tempfile::{NamedTempFile, TempPath};
use wa_client::MediaSource;

use crate::webhooks::ssrf::{check_url, redirect_policy, GuardedResolver, UrlRefusal};

/// Base64 characters decoded per step (a multiple of 4: whole quanta).
const CHUNK: usize = 64 * 1024;
/// Time limit of a whole URL fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Time limit of connecting to a URL's host.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Standard base64, padding optional (clients differ).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an input could not be staged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaInputError {
    /// The data URL's payload is not base64.
    #[error("could not decode base64 encoded data from payload")]
    BadBase64,
    /// The URL is refused by the SSRF guard or is not an http(s) URL.
    #[error("failed to fetch {what} from url: {}", refusal_text(refusal))]
    Refused {
        /// The field (`image`, `video`, `media`).
        what: &'static str,
        /// Why.
        refusal: UrlRefusal,
    },
    /// The URL could not be fetched (unreachable, refused by the guard at connect time,
    /// timed out).
    #[error("failed to fetch {what} from url: {source}")]
    Unreachable {
        /// The field.
        what: &'static str,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The URL answered with another status than 200.
    #[error("failed to fetch {what} from url: the server answered {status}")]
    Status {
        /// The field.
        what: &'static str,
        /// The HTTP status.
        status: u16,
    },
    /// More bytes than the kind's limit.
    #[error("the {what} is more than the limit of {max} bytes")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The limit.
        max: u64,
    },
    /// The staging file could not be written.
    #[error("media staging file: {0}")]
    Staging(#[source] std::io::Error),
}

/// The guard's refusal in the words of a media URL (the guard's own texts name webhooks).
fn refusal_text(refusal: &UrlRefusal) -> String {
    match refusal {
        UrlRefusal::Invalid => "invalid URL".to_owned(),
        UrlRefusal::Scheme => "the URL must be http:// or https://".to_owned(),
        UrlRefusal::NoHost => "the URL has no host".to_owned(),
        UrlRefusal::Internal { addr } => format!(
            "the URL points to a loopback, private, link-local or otherwise internal address \
             ({addr}); the operator can allow it with --media-allow-private"
        ),
    }
}

/// A staged file: the bytes on disk (removed on drop) and the type the input named.
#[derive(Debug)]
pub struct Staged {
    path: TempPath,
    /// The data URL's media type (`image/png`), or the fetched response's `Content-Type`.
    pub named_type: Option<String>,
}

impl Staged {
    /// The file as the gateway takes it (valid while `self` lives).
    pub fn source(&self) -> MediaSource {
        MediaSource::Path(self.path.to_path_buf())
    }
}

/// A data URL split: its media type and base64 payload; `None` when it is not
/// `data:<type>[;…];base64,<payload>`.
pub fn split_data_url(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix("data:")?;
    let (head, payload) = rest.split_once(',')?;
    let mut params = head.split(';');
    let media_type = params.next().unwrap_or("").trim();
    params
        .any(|p| p.trim().eq_ignore_ascii_case("base64"))
        .then_some((media_type, payload))
}

/// Whether `value` is an http(s) URL.
pub fn is_http_url(value: &str) -> bool {
    let v = value.trim_start();
    v.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
        || v.get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
}

fn staging_file() -> Result<NamedTempFile, MediaInputError> {
    NamedTempFile::new().map_err(MediaInputError::Staging)
}

/// Decodes the base64 `payload` into a staging file, refusing more than `max` bytes.
pub fn stage_base64(
    payload: &str,
    named_type: Option<String>,
    what: &'static str,
    max: u64,
) -> Result<Staged, MediaInputError> {
    let (mut out, path) = staging_file()?.into_parts();
    let mut written = 0u64;
    let mut buf = Vec::with_capacity(CHUNK / 4 * 3);
    // Line breaks (MIME-style base64) are dropped; a payload without any is not copied.
    let bytes: std::borrow::Cow<'_, [u8]> = if payload.bytes().any(|b| b.is_ascii_whitespace()) {
        payload
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect::<Vec<u8>>()
            .into()
    } else {
        payload.as_bytes().into()
    };
    for chunk in bytes.chunks(CHUNK) {
        buf.clear();
        LENIENT
            .decode_vec(chunk, &mut buf)
            .map_err(|_| MediaInputError::BadBase64)?;
        written += buf.len() as u64;
        if written > max {
            return Err(MediaInputError::TooLarge { what, max });
        }
        out.write_all(&buf).map_err(MediaInputError::Staging)?;
    }
    out.flush().map_err(MediaInputError::Staging)?;
    Ok(Staged { path, named_type })
}

/// The fetch client: the SSRF guard's resolver and redirect policy.
fn client(allow_private: bool) -> Result<reqwest::Client, MediaInputError> {
    // `https` URLs: rustls with ring and the webpki roots (wa-client `tls.rs`).
    let tls = wa_client::https_client_config(&[])
        .map_err(|e| MediaInputError::Staging(std::io::Error::other(e)))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .dns_resolver(GuardedResolver { allow_private })
        .redirect(redirect_policy(allow_private))
        .build()
        .map_err(|e| MediaInputError::Staging(std::io::Error::other(e)))
}

/// Fetches `url` into a staging file through the SSRF guard, refusing more than `max` bytes
/// (the `Content-Length` first, then the bytes as they stream).
pub async fn fetch_url(
    url: &str,
    what: &'static str,
    max: u64,
    allow_private: bool,
) -> Result<Staged, MediaInputError> {
    let url = url.trim();
    check_url(url, allow_private)
        .await
        .map_err(|refusal| MediaInputError::Refused { what, refusal })?;
    let unreachable = |source| MediaInputError::Unreachable { what, source };
    let mut response = client(allow_private)?
        .get(url)
        .send()
        .await
        .map_err(unreachable)?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(MediaInputError::Status {
            what,
            status: response.status().as_u16(),
        });
    }
    if response.content_length().is_some_and(|len| len > max) {
        return Err(MediaInputError::TooLarge { what, max });
    }
    let named_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (mut out, path) = staging_file()?.into_parts();
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        written += chunk.len() as u64;
        if written > max {
            return Err(MediaInputError::TooLarge { what, max });
        }
        out.write_all(&chunk).map_err(MediaInputError::Staging)?;
    }
    out.flush().map_err(MediaInputError::Staging)?;
    Ok(Staged { path, named_type })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(
            split_data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(
            split_data_url("data:application/octet-stream;name=x.pdf;base64,QQ=="),
            Some(("application/octet-stream", "QQ=="))
        );
        assert_eq!(split_data_url("data:image/png,AAAA"), None);
        assert_eq!(split_data_url("image/png;base64,AAAA"), None);
        assert!(is_http_url("HTTPS://example.com/a.png"));
        assert!(!is_http_url("ftp://example.com/a.png"));
    }

    #[test]
    fn base64_is_decoded_in_chunks_within_the_limit() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
        let staged = stage_base64(&encoded, None, "image", 1 << 20).unwrap();
        let MediaSource::Path(p) = staged.source() else {
            panic!()
        };
        assert_eq!(std::fs::read(p).unwrap(), data);
        assert!(matches!(
            stage_base64(&encoded, None, "image", 1000),
            Err(MediaInputError::TooLarge { max: 1000, .. })
        ));
        assert!(matches!(
            stage_base64("not base64!", None, "image", 1000),
            Err(MediaInputError::BadBase64)
        ));
        // Unpadded input is accepted.
        let staged = stage_base64("QUJD", None, "document", 10).unwrap();
        let MediaSource::Path(p) = staged.source() else {
            panic!()
        };
        assert_eq!(std::fs::read(p).unwrap(), b"ABC");
        assert!(stage_base64("QUI", None, "document", 10).is_ok());
    }

    /// A server answering every request with `body`, its length announced or not (then the
    /// body ends with the connection).
    async fn serve(body: Vec<u8>, announce: bool) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut head = vec![0u8; 4096];
                    let _ = socket.read(&mut head).await;
                    let length = if announce {
                        format!("Content-Length: {}\r\n", body.len())
                    } else {
                        String::new()
                    };
                    let answer = format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n");
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn fetches_stream_within_the_limit() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        for announce in [true, false] {
            let addr = serve(body.clone(), announce).await;
            let url = format!("http://{addr}/f");
            let staged = fetch_url(&url, "image", 1 << 20, true).await.unwrap();
            let MediaSource::Path(p) = staged.source() else {
                panic!()
            };
            assert_eq!(std::fs::read(p).unwrap(), body);
            // Over the limit: refused by the announced length, or while streaming.
            assert!(matches!(
                fetch_url(&url, "image", 100_000, true).await,
                Err(MediaInputError::TooLarge { max: 100_000, .. })
            ));
        }
    }

    #[tokio::test]
    async fn private_urls_are_refused_without_the_switch() {
        assert!(matches!(
            fetch_url("http://127.0.0.1:9/x.png", "image", 10, false).await,
            Err(MediaInputError::Refused { .. })
        ));
        assert!(matches!(
            fetch_url("http://127.0.0.1:9/x.png", "image", 10, true).await,
            Err(MediaInputError::Unreachable { .. })
        ));
    }
}
