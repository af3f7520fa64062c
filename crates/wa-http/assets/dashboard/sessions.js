// wagate dashboard, sessions page: the rows' actions, the new-session form, the QR modal
// (follows the rotating codes, closes itself once the session works) and the pair code.
"use strict";

(() => {
  const list = document.querySelector('[data-testid="sessions"]');
  const empty = document.getElementById("no-sessions");
  const template = document.getElementById("row-template");
  const newDialog = document.getElementById("new-session-dialog");
  const newForm = document.querySelector('[data-testid="new-session-form"]');
  const qrDialog = document.querySelector('[data-testid="qr-modal"]');
  const qrImage = document.querySelector('[data-testid="qr-image"]');
  const qrNote = document.getElementById("qr-note");
  const pairDialog = document.getElementById("pair-dialog");
  const pairForm = document.querySelector('[data-testid="paircode-form"]');
  const pairCode = document.querySelector('[data-testid="pair-code"]');
  let qrFor = null;
  let pairFor = null;

  const rowOf = (id) => list.querySelector('[data-testid="session-row"][data-session-id="' + CSS.escape(id) + '"]');

  function fillRow(row, view) {
    row.dataset.sessionId = view.id;
    row.dataset.sessionName = view.name;
    row.querySelector('[data-field="name"]').textContent = view.name;
    row.querySelector('[data-field="phone"]').textContent = view.phone;
    Dash.setBadge(row.querySelector('[data-testid="state-badge"]'), view);
  }

  function addRow(view) {
    const row = template.content.firstElementChild.cloneNode(true);
    fillRow(row, view);
    list.appendChild(row);
    empty.hidden = true;
    return row;
  }

  function showQr(view) {
    if (view.qr && view.qrPng) {
      qrImage.src = view.qrPng;
      qrImage.dataset.qr = view.qr;
      qrImage.hidden = false;
      qrNote.textContent = "The code changes every few seconds; scan the latest.";
    } else if (view.state === "working") {
      qrDialog.close();
      Dash.flash("Session " + view.name + " is linked and working.");
    } else if (view.state === "failed" || view.state === "stopped") {
      qrNote.textContent = "No code: the session is " + view.label.toLowerCase() + ".";
      qrImage.hidden = true;
    }
  }

  function onState(view) {
    const row = rowOf(view.id);
    if (row) fillRow(row, view);
    if (qrFor === view.id && qrDialog.open) showQr(view);
    if (pairFor === view.id && pairDialog.open && view.state === "working") {
      pairDialog.close();
      Dash.flash("Session " + view.name + " is linked and working.");
    }
  }

  async function resync() {
    const views = await Dash.api("GET", "/dashboard/api/sessions");
    for (const v of views) {
      if (rowOf(v.id)) onState(v); else addRow(v);
    }
  }

  async function act(row, action) {
    const id = row.dataset.sessionId;
    const base = "/dashboard/api/sessions/" + encodeURIComponent(id);
    if (action === "open") {
      window.location.assign("/dashboard/sessions/" + encodeURIComponent(id));
      return;
    }
    if (action === "delete") {
      await Dash.api("DELETE", base);
      row.remove();
      empty.hidden = list.children.length > 0;
      Dash.flash("Deleted " + row.dataset.sessionName + ".");
      return;
    }
    if (action === "paircode") {
      pairFor = id;
      pairCode.textContent = "";
      pairDialog.showModal();
      return;
    }
    if (action === "qr") {
      qrFor = id;
      qrImage.hidden = true;
      qrImage.removeAttribute("src");
      qrImage.dataset.qr = "";
      qrNote.textContent = "Waiting for the code…";
      qrDialog.showModal();
    }
    try {
      const view = await Dash.api("POST", base + "/" + action);
      onState(view);
    } catch (e) {
      if (action === "qr") qrDialog.close();
      throw e;
    }
  }

  list.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const row = button.closest('[data-testid="session-row"]');
    act(row, button.dataset.action).catch((err) => Dash.flash(err.message, true));
  });

  document.querySelector('[data-testid="new-session"]').addEventListener("click", () => {
    newForm.reset();
    newDialog.showModal();
  });

  newForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: newForm.elements.name.value, token: newForm.elements.token.value };
    try {
      const created = await Dash.api("POST", "/dashboard/api/sessions", body);
      if (!rowOf(created.session.id)) addRow(created.session);
      newDialog.close();
      Dash.flash("Created " + created.session.name + ". Its API token: " + created.token);
    } catch (err) {
      Dash.flash(err.message, true);
    }
  });

  pairForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    pairCode.textContent = "…";
    const path = "/dashboard/api/sessions/" + encodeURIComponent(pairFor) + "/paircode";
    try {
      const answer = await Dash.api("POST", path, { phone: pairForm.elements.phone.value });
      pairCode.textContent = answer.code;
    } catch (err) {
      pairCode.textContent = "";
      Dash.flash(err.message, true);
    }
  });

  qrDialog.addEventListener("close", () => { qrFor = null; });
  pairDialog.addEventListener("close", () => { pairFor = null; });
  for (const d of [newDialog, qrDialog, pairDialog]) Dash.wireDialog(d);

  Dash.live({
    state: onState,
    resync: () => resync().catch((err) => Dash.flash(err.message, true)),
  });
})();
