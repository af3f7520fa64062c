//! Linking a wuzapi user of a [`Served`] gateway through the sim's phone, as an application and
//! its user do it (CONTRACTS §A.2, §B.4; seed 002): `POST /session/connect`, `GET /session/qr`
//! until a code shows, the phone scans the decoded PNG, `GET /session/status` until
//! `connected` and `loggedIn` are both true.

use std::time::Duration;

use serde_json::Value;
use tokio::time::{Instant, MissedTickBehavior};
use wa_sim::SimServer;

use crate::qr::decode_data_url;
use crate::served::Served;
use crate::wait::DEADLINE;

/// How often a condition over the HTTP API is checked while waiting for it.
const POLL: Duration = Duration::from_millis(25);

impl Served {
    /// Asks `GET path` as user `token` until `pick` maps the answer to `Some` (or the
    /// deadline passes: `None`).
    pub async fn poll_user<T>(
        &self,
        token: &str,
        path: &str,
        deadline: Duration,
        mut pick: impl FnMut(u16, &Value) -> Option<T>,
    ) -> Option<T> {
        let end = Instant::now() + deadline;
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while Instant::now() < end {
            tick.tick().await;
            let (status, body) = self.user(token, "GET", path, None).await;
            if let Some(t) = pick(status, &body) {
                return Some(t);
            }
        }
        None
    }

    /// Waits until `GET /session/status` reads `connected` and `loggedIn` both true (seed
    /// 004's test of a usable session).
    ///
    /// # Panics
    /// If it does not within [`DEADLINE`]; the gateway's log is shown.
    pub async fn wait_logged_in(&self, token: &str) {
        let ok = self
            .poll_user(token, "/session/status", DEADLINE, |status, body| {
                let data = &body["data"];
                (status == 200 && data["connected"] == true && data["loggedIn"] == true)
                    .then_some(())
            })
            .await;
        if ok.is_none() {
            panic!(
                "session of {token} not logged in; gateway log:\n{}",
                self.log()
            );
        }
    }

    /// Connects user `token` (`Subscribe: ["Message","ReadReceipt"]`, `Immediate: true`, as
    /// seed 004 does) and links it to the sim's `phone` by QR; returns once the session is
    /// usable.
    ///
    /// # Panics
    /// If any step fails within its deadline: the caller is a test.
    pub async fn link_user(&self, sim: &SimServer, token: &str, phone: &str) {
        let body = r#"{"Subscribe":["Message","ReadReceipt"],"Immediate":true}"#;
        let (status, answer) = self
            .user(token, "POST", "/session/connect", Some(body))
            .await;
        assert_eq!(status, 200, "connect: {answer}");
        let qr = self
            .poll_user(token, "/session/qr", DEADLINE, |status, body| {
                let url = body["data"]["QRCode"].as_str().filter(|u| !u.is_empty());
                (status == 200).then_some(url).flatten().map(str::to_owned)
            })
            .await
            .unwrap_or_else(|| panic!("no QR code; gateway log:\n{}", self.log()));
        let text = decode_data_url(&qr).unwrap_or_else(|| panic!("unreadable QR {qr:.60}"));
        sim.scan(phone, &text)
            .unwrap_or_else(|e| panic!("the phone could not scan: {e}"));
        self.wait_logged_in(token).await;
    }
}
