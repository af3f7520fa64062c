//! The web dashboard (issue 14 item 2) on the real binary against wa-sim: signing in with the
//! admin token (cookie flags, a wrong token), the CSRF guard (no token, another origin), the
//! JSON calls (create, delete), the live event stream (a session's badge and QR codes as it
//! links), the security headers, and the embedded assets (content types, no outside URL).

use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use serde_json::{json, Value};
use wa_testkit::session_flow::phone_scans;
use wa_testkit::{poll_until, start_sim, HookReceiver, Served, ADMIN_TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_wagate");
const PHONE: &str = "15550107301";
const PEER: &str = "15550107302";
const DEADLINE: Duration = Duration::from_secs(30);

/// A browser-like client: no redirects followed, the login cookie and CSRF token kept.
struct Browser {
    http: Client,
    base: String,
    cookie: String,
    csrf: String,
}

fn client() -> Client {
    wa_client::install_crypto_provider();
    Client::builder()
        .redirect(Policy::none())
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// `POST /dashboard/login` with `token`, as the login form sends it.
async fn post_login(http: &Client, base: &str, token: &str) -> Response {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    http.post(format!("{base}/dashboard/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", base)
        .body(body)
        .send()
        .await
        .expect("login")
}

/// The `content` of `<meta name="csrf-token">`.
fn csrf_of(page: &str) -> String {
    let start = page
        .find("name=\"csrf-token\" content=\"")
        .expect("csrf meta")
        + 27;
    page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl Browser {
    async fn login(served: &Served) -> Self {
        let (http, base) = (client(), served.base());
        let r = post_login(&http, &base, ADMIN_TOKEN).await;
        assert_eq!(r.status(), 303);
        assert_eq!(header(&r, "location"), "/dashboard");
        let set = header(&r, "set-cookie");
        let cookie = set.split(';').next().unwrap_or_default().to_owned();
        let mut browser = Self {
            http,
            base,
            cookie,
            csrf: String::new(),
        };
        let (status, page) = browser.page("/dashboard").await;
        assert_eq!(status, 200, "{page}");
        browser.csrf = csrf_of(&page);
        browser
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("page");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// A JSON call with the cookie, the CSRF token (unless `csrf` is `None`) and `origin`.
    async fn call_as(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        csrf: Option<&str>,
        origin: &str,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut b = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", origin);
        if let Some(token) = csrf {
            b = b.header("x-csrf-token", token);
        }
        if let Some(body) = body {
            b = b
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let r = b.send().await.expect("call");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let base = self.base.clone();
        self.call_as(method, path, body, Some(&self.csrf.clone()), &base)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_http_only_cookie_and_a_wrong_token_sets_nothing() {
    let sim = start_sim(&[PHONE, PEER]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let http = client();
    let base = served.base();

    let r = http
        .get(format!("{base}/dashboard"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.status(),
        303,
        "a page without login goes to the login form"
    );
    assert_eq!(header(&r, "location"), "/dashboard/login");
    let r = http
        .get(format!("{base}/dashboard/login"))
        .send()
        .await
        .expect("form");
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-security-policy").contains("script-src 'self'"));
    assert_eq!(header(&r, "x-frame-options"), "DENY");
    let form = r.text().await.unwrap_or_default();
    assert!(form.contains("data-testid=\"login-form\"") && form.contains("name=\"token\""));

    let r = post_login(&http, &base, "not-the-admin-token").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none(), "nothing set");
    let page = r.text().await.unwrap_or_default();
    assert!(page.contains("data-testid=\"login-error\""), "{page}");

    let r = post_login(&http, &base, ADMIN_TOKEN).await;
    assert_eq!(r.status(), 303);
    let cookie = header(&r, "set-cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/dashboard"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    let value = cookie.split(';').next().unwrap_or_default();
    assert_eq!(
        value.split('=').nth(1).unwrap_or_default().len(),
        32,
        "128 bits, hex"
    );

    let browser = Browser::login(&served).await;
    let (status, page) = browser.page("/dashboard").await;
    assert_eq!(status, 200);
    assert!(
        !page.contains(ADMIN_TOKEN),
        "the admin token never appears in a page"
    );
    assert!(!served.log().contains(ADMIN_TOKEN), "nor in the log");

    // Logging out ends the login: the cookie no longer opens anything.
    let body = format!("csrf={}", browser.csrf);
    let r = browser
        .http
        .post(format!("{base}/dashboard/logout"))
        .header("cookie", &browser.cookie)
        .header("origin", &base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 303);
    let (status, _) = browser.call("GET", "/dashboard/api/sessions", None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_need_the_csrf_token_and_this_origin() {
    let sim = start_sim(&[PHONE, PEER]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let browser = Browser::login(&served).await;
    let base = served.base();
    let new = json!({"name": "shop", "token": ""});

    let (status, body) = browser
        .call_as(
            "POST",
            "/dashboard/api/sessions",
            Some(new.clone()),
            None,
            &base,
        )
        .await;
    assert_eq!(status, 403, "no CSRF token: {body}");
    let csrf = browser.csrf.clone();
    let (status, body) = browser
        .call_as(
            "POST",
            "/dashboard/api/sessions",
            Some(new.clone()),
            Some(&csrf),
            "http://evil.example",
        )
        .await;
    assert_eq!(status, 403, "another origin: {body}");
    let (status, body) = browser
        .call_as(
            "POST",
            "/dashboard/api/sessions",
            Some(new.clone()),
            Some("0".repeat(32).as_str()),
            &base,
        )
        .await;
    assert_eq!(status, 403, "a wrong token: {body}");
    let (status, list) = browser.call("GET", "/dashboard/api/sessions", None).await;
    assert_eq!((status, list), (200, json!([])), "nothing was created");

    let (status, created) = browser
        .call("POST", "/dashboard/api/sessions", Some(new))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["session"]["state"], "stopped");
    assert_eq!(
        created["token"].as_str().map(str::len),
        Some(48),
        "a random token"
    );
    let id = created["session"]["id"].as_str().expect("id").to_owned();
    let (_, page) = browser.page("/dashboard").await;
    assert!(page.contains("data-session-name=\"shop\""), "{page}");
    let (status, page) = browser.page(&format!("/dashboard/sessions/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-testid=\"send-form\""));

    let path = format!("/dashboard/api/sessions/{id}");
    let (status, _) = browser
        .call_as("DELETE", &path, None, Some(&csrf), "http://evil.example")
        .await;
    assert_eq!(status, 403);
    let (status, _) = browser.call("DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (_, list) = browser.call("GET", "/dashboard/api/sessions", None).await;
    assert_eq!(list, json!([]));
    let (status, _) = browser.call("DELETE", &path, None).await;
    assert_eq!(status, 404, "already gone");
}

/// Reads the event stream until an event named `name` whose data satisfies `done`.
async fn next_event(
    stream: &mut Response,
    buffer: &mut String,
    name: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let event = block.lines().find_map(|l| l.strip_prefix("event: "));
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(event), Some(data)) = (event, data) {
                let data: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                if event == name && done(&data) {
                    return data;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {name} event in time; got {buffer}"))
            .expect("stream")
            .expect("the stream ended");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_follows_a_session_from_its_qr_to_working() {
    let sim = start_sim(&[PHONE, PEER]).await;
    let env = [("WAGATE_WEBHOOK_ALLOW_PRIVATE", "true")];
    let served = Served::start(BIN.as_ref(), &sim, &env).await;
    let mut hooks = HookReceiver::start().await;
    let browser = Browser::login(&served).await;
    let (status, created) = browser
        .call(
            "POST",
            "/dashboard/api/sessions",
            Some(json!({"name": "desk"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["session"]["id"].as_str().expect("id").to_owned();

    let mut stream = open_stream(&browser).await;
    let mut buffer = String::new();
    let first = next_event(&mut stream, &mut buffer, "state", |d| d["id"] == id).await;
    assert_eq!(first["state"], "stopped");

    link_through_the_stream(&browser, &sim, &id, &mut stream, &mut buffer).await;
    let hook = json!({"url": hooks.url("/in"), "events": "Message"});
    let (status, saved) = browser
        .call(
            "POST",
            &format!("/dashboard/api/sessions/{id}/webhook"),
            Some(hook),
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["events"], "Message");
    messages_and_their_statuses_arrive_live(&browser, &sim, &id, &mut stream, &mut buffer).await;
    the_delivery_is_listed(&browser, &mut hooks, &id).await;

    disconnect_and_connect_again(&browser, &id, &mut stream, &mut buffer).await;
}

/// Disconnecting shows `stopped` on the stream; connecting the linked session again shows
/// `working`; a second connect is the one mapping's refusal.
async fn disconnect_and_connect_again(
    browser: &Browser,
    id: &str,
    stream: &mut Response,
    buffer: &mut String,
) {
    let (status, answer) = browser
        .call(
            "POST",
            &format!("/dashboard/api/sessions/{id}/disconnect"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    next_event(stream, buffer, "state", |d| {
        d["id"] == id && d["state"] == "stopped"
    })
    .await;

    // Connecting the linked session again: its badge goes back to working, live.
    let connect = format!("/dashboard/api/sessions/{id}/connect");
    let (status, answer) = browser.call("POST", &connect, None).await;
    assert_eq!(status, 200, "{answer}");
    next_event(stream, buffer, "state", |d| {
        d["id"] == id && d["state"] == "working"
    })
    .await;
    let (status, again) = browser.call("POST", &connect, None).await;
    assert_eq!(
        (status, again),
        (
            500,
            json!({"code": 500, "error": "already connected", "success": false})
        ),
        "the one mapping's refusal"
    );
}

/// The dashboard's event stream (refused without the login cookie).
async fn open_stream(browser: &Browser) -> Response {
    let unauthenticated = client()
        .get(format!("{}/dashboard/events", browser.base))
        .send()
        .await
        .expect("events");
    assert_eq!(unauthenticated.status(), 401);
    let stream = browser
        .http
        .get(format!("{}/dashboard/events", browser.base))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("events");
    assert_eq!(stream.status(), 200);
    assert!(header(&stream, "content-type").starts_with("text/event-stream"));
    stream
}

/// Asking for the QR shows the codes on the stream (text and PNG); the phone scans the one
/// shown and the session's badge turns `working`.
async fn link_through_the_stream(
    browser: &Browser,
    sim: &wa_sim::SimServer,
    id: &str,
    stream: &mut Response,
    buffer: &mut String,
) {
    let (status, view) = browser
        .call("POST", &format!("/dashboard/api/sessions/{id}/qr"), None)
        .await;
    assert_eq!(status, 200, "{view}");
    let shown = next_event(stream, buffer, "state", |d| {
        d["id"] == id && d["qr"].is_string()
    })
    .await;
    assert_eq!(shown["state"], "scan_qr");
    assert!(shown["qrPng"]
        .as_str()
        .is_some_and(|u| u.starts_with("data:image/png;base64,")));
    let qr = shown["qr"].as_str().expect("qr").to_owned();
    let (code, scanned) = phone_scans(sim, PHONE, &qr).await;
    assert_eq!(code, 200, "scan: {scanned}");
    let working = next_event(stream, buffer, "state", |d| {
        d["id"] == id && d["state"] == "working"
    })
    .await;
    assert_eq!(working["label"], "Working");
    assert!(
        working["phone"].as_str().is_some_and(|p| p == PHONE),
        "{working}"
    );
}

/// A test message from the session page is `sent`, then `delivered` and `read` on the
/// stream as the peer's receipts come; a message the peer sends arrives as `in`; the session's
/// event list has both.
async fn messages_and_their_statuses_arrive_live(
    browser: &Browser,
    sim: &wa_sim::SimServer,
    id: &str,
    stream: &mut Response,
    buffer: &mut String,
) {
    let send = json!({"phone": PEER, "text": "hello from the dashboard"});
    let (status, sent) = browser
        .call(
            "POST",
            &format!("/dashboard/api/sessions/{id}/send"),
            Some(send),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["status"], "sent");
    let message = sent["messageId"].as_str().expect("message id").to_owned();
    next_event(stream, buffer, "message", |d| {
        d["id"] == id && d["messageId"] == message.as_str() && d["status"] == "delivered"
    })
    .await;
    let read = json!({"chat": PHONE, "ids": [message]});
    let (code, answer) = wa_testkit::http::request(
        sim.addr(),
        "POST",
        &format!("/admin/phones/{PEER}/read"),
        Some(("application/json", &read.to_string())),
        DEADLINE,
    )
    .await;
    assert!((200..300).contains(&code), "read: {answer}");
    next_event(stream, buffer, "message", |d| {
        d["messageId"] == message.as_str() && d["status"] == "read"
    })
    .await;
    let incoming = json!({"to": PHONE, "text": "hello back"});
    let (code, answer) = wa_testkit::http::request(
        sim.addr(),
        "POST",
        &format!("/admin/phones/{PEER}/send"),
        Some(("application/json", &incoming.to_string())),
        DEADLINE,
    )
    .await;
    assert_eq!(code, 200, "peer send: {answer}");
    next_event(stream, buffer, "message", |d| {
        d["id"] == id && d["kind"] == "in" && d["text"] == "hello back"
    })
    .await;
    let (_, list) = browser
        .call("GET", &format!("/dashboard/api/sessions/{id}/events"), None)
        .await;
    let list = list.as_array().cloned().unwrap_or_default();
    assert!(
        list.iter()
            .any(|e| e["messageId"] == message.as_str() && e["status"] == "read"),
        "{list:?}"
    );
    assert!(list.iter().any(|e| e["kind"] == "in"), "{list:?}");
}

/// The incoming message's webhook reaches the receiver and shows among the session's last
/// deliveries.
async fn the_delivery_is_listed(browser: &Browser, hooks: &mut HookReceiver, id: &str) {
    let hook = tokio::time::timeout(DEADLINE, hooks.hooks.recv())
        .await
        .expect("a webhook in time")
        .expect("the receiver runs");
    assert_eq!(hook.payload()["type"], "Message", "{}", hook.payload());
    let path = format!("/dashboard/api/sessions/{id}/deliveries");
    let listed = poll_until(DEADLINE, "the delivery listed", || async {
        let (_, answer) = browser.call("GET", &path, None).await;
        let recent = answer["recent"].as_array().cloned().unwrap_or_default();
        recent
            .iter()
            .any(|a| a["ok"] == true && a["kind"] == "Message")
            .then_some(answer)
    })
    .await
    .expect("listed");
    assert_eq!(listed["running"], true);
    assert_eq!(listed["dead"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_asset_has_its_type_and_names_no_other_site() {
    let sim = start_sim(&[PHONE, PEER]).await;
    let served = Served::start(BIN.as_ref(), &sim, &[]).await;
    let browser = Browser::login(&served).await;
    let assets = [
        ("dashboard.css", "text/css"),
        ("common.js", "text/javascript"),
        ("sessions.js", "text/javascript"),
        ("session.js", "text/javascript"),
    ];
    for (file, kind) in assets {
        let r = client()
            .get(format!("{}/dashboard/assets/{file}", browser.base))
            .send()
            .await
            .expect("asset");
        assert_eq!(r.status(), 200, "{file}");
        assert!(header(&r, "content-type").starts_with(kind), "{file}");
        let text = r.text().await.unwrap_or_default();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{file}"
        );
    }
    for page in ["/dashboard", "/dashboard/pools", "/dashboard/login"] {
        let (status, html) = browser.page(page).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{page}"
        );
        assert!(!html.contains("<script>"), "no inline script in {page}");
    }
    let (status, _) = browser.page("/dashboard/assets/nothing.js").await;
    assert_eq!(status, 404);
}
