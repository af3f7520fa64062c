//! The simulated media server over real sockets (`media.md` §3): a logged-in companion's
//! `media_conn` IQ names the sim's own HTTP address and an `auth` token; an upload to
//! `/mms/<type>/<token>?auth=…&token=…` is stored when the token is the URL-safe base64 of the
//! body's SHA-256 (padded as whatsmeow sends it, or not as Baileys does) and answered
//! `{url, direct_path}`; the direct path downloads the same bytes (also in whatsmeow's form with
//! `&hash=…&mms-type=…&__wa-mms=`). Refusals: no or unknown `auth` 401, a body of another hash or
//! a token that differs between path and query 400, an unknown type 400, too large 413, a
//! download without the path's `oh` 403, unknown 404, expired (by the admin route) 410.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wa_protocol::binary::Node;
use wa_sim::{MediaConfig, SimConfig, SimServer};
use wa_testkit::Linked;

#[allow(dead_code, reason = "helpers shared with the phones' tests")]
mod common;

use common::{count, login_active, next, Admin, DEADLINE};

const A: &str = "15550107001";

/// A POST of raw bytes; the status and the body.
async fn post(url: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let response = wa_testkit::http_client()
        .post(url)
        .header("Origin", "https://web.whatsapp.com")
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .timeout(DEADLINE)
        .send()
        .await
        .expect("the upload is answered");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

/// A GET; the status and the body.
async fn get(url: &str) -> (u16, Vec<u8>) {
    let response = wa_testkit::http_client()
        .get(url)
        .timeout(DEADLINE)
        .send()
        .await
        .expect("the download is answered");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

/// Bytes that look like ciphertext ‖ MAC: not all one value, `len` long.
fn body_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn token_of(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(body))
}

fn oh_of(direct_path: &str) -> String {
    direct_path
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("oh="))
        .expect("the direct path has oh")
        .to_owned()
}

#[tokio::test]
async fn media_conn_then_upload_and_download_round_trip() {
    let linked = Linked::new(A, 71).await;
    linked.disconnect_gateway().await;
    let mut socket = login_active(&linked, A, 3).await;
    let iq = Node::new("iq")
        .with_attr("id", "media-1")
        .with_attr("xmlns", "w:m")
        .with_attr("type", "set")
        .with_attr("to", "s.whatsapp.net")
        .with_children(vec![Node::new("media_conn")]);
    socket.send_node(&iq).await.expect("sent");
    let answer = loop {
        let node = next(&mut socket, "iq").await;
        if node.attr_str("id") == Some("media-1") {
            break node;
        }
    };
    assert_eq!(answer.attr_str("type"), Some("result"), "{answer:?}");
    let conn = answer.child("media_conn").expect("<media_conn>");
    let auth = conn.attr_str("auth").expect("auth").to_owned();
    for attr in ["ttl", "auth_ttl", "max_buckets"] {
        let value = conn.attr_str(attr).and_then(|v| v.parse::<u64>().ok());
        assert!(value.is_some_and(|v| v > 0), "{attr}: {conn:?}");
    }
    let host = conn.child("host").expect("<host>");
    let hostname = host.attr_str("hostname").expect("hostname").to_owned();
    assert_eq!(hostname, linked.sim.addr().to_string());
    assert_eq!(hostname, linked.sim.media_host());

    // 3 MB: past any in-memory body limit, across many chunks.
    let body = body_of(3 << 20, 1);
    let token = token_of(&body);
    let url = format!("http://{hostname}/mms/image/{token}?auth={auth}&token={token}");
    let (status, answer) = post(&url, body.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer = json_of(&answer);
    let direct_path = answer["direct_path"].as_str().expect("direct_path");
    assert!(direct_path.starts_with("/v/") && direct_path.contains("oh="));
    let url = answer["url"].as_str().expect("url");
    assert_eq!(url, format!("http://{hostname}{direct_path}"));

    // Baileys downloads by the direct path (or url), whatsmeow appends its parameters.
    let (status, got) = get(url).await;
    assert_eq!((status, got.len()), (200, body.len()));
    assert!(got == body, "the same bytes come back");
    let whatsmeow = format!("http://{hostname}{direct_path}&hash={token}&mms-type=image&__wa-mms=");
    assert_eq!(get(&whatsmeow).await, (200, body.clone()));

    // whatsmeow's padded token (`=` in the path, `%3D` in the query) is accepted too.
    let doc = body_of(1000, 2);
    let padded = URL_SAFE.encode(Sha256::digest(&doc));
    assert!(padded.ends_with('='));
    let query = padded.replace('=', "%3D");
    let url = format!("http://{hostname}/mms/document/{padded}?auth={auth}&token={query}");
    let (status, answer) = post(&url, doc.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let doc_path = json_of(&answer)["direct_path"]
        .as_str()
        .expect("path")
        .to_owned();
    assert_eq!(get(&format!("http://{hostname}{doc_path}")).await.1, doc);

    refusals(&linked.sim, &hostname, &auth, direct_path).await;

    assert_eq!(count(&linked.sim, "media:conn"), 1);
    assert_eq!(count(&linked.sim, "media:upload:image"), 1);
    assert_eq!(count(&linked.sim, "media:upload:document"), 1);
    let listed = linked.sim.media();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let image = listed
        .iter()
        .find(|m| m.direct_path == direct_path)
        .expect("listed");
    assert_eq!(
        (image.mms_type.as_str(), image.size),
        ("image", body.len() as u64)
    );
    assert_eq!(image.file_enc_sha256, hex::encode(Sha256::digest(&body)));
    expiry(&linked.sim, &hostname, direct_path, &doc_path).await;
}

/// Each refusal and its status.
async fn refusals(sim: &SimServer, hostname: &str, auth: &str, direct_path: &str) {
    let body = body_of(500, 3);
    let token = token_of(&body);
    let other = token_of(b"other bytes");
    let base = format!("http://{hostname}/mms");
    let cases = [
        (
            format!("{base}/image/{token}?token={token}"),
            401,
            "no auth",
        ),
        (
            format!("{base}/image/{token}?auth=forged&token={token}"),
            401,
            "unknown auth",
        ),
        (
            format!("{base}/image/{other}?auth={auth}&token={other}"),
            400,
            "a body of another hash",
        ),
        (
            format!("{base}/image/{token}?auth={auth}&token={other}"),
            400,
            "path and query tokens differ",
        ),
        (
            format!("{base}/image/{token}?auth={auth}"),
            400,
            "no token in the query",
        ),
        (
            format!("{base}/image/abc?auth={auth}&token=abc"),
            400,
            "a token of no 32 bytes",
        ),
        (
            format!("{base}/picture/{token}?auth={auth}&token={token}"),
            400,
            "unknown type",
        ),
    ];
    for (url, expected, what) in cases {
        let (status, answer) = post(&url, body.clone()).await;
        assert_eq!(
            status,
            expected,
            "{what}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(json_of(&answer)["error"].is_string(), "{what}");
    }
    let before = sim.media().len();
    assert_eq!(before, 2, "nothing refused was stored");

    let path_only = direct_path.split('?').next().expect("path");
    let wrong_oh = direct_path.replace(&oh_of(direct_path), "forged");
    for (path, expected, what) in [
        (path_only.to_owned(), 403, "no oh"),
        (wrong_oh, 403, "another oh"),
        ("/v/t62.sim-image/none.enc?oh=x".to_owned(), 404, "unknown"),
    ] {
        let (status, _) = get(&format!("http://{hostname}{path}")).await;
        assert_eq!(status, expected, "{what}");
    }
}

/// The admin route expires one file (410 from then on), then the rest.
async fn expiry(sim: &SimServer, hostname: &str, direct_path: &str, other: &str) {
    let http = Admin { addr: sim.addr() };
    let (status, answer) = http
        .post(
            "/admin/media/expire".into(),
            json!({ "direct_path": direct_path }),
        )
        .await;
    assert_eq!((status, answer), (200, json!({"expired": 1})));
    let (status, body) = get(&format!("http://{hostname}{direct_path}")).await;
    assert_eq!(status, 410, "{}", String::from_utf8_lossy(&body));
    assert_eq!(get(&format!("http://{hostname}{other}")).await.0, 200);

    let (status, listed) = http.get("/admin/media".into()).await;
    assert_eq!(status, 200);
    let expired: Vec<bool> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["expired"].as_bool().expect("bool"))
        .collect();
    assert_eq!(expired.iter().filter(|e| **e).count(), 1, "{listed}");

    for (body, what) in [
        (json!({}), "neither"),
        (json!({"direct_path": other, "all": true}), "both"),
        (json!({"path": other}), "unknown field"),
    ] {
        let (status, _) = http.post("/admin/media/expire".into(), body).await;
        assert_eq!(status, 400, "{what}");
    }
    let (status, _) = http
        .post(
            "/admin/media/expire".into(),
            json!({"direct_path": "/v/t62.sim-image/none.enc"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, answer) = http
        .post("/admin/media/expire".into(), json!({"all": true}))
        .await;
    assert_eq!((status, answer), (200, json!({"expired": 1})));
    assert_eq!(get(&format!("http://{hostname}{other}")).await.0, 410);
}

#[tokio::test]
async fn uploads_past_the_size_limit_are_refused_and_not_kept() {
    let dir = tempfile::tempdir().expect("dir");
    let sim = SimServer::start(SimConfig {
        media: MediaConfig {
            dir: Some(dir.path().to_owned()),
            max_file_bytes: 1 << 20,
            ..MediaConfig::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let auth = sim.media_auth();
    let host = sim.media_host();
    let fits = body_of(1 << 20, 4);
    let token = token_of(&fits);
    let url = format!("http://{host}/mms/video/{token}?auth={auth}&token={token}");
    assert_eq!(post(&url, fits).await.0, 200);
    let over = body_of((1 << 20) + 1, 5);
    let token = token_of(&over);
    let url = format!("http://{host}/mms/video/{token}?auth={auth}&token={token}");
    let (status, answer) = post(&url, over).await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(sim.media().len(), 1);
    let files = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(files, 1, "the refused upload left no file behind");
    assert_eq!(sim.expire_all_media(), 1);
    let files = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(files, 0, "an expired file is deleted");
}
