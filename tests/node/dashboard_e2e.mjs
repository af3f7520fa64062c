// The web dashboard end to end in headless Chromium (issue 14's proof), driven by playwright-core
// against Debian's chromium (no `playwright install`). Each step has a deadline and is followed
// by a screenshot `NN-<step>.png` in WA_SCREENSHOT_DIR; a step whose prerequisite failed is
// reported `blocked` and not run. Reports JSON lines on stdout:
//   {"event":"step","step":"04-login","status":"passed|failed|blocked","ms":…,"error"?:…}
//   {"event":"qr","dataQr":…,"src":…}   the QR the modal shows (its text and its PNG data URL)
//   {"event":"sent","id":…,"to":…,"text":…}   the message sent from the session page
//   {"event":"paircode","code":…,"phone":…}   the pair code the page shows for a second session
//   {"event":"done","passed":n,"steps":[…]}
// With WA_SCAN_HANDSHAKE=1 the caller decodes the QR and has the sim's phone scan it, then
// answers {"cmd":"scanned","ok":true} on stdin, and has the third phone type the pair code and
// answers {"cmd":"entered","ok":true}; otherwise this script posts the QR text and the code to
// the sim's admin API itself (WA-SIM.md "Admin API").
//
// Environment: WAGATE_URL, WAGATE_ADMIN_TOKEN, WA_SIM_ADMIN_URL, WA_PHONE_LINK (the phone
// that scans), WA_PHONE_PEER (the phone the test message goes to), WA_PHONE_CODE (the phone
// that links a second session by pair code), WA_SCREENSHOT_DIR; optional
// CHROMIUM_PATH (default /usr/bin/chromium), WA_STEP_DEADLINE_MS (default 20000).
//
// The page is found through the dashboard's selector contract (data-testid / data-action /
// data-state attributes), never through its wording or layout.

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const DESKTOP = { width: 1100, height: 720 };
const PHONE_SCREEN = { width: 390, height: 844 };
// As root on a closed network: no sandbox, no GPU, nothing Chromium would fetch by itself.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function readEnv() {
  const need = (key) => {
    const value = process.env[key];
    if (!value) throw new Error(`${key} is not set`);
    return value;
  };
  return {
    base: need('WAGATE_URL').replace(/\/$/, ''),
    token: need('WAGATE_ADMIN_TOKEN'),
    simAdmin: need('WA_SIM_ADMIN_URL').replace(/\/$/, ''),
    phone: need('WA_PHONE_LINK'),
    peer: need('WA_PHONE_PEER'),
    codePhone: need('WA_PHONE_CODE'),
    shots: need('WA_SCREENSHOT_DIR'),
    chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    handshake: process.env.WA_SCAN_HANDSHAKE === '1',
    stepMs: Number(process.env.WA_STEP_DEADLINE_MS || 20000),
  };
}

const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

// Commands from the caller on stdin, one JSON object per line, taken in order.
function commandReader() {
  const queue = [];
  const waiters = [];
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let cmd;
    try { cmd = JSON.parse(line); } catch { return; }
    const waiter = waiters.shift();
    if (waiter) waiter(cmd); else queue.push(cmd);
  });
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
    close: () => lines.close(),
  };
}

function withDeadline(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Runs the steps in order: each within its deadline, each followed by a screenshot.
class Steps {
  constructor(page, shots) {
    this.page = page;
    this.shots = shots;
    this.passed = new Set();
    this.results = [];
  }

  async run(nn, name, { ms, needs = [] }, body) {
    const id = `${nn}-${name}`;
    const missing = needs.filter((n) => !this.passed.has(n));
    if (missing.length) {
      return this.record({ step: id, status: 'blocked', ms: 0, error: `needs ${missing.join(', ')}` });
    }
    const started = Date.now();
    // Playwright's own waits end first, with their more precise errors; the race is the bound.
    this.page.setDefaultTimeout(ms);
    let error;
    try {
      await withDeadline(body(), ms + 2000, id);
    } catch (e) {
      // The first lines of Playwright's message, without its terminal colours.
      error = String(e?.message ?? e).replace(/\u001b\[\d+m/g, '').split('\n')
        .map((l) => l.trim()).filter((l) => l && l !== 'Call log:').slice(0, 4).join(' | ');
    }
    try {
      await this.page.screenshot({ path: join(this.shots, `${id}.png`) });
    } catch (e) {
      error = `${error ? `${error}; ` : ''}screenshot: ${e.message}`;
    }
    if (!error) this.passed.add(name);
    return this.record({
      step: id, status: error ? 'failed' : 'passed', ms: Date.now() - started, ...(error && { error }),
    });
  }

  record(result) {
    this.results.push(result);
    emit({ event: 'step', ...result });
  }
}

// page.waitForFunction, naming what it waited for when it times out.
async function waitUntil(page, what, fn, arg) {
  try {
    return await page.waitForFunction(fn, arg);
  } catch (e) {
    throw new Error(`${what}: ${String(e?.message ?? e).split('\n')[0]}`);
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Navigates to `url`; fails with the HTTP status when the page is not there.
async function visit(page, url) {
  const response = await page.goto(url);
  check(response?.ok(), `GET ${new URL(url).pathname} answered ${response?.status()}`);
}

const loginForm = (page) => page.locator('form[data-testid=login-form]');
const sessionRow = (page, name) =>
  page.locator(`[data-testid=sessions] [data-testid=session-row][data-session-name="${name}"]`);
const badgeState = (row) => row.locator('[data-testid=state-badge]').getAttribute('data-state');

// Marks the window: the mark survives anything but a reload or a navigation.
const markWindow = (page, mark) => page.evaluate((m) => { window.__wagateE2e = m; }, mark);
const windowMarked = (page, mark) => page.evaluate((m) => window.__wagateE2e === m, mark);

// No horizontal scroll: the document is no wider than the viewport.
async function assertNoSideScroll(page, what) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  check(scroll <= client, `${what}: ${scroll} px wide in a ${client} px viewport (horizontal scroll)`);
}

async function submitLogin(page, env, token) {
  await visit(page, `${env.base}/dashboard/login`);
  const form = loginForm(page);
  await form.locator('input[name=token]').fill(token);
  await form.locator('button[type=submit]').click();
}

async function wrongTokenRefused(page, env) {
  const wrong = `wrong-${Math.random().toString(36).slice(2)}`;
  await submitLogin(page, env, wrong);
  await page.locator('[data-testid=login-error]').waitFor({ state: 'visible' });
  const url = new URL(page.url());
  check(url.pathname === '/dashboard/login', `after a wrong token the page is ${url.pathname}`);
  check(!page.url().includes(wrong), 'the wrong token shows in the URL');
  await loginForm(page).waitFor({ state: 'visible' });
  const cookies = await page.context().cookies(`${env.base}/dashboard`);
  check(cookies.length === 0, `a refused login set cookies: ${cookies.map((c) => c.name).join(', ')}`);
}

// Tab from the top of the login page (or its autofocused field) reaches the token field, then
// the submit button.
async function keyboardReachesLogin(page, env) {
  await visit(page, `${env.base}/dashboard/login`);
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    const form = el?.closest('form[data-testid=login-form]');
    if (!form) return el ? el.tagName.toLowerCase() : 'none';
    if (el.matches('input[name=token]')) return 'token';
    return el.matches('button[type=submit]') ? 'submit' : 'form-other';
  });
  const seen = [await focused()]; // an autofocused field counts as reached
  for (let i = 0; i < 12 && !seen.includes('submit'); i += 1) {
    await page.keyboard.press('Tab');
    seen.push(await focused());
  }
  check(seen.includes('token'), `Tab never reached the token field: ${seen.join(' → ')}`);
  check(seen.includes('submit'), `Tab never reached the login button: ${seen.join(' → ')}`);
}

async function loginPhoneSized(page, env) {
  await page.setViewportSize(PHONE_SCREEN);
  await visit(page, `${env.base}/dashboard/login`);
  await loginForm(page).waitFor({ state: 'visible' });
  await assertNoSideScroll(page, 'login page at 390×844');
}

async function logIn(page, env) {
  await page.setViewportSize(DESKTOP);
  await submitLogin(page, env, env.token);
  await page.waitForURL((url) => url.pathname === '/dashboard');
  await page.locator('[data-testid=sessions]').waitFor({ state: 'attached' });
  check(!page.url().includes(env.token), 'the admin token shows in the URL after login');
  const cookies = await page.context().cookies(`${env.base}/dashboard`);
  check(cookies.some((c) => c.httpOnly), `no HttpOnly session cookie: ${JSON.stringify(cookies)}`);
  const script = await page.evaluate(() => document.cookie);
  check(!script.includes(env.token), 'the admin token is readable from document.cookie');
}

async function createSession(page, name) {
  const mark = `create-${name}`;
  await markWindow(page, mark);
  await page.locator('[data-testid=new-session]').click();
  const form = page.locator('form[data-testid=new-session-form]');
  await form.locator('input[name=name]').fill(name);
  await form.locator('button[type=submit]').click();
  await sessionRow(page, name).waitFor({ state: 'visible' });
  check(await windowMarked(page, mark), 'the page reloaded to show the new session');
}

// The session's row, connected first if the new session is stopped.
async function startIfStopped(page, name) {
  const row = sessionRow(page, name);
  if ((await badgeState(row)) === 'stopped') {
    await row.locator('[data-action=connect]').click();
    await row.locator('[data-testid=state-badge]:not([data-state=stopped])').waitFor();
  }
  return row;
}

// Opens the QR modal (connecting first if the new session is stopped); the shown QR.
async function openQr(page, name) {
  const row = await startIfStopped(page, name);
  await row.locator('[data-action=qr]').click();
  await page.locator('dialog[data-testid=qr-modal][open]').waitFor({ state: 'visible' });
  const image = page.locator('dialog[data-testid=qr-modal] img[data-testid=qr-image]');
  await waitUntil(page, 'a rendered PNG QR with data-qr in the modal', () => {
    const img = document.querySelector('dialog[data-testid=qr-modal] img[data-testid=qr-image]');
    return img && img.dataset.qr && img.src.startsWith('data:image/png;base64,')
      && img.complete && img.naturalWidth > 0;
  });
  return { dataQr: await image.getAttribute('data-qr'), src: await image.getAttribute('src') };
}

async function scan(env, commands, qr) {
  emit({ event: 'qr', ...qr });
  if (env.handshake) {
    const answer = await commands.next();
    check(answer.cmd === 'scanned' && answer.ok, `the scan failed: ${JSON.stringify(answer)}`);
    return;
  }
  const res = await fetch(`${env.simAdmin}/admin/phones/${env.phone}/scan`, {
    method: 'POST', headers: { 'content-type': 'text/plain' }, body: qr.dataQr,
  });
  check(res.ok, `the sim's phone refused the QR: ${res.status} ${await res.text()}`);
}

// The badge turns working in place (no reload) and the QR modal closes itself.
async function becomesWorking(page, name, mark) {
  await sessionRow(page, name).locator('[data-testid=state-badge][data-state=working]').waitFor();
  await waitUntil(page, 'the QR modal closing itself', () => {
    const dialog = document.querySelector('dialog[data-testid=qr-modal]');
    return !dialog || !dialog.open;
  });
  check(await windowMarked(page, mark), 'the page reloaded before the badge turned working');
}

async function openSessionPage(page, name) {
  await sessionRow(page, name).locator('[data-action=open]').click();
  await page.waitForURL((url) => /^\/dashboard\/sessions\/[^/]+$/.test(url.pathname));
  await page.locator('form[data-testid=send-form]').waitFor({ state: 'visible' });
  for (const part of ['events', 'webhook-form', 'deliveries', 'dead-letters']) {
    await page.locator(`[data-testid=${part}]`).waitFor({ state: 'attached' });
  }
}

const messageIds = (page) => page.locator('[data-testid=events] [data-testid=event][data-message-id]')
  .evaluateAll((els) => els.map((e) => e.dataset.messageId));

// Sends `text` to `to` from the session page; the message id its new event item carries.
async function sendMessage(page, to, text) {
  const before = new Set(await messageIds(page));
  const form = page.locator('form[data-testid=send-form]');
  await form.locator('input[name=phone]').fill(to);
  await form.locator('textarea[name=text]').fill(text);
  await form.locator('button[type=submit]').click();
  const handle = await waitUntil(page, 'the sent message in the events list', ({ known, wanted }) => {
    const items = [...document.querySelectorAll('[data-testid=events] [data-testid=event][data-message-id]')]
      .filter((e) => !known.includes(e.dataset.messageId));
    const hit = items.find((e) => e.textContent.includes(wanted)) ?? items[0];
    return hit ? hit.dataset.messageId : null;
  }, { known: [...before], wanted: text });
  return handle.jsonValue();
}

// The message's status in the events list turns `delivered` live (no reload).
async function becomesDelivered(page, id, mark) {
  await waitUntil(page, `message ${id} showing delivered`, (messageId) => {
    const item = [...document.querySelectorAll('[data-testid=events] [data-testid=event]')]
      .find((e) => e.dataset.messageId === messageId);
    const status = item?.querySelector('[data-testid=message-status]');
    return status && (status.dataset.status || status.textContent).trim().toLowerCase() === 'delivered';
  }, id);
  check(await windowMarked(page, mark), 'the page reloaded before the status turned delivered');
}

async function phoneSizedPages(page, env, sessionUrl) {
  await page.setViewportSize(PHONE_SCREEN);
  await visit(page, sessionUrl);
  await page.locator('form[data-testid=send-form]').waitFor({ state: 'visible' });
  await assertNoSideScroll(page, 'session page at 390×844');
  await page.screenshot({ path: join(env.shots, '12-phone-sized-session.png') });
  await visit(page, `${env.base}/dashboard`);
  await page.locator('[data-testid=sessions]').waitFor({ state: 'attached' });
  await assertNoSideScroll(page, 'sessions list at 390×844');
}

// Asks for a pair code for `phone` from the row of session `name`; the code the page shows.
async function pairCodeShown(page, name, phone) {
  const row = await startIfStopped(page, name);
  await row.locator('[data-action=paircode]').click();
  const form = page.locator('form[data-testid=paircode-form]');
  await form.locator('input[name=phone]').fill(phone);
  await form.locator('button[type=submit]').click();
  const code = await waitUntil(page, 'a pair code on the page', () => {
    const text = document.querySelector('[data-testid=pair-code]')?.textContent ?? '';
    return /[A-Z0-9]{4}-?[A-Z0-9]{4}/.exec(text)?.[0] ?? null;
  });
  return code.jsonValue();
}

// The phone types the code: the caller's phone with the handshake, else the sim's admin API
// (POST /admin/phones/{phone}/pair-code, WA-SIM.md "Admin API").
async function enterCode(env, commands, code) {
  emit({ event: 'paircode', code, phone: env.codePhone });
  if (env.handshake) {
    const answer = await commands.next();
    check(answer.cmd === 'entered' && answer.ok, `the phone refused the code: ${JSON.stringify(answer)}`);
    return;
  }
  const res = await fetch(`${env.simAdmin}/admin/phones/${env.codePhone}/pair-code`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
  });
  check(res.ok, `the sim's phone refused the code: ${res.status} ${await res.text()}`);
}

// Links a second session by pair code; its badge turns working in place.
async function linkByCode(steps, page, env, commands, name) {
  const ms = env.stepMs;
  const state = { mark: `code-${name}` };
  await steps.run('13', 'pair-code-shown', { ms, needs: ['login'] }, async () => {
    await page.setViewportSize(DESKTOP);
    await visit(page, `${env.base}/dashboard`);
    await createSession(page, name);
    state.code = await pairCodeShown(page, name, env.codePhone);
    await markWindow(page, state.mark);
  });
  await steps.run('14', 'code-entered-working', { ms: 2 * ms, needs: ['pair-code-shown'] }, async () => {
    await enterCode(env, commands, state.code);
    await sessionRow(page, name).locator('[data-testid=state-badge][data-state=working]').waitFor();
    check(await windowMarked(page, state.mark), 'the page reloaded before the badge turned working');
  });
}

async function runSteps(page, env, commands) {
  const steps = new Steps(page, env.shots);
  const ms = env.stepMs;
  const name = `e2e-${Date.now().toString(36)}`;
  const text = `hello from the dashboard test ${name}`;
  const state = { mark: `list-${name}` };
  await steps.run('01', 'wrong-token-refused', { ms }, () => wrongTokenRefused(page, env));
  await steps.run('02', 'keyboard-reaches-login', { ms }, () => keyboardReachesLogin(page, env));
  await steps.run('03', 'login-phone-sized', { ms }, () => loginPhoneSized(page, env));
  await steps.run('04', 'login', { ms }, () => logIn(page, env));
  await steps.run('05', 'create-session', { ms, needs: ['login'] }, () => createSession(page, name));
  await steps.run('06', 'qr-modal', { ms, needs: ['create-session'] }, async () => {
    state.qr = await openQr(page, name);
    await markWindow(page, state.mark);
  });
  await steps.run('07', 'phone-scans', { ms, needs: ['qr-modal'] }, () => scan(env, commands, state.qr));
  await steps.run('08', 'badge-working', { ms: 2 * ms, needs: ['phone-scans'] },
    () => becomesWorking(page, name, state.mark));
  await steps.run('09', 'session-page', { ms, needs: ['create-session'] }, async () => {
    await visit(page, `${env.base}/dashboard`);
    await openSessionPage(page, name);
    state.sessionUrl = page.url();
  });
  await steps.run('10', 'send-message', { ms, needs: ['badge-working', 'session-page'] }, async () => {
    await markWindow(page, `send-${name}`);
    state.id = await sendMessage(page, env.peer, text);
    emit({ event: 'sent', id: state.id, to: env.peer, text });
  });
  await steps.run('11', 'message-delivered', { ms: 2 * ms, needs: ['send-message'] },
    () => becomesDelivered(page, state.id, `send-${name}`));
  await steps.run('12', 'phone-sized', { ms, needs: ['session-page'] },
    () => phoneSizedPages(page, env, state.sessionUrl));
  await linkByCode(steps, page, env, commands, `${name}-code`);
  return steps.results;
}

async function main() {
  const env = readEnv();
  mkdirSync(env.shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'wagate-chromium-'));
  const commands = commandReader();
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: env.chromium, headless: true, args: CHROMIUM_ARGS, viewport: DESKTOP,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const results = await runSteps(page, env, commands);
    const passed = results.filter((r) => r.status === 'passed').length;
    emit({ event: 'done', passed, steps: results });
    process.exitCode = passed === results.length ? 0 : 1;
  } finally {
    commands.close();
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  emit({ event: 'fatal', error: String(e?.stack ?? e) });
  process.exit(2);
});
