// wagate dashboard, one session's page: its live badge, a test message, its recent events
// (messages with their live statuses), its webhook and its deliveries.
"use strict";

(() => {
  const detail = document.querySelector('[data-testid="session-detail"]');
  const id = detail.dataset.sessionId;
  const base = "/dashboard/api/sessions/" + encodeURIComponent(id);
  const badge = detail.querySelector('[data-testid="state-badge"]');
  const events = document.querySelector('[data-testid="events"]');
  const sendForm = document.querySelector('[data-testid="send-form"]');
  const hookForm = document.querySelector('[data-testid="webhook-form"]');
  const deliveries = document.querySelector('[data-testid="deliveries"]');
  const waiting = document.querySelector('[data-testid="queued-deliveries"]');
  const dead = document.querySelector('[data-testid="dead-letters"]');

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const DIRECTION = { in: "Received", out: "Sent", session: "Session" };

  // Adds an event, or updates the one with the same message id (a status only moves on).
  function upsert(entry) {
    let item = null;
    if (entry.messageId) {
      item = events.querySelector('[data-testid="event"][data-message-id="' + CSS.escape(entry.messageId) + '"]');
    }
    if (!item) {
      item = el("li", "event " + entry.kind);
      item.dataset.testid = "event";
      item.dataset.kind = entry.kind;
      if (entry.messageId) item.dataset.messageId = entry.messageId;
      item.append(el("span", "what", DIRECTION[entry.kind] || entry.kind), " ");
      item.append(el("span", "chat", entry.chat), " ");
      item.append(el("span", "text", entry.text));
      if (entry.kind === "out") {
        const status = el("span", "status", entry.status || "queued");
        status.dataset.testid = "message-status";
        item.append(" ", status);
      }
      item.append(" ", el("time", "hint", new Date(entry.at).toLocaleTimeString()));
      events.prepend(item);
      return;
    }
    if (entry.chat) item.querySelector(".chat").textContent = entry.chat;
    if (entry.text) item.querySelector(".text").textContent = entry.text;
    const status = item.querySelector('[data-testid="message-status"]');
    if (status && entry.status) status.textContent = Dash.laterStatus(status.textContent, entry.status);
  }

  function deliveryItem(d, retry) {
    const li = el("li", "delivery");
    li.dataset.deliveryId = String(d.id);
    li.append(el("span", "kind", d.kind), " → ", el("span", "url", d.receiver), " ");
    li.append(el("span", "hint", d.attempts + " attempt(s) " + (d.lastError ? "· " + d.lastError : "")));
    if (retry) {
      const b = el("button", "", "Retry");
      b.type = "button";
      b.dataset.action = "retry";
      b.addEventListener("click", () => {
        Dash.api("POST", "/dashboard/api/deadletters/" + d.id + "/retry")
          .then(() => { Dash.flash("Queued again."); return loadDeliveries(); })
          .catch((err) => Dash.flash(err.message, true));
      });
      li.append(" ", b);
    }
    return li;
  }

  function attemptItem(a) {
    const li = el("li", "delivery " + (a.ok ? "ok" : "failed"));
    li.dataset.deliveryId = String(a.id);
    li.dataset.ok = String(a.ok);
    li.append(el("span", "kind", a.kind), " → ", el("span", "url", a.receiver), " ");
    li.append(el("span", "status", a.ok ? "delivered" : "failed: " + a.error), " ");
    li.append(el("time", "hint", new Date(a.at).toLocaleTimeString()));
    return li;
  }

  async function loadDeliveries() {
    const answer = await Dash.api("GET", base + "/deliveries");
    const none = (text) => [el("li", "hint", text)];
    const last = answer.recent.map(attemptItem);
    const queued = answer.queued.map((d) => deliveryItem(d, false));
    const letters = answer.dead.map((d) => deliveryItem(d, true));
    deliveries.replaceChildren(...(last.length ? last : none("None yet.")));
    waiting.replaceChildren(...(queued.length ? queued : none("None waiting.")));
    dead.replaceChildren(...(letters.length ? letters : none("None.")));
    if (!answer.running) deliveries.replaceChildren(...none("Webhook delivery is not running."));
  }

  async function loadEvents() {
    const list = await Dash.api("GET", base + "/events");
    for (const entry of list) upsert(entry);
  }

  sendForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { phone: sendForm.elements.phone.value, text: sendForm.elements.text.value };
    const button = sendForm.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      upsert(await Dash.api("POST", base + "/send", body));
      sendForm.elements.text.value = "";
      Dash.flash("Sent.");
    } catch (err) {
      Dash.flash(err.message, true);
    } finally {
      button.disabled = false;
    }
  });

  hookForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { url: hookForm.elements.url.value, events: hookForm.elements.events.value };
    try {
      const saved = await Dash.api("POST", base + "/webhook", body);
      hookForm.elements.url.value = saved.url;
      hookForm.elements.events.value = saved.events;
      Dash.flash("Webhook saved.");
    } catch (err) {
      Dash.flash(err.message, true);
    }
  });

  Dash.live({
    state: (view) => {
      if (view.id !== id) return;
      Dash.setBadge(badge, view);
      detail.querySelector('[data-field="phone"]').textContent = view.jid;
    },
    message: (entry) => { if (entry.id === id) upsert(entry); },
    resync: () => loadEvents().catch((err) => Dash.flash(err.message, true)),
  });
  loadEvents().catch((err) => Dash.flash(err.message, true));
  loadDeliveries().catch((err) => Dash.flash(err.message, true));
})();
