//! A client of the served gateway's whatsapp-web.js dialect (CONTRACTS §C): requests with the
//! `x-api-key` header, and linking a session through a sim phone the way an app's user does
//! (start, read the QR, the phone scans it, wait for CONNECTED).

use serde_json::Value;
use wa_sim::{SimEvent, SimServer};

use crate::error::Error;
use crate::poll::poll_until;
use crate::served::Served;
use crate::wait::{wait_for, DEADLINE};

/// The dialect's client over a [`Served`] gateway with the API key `key`.
#[derive(Debug, Clone, Copy)]
pub struct Wwebjs<'a> {
    /// The gateway.
    pub served: &'a Served,
    /// The `x-api-key` value.
    pub key: &'a str,
}

impl<'a> Wwebjs<'a> {
    /// A client with `key`.
    pub fn new(served: &'a Served, key: &'a str) -> Self {
        Self { served, key }
    }

    /// `GET path` with the key; the status and the JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.served
            .request("GET", path, &[("x-api-key", self.key)], None)
            .await
    }

    /// `POST path` with the key and a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        self.served
            .request("POST", path, &[("x-api-key", self.key)], Some(&body))
            .await
    }

    /// `GET path` with the key; the status, the content type and the body's bytes.
    ///
    /// # Panics
    /// If the exchange fails or takes longer than [`DEADLINE`].
    pub async fn get_bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let response = crate::http::http_client()
            .get(format!("{}{path}", self.served.base()))
            .header("x-api-key", self.key)
            .timeout(DEADLINE)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{path} body: {e}"));
        (status, content_type, body.to_vec())
    }

    /// Polls `/session/qr/{id}` until a QR is shown; returns its raw text.
    pub async fn wait_qr(&self, id: &str) -> Result<String, Error> {
        let path = format!("/session/qr/{id}");
        poll_until(DEADLINE, "a QR code", || async {
            let (status, body) = self.get(&path).await;
            (status == 200 && body["success"] == true)
                .then(|| body["qr"].as_str().map(str::to_owned))
                .flatten()
        })
        .await
    }

    /// Polls `/session/status/{id}` until its `message` is `message`; returns the body.
    pub async fn wait_status(&self, id: &str, message: &str) -> Result<Value, Error> {
        let path = format!("/session/status/{id}");
        poll_until(DEADLINE, message, || async {
            let (status, body) = self.get(&path).await;
            (status == 200 && body["message"] == message).then_some(body)
        })
        .await
    }

    /// Links the started session `id` through `phone` of `sim`: waits for its QR, reads it
    /// back from `/session/qr/{id}/image` (the PNG must hold the same text), lets the phone scan
    /// it (`POST /admin/phones/{phone}/scan`, the sim's admin API), waits until the sim sees the
    /// login and the session reports `session_connected`. Returns the QR.
    ///
    /// # Panics
    /// If the image is not a PNG of the QR or the sim refuses the scan.
    pub async fn link(&self, sim: &SimServer, id: &str, phone: &str) -> Result<String, Error> {
        let mut sim_events = sim.subscribe();
        let raw = self.wait_qr(id).await?;
        let (status, content_type, png) = self.get_bytes(&format!("/session/qr/{id}/image")).await;
        assert_eq!((status, content_type.as_str()), (200, "image/png"));
        let qr = crate::qr::decode_png(&png).expect("the image is a readable QR code");
        assert_eq!(qr, raw, "the image shows the pending QR");
        let (status, body) = crate::http::request(
            sim.addr(),
            "POST",
            &format!("/admin/phones/{phone}/scan"),
            Some(("text/plain", &qr)),
            DEADLINE,
        )
        .await;
        assert_eq!(status, 200, "the phone scans: {body}");
        wait_for(&mut sim_events, DEADLINE, "the login", |e| {
            matches!(e, SimEvent::LoggedIn { .. }).then_some(())
        })
        .await?;
        self.wait_status(id, "session_connected").await?;
        Ok(qr)
    }
}
