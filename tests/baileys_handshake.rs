//! Independent check: the real Baileys client (`@whiskeysockets/baileys@7.0.0-rc14`, pinned in
//! `tests/node/package-lock.json` and installed by this test) completes the Noise handshake with
//! wa-sim, and wa-sim decodes its registration ClientPayload. Every value wa-sim decodes is
//! compared with what Baileys reports it generated.

use std::time::Duration;

use wa_protocol::payload::CheckedPayload;
use wa_protocol::signal::PublicKey;
use wa_sim::SimEvent;
use wa_testkit::{start_sim, wait_for, JsonLines};
use wagate_tests::{ensure_npm_packages, node_dir};

fn hex32(v: &serde_json::Value, what: &str) -> [u8; 32] {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"));
    hex::decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .unwrap_or_else(|| panic!("{what} is not 32 hex bytes: {s}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baileys_handshake_and_registration_payload() {
    let dir = node_dir();
    ensure_npm_packages(&dir);

    let sim = start_sim(&[]).await;
    let mut events = sim.subscribe();
    let mut baileys = JsonLines::spawn_node(
        &dir,
        "baileys_client.mjs",
        &[
            ("WA_SIM_URL", sim.url()),
            ("WA_SIM_ROOT_KEY", hex::encode(sim.root_key().as_bytes())),
        ],
    )
    .expect("node runs");

    let creds = baileys
        .wait_for(Duration::from_secs(60), "creds line", |v| {
            v["event"] == "creds"
        })
        .await
        .expect("Baileys reports its credentials");

    let (client_static, payload) = wait_for(
        &mut events,
        Duration::from_secs(60),
        "ClientPayload",
        |e| match e {
            SimEvent::ClientPayload {
                client_static,
                payload,
                ..
            } => Some((*client_static, payload.clone())),
            SimEvent::ProtocolError { error, .. } => panic!("handshake failed: {error}"),
            _ => None,
        },
    )
    .await
    .expect("wa-sim completes the handshake with Baileys");

    assert_eq!(
        client_static,
        PublicKey::from_bytes(hex32(&creds["noiseKeyPub"], "noiseKeyPub")),
        "the Noise static key proven in the handshake is Baileys' noise key"
    );
    let reg = match payload {
        Ok(CheckedPayload::Registration(reg)) => reg,
        other => panic!("expected a registration payload, got {other:?}"),
    };
    assert_eq!(
        u64::from(reg.keys.registration_id),
        creds["registrationId"].as_u64().expect("registrationId")
    );
    assert_eq!(
        reg.keys.identity_key,
        PublicKey::from_bytes(hex32(&creds["identityKeyPub"], "identityKeyPub"))
    );
    let spk = &creds["signedPreKey"];
    assert_eq!(
        u64::from(reg.keys.signed_prekey_id),
        spk["keyId"].as_u64().expect("keyId")
    );
    assert_eq!(
        reg.keys.signed_prekey,
        PublicKey::from_bytes(hex32(&spk["pub"], "signedPreKey.pub"))
    );
    assert_eq!(
        hex::encode(reg.keys.signed_prekey_signature),
        spk["signature"].as_str().expect("signature")
    );
    // check_client_payload verified the signature; verify once more here, visibly.
    assert!(reg.keys.identity_key.verify(
        &reg.keys.signed_prekey.to_djb(),
        &reg.keys.signed_prekey_signature
    ));
    assert_eq!(reg.build_hash.len(), 16);
    assert!(reg.version.is_some_and(|v| v.primary == 2));
    baileys.kill().await;
    sim.shutdown();
}
