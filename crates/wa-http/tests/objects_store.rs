//! Object storage (issue 13 item 5) in process: `store_media` into an S3-compatible server the
//! test starts itself (moto's server mode; installed when missing, the test FAILS when it cannot
//! start), the bytes read back from the server at the URL wuzapi would give, multipart for large
//! files, retention driven by the `now` parameter (never a sleep); the media directory backend
//! likewise, served back at `GET /media/<key>` to the owner's token only.

use std::time::{Duration, SystemTime};

use axum::body::{to_bytes, Body};
use axum::http::Request;
use tower::ServiceExt;
use wa_http::objects::{store_media, sweep_all, Direction};
use wa_http::router;
use wa_store::{S3Config, Secret};
use wa_testkit::{temp_dir, Moto};

mod objects_support;

use objects_support::{contact, s3_config, state_with_account, write_file, SEED};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_goes_to_s3_under_wuzapis_key_and_url_and_expires() {
    let moto = Moto::start().await;
    moto.create_bucket("wagate-media").await;
    let dir = temp_dir("objects-s3");
    let (state, mut account) = state_with_account(&dir.path().join("media")).await;
    account.s3 = s3_config(&moto, "wagate-media");

    let (small, small_bytes) = write_file(dir.path(), "photo.jpg", 70_000);
    let stored = store_media(
        &state.objects,
        &account,
        Direction::Inbox,
        &contact(),
        "3EB0C0FFEE0001",
        &small,
        "image/jpeg",
    )
    .await
    .expect("store the image");
    let today =
        humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..10].replace('-', "/");
    assert_eq!(
        stored.key,
        format!(
            "users/{}/inbox/15550001111_3_s.whatsapp.net/{today}/images/3EB0C0FFEE0001.jpg",
            account.id
        )
    );
    // Path style without public_url: <endpoint>/<bucket>/<key>, as wuzapi builds it.
    assert_eq!(
        stored.url,
        format!("{}/wagate-media/{}", moto.url(), stored.key)
    );
    assert_eq!(stored.bucket, "wagate-media");
    assert_eq!(stored.size, 70_000);
    assert_eq!(stored.mime_type, "image/jpeg");
    assert_eq!(stored.file_name, "3EB0C0FFEE0001.jpg");
    let json = serde_json::to_value(&stored).expect("json");
    for field in ["url", "key", "bucket", "size", "mimeType", "fileName"] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
    let got = moto.fetch(&stored.url).await.expect("the image is there");
    assert!(got == small_bytes, "the image's bytes differ");

    // Larger than one part: a multipart upload (5 MiB parts), the same bytes back.
    let (large, large_bytes) = write_file(dir.path(), "video.mp4", 12 << 20);
    let big = store_media(
        &state.objects,
        &account,
        Direction::Outbox,
        &contact(),
        "3EB0C0FFEE0002",
        &large,
        "video/mp4",
    )
    .await
    .expect("store the video");
    assert!(big.key.contains("/outbox/") && big.key.ends_with("/videos/3EB0C0FFEE0002.mp4"));
    assert_eq!(big.size, 12 << 20);
    let got = moto.fetch(&big.url).await.expect("the video is there");
    assert!(got == large_bytes, "the video's bytes differ");

    // A public_url names the object under it (the bucket not appended).
    account.s3.public_url = "https://cdn.example.com/media/".into();
    let cdn = store_media(
        &state.objects,
        &account,
        Direction::Inbox,
        &contact(),
        "3EB0C0FFEE0003",
        &small,
        "application/pdf",
    )
    .await
    .expect("store the pdf");
    assert_eq!(
        cdn.url,
        format!("https://cdn.example.com/media/{}", cdn.key)
    );
    assert!(cdn.key.ends_with("/documents/3EB0C0FFEE0003.pdf"));

    // Retention: nothing is 30 days old 29 days from now; everything is 31 days from now.
    state
        .gateway
        .save_account(account.clone())
        .await
        .expect("save the S3 settings");
    let prefix = format!("users/{}/", account.id);
    assert_eq!(sweep_all(&state, SystemTime::now() + 29 * DAY).await, 0);
    assert_eq!(moto.keys("wagate-media", &prefix).await.len(), 3);
    assert_eq!(sweep_all(&state, SystemTime::now() + 31 * DAY).await, 3);
    assert!(moto.keys("wagate-media", &prefix).await.is_empty());
    assert!(moto.fetch(&stored.url).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bucket_is_an_error_naming_no_secret() {
    let dir = temp_dir("objects-s3-down");
    let (state, mut account) = state_with_account(&dir.path().join("media")).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    account.s3 = S3Config {
        enabled: true,
        endpoint: format!("http://{closed}"),
        bucket: "nowhere".into(),
        access_key: "AKIDEXAMPLE".into(),
        secret_key: Secret::new("wJalrXUtnFEMI-secret-0123456789".into()),
        ..S3Config::default()
    };
    let (file, _) = write_file(dir.path(), "a.jpg", 10);
    let err = store_media(
        &state.objects,
        &account,
        Direction::Inbox,
        &contact(),
        "3EB0C0FFEE0009",
        &file,
        "image/jpeg",
    )
    .await
    .expect_err("nothing listens there");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
    assert!(err.status_and_text().0.is_server_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_directory_files_are_served_to_their_owner_and_expire() {
    let dir = temp_dir("objects-local");
    let media = dir.path().join("media");
    let (state, account) = state_with_account(&media).await;
    let (file, bytes) = write_file(dir.path(), "voice.ogg", 300_000);
    let stored = store_media(
        &state.objects,
        &account,
        Direction::Inbox,
        &contact(),
        "3EB0C0FFEE0100",
        &file,
        "audio/ogg; codecs=opus",
    )
    .await
    .expect("store in the media directory");
    assert!(
        stored.key.ends_with("/audio/3EB0C0FFEE0100.ogg"),
        "{}",
        stored.key
    );
    assert_eq!(stored.bucket, "");
    assert_eq!(
        stored.url,
        format!("http://127.0.0.1:1/media/{}", stored.key)
    );
    let on_disk = media.join(&stored.key);
    assert_eq!(std::fs::read(&on_disk).expect("file"), bytes);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&on_disk)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let get = |token: &'static str, path: String| {
        let state = state.clone();
        async move {
            let request = Request::get(path)
                .header("token", token)
                .body(Body::empty())
                .expect("request");
            let response = router(state).oneshot(request).await.expect("answer");
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
            (status, kind, body.to_vec())
        }
    };
    let path = format!("/media/{}", stored.key);
    let token: &'static str = Box::leak(format!("token-{SEED}").into_boxed_str());
    let (status, kind, body) = get(token, path.clone()).await;
    assert_eq!((status, kind.as_str()), (200, "audio/ogg"));
    assert!(body == bytes, "served bytes differ");
    assert_eq!(get("wrong-token", path.clone()).await.0, 401);
    let other = format!("/media/users/{}/inbox/x.ogg", "0".repeat(32));
    assert_eq!(get(token, other).await.0, 404);
    let escape = format!("/media/users/{}/../../etc/passwd", account.id);
    assert_eq!(get(token, escape).await.0, 404);

    assert_eq!(sweep_all(&state, SystemTime::now() + 29 * DAY).await, 0);
    assert!(on_disk.exists());
    assert_eq!(sweep_all(&state, SystemTime::now() + 31 * DAY).await, 1);
    assert!(!on_disk.exists());
    assert_eq!(get(token, path).await.0, 404);
}
