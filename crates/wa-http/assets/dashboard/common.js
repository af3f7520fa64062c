// wagate dashboard: what every page shares. The CSRF token comes from the page's meta tag;
// every state-changing call sends it in X-CSRF-Token. Live updates arrive as server-sent
// events from /dashboard/events (no polling).
"use strict";

const Dash = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, path, body) {
    const headers = { "X-CSRF-Token": csrf() };
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.assign("/dashboard/login");
      throw new Error("signed out");
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!response.ok) {
      const why = data && data.error ? data.error : "HTTP " + response.status;
      throw new Error(why);
    }
    return data;
  }

  function flash(message, isError) {
    const el = document.getElementById("flash");
    el.textContent = message;
    el.classList.toggle("error", !!isError);
    el.setAttribute("role", isError ? "alert" : "status");
    el.hidden = false;
  }

  function setBadge(badge, view) {
    if (!badge) return;
    badge.dataset.state = view.state;
    badge.textContent = view.label;
  }

  // Calls handlers[name](data) for each server-sent event; the indicator shows the link.
  function live(handlers) {
    const indicator = document.getElementById("live");
    const source = new EventSource("/dashboard/events");
    const setLive = (state, text) => {
      indicator.dataset.live = state;
      indicator.textContent = text;
    };
    source.addEventListener("open", () => setLive("open", "Live updates: on"));
    source.addEventListener("error", () => setLive("retrying", "Live updates: reconnecting…"));
    for (const name of Object.keys(handlers)) {
      source.addEventListener(name, (e) => {
        let data = null;
        try { data = JSON.parse(e.data); } catch (_) { return; }
        handlers[name](data);
      });
    }
    return source;
  }

  // Closes a dialog from its [data-close] buttons (Escape closes it natively).
  function wireDialog(dialog) {
    for (const b of dialog.querySelectorAll("[data-close]")) {
      b.addEventListener("click", () => dialog.close());
    }
  }

  const STATUS_RANK = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };
  function laterStatus(current, next) {
    if (!current) return next;
    if (!next) return current;
    return (STATUS_RANK[next] || 0) > (STATUS_RANK[current] || 0) ? next : current;
  }

  return { api, flash, setBadge, live, wireDialog, laterStatus };
})();
