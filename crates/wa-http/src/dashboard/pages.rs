//! The dashboard's pages, rendered on the server from the embedded templates (every value
//! escaped); the scripts only add what changes live.

use axum::extract::{Path, State};
use axum::response::Html;

use super::api_detail::pool_views;
use super::api_sessions::{account, all_views, view_of};
use super::guard::PageViewer;
use super::view::{badge, esc, label, SessionView};
use crate::error::ApiError;
use crate::pool::dto::PoolView;
use crate::state::AppState;

const LAYOUT: &str = include_str!("../../assets/dashboard/layout.html");
const SESSIONS: &str = include_str!("../../assets/dashboard/sessions.html");
const SESSION: &str = include_str!("../../assets/dashboard/session.html");
const POOLS: &str = include_str!("../../assets/dashboard/pools.html");

/// Every embedded template (the asset test looks for outside URLs in them too).
#[cfg(test)]
pub(crate) const TEMPLATES: &[&str] = &[LAYOUT, SESSIONS, SESSION, POOLS];

/// `template` with each `{{key}}` replaced by its (already escaped) value.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// A whole page: the layout around `main`.
fn page(viewer: &PageViewer, title: &str, name: &str, script: &str, main: &str) -> Html<String> {
    let scripts = if script.is_empty() {
        String::new()
    } else {
        format!("<script src=\"/dashboard/assets/{script}\" defer></script>")
    };
    Html(fill(
        LAYOUT,
        &[
            ("csrf", &esc(&viewer.0.csrf)),
            ("title", &esc(title)),
            ("page", name),
            ("scripts", &scripts),
            ("main", main),
        ],
    ))
}

/// One session's row (also the script's template for new rows, from an empty view).
pub(crate) fn row(v: &SessionView) -> String {
    let name = esc(&v.name);
    let button = |action: &str, text: &str, class: &str| {
        format!("<button type=\"button\" data-action=\"{action}\"{class}>{text}</button>")
    };
    let buttons = [
        button("connect", "Connect", ""),
        button("disconnect", "Disconnect", ""),
        button("logout", "Log out", ""),
        button("qr", "Show QR", ""),
        button("paircode", "Pair code", ""),
        button("open", "Open", ""),
        button("delete", "Delete", " class=\"danger\""),
    ]
    .concat();
    format!(
        "<li class=\"session\" data-testid=\"session-row\" data-session-name=\"{name}\" \
         data-session-id=\"{id}\">\n<div class=\"who\"><span class=\"name\" data-field=\"name\">\
         {name}</span> <span class=\"jid\" data-field=\"phone\">{phone}</span></div>\n\
         <span class=\"badge\" data-testid=\"state-badge\" data-state=\"{state}\">{label}</span>\n\
         <div class=\"actions\">{buttons}</div>\n</li>",
        id = esc(&v.id),
        phone = esc(&v.phone),
        state = v.state,
        label = esc(v.label),
    )
}

fn empty_view() -> SessionView {
    let (state, label) = badge(&wa_client::SessionState::Stopped);
    SessionView {
        id: String::new(),
        name: String::new(),
        jid: String::new(),
        phone: String::new(),
        state,
        label,
        connected: false,
        logged_in: false,
        qr: None,
        qr_png: None,
        pair_code: None,
    }
}

fn hidden_if(yes: bool) -> &'static str {
    if yes {
        "hidden"
    } else {
        ""
    }
}

/// `GET /dashboard`: every session.
pub(crate) async fn sessions(
    viewer: PageViewer,
    State(state): State<AppState>,
) -> Result<Html<String>, ApiError> {
    state.dashboard.follow(&state.gateway);
    let views = all_views(&state).await?;
    let rows: Vec<String> = views.iter().map(row).collect();
    let main = fill(
        SESSIONS,
        &[
            ("rows", &rows.join("\n")),
            ("empty", hidden_if(!views.is_empty())),
            ("row_template", &row(&empty_view())),
        ],
    );
    Ok(page(&viewer, "Sessions", "sessions", "sessions.js", &main))
}

/// `GET /dashboard/sessions/{id}`: one session.
pub(crate) async fn session(
    viewer: PageViewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    state.dashboard.follow(&state.gateway);
    let account = account(&state, &id).await?;
    let v = view_of(&state, &account).await?;
    let main = fill(
        SESSION,
        &[
            ("id", &esc(&v.id)),
            ("name", &esc(&v.name)),
            ("state", v.state),
            ("label", &esc(v.label)),
            ("jid", &esc(&v.jid)),
            ("webhook_url", &esc(&account.webhook)),
            ("webhook_events", &esc(&account.events.join(","))),
        ],
    );
    Ok(page(&viewer, &account.name, "session", "session.js", &main))
}

fn pool_item(p: &PoolView) -> String {
    let members: String = p
        .Members
        .iter()
        .map(|m| {
            let word = if m.Exists { m.State.as_str() } else { "failed" };
            format!(
                "<li><span class=\"name\">{name}</span> <span class=\"badge\" data-state=\"{word}\">\
                 {label}</span> <span class=\"hint\">sent {sent}, failed {failed}</span></li>",
                name = esc(&m.Name),
                word = esc(word),
                label = label(word),
                sent = m.Sent,
                failed = m.Failed,
            )
        })
        .collect();
    format!(
        "<li class=\"pool\" data-testid=\"pool\" data-pool-name=\"{name}\"><h2>{name}</h2>\
         <p class=\"hint\">{description} · {healthy} of {count} healthy · {strategy}</p>\
         <ul class=\"members\">{members}</ul></li>",
        name = esc(&p.Name),
        description = esc(&p.Description),
        healthy = p.Healthy,
        count = p.Members.len(),
        strategy = p.Strategy,
    )
}

/// `GET /dashboard/pools`: the pools (read-only).
pub(crate) async fn pools(
    viewer: PageViewer,
    State(state): State<AppState>,
) -> Result<Html<String>, ApiError> {
    let pools = pool_views(&state).await?;
    let items: String = pools.iter().map(pool_item).collect();
    let main = fill(
        POOLS,
        &[("pools", &items), ("empty", hidden_if(!pools.is_empty()))],
    );
    Ok(page(&viewer, "Pools", "pools", "", &main))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_row_carries_the_selector_contract() {
        let mut v = empty_view();
        v.name = "shop <1>".into();
        v.id = "ab".into();
        let html = row(&v);
        assert!(html.contains("data-testid=\"session-row\""));
        assert!(html.contains("data-session-name=\"shop &lt;1&gt;\""));
        assert!(html.contains("data-testid=\"state-badge\" data-state=\"stopped\""));
        for action in [
            "connect",
            "disconnect",
            "logout",
            "delete",
            "qr",
            "paircode",
            "open",
        ] {
            assert!(
                html.contains(&format!("data-action=\"{action}\"")),
                "{action}"
            );
        }
    }
}
