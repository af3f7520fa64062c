//! What the object storage tests share: a gateway over a `MemStore` with one account, S3
//! settings for a moto server, media files on disk.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use wa_client::{ClientConfig, Gateway};
use wa_http::objects::Objects;
use wa_http::{AppState, HttpConfig};
use wa_protocol::binary::Jid;
use wa_store::{Account, MemStore, S3Config, Secret, Store};
use wa_testkit::{new_account, Moto};

pub const SEED: u64 = 1301;

pub async fn state_with_account(media_dir: &Path) -> (AppState, Account) {
    let store: Arc<dyn Store> = Arc::new(MemStore::new());
    let id = new_account(store.as_ref(), SEED);
    let gateway = Arc::new(Gateway::new(store, ClientConfig::default()));
    let account = gateway.account(&id).await.expect("account");
    let state = AppState::new(gateway, HttpConfig::new("admin-token-0123456789"))
        .with_objects(Objects::new(media_dir.to_path_buf(), "http://127.0.0.1:1"));
    (state, account)
}

pub fn s3_config(moto: &Moto, bucket: &str) -> S3Config {
    S3Config {
        enabled: true,
        endpoint: moto.url().to_owned(),
        region: "us-east-1".into(),
        bucket: bucket.into(),
        access_key: "AKIDEXAMPLE".into(),
        secret_key: Secret::new("wJalrXUtnFEMI-secret-0123456789".into()),
        path_style: true,
        retention_days: 30,
        ..S3Config::default()
    }
}

/// Deterministic bytes that differ at every offset modulo 251.
pub fn write_file(dir: &Path, name: &str, len: usize) -> (std::path::PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write the media file");
    (path, bytes)
}

pub fn contact() -> Jid {
    "15550001111:3@s.whatsapp.net".parse().expect("jid")
}
